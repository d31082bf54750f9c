"""The witness's exceptions, one per answer of the tlog-witness protocol.

::

    ServinfoError
    └── WitnessError              any failure of the witness
        ├── RequestMalformed      the request is not an add-checkpoint body (400)
        ├── SignatureRejected     no trusted log signature verifies (403)
        ├── UnknownLog            the witness follows no log of that origin (404)
        ├── SizeConflict          old size is not the size last cosigned; carries it (409)
        ├── Inconsistent          the checkpoint does not extend the one last cosigned (422)
        ├── WitnessBusy           the state stayed locked by other writers: retry (503)
        └── WitnessSetupInvalid   the witness directory, key file or state is missing or bad

The HTTP status of each protocol answer is the one ``c2sp.org/tlog-witness``
prescribes for that case, so :mod:`servinfo.witness.app` maps an error to its answer without
deciding anything. Messages name sizes and origins, never key material.
"""

from __future__ import annotations

from servinfo.errors import ServinfoError

__all__ = [
    "Inconsistent",
    "RequestMalformed",
    "SignatureRejected",
    "SizeConflict",
    "UnknownLog",
    "WitnessBusy",
    "WitnessError",
    "WitnessSetupInvalid",
]


class WitnessError(ServinfoError):
    """Base class of the witness's errors."""

    code = "witness_error"
    http_status = 500


class RequestMalformed(WitnessError):
    """The body is not an add-checkpoint request, or its old size exceeds the checkpoint's."""

    code = "witness_request_malformed"
    http_status = 400


class SignatureRejected(WitnessError):
    """No signature from a key trusted for the origin verifies, or a trusted key's fails."""

    code = "witness_signature_rejected"
    http_status = 403


class UnknownLog(WitnessError):
    """The checkpoint's origin is not a log this witness follows."""

    code = "witness_unknown_log"
    http_status = 404


class SizeConflict(WitnessError):
    """The request's old size is not the size of the checkpoint last cosigned for the origin.

    ``size`` is that size: the client retries from it (the 409 answer's body).
    """

    code = "witness_size_conflict"
    http_status = 409

    def __init__(self, origin: str, old_size: int, size: int) -> None:
        super().__init__(
            f"log {origin!r}: old size {old_size} is not the size last cosigned, {size}"
        )
        self.origin = origin
        self.old_size = old_size
        self.size = size


class Inconsistent(WitnessError):
    """The checkpoint is not an append-only extension of the one last cosigned.

    A bad or missing consistency proof, a different root at the same size, or a
    non-empty tree of size zero: the witness will not cosign it.
    """

    code = "witness_inconsistent"
    http_status = 422


class WitnessBusy(WitnessError):
    """The state database stayed locked by other writers longer than the store waits."""

    code = "witness_busy"
    http_status = 503


class WitnessSetupInvalid(WitnessError):
    """The witness directory, its key file or its state database is missing or unusable."""

    code = "witness_setup_invalid"
    http_status = 500
