"""Warm start of a search worker process: load the query model and open the index when
Dramatiq boots the process, so the first query does not pay for them (7-15 s cold).

A Dramatiq middleware, because ``after_process_boot`` fires only in worker processes that
Dramatiq's CLI starts — never in a CLI process that merely registers the actors to send
messages, nor in the embedded mode's in-process workers (which would load the model for a
``documind delete``)."""

from __future__ import annotations

import time
from typing import Callable

import dramatiq

from documind.logging import get_logger


class WarmUp(dramatiq.Middleware):
    def __init__(self, warm: Callable[[], None]) -> None:
        self.warm = warm

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        log = get_logger("documind.search")
        started = time.monotonic()
        try:
            self.warm()
        except Exception as exc:  # noqa: BLE001 - a cold start is slower, not broken: queries report the error
            log.warning("search warm-up failed", error=f"{type(exc).__name__}: {exc}")
            return
        log.info("search worker warm", seconds=round(time.monotonic() - started, 2))
