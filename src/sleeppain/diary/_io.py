"""Reading a table from a file with one-line, typed errors.

:func:`read_table` is the one reader behind :meth:`Diary.from_csv` and the command line: it
sniffs the delimiter (``,``, ``;``, tab or ``|``) unless one is given, reads the person-id
column as text (so ``012`` and ``12`` stay two ids), and turns every failure (missing file, a
folder, an empty or truncated file, a wrong encoding, a malformed table) into an
:class:`~sleeppain.errors.InputFileError` naming the file and the fix.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
>>> with open(path, "w") as f:
...     _ = f.write("id;day;pain\\n012;1;3,5\\n12;1;4\\n")
>>> read_table(path, decimal=",", text_columns=["id"]).to_dict("list")
{'id': ['012', '12'], 'day': [1, 1], 'pain': [3.5, 4.0]}
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

import pandas as pd

from sleeppain.errors import InputFileError

__all__ = ["SNIFF_DELIMITERS", "read_table", "sniff_delimiter"]

#: Delimiters recognised when ``sep`` is not given.
SNIFF_DELIMITERS = ",;\t|"

_SAMPLE_CHARS = 64_000

_OPENERS: dict[str, Callable[..., IO[Any]]] = {
    ".gz": gzip.open,
    ".bz2": bz2.open,
    ".xz": lzma.open,
}


def _flag(names: Mapping[str, str] | None, key: str, default: str) -> str:
    return (names or {}).get(key, default)


def _opener(path: str) -> Callable[..., IO[Any]]:
    for ext, fn in _OPENERS.items():
        if path.lower().endswith(ext):
            return fn
    return open


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample among :data:`SNIFF_DELIMITERS` (``","`` if unsure).

    Examples
    --------
    >>> sniff_delimiter("a;b;c\\n1;2,5;3\\n")
    ';'
    """
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in SNIFF_DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _fail(path: str, what: str, fix: str) -> InputFileError:
    return InputFileError(f"cannot read {path}: {what}. {fix}")


def _enc_name(encoding: str) -> str:
    return (
        "UTF-8"
        if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig", "utf8")
        else (encoding)
    )


def _check_compressed(path: str) -> None:
    """A file named .gz that is not gzip data: say so (it is usually plain text)."""
    if not path.lower().endswith(".gz"):
        return
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        raise _fail(
            path,
            f"it is named .gz but is not gzip-compressed (it starts with {magic!r})",
            "Rename it without .gz if it is plain text, or compress it with gzip.",
        )


def _read_sample(path: str, encoding: str, enc_flag: str) -> str:
    opener = _opener(path)
    try:
        _check_compressed(path)
        with opener(path, "rt", encoding=encoding, newline="") as fh:
            return fh.read(_SAMPLE_CHARS)
    except UnicodeDecodeError as exc:
        raise _fail(
            path,
            f"it is not {_enc_name(encoding)} text (byte "
            f"{exc.object[exc.start : exc.start + 1]!r} at "
            f"position {exc.start})",
            f"Pass its encoding, e.g. {enc_flag}latin-1 (or cp1252, utf-16).",
        ) from None
    except PermissionError:
        raise _fail(path, "no permission to read it", "Check the file's permissions.") from None
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError, lzma.LZMAError) as exc:
        if opener is open:
            raise _fail(path, f"it cannot be read ({exc})", "Check the file.") from None
        raise _fail(
            path,
            f"the compressed file is truncated or damaged ({exc})",
            "Download or copy it again, or decompress it to check it.",
        ) from None


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    sep: str | None = None,
    decimal: str = ".",
    text_columns: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a delimited text file (optionally ``.gz``, ``.bz2``, ``.xz``) into a DataFrame.

    Parameters
    ----------
    path : path-like
    encoding : str, optional
        Text encoding (default UTF-8, with or without a byte-order mark).
    sep : str, optional
        Delimiter; default: sniffed among ``,``, ``;``, tab and ``|``.
    decimal : str
        Decimal mark of the numbers (``","`` for ``3,5``).
    text_columns : sequence of str
        Columns read as text whatever they look like (person ids: ``012`` stays ``"012"``).
    options : dict, optional
        More keyword arguments for :func:`pandas.read_csv`; they win over the above.
    flags : dict, optional
        How to name ``encoding``/``sep``/``decimal`` in messages (the command line passes
        ``{"encoding": "--encoding "}``; default the keyword, ``encoding=``).

    Returns
    -------
    DataFrame

    Raises
    ------
    InputFileError
        The file is missing, a folder, empty, truncated, not in the encoding, or not a table.
    """
    path = os.fspath(path)
    enc_flag = _flag(flags, "encoding", "encoding=")
    sep_flag = _flag(flags, "sep", "sep=")
    if not os.path.exists(path):
        raise InputFileError(f"file not found: {path}. Check the path and the working folder.")
    if os.path.isdir(path):
        raise _fail(path, "it is a folder, not a file", "Name the CSV file inside it.")
    if os.path.getsize(path) == 0:
        raise _fail(path, "the file is empty (0 bytes)", "Check that it was written completely.")
    enc = encoding or "utf-8-sig"
    try:
        "".encode(enc)
    except LookupError:
        raise InputFileError(
            f"{enc_flag}{encoding} is not a known text encoding; use e.g. utf-8, latin-1 or cp1252."
        ) from None
    sample = _read_sample(path, enc, enc_flag)
    if not sample.strip():
        raise _fail(path, "it holds no data (only blank lines)", "Check the file.")
    delimiter = sep if sep is not None else sniff_delimiter(sample)
    kwargs: dict[str, Any] = {"sep": delimiter, "encoding": enc, "decimal": decimal}
    if text_columns:
        kwargs["dtype"] = dict.fromkeys(text_columns, str)
    kwargs.update(dict(options or {}))
    try:
        return pd.read_csv(path, **kwargs)
    except UnicodeDecodeError as exc:
        raise _fail(
            path,
            f"it is not {_enc_name(enc)} text (byte {exc.object[exc.start : exc.start + 1]!r} at "
            f"position {exc.start})",
            f"Pass its encoding, e.g. {enc_flag}latin-1.",
        ) from None
    except pd.errors.EmptyDataError:
        raise _fail(path, "it has no columns to read", "Check the file.") from None
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split())
        raise _fail(
            path,
            f"it is not a regular table with delimiter {delimiter!r} ({detail})",
            f"Pass the delimiter, e.g. {sep_flag}';', or fix the line named.",
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as exc:
        raise _fail(
            path,
            f"the compressed file is truncated or damaged ({exc})",
            "Download or copy it again, or decompress it to check it.",
        ) from None
