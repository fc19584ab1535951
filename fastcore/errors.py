"""Errors that carry the HTTP status they are answered with.

Pure Python, importable without the compiled engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastcore.responses import Response

__all__ = ["HTTPError", "ProtocolError"]


class HTTPError(Exception):
    """Raise in a handler to answer with `status` instead of a 500.

    ``raise HTTPError(404)`` answers "404 Not Found" as plain text;
    `detail` replaces that text and `headers` adds fields (``Allow``,
    ``WWW-Authenticate``, ...). The connection stays open.
    """

    def __init__(
        self,
        status: int,
        detail: str | bytes | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(status, detail)
        self.status = int(status)
        self.detail = detail
        self.headers = headers

    def to_response(self) -> Response:
        from fastcore.responses import Response, error_body

        if self.status in (204, 304):
            # These carry no body (RFC 9110 sections 15.3.5 and 15.4.5).
            return Response(b"", status=self.status, headers=self.headers,
                            content_type=None)
        body = self.detail if self.detail is not None else error_body(self.status)
        return Response(body, status=self.status, headers=self.headers,
                        content_type="text/plain; charset=utf-8")


class ProtocolError(Exception):
    """A request refused before any handler runs: malformed, over a limit,
    or in a form the server does not serve. The engine answers `status` and
    closes the connection, since the rest of the stream can't be trusted."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
