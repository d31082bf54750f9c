"""The subject directory: organizations and data subjects, in the control database.

Organizations form a hierarchy (partner → customer organization); each has a
home region. A subject belongs to one organization and inherits its home
region — where its records live — and has a jurisdiction — where the person
is, which selects the legal regime. The record writer routes every record
through this directory, so a record for an unknown subject is refused.

Regions are given at construction (from the deployment's configuration): the
directory refuses an organization in a region the deployment has no database for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from servinfo.store._bulk import as_utc, fetch_for_ids
from servinfo.store._validate import check_name, check_opaque_id, utc_now
from servinfo.store.engines import write_transaction
from servinfo.store.errors import (
    DuplicateOrganization,
    DuplicateSubject,
    InvalidRecord,
    StoreError,
    UnknownOrganization,
    UnknownRegion,
    UnknownSubject,
)
from servinfo.store.models import OrganizationRow, SubjectRow

__all__ = ["Organization", "Subject", "SubjectDirectory"]

_ERASED_AMONG = "SELECT subject_id FROM subjects WHERE erased_at IS NOT NULL AND subject_id {ids}"
_SUBJECTS = (
    "SELECT subject_id, org_id, home_region, jurisdiction, created_at, erased_at, closed_at "
    "FROM subjects WHERE subject_id {ids}"
)


@dataclass(frozen=True)
class Organization:
    """A partner (no parent) or a customer organization of a partner."""

    org_id: str
    name: str
    home_region: str
    parent_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Subject:
    """A data subject as the directory knows it."""

    subject_id: str
    org_id: str
    #: Where the subject's records live (its organization's home region).
    home_region: str
    #: Where the person is; selects the regime (GDPR, UK GDPR, CCPA …).
    jurisdiction: str
    created_at: datetime
    erased_at: datetime | None
    #: When the identity service reported the account closed; None while it is open.
    closed_at: datetime | None = None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


class SubjectDirectory:
    """Organizations and subjects in the control database."""

    def __init__(self, engine: Engine, regions: Collection[str]) -> None:
        if not regions:
            raise StoreError("the subject directory needs at least one region, got none")
        self._engine = engine
        self._regions = frozenset(check_name(r, "region", StoreError) for r in regions)

    def __repr__(self) -> str:
        return f"SubjectDirectory(regions={sorted(self._regions)})"

    @property
    def engine(self) -> Engine:
        """The control database's engine."""
        return self._engine

    @property
    def regions(self) -> frozenset[str]:
        return self._regions

    def check_region(self, region: str) -> str:
        """``region`` if the deployment has it, else :class:`UnknownRegion`."""
        if region not in self._regions:
            raise UnknownRegion(region, list(self._regions))
        return region

    # -- organizations ----------------------------------------------------------

    def add_organization(
        self,
        org_id: str,
        name: str,
        home_region: str,
        parent_id: str | None = None,
        *,
        now: datetime | None = None,
    ) -> Organization:
        """Add a partner (``parent_id=None``) or a customer organization of a partner."""
        check_opaque_id(org_id, "organization id", InvalidRecord)
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise InvalidRecord("organization name must be 1 to 256 characters")
        self.check_region(home_region)
        created_at = utc_now(now)
        with write_transaction(self._engine) as connection:
            if parent_id is not None and self._organization(connection, parent_id) is None:
                raise UnknownOrganization(parent_id)
            if self._organization(connection, org_id) is not None:
                raise DuplicateOrganization(org_id)
            connection.execute(
                insert(OrganizationRow).values(
                    id=org_id,
                    name=name,
                    home_region=home_region,
                    parent_id=parent_id,
                    created_at=created_at,
                )
            )
        return Organization(org_id, name, home_region, parent_id, created_at)

    def get_organization(self, org_id: str) -> Organization:
        with self._engine.connect() as connection:
            found = self._organization(connection, org_id)
        if found is None:
            raise UnknownOrganization(org_id)
        return found

    def organizations_under(self, org_ids: Iterable[str]) -> set[str]:
        """``org_ids`` and every organization below them (a partner's customers …)."""
        found = set(org_ids)
        frontier = sorted(found)
        with self._engine.connect() as connection:
            while frontier:
                children = set(
                    connection.scalars(
                        select(OrganizationRow.id).where(OrganizationRow.parent_id.in_(frontier))
                    )
                )
                frontier = sorted(children - found)
                found |= children
        return found

    # -- subjects ----------------------------------------------------------------

    def register_subject(
        self, subject_id: str, org_id: str, jurisdiction: str, *, now: datetime | None = None
    ) -> Subject:
        """Register a subject of ``org_id``; its home region is the organization's."""
        check_opaque_id(subject_id, "subject id", InvalidRecord)
        check_name(jurisdiction, "jurisdiction", InvalidRecord)
        created_at = utc_now(now)
        with write_transaction(self._engine) as connection:
            organization = self._organization(connection, org_id)
            if organization is None:
                raise UnknownOrganization(org_id)
            self.check_region(organization.home_region)
            if _subject_rows(connection, [subject_id]):
                raise DuplicateSubject(subject_id)
            connection.execute(
                insert(SubjectRow).values(
                    subject_id=subject_id,
                    org_id=org_id,
                    home_region=organization.home_region,
                    jurisdiction=jurisdiction,
                    created_at=created_at,
                )
            )
        return Subject(subject_id, org_id, organization.home_region, jurisdiction, created_at, None)

    def get_subject(self, subject_id: str) -> Subject:
        """The subject, or :class:`UnknownSubject`."""
        found = self.subjects([subject_id]).get(subject_id)
        if found is None:
            raise UnknownSubject(subject_id)
        return found

    def subjects(self, subject_ids: Iterable[str]) -> dict[str, Subject]:
        """The known subjects among ``subject_ids``, by id; unknown ids are left out."""
        with self._engine.connect() as connection:
            return _subject_rows(connection, list(dict.fromkeys(subject_ids)))

    def list_subjects(
        self, regions: Collection[str], *, after: str | None = None, limit: int = 100
    ) -> list[tuple[str, str]]:
        """``(subject id, home region)`` of subjects not erased whose data lives in
        ``regions``, in id order, at most ``limit`` from after the id ``after``."""
        query = (
            select(SubjectRow.subject_id, SubjectRow.home_region)
            .where(SubjectRow.erased_at.is_(None), SubjectRow.home_region.in_(sorted(regions)))
            .order_by(SubjectRow.subject_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(SubjectRow.subject_id > after)
        with self._engine.connect() as connection:
            return [(subject_id, region) for subject_id, region in connection.execute(query)]

    def erased_among(self, subject_ids: Iterable[str]) -> set[str]:
        """Which of ``subject_ids`` are marked erased (one query per 500 ids).

        The writer asks this for every batch, so it goes through the driver's
        cursor (:func:`fetch_for_ids`) rather than building Core statements.
        """
        ids = list(dict.fromkeys(subject_ids))
        with self._engine.begin() as connection:
            rows = fetch_for_ids(connection, _ERASED_AMONG, ids)
        return {subject_id for (subject_id,) in rows}

    def set_jurisdiction(self, subject_id: str, jurisdiction: str) -> None:
        """Record that the person now lives under ``jurisdiction``."""
        check_name(jurisdiction, "jurisdiction", InvalidRecord)
        with write_transaction(self._engine) as connection:
            result = connection.execute(
                update(SubjectRow)
                .where(SubjectRow.subject_id == subject_id)
                .values(jurisdiction=jurisdiction)
            )
            if result.rowcount == 0:
                raise UnknownSubject(subject_id)

    def set_closed(self, subject_id: str, closed_at: datetime | None) -> bool:
        """Record the account closed at ``closed_at``, or open again (None).

        Marks the change pending until :meth:`settle_closure` says the retention
        of the subject's records has been recomputed for it; True if anything
        changed (reporting the same state again changes nothing).
        """
        when = None if closed_at is None else utc_now(closed_at)
        with write_transaction(self._engine) as connection:
            found = _subject_rows(connection, [subject_id]).get(subject_id)
            if found is None:
                raise UnknownSubject(subject_id)
            if found.closed_at == when:
                return False
            connection.execute(
                update(SubjectRow)
                .where(SubjectRow.subject_id == subject_id)
                .values(closed_at=when, closure_pending=True)
            )
        return True

    def pending_closures(self, regions: Collection[str], *, limit: int = 1000) -> list[Subject]:
        """Subjects of ``regions`` whose closure or reopening is not settled yet."""
        query = (
            select(SubjectRow.subject_id)
            .where(
                SubjectRow.closure_pending.is_(True),
                SubjectRow.home_region.in_(sorted(regions)),
            )
            .order_by(SubjectRow.subject_id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            ids = list(connection.scalars(query))
            return list(_subject_rows(connection, ids).values())

    def settle_closure(self, subject_id: str, closed_at: datetime | None) -> bool:
        """Clear the pending mark, if the account's state is still ``closed_at``.

        A closure or reopening reported meanwhile keeps it pending (False), so
        the next settlement applies the newer state.
        """
        condition = (
            SubjectRow.closed_at.is_(None)
            if closed_at is None
            else SubjectRow.closed_at == utc_now(closed_at)
        )
        with write_transaction(self._engine) as connection:
            result = connection.execute(
                update(SubjectRow)
                .where(SubjectRow.subject_id == subject_id, condition)
                .values(closure_pending=False)
            )
        return bool(result.rowcount)

    def mark_erased(self, subject_id: str, when: datetime) -> None:
        """Mark the subject erased; from then on the writer refuses its records.

        The record writer's ``erase_subject`` calls this itself; the earliest
        mark is kept if it runs twice.
        """
        with write_transaction(self._engine) as connection:
            mark_erased(connection, subject_id, utc_now(when))

    @staticmethod
    def _organization(connection: Connection, org_id: str) -> Organization | None:
        row = connection.execute(
            select(
                OrganizationRow.id,
                OrganizationRow.name,
                OrganizationRow.home_region,
                OrganizationRow.parent_id,
                OrganizationRow.created_at,
            ).where(OrganizationRow.id == org_id)
        ).one_or_none()
        return None if row is None else Organization(*row)


def mark_erased(connection: Connection, subject_id: str, when: datetime) -> None:
    """Set ``erased_at`` inside the caller's control transaction (keeps an earlier mark)."""
    found = _subject_rows(connection, [subject_id]).get(subject_id)
    if found is None:
        raise UnknownSubject(subject_id)
    if found.erased_at is None:
        connection.execute(
            update(SubjectRow).where(SubjectRow.subject_id == subject_id).values(erased_at=when)
        )


def _subject_rows(connection: Connection, subject_ids: list[str]) -> dict[str, Subject]:
    # Through the driver: the writer routes every new subject of a batch here.
    return {
        row[0]: Subject(
            row[0], row[1], row[2], row[3], as_utc(row[4]), as_utc(row[5]), as_utc(row[6])
        )
        for row in fetch_for_ids(connection, _SUBJECTS, subject_ids)
    }
