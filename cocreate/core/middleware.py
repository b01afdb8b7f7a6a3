"""Security headers that Django's SecurityMiddleware does not set, and the idle-session refresh."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY as SESSION_AUTH_KEY
from django.http import HttpRequest, HttpResponse

# When the session was last saved by SessionIdleMiddleware (epoch seconds).
SEEN_KEY = "_cocreate_seen"

# Scripts and styles only from our own origin: no inline script, no CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)

DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class SecurityHeadersMiddleware:
    """Adds CSP, Permissions-Policy and cross-origin isolation headers to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Swagger UI at /api/docs loads only local scripts but styles its widgets inline.
        policy = DOCS_CONTENT_SECURITY_POLICY if request.path.startswith("/api/docs") else CONTENT_SECURITY_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


class SessionIdleMiddleware:
    """Keeps the idle timeout without writing the session on every request.

    ``SESSION_COOKIE_AGE`` counts from the last time the session was saved. Saving it on every
    request (``SESSION_SAVE_EVERY_REQUEST``) costs an ``UPDATE`` of the session row per page
    view; here a signed-in session is saved again only when its last save is older than
    ``SESSION_REFRESH_SECONDS``, so the idle timeout holds to within that many seconds.
    Must come after ``SessionMiddleware`` (it marks the session before that one saves it).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty() and session.get(SESSION_AUTH_KEY):
            now = int(time.time())
            if now - int(session.get(SEEN_KEY, 0)) >= settings.SESSION_REFRESH_SECONDS:
                session[SEEN_KEY] = now  # modified: SessionMiddleware saves it, refreshing the expiry
        return response
