"""The identities a person knows — e-mail address, phone number, username — and finding
subjects by them.

A person exercises their rights with what they know, never with servinfo's
opaque subject id. The policy declares which account fields are identifiers
(``identifiers:``, :class:`servinfo.policy.model.IdentifierSpec`); ingest writes
a keyed blind index of each one's canonical form beside the record (column
``identifier:<name>``), and every path that deletes, rectifies or erases the
record removes or replaces it with the record's other indexes.

One normalisation serves registration (ingest's field types) and lookup:

* e-mail (RFC 5321/6531 with IDNA 2008, UTS #46): the local part exactly as
  given (it is the receiving domain's to interpret), the domain lower-cased and
  IDNA-encoded (``Bücher.DE`` → ``xn--bcher-kva.de``);
* phone: E.164 through ``phonenumbers`` (``030 1234567`` in Germany →
  ``+49301234567``); a national number needs a default region;
* username: NFKC, trimmed, case-folded (:func:`servinfo.crypto.normalize_identifier`).

Invalid input raises :class:`InvalidIdentifier`, whose message never repeats the
value (it is personal data).

:class:`SubjectFinder` answers "which subjects have this identifier": permission-
checked (``handle_requests``: the people who answer requests), limited to the
regions of the caller's role, audited (the identifier's name and the count,
never its value; an entry about each subject found), and it returns ids only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import idna
import phonenumbers
from sqlalchemy import Engine

from servinfo.access.errors import AccessError
from servinfo.access.maintenance import FreeTextReader
from servinfo.access.principals import PrincipalService
from servinfo.audit import AuditSink
from servinfo.crypto import BLIND_INDEX, BlindIndexer, Keyring, normalize_identifier
from servinfo.policy import Policy
from servinfo.store import Principal, RecordWriter, SubjectDirectory
from servinfo.store.reading import subjects_by_identifier

__all__ = [
    "BACKFILL_PERMISSION",
    "FIND_PERMISSION",
    "IdentifierBackfill",
    "IdentifierKind",
    "IdentifierSpecs",
    "InvalidIdentifier",
    "SubjectFinder",
    "canonical_identifiers",
    "identifier_fields",
    "normalise",
    "normalise_email",
    "normalise_phone",
    "normalise_username",
]

#: The identifiers every shipped policy declares; a policy may declare more.
IdentifierKind = Literal["email", "phone", "username"]
#: Who may find subjects by what they know: those who answer their requests.
FIND_PERMISSION = "handle_requests"
#: Who may write the identifier indexes of records stored before: key maintenance.
BACKFILL_PERMISSION = "rotate_keys"
#: RFC 5321: 64 octets of local part, 254 of address (its 256 less the angle brackets).
_MAX_LOCAL = 64
_MAX_ADDRESS = 254
_MAX_USERNAME = 128
#: A dot-atom local part (no quoted strings): RFC 5322 atext, plus any non-ASCII
#: character (RFC 6531's UTF8-non-ascii), with no control characters or spaces.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]"
_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_NOT_LOCAL = re.compile(r"[\x00-\x20\x7f\u0085\u00a0\u2028\u2029]")
#: An IDNA-encoded host name with a top-level label of letters (or an A-label).
_DOMAIN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)


class InvalidIdentifier(AccessError):
    code = "invalid_identifier"
    http_status = 400


def normalise_email(text: object) -> str:
    """``text`` as an e-mail address in canonical form, or :class:`InvalidIdentifier`."""
    if not isinstance(text, str):
        raise InvalidIdentifier(f"e-mail address: expected text, got {type(text).__name__}")
    address = text.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidIdentifier("e-mail address: expected <local part>@<domain>")
    if (
        len(local.encode("utf-8")) > _MAX_LOCAL
        or _NOT_LOCAL.search(local)
        or not _LOCAL.fullmatch(local)
    ):
        raise InvalidIdentifier(
            "e-mail address: the part before '@' is not a valid local part "
            f"(dot-separated, no spaces or quotes, at most {_MAX_LOCAL} bytes)"
        )
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidIdentifier(
            "e-mail address: the part after '@' is not a valid domain name (IDNA 2008)"
        ) from None
    if not _DOMAIN.fullmatch(ascii_domain):
        raise InvalidIdentifier(
            "e-mail address: the domain needs a dot and a top-level label (example.org)"
        )
    canonical = f"{local}@{ascii_domain}"
    if len(canonical.encode("utf-8")) > _MAX_ADDRESS:
        raise InvalidIdentifier(f"e-mail address: longer than {_MAX_ADDRESS} bytes")
    return canonical


def normalise_phone(text: object, default_region: str | None = None) -> str:
    """``text`` as an E.164 number (``+49301234567``); :class:`InvalidIdentifier` if it is not
    a valid number. A number without ``+`` is read as national to ``default_region``
    (ISO 3166-1 alpha-2), and refused without one."""
    if not isinstance(text, str):
        raise InvalidIdentifier(f"phone number: expected text, got {type(text).__name__}")
    number_text = text.strip()
    region = None
    if not number_text.startswith("+"):
        if default_region is None:
            raise InvalidIdentifier(
                "phone number: not in international form (+<country code><number>); "
                "give the country for a national number"
            )
        region = default_region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidIdentifier(
                f"phone number: region {default_region!r} is not an ISO 3166-1 alpha-2 code "
                "phonenumbers knows (e.g. DE, GB, US)"
            )
    try:
        number = phonenumbers.parse(number_text, region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("phone number: not a telephone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(
            "phone number: not a valid number (wrong length or no such range for its country)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_username(text: object) -> str:
    """``text`` as a username in canonical form: NFKC, trimmed, case-folded."""
    if not isinstance(text, str):
        raise InvalidIdentifier(f"username: expected text, got {type(text).__name__}")
    name = normalize_identifier(text)
    if not name or len(name) > _MAX_USERNAME or _NOT_LOCAL.search(name.strip()):
        raise InvalidIdentifier(
            f"username: expected 1 to {_MAX_USERNAME} characters without control characters"
        )
    return name


def normalise(kind: str, text: object, *, default_region: str | None = None) -> str:
    """The canonical form of ``text`` as an identifier of type ``kind``."""
    if kind == "email":
        return normalise_email(text)
    if kind == "phone":
        return normalise_phone(text, default_region)
    if kind == "username":
        return normalise_username(text)
    raise InvalidIdentifier(f"identifier type {kind!r} is unknown; expected email, phone, username")


#: Per kind id, the identifiers its records carry: (identifier name, field, type).
IdentifierSpecs = Mapping[str, tuple[tuple[str, str, str], ...]]


def identifier_fields(policy: Policy) -> dict[str, tuple[tuple[str, str, str], ...]]:
    """The identifiers of each kind, from the policy's ``identifiers:``."""
    by_kind: dict[str, list[tuple[str, str, str]]] = {}
    for name, spec in policy.identifiers.items():
        for path in spec.fields:
            kind_id, _, field = path.rpartition(".")
            by_kind.setdefault(kind_id, []).append((name, field, spec.type))
    return {kind_id: tuple(specs) for kind_id, specs in by_kind.items()}


