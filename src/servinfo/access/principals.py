"""Principals: who may call servinfo, checked against the policy, and their tokens.

A principal's kind must be one its role admits; its region and legal entity
must be declared; what it is bound to depends on its kind — a ``service`` to
one of the policy's services (it may then write only that service's kinds), a
``processor`` to one of the policy's processors (its contract), a ``subject``
to the account holder it is. Tokens are random, shown once, and stored as a
SHA-256 hash only. Every change is audited. The last principal holding the
administrative permission (:data:`ADMIN_PERMISSION`) cannot be revoked.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from servinfo.access.compile import SELF_KINDS
from servinfo.access.errors import AccessError, Forbidden, Unauthenticated
from servinfo.audit import AuditSink, DetailValue
from servinfo.audit.entries import Action
from servinfo.crypto import hash_token, new_token
from servinfo.policy import Policy, UnknownPolicyElement
from servinfo.policy.model import STAFF_KINDS
from servinfo.store import LastAdministrator, Principal, PrincipalStore, SubjectDirectory

#: The administrative permission: whoever holds it can create a principal of any role,
#: so every other permission follows from it. The last active principal whose role
#: grants it is never revoked (a deployment without one could only be recovered
#: offline, with ``servinfo admin recover``).
ADMIN_PERMISSION = "manage_principals"
#: The actor of a break-glass recovery: no principal, whoever holds the master key.
RECOVERY_ACTOR = "break-glass"


class InvalidPrincipal(AccessError):
    code = "invalid_principal"
    http_status = 422


class NoAdministratorLeft(AccessError):
    """A policy that grants the administrative permission to no active principal's role."""

    code = "last_admin"
    http_status = 409


@dataclass(frozen=True)
class IssuedPrincipal:
    principal: Principal
    #: Shown once to whoever created the principal; only its hash is stored.
    token: str


