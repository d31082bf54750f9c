"""Row-level reads and the version counters, inside a caller's connection.

Private to the ledgers: :mod:`servinfo.ledgers.services` validates input and
owns the transactions; this module only turns rows into entries and back.

Bumping a subject's version is an upsert (``INSERT … ON CONFLICT DO UPDATE``,
on SQLite and PostgreSQL alike) and is the *first* statement of every change:
on PostgreSQL it locks the subject's counter row until commit, so concurrent
changes of one subject run one after another and each sees the last one's
rows when it checks what is in force (SQLite's ``BEGIN IMMEDIATE`` already
serializes every writer).

:func:`state_rows` is the read access decisions make on a cache miss: the
version, the objections and restriction in force and the consent events of
the subjects in *one* statement on the pooled driver connection, so they come
from one snapshot without a transaction to open, and without Core's per-query cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Connection, Engine, Row, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from servinfo.ledgers.entries import (
    Basis,
    Consent,
    ConsentState,
    Disclosure,
    Hold,
    Objection,
    RecipientKind,
    Restriction,
)
from servinfo.ledgers.models import (
    GLOBAL_KEY,
    ConsentRow,
    DisclosureRow,
    HoldRow,
    LedgerVersionRow,
    ObjectionRow,
    RestrictionRow,
)

#: Ids per ``IN (…)`` list: far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


_E = TypeVar("_E")


def chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


# -- versions ----------------------------------------------------------------------


def bump(connection: Connection, subject_id: str | None) -> int:
    """Add one to the subject's version (if any) and to the global one; the new subject version.

    Without a subject only the global counter moves and its new value is returned.
    The subject's row is taken before the global one, always in that order, so
    two changes never wait on each other crosswise.
    """
    version = 0
    for key in (subject_id, GLOBAL_KEY):
        if key is None:
            continue
        new = _upsert_increment(connection, key)
        version = version or new
    return version


def _upsert_increment(connection: Connection, key: str) -> int:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(LedgerVersionRow)
        .values(subject_id=key, version=1)
        .on_conflict_do_update(
            index_elements=[LedgerVersionRow.subject_id],
            set_={"version": LedgerVersionRow.version + 1},
        )
        .returning(LedgerVersionRow.version)
    )
    return int(connection.execute(statement).scalar_one())


def lock_subject(connection: Connection, subject_id: str) -> None:
    """Wait for in-flight changes of the subject without bumping its version (PostgreSQL)."""
    connection.execute(
        select(LedgerVersionRow.version)
        .where(LedgerVersionRow.subject_id == subject_id)
        .with_for_update()
    ).all()


def versions(connection: Connection, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(keys):
        rows = connection.execute(
            select(LedgerVersionRow.subject_id, LedgerVersionRow.version).where(
                LedgerVersionRow.subject_id.in_(chunk)
            )
        )
        found.update({key: int(version) for key, version in rows})
    return found


# -- what a subject state is built from -----------------------------------------------


@dataclass
class StateRows:
    """One subject's ledger rows that its access-decision state is built from."""

    version: int = 0
    #: Purposes of the objections in force.
    objections: list[str] = field(default_factory=list)
    #: ``allows`` of each restriction in force.
    restrictions: list[tuple[str, ...]] = field(default_factory=list)
    #: ``(purpose, recipient)`` of each consent in force.
    consents: list[tuple[str | None, str | None]] = field(default_factory=list)


# The four reads of a state, as one statement: a statement reads one snapshot
# on SQLite and PostgreSQL alike. The subject condition is applied to the union
# once; both databases push it down into each branch (their subject_id indexes).
# Consent events come whole: which one is in force is decided below, as in
# consents_in_force.
_STATE = """\
SELECT kind, subject_id, a, b, c, n FROM (
  SELECT 'v' AS kind, subject_id, NULL AS a, NULL AS b, NULL AS c, version AS n
  FROM ledger_versions
  UNION ALL SELECT 'o', subject_id, purpose, NULL, NULL, 0
  FROM objections WHERE withdrawn_at IS NULL
  UNION ALL SELECT 'r', subject_id, allows, NULL, NULL, 0
  FROM restrictions WHERE lifted_at IS NULL
  UNION ALL SELECT 'c', subject_id, purpose, recipient, state, ledger_version
  FROM consents
) AS state WHERE subject_id """


