"""Input checks shared by :func:`network` and :func:`mediation`: the diary and its variables."""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import DataStructureError, SpecificationError, user_stacklevel

__all__ = ["added_nights_note", "as_diary", "names", "rewarn", "within_variance_check"]

#: A variable whose pooled within-person sum of squares is below this share of its total
#: sum of squares (or exactly zero) has no within-person variance.
WITHIN_TOL = 1e-12


def names(value: str | Sequence[str] | None, arg: str, fn: str) -> tuple[str, ...]:
    """Column names as a tuple of distinct strings (None -> empty)."""
    if value is None:
        return ()
    out = (value,) if isinstance(value, str) else tuple(value)
    for v in out:
        if not isinstance(v, str):
            raise SpecificationError(f"{fn}: {arg}= must be column names (strings), got {v!r}.")
    if len(set(out)) != len(out):
        raise SpecificationError(f"{fn}: {arg}= lists a column twice: {list(out)}.")
    return out


def as_diary(
    data: Any,
    *,
    id: str | None,
    day: str | None,
    sleep: tuple[str, ...],
    sleep_timing: str | None,
    needed: list[str],
    fn: str,
    single_ok: bool = False,
) -> Any:
    """A :class:`~sleeppain.diary.Diary` from a Diary or a long DataFrame.

    With ``single_ok`` and a DataFrame without ``id=``, the rows are one person's series.
    """
    from sleeppain.diary import Diary

    if isinstance(data, Diary):
        for arg, given, own in (("id", id, data.id_column), ("day", day, data.day_column)):
            if given is not None and given != own:
                raise SpecificationError(
                    f"{fn}: {arg}={given!r} differs from the Diary's {arg} column {own!r}; "
                    f"drop {arg}= when passing a Diary (it already knows its keys)."
                )
        data.require(needed, fn)
        timing = sleep_timing or data.sleep_timing
        missing = [s for s in sleep if s not in data.sleep]
        if missing or timing != data.sleep_timing:
            data = data.with_sleep((*data.sleep, *missing), timing)
        return data
    if not isinstance(data, pd.DataFrame):
        from sleeppain.diary._frames import as_pandas

        # polars / pyarrow tables are converted (to_pandas()); anything else: typed error
        data = as_pandas(data, f"sp.{fn}")
    if isinstance(data, pd.DataFrame):
        absent = [c for c in (*needed, *(c for c in (id, day) if c is not None)) if c not in data]
        if absent:
            cols = [str(c) for c in data.columns]
            hints = []
            for c in absent:
                close = difflib.get_close_matches(str(c), cols, n=1)
                if close:
                    hints.append(f"{c!r} -> {close[0]!r}?")
            raise DataStructureError(
                f"{fn}: column(s) {absent} are not in the data"
                + (f" (did you mean {', '.join(hints)})" if hints else "")
                + f"; the data have columns {cols[:25]}. Fix the name in the call or rename "
                "the column."
            )
        if day is None:
            raise SpecificationError(
                f"{fn}: day= is required when data is a DataFrame (the calendar day or date "
                f"column), e.g. {fn}(df, id='id', day='date', ...); or pass a sp.Diary."
            )
        frame = data
        if id is None:
            if not single_ok:
                raise SpecificationError(
                    f"{fn}: id= is required when data is a DataFrame (the person id column); "
                    "or pass a sp.Diary."
                )
            frame = data.assign(_person=1)
            id = "_person"
        return Diary.from_frame(
            frame,
            id=str(id),
            day=str(day),
            sleep=sleep,
            sleep_timing=sleep_timing or "previous_night",
            columns=needed,
        )
    raise SpecificationError(  # unreachable: as_pandas returns a DataFrame or raises
        f"{fn}: data must be a sp.Diary or a pandas DataFrame, got {type(data).__name__}."
    )


def within_variance_check(diary: Any, variables: Sequence[str], fn: str) -> None:
    """Raise, naming the variable, when a variable has no within-person variance."""
    for v in variables:
        w = diary.within(v).to_numpy()
        x = diary.data[v].to_numpy(dtype=float)
        ok = ~np.isnan(w)
        if not ok.any():
            raise DataStructureError(f"{fn}: variable {v!r} has no observed values.")
        ss_w = float(np.sum(w[ok] ** 2))
        ss_t = float(np.sum((x[ok] - x[ok].mean()) ** 2))
        if ss_w <= WITHIN_TOL * max(ss_t, 1.0):
            raise DataStructureError(
                f"{fn}: variable {v!r} has no within-person variance (every person reports "
                "the same value on all their days), so its within-person effects cannot be "
                f"estimated. Drop {v!r} from the variables, or enter it as a person-level "
                "covariate."
            )


def rewarn(
    caught: list[warnings.WarningMessage],
    prefix: str,
    rename: Mapping[str, str] | None = None,
    hints: Mapping[type, str] | None = None,
) -> None:
    """Re-issue warnings caught during an inner fit, prefixed, at the user's call.

    ``rename`` maps internal column names (``_L0``) to what the user knows
    (``lag(sleep_quality)``), so that a message about the inner model reads in their terms;
    ``hints`` appends a sentence to warnings of a category (what to do in the outer call).

    Examples
    --------
    >>> with warnings.catch_warnings(record=True) as got:
    ...     warnings.simplefilter("always")
    ...     rewarn([warnings.WarningMessage(UserWarning("_L1 + _L10"), UserWarning, "", 0)],
    ...            "network", {"_L1": "lag(a)", "_L10": "lag(b)"})
    >>> str(got[0].message)
    'network: lag(a) + lag(b)'
    """
    for w in caught:
        text = str(w.message)
        if rename:
            pattern = re.compile(
                "|".join(re.escape(k) for k in sorted(rename, key=len, reverse=True)) + r"\b"
            )
            text = pattern.sub(lambda m: rename[m.group(0)], text)
        for cat, hint in (hints or {}).items():
            if issubclass(w.category, cat):
                text = f"{text} {hint}"
        warnings.warn(f"{prefix}: {text}", w.category, stacklevel=user_stacklevel())


def added_nights_note(n: int) -> str:
    """Plain words for the rows a Diary added to hold sleep ratings (empty when none)."""
    if n <= 0:
        return ""
    return (
        f"The rows include {n:,} night(s) the Diary added to hold sleep ratings (a rating "
        "describes a night whose day has no entry, e.g. the night before a person's first "
        "morning report): they carry no day variables, so they count as missing values of "
        "day variables here, not as missing input data."
    )
