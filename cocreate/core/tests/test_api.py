"""The core REST API through HTTP: scoping, writes, errors, auth, pagination, docs."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, ROLES, World
from cocreate.core import tokens
from cocreate.core.models import (
    ApiToken,
    Attachment,
    Household,
    HouseholdRelation,
    Membership,
    Person,
    PersonalDataAccess,
    Region,
    RegionLevel,
    Role,
    Unit,
    User,
)

pytestmark = pytest.mark.django_db

BACKEND = "cocreate.core.hotpath.UserBackend"
LIST_URLS = [
    "/api/regions",
    "/api/units",
    "/api/people",
    "/api/memberships?active=false",
    "/api/households",
    "/api/attachments",
    "/api/tokens",
]


def login(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user, backend=BACKEND)
    return client


def as_role(world: World, role: str) -> Client:
    return login(world.user(role))


def send(client: Client, method: str, url: str, body: Any = None, **extra: Any) -> Any:
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method)(url, data=data, content_type="application/json", **extra)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["error"] == code, body
    return body


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def valid_id_number(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


# --- Scope: what each role can list and fetch -------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_outside_marker_never_listed_for_any_role(world: World, role: str) -> None:
    client = as_role(world, role)
    for url in LIST_URLS:
        sep = "&" if "?" in url else "?"
        response = client.get(f"{url}{sep}limit=200")
        assert response.status_code == 200, (url, response.content)
        assert OUTSIDE_MARKER not in response.content.decode(), (role, url)
    assert OUTSIDE_MARKER not in client.get("/api/me").content.decode()


def test_outside_staff_does_see_own_county_so_the_marker_check_can_fail(world: World) -> None:
    client = login(world.users["outside_staff"])
    assert OUTSIDE_MARKER in client.get("/api/households").content.decode()
    assert OUTSIDE_MARKER in client.get("/api/people").content.decode()


def test_village_staff_sees_only_its_village_households(world: World) -> None:
    """Acceptance: a village staff account sees only its village's households through the API."""
    client = as_role(world, Role.VILLAGE_STAFF)
    body = client.get("/api/households").json()
    assert {item["number"] for item in body["items"]} == {"A-001"}
    assert body["count"] == 1
    assert {item["region_id"] for item in body["items"]} == {world.regions["village_a"].pk}
    assert client.get(f"/api/households/{world.households['a'].pk}").status_code == 200
    assert_error(client.get(f"/api/households/{world.households['a2'].pk}"), 404, "not_found")
    assert_error(client.get(f"/api/households/{world.households['outside'].pk}"), 404, "not_found")
    # Town staff above it see both villages of the town: the scope follows the membership.
    town = as_role(world, Role.TOWN_STAFF).get("/api/households").json()
    assert {item["number"] for item in town["items"]} == {"A-001", "A2-001"}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VILLAGE_STAFF, Role.RESIDENT])
def test_out_of_scope_ids_answer_404(world: World, role: str) -> None:
    client = as_role(world, role)
    outside_membership = Membership.objects.get(user=world.users["outside_staff"])
    urls = [
        f"/api/regions/{world.regions['county_b'].pk}",
        f"/api/units/{world.units['outside'].pk}",
        f"/api/people/{world.people['outside'].pk}",
        f"/api/households/{world.households['outside'].pk}",
        "/api/regions/999999999",
        "/api/people/999999999",
    ]
    for url in urls:
        body = assert_error(client.get(url), 404, "not_found")
        assert OUTSIDE_MARKER not in json.dumps(body, ensure_ascii=False)
    # Writes on an invisible object are 404 as well, and change nothing.
    assert_error(send(client, "post", f"/api/memberships/{outside_membership.pk}/end", {}), 404)
    assert_error(send(client, "patch", f"/api/households/{world.households['outside'].pk}", {"address": "x"}), 404)
    assert_error(send(client, "post", f"/api/people/{world.people['outside'].pk}/verify", {}), 404)
    outside_membership.refresh_from_db()
    assert outside_membership.is_active
    assert Household.objects.get(pk=world.households["outside"].pk).address == f"{OUTSIDE_MARKER}路1号"
    assert Person.objects.get(pk=world.people["outside"].pk).verified_at is None


# --- Auth ---------------------------------------------------------------------------------------------


def test_unauthenticated_is_401_with_error_body(world: World) -> None:
    client = Client()
    for url in [*LIST_URLS, "/api/me", f"/api/households/{world.households['a'].pk}"]:
        assert_error(client.get(url), 401, "unauthenticated")
    assert_error(send(client, "post", "/api/regions", {"code": "11", "name": "x", "level": 1}), 401)
    assert Region.objects.filter(code="11").count() == 0


