"""Pages of the yearly assessment (年度考核): rubric, self-assessment, review, ranking and export.

Views parse input, fetch through the selectors of ``cocreate.plans.assessment`` (scoped by the
access authority) and call its services; scores and figures are never computed here, only
formatted. URL names start with the model they address (``assessment_``, ``assessmentitem_``,
``assessmententry_``) so the route × role matrix fills their ids with out-of-scope rows.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access
from cocreate.core.views import (
    form_page,
    history_page,
    int_or_none,
    paginate,
    require_change,
    require_manageable,
    staff_required,
)
from cocreate.plans import assessment as svc
from cocreate.plans.models import (
    Assessment,
    AssessmentEntry,
    AssessmentItem,
    AssessmentStatus,
    EntryStatus,
    ItemKind,
    Plan,
    PlanStatus,
)
from cocreate.plans.rules import ASSESSORS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _num(value: Decimal | int | None) -> str:
    """A figure without trailing zeros: 8.00 → "8", 72.50 → "72.5"."""
    if value is None:
        return ""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "") else text


# --- Forms ----------------------------------------------------------------------------------------


class AssessmentCreateForm(forms.Form):
    """Which plan and year to assess; the period follows from them, the rubric starts as the default."""

    plan = forms.ModelChoiceField(label=gettext_lazy("工作方案"), queryset=Plan.objects.none())
    year = forms.IntegerField(label=gettext_lazy("考核年度"), min_value=2000, max_value=2100)
    title = forms.CharField(
        label=gettext_lazy("考核名称"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("不填则按“方案名称+年度考核”生成。"),
    )
    self_deadline = forms.DateField(label=gettext_lazy("自评截止日期"), required=False, widget=_date_input())

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plan = self.fields["plan"]
        assert isinstance(plan, forms.ModelChoiceField)
        plan.queryset = (
            Plan.objects.visible_to(user)
            .exclude(status=PlanStatus.DRAFT)
            .filter(region__in=access.manageable_regions(user, ASSESSORS))
            .order_by("-starts_on", "-id")
        )


class AssessmentEditForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("考核名称"), max_length=200)
    period_start = forms.DateField(label=gettext_lazy("考核起始"), widget=_date_input())
    period_end = forms.DateField(label=gettext_lazy("考核截止"), widget=_date_input())
    self_deadline = forms.DateField(label=gettext_lazy("自评截止日期"), required=False, widget=_date_input())

    @staticmethod
    def initial_for(assessment: Assessment) -> dict[str, Any]:
        return {name: getattr(assessment, name) for name in ("title", "period_start", "period_end", "self_deadline")}


class ItemForm(forms.Form):
    """One line of the rubric; the service checks the weight, the name and one item per computed kind."""

    kind = forms.ChoiceField(label=gettext_lazy("计分方式"), choices=ItemKind.choices)
    name = forms.CharField(label=gettext_lazy("考核项目"), max_length=120)
    weight = forms.DecimalField(
        label=gettext_lazy("分值"),
        max_digits=5,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0.1", "max": "100"}),
    )
    criteria = forms.CharField(label=gettext_lazy("评分标准"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    @staticmethod
    def initial_for(item: AssessmentItem) -> dict[str, Any]:
        return {"kind": item.kind, "name": item.name, "weight": item.weight, "criteria": item.criteria}


# --- Helpers ----------------------------------------------------------------------------------------


def _detail_url(assessment: Assessment | int) -> str:
    pk = assessment if isinstance(assessment, int) else assessment.pk
    return reverse("plans:assessment_detail", args=[pk])


def _entry_url(entry: AssessmentEntry) -> str:
    return reverse("plans:assessmententry_detail", args=[entry.pk])


def _error_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _metric_hint(line: svc.Line) -> str:
    """The figure behind a computed item's points: "8/10", or the mean progress for completion."""
    metric = line.metric
    if metric is None:
        if line.review_score is None and line.self_score is not None:
            return _("自评%(score)s") % {"score": _num(line.self_score)}
        return ""
    if not metric.applicable:
        return ""
    if line.item.kind == ItemKind.COMPLETION:
        return _("均值%(rate)s%%") % {"rate": _num(metric.rate)}
    return f"{_num(metric.numerator)}/{metric.denominator}"


