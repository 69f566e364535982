"""Bind message id, actor and document id to every log line of a message, and write one
canonical line per processed message (outcome and duration)."""

from __future__ import annotations

import time

import structlog
from dramatiq import Middleware

from documind.logging import get_logger


def _document_id(message) -> str | None:  # noqa: ANN001
    args = message.args
    if args and isinstance(args[0], dict):
        value = args[0].get("document_id")
        return value if isinstance(value, str) else None
    return None


class LogContext(Middleware):
    def __init__(self) -> None:
        self.log = get_logger("documind.message")

    def before_process_message(self, broker, message):  # noqa: ANN001
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id,
            actor=message.actor_name,
            queue=message.queue_name,
            document_id=_document_id(message),
        )
        message.options["_documind_started"] = time.monotonic()

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        started = message.options.pop("_documind_started", None)
        duration = round(time.monotonic() - started, 4) if started is not None else None
        if exception is None:
            self.log.info("message processed", outcome="ok", duration_s=duration)
        else:
            self.log.warning(
                "message failed", outcome="error", duration_s=duration,
                error=f"{type(exception).__name__}: {exception}",
                retries=message.options.get("retries", 0),
            )
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker, message):  # noqa: ANN001
        self.log.warning("message skipped", outcome="skipped")
        message.options.pop("_documind_started", None)
        structlog.contextvars.clear_contextvars()
