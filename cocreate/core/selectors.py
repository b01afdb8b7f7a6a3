"""Every read of core records for users, already scoped by the access authority."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from cocreate.core import access
from cocreate.core.models import (
    Attachment,
    Household,
    Membership,
    Notification,
    Person,
    Region,
    Unit,
)


def region_list(
    *, user: Any, search: str = "", level: int | None = None, parent: Region | None = None
) -> QuerySet[Region]:
    qs = Region.objects.visible_to(user).select_related("parent")
    if search:
        qs = qs.filter(Q(name__contains=search) | Q(code__startswith=search))
    if level:
        qs = qs.filter(level=level)
    if parent is not None:
        qs = qs.filter(parent=parent)
    return qs.order_by("path")


def unit_list(*, user: Any, search: str = "", kind: str = "", region: Region | None = None) -> QuerySet[Unit]:
    qs = Unit.objects.visible_to(user).select_related("region")
    if search:
        qs = qs.filter(Q(name__contains=search) | Q(short_name__contains=search))
    if kind:
        qs = qs.filter(kind=kind)
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    return qs.order_by("region__path", "name")


def person_list(
    *, user: Any, search: str = "", region: Region | None = None, verified: bool | None = None
) -> QuerySet[Person]:
    qs = Person.objects.visible_to(user).select_related("region", "household")
    if search:
        qs = qs.filter(Q(name__contains=search) | Q(phone__endswith=search))
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    if verified is not None:
        qs = qs.filter(verified_at__isnull=not verified)
    return qs.order_by("region__path", "name", "id")


def household_list(*, user: Any, search: str = "", region: Region | None = None) -> QuerySet[Household]:
    qs = Household.objects.visible_to(user).select_related("region", "head").annotate(member_count=Count("members"))
    if search:
        qs = qs.filter(Q(number__contains=search) | Q(address__contains=search) | Q(head__name__contains=search))
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    return qs.order_by("region__path", "number")


def membership_list(
    *, user: Any, role: str = "", region: Region | None = None, active: bool = True
) -> QuerySet[Membership]:
    qs = Membership.objects.visible_to(user).select_related("user", "user__person", "region", "unit")
    if role:
        qs = qs.filter(role=role)
    if region is not None:
        qs = qs.filter(region__path__startswith=region.path)
    if active:
        qs = qs.filter(is_active=True)
    return qs.order_by("region__path", "role", "id")


def attachments_for(*, user: Any, target: Any) -> QuerySet[Attachment]:
    return access.attachments_on(target, user)


def notification_list(*, user: Any, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.visible_to(user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs


def todo_for(*, user: Any) -> dict[str, Any]:
    """The "我的待办" figures: what is waiting for this user right now."""
    scope = access.scope_of(user)
    todo: dict[str, Any] = {
        "unread_notifications": notification_list(user=user, unread_only=True).count(),
        "recent_notifications": list(notification_list(user=user)[:5]),
    }
    if scope.is_superuser or scope.paths_for(access.PEOPLE_MANAGERS):
        unverified = Person.objects.visible_to(user).filter(verified_at__isnull=True)
        if not scope.is_superuser:
            unverified = unverified.filter(access.in_paths(scope.paths_for(access.PEOPLE_MANAGERS), "region__path"))
        todo["unverified_people"] = unverified.count()
        todo["households_without_head"] = Household.objects.visible_to(user).filter(head__isnull=True).count()
    return todo
