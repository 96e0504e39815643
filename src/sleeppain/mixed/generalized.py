"""Generalized linear mixed models: ``sp.glmm`` (lme4's ``glmer``, in Python).

A pipeline of stages, as lme4 (Bates et al. 2015, J Stat Softw 67(1), section 5) and
MixedModels.jl's ``GeneralizedLinearMixedModel``:

1. :func:`sleeppain.mixed.parse_formula` and :func:`sleeppain.mixed.build_design` (the
   linear engine's stages, unchanged);
2. :func:`glmm_problem` -- response checks (family support, named rows), trials and
   weights, and the numerical problem (:class:`~sleeppain.mixed.pirls.BlockProblem` for one
   grouping factor, :class:`~sleeppain.mixed.pirls.SparseProblem` otherwise);
3. :func:`glmm_objective` -- ``-2 log L(theta, beta)`` by PIRLS + Laplace (``nagq = 1``) or
   adaptive Gauss-Hermite quadrature (``nagq > 1``, one scalar random effect);
4. :func:`optimize_glmm` -- bounded quasi-Newton on ``(theta, beta)`` (and ``log k`` for the
   negative binomial) with central-difference gradients, then a finite-difference Hessian
   for the Wald standard errors (lme4's ``use.hessian = TRUE``);
5. :class:`GlmmResult` -- the frozen result (:func:`glmm` runs them all).

Reference: lme4 1.1-31 ``glmer`` / ``glmer.nb`` (R 4.2.2); checked in
tests/mixed/test_glmm_reference.py against tests/reference/glmer/glmer_refs.json.

Examples
--------
>>> import numpy as np, pandas as pd
>>> import sleeppain as sp
>>> rng = np.random.default_rng(3)
>>> g = np.repeat(np.arange(30), 10)
>>> x = rng.normal(size=300)
>>> y = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + 0.8 * x + rng.normal(size=30)[g]))))
>>> fit = sp.glmm("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}))
>>> fit.tidy()["term"].tolist()
['Intercept', 'x']
>>> bool(fit.converged)
True
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
import patsy
from scipy import optimize, stats

from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataStructureError,
    EstimationError,
    SleepPainWarning,
    SpecificationError,
)
from sleeppain.mixed._common import LaplaceCriteria, modes_by_term, term_covariances, varcorr_frame
from sleeppain.mixed._newdata import add_random_part
from sleeppain.mixed.design import Design, RowAccounting, build_design
from sleeppain.mixed.formula import dotted_columns, parse_formula
from sleeppain.mixed.pirls import (
    BlockProblem,
    GlmFamily,
    PirlsState,
    SparseProblem,
    agq,
    lambda_block,
    laplace,
    laplace_gradient,
)
from sleeppain.results import (
    Display,
    DisplayTable,
    ResultMixin,
    check_conf_level,
    readonly,
    tidy_frame,
)

__all__ = [
    "GlmmControl",
    "GlmmResult",
    "OptimizerRecord",
    "SeparationWarning",
    "glmm",
    "glmm_objective",
    "glmm_problem",
    "optimize_glmm",
]

FamilyName = Literal["binomial", "poisson", "negative_binomial"]

#: Relative step of the central-difference gradient used by the optimiser (the objective
#: is exact to ~1e-12 after PIRLS, so the gradient is accurate to ~1e-7).
GRAD_STEP = 1e-6
#: Step of the finite-difference Hessian (lme4's ``deriv12(delta = 1e-4)``).
HESS_STEP = 1e-4
#: lme4's ``isSingular`` tolerance on the diagonal of theta.
SINGULAR_TOL = 1e-4
#: A binomial log-odds coefficient this large (with 0/1 outcomes) signals separation.
SEPARATION_BETA = 10.0


class SeparationWarning(SleepPainWarning):
    """A binary outcome is (quasi-)completely separated by a fixed-effect term."""


@dataclass(frozen=True)
class GlmmControl:
    """Options of the GLMM optimiser (lme4's ``glmerControl``, in spirit).

    Attributes
    ----------
    maxiter : int
        Iterations of L-BFGS-B.
    gtol : float
        Projected-gradient tolerance on ``-2 log L``.
    ftol : float
        Relative change of the objective at which L-BFGS-B stops.
    pirls_tol : float
        PIRLS stops when the largest increment of the spherical modes is below this.
    pirls_maxit : int
    check_separation : bool
        Warn (:class:`SeparationWarning`) when a term separates a binary outcome.
    """

    maxiter: int = 1000
    gtol: float = 1e-5
    ftol: float = 1e-14
    pirls_tol: float = 1e-10
    pirls_maxit: int = 100
    check_separation: bool = True


@dataclass(frozen=True)
class OptimizerRecord:
    """What the optimiser and the last PIRLS did (provenance of a fit).

    Attributes
    ----------
    method : str
    start, end : tuple of float
        Parameters ``(theta..., beta...[, log k])`` at the start and the end.
    start_objective, objective : float
    iterations, nevals : int
    return_code : int
    message : str
    gradient : tuple of float
        Central-difference gradient of ``-2 log L`` at the end.
    pirls_iterations : int
        PIRLS iterations at the final parameters (from a cold start).
    pirls_converged : bool
    pirls_max_step : float
    pirls_halvings : int
    """

    method: str
    start: tuple[float, ...]
    end: tuple[float, ...]
    start_objective: float
    objective: float
    iterations: int
    nevals: int
    return_code: int
    message: str
    gradient: tuple[float, ...]
    pirls_iterations: int
    pirls_converged: bool
    pirls_max_step: float
    pirls_halvings: int

    def to_frame(self) -> pd.DataFrame:
        """The record as a two-column DataFrame (item, value)."""
        return pd.DataFrame(
            [(k, str(v)) for k, v in self.__dict__.items()], columns=["item", "value"]
        )


def _lbfgs_record(
    res: Any,
    *,
    analytic: bool,
    x0: np.ndarray,
    x: np.ndarray,
    start_objective: float,
    objective: float,
    nevals: int,
    gradient: np.ndarray,
    state: PirlsState,
) -> OptimizerRecord:
    """The :class:`OptimizerRecord` of an L-BFGS-B fit (``res`` from ``scipy.optimize``).

    ``state`` is the inner (PIRLS or Newton) state at the final parameters.
    """
    return OptimizerRecord(
        method="L-BFGS-B (" + ("analytic" if analytic else "central-difference") + " gradient)",
        start=tuple(float(v) for v in x0),
        end=tuple(float(v) for v in x),
        start_objective=float(start_objective),
        objective=float(objective),
        iterations=int(res.nit),
        nevals=int(nevals),
        return_code=int(res.status),
        message=str(res.message),
        gradient=tuple(float(v) for v in gradient),
        pirls_iterations=int(state.iterations),
        pirls_converged=bool(state.converged),
        pirls_max_step=float(state.max_step),
        pirls_halvings=int(state.halvings),
    )


# ---------------------------------------------------------------------------------------
# stage 2: response checks and the numerical problem
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GlmmProblem:
    """A built GLMM: the design, the response on the count scale and the numerical problem.

    Attributes
    ----------
    design : Design
    family : str
    y : ndarray
        Successes (binomial) or counts.
    trials : ndarray
        Trials per row (1 for 0/1 outcomes and for counts).
    weights : ndarray
        Prior (frequency) weights of the log density (1 unless given for counts).
    problem : BlockProblem or SparseProblem
    accounting : RowAccounting
    rows : ndarray
        Positions in the input data of the rows used.
    """

    design: Design
    family: str
    y: np.ndarray
    trials: np.ndarray
    weights: np.ndarray
    problem: BlockProblem | SparseProblem
    accounting: RowAccounting
    rows: np.ndarray

    @property
    def ntheta(self) -> int:
        """Length of theta."""
        return self.design.ntheta


def _name_rows(index: pd.Index, bad: np.ndarray, limit: int = 5) -> str:
    labels = [repr(v) if isinstance(v, str) else str(v) for v in index[bad][:limit]]
    more = f" and {int(bad.sum()) - limit} more" if bad.sum() > limit else ""
    return ", ".join(labels) + more


def _column(data: pd.DataFrame, name: str, what: str) -> np.ndarray:
    if not isinstance(name, str) or name not in data.columns:
        raise SpecificationError(
            f"{what}={name!r} must name a numeric column of the data; available: "
            f"{', '.join(map(str, list(data.columns)[:20]))}."
        )
    col = data[name]
    if not pd.api.types.is_numeric_dtype(col.dtype):
        raise DataStructureError(
            f"{what} column {name!r} must be numeric, but its dtype is {col.dtype}."
        )
    return col.to_numpy(dtype=float, na_value=np.nan)


def glmm_problem(
    formula: str,
    data: pd.DataFrame,
    *,
    family: str = "binomial",
    trials: str | None = None,
    weights: str | None = None,
    stacklevel: int = 1,
) -> GlmmProblem:
    """Build the design and the numerical problem of a GLMM (stages 1-2).

    Parameters
    ----------
    formula, data
        As :func:`glmm`.
    family : {"binomial", "poisson", "negative_binomial"}
    trials : str, optional
        Column of binomial trials; the response is then the number of successes (R's
        ``cbind(successes, trials - successes)``).
    weights : str, optional
        Binomial: R's convention, the response is a proportion and ``weights`` the trials.
        Counts: prior (frequency) weights of each row's log density.
    stacklevel : int
        For the warnings of this stage.

    Returns
    -------
    GlmmProblem

    Raises
    ------
    DataStructureError
        Outcomes outside the family's support (the rows are named).
    """
    GlmFamily(family)  # validates the name
    # Q('flare day'), `flare day` and R-style dotted names; written back after the design
    safe, data, renamed = dotted_columns(formula, data)
    if not isinstance(data, pd.DataFrame):
        raise DataStructureError(
            f"data must be a pandas DataFrame, got {type(data).__name__}; wrap arrays with "
            "pd.DataFrame({...})."
        )
    if trials is not None and family != "binomial":
        raise SpecificationError(
            f"trials= is for the binomial family only (family={family!r}); for counts, "
            "use an offset of log exposure in a later version or drop trials=."
        )
    if trials is not None and weights is not None:
        raise SpecificationError(
            "pass either trials= (response = successes) or weights= (response = proportion, "
            "R's convention), not both."
        )
    extra = {"trials": trials, "weights": weights}
    extra_vals = {k: _column(data, v, k) for k, v in extra.items() if v is not None}
    n_input = len(data)
    ok = np.ones(n_input, dtype=bool)
    pre_drops: list[tuple[str, int]] = []
    for k, v in extra_vals.items():
        good = np.isfinite(v)
        newly = int((ok & ~good).sum())
        if newly:
            pre_drops.append((f"missing or non-finite {extra[k]!r}", newly))
        ok &= good
    sub = data if ok.all() else data.iloc[np.flatnonzero(ok)]
    design = renamed.restore_design(
        build_design(parse_formula(safe), sub, stacklevel=stacklevel + 1), formula
    )
    pos = np.flatnonzero(ok)[design.rows]
    acc = design.accounting
    accounting = RowAccounting(
        n_input=n_input, n_used=acc.n_used, dropped=tuple(pre_drops) + acc.dropped
    )
    if pre_drops:
        detail = "; ".join(f"{c} row(s): {r}" for r, c in pre_drops)
        warnings.warn(
            f"dropped rows ({detail}); the fit's `accounting` lists them.",
            stacklevel=stacklevel + 1,
            category=_drop_warning(),
        )
    y = design.y.astype(float)
    n = y.size
    idx = design.index
    resp = design.parsed.response
    m = np.ones(n)
    w = np.ones(n)
    if family == "binomial":
        if trials is not None:
            m = extra_vals["trials"][pos]
            bad = (m <= 0) | (m != np.round(m))
            if bad.any():
                raise DataStructureError(
                    f"trials {trials!r} must be whole numbers >= 1; rows {_name_rows(idx, bad)} "
                    "are not. Drop or fix those rows."
                )
            bad = (y < 0) | (y > m) | (y != np.round(y))
            if bad.any():
                raise DataStructureError(
                    f"the binomial response {resp!r} counts successes out of {trials!r} and "
                    f"must be a whole number between 0 and the trials; rows "
                    f"{_name_rows(idx, bad)} are outside. Fix them or drop those rows."
                )
        elif weights is not None:
            m = extra_vals["weights"][pos]
            succ = y * m
            bad = (y < 0) | (y > 1) | (m <= 0) | (np.abs(succ - np.round(succ)) > 1e-8)
            if bad.any():
                raise DataStructureError(
                    f"with weights= the binomial response {resp!r} is a proportion and "
                    f"{weights!r} the trials (R's convention); rows {_name_rows(idx, bad)} "
                    "give a proportion outside [0, 1] or a non-whole number of successes."
                )
            y = np.round(succ)
        else:
            bad = (y != 0) & (y != 1)
            if bad.any():
                raise DataStructureError(
                    f"a binomial model needs a 0/1 response, but {resp!r} takes other values "
                    f"(e.g. {y[bad][0]:g}) in rows {_name_rows(idx, bad)}. Recode it (e.g. "
                    f"'I({resp} >= 7)'), or give trials='column' when it counts successes."
                )
    else:
        bad = (y < 0) | (y != np.round(y))
        if bad.any():
            raise DataStructureError(
                f"a {family} model needs whole-number counts >= 0, but {resp!r} is "
                f"{y[bad][0]:g} in rows {_name_rows(idx, bad)}. Fix or drop those rows."
            )
        if weights is not None:
            w = extra_vals["weights"][pos]
            bad = w < 0
            if bad.any():
                raise DataStructureError(
                    f"weights {weights!r} must be >= 0; rows {_name_rows(idx, bad)} are negative."
                )
    fam = GlmFamily(family, size=1.0 if family == "negative_binomial" else np.inf)
    cond = fam.bind(y, m, w)
    problem = _laplace_problem(design, design.X, cond)
    return GlmmProblem(
        design=design,
        family=family,
        y=y,
        trials=m,
        weights=w,
        problem=problem,
        accounting=accounting,
        rows=pos,
    )


def _laplace_problem(design: Design, X: np.ndarray, cond: Any) -> BlockProblem | SparseProblem:
    """The PIRLS problem of ``design`` with fixed-effects matrix ``X`` and conditional
    model ``cond``: stacked per-group blocks with one grouping factor, sparse ``Z`` else.
    Shared by glmm and clmm.
    """
    if design.single_factor:
        Zi = np.column_stack([t.Xi for t in design.terms])
        return BlockProblem(
            X=np.asarray(X, dtype=float),
            Zi=np.ascontiguousarray(Zi),
            codes=design.terms[0].codes,
            ngroups=design.terms[0].nlevels,
            term_ncols=tuple(t.ncols for t in design.terms),
            cond=cond,
        )
    return SparseProblem(
        X=np.asarray(X, dtype=float),
        Z=design.Z(),
        terms=tuple((t.nlevels, t.ncols) for t in design.terms),
        cond=cond,
    )


def _drop_warning() -> type[Warning]:
    from sleeppain.errors import DataDropWarning

    return DataDropWarning


# ---------------------------------------------------------------------------------------
# stage 3: the objective
# ---------------------------------------------------------------------------------------


def _cond_for(gp: GlmmProblem, size: float | None) -> Any:
    if gp.family != "negative_binomial":
        return gp.problem.cond
    return GlmFamily("negative_binomial", size=float(size)).bind(gp.y, gp.trials, gp.weights)


def glmm_objective(
    gp: GlmmProblem,
    theta: np.ndarray,
    beta: np.ndarray,
    *,
    nagq: int = 1,
    size: float | None = None,
    u0: np.ndarray | None = None,
    control: GlmmControl | None = None,
) -> tuple[float, PirlsState]:
    """``-2 log L(theta, beta)``: Laplace (``nagq = 1``) or adaptive Gauss-Hermite.

    lme4's ``devfun`` of ``glmer(..., devFunOnly = TRUE)`` for ``nAGQ = 1``; for
    ``nagq > 1`` lme4's value is this minus ``-2 sum log p(y | mu = y)`` (lme4 sums
    deviance residuals there), see :meth:`~sleeppain.mixed.pirls.BoundGlm.saturated_loglik`.

    Parameters
    ----------
    gp : GlmmProblem
    theta, beta : ndarray
    nagq : int
    size : float, optional
        Negative-binomial ``k`` (required for that family).
    u0 : ndarray, optional
        Warm start of the modes.
    control : GlmmControl, optional

    Returns
    -------
    value : float
    state : PirlsState
    """
    ctl = control or GlmmControl()
    cond = _cond_for(gp, size)
    st = laplace(gp.problem, theta, beta, u0, tol=ctl.pirls_tol, maxit=ctl.pirls_maxit, cond=cond)
    if nagq > 1:
        if not isinstance(gp.problem, BlockProblem):
            raise SpecificationError(_AGQ_REFUSAL)
        prob = gp.problem if gp.family != "negative_binomial" else _with_cond(gp.problem, cond)
        val, _ = agq(prob, theta, beta, nagq, state=st)
        return val, st
    return st.objective, st


def _with_cond(problem: BlockProblem, cond: Any) -> BlockProblem:
    return BlockProblem(
        X=problem.X,
        Zi=problem.Zi,
        codes=problem.codes,
        ngroups=problem.ngroups,
        term_ncols=problem.term_ncols,
        cond=cond,
        offset=problem.offset,
    )


_AGQ_REFUSAL = (
    "nagq > 1 is only available for models with a single, scalar random-effects term "
    "(lme4's rule: adaptive Gauss-Hermite quadrature integrates one random effect per group), "
    "e.g. (1 | id). Use nagq=1 (Laplace) for this model."
)


# ---------------------------------------------------------------------------------------
# stage 4: optimisation
# ---------------------------------------------------------------------------------------


def _glm_start(gp: GlmmProblem) -> np.ndarray:
    """Fixed effects of the GLM without random effects (IRLS), the optimiser's start."""
    X = gp.problem.X
    p = X.shape[1]
    if p == 0:
        return np.zeros(0)
    cond = _cond_for(gp, 1.0 if gp.family == "negative_binomial" else None)
    beta = np.zeros(p)
    if gp.family == "binomial":
        pbar = (gp.y.sum() + 0.5) / (gp.trials.sum() + 1.0)
        beta_icpt = math.log(pbar / (1 - pbar))
    else:
        beta_icpt = math.log(max((gp.weights * gp.y).sum() / gp.weights.sum(), 1e-3))
    icpt = np.flatnonzero(np.all(X == 1.0, axis=0))
    if icpt.size:
        beta[icpt[0]] = beta_icpt
    ll_old = -np.inf
    for _ in range(50):
        eta = X @ beta
        ll, s, w = cond.evaluate(eta)
        llsum = float(ll.sum())
        if llsum - ll_old < 1e-10 * (1 + abs(llsum)):
            break
        ll_old = llsum
        H = X.T @ (w[:, None] * X) + 1e-8 * np.eye(p)
        step = np.linalg.solve(H, X.T @ s)
        # damp huge steps (separation)
        mx = float(np.max(np.abs(step)))
        if mx > 5:
            step *= 5 / mx
        beta = beta + step
    return np.clip(beta, -15, 15)


