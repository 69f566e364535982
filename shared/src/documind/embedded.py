"""Embedded mode: every installed service's actors on Dramatiq's in-process StubBroker,
consumed by worker threads of this very process. Same actors and messages as distributed."""

from __future__ import annotations

import time

import dramatiq

from documind.broker import start_time_limits
from documind.contracts import RunWatchdog
from documind.locks import DataFolderLock
from documind.runtime import Runtime, register_services

DRAIN_POLL_S = 0.05


class EmbeddedWorkers:
    def __init__(self, runtime: Runtime, *, recover: bool = False) -> None:
        self.runtime = runtime
        self.recover = recover
        self.recovered: list[str] = []
        # One process per data folder: its in-memory queues are the only record of its work
        # in flight, so a second one would re-drive that work as lost (and share Qdrant's
        # local folder). Taken before the services open anything.
        self.folder_lock = DataFolderLock(runtime.settings.data_dir)
        self.folder_lock.acquire()
        try:
            register_services(runtime)
            self.worker = dramatiq.Worker(
                runtime.broker, worker_threads=runtime.settings.worker_threads, worker_timeout=100
            )
        except BaseException:
            self.folder_lock.release()
            raise

    def start(self) -> None:
        start_time_limits(self.runtime.broker)
        self.worker.start()
        # Work of an embedded process that stopped early died with its in-memory queue:
        # re-drive every active document now (the folder lock: nothing else is working on
        # it). Waited for, so documents this process registers next are not re-driven twice.
        if self.recover and RunWatchdog.ACTOR in self.runtime.broker.actors:
            outcome = self.runtime.bus.call(RunWatchdog(stale_after_s=0), timeout_s=120)
            self.recovered = list(outcome["redriven"])

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop the workers; with ``drain_s`` first let them finish the messages still queued
        (for at most that long). Work that follows a document's completion (its enrichment
        summary, the hand-off to validation) is sent after the document is final, which is when
        ``ingest --wait`` returns: stopping at once would drop it with the in-memory queue."""
        try:
            if drain_s > 0:
                self.drain(drain_s)
            self.worker.stop()
        finally:
            self.folder_lock.release()

    def drain(self, timeout_s: float) -> bool:
        """Wait until no queue holds a message, delayed or in progress (a message is counted
        until its actor acked it); False if ``timeout_s`` ran out first. Polled rather than
        joined queue by queue: an actor may send to a queue that was already joined."""
        from dramatiq.brokers.stub import StubBroker

        broker = self.runtime.broker
        if not isinstance(broker, StubBroker):
            return True
        deadline = time.monotonic() + timeout_s
        while any(q.unfinished_tasks for q in list(broker.queues.values())):
            if time.monotonic() >= deadline:
                return False
            time.sleep(DRAIN_POLL_S)
        return True
