"""Optimisation, standard errors and fit measures of a panel model (pure numpy/scipy).

Conventions follow lavaan 0.6 (``estimator = "ML"``, ``likelihood = "normal"``):
chi-square ``2 (logL_H1 - logL_H0)`` with ``N`` (not ``N - 1``); standard errors from the
expected information for complete data and from the observed information (Hessian of
the FIML log-likelihood) for ``missing = "ml"``; baseline model with free means and
variances (exogenous covariates kept saturated); RMSEA and its 90 % interval as
``lav_fit_rmsea``/``lav_fit_rmsea_ci``; SRMR as lavaan's ``srmr`` (Bentler's, means
included), computed against the EM moments under FIML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from sleeppain.panel._engine import (
    H1Fit,
    PatternData,
    RamSpec,
    analytic_hessian,
    available_case_moments,
    expected_information,
    implied,
    loglik_and_grad,
)

__all__ = ["FitMeasures", "ModelFit", "fit_measures", "fit_ram", "start_values"]


@dataclass(frozen=True)
class ModelFit:
    """The optimiser's record and the estimates with their covariance matrix."""

    theta: np.ndarray
    start: np.ndarray
    vcov: np.ndarray
    loglik: float
    gradient: np.ndarray
    iterations: int
    converged: bool
    message: str
    information: str

    def __post_init__(self) -> None:
        for f in ("theta", "start", "vcov", "gradient"):
            getattr(self, f).flags.writeable = False


def start_values(
    spec: RamSpec,
    table: Sequence[Mapping[str, Any]],
    h1_mu: np.ndarray,
    h1_sigma: np.ndarray,
    ri: bool,
) -> np.ndarray:
    """Starting values: observed means, a share of the observed variances, zero paths."""
    theta = np.zeros(spec.n_par)
    var = np.diag(h1_sigma)
    for r in table:
        k = r["par"]
        if k < 0:
            continue
        if r["op"] == "~1":
            theta[k] = h1_mu[r["row"]]
        elif r["op"] == "~~" and r["lhs"] == r["rhs"]:
            theta[k] = _node_var(r, table, var, spec.n_obs) * (0.5 if ri else 1.0)
    return theta


def _node_var(
    r: Mapping[str, Any], table: Sequence[Mapping[str, Any]], var: np.ndarray, p: int
) -> float:
    i = r["row"]
    if i < p:
        return float(var[i])
    # a latent: the observed variables loading on it
    idx = [q["row"] for q in table if q["op"] == "=~" and q["col"] == i]
    return float(np.mean(var[idx])) if idx else 1.0


def _line_search(
    spec: RamSpec, data: PatternData, theta: np.ndarray, f: float, step: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray | None] | None:
    """Backtracking along ``-step`` until the objective decreases (None if it never does)."""
    t = 1.0
    while t > 1e-6:
        cand = theta - t * step
        f_new, g_new = loglik_and_grad(spec, data, cand)
        if np.isfinite(f_new) and f_new <= f + 1e-12 * abs(f):
            return cand, f_new, g_new
        t *= 0.5
    return None


