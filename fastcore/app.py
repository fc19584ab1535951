"""The application: handlers registered by path and method, and the hooks
around them.

Exact paths live in a dict (one lookup); paths with ``{name}`` segments are
tried in registration order. The engine looks exact routes up by the raw
request bytes on its hot path (see ``engine_routes``) and calls
``App.dispatch`` for everything else: parameters, static mounts, 404, 405,
501.

Hooks (before/after request, error handlers, a JSON encoder) cost nothing
while none is registered: the engine then calls the handlers themselves.
Once one is, each handler the engine is given is wrapped by ``_Guard``,
which runs them around it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from fastcore._syntax import STANDARD_METHODS, TOKEN
from fastcore.errors import HTTPError
from fastcore.limits import LimitOptions, Limits
from fastcore.responses import (
    TEXT, FileResponse, JSONDefault, Response, as_response, error_body, json_response)
from fastcore.static import StaticFiles
from fastcore.streams import Stream

if TYPE_CHECKING:
    from fastcore._core import Request
    from fastcore.testing import Client
    from fastcore.wsgi import WSGIMount

__all__ = ["App"]

logger = logging.getLogger("fastcore")

# What a handler may return: bytes and str are 200 text/html, a dict or a
# list 200 JSON; a Stream or an iterator is streamed.
Result = (bytes | str | dict[str, Any] | list[Any] | Response | FileResponse | Stream
          | Iterator[bytes | str])
Handler = Callable[["Request"], Result]
H = TypeVar("H", bound=Handler)
BeforeHook = Callable[["Request"], Result | None]
AfterHook = Callable[["Request", Any], Any]
ErrorHandler = Callable[["Request", Any], Result]
B = TypeVar("B", bound=BeforeHook)
A = TypeVar("A", bound=AfterHook)
E = TypeVar("E", bound=ErrorHandler)


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

    def __init__(self, *, json_default: JSONDefault | None = None,
                 **limits: Unpack[LimitOptions]) -> None:
        self.limits = Limits().replace(**limits)
        self._exact: dict[str, _Route] = {}
        self._patterns: list[_Route] = []
        self._methods: set[str] = set(STANDARD_METHODS)
        self._mounts: list[StaticFiles | WSGIMount] = []
        self._inline: set[Handler] = set()
        self._not_found = Response(error_body(404), 404, content_type=TEXT)
        self._not_implemented = Response(error_body(501), 501, content_type=TEXT)
        # The hooks; `_guard` is None while there are none.
        self._json_default = json_default
        self._before: list[BeforeHook] = []
        self._after: list[AfterHook] = []
        self._on_status: dict[int, ErrorHandler] = {}
        self._on_exception: dict[type[BaseException], ErrorHandler] = {}
        self._guard: _Guard | None = None
        self._hooks_changed()

    # -- registration -------------------------------------------------------

    def route(self, path: str, methods: Iterable[str] = ("GET",), *,
              etag: bool = False, replace: bool = False,
              inline: bool = False) -> Callable[[H], H]:
        """Register the decorated function for `path` and `methods`.

        GET implies HEAD (answered with the GET handler's headers and no
        body). ``{name}`` in the path matches one segment and
        ``{name:path}`` the rest of the path; the values are in
        ``request.params``. Registering a method and path that already has
        a handler is a ValueError, unless `replace` (as when a module is
        run again in a REPL). `etag` gives the handler's 200 responses a
        strong ETag and answers If-None-Match with 304 (see
        ``fastcore.make_conditional``). With a handler pool (``threads``),
        `inline` keeps this handler on the loop's thread: for one that
        never waits, on an exact path (one without parameters).
        """
        def register(handler: H) -> H:
            self.add_route(path, handler, methods, etag=etag, replace=replace,
                           inline=inline)
            return handler
        return register

    def add_route(self, path: str, handler: Handler,
                  methods: Iterable[str] = ("GET",), *,
                  etag: bool = False, replace: bool = False, inline: bool = False) -> None:
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
        if etag:
            handler = _conditional(handler)
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
            if name in route.handlers and not replace and not (
                    name == "HEAD" and route.implicit_head):
                raise ValueError(f"{name} {path} is already registered (to "
                                 f"{_name(route.handlers[name])}); pass replace=True "
                                 "to swap the handler")
            route.handlers[name] = handler
            if name == "HEAD":
                route.implicit_head = False
        if "GET" in names and ("HEAD" not in route.handlers or route.implicit_head):
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

    # -- hooks ----------------------------------------------------------------

    def before_request(self, hook: B) -> B:
        """Register `hook(request)` to run before every request's handler,
        in registration order, for routed paths, static files and unknown
        paths alike. Returning None goes on; returning a result (anything a
        handler may return) answers with it instead, and the handler and
        later hooks do not run."""
        self._before.append(hook)
        self._hooks_changed()
        return hook

    def after_request(self, hook: A) -> A:
        """Register `hook(request, response)` to run after every response
        the app produced (a handler's, a before hook's or an error
        handler's), in registration order. The response is a Response (a
        handler's bytes, str, dict or list already made one), a
        FileResponse, or a Stream or iterator as the handler returned it;
        the hook returns the response to send (the same one, changed, or
        another), or None to keep it."""
        self._after.append(hook)
        self._hooks_changed()
        return hook

    def errorhandler(self, key: int | type[BaseException]) -> Callable[[E], E]:
        """Register the decorated `handler(request, error)` for a status or
        an exception class; it returns what a route handler returns.

        ``@app.errorhandler(404)`` renders every 404 the app answers: a
        handler's ``HTTPError(404)``, an unknown path, a static mount's
        missing file (likewise 405, 501). ``@app.errorhandler(ValueError)``
        takes that exception (and its subclasses; the closest class wins)
        from a handler, ``@app.errorhandler(Exception)`` or
        ``errorhandler(500)`` any exception that would have been a 500;
        the traceback is logged either way. `error` is the HTTPError (an
        unknown path gets ``HTTPError(404)``) or the exception. When the
        handler returns bytes, str, a dict or a list, the response has the
        error's status (and, for an HTTPError, its headers, such as Allow);
        a Response it returns is sent as it is. An error handler that
        raises answers a plain 500. HTTPError is not an exception a class
        handler takes: register its status.
        """
        if isinstance(key, int) and not isinstance(key, bool):
            if not 400 <= key <= 599:
                raise ValueError(f"an error handler's status is 400-599, not {key}")
        elif not (isinstance(key, type) and issubclass(key, BaseException)):
            raise TypeError(f"errorhandler takes a status or an exception class, not {key!r}")

        def register(handler: E) -> E:
            if isinstance(key, int):
                self._on_status[key] = handler
            else:
                self._on_exception[key] = handler
            self._hooks_changed()
            return handler
        return register

    def _hooks_changed(self) -> None:
        hooked = (self._before or self._after or self._on_status or self._on_exception
                  or self._json_default is not None)
        self._guard = _Guard(self) if hooked else None

    @property
    def json_default(self) -> JSONDefault | None:
        """The JSON encoder hook for the dicts and lists handlers return:
        called with each object json cannot encode, it returns one it can
        (``default=`` of ``json.dumps``), e.g. ``str`` for datetimes."""
        return self._json_default

    @json_default.setter
    def json_default(self, value: JSONDefault | None) -> None:
        self._json_default = value
        self._hooks_changed()

    # -- dispatch -----------------------------------------------------------

    def engine_routes(self) -> dict[bytes, dict[bytes, Handler]]:
        """Exact routes keyed by the raw bytes a request carries: what the
        engine looks up before it decodes anything. Paths that a client
        would have to percent-encode are left to ``dispatch``. With hooks
        registered, each handler comes wrapped in them."""
        guard = self._guard
        table = {}
        for path, route in self._exact.items():
            if path.isascii() and re.fullmatch(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]+", path):
                table[path.encode("ascii")] = {
                    m.encode("ascii"): (h if guard is None else guard.wrap(h))
                    for m, h in route.handlers.items()}
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
        others (``route(..., inline=True)``), as ``engine_routes`` gives
        them (wrapped in the hooks, if there are any)."""
        guard = self._guard
        if guard is None:
            return frozenset(self._inline)
        return frozenset(guard.wrap(handler) for handler in self._inline)

    def dispatch(self, request: Request) -> Result:
        """Find and call the handler for a request the engine could not
        route by itself; answer 404, 405 or 501 when there is none."""
        guard = self._guard
        if guard is not None:
            return guard.dispatch(request)
        target = self._resolve(request)
        if isinstance(target, Response):
            return target
        return target(request)

    def _resolve(self, request: Request) -> Handler | Response:
        """The handler for a request, or the app's own answer (404, 405,
        501, OPTIONS *)."""
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
                        return mount.serve
                return self._not_found
        handler = route.handlers.get(method)
        if handler is None:
            return Response(error_body(405), 405, {"Allow": route.allow()},
                            content_type=TEXT)
        return handler

    def test_client(self, **limits: Unpack[LimitOptions]) -> Client:
        """A client that sends requests to this app through the real parser
        and engine, in this process, without a port: see
        :class:`fastcore.testing.Client`."""
        from fastcore.testing import Client
        return Client(self, **limits)

    # -- serving ------------------------------------------------------------

    def run(self, host: str = "127.0.0.1", port: int = 8081, *, workers: int | None = None,
            **limits: Unpack[LimitOptions]) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM, then stop
        gracefully: requests already read are answered first. With
        `workers`, this process becomes the master of that many worker
        processes (see fastcore.supervisor)."""
        import sys

        from fastcore.server import Server

        server = Server(self, host, port, workers=workers, **limits)
        server.serve_forever(ready=lambda: print(
            f"fastcore serving on {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True))


def _name(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


def _conditional(handler: Handler) -> Handler:
    # A route registered with etag=True.
    from fastcore.conditional import make_conditional

    def conditional(request: Request) -> Result:
        result = as_response(handler(request))
        if isinstance(result, Response):
            return make_conditional(request, result)
        return result                           # type: ignore[return-value]
    conditional.__qualname__ = _name(handler)
    conditional.__wrapped__ = handler           # type: ignore[attr-defined]
    return conditional


class _Guard:
    """Runs an app's hooks around its handlers: before hooks, the handler,
    error handlers for what it raised or the app answered with an error
    status, after hooks. Made only once a hook is registered."""

    def __init__(self, app: App) -> None:
        self.app = app
        # One wrapper per handler, so that it can be recognised (inline).
        self.wrapped: dict[Handler, Handler] = {}

    def wrap(self, handler: Handler) -> Handler:
        guarded = self.wrapped.get(handler)
        if guarded is None:
            def guarded(request: Request) -> Result:
                return self.run(request, handler)
            guarded.__qualname__ = _name(handler)
            guarded.__wrapped__ = handler       # type: ignore[attr-defined]
            self.wrapped[handler] = guarded
        return guarded

    def dispatch(self, request: Request) -> Result:
        return self.run(request, None)

    def run(self, request: Request, handler: Handler | None) -> Result:
        app = self.app
        result: Any = None
        try:
            for hook in app._before:
                result = hook(request)
                if result is not None:
                    break
            else:
                result = self.call(request, handler)
        except HTTPError as error:
            result = self.on_error(request, error, error.status)
        except Exception as error:
            result = self.on_exception(request, error)
        if app._after:
            result = as_response(result, default=app._json_default)
            for after in app._after:
                changed = after(request, result)
                if changed is not None:
                    result = changed
        elif app._json_default is not None and isinstance(result, (dict, list)):
            result = json_response(result, default=app._json_default)
        return result                           # type: ignore[no-any-return]

    def call(self, request: Request, handler: Handler | None) -> Any:
        app = self.app
        if handler is not None:
            return handler(request)
        target = app._resolve(request)
        if isinstance(target, Response):        # the app's own 404, 405 or 501
            if target.status in app._on_status:
                raise HTTPError(target.status, headers=target.headers)
            return target
        result = target(request)
        if isinstance(getattr(target, "__self__", None), StaticFiles):
            if isinstance(result, FileResponse):
                # Hooks run for every request: the engine may not answer
                # this target from its cache, without them, next time.
                result._cache_target = None
            elif isinstance(result, Response) and result.status >= 400 \
                    and result.status in app._on_status:
                raise HTTPError(result.status, headers=result.headers)
        return result

    def on_error(self, request: Request, error: HTTPError, status: int) -> Any:
        handler = self.app._on_status.get(status)
        if handler is None:
            return error.to_response()
        result = handler(request, error)
        if isinstance(result, (Response, FileResponse)):
            return result
        return as_response(result, status, error.headers, default=self.app._json_default)

    def on_exception(self, request: Request, error: Exception) -> Any:
        app = self.app
        handler = None
        for kind in type(error).__mro__:
            handler = app._on_exception.get(kind)
            if handler is not None:
                break
        else:
            handler = app._on_status.get(500)
        if handler is None:
            raise error
        logger.error("handler failed for %s %s; answered by %s", request.method,
                     request.target, _name(handler), exc_info=error)
        result = handler(request, error)
        if isinstance(result, (Response, FileResponse)):
            return result
        return as_response(result, 500, default=app._json_default)
