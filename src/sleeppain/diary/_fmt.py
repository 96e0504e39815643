"""Formatting values for error messages."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["show"]


def show(x: Any) -> str:
    """``repr`` of a value with numpy scalars shown as plain Python values.

    Examples
    --------
    >>> import numpy as np
    >>> show(np.int64(3)), show("a"), show(np.float64(2.5))
    ('3', "'a'", '2.5')
    """
    if isinstance(x, np.generic):
        x = x.item()
    return repr(x)
