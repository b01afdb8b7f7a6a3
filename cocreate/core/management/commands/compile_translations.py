"""Compile every django.po under LOCALE_PATHS to django.mo with polib: ``manage.py compile_translations``.

Django's own ``compilemessages`` shells out to GNU gettext's ``msgfmt``; polib is pure Python, so a
fresh machine (or a slim container) needs nothing beyond requirements.txt. A .mo that is newer than
its .po is left alone, so the command is cheap to run before every test run or server start.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

# The catalogues Django loads: server-side strings and, should one appear, JavaScript strings.
DOMAINS = ("django", "djangojs")


def catalogue_paths() -> list[Path]:
    """Every <domain>.po file found under the project's LOCALE_PATHS, sorted for stable output."""
    found: set[Path] = set()
    for root in settings.LOCALE_PATHS:
        for domain in DOMAINS:
            found.update(Path(root).glob(f"*/LC_MESSAGES/{domain}.po"))
    return sorted(found)


def is_up_to_date(po_path: Path, mo_path: Path) -> bool:
    """True when the .mo exists and was written after the .po was last changed."""
    try:
        return mo_path.stat().st_mtime_ns >= po_path.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def compile_catalogue(po_path: Path, mo_path: Path) -> polib.POFile:
    """Write ``mo_path`` from ``po_path`` atomically and return the parsed catalogue."""
    try:
        catalogue = polib.pofile(str(po_path))
    except (OSError, ValueError) as exc:  # polib raises OSError/ValueError on a malformed .po
        raise CommandError(f"{po_path}: {exc}") from exc
    # Write beside the target and rename: parallel test workers may compile at the same moment,
    # and a reader must never see a half-written .mo.
    fd, tmp_name = tempfile.mkstemp(prefix=".django-", suffix=".mo.tmp", dir=mo_path.parent)
    os.close(fd)
    try:
        catalogue.save_as_mofile(tmp_name)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, mo_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return catalogue


class Command(BaseCommand):
    help = "用 polib 把 LOCALE_PATHS 下的 .po 编译为 .mo（无需 GNU gettext）；已是最新的跳过。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="即使 .mo 已是最新也重新编译")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = catalogue_paths()
        if not paths:
            raise CommandError(f"No .po files found under LOCALE_PATHS: {settings.LOCALE_PATHS}")
        compiled = skipped = 0
        for po_path in paths:
            mo_path = po_path.with_suffix(".mo")
            if not options["force"] and is_up_to_date(po_path, mo_path):
                skipped += 1
                continue
            catalogue = compile_catalogue(po_path, mo_path)
            compiled += 1
            # Fuzzy and empty entries are left out of the .mo (the Chinese source shows instead),
            # so say how many there are rather than fail: test_i18n is the gate for completeness.
            missing = len(catalogue.untranslated_entries()) + len(catalogue.fuzzy_entries())
            note = f" ({missing} untranslated or fuzzy)" if missing else ""
            self.stdout.write(f"compiled {po_path}{note}")
        if options["verbosity"] >= 1:
            self.stdout.write(f"{compiled} compiled, {skipped} up to date")
