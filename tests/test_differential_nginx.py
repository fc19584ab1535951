"""Hostile raw requests sent to fastcore and to a real nginx, side by side:
the same bytes, whole and one byte at a time, to Debian's nginx started
here on a loopback port with a configuration that answers 200 to every
request it accepts.

Each case is judged by its verdict: how many requests were answered
before the server stopped answering, with a refusal (a 4xx or 5xx) or by
closing on an incomplete request; not by the exact status (nginx says 400
where fastcore says 431, and that is no disagreement). fastcore's verdict
must equal nginx's, or the case is listed in DIFFERENCES with fastcore's
verdict and the RFC section that makes it the right one; a listed
difference that no longer differs fails too, so the table stays true. The
table of differences is printed at the end of the module.

The cases: every request smuggling vector (test_smuggling.VECTORS, each
followed by a second request, as there), the Host values (test_errors),
malformed request lines, unknown methods and versions (test_errors and
test_http_semantics), and a few chunk-size, Expect and whitespace edge
cases of this module's own. Every exchange ends with the client's
half-close, and the verdict is read once the server has closed.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from apps import EchoApp
from conftest import print_at_the_end, require_tool
from helpers import RawClient, ServerHung, free_port, parse_complete, serving, wait_until
from test_errors import (BAD_HOSTS, GOOD_HOSTS, MALFORMED_REQUEST_LINES,
                         UNKNOWN_METHOD_LINES, UNSUPPORTED_VERSIONS, host_request)
from test_conformance import CHUNK_EXT_BWS, METHOD_501
from test_http_semantics import HIGHER_MINORS
from test_smuggling import SMUGGLED, VECTORS

MODES = ("whole", "bytewise")

# -- the cases ------------------------------------------------------------------

POST = b"POST / HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"
GET = b"GET / HTTP/1.1\r\nHost: x\r\n"

EDGE_CASES = {
    # Chunk sizes (RFC 9112 section 7.1: chunk-size = 1*HEXDIG).
    "chunk-size-leading-zeros": CHUNKED + b"0005\r\nhello\r\n0\r\n\r\n",
    "chunk-size-upper-case-hex": CHUNKED + b"A\r\n0123456789\r\n0\r\n\r\n",
    "chunk-size-16-hex-digits": CHUNKED + b"000000000000000a\r\n0123456789\r\n0\r\n\r\n",
    "chunk-size-20-hex-digits-small-value": CHUNKED + b"0000000000000000000a\r\n0123456789\r\n"
                                            b"0\r\n\r\n",
    "last-chunk-with-extension": CHUNKED + b"5\r\nhello\r\n0;done=1\r\n\r\n",
    "last-chunk-leading-zeros": CHUNKED + b"5\r\nhello\r\n000\r\n\r\n",
    "chunk-with-allowed-trailer": CHUNKED + b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
    "chunked-upper-case-coding": POST + b"Transfer-Encoding: CHUNKED\r\n\r\n"
                                 b"5\r\nhello\r\n0\r\n\r\n",
    "chunked-truncated-at-eof": CHUNKED + b"5\r\nhel",
    "content-length-truncated-at-eof": POST + b"Content-Length: 10\r\n\r\nhello",
    # Expect (RFC 9110 section 10.1.1).
    "expect-empty": POST + b"Expect:\r\nContent-Length: 5\r\n\r\nhello",
    "expect-empty-list": POST + b"Expect: , \r\nContent-Length: 5\r\n\r\nhello",
    "expect-100-continue-in-a-list": POST + b"Expect: 100-continue, \r\nContent-Length: 5\r\n\r\n"
                                     b"hello",
    "expect-unknown": POST + b"Expect: teapot\r\nContent-Length: 5\r\n\r\nhello",
    "expect-100-continue-and-unknown": POST + b"Expect: 100-continue, teapot\r\n"
                                       b"Content-Length: 5\r\n\r\nhello",
    # Whitespace that is OWS (RFC 9110 section 5.5).
    "host-between-tabs": b"GET / HTTP/1.1\r\nHost:\tx\t\r\n\r\n",
    "content-length-between-tabs": POST + b"Content-Length:\t5\t\r\n\r\nhello",
    "te-after-a-tab": POST + b"Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    # Higher minor versions, pipelined, one with a body.
    "higher-minor-versions-pipelined": HIGHER_MINORS,
    "http12-then-http11": b"GET / HTTP/1.2\r\nHost: x\r\n\r\n" + SMUGGLED,
    # Empty lines before a request (RFC 9112 section 2.2).
    "empty-lines-before-the-request": b"\r\n\r\n" + GET + b"\r\n",
}


def line_case(line: bytes) -> str:
    return f"malformed-line/{line[:24]!r}"


def all_cases() -> dict[str, bytes]:
    cases: dict[str, bytes] = {}
    for param in VECTORS:
        data, _status = param.values
        cases[f"smuggling/{param.id}"] = data + SMUGGLED
    for host in BAD_HOSTS:
        cases[f"bad-host/{host!r}"] = host_request(host)
    for host in GOOD_HOSTS:
        cases[f"good-host/{host!r}"] = host_request(host)
    for line in MALFORMED_REQUEST_LINES:
        cases[line_case(line)] = line
    for line in UNKNOWN_METHOD_LINES:
        cases[f"unknown-method/{line.decode()}"] = line + b"\r\nHost: x\r\n\r\n"
    for version in (*UNSUPPORTED_VERSIONS, b"1.2", b"1.9"):
        cases[f"version/{version.decode()}"] = b"GET / HTTP/" + version + b"\r\nHost: x\r\n\r\n"
    for name, data in EDGE_CASES.items():
        cases[f"edge/{name}"] = data
    return cases


CASES = all_cases()


# -- verdicts -------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """What a server made of a stream: it answered `answered` requests
    (status below 400), then stopped: with a refusal (`refusal`, a 4xx or
    5xx) or by closing (an incomplete request). Two verdicts agree when
    the same number of requests was answered before the server stopped.
    `statuses` are all the statuses, for the table; an HTTP/0.9 answer,
    which has no status line, counts as 9."""
    answered: int
    refusal: int | None
    statuses: tuple[int, ...]

    def agrees(self, other: Verdict) -> bool:
        return self.answered == other.answered

    def __str__(self) -> str:
        said = ",".join(map(str, self.statuses)) or "closed"
        kind = f"refused after {self.answered}" if self.refusal else f"{self.answered} answered"
        return f"{kind} ({said})"


def verdict_of(statuses: list[int]) -> Verdict:
    answered = 0
    for status in statuses:
        if status >= 400:
            return Verdict(answered, status, tuple(statuses))
        answered += 1
    return Verdict(answered, None, tuple(statuses))


_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*([0-9]+)[ \t]*\r?$")


def nginx_statuses(data: bytes) -> list[int]:
    """The statuses in what nginx sent, leniently: nginx answers a request
    line without a version in HTTP/0.9, a bare body."""
    statuses: list[int] = []
    pos = 0
    while pos < len(data):
        if not data.startswith(b"HTTP/1.", pos):
            statuses.append(9)
            break
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end]
        status = int(head[9:12])
        pos = end + 4
        if 100 <= status < 200:
            continue
        statuses.append(status)
        length = _CONTENT_LENGTH.search(head)
        if length is None:
            break                           # close-delimited: the rest is its body
        pos += int(length.group(1))
    return statuses


def exchange(port: int, data: bytes, mode: str, strict: bool) -> Verdict:
    """Send `data` (whole or bytewise), half-close, read until the server
    closes; fastcore's bytes are parsed strictly (a MalformedResponse fails
    the case), nginx's leniently."""
    with RawClient(port, timeout=10.0) as client:
        client.send(data, mode)
        client.shutdown_write()
        client.finish()
        received = bytes(client.received)
    if strict:
        return verdict_of([r.status for r in parse_complete(received)])
    return verdict_of(nginx_statuses(received))


