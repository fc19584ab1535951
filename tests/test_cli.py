"""``python -m fastcore`` and ``fastcore run``, answered by a real curl."""

import os
import signal
import socket
import subprocess
import sys
import textwrap

from conftest import require_tool
from helpers import free_port


def start(args, cwd=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "fastcore", *args], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    line = process.stdout.readline()       # printed once the socket listens
    assert "http://" in line, line + process.stderr.read()
    return process, line


def stop(process):
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
    process.stdout.close()
    process.stderr.close()


def test_python_m_fastcore_serves_the_demo_to_curl():
    curl = require_tool("curl")
    port = free_port()
    process, line = start(["--port", str(port)])
    try:
        assert f"http://127.0.0.1:{port}/" in line
        result = subprocess.run([curl, "-sS", "-i", f"http://127.0.0.1:{port}/"],
                                capture_output=True, timeout=10)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"<h1>Hello, World!</h1>" in result.stdout
        echo = subprocess.run([curl, "-sS", "--data-binary", "ping",
                               f"http://127.0.0.1:{port}/echo"],
                              capture_output=True, timeout=10)
        assert echo.stdout == b"ping"
    finally:
        stop(process)


def test_fastcore_run_module_app(tmp_path):
    curl = require_tool("curl")
    (tmp_path / "myapp.py").write_text(textwrap.dedent("""
        import fastcore
        site = fastcore.App()

        @site.route("/")
        def index(request):
            return b"mine"
    """))
    port = free_port()
    process, _ = start(["run", "myapp:site", "--port", str(port)], cwd=tmp_path)
    try:
        result = subprocess.run([curl, "-sS", f"http://127.0.0.1:{port}/"],
                                capture_output=True, timeout=10)
        assert result.stdout == b"mine"
    finally:
        stop(process)


def test_sigterm_stops_cleanly():
    port = free_port()
    process, _ = start(["--port", str(port)])
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    process.stdout.close()
    process.stderr.close()


def test_port_in_use_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "fastcore", "--port", str(port)],
                                capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def test_fastcore_static_serves_a_directory(tmp_path):
    curl = require_tool("curl")
    (tmp_path / "index.html").write_text("<h1>static</h1>")
    (tmp_path / "data.json").write_text('{"a": 1}')
    port = free_port()
    process, line = start(["static", str(tmp_path), "--port", str(port)])
    try:
        assert str(tmp_path) in line
        page = subprocess.run([curl, "-sS", f"http://127.0.0.1:{port}/"],
                              capture_output=True, timeout=10)
        assert page.stdout == b"<h1>static</h1>"
        data = subprocess.run([curl, "-sS", "-i", f"http://127.0.0.1:{port}/data.json"],
                              capture_output=True, timeout=10)
        assert b"Content-Type: application/json; charset=utf-8" in data.stdout
        assert data.stdout.endswith(b'{"a": 1}')
    finally:
        stop(process)


def test_app_run_prints_its_url_and_stops_on_ctrl_c(tmp_path):
    (tmp_path / "site.py").write_text(textwrap.dedent("""
        import fastcore
        app = fastcore.App()

        @app.route("/")
        def index(request):
            return b"run by app.run"

        app.run(port=0)
    """))
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                        os.getcwd()])))
    process = subprocess.Popen([sys.executable, str(tmp_path / "site.py")],
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stderr.readline()
        assert line.startswith("fastcore serving on http://127.0.0.1:"), line
        url = line.split()[3]
        import urllib.request
        assert urllib.request.urlopen(url, timeout=10).read() == b"run by app.run"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
        process.stderr.close()
