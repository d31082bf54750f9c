"""The policy model: the one machine-readable source of truth.

Everything servinfo enforces or publishes is compiled from a :class:`Policy`:
the access decision tables, the ingest schemas, the privacy notice, the records
of processing (GDPR Art. 30) and the interchange exports. The YAML format
mirrors these classes field for field; ``policy/default.yaml`` encodes the IMS -
Network Cloud Privacy Notice.

Every element that has an identity is held in a mapping keyed by its id, so
that ids are unique by construction and references read as paths
(``purposes.improve_use.categories[2]``). Models are frozen and refuse unknown
keys. Cross-references are checked by :mod:`servinfo.policy.validate`, not here,
so that one run reports every problem with its location.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from servinfo.policy.durations import parse_duration

#: An id: lower case, digits and underscores; sub-elements join ids with dots.
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
#: A dotted id such as ``account.profile`` or ``provide.credit_check``.
DottedIdentifier = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
]
#: An ISO 3166-1 alpha-2 country code, optionally with a subdivision (``US-CA``).
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
#: A duration such as ``30 days``, ``10 business days``, ``1 month`` or ``7 years``
#: (parsed and checked by :func:`servinfo.policy.durations.parse_duration`).
DurationText = Annotated[str, StringConstraints(min_length=1)]

PrincipalKind = Literal[
    "employee", "contractor", "agent", "processor", "service", "subject", "authorized_agent"
]
#: The kinds of principal that are the organization's own people (staff): they work in a
#: region for one of its legal entities, and they are recipients in the Art. 30 sense.
STAFF_KINDS: frozenset[PrincipalKind] = frozenset({"employee", "contractor", "agent"})
FieldType = Literal[
    "string",
    "text",
    "integer",
    "number",
    "boolean",
    "datetime",
    "date",
    "email",
    "phone",
    "ip_address",
    "country",
    "currency",
    "money",
    "enum",
    "list",
    "object",
]
Provenance = Literal["provided", "observed", "derived"]
TelemetryTreatment = Literal["none", "pseudonymize", "truncate"]
Permission = Literal[
    "manage_principals",
    "reload_policy",
    "rotate_keys",
    "read_audit",
    "handle_requests",
    "write_records",
    "register_subjects",
    "manage_ledgers",
    "list_subjects",
    "read_jobs",
    "manage_jobs",
    "review_legal_requests",
    "share_records",
]
MechanismType = Literal[
    "not_restricted",
    "adequacy",
    "eu_scc",
    "uk_idta",
    "uk_addendum",
    "swiss_scc",
    "bcr",
    "dpf",
    "pdpa_contract",
]


class _Element(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Contact(_Element):
    name: str
    email: str
    address: str | None = None
    url: str | None = None


class NoticeMeta(_Element):
    """What the published notice needs that is not a processing fact."""

    title: str
    #: The date the notice shows as "Last updated": move it whenever what the notice says changes.
    last_updated: dt.date
    front_matter: dict[str, Any] = Field(default_factory=dict)
    introduction: list[str]
    customers_statement: str
    european_pointer: str
    european_section_title: str
    scope_statement: str
    scope_definition: str
    storage_statement: list[str]
    security_statement: str
    sharing_statement: str
    regional_statement: str


class Organization(_Element):
    name: str
    contact: Contact
    dpo: Contact
    notice: NoticeMeta


class LegalEntity(_Element):
    """A company of the group. Staff of the entity that operates a region reach it
    without a transfer; staff of any other entity need a transfer mechanism."""

    name: str
    country: CountryCode
    address: str
    dpf_certified: bool = False


class Region(_Element):
    name: str
    location: str
    country: CountryCode
    entity: Identifier
    #: The export-restricting legal area the region sits in (``eea``, ``uk``, ``ch``, …).
    legal_area: Identifier


class Service(_Element):
    """A cloud service that reports Service Information, and the kinds it may write."""

    name: str
    description: str
    kinds: list[DottedIdentifier]


class Partner(_Element):
    name: str
    description: str


class DataSubjectCategory(_Element):
    name: str
    description: str
    fideslang: DottedIdentifier


class FieldSpec(_Element):
    type: FieldType
    description: str
    required: bool = False
    #: Free text that ingest redacts (e-mail addresses, card numbers, secrets …).
    free_text: bool = False
    #: Looked up by value: stored only as a keyed blind index, never in clear.
    lookup: bool = False
    #: How the value appears to purposes that see telemetry pseudonymized.
    telemetry: TelemetryTreatment = "none"
    #: Whether the subject provided it or the service observed it (portability).
    provenance: Provenance
    values: list[str] | None = None
    max_length: int | None = None
    fideslang: DottedIdentifier | None = None
    #: A free-text field's redaction profile (``redaction.profiles``); the policy's
    #: ``redaction.default_profile`` when not given.
    redaction: Identifier | None = None


#: A redaction type: a built-in detector's (``EMAIL``, ``PHONE`` …) or a custom pattern's.
RedactionType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]
ReplacementMode = Literal["tag", "mask", "pseudonym"]


class Replacement(_Element):
    """How a value found in free text is replaced (:mod:`servinfo.policy.redaction`).

    ``tag``: its type, ``<EMAIL>``. ``mask``: asterisks and its last ``keep_last``
    characters, ``****1111``. ``pseudonym``: its type and a keyed hash under a key of
    the subject, ``<EMAIL:7f3a9c>`` — equal values of one subject get equal
    pseudonyms, and erasing the subject destroys the key. YAML may give the mode alone
    (``EMAIL: pseudonym``).
    """

    mode: ReplacementMode = "tag"
    #: The characters a mask keeps (letters and digits, from the end); a mask only.
    keep_last: int | None = Field(default=None, ge=1, le=6)

    @model_validator(mode="before")
    @classmethod
    def _mode_alone(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _keep_last_with_mask(self) -> Replacement:
        if self.mode == "mask" and self.keep_last is None:
            raise ValueError("a mask names keep_last, the characters it keeps (1 to 6)")
        if self.mode != "mask" and self.keep_last is not None:
            raise ValueError(f"keep_last is for a mask, not a {self.mode}")
        return self


class RedactionProfile(_Element):
    """What the free-text fields naming this profile are searched for, and how each
    type found is replaced (types not in ``replace``: their tag, or their pattern's
    own replacement)."""

    description: str
    #: Built-in detector types and custom patterns' types.
    detect: list[RedactionType]
    replace: dict[RedactionType, Replacement] = Field(default_factory=dict)


class CustomPattern(_Element):
    """An organization's own format (a customer number …), found with RE2 at ingest."""

    name: str
    type: RedactionType
    #: RE2 syntax (no backreferences or lookaround); checked by ``policy check``.
    regex: str
    replacement: Replacement = Field(default_factory=Replacement)
    description: str | None = None


