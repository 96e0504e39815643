"""The ``sleeppain analyze`` subcommand: both directions, printed and written as a report.

``sleeppain.cli`` registers it (``configure_analyze``, ``run_analyze``). The diary options
(``--scale``, ``--aggregate``, ``--prompt``, ``--tz``, ``--out-of-range``, ``--sleep`` as a
list, the file options) are those of ``describe``, so a diary reads the same way in both
commands. This module imports ``sleeppain.cli`` only inside functions, when the command
line is built or run.

Examples
--------
>>> from sleeppain.cli import build_parser
>>> parser = build_parser()
>>> args = parser.parse_args(["analyze", "x.csv", "--id", "id", "--day", "date",
...                           "--sleep", "sq", "tst", "--pain", "pain", "--scale", "pain=0,10"])
>>> args.sleep, args.out, args.scale
(['sq', 'tst'], 'sleeppain-report', [('pain', (0.0, 10.0))])
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from sleeppain._cliopts import CliError, add_diary_options, aggregate_value

__all__ = ["ANALYZE_HELP", "configure_analyze", "run_analyze"]

ANALYZE_HELP = (
    "cross-lagged analysis of sleep -> next-day pain and pain -> that night's sleep; "
    "prints the accounting and effects and writes an HTML/Markdown report with figures"
)


def _n_boot(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--n-boot {text!r} is not an integer") from None
    if value != 0 and value < 10:
        raise argparse.ArgumentTypeError(
            f"--n-boot {value}: give 0 (skip the comparison) or at least 10"
        )
    return value


def configure_analyze(p: argparse.ArgumentParser) -> None:
    """Add the arguments of ``analyze`` to a parser."""
    from sleeppain import cli

    p.add_argument(
        "csv",
        nargs="?",
        help="diary CSV (long format, one row per person-day, or per prompt with --prompt); "
        "default: the bundled sample diary (sp.datasets.sample_diary())",
    )
    p.add_argument("--id", help="person id column (required with a CSV)")
    p.add_argument("--day", help="day column: study day, date or timestamp (required with a CSV)")
    p.add_argument("--pain", metavar="COL", help="pain column (a day variable)")
    add_diary_options(p, aggregate_default="mean")
    p.add_argument(
        "--sleep-higher-is",
        choices=["better", "worse"],
        help="what a higher sleep value means (quality: better; minutes awake: worse); sets "
        "the expected direction of both effects in the report",
    )
    p.add_argument(
        "--covariates", nargs="+", default=[], metavar="COL", help="day-level covariates (day n)"
    )
    p.add_argument(
        "--person-covariates",
        nargs="+",
        default=[],
        metavar="COL",
        help="person-level covariates (constant within person)",
    )
    p.add_argument(
        "--model",
        choices=["lmm", "dsem", "both"],
        default="lmm",
        help="lmm: cross-lagged mixed models (default); dsem: latent-centred dynamic SEM "
        "(sp.dsem, better for short diaries); both: the two side by side",
    )
    p.add_argument(
        "--estimator",
        choices=["lmm", "gee"],
        default="lmm",
        help="for --model lmm: linear mixed model (default) or GEE with exchangeable correlation",
    )
    p.add_argument(
        "--no-random-slopes",
        action="store_true",
        help="random intercepts only (default: random cross-lagged slopes)",
    )
    p.add_argument(
        "--slope-correlation",
        action="store_true",
        help="estimate the intercept-slope correlation, (1 + x | id) (default: uncorrelated, "
        "(1 + x || id), a slope with zero SD dropped)",
    )
    p.add_argument(
        "--outcome-mean",
        action="store_true",
        help="also enter the outcome's own person mean as a predictor (the former default; "
        "often a singular fit)",
    )
    p.add_argument(
        "--n-boot",
        type=_n_boot,
        default=99,
        metavar="N",
        help="bootstrap replications for the test of which direction is stronger "
        "(default 99; 0 skips it)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and sampler")
    p.add_argument(
        "--out",
        default="sleeppain-report",
        metavar="DIR",
        help="output folder for report.html, report.md and figures (default: ./sleeppain-report)",
    )
    cli.add_file_options(p)


def _say(text: str) -> None:
    print(f"sleeppain: {text}", file=sys.stderr, flush=True)


def _inputs(args: argparse.Namespace) -> tuple[str, str, str, list[str], str, str]:
    """(path, id, day, sleep, pain, shown) from the arguments or the bundled sample."""

    if args.csv is None:
        from sleeppain.datasets import SAMPLE_DIARY_COLUMNS, sample_diary_path

        cols = SAMPLE_DIARY_COLUMNS
        return (
            str(sample_diary_path()),
            args.id or cols["id"],
            args.day or cols["day"],
            list(args.sleep or cols["sleep"]),
            args.pain or cols["pain"],
            "sample_diary.csv (bundled sample, sp.datasets.sample_diary())",
        )
    missing = [f"--{n}" for n in ("id", "day", "sleep", "pain") if not getattr(args, n)]
    if missing:
        raise CliError(
            f"analyze {args.csv}: {', '.join(missing)} required with a CSV file "
            "(e.g. --id id --day date --sleep sleep_quality --pain pain)"
        )
    return args.csv, args.id, args.day, list(args.sleep), args.pain, str(args.csv)


def _read_diary(
    args: argparse.Namespace,
    path: str,
    id_col: str,
    day_col: str,
    sleep: list[str],
    needed: list[str],
) -> Any:
    from sleeppain import cli
    from sleeppain.diary import Diary

    frame = cli.read_table(
        path, encoding=args.encoding, sep=args.sep, decimal=args.decimal, text_columns=[id_col]
    )
    return Diary.from_frame(
        frame,
        id=id_col,
        day=day_col,
        sleep=sleep,
        sleep_timing=args.sleep_timing.replace("-", "_"),
        prompt=args.prompt,
        aggregate=aggregate_value(args, "mean"),
        scales=dict(args.scale) or None,
        tz=args.tz,
        out_of_range=args.out_of_range.replace("-", "_"),
        columns=needed,
    )


def run_analyze(args: argparse.Namespace) -> int:
    """Run ``analyze``; returns the exit code (0).

    Errors (missing columns, bad arguments) propagate as ``CliError`` or
    :class:`~sleeppain.errors.SleepPainError` for ``sleeppain.cli.main`` to print as one line.
    """
    from sleeppain import cli

    out_dir = cli.check_output_dir(args.out)  # first: before reading or fitting anything
    path, id_col, day_col, sleep, pain, shown = _inputs(args)
    start = time.perf_counter()
    _say(f"reading {shown} ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        needed = list(dict.fromkeys([pain, *sleep, *args.covariates, *args.person_covariates]))
        diary = _read_diary(args, path, id_col, day_col, sleep, needed)
        res = comparison = dsem = None
        if args.model in ("lmm", "both"):
            res, comparison = _fit_lmm(args, diary, sleep, pain)
        if args.model in ("dsem", "both"):
            dsem = _fit_dsem(args, diary, sleep, pain)
    warn_lines = [
        f"{w.category.__name__}: {cli.cli_message(' '.join(str(w.message).split()))}"
        for w in caught
    ]
    for line in warn_lines:
        print(f"sleeppain: warning: {line}", file=sys.stderr)
    print(f"Data: {shown}")
    if res is not None:
        _print_lmm(res, comparison)
    if dsem is not None:
        print()
        print(dsem.summary())
    paths = _write(args, out_dir, res, diary, shown, comparison, dsem, warn_lines)
    print()
    print(f"Report: {paths.html} and {paths.markdown} ({len(paths.figures)} figures)")
    _say(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _fit_lmm(args: argparse.Namespace, diary: Any, sleep: list[str], pain: str) -> tuple[Any, Any]:
    from sleeppain.analysis import crosslag

    _say(f"fitting {2 * len(sleep)} models ...")
    res = crosslag(
        diary,
        sleep=sleep,
        pain=pain,
        covariates=args.covariates,
        person_covariates=args.person_covariates,
        estimator=args.estimator,
        random_slopes=not args.no_random_slopes,
        slope_correlation=args.slope_correlation,
        outcome_mean=args.outcome_mean,
        sleep_higher_is=args.sleep_higher_is,
    )
    comparison = None
    if args.n_boot:
        _say(f"bootstrap test of which direction is stronger ({args.n_boot} replications)")
        comparison = res.compare(n_boot=args.n_boot, seed=args.seed, progress=True)
    return res, comparison


def _fit_dsem(args: argparse.Namespace, diary: Any, sleep: list[str], pain: str) -> Any:
    from sleeppain.analysis._api import dsem_available

    if not dsem_available():
        raise CliError(
            "--model dsem needs sp.dsem, which is not available in this installation; "
            "use --model lmm"
        )
    if len(sleep) != 1:
        raise CliError(f"--model dsem takes one --sleep column, got {sleep}")
    from sleeppain.analysis import crosslag

    _say("sampling the dynamic SEM (sp.dsem) ...")
    return crosslag(
        diary,
        sleep=sleep,
        pain=pain,
        covariates=args.covariates,
        person_covariates=args.person_covariates,
        estimator="dsem",
        random_slopes=not args.no_random_slopes,
        seed=args.seed,
        progress=True,
    )


def _print_lmm(res: Any, comparison: Any) -> None:
    from sleeppain.report._tables import effects_display, format_table

    print(res.accounting_text())
    print()
    print("Within-person cross-lagged effects")
    print(format_table(effects_display(res.effects()), "text"))
    if res.multiplicity_note():
        print(res.multiplicity_note())
    from sleeppain.report._report import plain_summary

    print()
    print("What this means")
    for heading, sentences in plain_summary(res):
        print(f"  {heading}: {' '.join(sentences)}")
    if comparison is not None:
        print()
        print(comparison.summary())


def _write(
    args: argparse.Namespace,
    out_dir: Path,
    res: Any,
    diary: Any,
    shown: str,
    comparison: Any,
    dsem: Any,
    warn_lines: list[str],
) -> Any:
    from sleeppain.report._report import write_dsem_report, write_report

    # the crosslag fits' own warnings are in res.fit_warnings (listed once in the report)
    own = [w for w in warn_lines if ": crosslag " not in w and "no usable lagged pair" not in w]
    if res is None:
        return write_dsem_report(dsem, out_dir, source=shown, warnings_text=warn_lines)
    return write_report(
        res,
        diary,
        out_dir,
        source=shown,
        comparison=comparison,
        warnings_text=own,
        progress=True,
        dsem=dsem,
    )
