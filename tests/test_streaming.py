"""Streamed responses: iterators, generators, Stream and EventStream, framed
as chunked (HTTP/1.1), by a declared length, or by the close (HTTP/1.0);
pulled only while the output is under the high-water mark; each chunk sent
as it is produced; the source closed however the body ends."""

from __future__ import annotations

import logging
import subprocess
import threading
import time

import pytest

import fastcore
from apps import hello_app
from conftest import require_tool
from helpers import WAIT, RawClient, request_bytes, wait_until
from server_process import ServerProcess, rss_kib


class Source:
    """An iterable of chunks that records how far it was read and whether
    it was closed (the engine must call close() however the body ends)."""

    def __init__(self, chunks, fail_after: int | None = None) -> None:
        self.chunks = list(chunks)
        self.fail_after = fail_after
        self.pulled = 0
        self.last_pull = time.monotonic()
        self.closed = threading.Event()

    def __iter__(self):
        return self

    def __next__(self):
        if self.fail_after is not None and self.pulled == self.fail_after:
            raise RuntimeError("the source failed")
        if self.pulled == len(self.chunks):
            raise StopIteration
        self.pulled += 1
        self.last_pull = time.monotonic()
        return self.chunks[self.pulled - 1]

    def close(self) -> None:
        self.closed.set()


def stream_app(**routes):
    """hello_app plus routes returning what each given factory makes."""
    app = hello_app()
    for path, make in routes.items():
        app.add_route(f"/{path}", lambda request, make=make: make(request))
    return app


MODES = ["whole", "bytewise"]


# -- framing -------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_a_generator_goes_out_chunked_then_the_connection_goes_on(serve, mode):
    def numbers(request):
        for i in range(5):
            yield f"line {i}\n"               # str chunks are sent as UTF-8
        yield b""                            # an empty chunk is skipped

    with serve(stream_app(numbers=numbers)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/numbers") + request_bytes(), mode)
        response = client.response()
        assert response.framing == "chunked"
        assert response.header("transfer-encoding") == "chunked"
        assert response.header("content-length") is None
        assert response.body == b"".join(f"line {i}\n".encode() for i in range(5))
        assert client.response().body == b"<h1>Hello, World!</h1>"    # in order
        client.close()


def test_an_http10_client_gets_a_body_delimited_by_the_close(serve):
    source = Source([b"one ", b"two"])
    with serve(stream_app(s=lambda request: source)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/s", version="1.0",
                                  headers=[("Connection", "keep-alive")]))
        response = client.response()
        assert response.framing == "close"
        assert response.header("connection") == "close"
        assert response.header("transfer-encoding") is None
        assert response.body == b"one two"
        assert client.closed()
        assert source.closed.wait(WAIT)


