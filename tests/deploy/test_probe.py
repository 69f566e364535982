"""deploy/docker/probe.py, the images' HEALTHCHECK: exit 0 only on HTTP 200 from
/livez (or the path given) on DOCUMIND_HEALTH_PORT."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator

import pytest

from tests.deploy.tools import REPO

PROBE = REPO / "deploy" / "docker" / "probe.py"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        code = 200 if self.path == "/livez" else 503
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"broker unreachable")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def probe(port: int | str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCUMIND_HEALTH_PORT": str(port)}
    return subprocess.run([sys.executable, str(PROBE), *args], env=env, capture_output=True, text=True, timeout=30)


def test_healthy(port: int) -> None:
    assert probe(port).returncode == 0


def test_unhealthy_says_why(port: int) -> None:
    proc = probe(port, "readyz")
    assert proc.returncode == 1 and "HTTP 503" in proc.stderr and "broker unreachable" in proc.stderr


def test_nothing_listening_or_disabled(port: int) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert probe(free).returncode == 1
    proc = probe(0)
    assert proc.returncode == 1 and "disabled" in proc.stderr
