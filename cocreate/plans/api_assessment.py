"""REST endpoints of the yearly assessment (年度考核): rubric, entries, self-assessment, review,
ranking and its workbook.

Handlers hold no rules: objects addressed by id go through core's ``get_visible`` (missing and
forbidden both 404), lists and the ranking come from ``cocreate.plans.assessment`` (scoped), and
every write calls a service there. Computed figures are never accepted as input.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
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
    patch_changes,
    request_user,
)
from cocreate.core.schemas import BodyId, Id, InputSchema, IsoDate, PatchSchema, QuerySchema, Text
from cocreate.plans import assessment as svc
from cocreate.plans.models import Assessment, AssessmentEntry, AssessmentItem, Plan
from cocreate.plans.schemas import _json_number

router = Router(tags=["assessments"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AssessmentStatusValue = Literal["draft", "open", "published"]
ItemKindValue = Literal["on_time", "completion", "indicators", "rectification", "review"]
Year = Annotated[int, Field(strict=False, ge=2000, le=2100), BeforeValidator(_json_number)]
Weight = Annotated[
    Decimal, Field(strict=False, gt=0, le=100, max_digits=4, decimal_places=1), BeforeValidator(_json_number)
]
Score = Annotated[
    Decimal, Field(strict=False, ge=0, le=100, max_digits=4, decimal_places=1), BeforeValidator(_json_number)
]
Order = Annotated[int, Field(strict=False, ge=0, le=1000), BeforeValidator(_json_number)]


class AssessmentOut(Schema):
    id: int
    plan_id: int
    plan_title: str
    region_id: int
    year: int
    title: str
    period_start: date
    period_end: date
    self_deadline: date | None
    status: str
    status_display: str
    published_at: datetime | None

    @staticmethod
    def resolve_plan_title(obj: Assessment) -> str:
        return obj.plan.title

    @staticmethod
    def resolve_status_display(obj: Assessment) -> str:
        return str(obj.get_status_display())


class ItemOut(Schema):
    id: int
    kind: str
    kind_display: str
    computed: bool = Field(description="true：由系统按记录计算；false：评审打分")
    name: str
    weight: float
    criteria: str
    order: int

    @staticmethod
    def resolve_kind_display(obj: AssessmentItem) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_computed(obj: AssessmentItem) -> bool:
        return obj.is_computed


class AssessmentDetailOut(AssessmentOut):
    items: list[ItemOut]

    @staticmethod
    def resolve_items(obj: Assessment) -> list[AssessmentItem]:
        return list(obj.items.all())


class LineOut(Schema):
    item_id: int
    name: str
    kind: str
    weight: float
    applicable: bool = Field(description="false：该单位无可考核对象，不计入，总分按适用项目折算")
    numerator: float | None = Field(None, description="计算项目：分子（完成度为平均进度）")
    denominator: int | None = Field(None, description="计算项目：分母（任务数、指标数或整改数）")
    rate: float | None = Field(None, description="计算项目：比率 0–100")
    self_score: float | None = None
    review_score: float | None = None
    points: float | None = Field(None, description="该项得分")


class RowOut(Schema):
    entry_id: int
    unit_id: int
    unit: str
    region: str
    status: str
    status_display: str
    rank: int | None = Field(None, description="排名（并列同名次）；公布前本单位只看自己时为空")
    total: float
    provisional: bool = Field(description="true：考核中，按当日数据实时计算的暂定结果")
    lines: list[LineOut]


class RankingOut(Schema):
    assessment_id: int
    status: str
    as_of: date = Field(description="数据计算日：考核截止日与当天中较早者")
    rows: list[RowOut]


class EntryOut(RowOut):
    assessment_id: int
    self_comment: str
    self_submitted_at: datetime | None
    review_comment: str
    reviewed_at: datetime | None
    can_self_assess: bool
    can_review: bool


class AssessmentFilter(QuerySchema):
    plan: Id | None = Field(None, description="工作方案 id")
    status: AssessmentStatusValue | None = None


class AssessmentIn(InputSchema):
    plan_id: BodyId
    year: Year
    title: Annotated[Text, Field(max_length=200)] = ""
    self_deadline: IsoDate | None = None


class AssessmentPatch(PatchSchema):
    nullable_fields = frozenset({"self_deadline"})
    title: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None
    self_deadline: IsoDate | None = None


class ItemIn(InputSchema):
    kind: ItemKindValue
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    weight: Weight
    criteria: Annotated[Text, Field(max_length=2000)] = ""
    order: Order | None = None


class ItemPatch(PatchSchema):
    kind: ItemKindValue | None = None
    name: Annotated[Text, Field(min_length=1, max_length=120)] | None = None
    weight: Weight | None = None
    criteria: Annotated[Text, Field(max_length=2000)] | None = None
    order: Order | None = None


class ScoreIn(InputSchema):
    item_id: BodyId
    score: Score


class ScoresIn(InputSchema):
    scores: Annotated[list[ScoreIn], Field(max_length=50)]
    comment: Annotated[Text, Field(max_length=2000)] = ""


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _row(row: svc.Row) -> dict[str, Any]:
    entry = row.entry
    return {
        "entry_id": entry.pk,
        "unit_id": entry.unit_id,
        "unit": entry.unit.name,
        "region": entry.region.name,
        "status": entry.status,
        "status_display": str(entry.get_status_display()),
        "rank": row.rank,
        "total": float(row.total),
        "provisional": row.provisional,
        "lines": [
            {
                "item_id": line.item.pk,
                "name": line.item.name,
                "kind": line.item.kind,
                "weight": float(line.item.weight),
                "applicable": line.applicable,
                "numerator": _float(line.metric.numerator) if line.metric and line.metric.applicable else None,
                "denominator": line.metric.denominator if line.metric and line.metric.applicable else None,
                "rate": _float(line.metric.rate) if line.metric else None,
                "self_score": _float(line.self_score),
                "review_score": _float(line.review_score),
                "points": _float(line.points),
            }
            for line in row.lines
        ],
    }


def _qs() -> QuerySet[Assessment]:
    return Assessment.objects.select_related("plan", "region").prefetch_related("items")


def _entry_out(request: HttpRequest, entry_id: int) -> dict[str, Any]:
    user = request_user(request)
    entry = svc.entry_detail(user=user, pk=entry_id)
    assessment = entry.assessment
    today = timezone.localdate()
    row = svc.score_rows(assessment, [entry], today=today)[0]
    data = _row(row)
    data["rank"] = entry.rank  # a rank among one entry would mean nothing: the frozen one or none
    data.update(
        assessment_id=assessment.pk,
        self_comment=entry.self_comment,
        self_submitted_at=entry.self_submitted_at,
        review_comment=entry.review_comment,
        reviewed_at=entry.reviewed_at,
        can_self_assess=svc.can_self_assess(user, entry),
        can_review=svc.can_review(user, entry, today=today),
    )
    return data


def _scores(payload: ScoresIn) -> dict[int, Decimal]:
    return {score.item_id: score.score for score in payload.scores}


# Entries and items first: "/assessments/entries/…" must not be read as an assessment id.


@router.get(
    "/assessments/entries/{entry_id}", response={200: EntryOut, **READ_ERRORS}, summary="考核对象详情（得分构成）"
)
def entry_detail(request: HttpRequest, entry_id: Id) -> dict[str, Any]:
    return _entry_out(request, entry_id)


@router.post(
    "/assessments/entries/{entry_id}/self",
    response={200: EntryOut, **WRITE_ERRORS},
    summary="单位自评（评审打分项目的自评分与自评说明）",
)
def entry_self_assess(request: HttpRequest, entry_id: Id, payload: ScoresIn) -> dict[str, Any]:
    entry = get_visible(AssessmentEntry.objects.select_related("assessment"), request, entry_id)
    svc.entry_self_assess(actor=request_user(request), entry=entry, scores=_scores(payload), comment=payload.comment)
    return _entry_out(request, entry_id)


@router.post(
    "/assessments/entries/{entry_id}/review",
    response={200: EntryOut, **WRITE_ERRORS},
    summary="考核组审核（评审打分项目的审定分与审核意见）",
)
def entry_review(request: HttpRequest, entry_id: Id, payload: ScoresIn) -> dict[str, Any]:
    entry = get_visible(AssessmentEntry.objects.select_related("assessment"), request, entry_id)
    svc.entry_review(actor=request_user(request), entry=entry, scores=_scores(payload), comment=payload.comment)
    return _entry_out(request, entry_id)


@router.patch("/assessments/items/{item_id}", response={200: ItemOut, **WRITE_ERRORS}, summary="修改考核项目（编制中）")
def item_update(request: HttpRequest, item_id: Id, payload: ItemPatch) -> AssessmentItem:
    item = get_visible(AssessmentItem.objects.select_related("assessment", "assessment__region"), request, item_id)
    return svc.item_update(actor=request_user(request), item=item, data=patch_changes(payload))


@router.delete("/assessments/items/{item_id}", response={204: None, **WRITE_ERRORS}, summary="删除考核项目（编制中）")
def item_delete(request: HttpRequest, item_id: Id) -> Status:
    item = get_visible(AssessmentItem.objects.select_related("assessment", "assessment__region"), request, item_id)
    svc.item_delete(actor=request_user(request), item=item)
    return Status(204, None)


@router.get("/assessments", response={200: list[AssessmentOut], **LIST_ERRORS}, summary="年度考核列表")
@paginate(Pagination)
def assessment_list(request: HttpRequest, filters: Query[AssessmentFilter]) -> QuerySet[Assessment]:
    plan = get_optional(Plan, request, filters.plan, "plan")
    return svc.assessment_list(user=request_user(request), plan=plan, status=filters.status or "")


@router.get("/assessments/{id}", response={200: AssessmentDetailOut, **READ_ERRORS}, summary="年度考核详情（考核细则）")
def assessment_detail(request: HttpRequest, id: Id) -> Assessment:
    return get_visible(_qs(), request, id)


@router.post(
    "/assessments", response={201: AssessmentDetailOut, **WRITE_ERRORS}, summary="新建年度考核（默认考核细则）"
)
def assessment_create(request: HttpRequest, payload: AssessmentIn) -> Status:
    plan = get_visible(Plan, request, payload.plan_id, "plan_id")
    created = svc.assessment_create(
        actor=request_user(request),
        plan=plan,
        year=payload.year,
        title=payload.title,
        self_deadline=payload.self_deadline,
    )
    return Status(201, get_visible(_qs(), request, created.pk))


@router.patch("/assessments/{id}", response={200: AssessmentDetailOut, **WRITE_ERRORS}, summary="修改年度考核")
def assessment_update(request: HttpRequest, id: Id, payload: AssessmentPatch) -> Assessment:
    assessment = get_visible(_qs(), request, id)
    svc.assessment_update(actor=request_user(request), assessment=assessment, data=patch_changes(payload))
    return get_visible(_qs(), request, id)


@router.post("/assessments/{id}/items", response={201: ItemOut, **WRITE_ERRORS}, summary="添加考核项目（编制中）")
def item_add(request: HttpRequest, id: Id, payload: ItemIn) -> Status:
    assessment = get_visible(_qs(), request, id)
    item = svc.item_add(
        actor=request_user(request),
        assessment=assessment,
        kind=payload.kind,
        name=payload.name,
        weight=payload.weight,
        criteria=payload.criteria,
        order=payload.order,
    )
    return Status(201, item)


@router.post(
    "/assessments/{id}/open",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="启动考核（固定考核细则，各责任单位开始自评）",
)
def assessment_open(request: HttpRequest, id: Id) -> Assessment:
    svc.assessment_open(actor=request_user(request), assessment=get_visible(_qs(), request, id))
    return get_visible(_qs(), request, id)


@router.post(
    "/assessments/{id}/publish",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="公布考核结果（固定得分与排名并通知）",
)
def assessment_publish(request: HttpRequest, id: Id) -> Assessment:
    svc.assessment_publish(actor=request_user(request), assessment=get_visible(_qs(), request, id))
    return get_visible(_qs(), request, id)


@router.get("/assessments/{id}/ranking", response={200: RankingOut, **READ_ERRORS}, summary="考核排名与得分构成")
def assessment_ranking(request: HttpRequest, id: Id) -> dict[str, Any]:
    assessment = get_visible(_qs(), request, id)
    today = timezone.localdate()
    rows = svc.ranking(user=request_user(request), assessment=assessment, today=today)
    return {
        "assessment_id": assessment.pk,
        "status": assessment.status,
        "as_of": svc.as_of_day(assessment, today),
        "rows": [_row(row) for row in rows],
    }


@router.get(
    "/assessments/{id}/xlsx",
    response=READ_ERRORS,
    summary="下载考核排名 Excel",
    openapi_extra={
        "responses": {
            "200": {
                "description": "考核排名与计分依据（xlsx）",
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def assessment_xlsx(request: HttpRequest, id: Id) -> HttpResponse:
    assessment = get_visible(_qs(), request, id)
    data = svc.assessment_xlsx(user=request_user(request), assessment=assessment, today=timezone.localdate())
    response = HttpResponse(data, content_type=XLSX)
    filename = f"{assessment.title}.xlsx".replace("/", "-")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response
