"""Django admin for work plans: superusers only, a raw view with change history (break-glass).

Day-to-day changes go through the pages and ``cocreate.plans.services``, which check access and
recompute progress; the admin shows the records as stored and who changed them.
"""

from __future__ import annotations

from django.contrib import admin

from cocreate.core.admin import HistoryAdmin, PlainAdmin
from cocreate.plans.models import (
    Milestone,
    Phase,
    Plan,
    ProgressReport,
    Target,
    Task,
    TaskPerson,
    TaskUnit,
)


class PhaseInline(admin.TabularInline):
    model = Phase
    extra = 0


class TaskUnitInline(admin.TabularInline):
    model = TaskUnit
    extra = 0
    raw_id_fields = ("unit",)


class TaskPersonInline(admin.TabularInline):
    model = TaskPerson
    extra = 0
    raw_id_fields = ("user",)


class TargetInline(admin.TabularInline):
    model = Target
    extra = 0


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0


@admin.register(Plan)
class PlanAdmin(HistoryAdmin):
    list_display = ("title", "doc_number", "region", "issuing_unit", "starts_on", "ends_on", "status")
    list_filter = ("status",)
    search_fields = ("title", "doc_number")
    raw_id_fields = ("issuing_unit", "region", "created_by")
    inlines = (PhaseInline,)


@admin.register(Phase)
class PhaseAdmin(HistoryAdmin):
    list_display = ("name", "plan", "starts_on", "ends_on", "order")
    raw_id_fields = ("plan",)


@admin.register(Task)
class TaskAdmin(HistoryAdmin):
    list_display = ("__str__", "plan", "region", "deadline", "progress", "completed_on", "fans_out")
    list_filter = ("fans_out",)
    search_fields = ("title", "number")
    raw_id_fields = ("plan", "phase", "parent", "region")
    inlines = (TaskUnitInline, TaskPersonInline, TargetInline, MilestoneInline)


@admin.register(Target)
class TargetAdmin(HistoryAdmin):
    list_display = ("name", "kind", "task", "quota_count", "quota_period", "comparator", "value", "unit_label")
    list_filter = ("kind",)
    raw_id_fields = ("task",)


@admin.register(Milestone)
class MilestoneAdmin(PlainAdmin):
    list_display = ("task", "due_on", "percent")
    raw_id_fields = ("task",)


@admin.register(TaskUnit)
class TaskUnitAdmin(PlainAdmin):
    list_display = ("task", "unit", "role", "order")
    list_filter = ("role",)
    raw_id_fields = ("task", "unit")


@admin.register(TaskPerson)
class TaskPersonAdmin(PlainAdmin):
    list_display = ("task", "user", "role")
    list_filter = ("role",)
    raw_id_fields = ("task", "user")


@admin.register(ProgressReport)
class ProgressReportAdmin(HistoryAdmin):
    list_display = ("task", "unit", "kind", "percent", "value", "activity_date", "status", "reported_at")
    list_filter = ("kind", "status")
    raw_id_fields = ("task", "region", "unit", "target", "returned_by", "reported_by")
