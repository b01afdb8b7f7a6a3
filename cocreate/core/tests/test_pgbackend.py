"""The PostgreSQL backend's health check: no ``SELECT 1`` on a quiet connection, a new connection
after the server closed the old one (cocreate/core/pgbackend)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connection as default_connection

from cocreate.core.pgbackend.base import socket_is_quiet

connection: Any = default_connection  # django-stubs do not declare the health-check attributes

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's own check"),
]


def _count_is_usable(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = connection.is_usable

    def counted() -> bool:
        calls.append(1)
        return original()

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_the_backend_is_cocreates() -> None:
    assert connection.settings_dict["ENGINE"] == "cocreate.core.pgbackend"
    assert connection.health_check_enabled


@pytest.mark.django_db(transaction=True)
def test_an_idle_quiet_connection_is_kept_without_a_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _backend_pid()
    calls = _count_is_usable(monkeypatch)
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert calls == []
    assert connection.health_check_done
    assert _backend_pid() == pid


@pytest.mark.django_db
def test_a_connection_inside_a_transaction_is_asked_as_django_does(monkeypatch: pytest.MonkeyPatch) -> None:
    _backend_pid()  # the test's transaction is open on the connection
    assert not socket_is_quiet(connection.connection)
    calls = _count_is_usable(monkeypatch)
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert calls == [1]


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _backend_pid()
    params: dict[str, Any] = connection.get_connection_params()
    params = {k: v for k, v in params.items() if k in {"host", "port", "user", "password"}}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while socket_is_quiet(connection.connection) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not socket_is_quiet(connection.connection)
    calls = _count_is_usable(monkeypatch)
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert calls == [1]  # something arrived: Django's own check ran, failed, and closed it
    assert connection.connection is None
    assert _backend_pid() != pid  # the next statement opened a new session
