"""Named extensions from the literature, each recovered on data simulated with the effect.

Data: ``sp.simulate.diary`` with latent (unrounded) ratings, so only sampling error
separates the estimate from the truth; each test checks that the 95% interval covers the
generating value (and excludes 0 where the effect is large), for a fixed seed.
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
    DataStructureError,
    SpecificationError,
)


def _fit(data, **kw) -> sp.CrossLagResult:
    # With the outcome's person mean in the model the random intercept often sits at the
    # boundary (singular fit; lme4 then also reports a non-positive-definite Hessian).
    # These tests judge the fixed effects of the extensions only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sp.crosslag(data, **kw)


def _row(res: sp.CrossLagResult, direction: str, term: str) -> pd.Series:
    return res.extensions().set_index(["direction", "term"]).loc[(direction, term)]


def _covers(row: pd.Series, truth: float) -> bool:
    return bool(row["conf_low"] <= truth <= row["conf_high"])


def test_quadratic_hours_slept_recovers_u_shape_and_optimum() -> None:
    # Edwards et al. 2008: more pain after short and long nights. Truth: curvature 0.3
    # pain points per squared hour, least pain at 7.5 h; hours independent of quality.
    sim = sp.simulate.diary(
        150, 21, seed=3, round_to_scale=False, hours_slept=True, hours_u=0.3, tst_per_quality_h=0.0
    )
    res = _fit(sim.data, id="id", day="day", sleep="hours_slept", pain="pain", quadratic=True)
    curv = _row(res, "sleep->pain", "sleep_w_sq")
    assert curv["conf_low"] > 0 and _covers(curv, 0.3)
    vertex = _row(res, "sleep->pain", "vertex")
    assert _covers(vertex, 7.5) and vertex["note"].startswith("minimum")
    # the main models are untouched by the extension
    assert set(res.effects().index) == {"sleep->pain", "pain->sleep"}
    assert (
        res.extension_fits[("hours_slept", "quadratic", "sleep->pain")].nobs
        == res.effects().loc["sleep->pain", "n_obs"]
    )


def test_quadratic_is_null_without_curvature() -> None:
    sim = sp.simulate.diary(120, 21, seed=8, round_to_scale=False, hours_slept=True)
    res = _fit(sim.data, id="id", day="day", sleep="hours_slept", pain="pain", quadratic=True)
    assert _covers(_row(res, "sleep->pain", "sleep_w_sq"), 0.0)


def _asymmetric_data(b_below: float, b_above: float, seed: int) -> pd.DataFrame:
    """Sleep i.i.d. around a person mean; next-day pain responds to below/above parts.

    "Usual" is the person's mean over all their nights (as crosslag defines it).
    """
    rng = np.random.default_rng(seed)
    n, t = 150, 21
    mu_s = rng.normal(6, 1.5, n)
    mu_p = rng.normal(4.5, 1.5, n)
    s = mu_s[:, None] + rng.normal(0, 1.5, (n, t))
    dev = s - s.mean(axis=1, keepdims=True)
    # sleep of night d-1 (reported on the morning of day d) -> pain of day d
    p = (
        mu_p[:, None]
        + b_below * np.minimum(dev, 0)
        + b_above * np.maximum(dev, 0)
        + rng.normal(0, 1.2, (n, t))
    )
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "day": np.tile(np.arange(t), n),
            "pain": p.ravel(),
            "sleep": s.ravel(),
        }
    )


def test_asymmetry_recovers_separate_slopes_and_their_difference() -> None:
    # Wei et al. 2018: a worse-than-usual night raises pain more than a better one lowers it
    df = _asymmetric_data(-0.5, -0.1, seed=11)
    res = _fit(
        df, id="id", day="day", sleep="sleep", pain="pain", asymmetric=True, lagged_outcome=False
    )
    below = _row(res, "sleep->pain", "sleep_w_below")
    above = _row(res, "sleep->pain", "sleep_w_above")
    diff = _row(res, "sleep->pain", "difference")
    assert _covers(below, -0.5) and _covers(above, -0.1)
    assert diff["conf_high"] < 0
    np.testing.assert_allclose(diff["estimate"], below["estimate"] - above["estimate"], rtol=1e-10)


def test_cross_level_moderation_by_depression() -> None:
    sim = sp.simulate.diary(100, 30, seed=1, round_to_scale=False, depression_x_sleep_to_pain=-0.1)
    res = _fit(
        sim.data, id="id", day="day", sleep="sleep_quality", pain="pain", moderator="depression"
    )
    inter = _row(res, "sleep->pain", "sleep_w_x_moderator")
    assert inter["conf_high"] < 0 and _covers(inter, -0.1)
    # no moderation of pain -> sleep was simulated
    assert _covers(_row(res, "pain->sleep", "pain_w_x_moderator"), 0.0)


def test_moderator_must_be_person_level() -> None:
    sim = sp.simulate.diary(20, 7, seed=1)
    with pytest.raises(DataStructureError, match="varies within person"):
        _fit(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain", moderator="pain")


def test_time_of_day_recovers_fading_sleep_effect() -> None:
    # Whibley et al. 2019 / Gerhart et al. 2017: strongest in the morning. Truth with
    # gradient g = 0.8 and three prompts: slopes -0.15 x (1.8, 1.0, 0.2).
    sim = sp.simulate.diary(
        120, 14, seed=5, round_to_scale=False, prompts_per_day=3, sleep_to_pain_gradient=0.8
    )
    d = sp.Diary.from_frame(
        sim.data,
        id="id",
        day="day",
        prompt="prompt",
        aggregate={"pain": "mean", "sleep_quality": "first"},
        sleep="sleep_quality",
    )
    res = _fit(d, sleep="sleep_quality", pain="pain", time_of_day=True)
    for k, mult in ((1, 1.8), (2, 1.0), (3, 0.2)):
        assert _covers(_row(res, "sleep->pain", f"sleep_w_at_{k}"), -0.15 * mult)
    diff = _row(res, "sleep->pain", "difference")
    assert diff["conf_high"] < 0 and _covers(diff, -0.15 * 1.6)
    # the prompt-level model uses every prompt of day n+1 of the daily model's rows
    mf = res.extension_frames[("sleep_quality", "time_of_day", "sleep->pain")]
    assert mf.frame["prompt"].nunique() == 3


def test_time_of_day_needs_prompts() -> None:
    sim = sp.simulate.diary(20, 7, seed=1)
    with pytest.raises(SpecificationError, match="prompt="):
        _fit(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain", time_of_day=True)


def test_extensions_with_gee() -> None:
    df = _asymmetric_data(-0.5, -0.1, seed=12)
    res = sp.crosslag(
        df,
        id="id",
        day="day",
        sleep="sleep",
        pain="pain",
        asymmetric=True,
        quadratic=True,
        estimator="gee",
        lagged_outcome=False,
    )
    ext = res.extensions()
    assert set(ext["extension"]) == {"asymmetry", "quadratic"}
    assert np.isinf(ext["df"]).all()
    assert _covers(_row(res, "sleep->pain", "sleep_w_below"), -0.5)
