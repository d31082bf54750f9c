"""verify.py, the standalone verifier shipped in exports, and ``servinfo audit verify-receipt``.

Histories and receipts are built with the package's own code (an AuditLog on a
SQLite deployment, its checkpoints, two witnesses' cosignatures,
``TlogProof.build``); verify.py must accept them, refuse each tampering with a
line naming it, and agree with the package (``servinfo.audit.policy``,
``tlog_proof``, ``merkle``) on the same inputs, valid and tampered. The last
tests run it as the person does: from an extracted export, in a virtual
environment that holds only ``cryptography``.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
import venv
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cryptography
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.audit.checkpoints import cosign, leaf_hashes, opened, policy_text
from tests.audit.support import ORIGIN, FakeClock
from tests.cli.conftest import Run, Servinfo

from servinfo.audit import AuditLog
from servinfo.audit.cosignature import Ed25519CosignatureSigner
from servinfo.audit.entries import reference
from servinfo.audit.errors import AuditError
from servinfo.audit.merkle import inclusion_proof, leaf_hash
from servinfo.audit.note import Ed25519NoteSigner
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.service import AuditService
from servinfo.audit.standalone import VERIFIER_NAME, verifier_source
from servinfo.audit.standalone import verify as standalone
from servinfo.audit.tlog_proof import TlogProof
from servinfo.crypto import Keyring
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.store import create_engine_for

Files = dict[str, bytes]

#: The subject's reference key (synthetic) and identifiers it knows.
REFERENCE_KEY = bytes(range(32))
RECORD = "01JF0000000000000000000001"
REQUEST = "req-01JF8ZK3Q5"
#: HMAC-SHA256(REFERENCE_KEY, id)[:16] computed apart, with ``openssl dgst -mac HMAC``.
KNOWN_REFERENCES = {
    REQUEST: "7dfdd84687279b9f9428938c7507c5d7",
    "rëcord-é": "b9c3b6aa8bc8fa8e6a69ebb8714000f1",
}
KEPT = [
    {"kind": "billing_invoice", "name": "invoices", "records": 2,
     "retention_class": "legal_obligation", "kept_for": "P10Y", "why": "tax law"},
    {"kind": "tax_record", "name": "tax records", "records": 1,
     "retention_class": "legal_obligation", "kept_for": "P10Y", "why": "tax law"},
]  # fmt: skip
WHEN = 1_740_830_400


def _witness(name: str, seed: int) -> Ed25519CosignatureSigner:
    return Ed25519CosignatureSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


WITNESSES = (_witness("witness.example/a", 41), _witness("witness.example/b", 42))


@dataclass
class Made:
    """A log with a subject's history and erasure, and the export files and receipt of it."""

    log: AuditLog
    files: Files
    receipt: dict[str, Any]
    ours: list[int]
    someone_else: int
    old_size: int


def _proof(log: AuditLog, seq: int) -> tuple[str, str]:
    entry, hashes, checkpoint = log.inclusion(seq)
    return entry.decode(), TlogProof.build(leaf_hash(entry), seq, hashes, checkpoint).to_text()


@pytest.fixture
def made(
    sqlite_template: Path,
    keyring: Keyring,
    clock: FakeClock,
    signer_state_file: Path,
    tmp_path: Path,
) -> Iterator[Made]:
    path = tmp_path / "control.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine_for(f"sqlite:///{path}")
    log = AuditLog(engine, keyring, signer_state_file=signer_state_file, origin=ORIGIN, clock=clock)
    ours, others = [], []
    for i in range(12):
        ours.append(log.record(
            "decision", actor=f"p_{i % 3}", subject_id="subj-1", purpose="technical_support",
            outcome="allow", reasons=("support may read account",), record_ids=(RECORD,),
            details={"rows": i, "region": "eu"},
        ))  # fmt: skip
        others.append(log.record("read", actor="p_9", subject_id="subj-2", details={"rows": i}))
        if i == 5:
            old_size = opened(log, log.checkpoint()).size
    erasure = log.record(
        "erasure", actor="p_dpo", subject_id="subj-1", outcome="shredded",
        details={"records_deleted": 3, "keys_destroyed": 2,
                 "kept_kinds": "billing_invoice,tax_record"},
        linked={"request_id": REQUEST},
    )  # fmt: skip
    ours.append(erasure)
    size = opened(log, log.checkpoint()).size
    for witness in WITNESSES:
        cosign(log, witness, size, WHEN)
    policy = policy_text(log, WITNESSES)
    lines, checkpoint = [], b""
    for seq in ours:
        entry, proof = _proof(log, seq)
        lines.append(json.dumps({"index": seq, "entry": entry, "proof": proof}))
        checkpoint = TlogProof.parse(proof).checkpoint
    history = log.subject_history("subj-1")
    assert history is not None
    key = history.reference_key  # the package's reference() names the identifiers
    subject = {
        "pseudonyms": [history.pseudonym],
        "reference_key": key.hex(),
        "identifiers": [
            {"reference": reference(key, RECORD), "kind": "record", "id": RECORD},
            {"reference": reference(key, REQUEST), "kind": "request", "id": REQUEST},
        ],
        "withheld": [],
    }
    files = {
        "history/entries.jsonl": ("\n".join(lines) + "\n").encode(),
        "history/trust-policy.txt": policy.encode(),
        "history/checkpoint.txt": checkpoint,
        "history/subject.json": json.dumps(subject).encode(),
    }
    entry, proof = _proof(log, erasure)
    receipt = {
        "format": "servinfo-erasure-receipt/1",
        "request_reference": reference(key, REQUEST),
        "entry": entry,
        "proof": proof,
        "trust_policy": policy,
        "kept": KEPT,
        "issued_at": "2025-03-01T12:00:00Z",
    }
    yield Made(log, files, receipt, ours, others[0], old_size)
    engine.dispose()


