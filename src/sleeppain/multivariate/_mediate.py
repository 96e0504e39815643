"""Within-person 1-1-1 mediation, Bauer, Preacher & Gil (2006): :func:`mediation`.

The mediator and outcome equations are stacked in one mixed model with indicator variables
(``Sm``, ``Sy``), each with its own random intercept, random a and b slopes, all random
effects correlated, and one residual variance per equation (nlme's ``varIdent``).

Two engines fit it, and both are checked against nlme 3.1's ``lme`` with ``varIdent``
(tests/reference/mediation/):

* ``"lmm"``: :func:`sleeppain.lmm` with ``weights="group:_eq"`` (joint optimisation of theta
  and the variance ratio);
* ``"profile"``: the residual SD ratio ``delta`` of the outcome equation is profiled out by
  a one-dimensional search; for each ``delta`` the outcome rows are divided by ``delta``
  (response, fixed and random columns), which makes the residuals homoscedastic, and the
  per-person cross-products (``block_stats`` of the mixed engine, computed once for each
  equation, combined as ``S_m + S_y / delta^2``) give lme4's profiled deviance over theta.
  The criterion of the original data is that deviance plus ``2 n_y log(delta)`` (the
  Jacobian of the rescaling; the same for ML and REML).

The standard error of ``cov(a_j, b_j)`` comes from the observed information of all variance
parameters ``(theta, sigma, log delta)`` (a Richardson Hessian of the deviance not profiled
over sigma, as lmerTest's ``devfun_vp``) by the delta method.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from sleeppain.analysis._person import _lower_tri
from sleeppain.errors import (
    ConvergenceWarning,
    DataStructureError,
    EstimationError,
    SpecificationError,
)
from sleeppain.multivariate._medresult import MediationResult
from sleeppain.multivariate._prep import as_diary, names, rewarn, within_variance_check
from sleeppain.results import check_conf_level, check_n_boot, check_seed

__all__ = ["mediation", "monte_carlo_effects", "stack_bpg"]

_RANDOM = ("a", "b", "c_prime")
_ENGINES = ("auto", "lmm", "profile")
#: bounds of log(delta) searched by the profile engine (SD ratios 1/150 .. 150)
_LOG_DELTA_BOUND = 5.0


def stack_bpg(
    x_w: np.ndarray,
    x_b: np.ndarray,
    m1: np.ndarray,
    m_w: np.ndarray,
    m_b: np.ndarray,
    y1: np.ndarray,
    cov: np.ndarray,
    random: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, list[str]]:
    """The stacked design of Bauer, Preacher & Gil (2006) for complete person-day pairs.

    Rows ``0..n-1`` are the mediator equation, rows ``n..2n-1`` the outcome equation.

    Returns
    -------
    z : ndarray (2n,)
    X : ndarray (2n, p)
    x_names : list of str
        ``Sm, Sm_x, Sm_xb, [Sm_cov_k], Sy, Sy_m, Sy_x, Sy_mb, Sy_xb, [Sy_cov_k]``.
    Zc : ndarray (2n, q)
    z_names : list of str
        ``Sm, [Sm_x], Sy, [Sy_m], [Sy_x]``.

    Examples
    --------
    >>> o = np.ones(3)
    >>> z, X, xn, Z, zn = stack_bpg(o, o, o, o, o, o, np.empty((3, 0)), ("a", "b"))
    >>> X.shape, zn
    ((6, 8), ['Sm', 'Sm_x', 'Sy', 'Sy_m'])
    """
    n = len(x_w)
    zero = np.zeros(n)
    one = np.ones(n)
    k = cov.shape[1]
    cols_m = [one, x_w, x_b, *[cov[:, c] for c in range(k)]]
    cols_y = [one, m_w, x_w, m_b, x_b, *[cov[:, c] for c in range(k)]]
    X = np.zeros((2 * n, len(cols_m) + len(cols_y)))
    for c, v in enumerate(cols_m):
        X[:n, c] = v
    for c, v in enumerate(cols_y):
        X[n:, len(cols_m) + c] = v
    x_names = ["Sm", "Sm_x", "Sm_xb", *[f"Sm_cov{c}" for c in range(k)]]
    x_names += ["Sy", "Sy_m", "Sy_x", "Sy_mb", "Sy_xb", *[f"Sy_cov{c}" for c in range(k)]]
    zc = [("Sm", np.concatenate([one, zero]))]
    if "a" in random:
        zc.append(("Sm_x", np.concatenate([x_w, zero])))
    zc.append(("Sy", np.concatenate([zero, one])))
    if "b" in random:
        zc.append(("Sy_m", np.concatenate([zero, m_w])))
    if "c_prime" in random:
        zc.append(("Sy_x", np.concatenate([zero, x_w])))
    Zc = np.column_stack([v for _, v in zc])
    return np.concatenate([m1, y1]), X, x_names, Zc, [nm for nm, _ in zc]


class _Profile:
    """Deviance of the stacked model as a function of (theta, sigma, delta)."""

    def __init__(
        self,
        Zc: np.ndarray,
        codes: np.ndarray,
        G: int,
        X: np.ndarray,
        z: np.ndarray,
        n_m: int,
        reml: bool,
    ):
        from sleeppain.mixed import block_stats

        self.sm = block_stats(Zc[:n_m], codes[:n_m], G, X[:n_m], z[:n_m], center=False)
        self.sy = block_stats(Zc[n_m:], codes[n_m:], G, X[n_m:], z[n_m:], center=False)
        self.q = Zc.shape[1]
        self.n_y = len(z) - n_m
        self.reml = reml
        self._cache: dict[float, Any] = {}

    def evaluator(self, log_delta: float) -> Any:
        from sleeppain.mixed import BlockDeviance, BlockStats

        key = float(log_delta)
        if key not in self._cache:
            w = np.exp(-2.0 * key)
            a, b = self.sm, self.sy
            s = BlockStats(
                ZtZ=a.ZtZ + w * b.ZtZ,
                ZtX=a.ZtX + w * b.ZtX,
                Zty=a.Zty + w * b.Zty,
                XtX=a.XtX + w * b.XtX,
                Xty=a.Xty + w * b.Xty,
                yty=a.yty + w * b.yty,
                n=a.n + b.n,
                centering=a.centering,
            )
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = BlockDeviance(s, [self.q], self.reml)
        return self._cache[key]

    def jacobian(self, log_delta: float) -> float:
        return 2.0 * self.n_y * float(log_delta)

    def fit_theta(self, log_delta: float, start: np.ndarray | None) -> tuple[np.ndarray, float]:
        from sleeppain.mixed import LmmControl, optimize_theta

        dev = self.evaluator(log_delta)
        control = LmmControl(theta_start=None if start is None else tuple(start), check_conv=False)
        theta, _rec = optimize_theta(dev, control)
        return theta, float(dev(theta)) + self.jacobian(log_delta)

    def varpar_deviance(self, v: np.ndarray) -> float:
        theta, sigma, ld = v[:-2], v[-2], v[-1]
        return float(self.evaluator(ld).varpar_deviance(theta, sigma)) + self.jacobian(ld)


def _fit_profile(prof: _Profile) -> tuple[np.ndarray, float, float, int]:
    """Profile log(delta) by bounded Brent; returns (theta, log_delta, criterion, evals)."""
    state: dict[str, Any] = {"start": None}

    def f(ld: float) -> float:
        theta, val = prof.fit_theta(ld, state["start"])
        state["start"] = theta
        return val

    res = optimize.minimize_scalar(
        f, bounds=(-_LOG_DELTA_BOUND, _LOG_DELTA_BOUND), method="bounded", options={"xatol": 1e-7}
    )
    ld = float(res.x)
    if abs(abs(ld) - _LOG_DELTA_BOUND) < 1e-3:
        raise EstimationError(
            f"mediation: the residual SD ratio of the outcome and mediator equations ran to "
            f"the search bound (delta = {np.exp(ld):.3g}); check the scales of m and y "
            "(rescale one of them)."
        )
    theta, val = prof.fit_theta(ld, None)
    theta2, val2 = prof.fit_theta(ld, state["start"])
    if val2 < val:
        theta, val = theta2, val2
    return theta, ld, val, int(res.nfev)


def _cov_ab_gradient(v: np.ndarray, q: int, ia: int, ib: int) -> tuple[float, np.ndarray]:
    def g(vv: np.ndarray) -> float:
        T = _lower_tri(vv[:-2], q)
        return float(vv[-2] ** 2 * (T @ T.T)[ia, ib])

    val = g(v)
    grad = np.empty(v.size)
    for i in range(v.size):
        h = 1e-6 * max(abs(v[i]), 1e-2)
        e = np.zeros(v.size)
        e[i] = h
        grad[i] = (g(v + e) - g(v - e)) / (2 * h)
    return val, grad


#: |correlation| of a random intercept with another random effect above which the
#: between-person part is called weakly identified (the two are nearly one direction)
INTERCEPT_CORR_LIMIT = 0.95
#: a variance component whose delta-method SE exceeds this multiple of its estimate is
#: poorly determined (the data barely inform it)
VARIANCE_RSE_LIMIT = 1.0


def _variance_ses(vpar: np.ndarray, vcov_vp: np.ndarray, q: int) -> np.ndarray:
    """Delta-method SEs of the random-effect variances ``sigma^2 diag(T T')``."""

    def variances(v: np.ndarray) -> np.ndarray:
        T = _lower_tri(v[:-2], q)
        return v[-2] ** 2 * np.einsum("ij,ij->i", T, T)

    h = 1e-6 * np.maximum(np.abs(vpar), 1.0)
    J = np.empty((q, vpar.size))
    for k in range(vpar.size):
        e = np.zeros(vpar.size)
        e[k] = h[k]
        J[:, k] = (variances(vpar + e) - variances(vpar - e)) / (2 * h[k])
    var = np.einsum("ij,jk,ik->i", J, vcov_vp, J)
    return np.where(var > 0, np.sqrt(np.abs(var)), np.nan)


def identification_caveats(
    Sigma: np.ndarray,
    z_names: Sequence[str],
    *,
    variance_se: np.ndarray | None = None,
    labels: dict[str, str] | None = None,
    random: Sequence[str] = (),
) -> tuple[str, ...]:
    """Caveats on a weakly identified random-effect covariance (for the summary notes).

    Flags a random intercept (``Sm``, ``Sy``) whose correlation with another random effect
    exceeds :data:`INTERCEPT_CORR_LIMIT` in absolute value, and a variance whose
    delta-method SE exceeds :data:`VARIANCE_RSE_LIMIT` times its estimate (or is not
    finite). The fixed effects a, b and c' are within-person effects and are unaffected.
    A poorly determined slope variance is remedied by a simpler ``random=``; an intercept
    correlation near 1 is structural (the mediator's person mean, a covariate of the
    outcome equation, nearly equals the mediator's random intercept) and dropping random
    slopes does not remove it (on PainDiary it stays at 0.974 with ``random=()``).

    Parameters
    ----------
    Sigma : ndarray (q, q)
        Covariance of the random effects.
    z_names : sequence of str
        Their stacked names (``Sm, Sm_x, Sy, Sy_m``...).
    variance_se : ndarray (q,), optional
        SEs of the diagonal of ``Sigma`` (None: not checked).
    labels : dict, optional
        Readable names of the stacked names (e.g. ``{"Sy": "outcome intercept"}``).
    random : sequence of str
        The fit's ``random=`` (to suggest the simpler one).

    Returns
    -------
    tuple of str
        Empty when nothing is flagged.

    Examples
    --------
    >>> S = np.array([[2.6, 8.8], [8.8, 31.6]])
    >>> identification_caveats(S, ["Sm", "Sy"])[0].split(":")[0]
    'weakly identified between-person part'
    >>> identification_caveats(np.array([[2.6, 0.5], [0.5, 3.0]]), ["Sm", "Sy"])
    ()
    """
    labels = labels or {}
    names = list(z_names)
    sd = np.sqrt(np.clip(np.diag(Sigma), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = Sigma / np.outer(sd, sd)
    problems: list[str] = []
    ridge = False
    for i, ni in enumerate(names):
        for j in range(i + 1, len(names)):
            nj = names[j]
            if ni not in _INTERCEPTS and nj not in _INTERCEPTS:
                continue
            r = corr[i, j]
            if np.isfinite(r) and abs(r) > INTERCEPT_CORR_LIMIT:
                ridge = True
                problems.append(
                    f"the correlation of {labels.get(ni, ni)} with {labels.get(nj, nj)} is "
                    f"{r:.3f} (variances {Sigma[i, i]:.4g} and {Sigma[j, j]:.4g})"
                )
    slopes: list[str] = []
    if variance_se is not None:
        for k, nk in enumerate(names):
            v, se = Sigma[k, k], variance_se[k]
            if not np.isfinite(se) or se > VARIANCE_RSE_LIMIT * v:
                shown = f"{se:.3g}" if np.isfinite(se) else "not computable"
                problems.append(
                    f"the variance of {labels.get(nk, nk)}, {v:.4g}, is poorly determined "
                    f"(standard error {shown})"
                )
                if nk in _SLOPE_KEYS:
                    slopes.append(_SLOPE_KEYS[nk])
                else:
                    ridge = True
    if not problems:
        return ()
    text = (
        "weakly identified between-person part: "
        + "; ".join(problems)
        + ". a, b and c' (within-person fixed effects) are unaffected; do not interpret "
        "the random-effect covariance or the between-person coefficients (Sm_xb, Sy_mb, "
        "Sy_xb)."
    )
    if ridge:
        text += (
            " The intercepts are nearly one direction because the mediator's person mean "
            "(a covariate of the outcome equation) is nearly the mediator's random "
            "intercept; simplifying random= does not remove this."
        )
    simpler = tuple(r for r in random if r not in slopes)
    if slopes:
        text += (
            f" Simplify the random slopes: random={simpler!r} drops the poorly determined "
            f"{' and '.join(repr(s) for s in slopes)} (compare the fits)."
        )
    elif random:
        text += (
            " A simpler random= (e.g. random=('a',), or random=() with cov(a_j, b_j) = 0) "
            "is an option when the slope variances are small; compare the fits."
        )
    return (text,)


_SLOPE_KEYS = {"Sm_x": "a", "Sy_m": "b", "Sy_x": "c_prime"}


_INTERCEPTS = ("Sm", "Sy")


def monte_carlo_effects(
    est: np.ndarray, vcov: np.ndarray, cov_ab: float, se_cov_ab: float, n_draws: int, seed: Any
) -> np.ndarray:
    """Monte Carlo draws (Preacher & Selig 2012) of a, b, c', cov, indirect and total.

    ``(a, b, c')`` are drawn from their joint normal sampling distribution and ``cov(a_j,
    b_j)`` independently from ``N(cov, se^2)`` (fixed effects and variance components are
    asymptotically independent); indirect ``= a b + cov``, total ``= c' + indirect`` (Bauer,
    Preacher & Gil 2006, eqs. 11-13).

    Returns
    -------
    ndarray, shape (n_draws, 6)

    Examples
    --------
    >>> d = monte_carlo_effects(np.array([0.4, 0.5, 0.1]), np.eye(3) * 1e-4, 0.03, 0.01, 1000, 1)
    >>> d.shape, bool(abs(d[:, 4].mean() - 0.23) < 0.01)
    ((1000, 6), True)
    """
    rng = np.random.default_rng(seed)
    abc = rng.multivariate_normal(est, vcov, size=n_draws, method="cholesky")
    cv = cov_ab + se_cov_ab * rng.standard_normal(n_draws)
    ind = abc[:, 0] * abc[:, 1] + cv
    return np.column_stack([abc, cv, ind, abc[:, 2] + ind])


def mediation(
    data: Any,
    *,
    id: str | None = None,
    day: str | None = None,
    x: str,
    m: str,
    y: str,
    sleep_timing: str | None = None,
    covariates: Sequence[str] = (),
    random: Sequence[str] = ("a", "b"),
    n_draws: int = 20000,
    seed: Any,
    conf_level: float = 0.95,
    reml: bool = True,
    engine: str = "auto",
) -> MediationResult:
    """Lagged within-person mediation x -> m -> y (1-1-1), Bauer, Preacher & Gil (2006).

    For each person-day *d* with ``x`` observed and ``m`` and ``y`` observed on day *d + 1*
    (the next calendar day; when ``x`` is a sleep variable, its night *d* is the night before
    day *d + 1*: night sleep -> next-day mood -> next-day pain), the stacked model is

    * mediator: ``m(d+1) = Sm + a x_w(d) + g_m x_b + u_m + a_j x_w(d) + e_m``;
    * outcome: ``y(d+1) = Sy + b m_w(d+1) + c' x_w(d) + g_y1 m_b + g_y2 x_b + u_y + b_j
      m_w(d+1) + e_y``;

    with ``x_w``, ``m_w`` deviations from the person's mean over all of the person's
    observations of the variable, ``x_b``, ``m_b`` the person means centred at the grand
    mean of person means, random intercepts ``u_m, u_y`` and random slopes ``a_j, b_j``
    (``random=``), all correlated, and residual SDs ``sigma`` and ``delta * sigma``.
    Covariates (day variables, on day *d + 1*) enter both equations.

    Effects: ``a``, ``b``, ``c_prime``; ``cov_ab = cov(a_j, b_j)``; the average indirect
    effect ``a b + cov_ab`` and the total ``c' + a b + cov_ab``, with seeded Monte Carlo
    intervals (Preacher & Selig 2012) for the indirect and total effects.

    Parameters
    ----------
    data : Diary or DataFrame
    id, day : str, optional
        Person and day columns of a DataFrame.
    x, m, y : str
        Predictor, mediator, outcome (distinct). ``x`` is a sleep variable when the Diary
        declares it or when ``sleep_timing`` is given; ``m`` and ``y`` are day variables.
    sleep_timing : {"previous_night", "following_night"}, optional
        Which night a sleep report of ``x`` describes; giving it declares ``x`` as sleep.
    covariates : sequence of str
    random : sequence of {"a", "b", "c_prime"}
        Random slopes besides the two random intercepts (default a and b).
    n_draws : int
        Monte Carlo draws.
    seed : int, SeedSequence or None
        Required keyword (see :func:`sleeppain.results.check_seed`).
    conf_level : float
    reml : bool
        REML (default, as nlme) or maximum likelihood.
    engine : {"auto", "lmm", "profile"}
        ``"lmm"``: :func:`sleeppain.lmm` with ``weights=``; ``"profile"``: the profiled
        varIdent fit of this module; ``"auto"``: ``"lmm"`` when ``sp.lmm`` has ``weights=``.

    Returns
    -------
    MediationResult

    Raises
    ------
    SpecificationError
        ``x``, ``m``, ``y`` not distinct; unknown ``random`` or ``engine``; ``m`` or ``y``
        declared as sleep.
    DataStructureError
        Missing columns; ``x`` or ``m`` without within-person variance (named).

    Notes
    -----
    Checked against nlme 3.1-162 ``lme(..., weights = varIdent(~ 1 | eq))`` built
    independently in R (tests/reference/mediation/): log-likelihood within 1e-3, a, b, c'
    within 1 % of their SEs, cov(a_j, b_j) and delta within rtol 1e-3; the SE of
    cov(a_j, b_j) within rtol 1e-3 of a numDeriv Hessian of the stacked log-likelihood
    written out in the R script (nlme's ``apVar`` is often not positive definite here).

    Examples
    --------
    >>> import sleeppain as sp
    >>> from sleeppain.multivariate._simulate import simulate_mediation
    >>> df = simulate_mediation(60, 20, seed=0)
    >>> res = sp.mediation(df, id="id", day="day", x="x", m="m", y="y", seed=1, n_draws=2000)
    >>> list(res.effects().index)
    ['a', 'b', 'c_prime', 'cov_ab', 'indirect', 'total']
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.mediation")  # a Dask frame: typed error, no .compute()
    fn = "mediation"
    for arg, val in (("x", x), ("m", m), ("y", y)):
        if not isinstance(val, str):
            raise SpecificationError(f"{fn}: {arg}= must be a column name, got {val!r}.")
    if len({x, m, y}) < 3:
        raise SpecificationError(
            f"{fn}: x, m and y must be three different variables, got x={x!r}, m={m!r}, y={y!r}."
        )
    covariates = names(covariates, "covariates", fn)
    clash = [c for c in covariates if c in (x, m, y)]
    if clash:
        raise SpecificationError(f"{fn}: covariates {clash} repeat x, m or y; remove them.")
    rand = names(random, "random", fn)
    bad = [r for r in rand if r not in _RANDOM]
    if bad:
        raise SpecificationError(
            f"{fn}: random={list(rand)}: {bad} unknown; use a subset of {list(_RANDOM)}."
        )
    if engine not in _ENGINES:
        raise SpecificationError(f"{fn}: engine={engine!r}; use one of {list(_ENGINES)}.")
    n_draws = check_n_boot(n_draws, minimum=100, name="n_draws")
    seed = check_seed(seed)
    if seed is None:
        seed = np.random.SeedSequence()
    conf_level = check_conf_level(conf_level)
    from sleeppain.diary import Diary

    x_sleep = sleep_timing is not None or (isinstance(data, Diary) and x in data.sleep)
    diary = as_diary(
        data,
        id=id,
        day=day,
        sleep=(x,) if x_sleep else (),
        sleep_timing=sleep_timing,
        needed=[x, m, y, *covariates],
        fn=fn,
    )
    declared = [v for v in (m, y, *covariates) if v in diary.sleep]
    if declared:
        raise SpecificationError(
            f"{fn}: {declared} are declared as sleep (night) variables; m, y and covariates "
            "must be day variables (only x may be a sleep variable)."
        )
    within_variance_check(diary, [x, m], fn)
    for v in (y, *covariates):
        if not diary.data[v].notna().any():
            raise DataStructureError(
                f"{fn}: variable {v!r} has no observed values; check the column (or drop it)."
            )

    base = diary.data
    xw = diary.within(x).to_numpy()
    xb = diary.between(x).to_numpy()
    m1 = diary.lead(m).to_numpy()
    mw1 = diary.lead(diary.within(m)).to_numpy()
    mb = diary.between(m).to_numpy()
    y1 = diary.lead(y).to_numpy()
    cov = (
        np.column_stack([diary.lead(c).to_numpy() for c in covariates])
        if covariates
        else np.empty((len(base), 0))
    )
    ok_x = ~np.isnan(xw)
    ok_m = ~np.isnan(m1)
    ok_y = ~np.isnan(y1)
    ok_c = ~np.isnan(cov).any(axis=1)
    used = ok_x & ok_m & ok_y & ok_c
    accounting = pd.DataFrame(
        {
            "rows": [len(base)],
            "missing_x": [int((~ok_x).sum())],
            "missing_next_day_m": [int((ok_x & ~ok_m).sum())],
            "missing_next_day_y": [int((ok_x & ok_m & ~ok_y).sum())],
            "missing_covariate": [int((ok_x & ok_m & ok_y & ~ok_c).sum())],
            "pairs_used": [int(used.sum())],
        }
    )
    ids = base["id"].to_numpy()[used]
    uniq, codes = np.unique(ids, return_inverse=True)
    if len(uniq) < 3:
        raise SpecificationError(
            f"{fn}: only {len(uniq)} persons have a day with x and the next day's m and y; "
            "the multilevel mediation model needs many persons."
        )
    z, X, x_names, Zc, z_names = stack_bpg(
        xw[used], xb[used], m1[used], mw1[used], mb[used], y1[used], cov[used], rand
    )
    n = int(used.sum())
    codes2 = np.concatenate([codes, codes])

    use_lmm = engine == "lmm" or (engine == "auto" and _lmm_has_weights())
    if engine == "lmm" and not _lmm_has_weights():
        raise SpecificationError(
            f"{fn}: engine='lmm' needs sp.lmm(..., weights=); use engine='profile'."
        )
    prof = _Profile(Zc, codes2, len(uniq), X, z, n, reml)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if use_lmm:
            fit, log_delta, ratio_m = _fit_lmm(z, X, x_names, Zc, z_names, codes2, n, reml)
            # theta relative to the mediator equation's residual SD (sp.lmm's reference
            # stratum is whichever comes first in its data)
            theta = np.asarray(fit.theta, dtype=float) / ratio_m
            engine_used = "lmm"
            n_profile = 0
        else:
            theta, log_delta, _, n_profile = _fit_profile(prof)
            ratio_m = 1.0
            fit = _final_fit(z, X, x_names, Zc, z_names, codes2, n, log_delta, theta, reml)
            engine_used = "profile"
    rewarn(caught, f"{fn}: stacked model")
    sigma = float(fit.sigma) * (ratio_m if use_lmm else 1.0)  # mediator equation's SD
    fe = fit.fixef
    V = fit.vcov
    names3 = ["Sm_x", "Sy_m", "Sy_x"]
    est3 = fe[names3].to_numpy()
    vc3 = V.loc[names3, names3].to_numpy()
    q = Zc.shape[1]
    T = _lower_tri(theta, q)
    Sigma = sigma**2 * (T @ T.T)
    vpar = np.concatenate([theta, [sigma, log_delta]])
    if "a" in rand and "b" in rand:
        ia, ib = z_names.index("Sm_x"), z_names.index("Sy_m")
        cov_ab, grad = _cov_ab_gradient(vpar, q, ia, ib)
        from sleeppain.mixed.optimize import richardson_hessian

        # two Richardson levels: within 1e-4 of R numDeriv on the reference cases
        H = richardson_hessian(prof.varpar_deviance, vpar, levels=2)
        vcov_vp = 2.0 * np.linalg.pinv(H)
        var_c = float(grad @ vcov_vp @ grad)
        se_cov = float(np.sqrt(var_c)) if var_c > 0 else np.nan
        if not np.isfinite(se_cov):
            warnings.warn(
                f"{fn}: the standard error of cov(a_j, b_j) could not be computed (the "
                "numerical Hessian of the variance parameters is not positive definite, often "
                "at a boundary fit); the Monte Carlo intervals of 'indirect' and 'total' treat "
                "cov(a_j, b_j) as known and are too narrow. Consider random=('a',) or ('b',), "
                "or check the random-effect variances.",
                ConvergenceWarning,
                stacklevel=2,
            )
    else:
        cov_ab, se_cov, vcov_vp = 0.0, 0.0, None
    var_se = _variance_ses(vpar, vcov_vp, q) if vcov_vp is not None else None
    caveats = identification_caveats(
        Sigma, z_names, variance_se=var_se, labels=_labels(m, y), random=rand
    )
    draws = monte_carlo_effects(
        est3, vc3, cov_ab, 0.0 if not np.isfinite(se_cov) else se_cov, n_draws, seed
    )
    return MediationResult(
        x=x,
        m=m,
        y=y,
        x_is_sleep=bool(x_sleep),
        covariates=covariates,
        random=rand,
        reml=reml,
        engine=engine_used,
        estimates=np.array([est3[0], est3[1], est3[2], cov_ab]),
        vcov_abc=vc3,
        se_cov_ab=se_cov,
        draws=draws,
        conf_level=conf_level,
        n_draws=n_draws,
        seed=seed,
        _fixef=fe.copy(),
        _random_cov=pd.DataFrame(Sigma, index=z_names, columns=z_names),
        sigma=sigma,
        delta=float(np.exp(log_delta)),
        loglik=float(fit.loglik) - (0.0 if use_lmm else prof.n_y * log_delta),
        n_pairs=n,
        n_persons=len(uniq),
        _accounting=accounting,
        fit=fit,
        vcov_varpar=vcov_vp,
        profile_evals=n_profile,
        nights_added=int(diary.accounting.nights_added),
        caveats=caveats,
    )


def _labels(m: str, y: str) -> dict[str, str]:
    """Readable names of the stacked random effects."""
    return {
        "Sm": f"the mediator intercept ({m})",
        "Sy": f"the outcome intercept ({y})",
        "Sm_x": "the a slope",
        "Sy_m": "the b slope",
        "Sy_x": "the c' slope",
    }


def _lmm_has_weights() -> bool:
    from sleeppain.mixed import lmm

    return "weights" in inspect.signature(lmm).parameters


def _frame(
    z: np.ndarray,
    X: np.ndarray,
    x_names: list[str],
    Zc: np.ndarray,
    z_names: list[str],
    codes: np.ndarray,
) -> pd.DataFrame:
    cols = {"_z": z, "_id": codes}
    cols |= {f"X_{nm}": X[:, i] for i, nm in enumerate(x_names)}
    cols |= {f"Z_{nm}": Zc[:, i] for i, nm in enumerate(z_names)}
    return pd.DataFrame(cols)


def _formula(x_names: list[str], z_names: list[str]) -> str:
    fixed = " + ".join(f"X_{nm}" for nm in x_names)
    rand = " + ".join(f"Z_{nm}" for nm in z_names)
    return f"_z ~ 0 + {fixed} + (0 + {rand} | _id)"


def _fit_lmm(
    z: np.ndarray,
    X: np.ndarray,
    x_names: list[str],
    Zc: np.ndarray,
    z_names: list[str],
    codes: np.ndarray,
    n_m: int,
    reml: bool,
) -> tuple[Any, float, float]:
    from sleeppain.mixed import lmm

    df = _frame(z, X, x_names, Zc, z_names, codes)
    df["_eq"] = np.where(np.arange(len(z)) < n_m, "m", "y")
    fit = lmm(_formula(x_names, z_names), df, reml=reml, weights="group:_eq")
    ratios = fit.varident
    if ratios is None or "y" not in ratios.index or "m" not in ratios.index:
        raise EstimationError(
            "mediation: sp.lmm did not report the varIdent ratios of the two equations."
        )
    return _Renamed(fit), float(np.log(ratios["y"] / ratios["m"])), float(ratios["m"])


def _final_fit(
    z: np.ndarray,
    X: np.ndarray,
    x_names: list[str],
    Zc: np.ndarray,
    z_names: list[str],
    codes: np.ndarray,
    n_m: int,
    log_delta: float,
    theta: np.ndarray,
    reml: bool,
) -> Any:
    """The homoscedastic lmm fit of the rescaled stacked data at delta-hat (from theta-hat)."""
    from sleeppain.mixed import lmm

    w = np.where(np.arange(len(z)) < n_m, 1.0, np.exp(-log_delta))
    df = _frame(z * w, X * w[:, None], x_names, Zc * w[:, None], z_names, codes)
    fit = lmm(_formula(x_names, z_names), df, reml=reml, control={"theta_start": tuple(theta)})
    return _Renamed(fit)


class _Renamed:
    """A view of an LmmResult with the stacked model's own names (``X_Sm`` -> ``Sm``)."""

    def __init__(self, fit: Any):
        self._fit = fit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fit, name)

    @staticmethod
    def _strip(names: Any) -> list[str]:
        return [str(s)[2:] if str(s)[:2] in ("X_", "Z_") else str(s) for s in names]

    @property
    def fixef(self) -> pd.Series:
        fe = self._fit.fixef.copy()
        fe.index = self._strip(fe.index)
        return fe

    @property
    def vcov(self) -> pd.DataFrame:
        V = self._fit.vcov.copy()
        V.index = V.columns = self._strip(V.index)
        return V

    @property
    def lmm_result(self) -> Any:
        return self._fit
