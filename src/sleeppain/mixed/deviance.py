"""Stages 3 and 4: sufficient statistics and the profiled deviance ``d(theta)``.

Notation follows Bates, Maechler, Bolker & Walker (2015, J Stat Softw 67(1), section 3):
``Lambda(theta)`` is the relative covariance factor, ``u`` the spherical random effects,
``b = Lambda u``, and for a given ``theta`` the penalised least-squares problem

    r^2(theta) = min_{u, beta} ||y - X beta - Z Lambda u||^2 + ||u||^2

is solved through ``M = Lambda' Z'Z Lambda + I = L L'`` and
``A = X'X - X'Z Lambda M^{-1} Lambda' Z'X = R_X' R_X``. The profiled criteria are
(eqs. 34 and 41 of the paper; lme4's ``devfun(theta)``)

    ML:   -2 l(theta)  = log|L|^2 + n (1 + log(2 pi r^2 / n))
    REML: -2 l_R(theta) = log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r^2 / (n - p))).

Two evaluators compute them from sufficient statistics formed once:

* :class:`BlockDeviance` -- one grouping factor (one or several terms of the same factor):
  ``M`` is block diagonal with one ``q x q`` block per group; per-group cross-products
  ``Z_j'Z_j``, ``Z_j'X_j``, ``Z_j'y_j`` are stacked over groups so each evaluation costs
  ``O(groups q^3)`` whatever the number of rows, with closed forms for ``q = 1, 2`` and an
  analytic gradient (below).
* :class:`GeneralDeviance` -- any design (nested, crossed): dense ``Z'Z`` and ``M`` with
  the analytic gradient up to 300 random effects; (on request) sparse ``Z'Z`` and a sparse
  LU factorisation of ``M`` (SuperLU in symmetric mode; its pivots are those of ``L L'``)
  with a central-difference gradient.
* :class:`~sleeppain.mixed.schur.SchurDeviance` -- larger multi-factor designs: the first
  term's block-diagonal part of ``M`` is eliminated and only its Schur complement is
  factored (module :mod:`sleeppain.mixed.schur`).

Analytic gradient (block path; derived here, checked against finite differences in the
tests). With ``dLambda/dtheta_k = E_rc`` (one element of the template),
``d log|L|^2 = 2 [M^{-1} Lambda' Z'Z]_{cr}``, ``d r^2 = -2 [sum_j res_j u_j']_{rc}`` with
``res_j = Z_j'(y_j - X_j beta - Z_j Lambda u_j)`` (envelope theorem) and
``d log|R_X|^2 = -2 [sum_j Lambda' W_j A^{-1} W_j']_{cr}`` with ``W_j = Z_j' V_j^{-1} X_j``.

When ``X`` has an intercept, ``y`` and the other columns of ``X`` are centred before the
cross-products are formed (a unit-triangular reparameterisation of beta that leaves
``r^2``, ``log|L|^2`` and ``log|R_X|^2`` unchanged and avoids cancellation in
``r^2 = y'y - ...``); estimates are mapped back.

A later within-person whitening (e.g. AR(1) residuals) can be applied to the rows of
``Z``, ``X`` and ``y`` before :func:`block_stats`, with the log-Jacobian added to the
criterion; the evaluators only see the statistics.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sleeppain.mixed import build_design, deviance_from_design
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(10), 6)
>>> df = pd.DataFrame({"y": rng.normal(size=60) + rng.normal(size=10)[g], "g": g})
>>> dev = deviance_from_design(build_design("y ~ 1 + (1 | g)", df), reml=True)
>>> bool(np.isfinite(dev(np.array([0.5]))))
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sparse
import scipy.sparse.linalg as spla

from sleeppain.errors import EstimationError
from sleeppain.mixed._pls import (
    Centering,
    DevianceEvaluator,
    PlsSolution,
    _A_inv_orig,
    _cho_solve,
    _chol_A,
    _criterion,
    _inv_logdet,
    _varpar_dev,
    diagonal_blocks,
    pls_solution,
)
from sleeppain.mixed.blockstats import BlockStats, block_stats
from sleeppain.mixed.design import Design, theta_layout
from sleeppain.mixed.schur import SchurDeviance

__all__ = [
    "BlockDeviance",
    "BlockStats",
    "Centering",
    "DevianceEvaluator",
    "GeneralDeviance",
    "PlsSolution",
    "SchurDeviance",
    "block_stats",
    "deviance_from_design",
]

#: Largest number of random effects for which the general path uses dense matrices (and the
#: analytic gradient); larger multi-factor designs use the Schur-complement evaluator.
GENERAL_DENSE_MAX = 300


# ----------------------------------------------------------------------------------------
# block-diagonal path (one grouping factor)
# ----------------------------------------------------------------------------------------


def _lin(pairs: list[tuple[float, np.ndarray]], const: float = 0.0) -> np.ndarray:
    """``sum(coef * array) + const`` skipping zero coefficients (arrays over groups)."""
    out: np.ndarray | None = None
    for coef, arr in pairs:
        if coef == 0.0:
            continue
        if out is None:
            out = coef * arr
        else:
            out += coef * arr
    if out is None:
        out = np.zeros_like(pairs[0][1])
    if const:
        out += const
    return out


def _lin_into(out: np.ndarray, pairs: list[tuple[float, np.ndarray]]) -> None:
    """``out[...] = sum(coef * array)`` skipping zero coefficients."""
    first = True
    for coef, arr in pairs:
        if coef == 0.0:
            continue
        if first:
            np.multiply(arr, coef, out=out)
            first = False
        else:
            out += coef * arr
    if first:
        out[...] = 0.0


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of the elementwise product."""
    return float(a.ravel() @ b.ravel())


