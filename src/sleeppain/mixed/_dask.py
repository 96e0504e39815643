"""``sp.lmm`` on a Dask DataFrame: a second source of the per-person statistics.

With one grouping factor the deviance needs only the per-group cross-products
(``Z_j'Z_j``, ``Z_j'X_j``, ``Z_j'y_j``) and the global ``X'X``, ``X'y``, ``y'y``
(:mod:`sleeppain.mixed.blockstats`). Here each partition computes them for its own persons
(:func:`partition_stats`, run by Dask where the data live), the driver stacks them
(:func:`combine`) and the optimiser and everything after it run as for an in-memory fit
on the small combined arrays (:class:`StatsDesign`). No row-level array of the whole table
is ever formed.

Each partition centres its rows at its own means; :func:`combine` moves the statistics to
the global means exactly (the pairwise update of Chan, Golub & LeVeque 1983, Am Stat
37:242): with ``d_k`` the partition's mean minus the global mean, ``X'X`` gains
``n_k d_k d_k'`` and each person's ``Z_j'X_j`` gains ``(Z_j'1) d_k'``. The fixed-effect
centring and the predictor standardisation of the in-memory path
(:mod:`sleeppain.mixed._scaling`) are reproduced from these moments, so a Dask fit equals
the in-memory fit of the same rows (tests/dask: fixed effects rtol 1e-8, criterion 1e-6).

Examples
--------
>>> import numpy as np, pandas as pd
>>> df = pd.DataFrame({"y": [1.0, 2, 4, 3, 5, 7, 6, 9], "g": list("aabbccdd")})
>>> plan = make_plan("y ~ 1 + (1 | g)", list(df.columns))
>>> part = partition_stats(df, plan)
>>> part["levels"].tolist(), part["n_used"]
(['a', 'b', 'c', 'd'], 8)
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataDropWarning,
    DataStructureError,
    SleepPainWarning,
    SpecificationError,
)
from sleeppain.mixed._blas import single_threaded_blas
from sleeppain.mixed._format import plain
from sleeppain.mixed._pls import Centering
from sleeppain.mixed._scaling import (
    CENTRE_RATIO,
    SCALE_RANGE,
    PredictorScaling,
    optimize_via_scaled,
)
from sleeppain.mixed.blockstats import BlockStats, block_stats
from sleeppain.mixed.design import (
    RANK_TOL,
    Design,
    ReTerm,
    RowAccounting,
    _as_float,
    _check_columns,
    _group_codes,
    _matrices,
)
from sleeppain.mixed.deviance import BlockDeviance
from sleeppain.mixed.formula import ParsedFormula, parse_formula
from sleeppain.mixed.optimize import (
    LmmControl,
    check_convergence,
    is_singular,
    optimize_theta,
)
from sleeppain.mixed.result import LmmResult

__all__ = ["DaskLmmResult", "StatsDesign", "combine", "lmm_dask", "make_plan", "partition_stats"]


# ----------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class Plan:
    """What every partition needs to build its rows of the model (picklable, small)."""

    parsed: ParsedFormula
    used: tuple[str, ...]
    factors: tuple[str, ...]


def make_plan(formula: str, columns: list[str]) -> Plan:
    """Parse the formula and check it is a one-factor model (stage 1 for Dask).

    Raises
    ------
    SpecificationError
        Unknown columns, or random effects with more than one grouping factor.

    Examples
    --------
    >>> make_plan("y ~ x + (1 + x | id)", ["y", "x", "id"]).factors
    ('id',)
    """
    parsed = parse_formula(formula)
    used = _check_columns(parsed, [str(c) for c in columns])
    groups = list(dict.fromkeys(t.factors for t in parsed.re_terms))
    if len(groups) != 1:
        names = ", ".join(":".join(g) for g in groups) or "none"
        raise SpecificationError(
            f"sp.lmm on a Dask DataFrame fits models with one grouping factor (the person), "
            f"but {formula!r} has {len(groups)} ({names}): crossed or nested random effects "
            "need the whole table in memory. Supported on Dask: one or several terms of the "
            "same factor, e.g. (1 + x | id) or (1 | id) + (0 + x | id). Fit crossed or "
            "nested models in memory (pass a pandas DataFrame)."
        )
    return Plan(parsed=parsed, used=tuple(used), factors=groups[0])


def check_dtypes(ddf: Any, plan: Plan) -> None:
    """Refuse text columns and categoricals with unknown categories in the model terms.

    A partition sees only some levels of a text column, so the fixed-effect columns
    would differ between partitions: the levels must be known before reading.
    """
    for name in plan.used:
        if name in plan.factors:
            continue
        dtype = ddf.dtypes[name]
        fix = (
            f"ddf = ddf.categorize(columns=[{name!r}]) (one pass over the column), or "
            f"ddf[{name!r}] = ddf[{name!r}].astype(pd.CategoricalDtype([...levels...]))"
        )
        if isinstance(dtype, pd.CategoricalDtype):
            if not ddf[name].cat.known:
                raise DataStructureError(
                    f"column {name!r} of the Dask DataFrame is categorical with unknown "
                    f"categories; a Dask fit needs every level before reading the data. Use {fix}."
                )
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            raise DataStructureError(
                f"column {name!r} of the Dask DataFrame holds text ({dtype}); its levels are "
                "not known until every partition is read, so the fixed-effect columns could "
                f"differ between partitions. Declare the levels: {fix}."
            )


# ------------------------------------------------------------------ per partition
def _intercept_col(M: np.ndarray) -> int | None:
    ones = np.flatnonzero(np.all(M == 1.0, axis=0)) if M.shape[0] else np.zeros(0, int)
    return int(ones[0]) if ones.size else None


def partition_stats(pdf: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """One partition's persons: their cross-products and the partition's moments.

    Rows with a missing or non-finite model value are dropped and counted, as
    :func:`~sleeppain.mixed.build_design` does. ``X`` (with a ones column appended, so that
    ``Z_j'1`` comes out as the last column of ``Z_j'X_j``) and ``y`` are centred at the
    partition's means; :func:`combine` moves everything to the global means.

    Returns
    -------
    dict
        Small arrays: per person (``levels``, ``ZtZ``, ``ZtX``, ``Zty``) and per partition.
    """
    parsed = plan.parsed
    n_input = len(pdf)
    ok = np.ones(n_input, dtype=bool)
    reasons: list[tuple[str, int]] = []
    cache: dict[str, np.ndarray] = {}
    for name in plan.used:
        col = pdf[name]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            arr = _as_float(col)
            cache[name] = arr
            good = np.isfinite(arr)
        else:
            good = col.notna().to_numpy()
        k = int((ok & ~good).sum())
        reasons.append((f"missing or non-finite {name!r}", k))
        ok &= good
    if ok.all():
        sub = pdf
    else:
        rows = np.flatnonzero(ok)
        sub = pdf[list(plan.used)].iloc[rows]
        cache = {k: v[rows] for k, v in cache.items()}
    y, X, names, info, mats, finite = _matrices(parsed, sub, cache)
    reasons.append(("non-finite value after transformation (e.g. log of 0)", int((~finite).sum())))
    if not finite.all():
        keep = np.flatnonzero(finite)
        sub = sub.iloc[keep]
        y, X = y[finite], X[finite]
        mats = [(m[finite], nm, inf) for m, nm, inf in mats]
    n = len(y)
    p = X.shape[1]
    Zc = np.column_stack([m for m, _, _ in mats]) if mats else np.zeros((n, 0))
    out: dict[str, Any] = {
        "n_input": n_input,
        "n_used": n,
        "reasons": reasons,
        "fixef_names": names,
        "fixed_info": info,
        "re_names": [nm for _, nm, _ in mats],
        "re_info": [inf for _, _, inf in mats],
    }
    if n == 0:
        out["levels"] = np.zeros(0, dtype=object)
        return out
    codes, levels = _group_codes(sub, plan.factors)
    G = len(levels)
    xm = X.mean(axis=0)
    ym = float(y.mean())
    Xa = np.empty((n, p + 1), order="F")
    Xa[:, :p] = X - xm
    Xa[:, p] = 1.0
    st = block_stats(Zc, codes, G, Xa, y - ym, center=False)
    zm = Zc.mean(axis=0)
    out.update(
        levels=levels,
        ZtZ=st.ZtZ,
        ZtX=st.ZtX[:, :, :p],
        Zt1=st.ZtX[:, :, p],
        Zty=st.Zty,
        XtX=st.XtX[:p, :p],
        Xty=st.Xty[:p],
        yty=st.yty,
        xmean=xm,
        ymean=ym,
        ymin=float(y.min()),
        ymax=float(y.max()),
        x_ones=np.all(X == 1.0, axis=0),
        zmean=zm,
        zss=((Zc - zm) ** 2).sum(axis=0),
        z_ones=np.all(Zc == 1.0, axis=0),
    )
    return out


# ------------------------------------------------------------------------- combine
@dataclass(frozen=True, eq=False)
class Combined:
    """The partitions' statistics at the global means, persons in sorted order."""

    stats: BlockStats  # centred as the in-memory path centres (or not, without intercept)
    levels: np.ndarray
    n: int
    accounting: RowAccounting
    fixef_names: tuple[str, ...]
    fixed_info: Any
    re_names: list[tuple[str, ...]]
    re_info: list[Any]
    xmean: np.ndarray
    xsd: np.ndarray
    icpt: int | None
    zmean: np.ndarray
    zsd: np.ndarray
    z_ones: np.ndarray
    ymin: float
    ymax: float


