"""The authorized-agent registry and pairwise key setup (DRP 1.0 sections 2.05, 2.06, 3.07).

An operator registers an agent's verify key out of band (``servinfo drp agent
add``); that key is the root of trust. The agent then obtains its bearer token
from ``POST /v1/agent/{agent-id}`` with a signed message validated like any
other (:func:`servinfo.rights.drp.messages.validate`, the URL naming the key).
The token belongs to an ``authorized_agent`` principal bound to the agent id,
issued by :class:`~servinfo.access.principals.PrincipalService` (so it is
random, shown once, stored as a hash, and audited); a new setup revokes the
previous principal, so an agent holds one valid token at a time. A setup
message is accepted once, and never after a newer one (see :meth:`AgentRegistry.pair`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from ulid import ULID

from servinfo.access.errors import Unauthenticated
from servinfo.access.principals import PrincipalService
from servinfo.audit import AuditSink
from servinfo.rights.drp import _signature
from servinfo.rights.drp.errors import (
    AgentForbidden,
    AgentUnauthorized,
    MalformedMessage,
    Replayed,
    UnknownAgent,
)
from servinfo.rights.drp.messages import Rules, Signed, check_callback, check_version, validate
from servinfo.rights.drp.models import DrpAgentRow, DrpSetupRow
from servinfo.rights.errors import InvalidRequest
from servinfo.store.engines import write_transaction

__all__ = ["AGENT_KIND", "AGENT_ROLE", "Agent", "AgentRegistry", "decode_verify_key"]

#: The principal kind and role of a paired agent (distinct from the staff ``agent``).
AGENT_KIND = "authorized_agent"
AGENT_ROLE = "authorized_agent"
_AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Agent:
    agent_id: str
    verify_key: bytes
    status_callback: str | None
    registered_at: dt.datetime
    principal: str | None
    paired_at: dt.datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "agent_id": self.agent_id,
            "verify_key": base64.b64encode(self.verify_key).decode("ascii"),
            "status_callback": self.status_callback,
            "registered_at": self.registered_at.isoformat(),
            "paired": self.paired_at is not None,
            "paired_at": self.paired_at.isoformat() if self.paired_at else None,
        }


def decode_verify_key(text: str) -> bytes:
    """An agent's verify key from its base64 form (DRP 0.9.1 on: base64, 32 bytes)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return _signature.check_verify_key(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequest(f"--verify-key: expected base64 of 32 bytes ({error})") from None


