"""Needs and the problem list: who may raise, second, merge, screen and decline; supporters kept
through merges; one notification per status change; bad input changes nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from cocreate.conftest import World
from cocreate.core.models import Attachment, Notification, Person, Role, User
from cocreate.participation import needs
from cocreate.participation.models import (
    Need,
    NeedChannel,
    NeedStatus,
    NeedSupport,
    ProblemItem,
    ProblemStatus,
)
from cocreate.participation.tests.helpers import account, people

pytestmark = pytest.mark.django_db


def png(name: str = "photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@dataclass
class Community:
    """Village A with a verified raiser (the world's resident) and verified neighbours with accounts."""

    world: World
    raiser: User
    neighbours: list[User]
    elsewhere: User  # a verified resident of village A2

    def staff(self, role: str = Role.VILLAGE_STAFF) -> User:
        return self.world.user(role)


def verify(person: Person | None) -> Person:
    assert person is not None
    person.verified_at = timezone.now()
    person.save()
    return person


def build_community(world: World, n: int = 4) -> Community:
    raiser = world.user(Role.RESIDENT)
    verify(raiser.person)
    neighbours = [account(p) for p in people(world.regions["village_a"], n)]
    other = verify(world.people["a2"])
    return Community(world=world, raiser=raiser, neighbours=neighbours, elsewhere=account(other))


@pytest.fixture
def c(world: World) -> Community:
    return build_community(world)


def raise_need(actor: Any, title: str = "村口路灯不亮", **extra: Any) -> Need:
    data: dict[str, Any] = {"description": "晚上出行不便，老人小孩容易摔倒", "category": "infrastructure"}
    data.update(extra)
    return needs.need_raise(actor=actor, title=title, **data)


def notes(user: User) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("id").values_list("title", flat=True))


def supporter_ids(need: Need) -> set[int]:
    return set(NeedSupport.objects.filter(need=need).values_list("person_id", flat=True))


# --- Raising -------------------------------------------------------------------------------------------


def test_a_verified_resident_raises_a_need_for_their_community(c: Community) -> None:
    need = raise_need(c.raiser, place="村口")
    assert need.region == c.world.regions["village_a"]
    assert need.channel == NeedChannel.SELF
    assert need.raised_by_id == c.raiser.person_id
    assert need.recorded_by is None
    assert need.status == NeedStatus.SUBMITTED


def test_a_resident_of_a_grid_raises_for_the_village_above(c: Community) -> None:
    person = verify(Person.objects.create(name="一组村民", region=c.world.regions["grid_a"]))
    need = raise_need(account(person))
    assert need.region == c.world.regions["village_a"]


def test_an_unverified_resident_cannot_raise(world: World) -> None:
    with pytest.raises(PermissionDenied):
        raise_need(world.user(Role.RESIDENT))
    assert not Need.objects.filter(title="村口路灯不亮").exists()


def test_a_grid_worker_records_a_need_on_a_home_visit(c: Community) -> None:
    grid_worker = c.staff(Role.GRID_WORKER)
    person = Person.objects.create(name="一组老人", region=c.world.regions["grid_a"])
    need = raise_need(grid_worker, person=person)
    assert need.channel == NeedChannel.VISIT
    assert need.recorded_by == grid_worker
    assert need.raised_by == person
    assert need.region == c.world.regions["village_a"]
    # The grid worker keeps seeing what they recorded.
    assert Need.objects.visible_to(grid_worker).filter(pk=need.pk).exists()


def test_village_staff_record_for_a_resident_of_their_area(c: Community) -> None:
    need = raise_need(c.staff(), person=c.world.people["a_member"])
    assert need.channel == NeedChannel.STAFF
    assert need.recorded_by == c.staff()


@pytest.mark.parametrize("role", [Role.GRID_WORKER, Role.VILLAGE_STAFF])
def test_nobody_records_for_a_resident_outside_their_area(c: Community, role: str) -> None:
    with pytest.raises(PermissionDenied):
        raise_need(c.staff(role), person=c.world.people["a2"])
    with pytest.raises(PermissionDenied):
        raise_need(c.world.users["outside_staff"], person=c.world.people["a_member"])
    assert not Need.objects.filter(title="村口路灯不亮").exists()


