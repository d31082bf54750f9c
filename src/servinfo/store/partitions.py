"""Monthly partitions of the high-volume records on PostgreSQL.

On PostgreSQL the ``records`` table is partitioned (region migration r0007),
so that the retention sweep can drop a month of telemetry whose every row it
proved expired instead of deleting it row by row
(:func:`servinfo.store.expiry.drop_expired_partition`)::

    records                         PARTITION BY LIST (category)
      records_telemetry             FOR VALUES IN ('telemetry'), PARTITION BY RANGE (collected_at)
        records_telemetry_2026_11   FROM ('2026-11-01 00:00+00') TO ('2026-12-01 00:00+00')
        records_telemetry_2026_12   …
        records_telemetry_default   DEFAULT: a month with no partition of its own (yet)
      records_other                 DEFAULT: every other category, one partition

Only the categories of :data:`PARTITIONED_CATEGORIES` (telemetry: most records,
90 days to 13 months) have months of their own. The other categories live
years, or until an account closes, beside records of every age: a month of
them is never entirely expired, so partitions would buy them nothing.
Changing the list is a migration (the partitions hold the rows).

Every statement still names ``records``: the partitions are invisible to the
read path and to ingest, which PostgreSQL routes by category and collection
time. Partitions are made ahead of the rows: by the sweep for this month and
the next (:func:`ensure_months_ahead`, a daily job), and at ingest for a
month that has none yet (:func:`ensure_partitions`, e.g. records reported
late, or collected before the migration). A row whose month has no partition
still lands, in the ``DEFAULT`` partition (the safety net); making the
month's partition later moves such rows into it.

Making a partition takes PostgreSQL's strongest lock on ``records_telemetry``
for a moment; it gives up after :data:`_CREATE_LOCK_TIMEOUT` (the rows then go
to the default partition, and the next attempt makes it). On SQLite nothing
here applies: :func:`record_leaves` is the one ``records`` table.

The primary key on PostgreSQL is ``(collected_at, id, category)``: a
partitioned table's unique keys must hold every partition column. Record ids
are unique ULIDs either way, and ``collected_at`` still leads.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, exc

from servinfo.store.engines import is_sqlite, write_transaction

__all__ = [
    "PARTITIONED_CATEGORIES",
    "Leaf",
    "ensure_months_ahead",
    "ensure_partitions",
    "forget_partition",
    "is_partition",
    "is_partitioned",
    "month_partition",
    "record_leaves",
]

#: Categories whose records live in monthly partitions on PostgreSQL (frozen in r0007).
PARTITIONED_CATEGORIES: tuple[str, ...] = ("telemetry",)
#: How long making a partition waits for the lock on its parent before giving up.
_CREATE_LOCK_TIMEOUT = "1s"
#: Serializes the making of partitions across processes (``pg_advisory_xact_lock``).
_ADVISORY_KEY = 0x5E21_7A57
_LEAF = re.compile(r"^records_([a-z][a-z0-9]*)_(\d{4})_(\d{2})$")
_NAME = re.compile(r"^records(_[a-z0-9_]+)?$")


@dataclass(frozen=True, slots=True)
class Leaf:
    """A table that holds records: a partition on PostgreSQL, ``records`` on SQLite."""

    name: str
    #: The first day of the month the partition holds; None for a default partition
    #: (or an unpartitioned table), which holds rows of any time.
    month: dt.date | None = None

    @property
    def ends(self) -> dt.date | None:
        """The first day after the partition's month (None: no bound)."""
        return None if self.month is None else _next_month(self.month)


def month_partition(category: str, month: dt.date) -> str:
    """The name of the partition of ``category``'s records collected in ``month``."""
    return f"records_{category}_{month.year:04d}_{month.month:02d}"


def is_partition(name: str) -> bool:
    """Whether ``name`` is one of the partitions of ``records`` (not in the models:
    schema comparisons leave them out)."""
    return name != "records" and _NAME.match(name) is not None


class _Known:
    """What this process knows of one engine's partitions."""

    def __init__(self, partitioned: bool) -> None:
        self.partitioned = partitioned
        self.names: set[str] = set()
        self.lock = threading.Lock()


_known: weakref.WeakKeyDictionary[Engine, _Known] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def _state(engine: Engine) -> _Known:
    with _known_lock:
        state = _known.get(engine)
    if state is None:
        state = _Known(is_partitioned(engine))
        with _known_lock:
            state = _known.setdefault(engine, state)
    return state


def is_partitioned(engine: Engine) -> bool:
    """Whether ``engine``'s ``records`` is a partitioned table (PostgreSQL after r0007)."""
    if is_sqlite(engine):
        return False
    with engine.connect() as connection:
        return _partitioned(connection)


