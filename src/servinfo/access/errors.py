"""Errors of the access package::

AccessError          (servinfo.errors.ServinfoError)
├── Unauthenticated  no token, or one that belongs to no active principal (401)
├── Forbidden        authenticated, but the policy does not allow it (403)
├── Denied           a read's decision was deny; carries every reason (403)
├── PurposeRequired  a read named no purpose; lists the declared ones (400)
├── NoSuchSubject    no subject by that id that the caller may read (404)
└── NoSuchRecord     no record by that id that the caller may read (404)

``NoSuchSubject`` and ``NoSuchRecord`` are the one answer for an id that exists
nowhere *and* for one the caller has no standing towards (docs/access.md): their
text is fixed and names no id, so the two cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from servinfo.errors import ServinfoError


class AccessError(ServinfoError):
    code = "access_error"


class Unauthenticated(AccessError):
    code = "unauthenticated"
    http_status = 401


#: What a request that needs a token and sent none is told (the route, or the
#: application's guard before the body is read).
ASK_FOR_BEARER = "send 'Authorization: Bearer <token>'"


class Forbidden(AccessError):
    code = "forbidden"
    http_status = 403


class Denied(AccessError):
    code = "denied"
    http_status = 403

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("denied: " + "; ".join(reasons))
        self.reasons = tuple(reasons)


class PurposeRequired(AccessError):
    code = "purpose_required"

    def __init__(self, declared: Sequence[str]) -> None:
        super().__init__(f"every read names a purpose (declared: {', '.join(declared)})")
        self.declared = tuple(declared)


class NoSuchSubject(AccessError):
    code = "unknown_subject"
    http_status = 404

    def __init__(self) -> None:
        super().__init__("no subject by that id that you may read")


class NoSuchRecord(AccessError):
    code = "record_not_found"
    http_status = 404

    def __init__(self) -> None:
        super().__init__("no record by that id that you may read")
