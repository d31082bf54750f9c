"""Organizations and subjects, registered by the cloud identity service.

Registrations are idempotent: sending the same organization or subject again
changes nothing (``unchanged``), so a replayed NDJSON file or a resumed batch
is harmless. A subject sent with another jurisdiction records a move; one with
``closed_at`` records the account closed (``null``: open again). What
the directory cannot change yet — an organization's name, home region or
parent, a subject's organization — is refused as a conflict.
"""

from __future__ import annotations

import datetime as dt

from servinfo.collect.errors import (
    RegistrationConflict,
    SchemaViolation,
    UnknownOrganizationInObject,
)
from servinfo.collect.objects import UNREPORTED, OrganizationObject, SubjectObject
from servinfo.collect.outcome import Outcome
from servinfo.policy import Policy
from servinfo.store import (
    DuplicateOrganization,
    DuplicateSubject,
    SubjectDirectory,
    SubjectErased,
    UnknownOrganization,
)

__all__ = ["register_organization", "register_subject"]


def register_organization(
    directory: SubjectDirectory, policy: Policy, parsed: OrganizationObject
) -> Outcome:
    """Add an organization; the same one again is unchanged, a different one a conflict."""
    if parsed.home_region not in policy.regions:
        raise SchemaViolation(
            "home_region", f"not a region of the policy (regions: {', '.join(policy.regions)})"
        )
    try:
        directory.add_organization(parsed.id, parsed.name, parsed.home_region, parsed.parent)
        return Outcome("organization", parsed.id, "created", region=parsed.home_region)
    except UnknownOrganization:
        raise UnknownOrganizationInObject("parent", parsed.parent or "") from None
    except DuplicateOrganization:
        existing = directory.get_organization(parsed.id)
    different = [
        name
        for name, ours, theirs in (
            ("name", parsed.name, existing.name),
            ("home_region", parsed.home_region, existing.home_region),
            ("parent", parsed.parent, existing.parent_id),
        )
        if ours != theirs
    ]
    if different:
        raise RegistrationConflict(
            f"{different[0]}: organization {parsed.id!r} is registered with another "
            f"{different[0]}; changing it is not supported yet (a home region change "
            "would move its members' data)"
        )
    return Outcome("organization", parsed.id, "unchanged", region=existing.home_region)


def register_subject(directory: SubjectDirectory, parsed: SubjectObject) -> Outcome:
    """Register a subject, or record its move to another jurisdiction."""
    existing = directory.subjects([parsed.id]).get(parsed.id)
    if existing is None:
        try:
            subject = directory.register_subject(parsed.id, parsed.org, parsed.jurisdiction)
        except UnknownOrganization:
            raise UnknownOrganizationInObject("org", parsed.org) from None
        except DuplicateSubject:  # another worker registered it a moment ago
            existing = directory.get_subject(parsed.id)
        else:
            if isinstance(parsed.closed_at, dt.datetime):
                directory.set_closed(parsed.id, parsed.closed_at)
            return Outcome("subject", parsed.id, "registered", region=subject.home_region)
    if existing.erased:
        raise SubjectErased(f"subject {parsed.id}")
    if existing.org_id != parsed.org:
        raise RegistrationConflict(
            f"org: subject {parsed.id!r} belongs to another organization; moving a "
            "subject between organizations is not supported yet (its data would move)"
        )
    # The account's closure or reopening: its retention is settled by the next sweep
    # (servinfo.retention.closure), which the directory marks pending.
    closure = None
    if parsed.closed_at is not UNREPORTED and directory.set_closed(parsed.id, parsed.closed_at):
        closure = "closed" if parsed.closed_at is not None else "reopened"
    if existing.jurisdiction == parsed.jurisdiction:
        return Outcome("subject", parsed.id, closure or "unchanged", region=existing.home_region)
    directory.set_jurisdiction(parsed.id, parsed.jurisdiction)
    return Outcome("subject", parsed.id, "jurisdiction_changed", region=existing.home_region)
