"""The one way other packages write to the audit log.

Every package that changes or reveals something (ledgers, access, collect,
rights …) takes an :class:`AuditSink` and calls :meth:`AuditSink.record`. The
database-backed log implements it; tests may use :class:`MemoryAuditSink`.
A subject is passed by id and pseudonymized by the sink: no caller ever puts a
subject id or personal data into an entry itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from servinfo.audit.entries import DetailValue as Detail


@runtime_checkable
class AuditSink(Protocol):
    def record(
        self,
        action: str,
        *,
        actor: str,
        subject_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        reasons: Sequence[str] = (),
        record_ids: Sequence[str] = (),
        details: Mapping[str, Detail] | None = None,
    ) -> int:
        """Append one entry; returns its sequence number once it is durable."""
        ...


@dataclass(frozen=True)
class RecordedEvent:
    action: str
    actor: str
    subject_id: str | None
    purpose: str | None
    outcome: str | None
    reasons: tuple[str, ...]
    record_ids: tuple[str, ...]
    details: Mapping[str, Detail]

    @classmethod
    def of(
        cls,
        action: str,
        *,
        actor: str,
        subject_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        reasons: Sequence[str] = (),
        record_ids: Sequence[str] = (),
        details: Mapping[str, Detail] | None = None,
    ) -> RecordedEvent:
        """An event from :meth:`AuditSink.record`'s arguments, copied so callers can't change it."""
        return cls(
            action, actor, subject_id, purpose, outcome, tuple(reasons), tuple(record_ids),
            dict(details or {}),
        )  # fmt: skip


@dataclass
class MemoryAuditSink:
    """Keeps events in a list: for tests of the packages that audit, not of the log."""

    events: list[RecordedEvent] = field(default_factory=list)

    def record(
        self,
        action: str,
        *,
        actor: str,
        subject_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        reasons: Sequence[str] = (),
        record_ids: Sequence[str] = (),
        details: Mapping[str, Detail] | None = None,
    ) -> int:
        self.events.append(
            RecordedEvent.of(
                action,
                actor=actor,
                subject_id=subject_id,
                purpose=purpose,
                outcome=outcome,
                reasons=reasons,
                record_ids=record_ids,
                details=details,
            )
        )
        return len(self.events) - 1
