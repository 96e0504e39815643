"""The ``sleeppain`` command.

Subcommands register themselves with :func:`add_subcommand` (a name, a help line, a
function adding the subcommand's arguments, and a function running it), so a new command
is one small function pair::

    def _configure_power(p: argparse.ArgumentParser) -> None: ...
    def _run_power(args: argparse.Namespace) -> int: ...
    add_subcommand("power", "simulation-based power", _configure_power, _run_power)

Errors from the library (any :class:`~sleeppain.errors.SleepPainError`), a missing,
truncated or mis-encoded file and bad arguments print one line, ``sleeppain: error: ...``,
to stderr and exit with code 2; library advice such as ``pass out_of_range='set_missing'``
is translated to the command's flags (``--out-of-range set-missing``) by
:func:`cli_message`. An unexpected failure prints one line too (exit code 1; set
``SLEEPPAIN_DEBUG=1`` for the traceback).

Helpers for subcommands (``analyze`` and ``power`` use them):

* :func:`read_table` -- read a CSV with ``--encoding``/``--sep``/``--decimal``, ids as text;
* :func:`add_file_options` -- add those three flags to a subcommand;
* :func:`check_output_dir` -- refuse an ``--out`` that cannot be a folder *before* any work;
* :func:`cli_message` -- Python keyword advice -> command-line flags.

Examples
--------
>>> from sleeppain.cli import main
>>> main(["describe", "no-such-file.csv", "--id", "id", "--day", "date"])
2
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sleeppain._cliopts import CliError, add_diary_options, aggregate_value
from sleeppain.errors import SleepPainError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FLAGS",
    "SAMPLE_DIARY",
    "CliError",
    "Subcommand",
    "add_file_options",
    "add_subcommand",
    "build_parser",
    "check_output_dir",
    "cli_message",
    "main",
    "read_table",
]

#: The bundled sample diary (columns id, date, pain, sleep_quality, ...), shipped as package
#: data (identical to the repository's data/sample/diary.csv; see sp.datasets.sample_diary).
SAMPLE_DIARY = Path(__file__).resolve().parent / "data" / "sample_diary.csv"

#: Columns of the sample diary (see data/sample/) used when ``describe`` gets no CSV.
SAMPLE_COLUMNS = {
    "id": "id",
    "day": "date",
    "pain": "pain",
    "sleep": ("sleep_quality", "sol_min", "waso_min"),
}


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see '{self.prog} --help')")


#: Library keyword -> command-line flag, for :func:`cli_message`. ``id``/``day`` are
#: translated only without a value (``(from id=)``): ``id=17`` names a person, not the flag.
FLAGS: dict[str, str] = {
    "id": "--id",
    "day": "--day",
    "aggregate": "--aggregate",
    "covariates": "--covariates",
    "decimal": "--decimal",
    "encoding": "--encoding",
    "estimator": "--estimator",
    "n_boot": "--n-boot",
    "out_of_range": "--out-of-range",
    "pain": "--pain",
    "person_covariates": "--person-covariates",
    "prompt": "--prompt",
    "random_slopes": "--no-random-slopes",
    "slope_correlation": "--slope-correlation",
    "scales": "--scale",
    "seed": "--seed",
    "sep": "--sep",
    "sleep": "--sleep",
    "sleep_timing": "--sleep-timing",
    "tz": "--tz",
}

#: Keywords whose ``kw=value`` in a message names data (a person, a day), not an argument.
_DATA_KEYWORDS = {"id", "day"}

#: Flags whose values are written with hyphens on the command line.
_HYPHEN_VALUES = {"--out-of-range", "--sleep-timing"}

_KEYWORD = re.compile(
    r"(?<![\w.\[])(?P<kw>[a-z_]+)=(?P<val>'[^']*'|\"[^\"]*\"|\{[^{}]*\}|\.\.\.|[\w.+\-/]+)?"
)
_ITEM_ASSIGN = re.compile(
    r"(?<![\w.])(?P<kw>[a-z_]+)\[['\"](?P<col>[^'\"]+)['\"]\]\s*=\s*"
    r"(?P<val>'[^']*'|\"[^\"]*\"|[\w.+\-]+)"
)
_ITEM = re.compile(r"['\"]([^'\"]+)['\"]\s*:\s*(\([^)]*\)|'[^']*'|\"[^\"]*\"|[^,}]+)")


def _plain(value: str, flag: str) -> str:
    value = value.strip()
    if value[:1] in "'\"" and value[-1:] == value[:1]:
        value = value[1:-1]
    if value.startswith("(") and value.endswith(")"):
        value = ",".join(v.strip() for v in value[1:-1].split(","))
    if flag in _HYPHEN_VALUES:
        value = value.replace("_", "-")
    return value


def cli_message(text: str, flags: dict[str, str] | None = None) -> str:
    """Rewrite Python keyword advice in a library message as command-line flags.

    Parameters
    ----------
    text : str
        The message.
    flags : dict, optional
        Keyword -> flag (default :data:`FLAGS`); keywords not listed are left as they are.

    Returns
    -------
    str

    Examples
    --------
    >>> cli_message("Correct them, or pass out_of_range='set_missing'.")
    'Correct them, or pass --out-of-range set-missing.'
    >>> cli_message("Pass aggregate= (e.g. aggregate={'pain': 'mean'}) to combine them")
    'Pass --aggregate (e.g. --aggregate pain=mean) to combine them'
    >>> cli_message("aggregate['pain'] = 'avg' is not a pandas reducer")
    '--aggregate pain=avg is not a pandas reducer'
    >>> cli_message("column 'ID' (from id=) is not in the data; e.g. id=17 on day 3")
    "column 'ID' (from --id) is not in the data; e.g. id=17 on day 3"
    """
    table = FLAGS if flags is None else flags

    def swap(m: re.Match[str]) -> str:
        flag = table.get(m["kw"])
        if flag is None:
            return m[0]
        val = m["val"]
        if val is None:
            return flag
        if m["kw"] in _DATA_KEYWORDS:
            return m[0]
        if val.startswith("{"):
            items = _ITEM.findall(val)
            if not items:
                return f"{flag} COL=VALUE"
            return " ".join(f"{flag} {k}={_plain(v, flag)}" for k, v in items)
        if val == "...":
            return f"{flag} ..."
        return f"{flag} {_plain(val, flag)}"

    def swap_item(m: re.Match[str]) -> str:
        flag = table.get(m["kw"])
        if flag is None:
            return m[0]
        return f"{flag} {m['col']}={_plain(m['val'], flag)}"

    return _ITEM_ASSIGN.sub(swap_item, _KEYWORD.sub(swap, text))


def add_file_options(p: argparse.ArgumentParser) -> None:
    """Add ``--encoding``, ``--sep`` and ``--decimal`` (read by :func:`read_table`).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_file_options(p)
    >>> p.parse_args(["--sep", ";", "--decimal", ","]).sep
    ';'
    """
    p.add_argument(
        "--encoding",
        metavar="NAME",
        help="text encoding of the CSV (default utf-8), e.g. latin-1 or cp1252",
    )
    p.add_argument(
        "--sep",
        metavar="CHAR",
        help="column delimiter (default: detected among , ; tab |); write tab as '\\t'",
    )
    p.add_argument(
        "--decimal",
        default=".",
        metavar="CHAR",
        help="decimal mark of the numbers (default '.'; use ',' for 3,5)",
    )


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    sep: str | None = None,
    decimal: str = ".",
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a CSV for a subcommand; every failure is one line naming the file and the flag.

    Parameters
    ----------
    path : path-like
    encoding, sep, decimal : str, optional
        The values of ``--encoding``, ``--sep`` (``\\t`` for tab) and ``--decimal``.
    text_columns : sequence of str
        Columns read as text (pass the ``--id`` column: ``012`` stays ``"012"``).

    Returns
    -------
    DataFrame

    Raises
    ------
    InputFileError
        Missing, empty, truncated or mis-encoded file, or not a table; the message names
        ``--encoding``/``--sep`` where they are the fix.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> with open(path, "w", encoding="latin-1") as f:
    ...     _ = f.write("id;day;note\\n1;1;caf\\xe9\\n")
    >>> read_table(path, encoding="latin-1")["note"].tolist()
    ['café']
    """
    from sleeppain.diary._io import read_table as _read

    if sep is not None:
        sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
    return _read(
        path,
        encoding=encoding,
        sep=sep,
        decimal=decimal,
        text_columns=text_columns,
        flags={"encoding": "--encoding ", "sep": "--sep ", "decimal": "--decimal "},
    )


