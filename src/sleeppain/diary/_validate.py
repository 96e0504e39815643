"""Validation of diary input: column names, numeric values, labelled levels, scales.

Each function checks one thing and either returns cleaned values with what it changed
(for the accounting) or raises a typed error saying what is wrong, where, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from sleeppain.diary._fmt import show
from sleeppain.errors import DataStructureError, SpecificationError

__all__ = [
    "CoercedColumn",
    "apply_levels",
    "apply_missing_values",
    "check_columns",
    "check_scale",
    "coerce_numeric",
    "is_missing_key",
    "suggest",
]

OutOfRange = Literal["warn", "raise", "set_missing"]

#: Share of non-missing values that must read as numbers for an undeclared text column to be
#: treated as a (mistyped) numeric variable rather than free text.
TEXT_COLUMN_THRESHOLD = 0.5


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A ``" Did you mean ...?"`` suffix with close matches, or ``""``."""
    cands = [str(c) for c in candidates]
    close = difflib.get_close_matches(str(name), cands, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in cands}
        if str(name).lower() in lowered:
            close = [lowered[str(name).lower()]]
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def check_columns(columns: Sequence[Any], needed: Mapping[str, Sequence[str]]) -> None:
    """Raise DataStructureError naming every requested column absent from the data.

    Parameters
    ----------
    columns : sequence
        The data's columns.
    needed : mapping
        Argument name -> column names it requests.

    Examples
    --------
    >>> check_columns(["id", "date", "pain"], {"sleep": ["sleep_quality"]})
    Traceback (most recent call last):
    ...
    sleeppain.errors.DataStructureError: column 'sleep_quality' (from sleep=) is not in the data...
    """
    present = {str(c) for c in columns}
    problems = []
    for arg, names in needed.items():
        for name in names:
            if str(name) not in present:
                problems.append(
                    f"column {name!r} (from {arg}=) is not in the data.{suggest(name, present)}"
                )
    if problems:
        shown = sorted(present)
        listing = ", ".join(repr(c) for c in shown[:20]) + (" ..." if len(shown) > 20 else "")
        raise DataStructureError(
            " ".join(problems) + f" The data have columns {listing}; fix the name or rename "
            "the column."
        )


def is_missing_key(values: pd.Series) -> np.ndarray:
    """Missing id/day/prompt values: NA, or empty / blank strings."""
    miss = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype(str).str.strip()
        miss = miss | (text == "").to_numpy()
    return miss


def _example(values: pd.Series, mask: np.ndarray, k: int = 1) -> str:
    pos = np.flatnonzero(mask)[:k]
    return ", ".join(f"{show(values.iloc[p])} in row {show(values.index[p])}" for p in pos)


def apply_levels(
    values: pd.Series, column: str, levels: Sequence[Any] | Mapping[Any, float]
) -> np.ndarray:
    """Map labelled levels to numbers.

    A sequence ``["Very poor", ..., "Very good"]`` maps to 1..k in order; a mapping gives the
    codes explicitly. Labels not listed raise DataStructureError listing them.

    Examples
    --------
    >>> import pandas as pd
    >>> apply_levels(pd.Series(["Poor", None, "Good"]), "q", ["Poor", "Fair", "Good"]).tolist()
    [1.0, nan, 3.0]
    """
    if isinstance(levels, Mapping):
        mapping = {k: float(v) for k, v in levels.items()}
    elif isinstance(levels, str) or not isinstance(levels, Sequence):
        raise SpecificationError(
            f"levels[{column!r}] must be a list of labels in order (mapped to 1..k) or a dict "
            f"label -> code, not {type(levels).__name__}."
        )
    else:
        if len(set(levels)) != len(levels):
            raise SpecificationError(f"levels[{column!r}] lists a label twice: {list(levels)!r}.")
        mapping = {lab: float(i + 1) for i, lab in enumerate(levels)}
    present = ~values.isna().to_numpy()
    known = values.isin(list(mapping)).to_numpy()
    unknown = present & ~known
    if unknown.any():
        counts = values[unknown].value_counts()
        listed = ", ".join(f"{show(v)} ({n})" for v, n in counts.head(8).items())
        more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
        raise DataStructureError(
            f"column {column!r} has {int(unknown.sum())} values not among its levels: "
            f"{listed}{more}; e.g. {_example(values, unknown)}. Add them to "
            f"levels[{column!r}] (known: {list(mapping)!r}) or recode them as missing."
        )
    out = values.map(mapping).to_numpy(dtype=np.float64, na_value=np.nan)
    return out


@dataclass(frozen=True)
class CoercedColumn:
    """Outcome of reading one variable column as numbers.

    ``values`` is None when the column is free text left out of the diary (``reason`` says
    why).
    """

    values: np.ndarray | None
    reason: str = ""


_DECIMAL_COMMA = r"^[+-]?\d*,\d+$"


