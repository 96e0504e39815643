"""sp.crosslag(..., family="binomial"): a logistic mixed model (sp.glmm) per binary direction.

Reference: the same model fitted by ``sp.glmm`` (itself checked against lme4 1.1-31 ``glmer``
in tests/mixed/test_glmm_reference.py) on a lagged frame built here with plain pandas
merges on calendar days, independently of the Diary and of crosslag's frame builder; and
the recovery of a known log-odds effect from data simulated here with numpy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.analysis._result import _glmm_slope_arrays
from sleeppain.errors import DataStructureError, SpecificationError

# Same engine, same rows in the same order (id, day): the fits are the same computation.
EST_ATOL = 1e-8
# Monte Carlo: a single simulated dataset; the estimate lies within 4 SEs of the truth.
MC_SES = 4.0
# closed form (exp of the same numbers)
OR_RTOL = 1e-12

P, T = 150, 14
TRUE_SLEEP_TO_FLARE = -0.5  # log-odds of next-day flare per point of within-person sleep
TRUE_FLARE_AR = 0.4
TRUE_FLARE_TO_POOR = 0.7  # log-odds of a poor night after a flare day


def _simulate(seed: int) -> pd.DataFrame:
    """150 persons x 14 days; sleep value on row k describes the night after day k."""
    rng = np.random.default_rng(seed)
    n = P * T
    ids = np.repeat(np.arange(P), T)
    day = np.tile(np.arange(T), P)
    sq = rng.normal(5.0, 1.2, P)[ids] + rng.normal(0.0, 1.5, n)
    sq_w = sq - pd.Series(sq).groupby(ids).transform("mean").to_numpy()
    u_flare = rng.normal(0.0, 0.8, P)
    u_poor = rng.normal(0.0, 0.6, P)
    flare = np.zeros(n, dtype=int)
    poor = np.zeros(n, dtype=int)
    for t in range(T):
        k = np.arange(P) * T + t
        if t == 0:
            eta_f = -1.0 + u_flare
            eta_p = -0.5 + u_poor
        else:
            eta_f = (
                -1.0 + u_flare + TRUE_SLEEP_TO_FLARE * sq_w[k - 1] + TRUE_FLARE_AR * flare[k - 1]
            )
            eta_p = -0.5 + u_poor + 0.3 * poor[k - 1]
        flare[k] = rng.random(P) < 1.0 / (1.0 + np.exp(-eta_f))
        poor[k] = rng.random(P) < 1.0 / (1.0 + np.exp(-(eta_p + TRUE_FLARE_TO_POOR * flare[k])))
    df = pd.DataFrame(
        {"id": ids, "day": day, "sleep_quality": sq, "poor_night": poor, "flare": flare}
    )
    # a few missed days: lags must follow the calendar, not the row order
    return df.drop(index=rng.choice(n, 60, replace=False)).reset_index(drop=True)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _simulate(2026)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.LagCoverageWarning)
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def both_binary(data: pd.DataFrame) -> sp.CrossLagResult:
    return _quiet(
        sp.crosslag,
        data,
        id="id",
        day="day",
        sleep="poor_night",
        pain="flare",
        sleep_timing="following_night",
        family="binomial",
    )


@pytest.fixture(scope="module")
def flare_only(data: pd.DataFrame) -> sp.CrossLagResult:
    return _quiet(
        sp.crosslag,
        data,
        id="id",
        day="day",
        sleep="sleep_quality",
        pain="flare",
        sleep_timing="following_night",
        family={"sleep->pain": "binomial"},
    )


def _hand_frames(df: pd.DataFrame, sleep: str, pain: str) -> dict[str, pd.DataFrame]:
    """Both lagged frames by pandas merges on (id, day); night n follows day n."""
    pm_p = df.groupby("id")[pain].mean()
    pm_s = df.groupby("id")[sleep].mean()
    d = df.assign(
        pain_w=df[pain] - df["id"].map(pm_p),
        sleep_w=df[sleep] - df["id"].map(pm_s),
        pain_m=df["id"].map(pm_p) - pm_p.mean(),
        sleep_m=df["id"].map(pm_s) - pm_s.mean(),
    )
    nxt = d[["id", "day", pain]].rename(columns={pain: "pain_next"})
    nxt["day"] -= 1
    sp_ = d[["id", "day", "sleep_w", pain, "sleep_m"]].merge(nxt, on=["id", "day"])
    sp_ = sp_.rename(columns={pain: "pain_lag"})
    prev = d[["id", "day", sleep]].rename(columns={sleep: "sleep_lag"})
    prev["day"] += 1
    ps = d[["id", "day", sleep, "pain_w", "pain_m"]].merge(prev, on=["id", "day"])
    ps = ps.rename(columns={sleep: "sleep"})
    return {
        "sleep->pain": sp_.sort_values(["id", "day"]).reset_index(drop=True),
        "pain->sleep": ps.sort_values(["id", "day"]).reset_index(drop=True),
    }


def test_equals_hand_built_glmm_both_directions(
    data: pd.DataFrame, both_binary: sp.CrossLagResult
) -> None:
    hand = _hand_frames(data, "poor_night", "flare")
    expected = {
        "sleep->pain": "pain_next ~ sleep_w + pain_lag + sleep_m",
        "pain->sleep": "sleep ~ pain_w + sleep_lag + pain_m",
    }
    for d, fixed in expected.items():
        fit = both_binary.model(d)
        assert isinstance(fit, sp.GlmmResult)
        assert fit.formula.startswith(fixed + " + (1")
        assert both_binary.frames[("poor_night", d)].nrows == len(hand[d])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.BoundaryFitWarning)
            ref = sp.glmm(fit.formula, hand[d], family="binomial")
        np.testing.assert_allclose(fit.beta, ref.beta, rtol=0, atol=EST_ATOL)
        np.testing.assert_allclose(fit.theta, ref.theta, rtol=0, atol=EST_ATOL)
        np.testing.assert_allclose(fit.std_errors, ref.std_errors, rtol=0, atol=EST_ATOL)
        eff = both_binary.effects().loc[d]
        focal = "sleep_w" if d == "sleep->pain" else "pain_w"
        assert eff["estimate"] == pytest.approx(float(ref.fixef[focal]), abs=EST_ATOL)
        assert eff["df"] == np.inf
        assert np.isnan(eff["std_estimate"])


def test_default_random_part_is_uncorrelated_slope(both_binary: sp.CrossLagResult) -> None:
    for d, focal in (("sleep->pain", "sleep_w"), ("pain->sleep", "pain_w")):
        fit = both_binary.model(d)
        vc = fit.varcorr()
        dropped = any(d in m and "was dropped" in n for m, n in both_binary.model_notes)
        if dropped:
            assert fit.formula.endswith("+ (1 | id)")
        else:
            assert fit.formula.endswith(f"+ (1 + {focal} || id)")
            assert vc["corr"].isna().all()  # no intercept-slope correlation


def test_recovers_known_log_odds(flare_only: sp.CrossLagResult) -> None:
    eff = flare_only.effects()
    r = eff.loc["sleep->pain"]
    assert abs(r["estimate"] - TRUE_SLEEP_TO_FLARE) < MC_SES * r["std_error"]
    ar = flare_only.model("sleep->pain").tidy().set_index("term").loc["pain_lag"]
    assert abs(ar["estimate"] - TRUE_FLARE_AR) < MC_SES * ar["std_error"]
    # the other direction stays a linear mixed model with a standardised effect
    assert isinstance(flare_only.model("pain->sleep"), sp.LmmResult)
    assert np.isfinite(eff.loc["pain->sleep", "std_estimate"])
    assert np.isnan(eff.loc["pain->sleep", "odds_ratio"])
    assert list(eff["family"]) == ["binomial", "gaussian"]


def test_recovers_known_log_odds_of_binary_sleep_outcome(
    both_binary: sp.CrossLagResult,
) -> None:
    r = both_binary.effects().loc["pain->sleep"]
    assert abs(r["estimate"] - TRUE_FLARE_TO_POOR) < MC_SES * r["std_error"]


def test_odds_ratios_are_exp_estimate(both_binary: sp.CrossLagResult) -> None:
    eff = both_binary.effects(conf_level=0.9)
    for d, focal in (("sleep->pain", "sleep_w"), ("pain->sleep", "pain_w")):
        r = eff.loc[d]
        for a, b in (("odds_ratio", "estimate"), ("or_conf_low", "conf_low")):
            assert r[a] == pytest.approx(np.exp(r[b]), rel=OR_RTOL)
        assert r["or_conf_high"] == pytest.approx(np.exp(r["conf_high"]), rel=OR_RTOL)
        tid = both_binary.model(d).tidy(conf_level=0.9, exponentiate=True).set_index("term")
        assert r["odds_ratio"] == pytest.approx(tid.loc[focal, "estimate"], rel=OR_RTOL)
        assert r["or_conf_low"] == pytest.approx(tid.loc[focal, "conf_low"], rel=OR_RTOL)


def test_models_table_and_person_slopes(both_binary: sp.CrossLagResult) -> None:
    g = both_binary.glance()
    assert (g["sigma"] == 1.0).all() and (g["family"] == "binomial").all()
    for d in ("sleep->pain", "pain->sleep"):
        mf, fit = both_binary.frames[("poor_night", d)], both_binary.model(d)
        arr, ids = _glmm_slope_arrays(mf, fit)
        re = fit.ranef()
        re = re[re["term"] == mf.focal[0]].set_index("level")
        mode = re["estimate"].reindex(ids).fillna(0.0).to_numpy(float)
        np.testing.assert_allclose(arr.slope, float(fit.fixef[mf.focal[0]]) + mode)
        # the fixed effect's own uncertainty adds to the conditional SD given beta
        assert np.all(arr.pev_se >= arr.cond_se - 1e-12)
    shares = both_binary.person_effects().shares
    assert len(shares) == 2


def test_report_renders_in_odds_ratios(flare_only: sp.CrossLagResult, tmp_path) -> None:
    paths = flare_only.report(tmp_path)
    md = paths.markdown.read_text(encoding="utf-8")
    what = md.split("## What this means", 1)[1].split("## Models", 1)[0]
    sp_part = what.split("### pain->sleep", 1)[0]
    assert "odds" in sp_part and "times the odds" in sp_part
    assert "rating points" not in sp_part
    assert "odds_ratio" in md and paths.html.exists()
    assert "logistic" in md
    assert "sleep->pain" in flare_only.summary()


def test_gee_binomial_uses_logit(data: pd.DataFrame) -> None:
    import statsmodels.api as sm

    res = _quiet(
        sp.crosslag,
        data,
        id="id",
        day="day",
        sleep="sleep_quality",
        pain="flare",
        sleep_timing="following_night",
        family={"sleep->pain": "binomial"},
        estimator="gee",
    )
    fit = res.model("sleep->pain")
    assert isinstance(fit.result.model.family, sm.families.Binomial)
    r = res.effects().loc["sleep->pain"]
    assert r["odds_ratio"] == pytest.approx(np.exp(r["estimate"]), rel=OR_RTOL)


def test_non_binary_outcome_is_a_typed_error(data: pd.DataFrame) -> None:
    bad = data.assign(flare=data["flare"] * 2)
    with pytest.raises(DataStructureError, match=r"0/1 outcome.*'flare'.*id=.*astype\(int\)"):
        sp.crosslag(
            bad,
            id="id",
            day="day",
            sleep="sleep_quality",
            pain="flare",
            family={"sleep->pain": "binomial"},
        )
    with pytest.raises(DataStructureError, match=r"pain->sleep.*'sleep_quality'"):
        sp.crosslag(
            data, id="id", day="day", sleep="sleep_quality", pain="flare", family="binomial"
        )


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"family": "poisson"}, "family='poisson' is not known"),
        ({"family": {"sleep->mood": "binomial"}}, "names the direction"),
        ({"family": "binomial", "estimator": "dsem"}, "not available with estimator='dsem'"),
        ({"family": "binomial", "residual": "ar1"}, "not available with family='binomial'"),
        ({"family": "binomial", "time_of_day": True}, "time_of_day=True"),
    ],
)
def test_bad_arguments(data: pd.DataFrame, kw: dict, match: str) -> None:
    with pytest.raises(SpecificationError, match=match):
        sp.crosslag(data, id="id", day="day", sleep="poor_night", pain="flare", **kw)


def test_compare_and_within_plot_refuse_binary(flare_only: sp.CrossLagResult) -> None:
    with pytest.raises(SpecificationError, match="binary outcome"):
        flare_only.compare(n_boot=10, seed=1)
    with pytest.raises(SpecificationError, match="odds_ratio"):
        flare_only.plot_within("sleep->pain")
