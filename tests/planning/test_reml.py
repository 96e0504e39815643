"""The batched REML fitter against lme4 1.1-31 (reference JSON), scipy and closed forms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleeppain.planning._generate import DIRECTIONS, crosslag_rows, crosslag_stats, generate_batch
from sleeppain.planning._reml import (
    fit_batched,
    fit_one_scipy,
    group_stats_from_panel,
    group_stats_from_rows,
    reml_deviance,
    satterthwaite_df,
)
from sleeppain.simulate import DiaryParameters

REF = Path(__file__).resolve().parent / "reference"
#: deviance at a fixed theta: same formula, only rounding differs
DEVIANCE_RTOL = 1e-8
#: optimum vs lme4 (bobyqa): objective within 1e-3 of the reference or better
OBJECTIVE_ATOL = 1e-3
#: optimum vs lme4: beta within 1% of a standard error
BETA_SE_FRACTION = 0.01
#: derived SEs and sigma
SE_RTOL = 1e-3
#: two exact optimisers of the same criterion (batched Newton vs scipy L-BFGS-B)
SAME_OPTIMUM_ATOL = 1e-6
#: analytic gradient vs central finite differences (step 1e-6)
GRADIENT_RTOL = 1e-5

COLUMNS = ["focal_w", "lag_w", "focal_m", "lag_m"]


def _reference_cases() -> list[tuple[dict, pd.DataFrame]]:
    ref = json.loads((REF / "crosslag_lme4.json").read_text())
    data = pd.read_csv(REF / "crosslag_data.csv")
    out = []
    for fit in ref["fits"]:
        rows = data[(data["dataset"] == fit["dataset"]) & (data["direction"] == fit["direction"])]
        out.append((fit, rows))
    return out


def _stats(rows: pd.DataFrame, columns: list[str] = COLUMNS):
    X = np.column_stack([np.ones(len(rows)), rows[columns].to_numpy()])
    return group_stats_from_rows(
        rows["y"].to_numpy(), X, X[:, :2], rows["id"].to_numpy().astype(int)
    )


CASES = _reference_cases()
IDS = [f"{f['dataset']}-{f['direction']}" for f, _ in CASES]


@pytest.mark.parametrize(("ref", "rows"), CASES, ids=IDS)
def test_deviance_at_lme4_theta_equals_remlcrit(ref: dict, rows: pd.DataFrame) -> None:
    dev, _ = reml_deviance(np.array([ref["theta"]]), _stats(rows))
    np.testing.assert_allclose(dev[0], ref["reml_criterion"], rtol=DEVIANCE_RTOL)


@pytest.mark.parametrize(("ref", "rows"), CASES, ids=IDS)
def test_optimum_matches_lme4(ref: dict, rows: pd.DataFrame) -> None:
    fit = fit_batched(_stats(rows))
    assert fit.converged[0]
    assert fit.deviance[0] <= ref["reml_criterion"] + OBJECTIVE_ATOL
    if fit.deviance[0] < ref["reml_criterion"] - OBJECTIVE_ATOL:
        # lme4's bobyqa stopped short of the optimum here (it warns "Model failed to converge
        # with 1 negative eigenvalue"); check the better optimum with an independent optimiser.
        other = fit_one_scipy(_stats(rows))
        np.testing.assert_allclose(fit.deviance, other.deviance, atol=SAME_OPTIMUM_ATOL)
        np.testing.assert_allclose(fit.beta, other.beta, atol=1e-5)
        return
    se_ref = np.array(ref["std_error"])
    assert np.all(np.abs(fit.beta[0] - ref["beta"]) <= BETA_SE_FRACTION * se_ref)
    np.testing.assert_allclose(fit.std_error[0], se_ref, rtol=SE_RTOL)
    np.testing.assert_allclose(fit.sigma[0], ref["sigma"], rtol=SE_RTOL)
    assert bool(fit.singular[0]) == bool(ref["singular"])


#: Satterthwaite df vs lmerTest 3.1.3 (numDeriv Richardson vs our central differences)
DF_RTOL = 1e-3


@pytest.mark.parametrize(("ref", "rows"), CASES, ids=IDS)
def test_satterthwaite_df_match_lmertest(ref: dict, rows: pd.DataFrame) -> None:
    stats = _stats(rows)
    theta = np.array([ref["theta"]])
    sigma = np.array([ref["sigma"]])
    # at lme4's own optimum: the df of the cross-lagged effect (index 1)
    np.testing.assert_allclose(
        satterthwaite_df(stats, theta, sigma, 1), ref["df_satterthwaite"][1], rtol=DF_RTOL
    )
    fit = fit_batched(stats)
    if abs(fit.deviance[0] - ref["reml_criterion"]) < OBJECTIVE_ATOL:
        # same optimum: every fixed effect's df from our own fit
        ours = [satterthwaite_df(stats, fit.theta, fit.sigma, k)[0] for k in range(5)]
        np.testing.assert_allclose(ours, ref["df_satterthwaite"], rtol=DF_RTOL)


@pytest.fixture(scope="module")
def simulated_stats():
    params = DiaryParameters(
        sleep_to_pain=-0.2,
        pain_to_sleep=-0.1,
        sd_sleep_to_pain=0.15,
        sd_pain_to_sleep=0.1,
        missing_day_share=0.15,
    )
    batch = generate_batch(np.random.default_rng(11), 12, 30, 10, params)
    # the lme4 reference fits (crosslag_lme4.json) use the model with the outcome's mean
    return {d: crosslag_stats(batch, d, outcome_mean=True) for d in DIRECTIONS}, batch


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_batched_newton_equals_scipy_per_study(simulated_stats, direction: str) -> None:
    stats = simulated_stats[0][direction].take(slice(0, 8))
    fast = fit_batched(stats)
    ref = fit_one_scipy(stats)
    assert fast.converged.all()
    # never worse than the best of four scipy starts (it can be better: local minima on
    # the boundary faces stop L-BFGS-B)
    assert np.all(fast.deviance <= ref.deviance + SAME_OPTIMUM_ATOL)
    same = np.abs(fast.deviance - ref.deviance) < SAME_OPTIMUM_ATOL
    assert same.sum() >= stats.n_studies - 2
    np.testing.assert_allclose(fast.beta[same], ref.beta[same], atol=1e-5)
    np.testing.assert_allclose(fast.std_error[same], ref.std_error[same], rtol=1e-4)


@pytest.mark.parametrize("theta", [[1.0, 0.0, 1.0], [0.3, -0.2, 0.05], [0.0, 0.4, 0.7]])
def test_gradient_matches_finite_differences(simulated_stats, theta: list[float]) -> None:
    stats = simulated_stats[0]["sleep->pain"]
    th = np.tile(np.array(theta), (stats.n_studies, 1))
    _, grad = reml_deviance(th, stats)
    h = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        fd = (reml_deviance(th + e, stats)[0] - reml_deviance(th - e, stats)[0]) / (2 * h)
        np.testing.assert_allclose(grad[:, j], fd, rtol=GRADIENT_RTOL, atol=1e-6)


@pytest.mark.parametrize("outcome_mean", [True, False])
def test_crosslag_stats_equal_row_statistics(simulated_stats, outcome_mean: bool) -> None:
    _, batch = simulated_stats
    columns = COLUMNS if outcome_mean else COLUMNS[:3]
    for direction in DIRECTIONS:
        rows = pd.DataFrame(crosslag_rows(batch, 3, direction))
        by_rows = _stats(rows, columns)
        st = crosslag_stats(batch, direction, outcome_mean=outcome_mean).take(slice(3, 4))
        for name in ("xtx", "xty", "yty", "nobs"):
            np.testing.assert_allclose(getattr(st, name), getattr(by_rows, name), rtol=1e-10)
        present = np.unique(rows["id"].to_numpy().astype(int))
        np.testing.assert_allclose(
            st.ztx[0, present], by_rows.ztx[0, present], rtol=1e-10, atol=1e-12
        )


def test_panel_statistics_equal_row_statistics() -> None:
    rng = np.random.default_rng(4)
    X = np.concatenate([np.ones((1, 6, 5, 1)), rng.normal(size=(1, 6, 5, 2))], axis=-1)
    y = rng.normal(size=(1, 6, 5))
    mask = rng.random((1, 6, 5)) > 0.2
    panel = group_stats_from_panel(y, X, X[..., :2], mask)
    g = np.broadcast_to(np.arange(6)[:, None], (6, 5))[mask[0]]
    rows = group_stats_from_rows(y[0][mask[0]], X[0][mask[0]], X[0][mask[0]][:, :2], g, 6)
    for name in ("ztz", "ztx", "zty", "xtx", "xty", "yty", "nobs"):
        np.testing.assert_allclose(getattr(panel, name), getattr(rows, name), rtol=1e-12)


def test_row_order_and_outcome_scale() -> None:
    _, rows = CASES[4]
    base = fit_batched(_stats(rows))
    shuffled = fit_batched(_stats(rows.sample(frac=1.0, random_state=3)))
    np.testing.assert_allclose(shuffled.beta, base.beta, atol=1e-8)
    np.testing.assert_allclose(shuffled.deviance, base.deviance, rtol=1e-10)
    scaled_rows = rows.assign(y=rows["y"] * 3.0)
    scaled = fit_batched(_stats(scaled_rows))
    # y -> 3 y: the outcome-related fixed effects and sigma scale by 3, theta is unchanged
    np.testing.assert_allclose(scaled.sigma, 3.0 * base.sigma, rtol=1e-6)
    np.testing.assert_allclose(scaled.beta[0, :2], 3.0 * base.beta[0, :2], rtol=1e-5, atol=1e-7)


def test_random_intercept_slope_se_has_closed_form() -> None:
    """(1 | id) with a balanced within-person predictor: SE(slope) = sigma / sqrt(N sum c^2)."""
    rng = np.random.default_rng(8)
    S, N, T = 5, 20, 6
    c = np.arange(T) - (T - 1) / 2
    x = np.broadcast_to(c, (S, N, T))
    y = 2.0 + 0.3 * x + rng.normal(size=(S, N, 1)) + rng.normal(size=(S, N, T))
    X = np.stack([np.ones_like(x), x], axis=-1)
    fit = fit_batched(group_stats_from_panel(y, X, X), free=(True, False, False))
    assert fit.converged.all()
    expected = fit.sigma / np.sqrt(N * np.sum(c**2))
    np.testing.assert_allclose(fit.std_error[:, 1], expected, rtol=1e-10)
    # the slope is the within-person OLS slope
    ols = np.sum((y - y.mean(axis=2, keepdims=True)) * x, axis=(1, 2)) / (N * np.sum(c**2))
    np.testing.assert_allclose(fit.beta[:, 1], ols, rtol=1e-10)


#: same optimum reached by the batched fitter and sp.lmm: criterion, beta, SEs
LMM_ATOL = 1e-6
#: Satterthwaite df of both implementations (different finite-difference schemes)
LMM_DF_RTOL = 1e-4


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_matches_general_engine_sp_lmm(direction: str) -> None:
    import warnings

    import sleeppain as sp
    from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning

    params = DiaryParameters(missing_day_share=0.1)
    batch = generate_batch(np.random.default_rng(3), 6, 40, 10, params)
    stats = crosslag_stats(batch, direction)
    fit = fit_batched(stats)
    dfs = satterthwaite_df(stats, fit.theta, fit.sigma, 1)
    n_same = 0
    for s in range(stats.n_studies):
        rows = pd.DataFrame(crosslag_rows(batch, s, direction))
        with warnings.catch_warnings():
            # the default model (no outcome mean): a few fits may still sit on the boundary
            warnings.simplefilter("ignore", BoundaryFitWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = sp.lmm("y ~ focal_w + lag_w + focal_m + (1 + focal_w | id)", rows)
        assert fit.deviance[s] <= ref.objective + LMM_ATOL
        if abs(fit.deviance[s] - ref.objective) < LMM_ATOL:
            n_same += 1
            np.testing.assert_allclose(fit.beta[s], ref.fixef.to_numpy(), atol=LMM_ATOL)
            np.testing.assert_allclose(fit.std_error[s], ref.std_errors.to_numpy(), rtol=LMM_ATOL)
            np.testing.assert_allclose(dfs[s], float(ref.df.iloc[1]), rtol=LMM_DF_RTOL)
    assert n_same >= stats.n_studies - 2


def test_stragglers_are_finished_by_the_scipy_fallback(simulated_stats) -> None:
    stats = simulated_stats[0]["pain->sleep"].take(slice(0, 4))
    full = fit_batched(stats)
    cut = fit_batched(stats, max_iter=1)
    assert cut.n_fallback > 0
    assert cut.converged.all()
    assert np.all(cut.deviance <= full.deviance + 1e-4)
    without = fit_batched(stats, max_iter=1, fallback=False)
    assert without.n_fallback == 0
    assert not without.converged.all()


def test_correlated_fit_leaves_a_boundary_local_minimum() -> None:
    """A study (found against lme4 1.1-31 in benchmarks/bench_power.py --singular 100) whose
    Newton path from lme4's start stops on the face theta3 = 0, 2.6 REML units above the
    interior optimum; the restart from (theta1, theta2, 0.5) reaches the optimum."""
    from sleeppain.planning._generate import crosslag_stats, generate_batch
    from sleeppain.planning._reml import fit_batched, fit_one_scipy
    from sleeppain.simulate import DiaryParameters

    params = DiaryParameters(missing_day_share=0.1, sleep_to_pain=-0.15, pain_to_sleep=-0.05)
    batch = generate_batch(np.random.default_rng(5), 100, 100, 14, params)
    st = crosslag_stats(batch, "sleep->pain").take(np.array([64]))
    stuck = fit_batched(st, restart_boundary=False)
    fit = fit_batched(st)
    ref = fit_one_scipy(st)
    assert stuck.theta[0, 2] < 1e-4 and stuck.deviance[0] > ref.deviance[0] + 1.0
    assert fit.converged[0] and not fit.singular[0]
    np.testing.assert_allclose(fit.deviance, ref.deviance, rtol=1e-10)
