"""Tests of the diary simulator (sleeppain.simulate) and the sample data it made.

Recovery tests compare estimates with the generating values using tolerances of about four
Monte Carlo standard errors (computed or stated per test); the pooled within-person
(person-dummy) OLS used here is the textbook fixed-effects estimator, whose Nickell bias
for the autoregression is about -(1 + phi) / (T - 1) (Nickell 1981), so long series are used.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import SpecificationError
from sleeppain.simulate import (
    DiaryParameters,
    SimulatedDiary,
    diary,
    simulate_clock_arrays,
    simulate_panel_arrays,
    to_scale,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
MC_SE_TOL = 4.0  # Monte Carlo checks: within four standard errors


def within_ols(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-effects (person-dummy) OLS: coefficients and conventional standard errors."""
    keep = ~(np.isnan(y) | np.isnan(x).any(axis=1))
    y, x, groups = y[keep], x[keep], groups[keep]
    counts = np.bincount(groups)
    counts = np.where(counts == 0, 1, counts)

    def demean(v: np.ndarray) -> np.ndarray:
        return v - (np.bincount(groups, weights=v) / counts)[groups]

    yd = demean(y)
    xd = np.column_stack([demean(c) for c in x.T])
    beta, *_ = np.linalg.lstsq(xd, yd, rcond=None)
    resid = yd - xd @ beta
    dof = len(y) - len(np.unique(groups)) - x.shape[1]
    sigma2 = resid @ resid / dof
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(xd.T @ xd)))
    return beta, se


def wide(data: pd.DataFrame, column: str, n_days: int) -> np.ndarray:
    """Person x day matrix with NaN for missing days (calendar-aligned, not row-shifted)."""
    w = data.pivot(index="id", columns="day", values=column)
    return w.reindex(columns=range(n_days)).to_numpy(dtype=float)


# --------------------------------------------------------------------------- basics


def test_default_output_schema_and_timing_columns():
    sim = diary(30, 10, seed=1, start_date="2024-02-27")
    assert isinstance(sim, SimulatedDiary)
    d = sim.data
    assert d.columns.tolist() == ["id", "day", "date", "pain", "sleep_quality", "depression"]
    assert len(d) == 300
    assert d["id"].tolist() == list(np.repeat(np.arange(1, 31), 10))
    assert d["day"].tolist() == list(range(10)) * 30
    expected_dates = (pd.Timestamp("2024-02-27") + pd.to_timedelta(d["day"], unit="D")).dt.strftime(
        "%Y-%m-%d"
    )
    assert d["date"].tolist() == expected_dates.tolist()
    assert "2024-02-29" in set(d["date"])  # a leap day, so real calendar arithmetic
    # day 0 carries the rating of night -1: present, not missing
    assert d.loc[d["day"] == 0, "sleep_quality"].notna().all()
    # depression is person-level and matches person_effects
    per_person = d.groupby("id")["depression"].agg(["min", "max"])
    assert (per_person["min"] == per_person["max"]).all()
    np.testing.assert_array_equal(
        per_person["min"].to_numpy(), sim.person_effects["depression"].to_numpy()
    )
    assert sim.person_effects.columns.tolist() == [
        "id",
        "depression",
        "mu_pain",
        "mu_sleep",
        "sleep_to_pain",
        "pain_to_sleep",
        "tst_mean_h",
    ]
    assert sim.params == DiaryParameters()
    assert sim.settings["n_days"] == 10
    assert "30 persons x 10 days" in repr(sim)


def test_determinism_by_seed():
    a = diary(40, 14, seed=123, clock_fields=True, missing_day_share=0.1)
    b = diary(40, 14, seed=123, clock_fields=True, missing_day_share=0.1)
    c = diary(40, 14, seed=124, clock_fields=True, missing_day_share=0.1)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.person_effects, b.person_effects)
    assert not a.data["pain"].equals(c.data["pain"])


def test_options_do_not_change_the_latent_process():
    """Clock fields and hours slept come from their own random stream."""
    plain = diary(25, 12, seed=9)
    rich = diary(25, 12, seed=9, clock_fields=True, hours_slept=True)
    pd.testing.assert_frame_equal(plain.data, rich.data[plain.data.columns])
    pd.testing.assert_frame_equal(plain.person_effects, rich.person_effects)


