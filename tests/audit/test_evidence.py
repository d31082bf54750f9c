"""Evidence of entries: proofs in one pass that verify offline, against a witnessed checkpoint.

The proofs are checked with the package's own C2SP tlog-proof verifier under the
evidence's trust policy, on SQLite and PostgreSQL. The witness is a real
:class:`~servinfo.witness.service.Witness` (its keys, its state) answering the
log's real :class:`~servinfo.audit.witness_client.WitnessClient` through httpx's
in-process transport.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.audit.checkpoints import cosign, execute, witness
from tests.audit.support import START_MS, AuditBackend, FakeClock, event

from servinfo.audit import AuditLog, LogTampered, inclusion_proof, root_from_leaf_hashes
from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import EntryNotFound, ProofInvalid
from servinfo.audit.evidence import Evidence, LogEvidence, entry_evidence, inclusion_proofs
from servinfo.audit.note import Note
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.signer import SignerRefused
from servinfo.audit.tlog_proof import TlogProof
from servinfo.audit.witness_client import WitnessClient
from servinfo.audit.witness_protocol import format_cosignatures, format_size_conflict
from servinfo.audit.witnessing import Witnessing
from servinfo.crypto import Keyring
from servinfo.witness.directory import init_witness, open_witness
from servinfo.witness.errors import SizeConflict
from servinfo.witness.service import Witness

WITNESS_URL = "https://witness.example/w"


def _leaves(count: int) -> list[bytes]:
    return [hashlib.sha256(b"leaf %d" % i).digest() for i in range(count)]


def _chunks(leaves: list[bytes], level: int) -> list[list[bytes]]:
    step = 1 << level
    return [leaves[i : i + step] for i in range(0, len(leaves), step)]


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(1, 300),
    chunk_level=st.integers(0, 5),
    data=st.data(),
)
def test_one_pass_gives_the_rfc_proof_of_every_index(
    size: int, chunk_level: int, data: st.DataObject
) -> None:
    leaves = _leaves(size)
    indexes = sorted(data.draw(st.sets(st.integers(0, size - 1), max_size=20)))
    proofs, root, found = inclusion_proofs(
        _chunks(leaves, chunk_level), size, indexes, chunk_level=chunk_level
    )
    assert root == root_from_leaf_hashes(leaves)
    assert proofs == {i: inclusion_proof(leaves, i) for i in indexes}
    assert found == {i: leaves[i] for i in indexes}


def test_chunks_of_another_size_or_a_short_log_are_refused() -> None:
    leaves = _leaves(20)
    with pytest.raises(ValueError, match="chunks hold 4 leaves"):
        inclusion_proofs(_chunks(leaves, 3), 20, [1], chunk_level=2)
    with pytest.raises(LogTampered, match="holds 16 of the 20 leaves"):
        inclusion_proofs(_chunks(leaves[:16], 2), 20, [1], chunk_level=2)
    with pytest.raises(ValueError, match=r"indexes must lie in 0\.\.19"):
        inclusion_proofs(_chunks(leaves, 2), 20, [20], chunk_level=2)


def _entries(log: AuditLog, indexes: list[int]) -> dict[int, bytes]:
    with log.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT seq, entry FROM audit_entries").all()
    return {int(seq): bytes(entry) for seq, entry in rows if int(seq) in indexes}


def _verify_all(evidence: Evidence, entries: dict[int, bytes]) -> TrustPolicy:
    policy = TrustPolicy.parse(evidence.trust_policy)
    for index, text in evidence.proofs.items():
        proof = TlogProof.parse(text)
        assert proof.index == index
        assert proof.checkpoint == evidence.checkpoint
        assert text == proof.to_text()  # written as TlogProof writes it
        proof.verify(hashlib.sha256(b"\x00" + entries[index]).digest(), policy)
    return policy


def test_proofs_verify_against_a_checkpoint_signed_by_the_log(audit_log: AuditLog) -> None:
    audit_log.record_many([event(i) for i in range(37)])
    wanted = [0, 5, 17, 31, 36]
    entries = _entries(audit_log, wanted)

    evidence = entry_evidence(audit_log, wanted, entries=entries)

    assert sorted(evidence.proofs) == wanted
    assert evidence.size == 37  # the latest covered only 30: one was signed for the evidence
    assert not evidence.witnessed
    assert evidence.cosigned_by == ()
    assert evidence.trust_policy == f"log {audit_log.vkeys()[-1]}\nquorum none\n"
    _verify_all(evidence, entries)


def test_a_host_that_does_not_sign_waits_for_the_signing_hosts_checkpoint(
    audit_log: AuditLog, keyring: Keyring, signer_state_file: Path
) -> None:
    """A worker on another machine (``audit.sign_checkpoints = false``) proves the entries it
    just appended against the checkpoint the signing host signs moments later; it never
    signs, and without a signing host it gives up after the timeout with a clear error."""
    worker = AuditLog(
        audit_log.engine,
        keyring,
        signer_state_file=signer_state_file.with_name("unused.json"),
        origin=audit_log.origin,
        signs=False,
    )
    worker.record_many([event(i) for i in range(33)])
    wanted = [0, 32]
    entries = _entries(worker, wanted)
    with pytest.raises(SignerRefused, match="signing host"):
        entry_evidence(worker, wanted, entries=entries, timeout=0.2)

    signing_host = threading.Timer(0.3, audit_log.checkpoint)
    signing_host.start()
    try:
        evidence = entry_evidence(worker, wanted, entries=entries, timeout=10)
    finally:
        signing_host.join()
    assert evidence.size == 33
    assert not signer_state_file.with_name("unused.json").exists()
    _verify_all(evidence, entries)


def test_a_proof_does_not_verify_for_another_entry(audit_log: AuditLog) -> None:
    audit_log.record_many([event(i) for i in range(12)])
    entries = _entries(audit_log, [3, 4])
    evidence = entry_evidence(audit_log, [3])
    with pytest.raises(ProofInvalid, match="step 4"):
        TlogProof.parse(evidence.proofs[3]).verify(
            hashlib.sha256(b"\x00" + entries[4]).digest(),
            TrustPolicy.parse(evidence.trust_policy),
        )


def test_no_entry_asked_and_entries_the_log_lacks(audit_log: AuditLog) -> None:
    evidence = entry_evidence(audit_log, [])
    assert evidence.proofs == {}
    assert evidence.size == 0
    audit_log.record_many([event(i) for i in range(3)])
    with pytest.raises(EntryNotFound, match="entry 3 does not exist: the log has 3 entries"):
        entry_evidence(audit_log, [1, 3])
    with pytest.raises(EntryNotFound, match="entry -1 does not exist"):
        entry_evidence(audit_log, [-1])


def test_a_stored_leaf_hash_that_does_not_fold_to_the_root_is_tampering(
    audit_log: AuditLog,
) -> None:
    audit_log.record_many([event(i) for i in range(20)])
    execute(audit_log.engine, "UPDATE audit_entries SET leaf_hash = :h WHERE seq = 7", h=b"x" * 32)
    with pytest.raises(LogTampered, match="do not fold to the root of checkpoint 20"):
        entry_evidence(audit_log, [2])


def test_entry_bytes_that_do_not_hash_to_the_leaf_are_tampering(audit_log: AuditLog) -> None:
    audit_log.record_many([event(i) for i in range(20)])
    entries = _entries(audit_log, [4])
    entries[4] = entries[4].replace(b'"rows":4', b'"rows":5')
    with pytest.raises(LogTampered, match="entry 4: the entry's bytes do not hash"):
        entry_evidence(audit_log, [4], entries=entries)


# -- witnessed ------------------------------------------------------------------------


class InProcessWitness:
    """A real witness answering add-checkpoint as its HTTP app does, with no socket."""

    def __init__(self, witness: Witness, *, down: bool = False) -> None:
        self.witness = witness
        self.down = down
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        try:
            signatures = self.witness.add_checkpoint(request.read())
        except SizeConflict as conflict:
            return httpx.Response(
                409,
                content=format_size_conflict(conflict.size),
                headers={"content-type": "text/x.tlog.size"},
            )
        return httpx.Response(
            200, content=format_cosignatures(signatures), headers={"content-type": "text/plain"}
        )

    def witnessing(self, log: AuditLog, policy: TrustPolicy) -> Witnessing:
        transport = httpx.MockTransport(self)
        return Witnessing(
            log,
            policy,
            client=lambda url: WitnessClient(
                url, transport=transport, resolver=lambda host, port: ["93.184.216.34"]
            ),
        )


@pytest.fixture
def served(tmp_path: Path, audit_log: AuditLog) -> InProcessWitness:
    directory = tmp_path / "witness"
    init_witness(directory, "witness.example/w1")
    opened = open_witness(directory, clock=lambda: START_MS // 1000)
    opened.store.add_log(audit_log.origin, audit_log.vkeys())
    return InProcessWitness(opened)


def _witness_policy(log: AuditLog, served: InProcessWitness) -> TrustPolicy:
    ed25519 = served.witness.vkeys()[1]  # cosignature/v1, the type every verifier knows
    return TrustPolicy.parse(
        f"log {log.vkeys()[-1]}\nwitness w1 {ed25519} {WITNESS_URL}\nquorum w1\n"
    )


def test_the_checkpoint_is_cosigned_by_the_witnesses_before_the_proofs(
    audit_log: AuditLog, served: InProcessWitness
) -> None:
    audit_log.record_many([event(i) for i in range(25)])
    policy = _witness_policy(audit_log, served)
    wanted = [1, 12, 24]
    entries = _entries(audit_log, wanted)

    with served.witnessing(audit_log, policy) as witnessing:
        evidence = entry_evidence(
            audit_log, wanted, witness_policy=policy, witnessing=witnessing, entries=entries
        )

    assert served.calls == 1
    assert evidence.witnessed
    assert evidence.cosigned_by == ("w1",)
    assert evidence.size == 25
    lines = evidence.trust_policy.splitlines()
    assert lines[0] == f"log {audit_log.vkeys()[-1]}"
    assert lines[1:] == [f"witness w1 {served.witness.vkeys()[1]} {WITNESS_URL}", "quorum w1"]
    checked = _verify_all(evidence, entries)
    assert checked.quorum == "w1"  # the proofs verified with the quorum demanded
    note = Note.parse(evidence.checkpoint)
    assert Checkpoint.from_body(note.text).size == 25
    assert len(note.signatures) == 2  # the log's, the witness's Ed25519 cosignature


def test_with_the_witness_down_an_older_witnessed_checkpoint_is_used_if_it_covers_the_entries(
    audit_log: AuditLog, served: InProcessWitness, clock: FakeClock
) -> None:
    audit_log.record_many([event(i) for i in range(20)])  # checkpoints 10 and 20
    w1 = witness()
    policy = TrustPolicy.parse(
        f"log {audit_log.vkeys()[-1]}\nwitness w1 {w1.vkey()} {WITNESS_URL}\nquorum w1\n"
    )
    cosign(audit_log, w1, 20, clock.ms // 1000)
    audit_log.record_many([event(i) for i in range(20, 25)])
    served.down = True

    with served.witnessing(audit_log, policy) as witnessing:
        covered = entry_evidence(audit_log, [3, 19], witness_policy=policy, witnessing=witnessing)
        beyond = entry_evidence(audit_log, [3, 24], witness_policy=policy, witnessing=witnessing)

    assert served.calls >= 1  # the witness was asked, and did not answer
    assert covered.witnessed
    assert covered.size == 20
    assert covered.cosigned_by == ("w1",)
    _verify_all(covered, _entries(audit_log, [3, 19]))
    # Entry 24 is beyond every witnessed checkpoint: the latest, signed by the log only.
    assert not beyond.witnessed
    assert beyond.size == 25
    assert beyond.cosigned_by == ()
    with pytest.raises(ProofInvalid, match="step 3"):
        TlogProof.parse(beyond.proofs[24]).verify(
            hashlib.sha256(b"\x00" + _entries(audit_log, [24])[24]).digest(),
            TrustPolicy.parse(beyond.trust_policy),
        )


def test_a_witness_slower_than_the_timeout_does_not_hold_the_evidence_up(
    audit_log: AuditLog, served: InProcessWitness, audit_backend: AuditBackend
) -> None:
    import threading

    audit_log.record_many([event(i) for i in range(5)])
    policy = _witness_policy(audit_log, served)
    release = threading.Event()
    answer = served.__call__

    def slow(request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return answer(request)

    transport = httpx.MockTransport(slow)
    witnessing = Witnessing(
        audit_log,
        policy,
        client=lambda url: WitnessClient(
            url, transport=transport, resolver=lambda host, port: ["93.184.216.34"]
        ),
    )
    try:
        evidence = entry_evidence(
            audit_log, [4], witness_policy=policy, witnessing=witnessing, timeout=0.2
        )
        assert not evidence.witnessed
        assert evidence.size == 5
    finally:
        release.set()
    # The round finishes in its thread and stores the cosignature for the next export.
    for _ in range(100):
        if audit_log.cosigned_sizes():
            break
        threading.Event().wait(0.05)
    witnessing.close()
    assert entry_evidence(audit_log, [4], witness_policy=policy).witnessed


class ClosedWitnessing(Witnessing):
    """A Witnessing that remembers being closed."""

    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def test_log_evidence_makes_a_witnessing_per_export_and_closes_it(
    audit_log: AuditLog, served: InProcessWitness
) -> None:
    audit_log.record_many([event(i, subject="subj-9") for i in range(6)])
    policy = _witness_policy(audit_log, served)
    transport = httpx.MockTransport(served)
    made: list[ClosedWitnessing] = []

    def witnessing() -> Witnessing:
        made.append(
            ClosedWitnessing(
                audit_log,
                policy,
                client=lambda url: WitnessClient(
                    url, transport=transport, resolver=lambda host, port: ["93.184.216.34"]
                ),
            )
        )
        return made[-1]

    source = LogEvidence(audit_log, policy, witnessing)
    history = source.subject_history("subj-9")
    assert history is not None
    entries = dict(history.entries)
    evidence = source.evidence(sorted(entries), entries)

    assert evidence.witnessed
    assert served.calls == 1
    assert [w.closed for w in made] == [True]  # closed once the evidence was built
    _verify_all(evidence, entries)
    # Without a witness policy there is nothing to submit to: the factory is not used.
    assert not LogEvidence(audit_log, None, witnessing).evidence([0], {}).witnessed
    assert len(made) == 1
