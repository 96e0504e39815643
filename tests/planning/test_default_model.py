"""sp.power fits sp.crosslag's default model; the random intercept is no longer absorbed."""

from __future__ import annotations

import numpy as np
import pytest

import sleeppain as sp
from sleeppain.planning._generate import DIRECTIONS, crosslag_stats, generate_batch
from sleeppain.planning._montecarlo import POWER_DEFAULTS
from sleeppain.planning._reml import fit_batched
from sleeppain.simulate import DiaryParameters


@pytest.fixture(scope="module")
def batch():
    params = DiaryParameters(**POWER_DEFAULTS, sleep_to_pain=-0.15, pain_to_sleep=-0.1)
    return generate_batch(np.random.default_rng(5), 100, 100, 14, params)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_random_intercept_carries_the_outcome_level(batch, direction: str) -> None:
    new = fit_batched(crosslag_stats(batch, direction))
    old = fit_batched(crosslag_stats(batch, direction, outcome_mean=True))
    assert new.converged.all() and old.converged.all()
    # the former default: the outcome's person mean absorbs the random intercept, always
    assert old.singular.mean() == 1.0
    assert np.median(old.theta[:, 0]) < 0.05
    # the default: the intercept SD is never at zero; the boundary fits that remain are a
    # correlation of +/-1 between intercept and a small slope SD (0.08 / 0.05 by default)
    assert np.all(new.theta[:, 0] > 0.5)
    assert np.all(new.theta[new.singular, 2] < 1e-4)
    assert new.singular.mean() < 0.5


def test_power_shows_progress_in_python(capsys: pytest.CaptureFixture[str]) -> None:
    res = sp.power(
        n_persons=20,
        n_days=7,
        sleep_to_pain=-0.3,
        pain_to_sleep=0.0,
        n_sims=10,
        seed=1,
        n_jobs=1,
        progress=True,
    )
    err = capsys.readouterr().err
    assert "power: [" in err and "10/10 studies" in err
    assert res.settings["outcome_mean"] is False
