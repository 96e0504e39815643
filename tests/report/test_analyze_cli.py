"""``sleeppain analyze``: terminal output, report files, escaping, one-line errors."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleeppain import cli
from sleeppain.report import format_table

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "diary.csv"
HOSTILE_PAIN = '<b>pain&"x"</b>'
HOSTILE_SLEEP = "s<q>'$1"


def _main(argv: list[str]) -> int:
    return cli.main(argv)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.imgs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def test_analyze_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert _main(["analyze", "--out", str(out), "--n-boot", "10"]) == 0
    captured = capsys.readouterr()
    assert "usable pairs" in captured.out and "sleep->pain" in captured.out
    assert "pain->sleep" in captured.out and "Which direction is stronger" in captured.out
    assert "fitting" in captured.err  # progress on stderr
    parsed = _parse(out / "report.html")
    assert "table" in parsed.tags
    assert len(parsed.imgs) == 4
    for img in parsed.imgs:
        assert (out / img).stat().st_size > 1000
    md = (out / "report.md").read_text()
    assert "## Within-person cross-lagged effects" in md and "fig_effects.png" in md


def test_analyze_hostile_column_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.read_csv(SAMPLE)
    df = df[df["id"] <= 40].rename(columns={"pain": HOSTILE_PAIN, "sleep_quality": HOSTILE_SLEEP})
    csv = tmp_path / "<evil>&name.csv"
    df.to_csv(csv, index=False)
    out = tmp_path / "out"
    code = _main(
        [
            "analyze",
            str(csv),
            "--id",
            "id",
            "--day",
            "date",
            "--sleep",
            HOSTILE_SLEEP,
            "--pain",
            HOSTILE_PAIN,
            "--out",
            str(out),
            "--n-boot",
            "0",
        ]
    )
    assert code == 0, capsys.readouterr().err
    raw = (out / "report.html").read_text(encoding="utf-8")
    assert "<b>pain" not in raw and "<evil>" not in raw and "s<q>" not in raw
    assert "&lt;b&gt;pain&amp;&quot;x&quot;&lt;/b&gt;" in raw
    parsed = _parse(out / "report.html")
    # the escaped names come back as text, and no tag came from the data
    text = "".join(parsed.text)
    assert HOSTILE_PAIN in text and "<evil>&name.csv" in text
    assert "b" not in parsed.tags and "evil" not in parsed.tags and "q" not in parsed.tags
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "<b>" not in md


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["analyze", "x.csv", "--id", "id"], "--day, --sleep, --pain required"),
        (
            [
                "analyze",
                "no-such-file.csv",
                "--id",
                "id",
                "--day",
                "d",
                "--sleep",
                "s",
                "--pain",
                "p",
            ],
            "not found",
        ),
        (["analyze", "--n-boot", "3"], "--n-boot 3"),
        (["analyze", "--sleep", "nope"], "nope"),
        (["analyze", "--estimator", "ols"], "invalid choice"),
    ],
)
def test_bad_arguments_one_line_exit_2(
    argv: list[str],
    match: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("sleeppain: error:") and match in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_format_table_escapes_every_format() -> None:
    df = pd.DataFrame(
        {HOSTILE_PAIN: [1.5, np.nan], "p_value": [1e-5, 0.2]},
        index=pd.Index(["a|b", "<i>"], name="x&y"),
    )
    html_out = format_table(df, "html")
    assert "<b>" not in html_out and "<i>" not in html_out and "&lt;i&gt;" in html_out
    md = format_table(df, "markdown")
    assert "a\\|b" in md and "<b>" not in md and "<0.001" not in md.replace("&lt;0.001", "")
    text = format_table(df, "text")
    assert "<0.001" in text and HOSTILE_PAIN in text
    with pytest.raises(ValueError, match="kind"):
        format_table(df, "latex")


def test_analyze_several_sleep_measures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "multi"
    code = _main(
        [
            "analyze",
            "--sleep",
            "sleep_quality",
            "--sleep",
            "sol_min",
            "--out",
            str(out),
            "--n-boot",
            "0",
            "--no-random-slopes",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Holm" in text and "sol_min" in text
    assert "p_holm" in (out / "report.html").read_text()


def test_analyze_existing_out_file_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sleeppain.analysis as analysis
    import sleeppain.report._cli as acli

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("analyze read or fitted before checking --out")

    monkeypatch.setattr(analysis, "crosslag", boom)
    monkeypatch.setattr(acli, "_read_diary", boom)
    target = tmp_path / "report.html"
    target.write_text("keep me")
    assert _main(["analyze", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "is an existing file" in err and "--out" in err and err.count("\n") == 1
    assert target.read_text() == "keep me"


def _latin1_csv(tmp_path: Path) -> Path:
    import sleeppain as sp

    data = sp.simulate.diary(25, 8, seed=2).data
    data["id"] = [f"Jos\xe9-{i}" for i in data["id"]]
    data["note"] = "caf\xe9"
    path = tmp_path / "latin1.csv"
    data.to_csv(path, sep=";", index=False, encoding="latin-1")
    return path


def test_analyze_latin1_csv_with_encoding_and_sep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _latin1_csv(tmp_path)
    args = ["analyze", str(path), "--id", "id", "--day", "day", "--sleep", "sleep_quality"]
    args += ["--pain", "pain", "--n-boot", "0", "--out", str(tmp_path / "rep")]
    assert _main(args) == 2  # utf-8 by default: one line naming the file and the flag
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("sleeppain: error:")]
    assert len(errors) == 1 and "latin1.csv" in errors[0] and "--encoding latin-1" in errors[0]
    assert _main([*args, "--encoding", "latin-1", "--sep", ";"]) == 0
    out = capsys.readouterr().out
    assert "sleep->pain" in out and "pain->sleep" in out
    assert (tmp_path / "rep" / "report.html").exists()


def test_describe_sleep_list_extends_like_analyze() -> None:
    parser = cli.build_parser()
    for cmd in ("describe", "analyze"):
        args = parser.parse_args([cmd, "x.csv", "--sleep", "a", "b", "--sleep", "c"])
        assert args.sleep == ["a", "b", "c"]
