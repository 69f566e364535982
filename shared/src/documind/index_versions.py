"""Per-tenant index version: a counter bumped on every change that can alter a tenant's
search results (points written, a document completed, deleted, failed or re-processed).
Search result caches put it in their keys, so a bump makes every cached answer of that
tenant unreachable at once.

Shared (not in the search service) because status changes happen in every service: anyone
holding a runtime can bump. Redis INCR in distributed mode (all processes see one counter),
a dict in embedded mode (one process; its cache lives and dies with it)."""

from __future__ import annotations

import threading
from typing import Protocol


class IndexVersions(Protocol):
    def current(self, tenant: str) -> int:
        """The tenant's version now (0 before the first bump)."""

    def bump(self, tenant: str) -> int:
        """Advance the tenant's version; return the new value."""


class MemoryIndexVersions:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def current(self, tenant: str) -> int:
        with self._lock:
            return self._versions.get(tenant, 0)

    def bump(self, tenant: str) -> int:
        with self._lock:
            n = self._versions.get(tenant, 0) + 1
            self._versions[tenant] = n
            return n


class RedisIndexVersions:
    def __init__(self, client, prefix: str) -> None:  # noqa: ANN001
        self.client = client
        self.prefix = prefix  # "<namespace>:index-version:"

    def current(self, tenant: str) -> int:
        value = self.client.get(self.prefix + tenant)
        return int(value) if value is not None else 0

    def bump(self, tenant: str) -> int:
        # No expiry: a counter that vanished would restart at 0 and could revive old keys.
        return int(self.client.incr(self.prefix + tenant))


def build_index_versions(settings) -> IndexVersions:  # noqa: ANN001
    from documind.settings import RunMode

    if settings.mode is RunMode.EMBEDDED:
        return MemoryIndexVersions()
    import redis

    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    return RedisIndexVersions(client, prefix=f"{settings.redis_namespace}:index-version:")
