"""Embedded mode: every installed service's actors on Dramatiq's in-process StubBroker,
consumed by worker threads of this very process. Same actors and messages as distributed."""

from __future__ import annotations

import dramatiq

from documind.contracts import RunWatchdog
from documind.runtime import Runtime, register_services


class EmbeddedWorkers:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.services = register_services(runtime)
        self.worker = dramatiq.Worker(runtime.broker, worker_threads=runtime.settings.worker_threads, worker_timeout=100)

    def start(self) -> None:
        self.worker.start()
        # Work of an embedded process that stopped early died with its in-memory queue:
        # re-drive every active document now (nothing else can be working on it).
        if RunWatchdog.ACTOR in self.runtime.broker.actors:
            self.runtime.bus.send(RunWatchdog(stale_after_s=0))

    def join(self) -> None:
        """Block until every queue is drained (including work that drained queues spawn)."""
        broker = self.runtime.broker
        while True:
            for queue in broker.get_declared_queues():
                broker.join(queue)
            self.worker.join()
            if all(broker.queues[q].qsize() == 0 for q in broker.get_declared_queues()):
                return

    def stop(self) -> None:
        self.worker.stop()
