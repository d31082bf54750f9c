"""Regenerate ``generated.jsonl`` and check ``traps.jsonl`` (format in ``README.md``).

Run from the repository root: ``.venv/bin/python tests/data/redaction/make_labelled.py``.
The seed and the counts are fixed, so the output is the same on every run; the
split of each line depends on its text only (sha256, about 30 % held out).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

from servinfo.collect.textgen import KINDS, TYPES, generate_text

HERE = Path(__file__).resolve().parent
SEED = 20260505
#: Texts per kind: 500 in all, so that every type has a few dozen held-out spans.
PER_KIND = {
    "crash_report": 60,
    "stack_trace": 60,
    "log_lines": 140,
    "support_message": 160,
    "feedback": 80,
}


def split_of(text: str) -> str:
    """``heldout`` for about 30 % of texts, decided by the text alone."""
    return (
        "heldout" if int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 100 < 30 else "tune"
    )


def check(row: dict[str, object], where: str) -> None:
    """Fail loudly on a malformed line: fields, split, span bounds, order, types."""
    text, spans = row["text"], row["spans"]
    assert isinstance(text, str), where
    assert isinstance(spans, list), where
    assert row["split"] == split_of(text), f"{where}: split {row['split']!r} is not split_of(text)"
    assert row["origin"] in ("trap", "textgen"), where
    end = 0
    for span in spans:
        assert span["type"] in TYPES, f"{where}: type {span['type']!r}"
        assert end <= span["start"] < span["end"] <= len(text), f"{where}: span {span}"
        end = span["end"]


def generate() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    rows: list[dict[str, object]] = []
    for kind in KINDS:
        for _ in range(PER_KIND[kind]):
            labelled = generate_text(rng, kind)
            spans = [{"start": s.start, "end": s.end, "type": s.type} for s in labelled.spans]
            rows.append(
                {
                    "text": labelled.text,
                    "spans": spans,
                    "split": split_of(labelled.text),
                    "origin": "textgen",
                }
            )
    return rows


def main() -> int:
    for number, line in enumerate((HERE / "traps.jsonl").read_text("utf-8").splitlines(), 1):
        check(json.loads(line), f"traps.jsonl:{number}")
    rows = generate()
    for number, row in enumerate(rows, 1):
        check(row, f"generated.jsonl:{number}")
    with (HERE / "generated.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    held = sum(row["split"] == "heldout" for row in rows)
    print(f"generated.jsonl: {len(rows)} lines, {held} held out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
