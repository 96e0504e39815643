"""The Diary on real diaries from ../shared/data (skipped when absent).

Every expected number is recomputed here directly with pandas from the raw file, so the
tests check the container against an independent computation, not against itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError, ScaleWarning

pytestmark = pytest.mark.shared_data

OPENPLAY_LEVELS = ["Very poor", "Poor", "Fair", "Good", "Very good"]
PMSYS_ITEMS = ["fatigue", "mood", "sleep_quality", "soreness", "stress"]  # 1-5, 0 = missing


def _need(path):
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent")
    return path


def test_paindiary_out_of_range_pain_is_reported(shared_data):
    path = _need(shared_data / "paindiary" / "PainDiary.csv")
    raw = pd.read_csv(path, dtype={"Person": str})  # from_csv reads ids as text
    n_out = int(((raw["Pain"] < 0) | (raw["Pain"] > 10)).sum())
    assert n_out > 0  # the course imputed missing entries, some beyond the scale
    with pytest.warns(ScaleWarning, match=f"{n_out} values of 'Pain' lie outside"):
        d = sp.Diary.from_csv(
            path, id="Person", day="Day", scales={"Pain": (0, 10)}, sleep="SleepQual"
        )
    acc = d.accounting
    assert acc.out_of_range[0].count == n_out
    assert (acc.input_rows, acc.rows_used, acc.persons) == (
        len(raw),
        len(raw),
        raw["Person"].nunique(),
    )
    assert acc.pain_column == "Pain"
    # morning convention: SleepQual of day d is stored on night d - 1
    row = raw.iloc[0]
    on = d.data[(d.data["id"] == row["Person"]) & (d.data["day"] == row["Day"] - 1)]
    assert on["SleepQual"].item() == row["SleepQual"]
    # set_missing: exactly those values disappear
    m = sp.Diary.from_csv(
        path, id="Person", day="Day", scales={"Pain": (0, 10)}, out_of_range="set_missing"
    )
    assert m.accounting.values_set_missing == (("Pain", "outside scale", n_out),)
    assert int(m.data["Pain"].notna().sum()) == int(raw["Pain"].notna().sum()) - n_out
    # sleep -> next-day pain pairs, counted directly: SleepQual on day d+1 (night d) and
    # Pain on day d+1 come from the same row; with the AR control Pain on day d is needed
    both = raw.dropna(subset=["SleepQual", "Pain"])
    keys = set(
        zip(raw.dropna(subset=["Pain"])["Person"], raw.dropna(subset=["Pain"])["Day"], strict=True)
    )
    ar = sum((p, t - 1) in keys for p, t in zip(both["Person"], both["Day"], strict=True))
    pair = acc.pair("sleep->pain")
    assert (pair.pairs, pair.pairs_with_ar) == (len(both), ar)


def test_aces_three_prompts_to_days_and_sleep_onset_to_previous_night(shared_data):
    path = _need(shared_data / "aces_daily" / "aces_daily.csv")
    raw = pd.read_csv(path, dtype={"UserID": str})  # from_csv reads ids as text
    d = sp.Diary.from_csv(
        path,
        id="UserID",
        day="SurveyDay",
        prompt="SurveyInteger",
        aggregate={"STRESS": "mean", "SOLs": "first"},
        columns=["STRESS", "SOLs"],
        sleep="SOLs",
        sleep_timing="previous_night",
    )
    data = d.data.assign(date=lambda f: f["day_label"].dt.strftime("%Y-%m-%d"))
    days = raw.groupby(["UserID", "SurveyDay"])
    acc = d.accounting_for("STRESS")
    assert acc.input_rows == len(raw)
    assert acc.rows_used == days.ngroups
    assert acc.dropped["merged into a person-day (aggregate)"] == len(raw) - days.ngroups
    # STRESS: mean of the day's prompts
    stress = days["STRESS"].mean().dropna()
    got = data.set_index(["id", "date"])["STRESS"]
    np.testing.assert_allclose(got.loc[stress.index].to_numpy(), stress.to_numpy(), rtol=1e-12)
    # SOLs (morning prompt): the first non-missing value in prompt order, on the night before
    sol = (
        raw.dropna(subset=["SOLs"])
        .sort_values("SurveyInteger")
        .groupby(["UserID", "SurveyDay"])["SOLs"]
        .first()
    )
    assert sol.size > 1000
    night = pd.to_datetime(sol.index.get_level_values(1)) - pd.Timedelta(days=1)
    night_keys = list(zip(sol.index.get_level_values(0), night.strftime("%Y-%m-%d"), strict=True))
    np.testing.assert_array_equal(
        got_sol := data.set_index(["id", "date"])["SOLs"].loc[night_keys].to_numpy(), sol.to_numpy()
    )
    assert len(got_sol) == int(data["SOLs"].notna().sum())
    prompts = d.prompts
    assert prompts is not None and len(prompts) == len(raw)


def test_openplay_labelled_sleep_quality(shared_data):
    path = _need(shared_data / "openplay" / "survey_daily.csv.gz")
    raw = pd.read_csv(path)
    kw = {
        "id": "pid",
        "sleep": "sleep_diary_quality",
        "columns": ["sleep_diary_quality", "affective_valence"],
    }
    # UTC timestamps put some surveys of US evenings on the next UTC date: one report a day
    # holds in study days (wave), not in UTC dates
    with pytest.raises(DataStructureError, match=r"duplicated \(pid, date\) pairs"):
        sp.Diary.from_frame(raw, day="date", levels={"sleep_diary_quality": OPENPLAY_LEVELS}, **kw)
    with pytest.raises(DataStructureError, match=r"not among its levels: 'Fair' \("):
        sp.Diary.from_frame(
            raw,
            day="wave",
            levels={"sleep_diary_quality": ["Very poor", "Poor", "Good", "Very good"]},
            **kw,
        )
    d = sp.Diary.from_frame(raw, day="wave", levels={"sleep_diary_quality": OPENPLAY_LEVELS}, **kw)
    counts = raw["sleep_diary_quality"].value_counts()
    got = d.data["sleep_diary_quality"].value_counts()
    for code, label in enumerate(OPENPLAY_LEVELS, start=1):
        assert got[float(code)] == counts[label]
    acc = d.accounting_for("affective_valence")
    assert (acc.persons, acc.rows_used) == (raw["pid"].nunique(), len(raw))
    # last night's sleep (wave w) sits on night w - 1, the evening before the same-day mood
    both = raw.dropna(subset=["sleep_diary_quality", "affective_valence"])
    assert acc.pair("sleep->pain").pairs == len(both)


def test_pmdata_wellness_oslo_days_duplicates_and_zero_codes(shared_data):
    files = sorted((shared_data / "pmdata" / "raw").glob("p*/pmsys/wellness.csv"))
    if not files:
        pytest.skip("real data not available: pmdata/raw/pNN/pmsys/wellness.csv are absent")
    raw = pd.concat([pd.read_csv(f).assign(person=f.parts[-3]) for f in files], ignore_index=True)
    # The athletes are Norwegian: UTC timestamps are read as Oslo calendar days.
    kw = {
        "id": "person",
        "day": "effective_time_frame",
        "tz": "Europe/Oslo",
        "sleep": ["sleep_quality", "sleep_duration_h"],
    }
    oslo_day = (
        pd.to_datetime(raw["effective_time_frame"], utc=True)
        .dt.tz_convert("Europe/Oslo")
        .dt.strftime("%Y-%m-%d")
    )
    n_person_days = len(set(zip(raw["person"], oslo_day, strict=True)))
    assert n_person_days < len(raw)
    with pytest.raises(
        DataStructureError,
        match=r"duplicated \(person, effective_time_frame\) pairs.*Pass aggregate=",
    ):
        sp.Diary.from_frame(raw, **kw)
    d = sp.Diary.from_frame(
        raw, aggregate="mean", missing_values={c: [0] for c in PMSYS_ITEMS}, **kw
    )
    acc = d.accounting_for("soreness")
    assert (acc.persons, acc.input_rows, acc.rows_used) == (len(files), len(raw), n_person_days)
    assert acc.dropped["merged into a person-day (aggregate)"] == len(raw) - n_person_days
    zeros = {c: int((raw[c] == 0).sum()) for c in PMSYS_ITEMS}
    assert {v: n for v, _, n in acc.values_set_missing} == {c: n for c, n in zeros.items() if n}
    assert "Europe/Oslo" in acc.day_description
    for c in PMSYS_ITEMS:
        assert d.data[c].min() >= 1
