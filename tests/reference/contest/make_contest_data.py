"""Write the model frames whose difference contrasts tests/analysis/test_contest.py checks.

Run from the repository root: ``python tests/reference/contest/make_contest_data.py``, then
``Rscript tests/reference/contest/contest_lmertest.R`` writes ``contest_lmertest.json``.
Each case is one extension frame of ``sp.crosslag`` (asymmetric nights; time of day) on
simulated data; the R script refits the same formula with lmerTest and runs ``contest``.
"""

from __future__ import annotations

from pathlib import Path

import sleeppain as sp
from sleeppain.analysis._frames import FrameOptions, build_frames

HERE = Path(__file__).resolve().parent

#: (case name, persons, days, prompts a day, seed, extension)
CASES = (
    ("asym_a", 60, 14, 1, 11, "asymmetry"),
    ("asym_b", 40, 21, 1, 12, "asymmetry"),
    ("tod_a", 50, 14, 3, 13, "time_of_day"),
)


def frames() -> dict[str, tuple[object, object]]:
    """Case name -> (ModelFrame, contrast terms (a, b)) for the cases above."""
    out = {}
    for name, n, t, k, seed, ext in CASES:
        sim = sp.simulate.diary(n, t, seed=seed, prompts_per_day=k)
        data = sim.data
        if k > 1:
            d = sp.Diary.from_frame(
                data, id="id", day="day", sleep="sleep_quality", prompt="prompt", aggregate="mean"
            )
        else:
            d = sp.Diary.from_frame(data, id="id", day="day", sleep="sleep_quality")
        opts = FrameOptions(asymmetric=ext == "asymmetry", time_of_day=ext == "time_of_day")
        _, ext_frames = build_frames(d, "sleep_quality", "pain", opts)
        mf = ext_frames[(ext, "sleep->pain")]
        terms = (mf.focal[0], mf.focal[-1])
        out[name] = (mf, terms)
    return out


def main() -> None:
    for name, (mf, (a, b)) in frames().items():
        cols = list(dict.fromkeys(["id", mf.outcome, *mf.fixed, *mf.random]))
        mf.frame[cols].to_csv(HERE / f"{name}.csv", index=False)
        formula = mf.formula(True)
        (HERE / f"{name}.formula").write_text(f"{formula}\n{a}\n{b}\n")


if __name__ == "__main__":
    main()
