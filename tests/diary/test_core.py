"""The diary's numerical core (pure functions of arrays)."""

from __future__ import annotations

import numpy as np

from sleeppain.diary import _core

nan = np.nan


def test_calendar_lookup_and_lag():
    person = np.array([1, 0, 0, 0, 1])
    day = np.array([3, 5, 2, 3, 4])
    assert _core.calendar_lookup(person, day, 1).tolist() == [-1, -1, -1, 2, 0]
    assert _core.calendar_lookup(person, day, -1).tolist() == [4, -1, 3, -1, -1]
    assert _core.calendar_lookup(person, day, 100).tolist() == [-1] * 5
    vals = np.array([10.0, 20.0, 30.0, nan, 50.0])
    np.testing.assert_array_equal(
        _core.calendar_lag(person, day, vals, 1), [nan, nan, nan, 30.0, 10.0]
    )
    assert _core.calendar_lookup(np.array([], dtype=int), np.array([], dtype=int), 1).size == 0


def test_align_nights_previous_and_following():
    person, day = np.array([0, 0, 1]), np.array([1, 3, 1])
    vals = {"pain": np.array([1.0, 3.0, 5.0]), "sq": np.array([7.0, nan, 9.0])}
    p, d, v = _core.align_nights(person, day, vals, ["sq"], 1)
    assert list(zip(p.tolist(), d.tolist(), strict=True)) == [
        (0, 0),
        (0, 1),
        (0, 3),
        (1, 0),
        (1, 1),
    ]
    np.testing.assert_array_equal(v["pain"], [nan, 1, 3, nan, 5])
    np.testing.assert_array_equal(v["sq"], [7, nan, nan, 9, nan])
    p, d, v = _core.align_nights(person, day, vals, ["sq"], 0)
    assert d.tolist() == [1, 3, 1]
    np.testing.assert_array_equal(v["sq"], vals["sq"])


def test_person_means_and_slopes():
    person = np.array([0, 0, 0, 1, 2])
    day = np.array([0, 1, 2, 5, 5])
    y = np.array([1.0, 3.0, 5.0, 4.0, nan])
    np.testing.assert_array_equal(_core.person_means(person, y, 3), [3.0, 4.0, nan])
    slope, tbar = _core.person_slopes(person, day, y, 3)
    np.testing.assert_allclose(slope, [2.0, 0.0, 0.0])  # one value or none: no trend
    np.testing.assert_allclose(tbar[:2], [1.0, 5.0])


def test_has_consecutive_day():
    person = np.array([0, 0, 1, 1, 2])
    day = np.array([1, 3, 4, 5, 9])
    assert _core.has_consecutive_day(person, day, 3).tolist() == [False, True, False]
