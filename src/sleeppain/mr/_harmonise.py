"""Harmonise exposure and outcome associations to the same effect allele (TwoSampleMR rules).

Follows TwoSampleMR 0.7.x ``harmonise_data`` (``harmonise_22`` / ``harmonise_21``, allele
frequency tolerance 0.08) and adds what TwoSampleMR leaves to console messages: a log with one
row per variant that was flipped, swapped, excluded or is absent from the outcome, with its
reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import DataStructureError, SpecificationError
from sleeppain.results import Display, DisplayTable, ResultMixin, tidy_frame

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
    _check_eaf(out, role)
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


def _check_eaf(out: pd.DataFrame, role: str) -> None:
    """Allele frequencies must lie in [0, 1]; name the variants that do not."""
    f = out["eaf"].to_numpy(dtype=float)
    bad = np.isfinite(f) & ((f < 0) | (f > 1))
    if bad.any():
        ex = ", ".join(f"{s} ({v:g})" for s, v in zip(out["SNP"][bad][:3], f[bad][:3], strict=True))
        raise DataStructureError(
            f"harmonise: {int(bad.sum())} variant(s) in the {role} table have an allele "
            f"frequency outside [0, 1] (e.g. {ex}). Check the eaf column (a percentage, or "
            "a minor-allele count?) and fix or drop those rows."
        )


@dataclass(frozen=True, eq=False)
class HarmonisedData(ResultMixin):
    """Harmonised exposure-outcome table and the log of what harmonisation did (frozen).

    Build it with :func:`harmonise`. Its tables are handed out as copies.

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
    tolerance : float
        Allele-frequency band around 0.5 within which palindromic variants are ambiguous.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> exp = pd.DataFrame({"SNP": ["rs1", "rs2"], "beta": [0.1, 0.2], "se": [0.01, 0.01],
    ...                     "effect_allele": ["A", "C"], "other_allele": ["G", "T"]})
    >>> out = exp.assign(beta=[0.05, 0.1])
    >>> h = sp.mr.harmonise(exp, out)
    >>> h.tidy()[["term", "estimate"]].round(2).values.tolist()
    [['rs1', 0.5], ['rs2', 0.5]]
    >>> int(h.glance()["n_kept"].iloc[0])
    2
    """

    _table: pd.DataFrame = field(repr=False)
    _log: pd.DataFrame = field(repr=False)
    action: int
    tolerance: float = _TOL

    @property
    def table(self) -> pd.DataFrame:
        """The harmonised table (TwoSampleMR's columns; a copy)."""
        return self._table.copy()

    @property
    def log(self) -> pd.DataFrame:
        """``SNP, step, kept, reason`` for every change and exclusion (a copy)."""
        return self._log.copy()

    @property
    def n_kept(self) -> int:
        """Number of variants with ``mr_keep``."""
        return int(self._table["mr_keep"].sum())

    @property
    def exposure(self) -> str:
        """Exposure name (from the ``exposure`` column)."""
        return str(self._table["exposure"].iloc[0]) if len(self._table) else "exposure"

    @property
    def outcome(self) -> str:
        """Outcome name (from the ``outcome`` column)."""
        return str(self._table["outcome"].iloc[0]) if len(self._table) else "outcome"

    def tidy(self, *, schema: str = "house", conf_level: float = 0.95) -> pd.DataFrame:
        """Per-variant Wald ratios (house schema), or the harmonised table (``schema="mr"``).

        House schema: ``term`` is the variant, ``estimate = beta.outcome / beta.exposure``,
        ``std_error = se.outcome / |beta.exposure|`` (first order, as TwoSampleMR's
        ``mr_wald_ratio``), normal ``p_value`` and interval; context columns ``method,
        mr_keep, exposure, outcome`` and the harmonised associations (``beta_exposure``,
        ``se_exposure``, ``beta_outcome``, ``se_outcome``, ``eaf_exposure``, ``eaf_outcome``).
        Variants with ``mr_keep`` False keep their row (NaN where a ratio is undefined); the
        :attr:`log` says why they are excluded.
        """
        from scipy import stats

        from sleeppain.results import check_conf_level

        if schema == "mr":
            return self.table
        if schema != "house":
            raise SpecificationError(f"schema={schema!r}; use 'house' or 'mr'.")
        z = float(stats.norm.ppf(1 - (1 - check_conf_level(conf_level)) / 2))
        t = self._table
        num = {
            c: pd.to_numeric(t[c], errors="coerce").to_numpy(dtype=float)
            for c in ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome")
        }
        bx, by, sy = num["beta.exposure"], num["beta.outcome"], num["se.outcome"]
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = np.isfinite(bx) & (bx != 0)
            est = np.where(ok, by / np.where(ok, bx, 1.0), np.nan)
            se = np.where(ok, sy / np.abs(np.where(ok, bx, 1.0)), np.nan)
            stat = est / se
        frame = pd.DataFrame(
            {
                "term": t["SNP"].astype(str).to_numpy(),
                "estimate": est,
                "std_error": se,
                "statistic": stat,
                "p_value": 2.0 * stats.norm.sf(np.abs(stat)),
                "conf_low": est - z * se,
                "conf_high": est + z * se,
                "method": "wald_ratio",
                "mr_keep": t["mr_keep"].astype(bool).to_numpy(),
                "exposure": t["exposure"].astype(str).to_numpy(),
                "outcome": t["outcome"].astype(str).to_numpy(),
                "beta_exposure": bx,
                "se_exposure": num["se.exposure"],
                "beta_outcome": by,
                "se_outcome": sy,
                "eaf_exposure": t["eaf.exposure"].to_numpy(dtype=float),
                "eaf_outcome": t["eaf.outcome"].to_numpy(dtype=float),
            }
        )
        return tidy_frame(frame, context=["method", "mr_keep", "exposure", "outcome"])

    def glance(self) -> pd.DataFrame:
        """One row: variants in both tables, kept, absent, palindromic, ambiguous, removed."""
        t, log = self._table, self._log
        steps = log["step"].value_counts()
        return pd.DataFrame(
            [
                {
                    "exposure": self.exposure,
                    "outcome": self.outcome,
                    "n_variants": len(t),
                    "n_kept": self.n_kept,
                    "n_absent_from_outcome": int(steps.get("absent from outcome", 0)),
                    "n_palindromic": int(t["palindromic"].sum()),
                    "n_ambiguous": int(t["ambiguous"].sum()),
                    "n_incompatible": int(t["remove"].sum()),
                    "n_excluded": int(steps.get("excluded", 0)),
                    "action": self.action,
                    "tolerance": self.tolerance,
                }
            ]
        )

    def _display(self) -> Display:
        t = self._table
        header = [
            ("traits", f"{self.exposure} -> {self.outcome}"),
            ("variants in both tables", str(len(t))),
            ("kept for MR (mr_keep)", str(self.n_kept)),
            ("palindromic", str(int(t["palindromic"].sum()))),
            (
                "ambiguous (palindromic with MAF near 0.5 or incompatible frequencies)",
                str(int(t["ambiguous"].sum())),
            ),
            ("incompatible alleles", str(int(t["remove"].sum()))),
        ]
        header += [(str(step), str(n)) for step, n in self._log.groupby("step").size().items()]
        tables = ()
        if len(self._log):
            shown = self._log.head(30).set_index("SNP")
            more = f" (first 30 of {len(self._log)}; see .log)" if len(self._log) > 30 else ""
            tables = (DisplayTable(shown, title=f"Decisions{more}"),)
        return Display(
            title=(
                f"Harmonisation (TwoSampleMR rules, action = {self.action}, "
                f"allele-frequency tolerance {self.tolerance:g})"
            ),
            header=tuple(header),
            tables=tables,
        )

    def __repr__(self) -> str:
        return (
            f"HarmonisedData({len(self._table)} variants, {self.n_kept} kept, action={self.action})"
        )


@dataclass
class _Alignment:
    """Working state of the allele alignment (one entry per merged variant)."""

    A1: np.ndarray
    A2: np.ndarray
    B1: np.ndarray
    B2: np.ndarray
    betaB: np.ndarray
    fA: np.ndarray
    fB: np.ndarray
    tfA: np.ndarray
    tfB: np.ndarray
    remove: np.ndarray
    palindromic: np.ndarray
    ambiguous: np.ndarray
    steps: list[list[str]]
    reasons: list[list[str]]

    @classmethod
    def from_merged(cls, merged: pd.DataFrame) -> _Alignment:
        n = len(merged)
        fA = merged["eaf.exposure"].to_numpy(dtype=float).copy()
        fB = merged["eaf.outcome"].to_numpy(dtype=float).copy()
        return cls(
            A1=np.array(merged["effect_allele.exposure"], dtype=object),
            A2=np.array(merged["other_allele.exposure"], dtype=object),
            B1=np.array(merged["effect_allele.outcome"], dtype=object),
            B2=np.array(merged["other_allele.outcome"], dtype=object),
            betaB=merged["beta.outcome"].to_numpy(dtype=float).copy(),
            fA=fA,
            fB=fB,
            tfA=np.where(np.isnan(fA), 0.5, fA),
            tfB=np.where(np.isnan(fB), 0.5, fB),
            remove=np.zeros(n, dtype=bool),
            palindromic=np.zeros(n, dtype=bool),
            ambiguous=np.zeros(n, dtype=bool),
            steps=[[] for _ in range(n)],
            reasons=[[] for _ in range(n)],
        )

    def swap_outcome(self, i: int) -> None:
        """The outcome's effect allele is the exposure's other allele: flip its beta and eaf."""
        self.betaB[i] = -self.betaB[i]
        self.fB[i] = 1 - self.fB[i]
        self.tfB[i] = 1 - self.tfB[i]


def _merge(ex: pd.DataFrame, out: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Stage 1: inner join on SNP (sorted), logging exposure variants absent from the outcome."""
    absent = [
        {
            "SNP": snp,
            "step": "absent from outcome",
            "kept": False,
            "reason": "the exposure variant is not in the outcome table (no proxy lookup offline)",
        }
        for snp in sorted(set(ex["SNP"]) - set(out["SNP"]))
    ]
    merged = out.merge(ex, on="SNP", suffixes=(".outcome", ".exposure"), how="inner")
    if merged.empty:
        raise DataStructureError(
            "harmonise: no variant is in both the exposure and the outcome table (matched on "
            "SNP). Check that both use rsids (or the same chr:pos:ref:alt ids)."
        )
    return merged.sort_values("SNP", kind="stable").reset_index(drop=True), absent


def _align_22(st: _Alignment, i: int, action: int, tolerance: float) -> None:
    """Stage 2a: both tables give two alleles (TwoSampleMR ``harmonise_22``)."""
    a1, a2, b1, b2 = st.A1[i], st.A2[i], st.B1[i], st.B2[i]
    if a1 == a2 or b1 == b2:
        st.remove[i] = True
        st.reasons[i].append("identical effect and other alleles")
        return
    if a1 == b2 and a2 == b1:
        b1, b2 = b2, b1
        st.swap_outcome(i)
        st.steps[i].append("swapped alleles")
    pal = _palindromic(np.array([a1]), np.array([a2]))[0]
    st.palindromic[i] = pal
    cannot = (
        f"alleles cannot be aligned (exposure {st.A1[i]}/{st.A2[i]}, outcome {st.B1[i]}/{st.B2[i]})"
    )
    if not pal and not (a1 == b1 and a2 == b2):
        b1, b2 = _flip(b1), _flip(b2)
        if a1 == b2 and a2 == b1:
            b1, b2 = b2, b1
            st.swap_outcome(i)
            st.steps[i].append("strand flipped and swapped")
        elif a1 == b1 and a2 == b2:
            st.steps[i].append("strand flipped")
        else:
            st.remove[i] = True
            st.reasons[i].append(cannot)
    elif pal and not (a1 == b1 and a2 == b2):
        st.remove[i] = True
        st.reasons[i].append(cannot)
    st.B1[i], st.B2[i] = b1, b2
    minf, maxf = 0.5 - tolerance, 0.5 + tolerance
    amb_a = minf < st.tfA[i] < maxf
    amb_b = minf < st.tfB[i] < maxf
    st.ambiguous[i] = (amb_a or amb_b) and pal
    if action == 2 and pal and not st.remove[i]:
        if (st.tfA[i] < 0.5 < st.tfB[i]) or (st.tfA[i] > 0.5 > st.tfB[i]):
            st.betaB[i] = -st.betaB[i]
            st.fB[i] = 1 - st.fB[i]
            st.steps[i].append("palindromic, flipped by allele frequency")


def _align_21(st: _Alignment, i: int, tolerance: float) -> None:
    """Stage 2b: the outcome gives only its effect allele (TwoSampleMR ``harmonise_21``)."""
    a1, a2, b1 = st.A1[i], st.A2[i], st.B1[i]
    pal = _palindromic(np.array([a1]), np.array([a2]))[0]
    st.palindromic[i] = pal
    if pal:
        st.remove[i] = True
        st.reasons[i].append("palindromic and the outcome gives only one allele")
    minf, maxf = 0.5 - tolerance, 0.5 + tolerance
    fa, fb = st.tfA[i], st.tfB[i]
    similar1 = (fa < minf and fb < minf) or (fa > maxf and fb > maxf)
    similar2 = (fa < minf and fb > maxf) or (fa > maxf and fb < minf)
    amb = False
    if b1 not in (a1, a2):
        amb = True
        b1 = _flip(b1)
        st.steps[i].append("strand flipped (one outcome allele)")
    if b1 == a1:
        amb = amb or not similar1
        st.B2[i] = a2
    elif b1 == a2:
        amb = amb or not similar2
        st.B2[i], b1 = b1, a1
        st.betaB[i] = -st.betaB[i]
        st.fB[i] = 1 - st.fB[i]
        st.steps[i].append("swapped alleles")
    else:
        st.remove[i] = True
        st.reasons[i].append("the outcome allele matches neither exposure allele")
    st.B1[i] = b1
    st.ambiguous[i] = amb or pal


def _align(st: _Alignment, action: int, tolerance: float) -> None:
    """Stage 2: align every variant by the rule its alleles allow."""
    has = [np.array([a is not None for a in arr]) for arr in (st.A1, st.A2, st.B1, st.B2)]
    i22 = has[0] & has[1] & has[2] & has[3]
    i21 = has[0] & has[1] & has[2] & ~has[3]
    for i in np.nonzero(i22)[0]:
        _align_22(st, i, action, tolerance)
    for i in np.nonzero(i21)[0]:
        _align_21(st, i, tolerance)
    for i in np.nonzero(~(i22 | i21))[0]:
        st.remove[i] = True
        st.reasons[i].append("an allele is missing from the exposure table; cannot align")


def _keep_by_action(st: _Alignment, action: int, tolerance: float) -> np.ndarray:
    """Stage 3: ``mr_keep`` from TwoSampleMR's action (1 trusts strands, 3 drops palindromes)."""
    if action == 3:
        for i in np.nonzero(st.palindromic)[0]:
            st.reasons[i].append("palindromic (action = 3 drops all palindromic variants)")
        return ~(st.palindromic | st.remove | st.ambiguous)
    if action == 2:
        for i in np.nonzero(st.ambiguous & ~st.remove)[0]:
            st.reasons[i].append(
                "palindromic with an allele frequency within 0.5 +/- "
                f"{tolerance} (strand cannot be inferred)"
                if st.palindromic[i]
                else "allele frequencies incompatible with the one-allele alignment"
            )
        return ~(st.remove | st.ambiguous)
    return ~st.remove


def _keep_usable(merged: pd.DataFrame, reasons: list[list[str]]) -> np.ndarray:
    """Stage 4: drop missing betas/SEs, non-positive SEs and a zero exposure beta."""
    keep = np.ones(len(merged), dtype=bool)
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
    return keep & ~zero


_FRONT = (
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
)


def _assemble(
    merged: pd.DataFrame,
    st: _Alignment,
    keep: np.ndarray,
    action: int,
    names: tuple[str | None, str | None],
    log_rows: list[dict[str, Any]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage 5: write the aligned columns back, order them, and finish the log."""
    merged["effect_allele.exposure"] = st.A1
    merged["other_allele.exposure"] = st.A2
    merged["effect_allele.outcome"] = st.B1
    merged["other_allele.outcome"] = st.B2
    merged["beta.outcome"] = st.betaB
    merged["eaf.outcome"] = st.fB
    merged["remove"] = st.remove
    merged["palindromic"] = st.palindromic
    merged["ambiguous"] = st.ambiguous
    merged["action"] = action
    merged["mr_keep"] = keep
    for col, name in zip(("exposure", "outcome"), names, strict=True):
        if col not in merged.columns:
            merged[col] = name or col
    snps = merged["SNP"].to_numpy()
    for i in range(len(merged)):
        for step in st.steps[i]:
            log_rows.append({"SNP": snps[i], "step": step, "kept": bool(keep[i]), "reason": ""})
        if not keep[i]:
            log_rows.append(
                {
                    "SNP": snps[i],
                    "step": "excluded",
                    "kept": False,
                    "reason": "; ".join(st.reasons[i]),
                }
            )
    rest = [c for c in merged.columns if c not in _FRONT and c not in ("action", "mr_keep")]
    table = merged[[*_FRONT, *rest, "action", "mr_keep"]]
    return table, pd.DataFrame(log_rows, columns=["SNP", "step", "kept", "reason"])


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

    The work happens in named stages: standardise each table, merge, align alleles
    (``harmonise_22`` / ``harmonise_21``), keep by ``action``, drop unusable values, assemble.

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
        Missing columns, duplicated variants, allele frequencies outside [0, 1], or no
        variant in common.

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
    if not 0 <= tolerance < 0.5:
        raise SpecificationError(
            f"harmonise: tolerance={tolerance!r} must lie in [0, 0.5) (TwoSampleMR uses 0.08)."
        )
    ex = _standardise(exposure, "exposure")
    out = _standardise(outcome, "outcome")
    merged, log_rows = _merge(ex, out)
    st = _Alignment.from_merged(merged)
    _align(st, action, tolerance)
    keep = _keep_by_action(st, action, tolerance) & _keep_usable(merged, st.reasons)
    table, log = _assemble(merged, st, keep, action, (exposure_name, outcome_name), log_rows)
    return HarmonisedData(_table=table, _log=log, action=action, tolerance=tolerance)


def as_table(harmonised: HarmonisedData | pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    """The harmonised DataFrame from a :class:`HarmonisedData` or a DataFrame."""
    if isinstance(harmonised, HarmonisedData):
        return harmonised._table
    if isinstance(harmonised, pd.DataFrame):
        return harmonised
    raise SpecificationError(
        "expected the output of sp.mr.harmonise (HarmonisedData) or a harmonised DataFrame with "
        f"TwoSampleMR's columns, not {type(harmonised).__name__}."
    )
