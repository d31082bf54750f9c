"""The tamper-evident audit log: RFC 9162 Merkle tree, signed tree heads, proofs, verification.

Every decision, read, write, disclosure, erasure, key rotation, principal and
policy change becomes an :class:`AuditEntry` whose canonical bytes are stored
and are a leaf of an RFC 9162 Merkle tree. The parts, bottom up::

    merkle    leaf and node hashes, roots, inclusion/consistency proofs, CompactRange
    entries   AuditEntry and its canonical bytes (hashed as stored, never re-serialized)
    note        C2SP signed notes: Ed25519 note keys, vkeys, signing and opening
    checkpoint  C2SP tlog-checkpoint: origin, size, root, extension lines
    cosignature C2SP tlog-cosignature: witnesses' Ed25519 and ML-DSA-44 cosignatures
    policy      C2SP tlog-policy: which logs and witnesses, and the quorum
    tlog_proof  C2SP tlog-proof: an entry in a witnessed checkpoint, checked offline
    witness_protocol  C2SP tlog-witness add-checkpoint bodies
    heads     TreeHead: the heads signed before checkpoints (still verified)
    proofs    the JSON proof bundles of those heads (still verified)
    verify    verify_chunks: one streaming pass that names the first bad entry

Those modules are pure: they touch no database. On top of them::

    signer    CheckpointSigner: signs only trees that extend its last checkpoint,
              remembered beside the key material
    log       AuditLog: the AuditSink of a deployment, in its control database;
              batched appends from many processes, checkpoints on schedule,
              proofs, verification (its checks beyond the entries: _checks),
              subject pseudonyms and references, and their erasure
    history   SubjectHistory: a subject's entries through the subjects' index
    subject_salts  subjects' salts for keys derived outside the log (the pseudonyms in
              redacted free text), never made again for an erased subject
    auditor     verify_witnessed: a quorum of witnesses and the key windows
    witnessing  Witnessing: asks the policy's witnesses to cosign each checkpoint
    service   AuditService: the HTTP API's answers, as JSON-ready dicts
    cli       ``servinfo audit …`` (mounted by ``servinfo.cli``)
    models    the tables; ``migrations/`` their Alembic branch (AUDIT_MIGRATIONS)
"""

from pathlib import Path as _Path

from servinfo.audit.entries import Action, AuditEntry, DetailValue, reference
from servinfo.audit.errors import (
    AuditError,
    EntryInvalid,
    EntryNotFound,
    HeadInvalid,
    HeadNotFound,
    LogTampered,
    ProofInvalid,
    RangeInvalid,
)
from servinfo.audit.heads import (
    ORIGIN,
    PublicKeys,
    TreeHead,
    checkpoint_body,
    sign_tree_head,
    verify_tree_head,
)
from servinfo.audit.history import SubjectHistory
from servinfo.audit.log import AuditLog, ConsistencyProof, TransactionalAuditSink
from servinfo.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from servinfo.audit.proofs import (
    ConsistencyBundle,
    InclusionBundle,
    build_consistency_bundle,
    build_inclusion_bundle,
    verify_consistency_bundle,
    verify_inclusion_bundle,
)
from servinfo.audit.service import AuditService
from servinfo.audit.signer import SignerRefused
from servinfo.audit.sink import AuditSink, MemoryAuditSink, RecordedEvent
from servinfo.audit.verify import VerifyReport, verify_log

#: The audit log's Alembic branch: ``migrate_control(engine, [AUDIT_MIGRATIONS])``.
AUDIT_MIGRATIONS: _Path = _Path(__file__).parent / "migrations"

__all__ = [
    "AUDIT_MIGRATIONS",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ORIGIN",
    "Action",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditService",
    "AuditSink",
    "CompactRange",
    "ConsistencyBundle",
    "ConsistencyProof",
    "DetailValue",
    "EntryInvalid",
    "EntryNotFound",
    "HeadInvalid",
    "HeadNotFound",
    "InclusionBundle",
    "LogTampered",
    "MemoryAuditSink",
    "ProofInvalid",
    "PublicKeys",
    "RangeInvalid",
    "RecordedEvent",
    "SignerRefused",
    "SubjectHistory",
    "TransactionalAuditSink",
    "TreeHead",
    "VerifyReport",
    "build_consistency_bundle",
    "build_inclusion_bundle",
    "checkpoint_body",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "reference",
    "root_from_leaf_hashes",
    "sign_tree_head",
    "verify_consistency",
    "verify_consistency_bundle",
    "verify_inclusion",
    "verify_inclusion_bundle",
    "verify_log",
    "verify_tree_head",
]
