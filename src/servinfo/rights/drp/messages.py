"""Signed DRP messages: the validation chain of DRP 1.0 section 3.07, in its order.

:func:`validate` checks a signed message exactly in the order the spec
prescribes, and stops at the first failure:

(1) the body decodes from base64 into a binary buffer;
(2) the signature at the start of the buffer verifies under the verify key of
    the agent the bearer token (or, for pairwise setup, the URL) names;
(3) the ``agent-id`` claim is that agent;
(4) the ``business-id`` claim is this covered business;
(5) the current time is after ``issued-at`` (and, servinfo's addition, the
    message is no older than ``max_age``);
(6) the current time is before ``expires-at``.

Only then is the message read as a request (:func:`exercise`): protocol
version, exercise, regime, status callback. Timestamps must carry a time
zone: a naive one is ambiguous across the network.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from servinfo.rights.drp import _signature
from servinfo.rights.drp.errors import (
    AgentMismatch,
    MalformedMessage,
    MessageExpired,
    MessageTooOld,
    NotYetIssued,
    Unsupported,
    WrongBusiness,
)

__all__ = [
    "DRP_VERSION",
    "EXERCISES",
    "REGIMES",
    "Exercise",
    "Rules",
    "Signed",
    "check_callback",
    "check_version",
    "exercise",
    "open_message",
    "validate",
]

DRP_VERSION = "1.0"
#: The exercises servinfo takes (DRP 1.0 section 3.01; ``access:specific`` is not one).
EXERCISES = ("access", "deletion", "sale:opt-out", "sale:opt-in", "access:categories")
#: ``ccpa``, or no regime at all: a voluntary request.
REGIMES = ("ccpa",)


@dataclass(frozen=True)
class Rules:
    """What a message must satisfy besides its signature."""

    business_id: str
    #: servinfo refuses messages issued longer ago than this (they cannot be fresh).
    max_age: dt.timedelta = dt.timedelta(hours=1)
    #: How far ahead of servinfo's clock ``issued-at`` may be (the spec says: not at all).
    clock_skew: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class Signed:
    """A message that passed steps (1) to (6)."""

    agent_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    claims: Mapping[str, Any]
    #: SHA-256 of the signed buffer.
    digest: str


@dataclass(frozen=True)
class Exercise:
    """What a Data Rights Exercise message asks for."""

    exercise: str
    regime: str | None
    status_callback: str | None
    agent_request_id: str | None


def open_message(body: bytes | str, verify_key: bytes) -> tuple[dict[str, Any], str]:
    """Steps (1) and (2), then the message as a JSON object, and the buffer's digest."""
    signed = _signature.decode(body)  # (1)
    message = _signature.open_signed(signed, verify_key)  # (2)
    try:
        claims = json.loads(message)
    except (UnicodeDecodeError, ValueError):
        raise MalformedMessage("the signed message is not JSON") from None
    if not isinstance(claims, dict):
        raise MalformedMessage("the signed message is not a JSON object")
    return claims, _signature.digest(signed)


def validate(
    body: bytes | str, verify_key: bytes, agent_id: str, rules: Rules, now: dt.datetime
) -> Signed:
    """Steps (1) to (6) of DRP 1.0 section 3.07 for a message ``agent_id`` must have signed."""
    claims, digest = open_message(body, verify_key)
    # (3)
    claimed = _text(claims, "agent-id")
    if claimed != agent_id:
        raise AgentMismatch(f"agent-id {claimed!r} is not the token's agent {agent_id!r}")
    # (4)
    business = _text(claims, "business-id")
    if business != rules.business_id:
        raise WrongBusiness(f"business-id {business!r}, expected {rules.business_id!r}")
    # (5)
    issued = _time(claims, "issued-at")
    if issued > now + rules.clock_skew:
        raise NotYetIssued(
            f"issued-at {issued.isoformat()} is after the current time {now.isoformat()}"
        )
    if now - issued > rules.max_age:
        raise MessageTooOld(
            f"issued-at {issued.isoformat()} is older than {rules.max_age} "
            f"at {now.isoformat()}; sign a new message"
        )
    # (6)
    expires = _time(claims, "expires-at")
    if now >= expires:
        raise MessageExpired(f"expires-at {expires.isoformat()} has passed at {now.isoformat()}")
    return Signed(agent_id, issued, expires, claims, digest)


def check_version(claims: Mapping[str, Any]) -> None:
    version = claims.get("drp.version")
    if version != DRP_VERSION:
        raise Unsupported(f"drp.version {version!r}, expected {DRP_VERSION!r}")


def exercise(claims: Mapping[str, Any]) -> Exercise:
    """The request a validated Data Rights Exercise message makes."""
    check_version(claims)
    action = claims.get("exercise")
    if action not in EXERCISES:
        raise Unsupported(f"unsupported rights action {action!r}; expected one of {EXERCISES}")
    regime = claims.get("regime")
    if regime == "voluntary":  # what the reference agent sends for no regime
        regime = None
    if regime is not None and regime not in REGIMES:
        raise Unsupported(f"regime {regime!r} is not supported; expected 'ccpa' or none")
    callback = claims.get("status_callback")
    if callback is not None:
        check_callback(callback)
    agent_request_id = claims.get("agent-request-id")
    if agent_request_id is not None and (
        not isinstance(agent_request_id, str) or not 0 < len(agent_request_id) <= 255
    ):
        raise MalformedMessage("agent-request-id: expected a string of 1 to 255 characters")
    return Exercise(str(action), regime, callback, agent_request_id)


def check_callback(url: object) -> None:
    """An http(s) URL with a host. Where servinfo posts is decided when it posts
    (:mod:`~servinfo.rights.drp.callbacks`): a destination it refuses costs the agent its
    callbacks, not its request."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme not in ("https", "http")
        or not parts.hostname
        or len(str(url)) > 1000
    ):
        raise MalformedMessage("status_callback: expected a URL of at most 1000 characters")


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedMessage(f"the signed message lacks the claim {name!r}")
    return value


def _time(claims: Mapping[str, Any], name: str) -> dt.datetime:
    text = _text(claims, name)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MalformedMessage(f"{name}: expected an ISO 8601 timestamp, got {text!r}") from None
    if value.tzinfo is None:
        raise MalformedMessage(f"{name}: expected a time zone in {text!r}")
    return value.astimezone(dt.UTC)
