"""Bulletins (通报): tables computed by unit, the supervisor's paragraphs, publishing, PDF and xlsx.

No figure in a bulletin is typed. ``bulletin_figures`` counts, for each responsible unit of the
tasks in the bulletin's region (optionally one plan), the tasks, the completed ones, the lights
(from ``status.light_sql``, the same rule as every task page) and the overdue ones, and the
rectifications still open. A draft always shows the figures computed now; publishing freezes
them into ``Bulletin.figures`` so the published document never changes afterwards.

The lights are taken on the day ``as_of`` = the earlier of the period's last day and today, so
a bulletin about the first quarter written in April reports the calendar as at 31 March. The
progress itself is the tasks' progress as recorded when the figures are computed (reports are
not replayed to a past day).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cocreate.core import access
from cocreate.core.models import STAFF_ROLES, Region, Unit, User, subtree_q
from cocreate.core.notify import notify
from cocreate.core.pdf import render_pdf
from cocreate.core.services import require
from cocreate.plans.models import (
    Bulletin,
    BulletinStatus,
    Plan,
    PlanStatus,
    Rectification,
    Task,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.status import Light, light_sql

FIGURES_VERSION = 1
OVERDUE_LIST_LIMIT = 50
BULLETIN_UPDATABLE_FIELDS = frozenset(
    {"title", "issue_number", "period_start", "period_end", "praise", "criticism", "plan", "region"}
)

# The table's number columns, in print order: (key in the figures, heading).
COLUMNS: list[tuple[str, Any]] = [
    ("tasks", gettext_lazy("任务数")),
    ("done", gettext_lazy("已完成")),
    ("done_in_period", gettext_lazy("本期完成")),
    ("green", gettext_lazy("进度正常")),
    ("blue", gettext_lazy("临近截止")),
    ("yellow", gettext_lazy("进度滞后（黄灯）")),
    ("red", gettext_lazy("严重滞后（红灯）")),
    ("not_started", gettext_lazy("未开始")),
    ("overdue", gettext_lazy("其中逾期")),
    ("rectifications_open", gettext_lazy("整改未完成")),
]
COUNT_KEYS = [key for key, _label in COLUMNS]
CN_NUMERALS = "一二三四五六七八九十"
LIGHT_KEYS = {
    Light.DONE.value: "done",
    Light.GREEN.value: "green",
    Light.BLUE.value: "blue",
    Light.YELLOW.value: "yellow",
    Light.RED.value: "red",
    Light.NOT_STARTED.value: "not_started",
}


# --- Computing the figures --------------------------------------------------------------------------


def figures_as_of(period_end: date, today: date) -> date:
    """The day the lights are taken on: the period's last day, or today while the period runs."""
    return min(period_end, today)


def bulletin_tasks(*, region: Region, plan: Plan | None, period_start: date, period_end: date) -> QuerySet[Task]:
    """The tasks a bulletin counts: work-carrying tasks in the region, begun by the period's end.

    A fanned-out parent is counted through its village children (as on the dashboard); draft
    plans and plans that ended before the period are left out.
    """
    tasks = Task.objects.filter(
        subtree_q(region.path, "region__path"),
        fans_out=False,
        starts_on__lte=period_end,
        plan__ends_on__gte=period_start,
    ).exclude(plan__status=PlanStatus.DRAFT)
    if plan is not None:
        tasks = tasks.filter(plan=plan)
    return tasks


def _end_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def open_rectifications(*, region: Region, plan: Plan | None, as_of: date) -> QuerySet[Rectification]:
    """Rectifications in the region raised by ``as_of`` and not closed (销号) by then."""
    end = _end_of_day(as_of)
    rows = Rectification.objects.filter(subtree_q(region.path, "region__path"), created_at__lt=end).exclude(
        closed_at__lt=end
    )
    if plan is not None:
        rows = rows.filter(Q(finding__task__plan=plan) | Q(finding__check_record__plan=plan))
    return rows


def _empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


def _rate(done: int, total: int) -> float:
    return round(done * 100 / total, 1) if total else 0.0


