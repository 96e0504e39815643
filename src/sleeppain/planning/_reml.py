"""Batched REML for many small linear mixed models with one grouping factor and q = 2.

The models are those of the lagged diary analyses: ``y ~ X + (1 + x | id)`` with ``p`` fixed
effects and two random effects (intercept and one slope) per person, correlated, or
uncorrelated ``(1 + x || id)`` with ``theta2`` fixed at 0 (``free=(True, False, True)``). Thousands of
simulated studies are fitted at once from per-person sufficient statistics (``X'X``-type
cross-products), so that each evaluation of the deviance costs ``O(studies x persons)``
whatever the number of days.

Notation follows Bates, Maechler, Bolker & Walker (2015, J Stat Softw 67(1), sections 3.2-3.4):
relative covariance factor ``Lambda(theta) = [[theta1, 0], [theta2, theta3]]`` with lower bounds
0 on ``theta1`` and ``theta3``, penalised residual sum of squares ``pwrss``, and the REML
criterion profiled over ``beta`` and ``sigma``::

    d(theta) = log|L L'| + log|R_X' R_X| + (n - p) (1 + log(2 pi pwrss / (n - p)))

which is ``REMLcrit()`` of an lme4 ``lmer`` fit. Person ``i`` contributes the 2 x 2 block
``M_i = Lambda' Z_i' Z_i Lambda + I`` (so ``log|L L'| = sum_i log|M_i|``); 2 x 2 inverses and
determinants are written out in closed form and vectorised over (study, person).

The analytic gradient uses the REML identity (e.g. Searle, Casella & McCulloch 1992, ch. 6)
``d d / d T = sum_i Z_i' P Z_i - (n - p) / pwrss * sum_i (Z_i' P y)(Z_i' P y)'`` for the
relative covariance ``T = Lambda Lambda'``, chained to ``d d / d Lambda = 2 (d d / d T) Lambda``.

The optimiser is a batched projected Newton method (Hessian by forward differences of the
analytic gradient, eigenvalue-modified to be positive definite, Armijo backtracking, bounds by
projection with an active set), run on all studies at once; studies that have not converged
after ``max_iter`` iterations are refitted one by one with ``scipy.optimize.minimize``
(L-BFGS-B with the same analytic gradient). Two details keep it from stopping where lme4's
optimisers sometimes do: on the face ``theta1 = 0`` the points ``(0, theta2, theta3)`` and
``(0, -theta2, theta3)`` are the same model, and the sign of ``theta2`` is chosen so that the
bound on ``theta1`` is not what stops the search; and at a point with zero projected gradient
but negative curvature (e.g. ``theta3 = 0``, where the derivative in ``theta3`` vanishes
identically) it steps along the direction of negative curvature. A fit is converged when the
projected gradient is below ``gtol`` and the Hessian on the free coordinates has no negative
eigenvalue.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BatchFit",
    "GroupStats",
    "fit_batched",
    "fit_one_scipy",
    "group_stats_from_panel",
    "group_stats_from_rows",
    "reml_deviance",
    "satterthwaite_df",
]

FloatArray = NDArray[np.float64]

LOG_2PI = float(np.log(2.0 * np.pi))
#: theta components with a lower bound of 0 (the diagonal of Lambda), as in lme4.
BOUNDED = np.array([True, False, True])
#: a fit is called singular when a bounded theta is below this (lme4's isSingular default).
SINGULAR_TOL = 1e-4


@dataclass(frozen=True)
class GroupStats:
    """Per-person sufficient statistics of a batch of datasets (studies).

    Shapes use ``S`` studies, ``N`` persons (padded: a person with no rows has zero
    statistics and contributes nothing), ``p`` fixed effects and ``q = 2`` random effects.

    Attributes
    ----------
    ztz : ndarray, shape (S, N, 2, 2)
        ``Z_i' Z_i``.
    ztx : ndarray, shape (S, N, 2, p)
        ``Z_i' X_i``.
    zty : ndarray, shape (S, N, 2)
        ``Z_i' y_i``.
    xtx : ndarray, shape (S, p, p)
        ``X' X`` summed over persons.
    xty : ndarray, shape (S, p)
        ``X' y``.
    yty : ndarray, shape (S,)
        ``y' y``.
    nobs : ndarray, shape (S,)
        Number of rows of each study.
    """

    ztz: FloatArray
    ztx: FloatArray
    zty: FloatArray
    xtx: FloatArray
    xty: FloatArray
    yty: FloatArray
    nobs: FloatArray

    @cached_property
    def augmented(self) -> FloatArray:
        """``Z_i' [X_i, y_i]`` with persons last (fast broadcasting), shape (S, 2, p + 1, N)."""
        aug = np.concatenate([self.ztx, self.zty[..., None]], axis=-1)  # (S, N, 2, p + 1)
        return np.ascontiguousarray(aug.transpose(0, 2, 3, 1))

    @cached_property
    def augmented_cross(self) -> FloatArray:
        """``[X, y]' [X, y]``, shape (S, p + 1, p + 1)."""
        top = np.concatenate([self.xtx, self.xty[:, :, None]], axis=2)
        bottom = np.concatenate([self.xty, self.yty[:, None]], axis=1)[:, None, :]
        return np.concatenate([top, bottom], axis=1)

    @property
    def n_studies(self) -> int:
        """Number of studies ``S``."""
        return int(self.xtx.shape[0])

    @property
    def n_fixed(self) -> int:
        """Number of fixed effects ``p``."""
        return int(self.xtx.shape[-1])

    def take(self, index: NDArray[np.intp] | slice) -> GroupStats:
        """The statistics of a subset of the studies (derived arrays sliced, not rebuilt)."""
        sub = GroupStats(
            ztz=self.ztz[index],
            ztx=self.ztx[index],
            zty=self.zty[index],
            xtx=self.xtx[index],
            xty=self.xty[index],
            yty=self.yty[index],
            nobs=self.nobs[index],
        )
        for name in ("augmented", "augmented_cross"):
            sub.__dict__[name] = getattr(self, name)[index]
        return sub


