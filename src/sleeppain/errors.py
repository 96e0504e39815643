"""Exceptions and warnings raised by sleeppain.

Every error message says what is wrong, where, and how to fix it.

Hierarchy
---------
SleepPainError
    DataStructureError (also ValueError): the data do not have the shape the call needs
        (duplicated person-days, missing columns, non-numeric values).
    SpecificationError (also ValueError): the model or call is mis-specified
        (unknown column in a formula, malformed random-effect term, bad argument).
        InputFileError: a file cannot be read (truncated, wrong encoding, empty, not a
            table, a directory).
    EstimationError (also RuntimeError): a fit could not be computed.
SleepPainWarning (UserWarning)
    ConvergenceWarning: an optimiser stopped without meeting its convergence criteria.
    BoundaryFitWarning: a mixed-model fit is singular (a variance at zero, a correlation at +/-1).
    LagCoverageWarning: too few consecutive days for a lagged analysis.
    ScaleWarning: values outside a declared rating scale.
    DataDropWarning: rows were dropped (the result's accounting says which and why).
    DataQualityWarning: the data look suspicious but were used (an all-missing variable,
        infinite values set missing, ids that look alike, a reserved column name left out,
        implausibly long runs).
    RuntimeEstimateWarning: a computation (e.g. a ``sp.power`` grid) is estimated, from
        its first part, to run for several minutes.

Examples
--------
>>> import sleeppain as sp
>>> issubclass(sp.DataStructureError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "BoundaryFitWarning",
    "ConvergenceWarning",
    "DataDropWarning",
    "DataQualityWarning",
    "DataStructureError",
    "EstimationError",
    "InputFileError",
    "LagCoverageWarning",
    "RuntimeEstimateWarning",
    "ScaleWarning",
    "SleepPainError",
    "SleepPainWarning",
    "SpecificationError",
    "user_stacklevel",
]


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first frame outside sleeppain.

    Call it as the ``stacklevel`` argument of :func:`warnings.warn`; however deep inside the
    library the warning is raised (e.g. ``sp.crosslag(estimator="dsem")`` -> ``sp.dsem`` ->
    its checks), it then names the user's line.

    Examples
    --------
    >>> user_stacklevel() >= 1
    True
    """
    import sys

    frame = sys._getframe(1)
    level = 1
    while frame is not None and _is_library(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    return level


def _is_library(module: str) -> bool:
    return module == "sleeppain" or module.startswith("sleeppain.")


class SleepPainError(Exception):
    """Root of all errors raised by sleeppain."""


class DataStructureError(SleepPainError, ValueError):
    """The data do not have the structure the call needs."""


class InputFileError(DataStructureError):
    """A data file cannot be read: truncated, wrong encoding, empty, not a table, a folder."""


class SpecificationError(SleepPainError, ValueError):
    """A model, formula or argument is mis-specified."""


class EstimationError(SleepPainError, RuntimeError):
    """A model could not be estimated."""


class SleepPainWarning(UserWarning):
    """Root of all warnings issued by sleeppain."""


class ConvergenceWarning(SleepPainWarning):
    """An optimiser stopped without meeting its convergence criteria."""


class BoundaryFitWarning(SleepPainWarning):
    """A mixed-model fit lies on the boundary of the parameter space (singular fit)."""


class LagCoverageWarning(SleepPainWarning):
    """Too few consecutive calendar days for a lagged analysis."""


class ScaleWarning(SleepPainWarning):
    """Values fall outside a declared rating scale."""


class DataDropWarning(SleepPainWarning):
    """Rows were dropped; the result's accounting lists them with reasons."""


class DataQualityWarning(SleepPainWarning):
    """The data look suspicious but were used; the message says where and how to check."""


class RuntimeEstimateWarning(SleepPainWarning):
    """A long run ahead: the estimated run time (from its first part) exceeds a few minutes."""