def check_output_dir(path: str | os.PathLike[str], flag: str = "--out") -> Path:
    """Check, before any work, that ``path`` can be (or is) an output folder.

    Parameters
    ----------
    path : path-like
        The value of ``--out``.
    flag : str
        The flag's name, for the message.

    Returns
    -------
    Path

    Raises
    ------
    CliError
        ``path`` is an existing file, lies inside a file, or its parent is not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> _ = f.write_text("x")
    >>> check_output_dir(f)
    Traceback (most recent call last):
    ...
    sleeppain._cliopts.CliError: --out ... is an existing file; give a folder name ...
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CliError(
            f"{flag} {out} is an existing file; give a folder name (it is created if needed), "
            f"e.g. {flag} {out.with_suffix('')}-report"
        )
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise CliError(f"{flag} {out}: {parent} is a file, so no folder can be made inside it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"{flag} {out}: no permission to write in {parent}; choose another folder")
    return out


@dataclass(frozen=True)
class Subcommand:
    """A registered subcommand."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


_SUBCOMMANDS: dict[str, Subcommand] = {}


def add_subcommand(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> None:
    """Register a subcommand: ``configure`` adds its arguments, ``run`` returns an exit code."""
    _SUBCOMMANDS[name] = Subcommand(name, help, configure, run)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    from sleeppain import __version__

    parser = _Parser(
        prog="sleeppain",
        description="Bidirectional analysis of sleep and pain.",
    )
    parser.add_argument("--version", action="version", version=f"sleeppain {__version__}")
    _register_builtin_subcommands()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in _SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run)
    return parser