def bulletin_figures(
    *, region: Region, plan: Plan | None = None, period_start: date, period_end: date, today: date
) -> dict[str, Any]:
    """The bulletin's tables, computed from tasks, their lights and rectifications (JSON-ready).

    Rows are the responsible units of the counted tasks (and units with open rectifications);
    a task with two responsible units counts in both rows but once in the totals. A fixed
    number of queries, whatever the number of units or tasks.
    """
    as_of = figures_as_of(period_end, today)
    tasks = bulletin_tasks(region=region, plan=plan, period_start=period_start, period_end=period_end)
    light = light_sql(as_of)
    overdue_q = Q(deadline__lt=as_of, progress__lt=100)
    in_period_q = Q(completed_on__gte=period_start, completed_on__lte=period_end)

    totals = _empty_counts()
    for row in (
        tasks.annotate(light=light)
        .values("light")
        .annotate(n=Count("id"), overdue=Count("id", filter=overdue_q), done_in_period=Count("id", filter=in_period_q))
        .order_by()
    ):
        totals[LIGHT_KEYS[row["light"]]] += row["n"]
        totals["tasks"] += row["n"]
        totals["overdue"] += row["overdue"]
        totals["done_in_period"] += row["done_in_period"]

    by_unit: dict[int, dict[str, int]] = {}
    unit_rows = (
        TaskUnit.objects.filter(role=UnitRole.RESPONSIBLE, task__in=tasks.values("pk"))
        .annotate(light=light_sql(as_of, "task__"))
        .values("unit_id", "light")
        .annotate(
            n=Count("id"),
            overdue=Count("id", filter=Q(task__deadline__lt=as_of, task__progress__lt=100)),
            done_in_period=Count(
                "id", filter=Q(task__completed_on__gte=period_start, task__completed_on__lte=period_end)
            ),
        )
        .order_by()
    )
    for row in unit_rows:
        counts = by_unit.setdefault(row["unit_id"], _empty_counts())
        counts[LIGHT_KEYS[row["light"]]] += row["n"]
        counts["tasks"] += row["n"]
        counts["overdue"] += row["overdue"]
        counts["done_in_period"] += row["done_in_period"]

    rectifications = open_rectifications(region=region, plan=plan, as_of=as_of)
    for row in rectifications.values("unit_id").annotate(n=Count("id")).order_by():
        by_unit.setdefault(row["unit_id"], _empty_counts())["rectifications_open"] += row["n"]
        totals["rectifications_open"] += row["n"]

    info = {
        pk: (name, region_name, path)
        for pk, name, region_name, path in Unit.objects.filter(pk__in=list(by_unit)).values_list(
            "pk", "name", "region__name", "region__path"
        )
    }
    units = [
        {
            "unit_id": unit_id,
            "unit": info[unit_id][0],
            "region": info[unit_id][1],
            **by_unit[unit_id],
            "done_rate": _rate(by_unit[unit_id]["done"], by_unit[unit_id]["tasks"]),
        }
        for unit_id in sorted(by_unit, key=lambda uid: (info[uid][2], info[uid][0], uid))
    ]

    overdue_qs = tasks.filter(overdue_q)
    overdue_tasks = [
        {
            "task_id": task.pk,
            "number": task.number,
            "title": task.title,
            "plan": task.plan.title,
            "region": task.region.name,
            "units": "、".join(tu.unit.name for tu in task.task_units.all()),
            "deadline": task.deadline.isoformat(),
            "days_overdue": (as_of - task.deadline).days,
            "progress": float(task.progress),
        }
        for task in overdue_qs.select_related("plan", "region")
        .prefetch_related(
            Prefetch(
                "task_units",
                queryset=TaskUnit.objects.filter(role=UnitRole.RESPONSIBLE).select_related("unit").order_by("order"),
            )
        )
        .order_by("deadline", "region__path", "id")[:OVERDUE_LIST_LIMIT]
    ]
    return {
        "version": FIGURES_VERSION,
        "computed_at": timezone.now().isoformat(),
        "as_of": as_of.isoformat(),
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "region": {"id": region.pk, "name": region.name},
        "plan": {"id": plan.pk, "title": plan.title} if plan is not None else None,
        "units": units,
        "totals": {**totals, "done_rate": _rate(totals["done"], totals["tasks"])},
        "overdue_tasks": overdue_tasks,
        "overdue_not_listed": max(0, totals["overdue"] - len(overdue_tasks)),
    }


def current_figures(bulletin: Bulletin, *, today: date | None = None) -> dict[str, Any]:
    """A published bulletin's frozen figures; a draft's computed now."""
    if bulletin.status == BulletinStatus.PUBLISHED and bulletin.figures:
        return bulletin.figures
    return bulletin_figures(
        region=bulletin.region,
        plan=bulletin.plan,
        period_start=bulletin.period_start,
        period_end=bulletin.period_end,
        today=today or timezone.localdate(),
    )


