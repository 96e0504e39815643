"""Multilevel VAR networks (mlVAR's lmer estimator) and the N-of-1 VAR: :func:`network`.

Numbers happen in the pure functions at the top (arrays in, arrays out); :func:`network`
builds the lagged, person-mean-centred frame from a :class:`~sleeppain.diary.Diary`, fits one
:func:`sleeppain.lmm` model per outcome and assembles a :class:`NetworkResult`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import BoundaryFitWarning, SpecificationError
from sleeppain.multivariate._netresult import NetworkResult
from sleeppain.multivariate._prep import as_diary, names, rewarn, within_variance_check

__all__ = ["between_network", "force_positive", "network", "ols_hc3", "partial_correlations"]

_RANDOM = ("orthogonal", "correlated", "fixed")


# ----------------------------------------------------------------------------- pure parts
def partial_correlations(precision: np.ndarray) -> np.ndarray:
    """Partial correlations from a precision matrix: ``-K_ij / sqrt(K_ii K_jj)``, zero diagonal.

    Examples
    --------
    >>> K = np.array([[2.0, -1.0], [-1.0, 2.0]])
    >>> partial_correlations(K).round(12).tolist()
    [[0.0, 0.5], [0.5, 0.0]]
    """
    K = np.asarray(precision, dtype=float)
    d = np.sqrt(np.diag(K))
    P = -K / np.outer(d, d)
    np.fill_diagonal(P, 0.0)
    return P


def force_positive(K: np.ndarray) -> np.ndarray:
    """mlVAR's ``forcePositive``: symmetrise; if an eigenvalue is negative, shift it up.

    As in mlVAR, ``K - (I * min(eigenvalue) - 0.001)``: the 0.001 is added to every entry.

    Examples
    --------
    >>> force_positive(np.array([[1.0, 2.0], [2.0, 1.0]])).round(3).tolist()
    [[2.001, 2.001], [2.001, 2.001]]
    """
    K = (np.asarray(K, dtype=float) + np.asarray(K, dtype=float).T) / 2.0
    ev = np.linalg.eigvalsh(K)
    if np.any(ev < 0):
        return K - (np.eye(K.shape[0]) * ev.min() - 0.001)
    return K


def between_network(gamma: np.ndarray, intercept_sd: np.ndarray) -> np.ndarray:
    """Between-person partial correlations from node-wise regressions of person means.

    mlVAR (Epskamp et al. 2018): with ``Gamma[i, j]`` the effect of person mean ``j`` on
    outcome ``i`` (zero diagonal) and ``D = diag(1 / sd(intercept_i)^2)``, the precision is
    ``forcePositive(D (I - Gamma))`` and the network its partial correlations.

    Examples
    --------
    >>> G = np.array([[0.0, 0.5], [0.5, 0.0]])
    >>> between_network(G, np.array([1.0, 1.0])).tolist()
    [[0.0, 0.5], [0.5, 0.0]]
    """
    k = gamma.shape[0]
    K = np.diag(1.0 / np.asarray(intercept_sd, dtype=float) ** 2) @ (np.eye(k) - gamma)
    return partial_correlations(force_positive(K))


def residual_network(residuals: np.ndarray) -> tuple[np.ndarray, int]:
    """Partial correlations of residuals (rows with every column observed) and that row count.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> P, n = residual_network(rng.normal(size=(200, 3)))
    >>> P.shape, n
    ((3, 3), 200)
    """
    R = np.asarray(residuals, dtype=float)
    R = R[~np.isnan(R).any(axis=1)]
    Rc = R - R.mean(axis=0)
    S = Rc.T @ Rc / R.shape[0]
    return partial_correlations(np.linalg.inv(S)), int(R.shape[0])


def ols_hc3(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares with HC3 standard errors (MacKinnon & White 1985; Long & Ervin 2000).

    Returns ``(coef, se_hc3, residuals)``.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), np.arange(6.0)])
    >>> coef, se, r = ols_hc3(X, np.array([0.1, 1.2, 1.9, 3.2, 3.9, 5.1]))
    >>> coef.round(2).tolist()
    [0.11, 0.98]
    """
    XtXi = np.linalg.inv(X.T @ X)
    coef = XtXi @ (X.T @ y)
    r = y - X @ coef
    h = np.einsum("ij,jk,ik->i", X, XtXi, X)
    meat = (X * (r / (1.0 - h))[:, None]).T @ (X * (r / (1.0 - h))[:, None])
    V = XtXi @ meat @ XtXi
    return coef, np.sqrt(np.diag(V)), r


