"""The grievance workflow: one service function per transition (see ``TRANSITIONS`` and docs/cases.md).

Every transition runs in one transaction, locks the case row (``select_for_update``), checks who
is acting, then the state (``TRANSITIONS``), bumps ``Case.version`` and writes exactly one
``CaseEvent`` with that version; the history of the case row is kept by simple-history.
Notifications are recorded in the same transaction (``cocreate.core.notify``; SMS to applicants
without an account go straight to the outbox) and sent after commit, each once (dedupe keys name
the case and its version). A refused call raises ``PermissionDenied`` (wrong person) or
``ValidationError`` (wrong state or input) and changes nothing.

Every function takes ``expected_version``: when given and the case has moved on since the caller
read it, the call is refused instead of acting on a stale page (issue 6 builds on this).

Every function also takes ``now`` (default: the clock): the moment the step happens, for the
demo's past (``cases/demo.py``) — the event, the history row, the case's times and the
``created_at`` of the rows the step writes all carry it. Live callers leave it out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.cases import deadlines, rules
from cocreate.cases.models import (
    DISPATCHED_STATES,
    FINAL_STATES,
    Case,
    CaseCategory,
    CaseChannel,
    CaseEvent,
    CaseLevel,
    CaseNumberSequence,
    CaseReturn,
    CaseStatus,
    Complexity,
    DeclineReason,
    EventKind,
    ExtensionRequest,
    LimitStep,
    Outcome,
    Party,
    PartyRole,
    Rating,
    RatingChannel,
    RequestStatus,
    ReturnDecision,
    Risk,
    Satisfaction,
    Urgency,
)
from cocreate.cases.tracking import (
    clean_phone,
    find_by_code_and_phone,
    new_tracking_code,
    normalize_phone,
    phone_digest,
)
from cocreate.core import access, evidence, notify
from cocreate.core.models import (
    STAFF_ROLES,
    Attachment,
    Channel,
    OutboxMessage,
    Person,
    Region,
    RegionLevel,
    Role,
    Unit,
    User,
)
from cocreate.participation import needs

S = CaseStatus

# --- The transition table ------------------------------------------------------------------------------------

# Who acts: the office of the case's level; the lead unit's staff; the level above (review);
# the applicant (their account, or tracking code + phone); the office or the level above.
OFFICE = "office"
LEAD_UNIT = "lead_unit"
REVIEWER = "reviewer"
APPLICANT = "applicant"
OFFICE_OR_REVIEWER = "office_or_reviewer"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    targets: tuple[str, ...]  # empty: the status does not change
    actor: str


def _t(sources: Iterable[str], targets: Iterable[str], actor: str) -> Transition:
    return Transition(frozenset(sources), tuple(targets), actor)


ACTIVE_HANDLING = (S.DISPATCHED, S.SIGNED, S.IN_PROGRESS)
TRANSITIONS: dict[str, Transition] = {
    EventKind.ACCEPTED: _t([S.REGISTERED], [S.ACCEPTED], OFFICE),
    EventKind.DECLINED: _t([S.REGISTERED], [S.DECLINED], OFFICE),
    EventKind.ANSWERED: _t([S.REGISTERED], [S.CLOSED], OFFICE),
    EventKind.TRIAGED: _t([S.ACCEPTED], [S.TRIAGED], OFFICE),
    EventKind.DISPATCHED: _t([S.TRIAGED], [S.DISPATCHED], OFFICE),
    EventKind.SIGNED: _t([S.DISPATCHED], [S.SIGNED], LEAD_UNIT),
    EventKind.RETURNED: _t([S.DISPATCHED], [S.RETURNED], LEAD_UNIT),
    EventKind.RETURN_DECIDED: _t([S.RETURNED], [S.DISPATCHED], REVIEWER),
    EventKind.CONTACTED: _t([S.SIGNED], [S.IN_PROGRESS], LEAD_UNIT),
    EventKind.REPLIED: _t([S.IN_PROGRESS], [S.REPLIED], LEAD_UNIT),
    EventKind.RATED: _t([S.REPLIED], [S.CLOSED, S.DISSATISFIED], APPLICANT),
    EventKind.REWORKED: _t([S.DISSATISFIED], [S.IN_PROGRESS], OFFICE),
    EventKind.CLOSED: _t([S.REPLIED], [S.CLOSED], OFFICE),
    EventKind.CLOSED_UNREASONABLE: _t([S.DISSATISFIED], [S.CLOSED], REVIEWER),
    EventKind.EXTENSION_REQUESTED: _t(ACTIVE_HANDLING, [], LEAD_UNIT),
    EventKind.EXTENSION_DECIDED: _t([*ACTIVE_HANDLING, S.REPLIED, S.DISSATISFIED], [], REVIEWER),
    EventKind.ESCALATED: _t([*ACTIVE_HANDLING, S.DISSATISFIED], [S.TRIAGED], OFFICE_OR_REVIEWER),
    EventKind.MERGED: _t([S.REGISTERED, S.ACCEPTED, S.TRIAGED], [S.MERGED], OFFICE),
    # Accepted (it is a real matter) and not declined or merged away; the case itself goes on.
    EventKind.TO_NEED: _t([S.ACCEPTED, S.TRIAGED, *DISPATCHED_STATES, S.CLOSED], [], OFFICE),
}

# Who may register a case through each channel, over the case's region.
INTAKE_ROLES: dict[str, frozenset[str]] = {
    CaseChannel.VISIT: frozenset({Role.GRID_WORKER, Role.VILLAGE_STAFF, Role.TOWN_STAFF}),
    CaseChannel.ONSITE: frozenset({Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF}),
    CaseChannel.WALKIN: frozenset({Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF}),
}
RESIDENT_CHANNELS = frozenset({CaseChannel.SELF, CaseChannel.ONLINE})
MAX_OTHER_PARTIES = 10
MAX_EXTENSION_DAYS = 30


class EscalationReason:
    OVERDUE = "overdue"
    REWORK_EXHAUSTED = "rework_exhausted"
    BEYOND_CAPACITY = "beyond_capacity"
    ALL = frozenset({OVERDUE, REWORK_EXHAUSTED, BEYOND_CAPACITY})
    LABELS = {OVERDUE: "超期未办结", REWORK_EXHAUSTED: "重办次数已满", BEYOND_CAPACITY: "超出本级处置能力"}


def max_rework_rounds() -> int:
    return int(getattr(settings, "CASES_MAX_REWORK_ROUNDS", 2))


# --- Shared mechanics -----------------------------------------------------------------------------------------


def _deny() -> PermissionDenied:
    return PermissionDenied(_("无权执行此操作"))


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    """A refusal naming the field and a machine-readable code (the API answers with both)."""
    return ValidationError({field: ValidationError(message, code=code)})


def _authorised(actor: Any, case: Case, who: str) -> bool:
    if not getattr(actor, "is_authenticated", False):
        return False
    if who == OFFICE:
        return rules.is_office(actor, case)
    if who == LEAD_UNIT:
        return rules.is_lead_unit_staff(actor, case)
    if who == REVIEWER:
        return rules.is_reviewer(actor, case)
    if who == OFFICE_OR_REVIEWER:
        return rules.is_office(actor, case) or rules.is_reviewer(actor, case)
    return False  # the applicant is checked by case_rate itself


def _lock(case: Case) -> Case:
    return (
        Case.objects.select_for_update(of=("self",)).select_related("region", "lead_unit", "category").get(pk=case.pk)
    )


def _begin(actor: Any, case: Case, kind: str, expected_version: int | None, *, authorise: bool = True) -> Case:
    """Locks the case and checks actor, version and state for ``kind``; returns the locked row."""
    row = _lock(case)
    transition = TRANSITIONS[kind]
    if authorise and not _authorised(actor, row, transition.actor):
        raise _deny()
    if expected_version is not None and expected_version != row.version:
        raise _invalid("version", _("案件已被他人更新，请刷新后再试"), "stale")
    if row.status not in transition.sources:
        raise _invalid(
            "status",
            _("案件当前状态为“%(status)s”，不能执行“%(step)s”")
            % {"status": row.get_status_display(), "step": EventKind(kind).label},
            "invalid_state",
        )
    return row


def _finish(
    row: Case,
    *,
    actor: Any,
    kind: str,
    from_status: str,
    fields: Iterable[str],
    note: str = "",
    data: dict[str, Any] | None = None,
    unit: Unit | None = None,
    at: dt.datetime | None = None,
) -> CaseEvent:
    """Saves the changed ``fields`` with the version bump and writes the transition's one event (dated ``at``)."""
    at = at or timezone.now()
    row.version += 1
    row._history_user = actor if getattr(actor, "is_authenticated", False) else None  # type: ignore[attr-defined]
    row._history_date = at  # type: ignore[attr-defined]
    row.save(update_fields=sorted({*fields, "status", "version", "updated_at"}))
    return CaseEvent.objects.create(
        case=row,
        kind=kind,
        from_status=from_status,
        to_status=row.status,
        version=row.version,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        unit=unit,
        note=note,
        data=data or {},
        at=at,
    )


