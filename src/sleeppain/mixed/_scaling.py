"""Stage 3b: optimise theta on centred and scaled predictors, report on the original ones.

A predictor far from zero relative to its spread (a clock time in seconds, a year, a value
around 1e4) makes the random intercept and slope of a term almost perfectly correlated, and
the relative covariance factor ``Lambda(theta)`` then spans many orders of magnitude: the
optimiser stops far above the optimum (lme4 1.1-31 too: 542 deviance units on the example
of issue 10) or the fixed-effects system loses positive definiteness. Centring and scaling
the predictors is an exact reparametrisation, so the optimum can be found on the
well-conditioned scale and mapped back (Bates et al. 2015, J Stat Softw 67(1), sec. 3.1:
the deviance depends on the model matrices only through the column spaces they span).

With ``X_s = X A`` and, for term *i*, ``Z_i,s = Z_i T_i`` (block-wise ``Xi_s = Xi T_i``):

* fixed effects: ``beta = A beta_s``;
* random effects: ``b_i = T_i b_i,s``, so ``Lambda_i Lambda_i' = T_i Lambda_i,s
  Lambda_i,s' T_i'``; ``Lambda_i`` is the lower-triangular factor with a non-negative
  diagonal of ``T_i Lambda_i,s`` (from a QR decomposition, so a singular factor stays exact).

A column is centred only where that stays inside the model: in ``X`` when it has an
intercept column, and in a random-effect term only when that term has its own intercept
(``(1 + x | g)``, not ``(0 + x | g)``, whose centring would move variance into another
term). Every non-constant column is scaled to unit standard deviation.

The stage runs when a model is badly scaled (:func:`needs_scaling`); a well-scaled model
takes the original path unchanged. Satterthwaite's df are invariant to the
parametrisation, but their numerical derivatives are not: on a badly scaled design they
should come from :func:`satterthwaite_parts_standardized` (the parts of the standardised
fit mapped to the original coefficients).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sleeppain.mixed import build_design
>>> rng = np.random.default_rng(1)
>>> g = np.repeat(np.arange(10), 6)
>>> df = pd.DataFrame({"x": 1e4 + rng.normal(size=60), "g": g})
>>> df["y"] = rng.normal(size=60) + rng.normal(size=10)[g]
>>> sc = standardize(build_design("y ~ x + (1 + x | g)", df))
>>> bool(abs(sc.design.X[:, 1].mean()) < 1e-9), round(float(sc.design.X[:, 1].std()), 6)
(True, 1.0)
>>> theta = np.array([1.0, -0.5, 0.3])
>>> np.allclose(sc.theta_to_original(sc.theta_to_standard(theta)), theta)
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from sleeppain.mixed.blockstats import BlockStats
from sleeppain.mixed.design import Design
from sleeppain.mixed.optimize import LmmControl, check_convergence, optimize_theta

__all__ = [
    "CENTRE_RATIO",
    "SCALE_RANGE",
    "PredictorScaling",
    "needs_scaling",
    "optimize_checked",
    "satterthwaite_parts_standardized",
    "standardize",
]

#: A column whose mean exceeds this many standard deviations is badly centred.
CENTRE_RATIO = 5.0
#: A column whose standard deviation lies outside this range is badly scaled.
SCALE_RANGE = (1e-2, 1e2)


def _intercept(M: np.ndarray) -> int | None:
    ones = np.flatnonzero(np.all(M == 1.0, axis=0))
    return int(ones[0]) if ones.size else None


def _column_stats(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return M.mean(axis=0), M.std(axis=0)


def _bad_moments(c: np.ndarray, s: np.ndarray) -> bool:
    live = s > 0
    return bool(
        np.any(live & (np.abs(c) > CENTRE_RATIO * s))
        or np.any(live & ((s < SCALE_RANGE[0]) | (s > SCALE_RANGE[1])))
    )


def _badly_scaled(M: np.ndarray) -> bool:
    if M.shape[0] == 0 or M.shape[1] == 0:
        return False
    return _bad_moments(*_column_stats(M))


#: a column whose SD is below this share of its scale (|mean| or SD) counts as constant
#: when the moments come from cross-products (the row-wise path compares with exactly 0)
_CONSTANT_REL = 1e-12


def _moments_from_stats(
    design: Design, stats: BlockStats
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Column means and SDs of ``X`` and of the random-effect columns from block statistics.

    :func:`~sleeppain.mixed.block_stats` centres the non-intercept columns of ``X`` first
    (its ``centering`` holds their means), so ``diag(X'X) / n`` are their variances;
    ``Z'1`` (the intercept column of the summed ``Z'X``) and ``diag(Z'Z)`` give the
    random-effect columns' moments. None when ``X`` has no intercept column.
    """
    X, n = design.X, stats.n
    if X.shape[0] == 0:
        # statistics formed elsewhere (e.g. summed over Dask partitions): no rows here
        return None
    cand = np.flatnonzero(X[0] == 1.0) if n else np.zeros(0, dtype=int)
    k = next((int(j) for j in cand if np.all(X[:, j] == 1.0)), None)
    if k is None:
        return None
    x_mean = -stats.centering.B[k].copy()
    x_mean[k] = 1.0
    x_var = np.diag(stats.XtX) / n
    x_var[k] = 0.0
    z_mean = stats.ZtX[:, :, k].sum(axis=0) / n
    z_var = np.einsum("gii->i", stats.ZtZ) / n - z_mean**2
    # a random-effect column that is also a fixed-effect column (the usual random slope)
    # takes the centred X'X variance, free of the cancellation in E[z^2] - E[z]^2
    names = [nm for t in design.terms for nm in t.names]
    where = {nm: j for j, nm in enumerate(design.fixef_names)}
    for a, nm in enumerate(names):
        j = where.get(nm)
        if j is not None and j != k:
            z_mean[a], z_var[a] = x_mean[j], x_var[j]
    out = []
    for mean, var in ((x_mean, x_var), (z_mean, z_var)):
        sd = np.sqrt(np.maximum(var, 0.0))
        sd = np.where(sd <= _CONSTANT_REL * np.maximum(np.abs(mean), 1.0), 0.0, sd)
        out.append((mean, sd))
    return out


