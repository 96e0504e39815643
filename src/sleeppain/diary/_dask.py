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

from sleeppain.errors import DataStructureError, SpecificationError
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
def _local_grand(diary: Any, spec: Any) -> dict[str, tuple[float, int]]:
    """Per variable, the sum and count of this partition's person means (person-level
    values for person covariates): what the grand means of person means are made of."""
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
    return sums


def _frames(pdf: pd.DataFrame, ddiary: DaskDiary, spec: Any) -> tuple[Any, dict[Any, Any]]:
    """The partition's Diary and its model frames (the in-memory stage, unchanged)."""
    from sleeppain.analysis._api import _model_frames

    diary = ddiary.partition_diary(pdf)
    frames, _ = _model_frames(diary, spec)
    return diary, frames


def _grand_column(col: str, sleep: str, spec: Any) -> str | None:
    """The variable whose grand mean of person means centres a model column, if any."""
    if col == "sleep_m":
        return sleep
    if col == "pain_m":
        return spec.pain
    if col.startswith("pcov_"):
        return str(spec.person_covariates[int(col[5:]) - 1])
    return None


def _survey(pdf: pd.DataFrame, ddiary: DaskDiary, spec: Any) -> dict[str, Any]:
    """Pass 1: person ids, person-mean sums, and per model its accounting, labels, the
    moments of the focal predictor and of the outcome's within-person deviation, and an
    empty copy of the model frame (columns, dtypes, formula)."""
    if len(pdf) == 0:
        return {"ids": np.zeros(0, dtype=object), "sums": {}, "models": {}}
    diary, frames = _frames(pdf, ddiary, spec)
    models = {}
    for key, mf in frames.items():
        focal = mf.focal[0]
        models[key] = {
            "empty": dataclasses.replace(mf, _frame=mf.frame.iloc[:0], outcome_within=np.empty(0)),
            "accounting": mf.accounting,
            "sd_parts": (
                _moments(mf.frame[focal].to_numpy(float)),
                _moments(mf.outcome_within),
            ),
        }
    return {
        "ids": np.asarray(pd.unique(pdf[ddiary.id]), dtype=object),
        "sums": _local_grand(diary, spec),
        "models": models,
    }


def _model_rows(
    pdf: pd.DataFrame,
    ddiary: DaskDiary,
    spec: Any,
    key: tuple[str, str],
    grand: Mapping[str, float],
    meta: pd.DataFrame,
) -> pd.DataFrame:
    """One model's rows of this partition, grand-mean-centred columns at the global means."""
    if len(pdf) == 0:
        return meta
    diary, frames = _frames(pdf, ddiary, spec)
    local = _local_grand(diary, spec)
    frame = frames[key].frame
    for col in frame.columns:
        var = _grand_column(str(col), key[0], spec)
        if var is not None and local[var][1]:
            frame[col] = frame[col] + (local[var][0] / local[var][1] - grand[var])
    return frame


_SIZED: dict[type, type] = {}


def _with_length(ddf: Any, n: int) -> Any:
    """The same Dask DataFrame, whose ``len()`` returns the known ``n`` without computing."""
    base = type(ddf)
    if base not in _SIZED:
        _SIZED[base] = type(
            "SizedDaskFrame",
            (base,),
            {"__len__": lambda self: self._sleeppain_len, "__module__": __name__},
        )
    out = _SIZED[base](ddf.expr)
    out._sleeppain_len = int(n)
    return out


@dataclass(frozen=True, eq=False)
class _DaskModelFrame:
    """A model frame whose rows are a Dask DataFrame: what the in-memory fitting stage
    (``analysis._models.fit_frame``) reads of a ModelFrame, with ``frame`` lazy."""

    empty: Any
    rows: Any
    accounting: Any

    @property
    def frame(self) -> Any:
        """The model's rows (a Dask DataFrame; ``sp.lmm`` reads it partition by partition).

        Its ``len()`` is the row count already known from the survey pass, so that the
        fitting stage's emptiness check does not read the data once more.
        """
        return _with_length(self.rows, self.accounting.rows_used)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.empty, name)


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
    model_notes: tuple[tuple[str, str], ...] = ()

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
        from sleeppain.analysis._models import focal_rows
        from sleeppain.analysis._result import EFFECT_COLUMNS, CrossLagResult, effects_frame

        acc = self._accounting.set_index(["sleep", "direction"])
        rows = []
        for s in self.spec.sleep:
            for d in DIRECTIONS:
                fit = self._fits[(s, d)]
                focal, sd_x, sd_y = self._focal[(s, d)]
                r = focal_rows(fit, (focal,), conf_level).iloc[0].to_dict()
                beta = float(fit.fixef[focal])
                r["std_estimate"] = beta * sd_x / sd_y if sd_y > 0 else np.nan
                r["slope_sd"] = CrossLagResult._slope_sd(self, fit, focal)  # type: ignore[arg-type]
                r["n_obs"] = int(acc.loc[(s, d), "rows_used"])
                r["n_persons"] = int(acc.loc[(s, d), "persons_used"])
                rows.append({"sleep": s, "direction": d, **r})
        return effects_frame(rows, len(self.spec.sleep))[EFFECT_COLUMNS]

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
            notes=tuple(f"{m}: {n}" for m, n in self.model_notes),
        )


