"""Where webhooks may post: public addresses only, unless the operator allows private ones.

csms posts from inside the operator's network, so a webhook URL naming a loopback, private,
link-local or otherwise non-public address (or csms itself) would let whoever registers webhooks
reach services that the internet cannot, and read from the delivery log which ports answer.
A URL is checked when it is registered and again before every delivery, on the addresses its
host resolves to at that moment (a name may be re-pointed after registration: DNS rebinding);
the delivery then connects to the address that was checked, not to a second lookup.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from csms.services.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(InvalidInput):
    """The URL is malformed, does not resolve, or resolves to an address webhooks may not reach."""


@dataclass(frozen=True, slots=True)
class Purpose:
    """Who checks a URL, for its refusals' words: its name for the URL, what it calls, the setting that allows more."""

    url: str
    callee: str
    setting: str


WEBHOOKS = Purpose("webhook url", "webhooks post to", "CSMS_WEBHOOK_ALLOW_PRIVATE_TARGETS")


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL and the address it resolved to when it was checked."""

    url: httpx.URL
    address: str

    def pinned_url(self) -> httpx.URL:
        """The URL with its host replaced by the checked address: the connection goes there."""
        return self.url.copy_with(host=self.address)

    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")

    def tls_server_name(self) -> str | None:
        """The name TLS must verify the certificate against (and send as SNI), for https by name."""
        if self.url.scheme != "https" or _literal_address(self.url.host) is not None:
            return None
        return self.url.host


def own_hosts(public_url: str) -> frozenset[str]:
    """The names csms answers on itself (its public URL's host), refused as webhook hosts."""
    return frozenset({httpx.URL(public_url).host.lower()} - {""})


def parse_url(url: str, purpose: Purpose = WEBHOOKS) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise TargetRefused(f"this {purpose.url} is malformed: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise TargetRefused(f"a {purpose.url} starts with http:// or https:// and names a host")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise TargetRefused(f"a {purpose.url}'s port is a number from 1 to 65535")
    return parsed


async def check_target(
    url: str, *, allow_private: bool, own_hosts: frozenset[str] = frozenset(), purpose: Purpose = WEBHOOKS
) -> Target:
    """The URL's target, resolved now; TargetRefused unless every address it resolves to is public.

    `own_hosts` are names csms itself answers on (its public URL's host), refused as well.
    """
    parsed = parse_url(url, purpose)
    if not allow_private and parsed.host.lower() in own_hosts:
        raise TargetRefused(
            f"{purpose.url} host {parsed.host} is csms itself (its public URL); an operator may allow it "
            f"with {purpose.setting}"
        )
    addresses = await _resolve(parsed, purpose)
    if not allow_private:
        for address in addresses:
            reason = non_public_reason(address)
            if reason is not None:
                raise TargetRefused(
                    f"{purpose.url} host {parsed.host} resolves to {address}, a {reason} address; {purpose.callee} "
                    f"public addresses only (an operator may allow others with {purpose.setting})"
                )
    return Target(parsed, str(addresses[0]))


def non_public_reason(address: IPAddress) -> str | None:
    """Why a webhook may not post to `address`, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (::ffff:127.0.0.1, 6to4, Teredo) reaches that IPv4 address.
        embedded = address.ipv4_mapped or address.sixtofour or _teredo_client(address)
        if embedded is not None and (reason := non_public_reason(embedded)) is not None:
            return reason
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-global", not address.is_global),
    )
    return next((reason for reason, applies in checks if applies), None)


def _teredo_client(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    teredo = address.teredo
    return teredo[1] if teredo else None


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(url: httpx.URL, purpose: Purpose) -> list[IPAddress]:
    literal = _literal_address(url.host)
    if literal is not None:
        return [literal]
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"{purpose.url} host {url.host} does not resolve") from None
    # Scope ids ("fe80::1%eth0") are dropped: the address alone decides what kind it is.
    addresses = [ipaddress.ip_address(str(entry[4][0]).split("%", 1)[0]) for entry in found]
    if not addresses:
        raise TargetRefused(f"{purpose.url} host {url.host} does not resolve")
    return addresses
