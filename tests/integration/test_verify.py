"""The parity engine against real Redis and PostgreSQL 18: counts, each mismatch kind, sampling, redaction."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate import verify as verify_module
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


# --------------------------------------------------------------------------- full mode, compared in SQL


def typed_item(mapping: str, redis_type: str, options: dict[str, Any], *, tolerance: float = 5.0) -> PlanItem:
    """An item over ``f:*`` keys of ``redis_type`` with the given mapping (small batches: several per test)."""
    return PlanItem(
        id=f"redis.db.{mapping}",
        source=RedisSource(pattern="f:{n}", regex=r"f:.*", match_glob="f:*", redis_type=redis_type, estimated_keys=N),
        usage=Usage(kind=UsageKind.CACHE, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping=mapping, table="ft", options=options),
        copy=CopyOptions(batch_size=64, scan_count=32),
        verify=VerifyOptions(ttl_tolerance_seconds=tolerance),
    )


def load(redis_client: redis.Redis, conn: psycopg.Connection[Any], item: PlanItem, values: dict[str, Any]) -> None:
    """Seed ``values`` (bytes -> string, dict -> hash; every fourth key with a TTL), apply DDL, copy."""
    apply_ddl(conn, render_item_ddl(item, None))
    pipe = redis_client.pipeline(transaction=False)
    for i, (key, value) in enumerate(values.items()):
        if isinstance(value, dict):
            pipe.hset(key, mapping=value)
        else:
            pipe.set(key, value)
        if i % 4 == 0:
            pipe.expire(key, 3600)
    pipe.execute()
    copy_item(redis_client, conn, item)


def both_paths(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], item: PlanItem, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any]:
    """Full verify through PostgreSQL (asserting it was used) and through the Python comparison."""
    calls: list[int] = []
    original = verify_module._SqlComparer.compare_live

    def counting(self: Any, keys: Any) -> None:
        calls.append(len(keys))
        original(self, keys)

    with monkeypatch.context() as m:
        m.setattr(verify_module._SqlComparer, "compare_live", counting)
        in_sql = verify_item(redis_client, conn, item, full=True, max_examples=100)
    assert calls, "the SQL comparison was not used"
    with monkeypatch.context() as m:
        m.setattr(verify_module, "SQL_COMPARE", False)
        in_python = verify_item(redis_client, conn, item, full=True, max_examples=100)
    assert in_sql.mismatch_counts == in_python.mismatch_counts
    assert sorted((x.key, x.kind, x.detail) for x in in_sql.mismatches) == sorted(
        (x.key, x.kind, x.detail) for x in in_python.mismatches
    )
    assert (in_sql.checked, in_sql.source_count, in_sql.target_count) == (
        in_python.checked,
        in_python.source_count,
        in_python.target_count,
    )
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    return in_sql, in_python


def kinds(parity: Any) -> dict[str, set[str]]:
    """Example keys by mismatch kind."""
    out: dict[str, set[str]] = {}
    for m in parity.mismatches:
        out.setdefault(m.kind, set()).add(m.key)
    return out


def test_full_sql_jsonb_each_kind(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    item = typed_item("kv_table", "string", {"value_type": "jsonb"})
    load(redis_client, conn, item, {f"f:{i:04d}": b'{"a": %d, "b": [1, 2.5, "x"]}' % i for i in range(N)})
    execute(conn, "DELETE FROM ft WHERE key = 'f:0001'")  # missing
    execute(conn, "INSERT INTO ft (key, value) VALUES ('f:ghost', '{}')")  # extra
    execute(conn, """UPDATE ft SET value = '{"a": 2, "b": [1, 2.5, "y"]}' WHERE key = 'f:0002'""")  # value
    execute(conn, "UPDATE ft SET expires_at = expires_at + interval '1 hour' WHERE key = 'f:0004'")  # ttl
    execute(conn, "UPDATE ft SET expires_at = expires_at + interval '3 seconds' WHERE key = 'f:0008'")  # within
    execute(conn, "UPDATE ft SET expires_at = now() + interval '1 day' WHERE key = 'f:0005'")  # ttl (none in Redis)
    # Same JSON with other key order, spacing and number spelling: not a mismatch.
    redis_client.set("f:0006", b'{ "b" : [1, 2.50, "x"],"a":6 }', keepttl=True)
    redis_client.delete("f:0007")
    redis_client.hset("f:0007", "f", "now a hash")  # type

    in_sql, _ = both_paths(redis_client, conn, item, monkeypatch)

    assert in_sql.mismatch_counts == {"missing": 1, "extra": 1, "type": 1, "value": 1, "ttl": 2}
    assert kinds(in_sql) == {
        "missing": {"f:0001"},
        "extra": {"f:ghost"},
        "type": {"f:0007"},
        "value": {"f:0002"},
        "ttl": {"f:0004", "f:0005"},
    }
    assert in_sql.checked == N - 1
    value = next(m for m in in_sql.mismatches if m.kind == "value")
    assert value.source_value == value.target_value == REDACTED_VALUE


def test_full_sql_ttl_tolerance(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute(conn, "UPDATE vt SET expires_at = expires_at + interval '3 seconds' WHERE key = 'v:0003'")
    execute(conn, "UPDATE vt SET expires_at = expires_at - interval '800 milliseconds' WHERE key = 'v:0006'")

    lenient, _ = both_paths(redis_client, conn, copied, monkeypatch)
    strict_item = copied.model_copy(update={"verify": VerifyOptions(ttl_tolerance_seconds=1.0)})
    strict, _ = both_paths(redis_client, conn, strict_item, monkeypatch)

    assert lenient.ok
    assert strict.mismatch_counts["ttl"] == 1 and kinds(strict) == {"ttl": {"v:0003"}}


def test_full_sql_poisoned_json_is_reported_not_raised(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    item = typed_item("kv_table", "string", {"value_type": "jsonb"})
    load(redis_client, conn, item, {f"f:{i:04d}": b'{"n": %d}' % i for i in range(N)})
    redis_client.set("f:0010", b'{"n": 10', keepttl=True)  # no longer JSON: PostgreSQL rejects the batch
    redis_client.set("f:0011", b'"\\u0000"', keepttl=True)  # JSON that jsonb rejects
    execute(conn, "DELETE FROM ft WHERE key = 'f:0012'")  # and a missing key, likely in the same batch

    in_sql, _ = both_paths(redis_client, conn, item, monkeypatch)

    assert in_sql.mismatch_counts == {"missing": 1, "extra": 0, "type": 0, "value": 2, "ttl": 0}
    assert kinds(in_sql) == {"missing": {"f:0012"}, "value": {"f:0010", "f:0011"}}


def test_full_sql_hash_fields(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    item = typed_item("hash_jsonb", "hash", {"field_encoding": "utf8"})
    load(redis_client, conn, item, {f"f:{i:04d}": {"name": f"n{i}", "age": str(i)} for i in range(N)})
    redis_client.hset("f:0001", "age", "99")  # value
    redis_client.hset("f:0002", "bin", b"\xff\xfe")  # not UTF-8 any more: the encoder rejects it
    execute(conn, """UPDATE ft SET fields = '["not", "an", "object"]' WHERE key = 'f:0003'""")  # type
    execute(conn, """UPDATE ft SET fields = '{"age": "4", "name": "n4"}' WHERE key = 'f:0004'""")  # same, reordered

    in_sql, _ = both_paths(redis_client, conn, item, monkeypatch)

    assert in_sql.mismatch_counts == {"missing": 0, "extra": 0, "type": 1, "value": 2, "ttl": 0}
    assert kinds(in_sql) == {"value": {"f:0001", "f:0002"}, "type": {"f:0003"}}


def test_full_sql_counters(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    item = typed_item("counter", "string", {})
    load(redis_client, conn, item, {f"f:{i:04d}": str(i * 7).encode() for i in range(N)})
    redis_client.incr("f:0001")  # value
    redis_client.set("f:0002", b"not a number", keepttl=True)  # the encoder rejects it: value
    execute(conn, "DELETE FROM ft WHERE key = 'f:0003'")  # missing

    in_sql, _ = both_paths(redis_client, conn, item, monkeypatch)

    assert in_sql.mismatch_counts == {"missing": 1, "extra": 0, "type": 0, "value": 2, "ttl": 0}
    assert kinds(in_sql) == {"value": {"f:0001", "f:0002"}, "missing": {"f:0003"}}


def test_full_sql_leaves_no_staging_and_works_inside_a_transaction(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], copied: PlanItem
) -> None:
    execute(conn, "UPDATE vt SET value = 'x' WHERE key IN ('v:0001', 'v:0100', 'v:0200')")
    conn.execute("SELECT 1")  # the caller left a transaction open

    parity = verify_item(redis_client, conn, copied, full=True)

    assert parity.mismatch_counts["value"] == 3 and parity.checked == N
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    row = conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'pgc_verify_%' AND relpersistence = 't'")
    assert row.fetchone() == (0,)
