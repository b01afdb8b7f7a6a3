"""Scoped reads of work plans: every function starts from ``visible_to(user)``.

Lights are computed for the day asked about (``today``, default the local date). Lists return
``(task, TaskStatus)`` pairs computed in Python from prefetched rows; the dashboard counts lights
in SQL (``status.light_sql``), so its query count does not grow with villages or tasks.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from cocreate.core import access
from cocreate.core.models import Membership, Person, Region, Unit, User, subtree_q
from cocreate.plans.models import (
    Milestone,
    Phase,
    Plan,
    PlanStatus,
    ProgressReport,
    Task,
    TaskPerson,
    TaskUnit,
    UnitRole,
)
from cocreate.plans.rules import REPORTERS
from cocreate.plans.status import Light, TaskStatus, light_sql, task_light

OVERDUE_LIST_LIMIT = 50
# A cached dashboard is also keyed by the data version, so this only bounds stale unit names.
DASHBOARD_CACHE_SECONDS = 300
LIGHT_ORDER = [value for value, _label in Light.choices]


def _today(today: date | None) -> date:
    return today or timezone.localdate()


class _Attached(QuerySet[Any]):
    """Results attached to one task by :func:`_attach`: iterate them, never query from them.

    It carries no filter on the task, so a further ``filter()`` or ``first()`` would read other
    tasks' rows: every derived queryset fails loudly instead.
    """

    def _chain(self) -> Any:
        raise RuntimeError("attached task rows: use .all() or fetch them with a query of their own")


def _attach(tasks: list[Task], name: str, rows: QuerySet[Any]) -> None:
    """Fills ``task.<name>.all()`` for every task from one query, like ``prefetch_related``.

    Django's prefetch builds and clones a filtered queryset per task, which costs more than the
    query itself on a plan of thousands of tasks; here each task gets a ready result list.
    """
    by_task: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_task[row.task_id].append(row)
    # The per-task querysets are never run (their results are set), so they share one query.
    shared = rows.model._default_manager.none().query
    for task in tasks:
        cached = _Attached(model=rows.model, query=shared)
        cached._result_cache = by_task.get(task.pk, [])
        # Django's own prefetch leaves the same two private attributes behind.
        setattr(cached, "_prefetch_done", True)  # noqa: B010
        setattr(task, "_prefetched_objects_cache", {**getattr(task, "_prefetched_objects_cache", {}), name: cached})  # noqa: B010


def _with_status(
    tasks: QuerySet[Task] | list[Task], today: date, *, plan: Plan | None = None
) -> list[tuple[Task, TaskStatus]]:
    """Evaluates ``tasks`` with their milestones and units attached, and each one's light.

    A queryset is read once and its rows' related rows are found through it as a subquery; a
    list (a page of rows) finds them by its ids.
    """
    rows = list(tasks)
    if plan is not None:
        for task in rows:
            task._state.fields_cache["plan"] = plan
    if rows:
        ids: Any = tasks.values("pk") if isinstance(tasks, QuerySet) else [task.pk for task in rows]
        _attach(rows, "milestones", Milestone.objects.filter(task_id__in=ids).order_by("task_id", "due_on"))
        _attach(
            rows,
            "task_units",
            TaskUnit.objects.filter(task_id__in=ids).select_related("unit").order_by("task_id", "role", "order"),
        )
    return [(task, task_light(task, today)) for task in rows]


def with_lights(*, tasks: list[Task], plan: Plan, today: date | None = None) -> list[tuple[Task, TaskStatus]]:
    """A page of one plan's tasks (already scoped) with their units, milestones and lights: two queries."""
    return _with_status(tasks, _today(today), plan=plan)


def _task_list_qs(user: Any) -> QuerySet[Task]:
    """Visible tasks with what a task row shows: plan, phase, region (units and milestones: _attach)."""
    return Task.objects.visible_to(user).select_related("plan", "phase", "region")


def plan_list(*, user: Any, search: str = "", status: str = "") -> QuerySet[Plan]:
    """Plans the user may see, newest first, optionally searched by title or document number."""
    plans = Plan.objects.visible_to(user).select_related("issuing_unit", "region")
    search = search.strip()
    if search:
        plans = plans.filter(Q(title__icontains=search) | Q(doc_number__icontains=search))
    if status in PlanStatus.values:
        plans = plans.filter(status=status)
    return plans.order_by("-starts_on", "-id")


