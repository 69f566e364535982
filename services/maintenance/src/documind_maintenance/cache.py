"""The search-result cache, from outside the search service: sweep and invalidate.

Distributed, cached answers are Redis keys ``<namespace>:search-cache:<hash>`` written with
an expiry (``DOCUMIND_SEARCH_CACHE_TTL_S``), which Redis enforces itself; the sweep removes
what would never expire (a key without a TTL: written by hand or by a release that set none)
and counts the rest. Keys hold the tenant's index version, so invalidating a tenant is one
``INCR`` of its version: every cached answer of that tenant becomes unreachable at once and
expires on its own. Invalidating everything deletes every cache key (SCAN + UNLINK in
batches, never ``KEYS``). Embedded mode's cache lives inside one CLI command: nothing to do."""

from __future__ import annotations

from dataclasses import dataclass

from documind.index_versions import IndexVersions


@dataclass
class SearchCacheJanitor:
    client: object | None  # redis.Redis; None in embedded mode
    namespace: str
    versions: IndexVersions
    batch: int = 1000

    @property
    def pattern(self) -> str:
        return f"{self.namespace}:search-cache:*"

    def sweep(self) -> dict:
        if self.client is None:
            return {"scanned": 0, "removed": 0, "note": "embedded mode: the cache lives in one process"}
        scanned = removed = 0
        keys: list[bytes] = []
        for key in self.client.scan_iter(match=self.pattern, count=self.batch):
            keys.append(key)
            if len(keys) >= self.batch:
                s, r = self._sweep_batch(keys)
                scanned, removed, keys = scanned + s, removed + r, []
        if keys:
            s, r = self._sweep_batch(keys)
            scanned, removed = scanned + s, removed + r
        return {"scanned": scanned, "removed": removed}

    def _sweep_batch(self, keys: list[bytes]) -> tuple[int, int]:
        pipe = self.client.pipeline(transaction=False)
        for k in keys:
            pipe.ttl(k)
        ttls = pipe.execute()
        immortal = [k for k, t in zip(keys, ttls) if t == -1]  # -2: gone meanwhile
        if immortal:
            self.client.unlink(*immortal)
        return len(keys), len(immortal)

    def invalidate(self, tenant: str | None = None) -> dict:
        if tenant is not None:
            version = self.versions.bump(tenant)
            return {"tenant": tenant, "index_version": version, "removed": 0}
        if self.client is None:
            return {"tenant": None, "removed": 0, "note": "embedded mode: the cache lives in one process"}
        removed = 0
        keys: list[bytes] = []
        for key in self.client.scan_iter(match=self.pattern, count=self.batch):
            keys.append(key)
            if len(keys) >= self.batch:
                removed += int(self.client.unlink(*keys))
                keys = []
        if keys:
            removed += int(self.client.unlink(*keys))
        return {"tenant": None, "removed": removed}


def build_janitor(settings, versions: IndexVersions) -> SearchCacheJanitor:  # noqa: ANN001
    from documind.settings import RunMode

    client = None
    if settings.mode is RunMode.DISTRIBUTED:
        import redis

        client = redis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=10, socket_connect_timeout=5)
    return SearchCacheJanitor(client, settings.redis_namespace, versions)
