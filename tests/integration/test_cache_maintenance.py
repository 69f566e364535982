"""`documind cache sweep` / `cache invalidate` against the machine's Redis: the sweep removes
only entries that would never expire, a tenant's invalidation moves its index version on (every
cached answer of that tenant unreachable), invalidating all removes every entry and nothing
outside the cache's keys."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.integration.harness import base_env, drop_redis_namespace

pytestmark = pytest.mark.integration

URL = "redis://127.0.0.1:6379/12"


def test_cache_sweep_and_invalidate(tmp_path) -> None:
    import subprocess

    from tests.integration.harness import DOCUMIND

    ns = f"documind_it_{uuid.uuid4().hex[:10]}"
    env = base_env(tmp_path)
    env.update(DOCUMIND_MODE="distributed", DOCUMIND_REDIS_URL=URL, DOCUMIND_REDIS_NAMESPACE=ns,
               DOCUMIND_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}")
    client = redis.Redis.from_url(URL)

    def cli(*args: str) -> dict:
        import json

        p = subprocess.run([DOCUMIND, *args, "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    try:
        for i in range(2500):  # more than one SCAN / UNLINK batch
            client.set(f"{ns}:search-cache:k{i}", "{}", ex=300)
        client.set(f"{ns}:search-cache:immortal", "{}")
        client.set(f"{ns}:index-version:acme", 4)
        client.set(f"{ns}:other", "not the cache")

        assert cli("cache", "sweep") == {"scanned": 2501, "removed": 1}
        assert client.exists(f"{ns}:search-cache:immortal") == 0
        assert client.exists(f"{ns}:search-cache:k7") == 1

        out = cli("cache", "invalidate", "--tenant", "acme")
        assert out["index_version"] == 5 and int(client.get(f"{ns}:index-version:acme")) == 5

        assert cli("cache", "invalidate")["removed"] == 2500
        assert list(client.scan_iter(match=f"{ns}:search-cache:*")) == []
        assert client.get(f"{ns}:other") == b"not the cache"
    finally:
        drop_redis_namespace(URL, ns)
        client.close()
