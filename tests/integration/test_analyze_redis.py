"""Integration: connect, SCAN batches and sample a realistic keyspace on a real Redis server."""

from __future__ import annotations

import json
import random
import re
import string
import threading
import time
import uuid

import pytest
import redis

from pgconsolidate.analyze.keypatterns import infer_pattern, pattern_glob, pattern_regex
from pgconsolidate.analyze.sampler import BIG_KEY_ELEMENTS, redis_fingerprint, sample_redis
from pgconsolidate.demo import seed_demo_keyspace
from pgconsolidate.errors import ConnectionFailed, UsageError
from pgconsolidate.models import PatternReport, RedisInventory, RedisSource, UsageKind
from pgconsolidate.sources.redis import connect_redis, iter_key_batches, key_text_for_regex

N_SESSIONS_HASH = 120
N_SESSIONS_JSON = 80
N_CACHE = 150
N_COUNTERS = 60
N_USERS = 200
N_DOCS = 90
N_RATE = 40


def _seed(client: redis.Redis) -> None:
    """A realistic application keyspace: every usage the classifier knows, plus awkward key names."""
    pipe = client.pipeline(transaction=False)
    for i in range(N_SESSIONS_HASH):
        key = f"session:{uuid.UUID(int=i + 1)}"
        pipe.hset(key, mapping={"user_id": str(i), "csrf": "x" * 16, "created_at": "1700000000"})
        pipe.expire(key, 1800 + i)  # ~30 min
    for i in range(N_SESSIONS_JSON):
        key = f"sess:web:{uuid.UUID(int=10_000 + i)}"
        pipe.set(key, json.dumps({"uid": i, "roles": ["user"]}), ex=2 * 86400)
    for i in range(N_CACHE):
        pipe.set(f"cache:product:{i}", f"<div>product {i}</div>", ex=300 + i)
    for i in range(N_COUNTERS):
        pipe.set(f"stats:views:{i}", str(i * 7))
        pipe.incrby(f"stats:views:{i}", 3)
    for i in range(N_USERS):
        pipe.hset(f"user:{i}", mapping={"id": str(i), "name": f"user {i}", "email": f"u{i}@example.com"})
    for i in range(N_DOCS):
        pipe.set(f"doc:{i}", json.dumps({"title": f"doc {i}", "tags": ["a", "b"], "n": i}))
    for i in range(N_RATE):
        pipe.set(f"ratelimit:api:{i}", str(i % 10), ex=60)
    pipe.rpush("queue:emails", *[json.dumps({"to": f"u{i}@example.com"}) for i in range(25)])
    pipe.sadd("tags:popular", "redis", "postgres", "sql")
    pipe.zadd("leaderboard:global", {f"player{i}": i * 10 for i in range(50)})
    pipe.xadd("events:stream", {"type": "login", "user": "1"})
    pipe.xadd("events:stream", {"type": "logout", "user": "1"})
    for i in range(10):
        pipe.set(f"blob:{i}", bytes([0, 159, 146, 150, i]))  # binary: NUL and invalid UTF-8
    pipe.set('odd:"quoted" key', "q")
    pipe.set("odd:with space", "s")
    pipe.set("odd:ключ:ü", "u")
    pipe.set(b"raw:\xff\xfe:1", b"bin-key")
    pipe.set(b"raw:\xff\xfe:2", b"bin-key")
    pipe.set("lock:order:1", "owner-1", px=30_000)
    pipe.execute()


def _by_pattern(inv: RedisInventory) -> dict[tuple[str, str], PatternReport]:
    """Pattern reports keyed by (pattern, type)."""
    return {(p.facts.pattern, p.facts.redis_type): p for p in inv.patterns}


# --------------------------------------------------------------------------- connect


def test_connect_redis_ok_and_db_from_url(redis_url: str) -> None:
    client = connect_redis(redis_url)
    client.set("probe", "1")
    assert client.get("probe") == b"1"  # bytes: decode_responses=False
    db = int(redis_url.rsplit("/", 1)[1])
    assert client.connection_pool.connection_kwargs["db"] == db
    client.close()


