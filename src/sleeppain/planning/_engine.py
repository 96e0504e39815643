"""Pure numerical core of the power simulation: one chunk of studies, and cell summaries."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import stdtr, stdtrit

from sleeppain.planning._generate import DIRECTIONS, crosslag_stats, generate_batch
from sleeppain.planning._reml import SINGULAR_TOL, fit_batched, satterthwaite_df
from sleeppain.simulate import DiaryParameters

__all__ = ["CellSummary", "ChunkResult", "run_chunk", "summarise"]

FloatArray = NDArray[np.float64]

#: index of the focal (cross-lagged) and lagged-outcome (autoregressive) fixed effects
FOCAL, LAG = 1, 2


@dataclass(frozen=True)
class ChunkResult:
    """Per-study results of one chunk, for each direction (first axis, as ``DIRECTIONS``).

    All arrays have shape (2, n_sims_in_chunk).
    """

    estimate: FloatArray
    std_error: FloatArray
    df: FloatArray
    ar_estimate: FloatArray
    converged: NDArray[np.bool_]
    singular: NDArray[np.bool_]
    nobs: FloatArray
    n_fallback: int
    cpu_seconds: float
    #: the random-slope SD was estimated at 0 and the model reduced to a random intercept
    #: (uncorrelated default only; always False with ``slope_correlation=True``)
    reduced: NDArray[np.bool_] | None = None
    #: wall-clock seconds spent simulating and fitting the chunk (in its worker)
    wall_seconds: float = float("nan")
    #: estimated residual AR(1) phi per study (``residual="ar1"`` path only)
    phi: FloatArray | None = None


def run_chunk(
    seed: np.random.SeedSequence,
    n_sims: int,
    n_persons: int,
    n_days: int,
    params: DiaryParameters,
    sleep_scale: str = "0-10",
    round_to_scale: bool = True,
    test: str = "satterthwaite",
    outcome_mean: bool = False,
    slope_correlation: bool = False,
    residual: str | None = None,
    residual_ar: float = 0.0,
) -> ChunkResult:
    """Simulate ``n_sims`` studies from ``seed`` and fit both lagged models to each.

    With ``residual`` or a non-zero ``residual_ar`` the studies are simulated with AR(1)
    innovations and fitted one by one through ``sp.crosslag``
    (:func:`sleeppain.planning._ar.run_chunk_ar`).

    ``test="satterthwaite"`` adds lmerTest's Satterthwaite degrees of freedom of the
    cross-lagged effect; ``"z"`` leaves them infinite (normal reference). The models are
    ``sp.crosslag``'s (with the outcome's own person mean only if ``outcome_mean=True``):
    by default an uncorrelated random intercept and slope ``(1 + x || id)``; a study whose slope SD is
    estimated at 0 is the random-intercept fit ``(1 | id)`` (same estimates), counted in
    ``reduced``, and is singular only if its intercept SD is 0 too. With
    ``slope_correlation=True``: ``(1 + x | id)``, singular when any bounded theta is 0.

    Examples
    --------
    >>> import numpy as np
    >>> r = run_chunk(np.random.SeedSequence(1), 4, 30, 7, DiaryParameters())
    >>> r.estimate.shape
    (2, 4)
    """
    if residual is not None or residual_ar != 0.0:
        from sleeppain.planning._ar import run_chunk_ar

        args = (sleep_scale, round_to_scale, test, outcome_mean, slope_correlation)
        return run_chunk_ar(seed, n_sims, n_persons, n_days, params, *args, residual, residual_ar)
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    batch = generate_batch(
        rng,
        n_sims,
        n_persons,
        n_days,
        params,
        sleep_scale=sleep_scale,
        round_to_scale=round_to_scale,
    )
    est, se, dfs, ar, conv, sing, nobs, red = [], [], [], [], [], [], [], []
    n_fallback = 0
    free = (True, bool(slope_correlation), True)
    for direction in DIRECTIONS:
        stats = crosslag_stats(batch, direction, outcome_mean=outcome_mean)
        fit = fit_batched(stats, free=free)
        est.append(fit.beta[:, FOCAL])
        se.append(fit.std_error[:, FOCAL])
        if test == "satterthwaite":
            dfs.append(satterthwaite_df(stats, fit.theta, fit.sigma, FOCAL, free=free))
        else:
            dfs.append(np.full(n_sims, np.inf))
        ar.append(fit.beta[:, LAG])
        conv.append(fit.converged)
        if slope_correlation:
            red.append(np.zeros(n_sims, dtype=bool))
            sing.append(fit.singular)
        else:
            # with theta2 fixed at 0, theta3 = 0 is the random-intercept model itself (the
            # same criterion, estimates and Satterthwaite df): singular only if theta1 = 0
            red.append(fit.theta[:, 2] < SINGULAR_TOL)
            sing.append(fit.theta[:, 0] < SINGULAR_TOL)
        nobs.append(stats.nobs)
        n_fallback += fit.n_fallback
    return ChunkResult(
        estimate=np.array(est),
        std_error=np.array(se),
        df=np.array(dfs),
        ar_estimate=np.array(ar),
        converged=np.array(conv),
        singular=np.array(sing),
        nobs=np.array(nobs),
        n_fallback=n_fallback,
        cpu_seconds=time.process_time() - cpu_start,
        reduced=np.array(red),
        wall_seconds=time.perf_counter() - wall_start,
    )


@dataclass(frozen=True)
class CellSummary:
    """Monte Carlo summary of one design cell and direction.

    Attributes follow the columns of ``PowerResult.table``.
    """

    power: float
    mc_se: float
    mean_estimate: float
    bias: float
    rmse: float
    coverage: float
    share_converged: float
    share_singular: float
    mean_std_error: float
    median_df: float
    n_used: int
    share_reduced: float = float("nan")


def summarise(
    estimate: FloatArray,
    std_error: FloatArray,
    converged: NDArray[np.bool_],
    singular: NDArray[np.bool_],
    truth: float,
    alpha: float,
    df: FloatArray | None = None,
    reduced: NDArray[np.bool_] | None = None,
) -> CellSummary:
    """Power and accuracy of a Wald t (or z) test over the simulated studies of one cell.

    Studies whose fit did not converge are left out of every quantity except
    ``share_converged``. Power is the share of two-sided tests of ``estimate / SE`` against
    a t distribution with each study's ``df`` (``None`` or ``inf``: standard normal) with
    ``p < alpha``; its Monte Carlo SE is ``sqrt(power (1 - power) / n_used)``;
    ``share_reduced`` is the share of studies whose random-slope SD was estimated at 0
    (``reduced``; NaN when not given); coverage is
    the share of intervals ``estimate +/- t_{df, 1 - alpha/2} SE`` that contain ``truth``.

    Examples
    --------
    >>> import numpy as np
    >>> s = summarise(np.array([0.5, 0.1]), np.array([0.1, 0.1]), np.array([True, True]),
    ...               np.array([False, False]), 0.3, 0.05)
    >>> s.power
    0.5
    """
    df_all = np.full(estimate.shape, np.inf) if df is None else np.asarray(df, dtype=float)
    ok = converged & np.isfinite(estimate) & np.isfinite(std_error) & ~np.isnan(df_all)
    n = int(ok.sum())
    if n == 0:
        nan = float("nan")
        return CellSummary(nan, nan, nan, nan, nan, nan, 0.0, nan, nan, nan, 0)
    est = estimate[ok]
    se = std_error[ok]
    dfs = df_all[ok]
    crit = stdtrit(dfs, 1.0 - alpha / 2.0)
    p_value = 2.0 * stdtr(dfs, -np.abs(est / se))
    power = float(np.mean(p_value < alpha))
    cover = float(np.mean(np.abs(est - truth) <= crit * se))
    return CellSummary(
        power=power,
        mc_se=float(np.sqrt(power * (1.0 - power) / n)),
        mean_estimate=float(est.mean()),
        bias=float(est.mean() - truth),
        rmse=float(np.sqrt(np.mean((est - truth) ** 2))),
        coverage=cover,
        share_converged=float(converged.mean()),
        share_singular=float(singular[ok].mean()),
        mean_std_error=float(se.mean()),
        median_df=float(np.median(dfs)),
        n_used=n,
        share_reduced=float(reduced[ok].mean()) if reduced is not None else float("nan"),
    )
