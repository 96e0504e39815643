"""Fixtures for the mixed-model engine tests: small simulated diary-like data sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def simulate(seed: int = 0, n_person: int = 25, n_day: int = 4, n_prompt: int = 3) -> pd.DataFrame:
    """Prompts within days within persons, with a crossed 'item' factor and a 3-level category."""
    rng = np.random.default_rng(seed)
    n_obs = n_day * n_prompt
    person = np.repeat(np.arange(n_person), n_obs)
    day = np.tile(np.repeat(np.arange(n_day), n_prompt), n_person)
    n = person.size
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    cat = rng.choice(np.array(["a", "b", "c"]), size=n)
    item = rng.integers(0, 7, size=n)
    b0 = rng.normal(size=n_person) * 1.2
    b1 = rng.normal(size=n_person) * 0.4
    bday = rng.normal(size=(n_person, n_day)) * 0.5
    bitem = rng.normal(size=7) * 0.7
    y = (
        2.0
        + 0.5 * x
        - 0.3 * z
        + 0.4 * (cat == "b")
        + b0[person]
        + b1[person] * x
        + bday[person, day]
        + bitem[item]
        + rng.normal(size=n)
    )
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "z": z,
            "pos": np.exp(rng.normal(size=n)),
            "cat": cat,
            "person": person,
            "day": day,
            "item": item,
        }
    )


@pytest.fixture(scope="session")
def diary() -> pd.DataFrame:
    """300 rows: 25 persons x 4 days x 3 prompts."""
    return simulate(0)


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """Small dense algebra in these tests runs faster without BLAS threads on shared cores."""
    from sleeppain.mixed._blas import single_threaded_blas

    with single_threaded_blas():
        yield
