"""Penalised iteratively re-weighted least squares (PIRLS), Laplace and adaptive Gauss-Hermite.

The numerical core behind :func:`sleeppain.glmm` and :func:`sleeppain.clmm`: pure functions
of arrays, following Bates, Maechler, Bolker & Walker (2015, J Stat Softw 67(1), section 5
"generalized linear mixed models") and the MixedModels.jl documentation
("GeneralizedLinearMixedModel": ``pirls!``, ``deviance(m, nAGQ)``).

With spherical random effects ``u`` (``b = Lambda(theta) u``, ``u ~ N(0, I)``) and linear
predictor ``eta = offset + X beta + Z Lambda u``, PIRLS finds the conditional mode

    u_hat = argmax_u  sum_i log p(y_i | eta_i) - ||u||^2 / 2

by Fisher scoring (Newton for canonical links), and the Laplace approximation to
``-2 log L(theta, beta)`` is

    -2 sum_i log p(y_i | eta_hat_i) + ||u_hat||^2 + log det(Lambda' Z' W Z Lambda + I),

with ``W`` the working weights at the mode, exactly lme4's ``devfun`` for ``nAGQ = 1``
(lme4's ``glmResp::Laplace``: ``ldL2 + sqrL + aic``). For one scalar random-effect term,
adaptive Gauss-Hermite quadrature (``nagq > 1``) integrates each group's likelihood on
``nagq`` nodes centred at the mode and scaled by the conditional standard deviation.

Two evaluators share one interface (a *conditional model* giving, for a linear predictor,
the log density, its derivative and the working weight of each observation):

* :class:`BlockProblem` -- every random-effect term has the same grouping factor, so the
  system is block diagonal with one ``k x k`` block per group; each PIRLS step is a few
  ``bincount`` passes over the rows and a batched ``k x k`` Cholesky (cost linear in rows);
* :class:`SparseProblem` -- crossed or nested factors: sparse ``Z``, sparse LU of the
  ``q x q`` system.

Examples
--------
>>> import numpy as np
>>> from sleeppain.mixed.pirls import GlmFamily, BlockProblem, laplace
>>> rng = np.random.default_rng(1)
>>> codes = np.repeat(np.arange(20), 10)
>>> X = np.column_stack([np.ones(200), rng.normal(size=200)])
>>> y = rng.binomial(1, 0.4, size=200).astype(float)
>>> prob = BlockProblem(X=X, Zi=np.ones((200, 1)), codes=codes, ngroups=20,
...                     term_ncols=(1,), cond=GlmFamily("binomial").bind(y))
>>> st = laplace(prob, np.array([0.5]), np.array([-0.4, 0.0]))
>>> bool(st.converged), st.objective > 0
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as spla
from scipy.special import expit, gammaln

from sleeppain.errors import SpecificationError

__all__ = [
    "BlockProblem",
    "BoundGlm",
    "ConditionalModel",
    "GlmFamily",
    "PirlsState",
    "SparseProblem",
    "agq",
    "gh_rule",
    "lambda_block",
    "laplace",
    "laplace_gradient",
    "pirls",
]

#: PIRLS stops when the largest Newton increment of ``u`` is below this (the objective's
#: error is then of the order of its square, far below the 1e-6 deviance tolerance).
PIRLS_TOL = 1e-10
#: Maximal PIRLS iterations (lme4's ``maxit`` is 100 as well).
PIRLS_MAXIT = 100
#: Maximal step halvings within one PIRLS iteration (lme4: 10 halvings, then fail).
MAX_HALVINGS = 30


def _softplus(eta: np.ndarray) -> np.ndarray:
    """``log(1 + exp(eta))`` without overflow (faster than ``np.logaddexp(0, eta)``)."""
    out = np.maximum(eta, 0.0)
    out += np.log1p(np.exp(-np.abs(eta)))
    return out


# ---------------------------------------------------------------------------------------
# conditional models (families)
# ---------------------------------------------------------------------------------------


class ConditionalModel(Protocol):
    """What PIRLS needs from the distribution of ``y`` given the linear predictor."""

    def evaluate(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-observation log density, its derivative in ``eta`` and the working weight."""
        ...

    def loglik(self, eta: np.ndarray) -> np.ndarray:
        """Per-observation log density (the cheap part of :meth:`evaluate`)."""
        ...


