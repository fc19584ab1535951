"""The command line: ``fastcore`` (or ``python -m fastcore``) serves the demo;
``fastcore run MODULE:APP`` serves an app of yours (a fastcore App, or a WSGI
application such as Flask's or Django's); ``fastcore static DIR`` serves a
directory, the fast twin of ``python -m http.server``.

Where each option is defined:
- ``add_shared_options``: the options every command takes (address, limits).
  They are accepted before the subcommand and after it (``fastcore --port 1
  static www`` and ``fastcore static www --port 1``); given in both places,
  the one after the subcommand wins.
- ``add_run_options`` and ``add_static_options``: those of one subcommand,
  accepted after it only (before it, argparse refuses them by name).
Every limit of ``fastcore.limits.Limits`` is an option, generated from its
fields (``Limits._fields``), with its default in ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from fastcore.access import FORMATS
from fastcore.app import App
from fastcore.limits import Limits
from fastcore.proxy import DEFAULT_TRUSTED, PROXY_PROTOCOL_MODES
from fastcore.listeners import DEFAULT_UDS_MODE, parse_bind
from fastcore.server import DEFAULT_SHUTDOWN_DELAY, DEFAULT_SHUTDOWN_TIMEOUT
from fastcore.supervisor import DEFAULT_TIMEOUT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081


class CommandError(Exception):
    """A mistake on the command line, said in one line (exit status 1)."""


# -- options -------------------------------------------------------------------

def port_number(text: str) -> int:
    """argparse type of a TCP port: 0-65535 (0 picks a free one)."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port is a number 0-65535, not {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, not {value}")
    return value


def _option(parser: argparse._ActionsContainer, *flags: str, default: Any,
            suppress: bool, help: str, **options: Any) -> None:
    # One option, its default in the help text. With `suppress`, an option
    # not given leaves no attribute, so a subcommand's copy of a shared
    # option does not overwrite the value given before the subcommand.
    shown = "" if default is None or default is False else f" (default: {default})"
    parser.add_argument(*flags, default=argparse.SUPPRESS if suppress else default,
                        help=help + shown, **options)


def _limit_type(kind: type) -> Any:
    def parse(text: str) -> int | float:
        try:
            return kind(text)  # type: ignore[no-any-return]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, "
                f"not {text!r}") from None
    parse.__name__ = kind.__name__
    return parse


LIMIT_NAMES = Limits._fields
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _seconds(text: str) -> float:
    """argparse type of a duration: a number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, not {text!r}")
    return value


def bind_form(text: str) -> str:
    """argparse type of --bind: checked here, parsed again by Server."""
    try:
        parse_bind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def octal_mode(text: str) -> int:
    """argparse type of a file mode in octal (0660)."""
    try:
        value = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a mode is octal, like 0660, not {text!r}") from None
    if not 0 <= value <= 0o777:
        raise argparse.ArgumentTypeError(f"a mode is 0000-0777, not {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type of a count of 1 or more."""
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, not {text!r}")
    return value


