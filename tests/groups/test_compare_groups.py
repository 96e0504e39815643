"""sp.compare_groups against scipy, statsmodels and pingouin; known truth; real data; bad input.

References and tolerances
-------------------------
- scipy 1.17 ``ttest_ind(equal_var=False)``, ``ttest_rel``, ``mannwhitneyu``, ``wilcoxon``:
  RTOL_CLOSED (closed forms, same arithmetic).
- statsmodels 0.14 OLS with ``cov_type="HC3"``: RTOL_CLOSED.
- pingouin (version in ``tests/reference/groups/pingouin_refs.json``): Hedges' g, its CI and
  the rank-biserial correlation, RTOL_CLOSED.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import sleeppain as sp
from tests.conftest import REFERENCE_DIR, shared_path

RTOL_CLOSED = 1e-10  # closed-form statistics: agreement to rounding error
REFS = json.loads((REFERENCE_DIR / "groups" / "pingouin_refs.json").read_text())


def _frame(a: np.ndarray, b: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"grp": ["a"] * len(a) + ["b"] * len(b), "y": np.r_[a, b]})


@pytest.mark.parametrize("name", sorted(REFS["cases"]))
def test_matches_pingouin_and_scipy(name: str) -> None:
    case = REFS["cases"][name]
    a, b = np.array(case["a"]), np.array(case["b"])
    res = sp.compare_groups(_frame(a, b), group="grp", outcomes=["y"], method="parametric")
    row = res.tidy().iloc[0]
    # pingouin uses Hedges' approximate correction; the exact one differs by O(m^-3)
    approx = sp.groups.hedges_g(a, b, correction="approximate")
    assert approx.g == pytest.approx(case["hedges_g"], rel=RTOL_CLOSED)
    # the exact factor, computed independently with scipy's gamma function
    from scipy.special import gamma

    m = len(a) + len(b) - 2
    j_exact = gamma(m / 2) / (np.sqrt(m / 2) * gamma((m - 1) / 2))
    j_approx = 1 - 3 / (4 * (m + 2) - 9)
    assert row["hedges_g"] == pytest.approx(case["hedges_g"] * j_exact / j_approx, rel=1e-9)
    assert row["rank_biserial"] == pytest.approx(case["rbc"], rel=RTOL_CLOSED)
    w = stats.ttest_ind(b, a, equal_var=False)
    assert row["statistic"] == pytest.approx(w.statistic, rel=RTOL_CLOSED)
    assert row["p_value"] == pytest.approx(w.pvalue, rel=RTOL_CLOSED)
    assert row["df"] == pytest.approx(w.df, rel=RTOL_CLOSED)
    assert row["statistic"] == pytest.approx(case["welch_T"], rel=RTOL_CLOSED)
    lo, hi = w.confidence_interval(0.95)
    assert [row["conf_low"], row["conf_high"]] == pytest.approx([lo, hi], rel=RTOL_CLOSED)


def test_hedges_ci_matches_pingouin_to_its_rounding() -> None:
    # pingouin rounds compute_esci to 2 decimals; our unrounded bounds must round to its.
    for case in REFS["cases"].values():
        a, b = np.array(case["a"]), np.array(case["b"])
        g = sp.groups.hedges_g(a, b, correction="approximate")
        assert [round(g.conf_low, 2), round(g.conf_high, 2)] == case["g_ci"]


def test_mann_whitney_matches_scipy() -> None:
    case = REFS["cases"]["skewed_40_40"]
    a, b = np.array(case["a"]), np.array(case["b"])
    res = sp.compare_groups(_frame(a, b), group="grp", outcomes=["y"])
    row = res.tidy().iloc[0]
    assert row["method"] == "mann_whitney"
    assert "skewness" in row["method_reason"]
    u = stats.mannwhitneyu(b, a, alternative="two-sided")
    assert row["statistic"] == pytest.approx(u.statistic, rel=RTOL_CLOSED)
    assert row["p_value"] == pytest.approx(u.pvalue, rel=RTOL_CLOSED)


def test_ols_hc3_matches_statsmodels() -> None:
    rng = np.random.default_rng(3)
    n = 150
    df = pd.DataFrame(
        {
            "pain": rng.integers(0, 2, n),
            "age": rng.normal(55, 9, n),
            "sex": rng.choice(["f", "m"], n),
        }
    )
    df["tst"] = (
        410 - 18 * df["pain"] - 0.8 * (df["age"] - 55) + rng.normal(0, 40, n) * (1 + df["pain"])
    )
    res = sp.compare_groups(df, group="pain", outcomes=["tst"], covariates=["age", "sex"])
    row = res.tidy().iloc[0]
    X = sm.add_constant(np.column_stack([df["pain"], df["age"], (df["sex"] == "m").astype(float)]))
    fit = sm.OLS(df["tst"].to_numpy(), X).fit(cov_type="HC3")
    assert row["estimate"] == pytest.approx(fit.params[1], rel=RTOL_CLOSED)
    assert row["std_error"] == pytest.approx(fit.bse[1], rel=RTOL_CLOSED)
    assert row["method"] == "ols_hc3"


def test_paired_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    n = 25
    base = rng.normal(7, 1, n)
    df = pd.DataFrame(
        {
            "id": np.tile(np.arange(n), 2),
            "week": np.repeat(["uninjured", "injured"], n),
            "sleep": np.r_[base, base - 0.4 + rng.normal(0, 0.5, n)],
        }
    )
    res = sp.compare_groups(
        df,
        group="week",
        outcomes=["sleep"],
        id="id",
        paired=True,
        levels=("uninjured", "injured"),
        method="parametric",
    )
    row = res.tidy().iloc[0]
    t = stats.ttest_rel(df["sleep"][n:].to_numpy(), df["sleep"][:n].to_numpy())
    assert row["statistic"] == pytest.approx(t.statistic, rel=RTOL_CLOSED)
    assert row["p_value"] == pytest.approx(t.pvalue, rel=RTOL_CLOSED)
    res_np = sp.compare_groups(
        df,
        group="week",
        outcomes=["sleep"],
        id="id",
        paired=True,
        levels=("uninjured", "injured"),
        method="nonparametric",
    )
    w = stats.wilcoxon(df["sleep"][n:].to_numpy(), df["sleep"][:n].to_numpy())
    assert res_np.tidy().loc[0, "p_value"] == pytest.approx(w.pvalue, rel=RTOL_CLOSED)


def test_known_difference_recovered_and_holm() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    pain = rng.integers(0, 2, n)
    df = pd.DataFrame(
        {
            "pain": pain,
            "tst": 420 - 20 * pain + rng.normal(0, 50, n),
            "se": 88 - 3 * pain + rng.normal(0, 6, n),
            "null": rng.normal(0, 1, n),
        }
    )
    res = sp.compare_groups(df, group="pain", outcomes=["tst", "se", "null"])
    t = res.tidy().set_index("term")
    assert t.loc["tst", "conf_low"] < -20 < t.loc["tst", "conf_high"]
    assert t.loc["se", "conf_low"] < -3 < t.loc["se", "conf_high"]
    assert t.loc["tst", "hedges_g"] == pytest.approx(-0.4, abs=0.08)
    assert (t["p_holm"] >= t["p_value"]).all()
    assert "multiplicity" in res.summary()
    assert "Holm" in res.summary()


def test_coverage_of_difference_interval() -> None:
    rng = np.random.default_rng(6)
    hits = 0
    reps = 300
    for _ in range(reps):
        a, b = rng.normal(0, 1, 30), rng.normal(0.5, 2, 20)
        r = sp.groups.welch_t(a, b)
        hits += r.conf_low < 0.5 < r.conf_high
    # 95 % nominal; 4 Monte Carlo SEs of a binomial proportion at 300 reps is 0.05
    assert abs(hits / reps - 0.95) < 4 * np.sqrt(0.95 * 0.05 / reps)


def test_person_means_from_nights_and_diary() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for pid in range(40):
        lbp = pid % 2
        for _night in range(rng.integers(3, 10)):
            rows.append({"id": pid, "lbp": lbp, "tst": 400 - 15 * lbp + rng.normal(0, 30)})
    df = pd.DataFrame(rows)
    res = sp.compare_groups(df, group="lbp", outcomes=["tst"], id="id", method="parametric")
    g = res.groups()
    assert g["n"].sum() == 40
    assert {"nights_median", "nights_min"} <= set(g.columns)
    means = df.groupby("id").agg(tst=("tst", "mean"), lbp=("lbp", "first"))
    w = stats.ttest_ind(means.tst[means.lbp == 1], means.tst[means.lbp == 0], equal_var=False)
    assert res.tidy().loc[0, "statistic"] == pytest.approx(w.statistic, rel=RTOL_CLOSED)
    # a Diary: sleep measures averaged per person
    sample = pd.read_csv(__import__("pathlib").Path(__file__).parents[2] / "data/sample/diary.csv")
    sample["high_dep"] = (
        sample.groupby("id")["depression"].transform("mean") > sample["depression"].median()
    ).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diary = sp.Diary.from_frame(sample, id="id", day="date", sleep="sleep_quality")
    res = sp.compare_groups(diary, group="high_dep")
    assert res.outcomes == ("sleep_quality",)
    assert res.groups()["n"].sum() == sample["id"].nunique()


def test_result_contract() -> None:
    rng = np.random.default_rng(8)
    df = pd.DataFrame(
        {"<b>g</b>": np.repeat(["<script>x</script>", "ok"], 20), "y&z": rng.normal(0, 1, 40)}
    )
    res = sp.compare_groups(df, group="<b>g</b>", outcomes=["y&z"], n_boot=200, seed=1)
    tidy = res.tidy()
    from sleeppain.results import TIDY_COLUMNS

    assert list(tidy.columns[:8]) == list(TIDY_COLUMNS)
    assert {"boot_conf_low", "boot_conf_high"} <= set(tidy.columns)
    html = res._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert isinstance(res.summary(), str) and "Hedges' g" in res.summary()
    assert len(res.glance()) == 1
    tidy.loc[0, "estimate"] = 99
    groups = res.groups()
    groups.loc[0, "mean"] = 99
    acct = res.accounting()
    acct.loc[0, "used"] = -1
    assert res.accounting().loc[0, "used"] != -1
    assert res.tidy().loc[0, "estimate"] != 99
    assert res.groups().loc[0, "mean"] != 99
    # same seed, same bootstrap interval
    res2 = sp.compare_groups(df, group="<b>g</b>", outcomes=["y&z"], n_boot=200, seed=1)
    assert res2.tidy().loc[0, "boot_conf_low"] == res.tidy().loc[0, "boot_conf_low"]


def test_plot() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg", force=True)
    rng = np.random.default_rng(9)
    df = pd.DataFrame(
        {"g": np.repeat([0, 1], 25), "a": rng.normal(size=50), "b": rng.normal(size=50)}
    )
    fig = sp.compare_groups(df, group="g", outcomes=["a", "b"]).plot()
    assert len(fig.axes) == 3
    assert fig.axes[-1].get_title() == "Standardised differences"


@pytest.mark.parametrize(
    ("frame", "kwargs", "exc", "words"),
    [
        (
            pd.DataFrame({"g": [1, 2, 3, 1], "y": [1.0, 2, 3, 4]}),
            {},
            sp.DataStructureError,
            ["3 level", "levels=("],
        ),
        (
            pd.DataFrame({"g": [1, 1, 1], "y": [1.0, 2, 3]}),
            {},
            sp.DataStructureError,
            ["1 level", "exactly two"],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"levels": (0, 5)},
            sp.DataStructureError,
            ["empty group", "[5]"],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [2.0, 2, 2, 2]}),
            {},
            sp.DataStructureError,
            ["constant", "'y'"],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"outcomes": ["z"]},
            sp.SpecificationError,
            ["outcomes=", "'z'"],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"method": "robust"},
            sp.SpecificationError,
            ["method="],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"conf_level": 95},
            sp.SpecificationError,
            ["conf_level"],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"paired": True},
            sp.SpecificationError,
            ["id="],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"n_boot": 10, "seed": 1},
            sp.SpecificationError,
            ["n_boot"],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"n_boot": 500, "seed": "x"},
            sp.SpecificationError,
            ["seed"],
        ),
        (
            pd.DataFrame({"g": [0, 1, 1, 1], "y": [1.0, 2, 3, 4]}),
            {},
            sp.DataStructureError,
            ["at least 2"],
        ),
        (
            pd.DataFrame({"g": [0, 0, 1, 1], "y": ["1", "2,5", "3", "4"]}),
            {},
            sp.DataStructureError,
            ["non-numeric", "decimal commas"],
        ),
        (
            pd.DataFrame({"id": [1, 1, 2, 2], "g": [0, 1, 1, 1], "y": [1.0, 2, 3, 4]}),
            {"id": "id"},
            sp.DataStructureError,
            ["changes within person", "paired=True"],
        ),
    ],
)
def test_bad_input(frame, kwargs, exc, words) -> None:
    kwargs = {"group": "g", "outcomes": ["y"]} | kwargs
    with pytest.raises(exc) as info:
        sp.compare_groups(frame, **kwargs)
    for w in words:
        assert w in str(info.value)


def test_missing_covariates_counted_and_warned() -> None:
    rng = np.random.default_rng(10)
    df = pd.DataFrame(
        {"g": np.repeat([0, 1], 20), "y": rng.normal(size=40), "age": rng.normal(50, 5, 40)}
    )
    df.loc[[1, 5, 30], "age"] = np.nan
    with pytest.warns(sp.DataDropWarning, match="3 row"):
        res = sp.compare_groups(df, group="g", outcomes=["y"], covariates=["age"])
    acct = res.accounting().iloc[0]
    assert acct["missing_covariate"] == 3
    assert acct["used"] + acct["missing_covariate"] + acct["missing_outcome"] == acct["units"]
    assert acct["units"] == acct["input_rows"] == 40
    assert "listwise" in res.summary()


@pytest.mark.shared_data
def test_pmdata_injured_vs_uninjured_weeks() -> None:
    """Real data: each athlete's sleep in weeks with vs without a reported injury (paired)."""
    root = shared_path("pmdata/raw")
    rows = []
    for pdir in sorted(root.glob("p*")):
        if not (pdir / "pmsys" / "injury.csv").exists():
            continue  # not every athlete has an injury log
        well = pd.read_csv(pdir / "pmsys" / "wellness.csv")
        inj = pd.read_csv(pdir / "pmsys" / "injury.csv")
        if well.empty or inj.empty:
            continue
        inj_week = pd.to_datetime(inj["effective_time_frame"]).dt.strftime("%G-%V")
        injured = set(inj_week[inj["injuries"].astype(str) != "{}"])
        week = pd.to_datetime(well["effective_time_frame"]).dt.strftime("%G-%V")
        q = well["sleep_quality"].where(well["sleep_quality"].between(1, 5))
        rows.append(
            pd.DataFrame(
                {
                    "id": pdir.name,
                    "week": np.where(week.isin(injured), "injured", "uninjured"),
                    "sleep_quality": q,
                }
            )
        )
    df = pd.concat(rows, ignore_index=True)
    res = sp.compare_groups(
        df,
        group="week",
        outcomes=["sleep_quality"],
        id="id",
        paired=True,
        levels=("uninjured", "injured"),
    )
    acct = res.accounting().iloc[0]
    assert acct["input_rows"] == acct["units"] == len(df)
    assert acct["unpaired_persons"] >= 1  # athletes who never reported an injury
    assert acct["used"] + acct["unpaired_rows"] + acct["missing_outcome"] == acct["units"]
    wide = df.dropna().groupby(["id", "week"])["sleep_quality"].mean().unstack().dropna()
    d = wide["injured"] - wide["uninjured"]
    row = res.tidy().iloc[0]
    assert row["estimate"] == pytest.approx(d.mean(), rel=RTOL_CLOSED)
    assert res.groups()["n"].iloc[0] == len(wide)