def test_a_resident_cannot_record_for_a_neighbour(c: Community) -> None:
    with pytest.raises(PermissionDenied):
        raise_need(c.raiser, person=c.world.people["a_member"])


def test_photos_are_optional_and_stored_as_evidence(c: Community) -> None:
    need = raise_need(c.raiser, photos=[png(), png("second.png")])
    photos = Attachment.objects.filter(object_id=str(need.pk), content_type__model="need")
    assert photos.count() == 2
    assert all(a.mime_type == "image/png" and a.thumbnail for a in photos)
    assert set(needs.photos_of(user=c.raiser, need=need)) == set(photos)
    assert set(needs.photos_of(user=c.staff(), need=need)) == set(photos)


def _stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(
    "content",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,  # a Windows program
        b"<html><script>alert(1)</script></html>",
        b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF",  # allowed evidence, but not a photo
    ],
)
def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_stored(c: Community, content: bytes) -> None:
    bad = SimpleUploadedFile("photo.jpg", content, content_type="image/jpeg")
    with pytest.raises(ValidationError) as exc:
        raise_need(c.raiser, photos=[png(), bad])
    assert "photos" in exc.value.message_dict
    assert not Need.objects.filter(title="村口路灯不亮").exists()
    assert not Attachment.objects.filter(content_type__model="need").exists()
    assert _stored_files() == []


@pytest.mark.parametrize(
    "field, data",
    [
        ("title", {"title": "   "}),
        ("title", {"title": "长" * 101}),
        ("description", {"description": ""}),
        ("category", {"category": "weather"}),
        ("latitude", {"latitude": 30}),
    ],
)
def test_bad_input_raises_nothing(c: Community, field: str, data: dict[str, Any]) -> None:
    base: dict[str, Any] = {"title": "村口路灯不亮", "description": "晚上很黑", "category": "infrastructure"}
    base.update(data)
    before = Need.objects.count()
    with pytest.raises(ValidationError) as exc:
        needs.need_raise(actor=c.raiser, **base)
    assert field in exc.value.message_dict
    assert Need.objects.count() == before


# --- Seconding ----------------------------------------------------------------------------------------------


def test_a_neighbour_seconds_once_and_a_repeat_is_the_same_support(c: Community) -> None:
    need = raise_need(c.raiser)
    first, created = needs.need_second(actor=c.neighbours[0], need=need)
    again, created_again = needs.need_second(actor=c.neighbours[0], need=need)
    assert created and not created_again
    assert first.pk == again.pk
    assert needs.need_detail(user=c.raiser, pk=need.pk).support_count == 1  # type: ignore[attr-defined]


def test_the_raiser_cannot_second_their_own_need(c: Community) -> None:
    need = raise_need(c.raiser)
    with pytest.raises(ValidationError):
        needs.need_second(actor=c.raiser, need=need)
    assert not NeedSupport.objects.filter(need=need).exists()


def test_a_resident_of_another_community_cannot_second(c: Community) -> None:
    need = raise_need(c.raiser)
    with pytest.raises(PermissionDenied):
        needs.need_second(actor=c.elsewhere, need=need)
    assert not NeedSupport.objects.filter(need=need).exists()


def test_an_unverified_neighbour_cannot_second(c: Community) -> None:
    need = raise_need(c.raiser)
    person = Person.objects.create(name="未核实", region=c.world.regions["village_a"])
    with pytest.raises(PermissionDenied):
        needs.need_second(actor=account(person), need=need)
    assert not NeedSupport.objects.filter(need=need).exists()


def test_declined_and_merged_needs_cannot_be_seconded(c: Community) -> None:
    declined = raise_need(c.raiser, "甲")
    merged = raise_need(c.raiser, "乙")
    target = raise_need(c.neighbours[1], "丙")
    needs.need_decline(actor=c.staff(), need=declined, reason="不属于村级事务")
    needs.need_merge(actor=c.staff(), need=merged, into=target)
    for need in (declined, merged):
        with pytest.raises(ValidationError):
            needs.need_second(actor=c.neighbours[0], need=need)
        assert not NeedSupport.objects.filter(need=need, person=c.neighbours[0].person).exists()


# --- Merging ------------------------------------------------------------------------------------------------


