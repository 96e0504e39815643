"""Behaviour of sp.clmm: response handling, the conditional model, result contract."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError, SpecificationError
from sleeppain.mixed.ordinal import OrdinalCond, clmm_gradient, clmm_objective, clmm_problem
from sleeppain.results import TIDY_COLUMNS
from tests.conftest import REFERENCE_DIR

WINE = REFERENCE_DIR / "glmer" / "data" / "wine.csv"
#: Score and information against central differences of the log density (step 1e-5).
DERIV_ATOL = 1e-7
#: Exact gradient against central differences (step 1e-6 on an objective ~1e2).
GRAD_ATOL = 1e-5
#: Two codings of one response give one fit (same computations, rounding only).
SAME_RTOL = 1e-8


@cache
def _wine() -> pd.DataFrame:
    return pd.read_csv(WINE)


@cache
def _fit() -> sp.ClmmResult:
    return sp.clmm("rating ~ temp + contact + (1 | judge)", _wine())


def test_conditional_model_derivatives() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, size=50)
    cond = OrdinalCond(y=y, alpha=np.array([-1.0, 0.2, 1.5]))
    eta = rng.normal(scale=2, size=50)
    ll, score, info = cond.evaluate(eta)
    h = 1e-5
    lp, lm = cond.loglik(eta + h), cond.loglik(eta - h)
    np.testing.assert_allclose(score, (lp - lm) / (2 * h), atol=DERIV_ATOL)
    np.testing.assert_allclose(info, -(lp - 2 * ll + lm) / h**2, atol=1e-4)
    assert np.all(info > 0)


def test_probabilities_sum_to_one_and_classes() -> None:
    fit = _fit()
    probs = fit.predict()
    assert list(probs.columns) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    cls = fit.predict(type="class")
    assert set(cls) <= {1, 2, 3, 4, 5}
    np.testing.assert_allclose(fit.predict(_wine(), type="link"), fit.predict(type="link"))
    with pytest.raises(SpecificationError, match="type"):
        fit.predict(type="response")  # type: ignore[arg-type]


def test_ordered_categorical_response_matches_integer_codes() -> None:
    w = _wine().copy()
    labels = ["awful", "poor", "fair", "good", "great"]
    w["rating"] = pd.Categorical(
        [labels[i - 1] for i in w["rating"]], categories=labels, ordered=True
    )
    fit = sp.clmm("rating ~ temp + contact + (1 | judge)", w)
    assert fit.objective == pytest.approx(_fit().objective, rel=SAME_RTOL)
    assert fit.threshold_names[0] == "awful|poor"


def test_unordered_categorical_is_refused() -> None:
    w = _wine().copy()
    w["rating"] = pd.Categorical(w["rating"].astype(str))
    with pytest.raises(DataStructureError, match="unordered categorical"):
        sp.clmm("rating ~ temp + (1 | judge)", w)


def test_specification_errors() -> None:
    with pytest.raises(SpecificationError, match="logit"):
        sp.clmm("rating ~ temp + (1 | judge)", _wine(), link="probit")  # type: ignore[arg-type]
    with pytest.raises(SpecificationError, match="intercept"):
        sp.clmm("rating ~ 0 + temp + (1 | judge)", _wine())


def test_tidy_glance_summary() -> None:
    fit = _fit()
    t = fit.tidy()
    assert tuple(t.columns[:8]) == TIDY_COLUMNS
    assert t["effect"].tolist() == ["threshold"] * 4 + ["fixed"] * 2
    o = fit.tidy(exponentiate=True)
    np.testing.assert_allclose(o["estimate"].iloc[4:], np.exp(t["estimate"].iloc[4:]))
    np.testing.assert_allclose(o["estimate"].iloc[:4], t["estimate"].iloc[:4])
    g = fit.glance().iloc[0]
    assert g["logLik"] == pytest.approx(-fit.objective / 2)
    assert g["npar"] == 7
    text = fit.summary()
    for piece in ("Threshold coefficients:", "Random effects:", "temp[T.warm]"):
        assert piece in text
    assert len(fit.ranef()) == 9
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.alpha = np.zeros(4)  # type: ignore[misc]


@pytest.mark.parametrize(
    "formula",
    ["rating ~ temp + contact + (1 | judge)", "rating ~ temp + contact + (1 + contact | judge)"],
)
def test_exact_gradient_matches_central_differences(formula: str) -> None:
    cp = clmm_problem(formula, _wine())
    nt = cp.design.ntheta
    v = np.concatenate([[-1.5, 1.5, 4.0, 6.0], [3.0, 2.0], [1.2, -0.3, 0.5][:nt]])

    def f(w: np.ndarray) -> float:
        return clmm_objective(cp, w[:4], w[4:6], w[6:])[0]

    _, st = clmm_objective(cp, v[:4], v[4:6], v[6:])
    g = clmm_gradient(cp, v[:4], v[4:6], v[6:], st)
    h = 1e-6
    fd = np.array([(f(v + e) - f(v - e)) / (2 * h) for e in np.eye(v.size) * h])
    np.testing.assert_allclose(g, fd, atol=GRAD_ATOL)
