"""Options shared by the ``describe`` and ``analyze`` subcommands (no other imports).

Both ``sleeppain.cli`` (``describe``) and ``sleeppain.report._cli`` (``analyze``) import this
module, so a diary is read with the same flags in both commands and neither imports the
other at module level.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_diary_options(p)
>>> args = p.parse_args(["--sleep", "sq", "--sleep", "tst", "--aggregate", "pain=max"])
>>> args.sleep, aggregate_value(args)
(['sq', 'tst'], {'pain': 'max'})
"""

from __future__ import annotations

import argparse

__all__ = ["CliError", "add_diary_options", "aggregate_value", "parse_aggregate", "parse_scale"]


class CliError(Exception):
    """A usage error: printed as one line, exit code 2."""


def parse_scale(text: str) -> tuple[str, tuple[float, float]]:
    """``--scale COL=LO,HI`` as ``(column, (lo, hi))``.

    Examples
    --------
    >>> parse_scale("pain=0,10")
    ('pain', (0.0, 10.0))
    """
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


def parse_aggregate(text: str) -> tuple[str | None, str]:
    """``--aggregate [COL=]FUNC`` as ``(column or None, func)``.

    Examples
    --------
    >>> parse_aggregate("mean"), parse_aggregate("pain=max")
    ((None, 'mean'), ('pain', 'max'))
    """
    col, sep, func = text.rpartition("=")
    if not func or (sep and not col):
        raise argparse.ArgumentTypeError(
            f"--aggregate {text!r} is not FUNC or COL=FUNC (e.g. --aggregate pain=mean)"
        )
    return (col if sep else None), func


def aggregate_value(
    args: argparse.Namespace, default: str | None = None
) -> str | dict[str, str] | None:
    """The ``aggregate=`` argument of ``Diary.from_frame`` from the ``--aggregate`` flags.

    ``default`` applies when no ``--aggregate`` is given and ``--prompt`` is.

    Examples
    --------
    >>> aggregate_value(argparse.Namespace(aggregate=None, prompt="beep"), "mean")
    'mean'
    """
    if not args.aggregate:
        return default if getattr(args, "prompt", None) else None
    whole = [f for c, f in args.aggregate if c is None]
    per_col = {c: f for c, f in args.aggregate if c is not None}
    if whole and per_col:
        raise CliError("--aggregate: give either one FUNC for all columns or COL=FUNC items")
    return whole[-1] if whole else per_col


def add_diary_options(p: argparse.ArgumentParser, *, aggregate_default: str = "") -> None:
    """Add the diary-reading flags shared by ``describe`` and ``analyze``.

    ``--sleep`` (a list; repeating the flag adds more), ``--sleep-timing``, ``--prompt``,
    ``--aggregate``, ``--scale``, ``--tz`` and ``--out-of-range``.
    """
    p.add_argument(
        "--sleep",
        nargs="+",
        action="extend",
        default=None,
        metavar="COL",
        help="sleep columns (night variables): --sleep quality tst_min (repeating the flag "
        "adds more)",
    )
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
        type=parse_aggregate,
        metavar="[COL=]FUNC",
        help="combine the reports of a day (e.g. --aggregate mean, --aggregate pain=max); "
        "repeatable"
        + (f"; default with --prompt: {aggregate_default}" if aggregate_default else ""),
    )
    p.add_argument(
        "--scale",
        action="append",
        type=parse_scale,
        default=[],
        metavar="COL=LO,HI",
        help="declared rating scale (e.g. --scale pain=0,10); repeatable",
    )
    p.add_argument("--tz", help="time zone for timestamps, e.g. Europe/Oslo")
    p.add_argument(
        "--out-of-range",
        choices=["warn", "raise", "set-missing"],
        default="warn",
        help="values outside a --scale: keep them with a warning (default), stop with an "
        "error, or set them missing (counted)",
    )
