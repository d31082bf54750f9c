"""Consent to disclosure: what makes one explicit, granular, informed and in force.

The notice's "With Your Consent" allows sharing with an external party only
with the subject's *explicit* consent (GDPR Art. 4(11), 7; FADP Art. 6(6)).
A consent that counts for a disclosure:

1. names the recipient *and* the purpose (granular), and its latest event at
   the disclosure's instant is ``given`` — a withdrawal a second earlier is the
   latest event, and stops the disclosure;
2. has not reached its end (``expires_at``);
3. was given against the wording in force: the consent records the hash of the
   exact text shown (:func:`consent_wording`), which the policy version in
   force composes; when the wording changed since, the subject must consent
   again (a consent given against an older notice whose wording is unchanged
   still holds);
4. was recorded with a channel and a proof (who recorded it, the signed request);
5. where no transfer mechanism covers the recipient's country from the
   subject's region, names that country and the risks the subject was told
   (GDPR Art. 49(1)(a), FADP Art. 17(1)(a)).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from servinfo.access.compile import transfer_towards
from servinfo.ledgers import Consent
from servinfo.policy.model import Policy
from servinfo.sharing.errors import DisclosureDenied

__all__ = ["consent_in_force", "consent_wording", "transfer_needs_consent", "wording_hash"]


def consent_wording(policy: Policy, recipient: str, purpose: str) -> str:
    """The exact text a subject is shown when asked to consent (from the policy in force)."""
    ground = policy.disclosure_grounds["consent"]
    chosen = policy.purposes[purpose]
    return (
        f"{ground.title}. {ground.description} "
        f"I consent to {policy.organization.name} disclosing my Service Information "
        f"to '{recipient}' for the purpose '{chosen.name}': {chosen.description}"
    )


def wording_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def transfer_needs_consent(
    policy: Policy, today: dt.date, region: str, recipient: str, country: str
) -> str | None:
    """Why a disclosure to ``recipient`` in ``country`` of data held in ``region`` has no
    transfer mechanism (so only an Art. 49(1)(a) consent covers it); None when one does,
    or when nothing crosses a border."""
    transfer = transfer_towards(policy, today, region, recipient, country)
    if transfer.reason.passed:
        return None
    return transfer.reason.text


def consent_in_force(
    policy: Policy,
    events: Sequence[Consent],
    *,
    recipient: str,
    purpose: str,
    region: str,
    country: str,
    when: dt.datetime,
) -> Consent:
    """The consent that covers disclosing to ``recipient`` for ``purpose`` at ``when``,
    or :class:`DisclosureDenied` naming the first of rules 1-5 that fails."""
    # (1) the latest event of exactly this scope, among those made by ``when``
    latest: Consent | None = None
    for event in events:  # oldest first
        if event.recipient == recipient and event.purpose == purpose and event.at <= when:
            latest = event
    scope = f"disclosure to {recipient!r} for purpose {purpose!r}"
    if latest is None:
        raise DisclosureDenied(f"no consent to {scope}")
    if latest.state != "given":
        raise DisclosureDenied(
            f"the consent to {scope} was withdrawn at {latest.at.isoformat()}"
            f"{' (Global Privacy Control)' if latest.channel == 'gpc' else ''}"
        )
    # (2) its end
    if latest.expires_at is not None and latest.expires_at <= when:
        raise DisclosureDenied(f"the consent to {scope} ended at {latest.expires_at.isoformat()}")
    # (3) the wording in force
    current = wording_hash(consent_wording(policy, recipient, purpose))
    if latest.wording_hash is None:
        raise DisclosureDenied(
            f"the consent to {scope} records no wording: it is not explicit; ask again"
        )
    if latest.wording_hash != current:
        raise DisclosureDenied(
            f"the consent to {scope} was given against notice version "
            f"{latest.notice_version}, whose wording changed in {policy.version}: "
            "the subject must consent again"
        )
    # (4) channel and proof
    if not latest.channel or not latest.proof:
        raise DisclosureDenied(f"the consent to {scope} records no channel or proof")
    # (5) a country no transfer mechanism covers: Art. 49(1)(a)
    missing = transfer_needs_consent(policy, when.date(), region, recipient, country)
    if missing is not None and (latest.country != country or not latest.risks):
        raise DisclosureDenied(
            f"{missing}; an explicit consent naming the country {country} and the risks "
            f"(GDPR Art. 49(1)(a), FADP Art. 17(1)(a)) is needed, got country "
            f"{latest.country or 'none'}{' and no risks' if not latest.risks else ''}"
        )
    return latest
