"""Packaging: one version everywhere, licence and citation files, the console script."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

import sleeppain as sp
from tests.conftest import REPO_ROOT


def test_version_single_sourced() -> None:
    assert importlib.metadata.version("sleeppain") == sp.__version__
    cff = (REPO_ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(sp.__version__)}$", cff, re.M)
    assert f"## {sp.__version__}" in (REPO_ROOT / "CHANGELOG.md").read_text()
    assert 'dynamic = ["version"]' in (REPO_ROOT / "pyproject.toml").read_text()


def test_licence_file() -> None:
    text = (REPO_ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")


def test_cli_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sleeppain.cli", "--version"], capture_output=True, text=True
    )
    assert out.stdout.strip() == f"sleeppain {sp.__version__}"
