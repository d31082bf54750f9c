"""The memoized IP helpers answer exactly as the standard library's ``ipaddress``."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.access.views import IPV4_PREFIX, IPV6_PREFIX, normalize_ip, parse_ip, truncate_ip


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


@given(_TEXTS)
def test_truncate_ip_is_the_network_ipaddress_names(text: str) -> None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        assert truncate_ip(text) == "<invalid address>"
        return
    if getattr(address, "scope_id", None):
        address = type(address)(int(address))  # a network has no scope
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    assert truncate_ip(text) == str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@pytest.mark.parametrize("text", ["203.0.113.07", "203.0.113", "2001:db8::1::1", "", " 1.2.3.4"])
def test_invalid_text_is_refused_every_time(text: str) -> None:
    for _ in range(2):
        with pytest.raises(ipaddress.AddressValueError):
            normalize_ip(text)
        with pytest.raises(ipaddress.AddressValueError):
            parse_ip(text)
        assert truncate_ip(text) == "<invalid address>"
