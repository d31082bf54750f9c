"""After an erasure receipt verifies: the log still holds its erasure (never rolled back).

``servinfo audit verify-receipt`` checks the receipt with :mod:`verify` (the file
shipped in exports), then, given a deployment's URL or run inside the
deployment, asks for a consistency proof (RFC 9162 section 2.1.4) from the
receipt's checkpoint to the latest one and checks it here: the latest
checkpoint is signed by the log of the trust policy and the tree the receipt's
checkpoint commits to, erasure included, is a prefix of it. A deployment that
rolled its log back past the erasure cannot produce that proof.

Unlike :mod:`verify`, this module is servinfo code: it runs on the operator's or
the auditor's machine, with the package installed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import AuditError, QuorumNotMet
from servinfo.audit.merkle import verify_consistency
from servinfo.audit.note import Note, open_note
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.standalone.verify import Receipt, Refused
from servinfo.errors import ServinfoError

if TYPE_CHECKING:
    from servinfo.audit.log import AuditLog

__all__ = ["Later", "Unreachable", "check_later", "from_log", "from_url"]

_TIMEOUT = 30.0


class Unreachable(ServinfoError):
    """The deployment could not be asked (network, TLS, token): nothing was verified."""

    code = "audit_deployment_unreachable"


@dataclass(frozen=True)
class Later:
    """A consistency proof from the receipt's checkpoint: ``proof`` leads to ``checkpoint``."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes  # the latest signed note, with its cosignatures


def from_log(log: AuditLog, receipt: Receipt) -> Later:
    """The deployment's own proof, read from its log."""
    size = receipt.verified.checkpoint.size
    try:
        proof = log.consistency(size)
    except AuditError as error:
        raise Refused(f"the log cannot extend checkpoint {size}: {error.message}") from None
    return Later(proof.old_size, tuple(proof.proof), proof.checkpoint)


def from_url(url: str, receipt: Receipt, token: str | None, cacert: Path | None) -> Later:
    """``GET <url>/v1/audit/consistency?from=<size>`` (public; a token is sent if given)."""
    import httpx

    size = receipt.verified.checkpoint.size
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.get(
            f"{url.rstrip('/')}/v1/audit/consistency",
            params={"from": size},
            headers=headers,
            verify=str(cacert) if cacert is not None else True,
            timeout=_TIMEOUT,
        )
    except httpx.HTTPError as error:
        raise Unreachable(f"cannot reach {url}: {type(error).__name__}") from None
    if answer.status_code == 404 and _error_code(answer) == "audit_head_not_found":
        raise Refused(f"the deployment has no checkpoint of size {size}: its log was rolled back")
    if answer.status_code in (401, 403):
        raise Unreachable(
            f"{url} refused the consistency proof (HTTP {answer.status_code}): a servinfo "
            "deployment serves it without a token; check the URL"
        )
    if answer.status_code != 200:
        raise Unreachable(f"{url} answered HTTP {answer.status_code}")
    return _parse_answer(answer)


def check_later(receipt: Receipt, later: Later) -> str:
    """Check ``later`` against the receipt's checkpoint and trust policy; a line saying what
    holds, or Refused."""
    old = receipt.verified.checkpoint
    try:
        policy = TrustPolicy.parse(receipt.policy_text)
        note = Note.parse(later.checkpoint)
        new = Checkpoint.from_body(note.text)
        if new.origin != old.origin:
            raise Refused(f"the latest checkpoint is of another log: {new.origin!r}")
        # Signed by the log; witnesses may not have cosigned the very latest one yet.
        try:
            policy.verify_checkpoint(later.checkpoint)
            witnessed = "witnessed" if policy.witnesses else "signed by the log"
        except QuorumNotMet:
            open_note(later.checkpoint, policy.log_verifiers(new.origin))
            witnessed = "signed by the log, its witnesses' quorum not met yet"
    except AuditError as error:
        raise Refused(f"the latest checkpoint: {error.message}") from None
    if later.old_size != old.size or not verify_consistency(
        old.size, new.size, old.root, new.root_hash, later.proof
    ):
        raise Refused(
            f"the latest checkpoint (size {new.size}) does not extend the receipt's "
            f"(size {old.size}): the log was rolled back or forked"
        )
    return (
        f"the log still holds the erasure: its latest checkpoint (size {new.size}, "
        f"{witnessed}) extends the receipt's (size {old.size})"
    )


def _error_code(answer: Any) -> object:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _parse_answer(answer: Any) -> Later:
    try:
        body = answer.json()
        proof = tuple(base64.b64decode(node, validate=True) for node in body["proof"])
        return Later(int(body["old_size"]), proof, body["checkpoint"].encode("utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise Refused("the deployment's consistency proof is malformed") from None
