"""deploy/kubernetes/deployment.yaml: its probes, port, preStop and grace
period agree with the flags its container passes, and that command line,
as written (only the port made free), serves the probes and drains on
SIGTERM as the manifest's comments say."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from fastcore.cli import build_parser
from helpers import RawClient, free_port, refuses_connections, request_bytes, wait_until

yaml = pytest.importorskip("yaml", reason="PyYAML is in the test extra")

MANIFEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "deploy", "kubernetes", "deployment.yaml")


@pytest.fixture(scope="module")
def manifest():
    with open(MANIFEST) as file:
        documents = {doc["kind"]: doc for doc in yaml.safe_load_all(file)}
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    container, = pod["containers"]
    command = container["command"]
    assert command[:2] == ["fastcore", "run"]
    args = build_parser().parse_args(command[1:])      # every flag is a real one
    return documents, pod, container, args


def test_the_probes_ask_the_paths_and_port_the_server_answers(manifest):
    documents, pod, container, args = manifest
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["http"] == args.port
    assert args.host == "0.0.0.0"                        # reachable by the kubelet
    live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
    assert (live["path"], ports[live["port"]]) == (args.health_path, args.port)
    assert (ready["path"], ports[ready["port"]]) == (args.ready_path, args.port)
    service = documents["Service"]["spec"]
    assert service["selector"] == documents["Deployment"]["spec"]["selector"]["matchLabels"]
    assert [p["targetPort"] for p in service["ports"]] == ["http"]


def test_prestop_and_grace_period_match_the_shutdown_flags(manifest):
    _, pod, container, args = manifest
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert pre_stop == args.shutdown_delay > 0
    probe = container["readinessProbe"]
    # A balancer that watches readiness sees it fail within the delay.
    assert probe["periodSeconds"] * probe["failureThreshold"] <= args.shutdown_delay
    assert pod["terminationGracePeriodSeconds"] >= (
        pre_stop + args.shutdown_delay + args.shutdown_timeout)
    assert args.access_log is True


def status_of(port, path):
    with RawClient(port) as client:
        client.send(request_bytes(path=path))
        return client.response().status


def test_the_containers_command_line_serves_and_drains(manifest, tmp_path):
    _, _, container, args = manifest
    (tmp_path / "app.py").write_text(
        "import fastcore\napp = fastcore.App()\n\n"
        "@app.route('/')\ndef index(request):\n    return b'hello'\n")
    command = list(container["command"])
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    command[:1] = [sys.executable, "-m", "fastcore"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert "http://0.0.0.0:" in process.stdout.readline()
        assert status_of(port, args.health_path) == 200
        assert status_of(port, args.ready_path) == 200
        assert status_of(port, "/") == 200
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: status_of(port, args.ready_path) == 503, what="readiness to fail")
        assert status_of(port, "/") == 200                 # still serving new connections
        wait_until(lambda: refuses_connections(port), timeout=args.shutdown_delay + 10, what="the listener to close")
        assert time.monotonic() - sent >= args.shutdown_delay
        _, err = process.communicate(timeout=args.shutdown_timeout + 5)
        assert process.returncode == 0, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # --access-log: a line for each response, probes included.
    requests = [line.split('"')[1] for line in err.splitlines() if '"' in line]
    assert requests[:3] == ["GET /healthz HTTP/1.1", "GET /readyz HTTP/1.1", "GET / HTTP/1.1"]
