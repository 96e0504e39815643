"""The analyze report: ``report.html`` and ``report.md`` with PNG figures in one folder.

The report is built once as a list of sections (heading + paragraphs, lists and tables)
and rendered to HTML and Markdown from that one description. Everything that comes from
the user's data (column names, file names, ids) is escaped in both.

Sections: when each sleep rating was taken (with an example row of the data), what the
results mean in plain words, the short-diary caveat, models, accounting, tables, figures,
every warning with a plain explanation, and a glossary.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.report._tables import effects_display, format_table, md_escape

__all__ = [
    "GLOSSARY",
    "ReportPaths",
    "explain_warning",
    "plain_summary",
    "write_dsem_report",
    "write_report",
]


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_report`."""

    html: Path
    markdown: Path
    figures: tuple[Path, ...]


#: Terms of the report, explained for a reader who is not a statistician.
GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "estimate",
        "The average within-person effect: how much the outcome changes, in its own rating "
        "points, when the predictor is one point above the person's own usual level.",
    ),
    (
        "std_estimate",
        "The same effect on a common scale: the estimate multiplied by the typical "
        "within-person swing of the predictor and divided by that of the outcome (both "
        "standard deviations of day-to-day deviations from the person's mean). It lets the "
        "two directions be compared although sleep and pain are rated on different scales; "
        "0.1 is small, 0.3 moderate.",
    ),
    (
        "slope_sd",
        "How much persons differ in the effect: the standard deviation, across persons, of "
        "their own slopes (from the random slope of the mixed model). About 95% of persons "
        "have a slope within two slope_sd of the average. Near 0: everyone shows about the "
        "same effect.",
    ),
    (
        "person-specific slopes",
        "Each person's own effect, estimated as the average effect plus the person's "
        "deviation from it (a shrunken estimate that borrows strength from the other "
        "persons). A person 'credibly' shows an effect when their own 95% prediction "
        "interval, which includes the uncertainty of the average effect, excludes 0.",
    ),
    (
        "direction comparison",
        "Whether sleep -> pain is stronger than pain -> sleep: the difference of the two "
        "absolute standardised effects, with an interval from resampling persons "
        "(bootstrap). 'neither' means the data cannot tell the two apart.",
    ),
    (
        "conf_low / conf_high",
        "The 95% confidence interval: the range of effects compatible with the data.",
    ),
    (
        "df, p_value",
        "Degrees of freedom (Satterthwaite, as lmerTest) and the p-value of the test that "
        "the average effect is 0. p_holm adjusts for testing several sleep measures.",
    ),
)

_EXPLAIN = {
    "BoundaryFitWarning": (
        "A variance of the model was estimated at zero (a 'singular' or boundary fit), "
        "usually because persons hardly differ in the effect. The average effects and their "
        "intervals remain valid; person-specific slopes are then all equal to the average. "
        "Nothing needs to be done. If the slope SD is 0, --no-random-slopes "
        "(random_slopes=False) fits the simpler model with the same average effect; if you "
        "chose --outcome-mean (outcome_mean=True), the default model avoids this."
    ),
    "ConvergenceWarning": (
        "The fitting algorithm reported numerical trouble. Check that the effect is similar "
        "with --no-random-slopes (random_slopes=False) or with --estimator gee; if it is, "
        "the result can be trusted."
    ),
    "LagCoverageWarning": (
        "Some persons have no two consecutive days with both ratings, so they cannot "
        "contribute a lagged pair and are left out. More complete diaries, or checking the "
        "day column, would bring them in."
    ),
    "ScaleWarning": (
        "Some ratings lie outside the declared scale (for example a pain rating of 11 on a "
        "0-10 scale). They were kept; correct them in the data, or pass "
        "out_of_range='set_missing' to leave them out."
    ),
    "DataDropWarning": (
        "Some input rows could not be used (for example a missing id or day); they are "
        "counted in the data accounting."
    ),
}


#: plain explanation of a random slope dropped at a zero SD (sp.crosslag's default)
RESIDUAL_NOTE = (
    "Today's unexplained pain (or sleep) partly carries over into tomorrow's. The model "
    "lets the within-person residuals of days k apart correlate phi^k (nlme's corAR1; "
    "corCAR1 for prompts at fractions of a day), so the intervals allow for it. A missing "
    "day is a gap, never a neighbour. With the outcome's own previous value also in the "
    "model, phi and the autoregression share the carry-over: read them together, not apart."
)

