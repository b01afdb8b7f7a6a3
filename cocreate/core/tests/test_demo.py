"""The demo loader: complete, consistent, deterministic and idempotent."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count

from cocreate.conftest import World
from cocreate.core.demo import COUNTY_CODE, DEMO_PASSWORD, ROLE_PHONES, SUPERUSER_PHONE, _members
from cocreate.core.models import (
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


def _snapshot() -> dict[str, int]:
    counts = {
        "regions": Region.objects.count(),
        "units": Unit.objects.count(),
        "people": Person.objects.count(),
        "households": Household.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
    }
    for model in (Region, Unit, Person, Household, Membership):
        counts[f"history:{model.__name__}"] = model.history.count()
    counts["verified"] = Person.objects.filter(verified_at__isnull=False).count()
    return counts


def _run(tmp_path: Path, *args: str) -> str:
    import io

    out = io.StringIO()
    call_command("demo", *args, "--accounts-file", str(tmp_path / "accounts.txt"), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_builds_a_complete_county_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    output = _run(tmp_path)

    county = Region.objects.get(code=COUNTY_CODE)
    assert county.name == "红安县" and county.path == "/42/4211/421122/"
    towns = Region.objects.filter(parent=county, level=RegionLevel.TOWN)
    villages = Region.objects.filter(parent__in=towns, level=RegionLevel.VILLAGE)
    assert towns.count() == 3
    assert villages.count() == 12
    assert all(v.parent is not None and v.parent.parent_id == county.pk for v in villages)
    grid_counts = villages.annotate(n=Count("children")).values_list("n", flat=True)
    assert set(grid_counts) <= {2, 3} and len(grid_counts) == 12
    for town in towns:
        assert villages.filter(parent=town).count() == 4
        offices = set(Unit.objects.filter(region=town).values_list("short_name", flat=True))
        assert {
            "党政办",
            "党群办",
            "经发办",
            "规建环办",
            "社会事务办",
            "社区事务服务中心",
            "城市管理服务中心",
        } <= offices
    for village in villages:
        assert Unit.objects.filter(
            region=village, kind__in=[UnitKind.VILLAGE_COMMITTEE, UnitKind.RESIDENTS_COMMITTEE]
        ).exists()
    assert Unit.objects.filter(kind=UnitKind.SCHOOL).count() == 2
    assert {"县住建局", "县民政局", "县教育局"} <= set(
        Unit.objects.filter(region=county).values_list("short_name", flat=True)
    )

    households = Household.objects.filter(region__path__startswith=county.path)
    assert 190 <= households.count() <= 210
    assert not households.filter(head__isnull=True).exists()
    for household in households.select_related("head", "region"):
        assert household.head is not None and household.head.household_id == household.pk
        assert household.head.relation == HouseholdRelation.HEAD
        assert household.region.level == RegionLevel.GRID
    members = Person.objects.filter(household__isnull=False)
    assert 2.2 <= members.count() / households.count() <= 3.8
    assert not members.exclude(region_id__in=households.values("region_id")).exists()
    village_staff = User.objects.get(phone=ROLE_PHONES[Role.VILLAGE_STAFF])
    verified = members.filter(verified_by=village_staff).count()
    assert 0.75 <= verified / members.count() < 1.0

    for role in Role:
        user = User.objects.get(phone=ROLE_PHONES[role])
        assert user.check_password(DEMO_PASSWORD)
        assert Membership.objects.filter(user=user, role=role, is_active=True).count() == 1
        assert ROLE_PHONES[role] in output
    assert User.objects.get(phone=SUPERUSER_PHONE).is_superuser
    # The resident's account is the head of a real household of the village it belongs to.
    resident = User.objects.get(phone=ROLE_PHONES[Role.RESIDENT])
    assert resident.person is not None and resident.person.relation == HouseholdRelation.HEAD
    table = (tmp_path / "accounts.txt").read_text(encoding="utf-8")
    assert table.count(DEMO_PASSWORD) == len(Role) + 1

    first = _snapshot()
    names = sorted(Person.objects.values_list("name", flat=True))
    again = _run(tmp_path)
    assert _snapshot() == first
    assert sorted(Person.objects.values_list("name", flat=True)) == names
    assert "created 0 regions, 0 units, 0 households, 0 people, 0 accounts, 0 memberships" in again


def test_household_generation_is_deterministic() -> None:
    """Names come from a RNG seeded per household, not from the order or time of loading."""
    region = Region(code="421122100201001", name="第一网格", level=RegionLevel.GRID)

    def generate(seed: str) -> list[tuple[str, str, str, Any]]:
        members = _members(random.Random(seed), Household(number="201001", region=region), region, head_phone="")
        return [(p.name, p.relation, p.gender, p.birth_date) for p in members]

    assert generate("2026:a") == generate("2026:a")
    many = {tuple(generate(f"2026:{n}")) for n in range(20)}
    assert len(many) == 20


@pytest.mark.django_db
def test_if_empty_loads_when_only_national_regions_exist(tmp_path: Path) -> None:
    call_command("load_areas", "--province", "42")
    _run(tmp_path, "--if-empty")
    assert Region.objects.filter(code=COUNTY_CODE).get().children.count() == 3


def test_if_empty_leaves_an_existing_database_alone(world: World, tmp_path: Path) -> None:
    before = _snapshot()
    output = _run(tmp_path, "--if-empty")
    assert "nothing loaded" in output
    assert _snapshot() == before
    assert not Region.objects.filter(code=COUNTY_CODE).exists()
    assert not (tmp_path / "accounts.txt").exists()
