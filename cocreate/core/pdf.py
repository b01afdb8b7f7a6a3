"""Printable PDFs (bulletins, filing forms, statistics tables) from Django templates, via WeasyPrint.

Documents are set in the Debian font "WenQuanYi Micro Hei" (``fonts-wqy-microhei``): small and
fast, where Noto CJK makes WeasyPrint slow. Rendering never reaches the network: the URL fetcher
refuses every scheme but ``data:`` and ``file:``, and ``file:`` only inside the project and the
system font folders, so no template or user text can make the server fetch or read elsewhere.
PDF templates carry their CSS inline (``<style>``) and name the font family, never a web font.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.template.loader import render_to_string

# The CSS family name every PDF template uses; fontconfig finds it in /usr/share/fonts.
PDF_FONT_FAMILY = "WenQuanYi Micro Hei"
ALLOWED_SCHEMES = frozenset({"data", "file"})


def _allowed_roots() -> list[Path]:
    """Folders a ``file:`` URL may point into: the project (static files) and the system fonts."""
    roots = [Path(settings.BASE_DIR), Path(settings.STATIC_ROOT), Path("/usr/share/fonts")]
    return [root.resolve() for root in roots]


def _file_allowed(url: str) -> bool:
    path = Path(unquote(urlsplit(url).path)).resolve()
    return any(path == root or root in path.parents for root in _allowed_roots())


def _fetcher() -> Any:
    """A WeasyPrint URL fetcher that answers only ``data:`` and local ``file:`` URLs."""
    from weasyprint.urls import URLFetcher

    class LocalOnlyFetcher(URLFetcher):
        """Refuses http(s), ftp and any file outside the allowed folders (WeasyPrint logs and skips)."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme not in ALLOWED_SCHEMES:
                raise ValueError(f"PDF rendering fetches no {scheme or 'relative'} URL: {url[:80]}")
            if scheme == "file" and not _file_allowed(url):
                raise ValueError(f"PDF rendering reads no file outside the project: {url[:80]}")
            return super().fetch(url, headers)

    return LocalOnlyFetcher(allowed_protocols=ALLOWED_SCHEMES, allow_redirects=False, timeout=5)


def html_to_pdf(html: str) -> bytes:
    """Turns an HTML document into PDF bytes, fetching nothing from the network."""
    # Imported here: loading WeasyPrint (Pango, HarfBuzz through cffi) costs ~0.3 s, which only
    # the processes that print should pay.
    from weasyprint import HTML

    base_url = Path(settings.BASE_DIR).resolve().as_uri() + "/"
    document = HTML(string=html, base_url=base_url, url_fetcher=_fetcher())
    data = document.write_pdf()
    assert isinstance(data, bytes)
    return data


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    """Renders a Django template to HTML and prints it as a PDF (A4, Chinese font)."""
    html = render_to_string(template_name, {"pdf_font_family": PDF_FONT_FAMILY, **context})
    return html_to_pdf(html)
