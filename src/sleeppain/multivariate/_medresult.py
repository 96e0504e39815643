"""The frozen result of :func:`sleeppain.mediation`: :class:`MediationResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.results import Display, DisplayTable, ResultMixin, tidy_frame

__all__ = ["MediationResult"]

EFFECTS = ("a", "b", "c_prime", "cov_ab", "indirect", "total")


@dataclass(frozen=True, eq=False)
class MediationResult(ResultMixin):
    """Result of :func:`sleeppain.mediation` (immutable; accessors return copies).

    Attributes
    ----------
    x, m, y : str
    x_is_sleep : bool
    covariates, random : tuple of str
    reml : bool
    engine : {"lmm", "profile"}
        Which fit of the varIdent model was used (see :mod:`sleeppain.multivariate._mediate`).
    estimates : ndarray (4,)
        a, b, c', cov(a_j, b_j).
    vcov_abc : ndarray (3, 3)
        Sampling covariance of a, b, c'.
    se_cov_ab : float
        Delta-method SE of cov(a_j, b_j) from the observed information of the variance
        parameters.
    draws : ndarray (n_draws, 6)
        Monte Carlo draws of the six effects.
    fixef : Series
        All fixed effects of the stacked model (``Sm, Sm_x, Sm_xb, Sy, Sy_m, Sy_x, Sy_mb,
        Sy_xb`` and covariates).
    random_cov : DataFrame
        Covariance matrix of the random effects (``Sm, Sm_x, Sy, Sy_m``...).
    sigma, delta : float
        Residual SD of the mediator equation; SD ratio outcome / mediator.
    loglik : float
        nlme's log-likelihood (REML or ML) of the stacked model.
    n_pairs, n_persons : int
    accounting : DataFrame
        Rows of the diary, dropped by reason, pairs used.
    fit : object
        The stacked model's fit: a view of an :class:`~sleeppain.LmmResult` with the
        stacked names (``fit.lmm_result`` is the LmmResult itself). With the ``"profile"``
        engine that LmmResult is the homoscedastic fit of the rescaled data at the
        estimated ``delta`` (outcome rows divided by ``delta``); its log-likelihood lacks
        the ``- n_y log(delta)`` of :attr:`loglik`.
    nights_added : int
        Rows of the Diary added to hold sleep ratings (counted in the accounting's rows).
    caveats : tuple of str
        Notes on a weakly identified random-effect covariance (an intercept correlation
        beyond 0.95 in absolute value, a poorly determined variance); shown in the summary.

    Examples
    --------
    >>> import sleeppain as sp
    >>> from sleeppain.multivariate._simulate import simulate_mediation
    >>> df = simulate_mediation(60, 20, seed=0)
    >>> res = sp.mediation(df, id="id", day="day", x="x", m="m", y="y", seed=1, n_draws=2000)
    >>> res.effects().index.tolist()
    ['a', 'b', 'c_prime', 'cov_ab', 'indirect', 'total']
    """

    x: str
    m: str
    y: str
    x_is_sleep: bool
    covariates: tuple[str, ...]
    random: tuple[str, ...]
    reml: bool
    engine: str
    estimates: np.ndarray = field(repr=False)
    vcov_abc: np.ndarray = field(repr=False)
    se_cov_ab: float = field(repr=False)
    draws: np.ndarray = field(repr=False)
    conf_level: float = 0.95
    n_draws: int = 20000
    seed: Any = None
    _fixef: pd.Series = field(default=None, repr=False)  # type: ignore[assignment]
    _random_cov: pd.DataFrame = field(default=None, repr=False)  # type: ignore[assignment]
    sigma: float = np.nan
    delta: float = np.nan
    loglik: float = np.nan
    n_pairs: int = 0
    n_persons: int = 0
    _accounting: pd.DataFrame = field(default=None, repr=False)  # type: ignore[assignment]
    fit: Any = field(default=None, repr=False)
    vcov_varpar: np.ndarray | None = field(default=None, repr=False)
    profile_evals: int = 0
    nights_added: int = 0
    caveats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("estimates", "vcov_abc", "draws", "vcov_varpar"):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                arr.flags.writeable = False

    @property
    def fixef(self) -> pd.Series:
        """All fixed effects of the stacked model (a copy)."""
        return self._fixef.copy()

    @property
    def random_cov(self) -> pd.DataFrame:
        """Covariance matrix of the random effects (a copy)."""
        return self._random_cov.copy()

    @property
    def accounting(self) -> pd.DataFrame:
        """Rows of the diary, dropped by reason, pairs used (a copy)."""
        return self._accounting.copy()

    def effects(self) -> pd.DataFrame:
        """The six effects, indexed ``a, b, c_prime, cov_ab, indirect, total``.

        Columns ``estimate, std_error, conf_low, conf_high, method``: Wald (normal)
        intervals for a, b, c' and cov(a_j, b_j); Monte Carlo percentile intervals for the
        indirect and total effects, whose ``std_error`` is the SD of the draws.
        """
        a, b, c, cv = (float(v) for v in self.estimates)
        se = np.sqrt(np.diag(self.vcov_abc))
        z = stats.norm.ppf(0.5 + self.conf_level / 2)
        rows = []
        for name, est, s in (
            ("a", a, se[0]),
            ("b", b, se[1]),
            ("c_prime", c, se[2]),
            ("cov_ab", cv, self.se_cov_ab),
        ):
            rows.append((name, est, s, est - z * s, est + z * s, "wald"))
        lo, hi = 50 * (1 - self.conf_level), 50 * (1 + self.conf_level)
        for name, est, col in (("indirect", a * b + cv, 4), ("total", c + a * b + cv, 5)):
            d = self.draws[:, col]
            rows.append(
                (
                    name,
                    est,
                    float(d.std(ddof=1)),
                    float(np.percentile(d, lo)),
                    float(np.percentile(d, hi)),
                    "monte_carlo",
                )
            )
        out = pd.DataFrame(
            rows, columns=["effect", "estimate", "std_error", "conf_low", "conf_high", "method"]
        )
        return out.set_index("effect")

    def tidy(self) -> pd.DataFrame:
        """The effects in the house schema (``term`` = effect name; context ``method``)."""
        e = self.effects().reset_index().rename(columns={"effect": "term"})
        e["statistic"] = e["estimate"] / e["std_error"]
        e["p_value"] = np.where(
            e["method"] == "wald", 2 * stats.norm.sf(np.abs(e["statistic"])), np.nan
        )
        e.loc[e["method"] != "wald", "statistic"] = np.nan
        e["df"] = np.inf
        return tidy_frame(e, context=["method"])

    def glance(self) -> pd.DataFrame:
        """One row: pairs, persons, logLik, sigma, delta, engine, draws, conf_level."""
        return pd.DataFrame(
            [
                {
                    "nobs": 2 * self.n_pairs,
                    "pairs": self.n_pairs,
                    "persons": self.n_persons,
                    "logLik": self.loglik,
                    "sigma_m": self.sigma,
                    "sigma_y": self.sigma * self.delta,
                    "delta": self.delta,
                    "reml": self.reml,
                    "engine": self.engine,
                    "n_draws": self.n_draws,
                    "conf_level": self.conf_level,
                }
            ]
        )

    @property
    def draws_frame(self) -> pd.DataFrame:
        """The Monte Carlo draws as a DataFrame (a copy)."""
        return pd.DataFrame(np.array(self.draws), columns=list(EFFECTS))

    def _display(self) -> Display:
        from sleeppain.multivariate._prep import added_nights_note

        when = "night" if self.x_is_sleep else "day"
        header = (
            ("Model", "stacked 1-1-1 within-person mediation (Bauer, Preacher & Gil 2006)"),
            ("Path", f"{self.x} ({when} d) -> {self.m} (day d+1) -> {self.y} (day d+1)"),
            ("Persons / pairs", f"{self.n_persons} / {self.n_pairs}"),
            (
                "Estimation",
                f"{'REML' if self.reml else 'ML'}, varIdent by equation ({self.engine})",
            ),
            ("Residual SD", f"mediator {self.sigma:.4g}, outcome {self.sigma * self.delta:.4g}"),
            ("logLik", f"{self.loglik:.3f}"),
        )
        eff = self.effects()
        rc = self.random_cov
        return Display(
            title="Within-person mediation",
            header=header,
            tables=(
                DisplayTable(
                    eff,
                    "Effects",
                    note=f"Monte Carlo: {self.n_draws} draws, conf_level {self.conf_level:g}.",
                ),
                DisplayTable(rc, "Random-effect covariance"),
                DisplayTable(self.accounting, "Rows"),
            ),
            notes=(
                "indirect = a*b + cov(a_j, b_j); total = c' + indirect. Predictors centred at "
                "person means; person means enter as between-person covariates.",
                *([added_nights_note(self.nights_added)] if self.nights_added else []),
                *self.caveats,
            ),
        )

    def plot(self, *, ax: Any = None) -> Any:
        """Path diagram x -> m -> y with a, b, c' and the indirect and total effects."""
        from sleeppain.multivariate._plots import plot_paths

        return plot_paths(self, ax=ax)
