"""Which direction is stronger: a person-level (cluster) bootstrap of the difference.

Both cross-lagged models are fitted to the same persons' series, so their estimates are
correlated; a test of their difference must respect that. We resample persons with
replacement (each drawn person keeps all their rows in both models, with a new cluster
label), refit both models, and recompute the standardised effects. The statistic is
``|std sleep->pain| - |std pain->sleep|``; its percentile interval and the two-sided
bootstrap p-value (Davison & Hinkley 1997, ch. 4: ``2 min(#{d* <= 0} + 1, #{d* >= 0} + 1)
/ (B + 1)``) are reported.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sleeppain.analysis._frames import DIRECTIONS, ModelFrame
from sleeppain.analysis._models import fit_frame
from sleeppain.errors import EstimationError
from sleeppain.results import Display, DisplayTable, ResultMixin, readonly, tidy_frame

__all__ = ["DirectionComparison", "bootstrap_std_effects", "percentile_summary"]


def std_effect(mf: ModelFrame, fit: object) -> float:
    """Standardised focal effect: beta x SD(predictor_w) / SD(outcome_w) on the rows used."""
    focal = mf.focal[0]
    beta = float(fit.fixef[focal])  # type: ignore[attr-defined]
    sd_x = float(np.std(mf.frame[focal].to_numpy(float), ddof=1))
    sd_y = float(np.nanstd(mf.outcome_within, ddof=1))
    return beta * sd_x / sd_y if sd_y > 0 else np.nan


def _resample(mf: ModelFrame, rows_of: dict[object, np.ndarray], draw: list[object]) -> ModelFrame:
    idx_parts = []
    lab_parts = []
    for k, person in enumerate(draw):
        rows = rows_of.get(person)
        if rows is None or len(rows) == 0:
            continue
        idx_parts.append(rows)
        lab_parts.append(np.full(len(rows), k))
    if not idx_parts:
        return dataclasses.replace(mf, _frame=mf.frame.iloc[:0], outcome_within=np.empty(0))
    idx = np.concatenate(idx_parts)
    frame = mf.frame.iloc[idx].reset_index(drop=True)
    frame["id"] = np.concatenate(lab_parts)
    return dataclasses.replace(mf, _frame=frame, outcome_within=mf.outcome_within[idx])


def bootstrap_std_effects(
    frames: dict[str, ModelFrame],
    *,
    estimator: str,
    random_slopes: bool,
    reml: bool,
    n_boot: int,
    slope_correlation: bool = False,
    seed: int | np.random.SeedSequence | None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Standardised effects of both directions in ``n_boot`` person-resampled datasets.

    Returns
    -------
    ndarray, shape (n_boot, 2)
        Columns in :data:`DIRECTIONS` order; NaN where a refit failed.
    """
    rng = np.random.default_rng(seed)
    persons = pd.unique(
        np.concatenate([frames[d].frame["id"].to_numpy(dtype=object) for d in DIRECTIONS])
    )
    rows_of = {
        d: {k: np.asarray(v) for k, v in frames[d].frame.groupby("id", sort=False).indices.items()}
        for d in DIRECTIONS
    }
    out = np.full((n_boot, 2), np.nan)
    for b in range(n_boot):
        draw = list(persons[rng.integers(0, len(persons), len(persons))])
        for j, d in enumerate(DIRECTIONS):
            mf = _resample(frames[d], rows_of[d], draw)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = fit_frame(
                        mf,
                        estimator=estimator,
                        random_slopes=random_slopes,
                        reml=reml,
                        tidy=False,
                        slope_correlation=slope_correlation,
                    )
                out[b, j] = std_effect(mf, res.fit)
            except (EstimationError, ValueError, np.linalg.LinAlgError):
                out[b, j] = np.nan
        if progress is not None:
            progress(b + 1, n_boot)
    return out


def percentile_summary(observed: float, draws: np.ndarray, conf_level: float) -> dict[str, float]:
    """Percentile interval and two-sided bootstrap p-value of a difference (H0: 0).

    Examples
    --------
    >>> r = percentile_summary(0.3, np.linspace(0.1, 0.5, 99), 0.9)
    >>> round(r["p_value"], 3), round(r["conf_low"], 2)
    (0.02, 0.12)
    """
    d = draws[np.isfinite(draws)]
    if len(d) == 0:
        return {"conf_low": np.nan, "conf_high": np.nan, "p_value": np.nan, "boot_se": np.nan}
    a = (1 - conf_level) / 2
    lo, hi = np.quantile(d, [a, 1 - a])
    b = len(d)
    p = 2 * min(np.sum(d <= 0) + 1, np.sum(d >= 0) + 1) / (b + 1)
    return {
        "conf_low": float(lo),
        "conf_high": float(hi),
        "p_value": float(min(1.0, p)),
        "boot_se": float(np.std(d, ddof=1)) if b > 1 else np.nan,
    }


@dataclass(frozen=True, eq=False)
class DirectionComparison(ResultMixin):
    """Which cross-lagged direction is stronger, on the standardised scale.

    Attributes
    ----------
    table : DataFrame
        One row per sleep measure: ``std_sleep_to_pain``, ``std_pain_to_sleep`` (the
        standardised within-person effects), ``difference`` (``|sleep->pain| -
        |pain->sleep|``), ``conf_low``, ``conf_high`` (percentile interval), ``boot_se``,
        ``p_value`` (two-sided bootstrap test of no difference), ``stronger`` (the
        direction with the larger absolute standardised effect, or ``"neither"`` when the
        interval covers 0), ``n_boot``, ``n_failed`` (refits that failed).
    method : str
        How the test was made.
    conf_level : float
    seed : object
        The seed used (the entropy drawn when none was given).
    draws : mapping
        Sleep measure -> (n_boot, 2) read-only array of bootstrap standardised effects.
    """

    _table: pd.DataFrame = field(repr=False)
    method: str
    conf_level: float
    seed: object
    _draws: Mapping[str, np.ndarray] = field(repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """The comparison table (a copy)."""
        return self._table.copy()

    @property
    def draws(self) -> Mapping[str, np.ndarray]:
        """Bootstrap draws per sleep measure (read-only arrays)."""
        return readonly(dict(self._draws))

    def tidy(self) -> pd.DataFrame:
        """One row per sleep measure (house schema; ``term`` = ``"difference"``)."""
        t = self._table.reset_index()
        t = t.rename(columns={"difference": "estimate", "boot_se": "std_error"})
        t["term"] = "difference"
        t["method"] = "cluster bootstrap"
        return tidy_frame(t, context=["sleep", "method"])

    def glance(self) -> pd.DataFrame:
        """One row per sleep measure: the replications and the verdict."""
        t = self._table.reset_index()
        return t[["sleep", "stronger", "n_boot", "n_failed"]].assign(
            conf_level=self.conf_level, seed=str(self.seed)
        )

    def _display(self) -> Display:
        return Display(
            title="Which direction is stronger (standardised within-person effects)",
            tables=(DisplayTable(self._table),),
            notes=(f"Method: {self.method}",),
        )

    def __repr__(self) -> str:
        return self.summary()
