"""Shared helpers of the sp.dsem tests."""

from __future__ import annotations

import warnings

import sleeppain as sp
from sleeppain.errors import ConvergenceWarning


def fit_quietly(data, defaults: dict, **kw):
    """``sp.dsem(data, **defaults, **kw)`` (``kw`` wins) with ConvergenceWarning silenced:
    the short chains of unit tests are not meant to converge to 1.01."""
    args = {**defaults, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sp.dsem(data, **args)
