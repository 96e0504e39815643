"""Stages 5 and 6: optimise the profiled deviance over theta and check the optimum.

Optimisation (:func:`optimize_theta`) starts from a method-of-moments estimate of theta
when the evaluator has one (one grouping factor) and it is better than lme4's start
(``theta = 1`` on diagonals, 0 off them; ``LmmControl(start="lme4")`` always starts there),
and uses scipy: TNC (truncated Newton) with the analytic gradient (block path,
small general designs), L-BFGS-B with central-difference gradients (Schur path), within
lme4's bounds (``LmmControl(bounded=False)`` optimises without bounds and sign-normalises
the columns of each relative Cholesky factor afterwards, :func:`canonical_theta`). Two
safeguards against stopping where lme4's derivative-free BOBYQA would not: a diagonal
element left exactly at 0 (where the criterion of a scalar term is even, so its gradient
vanishes) is probed and the optimisation restarted if the criterion falls, and an end point
whose Hessian has a negative eigenvalue (a saddle) is left along that direction and
optimised again. A few safeguarded Newton steps then polish the end point (derived
quantities such as Satterthwaite df are sensitive to the last digits of theta).

The checks (:func:`check_convergence`) follow lme4 1.1-31's ``checkConv``: a fit is
singular when a diagonal element of theta is below 1e-4 (``isSingular(tol = 1e-4)``), and
the gradient check uses ``min(|H^{-1/2} g|, |g|) <= 2e-3`` (``check.conv.grad``), ignoring
components at their bound with a gradient pointing outwards (the Karush-Kuhn-Tucker
condition of a boundary optimum).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sleeppain.mixed import build_design, deviance_from_design, optimize_theta
>>> rng = np.random.default_rng(3)
>>> g = np.repeat(np.arange(12), 8)
>>> df = pd.DataFrame({"y": rng.normal(size=96) + rng.normal(size=12)[g], "g": g})
>>> dev = deviance_from_design(build_design("y ~ 1 + (1 | g)", df))
>>> theta, rec = optimize_theta(dev)
>>> rec.converged
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy.optimize import minimize

from sleeppain.errors import EstimationError, SpecificationError

#: (status, method) of scipy results that mean "line search cannot improve" (not a failure
#: by itself: check_convergence's gradient check decides).
_STALLED = {(2, "L-BFGS-B"), (4, "TNC"), (6, "TNC")}

#: Values tried for a diagonal theta element stuck at its bound 0 (see optimize_theta).
_BOUNDARY_PROBES = (1e-2, 1e-1, 0.5)


def _lower_point(
    dev: Callable[[np.ndarray], float],
    candidates: list[np.ndarray],
    f_ref: float,
    nev: list[int],
) -> np.ndarray | None:
    """The candidate with the lowest criterion if it beats ``f_ref`` (relative 1e-10), else None.

    Used to probe away from stationary points that are not minima (a variance at 0, a
    saddle); ``nev[0]`` counts the evaluations.
    """
    best_x, best_f = None, f_ref
    for x in candidates:
        fx = float(dev(x))
        nev[0] += 1
        if fx < best_f - 1e-10 * max(1.0, abs(best_f)):
            best_x, best_f = x, fx
    return best_x


__all__ = [
    "ConvergenceRecord",
    "LmmControl",
    "check_convergence",
    "is_singular",
    "optimize_theta",
    "richardson_jacobian",
]


@dataclass(frozen=True)
class LmmControl:
    """Settings of the fit (the analogue of ``lmerControl``).

    Attributes
    ----------
    method : {"auto", "block", "general"}
        Deviance evaluator (see :func:`~sleeppain.mixed.deviance_from_design`).
    optimizer : {"auto", "tnc", "l-bfgs-b"}
        scipy's bounded truncated Newton (TNC) or L-BFGS-B. ``"auto"`` uses TNC with an
        analytic gradient (it reaches the same optimum as L-BFGS-B with a tenth of scipy
        1.17's L-BFGS-B per-iteration overhead) and L-BFGS-B with a finite-difference
        gradient (fewer gradient evaluations).
    maxiter : int
        Maximum iterations (L-BFGS-B) or function evaluations (TNC).
    ftol, gtol : float
        L-BFGS-B stopping tolerances (relative reduction of the criterion; projected
        gradient); TNC uses ``ftol`` as its absolute tolerance on the criterion (scaled by
        ``max(1, |f|)``) and ``gtol`` on the projected gradient.
    boundary_tol : float
        ``isSingular`` tolerance (lme4: 1e-4).
    grad_tol : float
        Tolerance of the scaled-gradient check (lme4 ``check.conv.grad``: 2e-3).
    check_conv : bool
        Run the gradient/Hessian check after optimising.
    theta_start : sequence of float or None
        Starting theta (lme4 order); default: see ``start``.
    start : {"moments", "lme4"}
        Default starting point when ``theta_start`` is None. ``"lme4"``: lme4's (1 on
        the diagonal of theta, 0 off it). ``"moments"`` (default): the evaluator's
        method-of-moments estimate (one grouping factor, see
        :meth:`~sleeppain.mixed.BlockDeviance.moment_start`) when it exists and its
        criterion is below that of lme4's start, else lme4's. A start near the optimum
        saves most of the optimiser's evaluations; the optimum is the same.
    bounded : bool
        Optimise with lme4's bounds (diagonal of theta >= 0; default). ``False`` optimises
        without bounds and then flips the sign of any column of a relative Cholesky factor
        whose diagonal element is negative (the criterion depends on ``Lambda Lambda'``
        only, so this is the same problem).

    Examples
    --------
    >>> LmmControl.coerce({"optimizer": "l-bfgs-b"}).optimizer
    'l-bfgs-b'
    """

    method: str = "auto"
    optimizer: str = "auto"
    maxiter: int = 1000
    ftol: float = 1e-12
    gtol: float = 1e-6
    boundary_tol: float = 1e-4
    grad_tol: float = 2e-3
    check_conv: bool = True
    theta_start: tuple[float, ...] | None = None
    bounded: bool = True
    start: str = "moments"

    @classmethod
    def coerce(cls, control: LmmControl | dict[str, Any] | None) -> LmmControl:
        """Accept an LmmControl, a dict of its fields, or None (defaults)."""
        if control is None:
            return cls()
        if isinstance(control, cls):
            return control
        if isinstance(control, dict):
            names = {f.name for f in fields(cls)}
            bad = sorted(set(control) - names)
            if bad:
                raise SpecificationError(
                    f"unknown control setting(s) {bad}; valid settings: {sorted(names)}."
                )
            return cls(**control)
        raise SpecificationError(
            f"control must be an LmmControl, a dict or None, got {type(control).__name__}."
        )


@dataclass(frozen=True)
class ConvergenceRecord:
    """The optimiser's record (provenance of a fit).

    Attributes
    ----------
    optimizer : str
    theta_start, theta_end : ndarray
    objective_start, objective_end : float
    nevals : int
        Deviance evaluations by the optimiser (each returns value and gradient).
    niter : int
    gradient : ndarray
        Gradient of the criterion at the end.
    scaled_gradient : ndarray or None
        ``H^{-1/2} g`` as lme4 computes it (None when the Hessian is not positive definite).
    hessian : ndarray or None
        Hessian of the criterion at ``theta_end`` (central differences of the gradient),
        formed once for the Newton polish and reused by :func:`check_convergence`.
    converged : bool
        Optimiser success and the gradient check passed.
    message : str
        The optimiser's return message.
    warnings : tuple of str
    seconds : float
        Time spent optimising.
    """

    optimizer: str
    theta_start: np.ndarray
    theta_end: np.ndarray
    objective_start: float
    objective_end: float
    nevals: int
    niter: int
    gradient: np.ndarray
    scaled_gradient: np.ndarray | None
    hessian: np.ndarray | None
    converged: bool
    message: str
    warnings: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0


def optimize_theta(
    dev: Any, control: LmmControl | None = None
) -> tuple[np.ndarray, ConvergenceRecord]:
    """Minimise the profiled deviance over theta (TNC or L-BFGS-B; see the module notes).

    Parameters
    ----------
    dev : BlockDeviance or GeneralDeviance
    control : LmmControl, optional

    Returns
    -------
    theta : ndarray
    record : ConvergenceRecord
        Before the checks of :func:`check_convergence` (``converged`` reflects the
        optimiser only).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(12), 8)
    >>> df = pd.DataFrame({"x": rng.normal(size=96), "g": g})
    >>> df["y"] = df.x + rng.normal(size=12)[g] + rng.normal(size=96)
    >>> from sleeppain.mixed import build_design, deviance_from_design
    >>> dev = deviance_from_design(build_design("y ~ x + (1 | g)", df))
    >>> theta, rec = optimize_theta(dev, LmmControl(start="lme4"))
    >>> rec.theta_start.tolist(), bool(rec.objective_end < rec.objective_start)
    ([1.0], True)
    >>> theta2, rec2 = optimize_theta(dev)  # from the moment estimate: same optimum
    >>> bool(abs(rec2.objective_end - rec.objective_end) < 1e-8), rec2.nevals < rec.nevals
    (True, True)
    """
    control = control or LmmControl()
    run = _Run(dev, control)
    start, f0 = run.start_point()
    res = run.minimize(start)
    res, restarts = run.off_boundary(res)
    theta, res, polished, escapes, hess = run.polish(res)
    return theta, run.record(start, f0, theta, res, hess, (polished, escapes, restarts))


class _Run:
    """One optimisation, in stages: start point -> minimise -> restarts off the boundary
    -> Newton polish and saddle escapes -> record (:func:`optimize_theta` runs them).

    Holds the memoised ``(value, gradient)`` of every point of the run (the optimiser's
    first and last points are evaluated again by the stages around it) and the counts.
    """

    def __init__(self, dev: Any, control: LmmControl) -> None:
        self.dev, self.control = dev, control
        self.lower = np.asarray(dev.lower, dtype=float)
        # parameters after the first ``nre`` (a residual structure's) are unbounded and
        # belong to no Cholesky column
        self.nre = int(getattr(dev, "ntheta_re", self.lower.size))
        self.lower_re = self.lower[: self.nre]
        self.t0 = time.perf_counter()
        self.nev = [0]
        self.nit = 0
        self.seen: dict[bytes, tuple[float, np.ndarray]] = {}
        self.bounds = (
            [(lo if np.isfinite(lo) else None, None) for lo in self.lower]
            if control.bounded
            else None
        )
        self.method = ""
        self.opts: dict[str, Any] = {}

    def value_and_grad(self, th: np.ndarray) -> tuple[float, np.ndarray]:
        th = np.asarray(th, dtype=float)
        key = th.tobytes()
        hit = self.seen.get(key)
        if hit is None:
            f, g = self.dev.value_and_grad(th)
            hit = self.seen[key] = (float(f), np.array(g, dtype=float))
        return hit[0], hit[1].copy()

    def fun(self, th: np.ndarray) -> tuple[float, np.ndarray]:
        self.nev[0] += 1
        return self.value_and_grad(th)

    def start_point(self) -> tuple[np.ndarray, float]:
        """lme4's start, or the evaluator's moment start when it is lower; picks the
        scipy method (its tolerance scales with the criterion at the start)."""
        control, lower = self.control, self.lower
        if control.theta_start is not None:
            start = np.asarray(control.theta_start, dtype=float)
            if start.shape != lower.shape:
                raise SpecificationError(
                    f"control.theta_start has {start.size} values; this model has "
                    f"{lower.size} covariance parameters."
                )
        else:
            start = np.where(lower == 0.0, 1.0, 0.0)
            if control.start not in ("moments", "lme4"):
                raise SpecificationError(
                    f"unknown control.start {control.start!r}; use 'moments' or 'lme4'."
                )
        f0 = self.value_and_grad(start)[0]
        if control.theta_start is None and control.start == "moments":
            moments = getattr(self.dev, "moment_start", None)
            cand = moments() if moments is not None else None
            if cand is not None:
                try:
                    f_cand = self.value_and_grad(cand)[0]
                except EstimationError:
                    f_cand = np.inf
                if f_cand < f0:
                    start, f0 = np.asarray(cand, dtype=float), f_cand
        self.method, self.opts = _scipy_method(
            control,
            f0,
            getattr(self.dev, "has_analytic_gradient", False),
            getattr(self.dev, "preferred_optimizer", None),
        )
        return start, f0

    def minimize(self, x0: np.ndarray) -> Any:
        res = minimize(
            self.fun, x0, jac=True, method=self.method, bounds=self.bounds, options=self.opts
        )
        self.nit += int(res.nit)
        return res

    def off_boundary(self, res: Any) -> tuple[Any, int]:
        """Restart from probes off a diagonal element of theta stuck at exactly 0.

        Such a point can be stationary without being a minimum: for a scalar term the
        criterion is even in theta_k, so its gradient there is exactly 0 and a gradient
        method stays (bounded optimisers stop there; any optimiser started there).
        """
        nre, lower_re = self.nre, self.lower_re
        restarts = 0
        while restarts < 5:
            at_bound = np.flatnonzero((lower_re == 0.0) & (np.abs(res.x[:nre]) <= 0.0))
            if at_bound.size == 0:
                break
            candidates = []
            for k in at_bound:
                # with the diagonal element at 0, the column's mirror image (elements below
                # it negated) is the same model, but the criterion's slope in the diagonal
                # element changes sign: from one image increasing it goes uphill, from the
                # other down
                end = _column_end(lower_re, int(k))
                images = [res.x.copy()]
                if np.any(res.x[k + 1 : end] != 0.0):
                    mirror = res.x.copy()
                    mirror[k + 1 : end] = -mirror[k + 1 : end]
                    images.append(mirror)
                for image in images:
                    for h in _BOUNDARY_PROBES:
                        x = image.copy()
                        x[k] = h
                        candidates.append(x)
            best_x = _lower_point(self.dev, candidates, float(res.fun), self.nev)
            if best_x is None:
                break
            restarts += 1
            res = self.minimize(best_x)
        return res, restarts

    def polish(self, res: Any) -> tuple[np.ndarray, Any, int, int, np.ndarray | None]:
        """Newton polish of the end point; at a saddle, escape along the direction of
        negative curvature and optimise again (at most 4 rounds)."""
        dev, lower = self.dev, self.lower
        theta = _canonical(res.x, self.lower_re)
        polished = escapes = 0
        hess: np.ndarray | None = None
        for _ in range(4):
            theta, k, direction, hess = _newton_polish(dev, theta, lower, self.value_and_grad)
            polished += k
            if direction is None:
                break
            # a saddle point (e.g. where the mirror images of a Cholesky column meet at 0)
            steps = [sign * h * direction for h in _BOUNDARY_PROBES for sign in (1.0, -1.0)]
            candidates = [
                np.maximum(theta + s, lower) if self.control.bounded else theta + s for s in steps
            ]
            best_x = _lower_point(dev, candidates, float(dev(theta)), self.nev)
            if best_x is None:
                break
            escapes += 1
            res = self.minimize(best_x)
            theta = _canonical(res.x, self.lower_re)
        return theta, res, polished, escapes, hess

    def record(
        self,
        start: np.ndarray,
        f0: float,
        theta: np.ndarray,
        res: Any,
        hess: np.ndarray | None,
        counts: tuple[int, int, int],
    ) -> ConvergenceRecord:
        polished, escapes, restarts = counts
        fval, grad = self.value_and_grad(theta)
        return ConvergenceRecord(
            optimizer=f"scipy {self.method}",
            theta_start=start,
            theta_end=theta.copy(),
            objective_start=f0,
            objective_end=float(fval),
            nevals=self.nev[0],
            niter=self.nit,
            gradient=np.asarray(grad, dtype=float),
            scaled_gradient=None,
            hessian=hess,
            # a line search that cannot improve happens at an optimum when the criterion
            # is flat to rounding; the gradient check in check_convergence then decides.
            converged=bool(res.success) or (int(res.status), self.method) in _STALLED,
            message=str(res.message)
            + (f"; {polished} Newton polishing step(s)" if polished else "")
            + (f"; {escapes} escape(s) from a saddle point" if escapes else "")
            + (f" (after {restarts} restart(s) off the boundary)" if restarts else ""),
            warnings=(),
            seconds=time.perf_counter() - self.t0,
        )


def _canonical(x: np.ndarray, lower_re: np.ndarray) -> np.ndarray:
    """:func:`canonical_theta` on the covariance part of ``x``; the rest is copied."""
    x = np.array(x, dtype=float, copy=True)
    nre = lower_re.size
    x[:nre] = canonical_theta(x[:nre], lower_re)
    return x


def _newton_polish(
    dev: Any, theta: np.ndarray, lower: np.ndarray, value_and_grad: Any = None
) -> tuple[np.ndarray, int, np.ndarray | None, np.ndarray | None]:
    """A few safeguarded Newton steps from the optimiser's end point.

    Quasi-Newton optimisers stop when the criterion stops changing in its ~12th digit,
    which can leave theta ~1e-4 from the optimum; derived quantities (Satterthwaite df,
    tiny p-values) are sensitive to that. The Hessian is the central difference of the
    gradient (analytic, or itself a central difference on the Schur path, whose ~1e-6
    absolute accuracy then sets the precision of the optimum), formed once at the
    optimiser's end point and kept for the following steps (a simplified Newton method:
    over steps of ~1e-4 the Hessian changes far less than needed to slow convergence);
    parameters held at their bound with an outward gradient stay fixed. A step is kept
    only if it lowers the criterion.

    ``value_and_grad`` (default ``dev.value_and_grad``) may be a memoised version of it.

    Returns
    -------
    theta, steps, direction, hessian
        ``direction`` is a unit direction of negative curvature when the end point is a
        saddle (the caller escapes along it), else None. ``hessian`` is the Hessian of the
        criterion at the returned theta (recomputed there if the steps moved theta by more
        than the difference step), for :func:`check_convergence`; None if none was formed.
    """
    value_and_grad = value_and_grad or dev.value_and_grad
    steps = 0
    f, g = value_and_grad(theta)
    H_full: np.ndarray | None = None
    at = theta
    for _ in range(4):
        free = ~((lower == 0.0) & (theta <= 0.0) & (g >= 0.0))
        if not free.any():
            break
        if H_full is None:
            H_full = _gradient_hessian(dev, theta)
            at = theta
        H = H_full[np.ix_(free, free)]
        evals, evecs = np.linalg.eigh(H)
        if evals[0] < -1e-6 * max(1.0, float(np.abs(evals).max())):
            d = np.zeros_like(theta)
            d[free] = evecs[:, 0]
            return theta, steps, d, None
        if evals[0] <= 0:
            break
        step = np.linalg.solve(H, g[free])
        new = theta.copy()
        new[free] -= step
        new = np.maximum(new, lower)
        f_new, g_new = value_and_grad(new)
        if not f_new < f:
            break
        theta, f, g = new, f_new, g_new
        steps += 1
        if np.max(np.abs(step)) < 1e-10 * max(1.0, float(np.max(np.abs(theta)))):
            break
    if H_full is not None and np.any(np.abs(theta - at) > _hessian_steps(at)):
        H_full = _gradient_hessian(dev, theta)
    return theta, steps, None, H_full


def _hessian_steps(x: np.ndarray) -> np.ndarray:
    """Difference steps of :func:`richardson_jacobian` (``levels = 1``) at ``x``."""
    ax = np.abs(x)
    return np.where(ax > 1e-8, 1e-4 * ax, 1e-4)


def _gradient_hessian(dev: Any, theta: np.ndarray) -> np.ndarray:
    """Symmetrised central difference of the gradient (``2 k`` gradient evaluations)."""
    H = richardson_jacobian(lambda th: dev.value_and_grad(th)[1], theta, levels=1)
    return 0.5 * (H + H.T)


def _scipy_method(
    control: LmmControl, f0: float, analytic: bool, preferred: str | None = None
) -> tuple[str, dict[str, Any]]:
    name = control.optimizer.lower()
    if name == "auto":
        name = preferred or ("tnc" if analytic else "l-bfgs-b")
    if name == "l-bfgs-b":
        return "L-BFGS-B", {
            "maxiter": control.maxiter,
            "ftol": control.ftol,
            "gtol": control.gtol,
            "maxcor": 20,
        }
    if name == "tnc":
        return "TNC", {
            "maxfun": control.maxiter,
            "ftol": control.ftol * max(1.0, abs(f0)),
            "gtol": control.gtol,
        }
    raise SpecificationError(
        f"unknown optimizer {control.optimizer!r}; use 'auto', 'tnc' or 'l-bfgs-b'."
    )


def _column_end(lower: np.ndarray, k: int) -> int:
    """End (exclusive) of the run of theta holding the Cholesky column whose diagonal is ``k``.

    In lme4's layout a column is its diagonal element (lower bound 0) followed by the
    elements below it (lower bound -inf), up to the next diagonal element.
    """
    later = np.flatnonzero(np.asarray(lower)[k + 1 :] == 0.0)
    return int(k + 1 + later[0]) if later.size else int(np.asarray(lower).size)


def canonical_theta(theta: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Flip signs of Cholesky-factor columns so every diagonal element of theta is >= 0.

    In lme4's layout each column of a term's factor is a run of theta: its diagonal element
    (lower bound 0) followed by the elements below it (lower bound -inf). Flipping a
    column's sign leaves ``Lambda Lambda'`` and hence the criterion unchanged.

    Examples
    --------
    >>> canonical_theta(np.array([-1.0, 0.5, 2.0]), np.array([0.0, -np.inf, 0.0])).tolist()
    [1.0, -0.5, 2.0]
    """
    theta = np.array(theta, dtype=float, copy=True)
    lower = np.asarray(lower)
    starts = np.flatnonzero(lower == 0.0)
    if starts.size == 0:
        return theta
    ends = np.append(starts[1:], lower.size)
    for a, b in zip(starts, ends, strict=True):
        if theta[a] < 0.0:
            theta[a:b] = -theta[a:b]
    return theta