def _ranking(rows: list[svc.Row]) -> list[dict[str, Any]]:
    """Rows of the ranking table: every cell already formatted, so the template only lays them out."""
    return [
        {
            "rank": row.rank,
            "entry": row.entry,
            "total": _num(row.total),
            "cells": [
                {"applicable": line.applicable, "points": _num(line.points), "hint": _metric_hint(line)}
                for line in row.lines
            ],
        }
        for row in rows
    ]


def _download(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response


# --- Assessments --------------------------------------------------------------------------------------


@staff_required
def assessment_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = request.GET.get("status", "")
    if status not in AssessmentStatus.values:
        status = ""
    plan_id = int_or_none(request.GET.get("plan"))
    plan = Plan.objects.visible_to(user).filter(pk=plan_id).first() if plan_id else None
    page = paginate(request, svc.assessment_list(user=user, plan=plan, status=status))
    plans = Plan.objects.visible_to(user).filter(assessments__isnull=False).distinct().order_by("-starts_on", "-id")
    return render(
        request,
        "plans/assessment_list.html",
        {
            "page": page,
            "status": status,
            "statuses": AssessmentStatus.choices,
            "plan": plan,
            "plans": plans,
            "can_create": access.manageable_regions(user, ASSESSORS).exists(),
        },
    )


@staff_required
def assessment_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, ASSESSORS)
    initial: dict[str, Any] = {"year": timezone.localdate().year}
    plan_id = int_or_none(request.GET.get("plan"))
    if plan_id:
        initial["plan"] = plan_id
    form = AssessmentCreateForm(request.POST or None, user=user, initial=initial)
    return form_page(
        request,
        form,
        save=lambda data: svc.assessment_create(actor=user, **data),
        done=lambda row: (_("已新建考核“%(title)s”，请确认考核细则后启动。") % {"title": row.title}, _detail_url(row)),
        title=_("新建年度考核"),
        cancel_url=reverse("plans:assessment_list"),
    )


@staff_required
def assessment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assessment = svc.assessment_detail(user=user, pk=pk)
    can_manage = svc.can_manage(user, assessment)
    items = list(assessment.items.all())
    is_draft = assessment.status == AssessmentStatus.DRAFT
    is_published = assessment.status == AssessmentStatus.PUBLISHED
    entries = list(svc.visible_entries(user=user, assessment=assessment).order_by("region__path", "unit__name"))
    rows = svc.score_rows(assessment, entries) if entries and not is_draft else []
    context = {
        "assessment": assessment,
        "items": items,
        "weight_total": _num(sum((Decimal(i.weight) for i in items), Decimal(0))),
        "can_manage": can_manage,
        "can_edit_rubric": is_draft and can_manage,
        "is_draft": is_draft,
        "is_published": is_published,
        "entries": entries,
        "ranking": _ranking(rows),
        # A unit alone in its list would read as "rank 1": ranks show to assessors and after publication.
        "show_rank": is_published or can_manage,
        "as_of": svc.as_of_day(assessment),
        "item_form": ItemForm(initial={"kind": ItemKind.REVIEW}) if is_draft and can_manage else None,
        "tab": "detail",
    }
    return render(request, "plans/assessment_detail.html", context)


def _manageable(request: HttpRequest, pk: int) -> Assessment:
    assessment = svc.assessment_detail(user=request.user, pk=pk)
    require_change(request.user, assessment)
    return assessment


@staff_required
def assessment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assessment = _manageable(request, pk)
    if assessment.status == AssessmentStatus.PUBLISHED:
        messages.error(request, _("考核结果已公布，不能修改"))
        return redirect(_detail_url(assessment))
    form = AssessmentEditForm(request.POST or None, initial=AssessmentEditForm.initial_for(assessment))

    def save(data: dict[str, Any]) -> Assessment:
        # Only what the user changed: an opened assessment refuses any period in the data.
        changed = {name: data[name] for name in form.changed_data}
        return svc.assessment_update(actor=user, assessment=assessment, data=changed)

    return form_page(
        request,
        form,
        save=save,
        done=lambda _row: (_("已保存。"), _detail_url(assessment)),
        title=_("编辑考核：%(title)s") % {"title": assessment.title},
        cancel_url=_detail_url(assessment),
    )


@require_POST
@staff_required
def assessment_open(request: HttpRequest, pk: int) -> HttpResponse:
    assessment = svc.assessment_detail(user=request.user, pk=pk)
    try:
        row = svc.assessment_open(actor=request.user, assessment=assessment)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("考核已启动，%(n)d个单位可以自评。") % {"n": row.entries.count()})
    return redirect(_detail_url(assessment))


