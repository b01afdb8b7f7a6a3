"""The REST API under /api/: one NinjaAPI, each app contributes a router.

The schema is at /api/openapi.json and the docs at /api/docs (Swagger UI from ninja's own
static folder: no CDN). Authentication, pagination and the error format: docs/api.md.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import get_language
from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from cocreate.cases.api import public_router as cases_public_router
from cocreate.cases.api import router as cases_router
from cocreate.cases.api_analytics import router as cases_analytics_router
from cocreate.core.api import router as core_router
from cocreate.core.api_audit import router as audit_router
from cocreate.core.api_auth import api_auth, error_body, install_error_handlers
from cocreate.core.api_calendar import router as calendar_router
from cocreate.participation.api_decisions import router as decisions_router
from cocreate.participation.api_meetings import router as meetings_router
from cocreate.participation.api_needs import router as needs_router
from cocreate.participation.api_notices import router as notices_router
from cocreate.participation.api_public import router as public_router
from cocreate.participation.api_votes import router as votes_router
from cocreate.plans.api import router as plans_router
from cocreate.plans.api_assessment import router as assessment_router
from cocreate.plans.api_bulletins import router as bulletins_router
from cocreate.plans.api_supervision import router as supervision_router


class UTF8JSONRenderer(JSONRenderer):
    """JSON with Chinese text as is (UTF-8), not as \\u escapes: readable in logs and curl."""

    json_dumps_params: dict[str, Any] = {"ensure_ascii": False}


def unknown_route(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any /api/ path no router claims: a JSON 404 like every other API failure, not an HTML page."""
    return JsonResponse(error_body("not_found", "接口不存在"), status=404, json_dumps_params={"ensure_ascii": False})


class CocreateAPI(NinjaAPI):
    """NinjaAPI whose URL list ends with a JSON 404 for unknown paths (after every app's router)."""

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        urls.append(path("<path:rest>", unknown_route, name="unknown"))
        return urls

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        """The schema, built once per process for each prefix and language: the routes do not
        change while it runs, and building it takes seconds (≈ 400 KB for ~300 operations)."""
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        schemas = self.__dict__.setdefault("_schemas", {})
        key = (path_prefix, get_language())
        schema = schemas.get(key)
        if schema is None:
            schema = schemas[key] = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return schema


api = CocreateAPI(
    title="cocreate API",
    version="1",
    description=(
        "共同缔造平台接口。所有列表按调用者的权限范围过滤并分页（limit/offset）；"
        '错误一律返回 {"error": 代码, "detail": 中文说明}。认证：浏览器会话（写操作需 CSRF 令牌）'
        "或 Authorization: Bearer 接口令牌。写操作可带 Idempotency-Key 请求头，失败或超时后用同一个键安全重试"
        "（重放首次结果，响应头 Idempotent-Replayed: true）。详见 docs/api.md。"
    ),
    urls_namespace="api",
    auth=api_auth,
    renderer=UTF8JSONRenderer(),
)
install_error_handlers(api)
api.add_router("/", core_router)
api.add_router("/", calendar_router)
api.add_router("/", audit_router)
api.add_router("/", plans_router)
api.add_router("/", bulletins_router)
api.add_router("/", supervision_router)
api.add_router("/", assessment_router)
api.add_router("/", votes_router)
api.add_router("/", needs_router)
api.add_router("/", notices_router)
api.add_router("/", decisions_router)
api.add_router("/", meetings_router)
api.add_router("/", public_router)
# Before the cases router: "/cases/analytics" must not be read as "/cases/{id}".
api.add_router("/", cases_analytics_router)
api.add_router("/", cases_router)
api.add_router("/", cases_public_router)
