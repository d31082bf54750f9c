"""Sharing: processors under contract, explicit consent, legal requests — and nothing else.

The notice's "How We Share Service Information" names three ways Service
Information may leave IMS - Network and promises there is no other. This
package is that one way out (docs/sharing.md):

* :mod:`~servinfo.sharing.contracts` — processors, sub-processors and their contracts;
* :mod:`~servinfo.sharing.consents` — what makes a consent to disclosure count;
* :mod:`~servinfo.sharing.legal` — legal requests, their review and scope;
* :mod:`~servinfo.sharing.services` — :class:`SharingService`, which decides a basis,
  issues the grant the read path demands of outside principals
  (:mod:`servinfo.access.grants`), registers the disclosure and packages the data.
"""

from servinfo.sharing.errors import (
    DisclosureDenied,
    InvalidSharingInput,
    LegalRequestNotFound,
    ReviewConflict,
    SharingError,
)
from servinfo.sharing.migrations import SHARING_MIGRATIONS

__all__ = [
    "SHARING_MIGRATIONS",
    "DisclosureDenied",
    "InvalidSharingInput",
    "LegalRequestNotFound",
    "ReviewConflict",
    "SharingError",
]
