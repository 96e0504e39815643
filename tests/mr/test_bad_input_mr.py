"""Bad input to ``sp.mr``: every case gives a typed error whose message says what and where.

One parametrised table: a name, a call (given a temporary directory), the exception class and
words the message must contain. Added for the bad-input issue (mr_presso with NaN returned
p = 0; n_dist=0 returned NaN; read_sumstats raised BadGzipFile / EmptyDataError /
IsADirectoryError; "0,05" became NaN; allele frequencies of 1.7 were accepted; n_boot=0 gave
NaN SEs; seeds were not validated).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError, SleepPainError, SpecificationError

K = 8
_RNG = np.random.default_rng(5)
BX = _RNG.uniform(0.05, 0.2, K)
BY = 0.4 * BX + _RNG.normal(0, 0.01, K)
SX = np.full(K, 0.01)
SY = np.full(K, 0.02)


def harmonised(**changes: Any) -> pd.DataFrame:
    """A valid harmonised table with TwoSampleMR's columns, optionally edited."""
    t = pd.DataFrame(
        {
            "SNP": [f"rs{i}" for i in range(K)],
            "beta.exposure": BX,
            "beta.outcome": BY,
            "se.exposure": SX,
            "se.outcome": SY,
            "samplesize.exposure": 1e5,
            "samplesize.outcome": 1e5,
        }
    )
    for key, (row, value) in changes.items():
        t.loc[row, key.replace("__", ".")] = value
    return t


def with_nan(a: np.ndarray, i: int = 2) -> np.ndarray:
    b = a.copy()
    b[i] = np.nan
    return b


def sumstats(**cols: Any) -> pd.DataFrame:
    base = {
        "SNP": ["rs1", "rs2", "rs3"],
        "chr": ["1", "1", "2"],
        "pos": [1_000, 5_000_000, 1_000],
        "beta": [0.05, 0.04, 0.03],
        "se": [0.005] * 3,
        "pval": [1e-20, 1e-15, 1e-9],
        "effect_allele": ["A"] * 3,
        "other_allele": ["G"] * 3,
        "eaf": [0.3] * 3,
    }
    base.update(cols)
    return pd.DataFrame(base)


def write(tmp: Path, name: str, text: str | bytes) -> Path:
    p = tmp / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def gz_bytes(text: str) -> bytes:
    return gzip.compress(text.encode())


GOOD_TSV = "SNP\tbeta\tse\teffect_allele\tother_allele\teaf\nrs1\t0.1\t0.01\tA\tG\t0.3\n"
H = sp.mr.harmonise(
    sumstats(eaf=[0.3, 0.2, 0.1]).drop(columns=["chr", "pos", "pval"]),
    sumstats(beta=[0.01, 0.02, 0.01]).drop(columns=["chr", "pos", "pval"]),
)

