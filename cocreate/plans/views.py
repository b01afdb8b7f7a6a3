"""Pages of the plans app: plans, tasks, progress reports, 我的任务, dashboard, calendar, import.

Views parse input, fetch objects through the access authority (``get_visible_or_404`` and the
scoped selectors), call one service and render; the rules live in ``services``, ``selectors``
and ``status``. They reuse core's page helpers (``form_page``, ``paginate``, the history and
evidence panels) so every module's pages behave the same.
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import date
from itertools import groupby
from typing import Any, cast

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cocreate.core import access, evidence
from cocreate.core.forms import apply_service_errors
from cocreate.core.models import Attachment, Region, Unit
from cocreate.core.views import (
    evidence_context,
    form_page,
    history_page,
    int_or_none,
    paginate,
    require_change,
    require_manageable,
    staff_required,
    versioned,
)
from cocreate.plans import selectors, services, spreadsheets
from cocreate.plans.forms import (
    ImportFileForm,
    MilestoneFormSet,
    PhaseForm,
    PlanEditForm,
    PlanForm,
    PlanImportForm,
    ReportForm,
    ReturnForm,
    TargetFormSet,
    TaskEditForm,
    TaskForm,
    filled_rows,
)
from cocreate.plans.models import Phase, Plan, PlanStatus, ProgressReport, Task, UnitRole
from cocreate.plans.rules import PLAN_MANAGERS
from cocreate.plans.status import Light, TaskStatus, task_light


def _today() -> date:
    return timezone.localdate()


def _light_or_blank(value: str | None) -> str:
    return value if value in Light.values else ""


def _light_counts(statuses: list[TaskStatus]) -> list[tuple[str, str, int]]:
    """(light, label, count) for every light, in the order the legend shows them."""
    return _light_cells(Counter(str(s.light) for s in statuses))


def _light_cells(counts: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """(light, label, count) for every light, in the order the legend shows them."""
    return [(value, str(label), counts.get(value, 0)) for value, label in Light.choices]


# --- Plans ----------------------------------------------------------------------------------------


@staff_required
def plan_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if status not in PlanStatus.values:
        status = ""
    plans = selectors.plan_list(user=request.user, search=search, status=status)
    page = paginate(request, plans.select_related("issuing_unit", "region"))
    can_create = access.manageable_regions(request.user, PLAN_MANAGERS).exists()
    return render(
        request,
        "plans/plan_list.html",
        {"page": page, "search": search, "status": status, "statuses": PlanStatus.choices, "can_create": can_create},
    )


def _task_filters(request: HttpRequest, phases: list[Phase]) -> dict[str, Any]:
    """The plan page's filters (unit, phase, light) from the query string; unknown values are ignored."""
    user = request.user
    phase_id = int_or_none(request.GET.get("phase"))
    unit_id = int_or_none(request.GET.get("unit"))
    return {
        "phase": next((p for p in phases if p.pk == phase_id), None),
        "unit": Unit.objects.visible_to(user).filter(pk=unit_id).first() if unit_id else None,
        "light": _light_or_blank(request.GET.get("light")) or None,
    }


def _filter_query(filters: dict[str, Any]) -> str:
    """The filters as a query string ("?unit=3&light=red", or ""), for the village rows' fragment."""
    params = {
        "unit": filters["unit"].pk if filters["unit"] else None,
        "phase": filters["phase"].pk if filters["phase"] else None,
        "light": filters["light"],
    }
    query = urlencode({k: v for k, v in params.items() if v})
    return f"?{query}" if query else ""


def _cached_html(key: str | None, render: Callable[[], str]) -> str:
    """``render()``, kept under ``key`` (a selector's cache key, which holds the data version)."""
    if key is None:
        return render()
    html = cache.get(key)
    if html is None:
        html = render()
        cache.set(key, html, selectors.DASHBOARD_CACHE_SECONDS)
    return cast(str, html)  # a SafeString, as rendered


