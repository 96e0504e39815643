"""sp.lmm against lme4 1.1-31 and lmerTest 3.1-3.

Reference values: ``tests/reference/lme4/lme4_refs.json``, written by
``tests/reference/lme4/make_refs.R`` (R and package versions recorded in the file); the
synthetic case data come from ``tests/reference/lme4/make_case_data.py``. No R is needed
to run these tests. Cases on the real data in ``../shared/data`` are marked ``shared_data``
and skip, with the reason, when that folder is absent.

Tolerance tiers (HOUSE_STYLE.md, "Tests"): deviance at a fixed theta rtol 1e-8; at the
optimum, fixed effects within 1% of lme4's standard error and the objective no worse than
lme4's by more than 1e-3; variance components, standard errors, Satterthwaite df and
p-values rtol 1e-3.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.mixed import make_deviance

LME4_DIR = Path(__file__).resolve().parents[1] / "reference" / "lme4"
REF_FILE = LME4_DIR / "lme4_refs.json"

# Deviance at a fixed theta is a closed-form evaluation: only floating-point order differs.
DEVFUN_RTOL = 1e-8
# At the optimum the optimisers stop at different points: beta within 1% of lme4's SE.
BETA_SE_FRACTION = 0.01
# Our objective may be lower (lme4 sometimes stops early) but never higher by more than this.
OBJECTIVE_ATOL = 1e-3
# Variance components, residual sd, standard errors (derived quantities) at the optimum.
VARCOMP_RTOL = 1e-3
# Random-effect correlations lie in [-1, 1] and can be near 0, where a relative tolerance
# is meaningless: compare them absolutely at the same 1e-3 tier.
CORR_ATOL = 1e-3
# Fixed-effect (co)variances: rtol 1e-3 on the scale sqrt(V_ii V_jj), so that near-zero
# covariances are judged on the scale of the variances they belong to.
VCOV_RTOL = 1e-3
# lmerTest's Satterthwaite df, t statistics and p-values (derived) at the optimum.
SATTERTHWAITE_RTOL = 1e-3
# lme4's isSingular(tol = 1e-4): a diagonal element of theta below this is on the boundary.
SINGULAR_TOL = 1e-4
# Bates et al. (2015) print the sleepstudy numbers rounded: half a unit of the last digit.
PUBLISHED_REML_ROUNDING = 0.05
PUBLISHED_FIXEF_ROUNDING = 0.0005

SLEEP_LABELS = {"Very poor": 1, "Poor": 2, "Fair": 3, "Good": 4, "Very good": 5}


def _load_refs() -> dict[str, Any]:
    with REF_FILE.open(encoding="utf-8") as fh:
        return json.load(fh)


REFS = _load_refs()
CASES: dict[str, dict[str, Any]] = {c["name"]: c for c in REFS["cases"]}


# --------------------------------------------------------------------------------------
# Case data: identical construction to make_refs.R
def within_between(df: pd.DataFrame, x: str, person: str, w_name: str, m_name: str) -> pd.DataFrame:
    """Within/between decomposition used by make_refs.R (``within_between`` there).

    ``pm`` is the mean of ``x`` over the person's rows where ``x`` is not missing (all rows
    of the file, before any row is dropped); ``x_w = x - pm`` (missing where ``x`` is);
    ``x_m = pm - mean(pm over persons with at least one non-missing x)``.
    """
    out = df.copy()
    ok = out[x].notna()
    pm = out.loc[ok].groupby(person)[x].mean()
    grand = float(pm.mean())
    pm_row = out[person].map(pm).astype(float)
    out[w_name] = out[x] - pm_row
    out[m_name] = pm_row - grand
    return out


def preprocess(df: pd.DataFrame, keyword: str) -> pd.DataFrame:
    """The preprocessing keywords recorded in the JSON (see preprocess_description)."""
    if keyword == "none":
        return df
    if keyword == "paindiary_sleepqual_wb":
        return within_between(df, "SleepQual", "Person", "SleepQual_w", "SleepQual_m")
    if keyword == "openplay_sleep_quality_wb":
        out = df.copy()
        labels = out["sleep_diary_quality"]
        unknown = set(labels.dropna().unique()) - set(SLEEP_LABELS)
        if unknown:
            raise ValueError(f"unexpected sleep_diary_quality labels: {sorted(unknown)}")
        out["sq"] = labels.map(SLEEP_LABELS).astype(float)
        return within_between(out, "sq", "pid", "sq_w", "sq_m")
    raise ValueError(f"unknown preprocessing keyword {keyword!r}")


def source_path(source: str, shared_root: Path | None) -> Path:
    kind, _, rel = source.partition(":")
    if kind == "case":
        return LME4_DIR / rel
    if kind == "shared":
        assert shared_root is not None, "shared cases need the shared_data fixture"
        path = shared_root / rel
        if not path.exists():
            pytest.skip(f"real data not available: {path} is absent")
        return path
    raise ValueError(f"unknown data source {source!r}")


@cache
def _case_data(name: str, shared_root: Path | None) -> pd.DataFrame:
    case = CASES[name]
    df = pd.read_csv(source_path(case["source"], shared_root), na_values=["NA", ""])
    df = preprocess(df, case["preprocess"])
    return df.dropna(subset=case["variables"]).reset_index(drop=True)


@cache
def _case_fit(name: str, shared_root: Path | None) -> Any:
    """The engine's fit; a singular case must warn as lme4 messages (BoundaryFitWarning)."""
    case = CASES[name]
    data = _case_data(name, shared_root)
    if case["is_singular"]:
        with pytest.warns(sp.BoundaryFitWarning, match="singular"):
            return sp.lmm(case["formula_py"], data, reml=case["reml"])
    return sp.lmm(case["formula_py"], data, reml=case["reml"])