def test_consensus_sleep_diary_scores_plug_in() -> None:
    """score_diary's columns join onto the nights and compare per person directly."""
    sample = pd.read_csv(__import__("pathlib").Path(__file__).parents[2] / "data/sample/diary.csv")
    scored = sp.sleep.score_diary(sample)
    nights = sample.drop(columns=[c for c in scored.columns if c in sample]).join(scored)
    person_dep = nights.groupby("id")["depression"].transform("mean")
    nights["depressed"] = (person_dep > person_dep.median()).map({True: "yes", False: "no"})
    res = sp.compare_groups(
        nights, group="depressed", outcomes=["tst_min", "se_pct", "sol_min", "waso_min"], id="id"
    )
    assert res.tidy()["term"].tolist() == ["tst_min", "se_pct", "sol_min", "waso_min"]
    assert "p_holm" in res.tidy().columns
    acct = res.accounting()
    assert (acct["input_rows"] == len(nights)).all()
    assert (acct["unit"] == "person").all()
    assert (acct["units"] == nights["id"].nunique()).all()
    assert res.groups()["nights_min"].min() >= 1


def test_level_advice_uses_the_column_values_and_works() -> None:
    """Integer levels are shown as integers, and the suggested levels= is accepted as given."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"g": np.repeat([0, 1, 2], 10), "y": rng.normal(size=30)})
    with pytest.raises(sp.DataStructureError) as info:
        sp.compare_groups(df, group="g", outcomes=["y"])
    msg = str(info.value)
    assert "levels=(0, 1)" in msg and "['0'" not in msg
    res = sp.compare_groups(df, group="g", outcomes=["y"], levels=(0, 1))
    assert res.accounting()["other_group_levels"].iloc[0] == 10
    with pytest.raises(sp.DataStructureError, match=r"dtype int64; its levels are \[0, 1, 2\]"):
        sp.compare_groups(df, group="g", outcomes=["y"], levels=("0", "1"))


def test_repeated_rows_with_text_outcome_or_text_covariate() -> None:
    """Rows averaged per person: a text outcome is a typed error, a text covariate is used."""
    rng = np.random.default_rng(4)
    persons = np.repeat(np.arange(40), 3)
    sex = np.where(persons % 2 == 0, "f", "m")
    df = pd.DataFrame(
        {
            "id": persons,
            "g": (persons >= 20).astype(int),
            "y": rng.normal(size=120) + 0.3 * (sex == "f"),
            "sex": sex,
        }
    )
    with pytest.raises(sp.DataStructureError, match="outcome 'txt' has 120 non-numeric"):
        sp.compare_groups(df.assign(txt="a"), group="g", outcomes=["txt"], id="id")
    res = sp.compare_groups(df, group="g", outcomes=["y"], covariates=["sex"], id="id")
    coded = sp.compare_groups(
        df.assign(sex=(df["sex"] == "m").astype(float)),
        group="g",
        outcomes=["y"],
        covariates=["sex"],
        id="id",
    )
    np.testing.assert_allclose(res.tidy()["estimate"], coded.tidy()["estimate"], rtol=RTOL_CLOSED)
    varying = df.assign(sex=np.where(np.arange(120) % 2 == 0, "f", "m"))
    with pytest.raises(sp.DataStructureError, match="categorical covariate 'sex' changes"):
        sp.compare_groups(varying, group="g", outcomes=["y"], covariates=["sex"], id="id")


def test_all_missing_outcome_says_so() -> None:
    df = pd.DataFrame({"g": np.repeat([0, 1], 5), "y": np.nan})
    with pytest.raises(sp.DataStructureError, match="'y' has no usable value: 10 of 10"):
        sp.compare_groups(df, group="g", outcomes=["y"])


def test_diary_added_nights_are_not_missing_group_rows() -> None:
    """The nights a Diary adds for sleep ratings take the person's group; none counted missing."""
    sample = sp.datasets.sample_diary()
    sample = sample.assign(high=(sample.groupby("id")["pain"].transform("mean") > 4).astype(int))
    diary = sp.Diary.from_frame(
        sample[["id", "date", "sleep_quality", "pain", "high"]],
        id="id",
        day="date",
        sleep="sleep_quality",
    )
    assert diary.data["high"].isna().sum() > 0  # the added nights
    res = sp.compare_groups(diary, group="high")
    acct = res.accounting().iloc[0]
    assert acct["missing_group"] == 0
    assert res.groups()["n"].sum() == sample["id"].nunique()
    with pytest.raises(sp.SpecificationError, match="Keep the grouping column") as info:
        sp.compare_groups(diary, group="hihg")
    assert "person_covariates" not in str(info.value)


