"""``python -m fastcore``, ``fastcore run`` and ``fastcore static``: the
options, the mistakes they refuse, and serving a real curl."""

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

import fastcore
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


# -- options, before and after the subcommand ------------------------------------

def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastcore", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=30)


def curl_status(curl, url, *extra):
    result = subprocess.run([curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", *extra, url],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_options_before_the_subcommand_are_used(tmp_path):
    curl = require_tool("curl")
    (tmp_path / "index.html").write_text("here")
    port = free_port()
    process, line = start(["--port", str(port), "--max-body", "10", "static", str(tmp_path)])
    try:
        assert f"http://127.0.0.1:{port}/" in line
        assert curl_status(curl, f"http://127.0.0.1:{port}/") == 200
        # The limit given before the subcommand applies too.
        assert curl_status(curl, f"http://127.0.0.1:{port}/", "--data-binary",
                           "x" * 11) == 413
    finally:
        stop(process)


def test_after_the_subcommand_wins_over_before(tmp_path):
    require_tool("curl")
    first, second = free_port(), free_port()
    process, line = start(["--port", str(first), "static", str(tmp_path), "--port", str(second)])
    try:
        assert f":{second}/" in line
    finally:
        stop(process)


def test_a_subcommands_own_option_before_it_is_refused(tmp_path):
    result = run_cli("--list", "static", str(tmp_path))
    assert result.returncode == 2
    assert "unrecognized arguments: --list" in result.stderr


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "http"])
def test_a_port_outside_0_65535_is_refused(port):
    result = run_cli("--port", port)
    assert result.returncode == 2
    assert "argument --port: a port is" in result.stderr
    result = run_cli("static", ".", "--port", port)
    assert result.returncode == 2 and "a port is" in result.stderr


def test_version_and_help():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"fastcore {fastcore.__version__} (httptools ")
    for args in (["--help"], ["run", "--help"], ["static", "--help"]):
        text = " ".join(run_cli(*args).stdout.split())
        assert "--port PORT" in text and "(default: 8081)" in text
        assert "(default: 127.0.0.1)" in text
        # Every limit, with its default, from the Limits fields.
        for name, default in fastcore.Limits()._asdict().items():
            flag = "--" + name.replace("_", "-")
            assert re.search(rf"{flag} \w+ {name.replace('_', ' ')} "
                             rf"\(default: {re.escape(str(default))}\)", text), (flag, text)


def test_a_bad_limit_value_is_refused_with_its_name(tmp_path):
    result = run_cli("static", str(tmp_path), "--max-body", "lots")
    assert result.returncode == 2 and "--max-body: expected a whole number" in result.stderr
    result = run_cli("static", str(tmp_path), "--keepalive-timeout", "0")
    assert result.returncode == 1
    assert result.stderr == "fastcore: keepalive_timeout must be positive, not 0.0\n"


def test_limits_on_the_command_line_override_the_apps(tmp_path):
    curl = require_tool("curl")
    (tmp_path / "limited.py").write_text(textwrap.dedent("""
        import fastcore
        app = fastcore.App(max_body=5)

        @app.route("/", methods=["POST"])
        def index(request):
            return request.body
    """))
    port = free_port()
    process, _ = start(["run", "limited:app", "--port", str(port)], cwd=tmp_path)
    try:
        assert curl_status(curl, f"http://127.0.0.1:{port}/", "--data-binary", "123456") == 413
    finally:
        stop(process)
    process, _ = start(["run", "limited:app", "--port", str(port), "--max-body", "100"],
                       cwd=tmp_path)
    try:
        assert curl_status(curl, f"http://127.0.0.1:{port}/", "--data-binary", "123456") == 200
    finally:
        stop(process)


# -- naming the app ------------------------------------------------------------------

def test_import_mistakes_are_one_line(tmp_path):
    (tmp_path / "mod.py").write_text("import fastcore\napp = fastcore.App()\nnumber = 3\n")
    cases = {
        ("nosuchmod:app",): "fastcore: cannot import 'nosuchmod': there is no module "
                            f"'nosuchmod' in {tmp_path} or on sys.path\n",
        ("mod:nope",): f"fastcore: module 'mod' ({tmp_path / 'mod.py'}) has no attribute "
                       "'nope'\n",
        ("mod:number",): "fastcore: 'mod:number' is a int, not a fastcore.App or a WSGI "
                          "callable\n",
        ("mod:",): "fastcore: expected MODULE:APP (APP defaults to 'app'), not 'mod:'\n",
    }
    for args, message in cases.items():
        result = run_cli("run", *args, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, message), args


