"""The recovery ledger: the shred ledger a restore cannot roll back, and the backup catalogue.

A backup holds the wrapped keys and the ciphertext of everything it copied.
Restoring it would bring back every subject erased and every key destroyed
after it was taken — unless what was destroyed is remembered somewhere the
backup is not. That is this store, kept apart from the data directory and its
databases (``backup.ledger``: a SQLite file beside the key material by default,
or a PostgreSQL database of its own), like the audit signer's state:

* ``recovery_shred_ledger``: append-only, one row per erasure, per page of data keys a
  retention sweep destroyed, per backup key destroyed, per restore and per
  override. Each row's ``hash`` is SHA-256 over the previous row's hash and the
  row's canonical JSON, so a row changed or removed from the middle breaks the
  chain (:meth:`RecoveryLedger.verify`); each row is mirrored in the audit log
  (its seq and hash: in the erasure's or the sweep's own entry, else in an entry
  ``shred_ledger`` of its own), so a ledger replaced by an older copy shows
  against the witnessed log. Rows name subjects only by their keyed
  pseudonym and keys by their random ids: no personal data.
* ``backup_catalogue``: one row per backup: its key wrapped by the master key
  (never in the backup file), when it expires, and the ledger's length when it
  was taken (a restore replays every row from there on). Expiry overwrites the
  wrapped key: the backup can no longer be opened, wherever its file went.

The store creates its two tables on first use and records its schema version;
a store of another version is refused rather than guessed at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.exc import OperationalError

from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.errors import ServinfoError
from servinfo.store.engines import checkpoint, create_engine_for, is_sqlite, write_transaction
from servinfo.store.errors import StoreError

__all__ = [
    "BACKUP_KEY_DESTROYED",
    "ERASURE",
    "KEYS_DESTROYED",
    "RESTORE",
    "RESTORE_OVERRIDE",
    "BackupCatalogue",
    "CatalogueEntry",
    "LedgerBroken",
    "LedgerEntry",
    "LedgerError",
    "LedgerMissing",
    "RecoveryLedger",
    "erasure_body",
]

#: The kinds of shred-ledger rows.
ERASURE = "erasure"
KEYS_DESTROYED = "keys_destroyed"
BACKUP_KEY_DESTROYED = "backup_key_destroyed"
RESTORE = "restore"
RESTORE_OVERRIDE = "restore_override"

SCHEMA_VERSION = 1
_GENESIS = "0" * 64

_metadata = MetaData()
_catalogue_metadata = MetaData()


def _meta_table(metadata: MetaData) -> Table:
    return Table(
        "recovery_meta",
        metadata,
        Column("singleton", Integer, primary_key=True, autoincrement=False),
        Column("schema_version", Integer, nullable=False),
    )


_meta = _meta_table(_metadata)
_catalogue_meta = _meta_table(_catalogue_metadata)
_ledger = Table(
    "recovery_shred_ledger",
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("at", String(40), nullable=False),
    Column("deployment_id", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
_catalogue = Table(
    "backup_catalogue",
    _catalogue_metadata,
    Column("backup_id", String(40), primary_key=True),
    Column("deployment_id", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("ledger_seq", Integer, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("destroyed_at", String(40), nullable=True),
    Column("size_bytes", Integer, nullable=True),
    Column("file_name", String(255), nullable=False),
)


class LedgerError(ServinfoError):
    """The recovery ledger cannot be reached, or is not one servinfo can use."""

    code = "recovery_ledger_error"


class LedgerMissing(LedgerError):
    """The shred ledger (or the backup catalogue) is not where the settings say."""

    code = "recovery_ledger_missing"


class LedgerBroken(LedgerError):
    """A ledger row was changed or removed: its hash chain does not verify."""

    code = "recovery_ledger_broken"


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    kind: str
    at: dt.datetime
    deployment_id: str
    body: Mapping[str, Any]
    hash: str


@dataclass(frozen=True)
class CatalogueEntry:
    backup_id: str
    deployment_id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    #: The ledger's length when the backup was taken: a restore replays from here.
    ledger_seq: int
    #: None once the backup expired (its key destroyed).
    wrapped_key: bytes | None
    destroyed_at: dt.datetime | None
    size_bytes: int | None
    file_name: str

    @property
    def expired(self) -> bool:
        return self.wrapped_key is None


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times in the ledger must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat()


def _chain(prev_hash: str, seq: int, kind: str, at: str, deployment_id: str, body: str) -> str:
    canonical = json.dumps(
        [seq, kind, at, deployment_id, body], separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical.encode("ascii")).hexdigest()


class _RecoveryStore:
    """A small database of its own, apart from the deployment's, reached by URL."""

    _metadata: MetaData
    _meta: Table
    _what: str

    def __init__(self, url: str, *, must_exist: bool = False) -> None:
        self._url = url
        self._engine: Engine | None = None
        self._must_exist = must_exist

    @property
    def location(self) -> str:
        """Where the store is, without credentials."""
        return make_url(self._url).render_as_string(hide_password=True)

    def exists(self) -> bool:
        """Whether the store is there (a SQLite file that exists, or any server database)."""
        parsed = make_url(self._url)
        if parsed.get_backend_name() != "sqlite":
            return True
        return parsed.database is not None and Path(parsed.database).is_file()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self._must_exist and not self.exists():
                raise LedgerMissing(f"the {self._what} {self.location} does not exist")
            if make_url(self._url).get_backend_name() == "sqlite":
                database = make_url(self._url).database or ""
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_engine_for(self._url)
            self._prepare(self._engine)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _prepare(self, engine: Engine) -> None:
        try:
            with write_transaction(engine) as connection:
                self._metadata.create_all(connection)
                found = connection.execute(select(self._meta.c.schema_version)).scalar()
                if found is None:
                    connection.execute(
                        insert(self._meta).values(singleton=1, schema_version=SCHEMA_VERSION)
                    )
                elif found != SCHEMA_VERSION:
                    raise LedgerError(
                        f"the {self._what} {self.location} is of schema version "
                        f"{found}, expected {SCHEMA_VERSION}"
                    )
        except (OperationalError, StoreError) as error:
            engine.dispose()
            cause = getattr(error, "orig", None) or error
            raise LedgerError(
                f"cannot open the {self._what} {self.location}: {str(cause).splitlines()[0]}"
            ) from None


