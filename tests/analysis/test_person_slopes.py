"""Person-specific slopes: prediction error variances that include the fixed effect's error.

References: Henderson (1975), Biometrics 31:423 (mixed-model equations and the prediction
error variance of BLUPs); lme4 1.1's ``ranef(condVar = TRUE)`` for the variance given beta.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.analysis._person import person_slopes
from sleeppain.analysis._result import _slope_arrays
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning, SpecificationError

#: closed forms / the same linear algebra done two ways
CLOSED_RTOL = 1e-8


def _fit(data: pd.DataFrame, **kw) -> sp.CrossLagResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sp.crosslag(data, id="id", day="day", sleep="sleep_quality", pain="pain", **kw)


@pytest.fixture(scope="module")
def res() -> sp.CrossLagResult:
    return _fit(sp.simulate.diary(30, 10, seed=3).data, sleep_higher_is="better")


def test_blocks_equal_dense_henderson_inverse_and_lme4_pieces(res: sp.CrossLagResult) -> None:
    mf = res.frames[("sleep_quality", "sleep->pain")]
    fit = res.fits[("sleep_quality", "sleep->pain")]
    arr, ids = _slope_arrays(mf, fit)
    # sigma^2 S^{-1} is the fit's vcov; the slope is fixef + conditional mode (lme4's ranef)
    np.testing.assert_allclose(arr.vcov_beta, fit.vcov.to_numpy(), rtol=1e-6, atol=1e-12)
    re = fit.ranef()
    re = re[re["term"] == "sleep_w"].set_index("level").loc[ids]
    np.testing.assert_allclose(arr.slope, fit.fixef["sleep_w"] + re["estimate"], rtol=1e-6)
    np.testing.assert_allclose(arr.cond_se, re["std_error"], rtol=1e-6)
    # dense Henderson coefficient matrix, inverted as a whole
    fr = mf.frame
    X = np.column_stack([np.ones(len(fr)), *(fr[c].to_numpy(float) for c in mf.fixed)])
    Z = np.column_stack([np.ones(len(fr)), fr["sleep_w"].to_numpy(float)])
    codes, _ = pd.factorize(fr["id"], sort=True)
    th = np.asarray(fit.theta)
    if th.size == 2:  # the default (1 + x || id): no intercept-slope covariance
        th = np.array([th[0], 0.0, th[1]])
    T = np.array([[th[0], 0.0], [th[1], th[2]]])
    n = codes.max() + 1
    Zf = np.zeros((len(fr), 2 * n))
    for i, c in enumerate(codes):
        Zf[i, 2 * c : 2 * c + 2] = Z[i] @ T
    C = np.block([[X.T @ X, X.T @ Zf], [Zf.T @ X, Zf.T @ Zf + np.eye(2 * n)]])
    Ci = np.linalg.inv(C)
    p = X.shape[1]
    want = []
    for i in range(n):
        ell = np.zeros(p + 2 * n)
        ell[1] = 1.0
        ell[p + 2 * i : p + 2 * i + 2] = T[1]
        want.append(fit.sigma * np.sqrt(ell @ Ci @ ell))
    np.testing.assert_allclose(arr.pev_se, want, rtol=CLOSED_RTOL)
    assert np.all(arr.pev_se > arr.cond_se)


def test_no_slope_variance_gives_the_fixed_effect_uncertainty() -> None:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(10), 6)
    x = rng.normal(size=60)
    X = np.column_stack([np.ones(60), x])
    y = rng.normal(size=60)
    # theta = (1, 0, 0): no slope variance; every slope is beta1 with SE sqrt(vcov[1, 1])
    out = person_slopes(X, X, y, g, 10, np.array([1.0, 0.0, 0.0]), 1.0, 1, 1)
    np.testing.assert_allclose(out.pev_se, np.sqrt(out.vcov_beta[1, 1]), rtol=CLOSED_RTOL)
    np.testing.assert_allclose(out.cond_se, 0.0, atol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_null_effect_without_slope_variance_is_credible_for_almost_nobody(seed: int) -> None:
    """Issue 12: the old rule called 100% of persons credibly negative at p = 0.49."""
    sim = sp.simulate.diary(
        80,
        14,
        seed=seed,
        sleep_to_pain=0.0,
        sd_sleep_to_pain=0.0,
        pain_to_sleep=0.0,
        sd_pain_to_sleep=0.0,
        round_to_scale=False,
    )
    r = _fit(sim.data, sleep_higher_is="better")
    sh = r.person_effects().shares.set_index("direction")
    for d in ("sleep->pain", "pain->sleep"):
        p = float(r.effects().loc[d, "p_value"])
        credible = sh.loc[d, "share_credibly_negative"] + sh.loc[d, "share_credibly_positive"]
        if p > 0.05:
            # the fixed effect is not significant: a person's interval, which contains the
            # fixed effect's uncertainty, excludes 0 only for persons with a large deviation
            assert credible <= 0.05
        assert sh.loc[d, "share_expected_95"] <= 0.05 or p < 0.05
    if seed == 3:
        # the former rule (lme4's conditional SD given beta, sign of the estimate) called
        # most persons credible here although p = 0.65 and the slope SD is about 0.01
        t = r.person_effects().table
        t = t[t["direction"] == "sleep->pain"]
        old = np.mean(np.sign(t["fixed"]) * t["slope"] - 1.96 * t["cond_se"] > 0)
        assert old > 0.5


def test_expected_direction_comes_from_the_declaration(res: sp.CrossLagResult) -> None:
    sh = res.person_effects().shares.set_index("direction")
    assert (sh["expected_sign"] == -1).all()
    assert sh.loc["sleep->pain", "share_expected"] == sh.loc["sleep->pain", "share_negative"]
    undeclared = _fit(sp.simulate.diary(30, 10, seed=3).data)
    shares = undeclared.person_effects().shares
    assert "expected_sign" not in shares.columns  # never taken from the estimate's own sign
    worse = _fit(sp.simulate.diary(30, 10, seed=3).data, sleep_higher_is="worse")
    assert (worse.person_effects().shares["expected_sign"] == 1).all()
    given = undeclared.person_effects(expected_sign={"sleep->pain": 1})
    assert given.shares.set_index("direction").loc["sleep->pain", "expected_sign"] == 1
    with pytest.raises(SpecificationError, match="sleep_higher_is"):
        _fit(sp.simulate.diary(10, 5, seed=1).data, sleep_higher_is="up")


def test_person_slopes_follow_the_contract(res: sp.CrossLagResult) -> None:
    pe = res.person_effects()
    t = pe.table
    t.loc[:, "slope"] = 99.0
    assert (pe.table["slope"] != 99.0).all()
    assert list(pe.tidy().columns[:8]) == list(sp.results.TIDY_COLUMNS)
    assert isinstance(pe.summary(), str) and "Person-specific" in pe._repr_html_()
