"""Kubernetes probes for a worker process: ``GET /livez`` and ``GET /readyz`` on
``DOCUMIND_HEALTH_PORT``.

Liveness proves the worker consumes, not only that the process runs: every consumer thread
must have gone round its loop (a fetch, or an idle poll, which Dramatiq does at least every
``worker_timeout``, 1 s by default, even while every worker thread is busy) within
``DOCUMIND_LIVENESS_STALE_S``, and every worker thread must be alive. Dramatiq has no hook
per loop turn, so the broker's ``consume`` is wrapped to stamp each ``next()`` of its
consumers; the stamp is taken before the broker is asked, so a broker outage makes the
worker unready, not dead (restarting it would not bring Redis back).

Readiness is "the broker and the database answer" (``documind.health``), cached for a
second so a probe storm does not become a connection storm.

With ``--processes N`` the first process to bind the port serves it; the others log that and
run without (one process per container is the usual Kubernetes layout)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from dramatiq import Middleware

from documind.logging import get_logger


class _StampedConsumer:
    """A Dramatiq consumer that records when its loop last asked it for a message."""

    def __init__(self, inner, stamps: dict, key: int) -> None:  # noqa: ANN001
        self._inner = inner
        self._stamps = stamps
        self._key = key

    def __iter__(self):  # noqa: ANN204
        return self

    def __next__(self):  # noqa: ANN204
        self._stamps[self._key] = time.monotonic()
        return next(self._inner)

    def __getattr__(self, name: str):  # noqa: ANN204 - ack, nack, requeue, close, ...
        return getattr(self._inner, name)


class HealthServer(Middleware):
    def __init__(
        self,
        port: int,
        ready_checks: list[tuple[str, Callable[[], str]]],
        stale_s: float = 60.0,
        host: str = "0.0.0.0",  # noqa: S104 - probes come from the kubelet, outside the pod
    ) -> None:
        self.port = port
        self.host = host
        self.ready_checks = ready_checks
        self.stale_s = stale_s
        self._stamps: dict[int, float] = {}  # consumer thread id -> last loop turn (monotonic)
        self._worker = None
        self._server: ThreadingHTTPServer | None = None
        self._ready_cache: tuple[float, int, dict] | None = None
        self._ready_lock = threading.Lock()

    # ---- hooks ---------------------------------------------------------------------------
    def before_worker_boot(self, broker, worker):  # noqa: ANN001
        consume = broker.consume
        stamps = self._stamps

        def stamped_consume(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            key = threading.get_ident()
            stamps[key] = time.monotonic()
            return _StampedConsumer(consume(*args, **kwargs), stamps, key)

        broker.consume = stamped_consume  # instance attribute: this broker only

    def after_worker_boot(self, broker, worker):  # noqa: ANN001
        self._worker = worker
        try:
            self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        except OSError as exc:
            get_logger("documind.health").info("health port taken, not serving probes here", port=self.port, error=str(exc))
            return
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="health-http", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):  # noqa: ANN001
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- answers -------------------------------------------------------------------------
    def liveness(self) -> tuple[int, dict]:
        worker = self._worker
        if worker is None:
            return 503, {"live": False, "reason": "worker not booted"}
        now = time.monotonic()
        consumers = list(getattr(worker, "consumers", {}).values())
        workers = list(getattr(worker, "workers", []))
        problems = []
        for c in consumers:
            if not c.is_alive():
                problems.append(f"consumer thread for {c.queue_name} died")
                continue
            last = self._stamps.get(c.ident)
            if last is None or now - last > self.stale_s:
                age = "never" if last is None else f"{now - last:.0f} s ago"
                problems.append(f"consumer of {c.queue_name} last polled {age}")
        dead_workers = sum(1 for w in workers if not w.is_alive())
        if dead_workers:
            problems.append(f"{dead_workers} worker thread(s) died")
        body = {"live": not problems, "consumers": len(consumers), "worker_threads": len(workers)}
        if problems:
            body["problems"] = problems
        return (200 if not problems else 503), body

    def readiness(self) -> tuple[int, dict]:
        from documind.health import Check

        with self._ready_lock:
            cached = self._ready_cache
            if cached is not None and time.monotonic() - cached[0] < 1.0:
                return cached[1], cached[2]
            results: list[Check] = []
            for name, fn in self.ready_checks:
                try:
                    results.append(Check(name, True, fn()))
                except Exception as exc:  # noqa: BLE001
                    results.append(Check(name, False, type(exc).__name__))
            ok = all(c.ok for c in results)
            answer = (200 if ok else 503), {"ready": ok, "checks": [c.as_dict() for c in results]}
            self._ready_cache = (time.monotonic(), *answer)
            return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                route = {"/livez": health.liveness, "/readyz": health.readiness}.get(self.path.split("?")[0])
                if route is None:
                    code, body = 404, {"error": "try /livez or /readyz"}
                else:
                    code, body = route()
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # noqa: ANN002 - probes every few seconds: no access log
                pass

        return Handler
