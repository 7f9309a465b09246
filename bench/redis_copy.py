"""Redis -> PostgreSQL copy throughput, with both ceilings measured in the same run.

Seeds N string keys with random TTLs (1 h - 2 days), then prints:

* read ceiling   - SCAN + MGET over the keys, nothing written (what Redis + the client can give);
* COPY ceiling   - COPY of pre-built rows into a table of the same shape (what PostgreSQL can take);
* end to end     - ``pgconsolidate migrate`` (a subprocess, as a user runs it) keys/s;
* the ratio of end to end to the lower ceiling, and the migrate process's peak RSS.

Usage::

    eval "$(bash scripts/services.sh env)"
    .venv/bin/python bench/redis_copy.py [--keys 1000000] [--redis URL] [--target URL]

Goals (2 cores): end to end >= 0.7 x the lower ceiling and >= 200,000 keys/s; peak RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_migrate, with_database, with_db

from pgconsolidate import commands
from pgconsolidate.config import redact_url
from pgconsolidate.planfile import save_plan

BENCH_DB = 12
PREFIX = "bench:sess:"


def seed(client: redis.Redis, n: int) -> float:
    """Write n ~100-byte string keys with random TTLs of 1 h - 2 days (as real sessions have: expiry
    order unrelated to key order); returns seconds taken."""
    rng = random.Random(7)
    t0 = time.perf_counter()
    value = b'{"user_id": 1234, "roles": ["reader"], "csrf": "' + b"x" * 48 + b'"}'
    step = 10_000
    for start in range(0, n, step):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(n, start + step)):
            pipe.set(f"{PREFIX}{i:08d}", value, ex=rng.randint(3_600, 172_800))
        pipe.execute()
    return time.perf_counter() - t0


def read_ceiling(client: redis.Redis, n: int) -> tuple[float, list[bytes]]:
    """SCAN MATCH + MGET over every key, discarding values; returns keys/s and the keys in SCAN order."""
    t0 = time.perf_counter()
    order: list[bytes] = []
    for_batch: list[bytes] = []
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor=cursor, match=f"{PREFIX}*", count=1000)
        for_batch.extend(keys)
        if len(for_batch) >= 5000 or (cursor == 0 and for_batch):
            client.mget(for_batch)
            order.extend(for_batch)
            for_batch = []
        if cursor == 0:
            break
    elapsed = time.perf_counter() - t0
    assert len(order) == n, f"read ceiling saw {len(order)} keys, expected {n}"
    return n / elapsed, order


_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in Unix microseconds
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)


def copy_ceiling(pg_url: str, scan_order: list[bytes]) -> float:
    """Rows/s PostgreSQL ingests from binary COPY of pre-encoded rows into the planned table shape:
    UNLOGGED (key text PK, value jsonb, expires_at timestamptz) with an index on expires_at.

    Rows are encoded before the clock starts (no client work is timed) and arrive as they would from
    Redis: in SCAN order, 5,000 per transaction, each batch sorted by key (as the copy engine sends
    them), with random expiries like the seeded keys'.
    """
    now_us = int(time.time() * 1_000_000) - _PG_EPOCH_US
    rng = random.Random(11)
    value = b'{"user_id": 1234, "roles": ["reader"], "csrf": "' + b"x" * 48 + b'"}'
    row = struct.Struct(f">hi{len(PREFIX) + 8}si{len(value) + 1}siq")
    jsonb = b"\x01" + value
    batches = []
    for start in range(0, len(scan_order), 5000):
        chunk = sorted(scan_order[start : start + 5000])
        body = b"".join(
            row.pack(3, len(key), key, len(jsonb), jsonb, 8, now_us + rng.randint(3_600, 172_800) * 1_000_000)
            for key in chunk
        )
        batches.append(_HEADER + body + _TRAILER)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_ceiling")
        conn.execute(
            "CREATE UNLOGGED TABLE bench_copy_ceiling (key text PRIMARY KEY, value jsonb, expires_at timestamptz)"
        )
        conn.execute("CREATE INDEX ON bench_copy_ceiling (expires_at)")
        conn.execute("SET synchronous_commit = off")
        t0 = time.perf_counter()
        for buffer in batches:
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy("COPY bench_copy_ceiling (key, value, expires_at) FROM STDIN (FORMAT binary)") as copy,
            ):
                copy.write(buffer)
        elapsed = time.perf_counter() - t0
        (count,) = conn.execute("SELECT count(*) FROM bench_copy_ceiling").fetchone()  # type: ignore[misc]
        conn.execute("DROP TABLE bench_copy_ceiling")
    assert count == len(scan_order), f"COPY ceiling loaded {count} rows, expected {len(scan_order)}"
    return count / elapsed


def end_to_end(redis_url: str, pg_url: str, workdir: Path) -> tuple[float, float, int, dict[str, object]]:
    """analyze + plan in-process, then ``pgconsolidate migrate`` as a subprocess.

    Returns (copy keys/s from the report, wall keys/s incl. start-up and DDL, peak RSS bytes, report).
    """
    inv = commands.analyze(redis_url, sample=20_000)
    plan = commands.make_plan(inv, pg_url)
    plan_path = workdir / "bench-plan.yaml"
    save_plan(plan, plan_path)
    report, wall, peak = run_migrate([str(plan_path), "--target", pg_url, "--redis", redis_url])
    rows = sum(int(i["rows"]) for i in report["items"])
    copy_seconds = sum(float(i["seconds"]) for i in report["items"])
    return rows / copy_seconds, rows / wall, peak, report


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--redis", default=os.environ.get("PGCONSOLIDATE_TEST_REDIS_URL"))
    parser.add_argument("--target", default=os.environ.get("PGCONSOLIDATE_TEST_PG_URL"))
    args = parser.parse_args()
    if not args.redis or not args.target:
        raise SystemExit('set --redis/--target or run: eval "$(bash scripts/services.sh env)"')
    redis_url = with_db(args.redis, BENCH_DB)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    with psycopg.connect(args.target, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS pgc_bench WITH (FORCE)")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("pgc_bench")))
    pg_url = with_database(args.target, "pgc_bench")

    print(f"redis  {redact_url(redis_url)}\ntarget {redact_url(pg_url)}\nkeys   {args.keys:,}")
    print(f"seed            {seed(client, args.keys):8.1f} s")
    read, scan_order = read_ceiling(client, args.keys)
    print(f"read ceiling    {read:12,.0f} keys/s   (SCAN + MGET, nothing written)")
    copy = copy_ceiling(pg_url, scan_order)
    del scan_order
    print(f"COPY ceiling    {copy:12,.0f} rows/s   (pre-built rows, same table shape)")
    with tempfile.TemporaryDirectory() as tmp:
        e2e, wall, rss, _ = end_to_end(redis_url, pg_url, Path(tmp))
    lower = min(read, copy)
    print(f"end to end      {e2e:12,.0f} keys/s   (migrate copy phase; {wall:,.0f} keys/s incl. start-up + DDL)")
    print(f"ratio           {e2e / lower:12.2f}          (end to end / lower ceiling; goal >= 0.70)")
    print(f"peak RSS        {rss / 2**20:12.0f} MiB      (migrate process; goal < 500)")
    client.flushdb()


if __name__ == "__main__":
    main()
