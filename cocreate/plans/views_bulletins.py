"""Pages of bulletins (通报): list, create and edit drafts, the computed tables, publish, PDF and xlsx.

Views parse input, fetch through the access authority and call ``cocreate.plans.bulletins``;
the figures are never entered on a form. URL names start with ``bulletin_`` so the route ×
role matrix addresses them with out-of-scope bulletins.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access
from cocreate.core.forms import RegionChoiceField
from cocreate.core.models import Region
from cocreate.core.views import (
    form_page,
    history_page,
    int_or_none,
    paginate,
    require_change,
    require_manageable,
    staff_required,
)
from cocreate.plans import bulletins
from cocreate.plans.models import Bulletin, BulletinStatus, Plan
from cocreate.plans.rules import SUPERVISORS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class BulletinForm(forms.Form):
    """A bulletin's heading, scope, period and the supervisor's paragraphs (no figures: computed)."""

    title = forms.CharField(label=gettext_lazy("标题"), max_length=200)
    issue_number = forms.CharField(
        label=gettext_lazy("期号"), max_length=40, required=False, help_text=gettext_lazy("如：第3期")
    )
    region = RegionChoiceField(label=gettext_lazy("通报范围"), queryset=Region.objects.none())
    plan = forms.ModelChoiceField(
        label=gettext_lazy("工作方案"),
        queryset=Plan.objects.none(),
        required=False,
        empty_label=gettext_lazy("全部工作方案"),
    )
    period_start = forms.DateField(label=gettext_lazy("统计起始"), widget=_date_input())
    period_end = forms.DateField(label=gettext_lazy("统计截止"), widget=_date_input())
    praise = forms.CharField(
        label=gettext_lazy("表扬"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("每段一行。"),
    )
    criticism = forms.CharField(
        label=gettext_lazy("批评"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("每段一行。"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        plan = self.fields["plan"]
        assert isinstance(region, forms.ModelChoiceField) and isinstance(plan, forms.ModelChoiceField)
        region.queryset = access.manageable_regions(user, SUPERVISORS).order_by("path")
        plan.queryset = Plan.objects.visible_to(user).order_by("-starts_on", "-id")

    @staticmethod
    def initial_for(bulletin: Bulletin) -> dict[str, Any]:
        names = ("title", "issue_number", "region", "plan", "period_start", "period_end", "praise", "criticism")
        return {name: getattr(bulletin, name) for name in names}


def _detail_url(bulletin: Bulletin) -> str:
    return reverse("plans:bulletin_detail", args=[bulletin.pk])


@staff_required
def bulletin_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if status not in BulletinStatus.values:
        status = ""
    region_id = int_or_none(request.GET.get("region"))
    region = Region.objects.visible_to(user).filter(pk=region_id).first() if region_id else None
    page = paginate(request, bulletins.bulletin_list(user=user, region=region, status=status, search=search))
    return render(
        request,
        "plans/bulletin_list.html",
        {
            "page": page,
            "search": search,
            "status": status,
            "statuses": BulletinStatus.choices,
            "region": region,
            "can_create": access.manageable_regions(user, SUPERVISORS).exists(),
        },
    )


@staff_required
def bulletin_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, SUPERVISORS)
    form = BulletinForm(request.POST or None, user=user)
    return form_page(
        request,
        form,
        save=lambda data: bulletins.bulletin_create(actor=user, **data),
        done=lambda bulletin: (_("已新建通报草稿“%(title)s”。") % {"title": bulletin.title}, _detail_url(bulletin)),
        title=_("新建通报"),
        cancel_url=reverse("plans:bulletin_list"),
    )


@staff_required
def bulletin_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    bulletin = bulletins.bulletin_detail(user=user, pk=pk)
    document = bulletins.bulletin_document(user=user, bulletin=bulletin)
    can_change = bulletin.status == BulletinStatus.DRAFT and access.can(user, access.CHANGE, bulletin)
    return render(request, "plans/bulletin_detail.html", {**document, "can_change": can_change, "tab": "detail"})


@staff_required
def bulletin_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    bulletin = bulletins.bulletin_detail(user=user, pk=pk)
    require_change(user, bulletin)
    if bulletin.status != BulletinStatus.DRAFT:
        messages.error(request, _("通报已发布，不能再修改"))
        return redirect(_detail_url(bulletin))
    form = BulletinForm(request.POST or None, user=user, initial=BulletinForm.initial_for(bulletin))
    return form_page(
        request,
        form,
        save=lambda data: bulletins.bulletin_update(actor=user, bulletin=bulletin, data=data),
        done=lambda _result: (_("已保存。"), _detail_url(bulletin)),
        title=_("编辑通报：%(title)s") % {"title": bulletin.title},
        cancel_url=_detail_url(bulletin),
    )


@require_POST
@staff_required
def bulletin_publish(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    bulletin = bulletins.bulletin_detail(user=user, pk=pk)
    try:
        bulletins.bulletin_publish(actor=user, bulletin=bulletin)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        messages.error(request, " ".join(str(m) for m in exc.messages))
    else:
        messages.success(request, _("通报已发布，统计数据已固定。"))
    return redirect(_detail_url(bulletin))


def _download(data: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response


def _filename(bulletin: Bulletin, extension: str) -> str:
    stem = f"{bulletin.title}{bulletin.issue_number}".replace("/", "-").replace("\\", "-")
    return f"{stem}.{extension}"


@staff_required
def bulletin_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = bulletins.bulletin_detail(user=request.user, pk=pk)
    try:
        data = bulletins.bulletin_pdf(user=request.user, bulletin=bulletin)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    return _download(data, "application/pdf", _filename(bulletin, "pdf"))


@staff_required
def bulletin_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = bulletins.bulletin_detail(user=request.user, pk=pk)
    try:
        data = bulletins.bulletin_xlsx(user=request.user, bulletin=bulletin)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    return _download(data, XLSX, _filename(bulletin, "xlsx"))


@staff_required
def bulletin_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, Bulletin, pk, "plans:bulletin_detail")


# Included by cocreate/plans/urls.py under "bulletins/" (namespace "plans").
urlpatterns = [
    path("", bulletin_list, name="bulletin_list"),
    path("new/", bulletin_create, name="bulletin_create"),
    path("<int:pk>/", bulletin_detail, name="bulletin_detail"),
    path("<int:pk>/edit/", bulletin_edit, name="bulletin_edit"),
    path("<int:pk>/publish/", bulletin_publish, name="bulletin_publish"),
    path("<int:pk>/pdf/", bulletin_pdf, name="bulletin_pdf"),
    path("<int:pk>/xlsx/", bulletin_xlsx, name="bulletin_xlsx"),
    path("<int:pk>/history/", bulletin_history, name="bulletin_history"),
]