def _plan_rows_html(
    user: Any, plan: Plan, overview: dict[str, Any], ids: list[int], filter_query: str, today: date
) -> str:
    """A page of the plan page's rows; a fanned-out task shows its village rows counted by light."""
    nodes = [
        {
            "task": task,
            "status": status,
            "children": sum(overview["children"].get(task.pk, {}).values()) if task.fans_out else 0,
            "child_counts": _light_cells(overview["children"].get(task.pk, {})) if task.fans_out else [],
        }
        for task, status in selectors.plan_rows(user=user, plan=plan, ids=ids, today=today)
    ]
    return render_to_string("plans/_plan_rows.html", {"nodes": nodes, "filter_query": filter_query})


@staff_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    today = _today()
    # One data version for every kept part of this request.
    version = selectors.data_version()
    plan, phases = selectors.plan_with_phases(user=user, pk=pk, version=version)
    filters = _task_filters(request, phases)
    key = selectors.plan_overview_key(user=user, plan=plan, today=today, version=version, **filters)
    can_change = access.can(user, access.CHANGE, plan)
    language = get_language()

    def main() -> str:
        # Top-level rows a page at a time; a fanned-out task's village rows are counted by light
        # here and loaded on demand (task_children), so the page does not grow with the villages.
        overview = selectors.plan_overview(user=user, plan=plan, today=today, key=key, **filters)
        page = paginate(request, overview["top"])
        filter_query = _filter_query(filters)
        # A page's rows are the same for everyone with this scope and filters until the data changes:
        # rendered once under the overview's cache key (which holds the scope, filters, day and data version).
        rows_html = _cached_html(
            f"{key}:rows:{page.number}:{language}" if key else None,
            lambda: _plan_rows_html(user, plan, overview, list(page.object_list), filter_query, today),
        )
        context = {
            "plan": plan,
            "phases": phases,
            "phase": filters["phase"],
            # The unit filter offers the units that appear in this plan's matrix (a county plan's
            # 200 village committees: joined once per data version, like the rows).
            "unit_options": _cached_html(
                f"{key}:units:{language}" if key else None,
                lambda: format_html_join(
                    "",
                    '<option value="{}"{}>{}</option>',
                    (
                        (pk, " selected" if filters["unit"] and pk == filters["unit"].pk else "", name)
                        for pk, name in overview["units"]
                    ),
                ),
            ),
            "unit": filters["unit"],
            "light": filters["light"] or "",
            "lights": Light.choices,
            "page": page,
            # Like the dashboard, count the tasks that carry work: a fanned-out parent counts through its children.
            "counts": _light_cells(overview["counts"]),
            "filtered": any(filters.values()),
            "rows_html": rows_html,
            "can_change": can_change,
            "tab": "detail",
        }
        return render_to_string("plans/_plan_main.html", context, request=request)

    main_key = f"{key}:main:{int(can_change)}:{request.GET.urlencode()}:{language}" if key else None
    context = {
        "plan": plan,
        # Everything above the evidence panel is the same for everyone with this scope, the same
        # right to edit and the same query string until the data changes (the overview's key holds
        # the scope, filters, day and the version of tasks, plans, phases, regions and units).
        "main": _cached_html(main_key, main),
        # The plan's original document (红头文件) and other files hang on the plan as evidence.
        **evidence_context(request, plan),
    }
    return render(request, "plans/plan_detail.html", context)


@staff_required
def task_children(request: HttpRequest, pk: int) -> HttpResponse:
    """The village rows of a fanned-out task on the plan page, a page at a time, with its filters.

    htmx asks for the rows alone (appended under the task's row, and a 更多 row that fetches the
    next page); a plain request, as from a browser without scripts, gets them as a page.
    """
    user = request.user
    today = _today()
    parent = access.get_visible_or_404(Task.objects.select_related("plan"), user, pk=pk)
    plan = parent.plan
    filters = _task_filters(request, list(plan.phases.all()))
    page = paginate(request, selectors.task_children(user=user, parent=parent, today=today, **filters))
    page.object_list = selectors.with_lights(tasks=list(page.object_list), plan=plan, today=today)
    query = _filter_query(filters)
    context = {
        "parent": parent,
        "plan": plan,
        "page": page,
        "filtered": any(filters.values()),
        "more_url": f"{request.path}{query}{'&' if query else '?'}page={page.next_page_number()}"
        if page.has_next()
        else "",
    }
    if getattr(request, "htmx", False):
        return render(request, "plans/_task_children.html", context)
    return render(request, "plans/task_children.html", context)


