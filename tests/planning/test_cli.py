"""The ``sleeppain power`` subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from sleeppain.cli import build_parser
from sleeppain.planning._cli import run_power


def _parser() -> argparse.ArgumentParser:
    return build_parser()


def test_power_command_writes_table_and_plot(tmp_path: Path, capsys) -> None:
    args = _parser().parse_args(
        [
            "power",
            "--persons",
            "20,30",
            "--days",
            "5,7",
            "--sims",
            "20",
            "--sleep-to-pain",
            "-0.3",
            "--pain-to-sleep",
            "-0.05",
            "--jobs",
            "1",
            "--no-progress",
            "--phi-pain",
            "0.3",
            "--missing-day-share",
            "0.2",
            "--test",
            "z",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert run_power(args) == 0
    table = pd.read_csv(tmp_path / "out" / "power.csv")
    assert len(table) == 8
    assert set(table["ar_true"]) == {0.3, 0.15}
    assert (table["median_df"] == float("inf")).all()
    assert (tmp_path / "out" / "power.png").stat().st_size > 1000
    assert "power.csv" in capsys.readouterr().out


def test_power_command_reports_bad_input(tmp_path: Path, capsys) -> None:
    args = _parser().parse_args(
        [
            "power",
            "--persons",
            "50",
            "--days",
            "2",
            "--sleep-to-pain",
            "-0.3",
            "--pain-to-sleep",
            "0",
            "--jobs",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert run_power(args) == 2
    assert "n_days" in capsys.readouterr().err


def test_flags_are_named_as_the_python_arguments() -> None:
    from sleeppain.cli import build_parser

    parser = build_parser()
    base = ["--sleep-to-pain", "-0.1", "--pain-to-sleep", "0", "--out", "o"]
    new = parser.parse_args(
        ["power", "--n-persons", "50", "--n-days", "14", "--n-sims", "20", "--n-jobs", "1", *base]
    )
    old = parser.parse_args(
        ["power", "--persons", "50", "--days", "14", "--sims", "20", "--jobs", "1", *base]
    )
    assert vars(new) == vars(old)
    assert (new.persons, new.days, new.sims, new.jobs) == ([50], [14], 20, 1)
