"""sleeppain.mr against published reference numbers (data in ../shared/data/mr; skipped if absent).

References
----------
* TwoSampleMR 0.7.x "Perform MR" article, BMI (ieu-a-2) -> CHD (ieu-a-7), 79 variants:
  ../shared/data/mr/twosamplemr/REFERENCE_NUMBERS.md.
* MendelianRandomization 0.10.0 vignette, LDL-c -> CHD, 28 variants (printed to 3 decimals):
  ../shared/data/mr/mendelianrandomization/REFERENCE_NUMBERS.md.
* TwoSampleMR report of Alzheimer's disease -> insomnia (sjfandrews/MR_ADPhenome), 14 variants.
* tests/reference/mr/mr_reference.json: the same quantities computed in R 4.2.2 with base R
  (lm, optim, density) and robustbase 0.95-0 (lmrob), written by mr_reference.R beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.mr import _estimators as E
from sleeppain.mr import _sensitivity as S

pytestmark = pytest.mark.shared_data

# Tolerances (named, with the reason)
RTOL_PRINTED7 = 1e-6  # TwoSampleMR prints 7 significant digits: closed forms must agree to that
RTOL_R_FULL = 1e-10  # the same closed form computed in R at full precision
RTOL_R_ITER = 1e-6  # iterative fits (lmrob's convergence tolerance is 1e-7 relative)
ATOL_3DP = 0.0005  # MendelianRandomization prints 3 decimals: agree after rounding
N_MC_SE = 4.0  # Monte Carlo comparisons: within 4 Monte Carlo standard errors

REF_JSON = json.loads(
    (Path(__file__).resolve().parents[1] / "reference" / "mr" / "mr_reference.json").read_text()
)


def _cols(df: pd.DataFrame) -> list[np.ndarray]:
    return [
        df[c].to_numpy(float)
        for c in ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome")
    ]


@pytest.fixture
def bmi(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(
        shared_data / "mr" / "twosamplemr" / "bmi_ieu-a-2__chd_ieu-a-7_harmonised_dat.csv"
    )


@pytest.fixture
def ldl(shared_data: Path) -> list[np.ndarray]:
    m = pd.read_csv(shared_data / "mr" / "mendelianrandomization" / "lipids_chd_28snps.csv")
    return [
        m["ldlc"].to_numpy(),
        m["chdlodds"].to_numpy(),
        m["ldlcse"].to_numpy(),
        m["chdloddsse"].to_numpy(),
    ]


@pytest.fixture
def load_insomnia(shared_data: Path) -> pd.DataFrame:
    d = pd.read_csv(
        shared_data
        / "mr"
        / "load_insomnia"
        / "Kunkle2019load_5e-8_Jansen2018insomnia23andMe_MRdat.csv"
    )
    return d[d["pleitropy_keep"]]


def _round3(x: float) -> float:
    return float(np.round(x, 3))


# ------------------------------------------------------------------ TwoSampleMR: BMI -> CHD
def test_bmi_chd_ivw_egger_q(bmi: pd.DataFrame) -> None:
    tab = sp.mr.estimate(bmi, methods=["ivw", "egger"])
    ivw = tab.set_index("method").loc["ivw"]
    egg = tab.set_index("method").loc["egger"]
    np.testing.assert_allclose(ivw["b"], 0.4459091, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(ivw["se"], 0.05898302, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(ivw["pval"], 4.032020e-14, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(egg["b"], 0.5024935, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(egg["se"], 0.14396056, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(egg["pval"], 8.012590e-04, rtol=RTOL_PRINTED7)
    assert ivw["nsnp"] == 79
    e = E.egger(*_cols(bmi))
    np.testing.assert_allclose(e.extra["intercept"], -0.001719304, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(e.extra["intercept_se"], 0.003985962, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(e.extra["intercept_pval"], 0.6674266, rtol=RTOL_PRINTED7)
    h = S.heterogeneity(*_cols(bmi))
    np.testing.assert_allclose(h.Q_ivw, 143.6508, rtol=RTOL_PRINTED7)
    assert h.Q_ivw_df == 78
    np.testing.assert_allclose(h.Q_ivw_pval, 8.728420e-06, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(h.Q_egger, 143.3046, rtol=RTOL_PRINTED7)
    assert h.Q_egger_df == 77
    np.testing.assert_allclose(h.Q_egger_pval, 6.841585e-06, rtol=RTOL_PRINTED7)
    # MendelianRandomization on the same data: residual SE 1.357, I^2 45.7%, F 65.6
    r = E.ivw(*_cols(bmi))
    assert _round3(r.extra["sigma"]) == 1.357
    assert round(100 * r.extra["I2"], 1) == 45.7
    assert round(float(np.mean((bmi["beta.exposure"] / bmi["se.exposure"]) ** 2)), 1) == 65.6


def test_bmi_chd_full_precision_against_r(bmi: pd.DataFrame) -> None:
    ref = REF_JSON["bmi_chd"]
    r = E.ivw(*_cols(bmi))
    np.testing.assert_allclose(
        [r.b, r.se, r.extra["Q"]],
        [ref["ivw"]["b"], ref["ivw"]["se_random"], ref["ivw"]["Q"]],
        rtol=RTOL_R_FULL,
    )
    np.testing.assert_allclose(
        E.ivw_fixed(*_cols(bmi)).se, ref["ivw"]["se_fixed"], rtol=RTOL_R_FULL
    )
    e = E.egger(*_cols(bmi))
    np.testing.assert_allclose(
        [e.b, e.se, e.extra["intercept"], e.extra["intercept_se"], e.extra["Q"]],
        [ref["egger"][k] for k in ("b", "se", "b_i", "se_i", "Q")],
        rtol=RTOL_R_FULL,
    )


def test_bmi_chd_leave_one_out(bmi: pd.DataFrame) -> None:
    loo = dict(zip(bmi["SNP"], S.leave_one_out(*_cols(bmi)), strict=True))
    published = {
        "rs1000940": (0.4541284, 0.05843628),
        "rs10132280": (0.4450525, 0.05959723),
        "rs1016287": (0.4443855, 0.05959844),
        "rs10182181": (0.4427817, 0.05994598),
        "rs10733682": (0.4474244, 0.05955045),
        "rs10840100": (0.4435657, 0.05956120),
    }
    for snp, (b, se) in published.items():
        np.testing.assert_allclose([loo[snp].b, loo[snp].se], [b, se], rtol=RTOL_PRINTED7)


def test_bmi_chd_median_and_mode_points(bmi: pd.DataFrame) -> None:
    a = _cols(bmi)
    # deterministic point estimates: exact (TwoSampleMR prints 7 digits)
    np.testing.assert_allclose(
        E.weighted_median(*a, seed=1, nboot=10).b, 0.3870065, rtol=RTOL_PRINTED7
    )
    np.testing.assert_allclose(E.simple_mode(*a, seed=1, nboot=10).b, 0.3401554, rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(
        E.weighted_mode(*a, seed=1, nboot=10).b, 0.3790910, rtol=RTOL_PRINTED7
    )


def _mc_check(fn, a, ref_se: float, nboot: int, reps: int = 8) -> None:
    """Our bootstrap SE agrees with R's single draw within N_MC_SE Monte Carlo SEs."""
    ses = np.array([fn(*a, seed=s, nboot=nboot).se for s in range(reps)])
    mc_sd = float(np.std(ses, ddof=1))
    tol = N_MC_SE * mc_sd * np.sqrt(1 + 1 / reps)
    assert abs(ses.mean() - ref_se) < tol, (ses.mean(), ref_se, tol)


