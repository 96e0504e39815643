"""Limit BLAS threads while a fit runs.

The block-diagonal deviance works on thin arrays; multithreaded BLAS calls on them (and
inside scipy's L-BFGS-B) cost more in thread synchronisation than in arithmetic, about
ten times slower on a busy two-core machine. threadpoolctl sets every loaded BLAS
(OpenBLAS, MKL, BLIS) to one thread for the block and restores it afterwards.

Examples
--------
>>> with single_threaded_blas():
...     pass
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with single-threaded BLAS (the previous setting is restored)."""
    # A new controller each time sees BLAS libraries loaded since the last call (scipy's
    # own OpenBLAS is loaded lazily); building it costs about a millisecond.
    with ThreadpoolController().limit(limits=1, user_api="blas"):
        yield
