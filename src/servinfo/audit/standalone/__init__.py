"""The standalone verifier handed to the people servinfo keeps data about.

``verify.py`` checks an access history (inside the access export) or an erasure
receipt with Python and ``cryptography`` alone: it imports nothing from servinfo,
so it is copied as it is into each export, and ``servinfo audit verify-receipt``
imports it as :mod:`servinfo.audit.standalone.verify` to run the very same checks.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["VERIFIER_NAME", "verifier_source"]

#: The verifier's file name, in this package and at the root of an export.
VERIFIER_NAME = "verify.py"


def verifier_source() -> bytes:
    """The bytes of ``verify.py``, to copy into an export as they are."""
    return files(__name__).joinpath(VERIFIER_NAME).read_bytes()
