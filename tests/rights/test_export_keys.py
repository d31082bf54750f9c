"""Each export under its own key, destroyed with the export when it expires.

What an attacker keeps is modelled literally: the sealed bytes of an export
copied out before its purge, then everything the data directory holds after
it (the keyring, the master key, every database file and side file).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, update
from tests.api.serving import serving
from tests.rights.world import NOW, World, build_world
from tests.support import PostgresDatabases
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.crypto import DataKey, IntegrityError, KekWrapper, RecordBinding, Sealer
from servinfo.rights import ExportUnavailable
from servinfo.rights.models import ExportKeyRow, ExportRow
from servinfo.rights.purge import purge_expired_exports

TTL = dt.timedelta(days=30)
LATER = NOW + TTL + dt.timedelta(days=1)


def _purge(world: World, *, actor: str, now: dt.datetime | None = None) -> int:
    return purge_expired_exports(world.rights.exports, world.deployment.audit, actor=actor, now=now)


def _exported(world: World, subject: str = "subj-de", now: dt.datetime = NOW) -> str:
    rights = world.rights
    opened = rights.open("access", subject, channel="cli", actor="dpo", verified=True, now=now)
    assert rights.process(opened.request_id, actor="dpo", now=now).state == "completed"
    return opened.request_id


def _stored(engine: Engine, request_id: str) -> tuple[str, str, bytes, bytes | None]:
    """The export's id, kind, sealed bytes and wrapped key, as a copy of the rows would hold."""
    with engine.connect() as connection:
        row = connection.execute(
            select(ExportRow.id, ExportRow.kind, ExportRow.sealed, ExportKeyRow.wrapped)
            .outerjoin(ExportKeyRow, ExportKeyRow.export_id == ExportRow.id)
            .where(ExportRow.request_id == request_id)
        ).one()
    return row.id, row.kind, bytes(row.sealed), None if row.wrapped is None else bytes(row.wrapped)


