"""The frozen result of :func:`sleeppain.dsem`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sleeppain.dynamics import _diagnostics as diag
from sleeppain.dynamics._arrays import DsemAccounting
from sleeppain.dynamics._spec import COEFS, DIRECTION_OF, DsemSpec
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

__all__ = ["DsemResult"]

#: effects() columns (those of CrossLagResult.effects(), then the MCMC diagnostics)
EFFECT_COLUMNS = [
    "estimate",
    "std_error",
    "df",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "std_estimate",
    "slope_sd",
    "n_obs",
    "n_persons",
    "p_holm",
    "rhat",
    "ess_bulk",
    "ess_tail",
]
_TERM_OF = {v: k for k, v in DIRECTION_OF.items()}


def _term_name(coef: str, spec: DsemSpec) -> str:
    if coef in _TERM_OF:
        return _TERM_OF[coef]
    base = {
        "mu_pain": f"mean({spec.pain})",
        "mu_sleep": f"mean({spec.sleep})",
        "logvar_pain": f"logvar({spec.pain})",
        "logvar_sleep": f"logvar({spec.sleep})",
    }
    return base[coef]


def _covariate_note(acc: DsemAccounting) -> str:
    """Observed values imputed because of their day-level covariate, for the summary."""
    parts = []
    if acc.values_missing_covariate:
        parts.append(
            f"{acc.values_missing_covariate} observed values missing a day-level covariate"
        )
    out = f" (including {parts[0]})" if parts else ""
    if acc.presample_covariate:
        out += f"; {acc.presample_covariate} latent pre-sample covariate values"
    return out


@dataclass(frozen=True, eq=False)
class DsemResult(ResultMixin):
    """Result of :func:`sleeppain.dsem`: posterior draws of the latent-centred dynamic model.

    Attributes
    ----------
    spec : DsemSpec
        The model and sampler settings.
    draws : mapping
        term -> ``(chains, draws)`` array of posterior draws in the data's units (every
        parameter of :meth:`tidy`).
    internal : mapping
        The four within-person coefficients on the internal (within-SD standardised)
        scale, term -> ``(chains, draws)``.
    person_draws : ndarray (chains, kept, persons, 8)
        Thinned draws of every person's coefficients, in the data's units (order
        :data:`~sleeppain.dynamics.COEFS`).
    ids : pandas.Index
        Person ids, in the order of ``person_draws``.
    accounting : DsemAccounting
    diary_accounting : DiaryAccounting
    seed_entropy : int
        Entropy of the root SeedSequence (pass it as ``seed`` to repeat the run).
    seconds : float
        Sampling time.
    sampler : mapping
        Sampler record (chains, warmup, draws, n_jobs used, kept person draws, MH
        acceptance rate of random log-variances).
    fit_warnings : tuple of (category, message)

    Examples
    --------
    See :func:`sleeppain.dsem` for a fit; then

    >>> res.effects()[["estimate", "conf_low", "conf_high", "rhat"]]  # doctest: +SKIP
    >>> res.tidy().query("effect == 'random'")  # doctest: +SKIP
    >>> res.person_effects().query("term == 'sleep->pain'")  # doctest: +SKIP
    >>> res.plot_effects()  # doctest: +SKIP
    """

    spec: DsemSpec
    draws: Mapping[str, np.ndarray] = field(repr=False)
    internal: Mapping[str, np.ndarray] = field(repr=False)
    person_draws: np.ndarray = field(repr=False)
    ids: pd.Index = field(repr=False)
    accounting: DsemAccounting = field(repr=False)
    diary_accounting: Any = field(repr=False)
    seed_entropy: int = 0
    seconds: float = 0.0
    sampler: Mapping[str, Any] = field(default_factory=dict, repr=False)
    fit_warnings: tuple[tuple[str, str], ...] = ()
    term_info: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    _diary: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # everything handed out is read-only: mappings become read-only views of read-only
        # arrays, so nothing a caller does to them can change the result
        for name in ("draws", "internal", "person_draws", "sampler", "term_info"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    # ------------------------------------------------------------ diagnostics
    @cached_property
    def _diagnostics(self) -> pd.DataFrame:
        rows = []
        for term, x in self.draws.items():
            rows.append(
                {
                    "term": term,
                    "rhat": diag.rhat(x),
                    "ess_bulk": diag.ess_bulk(x),
                    "ess_tail": diag.ess_tail(x),
                    "mcse_mean": diag.mcse_mean(x),
                }
            )
        return pd.DataFrame(rows).set_index("term")

    def diagnostics(self) -> pd.DataFrame:
        """R-hat, bulk/tail ESS and the MC standard error of the mean of every parameter."""
        return self._diagnostics.copy()

    @property
    def converged(self) -> bool:
        """True when every R-hat <= 1.01 and every bulk/tail ESS >= 100 per chain."""
        return not any(self.fit_warnings_of("ConvergenceWarning"))

    def fit_warnings_of(self, category: str) -> list[str]:
        """Messages of one warning category."""
        return [m for c, m in self.fit_warnings if c == category]

    # ------------------------------------------------------------------ tables
    def _summ(self, x: np.ndarray, conf_level: float) -> dict[str, float]:
        a = (1 - conf_level) / 2
        flat = x.ravel()
        lo, med, hi = np.quantile(flat, [a, 0.5, 1 - a])
        return {
            "estimate": float(med),
            "std_error": float(flat.std(ddof=1)),
            "conf_low": float(lo),
            "conf_high": float(hi),
            "mean": float(flat.mean()),
        }

    def effects(self, conf_level: float = 0.95) -> pd.DataFrame:
        """The within-person effects: both cross-lags, then both autoregressions.

        Indexed by direction (``sleep->pain``, ``pain->sleep``, ``pain->pain``,
        ``sleep->sleep``), with the columns of ``CrossLagResult.effects()``:
        ``estimate`` is the posterior median of the population (average) effect,
        ``std_error`` its posterior SD, ``conf_low``/``conf_high`` the equal-tailed
        credible interval; ``df``, ``statistic``, ``p_value`` and ``p_holm`` are NaN
        (Bayesian: read the interval); ``std_estimate`` the posterior median in
        within-person SD units of predictor and outcome; ``slope_sd`` the posterior
        median of the between-person SD (NaN when that slope is not random);
        ``n_obs`` the observed outcome values with an equation and ``n_persons``. Then
        ``rhat``, ``ess_bulk`` and ``ess_tail``.
        """
        level = check_conf_level(conf_level)
        dg = self._diagnostics
        acc = self.accounting
        rows = []
        for d in DIRECTION_OF:
            r = self._summ(self.draws[d], level)
            r.pop("mean")
            r.update(df=np.nan, statistic=np.nan, p_value=np.nan, p_holm=np.nan)
            r["std_estimate"] = float(np.median(self.internal[d]))
            sd_term = f"sd({d})"
            r["slope_sd"] = (
                float(np.median(self.draws[sd_term])) if sd_term in self.draws else np.nan
            )
            r["n_obs"] = acc.observed_pain if d.endswith("->pain") else acc.observed_sleep
            r["n_persons"] = acc.persons_used
            for k in ("rhat", "ess_bulk", "ess_tail"):
                r[k] = float(dg.loc[d, k])
            rows.append({"direction": d, **r})
        tab = pd.DataFrame(rows).set_index("direction")[EFFECT_COLUMNS]
        tab["n_obs"] = tab["n_obs"].astype(int)
        tab["n_persons"] = tab["n_persons"].astype(int)
        return tab

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Every parameter: population effects and means, day-level covariate effects
        (``pain ~ x``, ``sleep ~ x``), residual variances, random-effect SDs and
        correlations, person-covariate regressions.

        Columns ``term, estimate`` (posterior median) ``, std_error`` (posterior SD)
        ``, statistic, df, p_value`` (NaN) ``, conf_low, conf_high`` (equal-tailed credible
        interval), then ``effect`` (``fixed``, ``residual``, ``random`` or
        ``cross-level``), ``group``, ``label``, ``mean``, ``mcse_mean``, ``rhat``,
        ``ess_bulk``, ``ess_tail``.
        """
        level = check_conf_level(conf_level)
        dg = self._diagnostics
        rows = []
        for term, x in self.draws.items():
            r = self._summ(x, level)
            effect, label = self.term_info.get(term, ("fixed", term))
            rows.append(
                {
                    "term": term,
                    **r,
                    "effect": effect,
                    "group": "id" if effect == "random" else "",
                    "label": label,
                    **dg.loc[term, ["mcse_mean", "rhat", "ess_bulk", "ess_tail"]].to_dict(),
                }
            )
        return tidy_frame(pd.DataFrame(rows), context=["effect", "group", "label"])

    def person_effects(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Each person's posterior coefficients (from the thinned person draws).

        Long format: ``id, term`` (``sleep->pain``, ``pain->sleep``, ``pain->pain``,
        ``sleep->sleep``, ``mean(<pain>)``, ``mean(<sleep>)`` and with person-specific
        residual variances ``logvar(...)``), ``estimate`` (posterior median),
        ``std_error`` (posterior SD), ``conf_low``, ``conf_high``, ``random`` (False
        when the coefficient is common to all persons).
        """
        level = check_conf_level(conf_level)
        a = (1 - level) / 2
        pd_ = self.person_draws.reshape(-1, *self.person_draws.shape[2:])
        random_idx = set(self.spec.random_idx)
        parts = []
        for c, coef in enumerate(COEFS):
            if coef.startswith("logvar") and c not in random_idx:
                continue
            x = pd_[:, :, c]
            lo, med, hi = np.quantile(x, [a, 0.5, 1 - a], axis=0)
            parts.append(
                pd.DataFrame(
                    {
                        "id": self.ids,
                        "term": _term_name(coef, self.spec),
                        "estimate": med,
                        "std_error": x.std(axis=0, ddof=1),
                        "conf_low": lo,
                        "conf_high": hi,
                        "random": c in random_idx,
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    def glance(self) -> pd.DataFrame:
        """One row: data size, sampler settings, worst diagnostics, convergence, time."""
        dg = self._diagnostics
        acc = self.accounting
        return pd.DataFrame(
            [
                {
                    "method": "dsem",
                    "nobs": acc.observed_pain + acc.observed_sleep,
                    "persons": acc.persons_used,
                    "person_days": acc.span_days,
                    "imputed": acc.imputed_pain + acc.imputed_sleep,
                    "persons_excluded": acc.persons - acc.persons_used,
                    "chains": self.spec.chains,
                    "warmup": self.spec.warmup,
                    "draws": self.spec.draws,
                    "max_rhat": float(np.nanmax(dg["rhat"])),
                    "min_ess_bulk": float(np.nanmin(dg["ess_bulk"])),
                    "min_ess_tail": float(np.nanmin(dg["ess_tail"])),
                    "converged": self.converged,
                    "seconds": self.seconds,
                }
            ]
        )

    def _display(self) -> Display:
        acc = self.accounting
        eff = self.effects()[
            [
                "estimate",
                "std_error",
                "conf_low",
                "conf_high",
                "slope_sd",
                "rhat",
                "ess_bulk",
                "ess_tail",
            ]
        ]
        tid = self.tidy()
        other = tid[~tid["term"].isin(list(DIRECTION_OF))].set_index("term")[
            ["estimate", "std_error", "conf_low", "conf_high", "rhat", "ess_bulk"]
        ]
        header = (
            ("Model", self.spec.describe()),
            (
                "Variables",
                f"pain={self.spec.pain}, sleep={self.spec.sleep} ({self.spec.sleep_timing})",
            ),
            (
                "Persons",
                f"{acc.persons_used} used of {acc.persons} ({acc.persons_too_short} with fewer "
                f"than 3 days, {acc.persons_missing_covariate} missing a person covariate)",
            ),
            (
                "Values",
                f"{acc.observed_pain} pain, {acc.observed_sleep} sleep observed; "
                f"{acc.imputed_pain + acc.imputed_sleep} missing imputed" + _covariate_note(acc),
            ),
            (
                "Sampler",
                f"Gibbs, {self.spec.chains} chains x ({self.spec.warmup} warm-up + "
                f"{self.spec.draws} draws), {self.seconds:.1f} s, seed entropy {self.seed_entropy}",
            ),
        )
        notes = [
            "estimate = posterior median, std_error = posterior SD, 95 % equal-tailed "
            "credible intervals; person means are latent (no Nickell bias)."
        ]
        notes += [f"{c}: {m}" for c, m in self.fit_warnings]
        return Display(
            title="Dynamic SEM (latent-centred bivariate VAR(1))",
            header=header,
            tables=(
                DisplayTable(eff, title="Within-person effects"),
                DisplayTable(other, title="Other parameters"),
            ),
            notes=tuple(notes),
        )

    # ----------------------------------------------------------------- access
    def draws_frame(self) -> pd.DataFrame:
        """All population draws as a long frame: ``chain, draw`` and one column per term."""
        first = next(iter(self.draws.values()))
        ch, nd = first.shape
        out = {"chain": np.repeat(np.arange(ch), nd), "draw": np.tile(np.arange(nd), ch)}
        out.update({t: x.ravel() for t, x in self.draws.items()})
        return pd.DataFrame(out)

    def get_draws(self, term: str) -> np.ndarray:
        """Read-only ``(chains, draws)`` array of one term (see :meth:`tidy` for names)."""
        if term not in self.draws:
            from sleeppain.errors import SpecificationError

            raise SpecificationError(
                f"term {term!r} is not a parameter of this model; choose among {list(self.draws)}."
            )
        return readonly(self.draws[term])

    # ------------------------------------------------------------------ plots
    def plot_trace(self, terms: list[str] | None = None, axes: Any = None) -> Any:
        """Trace plots (one line per chain) of ``terms`` (default: the four effects).

        Returns the array of matplotlib Axes.
        """
        from sleeppain.dynamics._plots import plot_trace

        return plot_trace(self, list(DIRECTION_OF) if terms is None else terms, axes)

    def plot_effects(self, manifest: Any = None, ax: Axes | None = None) -> Axes:
        """Posterior medians and credible intervals of the four effects beside the
        manifest (observed-mean-centred) estimates of ``sp.crosslag``.

        Parameters
        ----------
        manifest : CrossLagResult, optional
            Default: ``sp.crosslag`` on the same diary (fitted here, its warnings muted).
        """
        from sleeppain.dynamics._plots import plot_effects

        return plot_effects(self, manifest, ax)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Same as :meth:`plot_effects`."""
        return self.plot_effects(ax=ax)

    def manifest(self) -> Any:
        """``sp.crosslag`` (the manifest, observed-mean-centred mixed models) on the same data.

        Its warnings are recorded by Python's warning machinery as usual.
        """
        from sleeppain.analysis import crosslag

        return crosslag(
            self._diary,
            sleep=self.spec.sleep,
            pain=self.spec.pain,
            covariates=self.spec.covariates,
            person_covariates=self.spec.person_covariates,
        )
