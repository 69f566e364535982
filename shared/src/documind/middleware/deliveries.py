"""Count every receipt of every message ourselves (docs/design.md rule 2).

Dramatiq's retry counter never sees an attempt whose process was SIGKILLed (OOM), so such a
message would be redelivered forever. We count receipts before the actor runs; past
``max_deliveries`` the message goes to the dead-letter table and its document fails.

Receipts are counted where the messages live: in Redis next to the queues (distributed), or in
memory next to the in-process queues (embedded). A database row per message cost 80 % of
the queue throughput (bench: queue overhead), and a receipt outliving its queue means nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Protocol

from dramatiq import Middleware
from dramatiq.middleware import SkipMessage

from documind.db.engine import SessionFactory, transaction
from documind.db.models import DeadLetter
from documind.logging import get_logger


class ReceiptCounter(Protocol):
    def count(self, message_id: str) -> int:
        """Record one more receipt of the message and return how many there have been."""


class RedisReceipts:
    def __init__(self, client, ttl_s: int, prefix: str) -> None:  # noqa: ANN001
        self.client = client
        self.ttl_s = ttl_s  # past the message age limit a receipt has nothing left to count
        self.prefix = prefix

    def count(self, message_id: str) -> int:
        key = self.prefix + message_id
        with self.client.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, self.ttl_s)
            n, _ = pipe.execute()
        return int(n)


class MemoryReceipts:
    """Receipts of an in-process broker; bounded, oldest forgotten first."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, message_id: str) -> int:
        with self._lock:
            n = self._counts.pop(message_id, 0) + 1
            self._counts[message_id] = n
            while len(self._counts) > self.max_entries:
                self._counts.popitem(last=False)
            return n


class DeliveryCounter(Middleware):
    def __init__(
        self,
        receipts: ReceiptCounter,
        sessions: SessionFactory,
        max_deliveries: int,
        on_exhausted: Callable[[str, str], None] | None = None,
        on_delivery: Callable[[str], None] | None = None,
        on_dead_letter: Callable[[str], None] | None = None,
    ) -> None:
        self.receipts = receipts
        self.sessions = sessions
        self.max_deliveries = max_deliveries
        self.on_exhausted = on_exhausted  # (document_id, reason) -> None
        self.on_delivery = on_delivery
        self.on_dead_letter = on_dead_letter  # crash loops count in the dead-letter metric too
        self.log = get_logger("documind.deliveries")

    def before_process_message(self, broker, message):  # noqa: ANN001
        n = self.receipts.count(message.message_id)
        if self.on_delivery:
            self.on_delivery(message.actor_name)
        # A retry (Retries re-enqueues the same message id, its "retries" option one higher) is
        # a delivery the worker chose; what is left are the crashes Dramatiq cannot see. So a
        # long run of transient retries through an outage never counts as a crash loop.
        crashes = n - int(message.options.get("retries", 0))
        if crashes <= self.max_deliveries:
            return
        reason = f"gave up after {crashes - 1} deliveries (worker crashed or timed out each time)"
        dead_letter(self.sessions, message, reason)
        if self.on_dead_letter:
            self.on_dead_letter(message.actor_name)
        payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        document_id = payload.get("document_id")
        if document_id and self.on_exhausted:
            self.on_exhausted(document_id, reason)
        self.log.error("message dead-lettered", reason=reason)
        raise SkipMessage(reason)


def dead_letter(sessions: SessionFactory, message, reason: str) -> None:  # noqa: ANN001
    payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {"args": list(message.args)}
    document_id = payload.get("document_id") if isinstance(payload, dict) else None
    with transaction(sessions) as s:
        s.add(
            DeadLetter(
                # A hostile message's names must not break the insert (column widths).
                message_id=str(message.message_id)[:64],
                queue=str(message.queue_name)[:128],
                actor=str(message.actor_name)[:128],
                payload=payload,
                reason=reason,
                document_id=document_id if isinstance(document_id, str) else None,
            )
        )
