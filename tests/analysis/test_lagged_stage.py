"""The one lagged-frame stage (sleeppain.diary._lagged.lagged_frame) behind crosslag."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import sleeppain as sp
from sleeppain.analysis._frames import FrameOptions, build_frames
from sleeppain.diary._lagged import lagged_frame
from sleeppain.errors import DataQualityWarning


@st.composite
def diaries(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 5))
    rows = []
    for pid in range(n):
        days = draw(st.lists(st.integers(0, 9), min_size=1, max_size=8, unique=True))
        for d in days:
            pain = draw(st.one_of(st.none(), st.integers(0, 10)))
            sq = draw(st.one_of(st.none(), st.integers(0, 10)))
            rows.append({"id": pid, "day": d, "pain": pain, "sq": sq})
    return pd.DataFrame(rows).astype({"pain": float, "sq": float})


@settings(max_examples=40, deadline=None)
@given(diaries())
def test_stage_equals_the_diary_method_and_never_crosses_persons(df: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # an all-missing column is fine
        d = sp.Diary.from_frame(df, id="id", day="day", sleep="sq")
    terms = {"pain_next": ("pain", -1), "sq": ("sq", 0), "pain_prev": ("pain", 1)}
    ours = lagged_frame(d, terms)
    theirs = d.lagged_frame(terms, warn=False)
    pd.testing.assert_frame_equal(ours.frame, theirs.frame)
    assert ours.missing_by_term == theirs.missing_by_term
    # a Series term with a lag is the same as the column with that lag
    series = lagged_frame(d, {**terms, "pain_prev": (d.data["pain"], 1)})
    np.testing.assert_array_equal(series.frame["pain_prev"], ours.frame["pain_prev"])
    # every kept value is the same person's value on the named calendar day
    raw = d.data.set_index(["id", "day"])
    for (pid, day), row in ours.frame.set_index(["id", "day"]).iterrows():
        assert row["pain_next"] == raw.loc[(pid, day + 1), "pain"]
        assert row["pain_prev"] == raw.loc[(pid, day - 1), "pain"]
    # accounting: rows used plus dropped is the canonical frame; per-term counts overlap
    assert ours.rows_used + ours.rows_dropped == len(d.data)
    assert sum(n for _, n in ours.missing_by_term) >= ours.rows_dropped


def test_crosslag_frames_come_from_the_stage() -> None:
    sim = sp.simulate.diary(30, 10, seed=4)
    d = sp.Diary.from_frame(sim.data, id="id", day="day", sleep="sleep_quality")
    main, _ = build_frames(d, "sleep_quality", "pain", FrameOptions())
    mf = main["sleep->pain"]
    lf = lagged_frame(
        d,
        {
            "pain_next": ("pain", -1),
            "sleep_w": (d.within("sleep_quality"), 0),
            "pain_w": (d.within("pain"), 0),
            "sleep_m": (d.between("sleep_quality"), 0),
        },
    )
    pd.testing.assert_frame_equal(
        mf.frame[["id", "day", "pain_next", "sleep_w", "pain_w", "sleep_m"]],
        lf.frame[["id", "day", "pain_next", "sleep_w", "pain_w", "sleep_m"]].reset_index(drop=True),
    )
    acc = mf.accounting
    assert (acc.rows_available, acc.rows_used) == (lf.rows_available, lf.rows_used)
    assert [n for _, n in acc.missing_by_term] == [n for _, n in lf.missing_by_term]
    assert acc.glance()["rows_dropped"].iloc[0] == lf.rows_dropped
