"""The sweep deletes what expired and nothing else, on SQLite and PostgreSQL.

An open account's profile is never deleted; holds and open requests keep what
they must (and the sweep says which kept what); a rerun changes nothing; a
sweep interrupted between batches finishes on the next run; data keys no
record is sealed under any more are destroyed; the audit entry counts per kind
and names no one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection, event, select
from tests.retention.world import COLLECTED, RetentionWorld

from servinfo.retention.schedule import PROVISIONAL
from servinfo.retention.sweep import Keepers, Progress, SweepReport, run_sweep, sweep_region
from servinfo.store import NewRecord, expiry
from servinfo.store.engines import writers_waiting
from servinfo.store.models import DataKeyRow, RecordRow

#: The day after telemetry.status (90 days) collected on 2 March 2026 expired.
AFTER_STATUS = dt.date(2026, 6, 1)
FAR = dt.date(2126, 1, 1)


def test_a_profile_of_an_open_account_is_never_deleted(world: RetentionWorld) -> None:
    profile = world.ingest("subj-de", "account.profile")
    settings = world.ingest("subj-de", "settings.feature")
    # A record stored with an early end (collection + period, as ingest once did).
    early = world.deployment.writer.put(
        NewRecord(
            subject_id="subj-de",
            category="account",
            kind="account.profile",
            source="identity",
            collected_at=COLLECTED,
            fields={"username": "ada-old"},
            retention_class="standard",
            retain_until=dt.date(2026, 4, 1),
        )
    )
    report = world.sweep(FAR)
    assert report.deleted == {}
    assert report.provisional == {"account.profile": 1}
    for record_id in (profile, settings, early):
        assert world.exists(record_id, "subj-de")
        assert world.retain_until(record_id, "subj-de") == PROVISIONAL
    assert {profile, settings, early} <= world.readable("subj-de", FAR)


def test_reopening_makes_the_ends_provisional_again(world: RetentionWorld) -> None:
    profile = world.ingest("subj-de", "account.profile")
    world.report_subject("subj-de", closed_at="2026-06-10T08:00:00+00:00")
    assert world.sweep(dt.date(2026, 6, 10)).closures_settled == 1
    assert world.retain_until(profile, "subj-de") == dt.date(2026, 7, 10)
    assert world.report_subject("subj-de", closed_at=None).status == "reopened"
    report = world.sweep(dt.date(2026, 8, 1))
    assert report.closures_settled == 1
    assert report.deleted == {}
    assert world.retain_until(profile, "subj-de") == PROVISIONAL
    assert world.deployment.directory.get_subject("subj-de").closed_at is None


def test_holds_keep_what_they_must_and_say_what_they_kept(world: RetentionWorld) -> None:
    ledgers = world.deployment.ledgers
    held = world.ingest("subj-de", "telemetry.status")
    by_partner = world.ingest("subj-fr", "telemetry.status")
    free = world.ingest("subj-ca", "telemetry.status")
    on_subject = ledgers.place_hold(subject_id="subj-de", reason="case 1", actor="admin")
    # A hold on the partner covers its customer organization's users.
    on_partner = ledgers.place_hold(org_id="org-partner", reason="case 2", actor="admin")

    report = world.sweep(AFTER_STATUS)
    assert report.deleted == {}
    # subj-de's organization is the partner's customer: both holds cover it.
    assert report.kept_by_hold == {
        on_subject.hold_id: {"telemetry.status": 1},
        on_partner.hold_id: {"telemetry.status": 2},
    }
    assert world.exists(held, "subj-de")
    assert world.exists(by_partner, "subj-fr")
    # What a hold keeps stays readable (for the legal claims it is kept for).
    assert held in world.readable("subj-de", AFTER_STATUS)
    assert world.sweep(AFTER_STATUS, "us").deleted == {"telemetry.status": 1}
    assert not world.exists(free, "subj-ca")

    ledgers.release_hold(on_partner.hold_id, "admin")
    report = world.sweep(AFTER_STATUS)
    assert report.deleted == {"telemetry.status": 1}
    assert report.kept_by_hold == {on_subject.hold_id: {"telemetry.status": 1}}
    assert not world.exists(by_partner, "subj-fr")
    assert world.exists(held, "subj-de")
    ledgers.release_hold(on_subject.hold_id, "admin")
    assert world.sweep(AFTER_STATUS).deleted == {"telemetry.status": 1}
    assert not world.exists(held, "subj-de")


def test_an_open_request_keeps_the_records_it_needs(world: RetentionWorld) -> None:
    rights = world.deployment.rights
    record_id = world.ingest("subj-de", "telemetry.status")
    request = rights.open("access", "subj-de", channel="cli", actor="admin", verified=True)
    report = world.sweep(AFTER_STATUS)
    assert report.deleted == {}
    assert report.kept_by_request == {request.request_id: {"telemetry.status": 1}}
    assert world.exists(record_id, "subj-de")
    rights.refuse(request.request_id, "manifestly unfounded (test)", actor="admin")
    assert world.sweep(AFTER_STATUS).deleted == {"telemetry.status": 1}
    assert not world.exists(record_id, "subj-de")


def _live_keys(world: RetentionWorld, subject: str) -> list[tuple[str, str]]:
    with world.engine(subject).connect() as connection:
        rows = connection.execute(
            select(DataKeyRow.id, DataKeyRow.retention_class).where(
                DataKeyRow.subject_id == subject, DataKeyRow.wrapped.is_not(None)
            )
        )
        return sorted((key_id, retention_class) for key_id, retention_class in rows)


def test_keys_nothing_is_sealed_under_are_destroyed_and_a_rerun_changes_nothing(
    world: RetentionWorld,
) -> None:
    status = world.ingest("subj-de", "telemetry.status")  # standard, 90 days
    charge = world.ingest("subj-de", "payments.charge")  # legal_obligation, 10 years
    assert sorted(c for _, c in _live_keys(world, "subj-de")) == ["legal_obligation", "standard"]
    report = world.sweep(AFTER_STATUS)
    assert report.deleted == {"telemetry.status": 1}
    assert report.keys_destroyed == 1
    assert [c for _, c in _live_keys(world, "subj-de")] == ["legal_obligation"]
    assert not world.exists(status, "subj-de")
    assert world.exists(charge, "subj-de")
    before = world.counts()
    again = world.sweep(AFTER_STATUS)
    assert (again.deleted, again.keys_destroyed, again.kept_total) == ({}, 0, 0)
    assert world.counts() == before
    # The subject's standard-class records get a fresh key, and are readable.
    later = world.ingest("subj-de", "telemetry.status", COLLECTED + dt.timedelta(days=60))
    assert later in world.readable("subj-de", AFTER_STATUS)


def test_a_key_still_sealing_a_live_record_is_kept(world: RetentionWorld) -> None:
    old = world.ingest("subj-de", "telemetry.status")
    young = world.ingest("subj-de", "telemetry.auth_event")  # one year: same key
    report = world.sweep(AFTER_STATUS)
    assert report.deleted == {"telemetry.status": 1}
    assert report.keys_destroyed == 0
    assert young in world.readable("subj-de", AFTER_STATUS)
    assert not world.exists(old, "subj-de")


def test_a_sweep_interrupted_between_batches_finishes_on_the_next_run(
    world: RetentionWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_window_a_transaction(monkeypatch)
    ids = [
        world.ingest("subj-de", "telemetry.status", COLLECTED + dt.timedelta(minutes=i))
        for i in range(5)
    ]
    # A live record of the same month: on PostgreSQL the month's partition is then
    # swept batch by batch, not dropped whole.
    world.ingest("subj-fr", "telemetry.usage", COLLECTED)
    now = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)

    class Crash(Exception):
        pass

    def crash_after_two(done: int, total: int) -> None:
        if done >= 2:
            raise Crash

    def sweep(progress: Progress | None = None) -> dict[str, int]:
        return dict(_sweep_eu(world, now, batch_size=1, progress=progress).deleted)

    with pytest.raises(Crash):
        sweep(crash_after_two)
    assert sum(world.exists(i, "subj-de") for i in ids) == 3
    assert sweep() == {"telemetry.status": 3}  # the rest, once
    assert not any(world.exists(i, "subj-de") for i in ids)
    assert sweep() == {}
    assert _live_keys(world, "subj-de") == []


def test_a_dry_run_changes_nothing(world: RetentionWorld) -> None:
    record_id = world.ingest("subj-de", "telemetry.status")
    before = world.counts()
    report = world.sweep(AFTER_STATUS, dry_run=True)
    assert report.dry_run
    assert report.deleted == {"telemetry.status": 1}
    assert world.counts() == before
    assert world.exists(record_id, "subj-de")


def test_one_audit_entry_per_sweep_and_region_counts_kinds_and_names_no_one(
    world: RetentionWorld,
) -> None:
    world.ingest("subj-de", "telemetry.status")
    world.ingest("subj-fr", "telemetry.status")
    audit = world.deployment.audit
    size = audit.size()
    report = world.sweep(AFTER_STATUS)
    assert audit.size() == size + 1
    [entry] = audit.entries(size, size + 1)
    assert report.audit_seq == entry.seq
    assert entry.action == "retention_sweep"
    assert entry.details["region"] == "eu"
    assert entry.details["deleted.telemetry.status"] == 2
    assert entry.subject_pseudonym is None
    assert not entry.record_ids
    assert b"subj-" not in entry.canonical_bytes()


def test_records_kept_past_their_retention_are_flagged_and_unflagged(
    world: RetentionWorld,
) -> None:
    record_id = world.ingest("subj-de", "telemetry.status")
    hold = world.deployment.ledgers.place_hold(subject_id="subj-de", reason="x", actor="admin")

    def flagged() -> bool:
        with world.engine("subj-de").connect() as connection:
            return bool(
                connection.scalar(select(RecordRow.legal_hold).where(RecordRow.id == record_id))
            )

    world.sweep(AFTER_STATUS)
    assert flagged()
    world.deployment.ledgers.release_hold(hold.hold_id, "admin")
    # Released but not yet swept: still flagged, so served until the next sweep deletes it.
    assert record_id in world.readable("subj-de", AFTER_STATUS)
    world.sweep(AFTER_STATUS)
    assert not world.exists(record_id, "subj-de")


def test_a_stored_end_earlier_than_the_policy_s_moves_to_the_policy_s(
    world: RetentionWorld,
) -> None:
    # Stored with 90 days, though the policy keeps sign-in events a year (the
    # period the notice shows): the sweep keeps it, and stores the policy's end.
    record_id = world.deployment.writer.put(
        NewRecord(
            subject_id="subj-de",
            category="telemetry",
            kind="telemetry.auth_event",
            source="identity",
            collected_at=COLLECTED,
            fields={"event": "login_success"},
            retention_class="standard",
            retain_until=dt.date(2026, 5, 31),
        )
    )
    report = world.sweep(AFTER_STATUS)
    assert report.deleted == {}
    assert report.extended == {"telemetry.auth_event": 1}
    assert world.retain_until(record_id, "subj-de") == dt.date(2027, 3, 2)


class _Crash(Exception):
    pass


def _progress_rows(world: RetentionWorld) -> int:
    with world.deployment.regions["eu"].connect() as connection:
        return sum(
            int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())  # noqa: S608
            for table in ("sweep_progress", "sweep_seals")
        )


def _sweep_entries(world: RetentionWorld, start: int) -> list[dict[str, object]]:
    audit = world.deployment.audit
    return [
        dict(e.details) for e in audit.entries(start, audit.size()) if e.action == "retention_sweep"
    ]


def _one_window_a_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every window of the walk commits on its own (on SQLite several share a transaction)."""
    monkeypatch.setattr(expiry, "_WINDOWS_PER_TRANSACTION", 1)