Call = Callable[[Path], object]
CASES: list[tuple[str, Call, type[BaseException], tuple[str, ...]]] = [
    # ---- mr_presso: NaN never becomes p = 0; n_dist and seed validated
    (
        "presso nan outcome beta",
        lambda _: sp.mr.mr_presso(BX, with_nan(BY), SX, SY, seed=1),
        DataStructureError,
        ("by", "missing or infinite", "2 (nan)"),
    ),
    (
        "presso nan exposure beta",
        lambda _: sp.mr.mr_presso(with_nan(BX, 0), BY, SX, SY, seed=1),
        DataStructureError,
        ("bx", "0 (nan)"),
    ),
    (
        "presso inf se",
        lambda _: sp.mr.mr_presso(BX, BY, SX, np.r_[SY[:-1], np.inf], seed=1),
        DataStructureError,
        ("sy", "non-positive", "7 (inf)"),
    ),
    (
        "presso zero se",
        lambda _: sp.mr.mr_presso(BX, BY, np.r_[0.0, SX[1:]], SY, seed=1),
        DataStructureError,
        ("sx", "non-positive"),
    ),
    (
        "presso nan in harmonised table names the variant",
        lambda _: sp.mr.mr_presso(harmonised(beta__outcome=(3, np.nan)), seed=1),
        DataStructureError,
        ("missing beta or SE", "rs3"),
    ),
    (
        "presso n_dist 0",
        lambda _: sp.mr.mr_presso(BX, BY, SX, SY, n_dist=0, seed=1),
        SpecificationError,
        ("n_dist=0", ">= 10"),
    ),
    (
        "presso n_dist negative",
        lambda _: sp.mr.mr_presso(BX, BY, SX, SY, n_dist=-5),
        SpecificationError,
        ("n_dist=-5",),
    ),
    (
        "presso n_dist float",
        lambda _: sp.mr.mr_presso(BX, BY, SX, SY, n_dist=100.5),
        SpecificationError,
        ("n_dist=100.5",),
    ),
    (
        "presso seed text",
        lambda _: sp.mr.mr_presso(BX, BY, SX, SY, seed="abc"),
        SpecificationError,
        ("seed='abc'", "whole number"),
    ),
    (
        "presso too few variants",
        lambda _: sp.mr.mr_presso(BX[:3], BY[:3], SX[:3], SY[:3]),
        SpecificationError,
        ("more than 3 variants", "got 3"),
    ),
    (
        "presso arrays of different lengths",
        lambda _: sp.mr.mr_presso(BX, BY[:5], SX, SY),
        SpecificationError,
        ("same length",),
    ),
    (
        "presso signif out of range",
        lambda _: sp.mr.mr_presso(BX, BY, SX, SY, signif=1.5),
        SpecificationError,
        ("signif=1.5",),
    ),
    (
        "presso harmonised plus arrays",
        lambda _: sp.mr.mr_presso(harmonised(), BY),
        SpecificationError,
        ("either harmonised data alone",),
    ),
    (
        "presso missing arrays",
        lambda _: sp.mr.mr_presso(BX, BY),
        SpecificationError,
        ("all four arrays",),
    ),
    # ---- estimate / analyze / bidirectional: vocabulary validated
    (
        "estimate n_boot 0",
        lambda _: sp.mr.estimate(harmonised(), n_boot=0),
        SpecificationError,
        ("n_boot=0", "at least 2"),
    ),
    (
        "estimate n_boot negative",
        lambda _: sp.mr.estimate(harmonised(), methods=["weighted_median"], n_boot=-1),
        SpecificationError,
        ("n_boot=-1",),
    ),
    (
        "estimate n_boot float",
        lambda _: sp.mr.estimate(harmonised(), n_boot=10.0),
        SpecificationError,
        ("n_boot=10.0",),
    ),
    (
        "estimate seed text",
        lambda _: sp.mr.estimate(harmonised(), seed="abc"),
        SpecificationError,
        ("seed='abc'",),
    ),
    (
        "estimate seed negative",
        lambda _: sp.mr.estimate(harmonised(), seed=-3),
        SpecificationError,
        ("seed=-3",),
    ),
    (
        "estimate seed float",
        lambda _: sp.mr.estimate(harmonised(), seed=1.5),
        SpecificationError,
        ("seed=1.5",),
    ),
    (
        "estimate seed generator",
        lambda _: sp.mr.estimate(harmonised(), seed=np.random.default_rng(1)),
        SpecificationError,
        ("not a valid seed",),
    ),
    (
        "estimate seed positional",
        lambda _: sp.mr.estimate(harmonised(), None, 3),  # type: ignore[misc]
        TypeError,
        ("positional",),
    ),
    (
        "estimate conf_level 95",
        lambda _: sp.mr.estimate(harmonised(), conf_level=95),
        SpecificationError,
        ("conf_level=95", "between 0 and 1"),
    ),
    (
        "estimate conf_level 1",
        lambda _: sp.mr.estimate(harmonised(), conf_level=1.0),
        SpecificationError,
        ("conf_level=1.0",),
    ),
    (
        "estimate schema unknown",
        lambda _: sp.mr.estimate(harmonised(), schema="broom"),
        SpecificationError,
        ("schema='broom'", "house"),
    ),
    (
        "estimate unknown method",
        lambda _: sp.mr.estimate(harmonised(), methods=["ivw_re"]),
        SpecificationError,
        ("unknown MR method 'ivw_re'",),
    ),
    (
        "estimate infinite beta",
        lambda _: sp.mr.estimate(harmonised(beta__exposure=(1, np.inf))),
        DataStructureError,
        ("missing beta or SE", "rs1"),
    ),
    (
        "estimate not a table",
        lambda _: sp.mr.estimate([1, 2, 3]),  # type: ignore[arg-type]
        SpecificationError,
        ("HarmonisedData", "list"),
    ),
    (
        "analyze n_boot 1",
        lambda _: sp.mr.analyze(harmonised(), n_boot=1),
        SpecificationError,
        ("n_boot=1",),
    ),
    (
        "analyze seed text",
        lambda _: sp.mr.analyze(harmonised(), seed="abc"),
        SpecificationError,
        ("seed='abc'",),
    ),
    (
        "analyse alias validates too",
        lambda _: sp.mr.analyse(harmonised(), seed=2.5),
        SpecificationError,
        ("seed=2.5",),
    ),
    (
        "analyze presso n_dist 0",
        lambda _: sp.mr.analyze(harmonised(), presso_n_dist=0),
        SpecificationError,
        ("presso_n_dist=0",),
    ),
    (
        "analyze presso n_dist checked even with 3 variants",
        lambda _: sp.mr.analyze(harmonised().iloc[:3], presso_n_dist=5),
        SpecificationError,
        ("presso_n_dist=5",),
    ),
    (
        "analyze conf_level 0",
        lambda _: sp.mr.analyze(harmonised(), conf_level=0),
        SpecificationError,
        ("conf_level=0",),
    ),
    (
        "bidirectional seed text",
        lambda _: sp.mr.bidirectional(sumstats(), sumstats(), seed="x"),
        SpecificationError,
        ("seed='x'",),
    ),
    (
        "simulate_sumstats seed text",
        lambda _: sp.mr.simulate_sumstats(seed="abc"),
        SpecificationError,
        ("seed='abc'",),
    ),
    (
        "simulate_sumstats too many loci",
        lambda _: sp.mr.simulate_sumstats(n_variants=300, seed=1),
        SpecificationError,
        ("at most 280",),
    ),
    # ---- sensitivity helpers take harmonised data and check it
    (
        "leave_one_out two variants",
        lambda _: sp.mr.leave_one_out(harmonised().iloc[:2]),
        SpecificationError,
        ("at least 3 variants", "got 2"),
    ),
    (
        "heterogeneity two variants",
        lambda _: sp.mr.heterogeneity(harmonised().iloc[:2]),
        SpecificationError,
        ("at least 3 variants",),
    ),
    (
        "single_snp schema",
        lambda _: sp.mr.single_snp(harmonised(), schema="x"),
        SpecificationError,
        ("schema='x'",),
    ),
    (
        "single_snp nan array",
        lambda _: sp.mr.single_snp(with_nan(BX), BY, SX, SY),
        DataStructureError,
        ("bx", "2 (nan)"),
    ),
    (
        "steiger without sample sizes",
        lambda _: sp.mr.steiger(harmonised().drop(columns=["samplesize.outcome"])),
        DataStructureError,
        ("samplesize.outcome", "read_sumstats"),
    ),
    (
        "steiger binary without prevalence",
        lambda _: sp.mr.steiger(harmonised(), outcome_binary=True),
        DataStructureError,
        ("prevalence",),
    ),
    (
        "steiger arrays without n",
        lambda _: sp.mr.steiger(np.full(3, 1e-3)),
        SpecificationError,
        ("n_exposure",),
    ),
    (
        "steiger n too small",
        lambda _: sp.mr.steiger(np.full(3, 1e-3), np.full(3, 1e-4), 2, 1e5),
        SpecificationError,
        ("exceed 3",),
    ),
    # ---- read_sumstats: files
    (
        "plain text named .gz",
        lambda d: sp.mr.read_sumstats(write(d, "plain.tsv.gz", GOOD_TSV)),
        DataStructureError,
        ("plain.tsv.gz", "not gzip-compressed"),
    ),
    (
        "truncated gzip",
        lambda d: sp.mr.read_sumstats(write(d, "cut.tsv.gz", gz_bytes(GOOD_TSV * 200)[:-30])),
        DataStructureError,
        ("cut.tsv.gz", "truncated"),
    ),
    (
        "empty file",
        lambda d: sp.mr.read_sumstats(write(d, "empty.tsv", "")),
        DataStructureError,
        ("empty.tsv", "is empty"),
    ),
    (
        "empty gzip file",
        lambda d: sp.mr.read_sumstats(write(d, "empty.tsv.gz", gz_bytes(""))),
        DataStructureError,
        ("empty.tsv.gz", "no header"),
    ),
    (
        "blank first line",
        lambda d: sp.mr.read_sumstats(write(d, "blank.tsv", "\n\n")),
        DataStructureError,
        ("blank.tsv", "no header"),
    ),
    (
        "directory",
        lambda d: sp.mr.read_sumstats(d),
        DataStructureError,
        ("is a directory",),
    ),
    (
        "absent file",
        lambda d: sp.mr.read_sumstats(d / "absent.tsv"),
        DataStructureError,
        ("no file at", "absent.tsv"),
    ),
    (
        "latin-1 file",
        lambda d: sp.mr.read_sumstats(
            write(
                d, "latin.tsv", (GOOD_TSV + "rs2\t0.1\t0.01\tA\tG\t0.3\u00e9\n").encode("latin-1")
            )
        ),
        DataStructureError,
        ("latin.tsv", "not UTF-8"),
    ),
    (
        "header only, unknown format",
        lambda d: sp.mr.read_sumstats(write(d, "odd.tsv", "a\tb\n1\t2\n")),
        SpecificationError,
        ("cannot recognise the format",),
    ),
    # ---- read_sumstats: values
    (
        "decimal comma in beta (file)",
        lambda d: sp.mr.read_sumstats(
            write(d, "comma.tsv", "SNP\tbeta\tse\teffect_allele\nrs1\t0,05\t0,01\tA\n")
        ),
        DataStructureError,
        ("'beta'", "decimal comma", "row 1: '0,05'", "decimal=','"),
    ),
    (
        "decimal comma in se (DataFrame)",
        lambda _: sp.mr.read_sumstats(sumstats(se=["0,005", "0.005", "0.005"])),
        DataStructureError,
        ("'se'", "decimal comma", "row 1"),
    ),
    (
        "decimal comma in eaf",
        lambda _: sp.mr.read_sumstats(sumstats(eaf=["0.3", "0,2", "0.1"])),
        DataStructureError,
        ("'eaf'", "row 2: '0,2'"),
    ),
    (
        "decimal argument unknown",
        lambda _: sp.mr.read_sumstats(sumstats(), decimal=";"),
        SpecificationError,
        ("decimal=';'",),
    ),
    (
        "allele frequency above 1",
        lambda _: sp.mr.read_sumstats(sumstats(eaf=[0.3, 1.7, 0.2])),
        DataStructureError,
        ("outside [0, 1]", "row 2", "rs2", "1.7"),
    ),
    (
        "allele frequency below 0",
        lambda _: sp.mr.read_sumstats(sumstats(eaf=[-0.2, 0.3, 0.2])),
        DataStructureError,
        ("outside [0, 1]", "row 1", "rs1", "-0.2"),
    ),
    (
        "allele frequency as percent",
        lambda _: sp.mr.read_sumstats(sumstats(eaf=[30.0, 20.0, 10.0])),
        DataStructureError,
        ("3 allele frequencies", "percentages"),
    ),
    (
        "harmonise frequency outside [0, 1]",
        lambda _: sp.mr.harmonise(sumstats(eaf=[0.3, 1.7, 0.2]), sumstats()),
        DataStructureError,
        ("exposure table", "outside [0, 1]", "rs2 (1.7)"),
    ),
    (
        "harmonise outcome frequency negative",
        lambda _: sp.mr.harmonise(sumstats(), sumstats(eaf=[0.3, 0.1, -0.2])),
        DataStructureError,
        ("outcome table", "rs3 (-0.2)"),
    ),
    (
        "harmonise tolerance 0.6",
        lambda _: sp.mr.harmonise(sumstats(), sumstats(), tolerance=0.6),
        SpecificationError,
        ("tolerance=0.6",),
    ),
    (
        "harmonise action 4",
        lambda _: sp.mr.harmonise(sumstats(), sumstats(), action=4),
        SpecificationError,
        ("action must be 1, 2 or 3",),
    ),
    (
        "harmonised tidy schema",
        lambda _: H.tidy(schema="x"),
        SpecificationError,
        ("schema='x'",),
    ),
    (
        "harmonised tidy conf_level",
        lambda _: H.tidy(conf_level=2),
        SpecificationError,
        ("conf_level=2",),
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [pytest.param(c, e, w, id=name) for name, c, e, w in CASES],
)
def test_bad_input(
    call: Call, exc: type[BaseException], words: tuple[str, ...], tmp_path: Path
) -> None:
    with pytest.raises(exc) as info:
        call(tmp_path)
    if issubclass(exc, SleepPainError):
        assert isinstance(info.value, SleepPainError)
    message = str(info.value)
    for w in words:
        assert w in message, (w, message)


def test_decimal_comma_is_read_with_decimal_argument(tmp_path: Path) -> None:
    p = write(tmp_path, "comma.tsv", "SNP;beta;se;effect_allele;eaf\nrs1;0,05;0,01;a;0,3\n")
    d = sp.mr.read_sumstats(p, decimal=",")
    assert (d.loc[0, "beta"], d.loc[0, "se"], d.loc[0, "eaf"]) == (0.05, 0.01, 0.3)


def test_chromosome_labels_are_normalised_so_clumping_sees_one_chromosome() -> None:
    d = sp.mr.read_sumstats(sumstats(chr=["chr1", "1", "CHR2"], pos=[1_000, 2_000, 1_000]))
    assert d["chr"].tolist() == ["1", "1", "2"]
    # two variants 1 kb apart on "chr1" and "1": only the stronger survives clumping
    assert sp.mr.select_instruments(d)["SNP"].tolist() == ["rs1", "rs3"]
    # also when the table did not come through read_sumstats
    raw = sumstats(chr=["chr1", "1", "2"], pos=[1_000, 2_000, 1_000])
    assert sp.mr.select_instruments(raw)["SNP"].tolist() == ["rs1", "rs3"]


def test_presso_never_reports_zero_from_missing_values() -> None:
    # before: NaN made every simulated RSS comparison false and the global p-value 0.0
    with pytest.raises(DataStructureError):
        sp.mr.mr_presso(BX, with_nan(BY), SX, SY, n_dist=50, seed=1)
    ok = sp.mr.mr_presso(BX, BY, SX, SY, n_dist=50, seed=1)
    assert 0 < ok.global_pval <= 1


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 60
