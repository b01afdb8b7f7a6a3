"""Following a case without an account: the tracking code given at intake plus the applicant's phone.

The phone is never decrypted for the lookup: the case is found by its tracking code, and the
phone given is compared with the applicant's stored digest in constant time. A wrong code and a
wrong phone give the same answer (nothing), and both paths do the same digest work, so neither
the answer nor its timing tells which part was wrong.

Guessing is limited (``find_limited``): failed lookups are counted per client IP and per tracking
code in Django's cache (local memory by default, Redis when configured), in fixed windows; once a
count reaches its limit, lookups from that IP or for that code are refused (``TrackThrottled``,
with the seconds until the window ends) before any lookup is made. A successful lookup does not
count and resets nothing. Limits: ``CASES_TRACK_FAILURES_PER_IP`` per ``CASES_TRACK_IP_WINDOW``
seconds (default 20 per 600), ``CASES_TRACK_FAILURES_PER_CODE`` per ``CASES_TRACK_CODE_WINDOW``
(default 5 per 3600); 0 switches a limit off.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cocreate.cases.models import Case, CaseStatus, EventKind, Party, PartyRole
from cocreate.core import crypto
from cocreate.core.privacy import mask_id_number, mask_name, mask_phone

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
    return None if case is None else _tracked(case)


def case_track_limited(*, code: str, phone: str, ip: str) -> TrackedCase | None:
    """``case_track`` behind the failed-lookup limits; raises ``TrackThrottled`` over a limit."""
    case = find_limited(code=code, phone=phone, ip=ip)
    return None if case is None else _tracked(case)


def masked_text(text: str, parties: list[Party]) -> str:
    """``text`` with every party's full name, phone and ID number masked (张** / 138****5678).

    The tracking answer is typed by staff for the applicant and often names the other side; whoever
    holds the code and phone (a forwarded SMS, a shared phone) must not learn more than the mask.
    """
    replacements: dict[str, str] = {}
    for party in parties:
        if len(party.name) >= 2:
            replacements[party.name] = mask_name(party.name)
        if party.phone:
            replacements[party.phone] = mask_phone(party.phone)
        if party.id_number:
            replacements[party.id_number] = mask_id_number(party.id_number)
    for full in sorted(replacements, key=len, reverse=True):
        text = text.replace(full, replacements[full])
    return text


def _tracked(case: Case) -> TrackedCase:
    parties = list(Party.objects.filter(case=case))
    applicant = next((p for p in parties if p.role == PartyRole.APPLICANT), None)
    answered = case.status in (CaseStatus.REPLIED, CaseStatus.CLOSED, CaseStatus.DISSATISFIED)
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
        answer=masked_text(case.answer, parties) if answered else "",
        applicant_name=mask_name(applicant.name) if applicant else "",
        applicant_phone=mask_phone(applicant.phone) if applicant else "",
        can_rate=case.status == CaseStatus.REPLIED,
        steps=steps,
    )


# --- Limiting failed lookups ---------------------------------------------------------------------------------


class TrackThrottled(Exception):
    """Too many failed lookups from this IP or for this code; ``retry_after`` seconds until the window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"tracking lookups throttled for {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class TrackLimit:
    name: str
    failures: int
    window: int  # seconds


def track_limits() -> tuple[TrackLimit, TrackLimit]:
    return (
        TrackLimit("ip", int(getattr(settings, "CASES_TRACK_FAILURES_PER_IP", 20)), _window("IP", 600)),
        TrackLimit("code", int(getattr(settings, "CASES_TRACK_FAILURES_PER_CODE", 5)), _window("CODE", 3600)),
    )


def _window(name: str, default: int) -> int:
    return max(1, int(getattr(settings, f"CASES_TRACK_{name}_WINDOW", default)))


def _counters(ip: str, code: str, now: float) -> list[tuple[str, TrackLimit, int]]:
    """(cache key, limit, seconds left in the window) of each limit that applies."""
    counters = []
    ip_limit, code_limit = track_limits()
    for limit, subject in ((ip_limit, ip), (code_limit, normalize_tracking_code(code))):
        if limit.failures <= 0 or not subject:
            continue
        bucket = int(now // limit.window)
        # Hashed: the cache never holds a tracking code or an address in the clear.
        key = f"cases:track:{limit.name}:{hashlib.sha256(subject.encode()).hexdigest()[:40]}:{bucket}"
        counters.append((key, limit, max(1, int((bucket + 1) * limit.window - now))))
    return counters


def check_track_allowed(*, ip: str, code: str) -> None:
    """Raises ``TrackThrottled`` when the IP or the code has used up its failed lookups."""
    counters = _counters(ip, code, time.time())
    counts = cache.get_many([key for key, _limit, _left in counters])
    blocked = [left for key, limit, left in counters if int(counts.get(key) or 0) >= limit.failures]
    if blocked:
        raise TrackThrottled(max(blocked))


def record_track_failure(*, ip: str, code: str) -> None:
    for key, _limit, left in _counters(ip, code, time.time()):
        if cache.add(key, 1, timeout=left + 1):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=left + 1)


def find_limited(*, code: str, phone: str, ip: str) -> Case | None:
    """``find_by_code_and_phone`` behind the limits: refused before the lookup once over a limit;
    a miss counts against the IP and the code, a match counts nothing."""
    check_track_allowed(ip=ip, code=code)
    case = find_by_code_and_phone(code, phone)
    if case is None:
        record_track_failure(ip=ip, code=code)
    return case


def client_ip(meta: Mapping[str, Any]) -> str:
    """The caller's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` reverse proxies that
    append to X-Forwarded-For (nginx ``$proxy_add_x_forwarded_for``), the entry the first proxy saw."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies > 0:
        forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return str(meta.get("REMOTE_ADDR") or "")
