"""Grants: the one way Service Information reaches a principal outside the organisation.

The notice names three ways Service Information may leave IMS - Network — to a
processor under contract, with the subject's explicit consent, to comply with a
legal requirement — and promises there is no other. So a principal of an
outside kind (:data:`OUTSIDE_KINDS`) reads records only with a :class:`Grant`
for exactly one of those bases, and grants come from one place: the sharing
service (:mod:`servinfo.sharing`), which holds the deployment's
:class:`GrantIssuer` and decides each basis before it issues one.

A grant is sealed with a key the issuer draws at random when it is built and
never hands out: :class:`ReadService` holds only the :class:`GrantVerifier`,
which checks seals and can make none. A grant names its recipient, basis and
reference, one subject, one purpose, the categories, and an end a few seconds
off; a grant that does not cover the read asked for is no grant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Literal

from servinfo.access.errors import Forbidden

__all__ = [
    "GRANT_LIFETIME",
    "OUTSIDE_KINDS",
    "Basis",
    "Grant",
    "GrantIssuer",
    "GrantRequired",
    "GrantVerifier",
    "is_outside",
]

#: Principal kinds outside the organisation: they read only with a grant.
OUTSIDE_KINDS = frozenset({"processor", "third_party", "authority"})
#: How long a grant lasts: long enough for the one read it was issued for.
GRANT_LIFETIME = dt.timedelta(seconds=30)

Basis = Literal["processor", "consent", "legal_requirement"]
BASES: tuple[Basis, ...] = ("processor", "consent", "legal_requirement")


class GrantRequired(Forbidden):
    """An outside principal asked to read without a grant that covers the read (403).

    The text is fixed and names no subject: it is said before any subject is looked up.
    """

    code = "grant_required"

    def __init__(self) -> None:
        super().__init__(
            "outside recipients receive Service Information only through the sharing "
            "service: a processor under contract, the subject's consent, or an approved "
            "legal request"
        )


def is_outside(kind: str) -> bool:
    """Whether a principal of ``kind`` is outside the organisation."""
    return kind in OUTSIDE_KINDS


@dataclass(frozen=True)
class Grant:
    """Permission for one read by one outside recipient, on one basis."""

    grant_id: str
    #: The recipient: the processor id a processor principal is bound to, or a recipient id.
    recipient: str
    basis: Basis
    #: The contract reference, consent entry id or legal request id the basis rests on.
    reference: str
    subject_id: str
    purpose: str
    categories: frozenset[str]
    not_after: dt.datetime
    seal: bytes = field(repr=False)
    #: A disclosure under a gag order: the read's audit entries name no subject until
    #: the order lifts (the sharing service then writes the entries that do).
    withheld: bool = False

    def message(self) -> bytes:
        """The sealed bytes: every field but the seal, unambiguously joined."""
        parts = (
            self.grant_id,
            self.recipient,
            self.basis,
            self.reference,
            self.subject_id,
            self.purpose,
            ",".join(sorted(self.categories)),
            self.not_after.isoformat(),
            "withheld" if self.withheld else "",
        )
        return "\x1f".join(parts).encode("utf-8")


def _seal(key: bytes, grant: Grant) -> bytes:
    """The seal of ``grant``'s fields under ``key`` (its own seal left out)."""
    return hmac.new(key, grant.message(), hashlib.sha256).digest()


class GrantVerifier:
    """Checks that a grant was issued by the deployment's issuer and covers a read."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def covers(
        self,
        grant: Grant | None,
        *,
        recipient: str | None,
        subject_id: str,
        purpose: str,
        categories: Collection[str],
        now: dt.datetime,
    ) -> bool:
        """Whether ``grant`` is genuine, unexpired, and covers exactly this read."""
        if grant is None or recipient is None:
            return False
        if not hmac.compare_digest(_seal(self._key, grant), grant.seal):
            return False
        return (
            grant.recipient == recipient
            and grant.subject_id == subject_id
            and grant.purpose == purpose
            and now <= grant.not_after
            and bool(categories)
            and set(categories) <= grant.categories
        )


class GrantIssuer:
    """Makes grants. The deployment builds one and gives it to the sharing service only;
    a test checks that no other module names this class."""

    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._key = secrets.token_bytes(32)
        self.verifier = GrantVerifier(self._key)
        # A grant's life is the read path's clock, not the disclosure's instant (which
        # callers pass in to decide a basis, and may lie in the past or future).
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def issue(
        self,
        *,
        recipient: str,
        basis: Basis,
        reference: str,
        subject_id: str,
        purpose: str,
        categories: Collection[str],
        withheld: bool = False,
    ) -> Grant:
        if basis not in BASES:
            raise ValueError(f"got basis {basis!r}, expected one of {', '.join(BASES)}")
        unsealed = Grant(
            grant_id=secrets.token_hex(8),
            recipient=recipient,
            basis=basis,
            reference=reference,
            subject_id=subject_id,
            purpose=purpose,
            categories=frozenset(categories),
            not_after=self._clock() + GRANT_LIFETIME,
            seal=b"",
            withheld=withheld,
        )
        return replace(unsealed, seal=_seal(self._key, unsealed))
