"""The policy in the W3C Data Privacy Vocabulary (DPV 2.x) as JSON-LD.

Terms are from the DPV 2 namespaces (checked against DPV 2.2): ``dpv:`` core,
``eu-gdpr:`` for the GDPR's legal bases and transfer tools, ``loc:`` for
countries. The document is one ``@graph``:

- the organization as ``dpv:DataController`` with its DPO, and each region's
  legal entity as a ``dpv:DataController`` located in its country;
- each security measure as an instance of its ``security_measures.<id>.dpv``
  concept (``dpv:EncryptionAtRest`` …);
- each category as ``dpv:PersonalData``; each data-subject category as
  ``dpv:DataSubject``; each processor as ``dpv:DataProcessor``; each region as a
  ``dpv:StorageLocation`` with ``dpv:hasLocation loc:<country>``;
- each purpose as ``dpv:Purpose`` (a sub-purpose ``skos:broader`` its parent),
  and a ``dpv:PersonalDataHandling`` for it that links purpose, legal bases,
  personal data, data subjects, measures, storage, recipients and transfers;
- each transfer out of a region as a ``dpv:PersonalDataHandling`` whose
  processing is ``dpv:CrossBorderTransfer``, with ``dpv:hasDataExporter``,
  ``dpv:hasDataImporter``, ``dpv:hasThirdCountry`` and, as ``dpv:hasLegalBasis``,
  its mechanisms as ``dpv:DataTransferLegalBasis`` (typed with the ``eu-gdpr:``
  transfer tool too when the exporting region is in the EEA). DPV 2 has no
  ``hasDataTransferMechanism`` property; this is how its guides model transfers.

The GDPR bases map to ``eu-gdpr:A6-1-a`` … ``A6-1-f``. Other regimes' bases have
no DPV concept and are described as ``dpv:LegalBasis`` nodes with their text.
"""

from __future__ import annotations

import json
from typing import Any

from servinfo.policy.model import Policy, Purpose

