"""The analysis results follow the result contract (sleeppain.results): schema, glance,
text summary, escaped HTML, and read-only outputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning, ConvergenceWarning
from sleeppain.results import TIDY_COLUMNS, ResultMixin

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    sim = sp.simulate.diary(40, 10, seed=2)
    df = sim.data.rename(columns={"sleep_quality": HOSTILE})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        lmm = sp.crosslag(df, id="id", day="day", sleep=HOSTILE, pain="pain", asymmetric=True)
        gee = sp.crosslag(df, id="id", day="day", sleep=HOSTILE, pain="pain", estimator="gee")
        cmp = lmm.compare(n_boot=10, seed=1, progress=False)
    return {
        "crosslag_lmm": lmm,
        "crosslag_gee": gee,
        "gee_fit": gee.sleep_to_pain,
        "comparison": cmp,
        "person_slopes": lmm.person_effects(),
    }


NAMES = ["crosslag_lmm", "crosslag_gee", "gee_fit", "comparison", "person_slopes"]


@pytest.mark.parametrize("name", NAMES)
def test_contract(results: dict[str, object], name: str) -> None:
    res = results[name]
    assert isinstance(res, ResultMixin)
    tidy = res.tidy()
    assert list(tidy.columns[: len(TIDY_COLUMNS)]) == list(TIDY_COLUMNS)
    glance = res.glance()
    assert isinstance(glance, pd.DataFrame) and len(glance) >= 1
    text = res.summary()
    assert isinstance(text, str) and text
    html = res._repr_html_()
    assert "<script>" not in html
    assert isinstance(res.to_markdown(), str)
    # mutating what is handed out does not change the result
    tidy.iloc[:, 1] = 99.0
    glance[glance.columns[0]] = "changed"
    assert not np.allclose(res.tidy()["estimate"].to_numpy(float), 99.0)
    assert not (res.glance().iloc[:, 0].astype(str) == "changed").any()


def test_crosslag_outputs_are_copies(results: dict[str, object]) -> None:
    res = results["crosslag_lmm"]
    eff = res.effects()
    eff.iloc[0, 0] = 99.0
    assert res.effects().iloc[0, 0] != 99.0
    with pytest.raises(TypeError):
        res.frames[("x", "y")] = None  # type: ignore[index]
    gee = results["gee_fit"]
    f = gee.fixef
    f.iloc[0] = 99.0
    assert gee.fixef.iloc[0] != 99.0
    cmp = results["comparison"]
    with pytest.raises(ValueError):
        next(iter(cmp.draws.values()))[0, 0] = 1.0
    tab = cmp.table
    tab.iloc[0, 0] = 99.0
    assert cmp.table.iloc[0, 0] != 99.0


def test_crosslag_tidy_has_direction_context(results: dict[str, object]) -> None:
    tidy = results["crosslag_lmm"].tidy()
    assert {"direction", "sleep", "label"} <= set(tidy.columns)
    assert set(tidy["direction"]) == {"sleep->pain", "pain->sleep"}


def test_model_frames_are_read_only(results: dict[str, object]) -> None:
    res = results["crosslag_lmm"]
    key = next(iter(res.frames))
    mf = res.frames[key]
    before = res.effects()
    frame = mf.frame
    frame.iloc[:, 3] = 99.0
    with pytest.raises(ValueError):
        mf.outcome_within[0] = 1.0
    with pytest.raises(TypeError):
        mf.labels["x"] = "y"  # type: ignore[index]
    res._cache.clear()
    pd.testing.assert_frame_equal(res.effects(), before)
