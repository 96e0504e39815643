"""The one accounting type (sleeppain.accounting.Accounting) that every stage extends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.accounting import Accounting
from sleeppain.diary import DiaryAccounting
from sleeppain.results import TIDY_COLUMNS, ResultMixin


@dataclass(frozen=True)
class Exclusive(Accounting):
    n_in: int
    n_used: int
    reasons: tuple[tuple[str, int], ...]

    def _counts(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return self.n_in, self.n_used, self.reasons


@dataclass(frozen=True)
class Overlapping(Exclusive):
    reasons_exclusive: ClassVar[bool] = False
    stage: ClassVar[str] = "model"


def test_counts_must_add_up_when_reasons_are_exclusive() -> None:
    Exclusive(10, 7, (("missing pain", 2), ("missing sleep", 1))).check()
    with pytest.raises(RuntimeError, match="does not add up: 7 used \\+ 2 dropped != 10"):
        Exclusive(10, 7, (("missing pain", 2),)).check()
    # a row missing two terms is counted under both: only used <= input is checked
    Overlapping(10, 7, (("pain", 3), ("sleep", 3))).check()
    with pytest.raises(RuntimeError):
        Overlapping(5, 7, ()).check()


def test_contract_views() -> None:
    acc = Overlapping(10, 7, (("pain", 3), ("sleep <lag>", 1)))
    assert isinstance(acc, ResultMixin)
    t = acc.tidy()
    assert tuple(t.columns[:8]) == TIDY_COLUMNS
    assert dict(zip(t["term"], t["estimate"], strict=True)) == {
        "input rows": 10,
        "rows used": 7,
        "rows dropped": 3,
        "dropped: pain": 3,
        "dropped: sleep <lag>": 1,
    }
    g = acc.glance()
    assert g.to_dict("records") == [
        {"stage": "model", "rows_input": 10, "rows_used": 7, "rows_dropped": 3}
    ]
    assert "sleep &lt;lag&gt;" in acc._repr_html_() and "<lag>" not in acc._repr_html_()
    assert list(acc.to_frame().columns) == ["section", "item", "value"]


def test_diary_accounting_extends_it() -> None:
    df = pd.DataFrame({"id": [1, 1, None], "day": [1, 2, 1], "pain": [3.0, 4.0, 5.0]})
    acc = sp.Diary.from_frame(df, id="id", day="day").accounting  # a row without an id
    assert isinstance(acc, Accounting) and isinstance(acc, DiaryAccounting)
    g = acc.glance().iloc[0]
    assert (g["stage"], g["rows_input"], g["rows_used"], g["rows_dropped"]) == ("diary", 3, 2, 1)
    assert acc.to_text() == acc.summary() == str(acc)
    assert acc.summary().splitlines()[0] == "Diary accounting"
