"""Time the sp.mr pipeline now against the same pipeline before the result-contract redesign.

The redesign (issue 9: results on the contract, harmonise in stages, read-only outputs; issue
10: typed file errors, decimal-comma detection, chromosome normalisation) must not slow the
pipeline. The earlier version is extracted from git (``git archive``, read-only) into a
temporary directory and both run in fresh processes in the same run, alternating, best of
``--repeats``.

Usage::

    python benchmarks/bench_mr.py                 # 1M-row files, 100-variant analysis
    python benchmarks/bench_mr.py --quick         # 200k rows, fewer repeats
    python benchmarks/bench_mr.py --before 0618316
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TIMED = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
import sleeppain as sp
warnings.simplefilter("ignore")
path, path_gz, n_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = {}
def clock(name, f):
    t = time.perf_counter(); r = f(); out[name] = time.perf_counter() - t; return r
ss = clock("read_sumstats (tsv)", lambda: sp.mr.read_sumstats(path))
clock("read_sumstats (tsv.gz)", lambda: sp.mr.read_sumstats(path_gz))
inst = clock("select_instruments", lambda: sp.mr.select_instruments(ss))
other = ss.assign(beta=ss["beta"] * 0.3 + 0.001)
h = clock("harmonise (all rows)", lambda: sp.mr.harmonise(ss.iloc[:20000], other.iloc[:20000]))
sim = sp.mr.simulate_sumstats(n_variants=100, n_null=2000, seed=1)
hh = sp.mr.harmonise(sp.mr.select_instruments(sim.exposure), sim.outcome)
new = hasattr(sp.mr, "analyze")
kw = {"n_boot": 1000} if new else {"nboot": 1000}
run = sp.mr.analyze if new else sp.mr.analyse
res = clock("analyze (k ~ 100, n_boot 1000, PRESSO 1000)",
            lambda: run(hh, methods="default", seed=1, presso_n_dist=1000, **kw))
clock("summary + HTML", lambda: (res.summary(), res._repr_html_()))
out["_nsnp"] = res.nsnp
print(json.dumps(out))
"""


def make_files(tmp: Path, n_rows: int) -> tuple[Path, Path]:
    import gzip

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    beta = rng.normal(0, 0.01, n_rows)
    beta[: n_rows // 5000] += rng.choice([-1, 1], n_rows // 5000) * 0.05
    se = np.full(n_rows, 0.005)
    df = pd.DataFrame(
        {
            "SNP": [f"rs{i}" for i in range(n_rows)],
            "chr": (np.arange(n_rows) % 22) + 1,
            "pos": np.arange(n_rows) * 1000,
            "effect_allele": rng.choice(list("AC"), n_rows),
            "other_allele": rng.choice(list("GT"), n_rows),
            "eaf": rng.uniform(0.05, 0.95, n_rows).round(4),
            "beta": beta.round(6),
            "se": se,
            "pval": np.nan,
            "samplesize": 100000,
        }
    )
    from scipy import stats

    df["pval"] = 2 * stats.norm.sf(np.abs(df["beta"] / df["se"]))
    path = tmp / "sumstats.tsv"
    df.to_csv(path, sep="\t", index=False)
    path_gz = tmp / "sumstats.tsv.gz"
    with open(path, "rb") as src, gzip.open(path_gz, "wb", compresslevel=3) as dst:
        dst.write(src.read())
    return path, path_gz


def extract(commit: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "src.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "archive", commit, "src"], cwd=REPO, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def run(src: Path, files: tuple[Path, Path], n_rows: int) -> dict[str, float]:
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", TIMED, str(files[0]), str(files[1]), str(n_rows)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--before", default="0618316", help="commit before the redesign")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    n_rows = 200_000 if args.quick else 1_000_000
    repeats = args.repeats or (2 if args.quick else 3)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = make_files(tmp, n_rows)
        old_src = extract(args.before, tmp / "before")
        best: dict[str, dict[str, float]] = {"before": {}, "now": {}}
        for _ in range(repeats):
            for label, src in (("before", old_src), ("now", REPO / "src")):
                for k, v in run(src, files, n_rows).items():
                    best[label][k] = min(v, best[label].get(k, float("inf")))
    print(f"rows: {n_rows:,}; best of {repeats}; before = {args.before}\n")
    print("| step | before | now | now / before |")
    print("|---|---|---|---|")
    for k in best["now"]:
        if k.startswith("_"):
            continue
        b, n = best["before"][k], best["now"][k]
        print(f"| {k} | {b:.3f} s | {n:.3f} s | {n / b:.2f} |")


if __name__ == "__main__":
    main()
