"""The auditor's witness checks judge time by quorum: no minority of witnesses, however its clocks
run, can place a retired key's checkpoint inside the key's window."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.audit.checkpoints import cosign, witness
from tests.audit.support import NOW, START_MS, event

from servinfo.audit import AuditLog
from servinfo.audit.auditor import NotWitnessed, verify_witnessed
from servinfo.audit.cosignature import Ed25519CosignatureSigner
from servinfo.audit.policy import TrustPolicy
from servinfo.crypto import AUDIT_SIGNING, Keyring

START = START_MS // 1000
HOUR = 3600


def _two_of_three(log: AuditLog, signers: list[Ed25519CosignatureSigner]) -> TrustPolicy:
    lines = [f"log {vkey}" for vkey in log.vkeys()]
    lines += [f"witness w{n} {s.vkey()}" for n, s in enumerate(signers)]
    lines += ["group most 2 w0 w1 w2", "quorum most"]
    return TrustPolicy.parse("\n".join(lines) + "\n")


@pytest.fixture
def rotated(audit_log: AuditLog, keyring: Keyring) -> AuditLog:
    """Ten entries signed by audit_signing:v1, which is retired an hour after NOW."""
    audit_log.record_many(event(i) for i in range(10))
    assert audit_log.checkpoint_sizes() == [10]
    keyring.rotate(AUDIT_SIGNING, now=NOW + dt.timedelta(hours=1))
    return audit_log


def test_a_quorum_inside_the_window_vouches(rotated: AuditLog) -> None:
    signers = [witness(seed) for seed in (1, 2, 3)]
    for signer, at in zip(signers, (START + 10, START + 20, START + 3 * HOUR), strict=True):
        cosign(rotated, signer, 10, at)
    found = verify_witnessed(
        rotated, _two_of_three(rotated, signers), entries=10, max_unwitnessed=60,
        clock=lambda: START + 30,
    )  # fmt: skip
    assert found is not None
    assert (found.size, found.time) == (10, START + 20)  # when the second of three had cosigned


def test_one_early_witness_cannot_place_a_retired_keys_checkpoint_in_its_window(
    rotated: AuditLog,
) -> None:
    signers = [witness(seed) for seed in (1, 2, 3)]
    # One witness's clock (or its collusion) says the checkpoint was seen in the window;
    # the other two saw it first two hours after the key was retired.
    for signer, at in zip(signers, (START + 10, START + 3 * HOUR, START + 3 * HOUR), strict=True):
        cosign(rotated, signer, 10, at)
    with pytest.raises(NotWitnessed, match="retired before a quorum of witnesses saw it"):
        verify_witnessed(
            rotated, _two_of_three(rotated, signers), entries=10, max_unwitnessed=10 * HOUR,
            clock=lambda: START + 3 * HOUR,
        )  # fmt: skip
