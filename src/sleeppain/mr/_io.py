"""Read GWAS summary statistics into one standard table (offline; gzip supported)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import DataStructureError, SpecificationError

__all__ = ["STANDARD_COLUMNS", "read_sumstats"]

#: The columns every reader returns (missing ones are filled with NaN).
STANDARD_COLUMNS = (
    "SNP",
    "chr",
    "pos",
    "effect_allele",
    "other_allele",
    "eaf",
    "beta",
    "se",
    "pval",
    "samplesize",
    "ncase",
    "ncontrol",
)

_FORMATS: dict[str, dict[str, str]] = {
    # TwoSampleMR read_exposure_data / extract_outcome_data tables (suffix stripped first)
    "twosamplemr": {
        "SNP": "SNP",
        "chr": "chr",
        "pos": "pos",
        "effect_allele": "effect_allele",
        "other_allele": "other_allele",
        "eaf": "eaf",
        "beta": "beta",
        "se": "se",
        "pval": "pval",
        "samplesize": "samplesize",
        "ncase": "ncase",
        "ncontrol": "ncontrol",
    },
    # GWAS Catalog harmonised files (hm_* columns, *.h.tsv.gz)
    "gwas_catalog": {
        "SNP": "hm_rsid",
        "chr": "hm_chrom",
        "pos": "hm_pos",
        "effect_allele": "hm_effect_allele",
        "other_allele": "hm_other_allele",
        "eaf": "hm_effect_allele_frequency",
        "beta": "hm_beta",
        "se": "standard_error",
        "pval": "p_value",
        "samplesize": "n",
    },
    # GWAS Catalog GWAS-SSF (2022 standard)
    "gwas_ssf": {
        "SNP": "rsid",
        "chr": "chromosome",
        "pos": "base_pair_location",
        "effect_allele": "effect_allele",
        "other_allele": "other_allele",
        "eaf": "effect_allele_frequency",
        "beta": "beta",
        "se": "standard_error",
        "pval": "p_value",
        "samplesize": "n",
    },
    # FinnGen release summary statistics (finngen_R*_<endpoint>.gz)
    "finngen": {
        "SNP": "rsids",
        "chr": "#chrom",
        "pos": "pos",
        "effect_allele": "alt",
        "other_allele": "ref",
        "eaf": "af_alt",
        "beta": "beta",
        "se": "sebeta",
        "pval": "pval",
    },
}


def _open_text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" or path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as fh:  # type: ignore[operator]
        return fh.readline()


def _detect(columns: list[str]) -> str:
    cols = set(columns)
    if {"hm_rsid", "hm_beta"} & cols or {"hm_effect_allele", "hm_pos"} <= cols:
        return "gwas_catalog"
    if {"#chrom", "sebeta"} <= cols or {"ref", "alt", "sebeta"} <= cols:
        return "finngen"
    if {"base_pair_location", "standard_error"} <= cols:
        return "gwas_ssf"
    stripped = {c.split(".")[0] for c in cols}
    if {"SNP", "beta", "se", "effect_allele"} <= stripped:
        return "twosamplemr"
    raise SpecificationError(
        f"read_sumstats: cannot recognise the format from the header {sorted(cols)[:12]}. "
        "Pass format='twosamplemr', 'gwas_catalog', 'gwas_ssf' or 'finngen', or "
        "columns={'SNP': ..., 'beta': ..., 'se': ..., 'effect_allele': ..., ...}."
    )


def read_sumstats(
    path: str | os.PathLike[str] | pd.DataFrame,
    format: str = "auto",
    *,
    columns: Mapping[str, str] | None = None,
    samplesize: float | None = None,
    ncase: float | None = None,
    ncontrol: float | None = None,
    trait: str | None = None,
) -> pd.DataFrame:
    """Read GWAS summary statistics into sleeppain's standard columns.

    Parameters
    ----------
    path : path or DataFrame
        A delimited text file (tab, comma or whitespace; ``.gz`` read transparently) or an
        already loaded DataFrame.
    format : {"auto", "twosamplemr", "gwas_catalog", "gwas_ssf", "finngen", "columns"}
        ``"twosamplemr"``: TwoSampleMR tables (``beta.exposure`` or ``beta.outcome`` names, or
        unsuffixed). ``"gwas_catalog"``: GWAS Catalog harmonised ``hm_*`` files.
        ``"gwas_ssf"``: the GWAS-SSF standard. ``"finngen"``: FinnGen releases (effect allele =
        ``alt``, frequency ``af_alt``, SNP = first of ``rsids``, else ``chr:pos:ref:alt``).
        ``"columns"`` (implied by ``columns=``): your own mapping.
    columns : mapping, optional
        Standard name -> column in the file, e.g. ``{"SNP": "rsid", "beta": "b", ...}``;
        overrides the format's mapping for the names given. ``"odds_ratio"`` may be mapped
        instead of ``"beta"`` (beta = log OR).
    samplesize, ncase, ncontrol : float, optional
        Constants for files that do not carry them (FinnGen files give no N; use the release's
        case and control counts).
    trait : str, optional
        Stored in a ``trait`` column.

    Returns
    -------
    DataFrame
        Columns :data:`STANDARD_COLUMNS` (+ ``trait``), one row per variant as in the file.
        Alleles are upper-case; a missing p-value is computed from ``beta/se`` (normal).
        Nothing is dropped here: rows with missing values are excluded, and logged, later.

    Raises
    ------
    DataStructureError
        When the file lacks SNP, beta (or odds_ratio), se or effect_allele.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> raw = pd.DataFrame({"rsid": ["rs1"], "b": [0.1], "s": [0.02], "a1": ["a"], "a2": ["g"]})
    >>> sp.mr.read_sumstats(raw, columns={"SNP": "rsid", "beta": "b", "se": "s",
    ...     "effect_allele": "a1", "other_allele": "a2"})[["SNP", "beta", "effect_allele"]]
       SNP  beta effect_allele
    0  rs1   0.1             A
    """
    if isinstance(path, pd.DataFrame):
        raw = path.copy()
        where = "the DataFrame"
    else:
        p = Path(path)
        if not p.exists():
            raise DataStructureError(f"read_sumstats: no file at {p}. Check the path.")
        header = _open_text(p)
        sep = "\t" if "\t" in header else ("," if "," in header else r"\s+")
        raw = pd.read_csv(p, sep=sep, compression="infer", low_memory=False)
        where = str(p.name)
    raw.columns = [str(c) for c in raw.columns]
    if columns is not None:
        fmt = "columns" if format == "auto" else format
    else:
        fmt = _detect(list(raw.columns)) if format == "auto" else format
    if fmt not in (*_FORMATS, "columns"):
        raise SpecificationError(
            f"read_sumstats: unknown format {format!r}; choose one of "
            f"{', '.join(['auto', *_FORMATS, 'columns'])}."
        )
    if fmt == "twosamplemr":
        ren = {}
        for c in raw.columns:
            for suf in (".exposure", ".outcome"):
                if c.endswith(suf):
                    ren[c] = c[: -len(suf)]
        raw = raw.rename(columns=ren)
    mapping: dict[str, str] = dict(_FORMATS.get(fmt, {}))
    if columns:
        mapping.update(columns)
    if fmt == "gwas_catalog" and "hm_beta" not in raw.columns and "beta" in raw.columns:
        mapping["beta"] = "beta"
    out = pd.DataFrame(index=raw.index)
    for std in STANDARD_COLUMNS:
        src = mapping.get(std)
        out[std] = raw[src] if src is not None and src in raw.columns else np.nan
    if out["beta"].isna().all():
        or_col = mapping.get("odds_ratio") or next(
            (c for c in ("hm_odds_ratio", "odds_ratio", "OR") if c in raw.columns), None
        )
        if or_col is not None and or_col in raw.columns:
            out["beta"] = np.log(pd.to_numeric(raw[or_col], errors="coerce"))
    missing = [c for c in ("SNP", "beta", "se", "effect_allele") if out[c].isna().all()]
    if (
        fmt == "finngen"
        and "SNP" in missing
        and {"#chrom", "pos", "ref", "alt"} <= set(raw.columns)
    ):
        missing.remove("SNP")
    if missing:
        raise DataStructureError(
            f"read_sumstats: {where} (format {fmt!r}) has no usable column for {missing}. "
            f"Its columns are {list(raw.columns)[:15]}; map them with columns={{...}}."
        )
    if fmt == "finngen":
        ids = (
            raw["#chrom"].astype(str)
            + ":"
            + raw["pos"].astype(str)
            + ":"
            + raw["ref"].astype(str)
            + ":"
            + raw["alt"].astype(str)
        )
        rs = (
            raw["rsids"].astype(object)
            if "rsids" in raw.columns
            else pd.Series(np.nan, index=raw.index, dtype=object)
        )
        first = rs.where(rs.notna(), None).map(
            lambda v: None if v is None else str(v).split(",")[0].strip()
        )
        out["SNP"] = first.where(first.notna() & (first != ""), ids)
        if "nearest_genes" in raw.columns:
            out["nearest_genes"] = raw["nearest_genes"]
    for c in ("beta", "se", "eaf", "pval", "samplesize", "ncase", "ncontrol", "pos"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    for c in ("effect_allele", "other_allele"):
        col = out[c].astype(object)
        out[c] = col.where(col.isna(), col.astype(str).str.strip().str.upper())
    out["SNP"] = out["SNP"].astype(object).where(out["SNP"].isna(), out["SNP"].astype(str))
    out["chr"] = out["chr"].astype(object).where(out["chr"].isna(), out["chr"].astype(str))
    if samplesize is not None:
        out["samplesize"] = float(samplesize)
    if ncase is not None:
        out["ncase"] = float(ncase)
    if ncontrol is not None:
        out["ncontrol"] = float(ncontrol)
    if ncase is not None and ncontrol is not None and samplesize is None:
        out["samplesize"] = float(ncase) + float(ncontrol)
    need_p = out["pval"].isna() & out["beta"].notna() & (out["se"] > 0)
    if need_p.any():
        z = (out.loc[need_p, "beta"] / out.loc[need_p, "se"]).abs().to_numpy(dtype=float)
        out.loc[need_p, "pval"] = 2.0 * stats.norm.sf(z)
    if trait is not None:
        out["trait"] = trait
    return out.reset_index(drop=True)
