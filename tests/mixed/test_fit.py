"""Stages 5-7 and the verbs: fitting, checks, the result object, anova.

Published reference: Bates, Maechler, Bolker & Walker (2015), J Stat Softw 67(1), the
sleepstudy model ``fm1`` (section 1 and the summary output in section 5) and
``anova(fm1, fm2)``; compared at the published rounding. Numerical agreement with lme4 and
lmerTest beyond that (objective 1e-3, SEs and df rtol 1e-3) is tested in
test_lme4_reference.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataDropWarning,
    SpecificationError,
)
from sleeppain.mixed import LmmControl, LmmResult, build_design, fit_design, lmm

# the house schema first, then the context columns (sleeppain.results.tidy_frame)
TIDY_COLUMNS = [
    "term",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "conf_low",
    "conf_high",
    "effect",
    "group",
]
#: optimum of the same criterion reached by two routes: beta within 1% of its SE
BETA_SE_FRACTION = 0.01
#: objective at two optima of the same criterion
OBJ_ATOL = 1e-6


def read_sleepstudy(shared_data):
    path = shared_data / "sleepstudy" / "sleepstudy.csv"
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent")
    return pd.read_csv(path)


@pytest.mark.shared_data
def test_sleepstudy_reproduces_bates_2015(shared_data):
    d = read_sleepstudy(shared_data)
    fit = sp.lmm("Reaction ~ Days + (Days | Subject)", d)
    assert isinstance(fit, sp.LmmResult)
    assert round(fit.objective, 1) == 1743.6
    assert fit.fixef.round(3).tolist() == [251.405, 10.467]
    assert fit.std_errors.round(3).tolist() == [6.825, 1.546]
    vc = fit.varcorr()
    sds = vc.loc[vc["term2"].isna(), "sd"].round(2).tolist()
    assert sds == [24.74, 5.92, 25.59]
    assert round(float(vc["corr"].dropna().iloc[0]), 2) == 0.07
    assert round(fit.sigma, 2) == 25.59
    t = fit.tidy()
    assert t["statistic"].round(2).tolist() == [36.84, 6.77]
    assert fit.converged and not fit.is_singular
    assert fit.nobs == 180 and fit.ngroups == {"Subject": 18}
    # lmerTest: for this balanced design both Satterthwaite df equal 17 (#subjects - 1)
    np.testing.assert_allclose(t["df"], [17.0, 17.0], rtol=1e-3)


@pytest.mark.shared_data
def test_sleepstudy_anova_reproduces_bates_2015(shared_data):
    d = read_sleepstudy(shared_data)
    fm1 = sp.lmm("Reaction ~ Days + (Days | Subject)", d)
    fm2 = sp.lmm("Reaction ~ Days + (Days || Subject)", d)
    tab = sp.anova(fm1, fm2, names=["fm1", "fm2"])
    assert list(tab.index) == ["fm2", "fm1"]
    assert list(tab.columns) == [
        "npar",
        "AIC",
        "BIC",
        "logLik",
        "deviance",
        "Chisq",
        "Df",
        "Pr(>Chisq)",
    ]
    assert tab["npar"].tolist() == [5, 6]
    assert tab["AIC"].round(1).tolist() == [1762.0, 1763.9]
    assert tab["BIC"].round(1).tolist() == [1778.0, 1783.1]
    assert tab["logLik"].round(2).tolist() == [-876.00, -875.97]
    assert round(tab["Chisq"].iloc[1], 4) == 0.0639
    assert round(tab["Pr(>Chisq)"].iloc[1], 4) == 0.8004
    assert np.isnan(tab["Chisq"].iloc[0])


@pytest.mark.shared_data
def test_sleepstudy_ranef_and_predict(shared_data):
    d = read_sleepstudy(shared_data)
    fit = sp.lmm("Reaction ~ Days + (Days | Subject)", d)
    re = fit.ranef()
    assert list(re.columns) == ["group", "level", "term", "estimate", "cond_var", "std_error"]
    assert len(re) == 36
    # conditional modes sum to ~0 per term (the REML solution is centred by construction)
    assert abs(re.loc[re.term == "Intercept", "estimate"].mean()) < 1e-6 * 24.74
    # predict on the training rows equals fitted values; new levels get population value
    np.testing.assert_allclose(fit.predict(), fit.fitted(), rtol=1e-14)
    new = pd.DataFrame({"Days": [1.0, 2.0], "Subject": [308, 999]})
    pred = fit.predict(new)
    b = re.set_index(["level", "term"])["estimate"]
    beta = fit.fixef
    expected0 = beta["Intercept"] + b[(308, "Intercept")] + (beta["Days"] + b[(308, "Days")])
    assert pred.iloc[0] == pytest.approx(expected0, rel=1e-12)
    assert pred.iloc[1] == pytest.approx(beta["Intercept"] + 2 * beta["Days"], rel=1e-12)
    pop = fit.predict(new, include_random=False)
    assert pop.iloc[0] == pytest.approx(beta["Intercept"] + beta["Days"], rel=1e-12)
    np.testing.assert_allclose(fit.residuals() + fit.fitted(), d["Reaction"].to_numpy(), rtol=1e-12)


def fit_quiet(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        return lmm(formula, data, **kw)


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x + z + (1 + x | person)",
        "y ~ x + (1 | person) + (0 + x | person)",
        "y ~ x * z + C(cat) + (1 + x || person)",
    ],
)
@pytest.mark.parametrize("reml", [True, False])
def test_block_fit_equals_general_fit(diary, formula, reml):
    a = fit_quiet(formula, diary, reml=reml)
    b = fit_quiet(formula, diary, reml=reml, control={"method": "general"})
    assert a.objective == pytest.approx(b.objective, abs=OBJ_ATOL)
    se = a.std_errors.to_numpy()
    np.testing.assert_array_less(
        np.abs(a.fixef.to_numpy() - b.fixef.to_numpy()), BETA_SE_FRACTION * se
    )
    np.testing.assert_allclose(a.theta, b.theta, atol=2e-3)
    np.testing.assert_allclose(a.tidy()["df"], b.tidy()["df"], rtol=1e-3)


@pytest.mark.parametrize(
    "formula",
    ["y ~ x + (1 | person/day)", "y ~ x + (1 + x | person) + (1 | item)"],
)
def test_nested_and_crossed_fits(diary, formula):
    fit = fit_quiet(formula, diary)
    assert fit.converged
    dev = fit.evaluator
    # a local minimum: no bounded direction decreases the criterion
    for k in range(fit.theta.size):
        for h in (1e-3, -1e-3):
            th = fit.theta.copy()
            th[k] += h
            if th[k] < dev.lower[k]:
                continue
            assert dev(th) >= fit.objective - 1e-9


def test_row_order_does_not_change_the_fit(diary):
    perm = np.random.default_rng(7).permutation(len(diary))
    a = lmm("y ~ x + z + (1 + x | person)", diary)
    b = lmm("y ~ x + z + (1 + x | person)", diary.iloc[perm])
    assert a.objective == pytest.approx(b.objective, abs=OBJ_ATOL)
    np.testing.assert_allclose(a.fixef, b.fixef, rtol=1e-6)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-4, atol=1e-6)
    pd.testing.assert_series_equal(
        a.residuals().sort_index(), b.residuals().sort_index(), rtol=1e-5
    )


@pytest.mark.parametrize("scale", [0.001, 7.0, 1000.0])
def test_rescaling_outcome_rescales_beta_and_sigma(diary, scale):
    a = lmm("y ~ x + z + (1 + x | person)", diary)
    b = lmm("y ~ x + z + (1 + x | person)", diary.assign(y=diary.y * scale))
    np.testing.assert_allclose(b.fixef, a.fixef * scale, rtol=1e-6)
    assert b.sigma == pytest.approx(a.sigma * scale, rel=1e-6)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-4, atol=1e-6)  # theta is relative
    np.testing.assert_allclose(b.std_errors, a.std_errors * scale, rtol=1e-5)
    # REML criterion shifts by 2 (n - p) log(scale)
    n, p = a.nobs, len(a.fixef)
    assert b.objective == pytest.approx(a.objective + 2 * (n - p) * np.log(scale), abs=1e-6)


def test_result_api(diary):
    fit = lmm("y ~ x + C(cat) + (1 + x | person)", diary)
    assert list(fit.fixef.index) == ["Intercept", "C(cat)[T.b]", "C(cat)[T.c]", "x"]
    assert fit.loglik == pytest.approx(-fit.objective / 2)
    assert fit.reml and fit.formula == "y ~ x + C(cat) + (1 + x | person)"
    assert fit.vcov.shape == (4, 4)
    assert list(fit.vcov.index) == list(fit.fixef.index)
    t = fit.tidy()
    assert list(t.columns) == TIDY_COLUMNS
    assert (t["effect"] == "fixed").all()
    assert np.all(t["conf_low"] < t["estimate"]) and np.all(t["estimate"] < t["conf_high"])
    t90 = fit.tidy(conf_level=0.9)
    assert np.all(t90["conf_high"] - t90["conf_low"] < t["conf_high"] - t["conf_low"])
    ta = fit.tidy(effects="all")
    assert ta["term"].tolist()[-4:] == [
        "sd__Intercept",
        "sd__x",
        "cor__Intercept.x",
        "sd__Observation",
    ]
    assert ta["estimate"].iloc[-1] == pytest.approx(fit.sigma)
    assert (ta["effect"] == "ran_pars").sum() == 4
    g = fit.glance()
    assert len(g) == 1
    for col in [
        "nobs",
        "ngroups",
        "logLik",
        "AIC",
        "BIC",
        "REMLcrit",
        "sigma",
        "converged",
        "singular",
    ]:
        assert col in g.columns
    assert g["AIC"].iloc[0] == pytest.approx(fit.objective + 2 * (4 + 3 + 1))
    vc = fit.varcorr()
    assert list(vc.columns) == ["group", "re_term", "term1", "term2", "variance", "sd", "corr"]
    assert vc["group"].tolist() == ["person", "person", "person", "Residual"]
    assert vc["variance"].iloc[-1] == pytest.approx(fit.sigma**2)
    text = fit.summary()
    assert "REML criterion at convergence" in text and "Satterthwaite" in text
    assert "(Intercept)" in text and "Number of obs: 300, groups:  person, 25" in text
    assert "<table" in fit._repr_html_()
    assert "LmmResult" in repr(fit)
    assert fit.convergence.optimizer == "scipy TNC"
    np.testing.assert_array_equal(fit.convergence.theta_start, fit.evaluator.moment_start())
    np.testing.assert_array_equal(fit.convergence.theta_end, fit.theta)
    assert fit.convergence.nevals > 0
    assert np.max(np.abs(fit.convergence.gradient)) < 1e-2
    assert fit.accounting.n_used == 300 and fit.accounting.n_dropped == 0


def test_result_is_frozen_and_with_df_returns_new(diary):
    fit = lmm("y ~ x + (1 | person)", diary)
    with pytest.raises(AttributeError):
        fit.sigma = 1.0  # type: ignore[misc]
    z = fit.with_df("z")
    assert z is not fit and fit.df_method == "satterthwaite" and z.df_method == "z"
    assert np.isinf(z.tidy()["df"]).all()
    tz, ts = z.tidy(), fit.tidy()
    np.testing.assert_allclose(tz["std_error"], ts["std_error"])
    assert (tz["p_value"] <= ts["p_value"]).all()  # normal tails are thinner than t tails
    assert "z value" in z.summary()
    back = z.with_df("Satterthwaite")
    np.testing.assert_allclose(back.tidy()["df"], ts["df"])
    with pytest.raises(SpecificationError, match="unknown df method"):
        fit.with_df("kenward-roger")
    with pytest.raises(SpecificationError, match="conf_level"):
        fit.tidy(conf_level=95)


def test_ml_fit_and_glance(diary):
    fit = lmm("y ~ x + (1 | person)", diary, reml=False)
    g = fit.glance()
    assert np.isnan(g["REMLcrit"].iloc[0])
    assert g["deviance"].iloc[0] == pytest.approx(fit.objective)
    assert fit.sigma == pytest.approx(np.sqrt(fit.solution.r2 / fit.nobs))
    assert "AIC" in fit.summary()


def test_singular_fit_warns(diary):
    # 'grp' means are made exactly equal, so its variance estimate is at the boundary 0
    df = diary.assign(grp=np.arange(len(diary)) % 5)
    df["y"] = df["y"] - df.groupby("grp")["y"].transform("mean")
    with pytest.warns(BoundaryFitWarning, match="boundary \\(singular\\) fit") as rec:
        fit = lmm("y ~ x + (1 | person) + (1 | grp)", df)
    assert rec[0].filename == __file__  # stacklevel points at the caller
    assert fit.is_singular
    assert fit.theta[1] < 1e-4
    assert fit.glance()["singular"].iloc[0]


def test_convergence_failure_warns(diary):
    with (
        warnings.catch_warnings(),
        pytest.warns(ConvergenceWarning, match="did not converge") as rec,
    ):
        # stopped early, the fit may also sit on a boundary: not what this test is about
        warnings.simplefilter("ignore", BoundaryFitWarning)
        fit = lmm("y ~ x + z + (1 + x | person)", diary, control={"maxiter": 1})
    assert not fit.converged
    assert any("fit.convergence" in str(w.message) for w in rec)
    assert fit.convergence.warnings


def test_bad_control(diary):
    with pytest.raises(SpecificationError, match="unknown control setting"):
        lmm("y ~ x + (1 | person)", diary, control={"solver": "nelder"})
    with pytest.raises(SpecificationError, match="theta_start has 2 values"):
        lmm("y ~ x + (1 | person)", diary, control=LmmControl(theta_start=(1.0, 0.0)))


def test_missing_values_recorded_in_fit(diary):
    df = diary.copy()
    df.loc[:9, "x"] = np.nan
    with pytest.warns(DataDropWarning, match="dropped 10 of 300") as rec:
        fit = lmm("y ~ x + (1 | person)", df)
    assert rec[0].filename == __file__
    assert fit.nobs == 290 and fit.accounting.n_dropped == 10
    assert "10 rows dropped" in fit.summary()
    assert len(fit.residuals()) == 290 and fit.residuals().index[0] == 10


def test_anova_checks(diary):
    a = lmm("y ~ x + (1 | person)", diary)
    with pytest.raises(SpecificationError, match="at least two"):
        sp.anova(a)
    df = diary.copy()
    df.loc[:4, "z"] = np.nan
    with pytest.warns(DataDropWarning):
        b = lmm("y ~ x + z + (1 | person)", df)
    with pytest.raises(SpecificationError, match="same size of dataset"):
        sp.anova(a, b)
    with pytest.raises(SpecificationError, match="LmmResult"):
        sp.anova(a, "b")  # type: ignore[arg-type]


def test_anova_refits_reml_with_ml(diary):
    a = lmm("y ~ x + (1 | person)", diary)
    b = lmm("y ~ x + z + (1 | person)", diary)
    tab = sp.anova(a, b)
    a_ml = lmm("y ~ x + (1 | person)", diary, reml=False)
    b_ml = lmm("y ~ x + z + (1 | person)", diary, reml=False)
    assert tab["deviance"].tolist() == pytest.approx([a_ml.objective, b_ml.objective], abs=1e-6)
    assert tab["Chisq"].iloc[1] == pytest.approx(a_ml.objective - b_ml.objective, abs=1e-6)
    assert tab["Df"].iloc[1] == 1


def test_fit_design_stage_equals_lmm(diary):
    d = build_design("y ~ x + (1 | person)", diary)
    a = fit_design(d)
    b = lmm("y ~ x + (1 | person)", diary)
    assert isinstance(a, LmmResult)
    assert a.objective == pytest.approx(b.objective, abs=1e-10)


def test_predict_newdata_with_patsy_terms(diary):
    fit = lmm("y ~ x + C(cat) + (1 + x | person)", diary)
    new = diary.iloc[:5]
    np.testing.assert_allclose(fit.predict(new), fit.fitted().iloc[:5], rtol=1e-12)
    with pytest.raises(SpecificationError, match="grouping column"):
        fit.predict(new.drop(columns="person"))


@pytest.mark.parametrize("optimizer", ["tnc", "l-bfgs-b"])
def test_optimizers_reach_the_same_optimum(diary, optimizer):
    ref = lmm("y ~ x + z + (1 + x | person)", diary)
    fit = lmm("y ~ x + z + (1 + x | person)", diary, control={"optimizer": optimizer})
    assert fit.convergence.optimizer.lower() == f"scipy {optimizer}"
    assert fit.objective == pytest.approx(ref.objective, abs=OBJ_ATOL)
    np.testing.assert_array_less(
        np.abs(fit.fixef.to_numpy() - ref.fixef.to_numpy()),
        BETA_SE_FRACTION * ref.std_errors.to_numpy(),
    )
    with pytest.raises(SpecificationError, match="unknown optimizer"):
        lmm("y ~ x + (1 | person)", diary, control={"optimizer": "bobyqa"})


def test_stuck_at_zero_variance_restarts(diary):
    # starting a scalar term's theta at 0 (a stationary point: the criterion is even in it)
    fit = lmm(
        "y ~ x + (0 + x | person) + (1 | person)",
        diary,
        control={"theta_start": (0.0, 1.0)},
    )
    assert fit.theta[0] > 0.05
    assert "restart" in fit.convergence.message


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x + z + (1 + x | person)",
        "y ~ x + (1 | person/day)",
        "y ~ x + (0 + x | person) + (1 | person)",
    ],
)
def test_bounded_and_unbounded_optimisation_agree(diary, formula):
    free = lmm(formula, diary)
    bounded = lmm(formula, diary, control={"bounded": True})
    assert free.objective == pytest.approx(bounded.objective, abs=OBJ_ATOL)
    np.testing.assert_allclose(free.theta, bounded.theta, atol=1e-4)
    assert np.all(free.theta[free.evaluator.lower == 0] >= 0)


def test_contrast_matches_single_coefficients_and_lincomb(diary):
    fit = lmm("y ~ x + z + C(cat) + (1 + x | person)", diary)
    t = fit.tidy().set_index("term")
    row = fit.contrast({"x": 1.0})
    assert row["estimate"].iloc[0] == pytest.approx(t.loc["x", "estimate"])
    assert row["df"].iloc[0] == pytest.approx(t.loc["x", "df"], rel=1e-10)
    assert row["p_value"].iloc[0] == pytest.approx(t.loc["x", "p_value"], rel=1e-10)
    # a difference of two effects: variance from vcov, df between and around the two
    diff = fit.contrast({"x": 1.0, "z": -1.0})
    V = fit.vcov
    se = np.sqrt(V.loc["x", "x"] + V.loc["z", "z"] - 2 * V.loc["x", "z"])
    assert diff["std_error"].iloc[0] == pytest.approx(se, rel=1e-12)
    assert 0 < diff["df"].iloc[0] < fit.nobs
    assert np.isinf(fit.with_df("z").contrast([0, 1, 0, 0, 0])["df"].iloc[0])
    with pytest.raises(SpecificationError, match="unknown fixed effects"):
        fit.contrast({"w": 1.0})
    with pytest.raises(SpecificationError, match="weights for 5 fixed effects"):
        fit.contrast([1.0, 0.0])


@pytest.mark.parametrize("bounded", [True, False])
@pytest.mark.parametrize("start", [(0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0)])
def test_degenerate_starts_reach_the_optimum(diary, bounded, start):
    # zero diagonal elements: stationary points of the criterion that are not minima
    ref = lmm("y ~ x + z + (1 + x | person)", diary)
    fit = lmm(
        "y ~ x + z + (1 + x | person)",
        diary,
        control={"theta_start": start, "bounded": bounded},
    )
    assert fit.objective == pytest.approx(ref.objective, abs=OBJ_ATOL)
    np.testing.assert_allclose(fit.theta, ref.theta, atol=1e-4)


class _Saddle:
    """f(x) = x0^2 - x1^2 + x1^4: a saddle at 0, minima at x1 = +/- 1/sqrt(2) (f = -1/4)."""

    lower = np.array([-np.inf, -np.inf])
    has_analytic_gradient = True

    def value_and_grad(self, x):
        return float(x[0] ** 2 - x[1] ** 2 + x[1] ** 4), np.array(
            [2 * x[0], -2 * x[1] + 4 * x[1] ** 3]
        )

    def __call__(self, x):
        return self.value_and_grad(x)[0]


def test_optimizer_escapes_a_saddle_point():
    from sleeppain.mixed import optimize_theta

    theta, rec = optimize_theta(_Saddle(), LmmControl(theta_start=(0.0, 0.0), bounded=False))
    assert rec.objective_end == pytest.approx(-0.25, abs=1e-10)
    assert abs(theta[1]) == pytest.approx(1 / np.sqrt(2), rel=1e-6)
    assert "escape" in rec.message


def _correlated_slopes() -> pd.DataFrame:
    """40 persons x 10 rows, random intercept sd 1 and slope sd 0.7, correlation 0.9."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(40), 10)
    x = rng.normal(size=400)
    cov = [[1.0, 0.9 * 0.7], [0.9 * 0.7, 0.49]]
    b = rng.multivariate_normal([0.0, 0.0], cov, size=40)
    y = 1 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=400)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_mirror_images_on_the_zero_variance_face_reach_the_optimum(sign):
    # theta = (0, t, 0) and (0, -t, 0) are the same model (slope variance t^2, no
    # intercept variance) and each minimises the criterion on the face theta1 = 0; from
    # one increasing theta1 goes downhill, from the other uphill (a Karush-Kuhn-Tucker
    # point of the bounded problem that is not a minimum): both must reach the optimum.
    from scipy.optimize import minimize_scalar

    from sleeppain.mixed import deviance_from_design, optimize_theta

    dev = deviance_from_design(build_design("y ~ x + (1 + x | g)", _correlated_slopes()))
    ref, ref_rec = optimize_theta(dev, LmmControl(start="lme4"))
    t = minimize_scalar(lambda v: dev(np.array([0.0, v, 0.0])), bounds=(0.01, 3.0)).x
    start = (0.0, sign * t, 0.0)
    slope = dev.value_and_grad(np.array(start))[1][0]
    assert abs(slope) > 1.0  # the face point is not stationary in theta1
    theta, rec = optimize_theta(dev, LmmControl(theta_start=start))
    assert rec.objective_end == pytest.approx(ref_rec.objective_end, abs=OBJ_ATOL)
    np.testing.assert_allclose(theta, ref, atol=1e-4)


