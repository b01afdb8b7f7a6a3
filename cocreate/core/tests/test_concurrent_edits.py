"""Two staff members editing the same record: the second save, based on what the first changed,
is refused with a clear conflict instead of silently overwriting it (core/concurrency.py).

For each protected kind of record: the service refuses a stale ``expected_version`` and saves
nothing of it; the edit page re-shows the user's input with the message, the changed fields and
the record's current version (so a deliberate second save goes through); the PATCH API answers
409 ``stale``. The real-concurrency test on PostgreSQL is in ``test_concurrent_edits_pg.py``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cocreate.conftest import World
from cocreate.core import services
from cocreate.core.concurrency import EditVersion, StaleEdit
from cocreate.core.models import Household, Person, Region, Role, Unit
from cocreate.core.tests.pages import body, login
from cocreate.plans import services as plan_services
from cocreate.plans.models import Plan, Task, TaskUnit, UnitRole
from cocreate.plans.tests.test_api import as_user, assert_error, send

pytestmark = pytest.mark.django_db


def _plans(world: World, key: str) -> Any:
    return world.extra["plans"][key]


def _colleague(world: World) -> Any:
    """A second town staff member of the same town: both may edit the town's plan and tasks."""
    from cocreate.core.models import Membership, User

    user = User.objects.create_user(phone="13700007777", password="x-Passw0rd!", display_name="甲镇干部二")
    Membership.objects.create(user=user, role=Role.TOWN_STAFF, region=world.regions["town_a"])
    return user


def _hidden_version(html: str) -> str:
    match = re.search(r'name="expected_version" value="([^"]*)"', html)
    assert match, "the edit form carries no expected_version"
    return match.group(1)


# --- The token itself --------------------------------------------------------------------------------


def test_version_names_exactly_the_changed_fields_and_ignores_the_rest(world: World) -> None:
    household = world.households["a"]
    spec = EditVersion(fields=("number", "address"))
    before = spec.of(household)
    assert before == spec.of(Household.objects.get(pk=household.pk))
    household.address = "新地址"
    after = spec.of(household)
    assert after != before and spec.changed_since(before, after) == ["address"]
    # A field outside the spec (here the region) does not change the version.
    household.region = world.regions["village_b"]
    assert spec.of(household) == after
    # A malformed token differs in every field.
    assert spec.changed_since("garbage", after) == ["address", "number"]


def test_version_does_not_reveal_personal_data(world: World) -> None:
    person = Person.objects.filter(phone__gt="").first()
    assert person is not None
    token = services.PERSON_VERSION.of(person)
    assert person.phone not in token and (person.id_number or "-") not in token


# --- Services: two sequential edits from the same old version -------------------------------------------


def test_task_second_edit_from_the_same_version_is_refused_and_saves_nothing(world: World) -> None:
    task, first, second = _plans(world, "parent_task"), world.user(Role.TOWN_STAFF), _colleague(world)
    seen = plan_services.TASK_VERSION.of(task)
    plan_services.task_update(actor=first, task=task, data={"title": "整治人居环境"}, expected_version=seen)
    with pytest.raises(StaleEdit) as caught:
        plan_services.task_update(
            actor=second,
            task=Task.objects.get(pk=task.pk),
            data={"title": "另一个名称", "deadline": date(2026, 11, 30)},
            expected_version=seen,
        )
    assert caught.value.code == "stale" and caught.value.changed == ["title"] and caught.value.labels == ["任务"]
    task.refresh_from_db()
    assert (task.title, task.deadline) == ("整治人居环境", date(2026, 12, 31))
    # With the current version the second person's deliberate save goes through.
    plan_services.task_update(
        actor=second, task=task, data={"deadline": date(2026, 11, 30)}, expected_version=caught.value.current
    )
    task.refresh_from_db()
    assert (task.title, task.deadline) == ("整治人居环境", date(2026, 11, 30))