# --------------------------------------------------------------------------- describe
def _configure_describe(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "csv",
        nargs="?",
        help="diary CSV (long format, one row per person-day or prompt); default: the "
        "bundled sample data/sample/diary.csv, read with --id id --day date --pain pain and "
        "sleep_quality, sol_min, waso_min as sleep columns",
    )
    p.add_argument("--id", help="person id column (required with a CSV)")
    p.add_argument("--day", help="day column: study day, date or timestamp (required with a CSV)")
    p.add_argument("--pain", metavar="COL", help="pain column for lagged pair counts")
    add_diary_options(p)
    add_file_options(p)


def _run_describe(args: argparse.Namespace) -> int:
    from sleeppain.diary import Diary

    if args.csv is None:
        if not SAMPLE_DIARY.exists():
            raise FileNotFoundError(
                f"the bundled sample diary {SAMPLE_DIARY} is missing; pass a CSV file "
                "(sleeppain describe FILE.csv --id ID --day DAY)"
            )
        path = SAMPLE_DIARY
        id_col = args.id or SAMPLE_COLUMNS["id"]
        day_col = args.day or SAMPLE_COLUMNS["day"]
        pain = args.pain or SAMPLE_COLUMNS["pain"]
        sleep = args.sleep
        if sleep is None:
            import pandas as pd

            header = pd.read_csv(path, nrows=0).columns
            sleep = [c for c in SAMPLE_COLUMNS["sleep"] if c in header]
    else:
        missing = [f"--{n}" for n in ("id", "day") if getattr(args, n) is None]
        if missing:
            raise CliError(f"describe {args.csv}: {' and '.join(missing)} required with a CSV file")
        path, id_col, day_col, pain, sleep = args.csv, args.id, args.day, args.pain, args.sleep
    frame = read_table(
        path, encoding=args.encoding, sep=args.sep, decimal=args.decimal, text_columns=[id_col]
    )
    aggregate = aggregate_value(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diary = Diary.from_frame(
            frame,
            id=id_col,
            day=day_col,
            sleep=sleep or None,
            sleep_timing=args.sleep_timing.replace("-", "_"),
            prompt=args.prompt,
            aggregate=aggregate,
            scales=dict(args.scale) or None,
            tz=args.tz,
            out_of_range=args.out_of_range.replace("-", "_"),
            decimal=args.decimal,
        )
        text = diary.summary(pain=pain)
    for w in caught:
        print(f"sleeppain: warning: {cli_message(str(w.message))}", file=sys.stderr)
    print(f"Diary: {path}")
    print(text)
    return 0


add_subcommand(
    "describe",
    "validate a diary CSV and print its accounting (rows, persons, days, lagged pairs)",
    _configure_describe,
    _run_describe,
)


def _register_builtin_subcommands() -> None:
    """Register ``analyze`` and ``power`` (once, when the parser is first built).

    Their modules (report/_cli.py, planning/_cli.py) import ``sleeppain.cli`` for
    :class:`CliError` and the helpers above, so importing them here at module level would
    close an import cycle; deferring the import to :func:`build_parser` keeps
    ``import sleeppain.cli`` free of them.
    """
    from sleeppain.planning._cli import configure_power_parser, run_power
    from sleeppain.report._cli import ANALYZE_HELP, configure_analyze, run_analyze

    _SUBCOMMANDS.setdefault(
        "analyze", Subcommand("analyze", ANALYZE_HELP, configure_analyze, run_analyze)
    )
    _SUBCOMMANDS.setdefault(
        "power",
        Subcommand(
            "power",
            "simulation-based power of a lagged diary study over a grid of persons x days",
            configure_power_parser,
            run_power,
        ),
    )


# ------------------------------------------------------------------------------- main
def _pandas_errors() -> tuple[type[Exception], ...]:
    """CSV-reading errors (unparseable or empty file), reported as data errors."""
    import pandas as pd

    return (pd.errors.ParserError, pd.errors.EmptyDataError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sleeppain`` command; returns the exit code.

    Examples
    --------
    >>> main(["describe", "--id"])
    2
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        run = getattr(args, "_run", None)
        if run is None:
            parser.print_help()
            return 2
        return int(run(args))
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except (CliError, SleepPainError, OSError, UnicodeDecodeError, *_pandas_errors()) as exc:
        message = cli_message(" ".join(str(exc).split()))
        if isinstance(exc, OSError) and not isinstance(exc, SleepPainError):
            message = _os_message(exc)
        print(f"sleeppain: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sleeppain: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("SLEEPPAIN_DEBUG"):
            raise
        message = " ".join(str(exc).split())
        print(
            f"sleeppain: error: unexpected {type(exc).__name__}: {message} (this is a "
            "sleeppain bug; please report it, with the traceback shown by rerunning with "
            "SLEEPPAIN_DEBUG=1)",
            file=sys.stderr,
        )
        return 1


def _os_message(exc: OSError) -> str:
    """One line for a file-system error: what happened to which file."""
    name = exc.filename if exc.filename is not None else ""
    what = exc.strerror or " ".join(str(exc).split())
    if isinstance(exc, FileExistsError):
        return f"{name}: already exists as a file; give --out a folder name"
    if isinstance(exc, FileNotFoundError) and not name:
        return " ".join(str(exc).split())
    return f"{name}: {what}" if name else what


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
