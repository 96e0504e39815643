"""sp.dsem: known truth, reproducibility, accounting, errors and the result contract.

The recovery test uses one simulated dataset with known parameters (sp.simulate, latent
continuous ratings); the full Monte Carlo study (bias and coverage over hundreds of
datasets) is benchmarks/bench_dsem.py, recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.dynamics import DsemResult
from sleeppain.errors import (
    ConvergenceWarning,
    DataDropWarning,
    DataStructureError,
    SpecificationError,
)
from sleeppain.results import TIDY_COLUMNS
from tests.dynamics._helpers import fit_quietly

#: a posterior median within this many posterior SDs of the truth (one dataset, fixed seed)
Z_TRUTH = 3.5
TRUTH = {"sleep->pain": -0.25, "pain->sleep": 0.0, "pain->pain": 0.45, "sleep->sleep": 0.3}
FAST = dict(chains=2, warmup=150, draws=150, n_jobs=1)


def _sim(n=150, t=14, seed=3, **kw):
    return sp.simulate.diary(
        n,
        t,
        seed=seed,
        round_to_scale=False,
        phi_sleep=0.3,
        sleep_to_pain=-0.25,
        pain_to_sleep=0.0,
        **kw,
    )


def _fit(data, **kw):
    return fit_quietly(
        data, dict(id="id", day="day", sleep="sleep_quality", pain="pain", seed=1, **FAST), **kw
    )


@pytest.fixture(scope="module")
def fit() -> DsemResult:
    sim = _sim(missing_day_share=0.15)
    return _fit(sim.data, warmup=300, draws=300)


def test_recovers_known_truth(fit: DsemResult) -> None:
    eff = fit.effects()
    assert eff.index.tolist() == list(TRUTH)
    for d, truth in TRUTH.items():
        est, sd = eff.loc[d, "estimate"], eff.loc[d, "std_error"]
        assert abs(est - truth) < Z_TRUTH * sd, (d, est, sd)
    # the manifest (observed-mean-centred) autoregression is biased at 14 days
    assert eff.loc["pain->pain", "estimate"] > 0.38


def test_effects_columns_follow_crosslag(fit: DsemResult) -> None:
    eff = fit.effects()
    for col in (
        "estimate",
        "std_error",
        "df",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
        "std_estimate",
        "slope_sd",
        "n_obs",
        "n_persons",
        "p_holm",
        "rhat",
        "ess_bulk",
        "ess_tail",
    ):
        assert col in eff.columns
    assert (eff["conf_low"] < eff["estimate"]).all() and (eff["estimate"] < eff["conf_high"]).all()
    x = fit.draws["sleep->pain"].ravel()
    assert eff.loc["sleep->pain", "estimate"] == pytest.approx(np.median(x))
    assert eff.loc["sleep->pain", "std_error"] == pytest.approx(x.std(ddof=1))


def test_accounting_counts_imputed_values(fit: DsemResult) -> None:
    acc = fit.accounting
    data = fit._diary.data
    assert acc.rows == len(data)
    assert acc.rows == acc.rows_used + sum(c for _, c in acc.rows_dropped)
    # every value in a person's span (pain on the first day with a value, to the last
    # value) is observed or imputed; computed here independently from the canonical frame
    data = data.assign(
        any_=data["pain"].notna() | data["sleep_quality"].notna(),
        last_=np.where(
            data["sleep_quality"].notna(),
            2 * data["day"] + 1,
            np.where(data["pain"].notna(), 2 * data["day"], -1),
        ),
    )
    first = data[data["any_"]].groupby("id")["day"].min()
    last = data.groupby("id")["last_"].max()
    span_values = int((last - 2 * first + 1).sum())
    assert (
        acc.observed_pain + acc.observed_sleep + acc.imputed_pain + acc.imputed_sleep == span_values
    )
    assert acc.observed_pain == int(data["pain"].notna().sum())
    assert acc.imputed_pain > 0 and acc.presample == 2 * acc.persons_used
    g = fit.glance()
    assert len(g) == 1 and g.loc[0, "imputed"] == acc.imputed_pain + acc.imputed_sleep


def test_result_contract(fit: DsemResult) -> None:
    tid = fit.tidy()
    assert tuple(tid.columns[: len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    assert {"fixed", "residual", "random"} <= set(tid["effect"])
    assert "sd(sleep->pain)" in set(tid["term"])
    assert isinstance(fit, sp.DsemResult)
    text = fit.summary()
    assert "sleep->pain" in text and "Gibbs" in text
    assert "<h4>" in fit._repr_html_()
    pe = fit.person_effects()
    assert set(pe["term"]) >= set(TRUTH) and pe["id"].nunique() == fit.accounting.persons_used
    d = fit.get_draws("sleep->pain")
    with pytest.raises(ValueError):
        d[0, 0] = 1.0
    before = fit.effects().copy()
    handed_out = fit.effects()
    handed_out.iloc[0, 0] = 99.0
    pd.testing.assert_frame_equal(fit.effects(), before)
    with pytest.raises(SpecificationError, match="not a parameter"):
        fit.get_draws("nope")


def test_person_slopes_track_the_truth() -> None:
    sim = _sim(n=60, t=40, seed=8, sd_sleep_to_pain=0.2)
    res = _fit(sim.data, warmup=200, draws=200)
    pe = res.person_effects().query("term == 'sleep->pain'").set_index("id")
    truth = sim.person_effects.set_index("id")["sleep_to_pain"].reindex(pe.index)
    assert np.corrcoef(pe["estimate"], truth)[0, 1] > 0.5


def test_identical_for_any_n_jobs() -> None:
    sim = _sim(n=30, t=7, seed=4)
    a = _fit(sim.data, chains=2, warmup=20, draws=20, n_jobs=1, seed=9)
    b = _fit(sim.data, chains=2, warmup=20, draws=20, n_jobs=2, seed=9)
    for term in a.draws:
        np.testing.assert_array_equal(a.draws[term], b.draws[term])
    c = _fit(sim.data, chains=2, warmup=20, draws=20, n_jobs=1, seed=10)
    assert not np.array_equal(a.draws["sleep->pain"], c.draws["sleep->pain"])


def test_diary_and_frame_give_the_same_fit() -> None:
    sim = _sim(n=25, t=7, seed=5)
    diary = sp.Diary.from_frame(sim.data, id="id", day="day", sleep="sleep_quality")
    a = _fit(sim.data, chains=1, warmup=10, draws=10)
    b = _fit(diary, id=None, day=None, chains=1, warmup=10, draws=10)
    np.testing.assert_array_equal(a.draws["pain->sleep"], b.draws["pain->sleep"])


def test_short_persons_are_excluded_and_counted() -> None:
    df = _sim(n=30, t=7, seed=6).data
    short = df[df["id"].isin([1, 2])].groupby("id").head(2)
    df = pd.concat([df[~df["id"].isin([1, 2])], short])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(DataDropWarning, match="2 of 30 persons excluded"):
            res = sp.dsem(
                df,
                id="id",
                day="day",
                sleep="sleep_quality",
                pain="pain",
                seed=1,
                chains=1,
                warmup=5,
                draws=5,
                n_jobs=1,
            )
    assert res.accounting.persons_too_short == 2 and res.accounting.persons_used == 28
    assert 1 not in set(res.ids)


def test_convergence_warning_names_parameters() -> None:
    sim = _sim(n=30, t=7, seed=7)
    with pytest.warns(ConvergenceWarning, match=r"sleep->pain.*R-hat|R-hat.*Run longer"):
        res = sp.dsem(
            sim.data,
            id="id",
            day="day",
            sleep="sleep_quality",
            pain="pain",
            seed=1,
            chains=2,
            warmup=2,
            draws=8,
            n_jobs=1,
        )
    assert not res.converged and not res.glance().loc[0, "converged"]


def test_random_residual_variances_and_person_covariate() -> None:
    sim = sp.simulate.diary(
        80,
        21,
        seed=12,
        round_to_scale=False,
        depression_x_sleep_to_pain=-0.1,
        sd_sleep_to_pain=0.05,
    )
    res = _fit(
        sim.data,
        random=("intercept", "crosslag", "residual_variance"),
        person_covariates=["depression"],
        warmup=200,
        draws=200,
    )
    tid = res.tidy().set_index("term")
    assert "logvar(pain)" in tid.index and "sd(logvar(pain))" in tid.index
    assert "sleep->pain ~ depression" in tid.index
    assert res.sampler["logvar_accept"] > 0.5
    assert "sd(pain->pain)" not in tid.index  # autoregressions not random here
    # the residual variance of latent pain is 1.2^2
    lv = tid.loc["logvar(pain)"]
    assert lv["conf_low"] - 0.15 < np.log(1.44) < lv["conf_high"] + 0.15


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(seed="x"), SpecificationError, "not a valid seed"),
        (dict(draws=0), SpecificationError, "draws=0"),
        (dict(chains=0), SpecificationError, "chains=0"),
        (dict(random=("slopes",)), SpecificationError, "unknown entries"),
        (dict(covariates=["pain"]), SpecificationError, "pain or sleep column"),
        (dict(n_jobs=0), SpecificationError, "n_jobs"),
        (dict(pain="sleep_quality"), SpecificationError, "same column"),
        (dict(pain="nope"), DataStructureError, "nope"),
    ],
)
def test_bad_arguments(kwargs, exc, match) -> None:
    sim = _sim(n=10, t=5, seed=1)
    args = dict(
        id="id",
        day="day",
        sleep="sleep_quality",
        pain="pain",
        seed=1,
        chains=1,
        warmup=2,
        draws=5,
        n_jobs=1,
    )
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        sp.dsem(sim.data, **args)


def test_bad_data() -> None:
    df = _sim(n=10, t=5, seed=1).data.copy()
    args = dict(
        id="id",
        day="day",
        sleep="sleep_quality",
        pain="pain",
        seed=1,
        chains=1,
        warmup=2,
        draws=5,
        n_jobs=1,
    )
    flat = df.assign(pain=df["id"] * 1.0)
    with pytest.raises(DataStructureError, match="no within-person variance"):
        sp.dsem(flat, **args)
    empty = df.assign(pain=np.nan)
    with (
        pytest.raises(DataStructureError, match=r"all missing|no observed"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # the Diary's own DataQualityWarning about the column
        sp.dsem(empty, **args)
    with pytest.raises(SpecificationError, match=r"required when data"):
        sp.dsem(df, sleep="sleep_quality", pain="pain", seed=1)
    few = df[df["day"] < 2]
    with pytest.raises(DataStructureError, match="no person has 3"):
        sp.dsem(few, **args)


def test_plots(fit: DsemResult) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = fit.plot_trace()
    assert len(axes) == 4 and axes[0].get_ylabel() == "sleep->pain"
    with pytest.raises(SpecificationError, match="unknown terms"):
        fit.plot_trace(["nope"])
    ax = fit.plot_effects()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["dsem (latent means)", "crosslag (observed means)"]
    plt.close("all")


def test_manifest_effects_has_all_four(fit: DsemResult) -> None:
    from sleeppain.dynamics import manifest_effects

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        man = manifest_effects(fit.manifest())
    assert man.index.tolist() == list(TRUTH)
    # the manifest autoregression is pulled towards zero (Nickell bias), dsem's is not
    assert man.loc["pain->pain", "estimate"] < fit.effects().loc["pain->pain", "estimate"] - 0.03


def test_crosslag_delegate() -> None:
    from sleeppain.dynamics import crosslag_via_dsem

    sim = _sim(n=20, t=7, seed=2)
    with pytest.raises(SpecificationError, match="does not support"):
        crosslag_via_dsem(
            sim.data, id="id", day="day", sleep="sleep_quality", pain="pain", quadratic=True
        )
    with pytest.raises(SpecificationError, match="one sleep column"):
        crosslag_via_dsem(sim.data, id="id", day="day", sleep=["a", "b"], pain="pain")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = crosslag_via_dsem(
            sim.data,
            id="id",
            day="day",
            sleep=["sleep_quality"],
            pain="pain",
            estimator="dsem",
            random_slopes=False,
            reml=True,
            seed=1,
            chains=1,
            warmup=5,
            draws=10,
            n_jobs=1,
        )
    assert res.spec.random == ("intercept",)
