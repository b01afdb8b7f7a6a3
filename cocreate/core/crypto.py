"""Encryption at rest for personal data: Fernet tokens in the column, keyed HMAC digests for lookups.

Keys come from ``COCREATE_DATA_KEYS`` (settings, read from the environment variable of the same
name): a comma-separated list of Fernet keys (32 random bytes, URL-safe base64). The first key
encrypts; every key decrypts, so a key is rotated by putting a new key first, running
``manage.py rotate_data_keys`` (re-encrypts every encrypted column and recomputes the digests) and
then dropping the old key. Without the variable a key is derived from ``SECRET_KEY`` — fine for a
laptop and the tests, flagged by a system check (``cocreate.W001``) in production, because then
whoever has the secret key has the data too.

A ciphertext that no configured key opens raises :class:`DecryptionError`: a wrong or missing key
must stop the request, never show garbage or an empty phone number.

Fernet is randomised (the same phone encrypts differently each time), so an encrypted column
cannot be searched. :func:`digest` gives a keyed HMAC-SHA256 of a normalised value for equality
lookups ("tracking code + phone"); :func:`digests` gives one per configured key so lookups keep
working during a rotation, before the digests have been recomputed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(RuntimeError):
    """A stored ciphertext that none of the configured keys can open."""


def derived_key(secret: str) -> str:
    """The development key: a Fernet key derived from ``SECRET_KEY`` (not for production)."""
    raw = hashlib.sha256(b"cocreate-data-key-v1:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(raw).decode()


def configured_keys() -> tuple[str, ...]:
    """The data keys, newest first; the derived development key when none is configured."""
    keys = tuple(k for k in (getattr(settings, "COCREATE_DATA_KEYS", None) or ()) if k)
    return keys or (derived_key(settings.SECRET_KEY),)


def uses_derived_key() -> bool:
    return not tuple(k for k in (getattr(settings, "COCREATE_DATA_KEYS", None) or ()) if k)


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, tuple[bytes, ...]]:
    """The MultiFernet for ``keys`` and one HMAC key per data key (cached per key set)."""
    fernets: list[Fernet] = []
    hmac_keys: list[bytes] = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode() if isinstance(key, str) else key))
            raw = base64.urlsafe_b64decode(key)
        except (ValueError, TypeError) as exc:
            # Never echo the key itself into a log.
            raise ImproperlyConfigured(
                f"COCREATE_DATA_KEYS: key #{position} is not a Fernet key (32 bytes, URL-safe base64)"
            ) from exc
        # The digest key is derived from, not equal to, the encryption key material.
        hmac_keys.append(hmac.new(raw, b"cocreate-digest-v1", hashlib.sha256).digest())
    return MultiFernet(fernets), tuple(hmac_keys)


def _current() -> tuple[MultiFernet, tuple[bytes, ...]]:
    return _fernets(configured_keys())


def encrypt(plaintext: str) -> str:
    """A Fernet token for ``plaintext`` under the first (newest) key."""
    return _current()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext of ``token``; raises DecryptionError when no configured key opens it."""
    try:
        return _current()[0].decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "a stored value cannot be decrypted with any key in COCREATE_DATA_KEYS "
            "(wrong key, or the key that encrypted it was removed before rotation)"
        ) from exc


def rotate(token: str) -> str:
    """``token`` re-encrypted under the newest key (raises DecryptionError like :func:`decrypt`)."""
    try:
        return _current()[0].rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("a stored value cannot be decrypted with any key in COCREATE_DATA_KEYS") from exc


def digest(value: str) -> str:
    """Keyed HMAC-SHA256 (hex) of an already normalised value, under the newest key."""
    return hmac.new(_current()[1][0], value.encode(), hashlib.sha256).hexdigest()


def digests(value: str) -> list[str]:
    """The digest of ``value`` under every configured key, newest first (lookups during rotation)."""
    return [hmac.new(k, value.encode(), hashlib.sha256).hexdigest() for k in _current()[1]]


def digest_matches(value: str, stored: str) -> bool:
    """Whether ``stored`` is a digest of ``value`` under any key; compares in constant time.

    Every key is tried even after a match, so the time taken does not tell which key matched.
    """
    found = False
    for candidate in digests(value):
        found |= hmac.compare_digest(candidate.encode(), (stored or "").encode())
    return found


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; Python code sees plaintext. Not searchable: use a digest.

    The empty string is stored as the empty string (no ciphertext), so "no phone given" stays
    cheap to filter on; anything else never reaches the database unencrypted.
    """

    description = "Text encrypted at rest (Fernet)"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        # An equality lookup would encrypt the operand again and silently never match; without a
        # lookup class Django refuses the filter with a FieldError ("Unsupported lookup").
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)


def encrypted_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


@checks.register(checks.Tags.security)
def check_data_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Outside DEBUG and the tests, warns when personal data is encrypted with the derived key."""
    messages: list[checks.CheckMessage] = []
    if uses_derived_key() and not settings.DEBUG and not getattr(settings, "TESTING", False):
        messages.append(
            checks.Warning(
                "COCREATE_DATA_KEYS is not set: personal data is encrypted with a key derived from SECRET_KEY.",
                hint="Set COCREATE_DATA_KEYS to a Fernet key kept apart from the database backups (docs/operations.md)",
                id="cocreate.W001",
            )
        )
    try:
        _current()
    except ImproperlyConfigured as exc:
        messages.append(checks.Error(str(exc), id="cocreate.E001"))
    return messages
