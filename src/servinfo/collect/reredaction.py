"""Stored free text catches up: re-redaction after the policy or the detectors change.

Ingest keeps with each record the fingerprint of what redacted its free text
(``_redacted_by``: :meth:`~servinfo.collect.redaction.by_policy.PolicyRedaction.
fingerprint`, the detectors' code and libraries and the kind's free-text settings).
:func:`rerun_redaction` brings one region up to the current policy:

(1) count the records of the kinds with free text (for the progress bar);
(2) read them, a page at a time, through the access layer
    (:class:`servinfo.access.maintenance.FreeTextReader`); a record whose
    fingerprint is the current one is left alone;
(3) redact each other record's free text again with the current detectors and
    replacements — what the earlier redaction left (a name, a new customer-number
    pattern) is replaced, what it replaced stays replaced (replacements are never
    found again); a value cannot be brought back, so a tag stays a tag where the
    policy now wants a pseudonym;
(4) write each batch back through the writer (:meth:`servinfo.store.RecordWriter.
    reseal`), in one transaction: the record sealed again under its key, with the
    new text, the added counts (``_redactions``) and the current fingerprint. A
    record changed since it was read (rectified meanwhile) is left for the next run;
(5) one audit entry for the run and region (``redaction_rerun``): counts only.

Idempotent and resumable: a record rewritten carries the current fingerprint, so a
second run — or the same job again after a kill, at any point — skips it; nothing
is redacted or rewritten twice. ``dry_run`` does (1)–(3) and writes nothing.
Pseudonyms need the subject's key: an erased subject (whose kept records are still
redacted again) has none any more, and gets tags.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from servinfo.access.maintenance import FreeTextReader, StoredRecord
from servinfo.collect.pseudonym_keys import RedactionKeys
from servinfo.collect.redaction.by_policy import REDACTED_BY_KEY, PolicyRedaction
from servinfo.collect.redaction.replacement import SubjectPseudonyms
from servinfo.collect.service import REDACTIONS_KEY
from servinfo.store import Reseal

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = ["RERUN_ACTION", "RerunReport", "redaction_version", "rerun_redaction"]

#: The audit action of a run.
RERUN_ACTION = "redaction_rerun"
_BATCH = 200


@dataclass(frozen=True)
class RerunReport:
    """What one run did in one region (or, dry, would do)."""

    region: str
    dry_run: bool
    #: The policy and detectors the region was brought up to (:func:`redaction_version`).
    version: str
    #: Records of kinds with free text read.
    examined: int = 0
    #: Already redacted by the current policy and detectors: left alone.
    current: int = 0
    #: Whose text changed: values the earlier redaction left were replaced.
    changed: int = 0
    #: Whose text stayed as it was: only the fingerprint was brought up to date.
    restamped: int = 0
    #: Changed since they were read: left for the next run.
    raced: int = 0
    #: Values replaced now, by type.
    found: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "found": dict(self.found)}


def redaction_version(redaction: PolicyRedaction) -> str:
    """One name for every kind's fingerprint: what a job per region and version dedupes on."""
    parts = sorted(f"{kind}={redaction.fingerprint(kind)}" for kind in redaction.kinds())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def rerun_redaction(
    deployment: Deployment,
    region: str,
    *,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = _BATCH,
) -> RerunReport:
    """Re-redact ``region``'s stored free text under the active policy; see the module."""
    if region not in deployment.regions:
        from servinfo.store import UnknownRegion

        raise UnknownRegion(region, sorted(deployment.regions))
    redaction = PolicyRedaction(deployment.runtime.refresh(force=True).policy)
    kinds = sorted(redaction.kinds())
    reader = FreeTextReader(deployment.directory, deployment.regions, deployment.keyring)
    keys = RedactionKeys(deployment.control, deployment.keyring)
    # (1)
    total = reader.count(region, kinds)
    counts = _Counts()
    batch: list[StoredRecord] = []

    def flush() -> None:
        items = _redo(deployment, redaction, keys, batch, counts)
        if not dry_run and items:
            written = deployment.writer.reseal(region, items)
            counts.raced += written.count(False)
        batch.clear()

    # (2)
    for record in reader.records(region, kinds, batch_size=batch_size):
        counts.examined += 1
        if record.fields.get(REDACTED_BY_KEY) == redaction.fingerprint(record.kind):
            counts.current += 1
        else:
            batch.append(record)
            if len(batch) >= batch_size:
                flush()  # (3), (4)
        if progress is not None and counts.examined % batch_size == 0:
            progress(counts.examined, max(total, counts.examined))
    flush()
    if progress is not None:
        progress(counts.examined, max(total, counts.examined))
    report = RerunReport(
        region=region,
        dry_run=dry_run,
        version=redaction_version(redaction),
        **{**asdict(counts), "found": dict(sorted(counts.found.items()))},
    )
    # (5)
    deployment.audit.record(
        RERUN_ACTION,
        actor=actor,
        outcome="dry_run" if dry_run else "rerun",
        details={
            **{key: value for key, value in report.to_dict().items() if key != "dry_run"},
            "found": sum(report.found.values()),
        },
    )
    return report


@dataclass
class _Counts:
    examined: int = 0
    current: int = 0
    changed: int = 0
    restamped: int = 0
    raced: int = 0
    found: dict[str, int] = field(default_factory=dict)


def _redo(
    deployment: Deployment,
    redaction: PolicyRedaction,
    keys: RedactionKeys,
    records: Sequence[StoredRecord],
    counts: _Counts,
) -> list[Reseal]:
    """(3) for a batch: what each record's fields become."""
    pseudonyms = _subject_keys(deployment, redaction, keys, records)
    items: list[Reseal] = []
    for record in records:
        values = dict(record.fields)
        found = redaction.redact_fields(record.kind, values, pseudonyms.get(record.subject_id))
        names = redaction.fields(record.kind)
        new_fields: dict[str, Any] = {
            name: values[name]
            for name in names
            if name in values and values[name] != record.fields.get(name)
        }
        if found:
            before = record.fields.get(REDACTIONS_KEY)
            merged = dict(before) if isinstance(before, Mapping) else {}
            for type_, count in found.items():
                merged[type_] = merged.get(type_, 0) + count
                counts.found[type_] = counts.found.get(type_, 0) + count
            new_fields[REDACTIONS_KEY] = merged
        if new_fields:
            counts.changed += 1
        else:
            counts.restamped += 1
        new_fields[REDACTED_BY_KEY] = redaction.fingerprint(record.kind)
        items.append(Reseal(record.record_id, record.fields, new_fields))
    return items


def _subject_keys(
    deployment: Deployment,
    redaction: PolicyRedaction,
    keys: RedactionKeys,
    records: Sequence[StoredRecord],
) -> dict[str, SubjectPseudonyms]:
    """The pseudonym keys of the batch's subjects whose kinds pseudonymize; none is
    made for an erased subject."""
    wanted = {r.subject_id for r in records if redaction.pseudonymizes(r.kind)}
    if not wanted:
        return {}
    subjects = deployment.directory.subjects(wanted)
    live = [s for s, subject in subjects.items() if not subject.erased]
    return keys.for_subjects(sorted(wanted), live=live)
