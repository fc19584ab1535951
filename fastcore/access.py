"""The access log's lines: what the engine gathered about one response (an
:class:`AccessEntry`), formatted only when a handler of the
``fastcore.access`` logger emits it.

Two formats:

- ``combined``: the Combined Log Format (Apache's ``%h %l %u %t "%r" %>s %b
  "%{Referer}i" "%{User-agent}i"``), then the duration in seconds with
  microseconds (as nginx's ``$request_time`` is often appended)::

    127.0.0.1 - - [03/Dec/2026:13:25:01 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.5.0" 0.000081

- ``json``: one JSON object per line, with the keys ``time`` (ISO 8601),
  ``client``, ``method``, ``target``, ``version``, ``status``, ``bytes``,
  ``duration`` (seconds), ``referer`` and ``user_agent`` (null when absent).

The bytes are those of the body (``-`` in the combined format when there are
none, as Apache's ``%b``). A client chooses the target, the Referer and the
User-Agent: in the combined format a quote, a backslash and any byte outside
printable ASCII are escaped (``\\"``, ``\\\\``, ``\\xHH``, as nginx does), so
no client can end a field or a line early; JSON escapes them its own way.
"""

from __future__ import annotations

import json
import logging
import re
import time

__all__ = ["AccessEntry", "FORMATS", "logger"]

logger = logging.getLogger("fastcore.access")

FORMATS = ("combined", "json")

# What may appear as it is inside a quoted field: printable ASCII but the
# quote and the backslash.
_UNSAFE = re.compile(rb'[^\x20\x21\x23-\x5b\x5d-\x7e]')
_ESCAPES = {ord('"'): b'\\"', ord("\\"): b"\\\\"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _escape_byte(match: re.Match[bytes]) -> bytes:
    byte = match.group()[0]
    return _ESCAPES.get(byte) or b"\\x%02X" % byte


def escape(value: bytes | None) -> str:
    """A client-supplied value for a quoted field of the combined format:
    ``-`` when absent."""
    if value is None:
        return "-"
    return _UNSAFE.sub(_escape_byte, value).decode("ascii")


_clf_cache: tuple[int, str] = (-1, "")        # the last second formatted


def clf_time(when: float) -> str:
    """``10/Oct/2000:13:55:36 -0700``: local time, English month names
    whatever the locale; formatted once a second."""
    global _clf_cache
    second = int(when)
    if _clf_cache[0] == second:
        return _clf_cache[1]
    t = time.localtime(second)
    offset = t.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    text = (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} "
            f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}")
    _clf_cache = (second, text)
    return text


class AccessEntry:
    """One response, as the engine saw it; str() is its log line. Made by
    the engine for each response while the access log is on."""

    __slots__ = ("when", "client", "method", "target", "version", "status",
                 "size", "duration", "referer", "user_agent", "json")

    def __init__(self, when: float, client: tuple[str, int] | None, method: bytes | None,
                 target: bytes | None, version: int, status: int, size: int,
                 duration: float, referer: bytes | None, user_agent: bytes | None,
                 json: bool) -> None:
        self.when = when
        self.client = client
        self.method = method            # None: the request line was never read
        self.target = target
        self.version = version          # 10 or 11
        self.status = status
        self.size = size                # body bytes
        self.duration = duration        # seconds
        self.referer = referer
        self.user_agent = user_agent
        self.json = json

    @property
    def host(self) -> str:
        return str(self.client[0]) if self.client else "-"

    def request_line(self) -> str:
        if self.method is None or self.target is None:
            return "-"
        return (f"{escape(self.method)} {escape(self.target)} "
                f"HTTP/{self.version // 10}.{self.version % 10}")

    def combined(self) -> str:
        return (f'{self.host} - - [{clf_time(self.when)}] "{self.request_line()}" '
                f'{self.status} {self.size or "-"} "{escape(self.referer)}" '
                f'"{escape(self.user_agent)}" {self.duration:.6f}')

    def as_dict(self) -> dict[str, object]:
        def text(value: bytes | None) -> str | None:
            return None if value is None else value.decode("latin-1")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.when))
        micros = int(self.when % 1 * 1e6)
        offset = time.strftime("%z", time.localtime(self.when))
        return {"time": f"{stamp}.{micros:06d}{offset[:3]}:{offset[3:]}",
                "client": self.client[0] if self.client else None,
                "method": text(self.method), "target": text(self.target),
                "version": f"HTTP/{self.version // 10}.{self.version % 10}"
                           if self.method is not None else None,
                "status": self.status, "bytes": self.size,
                "duration": round(self.duration, 6),
                "referer": text(self.referer), "user_agent": text(self.user_agent)}

    def __str__(self) -> str:
        if self.json:
            return json.dumps(self.as_dict(), separators=(",", ":"))
        return self.combined()

    def __repr__(self) -> str:
        return f"<AccessEntry {self.combined()}>"