def test_connect_redis_failures_are_one_line_and_redacted(redis_base_url: str) -> None:
    with pytest.raises(ConnectionFailed) as refused:
        connect_redis("redis://:s3cretpw@127.0.0.1:1/0", timeout=2)
    assert str(refused.value) == "cannot reach Redis at redis://:***@127.0.0.1:1/0: connection refused"
    with pytest.raises(ConnectionFailed) as auth:
        host = redis_base_url.split("//", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        connect_redis(f"redis://nosuchuser:s3cretpw@{host}/0", timeout=2)
    assert "authentication failed" in str(auth.value)
    assert "s3cretpw" not in str(auth.value)
    with pytest.raises(UsageError):
        connect_redis("http://127.0.0.1:6379/0")
    with pytest.raises(UsageError):
        connect_redis("redis://127.0.0.1:6379/notanumber")


# --------------------------------------------------------------------------- SCAN batches


def _source(pattern: str, redis_type: str = "string") -> RedisSource:
    return RedisSource(
        pattern=pattern, regex=pattern_regex(pattern), match_glob=pattern_glob(pattern), redis_type=redis_type
    )


def test_iter_key_batches_every_key_once_regex_filtered_and_type_filtered(redis_client: redis.Redis) -> None:
    pipe = redis_client.pipeline(transaction=False)
    expected = {f"item:{i}".encode() for i in range(3000)}
    for key in expected:
        pipe.set(key, "v")
    for i in range(500):
        pipe.set(f"item:{i}:extra", "x")  # glob item:* returns them, the regex rejects them
        pipe.hset(f"item:h{i}", "f", "v")  # another type: filtered server-side by SCAN TYPE
    pipe.hset("item:77777", "f", "v")  # right name, wrong type
    pipe.execute()

    batches = list(iter_key_batches(redis_client, _source("item:{id}"), batch_size=400, count=100))
    seen = [k for b in batches for k in b.keys]
    assert set(seen) == expected
    assert len(set(seen)) == len(seen) == 3000  # no SCAN duplicate on a static keyspace
    assert sum(b.unmatched for b in batches) == 500
    assert batches[-1].cursor == 0
    assert all(b.cursor != 0 for b in batches[:-1])
    assert all(len(b.keys) >= 400 for b in batches[:-1])


def test_iter_key_batches_resume_from_mid_cursor_yields_the_rest(redis_client: redis.Redis) -> None:
    pipe = redis_client.pipeline(transaction=False)
    for i in range(4000):
        pipe.set(f"k:{i}", i)
    pipe.execute()
    source = _source("k:{id}")
    first_run = iter_key_batches(redis_client, source, batch_size=500, count=200)
    consumed: list[bytes] = []
    head = next(first_run)
    consumed.extend(head.keys)
    second = next(first_run)
    consumed.extend(second.keys)
    assert second.cursor != 0
    # "crash" here; resume from the checkpointed cursor with a fresh iterator
    rest = [k for b in iter_key_batches(redis_client, source, batch_size=500, count=200, cursor=second.cursor)
            for k in b.keys]  # fmt: skip
    all_keys = set(consumed) | set(rest)
    assert all_keys == {f"k:{i}".encode() for i in range(4000)}
    assert not set(consumed) & set(rest)


def test_iter_key_batches_empty_and_odd_key_names(redis_client: redis.Redis) -> None:
    empty = list(iter_key_batches(redis_client, _source("nothing:{id}")))
    assert [(b.cursor, b.keys, b.unmatched) for b in empty] == [(0, [], 0)]
    odd = [b"a*b:1", b"a?b:2", b"a[b]:3", b"a\\b:4", 'ключ "q":5'.encode(), b"\xff\xfe:6"]
    for key in odd:
        redis_client.set(key, "v")
        redis_client.set(key + b"x", "v")  # same glob, regex must reject
    for key in odd:
        text = key_text_for_regex(key)
        pattern = infer_pattern(text)
        got = [k for b in iter_key_batches(redis_client, _source(pattern)) for k in b.keys]
        assert key in got, (key, pattern)
        assert all(re.fullmatch(pattern_regex(pattern), key_text_for_regex(k)) for k in got)


# --------------------------------------------------------------------------- sampling


def test_sample_redis_realistic_keyspace(redis_client: redis.Redis, redis_url: str) -> None:
    _seed(redis_client)
    total = redis_client.dbsize()
    inv = sample_redis(redis_client, redis_url, sample=50_000)

    assert inv.sample.complete and inv.sample.scanned_keys == total == inv.sample.dbsize
    assert inv.server.redis_version.count(".") == 2
    assert inv.fingerprint == redis_fingerprint(redis_client, redis_url)
    assert sum(p.facts.sampled_keys for p in inv.patterns) == total  # every key in exactly one pattern
    pats = _by_pattern(inv)

    sess = pats[("session:{uuid}", "hash")]
    assert sess.facts.sampled_keys == N_SESSIONS_HASH
    assert sess.facts.ttl.with_ttl == N_SESSIONS_HASH
    assert sess.facts.ttl.p50_seconds is not None and 1700 < sess.facts.ttl.p50_seconds <= 1800 + N_SESSIONS_HASH
    assert sess.facts.ttl.buckets == {"<1h": N_SESSIONS_HASH}
    assert sess.facts.hash_fields == {
        "created_at": N_SESSIONS_HASH,
        "csrf": N_SESSIONS_HASH,
        "user_id": N_SESSIONS_HASH,
    }
    assert sess.usage.kind is UsageKind.SESSION

    sess_json = pats[("sess:web:{uuid}", "string")]
    assert sess_json.facts.value_shapes == {"json_object": N_SESSIONS_JSON}
    assert sess_json.facts.ttl.buckets == {"1-7d": N_SESSIONS_JSON}
    assert sess_json.usage.kind is UsageKind.SESSION

    cache = pats[("cache:product:{id}", "string")]
    assert cache.facts.sampled_keys == N_CACHE and cache.facts.value_shapes == {"text": N_CACHE}
    assert cache.usage.kind is UsageKind.CACHE

    views = pats[("stats:views:{id}", "string")]
    assert views.facts.value_shapes == {"integer": N_COUNTERS} and views.facts.ttl.with_ttl == 0
    assert views.usage.kind is UsageKind.COUNTER
    assert any("incrby" in e.detail for e in views.usage.evidence)

    users = pats[("user:{id}", "hash")]
    assert users.facts.sampled_keys == N_USERS and users.facts.elements.p50 == 3
    assert users.usage.kind is UsageKind.OBJECT_HASH

    assert pats[("doc:{id}", "string")].usage.kind is UsageKind.JSON_DOCUMENT
    assert pats[("ratelimit:api:{id}", "string")].usage.kind is UsageKind.RATE_LIMIT
    assert pats[("lock:order:{id}", "string")].usage.kind is UsageKind.LOCK

    queue = pats[("queue:emails", "list")]
    assert queue.usage.kind is UsageKind.QUEUE and queue.facts.elements.max == 25
    assert pats[("tags:popular", "set")].usage.kind is UsageKind.SET
    board = pats[("leaderboard:global", "zset")]
    assert board.usage.kind is UsageKind.LEADERBOARD and board.facts.elements.p50 == 50
    assert pats[("events:stream", "stream")].usage.kind is UsageKind.STREAM

    blobs = pats[("blob:{id}", "string")]
    assert blobs.facts.value_shapes == {"binary": 10}
    raw = pats[("raw:{bin}:{id}", "string")]
    assert raw.facts.binary_keys == 2 and raw.facts.example_keys[0].startswith("raw:\\xff\\xfe:")

    odd_keys = {k for p in inv.patterns if p.facts.pattern.startswith("odd:") for k in p.facts.example_keys}
    assert {'odd:"quoted" key', "odd:with space", "odd:ключ:ü"} <= odd_keys | {
        k for p in inv.patterns for k in p.facts.example_keys
    }
    # Every key matches its own pattern's regex and glob-superset: walk each pattern like migrate does.
    walked = 0
    for p in inv.patterns:
        src = RedisSource(
            pattern=p.facts.pattern, regex=p.facts.regex, match_glob=p.facts.match_glob, redis_type=p.facts.redis_type
        )
        keys = [k for b in iter_key_batches(redis_client, src) for k in b.keys]
        assert len(keys) == p.facts.sampled_keys, p.facts.pattern
        walked += len(keys)
    assert walked == total
    for p in inv.patterns:
        assert p.usage.evidence, p.facts.pattern
        assert 0 <= p.usage.confidence <= 1
    inv.model_dump_json()  # serialisable: no surrogates leaked into patterns or examples


def test_sample_redis_is_bounded_and_extrapolates(redis_client: redis.Redis, redis_url: str) -> None:
    pipe = redis_client.pipeline(transaction=False)
    for i in range(20_000):
        pipe.set(f"c:{i}", "v", ex=3600 * 5)
        if i % 4 == 0:
            pipe.hset(f"h:{i}", "a", "1")
    pipe.execute()
    inv = sample_redis(redis_client, redis_url, sample=5_000, scan_count=500)
    assert not inv.sample.complete
    assert 5_000 <= inv.sample.scanned_keys <= 5_000  # capped exactly
    assert inv.sample.dbsize == 25_000
    pats = _by_pattern(inv)
    est = pats[("c:{id}", "string")].facts.estimated_keys
    assert 17_000 <= est <= 23_000
    assert pats[("c:{id}", "string")].facts.ttl.buckets == {"4-12h": pats[("c:{id}", "string")].facts.sampled_keys}


def test_sample_redis_random_names_do_not_explode(redis_client: redis.Redis, redis_url: str) -> None:
    rng = random.Random(7)
    pipe = redis_client.pipeline(transaction=False)
    for _ in range(3000):
        depth = rng.randint(1, 3)
        path = "/".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(depth))
        pipe.set(f"cache:page:/{path}", "<html>", ex=600)
        pipe.set("".join(rng.choices(string.ascii_letters, k=12)), "x")
    pipe.execute()
    inv = sample_redis(redis_client, redis_url)
    assert len(inv.patterns) <= 5, [p.facts.pattern for p in inv.patterns]
    assert sum(p.facts.sampled_keys for p in inv.patterns) == redis_client.dbsize()


