"""Residual correlation (AR(1), CAR(1)) and heteroscedasticity (varIdent) for ``sp.lmm``.

The model is nlme's ``lme(..., correlation = corAR1 / corCAR1, weights = varIdent)``
(Pinheiro & Bates 2000, Mixed-Effects Models in S and S-PLUS, sections 5.2-5.3): within a
person, ``Cov(e) = sigma^2 D R(phi) D`` with ``R[i, k] = phi^|t_i - t_k|`` and
``D = diag(delta_s(i))`` (``delta = 1`` for the reference stratum, nlme's first stratum).

Statistics stage. Sorted by time within a person, the correlation is Markov, so the
precision ``Q = D^-1 R^-1 D^-1`` is tridiagonal: with ``r_i = phi^(t_i - t_(i-1))``,
``c(r) = r^2 / (1 - r^2)`` and ``s(r) = r / (1 - r^2)``,

    a' Q b = sum_i (1 + c_before(i) + c_after(i)) a_i b_i / delta_i^2
             - sum_pairs s(r_i) (a_i b_(i-1) + a_(i-1) b_i) / (delta_i delta_(i-1)),

and ``log|D R D| = 2 sum_i log delta_s(i) + sum_pairs log(1 - r_i^2)``. A missing day is a
gap (``r = phi^2`` across one missing day), never a neighbour. Writing
``1 + c_before + c_after`` as three terms, the products of the rows of ``[Z | X | y]``
are summed once into *cells*: one per (person, stratum) for the base terms, and one per
(person, gap, strata) for the adjacency terms ``c(r) a_i b_i`` and the pair terms
(:class:`ResidualStats`). With whole-day times there are a few distinct gaps, so a few
cells per person; with continuous times (every gap different) there is about one cell per
pair. An evaluation at
``(theta, phi, delta)`` weights the cells (``O(cells)``, vectorised, no per-row Python),
sums them per person with one sparse product, and hands the per-person cross-products
``Z_j'Q_jZ_j, Z_j'Q_jX_j, Z_j'Q_jy_j`` and ``X'QX, X'Qy, y'Qy`` to the block-diagonal
profiled deviance (:class:`~sleeppain.mixed.deviance.BlockDeviance`), to which
``log|D R D|`` is added. beta and sigma are profiled as without correlation; theta and the
residual parameters are optimised together.

Parameters seen by the optimiser: ``x = (theta, u, log delta_2, ...)`` with
``phi = tanh(u)`` for AR(1) (nlme's ``corAR1`` uses ``log((1 + phi) / (1 - phi)) = 2u``)
and ``phi = 1 / (1 + exp(-u))`` for CAR(1) (nlme's ``corCAR1`` uses ``log(phi / (1 - phi))``).

References: nlme 3.1-162 (``lme``, ``corAR1``, ``corCAR1``, ``varIdent``); logLik, AIC and
BIC as nlme's (the REML log-likelihood equals lme4's). Tested against nlme in
tests/mixed/test_nlme_reference.py (logLik 1e-4, phi 1e-4, fixed effects 1% of an SE).

Examples
--------
>>> import numpy as np, pandas as pd
>>> import sleeppain as sp
>>> rng = np.random.default_rng(4)
>>> g = np.repeat(np.arange(30), 10)
>>> day = np.tile(np.arange(10), 30)
>>> e = np.zeros(300)
>>> for i in range(300):
...     e[i] = (0.6 * e[i - 1] if day[i] else 0.0) + rng.normal()
>>> df = pd.DataFrame({"id": g, "day": day, "y": rng.normal(size=30)[g] + e})
>>> fit = sp.lmm("y ~ 1 + (1 | id)", df, correlation="ar1", time="day")
>>> 0.3 < fit.phi < 0.9
True
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from sleeppain.errors import DataStructureError, EstimationError, SpecificationError
from sleeppain.mixed._format import plain
from sleeppain.mixed._pls import _cho_solve
from sleeppain.mixed.deviance import BlockDeviance, BlockStats, Centering, PlsSolution

__all__ = [
    "CORRELATIONS",
    "CorrelatedDeviance",
    "ResidualData",
    "ResidualFit",
    "ResidualSpec",
    "ResidualStats",
    "VarIdent",
    "residual_spec",
    "residual_stats",
]

#: Supported residual correlation structures (nlme's corAR1 and corCAR1).
CORRELATIONS = ("ar1", "car1")

#: phi closer than this to a bound of its range (-1 or 0, and 1) is reported as a boundary fit.
PHI_BOUNDARY_TOL = 1e-4

#: Largest |u| (transformed phi) evaluated: tanh(15) = 1 - 2e-13, keeps 1 - r^2 > 0.
_U_MAX = 15.0
#: Largest |log delta| evaluated.
_LOGDELTA_MAX = 20.0


@dataclass(frozen=True)
class VarIdent:
    """nlme's ``varIdent(form = ~ 1 | column)``: one residual SD per level of ``column``.

    Examples
    --------
    >>> VarIdent("weekend").column
    'weekend'
    """

    column: str


@dataclass(frozen=True)
class ResidualSpec:
    """The residual structure of a model: correlation, its time column and variance weights.

    Examples
    --------
    >>> residual_spec("ar1", "day", "group:weekend")
    ResidualSpec(correlation='ar1', time='day', weights=VarIdent(column='weekend'))
    """

    correlation: str | None = None
    time: str | None = None
    weights: VarIdent | None = None

    @property
    def is_iid(self) -> bool:
        """True without correlation and weights (the ordinary model)."""
        return self.correlation is None and self.weights is None

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns the structure reads (time, stratification)."""
        out = []
        if self.correlation is not None and self.time is not None:
            out.append(self.time)
        if self.weights is not None:
            out.append(self.weights.column)
        return tuple(out)


