"""The REST API under /api/: one NinjaAPI, each app contributes a router."""

from __future__ import annotations

from ninja import NinjaAPI

from cocreate.core.api import router as core_router
from cocreate.core.api_auth import api_auth, install_error_handlers

api = NinjaAPI(
    title="cocreate API",
    version="1",
    description="共同缔造平台接口。所有列表按调用者的权限范围过滤，并分页。",
    urls_namespace="api",
    auth=api_auth,
)
install_error_handlers(api)
api.add_router("/", core_router)
