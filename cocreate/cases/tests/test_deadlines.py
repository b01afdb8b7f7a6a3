"""Which time limit applies to a case, and which step each deadline comes from.

The calendar arithmetic itself (holidays, make-up days) is core.workdays'; these tests record the
(start, amount, unit) each deadline is asked for. Tests of concrete dates across holidays follow
once the calendar is merged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock

import pytest

from cocreate.cases import deadlines, services
from cocreate.cases.models import Case, LimitStep, TimeLimit
from cocreate.cases.tests import helpers as h
from cocreate.conftest import World

pytestmark = pytest.mark.django_db


def test_a_category_row_overrides_the_default_and_the_code_default_backs_both(world: World) -> None:
    case = h.case_in(world, h.S.TRIAGED)
    assert deadlines.limit_for(case, LimitStep.WHOLE) == (15, "workdays")
    TimeLimit.objects.create(category=h.category(), urgency="normal", step="whole", amount=10, unit="workdays")
    assert deadlines.limit_for(case, LimitStep.WHOLE) == (10, "workdays")
    other = Case(urgency="critical", category=h.category("family"))
    assert deadlines.limit_for(other, LimitStep.FIRST_CONTACT) == (2, "hours")
    TimeLimit.objects.filter(category__isnull=True, urgency="critical").delete()
    assert deadlines.limit_for(other, LimitStep.FIRST_CONTACT) == (2, "hours")  # defaults.LIMITS


def test_each_step_asks_the_calendar_for_its_own_limit(world: World) -> None:
    calls: list[tuple[int, str]] = []

    def fake(start: datetime, amount: int, unit: str) -> datetime:
        calls.append((amount, unit))
        return start + timedelta(days=amount if unit == "workdays" else 0, hours=amount if unit == "hours" else 0)

    case = h.case_in(world, h.S.TRIAGED)
    Case.objects.filter(pk=case.pk).update(urgency="urgent")
    case.refresh_from_db()
    with mock.patch.object(deadlines, "add_limit", side_effect=fake):
        services.case_dispatch(actor=h.office(world), case=case, lead_unit=world.units["school"])
        assert calls == [(5, "workdays"), (4, "hours")]  # whole, first contact — from dispatch
        assert h.t(case.due_at) == h.t(case.dispatched_at) + timedelta(days=5)
        assert h.t(case.step_due_at) == h.t(case.dispatched_at) + timedelta(hours=4)
        services.case_sign(actor=h.lead(world), case=case)
        services.case_contact(actor=h.lead(world), case=case, note="电话")
        assert calls[-1] == (4, "workdays")  # handling, from the first contact …
        assert h.t(case.step_due_at) == h.t(case.first_contact_at) + timedelta(days=4)
        # … but never past the whole deadline.
        Case.objects.filter(pk=case.pk).update(due_at=h.t(case.first_contact_at) + timedelta(days=1))
        case.refresh_from_db()
        reopened = h.case_in(world, h.S.SIGNED)
        Case.objects.filter(pk=reopened.pk).update(due_at=h.t(reopened.dispatched_at) + timedelta(hours=1))
        reopened.refresh_from_db()
        services.case_contact(actor=h.lead(world), case=reopened, note="电话")
        assert reopened.step_due_at == reopened.due_at
        services.case_reply(actor=h.lead(world), case=case, answer="已办")
        assert calls[-1] == (2, "workdays")  # follow-up
        h.rate(world, case, "dissatisfied", resolved=False)
        services.case_rework(actor=h.office(world), case=case)
        assert calls[-1] == (3, "workdays")  # rework
        services.case_extension_request(actor=h.lead(world), case=case, days=2, reason="补充材料")
        assert calls[-1] == (2, "workdays")  # the extension: N working days after the old deadline


def test_a_limit_across_the_national_day_holiday_lands_on_the_right_working_day(world: World) -> None:
    """Frozen clock: dispatched Wed 30 Sep 2026 16:30, urgent (5 working days, first contact 4 hours).

    10/1–10/7 are off (国庆 + 中秋 arrangement), Sat 10/10 is a make-up working day: the fifth working
    day after 9/30 is Tue 10/13 (10/8, 10/9, 10/10, 10/12, 10/13); without the calendar it would be
    Wed 10/7. The first contact's 4 office hours run 16:30–17:30 on 9/30 and 08:30–11:30 on 10/8.
    """
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from cocreate.core import work_calendar
    from cocreate.core.models import Role

    bundled = next(p for p in work_calendar.bundled_files() if "2026" in p.name)
    upload = SimpleUploadedFile(bundled.name, bundled.read_bytes())
    work_calendar.calendar_import(actor=world.user(Role.ADMIN), file=upload, filename=bundled.name)
    case = h.case_in(world, h.S.TRIAGED)
    Case.objects.filter(pk=case.pk).update(urgency="urgent")
    case.refresh_from_db()
    dispatched = timezone.make_aware(datetime(2026, 9, 30, 16, 30))
    with mock.patch("django.utils.timezone.now", return_value=dispatched):
        services.case_dispatch(actor=h.office(world), case=case, lead_unit=world.units["school"])
    case.refresh_from_db()
    due = timezone.localtime(case.due_at)
    assert due.date().isoformat() == "2026-10-13" and (due.hour, due.minute) == (23, 59)
    first_contact = timezone.localtime(case.step_due_at)
    assert (first_contact.date().isoformat(), first_contact.hour, first_contact.minute) == ("2026-10-08", 11, 30)
