"""LmmResult's Satterthwaite df on badly scaled designs, and the cheap scaling check.

Reference: lmerTest 3.1-3 (lme4 1.1-31, R 4.2.2) on the standardised model,
tests/reference/scaling/scaling_refs.json (make_data.py + make_refs.R). Satterthwaite's df
are invariant to the reparametrisation; lmerTest differentiating the uncentred model gives
meaningless df (5.8 under ML, 274 under REML on the narrow data).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning
from sleeppain.mixed import _scaling, build_design, deviance_from_design

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "scaling"
REFS = json.loads((REF_DIR / "scaling_refs.json").read_text())
#: Satterthwaite df against lmerTest 3.1-3 (derived quantities tier).
DF_RTOL = 1e-3
#: moments from cross-products vs row-wise (sums of squares over the rows: rounding only)
MOMENT_RTOL = 1e-8


def _fit(formula: str, df: pd.DataFrame, reml: bool) -> sp.LmmResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        return sp.lmm(formula, df, reml=reml)


@pytest.mark.parametrize("key", sorted(REFS["cases"]))
def test_fit_df_match_lmertest_on_the_standardised_model(key: str) -> None:
    ref = REFS["cases"][key]
    reml = key.endswith("reml")
    df = pd.read_csv(REF_DIR / f"{key.rsplit('_', 1)[0]}.csv")
    fit = _fit("y ~ x + (1 + x | g)", df, reml)
    got = fit.tidy().set_index("term")["df"]
    assert got["x"] == pytest.approx(ref["standardised"]["df"][1], rel=DF_RTOL)
    assert got["Intercept"] == pytest.approx(ref["intercept_df"], rel=DF_RTOL)


def _designs() -> dict[str, object]:
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(25), 8)
    n = len(g)
    df = pd.DataFrame(
        {
            "g": g,
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "big": 1e4 + rng.normal(size=n),
            "tiny": 1e-3 * rng.normal(size=n),
            "z": 3 + rng.normal(size=n),
            "m": rng.normal(size=25)[g],
        }
    )
    forms = {
        "plain": "y ~ x + m + (1 + x | g)",
        "big in X and Z": "y ~ big + (1 + big | g)",
        "big in Z only": "y ~ x + (1 + big | g)",
        "tiny": "y ~ tiny + (1 | g)",
        "no intercept": "y ~ 0 + x + (1 | g)",
        "slope without intercept": "y ~ z + (0 + z | g)",
        "borderline centre": "y ~ z + (1 | g)",
    }
    return {k: build_design(f, df) for k, f in forms.items()}


@pytest.mark.parametrize("name", list(_designs()))
def test_scaling_check_from_block_statistics_equals_the_row_wise_check(name: str) -> None:
    d = _designs()[name]
    stats = deviance_from_design(d, reml=True).stats
    assert _scaling.needs_scaling(d, stats) == _scaling.needs_scaling(d)
    moments = _scaling._moments_from_stats(d, stats)
    if moments is None:  # no intercept column: the row-wise check is used
        assert name == "no intercept"
        return
    (xm, xs), (zm, zs) = moments
    Z = np.column_stack([t.Xi for t in d.terms])
    for (m, s), M in (((xm, xs), d.X), ((zm, zs), Z)):
        mean, sd = M.mean(axis=0), M.std(axis=0)
        np.testing.assert_allclose(m, mean, rtol=MOMENT_RTOL, atol=1e-12)
        # a column only in Z has its SD from E[z^2] - E[z]^2: rounding grows with
        # (mean / sd)^2 (1e8 for "big in Z only", flagged as badly centred either way)
        ratio2 = np.divide(mean**2, sd**2, out=np.zeros_like(sd), where=sd > 0)
        np.testing.assert_allclose(s, sd, rtol=MOMENT_RTOL * np.max(1 + ratio2), atol=1e-9)
