"""Pages of supervision (督查督办): checks with findings, rectifications, the 督办函 PDF.

Views parse input, fetch objects through the access authority (``get_visible_or_404`` via the
selectors in ``supervision``), call one service and render. URL names start with the model
they address (check_…, finding_…, rectification_…) so the route × role matrix fills their ids.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access
from cocreate.core.forms import RegionChoiceField, apply_service_errors
from cocreate.core.models import Region, Unit
from cocreate.core.views import (
    evidence_context,
    form_page,
    history_page,
    paginate,
    service_errors_as_message,
    staff_required,
)
from cocreate.plans import supervision
from cocreate.plans.forms import UnitChoiceField, visible_units
from cocreate.plans.models import (
    CheckKind,
    Finding,
    FindingSeverity,
    Plan,
    Rectification,
    RectificationStatus,
    SupervisionCheck,
    Task,
)
from cocreate.plans.rules import SUPERVISORS


def _today() -> date:
    return timezone.localdate()


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# --- Forms (they parse input; the services in ``supervision`` decide) ------------------------------


class TaskChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.number} {obj.title}（{obj.region.name}）".strip()


class CheckForm(forms.Form):
    """A check: kind, title, the region it covers (one the user supervises), optional plan."""

    kind = forms.ChoiceField(label=gettext_lazy("检查类型"), choices=CheckKind.choices)
    title = forms.CharField(label=gettext_lazy("检查名称"), max_length=200)
    region = RegionChoiceField(label=gettext_lazy("检查范围"), queryset=Region.objects.none())
    plan = forms.ModelChoiceField(label=gettext_lazy("工作方案"), queryset=Plan.objects.none(), required=False)
    checked_on = forms.DateField(label=gettext_lazy("检查日期"), widget=_date_input())
    summary = forms.CharField(label=gettext_lazy("检查情况"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        plan = self.fields["plan"]
        assert isinstance(region, forms.ModelChoiceField) and isinstance(plan, forms.ModelChoiceField)
        region.queryset = access.manageable_regions(user, SUPERVISORS).filter(is_active=True).order_by("path")
        plan.queryset = Plan.objects.visible_to(user).order_by("-starts_on", "-id")


class FindingForm(forms.Form):
    """What the check found at a unit (and optionally a task) inside the check's region."""

    unit = UnitChoiceField(label=gettext_lazy("被检查单位"), queryset=Unit.objects.none())
    task = TaskChoiceField(label=gettext_lazy("任务"), queryset=Task.objects.none(), required=False)
    severity = forms.ChoiceField(
        label=gettext_lazy("性质"), choices=FindingSeverity.choices, initial=FindingSeverity.ISSUE
    )
    description = forms.CharField(label=gettext_lazy("发现问题"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, check: SupervisionCheck, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unit = self.fields["unit"]
        task = self.fields["task"]
        assert isinstance(unit, forms.ModelChoiceField) and isinstance(task, forms.ModelChoiceField)
        unit.queryset = visible_units(user).filter(region__path__startswith=check.region.path)
        tasks = Task.objects.visible_to(user).filter(region__path__startswith=check.region.path, fans_out=False)
        if check.plan_id is not None:
            tasks = tasks.filter(plan_id=check.plan_id)
        task.queryset = tasks.select_related("region").order_by("plan_id", "number", "id")


class RaiseForm(forms.Form):
    """A rectification request: requirement, deadline, and the letter number (blank: automatic)."""

    requirement = forms.CharField(label=gettext_lazy("整改要求"), widget=forms.Textarea(attrs={"rows": 3}))
    deadline = forms.DateField(label=gettext_lazy("整改时限"), widget=_date_input())
    letter_number = forms.CharField(
        label=gettext_lazy("督办函编号"),
        max_length=60,
        required=False,
        help_text=gettext_lazy("留空则自动编号，如：督办〔2026〕1号"),
    )


class RespondForm(forms.Form):
    """What the unit rectified, with an optional photo or file as evidence."""

    response = forms.CharField(label=gettext_lazy("整改情况"), widget=forms.Textarea(attrs={"rows": 4}))
    evidence = forms.FileField(label=gettext_lazy("佐证材料（可选）"), required=False)
    evidence_description = forms.CharField(label=gettext_lazy("佐证说明"), max_length=200, required=False)


class ReopenForm(forms.Form):
    """Why a rectification goes back to the unit, and optionally a new deadline."""

    reason = forms.CharField(label=gettext_lazy("退回原因"), max_length=100)
    deadline = forms.DateField(label=gettext_lazy("新的整改时限（可选）"), required=False, widget=_date_input())


# --- Checks ---------------------------------------------------------------------------------------


def _check_url(check: SupervisionCheck | int) -> str:
    return reverse("plans:check_detail", args=[check if isinstance(check, int) else check.pk])


@staff_required
def check_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if kind not in CheckKind.values:
        kind = ""
    checks = supervision.check_list(user=request.user, search=search, kind=kind)
    context = {
        "page": paginate(request, checks),
        "search": search,
        "kind": kind,
        "kinds": CheckKind.choices,
        "can_create": access.manageable_regions(request.user, SUPERVISORS).exists(),
    }
    return render(request, "plans/check_list.html", context)


@staff_required
def check_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    supervision.require_supervisor_somewhere(user)
    form = CheckForm(request.POST or None, user=user, initial={"checked_on": _today()})
    return form_page(
        request,
        form,
        save=lambda data: supervision.check_create(actor=user, **data),
        done=lambda check: (_("已登记检查“%(title)s”。") % {"title": check.title}, _check_url(check)),
        title=_("登记督查检查"),
        cancel_url=reverse("plans:check_list"),
    )


@staff_required
def check_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    check = supervision.check_detail(user=user, pk=pk)
    today = _today()
    findings = supervision.check_findings(user=user, check=check)
    can_change = access.can(user, access.CHANGE, check)
    rows = []
    for finding in findings:
        rectification = getattr(finding, "rectification", None)
        rows.append(
            {
                "finding": finding,
                "rectification": rectification,
                "overdue": rectification is not None and supervision.is_overdue(rectification, today),
            }
        )
    context = {
        "check": check,
        "rows": rows,
        "can_change": can_change,
        "finding_form": FindingForm(user=user, check=check) if can_change else None,
        "tab": "detail",
    }
    return render(request, "plans/check_detail.html", context)


@staff_required
def check_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, SupervisionCheck, pk, "plans:check_detail")


@staff_required
def check_finding_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    check = supervision.check_detail(user=user, pk=pk)
    if not access.can(user, access.CHANGE, check):
        raise Http404("not found")
    form = FindingForm(request.POST or None, user=user, check=check)
    return form_page(
        request,
        form,
        save=lambda data: supervision.finding_add(actor=user, check=check, **data),
        done=lambda _finding: (_("已记录发现的问题。"), _check_url(check)),
        title=_("记录发现问题：%(title)s") % {"title": check.title},
        cancel_url=_check_url(check),
    )


@staff_required
def finding_rectify(request: HttpRequest, pk: int) -> HttpResponse:
    """Raises a rectification request from a finding (督办)."""
    user = request.user
    finding = access.get_visible_or_404(
        Finding.objects.select_related("check_record__region", "unit", "region"), user, pk=pk
    )
    if not access.can(user, access.CHANGE, finding.check_record):
        raise Http404("not found")
    form = RaiseForm(request.POST or None)
    return form_page(
        request,
        form,
        save=lambda data: supervision.rectification_raise(actor=user, finding=finding, **data),
        done=lambda r: (
            _("已下发督办：%(number)s。") % {"number": r.letter_number},
            reverse("plans:rectification_detail", args=[r.pk]),
        ),
        title=_("下发整改督办：%(unit)s") % {"unit": finding.unit.name},
        cancel_url=_check_url(finding.check_record_id),
        submit=_("下发督办"),
    )


# --- Rectifications -------------------------------------------------------------------------------


@staff_required
def rectification_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = _today()
    status = request.GET.get("status", "")
    if status not in RectificationStatus.values:
        status = ""
    mine = request.GET.get("mine") == "1"
    overdue = request.GET.get("overdue") == "1"
    rectifications = supervision.rectification_list(user=user, status=status, mine=mine, overdue=overdue, today=today)
    context = {
        "page": paginate(request, rectifications),
        "status": status,
        "statuses": RectificationStatus.choices,
        "mine": mine,
        "overdue": overdue,
        "counts": supervision.rectification_counts(user=user, today=today),
        "filtered": bool(status or mine or overdue),
    }
    return render(request, "plans/rectification_list.html", context)


def _rectification_url(rectification: Rectification | int) -> str:
    pk = rectification if isinstance(rectification, int) else rectification.pk
    return reverse("plans:rectification_detail", args=[pk])


def _reopen_reasons(rectification: Rectification) -> list[Any]:
    """The reasons given each time the rectification was sent back (kept in its history)."""
    return list(
        rectification.history.filter(history_change_reason__isnull=False)
        .exclude(history_change_reason="")
        .select_related("history_user")
        .order_by("-history_date")
    )


@staff_required
def rectification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    rectification = supervision.rectification_detail(user=user, pk=pk, today=_today())
    may_respond = rectification.status == RectificationStatus.OPEN and supervision.can_respond(user, rectification)
    may_supervise = supervision.can_supervise(user, rectification)
    context = {
        "rectification": rectification,
        "finding": rectification.finding,
        "check": rectification.finding.check_record,
        "check_visible": access.can(user, access.VIEW, rectification.finding.check_record),
        "may_respond": may_respond,
        "respond_form": RespondForm() if may_respond else None,
        "may_close": may_supervise and rectification.status == RectificationStatus.SUBMITTED,
        "may_reopen": may_supervise and rectification.status != RectificationStatus.OPEN,
        "reopen_form": ReopenForm(),
        "reopen_reasons": _reopen_reasons(rectification),
        "tab": "detail",
        **evidence_context(request, rectification),
    }
    return render(request, "plans/rectification_detail.html", context)


@staff_required
def rectification_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, Rectification, pk, "plans:rectification_detail")


