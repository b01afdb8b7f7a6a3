"""The public API of each village or community (no sign-in): what its public page shows (issue 4 §8, §9).

Every operation is tagged ``public`` (the route × role matrix then checks it for private data
instead of scope) and reads only through ``selectors_public`` — the ``access.public`` registry —
so anyone gets the same answer. Names of people are masked; rows naming people (supporters,
invitees, comments, objections, ballots) appear only as counts.
"""

from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from cocreate.core.api import READ_ERRORS, Pagination
from cocreate.core.models import Region
from cocreate.core.privacy import mask_name
from cocreate.core.schemas import Id, QuerySchema, SearchText
from cocreate.participation import notices as notice_rules
from cocreate.participation import selectors_public
from cocreate.participation.api_votes import ResultOut
from cocreate.participation.models import (
    Decision,
    Meeting,
    Need,
    Notice,
    ProblemItem,
    TaskListItem,
    Vote,
)

# No authentication: these operations answer anyone.
router = Router(tags=["public"], auth=None)

PUBLIC_LIST_ERRORS = {k: v for k, v in READ_ERRORS.items() if k != 401}


class CommunityOut(Schema):
    code: str = Field(description="区划代码，即公开页面地址中的代码")
    name: str
    parent_name: str = Field(description="所属乡镇（街道）")

    @staticmethod
    def resolve_parent_name(obj: Region) -> str:
        return obj.parent.name if obj.parent else ""


class CommunityDetailOut(CommunityOut):
    counts: dict[str, int] = Field(
        description="各栏目公开条数：needs, problems, meetings, votes, notices, decisions, tasks"
    )


class CommunitySearch(QuerySchema):
    search: SearchText = Field("", description="村（社区）名称或代码")


class PublicNeedOut(Schema):
    id: int
    title: str
    category: str
    category_display: str
    status: str
    status_display: str
    place: str
    support_count: int = Field(description="附议人数（不公开附议人）")
    raised_by: str = Field(description="提出人，只显示姓氏（张*）")
    created_at: datetime

    @staticmethod
    def resolve_category_display(obj: Need) -> str:
        return str(obj.get_category_display())

    @staticmethod
    def resolve_status_display(obj: Need) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_raised_by(obj: Any) -> str:
        return mask_name(obj.raiser_name)


class PublicProblemOut(Schema):
    id: int
    title: str
    category: str
    status: str
    status_display: str
    status_reason: str
    need_count: int
    created_at: datetime

    @staticmethod
    def resolve_status_display(obj: ProblemItem) -> str:
        return str(obj.get_status_display())


class PublicItemOut(Schema):
    title: str
    resolution: str


class PublicMeetingOut(Schema):
    id: int
    title: str
    kind: str
    kind_display: str
    status: str
    held_at: datetime
    place: str
    present_count: int
    items: list[PublicItemOut] = Field(description="议题与决议（不含讨论记录和会议纪要）")

    @staticmethod
    def resolve_kind_display(obj: Meeting) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_items(obj: Any) -> list[Any]:
        return list(obj.public_items)


class PublicVoteOut(Schema):
    id: int
    title: str
    question: str
    rule_name: str
    electorate_display: str
    status: str
    status_display: str
    opens_at: datetime
    closes_at: datetime
    outcome: str = Field(description="表决通过 / 表决未通过 / 表决无效；进行中为空")

    @staticmethod
    def resolve_rule_name(obj: Vote) -> str:
        return obj.rule.name

    @staticmethod
    def resolve_electorate_display(obj: Vote) -> str:
        return str(obj.get_electorate_display())

    @staticmethod
    def resolve_status_display(obj: Vote) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_outcome(obj: Vote) -> str:
        result = selectors_public.vote_result(vote=obj)
        return str(result["phrase"]) if result else ""


class PublicVoteDetailOut(PublicVoteOut):
    result: ResultOut | None = Field(description="结束时固定的结果；进行中为 null")

    @staticmethod
    def resolve_result(obj: Vote) -> dict[str, Any] | None:
        return selectors_public.vote_result(vote=obj)


class PublicNoticeOut(Schema):
    id: int
    title: str
    body: str
    status: str
    status_display: str
    starts_on: date
    ends_on: date
    period_days: int
    passed: bool | None = Field(description="公示期满后：无未解决异议为 true；期内为 null")
    objection_count: int = Field(description="收到的异议条数（不公开异议人）")

    @staticmethod
    def resolve_status_display(obj: Notice) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_period_days(obj: Notice) -> int:
        return int(notice_rules.period_days(obj))


class PublicStepOut(Schema):
    order: int
    kind: str
    kind_display: str
    done_on: date
    attendance: int | None
    notes: str
    vote_id: int | None
    notice_id: int | None

    @staticmethod
    def resolve_kind_display(obj: Any) -> str:
        return str(obj.get_kind_display())


