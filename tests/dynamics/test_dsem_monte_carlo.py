"""sp.dsem against known truth over many datasets (opt-in, slow): bias and coverage.

The design is benchmarks/bench_dsem.py's (phi_pain 0.45, phi_sleep 0.3, sleep->pain -0.2
with person SD 0.08, pain->sleep 0 with person SD 0.05, 10 % of days missing, latent
continuous ratings; default random effects), with the same dataset and sampler seeds
(``1000 n + r``) and chains (2 x (1,000 + 2,000) at 7 and 14 days, where mixing is
slower; 2 x (500 + 500) at 28 days), so a run here repeats the benchmark's first ``reps``
datasets of a cell draw for draw.
Results of the full study (400 datasets at 100 x 7 and 120 x 14) are in
benchmarks/RESULTS.md.

Tolerances: a mean estimate within 3 Monte Carlo SEs of the truth, and a coverage within
3 binomial SEs of 0.95 (0.917-0.983 at 400 datasets). The tighter window 0.93-0.97 is
only 1.3 binomial SEs wide at 200 datasets, so a correctly calibrated method misses it
for some of the 12 parameter-cells by chance; the benchmark reports it over 400 datasets.
Why 400 by default: over the first 200 datasets of 100 x 7 the pain autoregression came
out +0.014 (3.4 MC SEs) and over the next 200 -0.0004 (0.1 MC SE); 200 datasets alone
cannot tell a bias of about 0.007 from chance at this tolerance.

Run with ``SLEEPPAIN_FULL_MC=1 pytest -m slow tests/dynamics/test_dsem_monte_carlo.py``
(``SLEEPPAIN_MC_REPS`` sets the datasets per cell, 400 by default; about 20-50 minutes
per cell on 2 cores).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import sleeppain as sp
from sleeppain.errors import ConvergenceWarning

TRUTH = {"sleep->pain": -0.2, "pain->sleep": 0.0, "pain->pain": 0.45, "sleep->sleep": 0.3}
PARAMS = dict(
    phi_pain=0.45, phi_sleep=0.3, sleep_to_pain=-0.2, pain_to_sleep=0.0, missing_day_share=0.1
)
#: mean estimate within this many Monte Carlo SEs of the truth
Z_BIAS = 3.0
#: coverage within this many binomial SEs of the nominal 0.95
Z_COVER = 3.0


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("SLEEPPAIN_FULL_MC") != "1",
    reason="Monte Carlo study, 400 dsem fits per cell: set SLEEPPAIN_FULL_MC=1",
)
@pytest.mark.parametrize(
    ("n", "t", "warmup", "draws"),
    [(100, 7, 1000, 2000), (120, 14, 1000, 2000), (300, 28, 500, 500)],
)
def test_bias_and_coverage_against_known_truth(n: int, t: int, warmup: int, draws: int) -> None:
    reps = int(os.environ.get("SLEEPPAIN_MC_REPS", "400"))
    est = {k: [] for k in TRUTH}
    cover = {k: [] for k in TRUTH}
    for r in range(reps):
        sim = sp.simulate.diary(n, t, seed=1000 * n + r, round_to_scale=False, **PARAMS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = sp.dsem(
                sim.data, id="id", day="day", sleep="sleep_quality", pain="pain",
                chains=2, warmup=warmup, draws=draws, seed=1000 * n + r, n_jobs=1,
            )  # fmt: skip
        eff = res.effects()
        for k, v in TRUTH.items():
            est[k].append(eff.loc[k, "estimate"])
            cover[k].append(eff.loc[k, "conf_low"] <= v <= eff.loc[k, "conf_high"])
    band = Z_COVER * np.sqrt(0.95 * 0.05 / reps)
    for k, v in TRUTH.items():
        e = np.array(est[k])
        bias, mcse, cov = e.mean() - v, e.std(ddof=1) / np.sqrt(reps), np.mean(cover[k])
        print(f"{n} x {t} {k:13s} bias {bias:+.4f} (MC SE {mcse:.4f}) coverage {cov:.3f}")
        assert abs(bias) < Z_BIAS * mcse, (k, bias, mcse)
        assert abs(cov - 0.95) <= band, (k, cov)
