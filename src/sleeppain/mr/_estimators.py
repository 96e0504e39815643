"""Two-sample Mendelian randomization estimators: pure functions of numpy arrays.

Every function takes the per-variant associations with the exposure (``bx``, ``sx``) and the
outcome (``by``, ``sy``), already harmonised to the same effect allele, and returns a frozen
:class:`MREstimate`. No pandas here: the orchestration (column names, ``mr_keep`` filtering,
error messages that name the table) lives in :mod:`sleeppain.mr._api`.

Conventions follow the R packages named in each docstring:

* TwoSampleMR 0.7.x (MRCIEU, ``R/mr.R``, ``R/mr_mode.R``): ``wald_ratio``, ``ivw``
  (multiplicative random effects, the ``mr_ivw`` default), ``ivw_fixed``, ``egger``,
  ``weighted_median`` / ``simple_median`` (second-order weights, bootstrap SE), ``weighted_mode``
  / ``simple_mode`` (Hartwig et al. 2017, bootstrap SE = MAD of bootstrap modes).
* MendelianRandomization 0.10.0 (Yavorska & Burgess): ``max_likelihood`` (``mr_maxlik``),
  ``penalised_ivw`` (``mr_ivw(penalized = TRUE)``), ``robust_ivw`` (``mr_ivw(robust = TRUE)``,
  MM-estimation as robustbase's ``lmrob``).

Confidence intervals are ``b -/+ qnorm(1 - alpha/2) * se`` for every method, as TwoSampleMR's
``generate_odds_ratios`` and MendelianRandomization's default ``distribution = "normal"`` do.
p-values follow the package each method comes from (normal, or t for MR-Egger and the modes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import optimize, stats

from sleeppain.errors import EstimationError, SpecificationError

__all__ = [
    "METHODS",
    "MREstimate",
    "egger",
    "isq_gx",
    "ivw",
    "ivw_fixed",
    "max_likelihood",
    "penalised_ivw",
    "r_density",
    "robust_ivw",
    "simple_median",
    "simple_mode",
    "wald_ratio",
    "weighted_median",
    "weighted_median_point",
    "weighted_mode",
]

Array = np.ndarray


@dataclass(frozen=True)
class MREstimate:
    """One causal estimate.

    Attributes
    ----------
    method : str
        Machine name (``"ivw"``, ``"egger"``, ...).
    label : str
        The name TwoSampleMR / MendelianRandomization print for the method.
    nsnp : int
        Number of variants used.
    b, se, pval, conf_low, conf_high : float
        Estimate (per unit of the exposure's scale), standard error, two-sided p-value and the
        ``1 - alpha`` confidence interval.
    extra : Mapping[str, float]
        Method-specific quantities: ``df`` (when the p-value uses a t distribution),
        ``intercept``, ``intercept_se``, ``intercept_pval`` (Egger),
        ``Q``, ``Q_df``, ``Q_pval`` (heterogeneity), ``sigma`` (residual standard error),
        ``isq_gx``, ``nboot``, ``iterations``...

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import wald_ratio
    >>> est = wald_ratio(np.array([0.1]), np.array([0.02]), np.array([0.01]), np.array([0.01]))
    >>> round(est.b, 3)
    0.2
    """

    method: str
    label: str
    nsnp: int
    b: float
    se: float
    pval: float
    conf_low: float
    conf_high: float
    extra: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


def _ci(b: float, se: float, alpha: float) -> tuple[float, float]:
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))
    return b - z * se, b + z * se


def _p_norm(b: float, se: float) -> float:
    return float(2.0 * stats.norm.sf(abs(b / se)))


def _p_t(b: float, se: float, df: int) -> float:
    return float(2.0 * stats.t.sf(abs(b / se), df))


def _check(
    bx: Array, by: Array, sx: Array, sy: Array, method: str, k_min: int
) -> tuple[Array, ...]:
    arrs = tuple(np.asarray(a, dtype=float) for a in (bx, by, sx, sy))
    n = arrs[0].shape
    if any(a.shape != n or a.ndim != 1 for a in arrs):
        raise SpecificationError(
            f"{method}: bx, by, sx and sy must be 1-d arrays of the same length; got shapes "
            f"{[a.shape for a in arrs]}."
        )
    for name, a in zip(
        ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome"), arrs, strict=True
    ):
        if not np.all(np.isfinite(a)):
            raise SpecificationError(
                f"{method}: {int(np.sum(~np.isfinite(a)))} non-finite value(s) in {name}. "
                "Drop or fix those variants before estimating (sp.mr.harmonise sets mr_keep=False "
                "for them)."
            )
    if np.any(arrs[3] <= 0) or np.any(arrs[2] < 0):
        raise SpecificationError(
            f"{method}: standard errors must be positive (se.outcome > 0, se.exposure >= 0). "
            "Fix or drop the offending variants."
        )
    if np.any(arrs[0] == 0):
        raise SpecificationError(
            f"{method}: {int(np.sum(arrs[0] == 0))} variant(s) have beta.exposure == 0, so their "
            "ratio estimate is undefined. Drop them: a variant with no effect on the exposure is "
            "not an instrument."
        )
    if n[0] < k_min:
        raise SpecificationError(
            f"{method} needs at least {k_min} variant(s); got {n[0]}. Use more instruments "
            "(e.g. a laxer p_threshold in sp.mr.select_instruments) or a method that needs fewer "
            "(wald_ratio for 1 variant, ivw for 2)."
        )
    return arrs


def _check_rho(correlation: Array | None, k: int, method: str) -> Array | None:
    """Validate a variant correlation (LD) matrix: k x k, symmetric, unit diagonal, PD."""
    if correlation is None:
        return None
    rho = np.asarray(correlation, dtype=float)
    if rho.shape != (k, k):
        raise SpecificationError(
            f"{method}: the correlation matrix is {rho.shape}, but {k} variants are used; pass a "
            "k x k matrix in the order of the variants kept for MR."
        )
    if not np.allclose(rho, rho.T, atol=1e-10) or not np.allclose(np.diag(rho), 1.0):
        raise SpecificationError(
            f"{method}: the correlation matrix must be symmetric with ones on the diagonal."
        )
    if np.min(np.linalg.eigvalsh(rho)) <= 0:
        raise SpecificationError(
            f"{method}: the correlation matrix is not positive definite; use an LD matrix from "
            "a reference panel for exactly these variants (or prune the variants)."
        )
    return rho


def _whiten(rho: Array, s: Array, *arrays: Array) -> list[Array]:
    """Premultiply by L^-1, where L L' = diag(s) rho diag(s) (generalised least squares)."""
    omega = np.outer(s, s) * rho
    L = np.linalg.cholesky(omega)
    from scipy.linalg import solve_triangular

    return [solve_triangular(L, a, lower=True) for a in arrays]


# --------------------------------------------------------------------------------------------
# Wald ratio and IVW
# --------------------------------------------------------------------------------------------


def wald_ratio(bx: Array, by: Array, sx: Array, sy: Array, *, alpha: float = 0.05) -> MREstimate:
    """Wald ratio for a single variant: ``b = by / bx``, ``se = sy / |bx|`` (first order).

    Reference: TwoSampleMR ``mr_wald_ratio`` (normal p-value).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import wald_ratio
    >>> round(wald_ratio(np.array([0.1]), np.array([0.02]), np.array([0.01]), np.array([0.005])).b, 3)
    0.2
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "wald_ratio", 1)
    if bx.size != 1:
        raise SpecificationError(
            f"wald_ratio uses exactly one variant; got {bx.size}. Use ivw (or estimate(), which "
            "picks wald_ratio only for single-variant exposures)."
        )
    b = float(by[0] / bx[0])
    se = float(sy[0] / abs(bx[0]))
    lo, hi = _ci(b, se, alpha)
    return MREstimate("wald_ratio", "Wald ratio", 1, b, se, _p_norm(b, se), lo, hi)


def _wls_origin(x: Array, y: Array, w: Array) -> tuple[float, float, float]:
    """Weighted least squares through the origin: (beta, fixed-effect se 1/sqrt(sum w x^2), sigma).

    ``lm()`` prints ``se_fixed * sigma``.
    """
    k = x.size
    sxx = float(np.sum(w * x * x))
    beta = float(np.sum(w * x * y) / sxx)
    resid = y - beta * x
    sigma = math.sqrt(float(np.sum(w * resid * resid)) / (k - 1))
    return beta, 1.0 / math.sqrt(sxx), sigma


def ivw(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    model: str = "random",
    correlation: Array | None = None,
    alpha: float = 0.05,
) -> MREstimate:
    """Inverse-variance weighted estimate (first-order weights ``1/sy^2``).

    ``lm(by ~ -1 + bx, weights = 1/sy^2)``; with ``model="random"`` (multiplicative random
    effects, TwoSampleMR's ``mr_ivw`` default) the SE is ``se_fixed * max(1, sigma)``, where
    ``sigma`` is the residual standard error, so under-dispersion never shrinks it; with
    ``model="fixed"`` (``mr_ivw_fe``) it is ``se_fixed = 1/sqrt(sum(bx^2/sy^2))``. Cochran's Q is
    ``sigma^2 (k - 1)`` on ``k - 1`` df. p-value: normal.

    With ``correlation`` (a k x k LD matrix of the variants), the generalised least-squares
    version of MendelianRandomization ``mr_ivw(correl = TRUE)``: ``Omega = sy sy' rho``,
    ``b = (bx' Omega^-1 bx)^-1 bx' Omega^-1 by``, ``sigma^2 = r' Omega^-1 r / (k - 1)``.
    Validated: calcium -> fasting glucose (6 correlated variants) 2.245 (SE 0.643), Q 2.0530.

    Validated against the TwoSampleMR "Perform MR" article (BMI -> CHD, 79 variants:
    0.4459091, SE 0.05898302, Q 143.6508; rtol 1e-6) and the MendelianRandomization 0.10.0
    vignette (LDL-c -> CHD: 2.834, SE 0.530; 3 decimals).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import ivw
    >>> bx = np.array([0.10, 0.20, 0.15]); sy = np.array([0.01, 0.01, 0.01])
    >>> round(ivw(bx, 0.5 * bx, np.full(3, 0.01), sy).b, 6)
    0.5
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "ivw", 2)
    if model not in ("random", "fixed"):
        raise SpecificationError(f"ivw: model must be 'random' or 'fixed', not {model!r}.")
    k = bx.size
    rho = _check_rho(correlation, k, "ivw")
    if rho is None:
        b, se_fixed, sigma = _wls_origin(bx, by, sy**-2.0)
    else:
        xw, yw = _whiten(rho, sy, bx, by)
        b, se_fixed, sigma = _wls_origin(xw, yw, np.ones(k))
    se = se_fixed * max(1.0, sigma) if model == "random" else se_fixed
    q = sigma**2 * (k - 1)
    lo, hi = _ci(b, se, alpha)
    name, label = (
        ("ivw", "Inverse variance weighted")
        if model == "random"
        else ("ivw_fixed", "Inverse variance weighted (fixed effects)")
    )
    return MREstimate(
        name,
        label,
        k,
        b,
        se,
        _p_norm(b, se),
        lo,
        hi,
        {
            "Q": q,
            "Q_df": float(k - 1),
            "Q_pval": float(stats.chi2.sf(q, k - 1)),
            "sigma": sigma,
            "I2": max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0,
        },
    )


def ivw_fixed(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    correlation: Array | None = None,
    alpha: float = 0.05,
) -> MREstimate:
    """IVW with fixed-effect SE (TwoSampleMR ``mr_ivw_fe``); see :func:`ivw`.

    Validated against the TwoSampleMR report of the Alzheimer's -> insomnia table (14
    variants): 5.528361e-05 (SE 0.001628261), rtol 1e-6.

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import ivw_fixed
    >>> bx = np.array([0.1, 0.2]); r = ivw_fixed(bx, bx, np.full(2, .01), np.full(2, .1))
    >>> round(r.se, 6)
    0.447214
    """
    return ivw(bx, by, sx, sy, model="fixed", correlation=correlation, alpha=alpha)


# --------------------------------------------------------------------------------------------
# MR-Egger and I^2_GX
# --------------------------------------------------------------------------------------------


def isq_gx(bx: Array, sx: Array, sy: Array | None = None) -> float:
    """I^2_GX (Bowden et al. 2016, Int J Epidemiol 45:1961): NOME violation for MR-Egger.

    With ``sy`` given, the weighted version MendelianRandomization prints: the I^2 of
    ``|bx|/sy`` with standard errors ``sx/sy``; without ``sy``, TwoSampleMR's unweighted
    ``Isq(abs(bx), sx)``. ``I^2 = max(0, (Q - (k-1)) / Q)``.

    Validated: LDL-c -> CHD 91.9% (MendelianRandomization vignette, 3 digits).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import isq_gx
    >>> round(isq_gx(np.array([0.1, 0.2, 0.3]), np.full(3, 0.01)), 4)
    0.99
    """
    y = np.abs(np.asarray(bx, float))
    s = np.asarray(sx, float)
    if sy is not None:
        y = y / np.asarray(sy, float)
        s = s / np.asarray(sy, float)
    k = y.size
    w = s**-2.0
    mu = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - mu) ** 2))
    if q <= 0:
        return 0.0
    return max(0.0, (q - (k - 1)) / q)