#: plain explanation of a direction with a binary outcome (family="binomial")
BINARY_NOTE = (
    "The outcome of this direction is yes/no (for example a flare day), so the model is "
    "logistic: its estimate is the change in the log-odds of a 'yes', and odds_ratio is how "
    "many times the odds are multiplied (1 = no change; 1.5 = half as high again). Odds "
    "ratios are not on the rating scale of the other direction, so no standardised effect "
    "is given and the two directions are not compared by size."
)

#: glossary entry shown when a direction has a binary outcome
ODDS_RATIO_ENTRY = (
    "odds_ratio",
    "For a yes/no outcome (a flare day): how many times the odds of a 'yes' are multiplied "
    "when the predictor is one point above the person's usual level; 1 means no change, "
    "below 1 fewer, above 1 more. or_conf_low / or_conf_high are its 95% interval.",
)

ZERO_SLOPE_NOTE = (
    "The data show no detectable person-to-person differences in this effect beyond chance, "
    "so the model with a person-specific slope is the same as the simpler model without it, "
    "which is reported (Bates, Kliegl, Vasishth and Baayen 2015). The average effect and its "
    "interval are unchanged. Persons may still differ a little; a longer or larger diary "
    "would be needed to see it."
)


def explain_warning(category: str) -> str:
    """A plain explanation of a warning category and what to do about it.

    Examples
    --------
    >>> explain_warning("LagCoverageWarning").startswith("Some persons")
    True
    """
    return _EXPLAIN.get(
        category,
        "Read the message: it says what happened and where. The results are still reported.",
    )


# ----------------------------------------------------------------------- plain words
def _fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def _sure(p: float, lo: float, hi: float) -> str:
    if not np.isfinite(p):
        return "The precision of this estimate could not be computed."
    if lo > 0 or hi < 0:
        strength = "strong" if p < 0.001 else "clear"
        return (
            f"The interval excludes 0 (p {'< 0.001' if p < 0.001 else f'= {p:.3f}'}): "
            f"{strength} evidence of an average effect in this direction."
        )
    return (
        f"The interval includes 0 (p = {p:.2f}): the data are compatible with no average "
        "effect, and also with a small one either way."
    )


def _odds_sentence(
    res: Any, s: str, d: str, b: float, lo: float, hi: float, higher: str | None
) -> str:
    """The first sentence for a binary outcome: an odds ratio, not rating points."""
    pain = res.spec.pain
    if d == "sleep->pain":
        sign = -1.0 if higher == "better" else 1.0
        what = (
            f"a night rated one point worse than the person's usual {s}"
            if higher is not None
            else f"a night one point higher than the person's usual {s}"
        )
        if "pain->sleep" in res.spec.binary:
            sign, what = 1.0, f"a night with {s} = 1 (rather than 0)"
        event = f"next-day {pain} (a day with {pain} = 1)"
    else:
        sign = 1.0
        what = (
            f"a day with {pain} = 1 (rather than 0)"
            if "sleep->pain" in res.spec.binary
            else f"a day with {pain} one point above the person's usual"
        )
        event = f"{s} = 1 that night"
    ratio = float(np.exp(sign * b))
    ci = sorted((float(np.exp(sign * lo)), float(np.exp(sign * hi))))
    return (
        f"After {what}, the odds of {event} were {_fmt(ratio)} times the odds after a usual "
        f"one (odds ratio; 95% interval {_fmt(ci[0])} to {_fmt(ci[1])}; 1 means no change)."
    )


