"""The verb :func:`crosslag`: both directions of the sleep-pain loop in one call."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from sleeppain.analysis._frames import FrameOptions, build_frames
from sleeppain.analysis._models import fit_frame
from sleeppain.analysis._result import CrossLagResult, CrossLagSpec
from sleeppain.errors import LagCoverageWarning, SpecificationError

__all__ = ["crosslag"]

_ESTIMATORS = ("lmm", "gee")


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
    sleep: str | Sequence[str],
    pain: str,
    sleep_timing: str | None = None,
    covariates: Sequence[str] = (),
    person_covariates: Sequence[str] = (),
    random_slopes: bool = True,
    lagged_outcome: bool = True,
    estimator: str = "lmm",
    reml: bool = True,
    quadratic: bool = False,
    asymmetric: bool = False,
    moderator: str | None = None,
    time_of_day: bool = False,
) -> CrossLagResult:
    """Cross-lagged within-person effects of sleep on next-day pain and of pain on sleep.

    With night *n* the night between day *n* and day *n + 1*, the two models are

    - sleep -> pain: ``pain[day n+1] ~ sleep_w[night n] + pain_w[day n] + sleep_m + pain_m
      + covariates + (1 + sleep_w | id)``
    - pain -> sleep: ``sleep[night n] ~ pain_w[day n] + sleep_w[night n-1] + pain_m +
      sleep_m + covariates + (1 + pain_w | id)``

    where ``_w`` is the deviation from the person's mean over all of that person's
    available observations of the variable and ``_m`` the person mean centred at the
    grand mean of person means. A row enters a model only if every term is observed on
    the exact calendar day (night) it names: lags follow the calendar, never the row order.

    Parameters
    ----------
    data : Diary or DataFrame
        A :class:`~sleeppain.Diary`, or a long data frame (one row per person-day) with
        ``id=`` and ``day=``.
    id, day : str, optional
        Person and day columns (required with a DataFrame).
    sleep : str or list of str
        Sleep measure(s), e.g. ``"sleep_quality"`` or ``["sleep_quality", "tst_min",
        "se_pct"]``; several measures give one model pair each, and :meth:`effects` one
        table with Holm-adjusted p-values.
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
    lagged_outcome : bool
        Include the autoregressive term (``pain_w[day n]``, ``sleep_w[night n-1]``).
    estimator : {"lmm", "gee"}
        Linear mixed model (:func:`sleeppain.lmm`; REML, Satterthwaite df) or GEE with an
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
        From the mixed-model fits, prefixed with the model they come from. Including the
        person mean of the outcome (``pain_m`` in sleep -> pain) often leaves little
        random-intercept variance, so singular fits are common and usually harmless for
        the within-person effects.

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
    """
    sleep_cols = _names(sleep, "sleep")
    if not sleep_cols:
        raise SpecificationError("sleep= needs at least one sleep column.")
    if not isinstance(pain, str):
        raise SpecificationError(f"pain= must be one column name, got {pain!r}.")
    if pain in sleep_cols:
        raise SpecificationError(
            f"pain={pain!r} is also listed in sleep=; pain is a day variable and sleep a "
            "night variable: name different columns."
        )
    covs = _names(covariates, "covariates")
    pcovs = _names(person_covariates, "person_covariates")
    clash = [c for c in (*covs, *pcovs) if c in (pain, *sleep_cols)]
    if clash:
        raise SpecificationError(
            f"covariates {clash} are the pain or sleep columns already in the models; "
            "remove them from covariates=/person_covariates=."
        )
    if estimator not in _ESTIMATORS:
        raise SpecificationError(
            f"estimator={estimator!r} is not known; use 'lmm' (linear mixed model) or 'gee' "
            "(generalised estimating equations, exchangeable correlation)."
        )
    if moderator is not None and not isinstance(moderator, str):
        raise SpecificationError(f"moderator= must be one column name, got {moderator!r}.")
    spec = CrossLagSpec(
        sleep=sleep_cols,
        pain=pain,
        sleep_timing="",
        covariates=covs,
        person_covariates=pcovs,
        random_slopes=_flag(random_slopes, "random_slopes"),
        lagged_outcome=_flag(lagged_outcome, "lagged_outcome"),
        estimator=estimator,
        reml=_flag(reml, "reml"),
        quadratic=_flag(quadratic, "quadratic"),
        asymmetric=_flag(asymmetric, "asymmetric"),
        moderator=moderator,
        time_of_day=_flag(time_of_day, "time_of_day"),
    )
    needed = list(
        dict.fromkeys([pain, *sleep_cols, *covs, *pcovs, *([moderator] if moderator else [])])
    )
    diary = _diary(
        data, id=id, day=day, sleep=sleep_cols, timing=_timing(sleep_timing), needed=needed
    )
    spec = dataclasses.replace(spec, sleep_timing=diary.sleep_timing)
    opts = FrameOptions(
        covariates=covs,
        person_covariates=pcovs,
        random_slopes=spec.random_slopes,
        lagged_outcome=spec.lagged_outcome,
        quadratic=spec.quadratic,
        asymmetric=spec.asymmetric,
        moderator=moderator,
        time_of_day=spec.time_of_day,
        drop_outcome_mean=estimator == "gee",
    )
    frames, fits, ext_frames, ext_fits = {}, {}, {}, {}
    fit_warnings: list[tuple[str, str, str]] = []
    pending: list[tuple[type[Warning], str]] = []
    for s in sleep_cols:
        main, ext = build_frames(diary, s, pain, opts)
        todo = [((s, d), None, mf) for d, mf in main.items()]
        todo += [((s, e, d), e, mf) for (e, d), mf in ext.items()]
        for key, e, mf in todo:
            out = fit_frame(mf, estimator=estimator, random_slopes=spec.random_slopes, reml=reml)
            label = f"{mf.direction} ({s}" + (f", {e}" if e else "") + ")"
            for cat, msg in out.warnings:
                fit_warnings.append((label, cat.__name__, msg))
                pending.append((cat, f"crosslag {label} model: {msg}"))
            if e is None:
                frames[key], fits[key] = mf, out.fit
            else:
                ext_frames[key], ext_fits[key] = mf, out.fit
    short = [
        (f"{d} ({s})", mf.accounting)
        for (s, d), mf in frames.items()
        if mf.accounting.persons_used < mf.accounting.persons
    ]
    if short:
        detail = "; ".join(
            f"{name}: {a.persons - a.persons_used} of {a.persons}" for name, a in short
        )
        msg = (
            "some persons have no usable lagged pair (no consecutive days with every term "
            f"observed) and are left out: {detail}. See res.accounting()."
        )
        fit_warnings.append(("data", LagCoverageWarning.__name__, msg))
        pending.append((LagCoverageWarning, msg))
    for cat, msg in pending:
        warnings.warn(msg, cat, stacklevel=2)
    return CrossLagResult(
        spec=spec,
        frames=frames,
        fits=fits,
        extension_frames=ext_frames,
        extension_fits=ext_fits,
        diary_accounting=diary.summary(pain=pain),
        fit_warnings=tuple(fit_warnings),
    )