def _shared_root(case: dict[str, Any], request: pytest.FixtureRequest) -> Path | None:
    if case["source"].startswith("shared:"):
        return request.getfixturevalue("shared_data")
    return None


def case_data(case: dict[str, Any], request: pytest.FixtureRequest) -> pd.DataFrame:
    return _case_data(case["name"], _shared_root(case, request))


def case_fit(case: dict[str, Any], request: pytest.FixtureRequest) -> Any:
    return _case_fit(case["name"], _shared_root(case, request))


def _params(select: Callable[[dict[str, Any]], bool] = lambda c: True) -> list[Any]:
    out = []
    for case in REFS["cases"]:
        if not select(case):
            continue
        marks = [pytest.mark.shared_data] if case["source"].startswith("shared:") else []
        out.append(pytest.param(case, id=case["name"], marks=marks))
    return out


ALL = _params()
NOT_SINGULAR = _params(lambda c: not c["is_singular"])


# --------------------------------------------------------------------------------------
# The reference file itself
def test_reference_file_records_versions_and_coverage() -> None:
    versions = REFS["versions"]
    assert versions["lme4"] and versions["lmerTest"] and versions["Matrix"]
    assert versions["R"].startswith("R version")
    assert len(CASES) >= 12
    assert {c["reml"] for c in CASES.values()} == {True, False}
    assert any(c["is_singular"] for c in CASES.values())
    assert any("||" in c["formula_r"] for c in CASES.values())
    assert any("/" in c["formula_r"] for c in CASES.values())


def _case_data_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_case_data", LME4_DIR / "make_case_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("filename", ["ri.csv", "slopes.csv", "nested.csv", "singular.csv"])
def test_case_data_regenerate_identically(filename: str) -> None:
    """The committed CSVs are what make_case_data.py writes (seeded), byte for byte."""
    module = _case_data_module()
    assert set(module.CASE_FILES) == {"ri.csv", "slopes.csv", "nested.csv", "singular.csv"}
    expected = module.to_csv_text(module.CASE_FILES[filename]())
    committed = (LME4_DIR / "data" / filename).read_text(encoding="utf-8")
    assert committed == expected, (
        f"data/{filename} differs from make_case_data.py's output: rerun it and make_refs.R"
    )


def test_reference_sleepstudy_matches_published() -> None:
    """Bates, Maechler, Bolker & Walker (2015, JSS 67(1)): REML 1743.6; 251.405, 10.467."""
    case = CASES["sleepstudy_reml"]
    assert abs(case["objective"] - 1743.6) <= PUBLISHED_REML_ROUNDING
    fixef = dict(zip(case["fixef"]["r_terms"], case["fixef"]["estimate"], strict=True))
    assert abs(fixef["(Intercept)"] - 251.405) <= PUBLISHED_FIXEF_ROUNDING
    assert abs(fixef["Days"] - 10.467) <= PUBLISHED_FIXEF_ROUNDING