def test_parameter_overrides_and_params_object():
    base = DiaryParameters(sleep_to_pain=-0.3)
    sim = diary(5, 5, seed=1, params=base, pain_to_sleep=-0.1)
    assert sim.params == dataclasses.replace(base, pain_to_sleep=-0.1)
    with pytest.raises(SpecificationError, match=r"'sleep_to_pian'.*sleep_to_pain"):
        diary(5, 5, seed=1, sleep_to_pian=-0.2)


def test_public_access_through_package():
    assert sp.simulate.diary is diary
    assert sp.simulate.DiaryParameters is DiaryParameters


# --------------------------------------------------------------------------- recovery


def test_within_person_ols_recovers_both_cross_lagged_effects():
    n, t_days = 200, 200
    sim = diary(n, t_days, seed=3, round_to_scale=False)
    pain = wide(sim.data, "pain", t_days)
    sleep = wide(sim.data, "sleep_quality", t_days)  # column d: night d - 1
    groups = np.repeat(np.arange(n), t_days - 1)
    truth = sim.person_effects
    phi_p, phi_s = sim.params.phi_pain, sim.params.phi_sleep

    # pain[day d] on sleep[night d-1] (same row) and pain[day d-1]
    beta, se = within_ols(
        pain[:, 1:].ravel(), np.column_stack([sleep[:, 1:].ravel(), pain[:, :-1].ravel()]), groups
    )
    slope_sd = sim.params.sd_sleep_to_pain / math.sqrt(n)  # spread of the person slopes
    tol = MC_SE_TOL * math.hypot(se[0], slope_sd)
    assert abs(beta[0] - truth["sleep_to_pain"].mean()) < tol
    assert abs(beta[0] - sim.params.sleep_to_pain) < tol + 2 * slope_sd
    nickell = -(1 + phi_p) / (t_days - 1)
    assert abs(beta[1] - (phi_p + nickell)) < MC_SE_TOL * se[1] + 0.01

    # sleep[night d] (row d + 1) on pain[day d] and sleep[night d-1] (row d)
    beta, se = within_ols(
        sleep[:, 1:].ravel(), np.column_stack([pain[:, :-1].ravel(), sleep[:, :-1].ravel()]), groups
    )
    slope_sd = sim.params.sd_pain_to_sleep / math.sqrt(n)
    tol = MC_SE_TOL * math.hypot(se[0], slope_sd)
    assert abs(beta[0] - truth["pain_to_sleep"].mean()) < tol
    assert abs(beta[1] - (phi_s - (1 + phi_s) / (t_days - 1))) < MC_SE_TOL * se[1] + 0.01


def test_wrong_timing_would_not_recover_the_effect():
    """Guards the morning-report convention: the rating on row d + 1 is night d, not d - 1."""
    n, t_days = 150, 150
    sim = diary(n, t_days, seed=4, round_to_scale=False, sleep_to_pain=-0.4, pain_to_sleep=0.0)
    pain = wide(sim.data, "pain", t_days)
    sleep = wide(sim.data, "sleep_quality", t_days)
    right, _ = within_ols(
        pain[:, 1:].ravel(),
        np.column_stack([sleep[:, 1:].ravel(), pain[:, :-1].ravel()]),
        np.repeat(np.arange(n), t_days - 1),
    )
    assert abs(right[0] - sim.person_effects["sleep_to_pain"].mean()) < 0.03
    # pairing pain[d] with the rating on row d + 1 (the night *after* day d): with
    # pain_to_sleep = 0 only the weak echo through phi_sleep remains
    wrong, _ = within_ols(
        pain[:, 1:-1].ravel(),
        np.column_stack([sleep[:, 2:].ravel(), pain[:, :-2].ravel()]),
        np.repeat(np.arange(n), t_days - 2),
    )
    assert wrong[0] > right[0] + 0.25