# -- helpers ---------------------------------------------------------------------------------


def write_export(files: Files, folder: Path, *, as_zip: bool = False) -> Path:
    """The export as the person gets it: verify.py at the root, history/ beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    if as_zip:
        archive = folder / "export.zip"
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr(VERIFIER_NAME, verifier_source())
            for name, data in files.items():
                z.writestr(name, data)
        return archive
    (folder / VERIFIER_NAME).write_bytes(verifier_source())
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def run_verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """verify.py's main() on ``path``: its status and its one line of output."""
    capsys.readouterr()
    status = standalone.main([str(path)])
    out, err = capsys.readouterr()
    lines = (out + err).splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in out + err
    return status, lines[0]


def lines_of(files: Files) -> list[dict[str, Any]]:
    return [json.loads(line) for line in files["history/entries.jsonl"].splitlines()]


def with_lines(files: Files, lines: list[dict[str, Any]]) -> Files:
    return {**files, "history/entries.jsonl": "\n".join(map(json.dumps, lines)).encode()}


def package_accepts(files: Files) -> bool:
    """The package's verdict on the log's evidence in ``files``: policy, checkpoint, proofs."""
    try:
        policy = TrustPolicy.parse(files["history/trust-policy.txt"])
        policy.verify_checkpoint(files["history/checkpoint.txt"])
        for line in lines_of(files):
            proof = TlogProof.parse(line["proof"])
            proof.verify(leaf_hash(line["entry"].encode()), policy)
            if proof.index != line["index"] or proof.checkpoint != files["history/checkpoint.txt"]:
                return False
    except AuditError:
        return False
    return True


def standalone_accepts(files: Files) -> bool:
    try:
        standalone.check_history(files)
    except standalone.Refused:
        return False
    return True


def _edit_line(n: int, edit: Callable[[dict[str, Any]], None]) -> Callable[[Made], Files]:
    def tamper(m: Made) -> Files:
        lines = lines_of(m.files)
        edit(lines[n])
        return with_lines(m.files, lines)

    return tamper


def _entry_byte(line: dict[str, Any]) -> None:
    line["entry"] = line["entry"].replace('"rows":2', '"rows":3')


def _proof_hash(line: dict[str, Any]) -> None:
    head, _, rest = line["proof"].partition("\n\n")
    lines = head.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    line["proof"] = "\n".join(lines) + "\n\n" + rest


def _checkpoint_signature(m: Made) -> Files:
    note = m.files["history/checkpoint.txt"].decode()
    text, _, signatures = note.rpartition("\n\n")
    first, *rest = signatures.split("\n")
    name, encoded = first.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 1
    forged = "\n".join([f"{name} {base64.b64encode(bytes(raw)).decode()}", *rest])
    return {**m.files, "history/checkpoint.txt": f"{text}\n\n{forged}".encode()}


def _missing_cosignature(m: Made) -> Files:
    note = m.files["history/checkpoint.txt"].decode()
    kept = [line for line in note.split("\n") if "witness.example/b" not in line]
    return {**m.files, "history/checkpoint.txt": "\n".join(kept).encode()}


def _another_log(m: Made) -> Files:
    other = Ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))
    forged = "\n".join(
        line if not line.startswith("log ") else f"log {other.vkey()}"
        for line in m.files["history/trust-policy.txt"].decode().split("\n")
    )
    return {**m.files, "history/trust-policy.txt": forged.encode()}