def egger(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    correlation: Array | None = None,
    alpha: float = 0.05,
) -> MREstimate:
    """MR-Egger regression (Bowden, Davey Smith & Burgess 2015).

    Variants are oriented so that ``bx > 0`` (``by`` takes the sign of ``bx``; a zero counts as
    positive), then ``lm(by ~ bx, weights = 1/sy^2)``; SEs of slope and intercept are divided by
    ``min(1, sigma)`` (multiplicative random effects). p-values use a t distribution on
    ``k - 2`` df (TwoSampleMR ``mr_egger_regression``); the CI is normal. Rucker's Q is
    ``sigma^2 (k - 2)`` on ``k - 2`` df. ``extra`` holds the intercept, its SE and p, Q, and
    I^2_GX (weighted, as MendelianRandomization prints it).

    With ``correlation`` (LD matrix), MendelianRandomization's ``mr_egger(correl = TRUE)``:
    generalised least squares with ``Omega = sy sy' (rho * s s')`` (``s`` the signs of ``bx``),
    SEs from the GLS covariance times ``max(1, r)`` (``r`` the residual standard error), as in
    the uncorrelated case. Validated: calcium -> fasting glucose 1.302 (SE 1.518),
    heterogeneity 1.5825 on 4 df (there ``r`` < 1; the source of MendelianRandomization at
    another commit scales differently when ``r`` > 1, which no printed value pins down).

    Validated: BMI -> CHD 0.5024935 (SE 0.14396056), intercept -0.001719304 (SE 0.003985962),
    Q 143.3046 (TwoSampleMR article; rtol 1e-6); LDL-c -> CHD 3.253 (SE 0.770), intercept
    -0.011 (SE 0.015) (MendelianRandomization vignette; 3 decimals).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import egger
    >>> bx = np.array([0.1, 0.2, 0.3, 0.4]); r = egger(bx, 0.01 + 0.5 * bx, np.full(4, .01), np.full(4, .02))
    >>> round(r.b, 6), round(r.extra["intercept"], 6)
    (0.5, 0.01)
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "egger", 3)
    k = bx.size
    rho = _check_rho(correlation, k, "egger")
    sign = np.where(bx < 0, -1.0, 1.0)
    y = by * sign
    x = np.abs(bx)
    X = np.column_stack([np.ones(k), x])
    if rho is None:
        sw = sy**-1.0
        Xw = X * sw[:, None]
        yw = y * sw
    else:
        Xw, yw = _whiten(rho * np.outer(sign, sign), sy, X, y)
    xtx = Xw.T @ Xw
    if np.linalg.cond(xtx) > 1e12:
        raise EstimationError(
            "egger: the design is collinear (all |beta.exposure| nearly equal); MR-Egger cannot "
            "separate slope from intercept. LD-prune the instruments or use ivw."
        )
    coef = np.linalg.solve(xtx, Xw.T @ yw)
    resid = yw - Xw @ coef
    sigma = math.sqrt(float(resid @ resid) / (k - 2))
    inv = np.linalg.inv(xtx)
    mult = max(1.0, sigma)  # lm's se (sqrt(inv) * sigma) / min(1, sigma)
    b = float(coef[1])
    se = math.sqrt(inv[1, 1]) * mult
    b_i = float(coef[0])
    se_i = math.sqrt(inv[0, 0]) * mult
    q = sigma**2 * (k - 2)
    lo, hi = _ci(b, se, alpha)
    lo_i, hi_i = _ci(b_i, se_i, alpha)
    return MREstimate(
        "egger",
        "MR Egger",
        k,
        b,
        se,
        _p_t(b, se, k - 2),
        lo,
        hi,
        {
            "intercept": b_i,
            "intercept_se": se_i,
            "intercept_pval": _p_t(b_i, se_i, k - 2),
            "df": float(k - 2),
            "intercept_conf_low": lo_i,
            "intercept_conf_high": hi_i,
            "Q": q,
            "Q_df": float(k - 2),
            "Q_pval": float(stats.chi2.sf(q, k - 2)),
            "sigma": sigma,
            "isq_gx": isq_gx(bx, sx, sy) if rho is None else float("nan"),
        },
    )


# --------------------------------------------------------------------------------------------
# Median estimators
# --------------------------------------------------------------------------------------------


def weighted_median_point(ratio: Array, weights: Array) -> float:
    """Weighted median with linear interpolation (Bowden et al. 2016, Genet Epidemiol 40:304).

    The ratio estimates are sorted, the standardised cumulative weights taken at the mid-points
    (``cumsum(w) - w/2``, divided by ``sum(w)``), and the median interpolated between the two
    estimates whose cumulative weights straddle 0.5 (TwoSampleMR ``weighted_median``).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import weighted_median_point
    >>> weighted_median_point(np.array([1.0, 2.0, 3.0]), np.ones(3))
    2.0
    """
    r = np.asarray(ratio, float)
    w = np.asarray(weights, float)
    order = np.argsort(r, kind="stable")
    r = r[order]
    w = w[order]
    cum = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    below = int(np.max(np.nonzero(cum < 0.5)[0]))
    return float(
        r[below] + (r[below + 1] - r[below]) * (0.5 - cum[below]) / (cum[below + 1] - cum[below])
    )


def _weighted_median_rows(ratio: Array, weights: Array) -> Array:
    """Row-wise :func:`weighted_median_point` for an (nboot, k) matrix with fixed weights."""
    order = np.argsort(ratio, axis=1, kind="stable")
    r = np.take_along_axis(ratio, order, axis=1)
    w = weights[order]
    cum = (np.cumsum(w, axis=1) - 0.5 * w) / np.sum(weights)
    below = np.sum(cum < 0.5, axis=1) - 1  # cum is increasing
    rows = np.arange(r.shape[0])
    c0 = cum[rows, below]
    c1 = cum[rows, below + 1]
    r0 = r[rows, below]
    r1 = r[rows, below + 1]
    return r0 + (r1 - r0) * (0.5 - c0) / (c1 - c0)


def _median_common(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    weights: Array,
    nboot: int,
    seed: int | np.random.Generator | None,
) -> tuple[float, float]:
    b = weighted_median_point(by / bx, weights)
    rng = np.random.default_rng(seed)
    k = bx.size
    bx_b = rng.normal(bx, sx, size=(nboot, k))
    by_b = rng.normal(by, sy, size=(nboot, k))
    med = _weighted_median_rows(by_b / bx_b, weights)
    return b, float(np.std(med, ddof=1))


def weighted_median(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    nboot: int = 1000,
    seed: int | np.random.Generator | None = None,
    second_order: bool = True,
    alpha: float = 0.05,
) -> MREstimate:
    """Weighted median estimator (Bowden et al. 2016) with a parametric-bootstrap SE.

    Weights are inverse variances of the ratio estimates: second order
    (``sy^2/bx^2 + by^2 sx^2/bx^4``, TwoSampleMR ``mr_weighted_median``, the default) or first
    order (``bx^2/sy^2``, MendelianRandomization ``mr_median``) with ``second_order=False``. The
    SE is the standard deviation of the weighted medians of ``nboot`` parametric bootstrap
    samples (``bx* ~ N(bx, sx)``, ``by* ~ N(by, sy)``, weights held fixed), drawn from
    ``np.random.default_rng(seed)``; it therefore matches R's only within Monte Carlo error.
    p-value: normal.

    Validated: BMI -> CHD point estimate 0.3870065 (TwoSampleMR; rtol 1e-7), LDL-c -> CHD
    2.683 with first-order weights (MendelianRandomization; 3 decimals).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import weighted_median
    >>> bx = np.array([.1, .2, .3]); r = weighted_median(bx, .5 * bx, np.full(3, .01), np.full(3, .02), seed=1)
    >>> round(r.b, 6)
    0.5
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "weighted_median", 3)
    if second_order:
        w = 1.0 / (sy**2 / bx**2 + by**2 * sx**2 / bx**4)
    else:
        w = (bx / sy) ** 2
    b, se = _median_common(bx, by, sx, sy, w, nboot, seed)
    lo, hi = _ci(b, se, alpha)
    return MREstimate(
        "weighted_median",
        "Weighted median",
        bx.size,
        b,
        se,
        _p_norm(b, se),
        lo,
        hi,
        {"nboot": float(nboot), "second_order": float(second_order)},
    )


