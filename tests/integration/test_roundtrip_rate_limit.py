"""Round trip for ``rate_limit``: real fixed-window keys (redis-py INCR+EXPIRE and the ``limits``
library) copied and verified, then ``<table>_hit()`` exercised and compared with what Redis answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import redis

from pgconsolidate.errors import DataError
from pgconsolidate.execute.copy import copy_item
from pgconsolidate.execute.ddl import apply_ddl, render_item_ddl
from pgconsolidate.models import CopyOptions, PlanItem, RedisSource, TargetSpec, Usage, UsageKind
from pgconsolidate.verify import verify_item

RL = PlanItem(
    id="redis.db.rl",
    source=RedisSource(pattern="rl:{user}:{window}", regex=r"rl:[^:]+:\d+", match_glob="rl:*", redis_type="string"),
    usage=Usage(kind=UsageKind.RATE_LIMIT, confidence=1.0),
    verdict="migrate",
    reason="test",
    target=TargetSpec(mapping="rate_limit", table="rl", options={"cleanup": "sweep"}),
    copy_options=CopyOptions(batch_size=25, scan_count=10),
)
LIMITS = PlanItem(
    id="redis.db.limits",
    source=RedisSource(
        pattern="LIMITS:LIMITER/{id}", regex=r"LIMITS:LIMITER/.+", match_glob="LIMITS:LIMITER/*", redis_type="string"
    ),
    usage=Usage(kind=UsageKind.RATE_LIMIT, confidence=1.0, library="limits"),
    verdict="migrate",
    reason="test",
    target=TargetSpec(mapping="rate_limit", table="limits_counters"),
)


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the test's fresh database with both items' DDL applied."""
    with psycopg.connect(pg_url) as c:
        apply_ddl(c, render_item_ddl(RL, None) + render_item_ddl(LIMITS, None))
        yield c


@pytest.fixture
def auto(pg_url: str, conn: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection: every hit is its own transaction, like an application's."""
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


def hit(c: psycopg.Connection[Any], key: str, max_hits: int, window: float, cost: int = 1) -> tuple[bool, int]:
    """``rl_hit`` -> (allowed, hits)."""
    row = c.execute("SELECT allowed, hits FROM rl_hit(%s, %s, %s, %s)", (key, max_hits, window, cost)).fetchone()
    assert row is not None
    return row[0], row[1]


def seed_incr_expire(r: redis.Redis) -> dict[str, int]:
    """Fixed-window counters as applications write them: INCRBY, then EXPIRE on the first hit."""
    expected: dict[str, int] = {}
    for user in range(60):
        key = f"rl:user{user}:{28_000_000 + user % 3}"
        for _ in range(user % 7 + 1):
            pipe = r.pipeline()
            pipe.incrby(key, 1 + user % 2)
            pipe.expire(key, 60, nx=True)
            pipe.execute()
        expected[key] = (user % 7 + 1) * (1 + user % 2)
    r.incr("rl:forever:1")  # an EXPIRE that never happened: the key has no TTL
    expected["rl:forever:1"] = 1
    return expected


def test_roundtrip_copy_verify_rerun_and_drift(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], auto: psycopg.Connection[Any]
) -> None:
    expected = seed_incr_expire(redis_client)

    first = copy_item(redis_client, conn, RL)
    parity = verify_item(redis_client, conn, RL, full=True)

    assert (first.mode, first.rows) == ("copy", 61)
    assert parity.ok, parity.mismatches
    assert parity.checked == 61
    rows = dict(auto.execute("SELECT key, value FROM rl").fetchall())
    assert rows == expected
    no_ttl = auto.execute("SELECT key FROM rl WHERE expires_at IS NULL").fetchall()
    assert no_ttl == [("rl:forever:1",)]
    # The copied expiry is Redis' own (PEXPIRETIME), so it lies within the key's 60 s window.
    ttl_ok = auto.execute(
        "SELECT bool_and(expires_at > now() AND expires_at <= now() + interval '60 s') FROM rl "
        "WHERE expires_at IS NOT NULL"
    ).fetchone()
    assert ttl_ok == (True,)

    again = copy_item(redis_client, conn, RL)  # idempotent re-run
    assert (again.mode, again.rows) == ("upsert", 61)
    assert dict(auto.execute("SELECT key, value FROM rl").fetchall()) == expected

    redis_client.incr("rl:user5:28000002")  # the application kept counting in Redis
    redis_client.delete("rl:user6:28000000")  # a window ended in Redis
    auto.execute("UPDATE rl SET expires_at = expires_at + interval '1 hour' WHERE key = 'rl:user7:28000001'")

    drift = verify_item(redis_client, conn, RL, full=True)

    assert {(m.key, m.kind) for m in drift.mismatches} == {
        ("rl:user5:28000002", "value"),
        ("rl:user6:28000000", "extra"),
        ("rl:user7:28000001", "ttl"),
    }