# --- Reads ------------------------------------------------------------------------------------------


def bulletin_list(*, user: Any, region: Region | None = None, status: str = "", search: str = "") -> QuerySet[Bulletin]:
    """Bulletins the user may see (drafts only for supervisors), newest period first."""
    bulletins = Bulletin.objects.visible_to(user).select_related("region", "plan", "published_by")
    if region is not None:
        bulletins = bulletins.filter(subtree_q(region.path, "region__path"))
    if status in BulletinStatus.values:
        bulletins = bulletins.filter(status=status)
    search = search.strip()
    if search:
        bulletins = bulletins.filter(Q(title__icontains=search) | Q(issue_number__icontains=search))
    return bulletins.order_by("-period_end", "-id")


def bulletin_detail(*, user: Any, pk: Any) -> Bulletin:
    """One visible bulletin (404 for missing and forbidden alike)."""
    qs = Bulletin.objects.select_related("region", "plan", "published_by", "created_by")
    return access.get_visible_or_404(qs, user, pk=pk)


def bulletin_url(bulletin: Bulletin) -> str:
    """The bulletin page's address, or "" while the pages are not installed."""
    try:
        return reverse("plans:bulletin_detail", kwargs={"pk": bulletin.pk})
    except NoReverseMatch:
        return ""


# --- Writes -----------------------------------------------------------------------------------------


def _check(actor: Any, bulletin: Bulletin) -> None:
    bulletin.title = bulletin.title.strip()
    bulletin.issue_number = bulletin.issue_number.strip()
    if not bulletin.title:
        raise ValidationError({"title": _("请填写标题")})
    if bulletin.period_end < bulletin.period_start:
        raise ValidationError({"period_end": _("统计截止日期不能早于起始日期")})
    plan = bulletin.plan
    if plan is not None:
        if not Plan.objects.visible_to(actor).filter(pk=plan.pk).exists():
            raise ValidationError({"plan": _("所选工作方案不存在或无权访问")})
        plan_path, region_path = plan.region.path, bulletin.region.path
        if not (plan_path.startswith(region_path) or region_path.startswith(plan_path)):
            raise ValidationError({"plan": _("所选工作方案不在通报范围内")})
    bulletin.full_clean(exclude=["created_by", "published_by"])


@transaction.atomic
def bulletin_create(
    *,
    actor: Any,
    region: Region,
    title: str,
    period_start: date,
    period_end: date,
    plan: Plan | None = None,
    issue_number: str = "",
    praise: str = "",
    criticism: str = "",
) -> Bulletin:
    """Starts a draft bulletin for a region and period (supervisors over the region only)."""
    bulletin = Bulletin(
        region=region,
        plan=plan,
        title=title,
        issue_number=issue_number,
        period_start=period_start,
        period_end=period_end,
        praise=praise.strip(),
        criticism=criticism.strip(),
        status=BulletinStatus.DRAFT,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    require(actor, access.CREATE, bulletin)
    _check(actor, bulletin)
    bulletin.save()
    return bulletin


def _locked(bulletin: Bulletin) -> Bulletin:
    """The bulletin's row, locked, so an edit and a publish cannot interleave."""
    # No select_related: PostgreSQL cannot lock the nullable side of the outer join to the plan.
    return Bulletin.objects.select_for_update().get(pk=bulletin.pk)


@transaction.atomic
def bulletin_update(*, actor: Any, bulletin: Bulletin, data: Mapping[str, Any]) -> Bulletin:
    """Changes a draft's title, period, scope or paragraphs; a published bulletin stays as issued."""
    require(actor, access.CHANGE, bulletin)
    unknown = set(data) - BULLETIN_UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("不能修改此字段") for name in sorted(unknown)})
    row = _locked(bulletin)
    if row.status != BulletinStatus.DRAFT:
        raise ValidationError(_("通报已发布，不能再修改"))
    for name, value in data.items():
        setattr(row, name, value.strip() if isinstance(value, str) else value)
    # Moving the bulletin to another region needs the supervisor's rights there too.
    require(actor, access.CHANGE, row)
    _check(actor, row)
    row.save()
    return row


def bulletin_recipients(bulletin: Bulletin) -> QuerySet[User]:
    """Active accounts holding a staff role inside the bulletin's region: its readers."""
    return (
        User.objects.filter(
            subtree_q(bulletin.region.path, "memberships__region__path"),
            is_active=True,
            memberships__is_active=True,
            memberships__role__in=STAFF_ROLES,
        )
        .distinct()
        .order_by("pk")
    )


