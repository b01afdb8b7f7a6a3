"""The auditor's pages (审计日志): search the audit trail by person, date range and action, and
export what the search found as xlsx (the export is itself audited, by the audit middleware).

Only auditors (``Role.AUDITOR``) and superusers open these pages; everyone else gets 403. What an
auditor sees is ``AuditEvent.objects.visible_to(user)``: the accounts placed in their subtree
(cocreate/core/access.py). Login names (phone numbers) are shown masked.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cocreate.core import audit
from cocreate.core.models import AuditAction, AuditEvent
from cocreate.core.privacy import mask_phone
from cocreate.core.views import _paginate

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class AuditFilterForm(forms.Form):
    """The auditor's search: a person, a date range, an action kind; every field optional."""

    person = forms.CharField(label=gettext_lazy("人员（姓名或手机号）"), required=False, max_length=50, strip=True)
    date_from = forms.DateField(
        label=gettext_lazy("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    action = forms.ChoiceField(
        label=gettext_lazy("操作类型"),
        required=False,
        choices=[("", gettext_lazy("全部")), *list(AuditAction.choices)],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("起始日期不能晚于截止日期。"))
        return data


def _require_auditor(user: Any) -> None:
    if not audit.is_auditor(user):
        raise PermissionDenied


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, Any]:
    form = AuditFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    events = audit.audit_events(user=request.user, **filters)
    return form, events


def _row(event: AuditEvent) -> dict[str, Any]:
    target = ""
    if event.content_type_id and event.content_type is not None:
        target = f"{event.content_type.name} #{event.object_id}"
    elif event.object_id:
        target = f"#{event.object_id}"
    return {
        "event": event,
        "login": mask_phone(event.username) if event.username.isdigit() else event.username,
        "target": target,
        "detail": "; ".join(f"{k}={v}" for k, v in sorted(event.detail.items())) if event.detail else "",
    }


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    _require_auditor(request.user)
    form, events = _filtered(request)
    page = _paginate(request, events)
    rows = [_row(e) for e in page.object_list]
    return render(
        request,
        "core/audit_list.html",
        {"form": form, "page": page, "rows": rows, "retention_days": audit.retention_days()},
    )


@login_required
def audit_export(request: HttpRequest) -> HttpResponse:
    _require_auditor(request.user)
    form, events = _filtered(request)
    back = reverse("core:audit_list") + (f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else "")
    if form.is_bound and not form.is_valid():
        messages.error(request, _("筛选条件有误，请修改后再导出。"))
        return redirect(back)
    count = events.count()
    if count > audit.EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("符合条件的记录有 %(count)d 条，超过单次导出上限 %(limit)d 条，请缩小日期范围。")
            % {"count": count, "limit": audit.EXPORT_MAX_ROWS},
        )
        return redirect(back)
    data = _workbook(events)
    response = HttpResponse(data, content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.xlsx"'
    return response


def _workbook(events: Any) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("审计日志"))
    sheet.append(
        [
            _("时间"),
            _("操作类型"),
            _("姓名"),
            _("登录名"),
            _("请求方法"),
            _("地址"),
            _("路由"),
            _("状态码"),
            _("对象"),
            _("客户端地址"),
            _("详情"),
        ]
    )
    for event in events.iterator(chunk_size=2000):
        row = _row(event)
        # openpyxl refuses aware datetimes: local wall-clock time, as on the page.
        at: datetime = timezone.localtime(event.at).replace(tzinfo=None)
        sheet.append(
            [
                at,
                str(event.get_action_display()),
                event.user_name,
                row["login"],
                event.method,
                event.path,
                event.route,
                event.status_code,
                row["target"],
                event.client_ip or "",
                row["detail"],
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