@dataclass(frozen=True, eq=False)
class ResidualData:
    """The residual structure's columns for the rows of a design (stage 2's extra output).

    Attributes
    ----------
    spec : ResidualSpec
    time : ndarray or None
        Times of the design's rows (days for dates).
    strata : ndarray of intp or None
        Stratum 0..S-1 of each row (0 = reference: the first level in the data).
    strata_labels : ndarray or None
    """

    spec: ResidualSpec
    time: np.ndarray | None = None
    strata: np.ndarray | None = None
    strata_labels: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ResidualFit:
    """Estimated residual structure of a fit.

    Attributes
    ----------
    spec : ResidualSpec
    phi : float or None
        Correlation at lag 1 (AR(1)) or per unit of time (CAR(1)).
    delta : ndarray
        SD ratios of the strata to the reference (nlme's ``coef(varIdent,
        unconstrained = FALSE, allCoef = TRUE)``); ``[1.0]`` without weights.
    strata : ndarray
        Labels of the strata.
    x : ndarray
        The optimiser's parameter vector (theta, transformed phi, log delta).
    data : ResidualData
        For refits.
    """

    spec: ResidualSpec
    phi: float | None
    delta: np.ndarray
    strata: np.ndarray
    x: np.ndarray
    data: ResidualData

    @property
    def n_params(self) -> int:
        """Number of residual parameters (phi and the free SD ratios)."""
        return (self.phi is not None) + (self.delta.size - 1)


def residual_spec(
    correlation: str | None = None, time: str | None = None, weights: Any = None
) -> ResidualSpec:
    """Validate ``correlation=``, ``time=`` and ``weights=`` of :func:`sleeppain.lmm`.

    ``weights`` is ``"group:COL"`` or :class:`VarIdent` (nlme's ``varIdent(~ 1 | COL)``).

    Examples
    --------
    >>> residual_spec(weights=VarIdent("sex")).weights
    VarIdent(column='sex')
    >>> residual_spec("ar2", "day")
    Traceback (most recent call last):
    ...
    sleeppain.errors.SpecificationError: correlation='ar2' is not supported; use None, 'ar1' (nlme's corAR1: integer times, phi^k for observations k time units apart) or 'car1' (corCAR1: continuous times).
    """
    if correlation is not None:
        key = str(correlation).lower()
        if key not in CORRELATIONS:
            raise SpecificationError(
                f"correlation={correlation!r} is not supported; use None, 'ar1' (nlme's "
                "corAR1: integer times, phi^k for observations k time units apart) or 'car1' "
                "(corCAR1: continuous times)."
            )
        if time is None:
            raise SpecificationError(
                f"correlation={key!r} needs time=, the column of the observation times within "
                "a person (e.g. time='day'); a missing day is then a gap, not a neighbour."
            )
        if not isinstance(time, str):
            raise SpecificationError(f"time= must be a column name, got {type(time).__name__}.")
        correlation = key
    elif time is not None:
        raise SpecificationError(
            f"time={time!r} is only used with correlation='ar1' or 'car1'; pass one of them "
            "or drop time=."
        )
    w: VarIdent | None
    if weights is None or isinstance(weights, VarIdent):
        w = weights
    elif isinstance(weights, str) and weights.startswith("group:") and weights[6:].strip():
        w = VarIdent(weights[6:].strip())
    else:
        raise SpecificationError(
            f"weights={weights!r} is not understood; use 'group:COLUMN' (or "
            "sp.VarIdent('COLUMN')) for a residual SD per level of COLUMN, as nlme's "
            "varIdent(form = ~ 1 | COLUMN)."
        )
    return ResidualSpec(correlation=correlation, time=time, weights=w)