def coerce_numeric(
    values: pd.Series, column: str, *, declared: bool, decimal: str = "."
) -> CoercedColumn:
    """Read a variable column as float64.

    Numeric and boolean columns convert directly. Text columns are parsed as numbers: if any
    non-missing value fails, a *declared* column (named in ``sleep=``, ``scales=``,
    ``aggregate=``, ``columns=`` ...) or a mostly-numeric one raises DataStructureError with
    the count and an example; an undeclared column that is mostly text is left out of the
    diary and reported. Numbers written with a decimal comma (``"5,5"``) raise
    DataStructureError saying so, unless ``decimal=","``, which reads them as numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> coerce_numeric(pd.Series(["1", " 2", ""]), "x", declared=True).values.tolist()
    [1.0, 2.0, nan]
    """
    dtype = values.dtype
    if pd.api.types.is_complex_dtype(dtype):
        raise DataStructureError(
            f"column {column!r} holds complex numbers ({dtype}); a diary variable must be "
            f"real. Convert it, e.g. df[{column!r}].to_numpy().real, if the imaginary parts "
            "are zero."
        )
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return CoercedColumn(values.to_numpy(dtype=np.float64, na_value=np.nan))
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        if declared:
            raise DataStructureError(
                f"column {column!r} holds dates or times, not numbers. Convert it (e.g. to "
                "minutes) before building the diary, or leave it out."
            )
        return CoercedColumn(None, "dates or times, not numbers")
    missing = values.isna().to_numpy()
    text = values.astype(str).str.strip()
    blank = (text == "").to_numpy() & ~missing
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    num = pd.to_numeric(text.where(~(missing | blank)), errors="coerce")
    arr = num.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~missing & ~blank & np.isnan(arr)
    # literal "nan"/"NaN" strings read as NaN by to_numeric: they are missing, not bad
    bad &= ~text.str.lower().isin(["nan", "na", "<na>", "none"]).to_numpy()
    if not bad.any():
        return CoercedColumn(arr)
    comma = bad & text.str.match(_DECIMAL_COMMA).to_numpy(dtype=bool, na_value=False)
    if comma.any():
        raise DataStructureError(
            f"column {column!r} has {int(comma.sum())} numbers written with a decimal comma "
            f"(e.g. {_example(values, comma)}). Pass decimal=',' to read them as numbers, "
            "or convert the column first: "
            f"df[{column!r}].str.replace(',', '.').astype(float)."
        )
    n_present = int((~missing & ~blank).sum())
    share_numeric = 1.0 - bad.sum() / max(n_present, 1)
    if not declared and share_numeric < TEXT_COLUMN_THRESHOLD:
        return CoercedColumn(None, "text, not numbers")
    counts = values[bad].value_counts()
    listed = ", ".join(show(v) for v in counts.index[:5])
    raise DataStructureError(
        f"column {column!r} has {int(bad.sum())} non-numeric values (e.g. "
        f"{_example(values, bad)}; distinct: {listed}{' ...' if len(counts) > 5 else ''}). "
        f"Map labelled answers with levels={{{column!r}: [...]}}, recode them as missing "
        f"(NaN), or leave the column out with columns=[...]."
    )


def apply_missing_values(
    values: np.ndarray, column: str, codes: Sequence[float] | float
) -> tuple[np.ndarray, int]:
    """Set values equal to a missing-value code to NaN; returns (values, count set)."""
    codes_arr = np.atleast_1d(np.asarray(codes, dtype=np.float64))
    hit = np.isin(values, codes_arr)
    if not hit.any():
        return values, 0
    out = values.copy()
    out[hit] = np.nan
    return out, int(hit.sum())


@dataclass(frozen=True)
class ScaleCheck:
    """Values outside a declared scale: where they are and what was done."""

    values: np.ndarray
    n_out: int
    message: str


def check_scale(
    values: np.ndarray,
    rows: pd.Index,
    column: str,
    scale: tuple[float, float],
    action: OutOfRange,
) -> ScaleCheck:
    """Find values outside ``scale = (low, high)`` and apply ``action``.

    Returns the (possibly modified) values, how many were out of range and a message
    (empty when none). ``action="raise"`` raises DataStructureError.
    """
    try:
        lo, hi = (float(scale[0]), float(scale[1]))
    except (TypeError, ValueError, IndexError):
        raise SpecificationError(
            f"scales[{column!r}] must be a pair (low, high) such as (0, 10), not {scale!r}."
        ) from None
    if not lo <= hi:
        raise SpecificationError(f"scales[{column!r}] = {scale!r}: low must not exceed high.")
    out = (values < lo) | (values > hi)
    n = int(out.sum())
    if n == 0:
        return ScaleCheck(values, 0, "")
    pos = np.flatnonzero(out)
    examples = ", ".join(f"{values[p]:g} in row {show(rows[p])}" for p in pos[:3])
    msg = f"{n} values of {column!r} lie outside its scale [{lo:g}, {hi:g}], e.g. {examples}."
    if action == "raise":
        raise DataStructureError(
            msg + " Correct them, or pass out_of_range='set_missing' to treat them as missing."
        )
    if action == "set_missing":
        new = values.copy()
        new[out] = np.nan
        return ScaleCheck(new, n, msg + " They were set to missing.")
    return ScaleCheck(
        values,
        n,
        msg + " They were kept; pass out_of_range='set_missing' or 'raise' to change this.",
    )
