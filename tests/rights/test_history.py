"""The access history in an access export: every entry about the subject with its proof, checked
offline, readable in report.html (staff by role and entity, never by name), and verify.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests.rights.world import NOW, World, build_world
from tests.support import PostgresDatabases
from tests.witness.support import serving

from servinfo.audit.entries import reference
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.standalone import verifier_source
from servinfo.audit.tlog_proof import TlogProof
from servinfo.cli.app import main
from servinfo.deployment import open_deployment
from servinfo.rights.errors import InvalidRequest, RequestNotFound
from servinfo.witness.directory import init_witness, open_witness


def _export(world: World, subject: str = "subj-de") -> tuple[str, zipfile.ZipFile]:
    rights = world.rights
    opened = rights.open("access", subject, channel="cli", actor="dpo", verified=True, now=NOW)
    done = rights.process(opened.request_id, actor="dpo", now=NOW)
    assert done.state == "completed"
    _, blob = rights.export_archive(opened.request_id, now=NOW)
    return opened.request_id, zipfile.ZipFile(io.BytesIO(blob))


def _reads(world: World) -> None:
    """A staff read and the subject's own read of subj-de, and a staff read of subj-fr."""
    reads, principals = world.deployment.reads, world.deployment.principals
    reads.read_subject(principals.get("support-eu"), "provide", "subj-de")
    reads.read_subject(principals.get("support-eu"), "provide", "subj-fr")
    reads.read_subject(principals.get("ada"), "provide", "subj-de")
    world.deployment.audit_buffer.flush()


def _lines(archive: zipfile.ZipFile) -> list[dict[str, Any]]:
    text = archive.read("history/entries.jsonl").decode()
    return [json.loads(line) for line in text.splitlines()]


def test_every_entry_about_the_subject_is_shipped_with_a_proof_that_verifies(
    world: World,
) -> None:
    _shipped_entries_verify(world)


