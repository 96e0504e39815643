"""``sp.crosslag`` on a Dask diary equals ``sp.crosslag`` in memory (bundled sample).

Reference: the in-memory ``sp.crosslag`` (tested against hand-built lme4-style fits in
tests/analysis). Lags, within-person deviations and person means are built inside each
partition; the grand mean of person means is combined across partitions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError, SpecificationError

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

#: fixed effects, relative: same statistics, summed in another order
BETA_RTOL = 1e-8
#: REML criterion, absolute (issue 17)
CRIT_ATOL = 1e-6


@pytest.fixture(scope="module")
def sample():
    return sp.datasets.sample_diary()


def _ddf(df, n):
    ddf = dd.from_pandas(df.sort_values(["id", "day"]), npartitions=1, sort=False)
    return ddf.shuffle("id", npartitions=n)


@pytest.mark.parametrize("kwargs", [{}, {"person_covariates": ["depression"]}])
def test_crosslag_on_dask_equals_in_memory(sample, kwargs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # coverage/boundary warnings of the sample
        mem = sp.crosslag(sample, id="id", day="day", sleep="sleep_quality", pain="pain", **kwargs)
        ddiary = sp.Diary.from_dask(_ddf(sample, 4), id="id", day="day", sleep="sleep_quality")
        with dask.config.set(scheduler="sync"):
            res = sp.crosslag(ddiary, pain="pain", **kwargs)
    assert set(res.fits) == set(mem.fits)
    for key, fit in res.fits.items():
        ref = mem.fits[key]
        assert fit.formula == ref.formula
        np.testing.assert_allclose(fit.beta, ref.beta, rtol=BETA_RTOL, atol=1e-12)
        assert abs(fit.objective - ref.objective) < CRIT_ATOL
        assert fit.nobs == ref.nobs
    eff = res.effects()
    assert set(eff.index) == {"sleep->pain", "pain->sleep"}
    assert "Cross-lagged" in res.summary()


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
