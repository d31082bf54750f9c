"""The protected store: per-region record databases, the control database, crypto-shredding.

Layout of a deployment::

    control database     organizations, subjects, principals, policy versions, shred ledger
    region database × N  records (sealed), data keys (wrapped), blind indexes, tombstones

Records are written with :class:`RecordWriter` to their subject's home region,
sealed with AES-256-GCM under a data key per (subject, region, retention
class) from :mod:`servinfo.crypto`. Reading records back is *not* part of this
public API: :mod:`servinfo.store.reading` is for ``servinfo.access`` alone,
which adds purpose checks and auditing to every read.

Typical wiring (what ``servinfo init`` and the service do)::

    control = create_engine_for(control_url)
    regions = {r: create_engine_for(url) for r, url in region_urls.items()}
    migrate_control(control)
    for engine in regions.values():
        migrate_region(engine)
    directory = SubjectDirectory(control, regions)
    writer = RecordWriter(directory, regions, keyring)

The store depends on :mod:`servinfo.crypto` only, never on the policy.
"""

from servinfo.store._marks import RequestMark, request_digest
from servinfo.store._mutations import Reseal
from servinfo.store.directory import Organization, Subject, SubjectDirectory
from servinfo.store.engines import checkpoint, create_engine_for
from servinfo.store.erasure import ErasureReport, RegionErasure
from servinfo.store.errors import (
    Conflict,
    DuplicateOrganization,
    DuplicatePrincipal,
    DuplicateSubject,
    InvalidRecord,
    LastAdministrator,
    NotFound,
    PayloadTooLarge,
    PolicyVersionConflict,
    RecordNotFound,
    StoreError,
    SubjectErased,
    UnknownOrganization,
    UnknownPolicyVersion,
    UnknownPrincipal,
    UnknownRegion,
    UnknownSubject,
)
from servinfo.store.ledger import LedgerEntry, ShredLedger
from servinfo.store.migrations import migrate_control, migrate_region
from servinfo.store.policies import PolicyRecord, PolicyVersions
from servinfo.store.principals import Principal, PrincipalStore
from servinfo.store.records import DEFAULT_MAX_PAYLOAD_BYTES, NewRecord, RecordWriter
from servinfo.store.rotation import Progress, RewrapReport, kek_usage, rewrap_data_keys

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "Conflict",
    "DuplicateOrganization",
    "DuplicatePrincipal",
    "DuplicateSubject",
    "ErasureReport",
    "InvalidRecord",
    "LastAdministrator",
    "LedgerEntry",
    "NewRecord",
    "NotFound",
    "Organization",
    "PayloadTooLarge",
    "PolicyRecord",
    "PolicyVersionConflict",
    "PolicyVersions",
    "Principal",
    "PrincipalStore",
    "Progress",
    "RecordNotFound",
    "RecordWriter",
    "RegionErasure",
    "RequestMark",
    "Reseal",
    "RewrapReport",
    "ShredLedger",
    "StoreError",
    "Subject",
    "SubjectDirectory",
    "SubjectErased",
    "UnknownOrganization",
    "UnknownPolicyVersion",
    "UnknownPrincipal",
    "UnknownRegion",
    "UnknownSubject",
    "checkpoint",
    "create_engine_for",
    "kek_usage",
    "migrate_control",
    "migrate_region",
    "request_digest",
    "rewrap_data_keys",
]