def test_a_declared_length_is_sent_as_content_length(serve):
    def sized(request):
        return fastcore.Stream(iter([b"abc", b"def"]), length=6, content_type="text/plain",
                               headers={"X-Sized": "yes"})

    with serve(stream_app(sized=sized)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/sized") + request_bytes())
        response = client.response()
        assert (response.framing, response.body) == ("length", b"abcdef")
        assert response.header("x-sized") == "yes"
        assert response.header("content-type") == "text/plain"
        assert client.response().status == 200               # kept alive
        client.close()


@pytest.mark.parametrize("chunks, expected", [
    ([b"abc"], b"abc"),                   # shorter than declared
    ([b"abc", b"defghij"], b"abcdef"),    # longer: cut at the length
])
def test_a_body_off_its_declared_length_ends_the_connection(serve, chunks, expected, caplog):
    source = Source(chunks)
    with serve(stream_app(off=lambda request: fastcore.Stream(source, length=6))) as server:
        client = RawClient(server.port, streaming=True)
        with caplog.at_level(logging.WARNING, logger="fastcore"):
            client.send(request_bytes(path="/off") + request_bytes())
            data = client.finish()                   # closed, nothing after it
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert data.endswith(b"\r\n\r\n" + expected)
        assert b"Content-Length: 6\r\n" in data
        assert source.closed.wait(WAIT)
        assert "declared length" in caplog.text


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_close_the_source_unread(serve, status):
    source = Source([b"never sent"])
    with serve(stream_app(empty=lambda request: fastcore.Stream(source, status=status))) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/empty") + request_bytes())
        response = client.response()
        assert response.status == status and response.body == b""
        assert response.header("transfer-encoding") is None
        assert client.response().status == 200
        assert source.closed.wait(WAIT) and source.pulled == 0
        client.close()


def test_head_gets_the_fields_and_the_source_is_closed_unread(serve):
    source = Source([b"never sent"])
    with serve(stream_app(s=lambda request: source)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes("HEAD", "/s") + request_bytes())
        response = client.response(head=True)
        assert response.header("transfer-encoding") == "chunked"    # as for GET
        assert client.response().body == b"<h1>Hello, World!</h1>"
        assert source.closed.wait(WAIT) and source.pulled == 0
        client.close()


# -- ending ----------------------------------------------------------------------

def test_the_source_is_closed_at_the_end(serve):
    source = Source([b"a", b"b"])
    with serve(stream_app(s=lambda request: source)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/s"))
        assert client.response().body == b"ab"
        assert source.closed.wait(WAIT)
        client.close()


def test_an_error_mid_stream_is_logged_and_ends_the_body_unfinished(serve, caplog):
    source = Source([b"first ", b"second "], fail_after=2)
    with serve(stream_app(s=lambda request: source)) as server:
        client = RawClient(server.port, streaming=True)
        with caplog.at_level(logging.ERROR, logger="fastcore"):
            client.send(request_bytes(path="/s") + request_bytes())
            data = client.finish()
        # The chunks produced before the error arrived, and no last chunk:
        # the client can tell that the body is incomplete.
        assert b"6\r\nfirst \r\n7\r\nsecond \r\n" in data
        assert not data.endswith(b"0\r\n\r\n")
        assert data.count(b"HTTP/1.1") == 1           # the next request is not answered
        assert source.closed.wait(WAIT)
        record = next(r for r in caplog.records if "streamed body failed" in r.getMessage())
        assert record.exc_info[0] is RuntimeError


def test_a_chunk_of_the_wrong_type_ends_the_body_unfinished(serve, caplog):
    with serve(stream_app(s=lambda request: iter([b"ok", 42]))) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/s"))
        data = client.finish()
        assert b"2\r\nok\r\n" in data and not data.endswith(b"0\r\n\r\n")


def test_each_chunk_is_sent_when_it_is_produced(serve):
    # The generator waits for the client to have the first chunk before it
    # produces the second: a server that held chunks back until a buffer
    # filled would leave both waiting (and the test would fail at WAIT).
    received_first = threading.Event()

    def paced(request):
        yield b"first"
        assert received_first.wait(WAIT), "the first chunk never reached the client"
        yield b"second"

    with serve(stream_app(paced=paced)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/paced"))
        client.read_until(lambda: b"5\r\nfirst\r\n" in client.received, "the first chunk")
        received_first.set()
        assert client.response().body == b"firstsecond"
        client.close()


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_client_that_leaves_mid_stream_has_its_source_closed(serve, how):
    gone_at = []

    class Endless(Source):
        def __next__(self):
            self.pulled += 1
            return b"x" * 65536

    source = Endless([])
    with serve(stream_app(forever=lambda request: source)) as server:
        client = RawClient(server.port, streaming=True, rcvbuf=64 * 1024)
        client.send(request_bytes(path="/forever"))
        client.read_at_least(100_000)
        gone_at.append(time.monotonic())
        client.reset() if how == "reset" else client.close()
        assert source.closed.wait(WAIT)
        delay = time.monotonic() - gone_at[0]
        print(f"close() {delay * 1000:.1f} ms after the client left ({how})")
        wait_until(lambda: server.connections == 0, what="the connection closed")


def test_pulling_stops_while_the_client_does_not_read(serve):
    # Backpressure: with the client not reading, the source is pulled only
    # until the output passes the high-water mark (plus what the kernel's
    # buffers took), never the whole of it.
    source = Source([b"y" * 65536] * 10_000)            # 655 MB if all pulled
    high_water = 256 * 1024
    with serve(stream_app(huge=lambda request: source), write_high_water=high_water) as server:
        client = RawClient(server.port, streaming=True, rcvbuf=64 * 1024)
        client.send(request_bytes(path="/huge"))
        client.read_at_least(1)
        # Let the kernel buffers fill: the count settles once they are full.
        wait_until(lambda: _settled(source), what="pulling to stop")
        assert source.pulled * 65536 < high_water + 16 * 1024 * 1024
        # Reading again resumes it.
        before = source.pulled
        client.read_at_least(len(client.received) + 4 * 1024 * 1024)
        assert source.pulled > before
        client.close()
        assert source.closed.wait(WAIT)


def _settled(source: Source, quiet: float = 0.3) -> bool:
    # No event says that pulling has stopped: the source has not been
    # pulled for `quiet` seconds.
    return time.monotonic() - source.last_pull > quiet


def test_another_client_is_served_while_a_stream_is_sent(serve):
    source = Source([b"z" * 65536] * 2000)               # 131 MB
    with serve(stream_app(huge=lambda request: source)) as server:
        streaming = RawClient(server.port, streaming=True)
        streaming.send(request_bytes(path="/huge"))
        streaming.read_at_least(1_000_000)
        other = RawClient(server.port)
        latencies = []
        for _ in range(50):
            started = time.monotonic()
            other.send(request_bytes())
            assert other.response().status == 200
            latencies.append(time.monotonic() - started)
            streaming.read(0)
        latencies.sort()
        print(f"beside a stream: p50 {latencies[25] * 1000:.2f} ms, "
              f"max {latencies[-1] * 1000:.2f} ms")
        streaming.close()
        other.close()


def test_a_streaming_server_stops_gracefully_once_the_stream_ends():
    release = threading.Event()

    def slow(request):
        yield b"started"
        assert release.wait(WAIT)
        yield b" and done"

    server = fastcore.Server(stream_app(slow=slow), port=0, shutdown_timeout=WAIT).start()
    client = RawClient(server.port, streaming=True)
    client.send(request_bytes(path="/slow"))
    client.read_at_least(10)
    stopped = []
    stopper = threading.Thread(target=lambda: stopped.append(server.stop()))
    stopper.start()
    wait_until(lambda: server.stopping, what="the stop to begin")
    release.set()
    response = client.response()
    assert response.body == b"started and done"
    assert client.closed()
    stopper.join(WAIT * 2)
    assert stopped == [True]


# -- memory under a slow reader (a child process, so its RSS is its own) -----------

def _stream_to_slow_reader(seconds: float, rate: float) -> tuple[int, int, int]:
    """(RSS before in KiB, largest RSS during, bytes read) of a server that
    streams an endless body to a client reading `rate` bytes a second."""
    with ServerProcess() as proc:
        client = RawClient(proc.port, streaming=True, rcvbuf=64 * 1024)
        warm = RawClient(proc.port)
        warm.send(request_bytes())
        warm.response()
        warm.close()
        before = rss_kib(proc.pid)
        client.send(request_bytes(path="/endless"))
        largest, read, started = before, 0, time.monotonic()
        while time.monotonic() - started < seconds:
            chunk = client.sock.recv(16 * 1024)
            assert chunk
            read += len(chunk)
            # Pacing, the client's reading rate.
            time.sleep(max(0.0, read / rate - (time.monotonic() - started)))
            largest = max(largest, rss_kib(proc.pid))
        client.close()
        return before, largest, read


@pytest.mark.slow
def test_a_slow_reader_costs_the_server_little_memory():
    # Issue 10's figure is 1 GiB read at 1 MiB/s (FASTCORE_STREAM_SECONDS=1024);
    # the bounded form, which CI runs, reads for 3 s: the steady state is
    # reached within the first second.
    import os
    seconds = float(os.environ.get("FASTCORE_STREAM_SECONDS", 3))
    before, largest, read = _stream_to_slow_reader(seconds, 1024 * 1024)
    print(f"RSS {before} KiB before, at most {largest} KiB while {read} bytes were read")
    assert read > seconds * 1024 * 1024 * 0.8
    assert largest - before <= 8 * 1024


# -- Server-Sent Events -------------------------------------------------------------

def sse_app(streams: list, **options):
    app = hello_app()

    @app.route("/events")
    def events(request):
        stream = fastcore.EventStream(**options)
        streams.append(stream)
        return stream

    return app


def test_events_from_a_producer_thread_reach_the_client(serve):
    streams: list[fastcore.EventStream] = []
    with serve(sse_app(streams, retry=1500)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/events"))
        head = client.read_head()
        assert head.header("content-type") == "text/event-stream; charset=utf-8"
        assert head.header("cache-control") == "no-cache"
        stream = streams[0]

        def produce():
            for i in range(3):
                assert stream.send(f"tick {i}\nsecond line", event="tick", id=str(i))
            stream.comment("keep-alive")
            stream.close()

        producer = threading.Thread(target=produce)
        producer.start()
        producer.join(WAIT)
        response = client.response()
        assert response.body == (b"retry: 1500\n\n" + b"".join(
            f"event: tick\nid: {i}\ndata: tick {i}\ndata: second line\n\n".encode()
            for i in range(3)) + b":keep-alive\n\n")
        assert stream.closed and not stream.send("late")
        client.close()


def test_an_event_stream_learns_that_its_client_left(serve):
    streams: list[fastcore.EventStream] = []
    with serve(sse_app(streams)) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/events"))
        client.read_head()
        assert streams[0].send("hello")
        client.close()
        # No output is pending: only the close itself tells the server.
        wait_until(lambda: streams[0].closed, what="the stream to see its client leave")
        assert not streams[0].send("anyone?")
        wait_until(lambda: server.connections == 0, what="the connection closed")


def test_a_client_too_far_behind_is_dropped(serve, caplog):
    streams: list[fastcore.EventStream] = []
    with serve(sse_app(streams, max_queued=100)) as server:
        client = RawClient(server.port, streaming=True, rcvbuf=16 * 1024)
        client.send(request_bytes(path="/events"))
        client.read_head()
        with caplog.at_level(logging.WARNING, logger="fastcore"):
            for i in range(20_000):               # it does not read: far behind
                if not streams[0].send("x" * 1000):
                    break
            wait_until(lambda: streams[0].closed, what="the slow client to be dropped")
        assert "fell more than max_queued events behind" in caplog.text
        client.close()


def test_stopping_the_server_ends_event_streams():
    streams: list[fastcore.EventStream] = []
    server = fastcore.Server(sse_app(streams), port=0).start()
    client = RawClient(server.port, streaming=True)
    client.send(request_bytes(path="/events"))
    client.read_head()
    streams[0].send("before the stop")
    assert server.stop(WAIT) is True
    response = client.response()
    assert response.body == b"data: before the stop\n\n"     # ended with its last chunk
    assert streams[0].closed


def test_a_thousand_idle_event_streams_leave_plain_requests_fast(serve):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2500:                     # both ends of 1000 connections live here
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    streams: list[fastcore.EventStream] = []
    with serve(sse_app(streams), max_connections=2000) as server:
        idle = []
        for _ in range(1000):
            client = RawClient(server.port, streaming=True)
            client.send(request_bytes(path="/events"))
            idle.append(client)
        wait_until(lambda: len(streams) == 1000, what="1000 streams")
        other = RawClient(server.port)
        latencies = []
        for _ in range(200):
            started = time.monotonic()
            other.send(request_bytes())
            assert other.response().status == 200
            latencies.append(time.monotonic() - started)
        latencies.sort()
        print(f"with 1000 idle SSE clients: p50 {latencies[100] * 1000:.2f} ms, "
              f"p99 {latencies[198] * 1000:.2f} ms")
        for stream in streams:
            stream.close()
        for client in idle:
            assert client.response().status == 200
            client.close()
        other.close()


def test_curl_reads_the_events_as_they_come(serve):
    curl = require_tool("curl")
    streams: list[fastcore.EventStream] = []
    with serve(sse_app(streams)) as server:
        reader = subprocess.Popen([curl, "-sN", f"{server.url}events"],
                                  stdout=subprocess.PIPE)
        try:
            wait_until(lambda: streams, what="curl's request")
            streams[0].send("one")
            # curl has printed the first event before the second is sent.
            assert reader.stdout.readline() == b"data: one\n"
            assert reader.stdout.readline() == b"\n"
            streams[0].send("two", event="second")
            streams[0].close()
            rest, _ = reader.communicate(timeout=WAIT)
            assert rest == b"event: second\ndata: two\n\n"
            assert reader.returncode == 0
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