def test_a_merge_keeps_every_supporter_of_both_and_the_duplicates_raiser(c: Community) -> None:
    a, b, d, e = c.neighbours
    duplicate = raise_need(c.raiser, "路灯坏了")
    target = raise_need(a, "村口路灯不亮")
    for user in (b, d):
        needs.need_second(actor=user, need=duplicate)
    for user in (d, e, c.raiser):
        needs.need_second(actor=user, need=target)
    merged = needs.need_merge(actor=c.staff(), need=duplicate, into=target, note="同一盏路灯")
    assert merged.status == NeedStatus.MERGED
    assert merged.merged_into == target
    assert f"编号{target.pk}" in merged.status_reason and "同一盏路灯" in merged.status_reason
    # b, d, e and the duplicate's raiser — d counted once, the target's raiser (a) never.
    expected = {b.person_id, d.person_id, e.person_id, c.raiser.person_id}
    assert supporter_ids(target) == expected
    assert needs.need_detail(user=c.staff(), pk=target.pk).support_count == 4  # type: ignore[attr-defined]
    # The duplicate keeps its own supporters too.
    assert supporter_ids(duplicate) == {b.person_id, d.person_id}


def test_a_merge_does_not_make_the_targets_raiser_their_own_supporter(c: Community) -> None:
    a = c.neighbours[0]
    duplicate = raise_need(c.raiser, "路灯坏了")
    target = raise_need(a, "村口路灯不亮")
    needs.need_second(actor=a, need=duplicate)
    needs.need_merge(actor=c.staff(), need=duplicate, into=target)
    assert supporter_ids(target) == {c.raiser.person_id}


def test_needs_merged_earlier_follow_to_the_surviving_need(c: Community) -> None:
    first = raise_need(c.raiser, "一")
    second = raise_need(c.neighbours[0], "二")
    third = raise_need(c.neighbours[1], "三")
    needs.need_merge(actor=c.staff(), need=first, into=second)
    needs.need_merge(actor=c.staff(), need=second, into=third)
    first.refresh_from_db()
    assert first.merged_into == third
    assert supporter_ids(third) == {c.raiser.person_id, c.neighbours[0].person_id}


def test_merge_refusals_change_nothing(c: Community) -> None:
    need = raise_need(c.raiser, "一")
    other = raise_need(c.neighbours[0], "二")
    elsewhere = raise_need(c.elsewhere, "乙村的事")
    with pytest.raises(ValidationError):
        needs.need_merge(actor=c.staff(), need=need, into=need)
    with pytest.raises(ValidationError):
        needs.need_merge(actor=c.staff(Role.TOWN_STAFF), need=need, into=elsewhere)
    with pytest.raises(PermissionDenied):
        needs.need_merge(actor=c.neighbours[1], need=need, into=other)
    with pytest.raises(PermissionDenied):
        needs.need_merge(actor=c.staff(Role.GRID_WORKER), need=need, into=other)
    with pytest.raises(PermissionDenied):
        needs.need_merge(actor=c.world.users["outside_staff"], need=need, into=other)
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED and need.merged_into is None
    assert not NeedSupport.objects.filter(need=other).exists()
    assert notes(c.raiser) == []


# --- Screening and declining -------------------------------------------------------------------------------


def test_staff_screen_needs_onto_a_new_problem(c: Community) -> None:
    one = raise_need(c.raiser, "路灯")
    two = raise_need(c.neighbours[0], "村口太黑")
    needs.need_second(actor=c.neighbours[1], need=one)
    needs.need_second(actor=c.neighbours[1], need=two)
    needs.need_second(actor=c.neighbours[2], need=two)
    problem = needs.need_screen(actor=c.staff(), needs=[one, two], title="村口照明", category="infrastructure")
    assert problem.region == c.world.regions["village_a"]
    assert problem.status == ProblemStatus.OPEN
    for need in (one, two):
        need.refresh_from_db()
        assert need.status == NeedStatus.LISTED and need.problem == problem
        assert "村口照明" in need.status_reason
    row = needs.problem_detail(user=c.staff(), pk=problem.pk)
    assert row.need_count == 2  # type: ignore[attr-defined]
    assert row.supporter_total == 2  # type: ignore[attr-defined]


