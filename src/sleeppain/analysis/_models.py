"""Fitting one model frame: a linear mixed model (``sp.lmm``), a logistic mixed model
(``sp.glmm``, for a 0/1 outcome) or a GEE (statsmodels).

Warnings raised while fitting (singular fits, convergence) are recorded and re-issued
with the direction in the message, pointing at the user's call.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.analysis._frames import ModelFrame
from sleeppain.errors import ConvergenceWarning, EstimationError
from sleeppain.results import Display, DisplayTable, ResultMixin, check_conf_level, tidy_frame

__all__ = ["GeeFit", "fit_frame", "holm"]

_TIDY_COLUMNS = [
    "term",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "conf_low",
    "conf_high",
]


def holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (NaN entries are left out and kept NaN).

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.nonzero(~np.isnan(p))[0]
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out


@dataclass(frozen=True, eq=False)
class GeeFit(ResultMixin):
    """A GEE fit with an exchangeable working correlation (statsmodels), frozen.

    The design of Alsaadi et al. (2014, Clin J Pain 30:755): population-averaged
    coefficients with robust (sandwich) standard errors, clusters = persons.

    Attributes
    ----------
    formula : str
        The mean model.
    fixef : Series
        Coefficients (``Intercept`` first); a copy.
    vcov : DataFrame
        Robust covariance of the coefficients; a copy.
    nobs, ngroups : int
    working_correlation : float
        The estimated exchangeable correlation.
    converged : bool
    result : statsmodels GEEResults
        The raw statsmodels result.
    """

    formula: str
    _fixef: pd.Series = field(repr=False)
    _vcov: pd.DataFrame = field(repr=False)
    nobs: int
    ngroups: int
    working_correlation: float
    converged: bool
    result: Any = field(repr=False)

    @property
    def fixef(self) -> pd.Series:
        """Coefficients (a copy)."""
        return self._fixef.copy()

    @property
    def vcov(self) -> pd.DataFrame:
        """Robust covariance of the coefficients (a copy)."""
        return self._vcov.copy()

    @property
    def std_errors(self) -> pd.Series:
        """Robust standard errors."""
        return pd.Series(np.sqrt(np.diag(self._vcov.to_numpy())), index=self._fixef.index)

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Coefficient table (house schema; z statistics, ``df`` = inf)."""
        conf_level = check_conf_level(conf_level)
        est = self._fixef.to_numpy()
        se = self.std_errors.to_numpy()
        z = est / se
        crit = stats.norm.ppf(1 - (1 - conf_level) / 2)
        out = pd.DataFrame(
            {
                "term": list(self._fixef.index),
                "estimate": est,
                "std_error": se,
                "statistic": z,
                "df": np.inf,
                "p_value": 2 * stats.norm.sf(np.abs(z)),
                "conf_low": est - crit * se,
                "conf_high": est + crit * se,
                "effect": "fixed",
                "group": None,
            }
        )
        return tidy_frame(out, context=["effect", "group"])

    def glance(self) -> pd.DataFrame:
        """One row: observations, clusters, working correlation, convergence."""
        return pd.DataFrame(
            [
                {
                    "formula": self.formula,
                    "nobs": self.nobs,
                    "ngroups": self.ngroups,
                    "working_correlation": self.working_correlation,
                    "converged": self.converged,
                }
            ]
        )

    def _display(self) -> Display:
        tab = self.tidy().set_index("term")[list(_TIDY_COLUMNS[1:])]
        return Display(
            title="GEE, exchangeable working correlation, robust (sandwich) SEs",
            header=(
                ("Mean model", self.formula),
                ("Observations", f"{self.nobs:,}"),
                ("Clusters (persons)", f"{self.ngroups:,}"),
                ("Working correlation", f"{self.working_correlation:.3f}"),
                ("Converged", "yes" if self.converged else "no"),
            ),
            tables=(DisplayTable(tab),),
        )

    def __repr__(self) -> str:
        return (
            f"<GeeFit {self.formula!r}: nobs={self.nobs}, groups={self.ngroups}, "
            f"exchangeable rho={self.working_correlation:.3f}>"
        )