def group_stats_from_rows(
    y: FloatArray,
    X: FloatArray,
    Z: FloatArray,
    group: NDArray[np.intp],
    n_groups: int | None = None,
) -> GroupStats:
    """Sufficient statistics of one dataset in long format, as a batch of one study.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Response.
    X : ndarray, shape (n, p)
        Fixed-effects design.
    Z : ndarray, shape (n, 2)
        Random-effects design (one grouping factor, two random effects).
    group : ndarray of int, shape (n,)
        Group codes ``0 .. n_groups - 1``.
    n_groups : int, optional
        Number of groups (default ``group.max() + 1``).

    Returns
    -------
    GroupStats
        With ``S = 1``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(10), 5)
    >>> x = rng.normal(size=50)
    >>> X = np.column_stack([np.ones(50), x])
    >>> st = group_stats_from_rows(rng.normal(size=50), X, X, g)
    >>> st.ztz.shape, st.n_fixed
    ((1, 10, 2, 2), 2)
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    Z = np.asarray(Z, dtype=float)
    group = np.asarray(group, dtype=np.intp)
    n_groups = int(group.max()) + 1 if n_groups is None else int(n_groups)
    q = Z.shape[1]
    p = X.shape[1]
    ztz = np.zeros((n_groups, q, q))
    ztx = np.zeros((n_groups, q, p))
    zty = np.zeros((n_groups, q))
    np.add.at(ztz, group, Z[:, :, None] * Z[:, None, :])
    np.add.at(ztx, group, Z[:, :, None] * X[:, None, :])
    np.add.at(zty, group, Z * y[:, None])
    return GroupStats(
        ztz=ztz[None],
        ztx=ztx[None],
        zty=zty[None],
        xtx=(X.T @ X)[None],
        xty=(X.T @ y)[None],
        yty=np.array([y @ y]),
        nobs=np.array([float(y.size)]),
    )


def group_stats_from_panel(
    y: FloatArray, X: FloatArray, Z: FloatArray, mask: NDArray[np.bool_] | None = None
) -> GroupStats:
    """Sufficient statistics of a batch of balanced-shape panels (vectorised).

    Parameters
    ----------
    y : ndarray, shape (S, N, T)
        Response of ``S`` studies, ``N`` persons, ``T`` rows per person.
    X : ndarray, shape (S, N, T, p)
        Fixed-effects design.
    Z : ndarray, shape (S, N, T, 2)
        Random-effects design.
    mask : ndarray of bool, shape (S, N, T), optional
        Rows that enter the model (default all); other rows may hold NaN.

    Returns
    -------
    GroupStats

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([np.ones((4, 10, 6, 1)), rng.normal(size=(4, 10, 6, 1))], axis=-1)
    >>> st = group_stats_from_panel(rng.normal(size=(4, 10, 6)), X, X)
    >>> st.xtx.shape
    (4, 2, 2)
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    Z = np.asarray(Z, dtype=float)
    if mask is not None:
        y = np.where(mask, y, 0.0)
        X = np.where(mask[..., None], X, 0.0)
        Z = np.where(mask[..., None], Z, 0.0)
        nobs = mask.sum(axis=(1, 2)).astype(float)
    else:
        nobs = np.full(y.shape[0], float(y.shape[1] * y.shape[2]))
    ztz = np.einsum("sntj,sntk->snjk", Z, Z)
    ztx = np.einsum("sntj,sntk->snjk", Z, X)
    zty = np.einsum("sntj,snt->snj", Z, y)
    return GroupStats(
        ztz=ztz,
        ztx=ztx,
        zty=zty,
        xtx=np.einsum("sntj,sntk->sjk", X, X),
        xty=np.einsum("sntj,snt->sj", X, y),
        yty=np.einsum("snt,snt->s", y, y),
        nobs=nobs,
    )


