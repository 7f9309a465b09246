"""The parity engine against real Redis and PostgreSQL 18: counts, each mismatch kind, sampling, redaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import (
    CopyOptions,
    Plan,
    PlanItem,
    PlanTarget,
    RedisSource,
    TargetSpec,
    Usage,
    UsageKind,
    VerifyOptions,
)
from pgconsolidate.verify import MISMATCH_KINDS, REDACTED_VALUE, verify_item, verify_plan

N = 300


def make_item(*, sample: int = 1000, tolerance: float = 5.0, item_id: str = "redis.db.v") -> PlanItem:
    """A kv_table item over ``v:*`` string keys."""
    return PlanItem(
        id=item_id,
        source=RedisSource(pattern="v:{n}", regex=r"v:.*", match_glob="v:*", redis_type="string", estimated_keys=N),
        usage=Usage(kind=UsageKind.CACHE, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping="kv_table", table="vt", options={"value_type": "text"}),
        copy=CopyOptions(batch_size=64, scan_count=32),
        verify=VerifyOptions(sample=sample, ttl_tolerance_seconds=tolerance),
    )


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the test's fresh database."""
    with psycopg.connect(pg_url) as c:
        yield c


@pytest.fixture
def copied(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> PlanItem:
    """``N`` keys (a third with TTL) seeded, DDL applied and copied."""
    item = make_item()
    apply_ddl(conn, render_item_ddl(item, None))
    pipe = redis_client.pipeline(transaction=False)
    for i in range(N):
        pipe.set(f"v:{i:04d}", f"secret-{i}", ex=3600 if i % 3 == 0 else None)
    pipe.execute()
    copy_item(redis_client, conn, item)
    return item


def execute(conn: psycopg.Connection[Any], stmt: str, *params: Any) -> None:
    """Run and commit one statement (simulating drift on the target)."""
    with conn.transaction():
        conn.execute(stmt, params or None)


@pytest.mark.parametrize("full", [False, True])
def test_clean_copy_passes(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem, full: bool
) -> None:
    parity = verify_item(redis_client, conn, copied, full=full)

    assert parity.ok
    assert (parity.source_count, parity.target_count, parity.checked) == (N, N, N)
    assert parity.mismatch_counts == dict.fromkeys(MISMATCH_KINDS, 0)
    assert parity.full is full


@pytest.mark.parametrize("full", [False, True])
def test_each_kind_is_reported(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem, full: bool
) -> None:
    execute(conn, "DELETE FROM vt WHERE key = 'v:0001'")  # missing
    execute(conn, "INSERT INTO vt (key, value) VALUES ('v:9999', 'ghost')")  # extra
    execute(conn, "UPDATE vt SET value = 'tampered' WHERE key = 'v:0002'")  # value
    execute(conn, "UPDATE vt SET expires_at = expires_at + interval '1 hour' WHERE key = 'v:0003'")  # ttl
    execute(conn, "UPDATE vt SET expires_at = now() + interval '1 day' WHERE key = 'v:0004'")  # ttl (none in Redis)
    redis_client.delete(b"v:0005")
    redis_client.hset(b"v:0005", b"f", b"now a hash")  # type

    parity = verify_item(redis_client, conn, copied, full=full)

    assert not parity.ok
    assert parity.mismatch_counts == {"missing": 1, "extra": 1, "type": 1, "value": 1, "ttl": 2}
    by_key = {(m.key, m.kind) for m in parity.mismatches}
    assert by_key == {
        ("v:0001", "missing"),
        ("v:9999", "extra"),
        ("v:0002", "value"),
        ("v:0003", "ttl"),
        ("v:0004", "ttl"),
        ("v:0005", "type"),
    }
    value = next(m for m in parity.mismatches if m.kind == "value")
    assert value.source_value == value.target_value == REDACTED_VALUE
    assert parity.source_count == N - 1 and parity.target_count == N


def test_show_values_reveals_values(redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem) -> None:
    execute(conn, "UPDATE vt SET value = 'tampered' WHERE key = 'v:0002'")

    hidden = verify_item(redis_client, conn, copied)
    shown = verify_item(redis_client, conn, copied, show_values=True)

    assert "secret-2" not in hidden.model_dump_json()
    (m,) = shown.mismatches
    assert "secret-2" in (m.source_value or "") and "tampered" in (m.target_value or "")


def test_ttl_tolerance(redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem) -> None:
    execute(conn, "UPDATE vt SET expires_at = expires_at + interval '3 seconds' WHERE key = 'v:0003'")

    assert verify_item(redis_client, conn, copied).ok
    strict = copied.model_copy(update={"verify": VerifyOptions(ttl_tolerance_seconds=1.0)})
    assert verify_item(redis_client, conn, strict).mismatch_counts["ttl"] == 1


def test_expired_target_rows_are_not_counted(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem
) -> None:
    execute(conn, "INSERT INTO vt (key, value, expires_at) VALUES ('v:gone', 'x', now() - interval '1 minute')")

    parity = verify_item(redis_client, conn, copied, full=True)

    assert parity.ok and parity.target_count == N


def test_sampling_is_seeded(redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem) -> None:
    execute(conn, "DELETE FROM vt WHERE key LIKE 'v:00%'")  # 100 of 300 missing

    a = verify_item(redis_client, conn, copied, sample=30, seed=7, max_examples=100)
    b = verify_item(redis_client, conn, copied, sample=30, seed=7, max_examples=100)
    c = verify_item(redis_client, conn, copied, sample=30, seed=8, max_examples=100)

    assert a.checked == 30
    assert [m.key for m in a.mismatches] == [m.key for m in b.mismatches]
    assert {m.key for m in a.mismatches} != {m.key for m in c.mismatches}
    assert 0 < a.mismatch_counts["missing"] < 30


def test_examples_are_capped_but_counts_are_not(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem
) -> None:
    execute(conn, "UPDATE vt SET value = 'x'")

    parity = verify_item(redis_client, conn, copied, full=True, max_examples=5)

    assert parity.mismatch_counts["value"] == N and len(parity.mismatches) == 5


def test_verify_plan_covers_selected_items(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem
) -> None:
    plan = Plan(
        tool_version="test",
        generated_at="2026-01-01T00:00:00+00:00",
        sources=[],
        target=PlanTarget(server_version="18", fingerprint="x"),
        items=[copied],
    )

    report = verify_plan(redis_client, conn, plan, seed=3, only={copied.id})

    assert report.ok and report.seed == 3 and [it.item_id for it in report.items] == [copied.id]
