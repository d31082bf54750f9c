"""Access and portability exports: contents, encryption at rest, expiry."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile

import pytest
from tests.rights.world import COLLECTED, NOW, World

from servinfo.access.reads import ReadRecord
from servinfo.policy import load_policy
from servinfo.rights import ExportUnavailable
from servinfo.rights.export import access_archive
from servinfo.rights.report import LedgerEntries, art15_information
from servinfo.store import Subject


def _archive(world: World, request_type: str, subject: str = "subj-de") -> zipfile.ZipFile:
    rights = world.rights
    opened = rights.open(request_type, subject, channel="cli", actor="dpo", verified=True, now=NOW)
    done = rights.process(opened.request_id, actor="dpo", now=NOW)
    assert done.state == "completed"
    _, blob = rights.export_archive(opened.request_id, now=NOW)
    return zipfile.ZipFile(io.BytesIO(blob))


def test_access_export_holds_every_record_decrypted(world: World) -> None:
    archive = _archive(world, "access")
    assert sorted(archive.namelist()) == [
        "account.csv",
        "communications.csv",
        "data.json",
        "history/checkpoint.txt",
        "history/entries.jsonl",
        "history/subject.json",
        "history/trust-policy.txt",
        "payments.csv",
        "report.html",
        "telemetry.csv",
        "verify.py",
    ]
    data = json.loads(archive.read("data.json"))
    assert data["subject"] == "subj-de"
    assert data["record_count"] == 6
    ids = {
        record["id"]
        for kinds in data["categories"].values()
        for records in kinds.values()
        for record in records
    }
    own = {k: v for k, v in world.record_ids.items() if not k.startswith("subj-") and k != "other"}
    assert ids == set(own.values())
    (profile,) = data["categories"]["account"]["account.profile"]
    assert profile["fields"]["email"] == "ada@example.test"
    assert data["categories"]["payments"]["payments.credit_check"][0]["fields"]["score"] == 712


def test_csv_per_category_with_stable_columns_and_no_formulas(world: World) -> None:
    archive = _archive(world, "access")
    rows = list(csv.DictReader(io.StringIO(archive.read("payments.csv").decode())))
    assert {r["kind"] for r in rows} == {
        "payments.charge",
        "payments.billing_details",
        "payments.credit_check",
    }
    header = archive.read("payments.csv").decode().splitlines()[0].split(",")
    assert header[:4] == ["id", "kind", "collected_at", "region"]
    assert header[4:] == sorted(header[4:])
    ticket = next(csv.DictReader(io.StringIO(archive.read("communications.csv").decode())))
    assert ticket["message"].startswith("'=SUM")


def test_report_gives_the_article_15_information(world: World) -> None:
    report = _archive(world, "access").read("report.html").decode()
    for expected in (
        "Pre-credit check",  # automated decision
        "automated decision",
        "relay_mail",  # a past disclosure
        "DPA-2025-014",
        "EU Standard Contractual Clauses",  # transfer safeguards
        "EU-U.S. Data Privacy Framework",
        "Art. 6(1)(b) performance of a contract",  # legal basis under the GDPR
        "Financial record-keeping",  # retention
        "Cloud identity service",  # source
        "Der Hessische Beauftragte",  # authority
        "ada@example.test",
    ):
        assert expected in report, expected
    assert "<script" not in report


def test_report_escapes_record_values(world: World) -> None:
    from tests.rights.world import record

    world.deployment.writer.put(
        record("communications.feedback", {"message": "<script>alert(1)</script>"})
    )
    report = _archive(world, "access").read("report.html").decode()
    assert "<script>alert(1)</script>" not in report
    assert "&lt;script&gt;" in report


def test_portability_keeps_provided_and_observed_never_derived(world: World) -> None:
    data = json.loads(_archive(world, "portability").read("data.json"))
    assert data["export"] == "portability"
    check = data["categories"]["payments"]["payments.credit_check"][0]["fields"]
    assert check == {"check_id": "CC-1", "provider": "crediva"}
    login = data["categories"]["telemetry"]["telemetry.auth_event"][0]["fields"]
    assert "country" not in login
    assert login["ip_address"] == "203.0.113.77"
    assert data["categories"]["account"]["account.profile"][0]["fields"]["username"] == "ada"


def test_exports_are_sealed_at_rest_and_expire(world: World) -> None:
    rights = world.rights
    opened = rights.open("access", "subj-de", channel="cli", actor="dpo", verified=True, now=NOW)
    rights.process(opened.request_id, actor="dpo", now=NOW)
    _, blob = rights.export_archive(opened.request_id, now=NOW)
    world.deployment.control.dispose()
    stored = b"".join(
        path.read_bytes() for path in world.data_dir.glob("control.db*") if path.is_file()
    )
    for marker in (b"data.json", b"report.html", blob[:64], blob[-64:]):
        assert marker not in stored
    info = rights.exports.latest(opened.request_id)
    assert info is not None
    assert info.expires_at == NOW + dt.timedelta(days=30)
    with pytest.raises(ExportUnavailable, match="expired"):
        rights.export_archive(opened.request_id, now=NOW + dt.timedelta(days=30))
    assert rights.exports.purge_expired(NOW + dt.timedelta(days=31)) == 1
    with pytest.raises(ExportUnavailable, match="has no export"):
        rights.export_archive(opened.request_id, now=NOW)


def _direct_archive(records: list[ReadRecord]) -> zipfile.ZipFile:
    """The access archive of ``records`` of a synthetic GDPR subject, without a deployment."""
    blob = access_archive(
        policy=load_policy(),
        subject=Subject("subj-x", "org-eu", "eu", "DE", NOW, None),
        regime="gdpr",
        request_id="req-1",
        records=records,
        ledgers=LedgerEntries(),
        now=NOW,
    )
    return zipfile.ZipFile(io.BytesIO(blob))


def test_archive_files_hold_exactly_the_records_whatever_their_values() -> None:
    """data.json is written record by record: it must still parse to the exact values."""
    odd: list[dict[str, object]] = [
        {"text": 'quote " backslash \\ newline \n tab \t nul \x00', "n": 1.5, "ok": True},
        {"text": "ünïcödé ✓ <b>&</b> 'x'", "list": ["<script>", 2, None], "nested": {"a": [1]}},
        {"text": "=1+1", "none": None, "big": 2**70},
    ]
    records = [
        ReadRecord(
            f"01KBENCH{i:018d}",
            "subj-x",
            "communications",
            "communications.feedback" if i % 2 else "communications.question",
            "eu",
            NOW - dt.timedelta(minutes=i),
            fields,
        )
        for i, fields in enumerate(odd)
    ]
    archive = _direct_archive(records)
    data = json.loads(archive.read("data.json"))
    assert data["record_count"] == 3
    found = {
        record["id"]: record
        for kinds in data["categories"].values()
        for listed in kinds.values()
        for record in listed
    }
    for r in records:
        assert found[r.record_id] == {
            "id": r.record_id,
            "collected_at": r.collected_at.isoformat(),
            "region": "eu",
            "fields": r.fields,
        }
    report = archive.read("report.html").decode()
    assert "<script>" not in report
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in report
    rows = list(csv.DictReader(io.StringIO(archive.read("communications.csv").decode())))
    assert {row["text"] for row in rows} >= {"'=1+1"}
    empty = _direct_archive([])
    assert json.loads(empty.read("data.json"))["categories"] == {}


def _report(world: World, subject: str = "subj-de") -> str:
    return _archive(world, "access", subject).read("report.html").decode()


def _purpose_row(report: str, name: str) -> str:
    match = re.search(rf"<tr><td><strong>{re.escape(name)}</strong>.*?</tr>", report, re.DOTALL)
    assert match is not None, name
    return match.group(0)


def test_report_states_an_objection_instead_of_may_object(world: World) -> None:
    policy = world.deployment.policy
    improve = policy.purposes["improve_use"].name
    world.deployment.ledgers.object("subj-de", "improve_use", actor="dpo", now=COLLECTED)
    report = _report(world)
    row = _purpose_row(report, improve)
    assert "You objected on 2 March 2026; we no longer process it for this." in row
    assert not row.endswith("<td>yes</td></tr>")
    assert f"You objected to {improve} on 2 March 2026; we no longer process your data" in report
    objection = re.search(r"<li>Right to object \(Art. 21\): (.*?)</li>", report)
    assert objection is not None
    assert objection.group(1).startswith(f"You objected to {improve}; we no longer process")
    assert improve not in objection.group(1).split("You may object to", 1)[-1]
    # A purpose nobody objected to stays open to objection.
    other = policy.purposes["improve_service"].name
    assert _purpose_row(report, other).endswith("<td>yes</td></tr>")


def test_report_lists_consents_restrictions_and_holds(world: World) -> None:
    ledgers = world.deployment.ledgers
    version = world.deployment.policy.version
    ledgers.give_consent(
        "subj-de", recipient="relay_mail", notice_version=version, actor="dpo", now=COLLECTED
    )
    ledgers.restrict("subj-de", "accuracy contested", actor="dpo", now=COLLECTED)
    ledgers.place_hold(subject_id="subj-de", reason="case 7 (synthetic)", actor="dpo", now=NOW)
    report = _report(world)
    assert "You gave your consent to sharing with Relay Mail Services Inc. on 2 March 2026." in (
        report
    )
    assert "You may withdraw your consent to sharing with Relay Mail Services Inc." in report
    assert "Restricted on 2 March 2026 (accuracy contested): in force" in report
    assert "Processing of your data is restricted since 2 March 2026" in report
    assert "A restriction of processing is in force since 2 March 2026." in report
    assert "A legal hold on your account placed on 4 May 2026: in force" in report
    assert "A legal hold is in force: we erase your data once it is released." in report
    assert "case 7" not in report  # a hold's reason stays internal


def test_report_without_ledger_entries_says_so(world: World) -> None:
    report = _report(world)
    for expected in (
        "You have not objected to any processing.",
        "You have given no consent.",
        "No legal hold keeps your data.",
        "No restriction is in force; you may ask for one.",
        "You have no consent in force to withdraw.",
    ):
        assert expected in report, expected


def test_booleans_are_words_in_the_report_and_true_false_in_csv() -> None:
    fields: dict[str, object] = {"resolved": True, "escalated": False, "tags": [True, None, "x"]}
    records = [
        ReadRecord(
            "01KBOOL000000000000000001",
            "subj-x",
            "communications",
            "communications.feedback",
            "eu",
            NOW,
            fields,
        )
    ]
    archive = _direct_archive(records)
    report = archive.read("report.html").decode()
    assert "<code>resolved</code>: yes" in report
    assert "<code>escalated</code>: no" in report
    assert "<code>tags</code>: yes, , x" in report
    assert "True" not in report
    assert "False" not in report
    (row,) = csv.DictReader(io.StringIO(archive.read("communications.csv").decode()))
    assert row["resolved"] == "true"
    assert row["escalated"] == "false"
    assert row["tags"] == '[true, null, "x"]'
    assert (
        json.loads(archive.read("data.json"))["categories"]["communications"][
            "communications.feedback"
        ][0]["fields"]
        == fields
    )


def test_report_names_countries() -> None:
    records: list[ReadRecord] = []
    subject = Subject("subj-x", "org-us", "us", "US-CA", NOW, None)
    info = art15_information(load_policy(), subject, "ccpa", records, LedgerEntries())
    countries = {p["name"]: p["country"] for p in info["processors"]}
    assert countries["Sahaya Support Services Pvt. Ltd."] == "India"
    assert "India" in [t["destination"] for t in info["transfers"]]
