"""Write the simulated panels that lavaan_reference.R fits (run once; CSVs are committed).

sim5.csv: 400 persons, 5 waves of x and y from a random-intercept cross-lagged process
(paths x->x 0.4, y->x 0.15, x->y 0.2, y->y 0.3; random-intercept correlation 0.3), a person
covariate z raising both random intercepts, 12 % of values missing at random, monotone
attrition for 10 % of persons after wave 3, and 3 persons with no observed wave.
sim3.csv: 300 persons, 4 waves of three variables (a, b, c), complete.

Usage: python tests/reference/lavaan/make_lavaan_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def riclpm_panel(rng, n, waves, paths, ri_cov, innov_sd, means):
    k = paths.shape[0]
    ri = rng.multivariate_normal(np.zeros(k), ri_cov, size=n)
    w = np.zeros((n, k, waves))
    w[:, :, 0] = rng.normal(size=(n, k))
    for t in range(1, waves):
        w[:, :, t] = w[:, :, t - 1] @ paths.T + innov_sd * rng.normal(size=(n, k))
    return ri, w + ri[:, :, None] + np.asarray(means)[None, :, None]


def main() -> None:
    rng = np.random.default_rng(20261201)
    n = 400
    paths = np.array([[0.4, 0.15], [0.2, 0.3]])  # rows: outcome x, y; cols: predictor x, y
    z = rng.normal(size=n)
    _ri, y = riclpm_panel(rng, n, 5, paths, np.array([[1.0, 0.3], [0.3, 0.8]]), 0.8, [3.0, 5.0])
    y += np.array([0.5, 0.3])[None, :, None] * z[:, None, None]
    wide = {"id": np.arange(1, n + 1), "z": np.round(z, 4)}
    for v, name in enumerate("xy"):
        for t in range(5):
            wide[f"{name}{t + 1}"] = np.round(y[:, v, t], 4)
    df = pd.DataFrame(wide)
    vals = df[[f"{v}{t}" for v in "xy" for t in range(1, 6)]].to_numpy(copy=True)
    vals[rng.random(vals.shape) < 0.12] = np.nan
    drop = rng.random(n) < 0.10
    for t in (4, 5):
        vals[drop, t - 1] = np.nan
        vals[drop, 5 + t - 1] = np.nan
    vals[[10, 200, 333]] = np.nan
    df[[f"{v}{t}" for v in "xy" for t in range(1, 6)]] = vals
    df.to_csv(HERE / "sim5.csv", index=False, na_rep="NA")

    rng = np.random.default_rng(7)
    paths3 = np.array([[0.3, 0.1, 0.0], [0.15, 0.35, 0.1], [0.0, 0.2, 0.25]])
    ri_cov = np.array([[1.0, 0.3, 0.2], [0.3, 1.0, 0.3], [0.2, 0.3, 1.0]])
    _, y3 = riclpm_panel(rng, 300, 4, paths3, ri_cov, 0.9, [1.0, 2.0, 3.0])
    wide3 = {"id": np.arange(1, 301)}
    for v, name in enumerate("abc"):
        for t in range(4):
            wide3[f"{name}{t + 1}"] = np.round(y3[:, v, t], 4)
    pd.DataFrame(wide3).to_csv(HERE / "sim3.csv", index=False, na_rep="NA")


if __name__ == "__main__":
    main()