# -- nginx --------------------------------------------------------------------

# nginx answers 200 to every request it accepts, once it has read all of
# it: the request goes through proxy_pass (which reads the whole body
# before it sends anything on) to this same server, where the inner
# request, marked by a field of its own, is answered 200. A plain `return
# 200` would answer before the body arrives and judge the body only after.
# proxy_ignore_client_abort: the client half-closes once it has sent all.
NGINX_MAIN = """\
daemon off;
master_process off;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{http}}}
"""
NGINX_CONF = """\
    keepalive_timeout 5s;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            if ($http_x_differential_inner) {{
                return 200 "ok\\n";
            }}
            proxy_set_header X-Differential-Inner 1;
            proxy_pass http://127.0.0.1:{port};
            proxy_ignore_client_abort on;
        }}
    }}
"""


def current_user_line() -> str:
    # As root, nginx would hand its work to "nobody"; keep it the caller.
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"


def nginx_conf(workdir: str, http: str) -> str:
    """A whole nginx.conf around `http`, the contents of its http block:
    one process in the foreground, its files in `workdir`."""
    return NGINX_MAIN.format(dir=workdir, user=current_user_line(), http=http)


@contextlib.contextmanager
def running_nginx(binary: str, workdir: str, config=None):
    """nginx in one process on a free loopback port (nginx cannot be told
    port 0: a port is picked, and another tried if it was taken since).
    `config(port)` gives the configuration's text (default: NGINX_CONF)."""
    for _attempt in range(10):
        port = free_port()
        conf = os.path.join(workdir, "nginx.conf")
        pidfile = os.path.join(workdir, "nginx.pid")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pidfile)
        with open(conf, "w") as out:
            out.write(config(port) if config is not None else
                      nginx_conf(workdir, NGINX_CONF.format(port=port)))
        log = os.path.join(workdir, "error.log")
        process = subprocess.Popen([binary, "-p", workdir, "-c", conf, "-e", log],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        # nginx writes its pid file once its listening socket is bound.
        wait_until(lambda: process.poll() is not None or os.path.exists(pidfile),
                   what="nginx to listen or exit")
        if process.poll() is None:
            break
        error = process.stderr.read().decode(errors="replace")
        with contextlib.suppress(FileNotFoundError), open(log) as startup:
            error += startup.read()
        if "Address already in use" not in error:
            raise RuntimeError(f"nginx did not start: {error}")
    else:
        raise RuntimeError("nginx found no free port in 10 tries")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
            probe.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert b"Server: nginx" in probe.recv(4096), "something else took the port"
        yield port
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


# -- running every case -----------------------------------------------------------

@dataclass
class Outcome:
    fastcore: Verdict | str
    nginx: Verdict | str


def run_all(fastcore_port: int, nginx_port: int) -> dict[tuple[str, str], Outcome]:
    """Every case, in both modes, against both servers; 16 connections at
    a time, so that the byte-at-a-time sends overlap."""
    def one(port: int, data: bytes, mode: str, strict: bool) -> Verdict | str:
        try:
            return exchange(port, data, mode, strict)
        except (AssertionError, ServerHung, OSError) as exc:   # reported by the test
            return f"{type(exc).__name__}: {exc}"

    jobs = {}
    with ThreadPoolExecutor(16) as pool:
        for name, data in CASES.items():
            for mode in MODES:
                jobs[name, mode] = (pool.submit(one, fastcore_port, data, mode, True),
                                    pool.submit(one, nginx_port, data, mode, False))
        return {key: Outcome(f.result(), n.result()) for key, (f, n) in jobs.items()}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, request):
    # Debian puts nginx in /usr/sbin, which a user's PATH may lack.
    binary = require_tool(shutil.which("nginx") or "/usr/sbin/nginx")
    workdir = str(tmp_path_factory.mktemp("nginx"))
    with running_nginx(binary, workdir) as nginx_port, \
            serving(EchoApp(), keepalive_timeout=5.0) as server:
        results = run_all(server.port, nginx_port)
    yield results
    report(request, results)


