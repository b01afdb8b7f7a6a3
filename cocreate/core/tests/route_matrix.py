"""The route × role matrix: every URL pattern and API operation, for anonymous and every role.

Routes are found by walking the URLconf and the API's OpenAPI document, so a route added later
is covered without editing anything here. For each route and caller it checks:

* no response is a 5xx;
* no response body carries the out-of-scope marker (records of county B in the test world);
* a route addressing an out-of-scope object by id never answers 2xx to a GET;
* a write (POST/PUT/PATCH/DELETE) changes no record the caller cannot see.

Public views (marked ``@access.public_view``: a community's page, open to anyone) rightly show
county B's records to every caller, so for them the two scope checks give way to a privacy check:
the body carries no ``PRIVATE_MARKER`` (drafts, objections, comments, full names … of the test
world) and no person's phone or ID number, masked or not. Their region codes and ids are filled
with the communities holding marked rows and with a public and a non-public row of the route's model.

``run_matrix`` returns the violations instead of asserting, so a test can also prove that the
checker catches an unscoped view.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from cocreate.conftest import OUTSIDE_MARKER, PRIVATE_MARKER
from cocreate.core import access

MISSING_ID = 987654321
# The OpenAPI tag of operations that answer anyone (cocreate/participation/api_public.py).
PUBLIC_TAG = "public"
WRITE_METHODS = ("post", "put", "patch", "delete")
# Routes that are not part of the application's data surface.
SKIPPED_PREFIXES = ("static/", "media/")


@dataclass
class Route:
    """One addressable operation: a path template, its methods and the model it is about."""

    template: str  # "core/households/<int:pk>/" or "/api/households/{id}"
    name: str
    params: list[str]
    methods: tuple[str, ...]
    kind: str  # "page" or "api"
    regex: re.Pattern[str] | None = None
    public: bool = False  # the view is marked @access.public_view: open to anyone


@dataclass
class MatrixResult:
    routes: list[Route] = field(default_factory=list)
    requests: int = 0
    violations: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


# --- Finding routes --------------------------------------------------------------------------------

_CONVERTER = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}{entry.name or ''}", entry


def page_routes(urlconf: str | None = None) -> list[Route]:
    routes = []
    for template, name, pattern in _walk(get_resolver(urlconf).url_patterns, "", ""):
        if template.startswith("api/") or template.startswith("^api/"):
            continue  # API operations come from the OpenAPI document, with their methods
        if template.startswith(SKIPPED_PREFIXES):
            continue
        if "(?P<" in template or template.startswith("^"):
            regex = re.compile(template.replace("^", "").replace("$", "").replace("\\Z", ""))
            params = list(regex.groupindex)
            routes.append(Route(template, name, params, ("get", "post"), "page", regex))
        else:
            params = [m.group("name") for m in _CONVERTER.finditer(template)]
            public = access.is_public_view(pattern.callback)
            routes.append(Route(template, name, params, ("get", "post"), "page", public=public))
    return routes


def api_routes() -> list[Route]:
    from cocreate.api import api

    schema = api.get_openapi_schema()
    routes = []
    for path, operations in schema["paths"].items():
        methods = tuple(m for m in operations if m in ("get", *WRITE_METHODS))
        params = re.findall(r"{(\w+)}", path)
        # An operation tagged "public" answers anyone (a community's public API), like @public_view pages.
        public = all(PUBLIC_TAG in operations[m].get("tags", ()) for m in methods)
        routes.append(Route(path, path, params, methods, "api", public=public))
    return routes


# --- Filling parameters with out-of-scope objects -----------------------------------------------


def _model_index() -> dict[str, type[models.Model]]:
    index: dict[str, type[models.Model]] = {}
    for model in access.registered_models():
        name = model._meta.model_name or ""
        index[name] = model
        index[str(model._meta.verbose_name_plural)] = model
        index[name + "s"] = model
        # "ProgressReport" is also addressed as /reports/, "SupervisionCheck" as /checks/.
        last_word = re.findall(r"[A-Z][a-z]+", model.__name__)[-1].lower()
        index.setdefault(last_word, model)
        index.setdefault(last_word + "s", model)
    index.setdefault("people", apps.get_model("core", "Person"))
    index.setdefault("tokens", apps.get_model("core", "ApiToken"))
    index.setdefault("problems", apps.get_model("participation", "ProblemItem"))
    index.setdefault("calendar", apps.get_model("core", "WorkCalendarDay"))
    return index


def route_model(route: Route, index: dict[str, type[models.Model]]) -> type[models.Model] | None:
    """The model a route is about: from its URL name (``core:household_detail``) or API path."""
    if route.kind == "api":
        segments = [s for s in route.template.split("/") if s and not s.startswith("{") and s != "api"]
        # /api/public/communities/{code}/votes/{id} is about votes: the last word, not the first.
        candidates = segments[-1:] if route.public else segments[:1]
    else:
        short = route.name.split(":")[-1].removeprefix("public_")
        candidates = [short.split("_")[0], "_".join(short.split("_")[:2])]
        if route.name.startswith("admin:"):
            parts = short.split("_")
            candidates = ["_".join(parts[1:-1]), *candidates]
    for candidate in candidates:
        if candidate in index:
            return index[candidate]
    return None


def outside_objects(users: list[Any]) -> dict[type[models.Model], models.Model]:
    """For each registered model, one row that none of ``users`` may see."""
    found: dict[type[models.Model], models.Model] = {}
    for model in access.registered_models():
        hidden = model._default_manager.all()
        for user in users:
            hidden = hidden.exclude(pk__in=access.visible(model._default_manager.all(), user).values("pk"))
        row = hidden.order_by("pk").first()
        if row is not None:
            found[model] = row
    return found


def fill(route: Route, outside: dict[type[models.Model], models.Model], index: dict[str, Any]) -> str | None:
    """The concrete path for ``route`` with every id pointing outside every role's scope."""
    main_model = route_model(route, index)
    values: dict[str, str] = {}
    for param in route.params:
        values[param] = _param_value(param, main_model, outside, index)
    if route.regex is not None:
        return _fill_regex(route, values)
    if route.kind == "api":
        path = route.template
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        return path
    path = _CONVERTER.sub(lambda m: values[m.group("name")], route.template)
    return "/" + path


