"""Regenerate ``data/sample/diary.csv`` byte for byte, and its copy shipped in the package.

Run from the repository root with the package installed (editable)::

    python data/sample/make_sample.py

The data are simulated by :func:`sleeppain.simulate.diary` with the call in
:data:`SAMPLE_CALL` (all other parameters at the :class:`sleeppain.simulate.DiaryParameters`
defaults). ``tests/test_simulate.py`` checks that the file in the repository matches, and
``tests/test_datasets.py`` that the package copy (``src/sleeppain/data/sample_diary.csv``,
loaded by ``sp.datasets.sample_diary()``) is the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import sleeppain as sp

SAMPLE_PATH = Path(__file__).resolve().parent / "diary.csv"
#: The copy inside the package (package data), found from an installed wheel.
PACKAGE_COPY = (
    Path(__file__).resolve().parents[2] / "src" / "sleeppain" / "data" / "sample_diary.csv"
)

SAMPLE_CALL: dict[str, object] = {
    "n_persons": 120,
    "n_days": 21,
    "seed": 20240304,
    "start_date": "2024-03-04",
    "clock_fields": True,
    "sleep_scale": "0-10",
    "missing_day_share": 0.08,
    "item_missing_share": 0.02,
}


def build() -> sp.simulate.SimulatedDiary:
    """Simulate the sample diary (deterministic: fixed seed)."""
    call = dict(SAMPLE_CALL)
    n_persons = call.pop("n_persons")
    n_days = call.pop("n_days")
    return sp.simulate.diary(n_persons, n_days, **call)


def to_csv_text(sim: sp.simulate.SimulatedDiary) -> str:
    """The exact text written to ``diary.csv`` (Unix line endings, no index)."""
    return sim.data.to_csv(index=False, lineterminator="\n")


def main() -> None:
    """Write ``diary.csv`` next to this script and the package's copy."""
    sim = build()
    text = to_csv_text(sim)
    for path in (SAMPLE_PATH, PACKAGE_COPY):
        path.write_text(text, encoding="utf-8", newline="")
        print(f"wrote {path} ({len(sim.data)} rows)")


if __name__ == "__main__":
    main()