def test_an_error_inside_the_module_keeps_its_traceback(tmp_path):
    (tmp_path / "broken.py").write_text("import fastcore\nimport no_such_dependency\n")
    result = run_cli("run", "broken:app", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "no_such_dependency" in result.stderr


def test_the_current_directory_comes_first_and_a_hidden_module_is_named(tmp_path):
    curl = require_tool("curl")
    # "colorsys" is a stdlib module that nothing imported first: the local
    # file wins, and the serving line says which file it was.
    (tmp_path / "colorsys.py").write_text(
        "import fastcore\napp = fastcore.App()\napp.add_route('/', lambda r: b'local')\n")
    port = free_port()
    process, line = start(["run", "colorsys:app", "--port", str(port)], cwd=tmp_path)
    try:
        assert f"from {tmp_path / 'colorsys.py'}" in line
        result = subprocess.run([curl, "-sS", f"http://127.0.0.1:{port}/"],
                                capture_output=True, timeout=10)
        assert result.stdout == b"local"
    finally:
        stop(process)
    # "site" is imported before any app can be: refused, naming both files.
    (tmp_path / "site.py").write_text("import fastcore\napp = fastcore.App()\n")
    result = run_cli("run", "site:app", cwd=tmp_path)
    assert result.returncode == 1
    assert f"imported before your {tmp_path / 'site.py'}" in result.stderr
    assert result.stderr.count("\n") == 1


# -- --reload ----------------------------------------------------------------------

def test_reload_restarts_when_a_py_file_changes(tmp_path):
    curl = require_tool("curl")
    app_file = tmp_path / "live.py"
    source = textwrap.dedent("""
        import fastcore
        app = fastcore.App()
        app.add_route("/", lambda request: b"version %d")
    """)
    app_file.write_text(source % 1)
    port = free_port()
    process, line = start(["run", "live:app", "--reload", "--port", str(port)], cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert subprocess.run([curl, "-sS", url], capture_output=True,
                              timeout=10).stdout == b"version 1"
        (tmp_path / "helper.txt").write_text("not python: no restart")
        app_file.write_text(source % 2)
        # The next serving line is the new child's, printed once it listens.
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, line
        assert subprocess.run([curl, "-sS", url], capture_output=True,
                              timeout=10).stdout == b"version 2"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
        stderr = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
    assert f"watching {tmp_path}" in stderr
    assert "live.py changed; restarting" in stderr
    assert stderr.count("restarting") == 1


def test_the_proxy_options_in_help():
    for args in (["--help"], ["run", "--help"], ["static", "--help"]):
        text = " ".join(run_cli(*args).stdout.split())
        assert "--proxy-headers" in text
        assert "(default: $FORWARDED_ALLOW_IPS if set, else 127.0.0.1,::1;" in text
        assert re.search(r"--proxy-protocol \{off,v1,v2,auto\} .*\(default: off\)", text)
        assert re.search(r"--proxy-allow-from LIST .*\(default: 127\.0\.0\.1,::1\)", text)


def test_proxy_options_on_the_command_line(tmp_path):
    (tmp_path / "who.py").write_text(textwrap.dedent("""
        import fastcore
        app = fastcore.App()

        @app.route("/")
        def index(request):
            return f"{request.client[0]} {request.scheme}"
    """))
    forged = (b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.3\r\n"
              b"X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")

    def ask(port, data):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(data)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return answer.partition(b"\r\n\r\n")[2]

    for options, expected in (([], b"127.0.0.1 http"),
                              (["--proxy-headers"], b"203.0.113.3 https"),
                              (["--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8"],
                               b"127.0.0.1 http")):
        process, line = start(["run", "who:app", "--port", "0", *options], cwd=tmp_path)
        try:
            port = int(re.search(r":(\d+)/", line).group(1))
            assert ask(port, forged) == expected, options
        finally:
            stop(process)
    # Before the subcommand, and with a worker process: its Server gets them too.
    process, line = start(["--proxy-protocol", "v1", "run", "who:app", "--port", "0",
                           "-w", "1"], cwd=tmp_path)
    try:
        port = int(re.search(r":(\d+)/", line).group(1))
        assert ask(port, b"PROXY TCP4 198.51.100.2 127.0.0.1 9 80\r\n" + forged) \
            == b"198.51.100.2 http"
    finally:
        stop(process)
