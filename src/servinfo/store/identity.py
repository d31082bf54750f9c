"""What each database is: its deployment, its role and its generation (the store stamp).

Every database of a deployment carries one ``store_stamp`` row:

* ``deployment_id``: random, chosen at ``servinfo init`` (or at ``servinfo
  upgrade`` for a deployment created before stamps), the same in every database
  of the deployment;
* ``role`` and ``region``: ``control``, or ``region`` and the region's id;
* ``generation``: 1 when stamped, raised by :func:`bump_generation` on every
  restore of that database.

The control database also records the generation it expects of each region
(``region_generations``). :func:`verify_stores` compares them when a deployment
is opened, and the health checks compare them again while it serves: a database
of another deployment (*foreign*), one put in another's place (*misplaced*:
us.db where eu.db belongs, a control database where a region's belongs), or an
older copy than the last restore left (*stale*) is refused with
:class:`StoreMismatch`, naming the database and what differs — before it can
answer reads with nothing or take in records that belong elsewhere.

A copy of the control database older than a region's last restore shows as a
region *newer* than expected; an older control database that no region restore
has followed since cannot be told from the current one (see docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, insert, inspect, select, update

from servinfo.store.engines import write_transaction
from servinfo.store.errors import StoreError
from servinfo.store.models import ControlStampRow, RegionGenerationRow, RegionStampRow

__all__ = [
    "CONTROL",
    "REGION",
    "StoreMismatch",
    "StoreStamp",
    "bump_generation",
    "describe_store",
    "new_deployment_id",
    "read_stamp",
    "stamp_in",
    "verify_store",
    "verify_stores",
]

Role = Literal["control", "region"]
CONTROL: Role = "control"
REGION: Role = "region"
_STAMP_TABLE = "store_stamp"
#: The one row of ``store_stamp``.
_SINGLETON = 1


class StoreMismatch(StoreError):
    """A database is not the one this deployment expects where it is (its stamp differs)."""

    code = "store_mismatch"
    http_status = 503


@dataclass(frozen=True)
class StoreStamp:
    deployment_id: str
    role: Role
    #: The region id of a region database; ``""`` for the control database.
    region: str
    generation: int
    stamped_at: dt.datetime

    @property
    def holds(self) -> str:
        """What the database is, in words: ``the control database`` or ``region eu``."""
        return "the control database" if self.role == CONTROL else f"region {self.region}"


def new_deployment_id() -> str:
    return secrets.token_hex(16)


def describe_store(engine: Engine, data_dir: Path | None = None) -> str:
    """How messages name a database: its file (relative to ``data_dir`` when under it)
    for SQLite, its database name for PostgreSQL; never credentials."""
    database = engine.url.database or "?"
    if engine.dialect.name != "sqlite" or data_dir is None:
        return database
    try:
        return str(Path(database).resolve().relative_to(data_dir.resolve()))
    except ValueError:
        return database


def _row(role: Role) -> type[ControlStampRow] | type[RegionStampRow]:
    return ControlStampRow if role == CONTROL else RegionStampRow


def _read(connection: Connection) -> StoreStamp | None:
    if not inspect(connection).has_table(_STAMP_TABLE):
        return None
    found = connection.execute(select(ControlStampRow.__table__)).first()
    if found is None:
        return None
    role: Role = CONTROL if found.role == CONTROL else REGION
    return StoreStamp(found.deployment_id, role, found.region, found.generation, found.stamped_at)


def read_stamp(engine: Engine) -> StoreStamp | None:
    """The database's stamp; None when it has none (no table, or an empty one)."""
    with engine.connect() as connection:
        return _read(connection)


def stamp_in(
    connection: Connection,
    deployment_id: str,
    role: Role,
    region: str = "",
    *,
    now: dt.datetime | None = None,
) -> StoreStamp:
    """Stamp the database of ``connection`` (in its transaction) unless it already is.

    Stamping again with the same deployment and role changes nothing; a database
    stamped otherwise is never restamped (:class:`StoreMismatch`).
    """
    wanted = StoreStamp(deployment_id, role, region, 1, now or dt.datetime.now(dt.UTC))
    found = _read(connection)
    if found is None:
        connection.execute(
            insert(_row(role)).values(
                singleton=_SINGLETON,
                deployment_id=deployment_id,
                role=role,
                region=region,
                generation=1,
                stamped_at=wanted.stamped_at,
            )
        )
        return wanted
    if (found.deployment_id, found.role, found.region) != (deployment_id, role, region):
        raise StoreMismatch(
            f"cannot stamp a database as {wanted.holds} of deployment {deployment_id}: "
            f"it is already {found.holds} of deployment {found.deployment_id}"
        )
    return found


