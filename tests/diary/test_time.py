"""Day parsing: integer study days, dates, timestamps and time zones."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sleeppain.diary import _time
from sleeppain.errors import DataStructureError, SpecificationError

EPOCH = dt.date(1970, 1, 1)


def _days(*dates: str) -> list[int]:
    return [(dt.date.fromisoformat(d) - EPOCH).days for d in dates]


def test_integer_days_keep_their_value():
    p = _time.parse_days(pd.Series([0, 3, -2, 7]), "Day")
    assert p.kind == "integer"
    assert p.index.tolist() == [0, 3, -2, 7]


def test_integer_strings_and_integer_floats_are_study_days():
    assert _time.parse_days(pd.Series(["1", " 2", "10"]), "d").index.tolist() == [1, 2, 10]
    assert _time.parse_days(pd.Series([1.0, 2.0]), "d").index.tolist() == [1, 2]


def test_non_integer_study_day_raises_with_example():
    with pytest.raises(DataStructureError, match=r"1 non-integer values, e\.g\. 2\.5 in row 1"):
        _time.parse_days(pd.Series([1.0, 2.5]), "Day")


def test_iso_date_strings_and_date_objects():
    p = _time.parse_days(pd.Series(["2024-03-01", "2024-02-28"]), "date")
    assert p.kind == "date"
    assert p.index.tolist() == _days("2024-03-01", "2024-02-28")
    obj = pd.Series([dt.date(2024, 3, 1), dt.date(2023, 12, 31)], dtype=object)
    assert _time.parse_days(obj, "date").index.tolist() == _days("2024-03-01", "2023-12-31")


def test_bad_date_string_raises_with_count_and_row():
    s = pd.Series(["2024-03-01", "yesterday", "2024-13-45"], index=[10, 11, 12])
    with pytest.raises(DataStructureError, match=r"2 values .* e\.g\. 'yesterday' in row 11"):
        _time.parse_days(s, "date")


def test_naive_timestamps_are_local_days_whatever_tz():
    s = pd.Series(pd.to_datetime(["2024-03-01 23:30", "2024-03-02 00:10"]))
    for tz in (None, _time.resolve_tz("Asia/Tokyo")):
        p = _time.parse_days(s, "t", tz)
        assert p.index.tolist() == _days("2024-03-01", "2024-03-02")
    assert p.order.tolist() == [(23 * 60 + 30) * 60e9, 10 * 60e9]


def test_zoned_timestamps_converted_to_tz():
    s = pd.Series(["2019-11-01T23:30:00Z", "2019-11-02T05:00:00Z"])
    utc = _time.parse_days(s, "t")
    assert utc.index.tolist() == _days("2019-11-01", "2019-11-02")
    oslo = _time.parse_days(s, "t", _time.resolve_tz("Europe/Oslo"))  # UTC+1 in November
    assert oslo.index.tolist() == _days("2019-11-02", "2019-11-02")
    ny = _time.parse_days(s, "t", _time.resolve_tz("America/New_York"))  # UTC-4 on Nov 1
    assert ny.index.tolist() == _days("2019-11-01", "2019-11-02")
    assert "Europe/Oslo" in oslo.description


def test_mixed_offsets_read_in_utc_then_tz():
    s = pd.Series(["2024-06-01T23:30:00+02:00", "2024-06-01T23:30:00-05:00"])
    p = _time.parse_days(s, "t", _time.resolve_tz("UTC"))
    assert p.index.tolist() == _days("2024-06-01", "2024-06-02")


def test_mixing_zoned_and_naive_timestamps_raises():
    s = pd.Series(["2024-06-01T10:00:00Z", "2024-06-01T10:00:00"])
    with pytest.raises(DataStructureError, match="with and without a time zone"):
        _time.parse_days(s, "t")


def test_unknown_time_zone_raises():
    with pytest.raises(SpecificationError, match="not a known IANA time zone"):
        _time.resolve_tz("Europe/Atlantis")


def test_bool_day_column_raises():
    with pytest.raises(DataStructureError, match="true/false"):
        _time.parse_days(pd.Series([True, False]), "d")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([3, 1, 2], [1, 2, 0]),
        (["21:00", "08:30", "13:15:10"], [1, 2, 0]),
        (["2024-01-01T20:00", "2024-01-01T08:00", "2024-01-01T12:00"], [1, 2, 0]),
    ],
)
def test_prompt_order(values, expected):
    assert np.argsort(_time.parse_prompt(pd.Series(values), "p")).tolist() == expected


def test_bad_prompt_raises():
    with pytest.raises(DataStructureError, match="prompt column 'p' has 1 values"):
        _time.parse_prompt(pd.Series(["1", "morning"]), "p")


def test_labels_round_trip():
    idx = np.array(_days("2024-02-29", "1969-12-31"))
    assert _time.format_day(int(idx[0]), "date") == "2024-02-29"
    assert [str(x)[:10] for x in _time.day_labels(idx, "date")] == ["2024-02-29", "1969-12-31"]
    assert _time.format_day(5, "integer") == "day 5"
