"""The redaction engine: one RE2 pass for candidates, validators to confirm.

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

(1) scan: RE2, leftmost-longest, no captures, over the text's UTF-8 bytes;
(2) classify: for each candidate, the types whose own pattern matches it whole,
    in priority order SECRET > CARD > IBAN > EMAIL > IPV6 > IPV4 > PHONE;
(3) confirm: the first type whose validator accepts it wins, with the span the
    validator returns (possibly narrower, never wider), so spans never overlap.

:meth:`Redactor.redact` replaces each span with its type's placeholder and
counts them. Placeholders contain no digit, ``@`` or ``:`` so redacted text never
yields a candidate again: redaction is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import re2  # type: ignore[import-untyped]

from servinfo.collect.redaction import _patterns, _validators

__all__ = ["PLACEHOLDERS", "TYPES", "Redacted", "Redactor", "Span"]

#: The types found, in priority order.
TYPES: tuple[str, ...] = _patterns.PRIORITY
#: What each type is replaced with.
PLACEHOLDERS: Mapping[str, str] = MappingProxyType({t: f"<{t}>" for t in TYPES})

#: Verdicts kept per redactor; repeated values (a host's address, a user's
#: e-mail in every log line) are then confirmed once.
_CACHE_SIZE = 1 << 16
_UNKNOWN: Final[tuple[str, int, int]] = ("", -1, -1)  # compared by identity
_ZERO_COUNTS: Mapping[str, int] = MappingProxyType(dict.fromkeys(TYPES, 0))

# RE2 falls back from its DFA to a slower engine when the DFA outgrows its
# memory budget; the default (8 MiB) is too small for this many alternatives.
_RE2_MAX_MEM = 64 << 20


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

    def __init__(self, *, phone_regions: Sequence[str] = _validators.DEFAULT_PHONE_REGIONS) -> None:
        options = re2.Options()
        options.longest_match = True
        options.never_capture = True
        options.max_mem = _RE2_MAX_MEM
        self._scan = re2.compile(_patterns.scan_pattern(), options)
        validators = dict(_validators.VALIDATORS)
        validators["PHONE"] = _validators.PhoneChecker(phone_regions)
        self._verdicts: dict[int, tuple[str, int, int] | None] = {}
        self._classifiers: tuple[tuple[str, re.Pattern[str], _validators.Validator], ...] = tuple(
            (type_, pattern, validators[type_]) for type_, pattern in _patterns.classifiers()
        )

    def find(self, text: str) -> tuple[Span, ...]:
        """The spans to redact in ``text``, in order, never overlapping."""
        # RE2 reads UTF-8 bytes; a lone surrogate (valid in a str, not in UTF-8)
        # becomes one "?" byte, so it still counts as one character below.
        data = text.encode("utf-8", "replace")
        is_ascii = len(data) == len(text)
        spans: list[Span] = []
        byte_pos = char_pos = 0
        for found in self._scan.finditer(data):
            start, end = found.span()
            if not is_ascii:  # byte offsets to str offsets, decoding each byte once
                char_start = char_pos + len(data[byte_pos:start].decode("utf-8"))
                char_pos = char_start + len(data[start:end].decode("utf-8"))
                byte_pos, start, end = end, char_start, char_pos
            span = self._confirm(text, start, end)
            if span is not None:
                spans.append(span)
        return tuple(spans)

    def _confirm(self, text: str, start: int, end: int) -> Span | None:
        """The confirmed span in ``text[start:end]``, from the verdict cache if it can."""
        candidate = text[start:end]
        # A verdict depends on the candidate and at most two characters either side.
        # The cache is keyed by their hash (SipHash, keyed at random per process), so
        # it keeps no personal data; a 64-bit collision among its entries is
        # vanishingly unlikely and cannot be aimed at without the key.
        key = hash((text[max(0, start - 2) : start], candidate, text[end : end + 2]))
        verdict = self._verdicts.get(key, _UNKNOWN)
        if verdict is _UNKNOWN:
            verdict = self._classify(text, start, end, candidate)
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()  # cheaper than LRU bookkeeping on every hit
            self._verdicts[key] = verdict
        if verdict is None:
            return None
        type_, offset, length = verdict
        return Span(start + offset, start + offset + length, type_)

    def _classify(
        self, text: str, start: int, end: int, candidate: str
    ) -> tuple[str, int, int] | None:
        first = candidate[0]
        for type_, pattern, validate in self._classifiers:
            if first not in _patterns.FIRST_CHARS[type_]:
                continue  # cheaper than a failing fullmatch
            match = pattern.fullmatch(candidate)
            if match is not None:
                confirmed = validate(text, start, end, match)
                if confirmed is not None:
                    return type_, confirmed[0] - start, confirmed[1] - confirmed[0]
        return None

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
