"""sp.network against lme4 fits of mlVAR's lmer estimator, recovery, invariance, bad input.

References: tests/reference/mlvar/mlvar_reference.R (lme4 1.1-31; data prepared in R,
independently of sleeppain) and its JSON.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.multivariate._simulate import DEFAULT_B, simulate_var
from sleeppain.multivariate._var import partial_correlations
from sleeppain.results import TIDY_COLUMNS
from tests.conftest import REFERENCE_DIR, shared_path

REF = json.loads((REFERENCE_DIR / "mlvar" / "mlvar_reference.json").read_text())
SIM = pd.read_csv(REFERENCE_DIR / "mlvar" / "sim_var.csv")
V = ["v1", "v2", "v3", "v4"]

#: optimum: fixed effects within 1 % of lme4's standard error
TOL_BETA_SE = 0.01
#: derived standard errors, rtol
TOL_SE = 1e-3
#: optimum: log-likelihood within 1e-3 of lme4's (or better)
TOL_LOGLIK = 1e-3
#: networks derived from the optimum (partial correlations, person-specific effects), atol
TOL_NET = 1e-3
#: closed forms (least squares, HC3), rtol
TOL_CLOSED = 1e-8


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.BoundaryFitWarning)
        return sp.network(df, **kw)


def _check_against(res, case):
    for j, v in enumerate(case["vars"]):
        m = case["models"][v]
        f = res.fits[j]
        rb = np.array([m["fixef"]["L_" + w] for w in case["vars"]])
        rs = np.array([m["se"]["L_" + w] for w in case["vars"]])
        assert f.nobs == m["nobs"]
        np.testing.assert_array_less(np.abs(res.coef[j] - rb) / rs, TOL_BETA_SE)
        np.testing.assert_allclose(res.coef_se[j], rs, rtol=TOL_SE)
        assert f.loglik >= m["loglik"] - TOL_LOGLIK
        between = [m["fixef"]["B_" + w] for w in case["vars"] if w != v]
        got = [res.between_gamma[j, i] for i, w in enumerate(case["vars"]) if w != v]
        bse = [m["se"]["B_" + w] for w in case["vars"] if w != v]
        np.testing.assert_array_less(np.abs(np.subtract(got, between)) / bse, TOL_BETA_SE)
    np.testing.assert_allclose(res.between_pcor, np.array(case["between"]), atol=TOL_NET)
    np.testing.assert_allclose(
        res.contemporaneous_pcor, np.array(case["contemporaneous"]), atol=TOL_NET
    )
    assert res.n_contemporaneous_rows == case["n_complete_residual_rows"]
    for pid, B in (case["person"] or {}).items():
        key = type(res.person_ids[0])(pid) if not isinstance(res.person_ids[0], str) else pid
        np.testing.assert_allclose(res.person_network(key).to_numpy(), np.array(B), atol=TOL_NET)


@pytest.mark.parametrize("random", ["orthogonal", "correlated", "fixed"])
def test_matches_lme4_on_simulated_diary(random):
    res = _fit(SIM, id="id", day="day", variables=V, random=random)
    _check_against(res, REF["cases"][f"sim_{random}"])


@pytest.mark.shared_data
@pytest.mark.parametrize("random", ["orthogonal", "fixed"])
def test_matches_lme4_on_aces_daily(random):
    raw = pd.read_csv(shared_path("aces_daily/aces_daily.csv"))
    case = REF["cases"].get(f"aces_{random}")
    if case is None:
        pytest.skip("the reference JSON was written without ../shared/data/aces_daily")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.ScaleWarning)
        d = sp.Diary.from_frame(
            raw,
            id="UserID",
            day="SurveyDay",
            prompt="SurveyInteger",
            aggregate="mean",
            sleep="SOLs",
            columns=["STRESS", "PosAff", "NegAff", "SOLs"],
        )
    res = _fit(d, variables=case["vars"], sleep="SOLs", random=random)
    _check_against(res, case)


@pytest.mark.shared_data
def test_n_of_1_var_matches_r_least_squares_with_hc3():
    raw = pd.read_csv(shared_path("esm_n1/csd_emaph_ESMdata_recoded.csv"))
    case = REF["cases"].get("esm_n1")
    if case is None:
        pytest.skip("the reference JSON was written without ../shared/data/esm_n1")
    vars_ = case["vars"]
    d = sp.Diary.from_frame(
        raw.assign(person=1),
        id="person",
        day="date",
        prompt="beepno",
        aggregate="mean",
        sleep="mor_qualsleep",
        columns=vars_,
    )
    res = sp.network(d, variables=vars_, sleep="mor_qualsleep")
    assert res.method == "n1_ols" and res.between is None
    for j, v in enumerate(vars_):
        m = case["models"][v]
        assert res.fits[j]["nobs"] == m["nobs"]
        np.testing.assert_allclose(res.fits[j]["coef"], m["coef"], rtol=TOL_CLOSED)
        np.testing.assert_allclose(res.fits[j]["se_hc3"], m["se_hc3"], rtol=TOL_CLOSED)
    np.testing.assert_allclose(
        res.contemporaneous_pcor, np.array(case["contemporaneous"]), atol=TOL_CLOSED
    )


def test_recovers_known_networks():
    df = simulate_var(150, 60, slope_sd=0.05, seed=11)
    res = _fit(df, id="id", day="day", variables=V)
    z = np.abs(res.coef - DEFAULT_B) / res.coef_se
    assert z.max() < 4.0, z  # every lag-1 effect within 4 standard errors of the truth
    true_contemp = partial_correlations(np.linalg.inv(0.7 * np.eye(4) + 0.3))
    np.testing.assert_allclose(res.contemporaneous_pcor, true_contemp, atol=0.04)
    # between persons: the six partial correlations are 0.2 (means ~ N(0, 0.5 I + 0.25));
    # with 150 persons each has an SE of about 0.08, their mean about 0.035
    true_between = partial_correlations(np.linalg.inv(0.5 * np.eye(4) + 0.25))
    assert np.abs(res.between_pcor - true_between).max() < 0.3
    assert abs(res.between_pcor[np.triu_indices(4, 1)].mean() - 0.2) < 0.14
    # person-specific networks vary around the fixed network with about the simulated SD
    spread = np.nanstd(res.person_networks, axis=0)
    assert np.all(spread < 0.1)


def test_row_order_does_not_matter():
    a = _fit(SIM, id="id", day="day", variables=V)
    shuffled = SIM.sample(frac=1.0, random_state=3).reset_index(drop=True)
    b = _fit(shuffled, id="id", day="day", variables=V)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a.contemporaneous_pcor, b.contemporaneous_pcor, atol=1e-8)
    np.testing.assert_allclose(a.between_pcor, b.between_pcor, atol=1e-8)


def test_a_missing_day_gives_a_missing_lag():
    from sleeppain.multivariate._var import _lagged_frame

    df = pd.DataFrame(
        {
            "id": [1, 1, 1, 1, 2, 2],
            "day": [1, 2, 4, 5, 1, 2],
            "a": [1.0, 2, 4, 3, 5, 7],
            "b": [0.0, 1, 1, 2, 3, 3],
        }
    )
    d = sp.Diary.from_frame(df, id="id", day="day")
    fr = _lagged_frame(d, ("a", "b"), False)
    # person 1: day 2 lags day 1; day 4 has no day 3 -> missing; never across persons
    assert np.isnan(fr["_L0"].to_numpy()).tolist() == [True, False, True, False, True, False]
    np.testing.assert_allclose(fr["_R0"].to_numpy()[[1, 3, 5]], [1.0, 4.0, 5.0])
    np.testing.assert_allclose(fr["_L0"].to_numpy()[[1, 3, 5]], [1.0 - 2.5, 4.0 - 2.5, 5.0 - 6.0])


def test_result_contract_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    res = _fit(SIM, id="id", day="day", variables=V)
    t = res.tidy()
    assert tuple(t.columns[:8]) == TIDY_COLUMNS
    assert set(t["network"]) == {"temporal", "contemporaneous", "between"}
    assert len(t) == 16 + 6 + 6
    assert len(res.glance()) == 4
    assert "Temporal network" in res.summary()
    tm = res.temporal
    tm.iloc[0, 0] = 99.0
    assert res.temporal.iloc[0, 0] != 99.0
    with pytest.raises(ValueError):
        res.coef[0, 0] = 1.0
    axes = res.plot(threshold=0.1)
    assert len(axes) == 3 and "0.1" in axes[0].get_title()
    html = _fit(
        SIM.rename(columns={"v1": "<b>v1"}),
        id="id",
        day="day",
        variables=["<b>v1", "v2"],
        random="fixed",
    )._repr_html_()
    assert "<b>v1" not in html


def test_bad_input():
    with pytest.raises(sp.SpecificationError, match="at least 2 variables"):
        sp.network(SIM, id="id", day="day", variables=["v1"])
    with pytest.raises(sp.SpecificationError, match="lag=2"):
        sp.network(SIM, id="id", day="day", variables=V, lag=2)
    with pytest.raises(sp.SpecificationError, match="random="):
        sp.network(SIM, id="id", day="day", variables=V, random="diagonal")
    with pytest.raises(sp.SpecificationError, match="not among variables"):
        sp.network(SIM, id="id", day="day", variables=V, sleep="sq")
    const = SIM.assign(age=SIM.id * 2.0)
    with pytest.raises(sp.DataStructureError, match="'age' has no within-person variance"):
        sp.network(const, id="id", day="day", variables=["v1", "age"])
    one = SIM[SIM.id == 1].drop(columns="id")
    res = sp.network(one, day="day", variables=V)  # one person's series: N-of-1 VAR
    with pytest.raises(sp.SpecificationError, match="random lag slopes"):
        res.person_network(1)


def test_detrend_removes_person_trends():
    base = SIM[SIM.id <= 40]
    trended = base.assign(v1=base.v1 + 0.05 * base.day * (base.id % 3))
    plain = _fit(base, id="id", day="day", variables=V, random="fixed")
    raw = _fit(trended, id="id", day="day", variables=V, random="fixed")
    det = _fit(trended, id="id", day="day", variables=V, random="fixed", detrend=True)
    err_raw = np.abs(raw.coef - plain.coef).max()
    err_det = np.abs(det.coef - plain.coef).max()
    assert err_det < err_raw / 3


def test_sleep_variables_sit_on_the_night_index():
    from sleeppain.multivariate._var import _lagged_frame

    # morning reports: sleep reported on day d describes night d - 1
    df = pd.DataFrame(
        {"id": [1] * 4, "day": [1, 2, 3, 4], "pain": [3.0, 5, 4, 6], "sq": [7.0, 6, 8, 5]}
    )
    d = sp.Diary.from_frame(df, id="id", day="day", sleep="sq")
    fr = _lagged_frame(d, ("pain", "sq"), False)
    days = d.data["day"].tolist()
    # row n holds day-n pain and night-n sleep (reported on day n + 1)
    assert days == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(fr["_Y1"].to_numpy()[:4], [7.0, 6, 8, 5])
    # the lag-1 predictor of night n is night n - 1
    np.testing.assert_allclose(fr["_R1"].to_numpy()[1:4], [7.0, 6, 8])


class _ArrowLike:
    """A table that is not pandas but converts with to_pandas() (as polars and pyarrow do)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def to_pandas(self) -> pd.DataFrame:
        return self._frame.copy()


