"""Render a result's :class:`~sleeppain.results.Display` as text, HTML or Markdown.

This is the one renderer of result summaries: ``summary()``, ``_repr_html_()`` and
``to_markdown()`` of every result go through :func:`render_display`. Every user string
(titles, labels, values, table cells, notes) is escaped for HTML and Markdown.

Examples
--------
>>> import pandas as pd
>>> from sleeppain.results import Display, DisplayTable
>>> d = Display("Fit of <script>", header=(("Persons", "3"),),
...             tables=(DisplayTable(pd.DataFrame({"p_value": [0.0001]}, index=["x"]),
...                                  title="Effects"),),
...             notes=("a & b",))
>>> print(render_display(d, "text"))
Fit of <script>
Persons: 3
<BLANKLINE>
Effects
   p_value
x   <0.001
<BLANKLINE>
a & b
>>> "<script>" in render_display(d, "html")
False
"""

from __future__ import annotations

import html

from sleeppain.errors import SpecificationError
from sleeppain.report._tables import format_table, md_escape
from sleeppain.results import Display

__all__ = ["render_display"]


def render_display(display: Display, kind: str = "text") -> str:
    """Render ``display`` as ``"text"``, ``"html"`` or ``"markdown"``."""
    if kind == "text":
        return _text(display)
    if kind == "html":
        return _html(display)
    if kind == "markdown":
        return _markdown(display)
    raise SpecificationError(f"kind={kind!r}; use one of ['text', 'html', 'markdown'].")


def _text(d: Display) -> str:
    out = [d.title] if d.title else []
    out += [f"{k}: {v}" for k, v in d.header]
    for t in d.tables:
        out.append("")
        if t.title:
            out.append(t.title)
        out.append(format_table(t.frame, "text", digits=t.digits, header=t.header, left=t.left))
        if t.note:
            out.append(t.note)
    if d.notes:
        out.append("")
        out += list(d.notes)
    return "\n".join(out)


def _html(d: Display) -> str:
    e = html.escape
    parts = ['<div class="sleeppain-result">']
    if d.title:
        parts.append(f"<h4>{e(d.title)}</h4>")
    if d.header:
        rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in d.header)
        parts.append(f'<table class="sleeppain-header">{rows}</table>')
    for t in d.tables:
        if t.title:
            parts.append(f"<h5>{e(t.title)}</h5>")
        parts.append(format_table(t.frame, "html", digits=t.digits, header=t.header, left=t.left))
        if t.note:
            parts.append(f"<p><small>{e(t.note)}</small></p>")
    parts += [f"<p>{e(n)}</p>" for n in d.notes]
    parts.append("</div>")
    return "".join(parts)


def _markdown(d: Display) -> str:
    out = [f"### {md_escape(d.title)}"] if d.title else []
    if d.header:
        out.append("")
        out += [f"- **{md_escape(str(k))}**: {md_escape(str(v))}" for k, v in d.header]
    for t in d.tables:
        out.append("")
        if t.title:
            out += [f"**{md_escape(t.title)}**", ""]
        out.append(format_table(t.frame, "markdown", digits=t.digits, header=t.header, left=t.left))
        if t.note:
            out += ["", f"_{md_escape(t.note)}_"]
    for n in d.notes:
        out += ["", md_escape(n)]
    return "\n".join(out)
