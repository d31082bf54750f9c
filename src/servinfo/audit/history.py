"""A subject's history in the audit log: their entries, found through the subjects' index.

The access export (:mod:`servinfo.rights`) gives a person every entry about
them with the key of its references, so that the person can recompute, for an
identifier they know (a record id, a request id), the reference the entries
hold: :func:`servinfo.audit.entries.reference`. Entries of format 1 name those
identifiers in clear.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from servinfo.audit import _storage
from servinfo.audit.errors import LogTampered
from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer

__all__ = ["SubjectHistory", "read_history", "subject_pseudonyms"]


@dataclass(frozen=True)
class SubjectHistory:
    """Every entry about one subject under its current salt, in seq order."""

    #: The pseudonym the entries name (32 lower-case hex characters).
    pseudonym: str
    #: The key of the references in the entries of format 2 (secret: the subject's alone).
    reference_key: bytes
    #: ``(seq, stored canonical bytes)``, the bytes exactly as hashed into the log.
    entries: list[tuple[int, bytes]]

    def __repr__(self) -> str:  # never the key
        return f"SubjectHistory(pseudonym={self.pseudonym!r}, entries={len(self.entries)})"


def read_history(
    connection: Connection, keyring: Keyring, subject_id: str
) -> SubjectHistory | None:
    """``subject_id``'s history, or None when it has no salt (never audited, or forgotten)."""
    salt = _storage.salts(connection, [subject_id]).get(subject_id)
    if salt is None:
        return None
    pseudonymizer = Pseudonymizer(keyring.current(PSEUDONYM))
    pseudonym = pseudonymizer.pseudonym(subject_id, salt)
    rows = _storage.subject_entries(connection, bytes.fromhex(pseudonym))
    named = b'"subject_pseudonym":"%s"' % pseudonym.encode()
    for seq, data in rows:
        if named not in data:
            raise LogTampered(seq, "the subjects' index lists an entry about someone else")
    return SubjectHistory(pseudonym, pseudonymizer.reference_key(subject_id, salt), rows)


def subject_pseudonyms(keyring: Keyring, subject_id: str, salt: bytes) -> list[bytes]:
    """The 16 bytes of ``subject_id``'s pseudonym under every version of the pseudonym key:
    entries appended before a rotation name the older one."""
    return [
        bytes.fromhex(Pseudonymizer(key).pseudonym(subject_id, salt))
        for key in keyring.versions(PSEUDONYM)
    ]
