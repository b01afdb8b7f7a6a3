"""The access authority: visibility and write rules for every role."""

from __future__ import annotations

import pytest

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core import access
from cocreate.core.models import Household, Person, Region, Role, Unit

pytestmark = pytest.mark.django_db


def test_village_staff_sees_own_village_households_only(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    numbers = set(Household.objects.visible_to(staff).values_list("number", flat=True))
    assert numbers == {"A-001"}


def test_town_staff_sees_every_village_of_the_town(world: World) -> None:
    staff = world.user(Role.TOWN_STAFF)
    numbers = set(Household.objects.visible_to(staff).values_list("number", flat=True))
    assert numbers == {"A-001", "A2-001"}


def test_resident_sees_own_household_and_its_members(world: World) -> None:
    resident = world.user(Role.RESIDENT)
    assert list(Household.objects.visible_to(resident)) == [world.households["a"]]
    names = set(Person.objects.visible_to(resident).values_list("name", flat=True))
    assert "甲村村民" in names and "乙村村民" not in names


def test_anonymous_sees_nothing(world: World) -> None:
    from django.contrib.auth.models import AnonymousUser

    anon = AnonymousUser()
    for model in (Region, Unit, Person, Household):
        assert not model.objects.visible_to(anon).exists()


@pytest.mark.parametrize("role", list(Role))
def test_no_role_sees_the_other_county(world: World, role: str) -> None:
    user = world.user(role)
    for model, field in ((Region, "name"), (Unit, "name"), (Person, "name"), (Household, "number")):
        values = model.objects.visible_to(user).values_list(field, flat=True)
        assert not any(OUTSIDE_MARKER in v for v in values), (role, model)


def test_staff_see_ancestor_regions_for_breadcrumbs(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    codes = set(Region.objects.visible_to(staff).values_list("code", flat=True))
    assert {"99", "9901", "990101", "990101001", "990101001001", "990101001001001"} <= codes
    assert "990101001002" not in codes


def test_superuser_sees_everything(world: World) -> None:
    assert Household.objects.visible_to(world.users["superuser"]).count() == Household.objects.count()


def test_write_rules(world: World) -> None:
    admin, village = world.user(Role.ADMIN), world.user(Role.VILLAGE_STAFF)
    assert access.can(admin, access.CHANGE, world.units["dept"])
    assert not access.can(admin, access.CHANGE, world.units["outside"])
    assert not access.can(village, access.CHANGE, world.units["village_committee"])
    assert access.can(village, access.CHANGE, world.households["a"])
    assert not access.can(village, access.CHANGE, world.households["a2"])
    assert access.can(village, access.VERIFY, world.people["a_member"])
    assert not access.can(world.user(Role.RESIDENT), access.VERIFY, world.people["a_member"])
    # An administrator manages regions below their own, never their own node.
    assert access.can(admin, access.CHANGE, world.regions["town_a"])
    assert not access.can(admin, access.CHANGE, world.regions["county_a"])


def test_get_visible_or_404_hides_forbidden_and_missing_alike(world: World) -> None:
    from django.http import Http404

    staff = world.user(Role.VILLAGE_STAFF)
    with pytest.raises(Http404):
        access.get_visible_or_404(Household, staff, pk=world.households["outside"].pk)
    with pytest.raises(Http404):
        access.get_visible_or_404(Household, staff, pk=10**9)
    with pytest.raises(Http404):
        access.get_visible_or_404(Household, staff, pk="not-a-number")
    assert access.get_visible_or_404(Household, staff, pk=world.households["a"].pk) == world.households["a"]


def test_unit_parent_cycles_are_refused(world: World) -> None:
    from django.core.exceptions import ValidationError

    from cocreate.core import services

    admin = world.user(Role.ADMIN)
    county, dept = world.units["county_gov"], world.units["dept"]
    services.unit_update(actor=admin, unit=dept, data={"parent": county})
    with pytest.raises(ValidationError) as err:
        services.unit_update(actor=admin, unit=county, data={"parent": dept})
    assert "parent" in err.value.message_dict
    with pytest.raises(ValidationError):
        services.unit_update(actor=admin, unit=dept, data={"parent": dept})
    county.refresh_from_db()
    assert county.parent_id is None
