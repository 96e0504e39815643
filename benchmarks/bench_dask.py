"""Benchmark: ``sp.lmm`` on a Dask DataFrame read from parquet, against the in-memory fit.

Writes synthetic diaries (persons x days, one parquet file per block of persons) to
``/tmp/sleeppain_bench_dask/`` (never into the repository), then fits
``y ~ x + (1 + x | id)`` in a fresh subprocess per case so that the peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is that of the fitting process alone:

* ``dask``: ``dd.read_parquet(directory)`` then ``sp.lmm(formula, ddf)`` with the threaded
  scheduler (2 threads);
* ``memory``: ``pd.read_parquet(directory)`` then ``sp.lmm(formula, df)`` (where it fits).

Usage::

    python benchmarks/bench_dask.py            # 30M rows: dask and in memory
    python benchmarks/bench_dask.py --big      # also 100M rows, dask only
    python benchmarks/bench_dask.py --crosslag # sp.crosslag, 600,000 rows, both ways
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path("/tmp/sleeppain_bench_dask")
FORMULA = "y ~ x + (1 + x | id)"
PERSONS_PER_FILE = 5000


def write_parquet(persons: int, days: int, seed: int = 17) -> Path:
    """One file per 5,000 persons; person effects and a random slope of x."""
    import pandas as pd

    out = ROOT / f"p{persons}_d{days}"
    done = out / "_done"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for f, start in enumerate(range(0, persons, PERSONS_PER_FILE)):
        k = min(PERSONS_PER_FILE, persons - start)
        ids = np.repeat(np.arange(start, start + k, dtype=np.int64), days)
        n = k * days
        u0 = rng.normal(0.0, 1.0, k)
        u1 = rng.normal(0.0, 0.3, k)
        x = rng.normal(size=n)
        y = 2.0 + u0.repeat(days) + (-0.4 + u1.repeat(days)) * x + rng.normal(size=n)
        frame = pd.DataFrame(
            {"id": ids, "day": np.tile(np.arange(days, dtype=np.int32), k), "x": x, "y": y}
        )
        frame.to_parquet(out / f"part-{f:05d}.parquet", engine="pyarrow", index=False)
    done.touch()
    return out


CHILD = r"""
import json, resource, sys, time, warnings
mode, path, formula = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
import sleeppain as sp
if mode == "dask":
    import dask, dask.dataframe as dd
    dask.config.set(scheduler="threads", num_workers=2)
    data = dd.read_parquet(path, engine="pyarrow", columns=["id", "x", "y"])
else:
    import pandas as pd
    data = pd.read_parquet(path, engine="pyarrow", columns=["id", "x", "y"])
t1 = time.perf_counter()
fit = sp.lmm(formula, data)
t2 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
print(json.dumps({"mode": mode, "read_s": t1 - t0, "fit_s": t2 - t1, "total_s": t2 - t0,
                  "peak_gb": rss, "nobs": fit.nobs, "persons": fit.ngroups["id"],
                  "beta": fit.beta.tolist(), "objective": fit.objective,
                  "converged": fit.converged}))
"""


def run(mode: str, path: Path) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), FORMULA],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    if res.returncode != 0:
        return {"mode": mode, "error": res.stderr.strip().splitlines()[-1:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


CROSSLAG = r"""
import json, resource, sys, time, warnings
mode, persons, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import sleeppain as sp
df = sp.simulate.diary(persons, days, seed=5).data
warnings.simplefilter("ignore")
t0 = time.perf_counter()
if mode == "dask":
    import dask, dask.dataframe as dd
    dask.config.set(scheduler="threads", num_workers=2)
    data = dd.from_pandas(df, npartitions=8, sort=False)
else:
    data = df
res = sp.crosslag(data, id="id", day="day", sleep="sleep_quality", pain="pain")
t1 = time.perf_counter()
eff = res.effects()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps({"mode": mode, "rows": len(df), "seconds": t1 - t0, "peak_gb": rss,
                  "estimate": eff["estimate"].tolist(), "std_error": eff["std_error"].tolist()}))
"""


def run_crosslag(mode: str, persons: int, days: int) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CROSSLAG, mode, str(persons), str(days)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    if res.returncode != 0:
        return {"mode": mode, "error": res.stderr.strip().splitlines()[-1:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", action="store_true", help="also 100M rows (dask only)")
    ap.add_argument("--persons", type=int, default=300_000)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument(
        "--crosslag", action="store_true", help="only sp.crosslag, 20,000 persons x 30 days"
    )
    args = ap.parse_args()
    print("load before:", os.getloadavg())
    if args.crosslag:
        for mode in ("memory", "dask"):
            print(json.dumps(run_crosslag(mode, 20_000, 30)))
        print("load after:", os.getloadavg())
        return
    cases = [(args.persons, args.days, ("dask", "memory"))]
    if args.big:
        cases.append((1_000_000, 100, ("dask",)))
    for persons, days, modes in cases:
        t = time.perf_counter()
        path = write_parquet(persons, days)
        print(f"{persons * days:,} rows in {path} ({time.perf_counter() - t:.0f} s to write)")
        results = {m: run(m, path) for m in modes}
        for r in results.values():
            print(json.dumps(r))
        if "memory" in results and "beta" in results["memory"] and "beta" in results["dask"]:
            a, b = np.array(results["memory"]["beta"]), np.array(results["dask"]["beta"])
            print(
                "max rel diff beta",
                float(np.max(np.abs(a - b) / np.abs(a))),
                "objective diff",
                results["memory"]["objective"] - results["dask"]["objective"],
            )
        print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