@pytest.mark.slow
def test_bmi_chd_bootstrap_ses_within_monte_carlo_error(bmi: pd.DataFrame) -> None:
    a = _cols(bmi)
    _mc_check(E.weighted_median, a, 0.07175210, 1000)
    _mc_check(E.simple_mode, a, 0.16488860, 1000)
    _mc_check(E.weighted_mode, a, 0.10016290, 1000)


def test_weighted_median_se_within_monte_carlo_error(bmi: pd.DataFrame) -> None:
    _mc_check(E.weighted_median, _cols(bmi), 0.07175210, 1000, reps=4)


def test_harmonising_raw_bmi_tables_reproduces_twosamplemr(
    shared_data: Path, bmi: pd.DataFrame
) -> None:
    d = shared_data / "mr" / "twosamplemr"
    exp = sp.mr.read_sumstats(d / "bmi_exp_dat_ieu-a-2_instruments.csv", format="twosamplemr")
    out = sp.mr.read_sumstats(d / "chd_out_dat_ieu-a-7.csv", format="twosamplemr")
    # the shared harmonised file was made with action = 1 (its `action` column)
    assert set(bmi["action"]) == {1}
    h = sp.mr.harmonise(exp, out, action=1)
    t = h.table.merge(bmi, on="SNP", suffixes=("", "_ref"))
    assert len(t) == len(bmi) == len(h.table) == 79
    np.testing.assert_array_equal(t["beta.outcome"], t["beta.outcome_ref"])
    np.testing.assert_array_equal(t["mr_keep"], t["mr_keep_ref"])
    np.testing.assert_array_equal(t["palindromic"], t["palindromic_ref"])
    np.testing.assert_array_equal(t["ambiguous"], t["ambiguous_ref"])
    np.testing.assert_array_equal(t["effect_allele.outcome"], t["effect_allele.outcome_ref"])
    # and from the raw TwoSampleMR tables directly (suffixed names)
    h2 = sp.mr.harmonise(
        pd.read_csv(d / "bmi_exp_dat_ieu-a-2_instruments.csv"),
        pd.read_csv(d / "chd_out_dat_ieu-a-7.csv"),
        action=2,
    )
    t2 = h2.table.merge(bmi, on="SNP", suffixes=("", "_ref"))
    np.testing.assert_array_equal(t2["beta.outcome"], t2["beta.outcome_ref"])
    np.testing.assert_array_equal(t2["mr_keep"], t2["mr_keep_ref"])
    res = sp.mr.estimate(h2, methods=["ivw"])
    np.testing.assert_allclose(res["b"].iloc[0], 0.4459091, rtol=RTOL_PRINTED7)
    # action = 3 drops the 4 palindromic variants and logs each one
    h3 = sp.mr.harmonise(exp, out, action=3)
    assert h3.n_kept == 75
    ex = h3.log[h3.log["step"] == "excluded"]
    assert len(ex) == 4 and ex["reason"].str.contains("palindromic").all()