def simple_median(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    nboot: int = 1000,
    seed: int | np.random.Generator | None = None,
    alpha: float = 0.05,
) -> MREstimate:
    """Simple (unweighted) median of the ratio estimates, bootstrap SE (see :func:`weighted_median`).

    TwoSampleMR ``mr_simple_median`` / MendelianRandomization ``mr_median(weighting="simple")``.
    Validated: LDL-c -> CHD 1.755 (MendelianRandomization vignette; 3 decimals).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import simple_median
    >>> bx = np.array([.1, .2, .4]); r = simple_median(bx, np.array([.1, .1, .1]), np.full(3, .01), np.full(3, .02), seed=1)
    >>> round(r.b, 6)
    0.5
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "simple_median", 3)
    w = np.full(bx.size, 1.0 / bx.size)
    b, se = _median_common(bx, by, sx, sy, w, nboot, seed)
    lo, hi = _ci(b, se, alpha)
    return MREstimate(
        "simple_median",
        "Simple median",
        bx.size,
        b,
        se,
        _p_norm(b, se),
        lo,
        hi,
        {"nboot": float(nboot)},
    )


# --------------------------------------------------------------------------------------------
# Mode-based estimators (Hartwig, Davey Smith & Bowden 2017)
# --------------------------------------------------------------------------------------------


def _r_seq(lo: float | Array, hi: float | Array, n: int) -> Array:
    lo_a = np.asarray(lo, float)[..., None]
    hi_a = np.asarray(hi, float)[..., None]
    i = np.arange(n, dtype=float)
    out = lo_a + i * ((hi_a - lo_a) / (n - 1))
    out[..., -1] = hi_a[..., 0]
    return out


def r_density(
    x: Array,
    weights: Array,
    bw: Array | float,
    n: int = 512,
    cut: float = 3.0,
    old_coords: bool = False,
) -> tuple[Array, Array]:
    """R's ``stats::density.default`` (Gaussian kernel), vectorised over rows.

    Linear binning of the weighted observations onto ``2n`` cells of
    ``[from - 4 bw, to + 4 bw]`` (``from = min(x) - cut bw``, ``to = max(x) + cut bw``), FFT
    convolution with the Gaussian kernel, then linear interpolation onto ``n`` points of
    ``[from, to]``. ``old_coords=False`` is R >= 4.4.0 (kernel ordinates on the bin spacing,
    PR#18337); ``old_coords=True`` is R < 4.4. Mode-based MR estimators take the grid point of
    highest density, so matching R's grid matters: the TwoSampleMR reference values (BMI -> CHD
    weighted mode 0.3790910) need the R >= 4.4 coordinates.

    Parameters
    ----------
    x : array, shape (k,) or (m, k)
        Observations (one set per row).
    weights : array, same shape as ``x``
        Weights summing to one per row.
    bw : float or array of shape (m,)
        Bandwidth(s).

    Returns
    -------
    grid, density : arrays of shape (m, n) (or (n,) for 1-d input)

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import r_density
    >>> g, d = r_density(np.array([0.0]), np.array([1.0]), 1.0)
    >>> abs(float(g[np.argmax(d)])) < 0.02  # the grid point nearest the single observation
    True
    """
    x = np.asarray(x, float)
    one_d = x.ndim == 1
    X = np.atleast_2d(x)
    W = np.atleast_2d(np.asarray(weights, float))
    m, k = X.shape
    bwv = np.broadcast_to(np.asarray(bw, float), (m,)).astype(float)
    n = max(n, 512)
    if n > 512:
        n = 2 ** math.ceil(math.log2(n))
    frm = X.min(axis=1) - cut * bwv
    to = X.max(axis=1) + cut * bwv
    lo = frm - 4.0 * bwv
    up = to + 4.0 * bwv
    # BinDist: linear binning onto 2n cells (only the first n are inside [lo, up])
    xdelta = (up - lo) / (n - 1)
    xpos = (X - lo[:, None]) / xdelta[:, None]
    ix = np.floor(xpos).astype(np.int64)
    fx = xpos - ix
    y = np.zeros((m, 2 * n))
    rows = np.repeat(np.arange(m), k)
    ixf = ix.ravel()
    fxf = fx.ravel()
    wf = W.ravel()
    inside = (ixf >= 0) & (ixf <= n - 2)
    np.add.at(y, (rows[inside], ixf[inside]), wf[inside] * (1.0 - fxf[inside]))
    np.add.at(y, (rows[inside], ixf[inside] + 1), wf[inside] * fxf[inside])
    left = ixf == -1
    np.add.at(y, (rows[left], np.zeros(int(left.sum()), dtype=np.int64)), wf[left] * fxf[left])
    right = ixf == n - 1
    np.add.at(y, (rows[right], ixf[right]), wf[right] * (1.0 - fxf[right]))
    # kernel ordinates
    span = 2.0 if old_coords else (2.0 * n - 1.0) / (n - 1.0)
    kords = _r_seq(np.zeros(m), span * (up - lo), 2 * n)
    kords[:, n + 1 :] = -kords[:, n - 1 : 0 : -1]
    kords = stats.norm.pdf(kords, scale=bwv[:, None])
    conv = np.fft.ifft(np.fft.fft(y, axis=1) * np.conj(np.fft.fft(kords, axis=1)), axis=1)
    dens = np.maximum(0.0, conv.real[:, :n])
    xords = _r_seq(lo, up, n)
    grid = _r_seq(frm, to, n)
    out = np.empty_like(grid)
    for i in range(m):
        out[i] = np.interp(grid[i], xords[i], dens[i])
    if one_d:
        return grid[0], out[0]
    return grid, out


def _r_mad(x: Array, axis: int = -1) -> Array:
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis)


def _mode_point(ratio: Array, se_ratio: Array, phi: float) -> Array:
    """Row-wise mode-based estimate; ``ratio`` shape (m, k), ``se_ratio`` (m, k) or (k,)."""
    R = np.atleast_2d(ratio)
    k = R.shape[1]
    s = 0.9 * np.minimum(np.std(R, axis=1, ddof=1), _r_mad(R, axis=1)) / k**0.2
    h = np.maximum(1e-8, s * phi)
    prec = np.broadcast_to(np.asarray(se_ratio, float) ** -2.0, R.shape)
    w = prec / prec.sum(axis=1, keepdims=True)
    grid, dens = r_density(R, w, h)
    # R: densityIV$x[densityIV$y == max(densityIV$y)] (first maximiser if tied)
    return grid[np.arange(R.shape[0]), np.argmax(dens, axis=1)]


def _mode_common(
    method: str,
    label: str,
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    weighted: bool,
    nome: bool,
    phi: float,
    nboot: int,
    seed: int | np.random.Generator | None,
    alpha: float,
) -> MREstimate:
    bx, by, sx, sy = _check(bx, by, sx, sy, method, 3)
    k = bx.size
    ratio = by / bx
    se_delta = np.sqrt(sy**2 / bx**2 + by**2 * sx**2 / bx**4)
    se_nome = sy / np.abs(bx)
    se_w = se_nome if nome else se_delta
    w_se = se_w if weighted else np.ones(k)
    b = float(_mode_point(ratio[None, :], w_se, phi)[0])
    rng = np.random.default_rng(seed)
    boot = rng.normal(ratio, se_w, size=(nboot, k))
    modes = np.empty(nboot)
    chunk = 250
    for start in range(0, nboot, chunk):
        modes[start : start + chunk] = _mode_point(boot[start : start + chunk], w_se, phi)
    se = float(_r_mad(modes))
    lo, hi = _ci(b, se, alpha)
    return MREstimate(
        method,
        label,
        k,
        b,
        se,
        _p_t(b, se, k - 1),
        lo,
        hi,
        {"phi": phi, "nboot": float(nboot), "nome": float(nome), "df": float(k - 1)},
    )


def weighted_mode(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    phi: float = 1.0,
    nboot: int = 1000,
    seed: int | np.random.Generator | None = None,
    nome: bool = False,
    alpha: float = 0.05,
) -> MREstimate:
    """Weighted mode-based estimate (Hartwig, Davey Smith & Bowden 2017, Int J Epidemiol 46:1985).

    The mode of a Gaussian kernel density of the ratio estimates, weighted by their inverse
    variances (second order, or first order under NOME with ``nome=True``), bandwidth
    ``phi * 0.9 * min(sd, mad) / k^(1/5)`` (modified Silverman rule); the density is R's
    ``density()`` on its 512-point grid (:func:`r_density`). SE: median absolute deviation of the
    modes of ``nboot`` parametric bootstrap samples of the ratio estimates; p-value: t on
    ``k - 1`` df (TwoSampleMR ``mr_weighted_mode``).

    Validated: BMI -> CHD point estimate 0.3790910 (TwoSampleMR; rtol 1e-6); LDL-c -> CHD
    2.946 (MendelianRandomization ``mr_mbe`` default; 3 decimals).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import weighted_mode
    >>> bx = np.array([.1, .2, .3, .4]); r = weighted_mode(bx, .5 * bx, np.full(4, .01), np.full(4, .02), seed=1, nboot=50)
    >>> abs(r.b - 0.5) < 0.01
    True
    """
    return _mode_common(
        "weighted_mode", "Weighted mode", bx, by, sx, sy, True, nome, phi, nboot, seed, alpha
    )


def simple_mode(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    phi: float = 1.0,
    nboot: int = 1000,
    seed: int | np.random.Generator | None = None,
    nome: bool = False,
    alpha: float = 0.05,
) -> MREstimate:
    """Simple (unweighted) mode-based estimate; see :func:`weighted_mode`.

    TwoSampleMR ``mr_simple_mode``; validated: BMI -> CHD point estimate 0.3401554 (rtol 1e-6).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import simple_mode
    >>> bx = np.array([.1, .2, .3, .4]); r = simple_mode(bx, .5 * bx, np.full(4, .01), np.full(4, .02), seed=1, nboot=50)
    >>> abs(r.b - 0.5) < 0.01
    True
    """
    return _mode_common(
        "simple_mode", "Simple mode", bx, by, sx, sy, False, nome, phi, nboot, seed, alpha
    )


# --------------------------------------------------------------------------------------------
# Maximum likelihood
# --------------------------------------------------------------------------------------------


def _r_nelder_mead(
    fn: Callable[[Array], float],
    x0: Array,
    maxit: int = 25000,
    reltol: float = 1.490116119384765625e-08,
) -> tuple[Array, float, int, int]:
    """Port of R's ``nmmin`` (``optim(method = "Nelder-Mead")``, src/appl/optim.c).

    Same simplex construction (step 0.1 max|x|), coefficients (alpha 1, beta 0.5, gamma 2),
    convergence test ``VH <= VL + reltol (|f0| + reltol)`` and shrink rule, and sequential
    summation for the centroid, so it follows R's path. Returns (x, f, fail, fncount).
    """
    n = x0.size
    n1 = n + 1
    big = 1.0e35
    P = np.zeros((n1, n1 + 1))  # rows 0..n-1 coordinates, row n values; columns vertices + centroid
    bvec = x0.astype(float).copy()
    f = fn(bvec)
    if not math.isfinite(f):
        raise EstimationError("max_likelihood: the objective is not finite at the starting values.")
    funcount = 1
    convtol = reltol * (abs(f) + reltol)
    P[n, 0] = f
    P[:n, 0] = bvec
    L = 0
    step = max(0.1 * float(np.max(np.abs(bvec))), 0.0)
    if step == 0.0:
        step = 0.1
    size = 0.0
    for j in range(1, n1):
        P[:n, j] = bvec
        trystep = step
        while P[j - 1, j] == bvec[j - 1]:
            P[j - 1, j] = bvec[j - 1] + trystep
            trystep *= 10.0
        size += trystep
    oldsize = size
    calcvert = True
    fail = 0
    C = n1  # centroid column
    while True:
        if calcvert:
            for j in range(n1):
                if j != L:
                    fj = fn(P[:n, j].copy())
                    P[n, j] = fj if math.isfinite(fj) else big
                    funcount += 1
            calcvert = False
        VL = P[n, L]
        VH = VL
        H = L
        for j in range(n1):
            if j != L:
                fj = P[n, j]
                if fj < VL:
                    L = j
                    VL = fj
                if fj > VH:
                    H = j
                    VH = fj
        if VH <= VL + convtol:
            break
        acc = np.cumsum(np.column_stack([-P[:n, H], P[:n, :n1]]), axis=1)[:, -1]
        P[:n, C] = acc / n
        bvec = (1.0 + 1.0) * P[:n, C] - 1.0 * P[:n, H]
        f = fn(bvec)
        if not math.isfinite(f):
            f = big
        funcount += 1
        VR = f
        if VR < VL:
            P[n, C] = f
            newb = 2.0 * bvec + (1.0 - 2.0) * P[:n, C]
            P[:n, C] = bvec
            bvec = newb
            f = fn(bvec)
            if not math.isfinite(f):
                f = big
            funcount += 1
            if f < VR:
                P[:n, H] = bvec
                P[n, H] = f
            else:
                P[:n, H] = P[:n, C]
                P[n, H] = VR
        else:
            if VR < VH:
                P[:n, H] = bvec
                P[n, H] = VR
            bvec = (1.0 - 0.5) * P[:n, H] + 0.5 * P[:n, C]
            f = fn(bvec)
            if not math.isfinite(f):
                f = big
            funcount += 1
            if f < P[n, H]:
                P[:n, H] = bvec
                P[n, H] = f
            elif VR >= VH:
                calcvert = True
                size = 0.0
                for j in range(n1):
                    if j != L:
                        P[:n, j] = 0.5 * (P[:n, j] - P[:n, L]) + P[:n, L]
                        size += float(np.sum(np.abs(P[:n, j] - P[:n, L])))
                if size < oldsize:
                    oldsize = size
                else:
                    fail = 10
                    break
        if funcount > maxit:
            break
    if funcount > maxit:
        fail = 1
    return P[:n, L].copy(), float(P[n, L]), fail, funcount


def _r_optimhess(fn: Callable[[Array], float], x: Array, ndeps: float = 1e-3) -> Array:
    """R's ``optimHess`` without a gradient: central differences of a central-difference gradient."""
    n = x.size

    def grad(p: Array) -> Array:
        g = np.empty(n)
        for i in range(n):
            q = p.copy()
            q[i] = p[i] + ndeps
            f1 = fn(q)
            q[i] = p[i] - ndeps
            f2 = fn(q)
            g[i] = (f1 - f2) / (2.0 * ndeps)
        return g

    H = np.empty((n, n))
    for i in range(n):
        d = x.copy()
        d[i] = x[i] + ndeps
        g1 = grad(d)
        d[i] = x[i] - ndeps
        g2 = grad(d)
        H[i] = (g1 - g2) / (2.0 * ndeps)
    return 0.5 * (H + H.T)


