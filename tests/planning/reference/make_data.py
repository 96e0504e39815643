"""Write the simulated datasets that crosslag_lme4.R fits (run once; outputs are committed).

Usage: python tests/planning/reference/make_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sleeppain.planning._generate import DIRECTIONS, crosslag_rows, generate_batch
from sleeppain.simulate import DiaryParameters

HERE = Path(__file__).resolve().parent


def main() -> None:
    frames = []
    designs = [
        (1, 40, 14, {"missing_day_share": 0.1}),
        (2, 25, 7, {"missing_day_share": 0.2, "missing_pain_logit": 0.3}),
        (3, 60, 10, {"sd_sleep_to_pain": 0.3, "sd_pain_to_sleep": 0.2}),
    ]
    for dataset, (seed, n, t, extra) in enumerate(designs):
        params = DiaryParameters(sleep_to_pain=-0.2, pain_to_sleep=-0.1, **extra)
        batch = generate_batch(np.random.default_rng(seed), 1, n, t, params)
        for direction in DIRECTIONS:
            rows = crosslag_rows(batch, 0, direction)
            df = pd.DataFrame(rows)
            df.insert(0, "direction", direction)
            df.insert(0, "dataset", dataset)
            frames.append(df)
    pd.concat(frames).to_csv(HERE / "crosslag_data.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
