"""What a handler returns, and the status lines and fields it becomes.

A handler returns ``bytes`` (200, text/html), ``str`` (the same, UTF-8), a
:class:`Response` or a :class:`FileResponse`. Everything about a Response
that does not change per request (status line, Content-Type, the handler's
own fields) is validated and encoded when it is built or changed, never per
request; the engine adds Server, Date, Content-Length and Connection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from urllib.parse import quote

from fastcore._syntax import TOKEN

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

def error_head(status: int) -> bytes:
    return status_line(status) + f"Content-Type: {TEXT}\r\n".encode("ascii")


def error_body(status: int) -> bytes:
    return f"{status} {reason(status)}\n".encode("ascii")


# RFC 9110 section 5.5 (field-value: no CTL but HTAB); names are tokens.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# Fields the engine writes itself, or that would change the framing or the
# connection; a handler may not set them.
_RESERVED = frozenset((
    "content-length", "transfer-encoding", "connection", "keep-alive",
    "upgrade", "trailer", "te", "date", "server"))


# Field names already checked, and whether each is Content-Type.
_CHECKED_NAMES: dict[str, bool] = {}

Fields = Mapping[str, str] | Iterable[tuple[str, str]]


def _check_name(name: str) -> bool:
    is_type = _CHECKED_NAMES.get(name)
    if is_type is None:
        if not TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        lower = name.lower()
        if lower in _RESERVED:
            raise ValueError(f"the server sets {name!r} itself")
        is_type = lower == "content-type"
        if len(_CHECKED_NAMES) < 1024:
            _CHECKED_NAMES[name] = is_type
    return is_type


def field_pairs(fields: Fields | None) -> tuple[tuple[str, str], ...]:
    """Header fields given as a mapping or as (name, value) pairs, as a
    tuple of str pairs."""
    if type(fields) is dict or isinstance(fields, Mapping):    # dict first: ABC checks are slow
        pairs: Iterable[tuple[str, str]] = fields.items()
    else:
        pairs = fields or ()
    return tuple((name if type(name) is str else str(name),
                  value if type(value) is str else str(value)) for name, value in pairs)


def encode_fields(fields: Fields | None, content_type: str | None) -> bytes:
    """Validate and encode header fields as ``Name: value\r\n`` lines,
    Content-Type first. Raises ValueError for anything that could split the
    response (CR, LF, other controls) or that the engine owns."""
    lines = []
    has_type = False
    for name, value in field_pairs(fields):
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


def _check_status(status: object) -> int:
    if isinstance(status, bool) or not isinstance(status, int):
        try:
            status = int(status)                        # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise TypeError(f"a status is an int, not {status!r}") from None
    if not 200 <= status <= 599:
        raise ValueError(f"a handler's status must be 200-599, not {status}")
    return status


def _as_body(body: object) -> bytes:
    if type(body) is bytes:
        return body                                     # type: ignore[return-value]
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"a body is bytes or str, not {type(body).__name__}")


_HEADS: dict[tuple[int, str | None], bytes] = {}


def _encode_head(status: int, fields: tuple[tuple[str, str], ...],
                 content_type: str | None, body: bytes) -> bytes:
    # A Response's status line and fields, validated and encoded once per
    # change (the engine adds Server, Date, Content-Length and Connection).
    if body and (status == 204 or status == 304):
        raise ValueError(f"a {status} response has no body")
    if fields:
        return status_line(status) + encode_fields(fields, content_type)
    # Most responses repeat a few (status, Content-Type) pairs.
    head = _HEADS.get((status, content_type))
    if head is None:
        head = status_line(status) + encode_fields(None, content_type)
        if len(_HEADS) < 256:
            _HEADS[status, content_type] = head
    return head


class Response:
    """A response with a status, fields and a body.

    ``Response(body, status=200, headers=None, content_type="text/html;
    charset=utf-8")``: `body` is bytes (or a bytearray or memoryview) or str
    (sent as UTF-8); `headers` a mapping or a list of (name, value) pairs,
    for repeated fields such as Set-Cookie; ``content_type=None`` sends no
    Content-Type. 204 and 304 responses carry no body.

    Every attribute can be changed after the response is built and is
    checked again when it is (a bad value raises and changes nothing), so
    what is sent is always what the attributes say. ``headers`` reads as a
    tuple of (name, value) pairs; assign a mapping or a list to change it.
    """

    __slots__ = ("_body", "_status", "_fields", "_content_type", "_head")

    def __init__(
        self,
        body: bytes | bytearray | memoryview | str = b"",
        status: int = 200,
        headers: Fields | None = None,
        content_type: str | None = HTML,
    ) -> None:
        self._status = _check_status(status)
        self._body = _as_body(body)
        self._fields = field_pairs(headers)
        self._content_type = content_type
        self._head = _encode_head(self._status, self._fields, content_type, self._body)

    @property
    def body(self) -> bytes:
        return self._body

    @body.setter
    def body(self, value: bytes | bytearray | memoryview | str) -> None:
        body = _as_body(value)
        if body and self._status in (204, 304):
            raise ValueError(f"a {self._status} response has no body")
        self._body = body

    @property
    def status(self) -> int:
        return self._status

    @status.setter
    def status(self, value: int) -> None:
        status = _check_status(value)
        self._head = _encode_head(status, self._fields, self._content_type, self._body)
        self._status = status

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return self._fields

    @headers.setter
    def headers(self, value: Fields | None) -> None:
        fields = field_pairs(value)
        self._head = _encode_head(self._status, fields, self._content_type, self._body)
        self._fields = fields

    @property
    def content_type(self) -> str | None:
        return self._content_type

    @content_type.setter
    def content_type(self, value: str | None) -> None:
        self._head = _encode_head(self._status, self._fields, value, self._body)
        self._content_type = value

    @classmethod
    def _prepared(cls, head: bytes, status: int, body: bytes) -> Response:
        # For a bridge (WSGI) that has already checked and encoded the
        # status line and fields itself.
        response = cls.__new__(cls)
        response._status, response._body, response._head = status, body, head
        response._fields, response._content_type = (), None
        return response

    def __repr__(self) -> str:
        return f"<Response {self._status} {len(self._body)} bytes>"


class FileResponse:
    """A file, sent with sendfile(2): its bytes never enter Python.

    ``FileResponse(path, headers=None, content_type=None,
    download_name=None, max_age=None)``. Content-Type comes from the file
    name unless given; Last-Modified, a strong ETag and Accept-Ranges are
    added; the request's conditional and Range fields are honoured (304,
    206, 412, 416). `download_name` sends ``Content-Disposition:
    attachment``; `max_age` sends ``Cache-Control: max-age``. A missing file
    (or anything but a regular file) is 404, an unreadable one 403. The
    attributes are read-only: build another FileResponse to change them.
    """

    __slots__ = ("_path", "_fields", "_content_type", "_download_name", "_max_age",
                 "_head", "_type_line", "_cache_target")

    def __init__(
        self,
        path: str | os.PathLike[str],
        headers: Fields | None = None,
        content_type: str | None = None,
        download_name: str | None = None,
        max_age: int | None = None,
    ) -> None:
        self._path = os.fspath(path)
        if not isinstance(self._path, str):
            raise TypeError("a FileResponse path is a str or os.PathLike[str]")
        self._fields = field_pairs(headers)
        self._content_type = content_type
        self._download_name = download_name
        self._max_age = max_age
        fields = list(self._fields)
        if max_age is not None:
            if max_age < 0:
                raise ValueError("max_age must be >= 0")
            fields.append(("Cache-Control", f"max-age={int(max_age)}"))
        if download_name is not None:
            fields.append(("Content-Disposition", content_disposition(download_name)))
        if any(name.lower() == "content-type" for name, _ in fields):
            raise ValueError("give the Content-Type as content_type=")
        self._head = encode_fields(fields, None)
        self._type_line = (encode_fields(None, content_type)
                           if content_type is not None else None)
        # Set by a static mount: the raw request target that always maps to
        # this file, which the engine may cache.
        self._cache_target: bytes | None = None

    path = property(lambda self: self._path, doc="The file's path.")
    headers = property(lambda self: self._fields, doc="The extra fields, as pairs.")
    content_type = property(lambda self: self._content_type)
    download_name = property(lambda self: self._download_name)
    max_age = property(lambda self: self._max_age)

    def __repr__(self) -> str:
        return f"<FileResponse {self._path!r}>"


def content_disposition(filename: str) -> str:
    """``attachment`` with the name as ASCII and as UTF-8 (RFC 6266 and
    RFC 8187), so every client gets a usable file name."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


class FileBody:
    """A range of an open file, sent with sendfile(2) after a prepared head
    (the WSGI bridge's ``wsgi.file_wrapper``). The engine owns `fd` (a
    duplicate) and closes it."""

    __slots__ = ("fd", "offset", "length", "_head", "_status")

    def __init__(self, fd: int, offset: int, length: int, head: bytes, status: int) -> None:
        self.fd, self.offset, self.length = fd, offset, length
        self._head, self._status = head, status

    def __del__(self) -> None:
        if self.fd >= 0:            # never reached the engine
            os.close(self.fd)
            self.fd = -1
