"""Data Rights Protocol 1.0 for authorized agents, on servinfo's request workflow.

The spec: https://github.com/consumer-reports-innovation-lab/data-rights-protocol
(``data-rights-protocol.md``, v1.0). servinfo is the Privacy Infrastructure
Provider of one covered business (``business-id``, setting ``drp.business_id``).

Wiring (what ``servinfo.api.app`` and ``servinfo drp …`` do)::

    drp = DrpService.for_deployment(deployment)          # as the drp.* settings say
    drp.agents.register("CR_AA_DRP_ID_001", verify_key, actor="dpo")
    agent, token = drp.agents.pair("CR_AA_DRP_ID_001", signed_setup, now=now)
    status = drp.exercise(drp.agents.authenticate(token), signed_request)
    drp.confirm(status["request_id"], code)               # the consumer, if asked to

The consumer is found by the agent's ``email`` / ``phone_number`` claims
(:mod:`servinfo.rights.drp.matching`); when they do not suffice, the consumer
confirms at :mod:`servinfo.rights.drp.verification`'s page. Status callbacks
are jobs (:mod:`servinfo.rights.drp.callbacks`). HTTP routes are in
:mod:`servinfo.rights.drp.routes`, the command line in
:mod:`servinfo.rights.drp.cli`, errors in :mod:`servinfo.rights.drp.errors`,
tables in :mod:`servinfo.rights.drp.models` (migrated by the rights branch).
"""

from servinfo.rights.drp.agents import AGENT_KIND, AGENT_ROLE, Agent, AgentRegistry
from servinfo.rights.drp.callbacks import (
    CallbackResult,
    CallbackRules,
    CallbackSender,
    HttpxCallbackSender,
)
from servinfo.rights.drp.errors import (
    AgentForbidden,
    AgentMismatch,
    AgentUnauthorized,
    BadSignature,
    DrpError,
    DrpRequestNotFound,
    MalformedMessage,
    MessageExpired,
    MessageTooOld,
    NotRevocable,
    NotYetIssued,
    Replayed,
    RequestMismatch,
    Undecodable,
    UnknownAgent,
    Unsupported,
    WrongBusiness,
)
from servinfo.rights.drp.matching import ClaimMatcher, ClaimPolicy, Match
from servinfo.rights.drp.messages import DRP_VERSION, EXERCISES, Rules
from servinfo.rights.drp.models import DRP_TABLES, drp_metadata
from servinfo.rights.drp.service import DEFAULT_BUSINESS_ID, REQUEST_TYPE_OF, DrpService
from servinfo.rights.drp.status import FINAL_STATUSES, Status

__all__ = [
    "AGENT_KIND",
    "AGENT_ROLE",
    "DEFAULT_BUSINESS_ID",
    "DRP_TABLES",
    "DRP_VERSION",
    "EXERCISES",
    "FINAL_STATUSES",
    "REQUEST_TYPE_OF",
    "Agent",
    "AgentForbidden",
    "AgentMismatch",
    "AgentRegistry",
    "AgentUnauthorized",
    "BadSignature",
    "CallbackResult",
    "CallbackRules",
    "CallbackSender",
    "ClaimMatcher",
    "ClaimPolicy",
    "DrpError",
    "DrpRequestNotFound",
    "DrpService",
    "HttpxCallbackSender",
    "MalformedMessage",
    "Match",
    "MessageExpired",
    "MessageTooOld",
    "NotRevocable",
    "NotYetIssued",
    "Replayed",
    "RequestMismatch",
    "Rules",
    "Status",
    "Undecodable",
    "UnknownAgent",
    "Unsupported",
    "WrongBusiness",
    "drp_metadata",
]
