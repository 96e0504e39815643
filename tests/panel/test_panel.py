"""sp.clpm / sp.riclpm: inputs, errors, accounting, result contract, engine properties."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.panel import check_solution
from sleeppain.panel._engine import (
    analytic_hessian,
    fit_h1,
    loglik_and_grad,
    make_patterns,
    numerical_hessian,
)
from sleeppain.panel._fit import start_values
from sleeppain.panel._model import build_model

#: analytic vs central-difference gradient (relative to the gradient's size)
GRAD_RTOL = 1e-5
#: analytic Hessian vs forward differences of the gradient (their truncation error)
HESS_RTOL = 1e-4
#: two routes to the same fit (wide vs long, row order): optimiser precision
SAME_FIT_ATOL = 1e-7

X5 = [f"x{t}" for t in range(1, 6)]
Y5 = [f"y{t}" for t in range(1, 6)]


def panel(n: int = 250, waves: int = 5, seed: int = 0, missing: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ri = rng.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 1.0]], size=n)
    w = np.zeros((n, 2, waves))
    w[:, :, 0] = rng.normal(size=(n, 2))
    for t in range(1, waves):
        w[:, :, t] = w[:, :, t - 1] @ np.array([[0.4, 0.1], [0.2, 0.3]]).T + rng.normal(size=(n, 2))
    y = w + ri[:, :, None]
    df = pd.DataFrame(
        np.concatenate([y[:, 0], y[:, 1]], axis=1),
        columns=[f"{v}{t}" for v in "xy" for t in range(1, waves + 1)],
    )
    if missing:
        vals = df.to_numpy(copy=True)
        vals[rng.random(vals.shape) < missing] = np.nan
        df = pd.DataFrame(vals, columns=df.columns)
    df.insert(0, "id", np.arange(100, 100 + n))
    return df


def to_long(df: pd.DataFrame, waves: int = 5) -> pd.DataFrame:
    rows = []
    for t in range(1, waves + 1):
        rows.append(
            pd.DataFrame({"pid": df["id"], "wave": t, "dep": df[f"x{t}"], "pain": df[f"y{t}"]})
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def fit_free():
    return sp.riclpm(panel(missing=0.1), x=X5, y=Y5, names=("dep", "pain"))


def test_effects_index_and_waves(fit_free):
    eff = fit_free.effects()
    labels = ["dep->dep", "pain->dep", "dep->pain", "pain->pain"]
    assert list(dict.fromkeys(eff.index)) == labels
    assert eff.loc["dep->pain", "wave"].tolist() == [2, 3, 4, 5]
    con = sp.riclpm(panel(missing=0.1), x=X5, y=Y5, names=("dep", "pain"), constrained=True)
    assert con.effects().index.tolist() == labels
    assert "wave" not in con.effects().columns
    g = fit_free.glance()
    assert list(g.columns[:7]) == ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr"]
    assert int(g["df"].iloc[0]) == 21 and int(con.glance()["df"].iloc[0]) == 33


def test_results_are_immutable_copies(fit_free):
    t = fit_free.tidy()
    t.loc[:, "estimate"] = 0.0
    assert not np.allclose(fit_free.tidy()["estimate"], 0.0)
    e = fit_free.effects()
    e["estimate"] = 99.0
    assert (fit_free.effects()["estimate"] != 99.0).all()
    with pytest.raises(ValueError):
        fit_free.estimates[0] = 1.0
    with pytest.raises(AttributeError):
        fit_free.spec = None  # type: ignore[misc]


def test_summary_html_markdown_and_plot(fit_free):
    text = fit_free.summary()
    assert "RI-CLPM" in text and "dep->pain" in text and "RMSEA" in text
    html = fit_free._repr_html_()
    assert "dep-&gt;pain" in html
    assert "Chi-square" in fit_free.to_markdown()
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = fit_free.plot()
    assert len(ax.patches) > 20
    plt.close("all")


def test_long_and_wide_give_the_same_fit():
    wide = panel(missing=0.1, seed=3)
    a = sp.clpm(wide, x=X5, y=Y5, id="id", names=("dep", "pain"))
    b = sp.clpm(to_long(wide), x="dep", y="pain", id="pid", wave="wave", names=("dep", "pain"))
    np.testing.assert_allclose(a.estimates, b.estimates, atol=SAME_FIT_ATOL)
    assert a.glance()["chisq"].iloc[0] == pytest.approx(b.glance()["chisq"].iloc[0], abs=1e-6)


def test_row_order_does_not_change_the_fit():
    wide = panel(missing=0.1, seed=4)
    a = sp.riclpm(wide, x=X5, y=Y5)
    b = sp.riclpm(wide.sample(frac=1.0, random_state=1), x=X5, y=Y5)
    np.testing.assert_allclose(a.estimates, b.estimates, atol=SAME_FIT_ATOL)


def test_three_variables_and_covariates():
    rng = np.random.default_rng(5)
    n = 300
    ri = rng.multivariate_normal(np.zeros(3), 0.7 * np.eye(3) + 0.3, size=n)
    z = rng.normal(size=n)
    cols = {
        f"{v}{t}": rng.normal(size=n) + ri[:, j] + 0.5 * z
        for j, v in enumerate("abc")
        for t in (1, 2, 3)
    }
    df = pd.DataFrame(cols).assign(z=z)
    res = sp.riclpm(
        df, variables={v: [f"{v}{t}" for t in (1, 2, 3)] for v in "abc"}, covariates=["z"]
    )
    assert res.effects().index.unique().tolist() == [f"{u}->{v}" for v in "abc" for u in "abc"]
    tid = res.tidy().set_index("term")
    assert tid.loc["RI_a ~ z", "estimate"] == pytest.approx(0.5, abs=0.15)


def test_all_missing_persons_are_counted():
    df = panel(missing=0.05, seed=6)
    df.loc[[3, 7], X5 + Y5] = np.nan
    with pytest.warns(sp.DataDropWarning, match="2 person"):
        res = sp.riclpm(df, x=X5, y=Y5)
    acc = res.accounting()
    assert acc.persons == 250 and acc.persons_used == 248
    assert dict(acc.dropped)["no observed wave"] == 2
    acc.check()
    assert res.glance()["nobs"].iloc[0] == 248
    lw = sp.riclpm(df.dropna(subset=["x1"]), x=X5, y=Y5, missing="listwise")
    a = lw.accounting()
    assert a.persons_used + sum(n for _, n in a.dropped) == a.persons
    assert a.persons_used == int(df.dropna(subset=X5 + Y5).shape[0])


def test_bad_input_errors():
    df = panel()
    with pytest.raises(sp.SpecificationError, match="needs at least 3"):
        sp.riclpm(df, x=["x1", "x2"], y=["y1", "y2"])
    sp.clpm(df, x=["x1", "x2"], y=["y1", "y2"])  # two waves are fine for the CLPM
    with pytest.raises(sp.SpecificationError, match="unequal numbers of wave columns"):
        sp.riclpm(df, x=X5, y=Y5[:4])
    const = df.assign(y3=2.0)
    with pytest.raises(sp.DataStructureError, match="'y3' is constant"):
        sp.riclpm(const, x=X5, y=Y5)
    with pytest.raises(sp.DataStructureError, match="not found"):
        sp.riclpm(df, x=X5, y=["y1", "y2", "y3", "y4", "nope"])
    with pytest.raises(sp.DataStructureError, match="not numeric"):
        sp.riclpm(df.assign(x2="a"), x=X5, y=Y5)
    with pytest.raises(sp.SpecificationError, match="missing="):
        sp.riclpm(df, x=X5, y=Y5, missing="pairwise")
    with pytest.raises(sp.SpecificationError, match="random intercepts"):
        sp.clpm(df.assign(z=1.0), x=X5, y=Y5, covariates=["z"])
    long = to_long(df)
    with pytest.raises(sp.DataStructureError, match="duplicated"):
        sp.riclpm(pd.concat([long, long.iloc[:1]]), x="dep", y="pain", id="pid", wave="wave")
    with pytest.raises(sp.SpecificationError, match="names="):
        sp.riclpm(df, x=X5, y=Y5, names=("a",))
    with pytest.raises(sp.DataStructureError, match="complete persons"):
        sp.riclpm(df.iloc[:8], x=X5, y=Y5, missing="listwise")
    empty = df.copy()
    empty[X5 + Y5] = np.nan
    with pytest.warns(sp.DataDropWarning), pytest.raises(sp.DataStructureError, match="no person"):
        sp.riclpm(empty, x=X5, y=Y5)


def test_negative_variance_warning_names_the_parameter():
    # no stable between-person differences: the random-intercept variance goes negative
    rng = np.random.default_rng(0)
    n = 150
    w = np.zeros((n, 2, 4))
    w[:, :, 0] = rng.normal(size=(n, 2))
    for t in range(1, 4):
        w[:, :, t] = w[:, :, t - 1] @ np.array([[0.3, 0.1], [0.1, 0.3]]).T + rng.normal(size=(n, 2))
    df = pd.DataFrame(
        np.concatenate([w[:, 0], w[:, 1]], axis=1),
        columns=[f"{v}{t}" for v in "xy" for t in range(1, 5)],
    )
    with pytest.warns(sp.BoundaryFitWarning) as rec:
        res = sp.riclpm(df, x=["x1", "x2", "x3", "x4"], y=["y1", "y2", "y3", "y4"])
    texts = [str(r.message) for r in rec]
    assert any(t.startswith("negative variance estimate: RI_x ~~ RI_x = -") for t in texts)
    assert rec[0].filename == __file__  # stacklevel points at the caller
    assert any("not positive definite" in m for m in res.fit_warnings)
    msgs = check_solution(res.model, res.fit.theta, res.fit.vcov)
    assert any("RI_x ~~ RI_y" in m for _, m in msgs)


def test_anova_panel_orders_and_checks():
    df = panel(seed=8)
    ri = sp.riclpm(df, x=X5, y=Y5)
    cl = sp.clpm(df, x=X5, y=Y5)
    tab = sp.panel.anova_panel(cl, ri)
    assert tab.index.tolist() == ["riclpm", "clpm"]
    assert tab["Df diff"].iloc[1] == 3
    assert tab["Chisq diff"].iloc[1] == pytest.approx(
        cl.glance()["chisq"].iloc[0] - ri.glance()["chisq"].iloc[0]
    )
    other = sp.riclpm(panel(seed=9), x=X5, y=Y5)
    with pytest.raises(sp.SpecificationError, match="not to the same data"):
        sp.panel.anova_panel(ri, other)
    with pytest.raises(sp.SpecificationError, match="at least two"):
        sp.panel.anova_panel(ri)


def _model_and_data(missing: float):
    df = panel(n=120, waves=4, seed=11, missing=missing)
    Y = df[[f"{v}{t}" for v in "xy" for t in range(1, 5)]].to_numpy()
    Y = Y[~np.isnan(Y).all(axis=1)]
    m = build_model(
        "riclpm",
        ("x", "y"),
        [[f"x{t}" for t in range(1, 5)], [f"y{t}" for t in range(1, 5)]],
        ["1", "2", "3", "4"],
        (),
        False,
        np.zeros(0),
        np.zeros((0, 0)),
    )
    return m, make_patterns(Y)


@pytest.mark.parametrize("missing", [0.0, 0.15])
def test_gradient_matches_finite_differences(missing):
    m, data = _model_and_data(missing)
    h1 = fit_h1(data)
    theta = start_values(m.spec, m.table, h1.mu, h1.sigma, True)
    theta = theta + 0.05 * np.random.default_rng(1).normal(size=theta.size)
    _, g = loglik_and_grad(m.spec, data, theta)
    num = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = 1e-6
        num[k] = (
            loglik_and_grad(m.spec, data, theta + e)[0]
            - loglik_and_grad(m.spec, data, theta - e)[0]
        ) / 2e-6
    np.testing.assert_allclose(g, num, rtol=GRAD_RTOL, atol=GRAD_RTOL * np.max(np.abs(num)))


@pytest.mark.parametrize("missing", [0.0, 0.15])
def test_analytic_hessian_matches_differences_of_the_gradient(missing):
    m, data = _model_and_data(missing)
    h1 = fit_h1(data)
    theta = start_values(m.spec, m.table, h1.mu, h1.sigma, True)
    theta = theta + 0.05 * np.random.default_rng(2).normal(size=theta.size)
    ha = analytic_hessian(m.spec, data, theta)
    hn = numerical_hessian(m.spec, data, theta)
    np.testing.assert_allclose(ha, hn, rtol=0, atol=HESS_RTOL * np.max(np.abs(hn)))


def test_em_h1_is_the_maximum():
    _, data = _model_and_data(0.2)
    h1 = fit_h1(data)
    assert h1.converged
    # the gradient of the saturated log-likelihood vanishes at the EM solution
    from sleeppain.panel._engine import _sigma_loglik_grad

    f, G, gmu = _sigma_loglik_grad(data, h1.sigma, h1.mu)
    assert -f == pytest.approx(h1.loglik)
    assert np.max(np.abs(G)) < 1e-6 and np.max(np.abs(gmu)) < 1e-6


def test_diary_waves_block_means():
    df = pd.DataFrame(
        {"id": [1] * 10, "day": list(range(1, 11)), "pain": [1.0, 2, 3, np.nan, 5, 6, 7, 8, 9, 10]}
    )
    d = sp.Diary.from_frame(df, id="id", day="day")
    with pytest.warns(sp.DataQualityWarning, match=r"wave=4.*'pain'.*n_waves=3"):
        w = sp.panel.diary_waves(d, days=3, min_days=3)
    assert w["wave"].tolist() == [1, 2, 3, 4]
    assert w["pain"].tolist()[0] == 2.0
    assert np.isnan(w["pain"].iloc[1])  # 2 of 3 days observed < min_days
    assert w["n_pain"].tolist() == [3, 2, 3, 1]
    with pytest.raises(sp.SpecificationError, match="days="):
        sp.panel.diary_waves(d, days=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sp.panel.diary_waves(d, days=5, n_waves=1)["wave"].tolist() == [1]


def test_long_data_wave_labels_and_covariates():
    df = panel(n=200, seed=12)
    long = to_long(df)
    long["wave"] = long["wave"].map({1: 0, 2: 6, 3: 12, 4: 18, 5: 24})  # months
    long["age"] = np.repeat(np.random.default_rng(1).normal(size=200), 1)[
        long["pid"].to_numpy() - 100
    ]
    res = sp.riclpm(long, x="dep", y="pain", id="pid", wave="wave", covariates=["age"])
    assert res.spec.wave_labels == ("0", "6", "12", "18", "24")
    assert res.effects()["wave"].unique().tolist() == [2, 3, 4, 5]
    assert "RI_x ~ age" in res.tidy()["term"].tolist()
    varying = long.assign(age=np.arange(len(long), dtype=float))
    with pytest.raises(sp.DataStructureError, match="varies within persons"):
        sp.riclpm(varying, x="dep", y="pain", id="pid", wave="wave", covariates=["age"])


def test_diary_to_panel_pipeline():
    sim = sp.simulate.diary(120, 28, seed=3)
    diary = sp.Diary.from_frame(sim.data, id="id", day="day")
    waves = sp.panel.diary_waves(diary, days=7, variables=["pain", "sleep_quality"])
    assert waves["wave"].max() == 4
    res = sp.riclpm(
        waves, x="sleep_quality", y="pain", id="id", wave="wave", names=("sleep", "pain")
    )
    assert res.accounting().persons == 120
    assert res.effects().index.unique().tolist() == [
        "sleep->sleep",
        "pain->sleep",
        "sleep->pain",
        "pain->pain",
    ]


HOSTILE = "pain<script>x</script>"


def test_result_contract_with_a_hostile_name():
    """The house contract (tests/test_result_contract.py) on a panel result."""
    import dataclasses

    from sleeppain.results import TIDY_COLUMNS, ResultMixin

    res = sp.clpm(panel(n=120, seed=13), x=X5, y=Y5, names=(HOSTILE, "sleep"))
    assert isinstance(res, ResultMixin) and dataclasses.is_dataclass(res)
    assert tuple(res.tidy().columns[: len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    assert HOSTILE in res.summary()
    page, md = res._repr_html_(), res.to_markdown()
    assert "<script" not in page and "<script" not in md and "&lt;script&gt;" in page
    # what the result hands out cannot change it
    before = (res.tidy(), res.glance(), res.summary())
    for arr in (res.fit.theta, res.fit.vcov, res.estimates, res.model.spec.A0):
        with pytest.raises(ValueError):
            arr.flat[0] = 99.0
    with pytest.raises(TypeError):
        res.model.table[0]["value"] = 5.0  # type: ignore[index]
    handed = [res.vcov, res.implied()[0], res.effects(), res.tidy()]
    for frame in handed:
        frame.iloc[0, 1] = 99.0
    assert res.tidy().equals(before[0]) and res.glance().equals(before[1])
    assert res.summary() == before[2]


def test_empty_wave_named_by_the_users_column_and_wave():
    """Long data: an all-missing variable-wave names the column and wave, and how to drop it.

    The bundled sample's 21 days in 6-day blocks end in a 3-day block; with min_days=4 its
    means are all missing (diary_waves warns, and the panel model refuses the wave).
    """
    diary = sp.Diary.from_frame(
        sp.datasets.sample_diary(), id="id", day="date", sleep="sleep_quality"
    )
    with pytest.warns(sp.DataQualityWarning, match=r"wave=4, at most 3 of 6.*n_waves=3"):
        waves = diary.waves(days=6, variables=["pain", "sleep_quality"], min_days=4)
    with pytest.raises(sp.DataStructureError) as info:
        sp.riclpm(waves, x="sleep_quality", y="pain", id="id", wave="wave", names=("s", "p"))
    msg = str(info.value)
    assert "column 'sleep_quality' at wave=4 ('s')" in msg
    assert "data[data['wave'] != 4]" in msg and "n_waves=" in msg
    assert "'s4'" not in msg
    res = sp.riclpm(
        diary.waves(days=7, variables=["pain", "sleep_quality"], n_waves=3),
        x="sleep_quality",
        y="pain",
        id="id",
        wave="wave",
    )
    assert res.accounting().persons_used == 120
    const = waves[waves["wave"] <= 3].assign(
        pain=lambda d: np.where(d["wave"] == 2, 3.0, d["pain"])
    )
    with pytest.raises(sp.DataStructureError, match=r"column 'pain' at wave=2 \('y'\) is constant"):
        sp.clpm(const, x="sleep_quality", y="pain", id="id", wave="wave")


def test_to_pandas_tables_are_converted():
    """A polars / pyarrow-like table (anything with to_pandas()) fits as its pandas frame."""

    class ArrowLike:
        def __init__(self, frame):
            self._frame = frame

        def to_pandas(self):
            return self._frame.copy()

    diary = sp.Diary.from_frame(
        sp.datasets.sample_diary(), id="id", day="date", sleep="sleep_quality"
    )
    waves = diary.waves(days=7, variables=["pain", "sleep_quality"], n_waves=3)
    kw = {"x": "sleep_quality", "y": "pain", "id": "id", "wave": "wave"}
    a = sp.clpm(waves, **kw)
    b = sp.clpm(ArrowLike(waves), **kw)
    np.testing.assert_allclose(a.effects()["estimate"], b.effects()["estimate"], rtol=1e-12)
    with pytest.raises(sp.SpecificationError, match=r"got a numpy\.ndarray"):
        sp.clpm(waves.to_numpy(), **kw)


def test_waves_show_the_first_day_as_the_diary_shows_days():
    """A date diary's blocks start on a date a reader recognises, beside the integer index."""
    sample = sp.datasets.sample_diary()
    diary = sp.Diary.from_frame(sample, id="id", day="date", sleep="sleep_quality")
    w = diary.waves(days=7, variables=["pain"])
    first = w.loc[w["wave"] == 1, "first_label"].iloc[0]
    # the first reported day, not the night the Diary adds before it
    assert pd.Timestamp(first) == pd.Timestamp(sample["date"].min())
    assert pd.Timestamp(first) > pd.Timestamp(diary.data["day_label"].min())
    assert (pd.to_datetime(w["first_label"]) - pd.Timestamp("1970-01-01")).dt.days.equals(
        w["first_day"].astype("int64")
    )
    ints = sp.Diary.from_frame(sample, id="id", day="day")
    wi = ints.waves(days=7, variables=["pain"])
    assert wi["first_label"].tolist() == wi["first_day"].tolist()


