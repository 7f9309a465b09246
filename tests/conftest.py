"""Fixtures shared by unit and integration tests (kept deliberately tiny)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Absolute path of the repository checkout (for templates, example plans, scripts)."""
    return REPO_ROOT