def _inv_logdet_soa(M: list[list[np.ndarray]]) -> tuple[list[list[np.ndarray]], float]:
    """Inverse and total log-determinant of per-group SPD matrices stored entry-wise."""
    q = len(M)
    if q == 1:
        m = M[0][0]
        return [[1.0 / m]], float(np.log(m).sum())
    if q == 2:
        a, b, d = M[0][0], M[0][1], M[1][1]
        det = a * d - b * b
        off = -b / det
        return [[d / det, off], [off, a / det]], float(np.log(det).sum())
    stacked = np.stack([np.stack(row, axis=-1) for row in M], axis=-2)  # (G, q, q)
    inv, ld = _inv_logdet(stacked)
    return [[inv[:, a, b] for b in range(q)] for a in range(q)], ld


class BlockDeviance:
    """Profiled deviance for a single grouping factor (block-diagonal ``M``).

    Parameters
    ----------
    stats : BlockStats
    ncols : sequence of int
        Columns ``p_i`` of each term of the factor, in design order (their sum is q).
    reml : bool
        REML criterion (True) or -2 log-likelihood (False).

    Notes
    -----
    Reference: lme4 1.1-31 ``devfun(theta)``; agreement to rtol 1e-8 is tested against
    lme4 (tests/mixed/test_lme4_reference.py) and against :class:`GeneralDeviance`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> codes = np.repeat(np.arange(20), 5)
    >>> y = rng.normal(size=100) + rng.normal(size=20)[codes]
    >>> s = block_stats(np.ones((100, 1)), codes, 20, np.ones((100, 1)), y)
    >>> dev = BlockDeviance(s, [1], reml=True)
    >>> f, g = dev.value_and_grad(np.array([1.0]))
    >>> g.shape
    (1,)
    """

    def __init__(self, stats: BlockStats, ncols: list[int] | tuple[int, ...], reml: bool):
        self.stats = stats
        self.ncols = tuple(int(c) for c in ncols)
        self.reml = bool(reml)
        self.q = sum(self.ncols)
        self.p = stats.XtX.shape[0]
        self.n = stats.n
        layout = theta_layout(self.ncols)
        offs = np.concatenate([[0], np.cumsum(self.ncols)[:-1]]).astype(int)
        self._rows = np.array([offs[t] + r for t, r, _ in layout], dtype=int)
        self._cols = np.array([offs[t] + c for t, _, c in layout], dtype=int)
        self.ntheta = len(layout)
        self.lower = np.where(self._rows == self._cols, 0.0, -np.inf)
        self.nevals = 0
        self._soa()

    def template(self, theta: np.ndarray) -> np.ndarray:
        """The ``q x q`` block of Lambda shared by all groups."""
        T = np.zeros((self.q, self.q))
        T[self._rows, self._cols] = theta
        return T

    def _soa(self) -> None:
        """Work layouts of the statistics, fixed for the life of the evaluator.

        ``_zz[a][b]`` is entry ``(a, b)`` of every ``Z_j'Z_j`` (contiguous over groups);
        ``_C[a]`` holds row ``a`` of ``[Z_j'X_j | Z_j'y_j]`` for every group, shape
        ``(q, p + 1, G)`` (groups last, so per-group scalars broadcast along contiguous
        rows), and the sums over groups of each evaluation are a few matrix products.
        """
        s = self.stats
        q, p = self.q, self.p
        G = s.ZtZ.shape[0]
        self._zz = [[np.ascontiguousarray(s.ZtZ[:, a, b]) for b in range(q)] for a in range(q)]
        C = np.empty((q, p + 1, G))
        C[:, :p, :] = s.ZtX.transpose(1, 2, 0)
        C[:, p, :] = s.Zty.T
        self._C = C
        self._G = G
        self._partial = False

    def load_work(
        self,
        zz: list[list[np.ndarray]],
        C: np.ndarray,
        XtX: np.ndarray,
        Xty: np.ndarray,
        yty: float,
    ) -> None:
        """Replace the statistics by ones already in the work layout of :meth:`_soa`.

        Used by evaluators that re-weight statistics at every evaluation (residual
        correlation): ``zz[a][b]`` is entry ``(a, b)`` of every group's ``Z_j'Z_j``
        (``zz[b][a]`` the same array), ``C`` has shape ``(q, p + 1, G)``. The per-group
        arrays of :attr:`stats` are then stale (:meth:`moment_start` refuses to run).
        """
        self._zz = zz
        self._C = C
        self._G = C.shape[2]
        self.stats = dataclasses.replace(self.stats, XtX=XtX, Xty=Xty, yty=float(yty))
        self._partial = True

    def _solve(self, theta: np.ndarray) -> dict[str, Any]:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.ntheta,):
            raise ValueError(f"theta must have length {self.ntheta}, got shape {theta.shape}")
        T = self.template(theta)
        if self.q == 2:
            return self._solve_q2(theta, T)
        s = self.stats
        q, p = self.q, self.p
        zz, C = self._zz, self._C
        rq = range(q)
        # T' Z'Z (per group), M = T' Z'Z T + I (symmetric: upper triangle computed)
        tz = [[_lin([(T[c, a], zz[c][b]) for c in rq]) for b in rq] for a in rq]
        M: list[list[np.ndarray]] = [[zz[0][0]] * q for _ in rq]
        for a in rq:
            for b in range(a, q):
                M[a][b] = M[b][a] = _lin([(T[c, b], tz[a][c]) for c in rq], 1.0 if a == b else 0.0)
        Minv, ldL2 = _inv_logdet_soa(M)
        # P_j = T M_j^{-1} T' (symmetric), so that sum_j V_j' M_j^{-1} V_j with
        # V_j = T' [Z_j'X_j | Z_j'y_j] is sum_j C_j' P_j C_j
        TM = [[_lin([(T[a, c], Minv[c][b]) for c in rq]) for b in rq] for a in rq]
        P: list[list[np.ndarray]] = [[zz[0][0]] * q for _ in rq]
        for a in rq:
            for b in range(a, q):
                P[a][b] = P[b][a] = _lin([(T[b, d], TM[a][d]) for d in rq])
        Q = np.empty_like(C)
        for a in rq:
            np.multiply(C[0], P[a][0], out=Q[a])
            for b in range(1, q):
                Q[a] += P[a][b] * C[b]
        # thin BLAS products: run under single_threaded_blas() (fit_design does)
        S = C[0] @ Q[0].T
        for a in range(1, q):
            S += C[a] @ Q[a].T
        A = s.XtX - S[:p, :p]
        rhs = s.Xty - S[:p, p]
        RX = _chol_A(A, theta)
        beta_c = _cho_solve(RX, rhs) if p else np.zeros(0)
        ldRX2 = 2.0 * float(np.log(np.diag(RX)).sum())
        r2 = s.yty - float(S[p, p]) - float(rhs @ beta_c)
        if not r2 > 0:
            raise EstimationError(
                f"penalised residual sum of squares is {r2:.3g} at theta="
                f"{np.round(theta, 6).tolist()}: the model fits the response exactly."
            )
        # c_j = Z_j'(y_j - X_j beta), u_j = M_j^{-1} T' c_j
        cvec = np.append(-beta_c, 1.0) @ C  # (q, G)
        Tc = [_lin([(T[c, a], cvec[c]) for c in rq]) for a in rq]
        u = [sum((Minv[a][b] * Tc[b] for b in range(1, q)), Minv[a][0] * Tc[0]) for a in rq]
        self.nevals += 1
        dev = _criterion(ldL2, ldRX2, r2, self.n, self.p, self.reml)
        return {
            "T": T,
            "tz": tz,
            "Minv": Minv,
            "P": P,
            "cvec": cvec,
            "RX": RX,
            "beta_c": beta_c,
            "u": u,
            "r2": r2,
            "ldL2": ldL2,
            "ldRX2": ldRX2,
            "dev": dev,
        }

    def __call__(self, theta: np.ndarray) -> float:
        """Profiled deviance (REML criterion or -2 logLik) at ``theta``."""
        return self._solve(theta)["dev"]

    def _pieces_grad(self, w: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradients of log|L|^2, r^2 and log|R_X|^2 with respect to theta.

        With ``N_j = I - Z_j'Z_j P_j`` the residual of the module notes is
        ``res_j = N_j c_j`` and ``W_j = N_j Z_j'X_j``, so
        ``sum_j W_j A^{-1} W_j' = sum_j N_j K_j N_j'`` with ``K_j = Z_j'X_j A^{-1} X_j'Z_j``.
        """
        if self.q == 2:
            return self._pieces_grad_q2(w)
        q, p = self.q, self.p
        rq = range(q)
        zz, C = self._zz, self._C
        T, u, tz, Minv, P, cvec = w["T"], w["u"], w["tz"], w["Minv"], w["P"], w["cvec"]
        N = [
            [_lin([(-1.0, zz[a][c] * P[c][b]) for c in rq], 1.0 if a == b else 0.0) for b in rq]
            for a in rq
        ]
        res = [sum((N[a][b] * cvec[b] for b in range(1, q)), N[a][0] * cvec[0]) for a in rq]
        R = np.array([[_dot(res[a], u[b]) for b in rq] for a in rq])
        Bld = np.array([[sum(_dot(Minv[a][c], tz[c][b]) for c in rq) for b in rq] for a in rq])
        r, c = self._rows, self._cols
        d_ld = 2.0 * Bld[c, r]
        d_r2 = -2.0 * R[r, c]
        if p:
            Ainv = _cho_solve(w["RX"], np.eye(p))
            AC = [Ainv @ C[d, :p] for d in rq]
            K: list[list[np.ndarray]] = [[cvec[0]] * q for _ in rq]
            for a in rq:
                for b in range(a, q):
                    K[a][b] = K[b][a] = np.einsum("pg,pg->g", C[a, :p], AC[b])
            NK = [
                [sum((N[a][cc] * K[cc][d] for cc in range(1, q)), N[a][0] * K[0][d]) for d in rq]
                for a in rq
            ]
            BAraw = np.array([[sum(_dot(NK[a][d], N[b][d]) for d in rq) for b in rq] for a in rq])
            BA = T.T @ BAraw
            d_rx = -2.0 * BA[c, r]
        else:
            d_rx = np.zeros(self.ntheta)
        return d_ld, d_r2, d_rx

    def _solve_q2(self, theta: np.ndarray, T: np.ndarray) -> dict[str, Any]:
        """:meth:`_solve` for ``q = 2`` in closed form (the formulas of the generic path)."""
        s = self.stats
        p = self.p
        (z00, z01), (_, z11) = self._zz
        C = self._C
        t0, t1, t2 = float(T[0, 0]), float(T[1, 0]), float(T[1, 1])
        # T' Z'Z and M = T' Z'Z T + I
        tz00 = t0 * z00 + t1 * z01 if t1 else t0 * z00
        tz01 = t0 * z01 + t1 * z11 if t1 else t0 * z01
        tz10 = t2 * z01
        tz11 = t2 * z11
        M00 = t0 * tz00 + t1 * tz01 + 1.0 if t1 else t0 * tz00 + 1.0
        M01 = t2 * tz01
        M11 = t2 * tz11 + 1.0
        det = M00 * M11 - M01 * M01
        ldL2 = float(np.log(det).sum())
        rdet = 1.0 / det
        i00 = M11 * rdet
        i01 = -M01 * rdet
        i11 = M00 * rdet
        # P = T M^{-1} T'
        P00 = (t0 * t0) * i00
        P01 = t0 * (t1 * i00 + t2 * i01) if t1 else (t0 * t2) * i01
        P11 = (t1 * t1) * i00 + (2.0 * t1 * t2) * i01 + (t2 * t2) * i11 if t1 else (t2 * t2) * i11
        C0, C1 = C[0], C[1]
        Q0 = C0 * P00
        Q0 += C1 * P01
        S = C0 @ Q0.T
        Q1 = C0 * P01
        Q1 += C1 * P11
        S += C1 @ Q1.T
        A = s.XtX - S[:p, :p]
        rhs = s.Xty - S[:p, p]
        RX = _chol_A(A, theta)
        beta_c = _cho_solve(RX, rhs) if p else np.zeros(0)
        ldRX2 = 2.0 * float(np.log(np.diag(RX)).sum())
        r2 = s.yty - float(S[p, p]) - float(rhs @ beta_c)
        if not r2 > 0:
            raise EstimationError(
                f"penalised residual sum of squares is {r2:.3g} at theta="
                f"{np.round(theta, 6).tolist()}: the model fits the response exactly."
            )
        cvec = np.append(-beta_c, 1.0) @ C  # (2, G)
        c0, c1 = cvec[0], cvec[1]
        Tc0 = t0 * c0 + t1 * c1 if t1 else t0 * c0
        Tc1 = t2 * c1
        u0 = i00 * Tc0 + i01 * Tc1
        u1 = i01 * Tc0 + i11 * Tc1
        self.nevals += 1
        dev = _criterion(ldL2, ldRX2, r2, self.n, self.p, self.reml)
        return {
            "T": T,
            "tz": [[tz00, tz01], [tz10, tz11]],
            "Minv": [[i00, i01], [i01, i11]],
            "P": [[P00, P01], [P01, P11]],
            "cvec": cvec,
            "RX": RX,
            "beta_c": beta_c,
            "u": [u0, u1],
            "r2": r2,
            "ldL2": ldL2,
            "ldRX2": ldRX2,
            "dev": dev,
        }

    def _pieces_grad_q2(self, w: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_pieces_grad` for ``q = 2`` in closed form."""
        p = self.p
        (z00, z01), (_, z11) = self._zz
        C = self._C
        T = w["T"]
        u0, u1 = w["u"]
        (tz00, tz01), (tz10, tz11) = w["tz"]
        (i00, i01), (_, i11) = w["Minv"]
        (P00, P01), (_, P11) = w["P"]
        c0, c1 = w["cvec"][0], w["cvec"][1]
        N00 = 1.0 - z00 * P00 - z01 * P01
        N01 = -(z00 * P01 + z01 * P11)
        N10 = -(z01 * P00 + z11 * P01)
        N11 = 1.0 - z01 * P01 - z11 * P11
        res0 = N00 * c0 + N01 * c1
        res1 = N10 * c0 + N11 * c1
        R = np.array([[res0 @ u0, res0 @ u1], [res1 @ u0, res1 @ u1]])
        Bld = np.array(
            [
                [i00 @ tz00 + i01 @ tz10, i00 @ tz01 + i01 @ tz11],
                [i01 @ tz00 + i11 @ tz10, i01 @ tz01 + i11 @ tz11],
            ]
        )
        r, c = self._rows, self._cols
        d_ld = 2.0 * Bld[c, r]
        d_r2 = -2.0 * R[r, c]
        if p:
            Ainv = _cho_solve(w["RX"], np.eye(p))
            X0, X1 = C[0, :p], C[1, :p]
            AX1 = Ainv @ X1
            K00 = np.einsum("pg,pg->g", X0, Ainv @ X0)
            K01 = np.einsum("pg,pg->g", X0, AX1)
            K11 = np.einsum("pg,pg->g", X1, AX1)
            NK00 = N00 * K00 + N01 * K01
            NK01 = N00 * K01 + N01 * K11
            NK10 = N10 * K00 + N11 * K01
            NK11 = N10 * K01 + N11 * K11
            BAraw = np.array(
                [
                    [NK00 @ N00 + NK01 @ N01, NK00 @ N10 + NK01 @ N11],
                    [NK10 @ N00 + NK11 @ N01, NK10 @ N10 + NK11 @ N11],
                ]
            )
            BA = T.T @ BAraw
            d_rx = -2.0 * BA[c, r]
        else:
            d_rx = np.zeros(self.ntheta)
        return d_ld, d_r2, d_rx

    def moment_start(self) -> np.ndarray | None:
        """A method-of-moments theta to start the optimiser from (None when unusable).

        From the ordinary least-squares fit ``beta_ols`` and each group's least-squares
        random-effect coefficients ``b_j = (Z_j'Z_j)^{-1} Z_j'(y_j - X_j beta_ols)`` (groups
        whose ``Z_j'Z_j`` is singular are left out): ``sigma^2`` is the residual sum of
        squares within groups over its degrees of freedom and the covariance of the
        random effects is ``cov(b_j) - sigma^2 mean((Z_j'Z_j)^{-1})`` (the moment estimator
        of the random-coefficient model, e.g. Swamy 1970, Econometrica 38(2)), restricted
        to the terms' blocks, with eigenvalues floored at ``1e-4 sigma^2``; theta is the
        Cholesky factor of it over ``sigma^2``. Only a starting point: the optimum is the
        minimum of the criterion whatever the start.
        """
        s = self.stats
        if self._partial:
            return None
        q, p = self.q, self.p
        ZtZ = s.ZtZ
        try:
            beta = np.linalg.solve(s.XtX, s.Xty) if p else np.zeros(0)
        except np.linalg.LinAlgError:
            return None
        r = s.Zty - s.ZtX @ beta  # (G, q)
        if q == 1:
            det = ZtZ[:, 0, 0]
            scale = det
        elif q == 2:
            det = ZtZ[:, 0, 0] * ZtZ[:, 1, 1] - ZtZ[:, 0, 1] ** 2
            scale = ZtZ[:, 0, 0] * ZtZ[:, 1, 1]
        else:
            det = np.linalg.det(ZtZ)
            scale = np.prod(np.diagonal(ZtZ, axis1=1, axis2=2), axis=1)
        ok = (scale > 0) & (det > 1e-8 * scale)
        g = int(ok.sum())
        nw = self.n - p - q * g
        if g < q + 2 or nw <= 0:
            return None
        if g < ok.size:
            ZtZ, r, det = ZtZ[ok], r[ok], det[ok]
        if q == 1:
            zi = 1.0 / det
            bh = (r[:, 0] * zi)[:, None]
            zi_mean = np.array([[zi.mean()]])
        elif q == 2:
            rdet = 1.0 / det
            i00, i01, i11 = ZtZ[:, 1, 1] * rdet, -ZtZ[:, 0, 1] * rdet, ZtZ[:, 0, 0] * rdet
            r0, r1 = r[:, 0], r[:, 1]
            bh = np.column_stack([i00 * r0 + i01 * r1, i01 * r0 + i11 * r1])
            m01 = i01.mean()
            zi_mean = np.array([[i00.mean(), m01], [m01, i11.mean()]])
        else:
            Zi = np.linalg.inv(ZtZ)
            bh = np.einsum("gab,gb->ga", Zi, r)
            zi_mean = Zi.mean(axis=0)
        rss = s.yty - float(s.Xty @ beta) - float(np.vdot(r, bh))
        sig2 = rss / nw
        if not (np.isfinite(sig2) and sig2 > 0):
            return None
        bc = bh - bh.mean(axis=0)
        psi = (bc.T @ bc) / (g - 1) - sig2 * zi_mean
        mask = np.zeros((q, q), dtype=bool)
        mask[self._rows, self._cols] = mask[self._cols, self._rows] = True
        rel = np.where(mask, psi / sig2, 0.0)
        if not np.all(np.isfinite(rel)):
            return None
        w, V = np.linalg.eigh(rel)
        rel = np.where(mask, (V * np.maximum(w, 1e-4)) @ V.T, 0.0)
        try:
            L = np.linalg.cholesky(rel)
        except np.linalg.LinAlgError:
            return None
        theta = L[self._rows, self._cols]
        return theta if np.all(np.isfinite(theta)) else None

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Profiled deviance and its analytic gradient at ``theta``."""
        w = self._solve(theta)
        d_ld, d_r2, d_rx = self._pieces_grad(w)
        if self.reml:
            g = d_ld + d_rx + (self.n - self.p) / w["r2"] * d_r2
        else:
            g = d_ld + self.n / w["r2"] * d_r2
        return w["dev"], g

    has_analytic_gradient = True

    def varpar_grad(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        """Gradient of lmerTest's ``devfun_vp`` (see :meth:`varpar_deviance`)."""
        w = self._solve(theta)
        d_ld, d_r2, d_rx = self._pieces_grad(w)
        s2 = sigma * sigma
        g_theta = d_ld + d_r2 / s2 + (d_rx if self.reml else 0.0)
        nn = self.n - (self.p if self.reml else 0)
        g_sigma = -2.0 * w["r2"] / (s2 * sigma) + 2.0 * nn / sigma
        return np.append(g_theta, g_sigma)

    def varpar_deviance(self, theta: np.ndarray, sigma: float) -> float:
        """lmerTest's ``devfun_vp``: the deviance at (theta, sigma), not profiled over sigma."""
        w = self._solve(theta)
        return _varpar_dev(w["ldL2"], w["ldRX2"], w["r2"], sigma, self.n, self.p, self.reml)

    def A_inv(self, theta: np.ndarray) -> np.ndarray:
        """``(X'V^{-1}X)^{-1}`` (``vcov(beta) / sigma^2``) in the original parameterisation."""
        w = self._solve(theta)
        return _A_inv_orig(w["RX"], self.stats.centering)

    def solve(self, theta: np.ndarray, *, conditional_variance: bool = True) -> PlsSolution:
        """Full solution at ``theta`` (beta, r^2, conditional modes and variances)."""
        w = self._solve(theta)
        T = w["T"]
        u = np.column_stack(w["u"])  # (G, q)
        b_all = u @ T.T
        bvar_all = None
        if conditional_variance:
            Minv = np.stack([np.stack(row, axis=-1) for row in w["Minv"]], axis=-2)
            bvar_all = np.matmul(np.matmul(T, Minv), T.T)
        b, b_var = [], ([] if conditional_variance else None)
        off = 0
        for p in self.ncols:
            b.append(b_all[:, off : off + p].copy())
            if bvar_all is not None and b_var is not None:
                b_var.append(bvar_all[:, off : off + p, off : off + p].copy())
            off += p
        return pls_solution(theta, w, self.stats.centering, b, b_var)


# ----------------------------------------------------------------------------------------
# general sparse path
# ----------------------------------------------------------------------------------------


class GeneralDeviance:
    """Profiled deviance for any design (nested, crossed, several factors).

    Parameters
    ----------
    design : Design
    reml : bool
    dense_max : int
        Up to this many random effects ``q``, ``Z'Z`` and ``M`` are dense (LAPACK Cholesky)
        and the gradient is analytic (the formulas of the module docstring with every level
        of a term sharing its theta); above it, ``Z'Z`` is sparse, ``M`` is factored by
        SuperLU in symmetric mode without row pivoting (its pivots are those of ``L L'``)
        and the gradient is by central differences (step 1e-6).

    Notes
    -----
    Reference: lme4 1.1-31 ``devfun(theta)`` (rtol 1e-8).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sleeppain.mixed import build_design
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame({"y": rng.normal(size=60), "a": np.repeat(np.arange(6), 10),
    ...                    "b": np.tile(np.arange(5), 12)})
    >>> dev = GeneralDeviance(build_design("y ~ 1 + (1 | a) + (1 | b)", df), reml=False)
    >>> bool(np.isfinite(dev(np.array([1.0, 1.0]))))
    True
    """

    FD_STEP = 1e-6

    def __init__(self, design: Design, reml: bool, dense_max: int = GENERAL_DENSE_MAX):
        self.design = design
        self.reml = bool(reml)
        cen, Xc, yc = Centering.make(design.X, design.y)
        self.centering = cen
        Z = design.Z()
        self.n = design.n
        self.p = design.p
        self.q = Z.shape[1]
        self.dense = self.q <= dense_max
        ZtZ = (Z.T @ Z).tocsc()
        self.ZtZ = ZtZ.toarray() if self.dense else ZtZ
        self.ZtX = np.asarray(Z.T @ Xc)
        self.Zty = np.asarray(Z.T @ yc).ravel()
        self.XtX = Xc.T @ Xc
        self.Xty = Xc.T @ yc
        self.yty = float(yc @ yc)
        rows, cols, kidx = [], [], []
        off = 0
        k0 = 0
        self.ncols = tuple(t.ncols for t in design.terms)
        for t in design.terms:
            p = t.ncols
            base = off + np.arange(t.nlevels) * p
            k = k0
            for c in range(p):
                for r in range(c, p):
                    rows.append(base + r)
                    cols.append(base + c)
                    kidx.append(np.full(t.nlevels, k))
                    k += 1
            k0 = k
            off += t.nlevels * p
        self._lrows = np.concatenate(rows)
        self._lcols = np.concatenate(cols)
        self._lk = np.concatenate(kidx)
        self.ntheta = k0
        self.lower = design.theta_lower
        self.nevals = 0

    @property
    def has_analytic_gradient(self) -> bool:
        """True in dense mode."""
        return self.dense

    def Lambda(self, theta: np.ndarray) -> sparse.csc_matrix:
        """The sparse relative covariance factor Lambda(theta) (q x q, lower triangular)."""
        return sparse.csc_matrix(
            (np.asarray(theta, dtype=float)[self._lk], (self._lrows, self._lcols)),
            shape=(self.q, self.q),
        )

    def _check(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.ntheta,):
            raise ValueError(f"theta must have length {self.ntheta}, got shape {theta.shape}")
        return theta

    def _solve(self, theta: np.ndarray) -> dict[str, Any]:
        theta = self._check(theta)
        if self.dense:
            Lam = np.zeros((self.q, self.q))
            Lam[self._lrows, self._lcols] = theta[self._lk]
            LtZtZ = Lam.T @ self.ZtZ
            M = LtZtZ @ Lam
            M[np.diag_indices_from(M)] += 1.0
            cf = sla.cho_factor(M, lower=True)
            ldL2 = 2.0 * float(np.log(np.diag(cf[0])).sum())

            def msolve(b: np.ndarray) -> np.ndarray:
                return sla.cho_solve(cf, b)

        else:
            Lam = self.Lambda(theta)
            LtZtZ = None
            M = (Lam.T @ self.ZtZ @ Lam + sparse.identity(self.q, format="csc")).tocsc()
            lu = spla.splu(
                M,
                permc_spec="MMD_AT_PLUS_A",
                diag_pivot_thresh=0.0,
                options={"SymmetricMode": True},
            )
            ldL2 = float(np.log(np.abs(lu.U.diagonal())).sum())
            msolve = lu.solve
        v = Lam.T @ self.Zty
        Vx = np.asarray(Lam.T @ self.ZtX)
        sol = msolve(np.column_stack([v, Vx]))
        Minvv, MinvVx = sol[:, 0], sol[:, 1:]
        A = self.XtX - Vx.T @ MinvVx
        rhs = self.Xty - Vx.T @ Minvv
        RX = _chol_A(A, theta)
        beta_c = sla.cho_solve((RX, True), rhs) if self.p else np.zeros(0)
        ldRX2 = 2.0 * float(np.log(np.diag(RX)).sum())
        r2 = self.yty - float(v @ Minvv) - float(rhs @ beta_c)
        if not r2 > 0:
            raise EstimationError(
                f"penalised residual sum of squares is {r2:.3g} at theta="
                f"{np.round(theta, 6).tolist()}: the model fits the response exactly."
            )
        u = Minvv - MinvVx @ beta_c
        self.nevals += 1
        dev = _criterion(ldL2, ldRX2, r2, self.n, self.p, self.reml)
        return {
            "Lam": Lam,
            "LtZtZ": LtZtZ,
            "msolve": msolve,
            "MinvVx": MinvVx,
            "RX": RX,
            "beta_c": beta_c,
            "u": u,
            "r2": r2,
            "ldL2": ldL2,
            "ldRX2": ldRX2,
            "dev": dev,
        }

    def __call__(self, theta: np.ndarray) -> float:
        """Profiled deviance (REML criterion or -2 logLik) at ``theta``."""
        return self._solve(theta)["dev"]

    def _pieces_grad(self, w: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dense mode: gradients of log|L|^2, r^2 and log|R_X|^2 (sums over each pattern)."""
        Lam, LtZtZ, u, beta_c = w["Lam"], w["LtZtZ"], w["u"], w["beta_c"]
        r, c, k, nt = self._lrows, self._lcols, self._lk, self.ntheta
        res = self.Zty - self.ZtX @ beta_c - self.ZtZ @ (Lam @ u)
        d_r2 = -2.0 * np.bincount(k, weights=res[r] * u[c], minlength=nt)
        Bld = w["msolve"](LtZtZ)
        d_ld = 2.0 * np.bincount(k, weights=Bld[c, r], minlength=nt)
        if self.p:
            W = self.ZtX - LtZtZ.T @ w["MinvVx"]
            Ainv = sla.cho_solve((w["RX"], True), np.eye(self.p))
            BA = Lam.T @ (W @ Ainv @ W.T)
            d_rx = -2.0 * np.bincount(k, weights=BA[c, r], minlength=nt)
        else:
            d_rx = np.zeros(nt)
        return d_ld, d_r2, d_rx

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Deviance and its gradient (analytic in dense mode, central differences else)."""
        theta = self._check(theta)
        if self.dense:
            w = self._solve(theta)
            d_ld, d_r2, d_rx = self._pieces_grad(w)
            if self.reml:
                return w["dev"], d_ld + d_rx + (self.n - self.p) / w["r2"] * d_r2
            return w["dev"], d_ld + self.n / w["r2"] * d_r2
        f = self(theta)
        g = np.empty(self.ntheta)
        for i in range(self.ntheta):
            h = self.FD_STEP * max(1.0, abs(theta[i]))
            e = np.zeros(self.ntheta)
            e[i] = h
            g[i] = (self(theta + e) - self(theta - e)) / (2 * h)
        return f, g

    def varpar_deviance(self, theta: np.ndarray, sigma: float) -> float:
        """lmerTest's ``devfun_vp``: the deviance at (theta, sigma), not profiled over sigma."""
        w = self._solve(theta)
        return _varpar_dev(w["ldL2"], w["ldRX2"], w["r2"], sigma, self.n, self.p, self.reml)

    def varpar_grad(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        """Gradient of :meth:`varpar_deviance` (dense mode only)."""
        if not self.dense:
            raise NotImplementedError("analytic gradient only in dense mode")
        w = self._solve(theta)
        d_ld, d_r2, d_rx = self._pieces_grad(w)
        s2 = sigma * sigma
        g_theta = d_ld + d_r2 / s2 + (d_rx if self.reml else 0.0)
        nn = self.n - (self.p if self.reml else 0)
        return np.append(g_theta, -2.0 * w["r2"] / (s2 * sigma) + 2.0 * nn / sigma)

    def A_inv(self, theta: np.ndarray) -> np.ndarray:
        """``(X'V^{-1}X)^{-1}`` in the original parameterisation."""
        return _A_inv_orig(self._solve(theta)["RX"], self.centering)

    def solve(self, theta: np.ndarray, *, conditional_variance: bool = True) -> PlsSolution:
        """Full solution at ``theta``; conditional variances need ``q`` solves (q <= 20000)."""
        w = self._solve(theta)
        Lam = w["Lam"]
        bfull = Lam @ w["u"]
        b: list[np.ndarray] = []
        b_var: list[np.ndarray] | None = [] if conditional_variance and self.q <= 20000 else None
        Lcsr = sparse.csr_matrix(Lam)
        off = 0
        for t in self.design.terms:
            p, L = t.ncols, t.nlevels
            b.append(np.asarray(bfull[off : off + L * p]).reshape(L, p))
            if b_var is not None:
                # block-diagonal part of Lambda M^{-1} Lambda' for this term
                Lr = Lcsr[off : off + L * p, :]
                prod = np.asarray(Lr @ w["msolve"](Lr.T.toarray()))  # Lp x Lp
                b_var.append(diagonal_blocks(prod, np.arange(L) * p, p))
            off += L * p
        return pls_solution(theta, w, self.centering, b, b_var)


def deviance_from_design(design: Design, *, reml: bool = True, method: str = "auto") -> Any:
    """The profiled-deviance evaluator for a design (stages 3 and 4).

    Parameters
    ----------
    design : Design
    reml : bool
        REML criterion (default) or -2 log-likelihood.
    method : {"auto", "block", "general", "schur"}
        ``"auto"``: :class:`BlockDeviance` when every term has the same grouping factor;
        otherwise :class:`GeneralDeviance` (dense, analytic gradient) up to 300 random
        effects and :class:`~sleeppain.mixed.schur.SchurDeviance` above. ``"general"``
        forces :class:`GeneralDeviance` (dense or sparse by size), ``"schur"`` the Schur
        evaluator (two or more terms).

    Returns
    -------
    BlockDeviance, GeneralDeviance or SchurDeviance
        Callable ``theta -> float``, with ``value_and_grad``, ``solve``, ``lower``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sleeppain.mixed import build_design
    >>> df = pd.DataFrame({"y": [1., 3, 2, 5, 4, 7, 6, 9], "g": list("aabbccdd")})
    >>> d = build_design("y ~ 1 + (1 | g)", df)
    >>> a = deviance_from_design(d, method="block")(np.array([0.7]))
    >>> b = deviance_from_design(d, method="general")(np.array([0.7]))
    >>> bool(abs(a - b) < 1e-10)
    True
    """
    if method not in ("auto", "block", "general", "schur"):
        raise ValueError(f"method must be 'auto', 'block', 'general' or 'schur', got {method!r}")
    if method == "schur" or (
        method == "auto" and not design.single_factor and design.q > GENERAL_DENSE_MAX
    ):
        return SchurDeviance(design, reml)
    if method == "general" or (method == "auto" and not design.single_factor):
        return GeneralDeviance(design, reml, dense_max=GENERAL_DENSE_MAX)
    if not design.single_factor:
        raise ValueError("method='block' needs every term to have the same grouping factor")
    first = design.terms[0]
    Zc = first.Xi if len(design.terms) == 1 else np.column_stack([t.Xi for t in design.terms])
    stats = block_stats(Zc, first.codes, first.nlevels, design.X, design.y)
    return BlockDeviance(stats, [t.ncols for t in design.terms], reml)