def test_token_auth_works_and_revoked_or_expired_tokens_are_401(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    token, raw = tokens.token_create(actor=staff, user=staff, name="集成")
    client = Client()
    me = client.get("/api/me", headers=bearer(raw))
    assert me.status_code == 200
    assert me.json()["id"] == staff.pk and me.json()["auth"] == "token"
    numbers = {i["number"] for i in client.get("/api/households", headers=bearer(raw)).json()["items"]}
    assert numbers == {"A-001"}
    token.refresh_from_db()
    assert token.last_used_at is not None
    # Token requests need no CSRF token, and writes are recorded as the token's user.
    response = send(
        client, "patch", f"/api/households/{world.households['a'].pk}", {"address": "令牌改"}, headers=bearer(raw)
    )
    assert response.status_code == 200, response.content
    assert world.households["a"].history.first().history_user_id == staff.pk

    assert_error(client.get("/api/me", headers=bearer(raw + "x")), 401, "unauthenticated")
    assert_error(client.get("/api/me", headers=bearer("not-a-token")), 401)
    tokens.token_revoke(actor=staff, token=token)
    assert_error(client.get("/api/me", headers=bearer(raw)), 401, "unauthenticated")

    expired, raw2 = tokens.token_create(
        actor=staff, user=staff, name="短期", expires_at=timezone.now() + timedelta(days=1)
    )
    assert client.get("/api/me", headers=bearer(raw2)).status_code == 200
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(client.get("/api/me", headers=bearer(raw2)), 401)

    _, raw3 = tokens.token_create(actor=staff, user=staff, name="停用账号")
    User.objects.filter(pk=staff.pk).update(is_active=False)
    assert_error(client.get("/api/me", headers=bearer(raw3)), 401)


def test_token_endpoints_create_list_revoke(world: World) -> None:
    user = world.user(Role.RESIDENT)
    client = login(user)
    response = send(client, "post", "/api/tokens", {"name": "我的脚本", "expires_in_days": 30})
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["token"]
    assert raw.startswith(tokens.TOKEN_PREFIX) and body["prefix"] == raw[:8] and body["is_active"]
    stored = ApiToken.objects.get(pk=body["id"])
    # Only the SHA-256 is kept; the raw token appears nowhere in the database row or in the list.
    assert stored.token_hash == ApiToken.hash(raw) and raw not in stored.token_hash
    listing = client.get("/api/tokens")
    assert listing.json()["count"] == 1 and raw not in listing.content.decode()
    assert Client().get("/api/me", headers=bearer(raw)).status_code == 200

    # A token cannot mint another token.
    assert_error(send(Client(), "post", "/api/tokens", {"name": "再来一个"}, headers=bearer(raw)), 403, "forbidden")
    assert ApiToken.objects.filter(user=user).count() == 1

    # Someone else's token is invisible: 404, and it keeps working.
    other = world.user(Role.ADMIN)
    other_token, other_raw = tokens.token_create(actor=other, user=other, name="别人的")
    assert_error(client.delete(f"/api/tokens/{other_token.pk}"), 404, "not_found")
    assert Client().get("/api/me", headers=bearer(other_raw)).status_code == 200
    assert str(other_token.pk) not in {str(i["id"]) for i in client.get("/api/tokens").json()["items"]}

    assert client.delete(f"/api/tokens/{stored.pk}").status_code == 204
    assert_error(Client().get("/api/me", headers=bearer(raw)), 401)
    assert client.get("/api/tokens").json()["items"][0]["is_active"] is False

    assert_error(send(client, "post", "/api/tokens", {"name": ""}), 422, "invalid_request")
    assert_error(send(client, "post", "/api/tokens", {"name": "x", "expires_in_days": 0}), 422)


def test_api_token_management_command(world: World) -> None:
    out = io.StringIO()
    phone = world.user(Role.TOWN_STAFF).phone
    call_command("api_token", "create", "--phone", phone, "--name", "数据对接", "--days", "7", stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    assert raw.startswith(tokens.TOKEN_PREFIX)
    token = ApiToken.objects.get(token_hash=ApiToken.hash(raw))
    assert token.user == world.user(Role.TOWN_STAFF) and token.expires_at is not None
    assert Client().get("/api/me", headers=bearer(raw)).json()["phone"] == phone
    out = io.StringIO()
    call_command("api_token", "list", "--phone", phone, stdout=out)
    assert "数据对接" in out.getvalue() and raw not in out.getvalue()
    call_command("api_token", "revoke", "--id", str(token.pk), stdout=io.StringIO())
    assert_error(Client().get("/api/me", headers=bearer(raw)), 401)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("api_token", "create", "--phone", "19999999999", "--name", "x", stdout=io.StringIO())


def test_session_writes_need_the_csrf_token(world: World) -> None:
    client = login(world.user(Role.VILLAGE_STAFF), csrf=True)
    url = f"/api/households/{world.households['a'].pk}"
    body = assert_error(send(client, "patch", url, {"address": "无令牌"}), 403, "csrf_failed")
    assert "CSRF" in body["detail"]
    assert Household.objects.get(pk=world.households["a"].pk).address == "甲村1号"
    # Reads need no CSRF token; the page's cookie + header make the write pass.
    assert client.get(url).status_code == 200
    client.get("/api/docs")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    response = send(client, "patch", url, {"address": "有令牌"}, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200, response.content
    assert Household.objects.get(pk=world.households["a"].pk).address == "有令牌"


def test_me_lists_roles_with_regions(world: World) -> None:
    body = as_role(world, Role.VILLAGE_STAFF).get("/api/me").json()
    assert body["phone"] == world.user(Role.VILLAGE_STAFF).phone and body["auth"] == "session"
    assert body["person"]["region_id"] == world.regions["village_a"].pk
    assert [(r["role"], r["region_code"], r["unit_name"]) for r in body["roles"]] == [
        ("village_staff", "990101001001", "甲村村民委员会")
    ]


# --- Regions ------------------------------------------------------------------------------------------


def test_region_list_filters_and_detail(world: World) -> None:
    client = as_role(world, Role.ADMIN)
    towns = client.get("/api/regions", {"level": RegionLevel.TOWN}).json()
    assert [r["code"] for r in towns["items"]] == ["990101001"]
    children = client.get("/api/regions", {"parent": world.regions["town_a"].pk}).json()
    assert [r["name"] for r in children["items"]] == ["甲村", "乙村"]
    assert [r["code"] for r in client.get("/api/regions", {"search": "乙"}).json()["items"]] == ["990101001002"]
    detail = client.get(f"/api/regions/{world.regions['village_a'].pk}").json()
    assert detail["parent_name"] == "甲镇" and detail["level"] == RegionLevel.VILLAGE
    # The parent filter on an invisible region is a 404 naming the field, not an empty page.
    body = assert_error(client.get("/api/regions", {"parent": world.regions["county_b"].pk}), 404)
    assert "parent" in body["fields"]
    assert_error(client.get("/api/regions", {"level": 9}), 422, "invalid_request")
    assert_error(client.get("/api/regions", {"level": "abc"}), 422)


def test_region_create_and_patch_allowed_and_denied(world: World) -> None:
    admin = as_role(world, Role.ADMIN)
    payload = {
        "code": "990101002",
        "name": "丙镇",
        "level": RegionLevel.TOWN,
        "parent_id": world.regions["county_a"].pk,
    }
    response = send(admin, "post", "/api/regions", payload)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["path"] == "/99/9901/990101/990101002/"

    before = Region.objects.count()
    staff = as_role(world, Role.VILLAGE_STAFF)
    denied = {**payload, "code": "990101003", "name": "丁镇"}
    assert_error(send(staff, "post", "/api/regions", denied), 403, "forbidden")
    assert Region.objects.count() == before

    # Duplicate code: the model's own validation, 400 with the field named.
    body = assert_error(send(admin, "post", "/api/regions", payload), 400, "invalid")
    assert "code" in body["fields"]
    # Wrong level under the parent, unknown parent, malformed code.
    assert (
        "level"
        in assert_error(send(admin, "post", "/api/regions", {**payload, "code": "990101009", "level": 3}), 400)[
            "fields"
        ]
    )
    body = assert_error(send(admin, "post", "/api/regions", {**payload, "parent_id": 10**12}), 404, "not_found")
    assert "parent_id" in body["fields"]
    assert "code" in assert_error(send(admin, "post", "/api/regions", {**payload, "code": "12a"}), 422)["fields"]
    assert Region.objects.count() == before

    town = world.regions["town_a"]
    assert send(admin, "patch", f"/api/regions/{town.pk}", {"name": "甲镇（新）"}).json()["name"] == "甲镇（新）"
    assert_error(send(staff, "patch", f"/api/regions/{town.pk}", {"name": "改名"}), 403)
    # An administrator never edits the node their own authority hangs on.
    assert_error(send(admin, "patch", f"/api/regions/{world.regions['county_a'].pk}", {"name": "改名"}), 403)
    assert_error(send(admin, "patch", f"/api/regions/{town.pk}", {"name": None}), 400, "invalid")
    assert Region.objects.get(pk=town.pk).name == "甲镇（新）"
    assert Region.objects.get(pk=world.regions["county_a"].pk).name == "甲县"


# --- Units --------------------------------------------------------------------------------------------


def test_units_list_detail_create_patch(world: World) -> None:
    admin = as_role(world, Role.ADMIN)
    body = admin.get("/api/units", {"kind": "school"}).json()
    assert [u["name"] for u in body["items"]] == ["甲村小学"]
    region_filtered = admin.get("/api/units", {"region": world.regions["village_a2"].pk}).json()
    assert [u["name"] for u in region_filtered["items"]] == ["乙村村民委员会"]
    assert admin.get(f"/api/units/{world.units['dept'].pk}").json()["kind_display"] == "部门"

    payload = {"name": "甲县民政局", "kind": "department", "region_id": world.regions["county_a"].pk}
    response = send(admin, "post", "/api/units", payload)
    assert response.status_code == 201, response.content
    unit_id = response.json()["id"]
    patched = send(
        admin, "patch", f"/api/units/{unit_id}", {"short_name": "民政局", "parent_id": world.units["county_gov"].pk}
    )
    assert patched.status_code == 200 and patched.json()["parent_id"] == world.units["county_gov"].pk

    before = Unit.objects.count()
    staff = as_role(world, Role.VILLAGE_STAFF)
    assert_error(
        send(
            staff, "post", "/api/units", {**payload, "name": "村里新单位", "region_id": world.regions["village_a"].pk}
        ),
        403,
    )
    assert_error(send(staff, "patch", f"/api/units/{world.units['village_committee'].pk}", {"name": "改名"}), 403)
    assert Unit.objects.count() == before
    assert Unit.objects.get(pk=world.units["village_committee"].pk).name == "甲村村民委员会"
    assert_error(send(admin, "post", "/api/units", {**payload, "kind": "spaceship"}), 422, "invalid_request")
    assert_error(send(admin, "patch", f"/api/units/{unit_id}", {"region_id": world.regions["county_b"].pk}), 404)
    assert Unit.objects.get(pk=unit_id).region_id == world.regions["county_a"].pk


# --- People -------------------------------------------------------------------------------------------


def test_people_list_masks_phone_and_id_number(world: World) -> None:
    member = world.people["a_member"]
    member.id_number = "110101199003071234"
    member.save()
    client = as_role(world, Role.VILLAGE_STAFF)
    items = client.get("/api/people", {"search": "甲村村民"}).json()["items"]
    assert len(items) == 1
    assert items[0]["phone"] == "139****0001"
    assert items[0]["id_number"] == "1101**********1234"
    assert items[0]["is_masked"] is True
    assert "13900000001" not in client.get("/api/people?limit=200").content.decode()

    # Detail: full for those who may change the person, masked for those who may only see them.
    full = client.get(f"/api/people/{member.pk}").json()
    assert full["phone"] == "13900000001" and full["id_number"] == "110101199003071234" and not full["is_masked"]
    # Every unmasked showing is logged for the audit; masked ones are not.
    log = PersonalDataAccess.objects.get()
    assert log.user == world.user(Role.VILLAGE_STAFF) and log.object_id == str(member.pk)
    assert log.fields == "id_number,phone" and log.context.startswith("api:GET /api/people/")
    leader = as_role(world, Role.LEADER).get(f"/api/people/{member.pk}").json()
    assert leader["phone"] == "139****0001" and leader["id_number"] == "1101**********1234" and leader["is_masked"]
    assert PersonalDataAccess.objects.count() == 1
    resident = as_role(world, Role.RESIDENT).get(f"/api/people/{member.pk}").json()
    assert resident["phone"] == "139****0001"


def test_people_create_patch_verify(world: World) -> None:
    staff = as_role(world, Role.VILLAGE_STAFF)
    id_number = valid_id_number("11010119900307123")
    payload = {
        "name": "新村民",
        "region_id": world.regions["village_a"].pk,
        "phone": "13912345678",
        "id_number": id_number,
        "household_id": world.households["a"].pk,
        "relation": "child",
    }
    response = send(staff, "post", "/api/people", payload)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["phone"] == "13912345678" and created["household_number"] == "A-001"
    pk = created["id"]

    patched = send(staff, "patch", f"/api/people/{pk}", {"is_party_member": True, "household_id": None})
    assert patched.status_code == 200 and patched.json()["household_id"] is None
    assert Person.objects.get(pk=pk).is_party_member

    verified = send(staff, "post", f"/api/people/{pk}/verify")
    assert verified.status_code == 200 and verified.json()["is_verified"]
    assert Person.objects.get(pk=pk).verified_by == world.user(Role.VILLAGE_STAFF)

    # Bad data: a wrong check digit is the service's 400; a malformed phone is the schema's 422.
    body = assert_error(
        send(
            staff,
            "post",
            "/api/people",
            {**payload, "id_number": id_number[:-1] + ("0" if id_number[-1] != "0" else "1")},
        ),
        400,
        "invalid",
    )
    assert "id_number" in body["fields"]
    assert "phone" in assert_error(send(staff, "post", "/api/people", {**payload, "phone": "12345"}), 422)["fields"]
    assert_error(send(staff, "post", "/api/people", {**payload, "gender": "X"}), 422)
    assert_error(send(staff, "post", "/api/people", {**payload, "birth_date": "1990-02-30"}), 422)


def test_people_denied_writes_change_nothing(world: World) -> None:
    member = world.people["a_member"]
    before = Person.objects.count()
    for role in (Role.LEADER, Role.RESIDENT, Role.GRID_WORKER):
        client = as_role(world, role)
        payload = {"name": "越权", "region_id": world.regions["village_a"].pk}
        assert send(client, "post", "/api/people", payload).status_code in (403, 404)
    leader = as_role(world, Role.LEADER)
    assert_error(send(leader, "patch", f"/api/people/{member.pk}", {"name": "改名"}), 403, "forbidden")
    assert_error(send(leader, "post", f"/api/people/{member.pk}/verify"), 403)
    resident = as_role(world, Role.RESIDENT)
    assert_error(send(resident, "post", f"/api/people/{member.pk}/verify"), 403)
    # Village staff of 甲村 cannot move their villager into 乙村 (not theirs).
    staff = as_role(world, Role.VILLAGE_STAFF)
    assert_error(send(staff, "patch", f"/api/people/{member.pk}", {"region_id": world.regions["village_a2"].pk}), 404)
    member.refresh_from_db()
    assert Person.objects.count() == before
    assert member.name == "甲村村民" and member.verified_at is None and member.region == world.regions["village_a"]


# --- Memberships --------------------------------------------------------------------------------------


def test_memberships_list_create_end(world: World) -> None:
    admin = as_role(world, Role.ADMIN)
    listing = admin.get("/api/memberships", {"role": "village_staff"}).json()
    assert [m["region_name"] for m in listing["items"]] == ["甲村"]

    resident = world.user(Role.RESIDENT)
    payload = {
        "person_id": resident.person_id,
        "role": "grid_worker",
        "region_id": world.regions["grid_a"].pk,
        "title": "网格员",
    }
    response = send(admin, "post", "/api/memberships", payload)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["user_id"] == resident.pk and created["role_display"] == "网格员"
    # The new role takes effect at once: the resident now sees the grid through the API.
    assert as_role(world, Role.RESIDENT).get("/api/me").json()["roles"][-1]["role"] == "grid_worker"

    staff = as_role(world, Role.VILLAGE_STAFF)
    before = Membership.objects.count()
    assert_error(send(staff, "post", "/api/memberships", {**payload, "role": "village_staff"}), 403)
    assert Membership.objects.count() == before
    assert_error(send(staff, "post", f"/api/memberships/{created['id']}/end", {}), 403)
    assert Membership.objects.get(pk=created["id"]).is_active

    # A person without an account cannot hold a role.
    body = assert_error(
        send(admin, "post", "/api/memberships", {**payload, "person_id": world.people["a_member"].pk}), 400
    )
    assert "person_id" in body["fields"]
    assert_error(send(admin, "post", "/api/memberships", {**payload, "role": "emperor"}), 422)

    ended = send(admin, "post", f"/api/memberships/{created['id']}/end", {"ends_on": "2026-01-31"})
    assert ended.status_code == 200 and ended.json()["is_active"] is False and ended.json()["ends_on"] == "2026-01-31"
    assert created["id"] not in {m["id"] for m in admin.get("/api/memberships").json()["items"]}
    assert created["id"] in {m["id"] for m in admin.get("/api/memberships", {"active": "false"}).json()["items"]}


# --- Households ---------------------------------------------------------------------------------------


def test_households_create_patch_members_head(world: World) -> None:
    staff = as_role(world, Role.VILLAGE_STAFF)
    newcomer = Person.objects.create(name="新来的", region=world.regions["village_a"])
    response = send(
        staff,
        "post",
        "/api/households",
        {"number": "A-002", "region_id": world.regions["village_a"].pk, "address": "甲村2号"},
    )
    assert response.status_code == 201, response.content
    hid = response.json()["id"]
    assert response.json()["member_count"] == 0

    added = send(staff, "post", f"/api/households/{hid}/members", {"person_id": newcomer.pk, "relation": "spouse"})
    assert added.status_code == 200, added.content
    assert [(m["name"], m["relation"]) for m in added.json()["members"]] == [("新来的", "spouse")]

    head = send(staff, "post", f"/api/households/{hid}/head", {"person_id": newcomer.pk}).json()
    assert head["head_id"] == newcomer.pk and head["head_name"] == "新来的"
    newcomer.refresh_from_db()
    assert newcomer.relation == HouseholdRelation.HEAD

    patched = send(staff, "patch", f"/api/households/{hid}", {"address": "甲村3号"})
    assert patched.json()["address"] == "甲村3号"

    removed = staff.delete(f"/api/households/{hid}/members/{newcomer.pk}")
    assert removed.status_code == 200 and removed.json()["members"] == [] and removed.json()["head_id"] is None

    # Someone from another village cannot join; out-of-scope person is a 404 naming the field.
    body = assert_error(
        send(staff, "post", f"/api/households/{hid}/members", {"person_id": world.people["a2"].pk}), 404
    )
    assert body["fields"] == {"person_id": ["所选对象不存在或无权访问"]}
    assert_error(
        send(staff, "post", "/api/households", {"number": "A-001", "region_id": world.regions["village_a"].pk}), 400
    )


def test_households_denied_writes_change_nothing(world: World) -> None:
    household = world.households["a"]
    before = (Household.objects.count(), Person.objects.filter(household=household).count())
    leader = as_role(world, Role.LEADER)
    assert_error(
        send(leader, "post", "/api/households", {"number": "L-1", "region_id": world.regions["village_a"].pk}), 403
    )
    assert_error(send(leader, "patch", f"/api/households/{household.pk}", {"address": "越权"}), 403)
    assert_error(leader.delete(f"/api/households/{household.pk}/members/{world.people['a_member'].pk}"), 403)
    newcomer = Person.objects.create(name="待入户", region=world.regions["village_a"])
    assert_error(send(leader, "post", f"/api/households/{household.pk}/members", {"person_id": newcomer.pk}), 403)
    assert Person.objects.get(pk=newcomer.pk).household_id is None
    assert_error(
        send(leader, "post", f"/api/households/{household.pk}/head", {"person_id": world.people["a_member"].pk}), 403
    )
    resident = as_role(world, Role.RESIDENT)
    assert_error(send(resident, "patch", f"/api/households/{household.pk}", {"address": "越权"}), 403)
    staff = as_role(world, Role.VILLAGE_STAFF)
    assert_error(
        send(staff, "post", "/api/households", {"number": "X-1", "region_id": world.regions["village_a2"].pk}), 404
    )
    household.refresh_from_db()
    assert (Household.objects.count(), Person.objects.filter(household=household).count()) == before
    assert household.address == "甲村1号" and household.head == world.user(Role.RESIDENT).person


# --- Attachments --------------------------------------------------------------------------------------


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


def upload(client: Client, target: Any, content: bytes, name: str = "photo.png", **extra: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    label = f"{target._meta.app_label}.{target._meta.model_name}"
    data = {"file": SimpleUploadedFile(name, content), "content_type": label, "object_id": str(target.pk), **extra}
    return client.post("/api/attachments", data)


def test_attachments_upload_list_detail_download(world: World) -> None:
    staff = as_role(world, Role.VILLAGE_STAFF)
    household = world.households["a"]
    response = upload(staff, household, PNG, description="门前照片")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["content_type"] == "core.household" and created["mime_type"] == "image/png"

    listing = staff.get("/api/attachments", {"content_type": "core.household", "object_id": str(household.pk)}).json()
    assert [a["id"] for a in listing["items"]] == [created["id"]]
    assert staff.get(f"/api/attachments/{created['id']}").json()["description"] == "门前照片"
    download = staff.get(created["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG  # type: ignore[attr-defined]
    assert "attachment" in download["Content-Disposition"]

    # Another village's staff see neither the file nor the list; the resident uploaded nothing.
    other = login(world.users["outside_staff"])
    assert_error(other.get(f"/api/attachments/{created['id']}"), 404)
    assert_error(other.get(created["download_url"]), 404)
    assert_error(other.get("/api/attachments", {"content_type": "core.household", "object_id": str(household.pk)}), 404)
    assert other.get("/api/attachments").json()["count"] == 0


def test_attachments_refused_uploads_store_nothing(world: World) -> None:
    staff = as_role(world, Role.VILLAGE_STAFF)
    before = Attachment.objects.count()
    body = assert_error(upload(staff, world.households["a"], b"<html><script>alert(1)</script></html>", "x.png"), 400)
    assert body["error"] == "invalid"
    assert_error(upload(staff, world.households["outside"], PNG), 404)
    assert_error(upload(staff, world.households["a"], PNG, content_type="core.nothing"), 404)
    assert_error(upload(staff, world.households["a"], PNG, content_type="not a label"), 422)
    assert_error(staff.get("/api/attachments", {"content_type": "core.nothing"}), 404)
    assert Attachment.objects.count() == before


def test_attachment_list_filters_by_type_alone(world: World) -> None:
    staff = as_role(world, Role.VILLAGE_STAFF)
    on_household = upload(staff, world.households["a"], PNG).json()
    on_person = upload(staff, world.people["a_member"], PNG).json()
    by_type = staff.get("/api/attachments", {"content_type": "core.person"}).json()
    assert [a["id"] for a in by_type["items"]] == [on_person["id"]]
    assert staff.get("/api/attachments").json()["count"] == 2
    assert on_household["id"] != on_person["id"]


# --- Errors, pagination, performance, docs --------------------------------------------------------------


def test_bad_input_answers_4xx_with_error_body(world: World) -> None:
    admin = as_role(world, Role.ADMIN)
    assert_error(admin.get("/api/regions/abc"), 422, "invalid_request")
    assert_error(admin.get("/api/regions/0"), 422)
    assert_error(admin.get(f"/api/regions/{10**30}"), 422)
    assert_error(admin.get("/api/people", {"search": "a\x00b"}), 422)
    assert_error(admin.get("/api/people", {"verified": "maybe"}), 422)
    assert_error(admin.get("/api/households", {"region": -5}), 422)
    bad_json = admin.post("/api/regions", data="{not json", content_type="application/json")
    assert_error(bad_json, 400, "bad_request")
    missing = assert_error(send(admin, "post", "/api/households", {"number": "N"}), 422)
    assert "region_id" in missing["fields"]
    assert_error(send(admin, "post", "/api/units", {"name": "x\x00", "kind": "school", "region_id": 1}), 422)
    # A body must be a JSON object: an array is refused, not read as "nothing changed".
    household = world.households["a2"]
    assert_error(send(admin, "patch", f"/api/households/{household.pk}", [None, None]), 422)
    assert_error(
        send(
            admin, "post", f"/api/memberships/{Membership.objects.get(user=world.user(Role.VILLAGE_STAFF)).pk}/end", [1]
        ),
        422,
    )
    # Strict bodies: 0 is not false, not a date; "5" is not an id.
    town = world.regions["town_a"]
    assert_error(send(admin, "patch", f"/api/regions/{town.pk}", {"is_active": 0}), 422)
    assert Region.objects.get(pk=town.pk).is_active
    membership = Membership.objects.get(user=world.user(Role.VILLAGE_STAFF))
    assert_error(send(admin, "post", f"/api/memberships/{membership.pk}/end", {"ends_on": 0}), 422)
    assert Membership.objects.get(pk=membership.pk).is_active
    assert_error(send(admin, "post", "/api/households", {"number": "S-1", "region_id": str(town.pk)}), 422)
    assert_error(send(admin, "post", "/api/households", {"number": "S-1", "region_id": True}), 422)
    # ... but 7.0 is an integer to JSON Schema, so it is one here too.
    village = world.regions["village_a2"]
    assert send(admin, "post", "/api/households", {"number": "S-1", "region_id": float(village.pk)}).status_code == 201
    # PATCH: leaving a field out keeps it; null is refused where the field cannot be empty.
    body = assert_error(send(admin, "patch", f"/api/households/{household.pk}", {"number": None}), 400)
    assert body["fields"] == {"number": ["此字段不能为空"]}
    assert Household.objects.get(pk=household.pk).number == "A2-001"


def test_unknown_api_paths_answer_json_404(world: World) -> None:
    client = as_role(world, Role.ADMIN)
    for url in ("/api/nothing-here", "/api/regions/1/unknown", "/api/regions/"):
        assert_error(client.get(url), 404, "not_found")
    assert_error(Client().get("/api/nothing-here"), 404)


def test_pagination_limit_offset_count_and_stable_order(world: World) -> None:
    village = world.regions["village_a"]
    Household.objects.bulk_create([Household(number=f"P-{i:03d}", region=village) for i in range(12)])
    client = as_role(world, Role.VILLAGE_STAFF)
    full = client.get("/api/households", {"limit": 200}).json()
    assert full["count"] == 13 and len(full["items"]) == 13
    pages = [client.get("/api/households", {"limit": 5, "offset": off}).json() for off in (0, 5, 10)]
    assert [len(p["items"]) for p in pages] == [5, 5, 3]
    assert all(p["count"] == 13 for p in pages)
    assert [i["id"] for p in pages for i in p["items"]] == [i["id"] for i in full["items"]]
    assert client.get("/api/households", {"offset": 100}).json() == {"items": [], "count": 13}
    default = client.get("/api/regions").json()
    assert len(default["items"]) <= 50
    assert_error(client.get("/api/households", {"limit": 201}), 422)
    assert_error(client.get("/api/households", {"limit": 0}), 422)
    assert_error(client.get("/api/households", {"offset": -1}), 422)


def test_default_limit_is_50(world: World) -> None:
    village = world.regions["village_a"]
    Household.objects.bulk_create([Household(number=f"D-{i:03d}", region=village) for i in range(55)])
    body = as_role(world, Role.VILLAGE_STAFF).get("/api/households").json()
    assert body["count"] == 56 and len(body["items"]) == 50


@pytest.mark.parametrize("url", ["/api/households", "/api/people", "/api/memberships", "/api/units"])
def test_list_query_count_does_not_grow_with_rows(world: World, url: str, django_assert_max_num_queries: Any) -> None:
    village = world.regions["village_a"]
    households = Household.objects.bulk_create([Household(number=f"Q-{i:03d}", region=village) for i in range(30)])
    Person.objects.bulk_create(
        [Person(name=f"人{i}", region=village, household=h, phone=f"1390000{i:04d}") for i, h in enumerate(households)]
    )
    for i in range(5):
        Unit.objects.create(name=f"合作社{i}", kind="enterprise", region=village)
    client = as_role(world, Role.TOWN_STAFF)
    with django_assert_max_num_queries(9):
        response = client.get(url, {"limit": 200})
    assert response.status_code == 200 and response.json()["count"] >= 5


def test_openapi_schema_documents_errors_and_pagination(world: World) -> None:
    schema = Client().get("/api/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/api/regions",
        "/api/regions/{id}",
        "/api/units",
        "/api/units/{id}",
        "/api/people",
        "/api/people/{id}",
        "/api/people/{id}/verify",
        "/api/memberships",
        "/api/memberships/{id}/end",
        "/api/households",
        "/api/households/{id}",
        "/api/households/{id}/members",
        "/api/households/{id}/members/{person_id}",
        "/api/households/{id}/head",
        "/api/attachments",
        "/api/attachments/{id}",
        "/api/attachments/{id}/download",
        "/api/tokens",
        "/api/tokens/{id}",
        "/api/me",
    }
    assert expected <= set(paths)
    for path, operations in paths.items():
        for method, op in operations.items():
            if "public" in op.get("tags", ()):
                # A community's public API answers anyone: no 401, and it only reads. The one public
                # write is a case's tracking and rating, with the code and phone in a POST body.
                assert "401" not in op["responses"], (path, method)
                assert method == "get" or path.startswith("/api/public/cases/"), (path, method)
                if method == "post":
                    assert {"404", "422"} <= set(op["responses"]), (path, method)
                continue
            assert "401" in op["responses"], (path, method)
            if method in {"post", "patch", "delete"}:
                assert {"400", "403", "404", "422"} <= set(op["responses"]), (path, method)
    limit = next(p for p in paths["/api/households"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 200 and limit["schema"]["default"] == 50
    # Bounds are spelled the JSON Schema way (pydantic leaks "ge"/"le" if a constraint is misplaced).
    text = json.dumps(schema)
    assert '"ge":' not in text and '"le":' not in text
    components = schema["components"]["schemas"]
    assert set(components["ErrorOut"]["required"]) == {"error", "detail"}
    # PATCH schemas offer null only where the API accepts it.
    person_patch = components["PersonPatch"]["properties"]
    assert person_patch["name"]["type"] == "string" and "anyOf" not in person_patch["name"]
    assert {"type": "null"} in person_patch["household_id"]["anyOf"]


def test_docs_page_uses_only_local_static_files(world: World) -> None:
    client = Client()
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert refs, html
    for ref in refs:
        assert ref.startswith("/static/"), ref
        assert client.get(ref).status_code == 200, ref
    assert "cdn" not in html.lower() and "//" not in "".join(refs)
