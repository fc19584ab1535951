"""Errors that carry the HTTP status they are answered with.

Pure Python, importable without the compiled engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastcore.responses import Response

__all__ = ["HTTPError", "ProtocolError"]


class HTTPError(Exception):
    """Raise in a handler to answer with `status` instead of a 500.

    ``raise HTTPError(404)`` answers "404 Not Found" as plain text. `body`
    replaces that text (str, bytes, or a dict or list sent as JSON);
    `content_type` is its type (plain text by default, JSON for a dict or
    list); `headers` adds fields (``Allow``, ``WWW-Authenticate``, ...).
    An error handler registered for the status (``@app.errorhandler(404)``)
    answers instead, if there is one. The connection stays open.
    """

    def __init__(
        self,
        status: int,
        body: str | bytes | dict[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(status, body)
        if content_type is not None and not isinstance(content_type, str):
            raise TypeError("HTTPError's third argument is the content type (a str); "
                            "pass the fields as headers=")
        self.status = int(status)
        self.body = body
        self.content_type = content_type
        self.headers = headers

    @property
    def detail(self) -> str | bytes | dict[str, Any] | list[Any] | None:
        """The body, by its former name."""
        return self.body

    def to_response(self) -> Response:
        """The response this error answers with when no error handler
        takes it."""
        from fastcore.responses import TEXT, Response, error_body, json_body

        if self.status in (204, 304):
            # These carry no body (RFC 9110 sections 15.3.5 and 15.4.5).
            return Response(b"", status=self.status, headers=self.headers,
                            content_type=None)
        body = self.body
        content_type = self.content_type
        if isinstance(body, (dict, list)):
            body = json_body(body)
            content_type = content_type or "application/json"
        elif body is None:
            body = error_body(self.status)
        return Response(body, status=self.status, headers=self.headers,
                        content_type=content_type or TEXT)


class ProtocolError(Exception):
    """A request refused before any handler runs: malformed, over a limit,
    or in a form the server does not serve. The engine answers `status` and
    closes the connection, since the rest of the stream can't be trusted."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
