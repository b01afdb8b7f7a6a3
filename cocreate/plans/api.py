"""REST endpoints of the plans app: plans, their tasks with lights, progress reports, returns.

Handlers hold no rules: objects addressed by an id go through core's ``get_visible`` (missing
and forbidden both 404), lists come from the scoped selectors and are paginated like core's,
writes call ``cocreate.plans.services``; errors answer core's ``{"error", "detail"}`` bodies.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from cocreate.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    NotVisible,
    Pagination,
    get_optional,
    get_visible,
    request_user,
)
from cocreate.core.models import Region, Unit
from cocreate.core.schemas import Id
from cocreate.plans import selectors, services
from cocreate.plans.models import Phase, Plan, ProgressReport, Target, Task
from cocreate.plans.schemas import (
    PlanDetailOut,
    PlanFilter,
    PlanIn,
    PlanOut,
    ReportIn,
    ReportOut,
    ReturnIn,
    TaskDetailOut,
    TaskFilter,
    TaskOut,
)
from cocreate.plans.status import task_light

router = Router(tags=["plans"])


def _plan_qs() -> QuerySet[Plan]:
    return Plan.objects.select_related("issuing_unit", "region")


def _report_qs() -> QuerySet[ProgressReport]:
    return ProgressReport.objects.select_related("unit", "task__plan__region")


@router.get("/plans", response={200: list[PlanOut], **LIST_ERRORS}, summary="工作方案列表")
@paginate(Pagination)
def plan_list(request: HttpRequest, filters: Query[PlanFilter]) -> QuerySet[Plan]:
    plans = selectors.plan_list(user=request_user(request), search=filters.search, status=filters.status or "")
    return plans.select_related("issuing_unit", "region")


@router.get("/plans/{id}", response={200: PlanDetailOut, **READ_ERRORS}, summary="工作方案详情")
def plan_detail(request: HttpRequest, id: Id) -> Plan:
    return get_visible(_plan_qs().prefetch_related("phases"), request, id)


@router.post("/plans", response={201: PlanDetailOut, **WRITE_ERRORS}, summary="新建工作方案")
def plan_create(request: HttpRequest, payload: PlanIn) -> Status:
    issuing_unit = get_visible(Unit, request, payload.issuing_unit_id, "issuing_unit_id")
    region = get_visible(Region, request, payload.region_id, "region_id")
    plan = services.plan_create(
        actor=request_user(request),
        title=payload.title,
        issuing_unit=issuing_unit,
        region=region,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        doc_number=payload.doc_number,
        summary=payload.summary,
        status=payload.status,
    )
    return Status(201, get_visible(_plan_qs().prefetch_related("phases"), request, plan.pk))


@router.get("/plans/{id}/tasks", response={200: list[TaskOut], **LIST_ERRORS}, summary="方案的任务及亮灯")
@paginate(Pagination)
def plan_tasks(request: HttpRequest, id: Id, filters: Query[TaskFilter]) -> list[Task]:
    user = request_user(request)
    plan = get_visible(Plan, request, id)
    unit = get_optional(Unit, request, filters.unit, "unit")
    phase = None
    if filters.phase is not None:
        phase = Phase.objects.filter(plan=plan, pk=filters.phase).first()
        if phase is None:
            return []
    rows = selectors.plan_tasks(
        user=user, plan=plan, unit=unit, phase=phase, light=filters.light, today=timezone.localdate()
    )
    for task, status in rows:
        task.api_status = status  # type: ignore[attr-defined]
    return [task for task, _status in rows]


def _task_detail(request: HttpRequest, pk: int) -> Task:
    task = selectors.task_detail(user=request_user(request), pk=pk)
    task.api_status = task_light(task, timezone.localdate())  # type: ignore[attr-defined]
    return task


@router.get("/tasks/mine", response={200: list[TaskOut], **LIST_ERRORS}, summary="我的任务（所在单位的任务及亮灯）")
@paginate(Pagination)
def my_tasks(request: HttpRequest) -> list[Task]:
    rows = selectors.my_tasks(user=request_user(request), today=timezone.localdate())
    for task, status in rows:
        task.api_status = status  # type: ignore[attr-defined]
    return [task for task, _status in rows]


@router.get("/tasks/{id}", response={200: TaskDetailOut, **READ_ERRORS}, summary="任务详情（含亮灯与报送）")
def task_detail(request: HttpRequest, id: Id) -> Task:
    return _task_detail(request, id)


@router.post("/tasks/{id}/reports", response={201: ReportOut, **WRITE_ERRORS}, summary="报送进度")
def report_submit(request: HttpRequest, id: Id, payload: ReportIn) -> Status:
    task = _task_detail(request, id)
    unit = get_visible(Unit, request, payload.unit_id, "unit_id")
    target: Target | None = None
    if payload.target_id is not None:
        target = Target.objects.filter(task=task, pk=payload.target_id).first()
        if target is None:
            raise NotVisible("target_id")
    report = services.report_submit(
        actor=request_user(request),
        task=task,
        unit=unit,
        kind=payload.kind,
        percent=payload.percent,
        target=target,
        value=payload.value,
        activity_date=payload.activity_date,
        participants=payload.participants,
        description=payload.description,
    )
    return Status(201, get_visible(_report_qs(), request, report.pk))


@router.post("/reports/{id}/return", response={200: ReportOut, **WRITE_ERRORS}, summary="退回报送")
def report_return(request: HttpRequest, id: Id, payload: ReturnIn) -> Any:
    report = get_visible(_report_qs(), request, id)
    services.report_return(actor=request_user(request), report=report, reason=payload.reason)
    return get_visible(_report_qs(), request, id)
