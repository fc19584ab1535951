"""The query string and the bodies a handler reads: ``request.args``,
``request.form``, ``request.files`` and ``request.json()``.

Each parser takes what the engine parsed (the raw query, the body and its
Content-Type) and returns multi-valued mappings; a body that cannot be read
is an :class:`~fastcore.errors.HTTPError` with the status to answer, never
a 500. ``application/x-www-form-urlencoded`` is decoded with the stdlib;
``multipart/form-data`` with the ``multipart`` package (the optional extra
``fastcore-http[forms]``), a streaming parser with limits of its own on
part headers, so no home-made multipart parser reads untrusted bytes here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, TypeVar
from urllib.parse import parse_qsl

from fastcore.errors import HTTPError

__all__ = ["MultiDict", "UploadFile", "parse_form", "parse_json", "parse_query"]

V = TypeVar("V")

logger = logging.getLogger("fastcore")

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
FORMS_EXTRA = "pip install 'fastcore-http[forms]'"


class MultiDict(Mapping[str, V]):
    """Names to values, several values per name, in arrival order.

    ``d["tag"]`` and ``d.get("tag")`` give the first value, ``d.get_all("tag")``
    every value, ``d.multi_items()`` every (name, value) pair in order.
    Iterating yields each name once. Names are case-sensitive, as form
    field names are.
    """

    __slots__ = ("_pairs", "_index")

    def __init__(self, pairs: Iterable[tuple[str, V]] = ()) -> None:
        self._pairs = list(pairs)
        index: dict[str, list[V]] = {}
        for name, value in self._pairs:
            index.setdefault(name, []).append(value)
        self._index = index

    def __getitem__(self, name: str) -> V:
        return self._index[name][0]

    def get_all(self, name: str) -> list[V]:
        """Every value of `name`, in order; empty if there is none."""
        return list(self._index.get(name, ()))

    def multi_items(self) -> list[tuple[str, V]]:
        """Every (name, value) pair, in order, repeated names included."""
        return list(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        return f"MultiDict({self._pairs!r})"


class UploadFile:
    """One uploaded file of a ``multipart/form-data`` body.

    ``name`` is the form field, ``filename`` the name the client gave (never
    use it as a path as it is: it is whatever the client sent),
    ``content_type`` the part's type (``application/octet-stream`` if it
    gave none), ``headers`` the part's fields, ``size`` its length.
    ``read()`` returns the content, ``file`` is a binary file positioned at
    its start, ``save(path)`` writes it out. A file larger than the
    ``upload_spool_size`` limit is held in a temporary file on disk rather
    than in memory (``in_memory`` tells which); ``close()`` removes it, as
    does garbage collection.
    """

    __slots__ = ("name", "filename", "content_type", "headers", "size", "_data", "_file")

    def __init__(self, name: str, filename: str, content_type: str,
                 headers: list[tuple[str, str]], data: bytes = b"",
                 file: IO[bytes] | None = None, size: int | None = None) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self._data = data
        self._file = file
        self.size = len(data) if size is None else size

    @property
    def in_memory(self) -> bool:
        return self._file is None

    @property
    def file(self) -> IO[bytes]:
        """The content as a binary file, at its start."""
        if self._file is None:
            import io
            return io.BytesIO(self._data)
        self._file.seek(0)
        return self._file

    def read(self) -> bytes:
        """The whole content."""
        return self._data if self._file is None else self.file.read()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the content to `path`."""
        with open(path, "wb") as out:
            if self._file is None:
                out.write(self._data)
            else:
                import shutil
                shutil.copyfileobj(self.file, out)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<UploadFile {self.name!r} {self.filename!r} {self.size} bytes>"


def parse_query(query: str) -> MultiDict[str]:
    """The query string as a MultiDict: ``+`` is a space, percent-escapes
    are UTF-8 (invalid sequences become U+FFFD), and a name without ``=``
    has the empty value. Only ``&`` separates fields (``;`` does not, as in
    the URL standard and the stdlib since 3.10)."""
    if not query:
        return MultiDict()
    return MultiDict(parse_qsl(query, keep_blank_values=True, errors="replace"))


