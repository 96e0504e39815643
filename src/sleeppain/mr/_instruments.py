"""Instrument selection: p-value threshold, offline clumping, per-variant F and R^2."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import DataStructureError, SpecificationError
from sleeppain.mr._io import normalise_chromosome

__all__ = ["rsq_from_bsen", "rsq_from_lor", "select_instruments"]


def rsq_from_bsen(beta: np.ndarray, se: np.ndarray, n: np.ndarray | float) -> np.ndarray:
    """Variance explained from beta, SE and N (TwoSampleMR ``get_r_from_bsen``, squared).

    ``F = (beta/se)^2``, ``R^2 = F / (n - 2 + F)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._instruments import rsq_from_bsen
    >>> float(np.round(rsq_from_bsen(np.array([0.1]), np.array([0.01]), 10002.0)[0], 6))
    0.009901
    """
    f = (np.asarray(beta, float) / np.asarray(se, float)) ** 2
    return f / (np.asarray(n, float) - 2.0 + f)


def _contingency_af(af: float, prop: float, odds_ratio: float, prevalence: float) -> float:
    """Population allele frequency from case-control frequency (TwoSampleMR ``contingency``)."""
    a = odds_ratio - 1.0
    b = (af + prop) * (1.0 - odds_ratio) - 1.0
    c = odds_ratio * af * prop
    if abs(a) < 1e-15:
        zs = [-c / b]
    else:
        d = b * b - 4.0 * a * c
        s = [0.0] if d < 1e-30 else [-1.0, 1.0]
        zs = [(-b + si * np.sqrt(max(0.0, d))) / (2.0 * a) for si in s]
    for z in zs:
        tab = np.array(
            [[z, af - z], [prop - z, 1.0 + z - af - prop]]
        )  # rows alleles, cols case/control
        tab = np.where(np.abs(tab) < 1e-12, 0.0, tab)
        if np.all(tab >= 0):
            af_cases = tab[0, 0] / (tab[0, 0] + tab[1, 0])
            af_controls = tab[0, 1] / (tab[0, 1] + tab[1, 1])
            return float(af_controls * (1.0 - prevalence) + af_cases * prevalence)
    raise DataStructureError(
        f"rsq_from_lor: no valid 2x2 table for allele frequency {af}, case fraction {prop}, "
        f"odds ratio {odds_ratio}. Check eaf and the case/control counts."
    )


def rsq_from_lor(
    lor: np.ndarray,
    af: np.ndarray,
    ncase: float | np.ndarray,
    ncontrol: float | np.ndarray,
    prevalence: float | np.ndarray,
    model: str = "logit",
) -> np.ndarray:
    """Liability-scale variance explained by a variant of a binary trait (Lee et al. 2012, eq. 10).

    TwoSampleMR ``get_r_from_lor`` squared: the case-control allele frequency is converted to the
    population frequency using the prevalence, ``V_g = lor^2 p (1 - p)``, ``R^2 = V_g / (V_g +
    V_e)`` with ``V_e = pi^2/3`` (logit) or 1 (probit).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._instruments import rsq_from_lor
    >>> r2 = rsq_from_lor(np.array([0.1]), np.array([0.3]), 1000, 9000, 0.1)
    >>> bool(0 < r2[0] < 0.01)
    True
    """
    lor = np.asarray(lor, float)
    af = np.asarray(af, float)
    n = lor.size
    ncase_a = np.broadcast_to(np.asarray(ncase, float), (n,))
    nctrl_a = np.broadcast_to(np.asarray(ncontrol, float), (n,))
    prev = np.broadcast_to(np.asarray(prevalence, float), (n,))
    if model not in ("logit", "probit"):
        raise SpecificationError("rsq_from_lor: model must be 'logit' or 'probit'.")
    ve = np.pi**2 / 3.0 if model == "logit" else 1.0
    out = np.empty(n)
    for i in range(n):
        p = _contingency_af(
            af[i], ncase_a[i] / (ncase_a[i] + nctrl_a[i]), float(np.exp(lor[i])), prev[i]
        )
        vg = lor[i] ** 2 * p * (1.0 - p)
        out[i] = vg / (vg + ve)
    return out


def select_instruments(
    sumstats: pd.DataFrame,
    p_threshold: float = 5e-8,
    clump: str | pd.DataFrame | Iterable[str] | None = "distance",
    *,
    clump_kb: float = 10_000.0,
    clump_r2: float = 0.001,
    samplesize: float | None = None,
) -> pd.DataFrame:
    """Genome-wide significant, independent instruments for an exposure, offline.

    Variants with ``pval < p_threshold`` are clumped greedily from the smallest p-value down:

    * ``clump="distance"``: drop any variant within ``clump_kb`` kb of a kept one on the same
      chromosome (needs ``chr``, ``pos``; ``chr1`` and ``1`` are the same); a conservative stand-in for LD clumping (PLINK's
      ``--clump-kb 10000`` with ``r2`` unknown);
    * ``clump=<DataFrame>``: a square LD matrix of correlations ``r`` with SNP ids as index
      and columns (e.g. from PLINK ``--r square`` on a reference panel); drop variants with
      ``r^2 >= clump_r2`` with a kept one; variants absent from the matrix are kept and
      reported;
    * ``clump=<list of SNP ids>``: a pre-clumped list (e.g. from ``ieugwasr::ld_clump`` or the
      paper's supplementary table); variants not in it are dropped;
    * ``clump=None``: no clumping (the data are already independent).

    Adds ``F = (beta/se)^2`` and ``rsq`` (``F/(N - 2 + F)`` when a sample size is known, else
    ``2 beta^2 eaf (1 - eaf)`` for a trait in SD units) per variant. The returned frame's
    ``attrs["selection_log"]`` lists each variant dropped by clumping and why.

    Parameters
    ----------
    sumstats : DataFrame
        Output of :func:`read_sumstats` (columns ``SNP, beta, se, pval``; ``chr, pos`` for
        distance clumping).
    p_threshold : float
        Significance threshold (default genome-wide 5e-8).
    clump : str, DataFrame, list of str, or None
        Clumping rule, see above.
    clump_kb, clump_r2 : float
        Window for distance clumping; r^2 threshold for the LD matrix.
    samplesize : float, optional
        N for ``rsq`` when the table has no ``samplesize`` column.

    Returns
    -------
    DataFrame
        The selected variants, sorted by p-value, with ``F`` and ``rsq``.

    Raises
    ------
    DataStructureError
        Duplicated SNP ids, missing columns, or no variant passing the threshold.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> ss = pd.DataFrame({"SNP": ["rs1", "rs2", "rs3"], "chr": ["1", "1", "2"], "pos": [1_000, 5_000, 1_000],
    ...                    "beta": [0.05, 0.04, 0.03], "se": [0.005] * 3, "pval": [1e-20, 1e-15, 1e-9],
    ...                    "effect_allele": ["A"] * 3, "other_allele": ["G"] * 3, "eaf": [0.3] * 3, "samplesize": [1e5] * 3})
    >>> sp.mr.select_instruments(ss)["SNP"].tolist()
    ['rs1', 'rs3']
    """
    if not isinstance(sumstats, pd.DataFrame):
        raise SpecificationError(
            "select_instruments: sumstats must be a DataFrame from sp.mr.read_sumstats."
        )
    for c in ("SNP", "beta", "se"):
        if c not in sumstats.columns:
            raise DataStructureError(
                f"select_instruments: column {c!r} is missing; read the file with sp.mr.read_sumstats."
            )
    df = sumstats.copy()
    if "pval" not in df.columns:
        from scipy import stats

        df["pval"] = 2 * stats.norm.sf(np.abs(df["beta"] / df["se"]))
    dup = df["SNP"][df["SNP"].duplicated(keep=False)]
    if len(dup):
        raise DataStructureError(
            f"select_instruments: {dup.nunique()} SNP id(s) appear more than once (e.g. "
            f"{', '.join(map(str, sorted(set(dup))[:3]))}). Keep one row per variant."
        )
    bad_se = df["se"].isna() | (df["se"] <= 0) | df["beta"].isna()
    log_rows: list[dict[str, object]] = []
    for snp in df.loc[bad_se & (df["pval"] < p_threshold), "SNP"]:
        log_rows.append({"SNP": snp, "reason": "missing beta or non-positive/missing se"})
    sig = df[(df["pval"] < p_threshold) & ~bad_se].sort_values("pval", kind="stable")
    if sig.empty:
        raise DataStructureError(
            f"select_instruments: no variant has pval < {p_threshold:g}. Use a laxer threshold "
            "(e.g. 5e-6, as is common for weakly powered exposures) and report it."
        )
    keep = _clump(sig, clump, clump_kb=clump_kb, clump_r2=clump_r2, log_rows=log_rows)
    out = _strength(sig.loc[keep].copy(), samplesize)
    out.attrs["selection_log"] = pd.DataFrame(log_rows, columns=["SNP", "reason"])
    out.attrs["p_threshold"] = p_threshold
    return out


def _strength(out: pd.DataFrame, samplesize: float | None) -> pd.DataFrame:
    """Per-instrument ``F`` and ``rsq`` (from N when known, else from the allele frequency)."""
    out["F"] = (out["beta"] / out["se"]) ** 2
    n = out["samplesize"] if "samplesize" in out.columns else pd.Series(np.nan, index=out.index)
    if samplesize is not None:
        n = n.fillna(float(samplesize))
    rsq = pd.Series(np.nan, index=out.index, dtype=float)
    has_n = n.notna()
    rsq[has_n] = rsq_from_bsen(
        out.loc[has_n, "beta"].to_numpy(float),
        out.loc[has_n, "se"].to_numpy(float),
        n[has_n].to_numpy(float),
    )
    if "eaf" in out.columns:
        use_eaf = ~has_n & out["eaf"].notna()
        f = out.loc[use_eaf, "eaf"].astype(float)
        rsq[use_eaf] = 2 * out.loc[use_eaf, "beta"].astype(float) ** 2 * f * (1 - f)
    out["rsq"] = rsq
    return out.reset_index(drop=True)


def _clump(
    sig: pd.DataFrame,
    clump: str | pd.DataFrame | Iterable[str] | None,
    *,
    clump_kb: float,
    clump_r2: float,
    log_rows: list[dict[str, object]],
) -> list[Any]:
    """Index labels of the instruments kept by the clumping rule (strongest first)."""
    if clump is None:
        return list(sig.index)
    if isinstance(clump, str):
        if clump != "distance":
            raise SpecificationError(
                "select_instruments: clump must be 'distance', an LD matrix, a list of SNP ids "
                f"or None, not {clump!r}."
            )
        return _clump_distance(sig, clump_kb, log_rows)
    if isinstance(clump, pd.DataFrame):
        return _clump_ld(sig, clump, clump_r2, log_rows)
    wanted = {str(s) for s in clump}
    keep = []
    for idx, snp in zip(sig.index, sig["SNP"], strict=True):
        if str(snp) in wanted:
            keep.append(idx)
        else:
            log_rows.append({"SNP": snp, "reason": "not in the pre-clumped list"})
    return keep


def _clump_distance(
    sig: pd.DataFrame, clump_kb: float, log_rows: list[dict[str, object]]
) -> list[Any]:
    """Greedy distance clumping within a chromosome (``chr1`` and ``1`` are one)."""
    for c in ("chr", "pos"):
        if c not in sig.columns or sig[c].isna().any():
            raise DataStructureError(
                f"select_instruments: distance clumping needs {c!r} for every significant "
                "variant. Supply an LD matrix or a pre-clumped list instead (clump=...)."
            )
    pos_all = pd.to_numeric(sig["pos"], errors="coerce")
    if pos_all.isna().any():
        bad = sig.loc[pos_all.isna(), "SNP"].head(3).tolist()
        raise DataStructureError(
            f"select_instruments: 'pos' is not a number for {int(pos_all.isna().sum())} "
            f"significant variant(s) (e.g. {bad}). Fix the positions or clump with an LD matrix."
        )
    window = clump_kb * 1000.0
    kept_pos: dict[str, list[float]] = {}
    keep = []
    chroms = normalise_chromosome(sig["chr"])
    for idx, snp, chrom, pos in zip(sig.index, sig["SNP"], chroms, pos_all, strict=True):
        if any(abs(p - pos) < window for p in kept_pos.get(chrom, [])):
            log_rows.append(
                {
                    "SNP": snp,
                    "reason": f"within {clump_kb:g} kb of a stronger instrument on chr {chrom}",
                }
            )
        else:
            keep.append(idx)
            kept_pos.setdefault(chrom, []).append(float(pos))
    return keep


def _clump_ld(
    sig: pd.DataFrame, ld: pd.DataFrame, clump_r2: float, log_rows: list[dict[str, object]]
) -> list[Any]:
    """Greedy clumping on a square LD (correlation) matrix; variants absent are kept."""
    ids = [str(i) for i in ld.index]
    if [str(c) for c in ld.columns] != ids:
        raise DataStructureError(
            "select_instruments: the LD matrix must be square with the same SNP ids as index "
            "and columns, in the same order."
        )
    r = ld.to_numpy(dtype=float)
    pos_of = {s: i for i, s in enumerate(ids)}
    kept_ids: list[int] = []
    keep = []
    for idx, snp_value in zip(sig.index, sig["SNP"], strict=True):
        snp = str(snp_value)
        if snp not in pos_of:
            keep.append(idx)
            log_rows.append(
                {"SNP": snp, "reason": "kept but not in the LD matrix (independence unchecked)"}
            )
            continue
        j = pos_of[snp]
        hit = [k for k in kept_ids if r[j, k] ** 2 >= clump_r2]
        if hit:
            log_rows.append(
                {
                    "SNP": snp,
                    "reason": f"r^2 >= {clump_r2:g} with stronger instrument {ids[hit[0]]}",
                }
            )
        else:
            keep.append(idx)
            kept_ids.append(j)
    return keep
