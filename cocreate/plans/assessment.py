"""Yearly assessment (年度考核) of a plan's responsible units: rubric, self-assessment, review, ranking.

The rubric is a list of weighted items. Four kinds are computed from the records, never typed:

* 按时完成率 (``on_time``): of the unit's tasks due in the period (up to the day of the figures),
  the share completed on or before their deadline;
* 任务完成度 (``completion``): the mean progress of the unit's tasks under way in the period;
* 指标达标率 (``indicators``): of the indicator targets on those tasks, the share whose latest
  accepted value meets the target;
* 整改按期销号率 (``rectification``): of the rectifications asked of the unit about this plan with a
  deadline in the period, the share closed by their deadline.

``review`` items are scored by hand: the unit proposes a self-score, the reviewer sets the score
that counts. A computed item scores ``weight × rate ÷ 100``. When an item has nothing to
measure for a unit (no task due, no rectification), it is left out and the unit's total is scaled
to the full weight (``total = points ÷ applicable weight × full weight``), so a unit is neither
rewarded nor punished for work it was not given; the page shows such items as “不适用”.

"The unit's tasks" are the plan's work-carrying tasks (a fanned-out parent counts through its
village children) that name the unit as a responsible unit (责任单位). Figures are taken on
``as_of`` = the earlier of the period's last day and today, and frozen on every entry when the
assessment is published, together with the total and the rank (equal totals share a rank).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Avg, Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cocreate.core import access
from cocreate.core.models import STAFF_ROLES, Role, Unit, User
from cocreate.core.notify import notify
from cocreate.core.services import require, save_or_conflict
from cocreate.plans.models import (
    COMPUTED_KINDS,
    Assessment,
    AssessmentEntry,
    AssessmentItem,
    AssessmentScore,
    AssessmentStatus,
    EntryStatus,
    ItemKind,
    Plan,
    PlanStatus,
    ProgressReport,
    Rectification,
    RectificationStatus,
    ReportKind,
    ReportStatus,
    Target,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.services import HUNDRED, _active_unit_ids, indicator_attainment

# Who may file a unit's self-assessment for it besides its members (see ``can_self_assess``).
ON_BEHALF = frozenset({Role.VILLAGE_STAFF, Role.TOWN_STAFF})
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
FULL_MARKS = Decimal("100")
COMMENT_MAX = 2000
ASSESSMENT_UPDATABLE_FIELDS = frozenset({"title", "period_start", "period_end", "self_deadline"})
ITEM_UPDATABLE_FIELDS = frozenset({"kind", "name", "weight", "criteria", "order"})

# The rubric a new assessment starts with; the plan's managers change it while it is a draft.
DEFAULT_RUBRIC: list[tuple[str, Any, Decimal, Any]] = [
    (
        ItemKind.ON_TIME,
        gettext_lazy("按时完成率"),
        Decimal("30"),
        gettext_lazy("考核期内到期任务按时完成的比例，按比例计分。"),
    ),
    (
        ItemKind.COMPLETION,
        gettext_lazy("任务完成度"),
        Decimal("25"),
        gettext_lazy("考核期内在办任务的平均完成进度，按比例计分。"),
    ),
    (
        ItemKind.INDICATORS,
        gettext_lazy("指标达标率"),
        Decimal("15"),
        gettext_lazy("任务指标最新报送值达到目标的比例，按比例计分。"),
    ),
    (
        ItemKind.RECTIFICATION,
        gettext_lazy("整改按期销号率"),
        Decimal("10"),
        gettext_lazy("考核期内到期的整改要求按期销号的比例，按比例计分。"),
    ),
    (
        ItemKind.REVIEW,
        gettext_lazy("工作成效"),
        Decimal("20"),
        gettext_lazy("群众满意度、工作亮点与特色，由考核组评定。"),
    ),
]


def _q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- Figures ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A computed figure: numerator ÷ denominator as a rate (0–100), or not applicable."""

    numerator: Decimal
    denominator: int
    rate: Decimal | None

    @property
    def applicable(self) -> bool:
        return self.rate is not None


NOT_APPLICABLE = Metric(numerator=Decimal(0), denominator=0, rate=None)


def _ratio(numerator: Decimal | int, denominator: int) -> Metric:
    if not denominator:
        return NOT_APPLICABLE
    rate = _q2(min(HUNDRED, Decimal(numerator) * HUNDRED / denominator))
    return Metric(numerator=Decimal(numerator), denominator=denominator, rate=rate)


