"""The one access authority: who may see and do what, derived from memberships.

* ``visible(queryset, user)`` (reached as ``Model.objects.visible_to(user)``) narrows any
  queryset of a registered model to what the user may see.
* ``can(user, action, obj)`` answers whether the user may perform ``action`` on ``obj``.
* ``get_visible_or_404`` is the only way a view or API handler fetches an object by an id
  taken from a request: missing and forbidden give the same 404.
* ``public(queryset)`` narrows to what anyone may see on a community's public page (no login),
  by a second registry (``register_public``); views marked ``@public_view`` read only through it.

Rules: superusers see everything. Staff (any role but 居民) see the subtree of every region
they hold a membership in, plus the ancestors of those regions where a model needs them
(breadcrumbs, the town's units that lead a village's tasks). Residents see their own records
and what is public. Anonymous users see only what a model declares public.

Later modules register their models with :func:`register` instead of writing their own
checks, so the route × role matrix test covers them automatically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, models
from django.db.models import Q, QuerySet
from django.http import Http404

from cocreate.core.models import (
    STAFF_ROLES,
    ApiToken,
    Attachment,
    AuditEvent,
    Household,
    Membership,
    Notification,
    Person,
    Region,
    RegionLevel,
    Role,
    Unit,
    User,
    WorkCalendarDay,
    subtree_q,
)

M = TypeVar("M", bound=models.Model)

VIEW = "view"
CREATE = "create"
CHANGE = "change"
DELETE = "delete"
VERIFY = "verify"


@dataclass(frozen=True)
class Scope:
    """What one user's memberships add up to; computed once per request and cached on the user."""

    is_superuser: bool = False
    is_authenticated: bool = False
    user_id: int | None = None
    person_id: int | None = None
    household_id: int | None = None
    home_region_path: str | None = None
    # role -> region paths in which the user holds that role
    role_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Units the user acts for (through staff memberships): tasks name units, not regions.
    unit_ids: tuple[int, ...] = ()

    @property
    def staff_paths(self) -> tuple[str, ...]:
        paths: set[str] = set()
        for role, role_paths in self.role_paths.items():
            if role in STAFF_ROLES:
                paths.update(role_paths)
        return _outermost(paths)

    @property
    def is_staff_member(self) -> bool:
        return bool(self.staff_paths)

    def paths_for(self, roles: Iterable[str]) -> tuple[str, ...]:
        paths: set[str] = set()
        for role in roles:
            paths.update(self.role_paths.get(role, ()))
        return _outermost(paths)

    def has_role_over(self, roles: Iterable[str], region_path: str) -> bool:
        """True when the user holds one of ``roles`` in ``region_path`` or one of its ancestors."""
        return any(region_path.startswith(p) for p in self.paths_for(roles))

    def ancestor_codes(self) -> set[str]:
        codes: set[str] = set()
        paths = list(self.staff_paths)
        if self.home_region_path:
            paths.append(self.home_region_path)
        for path in paths:
            codes.update(c for c in path.strip("/").split("/") if c)
        return codes


def _outermost(paths: Iterable[str]) -> tuple[str, ...]:
    """Drops paths already covered by a shorter one, so subtree filters stay small."""
    result: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(p) for p in result):
            result.append(path)
    return tuple(result)


ANONYMOUS = Scope()


