"""Difference tests of the extensions against lmerTest 3.1.3's ``contest`` (R 4.2.2).

Reference: tests/reference/contest/contest_lmertest.R on the frames written by
tests/reference/contest/make_contest_data.py (asymmetric nights, time of day).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.analysis._models import contrast

REF = Path(__file__).resolve().parents[1] / "reference" / "contest"
#: derived SEs and df (numDeriv Richardson in lmerTest vs our differences): house tier
DERIVED_RTOL = 1e-3
#: the optimum: objective within 1e-3 of lme4's REML criterion
OBJECTIVE_ATOL = 1e-3

CASES = json.loads((REF / "contest_lmertest.json").read_text())["cases"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_difference_uses_satterthwaite_df_of_the_contrast(name: str) -> None:
    ref = CASES[name]
    data = pd.read_csv(REF / f"{name}.csv")
    fit = sp.lmm(ref["formula"], data)
    assert abs(fit.objective - ref["reml_criterion"]) < OBJECTIVE_ATOL
    got = contrast(fit, ref["term_a"], ref["term_b"], 0.95)
    for key in ("estimate", "std_error", "df", "statistic", "p_value"):
        np.testing.assert_allclose(got[key], ref[key], rtol=DERIVED_RTOL, err_msg=key)
    # the old rule (the smaller coefficient df) is far from lmerTest's contrast df
    assert ref["df"] > 2 * min(ref["df_a"], ref["df_b"])
    half = got["conf_high"] - got["estimate"]
    from scipy import stats

    np.testing.assert_allclose(half, stats.t.ppf(0.975, ref["df"]) * ref["std_error"], rtol=1e-3)
