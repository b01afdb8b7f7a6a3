"""Estates and property units: who may record them, owners from the estate's region, and the
xlsx import that takes every row or none and names each bad row."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from cocreate.conftest import World
from cocreate.core.models import Person, Role
from cocreate.participation import estates
from cocreate.participation.models import Estate, PropertyUnit

pytestmark = pytest.mark.django_db


def xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header or ["房号", "面积", "业主姓名", "业主身份证号后四位", "手机号"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def estate(world: World) -> Estate:
    return estates.estate_create(
        actor=world.user(Role.VILLAGE_STAFF), region=world.regions["village_a"], name="和美小区"
    )


@pytest.fixture
def owners(world: World) -> list[Person]:
    region = world.regions["village_a"]
    return [
        Person.objects.create(name="张三", region=region, id_number="42010119800101123X"),
        Person.objects.create(name="李四", region=region, phone="13911112222"),
        Person.objects.create(name="王五", region=world.regions["grid_a"], id_number="420101198001015678"),
    ]


def test_who_may_create_estates(world: World) -> None:
    region = world.regions["village_a"]
    for role in (Role.VILLAGE_STAFF, Role.TOWN_STAFF):
        assert estates.estate_create(actor=world.user(role), region=region, name=f"{role}小区").pk
    for role in (Role.RESIDENT, Role.GRID_WORKER):
        with pytest.raises(PermissionDenied):
            estates.estate_create(actor=world.user(role), region=region, name="不该有")
    with pytest.raises(PermissionDenied):
        estates.estate_create(actor=world.users["outside_staff"], region=region, name="不该有")
    with pytest.raises(ValidationError) as err:
        estates.estate_create(actor=world.user(Role.VILLAGE_STAFF), region=region, name=f"{Role.TOWN_STAFF}小区")
    assert "name" in err.value.message_dict
    assert not Estate.objects.filter(name="不该有").exists()


def test_unit_owner_must_live_in_the_estate_region(world: World, estate: Estate, owners: list[Person]) -> None:
    staff = world.user(Role.TOWN_STAFF)
    unit = estates.unit_create(actor=staff, estate=estate, number="1-101", area=Decimal("88.456"), owner=owners[2])
    assert unit.area == Decimal("88.46") and unit.region == estate.region
    with pytest.raises(ValidationError) as err:
        estates.unit_create(actor=staff, estate=estate, number="1-102", area=Decimal("60"), owner=world.people["a2"])
    assert "owner" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        estates.unit_create(actor=staff, estate=estate, number="1-101", area=Decimal("0"), owner=owners[0])
    assert set(err.value.message_dict) == {"number", "area"}
    with pytest.raises(PermissionDenied):
        estates.unit_create(
            actor=world.user(Role.RESIDENT), estate=estate, number="1-103", area=Decimal("60"), owner=owners[0]
        )
    assert PropertyUnit.objects.filter(estate=estate).count() == 1


def test_owners_see_their_own_units_only(world: World, estate: Estate) -> None:
    resident = world.user(Role.RESIDENT)
    assert resident.person is not None
    staff = world.user(Role.VILLAGE_STAFF)
    estates.unit_create(actor=staff, estate=estate, number="3-1", area=Decimal("70"), owner=resident.person)
    estates.unit_create(actor=staff, estate=estate, number="3-2", area=Decimal("70"), owner=world.people["a_member"])
    assert sorted(u.number for u in estates.my_units(user=resident)) == ["1-101", "3-1"]  # 1-101: the world's
    assert [u.number for u in estates.estate_units(user=resident, estate=estate)] == ["3-1"]


def test_import_takes_every_row(world: World, estate: Estate, owners: list[Person]) -> None:
    data = xlsx(
        [
            ["1-101", 89.5, "张三", "123x", None],
            ["1-102", "120", "李四", None, "13911112222"],
            ["1-103", 66, "王五", "5678", ""],
            [None, None, None, None, None],
        ]
    )
    created = estates.units_import(actor=world.user(Role.VILLAGE_STAFF), estate=estate, data=data)
    assert len(created) == 3
    units = {u.number: (u.area, u.owner_id) for u in PropertyUnit.objects.filter(estate=estate)}
    assert units == {
        "1-101": (Decimal("89.50"), owners[0].pk),
        "1-102": (Decimal("120.00"), owners[1].pk),
        "1-103": (Decimal("66.00"), owners[2].pk),
    }


def test_import_with_bad_rows_imports_nothing_and_lists_each_row(
    world: World, estate: Estate, owners: list[Person]
) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    estates.unit_create(actor=staff, estate=estate, number="1-100", area=Decimal("50"), owner=owners[0])
    data = xlsx(
        [
            ["1-101", 89.5, "张三", "123X", None],  # good
            ["1-100", 60, "张三", "123X", None],  # number taken
            ["1-102", -3, "李四", None, "13911112222"],  # area
            ["1-103", 70, "赵六", "0000", None],  # no such owner
            ["1-101", 70, "李四", None, "13911112222"],  # repeats row 2
            ["1-104", 70, "乙村村民", None, "13900000002"],  # lives in another village
            ["1-105", 70, "李四", None, None],  # nothing to match with
        ]
    )
    with pytest.raises(ValidationError) as err:
        estates.units_import(actor=staff, estate=estate, data=data)
    rows = err.value.message_dict["rows"]
    assert [m.split("：")[0] for m in rows] == ["第3行", "第4行", "第5行", "第6行", "第7行", "第8行"]
    assert "与第2行重复" in rows[3]
    assert PropertyUnit.objects.filter(estate=estate).count() == 1


def test_import_refuses_a_file_without_the_columns_or_not_xlsx(world: World, estate: Estate) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    with pytest.raises(ValidationError) as err:
        estates.units_import(
            actor=staff, estate=estate, data=xlsx([["1", 2, "张三"]], header=["房号", "面积", "业主姓名"])
        )
    assert "file" in err.value.message_dict
    with pytest.raises(ValidationError):
        estates.units_import(actor=staff, estate=estate, data=b"not a spreadsheet")
    with pytest.raises(PermissionDenied):
        estates.units_import(actor=world.users["outside_staff"], estate=estate, data=xlsx([]))


def test_import_page_lists_bad_rows_and_keeps_nothing(world: World, estate: Estate, owners: list[Person]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client()
    client.force_login(world.user(Role.VILLAGE_STAFF))
    url = reverse("participation:estate_import", args=[estate.pk])
    bad = SimpleUploadedFile("units.xlsx", xlsx([["1-101", "x", "张三", "123X", None]]))
    response = client.post(url, {"file": bad})
    assert response.status_code == 400 and "第2行" in response.content.decode()
    assert not PropertyUnit.objects.filter(estate=estate).exists()
    good = SimpleUploadedFile("units.xlsx", xlsx([["1-101", 80, "张三", "123X", None]]))
    assert client.post(url, {"file": good}).status_code == 302
    assert PropertyUnit.objects.filter(estate=estate).count() == 1
    outside = Client()
    outside.force_login(world.users["outside_staff"])
    assert outside.get(url).status_code == 404
