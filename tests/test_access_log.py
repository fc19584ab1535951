"""The access log: one line per response through the ``fastcore.access``
logger, in the Combined Log Format (plus the duration) or as JSON, for the
responses of handlers and for those the engine makes itself (static files,
health, refusals, 408); escaped so that a client cannot forge a line; off
unless asked for when embedding and for ``fastcore run``, on for the demo
and ``fastcore static``."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import fastcore
from fastcore.access import AccessEntry, clf_time, escape
from helpers import RawClient, free_port, request_bytes, serving, wait_until

# host ident user [time] "request line" status bytes "referer" "agent" seconds
LINE = re.compile(r'^(?P<host>\S+) - - \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} '
                  r'[+-]\d{4})\] "(?P<request>[^"\\]*(?:\\.[^"\\]*)*)" (?P<status>\d{3}) '
                  r'(?P<bytes>\d+|-) "(?P<referer>[^"\\]*(?:\\.[^"\\]*)*)" '
                  r'"(?P<agent>[^"\\]*(?:\\.[^"\\]*)*)" (?P<duration>\d+\.\d{6})$')


class Lines(logging.Handler):
    """The formatted lines of the fastcore.access logger, as a file
    handler would write them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def wait(self, count: int) -> list[str]:
        wait_until(lambda: len(self.lines) >= count, what=f"{count} access lines")
        return self.lines


@pytest.fixture
def access():
    logger = logging.getLogger("fastcore.access")
    handler = Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def app(directory=None):
    site = fastcore.App()

    @site.route("/")
    def index(request):
        return b"hello"

    @site.route("/fail")
    def fail(request):
        raise RuntimeError("a handler failure, logged on purpose")

    @site.route("/stream")
    def stream(request):
        yield b"ab"
        yield b"cde"

    @site.route("/slow")
    def slow(request):
        time.sleep(0.05)
        return b"late"

    if directory is not None:
        site.static("/files", directory)
    return site


def parsed(line: str) -> dict[str, str]:
    match = LINE.match(line)
    assert match, f"not a combined line: {line!r}"
    return match.groupdict()


def ask(port, data, head=False):
    with RawClient(port) as client:
        client.send(data)
        return client.response(head=head)


# -- the combined format --------------------------------------------------------

def test_a_handlers_response_is_one_combined_line(access):
    with serving(app(), access_log=True) as server:
        ask(server.port, request_bytes(headers=[("Referer", "http://a.example/x"),
                                                ("User-Agent", "tester/1.0")]))
        line, = access.wait(1)
    fields = parsed(line)
    assert fields["host"] == "127.0.0.1"
    assert fields["request"] == "GET / HTTP/1.1"
    assert (fields["status"], fields["bytes"]) == ("200", "5")
    assert (fields["referer"], fields["agent"]) == ("http://a.example/x", "tester/1.0")
    assert 0 <= float(fields["duration"]) < 5


def test_the_time_field_is_the_clf_form_in_english_whatever_the_locale():
    # 2000-10-10 13:55:36 UTC, shown in the local zone with its offset.
    when = 971186136.0
    local = time.localtime(when)
    text = clf_time(when)
    assert re.fullmatch(r"\d{2}/Oct/2000:\d{2}:55:36 [+-]\d{4}", text), text
    offset = local.tm_gmtoff // 60
    assert text.endswith(f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}"
                         f"{abs(offset) % 60:02d}")


def test_the_duration_is_the_handlers_time(access):
    with serving(app(), access_log=True) as server:
        ask(server.port, request_bytes(path="/slow"))
        line, = access.wait(1)
    assert 0.05 <= float(parsed(line)["duration"]) < 5


def test_head_logs_no_body_bytes(access):
    with serving(app(), access_log=True) as server:
        response = ask(server.port, request_bytes("HEAD"), head=True)
        assert response.header("content-length") == "5"
        line, = access.wait(1)
    fields = parsed(line)
    assert (fields["request"], fields["status"], fields["bytes"]) == ("HEAD / HTTP/1.1",
                                                                       "200", "-")


def test_a_streamed_response_is_logged_when_it_ends_with_its_bytes(access):
    with serving(app(), access_log=True) as server:
        with RawClient(server.port, streaming=True) as client:
            client.send(request_bytes(path="/stream") + request_bytes())
            first = client.response()
            assert first.body == b"abcde"
            client.response()
        lines = access.wait(2)
    stream, after = (parsed(line) for line in lines)
    assert (stream["request"], stream["status"], stream["bytes"]) == (
        "GET /stream HTTP/1.1", "200", "5")
    assert after["request"] == "GET / HTTP/1.1"


def test_a_stream_its_client_leaves_is_logged_when_it_is_dropped(access):
    site = app()

    @site.route("/endless")
    def endless(request):
        while True:
            yield b"e" * 1000

    with serving(site, access_log=True) as server:
        with RawClient(server.port, streaming=True) as client:
            client.send(request_bytes(path="/endless"))
            client.read_at_least(5000)
        line, = access.wait(1)
    fields = parsed(line)
    assert (fields["request"], fields["status"]) == ("GET /endless HTTP/1.1", "200")
    assert int(fields["bytes"]) >= 5000 - 200 and int(fields["bytes"]) % 1000 == 0


