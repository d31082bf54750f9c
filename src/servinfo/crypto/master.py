"""Loading the master key, the root of servinfo's key hierarchy.

The master key is 32 random bytes written as URL-safe base64 (44 characters).
It comes from the ``SERVINFO_MASTER_KEY`` environment variable if that is set,
otherwise from a file that only its owner can read (mode 0600 or 0400). It is
never stored in a database: the keyring it unlocks lives beside the data, so
the key must not.

The environment is passed in as a mapping rather than read from ``os.environ``
so that configuration is read once, at start-up, and tests need no patching.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from servinfo.crypto._files import write_new_file
from servinfo.crypto.errors import MasterKeyError

__all__ = [
    "MASTER_KEY_ENV",
    "MASTER_KEY_SIZE",
    "decode_master_key",
    "encode_master_key",
    "generate_master_key_file",
    "load_master_key",
]

#: The environment variable that, when set, holds the master key.
MASTER_KEY_ENV = "SERVINFO_MASTER_KEY"
#: Master keys are 256-bit.
MASTER_KEY_SIZE = 32

_ENCODED_SIZE = 44  # len(base64 of 32 bytes), padding included
_HOW_TO_GENERATE = "generate one with `servinfo init`"


def encode_master_key(key: bytes) -> str:
    """The text form of a master key: URL-safe base64 with padding."""
    if len(key) != MASTER_KEY_SIZE:
        raise MasterKeyError(f"a master key is {MASTER_KEY_SIZE} bytes, got {len(key)}")
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_master_key(text: str, source: str) -> bytes:
    """Parse the text form of a master key; ``source`` names where it came from.

    Error messages give lengths, never the text itself: a near-miss key is
    still most of a key.
    """
    stripped = text.strip()
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        key = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MasterKeyError(
            f"{source} is not URL-safe base64: expected {_ENCODED_SIZE} characters "
            f"of A-Z a-z 0-9 - _; {_HOW_TO_GENERATE}"
        ) from None
    if len(key) != MASTER_KEY_SIZE:
        raise MasterKeyError(
            f"{source} decodes to {len(key)} bytes, expected {MASTER_KEY_SIZE}; {_HOW_TO_GENERATE}"
        )
    return key


def load_master_key(env: Mapping[str, str], path: Path | None) -> bytes:
    """The master key from ``env[MASTER_KEY_ENV]`` if set, else from the file at ``path``.

    Fails closed: a variable that is set but empty is an error rather than a
    silent fall-back to the file, and so is a file that others could read.
    """
    if MASTER_KEY_ENV in env:
        if not env[MASTER_KEY_ENV].strip():
            raise MasterKeyError(
                f"{MASTER_KEY_ENV} is set but empty; set it to the master key or unset it "
                "to use the master key file"
            )
        return decode_master_key(env[MASTER_KEY_ENV], MASTER_KEY_ENV)
    if path is None:
        raise MasterKeyError(
            f"no master key: set {MASTER_KEY_ENV} or configure a master key file; "
            + _HOW_TO_GENERATE
        )
    return decode_master_key(_read_owner_only_file(path), f"master key file {path}")


def _read_owner_only_file(path: Path) -> str:
    # Open first, then fstat the open descriptor: checking the path and then
    # opening it would let the file be swapped in between.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise MasterKeyError(
            f"master key file {path} does not exist; set {MASTER_KEY_ENV} or {_HOW_TO_GENERATE}"
        ) from None
    except OSError as error:
        raise MasterKeyError(
            f"cannot open master key file {path}: {error.strerror} "
            "(it must be a regular file, not a symlink)"
        ) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise MasterKeyError(f"master key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise MasterKeyError(
                f"master key file {path} has mode {mode:04o}, expected 0600: others could "
                f"read it; run `chmod 600 {path}`"
            )
        raw = file.read(4 * _ENCODED_SIZE)  # bounded: a key file is one short line
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise MasterKeyError(f"master key file {path} is not text; {_HOW_TO_GENERATE}") from None


def generate_master_key_file(path: Path) -> None:
    """Write a new random master key to ``path`` with mode 0600, atomically.

    Refuses to overwrite an existing file: replacing a master key would lock
    the keyring it protects for good.
    """
    text = encode_master_key(os.urandom(MASTER_KEY_SIZE)) + "\n"
    try:
        write_new_file(path, text.encode("ascii"))
    except FileExistsError:
        raise MasterKeyError(
            f"master key file {path} already exists; refusing to overwrite it "
            "(the keyring it unlocks would become unreadable)"
        ) from None
