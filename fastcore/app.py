"""The application: handlers registered by path and method.

Exact paths live in a dict (one lookup); paths with ``{name}`` segments are
tried in registration order. The engine looks exact routes up by the raw
request bytes on its hot path (see ``engine_routes``) and calls
``App.dispatch`` for everything else: parameters, 404, 405, 501.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from fastcore._syntax import STANDARD_METHODS, TOKEN
from fastcore.limits import LimitOptions, Limits
from fastcore.responses import TEXT, FileResponse, Response, error_body
from fastcore.static import StaticFiles
from fastcore.streams import Stream

if TYPE_CHECKING:
    from fastcore._core import Request
    from fastcore.wsgi import WSGIMount

__all__ = ["App"]

# What a handler may return: bytes and str are 200 text/html.
Result = bytes | str | Response | FileResponse | Stream | Iterator[bytes | str]
Handler = Callable[["Request"], Result]
H = TypeVar("H", bound=Handler)


_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?}")


class _Route:
    """The handlers of one path, by method."""

    __slots__ = ("path", "regex", "handlers", "implicit_head")

    def __init__(self, path: str, regex: re.Pattern[str] | None) -> None:
        self.path = path
        self.regex = regex
        self.handlers: dict[str, Handler] = {}
        self.implicit_head = False      # HEAD answered by the GET handler

    def allow(self) -> str:
        return ", ".join(sorted(self.handlers))


def _compile(path: str) -> re.Pattern[str] | None:
    """None for a path without parameters, else a regex with one named group
    per ``{name}`` (one segment) or ``{name:path}`` (the rest of the path)."""
    if "{" not in path:
        return None
    pattern, literals, pos, names = [], [], 0, set()
    for match in _PARAM.finditer(path):
        name, kind = match.groups()
        if name in names:
            raise ValueError(f"parameter {name!r} appears twice in {path!r}")
        names.add(name)
        literals.append(path[pos:match.start()])
        pattern.append(re.escape(literals[-1]))
        pattern.append(f"(?P<{name}>.+)" if kind else f"(?P<{name}>[^/]+)")
        pos = match.end()
    literals.append(path[pos:])
    pattern.append(re.escape(literals[-1]))
    if any("{" in text or "}" in text for text in literals):
        raise ValueError(f"malformed parameter in {path!r}")
    return re.compile("".join(pattern))


class App:
    """A set of handlers, and the limits to serve them with.

    ``App(**limits)`` takes any field of :class:`fastcore.limits.Limits` by
    keyword, e.g. ``App(max_body=10 * 1024 * 1024)``.
    """

    def __init__(self, **limits: Unpack[LimitOptions]) -> None:
        self.limits = Limits().replace(**limits)
        self._exact: dict[str, _Route] = {}
        self._patterns: list[_Route] = []
        self._methods: set[str] = set(STANDARD_METHODS)
        self._mounts: list[StaticFiles | WSGIMount] = []
        self._inline: set[Handler] = set()
        self._not_found = Response(error_body(404), 404, content_type=TEXT)
        self._not_implemented = Response(error_body(501), 501, content_type=TEXT)

    # -- registration -------------------------------------------------------

    def route(self, path: str, methods: Iterable[str] = ("GET",), *,
              inline: bool = False) -> Callable[[H], H]:
        """Register the decorated function for `path` and `methods`.

        GET implies HEAD (answered with the GET handler's headers and no
        body). ``{name}`` in the path matches one segment and
        ``{name:path}`` the rest of the path; the values are in
        ``request.params``. With a handler pool (``threads``), `inline`
        keeps this handler on the loop's thread: for one that never waits,
        on an exact path (one without parameters).
        """
        def register(handler: H) -> H:
            self.add_route(path, handler, methods, inline=inline)
            return handler
        return register

    def add_route(self, path: str, handler: Handler,
                  methods: Iterable[str] = ("GET",), *, inline: bool = False) -> None:
        """The same as the ``route`` decorator, as a call."""
        if not path.startswith("/"):
            raise ValueError(f"a route path starts with '/', not {path!r}")
        if not callable(handler):
            raise TypeError(f"handler {handler!r} is not callable")
        if isinstance(methods, str):
            methods = (methods,)
        names = {m.upper() for m in methods}
        if not names:
            raise ValueError("a route needs at least one method")
        for name in names:
            if not TOKEN.fullmatch(name):
                raise ValueError(f"invalid method {name!r}")
        regex = _compile(path)
        route = self._exact.get(path) if regex is None else next(
            (r for r in self._patterns if r.path == path), None)
        if route is None:
            route = _Route(path, regex)
            if regex is None:
                self._exact[path] = route
            else:
                self._patterns.append(route)
        for name in sorted(names):
            if name in route.handlers and not (
                    name == "HEAD" and route.implicit_head):
                raise ValueError(f"{name} {path} is already registered")
            route.handlers[name] = handler
            if name == "HEAD":
                route.implicit_head = False
        if "GET" in names and "HEAD" not in route.handlers:
            route.handlers["HEAD"] = handler
            route.implicit_head = True
        if inline:
            if regex is not None:
                raise ValueError("inline=True is for exact paths: the engine runs "
                                 f"the handlers of {path!r} after routing in Python")
            self._inline.add(handler)
        self._methods.update(route.handlers)

    def static(self, prefix: str, directory: str | os.PathLike[str], *,
               max_age: int | None = None, index: str = "index.html",
               dotfiles: bool = False, listing: bool = False) -> None:
        """Serve the files under `directory` at `prefix`, with sendfile(2).

        Routes take precedence over static files. ``index.html`` answers for
        a directory; without one a directory is 404 unless `listing`. Files
        and directories whose name starts with a dot are not served unless
        `dotfiles`. `max_age` adds ``Cache-Control: max-age``.
        """
        self._mounts.append(StaticFiles(prefix, directory, max_age=max_age, index=index,
                                        dotfiles=dotfiles, listing=listing))
        # The longest prefix is tried first.
        self._mounts.sort(key=lambda mount: len(mount.prefix), reverse=True)

    def mount(self, prefix: str, wsgi_app: Callable[..., Any]) -> None:
        """Serve a WSGI application (Flask, Django, ...) under `prefix`:
        its SCRIPT_NAME is the prefix, its PATH_INFO the rest. Routes take
        precedence; the longest prefix among mounts is tried first."""
        from fastcore.wsgi import WSGIMount

        self._mounts.append(WSGIMount(prefix, wsgi_app))
        self._mounts.sort(key=lambda mount: len(mount.prefix), reverse=True)

    # -- dispatch -----------------------------------------------------------

    def engine_routes(self) -> dict[bytes, dict[bytes, Handler]]:
        """Exact routes keyed by the raw bytes a request carries: what the
        engine looks up before it decodes anything. Paths that a client
        would have to percent-encode are left to ``dispatch``."""
        table = {}
        for path, route in self._exact.items():
            if path.isascii() and re.fullmatch(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]+", path):
                table[path.encode("ascii")] = {
                    m.encode("ascii"): h for m, h in route.handlers.items()}
        return table

    def _serve_threaded(self) -> None:
        # A handler pool will serve this app: its WSGI applications are told
        # (wsgi.multithread).
        for mount in self._mounts:
            handler = getattr(mount, "handler", None)
            if handler is not None:
                handler.base["wsgi.multithread"] = True
        bridge = getattr(self.dispatch, "base", None)
        if bridge is not None:
            bridge["wsgi.multithread"] = True

    def inline_handlers(self) -> frozenset[Handler]:
        """The handlers that stay on the loop's thread when a pool runs the
        others (``route(..., inline=True)``)."""
        return frozenset(self._inline)

    def dispatch(self, request: Request) -> Result:
        """Find and call the handler for a request the engine could not
        route by itself; answer 404, 405 or 501 when there is none."""
        method = request.method
        if method not in self._methods:
            return self._not_implemented
        path = request.path
        route = self._exact.get(path)
        if route is None:
            for candidate in self._patterns:
                match = candidate.regex.fullmatch(path)  # type: ignore[union-attr]
                if match is not None:
                    route = candidate
                    request._params = match.groupdict()
                    break
            else:
                if path == "*" and method == "OPTIONS":
                    # About the server as a whole (RFC 9110 section 9.3.7).
                    return Response(b"", 204, {"Allow": ", ".join(sorted(self._methods))},
                                    content_type=None)
                for mount in self._mounts:
                    if mount.matches(path):
                        return mount.serve(request)
                return self._not_found
        handler = route.handlers.get(method)
        if handler is None:
            return Response(error_body(405), 405, {"Allow": route.allow()},
                            content_type=TEXT)
        return handler(request)

    # -- serving ------------------------------------------------------------

    def run(self, host: str = "127.0.0.1", port: int = 8081,
            **limits: Unpack[LimitOptions]) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM, then stop
        gracefully: requests already read are answered first."""
        import sys

        from fastcore.server import Server

        server = Server(self, host, port, **limits)
        server.serve_forever(ready=lambda: print(
            f"fastcore serving on {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True))
