"""sp.anova hands cohort-panel fits (sp.clpm / sp.riclpm) to sp.panel.anova_panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import SpecificationError


@pytest.fixture(scope="module")
def panel_fits() -> tuple[sp.PanelResult, sp.PanelResult]:
    rng = np.random.default_rng(4)
    df = pd.DataFrame(
        rng.normal(size=(150, 6)) + rng.normal(size=(150, 1)),
        columns=["x1", "x2", "x3", "y1", "y2", "y3"],
    )
    kw = {"x": ["x1", "x2", "x3"], "y": ["y1", "y2", "y3"]}
    return sp.riclpm(df, **kw), sp.clpm(df, **kw)


def test_anova_of_panel_fits_is_anova_panel(panel_fits) -> None:
    ri, cl = panel_fits
    got = sp.anova(ri, cl, names=["RI-CLPM", "CLPM"])
    want = sp.panel.anova_panel(ri, cl, names=["RI-CLPM", "CLPM"])
    pd.testing.assert_frame_equal(got, want)
    assert got["Df diff"].tolist()[1] == 3.0


def test_anova_refuses_mixed_kinds_of_fits(panel_fits) -> None:
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(20), 5)
    df = pd.DataFrame({"id": g, "y": rng.normal(size=20)[g] + rng.normal(size=100)})
    fit = sp.lmm("y ~ 1 + (1 | id)", df)
    with pytest.raises(SpecificationError, match="only be compared with other panel fits"):
        sp.anova(panel_fits[0], fit)
    with pytest.raises(SpecificationError, match=r"refit= is an option of sp\.lmm"):
        sp.anova(*panel_fits, refit=False)
