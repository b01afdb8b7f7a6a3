"""Optimistic concurrency for edit forms and PATCH endpoints: no silent overwrite.

Two staff members open the same record, both change it, both save: without a check the second
save silently replaces the first. Cases carry an integer ``version`` for their transitions; the
other records (plans, tasks, regions, units, people, households) need no new column: their
*edit version* is a token computed from the fields an edit may change, one short keyed hash per
field. An edit page carries the token it was rendered with in a hidden ``expected_version``
field, and a PATCH body may send it; the service locks the row (``select_for_update``), computes
the token of what is stored now and refuses with ``StaleEdit`` (code ``stale``) when it differs.
Because there is one hash per field, the refusal can name the fields that someone else changed.

Why a token of the editable fields rather than a counter or the latest history row: a task's
progress is recomputed by every report, and that must not make an open edit form stale; only a
change to what the form would overwrite is a conflict. Keyed with the SECRET_KEY, the token says
nothing about personal data (a phone number's hash could otherwise be guessed).

The check only happens when the caller sends an expected version: API clients may leave it out
(last write wins, as before); the pages always send it.

Imports use ``claim_import``: the file's sha256 and target, recorded first in the import's
transaction under a unique constraint, so a second run of the same file writes nothing.
See docs/reliability.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Field as DjangoField
from django.db.models import Model
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

M = TypeVar("M", bound=Model)

# Hex characters of the keyed hash kept per field: a change goes unnoticed with odds of 1 : 16⁶.
_CHUNK = 6
_PREFIX = "e"


class StaleEdit(ValidationError):
    """The record changed since the caller read it; ``changed`` names the fields that differ."""

    def __init__(self, message: str, *, changed: list[str], labels: list[str], current: str) -> None:
        super().__init__(message, code="stale")
        self.changed = changed
        self.labels = labels
        self.current = current

    @property
    def changed_text(self) -> str:
        """The changed fields' names for people, as one list (``、``)."""
        return "、".join(self.labels)


def _canonical(value: Any) -> str:
    """A stable text for a field value: ids for objects, sorted members for sets and mappings."""
    if isinstance(value, Model):
        return f"#{value.pk}"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_canonical(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))) + "}"
    if isinstance(value, set | frozenset):
        return "[" + ",".join(sorted(_canonical(v) for v in value)) + "]"
    if isinstance(value, list | tuple):
        return "(" + ",".join(_canonical(v) for v in value) + ")"
    if value is None:
        return "∅"
    if isinstance(value, Enum):  # a choices member in memory is its plain value once stored
        value = value.value
    return str(value)


@dataclass(frozen=True)
class EditVersion:
    """What makes up one model's edit version: its editable fields and related state.

    ``fields`` are model field names (a foreign key counts by its id); ``related`` maps a name to
    a function that reads state kept in other tables (e.g. a task's unit matrix) from the row.
    """

    fields: tuple[str, ...]
    related: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    labels: Mapping[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted({*self.fields, *self.related})

    def _value(self, obj: Model, name: str) -> Any:
        if name in self.related:
            return self.related[name](obj)
        model_field = obj._meta.get_field(name)
        assert isinstance(model_field, DjangoField), name
        return getattr(obj, model_field.attname)

    def of(self, obj: Model) -> str:
        """The token of ``obj`` as it is in memory (read it fresh, or lock it, before comparing)."""
        label = obj._meta.label_lower
        chunks = []
        for name in self.names:
            digest = salted_hmac(
                "cocreate.core.concurrency", f"{label}:{obj.pk}:{name}:{_canonical(self._value(obj, name))}"
            ).hexdigest()
            chunks.append(digest[:_CHUNK])
        return _PREFIX + "".join(chunks)

    def changed_since(self, expected: str, current: str) -> list[str]:
        """The field names whose hash differs between two tokens (all of them if one is malformed)."""
        names = self.names
        size = len(_PREFIX) + _CHUNK * len(names)
        if len(expected) != size or not expected.startswith(_PREFIX):
            return names
        return [
            name
            for i, name in enumerate(names)
            if expected[1 + i * _CHUNK : 1 + (i + 1) * _CHUNK] != current[1 + i * _CHUNK : 1 + (i + 1) * _CHUNK]
        ]

    def check(self, locked: Model, expected: str | None) -> None:
        """Refuses with ``StaleEdit`` when ``expected`` is given and ``locked`` no longer matches it.

        ``locked`` must be the row as stored now, read under ``select_for_update`` inside the
        transaction that will save the change, so no other writer can slip in between.
        """
        if expected is None or expected == "":
            return
        current = self.of(locked)
        if expected.strip() == current:
            return
        changed = self.changed_since(expected.strip(), current)
        raise StaleEdit(
            _("该记录已被他人修改，请核对后重新保存"),
            changed=changed,
            labels=[self.label(locked, name) for name in changed],
            current=current,
        )

    def label(self, obj: Model, name: str) -> str:
        """A field's name for people: the given label, else the model field's verbose name."""
        if name in self.labels:
            return str(self.labels[name])
        model_field = obj._meta.get_field(name)
        assert isinstance(model_field, DjangoField), name
        return str(model_field.verbose_name)

    def lock(self, obj: M, expected: str | None) -> M:
        """Locks ``obj``'s row, checks ``expected`` against it and refreshes ``obj`` from it.

        The refresh matters even without ``expected``: a service that then saves ``obj`` writes
        what is stored now for the fields it does not change (e.g. a person verified meanwhile),
        not what the caller read minutes ago.
        """
        locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        self.check(locked, expected)
        for model_field in obj._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(locked, model_field.attname))
        return obj


def version_field() -> forms.CharField:
    """The hidden form field that carries the edit version the page was rendered with."""
    return forms.CharField(required=False, widget=forms.HiddenInput, max_length=400)


def split_version(data: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A form's cleaned data without ``expected_version``, and that version (None if absent)."""
    rest = dict(data)
    expected = rest.pop("expected_version", None)
    return rest, expected or None


# --- Imports: the same file is imported once ---------------------------------------------------------


class AlreadyImported(Exception):
    """The same file was already imported into the same target; nothing was written this time."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def file_digest(data: bytes) -> str:
    """The sha256 of a file's bytes, as hex."""
    return hashlib.sha256(data).hexdigest()


def claim_import(*, kind: str, target: str, data: bytes, filename: str = "", actor: Any = None, note: str = "") -> None:
    """Records that ``data`` is being imported into ``target``, inside the caller's transaction.

    Call it first thing in the import's transaction. A parallel import of the same file waits on
    this row's unique index until the first one ends: if that one committed, this raises
    ``AlreadyImported`` (and the caller writes nothing); if it rolled back, this one goes on. A
    later re-import of a file that was imported successfully is refused the same way.
    """
    from cocreate.core.models import ImportRecord

    digest = file_digest(data)
    try:
        with transaction.atomic():  # a savepoint, so the caller's transaction stays usable
            ImportRecord.objects.create(
                kind=kind,
                target=target,
                sha256=digest,
                filename=filename[:255],
                note=note[:200],
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError as exc:
        earlier = ImportRecord.objects.filter(kind=kind, target=target, sha256=digest).first()
        when = timezone.localtime(earlier.created_at).strftime("%Y-%m-%d %H:%M") if earlier else ""
        raise AlreadyImported(_("该文件已导入（%(when)s），本次未重复导入") % {"when": when}) from exc
