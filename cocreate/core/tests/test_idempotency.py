"""Idempotency keys on the write API through HTTP: replay, reuse, scope per user, errors, races."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from cocreate.conftest import World
from cocreate.core import idempotency, tokens
from cocreate.core.models import ApiToken, IdempotencyKey, Role, User
from cocreate.core.tests.concurrency import race

BACKEND = "cocreate.core.hotpath.UserBackend"


def login(user: User) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def post(client: Client, url: str, body: Any, key: str | None = None, **headers: str) -> Any:
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def patch(raw_token: str, url: str, key: str) -> Any:
    return Client().patch(
        url,
        data=json.dumps({"address": "慢请求"}),
        content_type="application/json",
        headers={"Idempotency-Key": key, "Authorization": f"Bearer {raw_token}"},
    )


@pytest.mark.django_db
class TestIdempotency:
    def test_retry_with_the_same_key_replays_the_answer_and_writes_nothing(self, world: World) -> None:
        user = world.user(Role.RESIDENT)
        client = login(user)
        first = post(client, "/api/tokens", {"name": "脚本"}, key="k-1")
        assert first.status_code == 201, first.content
        assert "Idempotent-Replayed" not in first
        again = post(client, "/api/tokens", {"name": "脚本"}, key="k-1")
        assert again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert again.content == first.content
        assert again["Content-Type"] == first["Content-Type"]
        assert ApiToken.objects.filter(user=user).count() == 1
        assert IdempotencyKey.objects.filter(user=user, key="k-1").count() == 1

    def test_stored_answer_is_encrypted_at_rest(self, world: World) -> None:
        client = login(world.user(Role.RESIDENT))
        raw_token = post(client, "/api/tokens", {"name": "脚本"}, key="secret-answer").json()["token"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT response_body FROM core_idempotencykey")
            (stored,) = cursor.fetchone()
        assert raw_token not in stored and "token" not in stored

    def test_same_key_with_another_body_or_path_is_422_and_changes_nothing(self, world: World) -> None:
        user = world.user(Role.RESIDENT)
        client = login(user)
        assert post(client, "/api/tokens", {"name": "一"}, key="k-2").status_code == 201
        reused = post(client, "/api/tokens", {"name": "二"}, key="k-2")
        assert reused.status_code == 422
        assert reused.json()["error"] == "idempotency_key_reused"
        other_path = client.patch(
            f"/api/households/{world.households['a'].pk}",
            data=json.dumps({"address": "x"}),
            content_type="application/json",
            headers={"Idempotency-Key": "k-2"},
        )
        assert other_path.status_code == 422
        assert list(ApiToken.objects.filter(user=user).values_list("name", flat=True)) == ["一"]

    def test_another_users_identical_key_is_independent(self, world: World) -> None:
        one, two = world.user(Role.RESIDENT), world.user(Role.VILLAGE_STAFF)
        assert post(login(one), "/api/tokens", {"name": "同名"}, key="shared").status_code == 201
        second = post(login(two), "/api/tokens", {"name": "同名"}, key="shared")
        assert second.status_code == 201 and "Idempotent-Replayed" not in second
        assert ApiToken.objects.filter(user=two).count() == 1

    def test_token_and_session_of_one_user_share_keys(self, world: World) -> None:
        user = world.user(Role.VILLAGE_STAFF)
        _, raw = tokens.token_create(actor=user, user=user, name="集成")
        url = f"/api/households/{world.households['a'].pk}"
        body = json.dumps({"address": "改一次"})
        headers = {"Idempotency-Key": "k-3"}
        versions = world.households["a"].history.count()
        first = Client().patch(
            url, data=body, content_type="application/json", headers={**headers, "Authorization": f"Bearer {raw}"}
        )
        assert first.status_code == 200, first.content
        again = login(user).patch(url, data=body, content_type="application/json", headers=headers)
        assert again["Idempotent-Replayed"] == "true" and again.content == first.content
        assert world.households["a"].history.count() == versions + 1

    def test_a_failed_request_is_not_stored_and_may_be_retried_with_the_key(self, world: World) -> None:
        user = world.user(Role.RESIDENT)
        client = login(user)
        bad = post(client, "/api/tokens", {"name": ""}, key="k-4")
        assert bad.status_code == 422
        assert not IdempotencyKey.objects.filter(key="k-4").exists()
        fixed = post(client, "/api/tokens", {"name": "改好了"}, key="k-4")
        assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed
        assert ApiToken.objects.filter(user=user).count() == 1

    def test_a_crash_before_commit_leaves_neither_the_record_nor_the_key(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        user = world.user(Role.RESIDENT)
        client = login(user)
        client.raise_request_exception = False
        real_save = IdempotencyKey.save

        def crash_on_answer(self: IdempotencyKey, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("update_fields"):
                raise RuntimeError("worker died before commit")
            real_save(self, *args, **kwargs)

        monkeypatch.setattr(IdempotencyKey, "save", crash_on_answer)
        assert post(client, "/api/tokens", {"name": "崩溃"}, key="k-5").status_code == 500
        assert not ApiToken.objects.filter(user=user).exists()
        assert not IdempotencyKey.objects.exists()
        monkeypatch.setattr(IdempotencyKey, "save", real_save)
        retry = post(client, "/api/tokens", {"name": "崩溃"}, key="k-5")
        assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
        assert ApiToken.objects.filter(user=user).count() == 1

    def _call(self, user: User, view: Any) -> Any:
        request = RequestFactory().post(
            "/api/anything", data="{}", content_type="application/json", headers={"Idempotency-Key": "direct"}
        )
        request.user = user
        return idempotency.IdempotencyMiddleware(view)(request)

    def test_an_error_answer_undoes_what_the_request_wrote(self, world: World) -> None:
        user = world.user(Role.RESIDENT)

        def view(request: Any) -> HttpResponse:
            ApiToken.objects.create(user=user, name="半截", prefix="cc_x", token_hash="a" * 64)
            return HttpResponse(status=400)

        assert self._call(user, view).status_code == 400
        assert not ApiToken.objects.filter(name="半截").exists() and not IdempotencyKey.objects.exists()

    def test_a_streamed_answer_keeps_the_write_but_not_the_key(self, world: World) -> None:
        user = world.user(Role.RESIDENT)

        def view(request: Any) -> StreamingHttpResponse:
            ApiToken.objects.create(user=user, name="文件", prefix="cc_y", token_hash="b" * 64)
            return StreamingHttpResponse(iter([b"file"]))

        assert self._call(user, view).status_code == 200
        assert ApiToken.objects.filter(name="文件").exists() and not IdempotencyKey.objects.exists()

    def test_invalid_key_is_400_and_runs_nothing(self, world: World) -> None:
        user = world.user(Role.RESIDENT)
        for key in ["has space", "x" * 256, "中文"]:
            response = post(login(user), "/api/tokens", {"name": "x"}, key=key)
            assert response.status_code == 400
            assert response.json()["error"] == "idempotency_key_invalid"
        assert not ApiToken.objects.filter(user=user).exists()

    def test_without_key_reads_and_anonymous_calls_are_untouched(self, world: World) -> None:
        user = world.user(Role.RESIDENT)
        client = login(user)
        assert post(client, "/api/tokens", {"name": "a"}).status_code == 201
        assert post(client, "/api/tokens", {"name": "a"}).status_code == 201
        assert client.get("/api/me", headers={"Idempotency-Key": "read"}).status_code == 200
        assert post(Client(), "/api/tokens", {"name": "a"}, key="anon").status_code == 401
        assert not IdempotencyKey.objects.exists()
        assert ApiToken.objects.filter(user=user).count() == 2

    def test_keys_expire_after_a_day_and_are_purged(self, world: World) -> None:
        user = world.user(Role.RESIDENT)
        client = login(user)
        assert post(client, "/api/tokens", {"name": "旧"}, key="k-6").status_code == 201
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
        again = post(client, "/api/tokens", {"name": "旧"}, key="k-6")
        assert again.status_code == 201 and "Idempotent-Replayed" not in again
        assert ApiToken.objects.filter(user=user).count() == 2
        assert IdempotencyKey.objects.count() == 1
        assert idempotency.purge_expired(now=timezone.now() + timedelta(hours=23)) == 0
        assert idempotency.purge_expired(now=timezone.now() + timedelta(hours=25)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_concurrent_duplicates_run_once_and_all_get_the_same_answer(world: World) -> None:
    user = world.user(Role.VILLAGE_STAFF)
    _, raw = tokens.token_create(actor=user, user=user, name="并发")
    household = world.households["a"]
    versions = household.history.count()

    def send(i: int) -> tuple[int, bytes, bool]:
        response = Client().patch(
            f"/api/households/{household.pk}",
            data=json.dumps({"address": "并发改一次"}),
            content_type="application/json",
            headers={"Idempotency-Key": "race", "Authorization": f"Bearer {raw}"},
        )
        return response.status_code, response.content, response.has_header("Idempotent-Replayed")

    results = race(12, send)
    assert all(isinstance(r, tuple) for r in results), results
    assert {status for status, _, _ in results} == {200}, results
    assert len({content for _, content, _ in results}) == 1
    assert sum(not replayed for _, _, replayed in results) == 1
    assert household.history.count() == versions + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency needs PostgreSQL")
def test_a_duplicate_waiting_too_long_gets_409(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    user = world.user(Role.VILLAGE_STAFF)
    _, raw = tokens.token_create(actor=user, user=user, name="慢")
    monkeypatch.setattr(idempotency, "LOCK_WAIT", "200ms")
    url = f"/api/households/{world.households['a'].pk}"
    # Hold the key's row (uncommitted) in another transaction, as a slow first request would.
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    user=user, key="slow", method="PATCH", path=url, body_sha256="x", status_code=0
                )
                held.set()
                release.wait(10)
                transaction.set_rollback(True)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        response = patch(raw, url, "slow")
        assert response.status_code == 409
        assert response.json()["error"] == "idempotency_in_progress"
    finally:
        release.set()
        thread.join()
    # The holder rolled back: the key is free again and the request runs.
    retry = patch(raw, url, "slow")
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry


@pytest.mark.django_db
class TestDatabaseOutage:
    """A database that stops answering gives 503 ``unavailable`` with Retry-After, never an HTML 500."""

    @staticmethod
    def _down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    def test_a_write_during_an_outage_is_503_and_the_keyed_retry_runs(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        user = world.user(Role.RESIDENT)
        client = login(user)
        monkeypatch.setattr(tokens, "token_create", self._down)
        for key in [None, "outage"]:
            response = post(client, "/api/tokens", {"name": "断线"}, key=key)
            assert response.status_code == 503
            assert response.json()["error"] == "unavailable" and response["Retry-After"] == "2"
        assert not IdempotencyKey.objects.exists()
        monkeypatch.undo()
        retry = post(client, "/api/tokens", {"name": "断线"}, key="outage")
        assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
        assert ApiToken.objects.filter(user=user).count() == 1

    def test_an_outage_during_authentication_is_503(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        user = world.user(Role.VILLAGE_STAFF)
        _, raw = tokens.token_create(actor=user, user=user, name="集成")
        monkeypatch.setattr(tokens, "token_authenticate", self._down)
        url = f"/api/households/{world.households['a'].pk}"
        for key in [None, "auth-outage"]:
            headers = {"Authorization": f"Bearer {raw}"} | ({"Idempotency-Key": key} if key else {})
            response = Client().patch(url, data="{}", content_type="application/json", headers=headers)
            assert response.status_code == 503, response.content
            assert response.json()["error"] == "unavailable"
        assert Client().get("/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 503
