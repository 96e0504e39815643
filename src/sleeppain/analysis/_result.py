"""The frozen results of :func:`sleeppain.crosslag`."""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.analysis._compare import (
    DirectionComparison,
    bootstrap_std_effects,
    check_n_boot,
    percentile_summary,
    std_effect,
)
from sleeppain.analysis._frames import DIRECTIONS, ModelFrame
from sleeppain.analysis._models import contrast, focal_rows, holm
from sleeppain.errors import SpecificationError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from sleeppain.diary import DiaryAccounting

__all__ = ["CrossLagResult", "CrossLagSpec", "PersonSlopes"]

#: the inference columns of every effect row, in the order the result tables show them
_ESTIMATE_COLUMNS = [
    "estimate",
    "std_error",
    "df",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]
EFFECT_COLUMNS = [
    *_ESTIMATE_COLUMNS,
    "std_estimate",
    "slope_sd",
    "n_obs",
    "n_persons",
    "p_holm",
]


@dataclass(frozen=True)
class CrossLagSpec:
    """The specification of a cross-lagged analysis (normalised arguments of crosslag)."""

    sleep: tuple[str, ...]
    pain: str
    sleep_timing: str
    covariates: tuple[str, ...] = ()
    person_covariates: tuple[str, ...] = ()
    random_slopes: bool = True
    lagged_outcome: bool = True
    estimator: str = "lmm"
    reml: bool = True
    quadratic: bool = False
    asymmetric: bool = False
    moderator: str | None = None
    time_of_day: bool = False

    def describe(self) -> list[str]:
        """Lines describing the two models in the user's names."""
        s = ", ".join(self.sleep)
        ar_sp = " + pain_w[day n]" if self.lagged_outcome else ""
        ar_ps = " + sleep_w[night n-1]" if self.lagged_outcome else ""
        cov = "".join(f" + {c}" for c in (*self.covariates, *self.person_covariates))
        if self.estimator == "gee":
            re = "; GEE, exchangeable working correlation, robust SEs"
            re_sp = re_ps = ""
            sp_means, ps_means = " + sleep_m", " + pain_m"
        else:
            re = f"; linear mixed model ({'REML' if self.reml else 'ML'}), Satterthwaite df"
            re_sp = " + (1 + sleep_w | id)" if self.random_slopes else " + (1 | id)"
            re_ps = " + (1 + pain_w | id)" if self.random_slopes else " + (1 | id)"
            sp_means, ps_means = " + sleep_m + pain_m", " + pain_m + sleep_m"
        return [
            f"sleep: {s}; pain: {self.pain}; sleep timing: {self.sleep_timing.replace('_', ' ')}"
            + re,
            f"sleep->pain: pain[day n+1] ~ sleep_w[night n]{ar_sp}{sp_means}{cov}{re_sp}",
            f"pain->sleep: sleep[night n] ~ pain_w[day n]{ar_ps}{ps_means}{cov}{re_ps}",
            "_w: deviation from the person's mean over all their observations; "
            "_m: person mean, grand-mean centred; night n lies between day n and day n+1",
        ]


@dataclass(frozen=True, eq=False)
class PersonSlopes:
    """Person-specific cross-lagged slopes (fixed effect + conditional mode).

    Attributes
    ----------
    table : DataFrame
        One row per person, sleep measure and direction: ``sleep, direction, id, slope``
        (fixed + conditional mode), ``cond_se`` (conditional SD of the mode), ``fixed``.
    shares : DataFrame
        Per sleep measure and direction: ``fixed``, ``slope_sd``, ``expected_sign``,
        ``n_persons``, ``share_expected`` (share of persons whose slope has the expected
        sign), ``share_expected_95`` (share whose 95% conditional interval lies entirely on
        the expected side).
    """

    table: pd.DataFrame
    shares: pd.DataFrame

    def summary(self) -> str:
        """Text summary of the shares."""
        from sleeppain.report._tables import format_table

        return "Person-specific cross-lagged slopes\n" + format_table(self.shares, "text")

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from sleeppain.report._tables import format_table

        return (
            "<div><p><b>Person-specific slopes</b></p>"
            + format_table(self.shares, "html")
            + "</div>"
        )

    def plot(
        self, direction: str = "sleep->pain", sleep: str | None = None, ax: Axes | None = None
    ) -> Axes:
        """Histogram of the person-specific slopes of one direction; returns the Axes."""
        from sleeppain.report._figures import plot_person_slopes

        return plot_person_slopes(self, direction=direction, sleep=sleep, ax=ax)


