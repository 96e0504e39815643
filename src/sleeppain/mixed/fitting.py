"""The verbs: :func:`lmm` (fit), :func:`anova` (likelihood-ratio tests), :func:`make_deviance`.

``lmm`` runs the stages in order, as lme4's ``lFormula -> mkLmerDevfun -> optimizeLmer ->
checkConv -> mkMerMod``: :func:`parse_formula` -> :func:`build_design` ->
:func:`deviance_from_design` -> :func:`optimize_theta` -> :func:`check_convergence` ->
:class:`LmmResult`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain._distributed import is_dask_frame
from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataDropWarning,
    DataStructureError,
    SpecificationError,
)
from sleeppain.mixed._blas import single_threaded_blas
from sleeppain.mixed._format import plain
from sleeppain.mixed._scaling import optimize_checked
from sleeppain.mixed.design import Design, RowAccounting, build_design
from sleeppain.mixed.deviance import deviance_from_design
from sleeppain.mixed.formula import dotted_columns
from sleeppain.mixed.optimize import LmmControl, is_singular
from sleeppain.mixed.residual import (
    PHI_BOUNDARY_TOL,
    CorrelatedDeviance,
    ResidualData,
    ResidualFit,
    ResidualSpec,
    _sorted_by,
    check_residual_columns,
    residual_spec,
    residual_stats,
)
from sleeppain.mixed.result import LmmResult

if TYPE_CHECKING:
    from sleeppain.panel import PanelResult

__all__ = ["anova", "fit_design", "lmm", "make_deviance"]


def make_deviance(
    formula: str, data: pd.DataFrame, *, reml: bool = True, method: str = "auto"
) -> Callable[[np.ndarray], float]:
    """The profiled deviance of a model as a function of theta (lme4's ``devfun``).

    Parameters
    ----------
    formula : str
        lme4-style formula.
    data : DataFrame
    reml : bool
        REML criterion (default) or -2 log-likelihood.
    method : {"auto", "block", "general"}
        Evaluator (see :func:`deviance_from_design`).

    Returns
    -------
    callable
        ``theta -> float`` with theta in lme4's order (``getME(fit, "theta")``); equals
        lme4 1.1-31's ``devfun(theta)`` to rtol 1e-8 (tests/mixed/test_lme4_reference.py).
        The callable also has ``value_and_grad``, ``solve`` and ``lower``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1., 3, 2, 5, 4, 7, 6, 9], "g": list("aabbccdd")})
    >>> f = make_deviance("y ~ 1 + (1 | g)", df, reml=False)
    >>> bool(abs(f(np.array([1.0])) - f(np.array([-1.0]))) < 1e-9)
    True
    """
    design = build_design(formula, data, stacklevel=2)
    return deviance_from_design(design, reml=reml, method=method)


def fit_design(
    design: Design,
    *,
    reml: bool = True,
    control: LmmControl | dict[str, Any] | None = None,
    stacklevel: int = 2,
    residual: ResidualData | None = None,
) -> LmmResult:
    """Fit a built design (stages 3-7); :func:`lmm` is this after :func:`build_design`.

    ``residual`` (from :func:`residual_data`) adds a residual correlation and/or varIdent
    weights: the statistics stage is then :func:`~sleeppain.mixed.residual.residual_stats`
    and the evaluator :class:`~sleeppain.mixed.residual.CorrelatedDeviance`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(12), 8)
    >>> df = pd.DataFrame({"x": rng.normal(size=96), "g": g})
    >>> df["y"] = df.x + rng.normal(size=12)[g] + rng.normal(size=96)
    >>> from sleeppain.mixed import build_design
    >>> fit = fit_design(build_design("y ~ x + (1 | g)", df), reml=False)
    >>> fit.reml, fit.nobs
    (False, 96)
    """
    fit_stats = getattr(design, "fit_stats", None)
    if fit_stats is not None:  # a design held as per-person statistics (a Dask fit)
        return fit_stats(reml=reml, control=control, stacklevel=stacklevel + 1, residual=residual)
    control = LmmControl.coerce(control)
    with single_threaded_blas():
        if residual is None:
            dev = deviance_from_design(design, reml=reml, method=control.method)
        else:
            if control.method not in ("auto", "block"):
                raise SpecificationError(
                    f"control method={control.method!r} is not available with a residual "
                    "structure (correlation= or weights=); it always uses the block "
                    "evaluator of one grouping factor. Use method='auto'."
                )
            dev = correlated_deviance(design, residual, reml=reml)
        # badly centred/scaled predictors are optimised on a standardised design (_scaling)
        x, record = optimize_checked(design, dev, control, reml=reml, scalable=residual is None)
        sol = dev.solve(x)
    n, p = design.n, design.p
    sigma = float(np.sqrt(sol.r2 / (n - p if reml else n)))
    ntheta = getattr(dev, "ntheta_re", x.size)
    theta = x[:ntheta]
    singular = is_singular(theta, dev.lower[:ntheta], control.boundary_tol)
    resid_fit = None
    if residual is not None:
        phi, delta = dev.resid_params(x)
        resid_fit = ResidualFit(
            spec=residual.spec,
            phi=phi,
            delta=delta,
            strata=dev.stats.strata.copy(),
            x=x.copy(),
            data=residual,
        )
        if phi is not None:
            lo = -1.0 if residual.spec.correlation == "ar1" else 0.0
            if min(phi - lo, 1.0 - phi) < PHI_BOUNDARY_TOL:
                warnings.warn(
                    f"the residual correlation of {design.parsed.formula!r} is at the "
                    f"boundary of its range: phi = {phi:.6g} (range ({lo:g}, 1) for "
                    f"{residual.spec.correlation!r}). The correlation structure may be "
                    "unidentifiable or unneeded (compare with sp.anova against the model "
                    "without it), or the time unit may be too coarse or too fine.",
                    BoundaryFitWarning,
                    stacklevel=stacklevel + 1,
                )
    if record.warnings:
        warnings.warn(
            f"{'; '.join(record.warnings)}. Fit of {design.parsed.formula!r}; see "
            "fit.convergence. Try rescaling predictors or simplifying the random effects.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    if singular:
        warnings.warn(
            f"boundary (singular) fit of {design.parsed.formula!r}: theta = "
            f"{np.round(theta, 5).tolist()} has a diagonal element < {control.boundary_tol:g} "
            "(a variance at zero or a correlation at +/-1, lme4's isSingular). Consider "
            "removing the random-effect term with zero variance.",
            BoundaryFitWarning,
            stacklevel=stacklevel + 1,
        )
    return LmmResult(
        formula=design.parsed.formula,
        reml=bool(reml),
        beta=sol.beta,
        fixef_names=tuple(design.fixef_names),
        _theta=theta,
        sigma=sigma,
        objective=float(sol.deviance),
        loglik=-0.5 * float(sol.deviance),
        convergence=record,
        accounting=design.accounting,
        is_singular=singular,
        design=design,
        solution=sol,
        evaluator=dev,
        residual=resid_fit,
    )


def correlated_deviance(design: Design, residual: ResidualData, *, reml: bool) -> Any:
    """Stages 3-4 with a residual structure: cell statistics, then the evaluator.

    Raises
    ------
    SpecificationError
        The random effects have more than one grouping factor (crossed or nested).
    """
    if not design.single_factor:
        factors = sorted({t.group for t in design.terms})
        raise SpecificationError(
            f"correlation= and weights= need a single grouping factor (the person), but "
            f"{design.parsed.formula!r} has {len(factors)}: {', '.join(factors)}. Supported: "
            "one or several terms of the same factor, e.g. (1 + x | id) or "
            "(1 | id) + (0 + x | id); drop the other grouping factors."
        )
    first = design.terms[0]
    Zc = first.Xi if len(design.terms) == 1 else np.column_stack([t.Xi for t in design.terms])
    st = residual_stats(
        Zc,
        first.codes,
        first.nlevels,
        design.X,
        design.y,
        correlation=residual.spec.correlation,
        time=residual.time,
        strata=residual.strata,
        strata_labels=residual.strata_labels,
    )
    return CorrelatedDeviance(st, [t.ncols for t in design.terms], reml)


def residual_data(spec: ResidualSpec, design: Design, data: pd.DataFrame) -> ResidualData:
    """Time and strata of the design's rows, checked (part of stage 2 with a structure).

    Raises
    ------
    DataStructureError
        A non-numeric time, a non-integer time with ``correlation="ar1"``, a duplicated
        time within a person.
    """
    time = strata = labels = None
    if spec.correlation is not None and spec.time is not None:
        col = data[spec.time].iloc[design.rows]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_localize(None)  # local wall-clock time: whole days stay whole
            vals = (col - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            time = vals.to_numpy(dtype=float)
        elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            time = col.to_numpy(dtype=float)
        else:
            raise DataStructureError(
                f"time={spec.time!r} must be numeric (or dates), but its dtype is "
                f"{col.dtype}; convert it, e.g. pd.to_numeric or pd.to_datetime."
            )
        if spec.correlation == "ar1" and not np.all(time == np.round(time)):
            bad = time[time != np.round(time)][0]
            raise DataStructureError(
                f"correlation='ar1' needs integer times (nlme's corAR1), but {spec.time!r} "
                f"has non-integer values such as {plain(bad)}. Use correlation='car1' for "
                "continuous times."
            )
        codes = design.terms[0].codes
        if _sorted_by(codes, time):
            ts, cs = time, codes
        else:
            order = np.lexsort((time, codes))
            ts, cs = time[order], codes[order]
        dup = (cs[1:] == cs[:-1]) & (ts[1:] == ts[:-1])
        if dup.any():
            i = int(np.argmax(dup)) + 1
            level = design.terms[0].levels[cs[i]]
            raise DataStructureError(
                f"{int(dup.sum())} duplicated {spec.time!r} value(s) within a person, e.g. "
                f"{design.terms[0].group}={plain(level)} at {spec.time}={plain(ts[i])}; a residual "
                "correlation needs one observation per time. Aggregate the reports of a day "
                "(or use a finer time) or drop the duplicates."
            )
    if spec.weights is not None:
        # nlme's reference stratum: the first in the data sorted by group (stable)
        col = data[spec.weights.column].iloc[design.rows].to_numpy()
        by_group = np.argsort(design.terms[0].codes, kind="stable")
        _, first = np.unique(pd.factorize(col)[0][by_group], return_index=True)
        ordered = col[by_group][np.sort(first)]
        labels = np.asarray(ordered, dtype=object)
        strata = pd.Index(ordered).get_indexer(col).astype(np.intp)
    return ResidualData(spec=spec, time=time, strata=strata, strata_labels=labels)


def _drop_residual_missing(
    spec: ResidualSpec, data: pd.DataFrame, stacklevel: int
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, int]]]:
    """Rows with a missing time or stratum are dropped (and counted) before the design."""
    ok = np.ones(len(data), dtype=bool)
    reasons: list[tuple[str, int]] = []
    for name in spec.columns:
        good = data[name].notna().to_numpy()
        newly = int((ok & ~good).sum())
        if newly:
            reasons.append((f"missing {name!r}", newly))
            ok &= good
    if not reasons:
        return data, np.arange(len(data)), reasons
    keep = np.flatnonzero(ok)
    detail = "; ".join(f"{c} row(s): {r}" for r, c in reasons)
    warnings.warn(
        f"dropped {len(data) - keep.size} of {len(data)} rows before building the model "
        f"({detail}); the fit's `accounting` lists them.",
        DataDropWarning,
        stacklevel=stacklevel + 1,
    )
    return data.iloc[keep], keep, reasons


def _design_with_structure(
    formula: str, data: pd.DataFrame, spec: ResidualSpec, stacklevel: int
) -> tuple[Design, ResidualData]:
    check_residual_columns(spec, data)
    sub, keep, reasons = _drop_residual_missing(spec, data, stacklevel + 1)
    safe, frame, renamed = dotted_columns(formula, sub)  # Q('pain score'), Informed.liking
    design = renamed.restore_design(build_design(safe, frame, stacklevel=stacklevel + 1), formula)
    if reasons:
        acc = design.accounting
        design = dataclasses.replace(
            design,
            rows=keep[design.rows],
            accounting=RowAccounting(
                n_input=len(data),
                n_used=acc.n_used,
                dropped=tuple(reasons) + acc.dropped,
            ),
            _cache={},
        )
    return design, residual_data(spec, design, data)


def lmm(
    formula: str,
    data: pd.DataFrame,
    *,
    reml: bool = True,
    control: LmmControl | dict[str, Any] | None = None,
    correlation: str | None = None,
    time: str | None = None,
    weights: Any = None,
) -> LmmResult:
    """Fit a linear mixed model (lme4 syntax), by REML or maximum likelihood.

    Parameters
    ----------
    formula : str
        ``"y ~ fixed + (expr | group) + ..."``: patsy syntax for the fixed part (``C(x)``,
        ``a:b``, ``a*b``, ``I(x**2)``, ``np.log(x)``); lme4 syntax for random effects:
        ``(1 | g)``, ``(1 + x | g)``, ``(x | g)``, ``(0 + x | g)``, ``(1 + x || g)``
        (uncorrelated), ``(1 | person/day)`` (nested), ``(1 | a) + (1 | b)`` (crossed).
    data : DataFrame
        One row per observation. Rows with a missing or non-finite value in a model
        variable are dropped, counted in ``fit.accounting`` and reported with a
        DataDropWarning.
    reml : bool
        Optimise the REML criterion (default, as ``lmer``) or the log-likelihood.
    control : LmmControl or dict, optional
        Optimiser and check settings (see :class:`LmmControl`).
    correlation : {None, "ar1", "car1"}
        Residual correlation within the (single) grouping factor, as nlme's
        ``corAR1(form = ~ time | group)`` (integer times; observations k units apart
        correlate phi^k, so a missing day is a gap, never a neighbour) or ``corCAR1``
        (continuous times, phi^|t - s|). Needs ``time=``.
    time : str, optional
        Column of the observation times (numbers or dates, in days), distinct within a
        person.
    weights : "group:COLUMN" or VarIdent, optional
        A residual SD per level of COLUMN, as nlme's ``varIdent(form = ~ 1 | COLUMN)``
        (the reference, SD ratio 1, is the first level in the data sorted by the grouping
        factor, as nlme).

    Returns
    -------
    LmmResult
        With a residual structure, ``fit.correlation`` / ``fit.phi`` / ``fit.varident``
        hold its parameters, logLik / AIC / BIC follow nlme 3.1 (REML BIC with
        ``log(n - p)``), and Satterthwaite df include phi and the variance ratios.

    Raises
    ------
    SpecificationError
        Unknown column (with close matches), malformed random-effect term.
    DataStructureError
        Constant response, a grouping factor with one level or as many levels as
        observations, no more observations than random effects of a term.

    Warns
    -----
    BoundaryFitWarning
        Singular fit (lme4's ``isSingular``, tol 1e-4).
    ConvergenceWarning
        The optimiser failed or the scaled gradient exceeds 2e-3 (lme4's check).
    DataDropWarning
        Rows were dropped.
    SleepPainWarning
        Aliased fixed-effect columns were dropped.

    Notes
    -----
    Reference: lme4 1.1-31 ``lmer`` (Bates, Maechler, Bolker & Walker 2015, J Stat Softw
    67(1)); Satterthwaite df as lmerTest 3.1-3. Tested: sleepstudy reproduces Bates et al.
    (2015) to the published rounding; lme4's deviance at fixed theta to rtol 1e-8, the
    optimum to 1e-3 in the objective, SEs and df to rtol 1e-3.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sleeppain as sp
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(20), 10)
    >>> df = pd.DataFrame({"id": g, "sleep": rng.normal(size=200)})
    >>> df["pain"] = 3 - 0.4 * df.sleep + rng.normal(size=20)[g] + rng.normal(size=200)
    >>> fit = sp.lmm("pain ~ sleep + (1 | id)", df)
    >>> round(float(fit.fixef["sleep"]), 1)
    -0.4
    """
    if is_dask_frame(data):  # a second source of the same per-person statistics
        from sleeppain.mixed._dask import lmm_dask

        kw = {"correlation": correlation, "time": time, "weights": weights}
        return lmm_dask(formula, data, reml=reml, control=control, **kw)
    spec = residual_spec(correlation, time, weights)
    if spec.is_iid:
        safe, frame, dotted = dotted_columns(formula, data)  # R-style names: Informed.liking
        design = dotted.restore_design(build_design(safe, frame, stacklevel=2), formula)
        return fit_design(design, reml=reml, control=control, stacklevel=2)
    if not isinstance(data, pd.DataFrame):
        raise DataStructureError(
            f"data must be a pandas DataFrame, got {type(data).__name__}; wrap arrays with "
            "pd.DataFrame({...})."
        )
    design, resid = _design_with_structure(formula, data, spec, stacklevel=2)
    return fit_design(design, reml=reml, control=control, stacklevel=2, residual=resid)


def anova(
    *fits: LmmResult | PanelResult, names: list[str] | None = None, refit: bool = True
) -> pd.DataFrame:
    """Likelihood-ratio comparison of nested fits (lme4's ``anova(fit0, fit1)``).

    REML fits are refitted by maximum likelihood first (lme4's default ``refit = TRUE``).
    With ``refit=False`` REML fits with the same fixed effects are compared on their REML
    log-likelihoods, as nlme's ``anova(lme0, lme1)`` does, e.g. a model with and without
    a residual correlation (``correlation="ar1"``). Models are ordered by number of
    parameters, and each is tested against the previous.

    Parameters
    ----------
    *fits : LmmResult or PanelResult
        Two or more fits to the same rows (all ``sp.lmm`` fits, or all panel fits).
    names : list of str, optional
        Row labels (default ``"model1"``, ``"model2"``...).
    refit : bool
        Refit REML fits by maximum likelihood (default, lme4) or compare the REML fits as
        they are (nlme; they must all be REML fits with the same fixed effects).

    Returns
    -------
    DataFrame
        ``npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq)`` (as lme4 prints; the
        first row has NaN test columns).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sleeppain as sp
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(20), 10)
    >>> df = pd.DataFrame({"id": g, "x": rng.normal(size=200)})
    >>> df["y"] = 1 + 0.5 * df.x + rng.normal(size=20)[g] + rng.normal(size=200)
    >>> tab = sp.anova(sp.lmm("y ~ 1 + (1 | id)", df), sp.lmm("y ~ x + (1 | id)", df))
    >>> bool(tab["Pr(>Chisq)"].iloc[1] < 0.001)
    True

    Cohort-panel fits (``sp.clpm``, ``sp.riclpm``) are handed to
    :func:`sleeppain.panel.anova_panel` (lavaan's chi-square difference test).
    """
    from sleeppain.panel import PanelResult, anova_panel

    if any(isinstance(f, PanelResult) for f in fits):
        if not all(isinstance(f, PanelResult) for f in fits):
            raise SpecificationError(
                "anova: a cohort-panel fit (sp.clpm / sp.riclpm) can only be compared with "
                "other panel fits, not with sp.lmm fits; pass panel fits only."
            )
        if not refit:
            raise SpecificationError(
                "anova: refit= is an option of sp.lmm fits; drop it for panel fits."
            )
        return anova_panel(*fits, names=names)
    if len(fits) < 2:
        raise SpecificationError("anova needs at least two fits, e.g. anova(fit0, fit1).")
    for f in fits:
        if not isinstance(f, LmmResult):
            raise SpecificationError(f"anova compares LmmResult objects, got {type(f).__name__}.")
    labels = list(names) if names is not None else [f"model{i + 1}" for i in range(len(fits))]
    if len(labels) != len(fits):
        raise SpecificationError(f"names has {len(labels)} labels for {len(fits)} fits.")
    nobs = {f.nobs for f in fits}
    if len(nobs) > 1:
        raise SpecificationError(
            f"models were not all fitted to the same size of dataset (nobs: {sorted(nobs)}); "
            "fit them to the same rows (drop missing values first)."
        )
    if not refit:
        kinds = {f.reml for f in fits}
        fixed = {tuple(f.fixef_names) for f in fits}
        if kinds == {True} and len(fixed) > 1:
            raise SpecificationError(
                "REML fits with different fixed effects cannot be compared on their REML "
                "likelihoods (nlme says the same); use refit=True (ML refits) instead."
            )
        if len(kinds) > 1:
            raise SpecificationError(
                "with refit=False all fits must be REML fits or all ML fits; fit them alike."
            )
    ml = []
    for f in fits:
        if f.reml and refit:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BoundaryFitWarning)
                f = fit_design(f.design, reml=False, stacklevel=3, residual=f.residual_data)
        ml.append(f)
    order = sorted(range(len(ml)), key=lambda i: ml[i].npar)
    rows = []
    prev = None
    for i in order:
        f = ml[i]
        row = {
            "model": labels[i],
            "npar": f.npar,
            "AIC": f.aic,
            "BIC": f.bic,
            "logLik": f.loglik,
            "deviance": f.objective,
            "Chisq": np.nan,
            "Df": np.nan,
            "Pr(>Chisq)": np.nan,
        }
        if prev is not None:
            chisq = max(prev.objective - f.objective, 0.0)
            ddf = f.npar - prev.npar
            row["Chisq"] = chisq
            row["Df"] = ddf
            row["Pr(>Chisq)"] = float(stats.chi2.sf(chisq, ddf)) if ddf > 0 else np.nan
        rows.append(row)
        prev = f
    return pd.DataFrame(rows).set_index("model")
