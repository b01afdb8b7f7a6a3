"""The static files storage of a deployment: WhiteNoise's compressed, hashed files."""

from __future__ import annotations

from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Looks each file's hashed URL up once per process.

    The manifest is read when the process starts and never changes while it runs, yet Django
    looks a name up in it and joins the URL again on every ``{% static %}`` — eight times on
    every page of the base template alone.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str | None, force: bool = False) -> str:
        if force or name is None:
            return str(super().url(name, force))
        url = self._urls.get(name)
        if url is None:
            url = self._urls[name] = str(super().url(name))
        return url
