"""Turn a daily diary into a few-wave panel (block means)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError

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

    Wave ``w`` (1, 2, ...) holds the calendar days ``[start + (w-1) days, start + w days)``;
    a variable's block value is the mean of its non-missing days there, or missing when
    fewer than ``min_days`` days were observed. Sleep variables are taken as the diary
    aligns them (night *n* on day *n*). The result is long data for
    ``sp.riclpm(waves, x=..., y=..., id="id", wave="wave")``.

    Parameters
    ----------
    diary : Diary
    days : int
        Block length in calendar days (7 = weekly means).
    variables : str or list of str, optional
        Variables to aggregate (default: all of the diary's variables).
    start : {"study", "person"}
        Blocks counted from the first day of the whole diary (``"study"``, for a common
        calendar) or from each person's own first day (``"person"``).
    min_days : int
        Observed days a block needs for its mean to count.
    n_waves : int, optional
        Keep only the first ``n_waves`` waves.

    Returns
    -------
    DataFrame
        ``id, wave, first_day`` (integer calendar day of the block's start),
        ``first_label`` (that day as the diary shows days: a date for a date diary), ``days``
        (days of the block with a diary row) and one column per variable plus
        ``n_<variable>`` (days observed). Every person-block with at least one diary row
        appears; absent blocks have no row.

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
    frame = diary.data
    day = frame["day"].to_numpy()
    if start == "study":
        origin = np.full(len(frame), day.min() if len(day) else 0)
    else:
        origin = frame.groupby("id", sort=False)["day"].transform("min").to_numpy()
    block = (day - origin) // days
    work = pd.DataFrame({"id": frame["id"], "wave": block + 1, "first_day": origin + block * days})
    for c in cols:
        work[c] = frame[c].to_numpy(dtype=float)
    g = work.groupby(["id", "wave"], sort=True)
    out = g[["first_day"]].first()
    out["days"] = g.size()
    for c in cols:
        out[c] = g[c].mean()
        out[f"n_{c}"] = g[c].count()
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
    return out
