"""The store's exceptions.

::

    ServinfoError
    └── StoreError                   anything the store refuses or cannot do       (500)
        ├── NotFound                 (404)
        │   ├── UnknownSubject       no subject with that id in the directory
        │   ├── UnknownOrganization  no organization with that id
        │   ├── UnknownPrincipal     no principal with that name
        │   ├── UnknownPolicyVersion no policy version with that name
        │   └── RecordNotFound       no record with that id in that region
        ├── Conflict                 (409)
        │   ├── DuplicateSubject     a subject id already registered
        │   ├── DuplicateOrganization
        │   ├── DuplicatePrincipal   a principal name or token hash already in use
        │   ├── LastAdministrator    revoking would leave no principal who may manage principals
        │   └── PolicyVersionConflict  a version recorded with another document
        ├── UnknownRegion            a region this deployment does not have        (400)
        ├── StoreMismatch            a database not the one expected in its place  (503)
        │                            (foreign, misplaced, stale: servinfo.store.identity)
        ├── StoreUnavailable         a store read-only, full, failing or corrupt   (503)
        │                            (servinfo.store.failures)
        ├── SubjectErased            the subject's data keys were destroyed        (410)
        ├── PayloadTooLarge          a record's serialized fields exceed the limit (413)
        └── InvalidRecord            malformed input (no subject, naive time …)    (422)

A ciphertext that fails its integrity check raises
:class:`servinfo.crypto.IntegrityError` (a ``CryptoError``), which names the
record and never the cause.

Messages name opaque identifiers (subject ids are issued by the identity
service and carry no personal data) but never field values.
"""

from __future__ import annotations

from servinfo.errors import ServinfoError

__all__ = [
    "Conflict",
    "DuplicateOrganization",
    "DuplicatePrincipal",
    "DuplicateSubject",
    "InvalidRecord",
    "LastAdministrator",
    "NotFound",
    "PayloadTooLarge",
    "PolicyVersionConflict",
    "RecordNotFound",
    "StoreError",
    "SubjectErased",
    "UnknownOrganization",
    "UnknownPolicyVersion",
    "UnknownPrincipal",
    "UnknownRegion",
    "UnknownSubject",
]


class StoreError(ServinfoError):
    """Base class of the store's errors."""

    code = "store_error"
    http_status = 500


class NotFound(StoreError):
    """Something the caller named does not exist."""

    code = "not_found"
    http_status = 404


class Conflict(StoreError):
    """Something the caller wanted to create already exists."""

    code = "conflict"
    http_status = 409


class UnknownSubject(NotFound):
    """The subject is not in the directory: register it before writing its records."""

    code = "unknown_subject"
    http_status = 404

    def __init__(self, subject_id: str) -> None:
        super().__init__(
            f"unknown subject {subject_id!r}; register it in the subject directory first"
        )
        self.subject_id = subject_id


class UnknownOrganization(NotFound):
    """The organization is not in the directory."""

    code = "unknown_organization"
    http_status = 404

    def __init__(self, org_id: str) -> None:
        super().__init__(f"unknown organization {org_id!r}; add it to the directory first")
        self.org_id = org_id


class UnknownRegion(StoreError):
    """A region that this deployment has no database (or no key) for."""

    code = "unknown_region"
    http_status = 400

    def __init__(self, region: str, known: list[str]) -> None:
        super().__init__(f"unknown region {region!r}; expected one of {sorted(known)}")
        self.region = region


class DuplicateSubject(Conflict):
    """A subject id that is already registered."""

    code = "duplicate_subject"

    def __init__(self, subject_id: str) -> None:
        super().__init__(f"subject {subject_id!r} is already registered")
        self.subject_id = subject_id


class DuplicateOrganization(Conflict):
    """An organization id that is already in the directory."""

    code = "duplicate_organization"

    def __init__(self, org_id: str) -> None:
        super().__init__(f"organization {org_id!r} already exists")
        self.org_id = org_id


class DuplicatePrincipal(Conflict):
    """A principal name, or token hash, that is already in use."""

    code = "duplicate_principal"


class LastAdministrator(Conflict):
    """Revoking this principal would leave none whose role may manage principals.

    Nobody could then add, revoke or recover anyone through the API or the CLI:
    the deployment would be locked for good (``servinfo admin recover`` is the
    way back when the last administrator's token is lost, not revoked).
    """

    code = "last_admin"

    def __init__(self, name: str, roles: frozenset[str]) -> None:
        super().__init__(
            f"{name!r} is the last active principal whose role may manage principals "
            f"(roles: {', '.join(sorted(roles))}); add another one first, then revoke this one"
        )
        self.name = name


class UnknownPrincipal(NotFound):
    """No principal with that name."""

    code = "unknown_principal"

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown principal {name!r}")
        self.name = name


class UnknownPolicyVersion(NotFound):
    """No policy version with that name was ever recorded."""

    code = "unknown_policy_version"

    def __init__(self, version: str) -> None:
        super().__init__(f"unknown policy version {version!r}")
        self.version = version


class PolicyVersionConflict(Conflict):
    """A policy version name already recorded with a different document."""

    code = "policy_version_conflict"

    def __init__(self, version: str) -> None:
        super().__init__(
            f"policy version {version!r} was already recorded with a different document; "
            "give the new document a new version"
        )
        self.version = version


class RecordNotFound(NotFound):
    """No record with that id in that region."""

    code = "record_not_found"
    http_status = 404

    def __init__(self, record_id: str, region: str) -> None:
        super().__init__(f"no record {record_id!r} in region {region!r}")
        self.record_id = record_id


class SubjectErased(StoreError):
    """The record's data key was destroyed: its subject has been erased.

    Raised instead of returning anything a destroyed key once protected, so an
    erased record can never come back as garbage or as a partial read.
    """

    code = "subject_erased"
    http_status = 410

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} has been erased; its data keys were destroyed")


class PayloadTooLarge(StoreError):
    """A record's serialized fields are larger than the writer's limit."""

    code = "payload_too_large"
    http_status = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"record payload is {size} bytes, the limit is {limit} bytes; "
            "split the record or raise max_payload_bytes"
        )
        self.size = size
        self.limit = limit


class InvalidRecord(StoreError):
    """A record (or a directory entry) is malformed; the message says which part."""

    code = "invalid_record"
    http_status = 422
