"""Route × role matrix over every URL pattern and API operation (see route_matrix.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings

from cocreate.conftest import OUTSIDE_MARKER, World
from cocreate.core import access
from cocreate.core.models import ApiToken, Attachment, Household, Notification, Role
from cocreate.core.tests import route_matrix

pytestmark = pytest.mark.django_db


def _complete_world(world: World) -> dict[str, Any]:
    """Adds out-of-scope rows for the models the base world lacks, and returns the callers."""
    outside_user = world.users["outside_staff"]
    household = world.households["outside"]
    Attachment.objects.create(
        content_type=ContentType.objects.get_for_model(Household),
        object_id=str(household.pk),
        region=household.region,
        file="evidence/zz/outside.jpg",
        original_name=f"{OUTSIDE_MARKER}.jpg",
        extension=".jpg",
        mime_type="image/jpeg",
        size=10,
        sha256="0" * 64,
        uploaded_by=outside_user,
    )
    Notification.objects.create(user=outside_user, title=f"{OUTSIDE_MARKER}通知")
    ApiToken.objects.create(user=outside_user, name=f"{OUTSIDE_MARKER}令牌", prefix="zz", token_hash="f" * 64)
    callers: dict[str, Any] = {"anonymous": None}
    callers.update({role: world.user(role) for role in Role})
    return callers


def test_every_route_with_every_role_stays_in_scope(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    callers = _complete_world(world)
    outside = route_matrix.outside_objects([u for u in callers.values() if u is not None])
    # Reference data without a region (access.GLOBAL_MODELS) has no row outside a staff scope.
    missing = [m._meta.label for m in access.registered_models() if m not in outside and m not in access.GLOBAL_MODELS]
    assert not missing, f"the test world has no out-of-scope row for {missing}; add one to build_world()"

    result = route_matrix.run_matrix(callers)

    with capsys.disabled():
        pages = sum(r.kind == "page" for r in result.routes)
        print(
            f"\nroute matrix: {len(result.routes)} routes ({pages} pages, {len(result.routes) - pages} API), "
            f"{len(callers)} callers, {result.requests} requests"
        )
        for line in result.unresolved:
            print(f"  unresolved: {line}")
    assert len(result.routes) > 10
    assert not result.violations, "\n".join(result.violations[:50])


def test_matrix_catches_unscoped_views(world: World) -> None:
    callers = {"anonymous": None, Role.VILLAGE_STAFF: world.user(Role.VILLAGE_STAFF)}
    with override_settings(ROOT_URLCONF="cocreate.core.tests.unscoped_urls"):
        result = route_matrix.run_matrix(callers, urlconf="cocreate.core.tests.unscoped_urls")
    leaks = [v for v in result.violations if "leaky" in v]
    assert leaks, "the matrix did not notice a list view that ignores visible_to()"
    assert any("out-of-scope record" in v for v in leaks)
    public_leaks = [v for v in result.violations if "public_notice_leaky_list" in v]
    assert any("private record in a public response" in v for v in public_leaks), (
        "the matrix did not notice a public page that shows a draft"
    )
    # The leaky public page shows county B's published notices too: that alone is no violation.
    assert not any("out-of-scope" in v for v in public_leaks)
    writes = [v for v in result.violations if "household_leaky_rename" in v]
    assert any("changed records outside scope" in v for v in writes), (
        "the matrix did not notice a write that changes a row outside the caller's scope"
    )
