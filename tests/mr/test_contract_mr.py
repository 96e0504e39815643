"""sp.mr on the result contract: schemas, one verb spelling, read-only outputs, helpers on data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.mr import _sensitivity as S
from sleeppain.results import TIDY_COLUMNS
from tests.conftest import REPO_ROOT

#: The same numbers through two routes (arrays vs harmonised data): identical arithmetic.
RTOL_SAME = 1e-12


@pytest.fixture(scope="module")
def h() -> sp.mr.HarmonisedData:
    sim = sp.mr.simulate_sumstats(n_variants=30, n_null=200, seed=8)
    return sp.mr.harmonise(
        sp.mr.select_instruments(sim.exposure),
        sim.outcome,
        exposure_name="insomnia",
        outcome_name="LBP",
    )


@pytest.fixture(scope="module")
def res(h: sp.mr.HarmonisedData) -> sp.mr.MRResult:
    return sp.mr.analyze(h, seed=4, n_boot=50, presso_n_dist=50)


def _arrays(h: sp.mr.HarmonisedData) -> tuple[np.ndarray, ...]:
    t = h.table[h.table["mr_keep"]]
    return tuple(
        t[c].to_numpy(float) for c in ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome")
    )


def test_analyse_is_analyze() -> None:
    assert sp.mr.analyse is sp.mr.analyze


def test_tidy_is_house_by_default_and_mr_on_request(res: sp.mr.MRResult) -> None:
    house = res.tidy()
    assert tuple(house.columns[:8]) == TIDY_COLUMNS
    assert {"method", "nsnp", "exposure", "outcome"} <= set(house.columns)
    assert (house["term"] == "insomnia -> LBP").all()
    mr = res.tidy(schema="mr")
    np.testing.assert_array_equal(house["estimate"], mr["b"])
    np.testing.assert_array_equal(house["std_error"], mr["se"])
    np.testing.assert_array_equal(house["p_value"], mr["pval"])
    np.testing.assert_allclose(house["statistic"], mr["b"] / mr["se"], rtol=RTOL_SAME)
    with pytest.raises(sp.SpecificationError, match="schema='broom'"):
        res.tidy(schema="broom")


def test_estimate_matches_analyze_and_offers_both_schemas(
    h: sp.mr.HarmonisedData, res: sp.mr.MRResult
) -> None:
    ivw = sp.mr.estimate(h, methods=["ivw", "egger"])
    assert list(ivw.columns) == ["method", "nsnp", "b", "se", "pval", "conf_low", "conf_high"]
    np.testing.assert_allclose(
        ivw["b"],
        res.tidy(schema="mr").set_index("method").loc[["ivw", "egger"], "b"],
        rtol=RTOL_SAME,
    )
    house = sp.mr.estimate(h, methods=["egger"], schema="house")
    assert house.loc[0, "term"] == "insomnia -> LBP"
    assert house.loc[0, "df"] == house.loc[0, "nsnp"] - 2


def test_helpers_accept_harmonised_data_like_estimate(
    h: sp.mr.HarmonisedData, res: sp.mr.MRResult
) -> None:
    bx, by, sx, sy = _arrays(h)
    loo = sp.mr.leave_one_out(h)
    assert isinstance(loo, pd.DataFrame) and list(loo["SNP"]) == list(res.snps)
    np.testing.assert_allclose(
        loo["b"], [r.b for r in S.leave_one_out(bx, by, sx, sy)], rtol=RTOL_SAME
    )
    np.testing.assert_allclose(res.leave_one_out_table()["estimate"], loo["b"], rtol=RTOL_SAME)
    single = sp.mr.single_snp(h, schema="house")
    assert tuple(single.columns[:8]) == TIDY_COLUMNS
    np.testing.assert_allclose(single["estimate"], by / bx, rtol=RTOL_SAME)
    # arrays give the same table, with variant numbers for names
    np.testing.assert_allclose(sp.mr.single_snp(bx, by, sx, sy)["b"], by / bx, rtol=RTOL_SAME)
    het = sp.mr.heterogeneity(h)
    assert het.Q_ivw == pytest.approx(res.heterogeneity.Q_ivw, rel=RTOL_SAME)
    p = sp.mr.mr_presso(h, n_dist=50, seed=1)
    assert p.snps == res.snps
    assert p.raw_b == pytest.approx(S.mr_presso(bx, by, sx, sy, n_dist=50, seed=1).raw_b)
    st = sp.mr.steiger(h)
    assert st.z == pytest.approx(res.steiger.z, rel=RTOL_SAME)


def test_for_r_users_mr_lines_run(h: sp.mr.HarmonisedData) -> None:
    text = (REPO_ROOT / "docs" / "for_r_users.md").read_text()
    section = text[text.index("## Mendelian randomization") :]
    calls = set(re.findall(r"`(sp\.mr\.\w+\(dat[^`]*\))`", section))
    assert len(calls) >= 7, calls
    for call in sorted(calls):
        out = eval(call, {"sp": sp, "dat": h})  # the documented call, as written
        assert out is not None, call


def test_outputs_are_read_only(res: sp.mr.MRResult, h: sp.mr.HarmonisedData) -> None:
    for name in ("bx", "by", "sx", "sy", "f_statistic"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(res, name)[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        res.presso.outlier_pval[0] = 0.0
    with pytest.raises(TypeError):
        res.estimates[0].extra["df"] = 1  # type: ignore[index]
    log = res.harmonisation_log
    log.loc[:, "step"] = "changed"
    assert "changed" not in set(res.harmonisation_log["step"])
    t = h.table
    t.loc[:, "beta.outcome"] = 0.0
    assert (h.table["beta.outcome"] != 0).any()


def test_seed_none_records_entropy_that_repeats_the_run(h: sp.mr.HarmonisedData) -> None:
    a = sp.mr.analyze(h, methods=["weighted_median"], n_boot=30, presso=False)
    assert a.seed is None and isinstance(a.seed_entropy, int)
    b = sp.mr.analyze(h, methods=["weighted_median"], n_boot=30, presso=False, seed=a.seed_entropy)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    c = sp.mr.analyze(
        h,
        methods=["weighted_median"],
        n_boot=30,
        presso=False,
        seed=np.random.SeedSequence(a.seed_entropy),
    )
    pd.testing.assert_frame_equal(a.tidy(), c.tidy())


def test_conf_level_sets_the_intervals(h: sp.mr.HarmonisedData) -> None:
    t90 = sp.mr.estimate(h, methods=["ivw"], conf_level=0.90).iloc[0]
    t95 = sp.mr.estimate(h, methods=["ivw"]).iloc[0]
    z90, z95 = 1.6448536269514722, 1.959963984540054
    assert (t90["conf_high"] - t90["b"]) / t90["se"] == pytest.approx(z90, rel=1e-9)
    assert (t95["conf_high"] - t95["b"]) / t95["se"] == pytest.approx(z95, rel=1e-9)


def test_display_escapes_and_uses_the_one_formatter(res: sp.mr.MRResult) -> None:
    from sleeppain.report._tables import format_value

    ivw = res.estimate("ivw")
    line = next(x for x in res.summary().splitlines() if x.startswith("Inverse variance"))
    assert line.split()[-3] == format_value(ivw.pval, "p_value")  # the one p-value formatter
    assert line.split()[-4] == format_value(ivw.se, digits=4)
    md = res.to_markdown()
    assert md.startswith("### Two-sample Mendelian randomization: insomnia -> LBP")
    page = res._repr_html_()
    assert page.count("<table>") >= 4  # estimates, heterogeneity, Egger intercept, PRESSO


def test_harmonised_data_on_the_contract(h: sp.mr.HarmonisedData) -> None:
    t = h.tidy()
    assert tuple(t.columns[:8]) == TIDY_COLUMNS and len(t) == len(h.table)
    kept = t[t["mr_keep"]]
    np.testing.assert_allclose(
        kept["estimate"], kept["beta_outcome"] / kept["beta_exposure"], rtol=RTOL_SAME
    )
    g = h.glance().iloc[0]
    assert g["n_kept"] == h.n_kept and g["n_variants"] == len(h.table)
    assert "kept for MR (mr_keep): " in h.summary()
    pd.testing.assert_frame_equal(h.tidy(schema="mr"), h.table)


def test_bidirectional_outputs(h: sp.mr.HarmonisedData) -> None:
    sim = sp.mr.simulate_sumstats(n_variants=20, n_variants_b=10, n_null=100, seed=3)
    bi = sp.mr.bidirectional(
        sim.exposure,
        sim.outcome,
        a_name="A",
        b_name="B",
        p_threshold=(5e-8, 5e-6),
        methods=["ivw"],
        seed=1,
        presso=False,
    )
    assert list(bi.glance()["direction"]) == ["A -> B", "B -> A"]
    log = bi.forward_selection_log
    if log is not None and len(log):
        log.loc[:, "reason"] = "x"
        assert (bi.forward_selection_log["reason"] != "x").all()
    assert bi.forward_harmonised is bi.forward.harmonised
    assert "A -> B: Estimates" in bi.summary()


def test_plot_kinds(res: sp.mr.MRResult) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for kind in ("scatter", "forest", "funnel", "leave_one_out"):
        ax = res.plot(kind)
        assert ax.has_data(), kind
        plt.close(ax.figure)
    with pytest.raises(sp.SpecificationError, match="kind='violin'"):
        res.plot("violin")
