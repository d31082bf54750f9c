"""Exports at rest: each under a key of its own, and only until it expires.

An export holds a subject's whole Service Information in clear once opened,
so it is sealed with AES-256-GCM through the safe envelope API
(:class:`servinfo.crypto.Sealer`, which chooses the nonce) under a random
256-bit data key of its own, with associated data binding it to its export
id, subject and kind: a ciphertext moved to another row, or another subject,
does not open. The data key is kept wrapped by the keyring's ``export`` key
(:class:`servinfo.crypto.KekWrapper`, its associated data binding the same
three) in ``rights_export_keys``, a table apart from the ciphertext.

When the export expires (30 days by default) it is refused; the purge
(:meth:`ExportVault.purge_expired`, run by ``servinfo serve`` and ``servinfo
dsr purge-exports``, see :mod:`servinfo.rights.purge`) then deletes its
wrapped key and its row, and pushes the freed bytes out of the database's
side files (:func:`servinfo.store.checkpoint`; SQLite runs with
``secure_delete``, which zeroes them). From then on no copy of the
ciphertext opens, whoever holds the master key and the keyring: the key that
sealed it exists nowhere. Erasure of the subject does the same at once.

Rows written before revision r0003 (``own_key`` false) were sealed directly
under the ``export`` key; they stay readable until they expire and are purged
alike.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, delete, func, insert, select
from ulid import ULID

from servinfo.crypto import (
    EXPORT,
    DataKey,
    IntegrityError,
    KekWrapper,
    Keyring,
    RecordBinding,
    Sealer,
    UnwrapError,
    new_data_key,
)
from servinfo.rights.errors import ExportUnavailable
from servinfo.rights.models import ExportKeyRow, ExportRow, RequestRow
from servinfo.store.engines import checkpoint, is_sqlite, write_transaction

__all__ = ["EXPORT_TABLES", "ExportInfo", "ExportVault"]

#: The control tables that hold exports and their keys (vacuumed after a purge on PostgreSQL).
EXPORT_TABLES = ("rights_export_keys", "rights_exports")

_SCHEMA = 1
_REGION = "control"
#: PostgreSQL advisory lock of the transactions that delete exports (any constant of our own).
_PURGE_LOCK = 0x5E1E_C7ED


@dataclass(frozen=True)
class ExportInfo:
    export_id: str
    request_id: str
    kind: str
    created_at: dt.datetime
    expires_at: dt.datetime
    size: int

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.export_id,
            "request_id": self.request_id,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "size": self.size,
        }


def _binding(export_id: str, subject_id: str, kind: str) -> RecordBinding:
    return RecordBinding(export_id, subject_id, "export", kind, _REGION, _SCHEMA)


def _key_context(export_id: str, subject_id: str, kind: str) -> str:
    """What an export's wrapped key is bound to (a JSON array: no two contexts collide)."""
    return json.dumps(["export", export_id, subject_id, kind], ensure_ascii=False)


def _info(row: Row[Any]) -> ExportInfo:
    return ExportInfo(row.id, row.request_id, row.kind, row.created_at, row.expires_at, row.size)


