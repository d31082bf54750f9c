"""Input checks shared by the ledger services: shapes, policy ids, time.

Bad input is refused before a transaction starts, so a refusal never writes.
Messages show the type and length of free text, never the text itself (a
reason may hold personal data), and list the values the policy declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from servinfo.ledgers.errors import InvalidLedgerInput

#: Opaque ids: subjects, organizations, recipients, principals, hold ids.
_OPAQUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
#: Policy names and versions: purposes, categories, ``sha256:…`` notice versions.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _shown(value: object) -> str:
    if isinstance(value, str):
        return f"a string of {len(value)} characters" if value else "an empty string"
    return f"a value of type {type(value).__name__}"


def opaque_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _OPAQUE.fullmatch(value):
        raise InvalidLedgerInput(
            f"{what} must be an id of 1 to 128 letters, digits, '.', '_', ':', '@' or '-', "
            f"got {_shown(value)}"
        )
    return value


def name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidLedgerInput(
            f"{what} must be 1 to 64 letters, digits, '.', '_', ':' or '-', got {_shown(value)}"
        )
    return value


def text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidLedgerInput(f"{what} must be 1 to {limit} characters, got {_shown(value)}")
    return value.strip()


def declared(value: str, what: str, known: Iterable[str]) -> str:
    """``value`` if the policy declares it, else an error listing what it declares."""
    known = sorted(known)
    if value not in known:
        raise InvalidLedgerInput(
            f"{what} {value!r} is not declared in the policy; expected one of: "
            f"{', '.join(known) or 'none'}"
        )
    return value


def utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidLedgerInput(f"naive time {now.isoformat()}; expected a timezone-aware one")
    return now.astimezone(UTC)