def _fit_gee(mf: ModelFrame, family: str = "gaussian") -> GeeFit:
    import statsmodels.api as sm

    frame = mf.frame
    y = frame[mf.outcome].to_numpy(dtype=float)
    names = ["Intercept", *mf.fixed]
    X = np.column_stack([np.ones(len(frame)), *(frame[c].to_numpy(float) for c in mf.fixed)])
    groups = pd.factorize(frame["id"])[0]
    order = np.lexsort((frame["day"].to_numpy(), groups))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = sm.GEE(
            y[order],
            X[order],
            groups=groups[order],
            cov_struct=sm.cov_struct.Exchangeable(),
            family=sm.families.Binomial() if family == "binomial" else sm.families.Gaussian(),
        )
        res = model.fit()
    converged = bool(getattr(res, "converged", True))
    msgs = [str(w.message) for w in caught]
    for m in msgs:
        warnings.warn(
            f"GEE fit of {mf.fixed_formula()!r}: {m}; the estimates may be unreliable "
            "(try fewer terms or estimator='lmm').",
            ConvergenceWarning,
            stacklevel=2,
        )
    if not np.all(np.isfinite(res.params)):
        raise EstimationError(
            f"GEE fit of {mf.fixed_formula()!r} ({mf.direction}) gave non-finite "
            "coefficients; check for constant or collinear terms."
        )
    vc = pd.DataFrame(np.asarray(res.cov_params()), index=names, columns=names)
    fit = GeeFit(
        formula=mf.fixed_formula(),
        _fixef=pd.Series(np.asarray(res.params), index=names, name="estimate"),
        _vcov=vc,
        nobs=len(y),
        ngroups=int(groups.max()) + 1 if len(groups) else 0,
        working_correlation=float(np.asarray(res.cov_struct.dep_params).ravel()[0]),
        converged=converged and not msgs,
        result=res,
    )
    return fit


@dataclass(frozen=True)
class FitOutcome:
    """A fit, the warnings its estimation raised (category, message), and notes.

    ``notes`` says when a random slope whose SD was estimated at 0 was dropped, and which
    models have a binary outcome (log-odds estimates).
    """

    fit: Any
    warnings: tuple[tuple[type[Warning], str], ...]
    notes: tuple[str, ...] = ()


#: a slope SD below this multiple of sigma counts as estimated at 0 (lme4's isSingular
#: tolerance on theta, which is the SD relative to sigma)
ZERO_SD_TOL = 1e-4


def _zero_slopes(fit: Any) -> list[str]:
    """Random-slope terms of ``id`` whose SD was estimated at 0 (relative to sigma).

    A logistic GLMM has no residual scale (lme4's ``sigma()`` is 1): its theta is the SD
    itself, so the same tolerance applies to the SD directly.
    """
    if not getattr(fit, "is_singular", False):
        return []
    vc = fit.varcorr()
    rows = vc[(vc["group"] == "id") & vc["term2"].isna() & (vc["term1"] != "Intercept")]
    sigma = float(fit.sigma) if hasattr(fit, "sigma") else 1.0
    return [
        str(t) for t, sd in zip(rows["term1"], rows["sd"], strict=True) if sd < ZERO_SD_TOL * sigma
    ]


#: outcome families of sp.crosslag: a linear model, or a logistic model of a 0/1 outcome
FAMILIES = ("gaussian", "binomial")

#: how each kind of model note begins (the report picks its explanation by these)
BINARY_NOTE_PREFIX = "binary outcome:"
RESIDUAL_NOTE_PREFIX = "residual "

#: the model note of a direction with a binary outcome (the report explains it)
BINARY_NOTE = (
    f"{BINARY_NOTE_PREFIX} logistic mixed model (sp.glmm, Laplace, maximum likelihood); the "
    "estimate is a log-odds ratio, odds_ratio = exp(estimate); std_estimate is not defined "
    "for a 0/1 outcome and is left NaN"
)

#: residual structures sp.crosslag passes to sp.lmm (nlme's corAR1 / corCAR1)
RESIDUALS = ("ar1", "car1")