class PublicDecisionOut(Schema):
    id: int
    title: str
    status: str
    status_display: str
    created_at: datetime
    steps: list[PublicStepOut]

    @staticmethod
    def resolve_status_display(obj: Decision) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_steps(obj: Any) -> list[Any]:
        return list(obj.public_steps)


class PublicTaskOut(Schema):
    id: int
    title: str
    owner_unit: str
    deadline: date
    status: str
    status_display: str

    @staticmethod
    def resolve_owner_unit(obj: TaskListItem) -> str:
        return obj.owner_unit.name

    @staticmethod
    def resolve_status(obj: TaskListItem) -> str:
        return selectors_public.task_status(obj)[0]

    @staticmethod
    def resolve_status_display(obj: TaskListItem) -> str:
        return selectors_public.task_status(obj)[1]


SECTIONS = {
    "needs": selectors_public.needs,
    "problems": selectors_public.problems,
    "meetings": selectors_public.meetings,
    "votes": selectors_public.votes,
    "notices": selectors_public.notices,
    "decisions": selectors_public.decisions,
    "tasks": selectors_public.task_items,
}


@router.get(
    "/public/communities",
    response={200: list[CommunityOut], **PUBLIC_LIST_ERRORS},
    summary="有公开信息的村（社区）",
)
@paginate(Pagination)
def public_community_list(request: HttpRequest, filters: Query[CommunitySearch]) -> QuerySet[Region]:
    return selectors_public.community_list(search=filters.search)


@router.get(
    "/public/communities/{code}",
    response={200: CommunityDetailOut, **PUBLIC_LIST_ERRORS},
    summary="村（社区）公开信息概览",
)
def public_community(request: HttpRequest, code: str) -> Any:
    community = selectors_public.community(code=code)
    community.counts = {name: reader(community=community).count() for name, reader in SECTIONS.items()}  # type: ignore[attr-defined]
    return community


def _list(name: str, code: str) -> QuerySet[Any]:
    return SECTIONS[name](community=selectors_public.community(code=code))


@router.get(
    "/public/communities/{code}/needs",
    response={200: list[PublicNeedOut], **PUBLIC_LIST_ERRORS},
    summary="公开诉求",
)
@paginate(Pagination)
def public_needs(request: HttpRequest, code: str) -> QuerySet[Need]:
    return _list("needs", code)


@router.get(
    "/public/communities/{code}/problems",
    response={200: list[PublicProblemOut], **PUBLIC_LIST_ERRORS},
    summary="问题清单",
)
@paginate(Pagination)
def public_problems(request: HttpRequest, code: str) -> QuerySet[ProblemItem]:
    return _list("problems", code)


@router.get(
    "/public/communities/{code}/meetings",
    response={200: list[PublicMeetingOut], **PUBLIC_LIST_ERRORS},
    summary="议事会议与决议",
)
@paginate(Pagination)
def public_meetings(request: HttpRequest, code: str) -> QuerySet[Meeting]:
    return _list("meetings", code)


@router.get(
    "/public/communities/{code}/votes",
    response={200: list[PublicVoteOut], **PUBLIC_LIST_ERRORS},
    summary="表决",
)
@paginate(Pagination)
def public_votes(request: HttpRequest, code: str) -> QuerySet[Vote]:
    return _list("votes", code)


@router.get(
    "/public/communities/{code}/votes/{id}",
    response={200: PublicVoteDetailOut, **PUBLIC_LIST_ERRORS},
    summary="表决及结果",
)
def public_vote(request: HttpRequest, code: str, id: Id) -> Vote:
    return selectors_public.vote(community=selectors_public.community(code=code), pk=id)


@router.get(
    "/public/communities/{code}/notices",
    response={200: list[PublicNoticeOut], **PUBLIC_LIST_ERRORS},
    summary="公示",
)
@paginate(Pagination)
def public_notices(request: HttpRequest, code: str) -> QuerySet[Notice]:
    return _list("notices", code)


@router.get(
    "/public/communities/{code}/decisions",
    response={200: list[PublicDecisionOut], **PUBLIC_LIST_ERRORS},
    summary="四议两公开",
)
@paginate(Pagination)
def public_decisions(request: HttpRequest, code: str) -> QuerySet[Decision]:
    return _list("decisions", code)


@router.get(
    "/public/communities/{code}/tasks",
    response={200: list[PublicTaskOut], **PUBLIC_LIST_ERRORS},
    summary="任务清单",
)
@paginate(Pagination)
def public_tasks(request: HttpRequest, code: str) -> QuerySet[TaskListItem]:
    return _list("tasks", code)