def _one_record_a_batch(world: RetentionWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = world.deployment
    monkeypatch.setattr(
        deployment, "settings", dataclasses.replace(deployment.settings, retention_batch_size=1)
    )


def test_the_audit_entry_of_a_sweep_interrupted_between_batches_counts_every_attempt(
    world: RetentionWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records the interrupted attempt deleted are counted in the one entry of the sweep."""
    ids = [
        world.ingest("subj-de", "telemetry.status", COLLECTED + dt.timedelta(minutes=i))
        for i in range(5)
    ]
    # A live record of the same month: on PostgreSQL the month's partition is then
    # swept batch by batch, not dropped whole.
    world.ingest("subj-fr", "telemetry.usage", COLLECTED)
    _one_record_a_batch(world, monkeypatch)
    _one_window_a_transaction(monkeypatch)
    start = world.deployment.audit.size()
    now = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)

    def crash_after_two(done: int, total: int) -> None:
        if done >= 2:
            raise _Crash

    with pytest.raises(_Crash):
        run_sweep(world.deployment, "eu", now=now, sweep_id="job-1", progress=crash_after_two)
    assert sum(world.exists(i, "subj-de") for i in ids) == 3
    assert _sweep_entries(world, start) == []
    report = run_sweep(world.deployment, "eu", now=now, sweep_id="job-1")
    assert not any(world.exists(i, "subj-de") for i in ids)
    assert report.deleted == {"telemetry.status": 5}
    [entry] = _sweep_entries(world, start)
    assert entry["deleted"] == 5
    assert entry["deleted.telemetry.status"] == 5
    assert entry["keys_destroyed"] == report.keys_destroyed == 1
    assert (entry["sweep"], entry["attempts"]) == ("job-1", 2)
    assert _progress_rows(world) == 0
    # The next sweep counts from nothing.
    again = run_sweep(world.deployment, "eu", now=now, sweep_id="job-2")
    assert again.deleted == {}
    assert _sweep_entries(world, start)[-1]["attempts"] == 1


def test_a_sweep_interrupted_inside_a_transaction_of_several_windows_undoes_them_and_their_counts(
    sqlite_world: RetentionWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the walk runs several windows in one transaction: interrupted before its
    commit, none of them happened, counts included; the rerun deletes and counts them once."""
    world = sqlite_world
    ids = [
        world.ingest("subj-de", "telemetry.status", COLLECTED + dt.timedelta(minutes=i))
        for i in range(5)
    ]
    _one_record_a_batch(world, monkeypatch)
    start = world.deployment.audit.size()
    now = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)
    windows: list[int] = []

    def crash_at_four(done: int, total: int) -> None:
        windows.append(done)
        if done >= 4:
            raise _Crash

    with pytest.raises(_Crash):
        run_sweep(
            world.deployment,
            "eu",
            now=now,
            sweep_id="job-1",
            progress=crash_at_four,
        )
    assert len(windows) >= 4  # four windows or more, none committed
    assert all(world.exists(i, "subj-de") for i in ids)
    with world.deployment.regions["eu"].connect() as connection:
        assert (
            connection.exec_driver_sql(
                "SELECT count(*) FROM sweep_progress WHERE outcome = 'deleted'"
            ).scalar_one()
            == 0
        )
    report = run_sweep(world.deployment, "eu", now=now, sweep_id="job-1")
    assert not any(world.exists(i, "subj-de") for i in ids)
    assert report.deleted == {"telemetry.status": 5}
    [entry] = _sweep_entries(world, start)
    assert (entry["deleted"], entry["sweep"], entry["attempts"]) == (5, "job-1", 2)


@pytest.mark.parametrize("crash", ["before_the_entry", "after_the_entry"])
def test_a_sweep_that_crashed_around_its_audit_entry_writes_it_once_on_rerun(
    world: RetentionWorld, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    """Between the entry's commit (control database) and the clearing of the sweep's
    progress (region database), or just before the entry: the rerun writes no second
    entry, and the one there counts what was deleted once."""
    ids = [
        world.ingest("subj-de", "telemetry.status", COLLECTED + dt.timedelta(minutes=i))
        for i in range(3)
    ]
    _one_record_a_batch(world, monkeypatch)
    audit = world.deployment.audit
    start = audit.size()
    now = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)
    record = audit.record

    def record_then_crash(*args: Any, **kwargs: Any) -> int:
        if crash == "after_the_entry":
            record(*args, **kwargs)
        raise _Crash

    monkeypatch.setattr(audit, "record", record_then_crash)
    with pytest.raises(_Crash):
        run_sweep(world.deployment, "eu", now=now, sweep_id="job-1")
    monkeypatch.setattr(audit, "record", record)
    assert not any(world.exists(i, "subj-de") for i in ids)
    assert len(_sweep_entries(world, start)) == (crash == "after_the_entry")
    # Expired since: not this sweep's to delete (it was sealed before).
    late = world.ingest("subj-de", "telemetry.status", COLLECTED)
    report = run_sweep(world.deployment, "eu", now=now, sweep_id="job-1")
    [entry] = _sweep_entries(world, start)
    assert (entry["deleted"], entry["deleted.telemetry.status"]) == (3, 3)
    assert entry["attempts"] == 1
    assert report.deleted == {"telemetry.status": 3}
    assert report.audit_seq is not None
    assert audit.entries(report.audit_seq, report.audit_seq + 1)[0].details == entry
    assert _progress_rows(world) == 0
    assert world.exists(late, "subj-de")
    assert run_sweep(world.deployment, "eu", now=now, sweep_id="job-2").deleted == {
        "telemetry.status": 1
    }


def test_the_walk_in_physical_order_deletes_every_expired_record_a_batch_at_a_time(
    world: RetentionWorld,
) -> None:
    # Expired records scattered among live ones, and one more expired record
    # written while the sweep runs (behind or past its walk): all go, no batch
    # deletes more than the batch size, every live record stays. (Live records of
    # the same month and category: on PostgreSQL, their partition is walked too.)
    # The writer gets in after at most one more window, though on SQLite several
    # windows share a transaction.
    expired, live = [], []
    for i in range(40):
        at = COLLECTED + dt.timedelta(minutes=i)
        if i % 3:
            live.append(world.ingest("subj-de", "telemetry.usage", at))
        else:
            expired.append(world.ingest("subj-de", "telemetry.status", at))
    steps: list[int] = []
    arrived: list[int] = []  # the windows done when the writer was queued, and when it got in

    def write() -> None:
        expired.append(world.ingest("subj-de", "telemetry.status", COLLECTED))

    writer = threading.Thread(target=write)  # ingest beside the sweep, as in a server
    eu = world.deployment.regions["eu"]

    @event.listens_for(eu, "commit")
    def committed(connection: Connection) -> None:
        if threading.current_thread() is writer:
            arrived.append(len(steps))

    def progress(done: int, total: int) -> None:
        steps.append(done)
        if len(steps) == 2:
            writer.start()
            # Queued behind the sweep's open transaction (SQLite), or done (PostgreSQL:
            # a transaction a window, committed before this call).
            deadline = time.monotonic() + 10
            with eu.connect() as connection:
                while writer.is_alive() and not writers_waiting(connection):
                    assert time.monotonic() < deadline, "the writer never queued"
                    time.sleep(0.001)
            arrived.append(len(steps))

    report = _sweep_eu(world, dt.datetime(2026, 6, 15, tzinfo=dt.UTC), 3, progress)
    writer.join(10)
    assert len(expired) == 15  # the writer's record too
    assert report.deleted == {"telemetry.status": len(expired)}
    assert not any(world.exists(i, "subj-de") for i in expired)
    assert all(world.exists(i, "subj-de") for i in live)
    assert all(0 <= b - a <= 3 for a, b in zip([0, *steps], steps, strict=False))
    queued, got_in = arrived
    assert got_in - queued <= 1, f"the writer waited {got_in - queued} windows"


def _sweep_eu(
    world: RetentionWorld, now: dt.datetime, batch_size: int, progress: Progress | None
) -> SweepReport:
    """A sweep of region eu with no keepers, in batches of ``batch_size``."""
    deployment = world.deployment
    return sweep_region(
        policy=deployment.policy,
        directory=deployment.directory,
        region="eu",
        engine=deployment.regions["eu"],
        keepers=Keepers(),
        now=now,
        batch_size=batch_size,
        progress=progress,
    )
