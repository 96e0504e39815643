"""The ``sleeppain analyze`` subcommand: both directions, printed and written as a report.

``sleeppain.cli`` registers it with ``add_subcommand("analyze", ANALYZE_HELP,
configure_analyze, run_analyze)``.

Examples
--------
>>> from sleeppain.cli import build_parser
>>> parser = build_parser()
>>> args = parser.parse_args(["analyze", "x.csv", "--id", "id", "--day", "date",
...                           "--sleep", "sq", "--pain", "pain"])
>>> args.sleep, args.out
(['sq'], 'sleeppain-report')
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

__all__ = ["ANALYZE_HELP", "configure_analyze", "run_analyze"]

ANALYZE_HELP = (
    "cross-lagged analysis of sleep -> next-day pain and pain -> that night's sleep; "
    "prints the accounting and effects and writes an HTML/Markdown report with figures"
)

#: Columns of the bundled sample (data/sample/README.md) used when no CSV is given.
SAMPLE = {"id": "id", "day": "date", "sleep": ["sleep_quality"], "pain": "pain"}


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
    p.add_argument(
        "csv",
        nargs="?",
        help="diary CSV (long format, one row per person-day, or per prompt with --prompt); "
        "default: the bundled sample data/sample/diary.csv",
    )
    p.add_argument("--id", help="person id column (required with a CSV)")
    p.add_argument("--day", help="day column: study day, date or timestamp (required with a CSV)")
    p.add_argument(
        "--sleep",
        action="append",
        metavar="COL",
        help="sleep column (a night variable); repeat for several measures "
        "(--sleep quality --sleep tst_min)",
    )
    p.add_argument("--pain", metavar="COL", help="pain column (a day variable)")
    p.add_argument(
        "--sleep-timing",
        choices=["previous-night", "following-night"],
        default="previous-night",
        help="night a sleep report describes (default: previous-night, a morning diary)",
    )
    p.add_argument(
        "--covariates",
        nargs="+",
        default=[],
        metavar="COL",
        help="day-level covariates (taken on day n)",
    )
    p.add_argument(
        "--person-covariates",
        nargs="+",
        default=[],
        metavar="COL",
        help="person-level covariates (constant within person)",
    )
    p.add_argument(
        "--prompt",
        metavar="COL",
        help="column numbering several reports a day (they are averaged per day)",
    )
    p.add_argument(
        "--estimator",
        choices=["lmm", "gee"],
        default="lmm",
        help="linear mixed model (default) or GEE with exchangeable correlation",
    )
    p.add_argument(
        "--no-random-slopes",
        action="store_true",
        help="random intercepts only (default: random cross-lagged slopes)",
    )
    p.add_argument(
        "--n-boot",
        type=_n_boot,
        default=99,
        metavar="N",
        help="bootstrap replications for the test of which direction is stronger "
        "(default 99; 0 skips it)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument(
        "--out",
        default="sleeppain-report",
        metavar="DIR",
        help="output folder for report.html, report.md and figures (default: ./sleeppain-report)",
    )


def _usage_error(message: str) -> Exception:
    from sleeppain.cli import CliError

    return CliError(message)


def _say(text: str) -> None:
    print(f"sleeppain: {text}", file=sys.stderr, flush=True)


def run_analyze(args: argparse.Namespace) -> int:
    """Run ``analyze``; returns the exit code (0).

    Errors (missing columns, bad arguments) propagate as ``CliError`` or
    :class:`~sleeppain.errors.SleepPainError` for ``sleeppain.cli.main`` to print as one line.
    """
    from sleeppain.analysis import crosslag
    from sleeppain.diary import Diary
    from sleeppain.report._report import write_report
    from sleeppain.report._tables import effects_display, format_table

    if args.csv is None:
        from sleeppain.cli import SAMPLE_DIARY

        if not SAMPLE_DIARY.exists():
            raise FileNotFoundError(
                f"the bundled sample diary {SAMPLE_DIARY} is missing; pass a CSV file "
                "(sleeppain analyze FILE.csv --id ID --day DAY --sleep COL --pain COL)"
            )
        path = str(SAMPLE_DIARY)
        id_col = args.id or SAMPLE["id"]
        day_col = args.day or SAMPLE["day"]
        sleep = args.sleep or list(SAMPLE["sleep"])
        pain = args.pain or SAMPLE["pain"]
        shown = "data/sample/diary.csv (bundled sample)"
    else:
        missing = [f"--{n}" for n in ("id", "day", "sleep", "pain") if not getattr(args, n)]
        if missing:
            raise _usage_error(
                f"analyze {args.csv}: {', '.join(missing)} required with a CSV file "
                "(e.g. --id id --day date --sleep sleep_quality --pain pain)"
            )
        path, id_col, day_col, sleep, pain = args.csv, args.id, args.day, args.sleep, args.pain
        shown = str(args.csv)
    start = time.perf_counter()
    _say(f"reading {shown} ...")
    timing = args.sleep_timing.replace("-", "_")
    aggregate = None
    if args.prompt:
        aggregate = "mean"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        needed = list(dict.fromkeys([pain, *sleep, *args.covariates, *args.person_covariates]))
        diary = Diary.from_csv(
            path,
            id=id_col,
            day=day_col,
            sleep=sleep,
            sleep_timing=timing,
            prompt=args.prompt,
            aggregate=aggregate,
            columns=needed,
        )
        _say(f"fitting {2 * len(sleep)} models ...")
        res = crosslag(
            diary,
            sleep=sleep,
            pain=pain,
            covariates=args.covariates,
            person_covariates=args.person_covariates,
            estimator=args.estimator,
            random_slopes=not args.no_random_slopes,
        )
        comparison = None
        if args.n_boot:
            _say(f"bootstrap test of which direction is stronger ({args.n_boot} replications)")
            comparison = res.compare(n_boot=args.n_boot, seed=args.seed, progress=True)
    warn_lines = [f"{w.category.__name__}: {' '.join(str(w.message).split())}" for w in caught]
    for line in warn_lines:
        print(f"sleeppain: warning: {line}", file=sys.stderr)
    print(f"Data: {shown}")
    print(res.accounting_text())
    print()
    print("Within-person cross-lagged effects")
    print(format_table(effects_display(res.effects()), "text"))
    if res.multiplicity_note():
        print(res.multiplicity_note())
    if comparison is not None:
        print()
        print(comparison.summary())
    paths = write_report(
        res,
        diary,
        args.out,
        source=shown,
        comparison=comparison,
        warnings_text=[
            w for w in warn_lines if not w.startswith(("BoundaryFitWarning", "ConvergenceWarning"))
        ],
        progress=True,
    )
    print()
    print(f"Report: {paths.html} and {paths.markdown} ({len(paths.figures)} figures)")
    _say(f"done in {time.perf_counter() - start:.1f} s")
    return 0
