"""Simulate daily sleep-pain diaries from a bidirectional process with known parameters.

The generating model (latent continuous 0-10 scales, then rounded) for person ``i``, with
night ``n`` the night between day ``n`` and day ``n + 1``::

    sleep[night n]  = mu_s_i + phi_sleep (sleep[night n-1] - mu_s_i)
                      + b_ps_i (pain[day n] - mu_p_i) + e_s
    pain[day n+1]   = mu_p_i + phi_pain (pain[day n] - mu_p_i)
                      + b_sp_i (sleep[night n] - mu_s_i)
                      + hours_u (hours[night n] - hours_optimum_h)^2 + e_p

    mu_p_i  = pain_mean  + depression_on_pain  dep_i + u_p_i
    mu_s_i  = sleep_mean + depression_on_sleep dep_i + u_s_i,   corr(u_p, u_s) = between_corr
    b_sp_i  = sleep_to_pain + depression_x_sleep_to_pain dep_i + v_sp_i
    b_ps_i  = pain_to_sleep + v_ps_i,                          corr(v_sp, v_ps) = slopes_corr
    hours[night n] = tst_mean_h + w_i + tst_per_quality_h (sleep[night n] - mu_s_i) + e_h
    dep_i ~ N(0, 1);  corr(e_s[night n], e_p[day n+1]) = resid_corr

:func:`diary` returns a long data frame in the morning-report convention (the row of day
``d`` carries the rating of night ``d - 1``); :func:`simulate_panel_arrays` is the
low-overhead numpy core a power engine can call thousands of times.

Examples
--------
>>> import sleeppain as sp
>>> sim = sp.simulate.diary(50, 14, seed=1)
>>> sim.data.columns.tolist()
['id', 'day', 'date', 'pain', 'sleep_quality', 'depression']
>>> len(sim.data)
700
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError

__all__ = [
    "ClockArrays",
    "DiaryParameters",
    "PanelArrays",
    "SimulatedDiary",
    "diary",
    "simulate_clock_arrays",
    "simulate_panel_arrays",
    "to_scale",
]

_CLOCK_LABELS = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)], dtype=object)
# Caps (minutes) that keep every simulated night scorable: bed -> lights off and final wake
# -> out of bed below 2 h, SOL <= 3 h, WASO <= 4 h, TST in [1, 12] h, so TIB < 24 h.
_MAX_DELAY_MIN = 120
_MAX_SOL_MIN = 180
_MAX_WASO_MIN = 240
_MIN_TST_MIN = 60
_MAX_TST_MIN = 720


def _spectral_radius(trace: np.ndarray, det: np.ndarray) -> np.ndarray:
    """Largest eigenvalue modulus of 2 x 2 matrices given their trace and determinant."""
    disc = trace * trace / 4.0 - det
    real = np.abs(trace) / 2.0 + np.sqrt(np.maximum(disc, 0.0))
    complex_mod = np.sqrt(np.abs(det))
    return np.where(disc >= 0, real, complex_mod)


def _var_matrices(
    phi_pain: float, phi_sleep: float, b_sp: np.ndarray, b_ps: np.ndarray
) -> np.ndarray:
    """Transition matrices A of z_n = (pain[day n], sleep[night n-1]) deviations, (n, 2, 2)."""
    b_sp = np.asarray(b_sp, dtype=float)
    b_ps = np.asarray(b_ps, dtype=float)
    a = np.empty((*b_sp.shape, 2, 2))
    a[..., 0, 0] = phi_pain + b_sp * b_ps
    a[..., 0, 1] = b_sp * phi_sleep
    a[..., 1, 0] = b_ps
    a[..., 1, 1] = phi_sleep
    return a


def _stationary_cov(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Solve Sigma = A Sigma A' + Q for stacked 2 x 2 matrices (row-major vec, kron(A, A))."""
    n = a.shape[0]
    kron = np.einsum("nij,nkl->nikjl", a, a).reshape(n, 4, 4)
    lhs = np.eye(4)[None] - kron
    vec = np.linalg.solve(lhs, q.reshape(n, 4, 1))
    return vec.reshape(n, 2, 2)


def _noise_cov(b_sp: np.ndarray, sd_pain: float, sd_sleep: float, rho: float) -> np.ndarray:
    """Covariance of the innovations of z: (b_sp e_s + e_p, e_s), stacked (n, 2, 2)."""
    b_sp = np.asarray(b_sp, dtype=float)
    q = np.empty((*b_sp.shape, 2, 2))
    cov_sp = rho * sd_sleep * sd_pain
    q[..., 0, 0] = b_sp**2 * sd_sleep**2 + sd_pain**2 + 2 * b_sp * cov_sp
    q[..., 0, 1] = q[..., 1, 0] = b_sp * sd_sleep**2 + cov_sp
    q[..., 1, 1] = sd_sleep**2
    return q