def _sync(case: Case, row: Case) -> Case:
    """Copies the locked row's state onto the caller's instance, so a held reference is not stale."""
    if case is not row:
        case.__dict__.update({k: v for k, v in row.__dict__.items() if not k.startswith("_")})
        case._state.fields_cache = dict(row._state.fields_cache)
    return row


def _backdate(model: type[Model], when: dt.datetime, **lookup: Any) -> None:
    """Dates rows written by a call given ``now`` (the demo's past, an import) at that moment.

    ``created_at`` is ``auto_now_add``, so the insert always stamps the wall clock; only a caller
    that passed ``now`` gets this extra update, so live calls are unchanged.
    """
    model._default_manager.filter(**lookup).update(created_at=when)


def _text(value: str, field: str, label: str, *, required: bool = True, max_length: int = 2000) -> str:
    text = (value or "").strip()
    if required and not text:
        raise _invalid(field, _("请填写%(label)s") % {"label": label}, "required")
    if len(text) > max_length:
        raise _invalid(field, _("%(label)s不能超过%(n)d字") % {"label": label, "n": max_length}, "too_long")
    return text


def _choice(value: Any, choices: Iterable[Any], field: str) -> Any:
    if value not in set(choices):
        raise _invalid(field, _("请选择有效的选项"), "choice")
    return value


# --- Who to tell ---------------------------------------------------------------------------------------------


def _ancestor_codes(region: Region) -> list[str]:
    return [c for c in region.path.strip("/").split("/") if c]


def office_users(case: Case, level: int | None = None) -> QuerySet[User]:
    """Active accounts of the office of ``level`` (default: the case's) over the case's region."""
    roles = rules.OFFICE_ROLES[int(level if level is not None else case.level)]
    return User.objects.filter(
        is_active=True,
        memberships__is_active=True,
        memberships__role__in=roles,
        memberships__region__code__in=_ancestor_codes(case.region),
    ).distinct()


def unit_users(unit_ids: Iterable[int]) -> QuerySet[User]:
    return User.objects.filter(
        is_active=True,
        memberships__is_active=True,
        memberships__unit_id__in=list(unit_ids),
        memberships__role__in=STAFF_ROLES,
    ).distinct()


def _handling_unit_ids(case: Case) -> list[int]:
    ids = [case.lead_unit_id] if case.lead_unit_id else []
    return ids + list(case.co_units.values_list("id", flat=True))


def _tell(users: QuerySet[User] | Iterable[User], case: Case, title: str, body: str, audience: str) -> None:
    notify.notify(
        users=users,
        title=title,
        body=body,
        dedupe_key=f"case:{case.pk}:v{case.version}:{audience}",
    )


def _tell_applicant(case: Case, title: str, body: str = "") -> None:
    """In-app for an applicant with an account; otherwise an SMS to the applicant's phone, once."""
    applicant = Party.objects.filter(case=case, role=PartyRole.APPLICANT).first()
    if applicant is None:
        return
    accounts = User.objects.filter(person_id=applicant.person_id, is_active=True) if applicant.person_id else None
    if accounts is not None and accounts.exists():
        _tell(accounts, case, title, body, "applicant")
        return
    if not applicant.phone:
        return
    text = f"{settings.SMS_SIGNATURE}{title}"
    if body:
        text += f"：{body}"
    message = OutboxMessage(
        channel=Channel.SMS,
        recipient=applicant.phone,
        body=text[: notify.SMS_MAX_CHARS],
        dedupe_key=f"case:{case.pk}:v{case.version}:applicant-sms",
    )
    if notify._insert_once(message):
        from cocreate.core import jobs

        transaction.on_commit(partial(jobs.enqueue_messages, [message.pk]))


