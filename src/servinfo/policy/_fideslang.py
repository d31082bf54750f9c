"""The policy as a fideslang manifest (the YAML format of ethyca's ``fides``).

Standard fideslang keys (:mod:`servinfo.policy._fideslang_keys`) are referenced
as they are and never redefined: fides refuses to modify the items of its default
taxonomy, so a manifest that re-declared ``user.account`` could not be pushed.
The ``data_category``, ``data_use`` and ``data_subject`` lists therefore hold only
servinfo's own keys (``fideslang_extensions`` and any non-standard key the policy
uses), each with a ``parent_key`` that resolves: to a standard key, to another
exported key, or to nothing for a top-level key. The policy itself is described
with the resources fides uses for that:

- a ``dataset`` with one collection per category, one object field per kind and
  its fields beneath, each carrying its data category (a field without a key of
  its own carries its kind's);
- a ``system`` with one privacy declaration per purpose: its data use, the data
  categories it sees (narrowed by ``purpose.fields``), the data subjects, the
  GDPR legal basis and the processors it is shared with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from servinfo.policy._fideslang_keys import (
    DATA_CATEGORIES,
    DATA_SUBJECTS,
    DATA_USES,
    FIDESLANG_VERSION,
)
from servinfo.policy.model import Policy

Resource = Literal["data_category", "data_use", "data_subject"]

STANDARD_KEYS: dict[Resource, frozenset[str]] = {
    "data_category": DATA_CATEGORIES,
    "data_use": DATA_USES,
    "data_subject": DATA_SUBJECTS,
}
#: The regime whose legal bases fideslang's ``legal_basis_for_processing`` names.
GDPR_REGIME = "gdpr"
_LEGAL_BASIS = {
    "consent": "Consent",
    "contract": "Contract",
    "legal_obligation": "Legal obligations",
    "vital_interests": "Vital interests",
    "public_task": "Public interest",
    "legitimate_interests": "Legitimate interests",
}
_TRANSFER_BASIS = {
    "adequacy": "Adequacy Decision",
    "dpf": "Adequacy Decision",
    "eu_scc": "SCCs",
    "swiss_scc": "SCCs",
    "uk_addendum": "SCCs",
    "bcr": "BCRs",
}


def used_fideslang_keys(policy: Policy) -> Iterator[tuple[Resource, str, str]]:
    """Every ``(resource, key, where)`` the policy uses, ``where`` being a policy path."""
    for cat_id, category in policy.categories.items():
        yield "data_category", category.fideslang, f"categories.{cat_id}"
        for kind_id, kind in category.kinds.items():
            where = f"categories.{cat_id}.kinds.{kind_id}"
            yield "data_category", kind.fideslang, where
            for field_id, field in kind.fields.items():
                if field.fideslang is not None:
                    yield "data_category", field.fideslang, f"{where}.fields.{field_id}"
    for purpose_id, purpose in policy.purposes.items():
        yield "data_use", purpose.fideslang, f"purposes.{purpose_id}"
    for subject_id, subject in policy.data_subjects.items():
        yield "data_subject", subject.fideslang, f"data_subjects.{subject_id}"


def unknown_fideslang_keys(policy: Policy) -> list[str]:
    """Keys the policy uses that are neither standard fideslang (for their resource
    type) nor declared in ``policy.fideslang_extensions``; sorted, each once."""
    return sorted(
        {
            key
            for resource, key, _ in used_fideslang_keys(policy)
            if key not in STANDARD_KEYS[resource] and key not in policy.fideslang_extensions
        }
    )


def redundant_fideslang_extensions(policy: Policy) -> list[str]:
    """Extensions that fideslang already defines: the export references the standard key."""
    standard = DATA_CATEGORIES | DATA_USES | DATA_SUBJECTS
    return sorted(key for key in policy.fideslang_extensions if key in standard)


def _resource_of_extension(policy: Policy, key: str) -> Resource:
    """Which list an extension belongs in: where the policy uses it, else where its
    top-level key is standard, else (a key nobody uses) a data category."""
    for resource, used, _ in used_fideslang_keys(policy):
        if used == key:
            return resource
    root = key.split(".", 1)[0]
    for resource, standard in STANDARD_KEYS.items():
        if root in standard:
            return resource
    return "data_category"


def _custom_entries(policy: Policy) -> dict[Resource, dict[str, dict[str, Any]]]:
    """Servinfo's own keys and any non-standard ancestors they need, parents first."""
    wanted: dict[Resource, dict[str, str]] = {r: {} for r in STANDARD_KEYS}
    names: dict[str, str] = {}
    for resource, key, where in used_fideslang_keys(policy):
        if key not in STANDARD_KEYS[resource]:
            described = policy.fideslang_extensions.get(key)
            wanted[resource].setdefault(key, described or f"Used by servinfo at {where}.")
        names.setdefault(key, _name_at(policy, where))
    for key, description in policy.fideslang_extensions.items():
        resource = _resource_of_extension(policy, key)
        if key not in STANDARD_KEYS[resource]:
            wanted[resource].setdefault(key, description)

    entries: dict[Resource, dict[str, dict[str, Any]]] = {r: {} for r in STANDARD_KEYS}
    for resource, keys in wanted.items():
        for key in sorted(keys):
            parts = key.split(".")
            # (1) ancestors that are neither standard nor exported get an entry of their own
            for depth in range(1, len(parts) + 1):
                ancestor = ".".join(parts[:depth])
                if ancestor in STANDARD_KEYS[resource] or ancestor in entries[resource]:
                    continue
                entries[resource][ancestor] = _entry(
                    resource,
                    ancestor,
                    names.get(ancestor, _title(parts[depth - 1])),
                    keys.get(ancestor, f"Groups servinfo's keys under {ancestor}."),
                )
    return entries


