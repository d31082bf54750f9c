"""After an erasure: what the request machinery's own tables keep of the person, and for how long.

The case file of every request stays for its retention (the setting
``rights.request_retention_days``, three years by default), as proof the
request was received and answered in time; but from the erasure on it names
no one:

* ``rights_requests``: the subject id becomes :data:`~servinfo.store.erasure.ERASED_SUBJECT`
  (the same for every erased subject: it joins nothing); the parameters (fields
  to rectify, purposes …) are emptied; the outcome loses the identifiers it
  listed (rectified record ids, the restriction's entry id, the export's id)
  and keeps what was done and when; ``opened_by``, ``verified_by`` and
  ``decided_by`` no longer name the subject's own principals.
* ``rights_verification_codes`` of those requests and the subject's
  ``rights_opt_outs`` are deleted: they served the request, not its proof.
* ``rights_outbox``: messages already sent that concern the subject are
  deleted. Those not yet sent (the completion notice, the Art. 19 notices to
  recipients, which must name the subject) stay until the mailer marks them
  sent, and :func:`purge_request_records` deletes them then.

:func:`purge_request_records` (the daily ``request_purge`` job) deletes the
case files whose retention ended, with their codes and messages.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, or_, select, update

from servinfo.rights.entries import CLOSED_STATES
from servinfo.rights.models import OptOutRow, OutboxRow, RequestRow, VerificationCodeRow
from servinfo.store.engines import write_transaction
from servinfo.store.erasure import ERASED_SUBJECT

__all__ = [
    "ERASED_ACTOR",
    "RequestsUnlinked",
    "erasures_left_linked",
    "expired_requests",
    "finish_unlinking",
    "purge_request_records",
    "unlink_requests",
]

#: What replaces the name of the subject's own principal in a kept case file.
ERASED_ACTOR = "~subject"
#: Outcome keys that list identifiers of the person's data, dropped at erasure.
_IDENTIFIER_KEYS = ("entry",)


RequestsUnlinked = dict[str, int]


def unlink_requests(
    engine: Engine,
    subject_id: str,
    principal_names: Collection[str],
    *,
    last: str | None = None,
) -> RequestsUnlinked:
    """Make the subject's case files name no one; see the module docstring. Counts.

    ``principal_names`` are the names of the subject's own principals, replaced
    wherever a case file names them as the actor. The case file ``last`` (the
    erasure's own) keeps the subject id until :func:`finish_unlinking`: until then
    it marks an erasure whose unlinking has not finished (:func:`erasures_left_linked`).
    """
    names = set(principal_names)
    with write_transaction(engine) as connection:
        rows = connection.execute(
            select(
                RequestRow.id,
                RequestRow.outcome,
                RequestRow.opened_by,
                RequestRow.verified_by,
                RequestRow.decided_by,
            ).where(RequestRow.subject_id == subject_id)
        ).all()
        request_ids = [row.id for row in rows]
        codes = _delete_in(
            connection, VerificationCodeRow, VerificationCodeRow.request_id, request_ids
        )
        sent = connection.execute(
            delete(OutboxRow).where(
                OutboxRow.sent_at.is_not(None),
                or_(OutboxRow.recipient == subject_id, OutboxRow.request_id.in_(request_ids)),
            )
        ).rowcount
        opt_outs = connection.execute(
            delete(OptOutRow).where(OptOutRow.subject_id == subject_id)
        ).rowcount
        for row in rows:
            connection.execute(
                update(RequestRow)
                .where(RequestRow.id == row.id)
                .values(
                    subject_id=subject_id if row.id == last else ERASED_SUBJECT,
                    parameters="{}",
                    outcome=_scrubbed_outcome(row.outcome),
                    opened_by=_actor(row.opened_by, names),
                    verified_by=_actor(row.verified_by, names),
                    decided_by=_actor(row.decided_by, names),
                )
            )
    return {
        "requests": len(rows),
        "verification_codes": codes,
        "messages_sent": sent,
        "opt_outs": opt_outs,
    }


def finish_unlinking(engine: Engine, request_id: str) -> None:
    """The erasure's own case file stops naming the subject: its unlinking is done."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(RequestRow).where(RequestRow.id == request_id).values(subject_id=ERASED_SUBJECT)
        )


def erasures_left_linked(engine: Engine) -> list[tuple[str, str]]:
    """(request id, subject id) of the erasures answered without a hold whose unlinking
    did not finish (the process stopped after the completion was logged)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(RequestRow.id, RequestRow.subject_id, RequestRow.outcome).where(
                RequestRow.type == "erasure",
                RequestRow.state.in_(("completed", "partially_completed")),
                RequestRow.subject_id != ERASED_SUBJECT,
            )
        ).all()
    return [
        (row.id, row.subject_id)
        for row in rows
        if row.outcome and json.loads(row.outcome).get("audit_pseudonym_forgotten") is True
    ]


def expired_requests(engine: Engine, now: dt.datetime, retention: dt.timedelta) -> list[str]:
    """Ids of closed requests completed more than ``retention`` before ``now``."""
    with engine.connect() as connection:
        return list(
            connection.scalars(
                select(RequestRow.id).where(
                    RequestRow.state.in_(CLOSED_STATES),
                    RequestRow.completed_at < now - retention,
                )
            )
        )


def purge_request_records(engine: Engine, request_ids: Sequence[str]) -> dict[str, int]:
    """Delete these requests' case files, codes and messages; also the messages sent of
    erased subjects' requests that are still kept. Counts.

    The caller (the ``request_purge`` job) removes what other tables keep of
    these requests first (the DRP's), then calls this; a crash between the two
    leaves case files that the next run deletes.
    """
    ids = list(request_ids)
    with write_transaction(engine) as connection:
        codes = _delete_in(connection, VerificationCodeRow, VerificationCodeRow.request_id, ids)
        messages = _delete_in(connection, OutboxRow, OutboxRow.request_id, ids)
        erased = select(RequestRow.id).where(RequestRow.subject_id == ERASED_SUBJECT)
        messages += connection.execute(
            delete(OutboxRow).where(
                OutboxRow.sent_at.is_not(None), OutboxRow.request_id.in_(erased)
            )
        ).rowcount
        requests = _delete_in(connection, RequestRow, RequestRow.id, ids)
    return {"requests": requests, "verification_codes": codes, "messages": messages}


def _delete_in(connection: Connection, table: Any, column: Any, ids: Sequence[str]) -> int:
    deleted = 0
    for start in range(0, len(ids), 500):  # far below either backend's parameter limit
        chunk = list(ids[start : start + 500])
        deleted += connection.execute(delete(table).where(column.in_(chunk))).rowcount
    return deleted


def _actor(name: str | None, subject_principals: set[str]) -> str | None:
    return ERASED_ACTOR if name is not None and name in subject_principals else name


def _scrubbed_outcome(stored: str | None) -> str | None:
    """The outcome without the identifiers it listed: what was done stays, not to what."""
    if not stored:
        return stored
    outcome: dict[str, Any] = json.loads(stored)
    for key in _IDENTIFIER_KEYS:
        outcome.pop(key, None)
    rectified = outcome.get("rectified")
    if isinstance(rectified, list):
        outcome["rectified"] = len(rectified)
    export = outcome.get("export")
    if isinstance(export, dict):
        outcome["export"] = {k: v for k, v in export.items() if k not in ("id", "request_id")}
    return json.dumps(outcome, sort_keys=True)
