"""Erasure: shred and purge, keep what the law or a hold keeps (and say why), tell recipients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tests.rights.world import NOW, World, build_world
from tests.support import PostgresDatabases

from servinfo.access.errors import Unauthenticated
from servinfo.crypto import DataKey, IntegrityError, RecordBinding, Sealer, unwrap_data_key
from servinfo.crypto.keyed_hash import Pseudonymizer
from servinfo.crypto.keyring import PSEUDONYM
from servinfo.rights import Request
from servinfo.rights.unlinking import ERASED_ACTOR
from servinfo.store.erasure import ERASED_SUBJECT


def _erase(world: World, subject: str = "subj-de") -> Request:
    opened = world.rights.open(
        "erasure", subject, channel="cli", actor="dpo", verified=True, now=NOW
    )
    return world.rights.process(opened.request_id, actor="dpo", now=NOW)


def _salt(world: World, subject: str) -> bytes | None:
    with world.deployment.control.connect() as connection:
        found = connection.execute(
            text("SELECT salt FROM subject_salts WHERE subject_id = :s"), {"s": subject}
        ).scalar()
    return None if found is None else bytes(found)


def test_billing_records_stay_with_the_reason_and_the_rest_goes(world: World) -> None:
    access = world.rights.open("access", "subj-de", channel="cli", actor="dpo", verified=True)
    world.rights.process(access.request_id, actor="dpo")
    assert _salt(world, "subj-de") is not None
    done = _erase(world)
    assert done.state == "partially_completed"
    assert done.outcome is not None
    kept = {k["kind"]: k for k in done.outcome["kept"]}
    assert set(kept) == {"payments.charge", "payments.billing_details"}
    assert kept["payments.charge"]["retention_class"] == "legal_obligation"
    assert "Financial record-keeping" in kept["payments.charge"]["why"]
    assert kept["payments.charge"]["kept_for"] == "10 years"
    assert done.outcome["records_deleted"] == 4
    assert done.outcome["storage_purged"]
    assert done.outcome["exports_deleted"] == 1
    assert world.deployment.directory.get_subject("subj-de").erased
    # Art. 19: the processor that received the subject's data is told.
    (notice,) = world.notices(kind="erasure_notice")
    assert notice.recipient == "relay_mail"
    assert notice.payload["subject"] == "subj-de"
    assert done.outcome["recipients_notified"] == ["relay_mail"]
    # The audit salt is gone; the log still verifies.
    assert done.outcome["audit_pseudonym_forgotten"] is True
    assert _salt(world, "subj-de") is None
    assert world.deployment.audit.verify().entries > 0  # raises if tampered


def test_a_legal_hold_keeps_everything_held_and_says_so(world: World) -> None:
    hold = world.deployment.ledgers.place_hold(
        org_id="org-eu", reason="litigation 2026-17", actor="dpo"
    )
    done = _erase(world)
    assert done.state == "partially_completed"
    assert done.outcome is not None
    assert done.outcome["holds"] == [hold.hold_id]
    assert done.outcome["records_deleted"] == 0
    kept = {k["kind"]: k for k in done.outcome["kept"]}
    assert "account.profile" in kept
    assert "Art. 17(3)(e)" in kept["account.profile"]["why"]
    assert done.outcome["audit_pseudonym_forgotten"] is False
    assert _salt(world, "subj-de") is not None


def test_without_kept_data_the_erasure_completes(world: World) -> None:
    done = _erase(world, "subj-fr")
    assert done.state == "completed"
    assert done.outcome is not None
    assert done.outcome["kept"] == []
    assert done.outcome["records_deleted"] == 1


def _region_rows(world: World, sql: str) -> list[tuple[Any, ...]]:
    with world.deployment.regions["eu"].connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), {"s": "subj-de"})]


def test_nothing_of_the_erased_subject_is_left_on_disk(world: World) -> None:
    # (1) Before: what would identify or unlock the subject's erased data.
    keys = _region_rows(
        world,
        "SELECT id, kek_id, wrapped FROM data_keys WHERE subject_id = :s "
        "AND retention_class = 'standard'",
    )
    digests = _region_rows(
        world,
        "SELECT b.digest FROM blind_index b JOIN records r ON r.id = b.record_id "
        "JOIN data_keys k ON k.id = r.key_id WHERE b.subject_id = :s "
        "AND k.retention_class = 'standard'",
    )
    sealed = _region_rows(
        world,
        "SELECT r.id, r.category, r.kind, r.schema_version, r.ciphertext FROM records r "
        "JOIN data_keys k ON k.id = r.key_id WHERE r.subject_id = :s "
        "AND k.retention_class = 'standard'",
    )
    salt = _salt(world, "subj-de")
    assert keys
    assert digests
    assert sealed
    assert salt is not None
    pseudonymizer = Pseudonymizer(world.deployment.keyring.current(PSEUDONYM))
    pseudonym = pseudonymizer.pseudonym("subj-de", salt)
    # (2) Erase, and close every connection so the files are all there is.
    _erase(world)
    world.deployment.control.dispose()
    for engine in world.deployment.regions.values():
        engine.dispose()
    secrets = [bytes(w) for _, _, w in keys] + [bytes(d) for (d,) in digests] + [salt]
    files = [p for p in world.data_dir.rglob("*") if p.is_file()]
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret not in content, path.name
    # The salted pseudonym can no longer be recomputed: its salt is gone everywhere.
    assert _salt(world, "subj-de") is None
    assert len(pseudonym) == 32
    # (3) Even with the master key (the keyring opened), no erased record decrypts:
    # its key was overwritten, and no key still stored opens a copy of its ciphertext.
    keyring = world.deployment.keyring
    remaining = _region_rows(
        world,
        "SELECT id, kek_id, retention_class, wrapped FROM data_keys WHERE subject_id = :s",
    )
    assert all(w is None for key_id, _, _, w in remaining if key_id in {k[0] for k in keys})
    from servinfo.crypto import data_key_context

    openers = [
        Sealer(
            DataKey(
                str(key_id),
                unwrap_data_key(
                    keyring.get(str(kek_id)),
                    bytes(wrapped),
                    data_key_context("subj-de", "eu", str(cls)),
                ),
            )
        )
        for key_id, kek_id, cls, wrapped in remaining
        if wrapped is not None
    ]
    assert openers  # the billing records' key stays
    for record_id, category, kind, version, ciphertext in sealed:
        binding = RecordBinding(
            str(record_id),
            "subj-de",
            str(category),
            str(kind),
            "eu",
            int(version),
        )
        for opener in openers:
            with pytest.raises(IntegrityError):
                opener.open(binding, bytes(ciphertext))


@pytest.mark.postgres
def test_erasure_on_postgresql(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    with build_world(tmp_path, postgres_databases.url_template) as world:
        assert world.deployment.control.dialect.name == "postgresql"
        done = _erase(world)
        assert done.state == "partially_completed"
        assert done.outcome is not None
        assert done.outcome["records_deleted"] == 4
        assert {k["kind"] for k in done.outcome["kept"]} == {
            "payments.charge",
            "payments.billing_details",
        }
        assert _salt(world, "subj-de") is None
        assert world.notices(kind="erasure_notice")
        live = _region_rows(
            world,
            "SELECT count(*) FROM data_keys WHERE subject_id = :s AND wrapped IS NOT NULL "
            "AND retention_class = 'standard'",
        )
        assert live == [(0,)]


def test_the_erasure_is_effective_before_it_is_finished(world: World) -> None:
    """What the request relies on: after the shred alone nothing erased can be decrypted."""
    from servinfo.store import ShredLedger

    writer = world.deployment.writer
    report = writer.erase_subject("subj-fr", finish=False, now=NOW)
    assert [r.region for r in report.regions] == ["eu"]  # the home region, committed
    assert report.keys_destroyed >= 1
    assert report.records_deleted == 0  # the ciphertext goes in finish_erasure
    assert not report.finished
    assert world.deployment.directory.get_subject("subj-fr").erased
    live_keys = _region_rows(
        world,
        "SELECT count(*) FROM data_keys WHERE subject_id = 'subj-fr' AND wrapped IS NOT NULL",
    )
    assert live_keys == [(0,)]
    left = _region_rows(world, "SELECT count(*) FROM records WHERE subject_id = 'subj-fr'")
    assert left == [(1,)]
    ledger = ShredLedger(world.deployment.control)
    assert len(ledger.entries(pseudonym=report.subject_pseudonym, pending=True)) == len(
        world.deployment.regions
    )
    finished = writer.finish_erasure("subj-fr", report)
    assert finished.finished
    left = _region_rows(world, "SELECT count(*) FROM records WHERE subject_id = 'subj-fr'")
    assert left == [(0,)]
    assert sorted(r.region for r in finished.regions) == sorted(world.deployment.regions)
    assert all(r.storage_purged for r in finished.regions)
    assert finished.records_deleted == 1
    assert ledger.entries(pseudonym=report.subject_pseudonym, pending=True) == []
    assert writer.finish_erasure("subj-fr", finished) is finished


# -- what else the erasure purges or keys (docs/rights.md, "What an erasure leaves") ----


def _control_rows(world: World, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with world.deployment.control.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def test_the_shred_entry_is_logged_and_its_seq_is_in_the_outcome(world: World) -> None:
    done = _erase(world)
    assert done.outcome is not None
    seq = done.outcome["erasure_entry"]
    assert isinstance(seq, int)
    world.deployment.rights._flush_audit()
    (entry,) = world.deployment.audit.entries(seq, seq + 1)
    assert entry.action == "erasure"
    assert entry.actor == "dpo"
    assert entry.outcome == "partially_shredded"
    assert entry.subject_pseudonym is not None
    assert entry.details["records_deleted"] == 4
    assert entry.details["keys_destroyed"] == done.outcome["keys_destroyed"]
    assert entry.details["kept_kinds"] == "payments.billing_details,payments.charge"
    # The request id is there only as a reference keyed with the (now destroyed) salt.
    assert done.request_id not in json.dumps(dict(entry.details))
    assert "request_id" in entry.links
    nothing_kept = _erase(world, "subj-fr")
    assert nothing_kept.outcome is not None
    world.deployment.rights._flush_audit()
    seq = nothing_kept.outcome["erasure_entry"]
    (entry,) = world.deployment.audit.entries(seq, seq + 1)
    assert (entry.outcome, entry.details["kept_kinds"]) == ("shredded", "")


def test_the_subjects_own_principals_are_deleted_and_their_tokens_end(world: World) -> None:
    agent = world.deployment.principal_service.add(
        "agent-for-ada", kind="authorized_agent", role="authorized_agent", region=None,
        binding="subj-de", actor="admin",
    )  # fmt: skip
    service = world.deployment.principal_service
    assert service.authenticate(world.tokens["ada"]).name == "ada"
    audit = world.deployment.audit
    before = audit.size()
    _erase(world)
    # Each removal is audited about the subject, its name only a reference (cut with the salt).
    removals = [
        e for e in audit.entries(before, audit.size())
        if e.action == "principal_change" and e.outcome == "removed"
    ]  # fmt: skip
    assert len(removals) == 2
    assert all(e.subject_pseudonym and set(e.links) == {"principal"} for e in removals)
    stored = b"".join(e.canonical_bytes() for e in removals)
    assert b'"ada"' not in stored  # as a JSON string: "ada" alone could be hex
    assert b"agent-for-ada" not in stored
    assert _salt(world, "subj-de") is None
    names = {p.name for p in service.all()}
    assert {"ada", agent.principal.name} & names == set()
    assert {"bob", "dpo", "support-eu"} <= names  # another subject's, and staff, stay
    for token in (world.tokens["ada"], agent.token):
        with pytest.raises(Unauthenticated):
            service.authenticate(token)


def test_the_case_files_stay_but_name_no_one(world: World) -> None:
    ada = world.deployment.principals.get("ada")
    rights = world.rights
    access = rights.open("access", "subj-de", channel="api", actor="ada", now=NOW)
    rights.verify_with_principal(access.request_id, ada, now=NOW)
    rights.process(access.request_id, actor="dpo", now=NOW)
    rectify = rights.open(
        "rectification", "subj-de", channel="api", actor="ada", verified=True, now=NOW,
        parameters={"kind": "account.profile", "fields": {"given_name": "Augusta"}},
    )  # fmt: skip
    rights.process(rectify.request_id, actor="dpo", now=NOW)
    code_request = rights.open("objection", "subj-de", channel="api", actor="dpo", now=NOW)
    rights.send_code(code_request.request_id, now=NOW)
    sent = world.notices(kind="receipt_notice")[0]
    world.outbox.mark_sent(sent.notice_id, now=NOW)
    erased = _erase(world)
    requests = {r.request_id: r for r in rights.list_requests()}
    mine = [access.request_id, rectify.request_id, code_request.request_id, erased.request_id]
    for request_id in mine:
        request = requests[request_id]  # kept, as proof the request was handled
        assert request.subject_id == ERASED_SUBJECT
        assert request.parameters == {}
        assert "ada" not in (request.opened_by, request.verified_by, request.decided_by)
    assert requests[access.request_id].opened_by == ERASED_ACTOR
    assert requests[access.request_id].state == "completed"
    outcome = requests[access.request_id].outcome or {}
    assert "id" not in outcome["export"]
    assert "expires_at" in outcome["export"]
    assert (requests[rectify.request_id].outcome or {})["rectified"] == 1
    assert rights.list_requests(subject_id="subj-de") == []
    assert _control_rows(
        world, "SELECT count(*) FROM rights_verification_codes WHERE request_id = :r",
        r=code_request.request_id,
    ) == [(0,)]  # fmt: skip
    # Sent messages about the subject are gone; those still to send stay until sent.
    left = world.notices()
    assert sent.notice_id not in {n.notice_id for n in left}
    pending = [n for n in left if n.recipient == "subj-de" or n.request_id in mine]
    assert pending
    assert all(n.sent_at is None for n in pending)
    assert any(n.kind == "erasure_notice" and n.recipient == "relay_mail" for n in pending)


def test_ledgers_lose_the_subjects_entries_and_the_register_keeps_its_counts(
    world: World,
) -> None:
    ledgers = world.deployment.ledgers
    version = world.deployment.policy.version
    ledgers.object("subj-de", "improve_use", actor="ada")
    ledgers.give_consent("subj-de", recipient="survey-partner", notice_version=version, actor="ada")
    ledgers.register_disclosure(
        recipient="survey-partner", recipient_kind="third_party", basis="consent",
        subject_id="subj-de", categories=["account"], purpose="provide", record_count=2,
        actor="admin",
    )  # fmt: skip
    ledgers.object("subj-fr", "improve_use", actor="bob")
    before = {d.recipient: d.record_count for d in ledgers.disclosures()}
    done = _erase(world)
    assert done.outcome is not None
    assert done.outcome["ledgers_unlinked"] == {
        "objections": 1, "restrictions": 0, "consents": 1, "disclosures": 2,
    }  # fmt: skip
    assert ledgers.objections("subj-de", include_withdrawn=True) == []
    assert ledgers.consents("subj-de", include_history=True) == []
    assert len(ledgers.objections("subj-fr")) == 1  # another subject's stay
    assert ledgers.disclosures(subject_id="subj-de") == []
    # Transparency: what went to each recipient is still counted, naming no subject.
    kept = ledgers.disclosures(subject_id=ERASED_SUBJECT)
    assert {d.recipient: d.record_count for d in kept} == before
    consented = next(d for d in kept if d.basis == "consent")
    assert consented.reference == ERASED_SUBJECT  # the consent's entry id went with it
    assert ledgers.subject_state("subj-de").objections == frozenset()


def test_under_a_legal_hold_nothing_is_unlinked(world: World) -> None:
    world.deployment.ledgers.place_hold(subject_id="subj-de", reason="case 2026-4", actor="dpo")
    world.deployment.ledgers.object("subj-de", "improve_use", actor="ada")
    done = _erase(world)
    assert done.outcome is not None
    assert done.outcome["ledgers_unlinked"] == {}
    assert world.rights.get(done.request_id).subject_id == "subj-de"
    assert world.deployment.principals.get("ada").active
    assert len(world.deployment.ledgers.objections("subj-de")) == 1


def test_ingest_marks_of_erased_records_go_with_them(world: World) -> None:
    from sqlalchemy import insert

    from servinfo.store.models import RequestMarkRow

    with world.deployment.regions["eu"].begin() as connection:
        for line, record in enumerate(("invoice", "profile")):
            connection.execute(
                insert(RequestMarkRow).values(
                    request=b"\x01" * 16, line=line, record_id=world.record_ids[record],
                    expires_at=NOW,
                )
            )  # fmt: skip
    _erase(world)
    marks = _region_rows(world, "SELECT record_id FROM request_marks")
    assert marks == [(world.record_ids["invoice"],)]  # the kept record's stays


def test_the_answer_holds_a_receipt_the_standalone_verifier_accepts(
    world: World, tmp_path: Path
) -> None:
    from servinfo.audit.standalone.verify import Refused, check_receipt

    done = _erase(world)
    assert done.outcome is not None
    receipt = done.outcome["receipt"]
    assert receipt["format"] == "servinfo-erasure-receipt/1"
    assert [k["kind"] for k in receipt["kept"]] == [
        "payments.billing_details",
        "payments.charge",
    ]
    checked = check_receipt(json.dumps(receipt).encode())
    assert checked.index == done.outcome["erasure_entry"]
    assert checked.kept_kinds == ("payments.billing_details", "payments.charge")
    # The receipt names neither the subject nor the request in clear.
    text_of_receipt = json.dumps(receipt)
    assert "subj-de" not in text_of_receipt
    assert done.request_id not in text_of_receipt
    # Claiming less was kept than the log says is refused.
    tampered = {**receipt, "kept": receipt["kept"][:1]}
    with pytest.raises(Refused, match="kept"):
        check_receipt(json.dumps(tampered).encode())
    # Stays valid once the answer is read back (the case file was unlinked since).
    again = world.rights.get(done.request_id).outcome
    assert again is not None
    assert again["receipt"] == receipt