def media_type(content_type: str | None) -> str:
    """The lower-cased type/subtype of a Content-Type value, without its
    parameters."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def parse_json(body: bytes, content_type: str | None) -> Any:
    """A JSON body. One that is not JSON, or does not say it is
    (application/json, or a type ending in +json), is HTTPError(400) with
    a short reason."""
    import json

    kind = media_type(content_type)
    if kind != "application/json" and not kind.endswith("+json"):
        raise HTTPError(400, "expected a JSON body (Content-Type: application/json)\n")
    try:
        return json.loads(body)
    except ValueError as exc:                   # JSONDecodeError, UnicodeDecodeError
        raise HTTPError(400, f"invalid JSON: {exc}\n") from None


def parse_form(body: bytes, content_type: str | None, max_fields: int,
               spool_size: int) -> tuple[MultiDict[str], MultiDict[UploadFile]]:
    """(fields, files) of a form body. A body of another type has neither
    (two empty mappings). More than `max_fields` fields and files together
    is a 413; a malformed multipart body a 400; a multipart body without
    the forms extra installed a 415."""
    kind = media_type(content_type)
    if kind == URLENCODED:
        return _parse_urlencoded(body, max_fields), MultiDict()
    if kind == MULTIPART:
        assert content_type is not None
        return _parse_multipart(body, content_type, max_fields, spool_size)
    return MultiDict(), MultiDict()


def _too_many(max_fields: int) -> HTTPError:
    return HTTPError(413, f"a form may have at most {max_fields} fields\n")


def _parse_urlencoded(body: bytes, max_fields: int) -> MultiDict[str]:
    if not body:
        return MultiDict()
    # Counted before anything is decoded (parse_qsl skips empty pieces, so
    # this may overcount by those, never undercount).
    if body.count(b"&") >= max_fields:
        raise _too_many(max_fields)
    text = body.decode("utf-8", "replace")
    return MultiDict(parse_qsl(text, keep_blank_values=True, errors="replace"))


def _parse_multipart(body: bytes, content_type: str, max_fields: int,
                     spool_size: int) -> tuple[MultiDict[str], MultiDict[UploadFile]]:
    try:
        import multipart  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        logger.warning("a multipart/form-data body was refused with 415: "
                       "parsing it needs the forms extra (%s)", FORMS_EXTRA)
        raise HTTPError(415, "multipart/form-data is not supported here: the server "
                             "needs the fastcore-http[forms] extra\n") from None
    _, options = multipart.parse_options_header(content_type)
    boundary = options.get("boundary")
    if not boundary:
        raise HTTPError(400, "multipart/form-data without a boundary\n")
    fields: list[tuple[str, str]] = []
    files: list[tuple[str, UploadFile]] = []
    try:
        parser = multipart.PushMultipartParser(
            boundary, content_length=len(body), max_segment_count=max_fields)
        with parser:                    # closing checks that the body was complete
            collector = _Part(spool_size)
            for event in parser.parse(body):
                if isinstance(event, multipart.MultipartSegment):
                    collector.begin(event)
                elif event is None:
                    collector.end(fields, files)
                else:
                    collector.add(event)
    except multipart.ParserLimitReached as exc:
        for _, upload in files:
            upload.close()
        raise HTTPError(413, f"multipart/form-data over a limit: {exc}\n") from None
    except multipart.MultipartError as exc:
        for _, upload in files:
            upload.close()
        raise HTTPError(400, f"malformed multipart/form-data: {exc}\n") from None
    return MultiDict(fields), MultiDict(files)


class _Part:
    """Collects one part's bytes as the parser reports them: in memory up
    to the spool size (files only), then in a temporary file."""

    def __init__(self, spool_size: int) -> None:
        self.spool_size = spool_size
        self.segment: Any = None
        self.data = bytearray()
        self.file: IO[bytes] | None = None
        self.size = 0

    def begin(self, segment: Any) -> None:
        self.segment = segment
        self.data = bytearray()
        self.file = None
        self.size = 0

    def add(self, chunk: bytes | bytearray) -> None:
        self.size += len(chunk)
        if self.file is not None:
            self.file.write(chunk)
            return
        self.data += chunk
        if self.segment.filename is not None and len(self.data) > self.spool_size:
            import tempfile                     # here: few requests need it
            self.file = tempfile.TemporaryFile()
            self.file.write(self.data)
            self.data = bytearray()

    def end(self, fields: list[tuple[str, str]], files: list[tuple[str, UploadFile]]) -> None:
        segment = self.segment
        name: str = segment.name or ""
        if segment.filename is None:
            try:
                value = self.data.decode(segment.charset or "utf-8", "replace")
            except LookupError:                     # a charset Python does not know
                value = self.data.decode("utf-8", "replace")
            fields.append((name, value))
            return
        files.append((name, UploadFile(
            name, segment.filename, segment.content_type or "application/octet-stream",
            list(segment.headerlist), data=bytes(self.data), file=self.file,
            size=self.size)))
