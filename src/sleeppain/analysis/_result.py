"""The frozen results of :func:`sleeppain.crosslag`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.analysis._compare import (
    DirectionComparison,
    bootstrap_std_effects,
    percentile_summary,
    std_effect,
)
from sleeppain.analysis._frames import DIRECTIONS, ModelFrame
from sleeppain.analysis._models import contrast, focal_rows, holm
from sleeppain.analysis._person import person_slopes
from sleeppain.errors import SpecificationError
from sleeppain.results import (
    Display,
    DisplayTable,
    ResultMixin,
    check_conf_level,
    check_n_boot,
    check_seed,
    tidy_frame,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from sleeppain.diary import Diary, DiaryAccounting

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
#: odds ratio columns of effects() when a direction has a binary outcome
OR_COLUMNS = ["odds_ratio", "or_conf_low", "or_conf_high"]
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
    #: (1 + x | id) with the intercept-slope correlation instead of (1 + x || id)
    slope_correlation: bool = False
    reml: bool = True
    quadratic: bool = False
    asymmetric: bool = False
    moderator: str | None = None
    time_of_day: bool = False
    outcome_mean: bool = False
    #: (sleep column, "better" or "worse"): what a higher sleep value means
    sleep_higher_is: tuple[tuple[str, str], ...] = ()
    #: residual correlation within person passed to sp.lmm: None, "ar1" or "car1"
    residual: str | None = None
    #: (direction, "gaussian" or "binomial"): the outcome family of each direction
    family: tuple[tuple[str, str], ...] = ()

    def family_of(self, direction: str) -> str:
        """The outcome family of a direction (``"gaussian"`` unless declared).

        Examples
        --------
        >>> CrossLagSpec(("sq",), "flare", "previous_night",
        ...              family=(("sleep->pain", "binomial"),)).family_of("sleep->pain")
        'binomial'
        """
        return dict(self.family).get(direction, "gaussian")

    @property
    def binary(self) -> tuple[str, ...]:
        """The directions with a binary (0/1) outcome."""
        return tuple(d for d in DIRECTIONS if self.family_of(d) == "binomial")

    def expected_sign(self, sleep: str, direction: str) -> int:
        """Expected sign of a direction's effect from ``sleep_higher_is`` (0: undeclared).

        Pain is higher-is-worse. With sleep higher-is-better, better sleep should bring less
        pain (sleep->pain negative) and more pain worse sleep (pain->sleep negative); with
        sleep higher-is-worse both are positive.

        Examples
        --------
        >>> CrossLagSpec(("sq",), "pain", "previous_night",
        ...              sleep_higher_is=(("sq", "better"),)).expected_sign("sq", "sleep->pain")
        -1
        """
        declared = dict(self.sleep_higher_is).get(sleep)
        if declared is None:
            return 0
        return -1 if declared == "better" else 1

    def describe(self) -> list[str]:
        """Lines describing the two models in the user's names."""
        s = ", ".join(self.sleep)
        bin_sp, bin_ps = ("sleep->pain" in self.binary), ("pain->sleep" in self.binary)
        ar_sp = (" + pain[day n] (0/1)" if bin_sp else " + pain_w[day n]") * self.lagged_outcome
        ar_ps = (
            " + sleep[night n-1] (0/1)" if bin_ps else " + sleep_w[night n-1]"
        ) * self.lagged_outcome
        cov = "".join(f" + {c}" for c in (*self.covariates, *self.person_covariates))
        if self.estimator == "gee":
            re = "; GEE, exchangeable working correlation, robust SEs"
            re_sp = re_ps = ""
            sp_means, ps_means = " + sleep_m", " + pain_m"
        else:
            re = f"; linear mixed model ({'REML' if self.reml else 'ML'}), Satterthwaite df"
            if self.binary:
                re = (
                    "; logistic mixed model (Laplace, ML), Wald z"
                    if len(self.binary) == 2
                    else re.replace("linear mixed", "mixed models: linear") + "; binary: "
                    "logistic (Laplace, ML), Wald z"
                )
            bar = "|" if self.slope_correlation else "||"
            re_sp = f" + (1 + sleep_w {bar} id)" if self.random_slopes else " + (1 | id)"
            re_ps = f" + (1 + pain_w {bar} id)" if self.random_slopes else " + (1 | id)"
            if self.outcome_mean:
                sp_means, ps_means = " + sleep_m + pain_m", " + pain_m + sleep_m"
            else:
                sp_means, ps_means = " + sleep_m", " + pain_m"
        kind = (
            "; binary outcome: logistic GEE (logit link), log-odds"
            if self.estimator == "gee"
            else "; binary outcome: logistic mixed model (sp.glmm, Laplace, ML), log-odds"
        )
        re_sp += kind if bin_sp else ""
        re_ps += kind if bin_ps else ""
        return [
            f"sleep: {s}; pain: {self.pain}; sleep timing: {self.sleep_timing.replace('_', ' ')}"
            + re,
            f"sleep->pain: pain[day n+1] ~ sleep_w[night n]{ar_sp}{sp_means}{cov}{re_sp}",
            f"pain->sleep: sleep[night n] ~ pain_w[day n]{ar_ps}{ps_means}{cov}{re_ps}",
            "_w: deviation from the person's mean over all their observations; "
            "_m: person mean, grand-mean centred; night n lies between day n and day n+1"
            + (
                "; the outcome's own person level is carried by the random intercept "
                "(Bolger & Laurenceau 2013)"
                if self.estimator == "lmm" and not self.outcome_mean
                else ""
            ),
        ]


