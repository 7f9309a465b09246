"""Hashes and lists: Redis -> PostgreSQL copy throughput beside the read ceiling of the same run.

Seeds, in a dedicated Redis database:

* N small hashes (default 1,000,000; 5 fields each, like user records) -> ``hash_jsonb``;
* L lists of M items (default 100 x 10,000; JSON job payloads) -> ``queue_pgmq`` (each list
  bigger than the chunk size, so every one is read in windows).

For each family it prints the read ceiling (the mapping's own pipelined reads over SCAN batches,
nothing written: what Redis + the client can give) and the end-to-end rate of
``pgconsolidate migrate`` run as a subprocess (as a user runs it), their ratio, and the migrate
process's peak RSS.

Usage::

    eval "$(bash scripts/services.sh env)"
    .venv/bin/python bench/redis_collections.py [--hashes 1000000] [--lists 100] [--items 10000]

Goal (2 cores): >= 120,000 hashes/s end to end.
"""

from __future__ import annotations

import argparse
import json
import os
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
from pgconsolidate.mappings import get_mapping
from pgconsolidate.models import Plan, PlanItem
from pgconsolidate.planfile import save_plan
from pgconsolidate.sources.redis import iter_key_batches

BENCH_DB = 13
HASH_PREFIX = "bench:user:"
LIST_PREFIX = "bench:jobs:"


def seed_hashes(client: redis.Redis, n: int) -> float:
    """n hashes of 5 short fields; returns seconds taken."""
    t0 = time.perf_counter()
    for start in range(0, n, 10_000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(n, start + 10_000)):
            pipe.hset(
                f"{HASH_PREFIX}{i:08d}",
                mapping={
                    "name": f"user {i}",
                    "email": f"user{i}@example.com",
                    "plan": "pro" if i % 7 == 0 else "free",
                    "visits": str(i % 1000),
                    "created": "2026-11-30T12:00:00Z",
                },
            )
        pipe.execute()
    return time.perf_counter() - t0


def seed_lists(client: redis.Redis, lists: int, items: int) -> float:
    """``lists`` lists of ``items`` JSON jobs each (LPUSH, consumers would BRPOP); returns seconds taken."""
    t0 = time.perf_counter()
    for n in range(lists):
        key = f"{LIST_PREFIX}{n:03d}"
        for start in range(0, items, 5_000):
            batch = [
                json.dumps({"id": f"{n}-{i}", "task": "send_email", "args": [i, "welcome"]})
                for i in range(start, min(items, start + 5_000))
            ]
            client.lpush(key, *batch)
    return time.perf_counter() - t0


def read_ceiling(client: redis.Redis, item: PlanItem) -> tuple[float, int]:
    """The item's SCAN batches read with its mapping's own ``read`` (windows included), nothing written.

    Returns (elements/s, elements) - for hashes one element per key.
    """
    from pgconsolidate.mappings._members import chunks, is_members_mapping
    from pgconsolidate.models import RedisSource

    assert item.target is not None and isinstance(item.source, RedisSource)
    mapping = get_mapping(item.target.mapping)
    members = is_members_mapping(mapping)
    t0 = time.perf_counter()
    total = 0
    for batch in iter_key_batches(client, item.source, batch_size=item.copy_options.batch_size, count=1000):
        records = mapping.read(client, sorted(set(batch.keys)), item, int(time.time() * 1000))
        for rec in records:
            if rec is None:
                continue
            if members:
                total += sum(len(window) for window in chunks(rec.value))
            else:
                total += 1
    return total / (time.perf_counter() - t0), total


def migrate(plan_path: Path, redis_url: str, pg_url: str, only: list[str]) -> tuple[dict[str, object], int]:
    """``pgconsolidate migrate`` of the ``only`` items; returns its JSON report and peak RSS bytes."""
    args = [str(plan_path), "--target", pg_url, "--redis", redis_url]
    for item_id in only:
        args += ["--only", item_id]
    report, _, peak = run_migrate(args)
    return report, peak


def pick(plan: Plan, prefix: str, mapping: str) -> list[PlanItem]:
    """The plan's migrate items of ``mapping`` whose source pattern starts with ``prefix``."""
    found = [
        it
        for it in plan.items
        if it.target is not None
        and it.verdict == "migrate"
        and it.target.mapping == mapping
        and getattr(it.source, "pattern", "").startswith(prefix)
    ]
    if not found:
        summary = [(it.id, it.verdict, it.target.mapping if it.target else None) for it in plan.items]
        raise SystemExit(f"the plan has no {mapping} item for {prefix}*: {summary}")
    return found


def main() -> None:
    """Seed, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--lists", type=int, default=100)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--redis", default=os.environ.get("PGCONSOLIDATE_TEST_REDIS_URL"))
    parser.add_argument("--target", default=os.environ.get("PGCONSOLIDATE_TEST_PG_URL"))
    args = parser.parse_args()
    if not args.redis or not args.target:
        raise SystemExit('set --redis/--target or run: eval "$(bash scripts/services.sh env)"')
    redis_url = with_db(args.redis, BENCH_DB)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    with psycopg.connect(args.target, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS pgc_bench_coll WITH (FORCE)")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("pgc_bench_coll")))
    pg_url = with_database(args.target, "pgc_bench_coll")

    print(f"redis  {redact_url(redis_url)}\ntarget {redact_url(pg_url)}")
    print(f"seed {args.hashes:,} hashes       {seed_hashes(client, args.hashes):8.1f} s")
    print(f"seed {args.lists} x {args.items:,} list items {seed_lists(client, args.lists, args.items):8.1f} s")
    inventory = commands.analyze(redis_url, sample=20_000)
    plan = commands.make_plan(inventory, pg_url)
    hashes = pick(plan, HASH_PREFIX, "hash_jsonb")
    queues = pick(plan, LIST_PREFIX, "queue_pgmq")
    with tempfile.TemporaryDirectory() as tmp:
        plan_path = Path(tmp) / "bench-collections.yaml"
        save_plan(plan, plan_path)
        for title, items, unit in (("hashes", hashes, "hashes"), ("lists", queues, "items")):
            read = min(read_ceiling(client, it)[0] for it in items)
            report, rss = migrate(plan_path, redis_url, pg_url, [it.id for it in items])
            results = report["items"]
            assert isinstance(results, list)
            rows = sum(int(r["rows"]) for r in results)
            seconds = sum(float(r["seconds"]) for r in results)
            e2e = rows / seconds
            print(f"{title:6} read ceiling {read:12,.0f} {unit}/s   (the mapping's reads, nothing written)")
            print(f"{title:6} end to end   {e2e:12,.0f} {unit}/s   ({rows:,} rows in {seconds:.1f} s)")
            print(f"{title:6} ratio        {e2e / read:12.2f}")
            print(f"{title:6} peak RSS     {rss / 2**20:12.0f} MiB")
    print("goal: hashes end to end >= 120,000/s on 2 cores")
    client.flushdb()


if __name__ == "__main__":
    main()
