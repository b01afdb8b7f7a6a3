"""REST endpoint of the working-day calendar: the overriding rows of a year, for staff.

Read-only: the calendar is maintained on the administrators' page or with ``import_calendar``.
Residents and other non-staff callers get an empty list (the rows are not visible to them).
"""

# No "from __future__ import annotations": ninja reads the annotations of the handlers at import.
import datetime as dt

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from cocreate.core import work_calendar
from cocreate.core.api import LIST_ERRORS, Pagination
from cocreate.core.models import WorkCalendarDay
from cocreate.core.schemas import QuerySchema

router = Router()


class CalendarFilter(QuerySchema):
    year: int | None = Field(None, ge=1949, le=2199, description="年份，默认今年")


class CalendarDayOut(Schema):
    date: dt.date
    is_working_day: bool = Field(description="true：上班（调休上班）；false：放假")
    name: str
    note: str


@router.get(
    "/calendar",
    response={200: list[CalendarDayOut], **LIST_ERRORS},
    tags=["calendar"],
    summary="工作日历（节假日与调休上班）",
    description="列出一年中与“周一至周五上班”不同或有名称的日期；未列出的日期按周一至周五上班计算。",
)
@paginate(Pagination)
def calendar_list(request: HttpRequest, filters: Query[CalendarFilter]) -> QuerySet[WorkCalendarDay]:
    year = filters.year or timezone.localdate().year
    return work_calendar.calendar_days(user=request.user, year=year)
