"""From a user's DataFrame to validated person-day reports.

Pipeline (each step counts what it drops or changes):
check columns -> drop rows with a missing id/day/prompt -> parse days -> read variables
(levels, numbers, missing-value codes, scales) -> combine prompts into person-days.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.diary import _time, _validate
from sleeppain.diary._accounting import ScaleRecord
from sleeppain.diary._fmt import show
from sleeppain.diary._frames import as_pandas
from sleeppain.errors import (
    DataQualityWarning,
    DataStructureError,
    ScaleWarning,
    SpecificationError,
    user_stacklevel,
)

__all__ = ["Ingested", "ingest"]

Reducer = str | Callable[..., Any]

#: Column names of the canonical frame; a variable may not use them.
RESERVED = ("id", "day", "day_label", "prompt")

_REDUCERS = (
    "mean", "median", "first", "last", "min", "max", "sum", "std", "var", "count", "nunique",
    "prod", "sem",
)  # fmt: skip


@dataclass(frozen=True)
class Ingested:
    """Validated person-day reports (one row per person and reported day), sorted.

    ``person`` codes index ``ids`` (sorted unique ids); ``day`` is the calendar index;
    ``values`` maps each variable to a float64 array aligned with the rows.
    """

    ids: pd.Index
    person: np.ndarray
    day: np.ndarray
    values: tuple[tuple[str, np.ndarray], ...]
    day_kind: str
    day_description: str
    input_rows: int
    rows_dropped: tuple[tuple[str, int], ...]
    values_set_missing: tuple[tuple[str, str, int], ...]
    out_of_range: tuple[ScaleRecord, ...]
    ignored_columns: tuple[tuple[str, str], ...]
    prompts: pd.DataFrame | None


#: Reserved names whose columns are left out with a warning; an undeclared ``id`` or ``day``
#: column beside the key columns (a study-day number beside the date) is only listed in the
#: accounting, as it is a common layout.
_WARN_RESERVED = ("day_label", "prompt")


def _key_name(arg: str, name: Any) -> str:
    """A column argument as text (integer labels such as ``id=0`` are allowed)."""
    if isinstance(name, str):
        return name
    if isinstance(name, int | np.integer) and not isinstance(name, bool):
        return str(name)
    raise SpecificationError(
        f"{arg}= must name a column (a string such as {arg}='{arg}'), got "
        f"{type(name).__name__} {name!r}."
    )


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


_DIGITS = re.compile(r"^\d+$")


def _id_key(value: Any) -> str:
    """How an id reads to a person: text without spaces, case or leading zeros."""
    if isinstance(value, bool | np.bool_):
        return str(value).lower()
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip().lower()
    return text.lstrip("0") or "0" if _DIGITS.match(text) else text


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | np.bool_):
        return "true/false"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    return type(value).__name__


def _check_alike_ids(uniques: np.ndarray, column: str) -> None:
    """Raise when ids of different types read alike (1 and '1'); warn for text look-alikes."""
    seen: dict[str, Any] = {}
    alike: list[tuple[Any, Any]] = []
    for u in uniques:
        key = _id_key(u)
        if key in seen:
            alike.append((seen[key], u))
        else:
            seen[key] = u
    if not alike:
        return
    mixed = [(a, b) for a, b in alike if _kind(a) != _kind(b)]
    if mixed:
        a, b = mixed[0]
        raise DataStructureError(
            f"ids look alike: id column {column!r} holds {show(a)} ({_kind(a)}) and {show(b)} "
            f"({_kind(b)}), which would be two different persons ({len(mixed)} such pair"
            f"{'s' if len(mixed) > 1 else ''}). Give the column one type, e.g. "
            f"df[{column!r}] = df[{column!r}].astype(str)."
        )
    pairs = ", ".join(f"{show(a)} and {show(b)}" for a, b in alike[:3])
    warnings.warn(
        f"ids look alike: id column {column!r} has {len(alike)} pair"
        f"{'s' if len(alike) > 1 else ''} of ids that differ only in leading zeros, spaces or "
        f"case ({pairs}{' ...' if len(alike) > 3 else ''}); they are kept as different "
        "persons. If they are the same person, clean the ids first, e.g. "
        f"df[{column!r}].str.strip().str.lstrip('0').",
        DataQualityWarning,
        stacklevel=user_stacklevel(),
    )


def _factorize_ids(ids: pd.Series, column: str = "id") -> tuple[np.ndarray, pd.Index]:
    """Integer person codes and sorted unique ids (digit strings in numeric order)."""
    codes0, uniq0 = pd.factorize(ids)
    uniq = np.asarray(uniq0, dtype=object)
    _check_alike_ids(uniq, column)
    if len(uniq) and all(isinstance(u, str) and _DIGITS.match(u) for u in uniq):
        order = np.asarray(sorted(range(len(uniq)), key=lambda i: (int(uniq[i]), uniq[i])))
    else:
        try:
            order = np.argsort(np.asarray(uniq0), kind="stable")
        except TypeError:  # unorderable types: order by their text
            order = np.argsort(np.asarray([str(u) for u in uniq]), kind="stable")
    order = order.astype(np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes0], pd.Index(np.asarray(uniq0)[order])


def _check_reducer(name: str, reducer: Reducer) -> None:
    if callable(reducer):
        return
    if not isinstance(reducer, str) or not hasattr(pd.core.groupby.SeriesGroupBy, reducer):
        close = difflib.get_close_matches(str(reducer), _REDUCERS, n=2)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise SpecificationError(
            f"aggregate[{name!r}] = {reducer!r} is not a pandas reducer.{hint} Use a name such "
            "as 'mean', 'median', 'first', 'last', 'max', or a function of a Series."
        )


def _day_example(person: int, day: int, ids: pd.Index, kind: str) -> str:
    label = _time.format_day(day, kind)  # type: ignore[arg-type]
    on = label if kind == "integer" else f"on {label}"
    return f"id={show(ids[person])} {on}"


@dataclass(frozen=True)
class _Plan:
    """The checked arguments of :func:`ingest`."""

    keys: tuple[str, ...]
    variables: tuple[str, ...]
    declared: frozenset[str]
    ignored: tuple[tuple[str, str], ...]


def _plan(
    df: pd.DataFrame,
    *,
    id: str,
    day: str,
    prompt: str | None,
    named: Mapping[str, Sequence[str]],
    columns: Sequence[str] | None,
) -> _Plan:
    """Check the column arguments against the data and choose the variables."""
    keys = [id, day] + ([prompt] if prompt is not None else [])
    if len(set(keys)) != len(keys):
        raise SpecificationError(f"id=, day= and prompt= must name different columns, got {keys}.")
    needed = {"id": [id], "day": [day], "prompt": _as_list(prompt), **named}
    needed["columns"] = _as_list(columns)
    _validate.check_columns(df.columns, needed)
    if df.columns.duplicated().any():
        dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DataStructureError(f"the data have duplicated column names {dup}; rename them.")
    for arg, names in [*named.items(), ("columns", needed["columns"])]:
        clash = set(names) & set(keys)
        if clash:
            raise SpecificationError(
                f"{arg}= names {sorted(clash)}, which is the id, day or prompt column; "
                "name variables only."
            )
    declared = {c for names in named.values() for c in names} | set(needed["columns"])
    if columns is not None:
        variables = list(dict.fromkeys(needed["columns"]))
        outside = sorted({c for names in named.values() for c in names} - set(variables))
        if outside:
            raise SpecificationError(
                f"{outside} are named in {'/'.join(f'{a}=' for a in named)} but not in "
                "columns=; add them to columns=."
            )
    else:
        variables = [str(c) for c in df.columns if c not in keys]
    reserved_names = RESERVED if prompt is not None else RESERVED[:3]
    reserved = [v for v in variables if v in reserved_names]
    if any(v in declared for v in reserved):
        raise SpecificationError(
            f"variable column(s) {[v for v in reserved if v in declared]} use a name the diary "
            f"reserves for its keys ({', '.join(reserved_names)}); rename them first."
        )
    # an undeclared column named like a key (e.g. a study-day column 'day' beside the date
    # used as day=) is left out and listed in the accounting
    return _Plan(
        keys=tuple(keys),
        variables=tuple(v for v in variables if v not in reserved),
        declared=frozenset(declared),
        ignored=tuple(
            (v, "name reserved for the diary's keys; rename it to keep it") for v in reserved
        ),
    )


def _drop_missing_keys(
    df: pd.DataFrame, keys: Mapping[str, str | None]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop rows with a missing id, day or prompt; count them by reason (first reason wins)."""
    frame = df.reset_index(drop=True)
    dropped: dict[str, int] = {}
    keep = np.ones(len(df), dtype=bool)
    for reason, col in keys.items():
        if col is None:
            continue
        miss = _validate.is_missing_key(frame[col]) & keep
        if miss.any() or reason != "missing prompt":
            dropped[reason] = int(miss.sum())
        keep &= ~miss
    kept = np.flatnonzero(keep)
    sub = frame.iloc[kept].set_axis(df.index[kept], axis=0)
    return sub, dropped


