"""Full log verification: every kind of tampering is found, and the first bad entry is named."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.entries import Action, AuditEntry
from servinfo.audit.errors import HeadInvalid, LogTampered
from servinfo.audit.heads import TreeHead, sign_tree_head
from servinfo.audit.merkle import EMPTY_ROOT, leaf_hash, root_from_leaf_hashes
from servinfo.audit.verify import SignedRoot, verify_chunks, verify_log

KEY_ID = "audit_signing:v1"
NOW_MS = 1_735_689_600_000
SIZE = 50
#: Heads as issued: two at size 20 (a head is due on time even with few new entries).
HEAD_SIZES = (10, 20, 20, 45)

Row = tuple[int, bytes, bytes]


def entry_bytes(seq: int, actor: str = "p_7") -> bytes:
    return AuditEntry(
        seq=seq, at=NOW_MS + seq, actor=actor, action=Action.DECISION, outcome="allow"
    ).canonical_bytes()


def make_rows(size: int = SIZE) -> list[Row]:
    """What the database stores: (seq, canonical bytes, leaf hash)."""
    return [(seq, data, leaf_hash(data)) for seq in range(size) for data in [entry_bytes(seq)]]


def sign_heads(
    key: Ed25519PrivateKey, rows: list[Row], sizes: tuple[int, ...] = HEAD_SIZES
) -> list[TreeHead]:
    leaves = [h for _, _, h in rows]
    return [
        sign_tree_head(key, KEY_ID, size, root_from_leaf_hashes(leaves[:size]), NOW_MS + n)
        for n, size in enumerate(sizes)
    ]


def stream(rows: list[Row]) -> Iterator[Row]:
    """Rows one at a time, as a database cursor yields them."""
    yield from rows


def changed(rows: list[Row], index: int, *, rehash: bool) -> list[Row]:
    """Rows with entry ``index``'s bytes rewritten, and its leaf hash too when ``rehash``."""
    seq, _, old_hash = rows[index]
    data = entry_bytes(seq, actor="someone_else")
    return [*rows[:index], (seq, data, leaf_hash(data) if rehash else old_hash), *rows[index + 1 :]]


@pytest.fixture
def rows() -> list[Row]:
    return make_rows()


@pytest.fixture
def heads(signing_key: Ed25519PrivateKey, rows: list[Row]) -> list[TreeHead]:
    return sign_heads(signing_key, rows)


def tampered_at(rows: list[Row], heads: list[TreeHead], public_key: bytes) -> LogTampered:
    with pytest.raises(LogTampered) as caught:
        verify_log(stream(rows), heads, public_key)
    return caught.value


# -- an honest log ------------------------------------------------------------------------


def test_an_honest_log_verifies(rows: list[Row], heads: list[TreeHead], public_key: bytes) -> None:
    report = verify_log(stream(rows), heads, public_key)
    assert report.entries == SIZE
    assert report.root == root_from_leaf_hashes([h for _, _, h in rows])
    assert report.heads == 4
    assert (report.signed_entries, report.unsigned_entries) == (45, 5)


def test_an_empty_log_verifies(signing_key: Ed25519PrivateKey, public_key: bytes) -> None:
    report = verify_log([], [], public_key)
    assert (report.entries, report.root, report.signed_entries) == (0, EMPTY_ROOT, 0)
    empty_head = sign_tree_head(signing_key, KEY_ID, 0, EMPTY_ROOT, NOW_MS)
    assert verify_log([], [empty_head], public_key).signed_entries == 0


def test_heads_signed_across_a_key_rotation_verify_by_key_id(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey, rows: list[Row], public_key: bytes
) -> None:
    leaves = [h for _, _, h in rows]
    old = sign_tree_head(signing_key, KEY_ID, 10, root_from_leaf_hashes(leaves[:10]), NOW_MS)
    new = sign_tree_head(
        other_key, "audit_signing:v2", 30, root_from_leaf_hashes(leaves[:30]), NOW_MS
    )
    keys = {KEY_ID: public_key, "audit_signing:v2": other_key.public_key().public_bytes_raw()}
    assert verify_log(stream(rows), [old, new], keys).signed_entries == 30
    with pytest.raises(HeadInvalid, match=r"tree head 30 .*key audit_signing:v2"):
        verify_log(stream(rows), [old, new], public_key)


# -- tampering with entries ---------------------------------------------------------------


