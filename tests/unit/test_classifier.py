"""Usage classification of key patterns and channels from sampled facts (no services)."""

from __future__ import annotations

from typing import Any

import pytest

from pgconsolidate.analyze.keypatterns import pattern_glob, pattern_regex
from pgconsolidate.analyze.redis import classify_channel, classify_pattern, human_duration, name_words
from pgconsolidate.analyze.sampler import client_list_facts, is_tag, is_token, size_stats, ttl_stats, value_shape
from pgconsolidate.models import (
    CommandStat,
    KeyPattern,
    RedisServerInfo,
    SizeStats,
    StreamGroup,
    TTLStats,
    Usage,
    UsageKind,
)

K = UsageKind


def facts(
    pattern: str,
    redis_type: str = "string",
    *,
    n: int = 1000,
    ttl_ratio: float = 0.0,
    ttl_p50: float | None = None,
    shapes: dict[str, int] | None = None,
    fields: dict[str, int] | None = None,
    strlen_p95: float | None = None,
    elements_p50: float | None = None,
) -> KeyPattern:
    """A KeyPattern as the sampler would fill it."""
    with_ttl = round(n * ttl_ratio)
    elements = SizeStats()
    if strlen_p95 is not None or elements_p50 is not None:
        elements = SizeStats(count=n, total=n, p50=elements_p50 or strlen_p95, p95=strlen_p95 or elements_p50, max=1)
    return KeyPattern(
        pattern=pattern,
        regex=pattern_regex(pattern),
        match_glob=pattern_glob(pattern),
        redis_type=redis_type,
        sampled_keys=n,
        estimated_keys=n * 10,
        ttl=TTLStats(
            with_ttl=with_ttl,
            without_ttl=n - with_ttl,
            p50_seconds=ttl_p50 if with_ttl else None,
            p95_seconds=ttl_p50 * 1.5 if with_ttl and ttl_p50 else None,
        ),
        value_shapes=shapes if shapes is not None else {},
        hash_fields=fields or {},
        elements=elements,
    )


def server(**calls: int) -> RedisServerInfo:
    """Server info whose commandstats hold the given call counts."""
    return RedisServerInfo(
        redis_version="7.0.15",
        commandstats={name: CommandStat(calls=c, usec=c) for name, c in calls.items()},
    )


QUIET = server()

CASES: list[tuple[str, KeyPattern, RedisServerInfo, UsageKind]] = [
    # --- caches
    ("page cache with TTL", facts("cache:page:{*}", ttl_ratio=1, ttl_p50=300, shapes={"text": 1000}), QUIET, K.CACHE),
    (
        "unnamed string TTL keys, GET/SET heavy server",
        facts("product:{id}:html", ttl_ratio=0.97, ttl_p50=600, shapes={"text": 1000}),
        server(get=900_000, set=100_000, setex=50_000),
        K.CACHE,
    ),
    (
        "hash cache",
        facts("fragment:{hash}", "hash", ttl_ratio=0.99, ttl_p50=120, shapes={"text": 3000}),
        QUIET,
        K.CACHE,
    ),
    (
        "JSON strings with TTL, no name: cache, not document",
        facts("api:v1:{id}", ttl_ratio=1, ttl_p50=900, shapes={"json_object": 1000}),
        QUIET,
        K.CACHE,
    ),
    # --- sessions
    (
        "session hashes, 30m",
        facts("session:{uuid}", "hash", ttl_ratio=1, ttl_p50=1800, shapes={"text": 3000}, fields={"uid": 1000}),
        QUIET,
        K.SESSION,
    ),
    (
        "JSON session strings, 1 day",
        facts("sess:{hex}", ttl_ratio=0.98, ttl_p50=86400, shapes={"json_object": 1000}),
        QUIET,
        K.SESSION,
    ),
    ("auth tokens", facts("auth:token:{hex}", ttl_ratio=1, ttl_p50=3 * 86400, shapes={"text": 1000}), QUIET, K.SESSION),
    # --- counters
    (
        "page views, INCR traffic, no TTL",
        facts("pageviews:{id}", shapes={"integer": 1000}),
        server(incr=50_000, incrby=12_345),
        K.COUNTER,
    ),
    ("integer strings without names or TTL", facts("x:{id}:y", shapes={"integer": 990, "text": 10}), QUIET, K.COUNTER),
    (
        "counter hash (HINCRBY)",
        facts("stats:{date}", "hash", shapes={"integer": 5000}, fields={"clicks": 1000, "views": 1000}),
        server(hincrby=10_000),
        K.COUNTER,
    ),
    # --- documents and objects
    ("JSON documents without TTL", facts("doc:{id}", shapes={"json_object": 1000}), QUIET, K.JSON_DOCUMENT),
    (
        "user hashes with stable fields",
        facts("user:{id}", "hash", shapes={"text": 3000}, fields={"id": 1000, "name": 1000, "email": 990}),
        QUIET,
        K.OBJECT_HASH,
    ),
    # --- detected for review
    ("rate limiter", facts("ratelimit:{id}", ttl_ratio=1, ttl_p50=60, shapes={"integer": 1000}), QUIET, K.RATE_LIMIT),
    (
        "throttle window keys with timestamp",
        facts("throttle:{id}:{ts}", ttl_ratio=1, ttl_p50=30, shapes={"integer": 1000}),
        QUIET,
        K.RATE_LIMIT,
    ),
    ("locks", facts("lock:job:{id}", ttl_ratio=1, ttl_p50=10, shapes={"text": 50}, strlen_p95=36), QUIET, K.LOCK),
    ("mutex without TTL still a lock", facts("mutex:{id}", n=5, shapes={"text": 5}, strlen_p95=36), QUIET, K.LOCK),
    ("celery queue", facts("celery", "list", n=1, elements_p50=100), server(lpush=1000, brpop=1000), K.QUEUE),
    ("any list", facts("x:{id}", "list", n=3), QUIET, K.QUEUE),
    ("set", facts("tags:{id}", "set"), QUIET, K.SET),
    ("zset", facts("leaderboard:{date}", "zset", n=7), QUIET, K.LEADERBOARD),
    ("stream", facts("events", "stream", n=1), server(xadd=10), K.STREAM),
]


