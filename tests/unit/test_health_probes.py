"""The worker probes on a real Dramatiq worker (in-process broker): /livez answers 200 while
the consumers poll and 503 once they stop (paused: the process and its HTTP server live on,
nothing consumes); /readyz reflects its checks."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import dramatiq
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker

from documind.middleware.health import HealthServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _until(fn, want: int, timeout: float = 15) -> tuple[int, dict]:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        code, body = fn()
        if code == want or time.monotonic() > deadline:
            return code, body
        time.sleep(0.2)


def test_liveness_follows_the_consumer_loop_and_readiness_its_checks() -> None:
    port = _free_port()
    broken = {"database": False}

    def database() -> str:
        if broken["database"]:
            raise ConnectionError("database down")
        return "ok"

    health = HealthServer(port, [("database", database)], stale_s=1.0, host="127.0.0.1")
    broker = StubBroker(middleware=[health])
    dramatiq.actor(lambda: None, broker=broker, actor_name="noop", queue_name="q")
    worker = Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    base = f"http://127.0.0.1:{port}"
    try:
        code, body = _until(lambda: _get(base + "/livez"), 200)
        assert code == 200 and body["live"] is True and body["consumers"] >= 1
        assert _get(base + "/readyz")[0] == 200
        worker.pause()  # consumers stop polling; the HTTP server keeps answering
        code, body = _until(lambda: _get(base + "/livez"), 503)
        assert code == 503 and "last polled" in body["problems"][0]
        worker.resume()
        assert _until(lambda: _get(base + "/livez"), 200)[0] == 200
        broken["database"] = True
        time.sleep(1.1)  # past the readiness cache
        code, body = _get(base + "/readyz")
        assert code == 503 and body["checks"][0] == {
            "name": "database", "ok": False, "detail": "ConnectionError", "skipped": False,
        }
        assert _get(base + "/nope")[0] == 404
    finally:
        worker.stop()
        broker.close()
