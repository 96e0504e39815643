"""Bring a user's table into the plain pandas form the diary reads.

* polars DataFrames, pyarrow Tables and any object with ``to_pandas()`` are converted
  (the documented conversion; neither library is a dependency of sleeppain);
* column labels become strings (integer labels such as ``0, 1, 2`` are read as ``"0"``...);
  hierarchical (MultiIndex) columns are refused with the one-line fix;
* pyarrow-backed columns (``df.convert_dtypes(dtype_backend="pyarrow")``, ``date32``) become
  numpy-backed columns of the same meaning.

Examples
--------
>>> import pandas as pd
>>> as_pandas(pd.DataFrame({0: [1], 1: [2]}), "Diary.from_frame").columns.tolist()
['0', '1']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import DataStructureError, SpecificationError

__all__ = ["as_pandas", "type_name"]


def type_name(obj: Any) -> str:
    """``module.Class`` of an object, e.g. ``polars.dataframe.frame.DataFrame``."""
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _convert(obj: Any, where: str) -> pd.DataFrame:
    to_pandas = getattr(obj, "to_pandas", None)
    if callable(to_pandas):
        try:
            out = to_pandas()
        except ImportError as exc:
            raise SpecificationError(
                f"{where}: got a {type_name(obj)}, whose to_pandas() needs a package that is "
                f"not installed ({exc}). Install pyarrow (pip install pyarrow), or convert it "
                "yourself: pd.DataFrame(df.to_dict(as_series=False)) for polars."
            ) from None
        if isinstance(out, pd.DataFrame):
            return out
    raise SpecificationError(
        f"{where}: expected a pandas DataFrame, got a {type_name(obj)}. Convert it first, "
        "e.g. df.to_pandas() (polars, pyarrow) or pd.DataFrame(data); for a file use "
        "Diary.from_csv."
    )


def _arrow_to_numpy(col: pd.Series) -> pd.Series:
    """A pyarrow-backed column as the numpy-backed column pandas users know."""
    dtype = col.dtype
    if not isinstance(dtype, pd.ArrowDtype):
        return col
    import pyarrow as pa  # present whenever an ArrowDtype exists

    t = dtype.pyarrow_dtype
    if pa.types.is_date(t):
        return col.astype("datetime64[s]")  # day resolution: any year 1-9999 fits
    if pa.types.is_timestamp(t):
        unit = t.unit if t.unit in ("s", "ms", "us", "ns") else "us"
        target = pd.DatetimeTZDtype(unit, t.tz) if t.tz else f"datetime64[{unit}]"
        return col.astype(target)
    if pa.types.is_boolean(t):
        return col.astype("boolean")
    if pa.types.is_integer(t):
        return col.astype("Int64")
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return pd.Series(
            col.to_numpy(dtype=np.float64, na_value=np.nan), index=col.index, name=col.name
        )
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col.astype(object).where(col.notna(), None)
    if pa.types.is_dictionary(t):
        return col.astype(object).where(col.notna(), None)
    return col


def as_pandas(df: Any, where: str) -> pd.DataFrame:
    """Check and normalise a user's table (see the module notes).

    Parameters
    ----------
    df : DataFrame-like
        pandas DataFrame, or an object with ``to_pandas()`` (polars, pyarrow).
    where : str
        The caller, for messages (``"Diary.from_frame"``).

    Returns
    -------
    DataFrame
        With string column labels and numpy-backed columns (a shallow copy when changed).

    Raises
    ------
    SpecificationError
        Not a table, or a conversion needs a missing package.
    DataStructureError
        Hierarchical columns, or labels that become duplicates as text (``1`` and ``"1"``).
    """
    if not isinstance(df, pd.DataFrame):
        df = _convert(df, where)
    if isinstance(df.columns, pd.MultiIndex):
        example = next(iter(df.columns), ())
        raise DataStructureError(
            f"{where}: the data have hierarchical (MultiIndex) column labels such as "
            f"{example!r}; name each column once. Flatten them first, e.g. df.columns = "
            "['_'.join(map(str, c)) for c in df.columns]."
        )
    labels = [str(c) for c in df.columns]
    changed = any(not isinstance(c, str) for c in df.columns)
    if changed and len(set(labels)) != len(labels):
        seen: dict[str, Any] = {}
        for orig, lab in zip(df.columns, labels, strict=True):
            if lab in seen:
                raise DataStructureError(
                    f"{where}: the column labels {seen[lab]!r} and {orig!r} read the same as "
                    f"text ({lab!r}); rename one of them."
                )
            seen[lab] = orig
    if df.columns.duplicated().any():
        dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DataStructureError(f"the data have duplicated column names {dup}; rename them.")
    arrow = [c for c, t in df.dtypes.items() if isinstance(t, pd.ArrowDtype)]
    if not changed and not arrow:
        return df
    out = df.copy(deep=False)
    for c in arrow:
        out[c] = _arrow_to_numpy(df[c])
    if changed:
        out.columns = pd.Index(labels, dtype=object)
    return out