def as_of_day(assessment: Assessment, today: date | None = None) -> date:
    """The day the figures are taken on: the period's last day, or today while it runs."""
    return min(assessment.period_end, today or timezone.localdate())


def _unit_tasks(assessment: Assessment, as_of: date) -> QuerySet[TaskUnit]:
    """(unit, task) rows of the plan's work-carrying tasks under way in the period, by responsible unit."""
    return TaskUnit.objects.filter(
        role=UnitRole.RESPONSIBLE,
        task__plan_id=assessment.plan_id,
        task__fans_out=False,
        task__starts_on__lte=as_of,
        task__deadline__gte=assessment.period_start,
    )


def compute_metrics(
    assessment: Assessment, unit_ids: Sequence[int], *, today: date | None = None
) -> dict[int, dict[str, Metric]]:
    """Every computed figure for ``unit_ids``: four queries, whatever the number of units or tasks."""
    as_of = as_of_day(assessment, today)
    ids = list(unit_ids)
    result: dict[int, dict[str, Metric]] = {uid: dict.fromkeys(COMPUTED_KINDS, NOT_APPLICABLE) for uid in ids}
    if not ids:
        return result
    rows = _unit_tasks(assessment, as_of).filter(unit_id__in=ids)

    due = Q(task__deadline__lte=as_of)
    on_time = due & Q(task__completed_on__isnull=False, task__completed_on__lte=F("task__deadline"))
    for row in (
        rows.values("unit_id")
        .annotate(
            tasks=Count("task_id"),
            mean=Avg("task__progress"),
            due=Count("task_id", filter=due),
            on_time=Count("task_id", filter=on_time),
        )
        .order_by()
    ):
        figures = result[row["unit_id"]]
        figures[ItemKind.ON_TIME] = _ratio(row["on_time"], row["due"])
        if row["tasks"]:
            mean = _q2(Decimal(row["mean"] or 0))
            figures[ItemKind.COMPLETION] = Metric(numerator=mean, denominator=row["tasks"], rate=mean)

    latest_value = (
        ProgressReport.objects.filter(
            target_id=OuterRef("task__targets__id"),
            kind=ReportKind.INDICATOR,
            status=ReportStatus.SUBMITTED,
            reported_at__date__lte=as_of,
        )
        .order_by("-reported_at", "-id")
        .values("value")[:1]
    )
    met: dict[int, list[int]] = {uid: [0, 0] for uid in ids}
    indicator_rows = (
        rows.filter(task__targets__kind="indicator")
        .annotate(latest=Subquery(latest_value))
        .values_list("unit_id", "task__targets__comparator", "task__targets__value", "latest")
    )
    for unit_id, comparator, goal, latest in indicator_rows:
        met[unit_id][1] += 1
        target = Target(kind="indicator", comparator=comparator, value=goal)
        if latest is not None and indicator_attainment(target, latest) >= HUNDRED:
            met[unit_id][0] += 1
    for uid, (n_met, n_all) in met.items():
        result[uid][ItemKind.INDICATORS] = _ratio(n_met, n_all)

    closed_in_time = Q(status=RectificationStatus.CLOSED, closed_at__date__lte=F("deadline"))
    for row in (
        Rectification.objects.filter(
            Q(finding__check_record__plan_id=assessment.plan_id) | Q(finding__task__plan_id=assessment.plan_id),
            unit_id__in=ids,
            deadline__gte=assessment.period_start,
            deadline__lte=as_of,
        )
        .values("unit_id")
        .annotate(n=Count("id", distinct=True), ok=Count("id", filter=closed_in_time, distinct=True))
        .order_by()
    ):
        result[row["unit_id"]][ItemKind.RECTIFICATION] = _ratio(row["ok"], row["n"])
    return result


# --- Scores and ranking ---------------------------------------------------------------------------------


@dataclass
class Line:
    """One item of one entry: the figure or the hand scores, and the points it brings."""

    item: AssessmentItem
    metric: Metric | None
    self_score: Decimal | None
    review_score: Decimal | None
    points: Decimal | None

    @property
    def applicable(self) -> bool:
        return self.points is not None


@dataclass
class Row:
    entry: AssessmentEntry
    lines: list[Line]
    total: Decimal
    rank: int | None = None
    provisional: bool = True
    warnings: list[str] = field(default_factory=list)