def _someone_elses_entry(m: Made) -> Files:
    """An entry about another subject slipped in, with its own valid proof."""
    entry, proof = _proof(m.log, m.someone_else)
    lines = lines_of(m.files)
    lines.insert(0, {"index": m.someone_else, "entry": entry, "proof": proof})
    return with_lines(m.files, lines)


def _wrong_reference(m: Made) -> Files:
    subject = json.loads(m.files["history/subject.json"])
    subject["identifiers"][1]["reference"] = "0" * 32
    return {**m.files, "history/subject.json": json.dumps(subject).encode()}


def _index_mismatch(m: Made) -> Files:
    lines = lines_of(m.files)
    lines[-1]["index"] += 1
    return with_lines(m.files, lines)


def _out_of_order(m: Made) -> Files:
    lines = lines_of(m.files)
    lines[3], lines[4] = lines[4], lines[3]
    return with_lines(m.files, lines)


def _older_checkpoint(m: Made) -> Files:
    """Entry 0's valid proof against an earlier checkpoint than checkpoint.txt."""
    hashes = leaf_hashes(m.log.engine, m.old_size)
    note = m.log.checkpoint_of_size(m.old_size)
    proof = TlogProof.build(hashes[m.ours[0]], m.ours[0], inclusion_proof(hashes, m.ours[0]), note)
    lines = lines_of(m.files)
    lines[0]["proof"] = proof.to_text()
    return with_lines(m.files, lines)


def _no_subject(m: Made) -> Files:
    return {k: v for k, v in m.files.items() if k != "history/subject.json"}


def _junk_line(m: Made) -> Files:
    return {**m.files, "history/entries.jsonl": m.files["history/entries.jsonl"] + b"[[[[\n"}


def _nested_json(m: Made) -> Files:
    return {**m.files, "history/subject.json": b"[" * 100_000}


# (tampering, what the line says, whether the log's own evidence is what breaks)
HISTORY_TAMPERING: list[tuple[Callable[[Made], Files], str, bool]] = [
    (_edit_line(2, _entry_byte), "entry 4: inclusion proof does not match the checkpoint", True),
    (_edit_line(5, _proof_hash), "entry 10: inclusion proof does not match the checkpoint", True),
    (_checkpoint_signature, f"checkpoint: the signature of '{ORIGIN}' does not verify", True),
    (_missing_cosignature, "quorum 'everyone' not met by the 1 valid cosignature(s)", True),
    (_another_log, f"checkpoint is not signed by the log '{ORIGIN}'", True),
    (_older_checkpoint, "entry 0: its proof is against another checkpoint", True),
    (_someone_elses_entry, "entry 1: names a subject pseudonym that is not one of yours", False),
    (_wrong_reference, "identifier 2 ('request'): its reference '000", False),
    (_index_mismatch, "entry 25: its proof is for entry 24", False),
    (_out_of_order, "entry 6: comes after entry 8: the lines are not in index order", False),
    (_no_subject, "the export has no history/subject.json", False),
    (_junk_line, "line 14 of entries.jsonl is not JSON", False),
    (_nested_json, "subject.json is not JSON", False),
]


# -- the access history ------------------------------------------------------------------------


def test_a_history_verifies_from_its_folder_and_from_its_zip(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = (
        f"OK: 13 entries about you verified against checkpoint {ORIGIN} size 25, "
        "cosigned by 2 of 2 witnesses (quorum everyone)"
    )
    assert run_verify(write_export(made.files, tmp_path / "dir"), capsys) == (0, expected)
    zipped = write_export(made.files, tmp_path / "zip", as_zip=True)
    assert run_verify(zipped, capsys) == (0, expected)
    assert package_accepts(made.files)


@pytest.mark.parametrize(
    ("tamper", "reported", "log_evidence"),
    HISTORY_TAMPERING,
    ids=[f"{n}-{t[0].__name__}" for n, t in enumerate(HISTORY_TAMPERING)],
)
def test_each_tampering_of_a_history_is_refused_with_one_line(
    made: Made,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Made], Files],
    reported: str,
    log_evidence: bool,
) -> None:
    files = tamper(made)
    status, line = run_verify(write_export(files, tmp_path / "export"), capsys)
    assert status == standalone.EXIT_FAILED
    assert line.startswith("FAILED: ")
    assert reported in line
    if log_evidence:  # the package refuses the same evidence
        assert not package_accepts(files)


