"""The collector: Service Information in, checked against the policy, stored sealed.

For each object a reporting service sends (docs/ingest-format.md):

1. the principal must be a ``service`` principal whose role grants
   ``write_records``; it is bound to one service of the policy;
2. the envelope is parsed (:mod:`servinfo.collect.objects`); Customer and
   Partner Information is refused as out of scope;
3. a record's kind must be declared, and be one of the sending service's kinds;
   its ``source``, if given, must be that service;
4. its subject must be registered (and not erased): the record goes to the
   subject's home region, and the subject's jurisdiction selects the regime;
5. its fields are validated and minimized (:mod:`servinfo.collect.schemas`);
6. free-text fields are redacted as the policy says for each field
   (:mod:`servinfo.collect.redaction.by_policy`: which detectors and patterns,
   replaced by a tag, a mask or a pseudonym under the subject's key), and the
   counts per type kept with the record under the reserved key ``_redactions``,
   the fingerprint of what redacted it under ``_redacted_by`` (policy field
   names never start with ``_``, so neither can collide with a declared field);
7. the telemetry category's fields get their ``telemetry`` treatment
   (:mod:`servinfo.collect.telemetry`);
8. retention: ``retain_until`` = collection date + the kind's period, or the
   period the subject's regime sets (``by_regime``); for periods that start at
   account closure, the closure date + the period, or a provisional end while
   the account is open (:func:`servinfo.retention.schedule.retention_end`);
9. lookup fields become blind indexes; the record is written with
   :meth:`RecordWriter.put_many` and the write audited (action ``write``,
   record ids and source, no personal data).

Organizations and subjects are registered by the identity service alone
(``register_subjects`` permission). Batches are handled by
:class:`servinfo.collect.batch.Batch`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Connection

from servinfo.access.errors import Forbidden
from servinfo.access.identifiers import canonical_identifiers
from servinfo.audit import RecordedEvent, TransactionalAuditSink
from servinfo.collect._types import COUNTRIES
from servinfo.collect.errors import (
    NotRegistrar,
    NotYourKind,
    RedactionUnavailable,
    UnknownKind,
    UnknownSubjectInRecord,
    WrongSource,
)
from servinfo.collect.objects import (
    OrganizationObject,
    RecordObject,
    SubjectObject,
    parse_object,
)
from servinfo.collect.outcome import Outcome
from servinfo.collect.registration import register_organization, register_subject
from servinfo.collect.schemas import KindSchema, compile_kinds
from servinfo.collect.telemetry import DEFAULT_PSEUDONYM_PERIOD, TelemetryTreatment
from servinfo.crypto import Keyring
from servinfo.errors import ServinfoError
from servinfo.policy import Policy
from servinfo.retention.schedule import retention_end
from servinfo.store import (
    NewRecord,
    Principal,
    RecordWriter,
    RequestMark,
    Subject,
    SubjectDirectory,
    SubjectErased,
)

if TYPE_CHECKING:
    from servinfo.collect.batch import BatchResult
    from servinfo.collect.idempotency import Claim, IdempotencyStore
    from servinfo.collect.pseudonym_keys import RedactionKeys
    from servinfo.collect.redaction.by_policy import PolicyRedaction
    from servinfo.collect.redaction.replacement import SubjectPseudonyms

__all__ = ["REDACTIONS_KEY", "Collector", "Outcome", "Redacted", "Redacts", "write_isolating"]

#: The reserved key of a record's stored fields that holds its redaction counts.
REDACTIONS_KEY = "_redactions"


class Redacted(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def counts(self) -> Mapping[str, int]: ...


class Redacts(Protocol):
    def redact(self, text: str) -> Redacted: ...


def default_redactor() -> Redacts | None:
    """servinfo's redaction engine with every detector and type tags, whatever the policy
    says, or None when it is not installed (free text is then refused)."""
    try:
        from servinfo.collect.redaction import Redactor  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - the engine ships with servinfo
        return None
    redactor: Redacts = Redactor()
    return redactor


class Prepared(NamedTuple):
    # A tuple rather than a frozen dataclass: one is built for every record, and a
    # frozen dataclass pays a setattr per field.
    record: NewRecord
    region: str
    dropped: int
    redactions: Mapping[str, int]

    def outcome(self, record_id: str) -> Outcome:
        kind = self.record.kind
        return Outcome(
            "record", record_id, "stored", kind, self.region, self.dropped, self.redactions
        )


@dataclass(frozen=True)
class Compiled:
    """What the collector needs of one policy version, compiled once."""

    policy: Policy
    kinds: Mapping[str, KindSchema]
    markers: frozenset[str]
    service_kinds: Mapping[str, frozenset[str]]
    #: The regime of each jurisdiction seen so far (``Policy.regime_for`` scans them all).
    _regimes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    _redaction: list[PolicyRedaction] = field(default_factory=list, compare=False, repr=False)

    def redaction(self) -> PolicyRedaction:
        """The policy's redaction of each free-text field, compiled on first use."""
        if not self._redaction:
            from servinfo.collect.redaction.by_policy import PolicyRedaction

            self._redaction.append(PolicyRedaction(self.policy))
        return self._redaction[0]

    def regime_for(self, jurisdiction: str) -> str:
        regime = self._regimes.get(jurisdiction)
        if regime is None:
            regime = self._regimes[jurisdiction] = self.policy.regime_for(jurisdiction)
        return regime

    @classmethod
    def build(cls, policy: Policy) -> Compiled:
        return cls(
            policy,
            compile_kinds(policy),
            frozenset(m for scope in policy.out_of_scope.values() for m in scope.markers),
            {sid: frozenset(s.kinds) for sid, s in policy.services.items()},
        )