def add_shared_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The options of every command: the address and the limits. Called for
    the top-level parser (with the defaults) and for each subcommand (with
    `suppress`)."""
    _option(parser, "--host", default=DEFAULT_HOST, suppress=suppress,
            help="the address to listen on")
    _option(parser, "--port", default=DEFAULT_PORT, suppress=suppress, type=port_number,
            metavar="PORT", help="the port to listen on, 0-65535; 0 picks a free one")
    add_proxy_options(parser, suppress=suppress)
    binding = parser.add_argument_group(
        "binding", "--host and --port are used when none of --bind, --uds and --fd is "
                   "given, and no sockets come from systemd (LISTEN_FDS)")
    _option(binding, "--bind", default=None, suppress=True, action="append", type=bind_form,
            metavar="ADDRESS", help="listen on HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N "
                                    "(an inherited descriptor); repeatable")
    _option(binding, "--uds", default=None, suppress=True, metavar="PATH",
            help="listen on a Unix socket at PATH (the same as --bind unix:PATH)")
    _option(binding, "--fd", default=None, suppress=True, type=int, metavar="N",
            help="serve the inherited listening socket N (the same as --bind fd://N)")
    _option(binding, "--uds-mode", default=f"{DEFAULT_UDS_MODE:04o}", suppress=suppress,
            type=octal_mode, metavar="MODE",
            help="the Unix socket file's mode, in octal; a stale file is replaced only when "
                 "nothing listens on it, and the file is removed on a clean exit")
    workers = parser.add_argument_group(
        "workers", "-w N runs N worker processes under a master, which restarts them; "
                   "signals to the master: TERM stops gracefully, INT and QUIT at once, "
                   "HUP restarts the workers one generation after another, TTIN and TTOU "
                   "add and remove one")
    _option(workers, "-w", "--workers", default=None, suppress=suppress, type=positive_int,
            metavar="N", help="worker processes (default: none, one process serves "
                              "without a master)")
    _option(workers, "--reuse-port", default=False, suppress=suppress, action="store_true",
            help="give each worker its own SO_REUSEPORT socket, the kernel spreading "
                 "connections by a hash of their addresses (default: the workers share "
                 "one socket, each waiting with EPOLLEXCLUSIVE)")
    _option(workers, "--timeout", default=DEFAULT_TIMEOUT, suppress=suppress,
            type=_limit_type(float), metavar="SECONDS",
            help="kill and replace a worker whose loop has not come back for this long "
                 "(a stuck handler), logging its traceback first; 0: never")
    _option(workers, "--max-requests", default=0, suppress=suppress, type=_limit_type(int),
            metavar="N", help="a worker retires gracefully after N requests and a fresh "
                              "one replaces it; 0: never")
    _option(workers, "--max-requests-jitter", default=0, suppress=suppress,
            type=_limit_type(int), metavar="J",
            help="add a random 0-J to each worker's --max-requests, so that they do not "
                 "all retire at once")
    operations = parser.add_argument_group(
        "operations", "health, draining and logs (see the README's deployment section)")
    _option(operations, "--health-path", default=None, suppress=suppress, metavar="PATH",
            help="answer GET and HEAD of PATH with 200 inside the server (no handler "
                 "runs), while it serves; e.g. /healthz (default: none)")
    _option(operations, "--ready-path", default=None, suppress=suppress, metavar="PATH",
            help="likewise, but 503 from SIGTERM on; e.g. /readyz (default: none)")
    _option(operations, "--shutdown-delay", default=DEFAULT_SHUTDOWN_DELAY, suppress=suppress,
            type=_seconds, metavar="SECONDS",
            help="on SIGTERM, keep accepting new connections this long after the "
                 "readiness path fails, then close the listener and drain")
    _option(operations, "--shutdown-timeout", "--graceful-timeout", dest="shutdown_timeout",
            default=DEFAULT_SHUTDOWN_TIMEOUT, suppress=suppress, type=_seconds,
            metavar="SECONDS", help="how long a graceful stop (SIGTERM, a retiring worker) "
                                    "waits for the requests already accepted")
    operations.add_argument(
        "--access-log", action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="log one line per response to stderr through the fastcore.access "
             "logger (default: on for the demo and static, off for run)")
    _option(operations, "--access-log-format", default="combined", suppress=suppress,
            choices=FORMATS, help="the access log's lines: the Combined Log Format "
                                  "and the duration, or one JSON object")
    _option(operations, "--log-level", default="info", suppress=suppress,
            choices=LOG_LEVELS, help="the level of the fastcore loggers (access lines "
                                     "are info)")
    limits = parser.add_argument_group(
        "limits", "each is also a keyword of App(...) and Server(...), and overrides "
                  "the app's own; what they do, and what other servers use, is in "
                  "fastcore/limits.py")
    for name, default in Limits()._asdict().items():
        _option(limits, "--" + name.replace("_", "-"), default=default,
                suppress=True, type=_limit_type(type(default)), dest=name,
                metavar="SECONDS" if name.endswith("_timeout") else "N",
                help=name.replace("_", " "))


PROXY_NAMES = ("proxy_headers", "forwarded_allow_ips", "proxy_protocol", "proxy_allow_from")


def add_proxy_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Behind a proxy (fastcore.proxy): the same as Server's keywords."""
    group = parser.add_argument_group(
        "behind a proxy", "whom to believe about the client; see 'Behind a proxy' in the README")
    _option(group, "--proxy-headers", default=False, suppress=suppress, action="store_true",
            help="take the client, scheme and host from X-Forwarded-For/-Proto/-Host and "
                 "Forwarded, when the peer is in --forwarded-allow-ips")
    _option(group, "--forwarded-allow-ips", default=None, suppress=suppress, metavar="LIST",
            help="the proxies whose forwarded headers are believed: addresses and CIDR "
                 "ranges, comma-separated, or '*' (default: $FORWARDED_ALLOW_IPS if set, "
                 "else 127.0.0.1,::1; a Unix-socket peer is always trusted)")
    _option(group, "--proxy-protocol", default="off", suppress=suppress,
            choices=PROXY_PROTOCOL_MODES,
            help="expect a PROXY protocol header (HAProxy's v1 or v2, or auto: either) "
                 "before the first request from peers in --proxy-allow-from")
    _option(group, "--proxy-allow-from", default=DEFAULT_TRUSTED, suppress=suppress,
            metavar="LIST", help="the peers that must send a PROXY protocol header; one "
                                 "from any other peer closes the connection")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``fastcore run``'s own options."""
    parser.add_argument("app", metavar="MODULE:APP",
                        help="the module to import (from the current directory first) and "
                             "the App or WSGI callable in it (APP defaults to 'app'; a "
                             "dotted path works)")
    _option(parser, "--interface", default="auto", suppress=False,
            choices=("auto", "native", "wsgi"),
            help="what APP is: a fastcore.App (native) or a WSGI callable; auto tells "
                 "them apart")
    parser.add_argument("--reload", action="store_true",
                        help="restart when a .py file under the app's directory changes "
                             "(for development: serves from a child process)")
    parser.add_argument("--preload", action="store_true",
                        help="with -w: import the app once in the master before forking "
                             "(less memory; a HUP then does not load new code), instead of "
                             "in each worker")


