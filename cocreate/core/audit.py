"""The audit trail (审计日志): one append-only table an auditor searches, filled from few places.

* ``AuditMiddleware`` records every write request (POST/PUT/PATCH/DELETE) by a signed-in user —
  pages and API, session or API token — after the response, with its status (refused writes
  too), and every export or download (a response sent as an attachment or as xlsx/pdf/csv).
  It never stores a request body; at most the object id from the resolved URL and, for
  exports, the query string (the filter). One INSERT per write or export; nothing on other GETs.
* ``record()`` is the helper for everything else: logins, failed logins, lockouts and logouts
  (``core/signals.py``), full views of personal data (``core/privacy.py``).
* ``purge_expired()`` deletes rows older than ``AUDIT_RETENTION_DAYS`` (at least 180 days,
  网络安全法 Art. 21; a smaller setting fails the system check); run daily by ``jobs.purge_audit``
  and by ``manage.py purge_audit``.

Rows are never changed: ``AuditEvent.save`` refuses updates, its queryset refuses ``update()`` and
``delete()``, the admin is read-only and the API only lists.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import checks
from django.db import DatabaseError, connection, models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from cocreate.core.models import AuditAction, AuditEvent, Person, User

logger = logging.getLogger("cocreate.audit")

MIN_RETENTION_DAYS = 180
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXPORT_CONTENT_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf",
    "text/csv",
    "application/zip",
)
# URL kwargs that name the changed object; the first one present becomes object_id.
OBJECT_KWARGS = ("pk", "id", "object_id", "case_id", "task_id", "plan_id")
AUTH_ACTIONS = frozenset({AuditAction.LOGIN, AuditAction.LOGIN_FAILED, AuditAction.LOCKOUT, AuditAction.LOGOUT})

# The request being answered, so that ``record(user, …)`` called deep in a service or selector
# still notes the path and the client address.
_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("audit_request", default=None)


def client_ip(meta: Any) -> str | None:
    """``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` proxies the address the first one saw
    (the same rule as ``cases.tracking.client_ip``; core cannot import from cases)."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies > 0:
        forwarded = [p.strip() for p in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies][:45] or None
    return str(meta.get("REMOTE_ADDR") or "")[:45] or None


def _person_name(user: Any) -> str:
    """The name of the user's person record, else the account's display name.

    A person already loaded is used as it is; otherwise only the name is read (not the whole
    record, whose ID and phone numbers would be decrypted for nothing). The read may fail — the
    middleware records a write answered 503 while the database is down — and then the display
    name stands in: recording never raises.
    """
    if user is None:
        return ""
    name: Any = ""
    person_id = getattr(user, "person_id", None)
    if person_id:
        loaded = user._state.fields_cache.get("person") if hasattr(user, "_state") else None
        if loaded is not None:
            name = loaded.name
        else:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT name FROM {Person._meta.db_table} WHERE id = %s", [person_id])  # noqa: S608  # nosec B608
                    row = cursor.fetchone()
                name = row[0] if row else ""
            except DatabaseError:
                logger.warning("audit: the name of person %s could not be read", person_id)
    return str(name or getattr(user, "display_name", "") or "")[:50]


def _route_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    return str(match.view_name or match.url_name or "")[:100]


def _object_id(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    kwargs = match.kwargs if match is not None else {}
    for name in OBJECT_KWARGS:
        if kwargs.get(name) not in (None, ""):
            return str(kwargs[name])[:40]
    return ""


def record(
    request_or_user: Any,
    action: str,
    *,
    target: models.Model | None = None,
    detail: dict[str, Any] | None = None,
    username: str = "",
    status_code: int | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent | None:
    """Appends one event. ``request_or_user``: the request (its user, path, address) or a user
    (then ``request``, or the request being answered, gives path and address). Never raises: a
    failed audit write is logged, and the caller's work goes on."""
    if isinstance(request_or_user, HttpRequest):
        request = request_or_user
        user = getattr(request_or_user, "user", None)
    else:
        request = request or _current_request.get()
        user = request_or_user
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    event = AuditEvent(
        user_id=user.pk if user is not None else None,
        user_name=_person_name(user),
        username=(username or (getattr(user, "phone", "") if user is not None else ""))[:150],
        action=action,
        status_code=status_code,
        detail=detail or {},
    )
    if request is not None:
        event.method = (request.method or "")[:8]
        event.path = request.path[:300]
        event.route = _route_name(request)
        event.client_ip = client_ip(request.META)
        event.object_id = _object_id(request)
        if action in AUTH_ACTIONS:
            # The login POST itself is this event; the middleware does not add a "write" for it.
            request._audit_auth_recorded = True  # type: ignore[attr-defined]
    if target is not None and target.pk is not None:
        event.content_type = ContentType.objects.get_for_model(type(target))
        event.object_id = str(target.pk)[:40]
    try:
        # A savepoint: a failed audit insert must not break the caller's transaction.
        with transaction.atomic():
            event.save()
    except DatabaseError:
        logger.exception("audit event not recorded: %s %s", action, event.path)
        return None
    return event


def record_auth(request: HttpRequest | None, action: str, *, user: Any = None, username: str = "") -> None:
    """A login, failed login, lockout or logout. A failed attempt under an existing account's phone
    number is attributed to that account (so its auditor sees it); an unknown one keeps the typed
    name masked, since it may be someone's phone number."""
    from cocreate.core.privacy import mask_phone

    if user is None and username:
        user = User.objects.filter(phone=username).select_related("person").first()
    if user is None or not user.pk:
        user, username = None, mask_phone(username)
    record(user, action, username=username, request=request)


def _is_export(response: HttpResponse) -> bool:
    disposition = str(response.get("Content-Disposition", ""))
    if disposition.lower().startswith("attachment"):
        return True
    content_type = str(response.get("Content-Type", "")).split(";")[0].strip().lower()
    return content_type in EXPORT_CONTENT_TYPES


class AuditMiddleware:
    """Records write requests by signed-in users and every export, after the response.

    Place it after AuthenticationMiddleware. API tokens set ``request.user`` while the view runs,
    which is why the user is read after the response, not before.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _current_request.reset(token)
        method = request.method or ""
        if method in WRITE_METHODS:
            user = getattr(request, "user", None)
            if (
                user is not None
                and user.is_authenticated
                and not getattr(request, "_audit_auth_recorded", False)
                and not request.path.startswith(("/static/", "/media/"))
            ):
                record(request, AuditAction.WRITE, status_code=response.status_code)
        elif method == "GET" and 200 <= response.status_code < 300 and _is_export(response):
            detail: dict[str, Any] = {}
            if request.META.get("QUERY_STRING"):
                detail["query"] = str(request.META["QUERY_STRING"])[:500]
            disposition = str(response.get("Content-Disposition", ""))
            if "filename" in disposition:
                detail["file"] = disposition.split("filename", 1)[1].lstrip("*=\"'").rstrip("\"'")[:200]
            record(request, AuditAction.EXPORT, status_code=response.status_code, detail=detail)
        return response


# --- Retention --------------------------------------------------------------------------------------


def retention_days() -> int:
    return int(getattr(settings, "AUDIT_RETENTION_DAYS", MIN_RETENTION_DAYS))


def purge_expired(*, now: Any = None, batch: int = 5000) -> int:
    """Deletes events older than the retention period, in batches; returns how many went.

    Refuses to run with a period under the legal minimum, even if the system check was skipped.
    """
    days = retention_days()
    if days < MIN_RETENTION_DAYS:
        raise ValueError(f"AUDIT_RETENTION_DAYS={days} is below the minimum of {MIN_RETENTION_DAYS} days")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(AuditEvent.objects.filter(at__lt=cutoff).order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            break
        deleted += AuditEvent.objects.filter(pk__in=ids)._purge_delete()
    if deleted:
        logger.info("audit purge: %d events older than %d days deleted", deleted, days)
    return deleted


@checks.register(checks.Tags.security)
def check_audit_retention(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The audit trail is kept at least six months (网络安全法 Art. 21, 等保)."""
    try:
        days = retention_days()
    except (TypeError, ValueError):
        return [checks.Error("AUDIT_RETENTION_DAYS must be a whole number of days", id="cocreate.E010")]
    if days < MIN_RETENTION_DAYS:
        return [
            checks.Error(
                f"AUDIT_RETENTION_DAYS is {days}; the audit trail must be kept at least {MIN_RETENTION_DAYS} days.",
                hint="Set AUDIT_RETENTION_DAYS to 180 or more (docs/operations.md, Audit trail).",
                id="cocreate.E010",
            )
        ]
    return []


# --- Reading the trail (the auditor's pages and API) ------------------------------------------------

EXPORT_MAX_ROWS = 50000


def is_auditor(user: Any) -> bool:
    """Whether ``user`` may open the audit pages: an auditor somewhere, or a superuser."""
    from cocreate.core import access

    scope = access.scope_of(user)
    return scope.is_superuser or bool(scope.paths_for(access.AUDIT_ROLES))


def audit_events(
    *,
    user: Any,
    person: str = "",
    date_from: Any = None,
    date_to: Any = None,
    action: str = "",
) -> models.QuerySet[AuditEvent]:
    """The events ``user`` may see, newest first, narrowed by person (name, login name or phone,
    a part of it), a date range (local dates, both ends included) and an action kind."""
    from datetime import datetime, time

    qs = AuditEvent.objects.visible_to(user)
    person = person.strip()
    if person:
        by_phone = User.objects.filter(phone__contains=person).values("pk") if person.isdigit() else None
        q = models.Q(user_name__contains=person) | models.Q(username__contains=person)
        if by_phone is not None:
            q |= models.Q(user_id__in=by_phone)
        qs = qs.filter(q)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(at__gte=timezone.make_aware(datetime.combine(date_from, time.min), tz))
    if date_to:
        qs = qs.filter(at__lt=timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz))
    if action:
        qs = qs.filter(action=action)
    return qs.select_related("content_type").order_by("-at", "-id")