def test_polars_like_tables_and_misspelt_columns():
    """A to_pandas() table gives the pandas fit; a wrong column is named with a suggestion."""
    a = _fit(SIM, id="id", day="day", variables=V, random="fixed")
    b = _fit(_ArrowLike(SIM), id="id", day="day", variables=V, random="fixed")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    with pytest.raises(sp.SpecificationError, match=r"got a numpy\.ndarray"):
        sp.network(SIM.to_numpy(), id="id", day="day", variables=V)
    with pytest.raises(sp.DataStructureError, match=r"\['v9', 'dya'\] are not in the data") as info:
        sp.network(SIM, id="id", day="dya", variables=[*V[:-1], "v9"])
    assert "'dya' -> 'day'" in str(info.value) and "from columns=" not in str(info.value)


def test_n_of_1_tests_use_t_on_the_residual_df():
    """A short N-of-1 series: t tests and intervals on n - k - 1 df, as statsmodels OLS with
    HC3 and ``use_t=True`` (R: ``lmtest::coeftest(lm, vcovHC(lm, "HC3"))``); a z test would
    be anti-conservative on 19 days."""
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    n = 20
    a, b = np.zeros(n), np.zeros(n)
    for t in range(1, n):
        a[t] = 0.4 * a[t - 1] + rng.normal()
        b[t] = 0.3 * a[t - 1] + 0.2 * b[t - 1] + rng.normal()
    one = pd.DataFrame({"day": np.arange(n), "a": a, "b": b})
    res = sp.network(one, day="day", variables=["a", "b"])
    X = sm.add_constant(np.column_stack([a[:-1], b[:-1]]))
    tidy = res.tidy().set_index("term")
    for v in ["a", "b"]:
        ols = sm.OLS(one[v].to_numpy()[1:], X).fit(cov_type="HC3", use_t=True)
        terms = [f"a -> {v}", f"b -> {v}"]
        np.testing.assert_allclose(tidy.loc[terms, "std_error"], ols.bse[1:], rtol=TOL_CLOSED)
        np.testing.assert_allclose(tidy.loc[terms, "p_value"], ols.pvalues[1:], rtol=TOL_CLOSED)
        np.testing.assert_allclose(
            tidy.loc[terms, ["conf_low", "conf_high"]], ols.conf_int()[1:], rtol=TOL_CLOSED
        )
        assert (tidy.loc[terms, "df"] == n - 1 - 3).all()
        np.testing.assert_allclose(
            res.temporal_p.loc[v].to_numpy(), ols.pvalues[1:], rtol=TOL_CLOSED
        )


