"""Time sp.power against its targets and against lme4 (when Rscript with lme4 is available).

The models are sp.crosslag's default (the outcome's person level carried by the random
intercept, Bolger & Laurenceau 2013; uncorrelated random intercept and slope); the share of
singular fits is printed beside the former specification's (``outcome_mean=True``).
``--singular N`` compares the singular shares of ``(1 + x | id)`` and ``(1 + x || id)`` with
lme4's on N simulated studies of 100 persons x 14 days.

Targets (issue): 1,000 simulated studies of 100 persons x 14 days, both directions with random
slopes, <= 10 s on a 2-core machine; the 3 x 3 grid (50/100/200 persons x 7/14/28 days) with
1,000 studies per cell <= 2 minutes. lme4 reference figure: ~0.14 s per fit.

Usage::

    python benchmarks/bench_power.py            # both targets + lme4 on 20 datasets
    python benchmarks/bench_power.py --quick    # 200 studies, no grid
    python benchmarks/bench_power.py --no-r     # skip lme4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sleeppain as sp
from sleeppain.planning._generate import DIRECTIONS, crosslag_rows, crosslag_stats, generate_batch
from sleeppain.planning._reml import fit_batched
from sleeppain.simulate import DiaryParameters

LME4_SECONDS_PER_FIT = 0.14
EFFECTS = {"sleep_to_pain": -0.15, "pain_to_sleep": -0.05}

R_SCRIPT = r"""
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1])
uncorrelated <- length(args) > 2 && args[3] == "uncorrelated"
keys <- unique(d[, c("study", "direction")])
crit <- numeric(nrow(keys))
sing <- logical(nrow(keys))
sing_unc <- logical(nrow(keys))
slope0_unc <- logical(nrow(keys))
t0 <- proc.time()[["elapsed"]]
for (k in seq_len(nrow(keys))) {
  s <- d[d$study == keys$study[k] & d$direction == keys$direction[k], ]
  s$id <- factor(s$id)
  f <- suppressMessages(suppressWarnings(lmer(y ~ focal_w + lag_w + focal_m +
        (1 + focal_w | id), data = s, REML = TRUE)))
  crit[k] <- REMLcrit(f)
  sing[k] <- isSingular(f)
  if (uncorrelated) {
    g <- suppressMessages(suppressWarnings(lmer(y ~ focal_w + lag_w + focal_m +
          (1 + focal_w || id), data = s, REML = TRUE)))
    th <- getME(g, "theta")
    sing_unc[k] <- isSingular(g)
    slope0_unc[k] <- th[2] < 1e-4
  }
}
el <- proc.time()[["elapsed"]] - t0
write(toJSON(list(seconds = el, fits = nrow(keys), crit = crit, singular = sing,
  singular_uncorrelated = sing_unc, slope_sd_zero_uncorrelated = slope0_unc,
  study = keys$study, direction = keys$direction,
  lme4 = as.character(packageVersion("lme4"))), digits = NA, auto_unbox = TRUE), args[2])
