"""The records of processing activities (GDPR Art. 30(1)), compiled from the policy.

One :class:`RopaRecord` per purpose, sub-purposes included, with what Art. 30(1)
asks for: (a) the controller, the controlling legal entity of each region and the
DPO; (b) the purpose; (c) the categories of data subjects and of personal data;
(d) the recipients; (e) transfers to third countries and their safeguards; (f) the
envisaged time limits for erasure; (g) the technical and organisational measures.
The legal basis under each regime is added because a DPO needs it beside the
purpose (Art. 6, and Art. 30 as supervisory authorities read it).

Decisions a reader of the register should know:

- **Recipients** of a purpose are the processors and the internal roles that
  declare *exactly that purpose*. A sub-purpose does not inherit its parent's
  recipients, nor a parent its sub-purposes': access decisions treat them as
  distinct purposes (roles list ``provide`` and ``provide.credit_check``
  separately), so the register says what enforcement allows. A recipient is
  listed with the purpose's categories it may receive; one that may receive none
  of them is not a recipient. Internal roles are those whose principals are
  people (employees, contractors, agents); processors are listed one by one from
  the processor registry, data subjects and services are not recipients.
- **Transfers** are listed from each region in a protected legal area
  (:data:`PROTECTED_LEGAL_AREAS`: EEA, UK, Switzerland). Another region is a
  destination for every purpose, because staff of its legal entity may read
  under the purpose's roles; a country outside every region is a destination
  only when a recipient processor of the purpose sits there and serves the
  exporting region.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

from servinfo.policy.model import STAFF_KINDS, Policy, Purpose
from servinfo.policy.redaction import describe_field, field_redaction

#: Legal areas whose law restricts transfers out of them, whose records list transfers.
PROTECTED_LEGAL_AREAS: frozenset[str] = frozenset({"eea", "uk", "ch"})
_STARTS = {"collected": "from collection", "account_closed": "from account closure"}
#: Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Party:
    """A controller, legal entity or officer with the contact a data subject may use."""

    name: str
    email: str | None = None
    address: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class RegionalController:
    """The legal entity that controls the data stored in one region."""

    region: str
    region_name: str
    location: str
    entity: str
    controller: Party


@dataclass(frozen=True)
class LegalBasis:
    regime: str
    regime_name: str
    basis: str
    basis_text: str
    detail: str


@dataclass(frozen=True)
class DataSubjects:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class PersonalData:
    """One kind of Service Information the purpose uses, and the fields it sees."""

    kind: str
    kind_name: str
    category: str
    category_name: str
    fields: tuple[str, ...]
    #: False when ``purpose.fields`` narrows the kind to ``fields``.
    all_fields: bool


@dataclass(frozen=True)
class Recipient:
    type: str  # "processor" or "internal_role"
    id: str
    name: str
    description: str
    categories: tuple[str, ...]
    regions: tuple[str, ...]
    country: str | None = None
    contract: str | None = None


@dataclass(frozen=True)
class Safeguard:
    id: str
    type: str
    name: str
    reference: str
    expires: dt.date | None


@dataclass(frozen=True)
class Transfer:
    source_region: str
    source_legal_area: str
    #: The ``transfers`` key: a region id or an ISO country code.
    destination: str
    destination_country: str
    importers: tuple[str, ...]
    safeguards: tuple[Safeguard, ...]


@dataclass(frozen=True)
class ErasureLimit:
    kind: str
    period: str
    starts: str
    retention_class: str
    erased_on_request: bool
    #: ``(regime id, period)`` where a regime's law overrides ``period``.
    by_regime: tuple[tuple[str, str], ...]
    reason: str | None


@dataclass(frozen=True)
class Measure:
    id: str
    title: str
    description: str
    implemented_by: str


@dataclass(frozen=True)
class RedactedField:
    """A free-text field of a kind the purpose uses: what is removed before it is stored
    (Art. 30(1)(g): a technical measure), as ingest applies it."""

    kind: str
    field: str
    profile: str | None
    types: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class RopaRecord:
    purpose: str
    purpose_name: str
    description: str
    parent: str | None
    controller: Party
    controllers_by_region: tuple[RegionalController, ...]
    dpo: Party
    legal_bases: tuple[LegalBasis, ...]
    automated_decisions: bool
    objectable: bool
    pseudonymized: bool
    data_subjects: tuple[DataSubjects, ...]
    personal_data: tuple[PersonalData, ...]
    recipients: tuple[Recipient, ...]
    transfers: tuple[Transfer, ...]
    erasure: tuple[ErasureLimit, ...]
    security_measures: tuple[Measure, ...]
    #: How long backups holding this data are kept (their key destroyed then), if stated.
    backups_kept_for: str | None = None
    #: What ingest removes from the free-text fields of the kinds the purpose uses.
    free_text_redaction: tuple[RedactedField, ...] = ()


def ropa_records(policy: Policy) -> list[RopaRecord]:
    """One record per purpose of ``policy``, in the policy's order."""
    org = policy.organization
    controller = Party(org.name, org.contact.email, org.contact.address)
    dpo = Party(org.dpo.name, org.dpo.email, org.dpo.address)
    controllers = tuple(
        RegionalController(
            region_id,
            region.name,
            region.location,
            region.entity,
            Party(
                policy.legal_entities[region.entity].name,
                address=policy.legal_entities[region.entity].address,
                country=policy.legal_entities[region.entity].country,
            ),
        )
        for region_id, region in policy.regions.items()
    )
    subjects = tuple(
        DataSubjects(sid, s.name, s.description) for sid, s in policy.data_subjects.items()
    )
    measures = tuple(
        Measure(mid, m.title, m.description, m.implemented_by)
        for mid, m in policy.security_measures.items()
    )
    return [
        RopaRecord(
            purpose=purpose_id,
            purpose_name=purpose.name,
            description=purpose.description,
            parent=purpose.parent,
            controller=controller,
            controllers_by_region=controllers,
            dpo=dpo,
            legal_bases=_legal_bases(policy, purpose),
            automated_decisions=purpose.automated_decisions,
            objectable=purpose.objectable,
            pseudonymized=purpose.pseudonymized,
            data_subjects=subjects,
            personal_data=_personal_data(policy, purpose),
            recipients=_recipients(policy, purpose_id, purpose),
            transfers=_transfers(policy, purpose_id, purpose),
            erasure=_erasure(policy, purpose),
            security_measures=measures,
            backups_kept_for=policy.backups.keep_for if policy.backups is not None else None,
            free_text_redaction=_redaction(policy, purpose),
        )
        for purpose_id, purpose in policy.purposes.items()
    ]