def crosslag_dask(ddiary: DaskDiary, spec: Any) -> DaskCrossLagResult:
    """``sp.crosslag`` on a :class:`DaskDiary` (main models, ``estimator="lmm"``).

    The stages are those of ``sp.crosslag`` in memory: each partition is a Diary whose
    model frames come from the same builder; the fitting stage (random-effects choice,
    warnings) is the same, given model frames whose rows are Dask DataFrames, so ``sp.lmm``
    reads them partition by partition.

    Raises
    ------
    SpecificationError
        Options that need the whole table (GEE, DSEM, extensions).
    DataStructureError
        A person's rows in more than one partition.
    """
    import dask
    from sleeppain.analysis import _api
    from sleeppain.analysis._result import accounting_frame

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
    recipe = dataclasses.replace(ddiary, ddf=None)  # what the tasks need, without the graph
    parts = ddiary.ddf.to_delayed()
    survey = dask.compute(*[dask.delayed(_survey)(p, recipe, spec) for p in parts])
    ids = pd.Series(np.concatenate([r["ids"] for r in survey]))
    if ids.duplicated().any():
        example = ids[ids.duplicated()].iloc[0]
        raise DataStructureError(
            f"{int(ids.duplicated().sum())} person(s) have rows in more than one partition, "
            f"e.g. {ddiary.id}={example!r}; lags and person means need each person's rows "
            f"in one partition. Repartition first: ddf.shuffle({ddiary.id!r}) or "
            f"ddf.set_index({ddiary.id!r}) then ddf.reset_index()."
        )
    grand = {}
    for v in (*spec.sleep, spec.pain, *spec.person_covariates):
        tot = sum(r["sums"][v][0] for r in survey if v in r["sums"])
        cnt = sum(r["sums"][v][1] for r in survey if v in r["sums"])
        grand[v] = tot / cnt if cnt else 0.0
    live = [r for r in survey if r["models"]]
    frames: dict[tuple[str, str], _DaskModelFrame] = {}
    focal: dict[tuple[str, str], tuple[str, float, float]] = {}
    for key, first in live[0]["models"].items():
        empty = first["empty"]
        accs = [r["models"][key]["accounting"] for r in live]
        missing: dict[str, int] = {}
        for a in accs:
            for term, n in a.missing_by_term:
                missing[term] = missing.get(term, 0) + n
        acc = dataclasses.replace(
            accs[0],
            rows_available=sum(a.rows_available for a in accs),
            rows_used=sum(a.rows_used for a in accs),
            missing_by_term=tuple(missing.items()),
            persons=sum(a.persons for a in accs),
            persons_used=sum(a.persons_used for a in accs),
        )
        meta = empty.frame
        rows = ddiary.ddf.map_partitions(
            _model_rows, recipe, spec, key, grand, meta, meta=meta, align_dataframes=False
        )
        frames[key] = _DaskModelFrame(empty=empty, rows=rows, accounting=acc)
        focal[key] = (
            empty.focal[0],
            _combined_sd([r["models"][key]["sd_parts"][0] for r in live]),
            _combined_sd([r["models"][key]["sd_parts"][1] for r in live]),
        )
    fitted = _api._fit_models(frames, {}, spec)
    fits, caught = fitted[0], list(fitted[2])
    notes = tuple(fitted[3]) if len(fitted) > 3 else ()
    caught += _api._coverage_warnings(frames)
    for label, cat, msg in caught:
        text = msg if label == "data" else f"crosslag {label} model: {msg}"
        warnings.warn(text, cat, stacklevel=4)
    return DaskCrossLagResult(
        spec=spec,
        _fits=fits,
        _accounting=accounting_frame(frames),
        formulas={k: f.formula for k, f in fits.items()},
        _labels={k: dict(mf.labels) for k, mf in frames.items()},
        _focal=focal,
        model_notes=notes,
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
