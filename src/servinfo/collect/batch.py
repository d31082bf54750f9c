"""NDJSON batches: lines in order, committed a chunk at a time, bad lines reported.

A :class:`Batch` is fed raw lines one by one (:meth:`Batch.feed`); it numbers
them from 1, skips blank ones, and collects records until ``chunk_size`` are
pending, then prepares them against the subjects of the chunk (one directory
query) and writes them in one transaction per region. An organization or
subject line first flushes the records before it, then registers, so a
record may follow its subject's sign-up in the same batch.

A line that fails — malformed JSON, a schema violation, an unknown subject —
is rejected with its line number, code and reason; the others are stored.
When a whole chunk's write fails for a reason that belongs to one record (a
subject erased meanwhile …), the chunk is written again record by record so
that only that record is lost. A keyed batch marks each record with its line
(``marks``), so that a replay stores no line twice; after each chunk that stored
records, ``on_commit`` receives the result so far inside the transaction of
their audit entry, which lets the idempotency layer resume a batch after the
last committed line, and the last chunk's call carries the final result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from servinfo.collect.objects import RecordObject, parse_json, parse_object
from servinfo.collect.service import Collector, Prepared, rejectable, write_isolating
from servinfo.errors import ServinfoError
from servinfo.store import Principal, RequestMark

__all__ = ["Batch", "BatchResult", "ingest_lines"]


@dataclass
class BatchResult:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: Non-blank lines seen.
    lines: int = 0
    dropped_fields: int = 0
    redactions: Counter[str] = field(default_factory=Counter)
    #: The last line whose outcome is final (committed or rejected).
    done_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "counts": {
                "lines": self.lines,
                "accepted": len(self.accepted),
                "rejected": len(self.rejected),
                "dropped_fields": self.dropped_fields,
                "redactions": dict(self.redactions),
            },
        }

    def to_progress(self) -> dict[str, Any]:
        return {**self.to_dict(), "done_lines": self.done_lines}

    @classmethod
    def from_progress(cls, saved: dict[str, Any]) -> BatchResult:
        counts = saved["counts"]
        return cls(
            accepted=list(saved["accepted"]),
            rejected=list(saved["rejected"]),
            lines=counts["lines"],
            dropped_fields=counts["dropped_fields"],
            redactions=Counter(counts["redactions"]),
            done_lines=saved["done_lines"],
        )


class Batch:
    def __init__(
        self,
        collector: Collector,
        principal: Principal,
        *,
        chunk_size: int = 1000,
        resume: BatchResult | None = None,
        marks: Callable[[list[int]], list[RequestMark | None]] | None = None,
        on_commit: Callable[[Connection, BatchResult, bool], None] | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self._collector = collector
        self._principal = principal
        self._service = collector.check_principal(principal)
        self._compiled = collector.compiled()
        self._chunk_size = chunk_size
        self.result = resume if resume is not None else BatchResult()
        self._skip_through = self.result.done_lines
        self._marks = marks
        self._on_commit = on_commit
        #: Whether the final result was committed through ``on_commit`` (see :meth:`finish`).
        self.answered = False
        self._line = 0
        self._pending: list[tuple[int, RecordObject]] = []

    @property
    def line(self) -> int:
        """How many lines were fed (blank ones included)."""
        return self._line

    def feed(self, raw: bytes) -> None:
        self._line += 1
        number = self._line
        if number <= self._skip_through or not raw.strip():
            return
        self.result.lines += 1
        try:
            parsed = parse_object(parse_json(raw, line=number), self._compiled.markers)
        except ServinfoError as error:
            self._reject(number, error)
            return
        if isinstance(parsed, RecordObject):
            # A full chunk is written when the next record arrives, not at once: the
            # last chunk of a batch is then written by finish(), whose answer
            # supersedes a progress entry (one durable commit less per batch).
            if len(self._pending) >= self._chunk_size:
                self.flush()
            self._pending.append((number, parsed))
            return
        self.flush()
        try:
            outcome = self._collector.register(self._principal, self._service, parsed)
        except ServinfoError as error:
            self._reject(number, error)
            return
        self.result.accepted.append({"line": number, "id": outcome.id, "type": outcome.type})

    def finish(self) -> BatchResult:
        """Flush the last chunk; the final result.

        When the last chunk stores records, ``on_commit`` gets the final result
        (``final`` true) in the transaction of their audit entry, and
        :attr:`answered` is set: the answer is committed with the last records'
        entry, not after it.
        """
        self._flush(final=True)
        return self.result

    def flush(self) -> None:
        self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            if final:
                self._conclude()
            return
        collector = self._collector
        subjects = collector.subjects(parsed.subject for _, parsed in pending)
        prepared: list[tuple[int, Prepared]] = []
        for number, parsed in pending:
            try:
                prepared.append(
                    (number, collector.prepare(self._compiled, self._service, parsed, subjects))
                )
            except ServinfoError as error:
                self._reject(number, error)
        stored = self._store(prepared) if prepared else []
        self.result.done_lines = pending[-1][0]
        if final:
            self._conclude()
        if not stored:
            return  # nothing committed: a replay does this chunk again, as this one did
        items, ids = [item for item, _ in stored], [record_id for _, record_id in stored]
        on_commit = self._on_commit
        if on_commit is None:
            collector.audit_write(self._principal, self._service, items, ids)
            return
        result = self.result

        def commit_point(connection: Connection) -> None:
            on_commit(connection, result, final)

        collector.audit_write(self._principal, self._service, items, ids, also=commit_point)
        self.answered = final

    def _conclude(self) -> None:
        # Lines refused while parsing are listed before the chunk they were in was
        # prepared: order both lists by line.
        self.result.rejected.sort(key=_line)
        self.result.accepted.sort(key=_line)
        self.result.done_lines = max(self.result.done_lines, self._line)

    def _store(self, prepared: list[tuple[int, Prepared]]) -> list[tuple[Prepared, str]]:
        """Store the chunk's records (marked, for a keyed batch); the ones stored, with ids."""
        marks_of = self._marks

        def store(chunk: list[tuple[int, Prepared]]) -> list[str]:
            marks = marks_of([number for number, _ in chunk]) if marks_of is not None else None
            return self._collector.store([p for _, p in chunk], marks)

        stored: list[tuple[Prepared, str]] = []
        accepted = self.result.accepted
        for (number, item), written in zip(prepared, write_isolating(store, prepared), strict=True):
            if isinstance(written, ServinfoError):
                self._reject(number, written)
                continue
            accepted.append({"line": number, "id": written, "type": "record"})
            self.result.dropped_fields += item.dropped
            self.result.redactions.update(item.redactions)
            stored.append((item, written))
        return stored

    def _reject(self, number: int, error: ServinfoError) -> None:
        if not rejectable(error):
            raise error
        self.result.rejected.append({"line": number, "error": error.code, "detail": error.message})


def _line(entry: dict[str, Any]) -> int:
    number: int = entry["line"]
    return number


def ingest_lines(
    collector: Collector,
    principal: Principal,
    lines: Iterable[bytes],
    *,
    chunk_size: int = 1000,
) -> BatchResult:
    """Feed every line of ``lines`` (NDJSON, without or with their newlines) to one batch."""
    batch = Batch(collector, principal, chunk_size=chunk_size)
    for line in lines:
        batch.feed(line)
    return batch.finish()
