"""The policy compiled to the lookup tables that access decisions read.

Everything a decision needs that depends only on the policy and the date is
worked out here once, so that deciding is a handful of dict lookups plus the
checks of the subject's own state. Each table maps a key to the finished
:class:`~servinfo.access._reasons.Reason` objects, so a decision never formats
a string on its hot path and every reason is the same object every time.

The tables are valid for one ``today``: an adequacy decision or a processor's
contract can lapse overnight, so the caller rebuilds them when the date changes
(:attr:`CompiledPolicy.version` names the policy *and* the date, which keeps the
decision cache from serving yesterday's answers).

Rules the tables encode (restated independently in ``tests/access``):

1. need to know: the purpose may use the category, the role serves the purpose
   (exactly: a role with ``provide`` does not serve ``provide.credit_check``),
   sees the category and reaches the data's region; the principal's kind may
   hold the role;
2. transfers, for staff: none when the reader's legal entity operates the data's
   region; otherwise towards the region the reader works in, or, when that is
   the data's own region, towards the reader's entity's country (the importer is
   still a foreign company). The first listed mechanism that is valid today
   counts: an expired one never does, and a DPF mechanism only towards a
   certified importer (the reader's entity);
3. transfers, for processors: towards the processor's country, judged as in 2
   with the processor as importer; its contract must be in force and cover the
   purpose, category and region;
4. objections: an objection to a purpose blocks it when it is objectable; an
   objection to a parent purpose also blocks its objectable sub-purposes; an
   objection to a purpose that is not objectable has no effect (and says so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from servinfo.access import _reasons as R
from servinfo.access._reasons import Reason
from servinfo.policy.errors import UnknownPolicyElement
from servinfo.policy.model import Policy

__all__ = ["CompiledPolicy", "Transfer", "transfer_towards"]

STAFF_KINDS = frozenset({"employee", "contractor", "agent"})
SELF_KINDS = frozenset({"subject", "authorized_agent"})
ALL_KINDS = (
    "employee",
    "contractor",
    "agent",
    "processor",
    "service",
    "subject",
    "authorized_agent",
)
#: The role whose reads need an open, verified data-subject request.
RIGHTS_ROLE = "rights"


#: Whether every check passed, the reasons, and the transfer mechanism, if any.
Verdict = tuple[bool, tuple[Reason, ...], str | None]
#: Whether every check passed, and the reasons.
Checks = tuple[bool, tuple[Reason, ...]]
#: (role, kind, purpose, category, data region).
NeedToKnowKey = tuple[str, str, str, str, str]
#: (role, kind, purpose, category, data region, reader's entity, reader's region).
StaffKey = tuple[str, str, str, str, str, str | None, str | None]
#: (role, purpose, category, data region, processor).
ProcessorKey = tuple[str, str, str, str, str | None]


@dataclass(frozen=True, slots=True)
class Transfer:
    """The outcome of the transfer check for one direction and importer."""

    mechanism: str | None
    reason: Reason


@dataclass(frozen=True, slots=True)
class ObjectionRule:
    """An objection to ``objected_to`` gives ``reason`` for the purpose keyed."""

    objected_to: str
    reason: Reason


@dataclass(frozen=True)
class CompiledPolicy:
    """Lookup tables for one policy version on one day; build with :meth:`build`.

    ``staff`` and ``processor_reads`` are the hot tables: for a principal whose
    kind its role allows and whose placement is declared, everything about a read
    that does not depend on the subject is one lookup there. :meth:`verdict`
    answers the same from the smaller tables for every other case.
    """

    policy_version: str
    today: dt.date
    #: Policy version and date: what the decision cache keys on.
    version: str
    purposes: frozenset[str]
    categories: frozenset[str]
    regions: frozenset[str]
    regimes: frozenset[str]
    roles: frozenset[str]
    #: purpose → the categories it may use (for an undeclared role's reasons).
    purpose_categories: Mapping[str, frozenset[str]]
    #: Every declared role and principal kind: the kind, purpose/category and role checks.
    need_to_know: Mapping[NeedToKnowKey, Checks]
    #: (data region, reader's entity, reader's region) for declared ids.
    staff_transfers: Mapping[tuple[str, str, str], Transfer]
    #: (processor, purpose, category, region) → contract, scope and transfer checks.
    processor_checks: Mapping[tuple[str, str, str, str], Verdict]
    #: Staff kinds their role allows, at every declared placement: need to know and transfer.
    staff: Mapping[StaffKey, Verdict]
    #: Roles that processors may hold, for every declared processor.
    processor_reads: Mapping[ProcessorKey, Verdict]
    #: purpose → the objections that touch it (its own, its parent's).
    objections: Mapping[str, tuple[ObjectionRule, ...]]
    #: regime → purpose grounded on consent under it → (consent given, consent missing).
    consent: Mapping[str, Mapping[str, tuple[Reason, Reason]]]
    #: purpose → (still allowed, not allowed) under a restriction of processing.
    restriction: Mapping[str, tuple[Reason, Reason]]

    @classmethod
    def build(cls, policy: Policy, today: dt.date) -> CompiledPolicy:
        """Compile ``policy`` as of ``today`` (which decides expiries)."""
        need_to_know = _need_to_know(policy)
        transfers = {
            (source, entity, where): _staff_transfer(policy, today, source, entity, where)
            for source in policy.regions
            for entity in policy.legal_entities
            for where in policy.regions
        }
        processor_checks = _processor_checks(policy, today)
        # Indexes for the hot tables: only kinds a role allows, grouped by data region.
        held = {
            key: need
            for key, need in need_to_know.items()
            if key[1] in policy.roles[key[0]].principal_kinds
        }
        by_source: dict[str, list[tuple[str, str, Transfer]]] = {r: [] for r in policy.regions}
        for (source, entity, where), transfer in transfers.items():
            by_source[source].append((entity, where, transfer))
        by_request: dict[tuple[str, str, str], list[tuple[str, Verdict]]] = {
            (p, c, r): []
            for p in policy.purposes
            for c in policy.categories
            for r in policy.regions
        }
        for (pid, purpose, category, source), checks in processor_checks.items():
            by_request[(purpose, category, source)].append((pid, checks))
        return cls(
            policy_version=policy.version,
            today=today,
            version=f"{policy.version}@{today.isoformat()}",
            purposes=frozenset(policy.purposes),
            categories=frozenset(policy.categories),
            regions=frozenset(policy.regions),
            regimes=frozenset(policy.regimes),
            roles=frozenset(policy.roles),
            purpose_categories={
                pid: frozenset(purpose.categories) for pid, purpose in policy.purposes.items()
            },
            need_to_know=need_to_know,
            staff_transfers=transfers,
            processor_checks=processor_checks,
            staff={
                (role, kind, purpose, category, source, entity, where): (
                    need[0] and transfer.reason.passed,
                    (*need[1], transfer.reason),
                    transfer.mechanism,
                )
                for (role, kind, purpose, category, source), need in held.items()
                if kind in STAFF_KINDS
                for entity, where, transfer in by_source[source]
            },
            processor_reads={
                (role, purpose, category, source, pid): _and(need, checks)
                for (role, kind, purpose, category, source), need in held.items()
                if kind == "processor"
                for pid, checks in by_request[(purpose, category, source)]
            },
            objections=_objections(policy),
            consent=_consent(policy),
            restriction={
                pid: (R.restriction(pid, True), R.restriction(pid, False))
                for pid in policy.purposes
            },
        )

    def verdict(
        self,
        role: str,
        kind: str,
        entity: str | None,
        where: str | None,
        purpose: str,
        category: str,
        region: str,
    ) -> Verdict:
        """Everything about a read that does not depend on the subject, for any principal.

        Undeclared request elements raise :class:`UnknownPolicyElement`; an undeclared
        role, kind, entity, region or processor on the principal fails closed.
        """
        need = self.need_to_know.get((role, kind, purpose, category, region))
        if need is None:
            need = self._undeclared(role, kind, purpose, category, region)
        if kind in STAFF_KINDS:
            return _with(need, self._staff_transfer(region, entity, where))
        if kind == "processor":
            if entity is None or (entity, purpose, category, region) not in self.processor_checks:
                return _and(need, (False, (R.placement("processor", entity),), None))
            return _and(need, self.processor_checks[(entity, purpose, category, region)])
        if kind in SELF_KINDS:  # bound to a subject: decided with the subject's state
            return need[0], need[1], None
        return _with(need, Transfer(None, R.SERVICE_NO_TRANSFER))

    def _undeclared(self, role: str, kind: str, purpose: str, category: str, region: str) -> Checks:
        for what, got, declared in (
            ("purpose", purpose, self.purposes),
            ("category", category, self.categories),
            ("region", region, self.regions),
        ):
            if got not in declared:
                raise UnknownPolicyElement(what, got, sorted(declared))
        if role not in self.roles:
            uses = category in self.purpose_categories[purpose]
            return False, (R.unknown_role(role), R.purpose_category(purpose, category, uses))
        _, checks = self.need_to_know[(role, ALL_KINDS[0], purpose, category, region)]
        return False, (R.role_kind(role, kind, False), *checks[1:])

    def _staff_transfer(self, source: str, entity: str | None, where: str | None) -> Transfer:
        found = self.staff_transfers.get((source, entity or "", where or ""))
        if found is not None:
            return found
        if entity is None or not any(e == entity for _, e, _ in self.staff_transfers):
            return Transfer(None, R.placement("legal entity", entity))
        return Transfer(None, R.placement("region", where))


def _with(need: Checks, transfer: Transfer) -> Verdict:
    return need[0] and transfer.reason.passed, (*need[1], transfer.reason), transfer.mechanism


def _and(need: Checks, checks: Verdict) -> Verdict:
    return need[0] and checks[0], need[1] + checks[1], checks[2]


def _need_to_know(policy: Policy) -> dict[NeedToKnowKey, tuple[bool, tuple[Reason, ...]]]:
    table: dict[NeedToKnowKey, tuple[bool, tuple[Reason, ...]]] = {}
    for role_id, role in policy.roles.items():
        for kind in ALL_KINDS:
            holds = R.role_kind(role_id, kind, kind in role.principal_kinds)
            for pid, purpose in policy.purposes.items():
                serves = R.role_purpose(role_id, pid, pid in role.purposes)
                for cid in policy.categories:
                    uses = R.purpose_category(pid, cid, cid in purpose.categories)
                    sees = R.role_category(role_id, cid, cid in role.categories)
                    for region in policy.regions:
                        reaches = R.role_region(role_id, region, region in role.regions)
                        passed = (
                            holds.passed
                            and uses.passed
                            and serves.passed
                            and sees.passed
                            and reaches.passed
                        )
                        checks = (holds, uses, serves, sees, reaches)
                        table[(role_id, kind, pid, cid, region)] = (passed, checks)
    return table


def _choose(
    policy: Policy,
    today: dt.date,
    source: str,
    destination: str,
    importer: str,
    certified: bool,
) -> Transfer:
    """The first mechanism listed for ``source → destination`` that is valid today."""
    listed = policy.transfers.get(source, {}).get(destination)
    if listed is None:
        return Transfer(None, R.no_rule(source, destination))
    skipped: list[str] = []
    for mechanism_id in listed:
        mechanism = policy.mechanisms[mechanism_id]
        if mechanism.expires is not None and mechanism.expires < today:
            skipped.append(R.expired_mechanism(mechanism_id, mechanism.expires))
        elif mechanism.type == "dpf" and not certified:
            skipped.append(R.uncertified(mechanism_id))
        else:
            return Transfer(
                mechanism_id, R.transfer(source, destination, mechanism_id, mechanism.name)
            )
    return Transfer(None, R.no_mechanism(source, destination, importer, skipped))


def _towards_country(
    policy: Policy, today: dt.date, source: str, importer: str, country: str, certified: bool
) -> Transfer:
    try:
        destination = policy.transfer_destination(source, country)
    except KeyError:
        return Transfer(None, R.no_rule(source, country))
    if destination is None:
        return Transfer(None, R.same_area(importer, country, source))
    return _choose(policy, today, source, destination, importer, certified)


def transfer_towards(
    policy: Policy, today: dt.date, source: str, importer: str, country: str
) -> Transfer:
    """Sending data of region ``source`` to ``importer`` in ``country`` on ``today``: the
    mechanism that covers it (None when it stays in the source's legal area or nothing
    does; the reason says which). The check processors' reads make, for any recipient."""
    return _towards_country(policy, today, source, importer, country, False)


