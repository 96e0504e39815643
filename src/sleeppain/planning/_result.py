"""The frozen result of :func:`sleeppain.power`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.results import Display, DisplayTable, ResultMixin, readonly, tidy_frame
from sleeppain.simulate import DiaryParameters

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["PowerResult"]


#: Fields handed out as copies (DataFrames) on every access.
_COPIED = frozenset({"table", "simulations"})


@dataclass(frozen=True, eq=False)
class PowerResult(ResultMixin):
    """Simulated power of a lagged diary analysis over a grid of designs.

    On the result contract: ``tidy()`` (one row per design cell and direction, power as the
    estimate and its Monte Carlo SE), ``glance()`` (one row for the run), ``summary()``,
    escaped HTML, ``plot()``. ``table`` and ``simulations`` are handed out as copies and
    ``settings`` is read-only, so nothing returned can change the result.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per design cell and direction: ``n_persons, n_days, direction, power,
        mc_se, mean_estimate, bias, rmse, coverage, share_converged`` then ``true_effect``,
        ``mean_std_error``, ``median_df`` (of the test; ``inf`` for the z test),
        ``share_singular`` (fits on the boundary, lme4's ``isSingular``), ``share_reduced``
        (default uncorrelated model: the slope SD was estimated at 0, so the fit is the
        random-intercept model; not singular), ``n_used`` (studies entering the summaries),
        ``mean_rows`` (rows per study entering the model), and the autoregressive effect of
        the same model: ``ar_true``, ``ar_mean_estimate``, ``ar_bias`` (simulated) and
        ``ar_bias_nickell`` (the approximation ``-(1 + phi) / (T - 1)``, Nickell 1981).
        ``power`` is the share of studies with ``p < alpha`` and ``mc_se`` its Monte Carlo
        SE; ``coverage`` is that of the ``1 - alpha`` Wald intervals. All summaries are over
        the converged fits (``share_converged`` says how many).
    simulations : pandas.DataFrame
        One row per simulated study and direction: ``n_persons, n_days, direction, sim,
        estimate, std_error, df, ar_estimate, converged, singular, nobs``.
    parameters : sleeppain.simulate.DiaryParameters
        The generating model.
    settings : dict
        ``sleep_scale`` and ``round_to_scale``.
    n_sims : int
        Simulated studies per design cell.
    alpha : float
        Two-sided significance level.
    test : str
        The test of the cross-lagged fixed effect.
    seed_entropy : int
        Entropy of the root ``numpy.random.SeedSequence`` (reproduces the run).
    elapsed : float
        Wall-clock seconds.
    cpu_seconds : float
        CPU seconds spent simulating and fitting, summed over the workers.
    n_fallback : int
        Fits finished by the per-study scipy fallback instead of the batched optimiser.
    n_jobs : int
        Worker processes used.

    Examples
    --------
    >>> import sleeppain as sp
    >>> res = sp.power(n_persons=30, n_days=7, sleep_to_pain=-0.3, pain_to_sleep=0.0,
    ...                n_sims=20, seed=1, n_jobs=1, progress=False)
    >>> list(res.table["direction"])
    ['sleep->pain', 'pain->sleep']
    >>> res.tidy()[["term", "n_persons", "n_days"]].values.tolist()
    [['sleep->pain', 30, 7], ['pain->sleep', 30, 7]]
    """

    table: pd.DataFrame
    simulations: pd.DataFrame = field(repr=False)
    parameters: DiaryParameters
    settings: dict[str, object]
    n_sims: int
    alpha: float
    test: str
    seed_entropy: int
    elapsed: float = field(compare=False)
    cpu_seconds: float = field(compare=False)
    n_fallback: int = field(compare=False)
    n_jobs: int = field(compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", readonly(dict(self.settings)))

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in _COPIED:
            return value.copy(deep=True)
        return value

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Power per design cell and direction, in the house schema.

        ``term`` is the direction, ``estimate`` the simulated power, ``std_error`` its Monte
        Carlo SE and ``conf_low``/``conf_high`` the normal Monte Carlo interval (clipped to
        [0, 1]); context columns ``direction, n_persons, n_days`` and the rest of
        :attr:`table` follow.
        """
        from sleeppain.results import check_conf_level

        z = float(stats.norm.ppf(1 - (1 - check_conf_level(conf_level)) / 2))
        t = object.__getattribute__(self, "table")
        out = t.rename(columns={"power": "estimate", "mc_se": "std_error"})
        out.insert(0, "term", t["direction"].astype(str))
        out["conf_low"] = np.clip(out["estimate"] - z * out["std_error"], 0.0, 1.0)
        out["conf_high"] = np.clip(out["estimate"] + z * out["std_error"], 0.0, 1.0)
        return tidy_frame(out, context=["direction", "n_persons", "n_days"])

    def glance(self) -> pd.DataFrame:
        """One row for the run: cells, studies, test, alpha, effects, seed, timing."""
        p = self.parameters
        t = object.__getattribute__(self, "table")
        return pd.DataFrame(
            [
                {
                    "n_cells": len(t[["n_persons", "n_days"]].drop_duplicates()),
                    "n_sims": self.n_sims,
                    "test": self.test,
                    "alpha": self.alpha,
                    "sleep_to_pain": p.sleep_to_pain,
                    "pain_to_sleep": p.pain_to_sleep,
                    "min_power": float(t["power"].min()),
                    "max_power": float(t["power"].max()),
                    "share_converged": float(t["share_converged"].mean()),
                    "seed_entropy": self.seed_entropy,
                    "elapsed": self.elapsed,
                    "n_jobs": self.n_jobs,
                    "n_fallback": self.n_fallback,
                }
            ]
        )

    @cached_property
    def _labels(self) -> dict[str, str]:
        return {
            "n_persons": "persons",
            "n_days": "days",
            "direction": "direction",
            "power": "power",
            "mc_se": "MC SE",
            "mean_estimate": "mean est.",
            "bias": "bias",
            "rmse": "RMSE",
            "coverage": "coverage",
            "share_converged": "converged",
            "share_singular": "singular",
            "share_reduced": "slope SD 0",
            "ar_bias": "AR bias",
            "ar_bias_nickell": "AR bias (Nickell)",
        }

    def _display(self) -> Display:
        p = self.parameters
        missing = (
            "MCAR"
            if p.missing_pain_logit == 0
            else f"MAR, {p.missing_pain_logit:g} log-odds per pain point of the previous day"
        )
        t = object.__getattribute__(self, "table")
        cols = [c for c in self._labels if c in t.columns]
        shown = t[cols].rename(columns=self._labels).set_index(["persons", "days", "direction"])
        return Display(
            title="Simulated power of lagged multilevel models (sleeppain.power)",
            header=(
                ("design", f"{self.n_sims} studies per cell; {self.test}; alpha = {self.alpha:g}"),
                ("seed entropy", str(self.seed_entropy)),
                (
                    "effects",
                    f"sleep->pain {p.sleep_to_pain:g} (SD {p.sd_sleep_to_pain:g}), "
                    f"pain->sleep {p.pain_to_sleep:g} (SD {p.sd_pain_to_sleep:g})",
                ),
                (
                    "autoregression",
                    f"pain {p.phi_pain:g}, sleep {p.phi_sleep:g}; missing days "
                    f"{p.missing_day_share:g} ({missing}); "
                    f"sleep scale {self.settings.get('sleep_scale')}",
                ),
            ),
            tables=(DisplayTable(shown, digits=3),),
            notes=(
                "AR bias: simulated bias of the autoregressive effect under person-mean "
                "centring; Nickell's approximation -(1 + phi)/(T - 1) shown beside it.",
                "random part: "
                + (
                    "(1 + x | id), correlated (slope_correlation=True); singular: a variance "
                    "or the correlation on its boundary"
                    if self.settings.get("slope_correlation")
                    else "(1 + x || id); slope SD 0: the slope SD was estimated at 0, so the "
                    "fit is the random-intercept model (not singular; Bates et al. 2015)"
                ),
            ),
        )

    def __repr__(self) -> str:
        cells = self.table[["n_persons", "n_days"]].drop_duplicates()
        return (
            f"PowerResult({len(cells)} design cells x 2 directions, {self.n_sims} studies "
            f"each, alpha={self.alpha:g}, sleep_to_pain={self.parameters.sleep_to_pain:g}, "
            f"pain_to_sleep={self.parameters.pain_to_sleep:g})"
        )

    def plot(
        self,
        *,
        direction: str | None = None,
        ax: Axes | None = None,
        target: float | None = 0.8,
    ) -> Axes:
        """Power curves against the number of persons, one line per number of days.

        Error bars span +/- 2 Monte Carlo SEs; dotted line: alpha; dash-dot line: ``target``.

        Parameters
        ----------
        direction : {"sleep->pain", "pain->sleep"}, optional
            Plot one direction; by default both (solid: sleep->pain, dashed: pain->sleep).
        ax : matplotlib Axes, optional
            Axes to draw on (default a new figure).
        target : float or None, default 0.8
            Draw a horizontal reference line at this power.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import sleeppain as sp
        >>> res = sp.power(n_persons=[20, 30], n_days=7, sleep_to_pain=-0.3,
        ...                pain_to_sleep=0.0, n_sims=10, seed=1, n_jobs=1, progress=False)
        >>> ax = res.plot()
        """
        import matplotlib.pyplot as plt

        from sleeppain.errors import SpecificationError

        directions = list(dict.fromkeys(self.table["direction"]))
        if direction is not None:
            if direction not in directions:
                raise SpecificationError(
                    f"direction={direction!r} is not in the result; pass one of {directions}."
                )
            directions = [direction]
        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, 4.0))
        styles = {"sleep->pain": "-", "pain->sleep": "--"}
        days = sorted(self.table["n_days"].unique())
        colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
        for k, d in enumerate(days):
            for dirn in directions:
                sub = self.table[(self.table["n_days"] == d) & (self.table["direction"] == dirn)]
                sub = sub.sort_values("n_persons")
                label = f"{d} days" + ("" if len(directions) == 1 else f", {dirn}")
                ax.errorbar(
                    sub["n_persons"],
                    sub["power"],
                    yerr=2.0 * sub["mc_se"],
                    linestyle=styles.get(dirn, "-"),
                    marker="o",
                    color=colors[k % len(colors)],
                    label=label,
                    capsize=2,
                )
        ax.axhline(self.alpha, color="grey", linewidth=0.8, linestyle=":")
        if target is not None:
            ax.axhline(target, color="grey", linewidth=0.8, linestyle="-.")
        ax.set_xlabel("persons")
        ax.set_ylabel("power")
        ax.set_ylim(0.0, 1.02)
        title = "Simulated power" + (f" ({directions[0]})" if len(directions) == 1 else "")
        ax.set_title(title)
        ax.legend(fontsize="small")
        return ax
