"""Bad-input harness (issue 10): one table of hostile inputs and what each must produce.

Every row: an input builder, the exception (a :class:`~sleeppain.errors.SleepPainError`
subclass) or warning class expected, and words the message must contain (what is wrong,
where, how to fix it). Command-line rows run ``sleeppain.cli.main`` and expect exit code 2
and one ``sleeppain: error:`` line without a traceback, naming flags rather than Python
keywords. MR inputs are in tests/mr/test_bad_input_mr.py.

After the table: the inputs of issue 10 that are now *supported* (dates outside pandas'
nanosecond range, pyarrow and polars input), checked for the right answer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain import cli
from sleeppain.errors import (
    DataDropWarning,
    DataQualityWarning,
    DataStructureError,
    InputFileError,
    ScaleWarning,
    SleepPainError,
    SpecificationError,
)

# ----------------------------------------------------------------------------- builders


def frame(**overrides: Any) -> pd.DataFrame:
    """Two persons x three days with pain and a sleep rating; columns can be replaced."""
    cols: dict[str, Any] = {
        "id": [1, 1, 1, 2, 2, 2],
        "day": [1, 2, 3, 1, 2, 3],
        "pain": [3.0, 4.0, 5.0, 2.0, 6.0, 1.0],
        "sq": [6.0, 5.0, 7.0, 8.0, 4.0, 6.0],
    }
    cols.update(overrides)
    return pd.DataFrame(cols)


def quiet(call: Callable[[Path], Any]) -> Callable[[Path], Any]:
    """``call`` with DataDropWarning silenced (the error that follows is the subject)."""

    def run(tmp: Path) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataDropWarning)
            return call(tmp)

    return run


def diary(df: pd.DataFrame | Any, **kw: Any) -> Callable[[Path], Any]:
    kw.setdefault("id", "id")
    kw.setdefault("day", "day")
    return lambda _tmp: sp.Diary.from_frame(df, **kw)


def built(**kw: Any) -> sp.Diary:
    return sp.Diary.from_frame(frame(), id="id", day="day", sleep="sq", **kw)


def method(name: str, *args: Any, **kw: Any) -> Callable[[Path], Any]:
    return lambda _tmp: getattr(built(), name)(*args, **kw)


def csv_file(content: bytes | str, name: str = "d.csv") -> Callable[[Path], Path]:
    def write(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


def from_csv(make: Callable[[Path], Path], **kw: Any) -> Callable[[Path], Any]:
    kw.setdefault("id", "id")
    kw.setdefault("day", "day")
    return lambda tmp: sp.Diary.from_csv(make(tmp), **kw)


GOOD_CSV = "id,day,pain,sq\n" + "".join(
    f"{p},{d},{(p + d) % 10},{(p * d) % 10}\n" for p in range(1, 4) for d in range(1, 8)
)
_gz = gzip.compress(GOOD_CSV.encode())
TRUNCATED_GZ = csv_file(_gz[: len(_gz) // 2], "d.csv.gz")
PLAIN_AS_GZ = csv_file(GOOD_CSV, "d.csv.gz")
LATIN1 = csv_file("id,day,pain,note\n1,1,3,café\n1,2,4,thé\n".encode("latin-1"))
SEMICOLON_COMMA = csv_file("id;day;pain\n1;1;3,5\n1;2;4,0\n2;1;5,5\n")
RAGGED = csv_file('id,day,pain\n1,1,3\n1,2,"4\n')
EMPTY = csv_file(b"")
BLANK = csv_file("\n\n  \n")
LEADING_ZEROS = csv_file("id,day,pain\n012,1,3\n12,1,4\n")


def folder(tmp: Path) -> Path:
    (tmp / "adir").mkdir(exist_ok=True)
    return tmp / "adir"


def missing_file(tmp: Path) -> Path:
    return tmp / "nope.csv"


NIGHT = {
    "bedtime": ["22:00"],
    "lights_off": ["22:30"],
    "sol_min": [15],
    "waso_min": [20],
    "final_wake": ["06:30"],
    "out_of_bed": ["06:45"],
}


def score(df: Any = None, **kw: Any) -> Callable[[Path], Any]:
    data = pd.DataFrame(NIGHT) if df is None else df
    return lambda _tmp: sp.sleep.score_diary(data, **kw)


def night(**overrides: Any) -> pd.DataFrame:
    return pd.DataFrame({**NIGHT, **overrides})


def mixed_data(n_groups: int = 12, per: int = 6, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    df = pd.DataFrame({"x": rng.normal(size=g.size), "g": g, "h": np.arange(g.size) % 3})
    df["y"] = 1 + 0.5 * df.x + rng.normal(size=n_groups)[g] + rng.normal(size=g.size)
    return df


def lmm(formula: Any, data: Any = None, **kw: Any) -> Callable[[Path], Any]:
    return lambda _tmp: sp.lmm(formula, mixed_data() if data is None else data, **kw)


def simulated() -> pd.DataFrame:
    return sp.simulate.diary(n_persons=12, n_days=8, seed=3).data


def crosslag(data: Any = None, **kw: Any) -> Callable[[Path], Any]:
    kw = {"id": "id", "day": "day", "sleep": "sleep_quality", "pain": "pain", **kw}
    return lambda _tmp: sp.crosslag(simulated() if data is None else data, **kw)


def power(**kw: Any) -> Callable[[Path], Any]:
    base = {
        "n_persons": 20,
        "n_days": 7,
        "sleep_to_pain": -0.1,
        "pain_to_sleep": 0.0,
        "n_sims": 2,
        "seed": 1,
        "n_jobs": 1,
        "progress": False,
    }
    base.update(kw)
    return lambda _tmp: sp.power(**base)


class CliExit(Exception):
    """The command failed: exit code and stderr."""

    def __init__(self, code: int, err: str) -> None:
        super().__init__(err)
        self.code, self.err = code, err


def run_cli(argv: Sequence[Any], files: dict[str, Callable[[Path], Path]] | None = None):
    def go(tmp: Path) -> None:
        paths = {k: str(make(tmp)) for k, make in (files or {}).items()}
        args = [a.format(**paths) if isinstance(a, str) else a for a in argv]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(args)
        if code != 0:
            raise CliExit(code, err.getvalue())

    return go


def describe(path_key: str, make: Callable[[Path], Path], *extra: str, day: str = "day"):
    return run_cli(
        ["describe", f"{{{path_key}}}", "--id", "id", "--day", day, *extra], {path_key: make}
    )


GOOD = csv_file(GOOD_CSV)
DUPS = csv_file("id,day,pain\n1,1,3\n1,1,4\n")
OUT_OF_SCALE = csv_file("id,day,pain\n1,1,12\n1,2,3\n")


def existing_file(tmp: Path) -> Path:
    path = tmp / "report.html"
    path.write_text("x")
    return path


# --------------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Path], Any]
    expect: type[BaseException] | type[Warning]
    words: tuple[str, ...]


def case(id: str, call: Callable[[Path], Any], expect: Any, *words: str) -> Case:
    return Case(id, call, expect, words)


DSE, SPE, IFE, DQW = DataStructureError, SpecificationError, InputFileError, DataQualityWarning

CASES: list[Case] = [
    # ------------------------------------------------------------------ Diary: calendar
    case(
        "date-year-10000",
        diary(frame(day=["10000-01-01"] + ["2024-01-0" + str(i) for i in range(2, 7)])),
        DSE,
        "year",
        "9999",
        "row 0",
    ),
    case(
        "date-year-10000-array",
        diary(
            frame(
                day=np.array(
                    [
                        "10000-01-01",
                        "2024-01-01",
                        "2024-01-02",
                        "2024-01-01",
                        "2024-01-02",
                        "2024-01-03",
                    ],
                    dtype="datetime64[s]",
                )
            )
        ),
        DSE,
        "years 1-9999",
        "row 0",
    ),
    case(
        "date-unparseable",
        diary(frame(day=["2024-01-01", "2024-13-45", "2024-01-03"] * 2)),
        DSE,
        "neither",
        "row 1",
        "YYYY-MM-DD",
    ),
    case("date-words", diary(frame(day=["yesterday"] * 6)), DSE, "neither", "row 0"),
    case(
        "date-mixed-zones",
        diary(frame(day=["2024-01-01T08:00Z", "2024-01-02T08:00", "2024-01-03T08:00Z"] * 2)),
        DSE,
        "with and without a time zone",
    ),
    case(
        "day-fraction",
        diary(frame(day=[1, 2.5, 3, 1, 2, 3])),
        DSE,
        "non-integer",
        "row 1",
        "whole numbers",
    ),
    case("day-inf", diary(frame(day=[1, 2, np.inf, 1, 2, 3])), DSE, "non-integer", "row 2"),
    case("day-1e15", diary(frame(day=[1, 2, 1e15, 1, 2, 3])), DSE, "beyond", "1,000,000", "row 2"),
    case("day-negative-huge", diary(frame(day=[1, 2, -5e6, 1, 2, 3])), DSE, "beyond", "row 2"),
    case(
        "day-yyyymmdd",
        diary(frame(day=[20240301, 20240302, 20240303] * 2)),
        DSE,
        "YYYYMMDD",
        "pd.to_datetime",
    ),
    case(
        "day-text-1e15",
        diary(frame(day=["1", "2", "1000000000000000", "1", "2", "3"])),
        DSE,
        "beyond",
    ),
    case("day-bool", diary(frame(day=[True, False, True, False, True, False])), DSE, "true/false"),
    case("day-duplicated", diary(frame(day=[1, 1, 2, 1, 2, 3])), DSE, "duplicated", "aggregate"),
    case("tz-unknown", diary(frame(), tz="Mars/Olympus"), SPE, "IANA", "Europe/Oslo"),
    case("tz-number", diary(frame(), tz=5), SPE, "not a time zone"),
    case(
        "sleep-timing-unknown",
        diary(frame(), sleep_timing="noon"),
        SPE,
        "previous_night",
        "following_night",
    ),
    case(
        "prompt-words",
        diary(
            frame(day=[1, 1, 2, 2, 3, 3], beep=["a", "b", "c", "d", "e", "f"]),
            prompt="beep",
            aggregate="mean",
        ),
        DSE,
        "prompt column",
        "beep numbers",
    ),
    # -------------------------------------------------------------------- Diary: ids
    case(
        "ids-int-and-text",
        diary(frame(id=[1, 1, "1", 2, 2, 2], day=[1, 2, 3, 1, 2, 3])),
        DSE,
        "ids look alike",
        "astype(str)",
    ),
    case(
        "ids-float-and-text",
        diary(frame(id=[1.0, 1.0, 1.0, "1", "1", "1"])),
        DSE,
        "ids look alike",
        "number",
        "text",
    ),
    case(
        "ids-bool-and-text",
        diary(frame(id=[True, True, True, "true", "true", "true"])),
        DSE,
        "ids look alike",
    ),
    case(
        "ids-leading-zero",
        diary(frame(id=["012", "012", "012", "12", "12", "12"])),
        DQW,
        "look alike",
        "leading zeros",
        "'012' and '12'",
    ),
    case(
        "ids-spaces",
        diary(frame(id=[" 7", " 7", " 7", "7", "7", "7"])),
        DQW,
        "look alike",
        "spaces",
    ),
    case(
        "ids-case", diary(frame(id=["A1", "A1", "A1", "a1", "a1", "a1"])), DQW, "look alike", "case"
    ),
    case("ids-csv-leading-zero", from_csv(LEADING_ZEROS), DQW, "look alike", "'012' and '12'"),
    # ------------------------------------------------------------------ Diary: values
    case(
        "inf-pain",
        diary(frame(pain=[3, np.inf, 5, 2, 6, 1])),
        DQW,
        "infinite",
        "pain",
        "rows 1",
        "set to missing",
    ),
    case(
        "minus-inf-sleep",
        diary(frame(sq=[6, 5, -np.inf, 8, 4, 6]), sleep="sq"),
        DQW,
        "infinite",
        "'sq'",
        "rows 2",
    ),
    case(
        "inf-text", diary(frame(pain=["3", "inf", "5", "2", "6", "1"])), DQW, "infinite", "rows 1"
    ),
    case(
        "inf-several",
        diary(frame(pain=[np.inf] * 4 + [1, 2])),
        DQW,
        "4 infinite",
        "rows 0, 1, 2 ...",
    ),
    case(
        "all-nan-variable", diary(frame(pain=[np.nan] * 6)), DQW, "'pain' has no values", "columns="
    ),
    case("all-nan-sleep", diary(frame(sq=[None] * 6), sleep="sq"), DQW, "'sq' has no values"),
    case(
        "all-missing-after-codes",
        diary(frame(sq=[0.0] * 6), missing_values={"sq": [0]}),
        DQW,
        "'sq' has no values",
        "set missing",
    ),
    case(
        "all-out-of-scale-set-missing",
        diary(frame(pain=[11.0] * 6), scales={"pain": (0, 10)}, out_of_range="set_missing"),
        DQW,
        "'pain' has no values",
    ),
    case(
        "decimal-comma",
        diary(frame(pain=["5,5", "3", "4,0", "2", "1", "6"])),
        DSE,
        "decimal comma",
        "'5,5' in row 0",
        "decimal=','",
    ),
    case(
        "decimal-comma-all",
        diary(frame(pain=["5,5", "3,2", "4,0", "2,1", "1,0", "6,5"])),
        DSE,
        "6 numbers written with a decimal comma",
    ),
    case(
        "decimal-comma-declared",
        diary(frame(sq=["6,5", "5", "7", "8", "4", "6"]), sleep="sq"),
        DSE,
        "decimal comma",
        "'sq'",
    ),
    case(
        "decimal-comma-negative",
        diary(frame(pain=["-0,5", "3", "4", "2", "1", "6"])),
        DSE,
        "decimal comma",
    ),
    case("decimal-bad-arg", diary(frame(), decimal="x"), SPE, "decimal=", "','"),
    case("decimal-long-arg", diary(frame(), decimal=",,"), SPE, "one punctuation character"),
    case(
        "text-in-declared",
        diary(frame(sq=["good", "5", "7", "8", "4", "6"]), sleep="sq"),
        DSE,
        "non-numeric",
        "'good' in row 0",
        "levels=",
    ),
    case(
        "complex-values",
        diary(frame(pain=np.array([3, 4, 5, 2, 6, 1], dtype=complex))),
        DSE,
        "complex numbers",
        ".real",
    ),
    case(
        "text-mostly-numeric",
        diary(frame(pain=["3", "4", "n/a?", "2", "6", "1"])),
        DSE,
        "non-numeric",
        "row 2",
    ),
    case(
        "unknown-level",
        diary(
            frame(sq=["Good", "Poor", "Fair", "Good", "Poor", "Good"]),
            levels={"sq": ["Poor", "Good"]},
        ),
        DSE,
        "not among its levels",
        "'Fair'",
        "levels['sq']",
    ),
    case("levels-string", diary(frame(sq=["a"] * 6), levels={"sq": "abc"}), SPE, "list of labels"),
    case("levels-duplicate", diary(frame(sq=["a"] * 6), levels={"sq": ["a", "a"]}), SPE, "twice"),
    case(
        "levels-missing-column",
        diary(frame(), levels={"quality": ["a"]}),
        DSE,
        "'quality'",
        "from levels=",
    ),
    case("scale-one-number", diary(frame(), scales={"pain": (0,)}), SPE, "pair (low, high)"),
    case(
        "scale-reversed", diary(frame(), scales={"pain": (10, 0)}), SPE, "low must not exceed high"
    ),
    case("scale-text", diary(frame(), scales={"pain": "0-10"}), SPE, "pair"),
    case(
        "scale-raise",
        diary(frame(pain=[3, 12, 5, 2, 6, 1]), scales={"pain": (0, 10)}, out_of_range="raise"),
        DSE,
        "outside its scale",
        "12 in row 1",
        "set_missing",
    ),
    case(
        "scale-warn",
        diary(frame(pain=[3, 12, 5, 2, -1, 1]), scales={"pain": (0, 10)}),
        ScaleWarning,
        "2 values",
        "kept",
    ),
    case(
        "scale-missing-column",
        diary(frame(), scales={"ache": (0, 10)}),
        DSE,
        "'ache'",
        "from scales=",
    ),
    case(
        "out-of-range-unknown",
        diary(frame(), out_of_range="clip"),
        SPE,
        "out_of_range=",
        "'set_missing'",
    ),
    case(
        "aggregate-unknown",
        diary(frame(day=[1, 1, 2, 1, 2, 3]), aggregate="avg"),
        SPE,
        "not a pandas reducer",
        "mean",
    ),
    case(
        "aggregate-typo",
        diary(frame(day=[1, 1, 2, 1, 2, 3]), aggregate="meen"),
        SPE,
        "Did you mean 'mean'",
    ),
    case(
        "aggregate-not-covering",
        diary(frame(day=[1, 1, 2, 1, 2, 3]), aggregate={"pain": "mean"}),
        SPE,
        "no reducer for ['sq']",
        "aggregate",
    ),
    case(
        "aggregate-missing-column",
        diary(frame(), aggregate={"ache": "mean"}),
        DSE,
        "'ache'",
        "from aggregate=",
    ),
    case(
        "aggregate-bad-function",
        diary(frame(day=[1, 1, 2, 1, 2, 3]), aggregate={"pain": lambda s: "x", "sq": "mean"}),
        SPE,
        "aggregate['pain']",
        "one number per day",
    ),
    case(
        "missing-values-missing-column",
        diary(frame(), missing_values={"ache": [0]}),
        DSE,
        "'ache'",
        "from missing_values=",
    ),
    # ----------------------------------------------------------------- Diary: columns
    case(
        "id-column-missing",
        diary(frame(), id="ID"),
        DSE,
        "'ID'",
        "not in the data",
        "Did you mean 'id'",
    ),
    case("day-column-missing", diary(frame(), day="date"), DSE, "'date'", "from day="),
    case(
        "sleep-column-missing",
        diary(frame(), sleep="sleep_quality"),
        DSE,
        "'sleep_quality'",
        "from sleep=",
    ),
    case(
        "columns-missing", diary(frame(), columns=["pain", "mood"]), DSE, "'mood'", "from columns="
    ),
    case("prompt-column-missing", diary(frame(), prompt="beep"), DSE, "'beep'", "from prompt="),
    case("id-equals-day", diary(frame(), id="id", day="id"), SPE, "different columns"),
    case("sleep-is-id", diary(frame(), sleep="id"), SPE, "id, day or prompt column"),
    case("sleep-twice", diary(frame(), sleep=["sq", "sq"]), SPE, "twice"),
    case("sleep-and-alias-differ", diary(frame(), sleep="sq", sleep_columns="pain"), SPE, "once"),
    case(
        "sleep-outside-columns",
        diary(frame(), sleep="sq", columns=["pain"]),
        SPE,
        "add them to columns=",
    ),
    case(
        "duplicated-column-names",
        diary(pd.DataFrame([[1, 1, 2, 3]], columns=["id", "day", "pain", "pain"])),
        DSE,
        "duplicated column names",
        "rename",
    ),
    case(
        "multiindex-columns",
        diary(pd.DataFrame({("a", "id"): [1, 1], ("a", "day"): [1, 2], ("b", "pain"): [3, 4]})),
        DSE,
        "MultiIndex",
        "'_'.join",
    ),
    case(
        "int-and-text-label-collide",
        diary(pd.DataFrame([[1, 1, 2, 3]], columns=["id", "day", 1, "1"])),
        DSE,
        "read the same as text",
        "rename",
    ),
    case("id-argument-list", diary(frame(), id=["id"]), SPE, "id= must name a column"),
    case("id-argument-none", diary(frame(), id=None), SPE, "id= must name a column"),
    case(
        "day-label-column",
        diary(frame(day_label=["a"] * 6)),
        DQW,
        "'day_label' is left out",
        "reserves",
        "rename",
    ),
    case(
        "prompt-named-column",
        diary(
            frame(day=[1, 1, 2, 2, 3, 3], beep=[1, 2] * 3, prompt=[0] * 6),
            prompt="beep",
            aggregate="mean",
        ),
        DQW,
        "'prompt' is left out",
    ),
    case(
        "reserved-declared",
        diary(frame(day_label=[1.0] * 6), sleep="day_label"),
        SPE,
        "reserves",
        "rename",
    ),
    case("not-a-frame-list", diary([[1, 1, 3]]), SPE, "expected a pandas DataFrame", "list"),
    case(
        "not-a-frame-dict",
        diary({"id": [1], "day": [1]}),
        SPE,
        "expected a pandas DataFrame",
        "dict",
        "pd.DataFrame",
    ),
    case("not-a-frame-array", diary(np.ones((3, 3))), SPE, "numpy.ndarray"),
    case("not-a-frame-none", diary(None), SPE, "NoneType"),
    case("not-a-frame-series", diary(pd.Series([1, 2])), SPE, "Series"),
    case(
        "to-pandas-needs-package",
        diary(
            type(
                "FakePolars",
                (),
                {
                    "to_pandas": lambda self: (_ for _ in ()).throw(
                        ImportError("pyarrow is required")
                    )
                },
            )()
        ),
        SPE,
        "FakePolars",
        "pip install pyarrow",
    ),
    case(
        "to-pandas-not-a-frame",
        diary(type("Odd", (), {"to_pandas": lambda self: [1, 2]})()),
        SPE,
        "expected a pandas DataFrame",
        "Odd",
    ),
    # ----------------------------------------------------------------- Diary: methods
    case("lag-fractional-k", method("lag", "pain", 1.5), SPE, "integer number of days"),
    case("lag-bool-k", method("lag", "pain", True), SPE, "integer"),
    case(
        "lag-unknown-column", method("lag", "ache"), DSE, "not variables of this diary", "Variables"
    ),
    case(
        "lag-misaligned-series",
        method("lag", pd.Series([1.0, 2.0], name="s")),
        DSE,
        "not aligned",
        "diary.data",
    ),
    case("lag-not-a-column", method("lag", 3), SPE, "column name or a Series"),
    case("lagged-frame-empty", method("lagged_frame", {}), SPE, "non-empty dict"),
    case("lagged-frame-reserved", method("lagged_frame", {"day": ("pain", 1)}), SPE, "reserved"),
    case(
        "lagged-frame-bad-k",
        method("lagged_frame", {"p": ("pain", "1")}),
        SPE,
        "k must be an integer",
    ),
    case(
        "lagged-frame-unknown",
        method("lagged_frame", {"p": ("ache", 1)}),
        DSE,
        "lagged_frame",
        "'ache'",
    ),
    case("summary-pain-is-sleep", method("summary", pain="sq"), SPE, "declared as a sleep column"),
    case("summary-pain-unknown", method("summary", pain="ache"), DSE, "'ache'", "Variables"),
    case("with-sleep-unknown", method("with_sleep", "quality"), DSE, "'quality'"),
    case("with-sleep-timing", method("with_sleep", "sq", "noon"), SPE, "sleep_timing="),
    case("decompose-unknown", method("decompose", ["pain", "mood"]), DSE, "decompose", "'mood'"),
    # -------------------------------------------------------------- Diary: files
    case("csv-missing", from_csv(missing_file), IFE, "not found", "nope.csv"),
    case("csv-folder", from_csv(folder), IFE, "folder", "adir"),
    case("csv-empty", from_csv(EMPTY), IFE, "empty", "d.csv"),
    case("csv-blank-lines", from_csv(BLANK), IFE, "no data"),
    case("csv-truncated-gz", from_csv(TRUNCATED_GZ), IFE, "truncated", "d.csv.gz"),
    case("csv-plain-named-gz", from_csv(PLAIN_AS_GZ), IFE, "not gzip-compressed", "Rename"),
    case("csv-latin1", from_csv(LATIN1), IFE, "not UTF-8", "encoding=latin-1"),
    case(
        "csv-unknown-encoding",
        from_csv(LATIN1, encoding="klingon"),
        IFE,
        "not a known text encoding",
    ),
    case("csv-ragged", from_csv(RAGGED), IFE, "d.csv", "delimiter"),
    case("csv-decimal-comma", from_csv(SEMICOLON_COMMA), DSE, "decimal comma", "decimal=','"),
    case("csv-wrong-sep", from_csv(SEMICOLON_COMMA, sep=","), DSE, "not in the data"),
    # --------------------------------------------------------------- score_diary
    case("score-not-frame", score([1, 2]), DSE, "expected a pandas DataFrame", "list"),
    case("score-dict", score({"bedtime": ["22:00"]}), DSE, "pd.DataFrame(records)"),
    case(
        "score-missing-column",
        score(night().rename(columns={"bedtime": "bed_time"})),
        DSE,
        "'bedtime'",
        "bed_time",
    ),
    case(
        "score-missing-several",
        score(night().drop(columns=["sol_min", "waso_min"])),
        DSE,
        "'sol_min'",
        "'waso_min'",
    ),
    case("score-arg-not-str", score(bedtime=3), SPE, "bedtime= must be a column name"),
    case("score-arg-list", score(sol_min=["sol_min"]), SPE, "sol_min= must be a column name"),
    case(
        "score-numeric-clock", score(night(bedtime=[22.5])), DSE, "'bedtime'", "clock times", "22.5"
    ),
    case("score-bool-clock", score(night(final_wake=[True])), DSE, "'final_wake'", "clock times"),
    case(
        "score-timedelta-clock",
        score(night(lights_off=[pd.Timedelta(hours=22)])),
        DSE,
        "'lights_off'",
    ),
    case(
        "score-datetime-minutes",
        score(night(sol_min=[pd.Timestamp("2024-01-01")])),
        DSE,
        "'sol_min'",
        "minutes",
    ),
    case("score-bool-minutes", score(night(waso_min=[True])), DSE, "'waso_min'", "minutes"),
    case("score-max-tib-zero", score(max_tib_min=0), SPE, "max_tib_min", "1440"),
    case("score-max-tib-negative", score(max_tib_min=-5), SPE, "max_tib_min"),
    case("score-max-tib-too-big", score(max_tib_min=2000), SPE, "max_tib_min", "960"),
    case("score-max-tib-text", score(max_tib_min="960"), SPE, "max_tib_min"),
    case("score-max-tib-bool", score(max_tib_min=True), SPE, "max_tib_min"),
    case("score-max-tib-nan", score(max_tib_min=float("nan")), SPE, "max_tib_min"),
    case("score-max-tst-zero", score(max_tst_min=0), SPE, "max_tst_min", "840"),
    case("score-max-tst-inf", score(max_tst_min=float("inf")), SPE, "max_tst_min"),
    case("score-max-tst-text", score(max_tst_min="840"), SPE, "max_tst_min"),
    case("score-max-tst-none", score(max_tst_min=None), SPE, "max_tst_min"),
    case(
        "score-to-pandas-fails",
        score(
            type(
                "T",
                (),
                {"to_pandas": lambda self: (_ for _ in ()).throw(ImportError("no pyarrow"))},
            )()
        ),
        SPE,
        "pip install pyarrow",
    ),
    # ----------------------------------------------------------------------- lmm
    case("lmm-formula-not-str", lmm(42), SPE, "formula must be a string"),
    case("lmm-no-tilde", lmm("y + x + (1 | g)"), SPE, "exactly one '~'"),
    case("lmm-two-tildes", lmm("y ~ x ~ z + (1 | g)"), SPE, "exactly one '~'"),
    case("lmm-empty-rhs", lmm("y ~ "), SPE, "nothing right of '~'"),
    case("lmm-no-random", lmm("y ~ x"), SPE, "no random-effect term", "(1 | id)"),
    case("lmm-bar-outside-parens", lmm("y ~ x + 1 | g"), SPE, "own parentheses"),
    case("lmm-empty-group", lmm("y ~ x + (1 | )"), SPE, "both sides of '|'"),
    case("lmm-unbalanced", lmm("y ~ x + (1 | g"), SPE, "unbalanced"),
    case("lmm-closing-paren", lmm("y ~ x) + (1 | g)"), SPE, "closes nothing"),
    case("lmm-empty-term", lmm("y ~ x + + (1 | g)"), SPE, "empty term"),
    case("lmm-bad-group", lmm("y ~ x + (1 | g + h)"), SPE, "grouping factor", "not a column name"),
    case("lmm-removal", lmm("y ~ x + (1 + x - x | g)"), SPE, "removing 'x'"),
    case("lmm-no-columns-in-term", lmm("y ~ x + (0 | g)"), SPE, "has no columns"),
    case(
        "lmm-unknown-column",
        lmm("y ~ xx + (1 | g)"),
        SPE,
        "'xx'",
        "not a column",
        "Did you mean 'x'",
    ),
    case("lmm-unknown-group", lmm("y ~ x + (1 | group)"), SPE, "'group'", "not a column"),
    case("lmm-dotted-not-a-column", lmm("y ~ Age.group + (1 | g)"), SPE, "'Age'", "not a column"),
    case("lmm-data-list", lmm("y ~ x + (1 | g)", [1, 2, 3]), DSE, "pandas DataFrame", "list"),
    case(
        "lmm-constant-response",
        lmm("y ~ x + (1 | g)", mixed_data().assign(y=1.0)),
        DSE,
        "constant",
        "variation",
    ),
    case(
        "lmm-one-level",
        lmm("y ~ x + (1 | g)", mixed_data().assign(g=0)),
        DSE,
        "1 level",
        "check.nlev.gtr.1",
    ),
    case(
        "lmm-levels-equal-obs",
        lmm("y ~ x + (1 | g)", mixed_data().assign(g=np.arange(72))),
        DSE,
        "levels",
        "check.nobs.vs.nlev",
    ),
    case(
        "lmm-too-many-re",
        lmm("y ~ x + (1 + x | g)", mixed_data(n_groups=12, per=2)),
        DSE,
        "number of random effects",
        "check.nobs.vs.nRE",
    ),
    case(
        "lmm-text-response",
        lmm("y ~ x + (1 | g)", mixed_data().assign(y="a")),
        DSE,
        "must be numeric",
        "pd.to_numeric",
    ),
    case(
        "lmm-all-missing",
        quiet(lmm("y ~ x + (1 | g)", mixed_data().assign(x=np.nan))),
        DSE,
        "no complete rows",
    ),
    case(
        "lmm-inf-rows",
        lmm("y ~ x + (1 | g)", mixed_data().assign(x=lambda d: d.x.where(d.index > 2, np.inf))),
        DataDropWarning,
        "3 row(s)",
        "non-finite 'x'",
    ),
    case(
        "lmm-nan-rows",
        lmm("y ~ x + (1 | g)", mixed_data().assign(y=lambda d: d.y.where(d.index != 5))),
        DataDropWarning,
        "dropped 1 of 72",
        "accounting",
    ),
    case(
        "lmm-log-zero",
        lmm(
            "y ~ np.log(x0) + (1 | g)",
            mixed_data().assign(x0=lambda d: d.x.abs().where(d.index != 0, 0.0)),
        ),
        DataDropWarning,
        "non-finite value after transformation",
    ),
    case(
        "lmm-bad-patsy",
        lmm("y ~ C(h, levels=5) + (1 | g)"),
        SPE,
        "cannot build the fixed-effects matrix",
    ),
    case(
        "lmm-anova-one",
        lambda _t: sp.anova(sp.lmm("y ~ x + (1 | g)", mixed_data())),
        SPE,
        "at least two fits",
    ),
    case(
        "lmm-anova-not-fit",
        lambda _t: sp.anova(sp.lmm("y ~ x + (1 | g)", mixed_data()), "fit"),
        SPE,
        "LmmResult",
        "str",
    ),
    # ------------------------------------------------------------------- crosslag
    case("crosslag-not-data", crosslag([1, 2]), SPE, "sp.Diary or a pandas DataFrame", "list"),
    case("crosslag-no-id", crosslag(id=None), SPE, "id= required"),
    case("crosslag-pain-missing", crosslag(pain="ache"), DSE, "'ache'", "not in the data"),
    case("crosslag-sleep-missing", crosslag(sleep="quality"), DSE, "'quality'"),
    case("crosslag-same-column", crosslag(sleep="pain"), SPE, "also listed in sleep="),
    case("crosslag-estimator", crosslag(estimator="bayes"), SPE, "estimator='bayes'", "'lmm'"),
    case("crosslag-covariate-missing", crosslag(covariates=["zz"]), DSE, "'zz'"),
    case(
        "crosslag-inf-pain",
        crosslag(
            simulated().assign(pain=lambda d: d.pain.where(d.index != 5, np.inf)),
            random_slopes=False,
        ),
        DQW,
        "infinite",
        "'pain'",
        "rows 5",
    ),
    case(
        "crosslag-decimal-comma",
        crosslag(
            simulated().assign(pain=lambda d: d.pain.map(lambda v: f"{v:.1f}".replace(".", ",")))
        ),
        DSE,
        "decimal comma",
        "'pain'",
    ),
    case(
        "crosslag-ids-alike",
        crosslag(
            simulated().assign(
                id=lambda d: d.id.astype(object).where(d.index != 0, str(d.id.iloc[0]))
            )
        ),
        DSE,
        "ids look alike",
    ),
    case(
        "crosslag-date-year-10000",
        crosslag(
            simulated().assign(day=lambda d: d.date.where(d.index != 0, "10000-01-01")),
            random_slopes=False,
        ),
        DSE,
        "year",
        "row 0",
    ),
    # ---------------------------------------------------------------------- power
    case("power-persons-zero", power(n_persons=0), SPE, "n_persons", "at least 5"),
    case("power-persons-negative", power(n_persons=-3), SPE, "n_persons", "-3"),
    case("power-persons-text", power(n_persons=[10, "x"]), SPE, "'x'", "whole number"),
    case("power-days-one", power(n_days=1), SPE, "n_days", "at least 3"),
    case("power-sims-zero", power(n_sims=0), SPE, "n_sims=0", "positive integer"),
    case("power-alpha-big", power(alpha=1.5), SPE, "alpha=1.5", "between 0 and 1"),
    case("power-alpha-zero", power(alpha=0), SPE, "alpha=0"),
    case("power-seed-text", power(seed="abc"), SPE, "seed='abc'", "seed=2024"),
    case("power-test", power(test="bogus"), SPE, "test='bogus'", "'satterthwaite'"),
    case("power-scale", power(sleep_scale="0-99"), SPE, "sleep_scale='0-99'", "'0-10'"),
    case("power-unknown-parameter", power(bogus_param=1), SPE, "'bogus_param'", "DiaryParameters"),
    case("power-jobs-zero", power(n_jobs=0), SPE, "n_jobs=0", "-1"),
    # ------------------------------------------------------------------------ CLI
    case("cli-truncated-gz", describe("f", TRUNCATED_GZ), CliExit, "truncated", "d.csv.gz"),
    case("cli-plain-named-gz", describe("f", PLAIN_AS_GZ), CliExit, "not gzip-compressed"),
    case("cli-latin1", describe("f", LATIN1), CliExit, "not UTF-8", "--encoding latin-1"),
    case(
        "cli-unknown-encoding",
        describe("f", LATIN1, "--encoding", "klingon"),
        CliExit,
        "--encoding klingon",
    ),
    case("cli-empty", describe("f", EMPTY), CliExit, "empty"),
    case("cli-folder", describe("f", folder), CliExit, "folder"),
    case("cli-missing", describe("f", missing_file), CliExit, "not found", "nope.csv"),
    case("cli-ragged", describe("f", RAGGED), CliExit, "delimiter", "--sep"),
    case(
        "cli-decimal-comma", describe("f", SEMICOLON_COMMA), CliExit, "decimal comma", "--decimal ,"
    ),
    case("cli-wrong-sep", describe("f", SEMICOLON_COMMA, "--sep", ","), CliExit, "not in the data"),
    case(
        "cli-out-of-range",
        describe("f", OUT_OF_SCALE, "--scale", "pain=0,10", "--out-of-range", "raise"),
        CliExit,
        "outside its scale",
        "--out-of-range set-missing",
    ),
    case(
        "cli-duplicates", describe("f", DUPS), CliExit, "duplicated", "--aggregate mean", "--prompt"
    ),
    case(
        "cli-aggregate-unknown",
        describe("f", DUPS, "--aggregate", "avg"),
        CliExit,
        "--aggregate pain=avg",
        "not a pandas reducer",
    ),
    case("cli-scale-syntax", describe("f", GOOD, "--scale", "pain=0"), CliExit, "COL=LO,HI"),
    case(
        "cli-tz", describe("f", GOOD, "--tz", "Mars/Olympus"), CliExit, "--tz Mars/Olympus", "IANA"
    ),
    case(
        "cli-day-typo",
        describe("f", GOOD, day="Day"),
        CliExit,
        "'Day' (from --day)",
        "Did you mean 'day'",
    ),
    case(
        "cli-day-fraction",
        describe("f", csv_file("id,day,pain\n1,1,2\n1,1.5,3\n")),
        CliExit,
        "non-integer",
        "row 1",
    ),
    case(
        "cli-no-id",
        run_cli(["describe", "{f}", "--day", "day"], {"f": GOOD}),
        CliExit,
        "--id required",
    ),
    case("cli-unknown-command", run_cli(["frobnicate"]), CliExit, "invalid choice"),
    case(
        "cli-unknown-flag",
        run_cli(["describe", "{f}", "--id", "id", "--day", "day", "--bogus"], {"f": GOOD}),
        CliExit,
        "unrecognized arguments",
    ),
    case(
        "cli-sleep-timing",
        run_cli(
            ["describe", "{f}", "--id", "id", "--day", "day", "--sleep-timing", "noon"], {"f": GOOD}
        ),
        CliExit,
        "invalid choice",
    ),
    case(
        "cli-analyze-missing-flags",
        run_cli(["analyze", "{f}", "--id", "id", "--day", "day"], {"f": GOOD}),
        CliExit,
        "--sleep",
        "--pain",
        "required",
    ),
    case(
        "cli-power-persons",
        run_cli(
            [
                "power",
                "--persons",
                "abc",
                "--days",
                "7",
                "--sleep-to-pain",
                "0",
                "--pain-to-sleep",
                "0",
                "--out",
                "o",
            ]
        ),
        CliExit,
        "'abc'",
        "whole numbers",
    ),
]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, tmp_path: Path) -> None:
    if issubclass(c.expect, Warning):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            c.call(tmp_path)
        hits = [w for w in rec if issubclass(w.category, c.expect)]
        assert hits, f"no {c.expect.__name__}; got {[str(w.message) for w in rec]}"
        message = " ".join(str(w.message) for w in hits)
    else:
        with pytest.raises(c.expect) as info:
            c.call(tmp_path)
        exc = info.value
        if isinstance(exc, CliExit):
            assert exc.code == 2, exc.err
            lines = exc.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("sleeppain: error: "), exc.err
            assert "Traceback" not in exc.err
            # advice names flags, not Python keywords
            for kw in ("out_of_range=", "aggregate=", "decimal=", "encoding=", "prompt="):
                assert kw not in lines[0], lines[0]
            message = lines[0]
        else:
            assert isinstance(exc, SleepPainError), type(exc)
            message = str(exc)
    for word in c.words:
        assert word.lower() in message.lower(), f"{word!r} not in: {message}"


def test_the_table_is_large_and_unique() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


# ------------------------------------------------------------- now supported, correctly


@pytest.mark.parametrize(
    ("first", "second", "gap"),
    [
        ("1066-10-14", "1066-10-15", 1),
        ("2999-12-30", "2999-12-31", 1),
        ("2262-04-10", "2262-04-12", 2),  # nanoseconds end 2262-04-11: no false lag pair
        ("1677-09-20", "1677-09-22", 2),
        ("0001-01-01", "0001-01-02", 1),
        ("9999-12-30", "9999-12-31", 1),
    ],
)
def test_dates_outside_the_nanosecond_range_keep_their_calendar(first, second, gap):
    df = pd.DataFrame({"id": [1, 1], "day": [first, second], "pain": [1.0, 2.0]})
    for days in (df["day"], pd.to_datetime(df["day"], format="ISO8601").astype("datetime64[s]"),
                 [dt.date.fromisoformat(v) for v in df["day"]]):  # fmt: skip
        d = sp.Diary.from_frame(df.assign(day=days), id="id", day="day")
        assert d.data["day"].diff().iloc[-1] == gap
        assert [str(v)[:10] for v in d.data["day_label"]] == [first, second]
        np.testing.assert_array_equal(
            d.lag("pain").to_numpy(), [np.nan, 1.0] if gap == 1 else [np.nan, np.nan]
        )


def test_timestamps_of_1066_keep_their_order_within_a_day():
    df = pd.DataFrame(
        {
            "id": [1, 1],
            "day": ["1066-10-14T18:00", "1066-10-14T09:00"],
            "pain": [8.0, 2.0],
        }
    )
    d = sp.Diary.from_frame(df, id="id", day="day", aggregate="first")
    assert d.data["pain"].tolist() == [2.0]  # the morning report comes first


def test_ids_from_csv_stay_text(tmp_path):
    path = LEADING_ZEROS(tmp_path)
    with pytest.warns(DataQualityWarning, match="look alike"):
        d = sp.Diary.from_csv(path, id="id", day="day")
    assert d.ids.tolist() == ["012", "12"] and d.n_persons == 2


def test_digit_ids_sort_numerically():
    df = frame(id=["10", "10", "10", "9", "9", "9"])
    assert sp.Diary.from_frame(df, id="id", day="day").ids.tolist() == ["9", "10"]


def test_infinite_values_are_counted_per_variable():
    with pytest.warns(DataQualityWarning):
        d = sp.Diary.from_frame(frame(pain=[3, np.inf, -np.inf, 2, 6, 1]), id="id", day="day")
    assert ("pain", "infinite value", 2) in d.accounting.values_set_missing
    assert d.data["pain"].isna().sum() == 2
    assert "pain: infinite value" in d.summary()


def test_decimal_commas_are_read_with_decimal_argument(tmp_path):
    d = sp.Diary.from_frame(frame(pain=["5,5", "3", "4,0", "2", "1", "6"]), id="id", day="day",
                            decimal=",")  # fmt: skip
    assert d.data["pain"].tolist()[:3] == [5.5, 3.0, 4.0]
    d2 = sp.Diary.from_csv(SEMICOLON_COMMA(tmp_path), id="id", day="day", decimal=",")
    assert d2.data["pain"].tolist() == [3.5, 4.0, 5.5]


def test_integer_column_labels_are_read_as_text():
    df = pd.DataFrame({0: [1, 1, 2], 1: [1, 2, 1], 2: [3.0, 4.0, 5.0]})
    d = sp.Diary.from_frame(df, id=0, day=1)
    assert d.variables == ("2",) and d.lag("2").tolist()[1] == 3.0


def test_pyarrow_backed_frames_give_the_same_diary():
    pa = pytest.importorskip("pyarrow")
    df = pd.DataFrame(
        {
            "id": [1, 1, 2, 2],
            "day": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-02"],
            "pain": [3.0, None, 5.0, 6.0],
        }
    )
    plain = sp.Diary.from_frame(df, id="id", day="day")
    arrow = sp.Diary.from_frame(df.convert_dtypes(dtype_backend="pyarrow"), id="id", day="day")
    pd.testing.assert_frame_equal(arrow.data, plain.data, check_dtype=False)
    dates = df.assign(
        day=pd.array(
            [dt.date.fromisoformat(v) for v in df["day"]], dtype=pd.ArrowDtype(pa.date32())
        )
    )
    assert (
        sp.Diary.from_frame(dates, id="id", day="day").data["day"].tolist()
        == plain.data["day"].tolist()
    )


def test_polars_and_pyarrow_tables_are_converted():
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    cols = {"id": [1, 1, 2], "day": [1, 2, 1], "pain": [3.0, 4.0, 5.0]}
    expected = sp.Diary.from_frame(pd.DataFrame(cols), id="id", day="day").data
    for table in (pl.DataFrame(cols), pa.table(cols)):
        got = sp.Diary.from_frame(table, id="id", day="day").data
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    scored = sp.sleep.score_diary(pl.DataFrame(NIGHT))
    assert scored["tst_min"].tolist() == [445.0]
    fit = sp.lmm("y ~ x + (1 | g)", pl.from_pandas(mixed_data()))
    assert fit.nobs == 72
    data = mixed_data().assign(c=lambda d: np.where(d.g % 2, "a", "b"))
    plain = sp.lmm("y ~ x + c + (1 | g)", data)
    arrow = sp.lmm("y ~ x + c + (1 | g)", data.convert_dtypes(dtype_backend="pyarrow"))
    assert arrow.objective == pytest.approx(plain.objective, rel=1e-10)


def test_implausible_night_of_the_issue_is_flagged():
    out = sp.sleep.score_diary(
        night(bedtime=["22:00"], lights_off=["22:10"], final_wake=["20:50"], out_of_bed=["21:00"])
    )
    assert bool(out["flag_implausible_tib"].iloc[0]) and np.isnan(out["se_pct"].iloc[0])


def test_cli_reads_latin1_and_semicolons_with_flags(tmp_path, capsys):
    path = str(SEMICOLON_COMMA(tmp_path))
    assert cli.main(["describe", path, "--id", "id", "--day", "day", "--decimal", ","]) == 0
    assert "input rows" in capsys.readouterr().out
    latin = str(LATIN1(tmp_path))
    assert cli.main(["describe", latin, "--id", "id", "--day", "day", "--encoding", "latin-1"]) == 0


def test_check_output_dir_before_work(tmp_path):
    with pytest.raises(cli.CliError, match="existing file"):
        cli.check_output_dir(existing_file(tmp_path))
    with pytest.raises(cli.CliError, match="is a file"):
        cli.check_output_dir(existing_file(tmp_path) / "sub")
    assert cli.check_output_dir(tmp_path / "new" / "report") == tmp_path / "new" / "report"


def test_unexpected_errors_are_one_line(monkeypatch, capsys):
    def boom(args):
        raise TypeError("internal")

    monkeypatch.setattr(cli, "_SUBCOMMANDS", dict(cli._SUBCOMMANDS))
    cli.add_subcommand("boom", "fails", lambda p: None, boom)
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SLEEPPAIN_DEBUG=1" in err and "Traceback" not in err
