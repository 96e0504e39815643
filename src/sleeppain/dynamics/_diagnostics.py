"""Convergence diagnostics of MCMC draws (Vehtari, Gelman, Simpson, Carpenter & Burkner 2021).

Pure functions of a ``(chains, draws)`` array:

* :func:`rhat`: rank-normalised split R-hat, the larger of the bulk value (on rank-normalised
  split chains) and the tail value (on the rank-normalised folded split draws
  ``|x - median|``; with an odd number of draws the middle one is left out of both);
* :func:`ess_bulk`: effective sample size of the rank-normalised split chains;
* :func:`ess_tail`: the smaller ESS of the indicators ``x <= q05`` and ``x <= q95``;
* :func:`ess_mean` and :func:`mcse_mean`: ESS and Monte Carlo SE of the posterior mean.

The autocorrelations come from the FFT, and the sum of autocorrelations is truncated
with Geyer's initial monotone sequence, as in the paper (section 3) and Stan. The values
are checked against ArviZ in ``tests/dynamics/test_diagnostics.py`` (reference JSON written
by ``tests/reference/dsem/arviz_diagnostics.py``).

Examples
--------
>>> import numpy as np
>>> x = np.random.default_rng(1).standard_normal((4, 500))
>>> bool(abs(rhat(x) - 1) < 0.01), bool(ess_bulk(x) > 1500)
(True, True)
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["ess_bulk", "ess_mean", "ess_tail", "mcse_mean", "rhat", "split_chains", "z_scale"]


def split_chains(x: np.ndarray) -> np.ndarray:
    """Split each chain into its first and last halves (the middle draw of an odd length
    is left out), giving ``(2 * chains, draws // 2)``."""
    x = np.asarray(x, dtype=float)
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise: average ranks over all draws, mapped by ``Phi^-1((r - 3/8) / (S + 1/4))``."""
    from scipy.stats import rankdata

    flat = rankdata(np.asarray(x, dtype=float).ravel(), method="average")
    z = special.ndtri((flat - 0.375) / (flat.size + 0.25))
    return z.reshape(np.shape(x))


def _rhat_basic(x: np.ndarray) -> float:
    n = x.shape[1]
    chain_mean = x.mean(axis=1)
    within = x.var(axis=1, ddof=1).mean()
    between = n * chain_mean.var(ddof=1)
    if within <= 0 or not np.isfinite(within):
        return float("nan")
    return float(np.sqrt((between / within + n - 1) / n))


def _autocov(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance of each row (FFT, zero padded)."""
    n = x.shape[1]
    dev = x - x.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(dev, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n]
    return acov / n


def _ess(x: np.ndarray) -> float:
    """ESS of a ``(chains, draws)`` array (multi-chain autocorrelation, Geyer truncation)."""
    m, n = x.shape
    if n < 4 or not np.all(np.isfinite(x)):
        return float("nan")
    acov = _autocov(x)
    mean_var = acov[:, 0].mean() * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus += x.mean(axis=1).var(ddof=1)
    if var_plus <= 0:
        return float("nan")
    mean_acov = acov.mean(axis=0)
    rho = np.zeros(n)
    rho[0] = 1.0
    rho_even = 1.0
    rho_odd = 1.0 - (mean_var - mean_acov[1]) / var_plus
    rho[1] = rho_odd
    t = 1
    while t < n - 3 and rho_even + rho_odd > 0.0:
        rho_even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        rho_odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if rho_even + rho_odd >= 0.0:
            rho[t + 1] = rho_even
            rho[t + 2] = rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    # Geyer's initial monotone sequence
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
            rho[t + 2] = rho[t + 1]
        t += 2
    total = m * n
    tau = -1.0 + 2.0 * rho[: max_t + 1].sum() + rho[max_t + 1]
    tau = max(tau, 1.0 / np.log10(total))
    return float(total / tau)


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"draws must be a (chains, draws) array, got shape {x.shape}")
    return x


def rhat(x: np.ndarray) -> float:
    """Rank-normalised split R-hat (max of bulk and folded-tail versions); NaN if constant."""
    x = _check(x)
    if np.ptp(x) == 0 or x.shape[1] < 4:
        return float("nan")
    split = split_chains(x)
    bulk = _rhat_basic(z_scale(split))
    folded = np.abs(split - np.median(split))
    tail = _rhat_basic(z_scale(folded))
    return float(max(bulk, tail))


def ess_bulk(x: np.ndarray) -> float:
    """Bulk effective sample size (rank-normalised split chains)."""
    x = _check(x)
    if np.ptp(x) == 0:
        return float("nan")
    return _ess(z_scale(split_chains(x)))


def ess_tail(x: np.ndarray) -> float:
    """Tail effective sample size: min ESS of ``1(x <= q05)`` and ``1(x <= q95)``."""
    x = _check(x)
    if np.ptp(x) == 0:
        return float("nan")
    out = []
    for q in (0.05, 0.95):
        ind = (x <= np.quantile(x, q)).astype(float)
        out.append(_ess(split_chains(ind)))
    return float(min(out))


def ess_mean(x: np.ndarray) -> float:
    """ESS of the posterior mean (split chains, no rank normalisation)."""
    x = _check(x)
    if np.ptp(x) == 0:
        return float("nan")
    return _ess(split_chains(x))


def mcse_mean(x: np.ndarray) -> float:
    """Monte Carlo standard error of the posterior mean: ``sd / sqrt(ess_mean)``."""
    x = _check(x)
    ess = ess_mean(x)
    if not np.isfinite(ess):
        return float("nan")
    return float(x.std(ddof=1) / np.sqrt(ess))