def test_stationary_start():
    """Day 0 already has the stationary within-person variance (no burn-in transient)."""
    par = DiaryParameters(sd_sleep_to_pain=0.0, sd_pain_to_sleep=0.0, phi_pain=0.8)
    arr = simulate_panel_arrays(par, 20_000, 3, np.random.default_rng(8))
    cov = par.stationary_covariance()
    for d in (0, 2):
        pain_dev = arr.pain[:, d] - arr.mu_pain
        sleep_dev = arr.sleep[:, d] - arr.mu_sleep
        # SE of a sample variance of a normal: var * sqrt(2 / (n - 1))
        se_p = cov[0, 0] * math.sqrt(2 / (len(pain_dev) - 1))
        se_s = cov[1, 1] * math.sqrt(2 / (len(sleep_dev) - 1))
        assert abs(pain_dev.var(ddof=1) - cov[0, 0]) < MC_SE_TOL * se_p
        assert abs(sleep_dev.var(ddof=1) - cov[1, 1]) < MC_SE_TOL * se_s


def test_person_level_effects_of_depression_and_mean_correlation():
    par = DiaryParameters(depression_x_sleep_to_pain=-0.05, sd_sleep_to_pain=0.03)
    arr = simulate_panel_arrays(par, 20_000, 1, np.random.default_rng(2))
    dep = arr.depression
    x = np.column_stack([np.ones_like(dep), dep])
    for values, intercept, slope, sd in [
        (arr.mu_pain, par.pain_mean, par.depression_on_pain, par.pain_between_sd),
        (arr.mu_sleep, par.sleep_mean, par.depression_on_sleep, par.sleep_between_sd),
        (arr.sleep_to_pain, par.sleep_to_pain, par.depression_x_sleep_to_pain, 0.03),
    ]:
        coef, *_ = np.linalg.lstsq(x, values, rcond=None)
        se = sd / math.sqrt(len(dep))
        assert abs(coef[0] - intercept) < MC_SE_TOL * se
        assert abs(coef[1] - slope) < MC_SE_TOL * se
    res_p = arr.mu_pain - par.pain_mean - par.depression_on_pain * dep
    res_s = arr.mu_sleep - par.sleep_mean - par.depression_on_sleep * dep
    r = np.corrcoef(res_p, res_s)[0, 1]
    assert abs(r - par.between_corr) < MC_SE_TOL * (1 - par.between_corr**2) / math.sqrt(len(dep))
    assert abs(dep.mean()) < MC_SE_TOL / math.sqrt(len(dep))


def test_correlated_random_slopes():
    par = DiaryParameters(slopes_corr=0.6, sd_sleep_to_pain=0.05, sd_pain_to_sleep=0.05)
    arr = simulate_panel_arrays(par, 20_000, 1, np.random.default_rng(5))
    r = np.corrcoef(arr.sleep_to_pain, arr.pain_to_sleep)[0, 1]
    assert abs(r - 0.6) < MC_SE_TOL * (1 - 0.36) / math.sqrt(20_000)


def test_u_shaped_hours_effect_is_recovered():
    n, t_days = 200, 150
    par = DiaryParameters(hours_u=0.2, sd_sleep_to_pain=0.0, sd_pain_to_sleep=0.0)
    arr = simulate_panel_arrays(par, n, t_days, np.random.default_rng(12))
    hours_sq = (arr.tst_min / 60 - par.hours_optimum_h) ** 2
    groups = np.repeat(np.arange(n), t_days - 1)
    x = np.column_stack(
        [arr.sleep[:, 1:].ravel(), arr.pain[:, :-1].ravel(), hours_sq[:, 1:].ravel()]
    )
    beta, se = within_ols(arr.pain[:, 1:].ravel(), x, groups)
    assert abs(beta[2] - 0.2) < MC_SE_TOL * se[2]
    assert abs(beta[0] - par.sleep_to_pain) < MC_SE_TOL * se[0]


