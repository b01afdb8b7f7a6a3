"""REST endpoints of public notices (公示) and objections (异议).

Handlers hold no rules: notices and objections addressed by id go through core's
``get_visible`` (missing and forbidden both 404), lists come from ``notices.notice_list``
(scoped), writes call ``cocreate.participation.notices`` — the same services as the pages.
An objection after the period answers 400 with the reason under ``fields.notice``.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from cocreate.core import access
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
from cocreate.participation import notices
from cocreate.participation.models import Notice, Objection

router = Router(tags=["notices"])

NoticeStatusValue = Literal["draft", "published", "ended"]
MAX_DAYS = notices.MAX_DAYS


class ObjectionOut(Schema):
    id: int
    notice_id: int
    text: str
    status: str
    status_display: str
    answer: str
    created_at: datetime
    answered_at: datetime | None
    is_mine: bool = Field(description="是否本人提出")

    @staticmethod
    def resolve_status_display(obj: Objection) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_is_mine(obj: Objection, context: dict[str, object]) -> bool:
        request = context["request"]
        return obj.person_id == getattr(getattr(request, "user", None), "person_id", None)


class NoticeOut(Schema):
    id: int
    region_id: int
    region_name: str
    title: str
    starts_on: date
    ends_on: date
    days: int = Field(description="公示天数（含首尾两天）")
    status: str
    status_display: str
    passed: bool | None = Field(description="公示期满后：无未答复或成立的异议为 true")
    published_at: datetime | None

    @staticmethod
    def resolve_region_name(obj: Notice) -> str:
        return obj.region.name

    @staticmethod
    def resolve_days(obj: Notice) -> int:
        return notices.period_days(obj)

    @staticmethod
    def resolve_status_display(obj: Notice) -> str:
        return str(obj.get_status_display())


class NoticeDetailOut(NoticeOut):
    body: str
    is_running: bool = Field(description="公示期内（可提出异议）")
    objections: list[ObjectionOut] = Field(description="工作人员看到全部异议，居民只看到本人的")

    @staticmethod
    def resolve_is_running(obj: Notice) -> bool:
        return notices.is_running(obj)

    @staticmethod
    def resolve_objections(obj: Notice) -> list[Objection]:
        return list(obj.api_objections)  # type: ignore[attr-defined]


class NoticeFilter(QuerySchema):
    region: Id | None = Field(None, description="区划 id：该区划及下级的公示")
    status: NoticeStatusValue | None = None
    search: SearchText = ""


class NoticeIn(InputSchema):
    region_id: BodyId
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    body: Annotated[Text, Field(min_length=1, max_length=20000)]
    starts_on: IsoDate
    days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = notices.DEFAULT_DAYS


class ObjectionIn(InputSchema):
    text: Annotated[Text, Field(min_length=1, max_length=notices.TEXT_MAX)]


class AnswerIn(InputSchema):
    upheld: bool = Field(description="true：异议成立；false：异议不成立")
    answer: Annotated[Text, Field(min_length=1, max_length=notices.TEXT_MAX)]


def _qs() -> QuerySet[Notice]:
    return Notice.objects.select_related("region")


def _detail(request: HttpRequest, pk: int) -> Notice:
    notice = get_visible(_qs(), request, pk)
    notice.api_objections = notices.objections_for(user=request_user(request), notice=notice)  # type: ignore[attr-defined]
    return notice


@router.get("/notices", response={200: list[NoticeOut], **LIST_ERRORS}, summary="公示列表")
@paginate(Pagination)
def notice_list(request: HttpRequest, filters: Query[NoticeFilter]) -> QuerySet[Notice]:
    region = get_optional(Region, request, filters.region, "region")
    return notices.notice_list(
        user=request_user(request), status=filters.status or "", search=filters.search, region=region
    )


@router.get("/notices/{id}", response={200: NoticeDetailOut, **READ_ERRORS}, summary="公示详情（含异议）")
def notice_detail(request: HttpRequest, id: Id) -> Notice:
    return _detail(request, id)


@router.post("/notices", response={201: NoticeDetailOut, **WRITE_ERRORS}, summary="新建公示草稿")
def notice_create(request: HttpRequest, payload: NoticeIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    notice = notices.notice_create(
        actor=request_user(request),
        region=region,
        title=payload.title,
        body=payload.body,
        starts_on=payload.starts_on,
        days=payload.days,
    )
    return Status(201, _detail(request, notice.pk))


@router.post(
    "/notices/{id}/publish", response={200: NoticeDetailOut, **WRITE_ERRORS}, summary="发布公示（通知本社区居民）"
)
def notice_publish(request: HttpRequest, id: Id) -> Notice:
    notice = get_visible(_qs(), request, id)
    notices.notice_publish(actor=request_user(request), notice=notice)
    return _detail(request, id)


@router.post(
    "/notices/{id}/objections",
    response={201: ObjectionOut, **WRITE_ERRORS},
    summary="对公示提出异议（仅公示期内、本社区居民）",
)
def notice_objection_add(request: HttpRequest, id: Id, payload: ObjectionIn) -> Status:
    notice = get_visible(_qs(), request, id)
    objection = notices.objection_lodge(actor=request_user(request), notice=notice, text=payload.text)
    return Status(201, objection)


@router.post(
    "/notices/{id}/objections/{objection_id}/answer",
    response={200: ObjectionOut, **WRITE_ERRORS},
    summary="答复异议（成立或不成立，须写明答复）",
)
def notice_objection_answer(request: HttpRequest, id: Id, objection_id: Id, payload: AnswerIn) -> Objection:
    notice = get_visible(_qs(), request, id)
    objection = access.get_visible_or_404(
        Objection.objects.filter(notice=notice), request_user(request), pk=objection_id
    )
    return notices.objection_answer(
        actor=request_user(request), objection=objection, upheld=payload.upheld, answer=payload.answer
    )