@dataclass
class _Cleaning:
    """What reading the variables changed (for the accounting)."""

    set_missing: list[tuple[str, str, int]]
    out_of_range: list[ScaleRecord]
    ignored: list[tuple[str, str]]
    messages: list[str]
    quality: list[str] = field(default_factory=list)


def _read_variables(
    sub: pd.DataFrame,
    plan: _Plan,
    *,
    levels: Mapping[str, Any],
    missing_values: Mapping[str, Any],
    scales: Mapping[str, tuple[float, float]],
    out_of_range: str,
    decimal: str = ".",
) -> tuple[dict[str, np.ndarray], _Cleaning]:
    """Each variable as float64: labelled levels, numbers, missing-value codes, scales.

    Infinite values are set missing, counted per variable and reported with their rows.
    """
    values: dict[str, np.ndarray] = {}
    log = _Cleaning([], [], [], [])
    for col in plan.variables:
        series = sub[col]
        if col in levels:
            arr = _validate.apply_levels(series, col, levels[col])
        else:
            coerced = _validate.coerce_numeric(
                series, col, declared=col in plan.declared, decimal=decimal
            )
            if coerced.values is None:
                log.ignored.append((col, coerced.reason))
                continue
            arr = coerced.values
        inf = np.isinf(arr)
        if inf.any():
            arr = np.where(inf, np.nan, arr)
            log.set_missing.append((col, "infinite value", int(inf.sum())))
            rows = ", ".join(show(r) for r in sub.index[np.flatnonzero(inf)[:3]])
            log.quality.append(
                f"column {col!r} has {int(inf.sum())} infinite value(s) (rows {rows}"
                f"{' ...' if inf.sum() > 3 else ''}); they were set to missing and are "
                "counted in the accounting. Correct them at the source if they are data errors."
            )
        if col in missing_values:
            arr, n = _validate.apply_missing_values(arr, col, missing_values[col])
            if n:
                log.set_missing.append((col, "missing-value code", n))
        if col in scales:
            check = _validate.check_scale(arr, sub.index, col, scales[col], out_of_range)  # type: ignore[arg-type]
            if check.n_out:
                lo, hi = float(scales[col][0]), float(scales[col][1])
                action = {"warn": "kept", "set_missing": "set missing"}[out_of_range]
                log.out_of_range.append(ScaleRecord(col, lo, hi, check.n_out, action))
                if out_of_range == "set_missing":
                    log.set_missing.append((col, "outside scale", check.n_out))
                else:
                    log.messages.append(check.message)
            arr = check.values
        values[col] = arr
        if len(arr) and np.isnan(arr).all():
            log.quality.append(
                f"variable {col!r} has no values: all {len(arr):,} rows are missing (or were "
                "set missing). It is kept, but no analysis can use it; check the column, or "
                "leave it out with columns=[...]."
            )
    return values, log


