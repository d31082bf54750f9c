"""The memoized IP helpers answer exactly as the standard library's ``ipaddress``."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.access.views import (
    IPV4_PREFIX,
    IPV6_PREFIX,
    Views,
    normalize_ip,
    parse_ip,
    truncate_ip,
)
from servinfo.collect.telemetry import TelemetryTreatment
from servinfo.crypto import PSEUDONYM, Keyring, LocalMasterKeyWrapper, Pseudonymizer
from servinfo.policy import load_policy


def _spellings(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> st.SearchStrategy[str]:
    return st.sampled_from([str(address), address.exploded, address.exploded.upper()])


#: Addresses as senders write them, and text that is almost or not at all an address.
_TEXTS = (
    st.ip_addresses().flatmap(_spellings)
    | st.ip_addresses(v=6).map(lambda a: f"{a}%eth0")
    | st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}")
    | st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,4}){0,4}", fullmatch=True)
    | st.text(alphabet="0123456789abcdefABCDEF:.%/ x", max_size=45)
    | st.text(max_size=12)
)


def _normalized_by_ipaddress(text: str) -> str | None:
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def _normalized(text: str) -> str | None:
    try:
        return normalize_ip(text)
    except ValueError:
        return None


@given(_TEXTS)
def test_normalize_ip_is_the_compressed_address(text: str) -> None:
    expected = _normalized_by_ipaddress(text)
    assert _normalized(text) == expected
    assert _normalized(text) == expected  # memoized now, or not memoized when invalid


@given(_TEXTS)
def test_truncate_ip_answers_as_without_its_memo(text: str) -> None:
    expected = truncate_ip.__wrapped__(text)
    assert truncate_ip(text) == expected
    assert truncate_ip(text) == expected


@given(_TEXTS | _TEXTS.map(lambda text: f"{text}/16") | _TEXTS.map(lambda text: f"{text}/64"))
def test_truncate_ip_is_the_network_ipaddress_names(text: str) -> None:
    address_text, slash, length = text.partition("/")
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        assert truncate_ip(text) == "<invalid address>"
        return
    if getattr(address, "scope_id", None):
        address = type(address)(int(address))  # a network has no scope
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    if slash:  # a network: a prefix length in decimal, never widened past the view's
        if not (length.isascii() and length.isdigit()) or int(length) > address.max_prefixlen:
            assert truncate_ip(text) == "<invalid address>"
            return
        prefix = min(prefix, int(length))
    assert truncate_ip(text) == str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@pytest.mark.parametrize("text", ["203.0.113.07", "203.0.113", "2001:db8::1::1", "", " 1.2.3.4"])
def test_invalid_text_is_refused_every_time(text: str) -> None:
    for _ in range(2):
        with pytest.raises(ipaddress.AddressValueError):
            normalize_ip(text)
        with pytest.raises(ipaddress.AddressValueError):
            parse_ip(text)
        assert truncate_ip(text) == "<invalid address>"


# -- what the improvement purposes see of an address stored truncated ----------------


@pytest.fixture(scope="module")
def views_and_treatment(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Views, TelemetryTreatment]:
    keyring = Keyring.create(
        tmp_path_factory.mktemp("keys") / "keyring.json",
        LocalMasterKeyWrapper(bytes(range(32))),
        regions=["eu"],
    )
    return Views(load_policy(), Pseudonymizer(keyring.current(PSEUDONYM))), TelemetryTreatment(
        keyring
    )


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("203.0.113.77", "203.0.113.0/24"), ("2001:db8:abcd:12::1", "2001:db8:abcd::/48")],
)
def test_improve_service_shows_the_network_of_an_address_truncated_at_ingest(
    views_and_treatment: tuple[Views, TelemetryTreatment], sent: str, shown: str
) -> None:
    views, treatment = views_and_treatment
    stored: dict[str, object] = {"event": "login_success", "ip_address": sent}
    treatment.apply(stored, ("ip_address",), ())  # what ingest keeps: the network only
    assert stored["ip_address"] == shown
    seen = views.apply("improve_service", "telemetry.auth_event", stored)
    assert seen["ip_address"] == shown


@pytest.mark.parametrize(
    ("network", "shown"),
    [
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("203.0.113.128/25", "203.0.113.0/24"),  # a longer prefix is cut to the /24
        ("198.51.0.0/16", "198.51.0.0/16"),  # a shorter one already says less: kept
        ("2001:db8:abcd::/48", "2001:db8:abcd::/48"),
        ("2001:db8:abcd:12::/64", "2001:db8:abcd::/48"),
    ],
)
def test_truncate_ip_accepts_a_network_and_never_widens_what_it_shows(
    network: str, shown: str
) -> None:
    assert truncate_ip(network) == shown


@given(st.ip_addresses())
def test_truncating_twice_is_truncating_once(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    once = truncate_ip(str(address))
    assert truncate_ip(once) == once
