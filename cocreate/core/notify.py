"""Notifications: in-app rows always, e-mail and SMS as outbox rows sent after commit.

``notify`` writes everything in the caller's transaction, so a rolled-back change sends nothing,
and hands the outbox rows to the queue only once the transaction has committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.models import Channel, Notification, OutboxMessage

INAPP = "inapp"
CHANNELS = frozenset({INAPP, Channel.EMAIL.value, Channel.SMS.value})
SMS_MAX_CHARS = 300
_KEY_MAX = 200


def _row_key(dedupe_key: str | None, channel: str, user_id: int) -> str | None:
    """One key per row: the caller's key names the event, the row adds channel and user."""
    if not dedupe_key:
        return None
    key = f"{dedupe_key}|{channel}|{user_id}"
    if len(key) > _KEY_MAX:
        # Keep keys unique but short enough for the column.
        key = f"{key[:130]}#{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def _insert_once(obj: Model) -> bool:
    """Saves ``obj`` in a savepoint; False when its dedupe key already exists."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        # Only the savepoint is rolled back, so the caller's transaction goes on.
        return False
    return True


def _absolute(url: str) -> str:
    if url.startswith("/") and settings.SITE_URL:
        return settings.SITE_URL + url
    return url


def _sms_text(title: str, body: str, url: str) -> str:
    text = f"{settings.SMS_SIGNATURE}{title}"
    if body:
        text += f"：{body}"
    link = _absolute(url)
    if link:
        text += f" {link}"
    return text[:SMS_MAX_CHARS]


def _email_body(body: str, url: str) -> str:
    link = _absolute(url)
    return f"{body}\n\n{link}".strip() if link else body


def _save_rows(rows: Sequence[Any], deduplicated: bool) -> list[Any]:
    """Saves rows; with dedupe keys each in its own savepoint, else all in one bulk insert."""
    if not rows:
        return []
    model = type(rows[0])
    if not deduplicated:
        return list(model._default_manager.bulk_create(rows))
    existing = set(
        model._default_manager.filter(dedupe_key__in=[r.dedupe_key for r in rows]).values_list("dedupe_key", flat=True)
    )
    # A concurrent caller may still win the race between the check and the insert: the savepoint
    # in _insert_once turns that into "already there".
    return [r for r in rows if r.dedupe_key not in existing and _insert_once(r)]


def notify(
    *,
    users: Iterable[Any],
    title: str,
    body: str = "",
    url: str = "",
    channels: Sequence[str] = (INAPP,),
    dedupe_key: str | None = None,
) -> list[Notification]:
    """Notifies users in-app and queues their e-mail/SMS; with ``dedupe_key`` each row only once."""
    unknown = set(channels) - CHANNELS
    if unknown:
        raise ValueError(f"unknown channels: {sorted(unknown)}")
    notifications: list[Notification] = []
    messages: list[OutboxMessage] = []
    seen: set[int] = set()
    for user in users:
        if user is None or user.pk is None or user.pk in seen:
            continue
        seen.add(user.pk)
        if INAPP in channels:
            notifications.append(
                Notification(
                    user=user,
                    title=title[:200],
                    body=body,
                    url=url[:300],
                    dedupe_key=_row_key(dedupe_key, INAPP, user.pk),
                )
            )
        for channel, recipient in ((Channel.EMAIL, user.email), (Channel.SMS, getattr(user, "phone", ""))):
            if channel.value not in channels or not recipient:
                continue
            is_email = channel == Channel.EMAIL
            messages.append(
                OutboxMessage(
                    channel=channel,
                    recipient=recipient,
                    user=user,
                    subject=title[:200] if is_email else "",
                    body=_email_body(body, url) if is_email else _sms_text(title, body, url),
                    dedupe_key=_row_key(dedupe_key, channel.value, user.pk),
                )
            )
    deduplicated = bool(dedupe_key)
    created = _save_rows(notifications, deduplicated)
    outbox_ids = [m.pk for m in _save_rows(messages, deduplicated)]
    if outbox_ids:
        from cocreate.core import jobs

        transaction.on_commit(partial(jobs.enqueue_messages, outbox_ids))
    return created


@transaction.atomic
def notification_mark_read(*, actor: Any, notification: Notification) -> Notification:
    """Marks one of the actor's own notifications as read (idempotent)."""
    if not access.can(actor, access.CHANGE, notification):
        raise PermissionDenied(_("无权执行此操作"))
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notification_mark_all_read(*, actor: Any) -> int:
    """Marks all of the actor's unread notifications as read; returns how many changed."""
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("请先登录"))
    return Notification.objects.filter(user_id=actor.pk, read_at__isnull=True).update(read_at=timezone.now())
