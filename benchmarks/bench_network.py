"""Benchmark sp.network against the equivalent lme4 sequence (same run), and a Monte Carlo
coverage study of sp.mediation's intervals.

Usage (from the repository root)::

    python benchmarks/bench_network.py [--persons 1000] [--days 60] [--mc 200]

Network: 4 variables, orthogonal random effects, maximum likelihood (mlVAR's lmer
estimator). The R side reads the same CSV, builds the lag-1 person-mean-centred predictors
and the person means, and fits the four ``lmer`` models; both sides are timed end to end
(data preparation plus fits) and the estimates compared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import sleeppain as sp
from sleeppain.multivariate._simulate import simulate_mediation, simulate_var

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1]); vars <- c("v1", "v2", "v3", "v4")
t0 <- proc.time()[["elapsed"]]
key <- paste(d$id, d$day); prev <- match(paste(d$id, d$day - 1), key)
for (v in vars) {
  pm <- ave(d[[v]], d$id, FUN = function(z) mean(z, na.rm = TRUE))
  d[[paste0("L_", v)]] <- d[[v]][prev] - pm
  d[[paste0("B_", v)]] <- pm - mean(tapply(d[[v]], d$id, mean, na.rm = TRUE))
}
L <- paste0("L_", vars); out <- list()
for (v in vars) {
  f <- as.formula(paste(v, "~", paste(c(L, paste0("B_", setdiff(vars, v))), collapse = " + "),
                        "+ (1 + ", paste(L, collapse = " + "), "|| id)"))
  m <- suppressWarnings(suppressMessages(lmer(f, data = d, REML = FALSE)))
  out[[v]] <- list(fixef = unname(fixef(m)[L]), loglik = as.numeric(logLik(m)))
}
el <- proc.time()[["elapsed"]] - t0
writeLines(toJSON(list(seconds = el, fits = out), auto_unbox = TRUE, digits = NA), args[2])
"""


def bench_network(persons: int, days: int, repeats: int = 2) -> dict:
    df = simulate_var(persons, days, missing=0.05, seed=2026)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "var.csv"
        df.to_csv(csv, index=False)
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        out = Path(tmp) / "r.json"
        variables = ["v1", "v2", "v3", "v4"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.BoundaryFitWarning)
            # warm-up on a small diary: imports (R's library() is outside its timer too)
            sp.network(simulate_var(30, 10, seed=1), id="id", day="day", variables=variables)
        t_py, t_r, t_r_wall = [], [], []
        for _ in range(repeats):  # interleaved, best of `repeats` on each side
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sp.BoundaryFitWarning)
                res = sp.network(df, id="id", day="day", variables=variables)
            t_py.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            subprocess.run(["Rscript", str(script), str(csv), str(out)], check=True)
            t_r_wall.append(time.perf_counter() - t1)
            r = json.loads(out.read_text())
            t_r.append(r["seconds"])
    dll = max(abs(res.fits[j].loglik - r["fits"][v]["loglik"]) for j, v in enumerate(res.variables))
    dcoef = max(
        float(np.max(np.abs(res.coef[j] - np.array(r["fits"][v]["fixef"]))))
        for j, v in enumerate(res.variables)
    )
    return {
        "rows": len(df),
        "sleeppain_s": min(t_py),
        "lme4_s": min(t_r),
        "lme4_wall_s": min(t_r_wall),
        "ratio": min(t_r) / min(t_py),
        "all_sleeppain_s": t_py,
        "all_lme4_s": t_r,
        "max_abs_dloglik": dll,
        "max_abs_dcoef": dcoef,
    }


def bench_mediation_coverage(n_sets: int, persons: int = 80, days: int = 25) -> dict:
    truth = {"a": 0.4, "b": 0.5, "c_prime": 0.1, "cov_ab": 0.25 * 0.25 * 0.5}
    truth["indirect"] = truth["a"] * truth["b"] + truth["cov_ab"]
    truth["total"] = truth["indirect"] + truth["c_prime"]
    hits = dict.fromkeys(truth, 0)
    t0 = time.perf_counter()
    for s in range(n_sets):
        df = simulate_mediation(persons, days, seed=5000 + s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.BoundaryFitWarning)
            res = sp.mediation(df, id="id", day="day", x="x", m="m", y="y", seed=s, n_draws=5000)
        eff = res.effects()
        for k, v in truth.items():
            hits[k] += int(eff.loc[k, "conf_low"] <= v <= eff.loc[k, "conf_high"])
    mcse = float(np.sqrt(0.95 * 0.05 / n_sets))
    return {
        "datasets": n_sets,
        "coverage": {k: h / n_sets for k, h in hits.items()},
        "mc_se": mcse,
        "seconds": time.perf_counter() - t0,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--mc", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    print(json.dumps(bench_network(a.persons, a.days, a.repeats), indent=2))
    if a.mc:
        print(json.dumps(bench_mediation_coverage(a.mc), indent=2))
