"""Subjects appear only as salted keyed pseudonyms; forgetting the salt unlinks them."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from sqlalchemy import func, select
from tests.audit.support import AuditBackend, event

from servinfo.audit import AuditEntry, AuditLog
from servinfo.audit.models import AuditEntryRow, SubjectSaltRow
from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.crypto.keyring import KeyVersion

SUBJECT = "subj-4711-unique"


def _pseudonyms(log: AuditLog) -> list[str | None]:
    return [e.subject_pseudonym for e in log.entries(0, log.size())]


def _all_bytes(backend: AuditBackend) -> list[bytes]:
    table = AuditEntryRow.__table__
    with backend.engine.connect() as connection:
        return [bytes(b) for b in connection.execute(select(table.c.entry)).scalars()]


def test_a_subject_has_one_pseudonym_and_never_appears_in_clear(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    audit_log.record_many([event(0, SUBJECT), event(1, "subj-other"), event(2, None)])
    audit_log.record("read", actor="p_1", subject_id=SUBJECT)
    first, other, nobody, again = _pseudonyms(audit_log)
    assert first == again
    assert first is not None
    assert other is not None
    assert first != other
    assert len(first) == 32
    assert nobody is None
    assert not any(SUBJECT.encode() in data for data in _all_bytes(audit_backend))


def test_the_pseudonym_is_the_keyed_hash_with_the_subject_salt(
    audit_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring
) -> None:
    audit_log.record("read", actor="p_1", subject_id=SUBJECT)
    table = SubjectSaltRow.__table__
    with audit_backend.engine.connect() as connection:
        salt = bytes(connection.execute(select(table.c.salt)).scalar_one())
    assert len(salt) == 32
    expected = Pseudonymizer(keyring.current(PSEUDONYM)).pseudonym(SUBJECT, salt)
    assert _pseudonyms(audit_log) == [expected]
    # Unsalted, the pseudonym would be recomputable by anyone with the key alone.
    assert expected != Pseudonymizer(keyring.current(PSEUDONYM)).pseudonym(SUBJECT)


def test_forgetting_a_subject_unlinks_it_and_the_log_still_verifies(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    audit_log.record_many(event(i, SUBJECT) for i in range(3))
    before = _pseudonyms(audit_log)[0]
    assert audit_log.forget_subject(SUBJECT) is True
    assert audit_log.forget_subject(SUBJECT) is False  # nothing left to forget
    table = SubjectSaltRow.__table__
    with audit_backend.engine.connect() as connection:
        salts = connection.execute(select(func.count()).select_from(table)).scalar_one()
    assert salts == 0
    audit_log.record("erasure", actor="dpo", subject_id=SUBJECT)
    pseudonyms = _pseudonyms(audit_log)
    assert pseudonyms[:3] == [before] * 3
    assert pseudonyms[3] is not None
    assert pseudonyms[3] != before
    assert audit_log.verify().entries == 4
    assert not any(SUBJECT.encode() in data for data in _all_bytes(audit_backend))
    assert all(AuditEntry.from_canonical(d).subject_pseudonym for d in _all_bytes(audit_backend))


def test_pseudonyms_are_stable_known_answers() -> None:
    """HMAC-SHA256(key, domain, salt, subject), each field length-prefixed, cut to 16 bytes.

    Pinned because entries keep their pseudonyms: if the computation changed, a
    subject's later entries would stop matching its earlier ones. The first
    value is also recomputed here from the definition.
    """
    secret, salt = bytes(range(32)), bytes(range(100, 132))
    key = KeyVersion(PSEUDONYM, 1, secret, datetime(2025, 1, 1, tzinfo=UTC))
    pseudonymizer = Pseudonymizer(key)
    fields = (b"servinfo pseudonym v1", salt, b"subj-4711")
    message = b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    assert hmac.new(secret, message, hashlib.sha256).digest()[:16].hex() == (
        "c87ad24d76f3909463e35cc10c496455"
    )
    assert pseudonymizer.pseudonym("subj-4711", salt) == "c87ad24d76f3909463e35cc10c496455"
    assert pseudonymizer.pseudonym("subj-4711") == "e29343cbcc7fe45b76f69ca6802266ab"
    assert pseudonymizer.pseudonym("é", salt) == "4eb57f53747afb2b36ab34fe62227cbc"