class AgentRegistry:
    def __init__(
        self, engine: Engine, principals: PrincipalService, audit: AuditSink, rules: Rules
    ) -> None:
        self._engine = engine
        self._principals = principals
        self._audit = audit
        self._rules = rules

    def register(
        self,
        agent_id: str,
        verify_key: bytes,
        *,
        actor: str,
        status_callback: str | None = None,
        now: dt.datetime | None = None,
    ) -> Agent:
        """Register an agent's verify key, received out of band."""
        if not _AGENT_ID.fullmatch(agent_id):
            raise InvalidRequest(
                f"agent id {agent_id!r}: expected 1 to 64 letters, digits, '_', '.' or '-'"
            )
        _signature.check_verify_key(verify_key)
        if status_callback is not None:
            try:
                check_callback(status_callback)
            except MalformedMessage as error:
                raise InvalidRequest(error.message) from None
        at = now or dt.datetime.now(dt.UTC)
        with write_transaction(self._engine) as connection:
            taken = connection.scalar(
                select(DrpAgentRow.agent_id).where(DrpAgentRow.agent_id == agent_id)
            )
            if taken is not None:
                raise InvalidRequest(f"agent {agent_id!r} is already registered")
            connection.execute(
                insert(DrpAgentRow).values(
                    agent_id=agent_id,
                    verify_key=verify_key,
                    status_callback=status_callback,
                    registered_at=at,
                    registered_by=actor,
                )
            )
        self._audit.record(
            "principal_change",
            actor=actor,
            outcome="drp_agent_registered",
            details={"agent_id": agent_id},
        )
        return self.get(agent_id)

    def get(self, agent_id: str) -> Agent:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(DrpAgentRow.__table__).where(DrpAgentRow.agent_id == agent_id)
            ).one_or_none()
        if row is None:
            raise UnknownAgent(f"no authorized agent {agent_id!r} is registered")
        return Agent(
            row.agent_id,
            bytes(row.verify_key),
            row.status_callback,
            row.registered_at,
            row.principal,
            row.paired_at,
        )

    def all(self) -> list[Agent]:
        with self._engine.connect() as connection:
            ids = connection.scalars(select(DrpAgentRow.agent_id).order_by(DrpAgentRow.agent_id))
            names = list(ids)
        return [self.get(agent_id) for agent_id in names]

    def pair(self, agent_id: str, body: bytes, *, now: dt.datetime) -> tuple[Agent, str]:
        """Pairwise key setup: validate the signed message, issue a new token (shown once).

        (1) The message validates (section 3.07) under the key the URL names.
        (2) It is claimed, in one transaction: never seen before (its digest is
            kept until it could no longer validate) and issued after the setup
            message whose token is current. Concurrent copies of one message
            meet on the digest's key: one claims it.
        (3) A principal is issued, and becomes the agent's current one only if
            this message is still the last claimed: a newer setup that
            claimed meanwhile wins, and this token is revoked at once. So an
            agent holds one active token whatever the interleaving.
        """
        agent = self.get(agent_id)  # the URL names the key (section 2.05)
        signed = validate(body, agent.verify_key, agent_id, self._rules, now)  # (1)
        check_version(signed.claims)
        self._claim(signed, now)  # (2)
        issued = self._principals.add(  # (3)
            f"drp:{agent_id}:{str(ULID()).lower()}",
            kind=AGENT_KIND,
            role=AGENT_ROLE,
            region=None,
            binding=agent_id,
            actor=f"drp:{agent_id}",
            now=now,
        )
        with write_transaction(self._engine) as connection:
            previous = connection.scalar(
                select(DrpAgentRow.principal).where(DrpAgentRow.agent_id == agent_id)
            )
            current = connection.execute(
                update(DrpAgentRow)
                .where(DrpAgentRow.agent_id == agent_id, DrpAgentRow.setup_hash == signed.digest)
                .values(
                    principal=issued.principal.name,
                    token_hash=issued.principal.token_hash,
                    paired_at=now,
                )
            ).rowcount
        if not current:
            self._principals.revoke(issued.principal.name, actor=f"drp:{agent_id}", now=now)
            raise Replayed("a newer setup message was accepted meanwhile; its token is current")
        if previous is not None:
            self._principals.revoke(previous, actor=f"drp:{agent_id}", now=now)
        return self.get(agent_id), issued.token

    def _claim(self, signed: Signed, now: dt.datetime) -> None:
        """Step (2) of :meth:`pair`: this setup message, once, and newer than the current one."""
        forget_after = min(signed.expires_at, signed.issued_at + self._rules.max_age)
        try:
            with write_transaction(self._engine) as connection:
                connection.execute(delete(DrpSetupRow).where(DrpSetupRow.forget_after < now))
                connection.execute(
                    insert(DrpSetupRow).values(
                        digest=signed.digest, agent_id=signed.agent_id, forget_after=forget_after
                    )
                )
                newer = connection.execute(
                    update(DrpAgentRow)
                    .where(
                        DrpAgentRow.agent_id == signed.agent_id,
                        or_(
                            DrpAgentRow.setup_issued_at.is_(None),
                            DrpAgentRow.setup_issued_at < signed.issued_at,
                        ),
                    )
                    .values(setup_hash=signed.digest, setup_issued_at=signed.issued_at)
                ).rowcount
                if not newer:
                    raise Replayed(
                        f"issued-at {signed.issued_at.isoformat()} is not after the last "
                        "accepted setup message's; sign a new one"
                    )
        except IntegrityError:
            raise Replayed("this setup message was used already; sign a new one") from None

    def authenticate(self, token: str | None) -> Agent:
        """The agent whose current pairwise token ``token`` is."""
        try:
            principal = self._principals.authenticate(token)
        except Unauthenticated as error:
            raise AgentUnauthorized(error.message) from None
        if principal.kind != AGENT_KIND or principal.binding is None:
            raise AgentForbidden(
                f"principal kind {principal.kind!r}, expected {AGENT_KIND!r}: "
                "DRP endpoints are for authorized agents"
            )
        try:
            agent = self.get(principal.binding)
        except UnknownAgent:
            raise AgentUnauthorized("the token's agent is no longer registered") from None
        if agent.principal != principal.name:
            raise AgentUnauthorized("this token was superseded by a newer pairwise setup")
        return agent
