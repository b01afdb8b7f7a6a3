"""Following a case without an account: the tracking code given at intake plus the applicant's phone.

The phone is never decrypted for the lookup: the case is found by its tracking code, and the
phone given is compared with the applicant's stored digest in constant time. A wrong code and a
wrong phone give the same answer (nothing), and both paths do the same digest work, so neither
the answer nor its timing tells which part was wrong.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cocreate.cases.models import Case, CaseStatus, EventKind, Party, PartyRole
from cocreate.core import crypto
from cocreate.core.privacy import mask_name, mask_phone

# No 0/O, 1/I/L: codes are read out over the phone and copied from SMS by hand.
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRACKING_LENGTH = 10
_PHONE_DIGITS = re.compile(r"^\d{7,12}$")
# A digest that matches nothing, compared when the code is unknown so both paths cost the same.
_NO_DIGEST = "0" * 64


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _i in range(TRACKING_LENGTH))


def normalize_tracking_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def normalize_phone(value: str) -> str:
    """Digits only, without a +86 / 0086 prefix: "+86 139-0000-0001" → "13900000001"."""
    digits = re.sub(r"\D", "", value or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    return digits


def clean_phone(value: str, field: str = "phone") -> str:
    """The normalised phone, or a ValidationError naming ``field``; "" stays ""."""
    if not (value or "").strip():
        return ""
    digits = normalize_phone(value)
    if not _PHONE_DIGITS.match(digits):
        raise ValidationError({field: _("请输入正确的电话号码（手机11位，或带区号的座机）")}, code="phone")
    return digits


def phone_digest(value: str) -> str:
    return crypto.digest(normalize_phone(value))


def find_by_code_and_phone(code: str, phone: str) -> Case | None:
    """The case whose tracking code is ``code`` and whose applicant's phone is ``phone``, else None."""
    normalized_code = normalize_tracking_code(code)
    normalized_phone = normalize_phone(phone)
    case = None
    stored = _NO_DIGEST
    if len(normalized_code) == TRACKING_LENGTH:
        case = Case.objects.filter(tracking_code=normalized_code).select_related("region", "category").first()
    if case is not None:
        applicant = Party.objects.filter(case=case, role=PartyRole.APPLICANT).values("phone_digest").first()
        stored = (applicant or {}).get("phone_digest") or _NO_DIGEST
    # Always compare, even without a case: no shortcut for a wrong code.
    matched = crypto.digest_matches(normalized_phone, stored) and bool(normalized_phone)
    return case if (case is not None and matched) else None


@dataclass(frozen=True)
class TrackedStep:
    label: str
    at: datetime


@dataclass(frozen=True)
class TrackedCase:
    """What a resident sees by code + phone: no staff names, no notes, personal data masked."""

    number: str
    tracking_code: str
    status: str
    status_label: str
    category: str
    region: str
    created_at: datetime
    replied_at: datetime | None
    answer: str
    applicant_name: str
    applicant_phone: str
    can_rate: bool
    steps: tuple[TrackedStep, ...]


def case_track(*, code: str, phone: str) -> TrackedCase | None:
    """The masked view of a case for its applicant, found by tracking code + phone (None if no match)."""
    case = find_by_code_and_phone(code, phone)
    if case is None:
        return None
    applicant = Party.objects.filter(case=case, role=PartyRole.APPLICANT).first()
    # Plain values: deferred model instances would each load their case_id again (one query a step).
    steps = tuple(
        TrackedStep(label=str(EventKind(kind).label), at=at)
        for kind, at in case.events.order_by("version").values_list("kind", "at")
    )
    return TrackedCase(
        number=case.number,
        tracking_code=case.tracking_code,
        status=case.status,
        status_label=str(case.get_status_display()),
        category=case.category.name if case.category else "",
        region=case.region.name,
        created_at=case.created_at,
        replied_at=case.replied_at,
        answer=case.answer if case.status in (CaseStatus.REPLIED, CaseStatus.CLOSED, CaseStatus.DISSATISFIED) else "",
        applicant_name=mask_name(applicant.name) if applicant else "",
        applicant_phone=mask_phone(applicant.phone) if applicant else "",
        can_rate=case.status == CaseStatus.REPLIED,
        steps=steps,
    )
