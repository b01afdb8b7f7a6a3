"""Building cases in any state through the real services, and snapshots to prove "nothing changed".

The standard case is village-level in 甲村: the office is the village staff (甲村村民委员会), the
lead unit is 甲村小学 (so its staff are lead-unit staff and not the office), the level above is
the town staff, and the applicant is the resident (their own account, channel "self").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from cocreate.cases import services
from cocreate.cases.models import (
    Case,
    CaseCategory,
    CaseChannel,
    CaseEvent,
    CaseLevel,
    CaseReturn,
    CaseStatus,
    Complexity,
    ExtensionRequest,
    Party,
    Rating,
    Risk,
    Satisfaction,
)
from cocreate.conftest import World
from cocreate.core.models import Notification, OutboxMessage, Role

S = CaseStatus
NON_ACCOUNT_PHONE = "13812345678"


def office(w: World) -> Any:
    return w.user(Role.VILLAGE_STAFF)


def lead(w: World) -> Any:
    return w.user(Role.SCHOOL_STAFF)


def reviewer(w: World) -> Any:
    return w.user(Role.TOWN_STAFF)


def applicant(w: World) -> Any:
    return w.user(Role.RESIDENT)


def category(code: str = "neighbour") -> CaseCategory:
    return CaseCategory.objects.get(code=code)


def register(w: World, **kwargs: Any) -> Case:
    """A case the resident reports themselves (self channel) in their village."""
    kwargs.setdefault("actor", applicant(w))
    kwargs.setdefault("region", w.regions["village_a"])
    kwargs.setdefault("channel", CaseChannel.SELF)
    kwargs.setdefault("description", "邻居家的狗夜里一直叫，沟通无果")
    return services.case_register(**kwargs)


def register_for_visitor(w: World, phone: str = NON_ACCOUNT_PHONE, **kwargs: Any) -> Case:
    """A case the grid worker records on a home visit for a resident without an account."""
    return services.case_register(
        actor=w.user(Role.GRID_WORKER),
        region=w.regions["grid_a"],
        channel=CaseChannel.VISIT,
        description="承包地边界被邻居挪动",
        applicant=services.PartyData(name="王大妈", phone=phone, id_number="990101195001011234"),
        other_parties=[services.PartyData(name="李四", phone="13911110000")],
        **kwargs,
    )


# The path from "registered" to each state, one step per entry.
def _accept(w: World, c: Case) -> Case:
    return services.case_accept(actor=office(w), case=c)


def _triage(w: World, c: Case) -> Case:
    return services.case_triage(
        actor=office(w), case=c, category=category(), risk=Risk.LOW, complexity=Complexity.SIMPLE
    )


def _dispatch(w: World, c: Case) -> Case:
    return services.case_dispatch(actor=office(w), case=c, lead_unit=w.units["school"])


def _sign(w: World, c: Case) -> Case:
    return services.case_sign(actor=lead(w), case=c)


def _contact(w: World, c: Case) -> Case:
    return services.case_contact(actor=lead(w), case=c, note="电话联系了申请人")


def _reply(w: World, c: Case) -> Case:
    return services.case_reply(actor=lead(w), case=c, answer="已约双方调解，达成协议")


def rate(w: World, c: Case, satisfaction: str = Satisfaction.SATISFIED, resolved: bool = True) -> Case:
    return services.case_rate(
        actor=applicant(w),
        case=c,
        resolved=resolved,
        satisfaction=satisfaction,
        efficiency=Satisfaction.SATISFIED,
        leader_rating=Satisfaction.SATISFIED,
    )


PATHS: dict[str, list[Any]] = {
    S.REGISTERED: [],
    S.ACCEPTED: [_accept],
    S.DECLINED: [lambda w, c: services.case_decline(actor=office(w), case=c, reason="litigation")],
    S.TRIAGED: [_accept, _triage],
    S.DISPATCHED: [_accept, _triage, _dispatch],
    S.RETURNED: [
        _accept,
        _triage,
        _dispatch,
        lambda w, c: services.case_return(actor=lead(w), case=c, reason="不属学校职责"),
    ],
    S.SIGNED: [_accept, _triage, _dispatch, _sign],
    S.IN_PROGRESS: [_accept, _triage, _dispatch, _sign, _contact],
    S.REPLIED: [_accept, _triage, _dispatch, _sign, _contact, _reply],
    S.DISSATISFIED: [
        _accept,
        _triage,
        _dispatch,
        _sign,
        _contact,
        _reply,
        lambda w, c: rate(w, c, Satisfaction.DISSATISFIED, False),
    ],
    S.CLOSED: [_accept, _triage, _dispatch, _sign, _contact, _reply, lambda w, c: rate(w, c)],
    S.MERGED: [lambda w, c: services.case_merge(actor=office(w), case=c, into=register(w))],
}


def case_in(w: World, status: str, **kwargs: Any) -> Case:
    case = register(w, **kwargs)
    for step in PATHS[status]:
        case = step(w, case)
    case.refresh_from_db()
    assert case.status == status, (case.status, status)
    assert case.level == CaseLevel.VILLAGE
    return case


def snapshot(case: Case) -> dict[str, Any]:
    """Everything a transition could touch, to compare before and after a refused call."""
    return {
        "case": Case.objects.filter(pk=case.pk).values().get(),
        "co_units": sorted(case.co_units.values_list("pk", flat=True)),
        "events": list(CaseEvent.objects.filter(case=case).values_list("pk", "version")),
        "parties": list(Party.objects.filter(case=case).values_list("pk", "name", "phone_digest")),
        "ratings": list(Rating.objects.filter(case=case).values()),
        "returns": list(CaseReturn.objects.filter(case=case).values()),
        "extensions": list(ExtensionRequest.objects.filter(case=case).values()),
        "notifications": Notification.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "all_cases": Case.objects.count(),
    }


def t(value: datetime | None) -> datetime:
    """A deadline or timestamp the test knows is set."""
    assert value is not None
    return value


def later(days: float) -> datetime:
    return timezone.now() + timedelta(days=days)
