"""What the audit log counts: checkpoints refused, and witnesses that refused or failed."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["CHECKPOINT_REFUSALS", "COSIGNATURES", "WITNESS_FAILURES"]

CHECKPOINT_REFUSALS = Counter(
    "servinfo_audit_checkpoint_refusals",
    "Checkpoints the signer refused to sign: the stored log does not extend its last one.",
)
COSIGNATURES = Counter(
    "servinfo_audit_cosignatures", "Witness cosignatures received and stored.", ["witness"]
)
WITNESS_FAILURES = Counter(
    "servinfo_audit_witness_failures",
    "Checkpoints a witness refused or could not be asked to cosign, by reason.",
    ["witness", "reason"],
)
