"""``sp.crosslag`` on a Dask diary equals ``sp.crosslag`` in memory (bundled sample).

Reference: the in-memory ``sp.crosslag`` (tested against hand-built lme4-style fits in
tests/analysis). Lags, within-person deviations and person means are built inside each
partition; the grand mean of person means is combined across partitions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError, SpecificationError

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

#: fixed effects, relative: same statistics, summed in another order
BETA_RTOL = 1e-8
#: REML criterion, absolute (issue 17)
CRIT_ATOL = 1e-6
#: derived columns (SEs, Satterthwaite df, p-values, standardised effects), relative
SE_RTOL = 1e-6


@pytest.fixture(scope="module")
def sample():
    return sp.datasets.sample_diary()


def _ddf(df, n):
    ddf = dd.from_pandas(df.sort_values(["id", "day"]), npartitions=1, sort=False)
    return ddf.shuffle("id", npartitions=n)


def _run(fn):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        res = fn()
    return res, sorted({(w.category.__name__, str(w.message)) for w in got})


@pytest.mark.parametrize("kwargs", [{}, {"person_covariates": ["depression"]}])
def test_crosslag_on_dask_equals_in_memory(sample, kwargs) -> None:
    mem, mem_warn = _run(
        lambda: sp.crosslag(
            sample, id="id", day="day", sleep="sleep_quality", pain="pain", **kwargs
        )
    )
    ddiary = sp.Diary.from_dask(_ddf(sample, 4), id="id", day="day", sleep="sleep_quality")
    with dask.config.set(scheduler="sync"):
        res, res_warn = _run(lambda: sp.crosslag(ddiary, pain="pain", **kwargs))
    assert res_warn == mem_warn  # same coverage and fit warnings, same words
    assert set(res.fits) == set(mem.fits)
    for key, fit in res.fits.items():
        ref = mem.fits[key]
        assert fit.formula == ref.formula
        np.testing.assert_allclose(fit.beta, ref.beta, rtol=BETA_RTOL, atol=1e-12)
        assert abs(fit.objective - ref.objective) < CRIT_ATOL
        assert fit.nobs == ref.nobs
    acc, ref_acc = res.accounting(), mem.accounting()
    pd.testing.assert_frame_equal(acc[ref_acc.columns], ref_acc, check_dtype=False)
    pd.testing.assert_frame_equal(res.effects(), mem.effects(), rtol=SE_RTOL)
    pd.testing.assert_frame_equal(res.tidy(), mem.tidy(), rtol=SE_RTOL)
    pd.testing.assert_frame_equal(res.glance(), mem.glance(), rtol=SE_RTOL)
    assert res.model_notes == mem.model_notes
    # the result contract
    assert res.tidy().columns[:8].tolist() == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "df",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert len(res.glance()) == 2
    assert "Cross-lagged" in res.summary() and "<table" in res._repr_html_()
    assert "sleep->pain" in res.to_markdown()


def test_crosslag_dask_frame_threads_and_refusals(sample) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = sp.crosslag(sample, id="id", day="day", sleep="sleep_quality", pain="pain")
        with dask.config.set(scheduler="threads", num_workers=2):
            res = sp.crosslag(
                _ddf(sample, 3), id="id", day="day", sleep="sleep_quality", pain="pain"
            )
    key = ("sleep_quality", "sleep->pain")
    np.testing.assert_allclose(res.fits[key].beta, mem.fits[key].beta, rtol=BETA_RTOL)
    split = dd.from_pandas(sample, npartitions=5, sort=False)
    with pytest.raises(DataStructureError, match="shuffle"):
        sp.crosslag(split, id="id", day="day", sleep="sleep_quality", pain="pain")
    with pytest.raises(SpecificationError, match="not available: quadratic"):
        sp.crosslag(
            _ddf(sample, 2), id="id", day="day", sleep="sleep_quality", pain="pain", quadratic=True
        )


def test_zero_variance_slope_dropped_as_in_memory() -> None:
    df = sp.simulate.diary(60, 14, seed=3).data  # pain->sleep slope SD estimated at 0
    kw = {"id": "id", "day": "day", "sleep": "sleep_quality", "pain": "pain"}
    mem, mem_warn = _run(lambda: sp.crosslag(df, **kw))
    assert mem.model_notes  # the case this test is about
    with dask.config.set(scheduler="sync"):
        res, res_warn = _run(lambda: sp.crosslag(_ddf(df, 3), **kw))
    assert res.model_notes == mem.model_notes and res_warn == mem_warn
    for key, fit in res.fits.items():
        assert fit.formula == mem.fits[key].formula
        np.testing.assert_allclose(fit.beta, mem.fits[key].beta, rtol=BETA_RTOL)
    pd.testing.assert_frame_equal(res.effects(), mem.effects(), rtol=SE_RTOL)
