"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout; tests that need the real data sets skip without it."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}: the real data sets are not available here")
    return SHARED_DATA
