"""Idempotency keys: a retried request gets the first answer and stores nothing twice.

The keys live in the control database (``idempotency_keys``), shared by every
worker and surviving restarts, for ``limits.idempotency_ttl_hours``. The
protocol, per (principal, key):

1. **Claim** before processing: insert a ``pending`` row. The primary key
   lets exactly one of two racing workers in. Single-record requests that
   arrive together claim in one transaction (:meth:`IdempotencyStore.claim_many`,
   from :mod:`servinfo.collect.singles`).
2. The loser reads the row: another request body under the same key is
   refused (:class:`IdempotencyKeyReused`); a finished answer is replayed; a
   claim still alive is polled for up to ``wait`` and otherwise answered
   with :class:`RequestInProgress` (409, retry later).
3. Every record the owner stores carries the mark (request, line) of
   its line (:meth:`IdempotencyStore.marks`), inserted in the region's own
   write transaction under a primary key: a region stores a line of a keyed
   request once, whatever happens to the control database in between (see
   :mod:`servinfo.store._marks`).
4. After each chunk of a batch the owner records how many lines are done and
   their results (:meth:`IdempotencyStore.progress_in`), and at the end the
   answer (:meth:`IdempotencyStore.answer_in`), in the transaction that commits
   the audit entry of the chunk's records: an entry is written once, with the
   progress past it. The answer of a request that stored nothing is stored on
   its own (:meth:`finish`).
5. On an unexpected failure the owner gives the claim up (:meth:`abandon`):
   deleted if nothing was committed, else left for the next retry, which takes
   it over and resumes after the committed lines. A claim whose heartbeat
   stopped for longer than ``lease`` (a worker that died) is taken over the
   same way, and a server that starts releases every unanswered claim at once
   (:meth:`release_unanswered`).

The lease decides how soon a retry may take over, never whether a line is
stored twice: a worker killed between a region's commit and the control
database's leaves a claim behind, and its retry re-does the chunk, finds the
chunk's lines marked in the region, stores none of them again and answers
with the ids stored the first time; the entry and the progress it commits
then were not committed before (they commit together).

Expired rows are deleted on the way, at most once a minute per process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from servinfo.collect.errors import IdempotencyKeyReused, InvalidIdempotencyKey, RequestInProgress
from servinfo.collect.models import KEY_LENGTH, IdempotencyKeyRow
from servinfo.store import RequestMark, request_digest
from servinfo.store.engines import write_transaction

__all__ = ["Claim", "IdempotencyStore", "StoredAnswer", "request_hash"]

_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_LENGTH}}}")
_PURGE_EVERY = dt.timedelta(minutes=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_T = IdempotencyKeyRow
_TABLE: Table = IdempotencyKeyRow.__table__  # type: ignore[assignment]
# The statements of every request, built once: building them per call cost more
# than running them.
# A taken key is no error: the other claims of the transaction go on. The row
# comes back only when it was inserted (psycopg gives no rowcount here).
_CLAIM_UNLESS_TAKEN = {
    "sqlite": sqlite_insert(_T).on_conflict_do_nothing().returning(_T.owner),
    "postgresql": postgresql_insert(_T).on_conflict_do_nothing().returning(_T.owner),
}
_MINE = (
    _T.principal_id == bindparam("b_principal"),
    _T.key == bindparam("b_key"),
    _T.owner == bindparam("b_owner"),
)
_UPDATE_MINE = update(_T).where(*_MINE)
_STALE_MINE = update(_T).where(*_MINE, _T.done_lines > 0).values(updated_at=_EPOCH)
_DELETE_MINE = delete(_T).where(*_MINE, _T.done_lines == 0)
_FIND = select(*_TABLE.columns).where(
    _T.principal_id == bindparam("b_principal"), _T.key == bindparam("b_key")
)


@dataclass(frozen=True)
class StoredAnswer:
    """The answer given the first time; replayed as it was."""

    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """This request owns the key; ``done_lines``/``partial`` say where a taken-over claim was."""

    principal_id: str
    key: str
    owner: str
    done_lines: int = 0
    partial: dict[str, Any] | None = None


def request_hash(path: str, body: bytes) -> str:
    """What a key is bound to: the route and the exact body."""
    return hashlib.sha256(path.encode() + b"\n" + body).hexdigest()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class IdempotencyStore:
    def __init__(
        self,
        engine: Engine,
        ttl: dt.timedelta,
        *,
        lease: dt.timedelta = dt.timedelta(seconds=30),
        wait: float = 5.0,
        poll: float = 0.05,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._lease = lease
        self._wait = wait
        self._poll = poll
        self._clock = clock
        self._purged_at = _EPOCH
        self._purge_lock = threading.Lock()

    @property
    def wait(self) -> float:
        """How long a request waits for another one that holds its key, in seconds."""
        return self._wait

    @property
    def poll(self) -> float:
        """How often, in seconds, a waiting request looks again."""
        return self._poll

    @staticmethod
    def check_key(key: str) -> str:
        if not _KEY.fullmatch(key):
            raise InvalidIdempotencyKey(
                f"an Idempotency-Key is 1 to {KEY_LENGTH} printable ASCII characters "
                "without spaces (a UUID is a good one)"
            )
        return key

    def begin(self, principal_id: str, key: str, request_hash: str) -> Claim | StoredAnswer:
        """Claim the key for this request, or the answer already given under it."""
        self.check_key(key)
        self.purge_if_due()
        deadline = time.monotonic() + self._wait
        while True:
            (claim,) = self.claim_many([(principal_id, key, request_hash)])
            if claim is not None:
                return claim
            found = self.existing(principal_id, key, request_hash)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise RequestInProgress()
            time.sleep(self._poll)

    def marks(self, claim: Claim, lines: Iterable[int]) -> list[RequestMark | None]:
        """The marks of ``lines`` of the claimed request, stored with their records in the
        region (exactly once, see :mod:`servinfo.store._marks`); kept as long as the key."""
        request = request_digest(claim.principal_id, claim.key)
        expires = self._clock() + self._ttl
        return [RequestMark(request, line, expires) for line in lines]

    def progress_in(
        self, connection: Connection, claim: Claim, done_lines: int, partial: dict[str, Any]
    ) -> None:
        """Record how far the claimed batch is, inside the caller's control transaction:
        the one that commits the audit entry of the lines it stored."""
        values = {"done_lines": done_lines, "partial": json.dumps(partial)}
        connection.execute(_UPDATE_MINE, {**values, **self._mine(claim)})

    def release_unanswered(self) -> int:
        """Make every claim without an answer takeable at once; how many there were.

        Run when a server starts: a claim left pending was held by a worker that
        stopped, and its retry should resume now rather than after the lease. A
        claim of a live worker on another host taken over this way costs work done
        twice, never a record stored twice (the region marks keep each line once).
        """
        with write_transaction(self._engine) as connection:
            return (
                connection.execute(
                    update(_T).where(_T.state == "pending").values(updated_at=_EPOCH)
                ).rowcount
                or 0
            )

    def finish(self, claim: Claim, status_code: int, body: dict[str, Any]) -> None:
        self.finish_many([(claim, status_code, body)])

    def finish_many(self, answers: list[tuple[Claim, int, dict[str, Any]]]) -> None:
        """Store the answer of each claim, in one transaction."""
        with write_transaction(self._engine) as connection:
            for claim, status_code, body in answers:
                self.answer_in(connection, claim, status_code, body)

    def answer_in(
        self, connection: Connection, claim: Claim, status_code: int, body: dict[str, Any]
    ) -> None:
        """:meth:`finish` inside the caller's write transaction of the control database."""
        values = {"state": "done", "status_code": status_code, "response": json.dumps(body)}
        connection.execute(_UPDATE_MINE, {**values, **self._mine(claim)})

    def abandon(self, claim: Claim) -> None:
        """Give the claim up after a failure: deleted if no line was committed under it,
        else made stale at once, so that the retry takes it over and resumes."""
        mine = self._mine(claim)
        with write_transaction(self._engine) as connection:
            connection.execute(_STALE_MINE, mine)
            connection.execute(_DELETE_MINE, mine)

    def claim_many(self, requests: list[tuple[str, str, str]]) -> list[Claim | None]:
        """Claim each (principal id, key, request hash) not claimed yet, in one transaction;
        None for a key already taken (its row says what to do, see :meth:`existing`)."""
        now = self._clock()
        claims: list[Claim | None] = []
        # Not synced to disk: a claim only keeps concurrent requests apart. A
        # power cut may undo it together with the unanswered request it
        # guarded, whose retry then runs again; the answer is committed durably.
        with write_transaction(self._engine, commit="unsynced") as connection:
            statement = _CLAIM_UNLESS_TAKEN[connection.dialect.name]
            for principal_id, key, request_hash in requests:
                owner = secrets.token_hex(16)
                inserted = connection.execute(
                    statement,
                    {
                        "principal_id": principal_id,
                        "key": key,
                        "request_hash": request_hash,
                        "state": "pending",
                        "owner": owner,
                        "done_lines": 0,
                        "created_at": now,
                        "updated_at": now,
                        "expires_at": now + self._ttl,
                    },
                ).first()
                claims.append(None if inserted is None else Claim(principal_id, key, owner))
        return claims

    def existing(
        self, principal_id: str, key: str, request_hash: str
    ) -> Claim | StoredAnswer | None:
        """For a key :meth:`claim_many` found taken: the stored answer, the claim taken over
        from a request that stopped, or None (still running, or gone: try again)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                _FIND, {"b_principal": principal_id, "b_key": key}
            ).one_or_none()
        if row is None:
            return None
        now = self._clock()
        if row.expires_at <= now:  # expired but not purged yet: the key is free again
            with write_transaction(self._engine) as connection:
                connection.execute(
                    delete(_T).where(
                        _T.principal_id == principal_id,
                        _T.key == key,
                        _T.expires_at == row.expires_at,
                    )
                )
            return None
        if row.request_hash != request_hash:
            raise IdempotencyKeyReused()
        if row.state == "done" and row.status_code is not None and row.response is not None:
            return StoredAnswer(row.status_code, json.loads(row.response))
        if now - row.updated_at < self._lease:
            return None
        owner = secrets.token_hex(16)
        with write_transaction(self._engine) as connection:
            taken = connection.execute(
                update(_T)
                .where(
                    _T.principal_id == principal_id,
                    _T.key == key,
                    _T.owner == row.owner,
                    _T.updated_at == row.updated_at,
                )
                .values(owner=owner, updated_at=now)
            ).rowcount
        if taken != 1:
            return None
        partial = json.loads(row.partial) if row.partial else None
        return Claim(principal_id, key, owner, row.done_lines, partial)

    def purge_if_due(self) -> None:
        """Delete expired keys, at most once a minute per process."""
        now = self._clock()
        with self._purge_lock:
            if now - self._purged_at < _PURGE_EVERY:
                return
            self._purged_at = now
        with write_transaction(self._engine) as connection:
            connection.execute(delete(_T).where(_T.expires_at <= now))

    # -- steps -------------------------------------------------------------------

    def _mine(self, claim: Claim) -> dict[str, Any]:
        """The parameters of ``_MINE`` for ``claim``, and a fresh heartbeat."""
        return {
            "updated_at": self._clock(),
            "b_principal": claim.principal_id,
            "b_key": claim.key,
            "b_owner": claim.owner,
        }
