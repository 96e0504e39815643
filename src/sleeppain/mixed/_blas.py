"""Temporarily limit OpenBLAS threads during the optimisation loop.

The block-diagonal deviance works on thin arrays; multithreaded BLAS calls on them (and
inside scipy's L-BFGS-B) cost milliseconds of thread synchronisation each on a busy
machine, ten times the arithmetic. As threadpoolctl does, find the OpenBLAS libraries
loaded in this process and set their thread count, restoring it afterwards. Does nothing
where the libraries or their symbols cannot be found (non-Linux, other BLAS).

Examples
--------
>>> with single_threaded_blas():
...     pass
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

_SET = (
    "openblas_set_num_threads",
    "scipy_openblas_set_num_threads64_",
    "openblas_set_num_threads64_",
)
_GET = (
    "openblas_get_num_threads",
    "scipy_openblas_get_num_threads64_",
    "openblas_get_num_threads64_",
)


@lru_cache(maxsize=1)
def _controls() -> tuple[tuple[object, object], ...]:
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 6 and "openblas" in parts[-1].lower():
                    if parts[-1] not in paths:
                        paths.append(parts[-1])
    except OSError:
        return ()
    out = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = getter = None
        for s, g in zip(_SET, _GET, strict=True):
            if hasattr(lib, s) and hasattr(lib, g):
                setter, getter = getattr(lib, s), getattr(lib, g)
                break
        if setter is not None:
            out.append((setter, getter))
    return tuple(out)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block in single-threaded OpenBLAS (restored afterwards)."""
    try:
        controls = _controls()
        old = [int(g()) for _, g in controls]  # type: ignore[operator]
        for s, _ in controls:
            s(1)  # type: ignore[operator]
    except Exception:  # pragma: no cover - never let thread control break a fit
        controls, old = (), []
    try:
        yield
    finally:
        for (s, _), n in zip(controls, old, strict=True):
            s(n)  # type: ignore[operator]
