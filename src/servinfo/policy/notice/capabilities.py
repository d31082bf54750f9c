"""What this build of servinfo has, so that the notice promises nothing it lacks.

DESIGN: "a statement whose enforcement does not exist in the build is not
rendered". A notice statement about a tool or a measure declares the
:class:`Capability` it depends on (``Statement.requires``); the notice is built
for a set of capabilities, :data:`BUILD_CAPABILITIES` unless told otherwise, and
every statement that requires one outside the set is left out, in Markdown and
HTML alike.

:data:`BUILD_CAPABILITIES` is the one registry: a capability goes in when its
code ships, in the same change. What the law requires the notice to say (the
rights, the supervisory authority, the DPO's contact, the transfers) never
depends on a capability.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BUILD_CAPABILITIES", "Capability"]


class Capability(StrEnum):
    #: A web portal where account holders see, download, correct and erase their data.
    SELF_SERVICE_PORTAL = "self_service_portal"
    #: The HTTP API through which an account holder opens requests of every type for itself
    #: (``POST /v1/requests``, :mod:`servinfo.rights.routes`).
    RIGHTS_API = "rights_api"
    #: Backups sealed under their own key, destroyed when the policy's backup period ends,
    #: and restores that re-apply every erasure (:mod:`servinfo.retention.backup`).
    EXPIRING_BACKUPS = "expiring_backups"


#: The capabilities this build has. The self-service portal (``servinfo.web``) does not exist yet.
BUILD_CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.RIGHTS_API, Capability.EXPIRING_BACKUPS}
)