def fit_ram(
    spec: RamSpec, data: PatternData, start: np.ndarray, *, listwise: bool, max_iter: int = 500
) -> ModelFit:
    """Maximise the (FI)ML log-likelihood; standard errors as lavaan's defaults.

    Fisher scoring with the complete-data expected information (exact for complete
    data; a positive-definite approximation under missing data, where it converges
    linearly), then Newton steps with the observed information (the analytic Hessian of
    the FIML log-likelihood) until the step is below 1e-9. The covariance of the estimates is the inverse of the expected
    (complete data) or observed (FIML) information.
    """
    N = float(data.n_persons)
    theta = np.asarray(start, float).copy()
    f, g = loglik_and_grad(spec, data, theta)
    if not np.isfinite(f) or g is None:
        raise_start = True
    else:
        raise_start = False
    iterations = 0
    message = "starting values inadmissible" if raise_start else ""
    converged = False
    tol_scoring = 1e-10 if listwise else 1e-7
    if not raise_start:
        for _ in range(max_iter):
            info = expected_information(spec, theta, N)
            try:
                step = np.linalg.solve(info, g)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(info, g, rcond=None)[0]
            out = _line_search(spec, data, theta, f, step)
            iterations += 1
            if out is None:
                message = "line search failed in Fisher scoring"
                break
            theta, f, g = out
            if np.max(np.abs(step)) < tol_scoring:
                converged = listwise
                message = "Fisher scoring converged"
                break
        else:
            message = "Fisher scoring reached the iteration limit"
    hess = None
    if not listwise and np.isfinite(f) and g is not None:
        for _ in range(20):
            hess = analytic_hessian(spec, data, theta)
            try:
                step = np.linalg.solve(hess, g)
            except np.linalg.LinAlgError:
                message = "singular Hessian"
                break
            iterations += 1
            if np.max(np.abs(step)) < 1e-9:
                converged = True
                message = "Newton converged"
                break
            out = _line_search(spec, data, theta, f, step)
            if out is None:
                message = "line search failed in Newton steps"
                break
            theta, f, g = out
            if np.max(np.abs(step)) < 1e-6:
                # the Hessian barely changes over so short a step: keep it for the SEs
                converged = True
                message = "Newton converged"
                break
    if g is not None and np.max(np.abs(g)) / N > 1e-4:
        converged = False
    if listwise or hess is None:
        info = (
            expected_information(spec, theta, N)
            if np.isfinite(f)
            else np.full((len(theta),) * 2, np.nan)
        )
    else:
        info = hess
    try:
        vcov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        vcov = np.full_like(info, np.nan)
    return ModelFit(
        theta=theta,
        start=np.asarray(start, float).copy(),
        vcov=vcov,
        loglik=-float(f),
        gradient=np.zeros_like(theta) if g is None else g.copy(),
        iterations=iterations,
        converged=bool(converged),
        message=message,
        information="expected" if listwise else "observed",
    )


@dataclass(frozen=True)
class FitMeasures:
    """lavaan's fit measures of one model."""

    npar: int
    chisq: float
    df: int
    pvalue: float
    baseline_chisq: float
    baseline_df: int
    baseline_pvalue: float
    cfi: float
    tli: float
    rmsea: float
    rmsea_ci_lower: float
    rmsea_ci_upper: float
    rmsea_pvalue: float
    srmr: float
    loglik: float
    unrestricted_loglik: float
    aic: float
    bic: float
    ntotal: int


def _baseline_loglik(data: PatternData, n_cov: int) -> float:
    """Log-likelihood of lavaan's baseline model: independent outcomes, saturated covariates.

    Under FIML the independence log-likelihood factorises over variables, so its maximum
    uses each variable's available-case mean and (divisor n) variance.
    """
    assert data.mask is not None
    py = data.n_obs - n_cov
    _, var = available_case_moments(data)
    cnt = data.mask.sum(axis=0)
    ll = -0.5 * float(np.sum(cnt[:py] * (np.log(2 * np.pi) + np.log(var[:py]) + 1.0)))
    return ll + _covariate_loglik(data, n_cov)


def _covariate_loglik(data: PatternData, n_cov: int) -> float:
    """Saturated log-likelihood of the covariates alone (0 without covariates).

    Covariates are observed for every person kept.
    """
    if not n_cov:
        return 0.0
    assert data.values is not None
    Z = data.values[:, data.n_obs - n_cov :]
    N = data.n_persons
    Zc = Z - Z.mean(axis=0)
    _, logdet = np.linalg.slogdet(Zc.T @ Zc / N)
    return float(-0.5 * N * (n_cov * np.log(2 * np.pi) + logdet + n_cov))


