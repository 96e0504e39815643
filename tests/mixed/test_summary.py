"""The text and HTML summary of a fit read like lmerTest's ``summary(lmer(...))``.

Expected strings were printed by R 4.2.2 with lme4 1.1-31 and lmerTest 3.1-3 (``LANG=C``,
so the legend has ASCII quotes; default ``options(digits = 7)``), e.g.
``summary(lmerTest::lmer(Reaction ~ Days + (Days | Subject), sleepstudy))``. R's trailing
blanks are dropped (``summary()`` right-strips its lines). Where the text depends on the
optimum, only lines whose digits lie inside the engine's tested tolerance (objective within
1e-3, SEs and df rtol 1e-3) are compared exactly.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import BoundaryFitWarning
from sleeppain.mixed import _format as fmt

LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def read_sleepstudy(shared_data):
    path = shared_data / "sleepstudy" / "sleepstudy.csv"
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent")
    return pd.read_csv(path)


@pytest.mark.shared_data
def test_sleepstudy_summary_matches_lmertest(shared_data):
    fit = sp.lmm("Reaction ~ Days + (Days | Subject)", read_sleepstudy(shared_data))
    lines = fit.summary().splitlines()
    # R 4.2.2 / lme4 1.1-31 / lmerTest 3.1-3
    expected_in_order = [
        "REML criterion at convergence: 1743.6",
        "Scaled residuals:",
        "    Min      1Q  Median      3Q     Max",
        "-3.9536 -0.4634  0.0231  0.4634  5.1793",
        "Random effects:",
        " Groups   Name        Variance Std.Dev. Corr",
        "          Days         35.07    5.922   0.07",
        " Residual             654.94   25.592",
        "Number of obs: 180, groups:  Subject, 18",
        "Fixed effects:",
        "            Estimate Std. Error      df t value Pr(>|t|)",
        "(Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***",
        "Days          10.467      1.546  17.000   6.771 3.26e-06 ***",
        "---",
        LEGEND,
        "Correlation of Fixed Effects:",
        "     (Intr)",
        "Days -0.138",
    ]
    pos = [lines.index(e) for e in expected_in_order]
    assert pos == sorted(pos)
    assert lines[0].startswith("Linear mixed model fit by REML. t-tests use Satterthwaite's")
    # R prints " Subject  (Intercept) 612.10   24.741": our optimum's variance is 612.09
    # (rtol 2e-5 from lme4's, inside the optimum tolerance), so compare the layout and the
    # numbers to that tolerance
    row = lines[lines.index(" Groups   Name        Variance Std.Dev. Corr") + 1]
    m = re.fullmatch(r" Subject  \(Intercept\) (\d{3}\.\d\d)   (\d\d\.\d{3})", row)
    assert m is not None, row
    assert float(m.group(1)) == pytest.approx(612.10, abs=0.02)
    assert float(m.group(2)) == pytest.approx(24.741, abs=0.002)
    assert not any(ln != ln.rstrip() for ln in lines)


@pytest.mark.shared_data
def test_sleepstudy_ml_and_random_intercept_summaries(shared_data):
    d = read_sleepstudy(shared_data)
    ml = sp.lmm("Reaction ~ Days + (Days | Subject)", d, reml=False).summary().splitlines()
    assert ml[0].startswith("Linear mixed model fit by maximum likelihood.")
    i = ml.index("     AIC      BIC   logLik deviance df.resid")
    assert ml[i + 1] == "  1763.9   1783.1   -876.0   1751.9      174"
    ri = sp.lmm("Reaction ~ Days + (1 | Subject)", d).summary().splitlines()
    # R 4.2.2 / lme4 1.1-31 / lmerTest 3.1-3: all p-values below eps print as "<2e-16"
    for expected in [
        " Groups   Name        Variance Std.Dev.",
        " Subject  (Intercept) 1378.2   37.12",
        " Residual              960.5   30.99",
        "            Estimate Std. Error       df t value Pr(>|t|)",
        "(Intercept) 251.4051     9.7467  22.8102   25.79   <2e-16 ***",
        "Days         10.4673     0.8042 161.0000   13.02   <2e-16 ***",
        "Days -0.371",
    ]:
        assert expected in ri


def test_formatting_helpers_match_r():
    # R 4.2.2: format.pval(..., digits = 3), format(x, digits = 4), abbreviate(x, 6)
    assert fmt.format_pval([1e-20, 3.26e-06]) == ["< 2e-16", "3.26e-06"]
    assert fmt.format_pval([0.0, 0.566]) == ["<2e-16", "0.566"]
    assert fmt.format_pval([0.0, 1e-300]) == ["<2e-16", "<2e-16"]
    assert fmt.format_pval([8.2825e-58, 0.0123, 0.5]) == ["<2e-16", "0.0123", "0.5000"]
    # sleepstudy's variance components at lme4's optimum (as.data.frame(VarCorr(fit)))
    assert fmt.format_real([612.100158025, 35.071714451, 654.940008260], 4) == [
        "612.10",
        " 35.07",
        "654.94",
    ]
    assert fmt.format_real([24.74065799498, 5.92213765890, 25.59179572168], 4) == [
        "24.741",
        " 5.922",
        "25.592",
    ]
    names = ["(Intercept)", "sleep_w", "pain_w", "sleep_m", "pain_m"]
    assert fmt.abbreviate(names, 6) == ["(Intr)", "slep_w", "pain_w", "slep_m", "pain_m"]
    assert fmt.format_real([-0.0, 0.5], 3) == ["0.0", "0.5"]
    assert fmt.make_unique(["Subject", "Subject", "grp"]) == ["Subject", "Subject.1", "grp"]


def _synthetic(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(30), 20)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=600), "z": rng.normal(size=600)})
    df["y"] = 5 + 3 * df.x + rng.normal(size=30)[g] + 0.3 * rng.normal(size=600)
    return df


def test_tiny_p_values_print_as_r_does():
    fit = sp.lmm("y ~ x + z + (1 | g)", _synthetic())
    p = fit.tidy()["p_value"].to_numpy()
    assert p[1] < 2.2e-16 and p[2] > 0.1  # x is overwhelming, z is noise
    text = fit.summary()
    # no p-value (or anything) in e-17 ... e-999 notation, the old "8.2825e-58" style
    assert re.search(r"e-(1[7-9]|[2-9]\d|\d{3})\b", text) is None
    lines = text.splitlines()
    block = lines[lines.index("Fixed effects:") : lines.index("---")]
    rows = {ln.split()[0]: ln for ln in block[1:]}
    # the other p-value is printed in fixed notation of width <= 6, so R drops the blank
    assert rows["x"].endswith("<2e-16 ***")
    assert re.search(r" 0\.\d+$", rows["z"])
    assert LEGEND in text
    z = fit.with_df("z").summary()
    assert "z value Pr(>|z|)" in z and "<2e-16 ***" in z


def test_blank_before_eps_when_other_p_values_are_wide():
    fit = sp.lmm("y ~ x + z + (1 | g)", _synthetic())
    tab = fit._coef_table()
    tab.iloc[2, -1] = 3.26e-06  # a p-value printed as 3.26e-06 widens the column
    cells, cols, stars = fmt.coefmat_cells(tab.to_numpy(), list(tab.columns))
    assert stars and cols[-1] == ""
    assert [c[-2] for c in cells][1:] == ["< 2e-16", "3.26e-06"]


def test_summary_messages_and_html_escape(diary):
    df = diary.assign(grp=np.arange(len(diary)) % 5, **{"x<b>": diary["x"]})
    df["y"] = df["y"] - df.groupby("grp")["y"].transform("mean")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryFitWarning)
        fit = sp.lmm("y ~ Q('x<b>') + (1 | person) + (1 | grp)", df)
    text = fit.summary()
    lines = text.splitlines()
    assert lines[-2] == "optimizer (scipy TNC) convergence code: 0 (OK)"
    assert lines[-1] == "boundary (singular) fit: see help('isSingular')"
    assert "Number of obs: 300, groups:  person, 25; grp, 5" in text
    page = fit._repr_html_()
    assert "x<b>" not in page and "x&lt;b&gt;" in page
    # the header (formula, criterion), residuals, random, fixed, correlation
    assert page.count("<table") == 5
    assert "Signif. codes:" in page and "boundary (singular) fit" in page
