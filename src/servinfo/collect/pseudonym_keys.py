"""The keys of the pseudonyms in subjects' redacted free text.

A subject's key is derived from the deployment's ``pseudonym`` key and the subject's
audit salt (:meth:`servinfo.crypto.Pseudonymizer.redaction_key`), as the audit log
derives the key of a subject's references: erasure destroys the salt, and with it
every link between the pseudonyms of that subject's remaining records and any value.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine

from servinfo.audit.subject_salts import subject_salts
from servinfo.collect.redaction.replacement import SubjectPseudonyms
from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer

__all__ = ["RedactionKeys"]


class RedactionKeys:
    """Subjects' pseudonym keys, from the control database's salts."""

    def __init__(self, control: Engine, keyring: Keyring) -> None:
        self._control = control
        self._keyring = keyring

    def __repr__(self) -> str:
        return "RedactionKeys(...)"

    def for_subjects(
        self, subject_ids: Collection[str], *, live: Collection[str]
    ) -> dict[str, SubjectPseudonyms]:
        """The pseudonyms of each of ``subject_ids`` that has a salt; a salt is made for a
        subject of ``live`` (not erased) that has none, never for another."""
        salts = subject_salts(self._control, subject_ids, create=live)
        if not salts:
            return {}
        pseudonymizer = Pseudonymizer(self._keyring.current(PSEUDONYM))
        return {
            subject: SubjectPseudonyms(pseudonymizer.redaction_key(subject, salt))
            for subject, salt in salts.items()
        }
