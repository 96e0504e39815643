"""Time ``sp.lmm`` with a residual correlation against nlme, and at 10M rows.

Run from the repository root::

    python benchmarks/bench_nlme.py            # full run (nlme takes about a minute)
    python benchmarks/bench_nlme.py --quick    # small sizes, a smoke test
    python benchmarks/bench_nlme.py --skip-r   # no nlme comparison

Parts:

(a) 2,000 persons x 30 days (10% of the days missing), random intercept and slope,
    CAR(1) residuals on continuous times (day + a random time of day, so every gap is a
    different number): ``sp.lmm("y ~ x + (1 + x | id)", correlation="car1", time="t")``
    against ``nlme::lme(y ~ x, random = ~ x | id, correlation = corCAR1(form = ~ t | id))``
    on the same data in the same run (``Rscript benchmarks/bench_nlme.R``, which times only
    the lme call); REML.
(b) 10M rows: 370,371 persons x 30 days (10% missing), the same model with CAR(1) on
    whole days (a missing day is a gap of 2), in a subprocess: fit time, peak RSS and the
    fit's peak allocation (tracemalloc, second run).

It prints Markdown tables and writes nothing in the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "bench_nlme.R"
FORMULA = "y ~ x + (1 + x | id)"
SEED = 20261201
PHI = 0.5
P_MISSING_DAY = 0.1


def simulate(n_persons: int, n_days: int, *, continuous: bool, seed: int = SEED) -> pd.DataFrame:
    """Random intercept and slope, CAR(1) errors (phi per day) on the observation times."""
    rng = np.random.default_rng(seed)
    t = np.tile(np.arange(n_days, dtype=float), (n_persons, 1))
    if continuous:
        t += rng.uniform(0.0, 0.6, size=t.shape)
    z = rng.standard_normal(t.shape)
    e = np.empty_like(z)
    e[:, 0] = z[:, 0]
    for j in range(1, n_days):
        r = PHI ** (t[:, j] - t[:, j - 1])
        e[:, j] = r * e[:, j - 1] + np.sqrt(1.0 - r * r) * z[:, j]
    x = rng.standard_normal(t.shape)
    b0 = rng.standard_normal(n_persons)[:, None]
    b1 = 0.3 * rng.standard_normal(n_persons)[:, None]
    y = 1.0 + b0 + (0.5 + b1) * x + e
    keep = (rng.random(t.shape) > P_MISSING_DAY).ravel()
    ids = np.repeat(np.arange(n_persons), n_days)
    return pd.DataFrame(
        {"id": ids[keep], "t": t.ravel()[keep], "x": x.ravel()[keep], "y": y.ravel()[keep]}
    )


def fit(data: pd.DataFrame) -> Any:
    import sleeppain as sp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sp.lmm(FORMULA, data, correlation="car1", time="t")


def part_a(n_persons: int, n_days: int, repeats: int, skip_r: bool) -> list[dict[str, Any]]:
    data = simulate(n_persons, n_days, continuous=True)
    fit(data.iloc[:500])  # imports and first-call costs, not timed
    times, cpus, res = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fit(data)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    row: dict[str, Any] = {
        "case": f"(a) {n_persons:,} x {n_days} days, {len(data):,} rows, CAR1 continuous",
        "sleeppain s": min(times),
        "sleeppain runs": ", ".join(f"{t:.3f}" for t in times),
        "sleeppain CPU s (best)": min(cpus),
        "logLik": res.loglik,
        "phi": res.phi,
    }
    rs = shutil.which("Rscript")
    if not skip_r and rs:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "d.csv"
            data.to_csv(path, index=False, float_format="%.17g")
            proc = subprocess.run(
                [rs, str(R_SCRIPT), str(path), "car1", "TRUE"],
                capture_output=True,
                text=True,
                check=False,
            )
        if proc.returncode == 0:
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(
                {
                    "nlme s": out["elapsed"],
                    "nlme CPU s": out["user"],
                    "ratio": out["elapsed"] / min(times),
                    "nlme logLik": out["logLik"],
                    "logLik ours - nlme": res.loglik - out["logLik"],
                    "phi ours - nlme": res.phi - out["phi"],
                    "nlme": out["nlme"],
                }
            )
        else:
            row["nlme"] = f"failed: {proc.stderr[-300:]}"
    return [row]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale_worker(n_persons: int, n_days: int) -> dict[str, Any]:
    data = simulate(n_persons, n_days, continuous=False)
    rss_data = _maxrss_mb()
    fit(data.iloc[:3000])
    t0, c0 = time.perf_counter(), time.process_time()
    res = fit(data)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {
        "rows": len(data),
        "fit s": secs,
        "fit CPU s (process time)": cpu,
        "peak RSS MB": _maxrss_mb(),
        "RSS MB with data": rss_data,
        "phi": res.phi,
        "nevals": res.convergence.nevals,
    }
    del res
    tracemalloc.start()
    fit(data)
    out["fit peak alloc MB (tracemalloc)"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out


def part_b(n_persons: int, n_days: int) -> list[dict[str, Any]]:
    cmd = [sys.executable, __file__, "--worker", str(n_persons), str(n_days)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return [{"case": "(b)", "error": proc.stderr[-500:]}]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return [{"case": f"(b) {n_persons:,} x {n_days} days, CAR1 on days", **out}]


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        lines.append(f"- {r['case']}")
        for k, v in r.items():
            if k != "case":
                lines.append(f"  - {k}: {v:.4g}" if isinstance(v, float) else f"  - {k}: {v}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--worker", nargs=2, type=int)
    ap.add_argument("--part", choices=["a", "b"], help="run one part only")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(scale_worker(*args.worker)))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    if args.quick:
        rows = part_a(200, 14, 2, args.skip_r) + part_b(3000, 30)
    else:
        rows = [] if args.part == "b" else part_a(2000, 30, 3, args.skip_r)
        rows += [] if args.part == "a" else part_b(370_371, 30)
    print(markdown(rows))
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
