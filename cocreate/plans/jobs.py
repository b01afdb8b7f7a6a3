"""Background jobs of the plans app: deadline reminders and escalation to the responsible leader.

``send_task_reminders`` is the whole rule; the daily periodic task only calls it. Every message
carries a dedupe key naming the task, the kind and the deadline, so a sweep that runs twice (or
two workers running it at once) sends each reminder once, and a new deadline gets new reminders.
Messages go in-app and to the outbox (SMS / e-mail), which delivers them after commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from cocreate.core.models import Channel, Membership
from cocreate.core.notify import INAPP, notify
from cocreate.plans.models import (
    PersonRole,
    PlanStatus,
    QuotaPeriod,
    TargetKind,
    Task,
    TaskPerson,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.services import task_recompute, task_url
from cocreate.plans.status import DaysBetween

logger = logging.getLogger("cocreate.jobs")

REMIND_BEFORE = "remind-before"
REMIND_MISSED = "remind-missed"
ESCALATE = "escalate"
CHANNELS = (INAPP, Channel.SMS.value, Channel.EMAIL.value)
# A sweep that did not run for up to this many days still catches up on missed deadlines.
MISSED_GRACE_DAYS = 30


def dedupe_key(task: Task, kind: str) -> str:
    """One key per task, kind and deadline: the same reminder is never sent twice."""
    return f"plans:task:{task.pk}:{kind}:{task.deadline:%Y%m%d}"


def _due_tasks(today: date) -> list[Task]:
    """Unfinished tasks of active plans that are due for a reminder or an escalation today."""
    soon = Q(deadline__gte=today) & Q(days_left__lte=F("plan__remind_days_before"))
    # Long-overdue tasks have had their reminders; looking further back would only re-check
    # dedupe keys every day (and flood people with old news when a plan is first imported).
    recently_missed = Q(deadline__lt=today) & Q(days_overdue__lte=F("plan__escalate_after_days") + MISSED_GRACE_DAYS)
    return list(
        Task.objects.alias(days_left=DaysBetween(today, F("deadline")), days_overdue=DaysBetween(F("deadline"), today))
        .filter(soon | recently_missed, plan__status=PlanStatus.ACTIVE, fans_out=False, progress__lt=100)
        .select_related("plan", "region", "parent")
        .prefetch_related(
            Prefetch("task_people", queryset=TaskPerson.objects.select_related("user").filter(user__is_active=True)),
            Prefetch(
                "parent__task_people",
                queryset=TaskPerson.objects.select_related("user").filter(user__is_active=True, role=PersonRole.LEADER),
            ),
            Prefetch("task_units", queryset=TaskUnit.objects.filter(role=UnitRole.RESPONSIBLE)),
        )
        .order_by("deadline", "id")
    )


def _unit_members(tasks: list[Task]) -> dict[int, list[Any]]:
    """Active accounts of every responsible unit of ``tasks``, by unit id (one query)."""
    unit_ids = {tu.unit_id for task in tasks for tu in task.task_units.all()}
    members: dict[int, list[Any]] = defaultdict(list)
    memberships = Membership.objects.filter(unit_id__in=unit_ids, is_active=True, user__is_active=True).select_related(
        "user"
    )
    for membership in memberships.order_by("id"):
        assert membership.unit_id is not None
        members[membership.unit_id].append(membership.user)
    return members


def responsible_people(task: Task, members: dict[int, list[Any]]) -> list[Any]:
    """Who is reminded: the task's 责任人, else the members of its responsible units."""
    people = [tp.user for tp in task.task_people.all() if tp.role == PersonRole.RESPONSIBLE]
    if people:
        return people
    return [user for tu in task.task_units.all() for user in members.get(tu.unit_id, [])]


def responsible_leaders(task: Task) -> list[Any]:
    """Who an overdue task is escalated to: its 责任领导, else those of the task it fans out from."""
    leaders = [tp.user for tp in task.task_people.all() if tp.role == PersonRole.LEADER]
    if not leaders and task.parent is not None:
        leaders = [tp.user for tp in task.parent.task_people.all()]
    return leaders