@transaction.atomic
def bulletin_publish(*, actor: Any, bulletin: Bulletin, today: date | None = None) -> Bulletin:
    """Publishes a draft: freezes its figures, stamps who and when, and notifies the region's staff."""
    require(actor, access.CHANGE, bulletin)
    row = _locked(bulletin)
    if row.status != BulletinStatus.DRAFT:
        raise ValidationError(_("通报已发布"))
    row.figures = bulletin_figures(
        region=row.region,
        plan=row.plan,
        period_start=row.period_start,
        period_end=row.period_end,
        today=today or timezone.localdate(),
    )
    row.status = BulletinStatus.PUBLISHED
    row.published_at = timezone.now()
    row.published_by = actor
    row.save()
    recipients = bulletin_recipients(row).exclude(pk=actor.pk)
    notify(
        users=recipients,
        title=_("通报：%(title)s") % {"title": row.title},
        body=_("%(region)s %(start)s至%(end)s的通报已发布，请查阅。")
        % {"region": row.region.name, "start": f"{row.period_start:%Y-%m-%d}", "end": f"{row.period_end:%Y-%m-%d}"},
        url=bulletin_url(row),
        dedupe_key=f"plans:bulletin:{row.pk}:published",
    )
    return row


# --- Documents --------------------------------------------------------------------------------------