@dataclass(frozen=True)
class DiaryParameters:
    """Generating parameters of the bidirectional sleep-pain diary process.

    All ratings live on latent continuous 0-10 scales (pain: 0 = no pain, 10 = worst pain;
    sleep quality: 0 = very poor, 10 = excellent). The defaults are assumptions chosen to be
    typical of chronic-pain diary studies (Alsaadi et al. 2014; Tang et al. 2012; Gerhart
    et al. 2017; Whibley et al. 2019; Edwards et al. 2008; review: Goossens et al. 2025):
    better sleep lowers next-day pain (the consistent finding) and pain lowers that night's
    sleep quality more weakly (the mixed finding). They are not estimates from any one study.

    Parameters
    ----------
    pain_mean, sleep_mean : float
        Grand means of person mean pain (4.5) and sleep quality (5.5), latent 0-10 scale,
        at depression = 0.
    pain_between_sd, sleep_between_sd : float
        Between-person SDs of the person means given depression (1.8 and 1.5).
    between_corr : float
        Correlation of the person-mean deviations u_p, u_s (-0.3).
    phi_pain, phi_sleep : float
        Day-to-day autoregression of pain (0.45) and night-to-night of sleep quality (0.15).
    sleep_to_pain : float
        Mean within-person effect of last night's sleep quality on next-day pain, in pain
        points per sleep-quality point (-0.15).
    sd_sleep_to_pain : float
        Between-person SD of that slope (0.08).
    pain_to_sleep : float
        Mean within-person effect of the day's pain on that night's sleep quality (-0.05).
    sd_pain_to_sleep : float
        Between-person SD of that slope (0.05).
    slopes_corr : float
        Correlation of the two random slopes (0).
    pain_resid_sd, sleep_resid_sd : float
        Innovation SDs e_p (1.2) and e_s (1.5).
    resid_corr : float
        Correlation of e_s (night n) with e_p (day n + 1) (0).
    depression_on_pain, depression_on_sleep : float
        Shift of mu_p (+0.5) and mu_s (-0.4) per SD of the standardised person-level
        covariate ``depression``.
    depression_x_sleep_to_pain : float
        Cross-level interaction: change in b_sp per SD of depression (0; a negative value
        makes the sleep effect stronger in more depressed people).
    prompt_sd : float
        SD of the momentary noise of each pain prompt around the day's pain when several
        prompts a day are asked (0.8).
    sleep_to_pain_gradient : float
        Time-of-day gradient g of the sleep effect across prompts: prompt ``j`` at time
        t_j = j / (k - 1) in [0, 1] (morning to evening) has sleep slope b_sp_i (1 + g (1 -
        2 t_j)), so the morning effect is (1 + g) and the evening effect (1 - g) times the
        daily one and the day's mean is unchanged (0; Whibley et al. 2019 suggest g > 0).
    tst_mean_h : float
        Mean total sleep time in hours (6.8).
    tst_between_sd_h : float
        Between-person SD of mean total sleep time, hours (0.6).
    tst_per_quality_h : float
        Hours of sleep per point of sleep quality within person (0.25).
    tst_resid_sd_h : float
        Night-to-night SD of total sleep time not explained by quality, hours (0.6).
    hours_u : float
        Curvature of the U-shaped effect of hours slept on next-day pain, pain points per
        squared hour from ``hours_optimum_h`` (0 = off; Edwards et al. 2008 found more pain
        after < 6 or > 9 h). When non-zero the person's long-run mean pain is mu_p_i plus
        the mean of this term (and its echo through the autoregression).
    hours_optimum_h : float
        Hours slept with the least pain (7.5).
    bedtime_mean_h : float
        Mean habitual bedtime, hours after midnight (23.0 = 23:00; 24.5 = 00:30).
    bedtime_between_sd_min, bedtime_within_sd_min : float
        SDs of habitual bedtime between persons (45) and of nightly bedtime within (30), min.
    lights_off_delay_mean_min : float
        Mean (exponential) delay from bedtime to lights off, minutes (15; capped at 2 h).
    sol_median_min, waso_median_min : float
        Median sleep onset latency (15) and wake after sleep onset (20), minutes.
    sol_log_sd, waso_log_sd : float
        SDs of log SOL (0.6) and log WASO (0.8) (log-normal; capped at 3 h and 4 h).
    latency_per_quality : float
        Decrease of log SOL and log WASO per point of sleep quality above the person's
        mean (0.1).
    ema_mean_min : float
        Mean (exponential) delay from final awakening to getting up, minutes (15; capped
        at 2 h).
    missing_day_share : float
        Probability that a diary day is missing entirely (0; MCAR when
        ``missing_pain_logit`` is 0).
    missing_pain_logit : float
        MAR: log-odds change in the probability of missing day d per pain point of day
        d - 1 above ``pain_mean`` (0). The realised share then only approximates
        ``missing_day_share``.
    item_missing_share : float
        Probability that a single rating (a pain prompt, a sleep-quality rating) of an
        observed day is missing (0; MCAR).

    Raises
    ------
    SpecificationError
        If an SD or share is negative or not finite, a correlation lies outside [-1, 1],
        a share is 1 or more, or the implied VAR at the mean slopes is non-stationary
        (the message gives its spectral radius).

    Examples
    --------
    >>> import sleeppain as sp
    >>> p = sp.simulate.DiaryParameters(sleep_to_pain=-0.3)
    >>> round(p.spectral_radius, 3)
    0.472
    >>> sp.simulate.DiaryParameters(phi_pain=1.1)
    Traceback (most recent call last):
    ...
    sleeppain.errors.SpecificationError: DiaryParameters: the implied VAR of (pain[day n], sleep[night n-1]) is non-stationary: spectral radius 1.109 >= 1 (eigenvalues 1.109, 0.1488). Lower phi_pain (1.1), phi_sleep (0.15) or the cross-lagged effects sleep_to_pain (-0.15) and pain_to_sleep (-0.05).
    """

    pain_mean: float = 4.5
    pain_between_sd: float = 1.8
    sleep_mean: float = 5.5
    sleep_between_sd: float = 1.5
    between_corr: float = -0.3
    phi_pain: float = 0.45
    phi_sleep: float = 0.15
    sleep_to_pain: float = -0.15
    sd_sleep_to_pain: float = 0.08
    pain_to_sleep: float = -0.05
    sd_pain_to_sleep: float = 0.05
    slopes_corr: float = 0.0
    pain_resid_sd: float = 1.2
    sleep_resid_sd: float = 1.5
    resid_corr: float = 0.0
    depression_on_pain: float = 0.5
    depression_on_sleep: float = -0.4
    depression_x_sleep_to_pain: float = 0.0
    prompt_sd: float = 0.8
    sleep_to_pain_gradient: float = 0.0
    tst_mean_h: float = 6.8
    tst_between_sd_h: float = 0.6
    tst_per_quality_h: float = 0.25
    tst_resid_sd_h: float = 0.6
    hours_u: float = 0.0
    hours_optimum_h: float = 7.5
    bedtime_mean_h: float = 23.0
    bedtime_between_sd_min: float = 45.0
    bedtime_within_sd_min: float = 30.0
    lights_off_delay_mean_min: float = 15.0
    sol_median_min: float = 15.0
    waso_median_min: float = 20.0
    sol_log_sd: float = 0.6
    waso_log_sd: float = 0.8
    latency_per_quality: float = 0.1
    ema_mean_min: float = 15.0
    missing_day_share: float = 0.0
    missing_pain_logit: float = 0.0
    item_missing_share: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise SpecificationError(
                    f"DiaryParameters: {f.name} must be a number, got "
                    f"{type(value).__name__} {value!r}."
                )
            if not math.isfinite(value):
                raise SpecificationError(
                    f"DiaryParameters: {f.name} must be finite, got {value!r}."
                )
        nonneg = [f.name for f in dataclasses.fields(self) if f.name.endswith(("_sd", "_sd_h"))]
        nonneg += [
            "sd_sleep_to_pain",
            "sd_pain_to_sleep",
            "bedtime_between_sd_min",
            "bedtime_within_sd_min",
            "lights_off_delay_mean_min",
            "sol_median_min",
            "waso_median_min",
            "ema_mean_min",
            "tst_mean_h",
        ]
        for name in nonneg:
            if getattr(self, name) < 0:
                raise SpecificationError(
                    f"DiaryParameters: {name} must be >= 0, got {getattr(self, name)!r}."
                )
        for name in ("between_corr", "slopes_corr", "resid_corr"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise SpecificationError(
                    f"DiaryParameters: {name} is a correlation and must lie in [-1, 1], got "
                    f"{getattr(self, name)!r}."
                )
        for name in ("missing_day_share", "item_missing_share"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise SpecificationError(
                    f"DiaryParameters: {name} is a probability and must lie in [0, 1), got "
                    f"{getattr(self, name)!r}."
                )
        radius = self.spectral_radius
        if radius >= 1.0:
            a = self.var_matrix()
            eig = np.linalg.eigvals(a)
            eig_txt = ", ".join(f"{e:.4g}" for e in sorted(eig, key=abs, reverse=True))
            raise SpecificationError(
                "DiaryParameters: the implied VAR of (pain[day n], sleep[night n-1]) is "
                f"non-stationary: spectral radius {radius:.4g} >= 1 (eigenvalues {eig_txt}). "
                f"Lower phi_pain ({self.phi_pain}), phi_sleep ({self.phi_sleep}) or the "
                f"cross-lagged effects sleep_to_pain ({self.sleep_to_pain}) and "
                f"pain_to_sleep ({self.pain_to_sleep})."
            )

    def var_matrix(self) -> np.ndarray:
        """Transition matrix A of z_n = (pain[day n], sleep[night n-1]) at the mean slopes.

        z_{n+1} = A z_n + noise, with A = [[phi_pain + b_sp b_ps, b_sp phi_sleep],
        [b_ps, phi_sleep]]; its determinant is phi_pain phi_sleep.

        Examples
        --------
        >>> import sleeppain as sp
        >>> sp.simulate.DiaryParameters().var_matrix().round(4).tolist()
        [[0.4575, -0.0225], [-0.05, 0.15]]
        """
        return _var_matrices(
            self.phi_pain,
            self.phi_sleep,
            np.array(self.sleep_to_pain),
            np.array(self.pain_to_sleep),
        )

    @property
    def spectral_radius(self) -> float:
        """Largest eigenvalue modulus of :meth:`var_matrix` (stationary when < 1)."""
        a = self.var_matrix()
        return float(_spectral_radius(a[0, 0] + a[1, 1], np.linalg.det(a)))

    def stationary_covariance(self) -> np.ndarray:
        """Within-person stationary covariance of (pain[day n], sleep[night n-1]).

        At the mean slopes, without the U-shaped hours term and before rounding. The square
        roots of its diagonal are the within-person SDs of daily pain and sleep quality.

        Examples
        --------
        >>> import sleeppain as sp
        >>> cov = sp.simulate.DiaryParameters().stationary_covariance()
        >>> bool(cov[0, 0] > sp.simulate.DiaryParameters().pain_resid_sd ** 2)
        True
        """
        a = self.var_matrix()[None]
        q = _noise_cov(
            np.array([self.sleep_to_pain]),
            self.pain_resid_sd,
            self.sleep_resid_sd,
            self.resid_corr,
        )
        return _stationary_cov(a, q)[0]


@dataclass(frozen=True, eq=False)
class PanelArrays:
    """Latent panel simulated by :func:`simulate_panel_arrays` (pure numpy).

    Shapes use n = persons, T = days, k = prompts a day. Column ``d`` describes day ``d``
    and the night before it (night d - 1).

    Attributes
    ----------
    pain : ndarray (n, T)
        Latent daily pain of day d (0-10 scale, not rounded).
    sleep : ndarray (n, T)
        Latent sleep quality of night d - 1.
    pain_prompts : ndarray (n, T, k)
        Latent pain of each prompt (equal to ``pain[..., None]`` when k = 1).
    tst_min : ndarray (n, T)
        Total sleep time of night d - 1 in whole minutes (float), within [60, 720].
    day_observed : ndarray of bool (n, T)
        False where the whole diary day is missing.
    pain_item_observed : ndarray of bool (n, T, k)
        False where a pain prompt of an observed day is missing.
    sleep_item_observed : ndarray of bool (n, T)
        False where the sleep-quality rating of an observed day is missing.
    depression, mu_pain, mu_sleep, sleep_to_pain, pain_to_sleep, tst_mean_h : ndarray (n,)
        True person-level values (standardised covariate, latent means, slopes b_sp_i and
        b_ps_i, mean hours slept).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.simulate import DiaryParameters, simulate_panel_arrays
    >>> arr = simulate_panel_arrays(DiaryParameters(), 4, 7, np.random.default_rng(1))
    >>> type(arr).__name__
    'PanelArrays'
    """

    pain: np.ndarray
    sleep: np.ndarray
    pain_prompts: np.ndarray
    tst_min: np.ndarray
    day_observed: np.ndarray
    pain_item_observed: np.ndarray
    sleep_item_observed: np.ndarray
    depression: np.ndarray
    mu_pain: np.ndarray
    mu_sleep: np.ndarray
    sleep_to_pain: np.ndarray
    pain_to_sleep: np.ndarray
    tst_mean_h: np.ndarray


@dataclass(frozen=True, eq=False)
class ClockArrays:
    """Raw sleep-diary fields of night d - 1 for each person-day, integer minutes.

    Times are minutes after midnight at the start of day d - 1 (so 1410 is 23:30 of day
    d - 1 and 1830 is 06:30 of day d); format them modulo 1440.

    Attributes
    ----------
    bedtime, lights_off, final_wake, out_of_bed : ndarray of int64 (n, T)
    sol_min, waso_min : ndarray of int64 (n, T)

    Examples
    --------
    >>> import numpy as np
    >>> import sleeppain as sp
    >>> par = sp.simulate.DiaryParameters()
    >>> panel = sp.simulate.simulate_panel_arrays(par, 3, 5, np.random.default_rng(1))
    >>> clock = sp.simulate.simulate_clock_arrays(par, panel, np.random.default_rng(2))
    >>> type(clock).__name__
    'ClockArrays'
    """

    bedtime: np.ndarray
    lights_off: np.ndarray
    sol_min: np.ndarray
    waso_min: np.ndarray
    final_wake: np.ndarray
    out_of_bed: np.ndarray


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SpecificationError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _person_draws(
    core: np.random.Generator, n: int, p: DiaryParameters
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Person-level draws of ``n`` persons: depression, the two person means and slopes.

    Returns ``(depression, mu_pain, mu_sleep, b_sleep_to_pain, b_pain_to_sleep)``, each of
    length ``n``; draws ``5 n`` standard normals from ``core``. Shared by
    :func:`simulate_panel_arrays` and the AR(1)-innovation power path, so both consume the
    stream alike.
    """
    dep = core.standard_normal(n)
    u = core.standard_normal((n, 2))
    r = p.between_corr
    mu_pain = p.pain_mean + p.depression_on_pain * dep + p.pain_between_sd * u[:, 0]
    mu_sleep = (
        p.sleep_mean
        + p.depression_on_sleep * dep
        + p.sleep_between_sd * (r * u[:, 0] + math.sqrt(1 - r * r) * u[:, 1])
    )
    v = core.standard_normal((n, 2))
    rs = p.slopes_corr
    b_sp = p.sleep_to_pain + p.depression_x_sleep_to_pain * dep + p.sd_sleep_to_pain * v[:, 0]
    b_ps = p.pain_to_sleep + p.sd_pain_to_sleep * (rs * v[:, 0] + math.sqrt(1 - rs * rs) * v[:, 1])
    return dep, mu_pain, mu_sleep, b_sp, b_ps


def simulate_panel_arrays(
    params: DiaryParameters,
    n_persons: int,
    n_days: int,
    rng: np.random.Generator,
    *,
    prompts_per_day: int = 1,
    burn_in: int | None = None,
) -> PanelArrays:
    """Simulate the latent bidirectional process for many persons at once (pure numpy).

    Vectorised over persons, looping over days only. Each person starts from the exact
    stationary distribution of the linear VAR (solved from the discrete Lyapunov equation
    with the person's own slopes), so no burn-in is needed unless ``hours_u`` is non-zero.

    Parameters
    ----------
    params : DiaryParameters
        The generating parameters.
    n_persons, n_days : int
        Persons and diary days (>= 1).
    rng : numpy.random.Generator
        Source of randomness, e.g. ``np.random.default_rng(seed)``. Three independent
        child streams are spawned from it (process, missingness, prompts), so
        the latent process of a seed does not depend on ``prompts_per_day``.
    prompts_per_day : int
        Pain prompts a day (k >= 1).
    burn_in : int or None
        Extra steps simulated and discarded before day 0; None means 0 when
        ``params.hours_u == 0`` (the start is already stationary) and 50 otherwise.

    Returns
    -------
    PanelArrays

    Raises
    ------
    SpecificationError
        If the counts are not positive integers, or a simulated person's own slopes make
        their VAR non-stationary (the message gives how many and the largest spectral
        radius; lower ``sd_sleep_to_pain``/``sd_pain_to_sleep`` or the autoregressions).

    Examples
    --------
    >>> import numpy as np
    >>> import sleeppain as sp
    >>> arr = sp.simulate.simulate_panel_arrays(
    ...     sp.simulate.DiaryParameters(), 200, 30, np.random.default_rng(5))
    >>> arr.pain.shape, arr.sleep.shape, arr.day_observed.all()
    ((200, 30), (200, 30), np.True_)
    """
    if not isinstance(params, DiaryParameters):
        raise SpecificationError(
            f"params must be a DiaryParameters, got {type(params).__name__}; build one with "
            "sp.simulate.DiaryParameters(...)."
        )
    n = _check_count("n_persons", n_persons, 1)
    t_days = _check_count("n_days", n_days, 1)
    k = _check_count("prompts_per_day", prompts_per_day, 1)
    if burn_in is None:
        burn = 0 if params.hours_u == 0 else 50
    else:
        burn = _check_count("burn_in", burn_in, 0)
    p = params
    core, miss, prompt_rng = rng.spawn(3)

    # person level
    dep, mu_pain, mu_sleep, b_sp, b_ps = _person_draws(core, n, p)
    tst_mean = p.tst_mean_h + p.tst_between_sd_h * core.standard_normal(n)

    a = _var_matrices(p.phi_pain, p.phi_sleep, b_sp, b_ps)
    radius = _spectral_radius(a[:, 0, 0] + a[:, 1, 1], np.full(n, p.phi_pain * p.phi_sleep))
    bad = radius >= 1.0
    if bad.any():
        raise SpecificationError(
            f"simulate: {int(bad.sum())} of {n} simulated persons have a non-stationary VAR "
            f"(largest spectral radius {radius.max():.4g} >= 1) because their own slopes "
            "b_sp_i, b_ps_i are too large. Lower sd_sleep_to_pain "
            f"({p.sd_sleep_to_pain}), sd_pain_to_sleep ({p.sd_pain_to_sleep}), "
            f"depression_x_sleep_to_pain ({p.depression_x_sleep_to_pain}) or the "
            "autoregressions."
        )
    q = _noise_cov(b_sp, p.pain_resid_sd, p.sleep_resid_sd, p.resid_corr)
    sigma = _stationary_cov(a, q)
    # closed-form Cholesky of each 2 x 2 stationary covariance
    l11 = np.sqrt(np.maximum(sigma[:, 0, 0], 0.0))
    l21 = np.divide(sigma[:, 1, 0], l11, out=np.zeros(n), where=l11 > 0)
    l22 = np.sqrt(np.maximum(sigma[:, 1, 1] - l21**2, 0.0))
    w = core.standard_normal((2, n))
    pain_dev = l11 * w[0]
    sleep_dev = l21 * w[0] + l22 * w[1]

    steps = burn + t_days
    eps = core.standard_normal((steps, 3, n))
    rho = p.resid_corr
    rho_c = math.sqrt(1.0 - rho * rho)
    pain_out = np.empty((n, t_days))
    sleep_out = np.empty((n, t_days))
    tst_out = np.empty((n, t_days))
    prev_pain = np.empty((n, t_days))
    use_u = p.hours_u != 0.0
    for step in range(steps):
        e = eps[step]
        before = pain_dev
        sleep_dev = p.phi_sleep * sleep_dev + b_ps * pain_dev + p.sleep_resid_sd * e[0]
        hours = tst_mean + p.tst_per_quality_h * sleep_dev + p.tst_resid_sd_h * e[2]
        tst = np.clip(np.rint(hours * 60.0), _MIN_TST_MIN, _MAX_TST_MIN)
        pain_dev = (
            p.phi_pain * pain_dev + b_sp * sleep_dev + p.pain_resid_sd * (rho * e[0] + rho_c * e[1])
        )
        if use_u:
            pain_dev = pain_dev + p.hours_u * (tst / 60.0 - p.hours_optimum_h) ** 2
        d = step - burn
        if d >= 0:
            pain_out[:, d] = pain_dev
            sleep_out[:, d] = sleep_dev
            tst_out[:, d] = tst
            prev_pain[:, d] = before
    pain_abs = pain_out + mu_pain[:, None]
    sleep_abs = sleep_out + mu_sleep[:, None]

    # several prompts a day: momentary noise and a time-of-day gradient of the sleep effect
    if k == 1:
        prompts = pain_abs[:, :, None].copy()
    else:
        times = np.linspace(0.0, 1.0, k)
        extra = p.sleep_to_pain_gradient * (1.0 - 2.0 * times)  # weight - 1, mean 0
        prompts = (
            pain_abs[:, :, None]
            + extra[None, None, :] * (b_sp[:, None] * sleep_out)[:, :, None]
            + p.prompt_sd * prompt_rng.standard_normal((n, t_days, k))
        )

    # missingness: whole days (MCAR or MAR on the previous day's pain), then items (MCAR)
    u_day = miss.random((n, t_days))
    u_pain = miss.random((n, t_days, k))
    u_sleep = miss.random((n, t_days))
    share = p.missing_day_share
    if share == 0.0:
        day_observed = np.ones((n, t_days), dtype=bool)
    else:
        logit = math.log(share / (1.0 - share)) + p.missing_pain_logit * (
            prev_pain + mu_pain[:, None] - p.pain_mean
        )
        day_observed = u_day >= 1.0 / (1.0 + np.exp(-logit))
    pain_item = u_pain >= p.item_missing_share
    sleep_item = u_sleep >= p.item_missing_share

    return PanelArrays(
        pain=pain_abs,
        sleep=sleep_abs,
        pain_prompts=prompts,
        tst_min=tst_out,
        day_observed=day_observed,
        pain_item_observed=pain_item,
        sleep_item_observed=sleep_item,
        depression=dep,
        mu_pain=mu_pain,
        mu_sleep=mu_sleep,
        sleep_to_pain=b_sp,
        pain_to_sleep=b_ps,
        tst_mean_h=tst_mean,
    )


def simulate_clock_arrays(
    params: DiaryParameters, panel: PanelArrays, rng: np.random.Generator
) -> ClockArrays:
    """Raw Consensus-Sleep-Diary fields consistent with a panel's total sleep time.

    For night d - 1 of each person-day: bedtime = habitual bedtime (person-level normal
    around ``bedtime_mean_h``) + nightly normal noise; lights off = bedtime + exponential
    delay; SOL and WASO log-normal, shorter after better-than-usual sleep quality; final
    wake = lights off + SOL + WASO + TST; out of bed = final wake + exponential delay. All
    values are whole minutes, and :func:`sleeppain.sleep.score_diary` recovers
    ``panel.tst_min`` exactly.

    Parameters
    ----------
    params : DiaryParameters
    panel : PanelArrays
        From :func:`simulate_panel_arrays`.
    rng : numpy.random.Generator

    Returns
    -------
    ClockArrays

    Examples
    --------
    >>> import numpy as np
    >>> import sleeppain as sp
    >>> par = sp.simulate.DiaryParameters()
    >>> panel = sp.simulate.simulate_panel_arrays(par, 3, 5, np.random.default_rng(1))
    >>> clock = sp.simulate.simulate_clock_arrays(par, panel, np.random.default_rng(2))
    >>> bool(((clock.final_wake - clock.lights_off - clock.sol_min - clock.waso_min)
    ...       == panel.tst_min).all())
    True
    """
    p = params
    n, t_days = panel.tst_min.shape
    habit = p.bedtime_mean_h * 60.0 + p.bedtime_between_sd_min * rng.standard_normal(n)
    bed = np.rint(habit[:, None] + p.bedtime_within_sd_min * rng.standard_normal((n, t_days)))
    delay = np.minimum(
        np.rint(rng.exponential(1.0, (n, t_days)) * p.lights_off_delay_mean_min), _MAX_DELAY_MIN
    )
    quality_dev = panel.sleep - panel.mu_sleep[:, None]
    z = rng.standard_normal((2, n, t_days))
    sol = np.rint(
        p.sol_median_min * np.exp(-p.latency_per_quality * quality_dev + p.sol_log_sd * z[0])
    )
    waso = np.rint(
        p.waso_median_min * np.exp(-p.latency_per_quality * quality_dev + p.waso_log_sd * z[1])
    )
    sol = np.clip(sol, 0, _MAX_SOL_MIN)
    waso = np.clip(waso, 0, _MAX_WASO_MIN)
    ema = np.minimum(np.rint(rng.exponential(1.0, (n, t_days)) * p.ema_mean_min), _MAX_DELAY_MIN)
    lights = bed + delay
    final = lights + sol + waso + panel.tst_min
    out = final + ema

    def as_int(x: np.ndarray) -> np.ndarray:
        return x.astype(np.int64)

    return ClockArrays(
        bedtime=as_int(bed),
        lights_off=as_int(lights),
        sol_min=as_int(sol),
        waso_min=as_int(waso),
        final_wake=as_int(final),
        out_of_bed=as_int(out),
    )


def to_scale(
    latent: np.ndarray, low: float, high: float, *, round_to_scale: bool = True
) -> np.ndarray:
    """Map latent 0-10 values linearly onto a [low, high] rating scale, round and clip.

    ``low + (high - low) * latent / 10``, then rounded to integers and clipped to
    [low, high] when ``round_to_scale`` (NaN stays NaN); otherwise only the linear map.

    Examples
    --------
    >>> import numpy as np
    >>> import sleeppain as sp
    >>> sp.simulate.to_scale(np.array([-1.2, 4.6, 11.0]), 0, 10).tolist()
    [0.0, 5.0, 10.0]
    >>> sp.simulate.to_scale(np.array([0.0, 5.0, 10.0]), 1, 5).tolist()
    [1.0, 3.0, 5.0]
    """
    mapped = low + (high - low) * np.asarray(latent, dtype=float) / 10.0
    if not round_to_scale:
        return mapped
    return np.clip(np.rint(mapped), low, high)


@dataclass(frozen=True, eq=False)
class SimulatedDiary:
    """A simulated diary and the truth that generated it.

    Attributes
    ----------
    data : pandas.DataFrame
        Long diary, one row per observed person-day (per prompt when prompts_per_day > 1).
    params : DiaryParameters
        The generating parameters.
    person_effects : pandas.DataFrame
        One row per person: ``id``, ``depression``, ``mu_pain``, ``mu_sleep`` (latent 0-10
        scales), ``sleep_to_pain`` (b_sp_i), ``pain_to_sleep`` (b_ps_i), ``tst_mean_h``.
    seed : object
        The seed passed to :func:`diary`.
    settings : dict
        The design arguments (n_persons, n_days, sleep_scale, round_to_scale,
        prompts_per_day, clock_fields, hours_slept, start_date).

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.simulate.diary(20, 7, seed=3)
    >>> sim.person_effects.shape, sim.params.sleep_to_pain
    ((20, 7), -0.15)
    """

    data: pd.DataFrame
    params: DiaryParameters
    person_effects: pd.DataFrame
    seed: object
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"SimulatedDiary({s.get('n_persons')} persons x {s.get('n_days')} days, "
            f"{len(self.data)} rows, seed={self.seed!r}, sleep_to_pain="
            f"{self.params.sleep_to_pain}, pain_to_sleep={self.params.pain_to_sleep})"
        )


def _apply_overrides(
    params: DiaryParameters | None, overrides: dict[str, float]
) -> DiaryParameters:
    base = DiaryParameters() if params is None else params
    if not isinstance(base, DiaryParameters):
        raise SpecificationError(
            f"diary: params must be a DiaryParameters, got {type(base).__name__}."
        )
    names = [f.name for f in dataclasses.fields(DiaryParameters)]
    unknown = [k for k in overrides if k not in names]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, names, n=3, cutoff=0.6)
            hints.append(f"{k!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise SpecificationError(
            f"diary: unknown parameter(s) {', '.join(hints)}. Parameters are the fields of "
            "sp.simulate.DiaryParameters."
        )
    return dataclasses.replace(base, **overrides) if overrides else base


def diary(
    n_persons: int,
    n_days: int,
    *,
    seed: int | np.random.SeedSequence | np.random.Generator,
    params: DiaryParameters | None = None,
    sleep_scale: Literal["0-10", "1-5"] = "0-10",
    round_to_scale: bool = True,
    prompts_per_day: int = 1,
    clock_fields: bool = False,
    hours_slept: bool = False,
    start_date: str | _dt.date = "2024-01-01",
    **overrides: float,
) -> SimulatedDiary:
    """Simulate a daily sleep-pain diary with known parameters.

    The model is given in the module docstring and :class:`DiaryParameters`. Timing: night
    n lies between day n and day n + 1. The data follow the **morning-report convention**:
    the row of day d carries ``sleep_quality`` of the *previous night* (night d - 1, rated
    on the morning of day d) and the pain of day d, so the first day's sleep rating
    describes night -1 (simulated from the stationary start).

    Parameters
    ----------
    n_persons, n_days : int
        Persons and diary days.
    seed : int, SeedSequence or Generator
        Passed to ``np.random.default_rng``; the same seed gives the same data.
    params : DiaryParameters, optional
        Generating parameters (defaults: ``DiaryParameters()``).
    sleep_scale : {"0-10", "1-5"}
        Scale of ``sleep_quality``: the latent 0-10 value, or 1 + 0.4 x latent.
    round_to_scale : bool
        Round ratings to integers and clip them to their scales (pain 0-10). When False the
        latent continuous values are returned (mapped to the sleep scale, not clipped).
    prompts_per_day : int
        With k > 1, one row per pain prompt (column ``prompt``, 1..k, morning to evening):
        ``pain`` is the day's pain + momentary noise (``prompt_sd``) with the time-of-day
        gradient ``sleep_to_pain_gradient``; ``sleep_quality`` repeats on the day's rows.
    clock_fields : bool
        Add the raw sleep-diary fields of night d - 1: ``bedtime``, ``lights_off``,
        ``final_wake``, ``out_of_bed`` ("HH:MM" strings) and ``sol_min``, ``waso_min``
        (minutes); :func:`sleeppain.sleep.score_diary` recovers the simulated TST.
    hours_slept : bool
        Add ``hours_slept`` (total sleep time of night d - 1 in hours, = TST minutes / 60).
    start_date : str or datetime.date
        Calendar date of day 0; ``date`` = start_date + day (ISO strings).
    **overrides : float
        Any :class:`DiaryParameters` field, replacing the value in ``params``, e.g.
        ``sleep_to_pain=-0.3, missing_day_share=0.1``.

    Returns
    -------
    SimulatedDiary
        ``data`` columns: ``id`` (1..n_persons), ``day`` (0..n_days-1), ``date``,
        [``prompt``], ``pain``, ``sleep_quality``, ``depression`` (standardised, person
        level), [``hours_slept``], [clock fields]. Missing diary days are absent rows;
        missing items are NaN.

    Raises
    ------
    SpecificationError
        Bad counts, an unknown parameter name, a bad scale or date, or non-stationary
        parameters.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.simulate.diary(100, 21, seed=7, missing_day_share=0.1, clock_fields=True)
    >>> sim.data.columns.tolist()[6:]
    ['bedtime', 'lights_off', 'sol_min', 'waso_min', 'final_wake', 'out_of_bed']
    >>> scored = sp.sleep.score_diary(sim.data)
    >>> bool(scored["tst_min"].notna().all())
    True
    """
    par = _apply_overrides(params, overrides)
    if sleep_scale not in ("0-10", "1-5"):
        raise SpecificationError(
            f"diary: sleep_scale must be '0-10' or '1-5', got {sleep_scale!r}."
        )
    try:
        start = pd.Timestamp(start_date).normalize()
    except (ValueError, TypeError) as exc:
        raise SpecificationError(
            f"diary: start_date {start_date!r} is not a date; pass e.g. '2024-01-01'."
        ) from exc
    if pd.isna(start):
        raise SpecificationError(f"diary: start_date {start_date!r} is not a date.")
    rng = np.random.default_rng(seed)
    clock_rng = rng.spawn(1)[0]  # spawned before the panel's children: independent stream
    panel = simulate_panel_arrays(par, n_persons, n_days, rng, prompts_per_day=prompts_per_day)
    n, t_days = panel.pain.shape
    k = panel.pain_prompts.shape[2]

    obs = panel.day_observed
    person_idx, day_idx = np.nonzero(obs)  # row-major: sorted by person, then day
    low, high = (0.0, 10.0) if sleep_scale == "0-10" else (1.0, 5.0)
    pain_vals = to_scale(panel.pain_prompts, 0.0, 10.0, round_to_scale=round_to_scale)
    pain_vals = np.where(panel.pain_item_observed, pain_vals, np.nan)
    sleep_vals = to_scale(panel.sleep, low, high, round_to_scale=round_to_scale)
    sleep_vals = np.where(panel.sleep_item_observed, sleep_vals, np.nan)

    dates = np.array(
        [(start + pd.Timedelta(days=d)).strftime("%Y-%m-%d") for d in range(t_days)],
        dtype=object,
    )
    rep_p = np.repeat(person_idx, k)
    rep_d = np.repeat(day_idx, k)
    columns: dict[str, object] = {
        "id": (rep_p + 1).astype(np.int64),
        "day": rep_d.astype(np.int64),
        "date": pd.array(dates[rep_d], dtype="str"),
    }
    if k > 1:
        columns["prompt"] = np.tile(np.arange(1, k + 1, dtype=np.int64), len(person_idx))
    columns["pain"] = pain_vals[person_idx, day_idx, :].reshape(-1)
    columns["sleep_quality"] = sleep_vals[rep_p, rep_d]
    columns["depression"] = panel.depression[rep_p]
    if hours_slept:
        columns["hours_slept"] = panel.tst_min[rep_p, rep_d] / 60.0
    if clock_fields:
        clock = simulate_clock_arrays(par, panel, clock_rng)

        def fmt(x: np.ndarray) -> object:
            return pd.array(_CLOCK_LABELS[np.mod(x[rep_p, rep_d], 1440)], dtype="str")

        columns["bedtime"] = fmt(clock.bedtime)
        columns["lights_off"] = fmt(clock.lights_off)
        columns["sol_min"] = clock.sol_min[rep_p, rep_d]
        columns["waso_min"] = clock.waso_min[rep_p, rep_d]
        columns["final_wake"] = fmt(clock.final_wake)
        columns["out_of_bed"] = fmt(clock.out_of_bed)
    data = pd.DataFrame(columns)

    person_effects = pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "depression": panel.depression,
            "mu_pain": panel.mu_pain,
            "mu_sleep": panel.mu_sleep,
            "sleep_to_pain": panel.sleep_to_pain,
            "pain_to_sleep": panel.pain_to_sleep,
            "tst_mean_h": panel.tst_mean_h,
        }
    )
    settings = {
        "n_persons": n,
        "n_days": t_days,
        "sleep_scale": sleep_scale,
        "round_to_scale": round_to_scale,
        "prompts_per_day": k,
        "clock_fields": clock_fields,
        "hours_slept": hours_slept,
        "start_date": start.strftime("%Y-%m-%d"),
    }
    return SimulatedDiary(
        data=data, params=par, person_effects=person_effects, seed=seed, settings=settings
    )