def max_likelihood(
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    model: str = "default",
    optimizer: str = "nelder_mead",
    correlation: Array | None = None,
    maxit: int = 25000,
    alpha: float = 0.05,
) -> MREstimate:
    """Maximum-likelihood estimate (Burgess, Butterworth & Thompson 2013).

    Minimises ``f = 1/2 sum (bx - a)^2/sx^2 + 1/2 sum (by - beta a)^2/sy^2`` over the true
    exposure associations ``a`` and ``beta``, from ``(bx, IVW)``.

    ``optimizer="nelder_mead"`` (default) reproduces MendelianRandomization ``mr_maxlik``: R's
    Nelder-Mead (``optim``, maxit 25000, ported in :func:`_r_nelder_mead`) and R's numerical
    Hessian (``optimHess``). On many variants Nelder-Mead stops before the optimum (on the
    LDL-c data it reports 3.225 with 2f = 86.81, while the optimum is 3.173 with 2f = 85.97);
    ``extra["Q_optimum"]`` always holds the exact minimum so the gap is visible.
    ``maxit`` is R's ``control$maxit`` (25000 in ``mr_maxlik``).
    ``optimizer="exact"`` profiles ``a`` out in closed form, finds ``beta`` by a bounded scalar
    search and uses the analytic Hessian: the true MLE.

    ``model="random"`` (MendelianRandomization's default for ``k >= 4``) multiplies the
    variance by ``max(1, 2f/(k - 1))``; ``"fixed"`` does not (TwoSampleMR
    ``mr_two_sample_ml``). p-value: normal.

    With ``correlation`` (LD matrix ``rho``), the exposure and outcome associations have
    covariances ``sx sx' rho`` and ``sy sy' rho`` (``mr_maxlik(correl = TRUE)``). Validated:
    calcium -> fasting glucose 2.303 (SE 0.709).

    Validated: LDL-c -> CHD 3.225 (SE 0.569), heterogeneity 86.8145 on 27 df
    (MendelianRandomization vignette; 3 and 4 decimals).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import max_likelihood
    >>> bx = np.array([.1, .2, .3, .4]); r = max_likelihood(bx, .5 * bx, np.full(4, .01), np.full(4, .02), optimizer="exact")
    >>> round(r.b, 6)
    0.5
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "max_likelihood", 2)
    if np.any(sx <= 0):
        raise SpecificationError("max_likelihood: se.exposure must be positive for every variant.")
    k = bx.size
    if model == "default":
        model = "fixed" if k < 4 else "random"
    if model not in ("random", "fixed"):
        raise SpecificationError(
            f"max_likelihood: model must be 'default', 'random' or 'fixed', not {model!r}."
        )
    if optimizer not in ("nelder_mead", "exact"):
        raise SpecificationError(
            f"max_likelihood: optimizer must be 'nelder_mead' or 'exact', not {optimizer!r}."
        )

    rho = _check_rho(correlation, k, "max_likelihood")
    if rho is not None:
        tx = np.linalg.inv(np.outer(sx, sx) * rho)
        ty = np.linalg.inv(np.outer(sy, sy) * rho)

    def a_hat(beta: float) -> Array:
        if rho is None:
            return (bx / sx**2 + beta * by / sy**2) / (1.0 / sx**2 + beta**2 / sy**2)
        return np.linalg.solve(tx + beta**2 * ty, tx @ bx + beta * (ty @ by))

    def objective(a_: Array, beta: float) -> float:
        if rho is None:
            return 0.5 * float(
                np.sum((bx - a_) ** 2 / sx**2) + np.sum((by - beta * a_) ** 2 / sy**2)
            )
        d = bx - a_
        e = by - beta * a_
        return 0.5 * float(d @ tx @ d + e @ ty @ e)

    def profile(beta: float) -> float:
        if rho is None:
            return 0.5 * float(np.sum((by - beta * bx) ** 2 / (sy**2 + beta**2 * sx**2)))
        return objective(a_hat(beta), beta)

    b0 = float(np.sum(bx * by / sy**2) / np.sum(bx**2 / sy**2))
    ratio = by / bx
    span = max(1.0, float(np.max(np.abs(ratio - b0)))) * 4.0
    if rho is None:
        grid = np.linspace(b0 - span, b0 + span, 4001)
        vals = 0.5 * np.sum(
            (by[None, :] - grid[:, None] * bx[None, :]) ** 2 / (sy**2 + grid[:, None] ** 2 * sx**2),
            axis=1,
        )
    else:
        grid = np.linspace(b0 - span, b0 + span, 801)
        vals = np.array([profile(g) for g in grid])
    i = int(np.argmin(vals))
    res = optimize.minimize_scalar(
        profile,
        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
        method="bounded",
        options={"xatol": 1e-13},
    )
    beta_opt = float(res.x)
    f_opt = profile(beta_opt)
    fail = 0
    if optimizer == "exact":
        beta = beta_opt
        a = a_hat(beta)
        fval = f_opt
        if rho is None:
            h_aa = 1.0 / sx**2 + beta**2 / sy**2
            h_ab = (2.0 * beta * a - by) / sy**2
            h_bb = float(np.sum(a**2 / sy**2))
            schur = h_bb - float(np.sum(h_ab**2 / h_aa))
        else:
            H_aa = tx + beta**2 * ty
            h_ab = ty @ (2.0 * beta * a - by)
            schur = float(a @ ty @ a) - float(h_ab @ np.linalg.solve(H_aa, h_ab))
        if schur <= 0:
            raise EstimationError(
                "max_likelihood: the Hessian is not positive definite at the optimum."
            )
        var = 1.0 / schur
    else:
        sx2 = sx**2
        sy2 = sy**2

        def fn(par: Array) -> float:
            a_ = par[:k]
            if rho is None:
                return 0.5 * math.fsum((bx - a_) ** 2 / sx2) + 0.5 * math.fsum(
                    (by - par[k] * a_) ** 2 / sy2
                )
            d = bx - a_
            e = by - par[k] * a_
            return 0.5 * float(d @ tx @ d) + 0.5 * float(e @ ty @ e)

        par, fval, fail, _ = _r_nelder_mead(fn, np.concatenate([bx, [b0]]), maxit=maxit)
        beta = float(par[k])
        H = _r_optimhess(fn, par)
        try:
            var = float(np.linalg.solve(H, np.eye(k + 1)[:, k])[k])
        except np.linalg.LinAlgError:
            raise EstimationError(
                "max_likelihood: the numerical Hessian is singular; try optimizer='exact'."
            ) from None
        if not var > 0:
            raise EstimationError(
                "max_likelihood: the numerical Hessian is not positive definite; try optimizer='exact'."
            )
    if model == "random":
        var *= max(2.0 * fval / (k - 1), 1.0)
    se = math.sqrt(var)
    q = 2.0 * fval
    lo, hi = _ci(beta, se, alpha)
    return MREstimate(
        "max_likelihood",
        "Maximum likelihood",
        k,
        beta,
        se,
        _p_norm(beta, se),
        lo,
        hi,
        {
            "Q": q,
            "Q_df": float(k - 1),
            "Q_pval": float(stats.chi2.sf(q, k - 1)),
            "sigma": math.sqrt(q / (k - 1)),
            "random": float(model == "random"),
            "Q_optimum": 2.0 * f_opt,
            "b_optimum": beta_opt,
            "optimizer_fail": float(fail),
        },
    )


# --------------------------------------------------------------------------------------------
# Penalised and robust IVW (MendelianRandomization)
# --------------------------------------------------------------------------------------------


def penalised_ivw(bx: Array, by: Array, sx: Array, sy: Array, *, alpha: float = 0.05) -> MREstimate:
    """Penalised IVW (Burgess et al. 2016; MendelianRandomization ``mr_ivw(penalized = TRUE)``).

    Each variant's weight ``1/sy^2`` is multiplied by ``min(1, 100 p_j)``, where ``p_j`` is the
    chi-squared(1) upper tail of ``bx_j^2/sy_j^2 (ratio_j - median(ratio))^2``; then the
    random-effects IVW fit. This is *not* the "pIVW" of Xu et al. (2022, ``mr_pivw``), which the
    MendelianRandomization vignette also prints. No reference value is printed for this
    method; tests check it against the formula (and that it down-weights an outlier).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import penalised_ivw
    >>> bx = np.array([.1, .2, .3, .4]); r = penalised_ivw(bx, .5 * bx, np.full(4, .01), np.full(4, .02))
    >>> round(r.b, 6)
    0.5
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "penalised_ivw", 3)
    k = bx.size
    ratio = by / bx
    theta = float(np.median(ratio))
    pen = stats.chi2.sf(bx**2 / sy**2 * (ratio - theta) ** 2, 1)
    w = sy**-2.0 * np.minimum(1.0, pen * 100.0)
    b, se_fixed, sigma = _wls_origin(bx, by, w)
    se = se_fixed * max(sigma, 1.0)  # lm's se / min(sigma, 1)
    lo, hi = _ci(b, se, alpha)
    return MREstimate(
        "penalised_ivw",
        "Penalised IVW",
        k,
        b,
        se,
        _p_norm(b, se),
        lo,
        hi,
        {"sigma": sigma, "n_downweighted": float(np.sum(pen * 100.0 < 1.0))},
    )


