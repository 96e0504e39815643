"""Time the diary pipeline pieces: sleep-diary scoring, simulation, Diary construction.

Run: ``python benchmarks/bench_diary.py``. Prints a markdown table (best of 5 runs).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import sleeppain as sp


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def clock_frame(n: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    bed = rng.integers(0, 1440, n)
    lights = bed + rng.integers(0, 60, n)
    wake = lights + rng.integers(300, 600, n)
    out = wake + rng.integers(0, 60, n)
    labels = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)], dtype=object)
    return pd.DataFrame(
        {
            "bedtime": labels[bed % 1440],
            "lights_off": labels[lights % 1440],
            "sol_min": rng.integers(0, 60, n),
            "waso_min": rng.integers(0, 60, n),
            "final_wake": labels[wake % 1440],
            "out_of_bed": labels[out % 1440],
        }
    )


def main() -> None:
    rows = []
    df = clock_frame(100_000)
    rows.append(
        ("score_diary, 100k nights (HH:MM strings)", best_of(lambda: sp.sleep.score_diary(df)))
    )
    rows.append(("simulate.diary(1000, 28)", best_of(lambda: sp.simulate.diary(1000, 28, seed=1))))
    sim = sp.simulate.diary(5000, 60, seed=2).data
    rows.append(
        (
            f"Diary.from_frame, 5000 x 60 ({len(sim):,} rows)",
            best_of(
                lambda: sp.Diary.from_frame(
                    sim[["id", "day", "pain", "sleep_quality"]],
                    id="id",
                    day="day",
                    sleep="sleep_quality",
                ),
                repeats=3,
            ),
        )
    )
    print("| task | best time (s) |\n|---|---|")
    for name, t in rows:
        print(f"| {name} | {t:.3f} |")


if __name__ == "__main__":
    main()
