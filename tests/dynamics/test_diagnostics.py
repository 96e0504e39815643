"""R-hat, ESS and MCSE against ArviZ 0.23.4 on fixed draws.

Reference: tests/reference/dsem/arviz_diagnostics.json, written by
tests/reference/dsem/arviz_diagnostics.py (ArviZ's rank-normalised split R-hat, bulk/tail
ESS, mean ESS and MCSE; Vehtari et al. 2021, Bayesian Analysis 16:667).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sleeppain.dynamics import _diagnostics as dg

REF = json.loads(
    (Path(__file__).parents[1] / "reference" / "dsem" / "arviz_diagnostics.json").read_text()
)
#: same algorithm, same floating-point operations up to summation order
RTOL = 1e-8


@pytest.mark.parametrize("name", sorted(REF["sets"]))
@pytest.mark.parametrize(
    ("key", "fun"),
    [
        ("rhat", dg.rhat),
        ("ess_bulk", dg.ess_bulk),
        ("ess_tail", dg.ess_tail),
        ("ess_mean", dg.ess_mean),
        ("mcse_mean", dg.mcse_mean),
    ],
)
def test_matches_arviz(name: str, key: str, fun) -> None:
    s = REF["sets"][name]
    x = np.array(s["draws"])
    assert fun(x) == pytest.approx(s[key], rel=RTOL)


def test_not_mixed_is_flagged() -> None:
    x = np.array(REF["sets"]["not_mixed"]["draws"])
    assert dg.rhat(x) > 1.01
    assert dg.ess_bulk(x) < 100


def test_constant_draws_give_nan() -> None:
    x = np.ones((2, 50))
    assert np.isnan(dg.rhat(x)) and np.isnan(dg.ess_bulk(x)) and np.isnan(dg.ess_tail(x))


def test_rejects_one_dimensional() -> None:
    with pytest.raises(ValueError, match="chains, draws"):
        dg.rhat(np.arange(10.0))


def test_iid_draws_have_ess_near_total() -> None:
    x = np.random.default_rng(3).standard_normal((4, 1000))
    assert 3000 < dg.ess_bulk(x) < 5000
    assert abs(dg.rhat(x) - 1) < 0.01