# bisquare (Tukey) functions as robustbase's Mchi / Mpsi
_C_CHI = 1.54764  # robustbase lmrob.control() tuning.chi for bisquare, breakdown 0.5
_C_PSI = 4.685061  # tuning.psi: 95% efficiency at the normal
_BB = 0.5


def _rho(u: Array, c: float) -> Array:
    t2 = np.minimum((u / c) ** 2, 1.0)
    v = 1.0 - t2
    return 1.0 - v * v * v


def _rho_d1(u: Array, c: float) -> Array:
    t = u / c
    return np.where(np.abs(t) < 1, 6.0 * u / c**2 * (1.0 - t**2) ** 2, 0.0)


def _psi(u: Array, c: float) -> Array:
    t = u / c
    return np.where(np.abs(t) < 1, u * (1.0 - t**2) ** 2, 0.0)


def _psi_d1(u: Array, c: float) -> Array:
    t2 = (u / c) ** 2
    return np.where(t2 < 1, (1.0 - t2) * (1.0 - 5.0 * t2), 0.0)


def _m_scale(
    r: Array,
    s0: float,
    p: int = 1,
    c: float = _C_CHI,
    b: float = _BB,
    tol: float = 1e-10,
    maxit: int = 500,
) -> float:
    """M-scale: solve sum(rho(r/s)) / (n - p) = b by the fixed-point iteration lmrob uses."""
    s = s0
    n = r.size
    target = (n - p) * b
    for _ in range(maxit):
        s_new = s * math.sqrt(float(_rho(r / s, c).sum()) / target)
        if abs(s_new / s - 1.0) <= tol:
            return s_new
        s = s_new
    return s


