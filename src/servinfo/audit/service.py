"""What the HTTP API answers about the audit log.

Public, with no token (a checkpoint and a key hold no personal data, and
anyone may mirror them): ``GET /v1/audit/checkpoint`` — the latest checkpoint
with its witnesses' cosignatures, a C2SP signed note — and
``GET /v1/audit/keys`` — the log's keys with their windows and the witness
policy. With ``read_audit``: ``GET /v1/audit/proof/{index}`` (a C2SP
tlog-proof whose ``extra`` line carries the entry's stored bytes) and
``GET /v1/audit/consistency?from=&to=``. Errors are :class:`AuditError`
subclasses whose ``http_status`` the API maps: 404 for an entry or checkpoint
that does not exist, 400 for a backwards range.
"""

from __future__ import annotations

from typing import Any

from servinfo.audit import _codec
from servinfo.audit.log import AuditLog
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.tlog_proof import TlogProof

__all__ = ["AuditService"]


class AuditService:
    """Answers for the API; the log signs a checkpoint first when one is due."""

    def __init__(self, log: AuditLog, witness_policy: TrustPolicy | None = None) -> None:
        self._log = log
        self._policy = witness_policy

    def checkpoint(self) -> bytes:
        """The latest checkpoint with its cosignatures (an empty log gets one of size 0)."""
        self._log.checkpoint_if_due()
        latest = self._log.latest_checkpoint()
        return latest if latest is not None else self._log.checkpoint()

    def keys(self) -> dict[str, Any]:
        """The log's origin, every version of its key with its window, and the witness policy."""
        return {
            "origin": self._log.origin,
            "log_keys": [
                {
                    "vkey": window.vkey,
                    "key_id": window.key_id,
                    "valid_from": window.valid_from,
                    "valid_until": window.valid_until,
                }
                for window in self._log.key_windows()
            ],
            "witness_policy": None if self._policy is None else self.trust_policy_text(),
        }

    def trust_policy_text(self) -> str:
        """A tlog-policy an auditor can use: this log's keys, the deployment's witnesses and
        quorum (``quorum none`` when it has no witness policy)."""
        lines = [f"log {vkey}" for vkey in self._log.vkeys()]
        if self._policy is None:
            return "\n".join([*lines, "quorum none"]) + "\n"
        theirs = self._policy.to_text().splitlines()
        return "\n".join(lines + [line for line in theirs if not line.startswith("log ")]) + "\n"

    def inclusion_proof(self, index: int) -> str:
        """Entry ``index`` as a tlog-proof against the latest checkpoint."""
        entry, hashes, checkpoint = self._log.inclusion(index)
        return TlogProof(index, hashes, checkpoint, extra=entry).to_text()

    def consistency_proof(self, from_size: int, to_size: int | None = None) -> dict[str, Any]:
        """The checkpoint of ``from`` is a prefix of that of ``to`` (default latest)."""
        proof = self._log.consistency(from_size, to_size)
        return {
            "old_size": proof.old_size,
            "proof": [_codec.b64(node) for node in proof.proof],
            "checkpoint": proof.checkpoint.decode("utf-8"),
        }
