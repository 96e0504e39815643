"""Property tests (hypothesis): calendar lags, row accounting, row-order invariance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sleeppain as sp
from sleeppain.errors import DataStructureError

# Generated diaries may hold a variable with no value at all; its DataQualityWarning is
# tested in tests/test_bad_input.py, the properties here hold with or without it.
pytestmark = pytest.mark.filterwarnings("ignore::sleeppain.errors.DataQualityWarning")

SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

value = st.one_of(st.integers(0, 10).map(float), st.just(math.nan))


@st.composite
def diaries(draw: st.DrawFn) -> pd.DataFrame:
    """Long diary frames: 1-4 persons, each with a random set of study days in 0..14."""
    rows = []
    for pid in draw(
        st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True)
    ):
        days = draw(st.lists(st.integers(0, 14), min_size=1, max_size=10, unique=True))
        rows += [
            {"id": pid, "day": d, "pain": draw(value), "sleep_quality": draw(value)} for d in days
        ]
    return pd.DataFrame(rows)


def reference_lag(data: pd.DataFrame, col: str, k: int) -> list[float]:
    """Brute force: look up (same id, day - k) in the canonical frame."""
    lookup = {(i, d): v for i, d, v in zip(data["id"], data["day"], data[col], strict=True)}
    return [lookup.get((i, d - k), math.nan) for i, d in zip(data["id"], data["day"], strict=True)]


@SETTINGS
@given(
    df=diaries(),
    k=st.integers(-3, 3),
    timing=st.sampled_from(["previous_night", "following_night"]),
)
def test_lag_matches_calendar_lookup_and_never_crosses_persons(df, k, timing):
    d = sp.Diary.from_frame(df, id="id", day="day", sleep="sleep_quality", sleep_timing=timing)
    data = d.data
    for col in ("pain", "sleep_quality"):
        lag = d.lag(col, k)
        assert lag.index.equals(data.index)
        np.testing.assert_array_equal(lag.to_numpy(), reference_lag(data, col, k))
    # a person's first day has no lag, whatever the previous person's values are
    if k > 0:
        first = data.groupby("id")["day"].transform("min") == data["day"]
        assert d.lag("pain", k)[first].isna().all()


@SETTINGS
@given(df=diaries())
def test_missing_calendar_day_gives_missing_lag(df):
    d = sp.Diary.from_frame(df, id="id", day="day")
    data = d.data
    present = set(zip(data["id"], data["day"], strict=True))
    gap = [(i, t - 1) not in present for i, t in zip(data["id"], data["day"], strict=True)]
    assert d.lag("pain")[gap].isna().all()


@SETTINGS
@given(df=diaries(), k=st.integers(1, 3))
def test_lag_of_lag_equals_lag_two_on_complete_runs(df, k):
    d = sp.Diary.from_frame(df, id="id", day="day", sleep="sleep_quality")
    data = d.data
    present = set(zip(data["id"], data["day"], strict=True))
    keys = list(zip(data["id"], data["day"], strict=True))
    # lag(lag(x, k), 1) on day t is x on day t-1-k when the day t-1 has a row
    run = np.array([(i, t - 1) in present for i, t in keys])
    twice = d.lag(d.lag("pain", k), 1)
    once = d.lag("pain", k + 1)
    np.testing.assert_array_equal(twice[run].to_numpy(), once[run].to_numpy())
    # lead(lag(x, k), k) is x wherever the day t+k has a row
    ahead = np.array([(i, t + k) in present for i, t in keys])
    np.testing.assert_array_equal(d.lead(d.lag("pain", k), k)[ahead], data["pain"][ahead])


@st.composite
def messy(draw: st.DrawFn) -> pd.DataFrame:
    """Prompt-level frames with missing ids, missing days and repeated (id, day) pairs."""
    n = draw(st.integers(0, 30))
    ids = draw(st.lists(st.sampled_from(["p1", "p2", "p3", None]), min_size=n, max_size=n))
    days = draw(st.lists(st.one_of(st.integers(0, 6), st.none()), min_size=n, max_size=n))
    beeps = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    pain = draw(st.lists(value, min_size=n, max_size=n))
    sleep = draw(st.lists(value, min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object),
            "day": pd.Series(days, dtype="Int64"),
            "beep": beeps,
            "pain": pain,
            "sleep_quality": sleep,
        }
    )


@SETTINGS
@given(df=messy(), timing=st.sampled_from(["previous_night", "following_night"]))
def test_row_accounting_adds_up(df, timing):
    kept = df[df["id"].notna() & df["day"].notna()]
    n_person_days = len(kept.drop_duplicates(["id", "day"]))
    d = sp.Diary.from_frame(
        df, id="id", day="day", prompt="beep", aggregate="max",
        sleep="sleep_quality", sleep_timing=timing,
    )  # fmt: skip
    acc = d.accounting
    assert acc.input_rows == len(df)
    assert acc.rows_used + acc.rows_dropped_total == acc.input_rows
    assert acc.dropped["missing id"] == int(df["id"].isna().sum())
    assert acc.dropped["missing day"] == int((df["id"].notna() & df["day"].isna()).sum())
    assert acc.rows_used == n_person_days
    assert acc.person_days == acc.rows_used + acc.nights_added == len(d.data)
    assert acc.persons == kept["id"].nunique()
    for v in acc.variables:
        assert v.observed + v.missing_rows == acc.person_days
        assert v.missing_span >= v.missing_rows
    for p in acc.pairs:
        assert p.pairs_with_ar <= p.pairs
    if n_person_days < len(kept):
        with pytest.raises(DataStructureError, match="duplicated"):
            sp.Diary.from_frame(df, id="id", day="day", prompt="beep")


@SETTINGS
@given(df=diaries(), seed=st.integers(0, 2**16))
def test_results_do_not_depend_on_row_order(df, seed):
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    kw = {"id": "id", "day": "day", "sleep": "sleep_quality"}
    a, b = sp.Diary.from_frame(df, **kw), sp.Diary.from_frame(shuffled, **kw)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.accounting == b.accounting
    pd.testing.assert_frame_equal(
        a.decompose(["pain", "sleep_quality"], detrend=True),
        b.decompose(["pain", "sleep_quality"], detrend=True),
    )
    terms = {"pain_next": ("pain", -1), "sleep": ("sleep_quality", 0)}
    pd.testing.assert_frame_equal(
        a.lagged_frame(terms, warn=False).frame, b.lagged_frame(terms, warn=False).frame
    )
