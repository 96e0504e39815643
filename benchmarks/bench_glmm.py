"""Time ``sp.glmm`` against ``lme4::glmer`` on a binary diary outcome, in one run.

Run from the repository root::

    python benchmarks/bench_glmm.py            # 5,000 persons x 30 days (150,000 rows)
    python benchmarks/bench_glmm.py --quick    # 500 persons x 30 days, a smoke test
    python benchmarks/bench_glmm.py --skip-r   # sleeppain only

Data: a simulated binary flare-day outcome, ``flare ~ poor_night + (1 + poor_night | id)``
with a random intercept (sd 1) and a random slope (sd 0.5) of a binary "poor night"
predictor. Model: the same formula, Laplace approximation.

Timed:

* **sp.glmm**: the whole call, formula and DataFrame to the frozen result (design, PIRLS,
  optimisation, Hessian-based standard errors), best of ``--repeats`` runs;
* **glmer**: ``lme4::glmer(..., family = binomial)`` with its defaults (and, as a second
  line, with ``tolPwrss = 1e-10``, a PIRLS tolerance at which lme4's Laplace deviance is
  nearly exact; 1e-13, used for the small reference cases, fails with "PIRLS step-halvings
  failed" at this size), timed inside R around the ``glmer`` call only, on the same
  CSV, in the same run (sequentially, so the two never compete for the cores).

Both optima are evaluated on sleeppain's exact Laplace deviance so the comparison of
fits is on one scale. The script prints a Markdown table and writes nothing into the
repository (the CSV for R goes to a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA = "flare ~ poor_night + (1 + poor_night | id)"
SEED = 20261201

R_CODE = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
out <- list(lme4 = as.character(packageVersion("lme4")), R = R.version.string)
for (tight in c(FALSE, TRUE)) {
  ctrl <- if (tight) glmerControl(tolPwrss = 1e-10) else glmerControl()
  key <- if (tight) "tight" else "default"
  t0 <- proc.time()[["elapsed"]]
  fit <- tryCatch(
    glmer(flare ~ poor_night + (1 + poor_night | id), data = d, family = binomial,
          control = ctrl),
    error = function(e) conditionMessage(e))
  el <- proc.time()[["elapsed"]] - t0
  if (is.character(fit)) {
    out[[key]] <- list(seconds = el, error = fit)
    next
  }
  out[[key]] <- list(seconds = el, theta = unname(getME(fit, "theta")),
                     beta = unname(fixef(fit)),
                     se = unname(sqrt(diag(as.matrix(vcov(fit))))),
                     minus2ll = -2 * as.numeric(logLik(fit)),
                     messages = as.list(fit@optinfo$conv$lme4$messages))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


def simulate(persons: int, days: int, seed: int = SEED) -> pd.DataFrame:
    """A binary flare-day diary with a random intercept and slope of ``poor_night``."""
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(1, persons + 1), days)
    poor = rng.binomial(1, 0.3, size=persons * days).astype(float)
    b0 = rng.normal(0.0, 1.0, persons)
    b1 = rng.normal(0.0, 0.5, persons)
    eta = -1.5 + 0.6 * poor + b0[pid - 1] + b1[pid - 1] * poor
    flare = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta)))
    return pd.DataFrame(
        {
            "id": pid,
            "day": np.tile(np.arange(1, days + 1), persons),
            "poor_night": poor,
            "flare": flare,
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    persons, days = (500, 30) if args.quick else (5000, 30)

    import sleeppain as sp
    from sleeppain.mixed.generalized import glmm_objective, glmm_problem

    data = simulate(persons, days)
    load_before = os.getloadavg()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp.glmm(FORMULA, simulate(50, 10))  # warm-up: imports
    times = []
    fit = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sp.glmm(FORMULA, data)
        times.append(time.perf_counter() - t0)
    assert fit is not None
    t_sp = min(times)

    r: dict | None = None
    if not args.skip_r:
        if shutil.which("Rscript") is None:
            print("Rscript not found: skipping lme4")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                csv = Path(tmp) / "flare.csv"
                data.to_csv(csv, index=False)
                code = Path(tmp) / "bench.R"
                code.write_text(R_CODE)
                out = Path(tmp) / "out.json"
                subprocess.run(["Rscript", str(code), str(csv), str(out)], check=True)
                r = json.loads(out.read_text())
    load_after = os.getloadavg()

    print(f"## sp.glmm vs lme4::glmer ({persons:,} persons x {days} days, {len(data):,} rows)\n")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; Python "
        f"{sys.version.split()[0]}"
    )
    if r is not None:
        print(f"{r['R']}, lme4 {r['lme4']}")
    print()
    print("| fit | seconds | -2 logLik (exact Laplace at its estimates) | beta | SE | ratio |")
    print("|---|---|---|---|---|---|")
    gp = glmm_problem(FORMULA, data)
    print(
        f"| sp.glmm (best of {args.repeats}) | {t_sp:.2f} | {fit.objective:.4f} | "
        f"{np.round(fit.beta, 4).tolist()} | {np.round(fit.std_errors.to_numpy(), 5).tolist()}"
        " | 1 |"
    )
    if r is not None:
        for key in ("default", "tight"):
            rr = r[key]
            label = "glmer (defaults)" if key == "default" else "glmer (tolPwrss = 1e-10)"
            if "error" in rr:
                print(f"| {label} | failed after {rr['seconds']:.2f} s: {rr['error']} | | | | |")
                continue
            exact = glmm_objective(gp, np.array(rr["theta"]), np.array(rr["beta"]))[0]
            print(
                f"| {label} | {rr['seconds']:.2f} | {exact:.4f} (lme4 prints "
                f"{rr['minus2ll']:.4f}) | {np.round(rr['beta'], 4).tolist()} | "
                f"{np.round(rr['se'], 5).tolist()} | {rr['seconds'] / t_sp:.1f}x |"
            )
            if rr["messages"]:
                print(f"|  lme4 messages: {'; '.join(rr['messages'])} | | | | | |")


if __name__ == "__main__":
    main()