def test_sample_redis_channels(redis_client: redis.Redis, redis_url: str) -> None:
    pubsub = redis_client.pubsub()
    pubsub.subscribe("orders:created")
    deadline = time.time() + 5
    while time.time() < deadline and not redis_client.pubsub_numsub("orders:created")[0][1]:
        pubsub.get_message(timeout=0.1)
    try:
        inv = sample_redis(redis_client, redis_url)
    finally:
        pubsub.close()
    channels = {c.channel: c for c in inv.channels}
    assert channels["orders:created"].subscribers >= 1
    assert channels["orders:created"].usage.kind is UsageKind.PUBSUB


def test_sample_redis_folds_rare_one_offs_into_their_family_within_one_type(
    redis_client: redis.Redis, redis_url: str
) -> None:
    summary = seed_demo_keyspace(redis_client)
    pipe = redis_client.pipeline(transaction=False)
    pipe.hset("cache:page:/admin/stats", mapping={"hits": "1"})  # a lone hash among string pages
    pipe.hset("user:index", mapping={f"u{i}": str(i) for i in range(BIG_KEY_ELEMENTS + 1)})  # big hash
    pipe.hset("user:admin", mapping={"name": "root"})  # a lone small hash among user hashes
    pipe.execute()
    inv = sample_redis(redis_client, redis_url)
    pats = _by_pattern(inv)
    pages = pats[("cache:page:/{**}", "string")]  # 500 pages + the 3 awkward one-offs, one family
    assert pages.facts.sampled_keys == summary.counts["cache_page"] == 503
    assert not any(p.startswith("cache:page:/") and t == "string" and p != "cache:page:/{**}" for p, t in pats)
    assert pats[("cache:page:/admin/stats", "hash")].facts.sampled_keys == 1  # never joins the strings
    assert pats[("user:{*}", "hash")].facts.sampled_keys == summary.counts["user_hash"] + 1
    assert pats[("user:index", "hash")].facts.elements.max == BIG_KEY_ELEMENTS + 1
    for name, rtype in (("queue:emails", "list"), ("leaderboard:global", "zset"), ("events:orders", "stream")):
        assert pats[(name, rtype)].facts.sampled_keys == 1
    assert sum(p.facts.sampled_keys for p in inv.patterns) == redis_client.dbsize()
    for (pattern, rtype), report in pats.items():  # what migrate walks: every key once, by regex + TYPE
        src = RedisSource(
            pattern=pattern, regex=report.facts.regex, match_glob=report.facts.match_glob, redis_type=rtype
        )
        walked = [k for b in iter_key_batches(redis_client, src) for k in b.keys]
        assert len(walked) == report.facts.sampled_keys, pattern


