"""The two reads every signed-in request makes — its session and its user — without the ORM's
per-query cost.

Building and compiling a one-row ``SELECT`` through the ORM costs ten times what running it costs
(≈0.35 ms against ≈0.03 ms here, ``docs/performance.md``), and every signed-in page, API call and
ballot pays it twice before the view starts. :func:`read_one` compiles the column list and the
database's value converters once per model and database and then runs plain SQL, so the instances
it returns are exactly what ``Model.objects.get`` would have returned (converted values, ``_state``
set, fresh from the database on every call — nothing is cached between requests).

:class:`SessionStore` and :class:`UserBackend` are the session engine and authentication backend of
``settings.py``: Django's own, with only their per-request read going through :func:`read_one`.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connections, models, router
from django.db.models.sql.query import Query
from django.utils import timezone

M = TypeVar("M", bound=models.Model)
_OPERATORS = {"": "=", "gt": ">"}


def _plan(model: type[models.Model], alias: str) -> tuple[str, list[str], Any, Any]:
    """The model's ``SELECT … FROM table``, attribute names, compiler and converters on ``alias``.

    Kept on the connection object: each thread has its own, and the converters are its methods.
    """
    connection = connections[alias]
    plans = connection.__dict__.setdefault("_cocreate_read_plans", {})
    plan = plans.get(model)
    if plan is None:
        meta = model._meta
        fields = meta.concrete_fields
        compiler = Query(model).get_compiler(connection=connection)
        quote = connection.ops.quote_name
        select = f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(meta.db_table)}"  # noqa: S608  # nosec B608
        converters = compiler.get_converters([field.get_col(meta.db_table) for field in fields])
        plan = plans[model] = (select, [field.attname for field in fields], compiler, converters)
    return cast(tuple[str, list[str], Any, Any], plan)


def read_one(model: type[M], where: dict[str, Any], *, alias: str | None = None) -> M | None:
    """The one row of ``model`` whose columns equal ``where`` (``column__gt`` for a lower bound),
    as an instance, or None. Column names are the caller's, never taken from a request."""
    alias = alias or router.db_for_read(model)
    select, attnames, compiler, converters = _plan(model, alias)
    connection = connections[alias]
    quote = connection.ops.quote_name
    conditions, params = [], []
    for key, value in where.items():
        column, _, lookup = key.partition("__")
        field = model._meta.get_field(column)
        if not isinstance(field, models.Field) or lookup not in _OPERATORS:
            raise TypeError(f"{key}: not a column of {model.__name__} with = or __gt")
        conditions.append(f"{quote(field.column)} {_OPERATORS[lookup]} %s")
        params.append(field.get_db_prep_value(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(f"{select} WHERE {' AND '.join(conditions)}", params)
        rows = cursor.fetchmany(2)
    if len(rows) != 1:
        return None
    row = rows[0]
    if converters:
        row = next(iter(compiler.apply_converters([row], converters)))
    return model.from_db(alias, attnames, list(row))


class SessionStore(DbSessionStore):
    """Django's database sessions; loading one is a plain ``SELECT`` instead of an ORM query."""

    def _get_session_from_db(self) -> Session | None:
        session = read_one(self.model, {"session_key": self.session_key, "expire_date__gt": timezone.now()})
        if session is None:
            # As Django's store: an unknown or expired key is dropped, and a new one made on save.
            self._session_key = None
        return cast(Session | None, session)


class UserBackend(ModelBackend):
    """Django's model backend; the user of a signed-in request is read in plain SQL, together with
    the rows of their scope (``access.prime_scope``), in one statement."""

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        try:
            pk = user_model._meta.pk.to_python(user_id)
        except ValidationError:  # a session holding a bad id signs nobody in
            return None
        user, scope_rows = _user_with_scope_rows(user_model, pk, alias=router.db_for_read(user_model))
        if user is None or not self.user_can_authenticate(user):
            return None
        from cocreate.core import access  # the access authority imports the models

        # Nearly every signed-in page asks the user's scope; its rows came with the user's.
        access.prime_scope(user, scope_rows)
        return user


def _user_with_scope_rows(user_model: type[M], pk: Any, *, alias: str) -> tuple[M | None, list[Any]]:
    """The user's row and the scope's rows (``access.scope_rows_of_user_sql``) in one statement."""
    from cocreate.core import access

    connection = connections[alias]
    statements = connection.__dict__.setdefault("_cocreate_user_statements", {})
    sql = statements.get(user_model)
    _select, attnames, compiler, converters = _plan(user_model, alias)
    meta = user_model._meta
    quote = connection.ops.quote_name
    if sql is None:
        columns = ", ".join(f"u.{quote(f.column)}" for f in meta.concrete_fields)
        sql = statements[user_model] = (
            f"SELECT {columns}, s.kind, s.role, s.path, s.unit_id, s.household_id "  # noqa: S608  # nosec B608
            f"FROM {quote(meta.db_table)} u LEFT JOIN ({access.scope_rows_of_user_sql()}) s ON 1 = 1 "
            f"WHERE u.{quote(meta.pk.column)} = %s"
        )
    value = meta.pk.get_db_prep_value(pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, value, value])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    width = len(attnames)
    row = rows[0][:width]
    if converters:
        row = next(iter(compiler.apply_converters([row], converters)))
    user = user_model.from_db(alias, attnames, list(row))
    scope_rows = [r[width:] for r in rows if r[width] is not None]
    return user, scope_rows
