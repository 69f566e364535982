"""Messages no actor can take (docs/design.md rule 10): an actor name no worker declares, or
arguments that are not one JSON object. Dramatiq would retry them into its own dead-letter
queue, which nobody reads; they go to our dead-letter table at once, where ``documind
dead-letters`` shows them, and are counted like every other dead letter. (A message for an
unknown actor is still also rejected into Dramatiq's queue, which expires it.)"""

from __future__ import annotations

from typing import Callable

from dramatiq import Middleware
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import SkipMessage

from documind.db.engine import SessionFactory
from documind.logging import get_logger
from documind.middleware.deliveries import dead_letter


def unroutable_reason(broker, message) -> str | None:  # noqa: ANN001
    """Why no actor can take ``message`` (None: one can). A decoded message's fields may hold
    any JSON value (Message.decode checks nothing), so nothing here assumes their types."""
    name = message.actor_name
    if not is_declared(broker, name):
        return f"no actor named {str(name)[:128]!r} on queue {str(message.queue_name)[:128]!r}"
    args, kwargs = message.args, message.kwargs
    if not isinstance(args, (tuple, list)) or not isinstance(kwargs, dict):
        return (
            f"{name}: bad message shape: expected one JSON object, got args of type "
            f"{type(args).__name__} and kwargs of type {type(kwargs).__name__}"
        )
    if kwargs or len(args) > 1 or (args and not isinstance(args[0], (dict, type(None)))):
        return (
            f"{name}: bad message shape: expected one JSON object, "
            f"got {len(args)} positional and {len(kwargs)} keyword arguments"
        )
    return None


def is_declared(broker, name: object) -> bool:  # noqa: ANN001
    """``name`` is an actor of ``broker`` (a list or dict name is unhashable: not one)."""
    if not isinstance(name, str):
        return False
    try:
        broker.get_actor(name)
    except ActorNotFound:
        return False
    return True


class Unroutable(Middleware):
    def __init__(self, sessions: SessionFactory, on_dead_letter: Callable[[str], None] | None = None) -> None:
        self.sessions = sessions
        self.on_dead_letter = on_dead_letter  # (actor label) -> None: the dead-letter metric
        self.log = get_logger("documind.unroutable")

    def before_process_message(self, broker, message):  # noqa: ANN001
        reason = unroutable_reason(broker, message)
        if reason is not None:
            self._record(broker, message, reason)
            raise SkipMessage(reason)

    def before_nack(self, broker, message):  # noqa: ANN001
        # Dramatiq's consumer rejects a message for an unknown actor before any worker thread
        # (or before_process_message) sees it; this is where it passes.
        if not is_declared(broker, message.actor_name):
            self._record(broker, message, unroutable_reason(broker, message) or "unknown actor")

    def _record(self, broker, message, reason: str) -> None:  # noqa: ANN001
        dead_letter(self.sessions, message, reason)
        if self.on_dead_letter:
            # A made-up actor name must not mint a metric series of its own.
            known = is_declared(broker, message.actor_name)
            self.on_dead_letter(message.actor_name if known else "unknown")
        self.log.error("unroutable message dead-lettered", reason=reason)