def _s_estimate_1d(x: Array, y: Array) -> tuple[float, float]:
    """S-estimate of y = beta x (one regressor, no intercept) from elemental starts.

    lmrob's fast-S draws random elemental subsets; with one coefficient the elemental fits are
    exactly ``y_i / x_i``, so every one of them is a candidate (deterministic); the 10 with the
    smallest M-scale are refined by iteratively reweighted least squares on the bisquare weights
    with the M-scale updated, and the refined fit with the smallest scale wins.
    """
    best_s, best_b = math.inf, float("nan")
    starts = np.unique(y / x)
    # rank the elemental starts by their M-scale and refine the best few fully (as fast-S keeps
    # the best.r.s candidates); with one coefficient this is close to exhaustive
    init_scale = []
    for b in starts:
        r = y - b * x
        s0 = float(np.median(np.abs(r))) / 0.6745
        init_scale.append(_m_scale(r, s0) if s0 > 0 else math.inf)
    order = np.argsort(init_scale)[:10]
    for b in starts[order]:
        r = y - b * x
        s = float(np.median(np.abs(r))) / 0.6745
        if s <= 0:
            continue
        for _ in range(500):
            s = _m_scale(r, s)
            u = r / s
            wts = np.where(np.abs(u) < _C_CHI, (1 - (u / _C_CHI) ** 2) ** 2, 0.0)
            if np.sum(wts * x * x) <= 0:
                break
            b_new = float(np.sum(wts * x * y) / np.sum(wts * x * x))
            r = y - b_new * x
            if abs(b_new - b) <= 1e-10 * max(1.0, abs(b)):
                b = b_new
                break
            b = b_new
        s = _m_scale(y - b * x, s)
        if s < best_s:
            best_s, best_b = s, b
    return best_b, best_s


