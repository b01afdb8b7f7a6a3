"""API authentication (browser session or a per-user token) and uniform 4xx error bodies."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, django_auth

from cocreate.core.models import ApiToken


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``; only the token's SHA-256 is stored."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        now = timezone.now()
        row = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=ApiToken.hash(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return row.user


api_auth = [TokenAuth(), django_auth]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "detail": message}
    body.update(extra)
    return body


def install_error_handlers(api: NinjaAPI) -> None:
    """Every failure answers a 4xx with {"error": <machine code>, "detail": <Chinese text>}."""

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, error_body("not_found", "对象不存在或无权访问"), status=404)

    @api.exception_handler(PermissionDenied)
    def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, error_body("forbidden", str(exc) or "无权执行此操作"), status=403)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, error_body("unauthenticated", "请先登录或提供有效的令牌"), status=401)

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return api.create_response(request, error_body("invalid", "提交的数据有误", fields=fields), status=400)

    @api.exception_handler(NinjaValidationError)
    def _schema_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        return api.create_response(request, error_body("invalid", "请求格式有误", errors=exc.errors), status=422)

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return api.create_response(request, error_body("http_error", str(exc)), status=exc.status_code)
