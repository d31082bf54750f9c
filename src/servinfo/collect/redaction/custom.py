"""The organization's own patterns (``redaction.patterns`` of the policy), run with RE2.

Each pattern is compiled as ``policy check`` checked it
(:func:`servinfo.policy.redaction.compile_pattern`: RE2, bounded memory), so a
pattern that passed the check runs in time linear in the text whatever it holds.
The patterns run on the original text (not the engine's normalised view): an
organization's format is written as it wrote it. Where two patterns overlap, the
one that starts first wins, then the longer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from servinfo.collect.redaction.replacement import Found
from servinfo.policy.redaction import check_pattern, compile_pattern

__all__ = ["CustomPatterns"]


class CustomPatterns:
    """Finds the spans of ``(type, regex)`` patterns in a text."""

    def __init__(self, patterns: Sequence[tuple[str, str]]) -> None:
        compiled: list[tuple[str, Any]] = []
        for type_, regex in patterns:
            reason = check_pattern(regex)
            if reason is not None:  # a policy that was not checked: refuse to run it
                raise ValueError(f"redaction pattern for {type_}: {reason}")
            compiled.append((type_, compile_pattern(regex)))
        self._compiled = tuple(compiled)

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def find(self, text: str) -> list[Found]:
        """The spans found, in order, never overlapping."""
        if not self._compiled:
            return []
        found = [
            Found(m.start(), m.end(), type_)
            for type_, pattern in self._compiled
            for m in pattern.finditer(text)
            if m.end() > m.start()
        ]
        found.sort(key=lambda s: (s.start, -s.end))
        kept: list[Found] = []
        for span in found:
            if not kept or span.start >= kept[-1].end:
                kept.append(span)
        return kept