def test_changed_content_is_found_at_its_index(
    rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    error = tampered_at(changed(rows, 23, rehash=False), heads, public_key)
    assert error.index == 23
    assert str(error) == (
        "audit log tampered at entry 23: its stored bytes do not hash to its stored leaf hash"
    )


def test_content_changed_with_its_leaf_hash_is_caught_by_the_next_head(
    rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    # Entries before head 20 are vouched for; the change lies in 20..44.
    error = tampered_at(changed(rows, 23, rehash=True), heads, public_key)
    assert error.index == 20
    assert "entries 20..44 do not hash to the root signed in tree head 45" in str(error)


def test_content_changed_after_the_latest_head_shows_as_unsigned(
    rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    # Nothing vouches for entries past the latest head yet: the report says how many.
    report = verify_log(stream(changed(rows, 47, rehash=True)), heads, public_key)
    assert report.unsigned_entries == 5


def test_reordered_rows_are_found(
    rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    swapped = [*rows[:7], rows[8], rows[7], *rows[9:]]
    error = tampered_at(swapped, heads, public_key)
    assert (error.index, error.reason) == (
        7,
        "found entry 8 in its place: entries were deleted or reordered",
    )
    # Renumbered to hide the swap: the first head's root no longer matches.
    renumbered = [(seq, data, h) for seq, (_, data, h) in enumerate(swapped)]
    error = tampered_at(renumbered, heads, public_key)
    assert error.index == 0
    assert "entries 0..9 do not hash to the root signed in tree head 10" in error.reason


def test_deleted_rows_are_found(rows: list[Row], heads: list[TreeHead], public_key: bytes) -> None:
    assert tampered_at([*rows[:30], *rows[31:]], heads, public_key).index == 30
    renumbered = [(seq, data, h) for seq, (_, data, h) in enumerate([*rows[:30], *rows[31:]])]
    assert tampered_at(renumbered, heads, public_key).index == 20


def test_an_inserted_row_is_found(
    rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    extra = entry_bytes(12, actor="intruder")
    inserted = [*rows[:12], (12, extra, leaf_hash(extra)), *rows[12:]]
    assert tampered_at(inserted, heads, public_key).index == 13


def test_truncation_below_a_signed_head_is_found(
    rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    error = tampered_at(rows[:42], heads, public_key)
    assert error.index == 42
    assert error.reason == (
        "the log ends after 42 entries but tree head 45 covers 45: entries 42..44 were removed"
    )
    assert tampered_at([], heads, public_key).index == 0


# -- tampering with heads -----------------------------------------------------------------


def test_a_head_signed_with_another_key_is_refused(
    rows: list[Row], heads: list[TreeHead], other_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    forged = sign_heads(other_key, rows, (30,))[0]
    with pytest.raises(HeadInvalid, match=r"tree head 30 .*signature does not verify") as caught:
        verify_log(stream(rows), [*heads[:3], forged, heads[3]], public_key)
    assert caught.value.tree_size == 30


def test_a_signed_head_over_a_wrong_root_is_found(
    signing_key: Ed25519PrivateKey, rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    forged = sign_tree_head(signing_key, KEY_ID, 30, bytes(32), NOW_MS)
    error = tampered_at(rows, [*heads[:3], forged, heads[3]], public_key)
    assert error.index == 20
    assert "entries 20..29 do not hash to the root signed in tree head 30" in error.reason
    empty = sign_tree_head(signing_key, KEY_ID, 0, bytes(32), NOW_MS)
    assert tampered_at(rows, [empty], public_key).index == 0


def test_two_heads_of_one_size_must_agree(
    signing_key: Ed25519PrivateKey, rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    fork = sign_tree_head(signing_key, KEY_ID, 20, bytes(32), NOW_MS)
    error = tampered_at(rows, [heads[0], heads[1], fork, heads[3]], public_key)
    assert error.index == 19
    assert "different root than another signed root of that size" in error.reason


def test_heads_never_go_backwards(
    rows: list[Row], heads: list[TreeHead], public_key: bytes
) -> None:
    with pytest.raises(HeadInvalid, match=r"tree head 10 \(#4\) was issued after tree head 45"):
        verify_log(stream(rows), [*heads, heads[0]], public_key)


# -- properties ---------------------------------------------------------------------------

_ROWS = make_rows(80)


@given(st.data())
def test_any_change_is_found_no_earlier_than_the_last_head_before_it(
    data: st.DataObject,
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public_key = key.public_key().public_bytes_raw()
    size = data.draw(st.integers(1, len(_ROWS)), label="size")
    rows = _ROWS[:size]
    sizes = tuple(sorted(data.draw(st.lists(st.integers(1, size), max_size=4), label="heads")))
    heads = sign_heads(key, rows, sizes)
    index = data.draw(st.integers(0, size - 1), label="changed entry")
    rehash = data.draw(st.booleans(), label="leaf hash rewritten too")
    covered = any(s > index for s in sizes)
    if not rehash:
        assert tampered_at(changed(rows, index, rehash=False), heads, public_key).index == index
    elif covered:
        vouched = max([s for s in sizes if s <= index], default=0)
        assert tampered_at(changed(rows, index, rehash=True), heads, public_key).index == vouched
    else:
        report = verify_log(changed(rows, index, rehash=True), heads, public_key)
        assert report.unsigned_entries == size - max(sizes, default=0)


@pytest.mark.parametrize("size", [1, 7, 64, 1000])
def test_chunks_of_any_size_give_the_same_answer(
    rows: list[Row], heads: list[TreeHead], public_key: bytes, size: int
) -> None:
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    claims = claims_of(heads)
    whole = verify_log(stream(rows), heads, public_key)
    report = verify_chunks([[], *chunks], claims)
    assert (report.entries, report.root, report.signed_entries) == (
        whole.entries,
        whole.root,
        whole.signed_entries,
    )
    bad = changed(rows, 47, rehash=False)
    with pytest.raises(LogTampered) as raised:
        verify_chunks([bad[i : i + size] for i in range(0, len(bad), size)], claims)
    assert raised.value.index == tampered_at(bad, heads, public_key).index


# -- signed roots: checkpoints, and checkpoints an auditor saved ----------------------------


def claims_of(heads: list[TreeHead]) -> list[SignedRoot]:
    return [SignedRoot(h.tree_size, h.root_hash, f"checkpoint {h.tree_size}") for h in heads]


def _root(rows: list[Row], size: int) -> bytes:
    return root_from_leaf_hashes([h for _, _, h in rows[:size]])


def _chunks(rows: list[Row]) -> list[list[Row]]:
    return [rows[i : i + 16] for i in range(0, len(rows), 16)]


def test_claims_name_themselves_in_what_they_find(rows: list[Row]) -> None:
    claims = [SignedRoot(10, _root(rows, 10), "checkpoint 10"),
              SignedRoot(30, _root(rows, 30), "checkpoint 30")]  # fmt: skip
    assert verify_chunks(_chunks(rows), claims).signed_entries == 30
    with pytest.raises(LogTampered, match=r"entries 10\.\.29 .* checkpoint 30") as caught:
        verify_chunks(_chunks(changed(rows, 12, rehash=True)), claims)
    assert caught.value.index == 10


def test_a_trusted_checkpoint_past_the_end_means_a_rollback(rows: list[Row]) -> None:
    saved = SignedRoot(50, _root(rows, 50), "trusted checkpoint 50", trusted=True)
    with pytest.raises(LogTampered, match="the log was rolled back") as caught:
        verify_chunks(_chunks(rows[:40]), [saved])
    assert caught.value.index == 40
    stored = SignedRoot(50, _root(rows, 50), "checkpoint 50")
    with pytest.raises(LogTampered, match=r"entries 40\.\.49 were removed"):
        verify_chunks(_chunks(rows[:40]), [stored])


def test_a_trusted_checkpoint_of_another_history_means_a_rewrite(rows: list[Row]) -> None:
    """A log re-signed with the real key agrees with its own checkpoints, not a saved one."""
    saved = SignedRoot(30, _root(rows, 30), "trusted checkpoint 30", trusted=True)
    rewritten = changed(rows, 25, rehash=True)
    own = SignedRoot(30, _root(rewritten, 30), "checkpoint 30")
    assert verify_chunks(_chunks(rewritten), [own]).signed_entries == 30
    with pytest.raises(LogTampered, match="rewritten or forked after it was saved") as caught:
        verify_chunks(_chunks(rewritten), sorted([own, saved], key=lambda c: c.trusted))
    # The log's own checkpoint at 30 matched the rewrite: only a saved checkpoint vouches,
    # and none matched before, so nothing from entry 0 on is vouched for.
    assert caught.value.index == 0
    with pytest.raises(LogTampered, match="rewritten or forked") as caught:
        verify_chunks(_chunks(rewritten), [saved])
    assert caught.value.index == 0


def test_a_signed_empty_tree_must_be_the_empty_root(rows: list[Row]) -> None:
    with pytest.raises(LogTampered, match="does not sign the empty tree"):
        verify_chunks(_chunks(rows), [SignedRoot(0, bytes(32), "checkpoint 0")])
    assert verify_chunks([], [SignedRoot(0, EMPTY_ROOT, "checkpoint 0")]).entries == 0


def test_entries_stored_as_text_are_not_the_hashed_bytes(rows: list[Row]) -> None:
    """What a TEXT column hands back: a str whose hash cannot even be computed."""
    as_text = [(seq, data.decode(), h) if seq == 5 else (seq, data, h) for seq, data, h in rows]
    with pytest.raises(LogTampered, match="not stored as bytes") as caught:
        verify_chunks(_chunks(as_text), [])  # type: ignore[arg-type]
    assert caught.value.index == 5
