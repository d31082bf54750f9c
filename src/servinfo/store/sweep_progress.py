"""A retention sweep's counts, kept in the region database until its audit entry is written.

A sweep runs as a job delivered at least once: an attempt killed mid-sweep has
deleted some records and written no audit entry, and the attempt that finishes
the sweep must count them too. So each batch adds its counts (per outcome and
kind) to ``sweep_progress`` in the transaction that deletes the batch
(:meth:`SweepTally.add`: one upsert per kind): the counts are durable exactly
when the deletions are.

Finishing a sweep spans two databases (the audit log is in the control one), so
it goes in three steps, each safe to crash after:

(1) :func:`seal_sweep` stores the summed report in ``sweep_seals`` together with
    the audit log's size before the entry;
(2) the caller writes the audit entry, naming the sweep;
(3) :func:`clear_sweep` deletes the sweep's progress and seal.

A rerun that finds the sweep sealed (:func:`sealed_sweep`) sweeps nothing more:
it looks for the entry from the sealed size on, writes it only if it is absent,
and clears.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select

from servinfo.store.engines import is_sqlite, write_transaction
from servinfo.store.models import SweepProgressRow, SweepSealRow

__all__ = [
    "ATTEMPTS",
    "KEYS_DESTROYED",
    "SealedSweep",
    "SweepTally",
    "clear_sweep",
    "seal_sweep",
    "sealed_sweep",
    "sweep_totals",
]

#: Outcomes counted without a kind (stored under the empty kind).
ATTEMPTS = "attempts"
KEYS_DESTROYED = "keys_destroyed"

# ON CONFLICT … DO UPDATE: the same statement on SQLite (3.24+) and PostgreSQL.
_ADD = (
    "INSERT INTO sweep_progress (sweep_id, outcome, kind, amount) VALUES ({p}, {p}, {p}, {p}) "
    "ON CONFLICT (sweep_id, outcome, kind) DO UPDATE SET amount = sweep_progress.amount + "
    "excluded.amount"
)


@dataclass(frozen=True)
class SweepTally:
    """Adds a sweep's counts inside the transactions of its batches."""

    sweep_id: str

    def add(self, connection: Connection, outcome: str, counts: Mapping[str, int]) -> None:
        """Add ``counts`` (by kind; ``""`` for none) to the sweep's ``outcome``, in
        ``connection``'s transaction: one upsert per kind."""
        rows = [(self.sweep_id, outcome, kind, n) for kind, n in sorted(counts.items()) if n]
        if rows:
            p = "?" if is_sqlite(connection.engine) else "%s"
            connection.exec_driver_sql(_ADD.format(p=p), rows)

    def begin_attempt(self, engine: Engine) -> None:
        """Count one more attempt at the sweep."""
        with write_transaction(engine) as connection:
            self.add(connection, ATTEMPTS, {"": 1})


def sweep_totals(engine: Engine, sweep_id: str) -> dict[str, dict[str, int]]:
    """Every count of the sweep so far, by outcome, then kind."""
    query = select(SweepProgressRow.outcome, SweepProgressRow.kind, SweepProgressRow.amount).where(
        SweepProgressRow.sweep_id == sweep_id
    )
    totals: defaultdict[str, dict[str, int]] = defaultdict(dict)
    with engine.connect() as connection:
        for outcome, kind, amount in connection.execute(query):
            totals[outcome][kind] = int(amount)
    return dict(totals)


@dataclass(frozen=True)
class SealedSweep:
    audit_from: int
    #: The report whose audit entry is being written (JSON, counts only).
    report: str


def sealed_sweep(engine: Engine, sweep_id: str) -> SealedSweep | None:
    """The sweep's seal, if its audit entry may have been written already."""
    query = select(SweepSealRow.audit_from, SweepSealRow.report).where(
        SweepSealRow.sweep_id == sweep_id
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else SealedSweep(int(row.audit_from), row.report)


def seal_sweep(engine: Engine, sweep_id: str, report: str, audit_from: int) -> None:
    """Step (1): the summed report, and where in the audit log its entry will be."""
    with write_transaction(engine) as connection:
        connection.execute(
            insert(SweepSealRow).values(sweep_id=sweep_id, audit_from=audit_from, report=report)
        )


def clear_sweep(engine: Engine, sweep_id: str) -> None:
    """Step (3): the sweep's entry is written; its progress and seal go, in one transaction."""
    with write_transaction(engine) as connection:
        connection.execute(delete(SweepProgressRow).where(SweepProgressRow.sweep_id == sweep_id))
        connection.execute(delete(SweepSealRow).where(SweepSealRow.sweep_id == sweep_id))