def _case_label(case: Case) -> str:
    return f"{case.number}{('（' + case.title + '）') if case.title else ''}"


# --- Intake --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyData:
    """A party as given at intake (plain values; encrypted when stored)."""

    name: str = ""
    phone: str = ""
    id_number: str = ""
    address: str = ""
    person: Person | None = None


def _clean_id_number(value: str, field: str) -> str:
    text = (value or "").strip().upper()
    if text and not (len(text) == 18 and text[:17].isdigit() and (text[17].isdigit() or text[17] == "X")):
        raise _invalid(field, _("身份证号应为18位（最后一位可为X）"), "id_number")
    return text


def _village_path(region: Region) -> str | None:
    codes = _ancestor_codes(region)
    village = Region.objects.filter(code__in=codes, level=RegionLevel.VILLAGE).values_list("path", flat=True).first()
    return village


def _intake_level(actor: Any, channel: str, region: Region) -> int:
    """Where the case starts: the lowest office the registering person belongs to (residents: the village)."""
    if channel in RESIDENT_CHANNELS:
        return CaseLevel.VILLAGE
    scope = access.scope_of(actor)
    if scope.is_superuser or scope.has_role_over({Role.GRID_WORKER, Role.VILLAGE_STAFF}, region.path):
        return CaseLevel.VILLAGE
    if scope.has_role_over({Role.TOWN_STAFF}, region.path):
        return CaseLevel.TOWN
    return CaseLevel.COUNTY


def _check_intake(actor: Any, channel: str, region: Region) -> Person | None:
    """Refuses an intake the actor may not make; returns the resident's own person for self-reports."""
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("请先登录"))
    if channel in RESIDENT_CHANNELS:
        person = Person.objects.select_related("region").filter(pk=actor.person_id).first() if actor.person_id else None
        if person is None:
            raise PermissionDenied(_("请先登录并关联居民身份"))
        home = _village_path(person.region)
        if not access.scope_of(actor).is_superuser and (home is None or not region.path.startswith(home)):
            raise _invalid("region", _("只能反映本村（社区）范围内的事项"), "region")
        return person
    roles = INTAKE_ROLES.get(channel)
    if roles is None:
        raise _invalid("channel", _("请选择有效的来源渠道"), "choice")
    scope = access.scope_of(actor)
    if not (scope.is_superuser or scope.has_role_over(roles, region.path)):
        raise _deny()
    return None


def _next_number(now: dt.datetime) -> str:
    """The next human case number of the year (2026-000123); the year's row is locked while counting."""
    year = timezone.localtime(now).year
    if not CaseNumberSequence.objects.filter(year=year).exists():
        try:
            with transaction.atomic():
                CaseNumberSequence.objects.create(year=year)
        except IntegrityError:
            pass  # a parallel registration created it first
    CaseNumberSequence.objects.filter(year=year).update(last=F("last") + 1)
    last = CaseNumberSequence.objects.filter(year=year).values_list("last", flat=True).get()
    return f"{year}-{last:06d}"


def _unique_tracking_code() -> str:
    for _attempt in range(5):
        code = new_tracking_code()
        if not Case.objects.filter(tracking_code=code).exists():
            return code
    raise RuntimeError("could not draw a free tracking code")  # 31^10 codes: practically unreachable


def _party(case: Case, role: str, data: PartyData, field: str) -> Party:
    phone = clean_phone(data.phone, f"{field}_phone")
    return Party(
        case=case,
        role=role,
        person=data.person,
        name=_text(data.name, f"{field}_name", _("姓名"), required=False, max_length=50),
        phone=phone,
        phone_digest=phone_digest(phone) if phone else "",
        id_number=_clean_id_number(data.id_number, f"{field}_id_number"),
        address=_text(data.address, f"{field}_address", _("住址"), required=False, max_length=200),
    )


@transaction.atomic
def case_register(
    *,
    actor: Any,
    region: Region,
    channel: str,
    description: str,
    applicant: PartyData | None = None,
    other_parties: Sequence[PartyData] = (),
    category: CaseCategory | None = None,
    urgency: str = Urgency.NORMAL,
    title: str = "",
    place: str = "",
    is_anonymous: bool = False,
    now: dt.datetime | None = None,
) -> Case:
    """Registers a case from any of the five channels, with its parties; gives it a number and a tracking code."""
    _choice(channel, CaseChannel.values, "channel")
    if not region.is_active or region.level < RegionLevel.VILLAGE:
        raise _invalid("region", _("请选择事发的村（社区）或网格"), "region")
    resident = _check_intake(actor, channel, region)
    _choice(urgency, Urgency.values, "urgency")
    if category is not None and not category.is_active:
        raise _invalid("category", _("请选择有效的类别"), "choice")
    if len(other_parties) > MAX_OTHER_PARTIES:
        raise _invalid("other_parties", _("对方当事人最多%(n)d人") % {"n": MAX_OTHER_PARTIES}, "too_many")
    given = applicant or PartyData()
    if resident is not None:
        given = PartyData(
            name=given.name or resident.name,
            phone=given.phone or resident.phone or actor.phone,
            id_number=given.id_number,
            address=given.address,
            person=resident,
        )
    backdated = now is not None
    now = now or timezone.now()
    case = Case(
        number="",
        tracking_code="",
        region=region,
        place=_text(place, "place", _("具体地点"), required=False, max_length=200),
        channel=channel,
        category=category,
        urgency=urgency,
        title=_text(title, "title", _("标题"), required=False, max_length=100),
        description=_text(description, "description", _("情况描述"), max_length=5000),
        is_anonymous=bool(is_anonymous),
        status=S.REGISTERED,
        level=_intake_level(actor, channel, region),
        created_by=actor,
    )
    applicant_row = _party(case, PartyRole.APPLICANT, given, "applicant")
    if not applicant_row.phone:
        # Without a phone the applicant could neither follow nor rate the case.
        raise _invalid("applicant_phone", _("请填写申请人的联系电话"), "required")
    if not applicant_row.name and not case.is_anonymous:
        raise _invalid("applicant_name", _("请填写申请人姓名（或选择匿名）"), "required")
    others = [_party(case, PartyRole.OTHER_PARTY, p, f"other_parties.{i}") for i, p in enumerate(other_parties)]
    case.number = _next_number(now)
    case.tracking_code = _unique_tracking_code()
    case._history_user = actor  # type: ignore[attr-defined]
    case._history_date = now  # type: ignore[attr-defined]
    case.save()
    for party in [applicant_row, *others]:
        party.case = case
    Party.objects.bulk_create([applicant_row, *others])
    if backdated:
        _backdate(Case, now, pk=case.pk)
        _backdate(Party, now, case=case)
        case.created_at = now
    CaseEvent.objects.create(
        case=case,
        kind=EventKind.REGISTERED,
        from_status="",
        to_status=case.status,
        version=case.version,
        actor=actor,
        data={"channel": channel, "level": case.level},
        at=now,
    )
    _tell(
        office_users(case),
        case,
        _("新的矛盾纠纷待受理：%(case)s") % {"case": _case_label(case)},
        case.description[:100],
        "office",
    )
    _tell_applicant(
        case,
        _("您反映的事项已登记，编号%(number)s，查询码%(code)s") % {"number": case.number, "code": case.tracking_code},
    )
    return case


