"""What an auditor checks beyond the log's own integrity: witnesses and key windows.

:meth:`AuditLog.verify` shows the stored log is the one the deployment's
signer signed, and that it contains every checkpoint an auditor saved. That
still trusts whoever holds the log key: with the key, a whole history can be
re-signed. Witnesses close that gap. :func:`verify_witnessed` checks the
deployment against a trust policy (C2SP tlog-policy):

- every cosignature stored for a checkpoint verifies, or is not a policy
  witness's (a forged cosignature fails the check);
- the newest checkpoint a quorum of the policy's witnesses cosigned exists,
  and entries after it have not waited longer than ``max_unwitnessed``
  seconds, judged by the witnesses' own times against the auditor's clock;
- the log key that signed each witnessed checkpoint was in its window when
  a quorum of the witnesses cosigned it (a retired key cannot sign new
  history). Times are judged by quorum: the moment by which a quorum had
  cosigned, which no minority of witnesses can move with its clocks.

A witness cosigns only a checkpoint consistent with every one it cosigned
before, so a quorum-witnessed checkpoint is the one history the witnesses
saw: a rewrite, a rollback or a fork of the log shows as a stored log that
does not contain it, or as a tail no quorum will cosign.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from servinfo.audit.errors import AuditError, CheckpointInvalid, NoteInvalid, QuorumNotMet
from servinfo.audit.log import AuditLog, KeyWindow
from servinfo.audit.note import parse_vkey
from servinfo.audit.policy import TrustPolicy, VerifiedCheckpoint

__all__ = ["NotWitnessed", "Witnessed", "verify_witnessed"]

#: Witness clocks may run this far ahead of the log key's creation (seconds).
_CLOCK_SKEW = 300


class NotWitnessed(AuditError):
    """The log is not vouched for by a quorum of the policy's witnesses as it must be."""

    code = "audit_not_witnessed"


@dataclass(frozen=True)
class Witnessed:
    """The newest checkpoint a quorum cosigned, and when a quorum had (seconds)."""

    size: int
    time: int
    witnesses: tuple[str, ...]
    checkpoints_checked: int


def verify_witnessed(
    log: AuditLog,
    policy: TrustPolicy,
    *,
    entries: int,
    max_unwitnessed: int,
    clock: Callable[[], float] = time.time,
) -> Witnessed | None:
    """Check the stored checkpoints' cosignatures against ``policy``; None for an empty log,
    or when the policy asks for no cosignature (``quorum none``).

    ``entries`` is the size of the verified log. Raises :class:`NotWitnessed`.
    """
    windows = _windows(log.key_windows())
    newest: tuple[int, VerifiedCheckpoint] | None = None
    sizes = log.checkpoint_sizes()
    for size in sizes:
        try:
            verified = policy.verify_checkpoint(log.checkpoint_of_size(size))
        except QuorumNotMet:
            continue
        except (NoteInvalid, CheckpointInvalid) as error:
            raise NotWitnessed(f"checkpoint {size}: {error.message}") from None
        if verified.cosignatures:  # a quorum of none has no witness time to judge by
            _check_window(size, verified, windows, policy)
        newest = (size, verified)
    if entries == 0:
        return None
    if newest is None:
        raise NotWitnessed(
            f"no checkpoint of the log's {entries} entries is cosigned by a quorum of the "
            "policy's witnesses"
        )
    size, verified = newest
    if not verified.cosignatures:
        # The policy asks for no cosignature (quorum none): the log keys were checked above,
        # and nothing was witnessed.
        return None
    when = _seen_by_quorum(policy, verified.cosignatures)
    if entries > size and clock() - when > max_unwitnessed:
        raise NotWitnessed(
            f"entries {size}..{entries - 1} are not covered by a checkpoint a quorum of "
            f"witnesses cosigned, {int(clock() - when)} s after the last one (at most "
            f"{max_unwitnessed} s): the witnesses refused this log's newer checkpoints, or "
            "none were submitted"
        )
    return Witnessed(size, when, tuple(sorted(verified.cosignatures)), len(sizes))


def _windows(windows: Sequence[KeyWindow]) -> dict[bytes, KeyWindow]:
    return {parse_vkey(window.vkey).key_id: window for window in windows}


def _check_window(
    size: int, verified: VerifiedCheckpoint, windows: dict[bytes, KeyWindow], policy: TrustPolicy
) -> None:
    window = windows.get(verified.log_key_id)
    if window is None:
        raise NotWitnessed(f"checkpoint {size} is signed by a key this log does not publish")
    if _unseen_by_quorum(policy, verified.cosignatures) + _CLOCK_SKEW < window.valid_from:
        raise NotWitnessed(f"checkpoint {size} was cosigned before its key {window.key_id} existed")
    seen = _seen_by_quorum(policy, verified.cosignatures)
    if window.valid_until is not None and seen > window.valid_until + _CLOCK_SKEW:
        raise NotWitnessed(
            f"checkpoint {size} is signed by {window.key_id}, retired before a quorum of "
            "witnesses saw it: a retired key signed new history"
        )


def _seen_by_quorum(policy: TrustPolicy, cosignatures: dict[str, int]) -> int:
    """When a quorum of witnesses had cosigned: the earliest time the witnesses cosigned at
    or before it form a quorum. No minority, however its clocks run, moves it."""
    return _quorum_time(policy, sorted(cosignatures.items(), key=lambda item: item[1]))


def _unseen_by_quorum(policy: TrustPolicy, cosignatures: dict[str, int]) -> int:
    """The latest time a quorum of witnesses cosigned at or after: before it, a quorum had
    not yet seen the checkpoint."""
    return _quorum_time(policy, sorted(cosignatures.items(), key=lambda item: -item[1]))


def _quorum_time(policy: TrustPolicy, ordered: list[tuple[str, int]]) -> int:
    names: list[str] = []
    for name, at in ordered:
        names.append(name)
        if policy.is_quorum(names):
            return at
    raise NotWitnessed("the cosignatures do not form a quorum")  # verify_checkpoint said so