#: name of the residual time column added to a model frame
RESIDUAL_TIME = "residual_time"


def residual_time(mf: ModelFrame, residual: str | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame to fit and the ``sp.lmm`` residual keywords for ``residual``.

    Daily models: the day (``correlation=residual, time="day"``; a missing day is a gap,
    as nlme's ``corAR1(form = ~ day | id)``). The time-of-day model has several prompts a
    day, so its time is continuous, ``day + position / k`` (position 0..k-1 of the prompt
    slot among the k slots), and its structure is always ``"car1"`` (``corCAR1``).
    """
    if residual is None:
        return mf.frame, {}
    if mf.extension != "time_of_day":
        return mf.frame, {"correlation": residual, "time": "day"}
    frame = mf.frame
    dummies = [t for t in mf.fixed if t.startswith("slot_")]
    k = len(dummies) + 1
    position = np.zeros(len(frame))
    for name in dummies:
        position += (int(name.removeprefix("slot_")) - 1) * frame[name].to_numpy(float)
    frame = frame.assign(**{RESIDUAL_TIME: frame["day"].to_numpy(float) + position / k})
    return frame, {"correlation": "car1", "time": RESIDUAL_TIME}


def residual_note(fit: Any, structure: dict[str, str]) -> str:
    """One line naming the residual structure and its estimated phi."""
    kind = "AR(1)" if structure["correlation"] == "ar1" else "continuous-time AR(1)"
    unit = "day" if structure["time"] == "day" else "day (prompts at fractions of a day)"
    return (
        f"{RESIDUAL_NOTE_PREFIX}{kind} within person by {unit}: phi = {float(fit.phi):.3f} "
        f"(nlme's {'corAR1' if structure['correlation'] == 'ar1' else 'corCAR1'})"
    )


def _lmm_formula(mf: ModelFrame, slopes: tuple[str, ...], correlated: bool) -> str:
    """``outcome ~ fixed + (1 + slopes | id)`` (``||`` unless ``correlated``)."""
    if not slopes:
        return mf.formula(random_slopes=False)
    bar = "|" if correlated else "||"
    return f"{mf.fixed_formula()} + ({' + '.join(('1', *slopes))} {bar} id)"


def fit_frame(
    mf: ModelFrame,
    *,
    estimator: str,
    random_slopes: bool,
    reml: bool,
    tidy: bool = True,
    slope_correlation: bool = False,
    residual: str | None = None,
    family: str = "gaussian",
) -> FitOutcome:
    """Fit one model frame; warnings are captured (not issued) and returned.

    ``family="binomial"`` (a 0/1 outcome) fits ``sp.glmm(formula, data,
    family="binomial")`` (lme4's ``glmer``, Laplace, ML: ``reml`` does not apply) with the
    same random part, or a GEE with statsmodels' Binomial family (logit link); ``notes``
    then says the estimates are log-odds. ``residual`` must be None with it.

    The mixed model has an uncorrelated random intercept and slope(s), ``(1 + x || id)``,
    unless ``slope_correlation`` (``(1 + x | id)``). When a slope's SD of the uncorrelated
    model is estimated at 0, that model *is* the model without the slope (same criterion,
    estimates and standard errors), so the slope is dropped and the model refitted without
    it: a zero variance component is removed, as Bates, Kliegl, Vasishth & Baayen (2015,
    "Parsimonious mixed models", arXiv:1506.04967) and Matuschek et al. (2017, J Mem Lang
    94:305) advise, instead of reporting a singular fit. ``notes`` records it.

    ``residual`` (``None``, ``"ar1"`` or ``"car1"``) adds a residual correlation within
    person (nlme's ``corAR1`` / ``corCAR1``; see :func:`residual_time`), and ``notes``
    then records the estimated phi.

    Raises EstimationError (with the direction) when the model cannot be fitted.
    """
    if len(mf.frame) == 0:
        raise EstimationError(
            f"the {mf.direction} model ({mf.sleep}, {mf.pain}"
            + (f", {mf.extension}" if mf.extension else "")
            + ") has no complete rows: no person has the terms observed on consecutive "
            "days. See the accounting: " + str(mf.accounting.to_dict())
        )
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if family == "binomial" and residual is not None:
            raise EstimationError(
                f"the {mf.direction} model has a binary outcome: residual={residual!r} is an "
                "option of the linear mixed model only."
            )
        if estimator == "gee":
            fit: Any = _fit_gee(mf, family)
        else:
            from sleeppain.mixed import glmm, lmm

            def fit_one(formula: str, data: pd.DataFrame) -> Any:
                if family == "binomial":
                    return glmm(formula, data, family="binomial")
                return lmm(formula, data, reml=reml, **structure)

            slopes = tuple(mf.random) if random_slopes else ()
            formula = _lmm_formula(mf, slopes, slope_correlation)
            data, structure = residual_time(mf, residual)
            try:
                fit = fit_one(formula, data)
                zero = [] if slope_correlation else _zero_slopes(fit)
                if zero:
                    caught.clear()  # the boundary warning of the model now reduced
                    slopes = tuple(t for t in slopes if t not in zero)
                    formula = _lmm_formula(mf, slopes, slope_correlation)
                    fit = fit_one(formula, data)
                    notes.append(
                        f"the between-person SD of the {', '.join(zero)} slope was estimated "
                        f"at 0, so that random slope was dropped: {formula} (the same "
                        "estimates; persons do not differ detectably in this effect)"
                    )
                if tidy:
                    # Satterthwaite df are computed (and cached) now, so their warnings
                    # are reported with the fit rather than at the first table
                    fit.tidy()
            except (ValueError, np.linalg.LinAlgError) as exc:
                raise EstimationError(
                    f"the {mf.direction} model {formula!r} "
                    f"({mf.sleep}, {mf.pain}) could not be fitted: {exc}"
                ) from exc
            if structure:
                notes.append(residual_note(fit, structure))
        if family == "binomial":
            notes.append(BINARY_NOTE if estimator != "gee" else _gee_binary_note())
    return FitOutcome(fit, tuple((w.category, str(w.message)) for w in caught), tuple(notes))


def _gee_binary_note() -> str:
    return BINARY_NOTE.replace(
        "logistic mixed model (sp.glmm, Laplace, maximum likelihood)",
        "GEE with a logit link (statsmodels Binomial; population-averaged log-odds)",
    )


def focal_rows(fit: Any, terms: tuple[str, ...], conf_level: float) -> pd.DataFrame:
    """Rows of the fit's tidy table for ``terms`` (house schema), indexed by term."""
    tab = fit.tidy(conf_level=conf_level).set_index("term")
    return tab.loc[list(terms), _TIDY_COLUMNS[1:]]


def contrast(fit: Any, a: str, b: str, conf_level: float) -> dict[str, float]:
    """Wald test of ``beta[a] - beta[b]``.

    For a mixed model: a t test with the Satterthwaite df of the linear contrast itself
    (:meth:`LmmResult.contrast`, as lmerTest 3.1's ``contest(fit, L, joint = FALSE)``;
    checked against lmerTest in ``tests/analysis/test_contest.py``). The df of a contrast
    are not those of either coefficient: when the two slopes' random parts cancel in the
    difference, its df approach the residual df. For GEE: a z test with the robust
    covariance.
    """
    if hasattr(fit, "contrast"):
        row = fit.contrast({a: 1.0, b: -1.0}).iloc[0]
        est, se, df = float(row["estimate"]), float(row["std_error"]), float(row["df"])
    else:
        est = float(fit.fixef[a] - fit.fixef[b])
        v = fit.vcov
        se = float(np.sqrt(max(float(v.loc[a, a] + v.loc[b, b] - 2 * v.loc[a, b]), 0.0)))
        df = np.inf
    stat = est / se if se > 0 else np.nan
    dist = stats.norm if not np.isfinite(df) else stats.t(df)
    crit = float(dist.ppf(1 - (1 - conf_level) / 2))
    return {
        "estimate": est,
        "std_error": se,
        "statistic": stat,
        "df": df,
        "p_value": float(2 * dist.sf(abs(stat))),
        "conf_low": est - crit * se,
        "conf_high": est + crit * se,
    }
