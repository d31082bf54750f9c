"""Subjects' salts for keys outside the log: what ties a derived key to erasure.

The audit log keys everything about a subject with the subject's random salt
(``subject_salts``, in the control database), and erasure destroys the salt
(:meth:`servinfo.audit.AuditLog.forget_subject`). A key derived from the salt
(:meth:`servinfo.crypto.Pseudonymizer.redaction_key`: the pseudonyms in a
subject's redacted free text) dies with it.

:func:`subject_salts` reads the salts of subjects and creates those missing, under
the same lock as the log's appends (which create salts too), so a salt is created
once. It never creates one for a subject the caller does not name in ``create``:
an erased subject's salt is gone for good, and making a new one would link again
what erasure unlinked.
"""

from __future__ import annotations

import os
from collections.abc import Collection

from sqlalchemy import Engine

from servinfo.audit import _storage
from servinfo.store.engines import write_transaction

__all__ = ["subject_salts"]

_SALT_SIZE = 32  # as the log's own


def subject_salts(
    engine: Engine, subject_ids: Collection[str], *, create: Collection[str] = ()
) -> dict[str, bytes]:
    """The salt of each of ``subject_ids`` that has one, a new one made for each of
    ``create`` that has none. ``engine`` is the control database's."""
    wanted = set(subject_ids)
    if not wanted:
        return {}
    with engine.connect() as connection:
        found = _storage.salts(connection, wanted)
    missing = [s for s in create if s in wanted and s not in found]
    if not missing:
        return found
    with write_transaction(engine) as connection:
        _storage.lock_state(connection)  # as an append: one of us creates each salt
        found.update(_storage.salts(connection, missing))
        new = {s: os.urandom(_SALT_SIZE) for s in missing if s not in found}
        _storage.insert_salts(connection, new)
        found.update(new)
    return found
