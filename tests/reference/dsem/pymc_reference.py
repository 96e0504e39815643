"""The sp.dsem model written independently in PyMC (NUTS), run offline.

    python3 -m venv /tmp/pymc-venv && /tmp/pymc-venv/bin/pip install pymc arviz -e .
    /tmp/pymc-venv/bin/python tests/reference/dsem/pymc_reference.py \
        [simulated|paindiary|simulated_hw]

PyMC lives in its own virtual environment (never a dependency of sleeppain). The data
arrays come from sleeppain's own preparation step (``sleeppain.dynamics._arrays.prepare``:
the alternating pain/sleep layout on the internal within-SD scale), so both samplers see
the same numbers; the model, priors and likelihood below are written from the model
description, not from the Gibbs code:

    D[k] = y[k] - mu_(kind k),  k = 2..end_i,
    D[k] = A_k D[k-2] + C_k D[k-1] + e_k,  e_k ~ N(0, sigma2_(kind k)),
    (A, C) = (phi_p, b_sp) at pain positions, (phi_s, b_ps) at sleep positions,
    y[0], y[1] (pre-sample values) ~ N(mu_p, 1), N(mu_s, 1), latent,
    missing y: latent (flat),
    theta_i = (mu_p, mu_s, phi_p, b_sp, phi_s, b_ps)_i ~ N(gamma, Sigma)  (non-centred),
    gamma: flat; Sigma ~ inverse Wishart(q + 2, diag(1, 1, .01, .01, .01, .01))
        (sp.dsem's DsemPriors(covariance="inverse-wishart"));
    or, for ``simulated_hw`` (sp.dsem's default DsemPriors()), Huang & Wand (2013)
        half-t SDs for the person means: a_1, a_2 ~ inverse gamma(1/2, 1/10^2),
        Sigma | a ~ inverse Wishart(2 + q - 1, diag(4/a_1, 4/a_2, .01, .01, .01, .01));
    sigma2 ~ inverse gamma(0.001, 0.001).

Writes pymc_<name>.json: posterior means, SDs and MC standard errors (ArviZ) of the
parameters on the data's units, NUTS settings, divergences and versions.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))

import arviz as az  # noqa: E402
import pymc as pm  # noqa: E402
import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

import sleeppain as sp  # noqa: E402
from sleeppain.dynamics._api import _diary  # noqa: E402
from sleeppain.dynamics._arrays import prepare  # noqa: E402

SIM = dict(
    n=120,
    t=14,
    seed=2024,
    params=dict(
        phi_pain=0.45, phi_sleep=0.3, sleep_to_pain=-0.2, pain_to_sleep=0.0, missing_day_share=0.1
    ),
)


#: the smaller simulated diary of the Huang-Wand reference (NUTS is slow on the funnel)
SIM_HW = dict(
    n=60,
    t=10,
    seed=2025,
    params=dict(
        phi_pain=0.45, phi_sleep=0.3, sleep_to_pain=-0.2, pain_to_sleep=0.0, missing_day_share=0.1
    ),
)


def load(name: str):
    if name in ("simulated", "simulated_hw"):
        s = SIM if name == "simulated" else SIM_HW
        sim = sp.simulate.diary(s["n"], s["t"], seed=s["seed"], round_to_scale=False, **s["params"])
        d = _diary(sim.data, "id", "day", "sleep_quality", None, ["pain", "sleep_quality"])
        return prepare(d, "sleep_quality", "pain", ()), {"pain": "pain", "sleep": "sleep_quality"}
    import pandas as pd

    df = pd.read_csv(ROOT.parent / "shared" / "data" / "paindiary" / "PainDiary.csv")
    d = _diary(df, "Person", "Day", "SleepQual", "previous_night", ["Pain", "SleepQual"])
    return prepare(d, "SleepQual", "Pain", ()), {"pain": "Pain", "sleep": "SleepQual"}


def build(prep, hw: bool = False):
    arr = prep.arrays
    y = arr.y
    n, length = y.shape
    obs = arr.observed
    pos = np.arange(length)
    active = pos[None, :] <= arr.end[:, None]
    miss = active & ~obs
    q = 6
    s0 = np.diag([1.0, 1.0, 0.01, 0.01, 0.01, 0.01])
    nu0 = q + 2
    eq = active & (pos[None, :] >= 2)
    w_pain = eq[:, 2::2].astype(float)
    w_sleep = eq[:, 3::2].astype(float)
    fill = np.where(obs, y, 0.0)
    mi, mk = np.nonzero(miss)
    tril = np.tril_indices(q, -1)
    with pm.Model() as model:
        gamma = pm.Flat("gamma", shape=q)
        log_diag = pm.Flat("log_diag", shape=q)
        off = pm.Flat("off", shape=len(tril[0]))
        chol = pt.zeros((q, q))
        chol = pt.set_subtensor(chol[np.diag_indices(q)], pt.exp(log_diag))
        chol = pt.set_subtensor(chol[tril], off)
        # inverse-Wishart density of Sigma = L L' plus the Jacobian of (log diag, off) -> Sigma
        logdet = 2.0 * pt.sum(log_diag)
        if hw:
            # a_k ~ IG(1/2, 1/10^2) for the two person means; the four slopes keep the
            # fixed scale 0.01 of the inverse Wishart
            a = pm.InverseGamma("a", alpha=0.5, beta=1.0 / 10.0**2, shape=2)
            nu_hw = 2.0
            nu0 = nu_hw + q - 1
            s0_diag = pt.concatenate([2.0 * nu_hw / a, pt.as_tensor(np.full(4, 0.01))])
            linv_s = pt.slinalg.solve_triangular(chol, pt.diag(pt.sqrt(s0_diag)), lower=True)
            # the IW normaliser depends on the scale: (nu0 / 2) log det S0
            iw = (
                0.5 * nu0 * pt.sum(pt.log(s0_diag))
                - 0.5 * (nu0 + q + 1) * logdet
                - 0.5 * pt.sum(linv_s**2)
            )
        else:
            linv_s = pt.slinalg.solve_triangular(chol, np.sqrt(s0), lower=True)
            iw = -0.5 * (nu0 + q + 1) * logdet - 0.5 * pt.sum(linv_s**2)
        jac = pt.sum((q - np.arange(q) + 1) * log_diag)  # 2^q prod L_ii^(q-i+1) * prod L_ii
        pm.Potential("sigma_prior", iw + jac)
        z = pm.Normal("z", 0.0, 1.0, shape=(n, q))
        theta = gamma[None, :] + pt.dot(z, chol.T)
        sig2 = pm.InverseGamma("sigma2", alpha=0.001, beta=0.001, shape=2)
        ymiss = pm.Flat("ymiss", shape=len(mi))
        yy = pt.set_subtensor(pt.as_tensor(fill)[mi, mk], ymiss)
        mu_p, mu_s = theta[:, 0:1], theta[:, 1:2]
        phi_p, b_sp, phi_s, b_ps = theta[:, 2:3], theta[:, 3:4], theta[:, 4:5], theta[:, 5:6]
        p0, p2, p1 = yy[:, 2::2], yy[:, 0 : length - 2 : 2], yy[:, 1 : length - 1 : 2]
        s0_, s2, s1 = yy[:, 3::2], yy[:, 1 : length - 2 : 2], yy[:, 2 : length - 1 : 2]
        ep = (p0 - mu_p) - phi_p * (p2 - mu_p) - b_sp * (p1 - mu_s)
        es = (s0_ - mu_s) - phi_s * (s2 - mu_s) - b_ps * (s1 - mu_p)
        ll = -0.5 * pt.sum(w_pain * ep**2) / sig2[0] - 0.5 * w_pain.sum() * pt.log(sig2[0])
        ll += -0.5 * pt.sum(w_sleep * es**2) / sig2[1] - 0.5 * w_sleep.sum() * pt.log(sig2[1])
        ll += -0.5 * pt.sum((yy[:, 0] - theta[:, 0]) ** 2 + (yy[:, 1] - theta[:, 1]) ** 2)
        pm.Potential("loglik", ll)
        pm.Deterministic("Sigma", pt.dot(chol, chol.T))
    return model


def main(name: str) -> None:
    prep, cols = load(name)
    model = build(prep, hw=name.endswith("_hw"))
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=1000,
            tune=1000,
            chains=4,
            cores=int(os.environ.get("PYMC_CORES", "2")),
            random_seed=20240,
            target_accept=0.9,
            progressbar=False,
            compute_convergence_checks=False,
        )
    seconds = time.perf_counter() - t0
    post = idata.posterior
    sp_, ss = prep.scale
    cp, cs = prep.centre
    gamma = post["gamma"].values  # (chain, draw, 6)
    sigma = post["Sigma"].values
    sig2 = post["sigma2"].values
    terms = {
        "sleep->pain": gamma[..., 3] * sp_ / ss,
        "pain->sleep": gamma[..., 5] * ss / sp_,
        "pain->pain": gamma[..., 2],
        "sleep->sleep": gamma[..., 4],
        f"mean({cols['pain']})": cp + sp_ * gamma[..., 0],
        f"mean({cols['sleep']})": cs + ss * gamma[..., 1],
        f"residual_var({cols['pain']})": sig2[..., 0] * sp_**2,
        f"residual_var({cols['sleep']})": sig2[..., 1] * ss**2,
    }
    mult = np.array([sp_, ss, 1.0, sp_ / ss, 1.0, ss / sp_])
    names = [
        f"mean({cols['pain']})",
        f"mean({cols['sleep']})",
        "pain->pain",
        "sleep->pain",
        "sleep->sleep",
        "pain->sleep",
    ]
    for j, nm in enumerate(names):
        terms[f"sd({nm})"] = np.sqrt(sigma[..., j, j]) * mult[j]
    out = {
        "dataset": name,
        "simulation": {"simulated": SIM, "simulated_hw": SIM_HW}.get(name),
        "priors": "huang-wand" if name.endswith("_hw") else "inverse-wishart",
        "versions": {
            "pymc": pm.__version__,
            "arviz": az.__version__,
            "pytensor": pytensor.__version__,
            "numpy": np.__version__,
        },
        "nuts": {
            "chains": 4,
            "tune": 1000,
            "draws": 1000,
            "target_accept": 0.9,
            "seconds": seconds,
            "divergences": int(idata.sample_stats["diverging"].values.sum()),
        },
        "persons": int(prep.arrays.n_persons),
        "terms": {},
    }
    for t, x in terms.items():
        ds = az.convert_to_dataset(x)
        out["terms"][t] = {
            "mean": float(x.mean()),
            "sd": float(x.std(ddof=1)),
            "mcse_mean": float(az.mcse(ds, method="mean")["x"]),
            "ess_bulk": float(az.ess(ds, method="bulk")["x"]),
            "rhat": float(az.rhat(ds)["x"]),
        }
    path = Path(__file__).with_name(f"pymc_{name}.json")
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "terms"}, indent=1))
    for t, v in out["terms"].items():
        print(t, v)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "simulated")
