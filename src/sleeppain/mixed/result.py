"""Stage 7: the frozen result of a linear mixed-model fit (:class:`LmmResult`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> import sleeppain as sp
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(12), 6)
>>> df = pd.DataFrame({"x": rng.normal(size=72), "g": g})
>>> df["y"] = 2 + df.x + rng.normal(size=12)[g] + rng.normal(size=72)
>>> fit = sp.lmm("y ~ x + (1 | g)", df)
>>> list(fit.fixef.index)
['Intercept', 'x']
>>> fit.with_df("z").tidy()["df"].tolist()
[inf, inf]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import stats

from sleeppain.errors import SpecificationError
from sleeppain.mixed import _format as _fmt
from sleeppain.mixed._blas import single_threaded_blas
from sleeppain.mixed._common import VARCORR_COLUMNS, varcorr_rows
from sleeppain.mixed._newdata import add_random_part
from sleeppain.mixed.design import (
    Design,
    RowAccounting,
    _as_float,
    _simple_columns,
)
from sleeppain.mixed.deviance import PlsSolution
from sleeppain.mixed.inference import SatterthwaiteParts, satterthwaite_df, satterthwaite_parts
from sleeppain.mixed.optimize import ConvergenceRecord
from sleeppain.mixed.residual import ResidualData, ResidualFit
from sleeppain.results import Display, DisplayTable, ResultMixin, check_conf_level, tidy_frame

__all__ = ["LmmResult"]

_DF_METHODS = ("satterthwaite", "z")
#: lme4's ``getOption("lme4.summary.cor.max")``: the correlation of fixed effects is printed
#: when 1 < p <= 12.
_COR_MAX = 12


def _r_name(name: str) -> str:
    return "(Intercept)" if name == "Intercept" else name


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy of an array."""
    out = np.array(a, dtype=float, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class LmmResult(ResultMixin):
    """Result of :func:`sleeppain.lmm` (immutable; derived quantities are cached).

    Everything it hands out is a copy or read-only: ``fixef``, ``vcov``, ``std_errors``
    and the frames of ``tidy()``/``glance()``/``varcorr()`` are new pandas objects at each
    call, ``theta`` is a read-only array, ``correlation`` a new dict.

    Attributes
    ----------
    formula : str
        The model formula.
    reml : bool
        Whether the REML criterion was optimised.
    beta : ndarray
        Fixed-effect estimates (read-only); ``fixef`` is the same as a Series named by
        patsy term (``"Intercept"``, ``"x"``, ``"C(g)[T.b]"``, ``"x:z"``).
    fixef_names : tuple of str
    theta : ndarray
        Relative covariance parameters in lme4's order (``getME(fit, "theta")``): terms by
        decreasing number of levels of their grouping factor (lme4's ``rev(order(nl))``),
        each the lower triangle of its relative Cholesky factor in column-major order.
    sigma : float
        Residual standard deviation (REML: ``sqrt(r^2/(n-p))``; ML: ``sqrt(r^2/n)``).
    objective : float
        REML criterion at the optimum (``REMLcrit()``) when ``reml``; else the deviance
        ``-2 logLik`` (``deviance()``).
    loglik : float
        ``-objective / 2`` (the REML log-likelihood for REML fits, as lme4's ``logLik``).
    convergence : ConvergenceRecord
        Optimiser record: start and end theta, evaluations, final gradient, message,
        warnings.
    accounting : RowAccounting
        Rows used and rows dropped with reasons.
    is_singular : bool
        lme4's ``isSingular(fit, tol = 1e-4)``.
    residual : ResidualFit or None
        The residual structure (``correlation=``, ``weights=``) and its estimates; see
        ``phi``, ``correlation`` and ``varident``.
    df_method : {"satterthwaite", "z"}
        Inference for fixed effects: Satterthwaite's t (lmerTest) or large-sample z.
    design, solution, evaluator
        The design, the penalised least-squares solution at the optimum and the deviance
        evaluator (for refits and derivatives).

    Notes
    -----
    References: lme4 1.1-31 (Bates et al. 2015, J Stat Softw 67(1)) for the estimates,
    lmerTest 3.1-3 (Kuznetsova et al. 2017, J Stat Softw 82(13)) for Satterthwaite df.
    Tolerances tested: deviance at fixed theta rtol 1e-8; optimum objective within 1e-3;
    standard errors and df rtol 1e-3.

    Examples
    --------
    >>> import sleeppain as sp
    >>> df = sp.datasets.sample_diary().dropna(subset=["pain", "sleep_quality"])
    >>> fit = sp.lmm("pain ~ sleep_quality + (1 | id)", df)
    >>> fit.tidy()["term"].tolist()
    ['Intercept', 'sleep_quality']
    """

    formula: str
    reml: bool
    beta: np.ndarray
    fixef_names: tuple[str, ...]
    _theta: np.ndarray
    sigma: float
    objective: float
    loglik: float
    convergence: ConvergenceRecord
    accounting: RowAccounting
    is_singular: bool
    design: Design = field(repr=False)
    solution: PlsSolution = field(repr=False)
    evaluator: Any = field(repr=False)
    df_method: str = "satterthwaite"
    _shared: dict = field(default_factory=dict, repr=False)
    residual: ResidualFit | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", _frozen(self.beta))
        object.__setattr__(self, "_theta", _frozen(self._theta))
        object.__setattr__(self, "fixef_names", tuple(self.fixef_names))

    # -- basic facts -----------------------------------------------------------------
    @property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates by term (a new Series at each call)."""
        return pd.Series(self.beta.copy(), index=list(self.fixef_names), name="estimate")

    @property
    def theta(self) -> np.ndarray:
        """Relative covariance parameters, lme4's order (a read-only view)."""
        return self._theta.view()

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return self.design.n

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor (lme4's ``ngrps``)."""
        return self.design.ngroups

    @property
    def converged(self) -> bool:
        """Whether the optimiser converged and passed the gradient check."""
        return self.convergence.converged

    @property
    def npar(self) -> int:
        """Number of parameters: fixed effects + theta + residual variance (+ phi and the
        varIdent ratios with a residual structure, as nlme's ``attr(logLik, "df")``)."""
        extra = self.residual.n_params if self.residual is not None else 0
        return self.design.p + self.theta.size + 1 + extra

    @property
    def aic(self) -> float:
        """``-2 logLik + 2 npar`` (for REML fits, of the REML log-likelihood, as lme4)."""
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        """``-2 logLik + log(n) npar``; with a residual structure nlme's definition,
        ``log(n - p)`` for REML fits."""
        n = self.nobs
        if self.residual is not None and self.reml:
            n -= self.design.p
        return -2.0 * self.loglik + np.log(n) * self.npar

    # -- residual structure ----------------------------------------------------------
    @property
    def phi(self) -> float | None:
        """The residual autocorrelation parameter (None without ``correlation=``)."""
        return None if self.residual is None else self.residual.phi

    @property
    def correlation(self) -> dict[str, Any] | None:
        """The residual correlation structure, e.g. ``{"structure": "ar1", "time": "day",
        "phi": 0.48}`` (a new dict each call; None without ``correlation=``)."""
        r = self.residual
        if r is None or r.phi is None:
            return None
        return {"structure": r.spec.correlation, "time": r.spec.time, "phi": float(r.phi)}

    @property
    def varident(self) -> pd.Series | None:
        """Residual SD ratios per stratum (nlme's varIdent coefficients; reference 1), a
        copy; None without ``weights=``."""
        r = self.residual
        if r is None or r.spec.weights is None:
            return None
        return pd.Series(
            r.delta.copy(), index=[str(v) for v in r.strata], name=r.spec.weights.column
        )

    @property
    def residual_data(self) -> ResidualData | None:
        """The residual structure's columns (for refits), or None."""
        return None if self.residual is None else self.residual.data

    @property
    def _x(self) -> np.ndarray:
        """All covariance parameters on the optimiser's scale (theta, then residual)."""
        return self._theta if self.residual is None else self.residual.x

    @cached_property
    def _vcov(self) -> np.ndarray:
        return _frozen(self.sigma**2 * self.solution.A_inv)

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects, ``sigma^2 (X'V^{-1}X)^{-1}`` (a new
        DataFrame at each call)."""
        names = list(self.fixef_names)
        return pd.DataFrame(self._vcov.copy(), index=names, columns=names)

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self._vcov)), index=list(self.fixef_names))

    # -- inference -------------------------------------------------------------------
    def with_df(self, method: str) -> LmmResult:
        """A new result whose inference uses ``method`` (``"satterthwaite"`` or ``"z"``).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import sleeppain as sp
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"g": np.repeat(np.arange(8), 5), "x": rng.normal(size=40)})
        >>> df["y"] = df.x + rng.normal(size=8)[df.g] + rng.normal(size=40)
        >>> fit = sp.lmm("y ~ x + (1 | g)", df)
        >>> fit.with_df("z").df_method, fit.df_method
        ('z', 'satterthwaite')
        """
        key = str(method).lower()
        if key not in _DF_METHODS:
            raise SpecificationError(
                f"unknown df method {method!r}; use 'satterthwaite' (lmerTest) or 'z'."
            )
        return dataclasses.replace(self, df_method=key)

    def satterthwaite(self) -> SatterthwaiteParts:
        """Hessian and Jacobians behind Satterthwaite's df (computed once, then cached).

        On a badly centred or scaled design (a predictor around 1e4,
        :func:`~sleeppain.mixed._scaling.needs_scaling`) the finite differences are taken
        on the standardised design and mapped back
        (:func:`~sleeppain.mixed._scaling.satterthwaite_parts_standardized`): the df are
        invariant to that reparametrisation, and lmerTest 3.1-3 on the standardised model
        gives them (``tests/reference/scaling``), while differentiating the original
        parametrisation gives meaningless df (273 instead of 28 on that reference).
        """
        if "satt" not in self._shared:
            from sleeppain.mixed._scaling import needs_scaling, satterthwaite_parts_standardized
            from sleeppain.mixed.blockstats import BlockStats

            stats = getattr(self.evaluator, "stats", None)
            standardize = self.residual is None and needs_scaling(
                self.design, stats if isinstance(stats, BlockStats) else None
            )
            with single_threaded_blas():
                if standardize:
                    self._shared["satt"] = satterthwaite_parts_standardized(
                        self.design, self._theta, self.sigma, reml=self.reml, stacklevel=3
                    )
                else:
                    self._shared["satt"] = satterthwaite_parts(
                        self.evaluator, self._x, self.sigma, stacklevel=3
                    )
        return self._shared["satt"]

    @property
    def df(self) -> pd.Series:
        """Denominator df of each fixed effect (inf for ``"z"``)."""
        if self.df_method == "z":
            vals = np.full(self.design.p, np.inf)
        else:
            vals = satterthwaite_df(self.satterthwaite())
        return pd.Series(vals, index=self.fixef.index, name="df")

    def tidy(self, conf_level: float = 0.95, effects: str = "fixed") -> pd.DataFrame:
        """Coefficient table in the house schema.

        Parameters
        ----------
        conf_level : float
            Confidence level of ``conf_low`` / ``conf_high`` (Wald, with t(df) or normal
            quantiles).
        effects : {"fixed", "ran_pars", "all"}
            ``"ran_pars"``: the variance parameters as broom.mixed names them
            (``sd__x``, ``cor__x.z``, ``sd__Observation`` for the residual; estimates
            only), then the residual structure in group ``"Residual"``: ``phi`` and
            ``sd_ratio__LEVEL`` per varIdent stratum. ``"all"``: fixed, then ran_pars.

        Returns
        -------
        DataFrame
            ``term, estimate, std_error, statistic, df, p_value, conf_low, conf_high,
            effect, group``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import sleeppain as sp
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"g": np.repeat(np.arange(8), 5), "x": rng.normal(size=40)})
        >>> df["y"] = df.x + rng.normal(size=8)[df.g] + rng.normal(size=40)
        >>> sp.lmm("y ~ x + (1 | g)", df).tidy(effects="ran_pars")["term"].tolist()
        ['sd__Intercept', 'sd__Observation']
        """
        if not 0 < conf_level < 1:
            raise SpecificationError(f"conf_level must be in (0, 1), got {conf_level!r}.")
        if effects not in ("fixed", "ran_pars", "all"):
            raise SpecificationError(
                f"effects must be 'fixed', 'ran_pars' or 'all', got {effects!r}."
            )
        frames = []
        if effects in ("fixed", "all"):
            frames.append(self._tidy_fixed(conf_level))
        if effects in ("ran_pars", "all"):
            frames.append(self._tidy_ran_pars())
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return tidy_frame(out, context=["effect", "group"])

    def _tidy_fixed(self, conf_level: float) -> pd.DataFrame:
        est = self.beta.copy()
        se = self.std_errors.to_numpy()
        df = self.df.to_numpy()
        stat = est / se
        a = 1 - (1 - conf_level) / 2
        if self.df_method == "z":
            p = 2 * stats.norm.sf(np.abs(stat))
            crit = np.full_like(est, stats.norm.ppf(a))
        else:
            p = 2 * stats.t.sf(np.abs(stat), df)
            crit = stats.t.ppf(a, df)
        return pd.DataFrame(
            {
                "effect": "fixed",
                "group": None,
                "term": list(self.fixef_names),
                "estimate": est,
                "std_error": se,
                "statistic": stat,
                "df": df,
                "p_value": p,
                "conf_low": est - crit * se,
                "conf_high": est + crit * se,
            }
        )

    def _tidy_ran_pars(self) -> pd.DataFrame:
        rows = []
        for r in self.varcorr().itertuples(index=False):
            if r.group == "Residual":
                term, est = "sd__Observation", r.sd
            elif pd.isna(r.term2):
                term, est = f"sd__{r.term1}", r.sd
            else:
                term, est = f"cor__{r.term1}.{r.term2}", r.corr
            rows.append({"effect": "ran_pars", "group": r.group, "term": term, "estimate": est})
        res = self.residual
        if res is not None:
            if res.phi is not None:
                rows.append(
                    {"effect": "ran_pars", "group": "Residual", "term": "phi", "estimate": res.phi}
                )
            if res.spec.weights is not None:
                for lab, d in zip(res.strata[1:], res.delta[1:], strict=True):
                    rows.append(
                        {
                            "effect": "ran_pars",
                            "group": "Residual",
                            "term": f"sd_ratio__{lab}",
                            "estimate": float(d),
                        }
                    )
        return pd.DataFrame(rows, columns=["effect", "group", "term", "estimate"])

    def contrast(
        self, L: np.ndarray | list[float] | dict[str, float], rhs: float = 0.0
    ) -> pd.DataFrame:
        """Test ``L' beta = rhs`` for one linear combination of the fixed effects.

        Satterthwaite's df for the contrast as lmerTest's ``contest1D`` (or z when
        ``df_method == "z"``).

        Parameters
        ----------
        L : array-like of length p, or dict {term: weight}
            Contrast weights (missing terms in a dict get 0).
        rhs : float
            Value under the null hypothesis.

        Returns
        -------
        DataFrame
            One row: ``estimate, std_error, statistic, df, p_value``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import sleeppain as sp
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"g": np.repeat(np.arange(8), 5), "x": rng.normal(size=40)})
        >>> df["y"] = df.x + rng.normal(size=8)[df.g] + rng.normal(size=40)
        >>> fit = sp.lmm("y ~ x + (1 | g)", df)
        >>> row = fit.contrast({"x": 1.0})
        >>> bool(np.isclose(row["df"].iloc[0], fit.tidy()["df"].iloc[1]))
        True
        """
        names = list(self.fixef.index)
        if isinstance(L, dict):
            unknown = sorted(set(L) - set(names))
            if unknown:
                raise SpecificationError(
                    f"contrast names unknown fixed effects {unknown}; the fixed effects are "
                    f"{names}."
                )
            ell = np.array([float(L.get(n, 0.0)) for n in names])
        else:
            ell = np.asarray(L, dtype=float).ravel()
            if ell.size != len(names):
                raise SpecificationError(
                    f"contrast has {ell.size} weights for {len(names)} fixed effects {names}."
                )
        est = float(ell @ self.fixef.to_numpy())
        se = float(np.sqrt(ell @ self._vcov @ ell))
        stat = (est - rhs) / se
        if self.df_method == "z":
            df, p = np.inf, float(2 * stats.norm.sf(abs(stat)))
        else:
            df = float(satterthwaite_df(self.satterthwaite(), ell[None, :])[0])
            p = float(2 * stats.t.sf(abs(stat), df))
        return pd.DataFrame(
            [{"estimate": est, "std_error": se, "statistic": stat, "df": df, "p_value": p}]
        )

    # -- variance components -----------------------------------------------------------
    def _term_covs(self) -> list[np.ndarray]:
        covs = []
        k = 0
        for t in self.design.terms:
            p = t.ncols
            T = np.zeros((p, p))
            for c in range(p):
                for r in range(c, p):
                    T[r, c] = self._theta[k]
                    k += 1
            covs.append(self.sigma**2 * T @ T.T)
        return covs

    def varcorr(self) -> pd.DataFrame:
        """Variance components (lme4's ``as.data.frame(VarCorr(fit))``, in wide form).

        Returns
        -------
        DataFrame
            One row per variance (``term2`` is None; ``variance``, ``sd``) and per
            correlation (``variance`` holds the covariance, ``corr`` the correlation), in
            lme4's term order, with a final ``"Residual"`` row. ``re_term`` is the lme4 term
            label (``"(1 + x | g)"``). Term names are patsy's (``"Intercept"``).
        """
        rows = varcorr_rows(self.design.terms, self._term_covs())
        rows.append(("Residual", None, None, None, self.sigma**2, self.sigma, np.nan))
        return pd.DataFrame(rows, columns=VARCORR_COLUMNS)

    def ranef(self) -> pd.DataFrame:
        """Conditional modes of the random effects with their conditional variances.

        Returns
        -------
        DataFrame
            One long frame: ``group, level, term, estimate, cond_var, std_error`` (lme4's
            ``ranef(fit, condVar = TRUE)``; ``cond_var`` is the conditional variance given
            beta, ``sigma^2 [Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda']``, and
            ``std_error`` its square root). Terms appear in lme4 order.
        """
        frames = []
        sol = self.solution
        for i, t in enumerate(self.design.terms):
            L, p = t.nlevels, t.ncols
            b = sol.b[i]
            if sol.b_var is not None:
                cv = self.sigma**2 * np.diagonal(sol.b_var[i], axis1=1, axis2=2)
            else:
                cv = np.full((L, p), np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "group": t.group,
                        "level": np.tile(t.levels, p),
                        "term": np.repeat(np.array(t.names, dtype=object), L),
                        "estimate": b.T.ravel(),
                        "cond_var": cv.T.ravel(),
                        "std_error": np.sqrt(cv.T.ravel()),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    # -- fitted values ---------------------------------------------------------------
    @cached_property
    def _fitted(self) -> np.ndarray:
        d = self.design
        f = d.X @ self.beta
        for t, b in zip(d.terms, self.solution.b, strict=True):
            f = f + np.einsum("ij,ij->i", t.Xi, b[t.codes])
        return f

    def fitted(self) -> pd.Series:
        """Conditional fitted values ``X beta + Z b`` for the rows used."""
        return pd.Series(self._fitted.copy(), index=self.design.index, name="fitted")

    def residuals(self, scaled: bool = False) -> pd.Series:
        """Conditional residuals ``y - X beta - Z b`` (divided by sigma when ``scaled``)."""
        r = self.design.y - self._fitted
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=self.design.index, name="residual")

    def plot(self, *, conf_level: float = 0.95) -> Any:
        """Diagnostic figure: residuals vs fitted and a caterpillar plot of the random effects.

        As lme4's ``plot(fit)`` (conditional residuals against fitted values) and
        ``lattice::dotplot(ranef(fit, condVar = TRUE))`` (sorted conditional modes with
        +/- z sqrt(conditional variance) intervals), one panel per random effect. Needs
        matplotlib (``pip install sleeppain[plot]``).

        Parameters
        ----------
        conf_level : float
            Coverage of the caterpillar intervals.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, pandas as pd, sleeppain as sp
        >>> rng = np.random.default_rng(1)
        >>> g = np.repeat(np.arange(15), 6)
        >>> df = pd.DataFrame({"id": g, "y": rng.normal(size=15)[g] + rng.normal(size=90)})
        >>> fig = sp.lmm("y ~ 1 + (1 | id)", df).plot()
        >>> fig.axes[0].get_xlabel(), fig.axes[1].get_xlabel()
        ('Fitted values', 'Conditional mode')
        >>> import matplotlib.pyplot as plt
        >>> plt.close(fig)
        """
        from sleeppain.report._mixed_figures import mixed_diagnostics

        return mixed_diagnostics(
            self._fitted,
            self.design.y - self._fitted,
            self.ranef(),
            title=self.formula,
            conf_level=check_conf_level(conf_level),
        )

    def predict(
        self, newdata: pd.DataFrame | None = None, include_random: bool = True
    ) -> pd.Series:
        """Predictions: ``X beta`` plus, when ``include_random``, the conditional modes.

        Parameters
        ----------
        newdata : DataFrame, optional
            Defaults to the rows used in the fit. Levels of a grouping factor not seen in
            the fit get a random effect of 0 (population prediction, as lme4's
            ``allow.new.levels = TRUE``); rows with missing predictors predict NaN.
        include_random : bool
            Add ``Z b`` (lme4's ``re.form = NULL``) or not (``re.form = NA``).
        """
        d = self.design
        beta = self.beta
        if newdata is None:
            if include_random:
                return self.fitted().rename("predicted")
            return pd.Series(d.X @ beta, index=d.index, name="predicted")
        if not isinstance(newdata, pd.DataFrame):
            raise SpecificationError("newdata must be a pandas DataFrame.")
        newdata = d.with_safe_columns(newdata)  # Q('pain score') columns
        X = self._new_matrix(d.parsed.fixed, d.fixed_info, newdata, d.fixef_names)
        pred = X @ beta
        if include_random:
            pred = add_random_part(pred, d.terms, self.solution.b, newdata, self._new_matrix)
        return pd.Series(pred, index=newdata.index, name="predicted")

    @staticmethod
    def _new_matrix(
        expr: str, info: Any, newdata: pd.DataFrame, names: tuple[str, ...]
    ) -> np.ndarray:
        if info is None:
            simple = _simple_columns(expr, newdata)
            if simple is None:
                raise SpecificationError(
                    f"newdata lacks the numeric columns of {expr!r}; needed: {list(names)}."
                )
            intercept, cols = simple
            mats = ([np.ones(len(newdata))] if intercept else []) + [
                _as_float(newdata[c]) for c in cols
            ]
            full_names = (["Intercept"] if intercept else []) + cols
            M = np.column_stack(mats)
        else:
            try:
                (mat,) = patsy.build_design_matrices(
                    [info], newdata, NA_action=patsy.NAAction(NA_types=[])
                )
            except patsy.PatsyError as exc:
                raise SpecificationError(
                    f"cannot build {expr!r} for newdata: {exc.message}"
                ) from exc
            M = np.asarray(mat, dtype=float)
            full_names = list(info.column_names)
        pos = [full_names.index(n) for n in names]
        return M[:, pos]

    # -- reporting -------------------------------------------------------------------
    def glance(self) -> pd.DataFrame:
        """One-row model summary.

        Columns: ``nobs, ngroups`` (levels of the first grouping factor in lme4 order),
        ``groups`` (all factors), ``sigma, logLik, AIC, BIC, REMLcrit`` (REML fits) or
        ``deviance`` (ML fits), ``npar, converged, singular, reml, df_method, nevals``,
        ``correlation`` (``"ar1"``, ``"car1"`` or None), ``phi`` (NaN without),
        ``weights`` (``"varIdent(~1 | COL)"`` or None).
        """
        row = {
            "nobs": self.nobs,
            "ngroups": self.design.terms[0].nlevels,
            "groups": ", ".join(f"{k}: {v}" for k, v in self.ngroups.items()),
            "sigma": self.sigma,
            "logLik": self.loglik,
            "AIC": self.aic,
            "BIC": self.bic,
            "REMLcrit": self.objective if self.reml else np.nan,
            "deviance": np.nan if self.reml else self.objective,
            "npar": self.npar,
            "converged": self.converged,
            "singular": self.is_singular,
            "reml": self.reml,
            "df_method": self.df_method,
            "nevals": self.convergence.nevals,
            "correlation": None if self.residual is None else self.residual.spec.correlation,
            "phi": np.nan if self.phi is None else float(self.phi),
            "weights": None
            if self.residual is None or self.residual.spec.weights is None
            else f"varIdent(~1 | {self.residual.spec.weights.column})",
        }
        return pd.DataFrame([row])

    def _coef_table(self) -> pd.DataFrame:
        t = self.tidy()
        cols = {"estimate": "Estimate", "std_error": "Std. Error"}
        tab = t[["term", "estimate", "std_error"]].rename(columns=cols)
        if self.df_method == "satterthwaite":
            tab["df"] = t["df"].to_numpy()
            tab["t value"] = t["statistic"].to_numpy()
            tab["Pr(>|t|)"] = t["p_value"].to_numpy()
        else:
            tab["z value"] = t["statistic"].to_numpy()
            tab["Pr(>|z|)"] = t["p_value"].to_numpy()
        tab["term"] = [_r_name(n) for n in tab["term"]]
        tab = tab.set_index("term")
        tab.index.name = None
        return tab

    def _summary_parts(self) -> dict[str, Any]:
        """The pieces of the summary, formatted as lme4 1.1-31 / lmerTest 3.1-3 print them.

        ``print.summary.merMod`` with ``digits = max(3, getOption("digits") - 3) = 4``:
        residual quantiles ``zapsmall``-ed and printed with 4 digits; variances and standard
        deviations by ``formatVC`` (each column with 4 significant digits, correlations
        with 2 decimals); the coefficient table by ``printCoefmat`` (see
        :mod:`sleeppain.mixed._format`); the correlation of the fixed effects with 3
        decimals under ``abbreviate``-d names when ``1 < p <= 12``.
        """
        digits = 4
        parts: dict[str, Any] = {}
        crit = "REML" if self.reml else "maximum likelihood"
        how = (
            "t-tests use Satterthwaite's method"
            if self.df_method == "satterthwaite"
            else "z-tests (large-sample normal)"
        )
        parts["title"] = f"Linear mixed model fit by {crit}. {how} [sleeppain.lmm]"
        if self.reml:
            parts["criterion"] = (
                ["REML criterion at convergence"],
                [_fmt.format_real([_fmt.r_round(self.objective, 1)], 7)[0]],
            )
        else:
            vals = [self.aic, self.bic, self.loglik, self.objective]
            parts["criterion"] = (
                ["AIC", "BIC", "logLik", "deviance", "df.resid"],
                [
                    *_fmt.format_real([_fmt.r_round(v, 1) for v in vals], 7),
                    str(self.nobs - self.npar),
                ],
            )
        # scaled residuals: quantile (type 7), zapsmall(digits + 1), print(digits)
        q = np.quantile(self.residuals(scaled=True).to_numpy(), [0, 0.25, 0.5, 0.75, 1])
        mx = float(np.max(np.abs(q)))
        zap = max(0.0, digits + 1 - np.log10(mx)) if mx > 0 else digits + 1
        parts["resid"] = (
            ["Min", "1Q", "Median", "3Q", "Max"],
            _fmt.format_real([_fmt.r_round(float(v), zap) for v in q], digits),
        )
        # random effects (lme4's formatVC)
        groups, names, variances, sds, corrs = [], [], [], [], []
        covs = self._term_covs()
        unique_groups = _fmt.make_unique([t.group for t in self.design.terms])
        maxlen = max(t.ncols for t in self.design.terms)
        for t, S, g in zip(self.design.terms, covs, unique_groups, strict=True):
            sd = np.sqrt(np.diag(S))
            with np.errstate(invalid="ignore", divide="ignore"):
                C = S / np.outer(sd, sd)
            np.fill_diagonal(C, 1.0)
            ctxt = _fmt.format_real([_fmt.r_round(v, 2) for v in C.ravel()], 7, nsmall=2)
            for a in range(t.ncols):
                groups.append(g if a == 0 else "")
                names.append(_r_name(t.names[a]))
                variances.append(S[a, a])
                sds.append(sd[a])
                row = [ctxt[a * t.ncols + b] for b in range(a)]
                corrs.append((row + [""] * maxlen)[: maxlen - 1])
        groups.append("Residual")
        names.append("")
        variances.append(self.sigma**2)
        sds.append(self.sigma)
        corrs.append([""] * (maxlen - 1))
        vtxt = _fmt.format_real(variances, digits)
        stxt = _fmt.format_real(sds, digits)
        re_cols = ["Groups", "Name", "Variance", "Std.Dev."]
        if maxlen > 1:
            re_cols += ["Corr"] + [""] * (maxlen - 2)
        re_cells = [
            [g, nm, v, sd_, *c]
            for g, nm, v, sd_, c in zip(groups, names, vtxt, stxt, corrs, strict=True)
        ]
        parts["ranef"] = (re_cols, re_cells)
        parts["structure"] = self._structure_blocks()
        parts["nobs"] = f"Number of obs: {self.nobs}, groups:  " + "; ".join(
            f"{k}, {v}" for k, v in self.ngroups.items()
        )
        # fixed effects (printCoefmat)
        tab = self._coef_table()
        cells, cols, stars = _fmt.coefmat_cells(tab.to_numpy(), list(tab.columns), digits)
        parts["fixef"] = (list(tab.index), cols, cells, stars)
        # correlation of fixed effects
        p = self.design.p
        parts["corr"] = None
        parts["corr_note"] = None
        if 1 < p <= _COR_MAX:
            V = self._vcov
            se = np.sqrt(np.diag(V))
            R = V / np.outer(se, se)
            txt = _fmt.format_real([_fmt.r_round(v, 3) for v in R.ravel()], 7, nsmall=3)
            rn = list(tab.index)
            rows = _fmt.abbreviate(rn, 11)[1:]
            cols = _fmt.abbreviate(rn, 6)[:-1]
            cc = [[txt[i * p + j] if j < i else "" for j in range(p - 1)] for i in range(1, p)]
            parts["corr"] = (rows, cols, cc)
        elif p > _COR_MAX:
            parts["corr_note"] = (
                f"Correlation matrix not shown by default, as p = {p} > {_COR_MAX}; see fit.vcov."
            )
        # messages at the end (lme4's .prt.warn)
        msgs: list[str] = []
        rec = self.convergence
        if rec.warnings or self.is_singular:
            failed = [w for w in rec.warnings if "did not converge" in w]
            code = f"1 ({rec.message})" if failed else "0 (OK)"
            msgs.append(f"optimizer ({rec.optimizer}) convergence code: {code}")
            msgs.extend(rec.warnings)
            if self.is_singular:
                msgs.append("boundary (singular) fit: see help('isSingular')")
        if self.accounting.n_dropped:
            msgs.append(f"{self.accounting.n_dropped} rows dropped (see .accounting)")
        parts["messages"] = msgs
        return parts

    def _structure_blocks(self) -> list[tuple[str, list[str], list[str], list[str]]]:
        """nlme's "Correlation Structure" and "Variance function" blocks.

        Each is ``(title, detail lines, names, values)`` as ``print(summary(lme_fit))``
        prints them (nlme 3.1-162; values with 7 significant digits).
        """
        res = self.residual
        if res is None:
            return []
        group = self.design.terms[0].group
        out = []
        if res.phi is not None:
            kind = "AR(1)" if res.spec.correlation == "ar1" else "Continuous AR(1)"
            out.append(
                (
                    f"Correlation Structure: {kind}",
                    [f" Formula: ~{res.spec.time} | {group}", " Parameter estimate(s):"],
                    ["Phi"],
                    _fmt.format_real([float(res.phi)], 7),
                )
            )
        if res.spec.weights is not None:
            out.append(
                (
                    "Variance function:",
                    [
                        " Structure: Different standard deviations per stratum",
                        f" Formula: ~1 | {res.spec.weights.column}",
                        " Parameter estimates:",
                    ],
                    [str(v) for v in res.strata],
                    _fmt.format_real([float(d) for d in res.delta], 7),
                )
            )
        return out

    def summary(self) -> str:
        """Text summary in the layout of lmerTest's ``summary(fit)``.

        Numbers are formatted as R prints them (lme4 1.1-31, lmerTest 3.1-3, R 4.2.2 with
        the default ``digits = 7``): ``printCoefmat`` columns, ``format.pval`` p-values
        (``< 2e-16`` below machine epsilon), significance stars and their legend, and the
        variance components as ``formatVC``. Trailing blanks of R's lines are dropped.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import sleeppain as sp
        >>> rng = np.random.default_rng(0)
        >>> g = np.repeat(np.arange(12), 6)
        >>> df = pd.DataFrame({"x": rng.normal(size=72), "g": g})
        >>> df["y"] = 2 + df.x + rng.normal(size=12)[g] + rng.normal(size=72)
        >>> text = sp.lmm("y ~ x + (1 | g)", df).summary()
        >>> "Signif. codes:" in text, "Number of obs: 72, groups:  g, 12" in text
        (True, True)
        """
        parts = self._summary_parts()
        lines = [parts["title"], f"Formula: {self.formula}", ""]
        crit_names, crit_vals = parts["criterion"]
        if self.reml:
            lines.append(f"{crit_names[0]}: {crit_vals[0].strip()}")
        else:
            lines += _fmt.named_vector_lines(crit_vals, crit_names)
        lines += ["", "Scaled residuals:"]
        lines += _fmt.named_vector_lines(parts["resid"][1], parts["resid"][0])
        lines += ["", "Random effects:"]
        re_cols, re_cells = parts["ranef"]
        lines += _fmt.matrix_lines(re_cells, re_cols, right=False)
        lines.append(parts["nobs"])
        for title, detail, names, values in parts["structure"]:
            lines += ["", title, *detail]
            lines += _fmt.named_vector_lines(values, names)
        rows, cols, cells, stars = parts["fixef"]
        if rows:  # lme4 prints no block for a model without fixed effects
            lines += ["", "Fixed effects:"]
            lines += _fmt.matrix_lines(cells, cols, rows, right=True)
        if stars:
            lines += ["---", _fmt.SIGNIF_LEGEND]
        if parts["corr"] is not None:
            rows, cols, cells = parts["corr"]
            lines += ["", "Correlation of Fixed Effects:"]
            lines += _fmt.matrix_lines(cells, cols, rows, right=False)
        if parts["corr_note"]:
            lines += ["", parts["corr_note"]]
        lines += parts["messages"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        crit = "REMLcrit" if self.reml else "deviance"
        return (
            f"<LmmResult {self.formula!r}: nobs={self.nobs}, {crit}={self.objective:.4f}, "
            f"converged={self.converged}, singular={self.is_singular}>"
        )

    def _display(self) -> Display:
        """The summary's pieces as a :class:`~sleeppain.results.Display` (for the HTML and
        Markdown renderers of :mod:`sleeppain.report`; ``summary()`` keeps lmerTest's
        text layout). Cells are the strings ``summary()`` prints."""
        parts = self._summary_parts()

        def frame(cols: list[str], cells: list[list[str]], rows: list[str] | None) -> pd.DataFrame:
            uniq = [c if c else " " * (i + 1) for i, c in enumerate(cols)]
            df = pd.DataFrame([[v.strip() for v in r] for r in cells], columns=uniq)
            if rows is not None:
                df.index = rows
            else:
                df.index = [""] * len(df)
            return df

        crit_names, crit_vals = parts["criterion"]
        header = [("Formula", self.formula)]
        header += [(n, v.strip()) for n, v in zip(crit_names, crit_vals, strict=True)]
        header.append(("Observations", parts["nobs"].removeprefix("Number of obs: ")))
        tables = [
            DisplayTable(frame(parts["resid"][0], [parts["resid"][1]], None), "Scaled residuals"),
            DisplayTable(frame(*parts["ranef"], None), "Random effects"),
        ]
        for title, detail, names, values in parts["structure"]:
            tables.append(
                DisplayTable(
                    frame(names, [values], None),
                    title.rstrip(":"),
                    note="; ".join(d.strip() for d in detail[:-1]),
                )
            )
        rows, cols, cells, stars = parts["fixef"]
        if rows:
            tables.append(
                DisplayTable(
                    frame(cols, cells, rows),
                    "Fixed effects",
                    note=_fmt.SIGNIF_LEGEND if stars else "",
                )
            )
        if parts["corr"] is not None:
            rows, cols, cells = parts["corr"]
            tables.append(DisplayTable(frame(cols, cells, rows), "Correlation of Fixed Effects"))
        notes = ([parts["corr_note"]] if parts["corr_note"] else []) + list(parts["messages"])
        return Display(
            title=parts["title"], header=tuple(header), tables=tuple(tables), notes=tuple(notes)
        )
