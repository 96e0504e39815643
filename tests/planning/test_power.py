"""sp.power: schema, determinism, failure paths, and Monte Carlo checks against known answers."""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import sleeppain as sp
from sleeppain.errors import SpecificationError
from sleeppain.planning._engine import summarise
from sleeppain.planning._generate import DIRECTIONS, crosslag_rows, generate_batch
from sleeppain.planning._reml import fit_batched, group_stats_from_panel
from sleeppain.simulate import DiaryParameters

matplotlib.use("Agg")

#: Monte Carlo checks: within 4 Monte Carlo SEs (house style)
MC_SES = 4.0
TABLE_COLUMNS = [
    "n_persons",
    "n_days",
    "direction",
    "power",
    "mc_se",
    "mean_estimate",
    "bias",
    "rmse",
    "coverage",
    "share_converged",
]


@pytest.fixture(scope="module")
def small_result() -> sp.PowerResult:
    return sp.power(
        n_persons=[20, 30],
        n_days=[5, 7],
        sleep_to_pain=-0.3,
        pain_to_sleep=0.0,
        n_sims=40,
        seed=3,
        n_jobs=1,
        progress=False,
    )


def test_table_schema_and_ranges(small_result: sp.PowerResult) -> None:
    t = small_result.table
    assert list(t.columns[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
    assert len(t) == 2 * 2 * 2
    assert set(t["direction"]) == set(DIRECTIONS)
    assert t[["power", "coverage", "share_converged"]].apply(lambda c: c.between(0, 1)).all().all()
    np.testing.assert_allclose(t["mc_se"], np.sqrt(t["power"] * (1 - t["power"]) / t["n_used"]))
    np.testing.assert_allclose(t["bias"], t["mean_estimate"] - t["true_effect"])
    np.testing.assert_allclose(t["ar_bias_nickell"], -(1 + t["ar_true"]) / (t["n_days"] - 1))
    assert len(small_result.simulations) == 4 * 2 * 40
    with pytest.raises(dataclasses.FrozenInstanceError):
        small_result.n_sims = 3  # type: ignore[misc]


def test_summary_html_and_plot(small_result: sp.PowerResult) -> None:
    assert "sleep->pain" in small_result.summary()
    assert "<table" in small_result._repr_html_()
    ax = small_result.plot()
    assert len(ax.lines) >= 4
    ax2 = small_result.plot(direction="pain->sleep")
    assert "pain->sleep" in ax2.get_title()
    with pytest.raises(SpecificationError, match="direction"):
        small_result.plot(direction="pain->pain")


def test_same_seed_same_table_whatever_n_jobs() -> None:
    kw = dict(
        n_persons=[15, 25],
        n_days=6,
        sleep_to_pain=-0.2,
        pain_to_sleep=-0.1,
        n_sims=120,
        seed=42,
        progress=False,
    )
    one = sp.power(n_jobs=1, **kw)
    two = sp.power(n_jobs=2, **kw)
    pd.testing.assert_frame_equal(one.table, two.table)
    pd.testing.assert_frame_equal(one.simulations, two.simulations)
    other = sp.power(n_jobs=1, **{**kw, "seed": 43})
    assert not one.simulations["estimate"].equals(other.simulations["estimate"])


def test_a_cell_does_not_depend_on_the_rest_of_the_grid() -> None:
    kw = dict(
        n_days=5,
        sleep_to_pain=-0.2,
        pain_to_sleep=-0.1,
        n_sims=30,
        seed=7,
        n_jobs=1,
        progress=False,
    )
    alone = sp.power(n_persons=20, **kw).table
    grid = sp.power(n_persons=[20, 40], **kw).table
    pd.testing.assert_frame_equal(grid[grid["n_persons"] == 20].reset_index(drop=True), alone)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_persons": 0}, "n_persons.*at least 5"),
        ({"n_persons": [50, -3]}, "n_persons.*at least 5"),
        ({"n_persons": 50.5}, "n_persons.*whole number"),
        ({"n_days": 2}, "n_days.*at least 3"),
        ({"n_sims": 0}, "n_sims"),
        ({"alpha": 1.5}, "alpha"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"seed": -1}, "seed"),
        ({"phi_pain": 1.1}, "non-stationary.*phi_pain"),
        ({"sleep_to_pain": -3.0, "pain_to_sleep": -3.0}, "non-stationary"),
        ({"sd_sleep_to_pain": 0.5, "sd_pain_to_sleep": 0.5}, "sd_sleep_to_pain.*Reduce"),
        ({"phi_pian": 0.3}, "unknown generating parameter.*phi_pain"),
        ({"sleep_scale": "1-7"}, "sleep_scale"),
        ({"hours_u": 0.1}, "hours_u"),
    ],
)
def test_bad_input_raises_specification_error(kwargs: dict, match: str) -> None:
    base = dict(
        n_persons=50,
        n_days=14,
        sleep_to_pain=-0.15,
        pain_to_sleep=-0.05,
        n_sims=10,
        seed=1,
        n_jobs=1,
        progress=False,
    )
    with pytest.raises(SpecificationError, match=match):
        sp.power(**{**base, **kwargs})


