"""What the watchdog reads from the real Redis broker (distributed mode): every message not
yet acknowledged, whether queued, delayed or fetched by a worker; nothing acked or
dead-lettered; and a large backlog read in reasonable time."""

from __future__ import annotations

import json
import time
import uuid
from typing import Iterator

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from documind.bus import Bus
from documind.contracts import DeleteDocument, EmbedChunks, IndexChunks, Lane, ProcessDocument, Queues
from documind.pending import RedisPendingWork

pytestmark = pytest.mark.integration

URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def namespace() -> Iterator[str]:
    ns = f"documind-pending-{uuid.uuid4().hex[:10]}"
    yield ns
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=f"{ns}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def doc(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def test_queued_delayed_and_fetched_messages_are_pending_acked_and_dead_ones_not(namespace: str) -> None:
    broker = RedisBroker(url=URL, namespace=namespace)
    for q in Queues.ALL:
        broker.declare_queue(q)
    bus = Bus(broker)
    try:
        bus.send(ProcessDocument(document_id=doc(1), generation=1))  # queued
        bus.send(EmbedChunks(document_id=doc(2), generation=3, start=0, end=4, lane=Lane.BULK))  # bulk lane
        bus.send(IndexChunks(document_id=doc(3), generation=1, start=0, end=4), delay_ms=600_000)  # retry back-off
        bus.send(DeleteDocument(document_id=doc(4)))
        bus.send(ProcessDocument(document_id=doc(5), generation=1))  # fetched, never acked (worker died)
        bus.send(ProcessDocument(document_id=doc(6), generation=1))  # fetched and acked: done
        bus.send(ProcessDocument(document_id=doc(7), generation=1))  # fetched and dead-lettered
        consumer = broker.consume(Queues.INGEST, prefetch=4, timeout=100)
        fetched = {}
        deadline = time.monotonic() + 10
        while len(fetched) < 4 and time.monotonic() < deadline:
            m = next(consumer)
            if m is not None:
                fetched[m.args[0]["document_id"]] = m
        consumer.ack(fetched[doc(6)])
        consumer.nack(fetched[doc(7)])

        snap = RedisPendingWork(broker, Queues.ALL).snapshot()

        assert snap.documents == {(doc(1), 1), (doc(2), 3), (doc(3), 1), (doc(5), 1)}
        assert snap.deletions == {doc(4)}
    finally:
        broker.close()


def test_fifty_thousand_pending_messages_are_read_in_a_few_seconds(namespace: str) -> None:
    """The watchdog's cost for a big backlog. Messages are written the way Dramatiq stores
    them (id -> encoded message in ``<queue>.msgs``), in pipelines, to keep the set-up short."""
    client = redis.Redis.from_url(URL)
    n = 50_000
    with client.pipeline(transaction=False) as pipe:
        for i in range(n):
            contract = EmbedChunks(document_id=doc(i), generation=1, start=0, end=128, lane=Lane.BULK)
            message = Bus.message(contract)
            pipe.hset(f"{namespace}:{contract.queue}.msgs", str(uuid.uuid4()), message.encode())
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
    assert json.loads(client.hrandfield(f"{namespace}:embed_bulk.msgs", 1, withvalues=True)[1])["args"][0]["end"] == 128

    pending = RedisPendingWork(RedisBroker(url=URL, namespace=namespace), Queues.ALL)
    started = time.perf_counter()
    snap = pending.snapshot()
    seconds = time.perf_counter() - started

    print(f"\nscan of {n} pending messages: {seconds:.2f} s")
    assert snap.messages == n and len(snap.documents) == n
    assert seconds < 15, f"scanning {n} pending messages took {seconds:.1f} s"
    client.close()


def test_reclaim_gives_a_dead_workers_fetched_message_back_to_its_queue(namespace: str) -> None:
    """A SIGKILLed worker's message stays fetched (in its ``__acks__`` set) until Dramatiq's
    maintenance sees its heartbeat time out; ``reclaim`` runs that maintenance at once."""
    dead, alive = RedisBroker(url=URL, namespace=namespace), RedisBroker(url=URL, namespace=namespace)
    try:
        for b in (dead, alive):
            b.declare_queue(Queues.INGEST)
        Bus(dead).send(ProcessDocument(document_id=doc(1), generation=1))
        consumer = dead.consume(Queues.INGEST, prefetch=1, timeout=100)
        deadline = time.monotonic() + 10
        while next(consumer) is None and time.monotonic() < deadline:
            pass
        client = redis.Redis.from_url(URL)
        assert client.llen(f"{namespace}:{Queues.INGEST}") == 0  # fetched, never acked
        pending = RedisPendingWork(alive, Queues.ALL)
        pending.reclaim()
        assert client.llen(f"{namespace}:{Queues.INGEST}") == 0  # its worker still counts as alive
        # The worker dies: its last heartbeat ages past the broker's timeout.
        client.zadd(f"{namespace}:__heartbeats__", {dead.broker_id: int(time.time() * 1000) - 2 * dead.heartbeat_timeout})
        pending.reclaim()
        assert client.llen(f"{namespace}:{Queues.INGEST}") == 1
        assert pending.snapshot().documents == {(doc(1), 1)}
        client.close()
    finally:
        dead.close()
        alive.close()
