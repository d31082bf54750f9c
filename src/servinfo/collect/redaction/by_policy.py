"""Redaction as the policy says, field by field, and the fingerprint each record keeps.

For each free-text field the policy resolves (:func:`servinfo.policy.redaction.
field_redaction`) which built-in detectors run, which of the organization's patterns,
and how each type is replaced. :class:`PolicyRedaction` compiles that once per policy
version: one engine (:class:`~.engine.Redactor`) per distinct set of built-in types,
each custom pattern compiled by RE2 as ``policy check`` checked it (:mod:`.custom`).

A record's **fingerprint** (:meth:`PolicyRedaction.fingerprint`) names what redacted
its free text: the detectors' version (:func:`detectors_version`, a hash of this
package's code and the versions of the libraries its validators use) and the
resolved settings of each free-text field of its kind. Ingest keeps it with the
record (``_redacted_by``); re-redaction (:mod:`servinfo.collect.reredaction`) redoes
exactly the records whose fingerprint differs from the current one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from types import MappingProxyType
from typing import Any

from servinfo.collect.redaction import _validators
from servinfo.collect.redaction.custom import CustomPatterns
from servinfo.collect.redaction.engine import Redactor
from servinfo.collect.redaction.replacement import (
    Found,
    SubjectPseudonyms,
    outside_placeholders,
    replace_spans,
)
from servinfo.policy.model import Policy
from servinfo.policy.redaction import FieldRedaction, field_redaction

__all__ = [
    "REDACTED_BY_KEY",
    "FieldRedactor",
    "PolicyRedaction",
    "TextRedacted",
    "detectors_version",
]

#: The reserved key of a record's stored fields that holds its redaction fingerprint
#: (policy field names never start with ``_``).
REDACTED_BY_KEY = "_redacted_by"
#: Libraries whose data or rules decide what the validators accept.
_LIBRARIES = ("google-re2", "phonenumbers", "python-stdnum", "faker")


@cache
def detectors_version() -> str:
    """A hash of the redaction code and its libraries' versions: a new release of either
    may find other spans, so stored text is redone (:mod:`servinfo.collect.reredaction`)."""
    digest = hashlib.sha256()
    package = resources.files("servinfo.collect.redaction")
    for entry in sorted(package.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py") and entry.name != "_evaluation.py":
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes() + b"\0")
    for library in _LIBRARIES:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{library}=={version}\0".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class TextRedacted:
    text: str
    counts: Mapping[str, int]


class FieldRedactor:
    """One free-text field's redaction: its engine, its patterns, its replacements."""

    def __init__(
        self, config: FieldRedaction, engine: Redactor | None, patterns: CustomPatterns
    ) -> None:
        self.config = config
        self._engine = engine
        self._patterns = patterns

    def find(self, text: str) -> list[Found]:
        """The spans to replace, in order, never overlapping.

        The organization's patterns come first (a customer number is theirs to name,
        even where a detector would take it for a phone number); the detectors' spans
        overlapping one are dropped; spans over a replacement already in the text too.
        """
        custom = self._patterns.find(text)
        engine = self._engine
        found = [Found(s.start, s.end, s.type) for s in engine.find(text)] if engine else []
        if custom:
            found = [
                s for s in found if not any(s.start < c.end and c.start < s.end for c in custom)
            ]
            found = sorted([*custom, *found], key=lambda s: s.start)
        return outside_placeholders(text, found)

    def redact(self, text: str, pseudonyms: SubjectPseudonyms | None) -> TextRedacted:
        spans = self.find(text)
        if not spans:
            return TextRedacted(text, {})
        redacted, counts = replace_spans(text, spans, self.config.replacements, pseudonyms)
        return TextRedacted(redacted, counts)


class PolicyRedaction:
    """Every free-text field's :class:`FieldRedactor` for one policy version."""

    def __init__(
        self,
        policy: Policy,
        *,
        phone_regions: Sequence[str] = _validators.DEFAULT_PHONE_REGIONS,
    ) -> None:
        engines: dict[frozenset[str], Redactor | None] = {}
        self._fields: dict[str, Mapping[str, FieldRedactor]] = {}
        self._fingerprints: dict[str, str] = {}
        version = detectors_version()
        for kind_id, kind in policy.kinds().items():
            fields: dict[str, FieldRedactor] = {}
            for name, spec in kind.fields.items():
                if not spec.free_text:
                    continue
                config = field_redaction(policy, spec)
                types = frozenset(config.builtin)
                if types not in engines:
                    engines[types] = (
                        Redactor(phone_regions=phone_regions, types=types) if types else None
                    )
                patterns = CustomPatterns([(p.type, p.regex) for _, p in config.patterns])
                fields[name] = FieldRedactor(config, engines[types], patterns)
            if fields:
                self._fields[kind_id] = MappingProxyType(fields)
                self._fingerprints[kind_id] = _fingerprint(version, fields)

    def fields(self, kind_id: str) -> Mapping[str, FieldRedactor]:
        """The free-text fields of ``kind_id`` and their redactors (empty: none)."""
        return self._fields.get(kind_id, MappingProxyType({}))

    def kinds(self) -> Collection[str]:
        """The kinds that have free-text fields."""
        return self._fields.keys()

    def fingerprint(self, kind_id: str) -> str | None:
        """What a record of ``kind_id`` redacted now keeps (None: the kind has no free text)."""
        return self._fingerprints.get(kind_id)

    def pseudonymizes(self, kind_id: str) -> bool:
        """Whether some field of ``kind_id`` may need the subject's pseudonym key."""
        return any(f.config.pseudonymizes for f in self.fields(kind_id).values())

    def redact_fields(
        self, kind_id: str, values: dict[str, Any], pseudonyms: SubjectPseudonyms | None
    ) -> dict[str, int]:
        """Redact the free-text fields of ``values`` in place; the counts per type."""
        counts: dict[str, int] = {}
        for name, redactor in self.fields(kind_id).items():
            text = values.get(name)
            if not isinstance(text, str) or not text:
                continue
            redacted = redactor.redact(text, pseudonyms)
            values[name] = redacted.text
            for type_, count in redacted.counts.items():
                counts[type_] = counts.get(type_, 0) + count
        return counts


def _fingerprint(version: str, fields: Mapping[str, FieldRedactor]) -> str:
    canonical = {name: f.config.canonical() for name, f in sorted(fields.items())}
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return f"{version}:{hashlib.sha256(data.encode('utf-8')).hexdigest()[:16]}"
