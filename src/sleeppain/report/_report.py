"""The analyze report: ``report.html`` and ``report.md`` with PNG figures in one folder.

Everything that comes from the user's data (column names, file names, ids) is escaped
with :func:`html.escape` in the HTML and in the Markdown.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeppain.report._tables import effects_display, format_table, md_escape

__all__ = ["ReportPaths", "write_report"]


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_report`."""

    html: Path
    markdown: Path
    figures: tuple[Path, ...]


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"sleeppain: {text}", file=sys.stderr, flush=True)


def _figures(res: Any, diary: Any, out: Path, progress: bool) -> list[tuple[str, str, str]]:
    """Draw the figures; returns (file name, caption, alt text)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from sleeppain.report._figures import plot_diaries, plot_effects, plot_within

    figs: list[tuple[str, str, str]] = []
    sleep = res.spec.sleep[0]
    pain = res.spec.pain

    def save(fig: Any, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        figs.append((name, caption, caption))

    _say(progress, "drawing figures ...")
    fig, axes = plt.subplots(4, 1, figsize=(7, 7.5), squeeze=False)
    plot_diaries(diary, sleep=sleep, pain=pain, persons=4, ax=axes[:, 0])
    save(fig, "fig_diaries.png", f"Four persons' diaries: {pain} by day and {sleep} by night")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    plot_within(res, "sleep->pain", sleep, ax=axes[0])
    plot_within(res, "pain->sleep", sleep, ax=axes[1])
    save(
        fig,
        "fig_within.png",
        f"Within-person scatter: {sleep} (night n) vs next-day {pain}, and {pain} (day n) "
        "vs that night's sleep, with the fitted cross-lagged slopes",
    )
    fig, ax = plt.subplots(figsize=(6, 1.2 + 0.5 * len(res.effects())))
    plot_effects(res, standardized=True, ax=ax)
    save(fig, "fig_effects.png", "Standardised within-person cross-lagged effects (95% CI)")
    if res.spec.estimator == "lmm" and res.spec.random_slopes:
        slopes = res.person_effects()
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        slopes.plot(direction="sleep->pain", sleep=sleep, ax=axes[0])
        slopes.plot(direction="pain->sleep", sleep=sleep, ax=axes[1])
        save(
            fig,
            "fig_person_slopes.png",
            "Distribution of person-specific slopes (fixed effect + conditional mode)",
        )
    return figs


def write_report(
    res: Any,
    diary: Any,
    out_dir: str | os.PathLike[str],
    *,
    source: str = "",
    comparison: Any = None,
    warnings_text: list[str] | None = None,
    progress: bool = False,
) -> ReportPaths:
    """Write ``report.html``, ``report.md`` and the PNG figures of a crosslag result.

    Parameters
    ----------
    res : CrossLagResult
    diary : Diary
        The diary analysed (for the over-time figure).
    out_dir : path-like
        Folder (created when absent).
    source : str
        Where the data came from (a file name), shown escaped.
    comparison : DirectionComparison, optional
        Result of ``res.compare()`` to include.
    warnings_text : list of str, optional
        Warnings to list.
    progress : bool
        Report steps on stderr.

    Returns
    -------
    ReportPaths

    Examples
    --------
    >>> import tempfile, sleeppain as sp
    >>> sim = sp.simulate.diary(30, 10, seed=1)
    >>> d = sp.Diary.from_frame(sim.data, id="id", day="day", sleep="sleep_quality")
    >>> res = sp.crosslag(d, sleep="sleep_quality", pain="pain", estimator="gee")
    >>> paths = write_report(res, d, tempfile.mkdtemp())
    >>> paths.html.name, len(paths.figures)
    ('report.html', 3)
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = _figures(res, diary, out, progress)
    eff = effects_display(res.effects())
    spec_lines = res.spec.describe()
    acc_lines = res.accounting_text().splitlines()
    title = "sleeppain: bidirectional analysis of sleep and pain"
    warnings_text = list(warnings_text or [])

    # ---- HTML
    h = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;}"
        "table{border-collapse:collapse;}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:right;}img{max-width:100%;}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if source:
        h.append(f"<p>Data: <code>{html.escape(source)}</code></p>")
    h.append("<h2>Models</h2><ul>")
    h += [f"<li>{html.escape(x)}</li>" for x in spec_lines]
    h.append("</ul><h2>Data accounting</h2><ul>")
    h += [f"<li>{html.escape(x)}</li>" for x in acc_lines]
    h.append("</ul><h2>Within-person cross-lagged effects</h2>")
    h.append(format_table(eff, "html"))
    if res.multiplicity_note():
        h.append(f"<p>{html.escape(res.multiplicity_note())}</p>")
    if comparison is not None:
        h.append("<h2>Which direction is stronger</h2>")
        h.append(format_table(comparison.table, "html"))
        h.append(f"<p>{html.escape(comparison.method)}</p>")
    if res.spec.estimator == "lmm" and res.spec.random_slopes:
        h.append("<h2>Person-specific slopes</h2>")
        h.append(
            format_table(res.person_effects().shares.set_index(["sleep", "direction"]), "html")
        )
    ext = res.extensions()
    if len(ext):
        h.append("<h2>Extensions</h2>")
        h.append(format_table(ext.set_index(["sleep", "extension", "direction", "term"]), "html"))
    h.append("<h2>Figures</h2>")
    for name, caption, alt in figs:
        h.append(
            f'<figure><img src="{html.escape(name)}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    if warnings_text or res.fit_warnings:
        h.append("<h2>Warnings</h2><ul>")
        h += [f"<li>{html.escape(w)}</li>" for w in warnings_text]
        h += [f"<li>{html.escape(f'{m}: {c}: {msg}')}</li>" for m, c, msg in res.fit_warnings]
        h.append("</ul>")
    h.append("</body></html>")
    html_path = out / "report.html"
    html_path.write_text("\n".join(h), encoding="utf-8")

    # ---- Markdown
    md = md_escape

    m = [f"# {title}", ""]
    if source:
        safe_source = md(source).replace("`", "'")
        m += [f"Data: `{safe_source}`", ""]
    m += ["## Models", ""] + [f"- {md(x)}" for x in spec_lines] + [""]
    m += ["## Data accounting", ""] + [f"- {md(x)}" for x in acc_lines] + [""]
    m += ["## Within-person cross-lagged effects", "", format_table(eff, "markdown"), ""]
    if res.multiplicity_note():
        m += [md(res.multiplicity_note()), ""]
    if comparison is not None:
        m += [
            "## Which direction is stronger",
            "",
            format_table(comparison.table, "markdown"),
            "",
            md(comparison.method),
            "",
        ]
    if res.spec.estimator == "lmm" and res.spec.random_slopes:
        shares = res.person_effects().shares.set_index(["sleep", "direction"])
        m += ["## Person-specific slopes", "", format_table(shares, "markdown"), ""]
    if len(ext):
        m += [
            "## Extensions",
            "",
            format_table(ext.set_index(["sleep", "extension", "direction", "term"]), "markdown"),
            "",
        ]
    m += ["## Figures", ""]
    for name, caption, _ in figs:
        m += [f"![{md(caption)}]({name})", "", f"*{md(caption)}*", ""]
    if warnings_text or res.fit_warnings:
        m += ["## Warnings", ""] + [f"- {md(w)}" for w in warnings_text]
        m += [f"- {md(f'{mm}: {c}: {msg}')}" for mm, c, msg in res.fit_warnings]
    md_path = out / "report.md"
    md_path.write_text("\n".join(m) + "\n", encoding="utf-8")
    return ReportPaths(html_path, md_path, tuple(out / n for n, _, _ in figs))