def _plan_rows(
    *, user: Any, plan: Plan, unit: Unit | None, phase: Phase | None, light: str | None, day: date
) -> QuerySet[Task]:
    """The plan's visible tasks that match the filters, at any depth (a light is the task's own)."""
    tasks = Task.objects.visible_to(user).filter(plan=plan)
    if unit is not None:
        tasks = tasks.filter(pk__in=TaskUnit.objects.filter(unit=unit).values("task_id"))
    if phase is not None:
        tasks = tasks.filter(phase=phase)
    if light:
        tasks = tasks.alias(light=light_sql(day)).filter(light=light)
    return tasks


def plan_tasks(
    *,
    user: Any,
    plan: Plan,
    unit: Unit | None = None,
    phase: Phase | None = None,
    light: str | None = None,
    today: date | None = None,
) -> list[tuple[Task, TaskStatus]]:
    """A plan's visible tasks with their lights, each fanned-out task followed by its children."""
    day = _today(today)
    # Every row shares the one plan: attach it instead of joining and building it per row.
    tasks = _plan_rows(user=user, plan=plan, unit=unit, phase=phase, light=light, day=day)
    tasks = tasks.select_related("phase", "region").order_by(
        Coalesce("parent_id", "id"), F("parent_id").asc(nulls_first=True), "region__path", "id"
    )
    return _with_status(tasks, day, plan=plan)


def assignable_units(user: Any) -> QuerySet[Unit]:
    """Active units the user can see: what a task's responsibility matrix may name."""
    return (
        Unit.objects.visible_to(user).filter(is_active=True).select_related("region").order_by("region__path", "name")
    )


def assignable_people(user: Any) -> QuerySet[User]:
    """Active accounts whose person the user can see: candidates for 责任领导 / 责任人."""
    people = Person.objects.visible_to(user).values("pk")
    return (
        User.objects.filter(is_active=True, person__in=people).select_related("person").order_by("display_name", "id")
    )


def visible_region(*, user: Any, pk: int, cached: bool | None = None, version: Any = None) -> Region:
    """The region ``pk`` if ``user`` may see it (else Http404); the verdict and the row are kept
    like the plan's (:func:`plan_with_phases`): regions' changes move the data version."""
    if not _use_cache(cached):
        return access.get_visible_or_404(Region, user, pk=pk)
    key = _cache_key("seen-region", user, pk, version=version)
    region = cache.get(key)
    if isinstance(region, Region):
        return region
    region = access.get_visible_or_404(Region, user, pk=pk)
    cache.set(key, region, DASHBOARD_CACHE_SECONDS)
    return region


def home_region(*, user: Any, cached: bool | None = None, version: Any = None) -> Region | None:
    """The widest region the user works in (where their dashboard starts), kept under the scope
    and the data version like :func:`visible_region`."""
    scope = access.scope_of(user)
    if not (scope.staff_paths or scope.is_superuser):
        return None
    key = _cache_key("home-region", user, version=version) if _use_cache(cached) else None
    region = cache.get(key) if key else None
    if isinstance(region, Region):
        return region
    if scope.staff_paths:
        region = Region.objects.filter(path__in=scope.staff_paths).order_by("depth", "path").first()
    else:
        region = Region.objects.filter(parent__isnull=True).order_by("path").first()
    if key and region is not None:
        cache.set(key, region, DASHBOARD_CACHE_SECONDS)
    return region


def plan_with_phases(
    *, user: Any, pk: int, cached: bool | None = None, version: Any = None
) -> tuple[Plan, list[Phase]]:
    """The plan ``pk`` if ``user`` may see it (else Http404), and its phases in order.

    Seeing a plan is decided by its rule (a subquery over its tasks); the verdict, the row (with its
    issuing unit and region) and the phases are kept under the scope, the plan and the data version
    (which plans', phases', regions' and units' changes move), like the figures of the page, so a
    plan page opened again reads nothing more to know it may be shown.
    """
    if not _use_cache(cached):
        plan = access.get_visible_or_404(Plan.objects.select_related("issuing_unit", "region"), user, pk=pk)
        return plan, list(plan.phases.all())
    key = _cache_key("seen", user, pk, version=version)
    kept = cache.get(key)
    if kept is not None:
        return kept
    plan = access.get_visible_or_404(Plan.objects.select_related("issuing_unit", "region"), user, pk=pk)
    phases = list(plan.phases.all())
    cache.set(key, (plan, phases), DASHBOARD_CACHE_SECONDS)
    return plan, phases