def test_waves_count_values_on_the_day_they_were_entered():
    """Weekly blocks of a morning diary start on the first reported day, and a morning sleep
    rating counts in the block of its report day (not of the night the Diary adds before
    the first day): block means equal the means of the raw rows by report week."""
    sample = sp.datasets.sample_diary()
    diary = sp.Diary.from_frame(sample, id="id", day="date", sleep="sleep_quality")
    w = diary.waves(days=7, variables=["pain", "sleep_quality"])
    assert w["wave"].max() == 3  # 21 reported days: three whole weeks, no one-day block
    raw = sample.assign(
        wave=(pd.to_datetime(sample["date"]) - pd.to_datetime(sample["date"]).min()).dt.days // 7
        + 1
    )
    expect = raw.groupby(["id", "wave"])[["pain", "sleep_quality"]].agg(["mean", "count"])
    got = w.set_index(["id", "wave"])
    for c in ("pain", "sleep_quality"):
        np.testing.assert_array_equal(got[f"n_{c}"], expect[(c, "count")].reindex(got.index))
        np.testing.assert_allclose(
            got[c].to_numpy(dtype=float),
            expect[(c, "mean")].reindex(got.index).to_numpy(dtype=float),
            rtol=1e-12,
        )


def test_short_last_block_warns_and_n_waves_silences_it():
    df = pd.DataFrame(
        {
            "id": np.repeat([1, 2], 9),
            "day": np.tile(np.arange(1, 10), 2),
            "pain": np.arange(18, dtype=float),
            "sq": np.arange(18, dtype=float) / 2,
        }
    )
    d = sp.Diary.from_frame(df, id="id", day="day", sleep="sq")
    # morning sleep ratings of days 1..9: the last block (days 8-9) has 2 of each
    with pytest.warns(sp.DataQualityWarning, match=r"'pain', 'sq'.*n_waves=1"):
        w = d.waves(days=7, min_days=3)
    assert w["wave"].tolist() == [1, 2, 1, 2]
    assert w["n_sq"].tolist() == [7, 2, 7, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert d.waves(days=7, min_days=3, n_waves=1)["wave"].tolist() == [1, 1]
        d.waves(days=7, min_days=2)  # 2 observed days suffice: no warning
