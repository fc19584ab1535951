"""Request parsing against a peer's verdicts: every case of gunicorn's
request corpus (tests/data/gunicorn/cases.json, 137 raw requests from
gunicorn's own parser tests, MIT licence) replayed against a live fastcore
server, whole and one byte at a time.

- A ``valid`` case must reach the handler (an echo) with the method, target,
  version, fields (names case-insensitive, order kept) and body that
  gunicorn expects, each request answered 200, keep-alive as RFC 9112
  section 9.3 says, and nothing answered beyond the expected requests.
- An ``invalid`` case must be refused with a 4xx/5xx status that says why
  (400, 413, 414, 431, 501, 505), with ``Connection: close``, the server
  closing the connection by itself, and no handler ever seeing it.
- Cases whose config enables a gunicorn feature fastcore lacks are skipped,
  with the reason (SKIPPED_FEATURES).
- Cases where fastcore deliberately answers differently are listed by name
  in DIFFERENCES with the RFC 9110/9112 section that allows it; the test
  asserts exactly what fastcore promises for them instead.

Limits: every case runs with fastcore's equivalent of gunicorn's effective
settings (its defaults, overridden by the case's config). From gunicorn's
parser (gunicorn/http/message.py at 65ac1a3a):

- ``limit_request_line`` L (default 4094; capped at 8190; 0 = unlimited):
  gunicorn refuses a request line longer than L bytes, CRLF excluded
  (``read_line``: ``idx > limit``). fastcore's ``max_request_line`` counts
  the same bytes (method SP target SP HTTP-version), so it is L.
- ``limit_request_field_size`` S (default 8190; 0 or less = 8190):
  gunicorn refuses a field line when ``len(line) + 2 > S``, i.e. counting
  its CRLF. fastcore counts ``len(name) + len(value) + 2``, "Name: value"
  without the CRLF, so for the usual single space after the colon
  ``max_header_field = S - 2``.
- ``limit_request_fields`` N (default 100; 0 or less, or over 32768, =
  32768): gunicorn refuses the (N+1)th field, as fastcore's
  ``max_header_count = N`` does.
- gunicorn caps the buffered header block at N * (S + 2) + 4 bytes
  (``max_buffer_headers``): ``max_header_bytes`` is that.

The agreement count is printed at the end of the module ("gunicorn
conformance: ...") and, with FASTCORE_CONFORMANCE_REPORT=path, written
there as JSON.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import dataclass, field

import pytest

from apps import EchoApp
from conftest import print_at_the_end
from helpers import RawClient, parse_complete, serving

CASES_FILE = os.environ.get("FASTCORE_GUNICORN_CASES") or os.path.join(
    os.path.dirname(__file__), "data", "gunicorn", "cases.json")
with open(CASES_FILE) as _file:
    CASES = {case["name"]: case for case in json.load(_file)}

# -- the limits mapping -----------------------------------------------------

LIMIT_KEYS = {"limit_request_line", "limit_request_fields", "limit_request_field_size"}


def fastcore_limits(config: dict) -> dict:
    """fastcore limits equivalent to gunicorn's effective settings (see the
    module docstring for the derivation)."""
    line = config.get("limit_request_line", 4094)
    line = 1 << 20 if line == 0 else 8190 if line < 0 or line >= 8190 else line
    fields = config.get("limit_request_fields", 100)
    if fields <= 0 or fields > 32768:
        fields = 32768
    size = config.get("limit_request_field_size", 8190)
    if size <= 0:
        size = 8190
    return {"max_request_line": line, "max_header_field": size - 2,
            "max_header_count": fields, "max_header_bytes": fields * (size + 2) + 4}


# -- cases skipped: gunicorn features fastcore does not have ---------------

SKIPPED_FEATURES = {
    "proxy_protocol": "fastcore does not speak the PROXY protocol; its front "
                      "proxy is expected to terminate it",
    "header_map": "gunicorn's header_map decides how '_' and '-' names map onto "
                  "WSGI environ keys; fastcore has no environ and no such setting",
    "forwarded_allow_ips": "fastcore does not interpret X-Forwarded-* fields",
}

# gunicorn settings that only make it accept what it otherwise refuses.
# fastcore has no such setting and always refuses those inputs, so these
# cases run with fastcore's defaults and are listed as differences below.
LENIENCY_KEYS = {"permit_obsolete_folding", "strip_header_spaces",
                 "permit_unconventional_http_method", "casefold_http_method"}


def skip_reason(case: dict) -> str | None:
    features = sorted(set(case["config"]) - LIMIT_KEYS - LENIENCY_KEYS)
    if not features:
        return None
    return "; ".join(f"{name}: {SKIPPED_FEATURES[name]}" for name in features)


# -- cases where fastcore deliberately differs ------------------------------

HOST = ("RFC 9112 section 3.2: a server MUST respond with 400 to an HTTP/1.1 "
        "request that lacks a Host field")
TE_CL = ("RFC 9112 section 6.1: a server MAY reject a request that has both "
         "Transfer-Encoding and Content-Length, and must then close")
TRAILER = ("RFC 9110 section 6.5.1: a sender MUST NOT send a field as a trailer "
           "unless its definition allows it; Content-Type describes the content "
           "and is needed before it, so the request is refused")
CHUNK_EXT_BWS = ("RFC 9112 section 7.1.1 writes chunk-ext with BWS, which RFC 9110 "
                 "section 5.6.3 forbids senders to generate; llhttp (leniencies "
                 "off) refuses it, as a chunk-extension parsing mismatch is a "
                 "smuggling vector. Stricter than a recipient needs to be")
TE_CODING = ("RFC 9112 section 6.1: a server that receives a transfer coding it "
             "does not understand SHOULD respond with 501; fastcore decodes only "
             "chunked, and handing on a body labelled gzip or identity as if it "
             "were plain would be wrong")
NON_ASCII = ("RFC 9112 section 3.2 (request-target is an ASCII URI, RFC 3986) and "
             "section 3: an invalid request-line SHOULD get 400")
METHOD_501 = ("RFC 9110 section 9.1: a method the server does not recognise "
              "SHOULD get 501 (Not Implemented)")
CONNECT_501 = ("RFC 9110 sections 9.3.6 and 15.6.2: CONNECT asks for a tunnel, "
               "which fastcore (not a proxy) does not implement: 501")
OBS_FOLD = ("RFC 9112 section 5.2: a server that receives obs-fold in a request "
            "MUST either reject it with 400 or replace it with SP; fastcore rejects "
            "it (gunicorn accepts it only with permit_obsolete_folding)")
SPACE_BEFORE_COLON = ("RFC 9112 section 5.1: a server MUST reject, with 400, a "
                      "request with whitespace between a field name and the colon "
                      "(gunicorn strips it only with strip_header_spaces)")
INCOMPLETE = ("RFC 9112 sections 6.3 (item 5) and 8: a body shorter than its "
              "Content-Length is an incomplete message; the server may answer "
              "with an error and closes (gunicorn hands the truncated body on)")
UNDERSCORE = ("RFC 9110 sections 5.1 and 5.6.2: '_' is a tchar, so "
              "Transfer_Encoding and Content_Length are ordinary fields; "
              "fastcore hands them to the handler as sent (it has no CGI environ "
              "where '_' and '-' collide), gunicorn drops them")


@dataclass
class Refused:
    """fastcore answers `answered` requests as gunicorn expects, then refuses
    the next one with `status` and closes. With at_eof the refusal comes
    when the client half-closes (the request is incomplete)."""
    status: int
    answered: int = 0
    at_eof: bool = False


@dataclass
class Accepted:
    """Accepted, but the handler sees these requests (gunicorn's expected
    parse, changed where noted)."""
    requests: list[dict]


@dataclass
class Difference:
    reasons: list[str]
    expect: Refused | Accepted
    # With "Host: x" added to each HTTP/1.1 request: "agree" if Host was the
    # only difference, else how fastcore answers then.
    with_host: str | Refused | None = None


def _valid_040() -> Accepted:
    (request,) = CASES["valid/040"]["requests"]
    return Accepted([dict(request, headers=[
        ["TRANSFER_ENCODING", "tricked"], ["CONTENT-LENGTH", "7"],
        ["CONTENT_LENGTH", "-1E23"]])])


DIFFERENCES: dict[str, Difference] = {
    **{name: Difference([HOST], Refused(400), "agree") for name in (
        "valid/004", "valid/005", "valid/006", "valid/007", "valid/010",
        "valid/011", "valid/014", "valid/018", "valid/021", "valid/023",
        "valid/100")},
    "valid/022": Difference([HOST], Refused(400, answered=1), "agree"),
    # A coding other than chunked is refused as its field arrives, before
    # the missing Host (or a Content-Length beside it) is noticed.
    **{name: Difference([HOST, TE_CODING], Refused(501), Refused(501)) for name in (
        "valid/025", "valid/025_line", "valid/029", "valid/030")},
    "valid/009": Difference([HOST, TE_CODING, TE_CL], Refused(501), Refused(501)),
    "valid/rfc9112_smuggle_gzip_chunked_01": Difference([TE_CODING], Refused(501)),
    "valid/rfc9112_smuggle_te_identity_chunked_01": Difference([TE_CODING], Refused(501)),
    "valid/012": Difference([HOST, TRAILER], Refused(400), Refused(400)),
    "valid/013": Difference([HOST, CHUNK_EXT_BWS], Refused(400), Refused(400)),
    "valid/027": Difference([NON_ASCII], Refused(400)),
    "valid/031": Difference([METHOD_501], Refused(501)),
    "valid/031compat": Difference([METHOD_501], Refused(501)),
    "valid/031compat2": Difference([METHOD_501], Refused(501)),
    "valid/028": Difference([SPACE_BEFORE_COLON], Refused(400)),
    "valid/compat_obs_fold": Difference([OBS_FOLD], Refused(400)),
    "valid/compat_obs_fold_huge": Difference([OBS_FOLD], Refused(400)),
    "valid/040": Difference([UNDERSCORE], _valid_040()),
    "valid/099": Difference([INCOMPLETE], Refused(400, at_eof=True)),
    "valid/rfc9112_target_authority_connect_01": Difference([CONNECT_501], Refused(501)),
    "valid/rfc9112_target_authority_ipv6_01": Difference([CONNECT_501], Refused(501)),
}

# -- what an invalid case gets ----------------------------------------------

STATUS_BY_GUNICORN_ERROR = {"LimitRequestLine": 414, "LimitRequestHeaders": 431}
STATUS_BY_CASE = {
    # "-bl" is a well-formed token that names no method: 501 (RFC 9110
    # section 9.1). Still a refusal, so fastcore agrees with gunicorn.
    "invalid/003c": 501,
    # A well-formed but unsupported version (RFC 9110 section 15.6.6).
    "invalid/version_02": 505,
    # A transfer coding other than chunked, on a line of its own: 501 (RFC
    # 9112 section 6.1). In the other chunked_* cases llhttp refuses the
    # value itself (chunked not last) before fastcore sees it: 400.
    "invalid/chunked_04": 501,
    # obs-fold is refused as such (400) before the folded line's size could
    # count (gunicorn, permitting the fold, runs into its field limit: 431).
    "invalid/013": 400,
}
# Errors gunicorn raises only when the input ends: the client half-closes.
AT_EOF_ERRORS = {"NoMoreData", "ChunkMissingTerminator"}


def invalid_expectation(case: dict) -> Refused:
    status = STATUS_BY_CASE.get(
        case["name"], STATUS_BY_GUNICORN_ERROR.get(case["gunicorn_error"], 400))
    return Refused(status, at_eof=case["gunicorn_error"] in AT_EOF_ERRORS)


# -- running a case -----------------------------------------------------------

@dataclass
class Outcomes:
    attempted: dict[str, set[str]] = field(default_factory=dict)
    passed: dict[str, set[str]] = field(default_factory=dict)

    def attempt(self, name: str, mode: str) -> None:
        self.attempted.setdefault(name, set()).add(mode)

    def record(self, name: str, mode: str) -> None:
        self.passed.setdefault(name, set()).add(mode)


OUTCOMES = Outcomes()
MODES = ("whole", "bytewise")


@pytest.fixture(scope="module")
def servers():
    """One EchoApp server per distinct limits mapping, for the module."""
    running: dict[tuple, tuple] = {}
    with contextlib.ExitStack() as stack:
        def get(config: dict):
            limits = fastcore_limits(config)
            key = tuple(sorted(limits.items()))
            if key not in running:
                app = EchoApp()
                running[key] = (stack.enter_context(serving(app, **limits)), app)
            return running[key]
        yield get


@pytest.fixture(scope="module", autouse=True)
def conformance_report(request):
    yield
    if not OUTCOMES.attempted:
        return
    classified = {name: category(name) for name in CASES}
    whole = set(MODES)
    agree = [n for n, c in classified.items() if c == "agree" and OUTCOMES.passed.get(n) == whole]
    differ = [n for n, c in classified.items() if c == "differ" and OUTCOMES.passed.get(n) == whole]
    skipped = [n for n, c in classified.items() if c == "skip"]
    not_run = [n for n, c in classified.items()
               if c != "skip" and OUTCOMES.attempted.get(n) != whole]
    failing = sorted(set(CASES) - set(agree) - set(differ) - set(skipped) - set(not_run))
    lines = [
        f"gunicorn conformance: {len(CASES)} cases: {len(agree)} agree, "
        f"{len(differ)} deliberately differ, {len(skipped)} skipped, "
        f"{len(failing)} failing" + (f", {len(not_run)} not run" if not_run else ""),
        f"  differ: {', '.join(differ)}",
        f"  skipped: {', '.join(skipped)}",
        f"  failing: {', '.join(failing) or '-'}",
    ]
    print_at_the_end(request, lines)
    path = os.environ.get("FASTCORE_CONFORMANCE_REPORT")
    if path:
        with open(path, "w") as out:
            json.dump({"agree": agree, "differ": differ, "skipped": skipped,
                       "failing": failing, "not_run": not_run}, out, indent=1)


def category(name: str) -> str:
    if skip_reason(CASES[name]):
        return "skip"
    return "differ" if name in DIFFERENCES else "agree"


def expected_close(request: dict) -> bool:
    """RFC 9112 section 9.3: does this request end the connection?"""
    tokens = {t.strip().lower() for n, v in request["headers"]
              if n.upper() == "CONNECTION" for t in v.split(",")}
    if request["version"] == [1, 0]:
        return "keep-alive" not in tokens
    return "close" in tokens


def check_echo(response, expected: dict, where: str) -> None:
    assert response.status == 200, f"{where}: {response.status} {response.body!r}"
    got = response.json()
    assert got["method"] == expected["method"], where
    assert got["target"] == expected["uri"], where
    assert got["version"] == "%d.%d" % tuple(expected["version"]), where
    assert [[n.upper(), v] for n, v in got["headers"]] == \
        [[n.upper(), v] for n, v in expected["headers"]], where
    assert got["body"] == expected["body"], where
    assert response.closes == expected_close(expected), \
        f"{where}: Connection field {response.header('connection')!r}"


def expect_accepted(server, app, raw: bytes, mode: str, requests: list[dict]) -> None:
    app.clear()                          # client ports are reused between tests
    with RawClient(server.port) as client:
        client.send(raw, mode)
        responses = client.read_responses(len(requests))
        assert len(responses) == len(requests), \
            f"{len(responses)} of {len(requests)} answered: {client.received[:400]!r}"
        for index, (response, expected) in enumerate(zip(responses, requests)):
            check_echo(response, expected, f"request {index + 1}")
        if not responses[-1].closes:
            # Anything beyond the expected requests would be answered now.
            client.shutdown_write()
        client.finish()
        assert len(parse_complete(client.received)) == len(requests), \
            f"more answers than requests: {client.received!r}"
        assert len(app.seen_from(client.local_port)) == len(requests)


def expect_refused(server, app, raw: bytes, mode: str, refused: Refused,
                   answered: list[dict]) -> None:
    app.clear()                          # client ports are reused between tests
    with RawClient(server.port) as client:
        client.send(raw, mode)
        if refused.at_eof:
            client.shutdown_write()
        # The server closes by itself: no half-close from the client.
        client.finish()
        responses = parse_complete(client.received)
        statuses = [r.status for r in responses]
        assert statuses == [200] * refused.answered + [refused.status], \
            f"{statuses}: {client.received[:600]!r}"
        for index, response in enumerate(responses[:-1]):
            check_echo(response, answered[index], f"request {index + 1}")
        assert responses[-1].closes, "a refusal must say Connection: close"
        assert len(app.seen_from(client.local_port)) == refused.answered, \
            "a refused request reached the handler"


def with_host(case: dict) -> bytes:
    """The case's bytes with "Host: x" added after the request line of each
    HTTP/1.1 request that lacks one."""
    raw = base64.b64decode(case["raw_b64"])
    pos = 0
    for request in case["requests"]:
        if request["version"] != [1, 1] or any(n.upper() == "HOST" for n, _ in request["headers"]):
            continue
        line = f"{request['method']} {request['uri']} HTTP/1.1\r\n".encode("latin-1")
        start = raw.index(line, pos)
        pos = start + len(line)
        raw = raw[:pos] + b"Host: x\r\n" + raw[pos:]
    return raw


def add_host(request: dict) -> dict:
    if request["version"] != [1, 1] or any(n.upper() == "HOST" for n, _ in request["headers"]):
        return request
    return dict(request, headers=[["HOST", "x"], *request["headers"]])


# -- the tests ------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_case(name, mode, servers):
    case = CASES[name]
    reason = skip_reason(case)
    if reason:
        pytest.skip(reason)
    OUTCOMES.attempt(name, mode)
    server, app = servers(case["config"])
    raw = base64.b64decode(case["raw_b64"])
    difference = DIFFERENCES.get(name)
    if difference is not None:
        expect = difference.expect
    elif case["kind"] == "valid":
        expect = Accepted(case["requests"])
    else:
        expect = invalid_expectation(case)
    if isinstance(expect, Accepted):
        expect_accepted(server, app, raw, mode, expect.requests)
    else:
        expect_refused(server, app, raw, mode, expect, case.get("requests", []))
    OUTCOMES.record(name, mode)


HOST_VARIANTS = [name for name, d in DIFFERENCES.items() if d.with_host is not None]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", HOST_VARIANTS)
def test_case_with_host_added(name, mode, servers):
    """For the cases refused for lacking Host: with Host added, they agree
    with gunicorn (Host was the only difference) or are refused for the
    other listed reason."""
    case = CASES[name]
    server, app = servers(case["config"])
    expect = DIFFERENCES[name].with_host
    requests = [add_host(r) for r in case["requests"]]
    if expect == "agree":
        expect_accepted(server, app, with_host(case), mode, requests)
    else:
        expect_refused(server, app, with_host(case), mode, expect, requests)


def test_every_case_is_classified():
    """The tables name real cases, every case is classified once, and each
    difference gives an RFC section."""
    assert len(CASES) == 137
    assert set(DIFFERENCES) <= set(CASES)
    assert set(STATUS_BY_CASE) <= set(CASES)
    for name, difference in DIFFERENCES.items():
        assert not skip_reason(CASES[name]), name
        assert difference.reasons and all("RFC 91" in r for r in difference.reasons), name
    for case in CASES.values():
        assert set(case["config"]) <= LIMIT_KEYS | LENIENCY_KEYS | set(SKIPPED_FEATURES), case["name"]
        if case["kind"] == "invalid":
            assert case["name"] not in DIFFERENCES or isinstance(
                DIFFERENCES[case["name"]].expect, Refused)
    counts = {c: sum(category(n) == c for n in CASES) for c in ("agree", "differ", "skip")}
    assert counts == {"agree": 137 - len(DIFFERENCES) - counts["skip"],
                      "differ": len(DIFFERENCES), "skip": counts["skip"]}
