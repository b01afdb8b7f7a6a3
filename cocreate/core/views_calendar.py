"""Pages of the working-day calendar (工作日历) for administrators: the rows by year, the import
of an official arrangement (all rows or none, every bad row listed), and deleting a row.

Staff may read the rows (deadlines depend on them) but these pages are for the administrators
who maintain them; other staff get 403, as on the other administration pages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access, work_calendar
from cocreate.core.models import WorkCalendarDay
from cocreate.core.views import _int_or_none, _paginate, _safe_next, staff_required

MIN_YEAR, MAX_YEAR = 1949, 2199


class CalendarImportForm(forms.Form):
    """A file of holidays and make-up workdays (xlsx or csv)."""

    file = forms.FileField(
        label=gettext_lazy("日历文件（xlsx 或 csv）"),
        help_text=gettext_lazy("列：日期、类型（休 / 班）、名称、备注；例如 2026-10-01, 休, 国庆节"),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not str(upload.name).lower().endswith((".xlsx", ".xlsm", ".csv", ".txt")):
            raise forms.ValidationError(_("请上传 xlsx 或 csv 文件。"))
        return upload


def _require_calendar_manager(user: Any) -> None:
    if not work_calendar.can_manage(user):
        raise PermissionDenied


@staff_required
def calendar_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_calendar_manager(user)
    years = work_calendar.calendar_years(user=user)
    year = _int_or_none(request.GET.get("year"))
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        year = None
    if year is None:
        this_year = timezone.localdate().year
        year = this_year if this_year in years or not years else years[0]
    rows = work_calendar.calendar_days(user=user, year=year)
    counts = rows.aggregate(
        off=Count("pk", filter=Q(is_working_day=False)), on=Count("pk", filter=Q(is_working_day=True))
    )
    context = {
        "page": _paginate(request, rows),
        "year": year,
        "years": sorted({*years, year}, reverse=True),
        "off_count": counts["off"],
        "on_count": counts["on"],
    }
    return render(request, "core/calendar_list.html", context)


@staff_required
def calendar_import(request: HttpRequest) -> HttpResponse:
    """Shows the upload form; on errors lists every one with its row, and nothing is imported."""
    user = request.user
    _require_calendar_manager(user)
    form = CalendarImportForm(request.POST or None, request.FILES or None)
    errors: list[work_calendar.RowError] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = work_calendar.calendar_import(actor=user, file=upload.read(), filename=upload.name)
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        if result.ok:
            messages.success(request, _("工作日历已导入：%(summary)s") % {"summary": result.summary()})
            imported = result.created + result.updated + result.unchanged
            target = reverse("core:calendar_list")
            return redirect(f"{target}?year={min(imported).year}" if imported else target)
        errors = result.errors
    invalid = request.method == "POST" and (bool(errors) or bool(form.errors))
    context = {"form": form, "row_errors": errors, "cancel_url": reverse("core:calendar_list")}
    return render(request, "core/calendar_import.html", context, status=400 if invalid else 200)


@require_POST
@staff_required
def calendar_delete(request: HttpRequest, pk: int) -> HttpResponse:
    day = access.get_visible_or_404(WorkCalendarDay, request.user, pk=pk)
    try:
        work_calendar.calendar_day_delete(actor=request.user, day=day)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    messages.success(
        request, _("已删除 %(date)s 的日历设置，该日恢复按周一至周五计算。") % {"date": f"{day.date:%Y-%m-%d}"}
    )
    return redirect(_safe_next(request, f"{reverse('core:calendar_list')}?year={day.date.year}"))
