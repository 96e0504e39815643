"""The diary container: validated person-days with explicit calendar time.

:class:`Diary` holds a daily diary with one row per person and calendar day, sleep
variables aligned to the night they describe, calendar lags, within/between
decomposition and row accounting (:class:`DiaryAccounting`).

Examples
--------
>>> import pandas as pd, sleeppain as sp
>>> df = pd.DataFrame({"id": [1, 1, 2], "day": [1, 2, 1], "pain": [3, 4, 5]})
>>> sp.Diary.from_frame(df, id="id", day="day")
Diary(2 persons, 3 person-days; variables: pain; sleep (previous_night): none)
"""

from __future__ import annotations

from sleeppain.diary._accounting import DiaryAccounting, PairCount, ScaleRecord, VariableCoverage
from sleeppain.diary._container import Diary, SummaryText
from sleeppain.diary._lagged import LaggedFrame

__all__ = [
    "Diary",
    "DiaryAccounting",
    "LaggedFrame",
    "PairCount",
    "ScaleRecord",
    "SummaryText",
    "VariableCoverage",
]