def test_non_integer_value_names_key_and_field(redis_client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    redis_client.set("rl:bob:1", b"12")
    redis_client.set("rl:eve:1", b"twelve")

    with pytest.raises(DataError, match=r"target\.mapping: key 'rl:eve:1' is not a 64-bit integer in Redis form"):
        copy_item(redis_client, conn, RL)


def test_hit_fixed_window_allow_deny_reset(
    redis_client: redis.Redis, conn: psycopg.Connection[Any], auto: psycopg.Connection[Any]
) -> None:
    redis_client.set("rl:alice:1", 3, ex=60)
    redis_client.set("rl:forever:1", 9)
    copy_item(redis_client, conn, RL)
    copied_expiry = auto.execute("SELECT expires_at FROM rl WHERE key = 'rl:alice:1'").fetchone()

    # A live copied window continues where Redis left it, keeping its end.
    assert hit(auto, "rl:alice:1", 5, 60) == (True, 4)
    assert hit(auto, "rl:alice:1", 5, 60) == (True, 5)
    assert hit(auto, "rl:alice:1", 5, 60) == (False, 6)  # denied hits count, like limits' fixed window
    assert hit(auto, "rl:alice:1", 5, 60, cost=3) == (False, 9)
    assert auto.execute("SELECT expires_at FROM rl WHERE key = 'rl:alice:1'").fetchone() == copied_expiry

    # The window ends (simulated): the next hit starts a new one at `cost`, ending window_seconds later.
    auto.execute("UPDATE rl SET expires_at = now() - interval '1 ms' WHERE key = 'rl:alice:1'")
    with auto.transaction():
        row = auto.execute("SELECT allowed, hits, reset_at - now() FROM rl_hit('rl:alice:1', 5, 60, 2)").fetchone()
    assert row == (True, 2, timedelta(seconds=60))

    # A fresh key, a fractional window, a cost above the limit.
    assert hit(auto, "rl:new:1", 2, 0.5, cost=2) == (True, 2)
    assert hit(auto, "rl:new:1", 2, 0.5) == (False, 3)
    assert hit(auto, "rl:big:1", 2, 30, cost=3) == (False, 3)

    # A real tiny window: after it has passed, the counter restarts.
    assert hit(auto, "rl:tiny:1", 1, 0.05) == (True, 1)
    assert hit(auto, "rl:tiny:1", 1, 0.05)[1] in (1, 2)  # same window, or a new one on a slow machine
    auto.execute("SELECT pg_sleep(0.1)")
    assert hit(auto, "rl:tiny:1", 1, 0.05) == (True, 1)

    # A copied counter without TTL keeps its count but gets a window now (never a permanent lockout).
    assert hit(auto, "rl:forever:1", 10, 60) == (True, 10)
    assert auto.execute("SELECT expires_at IS NOT NULL FROM rl WHERE key = 'rl:forever:1'").fetchone() == (True,)

    # STRICT: a NULL argument writes nothing and returns no row.
    assert auto.execute("SELECT * FROM rl_hit('rl:null:1', 5, NULL)").fetchall() == []
    assert auto.execute("SELECT count(*) FROM rl WHERE key = 'rl:null:1'").fetchone() == (0,)

    # Expired windows are what the sweep deletes.
    auto.execute("UPDATE rl SET expires_at = now() - interval '1 s' WHERE key = 'rl:new:1'")
    auto.execute("DELETE FROM rl WHERE expires_at <= now()")
    assert auto.execute("SELECT count(*) FROM rl WHERE key = 'rl:new:1'").fetchone() == (0,)


def test_hit_is_atomic_under_concurrency(pg_url: str, auto: psycopg.Connection[Any]) -> None:
    threads, per_thread, limit = 4, 25, 50
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        with psycopg.connect(pg_url, autocommit=True) as c:
            mine = [hit(c, "rl:hot:1", limit, 300)[0] for _ in range(per_thread)]
        with lock:
            results.extend(mine)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert len(results) == threads * per_thread
    assert results.count(True) == limit  # no lost update, no double grant
    assert auto.execute("SELECT value FROM rl WHERE key = 'rl:hot:1'").fetchone() == (threads * per_thread,)


def test_limits_library_keys_copy_and_answer_like_redis(
    redis_url: str, redis_client: redis.Redis, conn: psycopg.Connection[Any], auto: psycopg.Connection[Any]
) -> None:
    limits = pytest.importorskip("limits")
    from limits.storage import RedisStorage
    from limits.strategies import FixedWindowRateLimiter

    limiter = FixedWindowRateLimiter(RedisStorage(redis_url))
    per_minute = limits.parse("5/minute")
    for user in range(20):
        for _ in range(user % 4 + 1):
            limiter.hit(per_minute, f"user{user}", cost=1 + user % 2)
    for _ in range(3):
        assert limiter.hit(per_minute, "compare")

    result = copy_item(redis_client, conn, LIMITS)
    parity = verify_item(redis_client, conn, LIMITS, full=True)

    assert result.rows == 21
    assert parity.ok, parity.mismatches
    key = "LIMITS:" + per_minute.key_for("compare")  # RedisStorage prefixes the limiter's key
    assert key == "LIMITS:LIMITER/compare/5/1/minute"
    assert redis_client.get(key) == b"3"
    assert auto.execute("SELECT value FROM limits_counters WHERE key = %s", (key,)).fetchone() == (3,)

    # The same next hits, in Redis through limits and in PostgreSQL through the function, answer alike.
    window = per_minute.get_expiry()
    redis_answers = [limiter.hit(per_minute, "compare", cost=cost) for cost in (1, 1, 1, 2, 1)]
    pg_answers = [
        auto.execute(
            "SELECT allowed FROM limits_counters_hit(%s, %s, %s, %s)", (key, per_minute.amount, window, cost)
        ).fetchone()
        for cost in (1, 1, 1, 2, 1)
    ]
    assert redis_answers == [True, True, False, False, False]
    assert [a[0] if a else None for a in pg_answers] == redis_answers
    final = auto.execute("SELECT value FROM limits_counters WHERE key = %s", (key,)).fetchone()
    assert final is not None and int(redis_client.get(key) or 0) == final[0] == 3 + 6
