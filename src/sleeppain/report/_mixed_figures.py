"""Diagnostic figures of a mixed model (matplotlib, imported only when drawing).

The figure of ``LmmResult.plot()``, ``GlmmResult.plot()`` and ``ClmmResult.plot()``, after
lme4's ``plot(fit)`` (residuals against fitted values) and lattice's
``dotplot(ranef(fit, condVar = TRUE))`` (a caterpillar plot: the conditional modes of each
random effect, sorted, with intervals of +/- z * sqrt(conditional variance)). The results
compute the numbers; this module only draws them.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np, pandas as pd
>>> ranef = pd.DataFrame({"group": "id", "level": [1, 2, 3], "term": "Intercept",
...                       "estimate": [-1.0, 0.2, 0.8], "std_error": [0.3, 0.3, 0.3]})
>>> fig = mixed_diagnostics(np.arange(5.0), np.zeros(5), ranef, title="pain ~ 1 + (1 | id)")
>>> [ax.get_xlabel() for ax in fig.axes]
['Fitted values', 'Conditional mode']
>>> import matplotlib.pyplot as plt
>>> plt.close(fig)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import SpecificationError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["caterpillar", "mixed_diagnostics", "residuals_vs_fitted"]

#: at most this many levels get a tick label on a caterpillar panel (more are unreadable)
MAX_LEVEL_LABELS = 30


def residuals_vs_fitted(
    fitted: np.ndarray,
    resid: np.ndarray,
    ax: Axes,
    *,
    xlabel: str = "Fitted values",
    ylabel: str = "Residuals",
) -> Axes:
    """Scatter of residuals against fitted values with a zero line and a lowess trend."""
    fitted = np.asarray(fitted, dtype=float)
    resid = np.asarray(resid, dtype=float)
    ok = np.isfinite(fitted) & np.isfinite(resid)
    ax.scatter(fitted[ok], resid[ok], s=8, alpha=0.5, color="#1f77b4", linewidths=0)
    ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    if ok.sum() >= 10 and np.ptp(fitted[ok]) > 0:
        from statsmodels.nonparametric.smoothers_lowess import lowess

        trend = lowess(resid[ok], fitted[ok], frac=2 / 3, return_sorted=True)
        ax.plot(trend[:, 0], trend[:, 1], color="#d62728", lw=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("Residuals vs fitted")
    return ax


def caterpillar(
    ranef: pd.DataFrame,
    group: str,
    term: str,
    ax: Axes,
    *,
    conf_level: float = 0.95,
) -> Axes:
    """Sorted conditional modes of one random effect with intervals where available.

    Parameters
    ----------
    ranef : DataFrame
        ``group, level, term, estimate`` and optionally ``std_error`` (square root of the
        conditional variance; NaN or absent: points only).
    group, term : str
        The grouping factor and the column of the term to draw.
    ax : Axes
    conf_level : float
        Coverage of the intervals (normal quantile).
    """
    sub = ranef[(ranef["group"] == group) & (ranef["term"] == term)]
    if sub.empty:
        raise SpecificationError(f"no random effect {term!r} for the grouping factor {group!r}.")
    sub = sub.sort_values("estimate", kind="stable")
    est = sub["estimate"].to_numpy(dtype=float)
    pos = np.arange(est.size)
    se = (
        sub["std_error"].to_numpy(dtype=float)
        if "std_error" in sub.columns
        else np.full(est.size, np.nan)
    )
    has_ci = bool(np.isfinite(se).any())
    if has_ci:
        half = stats.norm.ppf(0.5 + conf_level / 2) * se
        ax.errorbar(est, pos, xerr=half, fmt="none", ecolor="#7f7f7f", elinewidth=0.8, capsize=0)
    ax.plot(est, pos, "o", ms=3, color="#1f77b4")
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    if est.size <= MAX_LEVEL_LABELS:
        ax.set_yticks(pos, [str(v) for v in sub["level"]], fontsize=7)
    else:
        ax.set_yticks([])
    ax.set_xlabel("Conditional mode")
    ax.set_ylabel(f"{group} (sorted)")
    ci = f", {conf_level:.0%} intervals" if has_ci else " (no conditional variances)"
    ax.set_title(f"{term} | {group}{ci}", fontsize=9)
    return ax


def mixed_diagnostics(
    fitted: np.ndarray,
    resid: np.ndarray,
    ranef: pd.DataFrame,
    *,
    title: str = "",
    conf_level: float = 0.95,
    fitted_label: str = "Fitted values",
    resid_label: str = "Residuals",
) -> Figure:
    """Residuals against fitted values beside one caterpillar panel per random effect.

    Parameters
    ----------
    fitted, resid : array
        One value per observation used.
    ranef : DataFrame
        As :func:`caterpillar` (every ``(group, term)`` pair gets a panel, lme4 order).
    title : str
        Figure title (the formula).
    conf_level : float
        Coverage of the caterpillar intervals.
    fitted_label, resid_label : str
        Axis labels of the first panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not 0 < conf_level < 1:
        raise SpecificationError(f"conf_level must be in (0, 1), got {conf_level!r}.")
    pairs = list(dict.fromkeys(zip(ranef["group"], ranef["term"], strict=True)))
    n = 1 + len(pairs)
    ncol = min(n, 3)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False)
    flat: list[Any] = list(axes.ravel())
    residuals_vs_fitted(fitted, resid, flat[0], xlabel=fitted_label, ylabel=resid_label)
    for ax, (group, term) in zip(flat[1:], pairs, strict=False):
        caterpillar(ranef, group, term, ax, conf_level=conf_level)
    for ax in flat[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