def _rmsea_ci(x2: float, df: int, n: float, level: float = 0.90) -> tuple[float, float]:
    if df < 1:
        return 0.0, 0.0
    upper_p = 1 - (1 - level) / 2
    lower_p = (1 - level) / 2

    def lower_f(lam: float) -> float:
        return float(stats.ncx2.cdf(x2, df, lam) if lam > 0 else stats.chi2.cdf(x2, df)) - upper_p

    def upper_f(lam: float) -> float:
        return float(stats.ncx2.cdf(x2, df, lam) if lam > 0 else stats.chi2.cdf(x2, df)) - lower_p

    if lower_f(0.0) < 0:
        lo = 0.0
    else:
        lam = optimize.brentq(lower_f, 0.0, x2, xtol=1e-12)
        lo = float(np.sqrt(lam / (n * df)))
    n_rmsea = max(n, 4 * x2)
    if upper_f(n_rmsea) > 0 or upper_f(0.0) < 0:
        hi = 0.0
    else:
        lam = optimize.brentq(upper_f, 0.0, n_rmsea, xtol=1e-12)
        hi = float(np.sqrt(lam / (n * df)))
    return lo, hi


def _srmr(h1: H1Fit, sigma: np.ndarray, mu: np.ndarray) -> float:
    """lavaan's ``srmr`` (``srmr_bentler`` with means): residuals scaled by observed SDs."""
    sd = np.sqrt(np.diag(h1.sigma))
    r = (h1.sigma - sigma) / np.outer(sd, sd)
    rm = (h1.mu - mu) / sd
    p = len(mu)
    iu = np.tril_indices(p)
    return float(np.sqrt((np.sum(r[iu] ** 2) + np.sum(rm**2)) / (p * (p + 1) / 2 + p)))


def fit_measures(
    spec: RamSpec, data: PatternData, fit: ModelFit, h1: H1Fit, n_cov: int
) -> FitMeasures:
    """Chi-square, baseline, CFI, TLI, RMSEA (+90 % CI, close-fit p), SRMR, logLik, AIC, BIC."""
    p = data.n_obs
    N = data.n_persons
    ndat = p * (p + 1) // 2 + p - (n_cov * (n_cov + 1) // 2 + n_cov)
    npar = spec.n_par
    df = ndat - npar
    x2 = max(2.0 * (h1.loglik - fit.loglik), 0.0)
    pval = float(stats.chi2.sf(x2, df)) if df > 0 else np.nan
    ll_b = _baseline_loglik(data, n_cov)
    x2b = 2.0 * (h1.loglik - ll_b)
    dfb = ndat - 2 * (p - n_cov)
    pb = float(stats.chi2.sf(x2b, dfb)) if dfb > 0 else np.nan
    t1 = max(x2 - df, 0.0)
    t2 = max(x2 - df, x2b - dfb, 0.0)
    cfi = 1.0 if t2 == 0 else 1.0 - t1 / t2
    if df > 0 and dfb > 0:
        tli = ((x2b / dfb) - (x2 / df)) / ((x2b / dfb) - 1.0)
    else:
        tli = 1.0
    rmsea = float(np.sqrt(max((x2 / N) / df - 1.0 / N, 0.0))) if df > 0 else 0.0
    lo, hi = _rmsea_ci(x2, df, N)
    rmsea_p = float(stats.ncx2.sf(x2, df, N * df * 0.05**2)) if df > 0 else np.nan
    sigma, mu, _ = implied(spec, fit.theta)
    srmr = _srmr(h1, sigma, mu)
    # lavaan (fixed.x = TRUE) reports log-likelihoods conditional on the covariates
    ll_x = _covariate_loglik(data, n_cov)
    ll = fit.loglik - ll_x
    return FitMeasures(
        npar=npar,
        chisq=x2,
        df=df,
        pvalue=pval,
        baseline_chisq=x2b,
        baseline_df=dfb,
        baseline_pvalue=pb,
        cfi=cfi,
        tli=tli,
        rmsea=rmsea,
        rmsea_ci_lower=lo,
        rmsea_ci_upper=hi,
        rmsea_pvalue=rmsea_p,
        srmr=srmr,
        loglik=ll,
        unrestricted_loglik=h1.loglik - ll_x,
        aic=-2 * ll + 2 * npar,
        bic=-2 * ll + npar * np.log(N),
        ntotal=N,
    )