def _redaction(policy: Policy, purpose: Purpose) -> tuple[RedactedField, ...]:
    fields = []
    for cat_id in purpose.categories:
        for kind_short, kind in policy.categories[cat_id].kinds.items():
            for name, spec in kind.fields.items():
                if spec.free_text:
                    resolved = field_redaction(policy, spec)
                    fields.append(
                        RedactedField(
                            f"{cat_id}.{kind_short}",
                            name,
                            resolved.profile,
                            resolved.types,
                            describe_field(policy, spec),
                        )
                    )
    return tuple(fields)


def _legal_bases(policy: Policy, purpose: Purpose) -> tuple[LegalBasis, ...]:
    bases = []
    for regime_id, ground in purpose.grounds.items():
        regime = policy.regimes[regime_id]
        text = regime.bases.get(ground.basis, ground.basis)
        bases.append(LegalBasis(regime_id, regime.name, ground.basis, text, ground.detail))
    return tuple(bases)


def _personal_data(policy: Policy, purpose: Purpose) -> tuple[PersonalData, ...]:
    items = []
    for cat_id in purpose.categories:
        category = policy.categories[cat_id]
        for kind_short, kind in category.kinds.items():
            kind_id = f"{cat_id}.{kind_short}"
            narrowed = purpose.fields.get(kind_id)
            fields = tuple(narrowed) if narrowed is not None else tuple(kind.fields)
            items.append(
                PersonalData(kind_id, kind.name, cat_id, category.name, fields, narrowed is None)
            )
    return tuple(items)


