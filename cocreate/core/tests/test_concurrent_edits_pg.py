"""Two staff saving the same task at the same moment from the same page (PostgreSQL, real threads):
exactly one save wins, the other is refused as stale and nothing of it is written."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection

from cocreate.conftest import build_world
from cocreate.core.concurrency import StaleEdit
from cocreate.core.models import Membership, Role, User
from cocreate.core.tests.concurrency import race
from cocreate.plans import services
from cocreate.plans.models import Task

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL"),
]


def test_two_staff_saving_one_task_from_the_same_version_one_wins() -> None:
    world = build_world()
    task = world.extra["plans"]["parent_task"]
    second = User.objects.create_user(phone="13700007777", password="x-Passw0rd!", display_name="甲镇干部二")
    Membership.objects.create(user=second, role=Role.TOWN_STAFF, region=world.regions["town_a"])
    editors = [world.user(Role.TOWN_STAFF), second]
    seen = services.TASK_VERSION.of(Task.objects.get(pk=task.pk))
    history_before = task.history.count()
    edits: list[dict[str, Any]] = [{"title": "甲的名称"}, {"title": "乙的名称", "deadline": date(2026, 11, 30)}]

    results = race(
        2,
        lambda i: services.task_update(
            actor=editors[i], task=Task.objects.get(pk=task.pk), data=edits[i], expected_version=seen
        ),
    )

    wins = [i for i, r in enumerate(results) if isinstance(r, Task)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1, results
    winner = edits[wins[0]]
    # The loser is told exactly which fields the winner changed.
    assert isinstance(losses[0], StaleEdit) and losses[0].changed == sorted(winner), repr(losses[0])
    task.refresh_from_db()
    assert task.title == winner["title"]
    assert task.deadline == winner.get("deadline", date(2026, 12, 31))
    # Only the winner's edit was ever saved: no history row holds the loser's title.
    loser = edits[1 - wins[0]]
    assert task.history.count() > history_before
    assert not task.history.filter(title=loser["title"]).exists()
