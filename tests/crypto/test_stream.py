"""servinfo.crypto.stream: chunks bound to their stream, place and end."""

from __future__ import annotations

import io
import struct

import pytest

from servinfo.crypto import SealedIntegrityError
from servinfo.crypto.stream import CHUNK_SIZE, StreamOpener, StreamSealer, new_stream_key

KEY = new_stream_key()
CONTEXT = b"backup-1\x00header-hash"


def _seal(data: bytes, key: bytes = KEY, context: bytes = CONTEXT) -> bytes:
    out = io.BytesIO()
    sealer = StreamSealer(key, context, out)
    for start in range(0, len(data), 70_001):  # writes that straddle chunks
        sealer.write(data[start : start + 70_001])
    sealer.close()
    return out.getvalue()


def _open(sealed: bytes, key: bytes = KEY, context: bytes = CONTEXT) -> bytes:
    return StreamOpener(key, context, io.BytesIO(sealed)).read()


def _chunks(sealed: bytes) -> list[bytes]:
    chunks, offset = [], 0
    while offset < len(sealed):
        (length,) = struct.unpack(">I", sealed[offset : offset + 4])
        end = offset + 4 + 12 + length
        chunks.append(sealed[offset:end])
        offset = end
    return chunks


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17])
def test_what_is_sealed_opens_back_exactly(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    sealed = _seal(data)
    assert _open(sealed) == data
    assert len(_chunks(sealed)) == max(1, -(-size // CHUNK_SIZE))


def test_a_stream_cut_at_a_chunk_boundary_does_not_open() -> None:
    chunks = _chunks(_seal(bytes(2 * CHUNK_SIZE + 5)))
    with pytest.raises(SealedIntegrityError, match="ends before its last chunk"):
        _open(b"".join(chunks[:2]))


def test_chunks_swapped_repeated_or_altered_do_not_open() -> None:
    chunks = _chunks(_seal(bytes(3 * CHUNK_SIZE)))
    for broken in (
        [chunks[1], chunks[0], chunks[2]],
        [chunks[0], chunks[0], chunks[2]],
        [chunks[0], chunks[2]],
    ):
        with pytest.raises(SealedIntegrityError, match="does not open"):
            _open(b"".join(broken))
    altered = bytearray(b"".join(chunks))
    altered[-1] ^= 1
    with pytest.raises(SealedIntegrityError):
        _open(bytes(altered))


def test_another_stream_or_key_does_not_open_it() -> None:
    sealed = _seal(b"personal data")
    with pytest.raises(SealedIntegrityError):
        _open(sealed, context=b"backup-2\x00header-hash")
    with pytest.raises(SealedIntegrityError):
        _open(sealed, key=new_stream_key())
    with pytest.raises(SealedIntegrityError, match="bytes after its last chunk"):
        _open(sealed + b"\x00")