def _fd_grad(f: Any, x: np.ndarray, lower: np.ndarray) -> np.ndarray:
    g = np.empty_like(x)
    for i in range(x.size):
        h = GRAD_STEP * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        if xm[i] < lower[i]:
            # one-sided at the bound (diagonal theta at 0)
            g[i] = (f(xp) - f(x)) / h
        else:
            g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def fd_hessian(f: Any, x: np.ndarray, step: float = HESS_STEP) -> np.ndarray:
    """Central finite-difference Hessian of ``f`` at ``x`` (as lme4's ``deriv12``).

    Examples
    --------
    >>> np.round(fd_hessian(lambda v: v[0] ** 2 + 3 * v[0] * v[1], np.zeros(2)), 6).tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    m = x.size
    H = np.empty((m, m))
    f0 = f(x)
    h = step * np.maximum(1.0, np.abs(x))
    fp = np.empty(m)
    fm = np.empty(m)
    for i in range(m):
        e = np.zeros(m)
        e[i] = h[i]
        fp[i] = f(x + e)
        fm[i] = f(x - e)
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h[i] ** 2
    for i in range(m):
        for j in range(i):
            ei = np.zeros(m)
            ej = np.zeros(m)
            ei[i] = h[i]
            ej[j] = h[j]
            v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h[i] * h[j]
            )
            H[i, j] = H[j, i] = v
    return H


def fd_jacobian(g: Any, x: np.ndarray, step: float = HESS_STEP) -> np.ndarray:
    """Symmetrised central-difference Jacobian of a gradient ``g`` (a Hessian).

    Examples
    --------
    >>> np.round(fd_jacobian(lambda v: np.array([2 * v[0] + 3 * v[1], 3 * v[0]]),
    ...                      np.zeros(2)), 6).tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    m = x.size
    J = np.empty((m, m))
    h = step * np.maximum(1.0, np.abs(x))
    for i in range(m):
        e = np.zeros(m)
        e[i] = h[i]
        J[:, i] = (g(x + e) - g(x - e)) / (2 * h[i])
    return (J + J.T) / 2


