"""sleeppain: the bidirectional analysis of sleep and pain.

Daily diaries (calendar-aware lags, within/between decomposition, lagged mixed models),
two-sample Mendelian randomization, and simulation-based power for diary studies.

Public names are imported lazily (PEP 562), so ``import sleeppain`` is fast and a
subpackage never shadows a public function of the same name.

Examples
--------
>>> import sleeppain as sp
>>> sp.__version__
'0.2.0.dev0'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataDropWarning,
    DataQualityWarning,
    DataStructureError,
    EstimationError,
    InputFileError,
    LagCoverageWarning,
    RuntimeEstimateWarning,
    ScaleWarning,
    SleepPainError,
    SleepPainWarning,
    SpecificationError,
)

__version__ = "0.2.0.dev0"

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "Diary": ("sleeppain.diary", "Diary"),
    "lmm": ("sleeppain.mixed", "lmm"),
    "anova": ("sleeppain.mixed", "anova"),
    "LmmResult": ("sleeppain.mixed", "LmmResult"),
    "VarIdent": ("sleeppain.mixed", "VarIdent"),
    "glmm": ("sleeppain.mixed.generalized", "glmm"),
    "GlmmResult": ("sleeppain.mixed.generalized", "GlmmResult"),
    "clmm": ("sleeppain.mixed.ordinal", "clmm"),
    "ClmmResult": ("sleeppain.mixed.ordinal", "ClmmResult"),
    "network": ("sleeppain.multivariate", "network"),
    "NetworkResult": ("sleeppain.multivariate", "NetworkResult"),
    "mediation": ("sleeppain.multivariate", "mediation"),
    "MediationResult": ("sleeppain.multivariate", "MediationResult"),
    "crosslag": ("sleeppain.analysis", "crosslag"),
    "dsem": ("sleeppain.dynamics", "dsem"),
    "DsemResult": ("sleeppain.dynamics", "DsemResult"),
    "DsemPriors": ("sleeppain.dynamics", "DsemPriors"),
    "clpm": ("sleeppain.panel", "clpm"),
    "riclpm": ("sleeppain.panel", "riclpm"),
    "PanelResult": ("sleeppain.panel", "PanelResult"),
    "panel": ("sleeppain.panel", None),
    "CrossLagResult": ("sleeppain.analysis", "CrossLagResult"),
    "power": ("sleeppain.planning", "power"),
    "PowerResult": ("sleeppain.planning", "PowerResult"),
    "sleep": ("sleeppain.sleep", None),
    "simulate": ("sleeppain.simulate", None),
    "mr": ("sleeppain.mr", None),
    "datasets": ("sleeppain.datasets", None),
    "compare_groups": ("sleeppain.groups", "compare_groups"),
    "GroupComparisonResult": ("sleeppain.groups", "GroupComparisonResult"),
}

__all__ = [
    "BoundaryFitWarning",
    "ClmmResult",
    "ConvergenceWarning",
    "CrossLagResult",
    "DataDropWarning",
    "DataQualityWarning",
    "DataStructureError",
    "Diary",
    "DsemPriors",
    "DsemResult",
    "EstimationError",
    "GlmmResult",
    "GroupComparisonResult",
    "InputFileError",
    "LagCoverageWarning",
    "LmmResult",
    "MediationResult",
    "NetworkResult",
    "PanelResult",
    "PowerResult",
    "RuntimeEstimateWarning",
    "ScaleWarning",
    "SleepPainError",
    "SleepPainWarning",
    "SpecificationError",
    "VarIdent",
    "__version__",
    "anova",
    "clmm",
    "clpm",
    "compare_groups",
    "crosslag",
    "datasets",
    "dsem",
    "glmm",
    "lmm",
    "mediation",
    "mr",
    "network",
    "panel",
    "power",
    "riclpm",
    "simulate",
    "sleep",
]


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'sleeppain' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover
    from sleeppain import datasets, mr, panel, simulate, sleep
    from sleeppain.analysis import CrossLagResult, crosslag
    from sleeppain.diary import Diary
    from sleeppain.dynamics import DsemPriors, DsemResult, dsem
    from sleeppain.groups import GroupComparisonResult, compare_groups
    from sleeppain.mixed import LmmResult, VarIdent, anova, lmm
    from sleeppain.mixed.generalized import GlmmResult, glmm
    from sleeppain.mixed.ordinal import ClmmResult, clmm
    from sleeppain.multivariate import MediationResult, NetworkResult, mediation, network
    from sleeppain.panel import PanelResult, clpm, riclpm
    from sleeppain.planning import PowerResult, power
