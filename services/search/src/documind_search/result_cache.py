"""Where cached search answers live: Redis (distributed: every search worker shares them) or
an in-process LRU with TTL (embedded). Values are JSON text, so a caller mutating an answer
never changes the cached copy."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Protocol

from cachetools import TTLCache


def cache_key(payload: dict[str, Any], model: str, index_version: int) -> str:
    """Hash of the whole query payload (canonical JSON, sorted keys, so fields added to the
    contract later are part of the key without this code knowing them), the embedding model
    and the tenant's index version."""
    canonical = json.dumps(
        {"query": payload, "model": model, "index_version": index_version},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResultCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryResultCache:
    def __init__(self, max_entries: int, ttl_s: float, timer=None) -> None:  # noqa: ANN001
        kw = {"timer": timer} if timer is not None else {}
        self._entries: TTLCache[str, str] = TTLCache(maxsize=max_entries, ttl=ttl_s, **kw)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._entries.get(key)
        return json.loads(raw) if raw is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        raw = json.dumps(value, default=str)
        with self._lock:
            self._entries[key] = raw

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class RedisResultCache:
    def __init__(self, client, prefix: str, ttl_s: int) -> None:  # noqa: ANN001
        self.client = client
        self.prefix = prefix  # "<namespace>:search-cache:"
        self.ttl_s = ttl_s

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.get(self.prefix + key)
        return json.loads(raw) if raw is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.client.set(self.prefix + key, json.dumps(value, default=str), ex=self.ttl_s)


def build_result_cache(settings) -> ResultCache:  # noqa: ANN001
    from documind.settings import RunMode

    if settings.mode is RunMode.EMBEDDED:
        return MemoryResultCache(settings.search_cache_max_entries, settings.search_cache_ttl_s)
    import redis

    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    return RedisResultCache(client, f"{settings.redis_namespace}:search-cache:", settings.search_cache_ttl_s)