def plain_summary(res: Any) -> list[tuple[str, list[str]]]:
    """Two or three plain sentences per direction (and sleep measure).

    Returns
    -------
    list of (heading, sentences)
    """
    eff = res.effects()
    shares = None
    if res.spec.estimator == "lmm" and res.spec.random_slopes:
        shares = res.person_effects().shares.set_index(["sleep", "direction"])
    out = []
    for s in res.spec.sleep:
        higher = dict(res.spec.sleep_higher_is).get(s)
        for d in ("sleep->pain", "pain->sleep"):
            r = eff.loc[d] if len(res.spec.sleep) == 1 else eff.loc[(s, d)]
            b, lo, hi, p = (float(r[c]) for c in ("estimate", "conf_low", "conf_high", "p_value"))
            pain = res.spec.pain
            binary = d in getattr(res.spec, "binary", ())
            if binary:
                first = _odds_sentence(res, s, d, b, lo, hi, higher)
            elif d == "sleep->pain":
                if higher is not None:
                    # one point worse sleep
                    sign = -1.0 if higher == "better" else 1.0
                    what = f"a night rated one point worse than the person's usual {s}"
                elif "pain->sleep" in getattr(res.spec, "binary", ()):
                    sign = 1.0
                    what = f"a night with {s} = 1 (rather than 0)"
                else:
                    sign = 1.0
                    what = f"a night one point higher than the person's usual {s}"
                change = sign * b
                ci = sorted((sign * lo, sign * hi))
                first = (
                    f"After {what}, next-day {pain} was on average {_fmt(abs(change))} rating "
                    f"points {'higher' if change > 0 else 'lower'} (95% interval "
                    f"{_fmt(ci[0])} to {_fmt(ci[1])} points)."
                )
            else:
                what = (
                    f"a day with {pain} = 1 (rather than 0)"
                    if "sleep->pain" in getattr(res.spec, "binary", ())
                    else f"a day with {pain} one point above the person's usual"
                )
                tail = ""
                if higher is not None:
                    worse = (b < 0) if higher == "better" else (b > 0)
                    tail = f", i.e. {'worse' if worse else 'better'} sleep"
                first = (
                    f"After {what}, that night's {s} was on average {_fmt(abs(b))} points "
                    f"{'higher' if b > 0 else 'lower'}{tail} (95% interval {_fmt(lo)} to "
                    f"{_fmt(hi)})."
                )
            sentences = [first]
            if shares is not None:
                sh = shares.loc[(s, d)]
                n = int(sh["n_persons"])
                same = "share_negative" if b < 0 else "share_positive"
                cred = "share_credibly_negative" if b < 0 else "share_credibly_positive"
                sentences.append(
                    f"{round(sh[same] * n)} of {n} persons have a person-specific slope in "
                    f"the same direction as the average; for {round(sh[cred] * n)} of them "
                    "the person's own 95% interval excludes 0."
                )
            sentences.append(_sure(p, lo, hi))
            out.append((f"{d} ({s})", sentences))
    return out


def _day_text(label: Any, kind: str) -> str:
    if kind == "date":
        ts = pd.Timestamp(label)
        return f"{ts:%a} {ts.day} {ts:%B %Y}"
    return f"study day {label}"


def timing_example(res: Any, diary: Any) -> str:
    """One sentence with a real row: which night a sleep rating was attributed to.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.simulate.diary(5, 5, seed=1)
    >>> d = sp.Diary.from_frame(sim.data, id="id", day="date", sleep="sleep_quality")
    >>> res = sp.crosslag(d, pain="pain", estimator="gee")
    >>> timing_example(res, d).startswith("Example from your data")
    True
    """
    sleep = res.spec.sleep[0]
    data = diary.data
    ok = data[sleep].notna().to_numpy()
    if not ok.any():
        return ""
    # the first observed night that is followed by a canonical row (its entry day)
    idx = int(np.flatnonzero(ok)[min(1, int(ok.sum()) - 1)])
    row = data.iloc[idx]
    kind = getattr(diary, "day_kind", "integer")
    night = row["day_label"]
    step = pd.Timedelta(days=1) if kind == "date" else 1
    after = night + step
    entered = after if diary.sleep_timing == "previous_night" else night
    value = row[sleep]
    return (
        f"Example from your data: the {sleep} rating {value:g} of person {row['id']} entered "
        f"on {_day_text(entered, kind)} describes the night of {_day_text(night, kind)} to "
        f"{_day_text(after, kind)}, and is paired with {res.spec.pain} of "
        f"{_day_text(after, kind)} (sleep -> next-day pain) and of {_day_text(night, kind)} "
        "(pain -> that night's sleep)."
    )


def timing_section(res: Any, diary: Any) -> list[str]:
    """The timing convention in words, with an example row, and why it matters."""
    if res.spec.sleep_timing == "previous_night":
        rule = (
            "Each sleep rating was attributed to the night BEFORE the day it was entered "
            "(a morning diary: sleep_timing='previous_night', --sleep-timing previous-night)."
        )
        other = "following-night"
    else:
        rule = (
            "Each sleep rating was attributed to the night AFTER the day it was entered "
            "(an evening diary: sleep_timing='following_night', --sleep-timing "
            "following-night)."
        )
        other = "previous-night"
    return [
        rule,
        timing_example(res, diary),
        "Check this against how your diary was asked. If it is wrong, rerun with "
        f"--sleep-timing {other}: the wrong convention pairs each night with the wrong "
        "day and can reverse the answer without any error message.",
    ]


