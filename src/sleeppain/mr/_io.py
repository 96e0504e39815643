"""Read GWAS summary statistics into one standard table (offline; gzip supported).

Bad files give typed errors that name the file: a directory, an empty file, a file named
``.gz`` that is not gzip-compressed (or is truncated), text that is not UTF-8. Decimal commas
(``0,05``) are detected (pass ``decimal=","`` to read them), allele frequencies outside
[0, 1] are refused with their rows named, and chromosome labels are normalised (``chr1``,
``CHR1`` and ``1`` are one chromosome; ``chrX`` is ``X``).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import DataStructureError, SpecificationError

__all__ = ["STANDARD_COLUMNS", "normalise_chromosome", "read_sumstats"]

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


_GZIP_MAGIC = b"\x1f\x8b"
_NUMERIC = ("beta", "se", "eaf", "pval", "samplesize", "ncase", "ncontrol", "pos")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+(?:[eE][-+]?\d+)?\s*$")


def _check_file(p: Path) -> bool:
    """Refuse what cannot be a summary-statistics file; return True when it is gzip data."""
    if not p.exists():
        raise DataStructureError(f"read_sumstats: no file at {p}. Check the path.")
    if p.is_dir():
        raise DataStructureError(
            f"read_sumstats: {p} is a directory, not a file. Pass the summary-statistics file "
            "inside it (e.g. a .tsv or .tsv.gz)."
        )
    with open(p, "rb") as fh:
        head = fh.read(2)
    if not head:
        raise DataStructureError(
            f"read_sumstats: {p} is empty (0 bytes). The download or copy may have failed."
        )
    is_gz = head == _GZIP_MAGIC
    if p.suffix == ".gz" and not is_gz:
        raise DataStructureError(
            f"read_sumstats: {p} is named .gz but is not gzip-compressed (plain text?). "
            "Rename it without .gz, or compress it with gzip."
        )
    return is_gz


def _read_file(p: Path) -> pd.DataFrame:
    """Read a delimited file (tab, semicolon, comma or whitespace), gzip or plain."""
    is_gz = _check_file(p)
    try:
        opener: Any = gzip.open if is_gz else open
        with opener(p, "rt", encoding="utf-8") as fh:
            header = fh.readline()
        if not header.strip():
            raise DataStructureError(
                f"read_sumstats: {p} has no header line (the first line is blank)."
            )
        sep = next((c for c in ("\t", ";", ",") if c in header), r"\s+")
        return pd.read_csv(p, sep=sep, compression="gzip" if is_gz else None, low_memory=False)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataStructureError(
            f"read_sumstats: {p} is a damaged or truncated gzip file ({err}). Download it again."
        ) from None
    except UnicodeDecodeError as err:
        raise DataStructureError(
            f"read_sumstats: {p} is not UTF-8 text (byte {err.start}: {err.reason}). Convert "
            "it (iconv -f latin1 -t utf-8), or read it with pandas and pass the DataFrame."
        ) from None
    except pd.errors.EmptyDataError:
        raise DataStructureError(f"read_sumstats: {p} has no columns to read.") from None
    except pd.errors.ParserError as err:
        raise DataStructureError(
            f"read_sumstats: {p} could not be parsed as a delimited table ({err})."
        ) from None


def normalise_chromosome(values: pd.Series) -> pd.Series:
    """One label per chromosome: ``chr1``/``CHR1``/``1``/``1.0`` -> ``"1"``, ``chrx`` -> ``"X"``.

    Missing values stay missing; ``M`` and ``chrM`` become ``"MT"``.

    Examples
    --------
    >>> normalise_chromosome(pd.Series(["chr1", "1", 1.0, "CHRx", "chrM", None])).tolist()
    ['1', '1', '1', 'X', 'MT', None]
    """

    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, float | np.floating) and float(v).is_integer():
            v = int(v)
        text = str(v).strip()
        if text.lower().startswith("chr"):
            text = text[3:]
        if re.fullmatch(r"\d+\.0+", text):
            text = text.split(".")[0]
        text = text.upper()
        text = text.lstrip("0") or "0" if text.isdigit() else text
        return "MT" if text == "M" else text

    values = values.astype(object)
    uniques = pd.unique(values[values.notna()])
    labels = {u: one(u) for u in uniques}  # a handful of chromosomes, millions of rows
    return pd.Series(
        [labels.get(v) if v is not None and v == v else None for v in values],
        index=values.index,
        dtype=object,
    )


def _to_numeric(out: pd.DataFrame, where: str, decimal: str) -> None:
    """Numeric columns as floats; decimal commas are read with ``decimal=","``, else refused."""
    for c in _NUMERIC:
        col = out[c]
        if not pd.api.types.is_numeric_dtype(col):
            text = col.astype(object).where(col.notna(), None).astype("str")
            text = text.where(col.notna(), None)
            if decimal == ",":
                text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            else:
                commas = text.dropna().str.match(_DECIMAL_COMMA)
                if commas.any():
                    rows = commas[commas].index[:3]
                    ex = ", ".join(f"row {i + 1}: {text[i]!r}" for i in rows)
                    raise DataStructureError(
                        f"read_sumstats: column {c!r} of {where} has {int(commas.sum())} "
                        f"value(s) with a decimal comma ({ex}). Pass decimal=',' to read them."
                    )
            col = text
        out[c] = pd.to_numeric(col, errors="coerce")


def _check_frequencies(out: pd.DataFrame, where: str) -> None:
    f = out["eaf"].to_numpy(dtype=float)
    bad = np.isfinite(f) & ((f < 0) | (f > 1))
    if bad.any():
        idx = np.nonzero(bad)[0]
        ex = ", ".join(f"row {i + 1} ({out['SNP'].iloc[i]}: {f[i]:g})" for i in idx[:3])
        raise DataStructureError(
            f"read_sumstats: {idx.size} allele frequenc{'y' if idx.size == 1 else 'ies'} in "
            f"{where} lie outside [0, 1] ({ex}). The column mapped to eaf may hold "
            "percentages or counts; fix it or map another column with columns={'eaf': ...}."
        )


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
    decimal: str = ".",
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
    decimal : {".", ","}
        Decimal mark of the numbers. With the default, values such as ``0,05`` are refused
        (they would otherwise be read as missing); ``decimal=","`` reads them (``.`` is then a
        thousands separator).

    Returns
    -------
    DataFrame
        Columns :data:`STANDARD_COLUMNS` (+ ``trait``), one row per variant as in the file.
        Alleles are upper-case; chromosomes are normalised (``chr1`` -> ``1``); a missing
        p-value is computed from ``beta/se`` (normal). Nothing is dropped here: rows with
        missing values are excluded, and logged, later.

    Raises
    ------
    DataStructureError
        When the file lacks SNP, beta (or odds_ratio), se or effect_allele; when the path is a
        directory, an empty file, a damaged gzip file, or not UTF-8; for decimal commas
        without ``decimal=","``; for allele frequencies outside [0, 1].

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> raw = pd.DataFrame({"rsid": ["rs1"], "b": [0.1], "s": [0.02], "a1": ["a"], "a2": ["g"]})
    >>> sp.mr.read_sumstats(raw, columns={"SNP": "rsid", "beta": "b", "se": "s",
    ...     "effect_allele": "a1", "other_allele": "a2"})[["SNP", "beta", "effect_allele"]]
       SNP  beta effect_allele
    0  rs1   0.1             A
    """
    if decimal not in (".", ","):
        raise SpecificationError(f"read_sumstats: decimal={decimal!r}; use '.' or ','.")
    raw, where = _load(path)
    fmt = _resolve_format(raw, format, columns)
    out = _map_columns(raw, fmt, columns, where, decimal)
    _clean(out, where, decimal)
    _fill(out, samplesize=samplesize, ncase=ncase, ncontrol=ncontrol)
    if trait is not None:
        out["trait"] = trait
    return out.reset_index(drop=True)


