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
(2) classify: for each candidate, the types of its scan's group, in priority
    order (:data:`TYPES`), that its first character and its characters allow;
    one is matched again with its Python pattern only where another could
    still be the one the scan matched;
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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, cast

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
_Verdict = tuple[str, int, int] | None  # type, offset and length in the candidate
_Found = tuple[int, int, str]  # start, end, type: a span before it is a Span
#: What a candidate is checked with: its type, a character every candidate of the
#: type holds and one none holds ("" for none), the type's pattern, its validator,
#: and whether the validator reads the candidate with the pattern itself.
_Check = tuple[str, str, str, re.Pattern[str], _validators.Validator, bool]
_ZERO_COUNTS: Mapping[str, int] = MappingProxyType(dict.fromkeys(TYPES, 0))

# RE2 falls back from its DFA to a slower engine when the DFA outgrows its
# memory budget; the default (8 MiB) is too small for this many alternatives.
_RE2_MAX_MEM = 64 << 20
_UNANCHORED = re2._Anchor.UNANCHORED


@dataclass(frozen=True, slots=True, init=False)
class Span:
    """``text[start:end]`` of the input is a ``type`` (one of :data:`TYPES`)."""

    start: int
    end: int
    type: str

    def __init__(self, start: int, end: int, type: str) -> None:
        # A frozen dataclass's own __init__ sets each field through
        # object.__setattr__; the slots' setters, called directly, build the same
        # Span in two thirds of the time (5 us of a dense record's 130 went there).
        _set_start(self, start)
        _set_end(self, end)
        _set_type(self, type)


_set_start, _set_end, _set_type = (vars(Span)[name].__set__ for name in ("start", "end", "type"))


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
        validators: dict[str, _validators.Validator] = dict(_validators.VALIDATORS)
        validators["PHONE"] = _validators.PhoneChecker(phone_regions)
        self._verdicts: dict[int, _Verdict] = {}
        self._validators = validators
        self._patterns = {t: _patterns.compiled(t) for t in _patterns.PRIORITY}
        # (1) one scan for each group of structured types, the group's types in order.
        groups = [tuple(t for t in g if t in types) for g in _patterns.SCAN_GROUPS]
        self._scans: tuple[tuple[Any, tuple[str, ...]], ...] = tuple(
            (_matcher(re2.compile(_patterns.scan_pattern(group), options)), group)
            for group in groups
            if group
        )
        # (2) per group and first character, the checks a candidate goes through.
        self._checks: tuple[dict[str, tuple[_Check, ...]], ...] = tuple({} for _ in self._scans)
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
        # The first rule a candidate matches, in one call: each rule a named
        # alternative (its value group renamed), the last group closed its name.
        self._first_rule = re.compile(
            "|".join(
                f"(?P<r{i}>{classifier.replace('(?P<v>', f'(?P<v{i}>')})"
                for i, (_, _, _, classifier) in enumerate(rules)
            )
        )
        self._context_scan = (
            _matcher(re2.compile("|".join(f"(?:{_unnamed(p)})" for _, _, p, _ in rules), options))
            if rules
            else None
        )

    def find(self, text: str) -> tuple[Span, ...]:
        """The spans to redact in ``text``, in order, never overlapping."""
        view = normalise(text)
        vtext = view.text
        # RE2 reads UTF-8 bytes; a lone surrogate (valid in a str, not in UTF-8)
        # becomes one "?" byte, so it still counts as one character below.
        data = vtext.encode("utf-8", "replace")
        # Every scan first, then the checks: RE2's automata run one after another
        # while they are in the processor's caches, not between Python's work.
        candidates = [_offsets(match, data, vtext) for match, _ in self._scans]
        context = None if self._context_scan is None else _offsets(self._context_scan, data, vtext)
        found: list[_Found] = []  # in order: each span goes in its place
        verdicts = self._verdicts
        for index, (_, group) in enumerate(self._scans):
            earlier = len(found)
            for start, end in candidates[index]:
                if earlier and _overlaps(found, start, end):
                    continue  # an earlier group's type comes first
                # A verdict depends on the candidate and at most two characters either
                # side. The cache is keyed by their hash (SipHash, keyed at random per
                # process), so it keeps no personal data; a 64-bit collision among its
                # entries is vanishingly unlikely and cannot be aimed at without the key.
                low = start - 2 if start > 2 else 0
                key = hash((index, start - low, end - start, vtext[low : end + 2]))
                verdict = verdicts.get(key, _UNKNOWN)
                if verdict is _UNKNOWN:
                    verdict = self._classify(vtext, start, end, index, group)
                    if len(verdicts) >= _CACHE_SIZE:
                        verdicts.clear()  # cheaper than LRU bookkeeping on every hit
                    verdicts[key] = verdict
                if verdict is not None:
                    offset = start + verdict[1]
                    bisect.insort(found, (offset, offset + verdict[2], verdict[0]))
        if context:
            names = self._context_spans(vtext, context)
            if names:
                found = _merged(found, names)
        if view.origin is None:
            return tuple([Span(start, end, type_) for start, end, type_ in found])
        return tuple([Span(*view.span(start, end), type_) for start, end, type_ in found])

    def _context_spans(self, text: str, candidates: list[tuple[int, int]]) -> list[_Found]:
        found: list[_Found] = []
        rules = self._context_rules
        for start, end in candidates:
            candidate = text[start:end]
            first = self._first_rule.fullmatch(candidate)
            if first is None or first.lastgroup is None:
                continue
            index = int(first.lastgroup[1:])
            span = self._context_span(text, start, end, index, f"v{index}", first)
            while span is None and index + 1 < len(rules):
                # The rule that matched did not confirm: the next ones, one by one.
                index += 1
                match = rules[index][2].fullmatch(candidate)
                if match is not None:
                    span = self._context_span(text, start, end, index, "v", match)
            if span is not None:
                found.append(span)
        return found

    def _context_span(
        self, text: str, start: int, end: int, index: int, value: str, match: re.Match[str]
    ) -> _Found | None:
        """The span rule ``index`` confirms in the candidate ``text[start:end]`` it matched."""
        type_, rule, _ = self._context_rules[index]
        if rule is None:  # an address
            confirmed = _addresses.address(text, start, end)
            return None if confirmed is None else (*confirmed, type_)
        value_start = start + match.start(value)
        part = _names.person(match.group(value), rule)
        return None if part is None else (value_start + part[0], value_start + part[1], type_)

    def _classify(
        self, text: str, start: int, end: int, index: int, group: tuple[str, ...]
    ) -> _Verdict:
        """(2)-(3): the first type the candidate is whose validator confirms it.

        The candidate is one of the types its first character and its characters
        allow (the scan matched one of their patterns): while none of the others
        matched, the last one is not matched again.
        """
        first = text[start]
        checks = self._checks[index].get(first)
        if checks is None:
            checks = self._checks[index][first] = self._first_checks(first, group)
        if len(checks) == 1:  # the type the scan matched, as a rule: not matched again
            type_, holds, lacks, _, validate, reads = checks[0]
            if not reads and (holds or lacks):
                candidate = text[start:end]
                if (holds and holds not in candidate) or (lacks and lacks in candidate):
                    return None
            confirmed = validate(text, start, end)
            if confirmed is None:
                return None
            return type_, confirmed[0] - start, confirmed[1] - confirmed[0]
        candidate = text[start:end]
        unmatched = True
        last = len(checks) - 1
        for position, (type_, holds, lacks, pattern, validate, reads) in enumerate(checks):
            if not reads:
                if (holds and holds not in candidate) or (lacks and lacks in candidate):
                    continue
                if not (unmatched and position == last) and pattern.fullmatch(candidate) is None:
                    continue
            unmatched = False
            confirmed = validate(text, start, end)
            if confirmed is not None:
                return type_, confirmed[0] - start, confirmed[1] - confirmed[0]
        return None

    def _first_checks(self, first: str, group: tuple[str, ...]) -> tuple[_Check, ...]:
        """The checks of a candidate of ``group``'s scan starting with ``first``, in order."""
        return tuple(
            (
                type_,
                _patterns.HOLDS.get(type_, ""),
                _patterns.LACKS.get(type_, ""),
                self._patterns[type_],
                self._validators[type_],
                type_ in _validators.VALUE_TYPES,
            )
            for type_ in group
            if first in _patterns.FIRST_CHARS[type_]
        )

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


