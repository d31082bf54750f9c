"""Legal requests: what an authority asked for, and what a reviewer decided.

The notice shares Service Information "to comply with legal requirements". A
request is taken in (``servinfo legal intake``: authority, country, legal
instrument, scope — subjects, categories, period —, deadline, gag order and its
end, the authority's key), reviewed by a principal holding
``review_legal_requests`` who is never the one who took it in, and approved,
narrowed or rejected with reasons. Only then can the approved scope be
disclosed (:class:`servinfo.sharing.services.SharingService`).

A request from an authority of a third country — one outside the legal area of
a region whose subjects it names — is honoured only under an international
agreement (GDPR/UK GDPR Art. 48) or a derogation recorded for it (Art. 49);
approving one without either is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Engine, insert, select, update
from ulid import ULID

from servinfo.policy.model import Policy
from servinfo.sharing.errors import (
    DisclosureDenied,
    InvalidSharingInput,
    LegalRequestNotFound,
    ReviewConflict,
)
from servinfo.sharing.models import LegalRequestRow
from servinfo.store.engines import write_transaction

__all__ = ["LegalRequest", "LegalRequestStore", "LegalScope", "ReviewDecision"]

ReviewDecision = Literal["approve", "narrow", "reject"]
_STATE_OF: dict[str, str] = {"approve": "approved", "narrow": "narrowed", "reject": "rejected"}


@dataclass(frozen=True)
class LegalScope:
    """Whose data, which categories, over which period."""

    subjects: tuple[str, ...]
    categories: tuple[str, ...]
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "subjects": list(self.subjects),
                "categories": list(self.categories),
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> LegalScope:
        raw = json.loads(text)
        return cls(
            tuple(raw["subjects"]),
            tuple(raw["categories"]),
            dt.datetime.fromisoformat(raw["since"]) if raw["since"] else None,
            dt.datetime.fromisoformat(raw["until"]) if raw["until"] else None,
        )

    def excess_over(self, allowed: LegalScope) -> list[str]:
        """What this scope asks beyond ``allowed``: empty when it stays within it."""
        excess = [f"subject {s!r}" for s in self.subjects if s not in allowed.subjects]
        excess += [f"category {c!r}" for c in self.categories if c not in allowed.categories]
        if allowed.since is not None and (self.since is None or self.since < allowed.since):
            excess.append(f"a period starting before {allowed.since.isoformat()}")
        if allowed.until is not None and (self.until is None or self.until > allowed.until):
            excess.append(f"a period ending after {allowed.until.isoformat()}")
        return excess

    def to_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.to_json()))


@dataclass(frozen=True)
class LegalRequest:
    request_id: str
    authority: str
    country: str
    instrument: str
    scope: LegalScope
    deadline: dt.date
    gag: bool
    gag_until: dt.datetime | None
    agreement: str | None
    derogation: str | None
    recipient_key: str
    state: str
    intake_by: str
    intake_at: dt.datetime
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    reasons: str | None = None
    approved_scope: LegalScope | None = None
    disclosed_by: str | None = None
    disclosed_at: dt.datetime | None = None
    gag_lifted_at: dt.datetime | None = None

    def gagged_at(self, when: dt.datetime) -> bool:
        """Whether a gag order forbids telling the subject at ``when``."""
        if not self.gag or self.gag_lifted_at is not None:
            return False
        return self.gag_until is None or when < self.gag_until

    def to_dict(self) -> dict[str, Any]:
        def iso(value: dt.datetime | dt.date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.request_id,
            "authority": self.authority,
            "country": self.country,
            "instrument": self.instrument,
            "scope": self.scope.to_dict(),
            "deadline": self.deadline.isoformat(),
            "gag": self.gag,
            "gag_until": iso(self.gag_until),
            "agreement": self.agreement,
            "derogation": self.derogation,
            "state": self.state,
            "intake_by": self.intake_by,
            "intake_at": iso(self.intake_at),
            "reviewed_by": self.reviewed_by,
            "reviewed_at": iso(self.reviewed_at),
            "reasons": self.reasons,
            "approved_scope": self.approved_scope.to_dict() if self.approved_scope else None,
            "disclosed_by": self.disclosed_by,
            "disclosed_at": iso(self.disclosed_at),
            "gag_lifted_at": iso(self.gag_lifted_at),
        }


def _request(row: Any) -> LegalRequest:
    return LegalRequest(
        request_id=row.id,
        authority=row.authority,
        country=row.country,
        instrument=row.instrument,
        scope=LegalScope.from_json(row.scope),
        deadline=row.deadline,
        gag=bool(row.gag),
        gag_until=row.gag_until,
        agreement=row.agreement,
        derogation=row.derogation,
        recipient_key=row.recipient_key,
        state=row.state,
        intake_by=row.intake_by,
        intake_at=row.intake_at,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        reasons=row.reasons,
        approved_scope=LegalScope.from_json(row.approved_scope) if row.approved_scope else None,
        disclosed_by=row.disclosed_by,
        disclosed_at=row.disclosed_at,
        gag_lifted_at=row.gag_lifted_at,
    )


def third_country_regions(policy: Policy, country: str, regions: Sequence[str]) -> list[str]:
    """The regions (of those given) whose legal area ``country`` lies outside of."""
    outside: list[str] = []
    for region in sorted(set(regions)):
        try:
            if policy.transfer_destination(region, country) is None:
                continue
        except KeyError:
            pass
        outside.append(region)
    return outside


class LegalRequestStore:
    """The ``legal_requests`` table: rows in, rows moved along their path, rows out."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, request: LegalRequest) -> None:
        with write_transaction(self._engine) as connection:
            connection.execute(
                insert(LegalRequestRow).values(
                    id=request.request_id,
                    authority=request.authority,
                    country=request.country,
                    instrument=request.instrument,
                    scope=request.scope.to_json(),
                    deadline=request.deadline,
                    gag=request.gag,
                    gag_until=request.gag_until,
                    agreement=request.agreement,
                    derogation=request.derogation,
                    recipient_key=request.recipient_key,
                    state=request.state,
                    intake_by=request.intake_by,
                    intake_at=request.intake_at,
                )
            )

    def get(self, request_id: str) -> LegalRequest:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(LegalRequestRow.__table__).where(LegalRequestRow.id == request_id)
            ).first()
        if row is None:
            raise LegalRequestNotFound(request_id)
        return _request(row)

    def all(self) -> list[LegalRequest]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(LegalRequestRow.__table__).order_by(LegalRequestRow.intake_at)
            ).all()
        return [_request(row) for row in rows]

    def move(self, before: LegalRequest, after: LegalRequest) -> None:
        """Store ``after`` if the row still is ``before``'s state (one step at a time)."""
        with write_transaction(self._engine) as connection:
            moved = connection.execute(
                update(LegalRequestRow)
                .where(LegalRequestRow.id == before.request_id)
                .where(LegalRequestRow.state == before.state)
                .values(
                    state=after.state,
                    reviewed_by=after.reviewed_by,
                    reviewed_at=after.reviewed_at,
                    reasons=after.reasons,
                    approved_scope=after.approved_scope.to_json() if after.approved_scope else None,
                    disclosed_by=after.disclosed_by,
                    disclosed_at=after.disclosed_at,
                    gag_lifted_at=after.gag_lifted_at,
                )
            )
            if moved.rowcount != 1:
                raise ReviewConflict(
                    f"legal request {before.request_id!r} changed meanwhile; expected state "
                    f"{before.state!r}"
                )


