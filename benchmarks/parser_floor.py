"""What httptools' callback API costs per request, in process: the floor
under fastcore's parsing, whatever the engine around it does.

    python -m benchmarks.parser_floor [--requests 200000]

For the Hello World request (one field) and the browser-like one (17
fields), it times llhttp with no callbacks, with the four callbacks fastcore
needs (on_url, on_header, on_headers_complete, on_message_complete) as empty
methods, and that plus the two parser calls fastcore makes per request
(should_keep_alive, get_method). Every one of those callbacks and calls is
a Python-level call with new bytes objects, so this is what no engine built
on httptools can go under; compare it with the C epoll reference's whole
CPU per request in the pipelined scenario.
"""

from __future__ import annotations

import argparse
import time

import httptools

from benchmarks import scenarios


class NoCallbacks:
    pass


class FourCallbacks:
    def on_url(self, url: bytes) -> None: pass
    def on_header(self, name: bytes, value: bytes) -> None: pass
    def on_headers_complete(self) -> None: pass
    def on_message_complete(self) -> None: pass


class FourCallbacksAndCalls(FourCallbacks):
    parser: httptools.HttpRequestParser

    def on_headers_complete(self) -> None:
        self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        self.parser.get_method()


def per_request_ns(protocol: object, data: bytes, count: int, repeat: int) -> float:
    parser = httptools.HttpRequestParser(protocol)
    if isinstance(protocol, FourCallbacksAndCalls):
        protocol.parser = parser
    feed = parser.feed_data
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(count):
            feed(data)
        best = min(best, time.perf_counter() - started)
    return best / (count * data.count(b"\r\n\r\n")) * 1e9


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5, help="best of N")
    args = parser.parse_args(argv)
    print(f"httptools {httptools.__version__}: ns per request, best of {args.repeat}")
    print(f"{'request':<22}{'no callbacks':>14}{'4 callbacks':>14}{'+ 2 calls':>12}")
    for name, depth in (("hello", 16), ("browser", 1)):
        scenario = scenarios.BY_NAME[name]
        data = scenario.request(8080)
        if depth > 1:
            data = data * (depth // scenario.depth)
        count = max(1, args.requests // data.count(b"\r\n\r\n"))
        cells = [per_request_ns(kind(), data, count, args.repeat)
                 for kind in (NoCallbacks, FourCallbacks, FourCallbacksAndCalls)]
        label = f"{name} (x{depth} per feed)" if depth > 1 else name
        print(f"{label:<22}" + "".join(f"{c:>14.0f}" if i < 2 else f"{c:>12.0f}"
                                        for i, c in enumerate(cells)))


if __name__ == "__main__":
    main()
