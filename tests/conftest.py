"""Shared test fixtures.

Real data live in ``../shared/data`` beside the repository (never copied into it). Tests that
need them use the ``shared_data`` fixture and skip, with the reason, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Scripts that write reference values (run offline with R, PyMC, pingouin ...) are not
#: tests: pytest does not collect them (tests that need them load them by path).
collect_ignore_glob = ["reference/*/*.py", "reference/*/*/*.py", "planning/reference/*.py"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SLEEPPAIN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"


def shared_path(relpath: str) -> Path:
    """Path to a file under ../shared/data, skipping the calling test when it is absent."""
    path = SHARED_DATA / relpath
    if not path.exists():
        pytest.skip(
            f"real data not available: {path} is absent (the tests look for ../shared/data "
            "beside the repository, or SLEEPPAIN_SHARED_DATA)"
        )
    return path


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent")
    return SHARED_DATA
