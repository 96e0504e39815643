"""The report a researcher reads: plain words, glossary, timing, warnings explained (issue 12)."""

from __future__ import annotations

import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain import cli
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning
from sleeppain.report._report import GLOSSARY, explain_warning

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "diary.csv"


class _Sections(HTMLParser):
    """Text of each <section id=...>, and the <dt> terms of each."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.terms: dict[str, list[str]] = {}
        self._current: str | None = None
        self._in_dt = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "section":
            self._current = dict(attrs).get("id") or ""
            self.sections.setdefault(self._current, "")
            self.terms.setdefault(self._current, [])
        self._in_dt = tag == "dt"

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._current = None
        if tag == "dt":
            self._in_dt = False

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.sections[self._current] += data
            if self._in_dt:
                self.terms[self._current].append(data)


def _parse(path: Path) -> _Sections:
    p = _Sections()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[sp.CrossLagResult, Path]:
    d = sp.Diary.from_csv(
        SAMPLE, id="id", day="date", sleep="sleep_quality", columns=["pain", "sleep_quality"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default model raises no warning on the sample
        res = sp.crosslag(d, pain="pain", sleep_higher_is="better")
    out = tmp_path_factory.mktemp("rep")
    paths = res.report(out)
    assert paths.html == out / "report.html"
    return res, out


def test_what_this_means_and_glossary_are_in_the_html(sample_report) -> None:
    res, out = sample_report
    parsed = _parse(out / "report.html")
    what = parsed.sections["what-this-means"]
    eff = res.effects()
    b = eff.loc["sleep->pain"]
    # rating points for a night one point worse than usual (sleep quality: higher is better)
    assert f"next-day pain was on average {abs(b['estimate']):.2f} rating points higher" in what
    assert f"{-b['conf_high']:.2f} to {-b['conf_low']:.2f} points" in what
    n = int(b["n_persons"])
    assert f"of {n} persons have a person-specific slope" in what
    assert "interval excludes 0" in what and "interval includes 0" in what  # pain->sleep
    assert "Short diaries" in what and "sp.dsem" in what
    terms = parsed.terms["glossary"]
    for term in ("std_estimate", "slope_sd", "person-specific slopes", "direction comparison"):
        assert term in terms
    assert len(terms) == len(GLOSSARY)


def test_timing_is_stated_with_an_example_row(sample_report) -> None:
    _, out = sample_report
    text = _parse(out / "report.html").sections["timing"]
    assert "night BEFORE the day it was entered" in text
    # first person in the sample: rating 10 entered on 2024-03-05 about the night 4-5 March
    raw = pd.read_csv(SAMPLE)
    row = raw[(raw["id"] == 1) & (raw["date"] == "2024-03-05")].iloc[0]
    assert f"rating {row['sleep_quality']:g} of person 1 entered on Tue 5 March 2024" in text
    assert "describes the night of Mon 4 March 2024 to Tue 5 March 2024" in text
    assert "--sleep-timing following-night" in text
    md = (out / "report.md").read_text()
    assert "## What this means" in md and "## Glossary" in md and "Tue 5 March 2024" in md


def test_every_warning_is_explained(tmp_path: Path) -> None:
    df = pd.read_csv(SAMPLE)
    df = df[df["id"] <= 40]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = sp.crosslag(
            df, id="id", day="date", sleep="sleep_quality", pain="pain", outcome_mean=True
        )
    assert res.fit_warnings
    res.report(tmp_path)
    parsed = _parse(tmp_path / "report.html")
    terms = parsed.terms["warnings"]
    assert len(terms) == len(res.fit_warnings)
    text = parsed.sections["warnings"]
    for _, cat, _ in res.fit_warnings:
        assert explain_warning(cat) in text


def test_dropped_zero_slope_is_explained_not_warned(tmp_path: Path) -> None:
    from sleeppain.report._report import ZERO_SLOPE_NOTE

    data = sp.simulate.diary(40, 10, seed=4).data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = sp.crosslag(data, id="id", day="day", sleep="sleep_quality", pain="pain")
        res.report(tmp_path)
    assert len(res.model_notes) == 2 and not res.fit_warnings
    parsed = _parse(tmp_path / "report.html")
    assert "warnings" not in parsed.sections
    text = parsed.sections["model-notes"]
    assert "slope was dropped" in text and ZERO_SLOPE_NOTE in " ".join(text.split())
    assert "## Model notes" in (tmp_path / "report.md").read_text()


def test_empty_person_slopes_panel_is_a_sentence() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sleeppain.analysis._result import PersonSlopes

    table = pd.DataFrame(
        {"sleep": "s", "direction": "sleep->pain", "id": [1, 2, 3], "slope": -0.1, "fixed": -0.1}
    )
    ax = PersonSlopes(table, pd.DataFrame()).plot()
    texts = [t.get_text() for t in ax.texts]
    assert any("do not differ" in t for t in texts) and not ax.patches
    plt.close("all")


def test_analyze_reads_the_diary_like_describe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = pd.read_csv(SAMPLE)
    df.loc[3, "pain"] = 11.0
    df["tst"] = df["sleep_quality"] * 40.0
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    argv = ["analyze", str(path), "--id", "id", "--day", "date", "--pain", "pain"]
    argv += ["--sleep", "sleep_quality", "tst", "--scale", "pain=0,10", "--n-boot", "0"]
    assert cli.main([*argv, "--out", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert "ScaleWarning" in err and "11" in err
    assert "What this means" in captured.out and "rating points" in captured.out
    md = (tmp_path / "a" / "report.md").read_text()
    assert "(tst)" in md and "Some ratings lie outside the declared scale" in md
    # set-missing: the value is dropped, the model has one pair fewer around it
    assert cli.main([*argv, "--out-of-range", "set-missing", "--out", str(tmp_path / "b")]) == 0


def test_crosslag_uses_the_diarys_declared_sleep_columns() -> None:
    d = sp.Diary.from_csv(
        SAMPLE, id="id", day="date", sleep="sleep_quality", columns=["pain", "sleep_quality"]
    )
    a = sp.crosslag(d, pain="pain").effects()
    b = sp.crosslag(d, sleep="sleep_quality", pain="pain").effects()
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(sp.errors.SpecificationError, match="no sleep column"):
        sp.crosslag(pd.read_csv(SAMPLE), id="id", day="date", pain="pain")


def test_dsem_estimator_is_wired_when_available() -> None:
    from sleeppain.analysis._api import dsem_available

    if not dsem_available():
        pytest.skip("sp.dsem (sleeppain.dynamics) is not installed")
    sim = sp.simulate.diary(20, 7, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 30 draws cannot converge
        r = sp.crosslag(
            sim.data,
            id="id",
            day="day",
            sleep="sleep_quality",
            pain="pain",
            estimator="dsem",
            chains=1,
            warmup=30,
            draws=30,
            seed=1,
            n_jobs=1,
            progress=False,
        )
    assert type(r).__name__ == "DsemResult"
    assert np.isfinite(r.effects().loc["sleep->pain", "estimate"])
    with pytest.raises(sp.errors.SpecificationError, match="only"):
        sp.crosslag(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain", chains=2)


def test_residual_ar_note_gets_its_own_explanation(tmp_path: Path) -> None:
    from sleeppain.report._report import RESIDUAL_NOTE, ZERO_SLOPE_NOTE

    data = sp.simulate.diary(60, 14, seed=5).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sp.crosslag(
            data, id="id", day="day", sleep="sleep_quality", pain="pain", residual="ar1"
        )
        res.report(tmp_path)
    residual = [n for _, n in res.model_notes if n.startswith("residual ")]
    assert len(residual) == 2
    text = " ".join(_parse(tmp_path / "report.html").sections["model-notes"].split())
    assert RESIDUAL_NOTE in text
    dropped = [n for _, n in res.model_notes if "slope was dropped" in n]
    assert (ZERO_SLOPE_NOTE in text) == bool(dropped)


def test_dsem_recommended_only_below_three_weeks_per_person() -> None:
    from sleeppain.report._report import SHORT_DIARY_DAYS, short_diary_caveat

    short = sp.simulate.diary(30, 10, seed=11).data
    long = sp.simulate.diary(30, 28, seed=11).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = [
            sp.crosslag(d, id="id", day="day", sleep="sleep_quality", pain="pain")
            for d in (short, long)
        ]
    text_short, text_long = (short_diary_caveat(f) for f in fits)
    assert "Recommendation: also fit sp.dsem" in text_short
    assert f"fewer than {SHORT_DIARY_DAYS}" in text_short
    assert "Recommendation" not in text_long and "remains available" in text_long
