"""PostgreSQL: a month of telemetry is dropped whole once every record in it expired.

A month partition goes only when the sweep proved that each of its records is
one it would delete anyway (past every regime's period, not kept, of a subject
and organization nothing keeps); otherwise the month is swept row by row. The
audit entry counts what the drop deleted; data keys nothing is sealed under any
more are destroyed as after any deletion; reads and ingest go on after it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from tests.retention.world import COLLECTED, RetentionWorld

from servinfo.store.partitions import record_leaves

#: The day after telemetry.status (90 days) collected on 2 March 2026 expired.
AFTER_STATUS = dt.date(2026, 6, 1)
MARCH = "records_telemetry_2026_03"

pytestmark = pytest.mark.postgres


def _tables(world: RetentionWorld) -> set[str]:
    return {leaf.name for leaf in record_leaves(world.deployment.regions["eu"])}


def _partition_of(world: RetentionWorld, record_id: str) -> str:
    with world.deployment.regions["eu"].connect() as connection:
        return str(
            connection.exec_driver_sql(
                "SELECT tableoid::regclass::text FROM records WHERE id = %s", (record_id,)
            ).scalar_one()
        )


def test_a_month_whose_every_record_expired_is_dropped_and_counted(
    pg_world: RetentionWorld,
) -> None:
    world = pg_world
    gone = [
        world.ingest("subj-de", "telemetry.status"),
        world.ingest("subj-fr", "telemetry.status"),
    ]
    # Kept: a profile (another category), telemetry of a later month still in its period.
    profile = world.ingest("subj-de", "account.profile")
    later = world.ingest("subj-de", "telemetry.auth_event", COLLECTED + dt.timedelta(days=31))
    assert {_partition_of(world, i) for i in gone} == {MARCH}
    assert _partition_of(world, profile) == "records_other"
    assert _partition_of(world, later) == "records_telemetry_2026_04"
    audit = world.deployment.audit
    size = audit.size()

    report = world.sweep(AFTER_STATUS)

    assert MARCH not in _tables(world)
    assert report.deleted == {"telemetry.status": 2}
    # subj-fr's standard key sealed its one status record alone; subj-de's still seals
    # the authentication event.
    assert report.keys_destroyed == 1
    [entry] = audit.entries(size, size + 1)
    assert entry.details["deleted"] == 2
    assert entry.details["deleted.telemetry.status"] == 2
    assert entry.details["keys_destroyed"] == 1
    assert not any(world.exists(i, "subj-de") for i in gone)
    assert world.readable("subj-de", AFTER_STATUS) == {profile, later}
    assert world.readable("subj-fr", AFTER_STATUS) == set()
    # A record of the dropped month reported late makes the month again.
    late = world.ingest("subj-fr", "telemetry.status", COLLECTED - dt.timedelta(days=1))
    assert _partition_of(world, late) == MARCH
    # ... and the next sweep drops it again.
    again = world.sweep(AFTER_STATUS)
    assert again.deleted == {"telemetry.status": 1}
    assert MARCH not in _tables(world)
    assert world.readable("subj-de", AFTER_STATUS) == {profile, later}


def test_a_month_with_one_held_record_is_swept_row_by_row(pg_world: RetentionWorld) -> None:
    world = pg_world
    held = world.ingest("subj-de", "telemetry.status")
    other = world.ingest("subj-fr", "telemetry.status")
    hold = world.deployment.ledgers.place_hold(subject_id="subj-de", reason="x", actor="admin")

    report = world.sweep(AFTER_STATUS)

    assert MARCH in _tables(world)
    assert report.deleted == {"telemetry.status": 1}
    assert report.kept_by_hold == {hold.hold_id: {"telemetry.status": 1}}
    assert world.exists(held, "subj-de")
    assert not world.exists(other, "subj-fr")
    assert world.readable("subj-de", AFTER_STATUS) == {held}

    # Released: the kept record is deleted by the kept pass (the month still holds a
    # record marked kept when the sweep looks at it), and the empty month goes next.
    world.deployment.ledgers.release_hold(hold.hold_id, "admin")
    report = world.sweep(AFTER_STATUS)
    assert report.deleted == {"telemetry.status": 1}
    assert not world.exists(held, "subj-de")
    assert MARCH in _tables(world)
    assert world.sweep(AFTER_STATUS).deleted == {}
    assert MARCH not in _tables(world)


def test_a_month_with_a_record_an_open_request_needs_is_not_dropped(
    pg_world: RetentionWorld,
) -> None:
    world = pg_world
    needed = world.ingest("subj-de", "telemetry.status")
    world.deployment.rights.open("access", "subj-de", channel="cli", actor="admin", verified=True)

    report = world.sweep(AFTER_STATUS)

    assert MARCH in _tables(world)
    assert report.deleted == {}
    assert world.exists(needed, "subj-de")
