"""Receipts counted in the real Redis (distributed mode's delivery counter)."""

from __future__ import annotations

import uuid

import pytest
import redis

from documind.middleware.deliveries import RedisReceipts

pytestmark = pytest.mark.integration


def test_redis_receipts_count_and_expire():
    client = redis.Redis(host="127.0.0.1", port=6379, db=11)
    receipts = RedisReceipts(client, ttl_s=60, prefix=f"test:{uuid.uuid4().hex}:")
    assert [receipts.count("m1") for _ in range(3)] == [1, 2, 3]
    assert receipts.count("m2") == 1
    ttl = client.ttl(receipts.prefix + "m1")
    assert 0 < ttl <= 60
    client.delete(receipts.prefix + "m1", receipts.prefix + "m2")
