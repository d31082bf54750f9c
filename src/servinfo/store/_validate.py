"""Shape checks for the identifiers the store keeps in clear.

Plaintext columns are limited to opaque ids and names from the policy; these
patterns keep them so. Subject and organization ids may not contain ``@`` or
spaces, so an e-mail address or a person's name cannot slip into a clear
column by being used as an id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["check_name", "check_opaque_id", "utc_now"]

#: Opaque ids issued by other systems (subjects, organizations).
_OPAQUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: Names from the policy: regions, categories, kinds, sources, retention classes …
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def check_opaque_id(value: object, what: str, error: Callable[[str], Exception]) -> str:
    """``value`` if it is an opaque id, else ``error(message)``."""
    if not isinstance(value, str) or not _OPAQUE_ID.fullmatch(value):
        raise error(
            f"{what} must be an opaque id of 1 to 128 letters, digits, '.', '_', ':' or '-', "
            f"got {_shown(value)}"
        )
    return value


def check_name(value: object, what: str, error: Callable[[str], Exception]) -> str:
    """``value`` if it is a policy name (region, category …), else ``error(message)``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise error(
            f"{what} must be 1 to 64 letters, digits, '.', '_', ':' or '-', got {_shown(value)}"
        )
    return value


def utc_now(now: datetime | None = None) -> datetime:
    """``now`` (which must be timezone-aware) in UTC, or the current time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now.isoformat()}; expected a timezone-aware one")
    return now.astimezone(UTC)


def _shown(value: object) -> str:
    # Show the type and length of bad input, never its text: it may be personal data.
    if isinstance(value, str):
        return f"a string of {len(value)} characters" if value else "an empty string"
    return f"a value of type {type(value).__name__}"
