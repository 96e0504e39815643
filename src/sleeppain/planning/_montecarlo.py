"""``sp.power``: Monte Carlo power of the lagged multilevel sleep-pain models."""

from __future__ import annotations

import difflib
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import ConvergenceWarning, RuntimeEstimateWarning, SpecificationError
from sleeppain.planning._engine import ChunkResult, run_chunk, summarise
from sleeppain.planning._generate import DIRECTIONS, check_person_stationarity
from sleeppain.planning._result import PowerResult
from sleeppain.simulate import DiaryParameters

__all__ = ["CHUNK_SIZE", "power"]

#: studies simulated and fitted together in one task. Fixed (never derived from n_jobs) so
#: that a seed gives the same studies whatever the number of workers.
CHUNK_SIZE = 100
#: smallest number of persons: 5 fixed effects (2 of them between-person) and 3 covariance
#: parameters need at least this many persons to be estimable.
MIN_PERSONS = 5
#: smallest number of days: a lagged model needs two consecutive days, the person means a third.
MIN_DAYS = 3
#: defaults of sp.power that differ from DiaryParameters' (a diary study without any missing
#: day is the exception; 10% missing days is a modest, common completion rate).
POWER_DEFAULTS: dict[str, float] = {"missing_day_share": 0.1}
#: estimated run times above this many seconds raise a RuntimeEstimateWarning
LONG_RUN_SECONDS = 180.0
#: the clock that times the first chunk (a module attribute so tests can replace it)
_clock = time.perf_counter
TESTS = {
    "satterthwaite": "Wald t test with Satterthwaite df (as lmerTest 3.1; SE as lme4's vcov)",
    "z": "Wald z test (SE as lme4's vcov; standard normal reference)",
}


def _as_sizes(name: str, value: int | Sequence[int], minimum: int, why: str) -> list[int]:
    values = [value] if np.ndim(value) == 0 else list(value)  # type: ignore[arg-type]
    if not values:
        raise SpecificationError(f"{name} is empty; pass a positive integer or a list of them.")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            if isinstance(v, float | np.floating) and float(v).is_integer():
                v = int(v)
            else:
                raise SpecificationError(
                    f"{name} contains {v!r}, which is not a whole number; pass integers, "
                    f"e.g. {name}=[50, 100]."
                )
        if v < minimum:
            raise SpecificationError(
                f"{name} contains {int(v)}, but it must be at least {minimum}: {why} "
                f"Pass e.g. {name}={max(minimum, 14) if name == 'n_days' else 100}."
            )
        out.append(int(v))
    return sorted(set(out))


def _n_workers(n_jobs: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise SpecificationError(
            f"n_jobs={n_jobs!r} is not a number of worker processes; pass a positive integer, "
            "or -1 for all cores (-2 for all but one)."
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    return int(n_jobs) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs))


