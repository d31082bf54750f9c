"""Checkpoints of C2SP tlog-checkpoint v1.0.0 (https://c2sp.org/tlog-checkpoint@v1.0.0).

A checkpoint is the text of a signed note: the log's statement "my tree had
``size`` leaves and this root". Its body is at least three non-empty lines::

    example.com/log42                             origin: names the log
    1234                                          tree size, decimal, no leading zeroes
    3q2+7w...base64 of the 32-byte root...=       RFC 6962 root hash (SHA-256)
    <extension lines, optional, non-empty>

The parser is strict so that one checkpoint has exactly one body: sizes are
uint64 with no leading zeroes, the hash is canonical base64 of 32 bytes, and the
body obeys the signed-note character rules (UTF-8, no control character but the
newline). Signatures are the note's business (:mod:`servinfo.audit.note`).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from servinfo.audit.errors import CheckpointInvalid, NoteInvalid
from servinfo.audit.merkle import HASH_SIZE
from servinfo.audit.note import MAX_NOTE_SIZE, decode_base64, excerpt

__all__ = ["MAX_TREE_SIZE", "Checkpoint"]

#: Tree sizes are uint64 (RFC 9162, C2SP).
MAX_TREE_SIZE = 2**64 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree size and root hash under its origin; extension lines are kept verbatim.

    Building one checks every field (:class:`CheckpointInvalid` otherwise), so a
    ``Checkpoint`` always has a valid :meth:`body`.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointInvalid("tree size is not an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointInvalid(f"tree size {self.size} is outside 0..2^64-1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointInvalid(f"root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise CheckpointInvalid("extension lines must be a tuple")
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> bytes:
        """The note text: origin, size, base64 root, extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return ("\n".join([*lines, *self.extensions]) + "\n").encode()

    @classmethod
    def from_body(cls, text: bytes) -> Checkpoint:
        """The checkpoint a note text states; :class:`CheckpointInvalid` if it is not one."""
        if not isinstance(text, bytes):
            raise CheckpointInvalid("a checkpoint body is bytes")
        if len(text) > MAX_NOTE_SIZE:
            raise CheckpointInvalid(f"checkpoint of {len(text)} bytes exceeds {MAX_NOTE_SIZE}")
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointInvalid("checkpoint is not valid UTF-8") from None
        if not decoded.endswith("\n"):
            raise CheckpointInvalid("checkpoint does not end in a newline")
        lines = decoded[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointInvalid(f"checkpoint has {len(lines)} lines, expected at least 3")
        origin, size_line, hash_line, *extensions = lines
        if _DECIMAL.fullmatch(size_line) is None:
            raise CheckpointInvalid(f"tree size is not a decimal: {excerpt(size_line)}")
        try:
            root_hash = decode_base64(hash_line, what="root hash")
        except NoteInvalid as exc:
            raise CheckpointInvalid(exc.message) from None
        return cls(origin, int(size_line), root_hash, tuple(extensions))

    @property
    def first_lines(self) -> bytes:
        """Origin, size and root hash lines: what ML-DSA-44 cosignatures and witnesses vouch for."""
        return Checkpoint(self.origin, self.size, self.root_hash).body()


def _check_line(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise CheckpointInvalid(f"{what} is empty")
    if "\n" in value or _CONTROL.search(value) is not None:
        raise CheckpointInvalid(f"{what} contains a control character: {excerpt(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointInvalid(f"{what} is not valid UTF-8") from None
