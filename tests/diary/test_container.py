"""The Diary container: alignment, prompts, validation, lags, decomposition, accounting."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.diary import DiaryAccounting, LaggedFrame
from sleeppain.errors import (
    DataStructureError,
    InputFileError,
    LagCoverageWarning,
    ScaleWarning,
    SpecificationError,
)

nan = np.nan


def small() -> pd.DataFrame:
    """Two persons; person 1 misses 2024-03-03; a morning sleep report each day."""
    return pd.DataFrame(
        {
            "id": [1, 1, 1, 1, 2, 2],
            "date": [
                "2024-03-01",
                "2024-03-02",
                "2024-03-04",
                "2024-03-05",
                "2024-03-02",
                "2024-03-03",
            ],
            "pain": [3, 5, 4, 6, 1, 2],
            "sleep_quality": [6, 4, 7, 5, 8, 9],
            "depression": [0.5, 0.5, 0.5, 0.5, -1.0, -1.0],
        }
    )


# ------------------------------------------------------------------ alignment
def test_previous_night_moves_sleep_to_the_night_before():
    d = sp.Diary.from_frame(small(), id="id", day="date", sleep="sleep_quality")
    data = d.data
    assert list(data.columns[:3]) == ["id", "day", "day_label"]
    p1 = data[data["id"] == 1]
    labels = [str(x)[:10] for x in p1["day_label"]]
    assert labels == [
        "2024-02-29",
        "2024-03-01",
        "2024-03-02",
        "2024-03-03",
        "2024-03-04",
        "2024-03-05",
    ]
    np.testing.assert_array_equal(p1["pain"], [nan, 3, 5, nan, 4, 6])
    # the rating made on 03-02 (4) describes the night 03-01 -> 03-02, stored on row 03-01
    np.testing.assert_array_equal(p1["sleep_quality"], [6, 4, nan, 7, 5, nan])
    assert np.diff(p1["day"]).tolist() == [1, 1, 1, 1, 1]


def test_following_night_keeps_sleep_on_its_day():
    d = sp.Diary.from_frame(
        small(), id="id", day="date", sleep="sleep_quality", sleep_timing="following_night"
    )
    p1 = d.data[d.data["id"] == 1]
    np.testing.assert_array_equal(p1["sleep_quality"], [6, 4, 7, 5])
    assert d.accounting.nights_added == 0


def test_both_conventions_give_identical_canonical_nights():
    morning = small()
    d_prev = sp.Diary.from_frame(morning, id="id", day="date", sleep="sleep_quality")
    # the same nights written as evening reports: the rating moves to the day before
    dates = pd.to_datetime(morning["date"])
    day_part = morning.drop(columns="sleep_quality").assign(date=dates)
    night_part = morning[["id", "sleep_quality"]].assign(date=dates - pd.Timedelta(days=1))
    evening = day_part.merge(night_part, on=["id", "date"], how="outer")
    evening = evening[morning.columns].sample(frac=1.0, random_state=3)  # row order must not matter
    d_next = sp.Diary.from_frame(
        evening, id="id", day="date", sleep="sleep_quality", sleep_timing="following-night"
    )
    pd.testing.assert_frame_equal(d_prev.data, d_next.data)


def test_sleep_columns_alias_and_with_sleep():
    a = sp.Diary.from_frame(small(), id="id", day="date", sleep_columns=["sleep_quality"])
    b = sp.Diary.from_frame(small(), id="id", day="date").with_sleep("sleep_quality")
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.sleep == ("sleep_quality",)
    with pytest.raises(SpecificationError, match="once"):
        sp.Diary.from_frame(
            small(), id="id", day="date", sleep="pain", sleep_columns="sleep_quality"
        )
    with pytest.raises(DataStructureError, match="Did you mean 'sleep_quality'"):
        b.with_sleep("sleep_qualty")


def test_bad_sleep_timing():
    with pytest.raises(SpecificationError, match="previous_night"):
        sp.Diary.from_frame(small(), id="id", day="date", sleep_timing="morning")


def test_integer_study_days_and_labels():
    df = pd.DataFrame({"Person": [7, 7, 7], "Day": [0, 1, 3], "Pain": [1.0, 2.0, 3.0]})
    d = sp.Diary.from_frame(df, id="Person", day="Day")
    assert d.day_kind == "integer"
    assert d.data["day"].tolist() == [0, 1, 3]
    assert d.data["day_label"].tolist() == [0, 1, 3]
    assert d.data["id"].tolist() == [7, 7, 7]


def test_timestamps_with_tz_become_local_days():
    df = pd.DataFrame(
        {"pid": ["a", "a"], "t": ["2019-11-01T23:30:00Z", "2019-11-02T22:00:00Z"], "x": [1, 2]}
    )
    with pytest.raises(DataStructureError, match="1 duplicated"):
        sp.Diary.from_frame(df, id="pid", day="t", tz="Europe/Oslo")  # both on 11-02 in Oslo
    d = sp.Diary.from_frame(df, id="pid", day="t")  # UTC days
    assert [str(x)[:10] for x in d.data["day_label"]] == ["2019-11-01", "2019-11-02"]


# -------------------------------------------------------------------- prompts
def prompts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 1, 1, 1, 1, 1, 2, 2],
            "day": [1, 1, 1, 2, 2, 2, 1, 1],
            "beep": [3, 1, 2, 1, 2, 3, 2, 1],
            "pain": [6, 2, 4, 1, 1, 4, 5, 7],
            "sleep_quality": [nan, 7, nan, nan, 5, nan, nan, 3],
        }
    )


def test_prompts_aggregate_in_prompt_order():
    d = sp.Diary.from_frame(
        prompts(), id="id", day="day", prompt="beep",
        aggregate={"pain": "mean", "sleep_quality": "first"}, sleep="sleep_quality",
    )  # fmt: skip
    data = d.data
    p1 = data[data["id"] == 1]
    assert p1["day"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(p1["pain"], [nan, 4.0, 2.0])
    np.testing.assert_allclose(p1["sleep_quality"], [7, 5, nan])  # first non-missing
    last = sp.Diary.from_frame(prompts(), id="id", day="day", prompt="beep", aggregate="last")
    np.testing.assert_allclose(last.data["pain"], [6, 4, 5])  # beep 3, beep 3, beep 2
    acc = d.accounting
    assert acc.input_rows == 8
    assert acc.dropped["merged into a person-day (aggregate)"] == 5
    assert acc.rows_used == 3
    pr = d.prompts
    assert pr is not None and len(pr) == 8
    assert pr.loc[pr["id"] == 1, "prompt"].tolist() == [
        1,
        2,
        3,
        1,
        2,
        3,
    ]


def test_callable_reducer_and_time_of_day_prompt():
    df = prompts().assign(
        beep=["21:00", "08:00", "13:00", "08:00", "13:00", "21:00", "13:00", "08:00"]
    )
    d = sp.Diary.from_frame(df, id="id", day="day", prompt="beep", aggregate={"pain": lambda s: s.max() - s.min(), "sleep_quality": "first"})  # fmt: skip
    np.testing.assert_allclose(d.data["pain"], [4, 3, 2])
    np.testing.assert_allclose(d.data["sleep_quality"], [7, 5, 3])


def test_duplicates_without_aggregate_raise_with_count_and_example():
    with pytest.raises(
        DataStructureError,
        match=r"3 duplicated \(id, day\) pairs \(8 rows\), e\.g\. id=1 day 1\. Pass aggregate=",
    ):
        sp.Diary.from_frame(prompts(), id="id", day="day", prompt="beep")
    dated = small()
    dated.loc[1, "date"] = "2024-03-01"
    with pytest.raises(
        DataStructureError,
        match=r"1 duplicated \(id, date\) pairs \(2 rows\), e\.g\. id=1 on 2024-03-01",
    ):
        sp.Diary.from_frame(dated, id="id", day="date")


def test_unlisted_varying_variable_needs_a_reducer():
    with pytest.raises(
        SpecificationError, match=r"no reducer for \['sleep_quality'\]|no reducer for \['pain'\]"
    ):
        sp.Diary.from_frame(
            prompts().assign(sleep_quality=1.0 * np.arange(8)),
            id="id",
            day="day",
            prompt="beep",
            aggregate={"pain": "mean"},
        )
    # a variable asked at one prompt only is constant within the day: kept as is
    d = sp.Diary.from_frame(
        prompts(), id="id", day="day", prompt="beep", aggregate={"pain": "mean"}
    )
    np.testing.assert_allclose(d.data["sleep_quality"], [7, 5, 3])


def test_unknown_reducer_suggests():
    with pytest.raises(SpecificationError, match="Did you mean 'mean'"):
        sp.Diary.from_frame(prompts(), id="id", day="day", prompt="beep", aggregate="meen")


# ----------------------------------------------------------------- validation
def test_missing_column_suggests_close_match():
    with pytest.raises(
        DataStructureError,
        match=r"column 'sleep_qualty' \(from sleep=\) is not in the data\. Did you mean 'sleep_quality'\?",
    ):
        sp.Diary.from_frame(small(), id="id", day="date", sleep="sleep_qualty")
    with pytest.raises(DataStructureError, match=r"'ID' \(from id=\).*Did you mean 'id'"):
        sp.Diary.from_frame(small(), id="ID", day="date")


def test_non_numeric_values_reported_with_column_count_example_row():
    df = small()
    df["pain"] = df["pain"].astype(str)
    df.loc[[2, 4], "pain"] = ["high", "n/a?"]
    with pytest.raises(
        DataStructureError, match=r"column 'pain' has 2 non-numeric values \(e\.g\. 'high' in row 2"
    ):
        sp.Diary.from_frame(df, id="id", day="date")


def test_free_text_columns_left_out_and_listed():
    df = small().assign(note=["fine", "tired", "ok", "", None, "bad day"])
    d = sp.Diary.from_frame(df, id="id", day="date")
    assert "note" not in d.variables
    assert ("note", "text, not numbers") in d.accounting.ignored_columns
    with pytest.raises(DataStructureError, match="'note' has 4 non-numeric"):
        sp.Diary.from_frame(df, id="id", day="date", columns=["pain", "note"])


def test_columns_argument_restricts_variables():
    d = sp.Diary.from_frame(small(), id="id", day="date", columns=["pain"])
    assert d.variables == ("pain",)
    with pytest.raises(SpecificationError, match="not in columns="):
        sp.Diary.from_frame(small(), id="id", day="date", columns=["pain"], sleep="sleep_quality")


def test_levels_map_labels_and_report_unknown():
    df = small().assign(q=["Poor", "Good", None, "Fair", "Good", "Poor"])
    d = sp.Diary.from_frame(df, id="id", day="date", levels={"q": ["Poor", "Fair", "Good"]})
    np.testing.assert_array_equal(d.data["q"], [1, 3, nan, 2, 3, 1])
    df.loc[2, "q"] = "Excellent"
    df.loc[3, "q"] = "Excellent"
    with pytest.raises(
        DataStructureError, match=r"2 values not among its levels: 'Excellent' \(2\)"
    ):
        sp.Diary.from_frame(df, id="id", day="date", levels={"q": ["Poor", "Fair", "Good"]})
    coded = sp.Diary.from_frame(
        df, id="id", day="date", levels={"q": {"Poor": 0, "Fair": 1, "Good": 2, "Excellent": 3}}
    )
    assert coded.data["q"].tolist()[:4] == [0, 2, 3, 3]


def test_scales_warn_raise_set_missing():
    df = small()
    df.loc[[1, 3], "pain"] = [11, -1]
    with pytest.warns(
        ScaleWarning,
        match=r"2 values of 'pain' lie outside its scale \[0, 10\], e\.g\. 11 in row 1, -1 in row 3",
    ) as rec:
        d = sp.Diary.from_frame(df, id="id", day="date", scales={"pain": (0, 10)})
    assert rec[0].filename == __file__  # stacklevel points at the caller
    assert d.data["pain"].max() == 11
    assert d.accounting.out_of_range[0].count == 2
    with pytest.raises(DataStructureError, match="outside its scale"):
        sp.Diary.from_frame(df, id="id", day="date", scales={"pain": (0, 10)}, out_of_range="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = sp.Diary.from_frame(
            df, id="id", day="date", scales={"pain": (0, 10)}, out_of_range="set_missing"
        )
    assert m.data["pain"].isna().sum() == 2
    assert ("pain", "outside scale", 2) in m.accounting.values_set_missing
    with pytest.raises(SpecificationError, match="pair"):
        sp.Diary.from_frame(df, id="id", day="date", scales={"pain": 10})
    with pytest.raises(SpecificationError, match="out_of_range"):
        sp.Diary.from_frame(df, id="id", day="date", out_of_range="clip")


def test_missing_value_codes():
    df = small()
    df.loc[[0, 5], "sleep_quality"] = 0
    d = sp.Diary.from_frame(df, id="id", day="date", missing_values={"sleep_quality": [0]})
    assert d.data["sleep_quality"].isna().sum() == 2
    assert d.accounting.values_set_missing == (("sleep_quality", "missing-value code", 2),)


def test_missing_id_and_day_rows_dropped_and_counted():
    df = small()
    df["id"] = df["id"].astype(object)
    df.loc[0, "id"] = None
    df.loc[1, "date"] = ""
    df.loc[2, "date"] = None
    acc = sp.Diary.from_frame(df, id="id", day="date").accounting
    assert acc.dropped == {"missing id": 1, "missing day": 2}
    assert acc.rows_used == 3
    assert acc.input_rows == acc.rows_used + acc.rows_dropped_total


def test_reserved_names():
    df = small().assign(day=range(6))
    d = sp.Diary.from_frame(df, id="id", day="date")
    assert "day" not in d.variables
    assert d.accounting.ignored_columns[0][0] == "day"
    with pytest.raises(SpecificationError, match="reserves"):
        sp.Diary.from_frame(df, id="id", day="date", scales={"day": (0, 5)})


def test_not_a_frame():
    with pytest.raises(SpecificationError, match="DataFrame"):
        sp.Diary.from_frame({"id": [1]}, id="id", day="day")


# ----------------------------------------------------------------------- lags
def test_lag_is_a_calendar_step_not_a_row_shift():
    d = sp.Diary.from_frame(small(), id="id", day="date")
    # rows: p1 03-01, 03-02, 03-04, 03-05; p2 03-02, 03-03
    assert d.lag("pain").tolist() == pytest.approx([nan, 3, nan, 4, nan, 1], nan_ok=True)
    assert d.lead("pain").tolist() == pytest.approx([5, nan, 6, nan, 2, nan], nan_ok=True)
    assert d.lag("pain", 2).tolist() == pytest.approx([nan, nan, 5, nan, nan, nan], nan_ok=True)
    assert d.lag("pain", -1).name == "pain_lead1"
    lagged_twice = d.lag(d.lag("pain"), 1)
    assert lagged_twice.isna().all()
    with pytest.raises(SpecificationError, match="integer"):
        d.lag("pain", 1.5)
    with pytest.raises(DataStructureError, match="not aligned"):
        d.lag(pd.Series([1.0, 2.0]))


def test_sleep_lags_on_nights():
    d = sp.Diary.from_frame(small(), id="id", day="date", sleep="sleep_quality")
    p1 = d.data["id"] == 1
    # night n-1 for each row of person 1 (rows 02-29 .. 03-05)
    assert d.lag("sleep_quality")[p1].tolist() == pytest.approx([nan, 6, 4, nan, 7, 5], nan_ok=True)


# -------------------------------------------------------------- decomposition
def test_within_between_decomposition():
    d = sp.Diary.from_frame(small(), id="id", day="date")
    pm = d.person_mean("pain")
    np.testing.assert_allclose(pm, [4.5] * 4 + [1.5] * 2)
    np.testing.assert_allclose(d.within("pain"), [-1.5, 0.5, -0.5, 1.5, -0.5, 0.5])
    grand = (4.5 + 1.5) / 2  # grand mean of person means, not of all days
    np.testing.assert_allclose(d.between("pain"), [4.5 - grand] * 4 + [1.5 - grand] * 2)
    dec = d.decompose(["pain", "depression"])
    assert list(dec.columns) == [
        "pain_w",
        "pain_pm",
        "pain_m",
        "depression_w",
        "depression_pm",
        "depression_m",
    ]
    np.testing.assert_allclose(dec["pain_w"] + dec["pain_pm"], d.data["pain"])
    np.testing.assert_allclose(dec["depression_w"], 0.0, atol=1e-12)


def test_detrended_within_removes_a_linear_trend():
    days = np.arange(10)
    df = pd.DataFrame({"id": 1, "day": days, "pain": 2.0 + 0.5 * days + np.tile([1.0, -1.0], 5)})
    d = sp.Diary.from_frame(df, id="id", day="day")
    w = d.within("pain", detrend=True).to_numpy()
    slope = np.polyfit(days, w, 1)[0]
    assert abs(slope) < 1e-12
    np.testing.assert_allclose(
        w,
        np.polyfit(days, df["pain"], 1, full=False)[0] * 0
        + (df["pain"] - np.polyval(np.polyfit(days, df["pain"], 1), days)),
    )
    assert np.isclose(d.decompose("pain", detrend=True)["pain_w"], w).all()


def test_person_mean_uses_all_available_values():
    df = small()
    df.loc[0, "pain"] = nan
    d = sp.Diary.from_frame(df, id="id", day="date")
    np.testing.assert_allclose(d.person_mean("pain")[:4], (5 + 4 + 6) / 3)
    assert np.isnan(d.within("pain")[0])


# -------------------------------------------------------------- lagged frame
def test_lagged_frame_drops_and_counts():
    one_day = pd.DataFrame(
        {"id": [3], "date": ["2024-03-10"], "pain": [2], "sleep_quality": [5], "depression": [0.0]}
    )
    d = sp.Diary.from_frame(
        pd.concat([small(), one_day]), id="id", day="date", sleep="sleep_quality"
    )
    terms = {"pain_next": ("pain", -1), "sleep": ("sleep_quality", 0), "pain": "pain"}
    with pytest.warns(LagCoverageWarning, match="1 of 3 persons") as rec:
        lf = d.lagged_frame(terms)
    assert rec[0].filename == __file__
    assert isinstance(lf, LaggedFrame)
    # complete rows: p1 03-01 (pain 3, night 03-01 = 4, next 5), 03-04 (4, 5, 6);
    # p2 03-02 (1, 9, 2); person 3 has one day: no pair
    assert lf.frame["pain_next"].tolist() == [5, 6, 2]
    assert lf.frame["sleep"].tolist() == [4, 5, 9]
    assert lf.frame["id"].tolist() == [1, 1, 2]
    assert (lf.rows_available, lf.rows_used, lf.persons_used, lf.persons_excluded) == (11, 3, 2, 1)
    # next-day pain missing: p1 03-02, 03-05; p2 03-03; p3 03-10
    assert dict(lf.missing_by_term)["pain_next"] == 4
    assert lf.to_dict()["rows_dropped"] == 8
    assert "pain_next=pain[t+1]" in repr(lf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d.lagged_frame(terms, warn=False)
        d.lagged_frame({"pain": "pain"})  # no lag: no coverage warning
    with pytest.raises(DataStructureError, match="Did you mean 'pain'"):
        d.lagged_frame({"x": ("pian", 1)})
    with pytest.raises(SpecificationError, match="reserved"):
        d.lagged_frame({"day": "pain"})


# ------------------------------------------------------------------ accounting
def test_summary_pairs_and_coverage_by_hand():
    d = sp.Diary.from_frame(small(), id="id", day="date", sleep="sleep_quality")
    acc = d.accounting
    assert isinstance(acc, DiaryAccounting)
    assert acc.pain_column == "pain"
    # canonical rows: p1 02-29..03-05 (6), p2 03-01..03-03 (3)
    assert (acc.persons, acc.person_days, acc.rows_used, acc.nights_added) == (2, 9, 6, 3)
    assert (acc.first_day, acc.last_day) == ("2024-02-29", "2024-03-05")
    assert acc.days_per_person == (3, 4.5, 6)
    # sleep night n & pain day n+1: p1 nights 02-29,03-01,03-03,03-04 ; p2 03-01,03-02
    sp_pair = acc.pair("sleep->pain")
    assert (sp_pair.pairs, sp_pair.persons_with_pairs) == (6, 2)
    # ... with pain on day n too: p1 03-01, 03-04; p2 03-02
    assert sp_pair.pairs_with_ar == 3
    # pain day n & sleep night n: p1 03-01, 03-04; p2 03-02
    ps = acc.pair("pain->sleep")
    assert (ps.pairs, ps.pairs_with_ar) == (3, 3)
    cov = {v.name: v for v in acc.variables}
    assert cov["pain"].observed == 6 and cov["pain"].missing_rows == 3
    assert cov["sleep_quality"].role == "night"
    assert acc.persons_without_consecutive_days == 0
    with pytest.raises(KeyError, match="available"):
        acc.pair("pain->mood")


def test_summary_outputs():
    d = sp.Diary.from_frame(small(), id="id", day="date", sleep="sleep_quality")
    acc = d.accounting_for("pain")
    text = str(acc)
    assert text == acc.to_text()
    assert "sleep->pain (sleep_quality, pain)" in text and "6 pairs" in text
    assert "<table>" in acc._repr_html_()
    assert json.loads(json.dumps(acc.to_dict()))["pairs"][0]["pairs"] == 6
    frame = acc.to_frame()
    assert list(frame.columns) == ["section", "item", "value"]
    assert frame.loc[frame["item"] == "input rows", "value"].item() == 6
    assert d.accounting == acc
    assert d.accounting is d.accounting


def test_summary_without_pain_or_sleep_notes_why_no_pairs():
    d = sp.Diary.from_frame(
        small().rename(columns={"pain": "ache"}), id="id", day="date", sleep="sleep_quality"
    )
    assert d.accounting.pairs == ()
    assert "summary(pain=...)" in d.accounting.notes[0]
    assert d.accounting_for("ache").pair("sleep->pain").pairs == 6
    with pytest.raises(SpecificationError, match="sleep column"):
        d.accounting_for("sleep_quality")


def test_diary_is_immutable():
    d = sp.Diary.from_frame(small(), id="id", day="date")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.sleep = ("pain",)  # type: ignore[misc]
    frame = d.data
    frame.loc[0, "pain"] = 99.0
    assert d.data.loc[0, "pain"] == 3.0
    with pytest.raises(ValueError, match="read-only"):
        d._canon.values["pain"][0] = 1.0
    assert "2 persons" in repr(d) and len(d) == 6


def test_from_csv(tmp_path):
    path = tmp_path / "d.csv"
    small().to_csv(path, index=False)
    d = sp.Diary.from_csv(path, id="id", day="date", sleep="sleep_quality")
    # ids are read as text (012 and 12 stay two persons); otherwise the same diary
    expected = sp.Diary.from_frame(
        small().astype({"id": str}), id="id", day="date", sleep="sleep_quality"
    )
    pd.testing.assert_frame_equal(d.data, expected.data)
    with pytest.raises(InputFileError, match="not found"):
        sp.Diary.from_csv(tmp_path / "nope.csv", id="id", day="date")


def test_more_failure_paths():
    df = prompts()
    with pytest.raises(SpecificationError, match=r"aggregate\['pain'\].*failed"):
        sp.Diary.from_frame(
            df,
            id="id",
            day="day",
            prompt="beep",
            aggregate={"pain": lambda s: list(s), "sleep_quality": "first"},
        )
    with pytest.raises(SpecificationError, match="different columns"):
        sp.Diary.from_frame(df, id="id", day="id")
    with pytest.raises(SpecificationError, match="id, day or prompt column"):
        sp.Diary.from_frame(df, id="id", day="day", sleep="day")
    dup = pd.concat([df, df["pain"]], axis=1)
    with pytest.raises(DataStructureError, match=r"duplicated column names \['pain'\]"):
        sp.Diary.from_frame(dup, id="id", day="day", prompt="beep", aggregate="mean")
    with pytest.raises(DataStructureError, match="levels"):
        sp.Diary.from_frame(
            df.assign(pain="x"),
            id="id",
            day="day",
            prompt="beep",
            aggregate="mean",
            columns=["pain"],
        )


def test_missing_prompt_rows_counted():
    df = prompts().astype({"beep": "Float64"})
    df.loc[0, "beep"] = None
    acc = sp.Diary.from_frame(df, id="id", day="day", prompt="beep", aggregate="mean").accounting
    assert acc.dropped == {
        "missing id": 0,
        "missing day": 0,
        "missing prompt": 1,
        "merged into a person-day (aggregate)": 4,
    }
    assert acc.rows_used == 3


def test_all_rows_dropped_gives_an_empty_diary():
    df = small().assign(id=None)
    d = sp.Diary.from_frame(df, id="id", day="date", sleep="sleep_quality")
    acc = d.accounting
    assert (acc.persons, acc.person_days, acc.dropped["missing id"]) == (0, 0, 6)
    assert "input rows" in acc.to_text()
    assert d.data.empty and d.lag("pain").empty


def test_mixed_type_ids_are_ordered_by_their_text():
    df = pd.DataFrame(
        {"id": pd.Series([2, "a", 2, "a"], dtype=object), "day": [1, 1, 2, 2], "pain": [1, 2, 3, 4]}
    )
    d = sp.Diary.from_frame(df, id="id", day="day")
    assert d.data["id"].tolist() == [2, 2, "a", "a"]
    assert d.lag("pain").tolist() == pytest.approx([nan, 1, nan, 2], nan_ok=True)


def test_days_entered_per_person_count_the_diary_not_the_added_nights() -> None:
    """A 14-day morning diary shows 14 days entered (15 canonical rows with the added night)."""
    rows = [
        {"id": i, "day": d, "pain": (d + i) % 7, "sq": (2 * d + i) % 9}
        for i in range(3)
        for d in range(1, 15)
    ]
    rows += [{"id": 9, "day": d, "pain": 3, "sq": 5} for d in (1, 2)]  # a 2-day person
    d = sp.Diary.from_frame(pd.DataFrame(rows), id="id", day="day", sleep="sq")
    acc = d.accounting
    assert acc.days_entered_per_person == (2, 14.0, 14)
    assert acc.days_per_person == (3, 15.0, 15)  # each first morning rating adds a night
    assert acc.nights_added == 4 and acc.rows_used == 44
    text = d.summary()
    assert "days entered per person (min / median / max)             2 / 14 / 14" in text
    assert "why nights are added" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sp.crosslag(d, pain="pain", random_slopes=False)
    words = res.accounting_text()
    assert "Days entered per person (min / median / max): 2 / 14 / 14." in words
    assert "4 nights without a diary day of their own were added" in words
    assert "these counts overlap" in words
