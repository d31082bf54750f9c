"""Scoring a redactor against a labelled set (for the tests and the benchmark).

The labelled sets and their rules are described in
``tests/data/redaction/README.md`` (the first set, seven types) and
``tests/data/redaction_v2/README.md`` (the second: names, addresses, national
ids and the other types of issue #19, with a held-out split by template and
source). A predicted span is a true positive when a labelled span of the same
type overlaps it with a Jaccard index of at least 0.5 (each labelled span
matched at most once): tolerant enough to score another engine's span
conventions (presidio's) by the same rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from servinfo.collect.redaction.engine import TYPES, Span

#: The minimum overlap (intersection over union) for a prediction to count.
MIN_JACCARD = 0.5


@dataclass(frozen=True)
class LabelledLine:
    """One line of the labelled set."""

    text: str
    spans: tuple[Span, ...]
    split: str
    origin: str
    #: The second set's fields (empty in the first): the line's language, the
    #: kind of text it is (ticket, chat, crash, bug, access_log), its template's
    #: id and the unicode trick it was written with.
    lang: str = ""
    source: str = ""
    template: str = ""
    trick: str | None = None


@dataclass(frozen=True)
class Score:
    """Counts of one type over a set of lines."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def load_labelled(directory: Path, split: str | None = None) -> list[LabelledLine]:
    """Every ``*.jsonl`` line under ``directory``, optionally only one ``split``."""
    lines: list[LabelledLine] = []
    for path in sorted(directory.glob("*.jsonl")):
        for raw in path.read_text("utf-8").splitlines():
            row = json.loads(raw)
            if split is not None and row["split"] != split:
                continue
            spans = tuple(Span(s["start"], s["end"], s["type"]) for s in row["spans"])
            lines.append(
                LabelledLine(
                    text=row["text"],
                    spans=spans,
                    split=row["split"],
                    origin=row.get("origin", "template"),
                    lang=row.get("lang", ""),
                    source=row.get("source", ""),
                    template=row.get("template", ""),
                    trick=row.get("trick"),
                )
            )
    return lines


def _jaccard(a: Span, b: Span) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    if inter <= 0:
        return 0.0
    return inter / (max(a.end, b.end) - min(a.start, b.start))


def match_spans(
    expected: Sequence[Span], predicted: Sequence[Span]
) -> tuple[list[Span], list[Span], list[Span]]:
    """(true positives, false positives, false negatives) of one line."""
    unmatched = list(expected)
    hits: list[Span] = []
    misses: list[Span] = []
    for guess in predicted:
        best = max(
            (e for e in unmatched if e.type == guess.type),
            key=lambda e: _jaccard(e, guess),
            default=None,
        )
        if best is not None and _jaccard(best, guess) >= MIN_JACCARD:
            unmatched.remove(best)
            hits.append(guess)
        else:
            misses.append(guess)
    return hits, misses, unmatched


def score(
    lines: Iterable[LabelledLine],
    predict: Callable[[str], Sequence[Span]],
    type_map: Mapping[str, str] | None = None,
) -> dict[str, Score]:
    """Precision and recall per type of ``predict`` over ``lines``.

    ``type_map`` renames predicted types before matching (``{"IPV4": "IP"}``
    scores an engine that tells the two IP versions apart against a set that
    does not); types it does not name are kept. The answer has every type of
    :data:`TYPES`, every labelled type and every predicted type.
    """
    counts = {t: [0, 0, 0] for t in TYPES}
    for line in lines:
        predicted = predict(line.text)
        if type_map:
            predicted = [Span(s.start, s.end, type_map.get(s.type, s.type)) for s in predicted]
        hits, misses, unmatched = match_spans(line.spans, predicted)
        for index, spans in enumerate((hits, misses, unmatched)):
            for span in spans:
                counts.setdefault(span.type, [0, 0, 0])[index] += 1
    return {t: Score(*c) for t, c in counts.items()}