def robust_ivw(bx: Array, by: Array, sx: Array, sy: Array, *, alpha: float = 0.05) -> MREstimate:
    """Robust IVW: MM-estimation of ``by ~ bx - 1`` with weights ``1/sy^2``.

    MendelianRandomization ``mr_ivw(robust = TRUE)`` calls robustbase ``lmrob`` (defaults:
    S-estimate start with bisquare ``rho``, ``c = 1.54764``, breakdown 0.5; M-step bisquare
    ``c = 4.685061``; covariance ``.vcov.avar1``). This implementation follows those steps on
    the weighted data (``bx/sy``, ``by/sy``), with one difference: the S-estimate starts from
    every elemental fit ``by_j / bx_j`` instead of lmrob's 500 random subsamples, so it is
    deterministic (the 10 starts with the smallest M-scale are refined to convergence). SE: the lmrob SE divided by ``min(1, scale)`` (random effects).
    Checked against robustbase 0.95-0 on the LDL-c -> CHD data (tests/reference/mr_reference.json).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._estimators import robust_ivw
    >>> bx = np.array([.1, .2, .3, .4, .5]); by = .5 * bx + np.array([.001, -.001, .002, -.002, .5])
    >>> abs(robust_ivw(bx, by, np.full(5, .01), np.full(5, .02)).b - 0.5) < 0.01
    True
    """
    bx, by, sx, sy = _check(bx, by, sx, sy, "robust_ivw", 3)
    k = bx.size
    x = bx / sy
    y = by / sy
    b0, scale = _s_estimate_1d(x, y)
    r0 = y - b0 * x
    # M-step (IRWLS with fixed scale), started at the S-estimate
    b = b0
    converged = False
    for _ in range(500):
        u = (y - b * x) / scale
        wts = np.where(np.abs(u) < _C_PSI, (1 - (u / _C_PSI) ** 2) ** 2, 0.0)
        b_new = float(np.sum(wts * x * y) / np.sum(wts * x * x))
        if abs(b_new - b) <= 1e-7 * max(abs(b), 1e-300):
            b = b_new
            converged = True
            break
        b = b_new
    if not converged:
        raise EstimationError("robust_ivw: the M-step did not converge in 500 iterations.")
    r = y - b * x
    # .vcov.avar1 (Croux, Dhaene & Hoorelbeke 2003), p = 1
    rs = r / scale
    r0s = r0 / scale
    w = _psi_d1(rs, _C_PSI)
    w0 = _rho_d1(r0s, _C_CHI)
    xwx = float(np.sum(x * x * w))
    A = scale / xwx
    a = A * float(np.sum(x * w * rs)) / float(np.mean(w0 * r0s))
    wp = _psi(rs, _C_PSI)
    w0c = _rho(r0s, _C_CHI)
    xww = float(np.sum(x * wp * w0c))
    u1 = A * float(np.sum(x * x * wp**2)) * (k * A)
    u2 = a * xww * A
    u3 = A * xww * a
    u4 = float(np.mean(w0c**2 - _BB**2)) * a * a
    var = max((u1 - u2 - u3 + u4) / k, 0.0)
    se_lm = math.sqrt(var)
    se = se_lm / min(scale, 1.0)
    lo, hi = _ci(b, se, alpha)
    return MREstimate(
        "robust_ivw",
        "Robust IVW",
        k,
        b,
        se,
        _p_norm(b, se),
        lo,
        hi,
        {"sigma": scale, "s_estimate": b0},
    )


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------

