"""The deployment's side of tlog-witness: ask one witness to cosign a checkpoint.

:class:`WitnessClient` posts an :class:`~servinfo.audit.witness_protocol.AddCheckpointRequest`
to ``<submission prefix>/add-checkpoint`` (``c2sp.org/tlog-witness``) and
returns the cosignature lines of a 200 answer, unverified: the caller checks
them against the witness keys its policy trusts and MUST ignore the others.
Every other outcome is a typed error (below), so the caller can tell "retry
from this size" from "this witness will not cosign" from "this witness is
down".

The witness URL is configuration an operator writes, yet the request goes out
from the deployment's network: a URL that names, or resolves to, an address
inside it (a private range, link-local, the cloud metadata service at
169.254.169.254, a carrier-grade NAT range) would turn the deployment into a
proxy to its own internal services. So before connecting, the client resolves
the host and refuses (:class:`WitnessAddressForbidden`) if any address is not
a public unicast address, loopback excepted (a witness on the same host is a
legitimate test and sidecar set-up), unless the caller passes
``allow_private=True``. The connection then goes to the address that was
checked, not to a second resolution that a rebinding DNS server could answer
differently: the URL's host is replaced by that address, with the name kept in
the ``Host`` header and as the TLS server name, so certificates are verified
against the name as usual. Redirects are not followed (a redirect is an
answer, and could point anywhere); the answer's body is read up to a bound.

::

    AuditError
    └── WitnessCallFailed         any failed call to a witness
        ├── WitnessConflict       409: the witness's last cosigned size is ``size``
        ├── WitnessRefused        any other answer than 200: ``status``, ``reason``
        │   └── WitnessAnswerInvalid  an answer that breaks the protocol
        ├── WitnessUnavailable    no answer: DNS, connection, timeout
        └── WitnessAddressForbidden  the URL or its address is refused before connecting
"""

from __future__ import annotations

from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import httpx

from servinfo.audit.errors import AuditError
from servinfo.audit.note import NoteSignature
from servinfo.audit.witness_protocol import (
    ADD_CHECKPOINT_PATH,
    MAX_RESPONSE_SIZE,
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    parse_cosignatures,
    parse_size_conflict,
)
from servinfo.outbound import (
    Refused,
    Resolver,
    Unresolved,
    address_refusal,
    checked_addresses,
    pinned,
    system_resolver,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES",
    "Resolver",
    "WitnessAddressForbidden",
    "WitnessAnswerInvalid",
    "WitnessCallFailed",
    "WitnessClient",
    "WitnessConflict",
    "WitnessRefused",
    "WitnessUnavailable",
    "address_forbidden",
    "system_resolver",
]

#: Seconds allowed for connecting, and for each read and write.
DEFAULT_TIMEOUT = 10.0
#: The largest answer read: as many cosignature lines as a note may carry.
MAX_ANSWER_BYTES = MAX_RESPONSE_SIZE
_REASON_CHARS = 200


class WitnessCallFailed(AuditError):
    """Base class of the failures of a call to a witness."""

    code = "witness_call_failed"
    http_status = 502


class WitnessConflict(WitnessCallFailed):
    """The witness last cosigned another size (409): retry with a proof from ``size``."""

    code = "witness_conflict"

    def __init__(self, size: int) -> None:
        super().__init__(f"the witness last cosigned size {size}: send a proof from it")
        self.size = size


class WitnessRefused(WitnessCallFailed):
    """The witness answered with a status other than 200 and 409."""

    code = "witness_refused"

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"the witness answered {status}: {reason}")
        self.status = status
        self.reason = reason


class WitnessAnswerInvalid(WitnessRefused):
    """The witness's answer breaks the protocol (body, media type or size)."""

    code = "witness_answer_invalid"


class WitnessUnavailable(WitnessCallFailed):
    """The witness could not be reached or did not answer in time."""

    code = "witness_unavailable"
    http_status = 503


class WitnessAddressForbidden(WitnessCallFailed):
    """The witness URL is not usable, or its host resolves to an address refused by default."""

    code = "witness_address_forbidden"
    http_status = 400


def address_forbidden(address: str) -> str | None:
    """Why ``address`` may not be a witness's by default, or ``None`` if it may.

    Loopback is allowed; otherwise only global unicast addresses are (see
    :func:`servinfo.outbound.address_refusal`).
    """
    return address_refusal(address, loopback=True)