def test_lags_are_exact_calendar_days_within_person() -> None:
    """Rows of the lagged models, rebuilt independently with pandas merges on (id, day)."""
    params = DiaryParameters(missing_day_share=0.3, item_missing_share=0.1)
    batch = generate_batch(np.random.default_rng(5), 1, 12, 9, params)
    n, t = batch.pain.shape[1:]
    long = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "day": np.tile(np.arange(t), n),
            "pain": batch.pain[0].ravel(),
            "sleep": batch.sleep[0].ravel(),  # sleep of night day-1
        }
    )
    means = long.groupby("id")[["pain", "sleep"]].transform("mean")
    long["pain_w"] = long["pain"] - means["pain"]
    long["sleep_w"] = long["sleep"] - means["sleep"]
    prev = long[["id", "day", "pain", "pain_w", "sleep_w"]].assign(day=long["day"] + 1)
    merged = long.merge(prev, on=["id", "day"], suffixes=("", "_prev"))
    # sleep->pain: pain of day d ~ sleep of night d-1 (same row) + pain of day d-1
    sp_rows = merged.dropna(subset=["pain", "sleep_w", "pain_w_prev"])
    got = pd.DataFrame(crosslag_rows(batch, 0, "sleep->pain"))
    np.testing.assert_allclose(got["y"], sp_rows["pain"])
    np.testing.assert_allclose(got["focal_w"], sp_rows["sleep_w"])
    np.testing.assert_allclose(got["lag_w"], sp_rows["pain_w_prev"])
    np.testing.assert_array_equal(got["id"], sp_rows["id"])
    # pain->sleep: sleep of night d-1 (row d) ~ pain of day d-1 + sleep of night d-2 (row d-1)
    ps_rows = merged.dropna(subset=["sleep", "pain_w_prev", "sleep_w_prev"])
    got = pd.DataFrame(crosslag_rows(batch, 0, "pain->sleep"))
    np.testing.assert_allclose(got["y"], ps_rows["sleep"])
    np.testing.assert_allclose(got["focal_w"], ps_rows["pain_w_prev"])
    np.testing.assert_allclose(got["lag_w"], ps_rows["sleep_w_prev"])


def test_missing_share_is_realised() -> None:
    params = DiaryParameters(missing_day_share=0.2)
    batch = generate_batch(np.random.default_rng(9), 20, 50, 14, params)
    share = np.isnan(batch.pain).mean()
    assert abs(share - 0.2) < MC_SES * np.sqrt(0.2 * 0.8 / batch.pain.size)


def test_random_intercept_power_matches_closed_form() -> None:
    """(1 | id), balanced within-person predictor: beta/SE is noncentral t, df N(T-1) - 1."""
    rng = np.random.default_rng(2024)
    S, N, T, beta1, alpha = 2000, 15, 4, 0.25, 0.05
    c = np.arange(T) - (T - 1) / 2
    x = np.broadcast_to(c, (S, N, T))
    y = 1.0 + beta1 * x + 0.8 * rng.normal(size=(S, N, 1)) + rng.normal(size=(S, N, T))
    X = np.stack([np.ones_like(x), x], axis=-1)
    fit = fit_batched(group_stats_from_panel(y, X, X), free=(True, False, False))
    s = summarise(fit.beta[:, 1], fit.std_error[:, 1], fit.converged, fit.singular, beta1, alpha)
    df = N * (T - 1) - 1
    ncp = beta1 * np.sqrt(N * np.sum(c**2))
    crit = sps.norm.ppf(1 - alpha / 2)
    analytic = sps.nct.sf(crit, df, ncp) + sps.nct.cdf(-crit, df, ncp)
    assert 0.3 < analytic < 0.9
    assert s.n_used == S
    assert abs(s.power - analytic) < MC_SES * np.sqrt(analytic * (1 - analytic) / S)


@pytest.mark.slow
def test_type_one_error_is_alpha() -> None:
    res = sp.power(
        n_persons=100,
        n_days=14,
        sleep_to_pain=0.0,
        pain_to_sleep=0.0,
        n_sims=2000,
        seed=11,
        n_jobs=2,
        progress=False,
    )
    for row in res.table.itertuples():
        mc_se = np.sqrt(0.05 * 0.95 / row.n_used)
        assert abs(row.power - 0.05) < MC_SES * mc_se, row
        assert row.share_converged > 0.99


def test_repr_is_short(small_result: sp.PowerResult) -> None:
    text = repr(small_result)
    assert text.startswith("PowerResult(4 design cells x 2 directions, 40 studies")
    assert "\n" not in text


def test_progress_bar_on_stderr_and_mar_missingness(capsys) -> None:
    res = sp.power(
        n_persons=20,
        n_days=7,
        sleep_to_pain=-0.2,
        pain_to_sleep=-0.1,
        n_sims=10,
        seed=5,
        n_jobs=1,
        progress=True,
        missing_day_share=0.2,
        missing_pain_logit=0.5,
    )
    err = capsys.readouterr().err
    assert "power: [" in err
    assert "10/10 studies" in err
    assert res.parameters.missing_pain_logit == 0.5
    assert "MAR" in res.summary()


def test_poor_convergence_warns_and_is_excluded(monkeypatch) -> None:
    from sleeppain.errors import ConvergenceWarning
    from sleeppain.planning import _montecarlo

    real = _montecarlo.run_chunk

    def half_converged(*args, **kwargs):
        out = real(*args, **kwargs)
        conv = out.converged.copy()
        conv[:, ::2] = False
        return dataclasses.replace(out, converged=conv)

    monkeypatch.setattr(_montecarlo, "run_chunk", half_converged)
    with pytest.warns(ConvergenceWarning, match="50% of the fits converged"):
        res = sp.power(
            n_persons=20,
            n_days=6,
            sleep_to_pain=-0.2,
            pain_to_sleep=-0.1,
            n_sims=20,
            seed=1,
            n_jobs=1,
            progress=False,
        )
    assert (res.table["share_converged"] == 0.5).all()
    assert (res.table["n_used"] == 10).all()
