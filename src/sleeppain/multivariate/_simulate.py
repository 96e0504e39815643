"""Data-generating processes with known truth for networks and within-person mediation.

Used by the tests, the benchmarks and the R reference scripts (which read the CSV files the
tests directory holds). Pure numpy; randomness only through ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_mediation", "simulate_var"]

#: Default temporal network of :func:`simulate_var` (rows: outcomes, columns: predictors).
DEFAULT_B = np.array(
    [
        [0.30, 0.20, 0.00, 0.00],
        [0.00, 0.25, -0.20, 0.00],
        [0.15, 0.00, 0.20, 0.00],
        [0.00, 0.00, 0.25, 0.30],
    ]
)


def simulate_var(
    n_persons: int,
    n_days: int,
    *,
    B: np.ndarray | None = None,
    slope_sd: float = 0.05,
    between_cov: np.ndarray | None = None,
    innovation_cov: np.ndarray | None = None,
    missing: float = 0.0,
    names: tuple[str, ...] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """A multilevel lag-1 VAR diary with known temporal, contemporaneous and between parts.

    Person ``i`` follows ``x_t = mu_i + B_i (x_{t-1} - mu_i) + e_t`` with
    ``B_i = B + U_i`` (``U_i`` normal with SD ``slope_sd``), ``mu_i ~ N(0, between_cov)`` and
    ``e_t ~ N(0, innovation_cov)``; 50 burn-in days are discarded. With ``missing > 0`` that
    share of person-days is removed at random (whole rows).

    Returns
    -------
    DataFrame
        ``id, day`` and one column per variable (``v1, v2, ...`` unless ``names``).

    Examples
    --------
    >>> simulate_var(3, 5, seed=1).shape
    (15, 6)
    """
    B = DEFAULT_B if B is None else np.asarray(B, dtype=float)
    k = B.shape[0]
    names = names or tuple(f"v{j + 1}" for j in range(k))
    rng = np.random.default_rng(seed)
    if between_cov is None:
        between_cov = 0.5 * np.eye(k) + 0.25
    if innovation_cov is None:
        innovation_cov = 0.7 * np.eye(k) + 0.3
    mu = rng.multivariate_normal(np.zeros(k), between_cov, size=n_persons)
    Bi = B[None] + slope_sd * rng.normal(size=(n_persons, k, k))
    L = np.linalg.cholesky(innovation_cov)
    burn = 50
    x = np.zeros((n_persons, k))
    out = np.empty((n_days, n_persons, k))
    for t in range(burn + n_days):
        e = rng.normal(size=(n_persons, k)) @ L.T
        x = np.einsum("ijk,ik->ij", Bi, x) + e
        if t >= burn:
            out[t - burn] = x
    vals = out.transpose(1, 0, 2) + mu[:, None, :]
    df = pd.DataFrame(vals.reshape(-1, k), columns=list(names))
    df.insert(0, "day", np.tile(np.arange(1, n_days + 1), n_persons))
    df.insert(0, "id", np.repeat(np.arange(1, n_persons + 1), n_days))
    if missing > 0:
        keep = rng.random(len(df)) >= missing
        df = df[keep].reset_index(drop=True)
    return df


def simulate_mediation(
    n_persons: int,
    n_days: int,
    *,
    a: float = 0.4,
    b: float = 0.5,
    c_prime: float = 0.1,
    sd_a: float = 0.25,
    sd_b: float = 0.25,
    cor_ab: float = 0.5,
    sigma_m: float = 1.0,
    sigma_y: float = 1.5,
    seed: int = 0,
) -> pd.DataFrame:
    """A 1-1-1 lagged within-person mediation diary with known a, b, c' and cov(a_j, b_j).

    ``x`` is a day-level predictor; the mediator and outcome of day ``d + 1`` follow
    ``m = i_m + a_j x_w(d) + e_m`` and ``y = i_y + b_j m_w(d + 1) + c' x_w(d) + e_y`` with
    ``(a_j, b_j)`` bivariate normal (correlation ``cor_ab``), residual SDs ``sigma_m`` and
    ``sigma_y``. The average indirect effect is ``a * b + sd_a * sd_b * cor_ab``.

    Returns
    -------
    DataFrame
        ``id, day, x, m, y`` (``m`` and ``y`` are missing on each person's first day).

    Examples
    --------
    >>> simulate_mediation(2, 4, seed=1).shape
    (8, 5)
    """
    rng = np.random.default_rng(seed)
    cov = np.array([[sd_a**2, cor_ab * sd_a * sd_b], [cor_ab * sd_a * sd_b, sd_b**2]], dtype=float)
    ab = rng.multivariate_normal([a, b], cov, size=n_persons)
    i_m = rng.normal(0, 0.7, n_persons)
    i_y = rng.normal(0, 0.7, n_persons)
    mu_x = rng.normal(0, 0.7, n_persons)
    xw = rng.normal(size=(n_persons, n_days))
    x = mu_x[:, None] + xw
    m = np.full((n_persons, n_days), np.nan)
    y = np.full((n_persons, n_days), np.nan)
    em = sigma_m * rng.normal(size=(n_persons, n_days - 1))
    ey = sigma_y * rng.normal(size=(n_persons, n_days - 1))
    mw = ab[:, [0]] * xw[:, :-1] + em
    m[:, 1:] = i_m[:, None] + mw
    y[:, 1:] = i_y[:, None] + ab[:, [1]] * mw + c_prime * xw[:, :-1] + ey
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(1, n_persons + 1), n_days),
            "day": np.tile(np.arange(1, n_days + 1), n_persons),
            "x": x.ravel(),
            "m": m.ravel(),
            "y": y.ravel(),
        }
    )
