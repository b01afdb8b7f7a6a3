"""A helper for concurrency tests: run the same work in threads released at one moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def race(n: int, work: Callable[[int], Any], *, timeout: float = 60) -> list[Any]:
    """Runs ``work(i)`` in ``n`` threads released together; returns each result or exception.

    Each thread has its own database connection (Django's are per thread), so on PostgreSQL the
    calls really overlap; the connections are closed when a thread ends.
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # returned to the test, which asserts on it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
