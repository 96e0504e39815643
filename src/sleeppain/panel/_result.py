"""The frozen result of sp.clpm / sp.riclpm and the chi-square difference test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import SpecificationError
from sleeppain.panel._data import PanelAccounting
from sleeppain.panel._engine import implied
from sleeppain.panel._fit import FitMeasures, ModelFit
from sleeppain.panel._model import PanelModel
from sleeppain.results import (
    Display,
    DisplayTable,
    ResultMixin,
    check_conf_level,
    readonly,
    tidy_frame,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["PanelResult", "PanelSpec", "anova_panel"]

_MODEL_TITLE = {
    "clpm": "Cross-lagged panel model (CLPM)",
    "riclpm": "Random-intercept cross-lagged panel model (RI-CLPM)",
}


@dataclass(frozen=True)
class PanelSpec:
    """The normalised arguments of a panel fit.

    Examples
    --------
    >>> spec = PanelSpec("riclpm", ("sleep", "pain"), (("s1", "s2", "s3"), ("p1", "p2", "p3")),
    ...                  ("1", "2", "3"), (), False, "fiml", False)
    >>> spec.effect_labels()
    ['sleep->sleep', 'pain->sleep', 'sleep->pain', 'pain->pain']
    """

    kind: str
    names: tuple[str, ...]
    obs_names: tuple[tuple[str, ...], ...]
    wave_labels: tuple[str, ...]
    covariates: tuple[str, ...]
    constrained: bool
    missing: str
    long: bool

    def effect_labels(self) -> list[str]:
        """``"u->v"`` for every outcome v and predictor u (outcome-major)."""
        return [f"{u}->{v}" for v in self.names for u in self.names]


@dataclass(frozen=True, eq=False)
class PanelResult(ResultMixin):
    """Result of :func:`sleeppain.clpm` or :func:`sleeppain.riclpm`.

    Attributes
    ----------
    spec : PanelSpec
    model : PanelModel
        The RAM model and its parameter table.
    fit : ModelFit
        The optimiser's record (start and final values, iterations, convergence,
        gradient) and the covariance matrix of the free parameters.
    measures : FitMeasures
        lavaan's fit measures.
    accounting_record : PanelAccounting
        Persons used and dropped, with reasons.
    h1_loglik : float
        Log-likelihood of the unrestricted model.
    fit_warnings : tuple of str
        Warnings issued during the fit (also sent to the caller).

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> rng = np.random.default_rng(3)
    >>> df = pd.DataFrame(rng.normal(size=(200, 6)) + rng.normal(size=(200, 1)),
    ...                   columns=["x1", "x2", "x3", "y1", "y2", "y3"])
    >>> res = sp.riclpm(df, x=["x1", "x2", "x3"], y=["y1", "y2", "y3"], constrained=True)
    >>> list(res.glance().columns[:7])
    ['chisq', 'df', 'pvalue', 'cfi', 'tli', 'rmsea', 'srmr']
    """

    spec: PanelSpec
    model: PanelModel = field(repr=False)
    fit: ModelFit = field(repr=False)
    measures: FitMeasures = field(repr=False)
    accounting_record: PanelAccounting = field(repr=False)
    h1_loglik: float = field(repr=False)
    fit_warnings: tuple[str, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ parameters
    def _params(self) -> pd.DataFrame:
        if "params" in self._cache:
            return self._cache["params"]
        theta, vcov = self.fit.theta, self.fit.vcov
        _, S, _ = self.model.spec.matrices(theta)
        _, _, C = implied(self.model.spec, theta)
        sd = np.sqrt(np.clip(np.diag(C), 0, None))
        # lavaan's std.all: covariances are divided by the SDs of the variables they
        # connect; for (residual) covariances these are the residual SDs
        rsd = np.sqrt(np.clip(np.diag(S), 0, None))
        rows = []
        for r in self.model.table:
            k = r["par"]
            est = theta[k] if k >= 0 else r["value"]
            se = float(np.sqrt(vcov[k, k])) if k >= 0 and vcov[k, k] > 0 else np.nan
            i, j = r["row"], r["col"]
            with np.errstate(divide="ignore", invalid="ignore"):
                if r["matrix"] == "A":
                    std = est * sd[j] / sd[i]
                elif r["matrix"] == "S" and i == j:
                    std = est / sd[i] ** 2 if est != 0 else 0.0
                elif r["matrix"] == "S":
                    std = est / (rsd[i] * rsd[j]) if est != 0 else 0.0
                else:
                    std = est / sd[i]
            term = f"{r['lhs']} ~1" if r["op"] == "~1" else f"{r['lhs']} {r['op']} {r['rhs']}"
            rows.append(
                {
                    "term": term,
                    "lhs": r["lhs"],
                    "op": r["op"],
                    "rhs": r["rhs"],
                    "label": r["label"],
                    "free": k >= 0,
                    "estimate": float(est),
                    "std_error": se,
                    "std_all": float(std),
                    "effect": r["effect"],
                    "wave": int(r["wave"]),
                }
            )
        out = pd.DataFrame(rows)
        self._cache["params"] = out
        return out

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Every parameter, free and fixed, as lavaan's ``parameterEstimates``.

        Columns: the house schema (``term`` is lavaan syntax, e.g. ``"w_y3 ~ w_x2"``;
        ``statistic`` is z, ``df`` NaN for normal inference) then ``lhs, op, rhs, label``
        (equality label of constrained paths), ``free``, ``std_all`` (lavaan's
        ``std.all``), ``effect`` (``"x->y"`` for lagged paths), ``wave`` (outcome wave
        of a lagged path; wave of a within-person (co)variance; 0 otherwise).
        """
        level = check_conf_level(conf_level)
        out = self._params().copy()
        q = stats.norm.ppf(0.5 + level / 2)
        out["statistic"] = out["estimate"] / out["std_error"]
        out["p_value"] = 2 * stats.norm.sf(np.abs(out["statistic"]))
        out["conf_low"] = out["estimate"] - q * out["std_error"]
        out["conf_high"] = out["estimate"] + q * out["std_error"]
        fixed = ~out["free"].to_numpy(bool)
        for c in ("conf_low", "conf_high"):
            out[c] = np.where(fixed, out["estimate"], out[c])
        return tidy_frame(
            out, context=["lhs", "op", "rhs", "label", "free", "std_all", "effect", "wave"]
        )

    def effects(self, conf_level: float = 0.95) -> pd.DataFrame:
        """The lagged (cross-lagged and autoregressive) effects.

        Returns
        -------
        DataFrame
            Indexed by effect ``"x->x", "y->x", "x->y", "y->y"`` (in the ``names=``
            given, outcome by outcome). With ``constrained=False`` one row per effect and
            outcome wave, with a ``wave`` column; with ``constrained=True`` one row per
            effect, and ``std_all`` is the mean of the per-wave standardised values.
            Columns ``estimate, std_error, statistic, p_value, conf_low, conf_high,
            std_all``.
        """
        tab = self.tidy(conf_level)
        tab = tab[tab["effect"] != ""]
        cols = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
        order = {e: i for i, e in enumerate(self.spec.effect_labels())}
        if self.spec.constrained:
            g = tab.groupby("effect", sort=False)
            out = g[cols].first()
            out["std_all"] = g["std_all"].mean()
            out = out.loc[sorted(out.index, key=order.__getitem__)]
        else:
            tab = tab.assign(_o=tab["effect"].map(order)).sort_values(["_o", "wave"], kind="stable")
            out = tab.set_index("effect")[["wave", *cols, "std_all"]]
        out.index.name = "effect"
        return out.copy()

    def glance(self) -> pd.DataFrame:
        """One row: lavaan's fit measures, the sample and the optimiser's record."""
        m = self.measures
        return pd.DataFrame(
            [
                {
                    "chisq": m.chisq,
                    "df": m.df,
                    "pvalue": m.pvalue,
                    "cfi": m.cfi,
                    "tli": m.tli,
                    "rmsea": m.rmsea,
                    "srmr": m.srmr,
                    "rmsea_ci_lower": m.rmsea_ci_lower,
                    "rmsea_ci_upper": m.rmsea_ci_upper,
                    "rmsea_pvalue": m.rmsea_pvalue,
                    "baseline_chisq": m.baseline_chisq,
                    "baseline_df": m.baseline_df,
                    "logLik": m.loglik,
                    "unrestricted_logLik": m.unrestricted_loglik,
                    "AIC": m.aic,
                    "BIC": m.bic,
                    "npar": m.npar,
                    "nobs": m.ntotal,
                    "persons": self.accounting_record.persons,
                    "waves": len(self.spec.wave_labels),
                    "model": self.spec.kind,
                    "constrained": self.spec.constrained,
                    "missing": self.spec.missing,
                    "information": self.fit.information,
                    "converged": self.fit.converged,
                    "iterations": self.fit.iterations,
                }
            ]
        )

    def accounting(self) -> PanelAccounting:
        """Persons in, used and dropped (with reasons), and missing values per column.

        An :class:`~sleeppain.accounting.Accounting` record (``summary()``, ``tidy()``,
        ``to_frame()``).
        """
        return self.accounting_record

    @property
    def estimates(self) -> np.ndarray:
        """Free parameters, in :attr:`PanelModel.free_names` order (read-only)."""
        return readonly(self.fit.theta)

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the free parameters."""
        names = list(self.model.free_names)
        return pd.DataFrame(self.fit.vcov.copy(), index=names, columns=names)

    def implied(self) -> tuple[pd.DataFrame, pd.Series]:
        """Model-implied covariance matrix and means of the observed variables."""
        sigma, mu, _ = implied(self.model.spec, self.fit.theta)
        names = list(self.model.node_names[: self.model.spec.n_obs])
        return (
            pd.DataFrame(sigma.copy(), index=names, columns=names),
            pd.Series(mu.copy(), index=names),
        )

    def lavaan_syntax(self) -> str:
        """The model in lavaan syntax (fit with ``lavaan(..., meanstructure = TRUE)``).

        Equality constraints use labels ``b_<predictor>_<outcome>``.
        """
        lines: list[str] = []
        by: dict[tuple[str, str], list[str]] = {}
        for r in self.model.table:
            if r["op"] == "~1":
                continue
            if r["op"] == "=~":
                by.setdefault((r["lhs"], "=~"), []).append(f"1*{r['rhs']}")
            elif r["op"] == "~":
                pre = ""
                if r["label"]:
                    u, v = r["label"].split("->")
                    pre = f"b_{u}_{v}*"
                by.setdefault((r["lhs"], "~"), []).append(pre + r["rhs"])
            else:
                pre = "" if r["par"] >= 0 else f"{r['value']:.10g}*"
                lines.append(f"{r['lhs']} ~~ {pre}{r['rhs']}")
        head = [f"{lhs} {op} {' + '.join(rhs)}" for (lhs, op), rhs in by.items()]
        return "\n".join(head + lines)

    # ------------------------------------------------------------ display
    def _display(self) -> Display:
        m = self.measures
        a = self.accounting_record
        title = _MODEL_TITLE[self.spec.kind]
        header = (
            ("Variables", ", ".join(self.spec.names)),
            ("Waves", f"{len(self.spec.wave_labels)} ({', '.join(self.spec.wave_labels)})"),
            ("Lagged paths", "equal over waves" if self.spec.constrained else "free per wave"),
            (
                "Estimator",
                "ML, "
                + (
                    "full-information (FIML)"
                    if self.spec.missing == "fiml"
                    else "listwise deletion"
                )
                + f"; {self.fit.information} information",
            ),
            ("Persons", f"{a.persons_used:,} used of {a.persons:,}"),
            ("Chi-square", f"{m.chisq:.3f} on {m.df} df, p = {_fmt_p(m.pvalue)}"),
            ("CFI / TLI", f"{m.cfi:.3f} / {m.tli:.3f}"),
            ("RMSEA", f"{m.rmsea:.3f} (90% CI {m.rmsea_ci_lower:.3f} to {m.rmsea_ci_upper:.3f})"),
            ("SRMR", f"{m.srmr:.3f}"),
            ("logLik / AIC / BIC", f"{m.loglik:.2f} / {m.aic:.2f} / {m.bic:.2f}"),
        )
        eff = self.effects()
        if not self.spec.constrained:
            eff = eff.reset_index().set_index(["effect", "wave"])
        var = self.tidy()
        var = var[(var["op"] == "~~") & var["free"]].set_index("term")[
            ["estimate", "std_error", "p_value", "std_all"]
        ]
        notes = [self.accounting_record.text()]
        if not self.fit.converged:
            notes.append("The optimiser did not converge: treat the estimates with caution.")
        notes += list(self.fit_warnings)
        tables = [
            DisplayTable(eff, title="Lagged effects", note="std_all: lavaan's std.all."),
        ]
        if self.spec.covariates:
            cov = self.tidy()
            cov = cov[(cov["op"] == "~") & (cov["effect"] == "")].set_index("term")[
                ["estimate", "std_error", "p_value", "std_all"]
            ]
            tables.append(DisplayTable(cov, title="Covariates -> random intercepts"))
        tables.append(DisplayTable(var, title="Variances and covariances"))
        return Display(
            title=title,
            header=header,
            tables=tuple(tables),
            notes=tuple(notes),
        )

    def plot(self, ax: Axes | None = None, *, standardized: bool = True) -> Axes:
        """Path diagram of the model with the lagged estimates; returns the Axes.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        standardized : bool
            Label paths with ``std_all`` (default) or the unstandardised estimate.
        """
        from sleeppain.panel._plot import path_diagram

        return path_diagram(self, ax=ax, standardized=standardized)


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def anova_panel(*fits: PanelResult, names: list[str] | None = None) -> pd.DataFrame:
    """Chi-square difference test of nested panel models (lavaan's ``anova``).

    Models are ordered by degrees of freedom (most constrained last) and each is tested
    against the model with the next smaller df, e.g. a constrained against a free
    RI-CLPM, or the CLPM against the RI-CLPM. Fits must use the same persons and
    variables. Note: when the restriction puts a variance on the boundary (CLPM vs
    RI-CLPM) the test is conservative (Stoel et al. 2006); lavaan reports it the same way.

    Returns
    -------
    DataFrame
        Indexed by model: ``Df, AIC, BIC, Chisq, Chisq diff, Df diff, Pr(>Chisq)``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> rng = np.random.default_rng(4)
    >>> df = pd.DataFrame(rng.normal(size=(150, 6)) + rng.normal(size=(150, 1)),
    ...                   columns=["x1", "x2", "x3", "y1", "y2", "y3"])
    >>> kw = dict(x=["x1", "x2", "x3"], y=["y1", "y2", "y3"])
    >>> tab = sp.panel.anova_panel(sp.riclpm(df, **kw), sp.clpm(df, **kw))
    >>> tab["Df diff"].tolist()[1]
    3.0
    """
    if len(fits) < 2:
        raise SpecificationError(
            "anova_panel needs at least two fits, e.g. (clpm_fit, riclpm_fit)."
        )
    for f in fits:
        if not isinstance(f, PanelResult):
            raise SpecificationError(
                f"anova_panel compares sp.clpm / sp.riclpm results, got {type(f).__name__}."
            )
    labels = (
        list(names)
        if names is not None
        else [f"{f.spec.kind}{'_constrained' if f.spec.constrained else ''}" for f in fits]
    )
    if len(labels) != len(fits) or len(set(labels)) != len(labels):
        labels = [f"model{i + 1}" for i in range(len(fits))]
    ref = fits[0]
    for f in fits[1:]:
        same = (
            f.measures.ntotal == ref.measures.ntotal
            and f.spec.obs_names == ref.spec.obs_names
            and f.spec.covariates == ref.spec.covariates
            and f.spec.missing == ref.spec.missing
            and np.isclose(f.h1_loglik, ref.h1_loglik, rtol=1e-8, atol=1e-6)
        )
        if not same:
            raise SpecificationError(
                "the fits are not to the same data (persons, waves, variables or missing= "
                "differ), so their chi-squares cannot be compared."
            )
    order = sorted(range(len(fits)), key=lambda i: fits[i].measures.df)
    rows = []
    prev = None
    for i in order:
        m = fits[i].measures
        row = {
            "model": labels[i],
            "Df": m.df,
            "AIC": m.aic,
            "BIC": m.bic,
            "Chisq": m.chisq,
            "Chisq diff": np.nan,
            "Df diff": np.nan,
            "Pr(>Chisq)": np.nan,
        }
        if prev is not None:
            d = m.chisq - prev.chisq
            ddf = m.df - prev.df
            row["Chisq diff"] = d
            row["Df diff"] = float(ddf)
            row["Pr(>Chisq)"] = float(stats.chi2.sf(d, ddf)) if ddf > 0 else np.nan
        rows.append(row)
        prev = m
    return pd.DataFrame(rows).set_index("model")
