"""Backups of the database and the stored files in one archive, and their restore (docs/operations.md).

An archive is a plain ``.tar`` holding

* ``manifest.json`` — format version, when and from which database vendor it was taken, the
  applied migrations, every table's row count, and the SHA-256 and size of every member;
* ``data/<app_label>.<model>.jsonl.gz`` — one JSON array per row, columns in the order the
  manifest lists them, values as the database stores them: encrypted personal data stays
  ciphertext (the key is never in a backup), dates as ISO text;
* ``files/<storage name>`` — every file a ``FileField`` row points at, read through the storage
  (local folder or object store).

**Consistent**: every table is read in one transaction (PostgreSQL: ``REPEATABLE READ READ
ONLY``, one snapshot; SQLite: one read transaction), and only files the snapshot's rows name are
copied, so a file uploaded during the backup is neither in the archive nor referred to by it.

**Restore** checks every checksum before it touches anything, refuses an archive made by other
migrations, then — in one transaction — empties every table of the target database and inserts
the rows (foreign keys checked at the end), resets the id sequences and writes the files. A
restore that fails changes nothing in the database.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.duration import duration_string

from cocreate.core.crypto import EncryptedTextField

FORMAT = "cocreate-backup/1"
# Rows that are worthless or harmful in a restored system: live sign-in sessions.
SKIPPED_TABLES = frozenset({"django_session"})
BATCH = 2000


class BackupError(Exception):
    """The archive cannot be restored (checksum, format, migrations); the message says why."""


@dataclass
class BackupResult:
    path: Path
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0


def _models() -> list[type[models.Model]]:
    """Every concrete table the project's models (and auto-created m2m tables) own, once each."""
    found: dict[str, type[models.Model]] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table in SKIPPED_TABLES:
            continue
        found.setdefault(meta.db_table, model)
    return [found[t] for t in sorted(found)]


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields]


def _plain(value: Any) -> Any:
    """A database value as JSON: dates and decimals as text, bytes as base64."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dt.timedelta):
        return duration_string(value)
    return value


def _rows(model: type[models.Model], alias: str) -> Iterator[list[Any]]:
    """The table's rows in id order, as the database holds them (no decryption)."""
    fields = _columns(model)
    queryset = model._base_manager.using(alias).order_by("pk")
    # An encrypted column is read through a plain text expression, so its decrypting converter
    # never runs and the archive holds the ciphertext.
    raw = {f.attname: models.ExpressionWrapper(models.F(f.attname), output_field=models.TextField()) for f in fields}
    names = []
    for f in fields:
        if isinstance(f, EncryptedTextField):
            names.append(f"__raw_{f.attname}")
        else:
            names.append(f.attname)
    annotations = {f"__raw_{f.attname}": raw[f.attname] for f in fields if isinstance(f, EncryptedTextField)}
    if annotations:
        queryset = queryset.annotate(**annotations)
    for row in queryset.values_list(*names).iterator(chunk_size=BATCH):
        yield [_plain(v) for v in row]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_names(model: type[models.Model], alias: str) -> set[str]:
    names: set[str] = set()
    for f in model._meta.concrete_fields:
        if isinstance(f, models.FileField):
            names.update(
                n
                for n in model._base_manager.using(alias).exclude(**{f.attname: ""}).values_list(f.attname, flat=True)
                if n
            )
    return names