# --- Accepting, declining, answering on the spot, triage, dispatch -----------------------------------------------


@transaction.atomic
def case_accept(
    *, actor: Any, case: Case, note: str = "", expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    """The office accepts a registered case (受理)."""
    row = _begin(actor, case, EventKind.ACCEPTED, expected_version)
    before = row.status
    row.status = S.ACCEPTED
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.ACCEPTED,
        from_status=before,
        fields=[],
        note=_text(note, "note", "", required=False),
    )
    _tell_applicant(row, _("您反映的事项（%(number)s）已受理") % {"number": row.number})
    return _sync(case, row)


@transaction.atomic
def case_decline(
    *,
    actor: Any,
    case: Case,
    reason: str,
    note: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """The office declines a registered case (不予受理) with a reason code; "no real content" needs an explanation."""
    _choice(reason, DeclineReason.values, "reason")
    text = _text(note, "note", _("说明"), required=reason == DeclineReason.NO_CONTENT, max_length=500)
    row = _begin(actor, case, EventKind.DECLINED, expected_version)
    before = row.status
    row.status = S.DECLINED
    row.decline_reason = reason
    row.closed_at = now = now or timezone.now()
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.DECLINED,
        from_status=before,
        fields=["decline_reason", "closed_at"],
        note=text,
        data={"reason": reason},
    )
    _tell_applicant(
        row,
        _("您反映的事项（%(number)s）不予受理：%(reason)s")
        % {"number": row.number, "reason": DeclineReason(reason).label},
        text,
    )
    return _sync(case, row)


@transaction.atomic
def case_answer_on_spot(
    *, actor: Any, case: Case, answer: str, expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    """The office answers a registered case on the spot (当场答复); the case closes with the answer."""
    text = _text(answer, "answer", _("答复内容"))
    row = _begin(actor, case, EventKind.ANSWERED, expected_version)
    before = row.status
    now = now or timezone.now()
    row.status = S.CLOSED
    row.answer = text
    row.outcome = Outcome.ANSWERED
    row.replied_at = now
    row.closed_at = now
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.ANSWERED,
        from_status=before,
        fields=["answer", "outcome", "replied_at", "closed_at"],
        note=text,
    )
    _tell_applicant(row, _("您反映的事项（%(number)s）已当场答复") % {"number": row.number}, text[:100])
    return _sync(case, row)


def suggest_level(risk: str, complexity: str) -> int:
    """小事不出村、一般事不出镇、大事不出县: high risk or complex → county, low and simple → village, else town."""
    if risk == Risk.HIGH or complexity == Complexity.COMPLEX:
        return CaseLevel.COUNTY
    if risk == Risk.LOW and complexity == Complexity.SIMPLE:
        return CaseLevel.VILLAGE
    return CaseLevel.TOWN


@transaction.atomic
def case_triage(
    *,
    actor: Any,
    case: Case,
    category: CaseCategory,
    risk: str,
    complexity: str,
    level: int | None = None,
    urgency: str | None = None,
    note: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """The office assesses an accepted case: category, risk, complexity, and the level that handles it."""
    _choice(risk, Risk.values, "risk")
    _choice(complexity, Complexity.values, "complexity")
    if category is None or not category.is_active:
        raise _invalid("category", _("请选择有效的类别"), "choice")
    if urgency is not None:
        _choice(urgency, Urgency.values, "urgency")
    suggested = suggest_level(risk, complexity)
    chosen = suggested if level is None else int(_choice(level, CaseLevel.values, "level"))
    row = _begin(actor, case, EventKind.TRIAGED, expected_version)
    before = row.status
    row.status = S.TRIAGED
    row.category = category
    row.risk = risk
    row.complexity = complexity
    row.level = chosen
    if urgency is not None:
        row.urgency = urgency
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.TRIAGED,
        from_status=before,
        fields=["category", "risk", "complexity", "level", "urgency"],
        note=_text(note, "note", "", required=False),
        data={
            "category": category.code,
            "risk": risk,
            "complexity": complexity,
            "level": chosen,
            "suggested": suggested,
        },
    )
    if chosen != int(case.level):
        _tell(
            office_users(row),
            row,
            _("矛盾纠纷待派单：%(case)s") % {"case": _case_label(row)},
            "",
            "office",
        )
    return _sync(case, row)


def _check_units(case: Case, lead_unit: Unit, co_units: Sequence[Unit], field: str = "lead_unit") -> list[Unit]:
    """Units handling a case sit at the case's level, in the area the case happened in."""

    def fits(unit: Unit) -> bool:
        return unit.is_active and unit.region.level == case.level and case.region.path.startswith(unit.region.path)

    if lead_unit is None or not fits(lead_unit):
        raise _invalid(field, _("主办单位须为本级、案件所在区域的单位"), "unit")
    others = [u for u in dict.fromkeys(co_units) if u.pk != lead_unit.pk]
    if any(not fits(u) for u in others):
        raise _invalid("co_units", _("协办单位须为本级、案件所在区域的单位"), "unit")
    return others