def test_paired_plot_shows_the_compared_person_means_joined():
    """Paired: the figure shows each person's two condition means (the pairs tested), joined
    by a line, not the raw rows; a '$' in a label stays literal text (no mathtext)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(12)
    persons = np.repeat(np.arange(15), 6)
    cond = np.tile(["pre $x$", "post", "pre $x$", "post", "pre $x$", "post"], 15)
    df = pd.DataFrame({"id": persons, "cond": cond, "y": rng.normal(size=90)})
    res = sp.compare_groups(
        df, group="cond", outcomes=["y"], id="id", paired=True, levels=("pre $x$", "post")
    )
    fig = res.plot(kind="distributions")
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 15  # one point per person and condition
    means = df.groupby(["id", "cond"])["y"].mean().unstack()
    shown = np.sort(np.asarray(ax.collections[0].get_offsets())[:, 1])
    np.testing.assert_allclose(shown, np.sort(means["pre $x$"].to_numpy()), rtol=RTOL_CLOSED)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [r"pre \$x\$", "post"]
    plt.close(fig)


def test_paired_refuses_covariates_and_n_boot_instead_of_ignoring_them():
    """A paired comparison cannot be covariate-adjusted or bootstrapped here: say so, rather
    than report an unadjusted result whose glance() lists the covariates."""
    rng = np.random.default_rng(13)
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(20), 2),
            "cond": np.tile(["a", "b"], 20),
            "y": rng.normal(size=40),
            "age": np.repeat(rng.normal(50, 5, 20), 2),
        }
    )
    kw = {"group": "cond", "outcomes": ["y"], "id": "id", "paired": True}
    with pytest.raises(sp.SpecificationError, match="cannot adjust a paired comparison"):
        sp.compare_groups(df, covariates=["age"], **kw)
    with pytest.raises(sp.SpecificationError, match="independent groups only"):
        sp.compare_groups(df, n_boot=200, seed=1, **kw)
    res = sp.compare_groups(df, **kw)
    assert res.tidy()["method"].iloc[0] in ("paired_t", "wilcoxon")


def test_covariates_with_rank_test_or_bootstrap_are_refused() -> None:
    """An explicit rank test or a bootstrap of the raw difference cannot be covariate-adjusted:
    refused with the reason instead of an OLS estimate beside an unadjusted interval."""
    rng = np.random.default_rng(14)
    df = pd.DataFrame(
        {"g": np.repeat([0, 1], 30), "y": rng.normal(size=60), "age": rng.normal(50, 5, 60)}
    )
    kw = {"group": "g", "outcomes": ["y"], "covariates": ["age"]}
    with pytest.raises(sp.SpecificationError, match="cannot adjust for covariates"):
        sp.compare_groups(df, method="nonparametric", **kw)
    with pytest.raises(sp.SpecificationError, match="unadjusted difference"):
        sp.compare_groups(df, n_boot=200, seed=1, **kw)
    assert sp.compare_groups(df, **kw).tidy()["method"].iloc[0] == "ols_hc3"