@dataclass(frozen=True, eq=False)
class PersonSlopes(ResultMixin):
    """Person-specific cross-lagged slopes and how many persons credibly show an effect.

    A person's slope is the fixed effect plus the person's conditional mode. Its
    uncertainty (``pev_se``) is the prediction error SD from Henderson's mixed-model
    equations, which includes the fixed effect's own uncertainty (see
    :mod:`sleeppain.analysis._person`); lme4's conditional SD given the fixed effect
    (``cond_se``) is kept for comparison. With a null average effect and no slope
    variance, hardly any person is credibly different from 0.

    Attributes
    ----------
    table : DataFrame
        One row per person, sleep measure and direction: ``sleep, direction, id, slope,
        pev_se, conf_low, conf_high`` (``conf_level`` prediction interval), ``cond_se``,
        ``fixed``.
    shares : DataFrame
        Per sleep measure and direction: ``fixed``, ``fixed_p_value``, ``slope_sd``,
        ``n_persons``, ``share_negative`` / ``share_positive`` (point estimates below /
        above 0), ``share_credibly_negative`` / ``share_credibly_positive`` (interval
        entirely below / above 0), and, when the expected direction was declared
        (``sleep_higher_is=`` or ``expected_sign=``), ``expected_sign``,
        ``share_expected`` and ``share_expected_95``.
    conf_level : float
    """

    _table: pd.DataFrame = field(repr=False)
    _shares: pd.DataFrame = field(repr=False)
    conf_level: float = 0.95

    @property
    def table(self) -> pd.DataFrame:
        """Per-person slopes (a copy)."""
        return self._table.copy()

    @property
    def shares(self) -> pd.DataFrame:
        """Shares of persons by direction (a copy)."""
        return self._shares.copy()

    def tidy(self) -> pd.DataFrame:
        """One row per person and direction in the house schema (``term`` = person id)."""
        t = self._table.rename(columns={"slope": "estimate", "pev_se": "std_error"})
        t = t.assign(term=t["id"].astype(str), effect="person_slope")
        return tidy_frame(t.drop(columns="id"), context=["direction", "sleep", "effect"])

    def glance(self) -> pd.DataFrame:
        """One row per model (sleep measure and direction): the shares."""
        return self._shares.copy()

    def _display(self) -> Display:
        return Display(
            title="Person-specific cross-lagged slopes",
            header=(("Interval", f"{self.conf_level:.0%} prediction interval per person"),),
            tables=(
                DisplayTable(
                    self._shares.set_index(["sleep", "direction"]),
                    note="slope = fixed effect + the person's conditional mode; its SD "
                    "includes the fixed effect's uncertainty (Henderson's equations).",
                ),
            ),
        )

    def __repr__(self) -> str:
        return self.summary()

    def plot(
        self, direction: str = "sleep->pain", sleep: str | None = None, ax: Axes | None = None
    ) -> Axes:
        """Person-specific slopes of one direction with their intervals; returns the Axes."""
        from sleeppain.report._figures import plot_person_slopes

        return plot_person_slopes(self, direction=direction, sleep=sleep, ax=ax)