@require_POST
@staff_required
def assessment_publish(request: HttpRequest, pk: int) -> HttpResponse:
    assessment = svc.assessment_detail(user=request.user, pk=pk)
    try:
        svc.assessment_publish(actor=request.user, assessment=assessment)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("考核结果已公布，得分与排名已固定。"))
    return redirect(_detail_url(assessment))


@staff_required
def assessment_export(request: HttpRequest, pk: int) -> HttpResponse:
    assessment = svc.assessment_detail(user=request.user, pk=pk)
    data = svc.assessment_xlsx(user=request.user, assessment=assessment)
    stem = assessment.title.replace("/", "-").replace("\\", "-")
    return _download(data, f"{stem}.xlsx")


@staff_required
def assessment_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, Assessment, pk, "plans:assessment_detail")


# --- Rubric items --------------------------------------------------------------------------------------


@staff_required
def assessment_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assessment = _manageable(request, pk)
    if assessment.status != AssessmentStatus.DRAFT:
        messages.error(request, _("考核已启动，考核细则不能再修改"))
        return redirect(_detail_url(assessment))
    form = ItemForm(request.POST or None, initial={"kind": ItemKind.REVIEW})
    return form_page(
        request,
        form,
        save=lambda data: svc.item_add(actor=user, assessment=assessment, **data),
        done=lambda item: (_("已添加考核项目“%(name)s”。") % {"name": item.name}, _detail_url(assessment)),
        title=_("添加考核项目：%(title)s") % {"title": assessment.title},
        cancel_url=_detail_url(assessment),
    )


def _item(request: HttpRequest, pk: int) -> AssessmentItem:
    qs = AssessmentItem.objects.select_related("assessment", "assessment__region")
    item = access.get_visible_or_404(qs, request.user, pk=pk)
    require_change(request.user, item.assessment)
    return item


@staff_required
def assessmentitem_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    item = _item(request, pk)
    back = _detail_url(item.assessment_id)
    if item.assessment.status != AssessmentStatus.DRAFT:
        messages.error(request, _("考核已启动，考核细则不能再修改"))
        return redirect(back)
    form = ItemForm(request.POST or None, initial=ItemForm.initial_for(item))
    return form_page(
        request,
        form,
        save=lambda data: svc.item_update(actor=user, item=item, data=data),
        done=lambda _row: (_("已保存。"), back),
        title=_("编辑考核项目：%(name)s") % {"name": item.name},
        cancel_url=back,
    )


@require_POST
@staff_required
def assessmentitem_delete(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    try:
        svc.item_delete(actor=request.user, item=item)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("已删除考核项目“%(name)s”。") % {"name": item.name})
    return redirect(_detail_url(item.assessment_id))


# --- Entries: self-assessment and review ----------------------------------------------------------------


def _posted_scores(request: HttpRequest, prefix: str) -> dict[str, str]:
    """``self_12=8.5`` → ``{"12": "8.5"}``: the service checks every item is there and in range."""
    pattern = re.compile(rf"^{prefix}_(\d+)$")
    return {m.group(1): str(request.POST.get(key, "")) for key in request.POST if (m := pattern.match(key))}


def _hand_fields(
    lines: list[svc.Line],
    prefix: str,
    errors: dict[str, list[str]],
    posted: dict[str, str] | None,
) -> list[dict[str, Any]]:
    """One number input per hand-scored item, with the saved score, or the user's input after an error."""
    fields = []
    for line in lines:
        item = line.item
        if item.is_computed:
            continue
        saved = line.self_score if prefix == "self" else line.review_score
        if saved is None and prefix == "review":
            saved = line.self_score  # the reviewer starts from the unit's proposal
        name = f"{prefix}_{item.pk}"
        value = posted.get(name, "") if posted is not None else _num(saved)
        fields.append(
            {
                "name": name,
                "item": item,
                "max": _num(item.weight),
                "value": value,
                "errors": errors.get(name, []),
            }
        )
    return fields


