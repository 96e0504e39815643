"""Write the two uncentred random-slope datasets of tests/mixed/test_formula_scaling.py.

Run from the repository root: ``python tests/reference/scaling/make_data.py``; then
``Rscript tests/reference/scaling/make_refs.R`` writes scaling_refs.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

#: name -> (seed, sd_x, sd_b0, sd_b1); the predictor sits around 1e4.
CASES = {"narrow": (1, 1.0, 2.0, 0.5), "wide": (1, 100.0, 50.0, 0.01)}


def far_from_zero(seed: int, sd_x: float, sd_b0: float, sd_b1: float) -> pd.DataFrame:
    """30 persons x 10 days, y = 5 + b0 + (0.3 + b1) (x - 1e4) + e."""
    rng = np.random.default_rng(seed)
    persons, days = 30, 10
    g = np.repeat(np.arange(persons), days)
    x = 1e4 + rng.normal(0, sd_x, persons * days)
    b0, b1 = rng.normal(0, sd_b0, persons), rng.normal(0, sd_b1, persons)
    y = 5 + b0[g] + (0.3 + b1[g]) * (x - 1e4) + rng.normal(0, 1, persons * days)
    return pd.DataFrame({"y": y, "x": x, "g": g, "xc": x - x.mean()})


if __name__ == "__main__":
    for name, args in CASES.items():
        far_from_zero(*args).to_csv(HERE / f"{name}.csv", index=False, float_format="%.17g")
