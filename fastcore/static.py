"""Static files: safe resolution of a request path inside a served
directory, index files and listings, and the fields that describe a file
(Content-Type, Last-Modified, ETag).

The engine sends the bytes with sendfile(2) and calls ``file_fields`` once
per file it opens; the conditional and Range rules are in
``fastcore.conditional``.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import re
import stat
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastcore.responses import TEXT, FileResponse, Response, error_body

if TYPE_CHECKING:
    from fastcore._core import Request

__all__ = ["StaticFiles"]

# What stat() says of a path that names nothing this mount can serve: it
# is missing, a part of it is a file, it loops, it is too long, or it is
# not readable. Each is a 404, none an internal error.
_NOT_THERE = frozenset((errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG,
                        errno.EACCES, errno.EPERM))

# A segment that is ".." or starts with a dot other than "." alone; and one
# that is "..". The path searched starts with "/" (or is empty).
_ANY_DOT_SEGMENT = re.compile(r"/\.(?!/|$)")
_DOT_DOT_SEGMENT = re.compile(r"/\.\.(?:/|$)")

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


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
           "Nov", "Dec")


def http_date(seconds: float) -> str:
    """The IMF-fixdate of RFC 9110 section 5.6.7 (by hand: strftime follows
    the locale, and email.utils costs the process 2 MiB)."""
    t = time.gmtime(seconds)
    return (f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} "
            f"{t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


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

    def _below(self, request: Request) -> str | None:
        """The decoded path under the prefix ("" or starting with "/"), or
        None if the path is refused. Checked with C-speed string searches,
        never segment by segment: 8 KiB of "a/" costs microseconds."""
        raw_path = request.target.split("?", 1)[0].split("#", 1)[0].lower()
        # An encoded slash or backslash would make one segment look like two
        # after decoding.
        if "%2f" in raw_path or "%5c" in raw_path:
            return None
        path = request.path
        if "\x00" in path or "\\" in path or "\ufffd" in path:
            return None
        rest = path[len(self.prefix):]
        # ".." segments, and dotfiles unless served ("." alone is the
        # directory itself, as "" is).
        if (_ANY_DOT_SEGMENT if not self.dotfiles else _DOT_DOT_SEGMENT).search(rest):
            return None
        return rest

    def serve(self, request: Request) -> Response | FileResponse:
        if request.method not in ("GET", "HEAD"):
            return Response(error_body(405), 405, {"Allow": "GET, HEAD"}, content_type=TEXT)
        rest = self._below(request)
        if rest is None:
            return self._bad_request if "\x00" in request.path else self._not_found
        # Empty and "." segments are left to the kernel, which reads them
        # as path resolution does everywhere.
        candidate = self.root + rest
        try:
            # One stat first: the kernel walks the path once and stops at
            # its first missing part, so a request for a path deeper than
            # the tree (or longer than PATH_MAX) costs one syscall, where
            # realpath() would lstat every prefix of it.
            info = os.stat(candidate)
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                return self._not_found
            raise
        real = os.path.realpath(candidate)
        if real != self.root and not real.startswith(self.root + os.sep):
            return self._not_found                  # a symlink out of the root
        if stat.S_ISDIR(info.st_mode):
            if not request.path.endswith("/"):
                # Built from the segments: one slash each, so never "//sub/",
                # which is a reference to the host "sub" (RFC 3986 section
                # 4.2), an open redirect.
                segments = [s for s in rest.split("/") if s not in ("", ".")]
                location = quote(self.prefix + "/" + "".join(s + "/" for s in segments), safe="/")
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
        import html                 # here: its entity table costs 0.4 MiB
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
