"""Security sweeps over every route (issue 6, item 4): CSRF on every form and API write, the
security headers on every kind of response, and ``check --deploy`` clean with production settings.

The routes come from the same walk as the route × role matrix (``route_matrix.page_routes`` /
``api_routes``), so a new page or API operation is covered without touching this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client

from cocreate.conftest import World
from cocreate.core.models import Role
from cocreate.core.tests import route_matrix

pytestmark = pytest.mark.django_db

# API writes that carry no session authority: the public router (auth=None) answers anyone and
# acts only on what the body proves (a tracking code together with the applicant's phone), so a
# forged cross-site request gains nothing a stranger could not do directly.
CSRF_FREE_API = {"/api/public/cases/track", "/api/public/cases/rate"}


def _filled(route: route_matrix.Route) -> str | None:
    """The route's path with every id set to one that does not exist (CSRF is checked first)."""
    return route_matrix.fill(route, {}, route_matrix._model_index())


def test_every_form_route_refuses_a_post_without_the_csrf_token(world: World, capsys: pytest.CaptureFixture[str]):
    routes = route_matrix.page_routes()
    assert len(routes) > 100
    callers = {"anonymous": None, "staff": world.user(Role.VILLAGE_STAFF), "admin": world.user(Role.ADMIN)}
    refused, unsafe = 0, []
    for label, user in callers.items():
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        for route in routes:
            path = _filled(route)
            if path is None:
                continue
            response = client.post(path, {"title": "x", "note": "x"})
            if response.status_code == 403:
                refused += 1
            else:
                unsafe.append(f"{label} POST {path} ({route.name}) → {response.status_code}")
    with capsys.disabled():
        print(f"\ncsrf sweep: {len(routes)} page routes × {len(callers)} callers, {refused} refused")
    assert not unsafe, "\n".join(unsafe[:40])


def test_every_api_write_with_a_session_refuses_a_request_without_the_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user(Role.VILLAGE_STAFF))
    checked, unsafe = 0, []
    for route in route_matrix.api_routes():
        path = _filled(route)
        if path is None or path in CSRF_FREE_API:
            continue
        for method in route.methods:
            if method not in route_matrix.WRITE_METHODS:
                continue
            checked += 1
            response = getattr(client, method)(path, data="{}", content_type="application/json")
            if response.status_code != 403 or response.json().get("error") != "csrf_failed":
                unsafe.append(f"{method.upper()} {path} → {response.status_code} {response.content[:120]!r}")
    assert checked > 30
    assert not unsafe, "\n".join(unsafe[:40])


def test_the_csrf_free_api_writes_are_the_public_ones(world: World) -> None:
    public_writes = {
        route.template
        for route in route_matrix.api_routes()
        if route.public and any(m in route_matrix.WRITE_METHODS for m in route.methods)
    }
    assert public_writes == CSRF_FREE_API


@pytest.mark.parametrize(
    "path,user",
    [
        ("/", None),  # public front page
        ("/cases/track/", None),  # a public form
        ("/core/login/", None),
        ("/api/openapi.json", None),  # JSON
        ("/api/households", "staff"),  # JSON with a session
        ("/no-such-page/", None),  # 404
        ("/cases/", "staff"),  # a staff page
    ],
)
def test_security_headers_on_every_kind_of_response(world: World, path: str, user: str | None) -> None:
    client = Client()
    if user:
        client.force_login(world.user(Role.VILLAGE_STAFF))
    response = client.get(path)
    assert response.status_code < 500
    csp = response["Content-Security-Policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith(("script-src", "default-src")))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp or "sandbox" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' Playwright in this process.
        if key
        not in (
            "DATABASE_URL",
            "DEBUG",
            "COCREATE_TESTING",
            "HSTS_PRELOAD",
            "SECURE_SSL_REDIRECT",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    env.update(
        DJANGO_SETTINGS_MODULE="cocreate.settings",
        DEBUG="0",
        COCREATE_TESTING="0",
        HTTPS="1",
        SECRET_KEY=Fernet.generate_key().decode() * 2,
        ALLOWED_HOSTS="gov.example.cn",
        CSRF_TRUSTED_ORIGINS="https://gov.example.cn",
        SITE_URL="https://gov.example.cn",
        COCREATE_DATA_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        COCREATE_VAR_DIR=str(tmp_path),
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
