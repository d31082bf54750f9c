"""The values the rights package hands out: a request as its case file reads.

States run ``received → verified → in_progress`` and end ``completed``,
``partially_completed`` (something was kept, with the reason) or ``refused``
(with the reason, and the supervisory authority where the regime requires it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CLOSED_STATES",
    "OPEN_STATES",
    "Channel",
    "Request",
    "State",
]

State = Literal[
    "received", "verified", "in_progress", "completed", "partially_completed", "refused"
]
Channel = Literal["api", "cli", "drp"]
OPEN_STATES: tuple[State, ...] = ("received", "verified", "in_progress")
CLOSED_STATES: tuple[State, ...] = ("completed", "partially_completed", "refused")


@dataclass(frozen=True)
class Request:
    request_id: str
    type: str
    subject_id: str
    regime: str
    right: str
    voluntary: bool
    state: str
    channel: str
    opened_by: str
    received_at: dt.datetime
    due_at: dt.date
    parameters: dict[str, Any] = field(default_factory=dict)
    verified_at: dt.datetime | None = None
    verified_by: str | None = None
    extended_due_at: dt.date | None = None
    extension_reason: str | None = None
    extension_notified_at: dt.datetime | None = None
    acknowledged_due_at: dt.date | None = None
    acknowledged_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    outcome: dict[str, Any] | None = None
    flagged: bool = False
    flag_reason: str | None = None
    operator_decision: str | None = None
    decided_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def answer_by(self) -> dt.date:
        """The deadline in force: the extended one once extended."""
        return self.extended_due_at or self.due_at

    def overdue(self, today: dt.date) -> bool:
        return self.is_open and today > self.answer_by

    def to_dict(self) -> dict[str, Any]:
        def iso(value: dt.date | dt.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.request_id,
            "type": self.type,
            "subject": self.subject_id,
            "regime": self.regime,
            "right": self.right,
            "voluntary": self.voluntary,
            "state": self.state,
            "channel": self.channel,
            "opened_by": self.opened_by,
            "received_at": iso(self.received_at),
            "verified_at": iso(self.verified_at),
            "verified_by": self.verified_by,
            "due_at": iso(self.due_at),
            "extended_due_at": iso(self.extended_due_at),
            "extension_reason": self.extension_reason,
            "extension_notified_at": iso(self.extension_notified_at),
            "acknowledged_due_at": iso(self.acknowledged_due_at),
            "acknowledged_at": iso(self.acknowledged_at),
            "completed_at": iso(self.completed_at),
            "flagged": self.flagged,
            "flag_reason": self.flag_reason,
            "operator_decision": self.operator_decision,
            "decided_by": self.decided_by,
            "parameters": self.parameters,
            "outcome": self.outcome,
        }
