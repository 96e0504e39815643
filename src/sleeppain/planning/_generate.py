"""Many simulated diary studies at once, and the lagged models' sufficient statistics.

The generating model is that of :mod:`sleeppain.simulate` (its parameters are the fields of
:class:`sleeppain.simulate.DiaryParameters`; canonical timing: night ``n`` lies between day
``n`` and day ``n + 1``). Persons are independent, so ``S`` studies of ``N`` persons are drawn
in one call of :func:`sleeppain.simulate.simulate_panel_arrays` with ``S * N`` persons and
reshaped. Arrays follow the simulator's morning-report convention: column ``d`` holds the pain
of day ``d`` and the sleep quality of night ``d - 1``; a missing diary day loses both.

Everything is a pure function of numpy arrays; all randomness comes from the ``Generator``
passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sleeppain.errors import SpecificationError
from sleeppain.planning._reml import GroupStats
from sleeppain.simulate import DiaryParameters, simulate_panel_arrays, to_scale

__all__ = [
    "DIRECTIONS",
    "SimulatedBatch",
    "check_person_stationarity",
    "crosslag_rows",
    "crosslag_stats",
    "generate_batch",
]

FloatArray = NDArray[np.float64]

#: the two analysis models, in the order used throughout.
DIRECTIONS = ("sleep->pain", "pain->sleep")
#: persons this many SDs from the mean slopes must still have a stationary process.
STATIONARITY_SDS = 5.0


def check_person_stationarity(params: DiaryParameters) -> None:
    """Fail early when plausible persons' own slopes make their process non-stationary.

    The simulator refuses any non-stationary simulated person; with the hundreds of thousands
    of persons of a power analysis, persons up to ``STATIONARITY_SDS`` SDs from the mean
    slopes do occur, so they are checked here with a message that says what to change.

    Examples
    --------
    >>> check_person_stationarity(DiaryParameters())
    """
    sd_sp = float(np.hypot(params.sd_sleep_to_pain, params.depression_x_sleep_to_pain))
    worst = 0.0
    k = STATIONARITY_SDS
    for a in (-k, k):
        for b in (-k, k):
            b_sp = params.sleep_to_pain + a * sd_sp
            b_ps = params.pain_to_sleep + b * params.sd_pain_to_sleep
            t = np.array(
                [
                    [params.phi_pain + b_sp * b_ps, b_sp * params.phi_sleep],
                    [b_ps, params.phi_sleep],
                ]
            )
            worst = max(worst, float(np.max(np.abs(np.linalg.eigvals(t)))))
    if worst >= 1.0:
        raise SpecificationError(
            f"sd_sleep_to_pain={params.sd_sleep_to_pain!r} and sd_pain_to_sleep="
            f"{params.sd_pain_to_sleep!r} are so large, given sleep_to_pain="
            f"{params.sleep_to_pain!r}, pain_to_sleep={params.pain_to_sleep!r}, phi_pain="
            f"{params.phi_pain!r} and phi_sleep={params.phi_sleep!r}, that persons "
            f"{k:g} SDs from the mean slopes have a non-stationary diary process (spectral "
            f"radius {worst:.3f} >= 1); a power analysis simulates enough persons to meet "
            "them. Reduce the slope SDs, the cross-lagged effects or the autoregressions."
        )


@dataclass(frozen=True)
class SimulatedBatch:
    """Observed ratings of ``S`` simulated studies (NaN where missing).

    Attributes
    ----------
    pain : ndarray, shape (S, N, T)
        Pain of day ``d``.
    sleep : ndarray, shape (S, N, T)
        Sleep quality of night ``d - 1`` (reported on the morning of day ``d``).
    """

    pain: FloatArray
    sleep: FloatArray


def generate_batch(
    rng: np.random.Generator,
    n_sims: int,
    n_persons: int,
    n_days: int,
    params: DiaryParameters,
    *,
    sleep_scale: str = "0-10",
    round_to_scale: bool = True,
) -> SimulatedBatch:
    """Simulate ``n_sims`` diary studies at once with :mod:`sleeppain.simulate`'s model.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness.
    n_sims, n_persons, n_days : int
        Studies, persons per study and diary days per person.
    params : sleeppain.simulate.DiaryParameters
    sleep_scale : {"0-10", "1-5"}
        Scale of the sleep-quality rating (pain is rated 0-10).
    round_to_scale : bool
        Round ratings to integers and clip them to their scales.

    Returns
    -------
    SimulatedBatch

    Examples
    --------
    >>> import numpy as np
    >>> b = generate_batch(np.random.default_rng(1), 3, 20, 14, DiaryParameters())
    >>> b.pain.shape
    (3, 20, 14)
    """
    panel = simulate_panel_arrays(params, n_sims * n_persons, n_days, rng)
    low, high = (0.0, 10.0) if sleep_scale == "0-10" else (1.0, 5.0)
    pain = to_scale(panel.pain, 0.0, 10.0, round_to_scale=round_to_scale)
    sleep = to_scale(panel.sleep, low, high, round_to_scale=round_to_scale)
    pain = np.where(panel.day_observed & panel.pain_item_observed[..., 0], pain, np.nan)
    sleep = np.where(panel.day_observed & panel.sleep_item_observed, sleep, np.nan)
    shape = (n_sims, n_persons, n_days)
    return SimulatedBatch(pain=pain.reshape(shape), sleep=sleep.reshape(shape))


def _within_between(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Person-mean deviations (NaN kept) and grand-mean-centred person means (0 if no data)."""
    ok = np.isfinite(x)
    cnt = ok.sum(axis=-1)
    tot = np.where(ok, x, 0.0).sum(axis=-1)
    has = cnt > 0
    mean = np.where(has, tot / np.maximum(cnt, 1), 0.0)  # (S, N)
    n_has = np.maximum(has.sum(axis=-1, keepdims=True), 1)
    grand = np.sum(mean, axis=-1, keepdims=True) / n_has
    between = np.where(has, mean - grand, 0.0)
    return x - mean[..., None], between


