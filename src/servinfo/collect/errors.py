"""Errors of the collect package (ingest of Service Information).

::

    CollectError                   (servinfo.errors.ServinfoError)
    ├── MalformedJSON              a body or NDJSON line is not JSON (400, names line and column)
    ├── NoSender                   nothing may send a service's objects (a file mixing services)
    ├── InvalidIdempotencyKey      an ``Idempotency-Key`` header that is empty or too long (400)
    ├── SchemaViolation            an object breaks its schema; names the field (422)
    │   ├── UnknownKind            a kind the policy does not declare (422)
    │   ├── UndeclaredField        a field the policy does not declare for the kind (422)
    │   └── CardNumber             a full card number outside free text (422)
    ├── OutOfScope                 Customer and Partner Information (422)
    ├── UnknownSubjectInRecord     a record about a subject nobody registered (422)
    ├── UnknownOrganizationInObject  a subject or organization naming an unknown one (422)
    ├── NotYourKind                the sending service may not write that kind (403)
    │   └── WrongSource            ``source`` names another service than the sender's (403)
    ├── NotRegistrar               only the identity service registers subjects (403)
    ├── RegistrationConflict       an organization or subject registered differently (409)
    ├── RedactionUnavailable       free text arrived but no redaction engine is installed (503)
    ├── IdempotencyKeyReused       the same key with another body (422)
    └── RequestInProgress          the same key is being answered by another worker (409)

Messages name fields and opaque ids, never field values: a refused value may
be exactly the personal data the refusal keeps out.
"""

from __future__ import annotations

from servinfo.errors import ServinfoError

__all__ = [
    "CardNumber",
    "CollectError",
    "IdempotencyKeyReused",
    "InvalidIdempotencyKey",
    "MalformedJSON",
    "NotRegistrar",
    "NotYourKind",
    "OutOfScope",
    "RedactionUnavailable",
    "RegistrationConflict",
    "RequestInProgress",
    "SchemaViolation",
    "UndeclaredField",
    "UnknownKind",
    "UnknownOrganizationInObject",
    "UnknownSubjectInRecord",
    "WrongSource",
]


class CollectError(ServinfoError):
    code = "collect_error"
    http_status = 422


class MalformedJSON(CollectError):
    code = "malformed_json"
    http_status = 400

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


class NoSender(CollectError):
    """No token or principal may send a service's objects (an ingest that mixes services)."""

    code = "no_sender"


class InvalidIdempotencyKey(CollectError):
    code = "invalid_idempotency_key"
    http_status = 400


class SchemaViolation(CollectError):
    """``field`` is a path such as ``fields.ip_address`` or ``collected_at``."""

    code = "schema_violation"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownKind(SchemaViolation):
    code = "unknown_kind"


class UndeclaredField(SchemaViolation):
    code = "undeclared_field"


class CardNumber(SchemaViolation):
    code = "card_number"


class OutOfScope(CollectError):
    code = "out_of_scope"


class UnknownSubjectInRecord(CollectError):
    code = "unknown_subject"

    def __init__(self, subject_id: str) -> None:
        super().__init__(
            f"subject: unknown subject {subject_id!r}; the identity service registers "
            "subjects first (an object of type 'subject')"
        )
        self.subject_id = subject_id


class UnknownOrganizationInObject(CollectError):
    code = "unknown_organization"

    def __init__(self, field: str, org_id: str) -> None:
        super().__init__(
            f"{field}: unknown organization {org_id!r}; register it first "
            "(an object of type 'organization')"
        )


class NotYourKind(CollectError):
    code = "not_your_kind"
    http_status = 403


class WrongSource(NotYourKind):
    code = "wrong_source"


class NotRegistrar(CollectError):
    code = "not_registrar"
    http_status = 403


class RegistrationConflict(CollectError):
    code = "registration_conflict"
    http_status = 409


class RedactionUnavailable(CollectError):
    code = "redaction_unavailable"
    http_status = 503


class IdempotencyKeyReused(CollectError):
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was used with a different request body; "
            "use a new key for a new request"
        )


class RequestInProgress(CollectError):
    code = "in_progress"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "a request with this Idempotency-Key is still being processed; retry shortly"
        )
