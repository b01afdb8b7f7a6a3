"""Login, logout, failed-login and lockout records (a cross-cutting concern, so a signal is fine).

Each goes to ``AuthEvent`` (the security log it always was) and to the audit trail
(``cocreate.core.audit``), where the auditor searches them with every other action.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from cocreate.core import audit
from cocreate.core.models import AuditAction, AuthEvent, AuthEventKind


def _client(request: HttpRequest | None) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    return request.META.get("REMOTE_ADDR") or None, request.META.get("HTTP_USER_AGENT", "")[:300]


@receiver(user_logged_in)
def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    ip, agent = _client(request)
    AuthEvent.objects.create(kind=AuthEventKind.LOGIN, user=user, username=user.phone, ip_address=ip, user_agent=agent)
    audit.record_auth(request, AuditAction.LOGIN, user=user)


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
    if user is not None and user.pk:
        audit.record_auth(request, AuditAction.LOGOUT, user=user)


@receiver(user_login_failed)
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    ip, agent = _client(request)
    username = str(credentials.get("username") or credentials.get("phone") or "")[:150]
    AuthEvent.objects.create(kind=AuthEventKind.LOGIN_FAILED, username=username, ip_address=ip, user_agent=agent)
    audit.record_auth(request, AuditAction.LOGIN_FAILED, username=username)


@receiver(user_locked_out)
def _on_locked_out(sender: Any, request: HttpRequest | None = None, username: str | None = None, **kwargs: Any) -> None:
    audit.record_auth(request, AuditAction.LOCKOUT, username=str(username or "")[:150])