def _duplicates_error(
    p_s: np.ndarray, d_s: np.ndarray, same: np.ndarray, ids: pd.Index, kind: str, *,
    id: str, day: str, prompt: str | None,
) -> DataStructureError:  # fmt: skip
    n_dup = int((same & ~np.r_[False, same[:-1]]).sum())
    first = int(np.flatnonzero(same)[0])
    example = _day_example(int(p_s[first]), int(d_s[first]), ids, kind)
    how = (
        "Pass aggregate= (e.g. aggregate={'pain': 'mean', 'sleep_quality': 'first'}) to "
        "combine the prompts of a day"
        if prompt is not None
        else "Pass aggregate=... (e.g. aggregate='mean', or per column "
        "aggregate={'pain': 'max'}) to combine "
        "several reports a day (ordered by time of day, or by a prompt column given as "
        "prompt='beep')"
    )
    return DataStructureError(
        f"{n_dup} duplicated ({id}, {day}) pairs ({int(same.sum()) + n_dup} rows), e.g. "
        f"{example}. {how}, or drop the duplicates."
    )


def ingest(
    df: pd.DataFrame,
    *,
    id: str,
    day: str,
    prompt: str | None,
    aggregate: Reducer | Mapping[str, Reducer] | None,
    scales: Mapping[str, tuple[float, float]] | None,
    tz: Any,
    levels: Mapping[str, Any] | None,
    missing_values: Mapping[str, Any] | None,
    out_of_range: str,
    columns: Sequence[str] | None,
    sleep: Sequence[str],
    decimal: str = ".",
) -> Ingested:
    """Validate ``df`` and reduce it to person-day reports. See :meth:`Diary.from_frame`."""
    if out_of_range not in ("warn", "raise", "set_missing"):
        raise SpecificationError(
            f"out_of_range={out_of_range!r} is not one of 'warn', 'raise', 'set_missing'."
        )
    if not isinstance(decimal, str) or len(decimal) != 1 or decimal.isalnum():
        raise SpecificationError(
            f"decimal={decimal!r} must be one punctuation character, '.' (default) or ','."
        )
    df = as_pandas(df, "Diary.from_frame")
    id, day = _key_name("id", id), _key_name("day", day)
    prompt = None if prompt is None else _key_name("prompt", prompt)
    sleep = [_key_name("sleep", c) for c in sleep]
    if columns is not None:
        columns = [_key_name("columns", c) for c in _as_list(columns)]
    scales = None if scales is None else {_key_name("scales", k): v for k, v in scales.items()}
    levels = None if levels is None else {_key_name("levels", k): v for k, v in levels.items()}
    if missing_values is not None:
        missing_values = {_key_name("missing_values", k): v for k, v in missing_values.items()}
    if isinstance(aggregate, Mapping):
        aggregate = {_key_name("aggregate", k): v for k, v in aggregate.items()}
    zone = _time.resolve_tz(tz)
    scales, levels, missing_values = (
        dict(scales or {}),
        dict(levels or {}),
        dict(missing_values or {}),
    )
    agg_map = dict(aggregate) if isinstance(aggregate, Mapping) else {}
    named = {
        "sleep": list(sleep),
        "scales": list(scales),
        "levels": list(levels),
        "missing_values": list(missing_values),
        "aggregate": list(agg_map),
    }
    plan = _plan(df, id=id, day=day, prompt=prompt, named=named, columns=columns)

    sub, dropped = _drop_missing_keys(
        df, {"missing id": id, "missing day": day, "missing prompt": prompt}
    )
    parsed = _time.parse_days(sub[day], day, zone)
    person, ids = _factorize_ids(sub[id], id)
    order = parse_order(sub, prompt, parsed)
    values, log = _read_variables(
        sub, plan, levels=levels, missing_values=missing_values, scales=scales,
        out_of_range=out_of_range, decimal=decimal,
    )  # fmt: skip
    for msg in log.messages:
        warnings.warn(msg, ScaleWarning, stacklevel=user_stacklevel())
    for name, _ in plan.ignored:
        if name in _WARN_RESERVED:
            log.quality.append(
                f"column {name!r} is left out: the diary reserves that name for its own "
                f"{name} column. Rename it to keep it, e.g. "
                f"df.rename(columns={{{name!r}: '{name}_original'}})."
            )
    for msg in log.quality:
        warnings.warn(msg, DataQualityWarning, stacklevel=user_stacklevel())

    # sort by person, day, prompt order, input position: the result does not depend on the
    # input row order (except for ties in prompt order under "first"/"last")
    sort = np.lexsort((np.arange(len(person)), order, parsed.index, person))
    p_s, d_s = person[sort], parsed.index[sort]
    values = {c: v[sort] for c, v in values.items()}
    same = np.zeros(len(p_s), dtype=bool)
    same[1:] = (p_s[1:] == p_s[:-1]) & (d_s[1:] == d_s[:-1])
    prompts_frame = None
    if prompt is not None or aggregate is not None:
        prompts_frame = pd.DataFrame(
            {
                "id": ids[p_s],
                "day": d_s,
                "day_label": _time.day_labels(d_s, parsed.kind),  # type: ignore[arg-type]
                **({"prompt": sub[prompt].to_numpy()[sort]} if prompt is not None else {}),
                **values,
            }
        )
    if same.any() and aggregate is None:
        raise _duplicates_error(p_s, d_s, same, ids, parsed.kind, id=id, day=day, prompt=prompt)
    if aggregate is not None:
        n_rows = len(p_s)
        p_s, d_s, values = _aggregate(p_s, d_s, values, aggregate)
        dropped["merged into a person-day (aggregate)"] = n_rows - len(p_s)
    for arr in (p_s, d_s, *values.values()):
        arr.setflags(write=False)
    return Ingested(
        ids=ids,
        person=p_s,
        day=d_s,
        values=tuple(values.items()),
        day_kind=parsed.kind,
        day_description=parsed.description,
        input_rows=len(df),
        rows_dropped=tuple(dropped.items()),
        values_set_missing=tuple(log.set_missing),
        out_of_range=tuple(log.out_of_range),
        ignored_columns=plan.ignored + tuple(log.ignored),
        prompts=prompts_frame,
    )


