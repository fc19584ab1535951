"""Every limit and timeout the server enforces: one named default each, the
answer it triggers, and what other servers do.

Any of them can be set by keyword on ``App(...)``, ``Server(...)`` and
``App.run(...)``: ``App(max_body=10 * 1024 * 1024)``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict

__all__ = ["Limits", "LimitOptions"]

KiB = 1024
MiB = 1024 * KiB

# Request line (method, target, version). nginx 8K, Apache 8190,
# gunicorn 4094. Over -> 414.
DEFAULT_MAX_REQUEST_LINE = 8 * KiB
# One header field line, "Name: value". nginx 8K, Apache 8190,
# gunicorn 8190. Over -> 431.
DEFAULT_MAX_HEADER_FIELD = 8 * KiB
# The whole header block. nginx 4 x 8K, node 16K, Tomcat 8K. Over -> 431.
DEFAULT_MAX_HEADER_BYTES = 64 * KiB
# Header fields per request. Apache 100, gunicorn 100, aiohttp 128.
# Over -> 431.
DEFAULT_MAX_HEADER_COUNT = 100
# Request body, by Content-Length before it is read, or as a chunked body
# grows. nginx client_max_body_size 1m. Over -> 413.
DEFAULT_MAX_BODY = 1 * MiB
# From a request's first byte to the end of its header block, not reset by
# trickled bytes (slowloris). nginx client_header_timeout 60s, Apache
# RequestReadTimeout 20-40s. Expired -> 408 and close.
DEFAULT_HEADER_TIMEOUT = 10.0
# Longest pause between two reads of a request body. nginx
# client_body_timeout 60s. Expired -> 408 and close.
DEFAULT_BODY_TIMEOUT = 30.0
# Idle time between requests on a kept-alive connection (and before the
# first). uvicorn 5s, gunicorn 2s, nginx 75s. Expired -> close.
DEFAULT_KEEPALIVE_TIMEOUT = 5.0
# Longest time a response may wait for a client that does not read it.
# nginx send_timeout 60s. Expired -> reset.
DEFAULT_WRITE_TIMEOUT = 30.0
# After a final response to a client that may still be sending, how long
# its input is read and discarded so that it sees the response rather than
# a reset. nginx lingering_timeout 5s.
DEFAULT_LINGER_TIMEOUT = 2.0
# Unsent output above which a connection's input is no longer read
# (backpressure on pipelining clients that do not read).
DEFAULT_WRITE_HIGH_WATER = 256 * KiB
# Open client connections; beyond it new ones wait in the listen backlog.
DEFAULT_MAX_CONNECTIONS = 10_000
# listen(2) backlog (capped by net.core.somaxconn). nginx 511.
DEFAULT_BACKLOG = 1024
# Open file descriptors kept for files served, least recently used evicted
# first, each re-checked with stat() once a second; 0 opens each file per
# request. nginx open_file_cache. Measured here on a 1 KiB file: 3.3 us of
# server CPU per request cached, 4.8 us opening it per request.
DEFAULT_FILE_CACHE_SIZE = 1000
# Threads that run handlers, so that one that waits (a database, another
# service) does not hold up the loop; 0 runs them on the loop's thread, the
# fastest for handlers that never wait. gunicorn gthread --threads 1,
# granian --blocking-threads.
DEFAULT_THREADS = 0
# Requests waiting for a free handler thread; beyond it a request is
# answered 503 with Retry-After at once (load shedding). Only with threads.
DEFAULT_MAX_PENDING = 1000


# 0 is a meaningful value of these: no cache, no handler threads.
_MAY_BE_ZERO = frozenset(("file_cache_size", "threads"))


class _LimitFields(NamedTuple):
    # The fields, each with its default (a NamedTuple rather than a
    # dataclass: importing dataclasses costs the process 1.5 MiB).
    max_request_line: int = DEFAULT_MAX_REQUEST_LINE
    max_header_field: int = DEFAULT_MAX_HEADER_FIELD
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_header_count: int = DEFAULT_MAX_HEADER_COUNT
    max_body: int = DEFAULT_MAX_BODY
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    write_timeout: float = DEFAULT_WRITE_TIMEOUT
    linger_timeout: float = DEFAULT_LINGER_TIMEOUT
    write_high_water: int = DEFAULT_WRITE_HIGH_WATER
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    backlog: int = DEFAULT_BACKLOG
    file_cache_size: int = DEFAULT_FILE_CACHE_SIZE
    threads: int = DEFAULT_THREADS
    max_pending: int = DEFAULT_MAX_PENDING


class Limits(_LimitFields):
    """The limits one server enforces; see the DEFAULT_* constants.
    Immutable; ``replace(**changes)`` makes a changed copy, and
    ``Limits._fields`` names them all."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Limits:
        self = super().__new__(cls, *args, **kwargs)
        for name, value in zip(self._fields, self):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, not {value!r}")
            if value < 0 or (value == 0 and name not in _MAY_BE_ZERO):
                raise ValueError(f"{name} must be positive, not {value!r}")
        return self

    def replace(self, **changes: Any) -> Limits:
        """A copy with some limits changed; unknown names are a TypeError."""
        if not changes:
            return self
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"unknown limit {sorted(unknown)[0]!r}")
        return Limits(**{**self._asdict(), **changes})


class LimitOptions(TypedDict, total=False):
    """The limits as keyword arguments (App, Server, App.run), so that a
    type checker catches a misspelled name."""

    max_request_line: int
    max_header_field: int
    max_header_bytes: int
    max_header_count: int
    max_body: int
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    write_timeout: float
    linger_timeout: float
    write_high_water: int
    max_connections: int
    backlog: int
    file_cache_size: int
    threads: int
    max_pending: int
