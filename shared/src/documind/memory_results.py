"""The embedded mode's results backend: in memory like Dramatiq's StubBackend, but a caller
blocked on a result wakes the moment it is stored. StubBackend polls with a backoff that grows
to 2 s, so an embedded ``documind search`` (or ``index check``, ``model activate`` ...)
returned on average about 0.75 s after its answer was ready."""

from __future__ import annotations

import threading
import time
from typing import Any

from dramatiq.results import ResultTimeout
from dramatiq.results.backend import DEFAULT_TIMEOUT, Missing
from dramatiq.results.backends import StubBackend


class MemoryResults(StubBackend):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stored = threading.Condition()

    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        with self._stored:
            super()._store(message_key, result, ttl)
            self._stored.notify_all()

    def get_result(self, message: Any, *, block: bool = False, timeout: int | None = None) -> Any:
        if not block:
            return super().get_result(message, block=False)
        deadline = time.monotonic() + (DEFAULT_TIMEOUT if timeout is None else timeout) / 1000
        key = self.build_message_key(message)
        with self._stored:
            while True:
                result = self._get(key)
                if result is not Missing:
                    return self.unwrap_result(result)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ResultTimeout(message)
                self._stored.wait(left)
