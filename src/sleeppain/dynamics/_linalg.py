"""Small dense linear algebra stacked over persons, vectorised along the person axis.

The sampler factors one small (k <= 8) precision matrix per person at every iteration.
``numpy.linalg`` loops over the stack calling LAPACK once per matrix, which costs about a
microsecond each; for 10,000 persons that dominated an iteration. Here the loops run over
the k rows and columns instead, each step one array operation over all persons, on a
``(k, k, N)`` layout so that every operand is contiguous.

All functions take and return the person-last layout: a stack of matrices is ``(k, k, N)``
and a stack of vectors ``(k, N)`` (or ``(k, m, N)`` for m right-hand sides).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((5, 3, 3))
>>> a = x @ x.transpose(0, 2, 1) + 3 * np.eye(3)
>>> low = cholesky(np.moveaxis(a, 0, -1))
>>> bool(np.allclose(np.moveaxis(low, -1, 0), np.linalg.cholesky(a)))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["cholesky", "log_det_from_cholesky", "solve_lower", "solve_upper_t", "to_person_last"]


def to_person_last(a: np.ndarray) -> np.ndarray:
    """A contiguous ``(k, k, N)`` (or ``(k, N)``) copy of an ``(N, k, k)`` (``(N, k)``) stack."""
    return np.ascontiguousarray(np.moveaxis(a, 0, -1))


def cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a ``(k, k, N)`` stack of symmetric positive definite matrices.

    Raises
    ------
    numpy.linalg.LinAlgError
        Some matrix is not positive definite (as :func:`numpy.linalg.cholesky`).
    """
    k = a.shape[0]
    low = np.zeros_like(a)
    for j in range(k):
        d2 = a[j, j] - np.einsum("kn,kn->n", low[j, :j], low[j, :j]) if j else a[j, j].copy()
        if not np.all(d2 > 0.0):
            raise np.linalg.LinAlgError("Matrix is not positive definite")
        d = np.sqrt(d2)
        low[j, j] = d
        if j + 1 < k:
            if j:
                low[j + 1 :, j] = (
                    a[j + 1 :, j] - np.einsum("ikn,kn->in", low[j + 1 :, :j], low[j, :j])
                ) / d
            else:
                low[j + 1 :, j] = a[j + 1 :, j] / d
    return low


def solve_lower(low: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``L u = b`` by forward substitution; ``b`` is ``(k, N)`` or ``(k, m, N)``."""
    k = low.shape[0]
    u = np.empty_like(b)
    extra = (slice(None),) * (b.ndim - 1)
    for i in range(k):
        acc = b[i]
        if i:
            lrow = low[i, :i]
            if b.ndim == 3:
                lrow = lrow[:, None, :]
            acc = acc - (lrow * u[:i]).sum(axis=0)
        u[(i, *extra[1:])] = acc / (low[i, i] if b.ndim == 2 else low[i, i][None, :])
    return u


def solve_upper_t(low: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Solve ``L' x = u`` by back substitution; ``u`` is ``(k, N)`` or ``(k, m, N)``."""
    k = low.shape[0]
    x = np.empty_like(u)
    for i in range(k - 1, -1, -1):
        acc = u[i]
        if i < k - 1:
            lcol = low[i + 1 :, i]
            if u.ndim == 3:
                lcol = lcol[:, None, :]
            acc = acc - (lcol * x[i + 1 :]).sum(axis=0)
        x[i] = acc / (low[i, i] if u.ndim == 2 else low[i, i][None, :])
    return x


def log_det_from_cholesky(low: np.ndarray) -> np.ndarray:
    """``log det A`` per person, ``(N,)``, from the factor of :func:`cholesky`."""
    k = low.shape[0]
    return 2.0 * np.log(np.stack([low[i, i] for i in range(k)])).sum(axis=0)
