"""Exports at rest: sealed under the keyring's ``export`` key, and only until they expire.

An export holds a subject's whole Service Information in clear once opened,
so it is sealed with AES-256-GCM through the safe envelope API
(:class:`servinfo.crypto.Sealer`, which chooses the nonce) under the current
``export`` key, with associated data binding it to its export id, subject and
kind: a ciphertext moved to another row, or another subject, does not open.
Exports are few (one per access or portability request), far below the 2**32
random nonces one key may take. They expire (30 days by default) and are
deleted when their subject is erased; an expired export is refused even if
its row is still there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select
from ulid import ULID

from servinfo.crypto import EXPORT, DataKey, IntegrityError, Keyring, RecordBinding, Sealer
from servinfo.rights.errors import ExportUnavailable
from servinfo.rights.models import ExportRow, RequestRow
from servinfo.store.engines import write_transaction

__all__ = ["ExportInfo", "ExportVault"]

_SCHEMA = 1
_REGION = "control"


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


class ExportVault:
    def __init__(self, engine: Engine, keyring: Keyring, ttl: dt.timedelta) -> None:
        self._engine = engine
        self._keyring = keyring
        self._ttl = ttl

    def store(
        self, request_id: str, subject_id: str, kind: str, blob: bytes, now: dt.datetime
    ) -> ExportInfo:
        key = self._keyring.current(EXPORT)
        export_id = str(ULID())
        sealed = Sealer(DataKey(key.key_id, key.secret)).seal(
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
                    key_id=key.key_id,
                    sealed=sealed,
                    size=len(blob),
                )
            )
        return info

    def latest(self, request_id: str) -> ExportInfo | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(ExportRow.__table__)
                .where(ExportRow.request_id == request_id)
                .order_by(ExportRow.id.desc())
                .limit(1)
            ).one_or_none()
        if row is None:
            return None
        return ExportInfo(
            row.id, row.request_id, row.kind, row.created_at, row.expires_at, row.size
        )

    def open(self, request_id: str, subject_id: str, now: dt.datetime) -> tuple[ExportInfo, bytes]:
        """The request's newest export, decrypted; :class:`ExportUnavailable` once expired."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(ExportRow.__table__)
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
        key = self._keyring.get(row.key_id)
        try:
            blob = Sealer(DataKey(key.key_id, key.secret)).open(
                _binding(row.id, subject_id, row.kind), row.sealed
            )
        except IntegrityError:
            raise ExportUnavailable(f"the export of request {request_id} does not open") from None
        info = ExportInfo(
            row.id, row.request_id, row.kind, row.created_at, row.expires_at, row.size
        )
        return info, blob

    def delete_for_subject(self, subject_id: str) -> int:
        """Delete every export of the subject's requests (erasure); how many."""
        requests = select(RequestRow.id).where(RequestRow.subject_id == subject_id)
        with write_transaction(self._engine) as connection:
            return connection.execute(
                delete(ExportRow).where(ExportRow.request_id.in_(requests))
            ).rowcount

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete expired exports; how many (a periodic task, or ``dsr purge-exports``)."""
        with write_transaction(self._engine) as connection:
            return connection.execute(delete(ExportRow).where(ExportRow.expires_at <= now)).rowcount
