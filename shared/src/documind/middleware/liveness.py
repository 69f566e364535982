"""A liveness signal for workers, which have no HTTP server: a file touched every few
seconds by a thread of the worker process. Kubernetes probes its age with an exec probe."""

from __future__ import annotations

import threading
from pathlib import Path

from dramatiq import Middleware


class Liveness(Middleware):
    def __init__(self, path: Path, interval_s: float = 10.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self._stop = threading.Event()

    def _tick(self) -> None:
        while True:
            self.path.touch()
            if self._stop.wait(self.interval_s):
                return

    def after_worker_boot(self, broker, worker):  # noqa: ANN001
        self.path.parent.mkdir(parents=True, exist_ok=True)
        threading.Thread(target=self._tick, name="liveness", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):  # noqa: ANN001
        self._stop.set()
        self.path.unlink(missing_ok=True)
