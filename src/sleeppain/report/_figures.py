"""Figures of a cross-lagged analysis (matplotlib, imported only when drawing).

Every function draws on ``ax`` (a new figure when None) and returns the Axes.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import sleeppain as sp
>>> from sleeppain.report import plot_effects
>>> sim = sp.simulate.diary(40, 10, seed=1)
>>> res = sp.crosslag(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain",
...                   estimator="gee")
>>> plot_effects(res).get_title()
'Within-person cross-lagged effects'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from sleeppain.analysis import CrossLagResult, PersonSlopes

__all__ = ["plot_diaries", "plot_effects", "plot_person_slopes", "plot_within"]

_COLORS = {"sleep->pain": "#1f77b4", "pain->sleep": "#d62728"}
#: the two directions (kept here so the renderer does not import the analysis package)
DIRECTIONS = ("sleep->pain", "pain->sleep")
#: slope SD below this share of |fixed effect| + 1e-6: the persons' slopes do not vary
FLAT_SLOPES = 1e-4


def _t(text: object) -> str:
    """User text safe for matplotlib (no mathtext: ``$`` escaped)."""
    return str(text).replace("$", r"\$")


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize)
    return new


def plot_effects(
    res: CrossLagResult, *, standardized: bool = False, ax: Axes | None = None
) -> Axes:
    """Coefficient plot: the cross-lagged effect of each direction with its 95% interval.

    With ``standardized=True`` the standardised effects are drawn (the interval scaled by
    the same factor as the estimate).
    """
    eff = res.effects()
    ax = _axes(ax)
    labels, est, lo, hi, colors = [], [], [], [], []
    for idx, r in eff.iterrows():
        direction = idx if isinstance(idx, str) else idx[1]
        name = idx if isinstance(idx, str) else f"{idx[1]} ({idx[0]})"
        scale = r["std_estimate"] / r["estimate"] if standardized and r["estimate"] != 0 else 1.0
        labels.append(_t(name))
        est.append(r["estimate"] * scale)
        a, b = sorted((r["conf_low"] * scale, r["conf_high"] * scale))
        lo.append(a)
        hi.append(b)
        colors.append(_COLORS.get(direction, "k"))
    y = np.arange(len(labels))[::-1]
    est_a = np.asarray(est)
    ax.hlines(y, lo, hi, colors=colors, linewidth=2)
    ax.scatter(est_a, y, color=colors, zorder=3)
    ax.axvline(0.0, color="0.5", linestyle="--", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel(
        "standardised effect (within-person SDs)"
        if standardized
        else "effect per unit of the predictor (95% CI)"
    )
    ax.set_title("Within-person cross-lagged effects")
    return ax


def plot_within(res: CrossLagResult, direction: str, sleep: str, *, ax: Axes | None = None) -> Axes:
    """Within-person scatter of predictor and outcome deviations with the fitted slope.

    For sleep -> pain: sleep on night n (deviation from the person's mean) against pain on
    day n+1 (deviation); for pain -> sleep: pain on day n against sleep that night. The
    line has the model's cross-lagged slope through the origin.
    """
    mf = res.frames[(sleep, direction)]
    fit = res.fits[(sleep, direction)]
    focal = mf.focal[0]
    x = mf.frame[focal].to_numpy(float)
    y = mf.outcome_within
    ax = _axes(ax)
    rng = np.random.default_rng(0)
    jitter = 0.08 * np.nanstd(x) if np.nanstd(x) > 0 else 0.0
    ax.scatter(
        x + rng.uniform(-jitter, jitter, len(x)),
        y,
        s=6,
        alpha=0.25,
        color=_COLORS[direction],
        linewidths=0,
    )
    slope = float(fit.fixef[focal])
    grid = np.linspace(np.nanmin(x), np.nanmax(x), 50)
    ax.plot(grid, slope * grid, color="k", linewidth=2, label=f"slope {slope:.3f}")
    if direction == "sleep->pain":
        ax.set_xlabel(_t(f"{sleep}, night n (deviation from person mean)"))
        ax.set_ylabel(_t(f"{mf.pain}, day n+1 (deviation)"))
    else:
        ax.set_xlabel(_t(f"{mf.pain}, day n (deviation from person mean)"))
        ax.set_ylabel(_t(f"{sleep}, night n (deviation)"))
    ax.set_title(direction)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.18), frameon=False, fontsize="small")
    return ax


def plot_person_slopes(
    slopes: PersonSlopes,
    *,
    direction: str = "sleep->pain",
    sleep: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of person-specific slopes (fixed + conditional mode) with the fixed effect.

    When the slopes do not vary (slope SD estimated at 0), a sentence says so instead of
    an empty plot.
    """
    if direction not in DIRECTIONS:
        raise SpecificationError(f"direction {direction!r} is not one of {list(DIRECTIONS)}.")
    tab = slopes.table[slopes.table["direction"] == direction]
    if sleep is not None:
        tab = tab[tab["sleep"] == sleep]
    elif tab["sleep"].nunique() > 1:
        tab = tab[tab["sleep"] == tab["sleep"].iloc[0]]
    ax = _axes(ax)
    vals = tab["slope"].to_numpy(float)
    ax.set_title(f"{direction}: person-specific slopes")
    fixed = float(tab["fixed"].iloc[0]) if len(tab) else float("nan")
    spread = float(np.ptp(vals)) if len(vals) else 0.0
    if spread <= FLAT_SLOPES * (abs(fixed) + 1e-6) or len(vals) == 0:
        ax.text(
            0.5,
            0.5,
            "Persons do not differ in this effect:\nthe slope SD is estimated at 0, so every "
            f"person's\nslope equals the average effect ({fixed:.3f}).",
            ha="center",
            va="center",
            transform=ax.transAxes,
            wrap=True,
        )
        ax.set_axis_off()
        return ax
    ax.hist(vals, bins=min(30, max(5, len(vals) // 4)), color=_COLORS[direction], alpha=0.7)
    ax.axvline(fixed, color="k", linewidth=2, label=f"average effect {fixed:.3f}")
    ax.axvline(0.0, color="0.5", linestyle="--", linewidth=1, label="no effect")
    ax.set_xlabel(f"each person's {direction} slope\n(outcome points per predictor point)")
    ax.set_ylabel("number of persons")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.3), ncol=2, frameon=False, fontsize="small")
    return ax


def plot_diaries(
    data: Any,
    *,
    sleep: str,
    pain: str,
    persons: int | list[Any] = 4,
    ax: Any = None,
    seed: int = 0,
) -> Any:
    """A few persons' diaries over calendar time: pain (days) and sleep (nights).

    Parameters
    ----------
    data : Diary
        The diary (sleep is drawn at its night, between day n and n+1).
    sleep, pain : str
        Columns.
    persons : int or list
        Number of persons drawn at random (seeded), or their ids.
    ax : array of Axes, optional
        One Axes per person; a new figure when None.

    Returns
    -------
    ndarray of Axes
    """
    import matplotlib.pyplot as plt

    frame = data.data
    ids = pd.unique(frame["id"])
    if isinstance(persons, int):
        rng = np.random.default_rng(seed)
        chosen = list(rng.choice(ids, size=min(persons, len(ids)), replace=False))
    else:
        chosen = list(persons)
    if ax is None:
        _, ax = plt.subplots(
            len(chosen), 1, figsize=(7, 1.8 * len(chosen)), sharex=False, squeeze=False
        )
        ax = ax[:, 0]
    axes = np.atleast_1d(ax)

    def scale(col: str) -> str:
        vals = frame[col].to_numpy(float)
        vals = vals[np.isfinite(vals)]
        if not len(vals):
            return _t(col)
        return _t(f"{col} ({vals.min() + 0.0:g} to {vals.max() + 0.0:g})")

    handles: list[Any] = []
    for a, pid in zip(axes, chosen, strict=False):
        sub = frame[frame["id"] == pid].set_index("day")
        # absent calendar days become gaps in the lines, never joined over
        sub = sub.reindex(np.arange(sub.index.min(), sub.index.max() + 1))
        day = sub.index.to_numpy(float) - sub.index.min()
        a.plot(
            day, sub[pain].to_numpy(float), "o-", color=_COLORS["sleep->pain"], ms=3, label=_t(pain)
        )
        a.set_ylabel(scale(pain), color=_COLORS["sleep->pain"], fontsize="small")
        a.set_title(_t(f"person {pid}"), fontsize="small", loc="left")
        b = a.twinx()
        b.plot(
            day + 0.5,
            sub[sleep].to_numpy(float),
            "s--",
            color=_COLORS["pain->sleep"],
            ms=3,
            label=_t(f"{sleep} (night)"),
        )
        b.set_ylabel(scale(sleep), color=_COLORS["pain->sleep"], fontsize="small")
        if a is axes[0]:
            h1, l1 = a.get_legend_handles_labels()
            h2, l2 = b.get_legend_handles_labels()
            handles = [h1 + h2, l1 + l2]
    if handles:
        # the legend sits above the first panel, off the data
        axes[0].legend(
            *handles,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.02),
            ncol=2,
            fontsize="small",
            frameon=False,
        )
    axes[-1].set_xlabel("days since the person's first diary day (sleep drawn at night, +0.5)")
    return axes