def expect_generation_in(control: Connection, region: str, generation: int) -> None:
    """Record in the control database (``control``'s transaction) what ``region`` must be at."""
    changed = control.execute(
        update(RegionGenerationRow)
        .where(RegionGenerationRow.region == region)
        .values(generation=generation)
    )
    if changed.rowcount == 0:
        control.execute(insert(RegionGenerationRow).values(region=region, generation=generation))


def expected_generations(control: Engine) -> dict[str, int]:
    with control.connect() as connection:
        rows = connection.execute(
            select(RegionGenerationRow.region, RegionGenerationRow.generation)
        )
        return {str(region): int(generation) for region, generation in rows}


def bump_generation(control: Engine, region: Engine | None = None) -> int:
    """Raise a database's generation after a restore put it back; the new generation.

    ``bump_generation(control)``: the control database was restored.
    ``bump_generation(control, region_engine)``: a region database was restored; the
    control database records the new generation as the one it expects of it, so
    that any older copy of that region is refused as stale from now on.

    The region is raised first: a crash between the two steps leaves a region
    newer than the control database expects, which opening refuses until the
    restore is run again — never a stale copy that passes.
    """
    target = control if region is None else region
    with write_transaction(target) as connection:
        stamp = _read(connection)
        if stamp is None:
            raise StoreMismatch(
                f"{describe_store(target)} carries no servinfo stamp; run 'servinfo upgrade' first"
            )
        if (stamp.role == CONTROL) != (region is None):
            expected = "the control database" if region is None else "a region database"
            raise StoreMismatch(f"{describe_store(target)} is {stamp.holds}, not {expected}")
        generation = stamp.generation + 1
        connection.execute(update(_row(stamp.role)).values(generation=generation))
    if region is not None:
        with write_transaction(control) as connection:
            expect_generation_in(connection, stamp.region, generation)
    return generation


def _stamp_of(engine: Engine, shown: str, holds: str) -> StoreStamp:
    found = read_stamp(engine)
    if found is None:
        raise StoreMismatch(
            f"{shown} ({holds}) carries no servinfo stamp: it is not a database of this "
            "deployment, or it predates stamps (then run 'servinfo upgrade')"
        )
    return found


def verify_store(
    engine: Engine,
    *,
    deployment_id: str,
    role: Role,
    region: str = "",
    generation: int | None = None,
    name: str | None = None,
) -> StoreStamp:
    """Check that ``engine`` holds ``role`` (``region``) of ``deployment_id`` at ``generation``.

    Raises :class:`StoreMismatch` with one line naming the database (``name``)
    and the difference; returns the stamp found.
    """
    shown = name or describe_store(engine)
    wanted = StoreStamp(deployment_id, role, region, generation or 1, dt.datetime.now(dt.UTC))
    found = _stamp_of(engine, shown, wanted.holds)
    if found.deployment_id != deployment_id:
        raise StoreMismatch(
            f"{shown} ({wanted.holds}) belongs to another deployment (id "
            f"{found.deployment_id}, expected {deployment_id}): put this deployment's copy back"
        )
    if (found.role, found.region) != (role, region):
        raise StoreMismatch(f"{shown} holds {found.holds}, expected {wanted.holds}")
    if generation is not None and found.generation < generation:
        raise StoreMismatch(
            f"{shown} ({wanted.holds}) is at generation {found.generation}, the control "
            f"database expects generation {generation}: an older copy was put back"
        )
    if generation is not None and found.generation > generation:
        raise StoreMismatch(
            f"{shown} ({wanted.holds}) is at generation {found.generation}, newer than the "
            f"generation {generation} the control database expects: the control database "
            "may be an older copy, or a restore did not finish"
        )
    return found


def verify_stores(
    control: Engine, regions: Mapping[str, Engine], data_dir: Path | None = None
) -> str:
    """Check every database of a deployment against the control database; its deployment id.

    Raises :class:`StoreMismatch` for the first database that differs.
    """
    shown = describe_store(control, data_dir)
    stamp = _stamp_of(control, shown, "the control database")
    if stamp.role != CONTROL:
        raise StoreMismatch(f"{shown} holds {stamp.holds}, expected the control database")
    expected = expected_generations(control)
    for region, engine in regions.items():
        verify_store(
            engine,
            deployment_id=stamp.deployment_id,
            role=REGION,
            region=region,
            generation=expected.get(region, 1),
            name=describe_store(engine, data_dir),
        )
    return stamp.deployment_id