def add_static_options(parser: argparse.ArgumentParser) -> None:
    """``fastcore static``'s own options."""
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--list", action="store_true",
                        help="list directories that have no index.html")
    _option(parser, "--max-age", default=None, suppress=False, type=int, metavar="SECONDS",
            help="send Cache-Control: max-age=SECONDS")


def _version() -> str:
    import platform

    import httptools

    from fastcore import __version__
    return (f"fastcore {__version__} (httptools {httptools.__version__}, "
            f"{platform.python_implementation()} {platform.python_version()})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastcore", usage="%(prog)s [options] [run MODULE:APP | static DIR] [options]",
        description="A fast, embeddable HTTP/1.1 server. Without a "
        "command it serves the demo app.")
    parser.add_argument("--version", action="version", version=_version())
    add_shared_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="serve MODULE:APP",
                              usage="%(prog)s MODULE:APP [options]",
                              description="Serve the fastcore.App named MODULE:APP.")
    add_run_options(run)
    add_shared_options(run, suppress=True)
    static = commands.add_parser("static", help="serve the files under DIR",
                                 usage="%(prog)s DIR [options]",
                                 description="Serve the files under DIR, like "
                                             "python -m http.server but fast.")
    add_static_options(static)
    add_shared_options(static, suppress=True)
    return parser


# -- loading the app -------------------------------------------------------------

def _local_module(name: str, directory: str) -> str | None:
    """The file or package directory `name` names in `directory`, if any."""
    for candidate in (os.path.join(directory, name + ".py"), os.path.join(directory, name)):
        if os.path.isfile(candidate) or os.path.isfile(os.path.join(candidate, "__init__.py")):
            return candidate
    return None


def check_app(app: object, spec: str, interface: str = "auto") -> App:
    """What `spec` named, if it can be served: an App, or a WSGI callable
    wrapped in one (`interface` "wsgi" forces that, "native" refuses
    anything but an App)."""
    if interface != "wsgi" and isinstance(app, App):
        return app
    if interface != "native" and callable(app):
        from fastcore.wsgi import WSGIApp
        return WSGIApp(app)
    kind = "a fastcore.App" if interface == "native" else "a fastcore.App or a WSGI callable"
    raise CommandError(f"{spec!r} is a {type(app).__name__}, not {kind}")


def load_app(spec: str, interface: str = "auto") -> tuple[App, str]:
    """Import MODULE:APP the way ``python -m`` would from the current
    directory, which comes first on sys.path (as uvicorn puts it): the app
    and the file it came from. Mistakes are a CommandError of one line; an
    exception raised by the module itself propagates, with its traceback."""
    module_name, colon, attribute = spec.partition(":")
    if not module_name or (colon and not attribute):
        raise CommandError(f"expected MODULE:APP (APP defaults to 'app'), not {spec!r}")
    attribute = attribute or "app"
    directory = os.getcwd()
    if not sys.path or sys.path[0] not in ("", directory):
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise CommandError(f"cannot import {module_name!r}: there is no module "
                               f"{missing!r} in {directory} or on sys.path") from None
        raise                       # the module itself imports something missing
    file = getattr(module, "__file__", None) or "(built in)"
    local = _local_module(module_name.split(".")[0], directory)
    if local is not None and not os.path.realpath(file).startswith(
            os.path.realpath(local)):
        raise CommandError(f"{module_name!r} is {file}, imported before your {local}, "
                           "which it hides (a standard library name?): rename your module")
    app: object = module
    for part in attribute.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise CommandError(f"module {module_name!r} ({file}) has no attribute "
                               f"{attribute!r}") from None
    return check_app(app, spec, interface), file


