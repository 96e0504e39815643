"""Satterthwaite degrees of freedom for fixed effects, as lmerTest computes them.

Reference: Kuznetsova, Brockhoff & Christensen (2017), lmerTest package: tests in linear
mixed effects models, J Stat Softw 82(13), and lmerTest 3.1-3's ``as_lmerModLT`` /
``contest1D``. The variance parameters are ``varpar = (theta, sigma)``; ``h`` is the
Hessian of the deviance as a function of ``varpar`` (``devfun_vp``: not profiled over
sigma; REML-adjusted for REML fits), ``vcov(varpar) = 2 h^+`` (pseudo-inverse over
eigenvalues > 1e-8), and for a contrast ``L`` with ``v = L' C L`` (``C = vcov(beta)``)
and ``g_k = L' (dC/dvarpar_k) L``, ``df = 2 v^2 / (g' vcov(varpar) g)``.
With a residual structure (``correlation=`` / ``weights=``) ``varpar`` also holds the
transformed phi and the log SD ratios (the optimiser's ``x``, then sigma): lmerTest's
approach extended to every variance parameter, as the df of a contrast do not depend on
how the parameters are written at the optimum. Checked against the same formula computed
independently in R (numDeriv's Hessian of the dense marginal REML deviance and Jacobian of
``vcov(beta)`` at nlme 3.1-162's optimum; tests/reference/nlme/make_refs.R) to rtol 1e-3.
Derivatives: the Hessian is the Richardson-extrapolated Jacobian of the analytic gradient of
``devfun_vp`` (block path) or a Richardson Hessian of its values (general path); ``dC/dtheta``
by Richardson differences of ``sigma^2 (X'V^{-1}X)^{-1}`` (numDeriv's scheme). Agreement with
lmerTest: rtol 1e-3 (tested in tests/mixed/test_lme4_reference.py).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sleeppain.mixed import lmm
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(10), 6)
>>> df = pd.DataFrame({"x": rng.normal(size=60), "g": g})
>>> df["y"] = 1 + 0.5 * df.x + rng.normal(size=10)[g] + rng.normal(size=60)
>>> fit = lmm("y ~ x + (1 | g)", df)
>>> bool(fit.tidy()["df"].iloc[0] > 0)
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from sleeppain.errors import ConvergenceWarning
from sleeppain.mixed.optimize import richardson_hessian, richardson_jacobian

__all__ = ["SatterthwaiteParts", "satterthwaite_df", "satterthwaite_parts"]

#: lmerTest's tolerance for zero / negative eigenvalues of the varpar Hessian.
EIGEN_TOL = 1e-8


@dataclass(frozen=True)
class SatterthwaiteParts:
    """Ingredients of Satterthwaite's approximation (lmerTest's ``lmerModLmerTest`` slots).

    Attributes
    ----------
    varpar : ndarray
        ``(theta, sigma)`` at the optimum.
    hessian : ndarray
        Hessian of ``devfun_vp`` at ``varpar``.
    vcov_varpar : ndarray
        ``2 h^+``.
    vcov_beta : ndarray, shape (p, p)
    jac : ndarray, shape (k, p, p)
        Derivative of ``vcov_beta`` with respect to each element of ``varpar``.
    messages : tuple of str
        lmerTest's warnings about non-positive eigenvalues, if any.
    """

    varpar: np.ndarray
    hessian: np.ndarray
    vcov_varpar: np.ndarray
    vcov_beta: np.ndarray
    jac: np.ndarray
    messages: tuple[str, ...] = ()


def satterthwaite_parts(
    dev: Any, theta: np.ndarray, sigma: float, *, stacklevel: int = 2
) -> SatterthwaiteParts:
    """Compute the Hessian and Jacobians Satterthwaite's df need (lmerTest's method).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(12), 8)
    >>> df = pd.DataFrame({"x": rng.normal(size=96), "g": g})
    >>> df["y"] = df.x + rng.normal(size=12)[g] + rng.normal(size=96)
    >>> from sleeppain.mixed import lmm
    >>> fit = lmm("y ~ x + (1 | g)", df)
    >>> parts = satterthwaite_parts(fit.evaluator, fit.theta, fit.sigma)
    >>> parts.hessian.shape, parts.jac.shape
    ((2, 2), (2, 2, 2))
    """
    theta = np.asarray(theta, dtype=float)
    varpar = np.append(theta, sigma)
    k = varpar.size
    if getattr(dev, "has_analytic_gradient", False):
        h = richardson_jacobian(lambda vp: dev.varpar_grad(vp[:-1], vp[-1]), varpar, levels=4)
        h = 0.5 * (h + h.T)
    else:
        h = richardson_hessian(lambda vp: dev.varpar_deviance(vp[:-1], vp[-1]), varpar)
    evals, evecs = np.linalg.eigh(h)
    msgs: list[str] = []
    neg = evals < -EIGEN_TOL
    zero = np.abs(evals) <= EIGEN_TOL
    if neg.any():
        msgs.append(
            f"Model failed to converge with {int(neg.sum())} negative eigenvalue(s) of the "
            f"variance-parameter Hessian: {' '.join(f'{v:.1e}' for v in evals[neg])}"
        )
    if zero.any():
        msgs.append(
            f"Model may not have converged with {int(zero.sum())} eigenvalue(s) close to zero: "
            f"{' '.join(f'{v:.1e}' for v in evals[zero])}"
        )
    for m in msgs:
        warnings.warn(
            m + " (Satterthwaite df may be unreliable; see lmerTest)",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    pos = evals > EIGEN_TOL
    h_inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    A_inv = dev.A_inv(theta)
    p = A_inv.shape[0]
    jac = np.empty((k, p, p))
    if theta.size:
        Jt = richardson_jacobian(lambda th: dev.A_inv(th).ravel(), theta, levels=4)
        for i in range(theta.size):
            jac[i] = sigma**2 * Jt[:, i].reshape(p, p)
    jac[-1] = 2.0 * sigma * A_inv
    return SatterthwaiteParts(
        varpar=varpar,
        hessian=h,
        vcov_varpar=2.0 * h_inv,
        vcov_beta=sigma**2 * A_inv,
        jac=jac,
        messages=tuple(msgs),
    )


def satterthwaite_df(parts: SatterthwaiteParts, L: np.ndarray | None = None) -> np.ndarray:
    """Satterthwaite df for each row of the contrast matrix ``L`` (default: identity).

    Examples
    --------
    >>> parts = SatterthwaiteParts(varpar=np.array([1.0]), hessian=np.eye(1),
    ...     vcov_varpar=np.array([[2.0]]), vcov_beta=np.array([[1.0]]),
    ...     jac=np.array([[[1.0]]]))
    >>> satterthwaite_df(parts).tolist()
    [1.0]
    """
    p = parts.vcov_beta.shape[0]
    L = np.eye(p) if L is None else np.atleast_2d(np.asarray(L, dtype=float))
    out = np.empty(L.shape[0])
    for i, ell in enumerate(L):
        var_con = float(ell @ parts.vcov_beta @ ell)
        g = np.array([ell @ J @ ell for J in parts.jac])
        denom = float(g @ parts.vcov_varpar @ g)
        out[i] = 2.0 * var_con**2 / denom if denom > 0 else np.inf
    return out
