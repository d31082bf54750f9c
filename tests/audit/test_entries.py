"""Audit entries: one canonical encoding, read back exactly, refused when not canonical."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.entries import Action, AuditEntry
from servinfo.audit.errors import EntryInvalid

NOW_MS = 1_735_689_600_000


def make_entry(**changes: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "seq": 17,
        "at": NOW_MS,
        "actor": "p_7",
        "action": Action.READ,
        "purpose": "technical_support",
        "outcome": "allow",
        "reasons": ("support may read support_tickets",),
        "subject_pseudonym": "ps1_Zm9v",
        "record_ids": ("01JF000000000000000000000A",),
        "details": {"rows": 3, "region": "eu", "cross_border": False, "note": None},
        "policy_version": "2025.1",
        "v": 1,  # format 1: identifiers in clear (still read and verified)
    }
    fields.update(changes)
    return AuditEntry(**fields)


def test_canonical_bytes_known_answer() -> None:
    # The encoding is a stored format: entries hashed years ago must read the same.
    assert make_entry().canonical_bytes() == (
        b'{"action":"read","actor":"p_7","at":1735689600000,'
        b'"details":{"cross_border":false,"note":null,"region":"eu","rows":3},'
        b'"outcome":"allow","policy_version":"2025.1","purpose":"technical_support",'
        b'"reasons":["support may read support_tickets"],'
        b'"record_ids":["01JF000000000000000000000A"],"seq":17,'
        b'"subject_pseudonym":"ps1_Zm9v","v":1}'
    )


def test_non_ascii_is_written_as_utf8() -> None:
    data = make_entry(actor="Zoë Ångström").canonical_bytes()
    assert "Zoë Ångström".encode() in data
    assert b"\\u" not in data


def test_the_encoding_does_not_depend_on_the_order_fields_were_given() -> None:
    a = make_entry(details={"b": 1, "a": 2})
    b = make_entry(details={"a": 2, "b": 1})
    assert a.canonical_bytes() == b.canonical_bytes()
    assert a == b


def test_a_minimal_entry() -> None:
    entry = AuditEntry(seq=0, at=0, actor="system", action="key_rotation")
    assert AuditEntry.from_canonical(entry.canonical_bytes()) == entry
    assert entry.details == {}
    assert entry.reasons == ()


_text = st.text(max_size=20)
_detail = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), _text)


@given(
    seq=st.integers(0, 2**63),
    at=st.integers(0, 2**50),
    actor=st.text(min_size=1, max_size=20),
    action=st.sampled_from(list(Action)),
    purpose=st.none() | _text,
    reasons=st.lists(_text, max_size=3).map(tuple),
    record_ids=st.lists(_text, max_size=3).map(tuple),
    details=st.dictionaries(_text, _detail, max_size=4),
)
def test_from_canonical_reads_back_exactly(
    seq: int,
    at: int,
    actor: str,
    action: Action,
    purpose: str | None,
    reasons: tuple[str, ...],
    record_ids: tuple[str, ...],
    details: dict[str, Any],
) -> None:
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        purpose=purpose,
        reasons=reasons,
        record_ids=record_ids,
        details=details,
    )
    data = entry.canonical_bytes()
    assert AuditEntry.from_canonical(data) == entry
    assert AuditEntry.from_canonical(data).canonical_bytes() == data


@given(
    actor=st.text(min_size=1),
    purpose=st.none() | st.text(),
    outcome=st.none() | st.text(),
    reasons=st.lists(st.text(), max_size=3).map(tuple),
    details=st.dictionaries(st.text(), _detail, max_size=5),
)
def test_canonical_bytes_are_sorted_compact_utf8_json(
    actor: str,
    purpose: str | None,
    outcome: str | None,
    reasons: tuple[str, ...],
    details: dict[str, Any],
) -> None:
    # The encoder is written by hand for speed; it must equal json.dumps exactly.
    entry = make_entry(
        actor=actor, purpose=purpose, outcome=outcome, reasons=reasons, details=details
    )
    fields = {
        "v": 1,
        "seq": entry.seq,
        "at": entry.at,
        "actor": actor,
        "action": "read",
        "purpose": purpose,
        "outcome": outcome,
        "reasons": list(reasons),
        "subject_pseudonym": entry.subject_pseudonym,
        "record_ids": list(entry.record_ids),
        "details": details,
        "policy_version": entry.policy_version,
    }
    expected = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert entry.canonical_bytes() == expected.encode("utf-8")


@pytest.mark.parametrize(
    "data",
    [
        # The same entry, written another way, is not its canonical form.
        json.dumps(json.loads(make_entry().canonical_bytes())).encode(),
        json.dumps(
            json.loads(make_entry().canonical_bytes()), ensure_ascii=True, indent=1
        ).encode(),
        make_entry().canonical_bytes().replace(b'"seq":17', b'"seq":17.0'),
    ],
)
def test_from_canonical_refuses_other_encodings(data: bytes) -> None:
    with pytest.raises(EntryInvalid):
        AuditEntry.from_canonical(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "not UTF-8 JSON"),
        (b"[]", "fields of an audit entry"),
        (make_entry().canonical_bytes().replace(b'"v":1', b'"v":2'), "format 2"),
        (make_entry().canonical_bytes().replace(b'"v":1', b'"v":1,"x":1'), "fields"),
        (make_entry().canonical_bytes().replace(b'"rows":3', b'"rows":[3]'), "details"),
        (make_entry().canonical_bytes().replace(b'"rows":3', b'"rows":0.5'), "details"),
        (make_entry().canonical_bytes().replace(b'"seq":17', b'"seq":-1'), "seq"),
        (make_entry().canonical_bytes().replace(b'"outcome":"allow"', b'"outcome":1'), "outcome"),
        (make_entry().canonical_bytes().replace(b'"reasons":[', b'"reasons":[1,'), "reasons"),
        (make_entry().canonical_bytes().replace(b'"reasons":[', b'"reasons":{"a":['), "JSON"),
    ],
)
def test_from_canonical_says_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(EntryInvalid, match=message):
        AuditEntry.from_canonical(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seq": -1}, "seq must be a non-negative integer"),
        ({"at": True}, "at must be a non-negative integer"),
        ({"actor": ""}, "actor must be a non-empty string"),
        ({"action": "Read"}, "action must be lower_snake_case"),
        ({"purpose": 3}, "purpose must be a string or None"),
        ({"reasons": "one reason"}, "not one string"),
        ({"record_ids": (1,)}, "record_ids must be a sequence of strings"),
        ({"details": {"ratio": 0.5}}, r"details\['ratio'\] must be"),
        ({"details": {"nested": {"a": 1}}}, r"details\['nested'\] must be"),
        ({"details": {1: "x"}}, "details keys must be strings"),
        ({"details": [("a", 1)]}, "details must be a mapping"),
        ({"actor": "\ud800"}, "lone surrogate"),
    ],
)
def test_invalid_entries_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(EntryInvalid, match=message):
        make_entry(**change).canonical_bytes()


def test_entries_are_immutable() -> None:
    entry = make_entry(reasons=["a", "b"])  # a list is frozen into a tuple
    assert entry.reasons == ("a", "b")
    with pytest.raises(TypeError):
        entry.details["rows"] = 4  # type: ignore[index]
    assert hash(entry) == hash(make_entry(reasons=("a", "b")))


# -- format 2 -------------------------------------------------------------------------

REF_A = "9f1e" * 8
REF_B = "5d0c" * 8


def make_v2(**changes: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "subject_pseudonym": "3b7a" * 8,
        "record_ids": (REF_A,),
        "links": {"request_id": REF_B},
        "v": 2,
    }
    fields.update(changes)
    return make_entry(**fields)


def test_format_2_known_answer() -> None:
    assert make_v2(actor=REF_B, subject_actor=True).canonical_bytes() == (
        b'{"action":"read","actor":{"ref":"' + REF_B.encode() + b'"},"at":1735689600000,'
        b'"details":{"cross_border":false,"note":null,"region":"eu","rows":3},'
        b'"links":{"request_id":"' + REF_B.encode() + b'"},'
        b'"outcome":"allow","policy_version":"2025.1","purpose":"technical_support",'
        b'"reasons":["support may read support_tickets"],'
        b'"record_ids":["' + REF_A.encode() + b'"],"seq":17,'
        b'"subject_pseudonym":"' + b"3b7a" * 8 + b'","v":2}'
    )


@given(
    actor=st.text(min_size=1),
    subject_actor=st.booleans(),
    links=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), st.just(REF_A)),
    details=st.dictionaries(st.text(), _detail, max_size=5),
)
def test_format_2_is_sorted_compact_utf8_json_and_reads_back(
    actor: str, subject_actor: bool, links: dict[str, str], details: dict[str, Any]
) -> None:
    entry = make_v2(
        actor=REF_B if subject_actor else actor,
        subject_actor=subject_actor,
        links=links,
        details=details,
    )
    data = entry.canonical_bytes()
    obj = json.loads(data)
    expected = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert data == expected.encode()
    assert obj["actor"] == ({"ref": REF_B} if subject_actor else actor)
    assert obj["links"] == links
    assert AuditEntry.from_canonical(data) == entry


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subject_pseudonym": None}, "need format 2 and a subject"),
        ({"v": 1}, "need format 2 and a subject"),
        ({"v": 3}, "expected 1 or 2"),
        ({"record_ids": ("01JF000000000000000000000A",)}, "where a reference"),
        ({"links": {"request_id": "req-7"}}, "where a reference"),
        ({"links": {"Request": REF_A}}, "lower_snake_case"),
        ({"actor": "alice@example.com", "subject_actor": True}, "where a reference"),
        ({"subject_actor": 1}, "subject_actor must be a boolean"),
    ],
)
def test_format_2_holds_references_where_identifiers_were(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(EntryInvalid, match=message):
        make_v2(**change)


_LINKS = b'"links":{"request_id":"' + REF_B.encode() + b'"},'
_BY_SUBJECT = make_v2(actor=REF_B, subject_actor=True).canonical_bytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # A format 1 entry may not grow links or a subject actor, nor lose a key in format 2.
        (make_entry().canonical_bytes().replace(b'"outcome"', b'"links":{},"outcome"'), "fields"),
        (make_v2().canonical_bytes().replace(_LINKS, b""), "fields"),
        (
            _BY_SUBJECT.replace(b'"v":2', b'"v":1').replace(_LINKS, b""),
            "actor must be a non-empty string",
        ),
        (_BY_SUBJECT.replace(b'{"ref"', b'{"id"'), "actor object"),
    ],
)
def test_from_canonical_refuses_mixed_formats(data: bytes, message: str) -> None:
    with pytest.raises(EntryInvalid, match=message):
        AuditEntry.from_canonical(data)


def test_format_1_entries_still_read_back_exactly() -> None:
    data = make_entry().canonical_bytes()
    entry = AuditEntry.from_canonical(data)
    assert (entry.v, entry.links, entry.subject_actor) == (1, {}, False)
    assert entry.canonical_bytes() == data
