"""Behaviour of sp.glmm: input checks, stages, result contract (reference values elsewhere)."""

from __future__ import annotations

import dataclasses
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import sleeppain as sp
from sleeppain.errors import (
    ConvergenceWarning,
    DataDropWarning,
    DataStructureError,
    SpecificationError,
)
from sleeppain.mixed.generalized import (
    GlmmControl,
    SeparationWarning,
    glmm_objective,
    glmm_problem,
)
from sleeppain.mixed.pirls import BlockProblem, SparseProblem, agq, laplace, laplace_gradient
from sleeppain.results import TIDY_COLUMNS

#: Two evaluators of one Laplace deviance (closed-form agreement up to rounding).
SAME_RTOL = 1e-10
#: Analytic gradient against central differences (step 1e-6 on an objective ~1e3).
GRAD_ATOL = 1e-4


def _diary(n_persons: int = 60, n_days: int = 12, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n_persons), n_days)
    poor = rng.binomial(1, 0.35, size=pid.size).astype(float)
    stress = rng.normal(size=pid.size)
    b0 = rng.normal(0, 0.9, n_persons)[pid]
    b1 = rng.normal(0, 0.5, n_persons)[pid]
    eta = -0.8 + 0.7 * poor + 0.3 * stress + b0 + b1 * poor
    return pd.DataFrame(
        {
            "id": pid,
            "poor_night": poor,
            "stress": stress,
            "flare": rng.binomial(1, expit(eta)),
            "wakings": rng.poisson(np.exp(0.2 + 0.3 * stress + 0.5 * b0)),
        }
    )


@cache
def _binary_fit() -> sp.GlmmResult:
    return sp.glmm("flare ~ poor_night + stress + (1 + poor_night | id)", _diary())


# -- bad input ------------------------------------------------------------------------------


def test_binomial_outside_support_names_rows() -> None:
    d = _diary().set_index(pd.Index([f"r{i}" for i in range(720)]))
    d.loc["r17", "flare"] = 2
    with pytest.raises(DataStructureError, match=r"0/1 response.*'r17'"):
        sp.glmm("flare ~ poor_night + (1 | id)", d)


def test_negative_count_names_rows() -> None:
    d = _diary()
    d.loc[[3, 40], "wakings"] = -1
    with pytest.raises(DataStructureError, match=r"whole-number counts.*rows 3, 40"):
        sp.glmm("wakings ~ stress + (1 | id)", d, family="poisson")


def test_successes_above_trials_names_rows() -> None:
    d = _diary().assign(n=3, k=lambda x: x.wakings)
    d.loc[5, "k"] = 4
    d.loc[5, "wakings"] = 4
    with pytest.raises(DataStructureError, match=r"between 0 and the trials; rows 5"):
        sp.glmm("k ~ stress + (1 | id)", d, trials="n")


def test_separation_warns_and_names_term() -> None:
    d = _diary()
    d["always"] = (np.arange(len(d)) % 7 == 0).astype(float)
    d.loc[d["always"] == 1, "flare"] = 1
    with pytest.warns(SeparationWarning, match="'always'"):
        sp.glmm("flare ~ always + (1 | id)", d)


def test_nagq_refused_with_more_than_one_random_effect() -> None:
    d = _diary()
    with pytest.raises(SpecificationError, match="single, scalar random-effects term"):
        sp.glmm("flare ~ poor_night + (1 + poor_night | id)", d, nagq=5)
    with pytest.raises(SpecificationError, match="single, scalar random-effects term"):
        sp.glmm("flare ~ poor_night + (1 | id) + (0 + stress | id)", d, nagq=5)


@pytest.mark.parametrize("bad", [0, 1.5, True, "5"])
def test_nagq_must_be_whole_number(bad: object) -> None:
    with pytest.raises(SpecificationError, match="nagq"):
        sp.glmm("flare ~ poor_night + (1 | id)", _diary(), nagq=bad)  # type: ignore[arg-type]


def test_unknown_family() -> None:
    with pytest.raises(SpecificationError, match="family='gaussian'"):
        sp.glmm("flare ~ poor_night + (1 | id)", _diary(), family="gaussian")  # type: ignore[arg-type]


def test_non_convergence_reports_optimiser_and_pirls_records() -> None:
    with pytest.warns(ConvergenceWarning, match=r"Optimiser: L-BFGS-B.*PIRLS at the end"):
        fit = sp.glmm(
            "flare ~ poor_night + stress + (1 + poor_night | id)",
            _diary(),
            control=GlmmControl(maxiter=1),
        )
    assert not fit.converged
    assert fit.record.iterations <= 2
    assert "pirls_converged" in fit.record.to_frame()["item"].tolist()


