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
    index = arr.astype(np.int64)
    return DayParse(index, "integer", np.zeros(len(index)), "integer study days")


def _from_timestamps(ts: pd.Series, tz: _dt.tzinfo | None) -> DayParse:
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
    stamps = local.to_numpy(dtype="datetime64[ns]")
    days = stamps.astype("datetime64[D]")
    index = (days - _EPOCH).astype(np.int64)
    order = (stamps - days.astype("datetime64[ns]")).astype(np.int64).astype(np.float64)
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
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _from_timestamps(values, tz)
    text = values.astype(str).str.strip()
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
    return _from_timestamps(ts, tz)


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
        return values.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
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
        return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
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