def report(request, results: dict[tuple[str, str], Outcome]) -> None:
    """The table of differences: one line per case (per mode where the
    modes differ), each with its reason's tag, then the reasons."""
    lines, tags = [], {}
    for name in CASES:
        said = {mode: (str(results[name, mode].fastcore), str(results[name, mode].nginx))
                for mode in MODES
                if not (isinstance(results[name, mode].fastcore, Verdict)
                        and isinstance(results[name, mode].nginx, Verdict)
                        and results[name, mode].fastcore.agrees(results[name, mode].nginx))}
        if not said:
            continue
        difference = DIFFERENCES.get(name)
        tag = difference.reason.tag if difference else "NOT LISTED"
        if difference:
            tags[tag] = difference.reason.text
        modes = [""] if len(set(said.values())) == 1 and len(said) == len(MODES) else \
            [f" [{mode}]" for mode in said]
        for mode, (ours, theirs) in zip(modes, said.values()):
            lines.append(f"  [{tag}] {name}{mode}: fastcore {ours}; nginx {theirs}")
    differ = sum(1 for key, o in results.items() if not (
        isinstance(o.fastcore, Verdict) and isinstance(o.nginx, Verdict)
        and o.fastcore.agrees(o.nginx)))
    lines.insert(0, f"nginx differential: {len(CASES)} cases x {len(MODES)} modes: "
                    f"{len(results) - differ} agree, {differ} differ")
    lines += [f"  {tag}: {text}" for tag, text in tags.items()]
    print_at_the_end(request, lines)