@pytest.mark.postgres
def test_the_history_on_postgresql(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    with build_world(tmp_path, postgres_databases.url_template) as world:
        assert world.deployment.control.dialect.name == "postgresql"
        _shipped_entries_verify(world)


def _shipped_entries_verify(world: World) -> None:
    _reads(world)
    _, archive = _export(world)
    lines = _lines(archive)
    subject = json.loads(archive.read("history/subject.json"))
    checkpoint = archive.read("history/checkpoint.txt")
    policy = TrustPolicy.parse(archive.read("history/trust-policy.txt").decode())

    # Exactly the subject's entries, in index order: the log's own index of them.
    history = world.deployment.audit.subject_history("subj-de")
    assert history is not None
    indexes = [line["index"] for line in lines]
    assert indexes == sorted(indexes)
    shipped = {line["index"]: str(line["entry"]).encode() for line in lines}
    stored = dict(history.entries)
    assert shipped == {i: stored[i] for i in shipped}
    # Nothing about subj-de is withheld here; what follows is the request's completion.
    assert set(shipped) == {i for i in stored if i <= indexes[-1]}
    later = [json.loads(stored[i]) for i in stored if i > indexes[-1]]
    assert [(e["action"], e["details"]["change"]) for e in later] == [
        ("request_change", "complete")
    ]
    assert subject["pseudonyms"] == [history.pseudonym]
    assert bytes.fromhex(subject["reference_key"]) == history.reference_key
    for index, entry in shipped.items():
        fields = json.loads(entry)
        assert fields["subject_pseudonym"] == history.pseudonym
        proof = TlogProof.parse(str(next(x["proof"] for x in lines if x["index"] == index)))
        assert proof.checkpoint == checkpoint
        proof.verify(hashlib.sha256(b"\x00" + entry).digest(), policy)
    # This export's own read and its request are in it: the history is complete to now.
    actions = [json.loads(e)["action"] for e in shipped.values()]
    assert actions.count("read") >= 3
    assert "request_change" in actions
    # Without a witness policy: signed by the log, not witnessed, and the policy says so.
    assert policy.quorum == "none"


def test_the_identifiers_the_person_knows_resolve_the_references(world: World) -> None:
    _reads(world)
    request_id, archive = _export(world)
    subject = json.loads(archive.read("history/subject.json"))
    key = bytes.fromhex(subject["reference_key"])
    identifiers = {(i["kind"], i["id"]): i["reference"] for i in subject["identifiers"]}
    for (_, identifier), ref in identifiers.items():
        assert reference(key, identifier) == ref
    # The access request, the subject's principal, and every record read.
    assert ("request", request_id) in identifiers
    assert ("principal", "ada") in identifiers
    own = {v for k, v in world.record_ids.items() if not k.startswith("subj-") and k != "other"}
    assert {i for kind, i in identifiers if kind == "record"} == own
    # Every reference the entries hold stands for one of them (the identifiers of format 2).
    refs = set()
    for line in _lines(archive):
        fields = json.loads(str(line["entry"]))
        refs.update(fields["record_ids"])
        refs.update(fields["links"].values())
        if isinstance(fields["actor"], dict):
            refs.add(fields["actor"]["ref"])
    assert refs <= set(identifiers.values())
    # Nothing of another subject: bob's record and principal are no identifiers here.
    assert ("record", world.record_ids["other"]) not in identifiers
    assert ("principal", "bob") not in identifiers


def test_the_report_shows_the_history_by_role_and_entity_never_staff_names(world: World) -> None:
    _reads(world)
    _, archive = _export(world)
    report = archive.read("report.html").decode()
    section = report[report.index('<h2 id="history">') : report.index("<h2>Your records</h2>")]
    assert "Your access history" in section
    assert "signed by the log but <strong>not witnessed</strong>" in section
    assert "python verify.py" in section
    rows = section.count('<tr id="e')
    assert rows == len(_lines(archive))
    # The staff read: its purpose, role, legal entity and the data's region.
    assert (
        "<td>Read 3 records</td><td>Provide the Cloud Services</td><td>Support engineer</td>"
        "<td>IMS - Network Europe GmbH</td><td>European Union</td>"
    ) in section
    # … and the version of the policy the read was decided under.
    version = world.deployment.runtime.current.policy.version
    assert f"<td>European Union</td><td>—</td><td>{version}</td>" in section
    assert "<td>You (your own account)</td>" in section  # ada's own read
    assert "<td>Your access request: opened (verified)</td>" in section
    assert "<td>Privacy officer</td>" in section  # the dpo who opened it
    words = set(re.findall(r"[\w.@-]+", re.sub(r"<[^>]*>", " ", section)))
    assert not words & {"support-eu", "dpo", "servinfo-rights", "admin"}
    # A record read is named as the person knows it.
    assert f"record {world.record_ids['profile']}" in section


def test_verify_py_ships_in_the_export_and_checks_it(world: World, tmp_path: Path) -> None:
    _reads(world)
    _, archive = _export(world)
    assert archive.read("verify.py") == verifier_source()
    folder = tmp_path / "export"
    archive.extractall(folder)

    ok = _verify(folder)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    count = len(_lines(archive))
    assert ok.stdout.startswith(f"OK: {count} entries about you verified")

    # One byte of one entry changed: refused, naming the entry.
    entries = folder / "history" / "entries.jsonl"
    lines = entries.read_text().splitlines()
    first = json.loads(lines[0])
    first["entry"] = str(first["entry"]).replace('"v":2', '"v":2 ', 1)
    entries.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    tampered = _verify(folder)
    assert tampered.returncode == 1
    assert f"entry {first['index']}" in tampered.stdout + tampered.stderr


def _verify(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(folder / "verify.py"), str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


# -- withheld entries ------------------------------------------------------------------


def _analyst(world: World) -> None:
    """A security analyst reads subj-de for ``protect``."""
    deployment = world.deployment
    deployment.principal_service.add(
        "analyst-eu", kind="employee", role="security_analyst", region="eu", actor="admin"
    )
    deployment.reads.read_subject(deployment.principals.get("analyst-eu"), "protect", "subj-de")
    deployment.audit_buffer.flush()


def _purposes(archive: zipfile.ZipFile) -> set[str | None]:
    return {json.loads(str(line["entry"]))["purpose"] for line in _lines(archive)}


def _withheld(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    withheld: list[dict[str, str]] = json.loads(archive.read("history/subject.json"))["withheld"]
    return withheld


def test_an_open_investigation_withholds_the_protect_entries_and_names_its_ground(
    world: World, tmp_path: Path
) -> None:
    _analyst(world)
    withholdings = world.rights.withholdings
    held = withholdings.withhold("subj-de", "security_investigation", actor="dpo")
    _, archive = _export(world)
    assert "protect" not in _purposes(archive)
    assert "provide" in _purposes(archive) or "legal" in _purposes(archive)
    # Placing it is audited about the subject, and withheld with it.
    assert "withholding" not in {json.loads(str(x["entry"]))["action"] for x in _lines(archive)}
    assert [w["ground"] for w in _withheld(archive)] == ["security_investigation"]
    report = archive.read("report.html").decode()
    assert "Some information about you is withheld" in report
    assert "security investigation" in report
    # What is shipped still verifies; verify.py names the ground.
    archive.extractall(tmp_path / "held")
    checked = _verify(tmp_path / "held")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "security_investigation" in checked.stdout

    # Released: the entries show again, with the withholding's own entries.
    withholdings.release(held.withholding_id, actor="dpo")
    _, after = _export(world)
    assert "protect" in _purposes(after)
    assert _withheld(after) == []
    changes = [
        json.loads(str(x["entry"]))["outcome"]
        for x in _lines(after)
        if json.loads(str(x["entry"]))["action"] == "withholding"
    ]
    assert changes == ["placed", "released"]


def test_an_investigation_since_a_time_keeps_earlier_protect_entries(world: World) -> None:
    _analyst(world)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    world.rights.withholdings.withhold("subj-de", "fraud_investigation", actor="dpo", since=later)
    _, archive = _export(world)
    assert "protect" in _purposes(archive)  # before the investigation's entries
    assert [w["ground"] for w in _withheld(archive)] == ["fraud_investigation"]


def test_a_gagged_legal_request_is_withheld_without_naming_the_ground(world: World) -> None:
    deployment = world.deployment
    deployment.ledgers.register_disclosure(
        recipient="police-de",
        recipient_kind="authority",
        basis="legal_requirement",
        subject_id="subj-de",
        categories=["account"],
        purpose="legal",
        record_count=1,
        reference="LR-2026-17",
        actor="dpo",
        now=NOW,
    )
    _, before = _export(world)
    disclosures = [
        json.loads(str(x["entry"]))
        for x in _lines(before)
        if json.loads(str(x["entry"]))["action"] == "disclosure"
    ]
    assert len(disclosures) == 2  # the processor's, and the authority's
    world.rights.withholdings.withhold(
        "subj-de", "legal_gag", actor="dpo", reference="LR-2026-17", gagged=True
    )
    _, archive = _export(world)
    shown = [json.loads(str(x["entry"])) for x in _lines(archive)]
    assert [e["details"].get("recipient") for e in shown if e["action"] == "disclosure"] == [
        "relay_mail"
    ]
    assert _withheld(archive) == []  # gagged: not even the ground is told
    report = archive.read("report.html").decode()
    assert "withheld" not in report.lower()
    # Nothing of the request anywhere: not the history, nor the register's disclosures.
    assert "LR-2026-17" in before.read("report.html").decode()
    for name in archive.namelist():
        assert b"LR-2026-17" not in archive.read(name), name
        assert b"police-de" not in archive.read(name), name


def test_withholding_refuses_bad_input(world: World) -> None:
    withholdings = world.rights.withholdings
    with pytest.raises(InvalidRequest, match="unknown ground 'curiosity'"):
        withholdings.withhold("subj-de", "curiosity", actor="dpo")
    with pytest.raises(InvalidRequest, match="names the legal request's reference"):
        withholdings.withhold("subj-de", "legal_gag", actor="dpo")
    with pytest.raises(InvalidRequest, match="naive time"):
        withholdings.withhold(
            "subj-de", "security_investigation", actor="dpo", until=dt.datetime(2030, 1, 1)
        )
    held = withholdings.withhold("subj-de", "security_investigation", actor="dpo")
    withholdings.release(held.withholding_id, actor="dpo")
    with pytest.raises(InvalidRequest, match="released already"):
        withholdings.release(held.withholding_id, actor="dpo")
    with pytest.raises(RequestNotFound):
        withholdings.release("01NOSUCHWITHHOLDING0000000", actor="dpo")


def _dsr(capsys: pytest.CaptureFixture[str], world: World, *args: str) -> tuple[int, str]:
    """``servinfo dsr …`` through the console entry point (its exit codes and one-line
    errors); the exit status and what it printed."""
    capsys.readouterr()
    base = ["--data-dir", str(world.data_dir), "--token", world.tokens["dpo"]]
    try:
        main(["dsr", *args, *base])
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else 1
    else:
        status = 0
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_dsr_withhold_and_release_from_the_command_line(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _dsr(
        capsys,
        world,
        "withhold",
        "--subject",
        "subj-de",
        "--ground",
        "fraud_investigation",
        "--json",
    )
    assert code == 0, out
    held = json.loads(out)
    assert (held["ground"], held["released_at"]) == ("fraud_investigation", None)
    code, out = _dsr(capsys, world, "withhold", "--subject", "subj-de", "--ground", "legal_gag")
    assert code == 2
    assert len(out.strip().splitlines()) == 1
    code, out = _dsr(
        capsys, world, "withhold", "--subject", "subj-de", "--ground", "fraud_investigation",
        "--until", "tomorrow",
    )  # fmt: skip
    assert code == 2
    assert "not an ISO 8601 time" in out
    code, out = _dsr(capsys, world, "release-withholding", held["id"])
    assert code == 0, out
    code, out = _dsr(capsys, world, "withholdings", "--subject", "subj-de")
    assert [w["released_by"] for w in json.loads(out)] == ["dpo"]


# -- witnessed ---------------------------------------------------------------------------


def test_with_a_witness_policy_the_history_is_proved_against_a_cosigned_checkpoint(
    world: World, tmp_path: Path
) -> None:
    """The deployment's own wiring: its witness policy, a witness served apart, and the
    checkpoint submitted while the export is built."""
    audit = world.deployment.audit
    origin, log_key = audit.origin, audit.vkeys()[-1]
    witness_dir = tmp_path / "witness"
    keys = init_witness(witness_dir, "witness.example/w1")
    open_witness(witness_dir).store.add_log(origin, [log_key])
    ed25519 = keys.vkeys()[1]  # cosignature/v1: what verify.py checks with cryptography alone
    _reads(world)
    with serving(witness_dir, tmp_path / "witness.log") as url:
        (world.data_dir / "witness-policy.txt").write_text(
            f"log {log_key}\nwitness w1 {ed25519} {url}\nquorum w1\n"
        )
        # A deployment opened now reads the policy (the world's was opened before it).
        with open_deployment(world.data_dir, {}) as deployment:
            rights = deployment.rights
            opened = rights.open(
                "access", "subj-de", channel="cli", actor="dpo", verified=True, now=NOW
            )
            done = rights.process(opened.request_id, actor="dpo", now=NOW)
            _, blob = rights.export_archive(opened.request_id, now=NOW)
    assert done.outcome is not None
    assert done.outcome["history"]["witnessed"] is True
    archive = zipfile.ZipFile(io.BytesIO(blob))
    policy = TrustPolicy.parse(archive.read("history/trust-policy.txt").decode())
    assert policy.quorum == "w1"
    assert [w.vkey for w in policy.witnesses] == [ed25519]
    report = archive.read("report.html").decode()
    assert "cosigned by independent witnesses" in report
    archive.extractall(tmp_path / "export")
    checked = _verify(tmp_path / "export")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "cosigned by 1 of 1 witnesses (quorum w1)" in checked.stdout


def test_an_erasure_deletes_the_subjects_withholdings(world: World) -> None:
    withholdings = world.rights.withholdings
    withholdings.withhold("subj-fr", "fraud_investigation", actor="dpo")
    withholdings.withhold("subj-de", "security_investigation", actor="dpo")
    rights = world.rights
    opened = rights.open("erasure", "subj-fr", channel="cli", actor="dpo", verified=True, now=NOW)
    assert rights.process(opened.request_id, actor="dpo", now=NOW).state == "completed"
    assert withholdings.for_subject("subj-fr") == []  # the rows named the subject
    assert len(withholdings.for_subject("subj-de")) == 1
