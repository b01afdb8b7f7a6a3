"""Fuzzing the API with schemathesis (issue 6, item 1): every operation of /api/openapi.json with
generated input, as several roles: never a 5xx, and every response as the schema documents it."""

from __future__ import annotations

import itertools
import json
import os
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from cocreate.conftest import World
from cocreate.core.models import Role

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("COCREATE_FUZZ_EXAMPLES", "3"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def _session(world: World, role: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Cookies and headers of a browser session of ``role`` (None: anonymous) with a CSRF token."""
    csrf = secrets.token_hex(16)
    cookies = {"csrftoken": csrf}
    if role is not None:
        client = Client()
        client.force_login(world.user(role))
        cookies["sessionid"] = client.cookies["sessionid"].value
    return cookies, {"X-CSRFToken": csrf}


def _has_input(operation: Any) -> bool:
    return bool(len(operation.path_parameters) or len(operation.query) or len(operation.body))


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """schemathesis calls the WSGI handler itself, whose request signals close "old" connections:
    after CONN_MAX_AGE that is the test's own (PostgreSQL), in the middle of its transaction.
    Django's test client disconnects the same handlers for the same reason."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("keep_test_connection")
def test_the_api_answers_generated_input_without_5xx_and_as_documented(world: World, capsys: Any) -> None:
    from cocreate.api import api

    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema(), default=str)))
    schema.app = WSGIHandler()
    callers = {role: _session(world, role) for role in (None, Role.RESIDENT, Role.VILLAGE_STAFF, Role.TOWN_STAFF)}
    failures: list[str] = []
    calls: Counter[str] = Counter()
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document has an invalid operation: {result}"
        operations.append(result.ok())
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation in operations:
        for (label, (cookies, headers)), mode in itertools.product(callers.items(), modes):
            # Invalid input (negative mode) must be refused with a 4xx; valid input answered as documented.
            wanted = CHECKS if mode == GenerationMode.POSITIVE else [checks.not_a_server_error]
            if mode == GenerationMode.NEGATIVE and not _has_input(operation):
                continue  # nothing to make invalid

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                response = case.call(headers=headers, cookies=cookies)
                calls[str(response.status_code)] += 1
                try:
                    case.validate_response(response, checks=wanted)
                except (Exception, BaseExceptionGroup) as exc:  # collected and reported below
                    failures.append(f"{label} {mode.value} {operation.label}: {response.status_code} {str(exc)[:300]}")

            try:
                run()
            except Unsatisfiable:
                if mode == GenerationMode.POSITIVE:
                    raise
    with capsys.disabled():
        print(
            f"\napi fuzz: {len(operations)} operations × {len(callers)} callers × {len(modes)} modes, "
            f"{sum(calls.values())} calls, by status {dict(sorted(calls.items()))}"
        )
    assert not failures, "\n".join(sorted(set(failures))[:60])


def test_no_two_api_schemas_share_a_name() -> None:
    """The OpenAPI document keys schemas by class name: two classes of one name (core's ``UnitOut``
    and the estates' property ``UnitOut`` once) silently become one, and the document then
    describes one of the two operations with the other's schema. Found by the fuzzer."""
    from ninja import Schema

    from cocreate.api import api

    api.get_openapi_schema()  # imports every router's schemas
    seen: dict[str, set[str]] = {}
    pending = list(Schema.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("cocreate.") and ".tests." not in cls.__module__:
            seen.setdefault(cls.__name__, set()).add(cls.__module__)
    shared = {name: sorted(modules) for name, modules in seen.items() if len(modules) > 1}
    assert not shared, shared