def _partitioned(connection: Connection) -> bool:
    kind = connection.exec_driver_sql(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass('records')"
    ).scalar()
    return kind == "p"


def record_leaves(engine: Engine) -> list[Leaf]:
    """Every table that holds records, month partitions oldest first, defaults last."""
    if is_sqlite(engine):
        return [Leaf("records")]
    with engine.connect() as connection:
        if not _partitioned(connection):
            return [Leaf("records")]
        names = [
            str(name)
            for (name,) in connection.exec_driver_sql(
                "SELECT relid::regclass::text FROM pg_partition_tree('records') WHERE isleaf"
            )
        ]
    months, others = [], []
    for name in names:
        if _NAME.match(name) is None:  # never: the migration and this module name them
            raise ValueError(f"unexpected partition of records: {name!r}")
        found = _LEAF.match(name)
        if found is None:
            others.append(Leaf(name))
        else:
            months.append(Leaf(name, dt.date(int(found[2]), int(found[3]), 1)))
    return sorted(months, key=lambda leaf: (leaf.month, leaf.name)) + sorted(
        others, key=lambda leaf: leaf.name
    )


def ensure_partitions(engine: Engine, rows: Iterable[tuple[str, dt.datetime]]) -> list[str]:
    """Make the month partitions that rows of ``(category, collected_at)`` need; the new ones.

    Ingest calls it before each batch; a month this process has seen costs a
    set look-up. A partition that cannot be made now (its parent busy past
    :data:`_CREATE_LOCK_TIMEOUT`) is left for later: the rows go to the
    default partition meanwhile.
    """
    state = _state(engine)
    if not state.partitioned:
        return []
    # Per batch of ingest: the distinct months first, names only for those.
    months = {
        (category, _month_of(collected_at))
        for category, collected_at in rows
        if category in PARTITIONED_CATEGORIES
    }
    missing = {
        name: (category, month)
        for category, month in months
        if (name := month_partition(category, month)) not in state.names
    }
    made = []
    for name, (category, month) in sorted(missing.items()):
        with state.lock:
            if name in state.names:
                continue
            try:
                if _make(engine, category, month):
                    made.append(name)
            except exc.OperationalError:  # the lock timed out: the default partition holds them
                continue
            state.names.add(name)
    return made


def forget_partition(engine: Engine, name: str) -> None:
    """Forget that ``name`` exists (the sweep dropped it): a later row of its month makes
    it again. (Another process's memory of it lasts until it restarts: its rows of that
    month land in the default partition meanwhile.)"""
    state = _state(engine)
    with state.lock:
        state.names.discard(name)


def ensure_months_ahead(engine: Engine, today: dt.date) -> list[str]:
    """Make this month's and next month's partitions of every partitioned category."""
    now = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    later = dt.datetime.combine(_next_month(_month_of(now)), dt.time(), tzinfo=dt.UTC)
    return ensure_partitions(
        engine, [(category, at) for category in PARTITIONED_CATEGORIES for at in (now, later)]
    )


def _make(engine: Engine, category: str, month: dt.date) -> bool:
    """Make one month partition, moving its rows out of the default; False if it existed."""
    name = month_partition(category, month)
    parent, default = f"records_{category}", f"records_{category}_default"
    low, high = _bound(month), _bound(_next_month(month))
    with write_transaction(engine) as connection:
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_KEY,))
        if connection.exec_driver_sql("SELECT to_regclass(%s)", (name,)).scalar() is not None:
            return False
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_CREATE_LOCK_TIMEOUT}'")
        # Names and bounds are made here from a category of PARTITIONED_CATEGORIES and a
        # date, never from input; DDL takes no bind parameters.
        in_month = f"collected_at >= '{low}' AND collected_at < '{high}'"
        stray = connection.exec_driver_sql(
            f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_month})"  # noqa: S608
        ).scalar()
        if stray:  # rows that landed in the default partition: into their month's
            connection.exec_driver_sql(
                f"CREATE TEMPORARY TABLE moving ON COMMIT DROP AS "  # noqa: S608
                f"WITH moved AS (DELETE FROM {default} WHERE {in_month} RETURNING *) "
                "SELECT * FROM moved"
            )
        connection.exec_driver_sql(
            f"CREATE TABLE {name} PARTITION OF {parent} FOR VALUES FROM ('{low}') TO ('{high}')"
        )
        if stray:
            connection.exec_driver_sql("INSERT INTO records SELECT * FROM moving")
    return True


def _month_of(at: dt.datetime) -> dt.date:
    utc = at.astimezone(dt.UTC)
    return dt.date(utc.year, utc.month, 1)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: dt.date) -> str:
    return f"{month.isoformat()} 00:00:00+00"
