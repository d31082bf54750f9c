"""The bodies of the C2SP tlog-witness ``add-checkpoint`` call (https://c2sp.org/tlog-witness).

Pure formatting and parsing, shared by servinfo's witness client and its witness
server; neither HTTP nor policy lives here. A request body is::

    old 20852014                       the size the client believes the witness has
    PlRNCrwHpqhGrupue0L7gxbjbMiKA9...  consistency proof, at most 63 base64 hashes
                                       an empty line
    <the signed checkpoint note>

A successful response is one or more note signature lines (the witness's
cosignatures); a ``409 Conflict`` answers the witness's latest size, in decimal and
a newline, as ``text/x.tlog.size``. Every parser is strict and raises only
:class:`NoteInvalid` (the note-level format is what is broken), with a one-line
message that quotes little of the input.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

from servinfo.audit.checkpoint import MAX_TREE_SIZE
from servinfo.audit.errors import NoteInvalid
from servinfo.audit.merkle import HASH_SIZE
from servinfo.audit.note import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Note,
    NoteSignature,
    decode_base64,
    excerpt,
)

__all__ = [
    "ADD_CHECKPOINT_PATH",
    "CONTENT_TYPE",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "MAX_RESPONSE_SIZE",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "format_cosignatures",
    "format_size_conflict",
    "parse_cosignatures",
    "parse_size_conflict",
]

#: Appended to the witness's submission prefix.
ADD_CHECKPOINT_PATH = "/add-checkpoint"
#: The type of request and success bodies; the spec fixes none, these are plain text.
CONTENT_TYPE = "text/plain; charset=utf-8"
#: The type of a 409 body, fixed by the spec.
SIZE_CONTENT_TYPE = "text/x.tlog.size"
#: The client MUST NOT send more consistency proof lines than this.
MAX_PROOF_LINES = 63
#: The largest request body: a note and a full proof (each line at most 45 bytes).
MAX_REQUEST_SIZE = MAX_NOTE_SIZE + 32 + MAX_PROOF_LINES * 45
#: The largest cosignature response accepted.
MAX_RESPONSE_SIZE = MAX_NOTE_SIZE

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An ``add-checkpoint`` body: the old size, the consistency proof, the signed checkpoint.

    ``checkpoint`` is the signed note, verbatim: checking its signatures and that it
    is a checkpoint is the witness's job (with its own keys), not the format's.
    """

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes

    def __post_init__(self) -> None:
        if isinstance(self.old_size, bool) or not isinstance(self.old_size, int):
            raise NoteInvalid("old size is not an integer")
        if not 0 <= self.old_size <= MAX_TREE_SIZE:
            raise NoteInvalid(f"old size {self.old_size} is outside 0..2^64-1")
        if not isinstance(self.proof, tuple) or len(self.proof) > MAX_PROOF_LINES:
            raise NoteInvalid(f"a consistency proof is a tuple of at most {MAX_PROOF_LINES}")
        if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in self.proof):
            raise NoteInvalid(f"every consistency proof hash must be {HASH_SIZE} bytes")
        Note.parse(self.checkpoint)

    def to_bytes(self) -> bytes:
        """The request body."""
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode() for h in self.proof)]
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        """The request a body holds; :class:`NoteInvalid` if it is malformed."""
        if not isinstance(body, bytes):
            raise NoteInvalid("a request body is bytes")
        if len(body) > MAX_REQUEST_SIZE:
            raise NoteInvalid(f"request of {len(body)} bytes exceeds {MAX_REQUEST_SIZE}")
        head, blank, checkpoint = body.partition(b"\n\n")
        if not blank:
            raise NoteInvalid("request has no empty line before its checkpoint")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise NoteInvalid("request's size and proof lines are not ASCII") from None
        first = lines[0]
        if not first.startswith("old ") or _DECIMAL.fullmatch(first[4:]) is None:
            raise NoteInvalid(f"request does not start with an old size line: {excerpt(first)}")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise NoteInvalid(f"request has more than {MAX_PROOF_LINES} proof lines")
        proof = tuple(_hash(line) for line in lines[1:])
        return cls(int(first[4:]), proof, checkpoint)


def format_cosignatures(signatures: Iterable[NoteSignature]) -> bytes:
    """A success body: one signature line per cosignature (at least one)."""
    body = "".join(signature.line() for signature in signatures).encode()
    if not body:
        raise NoteInvalid("a cosignature response needs at least one signature")
    return body


def parse_cosignatures(body: bytes) -> list[NoteSignature]:
    """The signature lines of a success body, unverified; :class:`NoteInvalid` if malformed.

    Verify them by adding them to the checkpoint (:class:`~servinfo.audit.note.Note`)
    and opening it with the witnesses' keys.
    """
    if not isinstance(body, bytes):
        raise NoteInvalid("a response body is bytes")
    if len(body) > MAX_RESPONSE_SIZE:
        raise NoteInvalid(f"response of {len(body)} bytes exceeds {MAX_RESPONSE_SIZE}")
    if not body.endswith(b"\n"):
        raise NoteInvalid("cosignature response is empty or lacks its final newline")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteInvalid("cosignature response is not valid UTF-8") from None
    lines = text[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteInvalid(f"cosignature response has more than {MAX_SIGNATURES} lines")
    if any(_CONTROL.search(line) for line in lines):
        raise NoteInvalid("cosignature response contains a control character")
    return [NoteSignature.parse_line(line) for line in lines]


def format_size_conflict(size: int) -> bytes:
    """A 409 body (``text/x.tlog.size``): the witness's latest size and a newline."""
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
        raise NoteInvalid("a tree size is an integer in 0..2^64-1")
    return b"%d\n" % size


def parse_size_conflict(body: bytes) -> int:
    """The size in a 409 body; :class:`NoteInvalid` unless it is exactly a decimal and newline."""
    if not isinstance(body, bytes) or len(body) > 32 or not body.endswith(b"\n"):
        raise NoteInvalid(f"not a tree size body: {excerpt(body)}")
    digits = body[:-1].decode("ascii", "replace")
    if _DECIMAL.fullmatch(digits) is None or int(digits) > MAX_TREE_SIZE:
        raise NoteInvalid(f"not a tree size body: {excerpt(body)}")
    return int(digits)


def _hash(line: str) -> bytes:
    raw = decode_base64(line, what="consistency proof line")
    if len(raw) != HASH_SIZE:
        raise NoteInvalid(f"a consistency proof hash has {HASH_SIZE} bytes, got {len(raw)}")
    return raw
