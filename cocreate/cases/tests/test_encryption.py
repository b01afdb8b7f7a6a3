"""Parties' phone and ID numbers at rest: ciphertext in the column, rotation, wrong keys fail loudly."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from cocreate.cases import tracking
from cocreate.cases.models import Party, PartyRole
from cocreate.cases.tests import helpers as h
from cocreate.conftest import World
from cocreate.core import crypto

pytestmark = pytest.mark.django_db

ID_NUMBER = "990101195001011234"


def _raw(party: Party) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, id_number, phone_digest FROM cases_party WHERE id = %s", [party.pk])
        return cursor.fetchone()


def test_the_columns_hold_no_plaintext(world: World) -> None:
    case = h.register_for_visitor(world)
    party = Party.objects.get(case=case, role=PartyRole.APPLICANT)
    phone, id_number, digest = _raw(party)
    for stored, plain in ((phone, h.NON_ACCOUNT_PHONE), (id_number, ID_NUMBER)):
        assert plain not in stored
        assert stored.startswith("gAAAAA")  # a Fernet token
    assert h.NON_ACCOUNT_PHONE not in digest and digest == crypto.digest(h.NON_ACCOUNT_PHONE)
    # Through the model the values read back as given.
    party = Party.objects.get(pk=party.pk)
    assert (party.phone, party.id_number) == (h.NON_ACCOUNT_PHONE, ID_NUMBER)
    # The same phone encrypts differently every time, so the column cannot be matched by value.
    other = Party.objects.create(case=case, role=PartyRole.OTHER_PARTY, name="x", phone=h.NON_ACCOUNT_PHONE)
    assert _raw(other)[0] != phone


def test_encrypted_columns_refuse_value_lookups(world: World) -> None:
    with pytest.raises(FieldError):
        list(Party.objects.filter(phone=h.NON_ACCOUNT_PHONE))
    with pytest.raises(FieldError):
        list(Party.objects.filter(id_number__startswith="9901"))
    assert Party.objects.filter(phone__isnull=True).count() == 0


def test_rotation_re_encrypts_and_re_digests(world: World) -> None:
    # From the development default (which encrypted the world's rows) to a real key.
    old, new = crypto.derived_key(settings.SECRET_KEY), Fernet.generate_key().decode()
    with override_settings(COCREATE_DATA_KEYS=[old]):
        case = h.register_for_visitor(world)
        party = Party.objects.get(case=case, role=PartyRole.APPLICANT)
        before = _raw(party)
    with override_settings(COCREATE_DATA_KEYS=[new, old]):
        # New key first: old rows still read, and tracking still matches the old digest.
        assert Party.objects.get(pk=party.pk).phone == h.NON_ACCOUNT_PHONE
        assert tracking.find_by_code_and_phone(case.tracking_code, h.NON_ACCOUNT_PHONE) == case
        out = StringIO()
        call_command("rotate_data_keys", stdout=out)
        assert "cases.Party" in out.getvalue()
        after = _raw(party)
    assert after[0] != before[0] and after[1] != before[1] and after[2] != before[2]
    with override_settings(COCREATE_DATA_KEYS=[new]):
        # The old key is gone: everything reads, tracking matches.
        party = Party.objects.get(pk=party.pk)
        assert (party.phone, party.id_number) == (h.NON_ACCOUNT_PHONE, ID_NUMBER)
        assert tracking.find_by_code_and_phone(case.tracking_code, h.NON_ACCOUNT_PHONE) == case
        assert Fernet(new.encode()).decrypt(after[0].encode()).decode() == h.NON_ACCOUNT_PHONE


def test_a_wrong_key_fails_loudly(world: World) -> None:
    case = h.register_for_visitor(world)
    with override_settings(COCREATE_DATA_KEYS=[Fernet.generate_key().decode()]):
        with pytest.raises(crypto.DecryptionError):
            Party.objects.get(case=case, role=PartyRole.APPLICANT)
        # And the lookup digest differs too: tracking finds nothing rather than the wrong thing.
        assert tracking.find_by_code_and_phone(case.tracking_code, h.NON_ACCOUNT_PHONE) is None
