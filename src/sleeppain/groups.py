"""Cross-sectional group comparisons of sleep: people with vs without pain (``sp.compare_groups``).

For surveys and cohorts that compare sleep between two groups, e.g. total sleep time,
sleep efficiency, sleep-onset latency, WASO and sleep quality in people with and without low
back pain. Per outcome: group means and SDs, the difference, Hedges' g with its confidence
interval, Welch's t test, the Mann-Whitney U test with the rank-biserial correlation (when
asked for, or when the data are strongly skewed), and a covariate-adjusted difference by OLS
with HC3 standard errors. Several outcomes get Holm-adjusted p-values.

References
----------
- Welch's t test and the Mann-Whitney U test: checked against ``scipy.stats.ttest_ind(
  equal_var=False)`` and ``scipy.stats.mannwhitneyu`` (scipy 1.17) at rtol 1e-10.
- OLS with HC3 errors (MacKinnon & White 1985): checked against statsmodels 0.14
  ``OLS(...).fit(cov_type="HC3")`` at rtol 1e-10.
- Hedges' g with the exact small-sample correction J(m) = Gamma(m/2) / (sqrt(m/2)
  Gamma((m-1)/2)) (Hedges 1981) and its interval from the large-sample SE
  sqrt((n1+n2)/(n1 n2) + g^2 / (2 (n1+n2))) with a t quantile on n1+n2-2 df, as pingouin
  0.5 ``compute_effsize``/``compute_esci``; checked against pingouin at rtol 1e-10
  (``tests/reference/groups/``).

Examples
--------
>>> import numpy as np, pandas as pd
>>> import sleeppain as sp
>>> rng = np.random.default_rng(1)
>>> df = pd.DataFrame({"lbp": np.repeat([0, 1], 60),
...                    "tst": np.r_[rng.normal(420, 40, 60), rng.normal(395, 40, 60)]})
>>> res = sp.compare_groups(df, group="lbp", outcomes=["tst"])
>>> res.tidy()[["term", "estimate", "method"]].round(3)
  term  estimate method
0  tst   -25.225  welch
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from sleeppain.errors import DataDropWarning, DataStructureError, SpecificationError
from sleeppain.results import (
    Display,
    DisplayTable,
    ResultMixin,
    check_conf_level,
    check_n_boot,
    check_seed,
    readonly,
    tidy_frame,
)

__all__ = ["GroupComparisonResult", "compare_groups", "hedges_g", "ols_hc3", "welch_t"]

#: ``method="auto"`` switches to the Mann-Whitney U test when either group's sample
#: skewness (adjusted Fisher-Pearson, as scipy ``skew(bias=False)``) exceeds this in absolute
#: value: Bulmer's (1979) rule of thumb for "highly skewed".
SKEW_THRESHOLD = 1.0
_METHODS = ("auto", "parametric", "nonparametric")


# --------------------------------------------------------------------------------------
# Pure functions of arrays
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WelchT:
    """Welch's unequal-variance t test of mean(b) - mean(a)."""

    difference: float
    std_error: float
    statistic: float
    df: float
    p_value: float
    conf_low: float
    conf_high: float


def welch_t(a: np.ndarray, b: np.ndarray, conf_level: float = 0.95) -> WelchT:
    """Welch's t test of ``mean(b) - mean(a)`` with the Welch-Satterthwaite df.

    Examples
    --------
    >>> r = welch_t(np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 9]))
    >>> round(r.difference, 3), round(r.df, 2)
    (2.75, 4.08)
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    n1, n2 = a.size, b.size
    v1, v2 = a.var(ddof=1) / n1, b.var(ddof=1) / n2
    diff = float(b.mean() - a.mean())
    se = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    t = diff / se
    p = 2 * stats.t.sf(abs(t), df)
    q = stats.t.ppf(0.5 + conf_level / 2, df)
    return WelchT(diff, se, t, float(df), float(p), diff - q * se, diff + q * se)


@dataclass(frozen=True)
class HedgesG:
    """Hedges' g of mean(b) - mean(a) over the pooled SD, with its interval."""

    g: float
    std_error: float
    conf_low: float
    conf_high: float


