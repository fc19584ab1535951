"""X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded (``proxy_headers``):
believed from a trusted peer only, and then setting request.client,
request.scheme and request.host (for WSGI: REMOTE_ADDR, wsgi.url_scheme and
HTTP_HOST); from an untrusted peer they change nothing. The client is the
rightmost address that is not a trusted proxy.

The parsing rules are tested on fastcore.proxy.forwarded directly, and the
whole path through a live server on 127.0.0.1 (trusted by default; made
untrusted by a forwarded_allow_ips that leaves loopback out) and on a Unix
socket.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastcore
from apps import whoami_app, wsgi_whoami
from fastcore.proxy import Networks, ProxyConfig, forwarded
from helpers import RawClient, WAIT, parse_one, request_bytes, serving

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ask(port: int, headers: list[tuple[str, str]], path: str = "/", host: str = "x") -> dict:
    with RawClient(port) as client:
        client.send(request_bytes("GET", path, headers=headers, host=host))
        response = client.response()
    assert response.status == 200
    return response.json()


# -- the rules, on the parser -----------------------------------------------------

def fields(*pairs: tuple[str, str]) -> list[bytes]:
    # Field names and values as the engine holds them: raw bytes.
    return [part.encode("latin-1") for pair in pairs for part in pair]


def view(*pairs: tuple[str, str], trusted: str = "127.0.0.1,::1"):
    return forwarded(ProxyConfig.build(True, trusted), fields(*pairs))


@pytest.mark.parametrize("value, trusted, client", [
    ("203.0.113.7", "127.0.0.1", ("203.0.113.7", 0)),
    # The rightmost untrusted hop: what is left of it is the client's word.
    ("1.1.1.1, 203.0.113.7", "127.0.0.1", ("203.0.113.7", 0)),
    ("1.1.1.1, 203.0.113.7, 10.0.0.2", "127.0.0.1,10.0.0.0/8", ("203.0.113.7", 0)),
    ("1.1.1.1, 203.0.113.7 ,10.0.0.2,10.1.2.3", "127.0.0.1,10.0.0.0/8", ("203.0.113.7", 0)),
    # Every hop trusted: the leftmost is the client.
    ("10.0.0.1, 10.0.0.2", "10.0.0.0/8", ("10.0.0.1", 0)),
    ("*everything*, 10.0.0.2", "*", ("*everything*", 0)),
    ("2001:db8::1", "127.0.0.1", ("2001:db8::1", 0)),
    ("[2001:db8::1]:4711", "127.0.0.1", ("2001:db8::1", 4711)),
    ("192.0.2.1:8080", "127.0.0.1", ("192.0.2.1", 8080)),
    # A port that is not one: 0.
    ("192.0.2.1:65536", "127.0.0.1", ("192.0.2.1", 0)),
    ("192.0.2.1:\xb2", "127.0.0.1", ("192.0.2.1", 0)),
    ("[2001:db8::1]:_obf", "127.0.0.1", ("2001:db8::1", 0)),
    # An IPv4-mapped IPv6 address is matched as the IPv4 one.
    ("203.0.113.7, ::ffff:10.0.0.2", "10.0.0.0/8", ("203.0.113.7", 0)),
])
def test_x_forwarded_for(value, trusted, client):
    assert view(("X-Forwarded-For", value), trusted=trusted)[0] == client


def test_x_forwarded_for_over_several_fields():
    got = view(("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "203.0.113.7, 10.0.0.9"),
               trusted="10.0.0.0/8")
    assert got[0] == ("203.0.113.7", 0)


@pytest.mark.parametrize("value, expected", [
    ("https", "https"), ("HTTPS", "https"), (" http ", "http"),
    ("http, https", "https"),                    # the nearest proxy's word
    ("ftp", None), ("", None), ("https; x", None),
])
def test_x_forwarded_proto(value, expected):
    assert view(("X-Forwarded-Proto", value))[1] == expected


@pytest.mark.parametrize("value, expected", [
    ("example.com", "example.com"), ("example.com:8443", "example.com:8443"),
    ("[2001:db8::1]:80", "[2001:db8::1]:80"), ("a.example, b.example", "b.example"),
    ("bad host", None), ("x/y", None), ("", None), ("[zz]", None),
])
def test_x_forwarded_host(value, expected):
    assert view(("X-Forwarded-Host", value))[2] == expected


@pytest.mark.parametrize("value, expected", [
    ("for=192.0.2.60;proto=https;host=example.com",
     (("192.0.2.60", 0), "https", "example.com")),
    ('for="[2001:db8:cafe::17]:4711"', (("2001:db8:cafe::17", 4711), None, None)),
    ('For="[2001:db8:cafe::17]";Proto=HTTPS', (("2001:db8:cafe::17", 0), "https", None)),
    ('for="192.0.2.43:47011"', (("192.0.2.43", 47011), None, None)),
    ('for=unknown', (("unknown", 0), None, None)),
    ('for=_hidden, for=_SEVKISEK', (("_SEVKISEK", 0), None, None)),
    ('for="\\"quoted\\""', (('"quoted"', 0), None, None)),
    # Each element is one proxy's: proto and host come from the element
    # that names the client.
    ("for=192.0.2.60;proto=https;host=a.example, for=127.0.0.1;proto=http;host=b",
     (("192.0.2.60", 0), "https", "a.example")),
    ("for=192.0.2.60;proto=https , for=198.51.100.17;proto=http",
     (("198.51.100.17", 0), "http", None)),
    ('for=192.0.2.60 ; proto=https', (("192.0.2.60", 0), "https", None)),
    # Malformed: the whole field says nothing.
    ("for=192.0.2.60;proto", (None, None, None)),
    ('for="unterminated', (None, None, None)),
    ("for=a b", (None, None, None)),
    ("", (None, None, None)),
])
def test_forwarded(value, expected):
    assert view(("Forwarded", value)) == expected


def test_forwarded_wins_over_x_forwarded():
    got = view(("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-Proto", "http"),
               ("Forwarded", "for=192.0.2.60;proto=https"))
    assert got == (("192.0.2.60", 0), "https", None)


def test_a_malformed_forwarded_leaves_the_x_forwarded_fields():
    got = view(("Forwarded", "for="), ("X-Forwarded-For", "198.51.100.1"))
    assert got[0] == ("198.51.100.1", 0)


@pytest.mark.parametrize("spec, inside, outside", [
    ("127.0.0.1,::1", ["127.0.0.1", "::1", "::ffff:127.0.0.1"], ["127.0.0.2", "10.0.0.1"]),
    ("10.0.0.0/8, 2001:db8::/32", ["10.200.3.4", "2001:db8::5"], ["11.0.0.1", "2001:db9::1"]),
    ("10.1.2.3/8", ["10.9.9.9"], ["11.0.0.0"]),    # host bits are allowed
    ("*", ["192.0.2.1", "::1", "unknown"], []),
    ("", [], ["127.0.0.1"]),
])
def test_networks(spec, inside, outside):
    networks = Networks(spec)
    assert all(host in networks for host in inside)
    assert not any(host in networks for host in outside)
    assert None in networks                      # a Unix-socket peer


@pytest.mark.parametrize("spec", ["10.0.0.0/33", "example.com", "1.2.3", "unix"])
def test_networks_refuse_what_is_not_an_address(spec):
    with pytest.raises(ValueError, match="not an IP address"):
        Networks(spec)


def test_the_default_and_the_environment(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert ProxyConfig.build(True).forwarded_allow_ips.text == "127.0.0.1,::1"
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    assert ProxyConfig.build(True).forwarded_allow_ips.text == "10.0.0.0/8"
    assert ProxyConfig.build(True, "192.0.2.1").forwarded_allow_ips.text == "192.0.2.1"


def test_a_bad_option_is_a_value_error():
    with pytest.raises(ValueError, match="proxy_protocol"):
        fastcore.Server(whoami_app(), port=0, proxy_protocol="v3")
    with pytest.raises(ValueError, match="not an IP address"):
        fastcore.Server(whoami_app(), port=0, proxy_headers=True, forwarded_allow_ips="nope")


# -- through a live server ----------------------------------------------------------

SPOOF = [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"),
         ("X-Forwarded-Host", "shop.example")]


def test_from_a_trusted_peer_the_headers_stand_for_the_client():
    with serving(whoami_app(), proxy_headers=True) as server:
        got = ask(server.port, SPOOF)
        assert got["client"] == ["203.0.113.7", 0]
        assert (got["scheme"], got["host"]) == ("https", "shop.example")
        assert got["url"] == "https://shop.example/"
        got = ask(server.port, [("Forwarded", 'for="[2001:db8::9]:1234";proto=https;host=a.b')],
                  path="/p?q=1")
        assert (got["client"], got["url"]) == (["2001:db8::9", 1234], "https://a.b/p?q=1")


def test_without_forwarded_headers_a_trusted_peer_is_itself():
    with serving(whoami_app(), proxy_headers=True) as server, RawClient(server.port) as client:
        client.send(request_bytes(host="plain.example"))
        got = client.response().json()
        assert got["client"] == ["127.0.0.1", client.local_port]
        assert (got["scheme"], got["host"]) == ("http", "plain.example")


@pytest.mark.parametrize("options", [
    {},                                                     # proxy_headers off
    {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.0/8"},   # loopback untrusted
    {"proxy_headers": True, "forwarded_allow_ips": ""},
])
def test_from_an_untrusted_peer_nothing_changes(options):
    forged = SPOOF + [("Forwarded", "for=198.51.100.1;proto=https;host=evil.example")]
    with serving(whoami_app(), **options) as server, RawClient(server.port) as client:
        client.send(request_bytes(headers=forged, host="real.example"))
        got = client.response().json()
        assert got["client"] == ["127.0.0.1", client.local_port]
        assert (got["scheme"], got["host"]) == ("http", "real.example")


def test_trust_is_per_connection_and_headers_per_request():
    with serving(whoami_app(), proxy_headers=True) as server, RawClient(server.port) as client:
        client.send(request_bytes(headers=[("X-Forwarded-For", "192.0.2.1")])
                    + request_bytes(headers=[("X-Forwarded-For", "192.0.2.2")])
                    + request_bytes())
        answers = [client.response().json()["client"] for _ in range(3)]
        assert answers == [["192.0.2.1", 0], ["192.0.2.2", 0], ["127.0.0.1", client.local_port]]


def test_wsgi_environ():
    with serving(wsgi_whoami, proxy_headers=True) as server:
        got = ask(server.port, SPOOF)
        assert got == {"REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": "0",
                       "wsgi.url_scheme": "https", "HTTP_HOST": "shop.example"}
    with serving(wsgi_whoami, proxy_headers=True,
                 forwarded_allow_ips="192.0.2.0/24") as server:
        got = ask(server.port, SPOOF, host="real.example")
        assert got["REMOTE_ADDR"] == "127.0.0.1"
        assert (got["wsgi.url_scheme"], got["HTTP_HOST"]) == ("http", "real.example")


def test_a_unix_socket_peer_is_trusted(tmp_path):
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    server = fastcore.Server(whoami_app(), sock=listener, proxy_headers=True,
                             forwarded_allow_ips="192.0.2.1")
    with server, socket.socket(socket.AF_UNIX) as client:
        client.settimeout(WAIT)
        client.connect(path)
        client.sendall(request_bytes(headers=SPOOF + [("Connection", "close")]))
        data = b""
        while chunk := client.recv(65536):
            data += chunk
    response = parse_one(data, closed=True)[0]
    assert response is not None and response.status == 200
    got = response.json()
    assert got["client"] == ["203.0.113.7", 0] and got["scheme"] == "https"


def test_the_environment_reaches_the_server():
    # A child process, so that the variable is read as a deployment sets it.
    code = ("import fastcore; s = fastcore.Server(fastcore.App(), port=0, proxy_headers=True); "
            "print(s.proxy.forwarded_allow_ips.text)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "FORWARDED_ALLOW_IPS": "10.0.0.0/8,*"},
                         cwd=ROOT, timeout=WAIT, check=True).stdout
    assert out.strip() == "10.0.0.0/8,*"


def test_off_by_default_the_proxy_module_is_not_loaded():
    code = ("import sys, fastcore; s = fastcore.Server(fastcore.App(), port=0); s.listen(); "
            "print('fastcore.proxy' in sys.modules, s.proxy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=WAIT, check=True).stdout
    assert out.split() == ["False", "None"]


FIELD_NAMES = st.sampled_from(["Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
                               "X-Forwarded-Host", "forwarded", "Host"])
FIELD_TEXT = st.lists(st.sampled_from(list('for=proto;host,"[]:\\ _.1a9f\t\xe9\xb2')
                                      + ["https", "127.0.0.1", "::1", "unknown", "65536"]),
                      max_size=30).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(FIELD_NAMES, FIELD_TEXT), max_size=6))
def test_fuzz_any_fields_give_a_valid_view(pairs):
    # Whatever a trusted proxy's fields hold, the answer is well formed:
    # a (host, port) with a port in range, a known scheme, a valid host.
    client, scheme, host = view(*pairs)
    if client is not None:
        assert isinstance(client[0], str) and 0 <= client[1] <= 65535
    assert scheme in (None, "http", "https")
    assert host is None or (host and " " not in host and "," not in host)