def _points(item: AssessmentItem, metric: Metric) -> Decimal | None:
    if metric.rate is None:
        return None
    return _q2(Decimal(item.weight) * metric.rate / HUNDRED)


def _total(lines: Sequence[Line], full: Decimal) -> Decimal:
    applicable = [line for line in lines if line.points is not None]
    weight = sum((Decimal(line.item.weight) for line in applicable), Decimal(0))
    if not weight:
        return Decimal(0).quantize(CENT)
    points = sum((line.points or Decimal(0) for line in applicable), Decimal(0))
    return _q2(points * full / weight)


def _rank(rows: list[Row]) -> None:
    """Competition ranking on the total: equal totals share a rank, the next rank skips."""
    rows.sort(key=lambda r: (-r.total, r.entry.region.path, r.entry.unit.name, r.entry.pk))
    previous: Decimal | None = None
    rank = 0
    for position, row in enumerate(rows, start=1):
        if row.total != previous:
            rank, previous = position, row.total
        row.rank = rank


def _frozen_rows(items: list[AssessmentItem], entries: list[AssessmentEntry]) -> list[Row]:
    rows = []
    for entry in entries:
        scores = {s.item_id: s for s in entry.scores.all()}
        lines = []
        for item in items:
            s = scores.get(item.pk)
            metric = None
            if item.is_computed and s is not None:
                metric = (
                    NOT_APPLICABLE
                    if s.rate is None
                    else Metric(numerator=Decimal(s.numerator or 0), denominator=s.denominator or 0, rate=s.rate)
                )
            lines.append(
                Line(
                    item=item,
                    metric=metric,
                    self_score=s.self_score if s else None,
                    review_score=s.review_score if s else None,
                    points=s.points if s else None,
                )
            )
        rows.append(Row(entry=entry, lines=lines, total=entry.total or Decimal(0), rank=entry.rank, provisional=False))
    rows.sort(key=lambda r: (r.rank or 0, r.entry.region.path, r.entry.unit.name, r.entry.pk))
    return rows


def score_rows(assessment: Assessment, entries: Iterable[AssessmentEntry], *, today: date | None = None) -> list[Row]:
    """The entries scored and ranked: frozen figures once published, else computed now (provisional).

    A provisional hand score is the reviewer's when given, else the unit's own, else 0; ``entries``
    must come with ``scores`` prefetched.
    """
    items = list(assessment.items.all())
    entries = list(entries)
    if assessment.status == AssessmentStatus.PUBLISHED:
        return _frozen_rows(items, entries)
    full = sum((Decimal(i.weight) for i in items), Decimal(0))
    metrics = compute_metrics(assessment, [e.unit_id for e in entries], today=today)
    rows = []
    for entry in entries:
        scores = {s.item_id: s for s in entry.scores.all()}
        lines = []
        for item in items:
            s = scores.get(item.pk)
            self_score = s.self_score if s else None
            review_score = s.review_score if s else None
            if item.is_computed:
                metric = metrics[entry.unit_id][item.kind]
                lines.append(Line(item, metric, None, None, _points(item, metric)))
            else:
                chosen = review_score if review_score is not None else self_score
                lines.append(Line(item, None, self_score, review_score, chosen or Decimal(0)))
        rows.append(Row(entry=entry, lines=lines, total=_total(lines, full)))
    _rank(rows)
    return rows


# --- Reads ------------------------------------------------------------------------------------------


def assessment_list(*, user: Any, plan: Plan | None = None, status: str = "") -> QuerySet[Assessment]:
    qs = Assessment.objects.visible_to(user).select_related("plan", "region")
    if plan is not None:
        qs = qs.filter(plan=plan)
    if status in AssessmentStatus.values:
        qs = qs.filter(status=status)
    return qs.annotate(n_entries=Count("entries")).order_by("-year", "-id")


def assessment_detail(*, user: Any, pk: Any) -> Assessment:
    qs = Assessment.objects.select_related("plan", "plan__issuing_unit", "region", "published_by").prefetch_related(
        "items"
    )
    return access.get_visible_or_404(qs, user, pk=pk)


def visible_entries(*, user: Any, assessment: Assessment) -> QuerySet[AssessmentEntry]:
    """The entries of ``assessment`` the user may see, with their scores."""
    return (
        AssessmentEntry.objects.visible_to(user)
        .filter(assessment=assessment)
        .select_related("unit", "region", "assessment")
        .prefetch_related(Prefetch("scores", queryset=AssessmentScore.objects.order_by("item_id")))
    )


