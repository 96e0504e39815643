"""The :class:`Diary` container: validated person-days with explicit calendar time."""

from __future__ import annotations

import datetime
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from sleeppain.diary import _core, _lagged, _time
from sleeppain.diary._accounting import DiaryAccounting, PairCount, VariableCoverage
from sleeppain.diary._ingest import Ingested, ingest
from sleeppain.diary._lagged import LaggedFrame
from sleeppain.diary._validate import suggest
from sleeppain.errors import (
    DataStructureError,
    LagCoverageWarning,
    SpecificationError,
    user_stacklevel,
)

__all__ = ["Diary", "SummaryText"]

SleepTiming = Literal["previous_night", "following_night"]
_TIMINGS = {"previous_night": 1, "following_night": 0}


def _timing(value: str) -> str:
    norm = str(value).replace("-", "_").replace(" ", "_").lower()
    if norm not in _TIMINGS:
        raise SpecificationError(
            f"sleep_timing={value!r} is not understood. Use 'previous_night' (a sleep rating "
            "made on day d describes the night before it: the usual morning diary) or "
            "'following_night' (it describes the night after day d)."
        )
    return norm


def _sleep_list(
    sleep: str | Sequence[str] | None, sleep_columns: str | Sequence[str] | None
) -> tuple[str, ...]:
    if sleep is not None and sleep_columns is not None:
        a = (sleep,) if isinstance(sleep, str) else tuple(sleep)
        b = (sleep_columns,) if isinstance(sleep_columns, str) else tuple(sleep_columns)
        if a != b:
            raise SpecificationError(
                "pass the sleep columns once, as sleep=... (sleep_columns= is an alias), not both."
            )
    chosen = sleep if sleep is not None else sleep_columns
    if chosen is None:
        return ()
    out = (chosen,) if isinstance(chosen, str | int) else tuple(chosen)
    out = tuple(str(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in out)
    if len(set(out)) != len(out):
        raise SpecificationError(f"sleep= lists a column twice: {list(out)}.")
    return out


class SummaryText(str):
    """The text of a diary's accounting; a ``str`` that also answers the record's attributes.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> d = sp.Diary.from_frame(pd.DataFrame({"id": [1], "day": [1], "pain": [2]}),
    ...                         id="id", day="day")
    >>> text = d.summary()
    >>> isinstance(text, str), text.persons
    (True, 1)
    """

    accounting: DiaryAccounting

    def __new__(cls, accounting: DiaryAccounting) -> SummaryText:
        obj = super().__new__(cls, str(accounting))
        obj.accounting = accounting
        return obj

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "accounting":
            raise AttributeError(name)
        return getattr(self.accounting, name)


@dataclass(frozen=True)
class _Canonical:
    person: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]
    n_reports: int


