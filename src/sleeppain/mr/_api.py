"""Orchestration: column handling, ``estimate``, the full ``analyze`` report, ``bidirectional``.

Vocabulary (as everywhere in sleeppain): ``n_boot``, ``conf_level`` and a keyword-only
``seed`` validated by :func:`sleeppain.results.check_seed`. ``analyze`` is the verb's one
spelling (the CLI's); ``analyse`` is an alias.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import ConvergenceWarning, DataStructureError, SpecificationError
from sleeppain.mr._estimators import METHODS, MREstimate, run_method
from sleeppain.mr._harmonise import HarmonisedData, as_table, harmonise
from sleeppain.mr._instruments import rsq_from_bsen, rsq_from_lor, select_instruments
from sleeppain.mr._results import BidirectionalMRResult, MRResult, check_schema, estimates_frame
from sleeppain.mr._sensitivity import (
    SteigerResult,
    check_n_dist,
    heterogeneity,
    leave_one_out,
    mr_presso,
    single_snp,
    steiger,
)
from sleeppain.results import check_conf_level, check_n_boot, check_seed, seed_sequence

__all__ = ["DEFAULT_METHODS", "analyse", "analyze", "bidirectional", "estimate"]

#: TwoSampleMR's default method list (``mr()``): IVW, MR-Egger, weighted median, simple and
#: weighted mode; a single variant gets the Wald ratio.
DEFAULT_METHODS = ("ivw", "egger", "weighted_median", "simple_mode", "weighted_mode")


def _arrays(
    table: pd.DataFrame,
    exposure_beta: str,
    exposure_se: str,
    outcome_beta: str,
    outcome_se: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    missing = [
        c for c in (exposure_beta, exposure_se, outcome_beta, outcome_se) if c not in table.columns
    ]
    if missing:
        raise DataStructureError(
            f"the harmonised table has no column(s) {missing}. Pass exposure_beta=, exposure_se=, "
            "outcome_beta=, outcome_se= to name yours, or harmonise with sp.mr.harmonise first."
        )
    t = table
    if "mr_keep" in t.columns:
        keep = t["mr_keep"].astype(bool).to_numpy()
        t = t.loc[keep]
    vals = [
        pd.to_numeric(t[c], errors="coerce").to_numpy(dtype=float)
        for c in (exposure_beta, outcome_beta, exposure_se, outcome_se)
    ]
    bad = ~np.all(np.isfinite(np.vstack(vals)), axis=0)
    if bad.any():
        ex = (
            t["SNP"].iloc[np.nonzero(bad)[0][:3]].tolist()
            if "SNP" in t.columns
            else list(np.nonzero(bad)[0][:3])
        )
        raise DataStructureError(
            f"{int(bad.sum())} variant(s) kept for MR have a missing beta or SE (e.g. {ex}). "
            "Harmonise with sp.mr.harmonise (which sets mr_keep=False and logs them) or drop them."
        )
    nonpos = (vals[3] <= 0) | (vals[2] < 0)
    if nonpos.any():
        ex = t["SNP"].iloc[np.nonzero(nonpos)[0][:3]].tolist() if "SNP" in t.columns else []
        raise DataStructureError(
            f"{int(nonpos.sum())} variant(s) kept for MR have a non-positive standard error "
            f"(e.g. {ex}). Fix the input or set mr_keep=False for them."
        )
    if "SNP" in t.columns:
        dup = t["SNP"][t["SNP"].duplicated(keep=False)]
        if len(dup):
            raise DataStructureError(
                f"{dup.nunique()} variant(s) appear more than once among those kept for MR "
                f"(e.g. {sorted(set(map(str, dup)))[:3]}). Keep one row per variant."
            )
    return vals[0], vals[1], vals[2], vals[3], t


def _resolve_methods(methods: str | Sequence[str] | None, k: int) -> list[str]:
    if methods is None or methods == "default":
        if k == 1:
            return ["wald_ratio"]
        # as TwoSampleMR's mr(): methods that need more variants than there are are left out
        return [m for m in DEFAULT_METHODS if METHODS[m].k_min <= k]
    if methods == "all":
        return ["wald_ratio"] if k == 1 else [m for m in METHODS if m != "wald_ratio"]
    if isinstance(methods, str):
        methods = [methods]
    out = list(methods)
    for m in out:
        if m not in METHODS:
            raise SpecificationError(
                f"unknown MR method {m!r}. Choose from: {', '.join(METHODS)} (or 'default', 'all')."
            )
        need = METHODS[m].k_min
        if k < need:
            raise SpecificationError(
                f"method {m!r} needs at least {need} variant(s) but only {k} are kept for MR. "
                "Drop the method, or use more instruments (a laxer p_threshold)."
            )
        if m == "wald_ratio" and k != 1:
            raise SpecificationError(
                f"method 'wald_ratio' uses a single variant but {k} are kept; use 'ivw' (or "
                "sp.mr.single_snp(dat) for the per-variant ratios)."
            )
    return out


def _estimates(
    bx: np.ndarray,
    by: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    methods: list[str],
    seed: int | np.random.SeedSequence | None,
    n_boot: int,
    conf_level: float,
    options: Mapping[str, Mapping[str, Any]] | None,
) -> list[MREstimate]:
    children = root_seed(seed).spawn(len(methods))
    alpha = 1.0 - conf_level
    res = []
    for m, child in zip(methods, children, strict=True):
        r = run_method(
            m,
            bx,
            by,
            sx,
            sy,
            seed=np.random.default_rng(child),
            nboot=n_boot,
            alpha=alpha,
            options=(options or {}).get(m),
        )
        if r.extra.get("optimizer_fail", 0.0):
            warnings.warn(
                f"max_likelihood: R's Nelder-Mead stopped before converging (as "
                "MendelianRandomization's mr_maxlik would); the exact optimum is "
                f"{r.extra['b_optimum']:.6g}. Use options={{'max_likelihood': {{'optimizer': 'exact'}}}}.",
                ConvergenceWarning,
                stacklevel=4,
            )
        res.append(r)
    return res


def root_seed(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    """The root ``SeedSequence`` of a run (the library's policy: :func:`seed_sequence`)."""
    return seed_sequence(seed)


def estimate(
    harmonised: HarmonisedData | pd.DataFrame,
    methods: str | Sequence[str] | None = None,
    *,
    seed: int | np.random.SeedSequence | None = None,
    n_boot: int = 1000,
    conf_level: float = 0.95,
    schema: str = "mr",
    exposure_beta: str = "beta.exposure",
    exposure_se: str = "se.exposure",
    outcome_beta: str = "beta.outcome",
    outcome_se: str = "se.outcome",
    odds_ratios: bool = False,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    correlation: pd.DataFrame | np.ndarray | None = None,
) -> pd.DataFrame:
    """Causal estimates by several MR methods, as a tidy table.

    Parameters
    ----------
    harmonised : HarmonisedData or DataFrame
        Output of :func:`harmonise`, or any table with the four columns named below; rows with
        ``mr_keep`` False are left out.
    methods : str or list of str, optional
        Any of ``wald_ratio, ivw, ivw_fixed, egger, weighted_median, simple_median,
        weighted_mode, simple_mode, max_likelihood, penalised_ivw, robust_ivw``; ``"default"``
        (TwoSampleMR's: ivw, egger, weighted_median, simple_mode, weighted_mode, keeping only
        those the number of variants allows; Wald ratio for one variant) or ``"all"``. Methods
        named explicitly must be computable: asking for one that needs more variants raises.
    seed : int, SeedSequence or None, keyword-only
        Seeds the bootstrap methods (medians, modes) through ``np.random.default_rng``; each
        method gets an independent child stream, so adding a method does not change another's
        SE. Validated by :func:`sleeppain.results.check_seed`. The entropy used is stored in
        the returned frame's ``attrs["seed_entropy"]`` (repeat a ``seed=None`` run with it).
    n_boot : int
        Bootstrap replicates (TwoSampleMR's default 1000; at least 2).
    conf_level : float
        Coverage of the normal intervals (0.95).
    schema : {"mr", "house"}
        ``"mr"`` (default, as TwoSampleMR's ``mr()``): ``method, nsnp, b, se, pval, conf_low,
        conf_high``; ``"house"``: sleeppain's ``term, estimate, std_error, statistic, df,
        p_value, conf_low, conf_high, method, nsnp``.
    exposure_beta, exposure_se, outcome_beta, outcome_se : str
        Column names (TwoSampleMR's by default).
    odds_ratios : bool
        Add ``or, or_conf_low, or_conf_high`` (for a log-odds outcome).
    options : mapping, optional
        Per-method keyword arguments, e.g. ``{"weighted_median": {"second_order": False}}``
        (MendelianRandomization's first-order weights) or ``{"max_likelihood": {"optimizer":
        "exact"}}``.
    correlation : DataFrame or ndarray, optional
        LD (correlation) matrix of the variants for correlated instruments: a DataFrame with
        SNP ids as index and columns (reordered to the variants kept), or an array in their
        order. Supported by ``ivw``, ``ivw_fixed``, ``egger`` and ``max_likelihood``
        (MendelianRandomization's ``correl = TRUE`` versions); other methods raise.

    Returns
    -------
    DataFrame
        ``method, nsnp, b, se, pval, conf_low, conf_high`` (+ odds ratios), or the house
        schema.

    Raises
    ------
    SpecificationError
        Unknown method, a method that needs more variants than are kept, ``n_boot < 2``,
        an invalid ``seed`` or ``conf_level``.
    DataStructureError
        Missing columns, missing or non-positive SEs, duplicated variants.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> bx = np.array([0.10, 0.20, 0.15, 0.30])
    >>> h = pd.DataFrame({"SNP": list("abcd"), "beta.exposure": bx, "se.exposure": 0.01,
    ...                   "beta.outcome": 0.5 * bx + np.array([.001, -.002, .001, .0]), "se.outcome": 0.01})
    >>> sp.mr.estimate(h, methods=["ivw", "egger"])[["method", "nsnp"]]
      method  nsnp
    0    ivw     4
    1  egger     4
    """
    seed = check_seed(seed)
    n_boot = check_n_boot(n_boot)
    conf_level = check_conf_level(conf_level)
    check_schema(schema)
    table = as_table(harmonised)
    bx, by, sx, sy, kept = _arrays(table, exposure_beta, exposure_se, outcome_beta, outcome_se)
    if bx.size == 0:
        raise DataStructureError(
            "no variant is kept for MR (mr_keep is False for all). See the harmonisation log."
        )
    ms = _resolve_methods(methods, bx.size)
    if correlation is not None:
        rho = _align_correlation(correlation, kept)
        unsupported = [m for m in ms if m not in _CORRELATED]
        if unsupported:
            raise SpecificationError(
                f"method(s) {unsupported} assume independent variants; with correlation= use "
                f"{', '.join(_CORRELATED)}."
            )
        opts = {m: {**dict((options or {}).get(m, {})), "correlation": rho} for m in ms}
        options = opts
    root = root_seed(seed)
    est = _estimates(bx, by, sx, sy, ms, root, n_boot, conf_level, options)
    names = {}
    if schema == "house":
        names = {k: _trait_name(kept, k, None) for k in ("exposure", "outcome")}
    out = estimates_frame(est, schema=schema, odds_ratios=odds_ratios, **names)
    if isinstance(root.entropy, int):
        out.attrs["seed_entropy"] = int(root.entropy)  # repeats a seed=None run
    return out


def _trait_name(kept: pd.DataFrame, role: str, given: str | None) -> str:
    if given is not None:
        return str(given)
    if role in kept.columns and len(kept):
        return str(kept[role].iloc[0])
    return role


_CORRELATED = ("ivw", "ivw_fixed", "egger", "max_likelihood")


def _align_correlation(correlation: pd.DataFrame | np.ndarray, kept: pd.DataFrame) -> np.ndarray:
    if isinstance(correlation, pd.DataFrame):
        if "SNP" not in kept.columns:
            raise DataStructureError(
                "correlation given as a labelled DataFrame but the table has no SNP column."
            )
        ids = kept["SNP"].astype(str).tolist()
        idx = [str(i) for i in correlation.index]
        cols = [str(c) for c in correlation.columns]
        missing = sorted(set(ids) - set(idx) | set(ids) - set(cols))
        if missing:
            raise DataStructureError(
                f"the correlation matrix lacks {len(missing)} variant(s) used for MR (e.g. {missing[:3]})."
            )
        m = correlation.copy()
        m.index = idx
        m.columns = cols
        return m.loc[ids, ids].to_numpy(dtype=float)
    return np.asarray(correlation, dtype=float)


def _rsq_side(
    t: pd.DataFrame,
    side: str,
    binary: bool,
    prevalence: float | None,
) -> tuple[np.ndarray, float]:
    b = t[f"beta.{side}"].to_numpy(float)
    se = t[f"se.{side}"].to_numpy(float)
    if binary:
        need = [f"eaf.{side}", f"ncase.{side}", f"ncontrol.{side}"]
        miss = [c for c in need if c not in t.columns or t[c].isna().any()]
        if miss or prevalence is None:
            raise DataStructureError(
                f"steiger: the {side} is binary, which needs {need} for every variant and its "
                f"population prevalence (missing: {miss or 'prevalence'}). Pass "
                f"{side}_prevalence= and case/control counts to read_sumstats(ncase=, ncontrol=)."
            )
        r2 = rsq_from_lor(
            b,
            t[f"eaf.{side}"].to_numpy(float),
            t[f"ncase.{side}"].to_numpy(float),
            t[f"ncontrol.{side}"].to_numpy(float),
            prevalence,
        )
        n = float(
            np.mean(t[f"ncase.{side}"].to_numpy(float) + t[f"ncontrol.{side}"].to_numpy(float))
        )
        return r2, n
    col = f"samplesize.{side}"
    if col not in t.columns or t[col].isna().any():
        raise DataStructureError(
            f"steiger: {col} is needed for every variant to turn beta/se into R^2. Pass "
            "samplesize= to read_sumstats."
        )
    n_arr = t[col].to_numpy(float)
    return rsq_from_bsen(b, se, n_arr), float(np.mean(n_arr))


def analyze(
    harmonised: HarmonisedData | pd.DataFrame,
    methods: str | Sequence[str] | None = None,
    *,
    seed: int | np.random.SeedSequence | None = None,
    n_boot: int = 1000,
    conf_level: float = 0.95,
    presso: bool = True,
    presso_n_dist: int = 1000,
    steiger_test: bool = True,
    exposure_binary: bool = False,
    outcome_binary: bool = False,
    exposure_prevalence: float | None = None,
    outcome_prevalence: float | None = None,
    exposure: str | None = None,
    outcome: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> MRResult:
    """Full two-sample MR report: estimates plus every sensitivity analysis, as one result.

    Runs :func:`estimate` and, with at least 3 variants, heterogeneity (Cochran's and Rucker's
    Q), the Egger intercept test, leave-one-out and single-variant estimates, MR-PRESSO (4+
    variants) and, when sample sizes are available, the Steiger directionality test.
    ``analyse`` is the same function.

    Parameters
    ----------
    harmonised : HarmonisedData or DataFrame
        Output of :func:`harmonise` (or a table with TwoSampleMR's columns).
    methods : str or list of str, optional
        As :func:`estimate`.
    seed : int, SeedSequence or None, keyword-only
        Root of every random stream (bootstrap, MR-PRESSO). With None, fresh entropy is drawn
        and recorded as ``result.seed_entropy``.
    n_boot, conf_level
        Bootstrap replicates and interval coverage (as :func:`estimate`).
    presso, presso_n_dist
        Run MR-PRESSO (4+ variants) with this many simulated data sets (>= 10).
    steiger_test, exposure_binary, outcome_binary, exposure_prevalence, outcome_prevalence
        The Steiger test and what it needs for binary traits (liability-scale R^2).
    exposure, outcome : str, optional
        Trait names (default: the table's ``exposure`` / ``outcome`` columns).
    options : mapping, optional
        Per-method options (as :func:`estimate`).

    Returns
    -------
    MRResult
        Frozen; ``tidy()``, ``glance()``, ``summary()``, ``plot()``, ``plot_scatter()``,
        ``plot_forest()``, ``plot_funnel()``, ``plot_leave_one_out()``.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.mr.simulate_sumstats(n_variants=30, seed=1)
    >>> h = sp.mr.harmonise(sim.exposure, sim.outcome)
    >>> res = sp.mr.analyze(h, seed=1, n_boot=100, presso_n_dist=100)
    >>> res.tidy()["method"].tolist()[:2]
    ['ivw', 'egger']
    """
    root = root_seed(seed)
    n_boot = check_n_boot(n_boot)
    conf_level = check_conf_level(conf_level)
    if presso:
        presso_n_dist = check_n_dist(presso_n_dist, "presso_n_dist")
    hd = harmonised if isinstance(harmonised, HarmonisedData) else None
    table = as_table(harmonised)
    bx, by, sx, sy, kept = _arrays(
        table, "beta.exposure", "se.exposure", "beta.outcome", "se.outcome"
    )
    k = bx.size
    if k == 0:
        raise DataStructureError(
            "no variant is kept for MR (mr_keep is False for all). See the harmonisation log."
        )
    snps = kept["SNP"].astype(str).tolist() if "SNP" in kept.columns else [str(i) for i in range(k)]
    ms = _resolve_methods(methods, k)
    s_est, s_presso = root.spawn(2)
    est = _estimates(
        bx, by, sx, sy, ms, int(s_est.generate_state(1)[0]), n_boot, conf_level, options
    )
    alpha = 1.0 - conf_level
    egg = next((r for r in est if r.method == "egger"), None)
    if egg is None and k >= 3:
        egg = run_method("egger", bx, by, sx, sy, alpha=alpha)
    pr = None
    if presso and k >= 4:
        pr = mr_presso(bx, by, sx, sy, n_dist=presso_n_dist, seed=s_presso, snps=tuple(snps))
    st, notes = _steiger_stage(
        kept,
        steiger_test,
        (exposure_binary, outcome_binary),
        (exposure_prevalence, outcome_prevalence),
    )
    return MRResult(
        exposure=_trait_name(kept, "exposure", exposure),
        outcome=_trait_name(kept, "outcome", outcome),
        estimates=tuple(est),
        snps=tuple(snps),
        bx=bx,
        by=by,
        sx=sx,
        sy=sy,
        heterogeneity=heterogeneity(bx, by, sx, sy) if k >= 3 else None,
        egger=egg,
        ivw=run_method("ivw", bx, by, sx, sy, alpha=alpha) if k >= 2 else None,
        leave_one_out=tuple(leave_one_out(bx, by, sx, sy)) if k >= 3 else (),
        single_snp=tuple(single_snp(bx, by, sx, sy, alpha=alpha)),
        presso=pr,
        steiger=st,
        f_statistic=(bx / sx) ** 2 if np.all(sx > 0) else np.full(k, np.nan),
        n_total=len(table),
        harmonised=hd,
        seed=seed if seed is None or isinstance(seed, int) else None,
        seed_entropy=int(root.entropy) if isinstance(root.entropy, int) else None,
        n_boot=n_boot,
        conf_level=conf_level,
        notes=tuple(notes),
    )


#: The British spelling of :func:`analyze` (same function).
analyse = analyze


def _steiger_stage(
    kept: pd.DataFrame,
    run: bool,
    binary: tuple[bool, bool],
    prevalence: tuple[float | None, float | None],
) -> tuple[SteigerResult | None, list[str]]:
    """The Steiger test when the data allow it; otherwise a note saying why not."""
    if not run:
        return None, []
    try:
        r2e, ne = _rsq_side(kept, "exposure", binary[0], prevalence[0])
        r2o, no = _rsq_side(kept, "outcome", binary[1], prevalence[1])
        return steiger(r2e, r2o, ne, no), []
    except (DataStructureError, SpecificationError) as err:
        return None, [f"Steiger test not run: {err}"]


def bidirectional(
    a_sumstats: pd.DataFrame,
    b_sumstats: pd.DataFrame,
    *,
    a_name: str = "A",
    b_name: str = "B",
    p_threshold: float | tuple[float, float] = 5e-8,
    clump: Any = "distance",
    clump_kb: float = 10_000.0,
    action: int = 2,
    methods: str | Sequence[str] | None = None,
    seed: int | np.random.SeedSequence | None = None,
    n_boot: int = 1000,
    conf_level: float = 0.95,
    presso: bool = True,
    presso_n_dist: int = 1000,
    a_binary: bool = False,
    b_binary: bool = False,
    a_prevalence: float | None = None,
    b_prevalence: float | None = None,
) -> BidirectionalMRResult:
    """Two-sample MR in both directions, instruments chosen separately for each.

    A -> B uses A's genome-wide significant, clumped variants (:func:`select_instruments`) looked
    up in B; B -> A the reverse. Each direction is harmonised (:func:`harmonise`) and analysed
    (:func:`analyze`); the result holds both and prints one combined report.

    Parameters
    ----------
    a_sumstats, b_sumstats : DataFrame
        Full summary statistics of each trait (:func:`read_sumstats`).
    a_name, b_name : str
        Trait names for the report.
    p_threshold : float or (float, float)
        Instrument threshold, or one per direction (A's, B's): weakly powered traits such as
        low back pain often need 5e-6, which the report states.
    clump, clump_kb, action, methods, seed, n_boot, conf_level, presso, presso_n_dist
        Passed to :func:`select_instruments`, :func:`harmonise` and :func:`analyze`; each
        direction gets its own child of ``seed``'s ``SeedSequence``.
    a_binary, b_binary, a_prevalence, b_prevalence
        For the Steiger test on binary traits (liability-scale R^2).

    Returns
    -------
    BidirectionalMRResult

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.mr.simulate_sumstats(n_variants=40, n_variants_b=15, n_null=300, seed=3)
    >>> res = sp.mr.bidirectional(sim.exposure, sim.outcome, a_name="insomnia", b_name="LBP",
    ...                           p_threshold=(5e-8, 5e-6), seed=1, n_boot=100, presso=False)
    >>> res.tidy()["direction"].unique().tolist()
    ['insomnia -> LBP', 'LBP -> insomnia']
    """
    pa, pb = (p_threshold, p_threshold) if np.isscalar(p_threshold) else tuple(p_threshold)  # type: ignore[misc]
    root = root_seed(seed)
    s1, s2 = (int(c.generate_state(1)[0]) for c in root.spawn(2))
    res = []
    for src, dst, p, n_src, n_dst, bins, prevs, s in (
        (
            a_sumstats,
            b_sumstats,
            pa,
            a_name,
            b_name,
            (a_binary, b_binary),
            (a_prevalence, b_prevalence),
            s1,
        ),
        (
            b_sumstats,
            a_sumstats,
            pb,
            b_name,
            a_name,
            (b_binary, a_binary),
            (b_prevalence, a_prevalence),
            s2,
        ),
    ):
        inst = select_instruments(src, p_threshold=float(p), clump=clump, clump_kb=clump_kb)
        h = harmonise(inst, dst, action=action, exposure_name=n_src, outcome_name=n_dst)
        r = analyze(
            h,
            methods=methods,
            seed=s,
            n_boot=n_boot,
            conf_level=conf_level,
            presso=presso,
            presso_n_dist=presso_n_dist,
            exposure_binary=bins[0],
            outcome_binary=bins[1],
            exposure_prevalence=prevs[0],
            outcome_prevalence=prevs[1],
            exposure=n_src,
            outcome=n_dst,
        )
        if seed is not None:
            r = replace(
                r, notes=(*r.notes, f"bootstrap seed {s} derived from bidirectional(seed={seed})")
            )
        res.append((r, inst.attrs.get("selection_log"), float(p)))
    return BidirectionalMRResult(
        a_name=a_name,
        b_name=b_name,
        forward=res[0][0],
        reverse=res[1][0],
        _selection_logs=(res[0][1], res[1][1]),
        p_thresholds=(res[0][2], res[1][2]),
    )
