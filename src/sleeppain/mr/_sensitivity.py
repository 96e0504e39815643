"""Sensitivity analyses for two-sample MR: pure functions of numpy arrays.

Heterogeneity (Cochran's Q for IVW, Rucker's Q for MR-Egger), leave-one-out, single-variant
estimates, MR-PRESSO (Verbanck et al. 2018) and the Steiger directionality test (Hemani, Tilling
& Davey Smith 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sleeppain.errors import DataStructureError, SpecificationError
from sleeppain.mr._estimators import MREstimate, egger, ivw, wald_ratio
from sleeppain.results import Display, DisplayTable, ResultMixin, readonly, tidy_frame

__all__ = [
    "Heterogeneity",
    "PressoResult",
    "SteigerResult",
    "heterogeneity",
    "leave_one_out",
    "mr_presso",
    "single_snp",
    "steiger",
]


def _p(p: float) -> str:
    """``"p = 0.046"`` / ``"p < 0.001"`` through the library's one p-value formatter."""
    from sleeppain.report._tables import format_p

    return format_p(p)


def _fmt(value: Any, column: str = "", digits: int = 4) -> str:
    """One number through the library's one formatter (imported lazily from report)."""
    from sleeppain.report._tables import format_value

    return format_value(value, column, digits)


@dataclass(frozen=True)
class Heterogeneity(ResultMixin):
    """Cochran's Q (IVW) and Rucker's Q (MR-Egger) with their difference.

    ``Q`` and ``Q_df`` per model, ``I2 = max(0, (Q - df) / Q)``; ``Q_diff = Q_ivw - Q_egger`` on
    1 df (Rucker's test that the intercept explains heterogeneity).

    Examples
    --------
    >>> import numpy as np
    >>> h = heterogeneity(np.array([.1, .2, .3, .4]), np.array([.05, .1, .16, .19]),
    ...                   np.full(4, .01), np.full(4, .01))
    >>> h.tidy()["term"].tolist()
    ['Q (IVW)', 'Q (MR-Egger)', 'Q difference']
    """

    Q_ivw: float
    Q_ivw_df: int
    Q_ivw_pval: float
    I2_ivw: float
    Q_egger: float
    Q_egger_df: int
    Q_egger_pval: float
    Q_diff: float
    Q_diff_pval: float

    def tidy(self) -> pd.DataFrame:
        """One row per Q statistic: ``statistic`` (Q), ``df``, ``p_value`` and ``i2``."""
        rows = [
            {
                "term": "Q (IVW)",
                "statistic": self.Q_ivw,
                "df": float(self.Q_ivw_df),
                "p_value": self.Q_ivw_pval,
                "i2": self.I2_ivw,
                "method": "ivw",
            },
            {
                "term": "Q (MR-Egger)",
                "statistic": self.Q_egger,
                "df": float(self.Q_egger_df),
                "p_value": self.Q_egger_pval,
                "i2": _i2(self.Q_egger, self.Q_egger_df),
                "method": "egger",
            },
            {
                "term": "Q difference",
                "statistic": self.Q_diff,
                "df": 1.0,
                "p_value": self.Q_diff_pval,
                "i2": np.nan,
                "method": "ivw - egger",
            },
        ]
        return tidy_frame(pd.DataFrame(rows), context=["method"])

    def glance(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([dict(vars(self))])

    def _display(self) -> Display:
        t = self.tidy().set_index("term")[["statistic", "df", "p_value", "i2"]]
        t["df"] = t["df"].astype(int)
        return Display(
            title="Heterogeneity of the variant-specific estimates",
            tables=(DisplayTable(t, note="I^2 = max(0, (Q - df) / Q)", digits=4),),
        )


def _i2(q: float, df: int) -> float:
    return max(0.0, (q - df) / q) if q > 0 else 0.0


def heterogeneity(bx: np.ndarray, by: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> Heterogeneity:
    """Cochran's Q about the IVW fit and Rucker's Q about the MR-Egger fit (first-order weights).

    TwoSampleMR ``mr_heterogeneity``: Q = sigma^2 (k - df) of each weighted regression.
    Validated: BMI -> CHD IVW Q 143.6508 on 78 df, Egger Q 143.3046 on 77 df (rtol 1e-6).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._sensitivity import heterogeneity
    >>> h = heterogeneity(np.array([.1, .2, .3]), np.array([.05, .1, .16]), np.full(3, .01), np.full(3, .01))
    >>> h.Q_ivw_df, h.Q_egger_df
    (2, 1)
    """
    r_ivw = ivw(bx, by, sx, sy)
    r_egg = egger(bx, by, sx, sy)
    k = r_ivw.nsnp
    q1 = r_ivw.extra["Q"]
    q2 = r_egg.extra["Q"]
    diff = q1 - q2
    return Heterogeneity(
        Q_ivw=q1,
        Q_ivw_df=k - 1,
        Q_ivw_pval=float(stats.chi2.sf(q1, k - 1)),
        I2_ivw=_i2(q1, k - 1),
        Q_egger=q2,
        Q_egger_df=k - 2,
        Q_egger_pval=float(stats.chi2.sf(q2, k - 2)),
        Q_diff=diff,
        Q_diff_pval=float(stats.chi2.sf(max(diff, 0.0), 1)),
    )


def leave_one_out(
    bx: np.ndarray, by: np.ndarray, sx: np.ndarray, sy: np.ndarray
) -> list[MREstimate]:
    """IVW (random effects) leaving out each variant in turn (TwoSampleMR ``mr_leaveoneout``).

    Element ``j`` is the estimate without variant ``j``. Validated: BMI -> CHD without
    rs1000940 0.4541284 (SE 0.05843628) and five more (rtol 1e-6).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._sensitivity import leave_one_out
    >>> bx = np.array([.1, .2, .3]); len(leave_one_out(bx, bx, np.full(3, .01), np.full(3, .01)))
    3
    """
    k = np.asarray(bx).size
    if k < 3:
        raise SpecificationError(
            f"leave_one_out needs at least 3 variants (IVW on k - 1 >= 2); got {k}."
        )
    out = []
    for j in range(k):
        m = np.arange(k) != j
        out.append(ivw(bx[m], by[m], sx[m], sy[m]))
    return out


def single_snp(
    bx: np.ndarray, by: np.ndarray, sx: np.ndarray, sy: np.ndarray, *, alpha: float = 0.05
) -> list[MREstimate]:
    """Wald ratio of each variant (TwoSampleMR ``mr_singlesnp``; first-order SE ``sy/|bx|``).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._sensitivity import single_snp
    >>> [round(r.b, 2) for r in single_snp(np.array([.1, .2]), np.array([.05, .2]), np.full(2, .01), np.full(2, .01))]
    [0.5, 1.0]
    """
    return [
        wald_ratio(bx[j : j + 1], by[j : j + 1], sx[j : j + 1], sy[j : j + 1], alpha=alpha)
        for j in range(np.asarray(bx).size)
    ]


@dataclass(frozen=True, eq=False)
class PressoResult(ResultMixin):
    """MR-PRESSO (Verbanck, Chen, Neale & Do 2018, Nat Genet 50:693).

    Attributes
    ----------
    rss_obs, global_pval : float
        Observed residual sum of squares and the global test's empirical p-value.
    outlier_rss, outlier_pval : ndarray
        Per-variant squared residual and Bonferroni-corrected empirical p-value (NaN when the
        global test is not significant, as MR-PRESSO skips the outlier test then). Read-only.
    outliers : ndarray of int
        Indices of variants with ``outlier_pval <= signif``. Read-only.
    raw_b, raw_se, raw_pval : float
        IVW ``lm`` fit (no SE floor; t p-value on k - 1 df), as MR-PRESSO prints "Raw".
    corrected_b, corrected_se, corrected_pval : float
        The same without the outliers (NaN when there are none).
    distortion, distortion_pval : float
        Distortion test: ``100 (raw - corrected) / |corrected|`` and its empirical p-value.
    n_dist : int
        Number of simulated data sets.
    snps : tuple of str
        Variant names (``"0", "1", ...`` when called with arrays).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1); bx = rng.uniform(.05, .2, 20)
    >>> by = .5 * bx + rng.normal(0, .01, 20); by[0] += 0.3
    >>> res = mr_presso(bx, by, np.full(20, .005), np.full(20, .01), n_dist=200, seed=2)
    >>> res.tidy()["term"].tolist()
    ['raw', 'outlier-corrected']
    """

    rss_obs: float
    global_pval: float
    outlier_rss: np.ndarray
    outlier_pval: np.ndarray
    outliers: np.ndarray
    raw_b: float
    raw_se: float
    raw_pval: float
    corrected_b: float
    corrected_se: float
    corrected_pval: float
    distortion: float
    distortion_pval: float
    n_dist: int
    snps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("outlier_rss", "outlier_pval", "outliers"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name))))
        if not self.snps:
            object.__setattr__(self, "snps", tuple(str(i) for i in range(self.outlier_rss.size)))

    @property
    def nsnp(self) -> int:
        """Number of variants tested."""
        return int(self.outlier_rss.size)

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """The raw IVW fit and, when outliers were removed, the outlier-corrected one.

        t intervals on the residual df (``k - 1``), as the p-values MR-PRESSO reports.
        """
        from sleeppain.results import check_conf_level

        q = 1 - (1 - check_conf_level(conf_level)) / 2
        rows = []
        for term, b, se, p, k in (
            ("raw", self.raw_b, self.raw_se, self.raw_pval, self.nsnp),
            (
                "outlier-corrected",
                self.corrected_b,
                self.corrected_se,
                self.corrected_pval,
                self.nsnp - int(self.outliers.size),
            ),
        ):
            if not np.isfinite(b):
                continue
            df = float(k - 1)
            half = float(stats.t.ppf(q, df)) * se
            rows.append(
                {
                    "term": term,
                    "estimate": b,
                    "std_error": se,
                    "statistic": b / se,
                    "df": df,
                    "p_value": p,
                    "conf_low": b - half,
                    "conf_high": b + half,
                    "method": "mr_presso",
                    "nsnp": k,
                }
            )
        return tidy_frame(pd.DataFrame(rows), context=["method", "nsnp"])

    def glance(self) -> pd.DataFrame:
        """One row: global test, number of outliers, distortion test, ``n_dist``."""
        return pd.DataFrame(
            [
                {
                    "nsnp": self.nsnp,
                    "rss_obs": self.rss_obs,
                    "global_pval": self.global_pval,
                    "n_outliers": int(self.outliers.size),
                    "distortion": self.distortion,
                    "distortion_pval": self.distortion_pval,
                    "n_dist": self.n_dist,
                }
            ]
        )

    def outlier_table(self) -> pd.DataFrame:
        """One row per variant: ``SNP, rss, p_value`` (Bonferroni), ``outlier``."""
        flag = np.zeros(self.nsnp, dtype=bool)
        flag[self.outliers] = True
        return pd.DataFrame(
            {
                "SNP": list(self.snps),
                "rss": self.outlier_rss,
                "p_value": self.outlier_pval,
                "outlier": flag,
            }
        )

    def _display(self) -> Display:
        header = (
            ("simulated data sets", str(self.n_dist)),
            ("global test", f"RSS = {_fmt(self.rss_obs)}, {_p(self.global_pval)}"),
        )
        notes: list[str] = []
        if self.outliers.size:
            names = ", ".join(self.snps[i] for i in self.outliers[:10])
            more = " ..." if self.outliers.size > 10 else ""
            notes.append(f"outliers ({self.outliers.size}): {names}{more}")
            if np.isfinite(self.distortion):
                notes.append(
                    f"distortion {_fmt(self.distortion, digits=1)}%, {_p(self.distortion_pval)}"
                )
        else:
            notes.append("no outlier at the 0.05 level (Bonferroni)")
        t = self.tidy().set_index("term")[["nsnp", "estimate", "std_error", "df", "p_value"]]
        t["df"] = t["df"].astype(int)
        return Display(
            title="MR-PRESSO",
            header=header,
            tables=(DisplayTable(t, digits=4),),
            notes=tuple(notes),
        )