def _split_person(levels: np.ndarray, owner: np.ndarray, group: str) -> None:
    order = np.argsort(levels, kind="stable")
    sl = levels[order]
    dup = np.flatnonzero(sl[1:] == sl[:-1])
    if dup.size:
        label = sl[dup[0]]
        parts = sorted({int(owner[order][i]) for i in (dup[0], dup[0] + 1)})
        raise DataStructureError(
            f"{dup.size} person(s) have rows in more than one partition, e.g. "
            f"{group}={plain(label)} in partitions {parts}; a Dask fit needs each person's rows "
            f"in one partition. Repartition by person first: ddf = ddf.shuffle({group!r}) "
            f"or ddf = ddf.set_index({group!r}) (sorted by person), or write the "
            "parquet partitioned by person."
        )


def combine(parts: list[dict[str, Any]], plan: Plan) -> Combined:
    """Stack the partitions' persons and move their statistics to the global means.

    Raises
    ------
    DataStructureError
        A person in several partitions; no complete rows; partitions built different
        fixed-effect columns.
    """
    live = [r for r in parts if r["n_used"] > 0]
    n_input = sum(r["n_input"] for r in parts)
    n = sum(r["n_used"] for r in live)
    # accounting: a row counts once, under the first variable (formula order) that failed
    labels = [lab for lab, _ in parts[0]["reasons"]] if parts else []
    counts = dict.fromkeys(labels, 0)
    for r in parts:
        for lab, c in r["reasons"]:
            counts[lab] += c
    dropped = tuple((lab, c) for lab, c in counts.items() if c)
    accounting = RowAccounting(n_input=n_input, n_used=n, dropped=dropped)
    if dropped:
        detail = "; ".join(f"{c} row(s): {r}" for r, c in dropped)
        warnings.warn(
            f"dropped {n_input - n} of {n_input} rows ({detail}); the fit's `accounting` "
            "lists them. Impute or clean the data to keep them.",
            DataDropWarning,
            stacklevel=4,
        )
    if n == 0:
        raise DataStructureError(
            f"no complete rows left for {plan.parsed.formula!r}: every row has a missing "
            f"value in a model variable ({', '.join(plan.used)})."
        )
    names = live[0]["fixef_names"]
    for r in live[1:]:
        if r["fixef_names"] != names:
            raise DataStructureError(
                f"partitions built different fixed-effect columns ({list(names)} vs "
                f"{list(r['fixef_names'])}); give categorical columns known categories "
                "(ddf.categorize(columns=[...])) so every partition codes the same levels."
            )
    levels = np.concatenate([np.asarray(r["levels"], dtype=object) for r in live])
    owner = np.concatenate([np.full(len(r["levels"]), i) for i, r in enumerate(live)])
    _split_person(levels, owner, ":".join(plan.factors))

    nk = np.array([r["n_used"] for r in live], dtype=float)
    xm_k = np.stack([r["xmean"] for r in live])
    ym_k = np.array([r["ymean"] for r in live])
    xmean = nk @ xm_k / n
    ymean = float(nk @ ym_k / n)
    x_ones = np.logical_and.reduce([r["x_ones"] for r in live])
    icpt = int(np.flatnonzero(x_ones)[0]) if x_ones.any() else None
    p = xmean.size
    # global centring as Centering.params: intercept column and y only with an intercept
    ctr = xmean.copy()
    if icpt is not None:
        ctr[icpt] = 0.0
    yc = ymean if icpt is not None else 0.0
    if icpt is None:
        ctr[:] = 0.0
    XtX = np.zeros((p, p))
    Xty = np.zeros(p)
    yty = 0.0
    blocks_zz, blocks_zx, blocks_zy = [], [], []
    for r, m_k, y_k, c in zip(live, xm_k, ym_k, nk, strict=True):
        d = m_k - ctr  # the partition's rows are X - m_k; the target is X - ctr
        e = y_k - yc
        XtX += r["XtX"] + c * np.outer(d, d)
        Xty += r["Xty"] + c * d * e
        yty += r["yty"] + c * e * e
        Zt1 = r["Zt1"]
        blocks_zz.append(r["ZtZ"])
        blocks_zx.append(r["ZtX"] + Zt1[:, :, None] * d[None, None, :])
        blocks_zy.append(r["Zty"] + Zt1 * e)
    order = np.argsort(levels, kind="stable")
    ZtZ = np.concatenate(blocks_zz)[order]
    ZtX = np.concatenate(blocks_zx)[order]
    Zty = np.concatenate(blocks_zy)[order]
    if icpt is not None:
        # a column of ones stays ones; its centred sums are the counts (exact)
        XtX[icpt, :] = XtX[:, icpt] = 0.0
        XtX[icpt, icpt] = n
        Xty[icpt] = 0.0
        B = np.eye(p)
        B[icpt, :] -= ctr
        B[icpt, icpt] = 1.0
        shift = np.zeros(p)
        shift[icpt] = ymean
        cen = Centering(B, shift)
    else:
        cen = Centering(np.eye(p), np.zeros(p))
    # column SDs for the scaling check (pairwise-combined second moments)
    xss = np.diag(XtX).copy() if icpt is not None else None
    if xss is None:
        xss = np.zeros(p)
        for r, m_k, c in zip(live, xm_k, nk, strict=True):
            dd = m_k - xmean
            xss += np.diag(r["XtX"]) + c * dd * dd
    else:
        xss[icpt] = 0.0
    zm_k = np.stack([r["zmean"] for r in live])
    zmean = nk @ zm_k / n
    zss = sum(r["zss"] + c * (zm - zmean) ** 2 for r, zm, c in zip(live, zm_k, nk, strict=True))
    stats = BlockStats(
        ZtZ=ZtZ, ZtX=ZtX, Zty=Zty, XtX=XtX, Xty=Xty, yty=float(yty), n=int(n), centering=cen
    )
    return Combined(
        stats=stats,
        levels=levels[order],
        n=int(n),
        accounting=accounting,
        fixef_names=tuple(names),
        fixed_info=live[0]["fixed_info"],
        re_names=[tuple(x) for x in live[0]["re_names"]],
        re_info=live[0]["re_info"],
        xmean=xmean,
        xsd=np.sqrt(np.maximum(xss, 0.0) / n),
        icpt=icpt,
        zmean=zmean,
        zsd=np.sqrt(np.maximum(zss, 0.0) / n),
        z_ones=np.logical_and.reduce([r["z_ones"] for r in live]),
        ymin=min(r["ymin"] for r in live),
        ymax=max(r["ymax"] for r in live),
    )