def canonical_identifiers(
    specs: tuple[tuple[str, str, str], ...],
    fields: Mapping[str, Any],
    *,
    default_region: str | None = None,
) -> dict[str, str]:
    """The identifiers a record with ``fields`` carries, canonical, by name.

    Absent and empty fields carry none; an invalid value raises (ingest has
    already refused it through the field's type, so that means a caller's bug).
    """
    found: dict[str, str] = {}
    for name, field, kind in specs:
        value = fields.get(field)
        if isinstance(value, str) and value.strip():
            found[name] = normalise(kind, value, default_region=default_region)
    return found


class SubjectFinder:
    """Subjects by an identifier they know: ids only, permission-checked and audited."""

    def __init__(
        self,
        directory: SubjectDirectory,
        region_engines: Mapping[str, Engine],
        keyring: Keyring,
        principals: PrincipalService,
        policy: Callable[[], Policy],
        audit: AuditSink,
    ) -> None:
        self._directory = directory
        self._engines = dict(region_engines)
        self._indexer = BlindIndexer(keyring.current(BLIND_INDEX))
        self._principals = principals
        # A provider: the identifiers the active policy declares, after a reload too.
        self._policy = policy
        self._audit = audit

    def find_subjects(
        self,
        kind: str,
        value: str,
        *,
        principal: Principal,
        organization: str | None = None,
        default_region: str | None = None,
    ) -> list[str]:
        """The ids of the subjects not erased whose identifier ``kind`` is ``value``
        (normalised first), in the regions of the principal's role; sorted.

        ``organization`` keeps those of one organization (one address may hold
        accounts in several). Several ids mean the identifier is ambiguous: the
        caller must choose, never this function.
        """
        self._principals.require_permission(principal, FIND_PERMISSION)
        canonical = self.canonical(kind, value, default_region=default_region)
        regions = set(self._policy().roles[principal.role].regions) & set(self._engines)
        found = subjects_by_identifier(
            {r: self._engines[r] for r in regions}, self._indexer, kind, canonical
        )
        subjects = self._directory.subjects(list(found))
        ids = sorted(
            subject_id
            for subject_id, subject in subjects.items()
            if not subject.erased
            and subject.home_region in regions
            and (organization is None or subject.org_id == organization)
        )
        details: dict[str, Any] = {"identifier": kind, "count": len(ids)}
        if organization is not None:
            details["organization"] = organization
        if not ids:
            self._audit.record(
                "subjects_found", actor=principal.name, outcome="none", details=details
            )
        for subject_id in ids:
            self._audit.record(
                "subjects_found",
                actor=principal.name,
                subject_id=subject_id,
                outcome="found",
                details=details,
            )
        return ids

    def canonical(self, kind: str, value: str, *, default_region: str | None = None) -> str:
        """``value`` in the canonical form of the policy's identifier ``kind``."""
        identifiers = self._policy().identifiers
        spec = identifiers.get(kind)
        if spec is None:
            declared = ", ".join(sorted(identifiers)) or "none"
            raise InvalidIdentifier(
                f"identifier {kind!r} is not declared by the policy (declared: {declared})"
            )
        return normalise(spec.type, value, default_region=default_region)

    def matches(self, subject_id: str, kind: str, canonical: str) -> bool:
        """Whether ``subject_id`` carries an identifier of type ``kind`` (``email``,
        ``phone`` …) whose value is ``canonical`` (already normalised). For the request
        machinery's own checks, unaudited: it tells the caller nothing but whether to
        send a code to the address the person typed."""
        names = [n for n, spec in self._policy().identifiers.items() if spec.type == kind]
        return any(
            subject_id in subjects_by_identifier(self._engines, self._indexer, name, canonical)
            for name in names
        )


