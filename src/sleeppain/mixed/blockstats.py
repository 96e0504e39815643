"""Stage 3: per-group sufficient statistics for one grouping factor (:func:`block_stats`).

With one grouping factor the design is block diagonal, so the cross-products of each
group (``Z_j'Z_j``, ``Z_j'X_j``, ``Z_j'y_j``) and the global ``X'X``, ``X'y``, ``y'y``,
formed once, are all the deviance evaluations need (Bates et al. 2015, section 3; the
house style's "per-person cross-products").

Examples
--------
>>> import numpy as np
>>> s = block_stats(np.ones((4, 1)), np.array([0, 0, 1, 1]), 2, np.ones((4, 1)),
...                 np.array([1.0, 2.0, 3.0, 5.0]))
>>> s.n, s.ZtZ.shape
(4, (2, 1, 1))
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sleeppain.mixed._pls import Centering

__all__ = ["BlockStats", "block_stats"]

#: Rows per chunk of :func:`block_stats` (centred rows and products of a chunk stay in cache).
_CHUNK_ROWS = 32768


@dataclass(frozen=True, eq=False)
class BlockStats:
    """Per-group cross-products for one grouping factor (stacked over groups).

    Attributes
    ----------
    ZtZ : ndarray, shape (G, q, q)
    ZtX : ndarray, shape (G, q, p)
    Zty : ndarray, shape (G, q)
    XtX : ndarray, shape (p, p)
    Xty : ndarray, shape (p,)
    yty : float
    n : int
        Number of rows.
    centering : Centering
        How X and y were centred before the products were formed.
    """

    ZtZ: np.ndarray
    ZtX: np.ndarray
    Zty: np.ndarray
    XtX: np.ndarray
    Xty: np.ndarray
    yty: float
    n: int
    centering: Centering


def block_stats(
    Zc: np.ndarray,
    codes: np.ndarray,
    ngroups: int,
    X: np.ndarray,
    y: np.ndarray,
    *,
    center: bool = True,
) -> BlockStats:
    """Per-group sufficient statistics in one pass over the rows.

    Rows sorted by group are summed by contiguous segments, in chunks of whole groups of
    about ``_CHUNK_ROWS`` rows (centred on the fly, so no centred copy of ``X`` is made);
    other row orders by ``np.bincount``.

    Parameters
    ----------
    Zc : ndarray, shape (n, q)
        Random-effects columns of each row (the terms' model matrices side by side).
    codes : ndarray of int, shape (n,)
        Group index 0..G-1 of each row (any row order).
    ngroups : int
        G.
    X : ndarray, shape (n, p)
    y : ndarray, shape (n,)
    center : bool
        Centre ``y`` and the non-intercept columns of ``X`` first (see :class:`Centering`);
        False when the caller has already done so.

    Returns
    -------
    BlockStats

    Examples
    --------
    >>> import numpy as np
    >>> s = block_stats(np.ones((4, 1)), np.array([0, 0, 1, 1]), 2, np.ones((4, 1)),
    ...                 np.array([1.0, 2.0, 3.0, 5.0]))
    >>> s.ZtZ[:, 0, 0].tolist(), s.Zty[:, 0].tolist()
    ([2.0, 2.0], [-2.5, 2.5])
    """
    n, q = Zc.shape
    p = X.shape[1]
    G = int(ngroups)
    codes = np.asarray(codes)
    if center:
        cen, means, ybar = Centering.params(X, y)
    else:
        cen = Centering(np.eye(p), np.zeros(p))
        means, ybar = None, 0.0
    ZtZ = np.empty((G, q, q))
    ZtX = np.empty((G, q, p))
    Zty = np.empty((G, q))
    XtX = np.zeros((p, p))
    Xty = np.zeros(p)
    yty = 0.0
    const = [bool(Zc[0, a] == 1.0) and bool(np.all(Zc[:, a] == 1.0)) for a in range(q)]
    if n > 1 and bool(np.all(codes[1:] >= codes[:-1])):
        # rows sorted by group (the usual diary layout): contiguous segment sums, over
        # chunks of whole groups so that the centred rows and products stay in cache
        starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
        if starts.size != G:
            raise ValueError("every group 0..G-1 must have at least one row")
        cuts = np.unique(np.searchsorted(starts, np.arange(0, n, _CHUNK_ROWS)))
        gbounds = np.append(cuts, G)
        chunks = [(int(a), int(b)) for a, b in itertools.pairwise(gbounds) if b > a]
    else:
        starts = None
        chunks = [(0, G)]
    for g0, g1 in chunks:
        if starts is None:
            r0, r1 = 0, n

            def seg(w: np.ndarray) -> np.ndarray:
                return np.bincount(codes, weights=w, minlength=G)

            counts = np.bincount(codes, minlength=G).astype(float)
        else:
            r0 = int(starts[g0])
            r1 = int(starts[g1]) if g1 < G else n
            local = starts[g0:g1] - r0

            def seg(w: np.ndarray, local: np.ndarray = local) -> np.ndarray:
                return np.add.reduceat(w, local)

            counts = np.diff(np.append(local, r1 - r0)).astype(float)
        Xk = X[r0:r1]
        yk = y[r0:r1]
        if means is not None:
            Xk = Xk - means
            yk = yk - ybar
        XtX += Xk.T @ Xk
        Xty += Xk.T @ yk
        yty += float(yk @ yk)
        Zcols = [np.ascontiguousarray(Zc[r0:r1, a]) for a in range(q)]
        Xcols = [np.ascontiguousarray(Xk[:, k]) for k in range(p)]
        for a in range(q):
            za = Zcols[a]
            for b in range(a, q):
                if const[a] and b == a:
                    sab = counts
                elif const[a]:
                    sab = seg(Zcols[b])
                else:
                    sab = seg(za * Zcols[b])
                ZtZ[g0:g1, a, b] = sab
                ZtZ[g0:g1, b, a] = sab
            for k in range(p):
                ZtX[g0:g1, a, k] = seg(Xcols[k] if const[a] else za * Xcols[k])
            Zty[g0:g1, a] = seg(yk if const[a] else za * yk)
    return BlockStats(
        ZtZ=ZtZ,
        ZtX=ZtX,
        Zty=Zty,
        XtX=XtX,
        Xty=Xty,
        yty=yty,
        n=n,
        centering=cen,
    )