# -- where fastcore answers otherwise, and why ----------------------------------

@dataclass(frozen=True)
class Reason:
    tag: str                # a short name, for the table
    text: str               # the RFC section that makes fastcore's answer right


BARE_LF = Reason("bare-lf", (
    "RFC 9112 section 2.2: a recipient MAY take a bare LF for a line end; fastcore does "
    "not, as two parsers that end a line at different bytes frame different requests "
    "(section 11.2, request smuggling)"))
CHUNK_LINE = Reason("chunk-line", (
    "RFC 9112 section 7.1: chunk-size lines, chunk data and the last chunk each end with "
    "CRLF; the MAY of section 2.2 for a bare LF covers the start-line and fields"))
CHUNK_EXT = Reason("chunk-ext", (
    "RFC 9112 section 7.1.1: chunk-ext = *( BWS \";\" BWS chunk-ext-name [ BWS \"=\" BWS "
    "chunk-ext-val ] ), a token name and a token or quoted-string value; a chunk line "
    "outside it is malformed, where nginx skips whatever precedes the CRLF"))
TRAILER = Reason("trailer", (
    "RFC 9110 section 6.5.1: a field may be sent as a trailer only if its definition "
    "allows it; Content-Length, Transfer-Encoding and Host frame or route the request, so "
    "fastcore refuses them as trailers where nginx drops them"))
TE_OWS = Reason("te-ows", (
    "RFC 9110 section 5.5 makes trailing SP and HTAB alike OWS; llhttp takes chunked "
    "followed by HTAB for another coding, so chunked is not final (RFC 9112 section 6.3, "
    "item 4: 400), and fastcore refuses the SP form the same way: a framing field must "
    "not mean two things by the whitespace after it (nginx refuses the HTAB form, 501)"))
HOST = Reason("host", (
    "RFC 9112 section 3.2: a Host with an invalid value MUST get 400; the value is "
    "uri-host [ \":\" port ] (RFC 3986 section 3.2.2: a reg-name, an IPv4 address or an "
    "IP-literal in brackets; the port digits), where nginx refuses only whitespace, \"/\" "
    "and \"..\""))
EMPTY_HOST = Reason("empty-host", (
    "RFC 9112 section 3.2: a client sends an empty Host when the target URI has no "
    "authority, and an empty reg-name is a uri-host (RFC 3986 section 3.2.2)"))
VERSION_DIGITS = Reason("version-digits", (
    "RFC 9112 section 2.3: HTTP-version = HTTP-name \"/\" DIGIT \".\" DIGIT, one digit "
    "each, so HTTP/1.10 is malformed; nginx reads any number"))
NO_VERSION = Reason("no-version", (
    "RFC 9112 section 3: request-line = method SP request-target SP HTTP-version, and an "
    "invalid request-line SHOULD get 400; nginx answers a line without a version in "
    "HTTP/0.9 (a body without a status line), which fastcore does not speak"))
EXPECT_417 = Reason("expect-417", (
    "RFC 9110 section 10.1.1: a server that receives an expectation other than "
    "100-continue MAY answer 417, which fastcore does; nginx ignores it"))