@pytest.mark.parametrize(("case", "pattern", "srv", "expected"), CASES, ids=[c[0] for c in CASES])
def test_classify_pattern_table(case: str, pattern: KeyPattern, srv: RedisServerInfo, expected: UsageKind) -> None:
    usage = classify_pattern(pattern, srv)
    assert usage.kind is expected, [e.detail for e in usage.evidence]
    assert 0.0 < usage.confidence <= 1.0
    assert usage.evidence, case


def _details(usage: Usage) -> str:
    return "\n".join(e.detail for e in usage.evidence)


def test_evidence_lines_carry_numbers() -> None:
    usage = classify_pattern(facts("session:{uuid}", "hash", n=1204, ttl_ratio=0.98, ttl_p50=1800), QUIET)
    text = _details(usage)
    assert "98% of 1,204 keys sampled have a TTL (p50 30m, p95 45m)" in text
    assert "key name contains 'session'" in text
    counter = classify_pattern(facts("views:{id}", shapes={"integer": 100}), server(incrby=12_345, incr=7))
    assert "value is an integer in 100% of samples" in _details(counter)
    assert "commandstats: incrby 12,345 calls, incr 7 calls" in _details(counter)
    doc = classify_pattern(facts("doc:{id}", shapes={"json_object": 100}), QUIET)
    assert "value is a JSON object in 100% of samples" in _details(doc)


def test_confident_cases_are_confident() -> None:
    session = classify_pattern(facts("session:{uuid}", "hash", ttl_ratio=1, ttl_p50=1800), QUIET)
    assert session.confidence >= 0.8
    counter = classify_pattern(facts("counter:{id}", shapes={"integer": 1000}), server(incr=10))
    assert counter.confidence >= 0.9


def test_ambiguous_integer_keys_with_short_ttl_and_no_name_are_flagged() -> None:
    usage = classify_pattern(facts("k:{id}", ttl_ratio=1, ttl_p50=120, shapes={"integer": 1000}), QUIET)
    assert usage.kind in (K.RATE_LIMIT, K.COUNTER, K.CACHE)
    assert usage.confidence < 0.7
    assert any(e.signal == "ambiguity" for e in usage.evidence)


def test_integer_mutex_without_ttl_is_ambiguous_with_counter() -> None:
    usage = classify_pattern(facts("mutex:{id}", n=5, shapes={"integer": 5}), QUIET)
    assert usage.kind in (K.LOCK, K.COUNTER)
    assert usage.confidence <= 0.5
    assert any(e.signal == "ambiguity" for e in usage.evidence)


def test_session_named_json_without_ttl_is_ambiguous_with_document() -> None:
    usage = classify_pattern(facts("session:{id}", shapes={"json_object": 1000}), QUIET)
    assert usage.kind in (K.SESSION, K.JSON_DOCUMENT)
    assert any("also consistent with" in e.detail for e in usage.evidence)


