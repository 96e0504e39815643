"""Recovery: 95% intervals cover the generating effects at about the nominal rate.

Data from ``sp.simulate.diary`` (latent, unrounded ratings) with 60 persons x 40 days:
long enough that the Nickell bias of the cross-lagged effects (person-mean centring with
a lagged outcome) is small next to the Monte Carlo error. Tolerance: 4 Monte Carlo SEs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning

N_REPS = 50
TRUTH = {"sleep->pain": -0.15, "pain->sleep": -0.05}  # DiaryParameters defaults


@pytest.mark.slow
def test_intervals_cover_the_truth_at_the_nominal_rate() -> None:
    est, covered = [], []
    for seed in range(N_REPS):
        sim = sp.simulate.diary(60, 40, seed=1000 + seed, round_to_scale=False)
        assert (sim.params.sleep_to_pain, sim.params.pain_to_sleep) == tuple(TRUTH.values())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BoundaryFitWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            eff = sp.crosslag(
                sim.data, id="id", day="day", sleep="sleep_quality", pain="pain"
            ).effects()
        truth = np.array([TRUTH[d] for d in eff.index])
        est.append(eff["estimate"].to_numpy())
        covered.append((eff["conf_low"] <= truth) & (truth <= eff["conf_high"]))
    est_a, cov = np.array(est), np.array(covered, dtype=float)
    rate = cov.mean()  # pooled over both directions
    mc_se = np.sqrt(0.95 * 0.05 / cov.size)
    assert abs(rate - 0.95) <= 4 * mc_se, f"coverage {rate:.3f}"
    for j, d in enumerate(eff.index):
        bias = est_a[:, j].mean() - TRUTH[d]
        assert abs(bias) <= 4 * est_a[:, j].std(ddof=1) / np.sqrt(N_REPS), (d, bias)
