"""cocreate.core.crypto: keys from settings, rotation, loud failures, digests (no database needed)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cocreate.core import crypto


def _key() -> str:
    return Fernet.generate_key().decode()


def test_round_trip_and_randomised_ciphertext() -> None:
    token = crypto.encrypt("13900000001")
    assert "13900000001" not in token
    assert crypto.decrypt(token) == "13900000001"
    assert crypto.encrypt("13900000001") != token


def test_without_configured_keys_the_key_is_derived_from_the_secret_key(settings) -> None:
    settings.COCREATE_DATA_KEYS = []
    token = crypto.encrypt("x")
    assert Fernet(crypto.derived_key(settings.SECRET_KEY).encode()).decrypt(token.encode()) == b"x"
    assert crypto.uses_derived_key()
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_first_key_encrypts_all_keys_decrypt() -> None:
    old, new = _key(), _key()
    with override_settings(COCREATE_DATA_KEYS=[old]):
        old_token = crypto.encrypt("secret")
    with override_settings(COCREATE_DATA_KEYS=[new, old]):
        assert crypto.decrypt(old_token) == "secret"
        new_token = crypto.encrypt("secret")
        rotated = crypto.rotate(old_token)
    assert Fernet(new.encode()).decrypt(new_token.encode()) == b"secret"
    assert Fernet(new.encode()).decrypt(rotated.encode()) == b"secret"
    with override_settings(COCREATE_DATA_KEYS=[new]):
        assert crypto.decrypt(rotated) == "secret"
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(old_token)


def test_a_wrong_or_malformed_key_fails_loudly() -> None:
    token = crypto.encrypt("secret")
    with override_settings(COCREATE_DATA_KEYS=[_key()]), pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)
    with override_settings(COCREATE_DATA_KEYS=["not-a-key"]), pytest.raises(ImproperlyConfigured) as exc:
        crypto.encrypt("x")
    assert "not-a-key" not in str(exc.value)  # the message never echoes key material
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("garbage")


def test_digests_are_keyed_and_match_across_a_rotation() -> None:
    old, new = _key(), _key()
    with override_settings(COCREATE_DATA_KEYS=[old]):
        stored = crypto.digest("13900000001")
    with override_settings(COCREATE_DATA_KEYS=[new]):
        assert crypto.digest("13900000001") != stored  # keyed: another key, another digest
        assert not crypto.digest_matches("13900000001", stored)
    with override_settings(COCREATE_DATA_KEYS=[new, old]):
        assert crypto.digest_matches("13900000001", stored)
        assert not crypto.digest_matches("13900000002", stored)
        assert not crypto.digest_matches("13900000001", "")
        assert len(crypto.digests("13900000001")) == 2


def test_the_field_refuses_value_lookups() -> None:
    field = crypto.EncryptedTextField()
    field.name = "phone"
    assert field.get_lookup("exact") is None
    assert field.get_lookup("startswith") is None
    assert field.get_lookup("isnull") is not None
    assert field.get_prep_value("") == ""
    assert field.get_prep_value(None) is None
    assert crypto.decrypt(field.get_prep_value("x")) == "x"


def test_system_check_warns_in_production_without_keys(settings) -> None:
    settings.COCREATE_DATA_KEYS = []
    settings.DEBUG = False
    settings.TESTING = False
    assert [m.id for m in crypto.check_data_keys()] == ["cocreate.W001"]
    settings.COCREATE_DATA_KEYS = [_key()]
    assert crypto.check_data_keys() == []
    settings.COCREATE_DATA_KEYS = ["broken"]
    assert [m.id for m in crypto.check_data_keys()] == ["cocreate.E001"]
