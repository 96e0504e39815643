"""Tables as text, HTML or Markdown, with every cell and header escaped for its format.

Examples
--------
>>> import pandas as pd
>>> from sleeppain.report import format_table
>>> df = pd.DataFrame({"<b>x</b>": [1.23456]}, index=["a|b"])
>>> print(format_table(df, "markdown"))
|  | &lt;b>x&lt;/b> |
|---|---|
| a\\|b | 1.235 |
>>> "&lt;b&gt;" in format_table(df, "html")
True
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError

__all__ = ["effects_display", "format_p", "format_table", "format_value", "md_escape"]

_KINDS = ("text", "html", "markdown")
_P_COLUMNS = {"p_value", "p_holm", "Pr(>|t|)", "p"}


def md_escape(text: str) -> str:
    """Escape text for Markdown: ``&``, ``<`` (no raw HTML can form) and ``|`` (tables).

    ``>`` is kept, so ``sleep->pain`` stays readable.

    Examples
    --------
    >>> print(md_escape("<b>a|b</b> -> c & d"))
    &lt;b>a\\|b&lt;/b> -> c &amp; d
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def format_value(value: Any, column: str = "", digits: int = 3) -> str:
    """One cell as text: floats to ``digits`` significant places, p-values as ``<0.001``.

    Examples
    --------
    >>> format_value(0.00001, "p_value"), format_value(12345.678), format_value(np.inf)
    ('<0.001', '12346', 'inf')
    """
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}" if abs(int(value)) >= 10000 else str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if column in _P_COLUMNS:
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        if abs(v) >= 10**digits:
            return f"{v:.0f}"
        if v != 0 and abs(v) < 10**-digits:
            return f"{v:.2e}"
        return f"{v:.{digits}f}"
    return str(value)


def format_p(p: Any) -> str:
    """A p-value for running text: ``"p = 0.046"``, ``"p < 0.001"`` (``"p = NA"`` if missing).

    Uses :func:`format_value`, so tables and text print p-values the same way.

    Examples
    --------
    >>> format_p(0.0456), format_p(1e-9), format_p(float("nan"))
    ('p = 0.046', 'p < 0.001', 'p = NA')
    """
    text = format_value(p, "p_value")
    if text == "":
        return "p = NA"
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def _cells(df: pd.DataFrame, digits: int) -> tuple[list[str], list[str], list[list[str]]]:
    index_names = [str(n) if n is not None else "" for n in df.index.names]
    headers = [str(c) for c in df.columns]
    rows = []
    for idx, row in zip(df.index, df.itertuples(index=False), strict=True):
        keys = list(idx) if isinstance(idx, tuple) else [idx]
        rows.append(
            [str(k) for k in keys]
            + [format_value(v, str(c), digits) for c, v in zip(df.columns, row, strict=True)]
        )
    return index_names, headers, rows


def format_table(
    df: pd.DataFrame,
    kind: str = "text",
    *,
    digits: int = 3,
    index: bool = True,
    header: bool = True,
    left: bool = False,
) -> str:
    """Render a DataFrame as aligned text, an HTML table or a Markdown table.

    Parameters
    ----------
    df : DataFrame
    kind : {"text", "html", "markdown"}
    digits : int
        Decimal places of floats (p-values: 3, with ``<0.001``).
    index : bool
        Include the index as the first column(s).
    header : bool
        Include the header row (column names). Markdown always has one (left empty here).
    left : bool
        Left-align every column of the text table (a key-value list); by default the index
        is left-aligned and the values right-aligned.

    Returns
    -------
    str
        HTML and Markdown escape every header and cell (``html.escape``; ``|`` in Markdown),
        so column names from user data cannot inject markup.
    """
    if kind not in _KINDS:
        raise SpecificationError(f"kind={kind!r}; use one of {list(_KINDS)}.")
    if not isinstance(df, pd.DataFrame):
        raise SpecificationError(f"format_table needs a DataFrame, got {type(df).__name__}.")
    index_names, headers, rows = _cells(df, digits)
    if not index:
        k = len(index_names)
        index_names, rows = [], [r[k:] for r in rows]
    head = index_names + headers
    if kind == "text":
        widths = [
            max([len(h) if header else 0] + [len(r[i]) for r in rows]) for i, h in enumerate(head)
        ]
        n_idx = len(index_names)

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if (i < n_idx or left) else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        return "\n".join([*([line(head)] if header else []), *(line(r) for r in rows)])
    if kind == "markdown":

        def esc(c: str) -> str:
            return md_escape(c).replace("\n", " ")

        shown = head if header else [""] * len(head)
        out = ["| " + " | ".join(esc(h) for h in shown) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
        return "\n".join(out)
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    thead = f"<thead><tr>{th}</tr></thead>" if header else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f'<div class="sleeppain-table"><table>{thead}<tbody>{body}</tbody></table></div>'


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``CrossLagResult.effects()`` worth printing, in reading order."""
    cols = [
        "estimate",
        "std_error",
        "conf_low",
        "conf_high",
        "df",
        "p_value",
        "p_holm",
        "std_estimate",
        "slope_sd",
        "n_obs",
        "n_persons",
    ]
    out = effects[[c for c in cols if c in effects.columns]].copy()
    if (
        "p_holm" in out
        and "p_value" in out
        and np.allclose(
            out["p_holm"].to_numpy(float), out["p_value"].to_numpy(float), equal_nan=True
        )
    ):
        out = out.drop(columns="p_holm")
    if "slope_sd" in out and out["slope_sd"].isna().all():
        out = out.drop(columns="slope_sd")
    return out