# --------------------------------------------------------------------------------------
# Deviance at a fixed theta
@pytest.mark.parametrize("point", ["optimum", "start", "perturbed"])
@pytest.mark.parametrize("case", ALL)
def test_deviance_at_fixed_theta(
    case: dict[str, Any], point: str, request: pytest.FixtureRequest
) -> None:
    ref = case["devfun"][point]
    devfun = make_deviance(case["formula_py"], case_data(case, request), reml=case["reml"])
    value = devfun(np.asarray(ref["theta"], dtype=float))
    np.testing.assert_allclose(value, ref["value"], rtol=DEVFUN_RTOL, atol=0)


# --------------------------------------------------------------------------------------
# At the optimum
@pytest.mark.parametrize("case", ALL)
def test_nobs_and_singular_flag(case: dict[str, Any], request: pytest.FixtureRequest) -> None:
    fit = case_fit(case, request)
    assert fit.nobs == case["nobs"]
    assert bool(fit.is_singular) is bool(case["is_singular"])


@pytest.mark.parametrize("case", ALL)
def test_objective_no_worse_than_lme4(case: dict[str, Any], request: pytest.FixtureRequest) -> None:
    fit = case_fit(case, request)
    assert fit.objective <= case["objective"] + OBJECTIVE_ATOL, (
        f"{case['objective_kind']}: ours {fit.objective!r}, lme4 {case['objective']!r}"
    )
    assert fit.loglik >= case["loglik"] - OBJECTIVE_ATOL / 2


@pytest.mark.parametrize("case", ALL)
def test_theta_reproduces_objective(case: dict[str, Any], request: pytest.FixtureRequest) -> None:
    """fit.theta is in lme4's getME(fit, "theta") order: the deviance there is the objective."""
    fit = case_fit(case, request)
    theta = np.asarray(fit.theta, dtype=float)
    assert theta.shape == (len(case["theta"]),)
    lower = np.asarray(case["theta_lower"], dtype=float)
    assert np.all(theta[lower == 0] >= 0)
    devfun = make_deviance(case["formula_py"], case_data(case, request), reml=case["reml"])
    np.testing.assert_allclose(devfun(theta), fit.objective, rtol=DEVFUN_RTOL, atol=0)