# ------------------------------------------------------------- design and fitting
def _raw_gram(stats: BlockStats, xmean: np.ndarray, k: int | None) -> np.ndarray:
    """``X'X`` of the uncentred columns from the centred one (``k``: the intercept)."""
    p = stats.XtX.shape[0]
    if k is None:
        return stats.XtX
    C = np.eye(p)
    m = xmean.copy()
    m[k] = 0.0
    C[k, :] += m  # X_raw = X_c C with X_c's column k the ones column
    return C.T @ stats.XtX @ C


def _aliased(G: np.ndarray) -> list[int]:
    """Columns kept by the sequential rank test of ``_drop_aliased``, on the Gram matrix."""
    p = G.shape[0]
    d = np.sqrt(np.clip(np.diag(G), 0.0, None))
    if p == 0:
        return []
    if np.all(d > 0):
        corr = G / np.outer(d, d)
        if np.linalg.eigvalsh(corr)[0] > 1e-8:
            return list(range(p))
    keep: list[int] = []
    for k in range(p):
        if d[k] == 0:
            continue
        if keep:
            Gkk = G[np.ix_(keep, keep)]
            g = G[keep, k]
            r2 = G[k, k] - g @ np.linalg.solve(Gkk, g)
        else:
            r2 = G[k, k]
        if np.sqrt(max(r2, 0.0)) < RANK_TOL * d[k]:
            continue
        keep.append(k)
    return keep