def _param_value(
    param: str,
    main_model: type[models.Model] | None,
    outside: dict[type[models.Model], models.Model],
    index: dict[str, Any],
) -> str:
    if param in ("content_type_id", "content_type"):
        model = main_model if main_model is not None and main_model._meta.model_name != "attachment" else None
        model = model or apps.get_model("core", "Household")
        ct = ContentType.objects.get_for_model(model)
        return str(ct.pk) if param.endswith("_id") else f"{ct.app_label}.{ct.model}"
    if param == "object_id":
        model = main_model if main_model is not None and main_model._meta.model_name != "attachment" else None
        model = model or apps.get_model("core", "Household")
        row = outside.get(model)
        return str(row.pk) if row else str(MISSING_ID)
    model = index[param[:-3]] if param.endswith("_id") and param[:-3] in index else main_model
    row = outside.get(model) if model is not None else None
    return str(row.pk) if row is not None else str(MISSING_ID)


def _fill_regex(route: Route, values: dict[str, str]) -> str | None:
    assert route.regex is not None
    result = route.regex.pattern
    for name in route.regex.groupindex:
        group = re.search(r"\(\?P<" + name + r">([^)]*)\)", result)
        if group is None:
            return None
        alternatives = group.group(1).split("|")
        candidate = values.get(name, "")
        if not re.fullmatch(group.group(1), candidate):
            candidate = next((a for a in alternatives if re.fullmatch(r"[\w-]+", a)), "core")
        result = result[: group.start()] + candidate + result[group.end() :]
    result = result.replace("\\", "")
    return "/" + result if route.regex.fullmatch(result) else None


# --- Filling the parameters of public routes ------------------------------------------------------------

REGION_CODE_PARAMS = ("code", "region_code")


def _marked(model: type[models.Model]) -> models.QuerySet[Any]:
    """Rows of ``model`` with ``PRIVATE_MARKER`` in one of their text fields."""
    q = models.Q(pk__in=[])
    for f in model._meta.concrete_fields:
        if isinstance(f, (models.CharField, models.TextField)):
            q |= models.Q(**{f"{f.name}__contains": PRIVATE_MARKER})
    return model._default_manager.filter(q)


def _has_region(model: type[models.Model]) -> bool:
    return any(f.name == "region" and f.is_relation for f in model._meta.concrete_fields)


def marked_region_codes() -> list[str]:
    """The codes of the regions that hold rows which must never be public."""
    codes: set[str] = set()
    for model in access.registered_models():
        if _has_region(model):
            codes.update(_marked(model).values_list("region__code", flat=True))
    return sorted(codes)


def _public_probe_ids(model: type[models.Model] | None, code: str) -> list[str]:
    """A public row and a non-public row (a marked one if there is) of ``model`` in region ``code``."""
    if model is None:
        return [str(MISSING_ID)]
    rows = model._default_manager.all()
    if _has_region(model):
        rows = rows.filter(region__code=code)
    public_row = access.public(rows).order_by("pk").first()
    hidden = rows.exclude(pk__in=access.public(model._default_manager.all()).values("pk"))
    private_row = (
        _marked(model).filter(pk__in=hidden.values("pk")).order_by("pk").first() or hidden.order_by("pk").first()
    )
    ids = [str(row.pk) for row in (public_row, private_row) if row is not None]
    return ids or [str(MISSING_ID)]


