"""Pages of the core app: scope, permissions, forms, verification, history, evidence, query counts."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from cocreate.conftest import OUTSIDE_MARKER, PASSWORD, World
from cocreate.core import services
from cocreate.core.models import (
    Attachment,
    Household,
    HouseholdRelation,
    Membership,
    Notification,
    Person,
    PersonalDataAccess,
    Region,
    RegionLevel,
    Role,
    Unit,
    UnitKind,
    User,
)
from cocreate.core.tests.pages import assert_in_scope, body, login

pytestmark = pytest.mark.django_db


# --- Lists: allowed roles see their scope, nothing outside ----------------------------------------


@pytest.mark.parametrize(
    ("url_name", "role", "expected", "hidden"),
    [
        ("core:region_list", Role.ADMIN, ["甲镇", "甲村", "乙村"], []),
        ("core:region_list", Role.VILLAGE_STAFF, ["甲村", "甲村一组"], ["乙村"]),
        ("core:unit_list", Role.ADMIN, ["甲县城市管理局", "乙村村民委员会"], []),
        ("core:unit_list", Role.VILLAGE_STAFF, ["甲村小学", "甲镇党政办"], ["乙村村民委员会"]),
        ("core:person_list", Role.VILLAGE_STAFF, ["甲村村民", "139****0001"], ["乙村村民", "13900000001"]),
        ("core:person_list", Role.TOWN_STAFF, ["甲村村民", "乙村村民"], ["13900000002"]),
        ("core:household_list", Role.VILLAGE_STAFF, ["A-001"], ["A2-001"]),
        ("core:household_list", Role.TOWN_STAFF, ["A-001", "A2-001"], []),
        ("core:household_list", Role.GRID_WORKER, [], ["A-001", "A2-001"]),
        ("core:membership_list", Role.ADMIN, ["村社区工作人员甲", "137****0002"], []),
        ("core:membership_list", Role.VILLAGE_STAFF, ["村社区工作人员甲"], ["乡镇街道工作人员甲"]),
    ],
)
def test_list_pages_show_only_the_scope(
    client: Client, world: World, url_name: str, role: str, expected: list[str], hidden: list[str]
) -> None:
    text = assert_in_scope(login(client, world.user(role)).get(reverse(url_name)), *expected)
    for item in hidden:
        assert item not in text, item


@pytest.mark.parametrize(
    "url_name",
    [
        "core:region_list",
        "core:unit_list",
        "core:person_list",
        "core:household_list",
        "core:membership_list",
        "core:region_create",
        "core:person_create",
        "core:household_create",
    ],
)
def test_residents_get_403_on_management_pages(client: Client, world: World, url_name: str) -> None:
    assert login(client, world.user(Role.RESIDENT)).get(reverse(url_name)).status_code == 403


def test_anonymous_is_sent_to_login(client: Client, world: World) -> None:
    response = client.get(reverse("core:household_list"))
    assert response.status_code == 302
    assert reverse("core:login") in response["Location"]


def test_person_list_filters_by_verification(client: Client, world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    services.person_verify(actor=staff, person=world.people["a_member"])
    login(client, staff)
    unverified = body(client.get(reverse("core:person_list"), {"verified": "0"}))
    verified = body(client.get(reverse("core:person_list"), {"verified": "1"}))
    assert "甲村村民" not in unverified and "甲村村民" in verified
    assert "居民甲" in unverified and "居民甲" not in verified


def test_list_search_and_empty_state(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    text = body(client.get(reverse("core:unit_list"), {"q": "城市管理"}))
    assert "甲县城市管理局" in text and "甲村小学" not in text
    empty = body(client.get(reverse("core:unit_list"), {"q": OUTSIDE_MARKER}))
    assert "没有符合条件的单位" in empty
    levels = body(client.get(reverse("core:region_list"), {"level": RegionLevel.VILLAGE}))
    assert "乙村" in levels and "甲镇</a>" not in levels


def test_region_list_paginates(client: Client, world: World, settings: Any) -> None:
    settings.PAGE_SIZE = 3
    login(client, world.user(Role.ADMIN))
    first = body(client.get(reverse("core:region_list")))
    second = body(client.get(reverse("core:region_list"), {"page": 2}))
    assert "下一页" in first and "上一页" in second
    assert len(re.findall(r'href="/regions/\d+/"', first)) == 3


def test_home_links_to_unverified_people(client: Client, world: World) -> None:
    text = body(login(client, world.user(Role.VILLAGE_STAFF)).get(reverse("core:home")))
    assert f"{reverse('core:person_list')}?verified=0" in text


# --- Query counts ---------------------------------------------------------------------------------


def _grow(world: World, n: int) -> None:
    village = world.regions["village_a"]
    staff = world.user(Role.VILLAGE_STAFF)
    for i in range(n):
        household = services.household_create(actor=staff, number=f"Q-{i:03d}", region=village)
        person = services.person_create(
            actor=staff, data={"name": f"批量{i}", "region": village, "phone": f"1360000{i:04d}"}
        )
        services.household_set_head(actor=staff, household=household, head=person)
        Unit.objects.create(name=f"批量单位{i}", kind=UnitKind.SOCIAL_ORG, region=village)
        Notification.objects.create(user=staff, title=f"通知{i}")


@pytest.mark.parametrize(
    ("url_name", "role"),
    [
        ("core:region_list", Role.ADMIN),
        ("core:unit_list", Role.ADMIN),
        ("core:person_list", Role.VILLAGE_STAFF),
        ("core:household_list", Role.VILLAGE_STAFF),
        ("core:membership_list", Role.ADMIN),
        ("core:notification_list", Role.VILLAGE_STAFF),
    ],
)
def test_list_pages_query_count_does_not_grow_with_rows(
    client: Client, world: World, url_name: str, role: str, django_assert_max_num_queries: Any
) -> None:
    _grow(world, 12)
    login(client, world.user(role))
    # Session (read and save), user, scope, count, page and a few fixed lookups: 10, never one per row.
    with django_assert_max_num_queries(11):
        response = client.get(reverse(url_name))
    assert response.status_code == 200


# --- Detail pages: by id, out of scope is 404 -------------------------------------------------------


def _detail_cases(world: World) -> list[tuple[str, Any, Any]]:
    return [
        ("core:region_detail", world.regions["village_a"], world.regions["village_a2"]),
        ("core:unit_detail", world.units["village_committee"], world.units["village_a2_committee"]),
        ("core:person_detail", world.people["a_member"], world.people["a2"]),
        ("core:household_detail", world.households["a"], world.households["a2"]),
    ]


@pytest.mark.parametrize("suffix", ["detail", "history"])
def test_detail_and_history_pages_for_village_staff(client: Client, world: World, suffix: str) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    for url_name, mine, neighbours in _detail_cases(world):
        url_name = url_name.replace("detail", suffix)
        assert_in_scope(client.get(reverse(url_name, args=[mine.pk])))
        assert client.get(reverse(url_name, args=[neighbours.pk])).status_code == 404, url_name
    outside = [world.regions["village_b"], world.units["outside"], world.people["outside"], world.households["outside"]]
    for (url_name, _mine, _n), obj in zip(_detail_cases(world), outside, strict=True):
        assert client.get(reverse(url_name.replace("detail", suffix), args=[obj.pk])).status_code == 404
    assert client.get(reverse("core:household_detail", args=[987654])).status_code == 404


def test_region_detail_breadcrumbs_children_and_units(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    text = assert_in_scope(
        client.get(reverse("core:region_detail", args=[world.regions["town_a"].pk])), "甲村", "乙村", "甲镇党政办"
    )
    crumbs = text.split('class="breadcrumb', 1)[1].split("</ol>", 1)[0]
    assert "测试省" in crumbs and "测试市" in crumbs and "甲县" in crumbs
    assert reverse("core:region_history", args=[world.regions["town_a"].pk]) in text
    assert "新增下级区划" in text


def test_person_detail_shows_full_values_only_to_those_who_may_change(client: Client, world: World) -> None:
    person = world.people["a_member"]
    person.id_number = "11010519491231002X"
    person.save()
    url = reverse("core:person_detail", args=[person.pk])
    village_staff = world.user(Role.VILLAGE_STAFF)
    village = body(login(client, village_staff).get(url))
    assert "13900000001" in village and "11010519491231002X" in village
    # Every unmasked showing is logged: who, whose record, which fields.
    log = PersonalDataAccess.objects.get(user=village_staff, object_id=str(person.pk))
    assert log.fields == "id_number,phone" and log.context.startswith("page:")
    # County department staff may see the person but not change them: masked.
    dept = body(login(Client(), world.user(Role.DEPT_STAFF)).get(url))
    assert "139****0001" in dept and "13900000001" not in dept
    assert "1101**********002X" in dept and "11010519491231002X" not in dept
    assert PersonalDataAccess.objects.count() == 1
    assert "编辑" not in dept.split("cc-person-phone")[0].split("<h1")[1]


# --- Create and edit forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url_name", "role"),
    [
        ("core:region_create", Role.VILLAGE_STAFF),
        ("core:unit_create", Role.TOWN_STAFF),
        ("core:membership_create", Role.VILLAGE_STAFF),
        ("core:person_create", Role.DEPT_STAFF),
        ("core:household_create", Role.GRID_WORKER),
    ],
)
def test_create_pages_refuse_roles_without_rights(client: Client, world: World, url_name: str, role: str) -> None:
    login(client, world.user(role))
    before = {m: m.objects.count() for m in (Region, Unit, Membership, Person, Household)}
    assert client.get(reverse(url_name)).status_code in (403, 404)
    assert client.post(reverse(url_name), {"name": "x", "number": "x"}).status_code in (403, 404)
    assert before == {m: m.objects.count() for m in (Region, Unit, Membership, Person, Household)}


def test_unit_create_offers_only_manageable_regions_and_saves(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    page = assert_in_scope(client.get(reverse("core:unit_create")), "甲村")
    assert "测试市" not in page  # ancestors are visible but not manageable
    response = client.post(
        reverse("core:unit_create"),
        {"name": "甲村老年协会", "kind": UnitKind.SOCIAL_ORG, "region": world.regions["village_a"].pk},
    )
    unit = Unit.objects.get(name="甲村老年协会")
    assert response.status_code == 302 and response["Location"] == reverse("core:unit_detail", args=[unit.pk])
    assert "已新增单位" in body(client.get(response["Location"]))


def test_invalid_form_is_reshown_with_errors_and_input_and_saves_nothing(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    count = Unit.objects.count()
    response = client.post(
        reverse("core:unit_create"),
        {"name": "", "short_name": "保留的简称", "kind": UnitKind.SOCIAL_ORG, "region": world.regions["village_a"].pk},
    )
    assert response.status_code == 400
    text = body(response)
    assert "is-invalid" in text and "id_name_error" in text and 'value="保留的简称"' in text
    # A region outside the user's management is not a valid choice.
    response = client.post(
        reverse("core:unit_create"),
        {"name": "越界单位", "kind": UnitKind.SOCIAL_ORG, "region": world.regions["village_b"].pk},
    )
    assert response.status_code == 400 and "id_region_error" in body(response)
    assert OUTSIDE_MARKER not in body(response)
    assert Unit.objects.count() == count


def test_service_validation_error_lands_next_to_the_field(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    response = client.post(
        reverse("core:region_create"),
        {"parent": world.regions["village_a"].pk, "code": "990101001001009", "name": "倒挂", "level": RegionLevel.TOWN},
    )
    assert response.status_code == 400
    assert "下级区划的层级必须低于上级区划" in body(response).split("id_level_error", 1)[1]
    assert not Region.objects.filter(code="990101001001009").exists()


def test_region_create_child_and_edit(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    town = world.regions["town_a"]
    form = body(client.get(reverse("core:region_create"), {"parent": town.pk}))
    assert f'<option value="{town.pk}" selected>' in form
    response = client.post(
        reverse("core:region_create"),
        {"parent": town.pk, "code": "990101001003", "name": "丙村", "level": RegionLevel.VILLAGE},
    )
    region = Region.objects.get(code="990101001003")
    assert response.status_code == 302 and region.parent == town
    response = client.post(reverse("core:region_edit", args=[region.pk]), {"name": "丙村社区"})
    region.refresh_from_db()
    assert response.status_code == 302 and region.name == "丙村社区" and not region.is_active
    # An administrator never edits the node their own authority hangs on.
    assert client.get(reverse("core:region_edit", args=[world.regions["county_a"].pk])).status_code == 404


def test_edit_pages_404_when_visible_but_not_changeable(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    unit = world.units["village_committee"]
    assert client.get(reverse("core:unit_edit", args=[unit.pk])).status_code == 404
    response = client.post(
        reverse("core:unit_edit", args=[unit.pk]),
        {"name": "改名", "kind": unit.kind, "region": unit.region_id},
    )
    assert response.status_code == 404
    unit.refresh_from_db()
    assert unit.name == "甲村村民委员会"


def test_unit_edit_by_admin_records_history(client: Client, world: World) -> None:
    admin = world.user(Role.ADMIN)
    login(client, admin)
    unit = world.units["dept"]
    url = reverse("core:unit_edit", args=[unit.pk])
    assert 'value="甲县城市管理局"' in body(client.get(url))
    response = client.post(
        url,
        {"name": "甲县城管局", "kind": unit.kind, "region": unit.region_id, "is_active": "on", "short_name": "城管"},
    )
    assert response.status_code == 302
    history = assert_in_scope(client.get(reverse("core:unit_history", args=[unit.pk])), "单位名称", "甲县城管局")
    assert "甲县城市管理局" in history and str(admin) in history and "简称" in history


def test_person_create_edit_and_masked_history(client: Client, world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    login(client, staff)
    village = world.regions["village_a"]
    response = client.post(
        reverse("core:person_create"),
        {"name": "新村民", "phone": "13912345678", "region": village.pk, "household": world.households["a"].pk},
    )
    assert response.status_code == 302
    person = Person.objects.get(name="新村民")
    assert person.household == world.households["a"]
    bad = client.post(
        reverse("core:person_edit", args=[person.pk]),
        {"name": "新村民", "phone": "12345", "id_number": "110105194912310021", "region": village.pk},
    )
    assert bad.status_code == 400
    person.refresh_from_db()
    assert person.phone == "13912345678"
    assert "请输入11位手机号码" in body(bad) and 'value="12345"' in body(bad)
    ok = client.post(
        reverse("core:person_edit", args=[person.pk]), {"name": "新村民", "phone": "13912340000", "region": village.pk}
    )
    assert ok.status_code == 302
    person.refresh_from_db()
    assert person.phone == "13912340000" and person.household is None
    dept_history = body(
        login(Client(), world.user(Role.DEPT_STAFF)).get(reverse("core:person_history", args=[person.pk]))
    )
    assert "139****0000" in dept_history and "13912340000" not in dept_history


def test_person_id_number_checksum_is_reported(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    response = client.post(
        reverse("core:person_create"),
        {"name": "错号", "id_number": "110105194912310021", "region": world.regions["village_a"].pk},
    )
    assert response.status_code == 400
    assert "身份证号格式或校验位不正确" in body(response).split("id_id_number_error", 1)[1]
    assert not Person.objects.filter(name="错号").exists()


# --- Verification and accounts ------------------------------------------------------------------


def test_verify_records_who_and_when(client: Client, world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    person = world.people["a_member"]
    login(client, staff)
    before = timezone.now()
    assert client.get(reverse("core:person_verify", args=[person.pk])).status_code == 405
    response = client.post(reverse("core:person_verify", args=[person.pk]))
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.verified_by == staff and person.verified_at is not None and person.verified_at >= before
    text = body(client.get(reverse("core:person_detail", args=[person.pk])))
    assert str(staff) in text.split("cc-person-verified", 1)[1].split("</dd>", 1)[0]
    client.post(reverse("core:person_unverify", args=[person.pk]))
    person.refresh_from_db()
    assert person.verified_at is None and person.verified_by is None


@pytest.mark.parametrize(
    ("role", "person_key", "status"),
    [
        (Role.VILLAGE_STAFF, "a2", 404),  # neighbour village: not visible
        (Role.VILLAGE_STAFF, "outside", 404),
        (Role.DEPT_STAFF, "a_member", 404),  # visible, but may not verify
        (Role.RESIDENT, "a_member", 403),
    ],
)
def test_denied_verify_changes_nothing(client: Client, world: World, role: str, person_key: str, status: int) -> None:
    person = world.people[person_key]
    login(client, world.user(role))
    assert client.post(reverse("core:person_verify", args=[person.pk])).status_code == status
    person.refresh_from_db()
    assert person.verified_at is None and person.verified_by is None


def test_account_create(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    person = world.people["a_member"]
    url = reverse("core:person_account_create", args=[person.pk])
    assert 'value="13900000001"' in body(client.get(url))
    weak = client.post(url, {"phone": "13900000001", "password": "123"})
    assert weak.status_code == 400 and "id_password_error" in body(weak)
    assert not User.objects.filter(phone="13900000001").exists()
    taken = client.post(url, {"phone": world.user(Role.ADMIN).phone, "password": "Gongtong-2026!"})
    assert taken.status_code == 400 and "该手机号已注册账号" in body(taken)
    ok = client.post(url, {"phone": "13900000001", "password": "Gongtong-2026!"})
    assert ok.status_code == 302
    account = User.objects.get(phone="13900000001")
    assert account.person == person and account.check_password("Gongtong-2026!")
    assert client.get(url).status_code == 302  # already has one


def test_account_create_denied_outside_and_for_viewers(client: Client, world: World) -> None:
    login(client, world.user(Role.DEPT_STAFF))
    url = reverse("core:person_account_create", args=[world.people["a_member"].pk])
    assert client.post(url, {"phone": "13900000001", "password": "Gongtong-2026!"}).status_code == 404
    login(client, world.user(Role.VILLAGE_STAFF))
    url = reverse("core:person_account_create", args=[world.people["a2"].pk])
    assert client.post(url, {"phone": "13900000002", "password": "Gongtong-2026!"}).status_code == 404
    assert not User.objects.filter(phone__in=["13900000001", "13900000002"]).exists()


# --- Households ----------------------------------------------------------------------------------


def test_household_create_and_edit(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    form = body(client.get(reverse("core:household_create")))
    assert "甲村" in form and "乙村" not in form
    response = client.post(
        reverse("core:household_create"), {"number": "A-002", "region": world.regions["village_a"].pk, "address": "2号"}
    )
    household = Household.objects.get(number="A-002")
    assert response.status_code == 302
    duplicate = client.post(
        reverse("core:household_create"), {"number": "A-002", "region": world.regions["village_a"].pk}
    )
    assert duplicate.status_code == 400 and Household.objects.filter(number="A-002").count() == 1
    client.post(reverse("core:household_edit", args=[household.pk]), {"number": "A-002", "address": "3号"})
    household.refresh_from_db()
    assert household.address == "3号"


def test_household_members_and_head(client: Client, world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    login(client, staff)
    village = world.regions["village_a"]
    household = services.household_create(actor=staff, number="A-003", region=village)
    person = services.person_create(actor=staff, data={"name": "待入户", "region": village})
    detail = reverse("core:household_detail", args=[household.pk])
    assert "待入户" in body(client.get(detail))  # offered in the add-member choice
    client.post(
        reverse("core:household_add_member", args=[household.pk]),
        {"person": person.pk, "relation": HouseholdRelation.SPOUSE},
    )
    person.refresh_from_db()
    assert person.household == household and person.relation == HouseholdRelation.SPOUSE
    client.post(reverse("core:household_set_head", args=[household.pk]), {"person": person.pk})
    household.refresh_from_db()
    assert household.head == person
    assert "待入户" in body(client.get(detail)).split("cc-household-head", 1)[1].split("</dd>", 1)[0]
    client.post(reverse("core:household_remove_member", args=[household.pk]), {"person": person.pk})
    person.refresh_from_db()
    household.refresh_from_db()
    assert person.household is None and household.head is None


def test_household_add_member_rejects_people_of_other_villages(client: Client, world: World) -> None:
    login(client, world.user(Role.TOWN_STAFF))
    household = world.households["a"]
    response = client.post(
        reverse("core:household_add_member", args=[household.pk]),
        {"person": world.people["a2"].pk, "relation": "other"},
    )
    assert response.status_code == 302
    world.people["a2"].refresh_from_db()
    assert world.people["a2"].household == world.households["a2"]
    assert "选择一个有效的选项" in body(client.get(response["Location"])) or "Select a valid choice" in body(
        client.get(response["Location"])
    )


def test_denied_household_posts_change_nothing(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    a2 = world.households["a2"]
    member = world.people["a2"]
    for name, data in (
        ("core:household_remove_member", {"person": member.pk}),
        ("core:household_set_head", {"person": member.pk}),
        ("core:household_add_member", {"person": world.people["a_member"].pk, "relation": "other"}),
        ("core:household_edit", {"number": "X", "address": "X"}),
    ):
        assert client.post(reverse(name, args=[a2.pk]), data).status_code == 404, name
    a2.refresh_from_db()
    member.refresh_from_db()
    world.people["a_member"].refresh_from_db()
    assert a2.head is None and a2.number == "A2-001" and member.household == a2
    assert world.people["a_member"].household == world.households["a"]
    # A grid worker may see the household but not change it.
    login(client, world.user(Role.GRID_WORKER))
    assert client.post(
        reverse("core:household_edit", args=[world.households["a"].pk]), {"number": "X"}
    ).status_code in (
        403,
        404,
    )


# --- Memberships ------------------------------------------------------------------------------------


def test_membership_grant_and_end(client: Client, world: World) -> None:
    admin = world.user(Role.ADMIN)
    login(client, admin)
    target = world.user(Role.RESIDENT)
    response = client.post(
        reverse("core:membership_create"),
        {"phone": target.phone, "role": Role.GRID_WORKER, "region": world.regions["grid_a"].pk, "title": "网格长"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=target, role=Role.GRID_WORKER)
    assert membership.title == "网格长"
    client.post(reverse("core:membership_end", args=[membership.pk]))
    membership.refresh_from_db()
    assert not membership.is_active and membership.ends_on == timezone.localdate()


def test_membership_create_cannot_reach_accounts_outside(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    response = client.post(
        reverse("core:membership_create"),
        {"phone": world.users["outside_staff"].phone, "role": Role.ADMIN, "region": world.regions["county_a"].pk},
    )
    assert response.status_code == 400 and "id_phone_error" in body(response)
    assert not Membership.objects.filter(user=world.users["outside_staff"], role=Role.ADMIN).exists()


def test_membership_end_denied_outside(client: Client, world: World) -> None:
    login(client, world.user(Role.ADMIN))
    outside = Membership.objects.get(user=world.users["outside_staff"])
    assert client.post(reverse("core:membership_end", args=[outside.pk])).status_code == 404
    login(client, world.user(Role.VILLAGE_STAFF))
    own = Membership.objects.get(user=world.user(Role.GRID_WORKER))
    assert client.post(reverse("core:membership_end", args=[own.pk])).status_code == 404
    outside.refresh_from_db()
    own.refresh_from_db()
    assert outside.is_active and own.is_active


# --- Notifications ------------------------------------------------------------------------------------


def test_notifications_are_private_and_can_be_marked_read(client: Client, world: World) -> None:
    mine = Notification.objects.create(user=world.user(Role.RESIDENT), title="您的诉求已受理", url="/x/")
    other = Notification.objects.create(user=world.user(Role.VILLAGE_STAFF), title="别人的通知")
    evil = Notification.objects.create(user=world.user(Role.RESIDENT), title="链接", url="javascript:alert(1)")
    login(client, world.user(Role.RESIDENT))
    text = assert_in_scope(client.get(reverse("core:notification_list")), "您的诉求已受理", 'href="/x/"')
    assert "别人的通知" not in text and "javascript:" not in text
    assert client.post(reverse("core:notification_read", args=[other.pk])).status_code == 404
    assert client.post(reverse("core:notification_read", args=[mine.pk])).status_code == 302
    mine.refresh_from_db()
    other.refresh_from_db()
    evil.refresh_from_db()
    assert mine.read_at is not None and other.read_at is None and evil.read_at is None


# --- Evidence ------------------------------------------------------------------------------------------


def _png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "照片.png"
    return buffer


def _upload(client: Client, target: Any, upload: Any, next_url: str = "/") -> Any:
    return client.post(
        reverse("core:attachment_upload"),
        {
            "content_type": ContentType.objects.get_for_model(type(target)).pk,
            "object_id": target.pk,
            "file": upload,
            "description": "现场照片",
            "next": next_url,
        },
    )


def test_attachment_upload_list_download_and_thumbnail(client: Client, world: World) -> None:
    household = world.households["a"]
    detail = reverse("core:household_detail", args=[household.pk])
    login(client, world.user(Role.VILLAGE_STAFF))
    response = _upload(client, household, _png(), detail)
    assert response.status_code == 302 and response["Location"] == detail
    attachment = Attachment.objects.get()
    assert attachment.uploaded_by == world.user(Role.VILLAGE_STAFF)
    text = assert_in_scope(client.get(detail), "照片.png", "现场照片")
    assert reverse("core:attachment_thumbnail", args=[attachment.pk]) in text
    download = client.get(reverse("core:attachment_download", args=[attachment.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download.getvalue().startswith(b"\x89PNG")
    thumb = client.get(reverse("core:attachment_thumbnail", args=[attachment.pk]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    # The neighbour village's staff can neither download nor see the thumbnail.
    login(client, world.users["outside_staff"])
    assert client.get(reverse("core:attachment_download", args=[attachment.pk])).status_code == 404
    assert client.get(reverse("core:attachment_thumbnail", args=[attachment.pk])).status_code == 404


def test_attachment_upload_refuses_html_and_out_of_scope_targets(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    page = io.BytesIO(b"<!doctype html><html><script>alert(1)</script></html>")
    page.name = "photo.jpg"
    detail = reverse("core:household_detail", args=[world.households["a"].pk])
    response = _upload(client, world.households["a"], page, detail)
    assert response.status_code == 302
    assert "不支持的文件类型" in body(client.get(detail))
    assert _upload(client, world.households["a2"], _png()).status_code == 404
    assert _upload(client, world.households["outside"], _png()).status_code == 404
    assert not Attachment.objects.exists()


def test_attachment_download_never_inline_for_text(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    text_file = io.BytesIO("村民名单\n张三\n".encode())
    text_file.name = "名单.txt"
    _upload(client, world.units["village_committee"], text_file)
    attachment = Attachment.objects.get()
    response = client.get(reverse("core:attachment_download", args=[attachment.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert client.get(reverse("core:attachment_thumbnail", args=[attachment.pk])).status_code == 404


# --- Text size and admin ----------------------------------------------------------------------------


def test_large_text_is_kept_on_the_account(client: Client, world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    login(client, staff)
    url = reverse("core:household_list")
    assert 'class="cc-large-text"' not in body(client.get(url))
    client.post(reverse("core:text_size"), {"large": "1", "next": url})
    staff.refresh_from_db()
    assert staff.large_text
    fresh = login(Client(), staff)  # another device: no cookie, the account remembers
    assert 'class="cc-large-text"' in body(fresh.get(url))


def test_admin_is_for_superusers_only(client: Client, world: World) -> None:
    staff = world.user(Role.ADMIN)
    staff.is_staff = True
    staff.save()
    login(client, staff)
    assert client.get("/admin/core/region/").status_code in (302, 403)
    login(client, world.users["superuser"])
    assert client.get("/admin/core/region/").status_code == 200
    region = world.regions["town_a"]
    assert client.get(f"/admin/core/region/{region.pk}/history/").status_code == 200


def test_login_with_phone_and_password(client: Client, world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    response = client.post(reverse("core:login"), {"username": staff.phone, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("core:household_list")).status_code == 200


def test_verify_from_the_todo_list_returns_to_it(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    todo = f"{reverse('core:person_list')}?verified=0"
    person = world.people["a_member"]
    verify_url = reverse("core:person_verify", args=[person.pk])
    assert verify_url in body(client.get(todo))
    response = client.post(verify_url, {"next": todo})
    assert response.status_code == 302 and response["Location"] == todo
    assert ">甲村村民</a>" not in body(client.get(todo))
    # Off-site "next" targets are ignored.
    response = client.post(reverse("core:person_unverify", args=[person.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("core:person_detail", args=[person.pk])
    # Viewers who may not verify get no button.
    dept = body(login(Client(), world.user(Role.DEPT_STAFF)).get(todo))
    assert "甲村村民" in dept and verify_url not in dept


def test_navigation_marks_the_section_on_detail_pages(client: Client, world: World) -> None:
    login(client, world.user(Role.VILLAGE_STAFF))
    text = body(client.get(reverse("core:household_detail", args=[world.households["a"].pk])))
    nav = text.split('id="cc-nav"', 1)[1].split("</ul>", 1)[0]
    active = re.findall(r'nav-link active[^>]*href="([^"]+)"', nav)
    assert active == [reverse("core:household_list")]


def test_front_page_is_public_and_offers_login(client: Client, world: World) -> None:
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    text = response.content.decode()
    assert reverse("core:login") in text and "我的待办" not in text
    assert "ZZOUT" not in text


def test_exe_renamed_jpg_is_refused_through_the_page(client: Client, world: World, settings: Any) -> None:
    from pathlib import Path

    from cocreate.core.tests.test_evidence import exe_bytes

    login(client, world.user(Role.VILLAGE_STAFF))
    fake = io.BytesIO(exe_bytes())
    fake.name = "照片.jpg"
    detail = reverse("core:household_detail", args=[world.households["a"].pk])
    assert _upload(client, world.households["a"], fake, detail).status_code == 302
    page = body(client.get(detail))
    assert "不支持的文件类型" in page and "EXE" in page
    assert not Attachment.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]
