"""The diary's accounting: where every input row went and what a lagged analysis can use.

:class:`DiaryAccounting` is a frozen record built by the :class:`~sleeppain.Diary`
(:attr:`Diary.accounting`); later analyses attach it to their results. It extends the
library's one accounting type, :class:`sleeppain.accounting.Accounting`, so it is on the
result contract (``tidy()``, ``glance()``, ``summary()`` text, escaped HTML). The identity
``input_rows == rows_used + sum(rows_dropped)`` always holds (checked on construction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from sleeppain.accounting import Accounting, format_count

__all = ["DiaryAccounting", "PairCount", "ScaleRecord", "VariableCoverage"]


@dataclass(frozen=True)
class VariableCoverage:
    """Coverage of one variable on the canonical (person, day/night) frame.

    Attributes
    ----------
    name : str
    role : {"day", "night"}
        ``"night"`` for sleep variables stored on the canonical night index.
    observed : int
        Person-days (or nights) with a value.
    missing_rows : int
        Rows of the canonical frame where the value is missing.
    missing_span : int
        Calendar days within each person's span (first to last row) without a value,
        summed over persons; counts days absent from the frame too.
    """

    name: str
    role: str
    observed: int
    missing_rows: int
    missing_span: int


@dataclass(frozen=True)
class PairCount:
    """Usable lagged pairs for one direction.

    ``"sleep->pain"``: sleep on night n with pain on day n+1 (``pairs``); the autoregressive
    control additionally needs pain on day n (``pairs_with_ar``).
    ``"pain->sleep"``: pain on day n with sleep on night n; the control additionally needs
    sleep on night n-1.
    """

    direction: str
    sleep: str
    pain: str
    pairs: int
    pairs_with_ar: int
    persons_with_pairs: int
    persons_with_ar_pairs: int


@dataclass(frozen=True)
class ScaleRecord:
    """Values outside a declared scale and what was done with them."""

    variable: str
    low: float
    high: float
    count: int
    action: str


_fmt = format_count


@dataclass(frozen=True)
class DiaryAccounting(Accounting):
    """Accounting of a :class:`~sleeppain.Diary`: rows, persons, days, coverage, lagged pairs.

    Attributes
    ----------
    input_rows : int
        Rows of the input (prompts, when several a day).
    rows_used : int
        Person-day reports kept (after aggregating prompts).
    rows_dropped : tuple of (reason, count)
        Input rows not kept as their own person-day, by reason (missing id, missing day,
        missing prompt, merged into a person-day by ``aggregate=``).
    nights_added : int
        Canonical rows created for a night whose day has no report (e.g. the night before
        the first morning report).
    persons, person_days : int
        Persons, and rows of the canonical frame (``rows_used + nights_added``).
    day_kind, day_description : str
        How the day column was read.
    first_day, last_day : str
        Calendar span of the canonical frame.
    days_per_person : (min, median, max)
        Canonical rows per person, added nights included.
    days_entered_per_person : (min, median, max)
        Days with at least one report per person, as entered (a 14-day diary shows 14
        here, and 15 rows in ``days_per_person`` when the night before its first morning
        report was added).
    span_per_person : (min, median, max)
        Calendar days from each person's first to last row, inclusive.
    sleep_columns, sleep_timing, pain_column
        Roles used for alignment and pair counts.
    variables : tuple of VariableCoverage
    values_set_missing : tuple of (variable, reason, count)
    out_of_range : tuple of ScaleRecord
    ignored_columns : tuple of (column, reason)
        Input columns left out of the diary (free text, dates).
    pairs : tuple of PairCount
        Empty when no sleep column or no pain column is known.
    persons_without_consecutive_days : int
        Persons with no two rows one calendar day apart: no lag-1 pair is possible.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> df = pd.DataFrame({"id": [1, 1, 2], "day": [1, 2, 1], "pain": [3, 4, 5]})
    >>> acc = sp.Diary.from_frame(df, id="id", day="day").accounting
    >>> acc.input_rows, acc.persons, acc.person_days
    (3, 2, 3)
    >>> print(acc.summary().splitlines()[0])
    Diary accounting
    >>> acc.glance()[["rows_input", "rows_used", "persons"]].values.tolist()
    [[3, 3, 2]]
    """

    stage: ClassVar[str] = "diary"
    title: ClassVar[str] = "Diary accounting"

    input_rows: int
    rows_used: int
    rows_dropped: tuple[tuple[str, int], ...]
    nights_added: int
    persons: int
    person_days: int
    day_kind: str
    day_description: str
    first_day: str
    last_day: str
    days_per_person: tuple[int, float, int]
    span_per_person: tuple[int, float, int]
    sleep_columns: tuple[str, ...]
    sleep_timing: str
    pain_column: str | None
    variables: tuple[VariableCoverage, ...]
    values_set_missing: tuple[tuple[str, str, int], ...] = ()
    out_of_range: tuple[ScaleRecord, ...] = ()
    ignored_columns: tuple[tuple[str, str], ...] = ()
    pairs: tuple[PairCount, ...] = ()
    persons_without_consecutive_days: int = 0
    notes: tuple[str, ...] = field(default=())
    days_entered_per_person: tuple[int, float, int] = (0, 0.0, 0)

    def __post_init__(self) -> None:
        for name in ("rows_dropped", "values_set_missing", "ignored_columns", "notes"):
            object.__setattr__(
                self,
                name,
                tuple(tuple(x) if isinstance(x, list) else x for x in getattr(self, name)),
            )
        self.check()

    def _counts(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return self.input_rows, self.rows_used, self.rows_dropped

    def glance(self) -> pd.DataFrame:
        """One row: rows in, used and dropped, persons, person-days, calendar span."""
        g = super().glance()
        g["persons"] = self.persons
        g["person_days"] = self.person_days
        g["nights_added"] = self.nights_added
        g["median_days_entered"] = self.days_entered_per_person[1]
        g["first_day"] = self.first_day
        g["last_day"] = self.last_day
        g["persons_without_consecutive_days"] = self.persons_without_consecutive_days
        return g

    @property
    def rows_dropped_total(self) -> int:
        """Total input rows not kept as their own person-day."""
        return sum(n for _, n in self.rows_dropped)

    @property
    def dropped(self) -> dict[str, int]:
        """``rows_dropped`` as a dict reason -> count."""
        return dict(self.rows_dropped)

    def pair(self, direction: str, sleep: str | None = None) -> PairCount:
        """The :class:`PairCount` for ``direction`` (and a sleep column if several)."""
        for p in self.pairs:
            if p.direction == direction and (sleep is None or p.sleep == sleep):
                return p
        known = sorted({(p.direction, p.sleep) for p in self.pairs})
        raise KeyError(
            f"no pair count for direction={direction!r}, sleep={sleep!r}; available: {known}. "
            "Declare sleep columns (sleep=...) and a pain column (summary(pain=...))."
        )

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable)."""
        return {
            "input_rows": self.input_rows,
            "rows_used": self.rows_used,
            "rows_dropped": dict(self.rows_dropped),
            "nights_added": self.nights_added,
            "persons": self.persons,
            "person_days": self.person_days,
            "day_kind": self.day_kind,
            "day_description": self.day_description,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "days_per_person": dict(
                zip(("min", "median", "max"), self.days_per_person, strict=True)
            ),
            "span_per_person": dict(
                zip(("min", "median", "max"), self.span_per_person, strict=True)
            ),
            "sleep_columns": list(self.sleep_columns),
            "sleep_timing": self.sleep_timing,
            "pain_column": self.pain_column,
            "variables": [vars(v).copy() for v in self.variables],
            "values_set_missing": [
                {"variable": v, "reason": r, "count": n} for v, r, n in self.values_set_missing
            ],
            "out_of_range": [vars(r).copy() for r in self.out_of_range],
            "ignored_columns": [{"column": c, "reason": r} for c, r in self.ignored_columns],
            "pairs": [vars(p).copy() for p in self.pairs],
            "persons_without_consecutive_days": self.persons_without_consecutive_days,
            "days_entered_per_person": list(self.days_entered_per_person),
            "notes": list(self.notes),
        }

    def _sections(self) -> list[tuple[str, list[tuple[str, Any]]]]:
        rows = [
            ("input rows", self.input_rows),
            ("rows used (person-day reports)", self.rows_used),
            ("rows dropped", self.rows_dropped_total),
            *((f"  dropped: {reason}", n) for reason, n in self.rows_dropped),
            ("nights added (no report that day)", self.nights_added),
        ]
        if self.nights_added:
            rows.append(
                (
                    "  why nights are added",
                    "a sleep rating describes a night whose day has no report of its own "
                    "(e.g. the night before a person's first morning report); that night gets "
                    "a row holding the sleep rating only: not an input row, not a day entered",
                )
            )
        calendar = [
            ("persons", self.persons),
            ("person-days (canonical rows)", self.person_days),
            ("day column", self.day_description),
            ("first day", self.first_day),
            ("last day", self.last_day),
            (
                "days entered per person (min / median / max)",
                "{} / {} / {}".format(*map(_fmt, self.days_entered_per_person)),
            ),
            (
                "rows per person incl. added nights (min / median / max)",
                "{} / {} / {}".format(*map(_fmt, self.days_per_person)),
            ),
            (
                "span per person, days (min / median / max)",
                "{} / {} / {}".format(*map(_fmt, self.span_per_person)),
            ),
            ("sleep columns", ", ".join(self.sleep_columns) or "(none declared)"),
            ("sleep timing", self.sleep_timing.replace("_", " ")),
        ]
        coverage = [
            (
                f"{v.name} ({v.role})",
                f"{v.observed:,} observed, {v.missing_rows:,} missing in rows, "
                f"{v.missing_span:,} missing in span",
            )
            for v in self.variables
        ]
        cleaning = [(f"{v}: {r}", n) for v, r, n in self.values_set_missing]
        cleaning += [
            (f"{r.variable}: outside [{r.low:g}, {r.high:g}]", f"{r.count:,} ({r.action})")
            for r in self.out_of_range
        ]
        cleaning += [(f"column {c} left out", r) for c, r in self.ignored_columns]
        lagged = [
            (
                f"{p.direction} ({p.sleep}, {p.pain})",
                f"{p.pairs:,} pairs ({p.persons_with_pairs:,} persons); "
                f"{p.pairs_with_ar:,} with autoregressive control "
                f"({p.persons_with_ar_pairs:,} persons)",
            )
            for p in self.pairs
        ]
        lagged.append(
            ("persons without two consecutive days", self.persons_without_consecutive_days)
        )
        sections = [("rows", rows), ("calendar", calendar), ("coverage", coverage)]
        if cleaning:
            sections.append(("cleaning", cleaning))
        sections.append(("lagged pairs", lagged))
        if self.notes:
            sections.append(("notes", [(f"{i + 1}", n) for i, n in enumerate(self.notes)]))
        return sections

    def to_text(self) -> str:
        """Plain-text report (the same as :meth:`summary`)."""
        return self.summary()
