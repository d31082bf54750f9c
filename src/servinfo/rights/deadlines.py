"""Which right a request invokes, under which regime, and by when it must be answered.

A request's regime follows the subject's jurisdiction (``Policy.regime_for``);
its deadlines come from that regime's right in the policy, never from code:
GDPR and UK GDPR one month, extendable by two with the subject told why
within the first month (Art. 12(3)); the Swiss FADP 30 days; CCPA/CPRA 45
days (+45) with receipt confirmed within 10 business days, and an opt-out of
sale or sharing honoured within 15 business days.

A regime may not grant the right asked for (CCPA has no right to restriction;
the GDPR none to opt out of sale). servinfo then handles the request
*voluntarily* rather than refusing it: it applies the same right of the
policy's default regime, or — for an opt-out, which no default regime need
name — the nearest right (withdrawing consent, which also stops a disclosure
the subject chose). The request records the right applied and says in its
outcome that it was voluntary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, get_args

from servinfo.policy.durations import add_duration, parse_duration
from servinfo.policy.model import Policy, Right
from servinfo.rights.errors import InvalidRequest

__all__ = [
    "REQUEST_TYPES",
    "RIGHT_OF",
    "RequestType",
    "Schedule",
    "Terms",
    "schedule",
    "terms_for",
]

RequestType = Literal[
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "withdraw-consent",
    "opt-out",
]
REQUEST_TYPES: tuple[RequestType, ...] = get_args(RequestType)

#: The policy's right id for each request type.
RIGHT_OF: dict[str, str] = {
    "access": "access",
    "portability": "portability",
    "rectification": "rectification",
    "erasure": "erasure",
    "restriction": "restriction",
    "objection": "objection",
    "withdraw-consent": "withdraw_consent",
    "opt-out": "opt_out",
}
#: Where neither the subject's nor the default regime names a right: the nearest one.
_NEAREST = {"opt_out": "withdraw_consent"}


@dataclass(frozen=True)
class Terms:
    """The right a request is answered under."""

    #: The subject's regime.
    regime: str
    #: The regime whose right applies (the subject's, or the default one when voluntary).
    right_regime: str
    right_id: str
    right: Right
    voluntary: bool

    @property
    def label(self) -> str:
        return f"{self.right_regime}:{self.right_id}"


@dataclass(frozen=True)
class Schedule:
    """The dates a request runs to, all computed from its date of receipt."""

    due: dt.date
    #: Confirm receipt by then (CCPA: 10 business days); None where not required.
    acknowledge_by: dt.date | None
    #: Tell the subject of an extension (and why) by then; None without extension.
    extension_notice_by: dt.date | None
    #: The latest answer an extension allows; None when the right has none.
    extended_due: dt.date | None


def terms_for(policy: Policy, regime: str, request_type: str) -> Terms:
    """The right ``request_type`` invokes for a subject under ``regime``."""
    right_id = RIGHT_OF.get(request_type)
    if right_id is None:
        raise InvalidRequest(
            f"request type {request_type!r} is unknown; expected one of: {', '.join(REQUEST_TYPES)}"
        )
    candidates = [(regime, right_id), (policy.default_regime, right_id)]
    nearest = _NEAREST.get(right_id)
    if nearest is not None:
        candidates += [(regime, nearest), (policy.default_regime, nearest)]
    for regime_id, candidate in candidates:
        right = policy.regimes[regime_id].rights.get(candidate)
        if right is not None:
            voluntary = (regime_id, candidate) != (regime, right_id)
            return Terms(regime, regime_id, candidate, right, voluntary)
    raise InvalidRequest(
        f"neither regime {regime!r} nor the default regime {policy.default_regime!r} "
        f"declares the right {right_id!r}; add it to the policy"
    )


def schedule(right: Right, received: dt.date) -> Schedule:
    """The deadlines of ``right`` for a request received on ``received``."""

    def after(text: str | None, start: dt.date) -> dt.date | None:
        return None if text is None else add_duration(start, parse_duration(text))

    due = add_duration(received, parse_duration(right.deadline))
    return Schedule(
        due=due,
        acknowledge_by=after(right.acknowledge, received),
        extension_notice_by=(
            after(right.extension_notice, received) if right.extension is not None else None
        ),
        extended_due=after(right.extension, due),
    )
