"""The command line: ``fastcore`` (or ``python -m fastcore``) serves the demo;
``fastcore run MODULE:APP`` serves an app of yours (a fastcore App, or a WSGI
application such as Flask's or Django's); ``fastcore static DIR``
serves a directory, the fast twin of ``python -m http.server``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from fastcore.app import App
from fastcore.server import Server

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081


def _load_app(spec: str, interface: str = "auto") -> App:
    """The App that MODULE:APP names; a WSGI callable is wrapped in one
    (`interface` "wsgi" forces that, "native" refuses anything but an App)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise SystemExit(f"fastcore: expected MODULE:APP, got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app", None)
    if interface != "wsgi" and isinstance(app, App):
        return app
    if interface != "native" and callable(app):
        from fastcore.wsgi import WSGIApp
        return WSGIApp(app)
    kind = "a fastcore.App" if interface == "native" else "a fastcore.App or a WSGI callable"
    raise SystemExit(f"fastcore: {spec!r} is not {kind}")


def _serve(app: App, host: str, port: int, what: str) -> int:
    server = Server(app, host, port)
    try:
        server.listen()
    except OSError as exc:
        print(f"fastcore: cannot listen on {host}:{port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    # Printed once Ctrl-C and SIGTERM stop it gracefully: whoever waits
    # for this line may signal at once.
    server.serve_forever(ready=lambda: print(
        f"fastcore serving {what} on {server.url} (Ctrl-C to stop)", flush=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fastcore", description="A fast, embeddable HTTP/1.1 server.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="serve MODULE:APP (APP defaults to 'app')")
    run.add_argument("app", metavar="MODULE:APP")
    run.add_argument("--host", default=DEFAULT_HOST)
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    run.add_argument("--interface", choices=("auto", "native", "wsgi"), default="auto",
                     help="what APP is: a fastcore.App (native) or a WSGI callable; "
                          "auto tells them apart (default: %(default)s)")
    static = commands.add_parser("static", help="serve the files under DIR")
    static.add_argument("directory", metavar="DIR")
    static.add_argument("--host", default=DEFAULT_HOST)
    static.add_argument("--port", type=int, default=DEFAULT_PORT)
    static.add_argument("--list", action="store_true",
                        help="list directories that have no index.html")
    static.add_argument("--max-age", type=int, default=None,
                        help="send Cache-Control: max-age=N")
    args = parser.parse_args(argv)

    if args.command == "run":
        return _serve(_load_app(args.app, args.interface), args.host, args.port, args.app)
    if args.command == "static":
        site = App()
        try:
            site.static("/", args.directory, listing=args.list, max_age=args.max_age)
        except ValueError as exc:
            print(f"fastcore: {exc}", file=sys.stderr)
            return 1
        return _serve(site, args.host, args.port, os.path.abspath(args.directory))
    from fastcore.demo import app
    return _serve(app, args.host, args.port, "the demo")