def state_rows(engine: Engine, subject_ids: Sequence[str]) -> dict[str, StateRows]:
    """Each subject's :class:`StateRows`, one statement per :data:`CHUNK` subjects.

    Runs on a pooled driver connection outside any transaction (the pool rolls
    back on return): one statement is one snapshot, so each subject's rows are
    consistent with each other and with its version.
    """
    found = {subject_id: StateRows() for subject_id in subject_ids}
    rows: list[tuple[Any, ...]] = []
    sqlite = engine.dialect.name == "sqlite"
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            for chunk in chunks(list(found)):
                if sqlite:
                    cursor.execute(_STATE + f"IN ({','.join('?' * len(chunk))})", chunk)
                else:
                    cursor.execute(_STATE + "= ANY(%s)", (chunk,))
                rows.extend(cursor.fetchall())
        finally:
            cursor.close()
    finally:
        connection.close()
    events: list[tuple[int, str, str | None, str | None, str]] = []
    for kind, subject_id, a, b, c, n in rows:
        state = found[subject_id]
        if kind == "v":
            state.version = int(n)
        elif kind == "o":
            state.objections.append(a)
        elif kind == "r":
            state.restrictions.append(tuple(json.loads(a)))
        else:
            events.append((int(n), subject_id, a, b, c))
    # The latest event per (subject, purpose, recipient), by ledger version, decides.
    latest: dict[tuple[str, str | None, str | None], str] = {}
    for _, subject_id, purpose, recipient, consent_state in sorted(events, key=_version):
        latest[(subject_id, purpose, recipient)] = consent_state
    for (subject_id, purpose, recipient), consent_state in latest.items():
        if consent_state == "given":
            found[subject_id].consents.append((purpose, recipient))
    return found


def _version(event: tuple[int, str, str | None, str | None, str]) -> int:
    return event[0]


# -- objections and restrictions ------------------------------------------------------


def objection(row: Row[Any]) -> Objection:
    return Objection(
        row.id,
        row.subject_id,
        row.purpose,
        row.objected_at,
        row.actor,
        row.withdrawn_at,
        row.withdrawn_by,
    )


def objections(
    connection: Connection, subject_ids: Sequence[str], *, in_force_only: bool
) -> list[Objection]:
    return _entries(
        connection,
        subject_ids,
        ObjectionRow,
        ended=ObjectionRow.withdrawn_at,
        in_force_only=in_force_only,
        began=ObjectionRow.objected_at,
        entry=objection,
    )


def restriction(row: Row[Any]) -> Restriction:
    return Restriction(
        row.id,
        row.subject_id,
        row.reason,
        tuple(json.loads(row.allows)),
        row.restricted_at,
        row.actor,
        row.lifted_at,
        row.lifted_by,
    )


def restrictions(
    connection: Connection, subject_ids: Sequence[str], *, in_force_only: bool
) -> list[Restriction]:
    return _entries(
        connection,
        subject_ids,
        RestrictionRow,
        ended=RestrictionRow.lifted_at,
        in_force_only=in_force_only,
        began=RestrictionRow.restricted_at,
        entry=restriction,
    )


def _entries(
    connection: Connection,
    subject_ids: Sequence[str],
    model: type[ObjectionRow] | type[RestrictionRow],
    *,
    ended: Any,
    began: Any,
    in_force_only: bool,
    entry: Callable[[Row[Any]], _E],
) -> list[_E]:
    """The subjects' entries of one ledger (``model``), oldest by ``began`` first;
    ``in_force_only``: those whose ``ended`` column is unset."""
    found: list[_E] = []
    for chunk in chunks(subject_ids):
        query = select(model.__table__).where(model.subject_id.in_(chunk))
        if in_force_only:
            query = query.where(ended.is_(None))
        found.extend(entry(row) for row in connection.execute(query.order_by(began, model.id)))
    return found