OWS_HTAB = Reason("ows-htab", (
    "RFC 9110 section 5.5: the OWS around a field value is SP or HTAB and not part of it; "
    "nginx keeps an HTAB as part of Host, Content-Length and Transfer-Encoding"))

# Two reasons written for the gunicorn corpus, which apply here as well.
METHOD = Reason("method-501", METHOD_501)
CHUNK_EXT_SPACE = Reason("chunk-ext-bws", CHUNK_EXT_BWS)


@dataclass(frozen=True)
class Difference:
    answered: int           # fastcore's verdict: requests answered before it stopped
    reason: Reason


def differing(answered: int, reason: Reason, *names: str) -> dict[str, Difference]:
    assert names
    return {name: Difference(answered, reason) for name in names}


DIFFERENCES: dict[str, Difference] = {
    **differing(0, BARE_LF, *(f"smuggling/{v}" for v in (
        "lf-in-value", "lf-after-request-line", "lf-after-field", "lf-ending-the-head",
        "lf-only"))),
    **differing(0, CHUNK_LINE, *(f"smuggling/{v}" for v in (
        "lf-after-chunk-size", "lf-after-chunk-data", "lf-after-last-chunk"))),
    **differing(0, CHUNK_EXT, *(f"smuggling/{v}" for v in (
        "chunk-ext-empty", "chunk-ext-unterminated-quote", "chunk-ext-control-byte",
        "chunk-ext-name-not-token"))),
    **differing(0, CHUNK_EXT_SPACE, "smuggling/chunk-ext-whitespace"),
    **differing(0, TRAILER, *(f"smuggling/{v}" for v in (
        "trailer-content-length", "trailer-transfer-encoding", "trailer-host"))),
    **differing(0, TE_OWS, "smuggling/te-chunked-then-space"),
    **differing(0, METHOD, "smuggling/unknown-method", "unknown-method/BREW / HTTP/1.1",
                "unknown-method/HELLO / HTTP/1.1", "unknown-method/BREW / HTTP/1.2",
                "unknown-method/BREW http://x/ HTTP/1.1"),
    # nginx refuses a Host with whitespace, "/", "..", or no name before ":".
    **differing(0, HOST, *(f"bad-host/{h!r}" for h in BAD_HOSTS if h not in (
        "a b", "a\tb", "a:8 0", "a/../b", "a/b", "/", "..", "a..b", ".", "::1"))),
    **differing(1, EMPTY_HOST, "good-host/''"),
    **differing(0, VERSION_DIGITS, line_case(b"GET / HTTP/1.10\r\nHost: x\r\n\r\n")),
    **differing(0, NO_VERSION, *map(line_case, (
        b"BREW /\r\nHost: x\r\n\r\n", b"GET /\r\n\r\n", b"GET /\r\nHost: x\r\n\r\n"))),
    **differing(0, EXPECT_417, "edge/expect-unknown", "edge/expect-100-continue-and-unknown"),
    **differing(1, OWS_HTAB, "edge/host-between-tabs", "edge/content-length-between-tabs",
                "edge/te-after-a-tab"),
}


# -- the tests ------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_verdict(outcomes, name, mode):
    """fastcore's verdict is nginx's, or the one DIFFERENCES gives, where
    nginx's is another."""
    outcome = outcomes[name, mode]
    assert isinstance(outcome.fastcore, Verdict), outcome.fastcore
    assert isinstance(outcome.nginx, Verdict), f"nginx: {outcome.nginx}"
    difference = DIFFERENCES.get(name)
    if difference is None:
        assert outcome.fastcore.agrees(outcome.nginx), \
            f"fastcore {outcome.fastcore}, nginx {outcome.nginx}"
    else:
        assert outcome.fastcore.answered == difference.answered, str(outcome.fastcore)
        assert not outcome.fastcore.agrees(outcome.nginx), \
            f"listed as a difference, but both say {outcome.fastcore}"


def test_the_cases():
    """At least 100 distinct requests, and every listed difference names a
    case and an RFC section."""
    assert len(CASES) >= 100 and len(set(CASES.values())) == len(CASES)
    assert set(DIFFERENCES) <= set(CASES)
    for name, difference in DIFFERENCES.items():
        assert "RFC 9" in difference.reason.text and "section" in difference.reason.text, name
