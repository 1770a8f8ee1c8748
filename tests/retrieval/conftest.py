"""Fixtures for the retrieval tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib keeps test folders off sys.path; the helpers live next to this file
sys.path.insert(0, str(Path(__file__).parent))

from retrieval_helpers import APP_FILES, make_repo  # noqa: E402


@pytest.fixture
def app_repo(tmp_path) -> Path:
    """A small committed multi-file Python + TypeScript repository."""
    return make_repo(tmp_path / "app", APP_FILES)
