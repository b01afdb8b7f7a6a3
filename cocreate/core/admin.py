"""Django admin for superusers only: a raw view of core records with their change history.

Day-to-day work happens on the pages, which go through the access authority and services;
the admin is a break-glass tool, so every model admin refuses anyone who is not a superuser.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from cocreate.core.models import (
    ApiToken,
    Attachment,
    AuditEvent,
    AuthEvent,
    Household,
    Membership,
    Notification,
    OutboxMessage,
    Person,
    Region,
    Unit,
    User,
)


class SuperuserOnlyMixin:
    """Only superusers see or change anything, whatever model permissions staff hold."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


class HistoryAdmin(SuperuserOnlyMixin, SimpleHistoryAdmin):
    pass


class PlainAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    pass


@admin.register(Region)
class RegionAdmin(HistoryAdmin):
    list_display = ("name", "code", "level", "parent", "is_active")
    list_filter = ("level", "is_active")
    search_fields = ("name", "code")
    raw_id_fields = ("parent",)
    readonly_fields = ("path", "depth")


@admin.register(Unit)
class UnitAdmin(HistoryAdmin):
    list_display = ("name", "kind", "region", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "short_name", "credit_code")
    raw_id_fields = ("region", "parent")


@admin.register(Person)
class PersonAdmin(HistoryAdmin):
    list_display = ("name", "region", "household", "verified_at")
    list_filter = ("is_party_member", "is_representative")
    search_fields = ("name", "phone")
    raw_id_fields = ("region", "household", "verified_by")


@admin.register(Household)
class HouseholdAdmin(HistoryAdmin):
    list_display = ("number", "region", "head", "address")
    search_fields = ("number", "address")
    raw_id_fields = ("region", "head")


@admin.register(Membership)
class MembershipAdmin(HistoryAdmin):
    list_display = ("user", "role", "region", "unit", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("user__phone", "user__display_name")
    raw_id_fields = ("user", "region", "unit")


@admin.register(Attachment)
class AttachmentAdmin(HistoryAdmin):
    list_display = ("original_name", "mime_type", "size", "region", "uploaded_by", "uploaded_at")
    search_fields = ("original_name", "sha256")
    raw_id_fields = ("region", "uploaded_by")
    readonly_fields = ("sha256", "size", "mime_type", "extension")


@admin.register(User)
class UserAdmin(PlainAdmin):
    """Accounts; the password is never shown or edited here (use the password reset command)."""

    list_display = ("phone", "display_name", "person", "is_active", "is_superuser", "last_login")
    list_filter = ("is_active", "is_superuser")
    search_fields = ("phone", "display_name", "email")
    raw_id_fields = ("person",)
    exclude = ("password", "user_permissions", "groups")
    readonly_fields = ("last_login", "date_joined")


@admin.register(Notification)
class NotificationAdmin(PlainAdmin):
    list_display = ("title", "user", "created_at", "read_at")
    raw_id_fields = ("user",)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(PlainAdmin):
    list_display = ("channel", "recipient", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("channel", "status")


@admin.register(AuthEvent)
class AuthEventAdmin(PlainAdmin):
    list_display = ("kind", "username", "ip_address", "created_at")
    list_filter = ("kind",)
    search_fields = ("username",)


@admin.register(ApiToken)
class ApiTokenAdmin(PlainAdmin):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "revoked_at")
    exclude = ("token_hash",)
    raw_id_fields = ("user",)


@admin.register(AuditEvent)
class AuditEventAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    """The audit trail, read-only even for superusers: no add, change or delete (nor bulk delete)."""

    list_display = ("at", "action", "user_name", "username", "method", "path", "status_code", "client_ip")
    list_filter = ("action",)
    search_fields = ("user_name", "username", "path")
    date_hierarchy = "at"
    actions = None

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