"""


def _row(
    label: str, seconds: float, fits: int, target: float | None, cpu: float | None = None
) -> dict[str, object]:
    per_fit = seconds / fits
    return {
        "benchmark": label,
        "seconds": round(seconds, 2),
        "cpu_s_workers": None if cpu is None else round(cpu, 2),
        "fits": fits,
        "ms_per_fit": round(1000 * per_fit, 3),
        "speed-up vs lme4 0.14 s/fit": round(LME4_SECONDS_PER_FIT / per_fit, 1),
        "target_s": target,
        "met": None if target is None else seconds <= target,
    }


def bench_cell(n_sims: int) -> dict[str, object]:
    start = time.perf_counter()
    res = sp.power(
        n_persons=100, n_days=14, n_sims=n_sims, seed=1, n_jobs=-1, progress=False, **EFFECTS
    )
    seconds = time.perf_counter() - start
    cols = ["direction", "power", "mc_se", "bias", "coverage", "share_converged"]
    print(res.table[[*cols, "share_singular"]].to_string(index=False))
    old = sp.power(
        n_persons=100,
        n_days=14,
        n_sims=n_sims,
        seed=1,
        n_jobs=-1,
        progress=False,
        outcome_mean=True,
        **EFFECTS,
    )
    print("former specification (outcome_mean=True):")
    print(old.table[["direction", "share_singular"]].to_string(index=False))
    return _row(
        f"{n_sims} studies, 100 x 14, both directions",
        seconds,
        2 * n_sims,
        10.0 if n_sims == 1000 else None,
        res.cpu_seconds,
    )


def bench_grid(n_sims: int) -> dict[str, object]:
    start = time.perf_counter()
    res = sp.power(
        n_persons=[50, 100, 200],
        n_days=[7, 14, 28],
        n_sims=n_sims,
        seed=1,
        n_jobs=-1,
        progress=False,
        **EFFECTS,
    )
    seconds = time.perf_counter() - start
    return _row(
        f"3 x 3 grid, {n_sims} studies per cell",
        seconds,
        2 * 9 * n_sims,
        120.0 if n_sims == 1000 else None,
        res.cpu_seconds,
    )


def bench_lme4(n_studies: int, uncorrelated: bool = False) -> list[dict[str, object]]:
    """lme4 and the batched fitter on the same simulated datasets (one core each).

    With ``uncorrelated``, lme4 also fits ``(1 + x || id)`` (sp.crosslag's default) and the
    shares of singular fits and of zero slope SDs are compared with the batched fitter's.
    """
    params = DiaryParameters(missing_day_share=0.1, **EFFECTS)
    batch = generate_batch(np.random.default_rng(5), n_studies, 100, 14, params)
    frames = []
    for s in range(n_studies):
        for d in DIRECTIONS:
            frames.append(pd.DataFrame(crosslag_rows(batch, s, d)).assign(study=s, direction=d))
    start = time.perf_counter()
    ours = {d: fit_batched(crosslag_stats(batch, d)) for d in DIRECTIONS}
    ours_seconds = time.perf_counter() - start
    rows = [
        _row(
            f"batched fitter, same {n_studies} datasets x 2 (1 core)",
            ours_seconds,
            2 * n_studies,
            None,
        )
    ]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d.csv"
        out = Path(tmp) / "out.json"
        script = Path(tmp) / "bench.R"
        pd.concat(frames).to_csv(data, index=False, float_format="%.17g")
        script.write_text(R_SCRIPT)
        cmd = ["Rscript", str(script), str(data), str(out)]
        subprocess.run(cmd + (["uncorrelated"] if uncorrelated else []), check=True)
        r = json.loads(out.read_text())
    rows.append(_row(f"lme4 {r['lme4']} lmer, same datasets", r["seconds"], r["fits"], None))
    ours_crit = np.array(
        [ours[d].deviance[s] for s, d in zip(r["study"], r["direction"], strict=True)]
    )
    diff = ours_crit - np.array(r["crit"])
    ours_sing = np.array(
        [ours[d].singular[s] for s, d in zip(r["study"], r["direction"], strict=True)]
    )
    print(
        f"singular fits: batched {ours_sing.mean():.2f}, lme4 isSingular "
        f"{np.mean(r['singular']):.2f} (same datasets)"
    )
    if uncorrelated:
        unc = {
            d: fit_batched(crosslag_stats(batch, d), free=(True, False, True)) for d in DIRECTIONS
        }
        for d in DIRECTIONS:
            m = np.array(r["direction"]) == d
            mine = unc[d].theta
            print(
                f"{d}, {n_studies} studies: (1 + x | id) singular: batched "
                f"{ours[d].singular.mean():.3f}, lme4 {np.mean(np.array(r['singular'])[m]):.3f}; "
                f"(1 + x || id) slope SD 0 (reduced): batched {np.mean(mine[:, 2] < 1e-4):.3f}, "
                f"lme4 {np.mean(np.array(r['slope_sd_zero_uncorrelated'])[m]):.3f}; "
                f"intercept SD 0 (singular after reduction): batched "
                f"{np.mean(mine[:, 0] < 1e-4):.3f}"
            )
    print(
        f"REML criterion, batched minus lme4: max {diff.max():.2e}, min {diff.min():.2e} "
        "(negative: the batched fitter found a lower criterion)"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 studies, no grid")
    parser.add_argument("--no-r", action="store_true", help="skip the lme4 comparison")
    parser.add_argument(
        "--singular",
        type=int,
        default=0,
        metavar="N",
        help="only compare singular shares of (1 + x | id) and (1 + x || id) with lme4 on N studies",
    )
    args = parser.parse_args()
    n_sims = 200 if args.quick else 1000
    if args.singular:
        bench_lme4(args.singular, uncorrelated=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    print(
        f"cores available: {len(os.sched_getaffinity(0))}; load average before: "
        f"{os.getloadavg()[0]:.2f} (other processes slow the wall-clock times down)"
    )
    rows = [bench_cell(n_sims)]
    if not args.quick:
        rows.append(bench_grid(n_sims))
    if not args.no_r and shutil.which("Rscript"):
        try:
            rows.extend(bench_lme4(20))
        except subprocess.CalledProcessError as exc:
            print(f"lme4 comparison skipped: {exc}")
    print()
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
