"""Frozen result objects for two-sample MR."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sleeppain.mr._estimators import MREstimate
from sleeppain.mr._sensitivity import Heterogeneity, PressoResult, SteigerResult

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from sleeppain.mr._harmonise import HarmonisedData

__all__ = ["BidirectionalMRResult", "MRResult"]

_TIDY_COLS = ["method", "nsnp", "b", "se", "pval", "conf_low", "conf_high"]


def estimate_row(r: MREstimate) -> dict[str, float]:
    """``b, se, pval, conf_low, conf_high`` of one estimate: the columns every MR table shares.

    Examples
    --------
    >>> from sleeppain.mr._estimators import MREstimate
    >>> estimate_row(MREstimate("ivw", "IVW", 3, 0.5, 0.1, 0.01, 0.3, 0.7))
    {'b': 0.5, 'se': 0.1, 'pval': 0.01, 'conf_low': 0.3, 'conf_high': 0.7}
    """
    return {"b": r.b, "se": r.se, "pval": r.pval, "conf_low": r.conf_low, "conf_high": r.conf_high}


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.2e}"


@dataclass(frozen=True, eq=False)
class MRResult:
    """One direction of a two-sample MR analysis (frozen).

    Attributes
    ----------
    exposure, outcome : str
        Trait names.
    estimates : tuple of MREstimate
        One per method, in the order run.
    snps, bx, by, sx, sy
        The variants used (``mr_keep``) and their associations.
    heterogeneity : Heterogeneity or None
        Cochran's Q (IVW) and Rucker's Q (MR-Egger); None with fewer than 3 variants.
    egger : MREstimate or None
        MR-Egger fit (intercept test) whether or not it was among ``estimates``.
    leave_one_out, single_snp : tuple of MREstimate
        IVW without each variant; the Wald ratio of each variant.
    presso : PressoResult or None
        MR-PRESSO (4+ variants, when requested).
    steiger : SteigerResult or None
        Steiger directionality test (when sample sizes are known).
    f_statistic : ndarray
        Per-variant ``(bx/sx)^2``.
    n_total : int
        Rows in the harmonised table (before ``mr_keep``).
    harmonisation_log : DataFrame or None
        What harmonisation flipped or excluded.
    seed, nboot, alpha
        Provenance of the bootstrap and intervals.
    notes : tuple of str
        Analyses that could not be run and why.
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
    harmonisation_log: pd.DataFrame | None = None
    seed: int | None = None
    nboot: int = 1000
    alpha: float = 0.05
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def nsnp(self) -> int:
        """Number of variants used."""
        return len(self.snps)

    def estimate(self, method: str) -> MREstimate:
        """The estimate of one method by name."""
        for r in self.estimates:
            if r.method == method:
                return r
        raise KeyError(f"method {method!r} was not run; run: {[r.method for r in self.estimates]}")

    @cached_property
    def _tidy(self) -> pd.DataFrame:
        rows = [{"method": r.method, "nsnp": r.nsnp, **estimate_row(r)} for r in self.estimates]
        df = pd.DataFrame(rows, columns=_TIDY_COLS)
        df.insert(0, "outcome", self.outcome)
        df.insert(0, "exposure", self.exposure)
        return df

    def tidy(self, odds_ratios: bool = False, schema: str = "mr") -> pd.DataFrame:
        """One row per method.

        ``schema="mr"`` (default, the MR issue's): ``exposure, outcome, method, nsnp, b, se, pval,
        conf_low, conf_high``. ``schema="house"``: sleeppain's common schema ``term, estimate,
        std_error, statistic, df, p_value, conf_low, conf_high, method, nsnp`` (``df`` is NaN for
        normal-based p-values, ``k - 2`` for MR-Egger, ``k - 1`` for the modes), so MR rows can
        sit in the same tables as the diary models.
        """
        if schema == "house":
            rows = [
                {
                    "term": f"{self.exposure} -> {self.outcome}",
                    "estimate": r.b,
                    "std_error": r.se,
                    "statistic": r.b / r.se,
                    "df": r.extra.get("df", np.nan),
                    "p_value": r.pval,
                    "conf_low": r.conf_low,
                    "conf_high": r.conf_high,
                    "method": r.method,
                    "nsnp": r.nsnp,
                }
                for r in self.estimates
            ]
            return pd.DataFrame(rows)
        if schema != "mr":
            raise ValueError(f"schema must be 'mr' or 'house', not {schema!r}")
        df = self._tidy.copy()
        if odds_ratios:
            df["or"] = np.exp(df["b"])
            df["or_conf_low"] = np.exp(df["conf_low"])
            df["or_conf_high"] = np.exp(df["conf_high"])
        return df

    def glance(self) -> pd.DataFrame:
        """One row: nsnp, mean F, Q statistics, Egger intercept, PRESSO and Steiger p-values."""
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
        }
        return pd.DataFrame([row])

    def leave_one_out_table(self) -> pd.DataFrame:
        """IVW without each variant: ``SNP, b, se, pval, conf_low, conf_high``."""
        return pd.DataFrame(
            [
                {"SNP": s, **estimate_row(r)}
                for s, r in zip(self.snps, self.leave_one_out, strict=False)
            ]
        )

    def single_snp_table(self) -> pd.DataFrame:
        """Wald ratio of each variant: ``SNP, b, se, pval, conf_low, conf_high``."""
        return pd.DataFrame(
            [{"SNP": s, **estimate_row(r)} for s, r in zip(self.snps, self.single_snp, strict=True)]
        )

    def summary(self) -> str:
        """Plain-text report: methods, heterogeneity, pleiotropy, outliers, direction, caveats."""
        z = "95%" if abs(self.alpha - 0.05) < 1e-12 else f"{100 * (1 - self.alpha):g}%"
        lines = [
            f"Two-sample Mendelian randomization: {self.exposure} -> {self.outcome}",
            "=" * 78,
            f"Variants used: {self.nsnp} of {self.n_total} harmonised"
            f" (mean F = {np.mean(self.f_statistic):.1f}, min F = {np.min(self.f_statistic):.1f}"
            f"{'; weak instruments (F < 10) present' if np.min(self.f_statistic) < 10 else ''})",
            "",
            f"{'method':<44}{'nsnp':>5}{'b':>11}{'se':>10}{'p':>10}   {z} CI",
        ]
        for r in self.estimates:
            lines.append(
                f"{r.label:<44}{r.nsnp:>5}{r.b:>11.4g}{r.se:>10.4g}{_fmt_p(r.pval):>10}   "
                f"[{r.conf_low:.4g}, {r.conf_high:.4g}]"
            )
        boot = [r.label for r in self.estimates if "nboot" in r.extra]
        if boot:
            lines.append(
                f"  bootstrap SEs ({', '.join(boot)}): {self.nboot} replicates, seed = {self.seed}"
            )
        h = self.heterogeneity
        if h is not None:
            lines += [
                "",
                "Heterogeneity",
                f"  Cochran's Q (IVW)   Q = {h.Q_ivw:.4f} on {h.Q_ivw_df} df, p = {_fmt_p(h.Q_ivw_pval)}; I^2 = {100 * h.I2_ivw:.1f}%",
                f"  Rucker's Q (Egger)  Q = {h.Q_egger:.4f} on {h.Q_egger_df} df, p = {_fmt_p(h.Q_egger_pval)}",
                f"  Q difference        {h.Q_diff:.4f} on 1 df, p = {_fmt_p(h.Q_diff_pval)}",
            ]
        e = self.egger
        if e is not None:
            lines += [
                "",
                "Directional pleiotropy (MR-Egger intercept)",
                f"  intercept = {e.extra['intercept']:.4g} (SE {e.extra['intercept_se']:.4g}), "
                f"p = {_fmt_p(e.extra['intercept_pval'])}; I^2_GX = {100 * e.extra['isq_gx']:.1f}%"
                + (
                    "  (I^2_GX < 90%: Egger estimate diluted towards 0)"
                    if e.extra["isq_gx"] < 0.9
                    else ""
                ),
            ]
        if self.presso is not None:
            p = self.presso
            lines += [
                "",
                f"MR-PRESSO ({p.n_dist} simulated data sets)",
                f"  global test: RSS = {p.rss_obs:.4g}, p = {_fmt_p(p.global_pval)}",
            ]
            if p.outliers.size:
                names = ", ".join(self.snps[i] for i in p.outliers[:10])
                lines.append(
                    f"  outliers ({p.outliers.size}): {names}{' ...' if p.outliers.size > 10 else ''}"
                )
                if np.isfinite(p.corrected_b):
                    lines.append(
                        f"  outlier-corrected IVW: {p.corrected_b:.4g} (SE {p.corrected_se:.4g}, p = {_fmt_p(p.corrected_pval)}); "
                        f"distortion {p.distortion:.1f}%, p = {_fmt_p(p.distortion_pval)}"
                    )
            else:
                lines.append("  no outlier at the 0.05 level (Bonferroni)")
        if self.steiger is not None:
            s = self.steiger
            lines += [
                "",
                "Steiger directionality",
                f"  R^2 exposure = {s.r2_exposure:.4g}, R^2 outcome = {s.r2_outcome:.4g}; "
                f"{'exposure -> outcome supported' if s.correct_direction else 'REVERSE direction suggested'}"
                f" (p = {_fmt_p(s.pval)})",
            ]
        if self.leave_one_out:
            bs = np.array([r.b for r in self.leave_one_out])
            lines += ["", f"Leave-one-out IVW: range [{bs.min():.4g}, {bs.max():.4g}]"]
        if self.harmonisation_log is not None and len(self.harmonisation_log):
            n_ex = int((self.harmonisation_log["step"] == "excluded").sum())
            n_abs = int((self.harmonisation_log["step"] == "absent from outcome").sum())
            lines += [
                "",
                f"Harmonisation: {n_ex} variant(s) excluded, {n_abs} absent from the outcome (see .harmonisation_log)",
            ]
        for n in self.notes:
            lines.append(f"Note: {n}")
        lines += [
            "",
            "Conventions: TwoSampleMR 0.7 (IVW multiplicative random effects, Egger, medians, modes);",
            "MendelianRandomization 0.10 (maximum likelihood, penalised/robust IVW). Estimates are per",
            "unit of the exposure's GWAS scale (log odds for binary traits).",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"MRResult({self.exposure!r} -> {self.outcome!r}, nsnp={self.nsnp}, methods={[r.method for r in self.estimates]})"

    def _repr_html_(self) -> str:
        return (
            f"<h4>Two-sample MR: {self.exposure} &rarr; {self.outcome} ({self.nsnp} variants)</h4>"
            + self.tidy().to_html(index=False, float_format=lambda v: f"{v:.4g}")
            + self.glance().to_html(index=False, float_format=lambda v: f"{v:.4g}")
        )

    # plots -------------------------------------------------------------------------------------
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
class BidirectionalMRResult:
    """Both directions of a bidirectional MR (frozen): ``forward`` is A -> B, ``reverse`` B -> A."""

    a_name: str
    b_name: str
    forward: MRResult
    reverse: MRResult
    forward_selection_log: pd.DataFrame | None
    reverse_selection_log: pd.DataFrame | None
    p_thresholds: tuple[float, float]
    forward_harmonised: HarmonisedData | None = None
    reverse_harmonised: HarmonisedData | None = None

    def tidy(self, odds_ratios: bool = False, schema: str = "mr") -> pd.DataFrame:
        """Both directions' estimates with a ``direction`` column (see :meth:`MRResult.tidy`)."""
        parts = []
        if schema == "house":
            for r, d in (
                (self.forward, f"{self.a_name} -> {self.b_name}"),
                (self.reverse, f"{self.b_name} -> {self.a_name}"),
            ):
                t = r.tidy(schema="house")
                t.insert(0, "direction", d)
                parts.append(t)
            return pd.concat(parts, ignore_index=True)
        for r, d in (
            (self.forward, f"{self.a_name} -> {self.b_name}"),
            (self.reverse, f"{self.b_name} -> {self.a_name}"),
        ):
            t = r.tidy(odds_ratios=odds_ratios)
            t.insert(0, "direction", d)
            parts.append(t)
        return pd.concat(parts, ignore_index=True)

    def glance(self) -> pd.DataFrame:
        """One row per direction (see :meth:`MRResult.glance`)."""
        g = pd.concat([self.forward.glance(), self.reverse.glance()], ignore_index=True)
        g.insert(0, "p_threshold", list(self.p_thresholds))
        return g

    def summary(self) -> str:
        """Combined report of both directions."""
        head = [
            f"Bidirectional two-sample MR: {self.a_name} <-> {self.b_name}",
            f"Instruments chosen separately: p < {self.p_thresholds[0]:g} for {self.a_name}, "
            f"p < {self.p_thresholds[1]:g} for {self.b_name}",
            "",
        ]
        f, r = (
            self.forward.estimate("ivw")
            if any(e.method == "ivw" for e in self.forward.estimates)
            else None,
            (
                self.reverse.estimate("ivw")
                if any(e.method == "ivw" for e in self.reverse.estimates)
                else None
            ),
        )
        if f is not None and r is not None:
            head += [
                f"IVW {self.a_name} -> {self.b_name}: {f.b:.4g} (SE {f.se:.4g}, p = {_fmt_p(f.pval)}, {f.nsnp} variants)",
                f"IVW {self.b_name} -> {self.a_name}: {r.b:.4g} (SE {r.se:.4g}, p = {_fmt_p(r.pval)}, {r.nsnp} variants)",
                "",
            ]
        return "\n".join(head) + self.forward.summary() + "\n\n" + self.reverse.summary()

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"BidirectionalMRResult({self.a_name!r} <-> {self.b_name!r})"

    def _repr_html_(self) -> str:
        return (
            f"<h4>Bidirectional MR: {self.a_name} &harr; {self.b_name}</h4>"
            + self.tidy().to_html(index=False, float_format=lambda v: f"{v:.4g}")
        )
