"""Warnings raised deep inside the library name the user's line, whatever the entry point."""

from __future__ import annotations

import warnings

import sleeppain as sp


def test_dsem_convergence_warning_points_at_the_callers_line() -> None:
    diary = sp.datasets.sample_diary(as_diary=True)
    for call in (
        lambda: sp.crosslag(
            diary,
            pain="pain",
            estimator="dsem",
            chains=2,
            warmup=20,
            draws=20,
            seed=1,
            n_jobs=1,
            progress=False,
        ),
        lambda: sp.dsem(
            diary,
            sleep="sleep_quality",
            pain="pain",
            chains=2,
            warmup=20,
            draws=20,
            seed=1,
            n_jobs=1,
            progress=False,
        ),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        conv = [w for w in caught if issubclass(w.category, sp.ConvergenceWarning)]
        assert conv, "20 draws should not pass the R-hat/ESS checks"
        assert all(w.filename == __file__ for w in conv), [w.filename for w in conv]


def test_too_few_draws_for_diagnostics_is_said_plainly() -> None:
    import pytest

    diary = sp.datasets.sample_diary(as_diary=True)
    with pytest.warns(sp.ConvergenceWarning, match="not estimable from 5 draws per chain"):
        sp.dsem(
            diary,
            sleep="sleep_quality",
            pain="pain",
            chains=2,
            warmup=5,
            draws=5,
            seed=1,
            n_jobs=1,
            progress=False,
        )