def test_missing_rows_dropped_and_counted() -> None:
    d = _diary()
    d.loc[[1, 2, 3], "stress"] = np.nan
    with pytest.warns(DataDropWarning, match="3 row"):
        fit = sp.glmm("flare ~ stress + (1 | id)", d)
    acc = fit.accounting
    assert acc.n_input == len(d) and acc.n_used == len(d) - 3
    assert sum(c for _, c in acc.dropped) == acc.n_dropped


def test_missing_trials_counted() -> None:
    d = _diary().assign(n=3, k=lambda x: np.minimum(x.wakings, 3))
    d.loc[0, "n"] = np.nan
    with pytest.warns(DataDropWarning, match="'n'"):
        gp = glmm_problem("k ~ stress + (1 | id)", d, trials="n")
    assert gp.accounting.n_used == len(d) - 1
    assert gp.accounting.dropped[0] == ("missing or non-finite 'n'", 1)


# -- stages ------------------------------------------------------------------------------


def test_block_and_sparse_evaluators_agree() -> None:
    gp = glmm_problem("flare ~ poor_night + stress + (1 + poor_night | id)", _diary())
    block = gp.problem
    assert isinstance(block, BlockProblem)
    sparse_prob = SparseProblem(
        X=block.X,
        Z=gp.design.Z(),
        terms=tuple((t.nlevels, t.ncols) for t in gp.design.terms),
        cond=block.cond,
    )
    theta, beta = np.array([0.8, -0.2, 0.4]), np.array([-0.7, 0.6, 0.2])
    a = laplace(block, theta, beta)
    b = laplace(sparse_prob, theta, beta)
    assert a.objective == pytest.approx(b.objective, rel=SAME_RTOL)


def test_agq_with_one_node_is_laplace() -> None:
    gp = glmm_problem("flare ~ poor_night + (1 | id)", _diary())
    theta, beta = np.array([0.9]), np.array([-0.6, 0.5])
    val, st = agq(gp.problem, theta, beta, 1)  # type: ignore[arg-type]
    assert val == pytest.approx(st.objective, rel=SAME_RTOL)


@pytest.mark.parametrize(
    ("formula", "family"),
    [
        ("flare ~ poor_night + stress + (1 + stress | id)", "binomial"),
        ("wakings ~ stress + (1 | id) + (0 + poor_night | id)", "poisson"),
    ],
)
def test_analytic_gradient_matches_central_differences(formula: str, family: str) -> None:
    gp = glmm_problem(formula, _diary(), family=family)
    nt, p = gp.ntheta, gp.design.p
    x0 = np.concatenate([np.linspace(0.9, 0.3, nt), np.full(p, 0.1)])
    if nt == 3:
        x0[1] = -0.2

    def f(v: np.ndarray) -> float:
        return glmm_objective(gp, v[:nt], v[nt:])[0]

    _, st = glmm_objective(gp, x0[:nt], x0[nt:])
    g = laplace_gradient(gp.problem, x0[:nt], x0[nt:], st)  # type: ignore[arg-type]
    h = 1e-6
    fd = np.array([(f(x0 + e) - f(x0 - e)) / (2 * h) for e in np.eye(x0.size) * h])
    np.testing.assert_allclose(g, fd, atol=GRAD_ATOL)


def test_weights_as_proportions_equal_trials() -> None:
    d = _diary().assign(n=4, k=lambda x: np.minimum(x.wakings, 4))
    d["prop"] = d["k"] / d["n"]
    a = glmm_problem("k ~ stress + (1 | id)", d, trials="n")
    b = glmm_problem("prop ~ stress + (1 | id)", d, weights="n")
    theta, beta = np.array([0.7]), np.array([-0.5, 0.3])
    assert glmm_objective(a, theta, beta)[0] == pytest.approx(
        glmm_objective(b, theta, beta)[0], rel=SAME_RTOL
    )


def test_row_order_does_not_change_the_fit() -> None:
    d = _diary()
    fit = sp.glmm("flare ~ poor_night + (1 | id)", d)
    shuffled = d.sample(frac=1.0, random_state=3)
    fit2 = sp.glmm("flare ~ poor_night + (1 | id)", shuffled)
    assert fit2.objective == pytest.approx(fit.objective, abs=1e-6)
    np.testing.assert_allclose(fit2.beta, fit.beta, atol=1e-4)


