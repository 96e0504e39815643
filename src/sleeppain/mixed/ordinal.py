"""Cumulative link mixed models: ``sp.clmm`` (R's ``ordinal::clmm``, logit link).

Model (Christensen 2019, "A tutorial on fitting cumulative link mixed models with clmm",
ordinal vignette; Agresti 2010, ch. 10): for an ordinal outcome with categories
``1 < ... < J``,

    logit P(Y_i <= j | b) = alpha_j - (x_i' beta + z_i' b),   b ~ N(0, Lambda Lambda'),

with flexible (free, increasing) thresholds ``alpha_1 < ... < alpha_{J-1}``. The
likelihood integrates the random effects by the Laplace approximation, as ``clmm``'s
default: the conditional modes come from Newton's method on the exact Hessian
(ordinal's ``update.u`` / ``hess.u``), and

    -2 log L = -2 sum_i log p(y_i | eta_hat_i) + ||u_hat||^2 + log det(Lambda'Z'WZ Lambda + I)

with ``W`` the observed information of each observation at the mode. The stages are those
of :func:`sleeppain.glmm` (parse, design, PIRLS, optimise, result); the numerical core is
:func:`sleeppain.mixed.pirls.pirls` with the ordinal conditional model of this module.

Reference: R package ordinal 2022.11-16 (``clmm``, Laplace), checked on ``ordinal::wine``
in tests/mixed/test_clmm_reference.py.

Examples
--------
>>> import numpy as np, pandas as pd
>>> import sleeppain as sp
>>> rng = np.random.default_rng(2)
>>> g = np.repeat(np.arange(20), 12)
>>> x = rng.normal(size=240)
>>> lat = 0.8 * x + rng.normal(size=20)[g] + rng.logistic(size=240)
>>> y = np.digitize(lat, [-1.5, 0.0, 1.5]) + 1
>>> fit = sp.clmm("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}))
>>> fit.tidy()["term"].tolist()
['1|2', '2|3', '3|4', 'x']
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import expit

from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataStructureError,
    SpecificationError,
)
from sleeppain.mixed._common import LaplaceCriteria, modes_by_term, term_covariances, varcorr_frame
from sleeppain.mixed._newdata import add_random_part
from sleeppain.mixed.design import Design, RowAccounting, build_design
from sleeppain.mixed.formula import dotted_columns, parse_formula
from sleeppain.mixed.generalized import (
    SINGULAR_TOL,
    OptimizerRecord,
    _fd_grad,
    _laplace_problem,
    _lbfgs_record,
    _new_matrix,
    _r_name,
    fd_hessian,
    fd_jacobian,
)
from sleeppain.mixed.pirls import (
    BlockProblem,
    PirlsState,
    SparseProblem,
    laplace_gradient,
    pirls,
)
from sleeppain.results import (
    Display,
    DisplayTable,
    ResultMixin,
    check_conf_level,
    readonly,
    tidy_frame,
)

__all__ = ["ClmmResult", "OrdinalCond", "clmm", "clmm_gradient", "clmm_objective"]


# ---------------------------------------------------------------------------------------
# the conditional model
# ---------------------------------------------------------------------------------------


def _cdf_parts(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logistic F, density f = F(1-F) and f' = f(1-2F) (zero at +-inf)."""
    F = expit(a)
    f = F * (1.0 - F)
    df = f * (1.0 - 2.0 * F)
    return F, f, df


