"""Round trip for ``hash_jsonb``: seed Redis hashes, apply DDL, copy, verify; drift is reported by kind."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item


def make_item(field_encoding: str) -> PlanItem:
    """A hash_jsonb item over ``h:*`` hashes."""
    return PlanItem(
        id=f"redis.db.h.{field_encoding}",
        source=RedisSource(pattern="h:{id}", regex=r"h:.+", match_glob="h:*", redis_type="hash"),
        usage=Usage(kind=UsageKind.OBJECT_HASH, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping="hash_jsonb", table="users", options={"field_encoding": field_encoding}),
        copy=CopyOptions(batch_size=40, scan_count=20),
    )


@pytest.mark.parametrize("field_encoding", ["utf8", "base64"])
def test_roundtrip(redis_client: redis.Redis, conn: psycopg.Connection[Any], field_encoding: str) -> None:
    item = make_item(field_encoding)
    apply_ddl(conn, render_item_ddl(item, None))
    pipe = redis_client.pipeline(transaction=False)
    for i in range(150):
        fields = {"name": f'ü\'ser "{i}"', "age": str(20 + i % 50), "empty": ""}
        if field_encoding == "base64":
            fields["blob"] = b"\x00\xff" + bytes([i])  # type: ignore[assignment]
        pipe.hset(f"h:{i}", mapping=fields)
        if i % 4 == 0:
            pipe.expire(f"h:{i}", 900)
    pipe.execute()

    result = copy_item(redis_client, conn, item)
    parity = verify_item(redis_client, conn, item, full=True)

    assert result.rows == 150
    assert parity.ok, parity.mismatches
    assert parity.source_count == parity.target_count == 150

    with conn.transaction():
        conn.execute("UPDATE users SET fields = fields || '{\"age\": \"999\"}' WHERE key = 'h:3'")
        conn.execute("UPDATE users SET expires_at = NULL WHERE key = 'h:4'")
    redis_client.hset("h:5", "new_field", "added after the copy")

    drift = verify_item(redis_client, conn, item, full=True)

    assert drift.mismatch_counts == {"missing": 0, "extra": 0, "type": 0, "value": 2, "ttl": 1}
    assert {(m.key, m.kind) for m in drift.mismatches} == {("h:3", "value"), ("h:4", "ttl"), ("h:5", "value")}


def test_big_hash_is_read_in_hscan_pages(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 25,000-field hash (hashtable encoding) is never fetched by one HGETALL, yet arrives whole."""
    from pgconsolidate.mappings import hash_jsonb

    fields = {f"f{i:05d}": f"value {i}" for i in range(25_000)}
    redis_client.hset("h:big", mapping=fields)  # type: ignore[arg-type]
    redis_client.hset("h:small", mapping={"a": "1"})
    commands: list[bytes] = []
    original = hash_jsonb.round_trip

    def spy(client: Any, buffer: Any, count: int | None = None) -> Any:
        commands.append(buffer if isinstance(buffer, bytes) else b"".join(b" ".join(c) for c in buffer))
        return original(client, buffer, count)

    monkeypatch.setattr(hash_jsonb, "round_trip", spy)
    item = make_item("utf8")
    apply_ddl(conn, render_item_ddl(item, None))

    assert copy_item(redis_client, conn, item).rows == 2
    assert verify_item(redis_client, conn, item, full=True).ok
    assert not any(b"HGETALL" in sent for sent in commands)
    row = conn.execute("SELECT fields FROM users WHERE key = 'h:big'").fetchone()
    assert row is not None and row[0] == fields
