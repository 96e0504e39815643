"""sp.clmm against R's ordinal 2022.11-16 ``clmm`` (Laplace, logit, flexible thresholds).

Reference values: tests/reference/glmer/make_refs.R -> glmer_refs.json (cases
``wine_clmm`` and ``wine_clmm_slope`` on ``ordinal::wine``). ordinal's inner Newton stops
at max|gradient| < 1e-4, so its logLik at its own estimates is inexact by ~3e-6; the
log-likelihood at fixed parameters is taken from a run with ``gradTol = 1e-12``.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning
from sleeppain.mixed.ordinal import clmm_objective, clmm_problem
from tests.conftest import REFERENCE_DIR
from tests.mixed.test_glmm_reference import openplay

REF = json.loads((REFERENCE_DIR / "glmer" / "glmer_refs.json").read_text())["cases"]
WINE = REFERENCE_DIR / "glmer" / "data" / "wine.csv"

#: Issue 16: the (Laplace) deviance at fixed parameters agrees to 1e-6 (relative).
DEV_RTOL = 1e-6
#: Issue 16: -2 logLik at the optimum no worse than ordinal's by more than 1e-3.
OBJ_ATOL = 1e-3
#: Issue 16: coefficients within 1 % of a standard error.
COEF_SE_FRACTION = 0.01
#: Issue 16: standard errors within 1e-3 (relative).
SE_RTOL = 1e-3
#: Random-effect standard deviations at the optimum (optimum tier, relative).
SD_RTOL = 1e-3
#: ordinal's fit counts as converged when its max |gradient| is below this (ordinal's
#: own convergence message uses 1e-3 as well). On openplay ordinal stops at 3.8: its
#: estimates then are not an optimum and its Hessian-based SEs are off by 10x, so only
#: the objective is compared there (sp.clmm's must be strictly better).
ORDINAL_CONVERGED_GRAD = 1e-3

CASES = {
    "wine_clmm": "rating ~ temp + contact + (1 | judge)",
    "wine_clmm_slope": "rating ~ temp + contact + (1 + contact | judge)",
    "openplay_clmm": "sleepq ~ stress + valence10 + (1 | pid)",
}
THRESHOLDS = {
    "wine_clmm": ["1|2", "2|3", "3|4", "4|5"],
    "openplay_clmm": ["Very poor|Poor", "Poor|Fair", "Fair|Good", "Good|Very good"],
}
PARAMS = [
    pytest.param("wine_clmm", id="wine_clmm"),
    pytest.param("wine_clmm_slope", id="wine_clmm_slope"),
    # real data, 15,838 rows and 1,275 persons: a few seconds
    pytest.param(
        "openplay_clmm", id="openplay_clmm", marks=[pytest.mark.shared_data, pytest.mark.slow]
    ),
]


def _data(case: str) -> pd.DataFrame:
    return openplay() if case.startswith("openplay") else pd.read_csv(WINE)


@cache
def _fit(case: str) -> sp.ClmmResult:
    if case == "wine_clmm_slope":  # ordinal's fit is singular too: correlation -1
        with pytest.warns(BoundaryFitWarning, match="singular"):
            return sp.clmm(CASES[case], _data(case))
    return sp.clmm(CASES[case], _data(case))


def test_loglik_at_fixed_parameters() -> None:
    ref = REF["wine_clmm"]
    par = np.asarray(ref["fixed_par"], dtype=float)  # alpha, beta, log sd (ordinal)
    cp = clmm_problem(CASES["wine_clmm"], pd.read_csv(WINE))
    val, _ = clmm_objective(cp, par[:4], par[4:6], np.exp(par[6:]))
    assert -0.5 * val == pytest.approx(ref["logLik_at_fixed"], rel=DEV_RTOL)
    # and at ordinal's own estimates
    coef = np.array(list(ref["coef"].values()))
    val, _ = clmm_objective(cp, coef[:4], coef[4:], np.array([ref["st"]["judge"]]))
    assert -0.5 * val == pytest.approx(ref["logLik_at_opt_tight"], rel=DEV_RTOL)


@pytest.mark.shared_data
def test_loglik_at_fixed_parameters_openplay() -> None:
    ref = REF["openplay_clmm"]
    par = np.asarray(ref["fixed_par"], dtype=float)
    cp = clmm_problem(CASES["openplay_clmm"], openplay())
    val, _ = clmm_objective(cp, par[:4], par[4:6], np.exp(par[6:]))
    assert -0.5 * val == pytest.approx(ref["logLik_at_fixed"], rel=DEV_RTOL)


@pytest.mark.parametrize("case", PARAMS)
def test_optimum_against_ordinal(case: str) -> None:
    fit = _fit(case)
    ref = REF[case]
    assert fit.converged
    assert fit.objective <= -2 * ref["logLik"] + OBJ_ATOL
    se_ref = np.array(list(ref["se"].values()))
    coef_ref = np.array(list(ref["coef"].values()))
    assert fit.coef.index.tolist()[:4] == THRESHOLDS.get(case, THRESHOLDS["wine_clmm"])
    if ref["maxGrad"] > ORDINAL_CONVERGED_GRAD:
        assert fit.objective < -2 * ref["logLik"]
        return
    assert np.all(np.abs(fit.coef.to_numpy() - coef_ref) <= COEF_SE_FRACTION * se_ref)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov_coef)), se_ref, rtol=SE_RTOL)
    sd = fit.varcorr()["sd"].dropna().to_numpy()
    group = "pid" if case.startswith("openplay") else "judge"
    np.testing.assert_allclose(sd, np.atleast_1d(ref["st"][group]), rtol=SD_RTOL)
    g = fit.glance().iloc[0]
    assert g["AIC"] == pytest.approx(ref["AIC"], abs=OBJ_ATOL)
    assert g["BIC"] == pytest.approx(ref["BIC"], abs=OBJ_ATOL)
