"""Build the RAM specification of a CLPM or RI-CLPM (Mulder & Hamaker 2021).

The parameter table mirrors lavaan's: one row per parameter (free or fixed) with ``lhs``,
``op`` (``=~``, ``~``, ``~~``, ``~1``), ``rhs``, an equality ``label`` and the index of the
free parameter it uses (``-1`` when fixed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from sleeppain.panel._engine import RamSpec

__all__ = ["PanelModel", "build_model"]


@dataclass(frozen=True)
class PanelModel:
    """A panel model: the RAM spec, its parameter table and the variable names.

    Attributes
    ----------
    spec : RamSpec
    table : tuple of read-only mappings
        One per parameter: ``lhs, op, rhs, label, par`` (free index or -1), ``matrix``
        (``"A"``, ``"S"``, ``"m"``), ``row``, ``col``, ``value`` (fixed value), ``effect``
        (``"x->y"`` for lagged paths else ``""``), ``wave`` (outcome wave of a lagged path,
        or the wave of a within-person (co)variance; 0 otherwise).
    node_names : tuple of str
        Names of all RAM variables; the first ``spec.n_obs`` are observed.
    free_names : tuple of str
        One name per free parameter (its label, or ``lhs op rhs`` of its first entry).
    kind : str
        ``"clpm"`` or ``"riclpm"``.
    """

    spec: RamSpec
    table: tuple[Mapping[str, Any], ...]
    node_names: tuple[str, ...]
    free_names: tuple[str, ...]
    kind: str
    n_vars: int
    n_waves: int
    n_cov: int


def build_model(
    kind: str,
    names: tuple[str, ...],
    obs_names: list[list[str]],
    wave_labels: list[str],
    covariates: tuple[str, ...],
    constrained: bool,
    cov_mean: np.ndarray,
    cov_cov: np.ndarray,
) -> PanelModel:
    """The RAM model of a (RI-)CLPM with ``k = len(names)`` variables and ``T`` waves.

    ``obs_names[v][t]`` names the observed column of variable ``v`` at wave ``t``; the
    observed variables are ordered variable by variable, then the covariates. Covariates
    (person level, predicting the random intercepts) are exogenous with mean and
    covariance fixed at their sample values (lavaan's ``fixed.x = TRUE``).
    """
    k = len(names)
    T = len(wave_labels)
    c = len(covariates)
    p = k * T + c
    node: list[str] = [obs_names[v][t] for v in range(k) for t in range(T)] + list(covariates)
    obs_idx = [[v * T + t for t in range(T)] for v in range(k)]
    cov_idx = [k * T + j for j in range(c)]
    ri = kind == "riclpm"
    if ri:
        w_idx = [[0] * T for _ in range(k)]
        for v in range(k):
            for t in range(T):
                w_idx[v][t] = len(node)
                node.append(f"w_{names[v]}{wave_labels[t]}")
        ri_idx = []
        for v in range(k):
            ri_idx.append(len(node))
            node.append(f"RI_{names[v]}")
    else:
        w_idx = obs_idx
        ri_idx = []
    n = len(node)
    rows: list[dict] = []
    free_names: list[str] = []
    label_par: dict[str, int] = {}

    def add(matrix, i, j, op, lhs, rhs, *, free=True, value=0.0, label="", effect="", wave=0):
        par = -1
        if free:
            if label and label in label_par:
                par = label_par[label]
            else:
                par = len(free_names)
                free_names.append(label or f"{lhs} {op} {rhs}".replace(" ~1 ", " ~1"))
                if label:
                    label_par[label] = par
        rows.append(
            {
                "lhs": lhs,
                "op": op,
                "rhs": rhs,
                "label": label,
                "par": par,
                "matrix": matrix,
                "row": i,
                "col": j,
                "value": value,
                "effect": effect,
                "wave": wave,
            }
        )

    # measurement part of the RI-CLPM: loadings fixed at 1, observed residual variances 0
    if ri:
        for v in range(k):
            for t in range(T):
                add(
                    "A",
                    obs_idx[v][t],
                    ri_idx[v],
                    "=~",
                    node[ri_idx[v]],
                    node[obs_idx[v][t]],
                    free=False,
                    value=1.0,
                )
        for v in range(k):
            for t in range(T):
                add(
                    "A",
                    obs_idx[v][t],
                    w_idx[v][t],
                    "=~",
                    node[w_idx[v][t]],
                    node[obs_idx[v][t]],
                    free=False,
                    value=1.0,
                )
    # lagged paths between consecutive within-components
    for t in range(1, T):
        for v in range(k):  # outcome
            for u in range(k):  # predictor
                eff = f"{names[u]}->{names[v]}"
                add(
                    "A",
                    w_idx[v][t],
                    w_idx[u][t - 1],
                    "~",
                    node[w_idx[v][t]],
                    node[w_idx[u][t - 1]],
                    label=eff if constrained else "",
                    effect=eff,
                    wave=t + 1,
                )
    # covariates predicting the random intercepts
    for v in range(len(ri_idx)):
        for j in range(c):
            add("A", ri_idx[v], cov_idx[j], "~", node[ri_idx[v]], node[cov_idx[j]])
    # (residual) variances and covariances of the within-components, wave by wave
    for t in range(T):
        for v in range(k):
            for u in range(v + 1):
                add(
                    "S",
                    w_idx[v][t],
                    w_idx[u][t],
                    "~~",
                    node[w_idx[u][t]],
                    node[w_idx[v][t]],
                    wave=t + 1,
                )
    # random intercepts: free variances and covariances
    for v in range(len(ri_idx)):
        for u in range(v + 1):
            add("S", ri_idx[v], ri_idx[u], "~~", node[ri_idx[u]], node[ri_idx[v]])
    # observed residual variances fixed at 0 in the RI-CLPM
    if ri:
        for v in range(k):
            for t in range(T):
                add(
                    "S",
                    obs_idx[v][t],
                    obs_idx[v][t],
                    "~~",
                    node[obs_idx[v][t]],
                    node[obs_idx[v][t]],
                    free=False,
                    value=0.0,
                )
    # covariates: fixed at their sample moments
    for j in range(c):
        for i in range(j + 1):
            add(
                "S",
                cov_idx[j],
                cov_idx[i],
                "~~",
                node[cov_idx[i]],
                node[cov_idx[j]],
                free=False,
                value=float(cov_cov[j, i]),
            )
    # free observed means (intercepts); covariate means fixed
    for v in range(k):
        for t in range(T):
            add("m", obs_idx[v][t], 0, "~1", node[obs_idx[v][t]], "")
    for j in range(c):
        add("m", cov_idx[j], 0, "~1", node[cov_idx[j]], "", free=False, value=float(cov_mean[j]))

    A0 = np.zeros((n, n))
    S0 = np.zeros((n, n))
    m0 = np.zeros(n)
    a, s, m = [], [], []
    for r in rows:
        i, j = r["row"], r["col"]
        if r["par"] < 0:
            if r["matrix"] == "A":
                A0[i, j] = r["value"]
            elif r["matrix"] == "S":
                S0[i, j] = S0[j, i] = r["value"]
            else:
                m0[i] = r["value"]
        elif r["matrix"] == "A":
            a.append((r["par"], i, j))
        elif r["matrix"] == "S":
            s.append((r["par"], i, j))
        else:
            m.append((r["par"], i))

    def cols(lst, width):
        arr = np.array(lst, dtype=np.intp).reshape(-1, width)
        return [arr[:, q].copy() for q in range(width)]

    a_par, a_row, a_col = cols(a, 3)
    s_par, s_row, s_col = cols(s, 3)
    m_par, m_row = cols(m, 2)
    spec = RamSpec(
        n_obs=p,
        n_all=n,
        A0=A0,
        S0=S0,
        m0=m0,
        a_par=a_par,
        a_row=a_row,
        a_col=a_col,
        s_par=s_par,
        s_row=s_row,
        s_col=s_col,
        m_par=m_par,
        m_row=m_row,
        n_par=len(free_names),
    )
    table = tuple(MappingProxyType(r) for r in rows)
    return PanelModel(spec, table, tuple(node), tuple(free_names), kind, k, T, c)
