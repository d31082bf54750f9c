"""Data keys of one region: created on first use, unwrapped once, cached.

One data key per (subject, region, retention class) — ``scope=""`` — plus, after
a rectification, one key of the rectified record's own (``scope=<record id>``).
Keys are stored wrapped by the region's current KEK (``kek:<region>:v<n>``);
each row names the KEK version that wrapped it, so keys wrapped before a
rotation stay readable.

Unwrapping costs an AES-GCM decryption and a key schedule, so unwrapped keys
are kept as ready :class:`~servinfo.crypto.Sealer` objects in a bounded LRU,
by key id. The cache never decides whether a key is alive: writers and readers
read the key's row in the same transaction as the records and treat a row
without key material as destroyed, whatever the cache holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table, select
from ulid import ULID

from servinfo.crypto import (
    DataKey,
    Keyring,
    KeyringError,
    KeyVersion,
    Sealer,
    data_key_context,
    kek_purpose,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from servinfo.store._bulk import bulk_insert, id_chunks, id_filter, time_value
from servinfo.store.errors import SubjectErased
from servinfo.store.models import DataKeyRow

__all__ = ["DEFAULT_CACHE_SIZE", "KeyRow", "RegionKeys", "SealerCache"]

#: Unwrapped keys kept per region; 10k keys of ~1 KiB of AES state each.
DEFAULT_CACHE_SIZE = 10_000
SHARED = ""  # the scope of a (subject, retention class) key
_KEY_TABLE: Table = DataKeyRow.__table__  # type: ignore[assignment]
_KEY_COLUMNS = (
    "id",
    "subject_id",
    "region",
    "retention_class",
    "scope",
    "kek_id",
    "wrapped",
    "created_at",
)


@dataclass(frozen=True)
class KeyRow:
    """A data key's row as read from the database; ``wrapped`` None = destroyed."""

    key_id: str
    subject_id: str
    retention_class: str
    scope: str
    kek_id: str
    wrapped: bytes | None


class SealerCache:
    """A bounded least-recently-used map from key id to :class:`Sealer`."""

    __slots__ = ("_items", "_size")

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError(f"cache size must be at least 1, got {size}")
        self._size = size
        self._items: OrderedDict[str, Sealer] = OrderedDict()

    def get(self, key_id: str) -> Sealer | None:
        sealer = self._items.get(key_id)
        if sealer is not None:
            self._items.move_to_end(key_id)
        return sealer

    def put(self, key_id: str, sealer: Sealer) -> None:
        self._items[key_id] = sealer
        self._items.move_to_end(key_id)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def forget(self, key_ids: Iterable[str]) -> None:
        for key_id in key_ids:
            self._items.pop(key_id, None)

    def __len__(self) -> int:
        return len(self._items)


class RegionKeys:
    """Fetches, creates and unwraps the data keys of one region database."""

    def __init__(self, region: str, keyring: Keyring, cache: SealerCache) -> None:
        self.region = region
        self._keyring = keyring
        self._purpose = kek_purpose(region)
        self._cache = cache
        keyring.current(self._purpose)  # fail now, not on the first write, if there is no KEK

    @property
    def cache(self) -> SealerCache:
        return self._cache

    def sealer(self, row: KeyRow) -> Sealer:
        """The sealer of a live key row (from the cache or by unwrapping it)."""
        if row.wrapped is None:
            raise SubjectErased(f"subject {row.subject_id}")
        sealer = self._cache.get(row.key_id)
        if sealer is None:
            context = data_key_context(row.subject_id, self.region, row.retention_class)
            secret = unwrap_data_key(self._kek(row.kek_id), row.wrapped, context)
            sealer = Sealer(DataKey(row.key_id, secret))
            self._cache.put(row.key_id, sealer)
        return sealer

    def sealers_for_write(
        self, connection: Connection, needed: set[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], Sealer]:
        """A sealer per (subject, retention class) in ``needed``, creating missing keys.

        Runs inside the caller's write transaction, so new keys commit (or roll
        back) with the records they protect. A destroyed key raises
        :class:`SubjectErased`: an erased subject never gets a fresh key.
        """
        rows = shared_key_rows(connection, {subject for subject, _ in needed})
        sealers: dict[tuple[str, str], Sealer] = {}
        missing: list[tuple[str, str]] = []
        for pair in needed:
            row = rows.get(pair)
            if row is None:
                missing.append(pair)
            else:
                sealers[pair] = self.sealer(row)
        if missing:
            new_rows = []
            when = time_value(connection)(now)
            for subject_id, retention_class in sorted(missing):
                values, sealer = self._new_key(subject_id, retention_class, SHARED, when)
                new_rows.append(values)
                sealers[subject_id, retention_class] = sealer
            bulk_insert(connection, _KEY_TABLE, _KEY_COLUMNS, new_rows)
        return sealers

    def create_own_key(
        self,
        connection: Connection,
        subject_id: str,
        retention_class: str,
        scope: str,
        now: datetime,
    ) -> Sealer:
        """A fresh key for one record (rectification), inserted in the caller's transaction."""
        values, sealer = self._new_key(
            subject_id, retention_class, scope, time_value(connection)(now)
        )
        bulk_insert(connection, _KEY_TABLE, _KEY_COLUMNS, [values])
        return sealer

    def _new_key(
        self, subject_id: str, retention_class: str, scope: str, created_at: object
    ) -> tuple[tuple[object, ...], Sealer]:
        kek = self._keyring.current(self._purpose)
        secret = new_data_key()
        key_id = str(ULID())
        context = data_key_context(subject_id, self.region, retention_class)
        values = (
            key_id,
            subject_id,
            self.region,
            retention_class,
            scope,
            kek.key_id,
            wrap_data_key(kek, secret, context),
            created_at,
        )
        sealer = Sealer(DataKey(key_id, secret))
        self._cache.put(key_id, sealer)
        return values, sealer

    def _kek(self, kek_id: str) -> KeyVersion:
        try:
            return self._keyring.get(kek_id)
        except KeyringError:
            # Another process may have rotated the KEK since this keyring was read.
            self._keyring.reload()
            return self._keyring.get(kek_id)


def shared_key_rows(connection: Connection, subject_ids: set[str]) -> dict[tuple[str, str], KeyRow]:
    """The shared (scope ``""``) key rows of ``subject_ids``, by (subject, retention class)."""
    found: dict[tuple[str, str], KeyRow] = {}
    for chunk in id_chunks(sorted(subject_ids), connection):
        rows = connection.execute(
            select(
                DataKeyRow.id,
                DataKeyRow.subject_id,
                DataKeyRow.retention_class,
                DataKeyRow.scope,
                DataKeyRow.kek_id,
                DataKeyRow.wrapped,
            ).where(
                id_filter(DataKeyRow.subject_id, chunk, connection),
                DataKeyRow.scope == SHARED,
            )
        ).all()
        for row in rows:
            found[row[1], row[2]] = KeyRow(*row)
    return found
