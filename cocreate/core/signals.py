"""Login, logout and failed-login records (a cross-cutting concern, so a signal is fine)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from cocreate.core.models import AuthEvent, AuthEventKind


def _client(request: HttpRequest | None) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    return request.META.get("REMOTE_ADDR") or None, request.META.get("HTTP_USER_AGENT", "")[:300]


@receiver(user_logged_in)
def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    ip, agent = _client(request)
    AuthEvent.objects.create(kind=AuthEventKind.LOGIN, user=user, username=user.phone, ip_address=ip, user_agent=agent)


@receiver(user_logged_out)
def _on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    ip, agent = _client(request)
    AuthEvent.objects.create(
        kind=AuthEventKind.LOGOUT,
        user=user if user and user.pk else None,
        username=getattr(user, "phone", "") or "",
        ip_address=ip,
        user_agent=agent,
    )


@receiver(user_login_failed)
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    ip, agent = _client(request)
    username = str(credentials.get("username") or credentials.get("phone") or "")[:150]
    AuthEvent.objects.create(kind=AuthEventKind.LOGIN_FAILED, username=username, ip_address=ip, user_agent=agent)