def _select(stats: BlockStats, keep: list[int]) -> BlockStats:
    cen = stats.centering
    return dataclasses.replace(
        stats,
        ZtX=stats.ZtX[:, :, keep],
        XtX=stats.XtX[np.ix_(keep, keep)],
        Xty=stats.Xty[keep],
        centering=Centering(cen.B[np.ix_(keep, keep)], cen.shift[keep]),
    )


def _badly(mean: np.ndarray, sd: np.ndarray) -> bool:
    live = sd > 0
    return bool(
        np.any(live & (np.abs(mean) > CENTRE_RATIO * sd))
        or np.any(live & ((sd < SCALE_RANGE[0]) | (sd > SCALE_RANGE[1])))
    )


def _transform(mean: np.ndarray, sd: np.ndarray, icpt: int | None) -> np.ndarray:
    """As :func:`sleeppain.mixed._scaling._transform`, from the columns' moments."""
    k = mean.size
    T = np.eye(k)
    for j in range(k):
        if j == icpt or not sd[j] > 0 or not np.isfinite(sd[j]):
            continue
        T[j, j] = 1.0 / sd[j]
        if icpt is not None:
            T[icpt, j] = -mean[j] / sd[j]
    return T


@dataclass(frozen=True, eq=False)
class StatsDesign(Design):
    """A :class:`~sleeppain.mixed.Design` held as per-person statistics (a Dask fit).

    ``X``, ``y`` and the terms' ``Xi`` / ``codes`` have no rows (the rows stay in the
    partitions); ``stats`` has everything the deviance needs, ``n`` the number of rows
    used. :func:`~sleeppain.mixed.fit_design` hands such a design to :meth:`fit_stats`
    (so ``sp.anova`` refits work).
    """

    stats: BlockStats | None = field(default=None, repr=False)
    nobs: int = 0
    x_moments: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    x_icpt: int | None = None
    z_moments: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of observations used."""
        return self.nobs

    @property
    def p(self) -> int:
        """Number of fixed effects."""
        return len(self.fixef_names)

    def _scaling(self) -> PredictorScaling | None:
        """The in-memory path's standardisation (``_scaling.standardize``), from moments."""
        xm, xs = self.x_moments  # type: ignore[misc]
        zm, zs, zones = self.z_moments  # type: ignore[misc]
        spans, off = [], 0
        for t in self.terms:
            spans.append(slice(off, off + t.ncols))
            off += t.ncols
        if not (_badly(xm, xs) or any(_badly(zm[s], zs[s]) for s in spans)):
            return None
        A = _transform(xm, xs, self.x_icpt)
        Ts = []
        for s in spans:
            io = np.flatnonzero(zones[s])
            Ts.append(_transform(zm[s], zs[s], int(io[0]) if io.size else None))
        return PredictorScaling(design=self, fixed=A, terms=tuple(Ts))

    def _scaled_deviance(self, sc: PredictorScaling, reml: bool) -> BlockDeviance:
        s = self.stats
        assert s is not None
        T = np.zeros((s.ZtZ.shape[1],) * 2)
        off = 0
        for Ti in sc.terms:
            k = Ti.shape[0]
            T[off : off + k, off : off + k] = Ti
            off += k
        # the centred columns are only rescaled (their centring is already done)
        D = np.diag(np.diag(sc.fixed))
        st = BlockStats(
            ZtZ=np.einsum("ab,gbc,cd->gad", T.T, s.ZtZ, T, optimize=True),
            ZtX=np.einsum("ab,gbc,cd->gad", T.T, s.ZtX, D, optimize=True),
            Zty=s.Zty @ T,
            XtX=D @ s.XtX @ D,
            Xty=D @ s.Xty,
            yty=s.yty,
            n=s.n,
            centering=Centering(np.eye(D.shape[0]), np.zeros(D.shape[0])),
        )
        return BlockDeviance(st, [t.ncols for t in self.terms], reml)

    def _optimize(
        self, dev: BlockDeviance, control: LmmControl, reml: bool
    ) -> tuple[np.ndarray, Any]:
        sc = self._scaling()
        if sc is None:
            theta, record = optimize_theta(dev, control)
            return theta, check_convergence(dev, theta, record, control)
        return optimize_via_scaled(dev, self._scaled_deviance(sc, reml), sc, control)

    def fit_stats(
        self,
        *,
        reml: bool = True,
        control: LmmControl | dict[str, Any] | None = None,
        stacklevel: int = 2,
        residual: Any = None,
    ) -> DaskLmmResult:
        """Stages 4-7 (deviance, optimise, check, result) on the statistics.

        Raises
        ------
        SpecificationError
            A residual structure was requested (not available on Dask).
        """
        if residual is not None:
            raise SpecificationError(
                "correlation=, time= and weights= are not available for a Dask fit; fit "
                "the model in memory (pass a pandas DataFrame)."
            )
        control = LmmControl.coerce(control)
        with single_threaded_blas():
            dev = BlockDeviance(self.stats, [t.ncols for t in self.terms], reml)  # type: ignore[arg-type]
            x, record = self._optimize(dev, control, reml)
            sol = dev.solve(x)
        n, p = self.n, self.p
        sigma = float(np.sqrt(sol.r2 / (n - p if reml else n)))
        singular = is_singular(x, dev.lower, control.boundary_tol)
        formula = self.parsed.formula
        if record.warnings:
            warnings.warn(
                f"{'; '.join(record.warnings)}. Fit of {formula!r}; see fit.convergence. "
                "Try rescaling predictors or simplifying the random effects.",
                ConvergenceWarning,
                stacklevel=stacklevel + 1,
            )
        if singular:
            warnings.warn(
                f"boundary (singular) fit of {formula!r}: theta = "
                f"{np.round(x, 5).tolist()} has a diagonal element < {control.boundary_tol:g} "
                "(a variance at zero or a correlation at +/-1, lme4's isSingular). Consider "
                "removing the random-effect term with zero variance.",
                BoundaryFitWarning,
                stacklevel=stacklevel + 1,
            )
        return DaskLmmResult(
            formula=formula,
            reml=bool(reml),
            beta=sol.beta,
            fixef_names=tuple(self.fixef_names),
            _theta=x,
            sigma=sigma,
            objective=float(sol.deviance),
            loglik=-0.5 * float(sol.deviance),
            convergence=record,
            accounting=self.accounting,
            is_singular=singular,
            design=self,
            solution=sol,
            evaluator=dev,
        )


