"""Recognise Dask collections without importing Dask (ground floor, beside ``errors.py``).

Only ``sp.lmm`` (one grouping factor) and ``sp.crosslag`` (through ``sp.Diary.from_dask``)
read a ``dask.dataframe.DataFrame`` partition by partition. Every other entry point that
needs a pandas DataFrame calls :func:`require_pandas` first, so a Dask frame is refused
with a typed error instead of being silently ``.compute()``-d (100M rows into memory).

Examples
--------
>>> import pandas as pd
>>> is_dask_frame(pd.DataFrame({"a": [1]}))
False
>>> require_pandas(pd.DataFrame({"a": [1]}), "sp.network") is None
True
"""

from __future__ import annotations

from typing import Any

from sleeppain.errors import DataStructureError

__all__ = ["is_dask_frame", "require_pandas"]


def is_dask_frame(obj: Any) -> bool:
    """Whether ``obj`` is a Dask DataFrame or Series (checked without importing Dask).

    Examples
    --------
    >>> is_dask_frame([1, 2])
    False
    """
    roots = {(c.__module__ or "").split(".")[0] for c in type(obj).__mro__}
    return bool(roots & {"dask", "dask_expr"}) and hasattr(obj, "npartitions")


def require_pandas(data: Any, where: str) -> None:
    """Refuse a Dask DataFrame where an in-memory pandas DataFrame is needed.

    Parameters
    ----------
    data : object
        What the user passed.
    where : str
        The entry point, e.g. ``"sp.network"``, named in the message.

    Raises
    ------
    DataStructureError
        ``data`` is a Dask collection.

    Examples
    --------
    >>> require_pandas({"a": [1]}, "sp.dsem") is None
    True
    """
    if is_dask_frame(data):
        raise DataStructureError(
            f"{where} needs an in-memory pandas DataFrame, but got a Dask "
            f"{type(data).__name__} with {data.npartitions} partitions; sleeppain does not "
            "call .compute() for you (it could pull the whole table into memory). On Dask, "
            "sp.lmm (one grouping factor) and sp.crosslag (via sp.Diary.from_dask) run "
            "partition by partition; for other analyses select the rows or persons you "
            "need and call .compute() yourself, e.g. ddf[ddf.id.isin(ids)].compute()."
        )