_Estimator = Callable[..., MREstimate]


@dataclass(frozen=True)
class _MethodSpec:
    fn: _Estimator
    k_min: int
    random: bool  # takes nboot / seed
    label: str


METHODS: Mapping[str, _MethodSpec] = MappingProxyType(
    {
        "wald_ratio": _MethodSpec(wald_ratio, 1, False, "Wald ratio"),
        "ivw": _MethodSpec(ivw, 2, False, "Inverse variance weighted"),
        "ivw_fixed": _MethodSpec(ivw_fixed, 2, False, "Inverse variance weighted (fixed effects)"),
        "egger": _MethodSpec(egger, 3, False, "MR Egger"),
        "weighted_median": _MethodSpec(weighted_median, 3, True, "Weighted median"),
        "simple_median": _MethodSpec(simple_median, 3, True, "Simple median"),
        "weighted_mode": _MethodSpec(weighted_mode, 3, True, "Weighted mode"),
        "simple_mode": _MethodSpec(simple_mode, 3, True, "Simple mode"),
        "max_likelihood": _MethodSpec(max_likelihood, 2, False, "Maximum likelihood"),
        "penalised_ivw": _MethodSpec(penalised_ivw, 3, False, "Penalised IVW"),
        "robust_ivw": _MethodSpec(robust_ivw, 3, False, "Robust IVW"),
    }
)


def run_method(
    name: str,
    bx: Array,
    by: Array,
    sx: Array,
    sy: Array,
    *,
    seed: int | np.random.Generator | None = None,
    nboot: int = 1000,
    alpha: float = 0.05,
    options: Mapping[str, Any] | None = None,
) -> MREstimate:
    """Dispatch one method by name (used by :func:`sleeppain.mr.estimate`)."""
    try:
        spec = METHODS[name]
    except KeyError:
        raise SpecificationError(
            f"unknown MR method {name!r}. Choose from: {', '.join(METHODS)}."
        ) from None
    kw: dict[str, Any] = {"alpha": alpha, **(options or {})}
    if spec.random:
        kw.setdefault("seed", seed)
        kw.setdefault("nboot", nboot)
    return spec.fn(bx, by, sx, sy, **kw)
