"""Few-wave cohort panels: the CLPM and the random-intercept CLPM (sp.clpm, sp.riclpm).

A small structural-equation engine in RAM form (:mod:`._engine`), fitted by ML or FIML
with analytic gradients and checked against lavaan 0.6.14; lavaan's fit measures; the
chi-square difference test (:func:`anova_panel`); weekly (or any) block means of a diary
(:func:`diary_waves`).

Examples
--------
>>> import sleeppain as sp
>>> sp.panel.anova_panel.__name__
'anova_panel'
"""

from __future__ import annotations

from sleeppain.panel._api import check_solution, clpm, riclpm
from sleeppain.panel._data import PanelAccounting
from sleeppain.panel._result import PanelResult, PanelSpec, anova_panel
from sleeppain.panel._waves import diary_waves

__all__ = [
    "PanelAccounting",
    "PanelResult",
    "PanelSpec",
    "anova_panel",
    "check_solution",
    "clpm",
    "diary_waves",
    "riclpm",
]
