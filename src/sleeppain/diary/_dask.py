"""A diary held in a Dask DataFrame, and ``sp.crosslag`` on it.

:meth:`sleeppain.Diary.from_dask` returns a :class:`DaskDiary`: the Dask frame and the
arguments of :meth:`~sleeppain.Diary.from_frame`. Each partition (all of its persons'
rows) becomes an ordinary :class:`~sleeppain.Diary` where it lives, so calendar lags,
within-person deviations and person means are built inside the partition by the same code
as in memory. Two passes:

1. each partition returns, per variable, the sum and count of its person means (and person
   covariates); the grand mean of person means is combined from them;
2. each partition builds both directions' model frames, moves the grand-mean-centred
   columns from its own grand mean to the global one, and reduces them to per-person
   statistics (:func:`sleeppain.mixed._dask.partition_stats`); the two models are then
   fitted on the combined statistics as ``sp.lmm`` does on Dask.

The fits equal ``sp.crosslag`` in memory on the same rows (tests/dask).

Examples
--------
>>> import sleeppain as sp
>>> dd = __import__("pytest").importorskip("dask.dataframe")
>>> df = sp.datasets.sample_diary()
>>> ddiary = sp.Diary.from_dask(dd.from_pandas(df, npartitions=2, sort=True), id="id",
...                             day="day", sleep="sleep_quality")
>>> ddiary.npartitions
2
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import DataStructureError, LagCoverageWarning, SpecificationError
from sleeppain.results import Display, DisplayTable, ResultMixin, readonly, tidy_frame

__all__ = ["DaskCrossLagResult", "DaskDiary", "crosslag_dask"]

_GRAND = {"sleep_m": "sleep", "pain_m": "pain"}


@dataclass(frozen=True, eq=False)
class DaskDiary:
    """A diary in a Dask DataFrame (see :meth:`sleeppain.Diary.from_dask`).

    Attributes
    ----------
    ddf : dask.dataframe.DataFrame
        One row per person-day; every person's rows in one partition.
    id, day : str
    sleep : tuple of str
    sleep_timing : str
    options : mapping
        Further arguments of :meth:`~sleeppain.Diary.from_frame`, applied per partition.
    """

    ddf: Any = field(repr=False)
    id: str
    day: str
    sleep: tuple[str, ...] = ()
    sleep_timing: str = "previous_night"
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def npartitions(self) -> int:
        """Number of partitions of the Dask frame."""
        return int(self.ddf.npartitions)

    def partition_diary(self, pdf: pd.DataFrame) -> Any:
        """The in-memory :class:`~sleeppain.Diary` of one partition."""
        from sleeppain.diary import Diary

        return Diary.from_frame(
            pdf,
            id=self.id,
            day=self.day,
            sleep=list(self.sleep) or None,
            sleep_timing=self.sleep_timing,
            **dict(self.options),
        )


def from_dask(
    ddf: Any,
    *,
    id: str,
    day: str,
    sleep: str | list[str] | tuple[str, ...] | None = None,
    sleep_timing: str = "previous_night",
    **options: Any,
) -> DaskDiary:
    """Build a :class:`DaskDiary` (the body of :meth:`sleeppain.Diary.from_dask`).

    Raises
    ------
    SpecificationError
        ``ddf`` is not a Dask DataFrame, or lacks the id/day columns.
    """
    from sleeppain._distributed import is_dask_frame

    if not is_dask_frame(ddf):
        raise SpecificationError(
            f"Diary.from_dask needs a dask.dataframe.DataFrame, got {type(ddf).__name__}; "
            "use sp.Diary.from_frame for a pandas DataFrame."
        )
    missing = [c for c in (id, day) if c not in ddf.columns]
    if missing:
        raise SpecificationError(
            f"Diary.from_dask: column(s) {missing} not in the Dask DataFrame "
            f"(columns: {list(ddf.columns)[:20]})."
        )
    cols = (sleep,) if isinstance(sleep, str) else tuple(sleep or ())
    return DaskDiary(
        ddf=ddf, id=id, day=day, sleep=cols, sleep_timing=sleep_timing, options=options
    )


# ------------------------------------------------------------------ partition work
def _grand_parts(pdf: pd.DataFrame, ddiary: DaskDiary, spec: Any) -> dict[str, Any]:
    """Pass 1: per variable, the sum and count of this partition's person means."""
    if len(pdf) == 0:
        return {"ids": np.zeros(0, dtype=object), "sums": {}}
    diary = ddiary.partition_diary(pdf)
    ids = diary.data["id"].to_numpy()
    sums: dict[str, tuple[float, int]] = {}
    for var in (*spec.sleep, spec.pain):
        pm = diary.person_mean(var).to_numpy(dtype=float)
        per = pd.Series(pm).groupby(ids, sort=False).first().to_numpy()
        ok = ~np.isnan(per)
        sums[var] = (float(per[ok].sum()), int(ok.sum()))
    for c in spec.person_covariates:
        vals = diary.data[c].to_numpy(dtype=float, na_value=np.nan)
        per = pd.Series(vals).groupby(ids, sort=False).min().to_numpy()
        ok = ~np.isnan(per)
        sums[c] = (float(per[ok].sum()), int(ok.sum()))
    return {"ids": np.asarray(pd.unique(pdf[ddiary.id]), dtype=object), "sums": sums}


