"""The English translation: compiled with polib, chosen by LocaleMiddleware, and complete.

``test_every_msgid_has_english`` fails as soon as a new Chinese UI string is added without an
English msgstr. That is intended: after adding strings, run makemessages (command in
cocreate/locale/README.md) and translate them in cocreate/locale/en/LC_MESSAGES/django.po.
"""

from __future__ import annotations

import gettext
import io
import os
import re
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from cocreate.conftest import World
from cocreate.core.models import Role

EN_PO = Path(settings.BASE_DIR) / "cocreate" / "locale" / "en" / "LC_MESSAGES" / "django.po"

# Chinese strings that are on every login page; none may survive in the English rendering.
LOGIN_CHINESE = ["登录", "手机号", "密码", "共同缔造", "大字模式", "跳到正文"]

# python-format placeholders and str.format fields, which must come through translation unchanged.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdifr]|\{\w*\}")


@pytest.fixture(autouse=True)
def _compiled(settings: Any) -> None:
    call_command("compile_translations", stdout=io.StringIO())
    # Django caches each language's catalogue per process; if "en" was loaded before the .mo
    # existed it would stay empty. Re-assigning LOCALE_PATHS fires setting_changed, which clears it.
    settings.LOCALE_PATHS = list(settings.LOCALE_PATHS)


def test_login_page_english_from_accept_language(client: Client) -> None:
    html = client.get(reverse("core:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in html
    assert "Log in" in html
    assert "Mobile number" in html
    assert "Password" in html
    leftovers = [s for s in LOGIN_CHINESE if s in html]
    assert leftovers == []


def test_set_language_switches_to_english(client: Client) -> None:
    login_url = reverse("core:login")
    response = client.post(reverse("set_language"), {"language": "en", "next": login_url})
    assert response.status_code == 302
    html = client.get(login_url).content.decode()
    assert "Log in" in html
    assert [s for s in LOGIN_CHINESE if s in html] == []
    # ...and back again: the choice is the user's, not sticky English.
    client.post(reverse("set_language"), {"language": "zh-hans", "next": login_url})
    assert "登录" in client.get(login_url).content.decode()


def test_default_language_is_chinese(client: Client) -> None:
    html = client.get(reverse("core:login")).content.decode()
    assert '<html lang="zh-hans"' in html
    assert "登录" in html
    assert "手机号" in html
    assert "Log in" not in html
    assert "Mobile number" not in html


def test_signed_in_pages_english(client: Client, world: World) -> None:
    client.force_login(world.user(Role.ADMIN))
    html = client.get(reverse("core:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "My to-do" in html
    assert "Log out" in html
    assert [s for s in ("我的待办", "退出", "行政区划", "通知") if s in html] == []


def test_every_msgid_has_english() -> None:
    """Every msgid in the English catalogue has a non-empty, non-fuzzy msgstr.

    Intended to fail when someone adds a Chinese UI string and re-runs makemessages without
    translating it: the fix is to fill the msgstr, not to relax this test.
    """
    catalogue = polib.pofile(str(EN_PO))
    assert len(catalogue) > 0
    problems: list[str] = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {entry.msgid!r}")
        if entry.msgid_plural:
            forms = [entry.msgstr_plural.get(i, "") for i in range(2)]
            if not all(forms):
                problems.append(f"untranslated plural: {entry.msgid!r}")
            sources = [entry.msgid, entry.msgid_plural]
        else:
            forms = [entry.msgstr]
            if not entry.msgstr:
                problems.append(f"untranslated: {entry.msgid!r}")
            sources = [entry.msgid]
        expected = sorted(PLACEHOLDER.findall(sources[0]))
        for form in forms:
            if form and sorted(PLACEHOLDER.findall(form)) != expected:
                problems.append(f"placeholders differ: {entry.msgid!r} -> {form!r}")
    assert problems == []


def test_catalogue_header_is_not_fuzzy() -> None:
    # A fuzzy header is dropped by msgfmt, taking Plural-Forms with it.
    catalogue = polib.pofile(str(EN_PO))
    assert not catalogue.metadata_is_fuzzy
    assert catalogue.metadata.get("Language") == "en"
    assert "nplurals=2" in catalogue.metadata.get("Plural-Forms", "")


def test_compile_translations_compiles_then_skips(settings: Any, tmp_path: Path) -> None:
    messages = tmp_path / "en" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    po_path = messages / "django.po"
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Plural-Forms": "nplurals=2; plural=(n != 1);"}
    catalogue.append(polib.POEntry(msgid="登录", msgstr="Log in"))
    catalogue.append(polib.POEntry(msgid="未译", msgstr=""))
    catalogue.append(polib.POEntry(msgid="模糊", msgstr="Fuzzy", flags=["fuzzy"]))
    catalogue.append(
        polib.POEntry(
            msgid="共 %(n)s 条", msgid_plural="共 %(n)s 条", msgstr_plural={0: "%(n)s item", 1: "%(n)s items"}
        )
    )
    catalogue.save(str(po_path))
    settings.LOCALE_PATHS = [tmp_path]
    mo_path = messages / "django.mo"

    out = io.StringIO()
    call_command("compile_translations", stdout=out)
    assert "1 compiled, 0 up to date" in out.getvalue()
    with mo_path.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    # Called through aliases so that makemessages does not extract these test-only strings.
    tr, ntr = compiled.gettext, compiled.ngettext
    assert tr("登录") == "Log in"
    assert tr("未译") == "未译"  # empty msgstr: the source shows
    assert tr("模糊") == "模糊"  # fuzzy entries are not trusted
    assert ntr("共 %(n)s 条", "共 %(n)s 条", 1) == "%(n)s item"
    assert ntr("共 %(n)s 条", "共 %(n)s 条", 5) == "%(n)s items"

    # Second run: nothing to do, file untouched.
    written = mo_path.stat().st_mtime_ns
    out = io.StringIO()
    call_command("compile_translations", stdout=out)
    assert "0 compiled, 1 up to date" in out.getvalue()
    assert mo_path.stat().st_mtime_ns == written

    # An edited .po (newer than the .mo) is compiled again.
    catalogue[0].msgstr = "Sign in"
    catalogue.save(str(po_path))
    os.utime(po_path, ns=(written + 1_000_000_000, written + 1_000_000_000))
    out = io.StringIO()
    call_command("compile_translations", stdout=out)
    assert "1 compiled, 0 up to date" in out.getvalue()
    with mo_path.open("rb") as fh:
        tr = gettext.GNUTranslations(fh).gettext
    assert tr("登录") == "Sign in"
    assert [p.name for p in messages.iterdir() if p.name.endswith(".tmp")] == []


def test_english_catalogue_is_loaded_by_django() -> None:
    tr, ntr = translation.gettext, translation.ngettext  # aliases: keep these out of makemessages
    with translation.override("en"):
        assert tr("共同缔造") == "Co-creation"
        assert tr("督查员") == "Inspector"
        assert ntr("共 %(n)s 条", "共 %(n)s 条", 3) % {"n": 3} == "3 items in total"