def crosslag_stats(
    batch: SimulatedBatch, direction: str, *, outcome_mean: bool = False
) -> GroupStats:
    """Sufficient statistics of one lagged analysis model for every study of a batch.

    The default models are ``sp.crosslag``'s (Bolger & Laurenceau 2013: the random intercept
    carries the outcome's between-person level): ``sleep->pain``: ``pain[day n+1] ~
    sleep_w[night n] + pain_w[day n] + sleep_m + (1 + sleep_w | id)``; ``pain->sleep``:
    ``sleep[night n] ~ pain_w[day n] + sleep_w[night n-1] + pain_m + (1 + pain_w | id)``.
    With ``outcome_mean=True`` the outcome's own person mean is added (``pain_m``, resp.
    ``sleep_m``: the former default). ``_w`` is the deviation from the person's mean over
    all of that person's available ratings, ``_m`` the grand-mean-centred person mean; a row
    enters only when every term is present for the exact days. Fixed effects are ordered
    ``(Intercept), focal_w, lagged outcome_w, focal_m[, outcome_m]``.

    Parameters
    ----------
    batch : SimulatedBatch
    direction : {"sleep->pain", "pain->sleep"}
    outcome_mean : bool
        Include the outcome's own person mean.

    Returns
    -------
    GroupStats
        ``p = 4`` (5 with ``outcome_mean``) fixed effects, random intercept and focal slope.

    Examples
    --------
    >>> import numpy as np
    >>> b = generate_batch(np.random.default_rng(1), 2, 20, 14, DiaryParameters())
    >>> crosslag_stats(b, "sleep->pain").xtx.shape
    (2, 4, 4)
    >>> crosslag_stats(b, "sleep->pain", outcome_mean=True).xtx.shape
    (2, 5, 5)
    """
    pain_w, pain_m = _within_between(batch.pain)
    sleep_w, sleep_m = _within_between(batch.sleep)
    if direction == "sleep->pain":
        # pain[day n+1] (column n+1) ~ sleep[night n] (column n+1) + pain[day n] (column n)
        y = batch.pain[..., 1:]
        f = sleep_w[..., 1:]
        a = pain_w[..., :-1]
        m1, m2 = sleep_m, pain_m
    elif direction == "pain->sleep":
        # sleep[night n] (column n+1) ~ pain[day n] (column n) + sleep[night n-1] (column n)
        y = batch.sleep[..., 1:]
        f = pain_w[..., :-1]
        a = sleep_w[..., :-1]
        m1, m2 = pain_m, sleep_m
    else:
        raise SpecificationError(f"direction={direction!r} is not one of {DIRECTIONS}.")
    ok = np.isfinite(y) & np.isfinite(f) & np.isfinite(a)
    y = np.where(ok, y, 0.0)
    f = np.where(ok, f, 0.0)
    a = np.where(ok, a, 0.0)
    n = ok.sum(axis=-1).astype(float)
    sf, sa, sy = f.sum(-1), a.sum(-1), y.sum(-1)
    sff, sfa, saa = (f * f).sum(-1), (f * a).sum(-1), (a * a).sum(-1)
    sfy, say, syy = (f * y).sum(-1), (a * y).sum(-1), (y * y).sum(-1)
    # per-person X'X with X = [1, f, a, m1, m2] (m1, m2 constant within person)
    S, N = n.shape
    xtx = np.empty((S, N, 5, 5))
    col_sums = np.stack([n, sf, sa], axis=-1)  # sums of 1, f, a
    cross = np.array([[n, sf, sa], [sf, sff, sfa], [sa, sfa, saa]]).transpose(2, 3, 0, 1)
    xtx[..., :3, :3] = cross
    xtx[..., :3, 3] = col_sums * m1[..., None]
    xtx[..., :3, 4] = col_sums * m2[..., None]
    xtx[..., 3, :3] = xtx[..., :3, 3]
    xtx[..., 4, :3] = xtx[..., :3, 4]
    xtx[..., 3, 3] = n * m1 * m1
    xtx[..., 3, 4] = n * m1 * m2
    xtx[..., 4, 3] = xtx[..., 3, 4]
    xtx[..., 4, 4] = n * m2 * m2
    xty = np.stack([sy, sfy, say, m1 * sy, m2 * sy], axis=-1)
    if not outcome_mean:
        xtx = xtx[..., :4, :4]
        xty = xty[..., :4]
    return GroupStats(
        ztz=xtx[..., :2, :2].copy(),
        ztx=xtx[..., :2, :].copy(),
        zty=xty[..., :2].copy(),
        xtx=xtx.sum(axis=1),
        xty=xty.sum(axis=1),
        yty=syy.sum(axis=1),
        nobs=n.sum(axis=1),
    )


