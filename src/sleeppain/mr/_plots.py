"""Matplotlib figures for MR results (matplotlib is imported lazily: an optional extra).

The figures read what they need through :class:`MRFigureData`, a structural protocol that
:class:`~sleeppain.mr.MRResult` satisfies, so this module does not import the result module
(which imports this one lazily, inside its ``plot_*`` methods): no import cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sleeppain.errors import SpecificationError
from sleeppain.mr._estimators import MREstimate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["MRFigureData", "plot_forest", "plot_funnel", "plot_leave_one_out", "plot_scatter"]


class MRFigureData(Protocol):
    """What the MR figures read from a result."""

    exposure: str
    outcome: str
    snps: Sequence[str]
    bx: np.ndarray
    by: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    estimates: Sequence[MREstimate]
    single_snp: Sequence[MREstimate]
    leave_one_out: Sequence[MREstimate]
    ivw: MREstimate | None

    def estimate(self, method: str) -> MREstimate: ...


def _axes(ax: Axes | None) -> Axes:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'sleeppain[plot]'") from err
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


def plot_scatter(
    res: MRFigureData, ax: Axes | None = None, methods: list[str] | None = None
) -> Axes:
    """Scatter of variant-outcome on variant-exposure associations (exposure oriented > 0).

    Error bars are +/- 1.96 SE; each method's estimate is drawn as a line through the origin
    (MR-Egger through its intercept), as TwoSampleMR's ``mr_scatter_plot``.
    """
    ax = _axes(ax)
    sign = np.where(res.bx < 0, -1.0, 1.0)
    x = res.bx * sign
    y = res.by * sign
    ax.errorbar(
        x,
        y,
        xerr=1.96 * res.sx,
        yerr=1.96 * res.sy,
        fmt="o",
        ms=3,
        color="0.3",
        ecolor="0.75",
        elinewidth=0.8,
        zorder=2,
    )
    xs = np.array([0.0, float(np.max(x)) * 1.05])
    wanted = methods or [r.method for r in res.estimates]
    for r in res.estimates:
        if r.method not in wanted or r.method == "wald_ratio":
            continue
        icpt = r.extra.get("intercept", 0.0) if r.method == "egger" else 0.0
        ax.plot(xs, icpt + r.b * xs, label=f"{r.label} ({r.b:.3g})", lw=1.5, zorder=3)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_xlabel(f"SNP effect on {res.exposure}")
    ax.set_ylabel(f"SNP effect on {res.outcome}")
    ax.set_title(f"{res.exposure} -> {res.outcome}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    return ax


def plot_forest(res: MRFigureData, ax: Axes | None = None) -> Axes:
    """Forest plot of single-variant Wald ratios (sorted) with the IVW and MR-Egger estimates."""
    ax = _axes(ax)
    rows = [
        (s, r.b, r.conf_low, r.conf_high) for s, r in zip(res.snps, res.single_snp, strict=True)
    ]
    rows.sort(key=lambda t: t[1])
    for name in ("egger", "ivw"):
        try:
            e = res.estimate(name)
        except KeyError:
            continue
        rows.append((e.label, e.b, e.conf_low, e.conf_high))
    ypos = np.arange(len(rows))
    b = np.array([r[1] for r in rows])
    lo = np.array([r[2] for r in rows])
    hi = np.array([r[3] for r in rows])
    n_single = len(res.snps)
    colors = ["0.3"] * n_single + ["tab:red"] * (len(rows) - n_single)
    ax.errorbar(b, ypos, xerr=[b - lo, hi - b], fmt="none", ecolor=colors, elinewidth=0.8)
    ax.scatter(b, ypos, c=colors, s=10, zorder=3)
    ax.axvline(0, color="0.6", lw=0.6)
    ax.set_yticks(ypos)
    ax.set_yticklabels([r[0] for r in rows], fontsize=6 if len(rows) > 30 else 8)
    ax.set_xlabel(f"MR effect of {res.exposure} on {res.outcome}")
    ax.set_title("Single-variant Wald ratios")
    return ax


def plot_funnel(res: MRFigureData, ax: Axes | None = None) -> Axes:
    """Funnel plot: each Wald ratio against its precision ``|bx| / sy``, with IVW / Egger lines."""
    ax = _axes(ax)
    b = np.array([r.b for r in res.single_snp])
    prec = np.abs(res.bx) / res.sy
    ax.scatter(b, prec, s=12, color="0.3")
    for name, ls in (("ivw", "-"), ("egger", "--")):
        try:
            e = res.estimate(name)
        except KeyError:
            continue
        ax.axvline(e.b, ls=ls, color="tab:blue" if name == "ivw" else "tab:orange", label=e.label)
    ax.set_xlabel("Wald ratio")
    ax.set_ylabel("precision |bx| / se(by)")
    ax.set_title(f"Funnel: {res.exposure} -> {res.outcome}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    return ax


def plot_leave_one_out(res: MRFigureData, ax: Axes | None = None) -> Axes:
    """IVW estimate (and CI) leaving out each variant; the full IVW estimate last."""
    if not res.leave_one_out:
        raise SpecificationError("leave-one-out needs at least 3 variants; none was computed.")
    ax = _axes(ax)
    rows = [
        (s, r.b, r.conf_low, r.conf_high) for s, r in zip(res.snps, res.leave_one_out, strict=True)
    ]
    rows.sort(key=lambda t: t[1])
    if res.ivw is not None:
        rows.append(("All (IVW)", res.ivw.b, res.ivw.conf_low, res.ivw.conf_high))
    ypos = np.arange(len(rows))
    b = np.array([r[1] for r in rows])
    lo = np.array([r[2] for r in rows])
    hi = np.array([r[3] for r in rows])
    ax.errorbar(b, ypos, xerr=[b - lo, hi - b], fmt="o", ms=3, color="0.3", ecolor="0.7")
    ax.axvline(0, color="0.6", lw=0.6)
    ax.set_yticks(ypos)
    ax.set_yticklabels([r[0] for r in rows], fontsize=6 if len(rows) > 30 else 8)
    ax.set_xlabel("IVW estimate without the variant")
    ax.set_title(f"Leave-one-out: {res.exposure} -> {res.outcome}")
    return ax