# -- consents ----------------------------------------------------------------------------


def consent(row: Row[Any]) -> Consent:
    return Consent(
        row.id,
        row.subject_id,
        row.purpose,
        row.recipient,
        cast(ConsentState, row.state),
        row.at,
        row.notice_version,
        row.actor,
        row.wording_hash,
        row.channel,
        row.proof,
        row.expires_at,
        row.country,
        row.risks,
    )


def consent_events(connection: Connection, subject_ids: Sequence[str]) -> list[Consent]:
    """Every consent event of the subjects, oldest first (by ledger version)."""
    found: list[Consent] = []
    for chunk in chunks(subject_ids):
        rows = connection.execute(
            select(ConsentRow.__table__)
            .where(ConsentRow.subject_id.in_(chunk))
            .order_by(ConsentRow.subject_id, ConsentRow.ledger_version)
        )
        found.extend(consent(row) for row in rows)
    return found


def latest_consents(events: Sequence[Consent]) -> dict[tuple[str, str | None, str | None], Consent]:
    """The latest event per (subject, purpose, recipient): the consent's current state."""
    latest: dict[tuple[str, str | None, str | None], Consent] = {}
    for event in events:  # oldest first, so later events replace earlier ones
        latest[(event.subject_id, event.purpose, event.recipient)] = event
    return latest


def consents_in_force(connection: Connection, subject_ids: Sequence[str]) -> list[Consent]:
    events = consent_events(connection, subject_ids)
    return [event for event in latest_consents(events).values() if event.state == "given"]


# -- holds and disclosures ---------------------------------------------------------------


def hold(row: Row[Any]) -> Hold:
    return Hold(
        row.id,
        row.subject_id,
        row.org_id,
        row.reason,
        row.placed_by,
        row.placed_at,
        row.released_at,
        row.released_by,
    )


def disclosure(row: Row[Any]) -> Disclosure:
    return Disclosure(
        row.id,
        row.recipient,
        cast(RecipientKind, row.recipient_kind),
        cast(Basis, row.basis),
        row.subject_id,
        tuple(json.loads(row.categories)),
        row.purpose,
        row.record_count,
        row.reference,
        row.at,
        row.actor,
        row.withheld_until,
    )


def holds_query(
    connection: Connection,
    *,
    subject_id: str | None,
    org_ids: Sequence[str],
    in_force_only: bool,
) -> list[Hold]:
    """Holds on ``subject_id`` or on any of ``org_ids`` (all holds when both are empty)."""
    query = select(HoldRow.__table__)
    targets: list[ColumnElement[bool]] = []
    if subject_id is not None:
        targets.append(HoldRow.subject_id == subject_id)
    if org_ids:
        targets.append(HoldRow.org_id.in_(list(org_ids)))
    if targets:
        query = query.where(or_(*targets))
    if in_force_only:
        query = query.where(HoldRow.released_at.is_(None))
    rows = connection.execute(query.order_by(HoldRow.placed_at, HoldRow.id))
    return [hold(row) for row in rows]


def disclosures_query(
    connection: Connection,
    *,
    subject_id: str | None,
    recipient: str | None,
    visible_at: datetime | None = None,
) -> list[Disclosure]:
    """Disclosures, oldest first; with ``visible_at``, only those not withheld then."""
    query = select(DisclosureRow.__table__)
    if visible_at is not None:
        query = query.where(
            or_(DisclosureRow.withheld_until.is_(None), DisclosureRow.withheld_until <= visible_at)
        )
    if subject_id is not None:
        query = query.where(DisclosureRow.subject_id == subject_id)
    if recipient is not None:
        query = query.where(DisclosureRow.recipient == recipient)
    rows = connection.execute(query.order_by(DisclosureRow.at, DisclosureRow.id))
    return [disclosure(row) for row in rows]