def crosslag_rows(batch: SimulatedBatch, study: int, direction: str) -> dict[str, FloatArray]:
    """The long-format rows of one study's lagged model (for checks against other fitters).

    Parameters
    ----------
    batch : SimulatedBatch
    study : int
        Index of the study in the batch.
    direction : {"sleep->pain", "pain->sleep"}

    Returns
    -------
    dict of ndarray
        ``y, focal_w, lag_w, focal_m, lag_m, id`` (one entry per row entering the model).

    Examples
    --------
    >>> import numpy as np
    >>> b = generate_batch(np.random.default_rng(1), 2, 20, 14, DiaryParameters())
    >>> sorted(crosslag_rows(b, 0, "pain->sleep"))
    ['focal_m', 'focal_w', 'id', 'lag_m', 'lag_w', 'y']
    """
    one = SimulatedBatch(pain=batch.pain[study : study + 1], sleep=batch.sleep[study : study + 1])
    pain_w, pain_m = _within_between(one.pain)
    sleep_w, sleep_m = _within_between(one.sleep)
    if direction == "sleep->pain":
        y, f, a, m1, m2 = one.pain[..., 1:], sleep_w[..., 1:], pain_w[..., :-1], sleep_m, pain_m
    elif direction == "pain->sleep":
        y, f, a, m1, m2 = one.sleep[..., 1:], pain_w[..., :-1], sleep_w[..., :-1], pain_m, sleep_m
    else:
        raise SpecificationError(f"direction={direction!r} is not one of {DIRECTIONS}.")
    ok = (np.isfinite(y) & np.isfinite(f) & np.isfinite(a))[0]
    pid = np.broadcast_to(np.arange(ok.shape[0])[:, None], ok.shape)
    return {
        "y": y[0][ok],
        "focal_w": f[0][ok],
        "lag_w": a[0][ok],
        "focal_m": np.broadcast_to(m1[0][:, None], ok.shape)[ok],
        "lag_m": np.broadcast_to(m2[0][:, None], ok.shape)[ok],
        "id": pid[ok].astype(float),
    }
