"""Requests built by Go (``x/mod/sumdb`` and ``transparency-dev/formats``) are answered right.

The add-checkpoint bodies of ``tests/audit/vectors/go_independent.json`` were
written by an independent Go program (see that folder's README): its log key,
its proofs, its checkpoints already cosigned by three other witnesses. The
witness follows that log by its Go-made verifier key and must cosign the chain
0 → 7 → 13 → 100 → 100, ignore the other witnesses' signatures, and answer
409 to the bodies whose old size is not the one it holds.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.note import Note
from servinfo.witness.errors import SizeConflict
from servinfo.witness.service import Witness

VECTORS = Path(__file__).parents[1] / "audit" / "vectors" / "go_independent.json"


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text("utf-8"))
    return loaded


def _body(vectors: dict[str, Any], old_size: int, new_size: int) -> bytes:
    for item in vectors["add_checkpoint"]:
        if (item["old_size"], item["new_size"]) == (old_size, new_size):
            return str(item["body"]).encode()
    raise LookupError((old_size, new_size))


def test_go_made_requests_are_cosigned_along_the_chain(
    witness: Witness, vectors: dict[str, Any]
) -> None:
    log = vectors["log"]
    witness.store.add_log(log["origin"], [log["vkey"]])
    roots = {c["size"]: c["root_hash"] for c in vectors["checkpoints"]}
    for old_size, new_size in [(0, 7), (7, 13), (13, 100), (100, 100)]:
        cosignatures = witness.add_checkpoint(_body(vectors, old_size, new_size))
        assert {c.name for c in cosignatures} == {witness.name}
        held = witness.store.log(log["origin"])
        assert held is not None
        assert held.state.size == new_size
        assert held.state.root is not None
        assert base64.b64encode(held.state.root).decode() == roots[new_size]
        assert held.state.note is not None
        # Kept: the log's signature and the witness's, not the other witnesses'.
        stored = Note.parse(held.state.note)
        assert Checkpoint.from_body(stored.text).size == new_size
        assert {s.name for s in stored.signatures} == {log["origin"], witness.name}


@pytest.mark.parametrize(("old_size", "new_size"), [(1, 2), (3, 7), (8, 13), (64, 100)])
def test_go_made_requests_from_another_size_conflict(
    witness: Witness, vectors: dict[str, Any], old_size: int, new_size: int
) -> None:
    log = vectors["log"]
    witness.store.add_log(log["origin"], [log["vkey"]])
    with pytest.raises(SizeConflict) as conflict:
        witness.add_checkpoint(_body(vectors, old_size, new_size))
    assert conflict.value.size == 0
