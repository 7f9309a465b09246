"""Round trip for ``counter``: seed integer strings, apply DDL, copy, verify; drift is reported by kind."""

from __future__ import annotations

from typing import Any

import psycopg
import redis

from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item

ITEM = PlanItem(
    id="redis.db.views",
    source=RedisSource(pattern="views:{id}", regex=r"views:\d+", match_glob="views:*", redis_type="string"),
    usage=Usage(kind=UsageKind.COUNTER, confidence=1.0),
    verdict="migrate",
    reason="test",
    target=TargetSpec(mapping="counter", table="views"),
    copy=CopyOptions(batch_size=30, scan_count=10),
)


def test_roundtrip(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    apply_ddl(conn, render_item_ddl(ITEM, None))
    extremes = {"views:1": -(2**63), "views:2": 2**63 - 1, "views:3": 0}
    for k, v in extremes.items():
        redis_client.set(k, v)
    for i in range(10, 200):
        redis_client.incrby(f"views:{i}", i * 7)
        if i % 5 == 0:
            redis_client.expire(f"views:{i}", 3600)

    result = copy_item(redis_client, conn, ITEM)
    parity = verify_item(redis_client, conn, ITEM, full=True)

    assert result.rows == 193
    assert parity.ok, parity.mismatches
    with conn.cursor() as cur:
        cur.execute("SELECT key, value FROM views WHERE key = ANY(%s)", (list(extremes),))
        assert dict(cur.fetchall()) == extremes
    conn.rollback()

    redis_client.incr("views:11")  # the app kept counting after the copy
    redis_client.delete("views:12")  # and deleted one

    drift = verify_item(redis_client, conn, ITEM, sample=1000)

    assert {(m.key, m.kind) for m in drift.mismatches} == {("views:11", "value"), ("views:12", "extra")}
