"""Personal-data sweep over the demo (issue 6, item 6): every public page, every public API answer
and every export of the demo data, searched for the ID numbers, phone numbers and full names of
private people — residents and the parties of grievance cases. None may appear unmasked.

"Private people" are the demo's persons without a staff membership and every case party; staff
act in their office, and their names appear where their work is reported (a plan's 责任人). Phone
and ID numbers are searched for everyone, staff included: no page or export here needs them.
The demo is loaded once for the module and rolled back at its end.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from cocreate.cases.models import Case, CaseStatus, Party
from cocreate.core.demo import ROLE_PHONES, demo_load
from cocreate.core.models import Membership, Person, Region, RegionLevel, Role, Unit, User
from cocreate.participation.models import Meeting, Notice, Vote
from cocreate.plans import bulletins, supervision
from cocreate.plans.models import Assessment, Bulletin, CheckKind, Plan, Rectification, TaskUnit

pytestmark = pytest.mark.django_db


@dataclass
class Secrets:
    numbers: dict[str, str] = field(default_factory=dict)  # phone or ID number → whose
    names: dict[str, str] = field(default_factory=dict)  # full name → whose


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Secrets]:
    with django_db_blocker.unblock(), transaction.atomic():
        demo_load()
        _supervision()
        yield _secrets()
        transaction.set_rollback(True)


def _supervision() -> None:
    """The demo has no bulletin or 督办函 yet: the county's inspector writes one of each."""
    inspector = User.objects.get(phone=ROLE_PHONES[Role.INSPECTOR])
    county = Region.objects.get(level=RegionLevel.COUNTY, name="红安县")
    today = timezone.localdate()
    link = TaskUnit.objects.filter(task__region__path__startswith=county.path).select_related("task", "unit").first()
    assert link is not None
    task, unit = link.task, link.unit
    check = supervision.check_create(
        actor=inspector, kind=CheckKind.MONTHLY, title="月度检查", region=county, checked_on=today
    )
    finding = supervision.finding_add(actor=inspector, check=check, unit=unit, description="进度滞后", task=task)
    supervision.rectification_raise(
        actor=inspector, finding=finding, requirement="限期整改", deadline=today + timedelta(days=10)
    )
    bulletin = bulletins.bulletin_create(
        actor=inspector,
        region=county,
        title="共同缔造工作通报",
        period_start=today - timedelta(days=30),
        period_end=today,
        praise="柳林村进展较快。",
        criticism="部分单位进度滞后。",
    )
    bulletins.bulletin_publish(actor=inspector, bulletin=bulletin, today=today)


def _secrets() -> Secrets:
    found = Secrets()
    staff_people = set(
        Membership.objects.filter(is_active=True).exclude(role=Role.RESIDENT).values_list("user__person", flat=True)
    )
    public_names = set(Unit.objects.values_list("name", flat=True)) | set(Region.objects.values_list("name", flat=True))
    staff_names = set(Person.objects.filter(pk__in=staff_people).values_list("name", flat=True))
    for person in Person.objects.all():
        for number in (getattr(person, "phone", ""), getattr(person, "id_number", "")):
            if number and len(number) >= 7:
                found.numbers[number] = f"person {person.pk}"
        if person.pk not in staff_people and len(person.name) >= 2:
            found.names[person.name] = f"person {person.pk}"
    for user in User.objects.exclude(phone=""):
        found.numbers[user.phone] = f"account {user.pk}"
    for party in Party.objects.all():
        for number in (party.phone, party.id_number):
            if number:
                found.numbers[number] = f"case party {party.pk}"
        if len(party.name) >= 2:
            found.names[party.name] = f"case party {party.pk}"
    for name in list(found.names):
        if name in staff_names or any(name in other for other in public_names):
            del found.names[name]  # shared with a staff member, a unit or a place: not evidence
    assert len(found.numbers) > 500 and len(found.names) > 300, (len(found.numbers), len(found.names))
    return found


def _text(response: Any) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if "spreadsheetml" in kind:
        book = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(
            " ".join("" if v is None else str(v) for v in row)
            for sheet in book
            for row in sheet.iter_rows(values_only=True)
        )
    if "pdf" in kind:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    text = content.decode("utf-8", errors="replace")
    if "json" in kind:
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text


def _leaks(text: str, secrets: Secrets, where: str) -> list[str]:
    found = []
    digits = set(re.findall(r"\d{7,}[0-9Xx]?", text))
    for number in digits:
        if number in secrets.numbers:
            found.append(f"{where}: number {number} of {secrets.numbers[number]}")
    for name, whose in secrets.names.items():
        if name in text:
            found.append(f"{where}: name {name} of {whose}")
    return found


def _get(client: Client, path: str, checked: list[str], leaks: list[str], secrets: Secrets, **kwargs: Any) -> Any:
    response = client.get(path, **kwargs)
    assert response.status_code < 500, (path, response.status_code)
    if response.status_code == 200:
        checked.append(path)  # only answers with content count as checked
        leaks.extend(_leaks(_text(response), secrets, path))
    return response