def _as_mapping(d: Mapping[Any, Any]) -> Mapping[Any, Any]:
    from types import MappingProxyType

    return MappingProxyType(dict(d))


@dataclass(frozen=True, eq=False)
class CrossLagResult:
    """Result of :func:`sleeppain.crosslag`: both directions of the sleep-pain loop.

    Attributes
    ----------
    spec : CrossLagSpec
        The normalised arguments.
    frames : mapping
        (sleep, direction) -> :class:`ModelFrame` (the complete rows of each model).
    fits : mapping
        (sleep, direction) -> fit (:class:`~sleeppain.LmmResult`, or
        :class:`~sleeppain.analysis.GeeFit` with ``estimator="gee"``).
    extension_frames, extension_fits : mapping
        (sleep, extension, direction) -> frame / fit of each requested extension.
    diary_accounting : DiaryAccounting
        The diary's own accounting (rows, persons, calendar, coverage).
    fit_warnings : tuple of (model, category, message)
        Warnings raised while fitting (also issued to the caller).

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.simulate.diary(60, 14, seed=2)
    >>> res = sp.crosslag(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain",
    ...                   estimator="gee")
    >>> res.effects().index.tolist()
    ['sleep->pain', 'pain->sleep']
    """

    spec: CrossLagSpec
    frames: Mapping[tuple[str, str], ModelFrame] = field(repr=False)
    fits: Mapping[tuple[str, str], Any] = field(repr=False)
    extension_frames: Mapping[tuple[str, str, str], ModelFrame] = field(repr=False)
    extension_fits: Mapping[tuple[str, str, str], Any] = field(repr=False)
    diary_accounting: DiaryAccounting | None = field(repr=False)
    fit_warnings: tuple[tuple[str, str, str], ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", _as_mapping(self.frames))
        object.__setattr__(self, "fits", _as_mapping(self.fits))
        object.__setattr__(self, "extension_frames", _as_mapping(self.extension_frames))
        object.__setattr__(self, "extension_fits", _as_mapping(self.extension_fits))

    # ------------------------------------------------------------------ models
    def _sleep_key(self, sleep: str | None) -> str:
        if sleep is None:
            if len(self.spec.sleep) > 1:
                raise SpecificationError(
                    f"this result has {len(self.spec.sleep)} sleep measures "
                    f"{list(self.spec.sleep)}; say which with sleep=..., e.g. "
                    f"res.model('sleep->pain', sleep={self.spec.sleep[0]!r})."
                )
            return self.spec.sleep[0]
        if sleep not in self.spec.sleep:
            raise SpecificationError(
                f"sleep={sleep!r} is not one of this result's sleep measures {list(self.spec.sleep)}."
            )
        return sleep

    @staticmethod
    def _direction(direction: str) -> str:
        norm = str(direction).replace(" ", "").replace("_to_", "->").lower()
        if norm not in DIRECTIONS:
            raise SpecificationError(
                f"direction {direction!r} is not 'sleep->pain' or 'pain->sleep'."
            )
        return norm

    def model(self, direction: str, sleep: str | None = None) -> Any:
        """The full fit of one direction (for one sleep measure).

        Examples
        --------
        >>> res.model("pain->sleep").formula  # doctest: +SKIP
        'sleep ~ pain_w + sleep_w_prev + pain_m + sleep_m + (1 + pain_w | id)'
        """
        return self.fits[(self._sleep_key(sleep), self._direction(direction))]

    @property
    def sleep_to_pain(self) -> Any:
        """Full fit of the sleep -> next-day pain model (single sleep measure)."""
        return self.model("sleep->pain")

    @property
    def pain_to_sleep(self) -> Any:
        """Full fit of the pain -> that night's sleep model (single sleep measure)."""
        return self.model("pain->sleep")

    # ------------------------------------------------------------------ tables
    def _slope_sd(self, fit: Any, term: str) -> float:
        if self.spec.estimator != "lmm" or not self.spec.random_slopes:
            return np.nan
        vc = fit.varcorr()
        row = vc[(vc["term1"] == term) & vc["term2"].isna() & (vc["group"] == "id")]
        return float(row["sd"].iloc[0]) if len(row) else np.nan

    def effects(self, conf_level: float = 0.95) -> pd.DataFrame:
        """The within-person cross-lagged effect of each direction.

        Parameters
        ----------
        conf_level : float
            Level of ``conf_low``/``conf_high`` (t with Satterthwaite df for the mixed
            model; normal for GEE).

        Returns
        -------
        DataFrame
            Indexed by direction (``"sleep->pain"``, ``"pain->sleep"``), or by
            (sleep, direction) with several sleep measures. Columns ``estimate,
            std_error, df, statistic, p_value, conf_low, conf_high``; ``std_estimate``
            (estimate x within-person SD of the predictor / within-person SD of the
            outcome, both on the model's rows); ``slope_sd`` (between-person SD of the
            random slope; NaN without random slopes or for GEE); ``n_obs``, ``n_persons``;
            ``p_holm`` (Holm-adjusted p-value across the sleep measures, within each
            direction: equal to ``p_value`` with one measure).

        Examples
        --------
        >>> res.effects()[["estimate", "p_value"]]  # doctest: +SKIP
        """
        key = f"effects{conf_level}"
        if key in self._cache:
            return self._cache[key].copy()
        rows = []
        for s in self.spec.sleep:
            for d in DIRECTIONS:
                mf, fit = self.frames[(s, d)], self.fits[(s, d)]
                focal = mf.focal[0]
                r = focal_rows(fit, (focal,), conf_level).iloc[0].to_dict()
                r["std_estimate"] = std_effect(mf, fit)
                r["slope_sd"] = self._slope_sd(fit, focal)
                r["n_obs"] = int(mf.accounting.rows_used)
                r["n_persons"] = int(mf.accounting.persons_used)
                rows.append({"sleep": s, "direction": d, **r})
        tab = pd.DataFrame(rows)
        tab["p_holm"] = np.nan
        for d in DIRECTIONS:
            m = (tab["direction"] == d).to_numpy()
            tab.loc[m, "p_holm"] = holm(tab.loc[m, "p_value"].to_numpy(float))
        if len(self.spec.sleep) == 1:
            tab = tab.set_index("direction").drop(columns="sleep")
        else:
            tab = tab.set_index(["sleep", "direction"])
        tab = tab[EFFECT_COLUMNS]
        self._cache[key] = tab
        return tab.copy()

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Every coefficient of both models, stacked, with ``direction`` and ``sleep``.

        Columns: ``direction, sleep, effect, group, term, label`` (the term described in
        the data's column names), ``estimate, std_error, statistic, df, p_value,
        conf_low, conf_high``.
        """
        parts = []
        for (s, d), fit in self.fits.items():
            t = fit.tidy(conf_level=conf_level)
            labels = self.frames[(s, d)].labels
            t.insert(0, "sleep", s)
            t.insert(0, "direction", d)
            t.insert(5, "label", [labels.get(x, x) for x in t["term"]])
            parts.append(t)
        return pd.concat(parts, ignore_index=True)

    def glance(self) -> pd.DataFrame:
        """One row per model: observations, persons, fit statistics, convergence."""
        rows = []
        for (s, d), fit in self.fits.items():
            mf = self.frames[(s, d)]
            row: dict[str, Any] = {
                "sleep": s,
                "direction": d,
                "formula": mf.formula(self.spec.random_slopes)
                if self.spec.estimator == "lmm"
                else mf.fixed_formula(),
            }
            row["nobs"] = mf.accounting.rows_used
            row["persons"] = mf.accounting.persons_used
            if self.spec.estimator == "lmm":
                g = fit.glance().iloc[0]
                for c in ("sigma", "logLik", "AIC", "BIC", "converged", "singular"):
                    row[c] = g[c]
            else:
                row["working_correlation"] = fit.working_correlation
                row["converged"] = fit.converged
            rows.append(row)
        return pd.DataFrame(rows)

    def accounting(self) -> pd.DataFrame:
        """Data accounting per model: usable pairs, rows dropped and why.

        Returns
        -------
        DataFrame
            One row per sleep measure and direction: ``rows_available`` (canonical
            person-day rows of the diary), ``rows_used`` (usable lagged pairs with every
            term present), ``rows_dropped``, ``persons``, ``persons_used`` and one
            ``missing: <term>`` column per term (rows on which that term is missing; a row
            can miss several).
        """
        rows = []
        for (s, d), mf in self.frames.items():
            a = mf.accounting
            row: dict[str, Any] = {
                "sleep": s,
                "direction": d,
                "rows_available": a.rows_available,
                "rows_used": a.rows_used,
                "rows_dropped": a.rows_dropped,
                "persons": a.persons,
                "persons_used": a.persons_used,
            }
            for label, n in a.missing_by_term:
                row[f"missing: {label}"] = n
            rows.append(row)
        return pd.DataFrame(rows)

    def accounting_text(self) -> str:
        """The data accounting as plain text (one paragraph per model)."""
        lines = []
        if self.diary_accounting is not None:
            acc = self.diary_accounting
            lines.append(
                f"Diary: {acc.input_rows:,} input rows, {acc.persons:,} persons, "
                f"{acc.person_days:,} person-days ({acc.first_day} to {acc.last_day}); "
                f"sleep timing: {acc.sleep_timing.replace('_', ' ')}."
            )
            dropped = (
                [(k, v) for k, v in acc.rows_dropped.items() if v]
                if isinstance(acc.rows_dropped, Mapping)
                else [(k, v) for k, v in acc.rows_dropped if v]
            )
            if dropped:
                lines.append(
                    "Input rows not kept: " + "; ".join(f"{k}: {v:,}" for k, v in dropped) + "."
                )
        for (s, d), mf in self.frames.items():
            a = mf.accounting
            miss = ", ".join(f"{lab}: {n:,}" for lab, n in a.missing_by_term if n)
            lines.append(
                f"{d} ({s}): {a.rows_used:,} usable pairs from {a.persons_used:,} of "
                f"{a.persons:,} persons; {a.rows_dropped:,} of {a.rows_available:,} "
                f"person-days left out (missing {miss or 'nothing'})."
            )
        return "\n".join(lines)

    # -------------------------------------------------------------- extensions
    def extensions(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Coefficients of the requested extension models (empty when none was asked).

        Rows per extension: ``quadratic`` (``sleep_w`` and ``sleep_w_sq``, plus
        ``optimum``: the sleep value with the least pain, ``grand mean - b1 / (2 b2)``,
        delta-method SE), ``asymmetry`` (``sleep_w_below``, ``sleep_w_above`` and their
        ``difference``), ``moderation`` (the focal slope and its interaction with the
        moderator, both directions), ``time_of_day`` (``sleep_w_at_k`` for each prompt
        slot and ``difference`` first - last prompt).

        Returns
        -------
        DataFrame
            ``sleep, extension, direction, term, label, estimate, std_error, df,
            statistic, p_value, conf_low, conf_high``.
        """
        rows = []
        for (s, ext, d), fit in self.extension_fits.items():
            mf = self.extension_frames[(s, ext, d)]
            tab = focal_rows(fit, mf.focal, conf_level)
            for term, r in tab.iterrows():
                rows.append(
                    {
                        "sleep": s,
                        "extension": ext,
                        "direction": d,
                        "term": term,
                        "label": mf.labels.get(str(term), str(term)),
                        **r.to_dict(),
                    }
                )
            if ext == "asymmetry":
                c = contrast(fit, "sleep_w_below", "sleep_w_above", conf_level)
                rows.append(
                    {
                        "sleep": s,
                        "extension": ext,
                        "direction": d,
                        "term": "difference",
                        "label": "below-usual slope - above-usual slope",
                        **c,
                    }
                )
            if ext == "time_of_day":
                first, last = mf.focal[0], mf.focal[-1]
                c = contrast(fit, first, last, conf_level)
                rows.append(
                    {
                        "sleep": s,
                        "extension": ext,
                        "direction": d,
                        "term": "difference",
                        "label": "first-prompt slope - last-prompt slope",
                        **c,
                    }
                )
            if ext == "quadratic":
                rows.append(
                    {
                        "sleep": s,
                        "extension": ext,
                        "direction": d,
                        "term": "optimum",
                        "label": f"{s} with the least next-day pain (vertex)",
                        **self._vertex(mf, fit, conf_level),
                    }
                )
        cols = ["sleep", "extension", "direction", "term", "label", *_ESTIMATE_COLUMNS]
        return pd.DataFrame(rows, columns=cols)

    @staticmethod
    def _vertex(mf: ModelFrame, fit: Any, conf_level: float) -> dict[str, float]:
        b1, b2 = float(fit.fixef["sleep_w"]), float(fit.fixef["sleep_w_sq"])
        v = fit.vcov.loc[["sleep_w", "sleep_w_sq"], ["sleep_w", "sleep_w_sq"]].to_numpy()
        grand = float((mf.frame["sleep_pm"] - mf.frame["sleep_m"]).iloc[0])
        est = grand - b1 / (2 * b2)
        g = np.array([-1 / (2 * b2), b1 / (2 * b2**2)])
        se = float(np.sqrt(max(g @ v @ g, 0.0)))
        crit = stats.norm.ppf(1 - (1 - conf_level) / 2)
        return {
            "estimate": est,
            "std_error": se,
            "statistic": np.nan,
            "df": np.inf,
            "p_value": np.nan,
            "conf_low": est - crit * se,
            "conf_high": est + crit * se,
        }

    # ----------------------------------------------------------------- compare
    def compare(
        self,
        *,
        n_boot: int = 199,
        seed: int | None = 0,
        conf_level: float = 0.95,
        progress: bool | Callable[[int, int], None] = False,
    ) -> DirectionComparison:
        """Is sleep -> pain stronger than pain -> sleep? A person-level bootstrap test.

        The statistic is the difference of absolute standardised effects,
        ``|std sleep->pain| - |std pain->sleep|`` (:meth:`effects`' ``std_estimate``).
        Persons are resampled with replacement ``n_boot`` times (each keeps all their
        rows in both models), both models are refitted and the statistic recomputed: this
        respects the correlation of the two estimates, which come from the same series.
        Reported: the percentile interval and the two-sided bootstrap p-value
        ``2 min(#{d* <= 0} + 1, #{d* >= 0} + 1) / (B + 1)`` (Davison & Hinkley 1997).

        Parameters
        ----------
        n_boot : int
            Bootstrap replications (each refits both models; about 0.2 s per replication
            for a few thousand rows).
        seed : int, optional
            Seed of ``np.random.default_rng``: the same seed gives the same result.
        conf_level : float
            Level of the percentile interval.
        progress : bool or callable
            True prints progress to stderr; a callable gets ``(done, total)``.

        Returns
        -------
        DirectionComparison

        Examples
        --------
        >>> cmp = res.compare(n_boot=49, seed=1)  # doctest: +SKIP
        >>> cmp.table["stronger"]  # doctest: +SKIP
        """
        n_boot = check_n_boot(n_boot)
        if not 0 < conf_level < 1:
            raise SpecificationError(f"conf_level must be in (0, 1), got {conf_level!r}.")
        eff = self.effects()
        rows = []
        draws: dict[str, np.ndarray] = {}
        for s in self.spec.sleep:
            frames = {d: self.frames[(s, d)] for d in DIRECTIONS}
            cb = _progress_callback(progress, f"bootstrap ({s})")
            boot = bootstrap_std_effects(
                frames,
                estimator=self.spec.estimator,
                random_slopes=self.spec.random_slopes,
                reml=self.spec.reml,
                n_boot=n_boot,
                seed=seed,
                progress=cb,
            )
            draws[s] = boot
            std = [
                float(eff.loc[d if len(self.spec.sleep) == 1 else (s, d), "std_estimate"])
                for d in DIRECTIONS
            ]
            obs = abs(std[0]) - abs(std[1])
            diff = np.abs(boot[:, 0]) - np.abs(boot[:, 1])
            summ = percentile_summary(obs, diff, conf_level)
            if summ["conf_low"] > 0:
                stronger = "sleep->pain"
            elif summ["conf_high"] < 0:
                stronger = "pain->sleep"
            else:
                stronger = "neither"
            rows.append(
                {
                    "sleep": s,
                    "std_sleep_to_pain": std[0],
                    "std_pain_to_sleep": std[1],
                    "difference": obs,
                    **summ,
                    "stronger": stronger,
                    "n_boot": n_boot,
                    "n_failed": int(np.sum(~np.isfinite(diff))),
                }
            )
        table = pd.DataFrame(rows).set_index("sleep")
        table = table[
            [
                "std_sleep_to_pain",
                "std_pain_to_sleep",
                "difference",
                "conf_low",
                "conf_high",
                "boot_se",
                "p_value",
                "stronger",
                "n_boot",
                "n_failed",
            ]
        ]
        method = (
            f"person-level (cluster) bootstrap, {n_boot} replications, seed {seed!r}: "
            "persons resampled with replacement, both models refitted; difference = "
            "|std sleep->pain| - |std pain->sleep|; percentile "
            f"{conf_level:.0%} interval; two-sided bootstrap p-value"
        )
        return DirectionComparison(table, method, conf_level, seed, draws)

    # ----------------------------------------------------------- person slopes
    def person_effects(self, expected_sign: Mapping[str, int] | None = None) -> PersonSlopes:
        """Each person's cross-lagged slopes: fixed effect + conditional mode (BLUP).

        Parameters
        ----------
        expected_sign : dict, optional
            Direction -> -1 or +1, the sign the field expects (e.g. ``{"sleep->pain": -1}``
            for sleep quality: better sleep, less pain). Default: the sign of the fixed
            effect, so the share says how many persons agree with the average effect.

        Returns
        -------
        PersonSlopes

        Raises
        ------
        SpecificationError
            For GEE fits or without random slopes (no person-specific slopes).
        """
        if self.spec.estimator != "lmm" or not self.spec.random_slopes:
            raise SpecificationError(
                "person_effects() needs person-specific slopes: fit with estimator='lmm' "
                "and random_slopes=True."
            )
        expected = dict(expected_sign or {})
        for k, v in expected.items():
            if self._direction(k) not in DIRECTIONS or v not in (-1, 1):
                raise SpecificationError(
                    f"expected_sign: {k!r}: {v!r}; give direction -> -1 or +1."
                )
        expected = {self._direction(k): v for k, v in expected.items()}
        tables, shares = [], []
        for (s, d), fit in self.fits.items():
            focal = self.frames[(s, d)].focal[0]
            re = fit.ranef()
            re = re[(re["group"] == "id") & (re["term"] == focal)]
            fixed = float(fit.fixef[focal])
            slope = fixed + re["estimate"].to_numpy(float)
            se = re["std_error"].to_numpy(float)
            tables.append(
                pd.DataFrame(
                    {
                        "sleep": s,
                        "direction": d,
                        "id": re["level"].to_numpy(),
                        "slope": slope,
                        "cond_se": se,
                        "fixed": fixed,
                    }
                )
            )
            sign = expected.get(d, int(np.sign(fixed)) or 1)
            z = stats.norm.ppf(0.975)
            shares.append(
                {
                    "sleep": s,
                    "direction": d,
                    "fixed": fixed,
                    "slope_sd": self._slope_sd(fit, focal),
                    "expected_sign": sign,
                    "n_persons": len(slope),
                    "share_expected": float(np.mean(np.sign(slope) == sign)),
                    "share_expected_95": float(np.mean(sign * slope - z * se > 0)),
                }
            )
        return PersonSlopes(pd.concat(tables, ignore_index=True), pd.DataFrame(shares))

    # ------------------------------------------------------------------ display
    def summary(self) -> str:
        """Text report: specification, data accounting, effects, extensions, warnings."""
        from sleeppain.report._tables import effects_display, format_table

        lines = ["Cross-lagged analysis of sleep and pain (sleeppain.crosslag)", ""]
        lines += self.spec.describe()
        lines += ["", "Data accounting", self.accounting_text(), ""]
        lines += [
            "Within-person cross-lagged effects",
            format_table(effects_display(self.effects()), "text"),
        ]
        if self.multiplicity_note():
            lines.append(self.multiplicity_note())
        ext = self.extensions()
        if len(ext):
            lines += [
                "",
                "Extensions",
                format_table(
                    ext.drop(columns=["label"]).set_index(
                        ["sleep", "extension", "direction", "term"]
                    ),
                    "text",
                ),
            ]
        if self.fit_warnings:
            lines += ["", "Warnings while fitting"]
            lines += [f"  {m}: {c}: {msg}" for m, c, msg in self.fit_warnings]
        return "\n".join(lines)

    def multiplicity_note(self) -> str:
        """A note on the multiple tests of several sleep measures ("" with one measure)."""
        k = len(self.spec.sleep)
        if k == 1:
            return ""
        return (
            f"Multiplicity: {k} sleep measures are tested in each direction; p_holm is the "
            "Holm-adjusted p-value across the measures within each direction (the measures "
            "are correlated, so Holm is conservative)."
        )

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        eff = self.effects()
        parts = []
        for idx, r in eff.iterrows():
            name = idx if isinstance(idx, str) else " ".join(idx)
            parts.append(f"{name} {r['estimate']:.3g} [{r['conf_low']:.3g}, {r['conf_high']:.3g}]")
        return f"<CrossLagResult ({self.spec.estimator}): " + "; ".join(parts) + ">"

    def _repr_html_(self) -> str:
        from sleeppain.report._tables import effects_display, format_table

        spec = "".join(f"<li>{html.escape(x)}</li>" for x in self.spec.describe())
        acc = "".join(f"<li>{html.escape(x)}</li>" for x in self.accounting_text().splitlines())
        out = (
            "<div><p><b>Cross-lagged analysis of sleep and pain</b></p>"
            f"<ul>{spec}</ul><p>Data accounting</p><ul>{acc}</ul>"
            f"<p>Within-person cross-lagged effects</p>"
            f"{format_table(effects_display(self.effects()), 'html')}"
        )
        if self.multiplicity_note():
            out += f"<p>{html.escape(self.multiplicity_note())}</p>"
        ext = self.extensions()
        if len(ext):
            out += "<p>Extensions</p>" + format_table(
                ext.set_index(["sleep", "extension", "direction", "term"]), "html"
            )
        if self.fit_warnings:
            out += (
                "<p>Warnings while fitting</p><ul>"
                + "".join(
                    f"<li>{html.escape(f'{m}: {c}: {msg}')}</li>" for m, c, msg in self.fit_warnings
                )
                + "</ul>"
            )
        return out + "</div>"

    # -------------------------------------------------------------------- plots
    def plot_effects(self, standardized: bool = False, ax: Axes | None = None) -> Axes:
        """Coefficient plot of both directions (one point and interval per model)."""
        from sleeppain.report._figures import plot_effects

        return plot_effects(self, standardized=standardized, ax=ax)

    def plot_within(
        self, direction: str = "sleep->pain", sleep: str | None = None, ax: Axes | None = None
    ) -> Axes:
        """Within-person scatter of a direction's predictor and outcome, with the fitted line."""
        from sleeppain.report._figures import plot_within

        return plot_within(self, self._direction(direction), self._sleep_key(sleep), ax=ax)

    def plot_person_slopes(
        self, direction: str = "sleep->pain", sleep: str | None = None, ax: Axes | None = None
    ) -> Axes:
        """Histogram of the person-specific slopes of one direction."""
        return self.person_effects().plot(direction=self._direction(direction), sleep=sleep, ax=ax)


def _progress_callback(
    progress: bool | Callable[[int, int], None], label: str
) -> Callable[[int, int], None] | None:
    if callable(progress):
        return progress
    if not progress:
        return None

    def report(done: int, total: int) -> None:
        step = max(1, total // 10)
        if done % step == 0 or done == total:
            tty = sys.stderr.isatty()
            end = "\n" if done == total or not tty else ""
            print(
                f"{chr(13) if tty else ''}{label}: {done}/{total}",
                end=end,
                file=sys.stderr,
                flush=True,
            )

    return report