# ---------------------------------------------------- MendelianRandomization: LDL-c -> CHD
def test_ldl_chd_vignette(ldl: list[np.ndarray]) -> None:
    r = E.ivw(*ldl)
    assert (_round3(r.b), _round3(r.se)) == (2.834, 0.530)
    assert (_round3(r.conf_low), _round3(r.conf_high)) == (1.796, 3.873)
    assert round(r.extra["Q"], 4) == 99.5304 and r.extra["Q_df"] == 27
    assert _round3(r.extra["sigma"]) == 1.920 and round(100 * r.extra["I2"], 1) == 72.9
    assert round(float(np.mean((ldl[0] / ldl[2]) ** 2)), 1) == 28.0
    e = E.egger(*ldl)
    assert (_round3(e.b), _round3(e.se)) == (3.253, 0.770)
    assert (_round3(e.conf_low), _round3(e.conf_high)) == (1.743, 4.762)
    assert (_round3(e.extra["intercept"]), _round3(e.extra["intercept_se"])) == (-0.011, 0.015)
    assert round(e.extra["Q"], 4) == 97.3975 and _round3(e.extra["sigma"]) == 1.935
    assert round(100 * e.extra["isq_gx"], 1) == 91.9
    ml = E.max_likelihood(*ldl)
    assert (_round3(ml.b), _round3(ml.se)) == (3.225, 0.569)
    assert (_round3(ml.conf_low), _round3(ml.conf_high)) == (2.110, 4.340)
    assert round(ml.extra["Q"], 4) == 86.8145 and _round3(ml.extra["sigma"]) == 1.793
    assert _round3(E.simple_median(*ldl, seed=1, nboot=50).b) == 1.755
    assert _round3(E.weighted_median(*ldl, seed=1, nboot=50, second_order=False).b) == 2.683
    assert _round3(E.weighted_mode(*ldl, seed=1, nboot=50).b) == 2.946


