"""Evidence files (佐证材料): attach, open and delete files and photos on any record.

The type of a file is decided by its content, never by its name or the browser's claim, so an
.exe renamed .jpg or an HTML page posing as a photo is refused before anything is stored.
Files go to Django's default storage (a local folder, or S3 when S3_BUCKET is set).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

import filetype
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from cocreate.core import access
from cocreate.core.models import Attachment, Region

logger = logging.getLogger("cocreate.evidence")

THUMBNAIL_MAX_PX = 320
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileKind:
    """A file type we accept: the extension and MIME type we store it under."""

    extension: str
    mime_type: str
    label: str
    is_image: bool = False


# Keyed by the extension ``filetype`` reports for the content.
ALLOWED_KINDS: dict[str, FileKind] = {
    "jpg": FileKind(".jpg", "image/jpeg", "JPEG", is_image=True),
    "png": FileKind(".png", "image/png", "PNG", is_image=True),
    "gif": FileKind(".gif", "image/gif", "GIF", is_image=True),
    "webp": FileKind(".webp", "image/webp", "WebP", is_image=True),
    "heic": FileKind(".heic", "image/heic", "HEIC", is_image=True),
    "pdf": FileKind(".pdf", "application/pdf", "PDF"),
    "docx": FileKind(".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word"),
    "xlsx": FileKind(".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "pptx": FileKind(".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "PPT"),
    "doc": FileKind(".doc", "application/msword", "Word 97-2003"),
    "xls": FileKind(".xls", "application/vnd.ms-excel", "Excel 97-2003"),
    "ppt": FileKind(".ppt", "application/vnd.ms-powerpoint", "PPT 97-2003"),
}
TEXT_KIND = FileKind(".txt", "text/plain", "TXT")
CSV_KIND = FileKind(".csv", "text/csv", "CSV")
# Pillow cannot decode HEIC without a plugin; such photos are kept without a thumbnail.
_NO_THUMBNAIL = frozenset({".heic"})

# Markup a browser would render or run; such "text" is refused even though it decodes cleanly.
_MARKUP = re.compile(
    r"<\s*(?:(?P<svg>svg)|(?P<xml>\?xml)|!doctype|html|head|body|script|iframe|frame|object|embed|meta|link|style"
    r"|form|img|a\s|base|applet|math)\b",
    re.IGNORECASE,
)
# Control characters other than tab, newline, carriage return, form feed: binary, not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def allowed_description() -> str:
    """What may be uploaded, for help texts and error messages."""
    return _("图片（JPEG、PNG、GIF、WebP、HEIC）、PDF、Word、Excel、PPT、纯文本或 CSV")


def _refuse(detected: str) -> ValidationError:
    return ValidationError(
        _("不支持的文件类型：%(detected)s。可以上传：%(allowed)s。")
        % {"detected": detected, "allowed": allowed_description()},
        code="file_type",
    )


def _decode_text(data: bytes) -> str | None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in (",", "\t", ";"):
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


def _detect_text(data: bytes) -> FileKind:
    if b"\x00" in data:
        raise _refuse(_("无法识别的二进制文件"))
    text = _decode_text(data)
    if text is None or _CONTROL.search(text):
        raise _refuse(_("无法识别的二进制文件"))
    markup = _MARKUP.search(text)
    if markup:
        if markup.group("svg"):
            raise _refuse(_("SVG 图像（可能含脚本）"))
        if markup.group("xml"):
            raise _refuse(_("XML 文档"))
        raise _refuse(_("HTML 网页"))
    if text.lstrip().startswith("#!"):
        raise _refuse(_("脚本文件"))
    return CSV_KIND if _looks_like_csv(text) else TEXT_KIND


def detect_kind(data: bytes) -> FileKind:
    """The file's type from its content; raises ValidationError naming what was found if refused."""
    if not data:
        raise ValidationError(_("文件为空。"), code="empty")
    guessed = filetype.guess(data[:8192])
    if guessed is None:
        return _detect_text(data)
    kind = ALLOWED_KINDS.get(guessed.extension)
    if kind is None:
        raise _refuse(f"{guessed.extension.upper()}（{guessed.mime}）")
    return kind


def _read_limited(upload: Any, limit: int) -> bytes:
    """Reads the upload, stopping as soon as it exceeds ``limit`` bytes."""
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _too_large(limit)
    if hasattr(upload, "seek"):
        upload.seek(0)
    buffer = io.BytesIO()
    chunks = upload.chunks(_CHUNK) if hasattr(upload, "chunks") else iter(lambda: upload.read(_CHUNK), b"")
    for chunk in chunks:
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise _too_large(limit)
    return buffer.getvalue()


def check_upload(upload: Any) -> FileKind:
    """The upload's type, or the ValidationError ``attachment_add`` would raise (too large, not an
    accepted type) — for callers that store several files and must refuse all before storing one."""
    return detect_kind(_read_limited(upload, int(getattr(settings, "UPLOAD_MAX_BYTES", 20 * 1024 * 1024))))


def _too_large(limit: int) -> ValidationError:
    return ValidationError(
        _("文件太大：最大 %(limit)s。") % {"limit": _human_size(limit)},
        code="file_size",
    )


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


def make_thumbnail(data: bytes) -> bytes:
    """A JPEG at most THUMBNAIL_MAX_PX on its longer side, upright as the camera meant it."""
    with warnings.catch_warnings():
        # A decompression-bomb warning becomes an error: such a picture is refused.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((THUMBNAIL_MAX_PX, THUMBNAIL_MAX_PX))
            if upright.mode not in ("RGB", "L"):
                rgba = upright.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                upright = background
            out = io.BytesIO()
            upright.save(out, "JPEG", quality=80, optimize=True)
            return out.getvalue()


