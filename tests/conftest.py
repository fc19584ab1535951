"""The fixtures that hand tests a server, raw clients and fastcore's test
client (tests/helpers.py has the raw client, the parser and ``serving``;
tests/apps.py the apps), and the rule for tests that need an external tool
or module."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
from collections.abc import Callable, Iterator

import pytest

import fastcore
import fastcore.testing
from apps import hello_app
from helpers import WAIT, RawClient, serving


def require_tool(name: str) -> str:
    """The path of an external tool the test drives. Missing, the test is
    skipped, except under CI (FASTCORE_CI=1), where that is a failure."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("FASTCORE_CI") == "1":
            pytest.fail(f"{name} is required under CI but is not installed")
        pytest.skip(f"{name} is not installed")
    return path


def require_module(name: str):
    """Import a Python module the test needs, with the same rule as
    require_tool: skipped when missing, a failure under CI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("FASTCORE_CI") == "1":
            pytest.fail(f"{name} is required under CI but is not installed")
        pytest.skip(f"{name} is not installed")


def print_at_the_end(request: pytest.FixtureRequest, lines: list[str]) -> None:
    """Write a module's summary lines to the terminal, past pytest's
    capture (for a module-scoped fixture's teardown: a table of results)."""
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractContextManager[fastcore.Server]]:
    """``with serve(app, **limits) as server:`` starts and stops a server."""
    return serving


@pytest.fixture
def server() -> Iterator[fastcore.Server]:
    """A server running hello_app() with default limits."""
    with serving(hello_app()) as running:
        yield running


@pytest.fixture
def raw() -> Iterator[Callable[..., RawClient]]:
    """``raw(port, timeout=WAIT, **options)`` opens a RawClient, closed at
    the end of the test."""
    clients: list[RawClient] = []

    def connect(port: int, timeout: float = WAIT, **options) -> RawClient:
        client = RawClient(port, timeout, **options)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def client() -> Iterator[Callable[..., fastcore.testing.Client]]:
    """``client(app, **limits)``: fastcore's own test client for `app`
    (the real engine over a socketpair, no port), closed at the end of the
    test. For tests where a listening socket adds nothing."""
    clients: list[fastcore.testing.Client] = []

    def make(app: fastcore.App, **limits: float) -> fastcore.testing.Client:
        made = fastcore.testing.Client(app, **limits)
        clients.append(made)
        return made

    yield make
    for made in clients:
        made.close()
