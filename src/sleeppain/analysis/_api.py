"""The verb :func:`crosslag`: both directions of the sleep-pain loop in one call."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sleeppain._distributed import is_dask_frame
from sleeppain.analysis._frames import FrameOptions, ModelFrame, build_frames
from sleeppain.analysis._models import fit_frame
from sleeppain.analysis._result import CrossLagResult, CrossLagSpec
from sleeppain.errors import DataStructureError, LagCoverageWarning, SpecificationError

__all__ = ["crosslag", "dsem_available"]

_ESTIMATORS = ("lmm", "gee", "dsem")


def _names(value: str | Sequence[str] | None, arg: str) -> tuple[str, ...]:
    if value is None:
        return ()
    out = (value,) if isinstance(value, str) else tuple(value)
    for v in out:
        if not isinstance(v, str):
            raise SpecificationError(f"{arg}= must be column names (strings), got {v!r}.")
    if len(set(out)) != len(out):
        raise SpecificationError(f"{arg}= lists a column twice: {list(out)}.")
    return out


def _flag(value: object, arg: str) -> bool:
    if not isinstance(value, bool):
        raise SpecificationError(f"{arg}= must be True or False, got {value!r}.")
    return value


def _timing(value: str | None) -> str | None:
    if value is None:
        return None
    norm = str(value).replace("-", "_").replace(" ", "_").lower()
    if norm not in ("previous_night", "following_night"):
        raise SpecificationError(
            f"sleep_timing={value!r} is not understood. Use 'previous_night' (a sleep rating "
            "made on day d describes the night before it: a morning diary) or "
            "'following_night' (it describes the night after day d)."
        )
    return norm


def _diary(
    data: Any,
    *,
    id: str | None,
    day: str | None,
    sleep: tuple[str, ...],
    timing: str | None,
    needed: list[str],
) -> Any:
    from sleeppain.diary import Diary

    if isinstance(data, Diary):
        for arg, given, own in (("id", id, data.id_column), ("day", day, data.day_column)):
            if given is not None and given != own:
                raise SpecificationError(
                    f"{arg}={given!r} differs from the Diary's {arg} column {own!r}; drop "
                    f"{arg}= when passing a Diary (it already knows its keys)."
                )
        data.require(needed, "crosslag")
        want_timing = timing or data.sleep_timing
        missing = [s for s in sleep if s not in data.sleep]
        if missing or want_timing != data.sleep_timing:
            data = data.with_sleep((*data.sleep, *missing), want_timing)
        return data
    if isinstance(data, pd.DataFrame):
        absent = [f"{n}=" for n, v in (("id", id), ("day", day)) if v is None]
        if absent:
            raise SpecificationError(
                f"crosslag: {' and '.join(absent)} required when data is a DataFrame "
                "(the person id and day columns), e.g. crosslag(df, id='id', day='date', "
                "sleep='sleep_quality', pain='pain'); or pass a sp.Diary."
            )
        return Diary.from_frame(
            data,
            id=str(id),
            day=str(day),
            sleep=sleep,
            sleep_timing=timing or "previous_night",
            columns=needed,
        )
    raise SpecificationError(
        f"crosslag: data must be a sp.Diary or a pandas DataFrame, got {type(data).__name__}."
    )


def crosslag(
    data: Any,
    *,
    id: str | None = None,
    day: str | None = None,
    sleep: str | Sequence[str] | None = None,
    pain: str,
    sleep_timing: str | None = None,
    covariates: Sequence[str] = (),
    person_covariates: Sequence[str] = (),
    random_slopes: bool = True,
    slope_correlation: bool = False,
    lagged_outcome: bool = True,
    outcome_mean: bool = False,
    sleep_higher_is: str | Mapping[str, str] | None = None,
    estimator: str = "lmm",
    reml: bool = True,
    quadratic: bool = False,
    asymmetric: bool = False,
    moderator: str | None = None,
    time_of_day: bool = False,
    residual: str | None = None,
    family: str | Mapping[str, str] = "gaussian",
    **dsem_options: Any,
) -> Any:
    """Cross-lagged within-person effects of sleep on next-day pain and of pain on sleep.

    With night *n* the night between day *n* and day *n + 1*, the two models are

    - sleep -> pain: ``pain[day n+1] ~ sleep_w[night n] + pain_w[day n] + sleep_m
      + covariates + (1 + sleep_w || id)``
    - pain -> sleep: ``sleep[night n] ~ pain_w[day n] + sleep_w[night n-1] + pain_m
      + covariates + (1 + pain_w || id)``

    where ``_w`` is the deviation from the person's mean over all of that person's
    available observations of the variable and ``_m`` the person mean centred at the
    grand mean of person means. The predictor's person mean separates its between-person
    from its within-person association; the outcome's own between-person level is carried
    by the random intercept (Bolger & Laurenceau 2013, *Intensive Longitudinal Methods*,
    Guilford, ch. 4-5 and 9: person-mean-centred time-varying predictors, their person
    means as level-2 predictors, random intercept for the outcome). Putting the outcome's
    own person mean among the predictors (``outcome_mean=True``, the former default)
    absorbs the random intercept: on ordinary diaries most such fits land on the boundary
    (singular) although the within-person effects barely change. The random intercept and
    slope are uncorrelated (``||``): with the small slope SDs of diaries, a correlated pair
    ``(1 + x | id)`` lands on a correlation of +/-1 (singular) in about a third of studies of
    100 persons x 14 days (``benchmarks/RESULTS.md``). When the slope SD itself is estimated
    at 0, the uncorrelated model equals the random-intercept model, and the slope is dropped
    and noted in ``model_notes`` rather than reported as a singular fit (Bates, Kliegl,
    Vasishth & Baayen 2015, arXiv:1506.04967; Matuschek et al. 2017, J Mem Lang 94:305:
    parsimonious models keep the power and the type I error rate). A row enters a model only if every term is observed on
    the exact calendar day (night) it names: lags follow the calendar, never the row order.

    Parameters
    ----------
    data : Diary or DataFrame
        A :class:`~sleeppain.Diary`, or a long data frame (one row per person-day) with
        ``id=`` and ``day=``.
    id, day : str, optional
        Person and day columns (required with a DataFrame).
    sleep : str or list of str, optional
        Sleep measure(s), e.g. ``"sleep_quality"`` or ``["sleep_quality", "tst_min",
        "se_pct"]``; several measures give one model pair each, and :meth:`effects` one
        table with Holm-adjusted p-values. Default: the sleep columns declared on the
        Diary (``sp.Diary(..., sleep=...)``).
    pain : str
        Pain column (a day variable).
    sleep_timing : {"previous_night", "following_night"}, optional
        Which night a sleep value reported on day *d* describes: night *d - 1* (a
        morning diary) or night *d*. Default: the Diary's own timing, or
        ``"previous_night"`` for a DataFrame.
    covariates : list of str
        Day-level covariates, entered as observed on day *n* (the predictor's day: before
        the outcome in both directions). Rows missing them are left out.
    person_covariates : list of str
        Person-level covariates (constant within person), grand-mean centred.
    random_slopes : bool
        Random slope of the cross-lagged term (default) or random intercept only.
    slope_correlation : bool
        Also estimate the correlation of the random intercept and slope,
        ``(1 + x | id)`` (lme4's default term). Default False: ``(1 + x || id)``, whose
        slope is dropped when its SD is estimated at 0 (see above).
    lagged_outcome : bool
        Include the autoregressive term (``pain_w[day n]``, ``sleep_w[night n-1]``).
    outcome_mean : bool
        Also enter the outcome's own person mean (``pain_m`` in sleep -> pain, ``sleep_m``
        in pain -> sleep) as a predictor: the former default, kept for comparison with
        earlier results. Often singular (see above); not available for GEE.
    sleep_higher_is : {"better", "worse"}, optional
        What a higher value of the sleep measure(s) means: ``"better"`` (sleep quality,
        efficiency, total sleep time) or ``"worse"`` (minutes awake, latency). It sets the
        expected direction of both effects (better sleep, less pain; more pain, worse
        sleep), used by :meth:`~CrossLagResult.person_effects` and the report. A dict
        gives one value per sleep measure. Default: undeclared (both signs are reported).
    estimator : {"lmm", "gee", "dsem"}
        ``"dsem"`` delegates to ``sp.dsem`` (a latent-centred dynamic model for short
        diaries) when that estimator is installed and returns its result. Linear mixed model (:func:`sleeppain.lmm`; REML, Satterthwaite df) or GEE with an
        exchangeable working correlation and robust SEs (statsmodels; the design of
        Alsaadi et al. 2014, Clin J Pain 30:755). GEE has no random effects, and its
        mean model leaves out the outcome's own person mean (``pain_m`` in sleep -> pain,
        ``sleep_m`` in pain -> sleep): that term makes the within-person residual
        correlation negative (about ``-1 / (T - 1)``), where the exchangeable working
        correlation is not positive definite and the GEE iterations do not converge.
    reml : bool
        REML (default) or maximum likelihood for ``estimator="lmm"``.
    quadratic : bool
        Also fit sleep -> pain with ``sleep_w`` and ``sleep_w**2`` (a U-shape in hours
        slept, Edwards et al. 2008, Pain 137:202); :meth:`~CrossLagResult.extensions`
        gives the curvature and the sleep value with the least pain.
    asymmetric : bool
        Also fit sleep -> pain with separate slopes for nights below and above the
        person's mean (Wei et al. 2018, Front Psychiatry 9:377), and test their difference.
    moderator : str, optional
        A person-level column (e.g. depression): also fit both directions with the
        cross-lagged slope's interaction with the grand-mean-centred moderator
        (cross-level moderation).
    time_of_day : bool
        Pain rated several times a day (a Diary built with ``prompt=`` and
        ``aggregate=``): also fit sleep -> pain at each prompt of day *n + 1* with one
        sleep slope per prompt slot (Gerhart et al. 2017; Whibley et al. 2019), and test
        first vs last prompt. The daily models use the aggregated daily pain.
    residual : {None, "ar1", "car1"}
        Residual correlation within person in every mixed model, passed to
        :func:`sleeppain.lmm` (nlme 3.1's ``corAR1`` / ``corCAR1``): the daily models use
        ``correlation=residual, time="day"`` (days k apart correlate phi^k; a missing day
        is a gap), the time-of-day model ``correlation="car1"`` with time ``day + position
        / k`` of the prompt among the k slots. The estimated phi of each model is in
        :meth:`~CrossLagResult.effects` (``phi``), ``glance()`` and the model notes.
        ``estimator="lmm"`` only.
    family : {"gaussian", "binomial"} or dict
        The outcome's family: one value for both directions, or a dict per direction,
        e.g. ``{"sleep->pain": "binomial"}`` for flare days after a poor night (the other
        direction stays ``"gaussian"``). A ``"binomial"`` direction needs a 0/1 outcome,
        which you build, e.g. ``df["flare"] = (df["pain"] >= 7).astype(int).where(
        df["pain"].notna())`` and ``pain="flare"`` (the ``where`` keeps a missing pain
        rating missing instead of turning it into 0); it is fitted by :func:`sleeppain.glmm` (lme4's ``glmer``:
        logistic, Laplace, maximum likelihood; ``reml`` does not apply) with the same
        random part ``(1 + x || id)``, or by GEE with statsmodels' Binomial family (logit).
        Its autoregressive term is the outcome's previous value as observed (0/1: the
        dynamic random-intercept logit), not a within-person deviation.
        :meth:`~CrossLagResult.effects` adds ``odds_ratio``, ``or_conf_low`` and
        ``or_conf_high`` (``exp`` of the log-odds estimate and interval) and leaves
        ``std_estimate`` NaN for that direction (noted in ``model_notes``). Not available
        with ``estimator="dsem"``, a Dask diary, ``residual=`` or ``time_of_day=True``.

    Returns
    -------
    CrossLagResult

    Raises
    ------
    SpecificationError
        Bad arguments (unknown estimator, pain among the sleep columns, ...).
    DataStructureError
        Columns absent or not numeric, a person covariate varying within person.
    EstimationError
        A model has no complete rows or cannot be fitted.

    Warns
    -----
    LagCoverageWarning
        Some persons have no usable lagged pair and are left out.
    BoundaryFitWarning, ConvergenceWarning
        From the mixed-model fits, prefixed with the model they come from (rare with the
        default model; common with ``outcome_mean=True``).

    Notes
    -----
    Person-mean centring of the lagged outcome biases the autoregressive coefficient
    downwards in short series (Nickell 1981: about ``-(1 + phi) / (T - 1)``), and the
    cross-lagged effects slightly; see Hamaker & Grasman (2015). The equivalence of these
    models with hand-built ``sp.lmm`` fits is tested in ``tests/analysis``.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.simulate.diary(80, 14, seed=5)
    >>> res = sp.crosslag(sim.data, id="id", day="day", sleep="sleep_quality",
    ...                   pain="pain", estimator="gee")
    >>> bool(res.effects().loc["sleep->pain", "conf_high"] < 0)
    True

    A binary outcome (flare days, pain >= 7) in the sleep -> pain direction:

    >>> df = sim.data.assign(flare=(sim.data["pain"] >= 7).astype(int).where(
    ...     sim.data["pain"].notna()))
    >>> res = sp.crosslag(df, id="id", day="day", sleep="sleep_quality", pain="flare",
    ...                   estimator="gee", family={"sleep->pain": "binomial"})
    >>> bool(res.effects().loc["sleep->pain", "odds_ratio"] > 0)
    True
    """
    families = _families(family)
    if "binomial" in dict(families).values():
        if estimator == "dsem":
            raise SpecificationError(
                "family='binomial' is not available with estimator='dsem' (its dynamic model "
                "is linear); use estimator='lmm' (a logistic mixed model) or 'gee'."
            )
        if residual is not None:
            raise SpecificationError(
                f"residual={residual!r} is not available with family='binomial' (a residual "
                "correlation of the linear mixed model; a logistic model has no residual "
                "scale); drop residual=."
            )
        if time_of_day and dict(families)["sleep->pain"] == "binomial":
            raise SpecificationError(
                "time_of_day=True is not available with a binary sleep->pain outcome (the "
                "prompt-level model is linear); drop time_of_day= or fit that direction "
                "with family='gaussian'."
            )
        if is_dask_frame(data) or type(data).__name__ == "DaskDiary":
            raise SpecificationError(
                "family='binomial' is not available for a Dask diary (sp.glmm works in "
                "memory); compute the diary to pandas, or use family='gaussian'."
            )
    if estimator == "dsem":
        shared = {
            "id": id,
            "day": day,
            "sleep": _declared_sleep(data, sleep),
            "pain": pain,
            "sleep_timing": sleep_timing,
            "covariates": tuple(covariates),
            "person_covariates": tuple(person_covariates),
            "random_slopes": random_slopes,
            "lagged_outcome": lagged_outcome,
            "quadratic": quadratic,
            "asymmetric": asymmetric,
            "moderator": moderator,
            "time_of_day": time_of_day,
        }
        if residual is not None:
            raise SpecificationError(
                "residual= is an option of estimator='lmm' (sp.lmm's correlation=); drop it "
                "with estimator='dsem', whose dynamic model has its own autoregression."
            )
        if outcome_mean:
            raise SpecificationError(
                "outcome_mean=True has no meaning with estimator='dsem' (its person means "
                "are latent); drop it."
            )
        if slope_correlation:
            raise SpecificationError(
                "slope_correlation=True is an option of estimator='lmm' (lme4's "
                "(1 + x | id)); drop it with estimator='dsem'."
            )
        return _dsem(data, shared, dsem_options)
    if dsem_options:
        raise SpecificationError(
            f"crosslag() got unexpected keyword argument(s) {sorted(dsem_options)}; they are "
            "options of estimator='dsem' only."
        )
    spec = _specification(
        data,
        sleep=sleep,
        pain=pain,
        covariates=covariates,
        person_covariates=person_covariates,
        random_slopes=random_slopes,
        slope_correlation=slope_correlation,
        lagged_outcome=lagged_outcome,
        outcome_mean=outcome_mean,
        sleep_higher_is=sleep_higher_is,
        estimator=estimator,
        reml=reml,
        quadratic=quadratic,
        asymmetric=asymmetric,
        moderator=moderator,
        time_of_day=time_of_day,
        residual=residual,
    )
    spec = dataclasses.replace(spec, family=families)
    if is_dask_frame(data) or type(data).__name__ == "DaskDiary":  # partition by partition
        if spec.residual is not None:
            raise SpecificationError(
                "residual= is not available for a Dask diary (sp.lmm's correlation= works "
                "in memory); compute the diary to pandas, or drop residual=."
            )
        from sleeppain.diary._dask import crosslag_entry

        return crosslag_entry(data, spec, id=id, day=day, timing=_timing(sleep_timing))
    diary = _diary(
        data,
        id=id,
        day=day,
        sleep=spec.sleep,
        timing=_timing(sleep_timing),
        needed=_needed(spec),
    )
    spec = dataclasses.replace(spec, sleep_timing=diary.sleep_timing)
    _check_binary(diary, spec)
    frames, ext_frames = _model_frames(diary, spec)
    fits, ext_fits, caught, notes = _fit_models(frames, ext_frames, spec)
    caught += _coverage_warnings(frames)
    for label, cat, msg in caught:
        text = msg if label == "data" else f"crosslag {label} model: {msg}"
        warnings.warn(text, cat, stacklevel=2)
    fit_warnings = [(label, cat.__name__, msg) for label, cat, msg in caught]
    return CrossLagResult(
        spec=spec,
        frames=frames,
        fits=fits,
        extension_frames=ext_frames,
        extension_fits=ext_fits,
        diary_accounting=diary.accounting_for(spec.pain),
        fit_warnings=tuple(fit_warnings),
        diary=diary,
        model_notes=tuple(notes),
    )


# ------------------------------------------------------------------------ stages
Caught = list[tuple[str, type[Warning], str]]


def _declared_sleep(data: Any, sleep: str | Sequence[str] | None) -> tuple[str, ...]:
    """``sleep=`` as given, or the Diary's declared sleep columns when omitted."""
    cols = _names(sleep, "sleep")
    if cols:
        return cols
    declared = tuple(getattr(data, "sleep", ()) or ()) if not isinstance(data, pd.DataFrame) else ()
    if declared:
        return declared
    raise SpecificationError(
        "crosslag: no sleep column: pass sleep='...' (e.g. sleep='sleep_quality'), or build "
        "the Diary with sleep=... so crosslag can use its declared sleep columns."
    )


