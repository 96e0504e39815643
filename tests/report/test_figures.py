"""Figures return Axes and draw what the result holds (Agg backend)."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning
from sleeppain.report import plot_diaries, plot_effects, plot_person_slopes, plot_within

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def res_and_diary():
    sim = sp.simulate.diary(40, 14, seed=3)
    d = sp.Diary.from_frame(sim.data, id="id", day="day", sleep="sleep_quality")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sp.crosslag(d, sleep="sleep_quality", pain="pain"), d


def test_plots_return_axes(res_and_diary) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    res, d = res_and_diary
    ax = plot_effects(res, standardized=True)
    assert isinstance(ax, Axes)
    eff = res.effects()
    xs = ax.collections[1].get_offsets()[:, 0]  # the points, top to bottom
    np.testing.assert_allclose(sorted(xs), sorted(eff["std_estimate"]))
    ax = plot_within(res, "sleep->pain", "sleep_quality")
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose((y[-1] - y[0]) / (x[-1] - x[0]), res.sleep_to_pain.fixef["sleep_w"])
    assert isinstance(res.plot_within("pain->sleep"), Axes)
    ax = plot_person_slopes(res.person_effects(), direction="pain->sleep")
    assert sum(p.get_height() for p in ax.patches) == eff.loc["pain->sleep", "n_persons"]
    axes = plot_diaries(d, sleep="sleep_quality", pain="pain", persons=[1, 2])
    # axes name the variable and its range; the person is the panel title
    assert len(axes) == 2 and axes[0].get_ylabel().startswith("pain (")
    assert axes[0].get_title(loc="left") == "person 1"
    assert isinstance(res.plot_effects(), Axes)
    assert isinstance(res.plot_person_slopes("sleep->pain"), Axes)
    plt.close("all")
