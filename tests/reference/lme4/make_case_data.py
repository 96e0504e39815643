"""Write the project-generated data for the lme4 reference cases.

Run from anywhere: ``python tests/reference/lme4/make_case_data.py``. It writes small CSVs to
``tests/reference/lme4/data/`` so that R (``make_refs.R``) and the Python tests read identical
numbers. Every value is rounded to 6 decimals before writing, so the text in the CSV *is* the
data (no dependence on how either side prints floats). Randomness only through
``np.random.default_rng(seed)``; rerunning reproduces the files byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT_DIR = Path(__file__).resolve().parent / "data"
DECIMALS = 6


def to_csv_text(df: pd.DataFrame) -> str:
    """The CSV text written for a case: floats rounded to DECIMALS, no index, LF endings."""
    df = df.copy()
    for col in df.columns:
        if df[col].dtype.kind == "f":
            df[col] = df[col].round(DECIMALS)
    return df.to_csv(index=False, lineterminator="\n")


def random_intercept(seed: int = 20260101) -> pd.DataFrame:
    """60 groups of unequal size (3 to 12), y = 2 + 0.5 x + u_g + e."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 13, size=60)
    g = np.repeat([f"g{i:02d}" for i in range(60)], sizes)
    n = g.size
    u = np.repeat(rng.normal(0.0, 1.2, size=60), sizes)
    x = rng.normal(0.0, 1.0, size=n)
    y = 2.0 + 0.5 * x + u + rng.normal(0.0, 1.0, size=n)
    return pd.DataFrame({"g": g, "x": x, "y": y})


def slopes(seed: int = 20260102) -> pd.DataFrame:
    """40 persons x 8-15 days; correlated random intercept and slopes on x and z.

    ``y`` has random effects on 1, x and z; ``y2`` adds an x:z interaction and a three-level
    row-level factor ``grp`` (a, b, c) with fixed effects 0, 0.8, -0.5.
    """
    rng = np.random.default_rng(seed)
    m = 40
    sizes = rng.integers(8, 16, size=m)
    ids = np.repeat([f"p{i:02d}" for i in range(m)], sizes)
    n = ids.size
    cov = np.array([[1.0, 0.3, -0.2], [0.3, 0.5, 0.1], [-0.2, 0.1, 0.3]])
    b = rng.multivariate_normal(np.zeros(3), cov, size=m)
    b_rows = np.repeat(b, sizes, axis=0)
    x = rng.normal(0.0, 1.0, size=n)
    z = rng.normal(0.0, 1.0, size=n) + 0.3 * x
    grp = rng.choice(np.array(["a", "b", "c"]), size=n)
    e = rng.normal(0.0, 0.8, size=n)
    y = 1.0 + 0.4 * x - 0.3 * z + b_rows[:, 0] + b_rows[:, 1] * x + b_rows[:, 2] * z + e
    grp_eff = np.select([grp == "b", grp == "c"], [0.8, -0.5], 0.0)
    y2 = y + 0.25 * x * z + grp_eff
    return pd.DataFrame({"id": ids, "x": x, "z": z, "grp": grp, "y": y, "y2": y2})


def nested(seed: int = 20260103) -> pd.DataFrame:
    """Prompts within days within persons: 30 persons x 7 days x 1-4 prompts.

    ``day`` is an integer 1..7 that repeats across persons, so the day grouping must be
    ``person:day`` (lme4's ``(1 | person/day)``).
    """
    rng = np.random.default_rng(seed)
    rows = []
    u_p = rng.normal(0.0, 1.0, size=30)
    for p in range(30):
        for d in range(1, 8):
            u_d = rng.normal(0.0, 0.6)
            k = int(rng.integers(1, 5))
            for prompt in range(1, k + 1):
                x = rng.normal()
                y = 3.0 + 0.7 * x + u_p[p] + u_d + rng.normal(0.0, 0.9)
                rows.append((f"s{p:02d}", d, prompt, x, y))
    return pd.DataFrame(rows, columns=["person", "day", "prompt", "x", "y"])


def singular(seed: int = 20260104) -> pd.DataFrame:
    """8 groups x 10, no random slope and a tiny intercept variance: (1 + x | g) is singular."""
    rng = np.random.default_rng(seed)
    g = np.repeat([f"h{i}" for i in range(8)], 10)
    x = rng.normal(0.0, 1.0, size=80)
    u = np.repeat(rng.normal(0.0, 0.3, size=8), 10)
    y = 1.0 + 0.5 * x + u + rng.normal(0.0, 1.0, size=80)
    return pd.DataFrame({"g": g, "x": x, "y": y})


# file name -> generator, as written to OUT_DIR
CASE_FILES = {
    "ri.csv": random_intercept,
    "slopes.csv": slopes,
    "nested.csv": nested,
    "singular.csv": singular,
}


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, make in CASE_FILES.items():
        (OUT_DIR / name).write_text(to_csv_text(make()), encoding="utf-8")


if __name__ == "__main__":
    main()