def test_a_handler_failure_is_logged_as_500(access):
    with serving(app(), access_log=True) as server:
        assert ask(server.port, request_bytes(path="/fail")).status == 500
        line, = access.wait(1)
    assert parsed(line)["status"] == "500"


def test_static_files_and_misses_are_logged(access, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"0123456789")
    with serving(app(tmp_path), access_log=True) as server:
        for _ in range(2):                   # the second from the resolved-target cache
            assert ask(server.port, request_bytes(path="/files/a.txt")).body == b"0123456789"
        assert ask(server.port, request_bytes(path="/files/none")).status == 404
        lines = access.wait(3)
    got = [(f["request"], f["status"], f["bytes"]) for f in map(parsed, lines)]
    assert got == [("GET /files/a.txt HTTP/1.1", "200", "10")] * 2 + [
        ("GET /files/none HTTP/1.1", "404", got[2][2])]


def test_health_answers_are_logged(access):
    with serving(app(), access_log=True, health_path="/healthz") as server:
        assert ask(server.port, request_bytes(path="/healthz")).status == 200
        line, = access.wait(1)
    assert parsed(line)["request"] == "GET /healthz HTTP/1.1"


@pytest.mark.parametrize("data, limits, status", [
    (b"NOT A REQUEST\r\n\r\n", {}, 400),
    (request_bytes("POST", "/", body=b"x" * 100), {"max_body": 10}, 413),
    (request_bytes(headers=[("X-Big", "v" * 200)]), {"max_header_bytes": 100}, 431),
])
def test_refusals_are_logged_with_their_status(access, data, limits, status):
    with serving(app(), access_log=True, **limits) as server:
        assert ask(server.port, data).status == status
        line, = access.wait(1)
    fields = parsed(line)
    assert fields["status"] == str(status)
    assert fields["bytes"] != "-"            # the engine's error page
    if status != 400:
        assert fields["request"].startswith(("POST / HTTP/1.1", "GET / HTTP/1.1"))


def test_a_timeout_is_logged_as_408_with_how_long_the_client_took(access):
    with serving(app(), access_log=True, header_timeout=0.3) as server:
        with RawClient(server.port) as client:
            client.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
            assert client.response().status == 408
        line, = access.wait(1)
    fields = parsed(line)
    assert fields["status"] == "408"
    assert float(fields["duration"]) >= 0.25


def test_with_handler_threads_too(access):
    with serving(app(), access_log=True, threads=2, health_path="/h") as server:
        with RawClient(server.port, streaming=True) as client:
            client.send(request_bytes() + request_bytes(path="/h") + request_bytes(path="/stream")
                        + request_bytes(path="/fail") + b"NOT A REQUEST\r\n\r\n")
            for _ in range(5):
                client.response()
        lines = access.wait(5)
    got = [(f["request"], f["status"], f["bytes"]) for f in map(parsed, lines)]
    assert got == [("GET / HTTP/1.1", "200", "5"), ("GET /h HTTP/1.1", "200", "3"),
                   ("GET /stream HTTP/1.1", "200", "5"), ("GET /fail HTTP/1.1", "500", got[3][2]),
                   ("-", "400", got[4][2])]


def test_a_503_of_a_full_handler_pool_is_logged(access):
    site = app()
    release = threading.Event()

    @site.route("/wait")
    def wait(request):
        release.wait(10)
        return b"done"

    with serving(site, access_log=True, threads=1, max_pending=1) as server:
        busy = []
        try:
            shed = None
            for _ in range(5):                 # until the thread and the queue are taken
                client = RawClient(server.port)
                busy.append(client)
                client.send(request_bytes(path="/wait"))
                client.read(1.0)                # the busy ones stay unanswered
                if client.received:
                    shed = client.response()
                    break
            assert shed is not None and shed.status == 503
            assert shed.header("retry-after") == "1"
            line, = access.wait(1)
            assert (parsed(line)["request"], parsed(line)["status"]) == (
                "GET /wait HTTP/1.1", "503")
        finally:
            release.set()
            for client in busy:
                client.close()


# -- a hostile client cannot forge a line ---------------------------------------

def test_quotes_and_control_bytes_are_escaped():
    assert escape(b'a"b\\c') == 'a\\"b\\\\c'
    assert escape(b"x\r\ny\x00\x7f\xff") == "x\\x0D\\x0Ay\\x00\\x7F\\xFF"
    assert escape(None) == "-"


