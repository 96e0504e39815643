"""Estimator properties and failure paths (no shared data needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sleeppain as sp
from sleeppain.errors import ConvergenceWarning, DataStructureError, SpecificationError
from sleeppain.mr import _estimators as E

RTOL_ALGEBRA = 1e-10  # exact algebraic identities (rescaling, permutation) up to rounding


def _data(k: int = 25, seed: int = 0, theta: float = 0.4) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    bx = rng.choice([-1, 1], k) * rng.uniform(0.02, 0.1, k)
    sx = rng.uniform(0.003, 0.006, k)
    sy = rng.uniform(0.01, 0.02, k)
    by = theta * bx + rng.normal(0, sy)
    return [bx, by, sx, sy]


CLOSED = ["ivw", "ivw_fixed", "egger", "penalised_ivw"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10.0))
def test_rescaling_outcome_rescales_estimate(seed: int, scale: float) -> None:
    bx, by, sx, sy = _data(seed=seed)
    for m in CLOSED:
        a = E.run_method(m, bx, by, sx, sy)
        b = E.run_method(m, bx, by * scale, sx, sy * scale)
        np.testing.assert_allclose([b.b, b.se], [a.b * scale, a.se * scale], rtol=1e-8)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_row_order_and_allele_coding_do_not_change_fits(seed: int) -> None:
    bx, by, sx, sy = _data(seed=seed)
    perm = np.random.default_rng(seed).permutation(bx.size)
    flip = np.where(np.random.default_rng(seed + 1).uniform(size=bx.size) < 0.5, -1.0, 1.0)
    for m in ["ivw", "egger", "max_likelihood", "robust_ivw"]:
        opts = {"optimizer": "exact"} if m == "max_likelihood" else None
        a = E.run_method(m, bx, by, sx, sy, options=opts)
        b = E.run_method(m, bx[perm], by[perm], sx[perm], sy[perm], options=opts)
        c = E.run_method(
            m, bx * flip, by * flip, sx, sy, options=opts
        )  # re-coding the effect allele
        np.testing.assert_allclose([b.b, b.se], [a.b, a.se], rtol=1e-6)
        np.testing.assert_allclose([c.b, c.se], [a.b, a.se], rtol=1e-6)


def test_ivw_closed_form_and_random_effects_floor() -> None:
    bx, by, sx, sy = _data(seed=3)
    w = sy**-2
    b = np.sum(w * bx * by) / np.sum(w * bx**2)
    r = E.ivw(bx, by, sx, sy)
    np.testing.assert_allclose(r.b, b, rtol=RTOL_ALGEBRA)
    se_fixed = 1 / np.sqrt(np.sum(w * bx**2))
    q = np.sum(w * (by - b * bx) ** 2)
    np.testing.assert_allclose(r.extra["Q"], q, rtol=RTOL_ALGEBRA)
    np.testing.assert_allclose(
        r.se, se_fixed * max(1.0, np.sqrt(q / (bx.size - 1))), rtol=RTOL_ALGEBRA
    )
    # under-dispersed data: the random-effects SE never falls below the fixed-effect SE
    by0 = 0.4 * bx + 0.01 * (by - 0.4 * bx)
    assert E.ivw(bx, by0, sx, sy).se == pytest.approx(
        E.ivw_fixed(bx, by0, sx, sy).se, rel=RTOL_ALGEBRA
    )


def test_max_likelihood_exact_is_the_optimum() -> None:
    bx, by, sx, sy = _data(seed=5)
    ex = E.max_likelihood(bx, by, sx, sy, optimizer="exact")
    nm = E.max_likelihood(bx, by, sx, sy)
    assert ex.extra["Q"] <= nm.extra["Q"] + 1e-9
    np.testing.assert_allclose(ex.b, ex.extra["b_optimum"], rtol=RTOL_ALGEBRA)
    # the profile objective is minimal at the estimate
    prof = lambda t: np.sum((by - t * bx) ** 2 / (sy**2 + t**2 * sx**2))  # noqa: E731
    assert prof(ex.b) <= min(prof(ex.b + 1e-4), prof(ex.b - 1e-4))


def test_bootstrap_methods_are_reproducible_with_a_seed() -> None:
    a = _data(seed=7)
    for f in (E.weighted_median, E.simple_median, E.weighted_mode, E.simple_mode):
        r1 = f(*a, seed=11, nboot=200)
        r2 = f(*a, seed=11, nboot=200)
        r3 = f(*a, seed=12, nboot=200)
        assert r1.se == r2.se
        assert r1.b == r3.b  # point estimates are deterministic
        assert r1.se != r3.se


def test_penalised_and_robust_ivw_resist_an_outlier() -> None:
    bx, by, sx, sy = _data(k=30, seed=9, theta=0.4)
    by = by.copy()
    by[0] += 40 * sy[0] * np.sign(bx[0])
    assert abs(E.penalised_ivw(bx, by, sx, sy).b - 0.4) < abs(E.ivw(bx, by, sx, sy).b - 0.4)
    assert abs(E.robust_ivw(bx, by, sx, sy).b - 0.4) < abs(E.ivw(bx, by, sx, sy).b - 0.4)
    assert E.penalised_ivw(bx, by, sx, sy).extra["n_downweighted"] >= 1


def test_weighted_median_point_interpolates() -> None:
    assert E.weighted_median_point(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4)) == pytest.approx(2.5)
    # a dominant weight pulls the median to its estimate
    assert E.weighted_median_point(
        np.array([1.0, 2.0, 10.0]), np.array([1.0, 1.0, 100.0])
    ) == pytest.approx(10.0, rel=0.1)


# ------------------------------------------------------------------------ failure paths
@pytest.mark.parametrize(
    "method",
    [
        "egger",
        "weighted_median",
        "simple_median",
        "weighted_mode",
        "simple_mode",
        "penalised_ivw",
        "robust_ivw",
    ],
)
def test_methods_needing_three_variants_raise(method: str) -> None:
    bx, by, sx, sy = _data(k=2)
    with pytest.raises(SpecificationError, match="at least 3 variant"):
        E.run_method(method, bx, by, sx, sy)
    h = pd.DataFrame(
        {
            "SNP": ["a", "b"],
            "beta.exposure": bx,
            "beta.outcome": by,
            "se.exposure": sx,
            "se.outcome": sy,
        }
    )
    with pytest.raises(SpecificationError, match=f"method '{method}' needs at least 3"):
        sp.mr.estimate(h, methods=[method])


def test_estimate_picks_wald_ratio_for_one_variant_and_rejects_it_for_more() -> None:
    h = pd.DataFrame(
        {
            "SNP": ["a"],
            "beta.exposure": [0.1],
            "beta.outcome": [0.05],
            "se.exposure": [0.01],
            "se.outcome": [0.02],
        }
    )
    t = sp.mr.estimate(h)
    assert t["method"].tolist() == ["wald_ratio"] and t["b"].iloc[0] == pytest.approx(0.5)
    bx, by, sx, sy = _data(k=4)
    h4 = pd.DataFrame(
        {
            "SNP": list("abcd"),
            "beta.exposure": bx,
            "beta.outcome": by,
            "se.exposure": sx,
            "se.outcome": sy,
        }
    )
    with pytest.raises(SpecificationError, match="wald_ratio"):
        sp.mr.estimate(h4, methods=["wald_ratio"])
    with pytest.raises(SpecificationError, match="unknown MR method 'ivw_re'"):
        sp.mr.estimate(h4, methods=["ivw_re"])


def test_estimate_rejects_bad_standard_errors_and_duplicates() -> None:
    bx, by, sx, sy = _data(k=5)
    base = pd.DataFrame(
        {
            "SNP": list("abcde"),
            "beta.exposure": bx,
            "beta.outcome": by,
            "se.exposure": sx,
            "se.outcome": sy,
        }
    )
    bad = base.copy()
    bad.loc[2, "se.outcome"] = 0.0
    with pytest.raises(DataStructureError, match=r"non-positive standard error.*'c'"):
        sp.mr.estimate(bad, methods=["ivw"])
    miss = base.copy()
    miss.loc[1, "se.outcome"] = np.nan
    with pytest.raises(DataStructureError, match="missing beta or SE"):
        sp.mr.estimate(miss, methods=["ivw"])
    dup = pd.concat([base, base.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataStructureError, match="more than once"):
        sp.mr.estimate(dup, methods=["ivw"])
    with pytest.raises(DataStructureError, match="no column"):
        sp.mr.estimate(base.drop(columns="se.outcome"))
    # the same rows are fine when mr_keep excludes them
    ok = bad.assign(mr_keep=[True, True, False, True, True])
    assert sp.mr.estimate(ok, methods=["ivw"])["nsnp"].iloc[0] == 4


def test_pure_functions_validate_inputs() -> None:
    bx, by, sx, sy = _data(k=5)
    with pytest.raises(SpecificationError, match="non-finite"):
        E.ivw(np.r_[bx[:4], np.nan], by, sx, sy)
    with pytest.raises(SpecificationError, match=r"beta\.exposure == 0"):
        E.ivw(np.r_[bx[:4], 0.0], by, sx, sy)
    with pytest.raises(SpecificationError, match="same length"):
        E.ivw(bx[:4], by, sx, sy)
    with pytest.raises(SpecificationError, match="model must be"):
        E.ivw(bx, by, sx, sy, model="mixed")


def test_custom_column_names_and_odds_ratios() -> None:
    bx, by, sx, sy = _data(k=6)
    t = pd.DataFrame({"bx": bx, "by": by, "sx": sx, "sy": sy})
    r = sp.mr.estimate(
        t,
        methods=["ivw"],
        exposure_beta="bx",
        exposure_se="sx",
        outcome_beta="by",
        outcome_se="sy",
        odds_ratios=True,
    )
    assert list(r.columns) == [
        "method",
        "nsnp",
        "b",
        "se",
        "pval",
        "conf_low",
        "conf_high",
        "or",
        "or_conf_low",
        "or_conf_high",
    ]
    assert r["or"].iloc[0] == pytest.approx(np.exp(r["b"].iloc[0]))


def test_max_likelihood_warns_when_nelder_mead_stops_early() -> None:
    bx, by, sx, sy = _data(k=20, seed=2)
    h = pd.DataFrame({"beta.exposure": bx, "beta.outcome": by, "se.exposure": sx, "se.outcome": sy})
    fit = E.max_likelihood(bx, by, sx, sy, maxit=300)  # R's optim: convergence code 1
    assert fit.extra["optimizer_fail"] == 1.0
    with pytest.warns(ConvergenceWarning, match="Nelder-Mead stopped before converging"):
        sp.mr.estimate(h, methods=["max_likelihood"], options={"max_likelihood": {"maxit": 300}})
    exact = sp.mr.estimate(
        h, methods=["max_likelihood"], options={"max_likelihood": {"optimizer": "exact"}}
    )
    assert exact["b"].iloc[0] == pytest.approx(fit.extra["b_optimum"], rel=1e-9)


def test_default_methods_adapt_to_two_variants_and_analyse_runs() -> None:
    bx, by, sx, sy = _data(k=2)
    h = pd.DataFrame(
        {
            "SNP": ["a", "b"],
            "beta.exposure": bx,
            "beta.outcome": by,
            "se.exposure": sx,
            "se.outcome": sy,
            "samplesize.exposure": 1e5,
            "samplesize.outcome": 1e5,
        }
    )
    assert sp.mr.estimate(h)["method"].tolist() == ["ivw"]
    res = sp.mr.analyse(h)
    assert res.heterogeneity is None and res.presso is None and res.leave_one_out == ()
    assert "Cochran" not in res.summary() and res.steiger is not None
