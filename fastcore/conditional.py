"""Conditional requests and ranges (RFC 9110 sections 13 and 14): applied
to a file the engine is about to send (``evaluate``, called only for
requests that carry a precondition or a Range field), and, on request, to a
handler's response (``make_conditional``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from fastcore._core import Request
    from fastcore.responses import Response

__all__ = ["evaluate", "make_conditional"]

_CONDITIONAL_FIELDS = ("if-match", "if-none-match", "if-modified-since",
                       "if-unmodified-since", "if-range", "range")


def _etags(value: str) -> list[str]:
    return [tag.strip() for tag in value.split(",") if tag.strip()]


def _weak_match(tags: list[str], etag: str) -> bool:
    opaque = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == opaque for tag in tags)


def _strong_match(tags: list[str], etag: str) -> bool:
    return any(tag == "*" or (tag == etag and not tag.startswith("W/")) for tag in tags)


def _parse_date(value: str) -> float | None:
    import email.utils              # here: it costs the process 2 MiB
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


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
    # ASCII digits only (str.isdigit also takes "²" and other Unicode
    # digits, which int() then refuses); anything else is unparseable, and
    # an unparseable Range is ignored (section 14.2).
    if not (_is_digits(first) or first == "") or not (_is_digits(last) or last == ""):
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


def _fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    # The conditional fields by lower-cased name, repeats joined (RFC 9110
    # section 5.3).
    fields: dict[str, str] = {}
    for name, value in pairs:
        name = name.lower()
        if name in _CONDITIONAL_FIELDS:
            fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields


def preconditions(fields: dict[str, str], get_or_head: bool, tag: str | None,
                  last_modified: str | None, modified: int | None) -> int:
    """The status the preconditions of section 13.2.2 give, in its order:
    412, 304, or 0 to go on. `tag` is the representation's ETag,
    `last_modified` its Last-Modified text and `modified` the same in
    seconds (None when it has none)."""
    if "if-match" in fields:
        if tag is None or not _strong_match(_etags(fields["if-match"]), tag):
            return 412
    elif "if-unmodified-since" in fields and modified is not None:
        since = _parse_date(fields["if-unmodified-since"])
        if since is not None and modified > since:
            return 412
    if "if-none-match" in fields:
        if tag is not None and _weak_match(_etags(fields["if-none-match"]), tag):
            return 304 if get_or_head else 412
    elif "if-modified-since" in fields and get_or_head and modified is not None:
        value = fields["if-modified-since"]
        since = _parse_date(value)
        if value == last_modified or (since is not None and modified <= since):
            return 304
    return 0


def evaluate(method: bytes, raw_headers: list[bytes], size: int, etag: bytes,
             last_modified: bytes, mtime: float) -> tuple[int, int, int, bytes]:
    """Apply a request's preconditions and Range to a file: returns
    (status, start, length, extra field lines). Multiple ranges are
    answered with the whole file and 200, which RFC 9110 section 14.2
    allows (a server may ignore Range)."""
    fields = _fields([(raw_headers[i].decode("latin-1"), raw_headers[i + 1].decode("latin-1"))
                      for i in range(0, len(raw_headers), 2)])
    tag = etag.decode("ascii")
    modified_text = last_modified.decode("ascii")
    status = preconditions(fields, method in (b"GET", b"HEAD"), tag, modified_text,
                           int(mtime))
    if status:
        return status, 0, 0, b""

    if "range" in fields and method == b"GET":
        if "if-range" in fields:
            condition = fields["if-range"].strip()
            if condition.startswith('"') or condition.startswith("W/"):
                applies = condition == tag              # strong comparison
            else:
                applies = condition == modified_text
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


def make_conditional(request: Request, response: Response) -> Response:
    """Give a handler's 200 response a strong ETag (a hash of its body,
    unless it has an ETag field already) and, for GET and HEAD, answer the
    request's preconditions against it (and against its Last-Modified
    field, if it has one): 304 Not Modified, with the response's fields and
    no body, when the client's copy is current; 412 when an If-Match or
    If-Unmodified-Since fails; else the response itself. Other methods get
    the ETag only: their preconditions must be checked before the handler
    acts, not after. Opt-in for a route with ``@app.route(path,
    etag=True)``."""
    import hashlib                  # here: only a route that asks pays for it

    from fastcore.responses import TEXT, Response, error_body

    if response.status != 200:
        return response
    fields = response.headers
    tag = next((v for n, v in fields if n.lower() == "etag"), None)
    if tag is None:
        digest = hashlib.blake2b(response.body, digest_size=16).hexdigest()
        tag = f'"{digest}"'
        response.headers = (*fields, ("ETag", tag))
    if request.method not in ("GET", "HEAD"):
        return response
    last_modified = next((v for n, v in fields if n.lower() == "last-modified"), None)
    modified = _parse_date(last_modified) if last_modified is not None else None
    status = preconditions(_fields(request.headers.items()), True, tag, last_modified,
                           int(modified) if modified is not None else None)
    if status == 304:
        # RFC 9110 section 15.4.5: the fields a 200 would have carried
        # that describe it (ETag, Cache-Control, Vary, ...), and no body.
        kept = tuple((n, v) for n, v in response.headers if n.lower() != "content-type")
        return Response(b"", 304, kept, content_type=None)
    if status == 412:
        return Response(error_body(412), 412, content_type=TEXT)
    return response
