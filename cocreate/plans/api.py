"""REST endpoints of the plans app: plans, their tasks with lights, progress reports, returns.

Handlers hold no rules: objects addressed by an id go through core's ``get_visible`` (missing
and forbidden both 404), lists come from the scoped selectors and are paginated like core's,
writes call ``cocreate.plans.services``; errors answer core's ``{"error", "detail"}`` bodies.

Writes check the caller's right to change the plan or task first (403), as the pages do, so a
refused caller learns nothing about the ids in the body; then every id in the body is resolved
through what the caller can see (404 naming the field), and the service decides the rest (400).
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from cocreate.core import access
from cocreate.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    NotVisible,
    Pagination,
    get_optional,
    get_visible,
    patch_changes,
    request_user,
)
from cocreate.core.models import Region, Unit, User
from cocreate.core.schemas import Id
from cocreate.core.services import require
from cocreate.plans import selectors, services
from cocreate.plans.models import PersonRole, Phase, Plan, ProgressReport, Target, Task, UnitRole
from cocreate.plans.schemas import (
    PeopleByRole,
    PhaseIn,
    PhaseOut,
    PlanDetailOut,
    PlanFilter,
    PlanIn,
    PlanOut,
    PlanPatch,
    ReportIn,
    ReportOut,
    ReturnIn,
    TaskDetailOut,
    TaskFilter,
    TaskIn,
    TaskOut,
    TaskPatch,
    UnitsByRole,
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


@router.patch("/plans/{id}", response={200: PlanDetailOut, **WRITE_ERRORS}, summary="修改工作方案")
def plan_update(request: HttpRequest, id: Id, payload: PlanPatch) -> Plan:
    user = request_user(request)
    plan = get_visible(_plan_qs(), request, id)
    require(user, access.CHANGE, plan)
    data = patch_changes(payload)
    if "issuing_unit_id" in data:
        data["issuing_unit"] = get_visible(Unit, request, data.pop("issuing_unit_id"), "issuing_unit_id")
    if "region_id" in data:
        data["region"] = get_visible(Region, request, data.pop("region_id"), "region_id")
    services.plan_update(actor=user, plan=plan, data=data, expected_version=payload.expected_version)
    return get_visible(_plan_qs().prefetch_related("phases"), request, id)


@router.post("/plans/{id}/phases", response={201: PhaseOut, **WRITE_ERRORS}, summary="添加方案阶段")
def phase_add(request: HttpRequest, id: Id, payload: PhaseIn) -> Status:
    user = request_user(request)
    plan = get_visible(Plan, request, id)
    require(user, access.CHANGE, plan)
    phase = services.phase_add(
        actor=user,
        plan=plan,
        name=payload.name,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        order=payload.order,
    )
    return Status(201, phase)


def _phase(plan: Plan, pk: int | None) -> Phase | None:
    """A phase of this plan named in the body, else 404 naming ``phase_id``."""
    if pk is None:
        return None
    phase = Phase.objects.filter(plan=plan, pk=pk).first()
    if phase is None:
        raise NotVisible("phase_id")
    return phase


def _resolve(field: str, ids_by_role: dict[str, list[int]], candidates: QuerySet[Any]) -> dict[str, list[Any]]:
    """Ids per role → objects among ``candidates``, in the order sent; any other id is a 404."""
    wanted = {pk for ids in ids_by_role.values() for pk in ids}
    found = {obj.pk: obj for obj in candidates.filter(pk__in=wanted)} if wanted else {}
    for role, ids in ids_by_role.items():
        if any(pk not in found for pk in ids):
            raise NotVisible(f"{field}.{role}")
    return {role: [found[pk] for pk in ids] for role, ids in ids_by_role.items()}


def _units(request: HttpRequest, units: UnitsByRole, roles: Iterable[str]) -> dict[str, list[Unit]]:
    ids = {role: list(getattr(units, role)) for role in roles}
    return _resolve("units", ids, selectors.assignable_units(request_user(request)))


def _people(request: HttpRequest, people: PeopleByRole, roles: Iterable[str]) -> dict[str, list[User]]:
    ids = {role: list(getattr(people, role)) for role in roles}
    return _resolve("people", ids, selectors.assignable_people(request_user(request)))


@router.post("/plans/{id}/tasks", response={201: TaskDetailOut, **WRITE_ERRORS}, summary="添加任务")
def task_create(request: HttpRequest, id: Id, payload: TaskIn) -> Status:
    user = request_user(request)
    plan = get_visible(Plan, request, id)
    require(user, access.CHANGE, plan)
    units = _units(request, payload.units or UnitsByRole(), UnitRole.values)
    people = _people(request, payload.people or PeopleByRole(), PersonRole.values)
    task = services.task_create(
        actor=user,
        plan=plan,
        title=payload.title,
        starts_on=payload.starts_on,
        deadline=payload.deadline,
        number=payload.number,
        content=payload.content,
        phase=_phase(plan, payload.phase_id),
        units={role: chosen for role, chosen in units.items() if chosen},
        people={role: chosen for role, chosen in people.items() if chosen},
        fan_out=payload.fans_out,
        targets=[
            services.TargetSpec(
                kind=t.kind,
                name=t.name,
                quota_count=t.quota_count,
                quota_period=t.quota_period or "",
                comparator=t.comparator or "",
                value=t.value,
                unit_label=t.unit_label,
            )
            for t in payload.targets
        ],
        milestones=[(m.due_on, m.percent) for m in payload.milestones],
    )
    return Status(201, _task_detail(request, task.pk))


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


@router.patch("/tasks/{id}", response={200: TaskDetailOut, **WRITE_ERRORS}, summary="修改任务")
def task_update(request: HttpRequest, id: Id, payload: TaskPatch) -> Task:
    user = request_user(request)
    task = selectors.task_detail(user=user, pk=id)
    require(user, access.CHANGE, task)
    data = patch_changes(payload)
    if "phase_id" in data:
        data["phase"] = _phase(task.plan, data.pop("phase_id"))
    # A role sent replaces that role's list; the roles left out keep theirs (the service takes
    # the whole matrix, so they are filled in from the task as it stands).
    if "units" in data:
        data.pop("units")
        assert payload.units is not None
        current: dict[str, list[Any]] = {}
        for tu in task.task_units.all():
            current.setdefault(tu.role, []).append(tu.unit)
        data["units"] = {**current, **_units(request, payload.units, payload.units.model_fields_set)}
    if "people" in data:
        data.pop("people")
        assert payload.people is not None
        people: dict[str, list[Any]] = {}
        for tp in task.task_people.all():
            people.setdefault(tp.role, []).append(tp.user)
        data["people"] = {**people, **_people(request, payload.people, payload.people.model_fields_set)}
    services.task_update(actor=user, task=task, data=data, expected_version=payload.expected_version)
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