def _model_parts(
    pdf: pd.DataFrame,
    ddiary: DaskDiary,
    spec: Any,
    local: Mapping[str, float],
    grand: Mapping[str, float],
    plans: Mapping[tuple[str, str], Any],
) -> dict[tuple[str, str], Any]:
    """Pass 2: both directions' model frames, re-centred, reduced to person statistics."""
    from sleeppain.analysis._frames import FrameOptions, build_frames
    from sleeppain.mixed._dask import partition_stats

    out: dict[tuple[str, str], Any] = {}
    if len(pdf) == 0:
        return out
    diary = ddiary.partition_diary(pdf)
    opts = FrameOptions(
        covariates=spec.covariates,
        person_covariates=spec.person_covariates,
        random_slopes=spec.random_slopes,
        lagged_outcome=spec.lagged_outcome,
        outcome_mean=spec.outcome_mean,
    )
    for s in spec.sleep:
        main, _ = build_frames(diary, s, spec.pain, opts)
        for d, mf in main.items():
            frame = mf.frame
            for col in frame.columns:
                var = {"sleep_m": s, "pain_m": spec.pain}.get(col)
                if var is None and col.startswith("pcov_"):
                    var = spec.person_covariates[int(col[5:]) - 1]
                if var is not None:
                    frame[col] = frame[col] + (local[var] - grand[var])
            out[(s, d)] = {
                "stats": partition_stats(frame, plans[(s, d)]),
                "accounting": mf.accounting,
                "labels": dict(mf.labels),
                "focal": mf.focal[0],
                "sd_parts": (
                    _moments(frame[mf.focal[0]].to_numpy(float)),
                    _moments(mf.outcome_within),
                ),
            }
    return out