# -- serving ---------------------------------------------------------------------

def configure_logging(level: str, pids: bool = False) -> None:
    """The fastcore loggers at `level`, to stderr; with `pids` (workers),
    each line says which process wrote it."""
    import logging

    root = logging.getLogger("fastcore")
    root.setLevel(level.upper())
    if not root.handlers and not logging.getLogger().handlers:
        # "%(message)s" to stderr, as the last-resort handler printed them
        # before; access lines (fastcore.access) propagate to it.
        handler = logging.StreamHandler()
        if pids:
            handler.setFormatter(logging.Formatter("[%(process)d] %(message)s"))
        root.addHandler(handler)


def _addresses(args: argparse.Namespace) -> dict[str, Any]:
    # --bind, --uds, --fd; else the sockets systemd passed; else host:port.
    from fastcore import listeners

    binds = list(getattr(args, "bind", None) or ())
    if getattr(args, "uds", None):
        binds.append("unix:" + args.uds)
    if getattr(args, "fd", None) is not None:
        binds.append(f"fd://{args.fd}")
    if binds:
        return {"bind": binds}
    sockets = listeners.systemd_sockets()
    if sockets:
        return {"sock": sockets}
    return {"host": args.host, "port": args.port}


def _serve(app: App, args: argparse.Namespace, what: str, access_log: bool,
           load: Callable[[], App] | None = None) -> int:
    from fastcore.server import Server
    from fastcore.supervisor import Supervision, WorkerBootError

    access_log = getattr(args, "access_log", access_log)
    configure_logging(args.log_level, pids=args.workers is not None)
    limits = {name: getattr(args, name) for name in LIMIT_NAMES if hasattr(args, name)}
    supervision = None
    if args.workers is not None:
        supervision = Supervision(
            timeout=args.timeout, graceful_timeout=args.shutdown_timeout,
            max_requests=args.max_requests, max_requests_jitter=args.max_requests_jitter,
            reuse_port=args.reuse_port, load=load, limits=limits if load else None)
    try:
        proxy = {name: getattr(args, name) for name in PROXY_NAMES}
        server = Server(app, **_addresses(args), uds_mode=args.uds_mode, workers=args.workers,
                        supervision=supervision, health_path=args.health_path,
                        ready_path=args.ready_path, shutdown_delay=args.shutdown_delay,
                        shutdown_timeout=args.shutdown_timeout, access_log=access_log,
                        access_log_format=args.access_log_format, **proxy, **limits)
    except (TypeError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    if args.workers is None:
        try:
            server.listen()
        except OSError as exc:
            print(f"fastcore: cannot listen: {exc.strerror or exc}", file=sys.stderr)
            return 1
    workers = "" if args.workers is None else (
        f" with {args.workers} worker{'s' if args.workers > 1 else ''} (master {os.getpid()})")
    # Printed once Ctrl-C and SIGTERM stop it gracefully: whoever waits
    # for this line may signal at once.
    try:
        server.serve_forever(ready=lambda: print(
            f"fastcore serving {what} on {_where(server)}{workers} (Ctrl-C to stop)",
            flush=True))
    except OSError as exc:
        print(f"fastcore: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except WorkerBootError as exc:
        print(f"fastcore: {exc}", file=sys.stderr)
        return 1
    return 0


def _where(server: Any) -> str:
    # The URL, or every address when there are several.
    return ", ".join(server.addresses) if len(server.addresses) > 1 else server.url


def _command(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command == "run":
        if args.reload:
            from fastcore.reload import serve_with_reload
            return serve_with_reload([a for a in argv if a != "--reload"], args.app)
        if args.workers is None or args.preload:
            app, file = load_app(args.app, args.interface)
            return _serve(app, args, f"{args.app} (from {file})", access_log=False)
        # Each worker imports the app: a restart (HUP) loads new code.
        return _serve(App(), args, args.app, access_log=False,
                      load=lambda: load_app(args.app, args.interface)[0])
    if args.command == "static":
        site = App()
        try:
            site.static("/", args.directory, listing=args.list, max_age=args.max_age)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return _serve(site, args, os.path.abspath(args.directory), access_log=True)
    from fastcore.demo import app
    return _serve(app, args, "the demo", access_log=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return _command(args, argv)
    except CommandError as exc:
        print(f"fastcore: {exc}", file=sys.stderr)
        return 1
