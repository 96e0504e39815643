"""The crosslag API: arguments, errors, several sleep measures, person slopes, compare."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.analysis import holm
from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataStructureError,
    SpecificationError,
)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "diary.csv"
QUIET = (BoundaryFitWarning, ConvergenceWarning)


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        for w in QUIET:
            warnings.simplefilter("ignore", w)
        return fn(*a, **kw)


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


@pytest.fixture(scope="module")
def res(sample: pd.DataFrame) -> sp.CrossLagResult:
    return _quiet(sp.crosslag, sample, id="id", day="date", sleep="sleep_quality", pain="pain")


def test_effects_schema_and_accounting(res: sp.CrossLagResult) -> None:
    eff = res.effects()
    assert list(eff.index) == ["sleep->pain", "pain->sleep"]
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
    ):
        assert col in eff.columns
    acc = res.accounting()
    assert (acc["rows_used"] + acc["rows_dropped"] == acc["rows_available"]).all()
    assert list(acc["rows_used"]) == list(eff["n_obs"])
    # the diary's own pair counts agree with the rows the models use
    pairs = {p.direction: p.pairs_with_ar for p in res.diary_accounting.pairs}
    assert pairs["sleep->pain"] == eff.loc["sleep->pain", "n_obs"]
    assert pairs["pain->sleep"] == eff.loc["pain->sleep", "n_obs"]
    # the sample's generating model: better sleep -> less pain
    assert eff.loc["sleep->pain", "conf_high"] < 0


def test_result_is_frozen_and_displays(res: sp.CrossLagResult) -> None:
    with pytest.raises(AttributeError):
        res.spec = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        res.fits[("x", "y")] = 1  # type: ignore[index]
    text = res.summary()
    assert "sleep->pain" in text and "usable pairs" in text
    assert "<table" in res._repr_html_()
    tidy = res.tidy()
    assert set(tidy["direction"]) == {"sleep->pain", "pain->sleep"}
    assert {"term", "label", "estimate", "p_value"} <= set(tidy.columns)
    assert res.sleep_to_pain is res.model("sleep->pain")
    assert res.pain_to_sleep.nobs == res.effects().loc["pain->sleep", "n_obs"]
    assert len(res.glance()) == 2


def test_default_model_raises_no_warning_on_the_sample(sample: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = sp.crosslag(sample, id="id", day="date", sleep="sleep_quality", pain="pain")
    assert not r.fit_warnings
    assert not r.glance()["singular"].any()


def test_fit_warnings_are_issued_at_the_call(sample: pd.DataFrame) -> None:
    # the former default (outcome's own person mean as predictor) is singular on the sample
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = sp.crosslag(
            sample, id="id", day="date", sleep="sleep_quality", pain="pain", outcome_mean=True
        )
    issued = [(w.category.__name__, str(w.message)) for w in caught]
    assert "BoundaryFitWarning" in {c for c, _ in issued}
    assert all(m.startswith("crosslag ") for _, m in issued)
    assert all(w.filename == __file__ for w in caught)  # stacklevel points at the call
    assert sorted(issued) == sorted(
        (c, f"crosslag {m} model: {msg}") for m, c, msg in r.fit_warnings
    )


def test_several_sleep_measures_with_holm(sample: pd.DataFrame) -> None:
    scored = sp.sleep.score_diary(sample)
    df = sample.assign(tst_min=scored["tst_min"], se_pct=scored["se_pct"])
    r = _quiet(
        sp.crosslag,
        df,
        id="id",
        day="date",
        sleep=["sleep_quality", "tst_min", "se_pct"],
        pain="pain",
    )
    eff = r.effects()
    assert eff.index.names == ["sleep", "direction"]
    assert len(eff) == 6
    for d in ("sleep->pain", "pain->sleep"):
        sub = eff.xs(d, level="direction")
        np.testing.assert_allclose(sub["p_holm"], holm(sub["p_value"].to_numpy()))
        assert (sub["p_holm"] >= sub["p_value"]).all()
    with pytest.raises(SpecificationError, match="sleep measures"):
        _ = r.sleep_to_pain
    assert (
        r.model("sleep->pain", sleep="tst_min").nobs == eff.loc[("tst_min", "sleep->pain"), "n_obs"]
    )


def test_holm_matches_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, np.nan])
    np.testing.assert_allclose(holm(p)[:3], [0.03, 0.06, 0.06])
    assert np.isnan(holm(p)[3])


def test_person_effects_share(res: sp.CrossLagResult) -> None:
    pe = res.person_effects(expected_sign={"sleep->pain": -1, "pain->sleep": -1})
    tab = pe.table[pe.table["direction"] == "sleep->pain"]
    assert len(tab) == res.effects().loc["sleep->pain", "n_persons"]
    fit = res.sleep_to_pain
    re = fit.ranef()
    re = re[re.term == "sleep_w"].set_index("level")["estimate"]
    np.testing.assert_allclose(
        tab.set_index("id")["slope"], fit.fixef["sleep_w"] + re.loc[tab["id"]].to_numpy()
    )
    share = pe.shares.set_index("direction").loc["sleep->pain", "share_expected"]
    assert share == pytest.approx(np.mean(tab["slope"] < 0))
    with pytest.raises(SpecificationError, match="expected_sign"):
        res.person_effects(expected_sign={"sleep->pain": 2})


def test_compare_bootstrap_is_reproducible(sample: pd.DataFrame) -> None:
    small = sample[sample["id"] <= 50]
    r = _quiet(
        sp.crosslag,
        small,
        id="id",
        day="date",
        sleep="sleep_quality",
        pain="pain",
        random_slopes=False,
    )
    a = _quiet(r.compare, n_boot=20, seed=7)
    b = _quiet(r.compare, n_boot=20, seed=7)
    pd.testing.assert_frame_equal(a.table, b.table)
    row = a.table.iloc[0]
    eff = r.effects()
    assert row["difference"] == pytest.approx(
        abs(eff.loc["sleep->pain", "std_estimate"]) - abs(eff.loc["pain->sleep", "std_estimate"])
    )
    assert row["conf_low"] <= row["conf_high"] and 0 < row["p_value"] <= 1
    assert row["n_failed"] == 0
    assert "bootstrap" in a.method and "Which direction" in a.summary()
    with pytest.raises(SpecificationError, match="n_boot"):
        r.compare(n_boot=3)


def test_gee_estimator(sample: pd.DataFrame) -> None:
    r = sp.crosslag(
        sample, id="id", day="date", sleep="sleep_quality", pain="pain", estimator="gee"
    )
    eff = r.effects()
    assert np.isinf(eff["df"]).all() and eff["slope_sd"].isna().all()
    assert eff.loc["sleep->pain", "conf_high"] < 0
    assert "exchangeable" in r.summary()
    with pytest.raises(SpecificationError, match="person-specific"):
        r.person_effects()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"id": None}, SpecificationError, "id= required"),
        ({"estimator": "ols"}, SpecificationError, "estimator"),
        ({"pain": "sleep_quality"}, SpecificationError, "also listed in sleep"),
        ({"sleep": "no_such"}, DataStructureError, "no_such"),
        ({"sleep_timing": "tonight"}, SpecificationError, "sleep_timing"),
        ({"covariates": ["pain"]}, SpecificationError, "already in the models"),
        ({"person_covariates": ["sol_min"]}, DataStructureError, "varies within person"),
        ({"random_slopes": "yes"}, SpecificationError, "True or False"),
    ],
)
def test_errors(sample: pd.DataFrame, kwargs: dict, error: type, match: str) -> None:
    args = {"id": "id", "day": "date", "sleep": "sleep_quality", "pain": "pain", **kwargs}
    with pytest.raises(error, match=match):
        _quiet(sp.crosslag, sample, **args)


def test_data_must_be_a_frame_or_diary() -> None:
    with pytest.raises(SpecificationError, match="Diary or a pandas DataFrame"):
        sp.crosslag([1, 2], sleep="s", pain="p")


def test_diary_with_other_id_column_rejected(sample: pd.DataFrame) -> None:
    d = sp.Diary.from_frame(sample, id="id", day="date", sleep="sleep_quality")
    with pytest.raises(SpecificationError, match="differs from the Diary"):
        sp.crosslag(d, id="person", sleep="sleep_quality", pain="pain")


def test_persons_without_pairs_warn() -> None:
    df = pd.DataFrame(
        {
            "id": [1, 1, 1, 1, 2, 2, 3, 3, 3, 3] * 3,
            "day": [1, 2, 3, 4, 1, 3, 1, 2, 3, 4] * 3,
        }
    )
    df["id"] = df["id"] + 10 * np.repeat(np.arange(3), 10)
    rng = np.random.default_rng(1)
    df["pain"] = rng.normal(5, 1, len(df))
    df["sq"] = rng.normal(5, 1, len(df))
    with pytest.warns(sp.LagCoverageWarning, match="no usable lagged pair"):
        r = _quiet(
            sp.crosslag, df, id="id", day="day", sleep="sq", pain="pain", random_slopes=False
        )
    acc = r.accounting().set_index("direction")
    assert acc.loc["sleep->pain", "persons_used"] == 6


def test_no_complete_rows_raises() -> None:
    df = pd.DataFrame(
        {"id": [1, 1, 2, 2], "day": [1, 3, 1, 3], "pain": [1.0, 2, 3, 4], "sq": [5.0, 6, 7, 8]}
    )
    with pytest.raises(sp.EstimationError, match="no complete rows"):
        sp.crosslag(df, id="id", day="day", sleep="sq", pain="pain")


def test_default_drops_a_zero_slope_sd_instead_of_a_singular_fit() -> None:
    """(1 + x || id) with a slope SD estimated at 0 is reported as (1 | id), with a note.

    Bates, Kliegl, Vasishth & Baayen (2015, arXiv:1506.04967): a zero variance component is
    removed; the estimates are those of the uncorrelated fit itself.
    """
    data = sp.simulate.diary(40, 10, seed=4).data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no BoundaryFitWarning
        res = sp.crosslag(data, id="id", day="day", sleep="sleep_quality", pain="pain")
    assert [m for m, _ in res.model_notes] == [
        "sleep->pain (sleep_quality)",
        "pain->sleep (sleep_quality)",
    ]
    fit = res.model("sleep->pain")
    assert fit.formula.endswith("+ (1 | id)") and not fit.is_singular
    assert res.effects().loc["sleep->pain", "slope_sd"] == 0.0
    assert "Model notes" in res.summary() and "estimated at 0" in res.summary()
    mf = res.frames[("sleep_quality", "sleep->pain")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = sp.lmm(mf.formula(), mf.frame)
    assert full.is_singular and "||" in full.formula
    np.testing.assert_allclose(fit.fixef.to_numpy(), full.fixef.to_numpy(), rtol=1e-4, atol=1e-6)
    # the correlated option keeps lme4's (1 + x | id) term
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cor = sp.crosslag(
            data, id="id", day="day", sleep="sleep_quality", pain="pain", slope_correlation=True
        )
    assert cor.model("sleep->pain").formula.endswith("(1 + sleep_w | id)")
    assert cor.model_notes == ()