def new_request(
    *,
    authority: str,
    country: str,
    instrument: str,
    scope: LegalScope,
    deadline: dt.date,
    gag: bool,
    gag_until: dt.datetime | None,
    agreement: str | None,
    derogation: str | None,
    recipient_key: str,
    intake_by: str,
    at: dt.datetime,
) -> LegalRequest:
    return LegalRequest(
        request_id=str(ULID()),
        authority=authority,
        country=country,
        instrument=instrument,
        scope=scope,
        deadline=deadline,
        gag=gag,
        gag_until=gag_until,
        agreement=agreement,
        derogation=derogation,
        recipient_key=recipient_key,
        state="received",
        intake_by=intake_by,
        intake_at=at,
    )


def reviewed(
    request: LegalRequest,
    *,
    reviewer: str,
    decision: ReviewDecision,
    reasons: str,
    narrowed: LegalScope | None,
    third_country_regions: Sequence[str],
    at: dt.datetime,
) -> LegalRequest:
    """``request`` after a review, or why the review cannot stand.

    (1) only a request not yet reviewed; (2) never by the principal who took it
    in; (3) reasons always; (4) a narrowed scope within what was asked; (5) an
    approval towards a third country only under Art. 48 or a recorded Art. 49
    derogation.
    """
    if request.state != "received":  # (1)
        raise ReviewConflict(
            f"legal request {request.request_id!r} is {request.state}; only a received "
            "request is reviewed"
        )
    if reviewer == request.intake_by:  # (2)
        raise DisclosureDenied(
            f"legal request {request.request_id!r} was taken in by {reviewer!r}: another "
            "principal holding 'review_legal_requests' reviews it"
        )
    if not reasons.strip():  # (3)
        raise InvalidSharingInput("a review gives its reasons; got none")
    if decision not in _STATE_OF:
        raise InvalidSharingInput(f"a review approves, narrows or rejects; got {decision!r}")
    approved: LegalScope | None = None
    if decision == "approve":
        approved = request.scope
    elif decision == "narrow":  # (4)
        if narrowed is None:
            raise InvalidSharingInput("narrowing names the scope approved; got none")
        excess = narrowed.excess_over(request.scope)
        if excess:
            raise DisclosureDenied(
                "a narrowed scope stays within the request; it asks beyond it: " + ", ".join(excess)
            )
        approved = narrowed
    if (
        approved is not None
        and third_country_regions
        and not (request.agreement or request.derogation)
    ):  # (5)
        raise DisclosureDenied(
            f"the authority in {request.country} is outside the legal area of region(s) "
            f"{', '.join(third_country_regions)}: honoured only under an international "
            "agreement (GDPR Art. 48) or a recorded Art. 49 derogation; the request "
            "records neither"
        )
    return replace(
        request,
        state=_STATE_OF[decision],
        reviewed_by=reviewer,
        reviewed_at=at,
        reasons=reasons.strip(),
        approved_scope=approved,
    )