#: Below this median number of days entered per person the report recommends sp.dsem
#: (issue: short diaries bias manifest person-mean centring; Hamaker & Grasman 2015).
SHORT_DIARY_DAYS = 21


def short_diary_caveat(res: Any) -> str:
    """The caveat on short diaries (person-mean centring), pointing to sp.dsem."""
    from sleeppain.analysis._api import dsem_available

    acc = res.diary_accounting
    per_person = getattr(acc, "days_entered_per_person", None) if acc is not None else None
    median = None
    if per_person is not None:
        median = float(per_person[1])
        days = f"{median:g} days entered per person (median)"
    elif acc is not None and acc.persons:
        median = acc.rows_used / acc.persons
        days = f"{median:.1f} days entered per person on average"
    else:
        days = "few days per person"
    bias = (
        "Person means estimated from a short series bias the autoregressive effects "
        "downwards by about -(1 + phi)/(T - 1) (Nickell 1981; Hamaker & Grasman 2015), and "
        "the cross-lagged effects slightly"
    )
    if median is not None and median >= SHORT_DIARY_DAYS:
        return (
            f"Diary length: this diary has {days}, at least {SHORT_DIARY_DAYS} days. {bias}; "
            "at this length the bias is small. sp.dsem (sleeppain analyze --model dsem), "
            "with latent person means, remains available as a check."
        )
    alt = (
        "Recommendation: also fit sp.dsem (sleeppain analyze --model dsem, or "
        "sp.crosslag(..., estimator='dsem')), which estimates the person means instead of "
        "averaging them and so avoids this bias."
        if dsem_available()
        else "A latent-centred dynamic model (as in Mplus DSEM) avoids this bias."
    )
    return (
        f"Short diaries: this diary has {days}, fewer than {SHORT_DIARY_DAYS}. {bias}; "
        f"below about three weeks per person this matters. {alt}"
    )


# ----------------------------------------------------------------------- figures
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
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        figs.append((name, caption, caption))

    _say(progress, "drawing figures ...")
    fig, axes = plt.subplots(4, 1, figsize=(7.5, 8), squeeze=False)
    plot_diaries(diary, sleep=sleep, pain=pain, persons=4, ax=axes[:, 0])
    fig.tight_layout()
    save(fig, "fig_diaries.png", f"Four persons' diaries: {pain} by day and {sleep} by night")
    # a straight line through a 0/1 outcome's deviations would misdraw a log-odds slope
    binary = tuple(getattr(res.spec, "binary", ()))
    linear = [d for d in ("sleep->pain", "pain->sleep") if d not in binary]
    if linear:
        fig, axes = plt.subplots(1, len(linear), figsize=(5 * len(linear), 4), squeeze=False)
        for ax, d in zip(axes[0], linear, strict=True):
            plot_within(res, d, sleep, ax=ax)
        fig.tight_layout()
        save(
            fig,
            "fig_within.png",
            (
                f"Within-person scatter: {sleep} (night n) vs next-day {pain}, and {pain} "
                "(day n) vs that night's sleep, with the fitted cross-lagged slopes"
                if len(linear) == 2
                else f"Within-person scatter of {linear[0]} with its fitted cross-lagged slope"
            ),
        )
    fig, ax = plt.subplots(figsize=(6, 1.2 + 0.5 * len(res.effects())))
    plot_effects(res, standardized=not binary, ax=ax)
    save(
        fig,
        "fig_effects.png",
        "Standardised within-person cross-lagged effects (95% CI)"
        if not binary
        else "Within-person cross-lagged effects on each model's own scale (log-odds for "
        "a binary outcome; 95% CI)",
    )
    if res.spec.estimator == "lmm" and res.spec.random_slopes:
        slopes = res.person_effects()
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        slopes.plot(direction="sleep->pain", sleep=sleep, ax=axes[0])
        slopes.plot(direction="pain->sleep", sleep=sleep, ax=axes[1])
        fig.tight_layout()
        save(
            fig,
            "fig_person_slopes.png",
            "Distribution of person-specific slopes (fixed effect + conditional mode)",
        )
    return figs


