"""The grievance app's part of the test world: one case in progress in village A (the resident's)
and one, marked, in county B — each with parties, timeline, a rated first reply, a decided return,
a pending extension request and a 到期提醒 sent, so the route × role matrix has a row of every model on each side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from cocreate.cases.defaults import install_defaults
from cocreate.cases.models import (
    Case,
    CaseCategory,
    CaseChannel,
    CaseEvent,
    CaseLevel,
    CaseReminder,
    CaseReturn,
    CaseStatus,
    EventKind,
    ExtensionRequest,
    Party,
    PartyRole,
    Rating,
    RatingChannel,
    ReminderKind,
    ReturnDecision,
    Satisfaction,
    TimeLimit,
)
from cocreate.cases.tracking import phone_digest
from cocreate.conftest import OUTSIDE_MARKER, World


def extend(w: World) -> None:
    install_defaults(CaseCategory, TimeLimit)  # a transactional test's flush removes the migration's rows
    now = timezone.now()
    due = now + timedelta(days=10)
    category = CaseCategory.objects.get(code="neighbour")
    resident = w.users["resident"].person
    records: dict[str, Any] = {}
    for key, region, unit, person, staff, number, code, phone, marker in (
        (
            "",
            w.regions["village_a"],
            w.units["village_committee"],
            resident,
            w.users["village_staff"],
            "1",
            "WORLDA2345",
            "13700000000",
            "",
        ),
        (
            "outside_",
            w.regions["village_b"],
            w.units["outside"],
            w.people["outside"],
            w.users["outside_staff"],
            "2",
            "WORLDB2345",
            "13900000003",
            OUTSIDE_MARKER,
        ),
    ):
        case = Case.objects.create(
            number=f"1999-00000{number}",
            tracking_code=code,
            region=region,
            channel=CaseChannel.WALKIN,
            category=category,
            title=f"{marker}宅基地边界纠纷",
            description=f"{marker}两户因院墙位置发生争执",
            status=CaseStatus.IN_PROGRESS,
            level=CaseLevel.VILLAGE,
            lead_unit=unit,
            dispatched_at=now - timedelta(days=6),
            due_at=due,
            step_due_at=now + timedelta(days=3),
            signed_at=now - timedelta(days=6),
            first_contact_at=now - timedelta(days=5),
            replied_at=now - timedelta(days=3),
            reply_count=1,
            rework_round=1,
            created_by=staff,
            version=2,
        )
        applicant = Party.objects.create(
            case=case,
            role=PartyRole.APPLICANT,
            person=person,
            name=person.name if person else f"{marker}申请人",
            phone=phone,
            phone_digest=phone_digest(phone),
            id_number="990101199001011234",
        )
        other = Party.objects.create(case=case, role=PartyRole.OTHER_PARTY, name=f"{marker}邻居", phone="13911112222")
        first = CaseEvent.objects.create(
            case=case, kind=EventKind.REGISTERED, to_status=CaseStatus.REGISTERED, version=1, actor=staff, at=now
        )
        last = CaseEvent.objects.create(
            case=case,
            kind=EventKind.REWORKED,
            from_status=CaseStatus.DISSATISFIED,
            to_status=CaseStatus.IN_PROGRESS,
            version=2,
            actor=staff,
            note=f"{marker}重办",
            at=now,
        )
        rating = Rating.objects.create(
            case=case,
            round=1,
            resolved=False,
            satisfaction=Satisfaction.DISSATISFIED,
            efficiency=Satisfaction.BASIC,
            leader_rating=Satisfaction.BASIC,
            comment=f"{marker}未解决",
            channel=RatingChannel.TRACKING,
        )
        returned = CaseReturn.objects.create(
            case=case,
            unit=unit,
            reason=f"{marker}不属本单位职责",
            decision=ReturnDecision.SENT_BACK,
            decided_at=now - timedelta(days=6),
        )
        extension = ExtensionRequest.objects.create(
            case=case,
            unit=unit,
            reason=f"{marker}需要现场测量",
            days=5,
            old_due_at=due,
            requested_due_at=due + timedelta(days=7),
        )
        reminder = CaseReminder.objects.create(
            case=case, kind=ReminderKind.BEFORE, deadline=now + timedelta(days=3), recipients=1, sent_at=now
        )
        records.update(
            {
                f"{key}reminder": reminder,
                f"{key}case": case,
                f"{key}applicant": applicant,
                f"{key}other_party": other,
                f"{key}event": first,
                f"{key}last_event": last,
                f"{key}rating": rating,
                f"{key}return": returned,
                f"{key}extension": extension,
            }
        )
    w.extra["cases"] = records