@staff_required
def plan_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    require_manageable(user, PLAN_MANAGERS)
    form = PlanForm(request.POST or None, user=user)
    return form_page(
        request,
        form,
        save=lambda data: services.plan_create(actor=user, **data),
        done=lambda plan: (_("已新建工作方案“%(title)s”。") % {"title": plan.title}, _plan_url(plan)),
        title=_("新建工作方案"),
        cancel_url=reverse("plans:plan_list"),
    )


def _plan_url(plan: Plan) -> str:
    return reverse("plans:plan_detail", args=[plan.pk])


@staff_required
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    plan = access.get_visible_or_404(Plan, user, pk=pk)
    require_change(user, plan)
    form = PlanEditForm(request.POST or None, user=user, initial=PlanEditForm.initial_for(plan))
    return form_page(
        request,
        form,
        save=lambda data: services.plan_update(actor=user, plan=plan, **versioned(data)),
        done=lambda _result: (_("已保存。"), _plan_url(plan)),
        title=_("编辑工作方案：%(title)s") % {"title": plan.title},
        cancel_url=_plan_url(plan),
    )


@staff_required
def plan_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, Plan, pk, "plans:plan_detail")


@staff_required
def plan_phase_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    plan = access.get_visible_or_404(Plan, user, pk=pk)
    require_change(user, plan)
    form = PhaseForm(request.POST or None)
    return form_page(
        request,
        form,
        save=lambda data: services.phase_add(actor=user, plan=plan, **data),
        done=lambda phase: (_("已添加阶段“%(name)s”。") % {"name": phase.name}, _plan_url(plan)),
        title=_("添加阶段：%(title)s") % {"title": plan.title},
        cancel_url=_plan_url(plan),
    )


@staff_required
def plan_task_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    plan = access.get_visible_or_404(Plan, user, pk=pk)
    require_change(user, plan)
    data = request.POST if request.method == "POST" else None
    form = TaskForm(data, user=user, plan=plan, initial={"starts_on": plan.starts_on, "deadline": plan.ends_on})
    targets = TargetFormSet(data, prefix="targets")
    milestones = MilestoneFormSet(data, prefix="milestones")
    if data is not None and form.is_valid() and targets.is_valid() and milestones.is_valid():
        cleaned = form.cleaned_data
        try:
            task = services.task_create(
                actor=user,
                plan=plan,
                title=cleaned["title"],
                starts_on=cleaned["starts_on"],
                deadline=cleaned["deadline"],
                number=cleaned["number"],
                content=cleaned["content"],
                phase=cleaned["phase"],
                units=form.units_by_role(),
                people=form.people_by_role(),
                fan_out=cleaned["fan_out"],
                targets=[
                    services.TargetSpec(
                        kind=row["kind"],
                        name=row["name"],
                        quota_count=row.get("quota_count"),
                        quota_period=row.get("quota_period") or "",
                        comparator=row.get("comparator") or "",
                        value=row.get("value"),
                        unit_label=row.get("unit_label") or "",
                    )
                    for row in filled_rows(targets)
                ],
                milestones=[(row["due_on"], row["percent"]) for row in filled_rows(milestones)],
            )
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("已添加任务“%(title)s”。") % {"title": task.title})
            return redirect("plans:task_detail", pk=task.pk)
    invalid = data is not None
    return render(
        request,
        "plans/task_form.html",
        {
            "form": form,
            "targets": targets,
            "milestones": milestones,
            "plan": plan,
            "title": _("添加任务：%(title)s") % {"title": plan.title},
            "cancel_url": _plan_url(plan),
        },
        status=400 if invalid else 200,
    )


# --- Tasks ----------------------------------------------------------------------------------------


def _report_units(user: Any, task: Task) -> list[Unit]:
    """The task's units the user may report for (the service decides; the form only offers them)."""
    order: dict[str, int] = {
        str(role): i for i, role in enumerate([UnitRole.RESPONSIBLE, UnitRole.LEAD, UnitRole.COOPERATING])
    }
    units: dict[int, Unit] = {}
    for tu in sorted(task.task_units.all(), key=lambda tu: order.get(tu.role, 9)):
        if tu.role in order and tu.unit_id not in units and services.can_report(user, task, tu.unit):
            units[tu.unit_id] = tu.unit
    return list(units.values())