# ------------------------------------------------------------------------------- the verb
def network(
    data: Any,
    *,
    id: str | None = None,
    day: str | None = None,
    variables: Sequence[str],
    sleep: str | Sequence[str] = (),
    sleep_timing: str | None = None,
    lag: int = 1,
    random: str = "orthogonal",
    detrend: bool = False,
    reml: bool = False,
) -> NetworkResult:
    """Temporal, contemporaneous and between-person networks of diary variables.

    With several persons this is mlVAR's lmer estimator (Epskamp, Waldorp, Mõttus &
    Borsboom 2018, Multivariate Behavioral Research 53:453). For each variable as outcome on
    calendar day (or night) *d*, one :func:`sleeppain.lmm` model with

    * every variable's value on the previous calendar day/night (missing when that row is
      missing), centred at the person's mean over all of the person's observations of it;
    * the person means of the *other* variables (centred at the grand mean of person means)
      as between-person covariates;
    * random intercept plus random lag slopes: ``"orthogonal"`` (``||``), ``"correlated"``
      (``|``) or ``"fixed"`` (random intercept only).

    Fits are by maximum likelihood, as mlVAR (``reml=True`` for REML).

    * ``temporal``: fixed lag-1 effects (rows outcomes, columns predictors) with z tests, as
      mlVAR reports them;
    * ``contemporaneous``: partial correlations of the within-person residuals (the
      conditional residuals of the outcome models, on days with every outcome observed);
    * ``between``: mlVAR's between-person partial correlations from the person-mean
      coefficients and the random-intercept SDs;
    * person-specific temporal networks: fixed effects plus each person's conditional modes.

    With a single person (a Diary with one id, or a DataFrame without ``id=``) the model is
    an N-of-1 VAR: least squares of each variable on all variables' previous-day values
    (plus an intercept), HC3 robust standard errors with t tests on the residual df (as
    ``lmtest::coeftest`` with ``sandwich::vcovHC(type = "HC3")``), contemporaneous network
    from the residuals; no between network.

    Parameters
    ----------
    data : Diary or DataFrame
        A DataFrame needs ``day=`` and (for several persons) ``id=``; several reports a day
        need a :class:`~sleeppain.diary.Diary` built with ``prompt=`` and ``aggregate=``.
    id, day : str, optional
        Person and day columns of a DataFrame.
    variables : sequence of str
        Two or more variables (the network's nodes).
    sleep : str or sequence of str
        Which of the variables are sleep reports; they sit on the night index (night *n* is
        the night after day *n*, see :class:`~sleeppain.diary.Diary`).
    sleep_timing : {"previous_night", "following_night"}, optional
        Which night a sleep report describes (default: the Diary's, or previous night).
    lag : int
        Only 1 is supported.
    random : {"orthogonal", "correlated", "fixed"}
    detrend : bool
        Remove each person's linear trend in the calendar day from every variable first.
    reml : bool
        Fit by REML instead of maximum likelihood (mlVAR uses ML).

    Returns
    -------
    NetworkResult

    Raises
    ------
    SpecificationError
        Fewer than two variables, a repeated variable, ``lag`` other than 1, an unknown
        ``random``.
    DataStructureError
        A variable without within-person variance (named), missing columns.

    Notes
    -----
    Checked against lme4 1.1-31 fits of the same models built independently in R
    (tests/reference/mlvar/): fixed effects within 1 % of an SE, log-likelihoods within
    1e-3, networks within 1e-3; the N-of-1 VAR against R's ``lm.fit`` with HC3 computed in R.
    With ``random="correlated"`` each outcome model is fitted from two starting points
    (the engine's moment-based start and lme4's) and the better optimum kept: on the
    reference diary the moment start alone stopped 0.003 short of lme4's log-likelihood.

    Examples
    --------
    >>> import sleeppain as sp
    >>> from sleeppain.multivariate._simulate import simulate_var
    >>> df = simulate_var(40, 30, seed=1)
    >>> res = sp.network(df, id="id", day="day", variables=["v1", "v2", "v3", "v4"],
    ...                  random="fixed")
    >>> res.temporal.shape
    (4, 4)
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.network")  # a Dask frame: typed error, no .compute()
    fn = "network"
    variables = names(variables, "variables", fn)
    if len(variables) < 2:
        raise SpecificationError(
            f"{fn}: a network needs at least 2 variables, got {list(variables)}; pass e.g. "
            "variables=['sleep_quality', 'pain', 'mood']."
        )
    sleep = names(sleep, "sleep", fn)
    extra = [s for s in sleep if s not in variables]
    if extra:
        raise SpecificationError(
            f"{fn}: sleep= names {extra}, which are not among variables={list(variables)}; "
            "list every sleep variable in variables= too."
        )
    if isinstance(lag, bool) or not isinstance(lag, int | np.integer) or lag != 1:
        raise SpecificationError(
            f"{fn}: lag={lag!r} is not supported; only lag=1 (the previous calendar day or "
            "night) is implemented."
        )
    if random not in _RANDOM:
        raise SpecificationError(f"{fn}: random={random!r}; use one of {list(_RANDOM)}.")
    if not isinstance(detrend, bool) or not isinstance(reml, bool):
        raise SpecificationError(f"{fn}: detrend= and reml= must be True or False.")
    diary = as_diary(
        data,
        id=id,
        day=day,
        sleep=sleep,
        sleep_timing=sleep_timing,
        needed=list(variables),
        fn=fn,
        single_ok=True,
    )
    if not sleep:
        # a Diary that declares its sleep columns: they are on the night index already
        sleep = tuple(v for v in variables if v in diary.sleep)
    within_variance_check(diary, variables, fn)
    frame = _lagged_frame(diary, variables, detrend)
    if diary.n_persons == 1:
        return _fit_n1(diary, frame, variables, sleep, detrend)
    return _fit_mlvar(diary, frame, variables, sleep, random, detrend, reml)


def _lagged_frame(diary: Any, variables: tuple[str, ...], detrend: bool) -> pd.DataFrame:
    """Outcomes ``_Y{j}``, centred lags ``_L{j}``, raw lags ``_R{j}``, between ``_B{j}``."""
    base = diary.data
    cols: dict[str, np.ndarray] = {"_id": base["id"].to_numpy(), "_day": base["day"].to_numpy()}
    for j, v in enumerate(variables):
        w = diary.within(v, detrend=detrend)
        pm = diary.person_mean(v).to_numpy()
        cols[f"_Y{j}"] = w.to_numpy() + pm
        cols[f"_L{j}"] = diary.lag(w).to_numpy()
        cols[f"_R{j}"] = diary.lag(pd.Series(cols[f"_Y{j}"], index=base.index, name=v)).to_numpy()
        cols[f"_B{j}"] = diary.between(v).to_numpy()
    return pd.DataFrame(cols, index=base.index)


def _accounting_row(
    outcome: str, frame: pd.DataFrame, j: int, lagcols: list[str]
) -> tuple[dict[str, Any], np.ndarray]:
    y_ok = ~np.isnan(frame[f"_Y{j}"].to_numpy())
    lag_ok = ~np.isnan(frame[lagcols].to_numpy()).any(axis=1)
    used = y_ok & lag_ok
    row = {
        "outcome": outcome,
        "rows": len(frame),
        "missing_outcome": int((~y_ok).sum()),
        "missing_lag": int((y_ok & ~lag_ok).sum()),
        "used": int(used.sum()),
        "persons": int(frame.loc[used, "_id"].nunique()),
    }
    return row, used


def _fit_mlvar(
    diary: Any,
    frame: pd.DataFrame,
    variables: tuple[str, ...],
    sleep: tuple[str, ...],
    random: str,
    detrend: bool,
    reml: bool,
) -> NetworkResult:
    from sleeppain.mixed import lmm

    k = len(variables)
    L = [f"_L{j}" for j in range(k)]
    fits = []
    acc = []
    coef = np.zeros((k, k))
    se = np.zeros((k, k))
    gamma = np.zeros((k, k))
    icpt_sd = np.zeros(k)
    resid = np.full((len(frame), k), np.nan)
    # Predictors are divided by their SD for the fits (the ML/REML fit is equivariant under
    # rescaling columns; the optimiser is not: a slope variance of a predictor in minutes
    # is otherwise a tiny theta that it can leave at zero) and the effects scaled back.
    frame = frame.copy()
    scale = {}
    for c in [*L, *(f"_B{i}" for i in range(k))]:
        sd = float(np.nanstd(frame[c].to_numpy()))
        scale[c] = sd if np.isfinite(sd) and sd > 0 else 1.0
        frame[c] = frame[c] / scale[c]
    sL = np.array([scale[c] for c in L])
    for j, v in enumerate(variables):
        row, used = _accounting_row(v, frame, j, L)
        acc.append(row)
        B = [f"_B{i}" for i in range(k) if i != j]
        re = {
            "orthogonal": f"(1 + {' + '.join(L)} || _id)",
            "correlated": f"(1 + {' + '.join(L)} | _id)",
            "fixed": "(1 | _id)",
        }[random]
        formula = f"_Y{j} ~ {' + '.join(L + B)} + {re}"
        sub = frame.loc[used, ["_id", f"_Y{j}", *L, *B]]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = lmm(formula, sub, reml=reml)
        if random == "correlated":
            # many correlated slopes: the moment-based start can stop at a worse local
            # optimum than lme4's start, so both are tried and the better kept
            with warnings.catch_warnings(record=True) as caught2:
                warnings.simplefilter("always")
                fit2 = lmm(formula, sub, reml=reml, control={"start": "lme4"})
            if fit2.loglik > fit.loglik + 1e-9:
                fit, caught = fit2, caught2
        fit = fit.with_df("z")
        rename = {f"_Y{i}": w for i, w in enumerate(variables)}
        rename |= {f"_L{i}": f"lag({w})" for i, w in enumerate(variables)}
        rename |= {f"_B{i}": f"mean({w})" for i, w in enumerate(variables)}
        rename["_id"] = diary.id_column
        hint = (
            "In sp.network: random='fixed' keeps random intercepts only (random lag slopes "
            "with zero variance add nothing)."
            if random != "fixed"
            else ""
        )
        rewarn(caught, f"network, outcome {v!r}", rename, {BoundaryFitWarning: hint})
        fits.append(fit)
        fe = fit.fixef
        ses = fit.std_errors
        coef[j] = fe[L].to_numpy() / sL
        se[j] = ses[L].to_numpy() / sL
        for i in range(k):
            if i != j:
                gamma[j, i] = fe[f"_B{i}"] / scale[f"_B{i}"]
        vc = fit.varcorr()
        icpt_sd[j] = float(vc.loc[(vc["term1"] == "Intercept") & vc["term2"].isna(), "sd"].iloc[0])
        resid[np.flatnonzero(used), j] = fit.residuals().to_numpy()
    contemp, n_contemp = residual_network(resid)
    if np.any(icpt_sd <= 0):
        between = np.full((k, k), np.nan)
    else:
        between = between_network(gamma, icpt_sd)
    ids = diary.ids
    person = None
    if random != "fixed":
        person = np.full((len(ids), k, k), np.nan)
        pos = {pid: i for i, pid in enumerate(ids)}
        for j, fit in enumerate(fits):
            re = fit.ranef()
            re = re[re["term"].isin(L)]
            wide = re.pivot(index="level", columns="term", values="estimate")[L]
            rows = np.array([pos[lv] for lv in wide.index])
            person[rows, j, :] = coef[j] + wide.to_numpy() / sL
    return NetworkResult(
        variables=variables,
        sleep=sleep,
        method="mlvar",
        random=random,
        reml=reml,
        detrend=detrend,
        coef=coef,
        coef_se=se,
        contemporaneous_pcor=contemp,
        between_pcor=between,
        between_gamma=gamma,
        intercept_sd=icpt_sd,
        person_ids=tuple(ids),
        person_coef=person,
        fits=tuple(fits),
        _accounting=pd.DataFrame(acc),
        n_contemporaneous_rows=n_contemp,
        nights_added=int(diary.accounting.nights_added),
        n_persons=diary.n_persons,
        scales=scale,
    )


def _fit_n1(
    diary: Any,
    frame: pd.DataFrame,
    variables: tuple[str, ...],
    sleep: tuple[str, ...],
    detrend: bool,
) -> NetworkResult:
    k = len(variables)
    R = [f"_R{j}" for j in range(k)]
    coef = np.zeros((k, k))
    se = np.zeros((k, k))
    icpt = np.zeros(k)
    resid = np.full((len(frame), k), np.nan)
    acc = []
    fits = []
    for j, v in enumerate(variables):
        row, used = _accounting_row(v, frame, j, R)
        acc.append(row)
        if row["used"] <= k + 1:
            raise SpecificationError(
                f"network: outcome {v!r} has {row['used']} days with the previous day "
                f"observed, too few for {k + 1} coefficients; the series needs more "
                "consecutive days."
            )
        X = np.column_stack([np.ones(row["used"]), frame.loc[used, R].to_numpy()])
        y = frame.loc[used, f"_Y{j}"].to_numpy()
        b, s, r = ols_hc3(X, y)
        icpt[j] = b[0]
        coef[j] = b[1:]
        se[j] = s[1:]
        resid[np.flatnonzero(used), j] = r
        fits.append(
            {"outcome": v, "coef": b, "se_hc3": s, "nobs": len(y), "df_resid": len(y) - k - 1}
        )
    contemp, n_contemp = residual_network(resid)
    return NetworkResult(
        variables=variables,
        sleep=sleep,
        method="n1_ols",
        random="none",
        reml=False,
        detrend=detrend,
        coef=coef,
        coef_se=se,
        contemporaneous_pcor=contemp,
        between_pcor=None,
        between_gamma=None,
        intercept_sd=None,
        person_ids=tuple(diary.ids),
        person_coef=None,
        fits=tuple(fits),
        _accounting=pd.DataFrame(acc),
        n_contemporaneous_rows=n_contemp,
        nights_added=int(diary.accounting.nights_added),
        n_persons=1,
        intercepts=icpt,
    )


def z_pvalues(est: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Two-sided normal p-values (mlVAR's ``2 * (1 - pnorm(|b / se|))``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * stats.norm.sf(np.abs(est / se))