def test_staff_screen_onto_an_existing_problem(c: Community) -> None:
    existing = c.world.extra["participation"]["problem"]
    need = raise_need(c.raiser)
    assert needs.need_screen(actor=c.staff(Role.TOWN_STAFF), needs=[need], problem=existing) == existing
    need.refresh_from_db()
    assert need.problem == existing and need.status == NeedStatus.LISTED


def test_a_new_problem_defaults_to_the_needs_title_and_category(c: Community) -> None:
    need = raise_need(c.raiser, category="environment")
    problem = needs.need_screen(actor=c.staff(), needs=[need])
    assert (problem.title, problem.category) == (need.title, "environment")


def test_screening_refusals_change_nothing(c: Community) -> None:
    need = raise_need(c.raiser)
    elsewhere_need = raise_need(c.elsewhere, "乙村的事")
    other_problem = ProblemItem.objects.create(
        region=c.world.regions["village_a2"], title="乙村问题", category="governance"
    )
    before = ProblemItem.objects.count()
    with pytest.raises(ValidationError):
        needs.need_screen(actor=c.staff(Role.TOWN_STAFF), needs=[need, elsewhere_need])
    with pytest.raises(ValidationError):
        needs.need_screen(actor=c.staff(Role.TOWN_STAFF), needs=[need], problem=other_problem)
    with pytest.raises(PermissionDenied):
        needs.need_screen(actor=c.neighbours[0], needs=[need])
    with pytest.raises(PermissionDenied):
        needs.need_screen(actor=c.world.users["outside_staff"], needs=[need])
    with pytest.raises(ValidationError):
        needs.need_screen(actor=c.staff(), needs=[])
    assert ProblemItem.objects.count() == before
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED and need.problem is None
    needs.need_decline(actor=c.staff(), need=need, reason="重复")
    with pytest.raises(ValidationError):
        needs.need_screen(actor=c.staff(), needs=[need])
    assert ProblemItem.objects.count() == before


def test_a_decline_needs_a_reason_which_the_raiser_sees(c: Community) -> None:
    need = raise_need(c.raiser)
    with pytest.raises(ValidationError) as exc:
        needs.need_decline(actor=c.staff(), need=need, reason="   ")
    assert "reason" in exc.value.message_dict
    need.refresh_from_db()
    assert need.status == NeedStatus.SUBMITTED and notes(c.raiser) == []
    needs.need_decline(actor=c.staff(), need=need, reason="属于县级权限，已转交县交通局")
    mine = needs.my_needs(user=c.raiser).get(pk=need.pk)
    assert mine.status == NeedStatus.DECLINED
    assert mine.status_reason == "属于县级权限，已转交县交通局"
    with pytest.raises(ValidationError):
        needs.need_decline(actor=c.staff(), need=need, reason="再次")
    with pytest.raises(PermissionDenied):
        needs.need_decline(actor=c.neighbours[0], need=raise_need(c.raiser, "二"), reason="不行")


# --- Notifications and history ----------------------------------------------------------------------------


def test_every_status_change_notifies_the_raiser_once(c: Community) -> None:
    need = raise_need(c.raiser)
    needs.need_second(actor=c.neighbours[0], need=need)
    assert notes(c.raiser) == []  # a second is no status change
    problem = needs.need_screen(actor=c.staff(), needs=[need], title="村口照明")
    assert notes(c.raiser) == [f"您的诉求“{need.title}”：已列入问题清单"]
    # Saying it again (a retried request) adds nothing.
    need.refresh_from_db()
    needs._notify_raiser(need)
    assert len(notes(c.raiser)) == 1
    # The problem line moving on reaches the raiser and the supporters once, as the line's step.
    needs.problem_update_status(actor=c.staff(), problem=problem, status=ProblemStatus.DELIBERATING)
    assert notes(c.raiser)[-1] == notes(c.neighbours[0])[-1] == "您关注的问题“村口照明”：议事中"
    assert notes(c.neighbours[1]) == []
    assert len(notes(c.raiser)) == 2
    needs.problem_move(problem, ProblemStatus.DELIBERATING)  # no change, nothing said
    assert len(notes(c.raiser)) == 2
    # 已办结 is said once, as the need's own status.
    needs.problem_update_status(actor=c.staff(), problem=problem, status=ProblemStatus.DONE, reason="路灯已修好")
    assert notes(c.raiser)[-1] == f"您的诉求“{need.title}”：已办结"
    assert len(notes(c.raiser)) == 3
    assert Notification.objects.filter(user=c.raiser).order_by("id").last().body == "路灯已修好"  # type: ignore[union-attr]
    # Nobody else heard about it but the supporter, of the line's step.
    assert Notification.objects.exclude(user=c.raiser).count() == 1


