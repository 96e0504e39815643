"""Time sp.riclpm / sp.clpm (FIML) against lavaan 0.6 on the same data, in the same run.

10,000 persons x 10 waves of two variables from a random-intercept cross-lagged process,
with 10 % of values missing at random and 15 % attrition after wave 6. Python fits are
timed in this process (median of 3 runs after one warm-up); lavaan is timed by
benchmarks/bench_panel.R on the same CSV, started from here. Estimates are compared too.

Usage: python benchmarks/bench_panel.py [--persons 10000] [--waves 10] [--no-r]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import sleeppain as sp

HERE = Path(__file__).resolve().parent


def simulate(n: int, waves: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    paths = np.array([[0.35, 0.1], [0.15, 0.3]])
    ri = rng.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 0.8]], size=n)
    w = np.zeros((n, 2, waves))
    w[:, :, 0] = rng.normal(size=(n, 2))
    for t in range(1, waves):
        w[:, :, t] = w[:, :, t - 1] @ paths.T + 0.8 * rng.normal(size=(n, 2))
    y = w + ri[:, :, None]
    cols = {}
    for v, name in enumerate("xy"):
        for t in range(waves):
            cols[f"{name}{t + 1}"] = y[:, v, t]
    df = pd.DataFrame(cols)
    vals = df.to_numpy(copy=True)
    vals[rng.random(vals.shape) < 0.10] = np.nan
    gone = rng.random(n) < 0.15
    cut = min(6, waves - 1)
    for t in range(cut, waves):
        vals[gone, t] = np.nan
        vals[gone, waves + t] = np.nan
    return pd.DataFrame(vals, columns=df.columns).round(5)


def time_python(df: pd.DataFrame, waves: int, kind: str, reps: int = 3) -> tuple[float, object]:
    fun = sp.riclpm if kind == "riclpm" else sp.clpm
    kw = {"x": [f"x{t + 1}" for t in range(waves)], "y": [f"y{t + 1}" for t in range(waves)]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fun(df, **kw)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            res = fun(df, **kw)
            times.append(time.perf_counter() - t0)
    return float(np.median(times)), res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=10_000)
    ap.add_argument("--waves", type=int, default=10)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    df = simulate(args.persons, args.waves)
    print(f"uptime: {os.popen('uptime').read().strip()}")
    print(
        f"{args.persons} persons x {args.waves} waves, FIML, "
        f"{int(df.isna().sum().sum())} missing values"
    )
    out = {}
    for kind in ("riclpm", "clpm"):
        secs, res = time_python(df, args.waves, kind)
        g = res.glance().iloc[0]
        out[kind] = {
            "python_s": secs,
            "chisq": float(g["chisq"]),
            "df": int(g["df"]),
            "iterations": int(g["iterations"]),
            "params": res.tidy(),
        }
        print(
            f"sleeppain {kind}: {secs:.2f} s (median of 3), chisq {g['chisq']:.3f} on "
            f"{g['df']} df, {int(g['npar'])} parameters, {res.accounting().patterns} patterns"
        )
    rscript = shutil.which("Rscript")
    if args.no_r or rscript is None:
        print("lavaan: not run (--no-r or Rscript absent)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "panel.csv"
        df.to_csv(csv, index=False, na_rep="NA")
        res_json = Path(tmp) / "lavaan.json"
        subprocess.run(
            [rscript, str(HERE / "bench_panel.R"), str(csv), str(args.waves), str(res_json)],
            check=True,
        )
        lav = json.loads(res_json.read_text())
    for kind in ("riclpm", "clpm"):
        r = lav[kind]
        ref = pd.DataFrame(r["params"])
        ref["term"] = np.where(
            ref["op"] == "~1", ref["lhs"] + " ~1", ref["lhs"] + " " + ref["op"] + " " + ref["rhs"]
        )
        m = out[kind]["params"].merge(ref, on="term")
        diff = float(np.max(np.abs(m["estimate"] - m["est"])))
        ratio = r["seconds"] / out[kind]["python_s"]
        print(
            f"lavaan {kind}: {r['seconds']:.2f} s; sleeppain is {ratio:.1f}x faster; "
            f"chisq {r['chisq']:.3f} (diff {out[kind]['chisq'] - r['chisq']:.2e}); "
            f"max |estimate diff| {diff:.1e} over {len(m)} parameters"
        )


if __name__ == "__main__":
    main()