@dataclass(frozen=True, eq=False)
class DaskLmmResult(LmmResult):
    """An :class:`~sleeppain.mixed.LmmResult` fitted from a Dask DataFrame.

    Everything is available except what needs the rows themselves: ``fitted()``,
    ``residuals()`` and ``predict()`` without ``newdata`` raise; predict per partition
    instead, ``ddf.map_partitions(fit.predict)``.
    """

    @cached_property
    def _fitted(self) -> np.ndarray:
        raise SpecificationError(
            "fitted values and residuals of a Dask fit are not kept (the rows stay in the "
            "partitions); compute them where the data live, e.g. "
            "ddf.map_partitions(fit.predict) for predictions with the random effects."
        )

    def residuals(self, scaled: bool = False) -> pd.Series:
        """Not kept for a Dask fit (raises), except inside :meth:`summary` (NaN quantiles)."""
        if self._shared.get("without_rows"):
            return pd.Series(np.full(5, np.nan), name="residual")
        self._fitted  # noqa: B018  (raises the explanation)
        raise AssertionError  # pragma: no cover

    def _summary_parts(self) -> dict[str, Any]:
        """lme4's summary parts; the scaled-residual quantiles are NA (rows not kept)."""
        self._shared["without_rows"] = True
        try:
            parts = super()._summary_parts()
        finally:
            self._shared.pop("without_rows", None)
        parts["resid"] = (["Min", "1Q", "Median", "3Q", "Max"], ["NA"] * 5)
        return parts

    def predict(
        self, newdata: pd.DataFrame | None = None, include_random: bool = True
    ) -> pd.Series:
        """Predictions for ``newdata`` (a pandas frame, e.g. one partition); see LmmResult."""
        if newdata is None:
            self._fitted  # noqa: B018  (raises the explanation)
        return super().predict(newdata, include_random=include_random)