def test_merge_and_decline_notify_their_raisers(c: Community) -> None:
    duplicate = raise_need(c.neighbours[0], "一")
    target = raise_need(c.neighbours[1], "二")
    declined = raise_need(c.neighbours[2], "三")
    needs.need_merge(actor=c.staff(), need=duplicate, into=target)
    needs.need_decline(actor=c.staff(), need=declined, reason="理由")
    assert notes(c.neighbours[0]) == ["您的诉求“一”：已合并"]
    assert notes(c.neighbours[1]) == []
    assert notes(c.neighbours[2]) == ["您的诉求“三”：未采纳"]


def test_my_needs_show_every_status_change_with_its_reason(c: Community) -> None:
    need = raise_need(c.raiser)
    problem = needs.need_screen(actor=c.staff(), needs=[need], title="村口照明")
    needs.problem_update_status(actor=c.staff(), problem=problem, status=ProblemStatus.DONE, reason="已修好")
    history = needs.status_history(needs.my_needs(user=c.raiser))[need.pk]
    assert [(h.status, h.reason) for h in history] == [
        (NeedStatus.SUBMITTED, ""),
        (NeedStatus.LISTED, "已列入问题清单：村口照明"),
        (NeedStatus.DONE, "已修好"),
    ]


def test_a_dropped_problem_needs_a_reason_and_a_closed_one_stays_closed(c: Community) -> None:
    need = raise_need(c.raiser)
    problem = needs.need_screen(actor=c.staff(), needs=[need])
    with pytest.raises(ValidationError):
        needs.problem_update_status(actor=c.staff(), problem=problem, status=ProblemStatus.DROPPED)
    with pytest.raises(ValidationError):
        needs.problem_update_status(actor=c.staff(), problem=problem, status="finished")
    with pytest.raises(PermissionDenied):
        needs.problem_update_status(actor=c.raiser, problem=problem, status=ProblemStatus.DONE)
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.OPEN
    needs.problem_update_status(actor=c.staff(), problem=problem, status=ProblemStatus.DROPPED, reason="资金不足")
    with pytest.raises(ValidationError):
        needs.problem_update_status(actor=c.staff(), problem=problem, status=ProblemStatus.OPEN)


# --- Reads -------------------------------------------------------------------------------------------------


def test_counts_are_computed_and_the_list_orders_by_support(c: Community) -> None:
    quiet = raise_need(c.raiser, "少人附议")
    popular = raise_need(c.raiser, "多人附议")
    for user in c.neighbours:
        needs.need_second(actor=user, need=popular)
    needs.need_second(actor=c.neighbours[0], need=quiet)
    rows = list(needs.need_list(user=c.neighbours[0], order="support", region=c.world.regions["village_a"]))
    titles = [n.title for n in rows]
    assert titles.index("多人附议") < titles.index("少人附议")
    counts = {n.title: (n.support_count, n.supported_by_me) for n in rows}  # type: ignore[attr-defined]
    assert counts["多人附议"] == (4, True)
    assert counts["少人附议"] == (1, True)


def test_residents_see_their_communitys_needs_only(c: Community) -> None:
    mine = raise_need(c.raiser)
    theirs = raise_need(c.elsewhere, "乙村的事")
    visible = set(needs.need_list(user=c.neighbours[0]).values_list("pk", flat=True))
    assert mine.pk in visible and theirs.pk not in visible
    assert theirs.pk in set(needs.need_list(user=c.staff(Role.TOWN_STAFF)).values_list("pk", flat=True))
    assert needs.screening_queue(user=c.staff(Role.GRID_WORKER)).count() == 0
    assert mine.pk in set(needs.screening_queue(user=c.staff()).values_list("pk", flat=True))
