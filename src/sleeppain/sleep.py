"""Sleep-diary scoring after the Consensus Sleep Diary.

:func:`score_diary` turns the raw fields of a sleep diary (bedtime, lights off, sleep onset
latency, wake after sleep onset, final awakening, out of bed) into the standard derived
parameters, and flags every row it cannot score instead of scoring it silently.

References
----------
Carney CE, Buysse DJ, Ancoli-Israel S, et al. The Consensus Sleep Diary: standardizing
prospective sleep self-monitoring. *Sleep* 2012;35(2):287-302.

Reed DL, Sacco WP. Measuring sleep efficiency: what should the denominator be?
*J Clin Sleep Med* 2016;12(2):263-266.

Examples
--------
>>> import pandas as pd
>>> import sleeppain as sp
>>> night = pd.DataFrame({"bedtime": ["22:00"], "lights_off": ["22:30"], "sol_min": [18],
...                       "waso_min": [30], "final_wake": ["06:30"], "out_of_bed": ["06:45"]})
>>> scored = sp.sleep.score_diary(night)
>>> scored[["tib_min", "tst_min", "se_pct"]].round(1).iloc[0].tolist()
[525.0, 432.0, 82.3]
"""

from __future__ import annotations

import datetime as _dt
import difflib
import itertools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sleeppain.diary._frames import as_pandas
from sleeppain.errors import DataStructureError, SpecificationError

__all__ = [
    "DERIVED_COLUMNS",
    "FLAG_COLUMNS",
    "PLAUSIBILITY_LIMITS",
    "flag_counts",
    "score_diary",
]

DERIVED_COLUMNS: tuple[str, ...] = (
    "tib_min",
    "tst_min",
    "sol_min",
    "waso_min",
    "ema_min",
    "twt_min",
    "se_pct",
    "se_episode_pct",
)
"""Derived columns returned by :func:`score_diary`, in order (all in minutes or percent)."""

FLAG_COLUMNS: tuple[str, ...] = (
    "flag_missing",
    "flag_unparseable_time",
    "flag_unparseable_number",
    "flag_negative_duration",
    "flag_order",
    "flag_implausible_tib",
    "flag_empty_sleep_period",
    "flag_sol_waso_exceed_period",
    "flag_implausible_tst",
)
"""Boolean problem flags returned by :func:`score_diary`, in order."""

_DAY_MIN = 1440.0

PLAUSIBILITY_LIMITS: dict[str, float] = {"max_tib_min": 960.0, "max_tst_min": 840.0}
"""Default plausibility limits of :func:`score_diary` (minutes): a night with 16 h or more
in bed, or more than 14 h of sleep, is flagged and left unscored. Both are arguments of
:func:`score_diary` (e.g. ``max_tib_min=1200`` for long-sleeping patients)."""
# Clock times carry no date. On the wrapped timeline a gap of 12 h or more between bedtime and
# lights off, or between final awakening and getting up, means the two were given out of
# order (lights off 21:50 after bedtime 22:00 wraps to 23 h 50 min), not a real 12-hour wait.
_MAX_CLOCK_GAP_MIN = 720.0

# kinds of a parsed time value
_MISSING, _CLOCK, _NAIVE_TS, _ZONED_TS, _BAD = 0, 1, 2, 3, 4

_CLOCK_RE = re.compile(
    r"^\s*(?P<h>\d{1,2})(?::(?P<m>\d{2})(?::(?P<s>\d{2}(?:\.\d+)?))?)?"
    r"\s*(?:(?P<ap>[ap])\.?\s*m\.?)?\s*$",
    re.IGNORECASE,
)
_EPOCH = pd.Timestamp("1970-01-01")
_ONE_MIN = pd.Timedelta(minutes=1)