def _count(engine: Engine, table: type[ExportRow] | type[ExportKeyRow]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _binding(export_id: str, kind: str, subject: str = "subj-de") -> RecordBinding:
    return RecordBinding(export_id, subject, "export", kind, "control", 1)


def _files(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


def test_two_exports_have_different_keys_and_a_fresh_one_opens(world: World) -> None:
    first, second = _exported(world), _exported(world)
    engine = world.deployment.control
    id_1, kind_1, sealed_1, wrapped_1 = _stored(engine, first)
    id_2, kind_2, sealed_2, wrapped_2 = _stored(engine, second)
    assert wrapped_1 is not None
    assert wrapped_2 is not None
    keyring = world.deployment.keyring
    kek = KekWrapper(keyring.current("export"))
    key_1 = kek.unwrap(wrapped_1, json.dumps(["export", id_1, "subj-de", kind_1]))
    key_2 = kek.unwrap(wrapped_2, json.dumps(["export", id_2, "subj-de", kind_2]))
    assert key_1 != key_2
    assert Sealer(DataKey(id_1, key_1)).open(_binding(id_1, kind_1), sealed_1)
    with pytest.raises(IntegrityError):  # one export's key does not open the other
        Sealer(DataKey(id_2, key_1)).open(_binding(id_2, kind_2), sealed_2)
    # No keyring key opens an export by itself any more.
    for purpose in keyring.purposes():
        for version in keyring.versions(purpose):
            with pytest.raises(IntegrityError):
                Sealer(DataKey(version.key_id, version.secret)).open(
                    _binding(id_1, kind_1), sealed_1
                )
    info, blob = world.rights.export_archive(first, now=NOW)
    assert blob.startswith(b"PK")
    assert info.size == len(blob)


def test_a_key_moved_to_another_export_does_not_open_it(world: World) -> None:
    first, second = _exported(world), _exported(world)
    engine = world.deployment.control
    id_1, _, _, wrapped_1 = _stored(engine, first)
    id_2, _, _, _ = _stored(engine, second)
    with engine.begin() as connection:
        connection.execute(
            update(ExportKeyRow).where(ExportKeyRow.export_id == id_2).values(wrapped=wrapped_1)
        )
    with pytest.raises(ExportUnavailable, match="does not open"):
        world.rights.export_archive(second, now=NOW)
    with engine.begin() as connection:
        connection.execute(delete(ExportKeyRow).where(ExportKeyRow.export_id == id_1))
    with pytest.raises(ExportUnavailable, match="does not open"):
        world.rights.export_archive(first, now=NOW)


def test_a_purged_export_does_not_open_with_everything_left_in_the_data_directory(
    world: World,
) -> None:
    request_id = _exported(world)
    fresh = _exported(world, "subj-fr", now=LATER)
    engine = world.deployment.control
    export_id, kind, sealed, wrapped = _stored(engine, request_id)
    keyring = world.deployment.keyring
    assert wrapped is not None
    data_key = KekWrapper(keyring.current("export")).unwrap(
        wrapped, json.dumps(["export", export_id, "subj-de", kind])
    )
    engine.dispose()
    assert wrapped in _files(world.data_dir)  # the check below can see the key

    assert _purge(world, actor="dpo", now=LATER) == 1

    engine.dispose()
    left = _files(world.data_dir)
    assert wrapped not in left
    assert data_key not in left
    binding = _binding(export_id, kind)
    keyring.reload()
    for purpose in keyring.purposes():
        for version in keyring.versions(purpose):
            with pytest.raises(IntegrityError):
                Sealer(DataKey(version.key_id, version.secret)).open(binding, sealed)
    assert _count(engine, ExportRow) == _count(engine, ExportKeyRow) == 1
    assert world.rights.export_archive(fresh, now=LATER)[1].startswith(b"PK")


def _dsr(world: World, who: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["dsr", *args, "--data-dir", str(world.data_dir), "--token", world.tokens[who]],
    )
    # A refusal reaches the runner as the exception the command raised.
    return result.exit_code, result.output + (
        str(result.exception or "") if result.exit_code else ""
    )


def test_dsr_purge_exports_deletes_expired_exports_and_is_audited(world: World) -> None:
    expired = _exported(world)  # created at NOW, long before today
    fresh = _exported(world, "subj-fr", now=dt.datetime.now(dt.UTC))
    code, out = _dsr(world, "support-eu", "purge-exports")
    assert code != 0
    assert "handle_requests" in out
    code, out = _dsr(world, "dpo", "purge-exports", "--json")
    assert code == 0, out
    assert json.loads(out) == {"purged": 1}
    engine = world.deployment.control
    assert _count(engine, ExportRow) == _count(engine, ExportKeyRow) == 1
    assert world.rights.exports.latest(expired) is None
    assert world.rights.exports.latest(fresh) is not None
    (entry,) = [e for e in world.deployment.audit.tail(50) if e.action == "export_purge"]
    assert (entry.actor, entry.outcome, dict(entry.details)) == ("dpo", "purged", {"purged": 1})
    code, out = _dsr(world, "dpo", "purge-exports")
    assert (code, out.strip()) == (0, "purged 0 expired exports")


def test_servinfo_serve_with_two_workers_purges_each_expired_export_once(
    world: World, tmp_path: Path
) -> None:
    for subject in ("subj-de", "subj-fr", "subj-ca"):
        _exported(world, subject)
    fresh = _exported(world, "subj-gb", now=dt.datetime.now(dt.UTC))
    engine = world.deployment.control
    with serving(world.data_dir, tmp_path / "serve.log", workers=2):
        # The job worker serve starts runs the hour's export_purge soon after it starts.
        deadline = time.monotonic() + 60
        while _count(engine, ExportRow) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _count(engine, ExportRow) == _count(engine, ExportKeyRow) == 1
        assert world.rights.exports.latest(fresh) is not None
    entries = [e for e in world.deployment.audit.tail(50) if e.action == "export_purge"]
    assert [(e.actor, dict(e.details)) for e in entries] == [("servinfo-worker", {"purged": 3})]


def test_the_scheduled_purge_runs_once_an_hour(world: World) -> None:
    from servinfo.jobs import Worker
    from servinfo.jobs.kinds import EXPORT_PURGE, deployment_registry

    clock = [LATER.replace(minute=10)]
    worker = Worker(
        world.deployment.jobs.queue,
        deployment_registry(world.deployment),
        deployment=world.deployment,
        clock=lambda: clock[0],
    )
    worker.run_until_idle()  # this hour's run, with nothing to purge
    _exported(world)
    clock[0] = LATER.replace(minute=50)
    worker.run_until_idle()  # the same hour: not run again
    assert _count(world.deployment.control, ExportRow) == 1
    clock[0] = LATER.replace(minute=10) + dt.timedelta(hours=1)
    worker.run_until_idle()
    assert _count(world.deployment.control, ExportRow) == 0
    runs = world.deployment.jobs.queue.list(kind=EXPORT_PURGE)
    assert [(j.state, j.result) for j in runs] == [("done", {"purged": 1}), ("done", {"purged": 0})]
    entries = [e for e in world.deployment.audit.tail(50) if e.action == "export_purge"]
    # Runs that found nothing leave no entry; the one that purged does.
    assert [(e.actor, dict(e.details)) for e in entries] == [("servinfo-worker", {"purged": 1})]


def test_api_answers_410_before_and_after_the_purge(world: World) -> None:
    request_id = _exported(world)
    url = f"/v1/requests/{request_id}/export"
    before = world.client.get(url, headers=world.headers("ada"))
    assert before.status_code == 410
    assert before.json()["error"] == "export_unavailable"
    assert "expired" in before.json()["detail"]
    _purge(world, actor="dpo")
    after = world.client.get(url, headers=world.headers("ada"))
    assert after.status_code == 410
    assert after.json()["error"] == "export_unavailable"
    assert "expired" in after.json()["detail"]
    assert "deleted" in after.json()["detail"]
    never = world.rights.open("access", "subj-de", channel="cli", actor="dpo", verified=True)
    unprocessed = world.client.get(
        f"/v1/requests/{never.request_id}/export", headers=world.headers("ada")
    )
    assert unprocessed.status_code == 410
    assert "process it first" in unprocessed.json()["detail"]


def test_erasure_destroys_the_export_keys(world: World) -> None:
    _exported(world, now=dt.datetime.now(dt.UTC))
    engine = world.deployment.control
    assert _count(engine, ExportKeyRow) == 1
    erasure = world.rights.open("erasure", "subj-de", channel="cli", actor="dpo", verified=True)
    world.rights.process(erasure.request_id, actor="dpo")
    assert _count(engine, ExportRow) == _count(engine, ExportKeyRow) == 0


def _concurrent_purges(world: World) -> None:
    for subject in ("subj-de", "subj-fr", "subj-ca", "subj-gb"):
        _exported(world, subject)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        counts = list(
            pool.map(
                lambda _: _purge(world, actor="servinfo-serve", now=LATER),
                range(4),
            )
        )
    assert sum(counts) == 4
    assert _count(world.deployment.control, ExportRow) == 0
    assert _count(world.deployment.control, ExportKeyRow) == 0


def test_purges_running_at_once_purge_each_export_once(world: World) -> None:
    _concurrent_purges(world)


@pytest.mark.postgres
def test_export_keys_on_postgresql(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    with build_world(tmp_path, postgres_databases.url_template) as world:
        assert world.deployment.control.dialect.name == "postgresql"
        request_id = _exported(world)
        with pytest.raises(ExportUnavailable, match="expired"):
            world.rights.export_archive(request_id, now=LATER)
        assert world.rights.export_archive(request_id, now=NOW)[1].startswith(b"PK")
        assert _purge(world, actor="dpo", now=LATER) == 1
        with pytest.raises(ExportUnavailable, match="deleted"):
            world.rights.export_archive(request_id, now=LATER)
        _concurrent_purges(world)
