"""Who the consumer is: the identity claims an agent sends, and how far servinfo relies on them.

DRP 1.0 section 3.04 has agents send schema.org/Person claims: ``email`` with
``email_verified``, ``phone_number`` (E.164) with ``phone_number_verified``,
and others (``name``, ``address``) servinfo does not match on. The covered
business decides how much it relies on them (the spec: "Covered Businesses
SHALL determine for themselves the level of reliance they will place on a
given token"). servinfo's rules, per action, are settings (``drp.verify_*``):

================  =========================================================
level             the claims suffice when
================  =========================================================
``none``          they match one consumer; nothing needs verifying (opt-out
                  of sale or sharing, CCPA regulations s. 7026(d))
``verified``      one claim that matches the consumer was verified by the
                  agent (``*_verified: true``), and servinfo relies on that
                  agent's verification (``drp.trusted_agents``)
``verified_both`` e-mail address and phone number both match the consumer
                  and were both verified by such an agent: the higher
                  standard for access to specific pieces (s. 7062)
``consumer``      never: the business confirms with the consumer directly
                  (s. 7063(a)) whatever the agent sent
================  =========================================================

A consumer is matched through the subjects' blind indexes
(:class:`~servinfo.access.identifiers.SubjectFinder`, as the internal
``rights`` principal: audited, ids only). Every claim given must point at the
same one consumer: claims that name different consumers, or one address held
by several consumers (accounts in several organizations), match nobody — an
ambiguous match is never resolved by servinfo. A claim that matches no one
is not used. The claims are read once and never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from servinfo.access.identifiers import InvalidIdentifier, SubjectFinder
from servinfo.config import DRP_DEFAULT_VERIFICATION, DRP_VERIFICATION_LEVELS
from servinfo.rights.drp.errors import MalformedMessage
from servinfo.store import Principal

__all__ = ["ACTION_OF", "CLAIMS", "ClaimMatcher", "ClaimPolicy", "Match"]

#: The setting (``drp.verify_<action>``) each exercise is judged by.
ACTION_OF = {
    "access": "access",
    "access:categories": "access",
    "deletion": "deletion",
    "sale:opt-out": "opt_out",
    "sale:opt-in": "opt_out",
}
#: The identity claims servinfo matches on: claim, its ``*_verified`` flag, the identifier.
CLAIMS = (("email", "email_verified", "email"), ("phone_number", "phone_number_verified", "phone"))


@dataclass(frozen=True)
class ClaimPolicy:
    """Which claims suffice per action, and whose verification servinfo relies on."""

    levels: Mapping[str, str]
    #: Agent ids whose ``*_verified`` flags count; ``*`` for every registered agent.
    trusted_agents: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for action, level in self.levels.items():
            if level not in DRP_VERIFICATION_LEVELS:
                raise ValueError(f"drp.verify_{action}: got {level!r}")

    @classmethod
    def default(cls) -> ClaimPolicy:
        return cls(dict(DRP_DEFAULT_VERIFICATION))

    @classmethod
    def of(cls, levels: Mapping[str, str], trusted: Collection[str]) -> ClaimPolicy:
        return cls({**DRP_DEFAULT_VERIFICATION, **levels}, frozenset(trusted))

    def level(self, exercise: str) -> str:
        return self.levels.get(ACTION_OF[exercise], "consumer")

    def trusts(self, agent_id: str) -> bool:
        return "*" in self.trusted_agents or agent_id in self.trusted_agents


@dataclass(frozen=True)
class Match:
    """The consumer the claims name, if exactly one, and whether they suffice."""

    subject_id: str | None
    #: The claims meet the action's level: no confirmation by the consumer is needed.
    sufficient: bool
    #: Why no consumer, for the agent (never a claim's value).
    why: str = ""


class ClaimMatcher:
    def __init__(
        self,
        finder: SubjectFinder,
        principal: Callable[[], Principal],
        policy: ClaimPolicy,
    ) -> None:
        self._finder = finder
        self._principal = principal
        self.policy = policy

    def match(self, agent_id: str, exercise: str, claims: Mapping[str, Any]) -> Match:
        """(1) the claims given, (2) the consumers each names, (3) one consumer or none,
        (4) whether the claims that name them meet the action's level."""
        given = _given(claims)  # (1)
        if not given:
            return Match(None, False, "the request carries no email or phone_number claim")
        found: dict[str, list[str]] = {}  # (2)
        for identifier, (value, _) in given.items():
            try:
                found[identifier] = self._finder.find_subjects(
                    identifier, value, principal=self._principal()
                )
            except InvalidIdentifier as error:  # its message never repeats the value
                raise MalformedMessage(error.message) from None
        named = {subject for subjects in found.values() for subject in subjects}
        if not named:  # (3)
            return Match(None, False, "no consumer matches the email or phone_number claims")
        if len(named) > 1:
            return Match(
                None,
                False,
                "the claims match several consumers (one address in several accounts, or "
                "claims of different consumers); the consumer may ask us directly",
            )
        (subject,) = named
        matching = {identifier for identifier, subjects in found.items() if subjects}
        trusted = self.policy.trusts(agent_id)
        verified = {
            identifier for identifier in matching if trusted and given[identifier][1] is True
        }
        level = self.policy.level(exercise)  # (4)
        sufficient = (
            level == "none"
            or (level == "verified" and bool(verified))
            or (level == "verified_both" and verified >= {"email", "phone"})
        )
        return Match(subject, sufficient)


def _given(claims: Mapping[str, Any]) -> dict[str, tuple[str, object]]:
    """The identity claims present, canonical form left to the finder: identifier ->
    (value, its ``*_verified`` flag)."""
    given: dict[str, tuple[str, object]] = {}
    for claim, flag, identifier in CLAIMS:
        value = claims.get(claim)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 320:
            raise MalformedMessage(f"{claim}: expected a string of at most 320 characters")
        verified = claims.get(flag, False)
        if not isinstance(verified, bool):
            raise MalformedMessage(f"{flag}: expected true or false")
        given[identifier] = (value, verified)
    return given
