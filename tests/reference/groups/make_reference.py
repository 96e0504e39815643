"""Write pingouin reference values for sp.compare_groups (Hedges' g and its CI, rank-biserial).

Run offline in a separate environment with pingouin (it is not a sleeppain dependency):

    python3 -m venv /tmp/pg && /tmp/pg/bin/pip install pingouin
    /tmp/pg/bin/python tests/reference/groups/make_reference.py

Writes ``pingouin_refs.json`` beside this file; tests/groups/ reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pingouin as pg
import scipy


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20261201)
    return {
        "normal_60_55": (rng.normal(420, 45, 60), rng.normal(398, 50, 55)),
        "small_8_11": (rng.normal(0, 1, 8), rng.normal(0.8, 1.3, 11)),
        "skewed_40_40": (rng.lognormal(3.0, 0.8, 40), rng.lognormal(3.4, 0.8, 40)),
    }


def main() -> None:
    out: dict[str, object] = {
        "versions": {
            "pingouin": pg.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "cases": {},
    }
    for name, (a, b) in cases().items():
        g = float(pg.compute_effsize(b, a, paired=False, eftype="hedges"))
        ci = pg.compute_esci(
            stat=g, nx=len(b), ny=len(a), paired=False, eftype="hedges", confidence=0.95
        )
        mwu = pg.mwu(b, a, alternative="two-sided")
        tt = pg.ttest(b, a, correction=True)
        out["cases"][name] = {
            "a": a.tolist(),
            "b": b.tolist(),
            "hedges_g": g,
            "g_ci": [float(ci[0]), float(ci[1])],
            "rbc": float(mwu["RBC"].iloc[0]),
            "welch_T": float(tt["T"].iloc[0]),
            "welch_dof": float(tt["dof"].iloc[0]),
        }
    path = Path(__file__).with_name("pingouin_refs.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