def test_task_matrix_change_is_a_conflict_but_progress_is_not(world: World) -> None:
    task, staff = _plans(world, "parent_task"), world.user(Role.TOWN_STAFF)
    seen = plan_services.TASK_VERSION.of(task)
    # Reports move the progress all the time; that is not something an edit form overwrites.
    Task.objects.filter(pk=task.pk).update(progress=42)
    plan_services.task_update(actor=staff, task=task, data={"number": "9"}, expected_version=seen)
    seen = plan_services.TASK_VERSION.of(Task.objects.get(pk=task.pk))
    lead = world.units["town_office"]
    plan_services.task_update(
        actor=staff,
        task=task,
        data={"units": {UnitRole.LEAD: [lead], UnitRole.COOPERATING: [world.units["county_gov"]]}},
        expected_version=seen,
    )
    with pytest.raises(StaleEdit) as caught:
        plan_services.task_update(
            actor=staff, task=task, data={"units": {UnitRole.LEAD: [lead]}}, expected_version=seen
        )
    assert caught.value.changed == ["units"] and caught.value.labels == ["责任单位"]
    assert TaskUnit.objects.filter(task=task, role=UnitRole.COOPERATING).count() == 1


def test_plan_second_edit_is_refused(world: World) -> None:
    plan, staff = _plans(world, "plan"), world.user(Role.TOWN_STAFF)
    seen = plan_services.PLAN_VERSION.of(plan)
    plan_services.plan_update(actor=staff, plan=plan, data={"yellow_after_points": 5}, expected_version=seen)
    with pytest.raises(StaleEdit) as caught:
        plan_services.plan_update(
            actor=_colleague(world),
            plan=Plan.objects.get(pk=plan.pk),
            data={"yellow_after_points": 8, "title": "改名"},
            expected_version=seen,
        )
    assert caught.value.changed == ["yellow_after_points"]
    plan.refresh_from_db()
    assert (plan.yellow_after_points, plan.title) == (5, "甲镇人居环境整治方案")


@pytest.mark.parametrize(
    ("kind", "first", "second", "field"),
    [
        ("household", {"address": "1号"}, {"address": "2号", "number": "A-9"}, "address"),
        ("person", {"name": "张三丰"}, {"name": "张三", "is_party_member": True}, "name"),
        ("region", {"name": "甲村（新）"}, {"name": "甲村二"}, "name"),
        ("unit", {"short_name": "城管"}, {"short_name": "城管局", "name": "甲县城管"}, "short_name"),
    ],
)
def test_core_record_second_edit_is_refused(
    world: World, kind: str, first: dict[str, Any], second: dict[str, Any], field: str
) -> None:
    admin = world.user(Role.ADMIN)
    record: Any
    update: Any
    if kind == "household":
        record, spec, update = world.households["a"], services.HOUSEHOLD_VERSION, services.household_update
    elif kind == "person":
        record = Person.objects.filter(region=world.regions["village_a"]).first()
        spec, update = services.PERSON_VERSION, services.person_update
    elif kind == "region":
        record, spec, update = world.regions["village_a"], services.REGION_VERSION, services.region_update
    else:
        record = Unit.objects.filter(region=world.regions["county_a"]).first()
        spec, update = services.UNIT_VERSION, services.unit_update
    model = type(record)
    seen = spec.of(record)
    update(actor=admin, **{kind: model.objects.get(pk=record.pk)}, data=first, expected_version=seen)
    before = model.objects.filter(pk=record.pk).values().get()
    with pytest.raises(StaleEdit) as caught:
        update(actor=admin, **{kind: model.objects.get(pk=record.pk)}, data=second, expected_version=seen)
    assert caught.value.changed == [field]
    assert model.objects.filter(pk=record.pk).values().get() == before
    # Without a version (an API client that does not send one) the last write still wins.
    update(actor=admin, **{kind: model.objects.get(pk=record.pk)}, data=second)
    assert model.objects.filter(pk=record.pk).values().get() != before


def test_an_edit_does_not_revert_a_verification_made_meanwhile(world: World) -> None:
    """The service saves the row as it is now, not the copy the caller read minutes ago."""
    admin = world.user(Role.ADMIN)
    person = Person.objects.filter(region=world.regions["village_a"], verified_at__isnull=True).first()
    assert person is not None
    stale_copy = Person.objects.get(pk=person.pk)
    services.person_verify(actor=admin, person=Person.objects.get(pk=person.pk))
    services.person_update(
        actor=admin, person=stale_copy, data={"name": "改名"}, expected_version=services.PERSON_VERSION.of(person)
    )
    person.refresh_from_db()
    assert person.name == "改名" and person.verified_at is not None


# --- Pages ------------------------------------------------------------------------------------------------