def _recipients(policy: Policy, purpose_id: str, purpose: Purpose) -> tuple[Recipient, ...]:
    recipients = []
    for pid, processor in policy.processors.items():
        categories = tuple(c for c in processor.categories if c in purpose.categories)
        if purpose_id in processor.purposes and categories:
            recipients.append(
                Recipient(
                    "processor",
                    pid,
                    processor.name,
                    # A sub-processor names the processor engaging it (its own entry).
                    processor.service
                    if processor.sub_processor_of is None
                    else f"{processor.service}; sub-processor engaged by "
                    f"{policy.processors[processor.sub_processor_of].name}",
                    categories,
                    tuple(processor.regions),
                    processor.country,
                    processor.contract.reference,
                )
            )
    for role_id, role in policy.roles.items():
        categories = tuple(c for c in role.categories if c in purpose.categories)
        staff = STAFF_KINDS.intersection(role.principal_kinds)
        if purpose_id in role.purposes and categories and staff:
            recipients.append(
                Recipient(
                    "internal_role",
                    role_id,
                    role.name,
                    role.description,
                    categories,
                    tuple(role.regions),
                )
            )
    return tuple(recipients)


def _transfers(policy: Policy, purpose_id: str, purpose: Purpose) -> tuple[Transfer, ...]:
    processors = [
        p
        for p in policy.processors.values()
        if purpose_id in p.purposes and set(p.categories) & set(purpose.categories)
    ]
    transfers = []
    for source_id, source in policy.regions.items():
        if source.legal_area not in PROTECTED_LEGAL_AREAS:
            continue
        for destination, mechanism_ids in policy.transfers.get(source_id, {}).items():
            importers: list[str] = []
            region = policy.regions.get(destination)
            if region is not None:
                importers.append(policy.legal_entities[region.entity].name)
            for processor in processors:
                if source_id not in processor.regions:
                    continue
                country = processor.country.split("-", 1)[0]
                try:
                    governing = policy.transfer_destination(source_id, country)
                except KeyError:
                    continue  # validation reports a processor without a transfer rule
                if governing == destination:
                    importers.append(processor.name)
            if not importers:
                continue
            transfers.append(
                Transfer(
                    source_id,
                    source.legal_area,
                    destination,
                    region.country if region is not None else destination,
                    tuple(importers),
                    tuple(_safeguard(policy, m) for m in mechanism_ids),
                )
            )
    return tuple(transfers)


def _safeguard(policy: Policy, mechanism_id: str) -> Safeguard:
    mechanism = policy.mechanisms[mechanism_id]
    return Safeguard(
        mechanism_id, mechanism.type, mechanism.name, mechanism.reference, mechanism.expires
    )


def _erasure(policy: Policy, purpose: Purpose) -> tuple[ErasureLimit, ...]:
    limits = []
    for cat_id in purpose.categories:
        for kind_short, kind in policy.categories[cat_id].kinds.items():
            retention = kind.retention
            limits.append(
                ErasureLimit(
                    f"{cat_id}.{kind_short}",
                    retention.period,
                    retention.starts,
                    retention.retention_class,
                    policy.retention_classes[retention.retention_class].erased_on_request,
                    tuple(retention.by_regime.items()),
                    retention.reason,
                )
            )
    return tuple(limits)


# -- JSON ---------------------------------------------------------------------------------------


def ropa_document(
    policy: Policy, *, version: str | None = None, generated_on: dt.date | None = None
) -> dict[str, Any]:
    """The register as plain data: what :func:`ropa_json` serializes."""
    return {
        "document": "Records of processing activities (GDPR Art. 30(1))",
        "organization": policy.organization.name,
        "policy_version": version if version is not None else policy.version,
        "generated_on": (generated_on or dt.date.today()).isoformat(),
        "records": [asdict(record) for record in ropa_records(policy)],
    }


def ropa_json(
    policy: Policy, *, version: str | None = None, generated_on: dt.date | None = None
) -> str:
    """The register as a JSON document; ``version`` defaults to the policy's content hash
    and ``generated_on`` to today."""
    document = ropa_document(policy, version=version, generated_on=generated_on)
    return json.dumps(document, indent=2, ensure_ascii=False, default=_json_default) + "\n"


