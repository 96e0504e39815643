"""Power with AR(1) residuals: generation and fitting through the general engine.

The batched REML fitter of :mod:`sleeppain.planning._reml` has no residual correlation, so
studies simulated with ``residual_ar`` (or fitted with ``residual=``) are fitted one at a
time by :func:`sleeppain.crosslag` itself (``sp.lmm`` with ``correlation=``), exactly the
models a user fits. simr cannot simulate or fit residual correlation (simr issue #170).

Generating model: the bivariate cross-lagged process of :mod:`sleeppain.simulate` (same
person level, slopes and coefficients), with each equation's innovation an AR(1) process
over calendar days within person, ``a_t = r a_{t-1} + sqrt(1 - r^2) z_t`` (unit variance,
so ``pain_resid_sd`` and ``sleep_resid_sd`` keep their meaning). Two observed days ``k``
days apart have innovations correlated ``r^k``: a missing day is a gap, as in nlme's
``corAR1(form = ~ day | id)``, which is the model ``residual="ar1"`` fits.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError
from sleeppain.planning._generate import DIRECTIONS, SimulatedBatch
from sleeppain.simulate import DiaryParameters, _person_draws, to_scale

if TYPE_CHECKING:
    from sleeppain.planning._engine import ChunkResult

__all__ = ["BURN_IN", "check_residual", "generate_ar_batch", "phi_columns", "run_chunk_ar"]

#: steps simulated and discarded before day 0 (the start is not the exact stationary one
#: here; 0.45^60 and r^60 are negligible for every stationary setting)
BURN_IN = 60


def generate_ar_batch(
    rng: np.random.Generator,
    n_sims: int,
    n_persons: int,
    n_days: int,
    params: DiaryParameters,
    residual_ar: float,
    *,
    sleep_scale: str = "0-10",
    round_to_scale: bool = True,
) -> SimulatedBatch:
    """Simulate ``n_sims`` studies whose innovations are AR(1) with parameter ``residual_ar``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness.
    n_sims, n_persons, n_days : int
    params : sleeppain.simulate.DiaryParameters
        ``hours_u`` must be 0 (no total-sleep-time curvature on this path).
    residual_ar : float
        AR(1) parameter ``r`` of the innovations, ``-1 < r < 1``.
    sleep_scale, round_to_scale
        As :func:`sleeppain.planning._generate.generate_batch`.

    Returns
    -------
    SimulatedBatch
        Morning-report convention: column ``d`` has the pain of day ``d`` and the sleep of
        night ``d - 1``; missing days (``missing_day_share``, MCAR) are NaN in both.

    Examples
    --------
    >>> b = generate_ar_batch(np.random.default_rng(1), 2, 10, 7, DiaryParameters(), 0.3)
    >>> b.pain.shape
    (2, 10, 7)
    """
    if not -1.0 < residual_ar < 1.0:
        raise SpecificationError(
            f"residual_ar={residual_ar!r} must lie strictly between -1 and 1 (an AR(1) "
            "correlation of innovations one day apart)."
        )
    p = params
    if p.hours_u != 0.0 or p.missing_pain_logit != 0.0:
        raise SpecificationError(
            "residual_ar= simulates the linear process with MCAR missing days: set hours_u=0 "
            "and missing_pain_logit=0 (or drop residual_ar=)."
        )
    n = n_sims * n_persons
    core, miss = rng.spawn(2)
    _, mu_pain, mu_sleep, b_sp, b_ps = _person_draws(core, n, p)
    r = float(residual_ar)
    scale = math.sqrt(1.0 - r * r)
    rho = p.resid_corr
    rho_c = math.sqrt(1.0 - rho * rho)
    z = core.standard_normal((BURN_IN + n_days, 2, n))
    a = z[0].copy()  # stationary start of the unit-variance innovations
    pain_dev = np.zeros(n)
    sleep_dev = np.zeros(n)
    pain_out = np.empty((n, n_days))
    sleep_out = np.empty((n, n_days))
    for step in range(BURN_IN + n_days):
        if step:
            a = r * a + scale * z[step]
        sleep_dev = p.phi_sleep * sleep_dev + b_ps * pain_dev + p.sleep_resid_sd * a[0]
        pain_dev = (
            p.phi_pain * pain_dev + b_sp * sleep_dev + p.pain_resid_sd * (rho * a[0] + rho_c * a[1])
        )
        d = step - BURN_IN
        if d >= 0:
            pain_out[:, d] = pain_dev
            sleep_out[:, d] = sleep_dev
    low, high = (0.0, 10.0) if sleep_scale == "0-10" else (1.0, 5.0)
    pain = to_scale(pain_out + mu_pain[:, None], 0.0, 10.0, round_to_scale=round_to_scale)
    sleep = to_scale(sleep_out + mu_sleep[:, None], low, high, round_to_scale=round_to_scale)
    observed = miss.random((n, n_days)) >= p.missing_day_share
    pain_items = miss.random((n, n_days)) >= p.item_missing_share
    sleep_items = miss.random((n, n_days)) >= p.item_missing_share
    pain = np.where(observed & pain_items, pain, np.nan)
    sleep = np.where(observed & sleep_items, sleep, np.nan)
    shape = (n_sims, n_persons, n_days)
    return SimulatedBatch(pain=pain.reshape(shape), sleep=sleep.reshape(shape))


def _study_frame(batch: SimulatedBatch, study: int) -> pd.DataFrame:
    """One simulated study as a long diary (id, day, sleep_quality, pain)."""
    _, n, t = batch.pain.shape
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "day": np.tile(np.arange(t), n),
            "sleep_quality": batch.sleep[study].ravel(),
            "pain": batch.pain[study].ravel(),
        }
    )
    return df[df["sleep_quality"].notna() | df["pain"].notna()].reset_index(drop=True)


def run_chunk_ar(
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
    """Simulate ``n_sims`` studies (AR(1) innovations) and fit each with ``sp.crosslag``.

    Returns a :class:`~sleeppain.planning._engine.ChunkResult` whose ``phi`` holds each
    study's estimated residual phi (NaN with ``residual=None``). Each study depends only on
    ``seed``, so results do not depend on the number of workers. Fitting warnings are
    summarised by ``converged`` and ``singular``, as on the batched path.

    Examples
    --------
    >>> r = run_chunk_ar(np.random.SeedSequence(1), 1, 15, 8, DiaryParameters(),
    ...                  residual="ar1", residual_ar=0.3)
    >>> r.phi.shape
    (2, 1)
    """
    from sleeppain.analysis import crosslag
    from sleeppain.planning._engine import ChunkResult

    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    batch = generate_ar_batch(
        rng,
        n_sims,
        n_persons,
        n_days,
        params,
        residual_ar,
        sleep_scale=sleep_scale,
        round_to_scale=round_to_scale,
    )
    shape = (len(DIRECTIONS), n_sims)
    out = {k: np.full(shape, np.nan) for k in ("estimate", "std_error", "df", "ar", "nobs", "phi")}
    conv = np.zeros(shape, dtype=bool)
    sing = np.zeros(shape, dtype=bool)
    red = np.zeros(shape, dtype=bool)
    for s in range(n_sims):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = crosslag(
                _study_frame(batch, s),
                id="id",
                day="day",
                sleep="sleep_quality",
                pain="pain",
                outcome_mean=outcome_mean,
                slope_correlation=slope_correlation,
                residual=residual,
            )
            eff = res.effects()
        for j, direction in enumerate(DIRECTIONS):
            fit = res.model(direction)
            row = eff.loc[direction]
            out["estimate"][j, s] = row["estimate"]
            out["std_error"][j, s] = row["std_error"]
            out["df"][j, s] = row["df"] if test == "satterthwaite" else np.inf
            out["ar"][j, s] = float(fit.fixef.iloc[2])
            out["nobs"][j, s] = fit.nobs
            if residual is not None:
                out["phi"][j, s] = float(fit.phi)
            conv[j, s] = bool(fit.converged)
            sing[j, s] = bool(fit.is_singular)
            red[j, s] = not slope_correlation and "||" not in fit.formula
    return ChunkResult(
        estimate=out["estimate"],
        std_error=out["std_error"],
        df=out["df"],
        ar_estimate=out["ar"],
        converged=conv,
        singular=sing,
        nobs=out["nobs"],
        n_fallback=0,
        cpu_seconds=time.process_time() - cpu_start,
        reduced=red,
        wall_seconds=time.perf_counter() - wall_start,
        phi=out["phi"],
    )


def check_residual(
    residual: object, residual_ar: object, params: DiaryParameters
) -> tuple[str | None, float]:
    """Validate ``residual=`` and ``residual_ar=`` of ``sp.power``.

    Examples
    --------
    >>> check_residual("AR1", 0.3, DiaryParameters())
    ('ar1', 0.3)
    """
    if residual is not None:
        norm = residual.strip().lower() if isinstance(residual, str) else residual
        if norm not in ("ar1", "car1"):
            raise SpecificationError(
                f"residual={residual!r} is not known; use None, 'ar1' (nlme's corAR1 by day) "
                "or 'car1' (corCAR1)."
            )
        residual = str(norm)
    if isinstance(residual_ar, bool) or not isinstance(residual_ar, int | float | np.floating):
        raise SpecificationError(f"residual_ar={residual_ar!r} must be a number in (-1, 1).")
    r = float(residual_ar)
    if not -1.0 < r < 1.0:
        raise SpecificationError(
            f"residual_ar={residual_ar!r} must lie strictly between -1 and 1 (the AR(1) "
            "correlation of innovations one day apart)."
        )
    if r != 0.0 and params.missing_pain_logit != 0.0:
        raise SpecificationError(
            "residual_ar= simulates MCAR missing days only: pass missing_pain_logit=0."
        )
    return residual, r  # type: ignore[return-value]


def phi_columns(
    table: pd.DataFrame,
    cells: list[tuple[int, int]],
    sizes: list[int],
    results: dict[tuple[int, int], ChunkResult],
    residual_ar: float,
) -> pd.DataFrame:
    """Add ``phi_true``, ``phi_mean_estimate`` and ``phi_mc_se`` to the power table."""
    table = table.copy()
    for col in ("phi_true", "phi_mean_estimate", "phi_mc_se"):
        table[col] = np.nan
    for c, (p, d) in enumerate(cells):
        phi = np.concatenate([results[c, k].phi for k in range(len(sizes))], axis=1)
        for j, direction in enumerate(DIRECTIONS):
            v = phi[j][np.isfinite(phi[j])]
            m = (
                (table["n_persons"] == p)
                & (table["n_days"] == d)
                & (table["direction"] == direction)
            )
            table.loc[m, "phi_true"] = residual_ar
            table.loc[m, "phi_mean_estimate"] = float(v.mean()) if len(v) else np.nan
            table.loc[m, "phi_mc_se"] = (
                float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else np.nan
            )
    return table
