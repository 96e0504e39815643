"""Residual structures of sp.lmm: the statistics stage, the evaluator, bad input, results.

The deviance at fixed parameters is checked against a dense computation of the marginal
likelihood (closed form); optima against nlme are in test_nlme_reference.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import (
    BoundaryFitWarning,
    DataDropWarning,
    DataStructureError,
    SpecificationError,
)
from sleeppain.mixed import build_design
from sleeppain.mixed.fitting import correlated_deviance, residual_data
from sleeppain.mixed.residual import residual_spec

#: deviance at fixed parameters, two exact computations
DEVIANCE_RTOL = 1e-8
#: the same optimum reached from a permuted or re-expressed input
OPT_ATOL = 1e-6
#: analytic gradient against central differences of the criterion (step 1e-5)
GRAD_RTOL = 1e-4


def _diary(n_persons=25, n_days=12, phi=0.5, p_missing=0.2, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_persons):
        e = 0.0
        b0, b1 = rng.normal(), 0.3 * rng.normal()
        for d in range(n_days):
            e = phi * e + np.sqrt(1 - phi**2) * rng.normal()
            x = rng.normal()
            wk = "yes" if d % 7 in (5, 6) else "no"
            sd = 1.5 if wk == "yes" else 1.0
            rows.append((i, d, x, wk, 1 + b0 + (0.5 + b1) * x + sd * e))
    df = pd.DataFrame(rows, columns=["id", "day", "x", "weekend", "y"])
    keep = rng.random(len(df)) > p_missing
    return df[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def diary() -> pd.DataFrame:
    return _diary()


def _dense_deviance(df, x, *, reml, correlation, weights):
    """-2 log-likelihood (or REML criterion) from the dense marginal covariance."""
    d = build_design("y ~ x + (1 + x | id)", df)
    dev = correlated_deviance(
        d,
        residual_data(residual_spec(correlation, "day" if correlation else None, weights), d, df),
        reml=reml,
    )
    theta = x[: dev.ntheta_re]
    phi, delta = dev.resid_params(x)
    T = np.array([[theta[0], 0.0], [theta[1], theta[2]]])
    y, X = d.y, d.X
    codes = d.terms[0].codes
    Z = d.terms[0].Xi
    t = df["day"].to_numpy(float)[d.rows]
    s = (df["weekend"].to_numpy()[d.rows] == "yes").astype(int) if weights else None
    n, p = X.shape
    V = np.zeros((n, n))
    for g in np.unique(codes):
        idx = np.flatnonzero(codes == g)
        Zg = Z[idx]
        R = np.eye(idx.size) if phi is None else phi ** np.abs(np.subtract.outer(t[idx], t[idx]))
        dg = np.ones(idx.size) if s is None else delta[s[idx]]
        V[np.ix_(idx, idx)] = Zg @ T @ T.T @ Zg.T + np.outer(dg, dg) * R
    Vi = np.linalg.inv(V)
    XVX = X.T @ Vi @ X
    beta = np.linalg.solve(XVX, X.T @ Vi @ y)
    r = y - X @ beta
    rss = float(r @ Vi @ r)
    ldV = np.linalg.slogdet(V)[1]
    m = n - p if reml else n
    dev_val = ldV + m * (1 + np.log(2 * np.pi * rss / m))
    if reml:
        dev_val += np.linalg.slogdet(XVX)[1]
    return dev_val, dev, x


@pytest.mark.parametrize(
    ("correlation", "weights", "reml"),
    [
        ("ar1", None, True),
        ("car1", None, False),
        (None, "group:weekend", True),
        ("ar1", "group:weekend", False),
    ],
)
def test_deviance_matches_dense_marginal_likelihood(diary, correlation, weights, reml):
    n_resid = (correlation is not None) + (weights is not None)
    x = np.concatenate([[0.8, -0.2, 0.3], [0.4, 0.3][:n_resid]])
    if correlation == "car1":
        x[3] = -0.5
    want, dev, x = _dense_deviance(diary, x, reml=reml, correlation=correlation, weights=weights)
    assert dev(x) == pytest.approx(want, rel=DEVIANCE_RTOL)


def test_strata_cells_agree_with_the_unstratified_cells(diary):
    """With all SD ratios 1, the stratified cells (a cell per person, gap and strata) give
    the deviance of the unstratified ones."""
    d = build_design("y ~ x + (1 + x | id)", diary)
    strat = correlated_deviance(
        d, residual_data(residual_spec("car1", "day", "group:weekend"), d, diary), reml=True
    )
    plain = correlated_deviance(d, residual_data(residual_spec("car1", "day"), d, diary), reml=True)
    assert strat.stats.ncells > plain.stats.ncells
    x = np.array([0.7, 0.1, 0.2, 0.3])
    assert strat(np.append(x, 0.0)) == pytest.approx(plain(x), rel=DEVIANCE_RTOL)


@pytest.mark.parametrize(
    ("formula", "correlation", "weights", "reml"),
    [
        ("y ~ x + (1 + x | id)", "ar1", None, True),
        ("y ~ x + (1 + x | id)", "car1", "group:weekend", False),
        ("y ~ x + (1 | id)", None, "group:weekend", True),
        ("y ~ x + (1 + x | id) + (0 + I(x**2) | id)", "ar1", "group:weekend", True),
    ],
)
def test_gradient_matches_finite_differences(diary, formula, correlation, weights, reml):
    """The analytic gradient in theta, phi and the SD ratios (q = 1, 2, 3)."""
    d = build_design(formula, diary)
    spec = residual_spec(correlation, "day" if correlation else None, weights)
    dev = correlated_deviance(d, residual_data(spec, d, diary), reml=reml)
    rng = np.random.default_rng(1)
    x = np.where(np.isfinite(dev.lower), 0.6, 0.1) + 0.1 * rng.random(dev.ntheta)
    _, g = dev.value_and_grad(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = 1e-5
        fd = (dev(x + e) - dev(x - e)) / 2e-5
        assert g[i] == pytest.approx(fd, rel=GRAD_RTOL, abs=1e-5)


def test_row_order_and_time_units_do_not_change_the_fit(diary):
    fit = sp.lmm("y ~ x + (1 + x | id)", diary, correlation="ar1", time="day")
    shuffled = diary.sample(frac=1.0, random_state=1)
    fit2 = sp.lmm("y ~ x + (1 + x | id)", shuffled, correlation="ar1", time="day")
    assert fit2.loglik == pytest.approx(fit.loglik, abs=OPT_ATOL)
    assert fit2.phi == pytest.approx(fit.phi, abs=1e-5)
    # CAR1 on integer days is AR1 with phi > 0; on hours phi_hour^24 = phi_day
    car = sp.lmm("y ~ x + (1 + x | id)", diary, correlation="car1", time="day")
    assert car.loglik == pytest.approx(fit.loglik, abs=OPT_ATOL)
    hours = sp.lmm(
        "y ~ x + (1 + x | id)", diary.assign(h=diary.day * 24), correlation="car1", time="h"
    )
    assert hours.phi**24 == pytest.approx(car.phi, abs=1e-5)
    # dates as times: days since 1970
    dates = diary.assign(date=pd.Timestamp("2024-03-01") + pd.to_timedelta(diary.day, "D"))
    fd = sp.lmm("y ~ x + (1 + x | id)", dates, correlation="ar1", time="date")
    assert fd.loglik == pytest.approx(fit.loglik, abs=OPT_ATOL)


def test_rescaling_the_outcome_rescales_beta_and_sigma(diary):
    f1 = sp.lmm("y ~ x + (1 | id)", diary, correlation="ar1", time="day")
    f2 = sp.lmm("y ~ x + (1 | id)", diary.assign(y=3 * diary.y), correlation="ar1", time="day")
    np.testing.assert_allclose(f2.fixef.to_numpy(), 3 * f1.fixef.to_numpy(), rtol=1e-5)
    assert f2.sigma == pytest.approx(3 * f1.sigma, rel=1e-5)
    assert f2.phi == pytest.approx(f1.phi, abs=1e-5)


def test_result_pieces(diary):
    fit = sp.lmm(
        "y ~ x + (1 + x | id)", diary, correlation="ar1", time="day", weights="group:weekend"
    )
    text = fit.summary()
    assert "Correlation Structure: AR(1)" in text and " Formula: ~day | id" in text
    assert "Variance function:" in text and " Formula: ~1 | weekend" in text
    rp = fit.tidy(effects="ran_pars")
    assert list(rp["term"])[-2:] == ["phi", "sd_ratio__yes"]
    assert rp.set_index("term").loc["phi", "estimate"] == fit.phi
    g = fit.glance().iloc[0]
    assert g["correlation"] == "ar1" and g["phi"] == fit.phi
    assert g["weights"] == "varIdent(~1 | weekend)" and g["npar"] == 2 + 3 + 1 + 2
    assert fit.varident.index.tolist() == ["no", "yes"]
    # what the result hands out cannot change it
    before = fit.tidy()
    fixef, vcov, corr, vi = fit.fixef, fit.vcov, fit.correlation, fit.varident
    fixef.iloc[0] = 99.0
    vcov.iloc[0, 0] = -1.0
    corr["phi"] = 0.0
    vi.iloc[1] = 5.0
    pd.testing.assert_frame_equal(fit.tidy(), before)
    assert fit.phi != 0.0 and fit.varident.iloc[1] != 5.0
    with pytest.raises(ValueError, match="read-only"):
        fit.theta[0] = 5.0
    html = fit._repr_html_()
    assert "Correlation Structure" in html


def test_html_escapes_stratum_labels(diary):
    df = diary.assign(weekend=diary.weekend.replace({"yes": "<script>x</script>"}))
    fit = sp.lmm("y ~ x + (1 | id)", df, weights="group:weekend")
    assert "<script>" not in fit._repr_html_()
    assert "<script>" not in fit.to_markdown()


def test_missing_time_rows_are_dropped_and_counted(diary):
    df = diary.copy()
    df.loc[[0, 5], "day"] = np.nan
    df.loc[7, "y"] = np.nan
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = sp.lmm("y ~ x + (1 | id)", df, correlation="ar1", time="day")
    msgs = [str(w.message) for w in rec if issubclass(w.category, DataDropWarning)]
    assert any("missing 'day'" in m for m in msgs) and any("'y'" in m for m in msgs)
    acc = fit.accounting
    assert acc.n_input == len(df) and acc.n_used == len(df) - 3
    assert dict(acc.dropped) == {"missing 'day'": 2, "missing or non-finite 'y'": 1}
    assert fit.design.rows.max() < len(df) and 0 not in fit.design.rows


# -- bad input -------------------------------------------------------------------------


def test_bad_time_column(diary):
    with pytest.raises(DataStructureError, match="must be numeric"):
        sp.lmm(
            "y ~ x + (1 | id)",
            diary.assign(day=diary.day.astype(str)),
            correlation="ar1",
            time="day",
        )
    dup = pd.concat([diary, diary.iloc[[3]]], ignore_index=True)
    with pytest.raises(DataStructureError, match="duplicated 'day' value"):
        sp.lmm("y ~ x + (1 | id)", dup, correlation="car1", time="day")
    with pytest.raises(DataStructureError, match="needs integer times"):
        sp.lmm(
            "y ~ x + (1 | id)",
            diary.assign(day=diary.day + 0.5 * (diary.index % 2)),
            correlation="ar1",
            time="day",
        )
    with pytest.raises(SpecificationError, match="Did you mean 'day'"):
        sp.lmm("y ~ x + (1 | id)", diary, correlation="ar1", time="dya")
    with pytest.raises(SpecificationError, match="needs time="):
        sp.lmm("y ~ x + (1 | id)", diary, correlation="ar1")
    with pytest.raises(SpecificationError, match="only used with correlation"):
        sp.lmm("y ~ x + (1 | id)", diary, time="day")
    with pytest.raises(SpecificationError, match="not supported"):
        sp.lmm("y ~ x + (1 | id)", diary, correlation="arma", time="day")


def test_correlation_needs_one_grouping_factor(diary):
    df = diary.assign(item=diary.index % 4)
    with pytest.raises(SpecificationError, match=r"single grouping factor.*has 2: id, item"):
        sp.lmm("y ~ x + (1 | id) + (1 | item)", df, correlation="ar1", time="day")
    with pytest.raises(SpecificationError, match="single grouping factor"):
        sp.lmm("y ~ x + (1 | id/item)", df, weights="group:weekend")


def test_weights_naming_a_missing_column(diary):
    with pytest.raises(SpecificationError, match=r"weights= names 'weekday'.*Did you mean"):
        sp.lmm("y ~ x + (1 | id)", diary, weights="group:weekday")
    with pytest.raises(SpecificationError, match="group:COLUMN"):
        sp.lmm("y ~ x + (1 | id)", diary, weights="weekend")


def test_phi_at_the_boundary_warns():
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(30), 10)
    df = pd.DataFrame({"id": g, "day": np.tile(np.arange(10), 30)})
    df["y"] = rng.normal(size=30)[g] - 2.0 * np.tile([1, -1], 150) + 0.01 * rng.normal(size=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BoundaryFitWarning, match="boundary of its range: phi"):
            sp.lmm("y ~ 1 + (1 | id)", df, correlation="ar1", time="day")


def test_anova_refit_false_and_control_checks(diary):
    f0 = sp.lmm("y ~ x + (1 | id)", diary)
    f1 = sp.lmm("y ~ 1 + (1 | id)", diary, correlation="ar1", time="day")
    with pytest.raises(SpecificationError, match="different fixed effects"):
        sp.anova(f0, f1, refit=False)
    ml = sp.lmm("y ~ x + (1 | id)", diary, reml=False)
    with pytest.raises(SpecificationError, match="must be REML fits or all ML fits"):
        sp.anova(f0, ml, refit=False)
    with pytest.raises(SpecificationError, match="not available with a residual"):
        sp.lmm(
            "y ~ x + (1 | id)", diary, correlation="ar1", time="day", control={"method": "general"}
        )
    # without a structure, ran_pars has no residual rows and glance says so
    assert "phi" not in set(f0.tidy(effects="ran_pars")["term"])
    g = f0.glance().iloc[0]
    assert g["correlation"] is None and np.isnan(g["phi"]) and f0.correlation is None
