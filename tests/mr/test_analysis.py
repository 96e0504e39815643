"""Full analyses, sensitivity tests, bidirectional design, simulation and plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import SpecificationError
from sleeppain.mr import _sensitivity as S


@pytest.fixture(scope="module")
def sim() -> sp.mr.SimulatedSumstats:
    return sp.mr.simulate_sumstats(n_variants=60, n_variants_b=20, n_null=400, seed=11)


def test_simulation_recovers_the_causal_effect(sim: sp.mr.SimulatedSumstats) -> None:
    inst = sp.mr.select_instruments(sim.exposure)
    # every selected instrument sits at a true A locus (the lead or one of its LD neighbours,
    # ids rs<10_000_000 + 10 j + m>): no null variant and no B-only locus passes 5e-8
    a_loci = {(int(s[2:]) - 10_000_000) // 10 for s in sim.truth["instruments_a"]}
    sel_loci = [(int(s[2:]) - 10_000_000) // 10 for s in inst["SNP"]]
    assert all(0 <= j and j in a_loci for j in sel_loci)
    # distance clumping leaves one variant per locus
    assert len(sel_loci) == len(set(sel_loci))
    h = sp.mr.harmonise(inst, sim.outcome)
    t = sp.mr.estimate(h, methods=["ivw"]).iloc[0]
    # within 4 SEs of the truth (0.223)
    assert abs(t["b"] - sim.truth["effect_ab"]) < 4 * t["se"]
    # harmonisation undid the simulated allele swaps: aligned outcome betas agree in sign with
    # the exposure's for most strong instruments (the true effect is positive)
    kept = h.table[h.table["mr_keep"]]
    assert (np.sign(kept["beta.outcome"]) == np.sign(kept["beta.exposure"])).mean() > 0.6


def test_analyse_report(sim: sp.mr.SimulatedSumstats) -> None:
    inst = sp.mr.select_instruments(sim.exposure)
    h = sp.mr.harmonise(inst, sim.outcome, exposure_name="insomnia", outcome_name="LBP")
    res = sp.mr.analyse(
        h,
        methods="all",
        seed=3,
        n_boot=200,
        presso_n_dist=200,
        options={"max_likelihood": {"optimizer": "exact"}},
    )
    tidy = res.tidy(schema="mr")
    assert list(tidy.columns) == [
        "exposure",
        "outcome",
        "method",
        "nsnp",
        "b",
        "se",
        "pval",
        "conf_low",
        "conf_high",
    ]
    assert set(tidy["method"]) == set(sp.mr.METHODS) - {"wald_ratio"}
    assert tidy["exposure"].iloc[0] == "insomnia"
    g = res.glance()
    assert g["nsnp"].iloc[0] == res.nsnp == h.n_kept
    text = res.summary()
    for needle in (
        "insomnia -> LBP",
        "Cochran's Q",
        "Rucker's Q",
        "MR-Egger intercept",
        "I^2_GX",
        "MR-PRESSO",
        "Steiger",
        "Leave-one-out",
        "seed = 3",
    ):
        assert needle in text, needle
    assert "<table" in res._repr_html_()
    assert len(res.leave_one_out_table()) == res.nsnp == len(res.single_snp_table())
    # the same seed gives the same bootstrap SEs; analyse is a pure function of its inputs
    res2 = sp.mr.analyse(
        h,
        methods="all",
        seed=3,
        n_boot=200,
        presso_n_dist=200,
        options={"max_likelihood": {"optimizer": "exact"}},
    )
    pd.testing.assert_frame_equal(res.tidy(), res2.tidy())
    with pytest.raises(AttributeError):
        res.exposure = "x"  # type: ignore[misc]


def test_bidirectional(sim: sp.mr.SimulatedSumstats) -> None:
    res = sp.mr.bidirectional(
        sim.exposure,
        sim.outcome,
        a_name="insomnia",
        b_name="LBP",
        p_threshold=(5e-8, 5e-8),
        seed=1,
        n_boot=100,
        presso=False,
    )
    t = res.tidy(schema="mr", odds_ratios=True)
    assert t["direction"].unique().tolist() == ["insomnia -> LBP", "LBP -> insomnia"]
    fwd = t[(t["direction"] == "insomnia -> LBP") & (t["method"] == "ivw")].iloc[0]
    rev = t[(t["direction"] == "LBP -> insomnia") & (t["method"] == "ivw")].iloc[0]
    assert abs(fwd["b"] - 0.223) < 4 * fwd["se"]
    assert abs(rev["b"] - 0.003) < 4 * rev["se"]
    assert fwd["or"] == pytest.approx(np.exp(fwd["b"]))
    # instruments were chosen separately: the reverse direction uses B's variants
    assert set(res.reverse.snps) <= set(sim.outcome["SNP"])
    assert not set(res.reverse.snps) & set(res.forward.snps)
    s = res.summary()
    assert "Bidirectional two-sample MR: insomnia <-> LBP" in s and "LBP -> insomnia" in s
    assert len(res.glance()) == 2
    house = res.tidy()
    assert "direction" in house.columns
    assert list(house.columns[:8]) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "df",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    egg = house[(house["method"] == "egger") & (house["direction"] == "insomnia -> LBP")].iloc[0]
    assert egg["df"] == egg["nsnp"] - 2
    assert np.isnan(house.loc[house["method"] == "ivw", "df"]).all()


def test_mr_presso_finds_a_planted_outlier() -> None:
    rng = np.random.default_rng(4)
    k = 30
    bx = rng.uniform(0.03, 0.1, k)
    sx = np.full(k, 0.005)
    sy = np.full(k, 0.01)
    by = 0.5 * bx + rng.normal(0, 0.01, k)
    by[5] += 0.2
    p = S.mr_presso(bx, by, sx, sy, n_dist=500, seed=1)
    assert p.global_pval < 0.01
    assert 5 in p.outliers
    assert abs(p.corrected_b - 0.5) < abs(p.raw_b - 0.5)
    assert np.isfinite(p.distortion) and 0 <= p.distortion_pval <= 1
    # no outlier: global test not significant, outlier test skipped (NaN), as MRPRESSO does
    by0 = 0.5 * bx + rng.normal(0, 0.01, k)
    p0 = S.mr_presso(bx, by0, sx, sy, n_dist=300, seed=2)
    assert p0.global_pval > 0.05 and np.isnan(p0.outlier_pval).all()
    with pytest.raises(SpecificationError, match="more than 3 variants"):
        S.mr_presso(bx[:3], by[:3], sx[:3], sy[:3])


def test_steiger_binary_and_continuous() -> None:
    # continuous: R^2 from beta/se/N
    r2e = sp.mr.rsq_from_bsen(np.full(20, 0.05), np.full(20, 0.005), 1e5)
    r2o = sp.mr.rsq_from_bsen(np.full(20, 0.005), np.full(20, 0.01), 2e5)
    s = sp.mr.steiger(r2e, r2o, 1e5, 2e5)
    assert s.correct_direction and s.pval < 1e-10
    z = (np.arctanh(np.sqrt(r2e.sum())) - np.arctanh(np.sqrt(r2o.sum()))) / np.sqrt(
        1 / (1e5 - 3) + 1 / (2e5 - 3)
    )
    assert s.z == pytest.approx(z, rel=1e-12)
    # the reverse orientation is flagged
    assert not sp.mr.steiger(r2o, r2e, 2e5, 1e5).correct_direction
    with pytest.raises(SpecificationError, match="sum R\\^2 >= 1"):
        sp.mr.steiger(np.full(3, 0.5), r2o, 1e5, 2e5)


def test_binary_steiger_needs_prevalence(sim: sp.mr.SimulatedSumstats) -> None:
    inst = sp.mr.select_instruments(sim.exposure)
    h = sp.mr.harmonise(inst, sim.outcome)
    res = sp.mr.analyse(h, methods=["ivw"], presso=False, outcome_binary=True)
    assert res.steiger is None and "prevalence" in res.notes[0]
    res2 = sp.mr.analyse(
        h,
        methods=["ivw"],
        presso=False,
        exposure_binary=True,
        outcome_binary=True,
        exposure_prevalence=0.3,
        outcome_prevalence=0.08,
    )
    assert res2.steiger is not None and res2.steiger.correct_direction


def test_plots(sim: sp.mr.SimulatedSumstats) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = sp.mr.select_instruments(sim.exposure)
    res = sp.mr.analyse(sp.mr.harmonise(inst, sim.outcome), methods=["ivw", "egger"], presso=False)
    for name in ("plot_scatter", "plot_forest", "plot_funnel", "plot_leave_one_out"):
        ax = getattr(res, name)()
        assert ax.has_data(), name
        plt.close(ax.figure)
    ax = res.plot_scatter(methods=["egger"])
    assert len(ax.get_lines()) >= 1 and "MR Egger" in ax.get_legend_handles_labels()[1][0]
    plt.close("all")
