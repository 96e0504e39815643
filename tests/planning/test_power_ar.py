"""sp.power with AR(1) residuals (residual_ar= to simulate, residual= to fit).

simr cannot do this (simr issue #170). The fits are sp.crosslag's (sp.lmm with nlme 3.1's
corAR1, checked in tests/mixed/test_nlme_reference.py); here: the generator's innovations
have the stated AR(1) correlation, phi is recovered, and seeds fix the result whatever
n_jobs is.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import SpecificationError
from sleeppain.planning._ar import _study_frame, generate_ar_batch
from sleeppain.planning._montecarlo import POWER_DEFAULTS
from sleeppain.simulate import DiaryParameters

#: Monte Carlo tolerance: estimates within this many Monte Carlo SEs of the truth
MC_SES = 4.0


def _small(n_jobs: int) -> sp.PowerResult:
    return sp.power(
        n_persons=15,
        n_days=10,
        sleep_to_pain=-0.3,
        pain_to_sleep=0.0,
        n_sims=20,
        seed=7,
        n_jobs=n_jobs,
        progress=False,
        residual="ar1",
        residual_ar=0.3,
    )


def test_power_with_ar1_runs_and_is_identical_across_workers() -> None:
    one = _small(1)
    two = _small(2)
    t = one.table
    assert {"phi_true", "phi_mean_estimate", "phi_mc_se"} <= set(t.columns)
    assert (t["phi_true"] == 0.3).all()
    assert t["n_used"].min() >= 18 and t["power"].between(0, 1).all()
    assert one.settings["residual"] == "ar1"
    pd.testing.assert_frame_equal(one.table, two.table)
    pd.testing.assert_frame_equal(one.simulations, two.simulations)


def test_generator_innovations_have_the_ar1_correlation() -> None:
    # no dynamics and no cross effects: pain = person mean + pain_resid_sd x innovation, so
    # the lag-1 and lag-2 within-person correlations of pain are r and r^2
    par = DiaryParameters(
        **{
            **POWER_DEFAULTS,
            "phi_pain": 0.0,
            "phi_sleep": 0.0,
            "sleep_to_pain": 0.0,
            "pain_to_sleep": 0.0,
            "sd_sleep_to_pain": 0.0,
            "sd_pain_to_sleep": 0.0,
            "missing_day_share": 0.0,
            "pain_mean": 50.0,  # far from the clipping bounds of the 0-10 scale
            "pain_between_sd": 0.0,  # every person's mean is pain_mean: no centring bias
            "depression_on_pain": 0.0,
        }
    )
    r = 0.4
    b = generate_ar_batch(np.random.default_rng(1), 1, 2000, 30, par, r, round_to_scale=False)
    x = b.pain[0] - 50.0
    n = x.size
    np.testing.assert_allclose(x.std(), par.pain_resid_sd, rtol=MC_SES / np.sqrt(2 * n))
    for lag, want in ((1, r), (2, r * r)):
        got = float((x[:, lag:] * x[:, :-lag]).sum() / (x * x).sum())
        # sample autocorrelation of 2,000 independent series: MC SE below sqrt(1 / n) x 2
        assert abs(got - want) < MC_SES * 2 * np.sqrt(1 / n)


def test_ar1_phi_recovered_on_average() -> None:
    # correctly specified models (no lagged outcome in the process, none in the fit): the
    # mean phi of 12 studies of 40 persons x 40 days is within MC_SES Monte Carlo SEs of r.
    # (With a lagged outcome the autoregression and phi are only weakly separated, see
    # docs/limitations.md.)
    r = 0.3
    par = DiaryParameters(
        **{
            **POWER_DEFAULTS,
            "phi_pain": 0.0,
            "phi_sleep": 0.0,
            "sleep_to_pain": -0.3,
            "pain_to_sleep": -0.1,
        }
    )
    b = generate_ar_batch(np.random.default_rng(3), 12, 40, 40, par, r, round_to_scale=False)
    phi = []
    for s in range(12):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sp.crosslag(
                _study_frame(b, s),
                id="id",
                day="day",
                sleep="sleep_quality",
                pain="pain",
                lagged_outcome=False,
                residual="ar1",
            )
        phi.append(res.effects()["phi"].to_numpy())
    phi_arr = np.array(phi)
    mean = phi_arr.mean(axis=0)
    mc_se = phi_arr.std(axis=0, ddof=1) / np.sqrt(len(phi_arr))
    assert np.all(np.abs(mean - r) < MC_SES * mc_se)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"residual": "arma"}, "residual='arma' is not known"),
        ({"residual_ar": 1.0}, "strictly between -1 and 1"),
        ({"residual_ar": 0.3, "missing_pain_logit": 0.5}, "MCAR"),
    ],
)
def test_power_ar_bad_input(kw: dict, match: str) -> None:
    with pytest.raises(SpecificationError, match=match):
        sp.power(
            n_persons=10,
            n_days=5,
            sleep_to_pain=-0.3,
            pain_to_sleep=0.0,
            n_sims=2,
            seed=1,
            n_jobs=1,
            progress=False,
            **kw,
        )