@staff_required
def rectification_respond(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    rectification = supervision.rectification_detail(user=user, pk=pk, today=_today())
    if rectification.status != RectificationStatus.OPEN or not supervision.can_respond(user, rectification):
        raise Http404("not found")
    form = RespondForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            supervision.rectification_respond(
                actor=user,
                rectification=rectification,
                response=data["response"],
                upload=data.get("evidence"),
                evidence_description=data.get("evidence_description") or "",
            )
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("已报送整改情况。"))
            return redirect(_rectification_url(rectification))
    context = {
        "form": form,
        "rectification": rectification,
        "title": _("报送整改情况"),
        "cancel_url": _rectification_url(rectification),
    }
    return render(
        request, "plans/rectification_respond.html", context, status=400 if form.is_bound and form.errors else 200
    )


def _supervised(request: HttpRequest, pk: int) -> Rectification:
    rectification = supervision.rectification_detail(user=request.user, pk=pk)
    if not supervision.can_supervise(request.user, rectification):
        raise Http404("not found")
    return rectification


@require_POST
@staff_required
def rectification_close(request: HttpRequest, pk: int) -> HttpResponse:
    rectification = _supervised(request, pk)
    try:
        supervision.rectification_close(actor=request.user, rectification=rectification)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        service_errors_as_message(request, exc)
    else:
        messages.success(request, _("已销号。"))
    return redirect(_rectification_url(rectification))


