"""Round trip for ``queue_pgmq``: Redis lists -> pgmq queues (SQL-only install on PostgreSQL 18).

The embedded/test PostgreSQL 18 has no pgmq extension, so every test installs pgmq from the
script the ``pgmq`` PyPI package ships (``install: sql``). The order check is the point: pgmq's
own ``pop``/``read`` must hand out messages exactly in the order Redis ``RPOP``/``LPOP`` does.
"""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql

from pgconsolidate.errors import DataError, TargetError
from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl, render_plan_ddl
from pgconsolidate.mappings import _members
from pgconsolidate.mappings.queue_pgmq import INSTALL_SENTINEL, PopOrderChunks, pgmq_sql_script, queue_name_for
from pgconsolidate.models import CopyOptions, Plan, PlanItem, PlanTarget, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item


def make_item(key: str, pop_end: str, payload: str) -> PlanItem:
    """One queue_pgmq item for one Redis list key (its own pgmq queue)."""
    name = queue_name_for(key)
    return PlanItem(
        id=f"redis.db.{name}",
        source=RedisSource(pattern=key, regex=re.escape(key), match_glob=key, redis_type="list"),
        usage=Usage(kind=UsageKind.QUEUE, confidence=1.0, hints={"pop_end": pop_end}),
        verdict="migrate",
        reason="test",
        target=TargetSpec(
            mapping="queue_pgmq",
            schema_name="pgmq",
            table=f"q_{name}",
            options={"queue_name": name, "pop_end": pop_end, "payload": payload, "install": "sql"},
        ),
        copy_options=CopyOptions(batch_size=20, scan_count=25),
    )


def plan_of(*items: PlanItem) -> Plan:
    return Plan(
        tool_version="test",
        generated_at="2026-01-01T00:00:00+00:00",
        sources=[],
        target=PlanTarget(server_version="18", fingerprint="x"),
        items=list(items),
    )


def redis_pops(client: redis.Redis, key: str, pop_end: str) -> list[bytes]:
    """What Redis consumers would pop, in order: popped from a copy of the list (the original stays)."""
    copy = f"{key}~copy"
    client.delete(copy)
    client.rpush(copy, *client.lrange(key, 0, -1))
    popped: list[bytes] = []
    while (value := (client.rpop(copy) if pop_end == "right" else client.lpop(copy))) is not None:
        assert isinstance(value, bytes)
        popped.append(value)
    return popped


def pgmq_pops(conn: psycopg.Connection[Any], queue: str, *, use_read: bool) -> list[Any]:
    """Messages handed out one at a time by pgmq.pop (or pgmq.read with a visibility timeout)."""
    out: list[Any] = []
    while True:
        if use_read:
            row = conn.execute("SELECT message FROM pgmq.read(%s, 300, 1)", (queue,)).fetchone()
        else:
            row = conn.execute("SELECT message FROM pgmq.pop(%s)", (queue,)).fetchone()
        if row is None:
            conn.commit()
            return out
        out.append(row[0])


def celery_message(i: int) -> bytes:
    """A kombu/Celery-shaped JSON message (what LPUSH puts in the ``celery`` list)."""
    body = {
        "body": f"W1t7ImEiOiB7aX19XQ=={i}",
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"lang": "py", "task": "tasks.add", "id": f"00000000-0000-0000-0000-{i:012d}", "retries": 0},
        "properties": {"delivery_tag": f"tag-{i}", "priority": 0, "delivery_info": {"routing_key": "celery"}},
    }
    return json.dumps(body).encode()


