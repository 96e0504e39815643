"""Numerical core of the diary: pure functions of arrays (no pandas).

Rows are identified by an integer person code ``person`` (0..P-1) and an integer calendar
index ``day``. Within a person each day occurs at most once.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "align_nights",
    "calendar_lag",
    "calendar_lookup",
    "has_consecutive_day",
    "person_means",
    "person_slopes",
    "positions",
    "union_keys",
]


def _keys(person: np.ndarray, day: np.ndarray, dmin: int, width: int) -> np.ndarray:
    return person.astype(np.int64) * width + (day.astype(np.int64) - dmin)


def calendar_lookup(person: np.ndarray, day: np.ndarray, k: int) -> np.ndarray:
    """Row position of the same person's day ``day - k``, or -1 when that day has no row.

    Parameters
    ----------
    person, day : ndarray of int, shape (n,)
        Person code and calendar index of each row; (person, day) pairs must be unique.
    k : int
        Lag in calendar days (negative for a lead).

    Returns
    -------
    ndarray of int64, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> calendar_lookup(np.array([0, 0, 0, 1]), np.array([1, 2, 4, 2]), 1).tolist()
    [-1, 0, -1, -1]
    """
    person = np.asarray(person, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    n = len(day)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return out
    dmin, dmax = int(day.min()), int(day.max())
    width = dmax - dmin + 1
    keys = _keys(person, day, dmin, width)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    target = day - k
    valid = (target >= dmin) & (target <= dmax)
    tkeys = _keys(person[valid], target[valid], dmin, width)
    pos = np.searchsorted(sorted_keys, tkeys)
    pos_clipped = np.minimum(pos, n - 1)
    found = sorted_keys[pos_clipped] == tkeys
    idx = np.flatnonzero(valid)
    out[idx[found]] = order[pos_clipped[found]]
    return out


def calendar_lag(person: np.ndarray, day: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """The same person's value ``k`` calendar days earlier (``k < 0``: later); NaN if absent.

    Never a row shift: a day without a row, or a missing value there, gives NaN, and values
    never cross persons.

    Examples
    --------
    >>> import numpy as np
    >>> calendar_lag(np.array([0, 0, 0]), np.array([1, 2, 4]), np.array([1.0, 2.0, 4.0]), 1)
    array([nan,  1., nan])
    """
    values = np.asarray(values, dtype=np.float64)
    src = calendar_lookup(person, day, k)
    out = np.full(len(values), np.nan)
    hit = src >= 0
    out[hit] = values[src[hit]]
    return out


def has_consecutive_day(person: np.ndarray, day: np.ndarray, n_persons: int) -> np.ndarray:
    """Per person: whether any two of their rows are one calendar day apart."""
    src = calendar_lookup(person, day, 1)
    out = np.zeros(n_persons, dtype=bool)
    out[np.asarray(person)[src >= 0]] = True
    return out


def person_means(person: np.ndarray, values: np.ndarray, n_persons: int) -> np.ndarray:
    """Mean of the non-missing values of each person (NaN for a person with none)."""
    values = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(values)
    counts = np.bincount(person[ok], minlength=n_persons)
    sums = np.bincount(person[ok], weights=values[ok], minlength=n_persons)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def person_slopes(
    person: np.ndarray, day: np.ndarray, values: np.ndarray, n_persons: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-person OLS slope of ``values`` on ``day`` and the mean day of the observed values.

    A person with fewer than two observed values, or all on one day, gets slope 0.
    """
    values = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(values)
    p, t, y = person[ok], day[ok].astype(np.float64), values[ok]
    cnt = np.bincount(p, minlength=n_persons).astype(np.float64)
    safe = np.maximum(cnt, 1.0)
    tbar = np.bincount(p, weights=t, minlength=n_persons) / safe
    ybar = np.bincount(p, weights=y, minlength=n_persons) / safe
    dt = t - tbar[p]
    sxy = np.bincount(p, weights=dt * (y - ybar[p]), minlength=n_persons)
    sxx = np.bincount(p, weights=dt * dt, minlength=n_persons)
    slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
    return slope, tbar


def union_keys(
    person_a: np.ndarray, day_a: np.ndarray, person_b: np.ndarray, day_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique (person, day) pairs present in either of two key sets."""
    person = np.concatenate([person_a, person_b]).astype(np.int64)
    day = np.concatenate([day_a, day_b]).astype(np.int64)
    if len(day) == 0:
        return person, day
    pairs = np.unique(np.stack([person, day], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def positions(
    person: np.ndarray, day: np.ndarray, at_person: np.ndarray, at_day: np.ndarray
) -> np.ndarray:
    """Position of each (at_person, at_day) among the rows (person, day); -1 if absent."""
    n = len(day)
    out = np.full(len(at_day), -1, dtype=np.int64)
    if n == 0 or len(at_day) == 0:
        return out
    dmin = int(min(day.min(), at_day.min()))
    dmax = int(max(day.max(), at_day.max()))
    width = dmax - dmin + 1
    keys = _keys(person, day, dmin, width)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    tk = _keys(at_person, at_day, dmin, width)
    pos = np.minimum(np.searchsorted(sk, tk), n - 1)
    found = sk[pos] == tk
    out[found] = order[pos[found]]
    return out


def align_nights(
    person: np.ndarray,
    day: np.ndarray,
    values: dict[str, np.ndarray],
    night_columns: tuple[str, ...] | list[str],
    shift: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Put day variables on their day and night (sleep) variables on their night.

    Parameters
    ----------
    person, day : ndarray of int, shape (n,)
        Keys of the reports (unique pairs).
    values : dict of ndarray, shape (n,)
        Variables reported on each row.
    night_columns : sequence of str
        Variables describing a night; a report on day d describes night ``d - shift``
        (``shift = 1``: the previous night, ``0``: the following night).
    shift : int

    Returns
    -------
    person, day : ndarray of int64, shape (m,)
        Canonical rows, sorted: every reported day, plus every night with a sleep value.
    values : dict of ndarray of float64, shape (m,)
        Row n holds day-n variables and night-n sleep variables (night after day n).

    Examples
    --------
    >>> import numpy as np
    >>> p, d, v = align_nights(np.array([0, 0]), np.array([5, 6]),
    ...                        {"pain": np.array([1.0, 2.0]), "sq": np.array([7.0, 8.0])},
    ...                        ["sq"], 1)
    >>> d.tolist(), v["pain"].tolist(), v["sq"].tolist()
    ([4, 5, 6], [nan, 1.0, 2.0], [7.0, 8.0, nan])
    """
    person = np.asarray(person, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    has_sleep = np.zeros(len(day), dtype=bool)
    for c in night_columns:
        has_sleep |= ~np.isnan(values[c])
    night_person, night_day = person[has_sleep], day[has_sleep] - shift
    cp, cd = union_keys(person, day, night_person, night_day)
    pos_day = positions(cp, cd, person, day)
    pos_night = positions(cp, cd, night_person, night_day)
    out: dict[str, np.ndarray] = {}
    for c, v in values.items():
        arr = np.full(len(cd), np.nan)
        if c in night_columns:
            arr[pos_night] = np.asarray(v, dtype=np.float64)[has_sleep]
        else:
            arr[pos_day] = v
        out[c] = arr
    return cp, cd, out