def _json_default(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")


# -- CSV ----------------------------------------------------------------------------------------

#: One row per purpose (one processing activity, as registers are kept); cells that
#: hold several items join them with "; ".
CSV_COLUMNS = (
    "purpose_id",
    "purpose",
    "parent_purpose",
    "description",
    "controller",
    "controller_contact",
    "controllers_by_region",
    "dpo",
    "legal_bases",
    "automated_decisions",
    "objection_possible",
    "data_subjects",
    "personal_data_categories",
    "personal_data",
    "recipients",
    "third_country_transfers",
    "erasure_time_limits",
    "security_measures",
)
SEPARATOR = "; "


def ropa_rows(policy: Policy) -> list[dict[str, str]]:
    """The CSV rows as mappings from :data:`CSV_COLUMNS` to cell text."""
    regimes = {rid: r.name for rid, r in policy.regimes.items()}
    return [_row(record, regimes) for record in ropa_records(policy)]


def _row(record: RopaRecord, regimes: dict[str, str]) -> dict[str, str]:
    join = SEPARATOR.join
    categories = dict.fromkeys(f"{d.category_name} ({d.category})" for d in record.personal_data)
    return {
        "purpose_id": record.purpose,
        "purpose": record.purpose_name,
        "parent_purpose": record.parent or "",
        "description": record.description,
        "controller": record.controller.name,
        "controller_contact": ", ".join(
            v for v in (record.controller.email, record.controller.address) if v
        ),
        "controllers_by_region": join(
            f"{c.region_name} ({c.region}): {c.controller.name}"
            for c in record.controllers_by_region
        ),
        "dpo": ", ".join(v for v in (record.dpo.name, record.dpo.email, record.dpo.address) if v),
        "legal_bases": join(
            f"{b.regime_name}: {b.basis_text} — {b.detail}" for b in record.legal_bases
        ),
        "automated_decisions": "yes" if record.automated_decisions else "no",
        "objection_possible": "yes" if record.objectable else "no",
        "data_subjects": join(s.name for s in record.data_subjects),
        "personal_data_categories": join(categories),
        "personal_data": join(_data_cell(d) for d in record.personal_data),
        "recipients": join(_recipient_cell(r) for r in record.recipients),
        "third_country_transfers": join(_transfer_cell(t) for t in record.transfers),
        "erasure_time_limits": join(
            [
                *(_erasure_cell(e, regimes) for e in record.erasure),
                *(
                    [f"backups: {record.backups_kept_for} after each is taken (its key destroyed)"]
                    if record.backups_kept_for
                    else []
                ),
            ]
        ),
        "security_measures": join(
            [
                *(f"{m.title}: {m.implemented_by}" for m in record.security_measures),
                *(
                    f"redaction of {r.kind}.{r.field}: {r.description}"
                    for r in record.free_text_redaction
                ),
            ]
        ),
    }


def _data_cell(data: PersonalData) -> str:
    scope = "all fields" if data.all_fields else "selected fields"
    return f"{data.kind}: {', '.join(data.fields)} ({scope})"


def _recipient_cell(recipient: Recipient) -> str:
    if recipient.type == "processor":
        return (
            f"processor {recipient.name} ({recipient.country}, {recipient.description}, "
            f"contract {recipient.contract}): {', '.join(recipient.categories)}"
        )
    return f"staff role {recipient.name}: {', '.join(recipient.categories)}"


def _transfer_cell(transfer: Transfer) -> str:
    safeguards = ", ".join(
        f"{s.name} ({s.reference}{f', expires {s.expires.isoformat()}' if s.expires else ''})"
        for s in transfer.safeguards
    )
    return (
        f"{transfer.source_region} → {transfer.destination} ({transfer.destination_country}) "
        f"to {', '.join(transfer.importers)} under {safeguards}"
    )


def _erasure_cell(limit: ErasureLimit, regimes: dict[str, str]) -> str:
    on_request = "erased on request" if limit.erased_on_request else "kept despite erasure requests"
    starts = _STARTS.get(limit.starts, limit.starts)
    text = f"{limit.kind}: {limit.period} {starts} ({limit.retention_class}, {on_request})"
    if limit.by_regime:
        text += " [" + ", ".join(f"{regimes.get(r, r)}: {p}" for r, p in limit.by_regime) + "]"
    return text


def _cell(text: str) -> str:
    """``text`` made inert for spreadsheets (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def ropa_csv(policy: Policy) -> str:
    """The register as CSV (RFC 4180, header row, one row per purpose)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in ropa_rows(policy):
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue()


__all__ = [
    "CSV_COLUMNS",
    "PROTECTED_LEGAL_AREAS",
    "DataSubjects",
    "ErasureLimit",
    "LegalBasis",
    "Measure",
    "Party",
    "PersonalData",
    "Recipient",
    "RegionalController",
    "RopaRecord",
    "Safeguard",
    "Transfer",
    "ropa_csv",
    "ropa_document",
    "ropa_json",
    "ropa_records",
    "ropa_rows",
]