@require_POST
@staff_required
def rectification_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    rectification = _supervised(request, pk)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写退回原因（100字以内），日期格式为年-月-日。"))
        return redirect(_rectification_url(rectification))
    try:
        supervision.rectification_reopen(
            actor=request.user,
            rectification=rectification,
            reason=form.cleaned_data["reason"],
            deadline=form.cleaned_data.get("deadline"),
        )
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        service_errors_as_message(request, exc)
    else:
        messages.success(request, _("已退回整改。"))
    return redirect(_rectification_url(rectification))


@staff_required
def rectification_letter(request: HttpRequest, pk: int) -> HttpResponse:
    """The 督办函 as PDF (Chinese font), rendered from letter_pdf.html."""
    rectification = supervision.rectification_detail(user=request.user, pk=pk)
    # Imported here: WeasyPrint is heavy, and only this page needs it.
    from cocreate.core.pdf import render_pdf

    data = render_pdf("plans/letter_pdf.html", supervision.letter_context(rectification))
    response = HttpResponse(data, content_type="application/pdf")
    filename = f"{rectification.letter_number or '督办函'}-{rectification.unit.name}.pdf"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response


# --- Addresses (included from cocreate/plans/urls.py under "supervision/") -------------------------

urlpatterns = [
    path("checks/", check_list, name="check_list"),
    path("checks/new/", check_create, name="check_create"),
    path("checks/<int:pk>/", check_detail, name="check_detail"),
    path("checks/<int:pk>/history/", check_history, name="check_history"),
    path("checks/<int:pk>/findings/new/", check_finding_add, name="check_finding_add"),
    path("findings/<int:pk>/rectify/", finding_rectify, name="finding_rectify"),
    path("rectifications/", rectification_list, name="rectification_list"),
    path("rectifications/<int:pk>/", rectification_detail, name="rectification_detail"),
    path("rectifications/<int:pk>/history/", rectification_history, name="rectification_history"),
    path("rectifications/<int:pk>/respond/", rectification_respond, name="rectification_respond"),
    path("rectifications/<int:pk>/close/", rectification_close, name="rectification_close"),
    path("rectifications/<int:pk>/reopen/", rectification_reopen, name="rectification_reopen"),
    path("rectifications/<int:pk>/letter.pdf", rectification_letter, name="rectification_letter"),
]
