"""Library key-layout fingerprints and list pop-end inference (pure, no services)."""

from __future__ import annotations

from typing import Any

import pytest

from pgconsolidate.analyze.keypatterns import infer_pattern, pattern_glob, pattern_regex
from pgconsolidate.analyze.libraries import KOMBU_PRIORITY_SEP, KeyspaceContext, fingerprint, infer_pop_end
from pgconsolidate.analyze.redis import classify_pattern
from pgconsolidate.models import CommandStat, KeyPattern, RedisServerInfo, SizeStats, TTLStats, UsageKind

K = UsageKind
UUID = "0d8d4b4e-3c1f-4b1e-9a2b-1234567890ab"
SIDEKIQ_CTX = KeyspaceContext.from_keys([("queues", "set"), ("schedule", "zset"), ("stat:processed", "string")])
KOMBU_CTX = KeyspaceContext.from_keys([("_kombu.binding.celery", "set"), ("_kombu.binding.emails", "set")])

# (keys, type, context, library, kind or None, hints that must be present)
LAYOUTS: list[tuple[list[str], str, KeyspaceContext | None, str, UsageKind | None, dict[str, str]]] = [
    # RQ
    (["rq:queue:default"], "list", None, "RQ", K.QUEUE, {"pop_end": "left", "role": "queue"}),
    (["rq:queue:default:intermediate"], "list", None, "RQ", K.QUEUE, {"role": "processing"}),
    ([f"rq:job:{UUID}"], "hash", None, "RQ", K.OBJECT_HASH, {}),
    ([f"rq:job:{UUID}:dependents"], "set", None, "RQ", K.SET, {"role": "index"}),
    (["rq:queues"], "set", None, "RQ", K.SET, {"role": "index"}),
    (["rq:wip:default", "rq:failed:default", "rq:deferred:x"], "zset", None, "RQ", None, {"role": "registry"}),
    (["rq:finished:default", "rq:scheduled:default"], "zset", None, "RQ", None, {"role": "registry"}),
    (["rq:workers", "rq:workers:default"], "set", None, "RQ", K.SET, {"role": "index"}),
    (["rq:results:abc"], "stream", None, "RQ", K.STREAM, {}),
    (["rq:clean_registries:default"], "string", None, "RQ", K.LOCK, {"role": "lock"}),
    # Celery / kombu
    (["celery"], "list", None, "Celery (kombu)", K.QUEUE, {"pop_end": "right"}),
    (["emails"], "list", KOMBU_CTX, "Celery (kombu)", K.QUEUE, {"pop_end": "right"}),
    ([f"celery{KOMBU_PRIORITY_SEP}3"], "list", KOMBU_CTX, "Celery (kombu)", K.QUEUE, {"pop_end": "right"}),
    (["_kombu.binding.celery"], "set", None, "Celery (kombu)", K.SET, {"role": "routing"}),
    ([f"celery-task-meta-{UUID}"], "string", None, "Celery (kombu)", K.CACHE, {"role": "task_result"}),
    (["unacked"], "hash", None, "Celery (kombu)", K.QUEUE, {"role": "processing"}),
    (["unacked_index"], "zset", None, "Celery (kombu)", K.QUEUE, {"role": "processing"}),
    (["unacked_mutex"], "string", None, "Celery (kombu)", K.LOCK, {}),
    # Sidekiq (needs its other keys)
    (["queue:default", "queue:mailers"], "list", SIDEKIQ_CTX, "Sidekiq", K.QUEUE, {"pop_end": "right"}),
    (["schedule"], "zset", SIDEKIQ_CTX, "Sidekiq", None, {"role": "registry"}),
    (["stat:processed", "stat:failed:2024-01-15"], "string", SIDEKIQ_CTX, "Sidekiq", K.COUNTER, {}),
    # BullMQ
    (["bull:emails:wait"], "list", None, "BullMQ", K.QUEUE, {"pop_end": "right", "role": "queue"}),
    (["bull:emails:active"], "list", None, "BullMQ", K.QUEUE, {"role": "processing"}),
    (["bull:emails:delayed", "bull:emails:completed"], "zset", None, "BullMQ", None, {"role": "registry"}),
    (["bull:emails:events"], "stream", None, "BullMQ", K.STREAM, {"role": "events"}),
    (["bull:emails:meta"], "hash", None, "BullMQ", K.OBJECT_HASH, {"role": "metadata"}),
    (["bull:emails:id"], "string", None, "BullMQ", K.COUNTER, {}),
    (["bull:emails:12", "bull:emails:13"], "hash", None, "BullMQ", K.OBJECT_HASH, {}),
    # sessions
    (["sess:Xk3v9Qm2LrT8pWz1Yb6Nc0Ud4Ef7Gh5J"], "string", None, "connect-redis", K.SESSION, {}),
    ([f"spring:session:sessions:{UUID}"], "hash", None, "Spring Session", K.SESSION, {}),
    (
        [f"spring:session:sessions:expires:{UUID}"],
        "string",
        None,
        "Spring Session",
        K.SESSION,
        {"role": "expiry_marker"},
    ),
    (["session:1f9c2b7e4d3a8f6e5c4b3a2d1e0f9a8b"], "string", None, "Flask-Session", K.SESSION, {}),
    # Django cache
    ([":1:views.decorators.cache.cache_page", ":1:greeting"], "string", None, "Django cache", K.CACHE, {}),
    # limits
    (["LIMITS:LIMITER/api/42/10/1/minute"], "string", None, "limits", K.RATE_LIMIT, {"window": "fixed"}),
    (["LIMITS:LIMITER/api/42/10/1/minute"], "list", None, "limits", K.RATE_LIMIT, {"window": "moving"}),
    (
        ["LIMITS:{LIMITER/api/42/10/1/minute}", "LIMITS:{LIMITER/api/42/10/1/minute}/-1"],
        "string",
        None,
        "limits",
        K.RATE_LIMIT,
        {"window": "sliding"},
    ),
]