@dataclass(frozen=True)
class _Eval:
    """Deviance (and optionally gradient) of a batch at given theta."""

    deviance: FloatArray  # (S,)
    gradient: FloatArray | None  # (S, 3)
    beta: FloatArray  # (S, p)
    pwrss: FloatArray  # (S,)
    rxtrx: FloatArray  # (S, p, p)
    logdet: FloatArray | None = None  # (S,) log|L L'| + log|R_X' R_X|
    trace_t: FloatArray | None = None  # (S, 3): d logdet / d T, entries 00, 01, 11
    uu_t: FloatArray | None = None  # (S, 3): -d pwrss / d T, entries 00, 01, 11


def _cholesky_logdet(a: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
    """log-determinant of a batch of SPD matrices; NaN (and ok False) where not SPD."""
    try:
        chol = np.linalg.cholesky(a)
        ok = np.ones(a.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        chol = np.full_like(a, np.nan)
        ok = np.zeros(a.shape[0], dtype=bool)
        for s in range(a.shape[0]):
            try:
                chol[s] = np.linalg.cholesky(a[s])
                ok[s] = True
            except np.linalg.LinAlgError:
                pass
    diag = np.diagonal(chol, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        logdet = 2.0 * np.sum(np.log(diag), axis=-1)
    return logdet, ok


def _evaluate(theta: FloatArray, st: GroupStats, *, gradient: bool) -> _Eval:
    """Profiled REML criterion of each study at ``theta`` (S, 3), with its gradient.

    ``y`` is carried as an extra column of ``X`` (``A = [X, y]``), so one set of
    products gives ``R_X'R_X``, the right-hand side and the penalised residual sum of squares.
    """
    p = st.n_fixed
    aug = st.augmented  # Z'[X, y]: (S, 2, p + 1, N)
    t1 = theta[:, 0, None]
    t2 = theta[:, 1, None]
    t3 = theta[:, 2, None]
    g00 = st.ztz[..., 0, 0]
    g01 = st.ztz[..., 0, 1]
    g11 = st.ztz[..., 1, 1]
    # M_i = Lambda' Z_i'Z_i Lambda + I  (2 x 2, symmetric); arrays (S, N)
    m00 = t1 * t1 * g00 + 2.0 * t1 * t2 * g01 + t2 * t2 * g11 + 1.0
    m01 = t3 * (t1 * g01 + t2 * g11)
    m11 = t3 * t3 * g11 + 1.0
    det = m00 * m11 - m01 * m01
    i00 = (m11 / det)[:, None, :]
    i01 = (-m01 / det)[:, None, :]
    i11 = (m00 / det)[:, None, :]
    a0 = aug[:, 0]
    a1 = aug[:, 1]
    # B_i = Lambda' Z_i' [X_i, y_i] (rows b0, b1); W_i = M_i^{-1} B_i; arrays (S, p + 1, N)
    b0 = t1[:, :, None] * a0 + t2[:, :, None] * a1
    b1 = t3[:, :, None] * a1
    w0 = i00 * b0 + i01 * b1
    w1 = i01 * b0 + i11 * b1
    btw = np.matmul(b0, w0.transpose(0, 2, 1)) + np.matmul(b1, w1.transpose(0, 2, 1))
    full = st.augmented_cross - btw  # [[R_X'R_X, rhs], [rhs', y'y - |c_u|^2]]
    rxtrx = 0.5 * (full[:, :p, :p] + full[:, :p, :p].transpose(0, 2, 1))
    rhs = 0.5 * (full[:, :p, p] + full[:, p, :p])
    logdet_l = np.sum(np.log(det), axis=1)
    logdet_x, ok = _cholesky_logdet(rxtrx)
    safe = np.where(ok[:, None, None], rxtrx, np.eye(p))
    beta = np.linalg.solve(safe, rhs[..., None])[..., 0]
    pwrss = full[:, p, p] - np.sum(rhs * beta, axis=1)
    nmp = st.nobs - p
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = logdet_l + logdet_x + nmp * (1.0 + np.log(2.0 * np.pi * pwrss / nmp))
    dev = np.where(ok & (pwrss > 0), dev, np.inf)
    if not gradient:
        return _Eval(dev, None, beta, pwrss, rxtrx)

    # K_i = Z_i'Z_i Lambda
    k00 = g00 * t1 + g01 * t2
    k01 = g01 * t3
    k10 = g01 * t1 + g11 * t2
    k11 = g11 * t3
    # K M^{-1}
    j00, j01, j11 = i00[:, 0], i01[:, 0], i11[:, 0]
    km00 = k00 * j00 + k01 * j01
    km01 = k00 * j01 + k01 * j11
    km10 = k10 * j00 + k11 * j01
    km11 = k10 * j01 + k11 * j11
    # Z'V^{-1}Z and Z'V^{-1}[X, y] (rows q0, q1) with V = I + Z Lambda Lambda' Z'
    zvz00 = g00 - (km00 * k00 + km01 * k01)
    zvz01 = g01 - (km00 * k10 + km01 * k11)
    zvz11 = g11 - (km10 * k10 + km11 * k11)
    q0 = a0 - (k00[:, None, :] * w0 + k01[:, None, :] * w1)
    q1 = a1 - (k10[:, None, :] * w0 + k11[:, None, :] * w1)
    cinv = np.linalg.inv(safe)
    q0x = q0[:, :p]
    q1x = q1[:, :p]
    cq0 = np.matmul(cinv, q0x)
    cq1 = np.matmul(cinv, q1x)
    # u_i = Z_i' P y = Z_i'V_i^{-1}(y_i - X_i beta) = [-beta, 1]' q_i
    coef = np.concatenate([-beta, np.ones((beta.shape[0], 1))], axis=1)[:, None, :]
    u0 = np.matmul(coef, q0)[:, 0]
    u1 = np.matmul(coef, q1)[:, 0]
    trace_t = np.column_stack(
        [
            np.sum(zvz00, axis=1) - np.einsum("spn,spn->s", cq0, q0x),
            np.sum(zvz01, axis=1) - np.einsum("spn,spn->s", cq0, q1x),
            np.sum(zvz11, axis=1) - np.einsum("spn,spn->s", cq1, q1x),
        ]
    )
    uu_t = np.column_stack(
        [np.sum(u0 * u0, axis=1), np.sum(u0 * u1, axis=1), np.sum(u1 * u1, axis=1)]
    )
    grad = _chain_to_theta(theta, trace_t - (nmp / pwrss)[:, None] * uu_t)
    return _Eval(dev, grad, beta, pwrss, rxtrx, logdet_l + logdet_x, trace_t, uu_t)


def _chain_to_theta(theta: FloatArray, g_t: FloatArray) -> FloatArray:
    """d/d theta from d/d T (entries 00, 01, 11): d/d Lambda = 2 G_T Lambda, lower triangle."""
    t1, t2, t3 = theta[:, 0], theta[:, 1], theta[:, 2]
    gt00, gt01, gt11 = g_t[:, 0], g_t[:, 1], g_t[:, 2]
    return np.column_stack(
        [2.0 * (gt00 * t1 + gt01 * t2), 2.0 * (gt01 * t1 + gt11 * t2), 2.0 * gt11 * t3]
    )


def _varpar_gradient(varpar: FloatArray, st: GroupStats) -> FloatArray:
    """Gradient of lmerTest's REML deviance D(theta, sigma) (not profiled over sigma).

    ``D = log|L L'| + log|R_X' R_X| + pwrss / sigma^2 + (n - p) log(2 pi sigma^2)``
    (lmerTest 3.1 ``devfun_vp``).
    """
    theta, sigma = varpar[:, :3], varpar[:, 3]
    ev = _evaluate(theta, st, gradient=True)
    assert ev.trace_t is not None and ev.uu_t is not None  # gradient=True fills them
    g_t = ev.trace_t - ev.uu_t / sigma[:, None] ** 2
    d_sigma = -2.0 * ev.pwrss / sigma**3 + 2.0 * (st.nobs - st.n_fixed) / sigma
    return np.column_stack([_chain_to_theta(theta, g_t), d_sigma])


def satterthwaite_df(
    stats: GroupStats,
    theta: FloatArray,
    sigma: FloatArray,
    index: int,
    *,
    tol: float = 1e-8,
    step: float = 1e-4,
    free: tuple[bool, bool, bool] = (True, True, True),
) -> FloatArray:
    """Satterthwaite degrees of freedom of one fixed effect, as lmerTest computes them.

    Follows lmerTest 3.1 (Kuznetsova, Brockhoff & Christensen 2017, J Stat Softw 82(13)):
    with ``varpar = (theta, sigma)``, ``A = 2 H^+`` where ``H`` is the Hessian of the REML
    deviance ``D(varpar)`` and ``H^+`` its inverse on the eigenvalues above ``tol``;
    ``g`` the gradient of ``Var(beta_k) = sigma^2 [(R_X' R_X)^{-1}]_kk`` in ``varpar``;
    ``df = 2 Var(beta_k)^2 / (g' A g)``. ``H`` is a central difference of the analytic
    gradient and ``g`` a central difference in theta (analytic in sigma), where lmerTest uses
    numDeriv's Richardson extrapolation.

    Parameters
    ----------
    stats : GroupStats
    theta : ndarray, shape (S, 3)
        REML optimum.
    sigma : ndarray, shape (S,)
        REML residual SD.
    index : int
        Position of the fixed effect.
    tol : float
        lmerTest's eigenvalue tolerance.
    step : float
        Relative finite-difference step.
    free : tuple of 3 bool
        The estimated theta components, as in :func:`fit_batched`: ``(True, False, True)``
        for the uncorrelated model ``(1 + x || id)``, whose ``varpar`` in lmerTest is
        ``(theta1, theta3, sigma)``. Fixed components are left out of ``H`` and ``g``.

    Returns
    -------
    ndarray, shape (S,)
        Degrees of freedom (``inf`` when ``g' A g`` is 0).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(30), 8)
    >>> x = rng.normal(size=240)
    >>> X = np.column_stack([np.ones(240), x])
    >>> y = x * (0.5 + 0.3 * rng.normal(size=30)[g]) + rng.normal(size=240)
    >>> st = group_stats_from_rows(y, X, X, g)
    >>> fit = fit_batched(st)
    >>> bool(0 < satterthwaite_df(st, fit.theta, fit.sigma, 1)[0] < 240)
    True
    """
    S = stats.n_studies
    varpar = np.column_stack([theta, sigma])
    keep = [j for j in range(3) if free[j]] + [3]
    k = len(keep)
    hess = np.empty((S, k, k))
    for c, j in enumerate(keep):
        h = step * np.maximum(np.abs(varpar[:, j]), 1e-2)
        up, down = varpar.copy(), varpar.copy()
        up[:, j] += h
        down[:, j] -= h
        diff = _varpar_gradient(up, stats) - _varpar_gradient(down, stats)
        hess[:, :, c] = diff[:, keep] / (2.0 * h[:, None])
    hess = 0.5 * (hess + hess.transpose(0, 2, 1))
    lam, vec = np.linalg.eigh(hess)
    pos = lam > tol
    inv_lam = np.where(pos, 1.0 / np.where(pos, lam, 1.0), 0.0)
    a = 2.0 * np.einsum("sij,sj,skj->sik", vec, inv_lam, vec)

    def var_k(th: FloatArray) -> FloatArray:
        rxtrx = _evaluate(th, stats, gradient=False).rxtrx
        e = np.zeros((S, stats.n_fixed, 1))
        e[:, index] = 1.0
        return np.linalg.solve(rxtrx, e)[:, index, 0]

    c_kk = var_k(theta)
    grad = np.empty((S, k))
    for c, j in enumerate(keep[:-1]):
        h = step * np.maximum(np.abs(theta[:, j]), 1e-2)
        up, down = theta.copy(), theta.copy()
        up[:, j] += h
        down[:, j] -= h
        grad[:, c] = sigma**2 * (var_k(up) - var_k(down)) / (2.0 * h)
    grad[:, -1] = 2.0 * sigma * c_kk
    var = sigma**2 * c_kk
    denom = np.einsum("si,sij,sj->s", grad, a, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2.0 * var**2 / denom, np.inf)


def reml_deviance(theta: FloatArray, stats: GroupStats) -> tuple[FloatArray, FloatArray]:
    """Profiled REML criterion and its gradient for each study.

    Parameters
    ----------
    theta : ndarray, shape (S, 3)
        ``(theta1, theta2, theta3)``, the lower triangle of ``Lambda`` by rows, as lme4's
        ``getME(fit, "theta")`` for ``(1 + x | id)``.
    stats : GroupStats
        The studies' sufficient statistics.

    Returns
    -------
    deviance : ndarray, shape (S,)
        lme4's ``REMLcrit()`` at ``theta``.
    gradient : ndarray, shape (S, 3)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(20), 6)
    >>> X = np.column_stack([np.ones(120), rng.normal(size=120)])
    >>> st = group_stats_from_rows(rng.normal(size=120), X, X, g)
    >>> dev, grad = reml_deviance(np.array([[1.0, 0.0, 1.0]]), st)
    >>> dev.shape, grad.shape
    ((1,), (1, 3))
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    ev = _evaluate(theta, stats, gradient=True)
    assert ev.gradient is not None  # internal invariant: gradient requested
    return ev.deviance, ev.gradient


@dataclass(frozen=True)
class BatchFit:
    """REML fits of a batch of studies.

    Attributes
    ----------
    theta : ndarray, shape (S, 3)
        Optimal relative covariance parameters (lme4's ``getME(fit, "theta")``).
    beta : ndarray, shape (S, p)
        Fixed effects.
    std_error : ndarray, shape (S, p)
        Standard errors ``sqrt(diag(sigma^2 (R_X'R_X)^{-1}))`` (lme4's ``vcov``).
    sigma : ndarray, shape (S,)
        Residual SD (REML).
    deviance : ndarray, shape (S,)
        REML criterion at the optimum (lme4's ``REMLcrit()``).
    converged : ndarray of bool, shape (S,)
        Projected gradient below tolerance.
    singular : ndarray of bool, shape (S,)
        A bounded theta below ``SINGULAR_TOL`` (lme4's ``isSingular``).
    iterations : ndarray of int, shape (S,)
        Newton iterations (plus the fallback's iterations for stragglers).
    n_fallback : int
        Studies refitted one by one with scipy.
    """

    theta: FloatArray
    beta: FloatArray
    std_error: FloatArray
    sigma: FloatArray
    deviance: FloatArray
    converged: NDArray[np.bool_]
    singular: NDArray[np.bool_]
    iterations: NDArray[np.intp]
    n_fallback: int


def _projected_gradient(theta: FloatArray, grad: FloatArray, free: FloatArray) -> FloatArray:
    at_bound = BOUNDED[None, :] & (theta <= 0.0) & (grad > 0.0)
    return np.where(at_bound | ~free, 0.0, grad)


def _newton_direction(grad: FloatArray, hess: FloatArray, active: NDArray[np.bool_]) -> FloatArray:
    """Eigenvalue-modified Newton direction on the free (non-active) coordinates."""
    h = 0.5 * (hess + hess.transpose(0, 2, 1))
    keep = ~active
    mask2 = keep[:, :, None] & keep[:, None, :]
    h = np.where(mask2, h, 0.0) + np.where(active[:, :, None], np.eye(3)[None], 0.0)
    g = np.where(keep, grad, 0.0)
    h = np.where(np.isfinite(h), h, 0.0)
    w, v = np.linalg.eigh(h)
    wabs = np.abs(w)
    floor = 1e-8 * np.maximum(1.0, wabs.max(axis=1, keepdims=True))
    w = np.maximum(wabs, floor)
    d = -np.einsum("sij,sj,skj,sk->si", v, 1.0 / w, v, g)
    d = np.where(keep, d, 0.0)
    # cap the step: the theta scale is O(1)
    big = np.max(np.abs(d), axis=1, keepdims=True)
    return np.where(big > 5.0, d * (5.0 / np.maximum(big, 1e-300)), d)


def _reduced_eigen(hess: FloatArray, active: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Eigen-decomposition of the Hessian restricted to the free coordinates (ascending)."""
    h = 0.5 * (hess + hess.transpose(0, 2, 1))
    keep = ~active
    mask2 = keep[:, :, None] & keep[:, None, :]
    big = np.abs(np.where(np.isfinite(h), h, 0.0)).max(axis=(1, 2), keepdims=True)
    pad = np.where(active[:, :, None], np.eye(3)[None] * np.maximum(big, 1.0), 0.0)
    h = np.where(mask2 & np.isfinite(h), h, 0.0) + pad
    return np.linalg.eigh(h)


def fit_batched(
    stats: GroupStats,
    *,
    theta0: FloatArray | None = None,
    free: tuple[bool, bool, bool] = (True, True, True),
    gtol: float = 1e-6,
    max_iter: int = 60,
    fallback: bool = True,
    restart_boundary: bool = True,
) -> BatchFit:
    """Fit ``y ~ X + (1 + x | id)`` by REML to every study of a batch.

    Parameters
    ----------
    stats : GroupStats
        Sufficient statistics of ``S`` studies.
    theta0 : ndarray, shape (3,) or (S, 3), optional
        Starting values (default lme4's ``(1, 0, 1)``; fixed components start at 0).
    free : tuple of 3 bool
        Which theta components are estimated. ``(True, False, False)`` fits the
        random-intercept model ``(1 | id)``.
    gtol : float
        Convergence when the largest projected-gradient component of the REML criterion
        is below ``gtol`` (about ``1e-10`` relative to the criterion).
    max_iter : int
        Newton iterations before the stragglers are refitted one by one.
    fallback : bool
        Refit stragglers with ``scipy.optimize.minimize`` (L-BFGS-B).
    restart_boundary : bool
        For the correlated model, restart every fit that ends on the face ``theta3 = 0``
        from ``(theta1, theta2, 0.5)`` and keep the lower criterion: that face can hold a
        local minimum 2-3 REML units above the interior optimum (1 of 100 simulated
        studies of 100 persons x 14 days, found by comparison with lme4 1.1-31).

    Returns
    -------
    BatchFit

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(30), 8)
    >>> x = rng.normal(size=240)
    >>> X = np.column_stack([np.ones(240), x])
    >>> y = 1 + 0.5 * x + rng.normal(size=30)[g] + rng.normal(size=240)
    >>> fit = fit_batched(group_stats_from_rows(y, X, X, g))
    >>> bool(fit.converged[0]), fit.beta.shape
    (True, (1, 2))
    """
    S = stats.n_studies
    p = stats.n_fixed
    free_arr = np.broadcast_to(np.asarray(free, dtype=bool), (S, 3))
    if theta0 is None:
        theta = np.tile(np.array([1.0, 0.0, 1.0]), (S, 1))
    else:
        theta = np.array(np.broadcast_to(np.asarray(theta0, dtype=float), (S, 3)))
    theta = np.where(free_arr, theta, 0.0)
    iterations = np.zeros(S, dtype=np.intp)
    done = np.zeros(S, dtype=bool)
    failed = np.zeros(S, dtype=bool)
    step = 1e-5

    idx = np.arange(S)
    ev = _evaluate(theta, stats, gradient=True)
    f = ev.deviance.copy()
    grad = np.asarray(ev.gradient).copy()
    reflect = np.array([-1.0, -1.0, 1.0])
    for _ in range(max_iter):
        todo = idx[~done & ~failed]
        if todo.size == 0:
            break
        th = theta[todo]
        g = grad[todo]
        fr = free_arr[todo]
        # On the face theta1 = 0, (0, theta2, theta3) and (0, -theta2, theta3) give the same
        # Lambda Lambda' (the map theta -> (-theta1, -theta2, theta3) leaves the criterion
        # unchanged); pick the sign of theta2 for which increasing theta1 descends, so the
        # bound on theta1 does not stop the search at a point that is not a local minimum.
        flip = (th[:, 0] <= 0.0) & (g[:, 0] > 0.0) & fr[:, 1]
        th[flip] *= reflect
        g[flip] *= reflect
        theta[todo] = th
        grad[todo] = g
        pg = _projected_gradient(th, g, fr)
        small = np.max(np.abs(pg), axis=1) < gtol
        # Hessian: forward differences of the analytic gradient (a quasi-Newton update
        # instead needs about twice the iterations here and is slower overall)
        sub = stats.take(todo)
        hess = np.empty((todo.size, 3, 3))
        for j in range(3):
            tj = th.copy()
            hj = step * np.maximum(1.0, np.abs(tj[:, j]))
            tj[:, j] += hj
            gj = np.asarray(_evaluate(tj, sub, gradient=True).gradient)
            hess[:, :, j] = (gj - g) / hj[:, None]
        at_bound = BOUNDED[None, :] & (th <= 0.0) & (g > 0.0)
        active = at_bound | ~fr
        lam, vec = _reduced_eigen(hess, active)
        negative = lam[:, 0] < -1e-6 * np.maximum(1.0, np.abs(lam).max(axis=1))
        finished = small & ~negative
        done[todo[finished]] = True
        keep = ~finished
        if not keep.any():
            break
        todo, th, g, fr, hess, active = (
            todo[keep],
            th[keep],
            g[keep],
            fr[keep],
            hess[keep],
            active[keep],
        )
        negative, vec, small = negative[keep], vec[keep], small[keep]
        sub = stats.take(todo)
        iterations[todo] += 1
        d = _newton_direction(g, hess, active)
        # at a saddle (gradient ~ 0, negative curvature) move along the most negative
        # curvature direction, e.g. off theta3 = 0 where d/d theta3 vanishes identically,
        # so Newton steps never leave that face however small the other components get
        near_now = np.max(np.abs(_projected_gradient(th, g, fr)), axis=1) < 1e3 * gtol
        escape = negative & (small | near_now)
        if escape.any():
            v = vec[escape, :, 0]
            v = np.where(np.sum(g[escape] * v, axis=1, keepdims=True) > 0, -v, v)
            d[escape] = 0.5 * v * np.maximum(1.0, np.abs(th[escape]).max(axis=1, keepdims=True))
        # Armijo backtracking with projection onto the bounds
        alpha = np.ones(todo.size)
        f0 = f[todo]
        pending = np.arange(todo.size)
        new_theta = th.copy()
        new_f = f0.copy()
        # the full step is usually accepted: evaluate it with its gradient at once
        g_new = g.copy()
        have_grad = np.zeros(todo.size, dtype=bool)
        for ls in range(40):
            cand = th[pending] + alpha[pending, None] * d[pending]
            cand = np.where(BOUNDED[None, :], np.maximum(cand, 0.0), cand)
            cand = np.where(fr[pending], cand, 0.0)
            ev_c = _evaluate(cand, sub.take(pending), gradient=ls == 0)
            fc = ev_c.deviance
            decrease = np.sum(g[pending] * (cand - th[pending]), axis=1)
            ok = (
                np.isfinite(fc)
                & (fc <= f0[pending] + 1e-4 * np.minimum(decrease, 0.0))
                & (fc < f0[pending])
            )
            new_theta[pending[ok]] = cand[ok]
            new_f[pending[ok]] = fc[ok]
            if ev_c.gradient is not None:
                g_new[pending[ok]] = np.asarray(ev_c.gradient)[ok]
                have_grad[pending[ok]] = True
            pending = pending[~ok]
            if pending.size == 0:
                break
            alpha[pending] *= 0.5
        # a study whose line search failed is at a (numerically) stationary point or stuck
        stuck = np.zeros(todo.size, dtype=bool)
        stuck[pending] = True
        theta[todo] = new_theta
        moved = np.flatnonzero(~have_grad & ~stuck)
        if moved.size:
            g_new[moved] = np.asarray(
                _evaluate(new_theta[moved], sub.take(moved), gradient=True).gradient
            )
        f[todo] = new_f
        grad[todo] = g_new
        small_change = np.abs(f0 - f[todo]) <= 1e-12 * np.maximum(1.0, np.abs(f0))
        pg_new = _projected_gradient(new_theta, g_new, fr)
        near = np.max(np.abs(pg_new), axis=1) < 1e3 * gtol
        # stationary to machine precision: accept when the gradient is also small and the
        # Hessian showed no negative curvature
        done[todo[(stuck | small_change) & near & ~negative]] = True
        failed[todo[stuck & ~near]] = True

    pg = _projected_gradient(theta, grad, free_arr)
    converged = np.max(np.abs(pg), axis=1) < 1e3 * gtol
    converged &= np.isfinite(f)
    n_fallback = 0
    stragglers = idx[~converged]
    if fallback and stragglers.size:
        n_fallback = int(stragglers.size)
        for s in stragglers:
            th, it, ok = _fit_one_scipy(stats.take(slice(s, s + 1)), theta[s], free_arr[s], gtol)
            theta[s] = th
            iterations[s] += it
            converged[s] = ok

    if restart_boundary and free[1] and free[2]:
        face = np.flatnonzero(np.isfinite(f) & (theta[:, 2] < SINGULAR_TOL))
        if face.size:
            start = theta[face] * np.array([1.0, 1.0, 0.0]) + np.array([0.0, 0.0, 0.5])
            again = fit_batched(
                stats.take(face),
                theta0=start,
                free=free,
                gtol=gtol,
                max_iter=max_iter,
                fallback=fallback,
                restart_boundary=False,
            )
            f_face = _evaluate(theta[face], stats.take(face), gradient=False).deviance
            better = again.converged & (again.deviance < f_face - 1e-8)
            theta[face[better]] = again.theta[better]
            iterations[face] += again.iterations
            converged[face[better]] = True

    final = _evaluate(theta, stats, gradient=False)
    nmp = stats.nobs - p
    sigma2 = final.pwrss / nmp
    ok = np.isfinite(final.deviance)
    safe = np.where(ok[:, None, None], final.rxtrx, np.eye(p))
    cinv = np.linalg.inv(safe)
    var = sigma2[:, None] * np.diagonal(cinv, axis1=1, axis2=2)
    with np.errstate(invalid="ignore"):
        se = np.where(ok[:, None], np.sqrt(var), np.nan)
    singular = np.any(BOUNDED[None, :] & free_arr & (theta < SINGULAR_TOL), axis=1)
    return BatchFit(
        theta=theta,
        beta=np.where(ok[:, None], final.beta, np.nan),
        std_error=se,
        sigma=np.where(ok, np.sqrt(sigma2), np.nan),
        deviance=final.deviance,
        converged=converged & ok,
        singular=singular,
        iterations=iterations,
        n_fallback=n_fallback,
    )


def _fit_one_scipy(
    st: GroupStats, theta0: FloatArray, free: NDArray[np.bool_], gtol: float
) -> tuple[FloatArray, int, bool]:
    """Fit one study with scipy's L-BFGS-B (the fallback and the test reference)."""
    from scipy.optimize import minimize

    free_idx = np.flatnonzero(free)
    full = np.zeros(3)

    def fun(x: FloatArray) -> tuple[float, FloatArray]:
        full[free_idx] = x
        ev = _evaluate(full[None, :], st, gradient=True)
        dev = float(ev.deviance[0])
        if not np.isfinite(dev):
            return 1e300, np.zeros_like(x)
        return dev, np.asarray(ev.gradient)[0, free_idx]

    bounds = [(0.0, None) if BOUNDED[j] else (None, None) for j in free_idx]
    x0 = np.asarray(theta0, dtype=float)[free_idx]
    nit = 0
    for _ in range(4):
        res = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": gtol},
        )
        nit += int(res.nit)
        # stopped on theta1 = 0 with the bound active? the reflected point (0, -theta2,
        # theta3) is the same model, from which increasing theta1 descends: restart there
        th = np.zeros(3)
        th[free_idx] = res.x
        g = np.asarray(_evaluate(th[None, :], st, gradient=True).gradient)[0]
        if not (free[1] and th[0] <= 0.0 and g[0] > gtol and th[1] != 0.0):
            break
        th[1] = -th[1]
        th[0] = 1e-3 * max(1.0, abs(th[1]))
        x0 = th[free_idx]
    theta = np.zeros(3)
    theta[free_idx] = res.x
    ev = _evaluate(theta[None, :], st, gradient=True)
    pg = _projected_gradient(theta[None, :], np.asarray(ev.gradient), free[None, :])
    ok = bool(np.isfinite(ev.deviance[0]) and np.max(np.abs(pg)) < 1e3 * gtol)
    return theta, nit, ok


def fit_one_scipy(
    stats: GroupStats, free: tuple[bool, bool, bool] = (True, True, True)
) -> BatchFit:
    """Reference fit of each study one by one with scipy L-BFGS-B (for tests).

    The best of four starting points is kept (the REML criterion of a random-slope model can
    have a local minimum on each boundary face).

    Parameters
    ----------
    stats : GroupStats
    free : tuple of 3 bool
        As in :func:`fit_batched`.

    Returns
    -------
    BatchFit

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(30), 8)
    >>> X = np.column_stack([np.ones(240), rng.normal(size=240)])
    >>> fit = fit_one_scipy(group_stats_from_rows(rng.normal(size=240), X, X, g))
    >>> fit.theta.shape
    (1, 3)
    """
    S = stats.n_studies
    theta = np.zeros((S, 3))
    its = np.zeros(S, dtype=np.intp)
    conv = np.zeros(S, dtype=bool)
    fr = np.asarray(free, dtype=bool)
    starts = np.array([[1.0, 0.0, 1.0], [1.0, 0.5, 0.0], [1.0, -0.5, 0.0], [0.0, 0.5, 0.5]])
    for s in range(S):
        one = stats.take(slice(s, s + 1))
        best = np.inf
        for start in starts:
            th, it, ok = _fit_one_scipy(one, np.where(fr, start, 0.0), fr, 1e-8)
            dev = float(_evaluate(th[None, :], one, gradient=False).deviance[0])
            its[s] += it
            if dev < best:
                best, theta[s], conv[s] = dev, th, ok
    at_optimum = fit_batched(stats, theta0=theta, free=free, max_iter=0, fallback=False)
    return replace(at_optimum, converged=conv, iterations=its)
