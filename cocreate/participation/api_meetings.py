"""REST endpoints of deliberation meetings and the task list (任务清单).

Handlers hold no rules: objects addressed by id go through core's ``get_visible`` (missing and
forbidden both 404), lists come from ``selectors_meetings`` (scoped), writes call
``cocreate.participation.meetings``. Who was invited is shown only to those who run the meeting
(a resident sees their own line); comment authors are masked (张*) for everyone else.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import BeforeValidator

from cocreate.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Pagination,
    get_optional,
    get_visible,
    request_user,
)
from cocreate.core.models import Person, Region, Unit
from cocreate.core.schemas import BodyId, Id, InputSchema, IsoDate, QuerySchema, SearchText, Text
from cocreate.participation import meetings, selectors_meetings
from cocreate.participation.meetings import COMMENT_MAX
from cocreate.participation.models import (
    Decision,
    Meeting,
    MeetingItem,
    ProblemItem,
    TaskItemStatus,
    TaskListItem,
    Vote,
)

router = Router(tags=["meetings"])

MeetingKindValue = Literal["council", "courtyard", "bench", "villagers", "representatives", "party", "committees"]
MeetingStatusValue = Literal["planned", "held"]
ParticipantKindValue = Literal["resident", "representative", "sage", "expert", "staff", "other"]
TaskItemStatusValue = Literal["todo", "doing", "done"]


def _datetime_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("应为 ISO 8601 格式的时间字符串，如 2026-06-01T09:00:00+08:00")
    return value


# A time in a strict body: JSON has no datetime type, so the ISO text form is the one accepted.
IsoDateTime = Annotated[datetime, Field(strict=False), BeforeValidator(_datetime_text)]


# --- Schemas ---------------------------------------------------------------------------------------------


class MeetingOut(Schema):
    id: int
    region_id: int
    region_name: str
    kind: str
    kind_display: str
    title: str
    held_at: datetime
    place: str
    status: str
    status_display: str

    @staticmethod
    def resolve_region_name(obj: Meeting) -> str:
        return obj.region.name

    @staticmethod
    def resolve_kind_display(obj: Meeting) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_display(obj: Meeting) -> str:
        return str(obj.get_status_display())


class CommentOut(Schema):
    id: int
    author: str = Field(description="提出人：会议管理人员可见全名，其他人见脱敏姓名（张*）")
    text: str
    created_at: datetime


class MeetingItemOut(Schema):
    id: int
    order: int
    title: str
    problem_id: int | None
    discussion: str
    resolution: str
    comments: list[CommentOut]

    @staticmethod
    def resolve_comments(obj: MeetingItem) -> list[Any]:
        return list(obj.comment_rows)  # type: ignore[attr-defined]


class ParticipantOut(Schema):
    id: int
    person_id: int | None
    name: str
    kind: str
    kind_display: str
    present: bool

    @staticmethod
    def resolve_kind_display(obj: Any) -> str:
        return str(obj.get_kind_display())


class MeetingDetailOut(MeetingOut):
    minutes: str
    invited: int = Field(description="邀请人数")
    present: int = Field(description="到会人数（会议召开后）")
    comments_open: bool = Field(description="是否仍可对议题提出意见（会议召开前）")
    items: list[MeetingItemOut]
    participants: list[ParticipantOut] | None = Field(
        description="参会人员：仅会议管理人员可见全部；居民只见本人（未受邀时为空列表）"
    )

    @staticmethod
    def resolve_invited(obj: Meeting) -> int:
        return int(obj.api_counts[0])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_present(obj: Meeting) -> int:
        return int(obj.api_counts[1])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_comments_open(obj: Meeting) -> bool:
        return selectors_meetings.comment_open(obj)

    @staticmethod
    def resolve_items(obj: Meeting) -> list[Any]:
        return list(obj.api_items)  # type: ignore[attr-defined]

    @staticmethod
    def resolve_participants(obj: Meeting) -> list[Any]:
        return list(obj.api_participants)  # type: ignore[attr-defined]


class MeetingFilter(QuerySchema):
    region: Id | None = Field(None, description="区划 id：该区划及下级的会议")
    status: MeetingStatusValue | None = None
    upcoming: bool | None = Field(None, description="true：尚未召开的会议（时间最近的在前）；false：其余")
    search: SearchText = ""


class MeetingIn(InputSchema):
    region_id: BodyId
    kind: MeetingKindValue
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    held_at: IsoDateTime
    place: Annotated[Text, Field(min_length=1, max_length=200)]


class ParticipantIn(InputSchema):
    kind: ParticipantKindValue
    person_id: BodyId | None = Field(None, description="本社区人员 id；不填时为特邀人员，须填写姓名")
    name: Annotated[Text, Field(max_length=50)] = ""


class ItemIn(InputSchema):
    problem_id: BodyId | None = Field(None, description="问题清单 id")
    title: Annotated[Text, Field(max_length=200)] = Field("", description="议题；选择问题清单时可不填")


class ItemRecordIn(InputSchema):
    id: BodyId = Field(description="议题 id")
    discussion: Annotated[Text, Field(max_length=10000)] = ""
    resolution: Annotated[Text, Field(max_length=10000)] = ""


class RecordIn(InputSchema):
    present: list[BodyId] = Field(default_factory=list, description="到会的参会人员 id")
    minutes: Annotated[Text, Field(min_length=1, max_length=20000)]
    items: list[ItemRecordIn] = Field(default_factory=list)


class CommentIn(InputSchema):
    text: Annotated[Text, Field(min_length=1, max_length=COMMENT_MAX)]


class TaskItemOut(Schema):
    id: int
    region_id: int
    region_name: str
    title: str
    description: str
    owner_unit_id: int
    owner_unit_name: str
    deadline: date
    status: str = Field(description="状态：列入工作方案后按任务进度计算")
    status_display: str
    problem_id: int | None
    meeting_item_id: int | None
    meeting_id: int | None
    vote_id: int | None
    decision_id: int | None
    plan_task_id: int | None
    plan_id: int | None
    progress: Decimal | None = Field(description="工作方案任务的完成进度（%）")
    light: str | None = Field(description="工作方案任务的亮灯：green/yellow/red/blue/done/not_started")

    @staticmethod
    def resolve_region_name(obj: TaskListItem) -> str:
        return obj.region.name

    @staticmethod
    def resolve_owner_unit_name(obj: TaskListItem) -> str:
        return obj.owner_unit.name

    @staticmethod
    def resolve_status(obj: TaskListItem) -> str:
        return str(meetings.effective_status(obj))

    @staticmethod
    def resolve_status_display(obj: TaskListItem) -> str:
        return str(TaskItemStatus(meetings.effective_status(obj)).label)

    @staticmethod
    def resolve_meeting_id(obj: TaskListItem) -> int | None:
        return obj.meeting_item.meeting_id if obj.meeting_item is not None else None

    @staticmethod
    def resolve_plan_id(obj: TaskListItem) -> int | None:
        return obj.plan_task.plan_id if obj.plan_task is not None else None

    @staticmethod
    def resolve_progress(obj: TaskListItem) -> Decimal | None:
        return obj.plan_task.progress if obj.plan_task is not None else None

    @staticmethod
    def resolve_light(obj: TaskListItem) -> str | None:
        from cocreate.plans.status import task_light

        if obj.plan_task is None:
            return None
        return str(task_light(obj.plan_task, timezone.localdate()).light)


class TaskItemFilter(QuerySchema):
    region: Id | None = Field(None, description="区划 id：该区划及下级的任务")
    status: TaskItemStatusValue | None = None
    search: SearchText = ""


class TaskItemIn(InputSchema):
    title: Annotated[Text, Field(max_length=200)] = Field("", description="任务；不填时使用来源的名称")
    description: Annotated[Text, Field(max_length=5000)] = ""
    owner_unit_id: BodyId
    deadline: IsoDate
    meeting_item_id: BodyId | None = Field(None, description="已形成决议的议题 id")
    vote_id: BodyId | None = Field(None, description="已结束并获通过的表决 id")
    decision_id: BodyId | None = Field(None, description="四议两公开事项 id")


class TaskItemPlanIn(InputSchema):
    plan_id: BodyId
    starts_on: IsoDate | None = Field(None, description="任务开始日期；不填时为今天（不早于方案开始日期）")


# --- Meetings ------------------------------------------------------------------------------------------------


def _detail(request: HttpRequest, pk: int) -> Meeting:
    user = request_user(request)
    meeting = selectors_meetings.meeting_detail(user=user, pk=pk)
    meeting.api_items = selectors_meetings.meeting_items(user=user, meeting=meeting)  # type: ignore[attr-defined]
    meeting.api_participants = list(  # type: ignore[attr-defined]
        selectors_meetings.meeting_participants(user=user, meeting=meeting)
    )
    meeting.api_counts = selectors_meetings.participant_counts(meeting)  # type: ignore[attr-defined]
    return meeting


@router.get("/meetings", response={200: list[MeetingOut], **LIST_ERRORS}, summary="议事会议列表")
@paginate(Pagination)
def meeting_list(request: HttpRequest, filters: Query[MeetingFilter]) -> QuerySet[Meeting]:
    region = get_optional(Region, request, filters.region, "region")
    return selectors_meetings.meeting_list(
        user=request_user(request),
        status=filters.status or "",
        search=filters.search,
        region=region,
        upcoming=filters.upcoming,
    )


@router.get("/meetings/{id}", response={200: MeetingDetailOut, **READ_ERRORS}, summary="会议详情（议题、意见、决议）")
def meeting_detail(request: HttpRequest, id: Id) -> Meeting:
    return _detail(request, id)


@router.post("/meetings", response={201: MeetingDetailOut, **WRITE_ERRORS}, summary="新建议事会议")
def meeting_create(request: HttpRequest, payload: MeetingIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    held_at = payload.held_at
    if timezone.is_naive(held_at):
        held_at = timezone.make_aware(held_at)
    meeting = meetings.meeting_create(
        actor=request_user(request),
        region=region,
        kind=payload.kind,
        title=payload.title,
        held_at=held_at,
        place=payload.place,
    )
    return Status(201, _detail(request, meeting.pk))


@router.post("/meetings/{id}/participants", response={201: MeetingDetailOut, **WRITE_ERRORS}, summary="邀请参会人员")
def meeting_participant_add(request: HttpRequest, id: Id, payload: ParticipantIn) -> Status:
    meeting = get_visible(Meeting.objects.select_related("region"), request, id)
    person = get_optional(Person, request, payload.person_id, "person_id")
    meetings.participant_add(
        actor=request_user(request), meeting=meeting, kind=payload.kind, person=person, name=payload.name
    )
    return Status(201, _detail(request, id))


@router.post("/meetings/{id}/items", response={201: MeetingDetailOut, **WRITE_ERRORS}, summary="增加议题")
def meeting_item_add(request: HttpRequest, id: Id, payload: ItemIn) -> Status:
    meeting = get_visible(Meeting.objects.select_related("region"), request, id)
    problem = get_optional(ProblemItem, request, payload.problem_id, "problem_id")
    meetings.item_add(actor=request_user(request), meeting=meeting, title=payload.title, problem=problem)
    return Status(201, _detail(request, id))


@router.post(
    "/meetings/{id}/record",
    response={200: MeetingDetailOut, **WRITE_ERRORS},
    summary="记录会议（到会人员、纪要、各议题讨论情况和决议）",
)
def meeting_record(request: HttpRequest, id: Id, payload: RecordIn) -> Meeting:
    meeting = get_visible(Meeting.objects.select_related("region"), request, id)
    ids = [i.id for i in payload.items]
    if len(ids) != len(set(ids)):
        raise ValidationError({"items": _("议题不属于本次会议")})
    meetings.meeting_record(
        actor=request_user(request),
        meeting=meeting,
        present=list(payload.present),
        minutes=payload.minutes,
        items={i.id: (i.discussion, i.resolution) for i in payload.items},
    )
    return _detail(request, id)


@router.post(
    "/meetings/{id}/items/{meetingitem_id}/comments",
    response={201: MeetingDetailOut, **WRITE_ERRORS},
    summary="居民对议题提出意见（会议召开前）",
)
def meetingitem_comment(request: HttpRequest, id: Id, meetingitem_id: Id, payload: CommentIn) -> Status:
    meeting = get_visible(Meeting, request, id)
    item = get_visible(
        MeetingItem.objects.filter(meeting=meeting).select_related("meeting__region"), request, meetingitem_id
    )
    meetings.comment_add(actor=request_user(request), item=item, text=payload.text)
    return Status(201, _detail(request, id))


# --- Task list -----------------------------------------------------------------------------------------------


@router.get("/tasklistitems", response={200: list[TaskItemOut], **LIST_ERRORS}, summary="任务清单")
@paginate(Pagination)
def tasklistitem_list(request: HttpRequest, filters: Query[TaskItemFilter]) -> QuerySet[TaskListItem]:
    region = get_optional(Region, request, filters.region, "region")
    return selectors_meetings.task_item_list(
        user=request_user(request), search=filters.search, region=region, status=filters.status or ""
    )


@router.get("/tasklistitems/{id}", response={200: TaskItemOut, **READ_ERRORS}, summary="任务清单条目")
def tasklistitem_detail(request: HttpRequest, id: Id) -> TaskListItem:
    return selectors_meetings.task_item_detail(user=request_user(request), pk=id)


@router.post(
    "/tasklistitems",
    response={201: TaskItemOut, **WRITE_ERRORS},
    summary="列入任务清单（来源须为会议决议、通过的表决或四议两公开）",
)
def tasklistitem_create(request: HttpRequest, payload: TaskItemIn) -> Status:
    meeting_item = get_optional(MeetingItem, request, payload.meeting_item_id, "meeting_item_id")
    vote = get_optional(Vote, request, payload.vote_id, "vote_id")
    decision = get_optional(Decision, request, payload.decision_id, "decision_id")
    owner_unit = get_visible(Unit, request, payload.owner_unit_id, "owner_unit_id")
    if meeting_item is not None:
        region = meeting_item.meeting.region
    elif vote is not None:
        region = vote.region
    elif decision is not None:
        region = decision.region
    else:
        raise ValidationError({"source": _("请选择任务来源：会议决议、表决结果或四议两公开")})
    title = payload.title.strip() or next(s.title for s in (meeting_item, vote, decision) if s is not None)
    line = meetings.task_item_create(
        actor=request_user(request),
        region=region,
        title=title,
        description=payload.description,
        owner_unit=owner_unit,
        deadline=payload.deadline,
        meeting_item=meeting_item,
        vote=vote,
        decision=decision,
    )
    return Status(201, selectors_meetings.task_item_detail(user=request_user(request), pk=line.pk))


@router.post(
    "/tasklistitems/{id}/plan",
    response={200: TaskItemOut, **WRITE_ERRORS},
    summary="列入工作方案（成为责任单位的方案任务，状态随任务进度）",
)
def tasklistitem_plan(request: HttpRequest, id: Id, payload: TaskItemPlanIn) -> TaskListItem:
    from cocreate.plans.models import Plan

    line = selectors_meetings.task_item_detail(user=request_user(request), pk=id)
    plan = get_visible(Plan.objects.select_related("region"), request, payload.plan_id, "plan_id")
    meetings.task_item_to_plan(actor=request_user(request), item=line, plan=plan, starts_on=payload.starts_on)
    return selectors_meetings.task_item_detail(user=request_user(request), pk=id)
