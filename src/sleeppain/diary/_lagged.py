"""Model-ready frames of named lagged terms (the input of lagged regressions)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["LaggedFrame"]


@dataclass(frozen=True, repr=False, eq=False)
class LaggedFrame:
    """Rows of a diary on which every named lagged term is observed.

    Built by :meth:`Diary.lagged_frame`.

    Attributes
    ----------
    frame : DataFrame
        Columns ``id, day, day_label`` and one column per term, only complete rows; the
        index is the position of the row in :attr:`Diary.data`.
    terms : tuple of (name, column, k)
        Each term is the diary's ``column`` ``k`` calendar days earlier (``k < 0``: later).
    rows_available : int
        Rows of the canonical frame.
    missing_by_term : tuple of (name, count)
        Canonical rows on which each term is missing (a row may miss several).
    persons, persons_used : int
        Persons in the diary, and persons with at least one complete row.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> df = pd.DataFrame({"id": [1, 1, 1], "day": [1, 2, 3], "pain": [3, 4, 5]})
    >>> lf = sp.Diary.from_frame(df, id="id", day="day").lagged_frame(
    ...     {"pain": "pain", "pain_prev": ("pain", 1)})
    >>> lf.frame["pain_prev"].tolist(), lf.rows_dropped
    ([3.0, 4.0], 1)
    """

    frame: pd.DataFrame
    terms: tuple[tuple[str, str, int], ...]
    rows_available: int
    missing_by_term: tuple[tuple[str, int], ...]
    persons: int
    persons_used: int

    @property
    def rows_used(self) -> int:
        """Complete rows (the model's number of observations)."""
        return len(self.frame)

    @property
    def rows_dropped(self) -> int:
        """Canonical rows left out because some term is missing."""
        return self.rows_available - self.rows_used

    @property
    def persons_excluded(self) -> int:
        """Persons without any complete row."""
        return self.persons - self.persons_used

    def to_dict(self) -> dict[str, object]:
        """Accounting as a plain dict."""
        return {
            "terms": [{"name": n, "column": c, "k": k} for n, c, k in self.terms],
            "rows_available": self.rows_available,
            "rows_used": self.rows_used,
            "rows_dropped": self.rows_dropped,
            "missing_by_term": dict(self.missing_by_term),
            "persons": self.persons,
            "persons_used": self.persons_used,
            "persons_excluded": self.persons_excluded,
        }

    def __repr__(self) -> str:
        terms = ", ".join(f"{n}={c}[{'t' if k == 0 else f't{-k:+d}'}]" for n, c, k in self.terms)
        return (
            f"LaggedFrame({terms}; {self.rows_used:,} of {self.rows_available:,} rows, "
            f"{self.persons_used:,} of {self.persons:,} persons)"
        )
