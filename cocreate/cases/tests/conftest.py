"""Fixtures of the grievance tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_tracking_counters() -> Iterator[None]:
    """Failed tracking lookups are counted in the cache (tracking.find_limited): each test starts at zero."""
    cache.clear()
    yield
    cache.clear()