class RedactionPolicy(_Element):
    """How free text is redacted at ingest. Without profiles every free-text field is
    searched by every built-in detector and each value replaced by its type's tag."""

    #: The profile of free-text fields that name none.
    default_profile: Identifier | None = None
    profiles: dict[Identifier, RedactionProfile] = Field(default_factory=dict)
    patterns: dict[Identifier, CustomPattern] = Field(default_factory=dict)


class Retention(_Element):
    period: DurationText
    #: What starts the period: the record's collection or the account's closure.
    starts: Literal["collected", "account_closed"]
    retention_class: Identifier
    #: Record-keeping periods that a regime's law sets, overriding ``period``.
    by_regime: dict[Identifier, DurationText] = Field(default_factory=dict)
    reason: str | None = None


class Kind(_Element):
    name: str
    description: str
    fideslang: DottedIdentifier
    fields: dict[Identifier, FieldSpec]
    #: What ingest does with a field the policy does not declare.
    undeclared: Literal["refuse", "drop"] = "refuse"
    retention: Retention


class Category(_Element):
    name: str
    notice_title: str
    description: str
    fideslang: DottedIdentifier
    #: Kinds by their short id; a kind's full id is ``<category>.<kind>``.
    kinds: dict[Identifier, Kind]


#: How an identifier's value is normalised before its blind index is computed
#: (:mod:`servinfo.access.identifiers`): e-mail (domain lower-cased, IDNA), phone
#: (E.164), username (NFKC, trimmed, case-folded).
IdentifierType = Literal["email", "phone", "username"]