def plan_overview(
    *,
    user: Any,
    plan: Plan,
    unit: Unit | None = None,
    phase: Phase | None = None,
    light: str | None = None,
    today: date | None = None,
    cached: bool | None = None,
    version: Any = None,
    key: str | None = None,
) -> dict[str, Any]:
    """What the plan page shows around a page of rows, in three queries whatever the plan's size.

    * ``top``: ids of the page's rows in order: the filtered rows (:func:`plan_tasks`) without
      the children of a fanned-out task that is itself shown, which are counted by light here
      and listed on demand (:func:`task_children`). A child whose parent is not shown (filtered
      out, or outside the user's scope) stands on its own, next to where its parent would be.
    * ``counts``: lights of the filtered tasks that carry work (a fanned-out task counts
      through its children, as on the dashboard), computed and grouped in SQL;
      ``children``: the same by fanned-out parent (parent id → light → count).
    * ``units``: (id, name) of the visible units in the plan's matrix, for the unit filter.

    Cached like :func:`dashboard` (scope, plan, filters, day, data version), so any task or
    plan change shows at once; ``key`` is that cache key (None uncached; :func:`plan_overview_key`),
    for the page to cache what it renders from the figures under it too.
    """
    day = _today(today)
    if not _use_cache(cached):
        return {**_plan_overview(user=user, plan=plan, unit=unit, phase=phase, light=light, day=day), "key": None}
    key = key or plan_overview_key(
        user=user, plan=plan, unit=unit, phase=phase, light=light, today=day, version=version
    )
    data = cache.get(key)
    if data is None:
        data = {**_plan_overview(user=user, plan=plan, unit=unit, phase=phase, light=light, day=day), "key": key}
        cache.set(key, data, DASHBOARD_CACHE_SECONDS)
    return data


def plan_overview_key(
    *,
    user: Any,
    plan: Plan,
    unit: Unit | None = None,
    phase: Phase | None = None,
    light: str | None = None,
    today: date | None = None,
    cached: bool | None = None,
    version: Any = None,
) -> str | None:
    """The key :func:`plan_overview` keeps its figures under (scope, plan, filters, day, data
    version), or None when not caching."""
    if not _use_cache(cached):
        return None
    parts = (plan.pk, unit.pk if unit else None, phase.pk if phase else None, light, _today(today))
    return _cache_key("plan", user, *parts, version=version)