DPV = "https://w3id.org/dpv#"
EU_GDPR = "https://w3id.org/dpv/legal/eu/gdpr#"
LOC = "https://w3id.org/dpv/loc#"
CONTEXT: dict[str, str] = {
    "dpv": DPV,
    "eu-gdpr": EU_GDPR,
    "loc": LOC,
    "dct": "http://purl.org/dc/terms/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
#: The regime whose bases have ``eu-gdpr:`` concepts, and the legal area of its regions.
GDPR_REGIME = "gdpr"
GDPR_LEGAL_AREA = "eea"
GDPR_BASES: dict[str, str] = {
    "consent": "eu-gdpr:A6-1-a",
    "contract": "eu-gdpr:A6-1-b",
    "legal_obligation": "eu-gdpr:A6-1-c",
    "vital_interests": "eu-gdpr:A6-1-d",
    "public_task": "eu-gdpr:A6-1-e",
    "legitimate_interests": "eu-gdpr:A6-1-f",
}
#: GDPR Chapter V tools by mechanism type (the DPF is an Art. 45(3) adequacy decision).
GDPR_TRANSFER_TOOLS: dict[str, str] = {
    "adequacy": "eu-gdpr:A45-3",
    "dpf": "eu-gdpr:A45-3",
    "eu_scc": "eu-gdpr:A46-2-c",
    "bcr": "eu-gdpr:A46-2-b",
}


def _ref(iri: str) -> dict[str, str]:
    return {"@id": iri}


def _loc(country: str) -> dict[str, str]:
    return _ref(f"loc:{country}")


class _Ids:
    """Node ids under the organization's privacy URL (or a URN when it has none)."""

    def __init__(self, policy: Policy) -> None:
        url = policy.organization.contact.url
        self.base = f"{url.rstrip('#')}#" if url else "urn:servinfo:policy:"

    def __call__(self, kind: str, *parts: str) -> str:
        return self.base + "/".join((kind, *parts))


def dpv_document(policy: Policy) -> dict[str, Any]:
    """The JSON-LD document as plain data: what :func:`export_dpv` serializes."""
    node = _Ids(policy)
    org = policy.organization
    graph: list[dict[str, Any]] = []

    controller = node("controller")
    graph.append(
        {
            "@id": controller,
            "@type": "dpv:DataController",
            "dpv:hasName": org.name,
            "dpv:hasContact": org.contact.email,
            "dpv:hasAddress": org.contact.address,
            "dpv:hasDataProtectionOfficer": {
                "@id": node("dpo"),
                "@type": "dpv:DataProtectionOfficer",
                "dpv:hasName": org.dpo.name,
                "dpv:hasContact": org.dpo.email,
                "dpv:hasAddress": org.dpo.address,
            },
        }
    )
    for entity_id, entity in policy.legal_entities.items():
        graph.append(
            {
                "@id": node("entity", entity_id),
                "@type": ["dpv:DataController", "dpv:LegalEntity"],
                "dpv:hasName": entity.name,
                "dpv:hasAddress": entity.address,
                "dpv:hasCountry": _loc(entity.country),
            }
        )
    for region_id, region in policy.regions.items():
        graph.append(
            {
                "@id": node("region", region_id),
                "@type": "dpv:StorageLocation",
                "dct:title": region.name,
                "dct:description": region.location,
                "dpv:hasLocation": _loc(region.country),
                "dpv:hasDataController": _ref(node("entity", region.entity)),
            }
        )
    for measure_id, measure in policy.security_measures.items():
        graph.append(
            {
                "@id": node("measure", measure_id),
                "@type": f"dpv:{measure.dpv}",
                "dct:title": measure.title,
                "dct:description": f"{measure.description} {measure.implemented_by}",
            }
        )
    for cat_id, category in policy.categories.items():
        graph.append(
            {
                "@id": node("data", cat_id),
                "@type": "dpv:PersonalData",
                "dct:title": category.name,
                "dct:description": category.description,
            }
        )
    for subject_id, subject in policy.data_subjects.items():
        graph.append(
            {
                "@id": node("subject", subject_id),
                "@type": "dpv:DataSubject",
                "dct:title": subject.name,
                "dct:description": subject.description,
            }
        )
    for processor_id, processor in policy.processors.items():
        graph.append(
            {
                "@id": node("processor", processor_id),
                "@type": "dpv:DataProcessor",
                "dpv:hasName": processor.name,
                "dct:description": processor.service,
                "dpv:hasCountry": _loc(processor.country.split("-", 1)[0]),
            }
        )
    for mechanism_id, mechanism in policy.mechanisms.items():
        if mechanism.type == "not_restricted":
            continue
        mech: dict[str, Any] = {
            "@id": node("mechanism", mechanism_id),
            "@type": "dpv:DataTransferLegalBasis",
            "dct:title": mechanism.name,
            "dct:source": mechanism.reference,
        }
        if mechanism.expires is not None:
            mech["dct:valid"] = {"@value": mechanism.expires.isoformat(), "@type": "xsd:date"}
        graph.append(mech)

    transfers = _transfers(policy, node)
    for purpose_id, purpose in policy.purposes.items():
        graph.append(_purpose(node, purpose_id, purpose))
        graph.append(_handling(policy, node, controller, purpose_id, purpose))
    graph.extend(transfers)
    return {"@context": dict(CONTEXT), "@graph": graph}


def _purpose(node: _Ids, purpose_id: str, purpose: Purpose) -> dict[str, Any]:
    item: dict[str, Any] = {
        "@id": node("purpose", purpose_id),
        "@type": "dpv:Purpose",
        "dct:identifier": purpose_id,
        "dct:title": purpose.name,
        "dct:description": purpose.description,
    }
    if purpose.parent is not None:
        item["skos:broader"] = _ref(node("purpose", purpose.parent))
    return item


def _legal_bases(policy: Policy, purpose: Purpose) -> list[dict[str, Any]]:
    bases: list[dict[str, Any]] = []
    for regime_id, ground in purpose.grounds.items():
        if regime_id == GDPR_REGIME and ground.basis in GDPR_BASES:
            bases.append(_ref(GDPR_BASES[ground.basis]))
            continue
        regime = policy.regimes[regime_id]
        bases.append(
            {
                "@type": "dpv:LegalBasis",
                "dct:title": f"{regime.name}: {regime.bases.get(ground.basis, ground.basis)}",
                "dct:description": ground.detail,
            }
        )
    return bases


def _handling(
    policy: Policy, node: _Ids, controller: str, purpose_id: str, purpose: Purpose
) -> dict[str, Any]:
    serving = [
        pid
        for pid, p in policy.processors.items()
        if purpose_id in p.purposes and set(p.categories) & set(purpose.categories)
    ]
    return {
        "@id": node("handling", purpose_id),
        "@type": "dpv:PersonalDataHandling",
        "dpv:hasDataController": _ref(controller),
        "dpv:hasPurpose": _ref(node("purpose", purpose_id)),
        "dpv:hasLegalBasis": _legal_bases(policy, purpose),
        "dpv:hasPersonalData": [_ref(node("data", c)) for c in purpose.categories],
        "dpv:hasDataSubject": [_ref(node("subject", s)) for s in policy.data_subjects],
        "dpv:hasTechnicalOrganisationalMeasure": [
            _ref(node("measure", m)) for m in policy.security_measures
        ],
        "dpv:hasStorageCondition": [_ref(node("region", r)) for r in policy.regions],
        "dpv:hasLocation": [
            _loc(c) for c in dict.fromkeys(r.country for r in policy.regions.values())
        ],
        "dpv:hasRecipient": [_ref(node("processor", pid)) for pid in serving],
        # Staff of another region's entity may read for any purpose; a processor's
        # country only for the purposes the processor serves.
        "dpv:hasPersonalDataHandling": [
            _ref(node("transfer", source, destination))
            for source, destination, processors, _ in _transfer_routes(policy)
            if destination in policy.regions or any(p in serving for p in processors)
        ],
    }


def _restricted(policy: Policy, mechanism_ids: list[str]) -> bool:
    """Whether the exporting law conditions the transfer (some mechanism is not 'none')."""
    return any(
        m in policy.mechanisms and policy.mechanisms[m].type != "not_restricted"
        for m in mechanism_ids
    )


def _importing_processors(policy: Policy, source_id: str, destination: str) -> list[str]:
    """Processors serving ``source_id`` whose country the ``destination`` rule governs."""
    found = []
    for processor_id, processor in policy.processors.items():
        if source_id not in processor.regions:
            continue
        try:
            governing = policy.transfer_destination(source_id, processor.country.split("-", 1)[0])
        except KeyError:
            continue  # validation reports a processor without a transfer rule
        if governing == destination:
            found.append(processor_id)
    return found


def _transfer_routes(policy: Policy) -> list[tuple[str, str, list[str], list[str]]]:
    """``(source, destination, importing processors, mechanisms)`` of every restricted
    transfer that has an importer: the destination region's entity or a processor."""
    routes = []
    for source_id, rules in policy.transfers.items():
        if source_id not in policy.regions:
            continue
        for destination, mechanism_ids in rules.items():
            processors = _importing_processors(policy, source_id, destination)
            if _restricted(policy, mechanism_ids) and (destination in policy.regions or processors):
                routes.append((source_id, destination, processors, mechanism_ids))
    return routes


def _transfers(policy: Policy, node: _Ids) -> list[dict[str, Any]]:
    transfers = []
    for source_id, destination, processors, mechanism_ids in _transfer_routes(policy):
        source = policy.regions[source_id]
        region = policy.regions.get(destination)
        importers = [_ref(node("entity", region.entity))] if region is not None else []
        importers += [_ref(node("processor", pid)) for pid in processors]
        bases = []
        for mechanism_id in mechanism_ids:
            ref: dict[str, Any] = _ref(node("mechanism", mechanism_id))
            tool = GDPR_TRANSFER_TOOLS.get(policy.mechanisms[mechanism_id].type)
            if tool is not None and source.legal_area == GDPR_LEGAL_AREA:
                ref = {**ref, "@type": ["dpv:DataTransferLegalBasis", tool]}
            bases.append(ref)
        transfers.append(
            {
                "@id": node("transfer", source_id, destination),
                "@type": "dpv:PersonalDataHandling",
                "dpv:hasProcessing": _ref("dpv:CrossBorderTransfer"),
                "dpv:hasDataExporter": _ref(node("entity", source.entity)),
                "dpv:hasDataImporter": importers,
                "dpv:hasLocation": _loc(source.country),
                "dpv:hasThirdCountry": _loc(region.country if region is not None else destination),
                "dpv:hasLegalBasis": bases,
            }
        )
    return transfers


def export_dpv(policy: Policy) -> str:
    """The policy as DPV 2 JSON-LD (see the module docstring)."""
    return json.dumps(dpv_document(policy), indent=2, ensure_ascii=False) + "\n"
