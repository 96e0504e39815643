"""Harmonisation rules (TwoSampleMR harmonise_data) on constructed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError, SpecificationError


def _tables(rows_exp: list[tuple], rows_out: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = ["SNP", "effect_allele", "other_allele", "eaf", "beta", "se"]
    return pd.DataFrame(rows_exp, columns=cols), pd.DataFrame(rows_out, columns=cols)


def test_swap_strand_flip_and_incompatible() -> None:
    exp, out = _tables(
        [
            ("rs1", "A", "G", 0.2, 0.1, 0.01),
            ("rs2", "A", "G", 0.2, 0.1, 0.01),
            ("rs3", "A", "G", 0.2, 0.1, 0.01),
            ("rs4", "A", "G", 0.2, 0.1, 0.01),
            ("rs5", "A", "G", 0.2, 0.1, 0.01),
        ],
        [
            ("rs1", "A", "G", 0.21, 0.5, 0.1),
            ("rs2", "G", "A", 0.79, 0.5, 0.1),
            ("rs3", "T", "C", 0.21, 0.5, 0.1),
            ("rs4", "C", "T", 0.79, 0.5, 0.1),
            ("rs5", "A", "C", 0.2, 0.5, 0.1),
        ],
    )
    h = sp.mr.harmonise(exp, out)
    t = h.table.set_index("SNP")
    np.testing.assert_allclose(t["beta.outcome"], [0.5, -0.5, 0.5, -0.5, 0.5])
    np.testing.assert_allclose(t.loc[["rs2", "rs4"], "eaf.outcome"], [0.21, 0.21])
    # rs5 stays strand-flipped (T/G) after the failed alignment, as in TwoSampleMR's output
    assert t["effect_allele.outcome"].tolist() == ["A", "A", "A", "A", "T"]
    assert t["mr_keep"].tolist() == [True, True, True, True, False]
    assert t.loc["rs5", "remove"]
    steps = h.log.groupby("SNP")["step"].apply(list).to_dict()
    assert steps["rs2"] == ["swapped alleles"]
    assert steps["rs3"] == ["strand flipped"]
    assert steps["rs4"] == ["strand flipped and swapped"]
    assert steps["rs5"] == ["excluded"]
    assert "cannot be aligned" in h.log.set_index("SNP").loc["rs5", "reason"]
    assert "rs1" not in steps  # nothing done, nothing logged


@pytest.mark.parametrize(
    ("action", "keep", "beta"),
    [
        (1, [True, True, True], [0.5, 0.5, 0.5]),
        (2, [True, True, False], [0.5, -0.5, 0.5]),
        (3, [False, False, False], [0.5, 0.5, 0.5]),
    ],
)
def test_palindromic_actions(action: int, keep: list[bool], beta: list[float]) -> None:
    # rs1: A/T, frequencies agree (0.2 / 0.2) -> same strand; rs2: A/T, 0.2 vs 0.8 -> reverse
    # strand, outcome flipped under action 2; rs3: A/T with MAF 0.45 -> ambiguous
    exp, out = _tables(
        [
            ("rs1", "A", "T", 0.2, 0.1, 0.01),
            ("rs2", "A", "T", 0.2, 0.1, 0.01),
            ("rs3", "A", "T", 0.45, 0.1, 0.01),
        ],
        [
            ("rs1", "A", "T", 0.2, 0.5, 0.1),
            ("rs2", "A", "T", 0.8, 0.5, 0.1),
            ("rs3", "A", "T", 0.46, 0.5, 0.1),
        ],
    )
    h = sp.mr.harmonise(exp, out, action=action)
    t = h.table
    assert t["palindromic"].all()
    assert t["ambiguous"].tolist() == [False, False, True]
    assert t["mr_keep"].tolist() == keep
    np.testing.assert_allclose(t["beta.outcome"], beta)
    if action == 2:
        assert "palindromic, flipped by allele frequency" in h.log["step"].tolist()
        reason = h.log.set_index("SNP").loc["rs3", "reason"]
        assert "0.5 +/- 0.08" in reason


def test_missing_and_nonpositive_se_are_logged_exclusions() -> None:
    exp, out = _tables(
        [
            ("rs1", "A", "G", 0.2, 0.1, 0.01),
            ("rs2", "A", "G", 0.2, 0.1, 0.0),
            ("rs3", "C", "T", 0.3, 0.1, 0.01),
        ],
        [
            ("rs1", "A", "G", 0.2, 0.5, np.nan),
            ("rs2", "A", "G", 0.2, 0.5, 0.1),
            ("rs3", "C", "T", 0.3, 0.5, -0.1),
        ],
    )
    h = sp.mr.harmonise(exp, out)
    assert not h.table["mr_keep"].any()
    reasons = h.log.set_index("SNP")["reason"].to_dict()
    assert reasons["rs1"] == "missing se.outcome"
    assert reasons["rs2"] == "non-positive se.exposure (0)"
    assert reasons["rs3"] == "non-positive se.outcome (-0.1)"
    with pytest.raises(DataStructureError, match="no variant is kept"):
        sp.mr.estimate(h)


def test_absent_variants_are_logged_and_duplicates_rejected() -> None:
    exp, out = _tables(
        [("rs1", "A", "G", 0.2, 0.1, 0.01), ("rs9", "A", "G", 0.2, 0.1, 0.01)],
        [("rs1", "A", "G", 0.2, 0.5, 0.1)],
    )
    h = sp.mr.harmonise(exp, out)
    assert h.log.set_index("SNP").loc["rs9", "step"] == "absent from outcome"
    dup = pd.concat([exp, exp.iloc[[0]]])
    with pytest.raises(DataStructureError, match="more than once in the exposure table"):
        sp.mr.harmonise(dup, out)
    with pytest.raises(DataStructureError, match="no variant is in both"):
        sp.mr.harmonise(exp.assign(SNP=["x", "y"]), out)
    with pytest.raises(DataStructureError, match="lacks column"):
        sp.mr.harmonise(exp.drop(columns="se"), out)
    with pytest.raises(SpecificationError, match="action must be 1, 2 or 3"):
        sp.mr.harmonise(exp, out, action=4)


def test_one_allele_outcome_uses_harmonise_21_rules() -> None:
    exp, out = _tables(
        [("rs1", "A", "G", 0.2, 0.1, 0.01), ("rs2", "A", "G", 0.2, 0.1, 0.01)],
        [("rs1", "G", None, 0.8, 0.5, 0.1), ("rs2", "A", None, 0.2, 0.5, 0.1)],
    )
    h = sp.mr.harmonise(exp, out)
    t = h.table.set_index("SNP")
    np.testing.assert_allclose(t["beta.outcome"], [-0.5, 0.5])
    assert t["other_allele.outcome"].tolist() == ["G", "G"]
    assert t["mr_keep"].all()


def test_summary_and_html() -> None:
    exp, out = _tables([("rs1", "A", "G", 0.2, 0.1, 0.01)], [("rs1", "G", "A", 0.8, 0.5, 0.1)])
    h = sp.mr.harmonise(exp, out)
    assert "swapped alleles: 1" in h.summary()
    assert "<table" in h._repr_html_()
    assert repr(h).startswith("HarmonisedData(1 variants")
