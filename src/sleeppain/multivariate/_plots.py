"""Network drawings and the mediation path diagram (matplotlib, imported inside functions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sleeppain.errors import SpecificationError

__all__ = ["plot_networks", "plot_paths"]

_POS = "#1f5fa8"
_NEG = "#c0392b"


def _layout(k: int) -> np.ndarray:
    ang = np.pi / 2 - 2 * np.pi * np.arange(k) / k
    return np.column_stack([np.cos(ang), np.sin(ang)])


def _draw(
    ax: Any, labels: tuple[str, ...], W: np.ndarray, directed: bool, threshold: float, title: str
) -> None:
    from matplotlib.patches import Circle, FancyArrowPatch

    k = len(labels)
    xy = _layout(k)
    wmax = max(float(np.nanmax(np.abs(W))) if np.isfinite(W).any() else 0.0, 1e-12)
    r = 0.17
    for j in range(k):  # outcome (row)
        for i in range(k):  # predictor (column)
            w = W[j, i]
            if not np.isfinite(w) or abs(w) < threshold or (not directed and i >= j):
                continue
            lw = 0.5 + 6.0 * abs(w) / wmax
            color = _POS if w > 0 else _NEG
            if i == j:
                c = xy[j] * (1.0 + r + 0.13)
                ax.add_patch(Circle(tuple(c), 0.11, fill=False, lw=lw, color=color))
                continue
            ax.add_patch(
                FancyArrowPatch(
                    tuple(xy[i]),
                    tuple(xy[j]),
                    arrowstyle="-|>" if directed else "-",
                    mutation_scale=14,
                    lw=lw,
                    color=color,
                    shrinkA=22,
                    shrinkB=22,
                    connectionstyle="arc3,rad=0.12" if directed else "arc3,rad=0",
                )
            )
    for j, lab in enumerate(labels):
        ax.add_patch(Circle(tuple(xy[j]), r, facecolor="white", edgecolor="black", zorder=3))
        ax.text(xy[j, 0], xy[j, 1], lab, ha="center", va="center", fontsize=8, zorder=4)
    ax.set_xlim(-1.55, 1.55)
    ax.set_ylim(-1.55, 1.55)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{title}\n(|edge| >= {threshold:g} shown; blue +, red -)", fontsize=9)


def plot_networks(res: Any, *, threshold: float = 0.05, ax: Any = None) -> Any:
    """Draw the temporal, contemporaneous and between networks of a NetworkResult."""
    import matplotlib.pyplot as plt

    if not (isinstance(threshold, int | float) and threshold >= 0):
        raise SpecificationError(f"threshold={threshold!r} must be a number >= 0, e.g. 0.05.")
    if ax is None:
        _, ax = plt.subplots(1, 3, figsize=(12, 4.2))
    axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
    if axes.size != 3:
        raise SpecificationError(
            f"ax= needs 3 Axes (temporal, contemporaneous, between); got {axes.size}."
        )
    _draw(axes[0], res.variables, np.asarray(res.coef), True, threshold, "Temporal (lag 1)")
    _draw(
        axes[1],
        res.variables,
        np.asarray(res.contemporaneous_pcor),
        False,
        threshold,
        "Contemporaneous",
    )
    if res.between_pcor is not None:
        _draw(
            axes[2],
            res.variables,
            np.asarray(res.between_pcor),
            False,
            threshold,
            "Between persons",
        )
    else:
        axes[2].axis("off")
        axes[2].set_title("Between persons\n(none for one person)", fontsize=9)
    return axes


def plot_paths(res: Any, *, ax: Any = None) -> Any:
    """Path diagram x -> m -> y with a, b, c' and the indirect and total effects."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    eff = res.effects()
    pos = {"x": (0.12, 0.25), "m": (0.5, 0.78), "y": (0.88, 0.25)}
    labels = {"x": res.x, "m": res.m, "y": res.y}
    for key, (px, py) in pos.items():
        ax.add_patch(
            FancyBboxPatch(
                (px - 0.1, py - 0.07), 0.2, 0.14, boxstyle="round,pad=0.01", fc="white", ec="black"
            )
        )
        ax.text(px, py, labels[key], ha="center", va="center", fontsize=9)

    def arrow(a: str, b: str, name: str, dx: float, dy: float) -> None:
        est = eff.loc[name, "estimate"]
        lo, hi = eff.loc[name, "conf_low"], eff.loc[name, "conf_high"]
        ax.add_patch(
            FancyArrowPatch(
                pos[a],
                pos[b],
                arrowstyle="-|>",
                mutation_scale=14,
                shrinkA=30,
                shrinkB=30,
                color=_POS if est >= 0 else _NEG,
                lw=1.5,
            )
        )
        mx, my = (pos[a][0] + pos[b][0]) / 2 + dx, (pos[a][1] + pos[b][1]) / 2 + dy
        label = {"a": "a", "b": "b", "c_prime": "c'"}[name]
        ax.text(
            mx,
            my,
            f"{label} = {est:.3f}\n[{lo:.3f}, {hi:.3f}]",
            ha="center",
            va="center",
            fontsize=8,
        )

    arrow("x", "m", "a", -0.1, 0.05)
    arrow("m", "y", "b", 0.1, 0.05)
    arrow("x", "y", "c_prime", 0.0, -0.08)
    ind = eff.loc["indirect"]
    tot = eff.loc["total"]
    ax.text(
        0.5,
        0.02,
        f"indirect a*b + cov(a,b) = {ind['estimate']:.3f} [{ind['conf_low']:.3f}, {ind['conf_high']:.3f}]"
        f";  total = {tot['estimate']:.3f}",
        ha="center",
        fontsize=8,
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.05, 1)
    ax.axis("off")
    ax.set_title("Within-person mediation (1-1-1, lagged)", fontsize=9)
    return ax
