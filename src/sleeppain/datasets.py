"""Example data shipped with the package (``sp.datasets``).

The files live inside the installed package (``sleeppain/data/``, declared as package data),
so they are found from a wheel in any working directory, not only from a source checkout.

* :func:`sample_diary`: the simulated sleep-pain diary of ``data/sample/`` in the
  repository (120 persons x 21 days, 2,318 rows; made by ``data/sample/make_sample.py``
  with :func:`sleeppain.simulate.diary`; no real person's data). The package copy is
  byte-identical to the generator's output (a test checks it).

Examples
--------
>>> import sleeppain as sp
>>> df = sp.datasets.sample_diary()
>>> df.shape
(2318, 12)
>>> sp.datasets.sample_diary_path().name
'sample_diary.csv'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sleeppain.errors import DataStructureError

if TYPE_CHECKING:  # pragma: no cover
    from sleeppain.diary import Diary

__all__ = ["SAMPLE_DIARY_COLUMNS", "sample_diary", "sample_diary_path"]

#: The roles of the sample diary's columns (what ``sleeppain analyze`` uses without a CSV).
SAMPLE_DIARY_COLUMNS: dict[str, Any] = {
    "id": "id",
    "day": "date",
    "sleep": ("sleep_quality",),
    "pain": "pain",
}

_SAMPLE = "sample_diary.csv"


def sample_diary_path() -> Path:
    """Path of the bundled sample diary CSV inside the installed package.

    Raises
    ------
    DataStructureError
        When the installation lacks the file (a broken or partial install).

    Examples
    --------
    >>> sample_diary_path().exists()
    True
    """
    resource = resources.files("sleeppain").joinpath("data", _SAMPLE)
    path = Path(os.fspath(resource))  # type: ignore[arg-type]
    if not path.is_file():
        raise DataStructureError(
            f"the bundled sample diary {path} is missing from this installation of sleeppain; "
            "reinstall the package (pip install --force-reinstall sleeppain)."
        )
    return path


def sample_diary(*, as_diary: bool = False) -> pd.DataFrame | Diary:
    """The bundled simulated sleep-pain diary.

    Columns: ``id`` (person), ``day`` (study day 0-20), ``date``, ``pain`` (0-10),
    ``sleep_quality`` (0-10, about the previous night), ``depression`` (person-level),
    ``bedtime``, ``lights_off``, ``sol_min``, ``waso_min``, ``final_wake``, ``out_of_bed``
    (Consensus Sleep Diary items). 8 % of days are missing at random, and 2 % of single
    ratings.

    Parameters
    ----------
    as_diary : bool
        Return a validated :class:`~sleeppain.Diary` (``id="id", day="date",
        sleep="sleep_quality"``) instead of the raw DataFrame.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sp.datasets.sample_diary(as_diary=True).n_persons
    120
    """
    df = pd.read_csv(sample_diary_path())
    if not as_diary:
        return df
    from sleeppain.diary import Diary

    cols = SAMPLE_DIARY_COLUMNS
    return Diary.from_frame(df, id=cols["id"], day=cols["day"], sleep=list(cols["sleep"]))