def _lm_origin(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    k = x.size
    sxx = float(np.sum(w * x * x))
    b = float(np.sum(w * x * y) / sxx)
    sigma = math.sqrt(float(np.sum(w * (y - b * x) ** 2)) / (k - 1))
    se = sigma / math.sqrt(sxx)
    return b, se, float(2 * stats.t.sf(abs(b / se), k - 1))


def _loo_beta(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Leave-one-out slopes through the origin for weighted data; X, Y shape (m, k)."""
    sxy = np.sum(X * Y, axis=-1, keepdims=True)
    sxx = np.sum(X * X, axis=-1, keepdims=True)
    return (sxy - X * Y) / (sxx - X * X)


def _check_arrays(
    where: str, snps: tuple[str, ...] | None, **arrays: np.ndarray
) -> tuple[np.ndarray, ...]:
    """1-d float arrays of one length, finite, positive SEs; errors name the variants."""
    out = tuple(np.asarray(a, dtype=float) for a in arrays.values())
    shapes = {a.shape for a in out}
    if len(shapes) != 1 or out[0].ndim != 1:
        raise SpecificationError(
            f"{where}: {', '.join(arrays)} must be 1-d arrays of the same length; got shapes "
            f"{[a.shape for a in out]}."
        )
    names = snps if snps is not None else tuple(str(i) for i in range(out[0].size))
    for key, a in zip(arrays, out, strict=True):
        bad = ~np.isfinite(a)
        if key.startswith("s"):
            bad |= np.isfinite(a) & (a <= 0)
        if bad.any():
            idx = np.nonzero(bad)[0]
            ex = ", ".join(f"{names[i]} ({a[i]:g})" for i in idx[:3])
            what = (
                "missing, infinite or non-positive"
                if key.startswith("s")
                else "missing or infinite"
            )
            raise DataStructureError(
                f"{where}: {idx.size} variant(s) have a {what} {key} (e.g. {ex}); "
                "a simulation-based test cannot use them. Drop those variants (sp.mr.harmonise "
                "sets mr_keep=False for them) and call again."
            )
    return out


def check_n_dist(n_dist: Any, name: str = "n_dist") -> int:
    """Validate MR-PRESSO's number of simulated data sets (a whole number >= 10)."""
    if isinstance(n_dist, bool) or not isinstance(n_dist, int | np.integer) or n_dist < 10:
        raise SpecificationError(
            f"mr_presso: {name}={n_dist!r} simulated data sets cannot give an empirical "
            "p-value; pass a whole number >= 10 (MRPRESSO recommends NbDistribution >= k / "
            "0.05, e.g. 1000)."
        )
    return int(n_dist)


def mr_presso(
    bx: np.ndarray,
    by: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    *,
    n_dist: int = 1000,
    signif: float = 0.05,
    seed: int | np.random.SeedSequence | None = None,
    snps: tuple[str, ...] | None = None,
) -> PressoResult:
    """MR-PRESSO global test, outlier test and outlier-corrected IVW (one exposure).

    Follows the MRPRESSO R package (``mr_presso`` with ``OUTLIERtest = DISTORTIONtest =
    TRUE``): variants are oriented to a positive exposure association; weights ``1/sy^2``;
    the observed RSS is the sum of squared weighted residuals of each variant about the IVW fit
    without it; ``n_dist`` data sets are simulated (``bx* ~ N(bx, sx)``, ``by* ~ N(beta_-j
    bx_j, sy)``) and their RSS compared; per-variant outlier p-values are Bonferroni corrected.
    Randomness from ``np.random.default_rng(seed)``: the p-values agree with R's within Monte
    Carlo error only.

    Raises
    ------
    DataStructureError
        A missing or infinite association or a non-positive SE (named by variant): a NaN would
        otherwise make every simulated RSS compare false and the global p-value 0.
    SpecificationError
        Fewer than 4 variants, ``n_dist < 10``, or an invalid ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._sensitivity import mr_presso
    >>> rng = np.random.default_rng(1); bx = rng.uniform(.05, .2, 20); by = .5 * bx + rng.normal(0, .01, 20)
    >>> by[0] += 0.3
    >>> res = mr_presso(bx, by, np.full(20, .005), np.full(20, .01), n_dist=200, seed=2)
    >>> res.global_pval < 0.05, 0 in res.outliers
    (True, True)
    """
    from sleeppain.results import check_seed

    seed = check_seed(seed)
    n_dist = check_n_dist(n_dist)
    if not 0 < signif < 1:
        raise SpecificationError(f"mr_presso: signif={signif!r} must lie strictly between 0 and 1.")
    bx, by, sx, sy = _check_arrays("mr_presso", snps, bx=bx, by=by, sx=sx, sy=sy)
    k = bx.size
    if k < 4:
        raise SpecificationError(
            f"mr_presso needs more than 3 variants (MRPRESSO: 'Not enough instrumental variables'); got {k}."
        )
    sign = np.sign(bx)
    sign[sign == 0] = 1.0
    bx = bx * sign
    by = by * sign
    w = sy**-2.0
    sw = np.sqrt(w)
    rng = np.random.default_rng(seed)
    beta_loo_obs = _loo_beta((bx * sw)[None, :], (by * sw)[None, :])[0]
    rss_obs = float(np.sum((by * sw - beta_loo_obs * bx * sw) ** 2))
    # simulated data: exposure around bx, outcome around the LOO prediction for each variant
    bx_r = rng.normal(bx, sx, size=(n_dist, k))
    by_r = rng.normal(beta_loo_obs * bx, sy, size=(n_dist, k))
    beta_loo_r = _loo_beta(bx_r * sw, by_r * sw)
    rss_exp = np.sum((by_r * sw - beta_loo_r * bx_r * sw) ** 2, axis=1)
    global_p = float(np.sum(rss_exp > rss_obs) / n_dist)
    dif2 = (by - bx * beta_loo_obs) ** 2
    outlier_p = np.full(k, np.nan)
    if global_p < signif:
        exp2 = (by_r - bx_r * beta_loo_obs[None, :]) ** 2
        raw_p = np.sum(exp2 > dif2[None, :], axis=0) / n_dist
        outlier_p = np.minimum(raw_p * k, 1.0)
    outliers = np.nonzero(outlier_p <= signif)[0]
    raw_b, raw_se, raw_p_ = _lm_origin(bx, by, w)
    cb = cse = cp = dist = dist_p = float("nan")
    if 0 < outliers.size < k - 1:
        m = np.ones(k, dtype=bool)
        m[outliers] = False
        cb, cse, cp = _lm_origin(bx[m], by[m], w[m])
        # distortion test: random sets of the same size (outliers + resampled non-outliers)
        others = np.nonzero(m)[0]
        bias_exp = np.empty(n_dist)
        n_draw = k - outliers.size
        for d in range(n_dist):
            draw = rng.choice(others, size=n_draw, replace=True)
            idx = np.concatenate([outliers, draw])
            bias_exp[d] = _lm_origin(bx[idx], by[idx], w[idx])[0]
        bias_obs = (raw_b - cb) / abs(cb)
        bias_rel = (raw_b - bias_exp) / np.abs(bias_exp)
        dist = 100.0 * bias_obs
        dist_p = float(np.sum(np.abs(bias_rel) > abs(bias_obs)) / n_dist)
    return PressoResult(
        rss_obs=rss_obs,
        global_pval=global_p,
        outlier_rss=dif2,
        outlier_pval=outlier_p,
        outliers=outliers,
        raw_b=raw_b,
        raw_se=raw_se,
        raw_pval=raw_p_,
        corrected_b=cb,
        corrected_se=cse,
        corrected_pval=cp,
        distortion=dist,
        distortion_pval=dist_p,
        n_dist=int(n_dist),
        snps=tuple(snps) if snps is not None else (),
    )


@dataclass(frozen=True)
class SteigerResult(ResultMixin):
    """MR Steiger directionality test (Hemani, Tilling & Davey Smith 2017, PLoS Genet 13:e1007081).

    ``r2_exposure``, ``r2_outcome``: variance explained by the instruments (sum over variants);
    ``correct_direction``: ``r2_exposure > r2_outcome``; ``z``, ``pval``: the test of equal
    correlations (Fisher z, independent samples, as ``psych::r.test``).

    ``tidy()`` has one row: ``estimate`` is ``atanh(r_exposure) - atanh(r_outcome)``,
    ``std_error`` ``sqrt(1/(n_exposure - 3) + 1/(n_outcome - 3))``, ``statistic`` is ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> s = steiger(np.full(10, 1e-3), np.full(10, 1e-5), 1e5, 1e5)
    >>> bool(s.tidy()["statistic"].iloc[0] == s.z)
    True
    """

    r2_exposure: float
    r2_outcome: float
    correct_direction: bool
    z: float
    pval: float
    n_exposure: float
    n_outcome: float

    @property
    def std_error(self) -> float:
        """SE of the difference of Fisher-z transformed correlations."""
        return math.sqrt(1 / (self.n_exposure - 3) + 1 / (self.n_outcome - 3))

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """One row: the Fisher-z difference, its SE, ``z``, normal p-value and interval."""
        from sleeppain.results import check_conf_level

        est = self.z * self.std_error
        half = float(stats.norm.ppf(1 - (1 - check_conf_level(conf_level)) / 2)) * self.std_error
        row = {
            "term": "atanh(r_exposure) - atanh(r_outcome)",
            "estimate": est,
            "std_error": self.std_error,
            "statistic": self.z,
            "df": np.nan,
            "p_value": self.pval,
            "conf_low": est - half,
            "conf_high": est + half,
            "method": "steiger",
        }
        return tidy_frame(pd.DataFrame([row]), context=["method"])

    def glance(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([dict(vars(self))])

    def _display(self) -> Display:
        verdict = (
            "exposure -> outcome supported"
            if self.correct_direction
            else "REVERSE direction suggested"
        )
        return Display(
            title="Steiger directionality",
            header=(
                ("R^2 exposure", _fmt(self.r2_exposure)),
                ("R^2 outcome", _fmt(self.r2_outcome)),
                (
                    "direction",
                    f"{verdict} (z = {_fmt(self.z, digits=2)}, {_p(self.pval)})",
                ),
            ),
        )


def steiger(
    r2_exposure: np.ndarray, r2_outcome: np.ndarray, n_exposure: float, n_outcome: float
) -> SteigerResult:
    """Steiger test from per-variant R^2 (TwoSampleMR ``mr_steiger`` / ``directionality_test``).

    ``r = sqrt(sum R^2)`` for each trait; ``z = (atanh r_exp - atanh r_out) /
    sqrt(1/(n_exp - 3) + 1/(n_out - 3))`` with the mean sample sizes; two-sided normal p.
    Per-variant R^2 come from :func:`rsq_from_bsen` (continuous traits) or
    :func:`rsq_from_lor` (binary traits, liability scale).

    Examples
    --------
    >>> import numpy as np
    >>> from sleeppain.mr._sensitivity import steiger
    >>> s = steiger(np.full(10, 1e-3), np.full(10, 1e-5), 1e5, 1e5)
    >>> s.correct_direction, s.pval < 1e-10
    (True, True)
    """
    r_e = math.sqrt(float(np.nansum(r2_exposure)))
    r_o = math.sqrt(float(np.nansum(r2_outcome)))
    if not (n_exposure > 3 and n_outcome > 3):
        raise SpecificationError("steiger: sample sizes must exceed 3.")
    if r_e >= 1 or r_o >= 1:
        raise SpecificationError(
            "steiger: the instruments explain all the variance (sum R^2 >= 1); the variants are "
            "probably not independent (clump them) or the sample size is wrong."
        )
    z = (math.atanh(r_e) - math.atanh(r_o)) / math.sqrt(1 / (n_exposure - 3) + 1 / (n_outcome - 3))
    return SteigerResult(
        r2_exposure=r_e**2,
        r2_outcome=r_o**2,
        correct_direction=r_e > r_o,
        z=z,
        pval=float(2 * stats.norm.sf(abs(z))),
        n_exposure=float(n_exposure),
        n_outcome=float(n_outcome),
    )
