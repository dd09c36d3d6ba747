"""Fixtures shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import MINI_FILES, MINI_SPEC, write_study


@pytest.fixture
def mini_study(tmp_path: Path) -> Path:
    return write_study(tmp_path, MINI_SPEC, MINI_FILES)