def test_added_nights_are_explained_in_the_summary():
    """Rows the Diary added for sleep ratings show up as missing day values: say so."""
    sample = sp.datasets.sample_diary()
    diary = sp.Diary.from_frame(sample, id="id", day="date", sleep="sleep_quality")
    res = _fit(diary, variables=["sleep_quality", "pain"], sleep="sleep_quality", random="fixed")
    added = diary.accounting.nights_added
    assert added > 0 and res.nights_added == added
    acct = res.accounting.set_index("outcome")
    assert (acct["rows"] == len(sample) + added).all()
    text = res.summary()
    assert f"{added:,} night(s) the Diary added" in text
    plain = _fit(SIM, id="id", day="day", variables=V, random="fixed")
    assert plain.nights_added == 0 and "the Diary added" not in plain.summary()


def test_summary_states_the_timing_of_day_to_night_edges():
    """pain -> sleep in the temporal network is day n-1 -> night n: the summary says so."""
    sample = sp.datasets.sample_diary()
    diary = sp.Diary.from_frame(sample, id="id", day="date", sleep="sleep_quality")
    res = _fit(diary, variables=["sleep_quality", "pain"], sleep="sleep_quality", random="fixed")
    text = res.summary()
    assert "pain -> sleep_quality is day n-1 -> night n" in text
    assert "sleep_quality -> pain is night n-1 -> day n" in text
    plain = _fit(SIM, id="id", day="day", variables=V, random="fixed")
    assert "Timing:" not in plain.summary()


def test_inner_fit_warnings_speak_the_users_names():
    """A boundary fit of an outcome model names lag(...) and mean(...) of the user's
    variables, not the internal _L0/_B1 columns, and says what to pass to sp.network."""
    sample = sp.datasets.sample_diary()
    diary = sp.Diary.from_frame(sample, id="id", day="date", sleep="sleep_quality")
    with pytest.warns(sp.BoundaryFitWarning) as got:
        sp.network(diary, variables=["sleep_quality", "pain"], sleep="sleep_quality")
    text = " ".join(str(w.message) for w in got)
    assert "lag(sleep_quality)" in text and "mean(pain)" in text and "|| id)" in text
    assert "_L0" not in text and "_B1" not in text and "_id" not in text
    assert "random='fixed'" in text


def test_summary_names_the_diarys_declared_sleep_columns() -> None:
    diary = sp.datasets.sample_diary(as_diary=True)
    res = sp.network(diary, variables=["sleep_quality", "pain"], random="fixed")
    assert res.sleep == ("sleep_quality",)
    assert "Sleep (night index): sleep_quality" in res.summary()
