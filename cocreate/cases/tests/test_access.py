"""Who sees cases and their records, and who sees parties' personal data in full (logged)."""

from __future__ import annotations

import pytest
from django.db.models import Model

from cocreate.cases import selectors, services
from cocreate.cases.models import (
    Case,
    CaseEvent,
    CaseLevel,
    CaseReturn,
    CaseStatus,
    ExtensionRequest,
    Party,
    PartyRole,
    Rating,
)
from cocreate.cases.tests import helpers as h
from cocreate.conftest import OUTSIDE_MARKER, ROLES, World
from cocreate.core import access
from cocreate.core.models import PersonalDataAccess, Role

pytestmark = pytest.mark.django_db

# Who sees the world's village-level case in 甲村 (led by the village committee, raised by the resident).
SEES_WORLD_CASE = {Role.RESIDENT, Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.INSPECTOR, Role.LEADER}
STAFF_RECORDS = (ExtensionRequest, CaseReturn)
ALL_RECORDS: tuple[type[Model], ...] = (Case, Party, CaseEvent, Rating, *STAFF_RECORDS)


def _visible(model: type[Model], user: object) -> set[int]:
    return set(access.visible(model._default_manager.all(), user).values_list("pk", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_the_world_case_or_not_and_never_the_outside_one(world: World, role: str) -> None:
    user = world.user(role)
    records = world.extra["cases"]
    case_seen = role in SEES_WORLD_CASE
    assert (records["case"].pk in _visible(Case, user)) == case_seen
    followers: list[tuple[type[Model], str]] = [(Party, "applicant"), (CaseEvent, "event"), (Rating, "rating")]
    for model, key in followers:
        assert (records[key].pk in _visible(model, user)) == case_seen, model
    staff_only: list[tuple[type[Model], str]] = [(ExtensionRequest, "extension"), (CaseReturn, "return")]
    for model, key in staff_only:
        assert (records[key].pk in _visible(model, user)) == (case_seen and role != Role.RESIDENT), model
    outside_rows: dict[type[Model], Model] = {
        Case: records["outside_case"],
        Party: records["outside_applicant"],
        CaseEvent: records["outside_event"],
        Rating: records["outside_rating"],
        ExtensionRequest: records["outside_extension"],
        CaseReturn: records["outside_return"],
    }
    for model in ALL_RECORDS:
        assert outside_rows[model].pk not in _visible(model, user)


def test_anonymous_users_see_no_case(world: World) -> None:
    for model in ALL_RECORDS:
        assert not access.visible(model._default_manager.all(), None).exists()


def test_visibility_follows_the_level_and_the_handling_units(world: World) -> None:
    case = h.case_in(world, h.S.DISPATCHED)  # village level, led by the school
    school, village, town = h.lead(world), h.office(world), h.reviewer(world)
    assert case.pk in _visible(Case, school)  # the lead unit's staff, though school staff see no other case
    assert world.extra["cases"]["case"].pk not in _visible(Case, school)
    services.case_escalate(actor=village, case=case, reason="beyond_capacity", note="涉及镇里规划")
    assert case.level == CaseLevel.TOWN
    # A town-level case is no longer the village's, nor the school's (no longer its lead unit).
    for user in (village, school):
        access.forget_scope(user)
        assert case.pk not in _visible(Case, user)
    assert case.pk in _visible(Case, town)
    assert case.pk in _visible(Case, world.user(Role.INSPECTOR))
    # The applicant and whoever recorded it still see it.
    assert case.pk in _visible(Case, h.applicant(world))


def test_co_units_see_the_case_and_the_recorder_keeps_seeing_theirs(world: World) -> None:
    visit = h.register_for_visitor(world)
    grid = world.user(Role.GRID_WORKER)
    assert _visible(Case, grid) == {visit.pk}  # grid workers see only what they recorded
    case = h.case_in(world, h.S.TRIAGED)
    services.case_dispatch(
        actor=h.office(world), case=case, lead_unit=world.units["village_committee"], co_units=[world.units["school"]]
    )
    assert case.pk in _visible(Case, h.lead(world))


def test_other_residents_do_not_see_a_neighbours_case(world: World) -> None:
    from cocreate.participation.tests.helpers import account

    neighbour = account(world.people["a_member"])
    assert not Case.objects.visible_to(neighbour).exists()


# --- Personal data -------------------------------------------------------------------------------------------


def _display(user: object, party: Party) -> dict[str, str]:
    return selectors.party_display(user=user, party=party, context="test")


def test_handling_staff_see_parties_in_full_and_each_showing_is_logged(world: World) -> None:
    case = h.register_for_visitor(world)
    for step in h.PATHS[h.S.DISPATCHED]:
        case = step(world, case)
    party = Party.objects.get(case=case, role=PartyRole.APPLICANT)
    for user in (h.lead(world), h.office(world)):
        before = PersonalDataAccess.objects.count()
        shown = _display(user, party)
        assert shown == {"name": "王大妈", "phone": h.NON_ACCOUNT_PHONE, "id_number": "990101195001011234"}
        log = PersonalDataAccess.objects.order_by("-id")[0]
        assert PersonalDataAccess.objects.count() == before + 1
        assert (log.user, log.object_id, log.fields) == (user, str(party.pk), "id_number,name,phone")
    # Readers who do not handle the case see it masked, and nothing is logged.
    before = PersonalDataAccess.objects.count()
    for user in (world.user(Role.INSPECTOR), world.user(Role.LEADER), h.reviewer(world), world.user(Role.GRID_WORKER)):
        shown = _display(user, party)
        assert shown["phone"] == "138****5678"
        assert shown["id_number"] == "9901**********1234"
        assert shown["name"] == "王**"
    assert PersonalDataAccess.objects.count() == before


def test_an_anonymous_applicant_is_shown_in_full_only_to_the_office(world: World) -> None:
    case = h.case_in(world, h.S.DISPATCHED, is_anonymous=True)
    party = Party.objects.get(case=case, role=PartyRole.APPLICANT)
    assert _display(h.lead(world), party)["phone"] == "137****0000"
    assert _display(h.office(world), party)["phone"] == "13700000000"


def test_case_get_gives_404_for_out_of_scope_and_missing_alike(world: World) -> None:
    from django.http import Http404

    outside = world.extra["cases"]["outside_case"]
    for pk in (outside.pk, 999999):
        with pytest.raises(Http404):
            selectors.case_get(user=h.office(world), pk=pk)
    assert selectors.case_get(user=h.office(world), pk=world.extra["cases"]["case"].pk).title == "宅基地边界纠纷"
    assert OUTSIDE_MARKER not in "".join(selectors.case_list(user=h.office(world)).values_list("title", flat=True))


def test_generic_change_permission_is_the_handling_rule(world: World) -> None:
    case = h.case_in(world, h.S.DISPATCHED)
    assert access.can(h.lead(world), access.CHANGE, case)
    assert access.can(h.office(world), access.CHANGE, case)
    assert not access.can(h.reviewer(world), access.CHANGE, case)
    assert not access.can(world.user(Role.INSPECTOR), access.CHANGE, case)
    assert not access.can(h.office(world), access.DELETE, case)
    assert access.can(h.reviewer(world), access.VIEW, case)
    assert case.status == CaseStatus.DISPATCHED