def scope_of(user: Any) -> Scope:
    """The user's scope, cached on the user object for the rest of the request."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    cached = getattr(user, "_cocreate_scope", None)
    if cached is not None:
        return cached
    return _remember_scope(user, *_scope_rows(user.pk, user.person_id))


def _remember_scope(user: Any, memberships: list[tuple[str, str, int | None]], person: Any) -> Scope:
    role_paths: dict[str, list[str]] = {}
    unit_ids: set[int] = set()
    for role, path, unit_id in memberships:
        role_paths.setdefault(role, []).append(path)
        if unit_id is not None and role in STAFF_ROLES:
            unit_ids.add(unit_id)
    scope = Scope(
        is_superuser=bool(user.is_superuser),
        is_authenticated=True,
        user_id=user.pk,
        person_id=user.person_id,
        household_id=person[0] if person else None,
        home_region_path=person[1] if person else None,
        role_paths={role: tuple(paths) for role, paths in role_paths.items()},
        unit_ids=tuple(sorted(unit_ids)),
    )
    user._cocreate_scope = scope
    return scope


def _parse_scope_rows(rows: Iterable[Any]) -> tuple[list[tuple[str, str, int | None]], Any]:
    """(kind, role, path, unit, household) rows → memberships (role, path, unit) and (household, path)."""
    rows = list(rows)
    memberships = [(role, path, unit_id) for kind, role, path, unit_id, _household in rows if kind == "m"]
    found = next(((household, path) for kind, _role, path, _unit, household in rows if kind == "p"), None)
    return memberships, found


def _scope_rows_sql(*, person_of_user: bool) -> str:
    """The scope's rows (kind, role, path, unit, household): the account's active memberships in
    active regions (the account's id as the first parameter), then its person's household and
    region — the person's id as the second parameter, or with ``person_of_user`` the account's id
    again (the person is found through the account's row). One text for both reads, so the rule of
    which memberships count is written once."""
    membership, region, person = Membership._meta.db_table, Region._meta.db_table, Person._meta.db_table
    user = User._meta.db_table
    person_id = f"(SELECT su.person_id FROM {user} su WHERE su.id = %s)" if person_of_user else "%s"  # noqa: S608  # nosec B608
    return (
        f"SELECT 'm' AS kind, m.role AS role, r.path AS path, m.unit_id AS unit_id, NULL AS household_id "  # noqa: S608  # nosec B608
        f"FROM {membership} m JOIN {region} r ON r.id = m.region_id "
        "WHERE m.user_id = %s AND m.is_active AND r.is_active "
        f"UNION ALL SELECT 'p', NULL, r.path, NULL, p.household_id FROM {person} p "  # nosec B608
        f"JOIN {region} r ON r.id = p.region_id WHERE p.id = {person_id}"
    )


def scope_rows_of_user_sql() -> str:
    """The scope's rows of one account as a subquery (its id as the two parameters), for the
    statement that reads a signed-in request's user (``core.hotpath.UserBackend``): the same
    memberships and person as :func:`_scope_rows`, in the same round trip as the user's row."""
    return _scope_rows_sql(person_of_user=True)


def prime_scope(user: Any, rows: Iterable[Any]) -> Scope:
    """Sets the user's scope from rows read with :func:`scope_rows_of_user_sql`."""
    return _remember_scope(user, *_parse_scope_rows(rows))


def _scope_rows(user_id: int, person_id: int | None) -> tuple[list[tuple[str, str, int | None]], Any]:
    """The user's active memberships (role, region path, unit) and their person's (household, path).

    Every signed-in request runs these reads (navigation, every visibility rule), so they are one
    plain statement: building them through the ORM cost more than running them. A user signed in
    by a session has them already, read with the user's row (:func:`prime_scope`).
    """
    with connection.cursor() as cursor:
        # One statement for both reads: each is a round trip to a database server.
        cursor.execute(_scope_rows_sql(person_of_user=False), [user_id, person_id])
        rows = cursor.fetchall()
    return _parse_scope_rows(rows)


def forget_scope(user: Any) -> None:
    """Drops the cached scope after memberships change within one request or test."""
    if hasattr(user, "_cocreate_scope"):
        del user._cocreate_scope


def in_paths(paths: Iterable[str], field_name: str) -> Q:
    """Q matching rows whose ``field_name`` (a region path) lies in any of the subtrees."""
    q = Q(pk__in=[])
    for path in paths:
        q |= subtree_q(path, field_name)
    return q


NOTHING = Q(pk__in=[])


# --- Visibility rules, one per model ------------------------------------------------------------

VisibilityRule = Callable[[Scope], Q]
_RULES: dict[type[models.Model], VisibilityRule] = {}


def register(model: type[models.Model]) -> Callable[[VisibilityRule], VisibilityRule]:
    """Registers the visibility rule of a model; every user-facing model must have one."""

    def decorator(rule: VisibilityRule) -> VisibilityRule:
        _RULES[model] = rule
        return rule

    return decorator


def registered_models() -> list[type[models.Model]]:
    return list(_RULES)


def visible(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    scope = scope_of(user)
    if scope.is_superuser:
        return queryset
    rule = _RULES.get(queryset.model)
    if rule is None:
        # A model without a rule is invisible: forgetting to register fails closed.
        return queryset.none()
    return queryset.filter(rule(scope))


@register(Region)
def _region_rule(scope: Scope) -> Q:
    if not scope.is_authenticated:
        return NOTHING
    return in_paths(scope.staff_paths, "path") | Q(code__in=scope.ancestor_codes())


@register(Unit)
def _unit_rule(scope: Scope) -> Q:
    if not scope.is_authenticated:
        return NOTHING
    return in_paths(scope.staff_paths, "region__path") | Q(region__code__in=scope.ancestor_codes())


@register(Person)
def _person_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "region__path")
    if scope.person_id:
        q |= Q(pk=scope.person_id)
    if scope.household_id:
        q |= Q(household_id=scope.household_id)
    return q


@register(Household)
def _household_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "region__path")
    if scope.household_id:
        q |= Q(pk=scope.household_id)
    return q


@register(Membership)
def _membership_rule(scope: Scope) -> Q:
    q = in_paths(scope.staff_paths, "region__path")
    if scope.user_id:
        q |= Q(user_id=scope.user_id)
    return q


# Attachments follow the record they hang on when its model registers a rule of its own
# (``register_attachment_rule``): a grievance's evidence is for who may see the grievance, not for
# every staff member over its village. Other attachments: staff over the region and the uploader.
AttachmentRule = Callable[[Scope], Q]
AttachCheck = Callable[[Any, Any], bool]
_ATTACHMENT_RULES: dict[type[models.Model], AttachmentRule] = {}
_ATTACH_CHECKS: dict[type[models.Model], AttachCheck] = {}


def register_attachment_rule(
    model: type[models.Model], *, may_attach: AttachCheck | None = None
) -> Callable[[AttachmentRule], AttachmentRule]:
    """Registers which attachments on ``model``'s records a scope sees (a Q over ``Attachment``, the
    model's rows only), and optionally who may attach to one of its records (``may_attach(user, obj)``,
    checked on top of seeing the record)."""

    def decorator(rule: AttachmentRule) -> AttachmentRule:
        _ATTACHMENT_RULES[model] = rule
        if may_attach is not None:
            _ATTACH_CHECKS[model] = may_attach
        return rule

    return decorator


def may_attach(user: Any, target: Any) -> bool:
    """Whether ``user`` may attach a file to ``target``: seeing it, and the model's own check if any."""
    if getattr(target, "pk", None) is None or not can(user, VIEW, target):
        return False
    check = _ATTACH_CHECKS.get(type(target))
    return scope_of(user).is_superuser or check is None or check(user, target)


@register(Attachment)
def _attachment_rule(scope: Scope) -> Q:
    q = _own_attachment_rule(scope)
    if not _ATTACHMENT_RULES:
        return q
    delegated = {ContentType.objects.get_for_model(model).pk: rule for model, rule in _ATTACHMENT_RULES.items()}
    q &= ~Q(content_type_id__in=sorted(delegated))
    for content_type_id, rule in delegated.items():
        q |= Q(content_type_id=content_type_id) & rule(scope)
    return q


def attachments_on(target: models.Model, user: Any) -> QuerySet[Attachment]:
    """The attachments on ``target`` that ``user`` sees: the rows :func:`visible` gives, found with
    only the rule of ``target``'s model (the full rule joins every delegated model's rule, e.g. a
    subquery over every visible case, to list a work plan's files)."""
    model = type(target)._meta.concrete_model or type(target)
    content_type = ContentType.objects.get_for_model(model)
    if not _has_attachments(content_type.pk, str(target.pk)):
        # Most records carry no files: one index read instead of building the scoped query.
        return Attachment.objects.none()
    qs = Attachment.objects.filter(content_type=content_type, object_id=str(target.pk))
    scope = scope_of(user)
    if scope.is_superuser:
        return qs
    rule = _ATTACHMENT_RULES.get(model, _own_attachment_rule)
    return qs.filter(rule(scope))


def _has_attachments(content_type_id: int, object_id: str) -> bool:
    table = Attachment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE content_type_id = %s AND object_id = %s LIMIT 1",  # noqa: S608  # nosec B608
            [content_type_id, object_id],
        )
        return cursor.fetchone() is not None