class IdentifierSpec(_Element):
    """An identity a person knows and may give to be found by (their e-mail address …).

    Each ``fields`` entry is a ``<category>.<kind>.<field>`` path: records of that kind
    carry a keyed blind index of the field's normalised value, kept with the record.
    """

    type: IdentifierType
    description: str
    fields: list[DottedIdentifier]


class OutOfScope(_Element):
    name: str
    description: str
    #: Category names a sender might use for it; ingest refuses them as out of scope.
    markers: list[Identifier]
    documents: list[str] = Field(default_factory=list)


class Ground(_Element):
    """The lawful ground for a purpose under one regime."""

    basis: Identifier
    detail: str


class Purpose(_Element):
    name: str
    notice_title: str
    description: str
    parent: DottedIdentifier | None = None
    categories: list[Identifier]
    #: Per kind, the only fields the purpose may see; kinds not listed: all fields.
    fields: dict[DottedIdentifier, list[Identifier]] = Field(default_factory=dict)
    #: The purpose sees telemetry fields only in their pseudonymized form.
    pseudonymized: bool = False
    objectable: bool
    automated_decisions: bool = False
    fideslang: DottedIdentifier
    grounds: dict[Identifier, Ground]


class Right(_Element):
    name: str
    article: str
    deadline: DurationText
    extension: DurationText | None = None
    #: Within how long the subject must be told of an extension and why.
    extension_notice: DurationText | None = None
    #: Within how long receipt must be confirmed (CCPA: 10 business days).
    acknowledge: DurationText | None = None


class Authority(_Element):
    name: str
    url: str


class Regime(_Element):
    name: str
    law: str
    jurisdictions: list[CountryCode]
    bases: dict[Identifier, str]
    rights: dict[Identifier, Right]
    authority: Authority
    complaint_notice: bool
    notice_title: str
    summary: str


class Mechanism(_Element):
    type: MechanismType
    name: str
    reference: str
    expires: dt.date | None = None


class Role(_Element):
    name: str
    description: str
    principal_kinds: list[PrincipalKind]
    purposes: list[DottedIdentifier]
    categories: list[Identifier]
    regions: list[Identifier]
    permissions: list[Permission] = Field(default_factory=list)


ContractState = Literal["pending", "in_force", "expired", "terminated"]


class Contract(_Element):
    """A data processing agreement (GDPR Art. 28): in force from ``signed`` to ``expires``
    inclusive, unless ``terminated`` ends it earlier (from that day on)."""

    reference: str
    signed: dt.date
    expires: dt.date
    terminated: dt.date | None = None

    def state_on(self, today: dt.date) -> ContractState:
        """Whether the contract is in force on ``today``, and if not, why."""
        if self.terminated is not None and self.terminated <= today:
            return "terminated"
        if today < self.signed:
            return "pending"
        if self.expires < today:
            return "expired"
        return "in_force"


class Processor(_Element):
    """A processor under contract; a sub-processor is an entry of its own that names the
    processor engaging it (``sub_processor_of``) and is covered by both contracts."""

    name: str
    service: str
    country: CountryCode
    categories: list[Identifier]
    purposes: list[DottedIdentifier]
    regions: list[Identifier]
    contract: Contract
    dpf_certified: bool = False
    sub_processor_of: Identifier | None = None


class RetentionClass(_Element):
    description: str
    #: Erasure on request destroys the data key now; otherwise when retention ends.
    erased_on_request: bool


class Backups(_Element):
    """How long a backup of the deployment is kept: at the end its key is destroyed, so the
    backup cannot be opened wherever its file went (:mod:`servinfo.retention.backup`)."""

    keep_for: DurationText

    @field_validator("keep_for")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        parse_duration(value)  # a DurationSyntaxError is a ValueError: pydantic reports it
        return value


class DisclosureGround(_Element):
    title: str
    description: str


class SecurityMeasure(_Element):
    title: str
    description: str
    implemented_by: str
    notice: bool = True
    dpv: str


