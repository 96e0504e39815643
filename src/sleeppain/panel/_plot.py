"""Path diagram of a CLPM / RI-CLPM (matplotlib imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["path_diagram"]


def path_diagram(res: Any, ax: Axes | None = None, *, standardized: bool = True) -> Axes:
    """Draw the model: observed boxes, within-components and random intercepts as circles,
    lagged paths labelled with their (standardised) estimates."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

    spec = res.spec
    k, T = len(spec.names), len(spec.wave_labels)
    ri = spec.kind == "riclpm"
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * T + 1.5, (2.3 if ri else 1.2) * k + 1.0))
    tab = res.tidy()
    col = "std_all" if standardized else "estimate"
    # rows per variable: random intercept, observed, within-component (RI-CLPM); with two
    # variables the second is mirrored so the within-components face each other
    gap = 3.4 if ri else 2.0
    pos: dict[str, tuple[float, float]] = {}
    shapes: dict[str, str] = {}
    for v in range(k):
        sign = -1.0 if (k == 2 and v == 1) else 1.0
        base = -v * gap
        for t in range(T):
            o = spec.obs_names[v][t]
            pos[o] = (3.0 * t, base + (sign * 1.0 if ri else 0.0))
            shapes[o] = "box"
            if ri:
                w = f"w_{spec.names[v]}{spec.wave_labels[t]}"
                pos[w] = (3.0 * t, base)
                shapes[w] = "circle"
        if ri:
            pos[f"RI_{spec.names[v]}"] = (1.5 * (T - 1), base + sign * 2.1)
            shapes[f"RI_{spec.names[v]}"] = "circle"
    for name, (x, y) in pos.items():
        if shapes[name] == "box":
            ax.add_patch(Rectangle((x - 0.55, y - 0.25), 1.1, 0.5, fill=False, lw=1.2))
        else:
            ax.add_patch(Circle((x, y), 0.5, fill=False, lw=1.2))
        ax.text(x, y, name, ha="center", va="center", fontsize=6)

    def arrow(a: str, b: str, label: str | None, color: str, lw: float, at: float = 0.5) -> None:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                arrowstyle="-|>",
                mutation_scale=9,
                color=color,
                lw=lw,
                shrinkA=16,
                shrinkB=16,
            )
        )
        if label is not None:
            ax.text(
                x0 + at * (x1 - x0),
                y0 + at * (y1 - y0) + 0.15,
                label,
                fontsize=6.5,
                ha="center",
                color=color,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none"},
            )

    for _, r in tab.iterrows():
        if r["op"] == "=~" and r["lhs"] in pos and r["rhs"] in pos:
            arrow(r["lhs"], r["rhs"], None, "0.6", 0.6)
        elif r["op"] == "~" and r["lhs"] in pos and r["rhs"] in pos:
            cross = r["effect"] and r["effect"].split("->")[0] != r["effect"].split("->")[1]
            sig = r["p_value"] < 0.05
            arrow(
                r["rhs"],
                r["lhs"],
                f"{r[col]:.2f}{'*' if sig else ''}",
                "tab:red" if cross else "black",
                1.4 if sig else 0.7,
                at=0.25 if cross else 0.5,
            )
    xs = np.array([p[0] for p in pos.values()])
    ys = np.array([p[1] for p in pos.values()])
    ax.set_xlim(xs.min() - 0.8, xs.max() + 0.8)
    ax.set_ylim(ys.min() - 0.8, ys.max() + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    kind = "RI-CLPM" if ri else "CLPM"
    ax.set_title(
        f"{kind}: lagged paths ({'std.all' if standardized else 'unstandardised'}; "
        "* p < .05; red = cross-lagged)",
        fontsize=9,
    )
    return ax
