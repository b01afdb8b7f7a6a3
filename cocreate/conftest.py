"""Shared test fixtures: a small world of two counties and one account per role.

Everything any role may see lives in county A (代码 990101). County B (990102) holds one of
every kind of record, each named with the marker ``OUTSIDE_MARKER``; no role in the fixture
may ever see one of those, so a test can search any response body for the marker.

Records that must never be public — drafts, objections, comments, a declined need's reason, the
full name of a person who raised a public need — also carry ``PRIVATE_MARKER``; a community's
public page (no login) may show county B's records but never one of those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cocreate.core.models import (
    AuditAction,
    AuditEvent,
    Household,
    HouseholdRelation,
    Membership,
    Person,
    Region,
    RegionLevel,
    Role,
    Unit,
    UnitKind,
    User,
)

OUTSIDE_MARKER = "ZZOUT"
PRIVATE_MARKER = "ZZPRIV"
PASSWORD = "cocreate-test-pw"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    """Uploaded files of a test go to its own temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }


@dataclass
class World:
    """The regions, units, people and accounts of the standard test world."""

    regions: dict[str, Region] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    # Records added by other apps' tests/world.py, by app label then key.
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)

    def user(self, role: str) -> User:
        return self.users[role]


def _region(code: str, name: str, level: int, parent: Region | None) -> Region:
    return Region.objects.create(code=code, name=name, level=level, parent=parent)


def _account(phone: str, name: str, region: Region, household: Household | None = None) -> User:
    person = Person.objects.create(name=name, phone=phone, region=region, household=household)
    user = User.objects.create_user(phone=phone, password=PASSWORD, person=person, display_name=name)
    return user


# Where each role's account holds its membership (region key in World.regions).
ROLE_PLACES: dict[str, str] = {
    Role.RESIDENT: "village_a",
    Role.GRID_WORKER: "grid_a",
    Role.VILLAGE_STAFF: "village_a",
    Role.TOWN_STAFF: "town_a",
    Role.DEPT_STAFF: "county_a",
    Role.INSPECTOR: "county_a",
    Role.LEADER: "county_a",
    Role.SCHOOL_STAFF: "village_a",
    Role.ADMIN: "county_a",
    Role.AUDITOR: "county_a",
}