class ExportVault:
    def __init__(self, engine: Engine, keyring: Keyring, ttl: dt.timedelta) -> None:
        self._engine = engine
        self._keyring = keyring
        self._ttl = ttl

    def store(
        self, request_id: str, subject_id: str, kind: str, blob: bytes, now: dt.datetime
    ) -> ExportInfo:
        """Seal ``blob`` under a new data key; the export and its wrapped key in one commit."""
        kek = self._keyring.current(EXPORT)
        export_id = str(ULID())
        secret = new_data_key()
        wrapped = KekWrapper(kek).wrap(secret, _key_context(export_id, subject_id, kind))
        sealed = Sealer(DataKey(export_id, secret)).seal(
            _binding(export_id, subject_id, kind), blob
        )
        info = ExportInfo(export_id, request_id, kind, now, now + self._ttl, len(blob))
        with write_transaction(self._engine) as connection:
            connection.execute(
                insert(ExportRow).values(
                    id=export_id,
                    request_id=request_id,
                    kind=kind,
                    created_at=now,
                    expires_at=info.expires_at,
                    key_id=kek.key_id,
                    own_key=True,
                    sealed=sealed,
                    size=len(blob),
                )
            )
            connection.execute(insert(ExportKeyRow).values(export_id=export_id, wrapped=wrapped))
        return info

    def latest(self, request_id: str) -> ExportInfo | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(ExportRow.__table__)
                .where(ExportRow.request_id == request_id)
                .order_by(ExportRow.id.desc())
                .limit(1)
            ).one_or_none()
        return None if row is None else _info(row)

    def open(self, request_id: str, subject_id: str, now: dt.datetime) -> tuple[ExportInfo, bytes]:
        """The request's newest export, decrypted; :class:`ExportUnavailable` once expired."""
        with self._engine.connect() as connection:
            # One statement: the row and its key as one snapshot, even while a purge runs.
            row = connection.execute(
                select(ExportRow.__table__, ExportKeyRow.wrapped)
                .outerjoin(ExportKeyRow, ExportKeyRow.export_id == ExportRow.id)
                .where(ExportRow.request_id == request_id)
                .order_by(ExportRow.id.desc())
                .limit(1)
            ).one_or_none()
        if row is None:
            raise ExportUnavailable(
                f"request {request_id} has no export (process it first, or it was erased)"
            )
        if row.expires_at <= now:
            raise ExportUnavailable(
                f"the export of request {request_id} expired at {row.expires_at.isoformat()}; "
                "open a new access request for a fresh one"
            )
        try:
            sealer = self._sealer(row, subject_id)
            blob = sealer.open(_binding(row.id, subject_id, row.kind), row.sealed)
        except (IntegrityError, UnwrapError):
            raise ExportUnavailable(f"the export of request {request_id} does not open") from None
        return _info(row), blob

    def _sealer(self, row: Row[Any], subject_id: str) -> Sealer:
        kek = self._keyring.get(row.key_id)
        if not row.own_key:  # sealed before revision r0003, directly under the keyring key
            return Sealer(DataKey(kek.key_id, kek.secret))
        if row.wrapped is None:  # its key was destroyed: as good as gone
            raise IntegrityError(row.id)
        context = _key_context(row.id, subject_id, row.kind)
        return Sealer(DataKey(row.id, KekWrapper(kek).unwrap(row.wrapped, context)))

    def delete_for_subject(self, subject_id: str) -> int:
        """Destroy the keys of every export of the subject's requests and delete them (erasure).

        How many exports; the caller checkpoints the control database (see erasure).
        """
        requests = select(RequestRow.id).where(RequestRow.subject_id == subject_id)
        exports = select(ExportRow.id).where(ExportRow.request_id.in_(requests))
        with write_transaction(self._engine) as connection:
            return _delete(connection, exports)

    def delete_for_request(self, request_id: str) -> int:
        """Destroy the keys of the request's exports and delete them; how many.

        For a request whose processing was interrupted: an export its dead
        attempt stored was never the answer, and the next attempt makes its own.
        """
        exports = select(ExportRow.id).where(ExportRow.request_id == request_id)
        with write_transaction(self._engine) as connection:
            return _delete(connection, exports)

    def purge_expired(self, now: dt.datetime) -> int:
        """Destroy the keys of the exports expired by ``now`` and delete them; how many.

        Safe to run from several processes at once: each row is deleted by one
        transaction only (SQLite serializes writers; PostgreSQL's row locks make
        a concurrent DELETE skip what another deleted). When it deleted
        something, the freed bytes are pushed out of the side files
        (:func:`servinfo.store.checkpoint`); if readers kept SQLite's WAL
        pinned, the next checkpoint finishes the job.
        """
        expired = select(ExportRow.id).where(ExportRow.expires_at <= now)
        with write_transaction(self._engine) as connection:
            purged = _delete(connection, expired)
        if purged:
            checkpoint(self._engine, tables=EXPORT_TABLES)
        return purged


def _delete(connection: Connection, exports: Select[Any]) -> int:
    """Delete the keys, then the rows, of ``exports`` (a select of export ids); how many rows."""
    if not is_sqlite(connection.engine):
        # Purges of several workers, and an erasure, take turns: rows locked in
        # one order only, so no deadlock aborts one of them. (SQLite: BEGIN IMMEDIATE.)
        connection.execute(select(func.pg_advisory_xact_lock(_PURGE_LOCK)))
    connection.execute(delete(ExportKeyRow).where(ExportKeyRow.export_id.in_(exports)))
    return connection.execute(delete(ExportRow).where(ExportRow.id.in_(exports))).rowcount
