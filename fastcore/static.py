"""Files: safe resolution of a request path inside a served directory, the
fields that describe a file (Content-Type, Last-Modified, ETag), and the
conditional and range rules of RFC 9110 sections 13 and 14.

The engine sends the bytes with sendfile(2) and answers the common case (no
conditional or Range field) by itself; it calls ``file_fields`` once per
opened file and ``evaluate`` only for requests that carry such fields.
"""

from __future__ import annotations

import email.utils
import html
import mimetypes
import os
import stat
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from fastcore.responses import TEXT, FileResponse, Response, error_body

if TYPE_CHECKING:
    from fastcore._core import Request

__all__ = ["StaticFiles"]

# Content types that are text get an explicit charset (RFC 9110 section
# 8.3.1: without one, a recipient may guess).
_TEXT_TYPES = frozenset((
    "application/javascript", "application/json", "application/xml",
    "image/svg+xml", "application/manifest+json", "text/javascript"))


def content_type(path: str) -> str:
    """The Content-Type for a file name, from the stdlib's mimetypes."""
    kind, encoding = mimetypes.guess_type(path, strict=False)
    if kind is None or encoding is not None:
        # Unknown, or a compressed file (".tar.gz") whose Content-Encoding
        # we do not send: plain bytes.
        return "application/octet-stream"
    if kind.startswith("text/") or kind in _TEXT_TYPES:
        return f"{kind}; charset=utf-8"
    return kind


def http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def file_fields(path: str, info: os.stat_result) -> tuple[bytes, bytes, bytes, bytes]:
    """(Content-Type line, validator lines, ETag, Last-Modified) of an open
    file. The ETag is strong: inode, size and modification time in
    nanoseconds change whenever the content may have."""
    etag = f'"{info.st_ino:x}-{info.st_size:x}-{info.st_mtime_ns:x}"'.encode("ascii")
    modified = http_date(info.st_mtime).encode("ascii")
    type_line = f"Content-Type: {content_type(path)}\r\n".encode("latin-1")
    validators = (b"Last-Modified: " + modified + b"\r\nETag: " + etag
                  + b"\r\nAccept-Ranges: bytes\r\n")
    return type_line, validators, etag, modified


# -- conditional requests and ranges (RFC 9110 sections 13 and 14) --------

def _etags(value: str) -> list[str]:
    return [tag.strip() for tag in value.split(",") if tag.strip()]


def _weak_match(tags: list[str], etag: str) -> bool:
    opaque = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == opaque for tag in tags)


def _strong_match(tags: list[str], etag: str) -> bool:
    return any(tag == "*" or (tag == etag and not tag.startswith("W/")) for tag in tags)


