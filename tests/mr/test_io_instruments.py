"""Reading summary statistics and selecting instruments, offline."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError, SpecificationError


def test_read_gwas_catalog_harmonised_gz(tmp_path: Path) -> None:
    p = tmp_path / "GCST90018869.h.tsv.gz"
    txt = (
        "hm_variant_id\thm_rsid\thm_chrom\thm_pos\thm_other_allele\thm_effect_allele\thm_beta\t"
        "hm_odds_ratio\thm_effect_allele_frequency\tstandard_error\tp_value\n"
        "1_100_A_G\trs1\t1\t100\ta\tg\t0.05\t1.0513\t0.3\t0.01\t5.7e-07\n"
        "1_200_C_T\trs2\t1\t200\tC\tT\t-0.02\t0.98\t0.4\t0.01\t0.0455\n"
    )
    with gzip.open(p, "wt") as fh:
        fh.write(txt)
    d = sp.mr.read_sumstats(p, ncase=1402, ncontrol=485225)
    assert d["SNP"].tolist() == ["rs1", "rs2"]
    assert d["effect_allele"].tolist() == ["G", "T"] and d["other_allele"].tolist() == ["A", "C"]
    np.testing.assert_allclose(d["beta"], [0.05, -0.02])
    assert d["samplesize"].iloc[0] == 1402 + 485225


def test_read_finngen(tmp_path: Path) -> None:
    p = tmp_path / "finngen_R6_M13_LOWBACKPAIN.gz"
    txt = (
        "#chrom\tpos\tref\talt\trsids\tnearest_genes\tpval\tmlogp\tbeta\tsebeta\taf_alt\taf_alt_cases\taf_alt_controls\n"
        "1\t13668\tG\tA\trs2691328\tOR4F5\t0.5\t0.3\t0.02\t0.03\t0.005\t0.005\t0.005\n"
        "1\t14773\tC\tT\t\tOR4F5\t0.2\t0.7\t-0.01\t0.008\t0.02\t0.02\t0.02\n"
        "2\t5000\tA\tG\trs9,rs10\tX\t0.9\t0.05\t0.001\t0.01\t0.3\t0.3\t0.3\n"
    )
    with gzip.open(p, "wt") as fh:
        fh.write(txt)
    d = sp.mr.read_sumstats(p, format="finngen", ncase=13178, ncontrol=164682, trait="LBP")
    assert d["SNP"].tolist() == ["rs2691328", "1:14773:C:T", "rs9"]
    assert d["effect_allele"].tolist() == ["A", "T", "G"]  # alt is the effect allele
    np.testing.assert_allclose(d["eaf"], [0.005, 0.02, 0.3])
    assert (d["trait"] == "LBP").all()


def test_read_twosamplemr_csv_and_column_mapping(tmp_path: Path) -> None:
    p = tmp_path / "exp.csv"
    pd.DataFrame(
        {
            "SNP": ["rs1"],
            "beta.exposure": [0.1],
            "se.exposure": [0.01],
            "effect_allele.exposure": ["a"],
            "other_allele.exposure": ["c"],
            "pval.exposure": [1e-23],
        }
    ).to_csv(p, index=False)
    d = sp.mr.read_sumstats(p)
    assert (
        d.loc[0, "beta"] == 0.1 and d.loc[0, "effect_allele"] == "A" and d.loc[0, "pval"] == 1e-23
    )
    q = tmp_path / "own.txt"
    q.write_text("id chrom bp A1 A2 OR SE P\nrs5 3 10 A G 1.2 0.05 0.001\n")
    d2 = sp.mr.read_sumstats(
        q,
        columns={
            "SNP": "id",
            "chr": "chrom",
            "pos": "bp",
            "effect_allele": "A1",
            "other_allele": "A2",
            "odds_ratio": "OR",
            "se": "SE",
            "pval": "P",
        },
    )
    np.testing.assert_allclose(d2["beta"], np.log(1.2))
    with pytest.raises(SpecificationError, match="cannot recognise the format"):
        sp.mr.read_sumstats(pd.DataFrame({"x": [1]}))
    with pytest.raises(DataStructureError, match="no usable column"):
        sp.mr.read_sumstats(pd.DataFrame({"a": ["rs1"]}), columns={"SNP": "a"})
    with pytest.raises(DataStructureError, match="no file at"):
        sp.mr.read_sumstats(tmp_path / "absent.tsv")


def _ss() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "SNP": ["rs1", "rs2", "rs3", "rs4", "rs5"],
            "chr": ["1", "1", "1", "2", "2"],
            "pos": [1e6, 1.5e6, 30e6, 1e6, 2e6],
            "beta": [0.05, 0.04, 0.03, 0.06, 0.001],
            "se": [0.005] * 5,
            "pval": [1e-20, 1e-15, 1e-9, 1e-25, 0.5],
            "effect_allele": ["A"] * 5,
            "other_allele": ["G"] * 5,
            "eaf": [0.3] * 5,
            "samplesize": [1e5] * 5,
        }
    )


def test_select_instruments_distance_ld_and_list() -> None:
    ss = _ss()
    d = sp.mr.select_instruments(ss)
    assert d["SNP"].tolist() == ["rs4", "rs1", "rs3"]  # sorted by p; rs2 within 10 Mb of rs1
    log = d.attrs["selection_log"]
    assert log["SNP"].tolist() == ["rs2"] and "10000 kb" in log["reason"].iloc[0]
    np.testing.assert_allclose(d["F"], (d["beta"] / d["se"]) ** 2)
    np.testing.assert_allclose(d["rsq"], d["F"] / (1e5 - 2 + d["F"]))
    ld = pd.DataFrame(
        np.eye(4), index=["rs1", "rs2", "rs3", "rs4"], columns=["rs1", "rs2", "rs3", "rs4"]
    )
    ld.loc["rs1", "rs3"] = ld.loc["rs3", "rs1"] = 0.5
    d2 = sp.mr.select_instruments(ss, clump=ld)
    assert d2["SNP"].tolist() == ["rs4", "rs1", "rs2"]
    d3 = sp.mr.select_instruments(ss, clump=["rs2", "rs3"])
    assert d3["SNP"].tolist() == ["rs2", "rs3"]
    assert len(sp.mr.select_instruments(ss, clump=None)) == 4


def test_select_instruments_errors() -> None:
    ss = _ss()
    with pytest.raises(DataStructureError, match="no variant has pval < 1e-30"):
        sp.mr.select_instruments(ss, p_threshold=1e-30)
    with pytest.raises(DataStructureError, match="more than once"):
        sp.mr.select_instruments(pd.concat([ss, ss.iloc[[0]]]))
    with pytest.raises(DataStructureError, match="distance clumping needs 'pos'"):
        sp.mr.select_instruments(ss.drop(columns="pos"))
    with pytest.raises(SpecificationError, match="clump must be"):
        sp.mr.select_instruments(ss, clump="plink")


def test_rsq_from_lor_recovers_the_population_allele_frequency() -> None:
    # construct case and control allele frequencies with a known odds ratio, mix them in the
    # case-control sample, and check that the liability R^2 uses the population frequency
    q0, orr, prev, ncase, ncontrol = 0.3, 1.5, 0.1, 20_000, 60_000
    q1 = orr * q0 / (1 - q0) / (1 + orr * q0 / (1 - q0))
    phi = ncase / (ncase + ncontrol)
    af_sample = phi * q1 + (1 - phi) * q0
    p_pop = prev * q1 + (1 - prev) * q0
    lor = np.log(orr)
    r2 = sp.mr.rsq_from_lor(np.array([lor]), np.array([af_sample]), ncase, ncontrol, prev)
    vg = lor**2 * p_pop * (1 - p_pop)
    assert r2[0] == pytest.approx(vg / (vg + np.pi**2 / 3), rel=1e-10)
    r2p = sp.mr.rsq_from_lor(
        np.array([lor]), np.array([af_sample]), ncase, ncontrol, prev, model="probit"
    )
    assert r2p[0] == pytest.approx(vg / (vg + 1), rel=1e-10)
