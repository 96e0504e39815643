"""sp.dsem reports its chains through the library's one progress bar (report/_progress.py)."""

from __future__ import annotations

import warnings

import pytest

import sleeppain as sp


def test_dsem_progress_uses_the_shared_bar(capsys: pytest.CaptureFixture[str]) -> None:
    data = sp.simulate.diary(20, 7, seed=6).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 5-draw chain does not converge
        sp.dsem(
            data,
            id="id",
            day="day",
            sleep="sleep_quality",
            pain="pain",
            seed=1,
            chains=2,
            warmup=5,
            draws=5,
            n_jobs=1,
            progress=True,
        )
    err = capsys.readouterr().err
    assert "dsem: [" in err and "2/2 chains" in err
    assert "chain 1/2 done" not in err  # the former ad-hoc lines are gone