def ranking(*, user: Any, assessment: Assessment, today: date | None = None) -> list[Row]:
    """The entries the user may see, scored; ranks only where they mean something.

    Before publication a unit sees its own entry alone: a rank among the entries it sees would be
    a false "1st", and its rank among all would tell it about the others, so it gets none.
    """
    entries = list(visible_entries(user=user, assessment=assessment))
    rows = score_rows(assessment, entries, today=today)
    if assessment.status != AssessmentStatus.PUBLISHED:
        everyone = AssessmentEntry.objects.filter(assessment=assessment).count()
        if len(entries) < everyone:
            for row in rows:
                row.rank = None
    return rows


def entry_detail(*, user: Any, pk: Any) -> AssessmentEntry:
    qs = AssessmentEntry.objects.select_related(
        "assessment", "assessment__plan", "assessment__region", "unit", "region", "self_submitted_by", "reviewed_by"
    ).prefetch_related("scores", "assessment__items")
    return access.get_visible_or_404(qs, user, pk=pk)


def assessment_url(assessment: Assessment) -> str:
    try:
        return reverse("plans:assessment_detail", kwargs={"pk": assessment.pk})
    except NoReverseMatch:
        return ""


def entry_url(entry: AssessmentEntry) -> str:
    try:
        return reverse("plans:assessmententry_detail", kwargs={"pk": entry.pk})
    except NoReverseMatch:
        return ""


# --- Permissions ------------------------------------------------------------------------------------------


def can_manage(actor: Any, assessment: Assessment) -> bool:
    """Drafting the rubric, opening, reviewing and publishing: assessors over the plan's region."""
    return access.can(actor, access.CHANGE, assessment)


def can_self_assess(actor: Any, entry: AssessmentEntry) -> bool:
    """The unit's own staff, while the entry is not yet reviewed.

    Besides the unit's members, village or town staff over the unit's region may file it on the
    unit's behalf (a village account not linked to its committee, a town for its villages when
    the county assesses) — but never someone who reviews this assessment: whoever scores the
    result does not write the self-assessment too.
    """
    if entry.assessment.status != AssessmentStatus.OPEN or entry.status == EntryStatus.REVIEWED:
        return False
    scope = access.scope_of(actor)
    if not scope.is_authenticated:
        return False
    if scope.is_superuser or entry.unit_id in _active_unit_ids(actor):
        return True
    return scope.has_role_over(ON_BEHALF, entry.region.path) and not can_manage(actor, entry.assessment)


def can_review(actor: Any, entry: AssessmentEntry, *, today: date | None = None) -> bool:
    """Assessors, once the unit has assessed itself or its self-assessment deadline has passed."""
    assessment = entry.assessment
    if assessment.status != AssessmentStatus.OPEN or not can_manage(actor, assessment):
        return False
    if entry.status != EntryStatus.PENDING:
        return True
    day = today or timezone.localdate()
    return assessment.self_deadline is not None and day > assessment.self_deadline


# --- Writes -------------------------------------------------------------------------------------------------


def _year_period(plan: Plan, year: int) -> tuple[date, date]:
    start = max(plan.starts_on, date(year, 1, 1))
    end = min(plan.ends_on, date(year, 12, 31))
    if end < start:
        raise ValidationError(
            {
                "year": _("%(year)d年不在方案实施期（%(start)s至%(end)s）内")
                % {"year": year, "start": f"{plan.starts_on:%Y-%m-%d}", "end": f"{plan.ends_on:%Y-%m-%d}"}
            }
        )
    return start, end


def _check_assessment(assessment: Assessment) -> None:
    assessment.title = assessment.title.strip()
    if not assessment.title:
        raise ValidationError({"title": _("请填写考核名称")})
    if assessment.period_end < assessment.period_start:
        raise ValidationError({"period_end": _("考核截止日期不能早于起始日期")})
    if assessment.self_deadline and assessment.self_deadline < assessment.period_start:
        raise ValidationError({"self_deadline": _("自评截止日期不能早于考核起始日期")})
    assessment.full_clean(exclude=["created_by", "published_by", "plan", "region"], validate_unique=False)


@transaction.atomic
def assessment_create(
    *,
    actor: Any,
    plan: Plan,
    year: int,
    title: str = "",
    self_deadline: date | None = None,
    with_default_rubric: bool = True,
) -> Assessment:
    """Drafts the yearly assessment of a plan, with the default rubric unless asked otherwise."""
    if not Plan.objects.visible_to(actor).filter(pk=plan.pk).exists():
        raise ValidationError({"plan": _("所选工作方案不存在或无权访问")})
    if plan.status == PlanStatus.DRAFT:
        raise ValidationError({"plan": _("草稿状态的工作方案不能考核")})
    if not 2000 <= int(year) <= 2100:
        raise ValidationError({"year": _("请填写正确的年度")})
    start, end = _year_period(plan, int(year))
    assessment = Assessment(
        plan=plan,
        region=plan.region,
        year=int(year),
        title=title.strip() or _("%(plan)s%(year)d年度考核") % {"plan": plan.title, "year": int(year)},
        period_start=start,
        period_end=end,
        self_deadline=self_deadline,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, assessment)
    _check_assessment(assessment)
    if Assessment.objects.filter(plan=plan, year=assessment.year).exists():
        raise ValidationError({"year": _("该方案%(year)d年度的考核已存在") % {"year": assessment.year}})
    save_or_conflict(assessment)
    if with_default_rubric:
        for order, (kind, name, weight, criteria) in enumerate(DEFAULT_RUBRIC, start=1):
            AssessmentItem.objects.create(
                assessment=assessment, kind=kind, name=str(name), weight=weight, criteria=str(criteria), order=order
            )
    return assessment


def _locked(assessment: Assessment) -> Assessment:
    return Assessment.objects.select_for_update().select_related("plan", "region").get(pk=assessment.pk)


def _require_draft(assessment: Assessment) -> None:
    if assessment.status != AssessmentStatus.DRAFT:
        raise ValidationError(_("考核已启动，考核细则不能再修改"))


@transaction.atomic
def assessment_update(*, actor: Any, assessment: Assessment, data: Mapping[str, Any]) -> Assessment:
    """Changes the title, the period (inside the year and the plan) or the self-assessment deadline."""
    require(actor, access.CHANGE, assessment)
    unknown = set(data) - ASSESSMENT_UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("该字段不能修改") for name in sorted(unknown)})
    row = _locked(assessment)
    if row.status == AssessmentStatus.PUBLISHED:
        raise ValidationError(_("考核结果已公布，不能修改"))
    if row.status == AssessmentStatus.OPEN and ({"period_start", "period_end"} & set(data)):
        raise ValidationError({"period_start": _("考核已启动，考核期间不能再修改")})
    for name, value in data.items():
        setattr(row, name, value)
    year_start, year_end = _year_period(row.plan, row.year)
    if row.period_start < year_start or row.period_end > year_end:
        raise ValidationError(
            {
                "period_start": _("考核期间须在%(start)s至%(end)s之内")
                % {"start": f"{year_start:%Y-%m-%d}", "end": f"{year_end:%Y-%m-%d}"}
            }
        )
    _check_assessment(row)
    row.save()
    return row


def _clean_item(item: AssessmentItem) -> None:
    item.name = item.name.strip()
    if not item.name:
        raise ValidationError({"name": _("请填写考核项目名称")})
    if item.kind not in ItemKind.values:
        raise ValidationError({"kind": _("请选择计分方式")})
    try:
        weight = Decimal(item.weight)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationError({"weight": _("分值须为数字")}) from exc
    if weight <= 0 or weight > FULL_MARKS or weight != weight.quantize(TENTH):
        raise ValidationError({"weight": _("分值须大于0、不超过100，最多一位小数")})
    others = AssessmentItem.objects.filter(assessment_id=item.assessment_id).exclude(pk=item.pk)
    if others.filter(name=item.name).exists():
        raise ValidationError({"name": _("已有同名的考核项目")})
    if item.kind != ItemKind.REVIEW and others.filter(kind=item.kind).exists():
        raise ValidationError({"kind": _("每种计算指标只能设置一项")})


@transaction.atomic
def item_add(
    *,
    actor: Any,
    assessment: Assessment,
    kind: str,
    name: str,
    weight: Decimal | str | int,
    criteria: str = "",
    order: int | None = None,
) -> AssessmentItem:
    require(actor, access.CHANGE, assessment)
    row = _locked(assessment)
    _require_draft(row)
    if order is None:
        order = (row.items.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    item = AssessmentItem(assessment=row, kind=kind, name=name, weight=weight, criteria=criteria.strip(), order=order)
    _clean_item(item)
    save_or_conflict(item)
    return item


@transaction.atomic
def item_update(*, actor: Any, item: AssessmentItem, data: Mapping[str, Any]) -> AssessmentItem:
    require(actor, access.CHANGE, item.assessment)
    unknown = set(data) - ITEM_UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("该字段不能修改") for name in sorted(unknown)})
    _require_draft(_locked(item.assessment))
    row = AssessmentItem.objects.select_for_update().get(pk=item.pk)
    for name, value in data.items():
        setattr(row, name, value.strip() if isinstance(value, str) and name != "weight" else value)
    _clean_item(row)
    save_or_conflict(row)
    return row


@transaction.atomic
def item_delete(*, actor: Any, item: AssessmentItem) -> None:
    require(actor, access.CHANGE, item.assessment)
    _require_draft(_locked(item.assessment))
    item.delete()


def responsible_units(assessment: Assessment) -> QuerySet[Unit]:
    """The units the plan's work-carrying tasks name as responsible: the ones assessed."""
    unit_ids = TaskUnit.objects.filter(
        role=UnitRole.RESPONSIBLE, task__plan_id=assessment.plan_id, task__fans_out=False
    ).values("unit_id")
    return Unit.objects.filter(pk__in=unit_ids).select_related("region")


def _own_pk(actor: Any) -> list[int]:
    pk = getattr(actor, "pk", None)
    return [pk] if pk is not None else []


def unit_staff(unit_ids: Sequence[int]) -> QuerySet[User]:
    """Active staff accounts that work in the given units."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__is_active=True,
            memberships__unit_id__in=list(unit_ids),
            memberships__role__in=STAFF_ROLES,
        )
        .distinct()
        .order_by("pk")
    )


@transaction.atomic
def assessment_open(*, actor: Any, assessment: Assessment) -> Assessment:
    """Starts the assessment: the rubric is fixed, each responsible unit gets an entry to assess itself."""
    require(actor, access.CHANGE, assessment)
    row = _locked(assessment)
    _require_draft(row)
    items = list(row.items.all())
    if not items:
        raise ValidationError(_("请先设置考核项目"))
    total = sum((Decimal(i.weight) for i in items), Decimal(0))
    if total != FULL_MARKS:
        raise ValidationError(_("各考核项目分值合计须为100分，目前为%(total)s分") % {"total": f"{total.normalize():f}"})
    units = list(responsible_units(row))
    if not units:
        raise ValidationError(_("该方案的任务没有责任单位，无可考核对象"))
    AssessmentEntry.objects.bulk_create(
        [AssessmentEntry(assessment=row, unit=unit, region=unit.region) for unit in units]
    )
    entries = list(AssessmentEntry.objects.filter(assessment=row))
    AssessmentScore.objects.bulk_create([AssessmentScore(entry=e, item=i) for e in entries for i in items])
    row.status = AssessmentStatus.OPEN
    row.opened_at = timezone.now()
    row.save()
    deadline = f"{row.self_deadline:%Y-%m-%d}" if row.self_deadline else ""
    notify(
        users=unit_staff([u.pk for u in units]).exclude(pk__in=_own_pk(actor)),
        title=_("请完成考核自评：%(title)s") % {"title": row.title},
        body=(_("请于%(day)s前完成自评。") % {"day": deadline}) if deadline else _("请及时完成自评。"),
        url=assessment_url(row),
        dedupe_key=f"plans:assessment:{row.pk}:opened",
    )
    return row


def _hand_scores(
    entry: AssessmentEntry, scores: Mapping[Any, Any], *, field_name: str
) -> dict[int, tuple[AssessmentItem, Decimal]]:
    """Validates a score for every hand-scored item: a number from 0 to the item's weight, one decimal."""
    items = [i for i in entry.assessment.items.all() if not i.is_computed]
    given = {str(k): v for k, v in scores.items()}
    errors: dict[str, str] = {}
    clean: dict[int, tuple[AssessmentItem, Decimal]] = {}
    for item in items:
        raw = given.get(str(item.pk))
        key = f"{field_name}_{item.pk}"
        if raw is None or str(raw).strip() == "":
            errors[key] = _("请为“%(item)s”打分") % {"item": item.name}
            continue
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            errors[key] = _("“%(item)s”的得分须为数字") % {"item": item.name}
            continue
        if not value.is_finite() or value < 0 or value > item.weight or value != value.quantize(TENTH):
            errors[key] = _("“%(item)s”的得分须在0至%(max)s分之间，最多一位小数") % {
                "item": item.name,
                "max": f"{Decimal(item.weight).normalize():f}",
            }
            continue
        clean[item.pk] = (item, value)
    unknown = set(given) - {str(i.pk) for i in items}
    if unknown:
        errors[field_name] = _("只能为评审打分项目打分")
    if errors:
        raise ValidationError(errors)
    return clean


def _locked_entry(entry: AssessmentEntry) -> AssessmentEntry:
    """Locks the entry's assessment, then the entry: the order publication locks them in.

    Holding the assessment keeps a publication from freezing the figures between this write's
    check and its commit; taking the locks in one order keeps the two from deadlocking.
    """
    assessment = _locked(entry.assessment)
    row = AssessmentEntry.objects.select_for_update().select_related("region", "unit").get(pk=entry.pk)
    row.assessment = assessment
    return row


def _check_comment(comment: str, field_name: str) -> str:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({field_name: _("说明不能超过%(n)d字") % {"n": COMMENT_MAX}})
    return comment


def _save_scores(
    row: AssessmentEntry, actor: Any, scores: Mapping[Any, Any], comment: str, *, side: str, status: str
) -> AssessmentEntry:
    """Stores one side's hand scores and statement ("self" or "review") and moves the entry on."""
    clean = _hand_scores(row, scores, field_name=side)
    comment = _check_comment(comment, f"{side}_comment")
    for item_id, (_item, value) in clean.items():
        AssessmentScore.objects.update_or_create(entry=row, item_id=item_id, defaults={f"{side}_score": value})
    stamp = "self_submitted" if side == "self" else "reviewed"
    setattr(row, f"{side}_comment", comment)
    setattr(row, f"{stamp}_at", timezone.now())
    setattr(row, f"{stamp}_by", actor)
    row.status = status
    row.save()
    return row


@transaction.atomic
def entry_self_assess(
    *, actor: Any, entry: AssessmentEntry, scores: Mapping[Any, Any], comment: str = ""
) -> AssessmentEntry:
    """The unit's self-assessment: a self-score for each hand-scored item and a statement."""
    row = _locked_entry(entry)
    if not can_self_assess(actor, row):
        if row.assessment.status != AssessmentStatus.OPEN or row.status == EntryStatus.REVIEWED:
            raise ValidationError(_("该单位已审核或考核未在进行中，不能再自评"))
        raise PermissionDenied(_("无权执行此操作"))
    return _save_scores(row, actor, scores, comment, side="self", status=EntryStatus.SELF_SUBMITTED)


@transaction.atomic
def entry_review(
    *, actor: Any, entry: AssessmentEntry, scores: Mapping[Any, Any], comment: str = "", today: date | None = None
) -> AssessmentEntry:
    """The reviewer's scores for the hand-scored items (they count), and the review opinion."""
    row = _locked_entry(entry)
    if not can_manage(actor, row.assessment):
        raise PermissionDenied(_("无权执行此操作"))
    if not can_review(actor, row, today=today):
        if row.assessment.status != AssessmentStatus.OPEN:
            raise ValidationError(_("考核未在进行中，不能审核"))
        raise ValidationError(_("该单位尚未自评，自评截止日期过后方可直接审核"))
    return _save_scores(row, actor, scores, comment, side="review", status=EntryStatus.REVIEWED)


