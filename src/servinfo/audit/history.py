"""A subject's keys and history in the audit log.

:class:`SubjectKeys` derives, from a subject's salt, what the append writes for
them: the pseudonym and the key of the references (:func:`read_history` gives
the same key to the subject with their entries, found through the subjects'
index).

The access export (:mod:`servinfo.rights`) gives a person every entry about
them with the key of its references, so that the person can recompute, for an
identifier they know (a record id, a request id), the reference the entries
hold: :func:`servinfo.audit.entries.reference`. Entries of format 1 name those
identifiers in clear.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from servinfo.audit import _storage
from servinfo.audit._template import pseudonym_tail
from servinfo.audit.errors import LogTampered
from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.crypto.keyed_hash import KeyedReferences

__all__ = ["SubjectHistory", "SubjectKeys", "read_history", "subject_pseudonyms"]

#: Subjects whose derived keys a process keeps at most (some 30 MB).
_MAX_KEPT = 100_000
#: A subject's ``(pseudonym as 16 bytes, references, entry tail)``.
Derived = tuple[bytes, KeyedReferences, bytes]


class SubjectKeys:
    """Each subject's pseudonym, references and entry tail, derived from its salt; and the
    salts this process saw committed.

    Derivations are kept by ``(subject, salt)`` under the current pseudonym key:
    deriving them cost more than the rest of an entry about a subject. A kept
    derivation is only found with its salt, so once the salt is destroyed no
    append uses it again; :meth:`forget` drops it in the process that erased,
    other processes when their cache is next emptied (full, or a new key).

    Salts are kept by subject (:meth:`known`) once the batch that read or created
    them committed, with the count of erasures (``audit_state.erasures``) that
    batch read. Only an erasure destroys a salt, and it adds one to the count in
    its own transaction: a batch that reads the same count finds every kept salt
    still stored, and reads only the salts of the subjects it does not know
    (reading every subject's salt in every batch cost more than a microsecond an
    entry). A batch that reads another count reads them all again.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._kept: dict[tuple[str, bytes], Derived] = {}
        self._key_id = ""
        #: What the append writes for each subject whose salt this process saw committed
        #: (with ``_erasures`` erasures counted), under the key ``_key_id``.
        self._committed: dict[str, Derived] = {}
        self._erasures = -1
        self._lock = threading.Lock()

    def known(self, subjects: Iterable[str], erasures: int) -> tuple[dict[str, Derived], list[str]]:
        """What the append writes for each of ``subjects`` whose salt this process saw
        committed while the count of erasures was ``erasures``; and the other subjects."""
        key_id = self._keyring.current(PSEUDONYM).key_id
        with self._lock:
            current = erasures == self._erasures and key_id == self._key_id
            committed = self._committed if current else {}
        derived: dict[str, Derived] = {}
        unknown: list[str] = []
        find = committed.get
        for subject in subjects:
            found = find(subject)
            if found is None:
                unknown.append(subject)
            else:
                derived[subject] = found
        return derived, unknown

    def committed(self, salts: Mapping[str, bytes], erasures: int) -> None:
        """Keep ``salts``: read or created by a batch that read ``erasures``, and committed."""
        with self._lock:
            # Derived under the current key: a derivation under an earlier one is not found.
            kept = self._kept
            if erasures < self._erasures:  # a later batch saw a later erasure
                return
            if erasures != self._erasures or len(self._committed) > _MAX_KEPT:
                self._committed = {}
                self._erasures = erasures
            for subject, salt in salts.items():
                found = kept.get((subject, salt))
                if found is not None:
                    self._committed[subject] = found

    def derive(self, salts: Mapping[str, bytes]) -> dict[str, Derived]:
        """What the append writes for each subject of ``salts`` (subject id → salt)."""
        key = self._keyring.current(PSEUDONYM)
        with self._lock:
            if self._key_id != key.key_id or len(self._kept) > _MAX_KEPT:
                # New dictionaries: a concurrent batch goes on with the ones it has.
                self._kept, self._committed = {}, {}
                self._key_id = key.key_id
            kept = self._kept
        pseudonymizer: Pseudonymizer | None = None
        derived = {}
        for subject, salt in salts.items():
            found = kept.get((subject, salt))
            if found is None:
                if pseudonymizer is None:
                    pseudonymizer = Pseudonymizer(key)
                pseudonym = pseudonymizer.pseudonym(subject, salt)
                found = kept[subject, salt] = (
                    bytes.fromhex(pseudonym),
                    KeyedReferences(pseudonymizer.reference_key(subject, salt)),
                    pseudonym_tail(pseudonym),
                )
            derived[subject] = found
        return derived

    def forget(self, subject_id: str, salt: bytes) -> None:
        self._kept.pop((subject_id, salt), None)
        with self._lock:
            self._committed.pop(subject_id, None)


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
    end = _storage.read_state(connection)[0]
    rows = _storage.subject_entries(connection, bytes.fromhex(pseudonym), end)
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
