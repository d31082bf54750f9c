"""The access history of an access export: every audit entry about the subject, each with its
proof, and what the subject needs to check them alone.

An access export (:mod:`servinfo.rights.export`) carries, under ``history/``
(docs/rights.md, "The access history"):

``entries.jsonl``     one line per entry, in index order: its index, its canonical
                      text exactly as stored (and hashed into the log), and its C2SP
                      tlog-proof against one checkpoint;
``checkpoint.txt``    that checkpoint, cosigned by the witnesses when the deployment
                      has a witness policy;
``trust-policy.txt``  the C2SP tlog-policy to check it with: the log key, the
                      witnesses and the quorum (``quorum none`` without witnesses);
``subject.json``      the subject's pseudonym, the key of the references in entries of
                      format 2, the identifiers the person knows (their records,
                      requests, principals, ledger entries) with the reference each
                      stands for in the entries, and the grounds on which entries are
                      withheld;

and ``verify.py`` at the root of the ZIP checks it all with Python and
``cryptography`` alone (:mod:`servinfo.audit.standalone.verify`). Entries
withheld by law (:mod:`servinfo.rights.withholding`) are neither shipped nor
proved; their ground is listed unless it is itself gagged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from servinfo.audit.entries import reference

if TYPE_CHECKING:
    from servinfo.audit.evidence import Evidence
    from servinfo.audit.history import SubjectHistory

__all__ = [
    "AccessHistory",
    "ActorInfo",
    "HistoryEntry",
    "HistorySource",
    "Identifier",
    "WithheldGround",
    "Withholder",
    "build_history",
]


class HistorySource(Protocol):
    """Where a subject's entries and their evidence come from (the deployment's audit log:
    :class:`servinfo.audit.evidence.LogEvidence`)."""

    def subject_history(self, subject_id: str) -> SubjectHistory | None: ...

    def evidence(self, indexes: Sequence[int], entries: Mapping[int, bytes]) -> Evidence: ...


@dataclass(frozen=True)
class Identifier:
    """An identifier the person knows, and the reference that stands for it in entries."""

    reference: str
    #: "record", "request", "principal", "consent", "objection", "restriction", "disclosure".
    kind: str
    id: str


@dataclass(frozen=True)
class WithheldGround:
    """A ground on which entries are left out of the history; never their count or dates."""

    ground: str
    description: str


@dataclass(frozen=True)
class ActorInfo:
    """What the history says of who acted: a role and a legal entity, never a staff name."""

    role: str | None
    entity: str | None
    #: The principal acts for the subject: their own account or their authorized agent.
    own: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """An entry about the subject: its index, its bytes as stored, and their fields."""

    index: int
    data: bytes
    #: The entry's JSON object (its fields are the audit log's: docs/audit-formats.md).
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class AccessHistory:
    """A subject's history as the export ships it."""

    #: Every entry shown, in index order.
    entries: Sequence[HistoryEntry]
    evidence: Evidence
    pseudonyms: tuple[str, ...]
    reference_key: bytes
    identifiers: tuple[Identifier, ...]
    withheld: tuple[WithheldGround, ...] = ()
    #: Who the entries' named actors are (staff and services by role and entity).
    actors: Mapping[str, ActorInfo] = field(default_factory=dict)

    def files(self) -> Iterator[tuple[str, str]]:
        """The ``history/*`` files: name and text."""
        proofs = self.evidence.proofs
        dump = json.dumps
        yield (
            "history/entries.jsonl",
            "".join(
                # dumps escapes non-ASCII characters, but the line decodes to the same
                # string, whose UTF-8 bytes are the entry as stored and hashed.
                f'{{"index": {e.index}, "entry": {dump(e.data.decode("utf-8"))}, '
                f'"proof": {dump(proofs[e.index])}}}\n'
                for e in self.entries
            ),
        )
        yield "history/checkpoint.txt", self.evidence.checkpoint.decode("utf-8")
        yield "history/trust-policy.txt", self.evidence.trust_policy
        subject = {
            "pseudonyms": list(self.pseudonyms),
            "reference_key": self.reference_key.hex(),
            "identifiers": [
                {"reference": i.reference, "kind": i.kind, "id": i.id} for i in self.identifiers
            ],
            "withheld": [{"ground": w.ground, "description": w.description} for w in self.withheld],
        }
        yield "history/subject.json", dump(subject, indent=2, ensure_ascii=False) + "\n"

    def names(self) -> dict[str, Identifier]:
        """Each identifier by the reference entries hold for it."""
        return {i.reference: i for i in self.identifiers}


class Withholder(Protocol):
    """Decides which entries are withheld from a history (:mod:`servinfo.rights.withholding`)."""

    def ground_for(self, entry: Mapping[str, Any], key: bytes) -> WithheldGround | None:
        """The ground ``entry`` (its fields) is withheld on, None if it is not; a ground whose
        ``ground`` is empty is gagged: the entry is withheld and the ground not named. ``key``
        is the subject's reference key (entries of format 2 name identifiers by reference)."""
        ...


def build_history(
    source: HistorySource,
    subject_id: str,
    known: Mapping[str, Iterable[str]],
    *,
    withhold: Sequence[Withholder] = (),
    actors: Mapping[str, ActorInfo] | None = None,
) -> AccessHistory | None:
    """The subject's history, or None when the log holds nothing about them.

    ``known`` lists, by kind, the identifiers the person knows; those whose
    reference occurs in the entries shown become ``subject.json``'s
    identifiers. ``withhold`` decides which entries are left out, and on what
    ground. ``actors`` describes the named actors by role and entity.
    """
    history = source.subject_history(subject_id)
    if history is None:
        return None
    shown: list[HistoryEntry] = []
    grounds: dict[str, WithheldGround] = {}
    loads = json.loads
    key = history.reference_key
    for index, data in history.entries:
        fields = loads(data)
        verdict = next((v for w in withhold if (v := w.ground_for(fields, key)) is not None), None)
        if verdict is None:
            shown.append(HistoryEntry(index, data, fields))
        elif verdict.ground:  # a gagged ground is not even named
            grounds.setdefault(verdict.ground, verdict)
    present = _references(shown)
    identifiers = sorted(
        {
            Identifier(ref, kind, identifier)
            for kind, ids in known.items()
            for identifier in ids
            if (ref := reference(key, identifier)) in present
        },
        key=lambda i: (i.kind, i.id),
    )
    evidence = source.evidence([e.index for e in shown], {e.index: e.data for e in shown})
    return AccessHistory(
        entries=shown,
        evidence=evidence,
        pseudonyms=(history.pseudonym,),
        reference_key=key,
        identifiers=tuple(identifiers),
        withheld=tuple(grounds.values()),
        actors=dict(actors or {}),
    )


def _references(entries: Iterable[HistoryEntry]) -> set[str]:
    """Every reference the entries of format 2 hold: record ids, links, a subject actor."""
    found: set[str] = set()
    for entry in entries:
        fields = entry.fields
        if fields["v"] != 2:
            continue  # format 1 names identifiers in clear
        found.update(fields["record_ids"])
        found.update(fields["links"].values())
        actor = fields["actor"]
        if isinstance(actor, dict):
            found.add(actor["ref"])
    return found
