"""The PROXY protocol (HAProxy's doc/proxy-protocol.txt, v1 and v2) before
the first HTTP byte: with ``proxy_protocol`` set, a peer in
``proxy_allow_from`` must begin with a header, whose source address then
stands for the client in request.client (and REMOTE_ADDR); a malformed,
oversize, late or refused header closes the connection without a byte of
answer. A peer not in ``proxy_allow_from`` is served as plain HTTP, and a
PROXY header from it closes the connection (spoofing).

Every header is sent whole, one byte at a time, and in the same send as the
request; hypothesis mutates valid headers (a few seconds in the default
run, FASTCORE_FUZZ_EXAMPLES as in test_fuzz.py).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastcore
from apps import whoami_app, wsgi_whoami
from helpers import WAIT, RawClient, parse_one, request_bytes, serving

MODES = ("whole", "bytewise", "with-request")
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
LOCAL, PROXY = 0x20, 0x21
UNSPEC, TCP4, TCP6, UNIX = 0x00, 0x11, 0x21, 0x31
EXAMPLES = max(50, int(os.environ.get("FASTCORE_FUZZ_EXAMPLES", "10000")) // 50)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!BH", kind, len(value)) + value


def v1(src: str, dst: str, sport: int, dport: int) -> bytes:
    family = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def v2(command: int = PROXY, family: int = TCP4, src: str = "192.0.2.1", dst: str = "192.0.2.2",
       sport: int = 5555, dport: int = 80, tlvs: bytes = b"", crc: bool = False,
       addresses: bytes | None = None) -> bytes:
    if addresses is None:
        if family in (TCP4, TCP6):
            addresses = (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
                         + struct.pack("!HH", sport, dport))
        elif family == UNIX:
            addresses = b"/src".ljust(108, b"\0") + b"/dst".ljust(108, b"\0")
        else:
            addresses = b""
    body = addresses + tlvs + (tlv(0x03, b"\0\0\0\0") if crc else b"")
    header = V2_SIG + bytes([command, family]) + struct.pack("!H", len(body)) + body
    if crc:
        header = header[:-4] + struct.pack("!I", crc32c(header))
    return header


REQUEST = request_bytes()


def exchange(port: int, header: bytes, mode: str, request: bytes = REQUEST) -> RawClient:
    client = RawClient(port)
    if mode == "with-request":
        client.send(header + request)
    else:
        client.send(header, mode)
        client.send(request, mode)
    return client


def client_seen(port: int, header: bytes, mode: str) -> list:
    with exchange(port, header, mode) as client:
        response = client.response()
        assert response.status == 200
        return response.json()["client"]


def refused(port: int, data: bytes, mode: str = "whole") -> bool:
    """The server closed without sending anything."""
    with RawClient(port) as client:
        client.send(data, "whole" if mode == "with-request" else mode)
        client.shutdown_write()
        return client.closed() and client.received == b""


@pytest.fixture(scope="module", params=["v1", "v2", "auto"])
def server(request):
    with serving(whoami_app(), proxy_protocol=request.param) as server:
        yield server, request.param


@pytest.fixture(scope="module")
def auto():
    with serving(whoami_app(), proxy_protocol="auto", header_timeout=0.5,
                 keepalive_timeout=30) as server:
        yield server


# -- valid headers ------------------------------------------------------------------

VALID_V1 = {
    "tcp4": (v1("203.0.113.7", "192.0.2.2", 56324, 443), ["203.0.113.7", 56324]),
    "tcp6": (v1("2001:db8::7", "2001:db8::1", 1, 65535), ["2001:db8::7", 1]),
    "tcp6-canonical": (v1("2001:0db8:0:0::7", "::1", 80, 80), ["2001:db8::7", 80]),
    "port-0": (v1("203.0.113.7", "192.0.2.2", 0, 80), ["203.0.113.7", 0]),
}
VALID_V2 = {
    "tcp4": (v2(src="203.0.113.9", sport=40000), ["203.0.113.9", 40000]),
    "tcp6": (v2(family=TCP6, src="2001:db8::9", dst="2001:db8::1", sport=7),
             ["2001:db8::9", 7]),
    "tcp4-tlvs": (v2(src="203.0.113.10", tlvs=tlv(0x02, b"shop.example") + tlv(0x04, b"\0" * 9)
                     + tlv(0x01, b"http/1.1") + tlv(0xE0, b"")), ["203.0.113.10", 5555]),
    "tcp4-crc32c": (v2(src="203.0.113.11", tlvs=tlv(0x02, b"a"), crc=True),
                    ["203.0.113.11", 5555]),
    "tcp4-dgram": (v2(src="203.0.113.12")[:13] + b"\x12" + v2(src="203.0.113.12")[14:],
                   ["203.0.113.12", 5555]),
    "tcp4-extra-address-bytes-as-a-tlv": (v2(src="203.0.113.13", tlvs=tlv(0x04, b"")),
                                          ["203.0.113.13", 5555]),
}
# The real endpoints stand: the socket's peer is the client.
KEEP_PEER = {
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-unknown-with-addresses": b"PROXY UNKNOWN ffff:: ffff:: 1 2\r\n",
    "v2-local": v2(command=LOCAL, family=UNSPEC),
    "v2-local-with-addresses": v2(command=LOCAL, family=TCP4, src="203.0.113.1"),
    "v2-unspec": v2(family=UNSPEC),
    "v2-unix": v2(family=UNIX),
}


def accepts(mode: str, name: str) -> bool:
    return mode == "auto" or name.startswith(mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [f"v1-{n}" for n in VALID_V1] + [f"v2-{n}" for n in VALID_V2])
def test_a_valid_header_gives_the_client(server, name, mode):
    server, version = server
    table = VALID_V1 if name.startswith("v1") else VALID_V2
    header, client = table[name[3:]]
    if accepts(version, name):
        assert client_seen(server.port, header, mode) == client
    else:
        assert refused(server.port, header + REQUEST, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(KEEP_PEER))
def test_unknown_local_unspec_keep_the_real_peer(server, name, mode):
    server, version = server
    if not accepts(version, name):
        assert refused(server.port, KEEP_PEER[name] + REQUEST, mode)
        return
    with exchange(server.port, KEEP_PEER[name], mode) as client:
        assert client.response().json()["client"] == ["127.0.0.1", client.local_port]


def test_the_client_stays_for_the_whole_connection(auto):
    with RawClient(auto.port) as client:
        client.send(v1("198.51.100.3", "192.0.2.2", 1234, 80) + REQUEST + REQUEST)
        client.send(REQUEST)
        seen = [client.response().json() for _ in range(3)]
    assert all(s["client"] == ["198.51.100.3", 1234] for s in seen)
    assert seen[0]["host"] == "x"


def test_wsgi_sees_the_proxied_client():
    with serving(wsgi_whoami, proxy_protocol="v2") as server, RawClient(server.port) as client:
        client.send(v2(src="198.51.100.4", sport=999) + REQUEST)
        got = client.response().json()
    assert (got["REMOTE_ADDR"], got["REMOTE_PORT"]) == ("198.51.100.4", "999")


def test_with_proxy_headers_trust_is_the_proxied_clients():
    # The PROXY header's source is the peer that sent X-Forwarded-For.
    with serving(whoami_app(), proxy_protocol="v1", proxy_headers=True,
                 forwarded_allow_ips="10.0.0.0/8") as server:
        forged = request_bytes(headers=[("X-Forwarded-For", "203.0.113.50")])
        with RawClient(server.port) as client:
            client.send(v1("10.1.1.1", "10.0.0.2", 1, 80) + forged)
            assert client.response().json()["client"] == ["203.0.113.50", 0]
        with RawClient(server.port) as client:
            client.send(v1("198.51.100.9", "10.0.0.2", 1, 80) + forged)
            assert client.response().json()["client"] == ["198.51.100.9", 1]


# -- refused headers ------------------------------------------------------------------

MALFORMED = {
    "no-header": REQUEST,
    "lower-case": b"proxy TCP4 192.0.2.1 192.0.2.2 1 2\r\n",
    "v1-no-crlf-in-107": b"PROXY UNKNOWN " + b"x" * 100,
    "v1-lf-only": b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n",
    "v1-two-spaces": b"PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n",
    "v1-missing-port": b"PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n",
    "v1-extra-field": b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n",
    "v1-tcp4-with-ipv6": b"PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n",
    "v1-tcp6-with-ipv4": b"PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n",
    "v1-bad-address": b"PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n",
    "v1-port-65536": b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n",
    "v1-port-leading-zero": b"PROXY TCP4 192.0.2.1 192.0.2.2 080 2\r\n",
    "v1-port-sign": b"PROXY TCP4 192.0.2.1 192.0.2.2 +80 2\r\n",
    "v1-udp4": b"PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n",
    "v1-empty": b"PROXY \r\n",
    "v2-version-1": v2()[:12] + b"\x11" + v2()[13:],
    "v2-command-2": v2()[:12] + b"\x22" + v2()[13:],
    "v2-family-4": v2()[:13] + b"\x41" + v2()[14:],
    "v2-transport-3": v2()[:13] + b"\x13" + v2()[14:],
    "v2-tcp4-short-addresses": v2(addresses=b"\0" * 11),
    "v2-tcp6-short-addresses": v2(family=TCP6, addresses=b"\0" * 35),
    "v2-unix-short-addresses": v2(family=UNIX, addresses=b"\0" * 215),
    "v2-truncated-tlv": v2(tlvs=tlv(0x02, b"abc")[:-1]),
    "v2-tlv-stub": v2(tlvs=b"\x02\x00"),
    "v2-bad-crc32c": v2(tlvs=tlv(0x03, b"\0\0\0\1")),
    "v2-crc32c-wrong-size": v2(tlvs=tlv(0x03, b"\0\0\0")),
    "v2-oversize": v2(tlvs=tlv(0x04, b"\0" * 4000)),
    "v2-maximum-length": V2_SIG + b"\x21\x11\xff\xff",
}


@pytest.mark.parametrize("mode", ("whole", "bytewise"))
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_header_closes_the_connection(auto, name, mode):
    data = MALFORMED[name]
    assert refused(auto.port, data if name.endswith("oversize") else data + REQUEST, mode)


def test_a_corrupted_crc32c_is_detected():
    header = bytearray(v2(src="203.0.113.11", crc=True))
    header[18] ^= 1                              # the source address
    with serving(whoami_app(), proxy_protocol="v2") as server:
        assert refused(server.port, bytes(header) + REQUEST)
        assert client_seen(server.port, v2(src="203.0.113.11", crc=True), "whole")[0] \
            == "203.0.113.11"


def test_the_largest_header_accepted():
    # 16 fixed bytes and 2048 of addresses and TLVs: at the bound.
    room = 2048 - 12 - 3
    header = v2(src="203.0.113.14", tlvs=tlv(0x04, b"\0" * room))
    with serving(whoami_app(), proxy_protocol="v2") as server:
        assert client_seen(server.port, header, "whole")[0] == "203.0.113.14"
        assert refused(server.port, v2(tlvs=tlv(0x04, b"\0" * (room + 1))) + REQUEST)


@pytest.mark.parametrize("partial", [b"", b"PROXY TCP4 192.0.2.1", v2()[:20]])
def test_a_header_that_does_not_come_in_time_closes(auto, partial):
    started = time.monotonic()
    with RawClient(auto.port) as client:
        client.send(partial)
        assert client.closed(timeout=5.0)        # header_timeout 0.5, keep-alive 30
        assert client.received == b""
    assert time.monotonic() - started < 5.0


def test_the_end_of_input_during_a_header_closes(auto):
    assert refused(auto.port, b"PROXY TCP4 ")


# -- a peer that may not send one ---------------------------------------------------

@pytest.fixture(scope="module")
def elsewhere():
    # Only proxies on 192.0.2.0/24 may send a header; the tests are 127.0.0.1.
    with serving(whoami_app(), proxy_protocol="auto",
                 proxy_allow_from="192.0.2.0/24") as server:
        yield server


@pytest.mark.parametrize("mode", ("whole", "bytewise"))
@pytest.mark.parametrize("header", [v1("198.51.100.1", "192.0.2.2", 1, 80), v2(),
                                    v2(command=LOCAL, family=UNSPEC), b"PROXY UNKNOWN\r\n"],
                         ids=["v1", "v2", "v2-local", "v1-unknown"])
def test_a_header_from_a_disallowed_peer_closes_the_connection(elsewhere, header, mode):
    assert refused(elsewhere.port, header + REQUEST, mode)


@pytest.mark.parametrize("mode", ("whole", "bytewise"))
@pytest.mark.parametrize("data", [
    REQUEST,
    b"\r\n" + REQUEST,                           # begins as v2's signature does
    b"\r\n\r\n" + REQUEST,
    b"PROX / HTTP/1.1\r\nHost: x\r\n\r\n",       # begins as v1's does (a 501)
], ids=["plain", "crlf", "two-crlf", "prox"])
def test_a_disallowed_peer_is_served_as_plain_http(elsewhere, data, mode):
    with serving(whoami_app()) as plain, RawClient(plain.port) as client:
        client.send(data, mode)
        expected = client.response()
    with RawClient(elsewhere.port) as client:
        client.send(data, mode)
        got = client.response()
        assert got.status == expected.status
        if got.status == 200:
            assert got.json()["client"] == ["127.0.0.1", client.local_port]


def test_off_a_header_is_just_a_bad_request():
    with serving(whoami_app()) as server, RawClient(server.port) as client:
        client.send(v1("198.51.100.1", "192.0.2.2", 1, 80) + REQUEST)
        assert client.response().status in (400, 501)


# -- fuzzing --------------------------------------------------------------------------

FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

addresses4 = st.ip_addresses(v=4).map(str)
addresses6 = st.ip_addresses(v=6).map(str)
ports = st.integers(0, 65535)


@st.composite
def valid_headers(draw) -> tuple[bytes, list]:
    six = draw(st.booleans())
    src, dst = draw(addresses6 if six else addresses4), draw(addresses6 if six else addresses4)
    sport, dport = draw(ports), draw(ports)
    if draw(st.booleans()):
        header = v1(src, dst, sport, dport)
    else:
        tlvs = b"".join(tlv(draw(st.sampled_from([0x01, 0x02, 0x04, 0x05, 0x20, 0xE0])),
                            draw(st.binary(max_size=40)))
                        for _ in range(draw(st.integers(0, 4))))
        header = v2(family=TCP6 if six else TCP4, src=src, dst=dst, sport=sport,
                    dport=dport, tlvs=tlvs, crc=draw(st.booleans()))
    family = socket.AF_INET6 if six else socket.AF_INET
    # inet_ntop's text, as the engine gives it (not ipaddress's: they
    # differ on IPv4-mapped addresses).
    return header, [socket.inet_ntop(family, socket.inet_pton(family, src)), sport]


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    points = sorted({min(o, len(data)) for o in offsets} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:]) if b > a]


@FUZZ
@given(valid_headers(), st.lists(st.integers(1, 120), max_size=4))
def test_fuzz_valid_headers_in_pieces(auto, case, offsets):
    header, client = case
    with RawClient(auto.port) as raw:
        for piece in cut(header + REQUEST, offsets):
            raw.send(piece)
            time.sleep(1e-4)                     # pacing: separate reads, not a wait
        assert raw.response().json()["client"] == client


@FUZZ
@given(valid_headers(), st.data())
def test_fuzz_mutated_headers(auto, case, data):
    header = bytearray(case[0])
    for _ in range(data.draw(st.integers(1, 3))):
        if not header:
            break
        pos = data.draw(st.integers(0, len(header) - 1))
        kind = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if kind == "flip":
            header[pos] = data.draw(st.integers(0, 255))
        elif kind == "delete":
            del header[pos]
        elif kind == "insert":
            header[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            del header[pos:]
    with RawClient(auto.port, timeout=5.0) as raw:
        raw.send(bytes(header) + REQUEST)
        raw.shutdown_write()
        assert raw.closed(timeout=5.0)
        # Either the header still parsed (a flipped address byte, a TLV
        # value) and the request was answered, or nothing at all was sent.
        if raw.received:
            raw.response()
    # The server is alive and well.
    assert client_seen(auto.port, v1("192.0.2.77", "192.0.2.2", 7, 80), "whole")[0] \
        == "192.0.2.77"


def test_a_v1_header_says_tcp6_for_mapped_addresses_too(auto):
    assert client_seen(auto.port, v1("::ffff:192.0.2.5", "::1", 9, 80), "whole") \
        == ["::ffff:192.0.2.5", 9]


def test_a_unix_socket_peer_is_allowed_and_must_send_one(tmp_path):
    # A proxy on this machine behind a Unix socket (nginx's
    # "proxy_protocol on" to a unix: upstream, HAProxy's "server ... /path").
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    with fastcore.Server(whoami_app(), sock=listener, proxy_protocol="v1",
                         proxy_allow_from="192.0.2.1"):
        answers = []
        for data in (v1("198.51.100.8", "192.0.2.2", 77, 80), b""):
            with socket.socket(socket.AF_UNIX) as client:
                client.settimeout(WAIT)
                client.connect(path)
                client.sendall(data + request_bytes(headers=[("Connection", "close")]))
                received = b""
                while chunk := client.recv(65536):
                    received += chunk
                answers.append(received)
    response = parse_one(answers[0], closed=True)[0]
    assert response is not None and response.json()["client"] == ["198.51.100.8", 77]
    assert answers[1] == b""                     # no header: closed unanswered