@pytest.mark.parametrize(("keys", "redis_type", "ctx", "library", "kind", "hints"), LAYOUTS)
def test_layouts(
    keys: list[str],
    redis_type: str,
    ctx: KeyspaceContext | None,
    library: str,
    kind: UsageKind | None,
    hints: dict[str, str],
) -> None:
    fp = fingerprint(keys, redis_type, ctx)
    assert fp is not None, keys
    assert fp.library.startswith(library)
    assert fp.kind is kind
    assert hints.items() <= dict(fp.hints).items()


@pytest.mark.parametrize(
    ("keys", "redis_type", "ctx"),
    [
        (["queue:emails"], "list", None),  # a generic queue: not Sidekiq without Sidekiq's keys
        (["emails"], "list", None),  # not Celery without a _kombu.binding.emails set
        (["emails"], "list", KeyspaceContext.from_keys([("_kombu.binding.emails", "string")])),  # wrong type
        (["rqx:queue:default"], "list", None),  # another prefix
        (["user:42:profile"], "string", None),  # looks like <prefix>:<version>:<key> but has a prefix
        (["sess:web:1234"], "string", None),  # connect-redis sids are one url-safe segment
        ([f"session:{UUID}"], "hash", None),  # Flask-Session stores strings
        (["rq:queue:default", "queue:other"], "list", None),  # every example must match
        ([], "list", None),
    ],
)
def test_no_false_positive(keys: list[str], redis_type: str, ctx: KeyspaceContext | None) -> None:
    assert fingerprint(keys, redis_type, ctx) is None


def test_wrong_type_gets_only_the_undecided_family_rule() -> None:
    fp = fingerprint(["rq:queue:default"], "hash")
    assert fp is not None
    assert (fp.library, fp.kind, dict(fp.hints)) == ("RQ", None, {})


def test_context_from_keys() -> None:
    ctx = KeyspaceContext.from_keys(
        [("_kombu.binding.celery", "set"), ("_kombu.binding_permanent.x", "set"), ("queues", "set")]
    )
    assert ctx.kombu_queues == {"celery"}
    assert ctx.sidekiq
    assert not KeyspaceContext.from_keys([("stat:processed", "string")]).sidekiq  # one marker is not enough
    assert KeyspaceContext.from_keys([("retry", "zset"), ("dead", "zset")]).sidekiq


