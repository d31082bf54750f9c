"""What the HTTP API answers about the audit log, as JSON-ready dicts.

The routes (``GET /v1/audit/head``, ``/v1/audit/proof/{index}``,
``/v1/audit/consistency?from=&to=``, ``/v1/audit/public-keys``) stay thin:
each returns one of these methods' dicts. The proof dicts are exactly the
bundle files ``servinfo audit prove`` writes, so an auditor checks an API
answer with ``servinfo audit verify-proof`` and nothing else. Errors are
:class:`AuditError` subclasses whose ``http_status`` the API maps: 404 for an
entry or head that does not exist, 400 for a backwards range.
"""

from __future__ import annotations

from typing import Any

from servinfo.audit import _codec
from servinfo.audit.heads import TreeHead
from servinfo.audit.log import AuditLog

__all__ = ["AuditService"]


class AuditService:
    """Read-only answers for the API; the log signs a head when one is due."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def head(self) -> dict[str, Any]:
        """``GET /v1/audit/head``: the latest signed tree head (see :mod:`servinfo.audit.heads`).

        Signs one first if a head is due, or if none was ever signed (an
        empty log gets a signed head of size 0), so the answer is never stale
        by more than the schedule.
        """
        return self.current_head().to_dict()

    def current_head(self) -> TreeHead:
        head = self._log.issue_head_if_due() or self._log.latest_head()
        return head if head is not None else self._log.issue_head()

    def inclusion_proof(self, index: int) -> dict[str, Any]:
        """``GET /v1/audit/proof/{index}``: the inclusion bundle of entry ``index``."""
        return self._log.inclusion_bundle(index).to_dict()

    def consistency_proof(self, from_size: int, to_size: int | None = None) -> dict[str, Any]:
        """``GET /v1/audit/consistency?from=&to=``: heads ``from`` ⊑ ``to`` (default latest)."""
        return self._log.consistency_bundle(from_size, to_size).to_dict()

    def public_keys(self) -> dict[str, Any]:
        """``GET /v1/audit/public-keys``: every audit key, base64, and which one signs now."""
        keys = self._log.public_keys()
        return {
            "current": next(reversed(keys)),
            "keys": {k: _codec.b64(v) for k, v in keys.items()},
        }