def is_singular(theta: np.ndarray, lower: np.ndarray, tol: float = 1e-4) -> bool:
    """lme4's ``isSingular``: any bounded (diagonal) element of theta below ``tol``.

    Examples
    --------
    >>> is_singular(np.array([0.0, 0.3]), np.array([0.0, -np.inf]))
    True
    """
    lower = np.asarray(lower)
    return bool(np.any(np.asarray(theta)[lower == 0.0] < tol))


def richardson_jacobian(
    f: Any, x: np.ndarray, *, rel_step: float = 1e-4, zero_step: float = 1e-4, levels: int = 4
) -> np.ndarray:
    """Jacobian of a vector function by central differences with Richardson extrapolation.

    The scheme of numDeriv's ``jacobian(method = "Richardson")`` (step ``d |x|``, or
    ``eps`` at 0; ``r = 4`` halvings), which lmerTest uses.

    Returns
    -------
    ndarray, shape (len(f(x)), len(x))

    Examples
    --------
    >>> J = richardson_jacobian(lambda z: np.array([z[0] ** 3, z[0] * z[1]]), np.array([1.0, 2.0]))
    >>> np.allclose(J, [[3, 0], [2, 1]], rtol=1e-10)
    True
    """
    x = np.asarray(x, dtype=float)
    f0 = np.atleast_1d(np.asarray(f(x), dtype=float)).ravel()
    J = np.empty((f0.size, x.size))
    for k in range(x.size):
        h = rel_step * abs(x[k]) if abs(x[k]) > 1e-8 else zero_step
        table = []
        for _ in range(levels):
            e = np.zeros_like(x)
            e[k] = h
            fp = np.atleast_1d(np.asarray(f(x + e), dtype=float)).ravel()
            fm = np.atleast_1d(np.asarray(f(x - e), dtype=float)).ravel()
            table.append((fp - fm) / (2 * h))
            h /= 2.0
        # Richardson: eliminate h^2, h^4, ...
        for m in range(1, levels):
            fac = 4.0**m
            table = [(fac * table[i + 1] - table[i]) / (fac - 1) for i in range(len(table) - 1)]
        J[:, k] = table[0]
    return J


