"""The figures of grievance handling over the API: ``GET /api/cases/analytics`` (docs/metrics.md).

Staff only (403 for residents), like the page. The same filter as the 案件统计 page
(``forms_analytics.AnalyticsFilterForm``: the same defaults and limits) and the same figures
(``analytics.case_analytics``), scoped to the caller. A filter the form refuses answers 400
``invalid_filter``: ``fields`` has the messages and ``errors`` each problem's machine code as
``type`` (``invalid_choice`` for a region, unit or category outside the caller's choices,
``end_before_start``, ``too_long``, ``out_of_range``); a value of the wrong type answers 422
``invalid_request`` like every other endpoint.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone, translation
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from cocreate.cases import analytics
from cocreate.cases.analytics import Analytics, Row
from cocreate.cases.forms_analytics import AnalyticsFilterForm
from cocreate.cases.metrics import ORDER, Rate
from cocreate.core import access
from cocreate.core.api import request_user
from cocreate.core.api_auth import error_body
from cocreate.core.schemas import ErrorOut, Id, QuerySchema

router = Router(tags=["cases"])


class AnalyticsFilter(QuerySchema):
    start: date | None = Field(None, description="统计期开始日期（含），默认结束日期前 29 天")
    end: date | None = Field(None, description="统计期结束日期（含），默认今天；统计期最长 731 天")
    granularity: Literal["week", "month"] | None = Field(None, description="按周 week 或按月 month；默认 92 天内按周")
    region: Id | None = Field(None, description="区划 id（县、镇或村，须在调用者的范围内）：该区划及下级的案件")
    unit: Id | None = Field(None, description="主办单位 id")
    category: str = Field("", max_length=30, description="类别代码，见 /api/cases/categories")
    channel: Literal["self", "visit", "onsite", "walkin", "online"] | None = None


class RateOut(Schema):
    key: str = Field(description="response / resolution / satisfaction / on_time / one_dispatch / mediation")
    label: str
    numerator: float = Field(description="分子（满意率为加权数，可有小数）")
    denominator: int
    rate: float | None = Field(description="分子 ÷ 分母，保留 4 位小数；分母为 0 时为 null")


class VolumeOut(Schema):
    registered: int = Field(description="统计期内登记")
    dispatched: int = Field(description="统计期内派单")
    closed: int = Field(description="统计期内办结")
    overdue: int = Field(description="统计期内派单、当前超期")


class AnalyticsRowOut(Schema):
    key: str
    label: str
    volume: VolumeOut
    rates: list[RateOut]
    rank: int | None = Field(None, description="仅按单位：按满意率的排名；不足最低件数的单位为 null")


class BreakdownOut(Schema):
    key: str
    label: str
    note: str
    rows: list[AnalyticsRowOut]


class FiltersOut(Schema):
    start: date
    end: date
    granularity: str
    region: int | None
    unit: int | None
    category: str
    channel: str


class AnalyticsOut(Schema):
    filters: FiltersOut
    total: AnalyticsRowOut
    breakdowns: list[BreakdownOut] = Field(description="period, category, region, unit, channel")
    min_for_ranking: int
    rank_by: str


def _rate(rate: Rate) -> dict[str, Any]:
    return {
        "key": rate.key,
        "label": rate.label,
        "numerator": float(rate.numerator),
        "denominator": rate.denominator,
        "rate": float(rate.rate) if rate.rate is not None else None,
    }


def _row(row: Row, *, with_rank: bool = False) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        "volume": vars(row.volume),
        "rates": [_rate(row.rates[key]) for key in ORDER],
        "rank": row.rank if with_rank else None,
    }


def _out(result: Analytics) -> dict[str, Any]:
    f = result.filters
    return {
        "filters": {
            "start": f.start,
            "end": f.end,
            "granularity": f.granularity,
            "region": f.region.pk if f.region else None,
            "unit": f.unit.pk if f.unit else None,
            "category": f.category.code if f.category else "",
            "channel": f.channel,
        },
        "total": _row(result.total),
        "breakdowns": [
            {
                "key": b.key,
                "label": b.label,
                "note": b.note,
                "rows": [_row(r, with_rank=b.key == analytics.UNIT) for r in b.rows],
            }
            for b in (result.breakdowns[key] for key in analytics.DIMENSIONS)
        ],
        "min_for_ranking": result.min_for_ranking,
        "rank_by": result.rank_by,
    }


@router.get(
    "/cases/analytics",
    response={200: AnalyticsOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="矛盾纠纷统计：六项比率（含分子分母）、案件量及按时段、类别、区域、单位、渠道的分组",
)
def case_analytics(request: HttpRequest, filters: Query[AnalyticsFilter]) -> Status:
    user = request_user(request)
    scope = access.scope_of(user)
    if not (scope.is_superuser or scope.is_staff_member):
        # Staff figures, like the page (residents follow their own cases on the case pages).
        raise PermissionDenied("仅工作人员可查看统计")
    data = {
        "start": filters.start.isoformat() if filters.start else "",
        "end": filters.end.isoformat() if filters.end else "",
        "granularity": filters.granularity or "",
        "region": str(filters.region or ""),
        "unit": str(filters.unit or ""),
        "category": filters.category,
        "channel": filters.channel or "",
    }
    form = AnalyticsFilterForm(data, user=user)
    if not form.is_valid() or form.filters is None:
        fields = {name: [str(m) for m in errors] for name, errors in form.errors.items()}
        # Each problem's machine code in ``errors`` (the shape of a 422's details): invalid_choice …
        errors = [
            {"loc": ["query", name], "msg": str(error.message % (error.params or {})), "type": error.code or "invalid"}
            for name, field_errors in form.errors.as_data().items()
            for error in field_errors
        ]
        return Status(400, error_body("invalid_filter", "筛选条件有误", fields=fields, errors=errors))
    # Kept like the page's figures: per scope and filter, until a case changes or the time slot ends.
    key = analytics.cache_key(user, form.filters, timezone.now(), f"api:{translation.get_language()}")
    out = cache.get(key)
    if out is None:
        out = _out(analytics.case_analytics(user=user, filters=form.filters))
        cache.set(key, out, analytics.FIGURES_SECONDS)
    return Status(200, out)