def build_world() -> World:
    w = World()
    r = w.regions
    r["province"] = _region("99", "测试省", RegionLevel.PROVINCE, None)
    r["city"] = _region("9901", "测试市", RegionLevel.CITY, r["province"])
    r["county_a"] = _region("990101", "甲县", RegionLevel.COUNTY, r["city"])
    r["town_a"] = _region("990101001", "甲镇", RegionLevel.TOWN, r["county_a"])
    r["village_a"] = _region("990101001001", "甲村", RegionLevel.VILLAGE, r["town_a"])
    r["grid_a"] = _region("990101001001001", "甲村一组", RegionLevel.GRID, r["village_a"])
    r["village_a2"] = _region("990101001002", "乙村", RegionLevel.VILLAGE, r["town_a"])
    r["county_b"] = _region("990102", f"{OUTSIDE_MARKER}县", RegionLevel.COUNTY, r["city"])
    r["town_b"] = _region("990102001", f"{OUTSIDE_MARKER}镇", RegionLevel.TOWN, r["county_b"])
    r["village_b"] = _region("990102001001", f"{OUTSIDE_MARKER}村", RegionLevel.VILLAGE, r["town_b"])

    u = w.units
    u["county_gov"] = Unit.objects.create(name="甲县人民政府", kind=UnitKind.GOVERNMENT, region=r["county_a"])
    u["dept"] = Unit.objects.create(name="甲县城市管理局", kind=UnitKind.DEPARTMENT, region=r["county_a"])
    u["town_office"] = Unit.objects.create(name="甲镇党政办", kind=UnitKind.GOVERNMENT, region=r["town_a"])
    u["village_committee"] = Unit.objects.create(
        name="甲村村民委员会", kind=UnitKind.VILLAGE_COMMITTEE, region=r["village_a"]
    )
    u["school"] = Unit.objects.create(name="甲村小学", kind=UnitKind.SCHOOL, region=r["village_a"])
    u["village_a2_committee"] = Unit.objects.create(
        name="乙村村民委员会", kind=UnitKind.VILLAGE_COMMITTEE, region=r["village_a2"]
    )
    u["outside"] = Unit.objects.create(
        name=f"{OUTSIDE_MARKER}委员会", kind=UnitKind.VILLAGE_COMMITTEE, region=r["village_b"]
    )

    h = w.households
    h["a"] = Household.objects.create(number="A-001", region=r["village_a"], address="甲村1号")
    h["a2"] = Household.objects.create(number="A2-001", region=r["village_a2"], address="乙村1号")
    h["outside"] = Household.objects.create(
        number=f"{OUTSIDE_MARKER}-001", region=r["village_b"], address=f"{OUTSIDE_MARKER}路1号"
    )

    unit_for_role: dict[str, Unit] = {
        Role.DEPT_STAFF: u["dept"],
        Role.TOWN_STAFF: u["town_office"],
        Role.VILLAGE_STAFF: u["village_committee"],
        Role.SCHOOL_STAFF: u["school"],
    }
    for i, (role, place) in enumerate(ROLE_PLACES.items()):
        household = h["a"] if role == Role.RESIDENT else None
        user = _account(f"1370000{i:04d}", f"{Role(role).label}甲", r[place], household)
        Membership.objects.create(user=user, role=role, region=r[place], unit=unit_for_role.get(role))
        w.users[role] = user
    resident_person = w.users[Role.RESIDENT].person
    assert resident_person is not None
    resident_person.relation = HouseholdRelation.HEAD
    resident_person.save()
    h["a"].head = resident_person
    h["a"].save()

    p = w.people
    p["a_member"] = Person.objects.create(name="甲村村民", region=r["village_a"], household=h["a"], phone="13900000001")
    p["a2"] = Person.objects.create(name="乙村村民", region=r["village_a2"], household=h["a2"], phone="13900000002")
    p["outside"] = Person.objects.create(
        name=f"{OUTSIDE_MARKER}村民", region=r["village_b"], household=h["outside"], phone="13900000003"
    )
    outside_user = User.objects.create_user(
        phone="13700009999", password=PASSWORD, person=p["outside"], display_name=f"{OUTSIDE_MARKER}村干部"
    )
    Membership.objects.create(user=outside_user, role=Role.VILLAGE_STAFF, region=r["village_b"], unit=u["outside"])
    w.users["outside_staff"] = outside_user
    # The audit trail of county B: no auditor of county A may see it.
    AuditEvent.objects.create(
        user=outside_user, user_name=f"{OUTSIDE_MARKER}村干部", action=AuditAction.WRITE, path=f"/{OUTSIDE_MARKER}/"
    )
    w.users["superuser"] = User.objects.create_superuser(phone="13799999999", password=PASSWORD)
    _extend_world_from_apps(w)
    return w


def _extend_world_from_apps(w: World) -> None:
    """Lets each app add its records (in scope and out of scope) through ``<app>/tests/world.py``.

    The route × role matrix needs an out-of-scope row of every registered model; an app adds
    them here instead of editing this file.
    """
    from importlib import import_module
    from importlib.util import find_spec

    from django.apps import apps

    for config in apps.get_app_configs():
        if not config.name.startswith("cocreate.") or config.label == "core":
            continue
        module_name = f"{config.name}.tests.world"
        if find_spec(f"{config.name}.tests") is not None and find_spec(module_name) is not None:
            import_module(module_name).extend(w)


@pytest.fixture
def world(db: Any) -> World:
    return build_world()


ROLES = list(ROLE_PLACES)


@pytest.fixture(params=ROLES)
def role(request: Any) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty cache: kept figures are keyed by ids and the highest history
    id, which repeat from one rolled-back test to the next."""
    from django.core.cache import cache

    cache.clear()