def document_date(value: date | str) -> str:
    """A date as a document prints it in the active language: 2026年11月23日, 23 November 2026."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return date_format(day, "DATE_FORMAT")


def summary_text(figures: Mapping[str, Any]) -> str:
    """The computed opening paragraph: every number in it comes from the figures."""
    t = figures["totals"]
    return _(
        "截至%(as_of)s，纳入本期通报的任务共%(tasks)d项，已完成%(done)d项（完成率%(rate)s%%），"
        "其中本期完成%(done_in_period)d项；进度正常%(green)d项，临近截止%(blue)d项，"
        "进度滞后（黄灯）%(yellow)d项，严重滞后（红灯）%(red)d项，其中逾期%(overdue)d项；"
        "未开始%(not_started)d项；整改未完成%(rectifications)d件。"
    ) % {
        "as_of": document_date(figures["as_of"]),
        "tasks": t["tasks"],
        "done": t["done"],
        "rate": t["done_rate"],
        "done_in_period": t["done_in_period"],
        "green": t["green"],
        "blue": t["blue"],
        "yellow": t["yellow"],
        "red": t["red"],
        "overdue": t["overdue"],
        "not_started": t["not_started"],
        "rectifications": t["rectifications_open"],
    }


def bulletin_document(*, user: Any, bulletin: Bulletin, today: date | None = None) -> dict[str, Any]:
    """What the page, the PDF and the xlsx show: the figures (frozen or live) laid out as rows."""
    if not access.can(user, access.VIEW, bulletin):
        raise PermissionDenied(_("无权执行此操作"))
    figures = current_figures(bulletin, today=today)
    columns = [(key, str(label)) for key, label in COLUMNS]
    rows = [
        {"unit": u["unit"], "region": u["region"], "values": [u[key] for key in COUNT_KEYS], "rate": u["done_rate"]}
        for u in figures["units"]
    ]
    totals = figures["totals"]
    praise = [p.strip() for p in bulletin.praise.splitlines() if p.strip()]
    criticism = [p.strip() for p in bulletin.criticism.splitlines() if p.strip()]
    sections = [("summary", _("总体情况")), ("units", _("各单位任务推进情况")), ("overdue", _("逾期任务"))]
    if praise:
        sections.append(("praise", _("表扬")))
    if criticism:
        sections.append(("criticism", _("批评")))
    headings = {key: f"{CN_NUMERALS[i]}、{label}" for i, (key, label) in enumerate(sections)}
    return {
        "bulletin": bulletin,
        "is_live": bulletin.status != BulletinStatus.PUBLISHED,
        "figures": figures,
        "columns": columns,
        "rows": rows,
        "totals": [totals[key] for key in COUNT_KEYS],
        "total_rate": totals["done_rate"],
        "summary": summary_text(figures),
        "overdue_tasks": figures["overdue_tasks"],
        "overdue_not_listed": figures["overdue_not_listed"],
        "period_text": _("%(start)s至%(end)s")
        % {"start": document_date(bulletin.period_start), "end": document_date(bulletin.period_end)},
        "as_of_text": document_date(figures["as_of"]),
        "issued_text": document_date(timezone.localtime(bulletin.published_at).date()) if bulletin.published_at else "",
        "praise_paragraphs": praise,
        "criticism_paragraphs": criticism,
        "headings": headings,
    }


def bulletin_pdf(*, user: Any, bulletin: Bulletin, today: date | None = None) -> bytes:
    """The bulletin as a printable document (A4, Chinese): header, period, tables, paragraphs."""
    context = bulletin_document(user=user, bulletin=bulletin, today=today)
    return render_pdf("plans/bulletin_pdf.html", context)


def bulletin_xlsx(*, user: Any, bulletin: Bulletin, today: date | None = None) -> bytes:
    """The bulletin's tables as a workbook: the table by unit, then the overdue tasks."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    doc = bulletin_document(user=user, bulletin=bulletin, today=today)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("各单位情况")
    headings = [_("序号"), _("单位"), _("所属区域"), *[label for _key, label in doc["columns"]], _("完成率（%）")]
    width = len(headings)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)

    sheet.append([bulletin.title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(1, 1).font = Font(bold=True, size=14)
    sheet.cell(1, 1).alignment = center
    meta = " ".join(
        part
        for part in (
            bulletin.issue_number,
            _("统计期间：%(period)s") % {"period": doc["period_text"]},
            _("数据截至：%(day)s") % {"day": doc["as_of_text"]},
            "" if not doc["is_live"] else _("（草稿，数据为实时计算）"),
        )
        if part
    )
    sheet.append([meta])
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    sheet.append([doc["summary"]])
    sheet.merge_cells(start_row=3, start_column=1, end_row=3, end_column=width)
    sheet.cell(3, 1).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.row_dimensions[3].height = 48
    header_row = 5
    for col, heading in enumerate(headings, start=1):
        cell = sheet.cell(header_row, col, heading)
        cell.font = Font(bold=True)
        cell.alignment = center
        cell.border = border
    row_no = header_row
    for i, row in enumerate(doc["rows"], start=1):
        row_no += 1
        for col, value in enumerate([i, row["unit"], row["region"], *row["values"], row["rate"]], start=1):
            sheet.cell(row_no, col, value).border = border
    row_no += 1
    for col, value in enumerate(["", _("合计"), "", *doc["totals"], doc["total_rate"]], start=1):
        cell = sheet.cell(row_no, col, value)
        cell.font = Font(bold=True)
        cell.border = border
    for col in range(1, width + 1):
        sheet.column_dimensions[get_column_letter(col)].width = 26 if col == 2 else (14 if col == 3 else 10)
    row_no += 2
    for label, paragraphs in ((_("表扬"), doc["praise_paragraphs"]), (_("批评"), doc["criticism_paragraphs"])):
        if not paragraphs:
            continue
        sheet.cell(row_no, 1, label).font = Font(bold=True)
        row_no += 1
        for paragraph in paragraphs:
            sheet.cell(row_no, 1, paragraph).alignment = Alignment(wrap_text=True, vertical="top")
            sheet.merge_cells(start_row=row_no, start_column=1, end_row=row_no, end_column=width)
            row_no += 1
        row_no += 1

    overdue = workbook.create_sheet(_("逾期任务"))
    overdue_headings = [
        _("序号"),
        _("任务"),
        _("工作方案"),
        _("所属区域"),
        _("责任单位"),
        _("完成时限"),
        _("逾期天数"),
        _("完成进度（%）"),
    ]
    overdue.append(overdue_headings)
    for col in range(1, len(overdue_headings) + 1):
        overdue.cell(1, col).font = Font(bold=True)
    for i, task in enumerate(doc["overdue_tasks"], start=1):
        title = f"{task['number']} {task['title']}".strip()
        overdue.append(
            [
                i,
                title,
                task["plan"],
                task["region"],
                task["units"],
                task["deadline"],
                task["days_overdue"],
                task["progress"],
            ]
        )
    if doc["overdue_not_listed"]:
        overdue.append(["", _("另有%(n)d项逾期任务未列出") % {"n": doc["overdue_not_listed"]}])
    for col, col_width in enumerate((6, 40, 30, 12, 30, 12, 10, 12), start=1):
        overdue.column_dimensions[get_column_letter(col)].width = col_width

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