@dataclass(frozen=True)
class _ParsedTimes:
    """One time column parsed: kind codes, wall-clock minutes and absolute minutes."""

    kind: np.ndarray  # int8, one of _MISSING, _CLOCK, _NAIVE_TS, _ZONED_TS, _BAD
    clock: np.ndarray  # float, minutes after local midnight (NaN unless clock or timestamp)
    absolute: np.ndarray  # float, minutes since 1970-01-01 (UTC when zoned; NaN unless timestamp)


def _parse_clock_strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse clock strings ('22:30', '22:30:00', '10:30 PM', '10pm').

    Returns (minutes after midnight as float with NaN where not a clock string, ok mask).
    """
    ser = pd.Series(values, dtype=object).astype(str)
    parts = ser.str.extract(_CLOCK_RE)
    hour = pd.to_numeric(parts["h"], errors="coerce").to_numpy(dtype=float)
    minute = pd.to_numeric(parts["m"], errors="coerce").to_numpy(dtype=float)
    second = pd.to_numeric(parts["s"], errors="coerce").to_numpy(dtype=float)
    ampm = parts["ap"].str.lower().to_numpy(dtype=object)
    matched = ~np.isnan(hour)
    has_ampm = np.array([isinstance(a, str) for a in ampm], dtype=bool)
    is_pm = np.array([a == "p" for a in ampm], dtype=bool)
    has_min = ~np.isnan(minute)
    second = np.where(np.isnan(second), 0.0, second)
    minute_f = np.where(has_min, minute, 0.0)
    # 24-hour clock: 0-23 (24:00 is accepted as midnight); minutes are required.
    ok24 = matched & ~has_ampm & has_min & (hour <= 23) & (minute_f < 60) & (second < 60)
    midnight24 = matched & ~has_ampm & has_min & (hour == 24) & (minute_f == 0) & (second == 0)
    # 12-hour clock: 1-12 with am/pm; minutes optional ("10pm").
    ok12 = matched & has_ampm & (hour >= 1) & (hour <= 12) & (minute_f < 60) & (second < 60)
    hour24 = np.where(ok12, np.mod(hour, 12) + np.where(is_pm, 12, 0), hour)
    hour24 = np.where(midnight24, 0.0, hour24)
    ok = ok24 | ok12 | midnight24
    minutes = np.where(ok, hour24 * 60 + minute_f + second / 60, np.nan)
    return minutes, ok


def _timestamp_minutes(ts: pd.Timestamp) -> tuple[int, float, float]:
    """Kind, wall-clock minutes and absolute minutes of one timestamp."""
    clock = ts.hour * 60 + ts.minute + ts.second / 60 + ts.microsecond / 6e7
    if ts.tzinfo is not None:
        absolute = (ts.tz_convert("UTC").tz_localize(None) - _EPOCH) / _ONE_MIN
        return _ZONED_TS, clock, float(absolute)
    return _NAIVE_TS, clock, float((ts - _EPOCH) / _ONE_MIN)


def _parse_scalar(value: object) -> tuple[int, float, float]:
    """Parse one non-string value of an object column (the slow path, per unique value)."""
    if isinstance(value, _dt.datetime):  # includes pd.Timestamp
        return _timestamp_minutes(pd.Timestamp(value))
    if isinstance(value, _dt.time):
        clock = value.hour * 60 + value.minute + value.second / 60 + value.microsecond / 6e7
        return _CLOCK, clock, np.nan
    if isinstance(value, np.datetime64):
        return _timestamp_minutes(pd.Timestamp(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return _MISSING, np.nan, np.nan
        if re.search(r"\d{4}-\d{2}-\d{2}", text):  # an ISO date-time string
            try:
                ts = pd.Timestamp(text)
            except (ValueError, TypeError):
                return _BAD, np.nan, np.nan
            if pd.isna(ts):
                return _MISSING, np.nan, np.nan
            return _timestamp_minutes(ts)
        return _BAD, np.nan, np.nan
    return _BAD, np.nan, np.nan


def _parse_time_column(series: pd.Series, name: str, arg: str) -> _ParsedTimes:
    """Parse a column of clock times or timestamps (mixed forms allowed)."""
    n = len(series)
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        present = series.notna().to_numpy()
        zoned = isinstance(dtype, pd.DatetimeTZDtype)
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if zoned else series
        absolute = ((naive - _EPOCH) / _ONE_MIN).to_numpy(dtype=float, na_value=np.nan)
        clock = (
            series.dt.hour * 60
            + series.dt.minute
            + series.dt.second / 60
            + series.dt.microsecond / 6e7
        ).to_numpy(dtype=float, na_value=np.nan)
        kind = np.where(present, _ZONED_TS if zoned else _NAIVE_TS, _MISSING).astype(np.int8)
        return _ParsedTimes(kind, clock, absolute)
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or (
        (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype))
        and series.notna().any()
    ):
        raise DataStructureError(
            f"score_diary: column {name!r} (argument {arg}=) has dtype {dtype}, but clock "
            "times must be strings such as '22:30', '22:30:00' or '10:30 PM', datetime.time "
            "objects, or timestamps. If it holds hours after midnight (e.g. 22.5), convert "
            "them first, e.g. pd.to_datetime(col * 3600, unit='s').dt.strftime('%H:%M')."
        )
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    m = len(uniq)
    u_kind = np.full(m, _BAD, dtype=np.int8)
    u_clock = np.full(m, np.nan)
    u_abs = np.full(m, np.nan)
    is_str = np.array([isinstance(v, str) for v in uniq], dtype=bool)
    if is_str.any():
        idx = np.flatnonzero(is_str)
        minutes, ok = _parse_clock_strings(uniq[idx])
        u_kind[idx[ok]] = _CLOCK
        u_clock[idx[ok]] = minutes[ok]
        rest = idx[~ok]
    else:
        rest = np.empty(0, dtype=np.intp)
    slow = np.flatnonzero(~is_str)
    is_dt = np.array([isinstance(v, _dt.datetime) for v in uniq[slow]], dtype=bool)
    if is_dt.sum() > 1:  # many timestamps of one zone: vectorised; mixed zones: per value
        dt_idx = slow[is_dt]
        try:
            stamps = pd.Series(pd.DatetimeIndex(list(uniq[dt_idx])))
        except (ValueError, TypeError):
            pass
        else:
            parsed = _parse_time_column(stamps, "", "")
            u_kind[dt_idx], u_clock[dt_idx], u_abs[dt_idx] = (
                parsed.kind,
                parsed.clock,
                parsed.absolute,
            )
            slow = slow[~is_dt]
    for j in np.concatenate([rest, slow]):
        u_kind[j], u_clock[j], u_abs[j] = _parse_scalar(uniq[j])
    if n == 0:
        return _ParsedTimes(np.empty(0, np.int8), np.empty(0), np.empty(0))
    missing = codes < 0
    safe = np.where(missing, 0, codes)
    if m == 0:
        return _ParsedTimes(np.zeros(n, np.int8), np.full(n, np.nan), np.full(n, np.nan))
    kind = np.where(missing, _MISSING, u_kind[safe]).astype(np.int8)
    clock = np.where(missing, np.nan, u_clock[safe])
    absolute = np.where(missing, np.nan, u_abs[safe])
    return _ParsedTimes(kind, clock, absolute)


def _parse_minutes_column(series: pd.Series, name: str, arg: str) -> tuple[np.ndarray, ...]:
    """Parse a duration column in minutes: (values, missing mask, unparseable mask)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype = series.dtype
    if pd.api.types.is_timedelta64_dtype(dtype):
        values = (series / _ONE_MIN).to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(values)
        return values, missing, np.zeros(len(values), dtype=bool)
    if pd.api.types.is_bool_dtype(dtype) or (
        (isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype))
        and series.notna().any()
    ):
        raise DataStructureError(
            f"score_diary: column {name!r} (argument {arg}=) has dtype {dtype}, but it must "
            "hold durations in minutes (numbers such as 15 or numeric strings such as '15'). "
            "Convert it to minutes first."
        )
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(values)
        bad = np.isinf(values)
        return np.where(bad, np.nan, values), missing, bad
    obj = series.astype(object)
    missing = obj.isna().to_numpy()
    stripped = obj.map(lambda v: v.strip() if isinstance(v, str) else v)
    empty = stripped.map(lambda v: isinstance(v, str) and v == "").to_numpy(dtype=bool)
    missing = missing | empty
    values = pd.to_numeric(stripped.where(~empty, None), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    bad = (~missing & np.isnan(values)) | np.isinf(values)
    return np.where(bad, np.nan, values), missing, bad


def _check_columns(df: pd.DataFrame, mapping: dict[str, object]) -> None:
    for arg, col in mapping.items():
        if not isinstance(col, str):
            raise SpecificationError(
                f"score_diary: {arg}= must be a column name (str), got {type(col).__name__} "
                f"{col!r}. Pass the name of the column that holds the {arg} field."
            )
    available = [str(c) for c in df.columns]
    problems = []
    for arg, col in mapping.items():
        if col in df.columns:
            continue
        lower = {c.lower(): c for c in available}
        close = difflib.get_close_matches(col, available, n=3, cutoff=0.5)
        if col.lower() in lower and lower[col.lower()] not in close:
            close.insert(0, lower[col.lower()])
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        problems.append(f"column {col!r} for {arg}= not found{hint}")
    if problems:
        raise DataStructureError(
            "score_diary: "
            + "; ".join(problems)
            + f". The data have columns {available[:20]!r}. Pass the right names, e.g. "
            "score_diary(df, bedtime='bed_time')."
        )


def score_diary(
    df: pd.DataFrame,
    *,
    bedtime: str = "bedtime",
    lights_off: str = "lights_off",
    sol_min: str = "sol_min",
    waso_min: str = "waso_min",
    final_wake: str = "final_wake",
    out_of_bed: str = "out_of_bed",
    max_tib_min: float = PLAUSIBILITY_LIMITS["max_tib_min"],
    max_tst_min: float = PLAUSIBILITY_LIMITS["max_tst_min"],
) -> pd.DataFrame:
    """Score sleep-diary nights after the Consensus Sleep Diary (Carney et al. 2012).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per night (a polars DataFrame or pyarrow Table is converted with its
        ``to_pandas()``).
    bedtime, lights_off, final_wake, out_of_bed : str
        Columns with the clock times "got into bed", "tried to fall asleep" (lights off),
        "final awakening" and "got out of bed". Each value may be a clock string
        (``"22:30"``, ``"22:30:00"``, ``"10:30 PM"``, ``"10:30pm"``, ``"10pm"``), a
        :class:`datetime.time`, a :class:`datetime.datetime` or :class:`pandas.Timestamp`
        (naive or time-zone aware), or an ISO date-time string; forms may be mixed within a
        column. Missing values (None, NaN, NaT, empty strings) are flagged.
    sol_min, waso_min : str
        Columns with sleep onset latency and wake after sleep onset, in minutes (numbers
        or numeric strings; timedeltas are converted to minutes).
    max_tib_min : float
        Time in bed (minutes) from which a night is flagged ``flag_implausible_tib`` and
        left unscored; default 960 (16 h, :data:`PLAUSIBILITY_LIMITS`). It catches clock
        times whose order cannot be told from the clock alone: bed 22:00, final awakening
        20:50, out of bed 21:00 reads as a 23-hour night. At most 1440 (24 h); raise it for
        a population with very long nights.
    max_tst_min : float
        Total sleep time (minutes) above which a night is flagged ``flag_implausible_tst``
        and its sleep values (TST, TWT, SE) are left missing; default 840 (14 h).

    Returns
    -------
    pandas.DataFrame
        Same index as ``df``, with the derived columns (float, NaN when not scorable)

        - ``tib_min``: time in bed, out of bed - bedtime.
        - ``tst_min``: total sleep time, (final wake - lights off) - SOL - WASO.
        - ``sol_min``, ``waso_min``: the reported latencies as scored.
        - ``ema_min``: early morning awakening, out of bed - final wake.
        - ``twt_min``: total wake time, SOL + WASO + EMA (the CSD convention; time in bed
          before lights off is not wake time, so TIB = TST + TWT + (lights off - bedtime)).
        - ``se_pct``: sleep efficiency, TST / TIB x 100.
        - ``se_episode_pct``: sleep efficiency over the sleep episode,
          TST / (final wake - lights off) x 100 (Reed & Sacco 2016).

        and one boolean column per problem (see :data:`FLAG_COLUMNS`)

        - ``flag_missing``: a field is missing.
        - ``flag_unparseable_time``: a clock field could not be read as a time.
        - ``flag_unparseable_number``: SOL or WASO is not a finite number.
        - ``flag_negative_duration``: SOL or WASO is negative.
        - ``flag_order``: the times are out of order (see Notes).
        - ``flag_implausible_tib``: time in bed is zero, or ``max_tib_min`` (16 h) or more.
        - ``flag_empty_sleep_period``: final wake equals lights off (no sleep period).
        - ``flag_sol_waso_exceed_period``: SOL + WASO is longer than the sleep period.
        - ``flag_implausible_tst``: total sleep time above ``max_tst_min`` (14 h).

    Raises
    ------
    DataStructureError
        If ``df`` is not a DataFrame, a named column is absent (the message names it and
        close matches), or a column has a type that cannot hold the field (e.g. numbers in
        a clock column).
    SpecificationError
        If a column argument is not a string, ``max_tib_min`` is not a number of minutes in
        (0, 1440], or ``max_tst_min`` is not a positive number.

    Notes
    -----
    **Crossing midnight.** When a row's four clock fields are all timestamps (all naive, or
    all time-zone aware) the real elapsed time is used, so a night across a daylight-saving
    change given as zoned timestamps has its true length, and a time before its predecessor
    is flagged ``flag_order``. Otherwise (clock strings, ``datetime.time``, or a mixture;
    timestamps then contribute their local wall-clock time) the times are placed on a
    timeline starting at bedtime: lights off, final wake and out of bed are each the first
    occurrence at or after the previous one (wrapping by 24 h). Such a row is flagged
    ``flag_order`` when lights off comes 12 h or more after bedtime, or getting up 12 h or
    more after the final awakening (a time given before its predecessor, e.g. lights off
    21:50 after bedtime 22:00), and ``flag_implausible_tib`` when the night spans
    ``max_tib_min`` (16 h) or more.

    **What is left missing.** Derived values are never computed from a flagged input: the
    clock-based values (``tib_min``, ``ema_min``) need all four times readable, in order and
    a plausible time in bed; ``sol_min`` and ``waso_min`` need a readable non-negative value
    and a night where SOL + WASO fits in the sleep period; ``tst_min``, ``twt_min``,
    ``se_pct`` and ``se_episode_pct`` need all of these, a non-empty sleep period and a
    plausible total sleep time.

    Examples
    --------
    >>> import pandas as pd
    >>> import sleeppain as sp
    >>> nights = pd.DataFrame({
    ...     "bedtime": ["22:00", "1:30 AM", "23:00"],
    ...     "lights_off": ["22:30", "02:00", "23:10"],
    ...     "sol_min": [18, 10, 400],
    ...     "waso_min": [30, 0, 200],
    ...     "final_wake": ["06:30", "9:00am", "07:00"],
    ...     "out_of_bed": ["06:45", "09:15", "07:30"],
    ... })
    >>> scored = sp.sleep.score_diary(nights)
    >>> scored["tst_min"].tolist()
    [432.0, 410.0, nan]
    >>> sp.sleep.flag_counts(scored)["flag_sol_waso_exceed_period"]
    np.int64(1)
    """
    if not isinstance(df, pd.DataFrame) and not callable(getattr(df, "to_pandas", None)):
        raise DataStructureError(
            f"score_diary: expected a pandas DataFrame with one row per night, got "
            f"{type(df).__name__}. Build one, e.g. pd.DataFrame(records)."
        )
    df = as_pandas(df, "score_diary")  # polars / pyarrow tables and pyarrow-backed columns
    time_cols = {
        "bedtime": bedtime,
        "lights_off": lights_off,
        "final_wake": final_wake,
        "out_of_bed": out_of_bed,
    }
    minute_cols = {"sol_min": sol_min, "waso_min": waso_min}
    _check_columns(df, {**time_cols, **minute_cols})
    if (
        isinstance(max_tib_min, bool)
        or not isinstance(max_tib_min, (int, float, np.integer, np.floating))
        or not 0 < max_tib_min <= _DAY_MIN
    ):
        raise SpecificationError(
            f"score_diary: max_tib_min must be a number of minutes in (0, 1440], got "
            f"{max_tib_min!r}. The default is {PLAUSIBILITY_LIMITS['max_tib_min']:g} (16 h)."
        )
    if (
        isinstance(max_tst_min, bool)
        or not isinstance(max_tst_min, (int, float, np.integer, np.floating))
        or not 0 < max_tst_min < np.inf
    ):
        raise SpecificationError(
            f"score_diary: max_tst_min must be a positive number of minutes, got "
            f"{max_tst_min!r}. The default is {PLAUSIBILITY_LIMITS['max_tst_min']:g} (14 h)."
        )

    parsed = {arg: _parse_time_column(df[col], col, arg) for arg, col in time_cols.items()}
    sol, sol_missing, sol_bad = _parse_minutes_column(df[sol_min], sol_min, "sol_min")
    waso, waso_missing, waso_bad = _parse_minutes_column(df[waso_min], waso_min, "waso_min")

    kinds = np.vstack([p.kind for p in parsed.values()])  # (4, n)
    flag_missing = (kinds == _MISSING).any(axis=0) | sol_missing | waso_missing
    flag_bad_time = (kinds == _BAD).any(axis=0)
    flag_bad_number = sol_bad | waso_bad
    times_ok = ~((kinds == _MISSING) | (kinds == _BAD)).any(axis=0)
    flag_negative = (~np.isnan(sol) & (sol < 0)) | (~np.isnan(waso) & (waso < 0))
    sol_ok = ~np.isnan(sol) & (sol >= 0)
    waso_ok = ~np.isnan(waso) & (waso >= 0)

    # Real elapsed time when all four are timestamps of one kind; else wrapped clock time.
    all_naive = (kinds == _NAIVE_TS).all(axis=0)
    all_zoned = (kinds == _ZONED_TS).all(axis=0)
    use_abs = all_naive | all_zoned
    names = ("bedtime", "lights_off", "final_wake", "out_of_bed")
    with np.errstate(invalid="ignore"):
        gaps_abs = [parsed[b].absolute - parsed[a].absolute for a, b in itertools.pairwise(names)]
        gaps_clock = [
            np.mod(parsed[b].clock - parsed[a].clock, _DAY_MIN)
            for a, b in itertools.pairwise(names)
        ]
    gaps = [np.where(use_abs, ga, gc) for ga, gc in zip(gaps_abs, gaps_clock, strict=True)]
    g_bed_lo, g_lo_fw, g_fw_oob = gaps
    with np.errstate(invalid="ignore"):
        order_abs = (g_bed_lo < 0) | (g_lo_fw < 0) | (g_fw_oob < 0)
        order_clock = (g_bed_lo >= _MAX_CLOCK_GAP_MIN) | (g_fw_oob >= _MAX_CLOCK_GAP_MIN)
        flag_order = times_ok & np.where(use_abs, order_abs, order_clock)
        tib = g_bed_lo + g_lo_fw + g_fw_oob
        flag_tib = times_ok & ~flag_order & ((tib <= 0) | (tib >= max_tib_min))
    clock_ok = times_ok & ~flag_order & ~flag_tib
    period = g_lo_fw
    flag_empty = clock_ok & (period == 0)
    durations_ok = clock_ok & sol_ok & waso_ok
    with np.errstate(invalid="ignore"):
        flag_exceed = durations_ok & (sol + waso > period)
    sleep_ok = durations_ok & ~flag_exceed & ~flag_empty
    with np.errstate(invalid="ignore"):
        flag_tst = sleep_ok & (period - sol - waso > max_tst_min)
    sleep_ok &= ~flag_tst

    nan = np.nan
    tst = np.where(sleep_ok, period - sol - waso, nan)
    tib_out = np.where(clock_ok, tib, nan)
    ema = np.where(clock_ok, g_fw_oob, nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(sleep_ok, tst / tib * 100.0, nan)
        se_episode = np.where(sleep_ok, tst / period * 100.0, nan)
    out = pd.DataFrame(
        {
            "tib_min": tib_out,
            "tst_min": tst,
            "sol_min": np.where(sol_ok & ~flag_exceed, sol, nan),
            "waso_min": np.where(waso_ok & ~flag_exceed, waso, nan),
            "ema_min": ema,
            "twt_min": np.where(sleep_ok, sol + waso + g_fw_oob, nan),
            "se_pct": se,
            "se_episode_pct": se_episode,
            "flag_missing": flag_missing,
            "flag_unparseable_time": flag_bad_time,
            "flag_unparseable_number": flag_bad_number,
            "flag_negative_duration": flag_negative,
            "flag_order": flag_order,
            "flag_implausible_tib": flag_tib,
            "flag_empty_sleep_period": flag_empty,
            "flag_sol_waso_exceed_period": flag_exceed,
            "flag_implausible_tst": flag_tst,
        },
        index=df.index,
    )
    return out


def flag_counts(scored: pd.DataFrame) -> pd.Series:
    """Count the rows carrying each problem flag of a :func:`score_diary` result.

    Parameters
    ----------
    scored : pandas.DataFrame
        The output of :func:`score_diary`.

    Returns
    -------
    pandas.Series
        Integer counts indexed by flag name (:data:`FLAG_COLUMNS`), then ``any_flag`` (rows
        with at least one flag) and ``rows`` (all rows).

    Raises
    ------
    DataStructureError
        If ``scored`` lacks the flag columns (it is not a :func:`score_diary` result).

    Examples
    --------
    >>> import pandas as pd
    >>> import sleeppain as sp
    >>> nights = pd.DataFrame({"bedtime": ["22:00", None], "lights_off": ["22:30", "23:00"],
    ...                        "sol_min": [10, 5], "waso_min": [0, 0],
    ...                        "final_wake": ["06:30", "07:00"], "out_of_bed": ["06:45", "07:00"]})
    >>> counts = sp.sleep.flag_counts(sp.sleep.score_diary(nights))
    >>> int(counts["flag_missing"]), int(counts["any_flag"]), int(counts["rows"])
    (1, 1, 2)
    """
    if not isinstance(scored, pd.DataFrame):
        raise DataStructureError(
            f"flag_counts: expected the DataFrame returned by score_diary, got "
            f"{type(scored).__name__}."
        )
    absent = [c for c in FLAG_COLUMNS if c not in scored.columns]
    if absent:
        raise DataStructureError(
            f"flag_counts: the frame lacks the flag columns {absent}; pass the DataFrame "
            "returned by sp.sleep.score_diary(...)."
        )
    flags = scored[list(FLAG_COLUMNS)].to_numpy(dtype=bool)
    counts = dict(zip(FLAG_COLUMNS, flags.sum(axis=0).astype(np.int64), strict=True))
    counts["any_flag"] = np.int64(flags.any(axis=1).sum())
    counts["rows"] = np.int64(len(scored))
    return pd.Series(counts, dtype=np.int64, name="count")
