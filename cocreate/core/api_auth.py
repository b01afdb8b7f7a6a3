"""API authentication (browser session or a per-user token) and uniform 4xx error bodies.

Every failure answers ``{"error": <machine code>, "detail": <Chinese text>, ...}``:
``fields`` maps a field name to its messages when the data was wrong (400, 422).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from cocreate.core import tokens
from cocreate.core.concurrency import StaleEdit

logger = logging.getLogger("cocreate.api")


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``; only the token's SHA-256 is stored."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = tokens.token_authenticate(token.strip())
        if user is None:
            return None
        # Services, history and the access authority all read request.user.
        request.user = user
        request.api_token_auth = True  # type: ignore[attr-defined]
        return user


class SessionAuth(NinjaSessionAuth):
    """The browser session; unsafe methods must carry the CSRF token (ninja's django_auth check).

    The CSRF check runs only for a signed-in session, so an anonymous call answers 401, not 403.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


token_auth = TokenAuth()
session_auth = SessionAuth(csrf=True)
api_auth = [token_auth, session_auth]


def is_token_request(request: HttpRequest) -> bool:
    """True when the caller authenticated with an API token rather than a browser session."""
    return bool(getattr(request, "api_token_auth", False))


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "detail": message}
    body.update(extra)
    return body


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _field_name(loc: Any) -> str:
    # ninja prefixes the source ("body", "query", "path", "form"); a body model adds its name.
    parts = [str(p) for p in (loc or ())]
    if parts and parts[0] in {"body", "query", "path", "form", "file", "header", "cookie"}:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts) or "__all__"


# Status codes an HttpError may carry (raised by ninja itself or by a handler) → machine code, text.
HTTP_ERROR_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求无法解析"),
    401: ("unauthenticated", "请先登录或提供有效的令牌"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "对象不存在或无权访问"),
    405: ("method_not_allowed", "不支持此请求方法"),
    409: ("conflict", "数据冲突，请刷新后重试"),
    413: ("too_large", "上传内容过大"),
    429: ("throttled", "请求过于频繁，请稍后再试"),
}


# The database is restarting or unreachable: the request did not happen (its transaction is gone),
# so the client should retry — with the same Idempotency-Key (docs/api.md).
DATABASE_ERRORS = (OperationalError, InterfaceError)
UNAVAILABLE = ("unavailable", "服务暂时不可用，请稍后用相同的幂等键重试")
RETRY_AFTER_SECONDS = 2


def unavailable_response() -> HttpResponse:
    """503 with the uniform error body and Retry-After, for a database that is not answering."""
    response = JsonResponse(error_body(*UNAVAILABLE), status=503, json_dumps_params={"ensure_ascii": False})
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def install_error_handlers(api: NinjaAPI) -> None:
    """Every failure answers a 4xx with {"error": <machine code>, "detail": <Chinese text>}."""

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        extra: dict[str, Any] = {}
        fields = getattr(exc, "fields", None)
        if fields:
            extra["fields"] = fields
        return api.create_response(request, error_body("not_found", "对象不存在或无权访问", **extra), status=404)

    @api.exception_handler(PermissionDenied)
    def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, error_body("forbidden", str(exc) or "无权执行此操作"), status=403)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
        response = api.create_response(request, error_body("unauthenticated", "请先登录或提供有效的令牌"), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="cocreate"'
        return response

    @api.exception_handler(StaleEdit)
    def _stale(request: HttpRequest, exc: StaleEdit) -> HttpResponse:
        # Someone else saved the record since the caller read it (core/concurrency.py): nothing
        # was written; the caller re-reads ``version`` and decides.
        body = error_body(
            "stale",
            str(exc.message),
            fields={"expected_version": [str(exc.message)]},
            changed=exc.changed,
            version=exc.current,
        )
        return api.create_response(request, body, status=409)

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        if hasattr(exc, "error_dict"):
            fields = {name: _as_list(messages) for name, messages in exc.message_dict.items()}
        else:
            fields = {"__all__": _as_list(exc.messages)}
        return api.create_response(request, error_body("invalid", "提交的数据有误", fields=fields), status=400)

    @api.exception_handler(NinjaValidationError)
    def _schema_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields: dict[str, list[str]] = {}
        errors: list[dict[str, Any]] = []
        for err in exc.errors:
            name = _field_name(err.get("loc"))
            message = str(err.get("msg", ""))
            fields.setdefault(name, []).append(message)
            errors.append({"loc": [str(p) for p in err.get("loc", ())], "msg": message, "type": str(err.get("type"))})
        return api.create_response(
            request, error_body("invalid_request", "请求格式有误", fields=fields, errors=errors), status=422
        )

    @api.exception_handler(IntegrityError)
    def _conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        # Two requests raced past full_clean(); the database constraint caught the second.
        logger.info("integrity error on %s %s: %s", request.method, request.path, exc)
        return api.create_response(request, error_body("conflict", "数据冲突，请刷新后重试"), status=409)

    @api.exception_handler(OperationalError)
    @api.exception_handler(InterfaceError)
    def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return unavailable_response()

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code, text = HTTP_ERROR_CODES.get(exc.status_code, ("http_error", "请求失败"))
        if exc.status_code == 403 and "csrf" in str(exc).lower():
            code, text = "csrf_failed", "CSRF 校验失败，请刷新页面后重试"
        elif exc.status_code == 400 and str(exc) and "parse" not in str(exc).lower():
            text = str(exc)
        return api.create_response(request, error_body(code, text), status=exc.status_code)