# ----------------------------------------------------------------------- sections
@dataclass
class _Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    definitions: list[tuple[str, str]] = field(default_factory=list)
    subsections: list[tuple[str, list[str]]] = field(default_factory=list)
    figures: list[tuple[str, str, str]] = field(default_factory=list)
    html_id: str = ""


def _warnings_section(warns: list[tuple[str, str]]) -> _Section:
    """The "Warnings" section: each ``(category, text)`` warning with its explanation."""
    return _Section(
        "Warnings",
        definitions=[(text, explain_warning(cat)) for cat, text in warns],
        html_id="warnings",
    )


def _sections(
    res: Any,
    diary: Any,
    figs: list[tuple[str, str, str]],
    comparison: Any,
    warnings_text: list[str],
    dsem: Any = None,
) -> list[_Section]:
    secs = [
        _Section("When was each sleep rating taken?", timing_section(res, diary), html_id="timing"),
        _Section(
            "What this means",
            subsections=plain_summary(res),
            paragraphs=[short_diary_caveat(res)],
            html_id="what-this-means",
        ),
        _Section("Models", items=res.spec.describe()),
        _Section("Data accounting", items=res.accounting_text().splitlines()),
    ]
    eff = res.effects()
    table = effects_display(eff)
    odds = [c for c in ("odds_ratio", "or_conf_low", "or_conf_high") if c in eff.columns]
    if odds:
        table = table.join(eff[odds])
    effects = _Section("Within-person cross-lagged effects", tables=[table])
    if res.multiplicity_note():
        effects.paragraphs.append(res.multiplicity_note())
    secs.append(effects)
    if comparison is not None:
        secs.append(
            _Section(
                "Which direction is stronger",
                tables=[comparison.table],
                paragraphs=[comparison.method],
            )
        )
    if res.spec.estimator == "lmm" and res.spec.random_slopes:
        secs.append(
            _Section(
                "Person-specific slopes",
                tables=[res.person_effects().shares.set_index(["sleep", "direction"])],
            )
        )
    ext = res.extensions()
    if len(ext):
        secs.append(
            _Section(
                "Extensions",
                tables=[ext.set_index(["sleep", "extension", "direction", "term"])],
            )
        )
    if dsem is not None:
        secs.append(_dsem_section(dsem))
    secs.append(_Section("Figures", figures=figs))
    notes = getattr(res, "model_notes", ())
    if notes:
        secs.append(
            _Section(
                "Model notes",
                definitions=[(f"{m}: {n}", explain_model_note(n)) for m, n in notes],
                html_id="model-notes",
            )
        )
    warns = [(w.split(":", 1)[0], w) for w in warnings_text]
    warns += [(c, f"{m}: {c}: {msg}") for m, c, msg in res.fit_warnings]
    if warns:
        secs.append(_warnings_section(warns))
    glossary = list(GLOSSARY)
    if getattr(res.spec, "binary", ()):
        glossary.insert(1, ODDS_RATIO_ENTRY)
    secs.append(_Section("Glossary", definitions=glossary, html_id="glossary"))
    return secs


def explain_model_note(note: str) -> str:
    """The plain-language explanation of one model note (a dropped slope, a residual AR,
    a binary outcome)."""
    from sleeppain.analysis._models import BINARY_NOTE_PREFIX, RESIDUAL_NOTE_PREFIX

    if note.startswith(BINARY_NOTE_PREFIX):
        return BINARY_NOTE
    return RESIDUAL_NOTE if note.startswith(RESIDUAL_NOTE_PREFIX) else ZERO_SLOPE_NOTE


def _dsem_section(dsem: Any) -> _Section:
    tab = dsem.effects()
    for col in ("ess_bulk", "ess_tail"):
        if col in tab:  # effective sample sizes are whole numbers of draws
            tab[col] = tab[col].round().astype("Int64")
    keep = [
        c
        for c in ("estimate", "std_error", "conf_low", "conf_high", "rhat", "ess_bulk")
        if c in tab
    ]
    return _Section(
        "Dynamic SEM (sp.dsem): the same loop with latent person means",
        tables=[tab[keep]],
        paragraphs=[
            "Posterior means and 95% credible intervals of a two-level VAR(1) whose person "
            "means are estimated, not observed averages, so short diaries do not bias the "
            "autoregressions (Asparouhov, Hamaker & Muthen 2018). rhat above 1.01 means the "
            "chains should run longer."
        ],
        html_id="dsem",
    )


