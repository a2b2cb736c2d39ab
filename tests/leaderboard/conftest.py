"""Fixtures of the leaderboard page tests."""

from __future__ import annotations

import pytest
from support.chromium import running_chromium


@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium with a fresh profile, and a DevTools client on its page."""
    with running_chromium(tmp_path) as client:
        yield client
