"""Round trip for ``kv_table``: seed Redis strings, apply DDL, copy, verify; drift is reported by kind."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item


def make_item(value_type: str) -> PlanItem:
    """A kv_table item over ``s:*`` strings stored as ``value_type``."""
    return PlanItem(
        id=f"redis.db.s.{value_type}",
        source=RedisSource(pattern="s:{id}", regex=r"s:.+", match_glob="s:*", redis_type="string"),
        usage=Usage(kind=UsageKind.SESSION, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping="kv_table", table=f"s_{value_type}", options={"value_type": value_type}),
        copy=CopyOptions(batch_size=50, scan_count=25),
    )


def seed(client: redis.Redis, value_type: str) -> None:
    """200 keys: JSON documents (key order and spacing vary), a third with TTL, one empty value."""
    pipe = client.pipeline(transaction=False)
    for i in range(200):
        doc = {"z": i, "a": [1, 2.5, None], "name": f"user {i}"} if i % 2 else {"name": f"user {i}", "a": [], "z": i}
        pipe.set(f"s:{i}", json.dumps(doc, indent=i % 3 or None), ex=600 if i % 3 == 0 else None)
    pipe.set("s:empty", b"")
    if value_type == "bytea":
        pipe.set("s:binary", b"\xff\x00\xfe")
    pipe.execute()


@pytest.mark.parametrize("value_type", ["text", "jsonb", "bytea"])
def test_roundtrip(redis_client: redis.Redis, conn: psycopg.Connection[Any], value_type: str) -> None:
    item = make_item(value_type)
    apply_ddl(conn, render_item_ddl(item, None))
    seed(redis_client, value_type)
    expected = 201 + (value_type == "bytea")

    result = copy_item(redis_client, conn, item)
    parity = verify_item(redis_client, conn, item, full=True)

    assert result.rows == expected
    assert parity.ok, parity.mismatches
    assert parity.source_count == parity.target_count == parity.checked == expected

    table = psycopg.sql.Identifier(f"s_{value_type}")
    with conn.transaction():
        if value_type == "jsonb":
            conn.execute(
                psycopg.sql.SQL("UPDATE {} SET value = '{{\"name\": \"other\"}}' WHERE key = 's:7'").format(table)
            )
        else:
            conn.execute(psycopg.sql.SQL("UPDATE {} SET value = value || 'x' WHERE key = 's:7'").format(table))
        conn.execute(psycopg.sql.SQL("DELETE FROM {} WHERE key = 's:8'").format(table))

    drift = verify_item(redis_client, conn, item, sample=1000)

    assert {(m.key, m.kind) for m in drift.mismatches} == {("s:7", "value"), ("s:8", "missing")}
