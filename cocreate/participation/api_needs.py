"""REST endpoints of needs (诉求) and the problem list (问题清单).

Handlers hold no rules: needs and problems addressed by id go through core's ``get_visible``
(missing and forbidden both 404), lists come from the scoped selectors in
``cocreate.participation.needs``, writes call its services — the same ones the pages call.
Photos of a need are uploaded afterwards through ``POST /attachments`` (``participation.need``).
Supporters are counted, never named, except to staff of the need's region.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
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
from cocreate.core.models import Person, Region
from cocreate.core.schemas import BodyId, Id, InputSchema, QuerySchema, SearchText, Text
from cocreate.participation import needs
from cocreate.participation.models import Need, ProblemItem

router = Router(tags=["needs"])

NeedStatusValue = Literal["submitted", "listed", "declined", "merged", "done"]
CategoryValue = Literal["industry", "environment", "infrastructure", "public_services", "governance"]
ProblemStatusValue = Literal["open", "deliberating", "decided", "dropped", "done"]
Latitude = Annotated[
    float, Field(strict=False, ge=-90, le=90, allow_inf_nan=False, description="纬度（WGS-84），须与经度同时填写")
]
Longitude = Annotated[
    float, Field(strict=False, ge=-180, le=180, allow_inf_nan=False, description="经度（WGS-84），须与纬度同时填写")
]


class StatusChangeOut(Schema):
    at: datetime
    status: str
    status_display: str
    reason: str
    kind: Literal["need", "problem", "vote"] = Field(
        description="need 诉求本身的状态；problem 所在问题清单的状态；vote 该问题的表决（开始、结果）"
    )


class NeedOut(Schema):
    id: int
    title: str
    description: str
    category: str
    category_display: str
    place: str
    region_id: int
    region_name: str
    channel: str
    status: str
    status_display: str
    status_reason: str = Field(description="处理说明（不予采纳的理由、合并去向、列入的问题）")
    merged_into_id: int | None
    problem_id: int | None
    support_count: int = Field(description="附议人数（实时计算）")
    supported_by_me: bool
    is_mine: bool = Field(description="是否为调用者本人提出")
    created_at: datetime

    @staticmethod
    def resolve_category_display(obj: Need) -> str:
        return str(obj.get_category_display())

    @staticmethod
    def resolve_status_display(obj: Need) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_region_name(obj: Need) -> str:
        return obj.region.name


class NeedDetailOut(NeedOut):
    history: list[StatusChangeOut] = Field(description="状态变化（含说明），由早到晚")
    latitude: float | None = Field(description="纬度（WGS-84）；未标注位置时为空")
    longitude: float | None = Field(description="经度（WGS-84）；未标注位置时为空")

    @staticmethod
    def resolve_latitude(obj: Need) -> float | None:
        return None if obj.latitude is None else float(obj.latitude)

    @staticmethod
    def resolve_longitude(obj: Need) -> float | None:
        return None if obj.longitude is None else float(obj.longitude)

    @staticmethod
    def resolve_history(obj: Need) -> list[needs.StatusChange]:
        return needs.status_history([obj])[obj.pk]


class NeedFilter(QuerySchema):
    status: NeedStatusValue | None = None
    category: CategoryValue | None = None
    region: Id | None = Field(None, description="区划 id：该区划及下级的诉求")
    order: Literal["new", "support"] = Field("new", description="new 最新；support 附议最多")
    search: SearchText = ""


class NeedIn(InputSchema):
    title: Annotated[Text, Field(min_length=1, max_length=100)]
    description: Annotated[Text, Field(min_length=1, max_length=5000)]
    category: CategoryValue
    place: Annotated[Text, Field(max_length=200)] = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    person_id: BodyId | None = Field(None, description="入户代录时：提出诉求的居民；本人提出时不填")


class MergeIn(InputSchema):
    into_id: BodyId
    note: Annotated[Text, Field(max_length=200)] = ""


class ScreenIn(InputSchema):
    problem_id: BodyId | None = Field(None, description="列入已有问题；不填则新建问题")
    title: Annotated[Text, Field(max_length=200)] = ""
    description: Annotated[Text, Field(max_length=5000)] = ""
    category: CategoryValue | None = None
    also_ids: Annotated[list[BodyId], Field(max_length=100)] = Field(
        default_factory=list, description="一并列入的其他诉求"
    )


class DeclineIn(InputSchema):
    reason: Annotated[Text, Field(min_length=1, max_length=300)]


class SupportOut(Schema):
    created: bool = Field(description="本次新增为 true；此前已附议为 false（幂等）")
    need: NeedOut


class ProblemOut(Schema):
    id: int
    title: str
    description: str
    category: str
    category_display: str
    region_id: int
    region_name: str
    status: str
    status_display: str
    status_reason: str
    need_count: int
    supporter_total: int = Field(description="相关诉求的附议人数（去重）")
    created_at: datetime

    @staticmethod
    def resolve_category_display(obj: ProblemItem) -> str:
        return str(obj.get_category_display())

    @staticmethod
    def resolve_status_display(obj: ProblemItem) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_region_name(obj: ProblemItem) -> str:
        return obj.region.name


class ProblemNeedOut(Schema):
    id: int
    title: str
    status: str
    support_count: int


class ProblemDetailOut(ProblemOut):
    needs: list[ProblemNeedOut]

    @staticmethod
    def resolve_needs(obj: ProblemItem) -> list[Need]:
        return list(obj.api_needs)  # type: ignore[attr-defined]


class ProblemFilter(QuerySchema):
    status: ProblemStatusValue | None = None
    category: CategoryValue | None = None
    region: Id | None = Field(None, description="区划 id：该区划及下级的问题")


class ProblemStatusIn(InputSchema):
    status: ProblemStatusValue
    reason: Annotated[Text, Field(max_length=300)] = ""


def _need(request: HttpRequest, pk: int) -> Need:
    return needs.need_detail(user=request_user(request), pk=pk)


def _problem(request: HttpRequest, pk: int) -> ProblemItem:
    user = request_user(request)
    problem = needs.problem_detail(user=user, pk=pk)
    problem.api_needs = needs.problem_needs(user=user, problem=problem)  # type: ignore[attr-defined]
    return problem


def _coordinate(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.000001"))


@router.get("/needs", response={200: list[NeedOut], **LIST_ERRORS}, summary="诉求列表")
@paginate(Pagination)
def need_list(request: HttpRequest, filters: Query[NeedFilter]) -> QuerySet[Need]:
    region = get_optional(Region, request, filters.region, "region")
    return needs.need_list(
        user=request_user(request),
        region=region,
        status=filters.status or "",
        category=filters.category or "",
        order=filters.order,
        search=filters.search,
    )


@router.get("/needs/{id}", response={200: NeedDetailOut, **READ_ERRORS}, summary="诉求详情")
def need_detail(request: HttpRequest, id: Id) -> Need:
    return _need(request, id)


@router.post("/needs", response={201: NeedDetailOut, **WRITE_ERRORS}, summary="提出诉求（本人或入户代录）")
def need_create(request: HttpRequest, payload: NeedIn) -> Status:
    person = get_optional(Person, request, payload.person_id, "person_id")
    need = needs.need_raise(
        actor=request_user(request),
        title=payload.title,
        description=payload.description,
        category=payload.category,
        place=payload.place,
        latitude=_coordinate(payload.latitude),
        longitude=_coordinate(payload.longitude),
        person=person,
    )
    return Status(201, _need(request, need.pk))


@router.post("/needs/{id}/support", response={200: SupportOut, **WRITE_ERRORS}, summary="附议（重复附议幂等）")
def need_support(request: HttpRequest, id: Id) -> dict[str, Any]:
    need = _need(request, id)
    _support, created = needs.need_second(actor=request_user(request), need=need)
    return {"created": created, "need": _need(request, id)}


@router.post("/needs/{id}/merge", response={200: NeedDetailOut, **WRITE_ERRORS}, summary="合并重复诉求")
def need_merge(request: HttpRequest, id: Id, payload: MergeIn) -> Need:
    need = _need(request, id)
    into = get_visible(Need, request, payload.into_id, "into_id")
    needs.need_merge(actor=request_user(request), need=need, into=into, note=payload.note)
    return _need(request, id)


@router.post(
    "/needs/{id}/screen", response={200: ProblemDetailOut, **WRITE_ERRORS}, summary="列入问题清单（已有或新建）"
)
def need_screen(request: HttpRequest, id: Id, payload: ScreenIn) -> ProblemItem:
    need = _need(request, id)
    others = [get_visible(Need, request, pk, "also_ids") for pk in dict.fromkeys(payload.also_ids) if pk != id]
    problem = get_optional(ProblemItem, request, payload.problem_id, "problem_id")
    if problem is not None and (payload.title or payload.description or payload.category):
        raise ValidationError({"problem_id": ["列入已有问题时不能同时填写新问题的内容"]})
    result = needs.need_screen(
        actor=request_user(request),
        needs=[need, *others],
        problem=problem,
        title=payload.title,
        description=payload.description,
        category=payload.category or "",
    )
    return _problem(request, result.pk)


@router.post("/needs/{id}/decline", response={200: NeedDetailOut, **WRITE_ERRORS}, summary="不予采纳（须说明理由）")
def need_decline(request: HttpRequest, id: Id, payload: DeclineIn) -> Need:
    need = _need(request, id)
    needs.need_decline(actor=request_user(request), need=need, reason=payload.reason)
    return _need(request, id)


@router.get("/problems", response={200: list[ProblemOut], **LIST_ERRORS}, tags=["problems"], summary="问题清单")
@paginate(Pagination)
def problem_list(request: HttpRequest, filters: Query[ProblemFilter]) -> QuerySet[ProblemItem]:
    region = get_optional(Region, request, filters.region, "region")
    return needs.problem_list(
        user=request_user(request), region=region, status=filters.status or "", category=filters.category or ""
    )


@router.get(
    "/problems/{id}", response={200: ProblemDetailOut, **READ_ERRORS}, tags=["problems"], summary="问题清单条目详情"
)
def problem_detail(request: HttpRequest, id: Id) -> ProblemItem:
    return _problem(request, id)


@router.post(
    "/problems/{id}/status",
    response={200: ProblemDetailOut, **WRITE_ERRORS},
    tags=["problems"],
    summary="更新问题状态（办结时相关诉求一并办结）",
)
def problem_status(request: HttpRequest, id: Id, payload: ProblemStatusIn) -> ProblemItem:
    problem = _problem(request, id)
    needs.problem_update_status(
        actor=request_user(request), problem=problem, status=payload.status, reason=payload.reason
    )
    return _problem(request, id)
