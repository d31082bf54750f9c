"""The redaction engine: a normalised view, two RE2 passes, validators to confirm.

Why not presidio-analyzer, the obvious choice: its pattern recognizers run one
Python ``re`` search per recognizer and pattern over the whole text, then score
and merge, and manage about 0.1 MB/s per core on log text; crash reports and
log excerpts run to hundreds of kilobytes each. Why not one Python ``re``
alternation: backtracking over a few dozen alternatives at every position
stays under 3 MB/s. RE2 compiles all candidate patterns into one automaton
that reads each byte once (``_patterns``), so the cost is the scan plus a
validator call per candidate (``_validators``), and candidates are rare in
ordinary text.

Steps of :meth:`Redactor.find`:

(0) normalise: the detectors read a view of the text (NFKC, zero-width
    characters removed, every space a space; ``_normalise``), and each span is
    mapped back to the original characters at the end;
(1) scan: RE2, leftmost-longest, no captures, over the view's UTF-8 bytes,
    for the structured types (secrets, cards, IBANs, e-mail addresses,
    national ids, passports, dates of birth, IP addresses, phone numbers);
(2) classify: for each candidate, the types whose own pattern matches it whole,
    in priority order (:data:`TYPES`);
(3) confirm: the first type whose validator accepts it wins, with the span the
    validator returns (possibly narrower, never wider), so spans never overlap;
(4) names and addresses: a second RE2 pass over the view with the context
    rules of ``_names`` and the street formats of ``_addresses``, confirmed
    the same way; a span that overlaps one of (3) is dropped (the structured
    value is the more certain).

:meth:`Redactor.redact` replaces each span with its type's placeholder and
counts them. Placeholders contain no digit, ``@`` or ``:``, and no capitalised
word a name rule reads as a name, so redacted text never yields a candidate
again: redaction is idempotent.

A redactor can be built for a subset of the types (``types=``), so that a
caller can run, per field, only the detectors it needs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import re2  # type: ignore[import-untyped]

from servinfo.collect.redaction import _addresses, _names, _patterns, _validators
from servinfo.collect.redaction._normalise import normalise

__all__ = ["PLACEHOLDERS", "TYPES", "Redacted", "Redactor", "Span"]

#: The types found: the structured ones in priority order, then those of the
#: second pass (addresses before names).
CONTEXT_TYPES: tuple[str, ...] = ("ADDRESS", "PERSON")
TYPES: tuple[str, ...] = (*_patterns.PRIORITY, *CONTEXT_TYPES)
#: What each type is replaced with.
PLACEHOLDERS: Mapping[str, str] = MappingProxyType({t: f"<{t}>" for t in TYPES})

#: Verdicts kept per redactor; repeated values (a host's address, a user's
#: e-mail in every log line) are then confirmed once.
_CACHE_SIZE = 1 << 16
_UNKNOWN: Final[tuple[str, int, int]] = ("", -1, -1)  # compared by identity
_Classifier = tuple[str, re.Pattern[str], _validators.Validator]
_ZERO_COUNTS: Mapping[str, int] = MappingProxyType(dict.fromkeys(TYPES, 0))

# RE2 falls back from its DFA to a slower engine when the DFA outgrows its
# memory budget; the default (8 MiB) is too small for this many alternatives.
_RE2_MAX_MEM = 64 << 20
_UNANCHORED = re2._Anchor.UNANCHORED


@dataclass(frozen=True, slots=True)
class Span:
    """``text[start:end]`` of the input is a ``type`` (one of :data:`TYPES`)."""

    start: int
    end: int
    type: str


@dataclass(frozen=True)
class Redacted:
    """A redacted text.

    ``spans`` are offsets into the *input* text; ``counts`` has every type of
    :data:`TYPES`, zero where nothing was found, so a record can store it as is.
    """

    text: str
    counts: Mapping[str, int]
    spans: tuple[Span, ...] = field(default=())


class Redactor:
    """Finds and redacts personal data and secrets in free text.

    Construct once and reuse: compiling the automaton takes milliseconds, a call
    on a short text microseconds. Thread-safe: it holds no per-call state, and
    its verdict cache is a dict whose single operations the GIL makes atomic.

    ``phone_regions`` are the countries tried for numbers written nationally
    with a trunk ``0`` (``020 7946 0018``); numbers written with ``+`` or ``00``
    are checked against their own country, North-American separated forms
    against the NANP.
    """

    def __init__(
        self,
        *,
        phone_regions: Sequence[str] = _validators.DEFAULT_PHONE_REGIONS,
        types: Collection[str] = TYPES,
    ) -> None:
        unknown = sorted(set(types) - set(TYPES))
        if unknown:
            raise ValueError(f"redaction types {unknown}: expected some of {', '.join(TYPES)}")
        options = re2.Options()
        options.longest_match = True
        options.never_capture = True
        options.max_mem = _RE2_MAX_MEM
        validators = dict(_validators.VALIDATORS)
        validators["PHONE"] = _validators.PhoneChecker(phone_regions)
        self._verdicts: dict[int, tuple[str, int, int] | None] = {}
        classifiers = {
            type_: (type_, pattern, validators[type_]) for type_, pattern in _patterns.classifiers()
        }
        # (1) one scan for each group of structured types, each with its classifiers.
        self._scans: tuple[tuple[Any, tuple[_Classifier, ...]], ...] = tuple(
            (
                re2.compile(_patterns.scan_pattern(group), options),
                tuple(classifiers[t] for t in _patterns.PRIORITY if t in group),
            )
            for group in (tuple(t for t in g if t in types) for g in _patterns.SCAN_GROUPS)
            if group
        )
        # (4) names and addresses: each rule alone for classifying, all in one scan.
        # Each rule: its type, how to read it, its pattern in the scan, its classifier.
        rules: list[tuple[str, _names.Rule | None, str, str]] = []
        if "ADDRESS" in types:
            rules.append(("ADDRESS", None, _addresses.ADDRESS, _addresses.ADDRESS))
        if "PERSON" in types:
            rules.extend(("PERSON", r, r.pattern, r.pattern) for r in _names.CONTEXT_RULES)
            if _names.first_names():  # faker missing: the context rules alone
                listed = _names.listed_pattern()
                any_first = _names.listed_pattern(first=_names.CAPITALISED)
                rules.append(("PERSON", _names.LISTED, listed, any_first))
        self._context_rules = tuple(
            (type_, rule, re.compile(classifier)) for type_, rule, _, classifier in rules
        )
        self._context_scan = (
            re2.compile("|".join(f"(?:{_unnamed(p)})" for _, _, p, _ in rules), options)
            if rules
            else None
        )

    def find(self, text: str) -> tuple[Span, ...]:
        """The spans to redact in ``text``, in order, never overlapping."""
        view = normalise(text)
        # RE2 reads UTF-8 bytes; a lone surrogate (valid in a str, not in UTF-8)
        # becomes one "?" byte, so it still counts as one character below.
        data = view.text.encode("utf-8", "replace")
        spans: list[Span] = []  # in order: each span goes in its place
        for index, (scan, classifiers) in enumerate(self._scans):
            earlier = len(spans)
            for start, end in _char_offsets(data, scan, len(view.text)):
                if earlier and _overlaps(spans, start, end):
                    continue  # an earlier group's type comes first
                span = self._confirm(view.text, start, end, index, classifiers)
                if span is not None:
                    bisect.insort(spans, span, key=_start)
        if self._context_scan is not None:
            found = list(self._context_spans(view.text, data))
            if found:
                spans = _merged(spans, found)
        if view.origin is None:
            return tuple(spans)
        return tuple(Span(*view.span(s.start, s.end), s.type) for s in spans)

    def _context_spans(self, text: str, data: bytes) -> Iterator[Span]:
        assert self._context_scan is not None
        for start, end in _char_offsets(data, self._context_scan, len(text)):
            candidate = text[start:end]
            for type_, rule, pattern in self._context_rules:
                match = pattern.fullmatch(candidate)
                if match is None:
                    continue
                if rule is None:  # an address
                    confirmed = _addresses.address(text, start, end)
                    if confirmed is not None:
                        yield Span(*confirmed, type_)
                        break
                    continue
                value_start = match.start("v")
                part = _names.person(match.group("v"), rule)
                if part is not None:
                    yield Span(start + value_start + part[0], start + value_start + part[1], type_)
                    break

    def _confirm(
        self,
        text: str,
        start: int,
        end: int,
        group: int,
        classifiers: tuple[_Classifier, ...],
    ) -> Span | None:
        """The confirmed span in ``text[start:end]``, from the verdict cache if it can."""
        candidate = text[start:end]
        # A verdict depends on the candidate and at most two characters either side.
        # The cache is keyed by their hash (SipHash, keyed at random per process), so
        # it keeps no personal data; a 64-bit collision among its entries is
        # vanishingly unlikely and cannot be aimed at without the key.
        key = hash((group, text[max(0, start - 2) : start], candidate, text[end : end + 2]))
        verdict = self._verdicts.get(key, _UNKNOWN)
        if verdict is _UNKNOWN:
            verdict = _classify(text, start, end, candidate, classifiers)
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()  # cheaper than LRU bookkeeping on every hit
            self._verdicts[key] = verdict
        if verdict is None:
            return None
        type_, offset, length = verdict
        return Span(start + offset, start + offset + length, type_)

    def redact(self, text: str) -> Redacted:
        """``text`` with each span replaced by its placeholder, and the counts."""
        spans = self.find(text)
        if not spans:
            return Redacted(text=text, counts=_ZERO_COUNTS, spans=())
        counts = dict.fromkeys(TYPES, 0)
        for span in spans:
            counts[span.type] += 1
        parts: list[str] = []
        pos = 0
        for span in spans:
            parts.append(text[pos : span.start])
            parts.append(PLACEHOLDERS[span.type])
            pos = span.end
        parts.append(text[pos:])
        return Redacted(
            text="".join(parts),
            counts=MappingProxyType(counts),
            spans=spans,
        )


def _classify(
    text: str, start: int, end: int, candidate: str, classifiers: tuple[_Classifier, ...]
) -> tuple[str, int, int] | None:
    """(2)-(3): the first type whose pattern matches the candidate whole and validates."""
    first = candidate[0]
    for type_, pattern, validate in classifiers:
        if first not in _patterns.FIRST_CHARS[type_]:
            continue  # cheaper than a failing fullmatch
        match = pattern.fullmatch(candidate)
        if match is not None:
            confirmed = validate(text, start, end, match)
            if confirmed is not None:
                return type_, confirmed[0] - start, confirmed[1] - confirmed[0]
    return None


def _start(span: Span) -> int:
    return span.start


def _overlaps(spans: list[Span], start: int, end: int) -> bool:
    """``[start, end)`` overlaps one of ``spans`` (in order, never overlapping)."""
    index = bisect.bisect_left(spans, start, key=_start)
    return (index < len(spans) and spans[index].start < end) or (
        index > 0 and spans[index - 1].end > start
    )


def _unnamed(pattern: str) -> str:
    """``pattern`` without group names, which the joined scan would repeat."""
    return pattern.replace("(?P<v>", "(?:")


def _byte_spans(scan: Any, data: bytes) -> Iterator[tuple[int, int]]:
    """Each match's ``[start, end)`` in ``data``, leftmost first.

    google-re2's ``finditer`` wraps each match in a match object and decodes
    offsets for ``str`` input; the scan needs only the byte span of each match,
    which the compiled program's ``Match`` gives directly (a third less time on
    text dense with candidates). The wrapper is pinned; without that method the
    public ``finditer`` is used.
    """
    match = getattr(getattr(scan, "_regexp", None), "Match", None)
    if match is None:  # pragma: no cover - another google-re2 release
        for found in scan.finditer(data):
            yield found.span()
        return
    pos, end = 0, len(data)
    while pos <= end:
        start, stop = match(_UNANCHORED, data, pos, end)[0]
        if start < 0:
            return
        yield start, stop
        pos = stop if stop > start else stop + 1


def _char_offsets(data: bytes, scan: Any, length: int) -> Iterator[tuple[int, int]]:
    """Each match's ``[start, end)`` in characters of the text ``data`` encodes."""
    if len(data) == length:  # ASCII: bytes are characters
        yield from _byte_spans(scan, data)
        return
    byte_pos = char_pos = 0
    for start, end in _byte_spans(scan, data):
        # Byte offsets to str offsets, decoding each byte once.
        char_start = char_pos + len(data[byte_pos:start].decode("utf-8"))
        char_pos = char_start + len(data[start:end].decode("utf-8"))
        byte_pos = end
        yield char_start, char_pos


def _merged(structured: list[Span], context: list[Span]) -> list[Span]:
    """Both lists (each in order) merged; a context span overlapping a structured one is dropped."""
    merged: list[Span] = []
    index = 0
    for span in context:
        while index < len(structured) and structured[index].end <= span.start:
            merged.append(structured[index])
            index += 1
        if index < len(structured) and structured[index].start < span.end:
            continue  # overlaps the next structured span
        merged.append(span)
    merged.extend(structured[index:])
    return merged
