"""Supervision (督查督办): checks, findings, rectifications to closure, reminders, pages, API, 督办函."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from cocreate.conftest import OUTSIDE_MARKER, World, build_world
from cocreate.core.models import Attachment, Membership, Notification, Person, Role, User
from cocreate.core.tests.concurrency import race
from cocreate.plans import supervision
from cocreate.plans.jobs_supervision import send_rectification_reminders
from cocreate.plans.models import (
    CheckKind,
    Finding,
    Rectification,
    RectificationStatus,
    SupervisionCheck,
)

pytestmark = pytest.mark.django_db

BACKEND = "cocreate.core.hotpath.UserBackend"
N_PARALLEL = 6


def rec(world: World, key: str) -> Any:
    return world.extra["plans"][key]


def login(user: User) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def send(client: Client, url: str, payload: Any = None) -> Any:
    return client.post(url, data=json.dumps(payload) if payload is not None else "", content_type="application/json")


def staff_of(world: World, region_key: str, unit_key: str, role: str = Role.VILLAGE_STAFF, phone: str = "") -> User:
    """Another account working in a unit (e.g. 乙村's committee)."""
    region = world.regions[region_key]
    person = Person.objects.create(name=f"{unit_key}干部", region=region)
    user = User.objects.create_user(phone=phone or "13600000001", password="x-pw-123456", person=person)
    Membership.objects.create(user=user, role=role, region=region, unit=world.units[unit_key])
    return user


def new_check(world: World, *, actor: User | None = None, region_key: str = "town_a", plan: bool = True) -> Any:
    return supervision.check_create(
        actor=actor or world.user(Role.INSPECTOR),
        kind=CheckKind.WEEKLY,
        title="环境卫生每周抽查",
        region=world.regions[region_key],
        checked_on=timezone.localdate(),
        plan=rec(world, "plan") if plan else None,
    )


def raised(world: World, *, deadline: date | None = None, check: Any = None) -> Rectification:
    """A fresh check with a finding at 甲村 and a rectification raised from it."""
    inspector = world.user(Role.INSPECTOR)
    check = check or new_check(world)
    finding = supervision.finding_add(
        actor=inspector,
        check=check,
        unit=world.units["village_committee"],
        task=rec(world, "child_task"),
        description="垃圾桶满溢未及时清运",
    )
    return supervision.rectification_raise(
        actor=inspector,
        finding=finding,
        requirement="三日内清运完毕并建立日清制度",
        deadline=deadline or timezone.localdate() + timedelta(days=3),
    )


def png(name: str = "photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# --- Services: roles --------------------------------------------------------------------------------


def test_supervisors_create_checks_others_are_refused_and_nothing_changes(world: World, role: str) -> None:
    before = SupervisionCheck.objects.count()
    if role in (Role.INSPECTOR, Role.LEADER, Role.ADMIN):
        check = new_check(world, actor=world.user(role))
        assert check.inspector == world.user(role)
        assert SupervisionCheck.objects.count() == before + 1
    else:
        with pytest.raises(PermissionDenied):
            new_check(world, actor=world.user(role))
        assert SupervisionCheck.objects.count() == before


def test_inspector_cannot_check_outside_their_region(world: World) -> None:
    with pytest.raises(PermissionDenied):
        new_check(world, region_key="town_b", plan=False)
    # Nor tie a check to a plan they cannot see.
    with pytest.raises(ValidationError):
        supervision.check_create(
            actor=world.user(Role.INSPECTOR),
            kind=CheckKind.SPECIAL,
            title="专项",
            region=world.regions["town_a"],
            checked_on=timezone.localdate(),
            plan=rec(world, "outside_plan"),
        )


def test_finding_unit_and_task_must_lie_inside_the_check(world: World) -> None:
    inspector = world.user(Role.INSPECTOR)
    check = new_check(world, region_key="village_a2", plan=False)
    for unit in (world.units["village_committee"], world.units["outside"]):
        with pytest.raises(ValidationError):
            supervision.finding_add(actor=inspector, check=check, unit=unit, description="问题")
    with pytest.raises(ValidationError):
        supervision.finding_add(
            actor=inspector,
            check=check,
            unit=world.units["village_a2_committee"],
            task=rec(world, "child_task"),  # in 甲村, not 乙村
            description="问题",
        )
    finding = supervision.finding_add(
        actor=inspector, check=check, unit=world.units["village_a2_committee"], description="台账不全"
    )
    assert finding.region == world.regions["village_a2"]
    # A village staff member cannot add findings to anyone's check.
    with pytest.raises(PermissionDenied):
        supervision.finding_add(
            actor=world.user(Role.VILLAGE_STAFF), check=check, unit=world.units["village_a2_committee"], description="x"
        )


def test_raise_numbers_letters_per_region_and_year_and_tells_the_unit(world: World) -> None:
    year = timezone.localdate().year
    village = world.user(Role.VILLAGE_STAFF)
    first = raised(world)
    second = raised(world)
    assert first.letter_number == f"督办〔{year}〕1号"
    assert second.letter_number == f"督办〔{year}〕2号"
    assert first.region == world.regions["village_a"] and first.unit == world.units["village_committee"]
    # A check issued by the county numbers on its own.
    county_check = new_check(world, region_key="county_a")
    assert raised(world, check=county_check).letter_number == f"督办〔{year}〕1号"
    notes = Notification.objects.filter(user=village, url=reverse("plans:rectification_detail", args=[first.pk]))
    assert notes.count() == 1 and "督办" in notes.get().title
    # One rectification per finding; a used number is refused.
    with pytest.raises(ValidationError):
        supervision.rectification_raise(
            actor=world.user(Role.INSPECTOR),
            finding=first.finding,
            requirement="again",
            deadline=timezone.localdate(),
        )
    finding = supervision.finding_add(
        actor=world.user(Role.INSPECTOR), check=first.finding.check_record, unit=world.units["school"], description="x"
    )
    with pytest.raises(ValidationError):
        supervision.rectification_raise(
            actor=world.user(Role.INSPECTOR),
            finding=finding,
            requirement="y",
            deadline=timezone.localdate(),
            letter_number=first.letter_number,
        )
    with pytest.raises(PermissionDenied):
        supervision.rectification_raise(actor=village, finding=finding, requirement="y", deadline=timezone.localdate())


# --- Services: the workflow to closure ----------------------------------------------------------------


def test_workflow_respond_close_reopen_close(world: World) -> None:
    inspector = world.user(Role.INSPECTOR)
    village = world.user(Role.VILLAGE_STAFF)
    rectification = raised(world)

    # The village cannot close its own rectification, not even after responding.
    with pytest.raises(PermissionDenied):
        supervision.rectification_close(actor=village, rectification=rectification)
    with pytest.raises(ValidationError):
        supervision.rectification_close(actor=inspector, rectification=rectification)  # nothing reported yet

    supervision.rectification_respond(
        actor=village, rectification=rectification, response="已清运并建立台账", upload=png()
    )
    rectification.refresh_from_db()
    assert rectification.status == RectificationStatus.SUBMITTED
    assert rectification.responded_by == village and rectification.responded_at is not None
    evidence = Attachment.objects.filter(
        content_type=ContentType.objects.get_for_model(Rectification), object_id=str(rectification.pk)
    )
    assert evidence.count() == 1
    assert Notification.objects.filter(user=inspector, title__contains="整改情况已报送").count() == 1
    with pytest.raises(ValidationError):
        supervision.rectification_respond(actor=village, rectification=rectification, response="again")
    with pytest.raises(PermissionDenied):
        supervision.rectification_close(actor=village, rectification=rectification)

    new_deadline = timezone.localdate() + timedelta(days=10)
    supervision.rectification_reopen(
        actor=inspector, rectification=rectification, reason="台账照片不清晰", deadline=new_deadline
    )
    rectification.refresh_from_db()
    assert rectification.status == RectificationStatus.OPEN and rectification.deadline == new_deadline
    assert rectification.history.filter(history_change_reason="台账照片不清晰").exists()
    assert Notification.objects.filter(user=village, title__contains="退回").count() == 1
    with pytest.raises(ValidationError):
        supervision.rectification_reopen(actor=inspector, rectification=rectification, reason="x")

    supervision.rectification_respond(actor=village, rectification=rectification, response="重新拍照上传")
    supervision.rectification_close(actor=inspector, rectification=rectification)
    rectification.refresh_from_db()
    assert rectification.status == RectificationStatus.CLOSED
    assert rectification.closed_by == inspector and rectification.closed_at is not None


def test_only_the_units_own_staff_may_respond(world: World) -> None:
    rectification = raised(world)
    neighbour = staff_of(world, "village_a2", "village_a2_committee")
    with pytest.raises(PermissionDenied):
        supervision.rectification_respond(actor=neighbour, rectification=rectification, response="不是我村")
    with pytest.raises(PermissionDenied):
        supervision.rectification_respond(actor=world.user(Role.RESIDENT), rectification=rectification, response="居民")
    rectification.refresh_from_db()
    assert rectification.status == RectificationStatus.OPEN and rectification.response == ""
    # A member of the unit without a reporter role over the region may answer for the unit.
    member = staff_of(world, "village_a", "village_committee", role=Role.GRID_WORKER, phone="13600000002")
    supervision.rectification_respond(actor=member, rectification=rectification, response="网格员报送")
    rectification.refresh_from_db()
    assert rectification.status == RectificationStatus.SUBMITTED


def test_overdue_is_computed_for_the_day_asked(world: World) -> None:
    rectification = raised(world)
    village = world.user(Role.VILLAGE_STAFF)
    deadline = rectification.deadline

    def flag(today: date) -> bool:
        row = supervision.rectification_list(user=village, today=today).get(pk=rectification.pk)
        return bool(getattr(row, "is_overdue"))  # an annotation

    assert flag(deadline) is False
    assert flag(deadline + timedelta(days=1)) is True
    overdue_ids = set(
        supervision.rectification_list(user=village, overdue=True, today=deadline + timedelta(days=1)).values_list(
            "pk", flat=True
        )
    )
    assert rectification.pk in overdue_ids
    assert supervision.rectification_counts(user=village, today=deadline + timedelta(days=1))["overdue"] >= 1
    supervision.rectification_respond(actor=village, rectification=rectification, response="已整改")
    assert flag(deadline + timedelta(days=1)) is False  # answered in time: not overdue any more


def test_reminders_the_day_before_and_on_the_deadline_once_each(world: World) -> None:
    village = world.user(Role.VILLAGE_STAFF)
    rectification = raised(world, deadline=timezone.localdate() + timedelta(days=5))
    deadline = rectification.deadline
    notes = Notification.objects.filter(user=village, dedupe_key__contains=f"rectification:{rectification.pk}:due")

    assert send_rectification_reminders(today=deadline - timedelta(days=2)) == 0
    assert send_rectification_reminders(today=deadline - timedelta(days=1)) == 1
    assert send_rectification_reminders(today=deadline - timedelta(days=1)) == 0
    assert send_rectification_reminders(today=deadline) == 1
    assert send_rectification_reminders(today=deadline) == 0
    assert notes.count() == 2
    assert {n.title.split("：")[0] for n in notes} == {"整改明天到期", "整改今天到期"}
    # Answered rectifications are not reminded.
    other = raised(world, deadline=timezone.localdate() + timedelta(days=6))
    supervision.rectification_respond(actor=village, rectification=other, response="已整改")
    assert send_rectification_reminders(today=other.deadline) == 0


# --- Scope -----------------------------------------------------------------------------------------------


def test_a_village_sees_a_town_check_only_through_its_own_findings(world: World) -> None:
    village = world.user(Role.VILLAGE_STAFF)
    neighbour = staff_of(world, "village_a2", "village_a2_committee")
    check = rec(world, "check")
    supervision.finding_add(
        actor=world.user(Role.INSPECTOR), check=check, unit=world.units["village_a2_committee"], description="乙村问题"
    )
    assert list(supervision.check_list(user=village).values_list("pk", flat=True)) == [check.pk]
    counts = [getattr(c, "finding_count") for c in supervision.check_list(user=village)]  # an annotation
    assert counts == [1]  # its own finding, not 乙村's
    assert [f.unit for f in supervision.check_findings(user=village, check=check)] == [world.units["village_committee"]]
    assert [f.unit for f in supervision.check_findings(user=neighbour, check=check)] == [
        world.units["village_a2_committee"]
    ]
    for user in (village, neighbour, world.user(Role.INSPECTOR)):
        assert OUTSIDE_MARKER not in str(list(supervision.check_list(user=user).values_list("title", flat=True)))
        assert not supervision.rectification_list(user=user).filter(unit=world.units["outside"]).exists()


def test_out_of_scope_ids_answer_404_on_pages_and_api(world: World) -> None:
    client = login(world.user(Role.INSPECTOR))
    check, rectification = rec(world, "outside_check"), rec(world, "outside_rectification")
    finding = rec(world, "outside_finding")
    for url in (
        reverse("plans:check_detail", args=[check.pk]),
        reverse("plans:check_finding_add", args=[check.pk]),
        reverse("plans:finding_rectify", args=[finding.pk]),
        reverse("plans:rectification_detail", args=[rectification.pk]),
        reverse("plans:rectification_letter", args=[rectification.pk]),
        f"/api/checks/{check.pk}",
        f"/api/rectifications/{rectification.pk}",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("plans:rectification_close", args=[rectification.pk]),
        f"/api/rectifications/{rectification.pk}/close",
        f"/api/rectifications/{rectification.pk}/respond",
        f"/api/rectifications/{rectification.pk}/reopen",
        f"/api/findings/{finding.pk}/rectification",
    ):
        payload = {"response": "x", "reason": "x", "requirement": "x", "deadline": "2999-01-01"}
        response = send(client, url, payload) if url.startswith("/api") else client.post(url)
        assert response.status_code == 404, url
    rectification.refresh_from_db()
    assert rectification.status == RectificationStatus.OPEN


# --- Pages --------------------------------------------------------------------------------------------------


def test_inspector_pages_create_check_add_finding_raise(world: World) -> None:
    client = login(world.user(Role.INSPECTOR))
    response = client.get(reverse("plans:check_list"))
    assert response.status_code == 200 and OUTSIDE_MARKER not in response.content.decode()
    assert rec(world, "check").title in response.content.decode()
    response = client.post(
        reverse("plans:check_create"),
        {
            "kind": CheckKind.MONTHLY,
            "title": "十一月检查",
            "region": world.regions["town_a"].pk,
            "plan": rec(world, "plan").pk,
            "checked_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    check = SupervisionCheck.objects.get(title="十一月检查")
    # A bad form re-shows the input with the reason.
    bad = client.post(
        reverse("plans:check_create"),
        {"kind": "weekly", "title": "未来检查", "region": world.regions["town_a"].pk, "checked_on": "2999-01-01"},
    )
    assert bad.status_code == 400 and "未来检查" in bad.content.decode()
    response = client.post(
        reverse("plans:check_finding_add", args=[check.pk]),
        {
            "unit": world.units["village_committee"].pk,
            "task": rec(world, "child_task").pk,
            "severity": "serious",
            "description": "路边堆放杂物",
        },
    )
    assert response.status_code == 302
    finding = Finding.objects.get(check_record=check)
    page = client.get(reverse("plans:check_detail", args=[check.pk])).content.decode()
    assert "路边堆放杂物" in page and reverse("plans:finding_rectify", args=[finding.pk]) in page
    deadline = timezone.localdate() + timedelta(days=7)
    response = client.post(
        reverse("plans:finding_rectify", args=[finding.pk]),
        {"requirement": "一周内清理", "deadline": deadline.isoformat(), "letter_number": ""},
    )
    assert response.status_code == 302
    rectification = Rectification.objects.get(finding=finding)
    assert response["Location"] == reverse("plans:rectification_detail", args=[rectification.pk])


def test_village_pages_my_rectifications_with_overdue_flag_and_respond(world: World) -> None:
    village = world.user(Role.VILLAGE_STAFF)
    client = login(village)
    overdue = rec(world, "rectification")  # the world's one: deadline 2026-04-04, still open
    assert supervision.is_overdue(overdue, date(2026, 4, 5))
    page = client.get(reverse("plans:rectification_list") + "?mine=1")
    text = page.content.decode()
    assert page.status_code == 200 and OUTSIDE_MARKER not in text
    assert f'data-rectification="{overdue.pk}"' in text
    if supervision.is_overdue(overdue):
        assert 'data-overdue="1"' in text
    detail = client.get(reverse("plans:rectification_detail", args=[overdue.pk])).content.decode()
    assert reverse("plans:rectification_respond", args=[overdue.pk]) in detail
    assert reverse("plans:rectification_close", args=[overdue.pk]) not in detail
    response = client.post(
        reverse("plans:rectification_respond", args=[overdue.pk]),
        {"response": "已全部清理", "evidence": png(), "evidence_description": "清理后"},
    )
    assert response.status_code == 302
    overdue.refresh_from_db()
    assert overdue.status == RectificationStatus.SUBMITTED
    # The village cannot close it through the page either.
    assert client.post(reverse("plans:rectification_close", args=[overdue.pk])).status_code == 404
    overdue.refresh_from_db()
    assert overdue.status == RectificationStatus.SUBMITTED
    # The inspector sees close and reopen, and closes it.
    inspector = login(world.user(Role.INSPECTOR))
    detail = inspector.get(reverse("plans:rectification_detail", args=[overdue.pk])).content.decode()
    assert reverse("plans:rectification_close", args=[overdue.pk]) in detail
    inspector.post(reverse("plans:rectification_reopen", args=[overdue.pk]), {"reason": "照片不清"})
    overdue.refresh_from_db()
    assert overdue.status == RectificationStatus.OPEN
    assert "照片不清" in inspector.get(reverse("plans:rectification_detail", args=[overdue.pk])).content.decode()


def test_respond_page_shows_the_reason_on_bad_input(world: World) -> None:
    client = login(world.user(Role.VILLAGE_STAFF))
    rectification = rec(world, "rectification")
    response = client.post(reverse("plans:rectification_respond", args=[rectification.pk]), {"response": ""})
    assert response.status_code == 400
    rectification.refresh_from_db()
    assert rectification.status == RectificationStatus.OPEN


def test_letter_pdf_renders_in_chinese(world: World) -> None:
    from pypdf import PdfReader

    rectification = raised(world)
    client = login(world.user(Role.VILLAGE_STAFF))
    response = client.get(reverse("plans:rectification_letter", args=[rectification.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = response.content
    assert data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    compact = "".join(text.split())
    for expected in ("督办函", rectification.letter_number, "甲村村民委员会", "三日内清运完毕", "甲镇党政办"):
        assert expected in compact, (expected, compact)


def _english(day: date) -> str:
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
    months += ["November", "December"]
    return f"{day.day} {months[day.month - 1]} {day.year}"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_letter_dates_follow_the_active_language(world: World, language: str) -> None:
    from django.template.loader import render_to_string
    from django.utils import translation

    rectification = raised(world, deadline=timezone.localdate() + timedelta(days=40))
    context = supervision.letter_context(rectification)
    checked_on, deadline, issued_on = context["check"].checked_on, rectification.deadline, context["issued_on"]
    with translation.override(language):
        html = render_to_string("plans/letter_pdf.html", context)
    if language == "en":
        for day in (checked_on, deadline, issued_on):
            assert _english(day) in html, (_english(day), html)
        assert "年" not in html.replace(rectification.letter_number, "") and '<html lang="en">' in html
    else:
        for day in (checked_on, deadline, issued_on):
            assert f"{day.year}年{day.month}月{day.day}日" in html
        assert f"{checked_on.year}年{checked_on.month}月{checked_on.day}日每周抽查（环境卫生每周抽查）" in html


def test_letter_pdf_in_english_prints_english_dates(world: World, settings: Any) -> None:
    from pypdf import PdfReader

    deadline = timezone.localdate() + timedelta(days=40)
    rectification = raised(world, deadline=deadline)
    client = login(world.user(Role.VILLAGE_STAFF))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(reverse("plans:rectification_letter", args=[rectification.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages).split())
    assert _english(deadline) in text, text
    assert f"{deadline.month}月{deadline.day}日" not in text


# --- API -------------------------------------------------------------------------------------------------


def test_api_checks_findings_rectifications_to_closure(world: World) -> None:
    inspector = login(world.user(Role.INSPECTOR))
    village = login(world.user(Role.VILLAGE_STAFF))
    listed = inspector.get("/api/checks").json()
    assert listed["count"] == 1 and OUTSIDE_MARKER not in json.dumps(listed, ensure_ascii=False)

    payload = {
        "kind": "special",
        "title": "专项督查",
        "region_id": world.regions["town_a"].pk,
        "checked_on": timezone.localdate().isoformat(),
        "plan_id": rec(world, "plan").pk,
    }
    assert send(village, "/api/checks", payload).status_code == 403
    assert send(inspector, "/api/checks", {**payload, "region_id": world.regions["town_b"].pk}).status_code == 404
    created = send(inspector, "/api/checks", payload)
    assert created.status_code == 201, created.content
    check_id = created.json()["id"]
    finding = send(
        inspector,
        f"/api/checks/{check_id}/findings",
        {"unit_id": world.units["village_committee"].pk, "description": "公示栏未更新", "severity": "note"},
    )
    assert finding.status_code == 201, finding.content
    assert finding.json()["region_id"] == world.regions["village_a"].pk
    outside_unit = send(
        inspector, f"/api/checks/{check_id}/findings", {"unit_id": world.units["outside"].pk, "description": "x"}
    )
    assert outside_unit.status_code == 404
    detail = inspector.get(f"/api/checks/{check_id}").json()
    assert [f["description"] for f in detail["findings"]] == ["公示栏未更新"]

    finding_id = finding.json()["id"]
    assert (
        send(
            village, f"/api/findings/{finding_id}/rectification", {"requirement": "x", "deadline": "2999-01-01"}
        ).status_code
        == 403
    )
    deadline = (timezone.localdate() + timedelta(days=3)).isoformat()
    raised_one = send(
        inspector, f"/api/findings/{finding_id}/rectification", {"requirement": "更新公示栏", "deadline": deadline}
    )
    assert raised_one.status_code == 201, raised_one.content
    assert raised_one.json()["letter_number"] == f"督办〔{timezone.localdate().year}〕1号"
    assert raised_one.json()["status"] == "open" and raised_one.json()["check_id"] == check_id

    rectification = rec(world, "rectification")
    mine = village.get("/api/rectifications?mine=true&status=open").json()
    assert [r["id"] for r in mine["items"]] == [rectification.pk, raised_one.json()["id"]]
    assert mine["items"][0]["is_overdue"] == supervision.is_overdue(rectification)
    assert send(village, f"/api/rectifications/{rectification.pk}/close").status_code == 403
    answered = send(village, f"/api/rectifications/{rectification.pk}/respond", {"response": "已整改到位"})
    assert answered.status_code == 200 and answered.json()["status"] == "submitted"
    again = send(village, f"/api/rectifications/{rectification.pk}/respond", {"response": "再次"})
    assert again.status_code == 400 and again.json()["error"]
    assert send(village, f"/api/rectifications/{rectification.pk}/reopen", {"reason": "自己退回"}).status_code == 403
    reopened = send(inspector, f"/api/rectifications/{rectification.pk}/reopen", {"reason": "缺少照片"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    send(village, f"/api/rectifications/{rectification.pk}/respond", {"response": "补充照片"})
    closed = send(inspector, f"/api/rectifications/{rectification.pk}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert (
        village.get(f"/api/rectifications/{rectification.pk}").json()["closed_by_id"] == world.user(Role.INSPECTOR).pk
    )


def test_check_list_query_count_does_not_grow_with_checks(world: World, django_assert_max_num_queries: Any) -> None:
    client = login(world.user(Role.INSPECTOR))
    for i in range(12):
        new_check(world).findings.create(
            unit=world.units["village_committee"], region=world.regions["village_a"], description=f"问题{i}"
        )
    with django_assert_max_num_queries(12):
        assert client.get(reverse("plans:check_list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("plans:rectification_list")).status_code == 200


# --- Concurrency (PostgreSQL only: SQLite serialises writers anyway) ----------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_parallel_raises_get_distinct_letter_numbers_and_one_response_wins() -> None:
    world = build_world()
    inspector = world.user(Role.INSPECTOR)
    check = new_check(world)
    findings = [
        supervision.finding_add(
            actor=inspector, check=check, unit=world.units["village_committee"], description=f"问题{i}"
        )
        for i in range(N_PARALLEL)
    ]
    deadline = timezone.localdate() + timedelta(days=5)

    def raise_one(i: int) -> Rectification:
        return supervision.rectification_raise(
            actor=inspector, finding=findings[i], requirement="整改", deadline=deadline
        )

    results = race(N_PARALLEL, raise_one)
    assert all(isinstance(r, Rectification) for r in results), results
    year = timezone.localdate().year
    assert sorted(r.letter_number for r in results) == sorted(f"督办〔{year}〕{n}号" for n in range(1, N_PARALLEL + 1))

    responders = [world.user(Role.VILLAGE_STAFF), world.user(Role.TOWN_STAFF), world.user(Role.ADMIN)]
    target = results[0]

    def respond(i: int) -> Rectification:
        return supervision.rectification_respond(actor=responders[i], rectification=target, response=f"整改{i}")

    answers = race(len(responders), respond)
    assert sum(isinstance(a, Rectification) for a in answers) == 1, answers
    assert all(isinstance(a, (Rectification, ValidationError)) for a in answers), answers
    assert Notification.objects.filter(title__contains="整改情况已报送", user=inspector).count() == 1