def richardson_hessian(f: Any, x: np.ndarray, *, step: float = 1e-3, levels: int = 3) -> np.ndarray:
    """Hessian of a scalar function from its values, with Richardson extrapolation.

    Second differences with steps ``h_i = step * max(|x_i|, 0.1)``, halved ``levels - 1``
    times and extrapolated (as numDeriv's ``genD``). The steps are larger than those of a
    first derivative because rounding noise in a second difference grows as ``1/h^2``.

    Examples
    --------
    >>> H = richardson_hessian(lambda z: z[0] ** 2 * z[1] + np.exp(z[1]), np.array([1.0, 0.5]))
    >>> np.allclose(H, [[1.0, 2.0], [2.0, np.exp(0.5)]], rtol=1e-6)
    True
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    f0 = float(f(x))
    h0 = step * np.maximum(np.abs(x), 0.1)
    table = []
    for lev in range(levels):
        h = h0 / 2.0**lev
        H = np.empty((k, k))
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            H[i, i] = (float(f(x + ei)) - 2.0 * f0 + float(f(x - ei))) / h[i] ** 2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = h[j]
                H[i, j] = H[j, i] = (
                    float(f(x + ei + ej))
                    - float(f(x + ei - ej))
                    - float(f(x - ei + ej))
                    + float(f(x - ei - ej))
                ) / (4.0 * h[i] * h[j])
        table.append(H)
    for m in range(1, levels):
        fac = 4.0**m
        table = [(fac * table[i + 1] - table[i]) / (fac - 1) for i in range(len(table) - 1)]
    return table[0]


def check_convergence(
    dev: Any, theta: np.ndarray, record: ConvergenceRecord, control: LmmControl
) -> ConvergenceRecord:
    """lme4-style post-fit checks; returns the record with checks and messages added.

    The Hessian of the criterion is the central difference of the gradient: the one
    :func:`optimize_theta` formed at ``theta`` (``record.hessian``) when there is one, else
    computed here.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(12), 8)
    >>> df = pd.DataFrame({"x": rng.normal(size=96), "g": g})
    >>> df["y"] = df.x + rng.normal(size=12)[g] + rng.normal(size=96)
    >>> from sleeppain.mixed import build_design, deviance_from_design
    >>> dev = deviance_from_design(build_design("y ~ x + (1 | g)", df))
    >>> theta, rec = optimize_theta(dev)
    >>> checked = check_convergence(dev, theta, rec, LmmControl())
    >>> checked.converged, checked.hessian.shape
    (True, (1, 1))
    """
    from dataclasses import replace

    msgs: list[str] = []
    converged = record.converged
    if not record.converged:
        msgs.append(f"optimizer ({record.optimizer}) did not converge: {record.message}")
    lower = np.asarray(dev.lower)
    grad = record.gradient
    H = scaled = None
    if control.check_conv:
        H = record.hessian
        if (
            H is None
            or H.shape != (theta.size, theta.size)
            or not np.array_equal(theta, record.theta_end)
        ):
            H = _gradient_hessian(dev, theta)
        free = ~((lower == 0.0) & (theta <= lower) & (grad >= 0.0))
        gf = grad[free]
        try:
            R = np.linalg.cholesky(H[np.ix_(free, free)])
            scaled = np.linalg.solve(R, gf)
            mingrad = np.minimum(np.abs(scaled), np.abs(gf))
        except np.linalg.LinAlgError:
            mingrad = np.abs(gf)
            if gf.size:
                msgs.append(
                    "Hessian of the criterion is not positive definite at the optimum: the "
                    "model may be unidentifiable (check.conv.hess)"
                )
        if mingrad.size and mingrad.max() > control.grad_tol:
            converged = False
            w = int(np.flatnonzero(free)[np.argmax(mingrad)]) + 1
            msgs.append(
                f"Model failed to converge with max|grad| = {mingrad.max():.6g} "
                f"(tol = {control.grad_tol:g}, component {w})"
            )
    return replace(
        record,
        hessian=H,
        scaled_gradient=scaled,
        converged=converged,
        warnings=tuple(msgs),
    )