@pytest.mark.slow
def test_ldl_chd_bootstrap_ses(ldl: list[np.ndarray]) -> None:
    # MendelianRandomization uses 10000 bootstrap iterations for the medians and the mode
    _mc_check(E.simple_median, ldl, 0.740, 10000, reps=4)
    _mc_check(
        lambda *a, **k: E.weighted_median(*a, second_order=False, **k), ldl, 0.419, 10000, reps=4
    )


def test_ldl_chd_against_r_full_precision(ldl: list[np.ndarray]) -> None:
    ref = REF_JSON["ldl_chd"]
    ml = E.max_likelihood(*ldl)
    # R's Nelder-Mead path reproduced: same stopping point and Hessian-based SE
    np.testing.assert_allclose(
        [ml.b, ml.se, ml.extra["Q"]],
        [ref["ml"]["b"], ref["ml"]["se_random"], ref["ml"]["Q"]],
        rtol=RTOL_R_ITER,
    )
    ex = E.max_likelihood(*ldl, optimizer="exact")
    assert ex.extra["Q"] < ref["ml"]["Q"]  # the exact optimum is lower than where R stops
    rob = E.robust_ivw(*ldl)
    np.testing.assert_allclose(
        [rob.b, rob.se, rob.extra["sigma"], rob.extra["s_estimate"]],
        [ref["robust"][k] for k in ("b", "se", "scale", "s_estimate")],
        rtol=RTOL_R_ITER,
    )
    pen = E.penalised_ivw(*ldl)
    np.testing.assert_allclose(
        [pen.b, pen.se], [ref["penalised"]["b"], ref["penalised"]["se"]], rtol=RTOL_R_FULL
    )


@pytest.mark.parametrize("data", ["ldl_chd", "bmi_chd"])
def test_r_density_old_coordinates_match_r(
    data: str, ldl: list[np.ndarray], bmi: pd.DataFrame
) -> None:
    a = ldl if data == "ldl_chd" else _cols(bmi)
    bx, by, sx, sy = a
    r = by / bx
    for kind, se in (
        ("simple_mode", np.ones(r.size)),
        ("weighted_mode", np.sqrt(sy**2 / bx**2 + by**2 * sx**2 / bx**4)),
    ):
        ref = REF_JSON[data][kind]
        s = 0.9 * min(np.std(r, ddof=1), 1.4826 * np.median(np.abs(r - np.median(r)))) / r.size**0.2
        w = se**-2 / np.sum(se**-2)
        g, d = E.r_density(r, w, s, old_coords=True)
        np.testing.assert_allclose(g[[0, 99, 255, 511]], ref["x"], rtol=1e-12)
        np.testing.assert_allclose(d[[0, 99, 255, 511]], ref["y"], rtol=1e-8, atol=1e-15)
        np.testing.assert_allclose(g[np.argmax(d)], ref["mode"], rtol=1e-12)