def hedges_g(
    a: np.ndarray, b: np.ndarray, conf_level: float = 0.95, correction: str = "exact"
) -> HedgesG:
    """Hedges' g (pooled SD, small-sample corrected) and its confidence interval.

    ``correction="exact"`` multiplies Cohen's d by J(m) = Gamma(m/2) / (sqrt(m/2)
    Gamma((m-1)/2)), m = n1 + n2 - 2 (Hedges 1981); ``"approximate"`` by
    1 - 3 / (4 (n1 + n2) - 9), as pingouin (they differ by O(m^-3)). The interval is
    g +/- t_{m} * sqrt((n1+n2)/(n1 n2) + g^2/(2(n1+n2))), as pingouin's ``compute_esci``.

    Examples
    --------
    >>> r = hedges_g(np.array([1.0, 2, 3, 4, 5]), np.array([3.0, 4, 5, 6, 7]))
    >>> round(r.g, 4)
    1.1418
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    n1, n2 = a.size, b.size
    m = n1 + n2 - 2
    sp_ = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / m)
    d = (b.mean() - a.mean()) / sp_
    if correction == "exact":
        j = _hedges_j(m)
    elif correction == "approximate":
        j = 1 - 3 / (4 * (n1 + n2) - 9)
    else:
        raise SpecificationError(f"correction={correction!r}; use 'exact' or 'approximate'.")
    g = float(d * j)
    se = math.sqrt((n1 + n2) / (n1 * n2) + g**2 / (2 * (n1 + n2)))
    q = stats.t.ppf(0.5 + conf_level / 2, m)
    return HedgesG(g, se, g - q * se, g + q * se)


@dataclass(frozen=True)
class OlsHC3:
    """OLS coefficients with HC3 (MacKinnon & White 1985) standard errors."""

    coef: np.ndarray
    std_error: np.ndarray
    df_resid: int


def ols_hc3(X: np.ndarray, y: np.ndarray) -> OlsHC3:
    """OLS of ``y`` on ``X`` with HC3 sandwich standard errors.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1.0]])
    >>> r = ols_hc3(X, np.array([1.0, 2, 3, 3, 5, 4]))
    >>> r.coef.round(3).tolist()
    [2.0, 2.0]
    """
    X, y = np.asarray(X, float), np.asarray(y, float)
    q, r = np.linalg.qr(X)
    coef = np.linalg.solve(r, q.T @ y)
    resid = y - X @ coef
    xtx_inv = np.linalg.inv(r.T @ r)
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    w = resid**2 / (1 - h) ** 2
    cov = xtx_inv @ (X.T * w) @ X @ xtx_inv
    return OlsHC3(coef, np.sqrt(np.diag(cov)), X.shape[0] - X.shape[1])


def _hedges_j(m: int) -> float:
    """Hedges' exact small-sample correction factor J(m) on m degrees of freedom."""
    return math.exp(
        special.gammaln(m / 2) - math.log(math.sqrt(m / 2)) - special.gammaln((m - 1) / 2)
    )


def _rank_biserial(u_b: float, n1: int, n2: int) -> float:
    """Rank-biserial r = 2 U_b / (n1 n2) - 1: positive when group b tends to be higher."""
    return 2 * u_b / (n1 * n2) - 1


