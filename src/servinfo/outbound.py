"""Outbound HTTP to URLs that others chose: which addresses may be reached, and how.

servinfo posts to URLs it did not choose — a witness an operator configured, an
authorized agent's status callback. The request leaves from the deployment's
network, so a URL that names, or resolves to, an address inside it (loopback,
a private range, link-local and the cloud metadata service at 169.254.169.254,
carrier-grade NAT, a unique-local IPv6 range such as the metadata service's
``fd00:ec2::254``) would make servinfo a proxy to its own internal services.

:func:`address_refusal` says why an address may not be reached: only global
unicast addresses may, unless the caller allows loopback or lists networks
of its own. An IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64)
reaches that one, and is judged as it. :func:`pinned` builds the request to
the address that was checked, with the host's name kept in the ``Host``
header and as the TLS server name — never a second resolution, which a
rebinding DNS server could answer differently. Callers resolve with a
:data:`Resolver` (:func:`system_resolver`, or a test's own) and refuse unless
*every* address it gives passes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "IPNetwork",
    "Pinned",
    "Refused",
    "Resolver",
    "Unresolved",
    "address_refusal",
    "checked_addresses",
    "parse_networks",
    "pinned",
    "system_resolver",
]

#: ``(host, port) -> the IP addresses it resolves to``, as text.
Resolver = Callable[[str, int], Sequence[str]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for ``host``, each once, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses or networks (``10.0.0.0/8, ::1``); ValueError names a bad one."""
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"expected an IP address or network, got {item!r}") from None
    return tuple(networks)


def _reached(address: str) -> _IPAddress:
    """The address a connection to ``address`` reaches (the IPv4 inside mapped and NAT64)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_refusal(
    address: str, *, loopback: bool = False, allowed: Iterable[IPNetwork] = ()
) -> str | None:
    """Why ``address`` may not be reached, or ``None`` if it may.

    Global unicast addresses may; loopback too when ``loopback``; any address
    in ``allowed`` (an operator's list) too. Not an IP address: refused.
    """
    try:
        ip = _reached(address)
    except ValueError:
        return f"{address!r} is not an IP address"
    if any(ip.version == network.version and ip in network for network in allowed):
        return None
    if ip.is_loopback:
        return None if loopback else f"{address} is a loopback address"
    if ip.is_link_local:
        return f"{address} is link-local (the metadata service's range)"
    if ip.is_multicast or ip.is_unspecified:
        return f"{address} is not a unicast address"
    if ip.is_private:
        return f"{address} is a private address"
    if not ip.is_global:
        return f"{address} is not a public unicast address"
    return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Unresolved(Exception):
    """The host has no address now (the resolver failed, or gave none): try again later."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__(f"{type(cause).__name__}" if cause else "no address")
        self.cause = cause


class Refused(Exception):
    """An address the host names or resolves to may not be reached; the reason is the text."""


def checked_addresses(
    host: str,
    port: int,
    resolver: Resolver,
    *,
    loopback: bool = False,
    allowed: Iterable[IPNetwork] = (),
) -> list[str]:
    """The addresses a request to ``host`` may go to: ``host`` itself if it is an address
    (never looked up), else every address ``resolver`` gives — refused
    (:class:`Refused`) unless each one passes :func:`address_refusal`."""
    if _is_address(host):
        addresses = [host]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as error:  # idna refuses some names with UnicodeError
            raise Unresolved(error) from None
        if not addresses:
            raise Unresolved(None)
    allowed = tuple(allowed)
    for address in addresses:
        reason = address_refusal(address, loopback=loopback, allowed=allowed)
        if reason is not None:
            raise Refused(reason)
    return addresses


@dataclass(frozen=True)
class Pinned:
    """A request aimed at one checked address, named as the URL's host."""

    url: str
    headers: dict[str, str]
    #: httpx request extensions: the TLS server name for https.
    extensions: dict[str, str]


def pinned(scheme: str, host: str, port: int, netloc: str, path: str, address: str) -> Pinned:
    """The request to ``address`` for ``scheme://netloc/path``, TLS checked for ``host``."""
    bare = address.split("%", 1)[0]
    shown = f"[{bare}]" if ":" in bare else bare
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    return Pinned(f"{scheme}://{shown}:{port}{path}", {"Host": netloc}, extensions)