def _message(task: Task, kind: str, today: date) -> tuple[str, str]:
    where = task.region.name
    progress = f"{task.progress.normalize():f}"
    if kind == REMIND_BEFORE:
        days = (task.deadline - today).days
        title = (
            _("任务今天到期：%(title)s") % {"title": task.title}
            if days == 0
            else _("任务还有%(days)d天到期：%(title)s") % {"days": days, "title": task.title}
        )
    elif kind == REMIND_MISSED:
        title = _("任务已逾期：%(title)s") % {"title": task.title}
    else:
        title = _("任务逾期%(days)d天，请督促：%(title)s") % {"days": (today - task.deadline).days, "title": task.title}
    body = _("%(where)s · %(plan)s · 完成时限%(deadline)s · 当前进度%(progress)s%%") % {
        "where": where,
        "plan": task.plan.title,
        "deadline": f"{task.deadline:%Y-%m-%d}",
        "progress": progress,
    }
    return title, body


def send_task_reminders(*, today: date | None = None) -> int:
    """Reminds and escalates for every due task; returns how many in-app notifications were new.

    The responsible people hear ``plan.remind_days_before`` days before the deadline (or at the
    first sweep inside that window) and again once it is missed; the responsible leaders hear
    once the task is ``plan.escalate_after_days`` days overdue.
    """
    today = today or timezone.localdate()
    tasks = _due_tasks(today)
    members = _unit_members(tasks)
    created = 0
    for task in tasks:
        kinds: list[str] = []
        if task.deadline >= today:
            kinds.append(REMIND_BEFORE)
        else:
            kinds.append(REMIND_MISSED)
            if (today - task.deadline).days >= task.plan.escalate_after_days:
                kinds.append(ESCALATE)
        for kind in kinds:
            users = responsible_leaders(task) if kind == ESCALATE else responsible_people(task, members)
            if not users:
                logger.info("plans: nobody to notify for task %s (%s)", task.pk, kind)
                continue
            title, body = _message(task, kind, today)
            # One transaction per message: the outbox rows are handed to the queue on commit.
            with transaction.atomic():
                created += len(
                    notify(
                        users=users,
                        title=title,
                        body=body,
                        url=task_url(task),
                        channels=CHANNELS,
                        dedupe_key=dedupe_key(task, kind),
                    )
                )
    return created


@db_periodic_task(crontab(hour="0", minute="5"))
def task_reminders() -> int:
    """Daily at 08:05 Beijing time (00:05 UTC): deadline reminders and escalations."""
    return send_task_reminders()


# Quotas counted per week, month, quarter or year start again at each period's first day.
ROLLING_PERIODS = (QuotaPeriod.WEEK, QuotaPeriod.MONTH, QuotaPeriod.QUARTER, QuotaPeriod.YEAR)


def recompute_rolling_quotas(*, today: date | None = None) -> int:
    """Recomputes tasks whose quotas count the current period; returns how many changed.

    A quota's progress counts the activities of the period that contains today, so when a new
    week or month begins the stored progress must follow even though nobody reported.
    """
    today = today or timezone.localdate()
    ids = list(
        Task.objects.filter(
            plan__status=PlanStatus.ACTIVE,
            fans_out=False,
            starts_on__lte=today,
            deadline__gte=today,
            targets__kind=TargetKind.QUOTA,
            targets__quota_period__in=ROLLING_PERIODS,
        )
        .values_list("pk", "progress")
        .distinct()
        .order_by("pk")
    )
    changed = 0
    for pk, progress in ids:
        # One short transaction per task: the row locks are held only while it is recomputed.
        with transaction.atomic():
            task = task_recompute(task=Task(pk=pk), today=today)
        changed += task.progress != progress
    return changed


@db_periodic_task(crontab(hour="16", minute="1"))
def rolling_quotas() -> int:
    """Daily just after midnight Beijing time (16:01 UTC): quotas start counting the new period."""
    return recompute_rolling_quotas()


# Supervision's periodic task lives in its own module; importing it here registers it with Huey.
from cocreate.plans import jobs_supervision  # noqa: E402, F401