def _task_form(task: Task, version: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": task.number,
        "title": task.title,
        "content": task.content,
        "phase": task.phase_id or "",
        "starts_on": task.starts_on.isoformat(),
        "deadline": task.deadline.isoformat(),
        "lead_units": [tu.unit_id for tu in task.task_units.filter(role=UnitRole.LEAD)],
        "responsible_units": [tu.unit_id for tu in task.task_units.filter(role=UnitRole.RESPONSIBLE)],
        "expected_version": version,
    }
    data.update(extra)
    return data


def test_task_edit_page_second_save_is_refused_with_the_input_kept(world: World) -> None:
    task = _plans(world, "parent_task")
    url = reverse("plans:task_edit", args=[task.pk])
    first, second = login(Client(), world.user(Role.TOWN_STAFF)), login(Client(), _colleague(world))
    seen_first = _hidden_version(body(first.get(url)))
    seen_second = _hidden_version(body(second.get(url)))
    assert seen_first == seen_second == plan_services.TASK_VERSION.of(task)
    response = first.post(url, _task_form(task, seen_first, title="整治人居环境卫生"))
    assert response.status_code == 302
    response = second.post(url, _task_form(task, seen_second, title="第二人的名称", deadline="2026-11-30"))
    text = body(response)
    assert response.status_code == 409
    assert "该记录已被他人修改，请核对后重新保存" in text and "他人修改了：任务" in text
    assert 'value="第二人的名称"' in text and "2026-11-30" in text
    assert reverse("plans:task_detail", args=[task.pk]) in text
    task.refresh_from_db()
    assert (task.title, task.deadline) == ("整治人居环境卫生", date(2026, 12, 31))
    # The re-shown form carries the current version: saving again after checking is deliberate.
    current = _hidden_version(text)
    assert current == plan_services.TASK_VERSION.of(task)
    response = second.post(url, _task_form(task, current, title="第二人的名称", deadline="2026-11-30"))
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.deadline) == ("第二人的名称", date(2026, 11, 30))


def test_plan_edit_page_second_save_is_refused(world: World) -> None:
    plan = _plans(world, "plan")
    url = reverse("plans:plan_edit", args=[plan.pk])
    client = login(Client(), world.user(Role.TOWN_STAFF))
    seen = _hidden_version(body(client.get(url)))
    form = {
        "title": plan.title,
        "doc_number": plan.doc_number,
        "issuing_unit": plan.issuing_unit_id,
        "region": plan.region_id,
        "starts_on": plan.starts_on.isoformat(),
        "ends_on": plan.ends_on.isoformat(),
        "status": plan.status,
        "summary": plan.summary,
        "yellow_after_points": 5,
        "red_after_points": 20,
        "blue_within_days": plan.blue_within_days,
        "remind_days_before": plan.remind_days_before,
        "escalate_after_days": plan.escalate_after_days,
        "expected_version": seen,
    }
    assert client.post(url, form).status_code == 302
    response = client.post(url, {**form, "red_after_points": 30, "yellow_after_points": 10})
    assert response.status_code == 409 and "黄灯" in body(response)
    plan.refresh_from_db()
    assert (plan.yellow_after_points, plan.red_after_points) == (5, 20)


def test_household_and_person_edit_pages_refuse_a_stale_save(world: World) -> None:
    client = login(Client(), world.user(Role.VILLAGE_STAFF))
    household = world.households["a"]
    url = reverse("core:household_edit", args=[household.pk])
    seen = _hidden_version(body(client.get(url)))
    assert client.post(url, {"number": household.number, "address": "1号", "expected_version": seen}).status_code == 302
    response = client.post(url, {"number": household.number, "address": "2号", "expected_version": seen})
    assert response.status_code == 409 and "他人修改了：地址" in body(response) and 'value="2号"' in body(response)
    household.refresh_from_db()
    assert household.address == "1号"

    person = Person.objects.filter(region=world.regions["village_a"]).first()
    assert person is not None
    url = reverse("core:person_edit", args=[person.pk])
    seen = _hidden_version(body(client.get(url)))
    form = {"name": person.name, "phone": person.phone, "region": person.region_id, "expected_version": seen}
    assert client.post(url, {**form, "name": "李四"}).status_code == 302
    response = client.post(url, {**form, "name": "王五"})
    assert response.status_code == 409 and "他人修改了：姓名" in body(response)
    person.refresh_from_db()
    assert person.name == "李四"


