"""The frozen result of :func:`sleeppain.network`: :class:`NetworkResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import SpecificationError
from sleeppain.results import (
    Display,
    DisplayTable,
    ResultMixin,
    check_conf_level,
    readonly,
    tidy_frame,
)

__all__ = ["NetworkResult"]


@dataclass(frozen=True, eq=False)
class NetworkResult(ResultMixin):
    """Result of :func:`sleeppain.network` (immutable; accessors return copies).

    Attributes
    ----------
    variables : tuple of str
        The nodes, in the order of every matrix.
    sleep : tuple of str
        Variables on the night index.
    method : {"mlvar", "n1_ols"}
        Multilevel VAR (mlVAR's lmer estimator) or a single person's VAR by least squares.
    random : {"orthogonal", "correlated", "fixed", "none"}
    reml, detrend : bool
    coef, coef_se : ndarray, shape (k, k)
        Lag-1 effects ``[outcome, predictor]`` and their standard errors (model-based for
        mlVAR, HC3 for the N-of-1 VAR).
    contemporaneous_pcor : ndarray, shape (k, k)
    between_pcor, between_gamma, intercept_sd : ndarray or None
        Between-person network, person-mean coefficients and random-intercept SDs (mlVAR).
    person_ids : tuple
    person_coef : ndarray, shape (persons, k, k), or None
        Person-specific temporal networks (fixed effect plus conditional mode; NaN for a
        person absent from an outcome's model).
    fits : tuple
        One :class:`~sleeppain.LmmResult` per outcome (mlVAR) or a dict of the OLS fit. The
        mixed models are fitted on internal columns: ``_Y{j}`` (outcome ``j``), ``_L{i}``
        (lagged, person-mean-centred variable ``i``) and ``_B{i}`` (its centred person
        mean), each predictor divided by :attr:`predictor_scale` (its SD) so that the
        optimiser sees well-scaled columns; :attr:`temporal` and the networks are on the
        original scale.
    accounting : DataFrame
        Per outcome: rows, missing outcome, missing lag, used, persons.
    n_contemporaneous_rows : int
        Rows with every outcome's residual (used for the contemporaneous network).
    nights_added : int
        Rows of the Diary added to hold sleep ratings (counted in the accounting's rows).

    Examples
    --------
    >>> import sleeppain as sp
    >>> diary = sp.datasets.sample_diary(as_diary=True)
    >>> res = sp.network(diary, variables=["sleep_quality", "pain"], random="fixed")
    >>> res.temporal.shape
    (2, 2)
    """

    variables: tuple[str, ...]
    sleep: tuple[str, ...]
    method: str
    random: str
    reml: bool
    detrend: bool
    coef: np.ndarray = field(repr=False)
    coef_se: np.ndarray = field(repr=False)
    contemporaneous_pcor: np.ndarray = field(repr=False)
    between_pcor: np.ndarray | None = field(repr=False)
    between_gamma: np.ndarray | None = field(repr=False)
    intercept_sd: np.ndarray | None = field(repr=False)
    person_ids: tuple[Any, ...] = field(repr=False)
    person_coef: np.ndarray | None = field(repr=False)
    fits: tuple[Any, ...] = field(repr=False)
    _accounting: pd.DataFrame = field(repr=False)
    n_contemporaneous_rows: int = 0
    n_persons: int = 0
    intercepts: np.ndarray | None = field(default=None, repr=False)
    scales: Any = field(default=None, repr=False)
    nights_added: int = 0

    def __post_init__(self) -> None:
        for name in (
            "coef",
            "coef_se",
            "contemporaneous_pcor",
            "between_pcor",
            "between_gamma",
            "intercept_sd",
            "person_coef",
            "intercepts",
        ):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                arr.flags.writeable = False
        object.__setattr__(
            self, "fits", tuple(readonly(f) if isinstance(f, dict) else f for f in self.fits)
        )
        if self.scales is not None:
            object.__setattr__(self, "scales", readonly(dict(self.scales)))

    @property
    def accounting(self) -> pd.DataFrame:
        """Rows per outcome model: rows, missing outcome, missing lag, used, persons (a copy)."""
        return self._accounting.copy()

    @property
    def predictor_scale(self) -> pd.Series | None:
        """SD each internal predictor column was divided by in the fits (mlVAR only)."""
        return None if self.scales is None else pd.Series(self.scales, name="scale")

    # -------------------------------------------------------------- matrices
    def _mat(self, a: np.ndarray) -> pd.DataFrame:
        v = list(self.variables)
        out = pd.DataFrame(np.array(a, dtype=float), index=v, columns=v)
        out.index.name = "outcome"
        out.columns.name = "predictor"
        return out

    @property
    def temporal(self) -> pd.DataFrame:
        """Lag-1 effects: rows are outcomes (day *d*), columns predictors (day *d - 1*)."""
        return self._mat(self.coef)

    @property
    def temporal_se(self) -> pd.DataFrame:
        """Standard errors of :attr:`temporal`."""
        return self._mat(self.coef_se)

    def _edge_df(self) -> np.ndarray:
        """Reference df of each outcome's tests: inf (z, as mlVAR) or the N-of-1 residual df.

        The N-of-1 VAR uses t tests on the least-squares residual df, as
        ``lmtest::coeftest(fit, vcov = sandwich::vcovHC(fit, type = "HC3"))`` does for an
        ``lm`` fit: on a short series a z test would be anti-conservative.
        """
        if self.method == "n1_ols":
            return np.array([float(f["df_resid"]) for f in self.fits])
        return np.full(len(self.variables), np.inf)

    @property
    def temporal_p(self) -> pd.DataFrame:
        """Two-sided p-values of :attr:`temporal`: z tests for mlVAR (as mlVAR), t tests on
        the residual df for the N-of-1 VAR (as ``lmtest::coeftest`` with HC3)."""
        df = self._edge_df()[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._mat(2.0 * stats.t.sf(np.abs(self.coef / self.coef_se), df))

    @property
    def contemporaneous(self) -> pd.DataFrame:
        """Partial correlations of the within-person residuals (symmetric, zero diagonal)."""
        out = self._mat(self.contemporaneous_pcor)
        out.index.name = out.columns.name = None
        return out

    @property
    def between(self) -> pd.DataFrame | None:
        """Between-person partial correlations (None for an N-of-1 VAR)."""
        if self.between_pcor is None:
            return None
        out = self._mat(self.between_pcor)
        out.index.name = out.columns.name = None
        return out

    def person_network(self, person: Any) -> pd.DataFrame:
        """The temporal network of one person (fixed effects plus that person's modes).

        Raises
        ------
        SpecificationError
            For an N-of-1 VAR or ``random="fixed"`` (no person-specific slopes), or an
            unknown id.
        """
        if self.person_coef is None:
            raise SpecificationError(
                "person-specific networks need random lag slopes: fit with "
                "random='orthogonal' or 'correlated' on several persons."
            )
        try:
            i = self.person_ids.index(person)
        except ValueError:
            raise SpecificationError(
                f"person {person!r} is not in this fit; ids are e.g. {list(self.person_ids[:5])}."
            ) from None
        return self._mat(self.person_coef[i])

    @property
    def person_networks(self) -> np.ndarray | None:
        """All person-specific temporal networks, shape (persons, k, k) (read-only copy)."""
        return None if self.person_coef is None else readonly(self.person_coef)

    # ------------------------------------------------------------- contract
    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Every edge: temporal (with SE, z, p, CI), contemporaneous and between (estimates).

        Context columns ``network`` (``temporal``, ``contemporaneous``, ``between``),
        ``outcome`` and ``predictor``; ``term`` reads ``"predictor -> outcome"`` for
        temporal edges and ``"a -- b"`` for undirected ones.
        """
        conf_level = check_conf_level(conf_level)
        v = self.variables
        dfs = self._edge_df()
        rows = []
        for j, out in enumerate(v):
            crit = float(stats.t.ppf(0.5 + conf_level / 2, dfs[j]))
            for i, pred in enumerate(v):
                b, s = float(self.coef[j, i]), float(self.coef_se[j, i])
                z = b / s if s > 0 else np.nan
                rows.append(
                    {
                        "term": f"{pred} -> {out}",
                        "estimate": b,
                        "std_error": s,
                        "statistic": z,
                        "df": float(dfs[j]),
                        "p_value": float(2 * stats.t.sf(abs(z), dfs[j])),
                        "conf_low": b - crit * s,
                        "conf_high": b + crit * s,
                        "network": "temporal",
                        "outcome": out,
                        "predictor": pred,
                    }
                )
        for name, mat in (
            ("contemporaneous", self.contemporaneous_pcor),
            ("between", self.between_pcor),
        ):
            if mat is None:
                continue
            for j in range(len(v)):
                for i in range(j + 1, len(v)):
                    rows.append(
                        {
                            "term": f"{v[j]} -- {v[i]}",
                            "estimate": float(mat[j, i]),
                            "network": name,
                            "outcome": v[j],
                            "predictor": v[i],
                        }
                    )
        return tidy_frame(pd.DataFrame(rows), context=["network", "outcome", "predictor"])

    def glance(self) -> pd.DataFrame:
        """One row per outcome model: nobs, persons, logLik, AIC, BIC, converged, singular."""
        rows = []
        for j, f in enumerate(self.fits):
            base = {"outcome": self.variables[j], "method": self.method}
            if isinstance(f, dict):
                base |= {"nobs": f["nobs"], "persons": 1, "df_resid": f["df_resid"]}
            else:
                base |= {
                    "nobs": f.nobs,
                    "persons": int(self.accounting["persons"].iloc[j]),
                    "logLik": f.loglik,
                    "AIC": f.aic,
                    "BIC": f.bic,
                    "converged": f.converged,
                    "singular": f.is_singular,
                }
            rows.append(base)
        return pd.DataFrame(rows)

    def _display(self) -> Display:
        re = {
            "orthogonal": "uncorrelated random intercept and lag slopes",
            "correlated": "correlated random intercept and lag slopes",
            "fixed": "random intercepts only",
        }.get(self.random, self.random)
        kind = (
            f"multilevel VAR (mlVAR lmer estimator, {re}, {'REML' if self.reml else 'ML'})"
            if self.method == "mlvar"
            else "N-of-1 VAR (least squares, HC3 robust SEs, t tests on the residual df)"
        )
        header = (
            ("Model", kind),
            ("Variables", ", ".join(self.variables)),
            ("Sleep (night index)", ", ".join(self.sleep) or "none"),
            ("Persons", str(self.n_persons)),
            ("Detrended", "yes" if self.detrend else "no"),
        )
        temp = self.tidy()
        temp = temp[temp["network"] == "temporal"].set_index("term")[
            ["estimate", "std_error", "statistic", "p_value"]
        ]
        tables = [
            DisplayTable(temp, "Temporal network (lag 1; predictor -> outcome)"),
            DisplayTable(
                self.contemporaneous,
                "Contemporaneous network (partial correlations of residuals)",
                note=f"{self.n_contemporaneous_rows} rows with every residual observed.",
            ),
        ]
        if self.between is not None:
            tables.append(
                DisplayTable(self.between, "Between-person network (partial correlations)")
            )
        tables.append(DisplayTable(self.accounting.set_index("outcome"), "Rows per outcome model"))
        notes = []
        if self.method == "mlvar":
            notes.append(
                "Lagged predictors are centred at each person's mean; other variables' person "
                "means enter as between-person covariates. Reference: Epskamp, Waldorp, Mõttus "
                "& Borsboom (2018), Multivariate Behavioral Research 53:453."
            )
        from sleeppain.multivariate._prep import added_nights_note

        day_vars = [v for v in self.variables if v not in self.sleep]
        if self.sleep and day_vars:
            s0, d0 = self.sleep[0], day_vars[0]
            notes.append(
                "Timing: sleep variables sit on the night index (night n follows day n), so "
                f"a temporal edge {s0} -> {d0} is night n-1 -> day n (the night before the "
                f"day), and {d0} -> {s0} is day n-1 -> night n (the day before last night). "
                f"How a day's {d0} goes with the night that follows it (day n -> night n, "
                "sp.crosslag's pain->sleep) is in the contemporaneous network, undirected."
            )
        if self.nights_added:
            notes.append(added_nights_note(self.nights_added))
        return Display(
            title="Network of diary variables",
            header=header,
            tables=tuple(tables),
            notes=tuple(notes),
        )

    def plot(self, threshold: float = 0.05, *, ax: Any = None) -> Any:
        """Three network drawings: temporal, contemporaneous, between.

        Edge width shows strength, colour the sign (blue positive, red negative); edges with
        ``|weight| < threshold`` are not drawn (the threshold is stated in the titles).
        Temporal edges are arrows (self-loops as rings). ``ax`` may be a sequence of three
        Axes; returns the array of Axes.
        """
        from sleeppain.multivariate._plots import plot_networks

        return plot_networks(self, threshold=threshold, ax=ax)