def _load(path: str | os.PathLike[str] | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Stage 1: the raw table (a copy of a DataFrame, or read from the file) and its name."""
    if isinstance(path, pd.DataFrame):
        raw, where = path.copy(), "the DataFrame"
    else:
        p = Path(path)
        raw, where = _read_file(p), str(p)
    raw.columns = [str(c) for c in raw.columns]
    return raw, where


def _resolve_format(raw: pd.DataFrame, format: str, columns: Mapping[str, str] | None) -> str:
    """Stage 2: the layout, given or recognised from the header."""
    if columns is not None:
        fmt = "columns" if format == "auto" else format
    else:
        fmt = _detect(list(raw.columns)) if format == "auto" else format
    if fmt not in (*_FORMATS, "columns"):
        raise SpecificationError(
            f"read_sumstats: unknown format {format!r}; choose one of "
            f"{', '.join(['auto', *_FORMATS, 'columns'])}."
        )
    return fmt


def _map_columns(
    raw: pd.DataFrame,
    fmt: str,
    columns: Mapping[str, str] | None,
    where: str,
    decimal: str,
) -> pd.DataFrame:
    """Stage 3: the standard columns from the layout's names (beta from an odds ratio)."""
    if fmt == "twosamplemr":
        ren = {
            c: c[: -len(suf)]
            for c in raw.columns
            for suf in (".exposure", ".outcome")
            if c.endswith(suf)
        }
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
            ratio = pd.DataFrame({c: raw[or_col] if c == "beta" else np.nan for c in _NUMERIC})
            _to_numeric(ratio, where, decimal)
            with np.errstate(divide="ignore", invalid="ignore"):
                out["beta"] = np.log(ratio["beta"].where(ratio["beta"] > 0))
    finngen_ids = fmt == "finngen" and {"#chrom", "pos", "ref", "alt"} <= set(raw.columns)
    missing = [c for c in ("SNP", "beta", "se", "effect_allele") if out[c].isna().all()]
    if finngen_ids and "SNP" in missing:
        missing.remove("SNP")
    if missing:
        raise DataStructureError(
            f"read_sumstats: {where} (format {fmt!r}) has no usable column for {missing}. "
            f"Its columns are {list(raw.columns)[:15]}; map them with columns={{...}}."
        )
    if finngen_ids:
        out["SNP"] = _finngen_ids(raw)
    if fmt == "finngen":
        if "nearest_genes" in raw.columns:
            out["nearest_genes"] = raw["nearest_genes"]
    return out


def _finngen_ids(raw: pd.DataFrame) -> pd.Series:
    """FinnGen variant ids: the first of ``rsids``, else ``chr:pos:ref:alt``."""
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
    return first.where(first.notna() & (first != ""), ids)


def _clean(out: pd.DataFrame, where: str, decimal: str) -> None:
    """Stage 4: numbers, upper-case alleles, text ids, one label per chromosome, checks."""
    _to_numeric(out, where, decimal)
    for c in ("effect_allele", "other_allele"):
        col = out[c].astype(object)
        out[c] = col.where(col.isna(), col.astype(str).str.strip().str.upper())
    out["SNP"] = out["SNP"].astype(object).where(out["SNP"].isna(), out["SNP"].astype(str))
    out["chr"] = normalise_chromosome(out["chr"])
    _check_frequencies(out, where)


def _fill(
    out: pd.DataFrame,
    *,
    samplesize: float | None,
    ncase: float | None,
    ncontrol: float | None,
) -> None:
    """Stage 5: constant sample sizes, and p-values from beta/se where the file has none."""
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
