"""Turn a daily diary into a few-wave panel (block means)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import DataQualityWarning, SpecificationError

__all__ = ["diary_waves"]


def diary_waves(
    diary: Any,
    days: int = 7,
    *,
    variables: str | Sequence[str] | None = None,
    start: str = "study",
    min_days: int = 1,
    n_waves: int | None = None,
) -> pd.DataFrame:
    """Block means of a :class:`~sleeppain.Diary`: one row per person and wave.

    Wave ``w`` (1, 2, ...) holds the calendar days ``[start + (w-1) days, start + w days)``,
    counted from the first day with any report. Values are taken on the day they were
    entered: a morning sleep rating (``sleep_timing="previous_night"``), which the Diary
    stores on the night before, counts on its report day, so the night the Diary adds
    before the first diary day does not open a block of its own. A variable's block value
    is the mean of its observed days there, or missing when fewer than ``min_days`` days
    were observed. The result is long data for
    ``sp.riclpm(waves, x=..., y=..., id="id", wave="wave")``.

    Parameters
    ----------
    diary : Diary
    days : int
        Block length in calendar days (7 = weekly means).
    variables : str or list of str, optional
        Variables to aggregate (default: all of the diary's variables).
    start : {"study", "person"}
        Blocks counted from the first reported day of the whole diary (``"study"``, for a
        common calendar) or from each person's own first reported day (``"person"``).
    min_days : int
        Observed days a block needs for its mean to count.
    n_waves : int, optional
        Keep only the first ``n_waves`` waves.

    Returns
    -------
    DataFrame
        ``id, wave, first_day`` (integer calendar day of the block's start),
        ``first_label`` (that day as the diary shows days: a date for a date diary), ``days``
        (days of the block with a report) and one column per variable plus
        ``n_<variable>`` (days observed). Every person-block with at least one observed
        value appears; absent blocks have no row.

    Warns
    -----
    DataQualityWarning
        The last block has fewer than ``min_days`` observed days of a variable for every
        person (a short final block), so its means are missing; ``n_waves=`` drops it.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> df = pd.DataFrame({"id": [1] * 4 + [2] * 2, "day": [1, 2, 8, 9, 1, 9],
    ...                    "pain": [2.0, 4.0, 5.0, None, 1.0, 3.0]})
    >>> d = sp.Diary.from_frame(df, id="id", day="day")
    >>> sp.panel.diary_waves(d, days=7)[["id", "wave", "pain", "n_pain"]]
       id  wave  pain  n_pain
    0   1     1   3.0       2
    1   1     2   5.0       1
    2   2     1   1.0       1
    3   2     2   3.0       1
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise SpecificationError(f"days={days!r} must be a whole number of days >= 1, e.g. 7.")
    if isinstance(min_days, bool) or not isinstance(min_days, int | np.integer) or min_days < 1:
        raise SpecificationError(f"min_days={min_days!r} must be a whole number >= 1.")
    if start not in ("study", "person"):
        raise SpecificationError(f"start={start!r}; use 'study' or 'person'.")
    if n_waves is not None and (not isinstance(n_waves, int | np.integer) or n_waves < 1):
        raise SpecificationError(f"n_waves={n_waves!r} must be a whole number >= 1 or None.")
    if variables is None:
        cols = list(diary.variables)
    else:
        cols = [variables] if isinstance(variables, str) else list(variables)
        diary.require(cols, "variables")
    entered = _as_entered(diary)
    if entered.empty:
        raise SpecificationError("the diary has no observed values to aggregate into waves.")
    day = entered["day"].to_numpy()
    if start == "study":
        origin = np.full(len(entered), day.min())
    else:
        origin = entered.groupby("id", sort=False)["day"].transform("min").to_numpy()
    block = (day - origin) // days
    entered = entered.assign(wave=block + 1, first_day=origin + block * days)
    keys = ["id", "wave"]
    g = entered.groupby(keys, sort=True)
    out = g[["first_day"]].first()
    out["days"] = g["day"].nunique()
    for c in cols:
        obs = entered[entered["variable"] == c]
        stats = obs.groupby(keys, sort=True)["value"].agg(["mean", "count"])
        out[c] = stats["mean"].reindex(out.index)
        out[f"n_{c}"] = stats["count"].reindex(out.index).fillna(0).astype(int)
        out.loc[out[f"n_{c}"] < min_days, c] = np.nan
    out = out.reset_index()
    # the block's first day as the diary shows days (a date for a date diary, not 19785)
    from sleeppain.diary._time import day_labels

    kind = getattr(diary, "day_kind", "integer")
    out.insert(
        out.columns.get_loc("first_day") + 1,
        "first_label",
        day_labels(out["first_day"].to_numpy(), kind),
    )
    if n_waves is not None:
        out = out[out["wave"] <= n_waves].reset_index(drop=True)
    _warn_short_last_block(out, cols, days, min_days)
    return out


def _as_entered(diary: Any) -> pd.DataFrame:
    """Observed values on the day they were reported: ``id, day, variable, value``.

    The canonical frame holds a sleep value on its night (a morning rating of night
    *n* on row *n*, the day before the report); here it goes back to the report day
    (``day + 1`` for ``sleep_timing="previous_night"``), so the night the Diary adds
    before the first diary day belongs to that first day's block.
    """
    frame = diary.data
    sleep = set(getattr(diary, "sleep", ()) or ())
    shift = 1 if getattr(diary, "sleep_timing", "previous_night") == "previous_night" else 0
    parts = []
    for c in diary.variables:
        v = frame[c].to_numpy(dtype=float)
        ok = ~np.isnan(v)
        d = frame["day"].to_numpy()[ok] + (shift if c in sleep else 0)
        parts.append(
            pd.DataFrame(
                {"id": frame["id"].to_numpy()[ok], "day": d, "variable": c, "value": v[ok]}
            )
        )
    return pd.concat(parts, ignore_index=True)


def _warn_short_last_block(out: pd.DataFrame, cols: list[str], days: int, min_days: int) -> None:
    """Warn when no person has ``min_days`` observed days of a variable in the last wave."""
    if out.empty:
        return
    last = int(out["wave"].max())
    tail = out[out["wave"] == last]
    short = [c for c in cols if int(tail[f"n_{c}"].max()) < min_days]
    if not short or last == 1:
        return
    span = int(tail["days"].max())
    warnings.warn(
        f"the last block (wave={last}, at most {span} of {days} day(s) reported) has fewer "
        f"than min_days={min_days} observed day(s) of {', '.join(repr(c) for c in short)} "
        f"for every person, so those block means are missing. Drop the block with "
        f"n_waves={last - 1}, or choose days= so the diary fills whole blocks.",
        DataQualityWarning,
        stacklevel=3,
    )
