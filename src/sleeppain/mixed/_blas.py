"""Limit BLAS threads while a fit runs.

The block-diagonal deviance works on thin arrays; multithreaded BLAS calls on them (and
inside scipy's L-BFGS-B) cost more in thread synchronisation than in arithmetic, about
ten times slower on a busy two-core machine. threadpoolctl sets every loaded BLAS
(OpenBLAS, MKL, BLIS) to one thread for the block and restores it afterwards.

Finding the loaded libraries costs about a millisecond (a scan of the process's shared
objects), so the controller is built once, on first use (numpy's and scipy's BLAS are
loaded by then: this package imports ``scipy.linalg``). A BLAS loaded later by another
package keeps its own thread count, which affects speed only, never results.

Examples
--------
>>> with single_threaded_blas():
...     pass
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import scipy.linalg  # noqa: F401  (loads scipy's BLAS before the controller looks)
from threadpoolctl import ThreadpoolController

_CONTROLLER: list[ThreadpoolController] = []


def _controller() -> ThreadpoolController:
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with single-threaded BLAS (the previous setting is restored)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
