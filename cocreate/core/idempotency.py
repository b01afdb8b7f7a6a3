"""Idempotency keys on the write API: a client that got no answer retries safely.

A POST/PUT/PATCH/DELETE under ``/api/`` that carries an ``Idempotency-Key`` header runs inside
one transaction together with the row that records its answer (``IdempotencyKey``):

* first request with a key → the request runs; a 2xx answer is stored with the key in the same
  transaction, so a crash (worker killed, database restarted) leaves neither the records nor the
  key, and the retry runs the request again;
* retry with the same key, method, path and body → the stored answer is replayed with the header
  ``Idempotent-Replayed: true``; nothing is written again;
* same key with another method, path or body → 422 ``idempotency_key_reused``;
* a duplicate arriving while the first is still running waits for it (the key's unique index
  holds it) and then gets the replay; after ``LOCK_WAIT`` it answers 409 ``idempotency_in_progress``;
* an answer that is not 2xx is **not** stored and its transaction is rolled back, so an error
  writes nothing and the client may fix the cause and retry with the same key.

Keys belong to the caller (token or session user): another user's identical key is independent.
They expire after ``TTL`` (``purge_expired``, run nightly by ``core.jobs``). Requests without the
header behave exactly as before. More in docs/api.md.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from cocreate.core import tokens
from cocreate.core.api_auth import DATABASE_ERRORS, unavailable_response
from cocreate.core.models import IdempotencyKey, User

logger = logging.getLogger("cocreate.api")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
# How long a duplicate waits for the first request with its key before answering 409.
LOCK_WAIT = "10s"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Visible ASCII without spaces, as the IETF draft's examples (UUIDs, random strings) are.
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
LOCK_NOT_AVAILABLE = "55P03"


def _error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status, json_dumps_params={"ensure_ascii": False})


def _caller(request: HttpRequest) -> User | None:
    """The account the API will act for: a valid bearer token first, else the signed-in session."""
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if authorization[:7].lower() == "bearer ":
        user = tokens.token_authenticate(authorization[7:].strip())
        if user is not None:
            return user
    session_user = getattr(request, "user", None)
    if session_user is not None and session_user.is_authenticated:
        return session_user
    return None


def body_fingerprint(request: HttpRequest) -> str:
    """SHA-256 of the request body; multipart uploads are not read here (see docs/api.md)."""
    if (request.content_type or "").startswith("multipart/"):
        # Reading a large upload here would hold it in memory (and trip the body size limit);
        # a retried upload is matched by key, method and path only.
        return hashlib.sha256(b"multipart").hexdigest()
    return hashlib.sha256(request.body).hexdigest()


def _replay(row: IdempotencyKey, request: HttpRequest, fingerprint: str) -> HttpResponse:
    if (row.method, row.path, row.body_sha256) != (request.method, request.path, fingerprint):
        return _error("idempotency_key_reused", "该幂等键已用于另一个请求，请为新请求生成新的键", 422)
    response = HttpResponse(
        base64.b64decode(row.response_body), status=row.status_code, content_type=row.content_type or None
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _live(user: User, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(user=user, key=key, created_at__gt=timezone.now() - TTL).first()


class _InProgress(Exception):
    """Another request with the same key did not finish within LOCK_WAIT."""


class _Taken(Exception):
    """Another request with the same key committed first."""


def _claim(*, user: User, key: str, request: HttpRequest, fingerprint: str) -> IdempotencyKey:
    """Inserts the key's row in the current transaction; a concurrent holder of the key blocks us."""
    # An expired row of the same key would trip the unique constraint: it is stale, drop it.
    IdempotencyKey.objects.filter(user=user, key=key, created_at__lte=timezone.now() - TTL).delete()
    row = IdempotencyKey(
        user=user,
        key=key,
        method=request.method or "",
        path=request.path[:1000],
        body_sha256=fingerprint,
        status_code=0,
        response_body="",
    )
    is_postgres = connection.vendor == "postgresql"
    previous = None
    try:
        with transaction.atomic():
            if is_postgres:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [LOCK_WAIT]
                    )
                    previous = cursor.fetchone()[0]
            row.save(force_insert=True)
    except IntegrityError as exc:
        raise _Taken from exc
    except OperationalError as exc:
        cause = exc.__cause__
        if getattr(cause, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise _InProgress from exc
        raise
    if is_postgres and previous is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return row


class IdempotencyMiddleware:
    """Runs a keyed write API request and the record of its answer in one transaction.

    Also answers a database outage under /api/ with ``503 unavailable`` (and ``Retry-After``),
    so a client knows to retry with the same key instead of reading an HTML error page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method not in UNSAFE_METHODS or not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            return self._keyed(request, key)
        except DATABASE_ERRORS as exc:
            # Lost the connection while reading the key or committing: a retry with the same key
            # either runs the request (not committed) or replays its answer (committed after all).
            logger.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
            return unavailable_response()

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A database outage inside an API view (or its authentication) answers 503, not an HTML 500."""
        if request.path.startswith("/api/") and isinstance(exception, DATABASE_ERRORS):
            logger.warning("database unavailable on %s %s: %s", request.method, request.path, exception)
            return unavailable_response()
        return None

    def _keyed(self, request: HttpRequest, key: str) -> HttpResponse:
        if not KEY_RE.match(key):
            return _error("idempotency_key_invalid", "幂等键应为1至255个可见ASCII字符", 400)
        user = _caller(request)
        if user is None:
            # The API answers 401 itself; there is nobody to keep the key for.
            return self.get_response(request)
        fingerprint = body_fingerprint(request)
        stored = _live(user, key)
        if stored is not None:
            return _replay(stored, request, fingerprint)
        try:
            return self._run(request, user=user, key=key, fingerprint=fingerprint)
        except _Taken:
            stored = _live(user, key)
            if stored is None:  # pragma: no cover - the holder committed, then the row expired
                return _error("idempotency_in_progress", "相同幂等键的请求正在处理，请稍后重试", 409)
            return _replay(stored, request, fingerprint)
        except _InProgress:
            return _error("idempotency_in_progress", "相同幂等键的请求正在处理，请稍后重试", 409)

    def _run(self, request: HttpRequest, *, user: User, key: str, fingerprint: str) -> HttpResponse:
        with transaction.atomic():
            row = _claim(user=user, key=key, request=request, fingerprint=fingerprint)
            response = self.get_response(request)
            if 200 <= response.status_code < 300 and response.streaming:
                # A streamed answer (a file) cannot be kept without reading it here: the write
                # stands, the key is released.
                row.delete()
            elif 200 <= response.status_code < 300:
                row.status_code = response.status_code
                row.content_type = response.get("Content-Type", "")[:200]
                row.response_body = base64.b64encode(response.content).decode("ascii")
                row.save(update_fields=["status_code", "content_type", "response_body"])
            else:
                # Not stored, and whatever the failed request wrote is undone with it.
                transaction.set_rollback(True)
        return response


def purge_expired(*, now: Any = None) -> int:
    """Deletes keys older than TTL; returns how many."""
    cutoff = (now or timezone.now()) - TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted
