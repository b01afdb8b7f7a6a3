"""Every write to work plans: typed, keyword-only, explicit actor, one transaction each.

Pages, the API, the spreadsheet import, commands and the demo loader all call these. A denied
call raises ``PermissionDenied`` and changes nothing; invalid data raises ``ValidationError``.
A task's progress is never typed: ``report_submit`` and ``report_return`` recompute it from the
reports (and a fanned-out parent's from its children) under a row lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Avg
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from cocreate.core import access
from cocreate.core.concurrency import EditVersion
from cocreate.core.models import Membership, Region, RegionLevel, Unit, UnitKind, subtree_q
from cocreate.core.notify import notify
from cocreate.core.services import require, save_or_conflict
from cocreate.plans.models import (
    Comparator,
    Milestone,
    PersonRole,
    Phase,
    Plan,
    PlanStatus,
    ProgressReport,
    QuotaPeriod,
    ReportKind,
    ReportStatus,
    Target,
    TargetKind,
    Task,
    TaskPerson,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.rules import PLAN_MANAGERS, REPORTERS

HUNDRED = Decimal("100")
CENT = Decimal("0.01")
VILLAGE_COMMITTEE_KINDS = (UnitKind.VILLAGE_COMMITTEE, UnitKind.RESIDENTS_COMMITTEE)
PLAN_UPDATABLE_FIELDS = frozenset(
    {
        "title",
        "doc_number",
        "issuing_unit",
        "region",
        "summary",
        "starts_on",
        "ends_on",
        "status",
        "yellow_after_points",
        "red_after_points",
        "blue_within_days",
        "remind_days_before",
        "escalate_after_days",
    }
)
# What a plan's edit form may overwrite (core/concurrency.py); tasks have theirs below.
PLAN_VERSION = EditVersion(fields=tuple(sorted(PLAN_UPDATABLE_FIELDS)))


@dataclass(frozen=True)
class TargetSpec:
    """What a task's target should be: a quota (count per period) or an indicator (value)."""

    kind: str
    name: str
    quota_count: int | None = None
    quota_period: str = ""
    comparator: str = ""
    value: Decimal | None = None
    unit_label: str = ""


# --- Helpers ------------------------------------------------------------------------------------


def _clamp(value: Decimal) -> Decimal:
    return min(HUNDRED, max(Decimal(0), value)).quantize(CENT, rounding=ROUND_HALF_UP)


def require_visible_units(actor: Any, units: Iterable[Unit]) -> None:
    """Every unit named by the actor must be one the actor can see (no ids from elsewhere)."""
    ids = {u.pk for u in units}
    if not ids:
        return
    visible = set(Unit.objects.visible_to(actor).filter(pk__in=ids).values_list("pk", flat=True))
    if ids - visible:
        raise ValidationError({"units": _("所选单位不存在或不在您的管理范围内")})


def task_url(task: Task) -> str:
    """The task page's address, or "" while the pages are not installed."""
    try:
        return reverse("plans:task_detail", kwargs={"pk": task.pk})
    except NoReverseMatch:
        return ""


def _active_unit_ids(actor: Any) -> set[int]:
    """The units the actor works in (active memberships through a unit)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return set()
    return set(
        Membership.objects.filter(user_id=actor.pk, is_active=True, unit__isnull=False).values_list(
            "unit_id", flat=True
        )
    )


# --- Plans and phases -----------------------------------------------------------------------------


def _check_plan(plan: Plan) -> None:
    if plan.starts_on and plan.ends_on and plan.ends_on < plan.starts_on:
        raise ValidationError({"ends_on": _("结束日期不能早于开始日期")})
    if plan.red_after_points <= plan.yellow_after_points:
        raise ValidationError({"red_after_points": _("红灯阈值必须大于黄灯阈值")})


@transaction.atomic
def plan_create(
    *,
    actor: Any,
    title: str,
    issuing_unit: Unit,
    region: Region,
    starts_on: date,
    ends_on: date,
    doc_number: str = "",
    summary: str = "",
    status: str = PlanStatus.ACTIVE,
) -> Plan:
    """Issues a plan for a region the actor manages, in the name of a unit the actor can see."""
    plan = Plan(
        title=title.strip(),
        issuing_unit=issuing_unit,
        region=region,
        starts_on=starts_on,
        ends_on=ends_on,
        doc_number=doc_number.strip(),
        summary=summary.strip(),
        status=status,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    require(actor, access.CREATE, plan)
    require_visible_units(actor, [issuing_unit])
    _check_plan(plan)
    plan.full_clean(exclude=["created_by"])
    save_or_conflict(plan)
    return plan


@transaction.atomic
def plan_update(*, actor: Any, plan: Plan, data: Mapping[str, Any], expected_version: str | None = None) -> Plan:
    """Changes a plan's fields; its tasks and phases must still fit inside the new dates.

    With ``expected_version`` (``PLAN_VERSION.of`` the plan as the caller saw it) a plan changed
    meanwhile is refused with ``StaleEdit`` instead of silently overwritten.
    """
    require(actor, access.CHANGE, plan)
    PLAN_VERSION.lock(plan, expected_version)
    unknown = set(data) - PLAN_UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("不能修改此字段") for name in sorted(unknown)})
    for name, value in data.items():
        setattr(plan, name, value.strip() if isinstance(value, str) and name != "status" else value)
    # Moving the plan to another region needs rights there too.
    require(actor, access.CHANGE, plan)
    if "issuing_unit" in data:
        require_visible_units(actor, [plan.issuing_unit])
    _check_plan(plan)
    outside = Task.objects.filter(plan=plan).exclude(starts_on__gte=plan.starts_on, deadline__lte=plan.ends_on)
    if outside.exists() or plan.phases.exclude(starts_on__gte=plan.starts_on, ends_on__lte=plan.ends_on).exists():
        raise ValidationError({"ends_on": _("已有任务或阶段超出新的方案起止日期")})
    # Tasks keep their regions, so a new region must still contain all of them.
    if "region" in data and (
        Task.objects.filter(plan=plan).exclude(subtree_q(plan.region.path, "region__path")).exists()
    ):
        raise ValidationError({"region": _("已有任务不在新的实施区域内")})
    plan.full_clean(exclude=["created_by"])
    save_or_conflict(plan)
    return plan


@transaction.atomic
def phase_add(*, actor: Any, plan: Plan, name: str, starts_on: date, ends_on: date, order: int = 0) -> Phase:
    """Adds a dated phase to a plan; its window must lie inside the plan's dates."""
    require(actor, access.CHANGE, plan)
    phase = Phase(plan=plan, name=name.strip(), starts_on=starts_on, ends_on=ends_on, order=order)
    if ends_on < starts_on:
        raise ValidationError({"ends_on": _("结束日期不能早于开始日期")})
    if starts_on < plan.starts_on or ends_on > plan.ends_on:
        raise ValidationError({"starts_on": _("阶段日期必须在方案起止日期之内")})
    phase.full_clean()
    save_or_conflict(phase)
    return phase


# --- Tasks ----------------------------------------------------------------------------------------


def check_target_spec(spec: TargetSpec) -> None:
    """Raises ValidationError unless the spec's fields fit its kind (quota or indicator)."""
    if not spec.name.strip():
        raise ValidationError({"targets": _("目标名称不能为空")})
    if spec.kind == TargetKind.QUOTA:
        if not spec.quota_count or spec.quota_count < 1:
            raise ValidationError({"targets": _("数量要求「%(name)s」需填写不少于1的数量") % {"name": spec.name}})
        if spec.quota_period not in QuotaPeriod.values:
            raise ValidationError({"targets": _("数量要求「%(name)s」需选择周期") % {"name": spec.name}})
        if spec.value is not None or spec.comparator:
            raise ValidationError({"targets": _("数量要求「%(name)s」不能填写指标值") % {"name": spec.name}})
    elif spec.kind == TargetKind.INDICATOR:
        if spec.value is None:
            raise ValidationError({"targets": _("指标「%(name)s」需填写目标值") % {"name": spec.name}})
        if spec.comparator not in Comparator.values:
            raise ValidationError({"targets": _("指标「%(name)s」需选择比较方式") % {"name": spec.name}})
        if spec.quota_count is not None or spec.quota_period:
            raise ValidationError({"targets": _("指标「%(name)s」不能填写数量要求") % {"name": spec.name}})
    else:
        raise ValidationError({"targets": _("未知的目标类型")})


def check_milestones(milestones: Sequence[tuple[date, Decimal]], starts_on: date, deadline: date) -> None:
    """Raises ValidationError unless milestones lie within the task, one per date, never decreasing."""
    seen: set[date] = set()
    last = Decimal(-1)
    for due_on, percent in sorted(milestones, key=lambda m: m[0]):
        if due_on in seen:
            raise ValidationError({"milestones": _("同一日期只能有一个时间节点")})
        seen.add(due_on)
        if due_on < starts_on or due_on > deadline:
            raise ValidationError({"milestones": _("时间节点必须在任务起止日期之内")})
        if not Decimal(0) <= Decimal(percent) <= HUNDRED:
            raise ValidationError({"milestones": _("时间节点的进度应在0到100之间")})
        if Decimal(percent) < last:
            raise ValidationError({"milestones": _("后一个时间节点的进度不能低于前一个")})
        last = Decimal(percent)


def _add_targets_and_milestones(
    task: Task, targets: Sequence[TargetSpec], milestones: Sequence[tuple[date, Decimal]]
) -> None:
    for spec in targets:
        target = Target(
            task=task,
            kind=spec.kind,
            name=spec.name.strip(),
            quota_count=spec.quota_count,
            quota_period=spec.quota_period,
            comparator=spec.comparator,
            value=spec.value,
            unit_label=spec.unit_label.strip(),
        )
        target.full_clean()
        target.save()
    Milestone.objects.bulk_create(
        [Milestone(task=task, due_on=due_on, percent=Decimal(percent)) for due_on, percent in milestones]
    )


def fan_out_villages(plan: Plan) -> tuple[list[Region], dict[int, Unit]]:
    """The villages a 各村（社区） task of ``plan`` fans out to, and each one's committee.

    Raises ValidationError when the plan is at village level, has no villages, or a village has
    no 村委会/居委会 (a child without a responsible unit could never be reported on).
    """
    if plan.region.level >= RegionLevel.VILLAGE:
        raise ValidationError({"fan_out": _("只有村（社区）以上的方案才能分解到各村（社区）")})
    villages = villages_under(plan.region)
    if not villages:
        raise ValidationError({"fan_out": _("实施区域内没有村（社区）")})
    committees = committees_by_region(villages)
    missing = [v.name for v in villages if v.pk not in committees]
    if missing:
        raise ValidationError(
            {"fan_out": _("以下村（社区）还没有村（居）委会单位：%(names)s") % {"names": "、".join(missing)}}
        )
    return villages, committees


def villages_under(region: Region) -> list[Region]:
    """Active village-level regions in ``region``'s subtree, in path order."""
    return list(
        Region.objects.filter(subtree_q(region.path), level=RegionLevel.VILLAGE, is_active=True).order_by("path")
    )


def committees_by_region(villages: Sequence[Region]) -> dict[int, Unit]:
    """Each village's active 村委会/居委会 (the oldest if several), by region id."""
    committees: dict[int, Unit] = {}
    for unit in Unit.objects.filter(region__in=villages, kind__in=VILLAGE_COMMITTEE_KINDS, is_active=True).order_by(
        "region_id", "id"
    ):
        committees.setdefault(unit.region_id, unit)
    return committees


@transaction.atomic
def task_create(
    *,
    actor: Any,
    plan: Plan,
    title: str,
    starts_on: date,
    deadline: date,
    number: str = "",
    content: str = "",
    phase: Phase | None = None,
    units: Mapping[str, Sequence[Unit]] | None = None,
    people: Mapping[str, Sequence[Any]] | None = None,
    fan_out: bool = False,
    targets: Sequence[TargetSpec] = (),
    milestones: Sequence[tuple[date, Decimal]] = (),
) -> Task:
    """Adds a task with its responsibility matrix, targets and milestones; fans out to villages.

    With ``fan_out`` (各村（社区）) every active village under the plan's region gets a child task
    with its 村委会/居委会 as responsible unit and copies of the targets and milestones.
    """
    units = units or {}
    people = people or {}
    task = Task(
        plan=plan,
        phase=phase,
        region=plan.region,
        number=number.strip(),
        title=title.strip(),
        content=content.strip(),
        starts_on=starts_on,
        deadline=deadline,
        fans_out=fan_out,
    )
    require(actor, access.CREATE, task)
    if not task.title:
        raise ValidationError({"title": _("任务名称不能为空")})
    if deadline < starts_on:
        raise ValidationError({"deadline": _("完成时限不能早于开始日期")})
    if starts_on < plan.starts_on or deadline > plan.ends_on:
        raise ValidationError({"deadline": _("任务日期必须在方案起止日期之内")})
    if phase is not None and phase.plan_id != plan.pk:
        raise ValidationError({"phase": _("所选阶段不属于该方案")})
    unknown_roles = set(units) - set(UnitRole.values)
    if unknown_roles:
        raise ValidationError({"units": _("未知的单位职责：%(roles)s") % {"roles": "、".join(sorted(unknown_roles))}})
    unknown_people = set(people) - set(PersonRole.values)
    if unknown_people:
        raise ValidationError({"people": _("未知的人员职责：%(roles)s") % {"roles": "、".join(sorted(unknown_people))}})
    require_visible_units(actor, [u for role_units in units.values() for u in role_units])
    if any(not getattr(user, "is_active", False) for users in people.values() for user in users):
        raise ValidationError({"people": _("责任人须为有效账号")})
    for spec in targets:
        check_target_spec(spec)
    check_milestones(milestones, starts_on, deadline)
    villages, committees = fan_out_villages(plan) if fan_out else ([], {})
    task.full_clean()
    task.save()
    TaskUnit.objects.bulk_create(
        [
            TaskUnit(task=task, unit=unit, role=role, order=i)
            for role, role_units in units.items()
            for i, unit in enumerate(dict.fromkeys(role_units))
        ]
    )
    TaskPerson.objects.bulk_create(
        [TaskPerson(task=task, user=user, role=role) for role, users in people.items() for user in dict.fromkeys(users)]
    )
    _add_targets_and_milestones(task, targets, milestones)
    if villages:
        _create_children(task, villages, committees, actor=actor)
    return task


def _create_children(task: Task, villages: Sequence[Region], committees: Mapping[int, Unit], *, actor: Any) -> None:
    """One child task per village, in bulk (with history rows), copying targets and milestones.

    A county plan fans out to hundreds of villages; row-by-row saves would cost several queries
    per village, bulk inserts cost a few per kind of row.
    """
    history_user = actor if getattr(actor, "pk", None) else None
    bulk_create_with_history(
        [
            Task(
                plan=task.plan,
                phase=task.phase,
                parent=task,
                region=village,
                number=task.number,
                title=task.title,
                content=task.content,
                starts_on=task.starts_on,
                deadline=task.deadline,
            )
            for village in villages
        ],
        Task,
        default_user=history_user,
    )
    # Read the children back: not every database returns the new keys from a bulk insert.
    children = list(Task.objects.filter(parent=task).only("pk", "region_id"))
    TaskUnit.objects.bulk_create(
        [TaskUnit(task=child, unit=committees[child.region_id], role=UnitRole.RESPONSIBLE) for child in children]
    )
    targets = list(Target.objects.filter(task=task).order_by("id"))
    if targets:
        copies = []
        for child in children:
            for t in targets:
                copies.append(
                    Target(
                        task=child,
                        kind=t.kind,
                        name=t.name,
                        quota_count=t.quota_count,
                        quota_period=t.quota_period,
                        comparator=t.comparator,
                        value=t.value,
                        unit_label=t.unit_label,
                    )
                )
        bulk_create_with_history(copies, Target, default_user=history_user)
    milestones = list(Milestone.objects.filter(task=task).order_by("due_on"))
    Milestone.objects.bulk_create(
        [Milestone(task=child, due_on=m.due_on, percent=m.percent) for child in children for m in milestones]
    )


TASK_UPDATABLE_FIELDS = frozenset({"number", "title", "content", "phase", "starts_on", "deadline", "units", "people"})
# What a fanned-out parent hands down to its children when it changes.
TASK_COPIED_FIELDS = ("number", "title", "content", "phase", "starts_on", "deadline")
# What a village's child task may change itself; the rest follows its parent.
CHILD_UPDATABLE_FIELDS = frozenset({"starts_on", "deadline", "people"})


def _matrix_of(task: Task) -> dict[str, set[int]]:
    # ``.all()`` uses a prefetch when the caller made one (detail pages); a locked row has none.
    current: dict[str, set[int]] = {}
    for tu in task.task_units.all():
        current.setdefault(tu.role, set()).add(tu.unit_id)
    return current


def _people_of(task: Task) -> dict[str, set[int]]:
    current: dict[str, set[int]] = {}
    for tp in task.task_people.all():
        current.setdefault(tp.role, set()).add(tp.user_id)
    return current


TASK_VERSION = EditVersion(
    fields=("number", "title", "content", "phase", "starts_on", "deadline"),
    related={"units": _matrix_of, "people": _people_of},
    labels={"units": gettext_lazy("责任单位"), "people": gettext_lazy("责任人")},
)


def _ids_by_role(mapping: Mapping[str, Sequence[Any]]) -> dict[str, set[int]]:
    return {str(role): {obj.pk for obj in objs} for role, objs in mapping.items() if objs}


@transaction.atomic
def task_update(*, actor: Any, task: Task, data: Mapping[str, Any], expected_version: str | None = None) -> Task:
    """Changes a task's data and matrix; a fanned-out parent copies its changes to its children.

    Plan managers over the task's region may change ``number``, ``title``, ``content``, ``phase``
    (of the same plan), ``starts_on`` and ``deadline`` (inside the plan's dates, and existing
    milestones must still fit), ``units`` (role → units, replacing the matrix; visible units
    only; at least one lead or responsible unit) and ``people`` (role → users, replacing them).

    A fanned-out parent copies number, title, content, phase and dates to every child; the
    children keep their own village unit and people. A child task (``parent`` set) follows its
    parent: only its dates (inside the parent's dates, e.g. an earlier village deadline) and its
    people may change; any other changed field is refused. Values equal to the current ones are
    accepted for every field, so an edit form may send them all. Progress is recomputed after
    date changes (quota periods and the roll-up depend on them).

    With ``expected_version`` (``TASK_VERSION.of`` the task as the caller saw it) a task whose
    data or matrix changed meanwhile is refused with ``StaleEdit``; progress is not part of it.
    """
    require(actor, access.CHANGE, task)
    unknown = set(data) - TASK_UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("不能修改此字段") for name in sorted(unknown)})
    # Lock order as in task_recompute: children before their parent, so no deadlock with reports.
    child_ids = list(
        Task.objects.select_for_update().filter(parent_id=task.pk).order_by("pk").values_list("pk", flat=True)
    )
    locked = Task.objects.select_for_update(of=("self",)).select_related("plan", "parent").get(pk=task.pk)
    TASK_VERSION.check(locked, expected_version)
    plan = locked.plan
    units = data.get("units")
    people = data.get("people")
    if units is not None:
        unknown_roles = set(units) - set(UnitRole.values)
        if unknown_roles:
            raise ValidationError(
                {"units": _("未知的单位职责：%(roles)s") % {"roles": "、".join(sorted(unknown_roles))}}
            )
    if people is not None:
        unknown_people = set(people) - set(PersonRole.values)
        if unknown_people:
            raise ValidationError(
                {"people": _("未知的人员职责：%(roles)s") % {"roles": "、".join(sorted(unknown_people))}}
            )
    new_units = _ids_by_role(units) if units is not None else None
    new_people = _ids_by_role(people) if people is not None else None
    changed: set[str] = set()
    for name in ("number", "title", "content", "phase", "starts_on", "deadline"):
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, str):
            value = value.strip()
        if value != getattr(locked, name):
            changed.add(name)
            setattr(locked, name, value)
    if new_units is not None and new_units != _matrix_of(locked):
        changed.add("units")
    if new_people is not None and new_people != _people_of(locked):
        changed.add("people")
    if locked.parent_id is not None and changed - CHILD_UPDATABLE_FIELDS:
        raise ValidationError(
            {
                name: _("各村（社区）的子任务只能修改起止日期和责任人，其余内容请在上级任务中修改")
                for name in sorted(changed - CHILD_UPDATABLE_FIELDS)
            }
        )
    if not locked.title:
        raise ValidationError({"title": _("任务名称不能为空")})
    if locked.deadline < locked.starts_on:
        raise ValidationError({"deadline": _("完成时限不能早于开始日期")})
    if locked.starts_on < plan.starts_on or locked.deadline > plan.ends_on:
        raise ValidationError({"deadline": _("任务日期必须在方案起止日期之内")})
    parent = locked.parent
    if parent is not None and (locked.starts_on < parent.starts_on or locked.deadline > parent.deadline):
        raise ValidationError({"deadline": _("子任务日期必须在上级任务起止日期之内")})
    if locked.phase is not None and locked.phase.plan_id != plan.pk:
        raise ValidationError({"phase": _("所选阶段不属于该方案")})
    dates_changed = bool({"starts_on", "deadline"} & changed)
    if dates_changed and (
        Milestone.objects.filter(task_id__in=[locked.pk, *child_ids])
        .exclude(due_on__gte=locked.starts_on, due_on__lte=locked.deadline)
        .exists()
    ):
        raise ValidationError({"deadline": _("已有时间节点超出新的任务起止日期")})
    if "units" in changed:
        assert units is not None and new_units is not None
        require_visible_units(actor, [u for role_units in units.values() for u in role_units])
        if not (new_units.get(UnitRole.LEAD) or new_units.get(UnitRole.RESPONSIBLE)):
            raise ValidationError({"units": _("至少需要一个牵头单位或责任单位")})
    if "people" in changed:
        assert people is not None
        if any(not getattr(user, "is_active", False) for users in people.values() for user in users):
            raise ValidationError({"people": _("责任人须为有效账号")})
    if not changed:
        return locked
    history_user = actor if getattr(actor, "pk", None) else None
    locked.full_clean()
    locked._history_user = history_user
    locked.save()
    if "units" in changed:
        assert units is not None
        TaskUnit.objects.filter(task=locked).delete()
        TaskUnit.objects.bulk_create(
            [
                TaskUnit(task=locked, unit=unit, role=role, order=i)
                for role, role_units in units.items()
                for i, unit in enumerate(dict.fromkeys(role_units))
            ]
        )
    if "people" in changed:
        assert people is not None
        TaskPerson.objects.filter(task=locked).delete()
        TaskPerson.objects.bulk_create(
            [
                TaskPerson(task=locked, user=user, role=role)
                for role, users in people.items()
                for user in dict.fromkeys(users)
            ]
        )
    copied = [name for name in TASK_COPIED_FIELDS if name in changed]
    if child_ids and copied:
        children = list(Task.objects.filter(pk__in=child_ids))
        for child in children:
            for name in copied:
                setattr(child, name, getattr(locked, name))
        bulk_update_with_history(children, Task, copied, default_user=history_user)
    if dates_changed:
        today = timezone.localdate()
        for child_id in child_ids:
            task_recompute(task=Task(pk=child_id), today=today)
        task_recompute(task=locked, today=today)
    task.refresh_from_db()
    return locked


# --- Progress -----------------------------------------------------------------------------------


def period_bounds(period: str, day: date, task: Task) -> tuple[date, date]:
    """The quota period (week, month, quarter, year, or the whole task) that contains ``day``."""
    if period == QuotaPeriod.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period == QuotaPeriod.MONTH:
        start = day.replace(day=1)
        nxt = (start + timedelta(days=32)).replace(day=1)
        return start, nxt - timedelta(days=1)
    if period == QuotaPeriod.QUARTER:
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first_month, 1)
        nxt = (start + timedelta(days=95)).replace(day=1)
        return start, nxt - timedelta(days=1)
    if period == QuotaPeriod.YEAR:
        return date(day.year, 1, 1), date(day.year, 12, 31)
    return task.starts_on, task.deadline


def indicator_attainment(target: Target, value: Decimal | None) -> Decimal:
    """How far a reported value reaches an indicator target, 0–100."""
    if value is None or target.value is None:
        return Decimal(0)
    goal = Decimal(target.value)
    value = Decimal(value)
    if target.comparator == Comparator.GTE:
        if value >= goal:
            return HUNDRED
        return _clamp(value / goal * HUNDRED) if goal > 0 else HUNDRED
    if target.comparator == Comparator.LTE:
        if value <= goal:
            return HUNDRED
        return _clamp(goal / value * HUNDRED) if value > 0 else Decimal(0)
    if value == goal:
        return HUNDRED
    low, high = sorted((abs(value), abs(goal)))
    return _clamp(low / high * HUNDRED) if high > 0 else Decimal(0)


def compute_progress(task: Task, today: date | None = None) -> Decimal:
    """A task's progress from its submitted reports (returned ones never count).

    Each quota target contributes min(100, activities in the current period ÷ quota), each
    indicator target the attainment of its latest value; a task without quota targets also
    counts its latest percent report. Progress is the mean of these parts; milestones only
    affect the light.
    """
    today = today or timezone.localdate()
    ref = min(max(today, task.starts_on), task.deadline)
    submitted = ProgressReport.objects.filter(task=task, status=ReportStatus.SUBMITTED)
    parts: list[Decimal] = []
    targets = list(Target.objects.filter(task=task).order_by("id"))
    quotas = [t for t in targets if t.kind == TargetKind.QUOTA]
    for target in quotas:
        start, end = period_bounds(target.quota_period, ref, task)
        activities = submitted.filter(kind=ReportKind.ACTIVITY, activity_date__range=(start, end))
        # An activity names the quota it counts for; one that names none counts for every quota.
        done = activities.filter(target__isnull=True).count() + activities.filter(target=target).count()
        parts.append(_clamp(Decimal(done) / Decimal(target.quota_count or 1) * HUNDRED))
    for target in targets:
        if target.kind != TargetKind.INDICATOR:
            continue
        latest = (
            submitted.filter(kind=ReportKind.INDICATOR, target=target)
            .order_by("-reported_at", "-id")
            .values_list("value", flat=True)
            .first()
        )
        parts.append(indicator_attainment(target, latest))
    if not quotas:
        percent = (
            submitted.filter(kind=ReportKind.PERCENT).order_by("-reported_at", "-id").values_list("percent", flat=True)
        ).first()
        if percent is not None:
            parts.append(_clamp(Decimal(percent)))
    if not parts:
        return Decimal(0).quantize(CENT)
    return _clamp(sum(parts, Decimal(0)) / len(parts))


def _store_progress(task: Task, progress: Decimal, today: date) -> None:
    task.progress = progress
    if progress >= HUNDRED:
        task.completed_on = task.completed_on or today
    else:
        task.completed_on = None
    task.save(update_fields=["progress", "completed_on"])


def task_recompute(*, task: Task, today: date | None = None) -> Task:
    """Recomputes a task's progress (and its parent's roll-up) under row locks; no access check.

    Called by the report services inside their transaction. The task row is locked first, so two
    parallel reports on one task are counted one after the other and neither update is lost;
    the parent is locked after its child, always in that order, so no two calls deadlock.
    """
    today = today or timezone.localdate()
    locked = Task.objects.select_for_update().get(pk=task.pk)
    progress = _rollup(locked) if locked.children.exists() else compute_progress(locked, today)
    _store_progress(locked, progress, today)
    task.progress, task.completed_on = locked.progress, locked.completed_on
    if locked.parent_id is not None:
        parent = Task.objects.select_for_update().get(pk=locked.parent_id)
        _store_progress(parent, _rollup(parent), today)
    return locked


def _rollup(parent: Task) -> Decimal:
    """A fanned-out task's progress: the mean of its children's."""
    mean = Task.objects.filter(parent=parent).aggregate(mean=Avg("progress"))["mean"]
    return _clamp(Decimal(mean)) if mean is not None else Decimal(0).quantize(CENT)


def can_report(actor: Any, task: Task, unit: Unit | None = None) -> bool:
    """Whether the actor may report progress on ``task`` (for ``unit`` when given).

    Members of the task's lead or responsible units may report for their own unit; a reporter
    role over the task's region may report for any of the task's units.
    """
    scope = access.scope_of(actor)
    if not scope.is_authenticated:
        return False
    task_units = {tu.unit_id: tu.role for tu in TaskUnit.objects.filter(task=task)}
    if unit is not None and unit.pk not in task_units:
        return False
    if scope.is_superuser or scope.has_role_over(REPORTERS, task.region.path):
        return True
    mine = _active_unit_ids(actor)
    reporting = {uid for uid, role in task_units.items() if role in (UnitRole.LEAD, UnitRole.RESPONSIBLE)}
    if unit is not None:
        return unit.pk in mine and unit.pk in reporting
    return bool(mine & reporting)


@transaction.atomic
def report_submit(
    *,
    actor: Any,
    task: Task,
    unit: Unit,
    kind: str,
    percent: Decimal | None = None,
    target: Target | None = None,
    value: Decimal | None = None,
    activity_date: date | None = None,
    participants: int | None = None,
    description: str = "",
) -> ProgressReport:
    """Records a unit's progress report and recomputes the task's progress and roll-up."""
    if not can_report(actor, task, unit):
        raise PermissionDenied(_("无权为该任务报送进度"))
    if task.fans_out or task.children.exists():
        raise ValidationError(_("该任务已分解到各村（社区），请在各村（社区）的子任务中报送"))
    if task.plan.status == PlanStatus.CLOSED:
        raise ValidationError(_("该方案已结束，不能再报送进度"))
    today = timezone.localdate()
    report = ProgressReport(
        task=task,
        region=task.region,
        unit=unit,
        kind=kind,
        description=description.strip(),
        reported_by=actor,
    )
    if kind == ReportKind.PERCENT:
        if percent is None or not Decimal(0) <= Decimal(percent) <= HUNDRED:
            raise ValidationError({"percent": _("完成进度应在0到100之间")})
        if Target.objects.filter(task=task, kind=TargetKind.QUOTA).exists():
            raise ValidationError({"kind": _("该任务按活动记录计算进度，请报送活动记录")})
        report.percent = Decimal(percent)
    elif kind == ReportKind.INDICATOR:
        if target is None or target.task_id != task.pk or target.kind != TargetKind.INDICATOR:
            raise ValidationError({"target": _("请选择该任务的指标")})
        if value is None:
            raise ValidationError({"value": _("请填写指标值")})
        report.target, report.value = target, Decimal(value)
    elif kind == ReportKind.ACTIVITY:
        if activity_date is None:
            raise ValidationError({"activity_date": _("请填写活动日期")})
        if activity_date > today:
            raise ValidationError({"activity_date": _("活动日期不能晚于今天")})
        if activity_date < task.starts_on:
            raise ValidationError({"activity_date": _("活动日期不能早于任务开始日期")})
        if target is not None and (target.task_id != task.pk or target.kind != TargetKind.QUOTA):
            raise ValidationError({"target": _("请选择该任务的数量要求")})
        if participants is not None and participants < 0:
            raise ValidationError({"participants": _("参与人数不能为负数")})
        report.activity_date, report.target, report.participants = activity_date, target, participants
    else:
        raise ValidationError({"kind": _("未知的报送类型")})
    # Lock the task before adding the report: parallel reports on one task then count in turn.
    Task.objects.select_for_update().filter(pk=task.pk).first()
    report.full_clean()
    report.save()
    task_recompute(task=task, today=today)
    return report


def can_return(actor: Any, report: ProgressReport) -> bool:
    """Whether the actor may return a report: lead-unit members (task or parent), or plan managers."""
    scope = access.scope_of(actor)
    if not scope.is_authenticated:
        return False
    task = report.task
    if scope.is_superuser or scope.has_role_over(PLAN_MANAGERS, task.plan.region.path):
        return True
    task_ids = [task.pk] + ([task.parent_id] if task.parent_id else [])
    leads = set(TaskUnit.objects.filter(task_id__in=task_ids, role=UnitRole.LEAD).values_list("unit_id", flat=True))
    return bool(leads & _active_unit_ids(actor))


@transaction.atomic
def report_return(*, actor: Any, report: ProgressReport, reason: str) -> ProgressReport:
    """Returns a report with a reason: it stops counting and the reporter is told why."""
    if not can_return(actor, report):
        raise PermissionDenied(_("无权退回该报送"))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("请填写退回原因")})
    # Lock the report so two reviewers cannot both return it (and notify twice).
    locked = ProgressReport.objects.select_for_update().get(pk=report.pk)
    if locked.status != ReportStatus.SUBMITTED:
        raise ValidationError(_("该报送已被退回"))
    locked.status = ReportStatus.RETURNED
    locked.return_reason = reason[:300]
    locked.returned_by = actor
    locked.full_clean()
    locked.save(update_fields=["status", "return_reason", "returned_by"])
    task_recompute(task=locked.task)
    if locked.reported_by_id:
        notify(
            users=[locked.reported_by],
            title=_("进度报送被退回：%(task)s") % {"task": locked.task.title},
            body=_("退回原因：%(reason)s") % {"reason": reason},
            url=task_url(locked.task),
        )
    report.status, report.return_reason, report.returned_by = locked.status, locked.return_reason, actor
    return locked


# Older private names, still used by callers written before these became public.
_require_visible_units = require_visible_units
_check_target_spec = check_target_spec
_check_milestones = check_milestones
_villages_under = villages_under
_committees_by_region = committees_by_region
