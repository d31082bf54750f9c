"""Legal holds: a subject's data, or a whole organization's, kept despite erasure or retention.

A hold names exactly one subject or one organization. A subject is held by
its own holds, by holds on its organization and by holds on every ancestor of
that organization (a partner's hold covers its customers' users): retention
and erasure ask :meth:`HoldLedger.holds_for` before destroying anything.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from ulid import ULID

from servinfo.ledgers import _checks, _queries
from servinfo.ledgers._base import LedgerService
from servinfo.ledgers.entries import Hold
from servinfo.ledgers.errors import HoldNotFound, InvalidHoldTarget, NotInForce
from servinfo.ledgers.models import HoldRow
from servinfo.store.engines import write_transaction

#: Deeper organization trees than this are a cycle, not a hierarchy.
_MAX_DEPTH = 32


class HoldLedger(LedgerService):
    def place_hold(
        self,
        *,
        subject_id: str | None = None,
        org_id: str | None = None,
        reason: str,
        actor: str,
        now: datetime | None = None,
    ) -> Hold:
        """Place a legal hold on one subject or one organization (never both, never neither)."""
        if (subject_id is None) == (org_id is None):
            raise InvalidHoldTarget(subject_id, org_id)
        reason = _checks.text(reason, "hold reason", 500)
        _checks.opaque_id(actor, "actor")
        at = _checks.utc(now)
        if subject_id is not None:
            self._subject(subject_id)
        else:
            assert org_id is not None
            self._directory.get_organization(org_id)  # UnknownOrganization
        entry = Hold(str(ULID()), subject_id, org_id, reason, actor, at)
        with write_transaction(self._engine) as connection:
            version = _queries.bump(connection, None)
            connection.execute(
                insert(HoldRow).values(
                    id=entry.hold_id,
                    subject_id=subject_id,
                    org_id=org_id,
                    reason=reason,
                    placed_by=actor,
                    placed_at=at,
                )
            )
        self._changed(
            "legal_hold",
            "placed",
            actor=actor,
            subject_id=subject_id,
            linked={"hold_id": entry.hold_id},
            org_id=org_id,
            version=version,
        )
        return entry

    def release_hold(self, hold_id: str, actor: str, now: datetime | None = None) -> Hold:
        """Release a hold in force; the row stays, with who released it and when."""
        _checks.opaque_id(hold_id, "hold id")
        _checks.opaque_id(actor, "actor")
        at = _checks.utc(now)
        with write_transaction(self._engine) as connection:
            row = connection.execute(
                select(HoldRow.__table__).where(HoldRow.id == hold_id)
            ).one_or_none()
            if row is None:
                raise HoldNotFound(hold_id)
            found = _queries.hold(row)
            if found.released_at is not None:
                raise NotInForce(
                    f"legal hold {hold_id!r} is not in force: it was released at "
                    f"{found.released_at.isoformat()}"
                )
            version = _queries.bump(connection, None)
            result = connection.execute(
                update(HoldRow)
                .where(HoldRow.id == hold_id, HoldRow.released_at.is_(None))
                .values(released_at=at, released_by=actor)
            )
            if result.rowcount != 1:  # released concurrently (PostgreSQL)
                raise NotInForce(f"legal hold {hold_id!r} is not in force: it was just released")
        self._changed(
            "legal_hold",
            "released",
            actor=actor,
            subject_id=found.subject_id,
            linked={"hold_id": hold_id},
            org_id=found.org_id,
            version=version,
        )
        return Hold(
            found.hold_id,
            found.subject_id,
            found.org_id,
            found.reason,
            found.placed_by,
            found.placed_at,
            at,
            actor,
        )

    def holds_for(self, subject_id: str, *, include_released: bool = False) -> list[Hold]:
        """The holds that keep the subject's data: its own, its organization's, its partner's."""
        subject = self._subject(subject_id)
        org_ids = self._organization_chain(subject.org_id)
        with self._read() as connection:
            return _queries.holds_query(
                connection,
                subject_id=subject_id,
                org_ids=org_ids,
                in_force_only=not include_released,
            )

    def holds(self, *, org_id: str | None = None, include_released: bool = False) -> list[Hold]:
        """Holds placed on ``org_id`` itself, or every hold when no organization is given."""
        if org_id is not None:
            self._directory.get_organization(org_id)
        with self._read() as connection:
            return _queries.holds_query(
                connection,
                subject_id=None,
                org_ids=[org_id] if org_id is not None else [],
                in_force_only=not include_released,
            )

    def _organization_chain(self, org_id: str) -> list[str]:
        """``org_id`` and its ancestors, nearest first."""
        chain: list[str] = []
        current: str | None = org_id
        while current is not None and current not in chain and len(chain) < _MAX_DEPTH:
            chain.append(current)
            current = self._directory.get_organization(current).parent_id
        return chain