class IdentifierBackfill:
    """Writes the identifier indexes of records stored before their kind declared any
    (an upgrade, or a policy that adds an identifier), from the records themselves.

    Maintenance, like re-redaction: the records are read by the access layer's
    maintenance reader (:class:`servinfo.access.maintenance.FreeTextReader`), for no
    purpose, and nothing read leaves the process but the keyed indexes. Needs the
    ``rotate_keys`` permission (keyed indexes are key material's work); one audit entry
    per run, counts only. A rerun writes the same indexes again.
    """

    def __init__(
        self,
        reader: FreeTextReader,
        writer: RecordWriter,
        directory: SubjectDirectory,
        principals: PrincipalService,
        policy: Callable[[], Policy],
        audit: AuditSink,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._directory = directory
        self._principals = principals
        self._policy = policy
        self._audit = audit

    def run(self, principal: Principal, regions: Iterable[str]) -> dict[str, int]:
        """Index every readable record of a kind with identifiers in ``regions``; counts of
        records indexed and of values that are no valid identifier (left unindexed)."""
        self._principals.require_permission(principal, BACKFILL_PERMISSION)
        specs = identifier_fields(self._policy())
        counts = {"records": 0, "invalid": 0}
        countries: dict[str, str | None] = {}
        done = sorted(regions)
        for region in done:
            for record in self._reader.records(region, sorted(specs)):
                if record.subject_id not in countries:
                    country = self._directory.get_subject(record.subject_id).jurisdiction[:2]
                    known = country.upper() in phonenumbers.SUPPORTED_REGIONS
                    countries[record.subject_id] = country.upper() if known else None
                found: dict[str, str] = {}
                for name, field, kind in specs[record.kind]:
                    value = record.fields.get(field)
                    if not isinstance(value, str) or not value.strip():
                        continue
                    try:
                        found[name] = normalise(
                            kind, value, default_region=countries[record.subject_id]
                        )
                    except InvalidIdentifier:
                        counts["invalid"] += 1
                self._writer.set_identifiers(record.record_id, region, record.subject_id, found)
                counts["records"] += 1
        self._audit.record(
            "identifiers_indexed",
            actor=principal.name,
            outcome="indexed",
            details={"regions": ",".join(done), **counts},
        )
        return counts
