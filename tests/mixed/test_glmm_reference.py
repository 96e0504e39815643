"""sp.glmm against lme4 1.1-31 ``glmer`` / ``glmer.nb`` (R 4.2.2).

Reference values: tests/reference/glmer/make_refs.R -> glmer_refs.json. lme4's default
PIRLS tolerance (``tolPwrss = 1e-7``) leaves its Laplace deviance inexact by up to ~1e-2
on these cases (cbpp: 184.05313 against the exact 184.05257 at the same parameters) and
perturbs the finite-difference Hessian behind its standard errors by up to 2.6 %. Every
case is therefore also fitted with ``tolPwrss = 1e-13`` ("tight"): estimates and standard
errors are compared with the tight fit; the objective must be no worse than either fit's.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.mixed.generalized import glmm_objective, glmm_problem
from tests.conftest import REFERENCE_DIR, shared_path

REF = json.loads((REFERENCE_DIR / "glmer" / "glmer_refs.json").read_text())["cases"]
DATA = REFERENCE_DIR / "glmer" / "data"

#: Issue 16: the deviance at fixed parameters agrees to 1e-6 (relative).
DEV_RTOL = 1e-6
#: Issue 16: the optimum's -2 logLik is no worse than lme4's by more than 1e-3.
OBJ_ATOL = 1e-3
#: Issue 16: fixed effects within 1 % of a standard error.
BETA_SE_FRACTION = 0.01
#: Issue 16: standard errors within 1e-3 (relative) where lme4 converged.
SE_RTOL = 1e-3
#: Relative covariance parameters at the optimum (optimum tier, absolute).
THETA_ATOL = 1e-3


def _aces() -> pd.DataFrame:
    d = pd.read_csv(shared_path("aces_daily/aces_daily.csv"))
    return d[d["WASONs"].notna() & d["STRESS"].notna()]


Q_LEVELS = ["Very poor", "Poor", "Fair", "Good", "Very good"]


def openplay() -> pd.DataFrame:
    """Open Play daily surveys as make_refs.R prepares them (complete rows)."""
    d = pd.read_csv(shared_path("openplay/survey_daily.csv.gz"))
    q = d["sleep_diary_quality"]
    stress = d["had_stress"]
    out = pd.DataFrame(
        {
            "pid": d["pid"],
            "sleepq": pd.Categorical(q, categories=Q_LEVELS, ordered=True),
            "poor_sleep": np.where(q.isna(), np.nan, q.isin(["Very poor", "Poor"])),
            "stress": np.where(stress.isna(), np.nan, stress == "Yes"),
            "valence10": d["affective_valence"] / 10,
        }
    )
    return out.dropna().astype({"poor_sleep": float, "stress": float})


CASES = {
    "cbpp_laplace": ("incidence ~ C(period) + (1 | herd)", "cbpp", {"trials": "size"}),
    "cbpp_agq25": ("incidence ~ C(period) + (1 | herd)", "cbpp", {"trials": "size", "nagq": 25}),
    "aces_poisson": ("WASONs ~ STRESS + Female + (1 | UserID)", "aces", {"family": "poisson"}),
    "aces_poisson_agq": (
        "WASONs ~ STRESS + Female + (1 | UserID)",
        "aces",
        {"family": "poisson", "nagq": 9},
    ),
    "flare_slope": ("flare ~ poor_night + age_c + (1 + poor_night | id)", "flare", {}),
    "awake_nb": ("wakings ~ stress_c + (1 | id)", "awakenings", {"family": "negative_binomial"}),
    "openplay_binary": ("stress ~ poor_sleep + valence10 + (1 + poor_sleep | pid)", "openplay", {}),
}


def _data(name: str) -> pd.DataFrame:
    if name == "aces":
        return _aces()
    if name == "openplay":
        return openplay()
    return pd.read_csv(DATA / f"{name}.csv")


def _marks(case: str) -> list:
    if CASES[case][1] == "openplay":  # 15,838 rows, 1,275 persons: a few seconds
        return [pytest.mark.shared_data, pytest.mark.slow]
    return [pytest.mark.shared_data] if CASES[case][1] == "aces" else []


PARAMS = [pytest.param(c, marks=_marks(c), id=c) for c in CASES]


@cache
def _fit(case: str) -> sp.GlmmResult:
    formula, data, kw = CASES[case]
    return sp.glmm(formula, _data(data), **kw)


def _sat(case: str) -> float:
    """lme4's nAGQ > 1 deviance omits -2 log p(y | mu = y); add it back."""
    return REF[case]["minus2ll_saturated"] if CASES[case][2].get("nagq", 1) > 1 else 0.0


