"""Shared pieces of the penalised least-squares (PLS) evaluators, and their protocol.

Every deviance evaluator of the engine (:class:`~sleeppain.mixed.deviance.BlockDeviance`,
:class:`~sleeppain.mixed.deviance.GeneralDeviance`,
:class:`~sleeppain.mixed.schur.SchurDeviance`,
:class:`~sleeppain.mixed.residual.CorrelatedDeviance`) implements
:class:`DevianceEvaluator` and builds its :class:`PlsSolution` with :func:`pls_solution`.
This module imports no evaluator, so the evaluator modules import it and not each other.

Notation as Bates, Maechler, Bolker & Walker (2015, J Stat Softw 67(1)), section 3.

Examples
--------
>>> import numpy as np
>>> cen, Xc, yc = Centering.make(np.column_stack([np.ones(3), [1.0, 2.0, 3.0]]),
...                              np.array([1.0, 2.0, 4.0]))
>>> Xc[:, 1].tolist(), bool(abs(yc.sum()) < 1e-12)
([-1.0, 0.0, 1.0], True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.linalg as sla
from scipy.linalg.lapack import dpotrs

from sleeppain.errors import EstimationError

__all__ = [
    "Centering",
    "DevianceEvaluator",
    "PlsSolution",
    "diagonal_blocks",
    "pls_solution",
]

_LOG2PI = np.log(2.0 * np.pi)


@runtime_checkable
class DevianceEvaluator(Protocol):
    """What the optimiser, the checks, the result and Satterthwaite's df need of a
    deviance evaluator (lme4's ``devfun`` and the pieces around it).

    Attributes
    ----------
    reml : bool
        REML criterion (True) or -2 log-likelihood.
    ntheta : int
        Length of the parameter vector (theta, then any residual parameters).
    lower : ndarray
        Lower bounds of the parameters (0 on diagonals of theta, -inf elsewhere).
    has_analytic_gradient : bool
        Whether ``value_and_grad`` is exact (chooses TNC over L-BFGS-B, and the
        Satterthwaite Hessian from the gradient rather than the values).
    """

    reml: bool
    ntheta: int
    lower: np.ndarray
    has_analytic_gradient: bool

    def __call__(self, theta: np.ndarray) -> float:
        """The criterion at ``theta``."""
        ...

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The criterion and its gradient."""
        ...

    def solve(self, theta: np.ndarray, *, conditional_variance: bool = True) -> PlsSolution:
        """The full PLS solution at ``theta``."""
        ...

    def varpar_deviance(self, theta: np.ndarray, sigma: float) -> float:
        """The deviance at ``(theta, sigma)``, not profiled over sigma (lmerTest)."""
        ...

    def A_inv(self, theta: np.ndarray) -> np.ndarray:
        """``(X'V^{-1}X)^{-1}`` in the original parameterisation of beta."""
        ...


# ----------------------------------------------------------------------------------------
# centring of the fixed part
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Centering:
    """Reparameterisation ``beta = B beta_c + shift`` used to centre the fixed part.

    ``B`` is the identity except the intercept row (``-mean`` of each other column); the
    map has determinant 1.
    """

    B: np.ndarray
    shift: np.ndarray

    @staticmethod
    def params(X: np.ndarray, y: np.ndarray) -> tuple[Centering, np.ndarray | None, float]:
        """The centring of :meth:`make` without applying it: ``(centering, means, ybar)``.

        ``means`` (column means, 0 for the intercept) is None when nothing is centred.
        """
        p = X.shape[1]
        B = np.eye(p)
        shift = np.zeros(p)
        if p == 0:
            return Centering(B, shift), None, 0.0
        cand = [j for j in np.flatnonzero(X[0] == 1.0) if np.all(X[:, j] == 1.0)]
        if not cand:
            return Centering(B, shift), None, 0.0
        k = int(cand[0])
        means = X.mean(axis=0)
        means[k] = 0.0
        ybar = float(y.mean())
        B[k, :] -= means
        B[k, k] = 1.0
        shift[k] = ybar
        return Centering(B, shift), means, ybar

    @staticmethod
    def make(X: np.ndarray, y: np.ndarray) -> tuple[Centering, np.ndarray, np.ndarray]:
        """Centre ``y`` and the non-intercept columns of ``X`` when ``X`` has an intercept."""
        cen, means, ybar = Centering.params(X, y)
        if means is None:
            return cen, X, y
        Xc = np.asfortranarray(X - means) if np.any(means != 0) else X
        return cen, Xc, y - ybar


# ----------------------------------------------------------------------------------------
# results of one evaluation
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlsSolution:
    """Solution of the penalised least-squares problem at one ``theta``.

    Attributes
    ----------
    theta : ndarray
    deviance : float
        REML criterion or -2 log-likelihood (whichever the evaluator was built for).
    beta : ndarray, shape (p,)
        Conditional fixed effects (original parameterisation).
    r2 : float
        Penalised residual sum of squares ``r^2(theta)``.
    ldL2, ldRX2 : float
        ``log|L|^2`` and ``log|R_X|^2``.
    A_inv : ndarray, shape (p, p)
        ``(R_X' R_X)^{-1}`` in the original parameterisation; ``vcov(beta) = sigma^2 A_inv``.
    b : list of ndarray
        Conditional modes per term, each of shape (nlevels, p_i), in units of y.
    b_var : list of ndarray or None
        Conditional variances per term divided by sigma^2, each (nlevels, p_i, p_i).
    """

    theta: np.ndarray
    deviance: float
    beta: np.ndarray
    r2: float
    ldL2: float
    ldRX2: float
    A_inv: np.ndarray
    b: list[np.ndarray] = field(default_factory=list)
    b_var: list[np.ndarray] | None = None


def _criterion(ldL2: float, ldRX2: float, r2: float, n: int, p: int, reml: bool) -> float:
    if reml:
        nmp = n - p
        return ldL2 + ldRX2 + nmp * (1.0 + _LOG2PI + np.log(r2 / nmp))
    return ldL2 + n * (1.0 + _LOG2PI + np.log(r2 / n))


def _cho_solve(RX: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``A^{-1} b`` from the lower Cholesky factor of ``A`` (LAPACK ``dpotrs`` directly:
    scipy's ``cho_solve`` wrapper costs ten times the solve at the sizes of ``A`` here)."""
    x, info = dpotrs(RX, b, lower=1)
    if info != 0:
        raise ValueError(f"dpotrs failed (info={info})")
    return x


def _chol_A(A: np.ndarray, theta: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(A)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            f"X'V^-1X is not positive definite at theta={np.round(theta, 6).tolist()}; the "
            "fixed effects are not identifiable with these random effects (a fixed "
            "effect may be constant within every group of a term). Simplify the model."
        ) from exc


def _inv_logdet(M: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverses and total log-determinant of stacked SPD matrices (closed forms q<=2)."""
    q = M.shape[-1]
    if q == 1:
        m = M[:, 0, 0]
        return (1.0 / m)[:, None, None], float(np.log(m).sum())
    if q == 2:
        a, b, d = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
        det = a * d - b * b
        inv = np.empty_like(M)
        inv[:, 0, 0] = d / det
        inv[:, 1, 1] = a / det
        inv[:, 0, 1] = inv[:, 1, 0] = -b / det
        return inv, float(np.log(det).sum())
    L = np.linalg.cholesky(M)
    ld = 2.0 * float(np.log(np.diagonal(L, axis1=1, axis2=2)).sum())
    return np.linalg.inv(M), ld


def pls_solution(
    theta: np.ndarray,
    w: dict[str, Any],
    cen: Centering,
    b: list[np.ndarray],
    b_var: list[np.ndarray] | None,
) -> PlsSolution:
    """Assemble a :class:`PlsSolution` from an evaluator's work dict at ``theta``.

    ``w`` holds the pieces every evaluator's ``_solve`` returns (``dev``, ``r2``, ``ldL2``,
    ``ldRX2``, ``RX``, ``beta_c``, on the centred scale of ``cen``); ``b`` and ``b_var`` are
    the conditional modes and variances per term.
    """
    return PlsSolution(
        theta=np.asarray(theta, dtype=float).copy(),
        deviance=w["dev"],
        beta=cen.B @ w["beta_c"] + cen.shift,
        r2=w["r2"],
        ldL2=w["ldL2"],
        ldRX2=w["ldRX2"],
        A_inv=_A_inv_orig(w["RX"], cen),
        b=b,
        b_var=b_var,
    )


def diagonal_blocks(M: np.ndarray, base: np.ndarray, p: int) -> np.ndarray:
    """The ``p x p`` blocks on the diagonal of ``M`` starting at rows/columns ``base``.

    Returns an array of shape ``(len(base), p, p)`` with ``out[i, j, k] =
    M[base[i] + j, base[i] + k]``: one conditional covariance block per grouping level.
    """
    rows = base[:, None] + np.arange(p)
    return M[rows[:, :, None], rows[:, None, :]]


def _A_inv_orig(RX: np.ndarray, cen: Centering) -> np.ndarray:
    p = RX.shape[0]
    Ainv_c = sla.cho_solve((RX, True), np.eye(p))
    return cen.B @ Ainv_c @ cen.B.T


def _varpar_dev(
    ldL2: float, ldRX2: float, r2: float, sigma: float, n: int, p: int, reml: bool
) -> float:
    s2 = sigma * sigma
    dev = ldL2 + r2 / s2 + n * (_LOG2PI + np.log(s2))
    if reml:
        dev += ldRX2 - p * (_LOG2PI + np.log(s2))
    return float(dev)
