"""Frozen result objects for two-sample MR, on the library's result contract.

:class:`MRResult` (one direction) and :class:`BidirectionalMRResult` (both) describe themselves
as a :class:`~sleeppain.results.Display`; ``summary()``, ``_repr_html_()`` (escaped) and
``to_markdown()`` come from :class:`~sleeppain.results.ResultMixin`. ``tidy()`` is in the house
schema by default; ``tidy(schema="mr")`` gives TwoSampleMR's names (``b, se, pval``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError
from sleeppain.mr._estimators import MREstimate
from sleeppain.mr._harmonise import HarmonisedData
from sleeppain.mr._sensitivity import Heterogeneity, PressoResult, SteigerResult
from sleeppain.results import Display, DisplayTable, ResultMixin, readonly, tidy_frame

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["SCHEMAS", "BidirectionalMRResult", "MRResult", "estimate_row", "estimates_frame"]

#: The two views of MR estimates: sleeppain's house schema and TwoSampleMR's names.
SCHEMAS = ("house", "mr")

_CONVENTIONS = (
    "Conventions: TwoSampleMR 0.7 (IVW multiplicative random effects, Egger, medians, modes); "
    "MendelianRandomization 0.10 (maximum likelihood, penalised/robust IVW). Estimates are per "
    "unit of the exposure's GWAS scale (log odds for binary traits)."
)


def estimate_row(r: MREstimate) -> dict[str, float]:
    """``b, se, pval, conf_low, conf_high`` of one estimate: the columns every MR table shares.

    Examples
    --------
    >>> from sleeppain.mr._estimators import MREstimate
    >>> estimate_row(MREstimate("ivw", "IVW", 3, 0.5, 0.1, 0.01, 0.3, 0.7))
    {'b': 0.5, 'se': 0.1, 'pval': 0.01, 'conf_low': 0.3, 'conf_high': 0.7}
    """
    return {"b": r.b, "se": r.se, "pval": r.pval, "conf_low": r.conf_low, "conf_high": r.conf_high}


def check_schema(schema: str) -> str:
    """Validate ``schema`` (``"house"`` or ``"mr"``)."""
    if schema not in SCHEMAS:
        raise SpecificationError(
            f"schema={schema!r}; use 'house' (term, estimate, std_error, ...) or 'mr' "
            "(TwoSampleMR's b, se, pval)."
        )
    return schema


def estimates_frame(
    estimates: Sequence[MREstimate],
    *,
    schema: str = "house",
    exposure: str | None = None,
    outcome: str | None = None,
    snps: Sequence[str] | None = None,
    odds_ratios: bool = False,
) -> pd.DataFrame:
    """MR estimates as a table, in the house schema or with TwoSampleMR's names.

    Parameters
    ----------
    estimates : sequence of MREstimate
    schema : {"house", "mr"}
        ``"house"``: ``term, estimate, std_error, statistic, df, p_value, conf_low, conf_high,
        method, nsnp`` (+ ``exposure, outcome``, ``SNP``); ``term`` is ``"<exposure> ->
        <outcome>"``, ``df`` is NaN for normal-based p-values (``k - 2`` for MR-Egger, ``k - 1``
        for the modes). ``"mr"``: ``[exposure, outcome,] [SNP,] method, nsnp, b, se, pval,
        conf_low, conf_high``.
    exposure, outcome : str, optional
        Trait names (columns added when given).
    snps : sequence of str, optional
        One variant per estimate (leave-one-out, single-variant tables): an ``SNP`` column.
    odds_ratios : bool
        Add ``or, or_conf_low, or_conf_high``.

    Examples
    --------
    >>> from sleeppain.mr._estimators import MREstimate
    >>> e = [MREstimate("ivw", "IVW", 3, 0.5, 0.1, 0.01, 0.3, 0.7)]
    >>> estimates_frame(e, exposure="x", outcome="y").columns.tolist()[:3]
    ['term', 'estimate', 'std_error']
    >>> estimates_frame(e, schema="mr").columns.tolist()
    ['method', 'nsnp', 'b', 'se', 'pval', 'conf_low', 'conf_high']
    """
    check_schema(schema)
    ids = list(snps) if snps is not None else None
    rows: list[dict[str, Any]] = []
    for j, r in enumerate(estimates):
        names: dict[str, Any] = {}
        if exposure is not None:
            names["exposure"] = exposure
        if outcome is not None:
            names["outcome"] = outcome
        if ids is not None:
            names["SNP"] = ids[j]
        if schema == "mr":
            row = {**names, "method": r.method, "nsnp": r.nsnp, **estimate_row(r)}
        else:
            row = {
                "term": f"{exposure or 'exposure'} -> {outcome or 'outcome'}",
                "estimate": r.b,
                "std_error": r.se,
                "statistic": r.b / r.se if r.se > 0 else np.nan,
                "df": float(r.extra.get("df", np.nan)),
                "p_value": r.pval,
                "conf_low": r.conf_low,
                "conf_high": r.conf_high,
                "method": r.method,
                "nsnp": r.nsnp,
                **names,
            }
        if odds_ratios:
            row["or"] = float(np.exp(r.b))
            row["or_conf_low"] = float(np.exp(r.conf_low))
            row["or_conf_high"] = float(np.exp(r.conf_high))
        rows.append(row)
    if schema == "mr":
        cols = [
            *(["exposure"] if exposure is not None else []),
            *(["outcome"] if outcome is not None else []),
            *(["SNP"] if ids is not None else []),
            "method",
            "nsnp",
            "b",
            "se",
            "pval",
            "conf_low",
            "conf_high",
            *(["or", "or_conf_low", "or_conf_high"] if odds_ratios else []),
        ]
        return pd.DataFrame(rows, columns=cols)
    return tidy_frame(pd.DataFrame(rows), context=["method", "nsnp", "exposure", "outcome", "SNP"])


def _p(p: float) -> str:
    """``"p = 0.046"`` / ``"p < 0.001"`` through the library's one p-value formatter."""
    from sleeppain.report._tables import format_p

    return format_p(p)


