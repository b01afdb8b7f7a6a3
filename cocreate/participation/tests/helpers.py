"""Building voters fast for vote tests: a fresh village with verified people, households, owners."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from cocreate.conftest import World
from cocreate.core.models import Household, Person, Region, RegionLevel, Role, User
from cocreate.participation import votes
from cocreate.participation.models import Estate, PropertyUnit, Vote, VoteRule

PASSWORD = "Vote-Test-2026"
NOW = timezone.make_aware(datetime(2026, 6, 1, 9, 0))


def village(world: World, code: str = "990101001003", name: str = "丙村") -> Region:
    town = world.regions["town_a"]
    return Region.objects.create(code=code, name=name, level=RegionLevel.VILLAGE, parent=town)


def people(
    region: Region, n: int, *, adult: bool = True, representative: bool = False, party: bool = False
) -> list[Person]:
    born = date(1970, 5, 1) if adult else date(2015, 5, 1)
    rows = [
        Person(
            name=f"村民{i:03d}",
            region=region,
            birth_date=born,
            verified_at=timezone.now(),
            is_representative=representative,
            is_party_member=party,
        )
        for i in range(n)
    ]
    Person.objects.bulk_create(rows)
    return list(Person.objects.filter(region=region).order_by("-pk")[:n])[::-1]


def households(region: Region, members: list[list[Person]]) -> list[Household]:
    result = []
    for i, group in enumerate(members):
        household = Household.objects.create(number=f"H{region.code[-3:]}-{i:03d}", region=region)
        Person.objects.filter(pk__in=[p.pk for p in group]).update(household=household)
        result.append(household)
    return result


def account(person: Person) -> User:
    """An account for a person (no password hashing cost: tests log in with force_login)."""
    user = User(phone=f"15{person.pk:09d}"[-11:], person=person, display_name=person.name)
    user.set_unusable_password()
    user.save()
    return user


def estate_with_owners(region: Region, areas: list[Decimal | int]) -> tuple[Estate, list[Person]]:
    estate = Estate.objects.create(region=region, name=f"{region.name}小区")
    owners = people(region, len(areas))
    for i, (owner, area) in enumerate(zip(owners, areas, strict=True)):
        PropertyUnit.objects.create(estate=estate, region=region, number=f"1-{i + 1:03d}", area=area, owner=owner)
    return estate, owners


def open_vote(world: World, region: Region, rule_code: str, **extra: Any) -> Vote:
    staff = world.user(Role.TOWN_STAFF)
    vote = votes.vote_create(
        actor=staff,
        region=region,
        title="村道硬化工程",
        rule=VoteRule.objects.get(code=rule_code),
        opens_at=NOW - timedelta(hours=1),
        closes_at=NOW + timedelta(days=7),
        **extra,
    )
    return votes.vote_open(actor=staff, vote=vote, now=NOW)
