"""The navigation menu each role sees; pages register their entries here, not in templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cocreate.core.access import scope_of
from cocreate.core.models import STAFF_ROLES, Role


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    icon: str
    # None: every signed-in user; otherwise the roles that see the entry.
    roles: frozenset[str] | None = None


MANAGE_ROLES = frozenset({Role.ADMIN, Role.VILLAGE_STAFF, Role.TOWN_STAFF})
# Plan managers (plans.rules.PLAN_MANAGERS) plus the inspectors who supervise them.
PLAN_WATCHERS = frozenset({Role.ADMIN, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.LEADER, Role.INSPECTOR})
RESIDENTS = frozenset({Role.RESIDENT})
COMMUNITY_STAFF = MANAGE_ROLES | {Role.GRID_WORKER}
# Who registers grievance cases (cases.services.INTAKE_ROLES) and who handles them (offices, lead units).
CASE_INTAKE_ROLES = frozenset({Role.GRID_WORKER, Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF})
CASE_HANDLING_ROLES = STAFF_ROLES - {Role.ADMIN}
# Who reads the cases of an area (cases.rules.CASE_READERS) sees their figures; supervisors the 督办 view.
CASE_READER_ROLES = frozenset({Role.VILLAGE_STAFF, Role.TOWN_STAFF, Role.DEPT_STAFF, Role.INSPECTOR, Role.LEADER})
CASE_SUPERVISOR_ROLES = frozenset({Role.TOWN_STAFF, Role.DEPT_STAFF, Role.INSPECTOR, Role.LEADER})
NAV_ITEMS: list[NavItem] = [
    NavItem(_("我的待办"), "core:home", "bi-list-check"),
    NavItem(pgettext_lazy("nav", "行政区划"), "core:region_list", "bi-diagram-3", frozenset({Role.ADMIN})),
    NavItem(pgettext_lazy("nav", "单位"), "core:unit_list", "bi-building", frozenset({Role.ADMIN})),
    NavItem(pgettext_lazy("nav", "人员"), "core:person_list", "bi-people", MANAGE_ROLES),
    NavItem(pgettext_lazy("nav", "户"), "core:household_list", "bi-house", MANAGE_ROLES | {Role.GRID_WORKER}),
    NavItem(pgettext_lazy("nav", "角色任职"), "core:membership_list", "bi-person-badge", frozenset({Role.ADMIN})),
    NavItem(pgettext_lazy("nav", "工作日历"), "core:calendar_list", "bi-calendar3", frozenset({Role.ADMIN})),
    # Work plans (cocreate.plans): every staff member has tasks; managers and leaders watch the lights.
    NavItem(pgettext_lazy("nav", "我的任务"), "plans:my_tasks", "bi-clipboard-check", STAFF_ROLES),
    NavItem(pgettext_lazy("nav", "工作方案"), "plans:plan_list", "bi-journal-text", STAFF_ROLES),
    NavItem(pgettext_lazy("nav", "工作台"), "plans:dashboard", "bi-speedometer2", PLAN_WATCHERS),
    NavItem(pgettext_lazy("nav", "督查检查"), "plans:check_list", "bi-search", PLAN_WATCHERS),
    NavItem(pgettext_lazy("nav", "整改督办"), "plans:rectification_list", "bi-flag", STAFF_ROLES),
    NavItem(pgettext_lazy("nav", "通报"), "plans:bulletin_list", "bi-megaphone", STAFF_ROLES),
    NavItem(pgettext_lazy("nav", "年度考核"), "plans:assessment_list", "bi-award", PLAN_WATCHERS),
    # Co-decision (cocreate.participation): residents raise, second, vote and object from their
    # phones; community staff screen, deliberate, run votes and publish notices.
    NavItem(pgettext_lazy("nav", "我的诉求"), "participation:need_mine", "bi-person-lines-fill", RESIDENTS),
    NavItem(pgettext_lazy("nav", "村（社区）诉求"), "participation:need_list", "bi-chat-square-heart"),
    NavItem(pgettext_lazy("nav", "我的表决"), "participation:vote_mine", "bi-hand-index-thumb", RESIDENTS),
    NavItem(pgettext_lazy("nav", "社区议事"), "participation:meeting_mine", "bi-chat-dots", RESIDENTS),
    NavItem(pgettext_lazy("nav", "公示"), "participation:notice_list", "bi-pin-angle"),
    NavItem(pgettext_lazy("nav", "我的房屋"), "participation:estate_mine", "bi-house-door", RESIDENTS),
    NavItem(pgettext_lazy("nav", "诉求筛选"), "participation:need_screening", "bi-funnel", COMMUNITY_STAFF),
    NavItem(pgettext_lazy("nav", "问题清单"), "participation:problemitem_list", "bi-list-ol", STAFF_ROLES),
    NavItem(pgettext_lazy("nav", "议事会议"), "participation:meeting_list", "bi-chat-square-text", STAFF_ROLES),
    NavItem(pgettext_lazy("nav", "表决"), "participation:vote_list", "bi-check2-square", STAFF_ROLES),
    NavItem(pgettext_lazy("nav", "四议两公开"), "participation:decision_list", "bi-diagram-2", MANAGE_ROLES),
    NavItem(pgettext_lazy("nav", "任务清单"), "participation:tasklistitem_list", "bi-list-task", MANAGE_ROLES),
    NavItem(pgettext_lazy("nav", "小区与房屋"), "participation:estate_list", "bi-buildings", MANAGE_ROLES),
    # Grievances (cocreate.cases): grid workers and offices take cases down; handling staff work the queue.
    NavItem(pgettext_lazy("nav", "案件受理"), "cases:case_intake_form", "bi-journal-plus", CASE_INTAKE_ROLES),
    NavItem(pgettext_lazy("nav", "待办案件"), "cases:case_queue_list", "bi-inboxes", CASE_HANDLING_ROLES),
    NavItem(pgettext_lazy("nav", "案件统计"), "cases:case_analytics", "bi-bar-chart", CASE_READER_ROLES),
    NavItem(pgettext_lazy("nav", "督办总览"), "cases:case_supervision", "bi-alarm", CASE_SUPERVISOR_ROLES),
    NavItem(pgettext_lazy("nav", "通知"), "core:notification_list", "bi-bell"),
    # The audit trail (cocreate/core/audit.py): auditors only; superusers see every entry anyway.
    NavItem(pgettext_lazy("nav", "审计日志"), "core:audit_list", "bi-shield-check", frozenset({Role.AUDITOR})),
]


def navigation_for(user: Any) -> list[dict[str, str]]:
    """The entries the user's roles see, in the active language.

    Every page renders this, so the list is built once per process for each combination of roles,
    language and script prefix (the entries are static; only who sees which varies) — reversing
    two dozen URL names on every request was a third of the base template's cost.
    """
    if user is None or not user.is_authenticated:
        return []
    return [dict(item) for item in _items(user)[1]]


def navigation_html(user: Any, view_name: str) -> SafeString:
    """The menu's ``<li>`` entries for the user, the entry of ``view_name``'s section marked active.

    Rendered once per process for each menu and active entry (the base template looped over the
    entries on every request), so a page pays a dictionary lookup for its menu.
    """
    if user is None or not user.is_authenticated:
        return SafeString("")
    key, items = _items(user)
    active = active_entry(items, view_name)
    html = _HTML.get((key, active))
    if html is None:
        html = format_html_join(
            "",
            '<li class="nav-item"><a class="nav-link{}" href="{}"><i class="bi {}" aria-hidden="true"></i> {}</a></li>',
            (
                (
                    format_html('{}" aria-current="page', " active") if item["name"] == active else "",
                    item["url"],
                    item["icon"],
                    item["label"],
                )
                for item in items
            ),
        )
        if len(_HTML) > 4096:  # a bound, not an eviction policy: menus × sections are few
            _HTML.clear()
        _HTML[(key, active)] = html
    return html


def active_entry(items: list[dict[str, str]], view_name: str) -> str:
    """The name of the entry to mark on ``view_name``'s page: its own; else the first of its section
    ("core:household_" stays highlighted on "core:household_detail"). One entry only: aria-current
    names one page."""
    return next((item["name"] for item in items if item["name"] == view_name), "") or next(
        (item["name"] for item in items if view_name.startswith(item["section"])), ""
    )


def _items(user: Any) -> tuple[tuple[Any, ...], list[dict[str, str]]]:
    scope = scope_of(user)
    roles = frozenset(role for role, paths in scope.role_paths.items() if paths)
    key = (scope.is_superuser, roles, get_language(), get_script_prefix())
    items = _BUILT.get(key)
    if items is None:
        items = _build(scope.is_superuser, roles)
        if len(_BUILT) > 512:  # a bound, not an eviction policy: combinations are few
            _BUILT.clear()
        _BUILT[key] = items
    return key, items


_BUILT: dict[tuple[Any, ...], list[dict[str, str]]] = {}
_HTML: dict[tuple[Any, ...], SafeString] = {}


def _build(is_superuser: bool, roles: frozenset[str]) -> list[dict[str, str]]:
    items = []
    for item in NAV_ITEMS:
        if item.roles is not None and not is_superuser and not (item.roles & roles):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        # "core:household_list" → "core:household_": the entry stays highlighted on detail pages.
        section = item.url_name.rsplit("_", 1)[0] + "_" if "_" in item.url_name else item.url_name
        items.append(
            {"label": str(item.label), "url": url, "icon": item.icon, "name": item.url_name, "section": section}
        )
    return items
