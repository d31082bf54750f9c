"""Requests opened with what the person knows: an e-mail address, a phone number, a username.

Two ways in:

* **An operator** (``handle_requests``) opens a request naming the person by
  an identifier instead of a subject id (``servinfo dsr open --email …``,
  ``POST /v1/requests`` with ``email``): found through
  :class:`servinfo.access.identifiers.SubjectFinder` (permission-checked,
  audited). No subject is a 404; several (one address, accounts in several
  organizations) a 409 listing the organizations, until the operator names one.
  Never resolved silently.
* **The person themself**, with no token (``POST /v1/requests/self-service``):
  they type their address; if it is the identifier of exactly one subject (of
  the organization they name, if they name one), a request is opened and a
  code sent to that address; if it belongs to several, the address is told
  which organizations, and nothing is opened; if to none, nothing happens. The
  caller gets the same answer every time — a reference and "if this address is
  known, we sent a code to it" — and the route answers no sooner than
  ``notify.code_answer_ms`` either way. The reference of an unknown address is
  an id of its own, which fails verification exactly like a wrong code.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from ulid import ULID

from servinfo.access.identifiers import SubjectFinder
from servinfo.rights.contact import Address, AddressChannel
from servinfo.rights.entries import Channel, Request
from servinfo.rights.errors import (
    AmbiguousIdentifier,
    DeliveryFailed,
    DeliveryUnavailable,
    InvalidRequest,
    NoSubjectFound,
)
from servinfo.rights.ledger_requests import LedgerRequests
from servinfo.rights.models import RequestRow, VerificationCodeRow
from servinfo.rights.parameters import check_parameters
from servinfo.store import Principal

__all__ = ["SELF_SERVICE_ACTOR", "SELF_SERVICE_CODE_INTERVAL", "IdentityRequests"]

_log = logging.getLogger(__name__)
#: The actor of a request a person opened without a token.
SELF_SERVICE_ACTOR = "self-service"
#: A person's own requests send a subject at most one code in this interval.
SELF_SERVICE_CODE_INTERVAL = dt.timedelta(minutes=1)
#: Identifier types whose value is also an address a code can be sent to.
_ADDRESS_TYPES: dict[str, AddressChannel] = {"email": "email", "phone": "phone"}


class IdentityRequests(LedgerRequests):
    def subject_for(
        self,
        identifier: str,
        value: str,
        *,
        principal: Principal,
        organization: str | None = None,
        default_region: str | None = None,
    ) -> str:
        """The one subject ``identifier`` = ``value`` names (of ``organization``), or
        :class:`NoSubjectFound` / :class:`AmbiguousIdentifier`."""
        found = self._require_finder().find_subjects(
            identifier,
            value,
            principal=principal,
            organization=organization,
            default_region=default_region,
        )
        if not found:
            raise NoSubjectFound(self._label(identifier))
        if len(found) > 1:
            raise AmbiguousIdentifier(self._label(identifier), self._organizations(found))
        return found[0]

    def open_by_identifier(
        self,
        request_type: str,
        identifier: str,
        value: str,
        *,
        principal: Principal,
        channel: Channel,
        organization: str | None = None,
        default_region: str | None = None,
        verified: bool = False,
        parameters: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> Request:
        """Open a request for the subject an operator names by an identifier."""
        subject_id = self.subject_for(
            identifier,
            value,
            principal=principal,
            organization=organization,
            default_region=default_region,
        )
        return self.open(
            request_type,
            subject_id,
            channel=channel,
            actor=principal.name,
            verified=verified,
            parameters=parameters,
            now=now,
        )

    def request_with_identifier(
        self,
        request_type: str,
        identifier: str,
        value: str,
        *,
        organization: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> str:
        """A person's own request, by the address they typed; a reference, known or not.

        Input that is wrong whoever sends it (an address that is not one, an
        identifier the policy does not declare, bad parameters) is refused; what
        depends on the address being known never shows in the answer.
        """
        channel = _ADDRESS_TYPES.get(identifier)
        if channel is None:
            raise InvalidRequest(
                f"a request without a token names an e-mail address or a phone number, "
                f"got {identifier!r}: a code is sent there"
            )
        finder = self._require_finder()
        canonical = finder.canonical(identifier, value)
        checked = check_parameters(self._policy(), request_type, parameters)
        at = self._utc(now)
        reference = str(ULID())
        found = finder.find_subjects(
            identifier, canonical, principal=self.rights_principal(), organization=organization
        )
        address = Address(channel, canonical)
        try:
            if len(found) > 1:
                self._messages.send_choice(
                    address, request_type=request_type, organizations=self._organizations(found)
                )
            elif found:
                request = self.open(
                    request_type,
                    found[0],
                    channel="api",
                    actor=SELF_SERVICE_ACTOR,
                    parameters=checked,
                    now=at,
                )
                reference = request.request_id
                # One message a minute per subject: the route cannot be used to flood an inbox.
                if not self._code_sent_since(found[0], at - SELF_SERVICE_CODE_INTERVAL):
                    self.send_code(request.request_id, to=address, now=at)
        except (DeliveryFailed, DeliveryUnavailable) as error:
            # Told to nobody but the log: an error here would say the address is known.
            _log.warning("a self-service message was not delivered: %s", error.message)
        return reference

    def _code_sent_since(self, subject_id: str, since: dt.datetime) -> bool:
        query = (
            select(VerificationCodeRow.id)
            .join(RequestRow, RequestRow.id == VerificationCodeRow.request_id)
            .where(RequestRow.subject_id == subject_id, VerificationCodeRow.created_at > since)
            .limit(1)
        )
        with self._engine.connect() as connection:
            return connection.scalar(query) is not None

    def _organizations(self, subject_ids: list[str]) -> list[str]:
        subjects = self._directory.subjects(subject_ids)
        return sorted({subject.org_id for subject in subjects.values()})

    def _require_finder(self) -> SubjectFinder:
        if self._finder is None:
            raise InvalidRequest("this deployment does not find subjects by identifier")
        return self._finder

    def _label(self, identifier: str) -> str:
        return {"email": "e-mail address", "phone": "phone number"}.get(identifier, identifier)
