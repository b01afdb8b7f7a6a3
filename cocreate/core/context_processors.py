"""Template context shared by every page: text size and the user's navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.functional import SimpleLazyObject

from cocreate.core.navigation import active_entry, navigation_for, navigation_html

LARGE_TEXT_COOKIE = "cc_large_text"


def ui(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    large = request.COOKIES.get(LARGE_TEXT_COOKIE) == "1"
    if user is not None and user.is_authenticated and getattr(user, "large_text", False):
        large = True
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match is not None else ""

    def items() -> list[dict[str, str]]:
        entries = navigation_for(user)
        active = active_entry(entries, view_name)
        for item in entries:
            item["active"] = "1" if item["name"] == active else ""
        return entries

    # The base template prints nav_html (rendered once per menu and section); nav_items, the
    # same entries as data, is built only when something asks for it.
    return {
        "large_text": large,
        "nav_html": navigation_html(user, view_name),
        "nav_items": SimpleLazyObject(items),
        "base_urls": _base_urls(),
    }


_BASE_URLS: dict[str, dict[str, str]] = {}


def _base_urls() -> dict[str, str]:
    """The base template's own links, reversed once per process (and script prefix)."""
    prefix = get_script_prefix()
    urls = _BASE_URLS.get(prefix)
    if urls is None:
        urls = _BASE_URLS[prefix] = {
            "home": reverse("core:home"),
            "logout": reverse("core:logout"),
            "text_size": reverse("core:text_size"),
            "set_language": reverse("set_language"),
        }
    return urls
