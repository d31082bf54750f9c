"""Finding subjects: the ids and home regions a principal may look up, audited.

Staff need a subject's opaque id to serve them (a read names one), and the
directory is itself personal data about who holds an account, so listing it is
a permission of its own (``list_subjects``), limited to the regions of the
principal's role, and every listing is an audit entry. The listing gives ids
and home regions only: nothing a subject's records hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from servinfo.access.errors import AccessError, Forbidden
from servinfo.access.principals import PrincipalService
from servinfo.audit import AuditSink
from servinfo.policy import Policy, UnknownPolicyElement
from servinfo.store import Principal, SubjectDirectory

__all__ = ["LISTING_LIMIT", "InvalidListing", "ListedSubject", "SubjectListing"]

#: The most subjects one call lists; page on with ``after``.
LISTING_LIMIT = 1000


class InvalidListing(AccessError):
    code = "invalid_request"
    http_status = 400


@dataclass(frozen=True)
class ListedSubject:
    subject_id: str
    home_region: str


class SubjectListing:
    def __init__(
        self,
        directory: SubjectDirectory,
        principals: PrincipalService,
        policy: Policy,
        audit: AuditSink,
    ) -> None:
        self._directory = directory
        self._principals = principals
        self._policy = policy
        self._audit = audit

    def list(
        self,
        principal: Principal,
        *,
        region: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[ListedSubject]:
        """Subjects not erased, in id order, whose data lives in a region of the
        principal's role (or in ``region``, if the role covers it)."""
        self._principals.require_permission(principal, "list_subjects")
        role = self._policy.roles[principal.role]
        if not 1 <= limit <= LISTING_LIMIT:
            raise InvalidListing(f"limit: got {limit}, expected 1 to {LISTING_LIMIT}")
        regions = list(role.regions)
        if region is not None:
            if region not in self._policy.regions:
                raise UnknownPolicyElement("region", region, sorted(self._policy.regions))
            if region not in regions:
                raise Forbidden(
                    f"role '{principal.role}' does not cover region '{region}' "
                    f"(its regions: {', '.join(regions)})"
                )
            regions = [region]
        rows = self._directory.list_subjects(regions, after=after, limit=limit)
        self._audit.record(
            "subjects_listed",
            actor=principal.name,
            outcome="listed",
            details={"regions": ",".join(regions), "count": len(rows)},
        )
        return [ListedSubject(subject_id, home) for subject_id, home in rows]