def test_moment_start_is_near_the_optimum_and_gives_the_same_fit(diary):
    formula = "y ~ x + z + (1 + x | person)"
    lme4_start = lmm(formula, diary, control={"start": "lme4"})
    fit = lmm(formula, diary)
    np.testing.assert_array_equal(lme4_start.convergence.theta_start, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(fit.convergence.theta_start, fit.evaluator.moment_start())
    assert fit.convergence.objective_start < lme4_start.convergence.objective_start
    assert fit.convergence.nevals < lme4_start.convergence.nevals
    assert fit.objective == pytest.approx(lme4_start.objective, abs=OBJ_ATOL)
    np.testing.assert_allclose(fit.theta, lme4_start.theta, atol=1e-4)
    np.testing.assert_array_less(
        np.abs(fit.fixef.to_numpy() - lme4_start.fixef.to_numpy()),
        BETA_SE_FRACTION * fit.std_errors.to_numpy(),
    )
    with pytest.raises(SpecificationError, match=r"unknown control\.start"):
        lmm(formula, diary, control={"start": "ols"})


def test_moment_start_none_without_replication():
    # one row per group: no group's Z'Z of a random slope is invertible
    from sleeppain.mixed import block_stats
    from sleeppain.mixed.deviance import BlockDeviance

    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    codes = np.arange(30) // 2
    Z = np.column_stack([np.ones(30), x])
    Z[1::2, 1] = Z[::2, 1]  # both rows of a group share x: Z_j'Z_j is singular
    s = block_stats(Z, codes, 15, np.ones((30, 1)), rng.normal(size=30))
    assert BlockDeviance(s, [2], reml=True).moment_start() is None


def test_check_convergence_reuses_the_optimizer_hessian(diary):
    from sleeppain.mixed import check_convergence, deviance_from_design, optimize_theta
    from sleeppain.mixed.optimize import richardson_jacobian

    dev = deviance_from_design(build_design("y ~ x + z + (1 + x | person)", diary))
    theta, rec = optimize_theta(dev)
    assert rec.hessian is not None
    H = richardson_jacobian(lambda th: dev.value_and_grad(th)[1], theta, levels=1)
    np.testing.assert_allclose(rec.hessian, 0.5 * (H + H.T), rtol=1e-3, atol=1e-6)
    checked = check_convergence(dev, theta, rec, LmmControl())
    assert checked.hessian is rec.hessian
    # a record from elsewhere: the Hessian is computed at theta
    moved = theta * 1.1
    other = check_convergence(dev, moved, rec, LmmControl())
    H2 = richardson_jacobian(lambda th: dev.value_and_grad(th)[1], moved, levels=1)
    np.testing.assert_allclose(other.hessian, 0.5 * (H2 + H2.T), rtol=1e-12)
