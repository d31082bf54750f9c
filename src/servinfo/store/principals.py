"""Principals: who may call servinfo, in the control database.

Only the SHA-256 of each token is stored (tokens are 256 random bits, shown
once; :func:`servinfo.crypto.hash_token` and :func:`servinfo.crypto.token_matches`).
Looking a principal up by the hash is safe against timing attacks: an attacker
controls the token, not its hash, so learning how many leading hash bytes
matched tells them nothing about a valid token.

The access issue extends principals (grants, reviews); this module is the table's
only writer.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, exc, func, insert, or_, select, update
from ulid import ULID

from servinfo.store._bulk import as_utc, fetch_for_ids
from servinfo.store._validate import check_name, check_opaque_id, utc_now
from servinfo.store.engines import is_sqlite, write_transaction
from servinfo.store.errors import (
    DuplicatePrincipal,
    InvalidRecord,
    LastAdministrator,
    UnknownPrincipal,
)
from servinfo.store.models import PrincipalRow

__all__ = ["Principal", "PrincipalStore"]

#: Kinds of principal that act for the subject they are bound to (``access.compile``'s
#: ``SELF_KINDS``; the store cannot import access). A DRP agent is bound to its agent id.
_SELF_KINDS = ("subject", "authorized_agent")

_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")
_PRINCIPAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}")


@dataclass(frozen=True)
class Principal:
    """A principal; ``token_hash`` is the SHA-256 of its token, never the token."""

    principal_id: str
    name: str
    kind: str
    role: str
    region: str | None
    entity: str | None
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None
    #: A service principal's service, a processor's processor id, a subject's own id.
    binding: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


_COLUMNS = (
    PrincipalRow.id,
    PrincipalRow.name,
    PrincipalRow.kind,
    PrincipalRow.role,
    PrincipalRow.region,
    PrincipalRow.entity,
    PrincipalRow.token_hash,
    PrincipalRow.created_at,
    PrincipalRow.revoked_at,
    PrincipalRow.binding,
)
# Authentication runs on every request: through the driver, as the writer's
# directory lookups do (a Core select cost more than the query itself).
_PRINCIPAL_BY_HASH_ANY = (
    "SELECT id, name, kind, role, region, entity, token_hash, created_at, revoked_at, binding "
    "FROM principals WHERE token_hash {ids}"
)
_PRINCIPAL_BY_HASH = _PRINCIPAL_BY_HASH_ANY + " AND revoked_at IS NULL"


class PrincipalStore:
    """The principals table of the control database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        name: str,
        kind: str,
        role: str,
        region: str | None,
        entity: str | None,
        token_hash: str,
        *,
        binding: str | None = None,
        now: datetime | None = None,
    ) -> Principal:
        """Add a principal; :class:`DuplicatePrincipal` if the name or hash is taken."""
        if not isinstance(name, str) or not _PRINCIPAL_NAME.fullmatch(name):
            raise InvalidRecord(
                "principal name must be 1 to 128 letters, digits, '.', '_', '@', ':' or '-'"
            )
        check_name(kind, "principal kind", InvalidRecord)
        check_name(role, "principal role", InvalidRecord)
        for value, what in ((region, "region"), (entity, "legal entity")):
            if value is not None:
                check_name(value, what, InvalidRecord)
        if not isinstance(token_hash, str) or not _TOKEN_HASH.fullmatch(token_hash):
            raise InvalidRecord(
                "token_hash must be 64 lower-case hex characters (servinfo.crypto.hash_token)"
            )
        if binding is not None:
            check_opaque_id(binding, "principal binding", InvalidRecord)
        principal = Principal(
            str(ULID()), name, kind, role, region, entity, token_hash, utc_now(now), None, binding
        )
        try:
            with write_transaction(self._engine) as connection:
                taken = connection.scalar(
                    select(PrincipalRow.name).where(
                        or_(PrincipalRow.name == name, PrincipalRow.token_hash == token_hash)
                    )
                )
                if taken is not None:
                    raise DuplicatePrincipal(
                        f"principal {name!r} already exists"
                        if taken == name
                        else "that token is already in use; issue a new one"
                    )
                connection.execute(
                    insert(PrincipalRow).values(
                        id=principal.principal_id,
                        name=name,
                        kind=kind,
                        role=role,
                        region=region,
                        entity=entity,
                        token_hash=token_hash,
                        created_at=principal.created_at,
                        binding=binding,
                    )
                )
        except exc.IntegrityError:  # a concurrent add won the race
            raise DuplicatePrincipal(f"principal {name!r} already exists") from None
        return principal

    def by_token_hash(self, token_hash: str, *, include_revoked: bool = False) -> Principal | None:
        """The principal whose token hashes to ``token_hash``; revoked ones only on request.

        Fails closed: by default a revoked principal is not found.
        """
        query = _PRINCIPAL_BY_HASH_ANY if include_revoked else _PRINCIPAL_BY_HASH
        with self._engine.connect() as connection:
            rows = fetch_for_ids(connection, query, [token_hash])
        if not rows:
            return None
        row = rows[0]
        return Principal(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            as_utc(row[7]),
            as_utc(row[8]),
            row[9],
        )

    def get(self, name: str) -> Principal:
        """The principal called ``name`` (revoked or not), or :class:`UnknownPrincipal`."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(*_COLUMNS).where(PrincipalRow.name == name)
            ).one_or_none()
        if row is None:
            raise UnknownPrincipal(name)
        return Principal(*tuple(row))

    def list(self, *, include_revoked: bool = True) -> list[Principal]:
        """Every principal, sorted by name."""
        query = select(*_COLUMNS).order_by(PrincipalRow.name)
        if not include_revoked:
            query = query.where(PrincipalRow.revoked_at.is_(None))
        with self._engine.connect() as connection:
            return [Principal(*tuple(row)) for row in connection.execute(query)]

    def revoke(
        self,
        name: str,
        *,
        now: datetime | None = None,
        keep_one_of: frozenset[str] = frozenset(),
    ) -> Principal:
        """Revoke ``name``'s token from ``now`` on; revoking twice keeps the first time.

        With ``keep_one_of`` (the administrative roles), refuses with
        :class:`LastAdministrator` to revoke the last active principal holding
        one of them. The count and the revocation are one transaction that no
        other revocation runs beside: SQLite's write lock (``BEGIN IMMEDIATE``),
        and on PostgreSQL a table lock that conflicts with itself, so that two
        administrators revoking each other at once cannot both see the other
        still active. Reads (authentication) do not wait for it.
        """
        when = utc_now(now)
        with write_transaction(self._engine) as connection:
            if keep_one_of:
                _lock_principals(connection)
                target = connection.execute(
                    select(PrincipalRow.role, PrincipalRow.revoked_at).where(
                        PrincipalRow.name == name
                    )
                ).one_or_none()
                if target is not None and target[1] is None and target[0] in keep_one_of:
                    others = connection.scalar(
                        select(func.count())
                        .select_from(PrincipalRow)
                        .where(
                            PrincipalRow.role.in_(sorted(keep_one_of)),
                            PrincipalRow.revoked_at.is_(None),
                            PrincipalRow.name != name,
                        )
                    )
                    if not others:
                        raise LastAdministrator(name, keep_one_of)
            result = connection.execute(
                update(PrincipalRow)
                .where(PrincipalRow.name == name, PrincipalRow.revoked_at.is_(None))
                .values(revoked_at=when)
            )
            if result.rowcount == 0:
                exists = connection.scalar(select(PrincipalRow.id).where(PrincipalRow.name == name))
                if exists is None:
                    raise UnknownPrincipal(name)
        return self.get(name)

    def bound_to(self, subject_id: str) -> builtins.list[str]:
        """The names of the principals that act for ``subject_id`` alone, sorted."""
        with self._engine.connect() as connection:
            return sorted(
                connection.scalars(
                    select(PrincipalRow.name).where(
                        PrincipalRow.binding == subject_id, PrincipalRow.kind.in_(_SELF_KINDS)
                    )
                )
            )

    def remove_bound_to(self, subject_id: str) -> builtins.list[str]:
        """Delete the principals that act for ``subject_id`` alone; their names.

        At erasure: the row names the person (a subject principal is often
        called by its e-mail address) and binds the name to the subject id.
        Deleting it also ends its token, which only the row's hash could match.
        """
        with write_transaction(self._engine) as connection:
            bound = (PrincipalRow.binding == subject_id, PrincipalRow.kind.in_(_SELF_KINDS))
            names = list(connection.scalars(select(PrincipalRow.name).where(*bound)))
            if names:
                connection.execute(delete(PrincipalRow).where(*bound))
        return sorted(names)


def _lock_principals(connection: Connection) -> None:
    """Keep concurrent revocations apart (SQLite's ``BEGIN IMMEDIATE`` already does).

    SHARE ROW EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE that
    inserts and updates take, not with the ACCESS SHARE of plain reads. Each
    statement after it in a READ COMMITTED transaction sees every revocation
    committed before the lock was granted.
    """
    if not is_sqlite(connection.engine):
        connection.exec_driver_sql("LOCK TABLE principals IN SHARE ROW EXCLUSIVE MODE")
