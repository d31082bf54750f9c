"""The data-subject request service: one object for the API, the CLI and (later) the DRP.

:class:`RightsService` is the composition of the request machinery's parts,
each in its own module:

* :mod:`~servinfo.rights.requests` — open, verify, extend, refuse, list;
* :mod:`~servinfo.rights.fulfil` — process: access and portability exports,
  rectification;
* :mod:`~servinfo.rights.erasure` — erasure;
* :mod:`~servinfo.rights.ledger_requests` — restriction (and its lift),
  objection, withdrawal of consent, opt-out;
* :mod:`~servinfo.rights.identities` — requests opened with an e-mail address,
  a phone number or a username.

Wiring (what :class:`servinfo.deployment.Deployment` does)::

    rights = RightsService(engine=control, policy=..., directory=..., writer=...,
                           reads=..., ledgers=..., audit=..., principals=...,
                           keyring=..., notifier=OutboxNotifier(control))
    ledgers = Ledgers(..., open_request_check=rights.has_open_verified_request)

Authorization stays at the edges (routes, CLI): a subject acts on its own
requests; an operator needs the ``handle_requests`` permission.
"""

from __future__ import annotations

import datetime as dt

from servinfo.rights.entries import Request
from servinfo.rights.errors import ExportUnavailable
from servinfo.rights.exports import ExportInfo
from servinfo.rights.identities import IdentityRequests
from servinfo.store import Principal

__all__ = ["RightsService", "is_own_request"]


def is_own_request(principal: Principal, request: Request) -> bool:
    """Whether ``principal`` is the request's subject, acting through its own principal."""
    return (
        principal.kind == "subject" and principal.active and principal.binding == request.subject_id
    )


class RightsService(IdentityRequests):
    def show(self, request_id: str) -> Request:
        return self.get(request_id)

    def export_archive(
        self, request_id: str, *, now: dt.datetime | None = None
    ) -> tuple[ExportInfo, bytes]:
        """The request's export ZIP, decrypted; refused once it expired.

        Refused with :class:`ExportUnavailable` (410 Gone) whether the expired
        export is still stored or already purged: the request's outcome says an
        export was made, so the answer says it expired and was deleted.
        """
        request = self.get(request_id)
        at = self._utc(now)
        try:
            return self.exports.open(request_id, request.subject_id, at)
        except ExportUnavailable:
            expired_at = _expiry_of_purged(request, at)
            if expired_at is None or self.exports.latest(request_id) is not None:
                raise
            raise ExportUnavailable(
                f"the export of request {request_id} expired at {expired_at} and was deleted; "
                "open a new access request for a fresh one"
            ) from None


def _expiry_of_purged(request: Request, now: dt.datetime) -> str | None:
    """When the export the request's outcome records expired, if it has by ``now``."""
    made = (request.outcome or {}).get("export")
    expires_at = made.get("expires_at") if isinstance(made, dict) else None
    if not isinstance(expires_at, str):
        return None
    try:
        expired = dt.datetime.fromisoformat(expires_at) <= now
    except (TypeError, ValueError):  # not an aware ISO time: say nothing about it
        return None
    return expires_at if expired else None
