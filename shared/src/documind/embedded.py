"""Embedded mode: every installed service's actors on Dramatiq's in-process StubBroker,
consumed by worker threads of this very process. Same actors and messages as distributed."""

from __future__ import annotations

import time

import dramatiq
import dramatiq.errors

from documind.broker import start_time_limits
from documind.contracts import RunWatchdog
from documind.locks import DataFolderLock
from documind.runtime import Runtime, register_services


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

    def drain(self, timeout_s: float = 120.0) -> None:
        """Let the follow-up work of documents that became final run before the workers stop:
        their in-memory queue dies with this process. A completed document's classification
        (embed) sends a payload refresh (search); each join also waits for the messages in
        flight, whose sends land before it returns. Bounded: a stuck message never hangs exit."""
        from documind.contracts import Queues

        broker = self.runtime.broker
        deadline = time.monotonic() + timeout_s
        for queue in (Queues.SEARCH_BULK, Queues.SEARCH, Queues.EMBED, Queues.SEARCH):
            left = deadline - time.monotonic()
            if queue not in broker.queues or left <= 0:
                continue
            try:
                broker.join(queue, timeout=int(left * 1000), fail_fast=False)
            except dramatiq.errors.QueueJoinTimeout:
                return

    def stop(self) -> None:
        try:
            self.drain()
            self.worker.stop()
        finally:
            self.folder_lock.release()