def _entry(resource: Resource, key: str, name: str, description: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"fides_key": key, "name": name, "description": description}
    if resource != "data_subject":
        entry["parent_key"] = key.rsplit(".", 1)[0] if "." in key else None
    entry["is_default"] = False
    return entry


def _name_at(policy: Policy, where: str) -> str:
    parts = where.split(".")
    if parts[0] == "categories" and len(parts) == 2:
        return policy.categories[parts[1]].name
    if parts[0] == "categories" and len(parts) == 4:
        return policy.categories[parts[1]].kinds[parts[3]].name
    if parts[0] == "purposes":
        return policy.purposes[where.split(".", 1)[1]].name
    if parts[0] == "data_subjects":
        return policy.data_subjects[parts[1]].name
    return _title(parts[-1])


def _title(text: str) -> str:
    return text.replace("_", " ").capitalize()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "servinfo"


def _dataset(policy: Policy, key: str) -> dict[str, Any]:
    collections = []
    for cat_id, category in policy.categories.items():
        kinds = []
        for kind_id, kind in category.kinds.items():
            fields = [
                {
                    "name": field_id,
                    "description": field.description,
                    "data_categories": [field.fideslang or kind.fideslang],
                }
                for field_id, field in kind.fields.items()
            ]
            kinds.append(
                {
                    "name": kind_id,
                    "description": f"{kind.name}: {kind.description}",
                    "data_categories": [kind.fideslang],
                    "fields": fields,
                }
            )
        collections.append(
            {
                "name": cat_id,
                "description": f"{category.name}: {category.description}",
                "data_categories": [category.fideslang],
                "fields": kinds,
            }
        )
    return {
        "fides_key": key,
        "name": f"{policy.organization.name} Service Information",
        "description": policy.organization.notice.scope_definition,
        "data_subjects": _subject_keys(policy),
        "collections": collections,
    }


def _subject_keys(policy: Policy) -> list[str]:
    return list(dict.fromkeys(s.fideslang for s in policy.data_subjects.values()))


