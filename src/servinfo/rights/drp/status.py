"""The DRP status of a request (DRP 1.0 sections 3.02 and 3.03), from servinfo's case file.

==========================  ==============================================
servinfo request            DRP status
==========================  ==============================================
``received``                ``in_progress`` / ``need_user_verification``
                            with ``expected_by`` and ``user_verification_url``:
                            the consumer confirms their identity with us
                            directly (DRP 1.0 section 3.02.1)
``verified``, ``in_progress``  ``in_progress`` with ``expected_by`` (the
                            deadline in force): "user solves verification"
``completed``               ``fulfilled``
``partially_completed``     ``fulfilled``; ``processing_details`` say what
                            was kept and why
``refused``                 ``denied``: ``too_many_requests`` when an
                            operator refused a flagged repeat, else ``other``
==========================  ==============================================

``revoked``, ``denied`` / ``insufficient_verification`` (the consumer did not
confirm before the regime's deadline) and the ``denied`` answers servinfo
gives without opening a request (``no_match``, an opt-in) are settled on the
DRP record itself (see :mod:`servinfo.rights.drp.service`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from servinfo.rights.entries import Request

__all__ = [
    "FINAL_STATUSES",
    "INSUFFICIENT_VERIFICATION",
    "Status",
    "derive",
    "status_object",
]

#: Statuses a request never leaves (the table's "Final?" column).
FINAL_STATUSES = ("fulfilled", "revoked", "denied", "expired")
#: The reason of a request whose consumer did not confirm in time (spec: ``insuf_verification``).
INSUFFICIENT_VERIFICATION = "insufficient_verification"


@dataclass(frozen=True)
class Status:
    status: str
    reason: str | None = None
    processing_details: str | None = None
    expected_by: dt.date | None = None
    #: Where the consumer confirms their identity (``need_user_verification``).
    user_verification_url: str | None = None

    @property
    def key(self) -> str:
        """What a callback reports, for telling whether the agent already knows it."""
        return f"{self.status}/{self.reason or ''}"


def derive(request: Request, verification_url: str | None = None) -> Status:
    """The DRP status of a servinfo request; ``verification_url`` is where its consumer
    confirms their identity while it awaits them."""
    if request.state == "received":
        return Status(
            "in_progress",
            "need_user_verification",
            "the consumer confirms their identity with us directly (CCPA regulations "
            "s. 7063(a)): we sent a one-time code to the address on their account, which "
            "they enter at user_verification_url",
            expected_by=request.answer_by,
            user_verification_url=verification_url,
        )
    if request.state in ("verified", "in_progress"):
        details = f"verified; we answer by {request.answer_by.isoformat()}"
        if request.extension_reason:
            details += f" (extended: {request.extension_reason})"
        return Status("in_progress", processing_details=details, expected_by=request.answer_by)
    outcome = request.outcome or {}
    if request.state == "refused":
        repeat = request.flagged and request.operator_decision == "refuse"
        return Status(
            "denied",
            "too_many_requests" if repeat else "other",
            str(outcome.get("reason") or "refused"),
        )
    return Status("fulfilled", processing_details=_summary(request.type, outcome))


def _summary(request_type: str, outcome: dict[str, Any]) -> str:
    parts: list[str] = []
    if request_type == "access":
        export = outcome.get("export") or {}
        parts.append(
            "the consumer's copy of their information is ready; they download it from us "
            f"directly (it is not sent to agents) until {export.get('expires_at', 'it expires')}"
        )
    elif request_type == "erasure":
        parts.append(f"deleted {outcome.get('records_deleted', 0)} records")
        for kept in outcome.get("kept", []):
            parts.append(
                f"kept {kept.get('records')} {kept.get('name')} records for "
                f"{kept.get('kept_for')}: {kept.get('why')}"
            )
        if outcome.get("holds"):
            parts.append("a legal hold keeps the held information")
    elif "note" in outcome:
        parts.append(str(outcome["note"]))
    if "voluntary" in outcome:
        parts.append(str(outcome["voluntary"]))
    return "; ".join(parts) or "done"


def status_object(
    request_id: str,
    agent_request_id: str | None,
    received_at: dt.datetime,
    status: Status,
) -> dict[str, Any]:
    """The Exercise Status object (DRP 1.0 section 3.03); absent fields are left out."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "status": status.status,
        "received_at": received_at.astimezone(dt.UTC).isoformat(),
    }
    if agent_request_id is not None:
        body["agent_request_id"] = agent_request_id
    if status.reason is not None:
        body["reason"] = status.reason
    if status.expected_by is not None:
        body["expected_by"] = status.expected_by.isoformat()
    if status.processing_details:
        body["processing_details"] = status.processing_details
    if status.user_verification_url is not None:
        body["user_verification_url"] = status.user_verification_url
    return body