_FAMILIES = ("binomial", "poisson", "negative_binomial")


@dataclass(frozen=True)
class GlmFamily:
    """A GLM family with its canonical-for-lme4 link.

    ``binomial`` (logit), ``poisson`` (log) and ``negative_binomial`` (log, with ``size``
    k, variance ``mu + mu^2 / k``: MASS's ``negative.binomial(theta = k)``). Working weights
    are Fisher's, ``(dmu/deta)^2 / Var(y)``, as lme4's ``glmResp::sqrtWrkWt``.

    Examples
    --------
    >>> fam = GlmFamily("poisson")
    >>> fam.link, fam.linkinv(np.array([0.0])).tolist()
    ('log', [1.0])
    """

    name: str
    size: float = np.inf

    def __post_init__(self) -> None:
        if self.name not in _FAMILIES:
            raise SpecificationError(
                f"family={self.name!r} is not supported; use one of {', '.join(_FAMILIES)}."
            )

    @property
    def link(self) -> str:
        """Name of the link function."""
        return "logit" if self.name == "binomial" else "log"

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """Mean (per trial for the binomial) from the linear predictor."""
        eta = np.asarray(eta, dtype=float)
        return expit(eta) if self.name == "binomial" else np.exp(eta)

    def bind(
        self, y: np.ndarray, trials: np.ndarray | None = None, weights: np.ndarray | None = None
    ) -> BoundGlm:
        """Attach the response (successes for the binomial), trials and prior weights."""
        y = np.asarray(y, dtype=float)
        m = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
        w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
        return BoundGlm(family=self, y=y, m=m, w=w)


