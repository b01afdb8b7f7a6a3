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


def test_the_rendered_menu_marks_one_entry_and_escapes_labels(world: World) -> None:
    from django.urls import reverse

    from cocreate.core.navigation import navigation_html

    staff = world.user(Role.VILLAGE_STAFF)

    def marked(view_name: str) -> list[str]:
        entries = str(navigation_html(staff, view_name)).split("</li>")
        return [entry for entry in entries if 'aria-current="page"' in entry]

    # need_list and need_screening share a section: the page's own entry is the one marked.
    [entry] = marked("participation:need_screening")
    assert f'href="{reverse("participation:need_screening")}"' in entry
    # A detail page marks its list's entry.
    [entry] = marked("core:household_detail")
    assert f'href="{reverse("core:household_list")}"' in entry
    assert marked("core:nothing_here") == []
    assert navigation_html(None, "core:home") == ""
    html = navigation_html(staff, "core:home")
    assert [f'href="{item["url"]}"' in html for item in navigation_for(staff)] == [True] * len(navigation_for(staff))
