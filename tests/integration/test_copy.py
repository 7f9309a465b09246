"""The copy engine against real Redis and PostgreSQL 18: fast path, idempotent re-run, resume, edge data."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.errors import DataError, TargetError
from pgconsolidate.execute import state
from pgconsolidate.execute.copy import copy_item, copy_plan, item_fingerprint
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
)
from pgconsolidate.verify import verify_item


def make_item(
    mapping: str = "kv_table",
    options: dict[str, Any] | None = None,
    *,
    prefix: str = "k:",
    redis_type: str = "string",
    table: str = "kv",
    batch_size: int = 5000,
    scan_count: int = 1000,
    item_id: str = "redis.db.k",
) -> PlanItem:
    """A migrate item for keys ``<prefix>*`` (regex: anything after the prefix)."""
    return PlanItem(
        id=item_id,
        source=RedisSource(
            pattern=prefix + "{any}",
            regex=f"{prefix}.*",
            match_glob=prefix + "*",
            redis_type=redis_type,
            estimated_keys=1000,
        ),
        usage=Usage(kind=UsageKind.CACHE, confidence=1.0),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping=mapping, table=table, options=options or {}),
        copy=CopyOptions(batch_size=batch_size, scan_count=scan_count),
    )


def setup_table(conn: psycopg.Connection[Any], item: PlanItem) -> None:
    """Apply the item's DDL (as migrate does before copying)."""
    apply_ddl(conn, render_item_ddl(item, None))


def seed_strings(client: redis.Redis, n: int, *, prefix: str = "k:", ttl_every: int = 3) -> dict[bytes, bytes]:
    """``n`` string keys, every ``ttl_every``-th with a one-hour TTL; returns key -> value."""
    data = {f"{prefix}{i:06d}".encode(): f"value-{i}".encode() for i in range(n)}
    pipe = client.pipeline(transaction=False)
    for i, (k, v) in enumerate(data.items()):
        pipe.set(k, v, ex=3600 if i % ttl_every == 0 else None)
    pipe.execute()
    return data


def table_rows(conn: psycopg.Connection[Any], table: str = "kv") -> dict[Any, tuple[Any, ...]]:
    """All rows of ``public.<table>`` by key (a dict: duplicates would collapse, so also check counts)."""
    with conn.cursor() as cur:
        cur.execute(psycopg.sql.SQL("SELECT * FROM {}").format(psycopg.sql.Identifier(table)))
        rows = cur.fetchall()
    conn.rollback()
    return {r[0]: r for r in rows}


def row_count(conn: psycopg.Connection[Any], table: str = "kv") -> int:
    with conn.cursor() as cur:
        cur.execute(psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table)))
        row = cur.fetchone()
    conn.rollback()
    assert row is not None
    return int(row[0])