def _fmt(value: Any, column: str = "", digits: int = 4) -> str:
    from sleeppain.report._tables import format_value

    return format_value(value, column, digits)


def _has(estimates: Sequence[MREstimate], method: str) -> MREstimate | None:
    return next((r for r in estimates if r.method == method), None)


@dataclass(frozen=True, eq=False)
class MRResult(ResultMixin):
    """One direction of a two-sample MR analysis (frozen; everything handed out is read-only).

    Attributes
    ----------
    exposure, outcome : str
        Trait names.
    estimates : tuple of MREstimate
        One per method, in the order run.
    snps, bx, by, sx, sy
        The variants used (``mr_keep``) and their associations (read-only arrays).
    heterogeneity : Heterogeneity or None
        Cochran's Q (IVW) and Rucker's Q (MR-Egger); None with fewer than 3 variants.
    egger : MREstimate or None
        MR-Egger fit (intercept test) whether or not it was among ``estimates``.
    ivw : MREstimate or None
        IVW on all variants (2+ variants).
    leave_one_out, single_snp : tuple of MREstimate
        IVW without each variant; the Wald ratio of each variant (as tables:
        :meth:`leave_one_out_table`, :meth:`single_snp_table`).
    presso : PressoResult or None
        MR-PRESSO (4+ variants, when requested).
    steiger : SteigerResult or None
        Steiger directionality test (when sample sizes are known).
    f_statistic : ndarray
        Per-variant ``(bx/sx)^2``.
    n_total : int
        Rows in the harmonised table (before ``mr_keep``).
    harmonised : HarmonisedData or None
        The harmonised input (its ``log`` says what was flipped or excluded).
    seed, seed_entropy
        The ``seed`` passed, and the entropy of the root ``SeedSequence`` actually used
        (repeat a ``seed=None`` run with ``seed=result.seed_entropy``).
    n_boot, conf_level
        Bootstrap replicates and interval coverage.
    notes : tuple of str
        Analyses that could not be run and why.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.mr.simulate_sumstats(n_variants=12, n_null=50, seed=1)
    >>> res = sp.mr.analyze(sp.mr.harmonise(sim.exposure, sim.outcome), methods=["ivw"],
    ...                     seed=1, presso=False)
    >>> res.tidy()[["term", "method"]].iloc[0].tolist()
    ['exposure -> outcome', 'ivw']
    """

    exposure: str
    outcome: str
    estimates: tuple[MREstimate, ...]
    snps: tuple[str, ...]
    bx: np.ndarray
    by: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    heterogeneity: Heterogeneity | None
    egger: MREstimate | None
    ivw: MREstimate | None
    leave_one_out: tuple[MREstimate, ...]
    single_snp: tuple[MREstimate, ...]
    presso: PressoResult | None
    steiger: SteigerResult | None
    f_statistic: np.ndarray
    n_total: int
    harmonised: HarmonisedData | None = field(default=None, repr=False)
    seed: int | None = None
    seed_entropy: int | None = None
    n_boot: int = 1000
    conf_level: float = 0.95
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("bx", "by", "sx", "sy", "f_statistic"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), float)))
        for name in ("estimates", "snps", "leave_one_out", "single_snp", "notes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    # ---------------------------------------------------------------- accessors
    @property
    def nsnp(self) -> int:
        """Number of variants used."""
        return len(self.snps)

    @property
    def harmonisation_log(self) -> pd.DataFrame | None:
        """What harmonisation flipped or excluded (a copy), or None."""
        return None if self.harmonised is None else self.harmonised.log

    @property
    def nboot(self) -> int:
        """Old name of :attr:`n_boot`."""
        return self.n_boot

    @property
    def alpha(self) -> float:
        """``1 - conf_level`` (the old ``alpha``)."""
        return 1.0 - self.conf_level

    def estimate(self, method: str) -> MREstimate:
        """The estimate of one method by name."""
        r = _has(self.estimates, method)
        if r is None:
            raise KeyError(
                f"method {method!r} was not run; run: {[r.method for r in self.estimates]}"
            )
        return r

    # ---------------------------------------------------------------- contract
    def tidy(self, *, schema: str = "house", odds_ratios: bool = False) -> pd.DataFrame:
        """One row per method.

        ``schema="house"`` (default): ``term, estimate, std_error, statistic, df, p_value,
        conf_low, conf_high, method, nsnp, exposure, outcome`` (``df`` is NaN for normal-based
        p-values, ``k - 2`` for MR-Egger, ``k - 1`` for the modes). ``schema="mr"``:
        TwoSampleMR's ``exposure, outcome, method, nsnp, b, se, pval, conf_low, conf_high``.
        ``odds_ratios=True`` adds ``or, or_conf_low, or_conf_high``.
        """
        return estimates_frame(
            self.estimates,
            schema=schema,
            exposure=self.exposure,
            outcome=self.outcome,
            odds_ratios=odds_ratios,
        )

    def glance(self) -> pd.DataFrame:
        """One row: nsnp, F, Q statistics, Egger intercept, PRESSO and Steiger p-values."""
        h = self.heterogeneity
        e = self.egger
        row: dict[str, Any] = {
            "exposure": self.exposure,
            "outcome": self.outcome,
            "nsnp": self.nsnp,
            "n_harmonised": self.n_total,
            "mean_F": float(np.mean(self.f_statistic)),
            "min_F": float(np.min(self.f_statistic)),
            "Q_ivw": h.Q_ivw if h else np.nan,
            "Q_ivw_pval": h.Q_ivw_pval if h else np.nan,
            "I2_ivw": h.I2_ivw if h else np.nan,
            "Q_egger": h.Q_egger if h else np.nan,
            "Q_egger_pval": h.Q_egger_pval if h else np.nan,
            "egger_intercept": e.extra["intercept"] if e else np.nan,
            "egger_intercept_se": e.extra["intercept_se"] if e else np.nan,
            "egger_intercept_pval": e.extra["intercept_pval"] if e else np.nan,
            "isq_gx": e.extra["isq_gx"] if e else np.nan,
            "presso_global_pval": self.presso.global_pval if self.presso else np.nan,
            "presso_n_outliers": int(self.presso.outliers.size) if self.presso else np.nan,
            "steiger_correct_direction": self.steiger.correct_direction if self.steiger else None,
            "steiger_pval": self.steiger.pval if self.steiger else np.nan,
            "n_boot": self.n_boot,
            "conf_level": self.conf_level,
        }
        return pd.DataFrame([row])

    def leave_one_out_table(self, *, schema: str = "house") -> pd.DataFrame:
        """IVW without each variant, one row per variant left out (``SNP`` column)."""
        return estimates_frame(
            self.leave_one_out,
            schema=schema,
            exposure=self.exposure,
            outcome=self.outcome,
            snps=self.snps[: len(self.leave_one_out)],
        )

    def single_snp_table(self, *, schema: str = "house") -> pd.DataFrame:
        """Wald ratio of each variant (``SNP`` column)."""
        return estimates_frame(
            self.single_snp,
            schema=schema,
            exposure=self.exposure,
            outcome=self.outcome,
            snps=self.snps,
        )

    def _display(self) -> Display:
        return Display(
            title=f"Two-sample Mendelian randomization: {self.exposure} -> {self.outcome}",
            header=self._header(),
            tables=self._tables(),
            notes=(*self._notes(), _CONVENTIONS),
        )

    def _header(self) -> tuple[tuple[str, str], ...]:
        f = self.f_statistic
        weak = "; weak instruments (F < 10) present" if np.min(f) < 10 else ""
        header = [
            ("Variants used", f"{self.nsnp} of {self.n_total} harmonised"),
            (
                "Instrument strength",
                f"mean F = {_fmt(float(np.mean(f)), digits=1)}, "
                f"min F = {_fmt(float(np.min(f)), digits=1)}{weak}",
            ),
            ("Intervals", f"{100 * self.conf_level:g}% (normal)"),
        ]
        boot = [r.label for r in self.estimates if "nboot" in r.extra]
        if boot:
            header.append(
                (
                    "Bootstrap SEs",
                    f"{', '.join(boot)}: {self.n_boot} replicates, seed = {self.seed}",
                )
            )
        return tuple(header)

    def _tables(self) -> tuple[DisplayTable, ...]:
        est = self.tidy()
        est.index = pd.Index([r.label for r in self.estimates], name="method")
        tables = [
            DisplayTable(
                est[["nsnp", "estimate", "std_error", "p_value", "conf_low", "conf_high"]],
                title="Estimates",
                digits=4,
            )
        ]
        h = self.heterogeneity
        if h is not None:
            t = h.tidy()
            t.index = pd.Index(
                ["Cochran's Q (IVW)", "Rucker's Q (MR-Egger)", "Q difference"], name="test"
            )
            t = t[["statistic", "df", "p_value", "i2"]].rename(columns={"statistic": "Q"})
            t["df"] = t["df"].astype(int)
            tables.append(DisplayTable(t, title="Heterogeneity", digits=4))
        e = self.egger
        if e is not None:
            t = pd.DataFrame(
                {
                    "estimate": [e.extra["intercept"]],
                    "std_error": [e.extra["intercept_se"]],
                    "p_value": [e.extra["intercept_pval"]],
                    "I^2_GX": [e.extra["isq_gx"]],
                },
                index=pd.Index(["intercept"], name="MR-Egger"),
            )
            note = (
                "I^2_GX < 0.9: the Egger estimate is diluted towards 0"
                if e.extra["isq_gx"] < 0.9
                else ""
            )
            tables.append(
                DisplayTable(
                    t, title="Directional pleiotropy (MR-Egger intercept)", note=note, digits=4
                )
            )
        if self.presso is not None:
            p = self.presso
            t = p.tidy().set_index("term")[["nsnp", "estimate", "std_error", "df", "p_value"]]
            t["df"] = t["df"].astype(int)
            note = f"global test: RSS = {_fmt(p.rss_obs)}, {_p(p.global_pval)}"
            if p.outliers.size:
                names = ", ".join(self.snps[i] for i in p.outliers[:10])
                more = " ..." if p.outliers.size > 10 else ""
                note += f"; outliers ({p.outliers.size}): {names}{more}"
                if np.isfinite(p.distortion):
                    note += f"; distortion {_fmt(p.distortion, digits=1)}%, {_p(p.distortion_pval)}"
            else:
                note += "; no outlier at the 0.05 level (Bonferroni)"
            tables.append(
                DisplayTable(
                    t, title=f"MR-PRESSO ({p.n_dist} simulated data sets)", note=note, digits=4
                )
            )
        if self.steiger is not None:
            s = self.steiger
            t = pd.DataFrame(
                {
                    "r2_exposure": [s.r2_exposure],
                    "r2_outcome": [s.r2_outcome],
                    "z": [s.z],
                    "p_value": [s.pval],
                },
                index=pd.Index(
                    [
                        "exposure -> outcome supported"
                        if s.correct_direction
                        else "REVERSE direction suggested"
                    ],
                    name="direction",
                ),
            )
            tables.append(DisplayTable(t, title="Steiger directionality", digits=4))
        return tuple(tables)

    def _notes(self) -> list[str]:
        notes = []
        if self.leave_one_out:
            bs = np.array([r.b for r in self.leave_one_out])
            notes.append(f"Leave-one-out IVW: range [{_fmt(bs.min())}, {_fmt(bs.max())}]")
        log = self.harmonisation_log
        if log is not None and len(log):
            n_ex = int((log["step"] == "excluded").sum())
            n_abs = int((log["step"] == "absent from outcome").sum())
            notes.append(
                f"Harmonisation: {n_ex} variant(s) excluded, {n_abs} absent from the outcome "
                "(see .harmonisation_log)"
            )
        notes += [f"Note: {n}" for n in self.notes]
        return notes

    def __repr__(self) -> str:
        return (
            f"MRResult({self.exposure!r} -> {self.outcome!r}, nsnp={self.nsnp}, "
            f"methods={[r.method for r in self.estimates]})"
        )

    # ------------------------------------------------------------------ plots
    def plot(self, kind: str = "scatter", *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """One of the MR figures: ``"scatter"``, ``"forest"``, ``"funnel"``, ``"leave_one_out"``.

        ``kwargs`` go to the figure function (``methods=`` for the scatter plot).
        """
        figures = {
            "scatter": self.plot_scatter,
            "forest": self.plot_forest,
            "funnel": self.plot_funnel,
            "leave_one_out": self.plot_leave_one_out,
        }
        if kind not in figures:
            raise SpecificationError(f"kind={kind!r}; use one of {list(figures)}.")
        return figures[kind](ax=ax, **kwargs)

    def plot_scatter(self, ax: Axes | None = None, methods: list[str] | None = None) -> Axes:
        """Variant-outcome vs variant-exposure associations with a line per method."""
        from sleeppain.mr._plots import plot_scatter

        return plot_scatter(self, ax=ax, methods=methods)

    def plot_forest(self, ax: Axes | None = None) -> Axes:
        """Forest plot of single-variant Wald ratios with the IVW and Egger estimates."""
        from sleeppain.mr._plots import plot_forest

        return plot_forest(self, ax=ax)

    def plot_funnel(self, ax: Axes | None = None) -> Axes:
        """Funnel plot: Wald ratio vs precision ``|bx|/sy``."""
        from sleeppain.mr._plots import plot_funnel

        return plot_funnel(self, ax=ax)

    def plot_leave_one_out(self, ax: Axes | None = None) -> Axes:
        """IVW estimate leaving out each variant in turn."""
        from sleeppain.mr._plots import plot_leave_one_out

        return plot_leave_one_out(self, ax=ax)


@dataclass(frozen=True, eq=False)
class BidirectionalMRResult(ResultMixin):
    """Both directions of a bidirectional MR (frozen): ``forward`` is A -> B, ``reverse`` B -> A.

    The instrument selection logs and harmonised inputs are handed out as copies
    (:attr:`forward_selection_log`, :attr:`reverse_selection_log`).

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.mr.simulate_sumstats(n_variants=20, n_variants_b=10, n_null=100, seed=3)
    >>> res = sp.mr.bidirectional(sim.exposure, sim.outcome, a_name="A", b_name="B",
    ...                           p_threshold=(5e-8, 5e-6), methods=["ivw"], seed=1, presso=False)
    >>> res.tidy()["direction"].unique().tolist()
    ['A -> B', 'B -> A']
    """

    a_name: str
    b_name: str
    forward: MRResult
    reverse: MRResult
    _selection_logs: tuple[pd.DataFrame | None, pd.DataFrame | None] = field(repr=False)
    p_thresholds: tuple[float, float]

    @property
    def forward_selection_log(self) -> pd.DataFrame | None:
        """Variants of A dropped by clumping and why (a copy)."""
        return readonly(self._selection_logs[0])

    @property
    def reverse_selection_log(self) -> pd.DataFrame | None:
        """Variants of B dropped by clumping and why (a copy)."""
        return readonly(self._selection_logs[1])

    @property
    def forward_harmonised(self) -> HarmonisedData | None:
        """The harmonised A -> B input."""
        return self.forward.harmonised

    @property
    def reverse_harmonised(self) -> HarmonisedData | None:
        """The harmonised B -> A input."""
        return self.reverse.harmonised

    @property
    def directions(self) -> tuple[str, str]:
        """``("A -> B", "B -> A")`` with the trait names."""
        return f"{self.a_name} -> {self.b_name}", f"{self.b_name} -> {self.a_name}"

    def tidy(self, *, schema: str = "house", odds_ratios: bool = False) -> pd.DataFrame:
        """Both directions' estimates with a ``direction`` column (see :meth:`MRResult.tidy`)."""
        parts = []
        for r, d in zip((self.forward, self.reverse), self.directions, strict=True):
            t = r.tidy(schema=schema, odds_ratios=odds_ratios)
            if schema == "mr":
                t.insert(0, "direction", d)
            else:
                t["direction"] = d
            parts.append(t)
        out = pd.concat(parts, ignore_index=True)
        if schema == "house":
            out = tidy_frame(out, context=["direction", "method", "nsnp"])
        return out

    def glance(self) -> pd.DataFrame:
        """One row per direction (see :meth:`MRResult.glance`)."""
        g = pd.concat([self.forward.glance(), self.reverse.glance()], ignore_index=True)
        g.insert(0, "p_threshold", list(self.p_thresholds))
        g.insert(0, "direction", list(self.directions))
        return g

    def _display(self) -> Display:
        header = [
            (
                "Instruments chosen separately",
                f"p < {self.p_thresholds[0]:g} for {self.a_name}, "
                f"p < {self.p_thresholds[1]:g} for {self.b_name}",
            )
        ]
        for r, d in zip((self.forward, self.reverse), self.directions, strict=True):
            e = _has(r.estimates, "ivw")
            if e is not None:
                header.append(
                    (
                        f"IVW {d}",
                        f"{_fmt(e.b)} (SE {_fmt(e.se)}, {_p(e.pval)}, {e.nsnp} variants)",
                    )
                )
        tables: list[DisplayTable] = []
        notes: list[str] = []
        for r, d in zip((self.forward, self.reverse), self.directions, strict=True):
            sub = r._display()
            tables.append(
                DisplayTable(
                    pd.DataFrame(
                        {"value": [v for _, v in sub.header]}, index=[k for k, _ in sub.header]
                    ),
                    title=f"{d}",
                    header=False,
                    left=True,
                )
            )
            tables += [
                DisplayTable(t.frame, title=f"{d}: {t.title}", note=t.note, digits=t.digits)
                for t in sub.tables
            ]
            notes += [f"{d}: {n}" for n in sub.notes if n != _CONVENTIONS]
        return Display(
            title=f"Bidirectional two-sample MR: {self.a_name} <-> {self.b_name}",
            header=tuple(header),
            tables=tuple(tables),
            notes=(*notes, _CONVENTIONS),
        )

    def __repr__(self) -> str:
        return f"BidirectionalMRResult({self.a_name!r} <-> {self.b_name!r})"

    def plot(self, kind: str = "scatter", **kwargs: Any) -> tuple[Axes, Axes]:
        """The same figure for both directions, side by side; returns ``(forward, reverse)``."""
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        return (
            self.forward.plot(kind, ax=axes[0], **kwargs),
            self.reverse.plot(kind, ax=axes[1], **kwargs),
        )