def _moments(x: np.ndarray) -> tuple[int, float, float]:
    """Count, mean and sum of squared deviations of the finite values (Chan et al. 1983)."""
    v = np.asarray(x, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0, 0.0, 0.0
    m = float(v.mean())
    return int(v.size), m, float(((v - m) ** 2).sum())


def _combined_sd(parts: list[tuple[int, float, float]]) -> float:
    """SD (ddof 1) of the union of the parts' values, by the pairwise update."""
    n, mean, m2 = 0, 0.0, 0.0
    for nb, mb, m2b in parts:
        if nb == 0:
            continue
        tot = n + nb
        delta = mb - mean
        m2 += m2b + delta * delta * n * nb / tot
        mean += delta * nb / tot
        n = tot
    return float(np.sqrt(m2 / (n - 1))) if n > 1 else np.nan


# ------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class DaskCrossLagResult(ResultMixin):
    """Both directions of ``sp.crosslag`` fitted on a Dask diary.

    ``effects()``, ``tidy()``, ``glance()`` and ``accounting()`` have the columns of
    :class:`~sleeppain.CrossLagResult`'s methods of the same name and equal them on the
    same data (tests/dask). Methods that need the model rows (person effects, bootstrap
    comparisons, extensions, the report) are not available.

    Attributes
    ----------
    spec : CrossLagSpec
        The normalised specification.
    fits : mapping
        ``(sleep, direction) -> DaskLmmResult``.
    formulas : mapping
        ``(sleep, direction) -> formula``.
    """

    spec: Any = field(repr=False)
    _fits: Mapping[tuple[str, str], Any] = field(repr=False)
    _accounting: pd.DataFrame = field(repr=False)
    formulas: Mapping[tuple[str, str], str] = field(repr=False)
    _labels: Mapping[tuple[str, str], Mapping[str, str]] = field(repr=False)
    _focal: Mapping[tuple[str, str], tuple[str, float, float]] = field(repr=False)

    @property
    def fits(self) -> Mapping[tuple[str, str], Any]:
        """The fits by ``(sleep, direction)`` (read-only mapping; fits are frozen)."""
        return readonly(dict(self._fits))

    def accounting(self) -> pd.DataFrame:
        """Rows and persons per model, summed over partitions (as ``CrossLagResult``)."""
        return self._accounting.copy()

    def effects(self, conf_level: float = 0.95) -> pd.DataFrame:
        """The within-person cross-lagged effect of each direction (see ``CrossLagResult``)."""
        from sleeppain.analysis._frames import DIRECTIONS
        from sleeppain.analysis._models import focal_rows, holm
        from sleeppain.analysis._result import EFFECT_COLUMNS

        acc = self._accounting.set_index(["sleep", "direction"])
        rows = []
        for s in self.spec.sleep:
            for d in DIRECTIONS:
                fit = self._fits[(s, d)]
                focal, sd_x, sd_y = self._focal[(s, d)]
                r = focal_rows(fit, (focal,), conf_level).iloc[0].to_dict()
                beta = float(fit.fixef[focal])
                r["std_estimate"] = beta * sd_x / sd_y if sd_y > 0 else np.nan
                r["slope_sd"] = np.nan
                if self.spec.random_slopes:
                    vc = fit.varcorr()
                    sel = vc[(vc["term1"] == focal) & vc["term2"].isna() & (vc["group"] == "id")]
                    r["slope_sd"] = float(sel["sd"].iloc[0]) if len(sel) else np.nan
                r["n_obs"] = int(acc.loc[(s, d), "rows_used"])
                r["n_persons"] = int(acc.loc[(s, d), "persons_used"])
                rows.append({"sleep": s, "direction": d, **r})
        tab = pd.DataFrame(rows)
        tab["p_holm"] = np.nan
        for d in DIRECTIONS:
            m = (tab["direction"] == d).to_numpy()
            tab.loc[m, "p_holm"] = holm(tab.loc[m, "p_value"].to_numpy(float))
        if len(self.spec.sleep) == 1:
            tab = tab.set_index("direction").drop(columns="sleep")
        else:
            tab = tab.set_index(["sleep", "direction"])
        return tab[EFFECT_COLUMNS]

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Every fixed coefficient of both models, stacked (house schema)."""
        parts = []
        for (s, d), fit in self._fits.items():
            labels = self._labels[(s, d)]
            t = fit.tidy(conf_level=conf_level)
            t = t.assign(
                direction=d, sleep=s, label=[labels.get(x, x) for x in t["term"].astype(str)]
            )
            parts.append(t)
        return tidy_frame(
            pd.concat(parts, ignore_index=True),
            context=["direction", "sleep", "effect", "group", "label"],
        )

    def glance(self) -> pd.DataFrame:
        """One row per model: observations, persons, fit statistics, convergence."""
        acc = self._accounting.set_index(["sleep", "direction"])
        rows = []
        for (s, d), fit in self._fits.items():
            g = fit.glance().iloc[0]
            row: dict[str, Any] = {"sleep": s, "direction": d, "formula": self.formulas[(s, d)]}
            row["nobs"] = acc.loc[(s, d), "rows_used"]
            row["persons"] = acc.loc[(s, d), "persons_used"]
            for c in ("sigma", "logLik", "AIC", "BIC", "converged", "singular"):
                row[c] = g[c]
            rows.append(row)
        return pd.DataFrame(rows)

    def _display(self) -> Display:
        eff = self.effects()[["estimate", "std_error", "df", "p_value", "std_estimate"]]
        return Display(
            title="Cross-lagged sleep-pain models (Dask)",
            header=tuple((f"{d} ({s})", f) for (s, d), f in self.formulas.items()),
            tables=(DisplayTable(eff, title="Cross-lagged effects"),),
        )


def crosslag_dask(ddiary: DaskDiary, spec: Any) -> DaskCrossLagResult:
    """``sp.crosslag`` on a :class:`DaskDiary` (default main models, ``estimator="lmm"``).

    Raises
    ------
    SpecificationError
        Options that need the whole table (GEE, DSEM, extensions).
    DataStructureError
        A person's rows in more than one partition.
    """
    import dask
    from sleeppain.mixed._dask import _design, combine, make_plan

    unsupported = [
        name
        for name, on in (
            ("estimator other than 'lmm'", spec.estimator != "lmm"),
            ("quadratic", spec.quadratic),
            ("asymmetric", spec.asymmetric),
            ("moderator", spec.moderator is not None),
            ("time_of_day", spec.time_of_day),
        )
        if on
    ]
    if unsupported:
        raise SpecificationError(
            f"sp.crosslag on a Dask diary fits the two main models with estimator='lmm' "
            f"(covariates and person covariates allowed); not available: "
            f"{', '.join(unsupported)}. Fit those in memory (a pandas DataFrame or sp.Diary)."
        )
    parts = ddiary.ddf.to_delayed()
    recipe = dataclasses.replace(ddiary, ddf=None)  # what the tasks need, without the graph
    first = dask.compute(*[dask.delayed(_grand_parts)(p, recipe, spec) for p in parts])
    ids = np.concatenate([r["ids"] for r in first])
    sid = pd.Series(ids)
    if sid.duplicated().any():
        example = sid[sid.duplicated()].iloc[0]
        raise DataStructureError(
            f"{int(sid.duplicated().sum())} person(s) have rows in more than one partition, "
            f"e.g. {ddiary.id}={example!r}; lags and person means need each person's rows "
            f"in one partition. Repartition first: ddf.shuffle({ddiary.id!r}) or "
            f"ddf.set_index({ddiary.id!r}) then ddf.reset_index()."
        )
    variables = [*spec.sleep, spec.pain, *spec.person_covariates]
    grand = {}
    for v in variables:
        tot = sum(r["sums"].get(v, (0.0, 0))[0] for r in first)
        cnt = sum(r["sums"].get(v, (0.0, 0))[1] for r in first)
        grand[v] = tot / cnt if cnt else 0.0
    locals_ = [
        {
            v: (r["sums"][v][0] / r["sums"][v][1] if r["sums"].get(v, (0, 0))[1] else 0.0)
            for v in variables
        }
        for r in first
    ]
    # formulas and plans from the model terms (known without reading the data)
    formulas: dict[tuple[str, str], str] = {}
    covs = [f"cov_{i}" for i in range(1, len(spec.covariates) + 1)]
    pcovs = [f"pcov_{i}" for i in range(1, len(spec.person_covariates) + 1)]
    for s in spec.sleep:
        for d, outcome, cross, lagged, own, other in (
            ("sleep->pain", "pain_next", "sleep_w", "pain_w", "pain_m", "sleep_m"),
            ("pain->sleep", "sleep", "pain_w", "sleep_w_prev", "sleep_m", "pain_m"),
        ):
            terms = [cross]
            if spec.lagged_outcome:
                terms.append(lagged)
            terms.append(other)
            if spec.outcome_mean:
                terms.append(own)
            terms += covs + pcovs
            re = f"(1 + {cross} | id)" if spec.random_slopes else "(1 | id)"
            formulas[(s, d)] = f"{outcome} ~ {' + '.join(terms)} + {re}"
    cols = ["id", "pain_next", "sleep", "sleep_w", "pain_w", "sleep_w_prev", "sleep_m", "pain_m"]
    plans = {k: make_plan(f, [*cols, *covs, *pcovs]) for k, f in formulas.items()}
    second = dask.compute(
        *[
            dask.delayed(_model_parts)(p, recipe, spec, loc, grand, plans)
            for p, loc in zip(parts, locals_, strict=True)
        ]
    )
    fits: dict[tuple[str, str], Any] = {}
    rows = []
    caught: list[tuple[type[Warning], str]] = []
    labels: dict[tuple[str, str], dict[str, str]] = {}
    focal: dict[tuple[str, str], tuple[str, float, float]] = {}
    for key, plan in plans.items():
        stats = [r[key]["stats"] for r in second if key in r]
        accs = [r[key]["accounting"] for r in second if key in r]
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            design = _design(plan, combine(stats, plan), 2)
            fits[key] = design.fit_stats(reml=spec.reml, stacklevel=3)
        label = f"{key[1]} ({key[0]})"
        caught += [(w.category, f"crosslag {label} model: {w.message}") for w in got]
        row: dict[str, Any] = {
            "sleep": key[0],
            "direction": key[1],
            "rows_available": sum(a.rows_available for a in accs),
            "rows_used": sum(a.rows_used for a in accs),
            "rows_dropped": sum(a.rows_dropped for a in accs),
            "persons": sum(a.persons for a in accs),
            "persons_used": sum(a.persons_used for a in accs),
        }
        for a in accs:
            for term, n in a.missing_by_term:
                row[f"missing: {term}"] = row.get(f"missing: {term}", 0) + n
        rows.append(row)
        got0 = next(r[key] for r in second if key in r)
        labels[key] = got0["labels"]
        focal[key] = (
            got0["focal"],
            _combined_sd([r[key]["sd_parts"][0] for r in second if key in r]),
            _combined_sd([r[key]["sd_parts"][1] for r in second if key in r]),
        )
    short = [r for r in rows if r["persons_used"] < r["persons"]]
    if short:
        detail = "; ".join(
            f"{r['direction']} ({r['sleep']}): {r['persons'] - r['persons_used']} of {r['persons']}"
            for r in short
        )
        caught.append(
            (
                LagCoverageWarning,
                "some persons have no usable lagged pair (no consecutive days with every "
                f"term observed) and are left out: {detail}. See res.accounting().",
            )
        )
    for cat, msg in caught:
        warnings.warn(msg, cat, stacklevel=4)
    return DaskCrossLagResult(
        spec=spec,
        _fits=fits,
        _accounting=pd.DataFrame(rows),
        formulas=formulas,
        _labels=labels,
        _focal=focal,
    )


def crosslag_entry(
    data: Any, spec: Any, *, id: str | None, day: str | None, timing: str | None
) -> DaskCrossLagResult:
    """``sp.crosslag`` given a Dask DataFrame (with ``id=``, ``day=``) or a DaskDiary."""
    from sleeppain._distributed import is_dask_frame

    needed = list(
        dict.fromkeys([spec.pain, *spec.sleep, *spec.covariates, *spec.person_covariates])
    )
    if is_dask_frame(data):
        if id is None or day is None:
            raise SpecificationError(
                "crosslag: id= and day= are required with a Dask DataFrame, or pass "
                "sp.Diary.from_dask(ddf, id=..., day=...)."
            )
        data = from_dask(
            data,
            id=id,
            day=day,
            sleep=spec.sleep,
            sleep_timing=timing or "previous_night",
            columns=needed,
        )
    changes: dict[str, Any] = {}
    if timing is not None and timing != data.sleep_timing:
        changes["sleep_timing"] = timing
    if not set(spec.sleep) <= set(data.sleep):
        changes["sleep"] = tuple(dict.fromkeys([*data.sleep, *spec.sleep]))
    if changes:
        data = dataclasses.replace(data, **changes)
    return crosslag_dask(data, dataclasses.replace(spec, sleep_timing=data.sleep_timing))