_NOT_GIVEN: Any = object()
_BY_POLICY: object = object()
#: Subjects whose pseudonym keys a collector keeps (the key changes only at erasure,
#: after which the subject's records are refused).
_PSEUDONYMS_KEPT = 10_000


def _policy_redaction() -> object | None:
    """Redaction as the policy says, or None when the engine is not installed."""
    try:
        import servinfo.collect.redaction  # noqa: F401
    except ImportError:  # pragma: no cover - the engine ships with servinfo
        return None
    return _BY_POLICY


def _redact_with(redactor: Any, names: Sequence[str], values: dict[str, Any]) -> dict[str, int]:
    """Redact ``names`` of ``values`` in place with a redactor given to the collector."""
    counts: dict[str, int] = {}
    for name in names:
        redacted = redactor.redact(values[name])
        values[name] = redacted.text
        for entity, count in redacted.counts.items():
            if count:
                counts[entity] = counts.get(entity, 0) + count
    return counts


_Item = TypeVar("_Item")
_Written = TypeVar("_Written")


class Collector:
    """Checks, minimizes, redacts and stores what the cloud services report."""

    def __init__(
        self,
        *,
        policy: Callable[[], Policy],
        directory: SubjectDirectory,
        writer: RecordWriter,
        audit: TransactionalAuditSink,
        keyring: Keyring,
        registrar: str = "identity",
        treated_categories: Iterable[str] = ("telemetry",),
        redactor: Redacts | None = _NOT_GIVEN,
        pseudonym_period: dt.timedelta = DEFAULT_PSEUDONYM_PERIOD,
        idempotency: IdempotencyStore | None = None,
    ) -> None:
        #: Where the HTTP layer keeps ``Idempotency-Key`` answers (None: keys unsupported).
        self.idempotency = idempotency
        self._policy = policy
        self._directory = directory
        self._writer = writer
        self._audit = audit
        self._registrar = registrar
        self._treated = frozenset(treated_categories)
        #: None: free text is refused; _BY_POLICY: as the policy says; else the one given.
        self._redactor: Redacts | object | None = (
            _policy_redaction() if redactor is _NOT_GIVEN else redactor
        )
        self._keys: RedactionKeys | None = None
        self._pseudonyms: dict[str, SubjectPseudonyms] = {}
        self._keyring = keyring
        self._telemetry = TelemetryTreatment(keyring, period=pseudonym_period)
        self._compiled: Compiled | None = None

    def compiled(self) -> Compiled:
        policy = self._policy()
        compiled = self._compiled
        if compiled is None or compiled.policy is not policy:
            compiled = self._compiled = Compiled.build(policy)
        return compiled

    # -- one object --------------------------------------------------------------

    def check_principal(self, principal: Principal) -> str:
        """The service the principal reports for; :class:`Forbidden` if it may not write."""
        policy = self.compiled().policy
        if principal.kind != "service":
            raise Forbidden(
                f"only service principals send Service Information, got a {principal.kind!r} one"
            )
        role = policy.roles.get(principal.role)
        if role is None or "write_records" not in role.permissions:
            raise Forbidden(f"role '{principal.role}' lacks the permission 'write_records'")
        if principal.binding not in policy.services:
            raise Forbidden(f"principal {principal.name!r} is bound to no service of the policy")
        return principal.binding

    def ingest_many(
        self, items: Sequence[tuple[Principal, object, Claim | None]]
    ) -> list[Outcome | ServinfoError]:
        """Check and store the objects (records, organizations, subjects) of single
        requests that arrived together, each with its principal and idempotency claim.

        Registrations go first, one by one, so that a record may follow its
        subject's sign-up in the same group. The records share one subject
        lookup, one write transaction per region and one audit transaction (an
        entry per record), which also commits the answer of each record sent
        with a ``claim``. Each item gets its outcome or the error refusing it
        alone; any other error fails them all.
        """
        compiled = self.compiled()
        results: list[Outcome | ServinfoError | None] = [None] * len(items)
        records: list[tuple[int, Principal, str, RecordObject, Claim | None]] = []
        for index, (principal, value, claim) in enumerate(items):
            try:
                service = self.check_principal(principal)
                parsed = parse_object(value, compiled.markers)
                if isinstance(parsed, RecordObject):
                    records.append((index, principal, service, parsed, claim))
                else:
                    results[index] = self.register(principal, service, parsed)
            except ServinfoError as error:
                results[index] = _refused(error)
        if records:
            subjects = self.subjects(parsed.subject for _, _, _, parsed, _ in records)
            writes: list[tuple[int, _SingleWrite]] = []
            for index, principal, service, parsed, claim in records:
                try:
                    prepared = self.prepare(compiled, service, parsed, subjects)
                except ServinfoError as error:
                    results[index] = _refused(error)
                    continue
                kept = claim if self.idempotency is not None else None
                writes.append((index, _SingleWrite(principal, service, prepared, kept)))
            if writes:
                outcomes = self._write_singles([write for _, write in writes])
                for (index, _), outcome in zip(writes, outcomes, strict=True):
                    results[index] = outcome
        answered = [result for result in results if result is not None]
        assert len(answered) == len(items)  # every item got its outcome or its refusal
        return answered

    def ingest_lines(
        self, principal: Principal, lines: Iterable[bytes], chunk_size: int = 1000
    ) -> BatchResult:
        """Ingest NDJSON lines in chunks; see :class:`servinfo.collect.batch.Batch`."""
        from servinfo.collect.batch import ingest_lines

        return ingest_lines(self, principal, lines, chunk_size=chunk_size)

    def subjects(self, subject_ids: Iterable[str]) -> dict[str, Subject]:
        return self._directory.subjects(subject_ids)

    def prepare(
        self,
        compiled: Compiled,
        service: str,
        parsed: RecordObject,
        subjects: Mapping[str, Subject],
    ) -> Prepared:
        """Steps 3 to 8 for one record: the :class:`NewRecord` to write."""
        schema = compiled.kinds.get(parsed.kind)
        if schema is None:
            raise UnknownKind("kind", f"{parsed.kind!r} is not a kind of the policy")
        if parsed.kind not in compiled.service_kinds[service]:
            raise NotYourKind(
                f"kind: service {service!r} may not write kind {parsed.kind!r} "
                f"(its kinds: {', '.join(sorted(compiled.service_kinds[service]))})"
            )
        if parsed.source is not None and parsed.source != service:
            raise WrongSource(
                f"source: got {parsed.source!r}, expected {service!r}, the service this "
                "token is bound to (or leave source out)"
            )
        subject = subjects.get(parsed.subject)
        if subject is None:
            raise UnknownSubjectInRecord(parsed.subject)
        if subject.erased:
            raise SubjectErased(f"subject {parsed.subject}")
        country = subject.jurisdiction[:2]
        phone_region = country if country in COUNTRIES else None
        values, dropped = schema.validate(parsed.fields, phone_region=phone_region)
        redactions = self._redact(compiled, schema, values, subject)
        if schema.category in self._treated:
            self._telemetry.apply(values, schema.truncate, schema.pseudonymize)
        retention = schema.retention
        regime = compiled.regime_for(subject.jurisdiction)
        lookup = {n: v for n in schema.lookup if isinstance(v := values.get(n), str) and v.strip()}
        identifiers = (
            canonical_identifiers(schema.identifiers, values, default_region=phone_region)
            if schema.identifiers
            else {}
        )
        if redactions:
            values[REDACTIONS_KEY] = redactions
        record = NewRecord(
            subject_id=subject.subject_id,
            category=schema.category,
            kind=schema.kind_id,
            source=service,
            collected_at=parsed.collected_at,
            fields=values,
            retention_class=retention.retention_class,
            retain_until=retention_end(
                retention, regime, parsed.collected_at.date(), subject.closed_at
            ),
            lookup_fields=lookup,
            identifiers=identifiers,
        )
        return Prepared(record, subject.home_region, dropped, redactions)

    def _redact(
        self, compiled: Compiled, schema: KindSchema, values: dict[str, Any], subject: Subject
    ) -> dict[str, int]:
        if not schema.free_text:
            return {}
        given = [n for n in schema.free_text if isinstance(values.get(n), str) and values[n]]
        if given and self._redactor is None:
            raise RedactionUnavailable(
                f"fields.{given[0]}: free text cannot be stored without redaction, and no "
                "redaction engine is installed"
            )
        if self._redactor is not _BY_POLICY:
            return _redact_with(self._redactor, given, values)
        from servinfo.collect.redaction.by_policy import REDACTED_BY_KEY

        redaction = compiled.redaction()
        kind = schema.kind_id
        counts: dict[str, int] = {}
        if given:
            pseudonyms = (
                self._subject_pseudonyms(subject.subject_id)
                if redaction.pseudonymizes(kind)
                else None
            )
            counts = redaction.redact_fields(kind, values, pseudonyms)
        fingerprint = redaction.fingerprint(kind)
        if fingerprint is not None:
            values[REDACTED_BY_KEY] = fingerprint
        return counts

    def _subject_pseudonyms(self, subject_id: str) -> SubjectPseudonyms | None:
        """The subject's pseudonym key (an erased subject's records are refused before)."""
        found = self._pseudonyms.get(subject_id)
        if found is not None:
            return found
        if self._keys is None:
            from servinfo.collect.pseudonym_keys import RedactionKeys

            self._keys = RedactionKeys(self._directory.engine, self._keyring)
        keys = self._keys.for_subjects([subject_id], live=[subject_id])
        if len(self._pseudonyms) >= _PSEUDONYMS_KEPT:
            self._pseudonyms = {}
        self._pseudonyms.update(keys)
        return keys.get(subject_id)

    def store(
        self, prepared: Sequence[Prepared], marks: Sequence[RequestMark | None] | None = None
    ) -> list[str]:
        """Store prepared records, one transaction per region; their ids. With ``marks``
        (one per record, for the lines of keyed requests) a replayed line is stored once,
        and its id is the one stored the first time."""
        records = [p.record for p in prepared]
        return self._writer.put_many(records, batch_size=max(1, len(records)), marks=marks)

    def audit_write(
        self,
        principal: Principal,
        service: str,
        prepared: Sequence[Prepared],
        ids: Sequence[str],
        also: Callable[[Connection], None] | None = None,
    ) -> None:
        """The audit entry of stored records, with ``also`` in the same control transaction
        (a request's progress or answer: committed with its entry or not at all)."""
        self._audit.record_many([_write_event(principal, service, prepared, ids)], also=also)

    def _write_singles(self, group: list[_SingleWrite]) -> list[Outcome | ServinfoError]:
        """Store the records of concurrent single requests: one transaction per region, and
        one for their audit entries (one a request) and idempotency answers together."""
        return write_isolating(self._write_group, group)

    def _write_group(self, group: list[_SingleWrite]) -> list[Outcome]:
        store = self.idempotency
        marks = [
            store.marks(w.claim, [1])[0] if store is not None and w.claim is not None else None
            for w in group
        ]
        ids = self.store([w.prepared for w in group], marks)
        outcomes = [w.prepared.outcome(record_id) for w, record_id in zip(group, ids, strict=True)]
        answers = [
            (w.claim, outcome) for w, outcome in zip(group, outcomes, strict=True) if w.claim
        ]
        events = [
            _write_event(w.principal, w.service, [w.prepared], [record_id])
            for w, record_id in zip(group, ids, strict=True)
        ]

        def answer_all(connection: Connection) -> None:
            assert store is not None  # claims are only taken where keys are kept
            for claim, outcome in answers:
                store.answer_in(connection, claim, outcome.http_status, outcome.to_dict())

        self._audit.record_many(events, also=answer_all if answers else None)
        return [
            replace(outcome, answered=w.claim is not None)
            for w, outcome in zip(group, outcomes, strict=True)
        ]

    # -- registrations -------------------------------------------------------------

    def register(
        self, principal: Principal, service: str, parsed: OrganizationObject | SubjectObject
    ) -> Outcome:
        """Add or update an organization or subject, for the identity service only."""
        if service != self._registrar:
            raise NotRegistrar(
                f"only the {self._registrar!r} service registers organizations and subjects; "
                f"this token is bound to {service!r}"
            )
        policy = self.compiled().policy
        role = policy.roles.get(principal.role)
        if role is None or "register_subjects" not in role.permissions:
            raise Forbidden(f"role '{principal.role}' lacks the permission 'register_subjects'")
        if isinstance(parsed, OrganizationObject):
            outcome = register_organization(self._directory, policy, parsed)
            subject_id = None
        else:
            outcome = register_subject(self._directory, parsed)
            subject_id = parsed.id
        if outcome.status != "unchanged":
            self._audit.record(
                "directory_change",
                actor=principal.name,
                subject_id=subject_id,
                outcome=outcome.status,
                details={"type": outcome.type, "source": service},
            )
        return outcome


