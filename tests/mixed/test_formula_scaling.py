"""Formula-side hardening of sp.lmm (issue 10).

* Predictors far from zero: the optimum found through the centring/scaling stage
  (sleeppain.mixed._scaling) equals the optimum of the same model with the predictor
  centred by hand -- the reference here is that centred fit, an exact reparametrisation
  (Bates et al. 2015, J Stat Softw 67(1)), which both lme4 1.1-31 and sleeppain reach.
* R-style dotted column names (``Informed.liking ~ Product``) are accepted.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning, EstimationError, SpecificationError
from sleeppain.mixed import _scaling, build_design, deviance_from_design
from sleeppain.mixed.formula import DottedNames, dotted_columns
from sleeppain.mixed.inference import satterthwaite_df

#: Objective of the uncentred fit vs the centred one (house tier for an optimum).
OBJ_TOL = 1e-3
#: Fixed effects within 1% of a standard error (house tier for an optimum).
BETA_SE_SHARE = 0.01
#: Variance components and sigma at the optimum (derived quantities tier).
VC_RTOL = 1e-3
#: Deviance at a fixed theta, reparametrised design vs original (fixed-theta tier).
DEV_RTOL = 1e-8

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "scaling"
#: lme4 1.1-31 (R 4.2.2) on these data: make_data.py + make_refs.R -> scaling_refs.json
REFS = json.loads((REF_DIR / "scaling_refs.json").read_text())


def far_from_zero(
    seed: int = 1, sd_x: float = 1.0, sd_b0: float = 2.0, sd_b1: float = 0.5
) -> pd.DataFrame:
    """A random-slope diary whose predictor sits around 1e4 (not centred)."""
    rng = np.random.default_rng(seed)
    persons, days = 30, 10
    g = np.repeat(np.arange(persons), days)
    x = 1e4 + rng.normal(0, sd_x, persons * days)
    b0, b1 = rng.normal(0, sd_b0, persons), rng.normal(0, sd_b1, persons)
    y = 5 + b0[g] + (0.3 + b1[g]) * (x - 1e4) + rng.normal(0, 1, persons * days)
    return pd.DataFrame({"y": y, "x": x, "g": g, "xc": x - x.mean()})


def fit(formula: str, df: pd.DataFrame, reml: bool = False):
    with warnings.catch_warnings():
        # the uncentred parametrisation has a near-perfect intercept-slope correlation,
        # which lme4's isSingular may call a boundary; the comparison below is what counts
        warnings.simplefilter("ignore", BoundaryFitWarning)
        return sp.lmm(formula, df, reml=reml)


def slope_var(theta: np.ndarray, sigma: float) -> float:
    return float((theta[1] ** 2 + theta[2] ** 2) * sigma**2)


@pytest.mark.parametrize("reml", [False, True])
def test_uncentred_random_slope_reaches_the_centred_optimum(reml):
    df = far_from_zero()
    raw, centred = fit("y ~ x + (1 + x | g)", df, reml), fit("y ~ xc + (1 + xc | g)", df, reml)
    # REML: X A with det(A) = 1 (centring only), so the criteria are directly comparable
    assert abs(raw.objective - centred.objective) < OBJ_TOL
    se = centred.std_errors.to_numpy()
    b_raw, b_c = raw.fixef.to_numpy(), centred.fixef.to_numpy()
    assert abs(b_raw[1] - b_c[1]) < BETA_SE_SHARE * se[1]
    mean_x = float(df["x"].mean())
    assert abs(b_raw[0] + b_raw[1] * mean_x - b_c[0]) < BETA_SE_SHARE * se[0]
    assert raw.sigma == pytest.approx(centred.sigma, rel=VC_RTOL)
    assert slope_var(raw.theta, raw.sigma) == pytest.approx(
        slope_var(centred.theta, centred.sigma), rel=VC_RTOL
    )
    assert "centred and scaled" in raw.convergence.message


@pytest.mark.parametrize("key", sorted(REFS["cases"]))
def test_beyond_lme4_uncentred_fit_reaches_lme4s_standardised_optimum(key):
    """lme4 reaches the optimum only on the standardised predictor; sp.lmm also uncentred.

    Recorded with lme4 1.1-31: uncentred, lme4 stops 17-18 (narrow) and 89-91 (wide) units
    above the optimum; centred it still fails on the wide data (no convergence, 219 and
    569 units above). The REML criterion of the standardised model is shifted by
    2 log(sd_x) (the log|X'V^-1 X| term), which is added back.
    """
    ref = REFS["cases"][key]
    reml = key.endswith("reml")
    df = pd.read_csv(REF_DIR / f"{key.rsplit('_', 1)[0]}.csv")
    std = ref["standardised"]
    optimum = std["objective"] + (2 * math.log(ref["sd_x"]) if reml else 0.0)
    got = fit("y ~ x + (1 + x | g)", df, reml)
    assert abs(got.objective - optimum) < OBJ_TOL
    assert ref["uncentred"]["objective"] - optimum > 10  # lme4 stops far above it
    slope = std["fixef"]["xs"] / ref["sd_x"]
    se = got.std_errors.to_numpy()
    assert abs(got.fixef.to_numpy()[1] - slope) < BETA_SE_SHARE * se[1]
    assert got.sigma == pytest.approx(std["sigma"], rel=VC_RTOL)
    assert slope_var(got.theta, got.sigma) == pytest.approx(
        std["slope_var"] / ref["sd_x"] ** 2, rel=VC_RTOL
    )


#: Satterthwaite df against lmerTest 3.1-3 (derived quantities tier).
DF_RTOL = 1e-3


@pytest.mark.parametrize("key", sorted(REFS["cases"]))
def test_satterthwaite_df_from_the_standardised_design_match_lmertest(key):
    """lmerTest on the standardised model gives 28.9 df for the slope of the narrow data;
    differentiated on the uncentred parametrisation the df are meaningless (lmerTest
    itself: 5.8 under ML, 274 under REML)."""
    ref = REFS["cases"][key]
    reml = key.endswith("reml")
    df = pd.read_csv(REF_DIR / f"{key.rsplit('_', 1)[0]}.csv")
    got = fit("y ~ x + (1 + x | g)", df, reml)
    parts = _scaling.satterthwaite_parts_standardized(got.design, got.theta, got.sigma, reml=reml)
    dfs = satterthwaite_df(parts)
    assert dfs[1] == pytest.approx(ref["standardised"]["df"][1], rel=DF_RTOL)
    assert dfs[0] == pytest.approx(ref["intercept_df"], rel=DF_RTOL)
    se_slope = float(np.sqrt(parts.vcov_beta[1, 1]))
    assert se_slope == pytest.approx(ref["standardised"]["se"][1] / ref["sd_x"], rel=DF_RTOL)


def test_without_the_stage_the_optimiser_stops_far_above_the_optimum(monkeypatch):
    """The failure the stage fixes (so the test above can fail): 19 deviance units here."""
    df = far_from_zero()
    centred = fit("y ~ xc + (1 + xc | g)", df)
    monkeypatch.setattr(_scaling, "needs_scaling", lambda design, stats=None: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = sp.lmm("y ~ x + (1 + x | g)", df, reml=False)
    assert direct.objective - centred.objective > 1.0


def test_wide_predictor_no_longer_breaks_the_fixed_effects_system(monkeypatch):
    df = far_from_zero(seed=1, sd_x=100.0, sd_b0=50.0, sd_b1=0.01)
    raw, centred = fit("y ~ x + (1 + x | g)", df), fit("y ~ xc + (1 + xc | g)", df)
    assert abs(raw.objective - centred.objective) < OBJ_TOL
    monkeypatch.setattr(_scaling, "needs_scaling", lambda design, stats=None: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(EstimationError, match="not positive definite"):
            sp.lmm("y ~ x + (1 + x | g)", df, reml=False)


def test_theta_maps_are_inverse_and_keep_the_deviance():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(15), 8)
    df = pd.DataFrame({"x": 30 + 3 * rng.normal(size=120), "z": rng.normal(size=120), "g": g})
    df["y"] = df.x * 0.1 + rng.normal(size=15)[g] + rng.normal(size=120)
    d = build_design("y ~ x + z + (1 + x | g) + (0 + z | g)", df)
    assert _scaling.needs_scaling(d)
    sc = _scaling.standardize(d)
    # the (1 + x | g) term is centred (it has an intercept); (0 + z | g) only scaled
    assert (
        sc.terms[0][0, 1] != 0
        and np.count_nonzero(sc.terms[1] - np.diag(np.diag(sc.terms[1]))) == 0
    )
    theta = np.array([0.8, -0.3, 0.5, 0.7])
    np.testing.assert_allclose(sc.theta_to_original(sc.theta_to_standard(theta)), theta)
    ml, ml_s = deviance_from_design(d, reml=False), deviance_from_design(sc.design, reml=False)
    assert ml_s(sc.theta_to_standard(theta)) == pytest.approx(ml(theta), rel=DEV_RTOL)
    # REML: log|X_s' V^-1 X_s| = log|X' V^-1 X| + 2 log|det A|
    re, re_s = deviance_from_design(d, reml=True), deviance_from_design(sc.design, reml=True)
    shift = 2 * np.log(abs(np.linalg.det(sc.fixed)))
    assert re_s(sc.theta_to_standard(theta)) == pytest.approx(re(theta) + shift, rel=DEV_RTOL)
    # singular factors map exactly too (a zero diagonal stays zero)
    sing = np.array([0.8, 0.4, 0.0, 0.0])
    back = sc.theta_to_original(sc.theta_to_standard(sing))
    np.testing.assert_allclose(back, sing, atol=1e-12)


def test_well_scaled_models_take_the_original_path():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(12), 8)
    df = pd.DataFrame({"x": rng.normal(size=96), "g": g})
    df["y"] = df.x + rng.normal(size=12)[g] + rng.normal(size=96)
    assert not _scaling.needs_scaling(build_design("y ~ x + (1 + x | g)", df))
    assert "centred" not in sp.lmm("y ~ x + (1 | g)", df).convergence.message


# ------------------------------------------------------------------ dotted names


def consumer_data() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    n = 160
    df = pd.DataFrame(
        {
            "Product": np.repeat(list("abcd"), 40),
            "Consumer.id": np.tile(np.arange(40), 4),
            "Age.group": rng.integers(0, 3, n).astype(float),
        }
    )
    df["Informed.liking"] = (
        5 + (df["Product"] == "b") + rng.normal(size=40)[df["Consumer.id"]] + rng.normal(size=n)
    )
    return df


def test_r_style_dotted_columns_fit_like_renamed_ones():
    df = consumer_data()
    dotted = sp.lmm("Informed.liking ~ Product + Age.group + (1 | Consumer.id)", df)
    plain = sp.lmm(
        "liking ~ Product + age + (1 | consumer)",
        df.rename(
            columns={"Informed.liking": "liking", "Age.group": "age", "Consumer.id": "consumer"}
        ),
    )
    assert dotted.objective == pytest.approx(plain.objective, rel=1e-12)
    np.testing.assert_allclose(dotted.fixef.to_numpy(), plain.fixef.to_numpy(), rtol=1e-10)
    assert list(dotted.fixef.index)[-1] == "Age.group"
    assert dotted.formula == "Informed.liking ~ Product + Age.group + (1 | Consumer.id)"
    assert dotted.design.terms[0].group == "Consumer.id"
    assert "Consumer.id" in dotted.varcorr()["group"].tolist()


def test_dotted_names_in_random_terms_and_accounting():
    df = consumer_data()
    df.loc[3, "Age.group"] = np.nan
    with pytest.warns(sp.DataDropWarning):
        fit_ = sp.lmm("Informed.liking ~ Age.group + (1 | Consumer.id)", df)
    assert fit_.accounting.dropped[0] == ("missing or non-finite 'Age.group'", 1)
    assert fit_.design.parsed.re_terms[0].factors == ("Consumer.id",)


def test_dotted_calls_and_unknown_dotted_names():
    df = pd.DataFrame({"x": [1.0, 2.0], "x.y": [1.0, 2.0]})
    # a call such as np.log(x) is not a column name
    f, _, names = dotted_columns("y ~ np.log(x) + x.y + (1 | g)", df)
    assert f == "y ~ np.log(x) + x_y + (1 | g)" and names.pairs == (("x.y", "x_y"),)
    # a safe name already taken gets another underscore
    _, d2, n2 = dotted_columns("y ~ x.y", df.assign(x_y=0.0))
    assert n2.pairs == (("x.y", "x_y_"),) and "x_y_" in d2.columns
    assert DottedNames().restore("a_b") == "a_b"
    with pytest.raises(SpecificationError, match="not a column"):
        sp.lmm(
            "Informed.liking ~ Product + (1 | Consumer.id)",
            consumer_data().drop(columns="Informed.liking"),
        )
