"""Bearer tokens for principals: generation, storage hash, constant-time check.

Tokens are 256 random bits, so a plain SHA-256 is the right storage hash: a
slow password KDF (scrypt, Argon2) defends low-entropy secrets against
guessing, and nobody can guess 2**256 values. Speed matters here instead —
every API call checks a token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["hash_token", "new_token", "token_matches"]

_PREFIX = re.compile(r"[a-z][a-z0-9]{0,15}")


def new_token(prefix: str = "svi") -> str:
    """A new token ``<prefix>_<43 URL-safe characters>``.

    The prefix lets secret scanners and humans recognise a leaked servinfo token.
    """
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"token prefix must match {_PREFIX.pattern}, got {prefix!r}")
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """The SHA-256 of ``token`` as 64 hex characters: what the database stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Whether ``token`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(
        hash_token(token).encode("ascii"), stored_hash.encode("utf-8", "replace")
    )
