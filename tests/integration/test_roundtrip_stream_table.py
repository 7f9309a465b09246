"""Round trip for ``stream_table``: streams (one read in windows) -> rows + consumer groups, verify, drift."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.errors import DataError
from pgconsolidate.execute import partitioning
from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.cron import apply_cron, render_item_cron
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.mappings.stream_table import PENDING_IDS_CAP
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.pg import probe_target
from pgconsolidate.verify import verify_item


def make_item(table: str = "events", **options: Any) -> PlanItem:
    """A stream_table item over ``events:*`` streams."""
    return PlanItem(
        id=f"redis.db.events.{table}",
        source=RedisSource(pattern="events:{id}", regex=r"events:.+", match_glob="events:*", redis_type="stream"),
        usage=Usage(kind=UsageKind.STREAM, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping="stream_table", table=table, options=options),
        copy_options=CopyOptions(batch_size=20, scan_count=25),
    )


def seed(client: redis.Redis) -> int:
    """40 small streams (explicit and auto ids, some with TTL), one of 1,234 entries, one string; entry count."""
    pipe = client.pipeline(transaction=False)
    total = 0
    for i in range(40):
        for j in range(i % 5 + 1):
            if i % 2:
                pipe.xadd(f"events:{i}", {"n": str(j), "kind": "clé ☃"}, id=f"{1_700_000_000_000 + j}-{i}")
            else:
                pipe.xadd(f"events:{i}", {"n": str(j), "payload": json.dumps({"j": j})})
            total += 1
        if i % 4 == 0:
            pipe.expire(f"events:{i}", 900)
    for j in range(1234):
        pipe.xadd("events:big", {"seq": str(j)}, id=f"1600000000{j:03d}-{j % 3}")
    total += 1234
    pipe.set("events:not-a-stream", "x")
    pipe.execute()
    return total


def groups_rows(conn: psycopg.Connection[Any], table: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT stream_key, group_name, last_delivered_ms || '-' || last_delivered_seq, entries_read, pending, "
            f"consumers, pending_ids, pending_ids_complete FROM {table}_groups"
        )
        return {(r[0], r[1]): r[2:] for r in cur}


def test_roundtrip_with_consumer_groups(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], small_chunks: None
) -> None:
    rc: Any = redis_client  # redis-py's stream command stubs are unions of every reply shape
    item = make_item()
    apply_ddl(conn, render_item_ddl(item, None))
    rows = seed(redis_client)
    # A worker group: 3 entries delivered to c1, one acknowledged -> 2 pending; c2 gets 1 more.
    rc.xgroup_create("events:big", "workers", id="0")
    delivered = rc.xreadgroup("workers", "c1", {"events:big": ">"}, count=3)
    first_ids = [eid for eid, _ in delivered[0][1]]
    rc.xack("events:big", "workers", first_ids[0])
    rc.xreadgroup("workers", "c2", {"events:big": ">"}, count=1)
    rc.xgroup_create("events:1", "audit", id="$")  # nothing delivered yet

    first = copy_item(redis_client, conn, item)
    parity = verify_item(redis_client, conn, item, full=True)

    assert (first.mode, first.rows) == ("copy", rows)
    assert parity.ok, parity.mismatches
    assert parity.source_count == parity.target_count == parity.checked == 41  # SCAN TYPE skips the string

    # Group state equals what XINFO GROUPS / XPENDING say.
    info = {g["name"]: g for g in rc.xinfo_groups("events:big")}
    groups = groups_rows(conn, "events")
    assert set(groups) == {("events:big", "workers"), ("events:1", "audit")}
    last, entries_read, pending, consumers, pending_ids, complete = groups[("events:big", "workers")]
    assert last.encode() == info[b"workers"]["last-delivered-id"]
    assert (entries_read, pending, complete) == (info[b"workers"]["entries-read"], 3, True)
    expected_pending = rc.xpending_range("events:big", "workers", "-", "+", PENDING_IDS_CAP)
    assert [(p["id"], p["consumer"]) for p in pending_ids] == [
        (e["message_id"].decode(), e["consumer"].decode()) for e in expected_pending
    ]
    assert {c["name"]: c["pending"] for c in consumers} == {"c1": 2, "c2": 1}
    assert groups[("events:1", "audit")][0].encode() == rc.xinfo_groups("events:1")[0]["last-delivered-id"]

    # The template's view answers XRANGE and XLEN like Redis does.
    with conn.cursor() as cur:
        cur.execute("SELECT entry_id FROM events_live WHERE stream_key = 'events:big' ORDER BY entry_ms, entry_seq")
        assert [r[0].encode() for r in cur] == [e[0] for e in rc.xrange("events:big")]
        lo, hi = b"1600000000100-0", b"1600000000120-2"
        cur.execute(
            "SELECT entry_id FROM events_live WHERE stream_key = 'events:big' "
            "AND (entry_ms, entry_seq) BETWEEN (1600000000100, 0) AND (1600000000120, 2) ORDER BY entry_ms, entry_seq"
        )
        assert [r[0].encode() for r in cur] == [e[0] for e in rc.xrange("events:big", lo, hi)]
        cur.execute("SELECT count(*) FROM events WHERE stream_key = 'events:7'")
        assert cur.fetchone() == (rc.xlen("events:7"),)
        cur.execute(
            "SELECT entry_at = 'epoch'::timestamptz + entry_ms * interval '1 millisecond', fields "
            "FROM events WHERE stream_key = 'events:3' ORDER BY entry_ms, entry_seq LIMIT 1"
        )
        assert cur.fetchone() == (True, {"n": "0", "kind": "clé ☃"})

    # Redis changes: an entry deleted (XDEL), one appended, a key deleted; group progress. A re-run converges.
    rc.xdel("events:3", rc.xrange("events:3")[1][0])
    rc.xadd("events:big", {"seq": "new"})
    redis_client.delete("events:5")
    rc.xack("events:big", "workers", *first_ids[1:])
    drift = verify_item(redis_client, conn, item, full=True)
    assert {(m.key, m.kind) for m in drift.mismatches} == {
        ("events:3", "value"),
        ("events:big", "value"),
        ("events:5", "extra"),
    }

    again = copy_item(redis_client, conn, item)
    assert again.mode == "upsert"
    after = verify_item(redis_client, conn, item, full=True)
    assert {(m.key, m.kind) for m in after.mismatches} == {("events:5", "extra")}  # deletions need a fresh load
    assert groups_rows(conn, "events")[("events:big", "workers")][2] == 1  # only c2's entry still pending


def test_partitioned_table_rerun_is_idempotent(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], small_chunks: None
) -> None:
    item = make_item("events_part", partition_by="month")
    statements = render_item_ddl(item, None)
    apply_ddl(conn, statements)
    rows = seed(redis_client)

    first = copy_item(redis_client, conn, item)
    second = copy_item(redis_client, conn, item)

    assert (first.rows, second.mode) == (rows, "upsert")
    assert verify_item(redis_client, conn, item, full=True).ok
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT (stream_key, entry_ms, entry_seq)) FROM events_part")
        assert cur.fetchone() == (rows, rows)
        # Entries of 2020/2023 predate the window of explicit partitions: DEFAULT holds them;
        # auto-id entries (now) land in the current month's partition.
        cur.execute("SELECT tableoid::regclass::text, count(*) FROM events_part GROUP BY 1")
        parts = dict(cur.fetchall())
    assert parts["events_part_default"] == 1234 + sum(i % 5 + 1 for i in range(1, 40, 2))
    assert sum(parts.values()) == rows and len(parts) == 2


def test_binary_value_and_repeated_field_need_options(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    plain, b64, pairs = (
        make_item("plain"),
        make_item("b64", field_encoding="base64"),
        make_item("pairs", fields_format="pairs"),
    )
    for it in (plain, b64, pairs):
        apply_ddl(conn, render_item_ddl(it, None))
    redis_client.xadd("events:bin", {"ok": "1", "blob": b"\xff\xfe\x00"}, id="1-1")

    with pytest.raises(DataError, match=r"field_encoding.*events:bin.*not valid UTF-8.*set it to base64"):
        copy_item(redis_client, conn, plain)
    assert copy_item(redis_client, conn, b64).rows == 1
    assert verify_item(redis_client, conn, b64, full=True).ok
    with conn.cursor() as cur:
        cur.execute("SELECT fields FROM b64")
        assert cur.fetchone() == ({"ok": "MQ==", "blob": "//4A"},)

    # XADD with a repeated field name (raw command: redis-py's xadd takes a dict).
    redis_client.delete("events:bin")
    redis_client.execute_command("XADD", "events:dup", "5-0", "a", "1", "b", "2", "a", "3")  # type: ignore[no-untyped-call]
    with pytest.raises(DataError, match=r"fields_format.*events:dup.*repeats field name\(s\) a.*set it to pairs"):
        copy_item(redis_client, conn, plain)
    assert copy_item(redis_client, conn, pairs).rows == 1
    assert verify_item(redis_client, conn, pairs, full=True).ok
    with conn.cursor() as cur:
        cur.execute("SELECT fields FROM pairs")
        assert cur.fetchone() == ([["a", "1"], ["b", "2"], ["a", "3"]],)
        # Changing one repeated value in PostgreSQL is seen by verify.
        cur.execute("""UPDATE pairs SET fields = '[["a","1"],["b","2"],["a","4"]]'""")
    conn.commit()
    assert {(m.key, m.kind) for m in verify_item(redis_client, conn, pairs, full=True).mismatches} == {
        ("events:dup", "value")
    }


def test_partman_partitions_on_pg15(
    redis_client: redis.Redis, pg15_url: str, pg15_admin_url: str, small_chunks: None, record_property: Any
) -> None:
    """With pg_partman (Debian's PostgreSQL 15) the parent is registered with create_parent; copy/verify agree."""
    item = make_item("events_pm", partition_by="day")
    with psycopg.connect(pg15_url) as pg15:
        version = pg15.execute("SELECT version()").fetchone()
        record_property("server_version", str(version[0] if version else None))
        caps = probe_target(pg15, pg15_url)
        assert caps.can_use("pg_partman")
        apply_ddl(pg15, render_item_ddl(item, caps))
        rows = seed(redis_client)

        assert copy_item(redis_client, pg15, item).rows == rows
        assert copy_item(redis_client, pg15, item).mode == "upsert"
        assert verify_item(redis_client, pg15, item, full=True).ok
        with pg15.cursor() as cur:
            cur.execute(
                "SELECT control, partition_interval FROM partman.part_config WHERE parent_table = 'public.events_pm'"
            )
            assert cur.fetchone() == ("entry_at", "1 day")
            cur.execute("SELECT tableoid::regclass::text, count(*) FROM events_pm GROUP BY 1")
            parts: dict[str, int] = dict(cur.fetchall())
    # Auto-id entries (today) land in today's partition made by pg_partman; 2020/2023 ids in its default.
    assert parts["events_pm_default"] == 1234 + sum(i % 5 + 1 for i in range(1, 40, 2))
    assert sum(parts.values()) == rows and len(parts) == 2

    # pg_partman only makes tomorrow's partitions when run_maintenance runs: pg_cron schedules it,
    # from pg_cron's own database, to run in the target database.
    job = partitioning.maintenance_job_name("public", "events_pm")
    cron = render_item_cron(item, caps)
    try:
        assert apply_cron(pg15_url, caps, cron) == len(cron)
        with psycopg.connect(pg15_admin_url) as admin:
            found = admin.execute("SELECT database, command FROM cron.job WHERE jobname = %s", (job,)).fetchall()
        assert [(db, "run_maintenance" in cmd) for db, cmd in found] == [(caps.database, True)]
    finally:
        with psycopg.connect(pg15_admin_url, autocommit=True) as admin:
            admin.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s", (job,))
