"""Wide or long panel data -> the persons x (variables x waves) array, with accounting."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sleeppain.accounting import Accounting
from sleeppain.errors import DataDropWarning, DataStructureError, SpecificationError

__all__ = ["PanelAccounting", "PanelData", "prepare_panel"]


@dataclass(frozen=True)
class PanelAccounting(Accounting):
    """What happened to every input person (the unit of a panel model).

    Attributes
    ----------
    input_rows : int
        Rows of the data as passed (persons for wide data, person-waves for long data).
    persons : int
        Distinct persons in the input.
    persons_used : int
        Persons whose data enter the likelihood.
    dropped : tuple of (reason, persons)
        Persons left out and why (each person under one reason): ``"no observed wave"``
        (every value of every variable missing), ``"covariate missing"``,
        ``"incomplete (listwise)"``.
    missing_values : tuple of (column, count)
        Missing values per observed column among the persons used.
    patterns : int
        Missing-data patterns among the persons used.

    Examples
    --------
    >>> acc = PanelAccounting(10, 10, 9, (("no observed wave", 1),), (("x1", 2),), 3)
    >>> acc.glance()[["stage", "rows_input", "rows_used", "rows_dropped"]].values.tolist()
    [['persons', 10, 9, 1]]
    """

    stage: ClassVar[str] = "persons"
    title: ClassVar[str] = "Panel accounting (persons)"

    input_rows: int
    persons: int
    persons_used: int
    dropped: tuple[tuple[str, int], ...]
    missing_values: tuple[tuple[str, int], ...]
    patterns: int = 0

    def _counts(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return self.persons, self.persons_used, self.dropped

    def _sections(self) -> list[tuple[str, list[tuple[str, Any]]]]:
        rows = [
            ("input rows", self.input_rows),
            ("persons", self.persons),
            ("persons used", self.persons_used),
            ("persons dropped", self.persons - self.persons_used),
            *((f"  dropped: {r}", n) for r, n in self.dropped),
        ]
        miss = [(f"missing: {c}", n) for c, n in self.missing_values]
        miss.append(("missing-data patterns", self.patterns))
        return [("persons", rows), ("values among the persons used", miss)]

    def text(self) -> str:
        """The accounting in one sentence."""
        drop = "; ".join(f"{r}: {n:,}" for r, n in self.dropped if n) or "none"
        miss = sum(n for _, n in self.missing_values)
        return (
            f"{self.input_rows:,} input rows, {self.persons:,} persons, "
            f"{self.persons_used:,} used; persons dropped: {drop}; "
            f"{miss:,} missing values among the persons used."
        )


@dataclass(frozen=True)
class PanelData:
    """The arrays a panel model is fitted to."""

    Y: np.ndarray  # persons x (k * T + covariates), variable-major then covariates
    ids: np.ndarray
    names: tuple[str, ...]
    obs_names: tuple[tuple[str, ...], ...]
    wave_labels: tuple[str, ...]
    covariates: tuple[str, ...]
    accounting: PanelAccounting
    long: bool


def _as_list(value: Any, arg: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise SpecificationError(
        f"{arg}={value!r} must be a column name or a list of column names (one per wave)."
    )


def _numeric(df: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataStructureError(
            f"column(s) {missing} not found in the data; available columns: "
            f"{list(map(str, df.columns))[:20]}. Check the spelling of x=, y=, variables= "
            "or covariates=."
        )
    out = np.empty((len(df), len(cols)))
    for j, c in enumerate(cols):
        s = df[c]
        if s.dtype == bool or not (pd.api.types.is_numeric_dtype(s) or s.isna().all()):
            raise DataStructureError(
                f"column {c!r} is not numeric (dtype {s.dtype}); code it as numbers first."
            )
        out[:, j] = s.to_numpy(dtype=float, na_value=np.nan)
    return out


def prepare_panel(
    data: pd.DataFrame,
    variables: Sequence[Any],
    names: Sequence[str],
    *,
    id: str | None,
    wave: str | None,
    covariates: Sequence[str],
    missing: str,
    min_waves: int,
    stacklevel: int = 4,
) -> PanelData:
    """Validate the input and build the persons x columns array (NaN = missing).

    Raises
    ------
    SpecificationError
        Unequal numbers of wave columns, too few waves, bad ``names``.
    DataStructureError
        Unknown or non-numeric columns, duplicated person-waves, a constant wave,
        covariates varying within a person, no usable person.
    """
    if not isinstance(data, pd.DataFrame):
        from sleeppain.diary._frames import as_pandas

        # polars / pyarrow tables are converted (to_pandas()); anything else: typed error
        data = as_pandas(data, "sp.clpm / sp.riclpm")
    k = len(variables)
    names = tuple(str(n) for n in names)
    if len(names) != k:
        raise SpecificationError(
            f"names={names!r} has {len(names)} entries for {k} variables; give one name "
            "per variable, e.g. names=('depression', 'pain')."
        )
    if len(set(names)) != k:
        raise SpecificationError(f"names={names!r} contains duplicates; names must differ.")
    covariates = tuple(_as_list(covariates, "covariates")) if covariates else ()
    long = wave is not None
    if long:
        if id is None:
            raise SpecificationError(
                "long data need id= (the person column) as well as wave=; for wide data "
                "leave wave=None and pass x and y as lists of columns, one per wave."
            )
        cols = []
        for v, arg in zip(variables, names, strict=True):
            if not isinstance(v, str):
                raise SpecificationError(
                    f"with long data (wave={wave!r}) each variable is one column name; got "
                    f"{v!r} for {arg!r}."
                )
            cols.append(v)
        need = [id, wave, *cols, *covariates]
        absent = [c for c in need if c not in data.columns]
        if absent:
            raise DataStructureError(
                f"column(s) {absent} not found in the data; available columns: "
                f"{list(map(str, data.columns))[:20]}."
            )
        df = data[need]
        if df[id].isna().any() or df[wave].isna().any():
            raise DataStructureError(
                f"{int(df[id].isna().sum())} rows have a missing id and "
                f"{int(df[wave].isna().sum())} a missing wave; fill or drop them first."
            )
        dup = df.duplicated([id, wave])
        if dup.any():
            first = df.loc[dup].iloc[0]
            raise DataStructureError(
                f"{int(dup.sum())} duplicated (id, wave) pairs, e.g. {id}={first[id]!r} at "
                f"{wave}={first[wave]!r}; aggregate them (e.g. with sp.panel.diary_waves) or "
                "drop the duplicates."
            )
        waves_sorted = np.sort(df[wave].unique())
        wave_labels = tuple(str(w) for w in waves_sorted)
        vals = _numeric(df, cols)
        ids_u, pos = np.unique(df[id].to_numpy(), return_inverse=True)
        wpos = np.searchsorted(waves_sorted, df[wave].to_numpy())
        T = len(waves_sorted)
        Y = np.full((len(ids_u), k * T), np.nan)
        for v in range(k):
            Y[pos, v * T + wpos] = vals[:, v]
        obs_names = tuple(tuple(f"{names[v]}{w}" for w in wave_labels) for v in range(k))
        Z = np.full((len(ids_u), len(covariates)), np.nan)
        if covariates:
            cz = _numeric(df, covariates)
            for j, c in enumerate(covariates):
                zf = pd.DataFrame({"p": pos, "z": cz[:, j]}).groupby("p")["z"]
                if (zf.nunique(dropna=True) > 1).any():
                    raise DataStructureError(
                        f"covariate {c!r} varies within persons in the long data; person "
                        "covariates must be constant over waves (use its first-wave value)."
                    )
                Z[:, j] = zf.first().reindex(range(len(ids_u))).to_numpy()
        ids = ids_u
        input_rows = len(df)
    else:
        cols_by_var = [_as_list(v, n) for v, n in zip(variables, names, strict=True)]
        lens = [len(c) for c in cols_by_var]
        if len(set(lens)) > 1:
            detail = ", ".join(f"{n} has {m}" for n, m in zip(names, lens, strict=True))
            raise SpecificationError(
                f"unequal numbers of wave columns: {detail}. Give every variable one column "
                "per wave, in wave order (use None-free lists; a wave missing for one "
                "variable needs an all-missing column)."
            )
        T = lens[0]
        wave_labels = tuple(str(t + 1) for t in range(T))
        obs_names = tuple(tuple(c) for c in cols_by_var)
        flat = [c for cs in cols_by_var for c in cs]
        if len(set(flat)) != len(flat):
            raise SpecificationError(
                f"a column is used twice among {flat}; each wave of each variable needs its "
                "own column."
            )
        Y = _numeric(data, flat)
        Z = _numeric(data, list(covariates)) if covariates else np.empty((len(data), 0))
        if id is not None:
            if id not in data.columns:
                raise DataStructureError(f"id column {id!r} not found in the data.")
            ids = data[id].to_numpy()
            if pd.Series(ids).duplicated().any():
                raise DataStructureError(
                    f"id column {id!r} has duplicated values; wide data need one row per "
                    "person (for long data pass wave=)."
                )
        else:
            ids = np.arange(len(data))
        input_rows = len(data)
    if T < min_waves:
        model = "the RI-CLPM" if min_waves == 3 else "a cross-lagged panel model"
        raise SpecificationError(
            f"only {T} wave(s): {model} needs at least {min_waves}. "
            + (
                "With two waves fit sp.clpm, or collect a third wave."
                if min_waves == 3
                else "Give at least two waves per variable."
            )
        )
    persons = len(ids)
    empty = np.isnan(Y).all(axis=1)
    drop_cov = ~empty & np.isnan(Z).any(axis=1)
    keep = ~empty & ~drop_cov
    dropped = [("no observed wave", int(empty.sum())), ("covariate missing", int(drop_cov.sum()))]
    if missing == "listwise":
        incomplete = keep & np.isnan(Y).any(axis=1)
        dropped.append(("incomplete (listwise)", int(incomplete.sum())))
        keep &= ~incomplete
    msgs = [f"{n:,} person(s) with {r}" for r, n in dropped[:2] if n]
    if msgs:
        warnings.warn(
            "left out " + " and ".join(msgs) + " (see res.accounting()); "
            "persons without any observed wave carry no information about the model.",
            DataDropWarning,
            stacklevel=stacklevel,
        )
    Yk = np.concatenate([Y[keep], Z[keep]], axis=1)
    ids = np.asarray(ids)[keep]
    flat_names = [c for cs in obs_names for c in cs] + list(covariates)
    if len(ids) == 0:
        raise DataStructureError(
            "no person is left to fit: "
            + "; ".join(f"{r}: {n}" for r, n in dropped if n)
            + ". With many incomplete persons use missing='fiml'."
        )
    if long:
        # name the user's column and wave (the internal label, e.g. 'sleep4', means nothing
        # to them) and say how to drop that wave
        where, how = [], []
        for v in range(k):
            for w in waves_sorted:
                wv = w.item() if isinstance(w, np.generic) else w
                label = f" ({names[v]!r})" if names[v] != cols[v] else ""
                where.append(f"column {cols[v]!r} at {wave}={wv!r}{label}")
                how.append(
                    f"Drop that wave (data[data[{wave!r}] != {wv!r}]; for the last block of "
                    "Diary.waves() pass n_waves= or min_days=) or check the data."
                )
        where += [f"covariate {c!r}" for c in covariates]
        how += ["Check the data."] * len(covariates)
    else:
        where = [f"column {c!r}" for c in flat_names]
        how = ["Drop that wave or check the data."] * len(flat_names)
    for j, desc in enumerate(where):
        col = Yk[:, j]
        obs = col[~np.isnan(col)]
        if len(obs) == 0:
            raise DataStructureError(
                f"{desc} has no observed value among the {len(ids)} persons used. {how[j]}"
            )
        if np.ptp(obs) == 0:
            raise DataStructureError(
                f"{desc} is constant ({obs[0]:g} for all {len(obs)} persons observed "
                f"there): its variance is zero, so the model cannot be fitted. {how[j]}"
            )
    miss = tuple((c, int(np.isnan(Yk[:, j]).sum())) for j, c in enumerate(flat_names))
    acc = PanelAccounting(
        input_rows=int(input_rows),
        persons=int(persons),
        persons_used=len(ids),
        dropped=tuple(dropped),
        missing_values=miss,
    )
    return PanelData(Yk, ids, names, obs_names, wave_labels, covariates, acc, long)


def variables_from_args(
    x: Any, y: Any, variables: Sequence[Any] | Mapping[str, Any] | None, names: Any
) -> tuple[list[Any], tuple[str, ...]]:
    """Normalise ``x``/``y`` or ``variables`` (+ ``names``) to a list and names."""
    if variables is not None:
        if x is not None or y is not None:
            raise SpecificationError("pass either x= and y=, or variables=, not both.")
        if isinstance(variables, Mapping):
            if names is not None:
                raise SpecificationError(
                    "variables= is a mapping name -> columns already; leave names= out."
                )
            return list(variables.values()), tuple(str(k) for k in variables)
        varlist = list(variables)
        if len(varlist) < 2:
            raise SpecificationError("variables= needs at least two variables.")
        nm = tuple(names) if names is not None else tuple(f"v{i + 1}" for i in range(len(varlist)))
        return varlist, nm
    if x is None or y is None:
        raise SpecificationError(
            "give both x= and y= (columns per wave, or one column each with wave=), or "
            "variables= for more than two variables."
        )
    return [x, y], tuple(names) if names is not None else ("x", "y")