def _holm(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    pv = p[ok]
    order = np.argsort(pv)
    m = pv.size
    adj = np.maximum.accumulate((m - np.arange(m)) * pv[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupComparisonResult(ResultMixin):
    """Two-group comparison of one or more outcomes (``sp.compare_groups``).

    ``tidy()`` has one row per outcome: ``term`` is the outcome, ``estimate`` the difference
    of means (second level minus first, or covariate-adjusted when covariates are given,
    see ``method``), with the test's statistic, df and p-value; ``p_holm`` when several
    outcomes are compared. ``groups()`` gives per-group n, mean, SD and median.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame({"lbp": np.repeat([0, 1], 40), "se": rng.normal(85, 6, 80)})
    >>> res = sp.compare_groups(df, group="lbp", outcomes=["se"])
    >>> res.glance()[["n_1", "n_2"]].iloc[0].tolist()
    [40, 40]
    """

    _table: pd.DataFrame
    _groups: pd.DataFrame
    _accounting: pd.DataFrame
    _data: pd.DataFrame = field(repr=False)
    group: str
    levels: tuple[Any, Any]
    outcomes: tuple[str, ...]
    covariates: tuple[str, ...]
    paired: bool
    conf_level: float
    notes: tuple[str, ...]
    id: str | None = None

    def tidy(self) -> pd.DataFrame:
        """One row per outcome in the house schema, plus the test and effect-size columns."""
        return tidy_frame(self._table, context=["method", "method_reason"])

    def groups(self) -> pd.DataFrame:
        """Per outcome and group: n, mean, SD, median (and nights per person for diaries)."""
        return readonly(self._groups)

    def accounting(self) -> pd.DataFrame:
        """Per outcome: what went in, what was used and what was dropped, and why.

        ``input_rows = missing_group + other_group_levels + (rows in the two groups)``. The
        analysis ``unit`` is a row, or a person when repeated rows were averaged with ``id=``;
        ``units = used + missing_outcome + missing_covariate (+ unpaired_rows when paired)``.
        """
        return readonly(self._accounting)

    def glance(self) -> pd.DataFrame:
        """One row: group sizes, outcomes, covariates, paired, confidence level."""
        n = self._groups.groupby("group", observed=True)["n"].max()
        return pd.DataFrame(
            {
                "group": [self.group],
                "level_1": [str(self.levels[0])],
                "level_2": [str(self.levels[1])],
                "n_1": [int(n.get(self.levels[0], 0))],
                "n_2": [int(n.get(self.levels[1], 0))],
                "n_outcomes": [len(self.outcomes)],
                "covariates": [", ".join(self.covariates)],
                "paired": [self.paired],
                "conf_level": [self.conf_level],
            }
        )

    def _paragraph(self) -> list[str]:
        a, b = self.levels
        pct = round(self.conf_level * 100)
        out = []
        g = self._groups.set_index(["outcome", "group"])
        for _, r in self._table.iterrows():
            o = r["term"]
            ga, gb = g.loc[(o, a)], g.loc[(o, b)]
            direction = "higher" if r["estimate"] > 0 else "lower"
            test = {
                "welch": f"Welch's t({r['df']:.1f}) = {r['statistic']:.2f}",
                "mann_whitney": f"Mann-Whitney U = {r['statistic']:.0f}",
                "ols_hc3": f"OLS with HC3 errors, t({r['df']:.0f}) = {r['statistic']:.2f}",
                "paired_t": f"paired t({r['df']:.0f}) = {r['statistic']:.2f}",
                "wilcoxon": f"Wilcoxon W = {r['statistic']:.0f}",
            }[r["method"]]
            p = r["p_holm"] if "p_holm" in r and not pd.isna(r.get("p_holm")) else r["p_value"]
            ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
            adj = " (Holm-adjusted)" if "p_holm" in self._table.columns else ""
            es = (
                f"Hedges' g = {r['hedges_g']:.2f}, {pct} % CI {r['g_conf_low']:.2f} to "
                f"{r['g_conf_high']:.2f}"
            )
            if r["method"] in ("mann_whitney", "wilcoxon"):
                es += f"; rank-biserial r = {r['rank_biserial']:.2f}"
            kind = "adjusted difference" if r["method"] == "ols_hc3" else "difference"
            out.append(
                f"{o}: {b} (n = {int(gb['n'])}, mean {gb['mean']:.2f}, SD {gb['sd']:.2f}) was "
                f"{direction} than {a} (n = {int(ga['n'])}, mean {ga['mean']:.2f}, SD "
                f"{ga['sd']:.2f}); {kind} {r['estimate']:.2f} ({pct} % CI {r['conf_low']:.2f} "
                f"to {r['conf_high']:.2f}), {test}, {ptxt}{adj}; {es}."
            )
        return out

    def _display(self) -> Display:
        cols = [
            "estimate",
            "conf_low",
            "conf_high",
            "statistic",
            "df",
            "p_value",
            "p_holm",
            "hedges_g",
            "g_conf_low",
            "g_conf_high",
            "rank_biserial",
            "method",
        ]
        t = self._table.set_index("term")
        t = t[[c for c in cols if c in t.columns]]
        header = (
            ("Group", f"{self.group}: {self.levels[1]} minus {self.levels[0]}"),
            ("Outcomes", ", ".join(self.outcomes)),
            ("Covariates", ", ".join(self.covariates) or "none"),
            ("Design", "paired" if self.paired else "independent groups"),
        )
        return Display(
            title="Group comparison",
            header=header,
            tables=(
                DisplayTable(t, "Differences"),
                DisplayTable(self._groups.set_index(["outcome", "group"]), "Groups"),
                DisplayTable(self._accounting.set_index("outcome"), "Data accounting"),
            ),
            notes=(*self._paragraph(), *self.notes),
        )

    def plot(self, kind: str = "both"):
        """Group distributions (box plots with points) and a forest plot of Hedges' g.

        Parameters
        ----------
        kind : {"both", "distributions", "forest"}

        Returns
        -------
        matplotlib.figure.Figure
        """
        from sleeppain.report._groups import plot_group_comparison

        return plot_group_comparison(self, kind)


# --------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------
def _as_frame(data: Any, group: str, outcomes: Sequence[str] | None, id: str | None):
    """Diary -> person-level means of its sleep measures; DataFrame as given."""
    from sleeppain.diary import Diary

    if isinstance(data, Diary):
        frame = data.data
        if group not in frame.columns:
            raise SpecificationError(
                f"group={group!r} is not a variable of the Diary (it has {list(data.variables)}). "
                "Keep the grouping column in the frame given to sp.Diary.from_frame (every "
                "column besides id= and day= becomes a diary variable), or pass a "
                "person-level DataFrame."
            )
        outs = list(outcomes) if outcomes else list(data.sleep)
        # Nights the Diary added to hold sleep ratings carry no day variables, so the
        # person-level group is missing there: take it from the person's own rows.
        person_group = frame.groupby("id", sort=False)[group].transform("first")
        frame = frame.assign(**{group: frame[group].where(frame[group].notna(), person_group)})
        return frame, outs, "id"
    if not isinstance(data, pd.DataFrame):
        to_pandas = getattr(data, "to_pandas", None)
        if callable(to_pandas):
            return _as_frame(to_pandas(), group, outcomes, id)
        raise DataStructureError(
            f"compare_groups needs a pandas DataFrame or a sleeppain Diary, got "
            f"{type(data).__module__}.{type(data).__name__}; convert it with .to_pandas()."
        )
    if not outcomes:
        raise SpecificationError("outcomes= is empty: name the columns to compare, e.g. ['tst'].")
    return data, list(outcomes), id


def _check_columns(frame: pd.DataFrame, cols: Sequence[str], arg: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise SpecificationError(
            f"{arg} names column(s) {missing} that are not in the data; the columns are "
            f"{[str(c) for c in frame.columns][:20]}."
        )


def _levels(frame: pd.DataFrame, group: str, levels: Sequence[Any] | None) -> tuple[Any, Any]:
    present = pd.unique(frame[group].dropna())
    if levels is not None:
        if len(levels) != 2:
            raise SpecificationError(f"levels={levels!r} must name exactly two groups.")
        absent = [lv for lv in levels if lv not in set(present)]
        if absent:
            try:
                values = sorted(_py(v) for v in present)
            except TypeError:
                values = [_py(v) for v in present]
            raise DataStructureError(
                f"group level(s) {absent} of levels= do not occur in column {group!r} "
                f"(dtype {frame[group].dtype}; its levels are {values[:10]}); an empty group "
                "cannot be compared. Give levels= as they appear in the column."
            )
        return tuple(levels)  # type: ignore[return-value]
    if len(present) != 2:
        try:
            values = sorted(_py(v) for v in present)
        except TypeError:
            values = [_py(v) for v in present]
        shown = [repr(v) for v in values]
        how = (
            f"Choose two with levels=(first, second), e.g. levels=({shown[0]}, {shown[1]})."
            if len(shown) > 2
            else "Both groups need at least one row with a value."
        )
        raise DataStructureError(
            f"column {group!r} has {len(present)} level(s) [{', '.join(shown[:10])}], but a "
            f"comparison needs exactly two. {how}"
        )
    try:
        return tuple(sorted(present))  # type: ignore[return-value]
    except TypeError:
        return tuple(present)  # type: ignore[return-value]


def _to_person_means(
    frame: pd.DataFrame, id: str, group: str, outcomes: Sequence[str], covariates: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Average repeated rows (nights) per person; the group must be constant per person."""
    nunique = frame.groupby(id, observed=True)[group].nunique(dropna=True)
    bad = nunique[nunique > 1]
    if len(bad):
        raise DataStructureError(
            f"column {group!r} changes within person(s) {list(bad.index[:5])} ({len(bad)} in "
            "all): a between-person comparison needs one group per person. Use paired=True to "
            "compare the same persons in two conditions."
        )
    frame = frame.assign(**{o: _finite(frame[o], o) for o in outcomes})
    numeric = [c for c in covariates if pd.api.types.is_numeric_dtype(frame[c].dtype)]
    categorical = [c for c in covariates if c not in numeric]
    for c in categorical:
        varies = frame.groupby(id, observed=True)[c].nunique(dropna=True)
        varies = varies[varies > 1]
        if len(varies):
            raise DataStructureError(
                f"categorical covariate {c!r} changes within person(s) "
                f"{[_py(v) for v in varies.index[:5]]} ({len(varies)} in all): rows are averaged "
                "per person, so a non-numeric covariate must be constant per person. Code it "
                "as numbers (then its person mean is used) or keep one value per person."
            )
    g = frame.groupby(id, observed=True, sort=True)
    means = g[list(outcomes) + numeric].mean()
    for c in categorical:
        means[c] = g[c].first()
    means = means[list(outcomes) + list(covariates)]
    means[group] = g[group].first()
    nights = g[list(outcomes)].count().add_prefix("n_nights_")
    return means.reset_index(), nights.reset_index()


def _py(value: Any) -> Any:
    """A NumPy scalar as the plain Python value (for messages: ``0``, not ``np.int64(0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _finite(values: pd.Series, outcome: str) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & v.isna()
    if bad.any():
        raise DataStructureError(
            f"outcome {outcome!r} has {int(bad.sum())} non-numeric value(s), e.g. "
            f"{values[bad].iloc[0]!r} in row {values[bad].index[0]!r}; convert the column to "
            "numbers (decimal commas: pd.to_numeric(s.str.replace(',', '.')))."
        )
    return v.replace([np.inf, -np.inf], np.nan)


def _choose_method(method: str, a: np.ndarray, b: np.ndarray) -> tuple[str, str]:
    if method == "parametric":
        return "parametric", "requested"
    if method == "nonparametric":
        return "nonparametric", "requested"
    sk = [float(stats.skew(x, bias=False)) if x.size > 2 else 0.0 for x in (a, b)]
    worst = max(sk, key=abs)
    if abs(worst) > SKEW_THRESHOLD:
        return "nonparametric", f"auto: skewness {worst:.2f} exceeds +/-{SKEW_THRESHOLD:g}"
    return "parametric", f"auto: skewness within +/-{SKEW_THRESHOLD:g} (max |{worst:.2f}|)"


def _design(
    frame: pd.DataFrame, group: str, level2: Any, covariates: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    cols = [np.ones(len(frame)), (frame[group] == level2).to_numpy(float)]
    names = ["(Intercept)", "group"]
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols.append(s.to_numpy(float))
            names.append(c)
        else:
            dummies = pd.get_dummies(s.astype("category"), prefix=c, drop_first=True, dtype=float)
            for d in dummies.columns:
                cols.append(dummies[d].to_numpy())
                names.append(str(d))
    return np.column_stack(cols), names


def _compare_one(
    frame: pd.DataFrame,
    outcome: str,
    group: str,
    levels: tuple[Any, Any],
    covariates: Sequence[str],
    method: str,
    conf_level: float,
    boot: tuple[int, np.random.Generator] | None,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    y = _finite(frame[outcome], outcome)
    keep = y.notna()
    acct: dict[str, Any] = {
        "outcome": outcome,
        "units": len(frame),
        "missing_outcome": int((~keep).sum()),
    }
    cov_missing = 0
    if covariates:
        cm = frame[list(covariates)].isna().any(axis=1) & keep
        cov_missing = int(cm.sum())
        keep &= ~cm
    acct["missing_covariate"] = cov_missing
    sub = frame.loc[keep]
    ys = y[keep]
    a = ys[sub[group] == levels[0]].to_numpy(float)
    b = ys[sub[group] == levels[1]].to_numpy(float)
    acct["used"] = int(a.size + b.size)
    if not keep.any():
        raise DataStructureError(
            f"outcome {outcome!r} has no usable value: {acct['missing_outcome']} of "
            f"{len(frame)} values missing"
            + (f", {cov_missing} more with a missing covariate" if covariates else "")
            + f". Check the column, or drop {outcome!r} from outcomes=."
        )
    for lv, x in zip(levels, (a, b), strict=True):
        if x.size < 2:
            raise DataStructureError(
                f"group {_py(lv)!r} has {x.size} usable value(s) of {outcome!r}: each group "
                "needs at least 2 (check the group's rows and missing values)."
            )
    if np.ptp(np.r_[a, b]) == 0:
        raise DataStructureError(
            f"outcome {outcome!r} is constant ({a[0]:g}) in both groups: there is nothing to "
            "compare. Drop it from outcomes=."
        )
    chosen, reason = _choose_method(method, a, b)
    g = hedges_g(a, b, conf_level)
    w = welch_t(a, b, conf_level)
    u = stats.mannwhitneyu(b, a, alternative="two-sided")
    rbc = _rank_biserial(float(u.statistic), a.size, b.size)
    row: dict[str, Any] = {
        "term": outcome,
        "hedges_g": g.g,
        "g_conf_low": g.conf_low,
        "g_conf_high": g.conf_high,
        "welch_t": w.statistic,
        "welch_p": w.p_value,
        "mw_u": float(u.statistic),
        "mw_p": float(u.pvalue),
        "rank_biserial": rbc,
        "difference": w.difference,
        "n_1": a.size,
        "n_2": b.size,
    }
    if covariates:
        X, _names = _design(sub, group, levels[1], covariates)
        if np.linalg.matrix_rank(X) < X.shape[1]:
            raise DataStructureError(
                f"the covariates {list(covariates)} are collinear with the group or each other "
                f"for outcome {outcome!r}; drop one of them."
            )
        fit = ols_hc3(X, ys.to_numpy(float))
        est, se, df = fit.coef[1], fit.std_error[1], fit.df_resid
        t = est / se
        q = stats.t.ppf(0.5 + conf_level / 2, df)
        row |= {
            "estimate": est,
            "std_error": se,
            "statistic": t,
            "df": float(df),
            "p_value": float(2 * stats.t.sf(abs(t), df)),
            "conf_low": est - q * se,
            "conf_high": est + q * se,
            "method": "ols_hc3",
            "method_reason": f"covariates given ({', '.join(covariates)}); {reason}",
        }
    elif chosen == "nonparametric":
        row |= {
            "estimate": w.difference,
            "std_error": w.std_error,
            "statistic": float(u.statistic),
            "df": np.nan,
            "p_value": float(u.pvalue),
            "conf_low": w.conf_low,
            "conf_high": w.conf_high,
            "method": "mann_whitney",
            "method_reason": reason,
        }
    else:
        row |= {
            "estimate": w.difference,
            "std_error": w.std_error,
            "statistic": w.statistic,
            "df": w.df,
            "p_value": w.p_value,
            "conf_low": w.conf_low,
            "conf_high": w.conf_high,
            "method": "welch",
            "method_reason": reason,
        }
    if boot is not None:
        n_boot, rng = boot
        ia = rng.integers(0, a.size, (n_boot, a.size))
        ib = rng.integers(0, b.size, (n_boot, b.size))
        diffs = b[ib].mean(1) - a[ia].mean(1)
        lo, hi = np.quantile(diffs, [0.5 - conf_level / 2, 0.5 + conf_level / 2])
        row |= {"boot_conf_low": float(lo), "boot_conf_high": float(hi)}
    return row, _group_rows(outcome, levels, (a, b)), acct


def _group_rows(
    outcome: str, levels: Sequence[Any], values: tuple[np.ndarray, np.ndarray]
) -> list[dict[str, Any]]:
    """Per-group descriptives (n, mean, sd, median), shared by the two-group comparisons."""
    return [
        {
            "outcome": outcome,
            "group": lv,
            "n": x.size,
            "mean": float(x.mean()),
            "sd": float(x.std(ddof=1)),
            "median": float(np.median(x)),
        }
        for lv, x in zip(levels, values, strict=True)
    ]


def _compare_paired(
    frame: pd.DataFrame,
    outcome: str,
    group: str,
    levels: tuple[Any, Any],
    id: str,
    method: str,
    conf_level: float,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    y = _finite(frame[outcome], outcome)
    sub = frame.assign(_y=y).dropna(subset=["_y"])
    wide = sub.groupby([id, group], observed=True)["_y"].mean().unstack(group)
    wide = wide.reindex(columns=list(levels))
    complete = wide.dropna()
    in_pairs = sub[id].isin(complete.index)
    acct = {
        "outcome": outcome,
        "units": len(frame),
        "missing_outcome": int(y.isna().sum()),
        "missing_covariate": 0,
        "unpaired_rows": int((~in_pairs).sum()),
        "unpaired_persons": int(len(wide) - len(complete)),
        "pairs": len(complete),
        "used": int(in_pairs.sum()),
    }
    if len(complete) < 2:
        raise DataStructureError(
            f"only {len(complete)} person(s) have {outcome!r} in both {levels[0]!r} and "
            f"{levels[1]!r}: a paired comparison needs at least 2 complete pairs."
        )
    a, b = complete[levels[0]].to_numpy(float), complete[levels[1]].to_numpy(float)
    d = b - a
    if np.ptp(d) == 0 and d[0] == 0:
        raise DataStructureError(
            f"outcome {outcome!r} is identical in both conditions for every person: nothing to compare."
        )
    n = d.size
    chosen, reason = _choose_method(method, d, d)
    se = d.std(ddof=1) / math.sqrt(n)
    t = d.mean() / se
    q = stats.t.ppf(0.5 + conf_level / 2, n - 1)
    # d_z with the exact small-sample correction on n - 1 df
    m = n - 1
    gz = d.mean() / d.std(ddof=1) * _hedges_j(m)
    gse = math.sqrt(1 / n + gz**2 / (2 * n))
    wil = stats.wilcoxon(b, a)
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    rbc = float((ranks[nz > 0].sum() - ranks[nz < 0].sum()) / ranks.sum()) if nz.size else 0.0
    row: dict[str, Any] = {
        "term": outcome,
        "estimate": float(d.mean()),
        "std_error": se,
        "conf_low": d.mean() - q * se,
        "conf_high": d.mean() + q * se,
        "hedges_g": gz,
        "g_conf_low": gz - stats.t.ppf(0.5 + conf_level / 2, m) * gse,
        "g_conf_high": gz + stats.t.ppf(0.5 + conf_level / 2, m) * gse,
        "rank_biserial": rbc,
        "difference": float(d.mean()),
        "n_1": n,
        "n_2": n,
    }
    if chosen == "nonparametric":
        row |= {
            "statistic": float(wil.statistic),
            "df": np.nan,
            "p_value": float(wil.pvalue),
            "method": "wilcoxon",
            "method_reason": reason + " (of the within-person differences)",
        }
    else:
        row |= {
            "statistic": t,
            "df": float(n - 1),
            "p_value": float(2 * stats.t.sf(abs(t), n - 1)),
            "method": "paired_t",
            "method_reason": reason + " (of the within-person differences)",
        }
    return row, _group_rows(outcome, levels, (a, b)), acct


def compare_groups(
    data: Any,
    *,
    group: str,
    outcomes: Sequence[str] | None = None,
    covariates: Sequence[str] = (),
    id: str | None = None,
    paired: bool = False,
    levels: Sequence[Any] | None = None,
    method: str = "auto",
    conf_level: float = 0.95,
    n_boot: int | None = None,
    seed: Any = None,
) -> GroupComparisonResult:
    """Compare sleep (or any outcome) between two groups, e.g. with vs without back pain.

    Parameters
    ----------
    data : DataFrame or Diary
        Person-level data (one row per person), or repeated rows per person with ``id=``
        (e.g. nights scored by :func:`sleeppain.sleep.score_diary`: join its columns onto
        the nights, ``df.join(sp.sleep.score_diary(df))``), which are first averaged per
        person; or a :class:`~sleeppain.Diary`, whose sleep measures are
        averaged per person (the ``groups()`` table says how many nights each mean rests on).
    group : str
        Column with exactly two levels (or choose two with ``levels=``).
    outcomes : list of str
        Outcome columns. For a Diary, defaults to its sleep measures.
    covariates : list of str
        Adjust the difference by OLS with HC3 errors (numeric, or categorical as dummies).
        Rows with a missing covariate are left out of that outcome's analysis and counted.
        Independent groups only (with ``paired=True`` person-level covariates cancel out);
        not with ``method="nonparametric"`` or ``n_boot``.
    id : str, optional
        Person column; rows are averaged per person (or paired by person with ``paired``).
    paired : bool
        The same persons measured in both conditions (``id=`` required): paired t test on
        the within-person differences, d_z with Hedges' correction, Wilcoxon signed-rank.
    levels : (first, second), optional
        The two groups to compare; differences are ``second - first``. Default: the two
        levels in sorted order (so 0/1 or False/True give "with minus without").
    method : {"auto", "parametric", "nonparametric"}
        ``"auto"`` uses the Mann-Whitney U test (rank-biserial r) when either group's
        skewness exceeds +/-1 (:data:`SKEW_THRESHOLD`) and Welch's t test otherwise; the
        ``method_reason`` column says which and why.
    conf_level : float
        Confidence level of all intervals.
    n_boot : int, optional
        Also give a percentile bootstrap interval of the difference of means
        (``boot_conf_low``, ``boot_conf_high``) from ``n_boot`` resamples within groups
        (independent groups only).
    seed : int, optional
        Keyword-only seed for the bootstrap.

    Returns
    -------
    GroupComparisonResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import sleeppain as sp
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"pain": rng.integers(0, 2, 200).astype(bool),
    ...                    "age": rng.normal(50, 10, 200)})
    >>> df["se"] = 85 - 4 * df["pain"] - 0.1 * (df["age"] - 50) + rng.normal(0, 6, 200)
    >>> res = sp.compare_groups(df, group="pain", outcomes=["se"], covariates=["age"])
    >>> res.tidy().loc[0, "method"]
    'ols_hc3'
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.compare_groups")  # a Dask frame: typed error, no .compute()
    if method not in _METHODS:
        raise SpecificationError(f"method={method!r}; use one of {list(_METHODS)}.")
    conf_level = check_conf_level(conf_level)
    seed = check_seed(seed)
    boot = None
    if n_boot is not None:
        boot = (check_n_boot(n_boot, minimum=100), np.random.default_rng(seed))
    covariates = tuple(covariates)
    frame, outs, id = _as_frame(data, group, outcomes, id)
    outs = list(dict.fromkeys(outs))
    _check_columns(frame, [group], "group=")
    _check_columns(frame, outs, "outcomes=")
    _check_columns(frame, covariates, "covariates=")
    if id is not None:
        _check_columns(frame, [id], "id=")
    overlap = set(outs) & ({group, *covariates})
    if overlap:
        raise SpecificationError(
            f"{sorted(overlap)} appear both as outcome and as group/covariate."
        )
    if paired and id is None:
        raise SpecificationError("paired=True needs id= to match each person's two conditions.")
    if paired and covariates:
        raise SpecificationError(
            f"covariates={list(covariates)} cannot adjust a paired comparison: it tests each "
            "person's difference between the two conditions, so person-level covariates "
            "cancel out. Leave covariates= out, or for day-level covariates fit a mixed "
            "model, e.g. sp.lmm('y ~ condition + covariate + (1 | id)', data)."
        )
    if covariates and not paired and method == "nonparametric":
        raise SpecificationError(
            f"method='nonparametric' (Mann-Whitney U) cannot adjust for covariates="
            f"{list(covariates)}; an adjusted comparison is OLS with HC3 errors "
            "(method='auto' or 'parametric'). Drop covariates= for the rank test."
        )
    if covariates and not paired and n_boot is not None:
        raise SpecificationError(
            "n_boot= bootstraps the unadjusted difference of means, but with covariates= "
            "the estimate is the adjusted difference (OLS, whose HC3 interval is already "
            "robust to unequal variances); leave n_boot= out, or drop covariates= for the "
            "bootstrap interval of the raw difference."
        )
    if paired and n_boot is not None:
        raise SpecificationError(
            "n_boot= gives a bootstrap interval for independent groups only; a paired "
            "comparison reports the paired t interval and the Wilcoxon signed-rank test. "
            "Leave n_boot= out with paired=True."
        )
    n_rows = len(frame)
    missing_group = int(frame[group].isna().sum())
    lv = _levels(frame, group, levels)
    other = int((frame[group].notna() & ~frame[group].isin(lv)).sum())
    frame = frame.loc[frame[group].isin(lv)]
    notes: list[str] = []
    nights = None
    if id is not None and not paired:
        frame, nights = _to_person_means(frame, id, group, outs, covariates)
        notes.append(
            f"Repeated rows were averaged per person ({len(frame)} persons); groups() gives the "
            "number of rows (nights) each mean rests on."
        )
    rows, grps, accts = [], [], []
    for o in outs:
        if paired:
            r, g, a = _compare_paired(frame, o, group, lv, id, method, conf_level)  # type: ignore[arg-type]
        else:
            r, g, a = _compare_one(frame, o, group, lv, covariates, method, conf_level, boot)
        if nights is not None:
            per = nights.set_index(id)[f"n_nights_{o}"]
            pm = frame.set_index(id)[group]
            for gg in g:
                ids = pm.index[pm == gg["group"]]
                nn = per.reindex(ids)
                gg["nights_median"] = float(nn.median())
                gg["nights_min"] = int(nn.min())
        a = {
            "outcome": a["outcome"],
            "input_rows": n_rows,
            "missing_group": missing_group,
            "other_group_levels": other,
            "unit": "person" if nights is not None else "row",
            **{k: v for k, v in a.items() if k != "outcome"},
        }
        rows.append(r)
        grps.extend(g)
        accts.append(a)
    table = pd.DataFrame(rows)
    if len(outs) > 1:
        table["p_holm"] = _holm(table["p_value"].to_numpy())
        notes.append(
            f"{len(outs)} outcomes were compared: p_holm adjusts the p-values for multiplicity "
            "(Holm 1979); read p_holm, not p_value, for claims about any single outcome."
        )
    acct = pd.DataFrame(accts)
    if covariates and int(acct["missing_covariate"].sum()):
        warnings.warn(
            f"{int(acct['missing_covariate'].sum())} row(s) with a missing covariate were left "
            "out of the adjusted comparison (listwise); accounting() lists them per outcome.",
            DataDropWarning,
            stacklevel=2,
        )
        notes.append(
            "Rows with a missing covariate were left out of the adjusted comparison (listwise "
            "deletion), as counted in the accounting."
        )
    return GroupComparisonResult(
        _table=table,
        _groups=pd.DataFrame(grps),
        _accounting=acct,
        _data=(
            # paired: the person-by-condition means the test compares (what plot() shows)
            frame.groupby([id, group], observed=True)[outs].mean().reset_index()
            if paired
            else frame
        ),
        group=group,
        levels=lv,
        outcomes=tuple(outs),
        covariates=covariates,
        paired=bool(paired),
        conf_level=conf_level,
        notes=tuple(notes),
        id=id if paired else None,
    )