def test_region_and_unit_edit_pages_carry_the_version(world: World) -> None:
    client = login(Client(), world.user(Role.ADMIN))
    region = world.regions["village_a"]
    url = reverse("core:region_edit", args=[region.pk])
    seen = _hidden_version(body(client.get(url)))
    assert client.post(url, {"name": "甲村一", "is_active": "on", "expected_version": seen}).status_code == 302
    response = client.post(url, {"name": "甲村二", "is_active": "on", "expected_version": seen})
    assert response.status_code == 409
    assert Region.objects.get(pk=region.pk).name == "甲村一"
    unit = Unit.objects.filter(region=world.regions["county_a"]).first()
    assert unit is not None
    assert _hidden_version(body(client.get(reverse("core:unit_edit", args=[unit.pk])))) == (
        services.UNIT_VERSION.of(unit)
    )


# --- API ----------------------------------------------------------------------------------------------------


def test_task_patch_with_a_stale_version_answers_409_and_changes_nothing(world: World) -> None:
    task = _plans(world, "parent_task")
    client = as_user(world.user(Role.TOWN_STAFF))
    seen = client.get(f"/api/tasks/{task.pk}").json()["version"]
    response = send(client, "patch", f"/api/tasks/{task.pk}", {"title": "甲", "expected_version": seen})
    assert response.status_code == 200, response.content
    new_version = response.json()["version"]
    assert new_version != seen
    response = send(client, "patch", f"/api/tasks/{task.pk}", {"title": "乙", "expected_version": seen})
    data = assert_error(response, 409, "stale")
    assert data["changed"] == ["title"] and data["version"] == new_version and "expected_version" in data["fields"]
    task.refresh_from_db()
    assert task.title == "甲"
    # Optional for API clients: without it the change is applied as before.
    response = send(client, "patch", f"/api/tasks/{task.pk}", {"title": "丙"})
    assert response.status_code == 200 and response.json()["title"] == "丙"


def test_plan_household_and_person_patch_answer_409_on_a_stale_version(world: World) -> None:
    plan = _plans(world, "plan")
    client = as_user(world.user(Role.TOWN_STAFF))
    seen = client.get(f"/api/plans/{plan.pk}").json()["version"]
    assert (
        send(client, "patch", f"/api/plans/{plan.pk}", {"summary": "一", "expected_version": seen}).status_code == 200
    )
    assert_error(
        send(client, "patch", f"/api/plans/{plan.pk}", {"summary": "二", "expected_version": seen}), 409, "stale"
    )
    assert Plan.objects.get(pk=plan.pk).summary == "一"

    staff = as_user(world.user(Role.VILLAGE_STAFF))
    household = world.households["a"]
    seen = staff.get(f"/api/households/{household.pk}").json()["version"]
    url = f"/api/households/{household.pk}"
    assert send(staff, "patch", url, {"address": "一号", "expected_version": seen}).status_code == 200
    assert_error(send(staff, "patch", url, {"address": "二号", "expected_version": seen}), 409, "stale")
    assert Household.objects.get(pk=household.pk).address == "一号"

    person = Person.objects.filter(region=world.regions["village_a"]).first()
    assert person is not None
    url = f"/api/people/{person.pk}"
    seen = staff.get(url).json()["version"]
    assert send(staff, "patch", url, {"name": "赵六", "expected_version": seen}).status_code == 200
    assert_error(send(staff, "patch", url, {"name": "钱七", "expected_version": seen}), 409, "stale")
    assert Person.objects.get(pk=person.pk).name == "赵六"


def test_notice_second_edit_is_refused(world: World) -> None:
    from cocreate.participation import notices
    from cocreate.participation.tests.test_notices import _notice

    staff = world.user(Role.VILLAGE_STAFF)
    notice = _notice(world)
    seen = notices.NOTICE_VERSION.of(notice)
    notices.notice_update(actor=staff, notice=notice, data={"body": "更正后的名单"}, expected_version=seen)
    with pytest.raises(StaleEdit) as caught:
        notices.notice_update(actor=staff, notice=notice, data={"days": 10, "body": "另一版"}, expected_version=seen)
    assert caught.value.changed == ["body"]
    notice.refresh_from_db()
    assert notice.body == "更正后的名单" and notice.ends_on == date(2026, 6, 7)