@transaction.atomic
def case_dispatch(
    *,
    actor: Any,
    case: Case,
    lead_unit: Unit,
    co_units: Sequence[Unit] = (),
    note: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """The office dispatches a triaged case to a lead unit (and co-units); the clock starts now."""
    row = _begin(actor, case, EventKind.DISPATCHED, expected_version)
    others = _check_units(row, lead_unit, co_units)
    before = row.status
    now = now or timezone.now()
    row.status = S.DISPATCHED
    row.lead_unit = lead_unit
    row.dispatched_at = now
    row.due_at = deadlines.step_deadline(row, LimitStep.WHOLE, now)
    row.step_due_at = row.first_contact_due_at = deadlines.step_deadline(row, LimitStep.FIRST_CONTACT, now)
    row.signed_at = row.first_contact_at = row.replied_at = None
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.DISPATCHED,
        from_status=before,
        fields=[
            "lead_unit",
            "dispatched_at",
            "due_at",
            "step_due_at",
            "first_contact_due_at",
            "signed_at",
            "first_contact_at",
            "replied_at",
        ],
        note=_text(note, "note", "", required=False),
        data={"lead_unit": lead_unit.pk, "co_units": [u.pk for u in others], "due_at": row.due_at.isoformat()},
    )
    row.co_units.set(others)
    _tell(
        unit_users([lead_unit.pk, *[u.pk for u in others]]),
        row,
        _("新派单：%(case)s") % {"case": _case_label(row)},
        _("请及时签收，首次联系时限 %(due)s") % {"due": timezone.localtime(row.step_due_at).strftime("%Y-%m-%d %H:%M")},
        "units",
    )
    return _sync(case, row)


# --- The lead unit: sign, return, contact, reply ------------------------------------------------------------------


@transaction.atomic
def case_sign(*, actor: Any, case: Case, expected_version: int | None = None, now: dt.datetime | None = None) -> Case:
    """The lead unit signs for a dispatched case (签收); the clock already runs since dispatch."""
    row = _begin(actor, case, EventKind.SIGNED, expected_version)
    before = row.status
    row.status = S.SIGNED
    row.signed_at = now = now or timezone.now()
    _finish(
        row, at=now, actor=actor, kind=EventKind.SIGNED, from_status=before, fields=["signed_at"], unit=row.lead_unit
    )
    return _sync(case, row)


