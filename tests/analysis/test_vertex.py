"""quadratic=True: the kind of vertex, the observed range, and the delta-method interval."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning


def _data(curvature: float, linear: float, seed: int) -> pd.DataFrame:
    """Hours slept i.i.d. around a person mean; next-day pain a parabola in the deviation."""
    rng = np.random.default_rng(seed)
    n, t = 80, 21
    mu = rng.normal(7.0, 0.6, n)
    hours = mu[:, None] + rng.normal(0, 1.0, (n, t))
    dev = hours - hours.mean(axis=1, keepdims=True)
    pain = rng.normal(4.0, 1.0, n)[:, None] + rng.normal(0, 0.8, (n, t))
    # the morning report of day d holds the hours of night d-1, which drive pain of day d
    pain[:, 1:] += linear * dev[:, 1:] + curvature * dev[:, 1:] ** 2
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "day": np.tile(np.arange(t), n),
            "hours": hours.ravel(),
            "pain": pain.ravel(),
        }
    )


def _vertex(df: pd.DataFrame) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = sp.crosslag(df, id="id", day="day", sleep="hours", pain="pain", quadratic=True)
    return res.extensions().set_index("term").loc["vertex"]


def test_negative_curvature_is_a_maximum_not_an_optimum() -> None:
    v = _vertex(_data(-0.4, 0.0, 1))
    assert v["note"].startswith("maximum")
    assert "most next-day pain" in v["label"] and "least" not in v["label"]
    assert v["conf_low"] < v["estimate"] < v["conf_high"]


def test_positive_curvature_is_a_minimum_with_a_delta_method_interval() -> None:
    v = _vertex(_data(0.4, 0.2, 2))
    assert v["note"].startswith("minimum") and "least next-day pain" in v["label"]
    half = 0.5 * (v["conf_high"] - v["conf_low"])
    np.testing.assert_allclose(half, 1.959963984540054 * v["std_error"], rtol=1e-10)


def test_vertex_outside_the_observed_range_is_not_reported() -> None:
    # a nearly straight line: the vertex lies far off the scale (issue 12: -133.5 on 0-9)
    v = _vertex(_data(0.002, 0.5, 3))
    assert np.isnan(v["estimate"]) and np.isnan(v["conf_low"])
    assert "outside the observed range" in v["note"]
    assert "curvature's interval covers 0" in v["note"]
