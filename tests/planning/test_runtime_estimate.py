"""sp.power estimates its run time from the first chunk (a fake clock: no long run)."""

from __future__ import annotations

import warnings

import pytest

import sleeppain as sp
import sleeppain.planning._montecarlo as mc
from sleeppain.errors import RuntimeEstimateWarning


class _FakeClock:
    """Each call advances ``step`` seconds: a chunk takes exactly ``step`` seconds."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


KW = dict(n_days=5, sleep_to_pain=-0.3, pain_to_sleep=0.0, n_sims=10, seed=1, n_jobs=1)


def test_long_run_warns_with_estimate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # first chunk: 10 studies x 20 persons x 5 days = 1,000 units in 100 s; the grid has
    # 1,000 + 2,000 units, so the estimate is 300 s on one worker: above 180 s
    monkeypatch.setattr(mc, "_clock", _FakeClock(100.0))
    with pytest.warns(RuntimeEstimateWarning, match=r"about 5\.0 min") as rec:
        sp.power(n_persons=[20, 40], progress=True, **KW)
    assert "n_sims" in str(rec[0].message) and "20 persons x 5 days" in str(rec[0].message)
    assert rec[0].filename == __file__  # points at the user's call
    err = capsys.readouterr().err
    assert "power: about 5.0 min in total (estimated from the first part)" in err


def test_short_run_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mc, "_clock", _FakeClock(50.0))  # estimate 150 s: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeEstimateWarning)
        sp.power(n_persons=[20, 40], progress=False, **KW)


def test_progress_bar_uses_the_estimate() -> None:
    import io

    from sleeppain.report import _progress

    out = io.StringIO()
    bar = _progress.ProgressBar(10, "power", stream=out, min_interval=0.0)
    bar.estimate(1000.0)
    bar.update(1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "power: about 16.7 min in total (estimated from the first part)"
    left = float(lines[-1].split("~")[1].split("s left")[0])
    assert 990 < left <= 1000