def _declaration(policy: Policy, purpose_id: str, dataset_key: str) -> dict[str, Any]:
    purpose = policy.purposes[purpose_id]
    keys: dict[str, None] = {}
    for cat_id in purpose.categories:
        for kind_short, kind in policy.categories[cat_id].kinds.items():
            keys.setdefault(kind.fideslang)
            visible = purpose.fields.get(f"{cat_id}.{kind_short}", list(kind.fields))
            for field_id in visible:
                field_key = kind.fields[field_id].fideslang
                if field_key is not None:
                    keys.setdefault(field_key)
    processors = [
        p.name
        for p in policy.processors.values()
        if purpose_id in p.purposes and set(p.categories) & set(purpose.categories)
    ]
    declaration: dict[str, Any] = {
        "name": f"{purpose.name} ({purpose_id})",
        "data_use": purpose.fideslang,
        "data_categories": sorted(keys),
        "data_subjects": _subject_keys(policy),
        "dataset_references": [dataset_key],
        "features": [],
        "flexible_legal_basis_for_processing": False,
        "data_shared_with_third_parties": bool(processors),
        "third_parties": "; ".join(processors) or None,
        "shared_categories": [],
    }
    ground = purpose.grounds.get(GDPR_REGIME)
    if ground is not None and ground.basis in _LEGAL_BASIS:
        declaration["legal_basis_for_processing"] = _LEGAL_BASIS[ground.basis]
    return declaration


def _system(policy: Policy, key: str, dataset_key: str) -> dict[str, Any]:
    org = policy.organization
    transfer_bases = dict.fromkeys(
        _TRANSFER_BASIS.get(policy.mechanisms[m].type, "Other")
        for rules in policy.transfers.values()
        for mechanisms in rules.values()
        for m in mechanisms
        if m in policy.mechanisms and policy.mechanisms[m].type != "not_restricted"
    )
    system: dict[str, Any] = {
        "fides_key": key,
        "name": f"{org.name} Cloud Services",
        "description": " ".join(org.notice.introduction),
        "system_type": "Service",
        "dataset_references": [dataset_key],
        "processes_personal_data": True,
        "responsibility": ["Controller"],
        "legal_name": org.name,
        "legal_address": org.contact.address,
        "dpo": f"{org.dpo.name} <{org.dpo.email}>",
        "uses_profiling": any(p.automated_decisions for p in policy.purposes.values()),
        "does_international_transfers": bool(transfer_bases),
        "legal_basis_for_transfers": list(transfer_bases),
        "data_security_practices": "; ".join(
            f"{m.title}: {m.implemented_by}" for m in policy.security_measures.values()
        ),
        "privacy_declarations": [_declaration(policy, pid, dataset_key) for pid in policy.purposes],
    }
    if org.contact.url:
        system["privacy_policy"] = org.contact.url
    return system


def fideslang_manifest(policy: Policy) -> dict[str, list[dict[str, Any]]]:
    """The manifest as plain data: what :func:`export_fideslang` writes as YAML."""
    entries = _custom_entries(policy)
    slug = _slug(policy.organization.name)
    dataset_key = f"{slug}_service_information"
    return {
        "data_category": list(entries["data_category"].values()),
        "data_use": list(entries["data_use"].values()),
        "data_subject": list(entries["data_subject"].values()),
        "dataset": [_dataset(policy, dataset_key)],
        "system": [_system(policy, f"{slug}_cloud_services", dataset_key)],
    }


def export_fideslang(policy: Policy) -> str:
    """The policy as a fideslang YAML manifest (see the module docstring)."""
    import yaml  # only the export writes YAML; policy checks import this module too

    header = (
        f"# fideslang {FIDESLANG_VERSION} manifest generated by servinfo from the policy of "
        f"{policy.organization.name}, version {policy.version}.\n"
        "# Standard fideslang keys are referenced, not redefined; the taxonomy lists hold "
        "servinfo's own keys.\n"
    )
    body = yaml.safe_dump(
        fideslang_manifest(policy), sort_keys=False, allow_unicode=True, width=100
    )
    return header + body