def needs_scaling(design: Design, stats: BlockStats | None = None) -> bool:
    """Whether a column of ``X`` or of a random-effect term is badly centred or scaled.

    Badly centred: ``|mean| > CENTRE_RATIO * sd``; badly scaled: ``sd`` outside
    :data:`SCALE_RANGE`. Constant columns (the intercept) are ignored. With the design's
    block statistics (``stats``, already formed for the deviance) the moments come from
    the cross-products, without another pass over the rows.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sleeppain.mixed import build_design, deviance_from_design
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"x": 1e4 + rng.normal(size=60), "g": np.repeat(np.arange(10), 6)})
    >>> df["y"] = rng.normal(size=60)
    >>> d = build_design("y ~ x + (1 | g)", df)
    >>> needs_scaling(d), needs_scaling(d, deviance_from_design(d, reml=True).stats)
    (True, True)
    """
    if stats is not None and stats.n == design.n:
        moments = _moments_from_stats(design, stats)
        if moments is not None:
            return any(_bad_moments(c, s) for c, s in moments if c.size)
    return _badly_scaled(design.X) or any(_badly_scaled(t.Xi) for t in design.terms)


def _transform(M: np.ndarray, centre: bool) -> np.ndarray:
    """``T`` with ``M @ T`` centred (when allowed and ``M`` has an intercept) and scaled."""
    k = M.shape[1]
    T = np.eye(k)
    icpt = _intercept(M) if centre else None
    c, s = _column_stats(M)
    for j in range(k):
        if j == icpt or not s[j] > 0 or not np.isfinite(s[j]):
            continue
        T[j, j] = 1.0 / s[j]
        if icpt is not None:
            T[icpt, j] = -c[j] / s[j]
    return T


