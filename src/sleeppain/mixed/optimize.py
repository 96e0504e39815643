"""Stages 5 and 6: optimise the profiled deviance over theta and check the optimum.

Optimisation (:func:`optimize_theta`) starts where lme4 starts (``theta = 1`` on diagonals,
0 off them) and uses scipy: TNC (truncated Newton) with the analytic gradient (block path,
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
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy.optimize import minimize

from sleeppain.errors import SpecificationError

#: (status, method) of scipy results that mean "line search cannot improve" (not a failure
#: by itself: check_convergence's gradient check decides).
_STALLED = {(2, "L-BFGS-B"), (4, "TNC"), (6, "TNC")}

#: Values tried for a diagonal theta element stuck at its bound 0 (see optimize_theta).
_BOUNDARY_PROBES = (1e-2, 1e-1, 0.5)

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
        Starting theta (lme4 order); default lme4's.
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
    >>> theta, rec = optimize_theta(dev, LmmControl())
    >>> rec.theta_start.tolist(), bool(rec.objective_end < rec.objective_start)
    ([1.0], True)
    """
    control = control or LmmControl()
    lower = np.asarray(dev.lower, dtype=float)
    if control.theta_start is not None:
        start = np.asarray(control.theta_start, dtype=float)
        if start.shape != lower.shape:
            raise SpecificationError(
                f"control.theta_start has {start.size} values; this model has "
                f"{lower.size} covariance parameters."
            )
    else:
        start = np.where(lower == 0.0, 1.0, 0.0)
    t0 = time.perf_counter()
    nev = [0]

    def fun(th: np.ndarray) -> tuple[float, np.ndarray]:
        nev[0] += 1
        return dev.value_and_grad(th)

    f0 = float(dev(start))
    if control.bounded:
        bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    else:
        bounds = None
    method, opts = _scipy_method(control, f0, getattr(dev, "has_analytic_gradient", False))
    res = minimize(fun, start, jac=True, method=method, bounds=bounds, options=opts)
    nit = int(res.nit)
    restarts = 0
    # A diagonal element of theta exactly at 0 can be a stationary point that is not a
    # minimum: for a scalar term the criterion is even in theta_k, so its gradient there is
    # exactly 0 and a gradient method stays (bounded optimisers stop there; any optimiser
    # started there). Probe away from 0 and restart if that is lower.
    while restarts < 5:
        at_bound = np.flatnonzero((lower == 0.0) & (np.abs(res.x) <= 0.0))
        if at_bound.size == 0:
            break
        best_x, best_f = None, float(res.fun)
        for k in at_bound:
            for h in _BOUNDARY_PROBES:
                x = res.x.copy()
                x[k] = h
                fx = float(dev(x))
                nev[0] += 1
                if fx < best_f - 1e-10 * max(1.0, abs(best_f)):
                    best_x, best_f = x, fx
        if best_x is None:
            break
        restarts += 1
        res = minimize(fun, best_x, jac=True, method=method, bounds=bounds, options=opts)
        nit += int(res.nit)
    theta = canonical_theta(np.asarray(res.x, dtype=float), lower)
    polished = escapes = 0
    for _ in range(4):
        theta, k, direction = _newton_polish(dev, theta, lower)
        polished += k
        if direction is None:
            break
        # a saddle point (e.g. where the mirror images of a Cholesky column meet at 0):
        # step along the direction of negative curvature and optimise again
        f_here = float(dev(theta))
        best_x, best_f = None, f_here
        for h in (1e-2, 1e-1, 0.5):
            for sign in (1.0, -1.0):
                x = theta + sign * h * direction
                if control.bounded:
                    x = np.maximum(x, lower)
                fx = float(dev(x))
                nev[0] += 1
                if fx < best_f - 1e-10 * max(1.0, abs(best_f)):
                    best_x, best_f = x, fx
        if best_x is None:
            break
        escapes += 1
        res = minimize(fun, best_x, jac=True, method=method, bounds=bounds, options=opts)
        nit += int(res.nit)
        theta = canonical_theta(np.asarray(res.x, dtype=float), lower)
    fval, grad = dev.value_and_grad(theta)
    record = ConvergenceRecord(
        optimizer=f"scipy {method}",
        theta_start=start,
        theta_end=theta.copy(),
        objective_start=f0,
        objective_end=float(fval),
        nevals=nev[0],
        niter=nit,
        gradient=np.asarray(grad, dtype=float),
        scaled_gradient=None,
        hessian=None,
        # a line search that cannot improve happens at an optimum when the criterion is
        # flat to rounding; the gradient check in check_convergence then decides.
        converged=bool(res.success) or (int(res.status), method) in _STALLED,
        message=str(res.message)
        + (f"; {polished} Newton polishing step(s)" if polished else "")
        + (f"; {escapes} escape(s) from a saddle point" if escapes else "")
        + (f" (after {restarts} restart(s) off the boundary)" if restarts else ""),
        warnings=(),
        seconds=time.perf_counter() - t0,
    )
    return theta, record


def _newton_polish(
    dev: Any, theta: np.ndarray, lower: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray | None]:
    """A few safeguarded Newton steps from the optimiser's end point.

    Quasi-Newton optimisers stop when the criterion stops changing in its ~12th digit,
    which can leave theta ~1e-4 from the optimum; derived quantities (Satterthwaite df,
    tiny p-values) are sensitive to that. The Hessian is the central difference of the
    gradient (analytic, or itself a central difference on the Schur path, whose ~1e-6
    absolute accuracy then sets the precision of the optimum); parameters held at their
    bound with an outward gradient stay fixed. A step is kept only if it lowers the
    criterion.

    Returns
    -------
    theta, steps, direction
        ``direction`` is a unit direction of negative curvature when the end point is a
        saddle (the caller escapes along it), else None.
    """
    steps = 0
    f, g = dev.value_and_grad(theta)
    for _ in range(4):
        free = ~((lower == 0.0) & (theta <= 0.0) & (g >= 0.0))
        if not free.any():
            break
        H = richardson_jacobian(lambda th: dev.value_and_grad(th)[1], theta, levels=1)
        H = 0.5 * (H + H.T)[np.ix_(free, free)]
        evals, evecs = np.linalg.eigh(H)
        if evals[0] < -1e-6 * max(1.0, float(np.abs(evals).max())):
            d = np.zeros_like(theta)
            d[free] = evecs[:, 0]
            return theta, steps, d
        if evals[0] <= 0:
            break
        step = np.linalg.solve(H, g[free])
        new = theta.copy()
        new[free] -= step
        new = np.maximum(new, lower)
        f_new, g_new = dev.value_and_grad(new)
        if not f_new < f:
            break
        theta, f, g = new, f_new, g_new
        steps += 1
        if np.max(np.abs(step)) < 1e-10 * max(1.0, float(np.max(np.abs(theta)))):
            break
    return theta, steps, None


def _scipy_method(control: LmmControl, f0: float, analytic: bool) -> tuple[str, dict[str, Any]]:
    name = control.optimizer.lower()
    if name == "auto":
        name = "tnc" if analytic else "l-bfgs-b"
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

    The Hessian of the criterion is the central difference of the gradient.

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

        def g(th: np.ndarray) -> np.ndarray:
            return dev.value_and_grad(th)[1]

        H = richardson_jacobian(g, theta, levels=1)
        H = 0.5 * (H + H.T)
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
