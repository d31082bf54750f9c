"""The labelled set in tests/data/redaction: format, size, split, reproducibility."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from servinfo.collect.textgen import TYPES

DATA = Path(__file__).resolve().parents[1] / "data" / "redaction"


def _make_labelled() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_labelled", DATA / "make_labelled.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines()]


def test_lines_are_well_formed_and_split_by_text() -> None:
    make = _make_labelled()
    for name in ("traps.jsonl", "generated.jsonl"):
        for number, row in enumerate(_rows(name), 1):
            make.check(row, f"{name}:{number}")


def test_size_and_heldout_share() -> None:
    rows = _rows("traps.jsonl") + _rows("generated.jsonl")
    assert len(rows) >= 300
    assert len(_rows("traps.jsonl")) >= 100
    share = sum(row["split"] == "heldout" for row in rows) / len(rows)
    assert 0.25 <= share <= 0.35


def test_traps_are_mostly_negative() -> None:
    traps = _rows("traps.jsonl")
    assert sum(not row["spans"] for row in traps) >= 100
    assert {s["type"] for row in traps for s in row["spans"]} <= set(TYPES)  # type: ignore[attr-defined]


def test_generated_file_is_what_the_script_writes() -> None:
    assert _make_labelled().generate() == _rows("generated.jsonl")
