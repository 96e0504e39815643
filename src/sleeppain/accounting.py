"""The one accounting type: where the rows of every stage went, and why some were left out.

Every stage that takes rows in and uses some of them (the diary container, a model's
design, a lagged frame, a cross-lagged model) describes that in a record that subclasses
:class:`Accounting`. A subclass implements one method, :meth:`Accounting._counts`, returning
``(rows in, rows used, ((reason, count), ...))``; the base class gives it the result
contract: ``tidy()`` (house schema: one row per count, ``term`` the item and ``estimate``
the number of rows), ``glance()`` (one row: ``stage, rows_input, rows_used,
rows_dropped``), ``summary()`` text, escaped HTML and Markdown, and ``to_frame()``.

``reasons_exclusive`` says whether each dropped row is counted under exactly one reason
(then the reasons add up to the rows dropped, and :meth:`Accounting.check` verifies it) or
whether a row may appear under several (a row missing two terms of a model).

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Toy(Accounting):
...     n_in: int
...     n_used: int
...     def _counts(self):
...         return self.n_in, self.n_used, (("missing <pain>", self.n_in - self.n_used),)
>>> acc = Toy(10, 8)
>>> acc.glance()[["rows_input", "rows_used", "rows_dropped"]].values.tolist()
[[10, 8, 2]]
>>> print(acc.summary())
Row accounting
<BLANKLINE>
rows
input rows                 10
rows used                  8
rows dropped               2
  dropped: missing <pain>  2
>>> "missing &lt;pain&gt;" in acc._repr_html_()
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

from sleeppain.results import Display, DisplayTable, ResultMixin, tidy_frame

__all__ = ["Accounting", "format_count", "key_value_table"]


def format_count(x: Any) -> str:
    """A count or number for an accounting line: ``1,234``; ``2.5``; text as it is.

    Examples
    --------
    >>> format_count(12345), format_count(4.0), format_count(4.25), format_count("n/a")
    ('12,345', '4', '4.2', 'n/a')
    """
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float):
        return f"{x:,.1f}" if x != int(x) else f"{int(x):,}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def key_value_table(items: list[tuple[str, Any]], title: str = "") -> DisplayTable:
    """A key-value list (``item  value``, left-aligned, no header) as a display table."""
    frame = pd.DataFrame(
        {"value": [format_count(v) for _, v in items]},
        index=pd.Index([str(k) for k, _ in items], name=None),
    )
    return DisplayTable(frame, title=title, header=False, left=True)


class Accounting(ResultMixin):
    """Base class of every accounting record (subclasses are frozen dataclasses).

    Subclasses implement :meth:`_counts`; they may override :meth:`_sections` (the lines of
    the summary, by section), :attr:`stage` and :attr:`title`.
    """

    #: What the rows are (``glance()["stage"]``).
    stage: ClassVar[str] = "rows"
    #: Title of the summary.
    title: ClassVar[str] = "Row accounting"
    #: Each dropped row is counted under exactly one reason.
    reasons_exclusive: ClassVar[bool] = True

    def _counts(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:  # pragma: no cover
        """``(rows in, rows used, ((reason, rows), ...))``."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise if the counts do not add up (a sleeppain bug, never a user error)."""
        n_in, n_used, reasons = self._counts()
        total = sum(n for _, n in reasons)
        if n_used > n_in or (self.reasons_exclusive and n_used + total != n_in):
            raise RuntimeError(
                f"{self.title} does not add up: {n_used} used + {total} dropped != {n_in} "
                "input rows. This is a sleeppain bug; please report it."
            )

    # ------------------------------------------------------------------ contract
    def _rows(self) -> list[tuple[str, int]]:
        n_in, n_used, reasons = self._counts()
        return [
            ("input rows", n_in),
            ("rows used", n_used),
            ("rows dropped", n_in - n_used),
            *((f"  dropped: {r}", n) for r, n in reasons),
        ]

    def _sections(self) -> list[tuple[str, list[tuple[str, Any]]]]:
        """``[(section, [(item, value), ...]), ...]``: the content of the summary."""
        return [("rows", self._rows())]

    def tidy(self) -> pd.DataFrame:
        """One row per numeric item: ``term`` (the item), ``estimate`` (the count), ``section``."""
        rows = [
            {"term": item.strip(), "estimate": float(value), "section": section}
            for section, items in self._sections()
            for item, value in items
            if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        return tidy_frame(
            pd.DataFrame(rows, columns=["term", "estimate", "section"]), context=["section"]
        )

    def glance(self) -> pd.DataFrame:
        """One row: ``stage, rows_input, rows_used, rows_dropped``."""
        n_in, n_used, _ = self._counts()
        return pd.DataFrame(
            [
                {
                    "stage": self.stage,
                    "rows_input": int(n_in),
                    "rows_used": int(n_used),
                    "rows_dropped": int(n_in - n_used),
                }
            ]
        )

    def to_frame(self) -> pd.DataFrame:
        """Long frame with columns ``section, item, value`` (every line of the summary)."""
        rows = [
            (section, item.strip(), value)
            for section, items in self._sections()
            for item, value in items
        ]
        return pd.DataFrame(rows, columns=["section", "item", "value"])

    def _display(self) -> Display:
        return Display(
            title=self.title,
            tables=tuple(key_value_table(items, section) for section, items in self._sections()),
        )
