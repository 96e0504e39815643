"""Diagnostic figures of mixed-model results (``plot()``), after lme4's ``plot(fit)`` and
``lattice::dotplot(ranef(fit, condVar = TRUE))``.

The figure is checked for what it must show: a residuals-vs-fitted panel whose points are
the result's own residuals and fitted values, and one caterpillar panel per random effect
whose points are the conditional modes in sorted order, with interval half-widths
``z * std_error`` where conditional variances exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sleeppain as sp

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: drawn coordinates are the computed floats
ATOL_DRAWN = 1e-12


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(24), 8)
    x = rng.normal(size=g.size)
    u0, u1 = rng.normal(size=24)[g], 0.5 * rng.normal(size=24)[g]
    y = 1 + 0.5 * x + u0 + u1 * x + rng.normal(size=g.size)
    return pd.DataFrame(
        {
            "id": g,
            "x": x,
            "y": y,
            "flare": (y > 1.2).astype(int),
            "level": np.digitize(y + rng.logistic(size=g.size), [0.0, 1.5, 3.0]),
        }
    )


def _scatter_points(ax) -> np.ndarray:
    return np.asarray(ax.collections[0].get_offsets())


def _caterpillar_points(ax) -> np.ndarray:
    return np.asarray(ax.lines[0].get_xydata())


def test_lmm_plot(data):
    fit = sp.lmm("y ~ x + (1 + x | id)", data)
    fig = fit.plot()
    assert isinstance(fig, Figure)
    res_ax, *cat_axes = [ax for ax in fig.axes if ax.get_visible()]
    assert res_ax.get_xlabel() == "Fitted values" and res_ax.get_ylabel() == "Residuals"
    pts = _scatter_points(res_ax)
    np.testing.assert_allclose(pts[:, 0], fit.fitted().to_numpy(), atol=ATOL_DRAWN)
    np.testing.assert_allclose(pts[:, 1], fit.residuals().to_numpy(), atol=ATOL_DRAWN)
    assert len(cat_axes) == 2  # intercept and slope of id
    re = fit.ranef()
    z = stats.norm.ppf(0.975)
    for ax, term in zip(cat_axes, ["Intercept", "x"], strict=True):
        assert ax.get_xlabel() == "Conditional mode" and "id" in ax.get_ylabel()
        assert ax.get_title().startswith(f"{term} | id") and "95%" in ax.get_title()
        sub = re[re.term == term].sort_values("estimate", kind="stable")
        np.testing.assert_allclose(
            _caterpillar_points(ax)[:, 0], sub.estimate.to_numpy(), atol=ATOL_DRAWN
        )
        (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
        half = np.array([abs(seg[1, 0] - seg[0, 0]) / 2 for seg in bars.get_segments()])
        np.testing.assert_allclose(half, z * sub.std_error.to_numpy(), rtol=1e-10)


def test_glmm_plot_pearson_residuals(data):
    fit = sp.glmm("flare ~ x + (1 | id)", data)
    fig = fit.plot(conf_level=0.9)
    res_ax, cat_ax = fig.axes
    assert res_ax.get_ylabel() == "Pearson residuals"
    mu = fit.fitted().to_numpy()
    pearson = (fit.y - mu) / np.sqrt(mu * (1 - mu))
    np.testing.assert_allclose(fit.residuals().to_numpy(), pearson, rtol=1e-12)
    np.testing.assert_allclose(_scatter_points(res_ax)[:, 1], pearson, atol=ATOL_DRAWN)
    assert "90%" in cat_ax.get_title()
    assert any(isinstance(c, LineCollection) for c in cat_ax.collections)  # intervals


def test_clmm_plot_points_without_intervals(data):
    fit = sp.clmm("level ~ x + (1 | id)", data)
    fig = fit.plot()
    res_ax, cat_ax = fig.axes
    assert res_ax.get_xlabel() == "Expected category score"
    probs = fit.predict(type="prob").to_numpy()
    expected = probs @ np.arange(probs.shape[1])
    np.testing.assert_allclose(_scatter_points(res_ax)[:, 0], expected, atol=ATOL_DRAWN)
    np.testing.assert_allclose(fit.residuals().to_numpy(), fit.y - expected, rtol=1e-12)
    assert "no conditional variances" in cat_ax.get_title()
    assert cat_ax.get_xlabel() == "Conditional mode"


def test_plot_refuses_bad_conf_level(data):
    fit = sp.lmm("y ~ x + (1 | id)", data)
    with pytest.raises(ValueError, match="conf_level"):
        fit.plot(conf_level=95)
