"""Reference R-hat / ESS / MCSE from ArviZ for fixed draws (run offline, in a separate venv).

    python3 -m venv /tmp/pymc-venv && /tmp/pymc-venv/bin/pip install pymc arviz -e .
    /tmp/pymc-venv/bin/python tests/reference/dsem/arviz_diagnostics.py

Writes arviz_diagnostics.json beside this script: the draws themselves (so the test does
not depend on a random generator) and ArviZ's rank-normalised split R-hat, bulk and tail
ESS and the MC standard error of the mean (Vehtari et al. 2021).
"""

import json
from pathlib import Path

import arviz as az
import numpy as np

rng = np.random.default_rng(20211)
sets = {}
# 1. four AR(1) chains, phi = 0.7
x = np.zeros((4, 300))
for c in range(4):
    e = rng.standard_normal(300)
    for t in range(1, 300):
        x[c, t] = 0.7 * x[c, t - 1] + e[t]
sets["ar1"] = x
# 2. heavy tails (t with 3 df), independent draws, 3 chains of 251 (odd length)
sets["heavy_odd"] = rng.standard_t(3, size=(3, 251))
# 3. chains that disagree: shifted means, strong autocorrelation
y = np.zeros((4, 200))
for c in range(4):
    e = rng.standard_normal(200)
    for t in range(1, 200):
        y[c, t] = 0.95 * y[c, t - 1] + e[t]
    y[c] += 0.8 * c
sets["not_mixed"] = y
# 4. a skewed positive quantity (like a random-effect SD)
sets["skewed"] = np.exp(
    0.5 * rng.standard_normal((2, 400)) + np.cumsum(0.05 * rng.standard_normal((2, 400)), axis=1)
)

out = {"arviz": az.__version__, "numpy": np.__version__, "sets": {}}
for name, d in sets.items():
    out["sets"][name] = {
        "draws": d.tolist(),
        "rhat": float(az.rhat(d, method="rank")),
        "ess_bulk": float(az.ess(d, method="bulk")),
        "ess_tail": float(az.ess(d, method="tail")),
        "ess_mean": float(az.ess(d, method="mean")),
        "mcse_mean": float(az.mcse(az.convert_to_dataset(d), method="mean")["x"]),
    }
Path(__file__).with_name("arviz_diagnostics.json").write_text(json.dumps(out))
print({k: {m: v for m, v in s.items() if m != "draws"} for k, s in out["sets"].items()})
