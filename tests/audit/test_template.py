"""The append path's pieced-together bytes are exactly ``AuditEntry.canonical_bytes()``."""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servinfo.audit import Action, AuditEntry, EntryInvalid, RecordedEvent, reference
from servinfo.audit._template import (
    NO_SUBJECT_TAIL,
    build,
    keyed_entry,
    pseudonym_tail,
    template,
)
from servinfo.crypto.keyed_hash import KeyedReferences

text = st.text(max_size=12)
optional = st.none() | text
detail = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | text
link_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
KEY = bytes(range(32))
PSEUDONYM = "0f" * 16


@st.composite
def events(draw: st.DrawFn) -> RecordedEvent:
    """Events with or without a subject; only those with one link or have a subject actor."""
    subject_id = draw(st.none() | st.text(min_size=1, max_size=20))
    keyed = subject_id is not None
    return RecordedEvent(
        action=draw(st.sampled_from([*Action, "custom_action_2"])),
        actor=draw(text.filter(bool)),
        subject_id=subject_id,
        purpose=draw(optional),
        outcome=draw(optional),
        reasons=tuple(draw(st.lists(text, max_size=3))),
        record_ids=tuple(draw(st.lists(text, max_size=3))),
        details=draw(st.dictionaries(text, detail, max_size=4)),
        linked=draw(st.dictionaries(link_names, text, max_size=3)) if keyed else {},
        subject_actor=draw(st.booleans()) if keyed else False,
    )


def _joined(event: RecordedEvent, seq: int, at: int, policy: str | None) -> bytes:
    """The append's bytes, an entry about a subject keyed with :data:`KEY` and named
    :data:`PSEUDONYM`."""
    pieces = template(dataclasses.replace(event, policy_version=policy))
    head, middle, subject = pieces[:3]
    if subject is not None:
        tail = pseudonym_tail(PSEUDONYM)
        return keyed_entry(pieces, KeyedReferences(KEY), b"%d" % at, b"%d" % seq, tail)
    return head + b"%d" % at + middle + b"%d" % seq + NO_SUBJECT_TAIL


def _expected(event: RecordedEvent, seq: int, at: int, policy: str | None) -> AuditEntry:
    """The same entry built whole, its references computed apart with :func:`reference`."""
    keyed = event.subject_id is not None

    def ref(identifier: str) -> str:
        return reference(KEY, identifier) if keyed else identifier

    return AuditEntry(
        seq=seq,
        at=at,
        actor=ref(event.actor) if event.subject_actor else event.actor,
        action=event.action,
        purpose=event.purpose,
        outcome=event.outcome,
        reasons=event.reasons,
        subject_pseudonym=PSEUDONYM if keyed else None,
        record_ids=tuple(map(ref, event.record_ids)),
        details=event.details,
        policy_version=policy,
        links={name: ref(value) for name, value in event.linked.items()},
        subject_actor=event.subject_actor,
    )


@settings(max_examples=500, deadline=None)
@given(
    event=events(),
    seq=st.integers(0, 2**63),
    at=st.integers(0, 2**50),
    policy=optional,
)
def test_pieces_join_to_the_canonical_bytes(
    event: RecordedEvent, seq: int, at: int, policy: str | None
) -> None:
    try:
        entry = _expected(event, seq, at, policy)
        expected = entry.canonical_bytes()
    except (EntryInvalid, UnicodeEncodeError):  # lone surrogates: both paths refuse them
        with pytest.raises(EntryInvalid):
            _joined(event, seq, at, policy)
        return
    assert _joined(event, seq, at, policy) == expected
    assert AuditEntry.from_canonical(expected) == entry


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("actor", "", "actor must be a non-empty string"),
        ("actor", 7, "action and actor must be strings"),
        ("action", "Read", "lower_snake_case"),
        ("purpose", 3, "strings or None"),
        ("subject_id", "", "subject_id must be a non-empty string"),
        ("subject_id", "x" * 129, "at most 128"),
        ("reasons", "one reason", "not one string"),
        ("record_ids", [1], "sequence of strings"),
        ("record_ids", ("r1", 1), "sequence of strings"),
        ("record_ids", "r1", "not one string"),
        ("reasons", ("why", None), "sequence of strings"),
        ("details", {"f": 1.5}, r"details\['f'\] must be a string, integer"),
        ("details", {1: "x"}, "keys must be strings"),
        ("details", ["x"], "details must be a mapping"),
        ("outcome", "\ud800", "lone surrogate"),
    ],
)
def test_invalid_fields_are_refused_like_audit_entry_does(
    field: str, value: Any, message: str
) -> None:
    fields: dict[str, Any] = {
        "action": "read",
        "actor": "p_1",
        "subject_id": None,
        "purpose": None,
        "outcome": None,
        "reasons": (),
        "record_ids": (),
        "details": None,
        "policy_version": None,
    }
    fields[field] = value
    with pytest.raises(EntryInvalid, match=message):
        build(**fields)


def test_other_sequences_of_reasons_are_read_once() -> None:
    reasons = deque(["a", "b"])
    head, middle = build("read", "p", None, None, None, reasons, (), None, None)[:2]
    assert b'"reasons":["a","b"]' in middle
    assert head == b'{"action":"read","actor":"p","at":'


def test_cached_pieces_keep_value_types_apart() -> None:
    """``True == 1`` and ``hash(True) == hash(1)``: the cache must not mix them up."""
    for details in ({"n": 1}, {"n": True}, {"n": 1}, {"n": False}, {"n": 0}):
        event = RecordedEvent(Action.READ, "p_1", None, None, None, (), (), details)
        expected = AuditEntry(
            seq=0, at=0, actor="p_1", action=Action.READ, details=details
        ).canonical_bytes()
        assert _joined(event, 0, 0, None) == expected


def test_unhashable_detail_values_are_still_refused() -> None:
    event = RecordedEvent(Action.READ, "p_1", None, None, None, (), (), {"n": [1]})  # type: ignore[dict-item]
    with pytest.raises(EntryInvalid, match="must be a string, integer, boolean or None"):
        template(event)
    listed = RecordedEvent(Action.READ, "p_1", None, None, None, ["why"], ["r1"], {"n": 1})  # type: ignore[arg-type]
    assert _joined(listed, 0, 0, None) == _joined(
        RecordedEvent(Action.READ, "p_1", None, None, None, ("why",), ("r1",), {"n": 1}),
        0, 0, None,
    )  # fmt: skip
