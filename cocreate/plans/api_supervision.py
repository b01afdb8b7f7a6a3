"""REST endpoints of supervision: checks with findings, rectifications, respond and close.

Handlers hold no rules: objects addressed by an id go through core's ``get_visible`` (missing
and forbidden both 404), lists come from the scoped selectors in ``supervision`` and are
paginated like core's, writes call its services; errors answer core's ``{"error", "detail"}``.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from cocreate.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Pagination,
    get_optional,
    get_visible,
    request_user,
)
from cocreate.core.models import Region, Unit
from cocreate.core.schemas import BodyId, Id, InputSchema, IsoDate, QuerySchema, SearchText, Text
from cocreate.plans import supervision
from cocreate.plans.models import Finding, Plan, Rectification, SupervisionCheck, Task

router = Router(tags=["supervision"])

CheckKindValue = Literal["weekly", "monthly", "quarterly", "special"]
SeverityValue = Literal["note", "issue", "serious"]
RectificationStatusValue = Literal["open", "submitted", "closed"]


# --- Schemas ----------------------------------------------------------------------------------------


class RectificationOut(Schema):
    id: int
    finding_id: int
    check_id: int
    unit_id: int
    unit_name: str
    region_id: int
    region_name: str
    letter_number: str
    requirement: str
    deadline: date
    status: RectificationStatusValue
    status_display: str
    is_overdue: bool = Field(..., description="整改中且已过整改时限（按当天计算）")
    response: str
    responded_at: datetime | None
    responded_by_id: int | None
    closed_at: datetime | None
    closed_by_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_check_id(obj: Rectification) -> int:
        return obj.finding.check_record_id

    @staticmethod
    def resolve_unit_name(obj: Rectification) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_region_name(obj: Rectification) -> str:
        return obj.region.name

    @staticmethod
    def resolve_status_display(obj: Rectification) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_is_overdue(obj: Rectification) -> bool:
        annotated = getattr(obj, "is_overdue", None)
        return bool(annotated) if annotated is not None else supervision.is_overdue(obj)


class FindingOut(Schema):
    id: int
    check_id: int
    unit_id: int
    unit_name: str
    region_id: int
    task_id: int | None
    severity: SeverityValue
    description: str
    created_at: datetime
    rectification_id: int | None

    @staticmethod
    def resolve_check_id(obj: Finding) -> int:
        return obj.check_record_id

    @staticmethod
    def resolve_unit_name(obj: Finding) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_rectification_id(obj: Finding) -> int | None:
        rectification = getattr(obj, "rectification", None)
        return rectification.pk if rectification is not None else None


class CheckOut(Schema):
    id: int
    kind: CheckKindValue
    kind_display: str
    title: str
    region_id: int
    region_name: str
    plan_id: int | None
    checked_on: date
    inspector_id: int | None
    finding_count: int = Field(..., description="可见的发现问题数")

    @staticmethod
    def resolve_kind_display(obj: SupervisionCheck) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_region_name(obj: SupervisionCheck) -> str:
        return obj.region.name

    @staticmethod
    def resolve_finding_count(obj: SupervisionCheck) -> int:
        return int(getattr(obj, "finding_count", 0) or 0)


class CheckDetailOut(CheckOut):
    summary: str
    created_at: datetime
    findings: list[FindingOut]

    @staticmethod
    def resolve_findings(obj: SupervisionCheck) -> list[Any]:
        return list(getattr(obj, "api_findings", []))


class CheckFilter(QuerySchema):
    search: SearchText = ""
    kind: CheckKindValue | None = None
    plan: Id | None = Field(None, description="工作方案 id")


class CheckIn(InputSchema):
    kind: CheckKindValue
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    region_id: BodyId
    checked_on: IsoDate
    plan_id: BodyId | None = None
    summary: Annotated[Text, Field(max_length=5000)] = ""


class FindingIn(InputSchema):
    unit_id: BodyId
    description: Annotated[Text, Field(min_length=1, max_length=5000)]
    severity: SeverityValue = "issue"
    task_id: BodyId | None = None


class RectificationFilter(QuerySchema):
    status: RectificationStatusValue | None = None
    mine: bool = Field(False, description="只看本单位（或本人负责区域）的整改")
    overdue: bool = Field(False, description="只看逾期")


class RespondIn(InputSchema):
    response: Annotated[Text, Field(min_length=1, max_length=5000)]


class RaiseIn(InputSchema):
    requirement: Annotated[Text, Field(min_length=1, max_length=5000)]
    deadline: IsoDate
    letter_number: Annotated[Text, Field(max_length=60, description="留空则自动编号：督办〔年〕N号")] = ""


class ReopenIn(InputSchema):
    reason: Annotated[Text, Field(min_length=1, max_length=100)]
    deadline: IsoDate | None = Field(None, description="新的整改时限（可选）")


# --- Handlers ----------------------------------------------------------------------------------------


def _check(request: HttpRequest, pk: int) -> SupervisionCheck:
    user = request_user(request)
    check = get_visible(supervision.check_list(user=user), request, pk)
    check.api_findings = supervision.check_findings(user=user, check=check)  # type: ignore[attr-defined]
    return check


def _rectification(request: HttpRequest, pk: int) -> Rectification:
    return supervision.rectification_detail(user=request_user(request), pk=pk, today=timezone.localdate())


@router.get("/checks", response={200: list[CheckOut], **LIST_ERRORS}, summary="督查检查列表")
@paginate(Pagination)
def check_list(request: HttpRequest, filters: Query[CheckFilter]) -> QuerySet[SupervisionCheck]:
    plan = get_optional(Plan, request, filters.plan, "plan")
    return supervision.check_list(user=request_user(request), search=filters.search, kind=filters.kind or "", plan=plan)


@router.get("/checks/{id}", response={200: CheckDetailOut, **READ_ERRORS}, summary="督查检查详情（含发现问题）")
def check_detail(request: HttpRequest, id: Id) -> SupervisionCheck:
    return _check(request, id)


@router.post("/checks", response={201: CheckDetailOut, **WRITE_ERRORS}, summary="登记督查检查")
def check_create(request: HttpRequest, payload: CheckIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    plan = get_optional(Plan, request, payload.plan_id, "plan_id")
    check = supervision.check_create(
        actor=request_user(request),
        kind=payload.kind,
        title=payload.title,
        region=region,
        checked_on=payload.checked_on,
        plan=plan,
        summary=payload.summary,
    )
    return Status(201, _check(request, check.pk))


@router.post("/checks/{id}/findings", response={201: FindingOut, **WRITE_ERRORS}, summary="记录发现问题")
def finding_add(request: HttpRequest, id: Id, payload: FindingIn) -> Status:
    check = get_visible(SupervisionCheck, request, id)
    unit = get_visible(Unit, request, payload.unit_id, "unit_id")
    task: Task | None = get_optional(Task, request, payload.task_id, "task_id")
    finding = supervision.finding_add(
        actor=request_user(request),
        check=check,
        unit=unit,
        description=payload.description,
        severity=payload.severity,
        task=task,
    )
    return Status(201, get_visible(Finding.objects.select_related("unit"), request, finding.pk))


@router.post("/findings/{id}/rectification", response={201: RectificationOut, **WRITE_ERRORS}, summary="下发整改督办")
def rectification_raise(request: HttpRequest, id: Id, payload: RaiseIn) -> Status:
    finding = get_visible(Finding.objects.select_related("check_record__region", "unit", "region"), request, id)
    rectification = supervision.rectification_raise(
        actor=request_user(request),
        finding=finding,
        requirement=payload.requirement,
        deadline=payload.deadline,
        letter_number=payload.letter_number,
    )
    return Status(201, _rectification(request, rectification.pk))


@router.get("/rectifications", response={200: list[RectificationOut], **LIST_ERRORS}, summary="整改督办列表")
@paginate(Pagination)
def rectification_list(request: HttpRequest, filters: Query[RectificationFilter]) -> QuerySet[Rectification]:
    return supervision.rectification_list(
        user=request_user(request),
        status=filters.status or "",
        mine=filters.mine,
        overdue=filters.overdue,
        today=timezone.localdate(),
    )


@router.get("/rectifications/{id}", response={200: RectificationOut, **READ_ERRORS}, summary="整改督办详情")
def rectification_detail(request: HttpRequest, id: Id) -> Rectification:
    return _rectification(request, id)


@router.post("/rectifications/{id}/respond", response={200: RectificationOut, **WRITE_ERRORS}, summary="报送整改情况")
def rectification_respond(request: HttpRequest, id: Id, payload: RespondIn) -> Rectification:
    rectification = _rectification(request, id)
    supervision.rectification_respond(
        actor=request_user(request), rectification=rectification, response=payload.response
    )
    return _rectification(request, id)


@router.post("/rectifications/{id}/close", response={200: RectificationOut, **WRITE_ERRORS}, summary="销号")
def rectification_close(request: HttpRequest, id: Id) -> Rectification:
    rectification = _rectification(request, id)
    supervision.rectification_close(actor=request_user(request), rectification=rectification)
    return _rectification(request, id)


@router.post("/rectifications/{id}/reopen", response={200: RectificationOut, **WRITE_ERRORS}, summary="退回整改")
def rectification_reopen(request: HttpRequest, id: Id, payload: ReopenIn) -> Rectification:
    rectification = _rectification(request, id)
    supervision.rectification_reopen(
        actor=request_user(request), rectification=rectification, reason=payload.reason, deadline=payload.deadline
    )
    return _rectification(request, id)
