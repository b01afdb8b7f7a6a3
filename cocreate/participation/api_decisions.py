"""REST endpoints of 四议两公开: records, their six steps as a timeline, and recording the next step.

Handlers hold no rules: records and the votes a step names are fetched through core's
``get_visible`` (missing and forbidden both 404), writes call ``decisions.step_record`` — the
same service as the page, so a skipped step, a vote of another village or one still open is
a 400 with the reason under ``fields`` and changes nothing.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
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
from cocreate.core.models import Region
from cocreate.core.schemas import BodyId, Id, InputSchema, IsoDate, QuerySchema, SearchText, Text
from cocreate.participation import decisions, notices
from cocreate.participation.models import Decision, DecisionStep, ProblemItem, Vote

router = Router(tags=["decisions"])

DecisionStatusValue = Literal["in_progress", "rejected", "completed"]
StepKindValue = Literal["proposal", "consultation", "review", "resolution", "disclosure", "result_disclosure"]


class StepOut(Schema):
    id: int
    kind: str
    kind_display: str
    order: int
    done_on: date
    attendance: int | None
    notes: str
    vote_id: int | None
    vote_carried: bool | None = Field(description="所用表决是否通过")
    notice_id: int | None

    @staticmethod
    def resolve_kind_display(obj: DecisionStep) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_vote_carried(obj: DecisionStep) -> bool | None:
        return bool(obj.vote.result.get("carried")) if obj.vote is not None else None


class DecisionOut(Schema):
    id: int
    region_id: int
    region_name: str
    title: str
    status: str
    status_display: str
    next_step: str | None = Field(description="下一步骤；已完成或未通过时为 null")
    created_at: datetime

    @staticmethod
    def resolve_region_name(obj: Decision) -> str:
        return obj.region.name

    @staticmethod
    def resolve_status_display(obj: Decision) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_next_step(obj: Decision) -> str | None:
        return decisions.next_kind(obj, len(obj.steps.all()))


class DecisionDetailOut(DecisionOut):
    matter: str
    problem_id: int | None
    steps: list[StepOut]

    @staticmethod
    def resolve_steps(obj: Decision) -> list[DecisionStep]:
        return list(obj.steps.all())


class DecisionFilter(QuerySchema):
    region: Id | None = Field(None, description="区划 id：该区划及下级的记录")
    status: DecisionStatusValue | None = None
    search: SearchText = ""


class DecisionIn(InputSchema):
    region_id: BodyId
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    matter: Annotated[Text, Field(max_length=20000)] = ""
    problem_id: BodyId | None = None


class StepIn(InputSchema):
    kind: StepKindValue
    done_on: IsoDate
    attendance: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    notes: Annotated[Text, Field(max_length=decisions.NOTES_MAX)] = Field(
        "", description="情况记录；决议公开、实施结果公开步骤为公示的内容（必填）"
    )
    vote_id: BodyId | None = Field(None, description="党员大会审议、村民（代表）会议决议步骤：已结束的表决")
    notice_days: Annotated[int, Field(ge=1, le=notices.MAX_DAYS)] = notices.DEFAULT_DAYS


def _qs() -> QuerySet[Decision]:
    steps = DecisionStep.objects.select_related("vote").order_by("order")
    return Decision.objects.select_related("region").prefetch_related(Prefetch("steps", queryset=steps))


@router.get("/decisions", response={200: list[DecisionOut], **LIST_ERRORS}, summary="四议两公开记录列表")
@paginate(Pagination)
def decision_list(request: HttpRequest, filters: Query[DecisionFilter]) -> Any:
    region = get_optional(Region, request, filters.region, "region")
    return decisions.decision_list(
        user=request_user(request), status=filters.status or "", search=filters.search, region=region
    ).prefetch_related("steps")


@router.get("/decisions/{id}", response={200: DecisionDetailOut, **READ_ERRORS}, summary="四议两公开记录详情")
def decision_detail(request: HttpRequest, id: Id) -> Decision:
    return get_visible(_qs(), request, id)


@router.post("/decisions", response={201: DecisionDetailOut, **WRITE_ERRORS}, summary="新建四议两公开记录")
def decision_create(request: HttpRequest, payload: DecisionIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    problem = get_optional(ProblemItem, request, payload.problem_id, "problem_id")
    decision = decisions.decision_create(
        actor=request_user(request), region=region, title=payload.title, matter=payload.matter, problem=problem
    )
    return Status(201, get_visible(_qs(), request, decision.pk))


@router.post(
    "/decisions/{id}/steps",
    response={201: DecisionDetailOut, **WRITE_ERRORS},
    summary="记录下一步骤（须按顺序，不能跳过或重复）",
)
def decision_step_add(request: HttpRequest, id: Id, payload: StepIn) -> Status:
    decision = get_visible(_qs(), request, id)
    vote = get_optional(Vote, request, payload.vote_id, "vote_id")
    decisions.step_record(
        actor=request_user(request),
        decision=decision,
        kind=payload.kind,
        done_on=payload.done_on,
        attendance=payload.attendance,
        notes=payload.notes,
        vote=vote,
        notice_days=payload.notice_days,
    )
    return Status(201, get_visible(_qs(), request, id))