def _report_attachments(user: Any, reports: list[ProgressReport]) -> dict[int, list[Attachment]]:
    """Each report's evidence, in one query for the whole list."""
    if not reports:
        return {}
    content_type = ContentType.objects.get_for_model(ProgressReport)
    found: dict[int, list[Attachment]] = defaultdict(list)
    for attachment in Attachment.objects.visible_to(user).filter(
        content_type=content_type, object_id__in=[str(r.pk) for r in reports]
    ):
        found[int(attachment.object_id)].append(attachment)
    return found


@staff_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    today = _today()
    task = selectors.task_detail(user=user, pk=pk)
    status = task_light(task, today)
    matrix = [
        (label, [tu.unit for tu in task.task_units.all() if tu.role == role])
        for role, label in UnitRole.choices
        if any(tu.role == role for tu in task.task_units.all())
    ]
    # Only the children the user may see (the selector prefetches them through visible_to).
    children = [(child, task_light(child, today)) for child in task.children.all()]
    reports = list(task.reports.all())
    attachments_by_report = _report_attachments(user, reports)
    report_rows = [(report, attachments_by_report.get(report.pk, [])) for report in reports]
    may_return = bool(reports) and services.can_return(user, reports[0])
    context = {
        "task": task,
        "status": status,
        "matrix": matrix,
        "people": list(task.task_people.all()),
        "targets": list(task.targets.all()),
        "milestones": list(task.milestones.all()),
        "children": children,
        "report_rows": report_rows,
        "may_return": may_return,
        "return_form": ReturnForm(),
        "may_report": not task.fans_out and bool(_report_units(user, task)),
        "may_edit": access.can(user, access.CHANGE, task),
        "parent": task.parent if task.parent_id and access.can(user, access.VIEW, task.parent) else None,
        "tab": "detail",
        **evidence_context(request, task),
    }
    return render(request, "plans/task_detail.html", context)


@staff_required
def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    task = selectors.task_detail(user=user, pk=pk)
    require_change(user, task)
    form = TaskEditForm(request.POST or None, user=user, task=task)
    task_url = reverse("plans:task_detail", args=[task.pk])
    return form_page(
        request,
        form,
        save=lambda data: services.task_update(
            actor=user, task=task, data=form.update_data(), expected_version=data.get("expected_version") or None
        ),
        done=lambda _result: (_("已保存。"), task_url),
        title=_("编辑任务：%(title)s") % {"title": task.title},
        cancel_url=task_url,
    )


@staff_required
def task_history(request: HttpRequest, pk: int) -> HttpResponse:
    return history_page(request, Task, pk, "plans:task_detail")


@staff_required
def task_report(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    task = selectors.task_detail(user=user, pk=pk)
    units = _report_units(user, task)
    if task.fans_out or not units:
        raise Http404("not found")
    form = ReportForm(request.POST or None, request.FILES or None, task=task, units=units)
    task_url = reverse("plans:task_detail", args=[task.pk])

    def save(data: dict[str, Any]) -> ProgressReport:
        with transaction.atomic():
            report = services.report_submit(
                actor=user,
                task=task,
                unit=data["unit"],
                kind=data["kind"],
                percent=data.get("percent"),
                target=data.get("target"),
                value=data.get("value"),
                activity_date=data.get("activity_date"),
                participants=data.get("participants"),
                description=data.get("description") or "",
            )
            if data.get("evidence"):
                try:
                    evidence.attachment_add(
                        actor=user,
                        target=report,
                        upload=data["evidence"],
                        description=data.get("evidence_description") or "",
                    )
                except ValidationError as exc:
                    # Shown next to the file field; the report is rolled back with it.
                    raise ValidationError({"evidence": exc.messages}) from exc
            return report

    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("已报送进度。"))
            return redirect(task_url)
    context = {
        "form": form,
        "task": task,
        "status": task_light(task, _today()),
        "title": _("报送进度"),
        "cancel_url": task_url,
        "kind_fields": ReportForm.KIND_FIELDS,
    }
    return render(request, "plans/report_form.html", context, status=400 if form.is_bound and form.errors else 200)


