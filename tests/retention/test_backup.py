"""Backups that expire and restores that keep erasures erased (docs/backup.md).

On SQLite and on PostgreSQL (``pg_dump``/``pg_restore``): back up, erase a
subject and sweep, restore into a new directory — the subject's records are
gone and its keys are tombstones even with the master key; the keys the sweep
destroyed are absent; without the shred ledger the restored deployment refuses
to serve; an expired backup does not open; bad inputs leave nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.retention.world import COLLECTED, HOME, SUBJECTS, RetentionWorld

from servinfo.deployment import DeploymentError, open_deployment
from servinfo.policy import load_policy
from servinfo.retention.backup import BackupError, expire_backups, take_backup
from servinfo.retention.ledger import ERASURE, KEYS_DESTROYED
from servinfo.retention.restore import restore_backup
from servinfo.store.identity import read_stamp
from servinfo.store.models import DataKeyRow, RecordRow

NOW = COLLECTED + dt.timedelta(days=2)
SWEPT = COLLECTED + dt.timedelta(days=400)


def _backup(world: RetentionWorld, out: Path, now: dt.datetime = NOW) -> str:
    d = world.deployment
    from servinfo.crypto import load_master_key

    result = take_backup(
        d,
        out=out,
        master_key=load_master_key({}, d.settings.master_key_file),
        master_key_file=str(d.settings.master_key_file.resolve()),
        catalogue=d.backup_catalogue,
        ledger=d.shred_ledger,
        now=now,
    )
    return result.backup_id


def _erase(world: RetentionWorld, subject: str) -> None:
    rights = world.deployment.rights
    opened = rights.open("erasure", subject, channel="cli", actor="dpo", verified=True, now=NOW)
    done = rights.process(opened.request_id, actor="dpo", now=NOW)
    assert done.state in ("completed", "partially_completed"), done.state


def _records(deployment: Any, subject: str) -> int:
    engine = deployment.regions[HOME[SUBJECTS[subject][0]]]
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count()).select_from(RecordRow).where(RecordRow.subject_id == subject)
            )
            or 0
        )


def _keys(deployment: Any, subject: str) -> list[tuple[str, str, bytes | None]]:
    engine = deployment.regions[HOME[SUBJECTS[subject][0]]]
    with engine.connect() as connection:
        rows = connection.execute(
            select(DataKeyRow.id, DataKeyRow.retention_class, DataKeyRow.wrapped).where(
                DataKeyRow.subject_id == subject
            )
        )
        return [(r.id, r.retention_class, r.wrapped) for r in rows]


def _template(world: RetentionWorld) -> str | None:
    url = world.deployment.control.url
    if url.get_backend_name() != "postgresql":
        return None
    return url.render_as_string(hide_password=False).replace(
        f"/{url.database}", f"/{url.database}_restored_{{name}}"
    )


def _restore(world: RetentionWorld, file: Path, target: Path, **options: Any) -> Any:
    return restore_backup(
        file,
        target,
        {},
        now=options.pop("now", NOW + dt.timedelta(days=1)),
        database_url_template=_template(world),
        **options,
    )


def test_a_restore_keeps_erased_subjects_erased_and_swept_keys_destroyed(
    world: RetentionWorld, tmp_path: Path
) -> None:
    d = world.deployment
    for subject in ("subj-de", "subj-fr"):
        world.ingest(subject, "account.profile")
        world.ingest(subject, "payments.charge")
    world.ingest("subj-ch", "telemetry.auth_event")  # its only record: its key goes idle
    ch_keys = [key_id for key_id, _, _ in _keys(d, "subj-ch")]
    wrapped_before = {w for _, c, w in _keys(d, "subj-de") if c == "standard" and w}
    assert wrapped_before
    backup_file = tmp_path / "before.servinfo-backup"
    backup_id = _backup(world, backup_file)

    _erase(world, "subj-de")
    sweep = world.sweep(SWEPT.date(), region="ch")
    assert sweep.keys_destroyed == 1
    kinds = [e.kind for e in d.shred_ledger.entries()]
    assert kinds == [ERASURE, KEYS_DESTROYED]
    erased_keys = {key_id for key_id, cls, _ in _keys(d, "subj-de") if cls == "standard"}
    assert erased_keys

    target = tmp_path / "restored"
    report = _restore(world, backup_file, target)
    assert report.ledger_replayed
    assert report.backup_id == backup_id
    assert report.replayed["subjects_erased"] == 1
    assert report.replayed["keys_destroyed"] == 1

    with open_deployment(target, {}) as restored:
        # The erased subject: only its legal-obligation records (billing) are left, and
        # every key of the erased class is a tombstone — with the master key at hand.
        left = _keys(restored, "subj-de")
        assert {k for k, cls, wrapped in left if cls == "standard" and wrapped is None} == (
            erased_keys
        )
        assert all(wrapped is None for _, cls, wrapped in left if cls == "standard")
        assert _records(restored, "subj-de") == 1  # payments.charge, kept by law
        # The wrapped keys the backup held are nowhere in the restored store, so no key
        # (the master key, the region's KEK) can unwrap them: nothing to decrypt with.
        region = HOME[SUBJECTS["subj-de"][0]]
        engine = restored.regions[region]
        if engine.dialect.name == "sqlite":
            stored = Path(engine.url.database or "").read_bytes()
            for wrapped in wrapped_before:
                assert wrapped not in stored
        with engine.connect() as connection:
            live = {bytes(w) for (w,) in connection.execute(select(DataKeyRow.wrapped)) if w}
        assert not live & wrapped_before
        # The subject the untouched copy still holds is readable as before.
        assert _records(restored, "subj-fr") == 2
        # The key the sweep destroyed after the backup is absent, with its record.
        assert not {k for k, _, _ in _keys(restored, "subj-ch")} & set(ch_keys)
        assert _records(restored, "subj-ch") == 0
        # The erased subject's audit salt is gone again.
        assert restored.audit.subject_history("subj-de") is None
        # Every store's generation went up.
        assert read_stamp(restored.control).generation == 2  # type: ignore[union-attr]
        for engine in restored.regions.values():
            assert read_stamp(engine).generation == 2  # type: ignore[union-attr]
        # A new log: its first entry names the old origin and its last checkpoint.
        first = restored.audit.entries(0, 1)[0]
        assert first.action == "audit_log_restored"
        assert first.details["previous_origin"] == d.audit.origin
        assert restored.audit.origin != d.audit.origin
        assert restored.audit.origin.startswith(d.audit.origin + "/restored-")
        restored.audit.verify()
    # The restore is in the ledger; the old deployment's ledger keeps growing.
    assert [e.kind for e in d.shred_ledger.entries()][-1] == "restore"


def test_without_the_ledger_the_restore_refuses_to_serve_until_overridden(
    world: RetentionWorld, tmp_path: Path
) -> None:
    d = world.deployment
    world.ingest("subj-de", "account.profile")
    backup_file = tmp_path / "b.servinfo-backup"
    _backup(world, backup_file)
    _erase(world, "subj-de")
    ledger_file = Path(d.shred_ledger.engine.url.database or "")
    d.shred_ledger.close()
    moved = ledger_file.with_name("moved.db")
    os.replace(ledger_file, moved)

    target = tmp_path / "restored"
    report = _restore(world, backup_file, target)
    assert not report.ledger_replayed
    with pytest.raises(DeploymentError, match="shred ledger was not replayed"):
        open_deployment(target, {})

    from servinfo.retention.restore import replay_ledger

    os.replace(moved, ledger_file)
    replayed = replay_ledger(target, {}, now=NOW + dt.timedelta(days=1))
    assert replayed.replayed["subjects_erased"] == 1
    with open_deployment(target, {}) as restored:
        assert all(w is None for _, c, w in _keys(restored, "subj-de") if c == "standard")


def test_an_override_is_audited(world: RetentionWorld, tmp_path: Path) -> None:
    d = world.deployment
    backup_file = tmp_path / "b.servinfo-backup"
    _backup(world, backup_file)
    target = tmp_path / "restored"
    report = _restore(
        world,
        backup_file,
        target,
        ledger_url="sqlite:///" + str(tmp_path / "nowhere" / "ledger.db"),
        without_ledger_reason="ledger host lost in the fire; approved by the DPO",
    )
    assert not report.ledger_replayed
    del d
    with open_deployment(target, {}) as restored:
        actions = [e.action for e in restored.audit.tail(10)]
        assert "restore_override" in actions


def test_an_expired_backup_cannot_be_opened(world: RetentionWorld, tmp_path: Path) -> None:
    d = world.deployment
    backup_file = tmp_path / "b.servinfo-backup"
    backup_id = _backup(world, backup_file)
    keep_for = load_policy(None).backups
    assert keep_for is not None
    assert keep_for.keep_for == "35 days"
    assert (
        expire_backups(
            d.backup_catalogue,
            d.shred_ledger,
            deployment_id=d.deployment_id,
            now=NOW + dt.timedelta(days=34),
        )
        == []
    )
    later = NOW + dt.timedelta(days=36)
    assert expire_backups(
        d.backup_catalogue, d.shred_ledger, deployment_id=d.deployment_id, now=later
    ) == [backup_id]
    entry = d.backup_catalogue.backup(backup_id)
    assert entry is not None
    assert entry.wrapped_key is None
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=f"backup {backup_id} expired on .*can no longer be"):
        _restore(world, backup_file, target, now=later)
    assert not target.exists()


def _leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if "restor" in p.name)


@pytest.mark.parametrize("damage", ["truncated", "tampered", "wrong_file", "header"])
def test_a_damaged_or_foreign_file_is_refused_and_nothing_is_left(
    sqlite_world: RetentionWorld, tmp_path: Path, damage: str
) -> None:
    world = sqlite_world
    world.ingest("subj-de", "account.profile")
    backup_file = tmp_path / "b.servinfo-backup"
    _backup(world, backup_file)
    data = bytearray(backup_file.read_bytes())
    if damage == "truncated":
        data = data[: len(data) - 100]
        expected = "damaged or was altered"
    elif damage == "tampered":
        data[len(data) // 2] ^= 0x01
        expected = "damaged or was altered"
    elif damage == "wrong_file":
        data = bytearray(b"PK\x03\x04 not a backup at all" * 10)
        expected = "is not a servinfo backup"
    else:
        data = data.replace(b'"backend":"sqlite"', b'"backend":"sqlitf"', 1)
        expected = "damaged or was altered"
    backup_file.write_bytes(bytes(data))
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=expected):
        _restore(world, backup_file, target)
    assert _leftovers(tmp_path) == []


def test_a_restore_never_writes_into_a_directory_that_holds_something(
    sqlite_world: RetentionWorld, tmp_path: Path
) -> None:
    backup_file = tmp_path / "b.servinfo-backup"
    _backup(sqlite_world, backup_file)
    target = tmp_path / "restored"
    target.mkdir()
    (target / "keep.txt").write_text("operator's file")
    with pytest.raises(BackupError, match="is not an empty directory"):
        _restore(sqlite_world, backup_file, target)
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


def test_a_backup_is_sealed_and_its_key_is_not_in_the_file(
    sqlite_world: RetentionWorld, tmp_path: Path
) -> None:
    world = sqlite_world
    world.ingest("subj-de", "account.profile")
    backup_file = tmp_path / "b.servinfo-backup"
    backup_id = _backup(world, backup_file)
    data = backup_file.read_bytes()
    assert b"SQLite format 3" not in data
    assert b"keyring" not in data
    assert b"ada@example.test" not in data
    entry = world.deployment.backup_catalogue.backup(backup_id)
    assert entry is not None
    assert entry.wrapped_key is not None
    assert entry.wrapped_key not in data
    header = json.loads(data[20 : 20 + int.from_bytes(data[16:20], "big")])
    assert header["backup_id"] == backup_id
    # Never over an existing file.
    with pytest.raises(BackupError, match="already exists"):
        _backup(world, backup_file)
    shutil.copyfile(backup_file, tmp_path / "copy")


def _one_line_error(done: Any) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return str(lines[0])


def test_the_commands_answer_bad_input_in_one_line_and_a_refusing_restore_too(
    tmp_path: Path,
) -> None:
    from tests.audit.test_witnessed import _servinfo

    from servinfo.deployment import create_deployment

    data_dir = tmp_path / "deployment"
    token = create_deployment(data_dir, {}, local_demo=True).admin_token
    data = ("--data-dir", str(data_dir))
    backup_file = tmp_path / "b.servinfo-backup"
    taken = _servinfo("backup", "--out", str(backup_file), *data, token=token)
    assert taken.returncode == 0, taken.stderr
    listed = _servinfo("backup", "list", "--json", *data, token=token)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["state"] == "open"

    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"\x00" * 4096)
    line = _one_line_error(_servinfo("restore", str(wrong), "--data-dir", str(tmp_path / "r1")))
    assert "is not a servinfo backup" in line
    truncated = tmp_path / "truncated.servinfo-backup"
    truncated.write_bytes(backup_file.read_bytes()[:-64])
    line = _one_line_error(_servinfo("restore", str(truncated), "--data-dir", str(tmp_path / "r2")))
    assert "damaged or was altered" in line
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    line = _one_line_error(_servinfo("restore", str(backup_file), "--data-dir", str(busy)))
    assert "is not an empty directory" in line
    assert sorted(p.name for p in tmp_path.iterdir() if "r1" in p.name or "r2" in p.name) == []

    # The ledger cannot be found: the restore says so, and the deployment refuses to serve.
    missing = "sqlite:///" + str(tmp_path / "elsewhere" / "shred-ledger.db")
    target = tmp_path / "restored"
    line = _one_line_error(
        _servinfo("restore", str(backup_file), "--data-dir", str(target), "--shred-ledger", missing)
    )
    assert "was not found: the deployment refuses to serve" in line
    line = _one_line_error(_servinfo("principals", "list", "--data-dir", str(target), token=token))
    assert "shred ledger was not replayed" in line
    line = _one_line_error(_servinfo("serve", "--data-dir", str(target)))
    assert "shred ledger was not replayed" in line
    accepted = _servinfo(
        "backup", "accept-restore", "--reason", "ledger lost; DPO approved", "--data-dir",
        str(target),
    )  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    assert "WITHOUT its shred ledger" in accepted.stderr
    listed = _servinfo("principals", "list", "--data-dir", str(target), token=token)
    assert listed.returncode == 0, listed.stderr


def test_the_daily_job_destroys_expired_backup_keys(
    sqlite_world: RetentionWorld, tmp_path: Path
) -> None:
    from servinfo.jobs import JobQueue
    from servinfo.jobs.kinds import BACKUP_EXPIRY, deployment_registry
    from servinfo.jobs.runner import Worker

    d = sqlite_world.deployment
    backup_id = _backup(sqlite_world, tmp_path / "b.servinfo-backup")
    registry = deployment_registry(d)
    assert any(s.kind == BACKUP_EXPIRY and s.daily_at for s in registry.schedules)
    later = NOW + dt.timedelta(days=40)
    queue = JobQueue(d.control)
    queue.enqueue(BACKUP_EXPIRY, {}, now=later)
    done = Worker(queue, registry, deployment=d, clock=lambda: later).run_one()
    assert done is not None
    assert (done.state, done.result) == ("done", {"destroyed": 1})
    entry = d.backup_catalogue.backup(backup_id)
    assert entry is not None
    assert entry.expired
    assert [e.kind for e in d.shred_ledger.entries()][-1] == "backup_key_destroyed"
    assert d.audit.tail(3)[-1].action in ("backup_expiry", "shred_ledger")


def test_a_postgresql_restore_refused_midway_drops_the_databases_it_created(
    world: RetentionWorld, tmp_path: Path
) -> None:
    template = _template(world)
    if template is None:
        pytest.skip("PostgreSQL only: SQLite restores create no databases")
    import psycopg
    from sqlalchemy import make_url

    backup_file = tmp_path / "b.servinfo-backup"
    _backup(world, backup_file)
    occupied = make_url(template.format(name="eu"))
    server = occupied.set(drivername="postgresql", database="postgres")
    admin_url = server.render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{occupied.database}"')
    target_url = occupied.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(target_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE operators_own (id integer)")
    with pytest.raises(BackupError, match=f"database {occupied.database} is not empty"):
        _restore(world, backup_file, tmp_path / "restored")
    prefix = template.split("/")[-1].replace("{name}", "")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        left = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname",
            (prefix + "%",),
        ).fetchall()
    assert [name for (name,) in left] == [occupied.database]
    assert _leftovers(tmp_path) == []