def public_paths(route: Route, index: dict[str, Any], codes: list[str]) -> list[str]:
    """Every path a public route is probed with: each marked community, public and private ids."""
    main_model = route_model(route, index)
    paths: list[str] = []
    for code in codes or [str(MISSING_ID)]:
        choices: list[list[str]] = []
        for param in route.params:
            if param in REGION_CODE_PARAMS:
                choices.append([code])
                continue
            model = index[param[:-3]] if param.endswith("_id") and param[:-3] in index else main_model
            choices.append(_public_probe_ids(model, code))
        for combo in itertools.product(*choices):
            values = dict(zip(route.params, combo, strict=True))
            paths.append("/" + _substitute(route.template, values))
    return paths


def _substitute(template: str, values: dict[str, str]) -> str:
    """Fills a page template (``<int:pk>``) or an API path (``{id}``), without the leading slash."""
    if "{" in template or template.startswith("/"):
        return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], template).lstrip("/")
    return _CONVERTER.sub(lambda m: values[m.group("name")], template)


def personal_identifiers() -> set[str]:
    """Every person's phone and ID number in the test world, in full and masked (139****0001)."""
    from cocreate.core.models import Person
    from cocreate.core.privacy import mask_id_number, mask_phone

    found: set[str] = set()
    for phone, id_number in Person.objects.values_list("phone", "id_number"):
        if phone:
            found.update((phone, mask_phone(phone)))
        if id_number:
            found.update((id_number, mask_id_number(id_number)))
    return found


# --- Snapshots of what a caller cannot see -------------------------------------------------------------


def hidden_snapshot(user: Any) -> dict[str, str]:
    """A digest of every row of every registered model that ``user`` may not see."""
    digest: dict[str, str] = {}
    for model in access.registered_models():
        if model in access.LOG_MODELS:
            continue  # appended to by every write (the audit trail), never changed
        manager = model._default_manager
        visible_pks = access.visible(manager.all(), user).values("pk")
        rows = manager.exclude(pk__in=visible_pks).order_by("pk").values()
        h = hashlib.sha256()
        for row in rows:
            h.update(repr(sorted(row.items())).encode())
        digest[model._meta.label] = h.hexdigest()
    return digest


WRITE_BODY_KEYS = (
    "region",
    "parent",
    "unit",
    "household",
    "person",
    "user",
    "head",
    "target",
    "region_id",
    "parent_id",
    "unit_id",
    "household_id",
    "person_id",
    "user_id",
)


def write_body(outside: dict[type[models.Model], models.Model], index: dict[str, Any]) -> dict[str, Any]:
    """A request body that points every plausible foreign key at an out-of-scope row."""
    # Free text must not carry the marker: forms and APIs rightly echo the caller's own input.
    body: dict[str, Any] = {
        "name": "矩阵测试名称",
        "number": "MATRIX-999",
        "code": "990102001099",
        "level": 5,
        "kind": "department",
        "role": "admin",
        "title": "矩阵测试",
        "address": "矩阵测试地址",
        "phone": "13811112222",
        "is_active": "false",
    }
    for key in WRITE_BODY_KEYS:
        model = index.get(key.removesuffix("_id"))
        if key.removesuffix("_id") == "head":
            model = index.get("person")
        if key.removesuffix("_id") == "target":
            model = index.get("household")
        row = outside.get(model) if model is not None else None
        if row is not None:
            body[key] = row.pk
    return body


# --- Running it ------------------------------------------------------------------------------------------------


def _ensure_login(client: Client, user: Any) -> None:
    if user is not None and "_auth_user_id" not in client.session:
        client.force_login(user)