def test_prompts_and_time_of_day_gradient():
    n, t_days, k, g = 300, 60, 5, 0.8
    sim = diary(
        n,
        t_days,
        seed=21,
        prompts_per_day=k,
        round_to_scale=False,
        sleep_to_pain=-0.3,
        sleep_to_pain_gradient=g,
        sd_sleep_to_pain=0.0,
    )
    d = sim.data
    assert d.columns.tolist()[:4] == ["id", "day", "date", "prompt"]
    assert len(d) == n * t_days * k
    prompts = d.groupby(["id", "day"])["prompt"].agg(tuple)
    assert (prompts == (1, 2, 3, 4, 5)).all()
    assert (d.groupby(["id", "day"])["sleep_quality"].nunique() == 1).all()
    daily = d.groupby(["id", "day"])["pain"].mean().unstack().to_numpy()
    sleep = d[d["prompt"] == 1].pivot(index="id", columns="day", values="sleep_quality").to_numpy()
    groups = np.repeat(np.arange(n), t_days - 1)
    slopes = []
    for j in range(1, k + 1):
        pj = d[d["prompt"] == j].pivot(index="id", columns="day", values="pain").to_numpy()
        beta, se = within_ols(
            pj[:, 1:].ravel(),
            np.column_stack([sleep[:, 1:].ravel(), daily[:, :-1].ravel()]),
            groups,
        )
        t_j = (j - 1) / (k - 1)
        expected = -0.3 * (1 + g * (1 - 2 * t_j))
        assert abs(beta[0] - expected) < MC_SE_TOL * se[0] + 0.02, (j, beta[0], expected)
        slopes.append(beta[0])
    assert slopes[0] < slopes[-1]  # the morning effect is the strongest (most negative)


def test_prompt_noise_has_the_stated_sd():
    arr = simulate_panel_arrays(
        DiaryParameters(prompt_sd=0.7), 2000, 10, np.random.default_rng(1), prompts_per_day=3
    )
    noise = arr.pain_prompts - arr.pain[:, :, None]  # gradient is 0: pure prompt noise
    se = 0.49 * math.sqrt(2 / (noise.size - 1))
    assert abs(noise.var() - 0.49) < MC_SE_TOL * se


# --------------------------------------------------------------------------- scales


