"""xlsx exports of the analytics pages: the figures (one sheet per breakdown) and the case list.

The case list never holds a full name, phone or ID number: the applicant is masked (``王**``,
``138****5678``; an anonymous applicant is 匿名 with no phone). Each export writes one line to
the ``cocreate.audit`` log (who, what, which filter, how many rows): the exports leave the
system, so who took which figures is worth knowing. A case list over ``CASES_EXPORT_MAX_ROWS``
is refused as a whole (:class:`TooManyRows`) rather than cut silently.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cocreate.cases import jobs
from cocreate.cases.analytics import DIMENSIONS, Analytics, AnalyticsFilters, Row, case_list_for_export
from cocreate.cases.metrics import LABELS, ORDER, satisfaction_weights
from cocreate.cases.models import Party, PartyRole, Rating, Satisfaction
from cocreate.core.privacy import mask_name, mask_phone

audit = logging.getLogger("cocreate.audit")


def max_rows() -> int:
    return int(getattr(settings, "CASES_EXPORT_MAX_ROWS", 10000))


class TooManyRows(Exception):
    """The case list is longer than the export allows; nothing is written."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} > {limit}")
        self.count = count
        self.limit = limit


def number(value: Decimal | int) -> int | float:
    """A numerator as a spreadsheet number: 3, or 2.8 for the weighted satisfaction."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value.normalize())


def filter_lines(filters: AnalyticsFilters) -> list[tuple[str, str]]:
    return [
        (_("统计期"), f"{filters.start:%Y-%m-%d} — {filters.end:%Y-%m-%d}"),
        (_("区域"), filters.region.name if filters.region else _("全部")),
        (_("类别"), filters.category.name if filters.category else _("全部")),
        (_("来源渠道"), str(dict(_channels()).get(filters.channel, _("全部"))) if filters.channel else _("全部")),
        (_("主办单位"), filters.unit.name if filters.unit else _("全部")),
    ]


def _channels() -> Sequence[tuple[str, Any]]:
    from cocreate.cases.models import CaseChannel

    return CaseChannel.choices


def _audit(user: Any, what: str, filters: AnalyticsFilters, rows: int) -> None:
    audit.info(
        "export %s by user %s: %d rows; period %s..%s region=%s unit=%s category=%s channel=%s",
        what,
        getattr(user, "pk", None),
        rows,
        filters.start,
        filters.end,
        filters.region.pk if filters.region else "",
        filters.unit.pk if filters.unit else "",
        filters.category.code if filters.category else "",
        filters.channel,
    )


def _header() -> list[str]:
    header = [_("分组"), _("登记"), _("派单"), _("办结"), _("当前超期")]
    for key in ORDER:
        header += [f"{LABELS[key]}{_('分子')}", f"{LABELS[key]}{_('分母')}", str(LABELS[key])]
    return header


def _cells(row: Row) -> list[Any]:
    cells: list[Any] = [row.label, row.volume.registered, row.volume.dispatched, row.volume.closed, row.volume.overdue]
    for key in ORDER:
        rate = row.rates[key]
        cells += [number(rate.numerator), rate.denominator, float(rate.rate) if rate.rate is not None else "—"]
    return cells


def analytics_xlsx(*, user: Any, result: Analytics) -> bytes:
    """总体 (filters and totals) and one sheet per breakdown, numerators and denominators as columns."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _("总体")
    for label, value in filter_lines(result.filters):
        sheet.append([label, value])
    sheet.append([_("导出时间"), f"{timezone.localtime(result.now):%Y-%m-%d %H:%M}"])
    sheet.append([])
    sheet.append(_header())
    header_row = sheet.max_row
    sheet.append(_cells(result.total))
    _format(sheet, header_row)
    names = {
        "period": _("按时段"),
        "category": _("按类别"),
        "region": _("按区域"),
        "unit": _("按单位"),
        "channel": _("按渠道"),
    }
    rows = 1
    for key in DIMENSIONS:
        breakdown = result.breakdowns[key]
        part = book.create_sheet(str(names[key]))
        unit_sheet = key == "unit"
        part.append(([_("排名")] if unit_sheet else []) + _header())
        for row in breakdown.rows:
            rank: list[Any] = [row.rank if row.rank is not None else _("不排名")] if unit_sheet else []
            part.append(rank + _cells(row))
            rows += 1
        if breakdown.note:
            part.append([])
            part.append([breakdown.note])
        _format(part, 1, offset=1 if unit_sheet else 0)
    notes = book.create_sheet(_("说明"))
    weights = satisfaction_weights()
    notes.append([_("口径见 docs/metrics.md；比率 = 分子 ÷ 分母，分母为 0 时记为“—”。")])
    notes.append(
        [
            _("满意率分子 = 满意 × %(s)s + 基本满意 × %(b)s + 不满意 × %(d)s")
            % {
                "s": weights[Satisfaction.SATISFIED],
                "b": weights[Satisfaction.BASIC],
                "d": weights[Satisfaction.DISSATISFIED],
            }
        ]
    )
    notes.append([_("“当前超期”：统计期内派单、导出时仍超期的案件。")])
    _audit(user, "case_analytics", result.filters, rows)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _format(sheet: Any, header_row: int, offset: int = 0) -> None:
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
    sheet.column_dimensions[get_column_letter(1 + offset)].width = 28
    for index in range(len(ORDER)):
        column = offset + 5 + index * 3 + 3
        for (cell,) in sheet.iter_rows(min_row=header_row + 1, min_col=column, max_col=column):
            if isinstance(cell.value, float):
                cell.number_format = "0.0%"
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2 + offset)


