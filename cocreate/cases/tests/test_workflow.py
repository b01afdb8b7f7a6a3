"""The workflow's own rules: intake by channel, decline reasons, returns, rework rounds, extensions,
escalation, merging, closing, notifications."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from cocreate.cases import services
from cocreate.cases.models import (
    Case,
    CaseChannel,
    CaseEvent,
    CaseLevel,
    CaseReturn,
    CaseStatus,
    EventKind,
    ExtensionRequest,
    Party,
    PartyRole,
    Rating,
    RequestStatus,
    ReturnDecision,
    Satisfaction,
)
from cocreate.cases.tests import helpers as h
from cocreate.conftest import World
from cocreate.core.models import Notification, OutboxMessage, Role, Unit, UnitKind

pytestmark = pytest.mark.django_db
S = CaseStatus


def _codes(exc: ValidationError) -> dict[str, str]:
    return {field: str(errors[0].code) for field, errors in exc.error_dict.items()}


def _refused(call: Any, case: Case, *, code: str | None = None, denied: bool = False) -> None:
    """``call`` is refused — with ``code`` or as PermissionDenied — and nothing changes."""
    before = h.snapshot(case)
    if denied:
        with pytest.raises(PermissionDenied):
            call()
    else:
        with pytest.raises(ValidationError) as exc:
            call()
        if code is not None:
            assert code in _codes(exc.value).values(), _codes(exc.value)
    assert h.snapshot(case) == before


# --- Intake -------------------------------------------------------------------------------------------


def test_register_numbers_codes_parties_and_first_event(world: World) -> None:
    first = h.register(world)
    second = h.register_for_visitor(world)
    year = timezone.localtime().year
    assert first.number == f"{year}-000001"
    assert second.number == f"{year}-000002"
    for case in (first, second):
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{10}", case.tracking_code)
        assert case.status == S.REGISTERED and case.version == 1 and case.level == CaseLevel.VILLAGE
        event = CaseEvent.objects.get(case=case)
        assert (event.kind, event.from_status, event.to_status, event.version) == ("registered", "", "registered", 1)
    assert first.tracking_code != second.tracking_code
    own = Party.objects.get(case=first, role=PartyRole.APPLICANT)
    assert own.person == h.applicant(world).person and own.phone == "13700000000"
    visitor = Party.objects.get(case=second, role=PartyRole.APPLICANT)
    assert (visitor.name, visitor.phone, visitor.person) == ("王大妈", h.NON_ACCOUNT_PHONE, None)
    assert Party.objects.filter(case=second, role=PartyRole.OTHER_PARTY).count() == 1


def test_register_tells_the_office_and_texts_an_applicant_without_account(world: World) -> None:
    case = h.register_for_visitor(world)
    assert Notification.objects.filter(user=h.office(world), title__contains=case.number).count() == 1
    assert not Notification.objects.filter(user=h.reviewer(world)).exists()  # a village case stays in the village
    sms = OutboxMessage.objects.get(recipient=h.NON_ACCOUNT_PHONE)
    assert case.tracking_code in sms.body and case.number in sms.body
    # An applicant with an account is told in the app, not by SMS.
    own = h.register(world)
    assert Notification.objects.filter(user=h.applicant(world), title__contains=own.tracking_code).count() == 1
    assert not OutboxMessage.objects.filter(recipient="13700000000").exists()


@pytest.mark.parametrize(
    ("role", "channel", "region", "allowed"),
    [
        (Role.RESIDENT, CaseChannel.SELF, "village_a", True),
        (Role.RESIDENT, CaseChannel.ONLINE, "grid_a", True),
        (Role.RESIDENT, CaseChannel.SELF, "village_a2", False),  # not the resident's village
        (Role.RESIDENT, CaseChannel.WALKIN, "village_a", False),
        (Role.GRID_WORKER, CaseChannel.VISIT, "grid_a", True),
        (Role.GRID_WORKER, CaseChannel.VISIT, "village_a2", False),
        (Role.GRID_WORKER, CaseChannel.ONSITE, "grid_a", False),
        (Role.VILLAGE_STAFF, CaseChannel.ONSITE, "village_a", True),
        (Role.VILLAGE_STAFF, CaseChannel.WALKIN, "village_a2", False),
        (Role.TOWN_STAFF, CaseChannel.WALKIN, "village_a2", True),
        (Role.DEPT_STAFF, CaseChannel.WALKIN, "village_a", True),
        (Role.SCHOOL_STAFF, CaseChannel.ONSITE, "village_a", False),
        (Role.INSPECTOR, CaseChannel.WALKIN, "village_a", False),
        ("outside_staff", CaseChannel.WALKIN, "village_a", False),
        ("outside_staff", CaseChannel.WALKIN, "village_b", True),
    ],
)
def test_who_may_register_through_which_channel(
    world: World, role: str, channel: str, region: str, allowed: bool
) -> None:
    actor = world.users[role]
    applicant = services.PartyData(name="张三", phone="13812340000")

    def call() -> Case:
        return services.case_register(
            actor=actor, region=world.regions[region], channel=channel, description="纠纷", applicant=applicant
        )

    if allowed:
        assert call().status == S.REGISTERED
    else:
        with pytest.raises((PermissionDenied, ValidationError)):
            call()
        assert not Case.objects.filter(description="纠纷").exists()


def test_intake_level_follows_who_registers(world: World) -> None:
    applicant = services.PartyData(name="张三", phone="13812340000")
    for role, level in (
        (Role.VILLAGE_STAFF, CaseLevel.VILLAGE),
        (Role.TOWN_STAFF, CaseLevel.TOWN),
        (Role.DEPT_STAFF, CaseLevel.COUNTY),
    ):
        case = services.case_register(
            actor=world.user(role),
            region=world.regions["village_a"],
            channel=CaseChannel.WALKIN,
            description="来访",
            applicant=applicant,
        )
        assert case.level == level, role


def test_register_refuses_bad_input_and_stores_nothing(world: World) -> None:
    actor = world.user(Role.VILLAGE_STAFF)
    base: dict[str, Any] = {
        "actor": actor,
        "region": world.regions["village_a"],
        "channel": CaseChannel.WALKIN,
        "description": "纠纷",
        "applicant": services.PartyData(name="张三", phone="13812340000"),
    }
    bad: list[tuple[dict[str, Any], str]] = [
        ({"description": "  "}, "description"),
        ({"applicant": services.PartyData(name="张三")}, "applicant_phone"),
        ({"applicant": services.PartyData(phone="13812340000")}, "applicant_name"),
        ({"applicant": services.PartyData(name="张三", phone="12ab")}, "applicant_phone"),
        ({"applicant": services.PartyData(name="张三", phone="13812340000", id_number="1234")}, "applicant_id_number"),
        ({"channel": "fax"}, "channel"),
        ({"urgency": "whenever"}, "urgency"),
        ({"region": world.regions["town_a"]}, "region"),
        ({"other_parties": [services.PartyData(name="x")] * 11}, "other_parties"),
    ]
    for change, field in bad:
        with pytest.raises(ValidationError) as exc:
            services.case_register(**{**base, **change})
        assert field in exc.value.error_dict, (change, exc.value)
    assert Case.objects.filter(description="纠纷").count() == 0
    # An anonymous applicant needs no name, but still a phone to follow the case.
    case = services.case_register(
        **{**base, "applicant": services.PartyData(phone="13812340000"), "is_anonymous": True}
    )
    assert case.is_anonymous


def test_anonymous_users_cannot_register(world: World) -> None:
    with pytest.raises(PermissionDenied):
        services.case_register(
            actor=None, region=world.regions["village_a"], channel=CaseChannel.ONLINE, description="x"
        )


# --- Decline and answer on the spot ------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["litigation", "arbitration", "emergency", "no_content"])
def test_decline_with_each_reason(world: World, reason: str) -> None:
    case = h.case_in(world, S.REGISTERED)
    services.case_decline(actor=h.office(world), case=case, reason=reason, note="内容为空白")
    case.refresh_from_db()
    assert (case.status, case.decline_reason) == (S.DECLINED, reason)
    assert case.closed_at is not None
    assert CaseEvent.objects.get(case=case, kind=EventKind.DECLINED).data == {"reason": reason}
    assert Notification.objects.filter(user=h.applicant(world), title__contains="不予受理").count() == 1


def test_decline_needs_a_valid_reason_and_for_no_content_an_explanation(world: World) -> None:
    case = h.case_in(world, S.REGISTERED)
    office = h.office(world)
    _refused(lambda: services.case_decline(actor=office, case=case, reason="boring"), case, code="choice")
    _refused(lambda: services.case_decline(actor=office, case=case, reason="no_content"), case, code="required")


def test_answer_on_the_spot_closes_with_the_answer(world: World) -> None:
    case = h.case_in(world, S.REGISTERED)
    _refused(lambda: services.case_answer_on_spot(actor=h.office(world), case=case, answer=" "), case, code="required")
    services.case_answer_on_spot(actor=h.office(world), case=case, answer="已解释宅基地政策")
    case.refresh_from_db()
    assert (case.status, case.outcome, case.answer) == (S.CLOSED, "answered", "已解释宅基地政策")
    assert h.t(case.replied_at) == case.closed_at


# --- Triage and dispatch ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("risk", "complexity", "level"),
    [
        ("low", "simple", CaseLevel.VILLAGE),
        ("medium", "simple", CaseLevel.TOWN),
        ("low", "complex", CaseLevel.COUNTY),
        ("high", "simple", CaseLevel.COUNTY),
    ],
)
def test_triage_suggests_the_level(world: World, risk: str, complexity: str, level: int) -> None:
    case = h.case_in(world, S.ACCEPTED)
    services.case_triage(actor=h.office(world), case=case, category=h.category(), risk=risk, complexity=complexity)
    case.refresh_from_db()
    assert case.level == level
    assert CaseEvent.objects.get(case=case, kind="triaged").data["suggested"] == level


def test_triage_to_the_town_tells_the_town_office(world: World) -> None:
    case = h.case_in(world, S.ACCEPTED)
    services.case_triage(
        actor=h.office(world), case=case, category=h.category(), risk="low", complexity="simple", level=CaseLevel.TOWN
    )
    assert case.level == CaseLevel.TOWN
    assert Notification.objects.filter(user=h.reviewer(world), title__contains="待派单").count() == 1


def test_dispatch_only_to_units_at_the_cases_level_and_area(world: World) -> None:
    case = h.case_in(world, S.TRIAGED)
    office = h.office(world)
    for unit in (world.units["town_office"], world.units["village_a2_committee"], world.units["outside"]):
        _refused(lambda u=unit: services.case_dispatch(actor=office, case=case, lead_unit=u), case, code="unit")
    _refused(
        lambda: services.case_dispatch(
            actor=office, case=case, lead_unit=world.units["school"], co_units=[world.units["dept"]]
        ),
        case,
        code="unit",
    )
    services.case_dispatch(
        actor=office, case=case, lead_unit=world.units["school"], co_units=[world.units["village_committee"]]
    )
    case.refresh_from_db()
    assert case.lead_unit == world.units["school"]
    assert list(case.co_units.all()) == [world.units["village_committee"]]
    assert h.t(case.dispatched_at) is not None and h.t(case.due_at) > h.t(case.step_due_at) > h.t(case.dispatched_at)
    # The lead unit's and the co-unit's staff are told once each.
    assert Notification.objects.filter(user=h.lead(world), title__contains="新派单").count() == 1
    assert Notification.objects.filter(user=office, title__contains="新派单").count() == 1


# --- Returns ----------------------------------------------------------------------------------------------


def test_return_needs_a_reason_and_goes_to_the_level_above(world: World) -> None:
    case = h.case_in(world, S.DISPATCHED)
    _refused(lambda: services.case_return(actor=h.lead(world), case=case, reason=""), case, code="required")
    services.case_return(actor=h.lead(world), case=case, reason="不属学校职责")
    assert CaseReturn.objects.get(case=case).decision == ReturnDecision.PENDING
    assert Notification.objects.filter(user=h.reviewer(world), title__contains="退单").count() == 1
    # The village office that dispatched it does not decide its own dispatch.
    _refused(
        lambda: services.case_return_decide(actor=h.office(world), case=case, redispatch=False, note="x"),
        case,
        denied=True,
    )


def test_return_redispatched_to_another_unit_keeps_the_whole_deadline(world: World) -> None:
    case = h.case_in(world, S.RETURNED)
    due = h.t(case.due_at)
    town = h.reviewer(world)
    _refused(
        lambda: services.case_return_decide(actor=town, case=case, redispatch=True, lead_unit=world.units["school"]),
        case,
        code="unit",
    )
    _refused(lambda: services.case_return_decide(actor=town, case=case, redispatch=False), case, code="required")
    services.case_return_decide(
        actor=town, case=case, redispatch=True, lead_unit=world.units["village_committee"], note="改由村委会办理"
    )
    case.refresh_from_db()
    assert (case.status, case.lead_unit, h.t(case.due_at)) == (S.DISPATCHED, world.units["village_committee"], due)
    ret = CaseReturn.objects.get(case=case)
    assert (ret.decision, ret.new_lead_unit, ret.decided_by) == ("redispatched", world.units["village_committee"], town)
    # The school is no longer the lead unit.
    _refused(lambda: services.case_sign(actor=h.lead(world), case=case), case, denied=True)
    services.case_sign(actor=h.office(world), case=case)  # village staff are the committee's staff


def test_return_sent_back_to_the_same_unit(world: World) -> None:
    case = h.case_in(world, S.RETURNED)
    services.case_return_decide(actor=h.reviewer(world), case=case, redispatch=False, note="属学校周边管理")
    assert (case.status, case.lead_unit) == (S.DISPATCHED, world.units["school"])
    assert CaseReturn.objects.get(case=case).decision == "sent_back"
    services.case_sign(actor=h.lead(world), case=case)


# --- Contact, reply, rating ----------------------------------------------------------------------------------


def test_contact_time_must_lie_between_dispatch_and_now(world: World) -> None:
    case = h.case_in(world, S.SIGNED)
    lead = h.lead(world)
    for when in (h.t(case.dispatched_at) - timedelta(minutes=1), timezone.now() + timedelta(hours=1)):
        _refused(
            lambda w=when: services.case_contact(actor=lead, case=case, note="电话", contacted_at=w), case, code="time"
        )
    when = h.t(case.dispatched_at) + (timezone.now() - h.t(case.dispatched_at)) / 2
    services.case_contact(actor=lead, case=case, note="电话", contacted_at=when)
    assert case.first_contact_at == when
    assert h.t(case.step_due_at) <= h.t(case.due_at)


def test_reply_asks_the_applicant_to_rate(world: World) -> None:
    case = h.register_for_visitor(world)
    for step in h.PATHS[S.REPLIED]:
        case = step(world, case)
    sms = OutboxMessage.objects.filter(recipient=h.NON_ACCOUNT_PHONE, body__contains="答复").get()
    assert case.tracking_code in sms.body
    assert case.reply_count == 1 and h.t(case.step_due_at) > h.t(case.replied_at)


def test_rating_satisfied_closes_and_dissatisfied_waits_for_rework(world: World) -> None:
    closed = h.case_in(world, S.REPLIED)
    h.rate(world, closed, Satisfaction.BASIC, resolved=False)
    assert (closed.status, closed.outcome) == (S.CLOSED, "unresolved")
    unhappy = h.case_in(world, S.REPLIED)
    h.rate(world, unhappy, Satisfaction.DISSATISFIED, resolved=False)
    assert unhappy.status == S.DISSATISFIED and unhappy.closed_at is None
    rating = Rating.objects.get(case=unhappy)
    assert (rating.round, rating.channel, rating.rated_by) == (1, "page", h.applicant(world))
    assert Notification.objects.filter(user=h.office(world), title__contains="不满意").count() == 1
    assert Notification.objects.filter(user=h.lead(world), title__contains="不满意").count() == 1


def test_rating_refuses_invalid_values(world: World) -> None:
    case = h.case_in(world, S.REPLIED)
    _refused(
        lambda: services.case_rate(
            actor=h.applicant(world),
            case=case,
            resolved=True,
            satisfaction="great",
            efficiency="basic",
            leader_rating="basic",
        ),
        case,
        code="choice",
    )


# --- Rework rounds -------------------------------------------------------------------------------------------


def _dissatisfied_again(world: World, case: Case) -> None:
    services.case_rework(actor=h.office(world), case=case, note="请重新调解")
    services.case_reply(actor=h.lead(world), case=case, answer="再次调解")
    h.rate(world, case, Satisfaction.DISSATISFIED, resolved=False)


@override_settings(CASES_MAX_REWORK_ROUNDS=2)
def test_rework_rounds_then_escalate(world: World) -> None:
    case = h.case_in(world, S.DISSATISFIED)
    # Before the rounds are used up, neither 不合理诉求 nor escalation for that reason.
    _refused(
        lambda: services.case_close_unreasonable(actor=h.reviewer(world), case=case, note="无理"),
        case,
        code="rework_remaining",
    )
    _refused(
        lambda: services.case_escalate(actor=h.office(world), case=case, reason="rework_exhausted"),
        case,
        code="rework_remaining",
    )
    _dissatisfied_again(world, case)
    _dissatisfied_again(world, case)
    assert case.rework_round == 2 and case.reply_count == 3
    assert list(Rating.objects.filter(case=case).values_list("round", flat=True)) == [1, 2, 3]
    _refused(lambda: services.case_rework(actor=h.office(world), case=case), case, code="rework_exhausted")
    services.case_escalate(actor=h.office(world), case=case, reason="rework_exhausted")
    case.refresh_from_db()
    assert (case.status, case.level, case.lead_unit, case.rework_round) == (S.TRIAGED, CaseLevel.TOWN, None, 0)
    assert not case.co_units.exists()
    assert Notification.objects.filter(user=h.reviewer(world), title__contains="提级").count() == 1
    # The town dispatches it anew to a town unit; the clock restarts for the town.
    town_unit = Unit.objects.create(name="甲镇司法所", kind=UnitKind.DEPARTMENT, region=world.regions["town_a"])
    services.case_dispatch(actor=h.reviewer(world), case=case, lead_unit=town_unit)
    assert case.status == S.DISPATCHED and case.signed_at is None


@override_settings(CASES_MAX_REWORK_ROUNDS=1)
def test_rework_rounds_then_closed_as_unreasonable_by_the_level_above(world: World) -> None:
    case = h.case_in(world, S.DISSATISFIED)
    _dissatisfied_again(world, case)
    _refused(lambda: services.case_close_unreasonable(actor=h.office(world), case=case, note="无理"), case, denied=True)
    _refused(
        lambda: services.case_close_unreasonable(actor=h.reviewer(world), case=case, note=""), case, code="required"
    )
    services.case_close_unreasonable(actor=h.reviewer(world), case=case, note="经审核，诉求超出政策范围")
    case.refresh_from_db()
    assert (case.status, case.outcome) == (S.CLOSED, "unreasonable")
    assert Notification.objects.filter(user=h.applicant(world), title__contains="经审核").count() == 1


# --- Extensions ------------------------------------------------------------------------------------------------


def test_extension_requested_before_the_deadline_and_approved_moves_it(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    lead, town = h.lead(world), h.reviewer(world)
    old_due = h.t(case.due_at)
    _refused(lambda: services.case_extension_request(actor=lead, case=case, days=0, reason="x"), case, code="days")
    _refused(lambda: services.case_extension_request(actor=lead, case=case, days=3, reason=""), case, code="required")
    request = services.case_extension_request(actor=lead, case=case, days=3, reason="需要做土地测量")
    assert request.requested_due_at > old_due and request.status == RequestStatus.PENDING
    assert Notification.objects.filter(user=town, title__contains="延期申请").count() == 1
    _refused(
        lambda: services.case_extension_request(actor=lead, case=case, days=2, reason="再延"), case, code="pending"
    )
    # Neither the unit itself nor the village office approves.
    for user in (lead, h.office(world)):
        _refused(lambda u=user: services.case_extension_decide(actor=u, case=case, approve=True), case, denied=True)
    services.case_extension_decide(actor=town, case=case, approve=True, note="同意")
    case.refresh_from_db()
    request.refresh_from_db()
    assert (request.status, request.decided_by) == (RequestStatus.APPROVED, town)
    assert h.t(case.due_at) == request.requested_due_at and h.t(case.step_due_at) == h.t(case.due_at)
    assert Notification.objects.filter(user=lead, title__contains="已同意").count() == 1
    _refused(lambda: services.case_extension_decide(actor=town, case=case, approve=True), case, code="no_request")


def test_extension_refused_needs_a_note_and_keeps_the_deadline(world: World) -> None:
    case = h.case_in(world, S.SIGNED)
    services.case_extension_request(actor=h.lead(world), case=case, days=2, reason="等待鉴定")
    _refused(
        lambda: services.case_extension_decide(actor=h.reviewer(world), case=case, approve=False), case, code="required"
    )
    due = h.t(case.due_at)
    services.case_extension_decide(actor=h.reviewer(world), case=case, approve=False, note="时限内可以办结")
    case.refresh_from_db()
    assert h.t(case.due_at) == due
    assert ExtensionRequest.objects.get(case=case).status == RequestStatus.REFUSED


def test_no_extension_after_the_deadline(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    with mock.patch("django.utils.timezone.now", return_value=h.t(case.due_at) + timedelta(seconds=1)):
        _refused(
            lambda: services.case_extension_request(actor=h.lead(world), case=case, days=3, reason="来不及"),
            case,
            code="overdue",
        )
    with mock.patch("django.utils.timezone.now", return_value=h.t(case.due_at) - timedelta(seconds=1)):
        services.case_extension_request(actor=h.lead(world), case=case, days=3, reason="赶在时限前申请")
    assert ExtensionRequest.objects.filter(case=case).count() == 1


# --- Escalation -------------------------------------------------------------------------------------------------


def test_escalation_when_overdue_by_the_level_above(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    services.case_extension_request(actor=h.lead(world), case=case, days=3, reason="等待")
    town = h.reviewer(world)
    _refused(lambda: services.case_escalate(actor=town, case=case, reason="overdue"), case, code="not_overdue")
    # Only the case's own office may say "beyond our capacity".
    _refused(
        lambda: services.case_escalate(actor=town, case=case, reason="beyond_capacity", note="x"), case, denied=True
    )
    _refused(
        lambda: services.case_escalate(actor=h.lead(world), case=case, reason="beyond_capacity", note="x"),
        case,
        denied=True,
    )
    with mock.patch("django.utils.timezone.now", return_value=h.t(case.due_at) + timedelta(hours=1)):
        services.case_escalate(actor=town, case=case, reason="overdue", note="超期提级")
    case.refresh_from_db()
    assert (case.status, case.level) == (S.TRIAGED, CaseLevel.TOWN)
    # A pending extension dies with the escalation.
    assert ExtensionRequest.objects.get(case=case).status == RequestStatus.REFUSED
    event = CaseEvent.objects.get(case=case, kind=EventKind.ESCALATED)
    assert event.data["from_level"] == CaseLevel.VILLAGE and event.data["to_level"] == CaseLevel.TOWN


def test_a_county_case_cannot_be_escalated(world: World) -> None:
    case = h.case_in(world, S.ACCEPTED)
    services.case_triage(actor=h.office(world), case=case, category=h.category(), risk="high", complexity="complex")
    services.case_dispatch(actor=world.user(Role.DEPT_STAFF), case=case, lead_unit=world.units["dept"])
    _refused(
        lambda: services.case_escalate(
            actor=world.user(Role.DEPT_STAFF), case=case, reason="beyond_capacity", note="x"
        ),
        case,
        code="top_level",
    )


# --- Merge, close --------------------------------------------------------------------------------------------------


def test_merge_closes_the_duplicate_and_keeps_its_parties_and_timeline(world: World) -> None:
    duplicate = h.case_in(world, S.ACCEPTED)
    target = h.case_in(world, S.DISPATCHED)
    office = h.office(world)
    _refused(lambda: services.case_merge(actor=office, case=duplicate, into=duplicate), duplicate, code="self")
    closed = h.case_in(world, S.CLOSED)
    _refused(lambda: services.case_merge(actor=office, case=duplicate, into=closed), duplicate, code="final")
    _refused(lambda: services.case_merge(actor=h.lead(world), case=duplicate, into=target), duplicate, denied=True)
    services.case_merge(actor=office, case=duplicate, into=target, note="同一事项")
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into, duplicate.closed_at is not None) == (S.MERGED, target, True)
    assert Party.objects.filter(case=duplicate).count() == 1
    assert CaseEvent.objects.filter(case=duplicate).count() == 3
    assert list(target.merged_cases.all()) == [duplicate]
    target.refresh_from_db()
    assert target.status == S.DISPATCHED and target.version == 4  # the target itself did not move


def test_merge_into_a_case_of_another_area_is_refused(world: World) -> None:
    duplicate = h.case_in(world, S.REGISTERED)
    outside = world.extra["cases"]["outside_case"]
    _refused(lambda: services.case_merge(actor=h.office(world), case=duplicate, into=outside), duplicate, denied=True)


def test_close_without_rating_only_after_the_follow_up_period(world: World) -> None:
    case = h.case_in(world, S.REPLIED)
    office = h.office(world)
    _refused(
        lambda: services.case_close(actor=office, case=case, resolved=True, note="回访"), case, code="followup_running"
    )
    with mock.patch("django.utils.timezone.now", return_value=h.t(case.step_due_at) + timedelta(minutes=1)):
        _refused(lambda: services.case_close(actor=office, case=case, resolved=True, note=""), case, code="required")
        services.case_close(actor=office, case=case, resolved=False, note="多次联系未评价")
    case.refresh_from_db()
    assert (case.status, case.outcome) == (S.CLOSED, "unresolved")


def test_each_transition_notifies_once_even_if_the_notification_is_recorded_twice(world: World) -> None:
    case = h.case_in(world, S.TRIAGED)
    services.case_dispatch(actor=h.office(world), case=case, lead_unit=world.units["school"])
    # The same event's notification again (a retried job) finds its dedupe key and adds nothing.
    services._tell(services.unit_users([world.units["school"].pk]), case, "again", "", "units")
    assert Notification.objects.filter(user=h.lead(world)).count() == 1
