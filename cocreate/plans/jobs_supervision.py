"""Background job of supervision: remind a unit of its rectification deadline (整改时限).

``send_rectification_reminders`` is the whole rule; the daily periodic task only calls it. Each
message's dedupe key names the rectification, the kind and the deadline, so a sweep that runs
twice sends each reminder once, and a new deadline (after a reopen) gets new reminders.
Imported from ``cocreate.plans.jobs`` (apps discover only ``jobs`` modules).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from cocreate.core.models import Channel, Membership
from cocreate.core.notify import INAPP, notify
from cocreate.plans.models import Rectification, RectificationStatus
from cocreate.plans.supervision import rectification_url

logger = logging.getLogger("cocreate.jobs")

DUE_TOMORROW = "due-tomorrow"
DUE_TODAY = "due-today"
CHANNELS = (INAPP, Channel.SMS.value, Channel.EMAIL.value)


def dedupe_key(rectification: Rectification, kind: str) -> str:
    """One key per rectification, kind and deadline: the same reminder is never sent twice."""
    return f"plans:rectification:{rectification.pk}:{kind}:{rectification.deadline:%Y%m%d}"


def send_rectification_reminders(*, today: date | None = None) -> int:
    """Reminds each open rectification's unit the day before and on its deadline; returns new in-app rows."""
    today = today or timezone.localdate()
    tomorrow = today + timedelta(days=1)
    due = list(
        Rectification.objects.filter(status=RectificationStatus.OPEN, deadline__in=(today, tomorrow))
        .select_related("unit")
        .order_by("deadline", "id")
    )
    members: dict[int, list[Any]] = defaultdict(list)
    for membership in (
        Membership.objects.filter(unit_id__in={r.unit_id for r in due}, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("id")
    ):
        assert membership.unit_id is not None
        members[membership.unit_id].append(membership.user)
    created = 0
    for rectification in due:
        users = members.get(rectification.unit_id, [])
        if not users:
            logger.info("plans: nobody to remind of rectification %s", rectification.pk)
            continue
        kind = DUE_TODAY if rectification.deadline == today else DUE_TOMORROW
        title = (_("整改今天到期：%(unit)s") if kind == DUE_TODAY else _("整改明天到期：%(unit)s")) % {
            "unit": rectification.unit.name
        }
        body = _("%(number)s · 整改时限%(deadline)s · %(requirement)s") % {
            "number": rectification.letter_number,
            "deadline": f"{rectification.deadline:%Y-%m-%d}",
            "requirement": rectification.requirement[:100],
        }
        # One transaction per message: the outbox rows are handed to the queue on commit.
        with transaction.atomic():
            created += len(
                notify(
                    users=users,
                    title=title,
                    body=body,
                    url=rectification_url(rectification),
                    channels=CHANNELS,
                    dedupe_key=dedupe_key(rectification, kind),
                )
            )
    return created


@db_periodic_task(crontab(hour="0", minute="10"))
def rectification_reminders() -> int:
    """Daily at 08:10 Beijing time (00:10 UTC): rectification deadline reminders."""
    return send_rectification_reminders()
