"""Erasure receipts: what a person keeps to prove their data was erased, and stays erased.

A receipt (format in docs/audit-formats.md, "Erasure receipts") holds the
erasure's own audit entry — the shred, with the counts and the kinds kept —
exactly as stored in the log, its C2SP tlog-proof against a checkpoint the
witnesses cosigned, the trust policy to check it with, the kept records and
why, and the reference that stands for the request in the entry. The person
checks it with the ``verify.py`` of any access export (Python and
``cryptography`` alone) or ``servinfo audit verify-receipt``, which also asks
the deployment for a consistency proof from the receipt's checkpoint to its
latest: a log that rolled the erasure back cannot give one.

It is built while the subject's salt still exists (the request's reference is
keyed with it) and before the salt is destroyed; afterwards nothing on the
deployment can recompute that reference, so the receipt links nothing back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from servinfo.audit.entries import reference
from servinfo.audit.errors import EntryNotFound
from servinfo.rights.history import HistorySource

__all__ = ["RECEIPT_FORMAT", "erasure_receipt"]

#: The receipt's format, as the standalone verifier checks it.
RECEIPT_FORMAT = "servinfo-erasure-receipt/1"


def erasure_receipt(
    history: HistorySource,
    *,
    subject_id: str,
    request_id: str,
    entry_index: int,
    kept: Sequence[dict[str, Any]],
    issued_at: dt.datetime,
) -> dict[str, Any]:
    """The receipt of the erasure logged as entry ``entry_index`` (durable already)."""
    found = history.subject_history(subject_id)
    entry = None if found is None else dict(found.entries).get(entry_index)
    if found is None or entry is None:
        raise EntryNotFound(f"entry {entry_index} is not an entry about the erased subject")
    evidence = history.evidence([entry_index], {entry_index: entry})
    return {
        "format": RECEIPT_FORMAT,
        "request_reference": reference(found.reference_key, request_id),
        "entry": entry.decode("utf-8"),
        "proof": evidence.proofs[entry_index],
        "trust_policy": evidence.trust_policy,
        "witnessed": evidence.witnessed,
        "kept": list(kept),
        "issued_at": issued_at.isoformat(),
    }
