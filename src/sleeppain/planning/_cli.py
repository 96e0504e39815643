"""The ``sleeppain power`` subcommand (registered by ``sleeppain.cli``).

Examples
--------
>>> from sleeppain.cli import build_parser
>>> parser = build_parser()
>>> args = parser.parse_args(["power", "--n-persons", "50,100", "--n-days", "7",
...                           "--sleep-to-pain", "-0.15", "--pain-to-sleep", "-0.05",
...                           "--out", "results"])
>>> args.persons
[50, 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["DESCRIPTION", "configure_power_parser", "run_power"]

DESCRIPTION = (
    "Simulate diary studies from a cross-lagged sleep-pain process and fit both lagged "
    "multilevel models (REML; Satterthwaite t or z test) to each; write the power table "
    "(power.csv) and power curves (power.png) to --out."
)

#: options passed through to sp.power as DiaryParameters fields when given
_PARAMETER_OPTIONS = (
    "phi_pain",
    "phi_sleep",
    "sd_sleep_to_pain",
    "sd_pain_to_sleep",
    "missing_day_share",
    "missing_pain_logit",
)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of whole numbers, e.g. 50,100,200"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one number, e.g. 50,100,200")
    return values


def configure_power_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``power`` options to a parser (for registries that create the parser).

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> configure_power_parser(p)
    >>> p.parse_args(["--persons", "50", "--days", "14", "--sleep-to-pain", "-0.1",
    ...               "--pain-to-sleep", "0", "--out", "o"]).sims
    1000
    """
    # flags are named as sp.power's arguments (--n-persons = n_persons); the short forms stay
    p.add_argument(
        "--n-persons",
        "--persons",
        dest="persons",
        type=_int_list,
        required=True,
        help="persons per study, e.g. 50,100,200",
    )
    p.add_argument(
        "--n-days",
        "--days",
        dest="days",
        type=_int_list,
        required=True,
        help="days per person, e.g. 7,14,28",
    )
    p.add_argument(
        "--sleep-to-pain",
        type=float,
        required=True,
        help="mean effect of last night's sleep quality on today's pain",
    )
    p.add_argument(
        "--pain-to-sleep",
        type=float,
        required=True,
        help="mean effect of today's pain on tonight's sleep quality",
    )
    p.add_argument(
        "--n-sims",
        "--sims",
        dest="sims",
        type=int,
        default=1000,
        help="studies per design cell (1000)",
    )
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument("--seed", type=int, default=2024, help="random seed (2024)")
    p.add_argument(
        "--test",
        choices=["satterthwaite", "z"],
        default="satterthwaite",
        help="reference distribution of the test (satterthwaite: lmerTest's t)",
    )
    p.add_argument(
        "--n-jobs",
        "--jobs",
        dest="jobs",
        type=int,
        default=-1,
        help="worker processes (-1: all cores)",
    )
    p.add_argument("--phi-pain", type=float, default=None, help="pain autoregression (0.45)")
    p.add_argument("--phi-sleep", type=float, default=None, help="sleep autoregression (0.15)")
    p.add_argument(
        "--sd-sleep-to-pain",
        type=float,
        default=None,
        help="between-person SD of the sleep->pain slope (0.08)",
    )
    p.add_argument(
        "--sd-pain-to-sleep",
        type=float,
        default=None,
        help="between-person SD of the pain->sleep slope (0.05)",
    )
    p.add_argument(
        "--missing-day-share",
        type=float,
        default=None,
        help="share of missing diary days (0.1)",
    )
    p.add_argument(
        "--missing-pain-logit",
        type=float,
        default=None,
        help="MAR: log-odds of a missing day per pain point of the previous day (0: MCAR)",
    )
    p.add_argument(
        "--sleep-scale",
        choices=["0-10", "1-5"],
        default="0-10",
        help="sleep-quality rating scale (0-10)",
    )
    p.add_argument(
        "--slope-correlation",
        action="store_true",
        help="fit (1 + x | id) with the intercept-slope correlation (default: uncorrelated, "
        "(1 + x || id))",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_power(args: argparse.Namespace) -> int:
    """Run ``sleeppain power``: write ``power.csv`` and ``power.png`` to ``--out``.

    Returns
    -------
    int
        Exit status (0 on success, 2 on a specification error).
    """
    from sleeppain.errors import SpecificationError
    from sleeppain.planning import power

    extra = {
        name: getattr(args, name)
        for name in _PARAMETER_OPTIONS
        if getattr(args, name, None) is not None
    }
    try:
        res = power(
            n_persons=args.persons,
            n_days=args.days,
            sleep_to_pain=args.sleep_to_pain,
            pain_to_sleep=args.pain_to_sleep,
            n_sims=args.sims,
            alpha=args.alpha,
            seed=args.seed,
            n_jobs=args.jobs,
            test=args.test,
            sleep_scale=args.sleep_scale,
            slope_correlation=bool(getattr(args, "slope_correlation", False)),
            progress=False if args.no_progress else None,
            **extra,
        )
    except SpecificationError as exc:
        print(f"sleeppain power: error: {exc}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    res.table.to_csv(out / "power.csv", index=False)
    ax = res.plot()
    ax.figure.savefig(out / "power.png", dpi=150, bbox_inches="tight")
    plt.close(ax.figure)
    print(res.summary())
    print(f"\nwrote {out / 'power.csv'} and {out / 'power.png'} ({res.elapsed:.1f} s)")
    return 0
