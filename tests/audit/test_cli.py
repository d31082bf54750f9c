"""``servinfo audit …`` on a real deployment, and the auditor's offline checks.

Each test gets a copy of one deployment made by ``servinfo``'s own creation
path, whose log holds 25 entries under checkpoints at 15 and 25; the commands
run as the console script does (:class:`tests.cli.conftest.Servinfo`).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from tests.audit.checkpoints import (
    WITNESS,
    execute,
    frontier_of,
    opened,
    recompute_state,
    rewrite_entry,
    stored_entry,
    witness,
)
from tests.audit.support import event
from tests.cli.conftest import Run, Servinfo
from typer.testing import CliRunner

from servinfo.audit import (
    AuditLog,
    build_inclusion_bundle,
    cli,
    leaf_hash,
    root_from_leaf_hashes,
    sign_tree_head,
)
from servinfo.deployment import create_deployment, open_deployment
from servinfo.store import create_engine_for

#: Exit status of anything that does not verify, and of bad input.
FAILED = 2


@dataclass(frozen=True)
class Site:
    """A deployment on disk, the admin's token, and ``servinfo`` to run against it."""

    data_dir: Path
    token: str
    servinfo: Servinfo
    files: Path

    def __call__(self, *args: str | Path) -> Run:
        return self.servinfo(*args, "--data-dir", self.data_dir, env={"SERVINFO_TOKEN": self.token})

    def offline(self, *args: str | Path) -> Run:
        """A command that needs no deployment: run with no data dir and no token."""
        return self.servinfo(*args)

    def save(self, name: str, run: Run) -> Path:
        assert run.status == 0, run.err
        path = self.files / name
        path.write_text(run.out)
        return path

    @contextmanager
    def log(self) -> Iterator[AuditLog]:
        with open_deployment(self.data_dir, {}) as deployment:
            yield deployment.audit

    @contextmanager
    def database(self) -> Iterator[Engine]:
        engine = create_engine_for(f"sqlite:///{self.data_dir / 'control.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("audit-cli") / "d"
    token = create_deployment(data_dir, {}).admin_token
    with open_deployment(data_dir, {}) as deployment:
        log = deployment.audit
        log.record_many(event(i) for i in range(15))
        log.checkpoint()
        log.record_many(event(i) for i in range(15, 25))
        log.checkpoint()
        assert log.checkpoint_sizes()[-2:] == [15, 25]
    return data_dir, token


@pytest.fixture
def site(
    template: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Site:
    data_dir = tmp_path / "d"
    shutil.copytree(template[0], data_dir)
    files = tmp_path / "files"
    files.mkdir()
    return Site(data_dir, template[1], Servinfo(capsys, monkeypatch), files)


def one_line_failure(run: Run) -> str:
    """The single line a failure prints: exit 2, no traceback."""
    assert run.status == FAILED, (run.out, run.err)
    assert "Traceback" not in run.out + run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    return lines[0]


# -- the deployment's log ---------------------------------------------------------------------


def test_verify_reports_ok_and_the_first_bad_entry(site: Site) -> None:
    ok = site("audit", "verify")
    assert ok.status == 0, ok.err
    assert "OK: 25 entries" in ok.out
    report = json.loads(site("audit", "verify", "--json").out)
    assert (report["ok"], report["entries"], report["checkpoints"]) == (True, 25, 2)
    assert (report["signed_entries"], report["unsigned_entries"]) == (25, 0)
    with site.database() as engine:
        execute(engine, "DELETE FROM audit_entries WHERE seq = 9")
    failed = site("audit", "verify", "--json")
    assert failed.status == FAILED
    answer = json.loads(failed.out)
    assert (answer["ok"], answer["first_bad_entry"], answer["error"]) == (
        False,
        9,
        "audit_log_tampered",
    )
    assert "entry 9" in one_line_failure(site("audit", "verify"))


def test_a_saved_checkpoint_is_checked_by_verify_trusted(site: Site) -> None:
    saved = site.save("checkpoint.txt", site("audit", "checkpoint"))
    with site.log() as log:
        assert opened(log, saved.read_bytes()).size == 25
    ok = site("audit", "verify", "--trusted", saved, "--json")
    assert ok.status == 0, ok.err
    assert json.loads(ok.out)["trusted_checkpoints"] == 1
    assert "contains the 1 trusted checkpoint(s)" in site("audit", "verify", "--trusted", saved).out


def test_prove_then_verify_proof_offline(site: Site) -> None:
    policy = site.save("policy.txt", site("audit", "policy"))
    proof = site.save("proof.txt", site("audit", "prove", "7"))
    ok = site.offline("audit", "verify-proof", proof, "--policy", policy)
    assert ok.status == 0, ok.err
    assert "OK: entry 7 is in the log" in ok.out
    assert "of 25 entries, cosigned by no witness" in ok.out
    # The proof for another entry's place: the inclusion step fails.
    moved = site.files / "moved.txt"
    moved.write_text(proof.read_text().replace("\nindex 7\n", "\nindex 8\n"))
    assert "step 4" in one_line_failure(
        site.offline("audit", "verify-proof", moved, "--policy", policy)
    )


def test_verify_proof_runs_in_a_process_with_no_deployment(site: Site) -> None:
    """As an auditor runs it: a fresh interpreter, the proof and the policy, nothing else."""
    policy = site.save("policy.txt", site("audit", "policy"))
    proof = site.save("proof.txt", site("audit", "prove", "11"))
    script = "import sys; from servinfo.cli.app import main; main(sys.argv[1:])"
    command = [sys.executable, "-c", script, "audit", "verify-proof", str(proof)]
    command += ["--policy", str(policy)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=site.files, check=False)
    assert done.returncode == 0, done.stderr
    assert "OK: entry 11" in done.stdout
    proof.write_text(proof.read_text().replace("\nindex 11\n", "\nindex 12\n"))
    failed = subprocess.run(command, capture_output=True, text=True, cwd=site.files, check=False)
    assert failed.returncode == FAILED
    assert "Traceback" not in failed.stderr


def test_consistency_then_verify_consistency(site: Site) -> None:
    policy = site.save("policy.txt", site("audit", "policy"))
    with site.log() as log:
        old = site.files / "old.txt"
        old.write_bytes(log.signed_note(15))
        older = site.files / "older.txt"
        older.write_bytes(log.signed_note(log.checkpoint_sizes()[0]))
    proof = site.save("consistency.txt", site("audit", "consistency", "15", "25"))
    ok = site.offline("audit", "verify-consistency", proof, "--old", old, "--policy", policy)
    assert ok.status == 0, ok.err
    assert "of 25 entries extends the saved checkpoint of 15 entries" in ok.out
    # The proof starts from 15: another saved checkpoint does not fit it.
    if older.read_bytes() != old.read_bytes():
        line = one_line_failure(
            site.offline("audit", "verify-consistency", proof, "--old", older, "--policy", policy)
        )
        assert "the proof starts at size 15" in line


def test_verify_with_the_deployments_own_policy(site: Site) -> None:
    """The policy ``servinfo audit policy`` prints when the deployment has no witnesses:
    quorum none, so verify --policy checks the log keys and nothing more."""
    policy = site.save("policy.txt", site("audit", "policy"))
    assert policy.read_text().rstrip().endswith("quorum none")
    ok = site("audit", "verify", "--policy", policy)
    assert ok.status == 0, ok.err


def test_verify_with_a_witness_policy(site: Site) -> None:
    w = witness()
    with site.log() as log:
        vkeys = log.vkeys()
    policy = site.files / "witnessed.txt"
    policy.write_text(
        "".join(f"log {vkey}\n" for vkey in vkeys) + f"witness w1 {w.vkey()}\nquorum w1\n"
    )
    line = one_line_failure(site("audit", "verify", "--policy", policy))
    assert "no checkpoint" in line
    with site.log() as log:
        checkpoint = opened(log, log.signed_note(25))
        log.add_cosignatures(25, [w.cosign(checkpoint, int(time.time()))])
    ok = site("audit", "verify", "--policy", policy, "--json")
    assert ok.status == 0, ok.err
    witnessed = json.loads(ok.out)["witnessed"]
    assert (witnessed["size"], witnessed["witnesses"]) == (25, ["w1"])
    assert WITNESS in site("audit", "checkpoint").out


def test_keys_tail_and_policy(site: Site) -> None:
    keys = json.loads(site("audit", "keys", "--json").out)
    with site.log() as log:
        assert keys["origin"] == log.origin
        assert [k["vkey"] for k in keys["log_keys"]] == log.vkeys()
    assert keys["log_keys"][0]["key_id"] in site("audit", "keys").out
    tail = site("audit", "tail", "-n", "2", "--json")
    assert tail.status == 0, tail.err
    assert [e["seq"] for e in json.loads(tail.out)] == [23, 24]
    assert site("audit", "tail").status == 0
    with site.log() as log:
        log.record(
            "request_change", actor="ada@example.com", subject_id="subj-tail",
            linked={"request_id": "req-1"}, subject_actor=True,
        )  # fmt: skip
    (last,) = json.loads(site("audit", "tail", "-n", "1", "--json").out)
    assert last["v"] == 2
    assert set(last["actor"]) == {"ref"}
    assert set(last["links"]) == {"request_id"}
    shown = site("audit", "tail", "-n", "1").out
    assert "subject ref" in shown
    assert "ada@example.com" not in shown
    assert "ada@example.com" not in json.dumps(last)
    policy = site("audit", "policy").out
    assert policy.startswith("log " + keys["log_keys"][0]["vkey"])


def test_a_legacy_json_bundle_verifies_with_the_public_key(site: Site) -> None:
    """Proofs handed out before checkpoints: a JSON bundle over a signed tree head."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    entries = [b"entry %d" % i for i in range(9)]
    hashes = [leaf_hash(e) for e in entries]
    head = sign_tree_head(key, "audit_signing:v1", 9, root_from_leaf_hashes(hashes), 1_700_000)
    bundle = site.files / "bundle.json"
    bundle.write_text(build_inclusion_bundle(hashes, 4, head, entries[4]).to_json())
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    ok = site.offline("audit", "verify-proof", bundle, "--public-key", public)
    assert ok.status == 0, ok.err
    assert "OK: entry 4 is in the log of 9 entries" in ok.out
    bundle.write_text(bundle.read_text().replace('"index": 4', '"index": 5'))
    one_line_failure(site.offline("audit", "verify-proof", bundle, "--public-key", public))
    other = base64.b64encode(bytes(32)).decode()
    one_line_failure(site.offline("audit", "verify-proof", bundle, "--public-key", other))
    one_line_failure(site.offline("audit", "verify-proof", bundle, "--public-key", "AAAA"))


def test_register_mounts_the_audit_group() -> None:
    parent = typer.Typer()
    cli.register(parent)
    parent.command("noop")(lambda: None)
    result = CliRunner().invoke(parent, ["audit", "--help"])
    assert result.exit_code == 0
    assert "verify-proof" in result.output


# -- tampering, as servinfo audit verify reports it -------------------------------------------


def _delete_checkpoints(site: Site, engine: Engine) -> None:
    execute(engine, "DELETE FROM audit_checkpoints")


def _rewrite_five(site: Site, engine: Engine) -> None:
    execute(engine, "DELETE FROM audit_checkpoints")
    for seq in range(10, 15):
        rewrite_entry(engine, seq)
    recompute_state(engine)


def _truncate_to_older(site: Site, engine: Engine) -> None:
    execute(
        engine,
        "DELETE FROM audit_entries WHERE seq >= 15",
        "DELETE FROM audit_checkpoints WHERE tree_size > 15",
    )
    recompute_state(engine)


def _append_forged(site: Site, engine: Engine) -> None:
    data = stored_entry(engine, 24).replace(b'"seq":24', b'"seq":25')
    execute(
        engine,
        "INSERT INTO audit_entries (seq, leaf_hash, entry) VALUES (25, :hash, :entry)",
        hash=leaf_hash(data),
        entry=data,
    )
    recompute_state(engine)


def _delete_latest(site: Site, engine: Engine) -> None:
    execute(engine, "DELETE FROM audit_checkpoints WHERE tree_size = 25")


def _delete_first(site: Site, engine: Engine) -> None:
    execute(engine, "DELETE FROM audit_checkpoints WHERE tree_size = 15")


def _entry_as_text(site: Site, engine: Engine) -> None:
    execute(engine, "UPDATE audit_entries SET entry = CAST(entry AS TEXT) WHERE seq = 3")


def _drop_checkpoints(site: Site, engine: Engine) -> None:
    execute(engine, "DROP TABLE audit_checkpoints")


def _drop_entries(site: Site, engine: Engine) -> None:
    execute(engine, "DROP TABLE audit_entries")


def _lose_signer_state(site: Site, engine: Engine) -> None:
    (site.data_dir / "audit-signer.json").unlink()


def _corrupt_signer_state(site: Site, engine: Engine) -> None:
    (site.data_dir / "audit-signer.json").write_bytes(b"{" * 5000)


@pytest.mark.parametrize(
    ("tamper", "reported"),
    [
        pytest.param(_delete_checkpoints, "no longer holds", id="checkpoints-deleted"),
        pytest.param(_rewrite_five, "no longer holds", id="five-rewritten-state-recomputed"),
        pytest.param(_truncate_to_older, "signed a checkpoint of size 25", id="truncated"),
        pytest.param(_append_forged, "MAC does not verify", id="forged-row-appended"),
        pytest.param(_delete_latest, "signed a checkpoint of size 25", id="latest-deleted"),
        pytest.param(_delete_first, "checkpoints were deleted", id="first-deleted"),
        pytest.param(_entry_as_text, "entry 3: it is not stored as bytes", id="entry-as-text"),
        pytest.param(_drop_checkpoints, "tables cannot be read", id="checkpoints-dropped"),
        pytest.param(_drop_entries, "tables cannot be read", id="entries-dropped"),
        pytest.param(_lose_signer_state, "signer's state is missing", id="signer-state-lost"),
        pytest.param(_corrupt_signer_state, "unreadable", id="signer-state-corrupt"),
    ],
)
def test_tampering_fails_verify_with_one_line(site: Site, tamper: object, reported: str) -> None:
    with site.database() as engine:
        tamper(site, engine)  # type: ignore[operator]
    assert reported in one_line_failure(site("audit", "verify"))
    failed = site("audit", "verify", "--json")
    assert failed.status == FAILED
    assert json.loads(failed.out)["ok"] is False


def test_a_rollback_of_the_database_file_fails_verify(site: Site) -> None:
    database = site.data_dir / "control.db"
    shutil.copyfile(database, site.files / "earlier.db")
    with site.log() as log:
        log.record_many(event(i) for i in range(25, 30))
        log.checkpoint()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(site.files / "earlier.db", database)
    assert "rolled back" in one_line_failure(site("audit", "verify"))


def test_a_resigned_history_fails_verify_trusted_only(site: Site) -> None:
    """The key holder rewrites the log and re-signs it: verify alone passes, the checkpoint
    an auditor saved before does not."""
    saved = site.save("saved.txt", site("audit", "checkpoint"))
    (site.data_dir / "audit-signer.json").unlink()
    with site.database() as engine:
        execute(
            engine,
            "DELETE FROM audit_checkpoints",
            "DELETE FROM audit_entries",
            "UPDATE audit_state SET next_seq = 0, frontier = :empty, mac = NULL",
            empty=frontier_of([]).to_bytes(),
        )
    with site.log() as log:
        log.record_many(event(i, "subj-forged") for i in range(25))
        log.checkpoint()
    assert site("audit", "verify").status == 0
    line = one_line_failure(site("audit", "verify", "--trusted", saved))
    assert "rewritten or forked after it was saved" in line


# -- malformed input to the offline verifiers ---------------------------------------------------

#: Inputs no verifier may crash on: each is refused with one line and exit 2.
JUNK = [
    pytest.param(b'{"index": ' + b"[" * 100_000, id="deeply-nested-json-object"),
    pytest.param(b"[" * 100_000, id="deeply-nested-json-array"),
    pytest.param(bytes(range(256)) * 8, id="garbage-bytes"),
    pytest.param(b"\xff\xfe\xfd\n\n\x00", id="not-utf8"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00" * 64, id="nul-bytes"),
    pytest.param(b"c2sp.org/tlog-proof@v1\nindex " + b"9" * 100_000 + b"\n\n", id="huge-index"),
    pytest.param(b"c2sp.org/tlog-proof@v1\nindex 3\n" + b"AAAA\n" * 70 + b"\n", id="bad-hashes"),
]


def _write(site: Site, name: str, data: bytes) -> Path:
    path = site.files / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("junk", JUNK)
def test_verify_proof_refuses_junk(site: Site, junk: bytes) -> None:
    policy = site.save("policy.txt", site("audit", "policy"))
    proof = _write(site, "proof.txt", junk)
    one_line_failure(site.offline("audit", "verify-proof", proof, "--policy", policy))
    public = base64.b64encode(bytes(32)).decode()  # a JSON bundle's key: any 32 bytes parse
    one_line_failure(site.offline("audit", "verify-proof", proof, "--public-key", public))


def test_verify_proof_refuses_a_truncated_proof(site: Site) -> None:
    policy = site.save("policy.txt", site("audit", "policy"))
    text = site("audit", "prove", "3").out.encode()
    index_end = text.index(b"\nindex 3\n") + len(b"\nindex 3\n")
    blank = text.index(b"\n\n")
    for cut in (len(text) // 2, len(text) - 5, blank, blank + 2, index_end, 30, 1):
        proof = _write(site, f"proof-{cut}.txt", text[:cut])
        one_line_failure(site.offline("audit", "verify-proof", proof, "--policy", policy))


POLICY_JUNK = [
    pytest.param(b"\xff\xfe\x00junk", id="binary"),
    pytest.param(b"", id="empty"),
    pytest.param(b"log\nquorum none\n", id="log-without-key"),
    pytest.param(b"log notavkey\nquorum none\n", id="bad-vkey"),
    pytest.param(b"quorum w1\n", id="undefined-witness"),
    pytest.param(b"quorum none\nquorum none\n", id="two-quorums"),
    pytest.param(b"group g all g\nquorum g\n", id="self-referencing-group"),
    pytest.param(b"junk " * 300_000, id="too-large"),
    pytest.param(b"[" * 100_000, id="deeply-nested"),
]


@pytest.mark.parametrize("junk", POLICY_JUNK)
def test_every_verifier_refuses_a_junk_policy(site: Site, junk: bytes) -> None:
    proof = site.save("proof.txt", site("audit", "prove", "3"))
    with site.log() as log:
        old = _write(site, "old.txt", log.signed_note(15))
    consistency = site.save("consistency.txt", site("audit", "consistency", "15"))
    policy = _write(site, "policy.txt", junk)
    one_line_failure(site.offline("audit", "verify-proof", proof, "--policy", policy))
    one_line_failure(
        site.offline("audit", "verify-consistency", consistency, "--old", old, "--policy", policy)
    )
    one_line_failure(site("audit", "verify", "--policy", policy))


@pytest.mark.parametrize("junk", JUNK)
def test_verify_consistency_refuses_junk(site: Site, junk: bytes) -> None:
    policy = site.save("policy.txt", site("audit", "policy"))
    with site.log() as log:
        old = _write(site, "old.txt", log.signed_note(15))
    consistency = site.save("consistency.txt", site("audit", "consistency", "15"))
    bad = _write(site, "junk.txt", junk)
    one_line_failure(
        site.offline("audit", "verify-consistency", bad, "--old", old, "--policy", policy)
    )
    one_line_failure(
        site.offline("audit", "verify-consistency", consistency, "--old", bad, "--policy", policy)
    )


@pytest.mark.parametrize("junk", JUNK)
def test_verify_refuses_junk_as_a_trusted_checkpoint(site: Site, junk: bytes) -> None:
    trusted = _write(site, "trusted.txt", junk)
    one_line_failure(site("audit", "verify", "--trusted", trusted))
    failed = site("audit", "verify", "--trusted", trusted, "--json")
    assert failed.status == FAILED
    assert "Traceback" not in failed.out + failed.err


def test_missing_and_unreadable_inputs_are_one_line(site: Site) -> None:
    policy = site.save("policy.txt", site("audit", "policy"))
    missing = site.files / "missing.txt"
    one_line_failure(site.offline("audit", "verify-proof", missing, "--policy", policy))
    one_line_failure(site.offline("audit", "verify-proof", site.files, "--policy", policy))
    proof = site.save("proof.txt", site("audit", "prove", "3"))
    one_line_failure(site.offline("audit", "verify-proof", proof, "--policy", missing))
    one_line_failure(site.offline("audit", "verify-proof", proof))  # no policy at all
    one_line_failure(site("audit", "verify", "--trusted", missing))