def test_plain_text_without_ttl_or_name_is_unknown() -> None:
    usage = classify_pattern(facts("config:{*}", shapes={"text": 3}, n=3), QUIET)
    assert usage.kind is K.UNKNOWN
    assert "UTF-8 text in 100% of samples" in _details(usage)


def test_map_like_hash_with_unstable_fields_is_not_a_confident_object() -> None:
    fields = {f"product{i}": 10 for i in range(50)}
    usage = classify_pattern(
        facts("cart:{id}", "hash", n=1000, shapes={"integer": 400, "text": 600}, fields=fields), QUIET
    )
    assert usage.confidence < 0.5
    assert "no hash field is common" in _details(usage)


def test_zset_named_like_a_delayed_queue_gets_low_confidence() -> None:
    usage = classify_pattern(facts("jobs:delayed", "zset", n=1), QUIET)
    assert usage.kind is K.LEADERBOARD
    assert usage.confidence <= 0.5
    assert "delayed" in _details(usage)


def test_binary_values_and_keys_are_noted() -> None:
    f = facts("blob:{id}", ttl_ratio=1, ttl_p50=60, shapes={"binary": 10, "text": 10}, n=20)
    f.binary_keys = 3
    text = _details(classify_pattern(f, QUIET))
    assert "50% of sampled values are binary" in text
    assert "3 sampled key names are not valid UTF-8" in text


def test_empty_sample_and_module_type() -> None:
    assert classify_pattern(facts("x", n=0), QUIET).kind is K.UNKNOWN
    assert classify_pattern(facts("x", "ReJSON-RL", n=5), QUIET).kind is K.UNKNOWN


def test_name_matching_is_word_based() -> None:
    assert "count" not in name_words("account:{id}")  # no false "counter" from "account"
    assert {"rate", "limit"} <= name_words("rateLimit:{id}")
    assert "ratelimit" in name_words("ratelimit:{id}")
    assert classify_pattern(facts("account:{id}", shapes={"text": 10}, n=10), QUIET).kind is K.UNKNOWN


def test_classify_channel() -> None:
    usage = classify_channel("orders:created", 3)
    assert usage.kind is K.PUBSUB and usage.confidence >= 0.9
    assert "3 subscriber(s)" in _details(usage)
    assert classify_channel("idle", 0).confidence < usage.confidence
    keyspace = classify_channel("__keyspace@0__:foo", 1)
    assert "keyspace notification" in _details(keyspace)


# --------------------------------------------------------------------------- sampler helpers (pure)

SHAPES: list[tuple[bytes, bool, str]] = [
    (b"", False, "empty"),
    (b"42", False, "integer"),
    (b"-7", False, "integer"),
    (b"007", False, "text"),  # leading zeros would be lost in a bigint
    (b"99999999999999999999", False, "text"),  # beyond int64
    (b"3.14", False, "float"),
    (b"1e5", False, "float"),
    (b'{"a": 1}', False, "json_object"),
    (b"[1, 2]", False, "json_array"),
    (b'"x"', False, "json_scalar"),
    (b"true", False, "json_scalar"),
    (b"{not json", False, "text"),
    (b'{"a": NaN}', False, "text"),  # jsonb rejects NaN
    ("héllo".encode(), False, "text"),
    (b"a\x00b", False, "binary"),  # text cannot hold NUL
    (b"\xff\xfe", False, "binary"),
    (b'{"a": "' + b"x" * 100, True, "json_object"),  # truncated prefix of a big JSON value
    ("x" * 10 + "é", True, "text"),
]


@pytest.mark.parametrize(("data", "truncated", "expected"), SHAPES)
def test_value_shape(data: Any, truncated: bool, expected: str) -> None:
    raw = data if isinstance(data, bytes) else data.encode()[:-1]  # cut inside the last character
    assert value_shape(raw, truncated=truncated) == expected


def test_ttl_and_size_stats() -> None:
    stats = ttl_stats([None, 10.0, 1800.0, 7200.0, 86400.0 * 2, None])
    assert (stats.with_ttl, stats.without_ttl) == (4, 2)
    assert stats.buckets == {"none": 2, "<1h": 2, "1-4h": 1, "1-7d": 1}
    assert stats.p50_seconds == 1800.0
    sizes = size_stats([5, 1, 3, 100])
    assert (sizes.count, sizes.total, sizes.p50, sizes.max) == (4, 109, 3.0, 100)
    assert size_stats([]).count == 0


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 90, 1800, 5400, 86400, 86400 * 10)] == [
        "5s",
        "1.5m",
        "30m",
        "1.5h",
        "1d",
        "10d",
    ]


# --------------------------------------------------------------------------- more usage signals