@dataclass(frozen=True)
class GlmmOptimum:
    """Output of :func:`optimize_glmm`."""

    theta: np.ndarray
    beta: np.ndarray
    size: float | None
    objective: float
    state: PirlsState
    record: OptimizerRecord
    vcov_beta: np.ndarray
    hessian: np.ndarray
    converged: bool
    messages: tuple[str, ...]


def optimize_glmm(
    gp: GlmmProblem,
    *,
    nagq: int = 1,
    control: GlmmControl | None = None,
    start: dict[str, Any] | None = None,
) -> GlmmOptimum:
    """Maximise the Laplace / AGQ likelihood over ``(theta, beta[, log k])`` (stage 4).

    L-BFGS-B with lme4's bounds (diagonal elements of theta >= 0) and central-difference
    gradients, from lme4's theta start (1 on the diagonal) and the GLM's beta; then the
    finite-difference Hessian of ``-2 log L`` gives ``vcov(beta) = [(H / 2)^{-1}]_beta``
    (lme4's ``vcov(..., use.hessian = TRUE)``). For the negative binomial, ``k`` is
    optimised jointly and held fixed for the standard errors (as ``glmer.nb``'s final
    ``glmer`` fit).
    """
    ctl = control or GlmmControl()
    design = gp.design
    nt = design.ntheta
    p = design.p
    nb = gp.family == "negative_binomial"
    theta0 = design.theta_start
    beta0 = _glm_start(gp)
    x0 = np.concatenate([theta0, beta0, [0.0] if nb else []])
    if start:
        if "theta" in start:
            x0[:nt] = np.asarray(start["theta"], dtype=float)
        if "beta" in start:
            x0[nt : nt + p] = np.asarray(start["beta"], dtype=float)
        if nb and "size" in start:
            x0[-1] = math.log(float(start["size"]))
    lower = np.concatenate([design.theta_lower, np.full(p, -np.inf), [-np.inf] if nb else []])
    cache: dict[str, Any] = {"u": None, "nevals": 0}

    def split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None]:
        return x[:nt], x[nt : nt + p], (math.exp(x[-1]) if nb else None)

    def f(x: np.ndarray) -> float:
        theta, beta, size = split(x)
        cache["nevals"] += 1
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                val, st = glmm_objective(
                    gp, theta, beta, nagq=nagq, size=size, u0=cache["u"], control=ctl
                )
        except np.linalg.LinAlgError:
            return 1e300
        if not np.isfinite(val):
            return 1e300
        if st.converged:
            cache["u"] = st.u
        return val

    analytic = (
        nagq == 1
        and isinstance(gp.problem, BlockProblem)
        and bool(getattr(gp.problem.cond, "canonical", False))
    )

    def fg_analytic(x: np.ndarray) -> tuple[float, np.ndarray]:
        theta, beta, _ = split(x)
        cache["nevals"] += 1
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                val, st = glmm_objective(gp, theta, beta, u0=cache["u"], control=ctl)
                if not np.isfinite(val):
                    raise np.linalg.LinAlgError
                g = laplace_gradient(gp.problem, theta, beta, st)  # type: ignore[arg-type]
        except np.linalg.LinAlgError:
            return 1e300, np.zeros_like(x)
        if st.converged:
            cache["u"] = st.u
        return val, g

    def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
        if analytic:
            return fg_analytic(x)
        u_base = cache["u"]
        val = f(x)
        u_here = cache["u"]
        cache["u"] = u_here if u_here is not None else u_base
        g = _fd_grad(f, x, lower)
        cache["u"] = u_here
        return val, g

    start_obj = f(x0)
    if not np.isfinite(start_obj) or start_obj >= 1e300:
        raise EstimationError(
            "the GLMM objective cannot be evaluated at the starting values (PIRLS failed); "
            "check the outcome and predictors for extreme values, or rescale predictors."
        )
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    res = optimize.minimize(
        fg,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": ctl.maxiter, "gtol": ctl.gtol, "ftol": ctl.ftol, "maxcor": 20},
    )
    x = np.asarray(res.x, dtype=float)
    theta, beta, size = split(x)
    # PIRLS once more from u = 0 at the end: the record shows a cold start converges
    cache["u"] = None
    final_val, st_cold = glmm_objective(gp, theta, beta, nagq=nagq, size=size, control=ctl)
    cache["u"] = st_cold.u
    grad = fg(x)[1] if analytic else _fd_grad(f, x, lower)
    messages: list[str] = []
    # Hessian over (theta, beta) with k fixed; theta elements on the boundary are held fixed
    free = np.ones(nt + p, dtype=bool)
    free[:nt] = ~((design.theta_lower == 0) & (theta <= 1e-4))

    def f_tb(v: np.ndarray) -> float:
        xx = x.copy()
        xx[: nt + p][free] = v
        return f(xx)

    if analytic:

        def g_tb(v: np.ndarray) -> np.ndarray:
            xx = x.copy()
            xx[: nt + p][free] = v
            return fg_analytic(xx)[1][: nt + p][free]

        H = fd_jacobian(g_tb, x[: nt + p][free])
    else:
        H = fd_hessian(f_tb, x[: nt + p][free])
    cache["u"] = st_cold.u
    Hfull = np.full((nt + p, nt + p), np.nan)
    Hfull[np.ix_(free, free)] = H
    vcov = np.full((p, p), np.nan)
    try:
        Hi = np.linalg.inv(H / 2.0)
        eig = np.linalg.eigvalsh((H + H.T) / 2)
        if eig[0] <= 0:
            raise np.linalg.LinAlgError("not positive definite")
        nfree_theta = int(free[:nt].sum())
        vcov = Hi[nfree_theta:, nfree_theta:]
    except np.linalg.LinAlgError:
        Hb = fd_hessian(lambda b: f(np.concatenate([x[:nt], b, x[nt + p :]])), beta)
        try:
            vcov = np.linalg.inv(Hb / 2.0)
            messages.append(
                "the Hessian of (theta, beta) is not positive definite; standard errors use "
                "the Hessian of beta alone (theta held fixed)"
            )
        except np.linalg.LinAlgError:
            messages.append("the Hessian of beta is singular; standard errors are NaN")
    vcov = (vcov + vcov.T) / 2
    free_grad = np.where(
        (lower > -np.inf) & (x <= lower + 1e-8) & (grad > 0), 0.0, grad
    )  # projected gradient
    max_grad = float(np.max(np.abs(free_grad))) if free_grad.size else 0.0
    converged = bool(res.success) or max_grad < 1e-3
    if not converged:
        messages.append(
            f"optimiser stopped without convergence: {res.message} (max |gradient| "
            f"{max_grad:.3g} after {res.nit} iterations)"
        )
    if not st_cold.converged:
        converged = False
        messages.append(
            f"PIRLS did not converge at the final parameters ({st_cold.iterations} iterations, "
            f"last step {st_cold.max_step:.3g}, {st_cold.halvings} step halvings)"
        )
    if np.any(~np.isfinite(np.diag(vcov))) or np.any(np.diag(vcov) < 0):
        messages.append("some standard errors could not be computed (non-finite)")
    record = _lbfgs_record(
        res,
        analytic=analytic,
        x0=x0,
        x=x,
        start_objective=start_obj,
        objective=final_val,
        nevals=cache["nevals"],
        gradient=grad,
        state=st_cold,
    )
    return GlmmOptimum(
        theta=theta.copy(),
        beta=beta.copy(),
        size=size,
        objective=float(final_val),
        state=st_cold,
        record=record,
        vcov_beta=vcov,
        hessian=Hfull,
        converged=converged,
        messages=tuple(messages),
    )


