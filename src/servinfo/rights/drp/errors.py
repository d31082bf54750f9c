"""The DRP subpackage's exceptions, and the HTTP status each answers with.

::

    RightsError
    └── DrpError                 anything the DRP endpoints refuse                     (400)
        ├── Undecodable          (1) the body is not base64                              (400)
        ├── BadSignature         (2) no valid signature by the agent's verify key        (403)
        ├── AgentMismatch        (3) ``agent-id`` is not the token's agent               (403)
        ├── WrongBusiness        (4) ``business-id`` names another covered business      (403)
        ├── NotYetIssued         (5) ``issued-at`` is in the future: retry later         (400)
        ├── MessageTooOld        (5) ``issued-at`` is older than servinfo accepts (fatal) (400)
        ├── MessageExpired       (6) ``expires-at`` has passed (fatal)                   (400)
        ├── MalformedMessage     the verified message is not the JSON the spec asks for  (400)
        ├── Unsupported          an exercise, regime or version servinfo does not take   (400)
        ├── Replayed             this exact signed message was received before           (409)
        ├── RequestMismatch      a revoke message names another request (fatal)          (403)
        ├── AgentUnauthorized    no bearer token, or not a paired agent's current one    (401)
        ├── AgentForbidden       the token's agent may not do this (another agent's)     (403)
        ├── UnknownAgent         no agent registered with that id                        (404)
        ├── DrpRequestNotFound   no DRP request with that id                             (404)
        └── NotRevocable         the request is no longer open or in progress            (409)

The numbers are the validation steps of DRP 1.0 section 3.07, checked in that
order (see :mod:`servinfo.rights.drp.messages`). ``fatal`` errors are the
spec's non-retryable ones (section 3.06). Messages never repeat a claim's
value beyond ids and timestamps: identity claims are personal data.
"""

from __future__ import annotations

from servinfo.rights.errors import RightsError

__all__ = [
    "AgentForbidden",
    "AgentMismatch",
    "AgentUnauthorized",
    "BadSignature",
    "DrpError",
    "DrpRequestNotFound",
    "MalformedMessage",
    "MessageExpired",
    "MessageTooOld",
    "NotRevocable",
    "NotYetIssued",
    "Replayed",
    "RequestMismatch",
    "Undecodable",
    "UnknownAgent",
    "Unsupported",
    "WrongBusiness",
]


class DrpError(RightsError):
    """Base class of the DRP errors; ``fatal`` when retrying cannot succeed."""

    code = "drp_error"
    http_status = 400
    fatal = False


class Undecodable(DrpError):
    code = "drp_undecodable"


class BadSignature(DrpError):
    code = "drp_bad_signature"
    http_status = 403


class AgentMismatch(DrpError):
    code = "drp_agent_mismatch"
    http_status = 403


class WrongBusiness(DrpError):
    code = "drp_wrong_business"
    http_status = 403
    fatal = True


class NotYetIssued(DrpError):
    code = "drp_not_yet_issued"


class MessageTooOld(DrpError):
    code = "drp_too_old"
    fatal = True


class MessageExpired(DrpError):
    code = "drp_expired"
    fatal = True


class MalformedMessage(DrpError):
    code = "drp_malformed"
    fatal = True


class Unsupported(DrpError):
    code = "drp_unsupported"
    fatal = True


class Replayed(DrpError):
    code = "drp_replayed"
    http_status = 409
    fatal = True


class RequestMismatch(DrpError):
    code = "drp_request_mismatch"
    http_status = 403
    fatal = True


class AgentUnauthorized(DrpError):
    code = "drp_unauthorized"
    http_status = 401


class AgentForbidden(DrpError):
    code = "drp_forbidden"
    http_status = 403


class UnknownAgent(DrpError):
    code = "drp_unknown_agent"
    http_status = 404


class DrpRequestNotFound(DrpError):
    code = "drp_request_not_found"
    http_status = 404


class NotRevocable(DrpError):
    code = "drp_not_revocable"
    http_status = 409
