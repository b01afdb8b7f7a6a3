"""Reads of grievance cases for users: always scoped through the access authority."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from cocreate.cases.models import Case, CaseEvent, Party
from cocreate.core import access, evidence, privacy
from cocreate.core.models import Attachment

PARTY_FIELDS = ("name", "phone", "id_number")


_HISTORY_TABLE: list[str] = []


def data_version() -> Any:
    """Changes whenever any case changes: every transition saves a history row. One index read."""
    if not _HISTORY_TABLE:
        _HISTORY_TABLE.append(Case.history.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(history_id) FROM {_HISTORY_TABLE[0]}")  # noqa: S608  # nosec B608
        return cursor.fetchone()[0]


def scope_key(user: Any) -> str:
    """A short key of what ``user`` may see (memberships, units, person), for caches of scoped figures."""
    scope = access.scope_of(user)
    text = repr(
        (
            scope.user_id,
            scope.is_superuser,
            scope.person_id,
            scope.home_region_path,
            sorted(scope.role_paths.items()),
            scope.unit_ids,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def case_list(*, user: Any) -> QuerySet[Case]:
    """The cases ``user`` may see, newest first."""
    return Case.objects.visible_to(user).select_related("region", "category", "lead_unit")


def case_get(*, user: Any, pk: Any) -> Case:
    """One case by id; missing and forbidden are the same 404."""
    return access.get_visible_or_404(Case.objects.select_related("region", "category", "lead_unit"), user, pk=pk)


def case_timeline(*, user: Any, case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.visible_to(user).filter(case=case).select_related("actor", "unit").order_by("version")


def party_display(*, user: Any, party: Party, context: str) -> dict[str, str]:
    """A party's name, phone and ID number as ``user`` may see them: in full only for handling staff
    (an anonymous applicant: only the office), which is logged; masked for everyone else."""
    return privacy.personal_data_display(actor=user, obj=party, fields=PARTY_FIELDS, context=context)


def case_attachments(*, user: Any, case: Case) -> QuerySet[Attachment]:
    """The photos and files on a case that ``user`` may see (the case's own rule, cases/rules.py)."""
    return evidence.attachments_for(actor=user, target=case).select_related("uploaded_by")
