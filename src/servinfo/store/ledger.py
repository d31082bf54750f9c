"""The shred ledger: which subjects were erased, by keyed pseudonym, in the control database.

It records each erasure's progress region by region inside the deployment (a
pending entry until the keys are destroyed). Being in the control database, it
goes into every backup and comes back with a restore: the erasures a restore
must re-apply are read from the shred ledger kept apart from the data,
:mod:`servinfo.retention.ledger`, which erasure writes first. Entries name the
subject only by its keyed pseudonym (``pseudonym`` key of the keyring, recorded
with its version), so the ledger itself keeps no identifier.

An entry is written *before* the keys are destroyed and completed after: a
crash in between leaves a pending entry, and re-running the erasure finishes it.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update
from ulid import ULID

from servinfo.store.models import ShredLedgerRow

__all__ = ["LedgerEntry", "ShredLedger"]


@dataclass(frozen=True)
class LedgerEntry:
    """One erasure in one region."""

    entry_id: str
    subject_pseudonym: str
    pseudonym_key_id: str
    region: str
    kept_classes: tuple[str, ...]
    #: None while the erasure is pending (keys not yet destroyed).
    destroyed_classes: tuple[str, ...] | None
    erased_at: datetime
    completed_at: datetime | None

    @property
    def pending(self) -> bool:
        return self.completed_at is None


class ShredLedger:
    """Reads the shred ledger; the record writer's erasure is its only writer."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def entries(self, *, pseudonym: str | None = None, pending: bool = False) -> list[LedgerEntry]:
        """Entries, oldest first; only one subject's, or only pending ones, on request."""
        query = select(
            ShredLedgerRow.id,
            ShredLedgerRow.subject_pseudonym,
            ShredLedgerRow.pseudonym_key_id,
            ShredLedgerRow.region,
            ShredLedgerRow.kept_classes,
            ShredLedgerRow.destroyed_classes,
            ShredLedgerRow.erased_at,
            ShredLedgerRow.completed_at,
        ).order_by(ShredLedgerRow.erased_at, ShredLedgerRow.id)
        if pseudonym is not None:
            query = query.where(ShredLedgerRow.subject_pseudonym == pseudonym)
        if pending:
            query = query.where(ShredLedgerRow.completed_at.is_(None))
        with self._engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]


def begin_entries(
    connection: Connection,
    *,
    pseudonym: str,
    pseudonym_key_id: str,
    regions: Collection[str],
    kept_classes: Collection[str],
    now: datetime,
) -> dict[str, str]:
    """Insert a pending entry per region; the entry ids by region."""
    ids = {region: str(ULID()) for region in sorted(regions)}
    connection.execute(
        insert(ShredLedgerRow),
        [
            {
                "id": entry_id,
                "subject_pseudonym": pseudonym,
                "pseudonym_key_id": pseudonym_key_id,
                "region": region,
                "kept_classes": json.dumps(sorted(kept_classes)),
                "destroyed_classes": None,
                "erased_at": now,
                "completed_at": None,
            }
            for region, entry_id in ids.items()
        ],
    )
    return ids


def complete_entry(
    connection: Connection, entry_id: str, destroyed_classes: Collection[str], now: datetime
) -> None:
    connection.execute(
        update(ShredLedgerRow)
        .where(ShredLedgerRow.id == entry_id)
        .values(destroyed_classes=json.dumps(sorted(destroyed_classes)), completed_at=now)
    )


def _entry(row: Row[*tuple[Any, ...]]) -> LedgerEntry:
    destroyed = None if row.destroyed_classes is None else json.loads(row.destroyed_classes)
    return LedgerEntry(
        entry_id=row.id,
        subject_pseudonym=row.subject_pseudonym,
        pseudonym_key_id=row.pseudonym_key_id,
        region=row.region,
        kept_classes=tuple(json.loads(row.kept_classes)),
        destroyed_classes=None if destroyed is None else tuple(destroyed),
        erased_at=row.erased_at,
        completed_at=row.completed_at,
    )