class WitnessClient:
    """A connection to one witness, identified by its submission prefix URL.

    ``timeout`` bounds connecting and each read and write, in seconds.
    ``allow_private`` lets the URL resolve to private and link-local addresses
    (a witness inside the operator's own network). ``resolver`` and
    ``transport`` are for tests: a fake resolver, an in-process transport.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WitnessAddressForbidden(
                f"a witness URL is http(s)://host[:port][/prefix], got {url!r}"
            )
        if parts.username is not None or parts.password is not None:
            raise WitnessAddressForbidden("a witness URL carries no user name or password")
        if parts.query or parts.fragment:
            raise WitnessAddressForbidden("a witness URL has no query and no fragment")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise WitnessAddressForbidden(f"the port of {url!r} is not valid") from None
        self.url = url
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = port
        self._netloc = parts.netloc
        self._path = parts.path.rstrip("/") + ADD_CHECKPOINT_PATH
        self._allow_private = allow_private
        self._resolver = resolver
        self._max_answer_bytes = max_answer_bytes
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            trust_env=False,  # a proxy would connect to the address, not this client
        )

    def add_checkpoint(self, request: AddCheckpointRequest) -> list[NoteSignature]:
        """Submit ``request``; the witness's cosignature lines (not verified here).

        Raises :class:`WitnessConflict` (409, with the witness's size),
        :class:`WitnessRefused` (any other status), :class:`WitnessUnavailable`
        (no answer) or :class:`WitnessAddressForbidden` (refused before connecting).
        """
        target, headers, extensions = self._target()
        try:
            with self._http.stream(
                "POST",
                target,
                content=request.to_bytes(),
                headers=headers,
                extensions=extensions,
            ) as response:
                status = response.status_code
                media_type = response.headers.get("content-type", "").split(";")[0].strip()
                body = self._read(response)
        except httpx.TransportError as error:
            raise WitnessUnavailable(
                f"no answer from the witness at {self._netloc}: {type(error).__name__}"
            ) from None
        return self._answer(status, media_type, body)

    def _target(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """The URL to connect to, and the headers and extensions that keep the host's name."""
        plain = f"{self._scheme}://{self._netloc}{self._path}"
        if self._allow_private:
            return plain, {}, {}
        # An address in the URL is checked as it is, not looked up; loopback is allowed
        # (address_forbidden).
        try:
            addresses = checked_addresses(self._host, self._port, self._resolver, loopback=True)
        except Unresolved as unresolved:
            cause = unresolved.cause
            raise WitnessUnavailable(
                f"cannot resolve {self._host!r}: {cause}"
                if cause
                else f"{self._host!r} resolves to no address"
            ) from None
        except Refused as refused:
            raise WitnessAddressForbidden(
                f"witness {self._host!r} refused: {refused}; a witness inside the "
                "operator's own network must be allowed explicitly"
            ) from None
        target = pinned(
            self._scheme, self._host, self._port, self._netloc, self._path, addresses[0]
        )
        return target.url, target.headers, target.extensions

    def _read(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > self._max_answer_bytes:
                raise WitnessAnswerInvalid(
                    response.status_code,
                    f"the answer exceeds {self._max_answer_bytes} bytes",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _answer(self, status: int, media_type: str, body: bytes) -> list[NoteSignature]:
        if status == httpx.codes.OK:
            try:
                signatures = parse_cosignatures(body)
            except AuditError as error:
                raise WitnessAnswerInvalid(
                    status, f"not cosignature lines: {error.message}"
                ) from None
            if not signatures:
                raise WitnessAnswerInvalid(status, "no cosignature in the answer")
            return signatures
        if status == httpx.codes.CONFLICT:
            if media_type != SIZE_CONTENT_TYPE:
                raise WitnessAnswerInvalid(
                    status, f"expected media type {SIZE_CONTENT_TYPE}, got {media_type!r}"
                )
            try:
                size = parse_size_conflict(body)
            except AuditError as error:
                raise WitnessAnswerInvalid(status, f"not a tree size: {error.message}") from None
            raise WitnessConflict(size)
        raise WitnessRefused(status, _reason(body))

    def close(self) -> None:
        """Close the connections kept alive."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _reason(body: bytes) -> str:
    """The first line of an error answer, printable and short (it comes from outside)."""
    line = body.decode("utf-8", "replace").split("\n", 1)[0].strip()
    shown = "".join(c if c.isprintable() else "?" for c in line[:_REASON_CHARS])
    return shown or "(no reason given)"
