"""Personal data: masking for lists, pages and exports, and a log of every unmasked showing.

Phone and ID numbers are shown in full only to users who may change the record; every such
showing is written to ``PersonalDataAccess`` so an auditor can see who looked at whom.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from cocreate.core import access, audit
from cocreate.core.models import AuditAction, PersonalDataAccess


def _mask_middle(value: Any, keep_start: int, keep_end: int) -> str:
    text = str(value or "")
    if not text:
        return ""
    if len(text) <= keep_start + keep_end:
        return "*" * len(text)
    return text[:keep_start] + "*" * (len(text) - keep_start - keep_end) + text[len(text) - keep_end :]


def mask_phone(value: Any) -> str:
    """13900000001 → 139****0001."""
    return _mask_middle(value, 3, 4)


def mask_id_number(value: Any) -> str:
    """110101199003071234 → 1101**********1234 (the birth date is hidden)."""
    return _mask_middle(value, 4, 4)


def mask_name(value: Any) -> str:
    """张三丰 → 张**: a private person's name on public pages."""
    text = str(value or "")
    return text[:1] + "*" * (len(text) - 1) if text else ""


# Field name → masking function, for every model that holds personal data.
SENSITIVE_FIELDS: dict[str, Callable[[Any], str]] = {"phone": mask_phone, "id_number": mask_id_number}


def may_see_full(actor: Any, obj: models.Model) -> bool:
    """Only those who may change a record see its personal data unmasked."""
    return access.can(actor, access.CHANGE, obj)


def personal_data_display(*, actor: Any, obj: models.Model, fields: Iterable[str], context: str) -> dict[str, str]:
    """The values of ``fields`` as ``actor`` may see them; logs the showing when unmasked."""
    full = may_see_full(actor, obj)
    values: dict[str, str] = {}
    shown: list[str] = []
    for name in fields:
        raw = getattr(obj, name, "") or ""
        if full:
            values[name] = str(raw)
            if raw:
                shown.append(name)
        else:
            values[name] = SENSITIVE_FIELDS.get(name, mask_name)(raw)
    if shown:
        personal_data_access_log(actor=actor, obj=obj, fields=shown, context=context)
    return values


def personal_data_access_log(*, actor: Any, obj: models.Model, fields: Iterable[str], context: str) -> None:
    """Writes one audit row for a showing of unmasked personal data, and its audit-trail event."""
    shown = ",".join(sorted(set(fields)))[:200]
    audit.record(actor, AuditAction.PERSONAL_DATA_VIEW, target=obj, detail={"fields": shown, "context": context[:200]})
    PersonalDataAccess.objects.create(
        user=actor if getattr(actor, "is_authenticated", False) else None,
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
        fields=shown,
        context=context[:200],
    )