def test_lock_tokens_strengthen_lock() -> None:
    base = facts("lock:order:{id}", n=20, ttl_ratio=1, ttl_p50=30, shapes={"text": 20}, strlen_p95=32)
    with_tokens = base.model_copy(update={"token_values": 20})
    plain, tokened = classify_pattern(base, QUIET), classify_pattern(with_tokens, QUIET)
    assert plain.kind is tokened.kind is K.LOCK
    assert tokened.confidence >= plain.confidence
    assert any("random tokens" in e.detail for e in tokened.evidence)
    assert not any("random tokens" in e.detail for e in plain.evidence)


def test_set_tags_hint() -> None:
    tags = facts("post:{id}:tags", "set", n=10).model_copy(update={"members_sampled": 40, "members_tag_like": 39})
    ids = facts("post:{id}:likes", "set", n=10).model_copy(update={"members_sampled": 40, "members_tag_like": 3})
    assert classify_pattern(tags, QUIET).hints == {"set": "tags"}
    assert classify_pattern(ids, QUIET).hints == {}


@pytest.mark.parametrize(
    ("low", "high", "hint"),
    [
        (1.7e9, 1.71e9, "timestamp_s"),
        (1.7e12, 1.71e12, "timestamp_ms"),
        (0, 1.7e9, None),  # a ranking that happens to reach timestamp-sized scores
        (1.0, 99.0, None),
        (None, None, None),
    ],
)
def test_zset_timestamp_scores(low: float | None, high: float | None, hint: str | None) -> None:
    f = facts("events:by_time", "zset", n=2).model_copy(update={"score_min": low, "score_max": high})
    usage = classify_pattern(f, QUIET)
    assert usage.kind is K.LEADERBOARD
    assert usage.hints.get("score") == hint


def test_blocked_clients_and_stream_groups_are_evidence() -> None:
    srv = server(lpush=10, brpop=10).model_copy(update={"blocked_commands": {"brpop": 3, "xreadgroup": 2}})
    queue = classify_pattern(facts("jobs:pending", "list", n=1), srv)
    assert any(e.signal == "blocked_clients" and "3 clients blocked in brpop" in e.detail for e in queue.evidence)
    group = StreamGroup(key="orders", name="billing", consumers=2, pending=5, last_delivered_id="1-0", lag=7)
    stream = classify_pattern(facts("orders", "stream", n=1).model_copy(update={"stream_groups": [group]}), srv)
    assert stream.hints == {"consumer_groups": "yes"}
    details = " ".join(e.detail for e in stream.evidence)
    assert "group 'billing', 2 consumer(s), 5 pending, last-delivered-id 1-0, lag 7" in details
    assert "2 clients blocked in xreadgroup" in details


def test_channel_numpat_note() -> None:
    assert not any("NUMPAT" in e.detail for e in classify_channel("orders", 1).evidence)
    assert any("2 pattern subscription" in e.detail for e in classify_channel("orders", 1, numpat=2).evidence)


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (b"3f9a1c0e5b7d4e2fa1b2c3d4e5f60718", True),  # uuid4().hex
        (b"0d8d4b4e-3c1f-4b1e-9a2b-1234567890ab", True),
        (b"Xk3v9Qm2LrT8pWz1Yb6Nc0Ud", True),  # token_urlsafe
        (b"1", False),
        (b"abcdefghijklmnopqrstuvwxyz", False),  # no digit
        (b"12345678901234567890", False),  # no letter
        (b"hello world 1234567890", False),
    ],
)
def test_is_token(value: bytes, token: bool) -> None:
    assert is_token(value) is token


@pytest.mark.parametrize(
    ("member", "tag"),
    [(b"redis", True), (b"new-york", True), (b"C++", True), (b"42", False), (b"x" * 40, False), (b"\xff", False)],
)
def test_is_tag(member: bytes, tag: bool) -> None:
    assert is_tag(member) is tag


def test_client_list_facts() -> None:
    entries = [
        {"id": "1", "flags": "b", "cmd": "brpop", "lib-name": "redis-py"},
        {"id": "2", "flags": "b", "cmd": "brpop"},
        {"id": "3", "flags": "b", "cmd": "xreadgroup", "lib-name": ""},
        {"id": "4", "flags": "N", "cmd": "client|list", "lib-name": "redis-py"},
        {"id": "5", "flags": "N", "cmd": "get"},  # Redis < 7.2: no lib-name field at all
    ]
    libraries, blocked = client_list_facts(entries)
    assert libraries == {"redis-py": 2}
    assert blocked == {"brpop": 2, "xreadgroup": 1}
