"""What a handler returns, and the status lines and fields it becomes.

A handler returns ``bytes`` (200, text/html), ``str`` (the same, UTF-8) or a
:class:`Response`. Everything about a Response that does not change per
request (status line, Content-Type, the handler's own fields) is validated
and encoded once, when it is built; the engine adds Server, Date,
Content-Length and Connection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from urllib.parse import quote

__all__ = ["FileResponse", "Response", "status_line"]

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


def _build_status_lines() -> dict[int, bytes]:
    # Generated from the stdlib's registry, never typed by hand.
    return {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("ascii")
            for s in HTTPStatus}


STATUS_LINES = _build_status_lines()


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n``; an unregistered status gets an
    empty reason phrase, which RFC 9112 section 4 allows."""
    line = STATUS_LINES.get(status)
    return line if line is not None else f"HTTP/1.1 {status} \r\n".encode("ascii")


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


OK_HTML_HEAD = status_line(200) + f"Content-Type: {HTML}\r\n".encode("ascii")

# The statuses the engine itself answers with.
ERROR_STATUSES = (400, 403, 404, 405, 408, 412, 413, 414, 416, 417, 431, 500,
                  501, 505)


def error_head(status: int) -> bytes:
    return status_line(status) + f"Content-Type: {TEXT}\r\n".encode("ascii")


def error_body(status: int) -> bytes:
    return f"{status} {reason(status)}\n".encode("ascii")


# RFC 9110 section 5.6.2 (token) and 5.5 (field-value: no CTL but HTAB).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# Fields the engine writes itself, or that would change the framing or the
# connection; a handler may not set them.
_RESERVED = frozenset((
    "content-length", "transfer-encoding", "connection", "keep-alive",
    "upgrade", "trailer", "te", "date", "server"))


# Field names already checked, and whether each is Content-Type.
_CHECKED_NAMES: dict[str, bool] = {}


def _check_name(name: str) -> bool:
    is_type = _CHECKED_NAMES.get(name)
    if is_type is None:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        lower = name.lower()
        if lower in _RESERVED:
            raise ValueError(f"the server sets {name!r} itself")
        is_type = lower == "content-type"
        if len(_CHECKED_NAMES) < 1024:
            _CHECKED_NAMES[name] = is_type
    return is_type


def encode_fields(
    fields: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    content_type: str | None,
) -> bytes:
    """Validate and encode header fields as ``Name: value\r\n`` lines,
    Content-Type first. Raises ValueError for anything that could split the
    response (CR, LF, other controls) or that the engine owns."""
    if type(fields) is dict or isinstance(fields, Mapping):    # dict first: ABC checks are slow
        pairs: Iterable[tuple[str, str]] = fields.items()
    else:
        pairs = fields or ()
    lines = []
    has_type = False
    for name, value in pairs:
        if type(name) is not str:
            name = str(name)
        if type(value) is not str:
            value = str(value)
        if _check_name(name):
            has_type = True
        value = value.strip(" \t")
        # Printable ASCII needs no closer look; anything else (HTAB,
        # obs-text, controls) goes through the full check.
        if not (value.isascii() and value.isprintable()) and _BAD_VALUE.search(value):
            raise ValueError(f"invalid character in the value of {name!r}")
        try:
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        except UnicodeEncodeError:
            raise ValueError(
                f"the value of {name!r} is not ISO-8859-1; encode it "
                "(RFC 8187 for parameters)") from None
    if content_type is not None and not has_type:
        lines.insert(0, encode_fields(((("Content-Type", content_type),)), None))
    return b"".join(lines)


_HEADS: dict[tuple[int, str | None], bytes] = {}


class Response:
    """A response with a status, fields and a body.

    ``Response(body, status=200, headers=None, content_type="text/html;
    charset=utf-8")``: `body` is bytes (or anything bytes() accepts) or str
    (sent as UTF-8); `headers` a mapping or a list of (name, value) pairs,
    for repeated fields such as Set-Cookie; ``content_type=None`` sends no
    Content-Type. 204 and 304 responses carry no body.
    """

    __slots__ = ("body", "status", "headers", "content_type", "_head")

    def __init__(
        self,
        body: bytes | bytearray | memoryview | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = HTML,
    ) -> None:
        if type(body) is not bytes:
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if type(status) is not int:
            status = int(status)
        if not 200 <= status <= 599:
            raise ValueError(f"a handler's status must be 200-599, not {status}")
        if body and (status == 204 or status == 304):
            raise ValueError(f"a {status} response has no body")
        self.body: bytes = body
        self.status = status
        self.headers = headers
        self.content_type = content_type
        if headers is None:
            # Most responses repeat a few (status, Content-Type) pairs:
            # validate and encode each once.
            head = _HEADS.get((status, content_type))
            if head is None:
                head = status_line(status) + encode_fields(None, content_type)
                if len(_HEADS) < 256:
                    _HEADS[status, content_type] = head
            self._head = head
        else:
            self._head = status_line(status) + encode_fields(headers, content_type)

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class FileResponse:
    """A file, sent with sendfile(2): its bytes never enter Python.

    ``FileResponse(path, headers=None, content_type=None,
    download_name=None, max_age=None)``. Content-Type comes from the file
    name unless given; Last-Modified, a strong ETag and Accept-Ranges are
    added; the request's conditional and Range fields are honoured (304,
    206, 412, 416). `download_name` sends ``Content-Disposition:
    attachment``; `max_age` sends ``Cache-Control: max-age``. A missing file
    is 404, an unreadable one 403.
    """

    __slots__ = ("path", "headers", "content_type", "download_name", "max_age",
                 "_head", "_type_line", "_cache_target")

    def __init__(
        self,
        path: str | os.PathLike[str],
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = None,
        download_name: str | None = None,
        max_age: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.headers = headers
        self.content_type = content_type
        self.download_name = download_name
        self.max_age = max_age
        fields = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if max_age is not None:
            if max_age < 0:
                raise ValueError("max_age must be >= 0")
            fields.append(("Cache-Control", f"max-age={int(max_age)}"))
        if download_name is not None:
            fields.append(("Content-Disposition", content_disposition(download_name)))
        if any(str(name).lower() == "content-type" for name, _ in fields):
            raise ValueError("give the Content-Type as content_type=")
        self._head = encode_fields(fields, None)
        self._type_line = (encode_fields(None, content_type)
                           if content_type is not None else None)
        # Set by a static mount: the raw request target that always maps to
        # this file, which the engine may cache.
        self._cache_target: bytes | None = None

    def __repr__(self) -> str:
        return f"<FileResponse {self.path!r}>"


def content_disposition(filename: str) -> str:
    """``attachment`` with the name as ASCII and as UTF-8 (RFC 6266 and
    RFC 8187), so every client gets a usable file name."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
