"""Quoted column names in mixed-model formulas, and plain values in error messages.

patsy's ``Q('pain score')`` and R's (formulaic's) backticks `` `pain score` `` name columns
that are not identifiers, in the response, the fixed part, a random-effect expression and
a grouping factor, for ``sp.lmm``, ``sp.glmm`` and ``sp.clmm``. Reference: the same model
fitted on the data with the columns renamed to identifiers must give the same estimates
(the renaming is the only difference, so agreement is to rounding, ``RTOL_SAME``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.mixed._format import plain

#: same data, same model, only column names differ: identical arithmetic up to rounding
RTOL_SAME = 1e-8


@pytest.fixture(scope="module")
def spaced() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(30), 8)
    x = rng.normal(size=g.size)
    u = rng.normal(size=30)[g]
    y = 1.0 + 0.8 * x + u + rng.normal(size=g.size)
    return pd.DataFrame(
        {
            "person id": g,
            "sleep q": x,
            "pain score": y,
            "flare day": (y > 1.5).astype(int),
            "pain level": np.digitize(y, [0.0, 1.0, 2.0]),
        }
    )


def _plain_names(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns=lambda c: c.replace(" ", "_"))


@pytest.mark.parametrize(
    "formula",
    [
        "Q('pain score') ~ Q('sleep q') + (1 + Q('sleep q') | Q('person id'))",
        "`pain score` ~ `sleep q` + (1 + `sleep q` | `person id`)",
        "Q(\"pain score\") ~ `sleep q` + (1 + Q('sleep q') | `person id`)",
    ],
)
def test_lmm_quoted_everywhere_matches_renamed_fit(spaced, formula):
    fit = sp.lmm(formula, spaced)
    ref = sp.lmm("pain_score ~ sleep_q + (1 + sleep_q | person_id)", _plain_names(spaced))
    np.testing.assert_allclose(fit.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=RTOL_SAME)
    np.testing.assert_allclose(fit.theta, ref.theta, rtol=1e-6, atol=1e-8)
    assert list(fit.fixef.index) == ["Intercept", "sleep q"]
    assert fit.design.terms[0].group == "person id"
    # predictions for new data with the user's column names
    pred = fit.predict(spaced.head(5))
    np.testing.assert_allclose(pred.to_numpy(), fit.fitted().to_numpy()[:5], rtol=1e-10)


def test_glmm_quoted_names(spaced):
    fit = sp.glmm("Q('flare day') ~ `sleep q` + (1 | Q('person id'))", spaced)
    ref = sp.glmm("flare_day ~ sleep_q + (1 | person_id)", _plain_names(spaced))
    np.testing.assert_allclose(fit.tidy()["estimate"], ref.tidy()["estimate"], rtol=1e-6)
    assert list(fit.tidy()["term"]) == ["Intercept", "sleep q"]
    p = fit.predict(spaced.head(3), type="response")
    np.testing.assert_allclose(p.to_numpy(), fit.predict(type="response").to_numpy()[:3])


def test_clmm_quoted_names(spaced):
    fit = sp.clmm("`pain level` ~ Q('sleep q') + (1 | `person id`)", spaced)
    ref = sp.clmm("pain_level ~ sleep_q + (1 | person_id)", _plain_names(spaced))
    np.testing.assert_allclose(fit.tidy()["estimate"], ref.tidy()["estimate"], rtol=1e-6)
    assert "sleep q" in set(fit.tidy()["term"])


def test_quoted_name_not_a_column(spaced):
    with pytest.raises(sp.SpecificationError, match=r"quotes 'pain scor'.*Did you mean"):
        sp.lmm("Q('pain scor') ~ 1 + (1 | Q('person id'))", spaced)


def test_identifier_in_quotes_is_plain():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(10), 6)
    df = pd.DataFrame({"y": rng.normal(size=60) + 2 * rng.normal(size=10)[g], "g": g})
    a = sp.lmm("`y` ~ 1 + (1 | Q('g'))", df)
    b = sp.lmm("y ~ 1 + (1 | g)", df)
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=RTOL_SAME)


@pytest.mark.parametrize(
    ("verb", "value", "shown"),
    [("clmm", 3.0, "is 3)"), ("glmm", 1.0, "is 1)"), ("lmm", 2.5, "is 2.5)")],
)
def test_constant_response_names_the_users_value(verb, value, shown):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"id": np.repeat(np.arange(20), 8), "sleep_quality": rng.normal(size=160)}
    ).assign(y=value)
    with pytest.raises(sp.DataStructureError) as info:
        getattr(sp, verb)("y ~ sleep_quality + (1|id)", df)
    msg = str(info.value)
    assert shown in msg and "np." not in msg and "needs variation" in msg


def test_plain_formats_numpy_scalars():
    assert plain(np.float64(3.0)) == "3"
    assert plain(np.float32(0.25)) == "0.25"
    assert plain(np.int64(-4)) == "-4"
    assert plain("a b") == "'a b'"
    assert plain(pd.Timestamp("2024-03-02")) == "2024-03-02"
    assert plain(float("nan")) == "nan"


def test_quoted_names_with_a_residual_correlation(spaced):
    df = spaced.assign(t=np.tile(np.arange(8), 30))
    fit = sp.lmm("Q('pain score') ~ `sleep q` + (1 | `person id`)", df, correlation="ar1", time="t")
    ref = sp.lmm(
        "pain_score ~ sleep_q + (1 | person_id)", _plain_names(df), correlation="ar1", time="t"
    )
    np.testing.assert_allclose(fit.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=1e-6)
    assert list(fit.fixef.index) == ["Intercept", "sleep q"]