def _plan_overview(
    *, user: Any, plan: Plan, unit: Unit | None, phase: Phase | None, light: str | None, day: date
) -> dict[str, Any]:
    rows = _plan_rows(user=user, plan=plan, unit=unit, phase=phase, light=light, day=day)
    top = list(
        rows.filter(Q(parent__isnull=True) | ~Q(parent_id__in=rows.values("pk")))
        .order_by(Coalesce("parent_id", "id"), F("parent_id").asc(nulls_first=True), "region__path", "id")
        .values_list("pk", flat=True)
    )
    grouped = (
        rows.filter(fans_out=False)
        .annotate(row_light=light_sql(day))
        .values("parent_id", "row_light")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(LIGHT_ORDER, 0)
    children: dict[int, dict[str, int]] = {}
    for row in grouped:
        counts[row["row_light"]] += row["n"]
        if row["parent_id"] is not None:
            children.setdefault(row["parent_id"], dict.fromkeys(LIGHT_ORDER, 0))[row["row_light"]] += row["n"]
    units = list(
        Unit.objects.visible_to(user)
        .filter(pk__in=TaskUnit.objects.filter(task__plan=plan).values("unit_id"))
        .order_by("region__path", "name")
        .values_list("pk", "name")
    )
    return {"top": top, "counts": counts, "children": children, "units": units}


def plan_rows(*, user: Any, plan: Plan, ids: list[int], today: date | None = None) -> list[tuple[Task, TaskStatus]]:
    """The plan's visible tasks ``ids`` (a page of :func:`plan_overview`'s ``top``), in that order,
    with their units, milestones and lights: three queries."""
    tasks = Task.objects.visible_to(user).filter(plan=plan, pk__in=ids).select_related("phase", "region")
    by_id = {task.pk: task for task in tasks}
    return _with_status([by_id[pk] for pk in ids if pk in by_id], _today(today), plan=plan)


def task_children(
    *,
    user: Any,
    parent: Task,
    unit: Unit | None = None,
    phase: Phase | None = None,
    light: str | None = None,
    today: date | None = None,
) -> QuerySet[Task]:
    """The visible children of a fanned-out task that match the plan page's filters, by village.

    Unevaluated, so the caller paginates in SQL and then adds the lights of one page
    (:func:`with_lights`).
    """
    day = _today(today)
    rows = _plan_rows(user=user, plan=parent.plan, unit=unit, phase=phase, light=light, day=day)
    return rows.filter(parent=parent).select_related("phase", "region").order_by("region__path", "id")


def task_detail(*, user: Any, pk: Any) -> Task:
    """One visible task with its matrix, people, targets, milestones, children and reports (404 else)."""
    qs = Task.objects.select_related("plan", "plan__issuing_unit", "phase", "region", "parent").prefetch_related(
        Prefetch("task_units", queryset=TaskUnit.objects.select_related("unit").order_by("role", "order")),
        Prefetch("task_people", queryset=TaskPerson.objects.select_related("user").order_by("role", "id")),
        "targets",
        "milestones",
        Prefetch(
            "children",
            queryset=Task.objects.visible_to(user)
            .select_related("plan", "region")
            .prefetch_related("milestones")
            .order_by("region__path"),
        ),
        Prefetch(
            "reports",
            queryset=ProgressReport.objects.visible_to(user)
            .select_related("unit", "target", "reported_by", "returned_by")
            .order_by("-reported_at", "-id"),
        ),
    )
    return access.get_visible_or_404(qs, user, pk=pk)


def my_tasks(*, user: Any, today: date | None = None) -> list[tuple[Task, TaskStatus]]:
    """Tasks of active plans that name one of the user's units, or lie where the user reports."""
    day = _today(today)
    scope = access.scope_of(user)
    if not scope.is_authenticated:
        return []
    unit_ids = Membership.objects.filter(user_id=user.pk, is_active=True, unit__isnull=False).values("unit_id")
    mine = Q(pk__in=TaskUnit.objects.filter(unit_id__in=unit_ids).values("task_id"))
    for path in scope.paths_for(REPORTERS):
        mine |= subtree_q(path, "region__path")
    tasks = _task_list_qs(user).filter(mine, plan__status=PlanStatus.ACTIVE).order_by("deadline", "plan_id", "id")
    return _with_status(tasks, day)


def _data_version() -> tuple[Any, ...]:
    """Changes whenever a task, plan, phase, region or unit is saved (each save adds a history row;
    the pages show phases and regions' and units' names too): one statement of five index reads.

    Every dashboard and plan page asks this on every request, so it is one plain statement (going
    through ``Model.history`` builds a history manager class on each access).
    """
    tables = _HISTORY_TABLES or _history_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(f"(SELECT MAX(history_id) FROM {table})" for table in tables)  # noqa: S608  # nosec B608
        )
        return tuple(cursor.fetchone())


_HISTORY_TABLES: list[str] = []


def _history_tables() -> list[str]:
    _HISTORY_TABLES[:] = [model.history.model._meta.db_table for model in (Task, Plan, Phase, Region, Unit)]
    return _HISTORY_TABLES


def _use_cache(cached: bool | None) -> bool:
    return (not settings.TESTING) if cached is None else cached


def data_version(*, cached: bool | None = None) -> Any:
    """The data version the pages' kept parts are keyed by, or None when not caching: a view asks
    it once and hands it to each selector it calls, instead of one statement per selector."""
    return _data_version() if _use_cache(cached) else None


def _cache_key(kind: str, user: Any, *parts: Any, version: Any = None) -> str:
    """A cache key under the user's scope, ``parts`` and the data version (one statement)."""
    scope = access.scope_of(user)
    # Everything visibility reads from a scope: its roles' regions, the units it acts for (tasks
    # naming the unit) and the home region (regions above it are seen) — not who the user is, so
    # people with the same scope share what is kept.
    roles = sorted((role, sorted(paths)) for role, paths in scope.role_paths.items() if paths)
    identity = repr(
        (scope.is_superuser, roles, scope.unit_ids, scope.home_region_path, *parts, version or _data_version())
    )
    return f"plans:{kind}:" + hashlib.sha256(identity.encode()).hexdigest()


def dashboard_key(
    *, user: Any, region: Region, today: date | None = None, cached: bool | None = None, version: Any = None
) -> str | None:
    """The key :func:`dashboard` caches this user's, region's and day's figures under, or None when
    not caching; the page caches what it renders under it too. Two index reads (the data version)."""
    if not _use_cache(cached):
        return None
    return _cache_key("dashboard", user, region.pk, region.path, _today(today), version=version)


