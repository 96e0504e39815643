"""The ``sleeppain`` command line and its ``describe`` subcommand (called through ``main``)."""

from __future__ import annotations

import pandas as pd
import pytest

from sleeppain import cli


@pytest.fixture
def diary_csv(tmp_path):
    df = pd.DataFrame(
        {
            "pid": [1, 1, 1, 2, 2, None],
            "when": [
                "2024-03-01",
                "2024-03-02",
                "2024-03-03",
                "2024-03-01",
                "2024-03-02",
                "2024-03-01",
            ],
            "ache": [3, 12, 4, 1, 2, 5],
            "sq": [6, 4, 7, 8, 9, 1],
        }
    )
    path = tmp_path / "diary.csv"
    df.to_csv(path, index=False)
    return path


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sleeppain: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_describe_prints_the_accounting(diary_csv, capsys):
    code = cli.main(
        ["describe", str(diary_csv), "--id", "pid", "--day", "when", "--sleep", "sq", "--pain", "ache",
         "--scale", "ache=0,10"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    assert "input rows" in out and "6" in out
    assert "missing id" in out
    assert "sleep->pain (sq, ache)" in out
    # person 1: nights 02-29..03-02 with pain 03-01..03-03; person 2: nights 02-29, 03-01
    assert "5 pairs (2 persons)" in out
    assert err.strip().startswith("sleeppain: warning: 1 values of 'ache' lie outside its scale")


def test_describe_following_night_and_prompts(tmp_path, capsys):
    df = pd.DataFrame(
        {
            "id": [1, 1, 1, 1],
            "day": [0, 0, 1, 1],
            "beep": [1, 2, 1, 2],
            "pain": [1, 3, 5, 7],
            "sq": [5, 5, 6, 6],
        }
    )
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    argv = ["describe", str(path), "--id", "id", "--day", "day", "--sleep", "sq",
            "--sleep-timing", "following-night", "--prompt", "beep"]  # fmt: skip
    assert cli.main([*argv, "--aggregate", "pain=mean", "--aggregate", "sq=first"]) == 0
    out, _ = capsys.readouterr()
    assert "merged into a person-day (aggregate)  2" in out
    assert "following night" in out
    assert cli.main([*argv, "--aggregate", "mean"]) == 0
    capsys.readouterr()
    assert cli.main(argv) == 2  # several prompts a day and no --aggregate
    line = one_error_line(capsys.readouterr().err)
    assert "duplicated (id, day) pairs" in line and "aggregate" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["describe", "{csv}", "--day", "when"], "--id required"),
        (["describe", "{csv}", "--id", "pid", "--day", "When"], "Did you mean 'when'?"),
        (["describe", "{csv}", "--id", "pid", "--day", "when", "--scale", "ache=0"], "COL=LO,HI"),
        (
            ["describe", "{csv}", "--id", "pid", "--day", "when", "--sleep-timing", "noon"],
            "invalid choice",
        ),
        (
            ["describe", "{csv}", "--id", "pid", "--day", "when", "--tz", "Mars/Olympus"],
            "time zone",
        ),
        (["describe", "{csv}", "--id", "pid", "--day", "when", "--aggregate", "=mean"], "COL=FUNC"),
        (["describe", "{missing}", "--id", "pid", "--day", "when"], "not found"),
        (
            ["describe", "{csv}", "--id", "pid", "--day", "when", "--bogus"],
            "unrecognized arguments",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_errors_are_one_line_exit_2(diary_csv, capsys, argv, message):
    argv = [a.format(csv=diary_csv, missing=diary_csv.with_name("nope.csv")) for a in argv]
    assert cli.main(argv) == 2
    _, err = capsys.readouterr()
    assert message in one_error_line(err)


def test_help_and_no_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "describe" in capsys.readouterr().out
    assert cli.main(["describe", "--help"]) == 0
    assert "--sleep-timing" in capsys.readouterr().out
    assert cli.main([]) == 2


def test_describe_bundled_sample(capsys):
    if not cli.SAMPLE_DIARY.exists():
        pytest.skip(f"bundled sample {cli.SAMPLE_DIARY} not generated yet")
    raw = pd.read_csv(cli.SAMPLE_DIARY)
    assert cli.main(["describe"]) == 0
    out = capsys.readouterr().out
    assert f"input rows                         {len(raw):,}" in out
    assert "sleep->pain (sleep_quality, pain)" in out


def test_missing_sample_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "SAMPLE_DIARY", tmp_path / "absent.csv")
    assert cli.main(["describe"]) == 2
    assert "bundled sample diary" in one_error_line(capsys.readouterr().err)


def test_subcommand_registry(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_SUBCOMMANDS", dict(cli._SUBCOMMANDS))

    def configure(p):
        p.add_argument("--n", type=int, required=True)

    def run(args):
        print(f"n={args.n}")
        return 0

    cli.add_subcommand("echo", "print n", configure, run)
    assert cli.main(["echo", "--n", "3"]) == 0
    assert capsys.readouterr().out.strip() == "n=3"
    assert cli.main(["echo"]) == 2
    assert "--n" in one_error_line(capsys.readouterr().err)