def test_withheld_grounds_are_named_in_the_summary(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subject = json.loads(made.files["history/subject.json"])
    subject["withheld"] = [{"ground": "fraud_investigation", "description": "an open case"}]
    files = {**made.files, "history/subject.json": json.dumps(subject).encode()}
    status, line = run_verify(write_export(files, tmp_path), capsys)
    assert status == 0
    assert line.endswith("; information withheld on ground(s): fraud_investigation")


def test_a_history_without_witnesses_says_it_is_not_witnessed(
    made: Made, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = {**made.files, "history/trust-policy.txt": policy_text(made.log).encode()}
    status, line = run_verify(write_export(files, tmp_path), capsys)
    assert status == 0
    assert line.endswith("size 25, signed by the log but not witnessed (quorum none)")


def test_verify_py_finds_its_export_when_given_no_path(made: Made, tmp_path: Path) -> None:
    """As a person runs it: ``python verify.py`` in the extracted folder, or beside the ZIP."""
    folder = write_export(made.files, tmp_path / "extracted")
    zipped = write_export(made.files, tmp_path / "zipped", as_zip=True)
    (zipped.parent / VERIFIER_NAME).write_bytes(verifier_source())
    for here in (folder, zipped.parent):
        done = subprocess.run(
            [sys.executable, VERIFIER_NAME], cwd=here, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("OK: 13 entries about you")


def test_references_are_the_hmac_computed_apart() -> None:
    for identifier, expected in KNOWN_REFERENCES.items():
        assert standalone.reference(REFERENCE_KEY, identifier) == expected
        assert reference(REFERENCE_KEY, identifier) == expected


def test_the_identifiers_references_are_those_the_entries_hold(made: Made) -> None:
    """The history's references are real: the package wrote them into the entries."""
    subject = json.loads(made.files["history/subject.json"])
    entries = made.files["history/entries.jsonl"].decode()
    for identifier in subject["identifiers"]:
        assert identifier["reference"] in entries
        assert identifier["id"] not in entries


# -- the erasure receipt ---------------------------------------------------------------------


def _receipt_file(receipt: dict[str, Any], folder: Path) -> Path:
    path = folder / "receipt.json"
    path.write_text(json.dumps(receipt))
    return path


def _kept_changed(m: Made) -> dict[str, Any]:
    return {**m.receipt, "kept": KEPT[:1]}


def _not_an_erasure(m: Made) -> dict[str, Any]:
    entry, proof = _proof(m.log, m.ours[3])
    return {**m.receipt, "entry": entry, "proof": proof}


def _erasure_changed(m: Made) -> dict[str, Any]:
    entry = m.receipt["entry"].replace('"records_deleted":3', '"records_deleted":30')
    assert entry != m.receipt["entry"]
    return {**m.receipt, "entry": entry}


def _other_policy(m: Made) -> dict[str, Any]:
    files = _another_log(m)
    return {**m.receipt, "trust_policy": files["history/trust-policy.txt"].decode()}


def _another_request(m: Made) -> dict[str, Any]:
    return {**m.receipt, "request_reference": "0" * 32}


def _not_a_receipt(m: Made) -> dict[str, Any]:
    return {k: v for k, v in m.receipt.items() if k != "format"}


RECEIPT_TAMPERING: list[tuple[Callable[[Made], dict[str, Any]], str]] = [
    (_kept_changed, "receipt: kept lists billing_invoice, the erasure entry logged "
                    "billing_invoice, tax_record"),
    (_not_an_erasure, "receipt: entry 6 is 'decision', not an erasure"),
    (_erasure_changed, "receipt entry 24: inclusion proof does not match the checkpoint"),
    (_other_policy, f"checkpoint is not signed by the log '{ORIGIN}'"),
    (_another_request, "receipt: entry 24 is the erasure of another request"),
    (_not_a_receipt, "not an erasure receipt"),
]  # fmt: skip


def test_a_receipt_verifies(made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, line = run_verify(_receipt_file(made.receipt, tmp_path), capsys)
    assert (status, line) == (
        0,
        f"OK: erasure receipt verified: the erasure is entry 24 of the log, against checkpoint "
        f"{ORIGIN} size 25, cosigned by 2 of 2 witnesses (quorum everyone); "
        "kept: billing_invoice, tax_record",
    )


@pytest.mark.parametrize(
    ("tamper", "reported"), RECEIPT_TAMPERING, ids=[t.__name__ for t, _ in RECEIPT_TAMPERING]
)
def test_each_tampering_of_a_receipt_is_refused_with_one_line(
    made: Made,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Made], dict[str, Any]],
    reported: str,
) -> None:
    status, line = run_verify(_receipt_file(tamper(made), tmp_path), capsys)
    assert status == standalone.EXIT_FAILED
    assert line == f"FAILED: {line.removeprefix('FAILED: ')}"
    assert reported in line


@pytest.mark.parametrize(
    "junk",
    [b"", b"{", b"\xff\xfe", b"[" * 100_000, b"[]", b'{"format": "servinfo-erasure-receipt/1"}',
     b'{"format": "servinfo-erasure-receipt/1", "entry": 1, "proof": [], "kept": {}}'],
)  # fmt: skip
def test_junk_receipts_are_refused_with_one_line(
    junk: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "receipt.json"
    path.write_bytes(junk)
    status, line = run_verify(path, capsys)
    assert status == standalone.EXIT_FAILED
    assert line.startswith("FAILED: ")


def test_a_missing_path_or_a_folder_without_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_verify(tmp_path, capsys) == (1, "FAILED: the export has no history/entries.jsonl")
    status, line = run_verify(tmp_path / "nowhere.zip", capsys)
    assert (status, line.startswith("cannot read ")) == (2, True)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    assert run_verify(tmp_path / "broken.zip", capsys)[0] == 1
    assert standalone.main(["a", "b"]) == standalone.EXIT_USAGE


# -- the same answers as the package, on the same inputs --------------------------------------


def _verdicts(proof_text: str, policy: str, leaf: bytes) -> tuple[bool, bool]:
    """(package, verify.py) on whether ``proof_text`` proves ``leaf`` under ``policy``."""
    try:
        TlogProof.parse(proof_text).verify(leaf, TrustPolicy.parse(policy))
        package = True
    except AuditError:
        package = False
    try:
        proof = standalone.parse_proof(proof_text)
        verified = standalone.verify_checkpoint(proof.checkpoint, standalone.parse_policy(policy))
        c = verified.checkpoint
        ours = standalone.verify_inclusion(proof.index, c.size, leaf, proof.hashes, c.root)
    except standalone.Refused:
        ours = False
    return package, ours


def test_every_one_character_change_of_a_proof_gets_the_same_verdict(made: Made) -> None:
    proof, policy = made.receipt["proof"], made.receipt["trust_policy"]
    leaf = leaf_hash(made.receipt["entry"].encode())
    assert _verdicts(proof, policy, leaf) == (True, True)
    for at in range(len(proof)):
        for other in ("A", "\n", " ", "0"):
            if proof[at] != other:
                mutated = proof[:at] + other + proof[at + 1 :]
                package, ours = _verdicts(mutated, policy, leaf)
                assert package == ours, (at, other, package, ours)


POLICY_VARIANTS: list[Callable[[list[str]], list[str]]] = [
    lambda lines: [*lines[:-1], "quorum w0"],
    lambda lines: [*lines[:-1], "quorum none"],
    lambda lines: [*lines[:-2], "group everyone any w0 w1", "quorum everyone"],
    lambda lines: [*lines[:-2], "group everyone 2 w0 w1", "quorum everyone"],
    lambda lines: [*lines[:-2], "group everyone 3 w0 w1", "quorum everyone"],
    lambda lines: [*lines[:-2], "group everyone all w0 w0", "quorum everyone"],
    lambda lines: [*lines[:-2], "group everyone all w0 w9", "quorum everyone"],
    lambda lines: [*lines[:-2], "group any all w0 w1", "quorum any"],
    lambda lines: [*lines[:-2], "group g1 any w0", "group g2 all g1 w1", "quorum g2"],
    lambda lines: [*lines[:-1]],
    lambda lines: [*lines, "quorum none"],
    lambda lines: [lines[0], *lines],
    lambda lines: [lines[0].replace("log ", "log\t") + " https://log.example", *lines[1:]],
    lambda lines: ["# a comment", "", *lines],
    lambda lines: [lines[1].replace("w0", "#w0"), *lines[2:]],
    lambda lines: [lines[0], lines[1].replace(" w0 ", " none "), *lines[2:]],
    lambda lines: [lines[0][:-1], *lines[1:]],
    lambda lines: [lines[0], lines[1], lines[1].replace(" w0 ", " w2 "), *lines[2:]],
    lambda lines: [lines[0], lines[1] + "\x7f", *lines[2:]],
]


@pytest.mark.parametrize("variant", POLICY_VARIANTS)
def test_policy_variants_get_the_same_verdict(
    made: Made, variant: Callable[[list[str]], list[str]]
) -> None:
    policy = "\n".join(variant(made.receipt["trust_policy"].rstrip("\n").split("\n"))) + "\n"
    try:
        TrustPolicy.parse(policy)
        parsed = True
    except AuditError:
        parsed = False
    try:
        standalone.parse_policy(policy)
        ours = True
    except standalone.Refused:
        ours = False
    assert parsed == ours, policy
    leaf = leaf_hash(made.receipt["entry"].encode())
    package, theirs = _verdicts(made.receipt["proof"], policy, leaf)
    assert package == theirs, policy


@pytest.mark.parametrize(
    "tamper", [t for t, _, log_evidence in HISTORY_TAMPERING if log_evidence] + [lambda m: m.files]
)
def test_the_package_and_verify_py_agree_on_histories(
    made: Made, tamper: Callable[[Made], Files]
) -> None:
    files = tamper(made)
    assert package_accepts(files) == standalone_accepts(files)


def _mldsa_witnessed(made: Made) -> tuple[str, str, bytes]:
    """The receipt's proof with an ML-DSA-44 cosignature added, a policy whose quorum is that
    witness alone, and the erasure's leaf hash."""
    from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

    from servinfo.audit.cosignature import MLDSA44CosignatureSigner

    signer = MLDSA44CosignatureSigner(
        "witness.example/pq", MLDSA44PrivateKey.from_seed_bytes(bytes(range(32)))
    )
    proof = TlogProof.parse(made.receipt["proof"])
    line = signer.cosign(proof.parsed_checkpoint(), WHEN).line().encode()
    cosigned = TlogProof(proof.index, proof.hashes, proof.checkpoint + line).to_text()
    log_line = made.receipt["trust_policy"].split("\n")[0]
    policy = f"{log_line}\nwitness pq {signer.vkey()}\nquorum pq\n"
    return cosigned, policy, leaf_hash(made.receipt["entry"].encode())


def test_an_mldsa44_cosignature_counts_when_cryptography_has_mldsa(
    made: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    proof, policy, leaf = _mldsa_witnessed(made)
    assert _verdicts(proof, policy, leaf) == (True, True)
    text, _, rest = proof.rpartition("— witness.example/pq ")
    raw = bytearray(base64.b64decode(rest.strip()))
    raw[20] ^= 1
    forged = f"{text}— witness.example/pq {base64.b64encode(bytes(raw)).decode()}\n"
    assert _verdicts(forged, policy, leaf) == (False, False)
    # Without ML-DSA in cryptography, the cosignature is not counted: the quorum is not met.
    monkeypatch.setattr(standalone, "_mldsa44", lambda *_: None)
    parsed, ours = standalone.parse_proof(proof), standalone.parse_policy(policy)
    with pytest.raises(standalone.Refused, match="quorum 'pq' not met by the 0 valid"):
        standalone.verify_checkpoint(parsed.checkpoint, ours)


def test_verify_py_accepts_the_go_reference_proofs() -> None:
    """tlog-proofs made by Go's sumdb/note and transparency-dev/formats (vectors/README.md)."""
    vectors = json.loads((Path(__file__).parent / "vectors" / "go_independent.json").read_text())
    witnesses = [f"witness w{n} {w['vkey']}" for n, w in enumerate(vectors["witnesses"])]
    policy = "\n".join(
        [f"log {vectors['log']['vkey']}", *witnesses, "group g all w0 w1 w2", "quorum g"]
    )
    for vector in vectors["tlog_proofs"]:
        leaf = base64.b64decode(vector["leaf_hash"])
        assert _verdicts(vector["text"], policy, leaf) == (True, True)
        assert _verdicts(vector["text"], policy, leaf_hash(b"another entry")) == (False, False)


def test_verify_py_imports_nothing_but_the_standard_library_and_cryptography() -> None:
    import ast

    tree = ast.parse(verifier_source())
    imported = {
        ((node.module or "") if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - sys.stdlib_module_names == {"cryptography"}


# -- in a virtual environment that holds only cryptography -----------------------------------


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with cryptography, pinned as servinfo pins it,
    installed by pip from the package index the machine is configured with."""
    folder = tmp_path_factory.mktemp("bare-venv")
    try:
        venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(folder)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot create a virtual environment with pip here: {error}")
    python = folder / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet",
         f"cryptography=={cryptography.__version__}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    return python


def _run_bare(python: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # -I: isolated, so neither PYTHONPATH nor the working directory can lend it a module.
    return subprocess.run(
        [str(python), "-I", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_venv_holds_only_cryptography(bare_python: Path, tmp_path: Path) -> None:
    listed = _run_bare(bare_python, "-m", "pip", "list", "--format=json", cwd=tmp_path)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert names <= {"cryptography", "cffi", "pycparser", "pip", "setuptools"}, names
    assert _run_bare(bare_python, "-c", "import servinfo", cwd=tmp_path).returncode != 0


def test_verify_py_from_an_extracted_export_in_a_bare_venv(
    bare_python: Path, made: Made, tmp_path: Path
) -> None:
    """The Must show: valid history and receipt verify; tampered ones are refused."""
    export = write_export(made.files, tmp_path / "export")
    receipt = _receipt_file(made.receipt, tmp_path)
    ok = _run_bare(bare_python, export / VERIFIER_NAME, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: 13 entries about you verified"), ok.stdout
    ok = _run_bare(bare_python, export / VERIFIER_NAME, receipt, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: erasure receipt verified"), ok.stdout

    tampered = write_export(_edit_line(2, _entry_byte)(made), tmp_path / "tampered")
    refused = _run_bare(bare_python, tampered / VERIFIER_NAME, cwd=tmp_path)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == "FAILED: entry 4: inclusion proof does not match the checkpoint\n"
    receipt.write_text(json.dumps(_kept_changed(made)))
    refused = _run_bare(bare_python, export / VERIFIER_NAME, receipt, cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("FAILED: receipt: kept lists billing_invoice,")
    assert refused.stderr.count("\n") == 1


# -- servinfo audit verify-receipt -----------------------------------------------------------


@dataclass(frozen=True)
class Site:
    data_dir: Path
    token: str
    receipt: Path
    servinfo: Servinfo

    def __call__(self, *args: str | Path, env: dict[str, str] | None = None) -> Run:
        return self.servinfo("audit", "verify-receipt", *args, env=env)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A deployment whose log holds an erasure (entry 3) under a checkpoint of 4."""
    data_dir = tmp_path_factory.mktemp("receipt") / "d"
    token = create_deployment(data_dir, {}).admin_token
    with open_deployment(data_dir, {}) as deployment:
        log = deployment.audit
        for i in range(3):
            log.record("read", actor="p_1", subject_id="subj-1", details={"rows": i})
        log.record(
            "erasure", actor="p_dpo", subject_id="subj-1", outcome="shredded",
            details={"records_deleted": 3, "keys_destroyed": 2, "kept_kinds": "tax_record"},
        )  # fmt: skip
        log.checkpoint()
    return data_dir, token


def _deployment_receipt(log: AuditLog, seq: int) -> dict[str, Any]:
    entry, proof = _proof(log, seq)
    return {
        "format": "servinfo-erasure-receipt/1", "request_reference": "ab" * 16,
        "entry": entry, "proof": proof, "trust_policy": AuditService(log).trust_policy_text(),
        "kept": [{"kind": "tax_record"}], "issued_at": "2025-03-01T12:00:00Z",
    }  # fmt: skip


@pytest.fixture
def site(
    deployed: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Site:
    data_dir = tmp_path / "d"
    shutil.copytree(deployed[0], data_dir)
    with open_deployment(data_dir, {}) as deployment:
        receipt = _deployment_receipt(deployment.audit, 3)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    return Site(data_dir, deployed[1], path, Servinfo(capsys, monkeypatch))


def _one_line(run: Run, status: int) -> str:
    assert run.status == status, (run.out, run.err)
    assert "Traceback" not in run.out + run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    return lines[0]


def test_verify_receipt_offline(site: Site) -> None:
    ok = site(site.receipt)
    assert ok.status == 0, ok.err
    assert ok.out.startswith("OK: erasure receipt verified: the erasure is entry 3 of the log")
    assert "not checked against the deployment's latest checkpoint" in ok.out
    receipt = json.loads(site.receipt.read_text())
    receipt["kept"] = []
    site.receipt.write_text(json.dumps(receipt))
    line = _one_line(site(site.receipt), 1)
    assert line == "FAILED: receipt: kept lists nothing, the erasure entry logged tax_record"


def test_verify_receipt_against_a_policy_given_apart(
    made: Made, site: Site, tmp_path: Path
) -> None:
    """The receipt's own policy could be forged with it: --policy replaces it."""
    theirs = tmp_path / "policy.txt"
    theirs.write_text(made.receipt["trust_policy"])  # another log's keys
    assert "is not a log of the policy" in _one_line(site(site.receipt, "--policy", theirs), 1)
    with open_deployment(site.data_dir, {}) as deployment:
        theirs.write_text(deployment.audit_service.trust_policy_text())
    assert site(site.receipt, "--policy", theirs).status == 0


def test_verify_receipt_inside_the_deployment_checks_consistency(site: Site) -> None:
    with open_deployment(site.data_dir, {}) as deployment:
        for i in range(5):
            deployment.audit.record("read", actor="p_1", subject_id="subj-2", details={"rows": i})
        deployment.audit.checkpoint()
    ok = site(site.receipt, "--data-dir", site.data_dir, env={"SERVINFO_TOKEN": site.token})
    assert ok.status == 0, ok.err
    assert (
        "the log still holds the erasure: its latest checkpoint (size 9, signed by the log) "
        "extends the receipt's (size 4)"
    ) in ok.out


def test_verify_receipt_refuses_a_log_rolled_back_past_the_erasure(
    site: Site, tmp_path: Path
) -> None:
    """A deployment restored from before the erasure, with a log grown anew (same keys)."""
    with open_deployment(site.data_dir, {}) as deployment:
        forked, larger = (
            _forked_receipt(deployment, tmp_path),
            _forked_receipt(deployment, tmp_path, 5),
        )
    inside = {"SERVINFO_TOKEN": site.token}
    line = _one_line(site(forked, "--data-dir", site.data_dir, env=inside), 1)
    assert "does not extend the receipt's (size 4): the log was rolled back or forked" in line
    line = _one_line(site(larger, "--data-dir", site.data_dir, env=inside), 1)
    assert line == "FAILED: the log cannot extend checkpoint 5: no checkpoint of size 5"


def _forked_receipt(deployment: Deployment, tmp_path: Path, size: int = 4) -> Path:
    """A receipt for an erasure at ``size - 1`` under a checkpoint of ``size`` the log never
    had, signed with the log's key: what a log rolled back and regrown shows."""
    from servinfo.audit.checkpoint import Checkpoint
    from servinfo.audit.merkle import root_from_leaf_hashes
    from servinfo.audit.note import Ed25519NoteSigner, sign_note

    log = deployment.audit
    receipt = _deployment_receipt(log, 3)
    entry = receipt["entry"].replace('"records_deleted":3', '"records_deleted":4')
    entry = entry.replace('"seq":3,', f'"seq":{size - 1},')
    hashes = [*leaf_hashes(log.engine, size - 1), leaf_hash(entry.encode())]
    body = Checkpoint(log.origin, size, root_from_leaf_hashes(hashes)).body()
    note = sign_note(body, [Ed25519NoteSigner(log.origin, deployment.keyring.signing_key())])
    proof = TlogProof.build(hashes[-1], size - 1, inclusion_proof(hashes, size - 1), note)
    receipt.update(entry=entry, proof=proof.to_text())
    path = tmp_path / f"forked-{size}.json"
    path.write_text(json.dumps(receipt))
    return path


class _Deployment(BaseHTTPRequestHandler):
    """Answers GET /v1/audit/consistency from a log, as the API does."""

    log: AuditLog
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        path, _, query = self.path.partition("?")
        size = int(query.removeprefix("from=")) if query.startswith("from=") else -1
        try:
            assert path == "/v1/audit/consistency"
            status, body = 200, AuditService(self.log).consistency_proof(size)
        except AuditError as error:
            status, body = 404, {"error": error.code, "detail": error.message}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what the handler saw instead."""


@pytest.fixture
def served(site: Site) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    with open_deployment(site.data_dir, {}) as deployment:
        handler = type("Handler", (_Deployment,), {"log": deployment.audit, "seen": seen})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", seen
        finally:
            server.shutdown()
            server.server_close()


def test_verify_receipt_with_url_fetches_the_consistency_proof(
    site: Site, served: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, seen = served
    ok = site(site.receipt, "--url", url, env={"SERVINFO_TOKEN": "a-token"})
    assert ok.status == 0, ok.err
    assert "the log still holds the erasure" in ok.out
    assert seen == ["Bearer a-token"]
    with open_deployment(site.data_dir, {}) as deployment:
        forked = _forked_receipt(deployment, tmp_path)
    assert "rolled back or forked" in _one_line(site(forked, "--url", url), 1)


def test_verify_receipt_with_url_refuses_a_log_without_the_receipts_checkpoint(
    site: Site, served: tuple[str, list[str]], tmp_path: Path
) -> None:
    with open_deployment(site.data_dir, {}) as deployment:
        larger = _forked_receipt(deployment, tmp_path, 5)
    assert _one_line(site(larger, "--url", served[0]), 1) == (
        "FAILED: the deployment has no checkpoint of size 5: its log was rolled back"
    )


def test_verify_receipt_usage_errors_exit_2(site: Site, tmp_path: Path) -> None:
    assert site(tmp_path / "missing.json").status == 2
    unreachable = site(site.receipt, "--url", "http://127.0.0.1:9")
    assert "cannot reach http://127.0.0.1:9" in _one_line(unreachable, 2)