@pytest.mark.parametrize("case", ALL)
def test_fixed_effects_within_one_percent_of_se(
    case: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    fit = case_fit(case, request)
    ref = case["fixef"]
    fixef = pd.Series(fit.fixef)
    assert sorted(fixef.index) == sorted(ref["py_terms"])
    for term, est, se in zip(ref["py_terms"], ref["estimate"], ref["std_error"], strict=True):
        diff = abs(fixef[term] - est)
        assert diff <= BETA_SE_FRACTION * se, (
            f"{term}: ours {fixef[term]!r}, lme4 {est!r}, |diff| = {diff / se:.3g} SE"
        )


@pytest.mark.parametrize("case", NOT_SINGULAR)
def test_vcov_of_fixed_effects(case: dict[str, Any], request: pytest.FixtureRequest) -> None:
    fit = case_fit(case, request)
    terms = case["fixef"]["py_terms"]
    ref = np.asarray(case["vcov"], dtype=float)
    ours = fit.vcov.loc[terms, terms].to_numpy(dtype=float)
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    worst = float(np.max(np.abs(ours - ref) / scale))
    assert worst <= VCOV_RTOL, f"max |V - V_lme4| / sqrt(V_ii V_jj) = {worst:.3g}"


def _group_key(group: str) -> str:
    """'Subject.1' (lme4's name for a second || term) -> 'Subject'; 'day:person' sorted."""
    if group == "Residual":
        return group
    group = re.sub(r"\.\d+$", "", group)
    return ":".join(sorted(group.split(":")))


def _term(value: Any) -> str | None:
    """A varcorr term name; None for lme4's NA (and an empty cell); '(Intercept)' -> 'Intercept'."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    if text == "":
        return None
    return "Intercept" if text == "(Intercept)" else text


def _term_key(t1: Any, t2: Any) -> frozenset[str | None]:
    return frozenset({_term(t1), _term(t2)})


@pytest.mark.parametrize("case", NOT_SINGULAR)
def test_variance_components(case: dict[str, Any], request: pytest.FixtureRequest) -> None:
    fit = case_fit(case, request)
    vc = fit.varcorr()
    ours: dict[tuple[str, frozenset[str | None]], pd.Series] = {}
    for _, row in vc.iterrows():
        key = (_group_key(str(row["group"])), _term_key(row["term1"], row["term2"]))
        assert key not in ours, f"duplicate varcorr row {key} in\n{vc}"
        ours[key] = row
    ref = case["varcorr"]
    assert len(vc) == len(ref["grp"]), f"ours:\n{vc}\nlme4 groups {ref['grp']}"
    for grp, v1, v2, vcov, sdcor in zip(
        ref["grp"], ref["py_var1"], ref["py_var2"], ref["vcov"], ref["sdcor"], strict=True
    ):
        key = (_group_key(grp), _term_key(v1, v2))
        assert key in ours, f"lme4 row {grp}/{v1}/{v2} not found in\n{vc}"
        row = ours[key]
        if v2 is None:  # a variance (or the residual)
            np.testing.assert_allclose(row["variance"], vcov, rtol=VARCOMP_RTOL, atol=0)
            np.testing.assert_allclose(row["sd"], sdcor, rtol=VARCOMP_RTOL, atol=0)
        else:  # a covariance: lme4's sdcor holds the correlation
            assert abs(row["corr"] - sdcor) <= CORR_ATOL, (grp, v1, v2, row["corr"], sdcor)
    np.testing.assert_allclose(fit.sigma, case["sigma"], rtol=VARCOMP_RTOL, atol=0)


def _fixed_tidy(fit: Any) -> pd.DataFrame:
    tidy = fit.tidy()
    if "effect" in tidy.columns:
        tidy = tidy[tidy["effect"] == "fixed"]
    return tidy.set_index("term")


@pytest.mark.parametrize("case", NOT_SINGULAR)
def test_standard_errors(case: dict[str, Any], request: pytest.FixtureRequest) -> None:
    tidy = _fixed_tidy(case_fit(case, request))
    ref = case["fixef"]
    np.testing.assert_allclose(
        tidy.loc[ref["py_terms"], "std_error"].to_numpy(dtype=float),
        ref["std_error"],
        rtol=VARCOMP_RTOL,
        atol=0,
    )


@pytest.mark.parametrize("quantity", ["df", "statistic", "p_value"])
@pytest.mark.parametrize("case", NOT_SINGULAR)
def test_satterthwaite_matches_lmertest(
    case: dict[str, Any], quantity: str, request: pytest.FixtureRequest
) -> None:
    tidy = _fixed_tidy(case_fit(case, request))
    ref = case["lmertest"]
    column = {"df": "df", "statistic": "t_value", "p_value": "p_value"}[quantity]
    ours = tidy.loc[ref["py_terms"], quantity].to_numpy(dtype=float)
    expected = np.asarray(ref[column], dtype=float)
    # A p-value R prints as 0 underflowed (below the smallest normal double): ours must too.
    underflow = expected == 0
    assert np.all(ours[underflow] < np.finfo(float).tiny), (ours[underflow], ref["py_terms"])
    np.testing.assert_allclose(
        ours[~underflow], expected[~underflow], rtol=SATTERTHWAITE_RTOL, atol=0
    )


@pytest.mark.parametrize("case", _params(lambda c: c["is_singular"]))
def test_singular_fit_is_on_the_boundary(
    case: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    """A singular fit has a diagonal theta element at (numerically) zero, as lme4 finds."""
    fit = case_fit(case, request)
    lower = np.asarray(case["theta_lower"], dtype=float)  # JSON null = -Inf (off-diagonal)
    ref_theta = np.asarray(case["theta"], dtype=float)
    theta = np.asarray(fit.theta, dtype=float)
    assert np.any(ref_theta[lower == 0] < SINGULAR_TOL)  # the reference itself
    assert np.any(theta[lower == 0] < SINGULAR_TOL), f"theta {theta}, lme4 {ref_theta}"