@pytest.mark.parametrize("case", PARAMS)
def test_deviance_at_fixed_parameters(case: str) -> None:
    formula, data, kw = CASES[case]
    ref = REF[case]
    gp = glmm_problem(formula, _data(data), **{k: v for k, v in kw.items() if k != "nagq"})
    pars = np.asarray(ref["fixed_pars"], dtype=float)
    nt = gp.ntheta
    size = ref.get("fixed_size")
    val, _ = glmm_objective(gp, pars[:nt], pars[nt:], nagq=kw.get("nagq", 1), size=size)
    assert val - _sat(case) == pytest.approx(ref["devfun_at_fixed"], rel=DEV_RTOL)


@pytest.mark.parametrize("case", PARAMS)
def test_objective_no_worse_than_lme4(case: str) -> None:
    fit = _fit(case)
    ref = REF[case]
    assert fit.converged
    assert fit.objective <= ref["minus2ll"] + _sat(case) + OBJ_ATOL
    if "tight" in ref:
        assert fit.objective <= ref["tight"]["minus2ll"] + _sat(case) + OBJ_ATOL


@pytest.mark.parametrize("case", PARAMS)
def test_fixed_effects_and_standard_errors(case: str) -> None:
    fit = _fit(case)
    ref = REF[case].get("tight", REF[case])
    beta_ref = np.array(list(ref["fixef"].values()))
    se_ref = np.array(list(ref["se"].values()))
    se = fit.std_errors.to_numpy()
    assert np.all(np.abs(fit.beta - beta_ref) <= BETA_SE_FRACTION * se_ref)
    if ref.get("converged", True):
        np.testing.assert_allclose(se, se_ref, rtol=SE_RTOL)
    np.testing.assert_allclose(fit.theta, ref["theta"], atol=THETA_ATOL)
    # the names follow patsy; the order follows lme4's
    assert len(fit.fixef) == len(ref["fixef"])


@pytest.mark.parametrize("case", [c for c in PARAMS if "agq" not in c.id])
def test_information_criteria(case: str) -> None:
    fit = _fit(case)
    ref = REF[case]
    tight = ref.get("tight", ref)
    g = fit.glance().iloc[0]
    npar = ref["AIC"] + 2 * ref["logLik"]  # lme4's 2 * df
    assert g["npar"] == pytest.approx(npar / 2)
    assert g["logLik"] == pytest.approx(-tight["minus2ll"] / 2, abs=OBJ_ATOL)
    assert g["AIC"] == pytest.approx(tight["minus2ll"] + npar, abs=OBJ_ATOL)
    n = ref["nobs"]
    assert g["BIC"] == pytest.approx(tight["minus2ll"] + np.log(n) * npar / 2, abs=OBJ_ATOL)
    assert g["nobs"] == n


def test_negative_binomial_size() -> None:
    fit = _fit("awake_nb")
    assert fit.size == pytest.approx(REF["awake_nb"]["nb_size"], rel=SE_RTOL)


@pytest.mark.parametrize("case", ["cbpp_agq25"])
def test_agq_loglik_relation_to_lme4(case: str) -> None:
    """lme4 prints logLik for nAGQ > 1 from deviance residuals; ours is the full one."""
    fit = _fit(case)
    ref = REF[case]
    assert fit.loglik == pytest.approx(ref["logLik"] - _sat(case) / 2, abs=OBJ_ATOL)


#: Conditional modes and variances at the optimum (derived quantities, 1e-3 relative;
#: modes near zero are compared with an absolute 1e-3 of the random-effect SD).
RANEF_RTOL = 1e-3


@pytest.mark.parametrize("case", [c for c in PARAMS if c.id != "awake_nb"])
def test_conditional_modes_and_variances(case: str) -> None:
    fit = _fit(case)
    ref = REF[case]
    re = fit.ranef()
    t0 = fit.design.terms[0]
    rows = re[(re["group"] == t0.group) & (re["term"] == t0.names[0])].head(5)
    sd = float(fit.varcorr()["sd"].iloc[0])
    np.testing.assert_allclose(
        rows["estimate"], ref["ranef_tight_head"], rtol=RANEF_RTOL, atol=RANEF_RTOL * sd
    )
    np.testing.assert_allclose(rows["cond_var"], ref["condvar_tight_head"], rtol=RANEF_RTOL)
