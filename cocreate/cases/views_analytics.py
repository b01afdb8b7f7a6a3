"""Pages of the grievance figures (issue 5 §5, §7): 案件统计 with its exports, and 督办总览.

* 案件统计 (``case_analytics``): the filter, the six rates with numerator and denominator, the
  volumes, and breakdowns by period, category, region, unit and channel (tables and ECharts
  charts fed through ``json_script``: the CSP forbids inline scripts).
* The exports (``case_analytics_export``, ``case_list_export``): the same filter, xlsx.
* 督办总览 (``case_supervision``): open, overdue and due-soon cases per level and unit, what waits
  for the level above, the ladder steps sent, the oldest overdue cases.

Views parse the filter (``forms_analytics``) and call ``analytics`` / ``exports``; every figure is
scoped there through ``Case.objects.visible_to``. A bad filter re-shows the form with its errors
(400), never a 500.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _

from cocreate.cases import analytics, exports
from cocreate.cases.analytics import Analytics, Row
from cocreate.cases.forms_analytics import AnalyticsFilterForm, SupervisionFilterForm
from cocreate.cases.metrics import LABELS, ORDER, Rate
from cocreate.cases.models import ReminderKind
from cocreate.core.views import paginate, staff_required

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _volume_labels() -> dict[str, str]:
    # Translated per request (the module-level dict is only the keys' order).
    return {
        "registered": _("登记"),
        "dispatched": _("派单"),
        "closed": _("办结"),
        "overdue": _("当前超期"),
    }


def numerator_text(value: Decimal) -> str:
    """3 → "3"; the weighted satisfaction 2.80 → "2.8"."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def rate_cell(rate: Rate) -> dict[str, Any]:
    """What a page shows of a rate: "92.3%" and "(120 / 130)", or "—" over nothing."""
    return {
        "key": rate.key,
        "label": rate.label,
        "percent": f"{rate.rate * 100:.1f}%" if rate.rate is not None else "—",
        "numerator": numerator_text(rate.numerator),
        "denominator": rate.denominator,
        "empty": rate.rate is None,
    }


def _row_view(row: Row) -> dict[str, Any]:
    return {"row": row, "rates": [rate_cell(row.rates[key]) for key in ORDER]}


def _percent(rate: Rate) -> float | None:
    return round(float(rate.rate) * 100, 1) if rate.rate is not None else None


def chart_data(result: Analytics) -> dict[str, Any]:
    """The breakdowns as the charts in cases.js read them: labels, volume bars, rate lines (in %)."""
    volumes = _volume_labels()
    data: dict[str, Any] = {}
    for key, breakdown in result.breakdowns.items():
        rows = [r for r in breakdown.rows if key == analytics.PERIOD or r.volume != analytics.Volume() or _rated(r)]
        data[key] = {
            "labels": [r.label for r in rows],
            "bars": [
                {"name": str(label), "key": name, "data": [getattr(r.volume, name) for r in rows]}
                for name, label in volumes.items()
            ],
            "lines": [
                {"name": str(LABELS[rate]), "key": rate, "data": [_percent(r.rates[rate]) for r in rows]}
                for rate in ORDER
            ],
        }
    return data


def _rated(row: Row) -> bool:
    return any(rate.denominator for rate in row.rates.values())


def _filter_form(request: HttpRequest) -> AnalyticsFilterForm:
    return AnalyticsFilterForm(request.GET or None, user=request.user)