# ---------------------------------------------------------------------------------------
# separation
# ---------------------------------------------------------------------------------------


def _separated_terms(gp: GlmmProblem) -> list[str]:
    """Indicator columns of X within whose level the binary outcome never varies."""
    if gp.family != "binomial":
        return []
    X = gp.problem.X
    prop = gp.y / gp.trials
    out = []
    for j, name in enumerate(gp.design.fixef_names):
        col = X[:, j]
        vals = np.unique(col)
        if vals.size != 2:
            continue
        for v in vals:
            sel = col == v
            if np.all(prop[sel] == 0) or np.all(prop[sel] == 1):
                out.append(name)
                break
    return out


# ---------------------------------------------------------------------------------------
# stage 5: the result
# ---------------------------------------------------------------------------------------


def _r_name(name: str) -> str:
    return "(Intercept)" if name == "Intercept" else name


@dataclass(frozen=True, eq=False)
class GlmmResult(LaplaceCriteria, ResultMixin):
    """Result of :func:`sleeppain.glmm` (immutable; derived quantities are cached).

    Attributes
    ----------
    formula : str
    family, link : str
    nagq : int
    design : Design
        The design the fit used (read-only use).
    beta : ndarray
        Fixed effects (link scale).
    theta : ndarray
        Relative covariance parameters (lme4 order); for GLMMs without a scale parameter
        ``Lambda(theta) Lambda(theta)'`` is the covariance of the random effects.
    vcov_beta : ndarray
    u : ndarray
        Spherical conditional modes.
    eta : ndarray
        Linear predictor at the conditional modes for the rows used.
    objective : float
        ``-2 log L`` (Laplace or AGQ), on the full-likelihood scale.
    size : float or None
        Negative-binomial ``k`` (variance ``mu + mu^2/k``).
    y, trials, weights : ndarray
        Response (successes / counts), trials and prior weights of the rows used.
    accounting : RowAccounting
    record : OptimizerRecord
    converged : bool
    messages : tuple of str
        Convergence and separation messages (also issued as warnings).
    b_var : ndarray (G, k) or None
        Conditional variances of the random effects at the modes (one grouping factor;
        None otherwise), ``diag(Lambda H^-1 Lambda')`` of each group.

    Examples
    --------
    >>> import sleeppain as sp
    >>> df = sp.datasets.sample_diary().dropna(subset=["pain", "sleep_quality"])
    >>> df["flare"] = (df["pain"] >= 7).astype(int)
    >>> fit = sp.glmm("flare ~ sleep_quality + (1 | id)", df, family="binomial")
    >>> fit.tidy()["term"].tolist()
    ['Intercept', 'sleep_quality']
    """

    formula: str
    family: str
    link: str
    nagq: int
    design: Design
    beta: np.ndarray
    theta: np.ndarray
    vcov_beta: np.ndarray
    u: np.ndarray
    eta: np.ndarray
    objective: float
    size: float | None
    y: np.ndarray
    trials: np.ndarray
    weights: np.ndarray
    accounting: RowAccounting
    record: OptimizerRecord
    converged: bool
    messages: tuple[str, ...] = ()
    b_var: np.ndarray | None = None
    _extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # every array field is a read-only copy: nothing handed out can change the fit
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                object.__setattr__(self, f.name, readonly(value))
        object.__setattr__(self, "messages", tuple(self.messages))

    # -- basic quantities --------------------------------------------------------------
    @property
    def fixef(self) -> pd.Series:
        """Fixed effects on the link scale."""
        return pd.Series(self.beta.copy(), index=list(self.design.fixef_names), name="estimate")

    @property
    def std_errors(self) -> pd.Series:
        """Wald standard errors of the fixed effects."""
        return pd.Series(
            np.sqrt(np.diag(self.vcov_beta)), index=list(self.design.fixef_names), name="se"
        )

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects."""
        names = list(self.design.fixef_names)
        return pd.DataFrame(self.vcov_beta.copy(), index=names, columns=names)

    @property
    def loglik(self) -> float:
        """Log-likelihood (Laplace or AGQ approximation)."""
        return -0.5 * self.objective

    @property
    def npar(self) -> int:
        """Number of parameters: fixed effects, theta (and k for the negative binomial)."""
        return self.design.p + self.design.ntheta + (1 if self.size is not None else 0)

    @property
    def ngroups(self) -> dict[str, int]:
        """Levels of each grouping factor."""
        return dict(self.design.ngroups)

    @property
    def is_singular(self) -> bool:
        """True when a variance is (near) zero, as lme4's ``isSingular`` (tol 1e-4)."""
        lower = self.design.theta_lower
        return bool(np.any(self.theta[lower == 0] < SINGULAR_TOL))

    # -- variance components -----------------------------------------------------------
    def _term_covs(self) -> list[np.ndarray]:
        return term_covariances(self.design.terms, self.theta)

    def varcorr(self) -> pd.DataFrame:
        """Variance components (lme4's ``as.data.frame(VarCorr(fit))``, wide form).

        Returns
        -------
        DataFrame
            ``group, re_term, term1, term2, variance, sd, corr``: one row per variance and
            per correlation (``variance`` then holds the covariance), lme4 term order.
        """
        return varcorr_frame(self.design.terms, self._term_covs())

    @cached_property
    def _b(self) -> list[np.ndarray]:
        """Random effects on the data scale per term, each (nlevels, ncols)."""
        return modes_by_term(self.design.terms, self.theta, self.u)

    def ranef(self) -> pd.DataFrame:
        """Conditional modes of the random effects (lme4's ``ranef``), long form.

        Returns
        -------
        DataFrame
            ``group, level, term, estimate, cond_var, std_error`` in lme4 term order
            (lme4's ``ranef(fit, condVar = TRUE)``: the conditional variance from the
            Laplace curvature at the mode; NaN with crossed or nested factors).
        """
        frames = []
        off = 0
        for t, b in zip(self.design.terms, self._b, strict=True):
            L, p = t.nlevels, t.ncols
            if self.b_var is not None:
                cv = self.b_var[:, off : off + p]
            else:
                cv = np.full((L, p), np.nan)
            off += p
            frames.append(
                pd.DataFrame(
                    {
                        "group": t.group,
                        "level": np.tile(t.levels, p),
                        "term": np.repeat(np.array(t.names, dtype=object), L),
                        "estimate": b.T.ravel(),
                        "cond_var": cv.T.ravel(),
                        "std_error": np.sqrt(cv.T.ravel()),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    # -- predictions -------------------------------------------------------------------
    def _linkinv(self, eta: np.ndarray) -> np.ndarray:
        return GlmFamily(self.family).linkinv(eta)

    def fitted(self) -> pd.Series:
        """Conditional means (per trial for the binomial) for the rows used."""
        return pd.Series(self._linkinv(self.eta), index=self.design.index, name="fitted")

    def residuals(self, type: Literal["pearson", "response"] = "pearson") -> pd.Series:
        """Conditional residuals of the rows used (lme4's ``residuals(fit, type)``).

        ``"response"``: observed minus fitted mean (proportion minus probability for the
        binomial). ``"pearson"``: that difference divided by the family's standard
        deviation at the fitted mean, ``sqrt(mu (1 - mu) / trials)``, ``sqrt(mu)`` or
        ``sqrt(mu + mu^2 / k)``, times ``sqrt(weights)`` for count prior weights.
        """
        if type not in ("pearson", "response"):
            raise SpecificationError(f"type must be 'pearson' or 'response', got {type!r}.")
        mu = self._linkinv(self.eta)
        if self.family == "binomial":
            obs = self.y / self.trials
            var = mu * (1 - mu) / self.trials
        else:
            obs = self.y
            k = self.size if self.size is not None else np.inf
            var = (mu + mu**2 / k) / np.where(self.weights > 0, self.weights, np.nan)
        r = obs - mu
        if type == "pearson":
            r = r / np.sqrt(var)
        return pd.Series(r, index=self.design.index, name="residual")

    def plot(self, *, conf_level: float = 0.95) -> Any:
        """Diagnostic figure: Pearson residuals vs fitted means and a caterpillar plot.

        As lme4's ``plot(fit)`` for a GLMM (Pearson residuals against fitted values) and
        ``lattice::dotplot(ranef(fit, condVar = TRUE))``: sorted conditional modes with
        +/- z sqrt(conditional variance) intervals (one grouping factor; points only
        otherwise). Needs matplotlib (``pip install sleeppain[plot]``).

        Parameters
        ----------
        conf_level : float
            Coverage of the caterpillar intervals.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, pandas as pd, sleeppain as sp
        >>> rng = np.random.default_rng(2)
        >>> g = np.repeat(np.arange(20), 10)
        >>> lam = np.exp(0.5 + 0.7 * rng.normal(size=20))[g]
        >>> df = pd.DataFrame({"id": g, "n": rng.poisson(lam)})
        >>> fig = sp.glmm("n ~ 1 + (1 | id)", df, family="poisson").plot()
        >>> fig.axes[0].get_ylabel()
        'Pearson residuals'
        >>> import matplotlib.pyplot as plt
        >>> plt.close(fig)
        """
        from sleeppain.report._mixed_figures import mixed_diagnostics

        return mixed_diagnostics(
            self._linkinv(self.eta),
            self.residuals("pearson").to_numpy(),
            self.ranef(),
            title=f"{self.formula} ({self.family})",
            conf_level=check_conf_level(conf_level),
            fitted_label="Fitted mean" + (" (probability)" if self.family == "binomial" else ""),
            resid_label="Pearson residuals",
        )

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        *,
        type: Literal["link", "response"] = "link",
        include_random: bool = True,
    ) -> pd.Series:
        """Predictions on the link or the response scale (lme4's ``predict.merMod``).

        Parameters
        ----------
        newdata : DataFrame, optional
            Defaults to the rows used in the fit. Levels not seen in the fit get a random
            effect of 0 (lme4's ``allow.new.levels = TRUE``).
        type : {"link", "response"}
            Linear predictor, or mean (probability for the binomial, rate for counts).
        include_random : bool
            Add the conditional modes (``re.form = NULL``) or not (``re.form = NA``).

        Returns
        -------
        Series
        """
        if type not in ("link", "response"):
            raise SpecificationError(f"type must be 'link' or 'response', got {type!r}.")
        d = self.design
        if newdata is None:
            eta = self.eta.copy() if include_random else d.X @ self.beta
            index = d.index
        else:
            if not isinstance(newdata, pd.DataFrame):
                raise SpecificationError("newdata must be a pandas DataFrame.")
            newdata = d.with_safe_columns(newdata)  # Q('pain score') columns
            X = _new_matrix(d.parsed.fixed, d.fixed_info, newdata, d.fixef_names)
            eta = X @ self.beta
            if include_random:
                eta = add_random_part(eta, d.terms, self._b, newdata, _new_matrix)
            index = newdata.index
        out = eta if type == "link" else self._linkinv(eta)
        return pd.Series(out, index=index, name="predicted")

    # -- tables --------------------------------------------------------------------------
    def tidy(
        self,
        conf_level: float = 0.95,
        *,
        exponentiate: bool = False,
        effects: Literal["fixed", "all"] = "fixed",
    ) -> pd.DataFrame:
        """Fixed effects with Wald z tests in the house schema.

        Parameters
        ----------
        conf_level : float
            Level of the Wald intervals.
        exponentiate : bool
            Odds ratios (binomial) or rate ratios (counts): estimates and interval limits
            exponentiated, standard errors by the delta method (``exp(b) * se``), as
            broom.mixed; the z statistic and p-value stay those of the link scale.
        effects : {"fixed", "all"}
            ``"all"`` appends the variance parameters (``effect = "ran_pars"``, broom.mixed
            names ``sd__x`` and ``cor__x.z``, estimates only).

        Returns
        -------
        DataFrame
            House schema plus ``effect, group``.
        """
        conf_level = check_conf_level(conf_level)
        if effects not in ("fixed", "all"):
            raise SpecificationError(f"effects must be 'fixed' or 'all', got {effects!r}.")
        est = self.beta.copy()
        se = np.sqrt(np.diag(self.vcov_beta))
        z = est / se
        pval = 2 * stats.norm.sf(np.abs(z))
        crit = stats.norm.ppf(1 - (1 - conf_level) / 2)
        lo, hi = est - crit * se, est + crit * se
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
            se = est * se
        out = pd.DataFrame(
            {
                "term": list(self.design.fixef_names),
                "estimate": est,
                "std_error": se,
                "statistic": z,
                "df": np.inf,
                "p_value": pval,
                "conf_low": lo,
                "conf_high": hi,
                "effect": "fixed",
                "group": None,
            }
        )
        if effects == "all":
            rows = []
            for r in self.varcorr().itertuples(index=False):
                if pd.isna(r.term2):
                    rows.append({"term": f"sd__{r.term1}", "estimate": r.sd, "group": r.group})
                else:
                    rows.append(
                        {"term": f"cor__{r.term1}.{r.term2}", "estimate": r.corr, "group": r.group}
                    )
            ran = pd.DataFrame(rows)
            ran["effect"] = "ran_pars"
            out = pd.concat([out, ran], ignore_index=True)
        return tidy_frame(out, context=["effect", "group"])

    def contrast(
        self, L: np.ndarray | list[float] | dict[str, float], rhs: float = 0.0
    ) -> pd.DataFrame:
        """Wald z test of ``L' beta = rhs`` for one linear combination of fixed effects.

        Parameters
        ----------
        L : array-like of length p, or dict {term: weight}
            Contrast weights (terms missing from a dict get 0).
        rhs : float
            Value under the null hypothesis (link scale).

        Returns
        -------
        DataFrame
            One row: ``estimate, std_error, statistic, df`` (inf), ``p_value``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import sleeppain as sp
        >>> rng = np.random.default_rng(1)
        >>> d = pd.DataFrame({"g": np.repeat(np.arange(20), 10), "x": rng.normal(size=200)})
        >>> eta = 0.5 * d.x + 1.5 * rng.normal(size=20)[d.g]
        >>> d["y"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
        >>> fit = sp.glmm("y ~ x + (1 | g)", d)
        >>> bool(np.isclose(fit.contrast({"x": 1.0})["statistic"].item(),
        ...                 fit.tidy()["statistic"].iloc[1]))
        True
        """
        names = list(self.design.fixef_names)
        if isinstance(L, dict):
            unknown = sorted(set(L) - set(names))
            if unknown:
                raise SpecificationError(
                    f"contrast names unknown fixed effects {unknown}; the fixed effects are "
                    f"{names}."
                )
            ell = np.array([float(L.get(n, 0.0)) for n in names])
        else:
            ell = np.asarray(L, dtype=float).ravel()
            if ell.size != len(names):
                raise SpecificationError(
                    f"contrast has {ell.size} weights for {len(names)} fixed effects {names}."
                )
        est = float(ell @ self.beta)
        se = float(np.sqrt(ell @ self.vcov_beta @ ell))
        stat = (est - rhs) / se
        return pd.DataFrame(
            [
                {
                    "estimate": est,
                    "std_error": se,
                    "statistic": stat,
                    "df": np.inf,
                    "p_value": float(2 * stats.norm.sf(abs(stat))),
                }
            ]
        )

    def glance(self) -> pd.DataFrame:
        """One-row model summary.

        Columns: ``nobs, ngroups, groups, family, link, nagq, sigma`` (1: these families
        have no scale parameter, as lme4's ``sigma()``), ``logLik, AIC, BIC, deviance``
        (``-2 logLik``, as glmer's summary prints it), ``df_resid, npar, size`` (negative
        binomial k), ``converged, singular, nevals``.
        """
        row = {
            "nobs": self.nobs,
            "ngroups": self.design.terms[0].nlevels,
            "groups": ", ".join(f"{k}: {v}" for k, v in self.ngroups.items()),
            "family": self.family,
            "link": self.link,
            "nagq": self.nagq,
            "sigma": 1.0,
            "logLik": self.loglik,
            "AIC": self.aic,
            "BIC": self.bic,
            "deviance": self.objective,
            "df_resid": self.nobs - self.npar,
            "npar": self.npar,
            "size": np.nan if self.size is None else self.size,
            "converged": self.converged,
            "singular": self.is_singular,
            "nevals": self.record.nevals,
        }
        return pd.DataFrame([row])

    def _display(self) -> Display:
        if self.family == "negative_binomial":
            fam = f"Negative Binomial({self.size:.4g})  ( log )"
        else:
            fam = f"{self.family}  ( {self.link} )"
        approx = (
            "Laplace Approximation"
            if self.nagq == 1
            else f"Adaptive Gauss-Hermite Quadrature (nAGQ = {self.nagq})"
        )
        header = (
            ("Generalized linear mixed model fit by maximum likelihood", approx),
            ("Family", fam),
            ("Formula", self.formula),
            (
                "AIC / BIC / logLik / deviance / df.resid",
                f"{self.aic:.1f} / {self.bic:.1f} / {self.loglik:.1f} / {self.objective:.1f} "
                f"/ {self.nobs - self.npar}",
            ),
            (
                "Number of obs",
                f"{self.nobs}, groups: " + ", ".join(f"{k}, {v}" for k, v in self.ngroups.items()),
            ),
        )
        vrows = []
        for t, S in zip(self.design.terms, self._term_covs(), strict=True):
            sd = np.sqrt(np.diag(S))
            for a in range(t.ncols):
                row = {
                    "Groups": t.group if a == 0 else "",
                    "Name": _r_name(t.names[a]),
                    "Variance": S[a, a],
                    "Std.Dev.": sd[a],
                }
                if t.ncols > 1:
                    row["Corr"] = (
                        ", ".join(
                            f"{S[a, b] / (sd[a] * sd[b]):.2f}" if sd[a] * sd[b] > 0 else "NaN"
                            for b in range(a)
                        )
                        if a > 0
                        else ""
                    )
                vrows.append(row)
        vtab = pd.DataFrame(vrows).set_index("Groups")
        td = self.tidy()
        coef = pd.DataFrame(
            {
                "Estimate": td["estimate"].to_numpy(),
                "Std. Error": td["std_error"].to_numpy(),
                "z value": td["statistic"].to_numpy(),
                "p_value": td["p_value"].to_numpy(),
            },
            index=[_r_name(n) for n in td["term"]],
        )
        notes = list(self.messages)
        if self.is_singular:
            notes.append("boundary (singular) fit: see help('isSingular')")
        return Display(
            title="Generalized linear mixed model (sp.glmm)",
            header=header,
            tables=(
                DisplayTable(vtab, title="Random effects:", digits=4),
                DisplayTable(coef, title="Fixed effects:", note="p_value: Pr(>|z|)", digits=5),
            ),
            notes=tuple(notes),
        )


def _new_matrix(expr: str, info: Any, newdata: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    if info is None:
        mats, full = [], []
        for raw in expr.split("+"):
            piece = raw.strip()
            if piece == "1":
                mats.append(np.ones(len(newdata)))
                full.append("Intercept")
            elif piece in ("0", "-1"):
                continue
            else:
                if piece not in newdata.columns:
                    raise SpecificationError(
                        f"newdata lacks the column {piece!r} of {expr!r}; needed: {list(names)}."
                    )
                mats.append(newdata[piece].to_numpy(dtype=float, na_value=np.nan))
                full.append(piece)
        if (
            "Intercept" not in full
            and "0" not in expr.replace(" ", "").split("+")
            and ("-1" not in expr.replace(" ", ""))
        ):
            mats.insert(0, np.ones(len(newdata)))
            full.insert(0, "Intercept")
        M = np.column_stack(mats) if mats else np.zeros((len(newdata), 0))
    else:
        try:
            (mat,) = patsy.build_design_matrices(
                [info], newdata, NA_action=patsy.NAAction(NA_types=[])
            )
        except patsy.PatsyError as exc:
            raise SpecificationError(f"cannot build {expr!r} for newdata: {exc.message}") from exc
        M = np.asarray(mat, dtype=float)
        full = list(info.column_names)
    return M[:, [full.index(n) for n in names]]


# ---------------------------------------------------------------------------------------
# the verb
# ---------------------------------------------------------------------------------------


def glmm(
    formula: str,
    data: pd.DataFrame,
    *,
    family: FamilyName = "binomial",
    nagq: int = 1,
    trials: str | None = None,
    weights: str | None = None,
    control: GlmmControl | None = None,
    start: dict[str, Any] | None = None,
) -> GlmmResult:
    """Fit a generalized linear mixed model by maximum likelihood (lme4's ``glmer``).

    Parameters
    ----------
    formula : str
        lme4 syntax, e.g. ``"flare ~ poor_night + (1 + poor_night | id)"``.
    data : DataFrame
    family : {"binomial", "poisson", "negative_binomial"}
        Links: logit, log, log. The negative binomial's ``k`` (variance
        ``mu + mu^2 / k``) is estimated jointly (``glmer.nb``).
    nagq : int
        1: Laplace approximation. > 1: adaptive Gauss-Hermite quadrature with ``nagq``
        nodes, only for one scalar random-effect term (as lme4).
    trials : str, optional
        Binomial trials column; the response then counts successes (R's
        ``cbind(successes, trials - successes)``).
    weights : str, optional
        Binomial: the response is a proportion and ``weights`` the trials (R's
        convention); counts: prior weights of each row.
    control : GlmmControl, optional
    start : dict, optional
        Starting values: ``{"theta": ..., "beta": ..., "size": ...}``.

    Returns
    -------
    GlmmResult

    Raises
    ------
    SpecificationError
        Unknown family, ``nagq`` not a whole number >= 1, or ``nagq > 1`` with more than
        one random effect (lme4's rule).
    DataStructureError
        Outcomes outside the family's support (the rows are named).

    Warns
    -----
    SeparationWarning
        A fixed-effect term separates a binary outcome (named).
    BoundaryFitWarning
        A variance at zero or a correlation at +/-1 (lme4's "boundary (singular) fit").
    ConvergenceWarning
        The optimiser or PIRLS did not converge (their records are in ``record``).

    Notes
    -----
    Reference: lme4 1.1-31 (``glmer``, ``glmer.nb``); Bates et al. (2015), section 5.
    Checked against lme4 on ``cbpp`` (Laplace and nAGQ = 25), a Poisson model on
    ``aces_daily``, a binary random-slope model and a negative-binomial model; tolerances
    in tests/mixed/test_glmm_reference.py. ``logLik`` for ``nagq > 1`` is the full
    log-likelihood; lme4 prints its deviance-residual version there (smaller by the
    saturated log-likelihood).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sleeppain as sp
    >>> rng = np.random.default_rng(7)
    >>> g = np.repeat(np.arange(25), 8)
    >>> x = rng.normal(size=200)
    >>> y = rng.poisson(np.exp(0.3 + 0.4 * x + 0.5 * rng.normal(size=25)[g]))
    >>> fit = sp.glmm("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}),
    ...               family="poisson")
    >>> fit.tidy(exponentiate=True)["term"].tolist()
    ['Intercept', 'x']
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.glmm")  # a Dask frame: typed error, no .compute()
    if family not in ("binomial", "poisson", "negative_binomial"):
        raise SpecificationError(
            f"family={family!r} is not supported; use 'binomial', 'poisson' or "
            "'negative_binomial' (ordinal outcomes: sp.clmm)."
        )
    if isinstance(nagq, bool) or not isinstance(nagq, numbers.Integral) or nagq < 1:
        raise SpecificationError(
            f"nagq={nagq!r} must be a whole number >= 1 (1 = Laplace, e.g. 25 for adaptive "
            "Gauss-Hermite quadrature)."
        )
    nagq = int(nagq)
    ctl = control or GlmmControl()
    if nagq > 1 and len(parse_formula(dotted_columns(formula, data)[0]).re_terms) != 1:
        raise SpecificationError(_AGQ_REFUSAL)
    gp = glmm_problem(formula, data, family=family, trials=trials, weights=weights, stacklevel=2)
    parsed = gp.design.parsed
    if nagq > 1 and (len(gp.design.terms) != 1 or gp.design.terms[0].ncols != 1):
        raise SpecificationError(_AGQ_REFUSAL)
    messages: list[str] = []
    if ctl.check_separation:
        sep = _separated_terms(gp)
        for name in sep:
            msg = (
                f"complete or quasi-complete separation: the outcome {parsed.response!r} does "
                f"not vary within a level of the term {name!r}; its estimate and standard "
                "error are unreliable (they diverge). Combine levels, drop the term or use a "
                "penalised (Firth / Bayesian) model."
            )
            messages.append(msg)
            warnings.warn(msg, SeparationWarning, stacklevel=2)
    opt = optimize_glmm(gp, nagq=nagq, control=ctl, start=start)
    if gp.family == "binomial" and ctl.check_separation:
        for j, name in enumerate(gp.design.fixef_names):
            if abs(opt.beta[j]) > SEPARATION_BETA and not any(name in m for m in messages):
                msg = (
                    f"the log-odds coefficient of {name!r} is {opt.beta[j]:.3g}: the term "
                    "probably separates the outcome; its estimate and standard error are "
                    "unreliable."
                )
                messages.append(msg)
                warnings.warn(msg, SeparationWarning, stacklevel=2)
    lower = gp.design.theta_lower
    if np.any(opt.theta[lower == 0] < SINGULAR_TOL):
        msg = (
            f"boundary (singular) fit of {formula!r}: theta = "
            f"{np.round(opt.theta, 5).tolist()} has a diagonal element < {SINGULAR_TOL:g} (a "
            "variance at zero or a correlation at +/-1, lme4's isSingular). Consider removing "
            "the random-effect term with zero variance."
        )
        warnings.warn(msg, BoundaryFitWarning, stacklevel=2)
    if opt.messages:
        rec = opt.record
        msg = (
            "; ".join(opt.messages)
            + f". Optimiser: {rec.method}, {rec.iterations} iterations, {rec.nevals} "
            f"evaluations, return code {rec.return_code} ({rec.message}). PIRLS at the end: "
            f"{rec.pirls_iterations} iterations, converged={rec.pirls_converged}. See "
            "fit.record; try rescaling predictors or start= values."
        )
        messages.append(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    return GlmmResult(
        formula=formula,
        family=family,
        link=GlmFamily(family).link,
        nagq=nagq,
        design=gp.design,
        beta=opt.beta,
        theta=opt.theta,
        vcov_beta=opt.vcov_beta,
        u=opt.state.u,
        eta=opt.state.eta,
        objective=opt.objective,
        size=opt.size,
        y=gp.y,
        trials=gp.trials,
        weights=gp.weights,
        accounting=gp.accounting,
        record=opt.record,
        converged=opt.converged,
        messages=tuple(messages),
        b_var=_cond_var(gp.design, opt.theta, opt.state),
    )


def _cond_var(design: Design, theta: np.ndarray, state: PirlsState) -> np.ndarray | None:
    """``diag(Lambda H_g^-1 Lambda')`` per group (one grouping factor), else None."""
    if state.H is None:
        return None
    lam = lambda_block(theta, tuple(t.ncols for t in design.terms))
    P = lam @ np.linalg.inv(state.H) @ lam.T
    return np.diagonal(P, axis1=1, axis2=2).copy()