def _higher_is(
    value: str | Mapping[str, str] | None, sleep: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """Normalise ``sleep_higher_is`` to ((sleep column, "better"/"worse"), ...)."""
    if value is None:
        return ()
    given = dict(value) if isinstance(value, Mapping) else dict.fromkeys(sleep, value)
    unknown = sorted(set(given) - set(sleep))
    if unknown:
        raise SpecificationError(
            f"sleep_higher_is names {unknown}, which are not among sleep= {list(sleep)}."
        )
    out = []
    for s, v in given.items():
        norm = str(v).strip().lower()
        if norm not in ("better", "worse"):
            raise SpecificationError(
                f"sleep_higher_is={v!r} for {s!r}: say 'better' (e.g. sleep quality, sleep "
                "efficiency) or 'worse' (e.g. minutes awake after sleep onset)."
            )
        out.append((s, norm))
    return tuple(out)


def _specification(data: Any, **kw: Any) -> CrossLagSpec:
    """Check the arguments and return the normalised specification (timing filled later)."""
    sleep_cols = _declared_sleep(data, kw["sleep"])
    pain = kw["pain"]
    if not isinstance(pain, str):
        raise SpecificationError(f"pain= must be one column name, got {pain!r}.")
    if pain in sleep_cols:
        raise SpecificationError(
            f"pain={pain!r} is also listed in sleep=; pain is a day variable and sleep a "
            "night variable: name different columns."
        )
    covs = _names(kw["covariates"], "covariates")
    pcovs = _names(kw["person_covariates"], "person_covariates")
    clash = [c for c in (*covs, *pcovs) if c in (pain, *sleep_cols)]
    if clash:
        raise SpecificationError(
            f"covariates {clash} are the pain or sleep columns already in the models; "
            "remove them from covariates=/person_covariates=."
        )
    estimator = kw["estimator"]
    if estimator not in _ESTIMATORS:
        raise SpecificationError(
            f"estimator={estimator!r} is not known; use 'lmm' (linear mixed model), 'gee' "
            "(generalised estimating equations, exchangeable correlation) or 'dsem' "
            "(latent-centred dynamic model, sp.dsem)."
        )
    moderator = kw["moderator"]
    if moderator is not None and not isinstance(moderator, str):
        raise SpecificationError(f"moderator= must be one column name, got {moderator!r}.")
    outcome_mean = _flag(kw["outcome_mean"], "outcome_mean")
    if outcome_mean and estimator == "gee":
        raise SpecificationError(
            "outcome_mean=True is not available with estimator='gee': the outcome's own "
            "person mean makes the within-person residual correlation negative, where the "
            "exchangeable working correlation does not converge. Use estimator='lmm'."
        )
    return CrossLagSpec(
        sleep=sleep_cols,
        pain=pain,
        sleep_timing="",
        covariates=covs,
        person_covariates=pcovs,
        random_slopes=_flag(kw["random_slopes"], "random_slopes"),
        slope_correlation=_flag(kw["slope_correlation"], "slope_correlation"),
        lagged_outcome=_flag(kw["lagged_outcome"], "lagged_outcome"),
        estimator=estimator,
        reml=_flag(kw["reml"], "reml"),
        quadratic=_flag(kw["quadratic"], "quadratic"),
        asymmetric=_flag(kw["asymmetric"], "asymmetric"),
        moderator=moderator,
        time_of_day=_flag(kw["time_of_day"], "time_of_day"),
        outcome_mean=outcome_mean,
        sleep_higher_is=_higher_is(kw["sleep_higher_is"], sleep_cols),
        residual=_residual(kw["residual"], estimator),
    )


def _families(value: object) -> tuple[tuple[str, str], ...]:
    """Normalise ``family=`` to ((direction, family), ...) in DIRECTIONS order.

    Examples
    --------
    >>> _families({"sleep_to_pain": "Binomial"})
    (('sleep->pain', 'binomial'), ('pain->sleep', 'gaussian'))
    """
    from sleeppain.analysis._frames import DIRECTIONS
    from sleeppain.analysis._models import FAMILIES

    def norm(v: object, where: str) -> str:
        f = v.strip().lower() if isinstance(v, str) else v
        if f not in FAMILIES:
            raise SpecificationError(
                f"family={v!r}{where} is not known; use 'gaussian' (a rating: linear model) "
                "or 'binomial' (a 0/1 outcome, e.g. a flare day: logistic model)."
            )
        return str(f)

    if isinstance(value, Mapping):
        given: dict[str, str] = {}
        for k, v in value.items():
            d = str(k).replace(" ", "").replace("_to_", "->").lower()
            if d not in DIRECTIONS:
                raise SpecificationError(
                    f"family= names the direction {k!r}; use 'sleep->pain' and/or "
                    "'pain->sleep', e.g. family={'sleep->pain': 'binomial'}."
                )
            given[d] = norm(v, f" for {k!r}")
        return tuple((d, given.get(d, "gaussian")) for d in DIRECTIONS)
    f = norm(value, "")
    return tuple((d, f) for d in DIRECTIONS)


def _check_binary(diary: Any, spec: CrossLagSpec) -> None:
    """A binomial direction's outcome must be 0/1 where observed; name bad (id, day) rows."""
    fam = dict(spec.family)
    outcomes = []
    if fam.get("sleep->pain") == "binomial":
        outcomes.append(("sleep->pain", spec.pain))
    if fam.get("pain->sleep") == "binomial":
        outcomes += [("pain->sleep", s) for s in spec.sleep]
    data = diary.data
    for direction, col in outcomes:
        v = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(v) & (v != 0) & (v != 1)
        if bad.any():
            where = data.loc[bad, ["id", "day_label"]].head(3)
            rows = "; ".join(f"id={i!r} on {d}" for i, d in where.itertuples(index=False))
            values = sorted({float(x) for x in v[bad]})[:5]
            raise DataStructureError(
                f"family='binomial' for {direction} needs a 0/1 outcome, but {col!r} takes "
                f"other values ({', '.join(f'{x:g}' for x in values)}) on {int(bad.sum())} "
                f"rows, e.g. {rows}. Build the 0/1 outcome first and pass that column, "
                + (
                    "e.g. df['flare'] = (df['pain'] >= 7).astype(int).where(df['pain']"
                    ".notna()) and pain='flare'."
                    if direction == "sleep->pain"
                    else "e.g. df['poor_night'] = (df['sleep_quality'] <= 3).astype(int)"
                    ".where(df['sleep_quality'].notna()) and sleep='poor_night'."
                )
            )


def _residual(value: object, estimator: str) -> str | None:
    """Normalise ``residual=`` (None, "ar1", "car1"), for the mixed model only."""
    if value is None:
        return None
    from sleeppain.analysis._models import RESIDUALS

    norm = str(value).strip().lower() if isinstance(value, str) else value
    if norm not in RESIDUALS:
        raise SpecificationError(
            f"residual={value!r} is not known; use None, 'ar1' (days k apart correlate "
            "phi^k, nlme's corAR1) or 'car1' (continuous time, nlme's corCAR1)."
        )
    if estimator != "lmm":
        raise SpecificationError(
            f"residual={value!r} needs estimator='lmm' (a residual correlation of sp.lmm); "
            f"estimator={estimator!r} has its own working correlation."
        )
    return str(norm)


def _needed(spec: CrossLagSpec) -> list[str]:
    mod = [spec.moderator] if spec.moderator else []
    return list(
        dict.fromkeys([spec.pain, *spec.sleep, *spec.covariates, *spec.person_covariates, *mod])
    )


def _model_frames(
    diary: Any, spec: CrossLagSpec
) -> tuple[dict[tuple[str, str], ModelFrame], dict[tuple[str, str, str], ModelFrame]]:
    """The lagged model frames of every sleep measure, direction and extension."""
    opts = FrameOptions(
        covariates=spec.covariates,
        person_covariates=spec.person_covariates,
        random_slopes=spec.random_slopes,
        lagged_outcome=spec.lagged_outcome,
        quadratic=spec.quadratic,
        asymmetric=spec.asymmetric,
        moderator=spec.moderator,
        time_of_day=spec.time_of_day,
        outcome_mean=spec.outcome_mean,
        binary=tuple(d for d, f in spec.family if f == "binomial"),
    )
    frames: dict[tuple[str, str], ModelFrame] = {}
    ext_frames: dict[tuple[str, str, str], ModelFrame] = {}
    for s in spec.sleep:
        main, ext = build_frames(diary, s, spec.pain, opts)
        frames.update({(s, d): mf for d, mf in main.items()})
        ext_frames.update({(s, e, d): mf for (e, d), mf in ext.items()})
    return frames, ext_frames


def _fit_models(
    frames: Mapping[tuple[str, str], ModelFrame],
    ext_frames: Mapping[tuple[str, str, str], ModelFrame],
    spec: CrossLagSpec,
) -> tuple[dict[Any, Any], dict[Any, Any], Caught, list[tuple[str, str]]]:
    """Fit every frame; warnings come back as (model label, category, message).

    The fourth item lists (model label, note): random slopes dropped at a zero SD.
    """
    fits: dict[Any, Any] = {}
    ext_fits: dict[Any, Any] = {}
    caught: Caught = []
    notes: list[tuple[str, str]] = []
    todo: list[tuple[Any, ModelFrame, dict[Any, Any]]] = [
        *((k, mf, fits) for k, mf in frames.items()),
        *((k, mf, ext_fits) for k, mf in ext_frames.items()),
    ]
    for key, mf, into in todo:
        out = fit_frame(
            mf,
            estimator=spec.estimator,
            random_slopes=spec.random_slopes,
            reml=spec.reml,
            slope_correlation=spec.slope_correlation,
            residual=spec.residual,
            family=spec.family_of(mf.direction),
        )
        label = f"{mf.direction} ({mf.sleep}" + (f", {mf.extension}" if mf.extension else "") + ")"
        for cat, msg in out.warnings:
            caught.append((label, cat, msg))
        notes += [(label, n) for n in out.notes]
        into[key] = out.fit
    return fits, ext_fits, caught, notes


def _coverage_warnings(
    frames: Mapping[tuple[str, str], ModelFrame],
) -> Caught:
    """One LagCoverageWarning when some persons have no usable lagged pair."""
    short = [
        (f"{d} ({s})", mf.accounting)
        for (s, d), mf in frames.items()
        if mf.accounting.persons_used < mf.accounting.persons
    ]
    if not short:
        return []
    detail = "; ".join(f"{name}: {a.persons - a.persons_used} of {a.persons}" for name, a in short)
    msg = (
        "some persons have no usable lagged pair (no consecutive days with every term "
        f"observed) and are left out: {detail}. See res.accounting()."
    )
    return [("data", LagCoverageWarning, msg)]


def dsem_available() -> bool:
    """Whether ``sp.dsem`` (the ``sleeppain.dynamics`` package) is installed.

    Examples
    --------
    >>> isinstance(dsem_available(), bool)
    True
    """
    import importlib.util

    try:
        return importlib.util.find_spec("sleeppain.dynamics") is not None
    except (ImportError, ValueError):  # pragma: no cover
        return False


def _dsem(data: Any, shared: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
    """``estimator="dsem"``: hand the arguments to ``sp.dsem`` when it is installed."""
    if not dsem_available():
        raise SpecificationError(
            "estimator='dsem' needs sp.dsem (the sleeppain.dynamics package), which is not "
            "available in this installation; use estimator='lmm'."
        )
    import importlib

    wiring = importlib.import_module("sleeppain.dynamics._wiring")
    kwargs = {k: v for k, v in {**shared, **options}.items() if v is not None}
    return wiring.crosslag_via_dsem(data, **kwargs)
