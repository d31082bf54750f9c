"""The normalised view detectors read, and the way back to the original offsets.

People (and the tools they paste from) write the same number in many ways: with
a no-break, narrow or thin space between groups, a zero-width space or a soft
hyphen inside, full-width digits, a non-breaking hyphen. The detectors are
written for one form, so they read a view of the text where

- every character is in Unicode normalisation form NFKC (full-width ``４`` is
  ``4``, ``＠`` is ``@``, no-break and thin spaces are spaces, ``ﬁ`` is ``fi``),
  character by character, so that each view character comes from one original
  character;
- zero-width characters, the soft hyphen and the word joiner are removed;
- every space character (``Zs``) is a plain space, every dash a hyphen-minus;

and each view offset remembers the original character it came from, so that a
span found in the view covers exactly the original characters, tricks and all,
and those are what is replaced. Text that is all ASCII, or that NFKC leaves
alone and holds none of the removed or mapped characters (German or French
prose with its accents), is its own view: nothing is copied.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["View", "normalise"]

#: Removed from the view: zero-width space, non-joiner, joiner, word joiner,
#: byte-order mark, soft hyphen, Mongolian vowel separator, invisible operators.
_REMOVED = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064"
#: Dashes that stand for a hyphen-minus between digit groups.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
#: Characters that are NFKC-normal but still change in the view.
_SPECIAL = re.compile(f"[{_REMOVED}{_DASHES}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
#: Runs of non-ASCII characters: only these are looked at one by one.
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True, slots=True)
class View:
    """The normalised text and, unless it is the original, each character's origin.

    ``origin[i]`` is the original offset of view character ``i``;
    ``origin[len(text)]`` is the original length.
    """

    text: str
    origin: list[int] | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` of the view's ``[start, end)`` (``end > start``)."""
        if self.origin is None:
            return start, end
        # The end is just after the original character of the last view character
        # (one original character may give several: NFKC expands ``ﬁ`` to ``fi``).
        return self.origin[start], self.origin[end - 1] + 1


def _mapped(char: str) -> str:
    if char in _REMOVED:
        return ""
    if char in _DASHES:
        return "-"
    if unicodedata.category(char) == "Zs":
        return " "
    return unicodedata.normalize("NFKC", char)


def normalise(text: str) -> View:
    """The view of ``text`` the detectors read (see the module docstring)."""
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and _SPECIAL.search(text) is None
    ):
        return View(text, None)
    parts: list[str] = []
    origin: list[int] = []
    pos = 0
    for run in _NON_ASCII.finditer(text):
        start, end = run.span()
        if start > pos:  # an ASCII stretch maps one to one
            parts.append(text[pos:start])
            origin.extend(range(pos, start))
        for offset in range(start, end):
            mapped = _mapped(text[offset])
            parts.append(mapped)
            origin.extend([offset] * len(mapped))
        pos = end
    parts.append(text[pos:])
    origin.extend(range(pos, len(text) + 1))
    return View("".join(parts), origin)
