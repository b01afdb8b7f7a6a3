"""The limit on failed tracking lookups (tracking.find_limited): per client IP and per tracking code,
on the page and the public API (track and rate); a success does not count; 429 with a code."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from cocreate.cases import tracking
from cocreate.cases.models import Case, Rating
from cocreate.conftest import World

pytestmark = pytest.mark.django_db

CODE, PHONE = "WORLDA2345", "13700000000"  # the world's case in 甲村 and its applicant's phone
TRACK_API = "/api/public/cases/track"
RATE_API = "/api/public/cases/rate"


def _page(client: Client, code: str, phone: str, ip: str = "10.0.0.1") -> Any:
    return client.post(reverse("cases:case_track"), {"code": code, "phone": phone}, REMOTE_ADDR=ip)


def _api(client: Client, url: str, body: dict[str, Any], ip: str = "10.0.0.1") -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", REMOTE_ADDR=ip)


@override_settings(CASES_TRACK_FAILURES_PER_IP=3, CASES_TRACK_FAILURES_PER_CODE=100)
def test_page_refuses_an_ip_after_its_failed_lookups(world: World) -> None:
    client = Client()
    for i in range(3):
        assert _page(client, f"ABCDEFGH{i}2", PHONE).status_code == 400
    refused = _page(client, CODE, PHONE)  # even the right code and phone: no lookup is made
    assert refused.status_code == 429
    text = refused.content.decode()
    assert "查询失败次数过多" in text and "分钟后再试" in text and 'id="tracked"' not in text
    # Another address is not affected.
    assert _page(client, CODE, PHONE, ip="10.0.0.2").status_code == 200


@override_settings(CASES_TRACK_FAILURES_PER_IP=100, CASES_TRACK_FAILURES_PER_CODE=2)
def test_a_code_is_refused_after_its_failed_lookups_from_any_address(world: World) -> None:
    client = Client()
    assert _page(client, CODE, "13900000000", ip="10.0.0.1").status_code == 400
    assert _page(client, CODE.lower(), "13900000001", ip="10.0.0.2").status_code == 400  # the same code
    assert _page(client, CODE, PHONE, ip="10.0.0.3").status_code == 429
    outside = world.extra["cases"]["outside_case"]
    assert _page(client, outside.tracking_code, "13900000003", ip="10.0.0.1").status_code == 200


@override_settings(CASES_TRACK_FAILURES_PER_IP=2, CASES_TRACK_FAILURES_PER_CODE=100)
def test_a_successful_lookup_does_not_count(world: World) -> None:
    client = Client()
    assert _page(client, "ABCDEFGH22", PHONE).status_code == 400
    for _i in range(5):
        assert _page(client, CODE, PHONE).status_code == 200
    assert _api(client, TRACK_API, {"code": CODE, "phone": PHONE}).status_code == 200
    assert _page(client, "ABCDEFGH23", PHONE).status_code == 400
    assert _page(client, CODE, PHONE).status_code == 429


@override_settings(CASES_TRACK_FAILURES_PER_IP=2, CASES_TRACK_FAILURES_PER_CODE=100)
def test_api_answers_429_with_a_machine_readable_code(world: World) -> None:
    client = Client()
    for code in ("ABCDEFGH22", "ABCDEFGH23"):
        assert _api(client, TRACK_API, {"code": code, "phone": PHONE}).status_code == 404
    refused = _api(client, TRACK_API, {"code": CODE, "phone": PHONE})
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "track_rate_limited" and "查询失败次数过多" in body["detail"]
    assert 0 < body["retry_after"] <= 600 and refused["Retry-After"] == str(body["retry_after"])
    # The page and the API count together, per address.
    assert _page(client, CODE, PHONE).status_code == 429


@override_settings(CASES_TRACK_FAILURES_PER_IP=1, CASES_TRACK_FAILURES_PER_CODE=100)
def test_rating_by_code_and_phone_is_limited_too_and_changes_nothing(world: World) -> None:
    client = Client()
    case: Case = world.extra["cases"]["case"]
    Case.objects.filter(pk=case.pk).update(status="replied")
    rating = {"resolved": True, "satisfaction": "satisfied", "efficiency": "satisfied", "leader_rating": "satisfied"}
    assert _api(client, RATE_API, {**rating, "code": CODE, "phone": "13900000000"}).status_code == 404
    ratings = Rating.objects.count()
    refused = _api(client, RATE_API, {**rating, "code": CODE, "phone": PHONE})
    assert refused.status_code == 429 and refused.json()["error"] == "track_rate_limited"
    page = client.post(
        reverse("cases:case_track_rate"),
        {**rating, "resolved": "1", "code": CODE, "phone": PHONE},
        REMOTE_ADDR="10.0.0.1",
    )
    assert page.status_code == 429 and "查询失败次数过多" in page.content.decode()
    assert Rating.objects.count() == ratings
    assert Case.objects.get(pk=case.pk).status == "replied"


@override_settings(CASES_TRACK_FAILURES_PER_IP=1, CASES_TRACK_FAILURES_PER_CODE=1, CASES_TRACK_IP_WINDOW=600)
def test_the_window_ends(world: World) -> None:
    client = Client()
    start = 1_800_000_000.0  # a window boundary for 600 s and 3600 s
    with mock.patch("cocreate.cases.tracking.time.time", return_value=start):
        assert _page(client, CODE, "13900000000").status_code == 400
        assert _page(client, CODE, PHONE).status_code == 429
    with mock.patch("cocreate.cases.tracking.time.time", return_value=start + 601):
        # The address may try again; the code's hour is not over.
        assert _page(client, CODE, PHONE).status_code == 429
        assert _page(client, "ABCDEFGH22", PHONE).status_code == 400
    with mock.patch("cocreate.cases.tracking.time.time", return_value=start + 3601):
        assert _page(client, CODE, PHONE).status_code == 200


@override_settings(CASES_TRACK_FAILURES_PER_IP=0, CASES_TRACK_FAILURES_PER_CODE=0)
def test_zero_switches_the_limits_off(world: World) -> None:
    client = Client()
    for _i in range(8):
        assert _page(client, CODE, "13900000000").status_code == 400
    assert _page(client, CODE, PHONE).status_code == 200


def test_client_ip_behind_a_trusted_proxy() -> None:
    meta = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.9"}
    assert tracking.client_ip(meta) == "127.0.0.1"  # no proxy configured: the header is not trusted
    with override_settings(TRUSTED_PROXY_COUNT=1):
        # nginx appends the address it saw; what the client wrote before it is ignored.
        assert tracking.client_ip(meta) == "203.0.113.9"
        assert tracking.client_ip({"REMOTE_ADDR": "127.0.0.1"}) == "127.0.0.1"
