"""Queue depth and oldest-message age, read where Dramatiq's Redis broker keeps its messages.

The broker's key layout (``dramatiq/brokers/redis/dispatch.lua``), every key prefixed with the
broker's namespace (``DOCUMIND_REDIS_NAMESPACE``, passed to ``RedisBroker(namespace=...)``):

- ``<ns>:<queue>``: a list of message ids waiting to be fetched (FIFO: ``rpush`` / ``lpop``);
- ``<ns>:<queue>.msgs``: message id -> message JSON, from enqueue until ack (so it also holds
  messages a worker fetched and runs, which the list no longer does);
- ``<ns>:<queue>.DQ`` / ``.DQ.msgs``: the delay queue (retry back-off, ``send_with_options(delay=)``);
  a worker fetches delayed messages early and holds them until their ``eta``, so the hash,
  not the list, counts every delayed message;
- ``<ns>:<queue>.XQ``: a sorted set of dead-lettered ids scored by when they were
  dead-lettered (ms), ``.XQ.msgs`` their data; Dramatiq drops them after ``dead_message_ttl``.

``dramatiq_messages_inprogress`` (Dramatiq's own exporter) is none of these: it counts the
messages a worker process holds right now, not what waits in the queue."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Iterable

STATES = ("ready", "delayed", "dead")


@dataclass(frozen=True)
class QueueReading:
    queue: str
    state: str  # ready | delayed | dead
    depth: int
    oldest_age_s: float  # 0 when empty


def _enqueued_ms(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(json.loads(raw)["message_timestamp"])
    except (ValueError, KeyError, TypeError):
        return None  # not a Dramatiq message: no age to tell


class RedisQueues:
    def __init__(self, client, namespace: str, queues: Iterable[str], delayed_scan_limit: int = 10_000) -> None:  # noqa: ANN001
        self.client = client  # redis.Redis
        self.namespace = namespace
        self.queues = tuple(queues)
        # The delay queue is unordered by enqueue time: its oldest message needs a scan,
        # bounded so one scrape never reads a huge backlog.
        self.delayed_scan_limit = delayed_scan_limit

    def _key(self, name: str) -> str:
        return f"{self.namespace}:{name}"

    def read(self, now_ms: float | None = None) -> list[QueueReading]:
        now_ms = time.time() * 1000 if now_ms is None else now_ms
        pipe = self.client.pipeline(transaction=False)
        for q in self.queues:
            pipe.llen(self._key(q))
            pipe.lindex(self._key(q), 0)
            pipe.hlen(self._key(q + ".DQ.msgs"))
            pipe.zcard(self._key(q + ".XQ"))
            pipe.zrange(self._key(q + ".XQ"), 0, 0, withscores=True)
        raw = pipe.execute()
        readings: list[QueueReading] = []
        for i, q in enumerate(self.queues):
            ready, head, delayed, dead, first_dead = raw[i * 5 : i * 5 + 5]
            readings.append(QueueReading(q, "ready", ready, self._age(now_ms, self._head_enqueued(q, head))))
            readings.append(QueueReading(q, "delayed", delayed, self._age(now_ms, self._oldest_delayed(q) if delayed else None)))
            dead_at = first_dead[0][1] if first_dead else None
            readings.append(QueueReading(q, "dead", dead, self._age(now_ms, dead_at)))
        return readings

    @staticmethod
    def _age(now_ms: float, since_ms: float | None) -> float:
        return max(0.0, (now_ms - since_ms) / 1000) if since_ms is not None else 0.0

    def _head_enqueued(self, queue: str, head: bytes | None) -> float | None:
        # The list's head is the next message out: the oldest waiting one. It may be fetched
        # (and its hash entry gone) between the two reads: then it is simply not counted.
        if head is None:
            return None
        return _enqueued_ms(self.client.hget(self._key(queue + ".msgs"), head))

    def _oldest_delayed(self, queue: str) -> float | None:
        oldest = None
        for n, (_id, raw) in enumerate(self.client.hscan_iter(self._key(queue + ".DQ.msgs"), count=500)):
            if n >= self.delayed_scan_limit:
                break
            ts = _enqueued_ms(raw)
            if ts is not None and (oldest is None or ts < oldest):
                oldest = ts
        return oldest
