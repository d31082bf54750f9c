"""The data-subject request service: one object for the API, the CLI and (later) the DRP.

:class:`RightsService` is the composition of the request machinery's parts,
each in its own module:

* :mod:`~servinfo.rights.requests` — open, verify, extend, refuse, list;
* :mod:`~servinfo.rights.fulfil` — process: access and portability exports,
  rectification;
* :mod:`~servinfo.rights.erasure` — erasure;
* :mod:`~servinfo.rights.ledger_requests` — restriction (and its lift),
  objection, withdrawal of consent, opt-out.

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
from servinfo.rights.exports import ExportInfo
from servinfo.rights.ledger_requests import LedgerRequests
from servinfo.store import Principal

__all__ = ["RightsService", "is_own_request"]


def is_own_request(principal: Principal, request: Request) -> bool:
    """Whether ``principal`` is the request's subject, acting through its own principal."""
    return (
        principal.kind == "subject" and principal.active and principal.binding == request.subject_id
    )


class RightsService(LedgerRequests):
    def show(self, request_id: str) -> Request:
        return self.get(request_id)

    def export_archive(
        self, request_id: str, *, now: dt.datetime | None = None
    ) -> tuple[ExportInfo, bytes]:
        """The request's export ZIP, decrypted; refused once it expired."""
        request = self.get(request_id)
        return self.exports.open(request_id, request.subject_id, self._utc(now))
