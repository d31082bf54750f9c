"""Destroying data keys again by id, in a restored region (a shred-ledger replay).

A retention sweep destroys the data keys nothing is sealed under any more and
writes their ids to the shred ledger (:mod:`servinfo.retention.ledger`). A
backup taken before still holds those keys, wrapped, and the records they
sealed. :func:`destroy_keys` is what a restore replays for them: in one
transaction that holds the region's writers off, the records sealed under the
keys are deleted with their blind indexes and ingest marks, and the key rows
deleted (SQLite's ``secure_delete`` zeroes them; the WAL is checkpointed after,
PostgreSQL vacuums), so no copy of the key remains in the restored store.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, delete, select

from servinfo.store.engines import checkpoint, lock_for_erasure, write_transaction
from servinfo.store.models import BlindIndexRow, DataKeyRow, RecordRow, RequestMarkRow

__all__ = ["destroy_keys"]

#: Key ids per statement: well under every backend's parameter limit.
_CHUNK = 500


def destroy_keys(engine: Engine, key_ids: Sequence[str]) -> int:
    """Delete these data keys and what they sealed; how many keys the region still had."""
    destroyed = 0
    for start in range(0, len(key_ids), _CHUNK):
        chunk = list(key_ids[start : start + _CHUNK])
        with write_transaction(engine) as connection:
            lock_for_erasure(connection)
            sealed = select(RecordRow.id).where(RecordRow.key_id.in_(chunk))
            connection.execute(delete(BlindIndexRow).where(BlindIndexRow.record_id.in_(sealed)))
            connection.execute(delete(RequestMarkRow).where(RequestMarkRow.record_id.in_(sealed)))
            connection.execute(delete(RecordRow).where(RecordRow.key_id.in_(chunk)))
            destroyed += connection.execute(
                delete(DataKeyRow).where(DataKeyRow.id.in_(chunk))
            ).rowcount
    if key_ids:
        checkpoint(engine, tables=("data_keys", "records", "blind_index"))
    return destroyed
