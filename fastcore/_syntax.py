"""The syntax rules of RFC 9110 that several parts of fastcore apply: what a
token is (field names, methods), and the methods this server knows. The
engine builds its C table of token characters from ``TCHARS``, so the rule
is written once."""

from __future__ import annotations

import re
import string

__all__ = ["STANDARD_METHODS", "TCHARS", "TOKEN"]

# RFC 9110 section 5.6.2: tchar.
TCHARS = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
TOKEN = re.compile(f"[{re.escape(TCHARS)}]+")

# RFC 9110 section 9 and PATCH (RFC 5789). A method outside these and every
# route's own is answered 501; one that a path does not take, 405 (RFC 9110
# sections 15.6.2 and 15.5.6).
STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
                    "OPTIONS", "TRACE", "PATCH")
