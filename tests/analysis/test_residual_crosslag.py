"""sp.crosslag(residual="ar1" | "car1"): the residual structure of sp.lmm in both directions.

The engine itself (corAR1 / corCAR1) is checked against nlme 3.1 in
``tests/mixed/test_nlme_reference.py``; this file checks that crosslag passes the structure
through unchanged (equal to hand-built ``sp.lmm(..., correlation=, time=)`` fits), that the
time-of-day model uses continuous prompt times, and that phi is recovered.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.analysis._models import RESIDUAL_TIME
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning, SpecificationError
from tests.analysis.test_equivalence import EST_RTOL, _raw, hand_frames

# The same engine on the very same frame and formula: only floating-point noise differs.
SAME_RTOL = 1e-8
QUIET = (BoundaryFitWarning, ConvergenceWarning)
DIRECTIONS = ("sleep->pain", "pain->sleep")


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        for w in QUIET:
            warnings.simplefilter("ignore", w)
        return fn(*args, **kw)


def _assert_same(a: sp.LmmResult, b: sp.LmmResult, rtol: float) -> None:
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.std_errors.to_numpy(), b.std_errors.to_numpy(), rtol=rtol)
    np.testing.assert_allclose(a.phi, b.phi, rtol=rtol)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=rtol)


@pytest.fixture(scope="module")
def sample_ar1() -> sp.CrossLagResult:
    df = _raw(60)
    return _quiet(
        sp.crosslag, df, id="id", day="date", sleep="sleep_quality", pain="pain", residual="ar1"
    )


def test_ar1_equals_hand_built_lmm_on_the_model_frames(sample_ar1: sp.CrossLagResult) -> None:
    res = sample_ar1
    eff = res.effects()
    for d in DIRECTIONS:
        mf = res.frames[("sleep_quality", d)]
        mine = res.model(d)
        ref = _quiet(sp.lmm, mine.formula, mf.frame, correlation="ar1", time="day")
        _assert_same(mine, ref, SAME_RTOL)
        assert mine.correlation["structure"] == "ar1"
        np.testing.assert_allclose(eff.loc[d, "phi"], ref.phi, rtol=SAME_RTOL)
        focal = ref.tidy().set_index("term").loc[mf.focal[0]]
        np.testing.assert_allclose(eff.loc[d, "estimate"], focal["estimate"], rtol=SAME_RTOL)
        np.testing.assert_allclose(eff.loc[d, "std_error"], focal["std_error"], rtol=SAME_RTOL)
    g = res.glance().set_index("direction")
    assert (g["correlation"] == "ar1").all()
    np.testing.assert_allclose(g["phi"].to_numpy(), eff["phi"].to_numpy(), rtol=SAME_RTOL)
    text = res.summary()
    assert "residual AR(1) within person by day: phi =" in text
    # without residual= nothing changes: no phi column
    plain = _quiet(sp.crosslag, _raw(30), id="id", day="date", sleep="sleep_quality", pain="pain")
    assert "phi" not in plain.effects()


def test_ar1_equals_hand_built_frames_from_pandas() -> None:
    # independent frames (plain pandas merges on calendar days, t = night index): the AR(1)
    # lags follow the calendar, so the fits agree up to the row-order tolerance
    df = _raw(40)
    res = _quiet(
        sp.crosslag,
        df,
        id="id",
        day="date",
        sleep="sleep_quality",
        pain="pain",
        outcome_mean=True,
        random_slopes=False,
        residual="ar1",
    )
    forms = {
        "sleep->pain": "pain_next ~ sleep_w + pain_w + sleep_m + pain_m + (1 | id)",
        "pain->sleep": "sleep ~ pain_w + sleep_w_prev + pain_m + sleep_m + (1 | id)",
    }
    for d, frame in hand_frames(df, "previous_night").items():
        ref = _quiet(sp.lmm, forms[d], frame, correlation="ar1", time="t")
        mine = res.model(d)
        assert mine.nobs == ref.nobs
        np.testing.assert_allclose(mine.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=EST_RTOL)
        np.testing.assert_allclose(mine.phi, ref.phi, rtol=EST_RTOL)


def _ar1_diary(n: int, days: int, phi: float, seed: int) -> pd.DataFrame:
    """Pain with AR(1) residuals over calendar days (phi^k for k days apart), 20 % of
    days missing, and serially independent sleep."""
    rng = np.random.default_rng(seed)
    e = np.empty((n, days))
    e[:, 0] = rng.standard_normal(n)
    for t in range(1, days):
        e[:, t] = phi * e[:, t - 1] + np.sqrt(1 - phi**2) * rng.standard_normal(n)
    mu = rng.normal(0, 1, n)[:, None]
    sleep = 5 + rng.normal(0, 1, n)[:, None] + rng.standard_normal((n, days))
    pain = 4 + mu - 0.3 * (sleep - sleep.mean(axis=1, keepdims=True)) + e
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), days),
            "day": np.tile(np.arange(days), n),
            "sleep_quality": sleep.ravel(),
            "pain": pain.ravel(),
        }
    )
    return df[rng.random(len(df)) > 0.2].reset_index(drop=True)


def test_ar1_recovers_phi() -> None:
    phi = 0.4
    df = _ar1_diary(150, 30, phi, seed=11)
    res = _quiet(
        sp.crosslag,
        df,
        id="id",
        day="day",
        sleep="sleep_quality",
        pain="pain",
        lagged_outcome=False,
        random_slopes=False,
        residual="ar1",
    )
    eff = res.effects()
    # large-sample SE of an AR(1) coefficient, sqrt((1 - phi^2) / pairs), on pairs of
    # consecutive observed days (about 0.8^2 of the rows): 4 SEs
    n_pairs = 0.64 * eff.loc["sleep->pain", "n_obs"]
    tol = 4 * np.sqrt((1 - phi**2) / n_pairs)
    assert abs(eff.loc["sleep->pain", "phi"] - phi) < tol
    # sleep is serially independent: the pain->sleep residuals are not autocorrelated
    assert abs(eff.loc["pain->sleep", "phi"]) < 4 * np.sqrt(1 / n_pairs)
    assert abs(eff.loc["sleep->pain", "estimate"] + 0.3) < 4 * eff.loc["sleep->pain", "std_error"]


def test_time_of_day_model_uses_car1_on_prompt_times() -> None:
    sim = sp.simulate.diary(40, 10, seed=5, round_to_scale=False, prompts_per_day=3)
    d = sp.Diary.from_frame(
        sim.data,
        id="id",
        day="day",
        prompt="prompt",
        aggregate={"pain": "mean", "sleep_quality": "first"},
        sleep="sleep_quality",
    )
    res = _quiet(
        sp.crosslag, d, sleep="sleep_quality", pain="pain", time_of_day=True, residual="ar1"
    )
    key = ("sleep_quality", "time_of_day", "sleep->pain")
    mf, mine = res.extension_frames[key], res.extension_fits[key]
    assert mine.correlation["structure"] == "car1"
    # time = day + slot position / 3 (slots 0, 1, 2 from the dummies slot_2, slot_3)
    frame = mf.frame.assign(
        **{RESIDUAL_TIME: mf.frame["day"] + (mf.frame["slot_2"] + 2 * mf.frame["slot_3"]) / 3}
    )
    assert frame.groupby("id")[RESIDUAL_TIME].apply(lambda t: t.is_unique).all()
    ref = _quiet(sp.lmm, mine.formula, frame, correlation="car1", time=RESIDUAL_TIME)
    _assert_same(mine, ref, SAME_RTOL)
    # the daily models keep integer-day AR(1)
    assert res.model("sleep->pain").correlation["structure"] == "ar1"
    assert any("corCAR1" in n for _, n in res.model_notes)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"residual": "arma"}, "residual='arma' is not known"),
        ({"residual": "ar1", "estimator": "gee"}, "needs estimator='lmm'"),
        ({"residual": "ar1", "estimator": "dsem"}, "option of estimator='lmm'"),
    ],
)
def test_residual_bad_input(kw: dict, match: str) -> None:
    with pytest.raises(SpecificationError, match=match):
        sp.crosslag(_raw(10), id="id", day="date", sleep="sleep_quality", pain="pain", **kw)
