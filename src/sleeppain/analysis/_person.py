"""Person-specific slopes and their prediction error variances (pure functions of arrays).

A person's slope is ``beta_f + b_i`` (fixed effect plus conditional mode). How sure we can be
of its sign depends on the error of *both* parts: the conditional variance lme4 reports with
``ranef(condVar = TRUE)`` treats ``beta`` as known, and so overstates certainty when the fixed
effect itself is uncertain. Here the prediction error variance comes from the inverse of
Henderson's mixed-model equations (Henderson 1975, Biometrics 31:423; Robinson 1991, Stat Sci
6:15, eq. 5.1; the matrix lme4 factors, Bates et al. 2015, J Stat Softw 67(1), sec. 3.2),
which includes the fixed effect's uncertainty and its covariance with the predicted deviation.

In lme4's spherical parametrisation ``b_i = T v_i`` (``T`` the relative covariance factor of
one person, ``v_i ~ N(0, sigma^2 I)``), the coefficient matrix is

    C = [[X'X, Q], [Q', D]],  Q_i = X_i' Z_i T,  D_i = T' Z_i' Z_i T + I,

and ``sigma^2 C^{-1}`` is the joint prediction error covariance of ``(beta_hat, v_hat)``.
With one grouping factor, ``D`` is block diagonal and the inverse is formed per person from
the Schur complement ``S = X'X - sum_i Q_i D_i^{-1} Q_i'`` (``sigma^2 S^{-1}`` is ``vcov``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["PersonSlopeArrays", "person_slopes"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PersonSlopeArrays:
    """Each person's slope, its prediction error SD, and the check quantities.

    Attributes
    ----------
    slope : ndarray (n_persons,)
        ``beta_f + b_i`` (fixed effect + conditional mode).
    pev_se : ndarray (n_persons,)
        Prediction error SD of the slope, including the fixed effect's uncertainty.
    cond_se : ndarray (n_persons,)
        The SD of ``b_i`` given ``beta`` (lme4's ``condVar``), for comparison.
    vcov_beta : ndarray (p, p)
        ``sigma^2 S^{-1}`` (equals the fit's ``vcov``).
    """

    slope: FloatArray
    pev_se: FloatArray
    cond_se: FloatArray
    vcov_beta: FloatArray


def _lower_tri(theta: np.ndarray, q: int) -> np.ndarray:
    """The ``q x q`` lower-triangular relative covariance factor filled column-wise from theta.

    Shared by :func:`person_slopes` and the within-person mediation model.
    """
    T = np.zeros((q, q))
    k = 0
    for c in range(q):
        for r in range(c, q):
            T[r, c] = theta[k]
            k += 1
    return T


def person_slopes(
    X: FloatArray,
    Z: FloatArray,
    y: FloatArray,
    group: NDArray[np.intp],
    n_groups: int,
    theta: FloatArray,
    sigma: float,
    fixed_index: int,
    random_index: int,
) -> PersonSlopeArrays:
    """Person-specific slopes with prediction error variances from Henderson's equations.

    Parameters
    ----------
    X : ndarray (n, p)
        Fixed-effects design.
    Z : ndarray (n, q)
        Random-effects design of the one grouping factor (e.g. ``[1, x]``).
    y : ndarray (n,)
    group : ndarray of int (n,)
        Person code 0..n_groups-1 of each row.
    n_groups : int
    theta : ndarray
        lme4's theta for the term (lower triangle of ``T``, column by column).
    sigma : float
        Residual SD.
    fixed_index, random_index : int
        Column of the slope's variable in ``X`` and in ``Z``.

    Returns
    -------
    PersonSlopeArrays

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(4), 5)
    >>> x = rng.normal(size=20)
    >>> X = np.column_stack([np.ones(20), x]); y = 0.5 * x + rng.normal(size=20)
    >>> out = person_slopes(X, X, y, g, 4, np.array([0.5, 0.0, 0.3]), 1.0, 1, 1)
    >>> bool(np.all(out.pev_se > out.cond_se))
    True
    """
    q = Z.shape[1]
    p = X.shape[1]
    T = _lower_tri(theta, q)
    ZT = Z @ T
    # per-person cross-products
    ztz = np.zeros((n_groups, q, q))
    ztx = np.zeros((n_groups, q, p))
    zty = np.zeros((n_groups, q))
    np.add.at(ztz, group, ZT[:, :, None] * ZT[:, None, :])
    np.add.at(ztx, group, ZT[:, :, None] * X[:, None, :])
    np.add.at(zty, group, ZT * y[:, None])
    D = ztz + np.eye(q)
    Dinv = np.linalg.inv(D)
    Qt = ztx  # Q_i' (q, p)
    S = X.T @ X - np.einsum("iqp,iqr,irs->ps", Qt, Dinv, Qt)
    Sinv = np.linalg.inv(S)
    # beta_hat and v_hat from the normal equations
    xty = X.T @ y - np.einsum("iqp,iqr,ir->p", Qt, Dinv, zty)
    beta = Sinv @ xty
    v_hat = np.einsum("iqr,ir->iq", Dinv, zty - Qt @ beta)
    b_hat = v_hat @ T.T
    # joint PEV pieces (in units of sigma^2)
    DinvQt = np.einsum("iqr,irp->iqp", Dinv, Qt)  # D_i^{-1} Q_i'
    V_bv = -np.einsum("pr,iqr->ipq", Sinv, DinvQt)  # S^{-1} Q_i D_i^{-1}, (i, p, q)
    V_vv = Dinv + np.einsum("iqp,ps,irs->iqr", DinvQt, Sinv, DinvQt)
    e = np.zeros(p)
    e[fixed_index] = 1.0
    t_row = T[random_index]  # b_i[random_index] = t_row @ v_i
    var = (
        Sinv[fixed_index, fixed_index]
        + 2.0 * np.einsum("iq,q->i", V_bv[:, fixed_index, :], t_row)
        + np.einsum("q,iqr,r->i", t_row, V_vv, t_row)
    )
    cond = np.einsum("q,iqr,r->i", t_row, Dinv, t_row)
    return PersonSlopeArrays(
        slope=beta[fixed_index] + b_hat[:, random_index],
        pev_se=sigma * np.sqrt(np.maximum(var, 0.0)),
        cond_se=sigma * np.sqrt(np.maximum(cond, 0.0)),
        vcov_beta=sigma**2 * Sinv,
    )