@dataclass(frozen=True, eq=False)
class OrdinalCond:
    """Cumulative-logit density of the observed categories given ``eta``.

    Attributes
    ----------
    y : ndarray of int
        Category of each row, 0..J-1.
    alpha : ndarray (J-1,)
        Increasing thresholds.
    w : ndarray, optional
        Prior weights.
    """

    y: np.ndarray
    alpha: np.ndarray
    w: np.ndarray | None = None

    def _bounds(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th = np.concatenate([[-np.inf], self.alpha, [np.inf]])
        return th[self.y + 1] - eta, th[self.y] - eta

    def loglik(self, eta: np.ndarray) -> np.ndarray:
        """log P(Y = y | eta) per row."""
        a1, a0 = self._bounds(eta)
        # p = F(a1) - F(a0), or F(-a0) - F(-a1) in the upper tail, where it cancels less
        upper = a0 + a1 > 0
        hi = np.where(upper, -a0, a1)
        low = np.where(upper, -a1, a0)
        with np.errstate(divide="ignore"):
            lp = np.log(expit(hi) - expit(low))
        return lp if self.w is None else self.w * lp

    def evaluate(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log density, its derivative in ``eta`` and the observed information."""
        a1, a0 = self._bounds(eta)
        lp = self.loglik(eta) if self.w is None else self.loglik(eta) / self.w
        p = np.exp(lp)
        _, f1, d1 = _cdf_parts(a1)
        _, f0, d0 = _cdf_parts(a0)
        r = (f1 - f0) / p
        score = -r
        info = r * r - (d1 - d0) / p
        if self.w is not None:
            return self.w * lp, self.w * score, self.w * info
        return lp, score, info

    #: The working weight is the observed information (exact Laplace gradient applies).
    canonical = True

    def threshold_derivs(self, eta: np.ndarray) -> dict[str, np.ndarray]:
        """Derivatives of ``log p``, the score ``s`` and the information ``w`` per row.

        With respect to the upper bound ``a1 = alpha_y - eta`` (suffix 1) and the lower
        bound ``a0 = alpha_{y-1} - eta`` (suffix 0); ``dw`` is the derivative of ``w`` in
        ``eta``. Logistic ``F``, ``f = F (1 - F)``, ``f' = f (1 - 2F)``,
        ``f'' = f (1 - 2F)^2 - 2 f^2``.
        """
        a1, a0 = self._bounds(eta)
        lp = self.loglik(eta) if self.w is None else self.loglik(eta) / self.w
        p = np.exp(lp)
        F1, f1, d1 = _cdf_parts(a1)
        F0, f0, d0 = _cdf_parts(a0)
        dd1 = f1 * (1.0 - 2.0 * F1) ** 2 - 2.0 * f1 * f1
        dd0 = f0 * (1.0 - 2.0 * F0) ** 2 - 2.0 * f0 * f0
        r = (f1 - f0) / p
        q = (d1 - d0) / p
        r1 = d1 / p - r * f1 / p
        r0 = -d0 / p + r * f0 / p
        q1 = dd1 / p - q * f1 / p
        q0 = -dd0 / p + q * f0 / p
        w1 = 2.0 * r * r1 - q1
        w0 = 2.0 * r * r0 - q0
        out = {
            "l1": f1 / p,
            "l0": -f0 / p,
            "s1": -r1,
            "s0": -r0,
            "w1": w1,
            "w0": w0,
            "dw": -(w1 + w0),
        }
        if self.w is not None:
            out = {k: self.w * v for k, v in out.items()}
        return out

    def dweight(self, eta: np.ndarray) -> np.ndarray:
        """Derivative of the observed information in ``eta``."""
        return self.threshold_derivs(eta)["dw"]


# ---------------------------------------------------------------------------------------
# building and the objective
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClmmProblem:
    """A built CLMM: design (X without intercept), categories and numerical problem."""

    design: Design
    X: np.ndarray
    fixef_names: tuple[str, ...]
    y: np.ndarray
    levels: tuple[Any, ...]
    problem: BlockProblem | SparseProblem
    accounting: RowAccounting

    @property
    def nalpha(self) -> int:
        """Number of thresholds (J - 1)."""
        return len(self.levels) - 1


def _ordinal_codes(col: pd.Series, name: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        if not col.dtype.ordered:
            raise DataStructureError(
                f"the response {name!r} is an unordered categorical; make it ordered "
                "(pd.Categorical(x, categories=[...], ordered=True)) so the order is explicit."
            )
        cats = list(col.dtype.categories)
        codes = col.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        return codes, tuple(cats)
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        vals = col.to_numpy(dtype=float, na_value=np.nan)
        levels = np.unique(vals[np.isfinite(vals)])
        codes = np.full(vals.shape, np.nan)
        ok = np.isfinite(vals)
        codes[ok] = np.searchsorted(levels, vals[ok])
        return codes, tuple(levels.tolist())
    raise DataStructureError(
        f"the response {name!r} must be numeric or an ordered categorical; its dtype is "
        f"{col.dtype}. Convert it with pd.Categorical(..., ordered=True)."
    )


def clmm_problem(formula: str, data: pd.DataFrame, *, stacklevel: int = 1) -> ClmmProblem:
    """Design of a cumulative link mixed model (stages 1-2 of :func:`clmm`)."""
    # Q('pain level'), `pain level` and R-style dotted names; written back after the design
    safe, data, renamed = dotted_columns(formula, data)
    parsed = parse_formula(safe)
    if not isinstance(data, pd.DataFrame):
        raise DataStructureError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    resp = parsed.response
    shown = renamed.restore(resp)
    if resp not in data.columns:
        raise SpecificationError(
            f"the response of a cumulative link model must be a column of the data; "
            f"{shown!r} is not (columns: {', '.join(map(str, list(data.columns)[:20]))}). "
            "Quote a name with spaces as Q('pain level') or `pain level`."
        )
    codes, levels_all = _ordinal_codes(data[resp], shown)
    work = data.copy(deep=False)
    work = work.assign(**{resp: codes})
    design = renamed.restore_design(
        build_design(parsed, work, stacklevel=stacklevel + 1, response_levels=levels_all),
        formula,
    )
    resp = shown
    y_codes = design.y.astype(int)
    used = np.unique(y_codes)
    if used.size < 2:
        raise DataStructureError(
            f"the response {resp!r} takes a single category in the rows used; an ordinal "
            "model needs at least two."
        )
    levels = tuple(levels_all[i] for i in used)
    y = np.searchsorted(used, y_codes)
    names = list(design.fixef_names)
    if "Intercept" not in names:
        raise SpecificationError(
            f"{formula!r}: a cumulative link model needs the intercept in the formula (the "
            "thresholds take its place); remove '0 +' / '- 1'."
        )
    keep = [j for j, n in enumerate(names) if n != "Intercept"]
    X = np.asarray(design.X[:, keep], dtype=float)
    fixef_names = tuple(names[j] for j in keep)
    cond = OrdinalCond(y=y, alpha=np.arange(len(levels) - 1, dtype=float))
    problem = _laplace_problem(design, X, cond)
    return ClmmProblem(
        design=design,
        X=X,
        fixef_names=fixef_names,
        y=y,
        levels=levels,
        problem=problem,
        accounting=design.accounting,
    )


def clmm_objective(
    cp: ClmmProblem,
    alpha: np.ndarray,
    beta: np.ndarray,
    theta: np.ndarray,
    u0: np.ndarray | None = None,
) -> tuple[float, PirlsState]:
    """Laplace ``-2 log L(alpha, beta, theta)`` of a CLMM (ordinal's ``-2 getNLA``).

    Returns ``inf`` when the thresholds are not increasing.
    """
    alpha = np.asarray(alpha, dtype=float)
    if np.any(np.diff(alpha) <= 0):
        return math.inf, None  # type: ignore[return-value]
    cond = OrdinalCond(y=cp.y, alpha=alpha)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        st = pirls(cp.problem, theta, beta, u0, cond=cond)
    return st.objective, st


def clmm_gradient(
    cp: ClmmProblem, alpha: np.ndarray, beta: np.ndarray, theta: np.ndarray, state: PirlsState
) -> np.ndarray:
    """Exact gradient of the Laplace ``-2 log L`` in ``(alpha, beta, theta)``.

    :func:`sleeppain.mixed.pirls.laplace_gradient` gives the ``theta`` and ``beta`` parts
    (the working weight is the observed information); each threshold adds
    ``sum_r (-2 dlogp_r + h_r dw_r + e_r ds_r) / dalpha`` over the rows whose category it
    bounds. One grouping factor only (block problems).
    """
    if not isinstance(cp.problem, BlockProblem):
        raise SpecificationError("the analytic CLMM gradient needs one grouping factor.")
    cond = OrdinalCond(y=cp.y, alpha=np.asarray(alpha, dtype=float))
    parts: dict = {}
    g_tb = laplace_gradient(cp.problem, theta, beta, state, cond=cond, parts=parts)
    nt = np.asarray(theta).size
    d = cond.threshold_derivs(state.eta)
    h, e = parts["h"], parts["e"]
    c1 = -2.0 * d["l1"] + h * d["w1"] + e * d["s1"]
    c0 = -2.0 * d["l0"] + h * d["w0"] + e * d["s0"]
    na = alpha.size
    up = cp.y < na  # rows whose upper bound is a threshold (alpha_y)
    lo = cp.y > 0  # rows whose lower bound is a threshold (alpha_{y-1})
    g_alpha = np.bincount(cp.y[up], weights=c1[up], minlength=na)[:na]
    g_alpha += np.bincount(cp.y[lo] - 1, weights=c0[lo], minlength=na)[:na]
    return np.concatenate([g_alpha, g_tb[nt:], g_tb[:nt]])


# ---------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClmmResult(LaplaceCriteria, ResultMixin):
    """Result of :func:`sleeppain.clmm` (immutable).

    Attributes
    ----------
    formula : str
    design : Design
    levels : tuple
        Response categories, in order.
    alpha : ndarray
        Thresholds (``"1|2"``, ...).
    beta : ndarray
        Location effects (positive: higher categories more likely).
    theta : ndarray
        Cholesky factor of the random-effects covariance (lme4 order).
    vcov_coef : ndarray
        Covariance of ``(alpha, beta)`` (inverse of half the Hessian of ``-2 log L``).
    u, eta : ndarray
        Spherical modes and linear predictor ``x' beta + z' b`` of the rows used.
    objective : float
        ``-2 log L`` (Laplace).
    y : ndarray
        Category index (0-based) of each row used.
    accounting : RowAccounting
    record : OptimizerRecord
    converged : bool
    messages : tuple of str

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> df = sp.datasets.sample_diary().dropna(subset=["pain", "sleep_quality"])
    >>> df["level"] = pd.cut(df["pain"], [-1, 3, 6, 10], labels=False)
    >>> fit = sp.clmm("level ~ sleep_quality + (1 | id)", df)
    >>> fit.tidy()["term"].tolist()
    ['0|1', '1|2', 'sleep_quality']
    """

    formula: str
    design: Design
    fixef_names: tuple[str, ...]
    levels: tuple[Any, ...]
    alpha: np.ndarray
    beta: np.ndarray
    theta: np.ndarray
    vcov_coef: np.ndarray
    u: np.ndarray
    eta: np.ndarray
    objective: float
    y: np.ndarray
    accounting: RowAccounting
    record: OptimizerRecord
    converged: bool
    messages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # every array field is a read-only copy: nothing handed out can change the fit
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                object.__setattr__(self, f.name, readonly(value))
        object.__setattr__(self, "messages", tuple(self.messages))

    @property
    def threshold_names(self) -> list[str]:
        """Names of the thresholds as ordinal prints them (``"1|2"``)."""
        lv = [
            str(v if not isinstance(v, float) or not v.is_integer() else int(v))
            for v in self.levels
        ]
        return [f"{a}|{b}" for a, b in itertools.pairwise(lv)]

    @property
    def loglik(self) -> float:
        """Laplace log-likelihood."""
        return -0.5 * self.objective

    @property
    def npar(self) -> int:
        """Thresholds + location effects + covariance parameters."""
        return self.alpha.size + self.beta.size + self.theta.size

    @property
    def coef(self) -> pd.Series:
        """Thresholds then location effects (ordinal's ``coef``)."""
        return pd.Series(
            np.concatenate([self.alpha, self.beta]),
            index=self.threshold_names + list(self.fixef_names),
            name="estimate",
        )

    def varcorr(self) -> pd.DataFrame:
        """Variance components: ``group, re_term, term1, term2, variance, sd, corr``."""
        return varcorr_frame(self.design.terms, term_covariances(self.design.terms, self.theta))

    def _b(self) -> list[np.ndarray]:
        return modes_by_term(self.design.terms, self.theta, self.u)

    def ranef(self) -> pd.DataFrame:
        """Conditional modes of the random effects: ``group, level, term, estimate``."""
        frames = []
        for t, b in zip(self.design.terms, self._b(), strict=True):
            frames.append(
                pd.DataFrame(
                    {
                        "group": t.group,
                        "level": np.tile(t.levels, t.ncols),
                        "term": np.repeat(np.array(t.names, dtype=object), t.nlevels),
                        "estimate": b.T.ravel(),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def residuals(self) -> pd.Series:
        """Mean-score residuals: observed category index minus its expected index.

        Categories are scored 0, 1, ..., K-1 in order; the expectation uses the fitted
        category probabilities given the conditional modes. A simple diagnostic for
        trends against the fitted score, not a residual with a known distribution.
        """
        score, expected = self._scores()
        return pd.Series(score - expected, index=self.design.index, name="residual")

    def _scores(self) -> tuple[np.ndarray, np.ndarray]:
        probs = self.predict(type="prob").to_numpy()
        expected = probs @ np.arange(probs.shape[1], dtype=float)
        return self.y.astype(float), expected

    def plot(self, *, conf_level: float = 0.95) -> Any:
        """Diagnostic figure: mean-score residuals vs expected score, and the conditional modes.

        The first panel plots :meth:`residuals` against the expected category score; then
        one caterpillar panel per random effect (sorted conditional modes, as
        ``lattice::dotplot(ranef(fit))``). Conditional variances are not computed for a
        CLMM, so the modes are drawn without intervals. Needs matplotlib
        (``pip install sleeppain[plot]``).

        Parameters
        ----------
        conf_level : float
            Coverage of intervals (used when conditional variances are available).

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, pandas as pd, sleeppain as sp
        >>> rng = np.random.default_rng(3)
        >>> g = np.repeat(np.arange(25), 8)
        >>> z = rng.normal(size=25)[g] + rng.logistic(size=200)
        >>> df = pd.DataFrame({"id": g, "k": np.digitize(z, [-1.0, 1.0])})
        >>> fig = sp.clmm("k ~ 1 + (1 | id)", df).plot()
        >>> fig.axes[0].get_xlabel()
        'Expected category score'
        >>> import matplotlib.pyplot as plt
        >>> plt.close(fig)
        """
        from sleeppain.report._mixed_figures import mixed_diagnostics

        score, expected = self._scores()
        return mixed_diagnostics(
            expected,
            score - expected,
            self.ranef(),
            title=f"{self.formula} (cumulative logit)",
            conf_level=check_conf_level(conf_level),
            fitted_label="Expected category score",
            resid_label="Observed - expected score",
        )

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        *,
        type: Literal["prob", "link", "class"] = "prob",
        include_random: bool = True,
    ) -> pd.DataFrame | pd.Series:
        """Category probabilities, linear predictor or most likely category.

        Parameters
        ----------
        newdata : DataFrame, optional
            Defaults to the rows used; unseen groups get a random effect of 0.
        type : {"prob", "link", "class"}
            ``"prob"``: a DataFrame with one column per category; ``"link"``: ``eta``
            (``x' beta + z' b``); ``"class"``: the most probable category.
        include_random : bool
            Use the conditional modes (True) or the population level (False).
        """
        if type not in ("prob", "link", "class"):
            raise SpecificationError(f"type must be 'prob', 'link' or 'class', got {type!r}.")
        d = self.design
        if newdata is None:
            eta = self.eta.copy()
            if not include_random:
                eta = (
                    d.X[:, [j for j, n in enumerate(d.fixef_names) if n != "Intercept"]] @ self.beta
                )
            index = d.index
        else:
            newdata = d.with_safe_columns(newdata)  # Q('pain score') columns
            X = _new_matrix(d.parsed.fixed, d.fixed_info, newdata, d.fixef_names)
            keep = [j for j, n in enumerate(d.fixef_names) if n != "Intercept"]
            eta = X[:, keep] @ self.beta
            if include_random:
                eta = add_random_part(eta, d.terms, self._b(), newdata, _new_matrix)
            index = newdata.index
        if type == "link":
            return pd.Series(eta, index=index, name="eta")
        cum = expit(self.alpha[None, :] - eta[:, None])
        cum = np.column_stack([np.zeros(eta.size), cum, np.ones(eta.size)])
        probs = np.diff(cum, axis=1)
        frame = pd.DataFrame(probs, index=index, columns=list(self.levels))
        if type == "prob":
            return frame
        return pd.Series(
            np.asarray(self.levels, dtype=object)[probs.argmax(axis=1)], index=index, name="class"
        )

    def tidy(self, conf_level: float = 0.95, *, exponentiate: bool = False) -> pd.DataFrame:
        """Thresholds (``effect = "threshold"``) and location effects with Wald z tests.

        ``exponentiate=True`` gives cumulative odds ratios for the location effects
        (estimates and limits exponentiated, standard errors by the delta method).
        """
        conf_level = check_conf_level(conf_level)
        est = np.concatenate([self.alpha, self.beta])
        se = np.sqrt(np.diag(self.vcov_coef))
        z = est / se
        pval = 2 * stats.norm.sf(np.abs(z))
        crit = stats.norm.ppf(1 - (1 - conf_level) / 2)
        lo, hi = est - crit * se, est + crit * se
        na = self.alpha.size
        if exponentiate:
            sl = slice(na, None)
            est, lo, hi, se = est.copy(), lo.copy(), hi.copy(), se.copy()
            est[sl], lo[sl], hi[sl] = np.exp(est[sl]), np.exp(lo[sl]), np.exp(hi[sl])
            se[sl] = est[sl] * se[sl]
        out = pd.DataFrame(
            {
                "term": self.threshold_names + list(self.fixef_names),
                "estimate": est,
                "std_error": se,
                "statistic": z,
                "df": np.inf,
                "p_value": pval,
                "conf_low": lo,
                "conf_high": hi,
                "effect": ["threshold"] * na + ["fixed"] * self.beta.size,
            }
        )
        return tidy_frame(out, context=["effect"])

    def glance(self) -> pd.DataFrame:
        """One row: ``nobs, ngroups, logLik, AIC, BIC, deviance (-2 logLik), npar, ...``."""
        return pd.DataFrame(
            [
                {
                    "nobs": self.nobs,
                    "ngroups": self.design.terms[0].nlevels,
                    "groups": ", ".join(f"{k}: {v}" for k, v in self.design.ngroups.items()),
                    "link": "logit",
                    "threshold": "flexible",
                    "logLik": self.loglik,
                    "AIC": self.aic,
                    "BIC": self.bic,
                    "deviance": self.objective,
                    "npar": self.npar,
                    "converged": self.converged,
                    "nevals": self.record.nevals,
                }
            ]
        )

    def _display(self) -> Display:
        td = self.tidy()
        na = self.alpha.size
        coef = pd.DataFrame(
            {
                "Estimate": td["estimate"].to_numpy()[na:],
                "Std. Error": td["std_error"].to_numpy()[na:],
                "z value": td["statistic"].to_numpy()[na:],
                "p_value": td["p_value"].to_numpy()[na:],
            },
            index=list(self.fixef_names),
        )
        thr = pd.DataFrame(
            {
                "Estimate": td["estimate"].to_numpy()[:na],
                "Std. Error": td["std_error"].to_numpy()[:na],
                "z value": td["statistic"].to_numpy()[:na],
            },
            index=self.threshold_names,
        )
        vc = self.varcorr()
        vtab = pd.DataFrame(
            {
                "Groups": vc["group"],
                "Name": [_r_name(str(n)) if n is not None else "" for n in vc["term1"]],
                "Variance": vc["variance"],
                "Std.Dev.": vc["sd"],
                "Corr": vc["corr"],
            }
        ).set_index("Groups")
        header = (
            ("Cumulative Link Mixed Model fitted with the Laplace approximation", ""),
            ("formula", self.formula),
            (
                "link / threshold / nobs / logLik / AIC",
                f"logit / flexible / {self.nobs} / {self.loglik:.2f} / {self.aic:.2f}",
            ),
            ("Number of groups", ", ".join(f"{k} {v}" for k, v in self.design.ngroups.items())),
        )
        return Display(
            title="Cumulative link mixed model (sp.clmm)",
            header=header,
            tables=(
                DisplayTable(vtab, title="Random effects:", digits=4),
                DisplayTable(coef, title="Coefficients:", note="p_value: Pr(>|z|)", digits=4),
                DisplayTable(thr, title="Threshold coefficients:", digits=4),
            ),
            notes=self.messages,
        )


# ---------------------------------------------------------------------------------------
# the verb
# ---------------------------------------------------------------------------------------


def clmm(
    formula: str,
    data: pd.DataFrame,
    *,
    link: Literal["logit"] = "logit",
    thresholds: Literal["flexible"] = "flexible",
) -> ClmmResult:
    """Fit a cumulative link mixed model by the Laplace approximation (``ordinal::clmm``).

    Parameters
    ----------
    formula : str
        lme4 syntax, e.g. ``"quality ~ pain + (1 + pain | id)"``. The response is an
        ordered categorical, or numeric (its sorted distinct values are the categories).
    data : DataFrame
    link : {"logit"}
    thresholds : {"flexible"}

    Returns
    -------
    ClmmResult

    Raises
    ------
    SpecificationError
        Another link or threshold structure; no intercept in the formula.
    DataStructureError
        An unordered categorical response, a single category.

    Notes
    -----
    Reference: R package ordinal 2022.11-16, ``clmm(..., link = "logit", threshold =
    "flexible")`` (Laplace); agreement on ``ordinal::wine`` is tested (logLik, thresholds,
    location effects and standard errors). Parameters are optimised jointly by L-BFGS-B
    with the exact Laplace gradient for one grouping factor (central differences for
    crossed or nested factors), thresholds as first value and log-increments;
    standard errors come from the finite-difference Hessian in ``(alpha, beta, theta)``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sleeppain as sp
    >>> rng = np.random.default_rng(4)
    >>> g = np.repeat(np.arange(15), 10)
    >>> x = rng.normal(size=150)
    >>> y = np.digitize(x + rng.normal(size=15)[g] + rng.logistic(size=150), [-1, 1]) + 1
    >>> fit = sp.clmm("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}))
    >>> fit.glance()["nobs"].item()
    150
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.clmm")  # a Dask frame: typed error, no .compute()
    if link != "logit":
        raise SpecificationError(f"link={link!r}: only the logit link is implemented.")
    if thresholds != "flexible":
        raise SpecificationError(
            f"thresholds={thresholds!r}: only flexible thresholds are implemented."
        )
    cp = clmm_problem(formula, data, stacklevel=2)
    design = cp.design
    p, na = cp.X.shape[1], cp.nalpha
    # starting values: marginal cumulative logits, beta = 0, lme4's theta start
    counts = np.bincount(cp.y, minlength=na + 1).astype(float)
    cum = np.cumsum(counts)[:-1] / counts.sum()
    alpha0 = np.log(cum / (1 - cum))
    x0 = np.concatenate(
        [[alpha0[0]], np.log(np.maximum(np.diff(alpha0), 1e-2)), np.zeros(p), design.theta_start]
    )
    lower = np.concatenate([np.full(na + p, -np.inf), design.theta_lower])
    cache: dict[str, Any] = {"u": None, "nevals": 0}

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        alpha = x[0] + np.concatenate([[0.0], np.cumsum(np.exp(x[1:na]))])
        return alpha, x[na : na + p], x[na + p :]

    def f_nat(v: np.ndarray) -> float:
        cache["nevals"] += 1
        alpha, beta, theta = v[:na], v[na : na + p], v[na + p :]
        try:
            val, st = clmm_objective(cp, alpha, beta, theta, cache["u"])
        except np.linalg.LinAlgError:
            return 1e300
        if not np.isfinite(val):
            return 1e300
        if st.converged:
            cache["u"] = st.u
        return val

    def f(x: np.ndarray) -> float:
        alpha, beta, theta = unpack(x)
        return f_nat(np.concatenate([alpha, beta, theta]))

    analytic = isinstance(cp.problem, BlockProblem)

    def fg_nat(v: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective and exact gradient in the natural parameters (alpha, beta, theta)."""
        cache["nevals"] += 1
        alpha, beta, theta = v[:na], v[na : na + p], v[na + p :]
        try:
            val, st = clmm_objective(cp, alpha, beta, theta, cache["u"])
            if not np.isfinite(val):
                raise np.linalg.LinAlgError
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                g = clmm_gradient(cp, alpha, beta, theta, st)
        except np.linalg.LinAlgError:
            return 1e300, np.zeros_like(v)
        if st.converged:
            cache["u"] = st.u
        return val, g

    def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
        if not analytic:
            return f(x), _fd_grad(f, x, lower)
        alpha, beta, theta = unpack(x)
        val, g = fg_nat(np.concatenate([alpha, beta, theta]))
        # chain rule: alpha_j = x_0 + sum_{1 <= i <= j} exp(x_i)
        ga = g[:na]
        gx = g.copy()
        tail = np.cumsum(ga[::-1])[::-1]  # sum_{j >= i} g_alpha_j
        gx[0] = tail[0]
        gx[1:na] = np.exp(x[1:na]) * tail[1:]
        return val, gx

    start_obj = f(x0)
    res = optimize.minimize(
        fg,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(lo if np.isfinite(lo) else None, None) for lo in lower],
        options={"maxiter": 1000, "gtol": 1e-5, "ftol": 1e-14, "maxcor": 20},
    )
    x = np.asarray(res.x, dtype=float)
    alpha, beta, theta = unpack(x)
    cache["u"] = None
    val, st = clmm_objective(cp, alpha, beta, theta)
    cache["u"] = st.u
    nat = np.concatenate([alpha, beta, theta])
    grad = fg(x)[1] if analytic else _fd_grad(f, x, lower)
    free = np.ones(nat.size, dtype=bool)
    free[na + p :] = ~((design.theta_lower == 0) & (theta <= 1e-4))

    def f_free(v: np.ndarray) -> float:
        w = nat.copy()
        w[free] = v
        return f_nat(w)

    messages: list[str] = []
    if analytic:

        def g_free(v: np.ndarray) -> np.ndarray:
            w = nat.copy()
            w[free] = v
            return fg_nat(w)[1][free]

        H = fd_jacobian(g_free, nat[free])
    else:
        H = fd_hessian(f_free, nat[free])
    cache["u"] = st.u
    ncoef = na + p
    try:
        Hi = np.linalg.inv(H / 2.0)
        vcov = Hi[:ncoef, :ncoef]
        if np.any(np.diag(vcov) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        vcov = np.full((ncoef, ncoef), np.nan)
        messages.append("the Hessian is not positive definite; standard errors are NaN")
    max_grad = float(
        np.max(np.abs(np.where((lower > -np.inf) & (x <= 1e-8) & (grad > 0), 0, grad)))
    )
    converged = bool(res.success) or max_grad < 1e-3
    if not converged:
        messages.append(
            f"optimiser stopped without convergence: {res.message} (max |gradient| {max_grad:.3g})"
        )
    if not st.converged:
        converged = False
        messages.append(
            f"the Newton iterations for the modes did not converge ({st.iterations} "
            f"iterations, last step {st.max_step:.3g})"
        )
    record = _lbfgs_record(
        res,
        analytic=analytic,
        x0=x0,
        x=x,
        start_objective=start_obj,
        objective=val,
        nevals=cache["nevals"],
        gradient=grad,
        state=st,
    )
    if messages:
        warnings.warn("; ".join(messages) + ". See fit.record.", ConvergenceWarning, stacklevel=2)
    lower = design.theta_lower
    if np.any(theta[lower == 0] < SINGULAR_TOL):
        warnings.warn(
            f"boundary (singular) fit of {formula!r}: theta = {np.round(theta, 5).tolist()} "
            f"has a diagonal element < {SINGULAR_TOL:g} (a variance at zero or a correlation "
            "at +/-1, lme4's isSingular). Consider removing the random-effect term with zero "
            "variance.",
            BoundaryFitWarning,
            stacklevel=2,
        )
    return ClmmResult(
        formula=formula,
        design=design,
        fixef_names=cp.fixef_names,
        levels=cp.levels,
        alpha=alpha,
        beta=beta,
        theta=theta,
        vcov_coef=(vcov + vcov.T) / 2,
        u=st.u,
        eta=st.eta - 0.0,
        objective=float(val),
        y=cp.y,
        accounting=cp.accounting,
        record=record,
        converged=converged,
        messages=tuple(messages),
    )
