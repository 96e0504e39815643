"""The one lagged-frame stage: model-ready rows of named lagged terms, and their accounting.

:func:`lagged_frame` looks every term up on the exact calendar day it names (the Diary's
calendar lag, never a row shift), keeps the rows on which every required term is observed
and counts, per term, the rows on which it is missing. ``Diary.lagged_frame`` and the
cross-lagged models (``sp.crosslag``) both build their rows here, so lags and their
accounting are made in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sleeppain.accounting import Accounting
from sleeppain.errors import SpecificationError

if TYPE_CHECKING:  # pragma: no cover
    from sleeppain.diary import Diary

__all__ = ["LaggedFrame", "lagged_frame"]

#: a term: a diary column or a Series aligned with ``diary.data``, and a lag in days
TermSpec = str | pd.Series | tuple[str | pd.Series, int]


@dataclass(frozen=True, repr=False, eq=False)
class LaggedFrame(Accounting):
    """Rows of a diary on which every named lagged term is observed.

    Built by :meth:`Diary.lagged_frame` (and :func:`lagged_frame`).

    Attributes
    ----------
    frame : DataFrame
        Columns ``id, day, day_label`` and one column per term, only complete rows; the
        index is the position of the row in :attr:`Diary.data`. A copy each time: changing
        it never changes the lagged frame.
    terms : tuple of (name, column, k)
        Each term is the diary's ``column`` ``k`` calendar days earlier (``k < 0``: later).
    rows_available : int
        Rows of the canonical frame.
    missing_by_term : tuple of (name, count)
        Canonical rows on which each term is missing (a row may miss several, so these
        counts overlap).
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

    frame: InitVar[pd.DataFrame]
    terms: tuple[tuple[str, str, int], ...]
    rows_available: int
    missing_by_term: tuple[tuple[str, int], ...]
    persons: int
    persons_used: int
    _frame: pd.DataFrame = field(init=False, repr=False)

    stage: ClassVar[str] = "lagged rows"
    title: ClassVar[str] = "Lagged-frame accounting"
    reasons_exclusive: ClassVar[bool] = False

    def __post_init__(self, frame: pd.DataFrame) -> None:
        object.__setattr__(self, "_frame", frame.copy())
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "missing_by_term", tuple(self.missing_by_term))

    def _counts(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return (
            self.rows_available,
            self.rows_used,
            tuple((f"missing {name}", n) for name, n in self.missing_by_term),
        )

    @property
    def rows_used(self) -> int:
        """Complete rows (the model's number of observations)."""
        return len(self._frame)

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


def _frame_copy(self: LaggedFrame) -> pd.DataFrame:
    """The complete rows (a copy)."""
    return self._frame.copy()


# set after the dataclass is made, so ``frame`` stays the first argument of the constructor
LaggedFrame.frame = property(_frame_copy)  # type: ignore[assignment,method-assign]


def _parse(name: str, spec: Any) -> tuple[str | pd.Series, int]:
    if name in ("id", "day", "day_label"):
        raise SpecificationError(f"term name {name!r} is reserved; choose another name.")
    col, k = (spec, 0) if isinstance(spec, str | pd.Series) else tuple(spec)
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise SpecificationError(f"term {name!r}: k must be an integer, got {k!r}.")
    return col, int(k)


def lagged_frame(
    diary: Diary,
    terms: Mapping[str, TermSpec],
    *,
    extra: Mapping[str, TermSpec] | None = None,
) -> LaggedFrame:
    """The rows of ``diary`` on which every term is observed, with the accounting.

    Parameters
    ----------
    diary : Diary
    terms : dict
        Name -> ``(column, k)``: the column (a diary variable, or a Series aligned with
        ``diary.data`` such as ``diary.within("pain")``) ``k`` calendar days earlier
        (``k = 0``: the row's own day or night; ``k = -1``: the next day); a bare column
        or Series means ``k = 0``. A row is kept only when every term is observed.
    extra : dict, optional
        Further columns, in the same form, carried along on the kept rows without being
        required (e.g. a person mean used after the fit).

    Returns
    -------
    LaggedFrame

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> df = pd.DataFrame({"id": [1, 1, 1], "day": [1, 2, 4], "pain": [3, 4, 5]})
    >>> d = sp.Diary.from_frame(df, id="id", day="day")
    >>> lf = lagged_frame(d, {"pain": "pain", "pain_w_prev": (d.within("pain"), 1)})
    >>> lf.frame["pain_w_prev"].tolist(), dict(lf.missing_by_term)
    ([-1.0], {'pain': 0, 'pain_w_prev': 2})
    """
    if not isinstance(terms, Mapping) or not terms:
        raise SpecificationError(
            "terms must be a non-empty dict name -> (column, k), e.g. "
            "{'pain_next': ('pain', -1), 'sleep': ('sleep_quality', 0)}."
        )
    parsed = {name: _parse(str(name), spec) for name, spec in terms.items()}
    extras = {name: _parse(str(name), spec) for name, spec in (extra or {}).items()}
    columns = [c for c, _ in (*parsed.values(), *extras.values()) if isinstance(c, str)]
    diary.require(columns, "lagged_frame")
    data = diary.data
    values = {name: diary.lag(col, k).to_numpy() for name, (col, k) in parsed.items()}
    complete = np.ones(len(data), dtype=bool)
    missing = []
    for name, arr in values.items():
        miss = np.isnan(arr)
        missing.append((name, int(miss.sum())))
        complete &= ~miss
    values.update({name: diary.lag(col, k).to_numpy() for name, (col, k) in extras.items()})
    base = data[["id", "day", "day_label"]]
    frame = pd.concat([base, pd.DataFrame(values, index=base.index)], axis=1)[complete]
    ids = data["id"].to_numpy()
    described = tuple(
        (name, col if isinstance(col, str) else str(col.name), k)
        for name, (col, k) in parsed.items()
    )
    return LaggedFrame(
        frame=frame,
        terms=described,
        rows_available=len(data),
        missing_by_term=tuple(missing),
        persons=diary.n_persons,
        persons_used=len(pd.unique(ids[complete])),
    )
