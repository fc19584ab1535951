"""What a WSGI application may send in start_response (PEP 3333), checked
once per distinct status and field by the engine's bridge, which caches the
result."""

from __future__ import annotations

from fastcore.responses import encode_fields

# PEP 3333: "the application must not return hop-by-hop headers" (RFC 2616
# section 13.5.1, and the fields that frame a message).
HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade"))
# Written by the engine for every response.
SERVERS_OWN = frozenset(("date", "server"))


def check_wsgi_status(status: object) -> tuple[bytes, int]:
    """("HTTP/1.1 <status>\\r\\n", code) for a WSGI status such as "200 OK"."""
    if type(status) is not str:
        raise TypeError(f"a WSGI status is a str, not {type(status).__name__}")
    code_text, _, reason = status.partition(" ")
    if (len(code_text) != 3 or not (code_text.isdigit() and code_text.isascii())
            or not 200 <= int(code_text) <= 599
            or not (reason.isascii() and reason.isprintable())):
        raise ValueError(f"malformed WSGI status {status!r}")
    return f"HTTP/1.1 {code_text} {reason}\r\n".encode("ascii"), int(code_text)


def check_wsgi_field(pair: object) -> bytes | int:
    """The encoded line of a (name, value) pair; b"" for a field the server
    writes itself; the value, as an int, of Content-Length. Raises for a
    hop-by-hop field or anything that could split the response."""
    if type(pair) is not tuple or len(pair) != 2:
        raise TypeError(f"a WSGI header is a (name, value) tuple, not {pair!r}")
    name, value = pair
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"a WSGI header's name and value are str: {pair!r}")
    lower = name.lower()
    if lower == "content-length":
        value = value.strip(" \t")
        if not (value.isdigit() and value.isascii()):
            raise ValueError(f"malformed Content-Length {value!r}")
        return int(value)
    if lower in HOP_BY_HOP:
        raise ValueError(f"the application set the hop-by-hop header {name!r}")
    if lower in SERVERS_OWN:
        return b""
    return encode_fields(((name, value),), None)