def test_ratings_are_rounded_and_clipped():
    sim = diary(200, 20, seed=5, pain_between_sd=4.0, sleep_between_sd=4.0)
    for col in ("pain", "sleep_quality"):
        v = sim.data[col].to_numpy()
        np.testing.assert_array_equal(v, np.round(v))
        assert v.min() == 0 and v.max() == 10  # wide spread reaches both ends: clipped
    one_five = diary(200, 20, seed=5, sleep_scale="1-5", sleep_between_sd=4.0)
    s = one_five.data["sleep_quality"].to_numpy()
    assert set(np.unique(s)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    # same latent process: the 1-5 rating is the rounded 1 + 0.4 x latent
    latent = diary(200, 20, seed=5, round_to_scale=False, sleep_between_sd=4.0)
    np.testing.assert_array_equal(
        s, to_scale(latent.data["sleep_quality"].to_numpy(), 1, 5, round_to_scale=True)
    )


def test_round_to_scale_false_gives_latent_values():
    sim = diary(200, 20, seed=5, round_to_scale=False, pain_between_sd=4.0)
    v = sim.data["pain"].to_numpy()
    assert not np.allclose(v, np.round(v))
    assert v.min() < 0 or v.max() > 10  # not clipped
    rounded = diary(200, 20, seed=5, pain_between_sd=4.0)
    np.testing.assert_array_equal(rounded.data["pain"], np.clip(np.rint(v), 0, 10))


# --------------------------------------------------------------------------- missingness


def test_missing_day_share_mcar():
    n, t_days, share = 400, 50, 0.2
    sim = diary(n, t_days, seed=6, missing_day_share=share)
    observed = len(sim.data) / (n * t_days)
    se = math.sqrt(share * (1 - share) / (n * t_days))
    assert abs((1 - observed) - share) < MC_SE_TOL * se
    assert sim.data["pain"].notna().all()  # whole days go, items stay complete
    assert not sim.data.duplicated(["id", "day"]).any()


def test_mar_missingness_depends_on_previous_pain():
    par = DiaryParameters(missing_day_share=0.2, missing_pain_logit=0.6)
    arr = simulate_panel_arrays(par, 2000, 30, np.random.default_rng(3))
    prev = arr.pain[:, :-1]
    miss_next = ~arr.day_observed[:, 1:]
    high = miss_next[prev > par.pain_mean].mean()
    low = miss_next[prev <= par.pain_mean].mean()
    assert high > low + 0.1
    mcar = simulate_panel_arrays(
        dataclasses.replace(par, missing_pain_logit=0.0), 2000, 30, np.random.default_rng(3)
    )
    prev = mcar.pain[:, :-1]
    miss_next = ~mcar.day_observed[:, 1:]
    diff = miss_next[prev > par.pain_mean].mean() - miss_next[prev <= par.pain_mean].mean()
    assert abs(diff) < MC_SE_TOL * math.sqrt(2 * 0.16 / (prev.size / 2))


def test_item_missingness():
    n, t_days, share = 300, 40, 0.1
    sim = diary(n, t_days, seed=7, item_missing_share=share)
    assert len(sim.data) == n * t_days
    se = math.sqrt(share * (1 - share) / (n * t_days))
    for col in ("pain", "sleep_quality"):
        assert abs(sim.data[col].isna().mean() - share) < MC_SE_TOL * se
    assert sim.data["depression"].notna().all()


# --------------------------------------------------------------------------- clock fields


def test_clock_fields_score_to_the_simulated_sleep_time():
    sim = diary(150, 14, seed=8, clock_fields=True, hours_slept=True, missing_day_share=0.1)
    d = sim.data
    for col in ("bedtime", "lights_off", "final_wake", "out_of_bed"):
        assert d[col].str.fullmatch(r"\d{2}:\d{2}").all()
    scored = sp.sleep.score_diary(d)
    assert sp.sleep.flag_counts(scored)["any_flag"] == 0
    np.testing.assert_allclose(scored["tst_min"], d["hours_slept"] * 60, rtol=1e-12)
    assert (scored["tst_min"] == np.rint(scored["tst_min"])).all()  # whole minutes
    np.testing.assert_array_equal(scored["sol_min"].to_numpy(), d["sol_min"].to_numpy())
    # plausible diary values
    assert 360 < scored["tst_min"].mean() < 450
    assert 75 < scored["se_pct"].mean() < 95
    bed_hour = pd.to_datetime(d["bedtime"], format="%H:%M").dt.hour
    assert (bed_hour < 3).any()  # some people go to bed after midnight


def test_clock_arrays_are_consistent():
    par = DiaryParameters()
    panel = simulate_panel_arrays(par, 500, 20, np.random.default_rng(1))
    c = simulate_clock_arrays(par, panel, np.random.default_rng(2))
    period = c.final_wake - c.lights_off
    np.testing.assert_array_equal(period - c.sol_min - c.waso_min, panel.tst_min)
    assert (c.lights_off >= c.bedtime).all() and (c.out_of_bed >= c.final_wake).all()
    assert (c.out_of_bed - c.bedtime < 1440).all()
    # worse-than-usual nights have longer latencies
    worse = panel.sleep < panel.mu_sleep[:, None]
    assert c.sol_min[worse].mean() > c.sol_min[~worse].mean()


# --------------------------------------------------------------------------- errors


def test_nonstationary_parameters_raise_with_the_eigenvalue():
    # A = [[0.9 + 0.64, -0.4], [-0.8, 0.5]]: trace 2.04, det 0.45, radius 1.788
    with pytest.raises(SpecificationError, match=r"non-stationary: spectral radius 1\.788 >= 1"):
        DiaryParameters(phi_pain=0.9, phi_sleep=0.5, sleep_to_pain=-0.8, pain_to_sleep=-0.8)
    with pytest.raises(SpecificationError, match="phi_pain"):
        diary(10, 10, seed=1, phi_pain=1.0)


def test_nonstationary_simulated_person_raises():
    par = DiaryParameters(phi_pain=0.9, sd_sleep_to_pain=2.0, sd_pain_to_sleep=2.0)
    with pytest.raises(SpecificationError, match=r"simulated persons have a non-stationary VAR"):
        simulate_panel_arrays(par, 500, 5, np.random.default_rng(1))


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("pain_resid_sd", -1.0, "pain_resid_sd must be >= 0"),
        ("between_corr", 1.5, r"between_corr is a correlation"),
        ("missing_day_share", 1.0, r"missing_day_share is a probability"),
        ("sleep_to_pain", float("nan"), "must be finite"),
        ("phi_sleep", "0.2", "must be a number"),
    ],
)
def test_invalid_parameters(field, value, pattern):
    with pytest.raises(SpecificationError, match=pattern):
        DiaryParameters(**{field: value})