def _own_attachment_rule(scope: Scope) -> Q:
    """Attachments on records without a rule of their own: staff over the region, and the uploader."""
    q = in_paths(scope.staff_paths, "region__path")
    if scope.user_id:
        q |= Q(uploaded_by_id=scope.user_id)
    return q


@register(Notification)
def _notification_rule(scope: Scope) -> Q:
    return Q(user_id=scope.user_id) if scope.user_id else NOTHING


@register(ApiToken)
def _token_rule(scope: Scope) -> Q:
    return Q(user_id=scope.user_id) if scope.user_id else NOTHING


@register(WorkCalendarDay)
def _work_calendar_rule(scope: Scope) -> Q:
    # The calendar is national reference data: every staff member's deadlines depend on it.
    return Q() if scope.is_staff_member else NOTHING


AUDIT_ROLES = frozenset({Role.AUDITOR})
# Models the application appends to on every request as a record of it (the audit trail). Their
# new rows are no change to anyone's data: the route × role matrix leaves them out of its check
# that a write changes nothing outside the caller's scope.
LOG_MODELS: set[type[models.Model]] = {AuditEvent}


@register(AuditEvent)
def _audit_event_rule(scope: Scope) -> Q:
    """Auditors see the trail of the accounts placed in their subtree (a membership or their
    person's home there, now). An auditor over a county or above also sees the events of accounts
    placed nowhere (superusers) and of no account (failed logins under an unknown phone number)."""
    paths = scope.paths_for(AUDIT_ROLES)
    if not paths:
        return NOTHING
    placed = User.objects.filter(in_paths(paths, "memberships__region__path") | in_paths(paths, "person__region__path"))
    q = Q(user_id__in=placed.values("pk"))
    if Region.objects.filter(path__in=paths, level__lte=RegionLevel.COUNTY).exists():
        unplaced = User.objects.filter(memberships__isnull=True, person__isnull=True)
        q |= Q(user_id__isnull=True) | Q(user_id__in=unplaced.values("pk"))
    return q