def _staff_transfer(
    policy: Policy, today: dt.date, source: str, entity_id: str, region: str
) -> Transfer:
    if policy.regions[source].entity == entity_id:
        return Transfer(None, R.same_entity(entity_id, source))
    entity = policy.legal_entities[entity_id]
    if region == source:
        country = entity.country.split("-", 1)[0]
        return _towards_country(policy, today, source, entity_id, country, entity.dpf_certified)
    return _choose(policy, today, source, region, entity_id, entity.dpf_certified)


def _processor_checks(policy: Policy, today: dt.date) -> dict[tuple[str, str, str, str], Verdict]:
    table: dict[tuple[str, str, str, str], Verdict] = {}
    for pid, processor in policy.processors.items():
        contract = processor.contract
        state = policy.contract_state(pid, today)
        in_force = R.processor_contract(
            pid, contract.reference, contract.signed, contract.expires, state
        )
        country = processor.country.split("-", 1)[0]
        for region in policy.regions:
            sent = _towards_country(policy, today, region, pid, country, processor.dpf_certified)
            serves = R.processor_scope(pid, "region", region, region in processor.regions)
            for purpose in policy.purposes:
                engaged = R.processor_scope(pid, "purpose", purpose, purpose in processor.purposes)
                for category in policy.categories:
                    receives = R.processor_scope(
                        pid, "category", category, category in processor.categories
                    )
                    reasons = (in_force, engaged, receives, serves, sent.reason)
                    passed = all(reason.passed for reason in reasons)
                    table[(pid, purpose, category, region)] = (passed, reasons, sent.mechanism)
    return table


def _objections(policy: Policy) -> dict[str, tuple[ObjectionRule, ...]]:
    rules: dict[str, tuple[ObjectionRule, ...]] = {}
    for pid, purpose in policy.purposes.items():
        lineage = [pid] if purpose.parent is None else [pid, purpose.parent]
        rules[pid] = tuple(
            ObjectionRule(objected_to, R.objected(pid, objected_to, purpose.objectable))
            for objected_to in lineage
        )
    return rules


def _consent(policy: Policy) -> dict[str, dict[str, tuple[Reason, Reason]]]:
    table: dict[str, dict[str, tuple[Reason, Reason]]] = {}
    for pid, purpose in policy.purposes.items():
        for regime, ground in purpose.grounds.items():
            if ground.basis == "consent":
                reasons = (R.consent(pid, regime, True), R.consent(pid, regime, False))
                table.setdefault(regime, {})[pid] = reasons
    return table