@dataclass(frozen=True, repr=False, eq=False)
class Diary:
    """A daily diary: one row per person and calendar day, sleep aligned to nights.

    Build with :meth:`from_frame` or :meth:`from_csv`. The diary is immutable; derived
    quantities (canonical frame, accounting) are computed once and cached.

    **Calendar.** Each row carries an integer calendar index ``day`` (integer study day, or
    days since 1970-01-01 for dates) and a display label ``day_label``. Lags are calendar
    steps within a person, never row shifts.

    **Nights.** Night *n* is the night between day *n* and day *n + 1*. In the canonical
    frame (:attr:`data`) the row (person, *n*) holds the day-*n* variables (pain, mood ...)
    and the night-*n* sleep variables, i.e. the night *after* day *n*. With
    ``sleep_timing="previous_night"`` (morning diary) a sleep rating reported on day *d*
    describes night *d - 1* and is moved to row *d - 1*; with ``"following_night"`` it stays
    on row *d*. A row exists for every reported day, and for every night with a sleep value
    even when its day has no report (e.g. the night before the first morning report).

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> df = pd.DataFrame({
    ...     "id": [1, 1, 1], "date": ["2024-03-01", "2024-03-02", "2024-03-04"],
    ...     "pain": [3, 5, 4], "sleep_quality": [6, 4, 7]})
    >>> d = sp.Diary.from_frame(df, id="id", day="date", sleep="sleep_quality")
    >>> print(d.data[["day", "day_label", "pain", "sleep_quality"]])
         day  day_label  pain  sleep_quality
    0  19782 2024-02-29   NaN            6.0
    1  19783 2024-03-01   3.0            4.0
    2  19784 2024-03-02   5.0            NaN
    3  19785 2024-03-03   NaN            7.0
    4  19786 2024-03-04   4.0            NaN
    >>> d.lag("pain").tolist()
    [nan, nan, 3.0, 5.0, nan]
    """

    _ingested: Ingested
    sleep: tuple[str, ...]
    sleep_timing: str
    id_column: str
    day_column: str
    prompt_column: str | None = None

    # ----------------------------------------------------------------- builders
    @staticmethod
    def from_dask(ddf: Any, *, id: str, day: str, **kwargs: Any) -> Any:
        """A diary in a Dask DataFrame, for ``sp.crosslag`` partition by partition.

        Takes the arguments of :meth:`from_frame`, applied to each partition where it lives
        (every person's rows must be in one partition: ``ddf.shuffle(id)`` otherwise).
        Returns a ``DaskDiary`` (see the guide page "Dask and clusters").

        Examples
        --------
        >>> import sleeppain as sp
        >>> dd = __import__("pytest").importorskip("dask.dataframe")
        >>> ddf = dd.from_pandas(sp.datasets.sample_diary(), npartitions=2, sort=True)
        >>> sp.Diary.from_dask(ddf, id="id", day="day", sleep="sleep_quality").sleep
        ('sleep_quality',)
        """
        from sleeppain.diary._dask import from_dask

        return from_dask(ddf, id=id, day=day, **kwargs)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        id: str,
        day: str,
        sleep_timing: SleepTiming | str = "previous_night",
        prompt: str | None = None,
        aggregate: str | Callable[..., Any] | Mapping[str, str | Callable[..., Any]] | None = None,
        scales: Mapping[str, tuple[float, float]] | None = None,
        tz: str | datetime.tzinfo | None = None,
        sleep: str | Sequence[str] | None = None,
        sleep_columns: str | Sequence[str] | None = None,
        levels: Mapping[str, Sequence[Any] | Mapping[Any, float]] | None = None,
        missing_values: Mapping[str, float | Sequence[float]] | None = None,
        out_of_range: Literal["warn", "raise", "set_missing"] = "warn",
        columns: Sequence[str] | None = None,
        decimal: str = ".",
    ) -> Diary:
        """Validate a long data frame (one row per report) and build a diary.

        Parameters
        ----------
        df : DataFrame
            One row per person and day, or per prompt when ``prompt=`` is given. A polars
            DataFrame, a pyarrow Table (anything with ``to_pandas()``) is converted first;
            pyarrow-backed columns are read like their numpy counterparts, and column labels
            are read as text (an integer label ``0`` is the column ``"0"``).
        id : str
            Person identifier column. Rows with a missing id are dropped and counted. Ids are
            compared as given: ``1`` (a number) beside ``"1"`` (text) raises
            DataStructureError ("ids look alike"); text ids that differ only in leading
            zeros, spaces or case (``"012"``, ``"12"``) are kept apart with a
            DataQualityWarning.
        day : str
            Day column: integer study days (at most 1,000,000 in absolute value), dates
            (``date`` objects or ISO strings such as ``"2024-03-02"``, any year 1-9999, kept
            at day resolution) or timestamps. Timestamps become local calendar days: a zoned
            timestamp is converted to ``tz`` (or kept in its own zone when ``tz`` is None); a
            timestamp without a zone is taken as local time. Rows with a missing day are
            dropped and counted.
        sleep_timing : {"previous_night", "following_night"}
            Which night a sleep column reported on day *d* describes: night *d - 1* (the
            usual morning diary) or night *d*.
        prompt : str, optional
            Column ordering the reports of a day (beep number, clock time ``"HH:MM"`` or
            timestamp). Rows are then prompts; use ``aggregate=`` to make person-days.
            The prompt-level data stay available as :attr:`prompts`.
        aggregate : str, callable or dict, optional
            How to combine several reports of a person-day: a pandas reducer name
            (``"mean"``, ``"median"``, ``"max"``, ``"first"``, ``"last"`` ...) or a function of a
            Series, for all variables or per variable (``{"pain": "mean", "sleep_quality":
            "first"}``). ``"first"``/``"last"`` take the first/last *non-missing* value in
            prompt order (or time order of timestamp days, else input order). Variables not
            in the dict must be constant within each day (person-level variables, items
            asked at one prompt only). Without ``aggregate``, duplicated (id, day) rows raise
            DataStructureError.
        scales : dict, optional
            ``{"pain": (0, 10)}``: declared rating scales; values outside are handled per
            ``out_of_range`` and counted in the accounting.
        tz : str, optional
            IANA time zone (e.g. ``"Europe/Oslo"``) in which zoned timestamps are read.
        sleep, sleep_columns : str or list of str, optional
            Sleep columns (aligned to nights, see the class notes). ``sleep_columns`` is an
            alias. They can also be declared later with :meth:`with_sleep`.
        levels : dict, optional
            Labelled answers to numbers: ``{"q": ["Very poor", "Poor", "Fair", "Good",
            "Very good"]}`` maps the labels to 1..k in order; a dict ``{"No": 0, "Yes": 1}``
            gives the codes. Labels not listed raise DataStructureError listing them.
        missing_values : dict, optional
            Codes meaning missing, per variable: ``{"sleep_quality": [0]}``. Counted.
        out_of_range : {"warn", "raise", "set_missing"}
            Values outside ``scales``: keep them with a ScaleWarning (default), raise
            DataStructureError, or set them missing (counted).
        columns : list of str, optional
            Variables to keep (default: all columns but id, day and prompt). Undeclared
            columns that are mostly free text are left out and listed in the accounting;
            a declared (or mostly numeric) column with non-numeric values raises.
            Infinite values are set missing, counted in the accounting and reported with a
            DataQualityWarning naming their rows; a variable without any value, and a column
            left out because it is named ``day_label`` (or ``prompt`` beside ``prompt=``),
            are reported the same way.
        decimal : str
            Decimal mark of numbers written as text: ``","`` reads ``"5,5"`` as 5.5. With the
            default ``"."``, a column of decimal-comma numbers raises DataStructureError
            saying so.

        Returns
        -------
        Diary

        Raises
        ------
        DataStructureError
            A named column is absent, values are not numeric, days cannot be parsed, an
            (id, day) pair repeats without ``aggregate``, a label is unknown, or values are
            out of scale with ``out_of_range="raise"``.
        SpecificationError
            An argument is malformed (unknown ``sleep_timing``, time zone or reducer).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 1, 1], "day": [1, 1, 2, 2], "beep": [1, 2, 1, 2],
        ...                    "pain": [2, 4, 5, 7]})
        >>> d = sp.Diary.from_frame(df, id="id", day="day", prompt="beep", aggregate="mean")
        >>> d.data["pain"].tolist(), d.accounting.dropped
        ([3.0, 6.0], {'missing id': 0, 'missing day': 0, 'merged into a person-day (aggregate)': 2})
        """
        from sleeppain._distributed import require_pandas

        require_pandas(df, "sp.Diary.from_frame")  # a Dask frame: typed error, no .compute()
        timing = _timing(sleep_timing)
        sleep_cols = _sleep_list(sleep, sleep_columns)
        ingested = ingest(
            df,
            id=id,
            day=day,
            prompt=prompt,
            aggregate=aggregate,
            scales=scales,
            tz=tz,
            levels=levels,
            missing_values=missing_values,
            out_of_range=out_of_range,
            columns=columns,
            sleep=sleep_cols,
            decimal=decimal,
        )
        return cls(ingested, sleep_cols, timing, str(id), str(day), prompt)

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str],
        *,
        encoding: str | None = None,
        sep: str | None = None,
        decimal: str = ".",
        csv_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Diary:
        """Read a delimited text file (``.csv``, or compressed ``.csv.gz``) and build a diary.

        The person-id column is read as text, so ``012`` and ``12`` stay two persons (with a
        DataQualityWarning that they look alike).

        Parameters
        ----------
        path : path-like
            The file.
        encoding : str, optional
            Text encoding (default UTF-8); e.g. ``"latin-1"`` or ``"cp1252"``.
        sep : str, optional
            Delimiter; default sniffed among ``,``, ``;``, tab and ``|``.
        decimal : str
            Decimal mark (``","`` for ``3,5``).
        csv_options : dict, optional
            More arguments for :func:`pandas.read_csv` (they win over the above).
        **kwargs
            As for :meth:`from_frame` (``id=`` and ``day=`` are required).

        Raises
        ------
        InputFileError
            The file is missing, a folder, empty, truncated, in another encoding, or not a
            table (the message names the file and the argument to change).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
        >>> pd.DataFrame({"id": [1, 1], "date": ["2024-01-01", "2024-01-02"],
        ...               "pain": [1, 2]}).to_csv(path, index=False)
        >>> sp.Diary.from_csv(path, id="id", day="date").accounting.person_days
        2
        """
        from sleeppain.diary._io import read_table

        id_col = kwargs.get("id")
        df = read_table(
            path,
            encoding=encoding,
            sep=sep,
            decimal=decimal,
            text_columns=[str(id_col)] if isinstance(id_col, str | int) else [],
            options=csv_options,
        )
        return cls.from_frame(df, decimal=decimal, **kwargs)

    def waves(
        self,
        days: int = 7,
        *,
        variables: str | Sequence[str] | None = None,
        start: str = "study",
        min_days: int = 1,
        n_waves: int | None = None,
    ) -> pd.DataFrame:
        """Block means of the diary (e.g. weekly), as long panel data for ``sp.riclpm``.

        See :func:`sleeppain.panel.diary_waves` for the parameters.

        Examples
        --------
        >>> import sleeppain as sp
        >>> diary = sp.Diary.from_frame(sp.datasets.sample_diary(), id="id", day="date",
        ...                             sleep="sleep_quality")
        >>> w = diary.waves(days=7, variables=["pain", "sleep_quality"])
        >>> sorted(w["wave"].unique().tolist())
        [1, 2, 3]
        >>> str(w["first_label"].min().date())  # the first diary day, 2024-03-04
        '2024-03-04'
        """
        from sleeppain.panel import diary_waves

        return diary_waves(
            self, days, variables=variables, start=start, min_days=min_days, n_waves=n_waves
        )

    def with_sleep(
        self, sleep: str | Sequence[str], sleep_timing: SleepTiming | str | None = None
    ) -> Diary:
        """A new diary with ``sleep`` declared as the sleep (night) columns.

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1], "day": [1, 2], "pain": [3, 4], "sq": [5, 6]})
        >>> d = sp.Diary.from_frame(df, id="id", day="day").with_sleep("sq")
        >>> d.data[["day", "pain", "sq"]].values.tolist()
        [[0.0, nan, 5.0], [1.0, 3.0, 6.0], [2.0, 4.0, nan]]
        """
        cols = _sleep_list(sleep, None)
        self.require(cols, "sleep")
        timing = self.sleep_timing if sleep_timing is None else _timing(sleep_timing)
        return replace(self, sleep=cols, sleep_timing=timing)

    # ---------------------------------------------------------------- accessors
    @property
    def variables(self) -> tuple[str, ...]:
        """Variable columns, in input order."""
        return tuple(name for name, _ in self._ingested.values)

    @property
    def day_kind(self) -> str:
        """``"integer"`` (study days) or ``"date"``."""
        return self._ingested.day_kind

    @property
    def ids(self) -> pd.Index:
        """Sorted unique person ids."""
        return self._ingested.ids

    @property
    def n_persons(self) -> int:
        """Number of persons."""
        return len(self._ingested.ids)

    @cached_property
    def _canon(self) -> _Canonical:
        ing = self._ingested
        person, day, values = _core.align_nights(
            ing.person, ing.day, dict(ing.values), self.sleep, _TIMINGS[self.sleep_timing]
        )
        for arr in (person, day, *values.values()):
            arr.setflags(write=False)
        return _Canonical(person, day, values, len(ing.day))

    @cached_property
    def _frame(self) -> pd.DataFrame:
        c = self._canon
        frame = pd.DataFrame(
            {
                "id": self.ids.take(c.person),
                "day": c.day,
                "day_label": _time.day_labels(c.day, self.day_kind),  # type: ignore[arg-type]
                **c.values,
            }
        )
        return frame

    @property
    def data(self) -> pd.DataFrame:
        """The canonical frame: one row per (person, calendar day *n*).

        Columns ``id``, ``day`` (integer calendar index), ``day_label`` (study day or date)
        and the variables; sleep variables hold night *n* (the night after day *n*). Sorted
        by id and day with a RangeIndex; :meth:`lag` and friends return Series on this index.
        """
        return self._frame.copy(deep=False)

    frame = data

    @property
    def prompts(self) -> pd.DataFrame | None:
        """Prompt-level reports (before ``aggregate``), or None without ``prompt=``/``aggregate=``.

        Columns ``id, day, day_label, [prompt,]`` and the variables, after validation, in
        prompt order. Sleep variables are *not* moved to nights here.
        """
        p = self._ingested.prompts
        return None if p is None else p.copy(deep=False)

    # --------------------------------------------------------------------- lags
    def require(self, cols: Sequence[str], arg: str = "columns") -> None:
        """Raise a helpful error unless every name in ``cols`` is a variable of the diary.

        Parameters
        ----------
        cols : sequence of str
            Variable names the caller needs.
        arg : str
            The caller's argument or function name, used in the message.

        Raises
        ------
        DataStructureError
            Naming the missing columns, close matches, and the diary's variables.

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> d = sp.Diary.from_frame(pd.DataFrame({"id": [1, 1], "day": [0, 1],
        ...                                       "pain": [3, 4]}), id="id", day="day")
        >>> d.require(["pain"])
        """
        missing = [c for c in cols if c not in self.variables]
        if missing:
            hints = "".join(suggest(c, self.variables) for c in missing)
            raise DataStructureError(
                f"{arg}: column(s) {missing} are not variables of this diary.{hints} "
                f"Variables: {list(self.variables)}."
            )

    def _values(self, col: str | pd.Series) -> tuple[np.ndarray, str]:
        if isinstance(col, pd.Series):
            if not col.index.equals(self._frame.index):
                raise DataStructureError(
                    f"the Series {col.name!r} is not aligned with diary.data (its index differs); "
                    "pass a Series computed on diary.data, e.g. diary.lag('pain') or "
                    "diary.data['pain'] * 2."
                )
            return col.to_numpy(dtype=np.float64, na_value=np.nan), str(col.name)
        if not isinstance(col, str):
            raise SpecificationError(
                f"expected a column name or a Series, got {type(col).__name__}."
            )
        self.require([col], "column")
        return self._canon.values[col], col

    def lag(self, col: str | pd.Series, k: int = 1) -> pd.Series:
        """The same person's value ``k`` calendar days earlier (``k < 0``: later).

        Missing when that day has no row or no value; never a row shift, never across
        persons. ``col`` is a variable name or a Series aligned with :attr:`data`.

        Returns
        -------
        Series
            Aligned with :attr:`data`, named ``{col}_lag{k}`` (``{col}_lead{-k}`` for k < 0).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 1, 2], "day": [1, 2, 4, 2], "pain": [1, 2, 4, 9]})
        >>> d = sp.Diary.from_frame(df, id="id", day="day")
        >>> d.lag("pain").tolist(), d.lead("pain").tolist()
        ([nan, 1.0, nan, nan], [2.0, nan, nan, nan])
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise SpecificationError(f"k must be an integer number of days, got {k!r}.")
        values, name = self._values(col)
        c = self._canon
        out = _core.calendar_lag(c.person, c.day, values, int(k))
        suffix = f"_lag{int(k)}" if k >= 0 else f"_lead{-int(k)}"
        return pd.Series(out, index=self._frame.index, name=f"{name}{suffix}")

    def lead(self, col: str | pd.Series, k: int = 1) -> pd.Series:
        """The same person's value ``k`` calendar days later: ``lag(col, -k)``.

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 1], "day": [1, 2, 4], "pain": [1, 2, 4]})
        >>> sp.Diary.from_frame(df, id="id", day="day").lead("pain", 2).tolist()
        [nan, 4.0, nan]
        """
        return self.lag(col, -k)

    lag_series = lag

    # ------------------------------------------------------ within / between
    def person_mean(self, col: str | pd.Series) -> pd.Series:
        """Each person's mean over all their available values of ``col``, on every row.

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 2], "day": [1, 2, 1], "pain": [2, 4, 9]})
        >>> sp.Diary.from_frame(df, id="id", day="day").person_mean("pain").tolist()
        [3.0, 3.0, 9.0]
        """
        values, name = self._values(col)
        pm = _core.person_means(self._canon.person, values, self.n_persons)
        return pd.Series(pm[self._canon.person], index=self._frame.index, name=f"{name}_pm")

    def within(self, col: str | pd.Series, *, detrend: bool = False) -> pd.Series:
        """Within-person deviation: value minus the person's mean (missing where the value is).

        With ``detrend=True`` the deviation is the residual of a per-person linear trend in
        the calendar day (persons with one value, or all on one day, get no trend).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 1], "day": [1, 2, 3], "pain": [1, 3, 8]})
        >>> d = sp.Diary.from_frame(df, id="id", day="day")
        >>> d.within("pain").tolist(), d.within("pain", detrend=True).round(3).tolist()
        ([-3.0, -1.0, 4.0], [0.5, -1.0, 0.5])
        """
        values, name = self._values(col)
        w = self._within(values, detrend)
        return pd.Series(w, index=self._frame.index, name=f"{name}_w")

    def _within(self, values: np.ndarray, detrend: bool) -> np.ndarray:
        c = self._canon
        pm = _core.person_means(c.person, values, self.n_persons)
        w = values - pm[c.person]
        if detrend:
            slope, tbar = _core.person_slopes(c.person, c.day, values, self.n_persons)
            w = w - slope[c.person] * (c.day - tbar[c.person])
        return w

    def between(self, col: str | pd.Series) -> pd.Series:
        """Between-person component: the person mean minus the grand mean of person means.

        The grand mean is the unweighted mean over persons of their person means (each
        person counts once, whatever their number of days).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 2], "day": [1, 2, 1], "pain": [2, 4, 9]})
        >>> sp.Diary.from_frame(df, id="id", day="day").between("pain").tolist()
        [-3.0, -3.0, 3.0]
        """
        values, name = self._values(col)
        pm = _core.person_means(self._canon.person, values, self.n_persons)
        grand = np.nanmean(pm) if np.any(~np.isnan(pm)) else np.nan
        return pd.Series(pm[self._canon.person] - grand, index=self._frame.index, name=f"{name}_m")

    def decompose(self, cols: str | Sequence[str], *, detrend: bool = False) -> pd.DataFrame:
        """Within/between decomposition of one or more variables.

        Returns
        -------
        DataFrame
            Aligned with :attr:`data`; per column ``{col}_w`` (within-person deviation, see
            :meth:`within`), ``{col}_pm`` (person mean over all available values) and
            ``{col}_m`` (between-person component: person mean centred at the grand mean of
            person means, see :meth:`between`).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 2], "day": [1, 2, 1], "pain": [2, 4, 9]})
        >>> sp.Diary.from_frame(df, id="id", day="day").decompose("pain").columns.tolist()
        ['pain_w', 'pain_pm', 'pain_m']
        """
        cols = [cols] if isinstance(cols, str) else list(cols)
        self.require(cols, "decompose")
        parts = {}
        for c in cols:
            parts[f"{c}_w"] = self.within(c, detrend=detrend).to_numpy()
            parts[f"{c}_pm"] = self.person_mean(c).to_numpy()
            parts[f"{c}_m"] = self.between(c).to_numpy()
        return pd.DataFrame(parts, index=self._frame.index)

    # ----------------------------------------------------------- lagged frame
    def lagged_frame(
        self, terms: Mapping[str, str | tuple[str, int]], *, warn: bool = True
    ) -> LaggedFrame:
        """Model-ready rows for named lagged terms; rows missing any term are dropped.

        Parameters
        ----------
        terms : dict
            Name -> ``(column, k)`` for the column ``k`` calendar days earlier (``k = 0``:
            the row's own day/night; ``k = -1``: next day), or name -> column for ``k = 0``.
            Sleep columns refer to nights: on row *n*, ``("sleep_quality", 0)`` is night *n*,
            so sleep -> next-day pain is ``{"pain_next": ("pain", -1), "sleep":
            ("sleep_quality", 0), "pain": ("pain", 0)}``.
        warn : bool
            Issue a LagCoverageWarning when lagging leaves persons without any complete row.

        Returns
        -------
        LaggedFrame
            The complete rows and their accounting (built by
            :func:`sleeppain.diary._lagged.lagged_frame`, the one lagged-frame stage).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 1], "day": [1, 2, 3], "pain": [3, 4, 5],
        ...                    "sq": [6, 5, 7]})
        >>> d = sp.Diary.from_frame(df, id="id", day="day", sleep="sq")
        >>> lf = d.lagged_frame({"pain_next": ("pain", -1), "sleep": ("sq", 0)})
        >>> lf.frame[["pain_next", "sleep"]].values.tolist()
        [[3.0, 6.0], [4.0, 5.0], [5.0, 7.0]]
        """
        # the one lagged-frame stage (crosslag's model frames come from it too)
        result = _lagged.lagged_frame(self, terms)
        lagged = any(k != 0 for _, _, k in result.terms)
        if warn and lagged and result.persons_excluded:
            warnings.warn(
                f"{result.persons_excluded} of {result.persons} persons have no row with all "
                f"lagged terms observed (no consecutive days with data) and are left out; "
                f"{result.rows_used:,} of {result.rows_available:,} rows are used. "
                "See the LaggedFrame's accounting; pass warn=False to silence this.",
                LagCoverageWarning,
                stacklevel=user_stacklevel(),
            )
        return result

    # --------------------------------------------------------------- accounting
    def _pain_column(self, pain: str | None) -> str | None:
        if pain is not None:
            self.require([pain], "pain")
            if pain in self.sleep:
                raise SpecificationError(
                    f"pain={pain!r} is declared as a sleep column; pain must be a day variable."
                )
            return pain
        for v in self.variables:
            if v.lower() == "pain" and v not in self.sleep:
                return v
        return None

    def summary(self, pain: str | None = None) -> SummaryText:
        """The accounting as text: rows used and dropped, persons, calendar, coverage, pairs.

        Parameters
        ----------
        pain : str, optional
            Pain (day) variable for the lagged pair counts; default a variable named
            ``pain`` (any case). Pairs are counted for each declared sleep column.

        Returns
        -------
        SummaryText
            A ``str`` (print it). The record behind it is :attr:`accounting` (or
            :meth:`accounting_for` with another pain column); for code written when
            ``summary()`` returned that record, the text also answers its attributes
            (``diary.summary().pairs``).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1, 1], "day": [1, 2, 3], "pain": [3, 4, 5],
        ...                    "sq": [6, 5, 7]})
        >>> d = sp.Diary.from_frame(df, id="id", day="day", sleep="sq")
        >>> print(d.summary().splitlines()[0])
        Diary accounting
        >>> acc = d.accounting
        >>> acc.pair("sleep->pain").pairs, acc.pair("pain->sleep").pairs_with_ar
        (3, 2)
        """
        return SummaryText(self.accounting_for(pain))

    def accounting_for(self, pain: str | None = None) -> DiaryAccounting:
        """The accounting record, with lagged pairs counted for the pain column ``pain``.

        ``accounting_for()`` is :attr:`accounting` (cached).

        Examples
        --------
        >>> import pandas as pd, sleeppain as sp
        >>> df = pd.DataFrame({"id": [1, 1], "day": [1, 2], "ache": [3, 4], "sq": [6, 5]})
        >>> d = sp.Diary.from_frame(df, id="id", day="day", sleep="sq")
        >>> d.accounting_for("ache").pair("sleep->pain").pairs
        2
        """
        if pain is None:
            return self.accounting
        return self._summary(self._pain_column(pain))

    @cached_property
    def accounting(self) -> DiaryAccounting:
        """The accounting record (cached), for analyses to attach to their results.

        Its text is :meth:`summary`; :meth:`accounting_for` counts pairs for another pain
        column.
        """
        return self._summary(self._pain_column(None))

    def _summary(self, pain: str | None) -> DiaryAccounting:
        ing, c = self._ingested, self._canon
        n_p = self.n_persons
        counts = np.bincount(c.person, minlength=n_p)
        if len(c.day):
            first = np.full(n_p, np.iinfo(np.int64).max)
            last = np.full(n_p, np.iinfo(np.int64).min)
            np.minimum.at(first, c.person, c.day)
            np.maximum.at(last, c.person, c.day)
            span = last - first + 1
            dpp = (int(counts.min()), float(np.median(counts)), int(counts.max()))
            entered = np.bincount(ing.person, minlength=n_p)  # reports: days as entered
            dep = (int(entered.min()), float(np.median(entered)), int(entered.max()))
            spp = (int(span.min()), float(np.median(span)), int(span.max()))
            first_day = _time.format_day(int(c.day.min()), self.day_kind)  # type: ignore[arg-type]
            last_day = _time.format_day(int(c.day.max()), self.day_kind)  # type: ignore[arg-type]
            total_span = int(span.sum())
        else:
            dpp = spp = dep = (0, 0.0, 0)
            first_day = last_day = "-"
            total_span = 0
        coverage = []
        for name, v in c.values.items():
            obs = int((~np.isnan(v)).sum())
            coverage.append(
                VariableCoverage(
                    name,
                    "night" if name in self.sleep else "day",
                    obs,
                    len(v) - obs,
                    total_span - obs,
                )
            )
        pairs = []
        notes: list[str] = []
        if pain is not None:
            p_val = c.values[pain]
            p_next = _core.calendar_lag(c.person, c.day, p_val, -1)
            for s in self.sleep:
                s_val = c.values[s]
                s_prev = _core.calendar_lag(c.person, c.day, s_val, 1)
                sp_ok = ~np.isnan(s_val) & ~np.isnan(p_next)
                sp_ar = sp_ok & ~np.isnan(p_val)
                ps_ok = ~np.isnan(p_val) & ~np.isnan(s_val)
                ps_ar = ps_ok & ~np.isnan(s_prev)
                for direction, ok, ar in (
                    ("sleep->pain", sp_ok, sp_ar),
                    ("pain->sleep", ps_ok, ps_ar),
                ):
                    pairs.append(
                        PairCount(
                            direction,
                            s,
                            pain,
                            int(ok.sum()),
                            int(ar.sum()),
                            len(np.unique(c.person[ok])),
                            len(np.unique(c.person[ar])),
                        )
                    )
        elif self.sleep:
            notes.append("no pain column known: pass summary(pain=...) to count lagged pairs")
        else:
            notes.append("no sleep column declared: pass sleep=... to count lagged pairs")
        consecutive = _core.has_consecutive_day(c.person, c.day, n_p)
        return DiaryAccounting(
            input_rows=ing.input_rows,
            rows_used=c.n_reports,
            rows_dropped=ing.rows_dropped,
            nights_added=len(c.day) - c.n_reports,
            persons=n_p,
            person_days=len(c.day),
            day_kind=self.day_kind,
            day_description=ing.day_description,
            first_day=first_day,
            last_day=last_day,
            days_per_person=dpp,
            days_entered_per_person=dep,
            span_per_person=spp,
            sleep_columns=self.sleep,
            sleep_timing=self.sleep_timing,
            pain_column=pain,
            variables=tuple(coverage),
            values_set_missing=ing.values_set_missing,
            out_of_range=ing.out_of_range,
            ignored_columns=ing.ignored_columns,
            pairs=tuple(pairs),
            persons_without_consecutive_days=int((~consecutive).sum()),
            notes=tuple(notes),
        )

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        sleep = ", ".join(self.sleep) or "none"
        return (
            f"Diary({self.n_persons:,} persons, {len(self._canon.day):,} person-days; "
            f"variables: {', '.join(self.variables)}; sleep ({self.sleep_timing}): {sleep})"
        )

    def __len__(self) -> int:
        return len(self._canon.day)