def _overlaps(found: list[_Found], start: int, end: int) -> bool:
    """``[start, end)`` overlaps one of ``found`` (in order, never overlapping)."""
    index = bisect.bisect_left(found, (start,))
    return (index < len(found) and found[index][0] < end) or (
        index > 0 and found[index - 1][1] > start
    )


def _unnamed(pattern: str) -> str:
    """``pattern`` without group names, which the joined scan would repeat."""
    return pattern.replace("(?P<v>", "(?:")


#: ``(anchor, data, pos, end)`` to the spans of a match in ``data[pos:end]``, the
#: whole match's first: ``(-1, -1)`` where there is none.
_Matcher = Callable[[Any, bytes, int, int], Sequence[tuple[int, int]]]


def _matcher(scan: Any) -> _Matcher:
    """The function that finds ``scan``'s next match.

    google-re2's ``finditer`` wraps each match in a match object and decodes
    offsets for ``str`` input; the scan needs only the byte span of each match,
    which the compiled program's ``Match`` gives directly (a third less time on
    text dense with candidates). The wrapper is pinned; without that method the
    public ``search`` stands in.
    """
    match = getattr(getattr(scan, "_regexp", None), "Match", None)
    if match is not None:
        return cast(_Matcher, match)

    def search(anchor: Any, data: bytes, pos: int, end: int) -> Sequence[tuple[int, int]]:
        found = scan.search(data, pos, end)  # pragma: no cover - another google-re2 release
        return [(-1, -1) if found is None else found.span()]  # pragma: no cover

    return search  # pragma: no cover


def _offsets(match: _Matcher, data: bytes, text: str) -> list[tuple[int, int]]:
    """Each match's ``[start, end)`` in characters of ``text`` (``data`` is its UTF-8)."""
    spans: list[tuple[int, int]] = []
    pos, size = 0, len(data)
    while pos <= size:
        start, stop = match(_UNANCHORED, data, pos, size)[0]
        if start < 0:
            break
        spans.append((start, stop))
        pos = stop if stop > start else stop + 1
    if size == len(text) or not spans:  # ASCII: bytes are characters
        return spans
    chars: list[tuple[int, int]] = []
    byte_pos = char_pos = 0
    for start, stop in spans:
        # Byte offsets to str offsets, decoding each byte once.
        char_start = char_pos + len(data[byte_pos:start].decode("utf-8"))
        char_pos = char_start + len(data[start:stop].decode("utf-8"))
        byte_pos = stop
        chars.append((char_start, char_pos))
    return chars


def _merged(structured: list[_Found], context: list[_Found]) -> list[_Found]:
    """Both lists (each in order) merged; a context span overlapping a structured one is dropped."""
    merged: list[_Found] = []
    index = 0
    for span in context:
        while index < len(structured) and structured[index][1] <= span[0]:
            merged.append(structured[index])
            index += 1
        if index < len(structured) and structured[index][0] < span[1]:
            continue  # overlaps the next structured span
        merged.append(span)
    merged.extend(structured[index:])
    return merged
