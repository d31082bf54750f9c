"""WitnessClient: typed outcomes of each answer, and no connection to a refused address.

The transport is httpx's in-process fake (``httpx.MockTransport``): it records
each request, so a test can show that a refused address was never contacted.
Resolvers are injected; nothing here resolves a name or opens a socket.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from tests.witness.support import SyntheticLog

from servinfo.audit.note import NoteSignature
from servinfo.audit.witness_client import (
    MAX_ANSWER_BYTES,
    Resolver,
    WitnessAddressForbidden,
    WitnessAnswerInvalid,
    WitnessClient,
    WitnessConflict,
    WitnessRefused,
    WitnessUnavailable,
    address_forbidden,
)
from servinfo.audit.witness_protocol import AddCheckpointRequest, format_cosignatures

SIGNATURE = NoteSignature("witness.example/w1", b"\x01\x02\x03\x04", b"s" * 72)


class Recorder:
    """A fake witness: answers every request with one canned response, and keeps the requests."""

    def __init__(self, status: int = 200, body: bytes = b"", media_type: str = "text/plain"):
        self.requests: list[httpx.Request] = []
        self.status, self.body, self.media_type = status, body, media_type

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            self.status, content=self.body, headers={"content-type": self.media_type}
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def resolving_to(*addresses: str) -> Callable[[str, int], list[str]]:
    """A fake resolver: every name resolves to ``addresses``."""
    return lambda host, port: list(addresses)


PUBLIC = resolving_to("93.184.216.34")


def _client(
    recorder: Recorder,
    url: str = "https://witness.example/sub",
    *,
    resolver: Resolver = PUBLIC,
    allow_private: bool = False,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> WitnessClient:
    return WitnessClient(
        url,
        transport=recorder.transport(),
        resolver=resolver,
        allow_private=allow_private,
        max_answer_bytes=max_answer_bytes,
    )


@pytest.fixture
def request_() -> AddCheckpointRequest:
    return SyntheticLog().append(4).request(0)


def test_200_returns_the_cosignatures_posted_to_the_pinned_address(
    request_: AddCheckpointRequest,
) -> None:
    recorder = Recorder(200, format_cosignatures([SIGNATURE]))
    with _client(recorder) as client:
        assert client.add_checkpoint(request_) == [SIGNATURE]
    (sent,) = recorder.requests
    assert sent.method == "POST"
    assert str(sent.url) == "https://93.184.216.34/sub/add-checkpoint"
    assert sent.headers["host"] == "witness.example"
    assert sent.extensions["sni_hostname"] == "witness.example"
    assert sent.content == request_.to_bytes()


def test_409_raises_the_witness_size(request_: AddCheckpointRequest) -> None:
    recorder = Recorder(409, b"42\n", "text/x.tlog.size")
    with _client(recorder) as client, pytest.raises(WitnessConflict) as conflict:
        client.add_checkpoint(request_)
    assert conflict.value.size == 42


def test_409_in_another_media_type_breaks_the_protocol(request_: AddCheckpointRequest) -> None:
    recorder = Recorder(409, b"42\n", "text/plain")
    client = _client(recorder)
    with client, pytest.raises(WitnessAnswerInvalid, match=r"text/x\.tlog\.size"):
        client.add_checkpoint(request_)


@pytest.mark.parametrize("status", [400, 403, 404, 422, 500, 503, 301])
def test_any_other_status_is_refused_with_its_reason(
    request_: AddCheckpointRequest, status: int
) -> None:
    recorder = Recorder(status, b"the reason\x1b[31m given\nsecond line\n")
    with _client(recorder) as client, pytest.raises(WitnessRefused) as refused:
        client.add_checkpoint(request_)
    assert refused.value.status == status
    assert refused.value.reason == "the reason?[31m given"


@pytest.mark.parametrize("body", [b"", b"not a signature line\n", b"\xff\n"])
def test_a_200_without_cosignature_lines_breaks_the_protocol(
    request_: AddCheckpointRequest, body: bytes
) -> None:
    with _client(Recorder(200, body)) as client, pytest.raises(WitnessAnswerInvalid):
        client.add_checkpoint(request_)


def test_an_answer_past_the_bound_is_not_read_to_its_end(request_: AddCheckpointRequest) -> None:
    recorder = Recorder(200, b"x" * 5000)
    client = _client(recorder, max_answer_bytes=1000)
    with client, pytest.raises(WitnessAnswerInvalid, match="exceeds 1000 bytes"):
        client.add_checkpoint(request_)


def test_a_network_failure_is_unavailable(request_: AddCheckpointRequest) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = WitnessClient(
        "http://witness.example",
        resolver=PUBLIC,
        transport=httpx.MockTransport(refuse),
    )
    with client, pytest.raises(WitnessUnavailable, match="ConnectError"):
        client.add_checkpoint(request_)


def test_a_name_that_does_not_resolve_is_unavailable(request_: AddCheckpointRequest) -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    recorder = Recorder()
    client = _client(recorder, resolver=fail)
    with client, pytest.raises(WitnessUnavailable, match="cannot resolve"):
        client.add_checkpoint(request_)
    assert recorder.requests == []


@pytest.mark.parametrize(
    "addresses",
    [
        ("10.0.0.5",),
        ("172.16.3.4",),
        ("192.168.1.1",),
        ("169.254.169.254",),  # the cloud metadata service
        ("100.100.100.200",),  # a metadata service in carrier-grade NAT space
        ("fd00:ec2::254",),  # the IPv6 metadata service (unique local)
        ("fe80::1%eth0",),
        ("::ffff:10.0.0.1",),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe",),  # NAT64 of 169.254.169.254
        ("0.0.0.0",),  # noqa: S104 - an address refused, not bound
        ("93.184.216.34", "10.0.0.5"),  # one bad address among good ones
    ],
)
def test_a_host_resolving_to_an_internal_address_is_refused_before_connecting(
    request_: AddCheckpointRequest, addresses: tuple[str, ...]
) -> None:
    recorder = Recorder()
    client = _client(recorder, resolver=resolving_to(*addresses))
    with client, pytest.raises(WitnessAddressForbidden, match="refused"):
        client.add_checkpoint(request_)
    assert recorder.requests == []


def test_an_internal_address_in_the_url_itself_is_refused(request_: AddCheckpointRequest) -> None:
    recorder = Recorder()

    def must_not_resolve(host: str, port: int) -> list[str]:
        raise AssertionError("an address literal is not looked up")

    client = _client(recorder, "http://169.254.169.254/", resolver=must_not_resolve)
    with client, pytest.raises(WitnessAddressForbidden):
        client.add_checkpoint(request_)
    assert recorder.requests == []


def test_loopback_is_allowed(request_: AddCheckpointRequest) -> None:
    recorder = Recorder(200, format_cosignatures([SIGNATURE]))
    with _client(recorder, "http://localhost:8081", resolver=resolving_to("127.0.0.1")) as client:
        assert client.add_checkpoint(request_) == [SIGNATURE]
    assert str(recorder.requests[0].url) == "http://127.0.0.1:8081/add-checkpoint"


def test_private_addresses_pass_when_the_caller_allows_them(request_: AddCheckpointRequest) -> None:
    recorder = Recorder(200, format_cosignatures([SIGNATURE]))
    with _client(
        recorder,
        "http://witness.internal:8081",
        resolver=resolving_to("10.0.0.5"),
        allow_private=True,
    ) as client:
        assert client.add_checkpoint(request_) == [SIGNATURE]
    assert recorder.requests[0].url.host == "witness.internal"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://witness.example/",
        "witness.example",
        "https://user:secret@witness.example/",
        "https://witness.example/?x=1",
        "https://witness.example:99999/",
    ],
)
def test_urls_that_are_not_a_submission_prefix_are_refused(url: str) -> None:
    with pytest.raises(WitnessAddressForbidden):
        WitnessClient(url, transport=Recorder().transport())


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("10.1.2.3", False),
        ("169.254.0.1", False),
        ("224.0.0.1", False),
        ("192.0.2.1", False),
        ("::ffff:127.0.0.1", True),
    ],
)
def test_address_forbidden(address: str, allowed: bool) -> None:
    assert (address_forbidden(address) is None) is allowed
