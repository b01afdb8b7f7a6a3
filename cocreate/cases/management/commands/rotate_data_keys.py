"""Re-encrypts every encrypted column under the newest key in COCREATE_DATA_KEYS and recomputes digests.

Run after putting a new key first; afterwards the old key can be removed (docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from cocreate.core import crypto

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt personal data under the newest COCREATE_DATA_KEYS key and recompute lookup digests."

    def handle(self, *args: Any, **options: Any) -> None:
        for model in apps.get_models():
            fields = crypto.encrypted_fields(model)
            if not fields:
                continue
            done = 0
            last_pk: Any = None
            while True:
                # Batches by primary key, each in its own transaction: a long table never holds one
                # huge lock, and a rerun after an interruption simply re-encrypts again.
                with transaction.atomic():
                    qs = model._default_manager.select_for_update().order_by("pk")
                    if last_pk is not None:
                        qs = qs.filter(pk__gt=last_pk)
                    rows = list(qs[:BATCH])
                    for row in rows:
                        changed = list(fields)
                        refresh = getattr(row, "refresh_digests", None)
                        if refresh is not None:
                            changed += refresh()
                        # Saving decrypts nothing more: the values were read (with any key) and are
                        # written again under the first key.
                        row.save(update_fields=changed)
                if not rows:
                    break
                last_pk = rows[-1].pk
                done += len(rows)
            self.stdout.write(f"{model._meta.label}: {done} rows re-encrypted")
