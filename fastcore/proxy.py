"""Behind a proxy: whom to believe about the client, and what they say.

Two independent ways a proxy tells fastcore who the client is:

- ``proxy_headers``: ``X-Forwarded-For``/``-Proto``/``-Host`` and RFC 7239
  ``Forwarded``, believed only from a peer in ``forwarded_allow_ips``. They
  are read when a handler first asks for ``request.client``, ``.scheme`` or
  ``.host`` (or the WSGI environ is built): with the option off they cost
  nothing, and a handler that reads none of them pays nothing either.
- the PROXY protocol (v1 text, v2 binary, from HAProxy and most load
  balancers): a header before the first HTTP byte, parsed by the engine
  (``_proxy_protocol.pyx``), accepted only from a peer in
  ``proxy_allow_from``.

A Unix-socket peer has no address; it is a process on this machine that the
socket file's permissions let in, as local as loopback, so it is trusted
for both (put the socket where only the proxy can reach it).

This module is the pure-Python part: the trusted address lists and the
header parsing, applied per request by the engine's Request.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["DEFAULT_TRUSTED", "Networks", "ProxyConfig", "PROXY_PROTOCOL_MODES"]

# gunicorn's and uvicorn's default: only a proxy on this machine.
DEFAULT_TRUSTED = "127.0.0.1,::1"
# Read when forwarded_allow_ips is not given (gunicorn and uvicorn read it).
TRUSTED_ENVIRONMENT = "FORWARDED_ALLOW_IPS"
# --proxy-protocol: off, one version, or whichever signature arrives.
PROXY_PROTOCOL_MODES = ("off", "v1", "v2", "auto")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # An IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4
    # peer) is matched as the IPv4 address it maps.
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Networks:
    """A set of addresses and CIDR ranges (``"10.0.0.0/8,::1"``), or every
    address (``"*"``). ``host in networks`` for a host string; ``None``
    (a Unix-socket peer) is always in."""

    __slots__ = ("networks", "everything", "text", "_known")

    # Answers remembered per host string: parsing an address and testing
    # it against each range costs microseconds, and a proxy's own address
    # recurs on every request. Forgotten all at once when full.
    KNOWN_MAX = 4096

    def __init__(self, spec: str | Iterable[str]) -> None:
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        self.networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
        self.everything = False
        found = []
        for item in (i.strip() for i in items):
            if not item:
                continue
            if item == "*":
                self.everything = True
                continue
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address, a CIDR range or '*'") from None
        self.networks = tuple(found)
        self.text = ",".join(i.strip() for i in items if i.strip())
        self._known: dict[object, bool] = {}

    def __contains__(self, host: object) -> bool:
        if host is None or self.everything:
            return True                          # None: a Unix-socket peer
        known = self._known.get(host)
        if known is not None:
            return known
        address = _address(host) if isinstance(host, str) else None
        inside = address is not None and any(address in n for n in self.networks)
        if len(self._known) >= self.KNOWN_MAX:
            self._known.clear()
        self._known[host] = inside
        return inside

    def __repr__(self) -> str:
        return f"Networks({self.text!r})"


class ProxyConfig(NamedTuple):
    """What a Server believes from proxies (the engine reads it)."""

    proxy_headers: bool
    forwarded_allow_ips: Networks
    proxy_protocol: str
    proxy_allow_from: Networks

    @classmethod
    def build(cls, proxy_headers: bool = False,
              forwarded_allow_ips: str | Iterable[str] | None = None,
              proxy_protocol: str = "off",
              proxy_allow_from: str | Iterable[str] | None = None) -> ProxyConfig:
        """The Server's keywords, checked; forwarded_allow_ips None reads
        $FORWARDED_ALLOW_IPS, else the default (127.0.0.1,::1)."""
        if proxy_protocol not in PROXY_PROTOCOL_MODES:
            raise ValueError(f"proxy_protocol is one of {', '.join(PROXY_PROTOCOL_MODES)}, "
                             f"not {proxy_protocol!r}")
        if forwarded_allow_ips is None:
            forwarded_allow_ips = os.environ.get(TRUSTED_ENVIRONMENT) or DEFAULT_TRUSTED
        return cls(bool(proxy_headers), Networks(forwarded_allow_ips), proxy_protocol,
                   Networks(DEFAULT_TRUSTED if proxy_allow_from is None else proxy_allow_from))


# -- the headers -----------------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# One forwarded-pair of RFC 7239 section 4, then what ends it.
_PAIR = re.compile(rf'[ \t]*({_TOKEN})=({_TOKEN}|"(?:[^"\\]|\\.)*")[ \t]*(;|,|$)')
_QUOTED_PAIR = re.compile(r"\\(.)")
# A host as Host carries it (RFC 9110 section 7.2): a reg-name or IPv4
# address, or an IP literal in brackets, with an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?\Z")
_SCHEMES = frozenset(("http", "https"))


def _forwarded_elements(value: str) -> list[dict[str, str]] | None:
    """The elements of a Forwarded header, each a dict of its pairs (names
    lower-cased, quoted values unquoted); None if it is malformed."""
    elements: list[dict[str, str]] = [{}]
    pos = 0
    while pos < len(value):
        match = _PAIR.match(value, pos)
        if match is None:
            return None
        name, text, end = match.groups()
        if text.startswith('"'):
            text = _QUOTED_PAIR.sub(r"\1", text[1:-1])
        elements[-1][name.lower()] = text
        pos = match.end()
        if end == ",":
            while pos < len(value) and value[pos] in " \t,":
                pos += 1
            elements.append({})
    return [e for e in elements if e]


def _node(text: str) -> tuple[str, int]:
    """A node of RFC 7239 section 6 (or an X-Forwarded-For entry) as
    (host, port): "[2001:db8::1]:80", "192.0.2.1:80", "unknown", "_hidden".
    A port that is absent or obfuscated is 0."""
    text = text.strip()
    port = ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host = text                              # IPv4, a bare IPv6 (in XFF), or a name
    number = int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else 0
    return host, number if number <= 65535 else 0


def _rightmost_untrusted(hops: list[str], trusted: Networks) -> int:
    # The client is the rightmost hop that is not itself a trusted proxy:
    # everything left of it was written by someone we do not trust.
    for i in range(len(hops) - 1, -1, -1):
        if _node(hops[i])[0] not in trusted or not hops[i].strip():
            return i
    return 0


def forwarded(config: ProxyConfig, fields: list[bytes]
              ) -> tuple[tuple[str, int] | None, str | None, str | None]:
    """(client, scheme, host) from the raw header fields of a request whose
    peer is trusted; each None where the headers say nothing (usable).
    ``Forwarded`` wins over the X-Forwarded-* fields when both are sent."""
    xff: list[str] = []
    proto = host = None
    rfc: list[dict[str, str]] | None = []
    for i in range(0, len(fields), 2):
        name = fields[i].lower()
        if name == b"forwarded" and rfc is not None:
            parsed = _forwarded_elements(fields[i + 1].decode("latin-1"))
            rfc = None if parsed is None else rfc + parsed
        elif name == b"x-forwarded-for":
            xff.extend(fields[i + 1].decode("latin-1").split(","))
        elif name == b"x-forwarded-proto":
            proto = fields[i + 1].decode("latin-1").split(",")[-1].strip().lower()
        elif name == b"x-forwarded-host":
            host = fields[i + 1].decode("latin-1").split(",")[-1].strip()
    trusted = config.forwarded_allow_ips
    if rfc:
        # Each element was added by one proxy, about the connection it
        # received: the one naming the client also has its proto and host.
        hops = [e.get("for", "") for e in rfc]
        element = rfc[_rightmost_untrusted(hops, trusted)]
        node = element.get("for")
        proto = element.get("proto", "").lower() or None
        host = element.get("host")
    else:
        node = xff[_rightmost_untrusted(xff, trusted)] if xff else None
    client = _node(node) if node and node.strip() else None
    return (client, proto if proto in _SCHEMES else None,
            host if host and _HOST.match(host) else None)
