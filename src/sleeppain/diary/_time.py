"""Calendar time for diaries: day labels -> integer calendar index, prompt order.

A diary's ``day`` column may hold integer study days, dates (as dates or ISO strings) or
timestamps. Each becomes an integer *calendar index* so that a lag is one calendar step:

* integer study days keep their value (day 0 -> 0, day 7 -> 7);
* dates become days since 1970-01-01;
* timestamps become the local calendar date, then days since 1970-01-01. A zoned timestamp
  is converted to ``tz`` when given (else kept in its own zone); a timestamp without a zone
  is taken as local time already.

Everything here is array-in, array-out; pandas only parses.
"""

from __future__ import annotations

import datetime as _dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sleeppain.diary._fmt import show
from sleeppain.errors import DataStructureError, SpecificationError

__all__ = ["DayParse", "day_labels", "format_day", "parse_days", "parse_prompt", "resolve_tz"]

DayKind = Literal["integer", "date"]

_INT_RE = re.compile(r"^[+-]?\d+$")
_ZONE_RE = re.compile(r"(?:Z|[+-]\d\d(?::?\d\d)?)$")
_EPOCH = np.datetime64("1970-01-01", "D")
_FIRST_DAY = int((np.datetime64("0001-01-01", "D") - _EPOCH).astype(np.int64))
_LAST_DAY = int((np.datetime64("9999-12-31", "D") - _EPOCH).astype(np.int64))
_FAR_YEAR_RE = re.compile(r"^[+-]?\d{5,}-\d\d-\d\d")

#: Largest absolute integer study day accepted (about 2,700 years): larger values are data
#: errors (or dates written as YYYYMMDD numbers, whose "lags" would cross month ends).
MAX_STUDY_DAY = 1_000_000


@dataclass(frozen=True)
class DayParse:
    """Parsed day column.

    Attributes
    ----------
    index : ndarray of int64, shape (n,)
        Calendar index per row (integer study day, or days since 1970-01-01).
    kind : {"integer", "date"}
        Whether labels are integer study days or calendar dates.
    order : ndarray of float64, shape (n,)
        Within-day ordering key (nanoseconds since midnight for timestamps, else 0).
    description : str
        How the column was read, for the accounting.
    """

    index: np.ndarray
    kind: DayKind
    order: np.ndarray
    description: str


def resolve_tz(tz: str | _dt.tzinfo | None) -> _dt.tzinfo | None:
    """Validate a time-zone argument (IANA name or tzinfo)."""
    if tz is None or isinstance(tz, _dt.tzinfo):
        return tz
    if not isinstance(tz, str):
        raise SpecificationError(
            f"tz={tz!r} is not a time zone. Pass an IANA name such as tz='Europe/Oslo'."
        )
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SpecificationError(
            f"tz={tz!r} is not a known IANA time zone. Pass a name such as "
            "tz='Europe/Oslo' or tz='America/New_York'."
        ) from None


def _bad_example(values: pd.Series, bad: np.ndarray) -> str:
    pos = int(np.flatnonzero(bad)[0])
    return f"{show(values.iloc[pos])} in row {show(values.index[pos])}"


def _from_integers(arr: np.ndarray, values: pd.Series, column: str) -> DayParse:
    bad = ~np.isfinite(arr) | (arr != np.round(arr))
    if bad.any():
        raise DataStructureError(
            f"day column {column!r} has {int(bad.sum())} non-integer values, e.g. "
            f"{_bad_example(values, bad)}. Study days must be whole numbers; pass dates "
            "or timestamps, or round the column."
        )
    huge = np.abs(arr) > MAX_STUDY_DAY
    if huge.any():
        dates = (arr >= 1e7) & (arr < 1e8)
        hint = (
            " If they are dates written as YYYYMMDD, convert them first: "
            f"pd.to_datetime(df[{column!r}].astype(str), format='%Y%m%d')."
            if bool(dates[huge].all())
            else ""
        )
        raise DataStructureError(
            f"day column {column!r} has {int(huge.sum())} study days beyond +/-{MAX_STUDY_DAY:,} "
            f"(about 2,700 years), e.g. {_bad_example(values, huge)}. Study days count days "
            f"from the start of the study; correct these values.{hint}"
        )
    index = arr.astype(np.int64)
    return DayParse(index, "integer", np.zeros(len(index)), "integer study days")


def _check_years(days: np.ndarray, values: pd.Series, column: str) -> None:
    """Refuse calendar days outside the years 1-9999 (they cannot be shown as dates)."""
    bad = (days < _FIRST_DAY) | (days > _LAST_DAY)
    if bad.any():
        raise DataStructureError(
            f"day column {column!r} has {int(bad.sum())} dates outside the years 1-9999, e.g. "
            f"{_bad_example(values, bad)}. Correct the year."
        )


def _from_timestamps(
    ts: pd.Series, tz: _dt.tzinfo | None, values: pd.Series | None = None, column: str = "day"
) -> DayParse:
    zone = ts.dt.tz
    if zone is not None:
        if tz is not None:
            ts = ts.dt.tz_convert(tz)
            desc = f"timestamps ({zone}) converted to {tz} calendar days"
        else:
            desc = f"timestamps ({zone}) as calendar days in {zone}; pass tz= for local days"
        local = ts.dt.tz_localize(None)
    else:
        local = ts
        desc = "dates" if bool((local == local.dt.normalize()).all()) else "local timestamps"
    # keep the column's own resolution (s, ms, us or ns): converting a date such as
    # 1066-10-14 to nanoseconds would wrap around silently
    stamps = local.to_numpy()
    days = stamps.astype("datetime64[D]")
    index = (days - _EPOCH).astype(np.int64)
    _check_years(index, ts if values is None else values, column)
    within = (stamps - days.astype(stamps.dtype)).astype("timedelta64[ns]")
    order = within.astype(np.int64).astype(np.float64)
    return DayParse(index, "date", order, desc)