def effects_frame(rows: list[dict[str, Any]], n_sleep: int) -> pd.DataFrame:
    """One effect row per ``(sleep, direction)`` as a table with Holm p-values.

    ``p_holm`` adjusts across the sleep measures within each direction; the index is the
    direction with one sleep measure, else ``(sleep, direction)``. Shared by
    :meth:`CrossLagResult.effects` and the Dask crosslag result.
    """
    tab = pd.DataFrame(rows)
    tab["p_holm"] = np.nan
    for d in DIRECTIONS:
        m = (tab["direction"] == d).to_numpy()
        tab.loc[m, "p_holm"] = holm(tab.loc[m, "p_value"].to_numpy(float))
    if n_sleep == 1:
        return tab.set_index("direction").drop(columns="sleep")
    return tab.set_index(["sleep", "direction"])


def accounting_frame(frames: Mapping[tuple[str, str], ModelFrame]) -> pd.DataFrame:
    """Data accounting per ``(sleep, direction)`` model frame, one row each.

    Shared by :meth:`CrossLagResult.accounting` and the Dask crosslag result.
    """
    rows = []
    for (s, d), mf in frames.items():
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


def _as_mapping(d: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, eq=False)
class CrossLagResult(ResultMixin):
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
    model_notes : tuple of (model, note)
        Random slopes whose SD was estimated at 0 and that were dropped (the default
        uncorrelated model; see :func:`~sleeppain.crosslag`).
    fit_warnings : tuple of (model, category, message)
        Warnings raised while fitting (also issued to the caller).
    diary : Diary or None
        The diary analysed (for the report's figures and timing example).

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
    diary: Diary | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    #: (model, note): random slopes dropped because their SD was estimated at 0
    model_notes: tuple[tuple[str, str], ...] = ()

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
        'sleep ~ pain_w + sleep_w_prev + pain_m + (1 + pain_w || id)'
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
        # no row: the slope's SD was estimated at 0 and the slope dropped (model_notes)
        return float(row["sd"].iloc[0]) if len(row) else 0.0

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
            direction: equal to ``p_value`` with one measure). When a direction has a
            binary outcome (``family="binomial"``): its estimate is a log-odds ratio
            (Wald z, ``df`` = inf), ``std_estimate`` is NaN, and the columns ``family``,
            ``odds_ratio``, ``or_conf_low``, ``or_conf_high`` (``exp`` of the estimate and
            interval; NaN for a gaussian direction) are added.

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
                binary = self.spec.family_of(d) == "binomial"
                # a 0/1 outcome has no within-person SD on the scale of its log-odds
                r["std_estimate"] = np.nan if binary else std_effect(mf, fit)
                if self.spec.binary:
                    r["family"] = self.spec.family_of(d)
                    for c, src in zip(
                        OR_COLUMNS, ("estimate", "conf_low", "conf_high"), strict=True
                    ):
                        r[c] = float(np.exp(r[src])) if binary else np.nan
                r["slope_sd"] = self._slope_sd(fit, focal)
                r["n_obs"] = int(mf.accounting.rows_used)
                r["n_persons"] = int(mf.accounting.persons_used)
                if self.spec.residual is not None:
                    r["phi"] = float(fit.phi)
                rows.append({"sleep": s, "direction": d, **r})
        tab = effects_frame(rows, len(self.spec.sleep))
        tab = tab[
            EFFECT_COLUMNS
            + (["phi"] if self.spec.residual is not None else [])
            + (["family", *OR_COLUMNS] if self.spec.binary else [])
        ]
        self._cache[key] = tab
        return tab.copy()

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Every fixed coefficient of both models, stacked (house schema).

        Columns: ``term, estimate, std_error, statistic, df, p_value, conf_low,
        conf_high``, then ``direction, sleep, effect, group, label`` (the term described in
        the data's column names).
        """
        parts = []
        for (s, d), fit in self.fits.items():
            t = fit.tidy(conf_level=conf_level)
            labels = self.frames[(s, d)].labels
            t = t.assign(
                direction=d, sleep=s, label=[labels.get(x, x) for x in t["term"].astype(str)]
            )
            parts.append(t)
        return tidy_frame(
            pd.concat(parts, ignore_index=True),
            context=["direction", "sleep", "effect", "group", "label"],
        )

    def glance(self) -> pd.DataFrame:
        """One row per model: observations, persons, fit statistics, convergence."""
        rows = []
        for (s, d), fit in self.fits.items():
            mf = self.frames[(s, d)]
            row: dict[str, Any] = {
                "sleep": s,
                "direction": d,
                "formula": fit.formula if self.spec.estimator == "lmm" else mf.fixed_formula(),
            }
            row["nobs"] = mf.accounting.rows_used
            row["persons"] = mf.accounting.persons_used
            if self.spec.binary:
                row["family"] = self.spec.family_of(d)
            if self.spec.estimator == "lmm":
                g = fit.glance().iloc[0]
                for c in ("sigma", "logLik", "AIC", "BIC", "converged", "singular"):
                    row[c] = g[c]
                if self.spec.residual is not None:
                    row["correlation"] = g["correlation"]
                    row["phi"] = float(fit.phi)
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
        return accounting_frame(self.frames)

    def accounting_text(self) -> str:
        """The data accounting in plain words (one paragraph per line).

        Days are counted as entered. The nights added to hold morning sleep ratings (the
        night before each person's first report, and nights before a day that followed a
        gap) are explained, and the per-term missing counts are said to overlap.
        """
        lines = []
        acc = self.diary_accounting
        if acc is not None:
            entered = acc.rows_used
            lines.append(
                f"Diary: {acc.input_rows:,} input rows; {entered:,} days as entered, by "
                f"{acc.persons:,} persons; sleep timing: {acc.sleep_timing.replace('_', ' ')}."
            )
            per_person = getattr(acc, "days_entered_per_person", None)
            if per_person is not None:
                lines.append(
                    "Days entered per person (min / median / max): "
                    + " / ".join(f"{x:g}" for x in per_person)
                    + "."
                )
            if acc.nights_added:
                lines.append(
                    f"{acc.nights_added:,} nights without a diary day of their own were added "
                    "to hold sleep ratings: a morning rating describes the night before the "
                    "day it was entered, so each person's first rating (and the first after "
                    "a missed day) describes a night whose evening has no entry. The models "
                    f"therefore run over {acc.person_days:,} person-nights from "
                    f"{acc.first_day} to {acc.last_day}; the added nights carry sleep only "
                    "and are never counted as diary days."
                )
            dropped = [(k, v) for k, v in acc.rows_dropped if v]
            if dropped:
                lines.append(
                    "Input rows not kept as their own day: "
                    + "; ".join(f"{k}: {v:,}" for k, v in dropped)
                    + "."
                )
        for (s, d), mf in self.frames.items():
            a = mf.accounting
            miss = ", ".join(f"{lab}: {n:,}" for lab, n in a.missing_by_term if n)
            lines.append(
                f"{d} ({s}): {a.rows_used:,} usable pairs from {a.persons_used:,} of "
                f"{a.persons:,} persons; {a.rows_dropped:,} of {a.rows_available:,} "
                f"person-nights left out because a term is missing ({miss or 'nothing'}; "
                "a row can miss several terms, so these counts overlap and add up to more "
                "than the rows left out)."
            )
        return "\n".join(lines)

    # -------------------------------------------------------------- extensions
    def extensions(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Coefficients of the requested extension models (empty when none was asked).

        Rows per extension: ``quadratic`` (``sleep_w`` and ``sleep_w_sq``, plus
        ``vertex``: the sleep value where predicted next-day pain is lowest (positive
        curvature: a U) or highest (negative curvature), ``grand mean - b1 / (2 b2)``,
        with a delta-method interval (Edwards et al. 2008 report the U-shape this way).
        The ``note`` says which kind of vertex it is; a vertex outside the observed range of
        the sleep measure is not reported (NaN, the value in the note), nor is one whose
        curvature's interval covers 0 flagged as undetermined), ``asymmetry`` (``sleep_w_below``, ``sleep_w_above`` and their
        ``difference``), ``moderation`` (the focal slope and its interaction with the
        moderator, both directions), ``time_of_day`` (``sleep_w_at_k`` for each prompt
        slot and ``difference`` first - last prompt).

        Returns
        -------
        DataFrame
            ``sleep, extension, direction, term, label, estimate, std_error, df,
            statistic, p_value, conf_low, conf_high, note``. Differences (asymmetry,
            time of day) are t tests with the Satterthwaite df of the contrast, as
            lmerTest's ``contest``.
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
                label, values = _vertex(mf, fit, conf_level, s)
                rows.append(
                    {
                        "sleep": s,
                        "extension": ext,
                        "direction": d,
                        "term": "vertex",
                        "label": label,
                        **values,
                    }
                )
        cols = ["sleep", "extension", "direction", "term", "label", *_ESTIMATE_COLUMNS, "note"]
        out = pd.DataFrame(rows, columns=cols)
        out["note"] = out["note"].astype(object).where(out["note"].notna(), "")
        return out

    # ----------------------------------------------------------------- compare
    def compare(
        self,
        *,
        n_boot: int = 199,
        seed: int | np.random.SeedSequence | None = None,
        conf_level: float = 0.95,
        progress: bool | Callable[[int, int], None] | None = None,
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
        seed : int, SeedSequence or None
            The library's seed policy (:func:`sleeppain.results.check_seed`): the same
            seed gives the same result; None draws fresh entropy, recorded in the result's
            ``seed`` so the run can be repeated.
        conf_level : float
            Level of the percentile interval.
        progress : bool, callable or None
            Progress bar on stderr (None: in a terminal or notebook); a callable gets
            ``(done, total)``.

        Returns
        -------
        DirectionComparison

        Examples
        --------
        >>> cmp = res.compare(n_boot=49, seed=1)  # doctest: +SKIP
        >>> cmp.table["stronger"]  # doctest: +SKIP
        """
        from sleeppain.report._progress import progress_callback

        if self.spec.binary:
            raise SpecificationError(
                f"compare() contrasts standardised effects, which a binary outcome does not "
                f"have ({', '.join(self.spec.binary)} is family='binomial', in log-odds); "
                "compare the directions in their own units with effects() instead."
            )
        n_boot = check_n_boot(n_boot, minimum=10)
        conf_level = check_conf_level(conf_level)
        seed = check_seed(seed)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
        eff = self.effects()
        rows = []
        draws: dict[str, np.ndarray] = {}
        for s in self.spec.sleep:
            frames = {d: self.frames[(s, d)] for d in DIRECTIONS}
            cb = progress_callback(progress, f"bootstrap ({s})")
            boot = bootstrap_std_effects(
                frames,
                estimator=self.spec.estimator,
                random_slopes=self.spec.random_slopes,
                slope_correlation=self.spec.slope_correlation,
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
    def person_effects(
        self,
        expected_sign: Mapping[str, int] | None = None,
        *,
        conf_level: float = 0.95,
    ) -> PersonSlopes:
        """Each person's cross-lagged slopes and how many persons credibly show an effect.

        Parameters
        ----------
        expected_sign : dict, optional
            Direction -> -1 or +1, the sign the field expects. Default: from
            ``sleep_higher_is`` given to :func:`~sleeppain.crosslag` (higher sleep better:
            both -1; worse: both +1); when neither is given, only the shares credibly
            below and above 0 are reported. Never taken from the estimate itself.
        conf_level : float
            Level of each person's prediction interval.

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
        conf_level = check_conf_level(conf_level)
        given: dict[str, int] = {}
        for k, v in dict(expected_sign or {}).items():
            if str(k).replace(" ", "").lower() not in DIRECTIONS or v not in (-1, 1):
                raise SpecificationError(
                    f"expected_sign: {k!r}: {v!r}; give direction -> -1 or +1, e.g. "
                    "{'sleep->pain': -1}."
                )
            given[self._direction(k)] = int(v)
        z = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
        tables, shares = [], []
        for (s, d), fit in self.fits.items():
            mf = self.frames[(s, d)]
            arr, ids = _slope_arrays(mf, fit)
            fixed = float(fit.fixef[mf.focal[0]])
            lo, hi = arr.slope - z * arr.pev_se, arr.slope + z * arr.pev_se
            tables.append(
                pd.DataFrame(
                    {
                        "sleep": s,
                        "direction": d,
                        "id": ids,
                        "slope": arr.slope,
                        "pev_se": arr.pev_se,
                        "conf_low": lo,
                        "conf_high": hi,
                        "cond_se": arr.cond_se,
                        "fixed": fixed,
                    }
                )
            )
            row: dict[str, Any] = {
                "sleep": s,
                "direction": d,
                "fixed": fixed,
                "fixed_p_value": float(
                    focal_rows(fit, (mf.focal[0],), conf_level)["p_value"].iloc[0]
                ),
                "slope_sd": self._slope_sd(fit, mf.focal[0]),
                "n_persons": len(arr.slope),
                "share_negative": float(np.mean(arr.slope < 0)),
                "share_positive": float(np.mean(arr.slope > 0)),
                "share_credibly_negative": float(np.mean(hi < 0)),
                "share_credibly_positive": float(np.mean(lo > 0)),
            }
            sign = given.get(d, self.spec.expected_sign(s, d))
            if sign:
                row["expected_sign"] = sign
                row["share_expected"] = row["share_negative" if sign < 0 else "share_positive"]
                row["share_expected_95"] = row[
                    "share_credibly_negative" if sign < 0 else "share_credibly_positive"
                ]
            shares.append(row)
        return PersonSlopes(pd.concat(tables, ignore_index=True), pd.DataFrame(shares), conf_level)

    # ------------------------------------------------------------------ display
    def _display(self) -> Display:
        tables = [
            DisplayTable(
                _effects_display(self.effects()),
                title="Within-person cross-lagged effects",
                note=self.multiplicity_note(),
            )
        ]
        ext = self.extensions()
        if len(ext):
            cols = [c for c in ext.columns if c not in ("label",)]
            tables.append(
                DisplayTable(
                    ext[cols].set_index(["sleep", "extension", "direction", "term"]),
                    title="Extensions",
                )
            )
        notes = ["Data accounting", *self.accounting_text().splitlines()]
        if self.model_notes:
            notes.append("Model notes")
            notes += [f"  {m}: {n}" for m, n in self.model_notes]
        if self.fit_warnings:
            from sleeppain.report._report import explain_warning

            notes.append("Warnings while fitting")
            for m, c, msg in self.fit_warnings:
                notes += [f"  {m}: {c}: {msg}", f"    What it means: {explain_warning(c)}"]
        return Display(
            title="Cross-lagged analysis of sleep and pain (sleeppain.crosslag)",
            header=tuple(
                zip(
                    ("Data", "sleep->pain", "pain->sleep", "Notation"),
                    self._model_lines(),
                    strict=True,
                )
            ),
            tables=tuple(tables),
            notes=tuple(notes),
        )

    def _model_lines(self) -> list[str]:
        """The specification's four lines without their own 'direction:' prefixes."""
        lines = self.spec.describe()
        return [lines[0], *(line.split(": ", 1)[1] for line in lines[1:3]), lines[3]]

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

    def __repr__(self) -> str:
        eff = self.effects()
        parts = []
        for idx, r in eff.iterrows():
            name = idx if isinstance(idx, str) else " ".join(idx)
            parts.append(f"{name} {r['estimate']:.3g} [{r['conf_low']:.3g}, {r['conf_high']:.3g}]")
        return f"<CrossLagResult ({self.spec.estimator}): " + "; ".join(parts) + ">"

    def report(
        self,
        out_dir: str | os.PathLike[str] = "sleeppain-report",
        *,
        comparison: DirectionComparison | None = None,
        progress: bool = False,
    ) -> Any:
        """Write ``report.html``, ``report.md`` and the figures into ``out_dir``.

        The same report as ``sleeppain analyze``: what the numbers mean in plain words, a
        glossary, the timing convention with an example row of the data, the accounting,
        the tables, figures and every warning with what to do about it.

        Parameters
        ----------
        out_dir : path-like
            Folder (created when absent).
        comparison : DirectionComparison, optional
            A :meth:`compare` result to include.
        progress : bool
            Report steps on stderr.

        Returns
        -------
        ReportPaths
            ``html``, ``markdown`` and ``figures`` paths.

        Examples
        --------
        >>> import tempfile, sleeppain as sp
        >>> sim = sp.simulate.diary(30, 10, seed=1)
        >>> res = sp.crosslag(sim.data, id="id", day="day", sleep="sleep_quality",
        ...                   pain="pain", estimator="gee")
        >>> res.report(tempfile.mkdtemp()).html.name
        'report.html'
        """
        from sleeppain.report._report import write_report

        if self.diary is None:
            raise SpecificationError(
                "this result does not carry its diary; call sp.crosslag() again, or use "
                "sleeppain.report.write_report(res, diary, out_dir)."
            )
        return write_report(self, self.diary, out_dir, comparison=comparison, progress=progress)

    # -------------------------------------------------------------------- plots
    def plot(self, standardized: bool = False, ax: Axes | None = None) -> Axes:
        """The coefficient plot of both directions (:meth:`plot_effects`)."""
        return self.plot_effects(standardized=standardized, ax=ax)

    def plot_effects(self, standardized: bool = False, ax: Axes | None = None) -> Axes:
        """Coefficient plot of both directions (one point and interval per model)."""
        from sleeppain.report._figures import plot_effects

        return plot_effects(self, standardized=standardized, ax=ax)

    def plot_within(
        self, direction: str = "sleep->pain", sleep: str | None = None, ax: Axes | None = None
    ) -> Axes:
        """Within-person scatter of a direction's predictor and outcome, with the fitted line.

        Not for a direction with a binary outcome (its slope is in log-odds, not a line
        through the 0/1 values): use :meth:`effects`' ``odds_ratio`` there.
        """
        from sleeppain.report._figures import plot_within

        d = self._direction(direction)
        if d in self.spec.binary:
            raise SpecificationError(
                f"plot_within() draws a straight line through the outcome's values; the "
                f"{d} outcome is binary (family='binomial', a log-odds slope). Read its "
                "odds_ratio in res.effects(), or plot the other direction."
            )
        return plot_within(self, d, self._sleep_key(sleep), ax=ax)

    def plot_person_slopes(
        self, direction: str = "sleep->pain", sleep: str | None = None, ax: Axes | None = None
    ) -> Axes:
        """Histogram of the person-specific slopes of one direction."""
        return self.person_effects().plot(direction=self._direction(direction), sleep=sleep, ax=ax)


def _vertex(mf: ModelFrame, fit: Any, conf_level: float, sleep: str) -> tuple[str, dict[str, Any]]:
    """The vertex of the fitted parabola, its kind, a delta-method interval and range checks."""
    b1, b2 = float(fit.fixef["sleep_w"]), float(fit.fixef["sleep_w_sq"])
    v = fit.vcov.loc[["sleep_w", "sleep_w_sq"], ["sleep_w", "sleep_w_sq"]].to_numpy()
    grand = float((mf.frame["sleep_pm"] - mf.frame["sleep_m"]).iloc[0])
    raw = (mf.frame["sleep_pm"] + mf.frame["sleep_w"]).to_numpy(float)
    lo_obs, hi_obs = float(np.min(raw)), float(np.max(raw))
    est = grand - b1 / (2 * b2) if b2 != 0 else np.nan
    g = np.array([-1 / (2 * b2), b1 / (2 * b2**2)]) if b2 != 0 else np.full(2, np.nan)
    se = float(np.sqrt(max(g @ v @ g, 0.0)))
    crit = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
    curv_half = crit * float(np.sqrt(v[1, 1]))
    if b2 > 0:
        kind = "minimum: the least next-day pain (a U-shape)"
        label = f"{sleep} with the least next-day pain (vertex, minimum)"
    else:
        kind = "maximum: the MOST next-day pain (an inverted U), not an optimum"
        label = f"{sleep} with the most next-day pain (vertex, maximum)"
    notes = [kind]
    if abs(b2) <= curv_half:
        notes.append(
            "the curvature's interval covers 0, so the vertex is not determined by the data"
        )
    values: dict[str, Any] = {
        "estimate": est,
        "std_error": se,
        "statistic": np.nan,
        "df": np.inf,
        "p_value": np.nan,
        "conf_low": est - crit * se,
        "conf_high": est + crit * se,
    }
    if not (np.isfinite(est) and lo_obs <= est <= hi_obs):
        notes.append(
            f"the vertex ({est:.3g}) lies outside the observed range of {sleep} "
            f"[{lo_obs:.3g}, {hi_obs:.3g}]: not reported; within the range the curve is "
            "monotone"
        )
        values.update(estimate=np.nan, std_error=np.nan, conf_low=np.nan, conf_high=np.nan)
    values["note"] = "; ".join(notes)
    return label, values


def _effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    """The columns of :meth:`CrossLagResult.effects` worth printing, in reading order."""
    cols = ["estimate", "std_error", "conf_low", "conf_high", "df", "p_value", "p_holm"]
    cols += ["std_estimate", "slope_sd", "n_obs", "n_persons", *OR_COLUMNS]
    out = effects[[c for c in cols if c in effects.columns]].copy()
    if "p_holm" in out and np.allclose(
        out["p_holm"].to_numpy(float), out["p_value"].to_numpy(float), equal_nan=True
    ):
        out = out.drop(columns="p_holm")
    if "slope_sd" in out and out["slope_sd"].isna().all():
        out = out.drop(columns="slope_sd")
    return out


def _slope_arrays(mf: ModelFrame, fit: Any) -> tuple[Any, np.ndarray]:
    """Person slopes of a main model with their prediction error SDs (and the person ids).

    A logistic mixed model (:class:`~sleeppain.GlmmResult`) has no residual SD: its slopes
    are the fixed effect plus the conditional modes of ``fit.ranef()`` (``cond_se`` its
    conditional SD, lme4's ``condVar``), and ``pev_se`` comes from Henderson's equations
    linearised at the mode, i.e. weighted by the IRLS weights ``mu (1 - mu)`` with unit
    scale (Breslow & Clayton 1993, J Am Stat Assoc 88:9, eq. 6).
    """
    from sleeppain.mixed import GlmmResult

    if isinstance(fit, GlmmResult):
        return _glmm_slope_arrays(mf, fit)
    frame = mf.frame
    X = np.column_stack([np.ones(len(frame)), *(frame[c].to_numpy(float) for c in mf.fixed)])
    focal = mf.focal[0]
    Z = np.column_stack([np.ones(len(frame)), frame[focal].to_numpy(float)])
    codes, levels = pd.factorize(frame["id"], sort=True)
    # lme4's theta of (1 + x | id) is (t1, t2, t3); of (1 + x || id) (t1, t3); of (1 | id)
    # (t1,), the slope having been dropped at a zero SD: as a 2 x 2 lower triangle
    theta = np.asarray(fit.theta, dtype=float)
    theta = {3: theta, 2: np.array([theta[0], 0.0, theta[-1]]), 1: np.array([theta[0], 0, 0])}[
        theta.size
    ]
    arr = person_slopes(
        X,
        Z,
        frame[mf.outcome].to_numpy(float),
        codes,
        len(levels),
        theta,
        float(fit.sigma),
        1 + list(mf.fixed).index(focal),
        1,
    )
    return arr, np.asarray(levels)


def _glmm_slope_arrays(mf: ModelFrame, fit: Any) -> tuple[Any, np.ndarray]:
    """:func:`_slope_arrays` for a logistic mixed model (modes from ``fit.ranef()``)."""
    import dataclasses

    frame = mf.frame
    focal = mf.focal[0]
    X = np.column_stack([np.ones(len(frame)), *(frame[c].to_numpy(float) for c in mf.fixed)])
    Z = np.column_stack([np.ones(len(frame)), frame[focal].to_numpy(float)])
    codes, levels = pd.factorize(frame["id"], sort=True)
    theta = np.asarray(fit.theta, dtype=float)
    theta = {3: theta, 2: np.array([theta[0], 0.0, theta[-1]]), 1: np.array([theta[0], 0, 0])}[
        theta.size
    ]
    eta = np.asarray(fit.eta, dtype=float)
    mu = 1.0 / (1.0 + np.exp(-eta))
    sw = np.sqrt(np.asarray(fit.trials, dtype=float) * mu * (1.0 - mu))
    arr = person_slopes(
        X * sw[:, None],
        Z * sw[:, None],
        np.zeros(len(frame)),
        codes,
        len(levels),
        theta,
        1.0,
        1 + list(mf.fixed).index(focal),
        1,
    )
    re = fit.ranef()
    re = re[(re["group"] == "id") & (re["term"] == focal)].set_index("level")
    fixed = float(fit.fixef[focal])
    if len(re):
        mode = re["estimate"].reindex(levels).to_numpy(float)
        cond = re["std_error"].reindex(levels).to_numpy(float)
    else:  # the slope's SD was estimated at 0 and the slope dropped: every person = fixed
        mode, cond = np.zeros(len(levels)), np.zeros(len(levels))
    arr = dataclasses.replace(arr, slope=fixed + mode, cond_se=cond)
    return arr, np.asarray(levels)
