"""Template context shared by every page: text size and the user's navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from cocreate.core.navigation import navigation_for

LARGE_TEXT_COOKIE = "cc_large_text"


def ui(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    large = request.COOKIES.get(LARGE_TEXT_COOKIE) == "1"
    if user is not None and user.is_authenticated and getattr(user, "large_text", False):
        large = True
    return {"large_text": large, "nav_items": navigation_for(user)}
