"""Time ``sp.lmm`` against lme4 and statsmodels, and show how it scales.

Run from the repository root::

    python benchmarks/bench_lmm.py            # full run (~3 minutes, ~1.5 GB of RAM)
    python benchmarks/bench_lmm.py --quick    # small sizes, a smoke test
    python benchmarks/bench_lmm.py --skip-r   # no lme4 comparison

Parts (see benchmarks/README.md):

(a) a simulated sleep-pain diary, 5,000 persons x 60 days (~240k rows), model
    ``pain_next ~ sleep_w + pain_w + sleep_m + pain_m + (1 + sleep_w | id)`` (REML):
    ``sp.lmm`` (formula to result, best of several runs) against ``lme4::lmer`` on the same
    data in the same run (``Rscript benchmarks/bench_lmm.R``, which times only the lmer call);
(b) the same model on 1,000 persons x 30 days against statsmodels ``MixedLM`` (capped with
    ``maxiter``), with both optima evaluated on sleeppain's REML criterion;
(c) scale: ``y ~ x + (1 + x | id)`` on 10k, 30k and 100k persons x 100 days (1M to 10M
    rows): fit time and memory, each size in its own subprocess.

It prints Markdown tables; it writes nothing in the repository (CSV for R goes to a
temporary folder).
"""

from __future__ import annotations

import argparse
import gc
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "bench_lmm.R"

DIARY_FORMULA = "pain_next ~ sleep_w + pain_w + sleep_m + pain_m + (1 + sleep_w | id)"
DIARY_FIXED = "pain_next ~ sleep_w + pain_w + sleep_m + pain_m"
SCALE_FORMULA = "y ~ x + (1 + x | id)"
SEED = 20260122
# Days of a simulated diary that are missing at random (whole days, both reports).
P_MISSING_DAY = 0.2
# statsmodels' MixedLM can take minutes on part (b): cap its optimiser.
STATSMODELS_MAXITER = 200


# --------------------------------------------------------------------------------------
# Data
def simulate_diary(n_persons: int, n_days: int, seed: int = SEED) -> pd.DataFrame:
    """A daily sleep-pain diary with a next-morning outcome and within/between predictors.

    Each day a person reports evening pain (``pain``, an AR(1) around the person's mean)
    and that night's sleep quality; ``pain_next`` is the next morning's pain, which depends
    on the person's mean pain plus a person-specific morning offset (sd 0.7), on the
    evening's pain (0.3) and, with a random slope (mean -0.3, sd 0.15), on the night's
    within-person sleep quality. Whole days are missing at random (P_MISSING_DAY): a
    missing day has no evening report, no sleep report and no next-morning pain. ``*_w``
    are deviations from the person's mean over observed days, ``*_m`` person means centred
    at the mean of person means.
    """
    rng = np.random.default_rng(seed)
    mu_sleep = rng.normal(5.0, 1.0, size=n_persons)
    mu_pain = rng.normal(4.0, 1.5, size=n_persons)
    morning = rng.normal(0.0, 0.7, size=n_persons)
    slope = rng.normal(-0.3, 0.15, size=n_persons)
    sleep = mu_sleep[:, None] + rng.normal(0.0, 1.2, size=(n_persons, n_days))
    pain = np.empty((n_persons, n_days))
    pain[:, 0] = mu_pain + rng.normal(0.0, 1.2, size=n_persons)
    for t in range(n_days - 1):
        pain[:, t + 1] = mu_pain + 0.4 * (pain[:, t] - mu_pain) + rng.normal(0, 1.1, n_persons)
    pain_next = (
        (mu_pain + morning)[:, None]
        + 0.3 * (pain - mu_pain[:, None])
        + slope[:, None] * (sleep - mu_sleep[:, None])
        + rng.normal(0.0, 1.0, size=(n_persons, n_days))
    )
    missing = rng.random((n_persons, n_days)) < P_MISSING_DAY
    for arr in (sleep, pain, pain_next):
        arr[missing] = np.nan

    def within_between(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pm = np.nanmean(x, axis=1)
        return x - pm[:, None], np.broadcast_to((pm - np.nanmean(pm))[:, None], x.shape)

    sleep_w, sleep_m = within_between(sleep)
    pain_w, pain_m = within_between(pain)
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n_persons, dtype=np.int64), n_days),
            "day": np.tile(np.arange(n_days, dtype=np.int64), n_persons),
            "pain_next": pain_next.ravel(),
            "sleep_w": sleep_w.ravel(),
            "pain_w": pain_w.ravel(),
            "sleep_m": sleep_m.ravel(),
            "pain_m": pain_m.ravel(),
        }
    )
    return df.dropna().reset_index(drop=True)


