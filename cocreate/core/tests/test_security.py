"""Security basics: headers, login records, lockout, session expiry, CSRF, password rules."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from cocreate.conftest import PASSWORD, World
from cocreate.core import services
from cocreate.core.models import AuthEvent, AuthEventKind, Person, Role

pytestmark = pytest.mark.django_db


def _login(client: Client, phone: str, password: str):
    return client.post(reverse("core:login"), {"username": phone, "password": password})


def test_security_headers_on_pages(world: World) -> None:
    client = Client()
    response = client.get(reverse("core:login"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_SSL_REDIRECT=False)
def test_hsts_when_https(world: World) -> None:
    response = Client().get(reverse("core:login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_no_inline_scripts_in_base_layout(world: World) -> None:
    client = Client()
    client.force_login(world.user(Role.VILLAGE_STAFF))
    html = client.get(reverse("core:home")).content.decode()
    import re

    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, f"inline script: {tag}"
    assert " onclick=" not in html and " onload=" not in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_login_logout_and_failures_are_recorded(world: World) -> None:
    user = world.user(Role.VILLAGE_STAFF)
    client = Client()
    assert _login(client, user.phone, "wrong-password").status_code == 200
    assert AuthEvent.objects.filter(kind=AuthEventKind.LOGIN_FAILED, username=user.phone).count() == 1
    response = _login(client, user.phone, PASSWORD)
    assert response.status_code == 302
    assert AuthEvent.objects.filter(kind=AuthEventKind.LOGIN, user=user).exists()
    client.post(reverse("core:logout"))
    assert AuthEvent.objects.filter(kind=AuthEventKind.LOGOUT, user=user).exists()


def test_failed_login_shows_chinese_error_and_keeps_phone(world: World) -> None:
    user = world.user(Role.RESIDENT)
    response = _login(Client(), user.phone, "wrong-password")
    body = response.content.decode()
    assert "手机号或密码不正确" in body
    assert f'value="{user.phone}"' in body


@override_settings(AXES_FAILURE_LIMIT=5)
def test_lockout_after_five_failures(world: World) -> None:
    user = world.user(Role.RESIDENT)
    client = Client()
    for _ in range(5):
        _login(client, user.phone, "wrong-password")
    # Even the right password is refused while the account is locked.
    response = _login(client, user.phone, PASSWORD)
    assert response.status_code == 429
    assert "锁定" in response.content.decode()
    # Another account is not affected by this one's lockout.
    other = world.user(Role.VILLAGE_STAFF)
    assert _login(Client(), other.phone, PASSWORD).status_code == 302


def test_session_expiry_is_configurable(world: World, settings) -> None:
    settings.SESSION_COOKIE_AGE = 600
    client = Client()
    client.force_login(world.user(Role.RESIDENT))
    client.get(reverse("core:home"))
    assert client.session.get_expiry_age() == 600


def test_idle_timeout_refreshes_at_most_once_a_minute(world: World, settings, monkeypatch) -> None:
    """A signed-in session's expiry moves with use, but its row is written at most once a minute."""
    import time

    from django.contrib.sessions.models import Session

    from cocreate.core import middleware

    settings.SESSION_COOKIE_AGE = 600
    settings.SESSION_REFRESH_SECONDS = 60
    clock = [1_900_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    client = Client()
    client.force_login(world.user(Role.RESIDENT))
    client.get(reverse("core:home"))
    key = client.session.session_key
    first = Session.objects.get(session_key=key).expire_date
    seen = client.session[middleware.SEEN_KEY]
    clock[0] += 30
    client.get(reverse("core:home"))
    assert client.session[middleware.SEEN_KEY] == seen  # not written again within the minute
    assert Session.objects.get(session_key=key).expire_date == first
    clock[0] += 31
    client.get(reverse("core:home"))
    assert client.session[middleware.SEEN_KEY] == seen + 61
    assert Session.objects.get(session_key=key).expire_date >= first


def test_pages_require_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    user = world.user(Role.RESIDENT)
    assert _login(client, user.phone, PASSWORD).status_code == 403
    client.force_login(user)
    assert client.post(reverse("core:text_size"), {"large": "1"}).status_code == 403


def test_password_rules_apply_to_new_accounts(world: World) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    person = Person.objects.create(name="新村民", region=world.regions["village_a"])
    with pytest.raises(ValidationError) as err:
        services.account_create(actor=staff, person=person, phone="13612345678", password="12345678")
    assert "password" in err.value.message_dict
    user = services.account_create(actor=staff, person=person, phone="13612345678", password="Gongtong-Dizao-2026")
    assert user.check_password("Gongtong-Dizao-2026")


def test_api_docs_scripts_are_local_and_not_inline(world: World) -> None:
    client = Client()
    client.force_login(world.user(Role.ADMIN))
    response = client.get("/api/docs")
    assert response.status_code == 200
    script_src = next(p for p in response["Content-Security-Policy"].split(";") if "script-src" in p)
    assert "'unsafe-inline'" not in script_src
