"""A Dask DataFrame where a pandas one is needed: a typed error, never a silent compute."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sleeppain as sp
from sleeppain._distributed import is_dask_frame, require_pandas
from sleeppain.errors import DataStructureError

dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(scope="module")
def ddf():
    df = sp.datasets.sample_diary()
    df["pain_bin"] = (df.pain > 4).astype(int)
    return dd.from_pandas(df, npartitions=2)


def test_recognises_dask_frames_only(ddf) -> None:
    assert is_dask_frame(ddf) and is_dask_frame(ddf["pain"])
    assert not is_dask_frame(pd.DataFrame({"a": [1]})) and not is_dask_frame(np.zeros(2))
    with pytest.raises(DataStructureError, match=r"sp\.thing needs an in-memory pandas"):
        require_pandas(ddf, "sp.thing")


CALLS = {
    "sp.Diary.from_frame": lambda d: sp.Diary.from_frame(d, id="id", day="day"),
    "sp.glmm": lambda d: sp.glmm("pain_bin ~ sleep_quality + (1 | id)", d),
    "sp.clmm": lambda d: sp.clmm("pain ~ sleep_quality + (1 | id)", d),
    "sp.network": lambda d: sp.network(d, id="id", day="day", variables=["pain", "sleep_quality"]),
    "sp.mediation": lambda d: sp.mediation(
        d, id="id", day="day", x="sleep_quality", m="pain", y="depression", seed=1
    ),
    "sp.dsem": lambda d: sp.dsem(d, id="id", day="day", sleep="sleep_quality", pain="pain", seed=1),
    "sp.clpm": lambda d: sp.clpm(d),
    "sp.riclpm": lambda d: sp.riclpm(d),
    "sp.compare_groups": lambda d: sp.compare_groups(d, group="depression"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_entry_points_refuse_dask_frames(ddf, name, monkeypatch) -> None:
    def no_compute(*args, **kwargs):  # pragma: no cover - reached only on a regression
        raise AssertionError(f"{name} computed the Dask frame")

    monkeypatch.setattr(type(ddf), "compute", no_compute)
    with pytest.raises(DataStructureError, match=rf"{name.replace('.', r'.')} needs an in-memory"):
        CALLS[name](ddf)