def region_of(target: Any) -> Region | None:
    """The region an attached record belongs to (the record itself for a Region)."""
    if isinstance(target, Region):
        return target
    region = getattr(target, "region", None)
    return region if isinstance(region, Region) else None


def attachment_add(
    *,
    actor: Any,
    target: Any,
    upload: Any,
    description: str = "",
    taken_at: datetime | None = None,
    place: str = "",
) -> Attachment:
    """Stores an uploaded file as evidence on ``target``; the actor must be able to see the target
    (and pass its model's own check, ``access.register_attachment_rule``)."""
    if not access.may_attach(actor, target):
        raise PermissionDenied(_("无权为此记录添加佐证材料"))
    region = region_of(target)
    if region is None:
        raise ValidationError(_("此记录不能添加佐证材料。"), code="target")
    data = _read_limited(upload, int(getattr(settings, "UPLOAD_MAX_BYTES", 20 * 1024 * 1024)))
    kind = detect_kind(data)
    thumbnail: bytes | None = None
    if kind.is_image and kind.extension not in _NO_THUMBNAIL:
        try:
            thumbnail = make_thumbnail(data)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValidationError(_("图片尺寸过大，无法处理。"), code="image_size") from exc
        except Exception as exc:
            raise ValidationError(_("图片文件已损坏，无法读取。"), code="image_broken") from exc
    if taken_at is not None and timezone.is_naive(taken_at):
        taken_at = timezone.make_aware(taken_at)
    original_name = str(getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
    sha256 = hashlib.sha256(data).hexdigest()
    attachment = Attachment(
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        region=region,
        original_name=original_name,
        extension=kind.extension,
        mime_type=kind.mime_type,
        size=len(data),
        sha256=sha256,
        description=description.strip(),
        taken_at=taken_at,
        place=place.strip(),
        uploaded_by=actor,
    )
    attachment.full_clean(exclude=["file", "thumbnail", "uploaded_by", "content_type", "region"])
    stored: list[tuple[Any, str]] = []
    try:
        attachment.file.save(f"{sha256}{kind.extension}", ContentFile(data), save=False)
        stored.append((attachment.file.storage, attachment.file.name))
        if thumbnail is not None:
            attachment.thumbnail.save(f"{sha256}.jpg", ContentFile(thumbnail), save=False)
            stored.append((attachment.thumbnail.storage, attachment.thumbnail.name))
        with transaction.atomic():
            attachment.save()
    except BaseException:
        # The row did not make it: the files must not outlive it.
        _delete_files(stored)
        raise
    return attachment


def _delete_files(files: list[tuple[Any, str]]) -> None:
    for storage, name in files:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete stored file %s", name)


@transaction.atomic
def attachment_delete(*, actor: Any, attachment: Attachment) -> None:
    """Deletes an attachment (uploader or an administrator); its files go once the delete commits."""
    if not access.can(actor, access.DELETE, attachment):
        raise PermissionDenied(_("无权删除此佐证材料"))
    files = [(f.storage, f.name) for f in (attachment.file, attachment.thumbnail) if f and f.name]
    attachment.delete()
    transaction.on_commit(lambda: _delete_files(files))


def attachment_open(*, actor: Any, attachment: Attachment, thumbnail: bool = False) -> IO[bytes]:
    """Opens the stored file (or its thumbnail) for reading after the access check."""
    if not access.can(actor, access.VIEW, attachment):
        raise PermissionDenied(_("无权查看此佐证材料"))
    field = attachment.thumbnail if thumbnail else attachment.file
    if not field or not field.name:
        raise FileNotFoundError(_("没有缩略图") if thumbnail else _("文件不存在"))
    handle: IO[bytes] = field.storage.open(field.name, "rb")
    return handle


def attachments_for(*, actor: Any, target: Any) -> QuerySet[Attachment]:
    """The attachments of ``target`` that the actor may see."""
    return access.attachments_on(target, actor)


EVIDENCE_ROOT = "evidence"
# Younger files may belong to an upload whose row is not committed yet.
ORPHAN_MIN_AGE = timedelta(hours=6)


def _walk(storage: Any, path: str) -> Iterator[list[str]]:
    """Yields the file names of each folder under ``path``, one folder at a time."""
    try:
        folders, files = storage.listdir(path)
    except FileNotFoundError:
        return
    yield [f"{path}/{name}" for name in files]
    for folder in folders:
        yield from _walk(storage, f"{path}/{folder}")


def purge_orphan_files(*, min_age: timedelta = ORPHAN_MIN_AGE, dry_run: bool = False) -> list[str]:
    """Deletes stored evidence files no attachment refers to (left by a rolled-back transaction)."""
    storage = default_storage
    cutoff = timezone.now() - min_age
    removed: list[str] = []
    for names in _walk(storage, EVIDENCE_ROOT):
        if not names:
            continue
        referenced = set(
            Attachment.objects.filter(Q(file__in=names) | Q(thumbnail__in=names)).values_list("file", "thumbnail")
        )
        used = {name for pair in referenced for name in pair}
        for name in names:
            if name in used or storage.get_modified_time(name) > cutoff:
                continue
            removed.append(name)
            if not dry_run:
                storage.delete(name)
    if removed:
        logger.info("removed %s orphaned evidence files", len(removed))
    return removed
