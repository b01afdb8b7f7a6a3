"""The session and user reads of every signed-in request (core/hotpath.py) answer exactly as
Django's own store and backend do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cocreate.conftest import World, _region
from cocreate.core import access
from cocreate.core.hotpath import SessionStore, UserBackend, read_one
from cocreate.core.models import Membership, Region, RegionLevel, Role, User

pytestmark = pytest.mark.django_db


def _fields(obj: object) -> dict[str, object]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}  # type: ignore[attr-defined]


def test_read_one_gives_what_the_orm_gives(world: World) -> None:
    user = world.user(Role.VILLAGE_STAFF)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now(), large_text=True)
    orm, raw = User.objects.get(pk=user.pk), read_one(User, {"id": user.pk})
    assert raw is not None and not raw._state.adding and raw._state.db == "default"
    assert _fields(raw) == _fields(orm)
    assert isinstance(raw.last_login, type(orm.last_login)) and raw.large_text is True
    region = world.regions["village_a"]
    assert _fields(read_one(Region, {"id": region.pk})) == _fields(Region.objects.get(pk=region.pk))
    assert read_one(Region, {"id": 999_999}) is None
    with pytest.raises(TypeError):
        read_one(Region, {"children": 1})
    with pytest.raises(TypeError):
        read_one(Region, {"id__lt": 1})


def test_sessions_load_as_djangos_store_loads_them(world: World) -> None:
    store = SessionStore()
    store["k"] = "值"
    store.create()
    key = store.session_key
    assert SessionStore(key).load() == DjangoStore(key).load() == {"k": "值"}
    # One plain statement.
    with CaptureQueriesContext(connection) as queries:
        SessionStore(key).load()
    assert len(queries) == 1
    # Expired and unknown keys: nothing, and the key is dropped (a new one is made on save).
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None
    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None


def test_the_backend_signs_in_whom_djangos_would(world: World) -> None:
    user = world.user(Role.VILLAGE_STAFF)
    backend = UserBackend()
    assert _fields(backend.get_user(user.pk)) == _fields(ModelBackend().get_user(user.pk))
    assert backend.get_user(str(user.pk)).pk == user.pk
    assert backend.get_user("not a number") is None
    assert backend.get_user(999_999) is None
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert backend.get_user(user.pk) is None is ModelBackend().get_user(user.pk)


def test_a_signed_in_request_reads_session_and_user_in_plain_sql(client: Client, world: World) -> None:
    user = world.user(Role.VILLAGE_STAFF)
    client.force_login(user)
    response = client.get(reverse("core:home"))
    assert response.status_code == 200 and response.wsgi_request.user == user
    # A changed password ends the other sessions, as with Django's backend.
    user.set_password("another-Passw0rd")
    user.save()
    response = client.get(reverse("core:home"))
    assert not response.wsgi_request.user.is_authenticated


def _scope_as_computed(user_id: int) -> access.Scope:
    fresh = User.objects.get(pk=user_id)
    return access.scope_of(fresh)  # no scope on a fresh object: computed by its own statement


def test_the_backend_reads_the_scope_with_the_user(world: World) -> None:
    # Every kind of account: staff with several memberships, a resident with a household, a
    # superuser without a person, an account with an inactive membership and one in an inactive region.
    village_staff = world.user(Role.VILLAGE_STAFF)
    Membership.objects.create(user=village_staff, role=Role.GRID_WORKER, region=world.regions["village_a"])
    Membership.objects.create(user=village_staff, role=Role.TOWN_STAFF, region=world.regions["town_a"], is_active=False)
    resident = world.user(Role.RESIDENT)
    closed = _region("990101001099", "撤并村", RegionLevel.VILLAGE, world.regions["town_a"])
    Membership.objects.create(user=resident, role=Role.VILLAGE_STAFF, region=closed)
    Region.objects.filter(pk=closed.pk).update(is_active=False)
    accounts = [village_staff, resident, world.users["superuser"], world.user(Role.TOWN_STAFF)]
    for account in accounts:
        with CaptureQueriesContext(connection) as queries:
            user = UserBackend().get_user(account.pk)
            primed = access.scope_of(user)
        assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]
        assert primed == _scope_as_computed(account.pk), account
    assert access.scope_of(UserBackend().get_user(village_staff.pk)).paths_for({Role.GRID_WORKER})
    assert not access.scope_of(UserBackend().get_user(village_staff.pk)).paths_for({Role.TOWN_STAFF})
    assert access.scope_of(UserBackend().get_user(resident.pk)).household_id is not None
    assert not access.scope_of(UserBackend().get_user(resident.pk)).staff_paths
