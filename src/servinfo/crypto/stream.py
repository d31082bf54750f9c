"""Sealing a stream of any length in chunks: AES-256-GCM with per-chunk associated data.

A backup is gigabytes: it is sealed a chunk at a time, never held in memory.
Each chunk is sealed under the stream's key with a fresh random nonce, and its
associated data binds it to its place — the stream's ``context`` (a backup's
id and header), its index, and whether it is the last — so that chunks cannot
be reordered, dropped, repeated, moved to another stream, or the stream cut
short after a chunk: a stream without its final chunk does not open.

On disk, each chunk is ``length (4 bytes, big-endian) || nonce || ciphertext ||
tag``. :class:`StreamSealer` is a write-only file object (``tarfile`` streams
into it); :class:`StreamOpener` a read-only one (``tarfile`` streams out of it).
Every failure to open reads as :class:`~servinfo.crypto.errors.SealedIntegrityError`
and reveals no cause beyond where it happened.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from servinfo.crypto import _aead
from servinfo.crypto.errors import SealedIntegrityError

__all__ = ["CHUNK_SIZE", "StreamOpener", "StreamSealer", "new_stream_key"]

#: Plaintext bytes per chunk: large enough to amortize a seal, small enough to stream.
CHUNK_SIZE = 1 << 20
_DOMAIN = b"servinfo-stream-v1\x00"
_LENGTH = struct.Struct(">I")
_MAX_SEALED = CHUNK_SIZE + _aead.TAG_SIZE


def new_stream_key() -> bytes:
    """A fresh random 256-bit key for one stream."""
    return _aead.random_key()


def _aad(context: bytes, index: int, final: bool) -> bytes:
    return _DOMAIN + _LENGTH.pack(len(context)) + context + struct.pack(">Q?", index, final)


class StreamSealer(io.RawIOBase):
    """Seal everything written to it into ``out``, a chunk at a time; :meth:`close` seals
    the final chunk (an empty stream is one empty final chunk)."""

    def __init__(self, key: bytes, context: bytes, out: BinaryIO) -> None:
        super().__init__()
        self._cipher = _aead.new_cipher(key)
        self._context = context
        self._out = out
        self._buffer = bytearray()
        self._index = 0
        self.plaintext_bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to a closed stream")
        self._buffer += data
        while len(self._buffer) > CHUNK_SIZE:  # keep one back: the last chunk is final
            self._seal(bytes(self._buffer[:CHUNK_SIZE]), final=False)
            del self._buffer[:CHUNK_SIZE]
        self.plaintext_bytes += len(data)
        return len(data)

    def _seal(self, chunk: bytes, *, final: bool) -> None:
        nonce = _aead.random_nonce()
        sealed = _aead.aes_gcm_seal_with(
            self._cipher, nonce, chunk, _aad(self._context, self._index, final)
        )
        self._out.write(_LENGTH.pack(len(sealed)) + nonce + sealed)
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
        super().close()


class StreamOpener(io.RawIOBase):
    """Read back what :class:`StreamSealer` sealed, checking each chunk before handing it out.

    A stream that ends without its final chunk, or has bytes after it, raises
    :class:`SealedIntegrityError` when the reader reaches that point.
    """

    def __init__(self, key: bytes, context: bytes, source: BinaryIO) -> None:
        super().__init__()
        self._cipher = _aead.new_cipher(key)
        self._context = context
        self._source = source
        self._plain = b""
        self._offset = 0
        self._index = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._offset >= len(self._plain) and not self._done:
            self._plain, self._offset = self._next_chunk(), 0
        available = self._plain[self._offset : self._offset + len(buffer)]
        buffer[: len(available)] = available
        self._offset += len(available)
        return len(available)

    def _next_chunk(self) -> bytes:
        head = self._source.read(_LENGTH.size)
        if len(head) != _LENGTH.size:
            raise SealedIntegrityError(
                f"the sealed stream ends before its last chunk ({self._index})"
            )
        (length,) = _LENGTH.unpack(head)
        if not _aead.TAG_SIZE <= length <= _MAX_SEALED:
            raise SealedIntegrityError(f"chunk {self._index} of the sealed stream is malformed")
        nonce = self._source.read(_aead.NONCE_SIZE)
        sealed = self._source.read(length)
        if len(nonce) != _aead.NONCE_SIZE or len(sealed) != length:
            raise SealedIntegrityError(f"the sealed stream ends inside chunk {self._index}")
        for final in (False, True):
            try:
                plain = _aead.aes_gcm_open_with(
                    self._cipher, nonce, sealed, _aad(self._context, self._index, final)
                )
            except _aead.InvalidTag:
                continue
            self._index += 1
            if final:
                self._done = True
                if self._source.read(1):
                    raise SealedIntegrityError("the sealed stream has bytes after its last chunk")
            return plain
        raise SealedIntegrityError(f"chunk {self._index} of the sealed stream does not open")
