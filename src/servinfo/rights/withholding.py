"""Withholding: parts of a subject's access history left out while a ground of law applies.

The right of access may be restricted by law where telling the person would
prejudice an investigation or a court's order (GDPR Art. 23 and the national
exemptions built on it, e.g. UK DPA 2018 Sch. 2). servinfo knows three grounds:

``security_investigation``  an open security investigation: the entries of
                            processing for ``protect`` (and its sub-purposes)
``fraud_investigation``     an open fraud investigation: the same entries
``legal_gag``               a legal request under a gag order: the entries that
                            name the request's reference (its disclosure)

A privacy officer places a withholding on one subject (``servinfo dsr
withhold``), optionally from a time on (``since``: the investigation's entries
only) and until a time (``until``: it lapses by itself), and releases it when
the ground ends (``servinfo dsr release-withholding``). While it is in force,
the subject's access exports leave those entries out and name the ground — or,
when the withholding is *gagged* (the ground itself may not be told), leave
them out and say nothing. Never a count or a date of what is withheld.

Placing and releasing are audited (action ``withholding``) about the subject,
with the withholding's id as a linked identifier: while any withholding of the
subject is in force, those entries are withheld too (under its ground), so the
history does not give the investigation away; once released, they show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from ulid import ULID

from servinfo.audit import AuditSink
from servinfo.audit.entries import reference as reference_of
from servinfo.ledgers import Disclosure
from servinfo.rights.errors import InvalidRequest, RequestNotFound
from servinfo.rights.history import WithheldGround
from servinfo.rights.models import WithholdingRow
from servinfo.store.engines import write_transaction

_TABLE = WithholdingRow.__table__

__all__ = ["ACTION", "GROUNDS", "INVESTIGATED_PURPOSE", "Withholding", "Withholdings"]

#: Each ground, and what the person is told of it (unless it is gagged).
GROUNDS: Mapping[str, str] = {
    "security_investigation": (
        "Records of processing to protect our services and their users are withheld while a "
        "security investigation that concerns them is open (GDPR Art. 23 and national law, "
        "e.g. UK DPA 2018 Sch. 2)."
    ),
    "fraud_investigation": (
        "Records of processing to protect our services and their users are withheld while a "
        "fraud investigation that concerns them is open (GDPR Art. 23 and national law, e.g. "
        "UK DPA 2018 Sch. 2)."
    ),
    "legal_gag": (
        "Records of a legal request for your data are withheld while a court or authority "
        "forbids us to disclose it."
    ),
}
#: The purpose whose entries an investigation withholds (with its sub-purposes).
INVESTIGATED_PURPOSE = "protect"
_INVESTIGATIONS = frozenset({"security_investigation", "fraud_investigation"})
#: The action of the entries that place and release a withholding.
ACTION = "withholding"


@dataclass(frozen=True)
class Withholding:
    """One ground in force (or once in force) for one subject."""

    withholding_id: str
    subject_id: str
    ground: str
    reference: str | None
    gagged: bool
    since: dt.datetime | None
    until: dt.datetime | None
    placed_by: str
    placed_at: dt.datetime
    released_by: str | None = None
    released_at: dt.datetime | None = None

    def in_force(self, now: dt.datetime) -> bool:
        """Placed, not released, and not lapsed at ``now``."""
        return self.released_at is None and (self.until is None or now < self.until)

    def ground_for(self, entry: Mapping[str, Any], key: bytes) -> WithheldGround | None:
        """The ground on which ``entry`` (its fields) is withheld, or None if it is not.

        ``key`` is the subject's reference key: entries of format 2 name the
        legal request's reference, and this withholding's id, by reference.
        """
        said = WithheldGround("" if self.gagged else self.ground, GROUNDS[self.ground])
        if entry["action"] == ACTION:
            return said  # placing or releasing a withholding tells of the investigation
        if self.ground in _INVESTIGATIONS:
            purpose = entry["purpose"] or ""
            covered = purpose.partition(".")[0] == INVESTIGATED_PURPOSE
            since = None if self.since is None else int(self.since.timestamp() * 1000)
            return said if covered and (since is None or entry["at"] >= since) else None
        assert self.reference is not None  # a legal gag names its request
        named = {self.reference, reference_of(key, self.reference)}
        links: Mapping[str, str] = entry.get("links", {})
        details: Mapping[str, Any] = entry["details"]
        if named & set(links.values()) or details.get("reference") in named:
            return said
        return None

    def covers(self, disclosure: Disclosure) -> bool:
        """Whether the register's entry of ``disclosure`` is withheld from the report: the
        disclosure answering a legal request under this gag."""
        return self.ground == "legal_gag" and disclosure.reference == self.reference

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.withholding_id,
            "subject": self.subject_id,
            "ground": self.ground,
            "reference": self.reference,
            "gagged": self.gagged,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "placed_by": self.placed_by,
            "placed_at": self.placed_at.isoformat(),
            "released_by": self.released_by,
            "released_at": None if self.released_at is None else self.released_at.isoformat(),
        }


class Withholdings:
    """The withholdings of the deployment, in the control database; changes audited."""

    def __init__(self, engine: Engine, audit: AuditSink) -> None:
        self._engine = engine
        self._audit = audit

    def withhold(
        self,
        subject_id: str,
        ground: str,
        *,
        actor: str,
        reference: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        gagged: bool = False,
        now: dt.datetime | None = None,
    ) -> Withholding:
        """Withhold the entries ``ground`` covers from ``subject_id``'s access history."""
        at = _utc(now or dt.datetime.now(dt.UTC), "now")
        if ground not in GROUNDS:
            raise InvalidRequest(f"unknown ground {ground!r}; expected one of {sorted(GROUNDS)}")
        if (ground == "legal_gag") != (reference is not None and bool(reference.strip())):
            raise InvalidRequest(
                "a legal_gag names the legal request's reference (--reference), and only it does"
            )
        since = None if since is None else _utc(since, "since")
        until = None if until is None else _utc(until, "until")
        if until is not None and until <= at:
            raise InvalidRequest(f"until {until.isoformat()} is not after now ({at.isoformat()})")
        held = Withholding(
            str(ULID()), subject_id, ground, reference, gagged, since, until, actor, at
        )
        with write_transaction(self._engine) as connection:
            connection.execute(
                insert(WithholdingRow).values(
                    id=held.withholding_id,
                    subject_id=subject_id,
                    ground=ground,
                    reference=reference,
                    gagged=gagged,
                    since=since,
                    until=until,
                    placed_by=actor,
                    placed_at=at,
                )
            )
        self._audited(held, "placed", actor)
        return held

    def release(
        self, withholding_id: str, *, actor: str, now: dt.datetime | None = None
    ) -> Withholding:
        """End a withholding: the entries it covered show in the next export."""
        at = _utc(now or dt.datetime.now(dt.UTC), "now")
        with write_transaction(self._engine) as connection:
            done = connection.execute(
                update(WithholdingRow)
                .where(WithholdingRow.id == withholding_id, WithholdingRow.released_at.is_(None))
                .values(released_at=at, released_by=actor)
            )
        released = self.get(withholding_id)
        if not done.rowcount:
            raise InvalidRequest(f"withholding {withholding_id} was released already")
        self._audited(released, "released", actor)
        return released

    def get(self, withholding_id: str) -> Withholding:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(_TABLE).where(_TABLE.c.id == withholding_id)
            ).one_or_none()
        if row is None:
            raise RequestNotFound(withholding_id, "withholding")
        return _withholding(row)

    def for_subject(
        self, subject_id: str, *, in_force_at: dt.datetime | None = None
    ) -> list[Withholding]:
        """The subject's withholdings, oldest first; only those in force at ``in_force_at``
        when given."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(_TABLE).where(_TABLE.c.subject_id == subject_id).order_by(_TABLE.c.id)
            ).all()
        found = [_withholding(row) for row in rows]
        if in_force_at is None:
            return found
        return [w for w in found if w.in_force(in_force_at)]

    def delete_for_subject(self, subject_id: str) -> int:
        """Delete the subject's withholdings (at erasure: the rows name the subject)."""
        with write_transaction(self._engine) as connection:
            result = connection.execute(
                delete(WithholdingRow).where(WithholdingRow.subject_id == subject_id)
            )
        return int(result.rowcount or 0)

    def _audited(self, held: Withholding, change: str, actor: str) -> None:
        self._audit.record(
            ACTION,
            actor=actor,
            subject_id=held.subject_id,
            outcome=change,
            details={"ground": held.ground, "gagged": held.gagged},
            linked={"withholding_id": held.withholding_id},
        )


def _withholding(row: Any) -> Withholding:
    return Withholding(
        row.id,
        row.subject_id,
        row.ground,
        row.reference,
        bool(row.gagged),
        row.since,
        row.until,
        row.placed_by,
        row.placed_at,
        row.released_by,
        row.released_at,
    )


def _utc(at: dt.datetime, what: str) -> dt.datetime:
    if at.tzinfo is None:
        raise InvalidRequest(f"naive time for {what}: {at.isoformat()}; expected a timezone")
    return at.astimezone(dt.UTC)
