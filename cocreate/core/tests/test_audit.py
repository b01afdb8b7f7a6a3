"""The audit trail: what is recorded, who may search and export it, and that it cannot be edited."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.sites import site as admin_site
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import OUTSIDE_MARKER, PASSWORD, World
from cocreate.core import audit, tokens
from cocreate.core.models import AuditAction, AuditEvent, AuditLogReadOnly, Household, Role

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _name(user: Any) -> str:
    assert user.person is not None
    return str(user.person.name)


def _events(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


# --- What is recorded -----------------------------------------------------------------------------------


def test_a_page_write_is_one_event_with_status_and_object_but_no_body(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    household = world.households["a"]
    client = _client(staff)
    before = AuditEvent.objects.count()
    response = client.post(
        reverse("core:household_edit", args=[household.pk]),
        {"number": "A-001", "region": household.region_id, "address": "甲村99号秘密地址"},
    )
    assert response.status_code in (200, 302)
    events = _events(action=AuditAction.WRITE, user=staff)
    assert AuditEvent.objects.count() == before + 1
    event = events[-1]
    assert event.method == "POST" and event.path == reverse("core:household_edit", args=[household.pk])
    assert event.route == "core:household_edit" and event.object_id == str(household.pk)
    assert event.status_code == response.status_code
    assert event.user_name == _name(staff) and event.client_ip == "127.0.0.1"
    # The request body (personal data) is never stored.
    stored = json.dumps(event.detail, ensure_ascii=False) + event.path
    assert "秘密地址" not in stored


def test_a_refused_write_is_recorded_with_its_status(world: World) -> None:
    resident = world.user(Role.RESIDENT)
    response = _client(resident).post(reverse("core:region_create"), {"name": "x"})
    assert response.status_code == 403
    event = _events(action=AuditAction.WRITE, user=resident)[-1]
    assert event.status_code == 403 and event.route == "core:region_create"


def test_get_requests_write_nothing(world: World) -> None:
    client = _client(world.user(Role.VILLAGE_STAFF))
    client.get(reverse("core:household_list"))  # warm the session and caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("core:household_list")).status_code == 200
    assert not any("core_auditevent" in q["sql"] for q in queries.captured_queries)


def test_a_write_adds_exactly_one_insert(world: World) -> None:
    client = _client(world.user(Role.VILLAGE_STAFF))
    household = world.households["a"]
    with CaptureQueriesContext(connection) as queries:
        client.post(reverse("core:household_edit", args=[household.pk]), {"number": "A-001", "address": "x"})
    audit_sql = [q["sql"] for q in queries.captured_queries if "core_auditevent" in q["sql"]]
    assert len(audit_sql) == 1 and audit_sql[0].lstrip().upper().startswith("INSERT")


def test_recording_survives_a_database_that_fails_the_name_read(world: World) -> None:
    # During a database restart the middleware records a write answered 503; reading the person's
    # name then failed and turned the 503 into a 500 (bench/faults). The display name stands in.
    staff = type(world.user(Role.VILLAGE_STAFF)).objects.get(pk=world.user(Role.VILLAGE_STAFF).pk)  # no person loaded
    staff.display_name = "值班员"

    def fail_person_reads(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "core_person" in sql:
            raise OperationalError("terminating connection due to administrator command")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_person_reads):
        event = audit.record(staff, AuditAction.WRITE, status_code=503)
    assert event is not None and event.user_name == "值班员"
    # With the database answering, the person's name is recorded, read alone.
    fresh = type(staff).objects.get(pk=staff.pk)
    with CaptureQueriesContext(connection) as queries:
        event = audit.record(fresh, AuditAction.WRITE, status_code=201)
    assert event is not None and event.user_name == _name(staff)
    person_sql = [q["sql"] for q in queries.captured_queries if "core_person" in q["sql"]]
    assert person_sql == [person_sql[0]] and "id_number" not in person_sql[0]


def test_an_api_write_with_a_token_is_recorded(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    _token, raw = tokens.token_create(actor=staff, user=staff, name="集成")
    household = world.households["a"]
    response = Client().patch(
        f"/api/households/{household.pk}",
        json.dumps({"address": "令牌改"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 200, response.content
    event = _events(action=AuditAction.WRITE, user=staff)[-1]
    assert event.method == "PATCH" and event.path == f"/api/households/{household.pk}"
    assert event.status_code == 200 and event.object_id == str(household.pk)


def test_login_failed_login_logout_and_lockout_are_recorded(world: World, settings: Any) -> None:
    staff = world.user(Role.TOWN_STAFF)
    client = Client()
    client.post(reverse("core:login"), {"username": staff.phone, "password": "wrong"})
    failed = _events(action=AuditAction.LOGIN_FAILED)
    assert failed and failed[-1].user_id == staff.pk and failed[-1].path == reverse("core:login")
    # An unknown phone number: no account, the typed name kept masked.
    client.post(reverse("core:login"), {"username": "13812345678", "password": "wrong"})
    unknown = _events(action=AuditAction.LOGIN_FAILED, user__isnull=True)
    assert unknown and unknown[-1].username == "138****5678"

    response = client.post(reverse("core:login"), {"username": staff.phone, "password": PASSWORD})
    assert response.status_code == 302
    assert _events(action=AuditAction.LOGIN, user=staff)
    # The login POST is the login event, not also a "write".
    assert not _events(action=AuditAction.WRITE, path=reverse("core:login"))
    client.post(reverse("core:logout"))
    assert _events(action=AuditAction.LOGOUT, user=staff)

    victim = world.user(Role.INSPECTOR)
    other = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        other.post(reverse("core:login"), {"username": victim.phone, "password": "wrong"})
    assert _events(action=AuditAction.LOCKOUT, user=victim)


def test_exports_are_recorded_by_the_middleware(world: World) -> None:
    auditor = world.user(Role.AUDITOR)
    client = _client(auditor)
    response = client.get(reverse("core:audit_export") + "?action=write")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    event = _events(action=AuditAction.EXPORT, user=auditor)[-1]
    assert event.route == "core:audit_export" and event.detail["query"] == "action=write"
    assert event.detail["file"].startswith("audit-") and event.status_code == 200


def test_attachment_style_responses_count_as_exports() -> None:
    from django.http import HttpResponse

    assert audit._is_export(HttpResponse(b"x", content_type="application/pdf"))
    plain = HttpResponse(b"x", content_type="text/plain")
    plain["Content-Disposition"] = 'attachment; filename="a.txt"'
    assert audit._is_export(plain)
    assert not audit._is_export(HttpResponse(b"<p>x</p>"))


def test_a_full_view_of_personal_data_is_recorded(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    person = world.people["a_member"]
    response = _client(staff).get(reverse("core:person_detail", args=[person.pk]))
    assert response.status_code == 200 and person.phone in response.content.decode()
    event = _events(action=AuditAction.PERSONAL_DATA_VIEW, user=staff)[-1]
    assert event.content_type is not None and event.content_type.model == "person"
    assert event.object_id == str(person.pk) and "phone" in event.detail["fields"]
    assert event.path == reverse("core:person_detail", args=[person.pk])
    # A masked showing (someone who may not change the person) is not a full view.
    count = AuditEvent.objects.filter(action=AuditAction.PERSONAL_DATA_VIEW).count()
    _client(world.user(Role.GRID_WORKER)).get(reverse("core:household_detail", args=[world.households["a"].pk]))
    assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_DATA_VIEW).count() == count


# --- Searching and exporting ---------------------------------------------------------------------------


def _seed(world: World) -> dict[str, AuditEvent]:
    now = timezone.now()
    staff, town = world.user(Role.VILLAGE_STAFF), world.user(Role.TOWN_STAFF)
    return {
        "old": AuditEvent.objects.create(
            user=staff, user_name=_name(staff), action=AuditAction.WRITE, at=now - timedelta(days=10)
        ),
        "login": AuditEvent.objects.create(
            user=town, user_name=_name(town), username=town.phone, action=AuditAction.LOGIN, at=now
        ),
        "export": AuditEvent.objects.create(
            user=staff, user_name=_name(staff), action=AuditAction.EXPORT, at=now - timedelta(days=1)
        ),
    }


def test_auditor_searches_by_person_date_and_action(world: World) -> None:
    seeded = _seed(world)
    auditor = world.user(Role.AUDITOR)
    staff, town = world.user(Role.VILLAGE_STAFF), world.user(Role.TOWN_STAFF)

    def ids(**filters: Any) -> set[int]:
        return set(audit.audit_events(user=auditor, **filters).values_list("pk", flat=True))

    assert {seeded["old"].pk, seeded["export"].pk} <= ids(person=_name(staff))
    assert seeded["login"].pk not in ids(person=_name(staff))
    assert seeded["login"].pk in ids(person=town.phone[-6:])  # a part of the phone number
    assert ids(action=AuditAction.EXPORT) == {seeded["export"].pk}
    today = timezone.localdate()
    recent = ids(date_from=today - timedelta(days=2), date_to=today)
    assert seeded["old"].pk not in recent and {seeded["login"].pk, seeded["export"].pk} <= recent
    assert ids(date_to=today - timedelta(days=5)) == {seeded["old"].pk}

    client = _client(auditor)
    page = client.get(reverse("core:audit_list"), {"person": _name(staff), "action": "export"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "导出/下载" in text and OUTSIDE_MARKER not in text
    assert text.count('data-action="export"') == 1
    bad = client.get(reverse("core:audit_list"), {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert bad.status_code == 200 and "起始日期不能晚于截止日期" in bad.content.decode()
    api = client.get("/api/audit", {"action": "login", "person": _name(town)})
    assert api.status_code == 200
    body = api.json()
    assert body["count"] == 1 and body["items"][0]["id"] == seeded["login"].pk
    assert body["items"][0]["username"] == town.phone[:3] + "****" + town.phone[-4:]
    assert client.get("/api/audit", {"date_from": "2026-05-02", "date_to": "2026-05-01"}).status_code == 422
    assert client.get("/api/audit", {"action": "nonsense"}).status_code == 422


def test_auditor_sees_only_their_subtree(world: World) -> None:
    auditor = world.user(Role.AUDITOR)
    events = audit.audit_events(user=auditor)
    assert not events.filter(user=world.users["outside_staff"]).exists()
    assert OUTSIDE_MARKER not in _client(auditor).get(reverse("core:audit_list")).content.decode()
    assert OUTSIDE_MARKER not in _client(auditor).get("/api/audit").content.decode()
    # The superuser sees every event.
    assert audit.audit_events(user=world.users["superuser"]).filter(user=world.users["outside_staff"]).exists()


def test_export_has_the_filtered_rows(world: World) -> None:
    from openpyxl import load_workbook

    seeded = _seed(world)
    town = world.user(Role.TOWN_STAFF)
    response = _client(world.user(Role.AUDITOR)).get(
        reverse("core:audit_export"), {"action": "login", "person": _name(town)}
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "时间" and len(rows) == 2
    assert rows[1][2] == seeded["login"].user_name and "****" in rows[1][3]


def test_non_auditors_are_refused(world: World) -> None:
    for role in [r for r in Role if r != Role.AUDITOR]:
        client = _client(world.user(role))
        assert client.get(reverse("core:audit_list")).status_code == 403, role
        assert client.get(reverse("core:audit_export")).status_code == 403, role
        response = client.get("/api/audit")
        assert response.status_code == 403 and response.json()["error"] == "forbidden", role
        assert AuditEvent.objects.visible_to(world.user(role)).count() == 0, role


def test_anonymous_is_sent_to_login_and_api_401(world: World) -> None:
    assert reverse("core:login") in Client().get(reverse("core:audit_list"))["Location"]
    assert Client().get("/api/audit").status_code == 401


def test_auditor_sees_no_business_data(world: World) -> None:
    auditor = world.user(Role.AUDITOR)
    assert _client(auditor).get(reverse("core:household_list")).status_code == 403
    assert Household.objects.visible_to(auditor).count() == 0
    nav = [item["name"] for item in _client(auditor).get(reverse("core:home")).context["nav_items"]]
    assert "core:audit_list" in nav and "core:household_list" not in nav


def test_api_has_no_write_operation_for_the_audit_trail(world: World) -> None:
    client = _client(world.user(Role.AUDITOR))
    event = _seed(world)["login"]
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)("/api/audit", "{}", content_type="application/json").status_code == 405
        response = getattr(client, method)(f"/api/audit/{event.pk}", "{}", content_type="application/json")
        assert response.status_code in (404, 405)
    event.refresh_from_db()
    assert event.action == AuditAction.LOGIN


# --- Append-only -----------------------------------------------------------------------------------------


def test_events_cannot_be_changed_or_deleted(world: World) -> None:
    event = _seed(world)["login"]
    event.action = AuditAction.WRITE
    with pytest.raises(AuditLogReadOnly):
        event.save()
    with pytest.raises(AuditLogReadOnly):
        event.delete()
    with pytest.raises(AuditLogReadOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action=AuditAction.WRITE)
    with pytest.raises(AuditLogReadOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.action == AuditAction.LOGIN


def test_admin_is_read_only_even_for_superusers(world: World) -> None:
    request = RequestFactory().get("/admin/")
    request.user = world.users["superuser"]
    model_admin = admin_site._registry[AuditEvent]
    event = _seed(world)["login"]
    assert model_admin.has_view_permission(request, event)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    client = _client(world.users["superuser"])
    change_url = reverse("admin:core_auditevent_change", args=[event.pk])
    assert client.get(change_url).status_code == 200  # shown read-only
    client.post(change_url, {"action": "write"})
    assert client.post(reverse("admin:core_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.LOGIN


def test_deleting_an_account_leaves_its_trail_untouched(world: World) -> None:
    staff = world.user(Role.SCHOOL_STAFF)
    event = AuditEvent.objects.create(user=staff, user_name="学校工作人员甲", action=AuditAction.WRITE)
    staff_pk = staff.pk
    staff.memberships.all().delete()
    staff.delete()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.user_id == staff_pk and stored.user_name == "学校工作人员甲"


# --- Retention -----------------------------------------------------------------------------------------


def test_purge_deletes_only_rows_older_than_the_retention(world: World, settings: Any) -> None:
    now = timezone.now()
    old = AuditEvent.objects.create(action=AuditAction.WRITE, at=now - timedelta(days=200))
    edge = AuditEvent.objects.create(action=AuditAction.WRITE, at=now - timedelta(days=179))
    settings.AUDIT_RETENTION_DAYS = 180
    assert audit.purge_expired(now=now, batch=1) == 1
    assert not AuditEvent.objects.filter(pk=old.pk).exists() and AuditEvent.objects.filter(pk=edge.pk).exists()
    settings.AUDIT_RETENTION_DAYS = 365
    AuditEvent.objects.create(action=AuditAction.WRITE, at=now - timedelta(days=200))
    out = io.StringIO()
    call_command("purge_audit", stdout=out)
    assert "0" in out.getvalue() and AuditEvent.objects.filter(at__lt=now - timedelta(days=199)).count() == 1


def test_purge_job_runs_the_same_purge(world: World) -> None:
    from cocreate.core import jobs

    AuditEvent.objects.create(action=AuditAction.WRITE, at=timezone.now() - timedelta(days=400))
    jobs.purge_audit.call_local()
    assert not AuditEvent.objects.filter(at__lt=timezone.now() - timedelta(days=300)).exists()


def test_retention_below_180_days_is_refused(world: World) -> None:
    AuditEvent.objects.create(action=AuditAction.WRITE, at=timezone.now() - timedelta(days=100))
    with override_settings(AUDIT_RETENTION_DAYS=90):
        errors = audit.check_audit_retention()
        assert errors and errors[0].id == "cocreate.E010"
        with pytest.raises(ValueError):
            audit.purge_expired()
        from django.core.management.base import CommandError

        with pytest.raises(CommandError):
            call_command("purge_audit", stdout=io.StringIO())
    assert AuditEvent.objects.count() >= 1
    assert not audit.check_audit_retention()
