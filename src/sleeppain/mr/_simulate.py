"""Simulated GWAS summary statistics for a bidirectional MR (a stated simulation, not data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import SpecificationError
from sleeppain.results import seed_sequence

__all__ = ["SimulatedSumstats", "simulate_sumstats"]

_BASES = np.array(["A", "C", "G", "T"])
_COMP = {"A": "T", "T": "A", "C": "G", "G": "C"}


@dataclass(frozen=True)
class SimulatedSumstats:
    """Two simulated GWAS (``exposure`` = trait A, ``outcome`` = trait B) and the truth.

    ``exposure`` and ``outcome`` have :func:`read_sumstats`'s standard columns; ``truth`` holds
    the causal effects, the instrument ids of each trait and the parameters used.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.mr.simulate_sumstats(seed=1)
    >>> sim.exposure.shape[0] > 0
    True
    """

    exposure: pd.DataFrame
    outcome: pd.DataFrame
    truth: Any = field(default_factory=lambda: MappingProxyType({}))


def _se(eaf: np.ndarray, n: float, case_frac: float | None) -> np.ndarray:
    v = 2.0 * eaf * (1.0 - eaf) * n
    if case_frac is not None:
        v = v * case_frac * (1.0 - case_frac)
    return 1.0 / np.sqrt(v)


def simulate_sumstats(
    n_variants: int = 138,
    n_variants_b: int = 23,
    *,
    n_null: int = 3000,
    n_a: float = 1_331_010,
    ncase_a: float | None = 397_959,
    n_b: float = 210_645,
    ncase_b: float | None = 16_356,
    effect_ab: float = 0.223,
    effect_ba: float = 0.003,
    pleiotropic_fraction: float = 0.0,
    pleiotropy_sd: float = 0.01,
    ld_neighbours: int = 2,
    allele_swap_fraction: float = 0.3,
    strand_flip_fraction: float = 0.05,
    seed: int | np.random.SeedSequence | None = None,
    trait_a: str = "insomnia",
    trait_b: str = "low back pain",
) -> SimulatedSumstats:
    """Simulate summary statistics of two traits that cause each other, at GWAS scale.

    Defaults mimic the design of Shu et al. (2022, Front Genet 13:938334): trait A (insomnia,
    1,331,010 people, 397,959 cases) with ``n_variants`` = 138 instruments, trait B (low back
    pain, FinnGen R6-sized: 210,645 people, 16,356 cases) with 23, A -> B log-OR 0.223 and B -> A
    0.003. **This is a simulation** for demonstrating and testing the pipeline; it reproduces
    sample sizes and effect sizes, not the real genetics.

    Model (log-odds scale for binary traits): each A instrument has ``gamma_A ~ sign * (0.015 +
    Exp(0.01))`` on A; each B instrument ``gamma_B ~ sign * (0.06 + Exp(0.03))`` on B. True
    associations are ``beta_A = gamma_A + effect_ba * gamma_B`` and ``beta_B = gamma_B +
    effect_ab * gamma_A (+ pleiotropy)``; a fraction ``pleiotropic_fraction`` of A instruments
    gets a direct effect ``N(0, pleiotropy_sd)`` on B. Each instrument has ``ld_neighbours``
    correlated variants within 100 kb (r ~ U(0.5, 0.9)), so clumping has work to do;
    ``n_null`` variants have no effect. Observed betas add ``N(0, se^2)`` with ``se`` from the
    allele frequency, N and case fraction. Loci are spaced > 10 Mb apart over chromosomes 1-22.
    In the outcome table a fraction of variants is coded on the other allele
    (``allele_swap_fraction``) or the other strand (``strand_flip_fraction``, non-palindromic
    only), so harmonisation is exercised.

    Parameters
    ----------
    n_variants, n_variants_b : int
        Causal instruments of A and of B.
    n_null : int
        Variants with no effect.
    n_a, n_b : float
        Sample sizes; ``ncase_a``, ``ncase_b`` case counts (None for a continuous trait in SD
        units).
    effect_ab, effect_ba : float
        Causal effects A -> B and B -> A.
    pleiotropic_fraction, pleiotropy_sd : float
        Directional-free (balanced) pleiotropy on B for a fraction of A's instruments.
    ld_neighbours : int
        Correlated neighbours per instrument.
    allele_swap_fraction, strand_flip_fraction : float
        Recoding of the outcome table.
    seed : int, optional
        For ``np.random.default_rng``.
    trait_a, trait_b : str
        Names stored in the ``trait`` column.

    Returns
    -------
    SimulatedSumstats
        ``exposure`` (A), ``outcome`` (B), ``truth``.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.mr.simulate_sumstats(n_variants=20, n_variants_b=5, n_null=100, seed=1)
    >>> len(sim.exposure) == len(sim.outcome), sim.truth["effect_ab"]
    (True, 0.223)
    """
    rng = np.random.default_rng(seed_sequence(seed))
    n_loci = n_variants + n_variants_b
    if n_loci > 280:
        raise SpecificationError(
            "simulate_sumstats: at most 280 instruments fit 10-Mb-spaced loci on 22 chromosomes."
        )
    chrom_len = (
        np.array(
            [
                249,
                243,
                198,
                191,
                182,
                171,
                159,
                146,
                141,
                136,
                135,
                134,
                115,
                107,
                102,
                90,
                83,
                80,
                59,
                64,
                47,
                51,
            ]
        )
        * 1_000_000
    )
    slots = []
    for c, L in enumerate(chrom_len, start=1):
        for s in range(int(L // 10_500_000)):
            slots.append((c, s * 10_500_000 + 1_000_000))
    order = rng.permutation(len(slots))[:n_loci]
    loci = [slots[i] for i in order]
    rows = []
    ga_all, gb_all = [], []
    for j, (c, p) in enumerate(loci):
        is_a = j < n_variants
        g_a = (rng.choice([-1, 1]) * (0.015 + rng.exponential(0.01))) if is_a else 0.0
        g_b = 0.0 if is_a else rng.choice([-1, 1]) * (0.06 + rng.exponential(0.03))
        pleio = (
            rng.normal(0, pleiotropy_sd) if (is_a and rng.uniform() < pleiotropic_fraction) else 0.0
        )
        lead = f"rs{10_000_000 + 10 * j}"
        rows.append((lead, c, p, g_a, g_b, pleio, 1.0, "A" if is_a else "B"))
        ga_all.append(g_a)
        gb_all.append(g_b)
        for m in range(ld_neighbours):
            r = rng.uniform(0.5, 0.9)
            rows.append(
                (
                    f"rs{10_000_000 + 10 * j + m + 1}",
                    c,
                    p + int(rng.integers(1_000, 100_000)),
                    g_a * r,
                    g_b * r,
                    pleio * r,
                    r,
                    "ld",
                )
            )
    null_slots = rng.integers(0, len(slots), n_null)
    for i in range(n_null):
        c, p = slots[null_slots[i]]
        rows.append(
            (
                f"rs{20_000_000 + i}",
                c,
                p + 5_000_000 + int(rng.integers(0, 4_000_000)),
                0.0,
                0.0,
                0.0,
                0.0,
                "null",
            )
        )
    df = pd.DataFrame(rows, columns=["SNP", "chr", "pos", "g_a", "g_b", "pleio", "r", "kind"])
    n = len(df)
    eaf = rng.uniform(0.05, 0.95, n)
    ea = rng.choice(_BASES, n)
    oa = np.array([rng.choice([b for b in _BASES if b != a]) for a in ea])
    true_a = df["g_a"].to_numpy() + effect_ba * df["g_b"].to_numpy()
    true_b = df["g_b"].to_numpy() + effect_ab * df["g_a"].to_numpy() + df["pleio"].to_numpy()
    frac_a = None if ncase_a is None else ncase_a / n_a
    frac_b = None if ncase_b is None else ncase_b / n_b
    se_a = _se(eaf, n_a, frac_a)
    se_b = _se(eaf, n_b, frac_b)
    eaf_b = np.clip(eaf + rng.normal(0, 0.01, n), 0.01, 0.99)
    beta_a = true_a + rng.normal(0, se_a)
    beta_b = true_b + rng.normal(0, se_b)

    def table(
        beta: np.ndarray,
        se: np.ndarray,
        e1: np.ndarray,
        e2: np.ndarray,
        f: np.ndarray,
        nn: float,
        nc: float | None,
        trait: str,
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "SNP": df["SNP"],
                "chr": df["chr"].astype(str),
                "pos": df["pos"].astype(float),
                "effect_allele": e1,
                "other_allele": e2,
                "eaf": f,
                "beta": beta,
                "se": se,
                "pval": 2 * stats.norm.sf(np.abs(beta / se)),
                "samplesize": float(nn),
                "ncase": np.nan if nc is None else float(nc),
                "ncontrol": np.nan if nc is None else float(nn - nc),
                "trait": trait,
            }
        )

    exp_t = table(beta_a, se_a, ea, oa, eaf, n_a, ncase_a, trait_a)
    # recode the outcome table: swap alleles for some, flip strand for some non-palindromic
    b1 = ea.copy()
    b2 = oa.copy()
    bb = beta_b.copy()
    fb = eaf_b.copy()
    swap = rng.uniform(size=n) < allele_swap_fraction
    b1[swap], b2[swap] = oa[swap], ea[swap]
    bb[swap] = -bb[swap]
    fb[swap] = 1 - fb[swap]
    pal = np.array([_COMP[a] == o for a, o in zip(ea, oa, strict=True)])
    flip = (rng.uniform(size=n) < strand_flip_fraction) & ~pal
    b1 = np.where(flip, [_COMP[x] for x in b1], b1)
    b2 = np.where(flip, [_COMP[x] for x in b2], b2)
    out_t = table(bb, se_b, b1, b2, fb, n_b, ncase_b, trait_b)
    truth = MappingProxyType(
        {
            "effect_ab": effect_ab,
            "effect_ba": effect_ba,
            "instruments_a": tuple(df.loc[df["kind"] == "A", "SNP"]),
            "instruments_b": tuple(df.loc[df["kind"] == "B", "SNP"]),
            "n_a": n_a,
            "n_b": n_b,
            "ncase_a": ncase_a,
            "ncase_b": ncase_b,
            "seed": seed,
        }
    )
    return SimulatedSumstats(exposure=exp_t, outcome=out_t, truth=truth)
