"""Reports of sleeppain results: tables (text, HTML, Markdown), figures, the analyze report,
and the library's one progress bar (:class:`ProgressBar`).

Names are imported lazily (PEP 562), so ``sleeppain.report._cli`` (imported by the
``sleeppain`` command) stays cheap; matplotlib is imported only when a figure is drawn.

Examples
--------
>>> import pandas as pd
>>> from sleeppain.report import format_table
>>> print(format_table(pd.DataFrame({"estimate": [-0.1234]}, index=["sleep->pain"])))
             estimate
sleep->pain    -0.123
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "GLOSSARY": "sleeppain.report._report",
    "ProgressBar": "sleeppain.report._progress",
    "ReportPaths": "sleeppain.report._report",
    "explain_warning": "sleeppain.report._report",
    "progress_callback": "sleeppain.report._progress",
    "render_display": "sleeppain.report._display",
    "write_dsem_report": "sleeppain.report._report",
    "write_report": "sleeppain.report._report",
    "effects_display": "sleeppain.report._tables",
    "format_table": "sleeppain.report._tables",
    "format_value": "sleeppain.report._tables",
    "md_escape": "sleeppain.report._tables",
    "plot_diaries": "sleeppain.report._figures",
    "plot_effects": "sleeppain.report._figures",
    "plot_person_slopes": "sleeppain.report._figures",
    "plot_within": "sleeppain.report._figures",
}

__all__ = [
    "GLOSSARY",
    "ProgressBar",
    "ReportPaths",
    "effects_display",
    "explain_warning",
    "format_table",
    "format_value",
    "md_escape",
    "plot_diaries",
    "plot_effects",
    "plot_person_slopes",
    "plot_within",
    "progress_callback",
    "render_display",
    "write_dsem_report",
    "write_report",
]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'sleeppain.report' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover
    from sleeppain.report._display import render_display
    from sleeppain.report._figures import (
        plot_diaries,
        plot_effects,
        plot_person_slopes,
        plot_within,
    )
    from sleeppain.report._progress import ProgressBar, progress_callback
    from sleeppain.report._report import (
        GLOSSARY,
        ReportPaths,
        explain_warning,
        write_dsem_report,
        write_report,
    )
    from sleeppain.report._tables import effects_display, format_table, format_value, md_escape
