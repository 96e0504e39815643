"""sp.lmm with residual correlation / varIdent against nlme 3.1-162 (R 4.2.2).

Reference values: tests/reference/nlme/nlme_refs.json, written by
tests/reference/nlme/make_refs.R (``lme`` with ``corAR1``, ``corCAR1``, ``varIdent``; the
Satterthwaite df there are lmerTest's formula evaluated independently with numDeriv on the
dense marginal REML deviance at nlme's optimum).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataDropWarning
from tests.conftest import REFERENCE_DIR, shared_path

REFS = json.loads((REFERENCE_DIR / "nlme" / "nlme_refs.json").read_text())
CASES = {c["name"]: c for c in REFS["cases"]}

#: the issue's tolerances for the optimum: log-likelihood (absolute)
LOGLIK_ATOL = 1e-4
#: phi (absolute)
PHI_ATOL = 1e-4
#: fixed effects within 1% of nlme's standard error
BETA_SE_FRACTION = 0.01
#: derived quantities at the optimum (SEs, sigma, SD ratios, random-effect SDs, df)
DERIVED_RTOL = 1e-3


def _data(case: dict) -> pd.DataFrame:
    src = case["source"]
    if src.startswith("case:data/"):
        return pd.read_csv(REFERENCE_DIR / "nlme" / src.removeprefix("case:"))
    if src == "shared:sleepstudy/sleepstudy.csv":
        return pd.read_csv(shared_path("sleepstudy/sleepstudy.csv"))
    if src == "shared:aces_daily/aces_daily.csv":
        # preprocessing "aces_time" of make_refs.R
        a = pd.read_csv(shared_path("aces_daily/aces_daily.csv"))
        day = (pd.to_datetime(a["SurveyDay"]) - pd.Timestamp("1970-01-01")).dt.days
        day = day.astype(float)
        a["time"] = day - day.groupby(a["UserID"]).transform("min") + a["SurveyStartTimec11"]
        return a.dropna(subset=["NegAff", "STRESS", "time"]).reset_index(drop=True)
    raise AssertionError(src)


def _fit(case: dict, data: pd.DataFrame | None = None) -> sp.LmmResult:
    py = case["python"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataDropWarning)
        return sp.lmm(
            py["formula"],
            _data(case) if data is None else data,
            reml=py["reml"],
            correlation=py.get("correlation"),
            time=py.get("time"),
            weights=py.get("weights"),
        )


def _params(name: str) -> list:
    marks = [pytest.mark.shared_data] if CASES[name]["source"].startswith("shared:") else []
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="module")
def fits() -> dict:
    return {}


def _cached(fits: dict, name: str) -> sp.LmmResult:
    if name not in fits:
        fits[name] = _fit(CASES[name])
    return fits[name]


@pytest.mark.parametrize("name", [_params(n) for n in CASES])
def test_optimum_matches_nlme(name, fits):
    ref = CASES[name]
    fit = _cached(fits, name)
    assert fit.nobs == ref["nobs"]
    assert fit.reml == (ref["method"] == "REML")
    assert fit.loglik == pytest.approx(ref["logLik"], abs=LOGLIK_ATOL)
    assert fit.npar == ref["df_logLik"]
    assert fit.aic == pytest.approx(ref["AIC"], abs=2 * LOGLIK_ATOL)
    if fit.residual is not None:  # nlme's BIC (log(n - p) for REML)
        assert fit.bic == pytest.approx(ref["BIC"], abs=2 * LOGLIK_ATOL)
    if ref["phi"] is not None:
        assert fit.phi == pytest.approx(ref["phi"], abs=PHI_ATOL)
        assert fit.correlation["phi"] == fit.phi
    else:
        assert fit.phi is None and fit.correlation is None
    names = [n.replace("(Intercept)", "Intercept") for n in ref["fixef"]]
    beta = np.array(list(ref["fixef"].values()))
    se = np.array(list(ref["se"].values()))
    assert list(fit.fixef.index) == names
    assert np.all(np.abs(fit.fixef.to_numpy() - beta) <= BETA_SE_FRACTION * se)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=DERIVED_RTOL)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=DERIVED_RTOL)
    vc = fit.varcorr()
    sds = vc[vc["term2"].isna() & (vc["group"] != "Residual")]["sd"].to_numpy()
    np.testing.assert_allclose(sds, list(ref["re_sd"].values()), rtol=DERIVED_RTOL)
    if "re_corr" in ref:
        corr = vc[vc["term2"].notna()]["corr"].to_numpy()
        np.testing.assert_allclose(corr, [ref["re_corr"]], atol=DERIVED_RTOL)
    if ref["varident"] is not None:
        vi = fit.varident
        assert list(vi.index) == list(ref["varident"])
        np.testing.assert_allclose(vi.to_numpy(), list(ref["varident"].values()), rtol=1e-3)


@pytest.mark.parametrize(
    "name", [_params("sleepstudy_ar1_reml"), _params("diary_varident_ar1_reml")]
)
def test_satterthwaite_df_including_phi(name, fits):
    """lmerTest's Satterthwaite formula with phi (and the SD ratio) among the variance
    parameters; reference: numDeriv on the dense REML deviance at nlme's optimum."""
    ref = CASES[name]["satterthwaite"]
    fit = _cached(fits, name)
    np.testing.assert_allclose(fit.df.to_numpy(), list(ref["df"].values()), rtol=DERIVED_RTOL)
    # the REML deviance of the reference implementation is nlme's -2 logLik
    assert -2 * fit.loglik == pytest.approx(ref["deviance"], abs=2 * LOGLIK_ATOL)


def test_missing_days_are_gaps_not_neighbours(fits):
    """With 20% of the days missing, AR(1) on the calendar differs from AR(1) on the row
    order; each matches the nlme fit of its own definition."""
    ref = CASES["diary_missing_ar1_reml"]
    by_time = _cached(fits, "diary_missing_ar1_reml")
    data = _data(ref)
    data = data.assign(row=data.groupby("id").cumcount())
    by_row = _fit(ref | {"python": ref["python"] | {"time": "row"}}, data)
    assert by_row.loglik == pytest.approx(ref["row_order_logLik"], abs=LOGLIK_ATOL)
    assert by_row.phi == pytest.approx(ref["row_order_phi"], abs=PHI_ATOL)
    assert abs(by_time.loglik - by_row.loglik) > 1.0


def test_anova_with_and_without_ar1(fits):
    """nlme's anova(lme0, lme1) of two REML fits: sp.anova(..., refit=False)."""
    ref = CASES["diary_noar1_reml"]["anova_vs_ar1"]
    f0 = _cached(fits, "diary_noar1_reml")
    f1 = _cached(fits, "diary_missing_ar1_reml")
    tab = sp.anova(f0, f1, refit=False)
    assert tab["Chisq"].iloc[1] == pytest.approx(ref["L.Ratio"], abs=2 * LOGLIK_ATOL)
    assert tab["Df"].iloc[1] == 1
    assert math.isclose(tab["Pr(>Chisq)"].iloc[1], ref["p"], rel_tol=1e-2)
    # the default refits both by ML (lme4's anova); AR(1) still wins clearly
    ml = sp.anova(f0, f1)
    assert ml["Chisq"].iloc[1] > 100