class Policy(_Element):
    schema_version: Literal[1]
    organization: Organization
    legal_entities: dict[Identifier, LegalEntity]
    regions: dict[Identifier, Region]
    services: dict[Identifier, Service]
    partners: dict[Identifier, Partner] = Field(default_factory=dict)
    data_subjects: dict[Identifier, DataSubjectCategory]
    categories: dict[Identifier, Category]
    out_of_scope: dict[Identifier, OutOfScope]
    retention_classes: dict[Identifier, RetentionClass]
    #: How long backups are kept; a deployment whose policy states none takes no backups.
    backups: Backups | None = None
    purposes: dict[DottedIdentifier, Purpose]
    regimes: dict[Identifier, Regime]
    #: The regime applied voluntarily where no regime's jurisdiction matches.
    default_regime: Identifier
    mechanisms: dict[Identifier, Mechanism]
    #: From each region to each other region or processor country: the mechanisms.
    transfers: dict[Identifier, dict[str, list[Identifier]]]
    roles: dict[Identifier, Role]
    processors: dict[Identifier, Processor] = Field(default_factory=dict)
    disclosure_grounds: dict[Identifier, DisclosureGround]
    security_measures: dict[Identifier, SecurityMeasure]
    fideslang_extensions: dict[DottedIdentifier, str] = Field(default_factory=dict)
    #: The identities by which a person is found (``servinfo subjects find``, requests).
    identifiers: dict[Identifier, IdentifierSpec] = Field(default_factory=dict)
    #: What free text is searched for and how what is found is replaced.
    redaction: RedactionPolicy = Field(default_factory=RedactionPolicy)

    @cached_property
    def version(self) -> str:
        """The content hash that every stored decision and record names."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Policy:
        """A copy whose version is computed afresh (the cached one belongs to ``self``)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("version", None)
        return copy

    def kinds(self) -> dict[str, Kind]:
        """Every kind of every category, by kind id."""
        return {
            f"{cid}.{kid}": kind
            for cid, cat in self.categories.items()
            for kid, kind in cat.kinds.items()
        }

    def category_of(self, kind_id: str) -> str:
        return kind_id.split(".", 1)[0]

    def regime_for(self, jurisdiction: str) -> str:
        """The regime that a subject's jurisdiction (``DE``, ``US-CA`` …) selects."""
        country = jurisdiction.split("-", 1)[0]
        for regime_id, regime in self.regimes.items():
            if jurisdiction in regime.jurisdictions:
                return regime_id
        for regime_id, regime in self.regimes.items():
            if country in regime.jurisdictions:
                return regime_id
        return self.default_regime

    def _area_of(self, country: str) -> str:
        """The legal area of a country: the regime that governs it, else the country."""
        for regime_id, regime in self.regimes.items():
            if country in regime.jurisdictions:
                return regime_id
        return country

    def transfer_destination(self, source_region: str, country: str) -> str | None:
        """The ``transfers[source_region]`` key that governs sending data to ``country``.

        None means the country lies in the source region's own legal area, so
        nothing is transferred. A country listed in the matrix is its own key;
        otherwise the region that shares the country's legal area stands for it.
        Raises KeyError when the matrix has no rule.
        """
        source = self.regions[source_region]
        area = self._area_of(country)
        if area == self._area_of(source.country):
            return None
        rules = self.transfers.get(source_region, {})
        if country in rules:
            return country
        for region_id, region in self.regions.items():
            if self._area_of(region.country) == area and region_id in rules:
                return region_id
        raise KeyError(country)

    def contract_state(self, processor_id: str, today: dt.date) -> ContractState:
        """A processor's contract state; a sub-processor's is its own contract's and its
        engaging processor's, whichever is worse (its work ends with either)."""
        processor = self.processors[processor_id]
        state = processor.contract.state_on(today)
        parent = processor.sub_processor_of
        if state == "in_force" and parent is not None and parent in self.processors:
            return self.processors[parent].contract.state_on(today)
        return state

    def sub_processors(self, processor_id: str) -> dict[str, Processor]:
        """The sub-processors a processor engages, by id."""
        return {pid: p for pid, p in self.processors.items() if p.sub_processor_of == processor_id}

    def purpose_roots(self) -> dict[str, Purpose]:
        return {pid: p for pid, p in self.purposes.items() if p.parent is None}

    def sub_purposes(self, parent: str) -> dict[str, Purpose]:
        return {pid: p for pid, p in self.purposes.items() if p.parent == parent}
