"""sp.crosslag equals sp.lmm (and statsmodels GEE) fits of hand-built equivalent models.

The reference frames are built here with plain pandas merges on calendar days, from the
raw CSV, independently of sleeppain's Diary and of the crosslag frame builder. Both
sleep-timing conventions are covered: the sample's morning diary (a sleep rating on day
d describes night d - 1) and the same file read as if it described night d.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "diary.csv"

# Same engine, same rows: only the row order differs, which changes the optimiser's path
# by floating-point rounding; the optimum is reached to well within this tolerance.
EST_RTOL = 1e-5
# Satterthwaite df depend on a numerical Hessian at the optimum: a little looser.
DF_RTOL = 1e-3


def _raw(n_persons: int = 60) -> pd.DataFrame:
    df = pd.read_csv(SAMPLE)
    return df[df["id"] <= n_persons].reset_index(drop=True)


def hand_frames(
    df: pd.DataFrame, timing: str, covariate: str | None = None, lagged_outcome: bool = True
) -> dict:
    """Both model frames from plain pandas, keyed on (id, calendar day)."""
    d = df.copy()
    d["t"] = (pd.to_datetime(d["date"]) - pd.Timestamp("2024-01-01")).dt.days
    pain = d.loc[d["pain"].notna(), ["id", "t", "pain"]]
    shift = 1 if timing == "previous_night" else 0
    sleep = d.loc[d["sleep_quality"].notna(), ["id", "t", "sleep_quality"]].copy()
    sleep["t"] = sleep["t"] - shift  # night index: night n is after day n
    sleep = sleep.rename(columns={"sleep_quality": "sq"})
    # person means over all available values, grand mean of person means
    pm_p = pain.groupby("id")["pain"].mean()
    pm_s = sleep.groupby("id")["sq"].mean()
    pain["pain_w"] = pain["pain"] - pain["id"].map(pm_p)
    sleep["sleep_w"] = sleep["sq"] - sleep["id"].map(pm_s)
    persons = pd.DataFrame({"id": sorted(set(pain["id"]) | set(sleep["id"]))})
    persons["pain_m"] = persons["id"].map(pm_p) - pm_p.mean()
    persons["sleep_m"] = persons["id"].map(pm_s) - pm_s.mean()

    # sleep -> pain: sleep night n, pain day n+1, pain day n
    nxt = pain[["id", "t", "pain"]].rename(columns={"pain": "pain_next"})
    nxt["t"] = nxt["t"] - 1
    sp_ = sleep[["id", "t", "sleep_w"]].merge(nxt, on=["id", "t"])
    if lagged_outcome:
        sp_ = sp_.merge(pain[["id", "t", "pain_w"]], on=["id", "t"])
    sp_ = sp_.merge(persons, on="id")
    # pain -> sleep: pain day n, sleep night n, sleep night n-1
    prev = sleep[["id", "t", "sleep_w"]].rename(columns={"sleep_w": "sleep_w_prev"})
    prev["t"] = prev["t"] + 1
    ps = pain[["id", "t", "pain_w"]].merge(sleep[["id", "t", "sq"]], on=["id", "t"])
    if lagged_outcome:
        ps = ps.merge(prev, on=["id", "t"])
    ps = ps.merge(persons, on="id").rename(columns={"sq": "sleep"})
    if covariate is not None:
        cov = d[["id", "t", covariate]].dropna().rename(columns={covariate: "cov_1"})
        sp_ = sp_.merge(cov, on=["id", "t"])
        ps = ps.merge(cov, on=["id", "t"])
    return {"sleep->pain": sp_, "pain->sleep": ps}


# Singular fits (the random intercept at 0 next to the outcome's person mean) and lme4's
# gradient check at its 2e-3 tolerance are reported by both routes alike; this file tests
# that the two routes give the same numbers, so those warnings are silenced here.
QUIET = (BoundaryFitWarning, ConvergenceWarning)


def _fit(formula: str, frame: pd.DataFrame) -> sp.LmmResult:
    with warnings.catch_warnings():
        for w in QUIET:
            warnings.simplefilter("ignore", w)
        return sp.lmm(formula, frame)


def _crosslag(df: pd.DataFrame, **kw) -> sp.CrossLagResult:
    # The hand-built formulas below include the outcome's own person mean: they check the
    # outcome_mean=True specification (the former default); test_default_model_* checks the
    # default, which leaves the outcome's person level to the random intercept.
    # and the correlated random intercept and slope, (1 + x | id), the former default too
    kw.setdefault("outcome_mean", True)
    kw.setdefault("slope_correlation", kw["outcome_mean"])
    with warnings.catch_warnings():
        for w in QUIET:
            warnings.simplefilter("ignore", w)
        return sp.crosslag(df, id="id", day="date", sleep="sleep_quality", pain="pain", **kw)


FORMULAS = {
    "sleep->pain": "pain_next ~ sleep_w + pain_w + sleep_m + pain_m{cov} + ({re} | id)",
    "pain->sleep": "sleep ~ pain_w + sleep_w_prev + pain_m + sleep_m{cov} + ({re} | id)",
}
FOCAL = {"sleep->pain": "sleep_w", "pain->sleep": "pain_w"}


@pytest.mark.parametrize("timing", ["previous_night", "following_night"])
@pytest.mark.parametrize("random_slopes", [True, False])
def test_effects_equal_hand_built_lmm(timing: str, random_slopes: bool) -> None:
    df = _raw()
    res = _crosslag(df, sleep_timing=timing, random_slopes=random_slopes)
    ref = hand_frames(df, timing)
    eff = res.effects()
    for direction, frame in ref.items():
        focal = FOCAL[direction]
        re = f"1 + {focal}" if random_slopes else "1"
        fit = _fit(FORMULAS[direction].format(cov="", re=re), frame)
        mine = res.model(direction)
        assert mine.nobs == len(frame) == eff.loc[direction, "n_obs"]
        assert eff.loc[direction, "n_persons"] == frame["id"].nunique()
        np.testing.assert_allclose(mine.fixef.to_numpy(), fit.fixef.to_numpy(), rtol=EST_RTOL)
        tid = fit.tidy().set_index("term").loc[focal]
        np.testing.assert_allclose(eff.loc[direction, "estimate"], tid["estimate"], rtol=EST_RTOL)
        np.testing.assert_allclose(eff.loc[direction, "std_error"], tid["std_error"], rtol=EST_RTOL)
        np.testing.assert_allclose(eff.loc[direction, "df"], tid["df"], rtol=DF_RTOL)
        np.testing.assert_allclose(eff.loc[direction, "p_value"], tid["p_value"], rtol=DF_RTOL)
        # standardised effect: beta x SD(predictor_w) / SD(outcome_w) on the model rows
        out_w = (
            frame["pain_next"] - frame["id"].map(df.groupby("id")["pain"].mean())
            if direction == "sleep->pain"
            else frame["sleep"] - frame["id"].map(df.groupby("id")["sleep_quality"].mean())
        )
        std = tid["estimate"] * frame[focal].std() / out_w.std()
        np.testing.assert_allclose(eff.loc[direction, "std_estimate"], std, rtol=EST_RTOL)
        if random_slopes:
            vc = fit.varcorr()
            sd = vc[(vc.term1 == focal) & vc.term2.isna()]["sd"].iloc[0]
            np.testing.assert_allclose(eff.loc[direction, "slope_sd"], sd, rtol=1e-3, atol=1e-6)
        else:
            assert np.isnan(eff.loc[direction, "slope_sd"])


def test_covariates_and_no_lagged_outcome_equal_hand_built() -> None:
    df = _raw(40)
    res = _crosslag(df, covariates=["sol_min"], lagged_outcome=False)
    ref = hand_frames(df, "previous_night", covariate="sol_min", lagged_outcome=False)
    forms = {
        "sleep->pain": "pain_next ~ sleep_w + sleep_m + pain_m + cov_1 + (1 + sleep_w | id)",
        "pain->sleep": "sleep ~ pain_w + pain_m + sleep_m + cov_1 + (1 + pain_w | id)",
    }
    for direction, frame in ref.items():
        fit = _fit(forms[direction], frame)
        mine = res.model(direction)
        assert mine.nobs == fit.nobs == len(frame)
        np.testing.assert_allclose(mine.fixef.to_numpy(), fit.fixef.to_numpy(), rtol=EST_RTOL)


@pytest.mark.parametrize("timing", ["previous_night", "following_night"])
def test_gee_equals_statsmodels_gee_on_hand_built_frames(timing: str) -> None:
    import statsmodels.api as sm

    df = _raw(50)
    res = sp.crosslag(
        df,
        id="id",
        day="date",
        sleep="sleep_quality",
        pain="pain",
        estimator="gee",
        sleep_timing=timing,
    )
    for direction, frame in hand_frames(df, timing).items():
        frame = frame.sort_values(["id", "t"])
        # GEE leaves the outcome's own person mean out of the mean model (see crosslag)
        form = FORMULAS[direction].split(" + (")[0].format(cov="")
        form = (
            form.replace(" + pain_m", "")
            if direction == "sleep->pain"
            else form.replace(" + sleep_m", "")
        )
        ref = sm.GEE.from_formula(
            form, groups="id", data=frame, cov_struct=sm.cov_struct.Exchangeable()
        ).fit()
        mine = res.model(direction)
        np.testing.assert_allclose(mine.fixef.to_numpy(), np.asarray(ref.params), rtol=1e-6)
        np.testing.assert_allclose(mine.std_errors.to_numpy(), np.asarray(ref.bse), rtol=1e-6)


def test_row_order_does_not_change_the_result() -> None:
    df = _raw(40)
    a = _crosslag(df, random_slopes=False).effects()
    b = _crosslag(df.sample(frac=1.0, random_state=3), random_slopes=False).effects()
    np.testing.assert_allclose(
        a[["estimate", "std_error"]].to_numpy(),
        b[["estimate", "std_error"]].to_numpy(),
        rtol=EST_RTOL,
    )


def test_diary_and_dataframe_inputs_agree() -> None:
    df = _raw(40)
    diary = sp.Diary.from_frame(df, id="id", day="date", sleep="sleep_quality")
    with warnings.catch_warnings():
        for w in QUIET:
            warnings.simplefilter("ignore", w)
        a = sp.crosslag(diary, pain="pain", outcome_mean=True).effects()
    b = _crosslag(df, slope_correlation=False).effects()
    pd.testing.assert_frame_equal(a, b)


def test_moderation_and_quadratic_equal_hand_built_lmm() -> None:
    df = _raw(60)
    res = _crosslag(df, moderator="depression", quadratic=True, random_slopes=False)
    ref = hand_frames(df, "previous_night")["sleep->pain"]
    dep = df.groupby("id")["depression"].first()
    ref["mod"] = ref["id"].map(dep - dep.mean())
    ref["sleep_w_x_mod"] = ref["sleep_w"] * ref["mod"]
    fit = _fit(
        "pain_next ~ sleep_w + pain_w + sleep_m + pain_m + mod + sleep_w_x_mod + (1 | id)", ref
    )
    mine = res.extension_fits[("sleep_quality", "moderation", "sleep->pain")]
    np.testing.assert_allclose(mine.fixef.to_numpy(), fit.fixef.to_numpy(), rtol=EST_RTOL)
    # squared within-person deviation, centred at the person's mean over all nights
    raw = df.copy()
    raw["t"] = (pd.to_datetime(raw["date"]) - pd.Timestamp("2024-01-01")).dt.days - 1
    nights = raw.dropna(subset=["sleep_quality"])
    w = nights["sleep_quality"] - nights.groupby("id")["sleep_quality"].transform("mean")
    sq_mean = (w**2).groupby(nights["id"]).mean()
    ref["sleep_w_sq"] = ref["sleep_w"] ** 2 - ref["id"].map(sq_mean)
    fit = _fit("pain_next ~ sleep_w + pain_w + sleep_m + pain_m + sleep_w_sq + (1 | id)", ref)
    mine = res.extension_fits[("sleep_quality", "quadratic", "sleep->pain")]
    np.testing.assert_allclose(mine.fixef.to_numpy(), fit.fixef.to_numpy(), rtol=EST_RTOL)
    ext = res.extensions().set_index(["extension", "term"])
    b1, b2 = fit.fixef["sleep_w"], fit.fixef["sleep_w_sq"]
    grand = df.groupby("id")["sleep_quality"].mean().mean()
    np.testing.assert_allclose(
        ext.loc[("quadratic", "vertex"), "estimate"], grand - b1 / (2 * b2), rtol=EST_RTOL
    )


DEFAULT_FORMULAS = {
    "sleep->pain": "pain_next ~ sleep_w + pain_w + sleep_m + (1 + sleep_w || id)",
    "pain->sleep": "sleep ~ pain_w + sleep_w_prev + pain_m + (1 + pain_w || id)",
}


@pytest.mark.parametrize("timing", ["previous_night", "following_night"])
def test_default_model_equals_hand_built_lmm_without_outcome_mean(timing: str) -> None:
    """Bolger & Laurenceau (2013): the random intercept carries the outcome's level."""
    df = _raw()
    res = _crosslag(df, sleep_timing=timing, outcome_mean=False)
    for direction, frame in hand_frames(df, timing).items():
        fit = _fit(DEFAULT_FORMULAS[direction], frame)
        if fit.is_singular:  # slope SD estimated at 0: crosslag reports (1 | id)
            fit = _fit(DEFAULT_FORMULAS[direction].split(" + (")[0] + " + (1 | id)", frame)
        mine = res.model(direction)
        assert mine.formula == fit.formula
        np.testing.assert_allclose(mine.fixef.to_numpy(), fit.fixef.to_numpy(), rtol=EST_RTOL)
        np.testing.assert_allclose(
            res.effects().loc[direction, "df"], float(fit.df[FOCAL[direction]]), rtol=DF_RTOL
        )