def test_a_hostile_target_and_agent_stay_inside_their_fields(access):
    # What a field value may hold (RFC 9110 section 5.5): quotes, tabs,
    # backslashes and obs-text among them.
    agent = 'x" 200 1 "-" "forged\t\xe9\\'
    target = '/?q="%20\\"'
    with serving(app(), access_log=True) as server:
        ask(server.port, f'GET {target} HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\n\r\n'
            .encode("latin-1"))
        line, = access.wait(1)
    assert "\n" not in line and "\r" not in line
    fields = parsed(line)
    assert fields["request"] == 'GET /?q=\\"%20\\\\\\" HTTP/1.1'
    assert fields["agent"] == 'x\\" 200 1 \\"-\\" \\"forged\\x09\\xE9\\\\'
    assert fields["status"] == "200"


@pytest.mark.parametrize("data", [
    b"GET /\x1b[2J\x00\r\nforged HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a\"b HTTP/1.1\r\nHost: x\r\nUser-Agent: a\x00\nforged\r\n\r\n",
])
def test_a_refused_request_line_cannot_forge_a_line(access, data):
    with serving(app(), access_log=True) as server:
        assert ask(server.port, data).status == 400
        line, = access.wait(1)
    assert parsed(line)["status"] == "400"
    assert all(32 <= ord(c) < 127 for c in line), line


# -- the JSON option --------------------------------------------------------------

def test_the_json_format(access):
    with serving(app(), access_log=True, access_log_format="json") as server:
        ask(server.port, request_bytes(headers=[("User-Agent", 'a "b"\t\xe9')]))
        ask(server.port, b"NOT A REQUEST\r\n\r\n")
        lines = access.wait(2)
    entry, refusal = (json.loads(line) for line in lines)
    assert {k: entry[k] for k in entry if k not in ("time", "duration")} == {
        "client": "127.0.0.1", "method": "GET", "target": "/", "version": "HTTP/1.1",
        "status": 200, "bytes": 5, "referer": None, "user_agent": 'a "b"\t\xe9'}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d", entry["time"])
    assert 0 <= entry["duration"] < 5
    assert (refusal["status"], refusal["method"], refusal["target"]) == (400, None, None)
    assert 0 <= refusal["duration"] < 5
    assert "\n" not in lines[0]


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="combined, json"):
        fastcore.Server(app(), port=0, access_log=True, access_log_format="apache")


def test_entries_format_lazily():
    entry = AccessEntry(0.0, ("10.0.0.1", 5), b"GET", b"/", 10, 204, 0, 0.5, None, None, False)
    assert str(entry).startswith('10.0.0.1 - - [')
    assert str(entry).endswith('] "GET / HTTP/1.0" 204 - "-" "-" 0.500000')


# -- off by default where it should be ------------------------------------------

def test_embedding_logs_nothing_unless_asked(access):
    with serving(app()) as server:
        ask(server.port, request_bytes())
        # A second server, logging, on the same logger: its line is the
        # only one (the first wrote none before it answered).
    with serving(app(), access_log=True) as server:
        ask(server.port, request_bytes(path="/nothing"))
        line, = access.wait(1)
    assert parsed(line)["request"] == "GET /nothing HTTP/1.1"
    assert len(access.lines) == 1


def cli(args, cwd=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "fastcore", *args], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    line = process.stdout.readline()
    assert "http://" in line, line + process.stderr.read()
    return process


def lines_after(process, port, paths):
    # Requests, then a graceful stop: what the process wrote to stderr.
    for path in paths:
        ask(port, request_bytes(path=path))
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    return [line for line in err.splitlines() if line]


def test_the_demo_logs_each_response():
    port = free_port()
    lines = lines_after(cli(["--port", str(port)]), port, ["/", "/nope"])
    assert [parsed(line)["request"] for line in lines] == ["GET / HTTP/1.1",
                                                          "GET /nope HTTP/1.1"]


def test_static_logs_by_default_and_not_with_no_access_log(tmp_path):
    (tmp_path / "index.html").write_text("<p>hi</p>")
    port = free_port()
    lines = lines_after(cli(["static", str(tmp_path), "--port", str(port)]), port, ["/"])
    assert [(f["request"], f["status"]) for f in map(parsed, lines)] == [
        ("GET / HTTP/1.1", "200")]
    port = free_port()
    assert lines_after(cli(["static", str(tmp_path), "--port", str(port),
                            "--no-access-log"]), port, ["/"]) == []


def test_run_logs_nothing_unless_asked(tmp_path):
    (tmp_path / "mysite.py").write_text(textwrap.dedent("""
        import fastcore
        app = fastcore.App()

        @app.route("/")
        def index(request):
            return "hi"
    """))
    port = free_port()
    assert lines_after(cli(["run", "mysite:app", "--port", str(port)], cwd=tmp_path),
                       port, ["/"]) == []
    port = free_port()
    lines = lines_after(cli(["run", "mysite:app", "--port", str(port), "--access-log",
                             "--access-log-format", "json"], cwd=tmp_path), port, ["/"])
    assert [json.loads(line)["status"] for line in lines] == [200]


def test_log_level_warning_silences_access_lines():
    port = free_port()
    assert lines_after(cli(["--port", str(port), "--log-level", "warning"]),
                       port, ["/"]) == []