class RecoveryLedger(_RecoveryStore):
    """The shred ledger (see the module docstring). ``mirror`` is called with each appended
    row after its commit (the deployment mirrors it into the audit log)."""

    _metadata = _metadata
    _meta = _meta
    _what = "shred ledger"

    def __init__(
        self,
        url: str,
        *,
        mirror: Callable[[LedgerEntry], None] | None = None,
        must_exist: bool = False,
    ) -> None:
        super().__init__(url, must_exist=must_exist)
        self._mirror = mirror

    # -- the shred ledger -------------------------------------------------------------

    def append(
        self,
        kind: str,
        body: Mapping[str, Any],
        *,
        deployment_id: str,
        at: dt.datetime,
        mirror: bool = True,
    ) -> LedgerEntry:
        """Append one row, chained to the last; durable when this returns. ``mirror=False``:
        the caller's own audit entry names the row (an erasure's, a sweep's)."""
        text = json.dumps(dict(body), sort_keys=True, separators=(",", ":"))
        when = _iso(at)
        with write_transaction(self.engine) as connection:
            if not is_sqlite(self.engine):  # SQLite's BEGIN IMMEDIATE already serializes
                connection.exec_driver_sql("LOCK TABLE recovery_shred_ledger IN EXCLUSIVE MODE")
            last = connection.execute(
                select(_ledger.c.seq, _ledger.c.hash).order_by(_ledger.c.seq.desc()).limit(1)
            ).first()
            seq = 0 if last is None else last.seq + 1
            prev = _GENESIS if last is None else last.hash
            digest = _chain(prev, seq, kind, when, deployment_id, text)
            connection.execute(
                insert(_ledger).values(
                    seq=seq,
                    kind=kind,
                    at=when,
                    deployment_id=deployment_id,
                    body=text,
                    prev_hash=prev,
                    hash=digest,
                )
            )
        entry = LedgerEntry(seq, kind, at, deployment_id, json.loads(text), digest)
        if mirror and self._mirror is not None:
            self._mirror(entry)
        return entry

    def length(self) -> int:
        """How many rows the ledger holds (the next row's seq)."""
        with self.engine.connect() as connection:
            last = connection.execute(select(_ledger.c.seq).order_by(_ledger.c.seq.desc()).limit(1))
            found = last.scalar()
        return 0 if found is None else int(found) + 1

    def entries(self, start: int = 0) -> Iterator[LedgerEntry]:
        """The rows from ``start`` on, oldest first, each checked against the chain."""
        prev: str | None = None
        with self.engine.connect() as connection:
            if start > 0:
                prev = connection.execute(
                    select(_ledger.c.hash).where(_ledger.c.seq == start - 1)
                ).scalar()
                if prev is None:
                    raise LedgerBroken(f"the recovery ledger has no row {start - 1}")
            rows = connection.execute(
                select(_ledger).where(_ledger.c.seq >= start).order_by(_ledger.c.seq)
            )
            expected_seq = start
            for row in rows:
                if row.seq != expected_seq:
                    raise LedgerBroken(f"the recovery ledger lacks row {expected_seq}")
                if prev is not None and row.prev_hash != prev:
                    raise LedgerBroken(f"row {row.seq} of the recovery ledger does not chain")
                if prev is None and row.seq == 0 and row.prev_hash != _GENESIS:
                    raise LedgerBroken("row 0 of the recovery ledger does not chain")
                if _chain(
                    row.prev_hash, row.seq, row.kind, row.at, row.deployment_id, row.body
                ) != (row.hash):
                    raise LedgerBroken(f"row {row.seq} of the recovery ledger was changed")
                prev = row.hash
                expected_seq += 1
                yield LedgerEntry(
                    row.seq,
                    row.kind,
                    dt.datetime.fromisoformat(row.at),
                    row.deployment_id,
                    json.loads(row.body),
                    row.hash,
                )

    def verify(self) -> int:
        """Check the whole chain; how many rows it holds."""
        return sum(1 for _ in self.entries())