def test_invalid_design_arguments():
    with pytest.raises(SpecificationError, match="n_persons must be an integer >= 1"):
        diary(0, 5, seed=1)
    with pytest.raises(SpecificationError, match="n_days"):
        diary(5, 2.5, seed=1)
    with pytest.raises(SpecificationError, match="prompts_per_day"):
        diary(5, 5, seed=1, prompts_per_day=0)
    with pytest.raises(SpecificationError, match="sleep_scale"):
        diary(5, 5, seed=1, sleep_scale="1-7")
    with pytest.raises(SpecificationError, match="start_date"):
        diary(5, 5, seed=1, start_date="not a date")
    with pytest.raises(SpecificationError, match="DiaryParameters"):
        simulate_panel_arrays({"phi_pain": 0.3}, 5, 5, np.random.default_rng(1))


def test_parameters_are_frozen():
    par = DiaryParameters()
    with pytest.raises(dataclasses.FrozenInstanceError):
        par.phi_pain = 0.9  # type: ignore[misc]


# --------------------------------------------------------------------------- sample data


def _load_make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE_DIR / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_sample_file_regenerates_identically():
    make_sample = _load_make_sample()
    sim = make_sample.build()
    on_disk = (SAMPLE_DIR / "diary.csv").read_text(encoding="utf-8")
    assert make_sample.to_csv_text(sim) == on_disk  # byte for byte
    frame = pd.read_csv(SAMPLE_DIR / "diary.csv")
    expected = sim.data.astype({"date": frame["date"].dtype})
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False, rtol=1e-15)


def test_sample_file_is_small_and_as_documented():
    path = SAMPLE_DIR / "diary.csv"
    assert path.stat().st_size < 300_000
    frame = pd.read_csv(path)
    assert frame["id"].nunique() == 120
    assert frame["day"].between(0, 20).all()
    assert 0.03 < 1 - len(frame) / (120 * 21) < 0.15  # some missing days
    assert frame["pain"].dropna().between(0, 10).all()
    assert frame["sleep_quality"].dropna().between(0, 10).all()
    readme = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    make_sample = _load_make_sample()
    for key, value in make_sample.SAMPLE_CALL.items():
        assert key in readme and repr(value).strip("'") in readme, key
    for column in frame.columns:
        assert f"`{column}`" in readme, column


def test_innovations_have_the_stated_sds_and_correlation():
    """Rebuild e_s and e_p from the model equations: checks the equations themselves."""
    par = DiaryParameters(resid_corr=0.5, sd_sleep_to_pain=0.0, sd_pain_to_sleep=0.0)
    arr = simulate_panel_arrays(par, 1000, 40, np.random.default_rng(17))
    p = arr.pain - arr.mu_pain[:, None]  # column d: day d
    s = arr.sleep - arr.mu_sleep[:, None]  # column d: night d - 1
    # night d (column d + 1) from night d - 1 (column d) and pain of day d (column d)
    e_s = s[:, 1:] - par.phi_sleep * s[:, :-1] - par.pain_to_sleep * p[:, :-1]
    # pain of day d + 1 (column d + 1) from pain of day d and night d (column d + 1)
    e_p = p[:, 1:] - par.phi_pain * p[:, :-1] - par.sleep_to_pain * s[:, 1:]
    m = e_s.size
    for e, sd in ((e_s, par.sleep_resid_sd), (e_p, par.pain_resid_sd)):
        assert abs(e.mean()) < MC_SE_TOL * sd / math.sqrt(m)
        assert abs(e.var() - sd**2) < MC_SE_TOL * sd**2 * math.sqrt(2 / (m - 1))
    r = np.corrcoef(e_s.ravel(), e_p.ravel())[0, 1]
    assert abs(r - 0.5) < MC_SE_TOL * (1 - 0.25) / math.sqrt(m)