def _entry_page(
    request: HttpRequest,
    entry: AssessmentEntry,
    *,
    form: str = "",
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    assessment = entry.assessment
    errors = errors or {}
    rows = svc.score_rows(assessment, [entry])
    row = rows[0]
    can_self = svc.can_self_assess(user, entry)
    can_review = svc.can_review(user, entry)
    can_manage = svc.can_manage(user, assessment)
    posted = {key: str(request.POST.get(key, "")) for key in request.POST} if request.method == "POST" else None
    lines = [
        {
            "line": line,
            "item": line.item,
            "applicable": line.applicable,
            "points": _num(line.points),
            "numerator": _num(line.metric.numerator) if line.metric and line.metric.applicable else "",
            "denominator": line.metric.denominator if line.metric and line.metric.applicable else "",
            "rate": _num(line.metric.rate) if line.metric and line.metric.applicable else "",
            "self_score": _num(line.self_score),
            "review_score": _num(line.review_score),
        }
        for line in row.lines
    ]
    own_keys = {f"{form}_{line.item.pk}" for line in row.lines} | {f"{form}_comment"}
    context = {
        "entry": entry,
        "assessment": assessment,
        "is_published": assessment.status == AssessmentStatus.PUBLISHED,
        "lines": lines,
        "total": _num(row.total),
        "rank": entry.rank if assessment.status == AssessmentStatus.PUBLISHED else None,
        "as_of": svc.as_of_day(assessment),
        "can_self": can_self,
        "can_review": can_review,
        "waiting_for_self": (
            can_manage
            and not can_review
            and assessment.status == AssessmentStatus.OPEN
            and entry.status == EntryStatus.PENDING
        ),
        "self_fields": _hand_fields(row.lines, "self", errors, posted if form == "self" else None),
        "review_fields": _hand_fields(row.lines, "review", errors, posted if form == "review" else None),
        "self_comment": (posted or {}).get("self_comment", "") if form == "self" else entry.self_comment,
        "review_comment": (posted or {}).get("review_comment", "") if form == "review" else entry.review_comment,
        "self_comment_errors": errors.get("self_comment", []),
        "review_comment_errors": errors.get("review_comment", []),
        # Errors no field shows (a closed assessment, an unknown item) go on top of the page.
        "page_errors": [m for key, ms in errors.items() if key not in own_keys for m in ms],
    }
    return render(request, "plans/assessment_entry.html", context, status=status)


@staff_required
def assessmententry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _entry_page(request, svc.entry_detail(user=request.user, pk=pk))


def _errors_of(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {key: [str(m) for m in messages_] for key, messages_ in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


@require_POST
@staff_required
def assessmententry_self(request: HttpRequest, pk: int) -> HttpResponse:
    entry = svc.entry_detail(user=request.user, pk=pk)
    try:
        svc.entry_self_assess(
            actor=request.user,
            entry=entry,
            scores=_posted_scores(request, "self"),
            comment=request.POST.get("self_comment", ""),
        )
    except ValidationError as exc:
        return _entry_page(request, entry, form="self", errors=_errors_of(exc), status=400)
    messages.success(request, _("自评已提交，等待审核。"))
    return redirect(_entry_url(entry))


@require_POST
@staff_required
def assessmententry_review(request: HttpRequest, pk: int) -> HttpResponse:
    entry = svc.entry_detail(user=request.user, pk=pk)
    try:
        svc.entry_review(
            actor=request.user,
            entry=entry,
            scores=_posted_scores(request, "review"),
            comment=request.POST.get("review_comment", ""),
        )
    except ValidationError as exc:
        return _entry_page(request, entry, form="review", errors=_errors_of(exc), status=400)
    messages.success(request, _("已审核“%(unit)s”。") % {"unit": entry.unit.name})
    return redirect(_detail_url(entry.assessment_id))


# Included by cocreate/plans/urls.py under "assessments/" (namespace "plans").
urlpatterns = [
    path("", assessment_list, name="assessment_list"),
    path("new/", assessment_create, name="assessment_create"),
    path("<int:pk>/", assessment_detail, name="assessment_detail"),
    path("<int:pk>/edit/", assessment_edit, name="assessment_edit"),
    path("<int:pk>/items/new/", assessment_item_add, name="assessment_item_add"),
    path("<int:pk>/open/", assessment_open, name="assessment_open"),
    path("<int:pk>/publish/", assessment_publish, name="assessment_publish"),
    path("<int:pk>/export/", assessment_export, name="assessment_export"),
    path("<int:pk>/history/", assessment_history, name="assessment_history"),
    path("items/<int:pk>/edit/", assessmentitem_edit, name="assessmentitem_edit"),
    path("items/<int:pk>/delete/", assessmentitem_delete, name="assessmentitem_delete"),
    path("entries/<int:pk>/", assessmententry_detail, name="assessmententry_detail"),
    path("entries/<int:pk>/self/", assessmententry_self, name="assessmententry_self"),
    path("entries/<int:pk>/review/", assessmententry_review, name="assessmententry_review"),
]