def _design(plan: Plan, comb: Combined, stacklevel: int) -> StatsDesign:
    parsed = plan.parsed
    n = comb.n
    if comb.ymax == comb.ymin:
        raise DataStructureError(
            f"the response {parsed.response!r} is constant ({plain(comb.ymin)}) in the {n} rows "
            "used; a mixed model needs variation in the outcome."
        )
    stats = comb.stats
    names = comb.fixef_names
    icpt = comb.icpt
    keep = _aliased(_raw_gram(stats, comb.xmean, icpt))
    dropped: tuple[str, ...] = ()
    xmean, xsd = comb.xmean, comb.xsd
    if len(keep) < len(names):
        dropped = tuple(nm for j, nm in enumerate(names) if j not in keep)
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{'s' if len(dropped) > 1 else ''} / coefficient"
            f"{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)} (aliased with earlier "
            "columns; remove or recode them to silence this).",
            SleepPainWarning,
            stacklevel=stacklevel + 1,
        )
        stats = _select(stats, keep)
        names = tuple(names[j] for j in keep)
        xmean, xsd = xmean[keep], xsd[keep]
        icpt = keep.index(icpt) if icpt in keep else None
    G = len(comb.levels)
    p = len(names)
    terms = []
    for spec, nm, inf in zip(parsed.re_terms, comb.re_names, comb.re_info, strict=True):
        terms.append(
            ReTerm(
                spec=spec,
                names=nm,
                Xi=np.zeros((0, len(nm))),
                codes=np.zeros(0, dtype=np.intp),
                levels=comb.levels,
                info=inf,
            )
        )
    for t in terms:
        if G < 2:
            raise DataStructureError(
                f"grouping factor {t.group!r} of term {t.label} has {G} level in the {n} rows "
                "used; grouping factors must have > 1 sampled level (lme4 check.nlev.gtr.1). "
                "Drop the term or use more groups."
            )
        if G >= n:
            raise DataStructureError(
                f"grouping factor {t.group!r} of term {t.label} has {G} levels for {n} "
                "observations; the number of levels of each grouping factor must be < number "
                "of observations (lme4 check.nobs.vs.nlev). Each group needs repeated "
                "observations."
            )
        if n <= G * t.ncols:
            raise DataStructureError(
                f"number of observations (={n}) <= number of random effects "
                f"(={G * t.ncols}) for term {t.label}; the random-effects parameters and the "
                "residual variance are probably unidentifiable (lme4 check.nobs.vs.nRE). "
                "Simplify the term, e.g. drop a random slope."
            )
    return StatsDesign(
        parsed=parsed,
        y=np.zeros(0),
        X=np.zeros((0, p)),
        fixef_names=names,
        dropped_fixef=dropped,
        terms=tuple(terms),
        rows=np.zeros(0, dtype=np.intp),
        index=pd.RangeIndex(0),
        accounting=comb.accounting,
        fixed_info=comb.fixed_info,
        stats=stats,
        nobs=n,
        x_moments=(xmean, xsd),
        x_icpt=icpt,
        z_moments=(comb.zmean, comb.zsd, comb.z_ones),
    )


