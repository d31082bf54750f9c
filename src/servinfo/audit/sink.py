"""The one way other packages write to the audit log.

Every package that changes or reveals something (ledgers, access, collect,
rights …) takes an :class:`AuditSink` and calls :meth:`AuditSink.record`. The
database-backed log implements it; tests may use :class:`MemoryAuditSink`.
A subject is passed by id and pseudonymized by the sink: no caller ever puts a
subject id or personal data into an entry itself.

Identifiers that tie an entry to the person — a request's, an export's, a
consent's or a disclosure's id, the subject's principal — go in ``linked``
(name → identifier), never in ``details``: the log writes them, the record ids
and (``subject_actor=True``) the actor as references keyed with the subject's
salt, which erasure destroys. Both need ``subject_id``: an identifier tied to a
person is never logged in clear, so without a subject the sink refuses them
(:class:`~servinfo.audit.errors.EntryInvalid`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from servinfo.audit.entries import DetailValue as Detail
from servinfo.audit.errors import EntryInvalid

__all__ = ["AuditSink", "MemoryAuditSink", "RecordedEvent", "check_subject_links"]


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
        linked: Mapping[str, str] | None = None,
        subject_actor: bool = False,
        policy_version: str | None = None,
    ) -> int:
        """Append one entry; returns its sequence number once it is durable.

        ``linked``: identifiers that tie the entry to the subject, by name;
        ``subject_actor``: the actor is the subject's own principal or its
        authorized agent. Both need ``subject_id``. ``policy_version``: the
        version of the policy a decision was made under (the person's history
        shows it).
        """
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
    linked: Mapping[str, str] = field(default_factory=dict)
    subject_actor: bool = False
    policy_version: str | None = None

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
        linked: Mapping[str, str] | None = None,
        subject_actor: bool = False,
        policy_version: str | None = None,
    ) -> RecordedEvent:
        """An event from :meth:`AuditSink.record`'s arguments, copied so callers can't change it.

        :class:`EntryInvalid` for ``linked`` or ``subject_actor`` without a subject.
        """
        check_subject_links(subject_id, linked, subject_actor)
        return cls(
            action, actor, subject_id, purpose, outcome, tuple(reasons), tuple(record_ids),
            dict(details or {}), dict(linked or {}), subject_actor, policy_version,
        )  # fmt: skip


def check_subject_links(
    subject_id: str | None, linked: Mapping[str, str] | None, subject_actor: bool
) -> None:
    """Refuse identifiers tied to a person in an entry that names no subject (they would be
    written in clear, with no salt to destroy)."""
    if subject_id is None and (linked or subject_actor):
        raise EntryInvalid(
            "new entry: linked identifiers and a subject actor need a subject_id "
            "(an identifier tied to a person is never logged in clear)"
        )


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
        linked: Mapping[str, str] | None = None,
        subject_actor: bool = False,
        policy_version: str | None = None,
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
                linked=linked,
                subject_actor=subject_actor,
                policy_version=policy_version,
            )
        )
        return len(self.events) - 1
