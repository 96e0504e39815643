"""Figures of a group comparison: distributions side by side and a forest plot of Hedges' g."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sleeppain.errors import SpecificationError

if TYPE_CHECKING:  # pragma: no cover
    from sleeppain.groups import GroupComparisonResult

__all__ = ["plot_group_comparison"]


def plot_group_comparison(res: GroupComparisonResult, kind: str = "both"):
    """Box plots with jittered points per outcome and group, and a forest plot of Hedges' g.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sleeppain as sp
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"g": np.repeat(["a", "b"], 30), "tst": rng.normal(400, 30, 60)})
    >>> fig = sp.compare_groups(df, group="g", outcomes=["tst"]).plot()
    >>> len(fig.axes)
    2
    """
    if kind not in ("both", "distributions", "forest"):
        raise SpecificationError(f"kind={kind!r}; use 'both', 'distributions' or 'forest'.")
    import matplotlib.pyplot as plt
    import numpy as np

    data = res._data
    outs = list(res.outcomes)
    n_dist = len(outs) if kind in ("both", "distributions") else 0
    n_cols = n_dist + (1 if kind in ("both", "forest") else 0)
    fig, axes = plt.subplots(1, n_cols, figsize=(3.2 * n_cols + 1, 3.6), squeeze=False)
    axes = axes[0]
    rng = np.random.default_rng(0)
    colours = ("#4477AA", "#EE6677")
    a, b = res.levels
    for i in range(n_dist):
        ax, o = axes[i], outs[i]
        vals = [data.loc[data[res.group] == lv, o].dropna().to_numpy(float) for lv in (a, b)]
        ax.boxplot(vals, widths=0.5, showfliers=False)
        if res.paired and res.id is not None:
            # each person's two condition means, joined: the pairs the paired test uses
            wide = data.pivot(index=res.id, columns=res.group, values=o)[[a, b]].dropna()
            jit = rng.uniform(-0.1, 0.1, len(wide))
            xs = np.column_stack([1 + jit, 2 + jit])
            ax.plot(xs.T, wide.to_numpy(float).T, color="grey", lw=0.5, alpha=0.4)
            for j in range(2):
                ax.scatter(xs[:, j], wide.iloc[:, j], s=8, alpha=0.6, color=colours[j])
        else:
            for j, v in enumerate(vals):
                ax.scatter(
                    j + 1 + rng.uniform(-0.15, 0.15, v.size), v, s=8, alpha=0.5, color=colours[j]
                )
        ax.set_xticks([1, 2], [_text(a), _text(b)])
        ax.set_xlabel(_text(res.group))
        ax.set_ylabel(_text(o) + (" (person mean)" if res.id is not None else ""))
        ax.set_title(_text(o))
    if kind in ("both", "forest"):
        ax = axes[-1]
        t = res._table
        y = np.arange(len(t))[::-1]
        ax.errorbar(
            t["hedges_g"],
            y,
            xerr=[t["hedges_g"] - t["g_conf_low"], t["g_conf_high"] - t["hedges_g"]],
            fmt="o",
            color="black",
            capsize=3,
        )
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, [_text(v) for v in t["term"]])
        ax.set_xlabel(
            f"Hedges' g, {round(res.conf_level * 100)} % CI\n({_text(b)} minus {_text(a)})"
        )
        ax.set_title("Standardised differences")
    fig.tight_layout()
    return fig


def _text(value: object) -> str:
    """A user's label as literal text: matplotlib would read ``$...$`` as mathtext."""
    return str(value).replace("$", r"\$")