def dashboard(
    *, user: Any, region: Region, today: date | None = None, cached: bool | None = None, key: str | None = None
) -> dict[str, Any]:
    """Lights by responsible unit, totals, the overdue list and completions by month for a region.

    Counts the tasks that carry work (a fanned-out parent is counted through its children) of
    active plans in the region's subtree that the user may see. A fixed number of queries,
    whatever the number of villages or tasks: lights are computed and grouped in SQL, and the
    big tables are scanned twice (by light, and by unit and light).

    The result is cached (``cached``; default on outside the tests) under the user's scope, the
    region, the day and the data version (:func:`dashboard_key`, or ``key`` when the caller has
    it already), so a report or any task or plan change shows at once, while a county
    dashboard opened by many people is computed once per change.
    """
    day = _today(today)
    key = key or dashboard_key(user=user, region=region, today=day, cached=cached)
    if key is None:
        return _dashboard(user=user, region=region, day=day)
    data = cache.get(key)
    if data is None:
        data = _dashboard(user=user, region=region, day=day)
        cache.set(key, data, DASHBOARD_CACHE_SECONDS)
    return data


def _dashboard(*, user: Any, region: Region, day: date) -> dict[str, Any]:
    tasks = Task.objects.visible_to(user).filter(
        subtree_q(region.path, "region__path"), plan__status=PlanStatus.ACTIVE, fans_out=False
    )
    months = [date(day.year, m, 1) for m in range(1, 13)]
    month_ends = [*months[1:], date(day.year + 1, 1, 1)]
    # One scan: per light the count, the overdue count and this year's completions by month.
    extra = {
        f"m{i}": Count("id", filter=Q(completed_on__gte=start, completed_on__lt=end))
        for i, (start, end) in enumerate(zip(months, month_ends, strict=True))
    }
    totals_rows = (
        tasks.annotate(light=light_sql(day))
        .values("light")
        .annotate(n=Count("id"), overdue=Count("id", filter=Q(deadline__lt=day, progress__lt=100)), **extra)
        .order_by()
    )
    counts = dict.fromkeys(LIGHT_ORDER, 0)
    overdue_count = 0
    by_month = [0] * 12
    for row in totals_rows:
        counts[row["light"]] = row["n"]
        overdue_count += row["overdue"]
        for i in range(12):
            by_month[i] += row[f"m{i}"]
    total = sum(counts.values())

    # Grouped by unit id only: names are read afterwards for the few units found, so the big
    # aggregation joins no unit or region rows.
    unit_rows = (
        TaskUnit.objects.filter(role=UnitRole.RESPONSIBLE, task__in=tasks.values("pk"))
        .annotate(light=light_sql(day, "task__"))
        .values("unit_id", "light")
        .annotate(n=Count("id"))
        .order_by()
    )
    unit_counts: dict[int, dict[str, int]] = {}
    for row in unit_rows:
        unit_counts.setdefault(row["unit_id"], dict.fromkeys(LIGHT_ORDER, 0))[row["light"]] += row["n"]
    unit_info = {
        pk: (name, path)
        for pk, name, path in Unit.objects.filter(pk__in=list(unit_counts)).values_list("pk", "name", "region__path")
    }
    units = [
        {
            "id": unit_id,
            "name": unit_info[unit_id][0],
            "counts": unit_counts[unit_id],
            "total": sum(unit_counts[unit_id].values()),
            "red": unit_counts[unit_id][Light.RED],
        }
        for unit_id in sorted(unit_counts, key=lambda uid: (unit_info[uid][1], unit_info[uid][0], uid))
    ]

    overdue = list(
        tasks.filter(deadline__lt=day, progress__lt=100)
        .select_related("plan", "region")
        .prefetch_related(
            "milestones",
            Prefetch(
                "task_units",
                queryset=TaskUnit.objects.filter(role=UnitRole.RESPONSIBLE).select_related("unit"),
            ),
        )
        .order_by("deadline", "id")[:OVERDUE_LIST_LIMIT]
    )
    return {
        "region": region,
        "today": day,
        "totals": {
            "tasks": total,
            "counts": counts,
            "done": counts[Light.DONE],
            "overdue": overdue_count,
            "done_rate": round(counts[Light.DONE] * 100 / total, 1) if total else 0.0,
        },
        "units": units,
        "overdue": [(task, task_light(task, day)) for task in overdue],
        "completed_by_month": [(m, n) for m, n in zip(months, by_month, strict=True) if n],
    }
