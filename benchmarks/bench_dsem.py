"""Monte Carlo check of sp.dsem against the known truth, with sp.crosslag side by side.

Cells (persons x days): 100 x 7, 120 x 14 (and 300 x 28 with --cells all). Each dataset
comes from sp.simulate.simulate_panel_arrays via sp.simulate.diary with

    phi_pain = 0.45, phi_sleep = 0.3, sleep_to_pain = -0.2 (SD 0.08 over persons),
    pain_to_sleep = 0 (the null direction; SD 0.05), 10 % of days missing (MCAR),
    latent continuous ratings (round_to_scale=False)

and is fitted by sp.dsem (default random effects: intercepts, both autoregressions, both
cross-lags, full covariance) and by sp.crosslag (estimator="lmm", the manifest
observed-mean-centred models). Reported per cell and parameter: mean estimate, bias, its
Monte Carlo SE (SD / sqrt(R)), 95 % interval coverage and, for the null direction, the
rate of intervals excluding 0.

Usage::

    python benchmarks/bench_dsem.py --reps 200 --cells small --out /tmp/dsem_mc.json
    python benchmarks/bench_dsem.py --speed          # the 120 x 14 timing (4 x 2000 iterations)
    python benchmarks/bench_dsem.py --reps 100 --first 100 --cells 100x7 --out b.json
    python benchmarks/bench_dsem.py --merge a.json b.json   # one table of both halves

The recorded study (400 datasets per cell, RESULTS.md) ran each cell in processes of 50-200
datasets (``--first`` 0 to 300), with ``--warmup 1000 --draws 2000`` at 7 and 14 days and
the defaults at 28 days, then ``--merge``.

Results (JSON, incremental) go to --out; the Markdown table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np

import sleeppain as sp
from sleeppain.dynamics import manifest_effects

TRUTH = {"sleep->pain": -0.2, "pain->sleep": 0.0, "pain->pain": 0.45, "sleep->sleep": 0.3}
PARAMS = dict(
    phi_pain=0.45, phi_sleep=0.3, sleep_to_pain=-0.2, pain_to_sleep=0.0, missing_day_share=0.1
)
CELLS = {
    "small": [(100, 7), (120, 14)],
    "all": [(100, 7), (120, 14), (300, 28)],
    "100x7": [(100, 7)],
    "120x14": [(120, 14)],
    "300x28": [(300, 28)],
}


def one(n: int, t: int, seed: int, chains: int, warmup: int, draws: int) -> dict[str, object]:
    sim = sp.simulate.diary(n, t, seed=seed, round_to_scale=False, **PARAMS)
    out: dict[str, object] = {"seed": seed}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = sp.dsem(
            sim.data,
            id="id",
            day="day",
            sleep="sleep_quality",
            pain="pain",
            chains=chains,
            warmup=warmup,
            draws=draws,
            seed=seed,
            n_jobs=1,
        )
        out["dsem_seconds"] = time.perf_counter() - t0
        eff = res.effects()
        out["dsem"] = eff[["estimate", "conf_low", "conf_high", "rhat", "ess_bulk"]].to_dict(
            "index"
        )
        try:
            cl = sp.crosslag(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain")
            man = manifest_effects(cl)
            out["crosslag"] = man[["estimate", "conf_low", "conf_high"]].to_dict("index")
        except Exception as exc:  # record and go on
            out["crosslag_error"] = repr(exc)
    return out


def table(results: dict[str, list[dict]]) -> str:
    lines = [
        "| cell | R | parameter | truth | dsem mean | dsem bias (MC SE) | dsem coverage | "
        "crosslag mean | crosslag bias (MC SE) | crosslag coverage |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell, reps in results.items():
        for par, truth in TRUTH.items():
            row = [cell, str(len(reps)), par, f"{truth:g}"]
            for key in ("dsem", "crosslag"):
                rr = [r[key][par] for r in reps if key in r and par in r[key]]
                if not rr:
                    row += ["-", "-", "-"]
                    continue
                est = np.array([r["estimate"] for r in rr])
                cov = np.mean([r["conf_low"] <= truth <= r["conf_high"] for r in rr])
                se = est.std(ddof=1) / np.sqrt(len(est)) if len(est) > 1 else float("nan")
                cover_txt = f"{cov:.3f}"
                if truth == 0:
                    cover_txt += f" (reject {1 - cov:.3f})"
                z = (est.mean() - truth) / se if se > 0 else float("nan")
                row += [
                    f"{est.mean():.4f}",
                    f"{est.mean() - truth:+.4f} ({se:.4f}; z {z:+.1f})",
                    cover_txt,
                ]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def speed(reps: int = 2) -> None:
    """120 x 14, 4 chains x (1000 + 1000): wall time (n_jobs=2) and CPU time (n_jobs=1).

    On a shared machine the wall time depends on the load; the CPU time of the 4 chains
    run in-process (n_jobs=1) divided by 2 is the wall time the 2 cores would need alone.
    """
    sim = sp.simulate.diary(120, 14, seed=11, round_to_scale=False, **PARAMS)
    kw = dict(
        id="id", day="day", sleep="sleep_quality", pain="pain", chains=4, warmup=1000, draws=1000
    )
    for n_jobs in (1, 2):
        wall, cpu = [], []
        for r in range(reps):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0, c0 = time.perf_counter(), time.process_time()
                res = sp.dsem(sim.data, seed=r, n_jobs=n_jobs, **kw)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        ess = res.effects()["ess_bulk"]
        extra = (
            f"; CPU {np.median(cpu):.2f} s -> {np.median(cpu) / 2:.2f} s on 2 idle cores"
            if n_jobs == 1
            else ""
        )
        print(
            f"120 x 14, 4 chains x 2000 iterations, n_jobs={n_jobs}: wall median "
            f"{np.median(wall):.2f} s (runs {', '.join(f'{x:.2f}' for x in wall)}){extra}; "
            f"bulk ESS of the effects {', '.join(f'{x:.0f}' for x in ess)}; "
            f"min ESS per wall second {ess.min() / np.median(wall):.0f}"
        )
        print("load:", os.getloadavg())


def scale() -> None:
    """Per-iteration cost at 100 x 50 (all 8 random effects) and 10,000 x 30 (defaults)."""
    import resource

    from sleeppain.dynamics._api import _diary
    from sleeppain.dynamics._arrays import prepare
    from sleeppain.dynamics._gibbs import run_chain
    from sleeppain.dynamics._spec import DsemPriors, random_indices

    for n, t, rnd, iters in (
        (100, 50, ("intercept", "autoregression", "crosslag", "residual_variance"), 400),
        (10_000, 30, ("intercept", "autoregression", "crosslag"), 40),
    ):
        sim = sp.simulate.diary(n, t, seed=5, round_to_scale=False, **PARAMS)
        d = _diary(sim.data, "id", "day", "sleep_quality", None, ["pain", "sleep_quality"])
        prep = prepare(d, "sleep_quality", "pain", ())
        t0 = time.perf_counter()
        run_chain(
            prep.arrays,
            random_indices(rnd),
            DsemPriors(),
            iters // 2,
            iters // 2,
            np.random.SeedSequence(1),
            10,
        )
        per = (time.perf_counter() - t0) / iters
        est = per * 8000 / 2  # 4 chains x 2000 iterations on 2 cores
        print(
            f"{n} x {t}, random={rnd}: {1000 * per:.1f} ms per iteration; 4 chains x 2000 "
            f"iterations on 2 cores ~ {est:.0f} s; max RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    print("load:", os.getloadavg())


def big() -> None:
    """The full call at 10,000 persons x 30 days: 4 chains x (1,000 + 1,000), n_jobs=2.

    Wall time of ``sp.dsem`` (data simulated beforehand, not timed) and the peak resident
    memory of the parent and of the chain processes (``RUSAGE_CHILDREN``).
    """
    import resource

    sim = sp.simulate.diary(10_000, 30, seed=5, round_to_scale=False, **PARAMS)
    print("load before:", os.getloadavg(), flush=True)
    t0 = time.perf_counter()
    res = sp.dsem(
        sim.data,
        id="id",
        day="day",
        sleep="sleep_quality",
        pain="pain",
        chains=4,
        warmup=1000,
        draws=1000,
        seed=1,
        n_jobs=2,
        progress=False,
    )
    wall = time.perf_counter() - t0
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    eff = res.effects()
    print(f"10,000 x 30, 4 chains x 2,000 iterations, n_jobs=2: {wall:.1f} s wall")
    print(f"peak RSS: parent {parent:.0f} MB, largest chain process {child:.0f} MB")
    print(eff[["estimate", "std_error", "rhat", "ess_bulk"]].round(4).to_string())
    print("load after:", os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument(
        "--first", type=int, default=0, help="first replication (split a cell over processes)"
    )
    ap.add_argument("--merge", nargs="+", help="print the table of these JSON files together")
    ap.add_argument("--cells", default="small", choices=sorted(CELLS))
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--out", default="dsem_mc.json")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--big", action="store_true", help="the full 10,000 x 30 run")
    a = ap.parse_args()
    if a.merge:
        merged: dict[str, list[dict]] = {}
        for path in a.merge:
            with open(path) as fh:
                for cell, reps in json.load(fh)["results"].items():
                    merged.setdefault(cell, []).extend(reps)
        print(table(merged))
        return
    if a.speed:
        speed()
        return
    if a.scale:
        scale()
        return
    if a.big:
        big()
        return
    results: dict[str, list[dict]] = {}
    meta = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "sleeppain": sp.__version__,
        "machine": platform.machine(),
        "load_start": os.getloadavg(),
        "chains": a.chains,
        "warmup": a.warmup,
        "draws": a.draws,
        "params": PARAMS,
    }
    t0 = time.perf_counter()
    for n, t in CELLS[a.cells]:
        cell = f"{n}x{t}"
        results[cell] = []
        for r in range(a.first, a.first + a.reps):
            results[cell].append(one(n, t, 1000 * n + r, a.chains, a.warmup, a.draws))
            if (r + 1 - a.first) % 10 == 0:
                meta["elapsed"] = time.perf_counter() - t0
                meta["load_now"] = os.getloadavg()
                with open(a.out, "w") as fh:
                    json.dump({"meta": meta, "results": results}, fh)
                print(f"{cell}: {r + 1 - a.first}/{a.reps} ({meta['elapsed']:.0f} s)", flush=True)
    meta["elapsed"] = time.perf_counter() - t0
    with open(a.out, "w") as fh:
        json.dump({"meta": meta, "results": results}, fh)
    print(table(results))


if __name__ == "__main__":
    main()