def _parse_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _single_range(value: str, size: int) -> tuple[int, int] | Literal[False] | None:
    """(start, length) of a single satisfiable byte range; None to ignore
    the field (not bytes, malformed, or several ranges); False when no
    range is satisfiable (416)."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None                     # several ranges: the whole file, 200
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return False
        start = max(0, size - suffix)
        return start, size - start
    start = int(first)
    if last and int(last) < start:
        return None                     # invalid: ignore the field
    if start >= size:
        return False
    end = min(int(last), size - 1) if last else size - 1
    return start, end - start + 1


def evaluate(method: bytes, raw_headers: list[bytes], size: int, etag: bytes,
             last_modified: bytes, mtime: float) -> tuple[int, int, int, bytes]:
    """Apply a request's preconditions and Range to a file: returns
    (status, start, length, extra field lines). Multiple ranges are
    answered with the whole file and 200, which RFC 9110 section 14.2
    allows (a server may ignore Range)."""
    fields: dict[str, str] = {}
    for i in range(0, len(raw_headers), 2):
        name = raw_headers[i].decode("latin-1").lower()
        if name in ("if-match", "if-none-match", "if-modified-since",
                    "if-unmodified-since", "if-range", "range"):
            value = raw_headers[i + 1].decode("latin-1")
            fields[name] = f"{fields[name]}, {value}" if name in fields else value
    tag = etag.decode("ascii")
    modified = int(mtime)
    get_or_head = method in (b"GET", b"HEAD")

    # Section 13.2.2: the order of evaluation.
    if "if-match" in fields:
        if not _strong_match(_etags(fields["if-match"]), tag):
            return 412, 0, 0, b""
    elif "if-unmodified-since" in fields:
        since = _parse_date(fields["if-unmodified-since"])
        if since is not None and modified > since:
            return 412, 0, 0, b""
    if "if-none-match" in fields:
        if _weak_match(_etags(fields["if-none-match"]), tag):
            return (304, 0, 0, b"") if get_or_head else (412, 0, 0, b"")
    elif "if-modified-since" in fields and get_or_head:
        value = fields["if-modified-since"]
        since = _parse_date(value)
        if value == last_modified.decode("ascii") or (since is not None and modified <= since):
            return 304, 0, 0, b""

    if "range" in fields and method == b"GET":
        if "if-range" in fields:
            condition = fields["if-range"].strip()
            if condition.startswith('"') or condition.startswith("W/"):
                applies = condition == tag              # strong comparison
            else:
                applies = condition == last_modified.decode("ascii")
            if not applies:
                return 200, 0, size, b""
        chosen = _single_range(fields["range"], size)
        if chosen is False:
            return 416, 0, 0, f"Content-Range: bytes */{size}\r\n".encode("ascii")
        if chosen is not None:
            start, length = chosen
            end = start + length - 1
            return 206, start, length, f"Content-Range: bytes {start}-{end}/{size}\r\n".encode("ascii")
    return 200, 0, size, b""


# -- a served directory --------------------------------------------------------

class StaticFiles:
    """Serves the files under `directory` at the URL prefix `prefix`.

    A request path is resolved segment by segment: ``..``, NUL bytes,
    backslashes, encoded slashes, dotfiles (unless `dotfiles`) and symlinks
    that lead outside the directory are refused. A directory is answered
    with its ``index.html``, or 404 (a listing only if `listing`); a
    directory asked for without its trailing slash is redirected to it.
    """

    def __init__(self, prefix: str, directory: str | os.PathLike[str], *,
                 max_age: int | None = None, index: str = "index.html",
                 dotfiles: bool = False, listing: bool = False) -> None:
        if not prefix.startswith("/"):
            raise ValueError(f"a static prefix starts with '/', not {prefix!r}")
        root = os.path.realpath(os.fspath(directory))
        if not os.path.isdir(root):
            raise ValueError(f"{directory!r} is not a directory")
        if max_age is not None and max_age < 0:
            raise ValueError("max_age must be >= 0")
        self.prefix = prefix.rstrip("/")
        self.root = root
        self.max_age = max_age
        self.index = index
        self.dotfiles = dotfiles
        self.listing = listing
        fields = {"Cache-Control": f"max-age={max_age}"} if max_age is not None else None
        self._fields = fields
        self._not_found = Response(error_body(404), 404, content_type=TEXT)
        self._bad_request = Response(error_body(400), 400, content_type=TEXT)

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/") or self.prefix == ""

    def _segments(self, request: Request) -> list[str] | None:
        """The decoded path segments under the prefix, or None if the path
        is refused."""
        raw_path = request.target.split("?", 1)[0].split("#", 1)[0].lower()
        # An encoded slash or backslash would make one segment look like two
        # after decoding.
        if "%2f" in raw_path or "%5c" in raw_path:
            return None
        path = request.path
        if "\x00" in path or "\\" in path or "\ufffd" in path:
            return None
        rest = path[len(self.prefix):]
        segments = []
        for segment in rest.split("/"):
            if segment in ("", "."):
                continue
            if segment == ".." or (segment.startswith(".") and not self.dotfiles):
                return None
            segments.append(segment)
        return segments

    def serve(self, request: Request) -> Response | FileResponse:
        if request.method not in ("GET", "HEAD"):
            return Response(error_body(405), 405, {"Allow": "GET, HEAD"}, content_type=TEXT)
        segments = self._segments(request)
        if segments is None:
            return self._bad_request if "\x00" in request.path else self._not_found
        candidate = os.path.join(self.root, *segments)
        real = os.path.realpath(candidate)
        if real != self.root and not real.startswith(self.root + os.sep):
            return self._not_found                  # a symlink out of the root
        try:
            info = os.stat(real)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return self._not_found
        if stat.S_ISDIR(info.st_mode):
            if not request.path.endswith("/"):
                location = quote(request.path + "/", safe="/")
                query = request.query
                return Response(b"", 301, {"Location": location + ("?" + query if query else "")},
                                content_type=None)
            index = os.path.join(real, self.index)
            if os.path.isfile(index):
                real = index
            elif self.listing:
                return self._list(real, request.path)
            else:
                return self._not_found
        elif not stat.S_ISREG(info.st_mode) or request.path.endswith("/"):
            return self._not_found                  # devices, sockets, fifos; "file/"
        response = FileResponse(real, headers=self._fields)
        # The engine may remember this target -> file, so the next request
        # for it skips all of the above (re-checked once a second).
        target = request.target
        if target.startswith("/") and "?" not in target and "%" not in target:
            response._cache_target = target.encode("latin-1")
        return response

    def _list(self, directory: str, url_path: str) -> Response:
        names = []
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.startswith(".") and not self.dotfiles:
                continue
            suffix = "/" if entry.is_dir() else ""
            href = quote(entry.name) + suffix
            names.append(f'<li><a href="{href}">{html.escape(entry.name + suffix)}</a></li>')
        title = html.escape(url_path)
        page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
                f"</head><body><h1>{title}</h1><ul>\n" + "\n".join(names)
                + "\n</ul></body></html>\n")
        return Response(page)