class StopAfter:
    """A progress sink that raises after ``n`` batches: simulates a crash between batches."""

    class Crash(Exception):
        """The simulated crash."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.batches = 0

    def start(self, task: str, total: int | None) -> None:
        """Ignore."""

    def advance(self, task: str, amount: int) -> None:
        """Count batches; crash after ``n``."""
        self.batches += 1
        if self.batches >= self.n:
            raise StopAfter.Crash(f"crash after {self.batches} batches")

    def finish(self, task: str) -> None:
        """Ignore."""


def test_fast_path_copies_every_key_with_expiry(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(batch_size=100, scan_count=50)
    setup_table(conn, item)
    data = seed_strings(redis_client, 1000)
    started_ms = time.time() * 1000

    result = copy_item(redis_client, conn, item)

    assert result.mode == "copy"
    assert result.rows == 1000 and result.vanished == 0 and not result.resumed
    rows = table_rows(conn)
    assert row_count(conn) == 1000
    assert {k.encode(): r[1].encode() for k, r in rows.items()} == data
    for i, (key, row) in enumerate(sorted(rows.items())):
        if i % 3 == 0:
            expiry_ms = row[2].timestamp() * 1000
            assert started_ms + 3590_000 < expiry_ms < time.time() * 1000 + 3600_000, key
        else:
            assert row[2] is None, key
    ckpt = state.load_checkpoint(conn, item.id, "public.kv")
    assert ckpt is not None and ckpt.done and ckpt.rows_copied == 1000


def test_rerun_is_idempotent_and_picks_up_changes(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(batch_size=64)
    setup_table(conn, item)
    seed_strings(redis_client, 500)
    first = copy_item(redis_client, conn, item)
    redis_client.set(b"k:000007", b"changed")
    redis_client.persist(b"k:000000")

    second = copy_item(redis_client, conn, item)

    assert (first.mode, second.mode) == ("copy", "upsert")
    assert second.rows == 500
    assert row_count(conn) == 500
    rows = table_rows(conn)
    assert rows["k:000007"][1] == "changed"
    assert rows["k:000000"][2] is None  # TTL removed in Redis -> expiry cleared
    assert verify_item(redis_client, conn, item, full=True).ok


def test_resume_after_crash_continues_from_checkpoint(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(batch_size=50, scan_count=25)
    setup_table(conn, item)
    data = seed_strings(redis_client, 2000)
    baseline_threads = threading.active_count()

    with pytest.raises(StopAfter.Crash):
        copy_item(redis_client, conn, item, progress=StopAfter(5))

    assert threading.active_count() == baseline_threads  # the reader thread was stopped
    ckpt = state.load_checkpoint(conn, item.id, "public.kv")
    conn.rollback()
    assert ckpt is not None and ckpt.status == "running" and ckpt.cursor != 0
    # Rows and checkpoint committed together: the table holds exactly what the checkpoint says.
    assert 0 < ckpt.rows_copied == row_count(conn) < 2000

    resumed = copy_item(redis_client, conn, item, resume=True)

    assert resumed.resumed and resumed.mode == "upsert"
    assert ckpt.rows_copied + resumed.rows == 2000  # nothing copied twice, nothing skipped
    assert row_count(conn) == 2000
    assert {k.encode(): r[1].encode() for k, r in table_rows(conn).items()} == data
    done = state.load_checkpoint(conn, item.id, "public.kv")
    assert done is not None and done.done and done.rows_copied == 2000

    again = copy_item(redis_client, conn, item, resume=True)
    assert again.mode == "skipped" and again.rows == 0


def test_resume_restarts_when_the_item_changed(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(batch_size=50, scan_count=25)
    setup_table(conn, item)
    seed_strings(redis_client, 600)
    with pytest.raises(StopAfter.Crash):
        copy_item(redis_client, conn, item, plan_fingerprint=item_fingerprint(item), progress=StopAfter(2))
    changed = item.model_copy(update={"copy_options": CopyOptions(batch_size=80, scan_count=25)})
    changed.source = changed.source.model_copy(update={"regex": r"k:\d+"})

    result = copy_item(redis_client, conn, changed, resume=True, plan_fingerprint=item_fingerprint(changed))

    assert not result.resumed and result.rows == 600  # scanned from the start
    assert row_count(conn) == 600


def test_data_error_keeps_committed_batches_and_resume_finishes(
    redis_client: redis.Redis, conn: psycopg.Connection[Any]
) -> None:
    item = make_item("counter", {}, prefix="c:", table="counters", batch_size=40, scan_count=20)
    setup_table(conn, item)
    pipe = redis_client.pipeline(transaction=False)
    for i in range(1500):
        pipe.set(f"c:{i:05d}", i)
    pipe.execute()
    # Poison a key that SCAN returns late, so earlier batches commit before the failure.
    order = [k for k in redis_client.scan_iter(match=b"c:*", count=20)]
    poisoned = order[-100]
    redis_client.set(poisoned, b"not-a-number")
    baseline_threads = threading.active_count()

    with pytest.raises(DataError) as info:
        copy_item(redis_client, conn, item)

    assert poisoned.decode() in str(info.value)
    assert threading.active_count() == baseline_threads
    ckpt = state.load_checkpoint(conn, item.id, "public.counters")
    conn.rollback()
    assert ckpt is not None and ckpt.status == "running"
    assert 0 < ckpt.rows_copied == row_count(conn, "counters") < 1500

    redis_client.set(poisoned, 424242)
    result = copy_item(redis_client, conn, item, resume=True)

    assert result.resumed
    rows = table_rows(conn, "counters")
    assert len(rows) == row_count(conn, "counters") == 1500
    assert rows[poisoned.decode()][1] == 424242
    assert all(v[1] == int(k[2:]) for k, v in rows.items() if k != poisoned.decode())


def test_fast_path_falls_back_to_upsert_on_duplicate_keys(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], pg_url: str
) -> None:
    """A key already in the table (as after a SCAN repeat) turns that batch into an upsert, not a failure."""
    item = make_item(batch_size=50, scan_count=25)
    setup_table(conn, item)
    data = seed_strings(redis_client, 800)

    class Intruder:
        """After the first batch commits, another session writes stale rows for every key."""

        done = False

        def start(self, task: str, total: int | None) -> None:
            pass

        def advance(self, task: str, amount: int) -> None:
            if not self.done:
                self.done = True
                with psycopg.connect(pg_url) as other:
                    other.cursor().executemany(
                        "INSERT INTO kv (key, value) VALUES (%s, 'stale') ON CONFLICT DO NOTHING",
                        [(k.decode(),) for k in data],
                    )

        def finish(self, task: str) -> None:
            pass

    result = copy_item(redis_client, conn, item, progress=Intruder())

    assert result.mode == "copy" and result.rows == 800
    rows = table_rows(conn)
    assert row_count(conn) == 800
    assert {k.encode(): r[1].encode() for k, r in rows.items()} == data


def test_keys_expiring_during_copy(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(batch_size=50, scan_count=25)
    setup_table(conn, item)
    pipe = redis_client.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"k:{i:05d}", f"v{i}", px=1 + i % 400 if i % 2 else None)
    pipe.execute()

    result = copy_item(redis_client, conn, item)

    rows = table_rows(conn)
    assert result.rows == len(rows) == row_count(conn)
    persistent = {f"k:{i:05d}" for i in range(0, 2000, 2)}
    assert persistent <= rows.keys()
    for key, row in rows.items():
        if key not in persistent:
            assert row[2] is not None, key  # a copied volatile key always carries its expiry
    time.sleep(0.5)  # every volatile key has now expired on both sides
    parity = verify_item(redis_client, conn, item, full=True)
    assert parity.ok and parity.source_count == parity.target_count == 1000


def test_binary_keys_and_values_into_bytea(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(options={"value_type": "bytea", "key_type": "bytea"}, prefix="b:", table="blobs")
    setup_table(conn, item)
    data = {
        b"b:\xff\xfe": b"\x00\x01\x02\xff",
        b"b:plain": b"",
        b"b:\x00nul": bytes(range(256)),
        "b:ünï".encode(): "välue".encode(),
    }
    for k, v in data.items():
        redis_client.set(k, v)

    result = copy_item(redis_client, conn, item)

    assert result.rows == 4
    assert {bytes(k): bytes(r[1]) for k, r in table_rows(conn, "blobs").items()} == data
    assert verify_item(redis_client, conn, item, full=True).ok


def test_unicode_quote_and_space_keys(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(options={"value_type": "text"}, prefix="u:", table='Odd "Table"')
    setup_table(conn, item)
    keys = ["u:it's", 'u:say "hi"', "u:with space", "u:日本語", "u:emoji 🚀", "u:back\\slash", "u:tab\there"]
    for k in keys:
        redis_client.set(k, f"{k}!")

    result = copy_item(redis_client, conn, item)

    assert result.rows == len(keys) and result.table == 'public.Odd "Table"'
    rows = table_rows(conn, 'Odd "Table"')
    assert {k: r[1] for k, r in rows.items()} == {k: f"{k}!" for k in keys}


def test_fifty_thousand_keys_small_batches(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(batch_size=500, scan_count=200)
    setup_table(conn, item)
    pipe = redis_client.pipeline(transaction=False)
    for i in range(50_000):
        pipe.set(f"k:{i}", i, ex=7200 if i % 2 else None)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    redis_client.set(b"other:1", b"not this item")

    result = copy_item(redis_client, conn, item)

    assert result.rows == 50_000 and result.vanished == 0
    assert row_count(conn) == 50_000
    ckpt = state.load_checkpoint(conn, item.id, "public.kv")
    assert ckpt is not None and ckpt.done and ckpt.rows_copied == 50_000


def test_unmatched_keys_are_counted_not_copied(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(batch_size=10)
    item.source = item.source.model_copy(update={"regex": r"k:\d+"})
    setup_table(conn, item)
    for i in range(30):
        redis_client.set(f"k:{i}", "v")
    for i in range(7):
        redis_client.set(f"k:x{i}", "belongs to another pattern")

    result = copy_item(redis_client, conn, item)

    assert (result.rows, result.unmatched) == (30, 7)
    assert row_count(conn) == 30


def test_missing_table_is_a_target_error(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item(table="never_created")
    redis_client.set(b"k:1", b"v")

    with pytest.raises(TargetError) as info:
        copy_item(redis_client, conn, item)

    assert "public.never_created" in str(info.value) and "pgconsolidate ddl" in str(info.value)


def test_copy_plan_only_selects_items(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    a = make_item(prefix="a:", table="ta", item_id="redis.db.a")
    b = make_item(prefix="b:", table="tb", item_id="redis.db.b")
    for it in (a, b):
        setup_table(conn, it)
    redis_client.set(b"a:1", b"1")
    redis_client.set(b"b:1", b"1")
    plan = Plan(
        tool_version="test",
        generated_at="2026-01-01T00:00:00+00:00",
        sources=[],
        target=PlanTarget(server_version="18", fingerprint="x"),
        items=[a, b],
    )

    results = copy_plan(redis_client, conn, plan, only={"redis.db.b"})

    assert [r.item_id for r in results] == ["redis.db.b"]
    assert (row_count(conn, "ta"), row_count(conn, "tb")) == (0, 1)


# --------------------------------------------------------------------------- server-side validation (binary rows)


@pytest.mark.parametrize(
    ("options", "key", "value", "field", "problem"),
    [
        ({"value_type": "text"}, b"p:bad-utf8", b"caf\xe9", "target.options.value_type", "not valid UTF-8"),
        ({"value_type": "text"}, b"p:nul", b"a\x00b", "target.options.value_type", "NUL byte"),
        ({"value_type": "jsonb"}, b"p:bad-json", b'{"a": ', "target.options.value_type", "not valid JSON"),
        ({"value_type": "jsonb"}, b"p:nul-escape", b'{"a": "\\u0000"}', "target.options.value_type", "\\u0000"),
        ({"value_type": "jsonb"}, b"p:nan", b'{"a": NaN}', "target.options.value_type", "not valid JSON"),
        ({"value_type": "text", "key_type": "text"}, b"p:\xff\xfe", b"ok", "target.options.key_type", "UTF-8"),
        ({"value_type": "text", "key_type": "text"}, b"p:\x00k", b"ok", "target.options.key_type", "NUL byte"),
    ],
    ids=["text-bad-utf8", "text-nul", "jsonb-bad-json", "jsonb-nul-escape", "jsonb-nan", "key-bad-utf8", "key-nul"],
)
def test_value_postgresql_rejects_names_key_and_plan_field(
    redis_client: redis.Redis,
    conn: psycopg.Connection[Any],
    options: dict[str, Any],
    key: bytes,
    value: bytes,
    field: str,
    problem: str,
) -> None:
    item = make_item("kv_table", options, prefix="p:", table="poisoned", batch_size=100, scan_count=50)
    setup_table(conn, item)
    good = {f"p:{i:04d}".encode(): b'{"n": %d}' % i for i in range(300)}
    pipe = redis_client.pipeline(transaction=False)
    for k, v in good.items():
        pipe.set(k, v)
    pipe.set(key, value)
    pipe.execute()

    with pytest.raises(DataError) as info:
        copy_item(redis_client, conn, item)

    message = str(info.value)
    assert f"items[id={item.id}].{field}" in message
    assert problem in message
    assert key.decode("utf-8", "backslashreplace").replace("\x00", "\\x00") in message
    # The failing batch was rolled back whole: what is in the table is exactly the committed batches.
    ckpt = state.load_checkpoint(conn, item.id, "public.poisoned")
    conn.rollback()
    assert ckpt is not None and ckpt.rows_copied == row_count(conn, "poisoned") < len(good) + 1
    assert all(k.encode() in good for k in table_rows(conn, "poisoned"))


def test_jsonb_values_are_stored_as_parsed_by_postgresql(
    redis_client: redis.Redis, conn: psycopg.Connection[Any]
) -> None:
    item = make_item("kv_table", {"value_type": "jsonb"}, prefix="j:", table="docs")
    setup_table(conn, item)
    values = {
        b"j:obj": '{"b": 1, "a": [true, null, 1.50], "é": "ü\\n"}'.encode(),
        b"j:num": b"12345678901234567890",
        b"j:str": b'"caf\xc3\xa9"',
        b"j:empty": b"",  # '' is not JSON: stored as NULL (verify maps it back)
    }
    for k, v in values.items():
        redis_client.set(k, v, px=3_600_000 if k != b"j:num" else None)
    before_ms = int(time.time() * 1000)

    result = copy_item(redis_client, conn, item)

    assert result.rows == 4
    rows = table_rows(conn, "docs")
    assert rows["j:obj"][1] == {"b": 1, "a": [True, None, 1.5], "é": "ü\n"}
    assert rows["j:num"][1] == 12345678901234567890 and rows["j:num"][2] is None
    assert rows["j:str"][1] == "café"
    assert rows["j:empty"][1] is None
    expires = rows["j:obj"][2].timestamp() * 1000
    assert before_ms + 3_600_000 - 5_000 < expires < before_ms + 3_600_000 + 5_000
    assert verify_item(redis_client, conn, item, full=True).ok


def test_counter_and_hash_rows_through_binary_encoders(
    redis_client: redis.Redis, conn: psycopg.Connection[Any]
) -> None:
    counters = make_item("counter", {}, prefix="n:", table="counters", item_id="redis.db.n")
    hashes = make_item("hash_jsonb", {}, prefix="h:", redis_type="hash", table="objs", item_id="redis.db.h")
    setup_table(conn, counters)
    setup_table(conn, hashes)
    redis_client.set(b"n:max", str(2**63 - 1))
    redis_client.set(b"n:min", str(-(2**63)))
    redis_client.set(b"n:ttl", b"-7", px=60_000)
    redis_client.hset(b"h:1", mapping={b"name": "Zoë".encode(), b"q": b'say "hi"\\'})
    redis_client.pexpire(b"h:1", 60_000)
    redis_client.hset(b"h:2", mapping={b"x": b""})
    redis_client.set(b"h:not-a-hash", b"string")  # SCAN TYPE filters it; never a row

    assert copy_item(redis_client, conn, counters).rows == 3
    assert copy_item(redis_client, conn, hashes).rows == 2

    nums = table_rows(conn, "counters")
    assert nums["n:max"][1] == 2**63 - 1 and nums["n:min"][1] == -(2**63) and nums["n:ttl"][1] == -7
    assert nums["n:max"][2] is None and nums["n:ttl"][2] is not None
    objs = table_rows(conn, "objs")
    assert objs["h:1"][1] == {"name": "Zoë", "q": 'say "hi"\\'} and objs["h:1"][2] is not None
    assert objs["h:2"][1] == {"x": ""} and objs["h:2"][2] is None


def test_counter_out_of_range_is_a_data_error(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    item = make_item("counter", {}, prefix="o:", table="overflow")
    setup_table(conn, item)
    redis_client.set(b"o:1", b"1")
    redis_client.set(b"o:big", str(2**63))

    with pytest.raises(DataError) as info:
        copy_item(redis_client, conn, item)

    assert "target.mapping" in str(info.value) and "o:big" in str(info.value)
    assert row_count(conn, "overflow") == 0


def test_table_of_other_column_types_takes_the_typed_path(
    redis_client: redis.Redis, conn: psycopg.Connection[Any]
) -> None:
    """A pre-existing table whose value column is text, under a jsonb plan: JSON text, no version byte."""
    item = make_item("kv_table", {"value_type": "jsonb"}, prefix="t:", table="texty")
    conn.execute("CREATE TABLE texty (key text PRIMARY KEY, value text, expires_at timestamptz)")
    conn.commit()
    redis_client.set(b"t:1", b'{"a": 1}')

    assert copy_item(redis_client, conn, item).rows == 1
    assert table_rows(conn, "texty")["t:1"][1] == '{"a": 1}'


def test_wrong_type_and_vanished_keys_are_not_rows(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    """MGET reads a non-string key as nil: such keys and keys gone before the read count as vanished."""
    from pgconsolidate.mappings import get_mapping

    item = make_item("kv_table", {}, prefix="w:", table="wt")
    redis_client.set(b"w:s", b"v", px=50_000)
    redis_client.set(b"w:forever", b"f")
    redis_client.rpush(b"w:list", b"x")
    records = get_mapping("kv_table").read(redis_client, [b"w:s", b"w:list", b"w:gone", b"w:forever"], item, 0)

    assert records[1] is None and records[2] is None
    assert records[0] is not None and records[0].value == b"v" and records[0].expires_at_ms is not None
    assert records[3] is not None and records[3].expires_at_ms is None
    # The connection went back to the pool in sync: a plain command still gets its own reply.
    assert redis_client.get(b"w:forever") == b"f"


def test_resp3_client_reads_the_same_records(redis_url: str) -> None:
    """RESP3 connections take redis-py's generic reply path; the records must not differ."""
    from pgconsolidate.mappings import get_mapping

    item = make_item("hash_jsonb", {}, prefix="r:", redis_type="hash", table="r3")
    resp2 = redis.Redis.from_url(redis_url)
    resp3 = redis.Redis.from_url(redis_url, protocol=3)
    try:
        resp2.hset(b"r:1", mapping={b"a": b"1", b"b": b"2"})
        resp2.set(b"r:str", b"x")
        keys = [b"r:1", b"r:str", b"r:none"]
        mapping = get_mapping("hash_jsonb")
        assert mapping.read(resp3, keys, item, 0) == mapping.read(resp2, keys, item, 0)
        assert mapping.read(resp2, keys, item, 0)[0] == (b"r:1", {b"a": b"1", b"b": b"2"}, None)
    finally:
        resp2.close()
        resp3.close()
