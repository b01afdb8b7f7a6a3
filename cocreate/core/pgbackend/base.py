"""Django's PostgreSQL backend with a health check that does not cost a statement per request.

``conn_health_checks=True`` makes Django send ``SELECT 1`` before the first query of every
request, so that a worker whose connection the server closed (a restart, an idle timeout, a
killed backend) reconnects instead of failing the request. That is one more round trip on every
page — on a two-core machine about a sixth of a cached page's statements.

A closed connection can be seen without asking the server: when PostgreSQL ends a session it
sends a termination message and closes the socket, so the socket turns readable, while an idle
session's socket has nothing to read (this project does not ``LISTEN``). So the check looks at the
socket first and only sends ``SELECT 1`` when something did arrive, or when the connection is not
idle, broken or closed; Django's own check runs then and decides. A peer that vanished without
closing (a cut cable) is not seen by either check until TCP gives up, as before.
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from psycopg import pq


def socket_is_quiet(connection: object) -> bool:
    """True when the psycopg connection is open, idle and the server has sent nothing since."""
    try:
        if connection.closed or connection.broken:  # type: ignore[attr-defined]
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:  # type: ignore[attr-defined]
            return False
        readable, _, _ = select.select([connection.fileno()], [], [], 0)  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False
    return not readable


class DatabaseWrapper(PostgresWrapper):
    """Django's wrapper; only the per-request health check looks at the socket first."""

    def close_if_health_check_failed(self) -> None:
        state: Any = self  # django-stubs do not declare the health-check attributes
        if (
            self.connection is not None
            and state.health_check_enabled
            and not state.health_check_done
            and not state.pool
            and socket_is_quiet(self.connection)
        ):
            state.health_check_done = True
            return
        super().close_if_health_check_failed()