def test_sample_redis_usage_signals(redis_client: redis.Redis, redis_url: str) -> None:
    """Blocked consumers, stream consumer groups, zset score ends, tag-like sets and lock tokens."""
    redis_client.xadd("orders:stream", {"id": "1"}, id="1-1")
    redis_client.xadd("orders:stream", {"id": "2"}, id="2-1")
    redis_client.xadd("orders:stream", {"id": "3"}, id="3-1")
    redis_client.xgroup_create("orders:stream", "billing", id="0")
    redis_client.xreadgroup("billing", "worker-1", {"orders:stream": ">"}, count=2)  # 2 pending, not acked
    redis_client.zadd("events:by_time", {f"e{i}": 1_700_000_000 + i * 60 for i in range(10)})
    redis_client.zadd("board:scores", {f"p{i}": i for i in range(10)})
    redis_client.sadd("post:1:tags", "redis", "postgres", "sql", "new-york")
    for i in range(5):
        redis_client.set(f"lock:order:{i}", uuid.uuid4().hex, px=30_000, nx=True)

    # a consumer parked in BRPOP on its own connection while the analyzer runs
    waiter = redis.Redis.from_url(redis_url)
    blocker = threading.Thread(target=lambda: waiter.brpop(["jobs:incoming"], timeout=10))
    blocker.start()
    try:
        for _ in range(200):  # wait until the server reports it blocked (no fixed sleep)
            if any("b" in c.get("flags", "") and c.get("cmd") == "brpop" for c in redis_client.client_list()):
                break
            time.sleep(0.01)
        inv = sample_redis(connect_redis(redis_url), redis_url, sample=1000)
    finally:
        redis_client.lpush("jobs:incoming", "release")
        blocker.join()
        waiter.close()

    assert inv.server.blocked_commands.get("brpop", 0) >= 1
    assert inv.server.uptime_seconds > 0
    by = _by_pattern(inv)

    stream = by[("orders:stream", "stream")]
    [group] = stream.facts.stream_groups
    assert (group.key, group.name, group.consumers, group.pending) == ("orders:stream", "billing", 1, 2)
    assert group.last_delivered_id == "2-1"
    assert group.lag == 1  # Redis >= 7.0 reports it
    assert [c.name for c in group.consumer_details] == ["worker-1"]
    assert group.consumer_details[0].pending == 2
    assert stream.usage.hints == {"consumer_groups": "yes"}

    timed = by[("events:by_time", "zset")]
    assert (timed.facts.score_min, timed.facts.score_max) == (1_700_000_000, 1_700_000_540)
    assert timed.usage.hints["score"] == "timestamp_s"
    board = by[("board:scores", "zset")]
    assert (board.facts.score_min, board.facts.score_max) == (0, 9)
    assert "score" not in board.usage.hints

    tags = by[("post:{id}:tags", "set")]
    assert tags.facts.members_sampled == 4 and tags.facts.members_tag_like == 4
    assert tags.usage.hints == {"set": "tags"}

    lock = by[("lock:order:{id}", "string")]
    assert lock.usage.kind is UsageKind.LOCK
    assert lock.facts.token_values == 5
