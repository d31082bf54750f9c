"""Replacing what was found: a type tag, a mask, or a keyed pseudonym of the subject.

* ``tag`` — ``<EMAIL>``, the engine's historical placeholder;
* ``mask`` — four asterisks and the value's last ``keep_last`` letters or digits
  (``4111 1111 1111 1111`` → ``****1111``): separators are not kept, and the mask's
  length does not tell the value's;
* ``pseudonym`` — ``<EMAIL:7f3a9c>``: the first 24 bits, in hex, of an HMAC-SHA256
  under a key of the subject (:class:`SubjectPseudonyms`) over the type and the
  value in a normal form (NFKC, case-folded, separators dropped), so the same
  address written twice, in two tickets of the subject, reads the same, and values
  of different subjects cannot be compared. Without the subject's key (an erased
  subject's records, re-redacted) a pseudonym falls back to the tag.

Replacements are never found again: :data:`PLACEHOLDER` matches all three forms, and
spans overlapping one are dropped (:func:`outside_placeholders`), so redacting
redacted text changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from servinfo.crypto.keyed_hash import KeyedReferences
from servinfo.policy.model import Replacement

__all__ = [
    "PLACEHOLDER",
    "PSEUDONYM_HEX",
    "Found",
    "SubjectPseudonyms",
    "outside_placeholders",
    "replace_spans",
]

#: Hex digits of a pseudonym: 24 bits, enough to tell apart the few values one
#: subject's texts hold (and useless to guess a value from without the key).
PSEUDONYM_HEX = 6
#: A replacement already in a text: ``<TYPE>``, ``<TYPE:hex>`` or a mask ``****…``.
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*(?::[0-9a-f]{6})?>|\*{4}[^\W_]{0,6}")
_SEPARATORS = re.compile(r"[\s\-./()]+")


@dataclass(frozen=True, slots=True)
class Found:
    """``text[start:end]`` is a ``type``."""

    start: int
    end: int
    type: str


class SubjectPseudonyms:
    """Pseudonyms of values under one subject's key (never shown: ``repr`` hides it)."""

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        self._keyed = KeyedReferences(key)

    def __repr__(self) -> str:
        return "SubjectPseudonyms(...)"

    def pseudonym(self, type_: str, value: str) -> str:
        normal = _normal_form(type_, value)
        # Type names are upper-case words: the newline cannot occur in one.
        digest = self._keyed.hex(f"{type_}\n{normal}".encode())
        return digest[:PSEUDONYM_HEX].decode("ascii")


def _normal_form(type_: str, value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).casefold().strip()
    if type_ == "EMAIL":
        return folded
    return _SEPARATORS.sub("", folded)


def _mask(value: str, keep_last: int) -> str:
    kept = [c for c in value if c.isalnum()][-keep_last:]
    return "****" + "".join(kept)


def replacement_text(
    type_: str, value: str, replacement: Replacement, pseudonyms: SubjectPseudonyms | None
) -> str:
    if replacement.mode == "mask":
        assert replacement.keep_last is not None  # the model requires it for a mask
        return _mask(value, replacement.keep_last)
    if replacement.mode == "pseudonym" and pseudonyms is not None:
        return f"<{type_}:{pseudonyms.pseudonym(type_, value)}>"
    return f"<{type_}>"


def outside_placeholders(text: str, spans: Iterable[Found]) -> list[Found]:
    """``spans`` less those overlapping a replacement already in ``text``."""
    taken = [m.span() for m in PLACEHOLDER.finditer(text)] if ("<" in text or "*" in text) else []
    if not taken:
        return list(spans)
    return [s for s in spans if not any(s.start < end and start < s.end for start, end in taken)]


def replace_spans(
    text: str,
    spans: Sequence[Found],
    replacements: Mapping[str, Replacement],
    pseudonyms: SubjectPseudonyms | None,
) -> tuple[str, dict[str, int]]:
    """``text`` with each span (in order, not overlapping) replaced; the counts per type."""
    counts: dict[str, int] = {}
    parts: list[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        value = text[span.start : span.end]
        parts.append(replacement_text(span.type, value, replacements[span.type], pseudonyms))
        counts[span.type] = counts.get(span.type, 0) + 1
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts), counts
