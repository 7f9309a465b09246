"""Round trip for ``set_members``: sets (one big enough to be read in windows) -> rows, verify, drift."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.errors import DataError
from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item


def make_item(member_type: str = "text") -> PlanItem:
    """A set_members item over ``tags:*`` sets."""
    return PlanItem(
        id=f"redis.db.tags.{member_type}",
        source=RedisSource(pattern="tags:{id}", regex=r"tags:.+", match_glob="tags:*", redis_type="set"),
        usage=Usage(kind=UsageKind.SET, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(
            mapping="set_members",
            table=f"tags_{member_type}",
            options={"member_type": member_type, "member_index": True},
        ),
        copy=CopyOptions(batch_size=20, scan_count=25),
    )


def seed(client: redis.Redis) -> dict[str, set[bytes]]:
    """60 small sets (some with TTL, one a set of one), one big set of 1,234 members, one string to skip."""
    expected: dict[str, set[bytes]] = {}
    pipe = client.pipeline(transaction=False)
    for i in range(60):
        members = {f"tag-{j}".encode() for j in range(i % 7 + 1)}
        pipe.sadd(f"tags:{i}", *members)
        if i % 4 == 0:
            pipe.expire(f"tags:{i}", 900)
        expected[f"tags:{i}"] = members
    big = {f"member-{j:05d}".encode() for j in range(1234)}
    pipe.sadd("tags:big", *big)
    expected["tags:big"] = big
    pipe.set("tags:not-a-set", "x")
    pipe.execute()
    return expected


def test_roundtrip(redis_client: redis.Redis, conn: psycopg.Connection[Any], small_chunks: None) -> None:
    item = make_item()
    apply_ddl(conn, render_item_ddl(item, None))
    expected = seed(redis_client)
    rows = sum(len(v) for v in expected.values())

    first = copy_item(redis_client, conn, item)
    parity = verify_item(redis_client, conn, item, full=True)

    assert (first.mode, first.rows) == ("copy", rows)
    assert parity.ok, parity.mismatches
    assert parity.source_count == parity.target_count == parity.checked == 61  # SCAN TYPE skips the string
    with conn.cursor() as cur:
        cur.execute("SELECT member FROM tags_text WHERE set_key = 'tags:big'")
        assert {r[0].encode() for r in cur} == expected["tags:big"]
        cur.execute("SELECT count(*) FROM tags_text WHERE set_key = 'tags:0' AND expires_at IS NOT NULL")
        assert cur.fetchone() == (1,)

    # Redis changes: a member removed, a member added, a key deleted. A re-run converges.
    redis_client.srem("tags:3", "tag-0")
    redis_client.sadd("tags:big", "member-new")
    redis_client.delete("tags:5")
    drift = verify_item(redis_client, conn, item, full=True)
    assert {(m.key, m.kind) for m in drift.mismatches} == {
        ("tags:3", "value"),
        ("tags:big", "value"),
        ("tags:5", "extra"),
    }

    again = copy_item(redis_client, conn, item)
    assert again.mode == "upsert"
    after = verify_item(redis_client, conn, item, full=True)
    assert {(m.key, m.kind) for m in after.mismatches} == {
        ("tags:5", "extra")
    }  # deletions need the sweep of a fresh load
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM tags_text WHERE set_key = 'tags:3' AND member = 'tag-0'")
        assert cur.fetchone() == (0,)


def test_binary_member_needs_bytea(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    text_item, bytea_item = make_item("text"), make_item("bytea")
    for it in (text_item, bytea_item):
        apply_ddl(conn, render_item_ddl(it, None))
    redis_client.sadd("tags:1", b"ok", b"\xff\xfe")

    with pytest.raises(DataError, match=r"member_type.*tags:1.*not valid UTF-8.*bytea"):
        copy_item(redis_client, conn, text_item)
    result = copy_item(redis_client, conn, bytea_item)

    assert result.rows == 2
    assert verify_item(redis_client, conn, bytea_item, full=True).ok
