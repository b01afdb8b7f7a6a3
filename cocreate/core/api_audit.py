"""REST endpoint of the audit trail: ``GET /api/audit`` for auditors (and superusers), read-only.

The trail is written by the application only (cocreate/core/audit.py); there is no write
operation here on purpose. Other callers get 403; an auditor sees the events of the accounts
placed in their subtree, newest first, filtered like the page.
"""

# No "from __future__ import annotations": ninja reads the annotations of the handlers at import.
import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import model_validator

from cocreate.core import audit
from cocreate.core.api import LIST_ERRORS, Pagination, _errors
from cocreate.core.models import AuditAction, AuditEvent
from cocreate.core.privacy import mask_phone
from cocreate.core.schemas import QuerySchema

router = Router()


class AuditFilter(QuerySchema):
    person: str | None = Field(None, max_length=50, description="姓名、登录名或手机号（部分即可）")
    date_from: dt.date | None = Field(None, description="起始日期（含），北京时间")
    date_to: dt.date | None = Field(None, description="截止日期（含），北京时间")
    action: AuditAction | None = Field(None, description="操作类型")

    @model_validator(mode="after")
    def _range(self) -> "AuditFilter":
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self


class AuditEventOut(Schema):
    id: int
    at: dt.datetime
    action: str
    user_id: int | None
    user_name: str
    username: str = Field(description="登录名（手机号已脱敏）")
    method: str
    path: str
    route: str
    status_code: int | None
    target_type: str | None = Field(description="对象类型 app_label.model")
    object_id: str
    client_ip: str | None
    detail: dict[str, Any]

    @staticmethod
    def resolve_username(obj: AuditEvent) -> str:
        return mask_phone(obj.username) if obj.username.isdigit() else obj.username

    @staticmethod
    def resolve_target_type(obj: AuditEvent) -> str | None:
        ct = obj.content_type
        return f"{ct.app_label}.{ct.model}" if ct is not None else None


@router.get(
    "/audit",
    response={200: list[AuditEventOut], **LIST_ERRORS, **_errors(403)},
    tags=["audit"],
    summary="审计日志（审计员）",
    description="按人员、日期范围、操作类型查询审计日志，最新的在前；仅审计员可用，其他账号返回 403。",
)
@paginate(Pagination)
def audit_list(request: HttpRequest, filters: Query[AuditFilter]) -> QuerySet[AuditEvent]:
    if not audit.is_auditor(request.user):
        raise PermissionDenied("仅审计员可查看审计日志")
    return audit.audit_events(
        user=request.user,
        person=filters.person or "",
        date_from=filters.date_from,
        date_to=filters.date_to,
        action=filters.action.value if filters.action else "",
    )
