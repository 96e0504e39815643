"""Every entry of the sleeppain column of docs/for_r_users.md runs as written (issue 12)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import SleepPainWarning

DOC = Path(__file__).resolve().parents[1] / "docs" / "for_r_users.md"
#: a code span, with `\|` standing for | inside a Markdown table
_SPAN = re.compile(r"`((?:[^`\\]|\\.)+)`")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _entries() -> list[tuple[str, list[str]]]:
    """(section, code spans of the sleeppain column) for every table row, in order."""
    out, section = [], ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:]
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = _cells(line)
        if cells[1] in ("sleeppain",):
            continue
        spans = [s.replace("\\|", "|") for s in _SPAN.findall(cells[1])]
        out.append((section, spans))
    return out


ENTRIES = _entries()


def _namespace(tmp_path: Path) -> dict[str, object]:
    rng = np.random.default_rng(1)
    n = 200
    data = pd.DataFrame(
        {
            "g": np.repeat(np.arange(20), 10),
            "x": rng.normal(size=n),
            "k": rng.integers(0, 3, n),
            "z": rng.uniform(1, 5, n),
        }
    )
    data["y"] = (
        data["x"]
        + rng.normal(size=20)[data["g"]]
        + 0.5 * rng.normal(size=20)[data["g"]] * data["x"]
        + rng.normal(size=n)
    )
    sim = sp.mr.simulate_sumstats(n_variants=20, n_variants_b=5, n_null=100, seed=1)
    path = tmp_path / "sumstats.csv"
    sim.exposure.to_csv(path, index=False)
    return {
        "sp": sp,
        "np": np,
        "pd": pd,
        "data": data,
        "newdata": data.head(5),
        "diary": sp.datasets.sample_diary(as_diary=True),
        "sumstats": sim.exposure,
        "exp": sim.exposure,
        "out": sim.outcome,
        "path": str(path),
    }


def test_doc_has_entries_in_every_section() -> None:
    sections = {s for s, spans in ENTRIES if spans}
    assert {"Mixed models (lme4, lmerTest)", "Diary data", "Power (simr)"} <= sections
    assert any(s.startswith("Mendelian") for s in sections)
    assert all(spans for _, spans in ENTRIES), "a row of the sleeppain column has no code"


@pytest.mark.slow
def test_every_python_entry_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    ns = _namespace(tmp_path)
    ran = 0
    for section, spans in ENTRIES:
        for code in spans:
            with warnings.catch_warnings():
                # the doc's small examples may be singular or flag a short chain; the code
                # must run, the warnings are the library speaking, not an error of the doc
                warnings.simplefilter("ignore", SleepPainWarning)
                try:
                    exec(compile(code, f"<for_r_users: {section}>", "exec"), ns)
                except Exception as exc:  # pragma: no cover - the failure message
                    raise AssertionError(f"{section}: {code!r} raised {exc!r}") from exc
            ran += 1
    assert ran >= 35
    assert (tmp_path / "sleeppain-report" / "report.html").exists()