@require_POST
@staff_required
def progressreport_return(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    report = access.get_visible_or_404(ProgressReport.objects.select_related("task__plan__region"), user, pk=pk)
    task_url = reverse("plans:task_detail", args=[report.task_id])
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写退回原因。"))
        return redirect(task_url)
    try:
        services.report_return(actor=user, report=report, reason=form.cleaned_data["reason"])
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        messages.error(request, " ".join(str(m) for m in exc.messages))
    else:
        messages.success(request, _("已退回该报送。"))
    return redirect(task_url)


# --- 我的任务, dashboard, calendar ----------------------------------------------------------------


@staff_required
def my_tasks(request: HttpRequest) -> HttpResponse:
    rows = selectors.my_tasks(user=request.user, today=_today())
    light = _light_or_blank(request.GET.get("light"))
    counts = _light_counts([status for _task, status in rows])
    if light:
        rows = [(task, status) for task, status in rows if status.light == light]
    page = paginate(request, rows)
    return render(request, "plans/my_tasks.html", {"page": page, "counts": counts, "light": light})


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    region_id = int_or_none(request.GET.get("region"))
    # One data version for every kept part of this request.
    version = selectors.data_version()
    region: Region | None
    if region_id:
        region = selectors.visible_region(user=user, pk=region_id, version=version)
    else:
        region = selectors.home_region(user=user, version=version)
    if region is None:
        raise Http404("not found")
    today = _today()
    # The body is the same for everyone with this scope, region, day and data version (which
    # regions' and units' changes move too): rendered once under the selector's cache key, a cached
    # request reads the session, the scope, the region and the version only (a rendered county
    # table of 200 units costs tens of milliseconds).
    key = selectors.dashboard_key(user=user, region=region, today=today, version=version)
    body = _cached_html(
        f"{key}:body:{get_language()}" if key else None,
        lambda: render_to_string(
            "plans/_dashboard_body.html",
            _dashboard_context(selectors.dashboard(user=user, region=region, today=today, key=key)),
        ),
    )
    regions = _cached_html(
        f"{key}:regions:{get_language()}" if key else None,
        lambda: render_to_string(
            "plans/_dashboard_regions.html",
            {
                "region": region,
                "children": Region.objects.visible_to(user).filter(parent=region, is_active=True).order_by("path"),
            },
        ),
    )
    context = {"region": region, "regions": regions, "body": body}
    return render(request, "plans/dashboard.html", context)


def _dashboard_context(data: dict[str, Any]) -> dict[str, Any]:
    """What the dashboard's body shows, from the selector's figures."""
    # Cells in light order, prepared once here: a template loop over lights inside a loop over
    # the counts cost ~7,000 iterations for 200 units (bench/plans_dashboard).
    order = [value for value, _label in Light.choices]
    unit_rows = [
        {**row, "cells": [(value, row["counts"].get(value, 0)) for value in order]} for row in data.get("units", [])
    ]
    totals = data.get("totals", {}).get("counts", {})
    return {
        "data": data,
        "unit_rows": unit_rows,
        "total_cells": [(value, label, totals.get(value, 0)) for value, label in Light.choices],
        "total_red": totals.get(Light.RED, 0),
        "lights": Light.choices,
        "chart": _dashboard_chart(data),
    }


def _dashboard_chart(data: dict[str, Any]) -> dict[str, Any]:
    """The stacked bar's data (units × lights) for plans.js, passed with json_script."""
    units = data.get("units", [])
    series = []
    for value, label in Light.choices:
        series.append({"light": value, "name": str(label), "data": [row["counts"].get(value, 0) for row in units]})
    trend = [(f"{month:%Y-%m}", n) for month, n in data.get("completed_by_month", [])]
    return {
        "categories": [row["name"] for row in units],
        "series": series,
        "months": [m for m, _n in trend],
        "completed": [n for _m, n in trend],
    }


def _month(value: str | None, today: date) -> date:
    try:
        year, month = (int(part) for part in (value or "").split("-", 1))
        return date(year, month, 1)
    except (TypeError, ValueError):
        return today.replace(day=1)


@staff_required
def deadline_calendar(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = _today()
    first = _month(request.GET.get("month"), today)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    tasks = (
        Task.objects.visible_to(user)
        .filter(deadline__range=(first, last))
        .select_related("plan", "region")
        .prefetch_related("milestones")
        .order_by("deadline", "plan_id", "id")
    )
    days = [
        (day, [(task, task_light(task, today)) for task in group])
        for day, group in groupby(tasks, key=lambda t: t.deadline)
    ]
    previous_month = (first.replace(day=1) - date.resolution).replace(day=1)
    next_month = last + date.resolution
    context = {
        "month": first,
        "days": days,
        "previous_month": f"{previous_month:%Y-%m}",
        "next_month": f"{next_month:%Y-%m}",
        "today": today,
    }
    return render(request, "plans/calendar.html", context)


# --- Spreadsheets ---------------------------------------------------------------------------------


class _ImportFailed(Exception):
    """Rolls back the new plan when its task table has errors (the import itself wrote nothing)."""

    def __init__(self, result: spreadsheets.ImportResult) -> None:
        super().__init__("import failed")
        self.result = result


def _import_page(request: HttpRequest, form: Any, *, plan: Plan | None, run: Any, cancel_url: str) -> HttpResponse:
    """Shows the upload form; on errors lists every one with its row, and nothing is imported."""
    errors: list[spreadsheets.RowError] = []
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                target_plan, result = run(form.cleaned_data)
                if not result.ok:
                    raise _ImportFailed(result)
        except _ImportFailed as failed:
            errors = failed.result.errors
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            count = len(result.created_tasks)
            messages.success(request, _("已导入 %(count)d 项任务。") % {"count": count})
            return redirect("plans:plan_detail", pk=target_plan.pk)
    context = {
        "form": form,
        "plan": plan,
        "row_errors": errors,
        "title": _("导入任务表：%(title)s") % {"title": plan.title} if plan else _("导入工作方案"),
        "cancel_url": cancel_url,
    }
    invalid = request.method == "POST" and (bool(errors) or bool(form.errors))
    return render(request, "plans/import.html", context, status=400 if invalid else 200)


@staff_required
def plan_import(request: HttpRequest) -> HttpResponse:
    """A new plan from its document data and task table, in one step: all of it or nothing."""
    user = request.user
    require_manageable(user, PLAN_MANAGERS)
    form = PlanImportForm(request.POST or None, request.FILES or None, user=user)

    def run(data: dict[str, Any]) -> tuple[Plan, spreadsheets.ImportResult]:
        fields = {k: v for k, v in data.items() if k != "file"}
        plan = services.plan_create(actor=user, **fields)
        upload = data["file"]
        return plan, spreadsheets.plan_import(
            actor=user, plan=plan, file=upload.read(), filename=upload.name, new_plan=True
        )

    return _import_page(request, form, plan=None, run=run, cancel_url=reverse("plans:plan_list"))


@staff_required
def plan_tasks_import(request: HttpRequest, pk: int) -> HttpResponse:
    """More tasks for an existing plan from a task table."""
    user = request.user
    plan = access.get_visible_or_404(Plan, user, pk=pk)
    require_change(user, plan)
    form = ImportFileForm(request.POST or None, request.FILES or None)

    def run(data: dict[str, Any]) -> tuple[Plan, spreadsheets.ImportResult]:
        upload = data["file"]
        return plan, spreadsheets.plan_import(actor=user, plan=plan, file=upload.read(), filename=upload.name)

    return _import_page(request, form, plan=plan, run=run, cancel_url=_plan_url(plan))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@staff_required
def plan_export(request: HttpRequest, pk: int) -> HttpResponse:
    plan = access.get_visible_or_404(Plan, request.user, pk=pk)
    try:
        data = spreadsheets.plan_export(user=request.user, plan=plan, today=_today())
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    response = HttpResponse(data, content_type=XLSX)
    filename = f"{plan.title}-{_today():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response