def parse_days(values: pd.Series, column: str, tz: _dt.tzinfo | None = None) -> DayParse:
    """Parse a non-missing day column into a calendar index.

    Parameters
    ----------
    values : Series
        The day column with missing values already removed.
    column : str
        Its name, for messages.
    tz : tzinfo, optional
        Zone in which zoned timestamps are read as calendar days.

    Returns
    -------
    DayParse

    Examples
    --------
    >>> import pandas as pd
    >>> parse_days(pd.Series(["2024-03-01", "2024-03-03"]), "date").index.tolist()
    [19783, 19785]
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataStructureError(
            f"day column {column!r} holds true/false values. Pass integer study days, "
            "dates or timestamps."
        )
    if pd.api.types.is_numeric_dtype(values.dtype):
        return _from_integers(values.to_numpy(dtype=np.float64), values, column)
    if isinstance(values.dtype, pd.ArrowDtype):
        from sleeppain.diary._frames import as_pandas

        values = as_pandas(values.to_frame(), "parse_days").iloc[:, 0]
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _from_timestamps(values, tz, values, column)
    text = values.astype(str).str.strip()
    far = text.str.match(_FAR_YEAR_RE).to_numpy(dtype=bool, na_value=False)
    if far.any():
        raise DataStructureError(
            f"day column {column!r} has {int(far.sum())} dates with a year beyond 9999, e.g. "
            f"{_bad_example(values, far)}. Correct the year."
        )
    if bool(text.str.match(_INT_RE).all()):
        return _from_integers(text.astype(np.float64).to_numpy(), values, column)
    try:
        ts = pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError) as exc:
        if "timezone" in str(exc).lower() or "utc=true" in str(exc).lower():
            zoned = text.str.contains(_ZONE_RE)
            if bool(zoned.all()):
                ts = pd.to_datetime(text, format="ISO8601", utc=True)
            else:
                raise DataStructureError(
                    f"day column {column!r} mixes timestamps with and without a time zone, "
                    f"e.g. {_bad_example(values, ~zoned.to_numpy())} has none. Give every "
                    "timestamp a zone (e.g. 'Z' for UTC) or none."
                ) from None
        else:
            coerced = pd.to_datetime(text, format="ISO8601", errors="coerce")
            bad = coerced.isna().to_numpy()
            if not bad.any():  # pragma: no cover - parse failed for a reason we cannot locate
                raise DataStructureError(f"day column {column!r} cannot be read: {exc}") from None
            raise DataStructureError(
                f"day column {column!r} has {int(bad.sum())} values that are neither integer "
                f"study days nor ISO dates/timestamps, e.g. {_bad_example(values, bad)}. "
                "Write dates as YYYY-MM-DD (or convert the column with pd.to_datetime "
                "and its format= argument) before building the diary."
            ) from None
    return _from_timestamps(ts, tz, values, column)


def parse_prompt(values: pd.Series, column: str) -> np.ndarray:
    """Ordering key for a prompt column (beep number, clock time or timestamp).

    Numbers order as numbers; ``"HH:MM[:SS]"`` clock times and timestamps order in time.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_prompt(pd.Series(["08:30", "21:00", "13:15"]), "time").argsort().tolist()
    [0, 2, 1]
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        # seconds keep any year 1-9999 (nanoseconds would wrap outside 1677-2262)
        return values.to_numpy().astype("datetime64[s]").astype(np.int64).astype(np.float64)
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        return values.to_numpy(dtype="timedelta64[ns]").astype(np.int64).astype(np.float64)
    text = values.astype(str).str.strip()
    num = pd.to_numeric(text, errors="coerce")
    if not num.isna().any():
        return num.to_numpy(dtype=np.float64)
    clock = text.where(~text.str.match(r"^\d{1,2}:\d\d$"), text + ":00")
    td = pd.to_timedelta(clock, errors="coerce")
    if not td.isna().any():
        return td.to_numpy(dtype="timedelta64[ns]").astype(np.int64).astype(np.float64)
    ts = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if not ts.isna().any():
        return ts.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64) * 1.0
    bad = (num.isna() & td.isna() & ts.isna()).to_numpy()
    raise DataStructureError(
        f"prompt column {column!r} has {int(bad.sum())} values that are neither numbers "
        f"(beep 1, 2, ...), clock times (HH:MM) nor timestamps, e.g. "
        f"{_bad_example(values, bad)}. Recode the prompts as beep numbers."
    )


def day_labels(index: np.ndarray, kind: DayKind) -> pd.Series | np.ndarray:
    """Display labels for calendar indices: the integer itself or the date."""
    if kind == "integer":
        return np.asarray(index, dtype=np.int64)
    return (_EPOCH + np.asarray(index, dtype=np.int64)).astype("datetime64[s]")


def format_day(index: int, kind: DayKind) -> str:
    """One calendar index as text: ``day 5`` or ``2024-03-02``."""
    if kind == "integer":
        return f"day {int(index)}"
    return str(_EPOCH + np.int64(index))