# --- Public rules: what anyone may see on a community's public page --------------------------------
# A second registry, separate from ``visible()``: signed-in lists keep showing only the caller's
# scope, while public pages show every visitor — signed in or not — the same rows.

PublicRule = Callable[[], Q]
_PUBLIC_RULES: dict[type[models.Model], PublicRule] = {}


def register_public(model: type[models.Model]) -> Callable[[PublicRule], PublicRule]:
    """Registers which rows of a model anyone may see; a model without one is never public."""

    def decorator(rule: PublicRule) -> PublicRule:
        _PUBLIC_RULES[model] = rule
        return rule

    return decorator


def public_models() -> list[type[models.Model]]:
    return list(_PUBLIC_RULES)


def public(queryset: QuerySet[M]) -> QuerySet[M]:
    """Narrows ``queryset`` to publicly visible rows; a model without a public rule gives none."""
    rule = _PUBLIC_RULES.get(queryset.model)
    if rule is None:
        return queryset.none()  # forgetting to register fails closed
    return queryset.filter(rule())


def get_public_or_404(model_or_qs: type[M] | QuerySet[M], **lookup: Any) -> M:
    """Fetches one public object; missing and not public both raise Http404."""
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    try:
        return public(qs).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404("not found") from exc


PUBLIC_VIEW_ATTRIBUTE = "cocreate_public"
V = TypeVar("V", bound=Callable[..., Any])


def public_view(view: V) -> V:
    """Marks a view as public: it reads only through :func:`public` and shows every visitor the
    same thing. The route × role matrix reads the mark and checks such views for private data
    instead of for out-of-scope records."""
    setattr(view, PUBLIC_VIEW_ATTRIBUTE, True)
    return view


def is_public_view(view: Any) -> bool:
    return bool(getattr(view, PUBLIC_VIEW_ATTRIBUTE, False))


@register_public(Region)
def _region_public_rule() -> Q:
    # Region names and codes are public knowledge; a disabled region has no public page.
    return Q(is_active=True)


