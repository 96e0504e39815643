"""The frozen result of :func:`sleeppain.power`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from sleeppain.simulate import DiaryParameters

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["PowerResult"]


@dataclass(frozen=True, eq=False)
class PowerResult:
    """Simulated power of a lagged diary analysis over a grid of designs.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per design cell and direction: ``n_persons, n_days, direction, power,
        mc_se, mean_estimate, bias, rmse, coverage, share_converged`` then ``true_effect``,
        ``mean_std_error``, ``median_df`` (of the test; ``inf`` for the z test),
        ``share_singular``, ``n_used`` (studies entering the summaries),
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
            "ar_bias": "AR bias",
            "ar_bias_nickell": "AR bias (Nickell)",
        }

    def summary(self) -> str:
        """Text summary: the design, the assumptions and the main columns of the table.

        Examples
        --------
        >>> import sleeppain as sp
        >>> res = sp.power(n_persons=30, n_days=7, sleep_to_pain=-0.3, pain_to_sleep=0.0,
        ...                n_sims=20, seed=1, n_jobs=1, progress=False)
        >>> "power" in res.summary()
        True
        """
        p = self.parameters
        cols = list(self._labels)
        shown = self.table[cols].rename(columns=self._labels)
        lines = [
            "Simulated power of lagged multilevel models (sleeppain.power)",
            f"  {self.n_sims} studies per cell; {self.test}; alpha = {self.alpha:g}; "
            f"seed entropy {self.seed_entropy}",
            f"  effects: sleep->pain {p.sleep_to_pain:g} (SD {p.sd_sleep_to_pain:g}), "
            f"pain->sleep {p.pain_to_sleep:g} (SD {p.sd_pain_to_sleep:g})",
            f"  autoregression: pain {p.phi_pain:g}, sleep {p.phi_sleep:g}; missing days "
            f"{p.missing_day_share:g} ("
            + (
                "MCAR"
                if p.missing_pain_logit == 0
                else f"MAR, {p.missing_pain_logit:g} log-odds per pain point of the previous day"
            )
            + f"); sleep scale {self.settings.get('sleep_scale')}",
            "",
            shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
            "",
            "AR bias: simulated bias of the autoregressive effect under person-mean centring;",
            "Nickell's approximation -(1 + phi)/(T - 1) shown beside it.",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        cells = self.table[["n_persons", "n_days"]].drop_duplicates()
        return (
            f"PowerResult({len(cells)} design cells x 2 directions, {self.n_sims} studies "
            f"each, alpha={self.alpha:g}, sleep_to_pain={self.parameters.sleep_to_pain:g}, "
            f"pain_to_sleep={self.parameters.pain_to_sleep:g})"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Simulated power</b>: {self.n_sims} studies per cell, {self.test}, "
            f"alpha = {self.alpha:g}</p>"
        )
        return head + self.table.to_html(index=False, float_format=lambda v: f"{v:.3f}")

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
