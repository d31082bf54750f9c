"""Errors of the sharing package::

SharingError               (servinfo.errors.ServinfoError)
├── DisclosureDenied       a basis does not hold: nothing is disclosed (403)
├── InvalidSharingInput    a request's own mistake: a field missing or malformed (422)
├── LegalRequestNotFound   no legal request by that id (404)
└── ReviewConflict         the request is not in a state that allows the step (409)

Each message says what was expected and what was found; none carries a record.
"""

from __future__ import annotations

from servinfo.errors import ServinfoError


class SharingError(ServinfoError):
    code = "sharing_error"


class DisclosureDenied(SharingError):
    code = "disclosure_denied"
    http_status = 403


class InvalidSharingInput(SharingError):
    code = "invalid_sharing_input"
    http_status = 422


class LegalRequestNotFound(SharingError):
    code = "legal_request_not_found"
    http_status = 404

    def __init__(self, request_id: str) -> None:
        super().__init__(f"no legal request {request_id!r}")


class ReviewConflict(SharingError):
    code = "legal_request_conflict"
    http_status = 409