class PrincipalService:
    def __init__(
        self,
        principals: PrincipalStore,
        directory: SubjectDirectory,
        policy: Policy,
        audit: AuditSink,
    ) -> None:
        self._principals = principals
        self._directory = directory
        self._policy = policy
        self._audit = audit

    def add(
        self,
        name: str,
        *,
        kind: str,
        role: str,
        region: str | None,
        entity: str | None = None,
        binding: str | None = None,
        actor: str,
        now: dt.datetime | None = None,
    ) -> IssuedPrincipal:
        """Check the principal against the policy, store it, and return its token once."""
        entity, binding = self._check(kind, role, region, entity, binding)
        token = new_token()
        principal = self._principals.add(
            name, kind, role, region, entity, hash_token(token), binding=binding, now=now
        )
        self._audit_change(
            principal, actor, "added", {"kind": kind, "role": role, "region": region}
        )
        return IssuedPrincipal(principal, token)

    def recover_admin(self, *, now: dt.datetime | None = None) -> tuple[IssuedPrincipal, int]:
        """Break-glass: a new administrator and its token, and the seq of the audit entry.

        Only ``servinfo admin recover`` calls this, after the master key has
        unlocked the keyring: holding the master key is the authority (it
        already decrypts everything). The principal is a new one, named for the
        time, in the policy's ``admin`` role (else the first role granting
        :data:`ADMIN_PERMISSION`); no existing principal is changed. Audited
        twice: the principal's addition, and an ``admin_recovery`` entry.
        """
        when = now or dt.datetime.now(dt.UTC)
        roles = self.admin_roles()
        if not roles:
            raise InvalidPrincipal(
                f"no role of the active policy grants '{ADMIN_PERMISSION}': there is no "
                "administrator to recover; activate a policy that grants it to a role"
            )
        role_id = "admin" if "admin" in roles else sorted(roles)[0]
        role = self._policy.roles[role_id]
        region = next(iter(self._policy.regions))
        name = f"recovered-admin-{when:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
        administrators = sum(1 for p in self.all(include_revoked=False) if p.role in roles)
        issued = self.add(
            name,
            kind=role.principal_kinds[0],
            role=role_id,
            region=region,
            actor=RECOVERY_ACTOR,
            now=when,
        )
        seq = self._audit.record(
            Action.ADMIN_RECOVERY.value,
            actor=RECOVERY_ACTOR,
            outcome="issued",
            details={
                "principal": name,
                "role": role_id,
                "proof": "master key unlocked the keyring",
                "active_administrators_before": administrators,
            },
        )
        return issued, seq

    def all(self, *, include_revoked: bool = True) -> list[Principal]:
        return self._principals.list(include_revoked=include_revoked)

    def admin_roles(self) -> frozenset[str]:
        """The roles whose holders may manage principals: see :data:`ADMIN_PERMISSION`."""
        return frozenset(self._roles_with(ADMIN_PERMISSION))

    def check_policy_keeps_an_administrator(self, policy: Policy) -> None:
        """:class:`NoAdministratorLeft` unless ``policy`` grants :data:`ADMIN_PERMISSION`
        to the role of some active principal.

        A policy is the other way to demote: activating one that takes the
        permission from every administrator's role would lock the deployment as
        surely as revoking the last of them.
        """
        roles = {r for r, role in policy.roles.items() if ADMIN_PERMISSION in role.permissions}
        if any(p.role in roles for p in self.all(include_revoked=False)):
            return
        raise NoAdministratorLeft(
            f"policy {policy.version} would leave no active principal who may manage "
            f"principals (roles granting '{ADMIN_PERMISSION}' in it: "
            f"{', '.join(sorted(roles)) or 'none'}); grant it to an administrator's role, "
            "or add a principal with such a role first"
        )

    def revoke(self, name: str, *, actor: str, now: dt.datetime | None = None) -> Principal:
        """Revoke ``name``; :class:`LastAdministrator` (409) for the last administrator.

        The refusal is audited too: someone tried to lock the deployment.
        """
        try:
            principal = self._principals.revoke(name, now=now, keep_one_of=self.admin_roles())
        except LastAdministrator:
            self._audit.record(
                "principal_change", actor=actor, outcome="refused", details={"principal": name}
            )
            raise
        self._audit_change(principal, actor, "revoked", {})
        return principal

    def _audit_change(
        self, principal: Principal, actor: str, outcome: str, details: dict[str, DetailValue]
    ) -> None:
        """The ``principal_change`` entry. A principal that acts for one subject is named
        only as a reference keyed with that subject's salt: its name is often the person's
        e-mail address, and an erasure must be able to cut it loose (docs/rights.md)."""
        subject_id = self._subject_of(principal)
        if subject_id is None:
            self._audit.record(
                "principal_change",
                actor=actor,
                outcome=outcome,
                details={"principal": principal.name, **details},
            )
            return
        self._audit.record(
            "principal_change",
            actor=actor,
            subject_id=subject_id,
            outcome=outcome,
            details=details,
            linked={"principal": principal.name},
        )

    def _subject_of(self, principal: Principal) -> str | None:
        """The subject a ``subject`` or ``authorized_agent`` principal acts for, if any
        (an authorized agent of the DRP is bound to its agent id, not to a subject)."""
        if principal.kind not in SELF_KINDS or principal.binding is None:
            return None
        if principal.kind == "subject":
            return principal.binding
        known = self._directory.subjects([principal.binding])
        return principal.binding if principal.binding in known else None

    def authenticate(self, token: str | None) -> Principal:
        """The active principal ``token`` belongs to, or :class:`Unauthenticated`.

        The lookup is by the token's SHA-256: an attacker timing it learns about
        hashes of guesses, never about a stored token.
        """
        if not token:
            raise Unauthenticated("no token: pass --token or set SERVINFO_TOKEN")
        principal = self._principals.by_token_hash(hash_token(token))
        if principal is None:
            raise Unauthenticated("unknown or revoked token")
        return principal

    def authorize(self, token: str | None, permission: str) -> Principal:
        """The principal ``token`` belongs to, if its role grants ``permission``."""
        principal = self.authenticate(token)
        self.require_permission(principal, permission)
        return principal

    def require_permission(self, principal: Principal, permission: str) -> None:
        """Administrative actions need the permission the policy grants to the role."""
        role = self._policy.roles.get(principal.role)
        if role is None or permission not in role.permissions:
            holders = self._roles_with(permission)
            if not holders:
                # A deployment whose active policy predates the permission (an upgrade
                # brought a new capability): say how to grant it, not only that no one may.
                raise Forbidden(
                    f"the active policy grants '{permission}' to no role; activate a policy "
                    "that does (servinfo policy activate FILE; servinfo's shipped policy "
                    "grants every permission it checks)"
                )
            raise Forbidden(
                f"role '{principal.role}' lacks the permission '{permission}' "
                f"(roles with it: {', '.join(holders)})"
            )

    def _roles_with(self, permission: str) -> list[str]:
        return sorted(r for r, role in self._policy.roles.items() if permission in role.permissions)

    def _check(
        self, kind: str, role_id: str, region: str | None, entity: str | None, binding: str | None
    ) -> tuple[str | None, str | None]:
        policy = self._policy
        role = policy.roles.get(role_id)
        if role is None:
            raise UnknownPolicyElement("role", role_id, sorted(policy.roles))
        if kind not in role.principal_kinds:
            raise InvalidPrincipal(
                f"role '{role_id}' is for {', '.join(role.principal_kinds)} principals, "
                f"got '{kind}'"
            )
        if region is not None and region not in policy.regions:
            raise UnknownPolicyElement("region", region, sorted(policy.regions))
        if kind in STAFF_KINDS:
            if region is None:
                raise InvalidPrincipal(f"a {kind} needs --region: where they work")
            entity = entity or policy.regions[region].entity
            if entity not in policy.legal_entities:
                raise UnknownPolicyElement("legal entity", entity, sorted(policy.legal_entities))
            return entity, None
        if kind == "service":
            if binding not in policy.services:
                raise InvalidPrincipal(
                    f"a service principal is bound to one service with --binding "
                    f"(declared: {', '.join(policy.services)}), got {binding!r}"
                )
            return entity, binding
        if kind == "processor":
            if binding not in policy.processors:
                raise InvalidPrincipal(
                    f"a processor principal is bound to its contract with --binding "
                    f"(declared processors: {', '.join(policy.processors)}), got {binding!r}"
                )
            return binding, binding
        if kind == "subject":
            if binding is None:
                raise InvalidPrincipal("a subject principal is bound to its subject id (--binding)")
            self._directory.get_subject(binding)  # UnknownSubject when not registered
            return None, binding
        return entity, binding