@contextlib.contextmanager
def _snapshot(alias: str) -> Iterator[None]:
    connection = connections[alias]
    outer = connection.in_atomic_block  # inside a caller's transaction (tests): its snapshot is used
    with transaction.atomic(using=alias):
        if connection.vendor == "postgresql" and not outer:
            # First statement of the transaction: every read below sees one snapshot.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def applied_migrations(alias: str = "default") -> list[str]:
    recorder = MigrationRecorder(connections[alias])
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def backup(path: Path, *, alias: str = "default", storage: Any = None) -> BackupResult:
    """Writes the archive to ``path`` (a ``.tar``); returns what it holds."""
    storage = storage or default_storage
    result = BackupResult(path=path)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "vendor": connections[alias].vendor,
        "tables": {},
        "members": {},
    }
    with tempfile.TemporaryDirectory(prefix="cocreate-backup-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        (work / "files").mkdir()
        file_names: set[str] = set()
        with _snapshot(alias):
            manifest["migrations"] = applied_migrations(alias)
            for model in _models():
                label = model._meta.label_lower
                member = f"data/{label}.jsonl.gz"
                count = 0
                with gzip.open(work / member, "wt", encoding="utf-8") as out:
                    for row in _rows(model, alias):
                        out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                        count += 1
                manifest["tables"][label] = {
                    "table": model._meta.db_table,
                    "columns": [f.attname for f in _columns(model)],
                    "rows": count,
                }
                result.tables[label] = count
                file_names |= _file_names(model, alias)
        for name in sorted(file_names):
            target = work / "files" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with storage.open(name, "rb") as source, target.open("wb") as out:
                    for chunk in iter(lambda: source.read(1 << 20), b""):
                        out.write(chunk)
            except FileNotFoundError:
                manifest.setdefault("missing_files", []).append(name)
                continue
            result.files += 1
        for stored in sorted(p for p in work.rglob("*") if p.is_file()):
            relative = stored.relative_to(work).as_posix()
            manifest["members"][relative] = {"sha256": _sha256(stored), "size": stored.stat().st_size}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        with tarfile.open(partial, "w") as archive:
            body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(body)
            info.mtime = int(timezone.now().timestamp())
            archive.addfile(info, io.BytesIO(body))
            for relative in manifest["members"]:
                archive.add(work / relative, arcname=relative, recursive=False)
        partial.replace(path)  # never a half-written archive under the final name
    result.bytes = path.stat().st_size
    return result


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r") as archive:
            member = archive.extractfile("manifest.json")
            if member is None:
                raise BackupError("manifest.json is missing")
            manifest: dict[str, Any] = json.load(member)
    except (tarfile.TarError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise BackupError(f"not a cocreate backup archive: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown archive format {manifest.get('format')!r} (expected {FORMAT})")
    return manifest


def verify(path: Path) -> dict[str, Any]:
    """Every member's checksum and size against the manifest, and nothing unlisted; the manifest."""
    manifest = read_manifest(path)
    expected = dict(manifest["members"])
    problems = []
    with tarfile.open(path, "r") as archive:
        for info in archive:
            if info.name == "manifest.json":
                continue
            if info.name not in expected:
                problems.append(f"{info.name}: not in the manifest")
                continue
            want = expected.pop(info.name)
            handle = archive.extractfile(info)
            digest = hashlib.sha256()
            size = 0
            while handle is not None and (chunk := handle.read(1 << 20)):
                digest.update(chunk)
                size += len(chunk)
            if digest.hexdigest() != want["sha256"] or size != want["size"]:
                problems.append(f"{info.name}: checksum mismatch")
    problems += [f"{name}: missing from the archive" for name in expected]
    if problems:
        raise BackupError("the archive is damaged: " + "; ".join(problems[:20]))
    return manifest


def _value(field_: models.Field[Any, Any], value: Any, connection: Any) -> Any:
    """A JSON value from the archive as the target database wants it."""
    if value is None:
        return None
    if isinstance(field_, EncryptedTextField):
        return value  # ciphertext, stored as it was
    if isinstance(value, dict) and set(value) == {"b64"} and not isinstance(field_, models.JSONField):
        value = base64.b64decode(value["b64"])
    if isinstance(field_, models.JSONField):
        return field_.get_db_prep_save(value, connection)
    if isinstance(field_, models.ForeignKey):
        field_ = field_.target_field
    return field_.get_db_prep_save(field_.to_python(value), connection)


def _insert(cursor: Any, model: type[models.Model], columns: list[str], rows: list[list[Any]], connection: Any) -> None:
    by_attname = {f.attname: f for f in _columns(model)}
    fields = [by_attname[c] for c in columns]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608  # nosec B608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    cursor.executemany(sql, [[_value(f, v, connection) for f, v in zip(fields, row, strict=True)] for row in rows])


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = archive.extractfile(name)
    if handle is None:
        raise BackupError(f"{name} is missing")
    return handle


def restore(path: Path, *, alias: str = "default", storage: Any = None) -> dict[str, int]:
    """Replaces the database's content and writes the files; returns rows restored per table."""
    storage = storage or default_storage
    manifest = verify(path)
    here = applied_migrations(alias)
    if manifest["migrations"] != here:
        theirs, ours = set(manifest["migrations"]), set(here)
        raise BackupError(
            "the archive was made with other migrations; run the matching release first "
            f"(only in the archive: {sorted(theirs - ours)[:5]}, only here: {sorted(ours - theirs)[:5]})"
        )
    known = {m._meta.label_lower: m for m in _models()}
    unknown = sorted(set(manifest["tables"]) - set(known))
    if unknown:
        raise BackupError(f"the archive holds tables this release does not know: {unknown[:5]}")
    connection = connections[alias]
    counts: dict[str, int] = {}
    with tarfile.open(path, "r") as archive, transaction.atomic(using=alias):
        with connection.constraint_checks_disabled(), connection.cursor() as cursor:
            # Sign-in sessions are not restored, and none survives: an old session could name an id
            # that now belongs to someone else.
            for table in [*(m._meta.db_table for m in known.values()), *SKIPPED_TABLES]:
                if table in connection.introspection.table_names(cursor):
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608  # nosec B608
            for label, table in manifest["tables"].items():
                model = known[label]
                columns = table["columns"]
                missing = set(columns) - {f.attname for f in _columns(model)}
                if missing:
                    raise BackupError(f"{label}: columns {sorted(missing)} are not in this release")
                counts[label] = 0
                with gzip.open(_member(archive, f"data/{label}.jsonl.gz"), "rt", encoding="utf-8") as rows:
                    batch: list[list[Any]] = []
                    for line in rows:
                        batch.append(json.loads(line))
                        if len(batch) >= BATCH:
                            _insert(cursor, model, columns, batch, connection)
                            counts[label] += len(batch)
                            batch = []
                    if batch:
                        _insert(cursor, model, columns, batch, connection)
                        counts[label] += len(batch)
                if counts[label] != table["rows"]:
                    raise BackupError(f"{label}: {counts[label]} rows read, the manifest says {table['rows']}")
        connection.check_constraints()
        for statement in connection.ops.sequence_reset_sql(no_style(), list(known.values())):
            with connection.cursor() as cursor:
                cursor.execute(statement)
        for name in manifest["members"]:
            if not name.startswith("files/"):
                continue
            stored_name = name.removeprefix("files/")
            if storage.exists(stored_name):
                storage.delete(stored_name)
            saved = storage.save(stored_name, File(_member(archive, name)))
            if saved != stored_name:
                raise BackupError(f"the storage renamed {stored_name} to {saved}")
    return counts
