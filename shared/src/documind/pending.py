"""Which documents still have a message in the broker: queued, delayed (retry back-off) or
fetched by a worker and not yet acknowledged. The watchdog leaves those alone: a document
waiting behind a backlog is not stuck, and a message of a worker that died unacknowledged
is given back to its queue by Dramatiq itself (see ``RedisPendingWork``).

One interface, two implementations chosen by the run mode (``build_pending_work``): Redis
(distributed) is read where Dramatiq keeps every unacknowledged message; the in-process
broker (embedded) is tracked by a middleware, since a message a worker thread has fetched
is no longer in the in-process queue."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from dramatiq import Middleware

DocKey = tuple[str, int]  # (document id, generation)


@dataclass(frozen=True)
class PendingSnapshot:
    documents: frozenset[DocKey]  # document work (ProcessDocument ... IndexChunks)
    deletions: frozenset[str]  # DeleteDocument (no generation)
    messages: int  # messages read, for the log and the measurements
    # RetrainClassifier: (tenant, embedding model); no document
    retrains: frozenset[tuple[str, str]] = frozenset()  # messages read, for the log and the measurements


class PendingWork(Protocol):
    def reclaim(self) -> None:
        """Give messages fetched by workers that died back to their queues now."""

    def snapshot(self) -> PendingSnapshot:
        """The documents with a message not yet acknowledged, across every queue."""


def _document_of(payload: Any) -> tuple[str | None, int | None]:
    if not isinstance(payload, dict):
        return None, None
    doc_id, gen = payload.get("document_id"), payload.get("generation")
    return (doc_id if isinstance(doc_id, str) else None), (gen if isinstance(gen, int) else None)


def _collect(payloads: Iterable[Any]) -> PendingSnapshot:
    documents: set[DocKey] = set()
    deletions: set[str] = set()
    retrains: set[tuple[str, str]] = set()
    n = 0
    for payload in payloads:
        n += 1
        doc_id, gen = _document_of(payload)
        if doc_id is None:
            retrain = _retrain_of(payload)
            if retrain is not None:
                retrains.add(retrain)
            continue
        if gen is None:
            deletions.add(doc_id)
        else:
            documents.add((doc_id, gen))
    return PendingSnapshot(frozenset(documents), frozenset(deletions), n, frozenset(retrains))


def _retrain_of(payload: Any) -> tuple[str, str] | None:
    """(tenant, embedding model) of a RetrainClassifier payload (the only message with both)."""
    if not isinstance(payload, dict):
        return None
    tenant, model = payload.get("tenant"), payload.get("embedding_model")
    return (tenant, model) if isinstance(tenant, str) and isinstance(model, str) else None


class RedisPendingWork:
    """Dramatiq's Redis broker keeps each message in ``<ns>:<queue>.msgs`` (and
    ``<queue>.DQ.msgs`` while delayed) from enqueue until ack, whether it waits in the list
    or sits in a worker's ``__acks__`` set. Dead-lettered messages (``.XQ``) will never run
    and are not read. HSCAN reads in batches, so Redis is never blocked by one large command.

    A worker that died (SIGKILL, OOM) leaves its fetched messages in its ``__acks__`` sets;
    the broker's own maintenance pushes them back onto their queues once the worker's
    heartbeat is older than ``heartbeat_timeout``, but only on 0.1 % of dispatches per queue
    (a quarter of an hour on an idle queue). ``reclaim`` runs that same maintenance now.
    """

    # Batch size for the maintenance script's unpack; well under Lua's stack limit.
    _UNPACK = 500

    def __init__(self, broker, queues: Iterable[str], batch: int = 2000) -> None:  # noqa: ANN001
        self.broker = broker  # a dramatiq RedisBroker
        self.client = broker.client
        self.namespace = broker.namespace
        self.queues = tuple(queues)
        self.batch = batch

    def reclaim(self) -> None:
        from dramatiq.common import current_millis

        dispatch = self.broker.scripts["dispatch"]
        for queue in self._queue_names():
            # "qsize" only reads; do_maintenance=1 runs Dramatiq's dead-worker requeue first.
            dispatch(
                args=[
                    "qsize", current_millis(), queue, self.broker.broker_id, self.broker.heartbeat_timeout,
                    self.broker.dead_message_ttl, 1, self._UNPACK,
                ],
                keys=[self.namespace],
            )

    def _queue_names(self) -> list[str]:
        # Each queue before its delay queue: a retried message is written to the delay queue
        # before it is acked on the queue, so a scan in this order cannot miss it in between.
        return [q + suffix for q in self.queues for suffix in ("", ".DQ")]

    def keys(self) -> list[str]:
        return [f"{self.namespace}:{q}.msgs" for q in self._queue_names()]

    def snapshot(self) -> PendingSnapshot:
        return _collect(self._payloads())

    def _payloads(self) -> Iterable[Any]:
        for key in self.keys():
            for _id, raw in self.client.hscan_iter(key, count=self.batch):
                try:
                    args = json.loads(raw).get("args") or [None]
                except (ValueError, AttributeError):
                    continue  # not a message of ours: nothing to say about any document
                yield args[0]


class PendingMessages(Middleware):
    """The in-process broker's unacknowledged messages, counted from enqueue to ack/nack.
    Counted per message id: a retry re-enqueues the same id before the failed attempt is
    acked, and a delayed message is re-enqueued on its queue before the delay queue acks it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Nothing to reclaim in-process: a worker thread dies only with its process.
        self._open: dict[str, tuple[Any, int]] = {}  # message id -> (payload, count)

    def before_enqueue(self, broker, message, delay):  # noqa: ANN001
        # Before the put: a worker could otherwise ack it before we counted it.
        payload = message.args[0] if message.args else None
        with self._lock:
            _, n = self._open.get(message.message_id, (payload, 0))
            self._open[message.message_id] = (payload, n + 1)

    def after_ack(self, broker, message):  # noqa: ANN001
        self._close(message.message_id)

    def after_nack(self, broker, message):  # noqa: ANN001
        self._close(message.message_id)

    def _close(self, message_id: str) -> None:
        with self._lock:
            payload, n = self._open.get(message_id, (None, 0))
            if n <= 1:
                self._open.pop(message_id, None)
            else:
                self._open[message_id] = (payload, n - 1)

    def reclaim(self) -> None:
        pass

    def snapshot(self) -> PendingSnapshot:
        with self._lock:
            payloads = [payload for payload, _n in self._open.values()]
        return _collect(payloads)
