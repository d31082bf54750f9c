"""Tampering with any stored row of the log is found by ``AuditLog.verify``, naming the first bad
entry: content, leaf hashes, order, deletion, truncation, forged or altered heads, the state."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, select, update
from tests.audit.support import AuditBackend, event

from servinfo.audit import (
    AuditLog,
    CompactRange,
    HeadInvalid,
    LogTampered,
    leaf_hash,
    sign_tree_head,
)
from servinfo.audit.models import AuditEntryRow, AuditHeadRow, AuditStateRow, audit_metadata
from servinfo.crypto import Keyring

ENTRIES = audit_metadata.tables[AuditEntryRow.__tablename__]
HEADS = audit_metadata.tables[AuditHeadRow.__tablename__]
STATE = audit_metadata.tables[AuditStateRow.__tablename__]


@pytest.fixture
def full_log(audit_log: AuditLog) -> AuditLog:
    """45 entries in batches of 15: heads at 15, 30 and 45."""
    for start in range(0, 45, 15):
        audit_log.record_many(event(i) for i in range(start, start + 15))
    assert [audit_log.verify().heads, audit_log.size()] == [3, 45]
    return audit_log


def _tamper(backend: AuditBackend, change: Callable[[Connection], object]) -> None:
    with backend.engine.begin() as connection:
        change(connection)


def _entry(backend: AuditBackend, seq: int) -> tuple[bytes, bytes]:
    with backend.engine.connect() as connection:
        row = connection.execute(
            select(ENTRIES.c.entry, ENTRIES.c.leaf_hash).where(ENTRIES.c.seq == seq)
        ).one()
    return bytes(row.entry), bytes(row.leaf_hash)


def _set_entry(seq: int, **values: object) -> Callable[[Connection], object]:
    return lambda c: c.execute(update(ENTRIES).where(ENTRIES.c.seq == seq).values(**values))


def _first_bad(log: AuditLog) -> int:
    with pytest.raises(LogTampered) as caught:
        log.verify()
    return caught.value.index


def test_changed_content_is_found_at_its_entry(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    data, _ = _entry(audit_backend, 20)
    forged = data.replace(b'"rows":20', b'"rows":99')
    assert forged != data
    _tamper(audit_backend, _set_entry(20, entry=forged))
    assert _first_bad(full_log) == 20


def test_changed_leaf_hash_is_found_at_its_entry(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    _tamper(audit_backend, _set_entry(7, leaf_hash=bytes(32)))
    assert _first_bad(full_log) == 7


def test_content_changed_with_its_hash_is_found_after_the_last_good_head(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    data, _ = _entry(audit_backend, 20)
    forged = data.replace(b'"rows":20', b'"rows":99')
    assert forged != data
    _tamper(audit_backend, _set_entry(20, entry=forged, leaf_hash=leaf_hash(forged)))
    with pytest.raises(LogTampered, match="root signed in tree head 30") as caught:
        full_log.verify()
    assert caught.value.index == 15  # the head at 15 still vouches for 0..14


def test_swapped_rows_are_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    a, b = _entry(audit_backend, 3), _entry(audit_backend, 4)

    def swap(connection: Connection) -> None:
        _set_entry(3, entry=b[0], leaf_hash=b[1])(connection)
        _set_entry(4, entry=a[0], leaf_hash=a[1])(connection)

    _tamper(audit_backend, swap)
    assert _first_bad(full_log) == 0  # nothing before the first head can be vouched for


def test_renumbered_rows_are_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    def renumber(connection: Connection) -> None:
        connection.execute(update(ENTRIES).where(ENTRIES.c.seq == 3).values(seq=1000))
        connection.execute(update(ENTRIES).where(ENTRIES.c.seq == 4).values(seq=3))
        connection.execute(update(ENTRIES).where(ENTRIES.c.seq == 1000).values(seq=4))

    _tamper(audit_backend, renumber)
    assert _first_bad(full_log) == 0


def test_a_deleted_row_is_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    _tamper(audit_backend, lambda c: c.execute(delete(ENTRIES).where(ENTRIES.c.seq == 33)))
    with pytest.raises(LogTampered, match="found entry 34 in its place") as caught:
        full_log.verify()
    assert caught.value.index == 33


def test_truncation_below_the_latest_head_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    _tamper(audit_backend, lambda c: c.execute(delete(ENTRIES).where(ENTRIES.c.seq >= 40)))
    with pytest.raises(LogTampered, match="tree head 45 was signed") as caught:
        full_log.verify()
    assert caught.value.index == 40


def test_truncation_of_the_unsigned_tail_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    full_log.record_many(event(i) for i in range(45, 48))  # not yet signed
    _tamper(audit_backend, lambda c: c.execute(delete(ENTRIES).where(ENTRIES.c.seq >= 46)))
    with pytest.raises(LogTampered, match="46 entries but 48 were appended") as caught:
        full_log.verify()
    assert caught.value.index == 46


def test_truncation_together_with_its_heads_and_state_needs_an_outside_head(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """A rewrite of everything verifies on its own: a head kept outside catches it."""
    kept = full_log.latest_head()
    assert kept is not None
    frontier = CompactRange()
    with audit_backend.engine.connect() as connection:
        frontier.extend(
            bytes(h)
            for h in connection.execute(
                select(ENTRIES.c.leaf_hash).where(ENTRIES.c.seq < 30).order_by(ENTRIES.c.seq)
            ).scalars()
        )

    def rewrite(connection: Connection) -> None:
        connection.execute(delete(ENTRIES).where(ENTRIES.c.seq >= 30))
        connection.execute(delete(HEADS).where(HEADS.c.tree_size > 30))
        connection.execute(update(STATE).values(next_seq=30, frontier=frontier.to_bytes()))

    _tamper(audit_backend, rewrite)
    assert full_log.verify().entries == 30
    # The auditor asks for a proof from the head it kept: there is none to give.
    with pytest.raises(Exception, match="45"):
        full_log.consistency_bundle(45)


def test_a_head_signed_with_another_key_is_refused(
    full_log: AuditLog, audit_backend: AuditBackend, other_key: Ed25519PrivateKey
) -> None:
    head = full_log.latest_head()
    assert head is not None
    forged = sign_tree_head(other_key, head.key_id, 45, head.root_hash, head.timestamp)
    _tamper(
        audit_backend,
        lambda c: c.execute(
            update(HEADS).where(HEADS.c.tree_size == 45).values(signature=forged.signature)
        ),
    )
    with pytest.raises(HeadInvalid, match="signature does not verify") as caught:
        full_log.verify()
    assert caught.value.tree_size == 45


def test_a_head_whose_root_was_altered_is_refused(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    _tamper(
        audit_backend,
        lambda c: c.execute(
            update(HEADS).where(HEADS.c.tree_size == 30).values(root_hash=bytes(32))
        ),
    )
    with pytest.raises(HeadInvalid, match="tree head 30"):
        full_log.verify()


def test_a_head_signed_by_the_real_key_over_a_wrong_root_names_the_entries(
    full_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring
) -> None:
    """What a thief of the signing key could do: the entries still disagree with it."""
    head = full_log.latest_head()
    assert head is not None
    wrong = sign_tree_head(keyring.signing_key(), head.key_id, 30, bytes(32), head.timestamp)
    _tamper(
        audit_backend,
        lambda c: c.execute(
            update(HEADS)
            .where(HEADS.c.tree_size == 30)
            .values(root_hash=wrong.root_hash, signature=wrong.signature)
        ),
    )
    assert _first_bad(full_log) == 15


def test_a_forged_frontier_is_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    bogus = CompactRange(30, [bytes(32)] * 4).to_bytes()
    _tamper(
        audit_backend,
        lambda c: c.execute(update(HEADS).where(HEADS.c.tree_size == 30).values(frontier=bogus)),
    )
    with pytest.raises(HeadInvalid, match="frontier"):
        full_log.verify()


def test_a_forged_sequencer_state_is_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    full_log.record_many(event(i) for i in range(45, 48))
    bogus = CompactRange(48, [bytes(32)] * 2).to_bytes()
    _tamper(audit_backend, lambda c: c.execute(update(STATE).values(frontier=bogus)))
    assert _first_bad(full_log) == 45
