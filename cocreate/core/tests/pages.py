"""Helpers for page tests of every app: log in without the lockout backend, read bodies, check scope."""

from __future__ import annotations

from typing import Any

from django.test import Client

from cocreate.conftest import OUTSIDE_MARKER

# force_login needs one backend; axes' own backend would count the login attempts.
BACKEND = "cocreate.core.hotpath.UserBackend"


def login(client: Client, user: Any) -> Client:
    client.force_login(user, backend=BACKEND)
    return client


def body(response: Any) -> str:
    return response.content.decode()


def assert_in_scope(response: Any, *expected: str) -> str:
    """A 200 page that shows ``expected`` and nothing from outside every test role's scope."""
    assert response.status_code == 200, response.status_code
    text = body(response)
    assert OUTSIDE_MARKER not in text
    for item in expected:
        assert item in text, item
    return text
