"""The rights package's exceptions.

::

    ServinfoError
    └── RightsError                  anything the request machinery refuses            (400)
        ├── InvalidRequest           malformed input: unknown type, bad parameters       (422)
        ├── RequestNotFound          no request (or export) with that id                 (404)
        ├── WrongState               the request is not in a state that allows this      (409)
        ├── FlaggedRequest           flagged as possibly unfounded or excessive:
        │                            an operator decides first                           (409)
        ├── ExtensionRefused         no extension under the regime, or too late, or twice (409)
        ├── VerificationFailed       wrong, expired or used code; wrong principal        (403)
        ├── ExportUnavailable        no export, or it expired                            (410)
        ├── LiftNotAnnounced         a restriction lifted before the subject was told    (409)
        ├── NoSubjectFound           no subject by that identifier that you may find     (404)
        ├── AmbiguousIdentifier      the identifier matches subjects of several
        │                            organizations: name one                             (409)
        ├── DeliveryUnavailable      no sender configured for that channel               (503)
        └── DeliveryFailed           the mail server or provider did not take it         (502)

Messages name request ids, types and policy ids; never a code, a field value
or a reason a caller supplied (they may hold personal data).
"""

from __future__ import annotations

from servinfo.errors import ServinfoError

__all__ = [
    "AmbiguousIdentifier",
    "DeliveryFailed",
    "DeliveryUnavailable",
    "ExportUnavailable",
    "ExtensionRefused",
    "FlaggedRequest",
    "InvalidRequest",
    "LiftNotAnnounced",
    "NoSubjectFound",
    "RequestNotFound",
    "RightsError",
    "VerificationFailed",
    "WrongState",
]


class RightsError(ServinfoError):
    """Base class of the rights package's errors."""

    code = "rights_error"
    http_status = 400


class InvalidRequest(RightsError):
    code = "invalid_request"
    http_status = 422


class RequestNotFound(RightsError):
    code = "request_not_found"
    http_status = 404

    def __init__(self, request_id: str, what: str = "data-subject request") -> None:
        super().__init__(f"no {what} with id {request_id!r}")


class WrongState(RightsError):
    code = "wrong_state"
    http_status = 409

    def __init__(self, request_id: str, state: str, expected: tuple[str, ...], action: str) -> None:
        super().__init__(
            f"request {request_id} is {state!r}; to {action} it must be "
            f"{' or '.join(repr(s) for s in expected)}"
        )


class FlaggedRequest(RightsError):
    code = "flagged_request"
    http_status = 409


class ExtensionRefused(RightsError):
    code = "extension_refused"
    http_status = 409


class VerificationFailed(RightsError):
    code = "verification_failed"
    http_status = 403


class ExportUnavailable(RightsError):
    code = "export_unavailable"
    http_status = 410


class LiftNotAnnounced(RightsError):
    code = "lift_not_announced"
    http_status = 409


class NoSubjectFound(RightsError):
    code = "unknown_subject"
    http_status = 404

    def __init__(self, identifier: str) -> None:
        # The kind of identifier, never its value (personal data).
        super().__init__(f"no subject with that {identifier} that you may find")


class AmbiguousIdentifier(RightsError):
    """One address, several subjects (accounts in several organizations): never guessed."""

    code = "ambiguous_identifier"
    http_status = 409

    def __init__(self, identifier: str, organizations: list[str]) -> None:
        super().__init__(
            f"that {identifier} belongs to accounts in {len(organizations)} organizations "
            f"({', '.join(organizations)}); name the organization the request is for"
        )
        self.organizations = tuple(organizations)


class DeliveryUnavailable(RightsError):
    code = "delivery_unavailable"
    http_status = 503


class DeliveryFailed(RightsError):
    code = "delivery_failed"
    http_status = 502
