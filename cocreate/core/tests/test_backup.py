"""``manage.py backup`` / ``restore`` (issue 6, item 3): an archive restored into an empty
database gives back every table's rows exactly, the files with their checksums, and personal
data still encrypted; a damaged archive or one of other migrations is refused and changes nothing.

The restore runs in other processes (``manage.py migrate`` + ``restore`` on a new SQLite file, or
a new PostgreSQL database), as an operator would run it on a new machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from cocreate.cases.models import Party
from cocreate.conftest import World
from cocreate.core import backup, evidence
from cocreate.core.models import Attachment, Role
from cocreate.core.tests.test_evidence import jpeg_bytes, upload

pytestmark = pytest.mark.django_db


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a new, migrated, empty database of the same vendor, and its own media folder.

    Made once for the module (migrating takes a while); the first test restores into it empty, the
    later ones replace its content with ``--yes``.
    """
    tmp_path = tmp_path_factory.mktemp("restore")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(DJANGO_SETTINGS_MODULE="cocreate.settings", MEDIA_ROOT=str(tmp_path / "restored-media"))
    drop = None
    if connection.vendor == "postgresql":
        import psycopg

        db = connection.settings_dict
        name = f"{db['NAME']}_restore"
        host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"] or "postgres"
        dsn = f"host={host} port={port} user={user} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
        )

        def drop() -> None:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    _manage(env, "migrate", "--noinput", "-v", "0")
    yield env
    if drop is not None:
        drop()


def _table_rows(archive: Path) -> dict[str, list[str]]:
    """Every table's rows as stored in the archive (one JSON text per row, in id order)."""
    tables: dict[str, list[str]] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.startswith("data/"):
                handle = tar.extractfile(member)
                assert handle is not None
                tables[member.name] = gzip.decompress(handle.read()).decode().splitlines()
    return tables


def _with_data(world: World) -> Attachment:
    staff = world.user(Role.VILLAGE_STAFF)
    return evidence.attachment_add(actor=staff, target=world.households["a"], upload=upload("photo.jpg", jpeg_bytes()))


def test_a_backup_restored_into_an_empty_database_gives_back_every_row_and_file(
    world: World, tmp_path: Path, empty_database: dict[str, str]
) -> None:
    photo = _with_data(world)
    party = next((p for p in Party.objects.order_by("pk") if p.phone), None)
    assert party is not None, "the test world has a case party with a phone"
    archive = tmp_path / "cocreate.tar"
    call_command("backup", str(archive))

    manifest = backup.verify(archive)
    assert manifest["tables"]["cases.party"]["rows"] == Party.objects.count()
    assert manifest["tables"]["core.attachment"]["rows"] == Attachment.objects.count() >= 1
    original = _table_rows(archive)
    # Personal data stays ciphertext in the archive: the key is never part of a backup.
    cases = "\n".join(line for name, rows in original.items() if name.startswith("data/cases.") for line in rows)
    assert party.phone not in cases

    out = _manage(empty_database, "restore", str(archive))
    assert f"{sum(t['rows'] for t in manifest['tables'].values())} rows" in out

    # Every table of the restored database, dumped again, equals the original row for row.
    again = tmp_path / "again.tar"
    _manage(empty_database, "backup", str(again))
    restored = _table_rows(again)
    assert restored.keys() == original.keys()
    different = [name for name in original if original[name] != restored[name]]
    assert not different, different
    assert sum(len(rows) for rows in restored.values()) > 300

    # The restored files are byte for byte the stored ones, and the personal data opens with the key.
    media = Path(empty_database["MEDIA_ROOT"])
    for name in (photo.file.name, photo.thumbnail.name):
        restored_file = media / name
        with photo.file.storage.open(name, "rb") as stored:
            assert hashlib.sha256(restored_file.read_bytes()).digest() == hashlib.sha256(stored.read()).digest()
    code = f"from cocreate.cases.models import Party; print(Party.objects.get(pk={party.pk}).phone)"
    assert _manage(empty_database, "shell", "--no-imports", "-c", code).strip() == party.phone


def test_a_damaged_archive_other_migrations_or_a_used_database_are_refused_and_change_nothing(
    world: World, tmp_path: Path, empty_database: dict[str, str]
) -> None:
    _with_data(world)
    archive = tmp_path / "cocreate.tar"
    call_command("backup", str(archive))
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]  # type: ignore[union-attr]

    def rewritten(name: str, change: Any) -> Path:
        target = tmp_path / name
        with tarfile.open(target, "w") as tar:
            for info, data in members:
                data = change(info.name, data)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return target

    def flip(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("data/core.person") else data

    def old_release(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["migrations"] = manifest["migrations"][:-1]
        return json.dumps(manifest).encode()

    # The database now holds accounts (the first test restored into it): without --yes, refused.
    done = subprocess.run(
        [sys.executable, "manage.py", "restore", str(archive)],
        cwd=Path(settings.BASE_DIR),
        env=empty_database,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode != 0 and "--yes" in done.stderr, done.stderr
    _manage(empty_database, "restore", "--yes", str(archive))
    before = _table_rows(archive)
    for bad, reason in (
        (rewritten("flipped.tar", flip), "checksum"),
        (rewritten("old.tar", old_release), "migrations"),
    ):
        done = subprocess.run(
            [sys.executable, "manage.py", "restore", "--yes", str(bad)],
            cwd=Path(settings.BASE_DIR),
            env=empty_database,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode != 0 and "nothing changed" in done.stderr and reason in done.stderr, done.stderr
    # The database still holds exactly what the good archive restored.
    check = tmp_path / "check.tar"
    _manage(empty_database, "backup", str(check))
    assert _table_rows(check) == before