def test_celery_and_rq_queues_pop_in_redis_order(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    celery = make_item("celery", "right", "json")
    rq = make_item("rq:queue:default", "left", "text")
    for i in range(30):
        redis_client.lpush("celery", celery_message(i))  # kombu: LPUSH, workers BRPOP
        redis_client.rpush("rq:queue:default", f"job-{i:04d}-é")  # RQ: RPUSH, workers BLPOP
    redis_client.rpush("rq:queue:other", "not this item")

    statements = render_plan_ddl(plan_of(celery, rq), None)
    assert statements == [
        'CREATE SCHEMA IF NOT EXISTS "pgmq"',
        INSTALL_SENTINEL,  # once for both queues
        "SELECT pgmq.create('celery')",
        "SELECT pgmq.create('rq_queue_default_626a3c')",
    ]
    assert apply_ddl(conn, statements) == 4
    assert apply_ddl(conn, statements) == 4  # the install script is skipped, create is IF NOT EXISTS
    version, _ = pgmq_sql_script()
    comment = conn.execute("SELECT obj_description('pgmq'::regnamespace, 'pg_namespace')").fetchone()
    assert comment is not None and comment[0].startswith(f"pgmq {version}, installed by pgconsolidate")
    conn.commit()

    for it in (celery, rq):
        result = copy_item(redis_client, conn, it)
        assert (result.mode, result.rows) == ("copy", 30)
        parity = verify_item(redis_client, conn, it, full=True)
        assert parity.ok, parity.mismatches
        assert parity.source_count == parity.target_count == parity.checked == 1

    # Same question, both systems: queue length (LLEN vs pgmq.metrics), then the pop order.
    lengths = conn.execute("SELECT queue_length FROM pgmq.metrics('celery')").fetchone()
    assert lengths == (redis_client.llen("celery"),)
    headers = conn.execute("SELECT headers FROM pgmq.q_celery ORDER BY msg_id LIMIT 2").fetchall()
    assert [h[0] for h in headers] == [
        {"redis_key": "celery", "redis_index": 0},
        {"redis_key": "celery", "redis_index": 1},
    ]
    conn.commit()

    expected_celery = [json.loads(v) for v in redis_pops(redis_client, "celery", "right")]
    assert expected_celery[0]["headers"]["id"].endswith("000000000000")  # the first LPUSHed goes first
    assert pgmq_pops(conn, "celery", use_read=False) == expected_celery
    expected_rq = [v.decode() for v in redis_pops(redis_client, "rq:queue:default", "left")]
    assert expected_rq[0] == "job-0000-é"
    assert pgmq_pops(conn, "rq_queue_default_626a3c", use_read=True) == expected_rq


def test_big_list_windows_rerun_and_drift(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], small_chunks: None
) -> None:
    big = make_item("jobs:big", "right", "text")
    apply_ddl(conn, render_plan_ddl(plan_of(big), None))
    redis_client.rpush("jobs:big", *[f"id-{j:05d}" for j in range(1234)])  # 25 windows of 50 (the last short)

    (record,) = _members.read_collections(redis_client, [b"jobs:big"], _members.LIST, 0)
    assert record is not None and isinstance(record.value, _members.ChunkedValue)  # read in windows

    first = copy_item(redis_client, conn, big)
    assert (first.mode, first.rows) == ("copy", 1234)
    assert verify_item(redis_client, conn, big, full=True).ok
    stored = [r[0] for r in conn.execute("SELECT message FROM pgmq.q_jobs_big_721032 ORDER BY msg_id")]
    conn.commit()
    listed = redis_client.lrange("jobs:big", 0, -1)
    assert stored == [v.decode() if isinstance(v, bytes) else v for v in reversed(listed)]

    # Re-run: every batch replaces the key's messages; no duplicates, same order.
    again = copy_item(redis_client, conn, big)
    assert (again.mode, again.rows) == ("upsert", 1234)
    count = conn.execute("SELECT count(*), count(DISTINCT message) FROM pgmq.q_jobs_big_721032").fetchone()
    conn.commit()
    assert count == (1234, 1234)
    assert verify_item(redis_client, conn, big, full=True).ok

    # PostgreSQL drift: two messages swapped (same set, other order) -> a value mismatch.
    conn.execute(
        "UPDATE pgmq.q_jobs_big_721032 q SET message = s.other FROM (SELECT msg_id, CASE WHEN rn = 1 "
        "THEN lead(message) OVER w ELSE lag(message) OVER w END AS other, rn FROM (SELECT msg_id, message, "
        "row_number() OVER (ORDER BY msg_id) AS rn FROM pgmq.q_jobs_big_721032) r WINDOW w AS (ORDER BY msg_id)) s "
        "WHERE q.msg_id = s.msg_id AND s.rn <= 2"
    )
    conn.commit()
    swapped = verify_item(redis_client, conn, big, full=True)
    assert {(mm.key, mm.kind) for mm in swapped.mismatches} == {("jobs:big", "value")}

    copy_item(redis_client, conn, big)  # converges again
    assert verify_item(redis_client, conn, big, full=True).ok

    # PostgreSQL drift: one message deleted (as if consumed) -> a value mismatch.
    conn.execute("SELECT pgmq.pop('jobs_big_721032')")
    conn.commit()
    popped = verify_item(redis_client, conn, big, full=True)
    assert {(mm.key, mm.kind) for mm in popped.mismatches} == {("jobs:big", "value")}

    # Redis drift: the list is gone -> its messages are extra.
    copy_item(redis_client, conn, big)
    redis_client.delete("jobs:big")
    gone = verify_item(redis_client, conn, big, full=True)
    assert {(mm.key, mm.kind) for mm in gone.mismatches} == {("jobs:big", "extra")}