def collect(ddf: Any, plan: Plan, func: Any = partition_stats, *args: Any) -> list[Any]:
    """Run ``func(partition, plan, *args)`` on every partition with the active scheduler."""
    import dask

    cols = list(dict.fromkeys([*plan.used]))
    try:  # read only the model's columns (parquet column pruning)
        parts = ddf[cols].to_delayed()
    except ValueError:  # dask 2026.8 cannot project through ddf.categorize(); read all
        parts = ddf.to_delayed()
    tasks = [dask.delayed(func)(part, plan, *args) for part in parts]
    return list(dask.compute(*tasks))


def lmm_dask(
    formula: str,
    ddf: Any,
    *,
    reml: bool = True,
    control: LmmControl | dict[str, Any] | None = None,
    correlation: str | None = None,
    time: str | None = None,
    weights: Any = None,
    stacklevel: int = 2,
) -> DaskLmmResult:
    """``sp.lmm(formula, ddf)`` for a Dask DataFrame with one grouping factor.

    One pass over the partitions (with whatever scheduler is active: synchronous,
    threads, processes or a ``distributed.Client``) computes each person's statistics; the
    rest runs on the driver on arrays of size persons x (random effects)^2.

    Raises
    ------
    SpecificationError
        Crossed or nested random effects; a residual structure.
    DataStructureError
        A person's rows in more than one partition; text columns or categoricals without
        known categories in the fixed or random part; the checks of ``build_design``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> dd = __import__("pytest").importorskip("dask.dataframe")
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(40), 10)
    >>> df = pd.DataFrame({"id": g, "x": rng.normal(size=400)})
    >>> df["y"] = 1 - 0.5 * df.x + rng.normal(size=40)[g] + rng.normal(size=400)
    >>> ddf = dd.from_pandas(df, npartitions=4, sort=False)
    >>> fit = lmm_dask("y ~ x + (1 | id)", ddf)
    >>> round(float(fit.fixef["x"]), 1)
    -0.5
    """
    if correlation is not None or time is not None or weights is not None:
        raise SpecificationError(
            "correlation=, time= and weights= are not available for a Dask DataFrame "
            "(the residual structure needs each person's rows in time order on one "
            "machine); fit the model in memory (pass a pandas DataFrame)."
        )
    index = getattr(ddf.index, "name", None)
    if isinstance(index, str) and index not in ddf.columns and index in formula:
        ddf = ddf.reset_index()  # e.g. after ddf.set_index("id"): the person is the index
    plan = make_plan(formula, [str(c) for c in ddf.columns])
    check_dtypes(ddf, plan)
    parts = collect(ddf, plan)
    comb = combine(parts, plan)
    design = _design(plan, comb, stacklevel + 1)
    return design.fit_stats(reml=reml, control=control, stacklevel=stacklevel + 1)