def _html(title: str, source: str, secs: list[_Section]) -> str:
    e = html.escape
    h = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;}"
        "table{border-collapse:collapse;}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:right;}img{max-width:100%;}dt{font-weight:bold;margin-top:.5em;}"
        "</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if source:
        h.append(f"<p>Data: <code>{e(source)}</code></p>")
    for s in secs:
        sid = f' id="{e(s.html_id)}"' if s.html_id else ""
        h.append(f"<section{sid}><h2>{e(s.heading)}</h2>")
        for head, sentences in s.subsections:
            h.append(f"<h3>{e(head)}</h3><p>{e(' '.join(sentences))}</p>")
        h += [f"<p>{e(p)}</p>" for p in s.paragraphs if p]
        if s.items:
            h.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in s.items) + "</ul>")
        h += [format_table(t, "html") for t in s.tables]
        for name, caption, alt in s.figures:
            h.append(
                f'<figure><img src="{e(name)}" alt="{e(alt)}">'
                f"<figcaption>{e(caption)}</figcaption></figure>"
            )
        if s.definitions:
            h.append(
                "<dl>"
                + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in s.definitions)
                + "</dl>"
            )
        h.append("</section>")
    h.append("</body></html>")
    return "\n".join(h)


def _markdown(title: str, source: str, secs: list[_Section]) -> str:
    md = md_escape
    m = [f"# {md(title)}", ""]
    if source:
        m += [f"Data: `{md(source).replace('`', chr(39))}`", ""]
    for s in secs:
        m += [f"## {md(s.heading)}", ""]
        for head, sentences in s.subsections:
            m += [f"### {md(head)}", "", md(" ".join(sentences)), ""]
        for p in s.paragraphs:
            if p:
                m += [md(p), ""]
        if s.items:
            m += [f"- {md(x)}" for x in s.items] + [""]
        for t in s.tables:
            m += [format_table(t, "markdown"), ""]
        for name, caption, _ in s.figures:
            m += [f"![{md(caption)}]({name})", "", f"*{md(caption)}*", ""]
        for k, v in s.definitions:
            m += [f"- **{md(k)}**: {md(v)}"]
        if s.definitions:
            m.append("")
    return "\n".join(m) + "\n"


def write_report(
    res: Any,
    diary: Any,
    out_dir: str | os.PathLike[str],
    *,
    source: str = "",
    comparison: Any = None,
    warnings_text: list[str] | None = None,
    progress: bool = False,
    dsem: Any = None,
) -> ReportPaths:
    """Write ``report.html``, ``report.md`` and the PNG figures of a crosslag result.

    Parameters
    ----------
    res : CrossLagResult
    diary : Diary
        The diary analysed (for the over-time figure and the timing example).
    out_dir : path-like
        Folder (created when absent).
    source : str
        Where the data came from (a file name), shown escaped.
    comparison : DirectionComparison, optional
        Result of ``res.compare()`` to include.
    warnings_text : list of str, optional
        Further warnings (``"Category: message"``) to list and explain.
    progress : bool
        Report steps on stderr.
    dsem : DsemResult, optional
        A ``sp.dsem`` fit of the same diary, shown beside the mixed models.

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
    title = "sleeppain: bidirectional analysis of sleep and pain"
    secs = _sections(res, diary, figs, comparison, list(warnings_text or []), dsem)
    html_path = out / "report.html"
    html_path.write_text(_html(title, source, secs), encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(_markdown(title, source, secs), encoding="utf-8")
    return ReportPaths(html_path, md_path, tuple(out / n for n, _, _ in figs))


def write_dsem_report(
    dsem: Any,
    out_dir: str | os.PathLike[str],
    *,
    source: str = "",
    warnings_text: list[str] | None = None,
) -> ReportPaths:
    """Write ``report.html`` and ``report.md`` for a ``sp.dsem`` result alone.

    Its summary, the short-diary rationale, every warning explained, and the glossary.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    warns = [(w.split(":", 1)[0], w) for w in warnings_text or []]
    secs = [_dsem_section(dsem)]
    if warns:
        secs.append(_warnings_section(warns))
    secs.append(_Section("Glossary", definitions=list(GLOSSARY), html_id="glossary"))
    title = "sleeppain: dynamic SEM of sleep and pain"
    html_path = out / "report.html"
    html_path.write_text(_html(title, source, secs), encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(_markdown(title, source, secs), encoding="utf-8")
    return ReportPaths(html_path, md_path, ())
