"""Background jobs of the core: sending the outbox, and the sweep that makes sure nothing is lost.

The outbox row is the source of truth, the queue only a hint: a message whose enqueue failed
(Redis down), whose task was lost (queue flushed, worker killed) or whose send failed is found
again by ``sweep_outbox`` every minute and sent then. Claims make sure two workers never send
the same row at the same time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from cocreate.core import senders
from cocreate.core.models import MessageStatus, OutboxMessage

logger = logging.getLogger("cocreate.jobs")

BACKOFF_CAP = timedelta(hours=6)
# A claimed row is invisible to other workers at least this long; if its worker dies mid-send,
# the row becomes due again afterwards. Longer than any sender timeout.
CLAIM_LEASE = timedelta(minutes=5)
SWEEP_BATCH = 200
# Stop well before the next minute's sweep starts, so sweeps rarely overlap.
SWEEP_TIME_BUDGET_SECONDS = 50.0


def backoff(failed_attempts: int) -> timedelta:
    """Delay after ``failed_attempts`` failures: 1, 2, 4, 8 … minutes, capped at 6 hours."""
    if failed_attempts < 1:
        return timedelta(0)
    return min(timedelta(minutes=2 ** min(failed_attempts - 1, 30)), BACKOFF_CAP)


def claim_message(message_id: int) -> OutboxMessage | None:
    """Takes one due, pending row for this worker (attempts + 1) or returns None if not ours."""
    now = timezone.now()
    with transaction.atomic():
        qs = OutboxMessage.objects.filter(pk=message_id, status=MessageStatus.PENDING, next_attempt_at__lte=now)
        if connection.features.has_select_for_update_skip_locked:
            # PostgreSQL: a row another worker is claiming right now is skipped, not waited for.
            qs = qs.select_for_update(skip_locked=True)
        message = qs.first()
        if message is None:
            return None
        attempts = message.attempts + 1
        lease_until = now + max(backoff(attempts), CLAIM_LEASE)
        # The conditional UPDATE is the claim on SQLite (no row locks) and a second guard elsewhere.
        claimed = OutboxMessage.objects.filter(
            pk=message.pk, status=MessageStatus.PENDING, attempts=message.attempts
        ).update(attempts=attempts, next_attempt_at=lease_until)
        if claimed != 1:
            return None
    message.attempts = attempts
    message.next_attempt_at = lease_until
    return message


def deliver_outbox_message(message_id: int) -> bool:
    """Claims, sends and records one outbox message; True when it was sent by this call."""
    message = claim_message(message_id)
    if message is None:
        return False
    try:
        senders.deliver(message)
    except Exception as exc:
        now = timezone.now()
        is_final = message.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=MessageStatus.FAILED if is_final else MessageStatus.PENDING,
            next_attempt_at=now + backoff(message.attempts),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.warning(
            "outbox message %s (%s) failed, attempt %s%s: %s",
            message.pk,
            message.channel,
            message.attempts,
            " (giving up)" if is_final else "",
            exc,
        )
        return False
    OutboxMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, sent_at=timezone.now(), last_error="")
    return True


def sweep_due(*, limit: int = SWEEP_BATCH, time_budget: float = SWEEP_TIME_BUDGET_SECONDS) -> int:
    """Sends pending messages that are due; returns how many were sent by this sweep."""
    deadline = time.monotonic() + time_budget
    due_ids = list(
        OutboxMessage.objects.filter(status=MessageStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for message_id in due_ids:
        if time.monotonic() > deadline:
            break
        sent += deliver_outbox_message(message_id)
    return sent


@db_task(retries=0)
def send_outbox_message(message_id: int) -> bool:
    """Queue task: send one outbox message (retries are the outbox's, not Huey's)."""
    return deliver_outbox_message(message_id)


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Every minute: send whatever is pending and due, whatever happened to its queue task."""
    return sweep_due()


@db_periodic_task(crontab(hour="19", minute="17"))
def purge_orphan_evidence() -> int:
    """Nightly (03:17 Beijing time): delete evidence files whose upload never got its row."""
    from cocreate.core import evidence

    return len(evidence.purge_orphan_files())


@db_periodic_task(crontab(hour="19", minute="37"))
def purge_idempotency_keys() -> int:
    """Nightly (03:37 Beijing time): delete write API idempotency keys older than 24 hours."""
    from cocreate.core import idempotency

    return idempotency.purge_expired()


def enqueue_messages(message_ids: Iterable[int]) -> None:
    """Puts send tasks on the queue; a broken queue is logged, never raised (the sweep catches up)."""
    for message_id in message_ids:
        try:
            send_outbox_message(message_id)
        except Exception:
            # One failure means the queue is down: stop here instead of waiting on it once per row.
            logger.exception("could not enqueue outbox message %s; the sweep will send it", message_id)
            return


@db_periodic_task(crontab(hour="19", minute="47"))
def purge_audit() -> int:
    """Nightly (03:47 Beijing time): delete audit events older than AUDIT_RETENTION_DAYS (≥ 180)."""
    from cocreate.core import audit

    return audit.purge_expired()