def test_no_public_page_or_public_api_answer_shows_private_data(demo: Secrets, capsys: Any) -> None:
    client = Client()
    checked: list[str] = []
    leaks: list[str] = []
    communities = Region.objects.filter(level__gte=RegionLevel.VILLAGE, is_active=True)
    codes = list(communities.values_list("code", flat=True))
    for path in ("/", "/community/public/", "/api/public/communities", "/cases/track/"):
        _get(client, path, checked, leaks, demo)
    for code in codes:
        base = f"/community/public/{code}/"
        for suffix in ("", "needs/", "problems/", "meetings/", "votes/", "notices/", "decisions/", "tasks/"):
            _get(client, base + suffix, checked, leaks, demo)
            _get(client, base + suffix + "?page=2", checked, leaks, demo)
        api = f"/api/public/communities/{code}"
        for suffix in ("", "/needs", "/problems", "/meetings", "/votes", "/notices", "/decisions", "/tasks"):
            _get(client, api + suffix, checked, leaks, demo)
    for model, kind in ((Meeting, "meetings"), (Vote, "votes"), (Notice, "notices")):
        for row in model.objects.select_related("region"):
            _get(client, f"/community/public/{row.region.code}/{kind}/{row.pk}/", checked, leaks, demo)
    for vote in Vote.objects.select_related("region"):
        _get(client, f"/api/public/communities/{vote.region.code}/votes/{vote.pk}", checked, leaks, demo)

    # Tracking with the code and the applicant's phone: the answer shows the case, masked.
    tracked = 0
    for case in Case.objects.exclude(status=CaseStatus.DECLINED).order_by("pk")[:40]:
        applicant = case.parties.filter(role="applicant").first()
        if applicant is None or not applicant.phone:
            continue
        phone = applicant.phone
        others = Secrets(numbers={k: v for k, v in demo.numbers.items() if k != phone}, names=demo.names)
        page = client.post("/cases/track/", {"code": case.tracking_code, "phone": phone})
        api_answer = client.post(
            "/api/public/cases/track",
            data=json.dumps({"code": case.tracking_code, "phone": phone}),
            content_type="application/json",
        )
        answers: list[tuple[str, Any]] = [("page", page), ("api", api_answer)]
        for label, response in answers:
            assert response.status_code == 200, (label, case.pk, response.status_code)
            where = f"track {label} case {case.pk}"
            text = _text(response)
            # The applicant's own phone may stay in the form they just typed it into; nothing else.
            leaks.extend(_leaks(text.replace(f'value="{phone}"', ""), others, where))
            if label == "api":
                assert phone not in text, where
            assert applicant.name not in text or len(applicant.name) < 2, where
        tracked += 1
    assert tracked >= 20
    with capsys.disabled():
        print(f"\npersonal-data sweep: {len(checked)} public pages and API answers, {tracked} tracked cases")
    assert len(checked) > 200, len(checked)
    assert not leaks, "\n".join(sorted(set(leaks))[:40])


def test_no_export_shows_private_data(demo: Secrets, capsys: Any) -> None:
    checked: list[str] = []
    leaks: list[str] = []
    for role in (Role.LEADER, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.INSPECTOR, Role.VILLAGE_STAFF):
        client = Client()
        client.force_login(User.objects.get(phone=ROLE_PHONES[role]))
        for plan in Plan.objects.all():
            _get(client, f"/plans/{plan.pk}/export/", checked, leaks, demo)
        for bulletin in Bulletin.objects.all():
            _get(client, f"/plans/bulletins/{bulletin.pk}/pdf/", checked, leaks, demo)
            _get(client, f"/plans/bulletins/{bulletin.pk}/xlsx/", checked, leaks, demo)
            _get(client, f"/api/bulletins/{bulletin.pk}/pdf", checked, leaks, demo)
            _get(client, f"/api/bulletins/{bulletin.pk}/xlsx", checked, leaks, demo)
        for rectification in Rectification.objects.all():
            _get(client, f"/plans/supervision/rectifications/{rectification.pk}/letter.pdf", checked, leaks, demo)
        for assessment in Assessment.objects.all():
            _get(client, f"/plans/assessments/{assessment.pk}/export/", checked, leaks, demo)
            _get(client, f"/api/assessments/{assessment.pk}/xlsx", checked, leaks, demo)
        for query in ("", "?start=2020-01-01&end=2030-12-31", "?start=2026-01-01&end=2027-12-31&granularity=month"):
            _get(client, f"/cases/export.xlsx{query}", checked, leaks, demo)
            _get(client, f"/cases/analytics/export.xlsx{query}", checked, leaks, demo)
    kinds = {re.sub(r"\d+", "N", path.split("?")[0]) for path in checked}
    with capsys.disabled():
        print(f"\npersonal-data sweep: {len(checked)} export downloads of {len(kinds)} kinds checked")
    assert len(kinds) >= 10, sorted(kinds)
    assert not leaks, "\n".join(sorted(set(leaks))[:40])