# --- Write rules ----------------------------------------------------------------------------------

PEOPLE_MANAGERS = frozenset({Role.ADMIN, Role.VILLAGE_STAFF, Role.TOWN_STAFF})
# Which roles may create, change or delete a model's records, inside their region subtree.
WRITE_ROLES: dict[type[models.Model], frozenset[str]] = {
    Region: frozenset({Role.ADMIN}),
    Unit: frozenset({Role.ADMIN}),
    Membership: frozenset({Role.ADMIN}),
    Person: PEOPLE_MANAGERS,
    Household: PEOPLE_MANAGERS,
}


def register_write_roles(model: type[models.Model], roles: Iterable[str]) -> None:
    WRITE_ROLES[model] = frozenset(roles)


# Models without a region: one set of rows for the whole installation (reference data). Writing
# them needs one of the model's WRITE_ROLES anywhere, and no row can lie outside a staff member's
# scope, so the route × role matrix does not look for an out-of-scope row of them.
GLOBAL_MODELS: set[type[models.Model]] = {WorkCalendarDay}
WRITE_ROLES[WorkCalendarDay] = frozenset({Role.ADMIN})

# Models whose writes depend on more than a role over a region (a grievance case: its handling
# unit, its level) answer ``can`` for every action but ``view`` themselves.
WriteCheck = Callable[[Any, str, Any], bool]
_WRITE_CHECKS: dict[type[models.Model], WriteCheck] = {}


def register_write_check(model: type[models.Model]) -> Callable[[WriteCheck], WriteCheck]:
    def decorator(check: WriteCheck) -> WriteCheck:
        _WRITE_CHECKS[model] = check
        return check

    return decorator


def region_path_of(obj: Any) -> str | None:
    """The region path that governs an object: its own for a Region, else its ``region``'s."""
    if isinstance(obj, Region):
        if obj.pk is None:
            return obj.parent.path if obj.parent_id and obj.parent else None
        return obj.path
    region = getattr(obj, "region", None)
    return region.path if region is not None else None


def can(user: Any, action: str, obj: Any) -> bool:
    """Whether ``user`` may do ``action`` to ``obj`` (an instance; unsaved for ``create``)."""
    scope = scope_of(user)
    if not scope.is_authenticated:
        return False
    if scope.is_superuser:
        return True
    model = type(obj)
    if action == VIEW:
        return obj.pk is not None and visible(model._default_manager.filter(pk=obj.pk), user).exists()
    if model in _WRITE_CHECKS:
        return _WRITE_CHECKS[model](user, action, obj)
    if isinstance(obj, Attachment):
        if action == DELETE:
            return obj.uploaded_by_id == scope.user_id or scope.has_role_over({Role.ADMIN}, obj.region.path)
        return False
    if isinstance(obj, (Notification, ApiToken)):
        return obj.user_id == scope.user_id
    if action == VERIFY and isinstance(obj, Person):
        path = region_path_of(obj)
        return path is not None and scope.has_role_over(PEOPLE_MANAGERS, path)
    roles = WRITE_ROLES.get(model)
    if roles is None or action not in (CREATE, CHANGE, DELETE):
        return False
    if model in GLOBAL_MODELS:
        return bool(scope.paths_for(roles))
    path = region_path_of(obj)
    if path is None:
        return False
    if isinstance(obj, Region) and action in (CHANGE, DELETE):
        # Nobody edits the node their own authority hangs on, only what lies below it.
        return any(path.startswith(p) and path != p for p in scope.paths_for(roles))
    return scope.has_role_over(roles, path)


def get_visible_or_404(model_or_qs: type[M] | QuerySet[M], user: Any, **lookup: Any) -> M:
    """Fetches one object the user may see; missing and forbidden both raise Http404."""
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    try:
        return visible(qs, user).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404("not found") from exc


def manageable_regions(user: Any, roles: Iterable[str]) -> QuerySet[Region]:
    """Regions in which the user holds one of ``roles`` (subtrees), for choice fields."""
    scope = scope_of(user)
    if scope.is_superuser:
        return Region.objects.all()
    return Region.objects.filter(in_paths(scope.paths_for(roles), "path"))
