"""Following and rating a case with tracking code + phone, without an account."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied

from cocreate.cases import services, tracking
from cocreate.cases.models import Rating, Satisfaction
from cocreate.cases.tests import helpers as h
from cocreate.conftest import World
from cocreate.core import crypto

pytestmark = pytest.mark.django_db


def _visitor_case(world: World, status: str = h.S.REGISTERED):
    case = h.register_for_visitor(world)
    for step in h.PATHS[status]:
        case = step(world, case)
    return case


def test_code_and_phone_find_the_case_masked(world: World) -> None:
    case = _visitor_case(world, h.S.REPLIED)
    for code, phone in (
        (case.tracking_code, h.NON_ACCOUNT_PHONE),
        (case.tracking_code.lower(), "+86 138-1234-5678"),
        (f" {case.tracking_code[:5]}-{case.tracking_code[5:]} ", "0086 13812345678"),
    ):
        tracked = tracking.case_track(code=code, phone=phone)
        assert tracked is not None, (code, phone)
        assert tracked.number == case.number
        assert tracked.applicant_phone == "138****5678" and tracked.applicant_name == "王**"
        assert tracked.can_rate and tracked.answer == "已约双方调解，达成协议"
        assert [s.label for s in tracked.steps][:3] == ["登记", "受理", "研判分级"]
    # Nothing in the view carries the full phone, the ID number or a staff member's name.
    text = repr(tracking.case_track(code=case.tracking_code, phone=h.NON_ACCOUNT_PHONE))
    for secret in (h.NON_ACCOUNT_PHONE, "990101195001011234", h.lead(world).display_name, "电话联系了申请人"):
        assert secret not in text


def test_the_answer_shown_by_code_masks_every_party_named_in_it(world: World) -> None:
    case = _visitor_case(world, h.S.IN_PROGRESS)
    services.case_reply(
        actor=h.lead(world),
        case=case,
        answer="已约李四（13911110000）与王大妈面谈，身份证990101195001011234已核对，达成协议。",
    )
    tracked = tracking.case_track(code=case.tracking_code, phone=h.NON_ACCOUNT_PHONE)
    assert tracked is not None
    assert tracked.answer == "已约李*（139****0000）与王**面谈，身份证9901**********1234已核对，达成协议。"


def test_wrong_phone_or_code_finds_nothing(world: World) -> None:
    case = _visitor_case(world)
    other = h.register(world)  # the resident's own case: a real code with another phone
    for code, phone in (
        (case.tracking_code, "13812345679"),
        (case.tracking_code, ""),
        (other.tracking_code, h.NON_ACCOUNT_PHONE),
        ("ABCDEFGHJK", h.NON_ACCOUNT_PHONE),
        ("", h.NON_ACCOUNT_PHONE),
        (case.tracking_code[:-1], h.NON_ACCOUNT_PHONE),
    ):
        assert tracking.case_track(code=code, phone=phone) is None, (code, phone)


def test_no_shortcut_for_an_unknown_code(world: World) -> None:
    """A wrong code costs the same digest comparison as a wrong phone: the timing tells nothing."""
    case = _visitor_case(world)
    calls: list[tuple[str, str]] = []
    real = crypto.digest_matches

    def spy(value: str, stored: str) -> bool:
        calls.append((value, stored))
        return real(value, stored)

    with mock.patch.object(crypto, "digest_matches", spy):
        assert tracking.find_by_code_and_phone("ZZZZZZZZZZ", h.NON_ACCOUNT_PHONE) is None
        assert tracking.find_by_code_and_phone(case.tracking_code, "13800000000") is None
        assert tracking.find_by_code_and_phone(case.tracking_code, h.NON_ACCOUNT_PHONE) == case
    assert len(calls) == 3


def test_rating_by_code_and_phone_goes_through_the_same_service(world: World) -> None:
    case = _visitor_case(world, h.S.REPLIED)
    args = {
        "actor": None,
        "case": case,
        "resolved": True,
        "satisfaction": Satisfaction.SATISFIED,
        "efficiency": Satisfaction.BASIC,
        "leader_rating": Satisfaction.SATISFIED,
    }
    before = h.snapshot(case)
    with pytest.raises(PermissionDenied):
        services.case_rate(**args, phone="13800000000")
    with pytest.raises(PermissionDenied):
        services.case_rate(**args)  # no account and no phone
    with pytest.raises(PermissionDenied):
        services.case_rate(**{**args, "actor": h.applicant(world)})  # an account, but not this case's applicant
    assert h.snapshot(case) == before
    services.case_rate(**args, phone="+86 13812345678", channel="sms_link")
    rating = Rating.objects.get(case=case)
    assert (rating.channel, rating.rated_by, rating.round) == ("sms_link", None, 1)
    assert case.status == h.S.CLOSED and case.outcome == "resolved"
    tracked = tracking.case_track(code=case.tracking_code, phone=h.NON_ACCOUNT_PHONE)
    assert tracked is not None and not tracked.can_rate


def test_tracking_codes_avoid_ambiguous_characters() -> None:
    codes = {tracking.new_tracking_code() for _i in range(200)}
    assert len(codes) == 200
    assert not set("".join(codes)) & set("01OIL")
