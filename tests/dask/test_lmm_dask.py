"""``sp.lmm`` on a Dask DataFrame equals the in-memory fit of the same rows.

Reference: the in-memory ``sp.lmm`` (itself tested against lme4 1.1-31 in tests/mixed). The
Dask path computes the same per-person statistics partition by partition, so the fits must
agree to the rounding of the sums (issue 17: fixed effects 1e-8 relative, criterion 1e-6).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataDropWarning, DataStructureError, SpecificationError

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

#: fixed effects, relative: the two paths differ only in the order of floating-point sums
BETA_RTOL = 1e-8
#: REML criterion, absolute (issue 17)
CRIT_ATOL = 1e-6
#: variance parameters, absolute: both optimisers stop within their tolerance of the optimum
THETA_ATOL = 1e-6


def _diary(persons: int, days: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(persons), days)
    n = persons * days
    x = rng.normal(size=n)
    u0, u1 = rng.normal(size=persons), rng.normal(0, 0.3, size=persons)
    y = 2.0 + u0[g] + (-0.4 + u1[g]) * x + rng.normal(size=n)
    return pd.DataFrame({"id": g, "day": np.tile(np.arange(days), persons), "x": x, "y": y})


def _same(a: sp.LmmResult, b: sp.LmmResult) -> None:
    np.testing.assert_allclose(b.beta, a.beta, rtol=BETA_RTOL, atol=0)
    assert abs(a.objective - b.objective) < CRIT_ATOL
    np.testing.assert_allclose(b.theta, a.theta, rtol=0, atol=THETA_ATOL)
    assert b.nobs == a.nobs and b.ngroups == a.ngroups
    assert b.accounting == a.accounting


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return _diary(20_000, 100)  # 2M rows


@pytest.fixture(scope="module")
def big_memory_fit(big: pd.DataFrame) -> sp.LmmResult:
    return sp.lmm("y ~ x + (1 + x | id)", big)


def test_two_million_rows_eight_partitions_equal_in_memory(big, big_memory_fit) -> None:
    ddf = dd.from_pandas(big, npartitions=8, sort=False)
    assert ddf.npartitions == 8
    with dask.config.set(scheduler="threads", num_workers=2):
        fit = sp.lmm("y ~ x + (1 + x | id)", ddf)
    _same(big_memory_fit, fit)
    pd.testing.assert_frame_equal(
        fit.tidy()[["term", "estimate", "std_error"]],
        big_memory_fit.tidy()[["term", "estimate", "std_error"]],
        rtol=1e-7,
    )


def test_synchronous_scheduler_and_missing_rows_counted_across_partitions() -> None:
    df = _diary(300, 20)
    df.loc[[3, 2500, 5999], "x"] = np.nan
    df.loc[[10, 4000], "y"] = np.inf
    ddf = dd.from_pandas(df, npartitions=6, sort=False)
    with pytest.warns(DataDropWarning, match="dropped 5 of 6000"):
        mem = sp.lmm("y ~ x + (1 | id)", df)
    with dask.config.set(scheduler="sync"), pytest.warns(DataDropWarning, match="dropped 5"):
        fit = sp.lmm("y ~ x + (1 | id)", ddf)
    _same(mem, fit)
    assert dict(fit.accounting.dropped) == {
        "missing or non-finite 'y'": 2,
        "missing or non-finite 'x'": 3,
    }


def test_distributed_local_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    df = _diary(400, 15)
    mem = sp.lmm("y ~ x + (1 + x | id)", df)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        fit = sp.lmm("y ~ x + (1 + x | id)", dd.from_pandas(df, npartitions=4, sort=False))
    _same(mem, fit)


def test_known_categoricals_scaled_predictors_and_ml() -> None:
    df = _diary(200, 12)
    rng = np.random.default_rng(8)
    df["arm"] = pd.Categorical(np.where(df.id % 3 == 0, "a", np.where(df.id % 3 == 1, "b", "c")))
    df["z"] = 1e4 + 50 * rng.normal(size=len(df))  # badly centred: the standardised path
    df["y"] += 0.001 * (df.z - 1e4) + (df.arm == "b")
    f = "y ~ x + z + C(arm) + (1 + x | id)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # same warnings on both paths, if any
        mem = sp.lmm(f, df, reml=False)
        with dask.config.set(scheduler="sync"):
            fit = sp.lmm(f, dd.from_pandas(df, npartitions=5, sort=False), reml=False)
    _same(mem, fit)
    assert fit.fixef_names == mem.fixef_names
    assert "centred and scaled" in fit.convergence.message


def test_string_ids_no_intercept_and_aliased_column() -> None:
    df = _diary(150, 10)
    df["id"] = "p" + df["id"].astype(str).str.zfill(4)
    df["x2"] = 2 * df["x"]
    f = "y ~ 0 + x + x2 + (1 | id)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = sp.lmm(f, df)
        with dask.config.set(scheduler="sync"):
            fit = sp.lmm(f, dd.from_pandas(df, npartitions=3, sort=False))
    _same(mem, fit)
    assert fit.design.dropped_fixef == ("x2",)
    re_mem, re_dask = mem.ranef(), fit.ranef()
    np.testing.assert_allclose(re_dask.estimate, re_mem.estimate, rtol=1e-6, atol=1e-9)
    assert re_dask.level.tolist() == re_mem.level.tolist()


def test_anova_refit_predict_and_what_a_dask_fit_does_not_keep() -> None:
    df = _diary(120, 10)
    ddf = dd.from_pandas(df, npartitions=3, sort=False)
    with dask.config.set(scheduler="sync"):
        f0, f1 = sp.lmm("y ~ 1 + (1 | id)", ddf), sp.lmm("y ~ x + (1 | id)", ddf)
    m0, m1 = sp.lmm("y ~ 1 + (1 | id)", df), sp.lmm("y ~ x + (1 | id)", df)
    tab, ref = sp.anova(f0, f1), sp.anova(m0, m1)
    np.testing.assert_allclose(tab["Chisq"].iloc[1], ref["Chisq"].iloc[1], rtol=1e-6)
    np.testing.assert_allclose(f1.predict(df.head(20)), m1.predict(df.head(20)), rtol=1e-6)
    with pytest.raises(SpecificationError, match="map_partitions"):
        f1.residuals()
    with pytest.raises(SpecificationError, match="map_partitions"):
        f1.predict()
    text = f1.summary()
    assert "REML criterion at convergence" in text and "NA" in text  # residual quantiles
    assert text.split("Random effects:")[1] == m1.summary().split("Random effects:")[1]


# ------------------------------------------------------------------------- bad input
def test_person_split_across_partitions_is_refused_with_the_fix() -> None:
    df = _diary(50, 7)  # 350 rows: 4 partitions cut persons
    ddf = dd.from_pandas(df, npartitions=4, sort=False)
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(DataStructureError, match=r"more than one partition.*shuffle\('id'\)"),
    ):
        sp.lmm("y ~ x + (1 | id)", ddf)
    mem = sp.lmm("y ~ x + (1 | id)", df)
    for fixed in (ddf.shuffle("id"), ddf.set_index("id")):  # the index may be the person
        with dask.config.set(scheduler="sync"):
            fit = sp.lmm("y ~ x + (1 | id)", fixed)
        _same(mem, fit)


def test_text_and_unknown_categoricals_are_refused() -> None:
    df = _diary(40, 5)
    df["arm"] = np.where(df.id % 2 == 0, "a", "b")
    ddf = dd.from_pandas(df, npartitions=2, sort=False)
    with pytest.raises(DataStructureError, match=r"holds text.*categorize"):
        sp.lmm("y ~ x + arm + (1 | id)", ddf)
    unknown = ddf.assign(arm=ddf.arm.astype("category"))
    assert not unknown.arm.cat.known
    with pytest.raises(DataStructureError, match="unknown categories"):
        sp.lmm("y ~ x + arm + (1 | id)", unknown)
    with dask.config.set(scheduler="sync"):
        fit = sp.lmm("y ~ x + arm + (1 | id)", ddf.categorize(columns=["arm"]))
    assert fit.fixef_names == ("Intercept", "arm[T.b]", "x") or "arm[T.b]" in fit.fixef_names


@pytest.mark.parametrize("formula", ["y ~ x + (1 | id) + (1 | day)", "y ~ x + (1 | id/day)"])
def test_crossed_and_nested_are_refused_saying_what_is_supported(formula: str) -> None:
    ddf = dd.from_pandas(_diary(20, 5), npartitions=2, sort=False)
    with pytest.raises(SpecificationError, match=r"one grouping factor.*\(1 \+ x \| id\)"):
        sp.lmm(formula, ddf)


def test_residual_structures_are_refused() -> None:
    ddf = dd.from_pandas(_diary(20, 5), npartitions=2, sort=False)
    with pytest.raises(SpecificationError, match="not available for a Dask"):
        sp.lmm("y ~ x + (1 | id)", ddf, correlation="ar1", time="day")


@pytest.mark.parametrize("nparts", [1, 3, 7])
def test_partitioning_and_row_order_do_not_change_the_fit(nparts: int) -> None:
    df = _diary(90, 8, seed=11)
    mem = sp.lmm("y ~ x + (1 + x | id)", df)
    shuffled = df.sample(frac=1.0, random_state=nparts)  # rows in any order
    ddf = dd.from_pandas(shuffled, npartitions=1, sort=False).shuffle("id", npartitions=nparts)
    with dask.config.set(scheduler="sync"):
        fit = sp.lmm("y ~ x + (1 + x | id)", ddf)
    _same(mem, fit)
