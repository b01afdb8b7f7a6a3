"""Photos and files on a case: they follow the case's own rule (not "all staff over the region"),
only handlers, co-units, the recorder and the applicant add them, the core upload checks apply
(an .exe renamed .jpg is refused and nothing is stored), at intake and on the case page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cocreate.cases import services
from cocreate.cases.models import Case, CaseStatus
from cocreate.cases.tests import helpers as h
from cocreate.conftest import ROLES, World
from cocreate.core import access, evidence
from cocreate.core.models import Attachment, Role
from cocreate.core.tests.test_evidence import exe_bytes, pdf_bytes, png_bytes

pytestmark = pytest.mark.django_db
S = CaseStatus


def _file(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def _client(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend="cocreate.core.hotpath.UserBackend")
    return client


def _case_with_evidence(world: World) -> tuple[Case, Attachment, Attachment]:
    """An in-progress village case (lead unit: the school) with the school's evidence and the applicant's photo."""
    case = h.case_in(world, S.IN_PROGRESS)
    (by_lead,) = services.case_attach(actor=h.lead(world), case=case, uploads=[_file("协议.pdf", pdf_bytes())])
    (by_applicant,) = services.case_attach(actor=h.applicant(world), case=case, uploads=[_file("狗.png", png_bytes())])
    return case, by_lead, by_applicant


def _seen(user: Any) -> set[int]:
    return set(Attachment.objects.visible_to(user).values_list("pk", flat=True))


# --- Who sees a case's attachments ------------------------------------------------------------------------


def test_case_attachments_follow_the_case_rule_not_the_region(world: World) -> None:
    _case, by_lead, by_applicant = _case_with_evidence(world)
    both = {by_lead.pk, by_applicant.pk}
    expected: dict[str, set[int]] = {
        Role.VILLAGE_STAFF: both,  # the office
        Role.SCHOOL_STAFF: both,  # the lead unit
        Role.TOWN_STAFF: both,  # readers at or above the case's level
        Role.DEPT_STAFF: both,
        Role.INSPECTOR: both,
        Role.LEADER: both,
        Role.RESIDENT: {by_applicant.pk},  # the applicant: only their own upload
        Role.GRID_WORKER: set(),  # staff over the village, but the case is not theirs
        Role.ADMIN: set(),  # an administrator over the county reads no grievances
        Role.AUDITOR: set(),  # an auditor reads the audit log, not the cases
    }
    for role in ROLES:
        assert _seen(world.user(role)) & both == expected[role], role
    assert not _seen(world.users["outside_staff"]) & both
    assert not _seen(None) & both
    assert _seen(world.users["superuser"]) >= both
    # Other records keep the core rule: the administrator still sees a household's evidence.
    household_file = evidence.attachment_add(
        actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=_file("门牌.png", png_bytes())
    )
    assert household_file.pk in _seen(world.user(Role.ADMIN))


def test_the_core_attachment_api_and_downloads_follow_the_case_rule(world: World) -> None:
    _case, by_lead, by_applicant = _case_with_evidence(world)
    admin = _client(world.user(Role.ADMIN))
    inspector = _client(world.user(Role.INSPECTOR))
    for pk in (by_lead.pk, by_applicant.pk):
        assert admin.get(f"/api/attachments/{pk}").status_code == 404
        assert admin.get(reverse("core:attachment_download", args=[pk])).status_code == 404
        assert inspector.get(reverse("core:attachment_download", args=[pk])).status_code == 200
    resident = _client(h.applicant(world))
    assert resident.get(reverse("core:attachment_download", args=[by_lead.pk])).status_code == 404
    assert resident.get(reverse("core:attachment_download", args=[by_applicant.pk])).status_code == 200
    listed = admin.get("/api/attachments", {"content_type": "cases.case"}).json()
    assert listed["count"] == 0


# --- Who adds to a case ------------------------------------------------------------------------------------


def test_who_may_attach(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    case.co_units.add(world.units["village_a2_committee"])
    allowed = {Role.VILLAGE_STAFF, Role.SCHOOL_STAFF, Role.RESIDENT}
    for role in ROLES:
        user = world.user(role)
        before = Attachment.objects.count()
        if role in allowed:
            services.case_attach(actor=user, case=case, uploads=[_file("现场.png", png_bytes())])
            assert Attachment.objects.count() == before + 1, role
        else:
            with pytest.raises(PermissionDenied):
                services.case_attach(actor=user, case=case, uploads=[_file("现场.png", png_bytes())])
            assert Attachment.objects.count() == before, role
    # The recorder (a grid worker's home visit) adds to the case they recorded.
    visited = h.register_for_visitor(world)
    services.case_attach(actor=world.user(Role.GRID_WORKER), case=visited, uploads=[_file("a.png", png_bytes())])
    assert access.may_attach(world.user(Role.GRID_WORKER), visited)
    assert not access.may_attach(world.user(Role.GRID_WORKER), case)


def test_the_core_upload_api_uses_the_same_check(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    before = Attachment.objects.count()

    def post(user: Any) -> Any:
        return _client(user).post(
            "/api/attachments",
            {"content_type": "cases.case", "object_id": str(case.pk), "file": _file("x.png", png_bytes())},
        )

    assert post(world.user(Role.INSPECTOR)).status_code == 403  # reads the case, adds nothing
    assert post(world.user(Role.ADMIN)).status_code == 404  # does not see the case
    assert Attachment.objects.count() == before
    assert post(h.lead(world)).status_code == 201
    assert Attachment.objects.count() == before + 1


def test_refused_files_store_nothing(world: World, settings: Any) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    before = Attachment.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.case_attach(
            actor=h.lead(world), case=case, uploads=[_file("ok.png", png_bytes()), _file("photo.jpg", exe_bytes())]
        )
    assert exc.value.error_dict["attachments"][0].code == "file_type"
    assert "photo.jpg" in exc.value.messages[0]
    with pytest.raises(ValidationError) as exc:
        services.case_attach(actor=h.lead(world), case=case, uploads=[_file(f"{i}.png", png_bytes()) for i in range(7)])
    assert exc.value.error_dict["attachments"][0].code == "too_many"
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(ValidationError) as exc:
        services.case_attach(actor=h.lead(world), case=case, uploads=[_file("big.png", png_bytes())])
    assert exc.value.error_dict["attachments"][0].code == "file_size"
    assert Attachment.objects.count() == before
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]  # no file stored either


# --- Pages -------------------------------------------------------------------------------------------------


def _intake(world: World, **files: Any) -> dict[str, Any]:
    return {
        "region": world.regions["grid_a"].pk,
        "channel": "visit",
        "applicant_name": "赵大爷",
        "applicant_phone": "13812340000",
        "applicant_id_number": "",
        "other_name": "",
        "other_phone": "",
        "category": h.category().pk,
        "urgency": "normal",
        "place": "晒谷场",
        "description": "晒谷场被邻居占用，协商不成",
        **files,
    }


def test_intake_with_optional_photos(world: World) -> None:
    grid = _client(world.user(Role.GRID_WORKER))
    url = reverse("cases:case_intake_form")
    form = grid.get(url).content.decode()
    assert 'accept="image/*"' in form and 'capture="environment"' in form and "multiple" in form

    cases = Case.objects.count()
    refused = grid.post(url, _intake(world, photo=_file("photo.jpg", exe_bytes())))
    assert refused.status_code == 400 and "不支持的文件类型" in refused.content.decode()
    assert "晒谷场被邻居占用" in refused.content.decode()  # what was typed is kept
    assert Case.objects.count() == cases  # a refused file registers nothing

    done = grid.post(
        url,
        _intake(
            world,
            photo=_file("现场.jpg", png_bytes()),
            attachments=[_file("a.pdf", pdf_bytes(), "application/pdf"), _file("b.png", png_bytes())],
        ),
    )
    assert done.status_code == 302
    case = Case.objects.latest("pk")
    stored = Attachment.objects.filter(
        content_type=ContentType.objects.get_for_model(Case), object_id=str(case.pk)
    ).order_by("pk")
    assert [a.extension for a in stored] == [".png", ".pdf", ".png"]
    assert {a.uploaded_by for a in stored} == {world.user(Role.GRID_WORKER)}

    without = grid.post(url, _intake(world))  # photos are optional
    assert without.status_code == 302


def test_case_page_upload_for_handlers(world: World) -> None:
    case = h.case_in(world, S.IN_PROGRESS)
    page_url = reverse("cases:case_detail", args=[case.pk])
    lead = _client(h.lead(world))
    assert 'id="case-attach-form"' in lead.get(page_url).content.decode()
    assert 'id="case-attach-form"' not in _client(world.user(Role.INSPECTOR)).get(page_url).content.decode()

    url = reverse("cases:case_attach", args=[case.pk])
    bad = lead.post(url, {"attachments": [_file("photo.jpg", exe_bytes())]})
    assert bad.status_code == 400 and "不支持的文件类型" in bad.content.decode()
    empty = lead.post(url, {})
    assert empty.status_code == 400 and "请选择要上传的照片或文件" in empty.content.decode()
    assert (
        lead.post(url, {"attachments": [_file("调解协议.pdf", pdf_bytes())], "description": "调解协议"}).status_code
        == 302
    )
    assert "调解协议.pdf" in lead.get(page_url).content.decode()
    # The inspector reads it; the applicant does not see the lead unit's file; an admin cannot post.
    assert "调解协议.pdf" in _client(world.user(Role.INSPECTOR)).get(page_url).content.decode()
    assert "调解协议.pdf" not in _client(h.applicant(world)).get(page_url).content.decode()
    assert _client(world.user(Role.ADMIN)).post(url, {"attachments": [_file("x.pdf", pdf_bytes())]}).status_code == 404
    assert (
        _client(world.user(Role.INSPECTOR)).post(url, {"attachments": [_file("x.pdf", pdf_bytes())]}).status_code == 404
    )
    assert _client(None).post(url, {}).status_code == 302  # to the login page
    assert lead.get(url).status_code == 405
    # The tracking page (code + phone) shows no attachments at all.
    tracked = _client(None).post(
        reverse("cases:case_track"), {"code": case.tracking_code, "phone": h.applicant(world).phone}
    )
    assert "调解协议" not in tracked.content.decode()
