"""Cross-reference checks: every id a policy element names must be declared.

The model (:mod:`servinfo.policy.model`) checks each element on its own; this
module checks how they fit together. Each check yields :class:`Finding` values
with the path of the offending element, so that the loader can put a file line
on it. Checks fail closed: a reference that cannot be resolved is an error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from servinfo.policy._fideslang import STANDARD_KEYS, used_fideslang_keys
from servinfo.policy.countries import COUNTRY_NAMES
from servinfo.policy.durations import DurationSyntaxError, parse_duration
from servinfo.policy.model import Policy
from servinfo.policy.redaction import redaction_problems

Loc = tuple[str | int, ...]

#: Ids the rest of servinfo relies on; a policy without them cannot run servinfo.
REQUIRED_ROLES = ("admin", "ingest", "rights")
REQUIRED_PURPOSES = ("legal",)

_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Finding:
    loc: Loc
    message: str
    severity: Literal["error", "warning"] = "error"


def _declared(ids: Iterable[str]) -> str:
    return ", ".join(ids)


def _unknown(loc: Loc, what: str, got: str, declared: Iterable[str]) -> Finding:
    return Finding(loc, f"unknown {what} '{got}' (declared: {_declared(declared)})")


def _references(
    loc: Loc, values: list[str], declared: Iterable[str], what: str
) -> Iterator[Finding]:
    known = set(declared)
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value not in known:
            yield _unknown((*loc, index), what, value, sorted(known))
        if value in seen:
            yield Finding((*loc, index), f"{what} '{value}' is listed twice")
        seen.add(value)


def _duration(loc: Loc, text: str) -> Iterator[Finding]:
    try:
        parse_duration(text)
    except DurationSyntaxError as error:
        yield Finding(loc, str(error))


def validate_policy(policy: Policy, today: dt.date) -> list[Finding]:
    """Every cross-reference problem of ``policy``, judged as of ``today``."""
    checks = (
        _check_regions,
        _check_kinds,
        _check_identifiers,
        _check_services,
        _check_purposes,
        _check_regimes,
        _check_transfers,
        _check_roles,
        _check_processors,
        _check_out_of_scope,
        _check_fideslang,
        _check_country_names,
        _check_redaction,
    )
    return [finding for check in checks for finding in check(policy, today)]


def _check_redaction(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for loc, message, severity in redaction_problems(policy):
        yield Finding(loc, message, severity)


def _check_regions(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for region_id, region in policy.regions.items():
        if region.entity not in policy.legal_entities:
            yield _unknown(
                ("regions", region_id, "entity"),
                "legal entity",
                region.entity,
                policy.legal_entities,
            )


def _check_country_names(policy: Policy, today: dt.date) -> Iterator[Finding]:
    """Every country the notice or the access report names has a name to show."""
    named: list[tuple[Loc, str]] = [
        *(
            (("legal_entities", eid, "country"), entity.country)
            for eid, entity in policy.legal_entities.items()
        ),
        *((("regions", rid, "country"), r.country) for rid, r in policy.regions.items()),
        *((("processors", pid, "country"), p.country) for pid, p in policy.processors.items()),
        *(
            (("transfers", source, destination), destination)
            for source, destinations in policy.transfers.items()
            for destination in destinations
            if destination not in policy.regions and _COUNTRY.match(destination)
        ),
    ]
    for loc, code in named:
        if code.split("-", 1)[0] not in COUNTRY_NAMES:
            yield Finding(
                loc,
                f"country '{code}' has no name to publish; expected one of "
                f"{_declared(sorted(COUNTRY_NAMES))} (add it to servinfo.policy.countries)",
            )


def _check_kinds(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for cat_id, category in policy.categories.items():
        for kind_id, kind in category.kinds.items():
            loc: Loc = ("categories", cat_id, "kinds", kind_id)
            if not kind.fields:
                yield Finding((*loc, "fields"), "a kind must declare at least one field")
            for field_id, field in kind.fields.items():
                if field.type == "enum" and not field.values:
                    yield Finding(
                        (*loc, "fields", field_id, "values"), "an enum field must list its values"
                    )
                if field.lookup and field.free_text:
                    yield Finding(
                        (*loc, "fields", field_id),
                        "a lookup field cannot also be free text (blind indexes need exact values)",
                    )
            retention = kind.retention
            rloc: Loc = (*loc, "retention")
            yield from _duration((*rloc, "period"), retention.period)
            if retention.retention_class not in policy.retention_classes:
                yield _unknown(
                    (*rloc, "retention_class"),
                    "retention class",
                    retention.retention_class,
                    policy.retention_classes,
                )
            for regime_id, period in retention.by_regime.items():
                if regime_id not in policy.regimes:
                    yield _unknown(
                        (*rloc, "by_regime", regime_id), "regime", regime_id, policy.regimes
                    )
                yield from _duration((*rloc, "by_regime", regime_id), period)


#: The field types an identifier of each type may index.
_IDENTIFIER_FIELD_TYPES = {"email": "email", "phone": "phone", "username": "string"}


def _check_identifiers(policy: Policy, today: dt.date) -> Iterator[Finding]:
    kinds = policy.kinds()
    for name, spec in policy.identifiers.items():
        loc: Loc = ("identifiers", name, "fields")
        if not spec.fields:
            yield Finding(loc, "an identifier names at least one <category>.<kind>.<field>")
        for path in spec.fields:
            kind_id, _, field_id = path.rpartition(".")
            kind = kinds.get(kind_id)
            if kind is None:
                yield Finding(
                    loc,
                    f"'{path}' names no kind's field; expected <category>.<kind>.<field> with "
                    f"a kind of {_declared(kinds)}",
                )
                continue
            field = kind.fields.get(field_id)
            if field is None:
                yield _unknown(loc, f"field of {kind_id}", field_id, kind.fields)
                continue
            expected = _IDENTIFIER_FIELD_TYPES[spec.type]
            if field.type != expected:
                yield Finding(
                    loc,
                    f"'{path}' is of type '{field.type}', expected '{expected}' "
                    f"for an identifier of type '{spec.type}'",
                )
            if field.free_text:
                yield Finding(loc, f"'{path}' is free text; an identifier needs exact values")


def _check_services(policy: Policy, today: dt.date) -> Iterator[Finding]:
    kinds = policy.kinds()
    for service_id, service in policy.services.items():
        yield from _references(("services", service_id, "kinds"), service.kinds, kinds, "kind")


def _check_purposes(policy: Policy, today: dt.date) -> Iterator[Finding]:
    kinds = policy.kinds()
    for purpose_id in REQUIRED_PURPOSES:
        if purpose_id not in policy.purposes:
            yield Finding(
                ("purposes",), f"missing purpose '{purpose_id}', which servinfo relies on"
            )
    for purpose_id, purpose in policy.purposes.items():
        loc: Loc = ("purposes", purpose_id)
        yield from _references(
            (*loc, "categories"), purpose.categories, policy.categories, "category"
        )
        if purpose.parent is not None:
            parent = policy.purposes.get(purpose.parent)
            if parent is None:
                yield _unknown((*loc, "parent"), "purpose", purpose.parent, policy.purposes)
            elif parent.parent is not None:
                yield Finding((*loc, "parent"), f"'{purpose.parent}' is itself a sub-purpose")
            elif not purpose_id.startswith(f"{purpose.parent}."):
                yield Finding(loc, f"a sub-purpose id must start with '{purpose.parent}.'")
            else:
                for index, category in enumerate(purpose.categories):
                    if category not in parent.categories:
                        yield Finding(
                            (*loc, "categories", index),
                            f"category '{category}' is not used by the parent purpose "
                            f"'{purpose.parent}'",
                        )
        for kind_id, fields in purpose.fields.items():
            floc: Loc = (*loc, "fields", kind_id)
            kind = kinds.get(kind_id)
            if kind is None:
                yield _unknown(floc, "kind", kind_id, kinds)
                continue
            if policy.category_of(kind_id) not in purpose.categories:
                yield Finding(floc, f"kind '{kind_id}' is outside the purpose's categories")
            yield from _references(floc, fields, kind.fields, f"field of {kind_id}")
        for regime_id in policy.regimes:
            if regime_id not in purpose.grounds:
                yield Finding((*loc, "grounds"), f"no ground under regime '{regime_id}'")
        for regime_id, ground in purpose.grounds.items():
            regime = policy.regimes.get(regime_id)
            if regime is None:
                yield _unknown((*loc, "grounds", regime_id), "regime", regime_id, policy.regimes)
            elif ground.basis not in regime.bases:
                yield Finding(
                    (*loc, "grounds", regime_id, "basis"),
                    f"got basis '{ground.basis}', expected one of {regime_id}'s bases: "
                    f"{_declared(regime.bases)}",
                )


def _check_regimes(policy: Policy, today: dt.date) -> Iterator[Finding]:
    if policy.default_regime not in policy.regimes:
        yield _unknown(("default_regime",), "regime", policy.default_regime, policy.regimes)
    owner: dict[str, str] = {}
    for regime_id, regime in policy.regimes.items():
        loc: Loc = ("regimes", regime_id)
        for index, jurisdiction in enumerate(regime.jurisdictions):
            if jurisdiction in owner:
                yield Finding(
                    (*loc, "jurisdictions", index),
                    f"jurisdiction '{jurisdiction}' is already governed by '{owner[jurisdiction]}'",
                )
            owner[jurisdiction] = regime_id
        for right_id, right in regime.rights.items():
            rloc: Loc = (*loc, "rights", right_id)
            yield from _duration((*rloc, "deadline"), right.deadline)
            for name in ("extension", "extension_notice", "acknowledge"):
                value = getattr(right, name)
                if value is not None:
                    yield from _duration((*rloc, name), value)


def _importer_certified(policy: Policy, destination: str) -> bool:
    region = policy.regions.get(destination)
    if region is not None:
        entity = policy.legal_entities.get(region.entity)
        return entity is not None and entity.dpf_certified
    return any(
        p.dpf_certified and p.country.split("-")[0] == destination
        for p in policy.processors.values()
    )


def _check_transfers(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for source, destinations in policy.transfers.items():
        if source not in policy.regions:
            yield _unknown(("transfers", source), "region", source, policy.regions)
            continue
        for destination, mechanism_ids in destinations.items():
            loc: Loc = ("transfers", source, destination)
            if destination not in policy.regions and not _COUNTRY.match(destination):
                yield Finding(
                    loc,
                    f"unknown destination '{destination}': expected a region "
                    f"({_declared(policy.regions)}) or an ISO country code",
                )
            if destination == source:
                yield Finding(loc, "a region does not transfer to itself")
            if not mechanism_ids:
                yield Finding(loc, "no transfer mechanism listed")
            for index, mechanism_id in enumerate(mechanism_ids):
                mechanism = policy.mechanisms.get(mechanism_id)
                if mechanism is None:
                    yield _unknown((*loc, index), "mechanism", mechanism_id, policy.mechanisms)
                    continue
                if mechanism.type == "adequacy" and mechanism.expires and mechanism.expires < today:
                    yield Finding(
                        (*loc, index),
                        f"adequacy decision '{mechanism_id}' expired on {mechanism.expires}",
                    )
                if mechanism.type == "dpf" and not _importer_certified(policy, destination):
                    yield Finding(
                        (*loc, index),
                        f"'{mechanism_id}' is the Data Privacy Framework, which covers only "
                        f"certified importers, and no importer in '{destination}' is certified",
                    )
    for source in policy.regions:
        for destination in policy.regions:
            if source != destination and destination not in policy.transfers.get(source, {}):
                yield Finding(
                    ("transfers", source),
                    f"no transfer rule from region '{source}' to '{destination}'",
                )
    for processor_id, processor in policy.processors.items():
        country = processor.country.split("-")[0]
        for region_id in processor.regions:
            if region_id not in policy.regions:
                continue
            try:
                policy.transfer_destination(region_id, country)
            except KeyError:
                yield Finding(
                    ("processors", processor_id, "country"),
                    f"no transfer rule from region '{region_id}' to '{country}' for this processor",
                )


def _check_roles(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for role_id in REQUIRED_ROLES:
        if role_id not in policy.roles:
            yield Finding(("roles",), f"missing role '{role_id}', which servinfo relies on")
    for role_id, role in policy.roles.items():
        loc: Loc = ("roles", role_id)
        yield from _references((*loc, "purposes"), role.purposes, policy.purposes, "purpose")
        yield from _references((*loc, "categories"), role.categories, policy.categories, "category")
        yield from _references((*loc, "regions"), role.regions, policy.regions, "region")
        for index, category in enumerate(role.categories):
            usable = any(
                category in policy.purposes[p].categories
                for p in role.purposes
                if p in policy.purposes
            )
            if role.purposes and category in policy.categories and not usable:
                yield Finding(
                    (*loc, "categories", index),
                    f"none of the role's purposes may use category '{category}'",
                    "warning",
                )


def _check_processors(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for processor_id, processor in policy.processors.items():
        loc: Loc = ("processors", processor_id)
        yield from _references(
            (*loc, "categories"), processor.categories, policy.categories, "category"
        )
        yield from _references((*loc, "purposes"), processor.purposes, policy.purposes, "purpose")
        yield from _references((*loc, "regions"), processor.regions, policy.regions, "region")
        if processor.contract.expires < today:
            yield Finding(
                (*loc, "contract", "expires"),
                f"contract {processor.contract.reference} expired on {processor.contract.expires}; "
                "the processor receives nothing until it is renewed",
                "warning",
            )
        yield from _check_sub_processor(policy, processor_id)


def _check_sub_processor(policy: Policy, processor_id: str) -> Iterator[Finding]:
    """A sub-processor names a processor that is not itself one, and does no more than it."""
    processor = policy.processors[processor_id]
    parent_id = processor.sub_processor_of
    if parent_id is None:
        return
    loc: Loc = ("processors", processor_id, "sub_processor_of")
    parent = policy.processors.get(parent_id)
    if parent is None:
        yield _unknown(loc, "processor", parent_id, policy.processors)
        return
    if parent.sub_processor_of is not None or parent_id == processor_id:
        yield Finding(loc, f"'{parent_id}' is itself a sub-processor; expected a processor")
        return
    for field in ("categories", "purposes", "regions"):
        beyond = [v for v in getattr(processor, field) if v not in getattr(parent, field)]
        if beyond:
            yield Finding(
                ("processors", processor_id, field),
                f"a sub-processor does no more than '{parent_id}': its contract covers "
                f"{', '.join(getattr(parent, field))}, got {', '.join(beyond)}",
            )


def _check_out_of_scope(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for scope_id, scope in policy.out_of_scope.items():
        for index, marker in enumerate(scope.markers):
            if marker in policy.categories:
                yield Finding(
                    ("out_of_scope", scope_id, "markers", index),
                    f"'{marker}' is a Service Information category and cannot be out of scope",
                )


def _path_loc(where: str) -> Loc:
    # Purpose ids contain dots (``provide.credit_check``); every other id does not.
    if where.startswith("purposes."):
        return ("purposes", where.removeprefix("purposes."))
    return tuple(where.split("."))


def _check_fideslang(policy: Policy, today: dt.date) -> Iterator[Finding]:
    for resource, key, where in used_fideslang_keys(policy):
        if key not in STANDARD_KEYS[resource] and key not in policy.fideslang_extensions:
            yield Finding(
                (*_path_loc(where), "fideslang"),
                f"'{key}' is not a fideslang {resource.replace('_', ' ')} key; "
                "declare it under fideslang_extensions",
            )