def test_crossed_random_effects_use_the_sparse_path() -> None:
    d = _diary()
    d["day"] = np.tile(np.arange(12), 60)
    gp = glmm_problem("flare ~ poor_night + (1 | id) + (1 | day)", d)
    assert isinstance(gp.problem, SparseProblem)
    fit = sp.glmm("flare ~ poor_night + (1 | id) + (1 | day)", d)
    assert fit.converged
    assert set(fit.varcorr()["group"]) == {"id", "day"}


# -- result contract ------------------------------------------------------------------------


def test_tidy_schema_and_odds_ratios() -> None:
    fit = _binary_fit()
    t = fit.tidy()
    assert tuple(t.columns[:8]) == TIDY_COLUMNS
    assert t["term"].tolist() == ["Intercept", "poor_night", "stress"]
    assert np.allclose(t["statistic"], t["estimate"] / t["std_error"])
    o = fit.tidy(exponentiate=True)
    np.testing.assert_allclose(o["estimate"], np.exp(t["estimate"]))
    np.testing.assert_allclose(o["conf_low"], np.exp(t["conf_low"]))
    np.testing.assert_allclose(o["std_error"], np.exp(t["estimate"]) * t["std_error"])
    allp = fit.tidy(effects="all")
    assert allp["term"].tolist()[-3:] == [
        "sd__Intercept",
        "sd__poor_night",
        "cor__Intercept.poor_night",
    ]


def test_predict_link_response_and_new_levels() -> None:
    fit = _binary_fit()
    d = _diary()
    link = fit.predict()
    np.testing.assert_allclose(fit.predict(type="response"), expit(link))
    np.testing.assert_allclose(fit.predict(d, type="link"), link, atol=1e-12)
    new = d.iloc[:3].assign(id=-1)
    pop = fit.predict(new, include_random=False)
    np.testing.assert_allclose(fit.predict(new), pop)
    np.testing.assert_allclose(
        pop, fit.beta[0] + d.iloc[:3][["poor_night", "stress"]] @ fit.beta[1:]
    )
    with pytest.raises(SpecificationError, match="type"):
        fit.predict(type="probability")  # type: ignore[arg-type]


def test_glance_summary_and_renderings() -> None:
    fit = _binary_fit()
    g = fit.glance()
    assert len(g) == 1
    row = g.iloc[0]
    assert row["logLik"] == pytest.approx(-fit.objective / 2)
    assert row["AIC"] == pytest.approx(fit.objective + 2 * 6)
    assert row["deviance"] == pytest.approx(fit.objective)
    text = fit.summary()
    for piece in ("Laplace Approximation", "Random effects:", "Fixed effects:", "poor_night"):
        assert piece in text
    assert "<table" in fit._repr_html_()
    assert "Fixed effects" in fit.to_markdown()
    vc = fit.varcorr()
    assert vc["sd"].notna().sum() == 2 and vc["corr"].notna().sum() == 1
    re = fit.ranef()
    assert len(re) == 2 * 60


def test_result_is_immutable() -> None:
    fit = _binary_fit()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.beta = np.zeros(3)  # type: ignore[misc]
    fe = fit.fixef
    fe.iloc[0] = 99.0
    assert fit.fixef.iloc[0] != 99.0
    v = fit.vcov
    v.iloc[0, 0] = -1.0
    assert fit.vcov.iloc[0, 0] > 0


def test_poisson_rate_ratios_and_response() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = sp.glmm("wakings ~ stress + (1 | id)", _diary(), family="poisson")
    assert fit.link == "log"
    np.testing.assert_allclose(fit.fitted(), np.exp(fit.eta))
    rr = fit.tidy(exponentiate=True)
    assert rr["estimate"].iloc[1] == pytest.approx(np.exp(fit.beta[1]))


def test_contrast_is_a_wald_z_test() -> None:
    fit = _binary_fit()
    row = fit.contrast({"poor_night": 1.0, "stress": -1.0}).iloc[0]
    v = fit.vcov
    se = np.sqrt(v.iloc[1, 1] + v.iloc[2, 2] - 2 * v.iloc[1, 2])
    assert row["estimate"] == pytest.approx(fit.beta[1] - fit.beta[2])
    assert row["std_error"] == pytest.approx(se)
    assert row["df"] == np.inf
    with pytest.raises(SpecificationError, match="unknown fixed effects"):
        fit.contrast({"sleep": 1.0})
