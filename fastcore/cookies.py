"""Cookies in (the Cookie field a browser sends) and out (Set-Cookie),
after RFC 6265.

``parse_cookies`` reads the ``name=value; name=value`` list as user agents
send it (section 5.4) and is lenient as they are; ``set_cookie_field``
builds one Set-Cookie value (section 4.1) and refuses anything that could
change its meaning: a name that is not a token, a value with a separator
(``;``, ``,``, space, quote, backslash) or a control character, attributes
that would split the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, TypedDict, Unpack

from fastcore._syntax import TOKEN

if TYPE_CHECKING:
    import datetime

__all__ = ["parse_cookies", "set_cookie_field", "delete_cookie_field"]

SameSite = Literal["Strict", "Lax", "None", "strict", "lax", "none"]


class CookieOptions(TypedDict, total=False):
    """The attributes of a cookie set (``Response.set_cookie``); the
    defaults are ``path="/"`` and ``samesite="Lax"``, the rest unset."""

    max_age: int | datetime.timedelta | None
    expires: datetime.datetime | float | None
    path: str | None
    domain: str | None
    secure: bool
    httponly: bool
    samesite: SameSite | None


class ScopeOptions(TypedDict, total=False):
    """What identifies a cookie to delete: the path and domain it was set
    with (and the flags browsers require to accept the deletion)."""

    path: str | None
    domain: str | None
    secure: bool
    httponly: bool
    samesite: SameSite | None

# RFC 6265 section 4.1.1: cookie-octet is US-ASCII but CTLs, whitespace,
# DQUOTE, comma, semicolon and backslash; the value may be DQUOTEd whole.
_COOKIE_VALUE = re.compile(r'[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*')
# Path and Domain attribute values: any CHAR but CTLs and ";" (section
# 4.1.1, path-value); a domain is narrower still, but the user agent
# judges it, so only what could split the field is refused here.
_ATTRIBUTE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def parse_cookies(values: Iterable[str]) -> dict[str, str]:
    """The cookies of one request, from its Cookie field values. A pair
    without ``=`` or with an empty name is skipped; DQUOTEs around a value
    are removed; when a name repeats, the first wins (user agents list the
    cookie with the longest path first, section 5.4 step 2). No decoding
    beyond that: RFC 6265 defines none, so a value is what the application
    set."""
    cookies: dict[str, str] = {}
    for value in values:
        for pair in value.split(";"):
            name, eq, text = pair.partition("=")
            name = name.strip(" \t")
            if not eq or not name:
                continue
            text = text.strip(" \t")
            if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
                text = text[1:-1]
            cookies.setdefault(name, text)
    return cookies


def _expires_text(expires: datetime.datetime | float | int) -> str:
    # Imported here: email.utils costs the process 2 MiB, and only a
    # cookie with Expires needs it.
    import datetime
    import email.utils

    if isinstance(expires, datetime.datetime):
        if expires.tzinfo is None:
            raise ValueError("expires must be an aware datetime (with a tzinfo), "
                             "or seconds since the epoch")
        return email.utils.format_datetime(expires.astimezone(datetime.timezone.utc),
                                           usegmt=True)
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        raise TypeError(f"expires is a datetime or seconds since the epoch, not {expires!r}")
    return email.utils.formatdate(expires, usegmt=True)


def set_cookie_field(name: str, value: str = "", **options: Unpack[CookieOptions]) -> str:
    """One Set-Cookie field value. Raises ValueError for a name that is
    not a token, a value outside cookie-octet (encode it first, for
    example with ``urllib.parse.quote``), an attribute that would split the
    field, ``SameSite=None`` without ``secure`` (user agents drop it), and
    the ``__Secure-``/``__Host-`` prefixes without what they require
    (RFC 6265bis section 4.1.3)."""
    if not isinstance(name, str) or not TOKEN.fullmatch(name):
        raise ValueError(f"a cookie name is a token, not {name!r}")
    if not isinstance(value, str):
        raise TypeError(f"a cookie value is a str, not {type(value).__name__}")
    bare = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if not _COOKIE_VALUE.fullmatch(bare):
        raise ValueError(f"cookie {name!r}: the value {value!r} has a character a cookie "
                         "may not carry (space, quote, comma, semicolon, backslash, "
                         "control or non-ASCII); encode it, e.g. with urllib.parse.quote")
    unknown = options.keys() - CookieOptions.__annotations__.keys()
    if unknown:
        raise TypeError(f"unknown cookie attribute {', '.join(sorted(unknown))}")
    max_age = options.get("max_age")
    expires = options.get("expires")
    path = options.get("path", "/")
    domain = options.get("domain")
    secure = options.get("secure", False)
    samesite = options.get("samesite", "Lax")
    parts = [f"{name}={value}"]
    if expires is not None:
        parts.append(f"Expires={_expires_text(expires)}")
    if max_age is not None:
        if hasattr(max_age, "total_seconds"):       # a datetime.timedelta
            max_age = int(max_age.total_seconds())
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise TypeError(f"max_age is whole seconds, not {max_age!r}")
        parts.append(f"Max-Age={max_age}")
    for attribute, text in (("Domain", domain), ("Path", path)):
        if text is None:
            continue
        if not isinstance(text, str) or not _ATTRIBUTE_VALUE.fullmatch(text):
            raise ValueError(f"cookie {name!r}: invalid {attribute} {text!r}")
        parts.append(f"{attribute}={text}")
    if secure:
        parts.append("Secure")
    if options.get("httponly", False):
        parts.append("HttpOnly")
    if samesite is not None:
        canonical = {"strict": "Strict", "lax": "Lax", "none": "None"}.get(
            str(samesite).lower())
        if canonical is None:
            raise ValueError(f"samesite is 'Strict', 'Lax' or 'None', not {samesite!r}")
        if canonical == "None" and not secure:
            raise ValueError(f"cookie {name!r}: SameSite=None needs secure=True")
        parts.append(f"SameSite={canonical}")
    if name.startswith("__Secure-") and not secure:
        raise ValueError(f"cookie {name!r}: the __Secure- prefix needs secure=True")
    if name.startswith("__Host-") and (not secure or domain is not None or path != "/"):
        raise ValueError(f"cookie {name!r}: the __Host- prefix needs secure=True, "
                         "path='/' and no domain")
    return "; ".join(parts)


def delete_cookie_field(name: str, **options: Unpack[ScopeOptions]) -> str:
    """A Set-Cookie value that removes cookie `name` (the same path and
    domain it was set with must be given): an empty value that expired at
    the epoch, with ``Max-Age=0`` (section 5.3 step 3)."""
    field = set_cookie_field(name, "", max_age=0, **options)
    first, _, rest = field.partition("; ")
    return f"{first}; Expires={_EPOCH}; {rest}"
