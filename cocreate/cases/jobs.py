"""Background jobs of the grievance app: reminders before a deadline and the 督办 ladder after it.

``sweep_cases`` is the whole rule; the periodic task and ``manage.py case_sweep`` only call it.
A case with a running clock (dispatched, signed, in progress) has one current deadline: the
earlier of its step deadline and its whole-case deadline. Around that deadline the sweep walks
a ladder, each step once per deadline:

* 到期提醒 (``before``): ``CASES_REMIND_BEFORE_WORKDAYS`` working days before it — the lead unit;
* 催办 (``urge``): once it has passed — the lead unit;
* 督办通知 (``supervise``): ``CASES_SUPERVISE_AFTER_WORKDAYS`` working days after it — the lead
  unit's leaders and the office of the level above;
* 通报 (``bulletin``): ``CASES_BULLETIN_AFTER_WORKDAYS`` working days after it — the inspectors
  over the case's region.

Each step is one transaction holding its ``CaseReminder`` row (unique per case, kind and
deadline) and its notifications and outbox rows. A sweep killed halfway has either done a step
completely or not at all, so the next sweep does exactly what is missing; two sweeps at once
collide on the unique row and only one sends. A new deadline (the next step, an approved
extension, a re-dispatch) is a new ladder. "Overdue" is not stored: :func:`overdue_q` computes it
from the deadlines, so it is never stale between two sweeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from cocreate.cases import rules, services
from cocreate.cases.models import Case, CaseReminder, CaseStatus, ReminderKind
from cocreate.core import workdays
from cocreate.core.models import Channel, Role, User
from cocreate.core.notify import INAPP, notify

logger = logging.getLogger("cocreate.jobs")

# States in which the lead unit owes the next step against a running clock. Returned cases wait
# for the level above, replied ones for the applicant, dissatisfied ones for the office: none of
# them is the lead unit's delay, so none is reminded.
CLOCK_STATES = (CaseStatus.DISPATCHED, CaseStatus.SIGNED, CaseStatus.IN_PROGRESS)
CHANNELS = (INAPP, Channel.SMS.value, Channel.EMAIL.value)
LADDER = (ReminderKind.URGE, ReminderKind.SUPERVISE, ReminderKind.BULLETIN)


def remind_before_workdays() -> int:
    return int(getattr(settings, "CASES_REMIND_BEFORE_WORKDAYS", 1))


def supervise_after_workdays() -> int:
    return int(getattr(settings, "CASES_SUPERVISE_AFTER_WORKDAYS", 2))


def bulletin_after_workdays() -> int:
    return int(getattr(settings, "CASES_BULLETIN_AFTER_WORKDAYS", 5))


def current_deadline(case: Case) -> datetime | None:
    """The deadline the lead unit is working against now: the earlier of the step's and the case's."""
    due = [d for d in (case.step_due_at, case.due_at) if d is not None]
    return min(due) if due else None


def overdue_q(now: datetime | None = None) -> Q:
    """Q over Case: a running clock whose current deadline has passed (the overdue flag, computed)."""
    now = now or timezone.now()
    return Q(status__in=CLOCK_STATES) & (Q(step_due_at__lt=now) | Q(due_at__lt=now))


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    """The same rule as :func:`overdue_q` for one loaded case."""
    deadline = current_deadline(case)
    return case.status in CLOCK_STATES and deadline is not None and deadline < (now or timezone.now())


def dedupe_key(case: Case, kind: str, deadline: datetime) -> str:
    """One key per case, step and deadline (UTC, to the second)."""
    return f"case:{case.pk}:ladder:{kind}:{deadline.astimezone(UTC):%Y%m%dT%H%M%S}"


def due_steps(deadline: datetime, now: datetime) -> list[str]:
    """The ladder steps due for ``deadline`` at ``now`` (all of them, if a sweep was missed)."""
    if deadline >= now:
        horizon = workdays.add_working_days(now, remind_before_workdays())
        return [ReminderKind.BEFORE.value] if deadline <= horizon else []
    late = workdays.working_days_between(deadline, now)
    steps: list[str] = [ReminderKind.URGE]
    if late >= supervise_after_workdays():
        steps.append(ReminderKind.SUPERVISE)
    if late >= bulletin_after_workdays():
        steps.append(ReminderKind.BULLETIN)
    return steps


def recipients(case: Case, kind: str) -> list[User]:
    """Who hears one step of the ladder (active accounts)."""
    assert case.lead_unit_id is not None
    if kind in (ReminderKind.BEFORE, ReminderKind.URGE):
        return list(services.unit_users([case.lead_unit_id]).order_by("pk"))
    if kind == ReminderKind.SUPERVISE:
        leaders = User.objects.filter(
            is_active=True,
            memberships__is_active=True,
            memberships__unit_id=case.lead_unit_id,
            memberships__role=Role.LEADER,
        )
        above = services.office_users(case, rules.level_above(case.level))
        return sorted({*leaders, *above}, key=lambda user: user.pk)
    codes = [c for c in case.region.path.strip("/").split("/") if c]
    return list(
        User.objects.filter(
            is_active=True,
            memberships__is_active=True,
            memberships__role=Role.INSPECTOR,
            memberships__region__code__in=codes,
        )
        .distinct()
        .order_by("pk")
    )


def case_url(case: Case) -> str:
    """The case page's address (the ladder's recipients are all staff who may open it)."""
    try:
        return reverse("cases:case_detail", kwargs={"pk": case.pk})
    except NoReverseMatch:
        return ""


def _message(case: Case, kind: str, deadline: datetime, now: datetime) -> tuple[str, str]:
    label = {"case": services._case_label(case)}
    due = timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")
    if kind == ReminderKind.BEFORE:
        title = _("案件即将到期：%(case)s") % label
    elif kind == ReminderKind.URGE:
        title = _("【催办】案件已超过办理时限：%(case)s") % label
    elif kind == ReminderKind.SUPERVISE:
        title = _("【督办通知】案件超期%(days)d个工作日：%(case)s") % {
            **label,
            "days": workdays.working_days_between(deadline, now),
        }
    else:
        title = _("【通报】案件超期%(days)d个工作日未办结：%(case)s") % {
            **label,
            "days": workdays.working_days_between(deadline, now),
        }
    unit = case.lead_unit.name if case.lead_unit else ""
    body = _("主办单位：%(unit)s · 当前状态：%(status)s · 时限：%(due)s") % {
        "unit": unit,
        "status": case.get_status_display(),
        "due": due,
    }
    return title, body


@dataclass
class SweepResult:
    """What one sweep did: ladder steps recorded (by kind) and in-app notifications created."""

    steps: dict[str, int]
    notifications: int

    @property
    def total(self) -> int:
        return sum(self.steps.values())


def _candidates(now: datetime) -> list[Case]:
    """Cases with a running clock whose current deadline is inside the reminder window or past."""
    horizon = workdays.add_working_days(now, remind_before_workdays())
    return list(
        Case.objects.filter(status__in=CLOCK_STATES, lead_unit__isnull=False)
        .filter(Q(step_due_at__lte=horizon) | Q(due_at__lte=horizon))
        .select_related("region", "lead_unit")
        .order_by("due_at", "id")
    )


def _send_step(case: Case, kind: str, deadline: datetime, now: datetime) -> int | None:
    """Records and sends one step in one transaction; None when another sweep already did it."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                reminder = CaseReminder.objects.create(case=case, kind=kind, deadline=deadline, sent_at=now)
        except IntegrityError:
            return None
        users = recipients(case, kind)
        if not users:
            logger.warning("cases: nobody to notify for case %s (%s)", case.pk, kind)
        title, body = _message(case, kind, deadline, now)
        created = notify(
            users=users,
            title=title,
            body=body,
            url=case_url(case),
            channels=CHANNELS,
            dedupe_key=dedupe_key(case, kind, deadline),
        )
        reminder.recipients = len(users)
        reminder.save(update_fields=["recipients"])
    return len(created)


def sweep_cases(*, now: datetime | None = None) -> SweepResult:
    """Sends every ladder step that is due and not yet sent; safe to run twice or concurrently."""
    now = now or timezone.now()
    cases = _candidates(now)
    done = set(CaseReminder.objects.filter(case__in=[c.pk for c in cases]).values_list("case_id", "kind", "deadline"))
    result = SweepResult(steps={k: 0 for k in ReminderKind.values}, notifications=0)
    for case in cases:
        deadline = current_deadline(case)
        if deadline is None:
            continue
        for kind in due_steps(deadline, now):
            if (case.pk, kind, deadline) in done:
                continue
            created = _send_step(case, kind, deadline, now)
            if created is not None:
                result.steps[kind] += 1
                result.notifications += created
    return result


@db_periodic_task(crontab(minute="*/15"))
def case_reminders() -> int:
    """Every 15 minutes: limits in working hours (紧急 cases) need more than a daily sweep."""
    return sweep_cases().total