def parse_order(sub: pd.DataFrame, prompt: str | None, parsed: _time.DayParse) -> np.ndarray:
    """Within-day order of the rows: the prompt when given, else the time of day."""
    if prompt is not None:
        return _time.parse_prompt(sub[prompt], prompt)
    return parsed.order


def _aggregate(
    person: np.ndarray,
    day: np.ndarray,
    values: dict[str, np.ndarray],
    aggregate: Reducer | Mapping[str, Reducer],
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Combine rows sharing (person, day); rows are already in prompt order."""
    names = list(values)
    if isinstance(aggregate, Mapping):
        spec = {c: aggregate[c] for c in names if c in aggregate}
    else:
        spec = dict.fromkeys(names, aggregate)
    for c, r in spec.items():
        _check_reducer(c, r)
    frame = pd.DataFrame({"_p": person, "_d": day, **values})
    grouped = frame.groupby(["_p", "_d"], sort=True)
    rest = [c for c in names if c not in spec]
    if rest:
        varying = grouped[rest].nunique(dropna=True).max()
        varying = [c for c in rest if varying[c] > 1]
        if varying:
            raise SpecificationError(
                f"aggregate= gives no reducer for {varying}, which differ between the reports "
                f"of a day. Add them to aggregate (e.g. {{{varying[0]!r}: 'mean'}}), or leave "
                "them out with columns=[...]. (Columns constant within each day are kept as is.)"
            )
        for c in rest:
            spec[c] = "first"
    keys = grouped.size().index
    out: dict[str, np.ndarray] = {}
    for c in names:
        try:
            res = grouped[c].agg(spec[c]).reindex(keys)
            out[c] = pd.to_numeric(res, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError, AttributeError) as exc:
            raise SpecificationError(
                f"aggregate[{c!r}] = {spec[c]!r} failed on the reports of a day: {exc}. Use a "
                "reducer that returns one number per day, such as 'mean' or 'first'."
            ) from None
    p = keys.get_level_values(0).to_numpy(dtype=np.int64)
    d = keys.get_level_values(1).to_numpy(dtype=np.int64)
    return p, d, out