@transaction.atomic
def assessment_publish(*, actor: Any, assessment: Assessment, today: date | None = None) -> Assessment:
    """Publishes the ranking: every entry must be reviewed; figures, totals and ranks are frozen."""
    require(actor, access.CHANGE, assessment)
    row = _locked(assessment)
    if row.status != AssessmentStatus.OPEN:
        raise ValidationError(_("只有考核中的考核可以公布结果"))
    # Lock the entries, then read them with their scores: no review can land in between.
    list(AssessmentEntry.objects.select_for_update().filter(assessment=row).values_list("pk", flat=True))
    entries = list(
        AssessmentEntry.objects.filter(assessment=row)
        .select_related("unit", "region")
        .prefetch_related("scores")
        .order_by("pk")
    )
    waiting = [e for e in entries if e.status != EntryStatus.REVIEWED]
    if waiting:
        names = "、".join(e.unit.name for e in waiting[:5])
        raise ValidationError(
            _("还有%(n)d个单位未审核（%(names)s），全部审核后方可公布") % {"n": len(waiting), "names": names}
        )
    rows = score_rows(row, entries, today=today)
    scores = {(s.entry_id, s.item_id): s for s in AssessmentScore.objects.filter(entry__assessment=row)}
    changed: list[AssessmentScore] = []
    for r in rows:
        for line in r.lines:
            s = scores[(r.entry.pk, line.item.pk)]
            if line.metric is not None:
                s.numerator, s.denominator, s.rate = line.metric.numerator, line.metric.denominator, line.metric.rate
            s.points = line.points
            changed.append(s)
        r.entry.total, r.entry.rank = r.total, r.rank
        r.entry.save(update_fields=["total", "rank"])
    AssessmentScore.objects.bulk_update(changed, ["numerator", "denominator", "rate", "points"])
    row.status = AssessmentStatus.PUBLISHED
    row.published_at = timezone.now()
    row.published_by = actor
    row.save()
    notify(
        users=unit_staff([e.unit_id for e in entries]).exclude(pk__in=_own_pk(actor)),
        title=_("考核结果已公布：%(title)s") % {"title": row.title},
        body=_("共%(n)d个单位参加考核，请查阅排名与得分。") % {"n": len(entries)},
        url=assessment_url(row),
        dedupe_key=f"plans:assessment:{row.pk}:published",
    )
    return row


# --- Export -------------------------------------------------------------------------------------------


def _fmt(value: Decimal | None) -> Any:
    return "" if value is None else float(value)


def assessment_xlsx(*, user: Any, assessment: Assessment, today: date | None = None) -> bytes:
    """The ranking as a workbook: one row per unit with every item's points, then the figures behind them."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    rows = ranking(user=user, assessment=assessment, today=today)
    items = list(assessment.items.all())
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("考核排名")
    headings = [
        _("排名"),
        _("单位"),
        _("所属区域"),
        *[f"{i.name}（{Decimal(i.weight).normalize():f}）" for i in items],
        _("总分"),
        _("状态"),
    ]
    sheet.append([assessment.title])
    sheet.cell(1, 1).font = Font(bold=True, size=14)
    status = (
        _("已公布（%(day)s）") % {"day": f"{timezone.localtime(assessment.published_at):%Y-%m-%d}"}
        if assessment.published_at
        else _("考核中，得分为按%(day)s数据实时计算的暂定结果") % {"day": f"{as_of_day(assessment, today):%Y-%m-%d}"}
    )
    sheet.append(
        [
            _("考核期间：%(start)s至%(end)s；%(status)s")
            % {
                "start": f"{assessment.period_start:%Y-%m-%d}",
                "end": f"{assessment.period_end:%Y-%m-%d}",
                "status": status,
            }
        ]
    )
    sheet.append(headings)
    for col in range(1, len(headings) + 1):
        sheet.cell(3, col).font = Font(bold=True)
        sheet.cell(3, col).alignment = Alignment(horizontal="center", wrap_text=True)
    for r in rows:
        sheet.append(
            [
                r.rank or "",
                r.entry.unit.name,
                r.entry.region.name,
                *[_("不适用") if line.points is None else float(line.points) for line in r.lines],
                float(r.total),
                r.entry.get_status_display(),
            ]
        )
    for col in range(1, len(headings) + 1):
        sheet.column_dimensions[get_column_letter(col)].width = 28 if col == 2 else 14

    detail = workbook.create_sheet(_("计分依据"))
    detail_headings = [_("单位"), _("考核项目"), _("计分方式"), _("分子"), _("分母"), _("比率（%）")]
    detail.append([*detail_headings, _("自评"), _("审核"), _("得分")])
    for col in range(1, 10):
        detail.cell(1, col).font = Font(bold=True)
    for r in rows:
        for line in r.lines:
            metric = line.metric
            detail.append(
                [
                    r.entry.unit.name,
                    line.item.name,
                    line.item.get_kind_display(),
                    _fmt(metric.numerator) if metric and metric.applicable else "",
                    metric.denominator if metric and metric.applicable else "",
                    _fmt(metric.rate) if metric and metric.applicable else (_("不适用") if metric else ""),
                    _fmt(line.self_score),
                    _fmt(line.review_score),
                    _fmt(line.points),
                ]
            )
    for col, width in enumerate((28, 20, 14, 10, 10, 12, 10, 10, 10), start=1):
        detail.column_dimensions[get_column_letter(col)].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