def run_matrix(callers: dict[str, Any], *, urlconf: str | None = None) -> MatrixResult:
    """Requests every route with every caller (``None`` = anonymous) and collects violations."""
    index = _model_index()
    role_users = [u for u in callers.values() if u is not None]
    outside = outside_objects(role_users)
    result = MatrixResult(routes=page_routes(urlconf) + api_routes())
    body = write_body(outside, index)
    clients = {name: Client(raise_request_exception=False) for name in callers}
    # The audit trail (access.LOG_MODELS) gains a row with every write: that changes no one's data.
    scoped_tables = {m._meta.db_table for m in access.registered_models() if m not in access.LOG_MODELS}
    # Each caller's hidden snapshot stays valid until a request writes to a scoped table.
    snapshots: dict[str, dict[str, str]] = {}
    codes = marked_region_codes()
    identifiers = personal_identifiers()
    for route in result.routes:
        if route.public and route.regex is None:
            paths = public_paths(route, index, codes)
        else:
            path = fill(route, outside, index)
            if path is None:
                result.unresolved.append(f"{route.kind} {route.template}: cannot build a path")
                continue
            paths = [path]
        record_params = [p for p in route.params if not (route.public and p in REGION_CODE_PARAMS)]
        if record_params and route_model(route, index) is None and not route.name.startswith("admin:"):
            result.unresolved.append(f"{route.kind} {route.template}: model unknown, tried id {MISSING_ID}")
        for path in paths:
            for caller_name, user in callers.items():
                client = clients[caller_name]
                for method in route.methods:
                    _ensure_login(client, user)
                    # Snapshot what the caller cannot see before a write that can reach a view
                    # (Django admin turns away every non-superuser at its login check).
                    is_write = method in WRITE_METHODS
                    before = None
                    if is_write and _may_reach_view(route, user):
                        if caller_name not in snapshots:
                            snapshots[caller_name] = hidden_snapshot(user)
                        before = snapshots[caller_name]
                    connection.queries_log.clear()  # the log is a bounded deque: count from empty
                    with CaptureQueriesContext(connection) as executed:
                        if route.kind == "api":
                            kwargs: dict[str, Any] = {"content_type": "application/json"} if method != "get" else {}
                            data: Any = body if method != "get" else None
                            response = (
                                getattr(client, method)(path, data, **kwargs)
                                if data is not None
                                else getattr(client, method)(path)
                            )
                        else:
                            response = getattr(client, method)(path, body if method == "post" else None)
                    # A request that filled the whole log may have written earlier than what it kept.
                    overflowed = len(connection.queries_log) == connection.queries_log.maxlen
                    wrote = overflowed or _wrote_to(executed.captured_queries, scoped_tables)
                    if wrote:
                        snapshots.clear()
                    result.requests += 1
                    where = f"{method.upper()} {path} ({route.name}) as {caller_name}"
                    if response.status_code >= 500:
                        result.violations.append(f"{where}: HTTP {response.status_code}")
                    content = getattr(response, "content", b"") if not getattr(response, "streaming", False) else b""
                    if route.public:
                        # Open to anyone: county B's records are fine, private data never.
                        result.violations.extend(f"{where}: {v}" for v in _private_data_in(content, identifiers))
                    elif OUTSIDE_MARKER.encode() in content:
                        result.violations.append(f"{where}: out-of-scope record in the response")
                    if (
                        not route.public
                        and method == "get"
                        and route.params
                        and 200 <= response.status_code < 300
                        and _addresses_data(route, index)
                    ):
                        result.violations.append(f"{where}: out-of-scope id answered {response.status_code}")
                    if is_write and _view_may_have_run(response):
                        if before is None:
                            result.violations.append(f"{where}: a view ran where only a login redirect was expected")
                            continue
                        if not wrote:
                            continue  # no statement wrote to a scoped table: nothing can have changed
                        after = hidden_snapshot(user)
                        snapshots[caller_name] = after
                        changed = [label for label in before if before[label] != after.get(label)]
                        if changed:
                            result.violations.append(f"{where}: changed records outside scope: {changed}")
    return result


def _private_data_in(content: bytes, identifiers: set[str]) -> list[str]:
    """What a public page must never carry: a private record of the test world, a phone or ID number."""
    found = []
    if PRIVATE_MARKER.encode() in content:
        found.append("private record in a public response")
    leaked = sorted(value for value in identifiers if value.encode() in content)
    if leaked:
        found.append(f"phone or ID number in a public response: {leaked[:3]}")
    return found


def _wrote_to(queries: list[dict[str, Any]], tables: set[str]) -> bool:
    """Whether any captured statement inserted, updated or deleted rows of one of ``tables``.

    Every statement a request runs goes through Django's cursor (raw SQL included), so a request
    whose statements write none of the scoped tables cannot have changed a scoped row, and the
    snapshots taken before it still hold.
    """
    for query in queries:
        sql = query.get("sql") or ""
        verb = sql.lstrip()[:6].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and any(f'"{table}"' in sql for table in tables):
            return True
    return False


def _may_reach_view(route: Route, user: Any) -> bool:
    if route.name in ("admin:login", "admin:logout"):
        return True
    if user is None:
        return route.kind == "api" or not route.name.startswith("admin:")
    return not (route.name.startswith("admin:") and not user.is_staff)


def _view_may_have_run(response: Any) -> bool:
    """False for answers given before any view code ran: login redirects, 401, 405, 422."""
    if response.status_code in (401, 405, 422):
        return False
    location = response.get("Location", "") if response.status_code in (301, 302) else ""
    return "login" not in location


def _addresses_data(route: Route, index: dict[str, Any]) -> bool:
    """Whether a route's path parameters name records (not e.g. a language code or a page)."""
    if route.name.startswith("admin:") and route.params == ["app_label"]:
        return False
    return (
        any(p in ("pk", "id", "object_id") or p.endswith("_id") for p in route.params)
        or route_model(route, index) is not None
    )
