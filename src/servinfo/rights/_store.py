"""Row-level reads and writes of requests, inside a caller's connection.

Private to the rights package: the services validate input and own the
transactions. State changes are compare-and-set (``UPDATE … WHERE state IN
…``), so two operators acting on one request at once cannot both succeed.

The services call :func:`servinfo.ledgers.bump_version` in the same
transaction as a change of whether the subject has an open, verified request:
access decisions take that fact from the subject's state, and cached states
are dropped exactly when that version moves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from servinfo.rights.entries import OPEN_STATES, Request
from servinfo.rights.errors import RequestNotFound, WrongState
from servinfo.rights.models import RequestRow

_TABLE = RequestRow.__table__


def insert_request(connection: Connection, values: dict[str, Any]) -> None:
    values = dict(values)
    values["parameters"] = json.dumps(values.get("parameters") or {}, sort_keys=True)
    connection.execute(insert(RequestRow).values(**values))


def load(connection: Connection, request_id: str) -> Request:
    row = connection.execute(select(_TABLE).where(RequestRow.id == request_id)).one_or_none()
    if row is None:
        raise RequestNotFound(request_id)
    return _request(row)


def transition(
    connection: Connection,
    request: Request,
    expected: tuple[str, ...],
    action: str,
    **values: Any,
) -> None:
    """Set ``values`` if the request is still in one of the ``expected`` states."""
    if request.state not in expected:
        raise WrongState(request.request_id, request.state, expected, action)
    if "outcome" in values and values["outcome"] is not None:
        values["outcome"] = json.dumps(values["outcome"], sort_keys=True)
    if "parameters" in values:
        values["parameters"] = json.dumps(values["parameters"], sort_keys=True)
    result = connection.execute(
        update(RequestRow)
        .where(RequestRow.id == request.request_id, RequestRow.state.in_(expected))
        .values(**values)
    )
    if result.rowcount != 1:  # changed concurrently
        current = load(connection, request.request_id)
        raise WrongState(request.request_id, current.state, expected, action)


def count_since(
    connection: Connection, subject_id: str, request_type: str, since: dt.datetime
) -> int:
    return int(
        connection.scalar(
            select(func.count())
            .select_from(RequestRow)
            .where(
                RequestRow.subject_id == subject_id,
                RequestRow.type == request_type,
                RequestRow.received_at >= since,
            )
        )
        or 0
    )


def requests(
    connection: Connection,
    *,
    subject_id: str | None = None,
    open_only: bool = False,
    states: Collection[str] = (),
) -> list[Request]:
    query = select(_TABLE).order_by(RequestRow.id)
    if subject_id is not None:
        query = query.where(RequestRow.subject_id == subject_id)
    if open_only:
        query = query.where(RequestRow.state.in_(OPEN_STATES))
    if states:
        query = query.where(RequestRow.state.in_(list(states)))
    return [_request(row) for row in connection.execute(query)]


_ANY_IN = "SELECT 1 FROM rights_requests WHERE subject_id = {} AND state IN ({}) AND type IN ({})"


def any_in(
    engine: Engine, subject_id: str, states: Collection[str], types: Collection[str]
) -> bool:
    """Whether the subject has a request in one of ``states`` of one of ``types``.

    Asked on every miss of the read path's subject-state cache, so it is one
    statement on a pooled driver connection, outside any transaction (the pool
    rolls back on return), like the ledgers' ``state_rows``: through Core it
    cost ~250 µs, the query itself ~10 µs.
    """
    if not states or not types:
        return False  # ``IN ()`` is not SQL everywhere; nothing can match an empty set
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    marks = [", ".join([mark] * len(values)) for values in (states, types)]
    statement = _ANY_IN.format(mark, *marks) + " LIMIT 1"
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(statement, (subject_id, *states, *types))
            found = cursor.fetchall()
        finally:
            cursor.close()
    finally:
        connection.close()
    return bool(found)


def _request(row: Any) -> Request:
    return Request(
        request_id=row.id,
        type=row.type,
        subject_id=row.subject_id,
        regime=row.regime,
        right=row.right,
        voluntary=bool(row.voluntary),
        state=row.state,
        channel=row.channel,
        opened_by=row.opened_by,
        received_at=row.received_at,
        due_at=row.due_at,
        parameters=json.loads(row.parameters),
        verified_at=row.verified_at,
        verified_by=row.verified_by,
        extended_due_at=row.extended_due_at,
        extension_reason=row.extension_reason,
        extension_notified_at=row.extension_notified_at,
        acknowledged_due_at=row.acknowledged_due_at,
        acknowledged_at=row.acknowledged_at,
        completed_at=row.completed_at,
        outcome=json.loads(row.outcome) if row.outcome else None,
        flagged=bool(row.flagged),
        flag_reason=row.flag_reason,
        operator_decision=row.operator_decision,
        decided_by=row.decided_by,
    )