def test_robust_ivw_bmi_against_r(bmi: pd.DataFrame) -> None:
    ref = REF_JSON["bmi_chd"]["robust"]
    rob = E.robust_ivw(*_cols(bmi))
    np.testing.assert_allclose(
        [rob.b, rob.se, rob.extra["sigma"]], [ref["b"], ref["se"], ref["scale"]], rtol=RTOL_R_ITER
    )


# --------------------------------------------------------- Alzheimer's -> insomnia (real)
def test_load_insomnia(load_insomnia: pd.DataFrame) -> None:
    assert len(load_insomnia) == 14
    a = _cols(load_insomnia)
    fe = E.ivw_fixed(*a)
    np.testing.assert_allclose([fe.b, fe.se], [5.528361e-05, 0.001628261], rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(fe.extra["Q"], 38.30046, rtol=RTOL_PRINTED7)
    e = E.egger(*a)
    np.testing.assert_allclose([e.b, e.se], [-1.075687e-03, 0.007314242], rtol=RTOL_PRINTED7)
    np.testing.assert_allclose(
        [e.extra["intercept"], e.extra["intercept_se"]],
        [0.0001774307, 0.001053064],
        rtol=RTOL_PRINTED7,
    )
    # via the public API, with the table's own mr_keep replaced by the paper's selection
    t = load_insomnia.assign(mr_keep=True)
    tab = sp.mr.estimate(t, methods=["ivw_fixed", "egger"]).set_index("method")
    np.testing.assert_allclose(tab.loc["ivw_fixed", "b"], 5.528361e-05, rtol=RTOL_PRINTED7)


# ------------------------------------------- MendelianRandomization: correlated variants
def test_calcium_glucose_correlated_variants(shared_data: Path) -> None:
    d = shared_data / "mr" / "mendelianrandomization"
    c = pd.read_csv(d / "calcium_fastgluc_6snps.csv")
    rho = pd.read_csv(d / "calc_rho_6x6.csv").to_numpy()
    h = pd.DataFrame(
        {
            "SNP": c["snp"],
            "beta.exposure": c["calcium"],
            "se.exposure": c["calciumse"],
            "beta.outcome": c["fastgluc"],
            "se.outcome": c["fastglucse"],
        }
    )
    ld = pd.DataFrame(rho, index=c["snp"], columns=c["snp"])
    # labelled LD matrix in a shuffled order is realigned to the variants
    order = list(c["snp"][::-1])
    t = sp.mr.estimate(
        h, methods=["ivw", "egger", "max_likelihood"], correlation=ld.loc[order, order]
    ).set_index("method")
    assert (_round3(t.loc["ivw", "b"]), _round3(t.loc["ivw", "se"])) == (2.245, 0.643)
    assert (_round3(t.loc["ivw", "conf_low"]), _round3(t.loc["ivw", "conf_high"])) == (0.984, 3.505)
    assert (_round3(t.loc["egger", "b"]), _round3(t.loc["egger", "se"])) == (1.302, 1.518)
    assert (_round3(t.loc["egger", "conf_low"]), _round3(t.loc["egger", "conf_high"])) == (
        -1.672,
        4.276,
    )
    assert (_round3(t.loc["max_likelihood", "b"]), _round3(t.loc["max_likelihood", "se"])) == (
        2.303,
        0.709,
    )
    a = [
        c["calcium"].to_numpy(),
        c["fastgluc"].to_numpy(),
        c["calciumse"].to_numpy(),
        c["fastglucse"].to_numpy(),
    ]
    r = E.ivw(*a, correlation=rho)
    assert round(r.extra["Q"], 4) == 2.0530 and _round3(r.extra["sigma"]) == 0.641
    assert round(E.egger(*a, correlation=rho).extra["Q"], 4) == 1.5825
    with pytest.raises(sp.SpecificationError, match="assume independent variants"):
        sp.mr.estimate(h, methods=["weighted_median"], correlation=rho)
    with pytest.raises(sp.SpecificationError, match="not positive definite"):
        E.ivw(*a, correlation=np.ones((6, 6)))