@staff_required
def case_analytics(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid() or form.filters is None:
        filter_form = render_to_string("cases/_analytics_filter.html", {"form": form}, request=request)
        return render(request, "cases/analytics.html", {"form": form, "filter_form": filter_form}, status=400)
    context: dict[str, Any] = {"form": form, "query": urlencode(form.query()), "export_limit": exports.max_rows()}
    key = analytics.cache_key(request.user, form.filters, timezone.now(), f"page:{translation.get_language()}")
    kept = cache.get(key)
    if kept is None:
        # ~0.5 s of SQL and 0.2 s of rendering for a county of 200 000 cases (bench/cases): the
        # figures, the rendered tables and the filter (its region and unit lists hold hundreds of
        # options) are kept together, per viewer's scope and filter.
        result = analytics.case_analytics(user=request.user, filters=form.filters)
        case_count = analytics.case_list_for_export(user=request.user, filters=form.filters).count()
        kept = {
            "figures": render_to_string("cases/_analytics_figures.html", _figures_context(result), request=request),
            "filter_form": render_to_string("cases/_analytics_filter.html", {"form": form}, request=request),
            "case_count": case_count,
        }
        cache.set(key, kept, analytics.FIGURES_SECONDS)
        context["result"] = result
    return render(request, "cases/analytics.html", context | kept)


def _figures_context(result: Analytics) -> dict[str, Any]:
    breakdowns = [
        {
            "breakdown": b,
            "rows": [_row_view(r) for r in b.rows],
            "is_unit": b.key == analytics.UNIT,
            "chart_id": f"cc-chart-{b.key}",
        }
        for b in (result.breakdowns[key] for key in analytics.DIMENSIONS)
    ]
    return {
        "result": result,
        "total": _row_view(result.total),
        "volumes": [(label, getattr(result.total.volume, name)) for name, label in _volume_labels().items()],
        "volume_labels": list(_volume_labels().values()),
        "rate_labels": [LABELS[key] for key in ORDER],
        "breakdowns": breakdowns,
        "chart": chart_data(result),
    }


def _download(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    return response


def _back_to_page(request: HttpRequest, form: AnalyticsFilterForm | None = None) -> HttpResponse:
    query = urlencode(form.query()) if form is not None else request.GET.urlencode()
    url = reverse("cases:case_analytics")
    return redirect(f"{url}?{query}" if query else url)


@staff_required
def case_analytics_export(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid() or form.filters is None:
        messages.error(request, _("筛选条件有误，未导出。"))
        return _back_to_page(request)
    result = analytics.case_analytics(user=request.user, filters=form.filters)
    data = exports.analytics_xlsx(user=request.user, result=result)
    f = form.filters
    return _download(data, f"{_('案件统计')}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.xlsx")


@staff_required
def case_list_export(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid() or form.filters is None:
        messages.error(request, _("筛选条件有误，未导出。"))
        return _back_to_page(request)
    try:
        data = exports.case_list_xlsx(user=request.user, filters=form.filters)
    except exports.TooManyRows as exc:
        messages.error(
            request,
            _("共 %(count)d 件，超过一次导出的上限 %(limit)d 件，未导出。请缩短统计期或增加筛选条件。")
            % {"count": exc.count, "limit": exc.limit},
        )
        return _back_to_page(request, form)
    f = form.filters
    return _download(data, f"{_('案件清单')}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.xlsx")


# --- 督办总览 ----------------------------------------------------------------------------------------------


def _kinds() -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in ReminderKind.choices]


@staff_required
def case_supervision(request: HttpRequest) -> HttpResponse:
    form = SupervisionFilterForm(request.GET or None, user=request.user)
    if not form.is_valid():
        return render(request, "cases/supervision.html", {"form": form}, status=400)
    region = form.cleaned_data.get("region")
    now = timezone.now()
    result = analytics.case_supervision(user=request.user, region=region, now=now)
    page = paginate(request, result.overdue_cases.prefetch_related("reminders"))
    kinds = _kinds()
    overdue_rows = []
    for case in page.object_list:
        sent = {r.kind for r in case.reminders.all() if r.deadline == case.deadline}
        overdue_rows.append(
            {
                "case": case,
                "days": max((now - case.deadline).days, 0),
                "steps": [label for value, label in kinds if value in sent],
            }
        )
    context = {
        "form": form,
        "result": result,
        "kinds": kinds,
        "page": page,
        "overdue_rows": overdue_rows,
        "region": region,
    }
    return render(request, "cases/supervision.html", context)
