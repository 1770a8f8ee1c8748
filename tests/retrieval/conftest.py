"""Fixtures for the retrieval tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.git_repo import repo_with_files
from tests.helpers.sample_code import APP_FILES


@pytest.fixture
def app_repo(tmp_path) -> Path:
    """A small committed multi-file Python + TypeScript repository."""
    return repo_with_files(tmp_path / "app", APP_FILES)
