"""The navigation menu: each role's entries, built once per process per role set and language."""

from __future__ import annotations

import pytest
from django.utils import translation

from cocreate.conftest import World
from cocreate.core.access import forget_scope
from cocreate.core.models import Membership, Role
from cocreate.core.navigation import navigation_for

pytestmark = pytest.mark.django_db


def names(user: object) -> list[str]:
    return [item["name"] for item in navigation_for(user)]


def test_each_role_sees_its_entries_and_a_new_role_shows_at_once(world: World) -> None:
    resident, staff = world.user(Role.RESIDENT), world.user(Role.VILLAGE_STAFF)
    assert "participation:need_mine" in names(resident)
    assert "participation:need_screening" not in names(resident)
    assert "participation:need_screening" in names(staff)
    # Memberships change: the cached menu of the old role set is not reused.
    Membership.objects.create(user=resident, role=Role.GRID_WORKER, region=world.regions["grid_a"])
    forget_scope(resident)
    assert "participation:need_screening" in names(resident)
    assert navigation_for(None) == []


def test_the_menu_follows_the_language_and_callers_cannot_spoil_the_cache(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    with translation.override("zh-hans"):
        chinese = navigation_for(staff)
        chinese[0]["label"] = "被改掉"  # a caller editing its copy
        assert navigation_for(staff)[0]["label"] != "被改掉"
    with translation.override("en"):
        english = navigation_for(staff)
    assert [i["url"] for i in chinese] == [i["url"] for i in english]
    assert [i["label"] for i in chinese] != [i["label"] for i in english]
