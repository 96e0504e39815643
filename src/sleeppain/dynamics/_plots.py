"""Figures of :class:`~sleeppain.dynamics.DsemResult` (matplotlib imported lazily)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from sleeppain.dynamics._spec import DIRECTION_OF
from sleeppain.errors import SpecificationError

__all__ = ["plot_effects", "plot_trace"]


def plot_trace(res: Any, terms: list[str], axes: Any = None) -> Any:
    """One panel per term, one line per chain; returns the array of Axes."""
    import matplotlib.pyplot as plt

    unknown = [t for t in terms if t not in res.draws]
    if unknown:
        raise SpecificationError(
            f"plot_trace: unknown terms {unknown}; choose among {list(res.draws)}."
        )
    if axes is None:
        _, axes = plt.subplots(len(terms), 1, figsize=(7, 1.8 * len(terms)), squeeze=False)
        axes = axes[:, 0]
    axes = np.atleast_1d(axes)
    for ax, term in zip(axes, terms, strict=False):
        x = res.draws[term]
        for c in range(x.shape[0]):
            ax.plot(x[c], lw=0.5, alpha=0.8, label=f"chain {c + 1}")
        ax.set_ylabel(term)
    axes[-1].set_xlabel("draw (after warm-up)")
    return axes


def plot_effects(res: Any, manifest: Any = None, ax: Any = None) -> Any:
    """Forest plot of the four effects: dsem (posterior) and the manifest crosslag fit."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    eff = res.effects()
    names = list(DIRECTION_OF)
    ypos = np.arange(len(names))[::-1].astype(float)
    ax.errorbar(
        eff["estimate"],
        ypos + 0.12,
        xerr=[eff["estimate"] - eff["conf_low"], eff["conf_high"] - eff["estimate"]],
        fmt="o",
        color="C0",
        label="dsem (latent means)",
    )
    if manifest is None and res._diary is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manifest = res.manifest()
    if manifest is not None:
        from sleeppain.dynamics._wiring import manifest_effects

        man = manifest_effects(manifest)
        est = man["estimate"].reindex(names).to_numpy(float)
        lo = man["conf_low"].reindex(names).to_numpy(float)
        hi = man["conf_high"].reindex(names).to_numpy(float)
        ax.errorbar(
            est,
            ypos - 0.12,
            xerr=[est - lo, hi - est],
            fmt="s",
            color="C1",
            label="crosslag (observed means)",
        )
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_yticks(ypos, names)
    ax.set_xlabel("effect (data units)")
    ax.legend(loc="best", fontsize="small")
    return ax
