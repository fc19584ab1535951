"""The syntax rules of RFC 9110 that several parts of fastcore apply: what a
token is (field names, methods), what a host name is made of, and the
methods this server knows. The engine builds its C tables of token and
reg-name characters from ``TCHARS`` and ``REG_NAME_CHARS``, so each rule is
written once."""

from __future__ import annotations

import re
import string

__all__ = ["REG_NAME_CHARS", "STANDARD_METHODS", "TCHARS", "TOKEN"]

# RFC 9110 section 5.6.2: tchar.
TCHARS = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
TOKEN = re.compile(f"[{re.escape(TCHARS)}]+")

# RFC 3986 section 3.2.2: the characters of a reg-name (the host of a Host
# field) besides pct-encoded: unreserved and sub-delims.
REG_NAME_CHARS = string.ascii_letters + string.digits + "-._~" + "!$&'()*+,;="

# RFC 9110 section 9 and PATCH (RFC 5789). A method outside these and every
# route's own is answered 501; one that a path does not take, 405 (RFC 9110
# sections 15.6.2 and 15.5.6).
STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
                    "OPTIONS", "TRACE", "PATCH")