@dataclass(frozen=True, slots=True)
class _SingleWrite:
    principal: Principal
    service: str
    prepared: Prepared
    claim: Claim | None


def _write_event(
    principal: Principal, service: str, prepared: Sequence[Prepared], ids: Sequence[str]
) -> RecordedEvent:
    return RecordedEvent.of(
        "write",
        actor=principal.name,
        outcome="stored",
        record_ids=ids,
        details={
            "source": service,
            "records": len(ids),
            "dropped_fields": sum(p.dropped for p in prepared),
            "redactions": sum(sum(p.redactions.values()) for p in prepared),
        },
    )


def write_isolating(
    write: Callable[[list[_Item]], Sequence[_Written]], items: list[_Item]
) -> list[_Written | ServinfoError]:
    """``write(items)``, one result an item. When the write is refused for one item's sake
    (a 4xx: its subject erased meanwhile …), each item is written again alone, so that
    only that item gets the refusal; any other error is raised."""
    try:
        return list(write(items))
    except ServinfoError as error:
        if not rejectable(error):
            raise
        if len(items) == 1:
            return [error]
        return [write_isolating(write, [item])[0] for item in items]


def _refused(error: BaseException) -> ServinfoError:
    """``error`` if it refuses one object; raised again if it fails the whole request."""
    if isinstance(error, ServinfoError) and rejectable(error):
        return error
    raise error


def rejectable(error: ServinfoError) -> bool:
    """Whether an error refuses one object (4xx) rather than failing the whole request."""
    return error.http_status < 500 or isinstance(error, RedactionUnavailable)