def _lower_factor(M: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with non-negative diagonal and ``L L' = M M'``."""
    _, R = np.linalg.qr(M.T)
    sign = np.where(np.diag(R) < 0, -1.0, 1.0)
    return np.tril(R.T * sign)


@dataclass(frozen=True, eq=False)
class PredictorScaling:
    """A standardised design and the maps back to the original parametrisation.

    Attributes
    ----------
    design : Design
        The design with centred/scaled columns (``X_s = X A``, ``Xi_s = Xi T_i``).
    fixed : ndarray, shape (p, p)
        ``A``; ``beta = A beta_s``.
    terms : tuple of ndarray
        ``T_i`` per random-effect term (shape (p_i, p_i)); ``b_i = T_i b_i,s``.
    """

    design: Design
    fixed: np.ndarray
    terms: tuple[np.ndarray, ...]

    def _map(self, theta: np.ndarray, inverse: bool) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        out = np.empty_like(theta)
        pos = 0
        for t, T in zip(self.design.terms, self.terms, strict=True):
            k = t.ncols
            n = t.ntheta
            L = np.zeros((k, k))
            idx = [(r, c) for c in range(k) for r in range(c, k)]
            for v, (r, c) in zip(theta[pos : pos + n], idx, strict=True):
                L[r, c] = v
            M = np.linalg.solve(T, L) if inverse else T @ L
            L2 = _lower_factor(M)
            out[pos : pos + n] = [L2[r, c] for r, c in idx]
            pos += n
        return out

    def theta_to_original(self, theta_s: np.ndarray) -> np.ndarray:
        """Theta of the original design from theta of the standardised one."""
        return self._map(theta_s, inverse=False)

    def theta_to_standard(self, theta: np.ndarray) -> np.ndarray:
        """Theta of the standardised design from theta of the original one."""
        return self._map(theta, inverse=True)

    def beta_to_original(self, beta_s: np.ndarray) -> np.ndarray:
        """Fixed effects of the original design: ``A beta_s``."""
        return self.fixed @ np.asarray(beta_s, dtype=float)


def standardize(design: Design) -> PredictorScaling:
    """Centre and scale the columns of ``X`` and of each random-effect term (see module).

    Returns
    -------
    PredictorScaling
    """
    A = _transform(design.X, centre=True)
    terms = tuple(_transform(t.Xi, centre=_intercept(t.Xi) is not None) for t in design.terms)
    new_terms = tuple(
        dataclasses.replace(t, Xi=np.asfortranarray(t.Xi @ T))
        for t, T in zip(design.terms, terms, strict=True)
    )
    scaled = dataclasses.replace(
        design, X=np.asfortranarray(design.X @ A), terms=new_terms, _cache={}
    )
    return PredictorScaling(design=scaled, fixed=A, terms=terms)


def optimize_checked(
    design: Design, dev: Any, control: LmmControl, *, reml: bool, scalable: bool = True
) -> tuple[np.ndarray, Any]:
    """Optimise theta and check convergence, on standardised predictors when needed.

    Parameters
    ----------
    design : Design
        The original design (of ``dev``).
    dev : evaluator
        The deviance of ``design`` (:func:`~sleeppain.mixed.deviance_from_design`).
    control : LmmControl
    reml : bool
    scalable : bool
        False for evaluators this stage cannot rebuild (residual correlation structures):
        the original path is used.

    Returns
    -------
    theta : ndarray
        On the original design's parametrisation.
    record : ConvergenceRecord
        ``theta_start``, ``theta_end``, ``objective_*`` and ``gradient`` refer to the
        original design; the Hessian, scaled gradient and convergence checks were computed
        on the standardised one (where they are well conditioned), as the message says.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sleeppain.mixed import build_design, deviance_from_design
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(20), 8)
    >>> df = pd.DataFrame({"x": 1e4 + 5 * rng.normal(size=160), "g": g})
    >>> df["y"] = (0.3 + 0.2 * rng.normal(size=20)[g]) * (df.x - 1e4) + rng.normal(size=160)
    >>> d = build_design("y ~ x + (1 + x | g)", df)
    >>> theta, rec = optimize_checked(d, deviance_from_design(d, reml=False), LmmControl(),
    ...                               reml=False)
    >>> "centred and scaled" in rec.message
    True
    """
    stats = getattr(dev, "stats", None)
    if not scalable or not needs_scaling(design, stats if isinstance(stats, BlockStats) else None):
        theta, record = optimize_theta(dev, control)
        return theta, check_convergence(dev, theta, record, control)
    from sleeppain.mixed.deviance import deviance_from_design

    sc = standardize(design)
    dev_s = deviance_from_design(sc.design, reml=reml, method=control.method)
    return optimize_via_scaled(dev, dev_s, sc, control)


def optimize_via_scaled(
    dev: Any, dev_s: Any, sc: PredictorScaling, control: LmmControl
) -> tuple[np.ndarray, Any]:
    """Optimise and check ``dev_s`` (the scaled problem), then map theta back to ``dev``.

    ``sc`` maps theta between the two scales (``theta_to_standard``,
    ``theta_to_original``); the record's start, end, objectives and gradient are those
    of ``dev``, on the original scale. Shared by the in-memory and the Dask fits.
    """
    ctrl_s = control
    if control.theta_start is not None:
        start_s = sc.theta_to_standard(np.asarray(control.theta_start, dtype=float))
        ctrl_s = dataclasses.replace(control, theta_start=tuple(start_s.tolist()))
    theta_s, rec_s = optimize_theta(dev_s, ctrl_s)
    rec_s = check_convergence(dev_s, theta_s, rec_s, ctrl_s)
    theta = sc.theta_to_original(theta_s)
    start = sc.theta_to_original(rec_s.theta_start)
    f_end, grad = dev.value_and_grad(theta)
    record = dataclasses.replace(
        rec_s,
        theta_start=start,
        theta_end=theta.copy(),
        objective_start=float(dev(start)),
        objective_end=float(f_end),
        gradient=np.asarray(grad, dtype=float),
        message=f"{rec_s.message}; optimised on centred and scaled predictors (checks on "
        "that scale), mapped back",
    )
    return theta, record


def satterthwaite_parts_standardized(
    design: Design, theta: np.ndarray, sigma: float, *, reml: bool, stacklevel: int = 2
) -> Any:
    """Satterthwaite ingredients computed on the standardised design, for ``design``'s beta.

    lmerTest's method differentiates the deviance in the variance parameters (theta,
    sigma); with a predictor around 1e4 the original theta spans ten orders of magnitude
    (a slope factor of 1e-4 beside an intercept factor of 4e3) and the finite differences
    are meaningless. Satterthwaite's df of a contrast ``l' beta`` are invariant to the
    parametrisation, so they are computed as the df of ``(A' l)' beta_s`` on the
    standardised fit: ``vcov_beta = A V_s A'`` and each Jacobian ``A J_s A'``, with
    ``vcov_varpar``, ``hessian`` and ``varpar`` in the standardised variance parameters.

    Parameters
    ----------
    design : Design
        The original design.
    theta : ndarray
        Its theta at the optimum (original parametrisation).
    sigma : float
    reml : bool

    Returns
    -------
    SatterthwaiteParts
        For the original coefficients; pass to
        :func:`~sleeppain.mixed.inference.satterthwaite_df`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sleeppain as sp
    >>> from sleeppain.mixed.inference import satterthwaite_df
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(20), 8)
    >>> df = pd.DataFrame({"x": 1e4 + 5 * rng.normal(size=160), "g": g})
    >>> b0, b1 = 2 * rng.normal(size=20), 0.2 * rng.normal(size=20)
    >>> df["y"] = b0[g] + (0.3 + b1[g]) * (df.x - 1e4) + rng.normal(size=160)
    >>> fit = sp.lmm("y ~ x + (1 + x | g)", df)
    >>> parts = satterthwaite_parts_standardized(fit.design, fit.theta, fit.sigma, reml=True)
    >>> bool(15 < satterthwaite_df(parts)[1] < 25)
    True
    """
    from sleeppain.mixed.deviance import deviance_from_design
    from sleeppain.mixed.inference import SatterthwaiteParts, satterthwaite_parts

    sc = standardize(design)
    dev_s = deviance_from_design(sc.design, reml=reml)
    theta_s = sc.theta_to_standard(np.asarray(theta, dtype=float))
    parts = satterthwaite_parts(dev_s, theta_s, sigma, stacklevel=stacklevel + 1)
    A = sc.fixed
    return SatterthwaiteParts(
        varpar=parts.varpar,
        hessian=parts.hessian,
        vcov_varpar=parts.vcov_varpar,
        vcov_beta=A @ parts.vcov_beta @ A.T,
        jac=np.einsum("ij,kjl,ml->kim", A, parts.jac, A),
        messages=parts.messages,
    )