class BackupCatalogue(_RecoveryStore):
    """Every backup of the deployment, its key wrapped by the master key (module docstring)."""

    _metadata = _catalogue_metadata
    _meta = _catalogue_meta
    _what = "backup catalogue"

    def add_backup(self, entry: CatalogueEntry) -> None:
        with write_transaction(self.engine) as connection:
            connection.execute(
                insert(_catalogue).values(
                    backup_id=entry.backup_id,
                    deployment_id=entry.deployment_id,
                    created_at=_iso(entry.created_at),
                    expires_at=_iso(entry.expires_at),
                    ledger_seq=entry.ledger_seq,
                    wrapped_key=entry.wrapped_key,
                    destroyed_at=None,
                    size_bytes=entry.size_bytes,
                    file_name=entry.file_name,
                )
            )

    def set_backup_size(self, backup_id: str, size_bytes: int) -> None:
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(_catalogue)
                .where(_catalogue.c.backup_id == backup_id)
                .values(size_bytes=size_bytes)
            )

    def backup(self, backup_id: str) -> CatalogueEntry | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(_catalogue).where(_catalogue.c.backup_id == backup_id)
            ).first()
        return None if row is None else _catalogue_entry(row._mapping)

    def backups(self) -> list[CatalogueEntry]:
        """Every backup in the catalogue, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(_catalogue).order_by(_catalogue.c.created_at, _catalogue.c.backup_id)
            )
            return [_catalogue_entry(row._mapping) for row in rows]

    def destroy_backup_key(self, backup_id: str, now: dt.datetime) -> bool:
        """Overwrite a backup's wrapped key; True if it still had one."""
        with write_transaction(self.engine) as connection:
            changed = connection.execute(
                update(_catalogue)
                .where(_catalogue.c.backup_id == backup_id, _catalogue.c.wrapped_key.is_not(None))
                .values(wrapped_key=None, destroyed_at=_iso(now))
            ).rowcount
        return bool(changed)

    def purge_storage(self) -> None:
        """Push the freed bytes of destroyed keys out of the store (as erasure does)."""
        checkpoint(self.engine, tables=("backup_catalogue",))


def erasure_body(
    keyring: Keyring, subject_id: str, kept_classes: Sequence[str], *, held: bool
) -> dict[str, Any]:
    """An erasure's ledger row: the subject's keyed pseudonym (never its id), the key version
    it is keyed with, the classes kept, and whether a legal hold kept everything."""
    pseudonymizer = Pseudonymizer(keyring.current(PSEUDONYM))
    return {
        "pseudonym": pseudonymizer.pseudonym(subject_id),
        "pseudonym_key_id": pseudonymizer.key_id,
        "kept_classes": sorted(kept_classes),
        "held": held,
    }


def _catalogue_entry(row: RowMapping) -> CatalogueEntry:
    destroyed = row["destroyed_at"]
    return CatalogueEntry(
        backup_id=row["backup_id"],
        deployment_id=row["deployment_id"],
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        expires_at=dt.datetime.fromisoformat(row["expires_at"]),
        ledger_seq=int(row["ledger_seq"]),
        wrapped_key=None if row["wrapped_key"] is None else bytes(row["wrapped_key"]),
        destroyed_at=None if destroyed is None else dt.datetime.fromisoformat(destroyed),
        size_bytes=row["size_bytes"],
        file_name=row["file_name"],
    )
