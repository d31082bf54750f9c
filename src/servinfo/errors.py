"""The root of servinfo's exceptions.

Every domain package raises subclasses of :class:`ServinfoError`::

    ServinfoError
    ├── policy.PolicyError            the policy file cannot be loaded or is invalid
    ├── crypto.CryptoError            keyring, key source and envelope failures
    └── …                             one subtree per domain package

Each error carries a short machine-readable ``code`` (the API's ``error`` field)
and a message that says what was wrong and what to do. The CLI prints the
message on one line and exits 2; the API maps the error to a 4xx answer.
Messages never contain secrets, keys or personal data in clear.
"""

from __future__ import annotations


class ServinfoError(Exception):
    """Base class of every error servinfo raises on purpose."""

    code: str = "servinfo_error"
    #: The HTTP status the API answers with when this error reaches it.
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def diagnostics(self) -> str:
        """The text the CLI shows: one line, or several for a list of problems."""
        return self.message
