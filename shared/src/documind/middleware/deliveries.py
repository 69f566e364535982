"""Count every receipt of every message in the database (DESIGN rule 2).

Dramatiq's retry counter never sees an attempt whose process was SIGKILLed (OOM), so such a
message would be redelivered forever. We count receipts ourselves before the actor runs; past
``max_deliveries`` the message goes to the dead-letter table and its document fails."""

from __future__ import annotations

from typing import Callable

from dramatiq import Middleware
from dramatiq.middleware import SkipMessage
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from documind.db.engine import SessionFactory, transaction
from documind.db.models import DeadLetter, MessageReceipt, utcnow
from documind.logging import get_logger


class DeliveryCounter(Middleware):
    def __init__(
        self,
        sessions: SessionFactory,
        max_deliveries: int,
        on_exhausted: Callable[[str, str], None] | None = None,
        on_delivery: Callable[[str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.max_deliveries = max_deliveries
        self.on_exhausted = on_exhausted  # (document_id, reason) -> None
        self.on_delivery = on_delivery
        self.log = get_logger("documind.deliveries")

    def count(self, message_id: str, actor: str) -> int:
        for _ in range(3):
            with transaction(self.sessions) as s:
                updated = s.execute(
                    update(MessageReceipt)
                    .where(MessageReceipt.message_id == message_id)
                    .values(deliveries=MessageReceipt.deliveries + 1, last_seen_at=utcnow())
                    .returning(MessageReceipt.deliveries)
                ).scalar()
                if updated is not None:
                    return int(updated)
            try:
                with transaction(self.sessions) as s:
                    s.add(MessageReceipt(message_id=message_id, actor=actor, deliveries=1))
                return 1
            except IntegrityError:
                continue  # inserted concurrently by a twin delivery: count again
        raise RuntimeError(f"could not count delivery of {message_id}")

    def before_process_message(self, broker, message):  # noqa: ANN001
        n = self.count(message.message_id, message.actor_name)
        if self.on_delivery:
            self.on_delivery(message.actor_name)
        if n <= self.max_deliveries:
            return
        reason = f"gave up after {n - 1} deliveries (worker crashed or timed out each time)"
        dead_letter(self.sessions, message, reason)
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
                message_id=message.message_id,
                queue=message.queue_name,
                actor=message.actor_name,
                payload=payload,
                reason=reason,
                document_id=document_id if isinstance(document_id, str) else None,
            )
        )