def test_lists_of_one_pattern_share_a_queue(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item("jobs:a", "right", "text").model_copy(
        update={"source": RedisSource(pattern="jobs:{id}", regex=r"jobs:.+", match_glob="jobs:*", redis_type="list")}
    )
    assert item.target is not None
    apply_ddl(conn, render_plan_ddl(plan_of(item), None))
    for name in ("a", "b", "c"):
        redis_client.lpush(f"jobs:{name}", *[f"{name}{j}" for j in range(40)])

    assert copy_item(redis_client, conn, item).rows == 120
    assert copy_item(redis_client, conn, item).rows == 120  # re-run: replaced, not duplicated
    parity = verify_item(redis_client, conn, item, full=True)
    assert parity.ok and parity.target_count == 3
    table = sql.Identifier("pgmq", item.target.table)
    query = sql.SQL("SELECT message FROM {} WHERE headers->>'redis_key' = %s ORDER BY msg_id").format(table)
    for name in ("a", "b", "c"):
        stored = [r[0].encode() for r in conn.execute(query, (f"jobs:{name}",))]
        assert stored == redis_pops(redis_client, f"jobs:{name}", "right")
    conn.commit()

    redis_client.delete("jobs:b")
    redis_client.rpush("jobs:c", "late")
    drift = verify_item(redis_client, conn, item, full=True)
    assert {(mm.key, mm.kind) for mm in drift.mismatches} == {("jobs:b", "extra"), ("jobs:c", "value")}


def test_pop_order_windows_against_redis(redis_client: redis.Redis) -> None:
    for size in (1, 49, 50, 100, 101):
        key = f"w:{size}"
        redis_client.rpush(key, *[str(j) for j in range(size)])
        windows = list(PopOrderChunks(redis_client, key.encode(), _members.LIST, size, 50))
        assert [e for w in windows for e in w] == redis_pops(redis_client, key, "right")
        assert all(len(w) <= 50 for w in windows) and all(windows)


def test_values_that_do_not_fit(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    text = make_item("bin:q", "left", "text")
    b64 = make_item("bin:q", "left", "base64")
    b64.id += ".b64"
    redis_client.rpush("bin:q", b"ok", b"\xff\xfe\x00", b"")
    apply_ddl(conn, render_plan_ddl(plan_of(text), None))

    with pytest.raises(DataError, match=r"target\.options\.payload: key 'bin:q' has a message .*set it to base64"):
        copy_item(redis_client, conn, text)
    result = copy_item(redis_client, conn, b64)
    assert result.rows == 3
    assert verify_item(redis_client, conn, b64, full=True).ok
    assert pgmq_pops(conn, "bin_q_be93f5", use_read=False) == ["b2s=", "//4A", ""]

    celery = make_item("celery", "right", "json")
    apply_ddl(conn, render_item_ddl(celery, None))
    redis_client.lpush("celery", b'{"ok": 1}', b"not json")
    with pytest.raises(DataError, match=r"payload: key 'celery' has a message that is not valid JSON.*text or base64"):
        copy_item(redis_client, conn, celery)


def test_install_is_transactional_and_guarded(conn: psycopg.Connection[Any]) -> None:
    # A later failure rolls the install back with everything else (one DDL transaction).
    with pytest.raises(TargetError, match="no_such_function"):
        apply_ddl(conn, [INSTALL_SENTINEL, "SELECT no_such_function()"])
    assert conn.execute("SELECT to_regclass('pgmq.meta')").fetchone() == (None,)
    conn.commit()

    assert apply_ddl(conn, [INSTALL_SENTINEL, "SELECT pgmq.create('x')"]) == 2
    conn.execute("DROP FUNCTION pgmq.create(text)")
    conn.commit()
    with pytest.raises(TargetError, match="partial pgmq installation"):
        apply_ddl(conn, [INSTALL_SENTINEL])
