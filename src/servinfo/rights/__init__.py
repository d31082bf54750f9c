"""Data-subject requests: access, portability, rectification, erasure, restriction,
objection, withdrawal of consent and opt-out, with each regime's deadlines.

Wiring (what the deployment does)::

    migrate_control(control, [RIGHTS_MIGRATIONS])
    rights = deployment.rights
    request = rights.open("access", "subj-1", channel="cli", actor="dpo", verified=True)
    rights.process(request.request_id, actor="dpo")
    info, zip_bytes = rights.export_archive(request.request_id)

HTTP routes are in :mod:`servinfo.rights.routes` (``/v1/requests``), the
command line in :mod:`servinfo.rights.cli` (``servinfo dsr …``), errors in
:mod:`servinfo.rights.errors`.
"""

from servinfo.rights.deadlines import (
    REQUEST_TYPES,
    RequestType,
    Schedule,
    Terms,
    schedule,
    terms_for,
)
from servinfo.rights.entries import CLOSED_STATES, OPEN_STATES, Request
from servinfo.rights.errors import (
    ExportUnavailable,
    ExtensionRefused,
    FlaggedRequest,
    InvalidRequest,
    LiftNotAnnounced,
    RequestNotFound,
    RightsError,
    VerificationFailed,
    WrongState,
)
from servinfo.rights.exports import ExportInfo
from servinfo.rights.migrations import RIGHTS_MIGRATIONS
from servinfo.rights.notifier import NOTIFIERS, Notice, Notifier, OutboxNotifier, notifier_named
from servinfo.rights.service import RightsService, is_own_request

__all__ = [
    "CLOSED_STATES",
    "NOTIFIERS",
    "OPEN_STATES",
    "REQUEST_TYPES",
    "RIGHTS_MIGRATIONS",
    "ExportInfo",
    "ExportUnavailable",
    "ExtensionRefused",
    "FlaggedRequest",
    "InvalidRequest",
    "LiftNotAnnounced",
    "Notice",
    "Notifier",
    "OutboxNotifier",
    "Request",
    "RequestNotFound",
    "RequestType",
    "RightsError",
    "RightsService",
    "Schedule",
    "Terms",
    "VerificationFailed",
    "WrongState",
    "is_own_request",
    "notifier_named",
    "schedule",
    "terms_for",
]
