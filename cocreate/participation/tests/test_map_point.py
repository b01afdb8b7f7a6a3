"""The optional map point of a need: both or neither, in range; the form re-shows what was typed,
the API answers 4xx with a machine-readable reason; the detail page shows the coordinates as text
with a ``geo:`` link (no map service), and the form renders the two boxes and the offline picker."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cocreate.conftest import World
from cocreate.participation.models import Need
from cocreate.participation.tests.test_needs import Community, build_community, raise_need
from cocreate.participation.views_needs import NeedForm

pytestmark = pytest.mark.django_db

FORM = {"title": "河边路灯坏了", "description": "柳林河步道有五盏路灯不亮", "category": "infrastructure"}
BODY = {**FORM}
JS = Path(settings.BASE_DIR) / "cocreate" / "static" / "cocreate" / "js" / "map_point.js"


@pytest.fixture
def c(world: World) -> Community:
    return build_community(world)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_api(client: Client, body: dict[str, Any]) -> Any:
    return client.post("/api/needs", body, content_type="application/json")


# --- The service ------------------------------------------------------------------------------------------


def test_the_service_keeps_a_point_rounded_to_six_decimals(c: Community) -> None:
    need = raise_need(c.raiser, latitude=Decimal("31.28541249"), longitude=Decimal("114.6312085"))
    need.refresh_from_db()
    assert (need.latitude, need.longitude) == (Decimal("31.285412"), Decimal("114.631209"))
    assert raise_need(c.raiser, title="无位置").latitude is None


@pytest.mark.parametrize(
    "point, field",
    [
        ({"latitude": Decimal("30")}, "latitude"),
        ({"longitude": Decimal("114")}, "latitude"),
        ({"latitude": Decimal("90.000001"), "longitude": Decimal("114")}, "latitude"),
        ({"latitude": Decimal("-91"), "longitude": Decimal("114")}, "latitude"),
        ({"latitude": Decimal("30"), "longitude": Decimal("180.5")}, "longitude"),
        ({"latitude": Decimal("30"), "longitude": Decimal("-181")}, "longitude"),
        ({"latitude": Decimal("NaN"), "longitude": Decimal("114")}, "latitude"),
        ({"latitude": Decimal("30"), "longitude": Decimal("Infinity")}, "longitude"),
    ],
)
def test_the_service_refuses_half_a_point_or_one_out_of_range(c: Community, point: dict[str, Any], field: str) -> None:
    before = Need.objects.count()
    with pytest.raises(ValidationError) as exc:
        raise_need(c.raiser, **point)
    assert field in exc.value.message_dict
    assert Need.objects.count() == before


def test_the_edges_of_the_ranges_are_allowed(c: Community) -> None:
    need = raise_need(c.raiser, latitude=Decimal("-90"), longitude=Decimal("180"))
    assert (need.latitude, need.longitude) == (Decimal("-90.000000"), Decimal("180.000000"))


# --- The form ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lat, lng, expected",
    [
        ("", "", (None, None)),
        ("31.285412", "114.631208", (Decimal("31.285412"), Decimal("114.631208"))),
        (" 31.2854125 ", "114.6312", (Decimal("31.285413"), Decimal("114.631200"))),
        ("-33.8688", "151.2093", (Decimal("-33.868800"), Decimal("151.209300"))),
    ],
)
def test_the_form_turns_the_two_boxes_into_latitude_and_longitude(
    lat: str, lng: str, expected: tuple[Any, Any]
) -> None:
    form = NeedForm({**FORM, "point_lat": lat, "point_lng": lng})
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["latitude"], form.cleaned_data["longitude"]) == expected
    assert "point" not in form.cleaned_data


@pytest.mark.parametrize(
    "lat, lng, message",
    [
        ("31.2", "", "请同时填写纬度和经度"),
        ("", "114.6", "请同时填写纬度和经度"),
        ("91", "114.6", "纬度须在 -90 到 90 之间"),
        ("31.2", "-180.1", "经度须在 -180 到 180 之间"),
        ("北纬31", "114.6", "请输入数字"),
        ("NaN", "114.6", "请输入数字"),
        ("31.2", "1e999", "经度须在 -180 到 180 之间"),
    ],
)
def test_the_form_refuses_bad_points_with_the_reason(lat: str, lng: str, message: str) -> None:
    form = NeedForm({**FORM, "point_lat": lat, "point_lng": lng})
    assert not form.is_valid()
    assert message in " ".join(str(e) for e in form.errors["point"])


def test_a_bad_point_on_the_page_reshows_the_input_and_stores_nothing(c: Community) -> None:
    client = client_for(c.raiser)
    response = client.post(reverse("participation:need_create"), {**FORM, "point_lat": "95.5", "point_lng": "114.6"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "纬度须在 -90 到 90 之间" in page
    assert 'value="95.5"' in page and 'value="114.6"' in page and "柳林河步道有五盏路灯不亮" in page
    assert 'aria-invalid="true"' in page
    assert not Need.objects.filter(title=FORM["title"]).exists()


def test_a_point_entered_on_the_page_is_stored_and_shown_with_a_geo_link(c: Community) -> None:
    client = client_for(c.raiser)
    response = client.post(
        reverse("participation:need_create"), {**FORM, "point_lat": "31.285412", "point_lng": "114.631208"}
    )
    assert response.status_code == 302
    need = Need.objects.get(title=FORM["title"])
    assert (need.latitude, need.longitude) == (Decimal("31.285412"), Decimal("114.631208"))
    page = client.get(reverse("participation:need_detail", args=[need.pk])).content.decode()
    assert "31.285412, 114.631208" in page
    assert 'href="geo:31.285412,114.631208?q=31.285412,114.631208"' in page
    # No map service: nothing on the page points at a map site.
    assert "amap" not in page and "map.baidu" not in page and "google" not in page


def test_a_need_without_a_point_shows_no_coordinates(c: Community) -> None:
    client = client_for(c.raiser)
    need = raise_need(c.raiser)
    page = client.get(reverse("participation:need_detail", args=[need.pk])).content.decode()
    assert "geo:" not in page and 'id="need-point"' not in page


def test_the_form_page_renders_both_boxes_and_the_offline_picker(c: Community) -> None:
    page = client_for(c.raiser).get(reverse("participation:need_create")).content.decode()
    assert 'name="point_lat"' in page and 'name="point_lng"' in page
    assert 'inputmode="decimal"' in page
    assert "使用当前位置" in page and "data-cc-geo-locate" in page and "data-cc-geo-clear" in page
    assert "cocreate/js/map_point.js" in page
    assert "<script>" not in page  # the CSP forbids inline scripts
    assert "tile" not in page.lower()


def test_the_home_visit_form_has_the_point_too(c: Community) -> None:
    page = client_for(c.staff()).get(reverse("participation:need_record")).content.decode()
    assert 'name="point_lat"' in page and "使用当前位置" in page


def test_the_picker_script_uses_the_device_location_and_calls_nobody() -> None:
    script = JS.read_text(encoding="utf-8")
    assert "navigator.geolocation.getCurrentPosition" in script and "enableHighAccuracy" in script
    assert "toFixed(6)" in script
    for call in ("fetch(", "XMLHttpRequest", "http://", "https://", "import "):
        assert call not in script


# --- The API -------------------------------------------------------------------------------------------------


def test_the_api_stores_and_returns_the_point(c: Community) -> None:
    client = client_for(c.raiser)
    response = post_api(client, {**BODY, "latitude": 31.285412, "longitude": 114.631208})
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["latitude"], data["longitude"]) == (31.285412, 114.631208)
    none = post_api(client, {**BODY, "title": "无位置"}).json()
    assert (none["latitude"], none["longitude"]) == (None, None)


@pytest.mark.parametrize(
    "point, status, error, field",
    [
        ({"latitude": 30.5}, 400, "invalid", "latitude"),
        ({"longitude": 114.5}, 400, "invalid", "latitude"),
        ({"latitude": 90.5, "longitude": 114.5}, 422, "invalid_request", "latitude"),
        ({"latitude": 30.5, "longitude": -180.5}, 422, "invalid_request", "longitude"),
        ({"latitude": "北纬30", "longitude": 114.5}, 422, "invalid_request", "latitude"),
        ({"latitude": 1e308, "longitude": 114.5}, 422, "invalid_request", "latitude"),
    ],
)
def test_the_api_answers_a_bad_point_with_a_machine_readable_reason(
    c: Community, point: dict[str, Any], status: int, error: str, field: str
) -> None:
    before = Need.objects.count()
    response = post_api(client_for(c.raiser), {**BODY, **point})
    assert response.status_code == status
    data = response.json()
    assert data["error"] == error and field in data["fields"]
    assert Need.objects.count() == before


def test_the_api_refuses_nan_and_infinity_without_a_500(c: Community) -> None:
    client = client_for(c.raiser)
    for raw in ('{"latitude": NaN, "longitude": 114.5', '{"latitude": 30.5, "longitude": Infinity'):
        body = raw + ', "title": "t", "description": "d", "category": "environment"}'
        response = client.post("/api/needs", body, content_type="application/json")
        assert response.status_code in (400, 422), response.content
        assert response.json()["error"] in ("invalid", "invalid_request")
    assert not Need.objects.filter(title="t").exists()