@dataclass(frozen=True, eq=False)
class BoundGlm:
    """A :class:`GlmFamily` with its data: ``y`` (successes), trials ``m``, weights ``w``."""

    family: GlmFamily
    y: np.ndarray
    m: np.ndarray
    w: np.ndarray
    _const: dict = field(default_factory=dict, repr=False)

    def _constant(self) -> np.ndarray:
        """The part of the log density free of ``eta`` (log binomial coefficient etc.)."""
        if "c" not in self._const:
            y, m = self.y, self.m
            name = self.family.name
            if name == "binomial":
                c = gammaln(m + 1) - gammaln(y + 1) - gammaln(m - y + 1)
            elif name == "poisson":
                c = -gammaln(y + 1)
            else:
                k = self.family.size
                c = gammaln(y + k) - gammaln(k) - gammaln(y + 1)
            self._const["c"] = c
        return self._const["c"]

    def _finish(self, ll: np.ndarray) -> np.ndarray:
        """Add the constant and apply the prior weights (skipped when trivial)."""
        if "trivial" not in self._const:
            c = self._constant()
            self._const["zero_c"] = not np.any(c)
            self._const["unit_w"] = bool(np.all(self.w == 1.0))
            self._const["trivial"] = True
        if not self._const["zero_c"]:
            ll += self._constant()
        if not self._const["unit_w"]:
            ll *= self.w
        return ll

    def loglik(self, eta: np.ndarray) -> np.ndarray:
        """Per-observation log density (times the prior weight)."""
        y, m = self.y, self.m
        name = self.family.name
        if name == "binomial":
            ll = y * eta - (_softplus(eta) if self._unit_m else m * _softplus(eta))
        elif name == "poisson":
            ll = y * eta - np.exp(eta)
        else:
            k = self.family.size
            ll = y * eta + k * np.log(k) - (y + k) * np.logaddexp(np.log(k), eta)
        return self._finish(ll)

    @property
    def _unit_m(self) -> bool:
        if "unit_m" not in self._const:
            self._const["unit_m"] = bool(np.all(self.m == 1.0))
        return self._const["unit_m"]

    def evaluate(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log density, score ``d loglik / d eta`` and Fisher working weight per row."""
        y, m, w = self.y, self.m, self.w
        name = self.family.name
        if name == "binomial":
            mu = expit(eta)
            if self._unit_m:
                ll = y * eta - _softplus(eta)
                score = y - mu
                wt = mu * (1.0 - mu)
            else:
                ll = y * eta - m * _softplus(eta)
                score = y - m * mu
                wt = m * mu * (1.0 - mu)
        elif name == "poisson":
            mu = np.exp(eta)
            ll = y * eta - mu
            score = y - mu
            wt = mu
        else:
            k = self.family.size
            mu = np.exp(eta)
            ll = y * eta + k * np.log(k) - (y + k) * np.logaddexp(np.log(k), eta)
            score = k * (y - mu) / (k + mu)
            wt = k * mu / (k + mu)
        ll = self._finish(ll)
        if self._const["unit_w"]:
            return ll, score, wt
        return ll, w * score, w * wt

    @property
    def canonical(self) -> bool:
        """True for canonical links (observed = Fisher information; analytic gradient)."""
        return self.family.name in ("binomial", "poisson")

    def dweight(self, eta: np.ndarray) -> np.ndarray:
        """Derivative of the working weight in ``eta`` (canonical links)."""
        if self.family.name == "binomial":
            mu = expit(eta)
            return self.w * self.m * mu * (1.0 - mu) * (1.0 - 2.0 * mu)
        if self.family.name == "poisson":
            return self.w * np.exp(eta)
        raise SpecificationError("dweight is defined for the canonical families only.")

    def saturated_loglik(self) -> np.ndarray:
        """Per-row log density at ``mu = y`` (lme4's deviance residuals are relative to it)."""
        y, m = self.y, self.m
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.clip(y / np.where(m > 0, m, 1.0), 1e-300, 1 - 1e-16)
            if self.family.name == "binomial":
                ll = np.where(y > 0, y * np.log(p), 0.0) + np.where(
                    m - y > 0, (m - y) * np.log1p(-p), 0.0
                )
            else:
                eta = np.log(np.where(y > 0, y, 1.0))
                if self.family.name == "poisson":
                    ll = np.where(y > 0, y * eta - y, 0.0)
                else:
                    k = self.family.size
                    ll = np.where(
                        y > 0,
                        y * eta + k * np.log(k) - (y + k) * np.logaddexp(np.log(k), eta),
                        0.0,
                    )
        return self.w * (ll + self._constant())


# ---------------------------------------------------------------------------------------
# relative covariance factor
# ---------------------------------------------------------------------------------------


def lambda_block(theta: np.ndarray, term_ncols: tuple[int, ...]) -> np.ndarray:
    """Block-diagonal ``Lambda`` (k x k) of one group from theta (lme4 order).

    Each term fills the lower triangle of its block column by column.

    Examples
    --------
    >>> lambda_block(np.array([1.0, 0.5, 2.0, 3.0]), (2, 1))
    array([[1. , 0. , 0. ],
           [0.5, 2. , 0. ],
           [0. , 0. , 3. ]])
    """
    k = int(sum(term_ncols))
    lam = np.zeros((k, k))
    pos = 0
    off = 0
    for p in term_ncols:
        for c in range(p):
            for r in range(c, p):
                lam[off + r, off + c] = theta[pos]
                pos += 1
        off += p
    return lam


# ---------------------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BlockProblem:
    """A GLMM whose random-effect terms all share one grouping factor.

    Attributes
    ----------
    X : ndarray (n, p)
        Fixed-effects model matrix.
    Zi : ndarray (n, k)
        The terms' raw model matrices side by side (k random effects per group).
    codes : ndarray of intp (n,)
        Group of each row (0..ngroups-1).
    ngroups : int
    term_ncols : tuple of int
        Columns of each term within ``Zi`` (defines the block-diagonal ``Lambda``).
    cond : ConditionalModel
        Distribution of ``y`` given ``eta``.
    offset : ndarray (n,) or None
    """

    X: np.ndarray
    Zi: np.ndarray
    codes: np.ndarray
    ngroups: int
    term_ncols: tuple[int, ...]
    cond: ConditionalModel
    offset: np.ndarray | None = None

    @property
    def k(self) -> int:
        """Random effects per group."""
        return self.Zi.shape[1]

    @property
    def q(self) -> int:
        """Total number of random effects."""
        return self.k * self.ngroups

    def fixed_eta(self, beta: np.ndarray) -> np.ndarray:
        """``offset + X beta``."""
        out = self.X @ beta if self.X.shape[1] else np.zeros(self.Zi.shape[0])
        return out if self.offset is None else out + self.offset

    @property
    def _runs(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(starts, counts)`` when the rows come sorted by group (each group one run)."""
        if "_runs_cache" not in self.__dict__:
            codes = self.codes
            runs = None
            if codes.size and bool(np.all(codes[1:] >= codes[:-1])):
                starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
                if starts.size == self.ngroups and codes[0] == 0:
                    runs = (starts, np.diff(np.r_[starts, codes.size]))
            object.__setattr__(self, "_runs_cache", runs)
        return self.__dict__["_runs_cache"]

    def _gsum(self, v: np.ndarray) -> np.ndarray:
        """Per-group sums (``reduceat`` on sorted rows, else ``bincount``)."""
        runs = self._runs
        if runs is not None:
            return np.add.reduceat(v, runs[0])
        return np.bincount(self.codes, weights=v, minlength=self.ngroups)

    def _gather(self, v: np.ndarray) -> np.ndarray:
        """Each row's value of a per-group vector (``repeat`` on sorted rows)."""
        runs = self._runs
        if runs is not None:
            return np.repeat(v, runs[1])
        return v[self.codes]

    @property
    def _cols(self) -> list[np.ndarray | None]:
        """Columns of ``Zi`` (None for a column of ones, which needs no multiplication)."""
        cache = self.__dict__.setdefault("_col_cache", None)
        if cache is None:
            cache = [
                None if np.all(self.Zi[:, j] == 1.0) else np.ascontiguousarray(self.Zi[:, j])
                for j in range(self.k)
            ]
            object.__setattr__(self, "_col_cache", cache)
        return cache

    def _zmul(self, j: int, v: np.ndarray) -> np.ndarray:
        c = self._cols[j]
        return v if c is None else c * v

    def group_moments(self, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-group ``sum z_r s_r`` (G, k) and ``sum w_r z_r z_r'`` (G, k, k)."""
        k = self.k
        zs = np.empty((self.ngroups, k))
        M = np.empty((self.ngroups, k, k))
        for a in range(k):
            zs[:, a] = self._gsum(self._zmul(a, s))
            wa = self._zmul(a, w)
            for b in range(a + 1):
                M[:, a, b] = self._gsum(self._zmul(b, wa))
                M[:, b, a] = M[:, a, b]
        return zs, M

    def step_parts(
        self, theta: np.ndarray, base: np.ndarray, u: np.ndarray, cond: ConditionalModel
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """At ``u`` (G, k): sum of log densities, gradient (G, k), Hessian (G, k, k), eta.

        With ``a_r = Lambda' z_r``: gradient ``Lambda' sum z_r s_r - u`` and Hessian
        ``I + Lambda' (sum w_r z_r z_r') Lambda`` of each group, from ``k (k + 3) / 2``
        weighted ``bincount`` passes over the rows.
        """
        lam = lambda_block(theta, self.term_ncols)
        eta = self.eta_at(theta, base, u, lam)
        ll, s, w = cond.evaluate(eta)
        zs, M = self.group_moments(s, w)
        grad = zs @ lam - u
        H = (lam.T @ M @ lam) + np.eye(self.k)
        return float(ll.sum()), grad, H, eta

    def eta_at(
        self,
        theta: np.ndarray,
        base: np.ndarray,
        u: np.ndarray,
        lam: np.ndarray | None = None,
    ) -> np.ndarray:
        """Linear predictor at spherical effects ``u`` (G, k)."""
        lam = lambda_block(theta, self.term_ncols) if lam is None else lam
        b = np.asarray(u).reshape(self.ngroups, self.k) @ lam.T
        eta = base.copy()
        for j in range(self.k):
            eta += self._zmul(j, self._gather(b[:, j]))
        return eta

    def b_from_u(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Random effects on the data scale, ``b = Lambda u`` (G, k)."""
        return u @ lambda_block(theta, self.term_ncols).T


@dataclass(frozen=True, eq=False)
class SparseProblem:
    """A GLMM with crossed or nested grouping factors (sparse ``Z``, any design).

    ``Z`` is lme4's (n x q) random-effects matrix (terms in lme4 order, level-major columns
    within a term); ``terms`` gives ``(nlevels, ncols)`` of each term.
    """

    X: np.ndarray
    Z: sparse.csc_matrix
    terms: tuple[tuple[int, int], ...]
    cond: ConditionalModel
    offset: np.ndarray | None = None

    @property
    def q(self) -> int:
        """Total number of random effects."""
        return self.Z.shape[1]

    def fixed_eta(self, beta: np.ndarray) -> np.ndarray:
        """``offset + X beta``."""
        out = self.X @ beta if self.X.shape[1] else np.zeros(self.Z.shape[0])
        return out if self.offset is None else out + self.offset

    def lam(self, theta: np.ndarray) -> sparse.csc_matrix:
        """Sparse ``Lambda(theta)`` (q x q)."""
        blocks = []
        pos = 0
        for nl, p in self.terms:
            nt = p * (p + 1) // 2
            lt = lambda_block(theta[pos : pos + nt], (p,))
            pos += nt
            blocks.append(sparse.kron(sparse.identity(nl, format="csc"), sparse.csc_matrix(lt)))
        return sparse.block_diag(blocks, format="csc")


Problem = BlockProblem | SparseProblem


@dataclass(frozen=True)
class PirlsState:
    """PIRLS at convergence (or where it stopped) for one ``(theta, beta)``.

    Attributes
    ----------
    u : ndarray
        Spherical conditional modes ((G, k) for a block problem, (q,) for a sparse one).
    eta : ndarray (n,)
        Linear predictor at the modes.
    loglik : float
        ``sum_i log p(y_i | eta_i)``.
    logdet : float
        ``log det(Lambda' Z' W Z Lambda + I)`` at the modes.
    objective : float
        Laplace ``-2 log L`` (or the adaptive Gauss-Hermite value, see :func:`agq`).
    iterations : int
    converged : bool
    max_step : float
        Largest Newton increment of ``u`` at the last iteration.
    halvings : int
        Step halvings used over all iterations.
    """

    u: np.ndarray
    eta: np.ndarray
    loglik: float
    logdet: float
    objective: float
    iterations: int
    converged: bool
    max_step: float
    halvings: int
    H: np.ndarray | None = None
    rows: dict | None = field(default=None, repr=False, compare=False)


def _batched_chol_solve(H: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``H_i x_i = g_i`` for stacked SPD blocks; also return ``log det H_i``."""
    if H.shape[1] == 1:
        return g / H[:, :, 0], np.log(H[:, 0, 0])
    if H.shape[1] == 2:  # closed form (H = I + PSD, so det >= 1 > 0)
        a, b, d = H[:, 0, 0], H[:, 1, 0], H[:, 1, 1]
        det = a * d - b * b
        x = np.empty_like(g)
        x[:, 0] = (d * g[:, 0] - b * g[:, 1]) / det
        x[:, 1] = (a * g[:, 1] - b * g[:, 0]) / det
        return x, np.log(det)
    L = np.linalg.cholesky(H)
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    x = np.linalg.solve(H, g[..., None])[..., 0]
    return x, logdet


def pirls(
    problem: Problem,
    theta: np.ndarray,
    beta: np.ndarray,
    u0: np.ndarray | None = None,
    *,
    tol: float = PIRLS_TOL,
    maxit: int = PIRLS_MAXIT,
    cond: ConditionalModel | None = None,
) -> PirlsState:
    """Conditional modes of the spherical random effects at ``(theta, beta)`` (PIRLS).

    Newton (Fisher scoring) on ``sum log p(y | eta) - ||u||^2/2`` with step halving, from
    ``u0`` (zeros by default); lme4's ``pwrssUpdate`` with ``beta`` held fixed.

    Parameters
    ----------
    problem : BlockProblem or SparseProblem
    theta, beta : ndarray
    u0 : ndarray, optional
        Starting modes (warm start).
    tol, maxit : float, int
        Stop when the largest increment is below ``tol``; give up after ``maxit``.
    cond : ConditionalModel, optional
        Overrides ``problem.cond`` (used by :mod:`sleeppain.mixed.ordinal`).

    Returns
    -------
    PirlsState
    """
    cond = problem.cond if cond is None else cond
    theta = np.asarray(theta, dtype=float)
    base = problem.fixed_eta(np.asarray(beta, dtype=float))
    if isinstance(problem, BlockProblem):
        return _pirls_block(problem, theta, base, u0, tol, maxit, cond)
    return _pirls_sparse(problem, theta, base, u0, tol, maxit, cond)


def _pirls_block(
    problem: BlockProblem,
    theta: np.ndarray,
    base: np.ndarray,
    u0: np.ndarray | None,
    tol: float,
    maxit: int,
    cond: ConditionalModel,
) -> PirlsState:
    G, k = problem.ngroups, problem.k
    u = np.zeros((G, k)) if u0 is None else np.array(u0, dtype=float).reshape(G, k)
    lam = lambda_block(theta, problem.term_ncols)
    eye = np.eye(k)

    last: dict = {}

    def moments(u: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zs, M = problem.group_moments(s, w)
        last.update(s=s, w=w, zs=zs, M=M, cond=cond)
        return zs @ lam - u, (lam.T @ M @ lam) + eye

    eta = problem.eta_at(theta, base, u, lam)
    llv, s, w = cond.evaluate(eta)
    ll = float(llv.sum())
    grad, H = moments(u, s, w)
    obj = ll - 0.5 * float(np.sum(u * u))
    halvings = 0
    max_step = np.inf
    converged = False
    it = 0
    logdets = np.zeros(G)
    for it in range(1, maxit + 1):  # noqa: B007
        delta, logdets = _batched_chol_solve(H, grad)
        max_step = float(np.max(np.abs(delta))) if delta.size else 0.0
        if not np.isfinite(max_step):
            break
        if max_step < tol:
            converged = True
            break
        step = 1.0
        for _ in range(MAX_HALVINGS):
            u_new = u + step * delta
            eta_new = problem.eta_at(theta, base, u_new, lam)
            llv, s, w = cond.evaluate(eta_new)
            ll_new = float(llv.sum())
            obj_new = ll_new - 0.5 * float(np.sum(u_new * u_new))
            if np.isfinite(obj_new) and obj_new >= obj - 1e-10 * (1.0 + abs(obj)):
                break
            step *= 0.5
            halvings += 1
        else:
            break
        u, eta, ll, obj = u_new, eta_new, ll_new, obj_new
        grad, H = moments(u, s, w)
    if not converged:
        _, logdets = _batched_chol_solve(H, grad)
    logdet = float(logdets.sum())
    sqru = float(np.sum(u * u))
    return PirlsState(
        u=u,
        eta=eta,
        loglik=ll,
        logdet=logdet,
        objective=-2.0 * ll + sqru + logdet,
        iterations=it,
        converged=converged,
        max_step=max_step,
        halvings=halvings,
        H=H,
        rows=last,
    )


def _sparse_logdet_solve(H: sparse.csc_matrix, g: np.ndarray) -> tuple[np.ndarray, float]:
    lu = spla.splu(H.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0)
    x = lu.solve(g)
    logdet = float(np.sum(np.log(np.abs(lu.U.diagonal()))))
    return x, logdet


def _pirls_sparse(
    problem: SparseProblem,
    theta: np.ndarray,
    base: np.ndarray,
    u0: np.ndarray | None,
    tol: float,
    maxit: int,
    cond: ConditionalModel,
) -> PirlsState:
    q = problem.q
    ZL = (problem.Z @ problem.lam(theta)).tocsc()
    eye = sparse.identity(q, format="csc")
    u = np.zeros(q) if u0 is None else np.array(u0, dtype=float).ravel()

    def parts(u: np.ndarray) -> tuple[float, np.ndarray, sparse.csc_matrix, np.ndarray]:
        eta = base + ZL @ u
        ll, s, w = cond.evaluate(eta)
        grad = ZL.T @ s - u
        H = (ZL.T @ sparse.diags(w) @ ZL + eye).tocsc()
        return float(ll.sum()), grad, H, eta

    ll, grad, H, eta = parts(u)
    obj = ll - 0.5 * float(u @ u)
    halvings, max_step, converged, it = 0, np.inf, False, 0
    for it in range(1, maxit + 1):  # noqa: B007
        delta, _ = _sparse_logdet_solve(H, grad)
        max_step = float(np.max(np.abs(delta)))
        if not np.isfinite(max_step):
            break
        if max_step < tol:
            converged = True
            break
        step = 1.0
        for _ in range(MAX_HALVINGS):
            u_new = u + step * delta
            ll_new = float(cond.loglik(base + ZL @ u_new).sum())
            obj_new = ll_new - 0.5 * float(u_new @ u_new)
            if np.isfinite(obj_new) and obj_new >= obj - 1e-10 * (1.0 + abs(obj)):
                break
            step *= 0.5
            halvings += 1
        else:
            break
        u = u_new
        ll, grad, H, eta = parts(u)
        obj = ll - 0.5 * float(u @ u)
    _, logdet = _sparse_logdet_solve(H, grad)
    return PirlsState(
        u=u,
        eta=eta,
        loglik=ll,
        logdet=logdet,
        objective=-2.0 * ll + float(u @ u) + logdet,
        iterations=it,
        converged=converged,
        max_step=max_step,
        halvings=halvings,
    )


def laplace(
    problem: Problem,
    theta: np.ndarray,
    beta: np.ndarray,
    u0: np.ndarray | None = None,
    **kwargs: object,
) -> PirlsState:
    """Laplace approximation to ``-2 log L(theta, beta)`` (lme4's ``nAGQ = 1`` devfun).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((40, 1)); codes = np.repeat(np.arange(8), 5)
    >>> y = np.tile([0., 1., 2., 0., 3.], 8)
    >>> prob = BlockProblem(X, np.ones((40, 1)), codes, 8, (1,), GlmFamily("poisson").bind(y))
    >>> from scipy.stats import poisson
    >>> dev = laplace(prob, np.array([0.0]), np.array([np.log(1.2)])).objective
    >>> bool(np.isclose(dev, -2 * poisson.logpmf(y, 1.2).sum()))  # theta = 0: a plain GLM
    True
    """
    return pirls(problem, theta, beta, u0, **kwargs)  # type: ignore[arg-type]


def gh_rule(nagq: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for the weight ``exp(-z^2 / 2)`` (lme4's ``GHrule``).

    Examples
    --------
    >>> z, w = gh_rule(3)
    >>> np.round(z, 6).tolist(), round(float(w.sum()), 6) == round(float(np.sqrt(2 * np.pi)), 6)
    ([-1.732051, 0.0, 1.732051], True)
    """
    z, w = np.polynomial.hermite_e.hermegauss(int(nagq))
    return z, w


def agq(
    problem: BlockProblem,
    theta: np.ndarray,
    beta: np.ndarray,
    nagq: int,
    u0: np.ndarray | None = None,
    state: PirlsState | None = None,
) -> tuple[float, PirlsState]:
    """Adaptive Gauss-Hermite ``-2 log L`` for one scalar random-effect term.

    Each group's integral ``int prod_j p(y_j | u) phi(u) du`` is evaluated on ``nagq``
    nodes ``u_hat + z sqrt(1 / H)`` (``H`` the group's curvature at the mode), as lme4's
    ``glmerAGQ``. The value is the full ``-2 log L``, comparable with the Laplace value
    (lme4 reports its deviance-residual version, which is smaller by
    ``-2 sum log p(y | mu = y)``; see :meth:`BoundGlm.saturated_loglik`).

    Returns
    -------
    value : float
    state : PirlsState
        PIRLS at the modes.
    """
    if problem.k != 1:
        raise SpecificationError(
            "adaptive Gauss-Hermite quadrature (nagq > 1) needs a single scalar random "
            "effect, e.g. (1 | id); use nagq=1 (Laplace) for this model."
        )
    st = state if state is not None else pirls(problem, theta, beta, u0)
    base = problem.fixed_eta(np.asarray(beta, dtype=float))
    u0g = st.u[:, 0]
    if st.H is None:  # pragma: no cover - block PIRLS always returns H
        raise SpecificationError("agq needs the PIRLS state of a block problem.")
    sd = 1.0 / np.sqrt(st.H[:, 0, 0])
    z, w = gh_rule(nagq)
    gsum: Callable[[np.ndarray], np.ndarray] = problem._gsum
    # per-group log integrand at the mode
    f0 = gsum(problem.cond.loglik(st.eta)) - 0.5 * u0g**2
    terms = np.empty((z.size, problem.ngroups))
    for i, (zk, wk) in enumerate(zip(z, w, strict=True)):
        uk = u0g + zk * sd
        eta = problem.eta_at(theta, base, uk[:, None])
        fk = gsum(problem.cond.loglik(eta)) - 0.5 * uk**2
        terms[i] = np.log(wk) + fk - f0 + 0.5 * zk**2
    mx = terms.max(axis=0)
    log_int = mx + np.log(np.exp(terms - mx).sum(axis=0))
    log_lik_g = f0 + np.log(sd) + log_int - 0.5 * np.log(2 * np.pi)
    return float(-2.0 * log_lik_g.sum()), st


def laplace_gradient(
    problem: BlockProblem,
    theta: np.ndarray,
    beta: np.ndarray,
    state: PirlsState,
    *,
    cond: ConditionalModel | None = None,
    parts: dict | None = None,
) -> np.ndarray:
    """Exact gradient of the Laplace ``-2 log L`` in ``(theta, beta)`` (canonical links).

    At the mode the derivative of ``-2 log p(y | u) + ||u||^2`` needs no derivative of
    ``u`` (envelope theorem); the log determinant changes through ``Lambda``, through the
    working weights (``dW/deta``) and through the mode itself (implicit function theorem
    on ``u = Lambda' Z' s(eta)``). All terms are per-group ``k x k`` products plus a few
    passes over the rows. Checked against central differences in
    tests/mixed/test_glmm.py.

    Parameters
    ----------
    problem : BlockProblem
        Its conditional model must have a canonical link (``cond.canonical``).
    theta, beta : ndarray
    state : PirlsState
        :func:`pirls` at ``(theta, beta)``.
    cond : ConditionalModel, optional
        Overrides ``problem.cond``; it needs ``dweight`` (derivative of the working
        weight in ``eta``) and working weights equal to the observed information.
    parts : dict, optional
        Filled with the per-row pieces ``s, w, h, e`` for parameters acting on the rows
        directly (thresholds of :func:`sleeppain.clmm`): a parameter ``psi`` changing
        ``log p``, ``s`` and ``w`` of row ``r`` adds
        ``sum_r (-2 dlogp_r + h_r dw_r + e_r ds_r) / dpsi``.

    Returns
    -------
    ndarray
        ``d/d(theta, beta)`` of the objective, theta first.
    """
    cond = problem.cond if cond is None else cond
    if not getattr(cond, "canonical", False):
        raise SpecificationError("the analytic gradient needs a canonical link.")
    lam = lambda_block(np.asarray(theta, dtype=float), problem.term_ncols)
    u, eta = state.u, state.eta
    rows = state.rows
    if rows is not None and rows.get("cond") is cond:  # reuse PIRLS's last pass at the mode
        s, w, zs, M = rows["s"], rows["w"], rows["zs"], rows["M"]
    else:
        _, s, w = cond.evaluate(eta)
        zs, M = problem.group_moments(s, w)
    wp = cond.dweight(eta)
    H = (lam.T @ M @ lam) + np.eye(problem.k)
    Hinv = np.linalg.inv(H)
    P = lam @ Hinv @ lam.T  # Lambda H^-1 Lambda'
    k = problem.k
    h = np.zeros(eta.shape[0])
    for a in range(k):
        for b in range(a + 1):
            term = problem._zmul(a, problem._zmul(b, problem._gather(P[:, a, b])))
            h += term if a == b else 2.0 * term
    t = wp * h
    q = np.empty((problem.ngroups, k))
    for a in range(k):
        q[:, a] = problem._gsum(problem._zmul(a, t))
    c = q @ lam
    v = (Hinv @ c[:, :, None])[:, :, 0]
    lv = v @ lam.T
    e = np.zeros(eta.shape[0])
    for j in range(k):
        e += problem._zmul(j, problem._gather(lv[:, j]))
    X = problem.X
    g_beta = X.T @ (-2.0 * s + t - w * e) if X.shape[1] else np.zeros(0)
    if parts is not None:
        parts.update(s=s, w=w, h=h, e=e)
    LtM = lam.T @ M
    HLM = Hinv @ LtM
    MLv = (M @ lv[:, :, None])[:, :, 0]
    g_theta = []
    off = 0
    for p_t in problem.term_ncols:
        for cc in range(p_t):
            for rr in range(cc, p_t):
                i, j = off + rr, off + cc
                val = (
                    -2.0 * u[:, j] @ zs[:, i]
                    + 2.0 * HLM[:, j, i].sum()
                    + u[:, j] @ q[:, i]
                    + v[:, j] @ zs[:, i]
                    - u[:, j] @ MLv[:, i]
                )
                g_theta.append(val)
        off += p_t
    return np.concatenate([np.asarray(g_theta, dtype=float), g_beta])
