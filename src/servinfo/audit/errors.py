"""The audit package's exceptions.

::

    ServinfoError
    └── AuditError          any failure of the audit log
        ├── EntryInvalid    an entry cannot be built, or bytes are not a canonical entry
        ├── HeadInvalid     a tree head is malformed, not signed by the audit key, or goes back
        ├── LogTampered     stored entries disagree with their hashes or their signed heads
        ├── ProofInvalid    an offline proof bundle does not verify
        ├── EntryNotFound   a proof or read asked for an entry the log does not have (404)
        ├── HeadNotFound    a consistency proof asked for a tree size no head was signed at (404)
        ├── RangeInvalid    a range of entries or heads is backwards or negative (400)
        ├── NoteInvalid     a signed note, verifier key or signature line is malformed or fails
        ├── CheckpointInvalid  a note's text is not a C2SP tlog-checkpoint
        ├── PolicyInvalid   a C2SP tlog-policy file is malformed or inconsistent
        └── QuorumNotMet    a checkpoint lacks the valid cosignatures its policy asks for

:class:`LogTampered` always names an entry index: the first entry at which the
stored log stops being what was signed. :class:`ProofInvalid` messages say which
step of the auditor's check failed. Messages show sizes and indexes, never the
content of an entry. The format errors (:class:`NoteInvalid`,
:class:`CheckpointInvalid`, :class:`PolicyInvalid`) quote at most a short
prefix of the input they refused, so a hostile body cannot flood a log line.
"""

from __future__ import annotations

from servinfo.errors import ServinfoError

__all__ = [
    "AuditError",
    "CheckpointInvalid",
    "EntryInvalid",
    "EntryNotFound",
    "HeadInvalid",
    "HeadNotFound",
    "LogTampered",
    "NoteInvalid",
    "PolicyInvalid",
    "ProofInvalid",
    "QuorumNotMet",
    "RangeInvalid",
]


class AuditError(ServinfoError):
    """Base class of the audit package's errors."""

    code = "audit_error"
    http_status = 500


class EntryInvalid(AuditError):
    """An entry's fields are invalid, or bytes are not the canonical form of an entry."""

    code = "audit_entry_invalid"
    http_status = 500


class HeadInvalid(AuditError):
    """A signed tree head is malformed, does not verify, or goes backwards.

    ``tree_size`` is the size the head claims, when it could be read.
    """

    code = "audit_head_invalid"
    http_status = 500

    def __init__(self, message: str, *, tree_size: int | None = None) -> None:
        super().__init__(message)
        self.tree_size = tree_size


class LogTampered(AuditError):
    """The stored log is not the log that was signed; ``index`` is the first bad entry."""

    code = "audit_log_tampered"
    http_status = 500

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"audit log tampered at entry {index}: {reason}")
        self.index = index
        self.reason = reason


class ProofInvalid(AuditError):
    """An inclusion or consistency bundle failed a step of its verification."""

    code = "audit_proof_invalid"
    http_status = 400


class EntryNotFound(AuditError):
    """The log has no entry at the index asked for."""

    code = "audit_entry_not_found"
    http_status = 404


class HeadNotFound(AuditError):
    """No tree head was signed at the size asked for."""

    code = "audit_head_not_found"
    http_status = 404


class RangeInvalid(AuditError):
    """A range of entries or tree sizes is negative or backwards."""

    code = "audit_range_invalid"
    http_status = 400


class NoteInvalid(AuditError):
    """A note, verifier key or signature line is malformed, or a known key's signature fails."""

    code = "audit_note_invalid"
    http_status = 400


class CheckpointInvalid(AuditError):
    """A note's text is not a well-formed C2SP tlog-checkpoint body."""

    code = "audit_checkpoint_invalid"
    http_status = 400


class PolicyInvalid(AuditError):
    """A C2SP tlog-policy file is malformed or refers to names it does not define."""

    code = "audit_policy_invalid"
    http_status = 400


class QuorumNotMet(AuditError):
    """A checkpoint is well formed but lacks the valid cosignatures its policy asks for."""

    code = "audit_quorum_not_met"
    http_status = 400
