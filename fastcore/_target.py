"""The request target (RFC 9112 section 3.2): its four forms, and the path,
query, host and URL a handler sees."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from httptools import parse_url

from fastcore.errors import ProtocolError


def split_target(target: bytes) -> tuple[str, str]:
    """(path, query) of a request target. The path is percent-decoded and
    read as UTF-8 (invalid sequences become U+FFFD); the query is left
    raw. A fragment, which clients should not send, is dropped."""
    if target[:1] != b"/":
        if target == b"*":
            return "*", ""
        scheme_end = target.find(b"://")
        if scheme_end < 0:
            return "", ""                           # authority-form (CONNECT)
        rest = target[scheme_end + 3:]
        cut = min((i for i in (rest.find(b"/"), rest.find(b"?"), rest.find(b"#"))
                   if i >= 0), default=len(rest))
        target = b"/" + rest[cut:] if rest[cut:cut + 1] != b"/" else rest[cut:]
    target = target.split(b"#", 1)[0]
    path, _, query = target.partition(b"?")
    if b"%" in path:
        path = unquote_to_bytes(path)
    return path.decode("utf-8", "replace"), query.decode("latin-1")


def _after_scheme(target: bytes) -> tuple[bytes, int] | None:
    # An absolute-form target without its "scheme://": (the rest, where its
    # authority ends); None for any other form.
    if target[:1] == b"/" or b"://" not in target:
        return None
    rest = target.split(b"://", 1)[1]
    ends = [i for i in (rest.find(b"/"), rest.find(b"?"), rest.find(b"#")) if i >= 0]
    return rest, min(ends, default=len(rest))


def authority(target: bytes) -> str | None:
    """The host[:port] of an absolute-form target, which names the host
    whatever the Host field says (RFC 9112 section 3.2.2); None for the
    other forms."""
    split = _after_scheme(target)
    return None if split is None else split[0][:split[1]].decode("latin-1")


def origin(target: bytes) -> str:
    """The path and query of a target as sent (still percent-encoded),
    for a URL: "/" for the asterisk and authority forms."""
    split = _after_scheme(target)
    if split is not None:
        target = split[0][split[1]:]
        if target[:1] != b"/":
            target = b"/" + target
    elif target[:1] != b"/":
        return "/"
    return target.split(b"#", 1)[0].decode("latin-1")


def check_target_form(method: bytes, target: bytes) -> None:
    """Refuse a target whose form the method may not use. Called only for
    targets that do not start with "/" (origin-form is always allowed)."""
    if target == b"*":
        if method != b"OPTIONS":
            raise ProtocolError(400)
        return
    if method == b"CONNECT":
        # Authority-form asks for a tunnel: a proxy's job, not ours.
        raise ProtocolError(501)
    scheme = target.split(b":", 1)[0].lower()
    if scheme not in (b"http", b"https") or b"://" not in target:
        raise ProtocolError(400)
    try:
        url = parse_url(target)
    except Exception:
        raise ProtocolError(400) from None
    if not url.host:
        raise ProtocolError(400)
