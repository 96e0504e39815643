"""Harmonise exposure and outcome associations to the same effect allele (TwoSampleMR rules).

Follows TwoSampleMR 0.7.x ``harmonise_data`` (``harmonise_22`` / ``harmonise_21``, allele
frequency tolerance 0.08) and adds what TwoSampleMR leaves to console messages: a log with one
row per variant that was flipped, swapped, excluded or is absent from the outcome, with its
reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import DataStructureError, SpecificationError

__all__ = ["HarmonisedData", "harmonise"]

_TOL = 0.08
_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


def _standardise(df: pd.DataFrame, role: str) -> pd.DataFrame:
    """Accept generic columns (``beta``...) or TwoSampleMR ones (``beta.exposure``...)."""
    if not isinstance(df, pd.DataFrame):
        raise SpecificationError(
            f"harmonise: the {role} table must be a pandas DataFrame (e.g. from "
            f"sp.mr.read_sumstats), not {type(df).__name__}."
        )
    suffix = f".{role}"
    out = df.copy()
    core = ("beta", "se", "effect_allele", "other_allele", "eaf")
    rename: dict[Any, str] = {}
    for c in out.columns:
        name = str(c)
        base = name[: -len(suffix)] if name.endswith(suffix) else name
        if base in core:
            rename[c] = base
        elif (
            name != "SNP"
            and not name.endswith(suffix)
            and not name.startswith(f"{role}.")
            and name not in ("exposure", "outcome")
        ):
            rename[c] = name + suffix
    out = out.rename(columns=rename)
    missing = [c for c in ("SNP", "beta", "se", "effect_allele") if c not in out.columns]
    if missing:
        raise DataStructureError(
            f"harmonise: the {role} table lacks column(s) {missing}. It needs SNP, beta, se, "
            f"effect_allele (other_allele and eaf recommended), either with these names or with "
            f"TwoSampleMR's '{suffix}' suffix; read files with sp.mr.read_sumstats(..., "
            "columns={...}) to map other names."
        )
    for c in ("other_allele", "eaf"):
        if c not in out.columns:
            out[c] = np.nan
    out["SNP"] = out["SNP"].astype(str)
    dup = out["SNP"][out["SNP"].duplicated(keep=False)]
    if len(dup):
        ex = ", ".join(sorted(set(dup))[:3])
        raise DataStructureError(
            f"harmonise: {dup.nunique()} variant(s) appear more than once in the {role} table "
            f"(e.g. {ex}). Keep one row per variant (for multi-allelic sites pick the allele "
            "pair you mean, or drop them)."
        )
    for c in ("beta", "se", "eaf"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    for c in ("effect_allele", "other_allele"):
        col = out[c].astype(object)
        col = col.where(col.notna(), None)
        out[c] = [
            None if (v is None or str(v).strip() in ("", "NA", "nan")) else str(v).strip().upper()
            for v in col
        ]
    return out


def _palindromic(a1: np.ndarray, a2: np.ndarray) -> np.ndarray:
    pairs = {("A", "T"), ("T", "A"), ("G", "C"), ("C", "G")}
    return np.array([(x, y) in pairs for x, y in zip(a1, a2, strict=True)], dtype=bool)


def _flip(x: Any) -> Any:
    return None if x is None else str(x).translate(_COMPLEMENT)


@dataclass(frozen=True)
class HarmonisedData:
    """Harmonised exposure-outcome table and the log of what harmonisation did.

    Attributes
    ----------
    table : DataFrame
        One row per variant present in both tables, with TwoSampleMR's columns (``SNP``,
        ``effect_allele.exposure``, ``other_allele.exposure``, ``effect_allele.outcome``,
        ``other_allele.outcome``, ``beta.exposure``, ``beta.outcome``, ``eaf.exposure``,
        ``eaf.outcome``, ``remove``, ``palindromic``, ``ambiguous``, the remaining input columns
        with their suffixes, ``se.exposure``, ``se.outcome``, ``action``, ``mr_keep``), sorted by
        ``SNP``.
    log : DataFrame
        ``SNP, step, kept, reason``: every variant that was swapped, strand-flipped, flipped by
        allele frequency, excluded (``mr_keep`` False), or is absent from the outcome table.
    action : int
        TwoSampleMR's action (1, 2 or 3).
    """

    table: pd.DataFrame
    log: pd.DataFrame
    action: int

    @property
    def n_kept(self) -> int:
        """Number of variants with ``mr_keep``."""
        return int(self.table["mr_keep"].sum())

    def tidy(self) -> pd.DataFrame:
        """The harmonised table (a copy)."""
        return self.table.copy()

    def summary(self) -> str:
        """Text account of the harmonisation."""
        t = self.table
        lines = [
            f"Harmonisation (TwoSampleMR rules, action = {self.action}, allele-frequency tolerance {_TOL})",
            f"  variants in both tables: {len(t)}; kept for MR (mr_keep): {self.n_kept}",
            f"  palindromic: {int(t['palindromic'].sum())}; ambiguous (palindromic with MAF near 0.5 "
            f"or incompatible frequencies): {int(t['ambiguous'].sum())}; incompatible alleles: {int(t['remove'].sum())}",
        ]
        if len(self.log):
            counts = self.log.groupby("step").size()
            for step, n in counts.items():
                lines.append(f"  {step}: {n}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + self.summary() + "</pre>" + self.log.to_html(index=False, max_rows=30)

    def __repr__(self) -> str:
        return (
            f"HarmonisedData({len(self.table)} variants, {self.n_kept} kept, action={self.action})"
        )


def harmonise(
    exposure: pd.DataFrame,
    outcome: pd.DataFrame,
    action: int = 2,
    *,
    tolerance: float = _TOL,
    exposure_name: str | None = None,
    outcome_name: str | None = None,
) -> HarmonisedData:
    """Align outcome associations to the exposure's effect allele, as TwoSampleMR does.

    For each variant in both tables (matched on ``SNP``): if the outcome's alleles are the
    exposure's swapped, the outcome beta changes sign and its frequency becomes ``1 - eaf``; if
    they still do not match and the variant is not palindromic, the outcome alleles are
    complemented (strand flip) and swapped if needed; variants whose alleles still disagree are
    marked ``remove``. Palindromic variants (A/T, C/G) cannot be strand-resolved from alleles:
    they are ``ambiguous`` when either frequency lies within ``0.5 +/- tolerance``. With
    ``action=2`` a palindromic variant whose two frequencies lie on opposite sides of 0.5 has
    its outcome beta flipped; ``mr_keep`` is False for ``remove`` or ``ambiguous`` variants.
    ``action=3`` also drops every palindromic variant; ``action=1`` trusts the strands and
    drops only ``remove``. Variants with a missing or non-positive SE or a missing beta get
    ``mr_keep`` False too (TwoSampleMR drops missing values; non-positive SEs are an addition).
    When only the outcome lacks the other allele, TwoSampleMR's ``harmonise_21`` rules apply.

    Parameters
    ----------
    exposure, outcome : DataFrame
        Summary statistics with columns ``SNP, beta, se, effect_allele, other_allele, eaf``
        (generic names as :func:`read_sumstats` returns) or TwoSampleMR's ``*.exposure`` /
        ``*.outcome`` names. Other columns are carried through with the suffix.
    action : {1, 2, 3}
        TwoSampleMR's strictness (default 2).
    tolerance : float
        Allele-frequency band around 0.5 within which palindromic variants are ambiguous.
    exposure_name, outcome_name : str, optional
        Stored in the ``exposure`` / ``outcome`` columns when those are absent.

    Returns
    -------
    HarmonisedData
        ``.table`` (TwoSampleMR columns) and ``.log`` (one row per changed/excluded variant).

    Raises
    ------
    DataStructureError
        Missing columns, duplicated variants, or no variant in common.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> exp = pd.DataFrame({"SNP": ["rs1", "rs2", "rs3"], "beta": [0.1, 0.2, -0.1], "se": [0.01] * 3,
    ...                     "effect_allele": ["A", "C", "G"], "other_allele": ["G", "T", "A"], "eaf": [0.2, 0.3, 0.4]})
    >>> out = pd.DataFrame({"SNP": ["rs1", "rs2", "rs3"], "beta": [0.05, -0.1, 0.02], "se": [0.02] * 3,
    ...                     "effect_allele": ["G", "G", "C"], "other_allele": ["A", "A", "T"], "eaf": [0.8, 0.7, 0.6]})
    >>> h = sp.mr.harmonise(exp, out)
    >>> h.table["beta.outcome"].round(2).tolist()
    [-0.05, -0.1, 0.02]
    >>> h.log["step"].tolist()
    ['swapped alleles', 'strand flipped', 'strand flipped']
    """
    if action not in (1, 2, 3):
        raise SpecificationError(
            f"harmonise: action must be 1, 2 or 3 (TwoSampleMR's strictness levels), not {action!r}."
        )
    ex = _standardise(exposure, "exposure")
    out = _standardise(outcome, "outcome")
    log_rows: list[dict[str, Any]] = []
    absent = sorted(set(ex["SNP"]) - set(out["SNP"]))
    for snp in absent:
        log_rows.append(
            {
                "SNP": snp,
                "step": "absent from outcome",
                "kept": False,
                "reason": "the exposure variant is not in the outcome table (no proxy lookup offline)",
            }
        )
    merged = out.merge(ex, on="SNP", suffixes=(".outcome", ".exposure"), how="inner")
    if merged.empty:
        raise DataStructureError(
            "harmonise: no variant is in both the exposure and the outcome table (matched on "
            "SNP). Check that both use rsids (or the same chr:pos:ref:alt ids)."
        )
    merged = merged.sort_values("SNP", kind="stable").reset_index(drop=True)
    n = len(merged)
    A1 = np.array(merged["effect_allele.exposure"], dtype=object)
    A2 = np.array(merged["other_allele.exposure"], dtype=object)
    B1 = np.array(merged["effect_allele.outcome"], dtype=object)
    B2 = np.array(merged["other_allele.outcome"], dtype=object)
    betaB = merged["beta.outcome"].to_numpy(dtype=float).copy()
    fA = merged["eaf.exposure"].to_numpy(dtype=float).copy()
    fB = merged["eaf.outcome"].to_numpy(dtype=float).copy()
    snps = merged["SNP"].to_numpy()

    remove = np.zeros(n, dtype=bool)
    palindromic = np.zeros(n, dtype=bool)
    ambiguous = np.zeros(n, dtype=bool)
    steps: list[list[str]] = [[] for _ in range(n)]
    reasons: list[list[str]] = [[] for _ in range(n)]

    has_a2 = np.array([a is not None for a in A2])
    has_b2 = np.array([b is not None for b in B2])
    has_a1 = np.array([a is not None for a in A1])
    has_b1 = np.array([b is not None for b in B1])
    tfA = np.where(np.isnan(fA), 0.5, fA)
    tfB = np.where(np.isnan(fB), 0.5, fB)
    minf, maxf = 0.5 - tolerance, 0.5 + tolerance

    # ---- both tables have two alleles: harmonise_22
    i22 = has_a1 & has_a2 & has_b1 & has_b2
    for i in np.nonzero(i22)[0]:
        a1, a2, b1, b2 = A1[i], A2[i], B1[i], B2[i]
        if a1 == a2 or b1 == b2:
            remove[i] = True
            reasons[i].append("identical effect and other alleles")
            continue
        if a1 == b2 and a2 == b1:
            b1, b2 = b2, b1
            betaB[i] = -betaB[i]
            fB[i] = 1 - fB[i]
            tfB[i] = 1 - tfB[i]
            steps[i].append("swapped alleles")
        pal = _palindromic(np.array([a1]), np.array([a2]))[0]
        palindromic[i] = pal
        if not pal and not (a1 == b1 and a2 == b2):
            b1, b2 = _flip(b1), _flip(b2)
            flipped = True
            if a1 == b2 and a2 == b1:
                b1, b2 = b2, b1
                betaB[i] = -betaB[i]
                fB[i] = 1 - fB[i]
                tfB[i] = 1 - tfB[i]
                steps[i].append("strand flipped and swapped")
            elif a1 == b1 and a2 == b2:
                steps[i].append("strand flipped")
            else:
                flipped = False
            if not flipped:
                remove[i] = True
                reasons[i].append(
                    f"alleles cannot be aligned (exposure {A1[i]}/{A2[i]}, outcome {B1[i]}/{B2[i]})"
                )
        elif pal and not (a1 == b1 and a2 == b2):
            remove[i] = True
            reasons[i].append(
                f"alleles cannot be aligned (exposure {A1[i]}/{A2[i]}, outcome {B1[i]}/{B2[i]})"
            )
        B1[i], B2[i] = b1, b2
        amb_a = minf < tfA[i] < maxf
        amb_b = minf < tfB[i] < maxf
        ambiguous[i] = (amb_a or amb_b) and pal
        if action == 2 and pal and not remove[i]:
            if (tfA[i] < 0.5 < tfB[i]) or (tfA[i] > 0.5 > tfB[i]):
                betaB[i] = -betaB[i]
                fB[i] = 1 - fB[i]
                steps[i].append("palindromic, flipped by allele frequency")

    # ---- outcome lacks the other allele: harmonise_21
    i21 = has_a1 & has_a2 & has_b1 & ~has_b2
    for i in np.nonzero(i21)[0]:
        a1, a2, b1 = A1[i], A2[i], B1[i]
        pal = _palindromic(np.array([a1]), np.array([a2]))[0]
        palindromic[i] = pal
        if pal:
            remove[i] = True
            reasons[i].append("palindromic and the outcome gives only one allele")
        amb = False
        similar1 = (tfA[i] < minf and tfB[i] < minf) or (tfA[i] > maxf and tfB[i] > maxf)
        similar2 = (tfA[i] < minf and tfB[i] > maxf) or (tfA[i] > maxf and tfB[i] < minf)
        if b1 not in (a1, a2):
            amb = True
            b1 = _flip(b1)
            steps[i].append("strand flipped (one outcome allele)")
        if b1 == a1:
            amb = amb or not similar1
            B2[i] = a2
        elif b1 == a2:
            amb = amb or not similar2
            B2[i], b1 = b1, a1
            betaB[i] = -betaB[i]
            fB[i] = 1 - fB[i]
            steps[i].append("swapped alleles")
        else:
            remove[i] = True
            reasons[i].append("the outcome allele matches neither exposure allele")
        B1[i] = b1
        ambiguous[i] = amb or pal

    # ---- anything else (exposure lacks the other allele, or an allele missing): cannot align safely
    other = ~(i22 | i21)
    for i in np.nonzero(other)[0]:
        remove[i] = True
        reasons[i].append("an allele is missing from the exposure table; cannot align")

    merged["effect_allele.exposure"] = A1
    merged["other_allele.exposure"] = A2
    merged["effect_allele.outcome"] = B1
    merged["other_allele.outcome"] = B2
    merged["beta.outcome"] = betaB
    merged["eaf.outcome"] = fB
    merged["remove"] = remove
    merged["palindromic"] = palindromic
    merged["ambiguous"] = ambiguous
    merged["action"] = action
    keep = np.ones(n, dtype=bool)
    if action == 3:
        keep &= ~(palindromic | remove | ambiguous)
        for i in np.nonzero(palindromic)[0]:
            reasons[i].append("palindromic (action = 3 drops all palindromic variants)")
    elif action == 2:
        keep &= ~(remove | ambiguous)
        for i in np.nonzero(ambiguous & ~remove)[0]:
            reasons[i].append(
                "palindromic with an allele frequency within 0.5 +/- "
                f"{tolerance} (strand cannot be inferred)"
                if palindromic[i]
                else "allele frequencies incompatible with the one-allele alignment"
            )
    else:
        keep &= ~remove
    for c in ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome"):
        v = pd.to_numeric(merged[c], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v)
        for i in np.nonzero(bad)[0]:
            reasons[i].append(f"missing {c}")
        keep &= ~bad
        if c.startswith("se."):
            nonpos = np.isfinite(v) & (v <= 0)
            for i in np.nonzero(nonpos)[0]:
                reasons[i].append(f"non-positive {c} ({v[i]:g})")
            keep &= ~nonpos
    bx = merged["beta.exposure"].to_numpy(dtype=float)
    zero = np.isfinite(bx) & (bx == 0)
    for i in np.nonzero(zero)[0]:
        reasons[i].append("beta.exposure is exactly 0 (ratio estimate undefined)")
    keep &= ~zero
    merged["mr_keep"] = keep
    if "exposure" not in merged.columns:
        merged["exposure"] = exposure_name or "exposure"
    if "outcome" not in merged.columns:
        merged["outcome"] = outcome_name or "outcome"

    for i in range(n):
        for st in steps[i]:
            log_rows.append({"SNP": snps[i], "step": st, "kept": bool(keep[i]), "reason": ""})
        if not keep[i]:
            log_rows.append(
                {"SNP": snps[i], "step": "excluded", "kept": False, "reason": "; ".join(reasons[i])}
            )
    front = [
        "SNP",
        "effect_allele.exposure",
        "other_allele.exposure",
        "effect_allele.outcome",
        "other_allele.outcome",
        "beta.exposure",
        "beta.outcome",
        "eaf.exposure",
        "eaf.outcome",
        "remove",
        "palindromic",
        "ambiguous",
    ]
    rest = [c for c in merged.columns if c not in front and c not in ("action", "mr_keep")]
    table = merged[[*front, *rest, "action", "mr_keep"]]
    log = pd.DataFrame(log_rows, columns=["SNP", "step", "kept", "reason"])
    return HarmonisedData(table=table, log=log, action=action)


def as_table(harmonised: HarmonisedData | pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    """The harmonised DataFrame from a :class:`HarmonisedData` or a DataFrame."""
    if isinstance(harmonised, HarmonisedData):
        return harmonised.table
    if isinstance(harmonised, pd.DataFrame):
        return harmonised
    raise SpecificationError(
        "expected the output of sp.mr.harmonise (HarmonisedData) or a harmonised DataFrame with "
        f"TwoSampleMR's columns, not {type(harmonised).__name__}."
    )