def check_residual_columns(spec: ResidualSpec, data: pd.DataFrame) -> None:
    """SpecificationError when ``time=`` or the weights' column is not in ``data``."""
    cols = [str(c) for c in data.columns]
    for role, name in (("time=", spec.time if spec.correlation else None),) + (
        (("weights=", spec.weights.column),) if spec.weights is not None else ()
    ):
        if name is not None and name not in data.columns:
            close = difflib.get_close_matches(name, cols, n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise SpecificationError(
                f"{role} names {name!r}, which is not a column of the data.{hint} "
                f"Available columns: {', '.join(cols[:20])}{' ...' if len(cols) > 20 else ''}."
            )


# ----------------------------------------------------------------------------------------
# statistics stage
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ResidualStats:
    """Cell statistics of the residual structure (formed once per fit).

    The quadratic forms of the module notes are split into three kinds of terms, each with
    its own coefficient at ``(phi, delta)``: *base* terms ``a_i b_i`` of every row
    (coefficient ``1 / delta_s^2``), *adjacency* terms ``a_i b_i`` of a row next to a
    neighbour at gap ``g`` (``c(phi^g) / delta_s^2``; a row between two neighbours has
    two) and *pair* terms ``a_i b_(i-1) + a_(i-1) b_i`` (``-s(phi^g) / (delta_s delta_s')``).
    A *class* is a kind with its gap and strata; a *cell* is a (person, class) with at
    least one term. Cells are sorted by person.

    Attributes
    ----------
    correlation : {"ar1", "car1"} or None
    n, p, q, ngroups : int
    gaps : ndarray, shape (K,)
        Distinct time gaps between neighbouring observations of a person.
    strata : ndarray, shape (S,)
        Level labels of the variance stratification (reference first).
    cls_kind : ndarray of int8, shape (M,)
        0 base, 1 adjacency, 2 pair.
    cls_gap : ndarray of intp, shape (M,)
        Gap index (-1 for base classes).
    cls_s1, cls_s2 : ndarray of intp, shape (M,)
        Strata (of the row twice, or of the earlier and later row of a pair).
    cell_group, cell_class : ndarray of intp, shape (C,)
        Person and class of each cell.
    prod_z : ndarray, shape (C, nz)
        Summed products of ``Z`` entries with ``[Z | X | y]`` entries (:func:`_zpairs`).
    prod_x : ndarray, shape (C, nx)
        Summed products among ``[X | y]`` (upper triangle, :func:`_xpairs`).
    n_pairs_gap : ndarray, shape (K,)
        Neighbouring pairs per gap (for the log-determinant).
    n_stratum : ndarray, shape (S,)
        Rows per stratum.
    centering : Centering
    """

    correlation: str | None
    n: int
    p: int
    q: int
    ngroups: int
    gaps: np.ndarray
    strata: np.ndarray
    cls_kind: np.ndarray
    cls_gap: np.ndarray
    cls_s1: np.ndarray
    cls_s2: np.ndarray
    cell_group: np.ndarray
    cell_class: np.ndarray
    prod_z: np.ndarray
    prod_x: np.ndarray
    n_pairs_gap: np.ndarray
    n_stratum: np.ndarray
    centering: Centering

    @property
    def nstrata(self) -> int:
        """Number of variance strata (1 without weights)."""
        return int(self.strata.size)

    @property
    def ncells(self) -> int:
        """Number of cells."""
        return int(self.cell_group.size)


def _zpairs(q: int, k: int) -> list[tuple[int, int]]:
    """Entries (a, b) of ``Z'[Z | X | y]`` kept: ``a <= b`` for the ``Z'Z`` part."""
    return [(a, b) for a in range(q) for b in range(k) if b >= a or b >= q]


def _xpairs(q: int, k: int) -> list[tuple[int, int]]:
    """Entries of the upper triangle of ``[X | y]'[X | y]`` (columns of ``[Z | X | y]``)."""
    return [(a, b) for a in range(q, k) for b in range(a, k)]


def _cell_index(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """Compress keys in ``range(space)`` to cells: ``(cell of each key, key of each cell)``.

    Cells come in increasing key order.
    """
    if space <= 8 * keys.size + 1024:
        cell_keys = np.flatnonzero(np.bincount(keys, minlength=space))
        lookup = np.zeros(space, dtype=np.intp)
        lookup[cell_keys] = np.arange(cell_keys.size)
        return lookup[keys], cell_keys
    cell_keys, inv = np.unique(keys, return_inverse=True)
    return inv.astype(np.intp), cell_keys


def _unique_gaps(dg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct gaps and the index of each (counting for whole-number gaps, else a sort)."""
    if dg.size and dg.max() <= 1e6:
        di = dg.astype(np.intp)
        if np.array_equal(di, dg):
            present = np.bincount(di) > 0
            vals = np.flatnonzero(present)
            lookup = np.cumsum(present, dtype=np.intp) - 1
            return vals.astype(float), lookup[di]
    gaps, idx = np.unique(dg, return_inverse=True)
    return gaps, idx.astype(np.intp)


def _sorted_by(codes: np.ndarray, t: np.ndarray | None) -> bool:
    """True when rows are sorted by person, then (strictly or not) by time."""
    if codes.size < 2:
        return True
    dc = np.diff(codes)
    if np.any(dc < 0):
        return False
    if t is None:
        return True
    return not bool(np.any((dc == 0) & (np.diff(t) < 0)))


class _Cells:
    """Accumulates cells: (person, class) indices and their product sums."""

    def __init__(self, nz: int, nx: int) -> None:
        self.group: list[np.ndarray] = []
        self.cls: list[np.ndarray] = []
        self.pz: list[np.ndarray] = []
        self.px: list[np.ndarray] = []
        self.nz, self.nx = nz, nx

    def add(self, group: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pz = np.zeros((group.size, self.nz))
        px = np.zeros((group.size, self.nx))
        self.group.append(group)
        self.cls.append(cls)
        self.pz.append(pz)
        self.px.append(px)
        return pz, px


def residual_stats(
    Zc: np.ndarray,
    codes: np.ndarray,
    ngroups: int,
    X: np.ndarray,
    y: np.ndarray,
    *,
    correlation: str | None = None,
    time: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    strata_labels: np.ndarray | None = None,
) -> ResidualStats:
    """Form the cell statistics of a residual structure (the statistics stage).

    Parameters
    ----------
    Zc : ndarray, shape (n, q)
        Random-effects columns of each row (one grouping factor).
    codes : ndarray of int, shape (n,)
        Person index 0..G-1 of each row; every person has a row.
    ngroups : int
    X : ndarray, shape (n, p)
    y : ndarray, shape (n,)
    correlation : {"ar1", "car1"} or None
    time : ndarray, shape (n,), optional
        Observation times (required with a correlation); distinct within a person.
    strata : ndarray of int, shape (n,), optional
        Variance stratum 0..S-1 of each row (0 is the reference).
    strata_labels : ndarray, optional
        Labels of the strata.

    Returns
    -------
    ResidualStats

    Raises
    ------
    DataStructureError
        A time duplicated within a person.

    Examples
    --------
    >>> import numpy as np
    >>> st = residual_stats(np.ones((5, 1)), np.array([0, 0, 0, 1, 1]), 2,
    ...                     np.ones((5, 1)), np.arange(5.0), correlation="ar1",
    ...                     time=np.array([1, 2, 4, 1, 2]))
    >>> st.gaps.tolist(), st.n_pairs_gap.tolist()
    ([1.0, 2.0], [2, 1])
    """
    n, q = Zc.shape
    p = X.shape[1]
    k = q + p + 1
    G = int(ngroups)
    codes = np.asarray(codes, dtype=np.intp)
    if strata is None or strata_labels is None or len(strata_labels) < 2:
        strata = None
        labels = np.array(["(all)"] if strata_labels is None else strata_labels, dtype=object)
        S = 1
    else:
        labels = np.asarray(strata_labels, dtype=object)
        S = len(labels)
    t = None
    if correlation is not None:
        if time is None:
            raise ValueError("a correlation structure needs times")
        t = np.asarray(time, dtype=float)
    order = None
    if not _sorted_by(codes, t):
        order = np.lexsort((t, codes)) if t is not None else np.argsort(codes, kind="stable")
    cs = codes if order is None else codes[order]
    ss = None
    if strata is not None:
        ss = np.asarray(strata, dtype=np.intp)
        ss = ss if order is None else ss[order]
    cen, means, ybar = Centering.params(X, y)
    # [Z | X | y] sorted and centred, one contiguous column each
    A = np.empty((n, k), order="F")
    A[:, :q] = Zc if order is None else Zc[order]
    A[:, q : q + p] = X if order is None else X[order]
    if means is not None:
        A[:, q : q + p] -= means
    A[:, k - 1] = y if order is None else y[order]
    A[:, k - 1] -= ybar
    const = [bool(A[0, a] == 1.0) and bool(np.all(A[:, a] == 1.0)) for a in range(k)]
    zp, xp = _zpairs(q, k), _xpairs(q, k)
    entries = [(0, j, ab) for j, ab in enumerate(zp)] + [(1, j, ab) for j, ab in enumerate(xp)]

    cells = _Cells(len(zp), len(xp))
    starts = np.flatnonzero(np.concatenate([[True], cs[1:] != cs[:-1]]))
    if starts.size != G:
        raise ValueError("every person 0..G-1 must have at least one row")
    n_stratum = np.bincount(ss, minlength=S) if ss is not None else np.array([n])
    # ---- neighbouring pairs of a person and their gaps
    gaps = np.zeros(0)
    n_pairs_gap = np.zeros(0, dtype=np.int64)
    pairs: _PairStage | None = None
    if t is not None and n > 1:
        ts = t if order is None else t[order]
        same = cs[1:] == cs[:-1]
        dg = np.diff(ts)[same]
        if np.any(dg <= 0):
            i = int(np.flatnonzero(same)[np.argmax(dg <= 0)]) + 1
            raise DataStructureError(
                f"duplicated time {plain(ts[i])} within a person (person index {int(cs[i])}); "
                "each observation of a person needs a distinct time for a residual "
                "correlation. Aggregate or drop the duplicates."
            )
        gaps, gidx = _unique_gaps(dg)
        n_pairs_gap = np.bincount(gidx, minlength=gaps.size)
        if gidx.size:
            pairs = _PairStage(cells, cs, ss, S, gaps.size, same, gidx, G)
    # ---- base terms: one cell per (person, stratum); then the pair stage's cells
    if S == 1:
        base = cells.add(np.arange(G), np.zeros(G, dtype=np.intp))
        counts = np.diff(np.append(starts, n)).astype(float)

        def base_sum(P: np.ndarray | None) -> np.ndarray:
            return counts if P is None else np.add.reduceat(P, starts)
    else:
        assert ss is not None
        bidx, bkeys = _cell_index(cs * S + ss, G * S)
        base = cells.add(bkeys // S, bkeys % S)

        def base_sum(P: np.ndarray | None) -> np.ndarray:
            return np.bincount(bidx, weights=P, minlength=bkeys.size).astype(float)

    # cells were added pair stage first: move the base cells to the front (class offsets)
    for lst in (cells.group, cells.cls, cells.pz, cells.px):
        lst.insert(0, lst.pop())
    for kind, j, (a, b) in entries:
        ca = None if const[a] else A[:, a]
        cb = None if const[b] else A[:, b]
        if ca is None and cb is None:
            P = None
        elif ca is None or cb is None:
            P = cb if ca is None else ca
        else:
            P = ca * cb
        base[kind][:, j] = base_sum(P)
        if pairs is not None:
            pairs.fill(kind, j, ca, cb, P)
    # ---- assemble, cells sorted by person
    group = np.concatenate(cells.group).astype(np.intp)
    cls_local = cells.cls
    perm = np.argsort(group, kind="stable")
    K = gaps.size
    nb, na = S, K * S
    kinds = [np.zeros(nb, np.int8), np.ones(na, np.int8), np.full(K * S * S, 2, np.int8)]
    gap_cls = [np.full(nb, -1), np.repeat(np.arange(K), S), np.repeat(np.arange(K), S * S)]
    s1_cls = [np.arange(nb), np.tile(np.arange(S), K), np.tile(np.repeat(np.arange(S), S), K)]
    s2_cls = [np.arange(nb), np.tile(np.arange(S), K), np.tile(np.arange(S), K * S)]
    offsets = [0, nb, nb + na]
    cell_class = np.concatenate([c + offsets[min(i, 2)] for i, c in enumerate(cls_local)]).astype(
        np.intp
    )
    return ResidualStats(
        correlation=correlation,
        n=n,
        p=p,
        q=q,
        ngroups=G,
        gaps=gaps,
        strata=labels,
        cls_kind=np.concatenate(kinds),
        cls_gap=np.concatenate(gap_cls).astype(np.intp),
        cls_s1=np.concatenate(s1_cls).astype(np.intp),
        cls_s2=np.concatenate(s2_cls).astype(np.intp),
        cell_group=group[perm],
        cell_class=cell_class[perm],
        prod_z=np.ascontiguousarray(np.concatenate(cells.pz)[perm]),
        prod_x=np.ascontiguousarray(np.concatenate(cells.px)[perm]),
        n_pairs_gap=n_pairs_gap,
        n_stratum=n_stratum,
        centering=cen,
    )


class _PairStage:
    """Adjacency and pair cells ``(person, gap, strata)`` over all neighbouring rows.

    Products are formed on shifted columns (rows i and i - 1, for every i); rows that are
    not neighbours (a change of person) go to a dummy cell that is dropped. ``fill`` takes
    the row products already formed for the base cells, so each entry costs one addition
    (adjacency) and two multiplications (pairs) per row.
    """

    def __init__(
        self,
        cells: _Cells,
        cs: np.ndarray,
        ss: np.ndarray | None,
        S: int,
        K: int,
        same: np.ndarray,
        gidx: np.ndarray,
        G: int,
    ) -> None:
        self.S, self.same, self.G = S, same, G
        g_all = np.zeros(same.size, dtype=np.intp)
        g_all[same] = gidx
        self.person = cs[1:]
        if S == 1:
            self.idx, keys = self._index(g_all, K)
            self.nc = keys.size
            # adjacency and pair terms share the cells (person, gap)
            self.adj = cells.add(keys // K, keys % K)
            self.pair = cells.add(keys // K, keys % K)
            self.count2 = 2.0 * np.bincount(self.idx, minlength=self.nc + 1)[: self.nc]
            return
        assert ss is not None
        s0, s1 = ss[:-1], ss[1:]
        # adjacency: the later row's term in (gap, s1), the earlier row's in (gap, s0)
        self.idx1, keys1 = self._index(g_all * S + s1, K * S)
        self.idx0, keys0 = self._index(g_all * S + s0, K * S)
        allkeys = np.union1d(keys1, keys0)
        self.pos1 = np.searchsorted(allkeys, keys1)
        self.pos0 = np.searchsorted(allkeys, keys0)
        self.na, self.nk1, self.nk0 = allkeys.size, keys1.size, keys0.size
        self.adj = cells.add(allkeys // (K * S), allkeys % (K * S))
        self.idxp, keysp = self._index((g_all * S + s0) * S + s1, K * S * S)
        self.npc = keysp.size
        self.pair = cells.add(keysp // (K * S * S), keysp % (K * S * S))

    def _index(self, local: np.ndarray, nlocal: int) -> tuple[np.ndarray, np.ndarray]:
        key = self.person * nlocal + local
        key[~self.same] = self.G * nlocal  # dummy, the largest key
        idx, keys = _cell_index(key, self.G * nlocal + 1)
        if keys.size and keys[-1] == self.G * nlocal:
            keys = keys[:-1]
        return idx, keys

    def fill(
        self, kind: int, j: int, ca: np.ndarray | None, cb: np.ndarray | None, P: np.ndarray | None
    ) -> None:
        """Entry ``j`` of ``prod_z`` (kind 0) or ``prod_x`` (kind 1) from the columns
        ``ca``, ``cb`` (None: a column of ones) and their row product ``P`` (None: ones)."""
        adj = self.adj[kind]
        pair = self.pair[kind]
        if self.S == 1:
            nc = self.nc
            if P is None:
                adj[:, j] = pair[:, j] = self.count2
                return
            diag = P[1:] + P[:-1]
            adj[:, j] = np.bincount(self.idx, diag, nc + 1)[:nc]
            if ca is None or cb is None:  # a_i b_(i-1) + a_(i-1) b_i = b_i + b_(i-1)
                pair[:, j] = adj[:, j]
                return
            off = ca[1:] * cb[:-1]
            off += ca[:-1] * cb[1:]
            pair[:, j] = np.bincount(self.idx, off, nc + 1)[:nc]
            return
        n1 = self.same.size
        Pf = np.ones(n1 + 1) if P is None else P
        col = np.zeros(self.na)
        np.add.at(col, self.pos1, np.bincount(self.idx1, Pf[1:], self.nk1 + 1)[: self.nk1])
        np.add.at(col, self.pos0, np.bincount(self.idx0, Pf[:-1], self.nk0 + 1)[: self.nk0])
        adj[:, j] = col
        oa = np.ones(n1 + 1) if ca is None else ca
        ob = np.ones(n1 + 1) if cb is None else cb
        off = oa[1:] * ob[:-1]
        off += oa[:-1] * ob[1:]
        pair[:, j] = np.bincount(self.idxp, off, self.npc + 1)[: self.npc]


# ----------------------------------------------------------------------------------------
# deviance stage
# ----------------------------------------------------------------------------------------


def phi_from_u(u: float, correlation: str | None) -> float:
    """phi from the optimiser's unconstrained ``u`` (tanh for AR(1), logistic for CAR(1))."""
    u = float(np.clip(u, -_U_MAX, _U_MAX))
    if correlation == "ar1":
        return float(np.tanh(u))
    return float(1.0 / (1.0 + np.exp(-u)))


def u_from_phi(phi: float, correlation: str | None) -> float:
    """Inverse of :func:`phi_from_u`."""
    if correlation == "ar1":
        return float(np.arctanh(phi))
    return float(np.log(phi / (1.0 - phi)))


class CorrelatedDeviance:
    """Profiled deviance with residual correlation and/or varIdent weights.

    Parameters ``x = (theta, u, log delta_2, ..., log delta_S)`` (see the module notes);
    the criterion is that of :class:`~sleeppain.mixed.deviance.BlockDeviance` on the
    whitened cross-products plus ``log|D R D|``. The gradient is analytic: in theta that
    of the block evaluator (at fixed residual parameters the model is an ordinary LMM of
    the whitened data), in the residual parameters through the derivative of the
    criterion with respect to the whitened cross-products (:meth:`_sensitivity`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> codes = np.repeat(np.arange(10), 6)
    >>> st = residual_stats(np.ones((60, 1)), codes, 10, np.ones((60, 1)),
    ...                     rng.normal(size=60), correlation="ar1",
    ...                     time=np.tile(np.arange(6), 10))
    >>> dev = CorrelatedDeviance(st, [1], reml=True)
    >>> dev.ntheta, dev.ntheta_re
    (2, 1)
    >>> bool(np.isfinite(dev(np.array([0.5, 0.2]))))
    True
    """

    has_analytic_gradient = True
    #: the optimiser for ``LmmControl(optimizer="auto")``: None keeps the engine's choice
    #: for analytic gradients (TNC; L-BFGS-B needs ~20% fewer evaluations here but stopped
    #: short of the gradient check on a near-singular stacked mediation model)
    preferred_optimizer: str | None = None

    def __init__(self, stats: ResidualStats, ncols: list[int] | tuple[int, ...], reml: bool):
        self.stats = stats
        self.ncols = tuple(int(c) for c in ncols)
        self.reml = bool(reml)
        self.correlation = stats.correlation
        self.n, self.p, self.q = stats.n, stats.p, stats.q
        self.nstrata = stats.nstrata
        self.n_resid = (1 if self.correlation else 0) + (self.nstrata - 1)
        G, C = stats.ngroups, stats.ncells
        # cells are sorted by person: the CSR indicator has column indices 0..C-1 in order
        indptr = np.concatenate([[0], np.cumsum(np.bincount(stats.cell_group, minlength=G))])
        self._P = sparse.csr_matrix((np.ones(C), np.arange(C), indptr), shape=(G, C))
        k = self.q + self.p + 1
        self._zp, self._xp = _zpairs(self.q, k), _xpairs(self.q, k)
        self._zpos = {ab: j for j, ab in enumerate(self._zp)}
        self._xpos = {ab: j for j, ab in enumerate(self._xp)}
        self._base = self._base_stats()
        self.core = BlockDeviance(self._base, self.ncols, reml)
        self.ntheta_re = self.core.ntheta
        self.ntheta = self.ntheta_re + self.n_resid
        self.lower = np.concatenate([self.core.lower, np.full(self.n_resid, -np.inf)])
        self.nevals = 0
        self._key: bytes | None = None
        self._logdet_at = 0.0

    # -- residual parameters -----------------------------------------------------------
    def resid_params(self, x: np.ndarray) -> tuple[float | None, np.ndarray]:
        """``(phi, delta)`` at the full parameter vector ``x`` (phi None without a
        correlation; ``delta[0] = 1`` for the reference stratum)."""
        extra = np.asarray(x, dtype=float)[self.ntheta_re :]
        phi = phi_from_u(extra[0], self.correlation) if self.correlation else None
        ld = extra[1 if self.correlation else 0 :]
        delta = np.exp(np.concatenate([[0.0], np.clip(ld, -_LOGDELTA_MAX, _LOGDELTA_MAX)]))
        return phi, delta

    def _coefs(self, extra: np.ndarray, phi_zero: bool = False) -> tuple[np.ndarray, float]:
        """Coefficient of every cell and ``log|D R D|`` at the residual parameters."""
        st = self.stats
        phi = 0.0
        if self.correlation and not phi_zero:
            phi = phi_from_u(extra[0], self.correlation)
        ld = np.clip(np.asarray(extra[1 if self.correlation else 0 :], dtype=float), -20, 20)
        inv = np.exp(-np.concatenate([[0.0], ld]))
        K = st.gaps.size
        if K and phi != 0.0:
            r = np.power(phi, st.gaps)  # AR(1) gaps are integers, so phi < 0 is fine
            one_m = 1.0 - r * r
            c = np.append(r * r / one_m, 0.0)  # index -1 (no neighbour) -> 0
            s = r / one_m
            logdet_r = float(st.n_pairs_gap @ np.log(one_m))
        else:
            c = np.zeros(K + 1)
            s = np.zeros(K)
            logdet_r = 0.0
        kind, gap = st.cls_kind, st.cls_gap
        w1, w2 = inv[st.cls_s1], inv[st.cls_s2]
        ccoef = w1 * w2
        if K:
            cg = np.where(kind == 1, c[gap], 0.0)
            sg = np.where(kind == 2, s[gap], 0.0)
            ccoef *= np.where(kind == 0, 1.0, cg - sg)
        logdet = logdet_r - 2.0 * float(st.n_stratum @ np.log(inv))
        return ccoef[st.cell_class], logdet

    def _weighted(
        self, extra: np.ndarray, phi_zero: bool = False
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Per-person ``Z'Q[Z | X | y]`` entries (nz, G), global ``[X | y]'Q[X | y]`` and
        ``log|D R D|``."""
        st = self.stats
        coef, logdet = self._coefs(extra, phi_zero)
        P = self._P
        P.data = coef
        Sz = np.ascontiguousarray((P @ st.prod_z).T)
        Sx = coef @ st.prod_x
        p, q = self.p, self.q
        XA = np.zeros((p + 1, p + 1))
        for j, (a, b) in enumerate(self._xp):
            XA[a - q, b - q] = XA[b - q, a - q] = Sx[j]
        return Sz, XA, logdet

    def _base_stats(self) -> BlockStats:
        """Statistics without correlation and with equal variances (the moment start)."""
        Sz, XA, _ = self._weighted(np.zeros(self.n_resid), phi_zero=True)
        q, p = self.q, self.p
        G = self.stats.ngroups
        full = np.zeros((G, q, q + p + 1))
        for j, (a, b) in enumerate(self._zp):
            full[:, a, b] = Sz[j]
            if b < q:
                full[:, b, a] = Sz[j]
        return BlockStats(
            ZtZ=full[:, :, :q],
            ZtX=full[:, :, q : q + p],
            Zty=full[:, :, q + p],
            XtX=XA[:p, :p],
            Xty=XA[:p, p],
            yty=float(XA[p, p]),
            n=self.n,
            centering=self.stats.centering,
        )

    def _load(self, x: np.ndarray) -> np.ndarray:
        """Point the core at the whitened statistics of ``x``; returns theta."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.ntheta,):
            raise ValueError(f"x must have length {self.ntheta}, got shape {x.shape}")
        extra = x[self.ntheta_re :]
        key = extra.tobytes()
        if key != self._key:
            Sz, XA, logdet = self._weighted(extra)
            q, p = self.q, self.p
            zz = [[Sz[self._zpos[(min(a, b), max(a, b))]] for b in range(q)] for a in range(q)]
            C = np.empty((q, p + 1, Sz.shape[1]))
            for a in range(q):
                for b in range(p + 1):
                    C[a, b] = Sz[self._zpos[(a, q + b)]]
            self.core.load_work(zz, C, XA[:p, :p].copy(), XA[:p, p].copy(), float(XA[p, p]))
            self._key = key
            self._logdet_at = logdet
        return x[: self.ntheta_re]

    # -- the evaluator protocol ----------------------------------------------------------
    def __call__(self, x: np.ndarray) -> float:
        """Criterion (REML or -2 logLik) at ``x``."""
        theta = self._load(x)
        self.nevals += 1
        return float(self.core(theta)) + self._logdet_at

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Criterion and its analytic gradient in theta and the residual parameters."""
        x = np.asarray(x, dtype=float)
        theta = self._load(x)
        core = self.core
        w = core._solve(theta)
        d_ld, d_r2, d_rx = core._pieces_grad(w)
        nfac = (self.n - self.p) if self.reml else self.n
        g = np.empty(self.ntheta)
        g[: self.ntheta_re] = d_ld + nfac / w["r2"] * d_r2 + (d_rx if self.reml else 0.0)
        if self.n_resid:
            g[self.ntheta_re :] = self._resid_grad(x[self.ntheta_re :], w)
        self.nevals += 1
        return float(w["dev"]) + self._logdet_at, g

    def _sensitivity(
        self, w: dict[str, Any], sigma: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Derivative of the criterion with respect to the whitened cross-products.

        At fixed theta the criterion depends on the residual parameters only through
        ``M = sum_cells coef S_cell``. With ``L_j = T'M_zz,j T + I``,
        ``P_j = T L_j^-1 T'``, ``A = M_xx - sum_j M_xz,j P_j M_zx,j``, ``V_j = P_j M_zx,j``:
        ``d log|L|^2 = sum_j <P_j, dM_zz,j>``; ``d r^2 = sum_j w_j' dM_j w_j`` with
        ``w_j = (-b_j, -beta, 1)`` (envelope theorem: r^2 is a minimum over b and beta);
        ``d log|A| = <A^-1, dM_xx> - 2 sum_j <V_j A^-1, dM_zx,j> +
        sum_j <V_j A^-1 V_j', dM_zz,j>`` (from ``dP_j = -P_j dM_zz,j P_j``).

        Returns
        -------
        Wz : ndarray, shape (nz, G)
            Weight of each person's ``Z'Q[Z | X | y]`` entry (:func:`_zpairs` order).
        wx : ndarray, shape (nx,)
            Weight of each ``[X | y]'Q[X | y]`` entry (:func:`_xpairs` order).
        """
        q, p = self.q, self.p
        T = w["T"]
        b = T @ np.array(w["u"])  # conditional modes on the centred scale, (q, G)
        P = np.array([[w["P"][a][c] for c in range(q)] for a in range(q)])  # (q, q, G)
        v = np.append(-w["beta_c"], 1.0)
        if sigma is None:  # the profiled criterion: (n - p) log r^2 or n log r^2
            fac = ((self.n - self.p) if self.reml else self.n) / w["r2"]
        else:  # lmerTest's devfun_vp: r^2 / sigma^2
            fac = 1.0 / (sigma * sigma)
        H = K = Ainv = None
        if self.reml and p:
            Ainv = _cho_solve(w["RX"], np.eye(p))
            C = self.core._C  # (q, p + 1, G): Z'Q[X | y]
            V = np.einsum("abg,bkg->akg", P, C[:, :p, :])
            H = np.einsum("akg,kl->alg", V, Ainv)
            K = np.einsum("alg,blg->abg", H, V)
        Wz = np.empty((len(self._zp), b.shape[1]))
        for j, (a, c) in enumerate(self._zp):
            if c < q:
                mult = 1.0 if a == c else 2.0
                per = P[a, c] + (K[a, c] if K is not None else 0.0)
                Wz[j] = mult * (per + fac * b[a] * b[c])
            else:
                m = c - q
                Wz[j] = (-2.0 * fac * v[m]) * b[a]
                if H is not None and m < p:
                    Wz[j] -= 2.0 * H[a, m]
        wx = np.empty(len(self._xp))
        for j, (a, c) in enumerate(self._xp):
            m, l_ = a - q, c - q
            coef = fac * v[m] * v[l_]
            if Ainv is not None and m < p and l_ < p:
                coef += Ainv[m, l_]
            wx[j] = (1.0 if m == l_ else 2.0) * coef
        return Wz, wx

    def _resid_grad(
        self, extra: np.ndarray, w: dict[str, Any], sigma: float | None = None
    ) -> np.ndarray:
        """Gradient in ``(u, log delta_2, ...)``: cell sensitivities times the derivatives
        of the cell coefficients, plus the derivative of ``log|D R D|``."""
        st = self.stats
        Wz, wx = self._sensitivity(w, sigma)
        Pm = self._P

        def along(dcoef: np.ndarray) -> float:
            """Directional derivative of the criterion for cell coefficients ``dcoef``."""
            Pm.data = dcoef
            dMz = Pm @ st.prod_z  # (G, nz)
            return float(np.einsum("gj,jg->", dMz, Wz)) + float((dcoef @ st.prod_x) @ wx)

        ld = np.clip(np.asarray(extra[1 if self.correlation else 0 :], dtype=float), -20, 20)
        inv = np.exp(-np.concatenate([[0.0], ld]))
        kind, gap = st.cls_kind, st.cls_gap
        ww = inv[st.cls_s1] * inv[st.cls_s2]
        K = st.gaps.size
        out = []
        # class coefficients without the strata weights, and their derivative in u
        base = np.ones(kind.size)
        if self.correlation:
            u = float(extra[0])
            phi = phi_from_u(u, self.correlation)
            dphi = (1 - phi * phi) if self.correlation == "ar1" else phi * (1 - phi)
            if abs(u) >= _U_MAX:
                dphi = 0.0
            dbase = np.zeros(kind.size)
            dlog = 0.0
            if K:
                r = np.power(phi, st.gaps)
                dr = st.gaps * np.power(phi, st.gaps - 1.0) * dphi
                one_m = 1.0 - r * r
                c = r * r / one_m
                s_ = r / one_m
                dc = 2.0 * r / one_m**2 * dr
                ds = (1.0 + r * r) / one_m**2 * dr
                gi = np.maximum(gap, 0)
                base = np.where(kind == 1, c[gi], np.where(kind == 2, -s_[gi], 1.0))
                dbase = np.where(kind == 1, dc[gi], np.where(kind == 2, -ds[gi], 0.0))
                dlog = float(st.n_pairs_gap @ (-2.0 * r * dr / one_m))
            out.append(along((ww * dbase)[st.cell_class]) + dlog)
        coef_cls = ww * base
        for s in range(1, self.nstrata):
            dcls = -coef_cls * ((st.cls_s1 == s).astype(float) + (st.cls_s2 == s))
            if abs(ld[s - 1]) >= 20:
                dcls = np.zeros_like(dcls)
            out.append(along(dcls[st.cell_class]) + 2.0 * float(st.n_stratum[s]))
        return np.array(out)

    def varpar_grad(self, x: np.ndarray, sigma: float) -> np.ndarray:
        """Gradient of :meth:`varpar_deviance` in ``(x, sigma)`` (analytic)."""
        x = np.asarray(x, dtype=float)
        theta = self._load(x)
        g_core = self.core.varpar_grad(theta, sigma)  # (theta, sigma)
        g = np.empty(self.ntheta + 1)
        g[: self.ntheta_re] = g_core[:-1]
        g[-1] = g_core[-1]
        if self.n_resid:
            w = self.core._solve(theta)
            g[self.ntheta_re : self.ntheta] = self._resid_grad(x[self.ntheta_re :], w, sigma)
        return g

    def varpar_deviance(self, x: np.ndarray, sigma: float) -> float:
        """Deviance at ``(x, sigma)``, not profiled over sigma (lmerTest's ``devfun_vp``)."""
        theta = self._load(x)
        return float(self.core.varpar_deviance(theta, sigma)) + self._logdet_at

    def A_inv(self, x: np.ndarray) -> np.ndarray:
        """``(X'V^{-1}X)^{-1}`` (``vcov(beta) / sigma^2``) at ``x``."""
        return self.core.A_inv(self._load(x))

    def solve(self, x: np.ndarray, *, conditional_variance: bool = True) -> PlsSolution:
        """Full solution at ``x`` (deviance includes ``log|D R D|``)."""
        theta = self._load(x)
        sol = self.core.solve(theta, conditional_variance=conditional_variance)
        return replace(sol, deviance=sol.deviance + self._logdet_at)

    def moment_start(self) -> np.ndarray | None:
        """theta from the moments of the uncorrelated model, then the best phi on a grid."""
        base = BlockDeviance(self._base, self.ncols, self.reml)
        theta0 = base.moment_start()
        if theta0 is None:
            theta0 = np.where(self.core.lower == 0.0, 1.0, 0.0)
        extra0 = np.zeros(self.n_resid)
        if not self.correlation:
            return np.concatenate([theta0, extra0])
        grid = [0.1, 0.3, 0.5, 0.7, 0.9] + ([-0.3] if self.correlation == "ar1" else [])
        best, best_f = None, np.inf
        for ph in grid:
            extra0[0] = u_from_phi(ph, self.correlation)
            x = np.concatenate([theta0, extra0])
            try:
                f = self(x)
            except (EstimationError, np.linalg.LinAlgError):  # a failed grid point is skipped
                continue
            if f < best_f:
                best, best_f = x, f
        return best