def simulate_scale(n_persons: int, n_days: int, seed: int = SEED) -> pd.DataFrame:
    """Random intercept and slope, ``y = 1 + 0.5 x + b0 + b1 x + e`` (balanced, no NA)."""
    rng = np.random.default_rng(seed)
    n = n_persons * n_days
    b0 = rng.normal(0.0, 1.0, size=n_persons)
    b1 = rng.normal(0.0, 0.3, size=n_persons)
    x = rng.normal(0.0, 1.0, size=n)
    idx = np.repeat(np.arange(n_persons, dtype=np.int64), n_days)
    y = 1.0 + 0.5 * x + b0[idx] + b1[idx] * x + rng.normal(0.0, 1.0, size=n)
    return pd.DataFrame({"id": idx, "x": x, "y": y})


# --------------------------------------------------------------------------------------
# Helpers
def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``repeats`` times; (best seconds, all seconds, last result)."""
    times = []
    result = None
    for _ in range(repeats):
        result = None  # let the previous result go, so peak memory is that of one call
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


def fit_lmm(formula: str, data: pd.DataFrame) -> tuple[Any, list[str]]:
    """``sp.lmm`` with warnings recorded (not raised), so a benchmark always finishes."""
    import sleeppain as sp

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sp.lmm(formula, data, reml=True)
    return fit, [f"{w.category.__name__}: {w.message}" for w in caught]


def warm_up() -> float:
    """Fit a tiny model once (imports, first-call costs); returns its seconds."""
    t0 = time.perf_counter()
    fit_lmm(SCALE_FORMULA, simulate_scale(50, 5, seed=1))
    return time.perf_counter() - t0


def time_design(formula: str, data: pd.DataFrame, repeats: int) -> float:
    """Best seconds of building the design alone (parse, model matrices, groups)."""
    from sleeppain.mixed import build_design

    return best_of(lambda: build_design(formula, data), repeats)[0]


def rscript() -> str | None:
    return shutil.which("Rscript")


def run_lmer(data: pd.DataFrame, formula: str, repeats: int) -> dict[str, Any]:
    """Write ``data`` to a temporary CSV and time lmer on it with bench_lmm.R."""
    exe = rscript()
    assert exe is not None
    with tempfile.TemporaryDirectory(prefix="sleeppain-bench-") as tmp:
        path = Path(tmp) / "data.csv"
        data.to_csv(path, index=False)
        proc = subprocess.run(
            [exe, str(R_SCRIPT), str(path), formula, "TRUE", str(repeats)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"bench_lmm.R failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for row in rows:
        cols += [c for c in row if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        cells = []
        for c in cols:
            v = row.get(c, "")
            cells.append(f"{v:.6g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def theta_from_covariance(cov: np.ndarray, sigma2: float) -> np.ndarray:
    """lme4's theta for one term: the lower-triangular Cholesky factor of cov / sigma^2,
    column by column (``getME(fit, "theta")`` order)."""
    lower = np.linalg.cholesky(np.asarray(cov, dtype=float) / sigma2)
    return np.concatenate([lower[j:, j] for j in range(lower.shape[0])])


# --------------------------------------------------------------------------------------
# (a) against lme4
def part_a(n_persons: int, n_days: int, repeats: int, skip_r: bool) -> list[dict[str, Any]]:
    data = simulate_diary(n_persons, n_days)
    first = warm_up()
    best, times, (fit, warns) = best_of(lambda: fit_lmm(DIARY_FORMULA, data), repeats)
    design_s = time_design(DIARY_FORMULA, data, repeats)
    rows: list[dict[str, Any]] = [
        {
            "engine": "sleeppain sp.lmm",
            "rows": len(data),
            "persons": data["id"].nunique(),
            "best s": best,
            "runs s": ", ".join(f"{t:.3g}" for t in times),
            "REML criterion": float(fit.objective),
            "sleep_w": float(fit.fixef["sleep_w"]),
            "notes": "; ".join(warns)
            or (
                f"formula to result; of which design {design_s:.3g} s; "
                f"first call in the process (tiny model) {first:.3g} s"
            ),
        }
    ]
    if skip_r:
        print("(a) lme4 skipped (--skip-r)")
    elif rscript() is None:
        print("(a) lme4 skipped: Rscript not found on PATH")
    else:
        r = run_lmer(data, DIARY_FORMULA, repeats)
        rows.append(
            {
                "engine": f"lme4 {r['lme4']} lmer ({r['optimizer']})",
                "rows": r["nobs"],
                "persons": data["id"].nunique(),
                "best s": float(r["best"]),
                "runs s": ", ".join(f"{t:.3g}" for t in r["elapsed"]),
                "REML criterion": float(r["objective"]),
                "sleep_w": float(r["fixef"]["sleep_w"]),
                "notes": "; ".join(r["convergence_messages"]) or "lmer call only (system.time)",
            }
        )
        rows.append(
            {
                "engine": "ratio lme4 / sleeppain",
                "rows": "",
                "persons": "",
                "best s": float(r["best"]) / best,
                "runs s": "",
                "REML criterion": float(fit.objective) - float(r["objective"]),
                "sleep_w": "",
                "notes": "REML column: ours minus lme4's",
            }
        )
    return rows


# --------------------------------------------------------------------------------------
# (b) against statsmodels
def part_b(n_persons: int, n_days: int, repeats: int) -> list[dict[str, Any]]:
    import statsmodels
    import statsmodels.formula.api as smf

    from sleeppain.mixed import make_deviance

    data = simulate_diary(n_persons, n_days, seed=SEED + 1)
    warm_up()
    best, _, (fit, warns) = best_of(lambda: fit_lmm(DIARY_FORMULA, data), repeats)

    def sm_fit() -> Any:
        model = smf.mixedlm(DIARY_FIXED, data, groups=data["id"], re_formula="~sleep_w")
        return model.fit(reml=True, maxiter=STATSMODELS_MAXITER)  # default optimisers

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        sm = sm_fit()
        sm_time = time.perf_counter() - t0
    sm_warns = sorted({f"{w.category.__name__}" for w in caught})
    theta_sm = theta_from_covariance(np.asarray(sm.cov_re), float(sm.scale))
    ours_at_sm = float(make_deviance(DIARY_FORMULA, data, reml=True)(theta_sm))
    return [
        {
            "engine": "sleeppain sp.lmm",
            "rows": len(data),
            "seconds": best,
            "REML criterion (ours)": float(fit.objective),
            "sleep_w": float(fit.fixef["sleep_w"]),
            "notes": "; ".join(warns) or f"best of {repeats}",
        },
        {
            "engine": f"statsmodels {statsmodels.__version__} MixedLM",
            "rows": len(data),
            "seconds": sm_time,
            "REML criterion (ours)": ours_at_sm,
            "sleep_w": float(sm.fe_params["sleep_w"]),
            "notes": (
                f"converged={sm.converged}, maxiter={STATSMODELS_MAXITER}, "
                f"-2*llf={-2 * float(sm.llf):.6g}, warnings: {', '.join(sm_warns) or 'none'}; "
                "REML column: sleeppain's criterion at statsmodels' estimates"
            ),
        },
        {
            "engine": "ratio statsmodels / sleeppain",
            "rows": "",
            "seconds": sm_time / best,
            "REML criterion (ours)": ours_at_sm - float(fit.objective),
            "sleep_w": "",
            "notes": "REML column: statsmodels' minus ours (>= 0 means ours is as good or better)",
        },
    ]


# --------------------------------------------------------------------------------------
# (c) scale, one subprocess per size
def _maxrss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def scale_worker(n_persons: int, n_days: int, traced: bool, repeats: int) -> dict[str, Any]:
    first = warm_up()
    t0 = time.perf_counter()
    data = simulate_scale(n_persons, n_days)
    gen = time.perf_counter() - t0
    data_mb = float(data.memory_usage(deep=True).sum()) / 2**20
    gc.collect()
    rss_data = _maxrss_mb()
    best, times, (fit, warns) = best_of(lambda: fit_lmm(SCALE_FORMULA, data), repeats)
    rss_fit = _maxrss_mb()
    out: dict[str, Any] = {
        "persons": n_persons,
        "days": n_days,
        "rows": len(data),
        "simulate s": gen,
        "warm-up s": first,
        "fit s (best)": best,
        "runs s": ", ".join(f"{t:.3g}" for t in times),
        "us per row": best / len(data) * 1e6,
        "data MB": data_mb,
        "peak RSS MB (after data)": rss_data,
        "peak RSS MB (after fit)": rss_fit,
        "x": float(fit.fixef["x"]),
        "warnings": "; ".join(warns),
    }
    if traced:
        del fit
        gc.collect()
        tracemalloc.start()
        fit_lmm(SCALE_FORMULA, data)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["fit peak alloc MB (tracemalloc)"] = peak / 2**20
    return out


def part_c(persons: list[int], n_days: int, traced: bool, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for n in persons:
        cmd = [sys.executable, __file__, "--scale-worker", str(n), str(n_days)]
        cmd += ["--repeats", str(repeats)]
        if not traced:
            cmd.append("--no-tracemalloc")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            rows.append({"persons": n, "days": n_days, "error": proc.stderr.strip()[-300:]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


# --------------------------------------------------------------------------------------
def environment() -> str:
    import numpy
    import scipy

    import sleeppain

    parts = [
        f"Python {platform.python_version()}",
        f"sleeppain {sleeppain.__version__}",
        f"numpy {numpy.__version__}",
        f"scipy {scipy.__version__}",
        f"pandas {pd.__version__}",
        f"{os.cpu_count()} CPUs",
        platform.machine(),
    ]
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--skip-r", action="store_true", help="do not run lme4")
    parser.add_argument(
        "--parts", default="abc", help="which parts to run, e.g. 'ab' (default: abc)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per timing (best of)")
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="(c): skip the second, traced fit"
    )
    parser.add_argument("--scale-worker", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.scale_worker:
        n_persons, n_days = args.scale_worker
        traced = not args.no_tracemalloc
        print(json.dumps(scale_worker(n_persons, n_days, traced, args.repeats or 1)))
        return 0

    if args.quick:
        a_size, b_size, c_persons, c_days = (1000, 60), (300, 30), [2000, 6000, 20000], 50
        repeats = args.repeats or 2
    else:
        a_size, b_size, c_persons, c_days = (5000, 60), (1000, 30), [10000, 30000, 100000], 100
        repeats = args.repeats or 3

    print(f"# sp.lmm benchmarks{' (--quick)' if args.quick else ''}\n")
    print(environment())
    print(f"OMP/BLAS threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
    if "a" in args.parts:
        print(f"## (a) {a_size[0]:,} persons x {a_size[1]} days vs lme4: `{DIARY_FORMULA}`\n")
        print(markdown(part_a(*a_size, repeats=repeats, skip_r=args.skip_r)) + "\n", flush=True)
    if "b" in args.parts:
        print(f"## (b) {b_size[0]:,} persons x {b_size[1]} days vs statsmodels MixedLM\n")
        print(markdown(part_b(*b_size, repeats=repeats)) + "\n", flush=True)
    if "c" in args.parts:
        print(f"## (c) scale: `{SCALE_FORMULA}`, persons x {c_days} days\n")
        rows = part_c(c_persons, c_days, traced=not args.no_tracemalloc, repeats=repeats)
        print(markdown(rows) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
