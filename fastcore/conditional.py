"""Conditional requests and ranges (RFC 9110 sections 13 and 14), applied
to a file the engine is about to send. The engine calls ``evaluate`` only
for requests that carry a precondition or a Range field."""

from __future__ import annotations

from typing import Literal

__all__ = ["evaluate"]


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