def _root_seed(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SpecificationError(
            f"seed={seed!r} is not a non-negative integer (or numpy SeedSequence, or None for "
            "fresh entropy). Pass e.g. seed=2024."
        )
    return np.random.SeedSequence(int(seed))


def _cell_seed(root: np.random.SeedSequence, n_persons: int, n_days: int) -> np.random.SeedSequence:
    """A cell's seed depends only on the root seed and the cell, not on the rest of the grid."""
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, n_persons, n_days))


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start workers without re-running the user's ``__main__`` script.

    The workers only need :func:`run_chunk` from this package, so the spawn machinery is
    kept from importing the caller's script (which, without an ``if __name__ ==
    "__main__":`` guard, would call ``sp.power`` again in every worker).
    """
    main = sys.modules.get("__main__")
    if main is None:  # pragma: no cover - embedded interpreters
        yield
        return
    saved = {a: getattr(main, a) for a in ("__file__", "__spec__") if hasattr(main, a)}
    try:
        if "__file__" in saved:
            del main.__file__
        main.__spec__ = None
        yield
    finally:
        for attr, value in saved.items():
            setattr(main, attr, value)
        if "__spec__" not in saved:
            del main.__spec__


def _executor(workers: int) -> ProcessPoolExecutor:
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["sleeppain.planning._engine"])
    else:  # pragma: no cover - Windows, macOS without forkserver
        ctx = mp.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def power(
    *,
    n_persons: int | Sequence[int],
    n_days: int | Sequence[int],
    sleep_to_pain: float,
    pain_to_sleep: float,
    n_sims: int = 1000,
    alpha: float = 0.05,
    seed: int | np.random.SeedSequence | None,
    n_jobs: int = -1,
    progress: bool | None = None,
    test: str = "satterthwaite",
    sleep_scale: str = "0-10",
    round_to_scale: bool = True,
    outcome_mean: bool = False,
    slope_correlation: bool = False,
    residual: str | None = None,
    residual_ar: float = 0.0,
    **generating_parameters: Any,
) -> PowerResult:
    """Simulated power to detect the cross-lagged effects of sleep on pain and pain on sleep.

    For every design cell (each number of persons crossed with each number of days),
    ``n_sims`` diary studies are simulated from a bivariate cross-lagged process with
    random slopes (the model of :mod:`sleeppain.simulate`; parameters are the fields of
    :class:`sleeppain.simulate.DiaryParameters`), and both lagged
    multilevel models are fitted to each study by REML:

    * ``sleep->pain``: ``pain[day n+1] ~ sleep_w[night n] + pain_w[day n] + sleep_m
      + (1 + sleep_w || id)``
    * ``pain->sleep``: ``sleep[night n] ~ pain_w[day n] + sleep_w[night n-1] + pain_m
      + (1 + pain_w || id)``

    where ``_w`` is the deviation from the person's mean over all their ratings and ``_m``
    the grand-mean-centred person mean: ``sp.crosslag``'s default models, in which the random
    intercept carries the outcome's between-person level (Bolger & Laurenceau 2013). With
    ``outcome_mean=True`` the outcome's own person mean is added as a predictor (the former
    default, singular in most simulated studies). The random intercept and slope are
    uncorrelated (``||``), as ``sp.crosslag``'s default: a study whose slope SD is estimated
    at 0 is the random-intercept fit (``share_reduced`` in the table) and counts as singular
    only if its intercept SD is 0 as well (Bates, Kliegl, Vasishth & Baayen 2015; Matuschek
    et al. 2017). ``slope_correlation=True`` fits ``(1 + x | id)`` instead: with the small
    default slope SDs about 25-35% of those fits put the correlation at +/-1 (singular) at
    100 persons x 14 days. The cross-lagged fixed effect is tested two-sided
    with ``estimate / SE`` (the SE is lme4's ``vcov``) against a t distribution with
    Satterthwaite degrees of freedom computed as lmerTest 3.1 does (``test="satterthwaite"``,
    the default: what ``summary()`` of an lmerTest fit reports), or against the standard
    normal (``test="z"``, slightly faster). With a random slope the df are roughly the
    number of persons, so the two differ little at 100 persons but the z test is liberal in
    small designs (25 persons x 7 days, median df about 20: with no true effect the z test
    rejected 6.2% and the Satterthwaite test 5.4% of 2,000 simulated studies at alpha 0.05).

    The fits are lme4-exact (same profiled REML criterion, Bates et al. 2015; Satterthwaite
    df as lmerTest) but use a batched optimiser specialised to these models, so 1,000
    studies take seconds. Alongside power, the table reports the bias of the autoregressive
    effect of each model: person-mean centring biases it downward in short series, by about
    ``-(1 + phi) / (T - 1)`` (Nickell 1981; Hamaker & Grasman 2015), and the cross-lagged
    estimates inherit part of that bias (see ``bias`` and ``coverage``), so the table shows
    how short a series is too short.

    Parameters
    ----------
    n_persons : int or sequence of int
        Persons per study (at least 5).
    n_days : int or sequence of int
        Diary days per person (at least 3).
    sleep_to_pain : float
        Mean within-person effect of last night's sleep quality on today's pain (pain points
        per sleep-quality point).
    pain_to_sleep : float
        Mean within-person effect of today's pain on tonight's sleep quality.
    n_sims : int, default 1000
        Simulated studies per design cell.
    alpha : float, default 0.05
        Two-sided significance level.
    seed : int, numpy.random.SeedSequence or None
        Seed of all randomness (required; ``None`` draws fresh entropy, recorded in the
        result). A cell's studies depend only on the seed and the cell, so results are
        identical whatever ``n_jobs`` is and whichever other cells are in the grid.
    n_jobs : int, default -1
        Worker processes (-1: all cores, -2: all but one). ``1`` runs in this process.
    progress : bool, optional
        Show a progress bar on stderr (default: in a terminal, a notebook or an
        interactive session, as the ``sleeppain power`` command does).
    test : {"satterthwaite", "z"}, default "satterthwaite"
        Reference distribution of the test of the cross-lagged effect (see above).
    sleep_scale : {"0-10", "1-5"}, default "0-10"
        Scale of the sleep-quality rating (pain is rated 0-10), as in ``sp.simulate.diary``.
    round_to_scale : bool, default True
        Round ratings to whole points of their scales (and clip them).
    outcome_mean : bool, default False
        Fit the models with the outcome's own person mean among the predictors (as
        ``sp.crosslag(..., outcome_mean=True)``).
    slope_correlation : bool, default False
        Estimate the correlation of the random intercept and slope, ``(1 + x | id)`` (as
        ``sp.crosslag(..., slope_correlation=True)``).
    residual : {None, "ar1", "car1"}, default None
        Fit both models with a residual correlation within person by day (as
        ``sp.crosslag(..., residual="ar1")``, nlme's ``corAR1``). The table then has
        ``phi_true``, ``phi_mean_estimate`` and ``phi_mc_se``.
    residual_ar : float, default 0
        Simulate each equation's innovations as AR(1) over calendar days within person,
        ``e_t = r e_{t-1} + sqrt(1 - r^2) z_t`` with ``r = residual_ar`` (observed days k
        apart correlate ``r^k``). With ``residual`` or a non-zero ``residual_ar`` every study
        is simulated by :mod:`sleeppain.planning._ar` and fitted by ``sp.crosslag`` (the
        general engine, one study at a time: about a second per study rather than
        milliseconds). simr cannot simulate or fit residual correlation (simr #170).
    **generating_parameters
        Any other field of :class:`sleeppain.simulate.DiaryParameters`, e.g. ``phi_pain``
        (0.45), ``phi_sleep`` (0.15), ``sd_sleep_to_pain`` (0.08), ``sd_pain_to_sleep``
        (0.05), ``pain_between_sd`` (1.8), ``sleep_between_sd`` (1.5), ``pain_resid_sd``
        (1.2), ``sleep_resid_sd`` (1.5), ``resid_corr`` (0), ``missing_day_share``,
        ``missing_pain_logit`` (0 = MCAR; > 0: MAR, log-odds of a missing day per pain point
        of the previous day), ``item_missing_share`` (0). The defaults are
        ``DiaryParameters``' documented assumptions, except ``missing_day_share``, which is
        0.1 here (a study with no missing day at all is rare; pass 0 for none).

    Returns
    -------
    PowerResult
        ``table`` (one row per cell and direction), ``simulations`` (one row per study and
        direction), ``plot()``, ``summary()``.

    Raises
    ------
    SpecificationError
        Sizes that are not whole numbers, fewer than 5 persons or 3 days, an unknown
        generating parameter, or parameters making the process non-stationary.

    Warns
    -----
    ConvergenceWarning
        When fewer than 90% of a cell's fits converged.
    RuntimeEstimateWarning
        When the run, estimated from its first chunk of 100 studies (scaled by persons x
        days x studies and divided by the workers), will take more than 3 minutes. The
        progress bar shows the estimate too.

    Notes
    -----
    Each study is fitted by a batched projected Newton method on the profiled REML criterion
    from lme4's start ``theta = (1, 0, 1)`` (see :mod:`sleeppain.planning._reml`). The
    criterion of a random-slope model can have a local minimum on each boundary face; the
    optimiser moves between the two equivalent points of the face ``theta1 = 0`` and leaves
    saddle points along negative curvature, so it reaches a criterion at least as low as
    lme4 1.1-31 and ``sp.lmm`` (lower on some simulated studies, where those stop
    at a boundary point that is not a minimum).

    References
    ----------
    Bates, Maechler, Bolker & Walker (2015), J Stat Softw 67(1).
    Bates, Kliegl, Vasishth & Baayen (2015), Parsimonious mixed models, arXiv:1506.04967.
    Matuschek, Kliegl, Vasishth, Baayen & Bates (2017), J Mem Lang 94:305-315.
    Kuznetsova, Brockhoff & Christensen (2017), J Stat Softw 82(13) (lmerTest).
    Nickell (1981), Econometrica 49(6):1417-1426.
    Hamaker & Grasman (2015), Front Psychol 5:1492.

    Examples
    --------
    >>> import sleeppain as sp
    >>> res = sp.power(n_persons=[30, 60], n_days=7, sleep_to_pain=-0.3,
    ...                pain_to_sleep=0.0, n_sims=20, seed=1, n_jobs=1, progress=False)
    >>> res.table[["n_persons", "direction"]].shape
    (4, 2)
    """
    persons, days, params = _check_design(
        n_persons,
        n_days,
        n_sims,
        alpha,
        test,
        sleep_scale,
        sleep_to_pain,
        pain_to_sleep,
        generating_parameters,
    )
    for name, flag in (("outcome_mean", outcome_mean), ("slope_correlation", slope_correlation)):
        if not isinstance(flag, bool):
            raise SpecificationError(f"{name}= must be True or False, got {flag!r}.")
    from sleeppain.planning._ar import check_residual, phi_columns

    residual, residual_ar = check_residual(residual, residual_ar, params)
    workers = _n_workers(n_jobs)
    root = _root_seed(seed)
    cells = [(p, d) for d in days for p in persons]
    sizes, tasks = _tasks(cells, n_sims, root)
    options = (
        params,
        sleep_scale,
        round_to_scale,
        test,
        outcome_mean,
        slope_correlation,
        residual,
        residual_ar,
    )
    start = time.perf_counter()
    results, workers = _run_tasks(tasks, workers, options, n_sims * len(cells), progress)
    elapsed = time.perf_counter() - start
    table, sims = _summarise_cells(cells, sizes, results, params, n_sims, alpha)
    if residual is not None:
        table = phi_columns(table, cells, sizes, results, residual_ar)
    _warn_low_convergence(table)
    return PowerResult(
        table=table,
        simulations=sims,
        parameters=params,
        settings={
            "sleep_scale": sleep_scale,
            "round_to_scale": bool(round_to_scale),
            "outcome_mean": outcome_mean,
            "slope_correlation": slope_correlation,
            "residual": residual,
            "residual_ar": residual_ar,
        },
        n_sims=int(n_sims),
        alpha=float(alpha),
        test=TESTS[test],
        seed_entropy=int(root.entropy) if np.ndim(root.entropy) == 0 else -1,
        elapsed=elapsed,
        cpu_seconds=float(sum(r.cpu_seconds for r in results.values())),
        n_fallback=int(sum(r.n_fallback for r in results.values())),
        n_jobs=workers,
    )


# ------------------------------------------------------------------------ stages
def _check_design(
    n_persons: int | Sequence[int],
    n_days: int | Sequence[int],
    n_sims: int,
    alpha: float,
    test: str,
    sleep_scale: str,
    sleep_to_pain: float,
    pain_to_sleep: float,
    generating_parameters: dict[str, Any],
) -> tuple[list[int], list[int], DiaryParameters]:
    """Validate the design and build the generating parameters."""
    persons = _as_sizes(
        "n_persons",
        n_persons,
        MIN_PERSONS,
        "the model has two between-person fixed effects and three covariance parameters.",
    )
    days = _as_sizes(
        "n_days",
        n_days,
        MIN_DAYS,
        "a lagged model needs pairs of consecutive days within each person.",
    )
    if isinstance(n_sims, bool) or not isinstance(n_sims, int | np.integer) or n_sims < 1:
        raise SpecificationError(
            f"n_sims={n_sims!r} must be a positive integer (at least 1000 for a Monte Carlo "
            "SE of power below 0.016)."
        )
    if not (isinstance(alpha, int | float | np.floating) and 0.0 < alpha < 1.0):
        raise SpecificationError(f"alpha={alpha!r} must lie strictly between 0 and 1, e.g. 0.05.")
    known = {f.name for f in fields(DiaryParameters)} - {"sleep_to_pain", "pain_to_sleep"}
    unknown = sorted(set(generating_parameters) - known)
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, sorted(known), n=2, cutoff=0.6)
            hints.append(f"{k!r}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        raise SpecificationError(
            f"sp.power: unknown generating parameter(s) {', '.join(hints)}. They are the "
            "fields of sp.simulate.DiaryParameters."
        )
    if test not in TESTS:
        raise SpecificationError(
            f"test={test!r} is not a test of sp.power; pass 'satterthwaite' (lmerTest's t test) "
            "or 'z' (normal reference)."
        )
    if sleep_scale not in ("0-10", "1-5"):
        raise SpecificationError(
            f"sleep_scale={sleep_scale!r} is not a supported scale; pass '0-10' or '1-5'."
        )
    params = DiaryParameters(
        **{
            **POWER_DEFAULTS,
            **generating_parameters,
            "sleep_to_pain": sleep_to_pain,
            "pain_to_sleep": pain_to_sleep,
        }
    )
    if params.hours_u != 0.0:
        raise SpecificationError(
            "sp.power does not simulate the U-shaped hours-slept effect (hours_u="
            f"{params.hours_u!r}): the lagged models here use sleep quality only. Pass hours_u=0."
        )
    check_person_stationarity(params)
    return persons, days, params


Task = tuple[int, int, np.random.SeedSequence, int, int, int]


def _tasks(
    cells: list[tuple[int, int]], n_sims: int, root: np.random.SeedSequence
) -> tuple[list[int], list[Task]]:
    """Chunks of studies per cell, each with its own seed (independent of ``n_jobs``)."""
    sizes = [CHUNK_SIZE] * (n_sims // CHUNK_SIZE) + (
        [n_sims % CHUNK_SIZE] if n_sims % CHUNK_SIZE else []
    )
    tasks = []
    for c, (p, d) in enumerate(cells):
        for k, ss in enumerate(_cell_seed(root, p, d).spawn(len(sizes))):
            tasks.append((c, k, ss, sizes[k], p, d))
    return sizes, tasks


def _run_tasks(
    tasks: list[Task],
    workers: int,
    options: tuple[Any, ...],
    total: int,
    progress: bool | None,
) -> tuple[dict[tuple[int, int], ChunkResult], int]:
    """Simulate and fit every chunk, in this process or in worker processes.

    The first finished chunk times the run: its seconds per study-person-day, times the
    persons x days x studies of all chunks, divided by the workers, estimate the whole run
    (shown by the progress bar); above :data:`LONG_RUN_SECONDS` a
    :class:`~sleeppain.errors.RuntimeEstimateWarning` says so, whether or not the bar is
    shown.
    """
    from sleeppain.report._progress import ProgressBar, show_progress

    bar = ProgressBar(total, "power", enabled=show_progress(progress), unit="studies")
    results: dict[tuple[int, int], ChunkResult] = {}
    workers = min(workers, len(tasks))
    total_work = float(sum(size * p * d for _, _, _, size, p, d in tasks))
    timed = False

    def first(seconds: float, size: int, p: int, d: int) -> None:
        est = seconds / (size * p * d) * total_work / workers
        bar.estimate(est)
        if est > LONG_RUN_SECONDS:
            from sleeppain.report._progress import format_duration

            warnings.warn(
                f"sp.power: the first chunk ({size} studies of {p} persons x {d} days) took "
                f"{seconds:.1f} s, so the {len(tasks)} chunks ({total:,} studies) on "
                f"{workers} worker(s) will take about {format_duration(est)}. For a quicker "
                "look pass fewer n_sims (e.g. 200: Monte Carlo SE of power <= 0.035) or "
                "fewer cells, or more n_jobs; interrupt with Ctrl-C.",
                RuntimeEstimateWarning,
                stacklevel=4,
            )

    try:
        if workers == 1:
            for c, k, ss, size, p, d in tasks:
                t0 = _clock()
                results[c, k] = run_chunk(ss, size, p, d, *options)
                if not timed:
                    timed = True
                    first(_clock() - t0, size, p, d)
                bar.update(size)
        else:
            with _executor(workers) as pool:
                with _main_module_hidden():
                    futures = {
                        pool.submit(run_chunk, ss, size, p, d, *options): (c, k, size, p, d)
                        for c, k, ss, size, p, d in tasks
                    }
                for fut in as_completed(futures):
                    c, k, size, p, d = futures[fut]
                    results[c, k] = fut.result()
                    if not timed:
                        timed = True
                        first(results[c, k].wall_seconds, size, p, d)
                    bar.update(size)
    finally:
        bar.close()
    return results, workers


_FIELDS = (
    "estimate",
    "std_error",
    "df",
    "ar_estimate",
    "converged",
    "singular",
    "reduced",
    "nobs",
)


def _summarise_cells(
    cells: list[tuple[int, int]],
    sizes: list[int],
    results: dict[tuple[int, int], ChunkResult],
    params: DiaryParameters,
    n_sims: int,
    alpha: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The power table (one row per cell and direction) and the per-study frame."""
    rows, sims = [], []
    truth = {"sleep->pain": params.sleep_to_pain, "pain->sleep": params.pain_to_sleep}
    ar_true = {"sleep->pain": params.phi_pain, "pain->sleep": params.phi_sleep}
    for c, (p, d) in enumerate(cells):
        chunks = [results[c, k] for k in range(len(sizes))]
        cat = {name: np.concatenate([getattr(r, name) for r in chunks], axis=1) for name in _FIELDS}
        for j, direction in enumerate(DIRECTIONS):
            s = summarise(
                cat["estimate"][j],
                cat["std_error"][j],
                cat["converged"][j],
                cat["singular"][j],
                truth[direction],
                alpha,
                cat["df"][j],
                cat["reduced"][j],
            )
            ok = cat["converged"][j] & np.isfinite(cat["ar_estimate"][j])
            ar_mean = float(cat["ar_estimate"][j][ok].mean()) if ok.any() else float("nan")
            phi = ar_true[direction]
            rows.append(
                {
                    "n_persons": p,
                    "n_days": d,
                    "direction": direction,
                    "power": s.power,
                    "mc_se": s.mc_se,
                    "mean_estimate": s.mean_estimate,
                    "bias": s.bias,
                    "rmse": s.rmse,
                    "coverage": s.coverage,
                    "share_converged": s.share_converged,
                    "true_effect": truth[direction],
                    "mean_std_error": s.mean_std_error,
                    "median_df": s.median_df,
                    "share_singular": s.share_singular,
                    "share_reduced": s.share_reduced,
                    "n_used": s.n_used,
                    "mean_rows": float(cat["nobs"][j].mean()),
                    "ar_true": phi,
                    "ar_mean_estimate": ar_mean,
                    "ar_bias": ar_mean - phi,
                    "ar_bias_nickell": -(1.0 + phi) / (d - 1),
                }
            )
            sims.append(
                pd.DataFrame(
                    {
                        "n_persons": p,
                        "n_days": d,
                        "direction": direction,
                        "sim": np.arange(n_sims),
                        **{name: cat[name][j] for name in _FIELDS if name != "nobs"},
                        "nobs": cat["nobs"][j].astype(int),
                    }
                )
            )
    table = pd.DataFrame(rows)
    table = table.sort_values(["direction", "n_days", "n_persons"], key=_direction_key)
    return table.reset_index(drop=True), pd.concat(sims, ignore_index=True)


def _warn_low_convergence(table: pd.DataFrame) -> None:
    low = table[table["share_converged"] < 0.9]
    if len(low):
        first = low.iloc[0]
        warnings.warn(
            f"only {first['share_converged']:.0%} of the fits converged for "
            f"{first['n_persons']} persons x {first['n_days']} days ({first['direction']}) "
            f"and {len(low) - 1} other cell(s); power there is computed over the converged "
            "fits only. See result.simulations['converged'].",
            ConvergenceWarning,
            stacklevel=4,
        )


def _direction_key(col: pd.Series) -> pd.Series:
    if col.name == "direction":
        return col.map({d: i for i, d in enumerate(DIRECTIONS)})
    return col
