"""Every policy version that was ever active, in the control database.

The policy compiles to enforcement, notice and records of processing; keeping
each version's exact document lets an auditor see which rules applied when.
A version name is recorded once: recording it again with the same document
(re)activates it, with a different document is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from servinfo.store._validate import check_name, utc_now
from servinfo.store.engines import write_transaction
from servinfo.store.errors import InvalidRecord, PolicyVersionConflict, UnknownPolicyVersion
from servinfo.store.models import PolicyVersionRow

__all__ = ["PolicyRecord", "PolicyVersions"]


@dataclass(frozen=True)
class PolicyRecord:
    """One recorded policy version."""

    version: str
    #: The policy as JSON text, exactly as recorded.
    document: str
    recorded_at: datetime
    #: When it last became the active version; None if it never was.
    activated_at: datetime | None
    is_active: bool


_COLUMNS = (
    PolicyVersionRow.version,
    PolicyVersionRow.document,
    PolicyVersionRow.recorded_at,
    PolicyVersionRow.activated_at,
    PolicyVersionRow.is_active,
)


class PolicyVersions:
    """The policy_versions table: at most one version is active at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        version: str,
        document_json: str,
        *,
        activate: bool = True,
        now: datetime | None = None,
    ) -> PolicyRecord:
        """Store ``document_json`` as ``version`` and (by default) make it the active one."""
        check_name(version, "policy version", InvalidRecord)
        if not isinstance(document_json, str) or not document_json:
            raise InvalidRecord("policy document must be non-empty JSON text")
        when = utc_now(now)
        with write_transaction(self._engine) as connection:
            existing = connection.scalar(
                select(PolicyVersionRow.document).where(PolicyVersionRow.version == version)
            )
            if existing is None:
                connection.execute(
                    insert(PolicyVersionRow).values(
                        version=version,
                        document=document_json,
                        recorded_at=when,
                        activated_at=None,
                        is_active=False,
                    )
                )
            elif existing != document_json:
                raise PolicyVersionConflict(version)
            if activate:
                _activate(connection, version, when)
        return self.get(version)

    def activate(self, version: str, *, now: datetime | None = None) -> PolicyRecord:
        """Make an already recorded ``version`` the active one (e.g. to roll back)."""
        with write_transaction(self._engine) as connection:
            _activate(connection, version, utc_now(now))
        return self.get(version)

    def active(self) -> PolicyRecord | None:
        """The active version, or None before any was activated."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(*_COLUMNS).where(PolicyVersionRow.is_active.is_(True))
            ).one_or_none()
        return None if row is None else PolicyRecord(*row)

    def get(self, version: str) -> PolicyRecord:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(*_COLUMNS).where(PolicyVersionRow.version == version)
            ).one_or_none()
        if row is None:
            raise UnknownPolicyVersion(version)
        return PolicyRecord(*row)

    def history(self) -> list[PolicyRecord]:
        """Every recorded version, oldest first."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(*_COLUMNS).order_by(PolicyVersionRow.recorded_at, PolicyVersionRow.version)
            )
            return [PolicyRecord(*row) for row in rows]


def _activate(connection: Connection, version: str, when: datetime) -> None:
    # Lock every row first, so two concurrent activations on PostgreSQL cannot
    # both succeed and leave two active versions (SQLite's write lock already
    # serializes them).
    versions = set(connection.scalars(select(PolicyVersionRow.version).with_for_update()))
    if version not in versions:
        raise UnknownPolicyVersion(version)
    connection.execute(
        update(PolicyVersionRow)
        .where(PolicyVersionRow.is_active.is_(True), PolicyVersionRow.version != version)
        .values(is_active=False)
    )
    connection.execute(
        update(PolicyVersionRow)
        .where(PolicyVersionRow.version == version)
        .values(is_active=True, activated_at=when)
    )
