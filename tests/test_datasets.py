"""The bundled sample ships as package data (``sp.datasets``), identical to the generator's file."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import sleeppain as sp
from sleeppain.errors import DataStructureError
from tests.conftest import REPO_ROOT

GENERATOR_COPY = REPO_ROOT / "data" / "sample" / "diary.csv"


def test_package_copy_is_byte_identical_to_the_generators() -> None:
    # data/sample/ is where make_sample.py writes (tests/test_simulate.py regenerates it);
    # the package copy must be the same bytes, or the two would drift apart
    assert sp.datasets.sample_diary_path().read_bytes() == GENERATOR_COPY.read_bytes()


def test_package_data_is_declared_for_the_wheel() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["sleeppain"]
    path = sp.datasets.sample_diary_path()
    relative = path.relative_to(Path(sp.__file__).parent).as_posix()
    assert any(fnmatch.fnmatch(relative, p) for p in patterns), (relative, patterns)


def test_loader_returns_the_sample() -> None:
    df = sp.datasets.sample_diary()
    assert df.shape == (2318, 12) and df["id"].nunique() == 120
    pd.testing.assert_frame_equal(df, pd.read_csv(GENERATOR_COPY))
    diary = sp.datasets.sample_diary(as_diary=True)
    assert isinstance(diary, sp.Diary) and diary.sleep == ("sleep_quality",)


def test_found_from_any_working_directory(tmp_path: Path) -> None:
    code = "import sleeppain as sp; print(len(sp.datasets.sample_diary()))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "2318"


def test_missing_file_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sp.datasets, "_SAMPLE", "absent.csv")
    with pytest.raises(DataStructureError, match="missing from this installation"):
        sp.datasets.sample_diary()
