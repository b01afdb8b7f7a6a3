"""REST endpoints of bulletins (通报): list, detail with the computed tables, create, publish, PDF, xlsx.

Handlers hold no rules: bulletins addressed by id go through core's ``get_visible`` (missing and
forbidden both 404), the list comes from ``bulletins.bulletin_list`` (scoped), writes call
``cocreate.plans.bulletins``. A draft's figures are computed at the call; a published
bulletin's are the ones frozen when it was published.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
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
from cocreate.plans import bulletins
from cocreate.plans.models import Bulletin, Plan

router = Router(tags=["bulletins"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BulletinStatusValue = Literal["draft", "published"]


class BulletinOut(Schema):
    id: int
    title: str
    issue_number: str
    region_id: int
    region_name: str
    plan_id: int | None
    plan_title: str | None
    period_start: date
    period_end: date
    status: str
    status_display: str
    published_at: datetime | None

    @staticmethod
    def resolve_region_name(obj: Bulletin) -> str:
        return obj.region.name

    @staticmethod
    def resolve_plan_title(obj: Bulletin) -> str | None:
        return obj.plan.title if obj.plan is not None else None

    @staticmethod
    def resolve_status_display(obj: Bulletin) -> str:
        return str(obj.get_status_display())


class FigureCounts(Schema):
    tasks: int = Field(description="任务数")
    done: int = Field(description="已完成")
    done_in_period: int = Field(description="本期完成")
    green: int = Field(description="进度正常（绿灯）")
    blue: int = Field(description="临近截止（蓝灯）")
    yellow: int = Field(description="进度滞后（黄灯）")
    red: int = Field(description="严重滞后（红灯，含逾期）")
    not_started: int = Field(description="未开始")
    overdue: int = Field(description="其中逾期")
    rectifications_open: int = Field(description="整改未完成")
    done_rate: float = Field(description="完成率（%）")


class UnitFiguresOut(FigureCounts):
    unit_id: int
    unit: str
    region: str


class OverdueTaskOut(Schema):
    task_id: int
    number: str
    title: str
    plan: str
    region: str
    units: str
    deadline: date
    days_overdue: int
    progress: float


class NamedRef(Schema):
    id: int
    name: str


class PlanRef(Schema):
    id: int
    title: str


class FiguresOut(Schema):
    as_of: date = Field(description="亮灯计算日：统计截止日与当天中较早者")
    computed_at: datetime
    period_start: date
    period_end: date
    region: NamedRef
    plan: PlanRef | None
    units: list[UnitFiguresOut]
    totals: FigureCounts
    overdue_tasks: list[OverdueTaskOut]
    overdue_not_listed: int


class BulletinDetailOut(BulletinOut):
    praise: str
    criticism: str
    is_live: bool = Field(description="草稿为 true：数据为实时计算；已发布为 false：数据为发布时固定")
    figures: FiguresOut

    @staticmethod
    def resolve_is_live(obj: Bulletin) -> bool:
        return bool(obj.api_document["is_live"])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_figures(obj: Bulletin) -> dict[str, Any]:
        figures: dict[str, Any] = obj.api_document["figures"]  # type: ignore[attr-defined]
        return figures


class BulletinFilter(QuerySchema):
    region: Id | None = Field(None, description="区划 id：该区划及下级的通报")
    status: BulletinStatusValue | None = None
    search: SearchText = ""


class BulletinIn(InputSchema):
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    region_id: BodyId
    plan_id: BodyId | None = None
    period_start: IsoDate
    period_end: IsoDate
    issue_number: Annotated[Text, Field(max_length=40)] = ""
    praise: Annotated[Text, Field(max_length=10000)] = ""
    criticism: Annotated[Text, Field(max_length=10000)] = ""


def _qs() -> QuerySet[Bulletin]:
    return Bulletin.objects.select_related("region", "plan")


def _detail(request: HttpRequest, pk: int) -> Bulletin:
    bulletin = get_visible(_qs(), request, pk)
    document = bulletins.bulletin_document(user=request_user(request), bulletin=bulletin, today=timezone.localdate())
    bulletin.api_document = document  # type: ignore[attr-defined]
    return bulletin


@router.get("/bulletins", response={200: list[BulletinOut], **LIST_ERRORS}, summary="通报列表")
@paginate(Pagination)
def bulletin_list(request: HttpRequest, filters: Query[BulletinFilter]) -> QuerySet[Bulletin]:
    region = get_optional(Region, request, filters.region, "region")
    return bulletins.bulletin_list(
        user=request_user(request), region=region, status=filters.status or "", search=filters.search
    )


@router.get("/bulletins/{id}", response={200: BulletinDetailOut, **READ_ERRORS}, summary="通报详情（含统计表）")
def bulletin_detail(request: HttpRequest, id: Id) -> Bulletin:
    return _detail(request, id)


@router.post("/bulletins", response={201: BulletinDetailOut, **WRITE_ERRORS}, summary="新建通报草稿")
def bulletin_create(request: HttpRequest, payload: BulletinIn) -> Status:
    region = get_visible(Region, request, payload.region_id, "region_id")
    plan = get_optional(Plan, request, payload.plan_id, "plan_id")
    bulletin = bulletins.bulletin_create(
        actor=request_user(request),
        region=region,
        plan=plan,
        title=payload.title,
        issue_number=payload.issue_number,
        period_start=payload.period_start,
        period_end=payload.period_end,
        praise=payload.praise,
        criticism=payload.criticism,
    )
    return Status(201, _detail(request, bulletin.pk))


@router.post(
    "/bulletins/{id}/publish",
    response={200: BulletinDetailOut, **WRITE_ERRORS},
    summary="发布通报（固定统计数据并通知）",
)
def bulletin_publish(request: HttpRequest, id: Id) -> Bulletin:
    bulletin = get_visible(_qs(), request, id)
    bulletins.bulletin_publish(actor=request_user(request), bulletin=bulletin)
    return _detail(request, id)


def _binary(description: str, content_type: str) -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": description,
                "content": {content_type: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }


def _download(data: bytes, content_type: str, bulletin: Bulletin, extension: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    filename = f"{bulletin.title}{bulletin.issue_number}.{extension}".replace("/", "-")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response


@router.get(
    "/bulletins/{id}/pdf",
    response=READ_ERRORS,
    summary="下载通报 PDF",
    openapi_extra=_binary("通报 PDF（A4，中文）", "application/pdf"),
)
def bulletin_pdf(request: HttpRequest, id: Id) -> HttpResponse:
    bulletin = get_visible(_qs(), request, id)
    data = bulletins.bulletin_pdf(user=request_user(request), bulletin=bulletin, today=timezone.localdate())
    return _download(data, "application/pdf", bulletin, "pdf")


@router.get(
    "/bulletins/{id}/xlsx",
    response=READ_ERRORS,
    summary="下载通报 Excel",
    openapi_extra=_binary("通报统计表（xlsx）", XLSX),
)
def bulletin_xlsx(request: HttpRequest, id: Id) -> HttpResponse:
    bulletin = get_visible(_qs(), request, id)
    data = bulletins.bulletin_xlsx(user=request_user(request), bulletin=bulletin, today=timezone.localdate())
    return _download(data, XLSX, bulletin, "xlsx")
