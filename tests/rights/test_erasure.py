"""Erasure: shred and purge, keep what the law or a hold keeps (and say why), tell recipients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tests.rights.world import NOW, World, build_world
from tests.support import PostgresDatabases

from servinfo.crypto import DataKey, IntegrityError, RecordBinding, Sealer, unwrap_data_key
from servinfo.crypto.keyed_hash import Pseudonymizer
from servinfo.crypto.keyring import PSEUDONYM
from servinfo.rights import Request


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
