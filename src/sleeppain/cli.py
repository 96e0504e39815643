"""The ``sleeppain`` command.

Subcommands register themselves with :func:`add_subcommand` (a name, a help line, a
function adding the subcommand's arguments, and a function running it), so a new command
is one small function pair::

    def _configure_power(p: argparse.ArgumentParser) -> None: ...
    def _run_power(args: argparse.Namespace) -> int: ...
    add_subcommand("power", "simulation-based power", _configure_power, _run_power)

Errors from the library (any :class:`~sleeppain.errors.SleepPainError`), a missing file and
bad arguments print one line, ``sleeppain: error: ...``, to stderr and exit with code 2.

Examples
--------
>>> from sleeppain.cli import main
>>> main(["describe", "no-such-file.csv", "--id", "id", "--day", "date"])
2
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sleeppain.errors import SleepPainError

__all__ = [
    "SAMPLE_DIARY",
    "Subcommand",
    "add_subcommand",
    "build_parser",
    "main",
]

#: The bundled sample diary (columns id, date, pain, sleep_quality, ...), in the repository.
SAMPLE_DIARY = Path(__file__).resolve().parents[2] / "data" / "sample" / "diary.csv"

#: Columns of the sample diary (see data/sample/) used when ``describe`` gets no CSV.
SAMPLE_COLUMNS = {
    "id": "id",
    "day": "date",
    "pain": "pain",
    "sleep": ("sleep_quality", "sol_min", "waso_min"),
}


class CliError(Exception):
    """A usage error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see '{self.prog} --help')")


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in _SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run)
    return parser


# --------------------------------------------------------------------------- describe
def _scale(text: str) -> tuple[str, tuple[float, float]]:
    col, sep, rng = text.rpartition("=")
    parts = rng.split(",")
    try:
        if not sep or not col or len(parts) != 2:
            raise ValueError
        return col, (float(parts[0]), float(parts[1]))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--scale {text!r} is not COL=LO,HI (e.g. --scale pain=0,10)"
        ) from None


def _aggregate(text: str) -> tuple[str | None, str]:
    col, sep, func = text.rpartition("=")
    if not func or (sep and not col):
        raise argparse.ArgumentTypeError(
            f"--aggregate {text!r} is not FUNC or COL=FUNC (e.g. --aggregate pain=mean)"
        )
    return (col if sep else None), func


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
    p.add_argument(
        "--sleep", nargs="+", default=None, metavar="COL", help="sleep columns (night variables)"
    )
    p.add_argument("--pain", metavar="COL", help="pain column for lagged pair counts")
    p.add_argument(
        "--sleep-timing",
        choices=["previous-night", "following-night"],
        default="previous-night",
        help="night a sleep report describes (default: previous-night, a morning diary)",
    )
    p.add_argument("--prompt", metavar="COL", help="column numbering several reports a day")
    p.add_argument(
        "--aggregate",
        action="append",
        type=_aggregate,
        metavar="[COL=]FUNC",
        help="combine the reports of a day (e.g. --aggregate mean, --aggregate pain=max); "
        "repeatable",
    )
    p.add_argument(
        "--scale",
        action="append",
        type=_scale,
        default=[],
        metavar="COL=LO,HI",
        help="declared rating scale (e.g. --scale pain=0,10); repeatable",
    )
    p.add_argument("--tz", help="time zone for timestamps, e.g. Europe/Oslo")


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
    aggregate: str | dict[str, str] | None = None
    if args.aggregate:
        whole = [f for c, f in args.aggregate if c is None]
        per_col = {c: f for c, f in args.aggregate if c is not None}
        if whole and per_col:
            raise CliError("--aggregate: give either one FUNC for all columns or COL=FUNC items")
        aggregate = whole[-1] if whole else per_col
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diary = Diary.from_csv(
            path,
            id=id_col,
            day=day_col,
            sleep=sleep or None,
            sleep_timing=args.sleep_timing.replace("-", "_"),
            prompt=args.prompt,
            aggregate=aggregate,
            scales=dict(args.scale) or None,
            tz=args.tz,
        )
        accounting = diary.summary(pain=pain)
    for w in caught:
        print(f"sleeppain: warning: {w.message}", file=sys.stderr)
    print(f"Diary: {path}")
    print(accounting.to_text())
    return 0


add_subcommand(
    "describe",
    "validate a diary CSV and print its accounting (rows, persons, days, lagged pairs)",
    _configure_describe,
    _run_describe,
)


def _register_builtin_subcommands() -> None:
    # The analysis and planning commands live with their packages; their CLI modules
    # import only argparse at module level, so building the parser stays fast.
    from sleeppain.planning._cli import configure_power_parser, run_power
    from sleeppain.report._cli import ANALYZE_HELP, configure_analyze, run_analyze

    add_subcommand("analyze", ANALYZE_HELP, configure_analyze, run_analyze)
    add_subcommand(
        "power",
        "simulation-based power of a lagged diary study over a grid of persons x days",
        configure_power_parser,
        run_power,
    )


_register_builtin_subcommands()


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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        run = getattr(args, "_run", None)
        if run is None:
            parser.print_help()
            return 2
        return int(run(args))
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except (CliError, SleepPainError, OSError, UnicodeDecodeError, *_pandas_errors()) as exc:
        message = " ".join(str(exc).split())
        print(f"sleeppain: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
