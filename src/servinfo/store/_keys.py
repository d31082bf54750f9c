"""Data keys of one region: created on first use, unwrapped once, cached.

One data key per (subject, region, retention class) — ``scope=""`` — plus, after
a rectification, one key of the rectified record's own (``scope=<record id>``).
Keys are stored wrapped by the region's current KEK (``kek:<region>:v<n>``);
each row names the KEK version that wrapped it, so keys wrapped before a
rotation stay readable.

Unwrapping costs an AES-GCM decryption and a key schedule, so unwrapped keys
are kept as ready :class:`~servinfo.crypto.Sealer` objects in a bounded LRU,
by key id; each KEK version's :class:`~servinfo.crypto.KekWrapper` is built
once. Missing keys of a batch are made together: one CSPRNG read, one
bulk insert. The cache never decides whether a key is alive: writers and readers
read the key's row in the same transaction as the records and treat a row
without key material as destroyed, whatever the cache holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table

from servinfo.crypto import (
    DataKey,
    KekWrapper,
    Keyring,
    KeyringError,
    Sealer,
    data_key_context,
    kek_purpose,
)
from servinfo.store._bulk import bulk_insert, fetch_for_ids, time_value
from servinfo.store._ids import new_ulids
from servinfo.store.errors import SubjectErased
from servinfo.store.models import DataKeyRow

__all__ = ["DEFAULT_CACHE_SIZE", "KeyRow", "RegionKeys", "SealerCache"]

#: Unwrapped keys kept per region: each costs about 2.6 KB of AES state, so the
#: default holds the keys of 16k active subjects (two retention classes each)
#: in about 85 MB; ``limits.key_cache_size`` changes it.
DEFAULT_CACHE_SIZE = 32_768
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
#: The shared keys of a list of subjects; ``{ids}`` is filled by :func:`fetch_for_ids`.
_SHARED_KEYS = (
    "SELECT id, subject_id, retention_class, scope, kek_id, wrapped FROM data_keys "
    "WHERE scope = '' AND subject_id {ids}"
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
        self._wrappers: dict[str, KekWrapper] = {}
        keyring.current(self._purpose)  # fail now, not on the first write, if there is no KEK

    @property
    def cache(self) -> SealerCache:
        return self._cache

    def sealer(self, row: KeyRow) -> Sealer:
        """The sealer of a live key row (from the cache or by unwrapping it)."""
        return self._sealer(
            row.key_id, row.subject_id, row.retention_class, row.kek_id, row.wrapped
        )

    def sealers_for_write(
        self, connection: Connection, needed: set[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], Sealer]:
        """A sealer per (subject, retention class) in ``needed``, creating missing keys.

        Runs inside the caller's write transaction, so new keys commit (or roll
        back) with the records they protect. A destroyed key raises
        :class:`SubjectErased`: an erased subject never gets a fresh key.
        """
        subject_ids = list(dict.fromkeys(subject for subject, _ in needed))
        sealers: dict[tuple[str, str], Sealer] = {}
        # Every needed key's row is re-read here, whatever the cache holds.
        for key_id, subject_id, retention_class, _, kek_id, wrapped in fetch_for_ids(
            connection, _SHARED_KEYS, subject_ids
        ):
            pair = (subject_id, retention_class)
            if pair in needed:
                sealers[pair] = self._sealer(key_id, subject_id, retention_class, kek_id, wrapped)
        missing = sorted(pair for pair in needed if pair not in sealers)
        if missing:
            created = self._new_keys(missing, SHARED, time_value(connection)(now))
            bulk_insert(connection, _KEY_TABLE, _KEY_COLUMNS, [values for values, _ in created])
            sealers.update(zip(missing, (sealer for _, sealer in created), strict=True))
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
        [(values, sealer)] = self._new_keys(
            [(subject_id, retention_class)], scope, time_value(connection)(now)
        )
        bulk_insert(connection, _KEY_TABLE, _KEY_COLUMNS, [values])
        return sealer

    def _sealer(
        self,
        key_id: str,
        subject_id: str,
        retention_class: str,
        kek_id: str,
        wrapped: bytes | None,
    ) -> Sealer:
        if wrapped is None:
            raise SubjectErased(f"subject {subject_id}")
        sealer = self._cache.get(key_id)
        if sealer is None:
            context = data_key_context(subject_id, self.region, retention_class)
            secret = self._wrapper(kek_id).unwrap(wrapped, context)
            sealer = Sealer(DataKey(key_id, secret))
            self._cache.put(key_id, sealer)
        return sealer

    def _new_keys(
        self, pairs: list[tuple[str, str]], scope: str, created_at: object
    ) -> list[tuple[tuple[object, ...], Sealer]]:
        """Fresh keys for ``pairs`` of (subject, retention class): their rows and sealers."""
        wrapper = self._wrapper(self._keyring.current(self._purpose).key_id)
        region = self.region
        contexts = [data_key_context(subject, region, kind) for subject, kind in pairs]
        created: list[tuple[tuple[object, ...], Sealer]] = []
        for (subject_id, retention_class), key_id, (secret, wrapped) in zip(
            pairs, new_ulids(len(pairs)), wrapper.new_wrapped_keys(contexts), strict=True
        ):
            values = (
                key_id,
                subject_id,
                region,
                retention_class,
                scope,
                wrapper.key_id,
                wrapped,
                created_at,
            )
            sealer = Sealer(DataKey(key_id, secret))
            self._cache.put(key_id, sealer)
            created.append((values, sealer))
        return created

    def _wrapper(self, kek_id: str) -> KekWrapper:
        """The (cached) wrapper of KEK version ``kek_id``; versions never change once made."""
        wrapper = self._wrappers.get(kek_id)
        if wrapper is None:
            try:
                kek = self._keyring.get(kek_id)
            except KeyringError:
                # Another process may have rotated the KEK since this keyring was read.
                self._keyring.reload()
                kek = self._keyring.get(kek_id)
            wrapper = self._wrappers[kek_id] = KekWrapper(kek)
        return wrapper