@transaction.atomic
def case_return(
    *, actor: Any, case: Case, reason: str, expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    """The lead unit sends a dispatch back (退单) with a reason; the level above decides where it goes."""
    text = _text(reason, "reason", _("退单理由"), max_length=1000)
    row = _begin(actor, case, EventKind.RETURNED, expected_version)
    assert row.lead_unit is not None
    before = row.status
    row.status = S.RETURNED
    returned = CaseReturn.objects.create(case=row, unit=row.lead_unit, returned_by=actor, reason=text)
    if now is not None:
        _backdate(CaseReturn, now, pk=returned.pk)
    _finish(
        row, at=now, actor=actor, kind=EventKind.RETURNED, from_status=before, fields=[], note=text, unit=row.lead_unit
    )
    _tell(
        office_users(row, rules.level_above(row.level)),
        row,
        _("退单待审核：%(case)s") % {"case": _case_label(row)},
        text[:100],
        "reviewer",
    )
    return _sync(case, row)


@transaction.atomic
def case_return_decide(
    *,
    actor: Any,
    case: Case,
    redispatch: bool,
    lead_unit: Unit | None = None,
    co_units: Sequence[Unit] = (),
    note: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """The level above decides a return: re-dispatch to another unit, or send it back to the same one.

    The whole-case deadline keeps running from the first dispatch (a routing dispute does not buy
    time); the first-contact step restarts for whoever receives the case now.
    """
    row = _begin(actor, case, EventKind.RETURN_DECIDED, expected_version)
    pending = CaseReturn.objects.select_for_update().get(case=row, decision=ReturnDecision.PENDING)
    text = _text(note, "note", _("审核意见"), required=not redispatch, max_length=1000)
    before = row.status
    now = now or timezone.now()
    if redispatch:
        if lead_unit is None or lead_unit.pk == pending.unit_id:
            raise _invalid("lead_unit", _("改派须选择另一个主办单位"), "unit")
        others = _check_units(row, lead_unit, co_units)
        row.lead_unit = lead_unit
        row.co_units.set(others)
        pending.decision = ReturnDecision.REDISPATCHED
        pending.new_lead_unit = lead_unit
    else:
        pending.decision = ReturnDecision.SENT_BACK
    pending.decided_by = actor
    pending.decided_at = now
    pending.decision_note = text
    pending.save(update_fields=["decision", "new_lead_unit", "decided_by", "decided_at", "decision_note"])
    row.status = S.DISPATCHED
    row.step_due_at = row.first_contact_due_at = deadlines.step_deadline(row, LimitStep.FIRST_CONTACT, now)
    assert row.lead_unit is not None
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.RETURN_DECIDED,
        from_status=before,
        fields=["lead_unit", "step_due_at", "first_contact_due_at"],
        note=text,
        data={"decision": pending.decision, "lead_unit": row.lead_unit.pk},
    )
    _tell(
        unit_users(_handling_unit_ids(row)),
        row,
        (_("改派：%(case)s") if redispatch else _("退单未通过，请继续办理：%(case)s")) % {"case": _case_label(row)},
        text[:100],
        "units",
    )
    return _sync(case, row)


@transaction.atomic
def case_contact(
    *,
    actor: Any,
    case: Case,
    note: str,
    contacted_at: dt.datetime | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """The lead unit records its first contact with the applicant; handling is now under way."""
    text = _text(note, "note", _("联系情况"), max_length=1000)
    row = _begin(actor, case, EventKind.CONTACTED, expected_version)
    now = now or timezone.now()
    when = contacted_at or now
    if when > now or (row.dispatched_at is not None and when < row.dispatched_at):
        raise _invalid("contacted_at", _("联系时间须在派单之后、当前时间之前"), "time")
    before = row.status
    row.status = S.IN_PROGRESS
    row.first_contact_at = when
    assert row.due_at is not None
    row.step_due_at = min(row.due_at, deadlines.step_deadline(row, LimitStep.HANDLING, when))
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.CONTACTED,
        from_status=before,
        fields=["first_contact_at", "step_due_at"],
        note=text,
        unit=row.lead_unit,
    )
    return _sync(case, row)


@transaction.atomic
def case_reply(
    *, actor: Any, case: Case, answer: str, expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    """The lead unit gives its answer (答复); the applicant is asked to rate it."""
    text = _text(answer, "answer", _("答复内容"), max_length=5000)
    row = _begin(actor, case, EventKind.REPLIED, expected_version)
    before = row.status
    now = now or timezone.now()
    row.status = S.REPLIED
    row.answer = text
    row.replied_at = now
    row.reply_count += 1
    row.step_due_at = deadlines.step_deadline(row, LimitStep.FOLLOWUP, now)
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.REPLIED,
        from_status=before,
        fields=["answer", "replied_at", "reply_count", "step_due_at"],
        note=text,
        unit=row.lead_unit,
        data={"reply": row.reply_count},
    )
    _tell_applicant(
        row,
        _("您反映的事项（%(number)s）已答复，请凭查询码%(code)s评价")
        % {"number": row.number, "code": row.tracking_code},
        text[:100],
    )
    return _sync(case, row)


# --- The applicant's rating; rework; closing ---------------------------------------------------------------------


def _is_applicant_account(actor: Any, case: Case) -> bool:
    person_id = getattr(actor, "person_id", None)
    if not getattr(actor, "is_authenticated", False) or person_id is None:
        return False
    return Party.objects.filter(case=case, role=PartyRole.APPLICANT, person_id=person_id).exists()


@transaction.atomic
def case_rate(
    *,
    actor: Any,
    case: Case,
    resolved: bool,
    satisfaction: str,
    efficiency: str,
    leader_rating: str,
    comment: str = "",
    phone: str | None = None,
    channel: str | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """The applicant rates a reply: satisfied (满意/基本满意) closes the case, dissatisfied asks for rework.

    The applicant is their own account (``actor``) or, without an account, proven by ``phone``
    matching the case's applicant (the tracking page and the SMS link pass it).
    """
    for value, field in ((satisfaction, "satisfaction"), (efficiency, "efficiency"), (leader_rating, "leader_rating")):
        _choice(value, Satisfaction.values, field)
    text = _text(comment, "comment", _("意见"), required=False, max_length=1000)
    if phone is not None:
        if find_by_code_and_phone(case.tracking_code, phone) is None:
            raise _deny()
        channel = channel or RatingChannel.TRACKING
        if channel not in (RatingChannel.TRACKING, RatingChannel.SMS_LINK):
            raise _invalid("channel", _("请选择有效的选项"), "choice")
    else:
        if not _is_applicant_account(actor, case):
            raise _deny()
        channel = RatingChannel.PAGE
    row = _begin(actor, case, EventKind.RATED, expected_version, authorise=False)
    before = row.status
    backdated = now is not None
    now = now or timezone.now()
    rating = Rating.objects.create(
        case=row,
        round=row.reply_count,
        resolved=bool(resolved),
        satisfaction=satisfaction,
        efficiency=efficiency,
        leader_rating=leader_rating,
        comment=text,
        channel=channel,
        rated_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if backdated:
        _backdate(Rating, now, pk=rating.pk)
    fields = ["step_due_at"]
    row.step_due_at = None
    if satisfaction == Satisfaction.DISSATISFIED:
        row.status = S.DISSATISFIED
    else:
        row.status = S.CLOSED
        row.outcome = Outcome.RESOLVED if resolved else Outcome.UNRESOLVED
        row.closed_at = now
        fields += ["outcome", "closed_at"]
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.RATED,
        from_status=before,
        fields=fields,
        note=text,
        data={"round": row.reply_count, "resolved": bool(resolved), "satisfaction": satisfaction, "channel": channel},
    )
    if row.status == S.DISSATISFIED:
        label = {"case": _case_label(row)}
        _tell(office_users(row), row, _("群众不满意，请研究重办或提级：%(case)s") % label, text[:100], "office")
        _tell(unit_users(_handling_unit_ids(row)), row, _("群众对答复不满意：%(case)s") % label, text[:100], "units")
    return _sync(case, row)


@transaction.atomic
def case_rework(
    *, actor: Any, case: Case, note: str = "", expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    """The office sends a dissatisfied case back to the lead unit for another round (重办)."""
    text = _text(note, "note", "", required=False, max_length=1000)
    row = _begin(actor, case, EventKind.REWORKED, expected_version)
    if row.rework_round >= max_rework_rounds():
        raise _invalid(
            "status",
            _("已重办%(n)d次，请提级或报上级审核按不合理诉求办结") % {"n": row.rework_round},
            "rework_exhausted",
        )
    before = row.status
    now = now or timezone.now()
    row.status = S.IN_PROGRESS
    row.rework_round += 1
    row.step_due_at = deadlines.step_deadline(row, LimitStep.REWORK, now)
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.REWORKED,
        from_status=before,
        fields=["rework_round", "step_due_at"],
        note=text,
        data={"round": row.rework_round},
    )
    _tell(
        unit_users(_handling_unit_ids(row)),
        row,
        _("重办（第%(n)d次）：%(case)s") % {"n": row.rework_round, "case": _case_label(row)},
        text[:100],
        "units",
    )
    return _sync(case, row)


@transaction.atomic
def case_close(
    *,
    actor: Any,
    case: Case,
    resolved: bool,
    note: str,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """The office closes a replied case whose follow-up period ended without a rating, recording the follow-up."""
    text = _text(note, "note", _("回访情况"), max_length=1000)
    row = _begin(actor, case, EventKind.CLOSED, expected_version)
    now = now or timezone.now()
    if row.step_due_at is not None and now < row.step_due_at:
        raise _invalid("status", _("回访评价期未满，请等待群众评价"), "followup_running")
    before = row.status
    row.status = S.CLOSED
    row.outcome = Outcome.RESOLVED if resolved else Outcome.UNRESOLVED
    row.closed_at = now
    row.step_due_at = None
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.CLOSED,
        from_status=before,
        fields=["outcome", "closed_at", "step_due_at"],
        note=text,
        data={"resolved": bool(resolved)},
    )
    _tell_applicant(row, _("您反映的事项（%(number)s）已办结") % {"number": row.number})
    return _sync(case, row)


@transaction.atomic
def case_close_unreasonable(
    *, actor: Any, case: Case, note: str, expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    """After the rework rounds, the level above reviews and closes the case as 不合理诉求."""
    text = _text(note, "note", _("审核意见"), max_length=1000)
    row = _begin(actor, case, EventKind.CLOSED_UNREASONABLE, expected_version)
    if row.rework_round < max_rework_rounds():
        raise _invalid("status", _("重办次数未满，不能按不合理诉求办结"), "rework_remaining")
    before = row.status
    row.status = S.CLOSED
    row.outcome = Outcome.UNREASONABLE
    row.closed_at = now = now or timezone.now()
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.CLOSED_UNREASONABLE,
        from_status=before,
        fields=["outcome", "closed_at"],
        note=text,
    )
    _tell_applicant(row, _("您反映的事项（%(number)s）经审核已办结") % {"number": row.number}, text[:100])
    return _sync(case, row)


# --- Extensions, escalation, merging -------------------------------------------------------------------------------


@transaction.atomic
def case_extension_request(
    *,
    actor: Any,
    case: Case,
    days: int,
    reason: str,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> ExtensionRequest:
    """The lead unit asks for more working days, before the deadline has passed."""
    text = _text(reason, "reason", _("延期理由"), max_length=1000)
    if not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise _invalid("days", _("延期天数须为1至%(n)d个工作日") % {"n": MAX_EXTENSION_DAYS}, "days")
    row = _begin(actor, case, EventKind.EXTENSION_REQUESTED, expected_version)
    assert row.due_at is not None and row.lead_unit is not None
    backdated = now is not None
    now = now or timezone.now()
    if now >= row.due_at:
        raise _invalid("days", _("已超过办理时限，不能再申请延期"), "overdue")
    if ExtensionRequest.objects.filter(case=row, status=RequestStatus.PENDING).exists():
        raise _invalid("days", _("已有延期申请待审批"), "pending")
    request = ExtensionRequest.objects.create(
        case=row,
        requested_by=actor,
        unit=row.lead_unit,
        reason=text,
        days=days,
        old_due_at=row.due_at,
        requested_due_at=deadlines.add_working_days(row.due_at, days),
    )
    if backdated:
        _backdate(ExtensionRequest, now, pk=request.pk)
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.EXTENSION_REQUESTED,
        from_status=row.status,
        fields=[],
        note=text,
        unit=row.lead_unit,
        data={"request": request.pk, "days": days, "requested_due_at": request.requested_due_at.isoformat()},
    )
    _tell(
        office_users(row, rules.level_above(row.level)),
        row,
        _("延期申请待审批：%(case)s") % {"case": _case_label(row)},
        text[:100],
        "reviewer",
    )
    return request


@transaction.atomic
def case_extension_decide(
    *,
    actor: Any,
    case: Case,
    approve: bool,
    note: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> ExtensionRequest:
    """The level above approves (the deadline moves) or refuses the pending extension request."""
    text = _text(note, "note", _("审批意见"), required=not approve, max_length=1000)
    row = _begin(actor, case, EventKind.EXTENSION_DECIDED, expected_version)
    request = ExtensionRequest.objects.select_for_update().filter(case=row, status=RequestStatus.PENDING).first()
    if request is None:
        raise _invalid("status", _("没有待审批的延期申请"), "no_request")
    now = now or timezone.now()
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
    request.decided_by = actor
    request.decided_at = now
    request.decision_note = text
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    fields: list[str] = []
    if approve:
        row.due_at = request.requested_due_at
        fields.append("due_at")
        if row.status == S.IN_PROGRESS:
            # The handling step ends with the whole case (see case_contact), so it moves too.
            row.step_due_at = row.due_at
            fields.append("step_due_at")
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.EXTENSION_DECIDED,
        from_status=row.status,
        fields=fields,
        note=text,
        data={
            "request": request.pk,
            "approved": bool(approve),
            "due_at": row.due_at.isoformat() if row.due_at else None,
        },
    )
    _tell(
        unit_users(_handling_unit_ids(row)),
        row,
        (_("延期申请已同意：%(case)s") if approve else _("延期申请未同意：%(case)s")) % {"case": _case_label(row)},
        text[:100],
        "units",
    )
    return request


@transaction.atomic
def case_escalate(
    *,
    actor: Any,
    case: Case,
    reason: str,
    note: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """Moves a case up one level (村 → 镇 → 县), to be dispatched there anew.

    Reasons: ``overdue`` (the deadline has passed), ``rework_exhausted`` (dissatisfied after the
    last rework round), ``beyond_capacity`` (the office of the case's level only). The new level
    gets a fresh clock and fresh rework rounds when it dispatches; a pending extension is refused.
    """
    _choice(reason, EscalationReason.ALL, "reason")
    text = _text(note, "note", _("说明"), required=reason == EscalationReason.BEYOND_CAPACITY, max_length=1000)
    row = _begin(actor, case, EventKind.ESCALATED, expected_version)
    if row.level == CaseLevel.COUNTY:
        raise _invalid("level", _("县级案件不能再提级"), "top_level")
    now = now or timezone.now()
    if reason == EscalationReason.OVERDUE and (row.due_at is None or now <= row.due_at):
        raise _invalid("reason", _("尚未超过办理时限"), "not_overdue")
    if reason == EscalationReason.REWORK_EXHAUSTED and (
        row.status != S.DISSATISFIED or row.rework_round < max_rework_rounds()
    ):
        raise _invalid("reason", _("重办次数未满"), "rework_remaining")
    if reason == EscalationReason.BEYOND_CAPACITY and not rules.is_office(actor, row):
        raise _deny()
    before = row.status
    old_level = row.level
    old_unit = row.lead_unit
    ExtensionRequest.objects.filter(case=row, status=RequestStatus.PENDING).update(
        status=RequestStatus.REFUSED, decided_by=actor, decided_at=now, decision_note=_("案件已提级")
    )
    row.status = S.TRIAGED
    row.level = rules.level_above(old_level)
    row.lead_unit = None
    row.step_due_at = None
    row.signed_at = row.first_contact_at = None
    row.rework_round = 0
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.ESCALATED,
        from_status=before,
        fields=["level", "lead_unit", "step_due_at", "signed_at", "first_contact_at", "rework_round"],
        note=text,
        data={
            "reason": reason,
            "from_level": old_level,
            "to_level": row.level,
            "from_unit": old_unit.pk if old_unit else None,
        },
    )
    row.co_units.clear()
    _tell(
        office_users(row),
        row,
        _("提级案件待派单：%(case)s") % {"case": _case_label(row)},
        EscalationReason.LABELS[reason],
        "office",
    )
    return _sync(case, row)


@transaction.atomic
def case_merge(
    *,
    actor: Any,
    case: Case,
    into: Case,
    note: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """Merges a duplicate (not yet dispatched) into another open case.

    The duplicate closes as 已合并; its parties and timeline stay with it.
    """
    if into.pk == case.pk:
        raise _invalid("into", _("不能合并到自身"), "self")
    # Lock both rows in id order, so two merges of the same pair in opposite directions cannot deadlock.
    locked = {
        c.pk: c
        for c in Case.objects.select_for_update(of=("self",))
        .select_related("region")
        .filter(pk__in=[case.pk, into.pk])
        .order_by("pk")
    }
    target = locked.get(into.pk)
    if target is None:
        raise _invalid("into", _("目标案件不存在"), "missing")
    if not rules.is_office(actor, target):
        raise _deny()
    row = _begin(actor, case, EventKind.MERGED, expected_version)
    if target.status in FINAL_STATES:
        raise _invalid("into", _("目标案件已办结或已合并"), "final")
    before = row.status
    row.status = S.MERGED
    row.merged_into = target
    row.closed_at = now = now or timezone.now()
    _finish(
        row,
        at=now,
        actor=actor,
        kind=EventKind.MERGED,
        from_status=before,
        fields=["merged_into", "closed_at"],
        note=_text(note, "note", "", required=False, max_length=1000),
        data={"into": target.pk, "into_number": target.number},
    )
    _tell_applicant(
        row,
        _("您反映的事项（%(number)s）已与%(other)s合并办理") % {"number": row.number, "other": target.number},
    )
    return _sync(case, row)


# --- Turning a case into a need on the community's problem list -----------------------------------------------


def _normalized_text(text: str) -> tuple[str, str]:
    """The text without blanks (upper case) and its digits alone, to find names, ID and phone numbers in it."""
    compact = "".join(text.split()).upper()
    return compact, "".join(ch for ch in compact if ch.isdigit())


def _check_no_party_data(case: Case, **texts: str) -> None:
    """Refuses text that names a party of the case or carries their phone or ID number.

    Names of one character are not searched (a surname alone would refuse ordinary words).
    """
    parties = list(Party.objects.filter(case=case).only("name", "phone", "id_number", "role"))
    for field, text in texts.items():
        compact, digits = _normalized_text(text)
        for party in parties:
            name = "".join(party.name.split())
            phone = normalize_phone(party.phone) if party.phone else ""
            id_number = (party.id_number or "").strip().upper()
            if (
                (len(name) >= 2 and name.upper() in compact)
                or (len(phone) >= 7 and phone in digits)
                or (id_number and (id_number in compact or id_number[:17] in digits))
            ):
                raise _invalid(
                    field,
                    _("内容含有当事人的姓名、电话或身份证号，请删除后再提交（社区议题对群众公开）"),
                    "party_data",
                )


@transaction.atomic
def case_to_need(
    *,
    actor: Any,
    case: Case,
    title: str,
    description: str,
    category: str,
    expected_version: int | None = None,
) -> Case:
    """The office turns a case that is really a public problem into a need on its community's problem list.

    Title and description are typed by staff and must not carry the parties' data (checked); the
    need is raised by the staff member for the community (channel 矛盾纠纷转入) and listed at once
    (``need_screen``). The case records the need and goes on in its own state: the applicant's own
    dispute still gets its answer and rating. Once per case; only an office that may also manage the
    community's problem list (村/镇工作人员) — a county department cannot.
    """
    row = _begin(actor, case, EventKind.TO_NEED, expected_version)
    community = needs.community_of(row.region)
    if community is None or not needs.can_screen(actor, needs.Need(region=community)):
        raise _deny()
    if row.need_id is not None:
        raise _invalid("case", _("该案件已转为社区议题"), "already_converted")
    title_text = _text(title, "title", _("议题标题"), max_length=100)
    description_text = _text(description, "description", _("议题内容"), max_length=5000)
    _check_no_party_data(row, title=title_text, description=description_text)
    need = needs.need_record_for_community(
        actor=actor, region=row.region, title=title_text, description=description_text, category=category
    )
    problem = needs.need_screen(
        actor=actor, needs=[need], title=title_text, description=description_text, category=category
    )
    row.need = need
    _finish(
        row,
        actor=actor,
        kind=EventKind.TO_NEED,
        from_status=row.status,
        fields=["need"],
        note=title_text,
        data={"need": need.pk, "problem": problem.pk},
    )
    return _sync(case, row)


# --- Evidence on a case (optional photos and files) -----------------------------------------------------------

MAX_CASE_FILES = 6


def _check_uploads(uploads: Sequence[Any]) -> list[Any]:
    """Refuses too many files, or any too large or of a refused type, before a single one is stored."""
    files = [u for u in uploads if u]
    if len(files) > MAX_CASE_FILES:
        raise _invalid("attachments", _("一次最多上传%(n)d个文件") % {"n": MAX_CASE_FILES}, "too_many")
    for upload in files:
        try:
            evidence.check_upload(upload)
        except ValidationError as exc:
            name = str(getattr(upload, "name", "") or "")[:100]
            code = getattr(exc, "code", None) or "file_type"
            raise _invalid("attachments", f"{name}：{' '.join(exc.messages)}", code) from exc
    return files


@transaction.atomic
def case_attach(*, actor: Any, case: Case, uploads: Sequence[Any], description: str = "") -> list[Attachment]:
    """Adds optional evidence to a case (photos of the site, a mediation agreement …).

    Who may: ``rules.may_attach_to_case`` (handlers, co-units, the recorder, the applicant's account);
    the files follow the case's own visibility (``rules._case_attachment_rule``). All files are
    checked first, so a refused one stores none. Not a transition: no event, no version bump — an
    upload must not make the handlers' open pages stale.
    """
    if not access.may_attach(actor, case):
        raise _deny()
    text = _text(description, "description", _("说明"), required=False, max_length=200)
    files = _check_uploads(uploads)
    return [evidence.attachment_add(actor=actor, target=case, upload=upload, description=text) for upload in files]


@transaction.atomic
def case_register_with_attachments(*, uploads: Sequence[Any] = (), **fields: Any) -> Case:
    """``case_register`` plus optional photos or files taken at intake, in one transaction: a refused
    file registers nothing (the intake form shows the error and keeps what was typed)."""
    files = _check_uploads(uploads)
    case = case_register(**fields)
    if files:
        case_attach(actor=fields["actor"], case=case, uploads=files, description=_("受理时上传"))
    return case
