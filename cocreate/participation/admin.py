"""Django admin for co-decision: superusers only (break-glass), with change history.

The decision rules are data: a county's superuser adjusts a rule's thresholds here (each change
is kept in the rule's history). Votes are shown as stored; rolls and ballots are not editable
here at all — they change only through ``cocreate.participation.votes``.
"""

from __future__ import annotations

from django.contrib import admin

from cocreate.core.admin import HistoryAdmin
from cocreate.participation.models import Estate, PropertyUnit, RuleThreshold, Vote, VoteRule


class RuleThresholdInline(admin.TabularInline):
    model = RuleThreshold
    extra = 0


@admin.register(VoteRule)
class VoteRuleAdmin(HistoryAdmin):
    list_display = ("name", "code", "electorate", "legal_basis", "is_active")
    list_filter = ("electorate", "is_active")
    search_fields = ("name", "code")
    inlines = (RuleThresholdInline,)


@admin.register(Vote)
class VoteAdmin(HistoryAdmin):
    list_display = ("title", "region", "rule", "electorate", "opens_at", "closes_at", "status")
    list_filter = ("status", "electorate")
    search_fields = ("title",)
    raw_id_fields = ("region", "estate", "created_by")
    readonly_fields = ("status", "opened_at", "closed_at", "result")


@admin.register(Estate)
class EstateAdmin(HistoryAdmin):
    list_display = ("name", "region", "address")
    search_fields = ("name",)
    raw_id_fields = ("region",)


@admin.register(PropertyUnit)
class PropertyUnitAdmin(HistoryAdmin):
    list_display = ("estate", "number", "area", "owner")
    search_fields = ("number",)
    raw_id_fields = ("estate", "region", "owner")