@pytest.mark.parametrize(
    ("calls", "blocked", "end", "basis"),
    [
        ({"lpush": 100, "brpop": 90}, {}, "right", "pops"),
        ({"rpush": 100, "blpop": 90}, {}, "left", "pops"),
        ({"rpush": 100, "lpop": 10, "rpop": 50}, {}, "right", "pops"),
        ({"rpush": 100}, {"blpop": 3}, "left", "blocked"),
        ({"lpush": 100}, {"brpop": 2}, "right", "blocked"),
        ({"rpush": 100}, {}, "left", "pushes"),
        ({"lpush": 100}, {}, "right", "pushes"),
        ({}, {}, "right", "default"),
        ({"lpush": 5, "rpush": 5}, {"blmove": 2}, "right", "default"),  # BLMOVE's direction is not visible
    ],
)
def test_infer_pop_end(calls: dict[str, int], blocked: dict[str, int], end: str, basis: str) -> None:
    got_end, got_basis, why = infer_pop_end(calls, blocked)
    assert (got_end, got_basis) == (end, basis)
    assert why


# --------------------------------------------------------------------------- through the classifier


def _pattern(keys: list[str], redis_type: str, **extra: Any) -> KeyPattern:
    pattern = infer_pattern(keys[0])
    n = len(keys)
    return KeyPattern(
        pattern=pattern,
        regex=pattern_regex(pattern),
        match_glob=pattern_glob(pattern),
        redis_type=redis_type,
        sampled_keys=n,
        estimated_keys=n,
        example_keys=keys[:3],
        **extra,
    )


def _server(**calls: int) -> RedisServerInfo:
    return RedisServerInfo(
        redis_version="7.0.15", commandstats={c: CommandStat(calls=v, usec=v) for c, v in calls.items()}
    )


def test_classifier_names_library_and_overrides_kind() -> None:
    # a limits moving window is a list, which alone would read as a queue
    facts = _pattern(["LIMITS:LIMITER/login/42/10/1/minute"], "list", ttl=TTLStats(with_ttl=1, p50_seconds=60))
    usage = classify_pattern(facts, _server(lpush=10, brpop=10))
    assert usage.kind is K.RATE_LIMIT
    assert usage.library == "limits"
    assert usage.hints == {"window": "moving"}
    assert usage.evidence[0].signal == "library"
    assert any(e.signal == "generic" and "queue" in e.detail for e in usage.evidence)


def test_classifier_library_pop_end_beats_commandstats() -> None:
    # server-wide commandstats say "right", but RQ's layout says left
    usage = classify_pattern(_pattern(["rq:queue:default"], "list"), _server(lpush=1000, brpop=1000))
    assert usage.kind is K.QUEUE
    assert usage.hints["pop_end"] == "left"
    assert usage.hints["pop_end_basis"] == "library"
    assert usage.confidence >= 0.95


def test_classifier_generic_queue_pop_end() -> None:
    inferred = classify_pattern(_pattern(["work:pending"], "list"), _server(rpush=50, blpop=40))
    assert inferred.library is None
    assert (inferred.hints["pop_end"], inferred.hints["pop_end_basis"]) == ("left", "pops")
    assumed = classify_pattern(_pattern(["work:pending"], "list"), _server())
    assert (assumed.hints["pop_end"], assumed.hints["pop_end_basis"]) == ("right", "default")
    assert assumed.confidence < inferred.confidence  # only assumed: lower confidence, and it says so
    assert any(e.signal == "pop_end" and "assumed" in e.detail for e in assumed.evidence)


def test_classifier_rq_registry_keeps_zset_kind_with_timestamp_hint() -> None:
    facts = _pattern(["rq:scheduled:default"], "zset", score_min=1.7e9, score_max=1.7e9 + 300)
    usage = classify_pattern(facts, _server())
    assert usage.kind is K.LEADERBOARD
    assert usage.library == "RQ"
    assert usage.hints == {"score": "timestamp_s", "role": "registry"}
    assert usage.confidence >= 0.9  # the "scheduled" name no longer makes it ambiguous


def test_classifier_celery_result_is_cache() -> None:
    facts = _pattern(
        [f"celery-task-meta-{UUID}"],
        "string",
        ttl=TTLStats(with_ttl=1, p50_seconds=86400),
        value_shapes={"json_object": 1},
        elements=SizeStats(count=1, total=120, p50=120, p95=120, max=120),
    )
    usage = classify_pattern(facts, _server())
    assert (usage.kind, usage.library) == (K.CACHE, "Celery (kombu)")