CASE_COLUMNS: list[tuple[Any, int]] = [
    (gettext_lazy("编号"), 14),
    (gettext_lazy("登记时间"), 17),
    (gettext_lazy("派单时间"), 17),
    (gettext_lazy("答复时间"), 17),
    (gettext_lazy("办结时间"), 17),
    (gettext_lazy("办结时限"), 17),
    (gettext_lazy("发生地"), 16),
    (gettext_lazy("类别"), 12),
    (gettext_lazy("来源渠道"), 12),
    (gettext_lazy("紧急程度"), 10),
    (gettext_lazy("处置层级"), 10),
    (gettext_lazy("状态"), 12),
    (gettext_lazy("主办单位"), 22),
    (gettext_lazy("是否超期"), 10),
    (gettext_lazy("办理结果"), 12),
    (gettext_lazy("问题是否解决"), 12),
    (gettext_lazy("满意度"), 10),
    (gettext_lazy("申请人"), 10),
    (gettext_lazy("申请人电话"), 14),
]


def _local(value: datetime | None) -> datetime | None:
    # openpyxl refuses aware datetimes: local wall-clock time, as shown on the pages.
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def case_list_xlsx(*, user: Any, filters: AnalyticsFilters, now: datetime | None = None) -> bytes:
    """The cases behind the figures (masked applicant), newest first; refused beyond ``max_rows()``."""
    from openpyxl import Workbook

    now = now or timezone.now()
    limit = max_rows()
    cases = case_list_for_export(user=user, filters=filters)
    total = cases.count()
    if total > limit:
        raise TooManyRows(total, limit)
    latest = Rating.objects.filter(case=OuterRef("pk")).order_by("-round")
    rows = (
        cases.select_related("region", "category", "lead_unit")
        .annotate(
            rated_resolved=Subquery(latest.values("resolved")[:1]),
            rated_satisfaction=Subquery(latest.values("satisfaction")[:1]),
        )
        .prefetch_related(
            Prefetch("parties", queryset=Party.objects.filter(role=PartyRole.APPLICANT), to_attr="applicants")
        )
        .order_by("-created_at", "-id")
    )
    satisfaction = dict(Satisfaction.choices)
    yes, no = _("是"), _("否")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("案件清单"))
    from openpyxl.utils import get_column_letter

    for index, (_label, width) in enumerate(CASE_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([str(label) for label, _w in CASE_COLUMNS])
    written = 0
    for case in rows.iterator(chunk_size=1000):
        applicant = next(iter(case.applicants), None)
        if case.is_anonymous or applicant is None:
            name, phone = (_("匿名") if case.is_anonymous else ""), ""
        else:
            name, phone = mask_name(applicant.name), mask_phone(applicant.phone)
        resolved = case.rated_resolved
        sheet.append(
            [
                case.number,
                _local(case.created_at),
                _local(case.dispatched_at),
                _local(case.replied_at),
                _local(case.closed_at),
                _local(case.due_at),
                case.region.name,
                case.category.name if case.category else "",
                str(case.get_channel_display()),
                str(case.get_urgency_display()),
                str(case.get_level_display()),
                str(case.get_status_display()),
                case.lead_unit.name if case.lead_unit else "",
                yes if jobs.is_overdue(case, now) else no,
                str(case.get_outcome_display()) if case.outcome else "",
                "" if resolved is None else (yes if resolved else no),
                str(satisfaction.get(case.rated_satisfaction, "")),
                name,
                phone,
            ]
        )
        written += 1
    _audit(user, "case_list", filters, written)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
