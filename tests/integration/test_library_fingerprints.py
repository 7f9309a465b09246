"""Integration: real libraries write into a real Redis, the analyzer must name them.

Each test uses the library itself (RQ, Celery's Redis broker and result backend, Django's
``RedisCache``, ``limits``) against the test's leased database, with no worker running, then runs
``commands.analyze`` and checks the usage kind, the library named in the evidence and the planner
hints (which end consumers pop from, in-flight lists, timestamp scores, rate-limit windows).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from pgconsolidate import commands
from pgconsolidate.models import PatternReport, RedisInventory, UsageKind


def add(a: int, b: int) -> int:
    """An importable job function for RQ (never run: there is no worker)."""
    return a + b


def _analyze(url: str) -> RedisInventory:
    inv = commands.analyze(url, sample=10_000)
    assert inv.redis is not None
    return inv.redis


def _find(inv: RedisInventory, key: str, redis_type: str) -> PatternReport:
    """The pattern that holds ``key`` (by its example keys) with the given type."""
    import re

    for p in inv.patterns:
        if p.facts.redis_type == redis_type and re.fullmatch(p.facts.regex, key):
            return p
    shown = [(p.facts.pattern, p.facts.redis_type) for p in inv.patterns]
    raise AssertionError(f"no {redis_type} pattern matches {key!r}: {shown}")


def _library_line(p: PatternReport) -> str:
    lines = [e.detail for e in p.usage.evidence if e.signal == "library"]
    assert lines, f"no library evidence for {p.facts.pattern}: {p.usage.evidence}"
    return lines[0]


def test_rq(redis_url: str, redis_client: redis.Redis) -> None:
    rq = pytest.importorskip("rq")
    queue = rq.Queue("default", connection=redis_client)
    jobs = [queue.enqueue(add, i, 1) for i in range(5)]
    queue.enqueue_in(timedelta(minutes=5), add, 1, 2)
    rq.Queue("emails", connection=redis_client).enqueue(add, 2, 2)

    inv = _analyze(redis_url)

    q = _find(inv, "rq:queue:default", "list")
    assert q.usage.kind is UsageKind.QUEUE
    assert q.usage.library == "RQ"
    assert q.usage.hints["pop_end"] == "left"  # RPUSH + BLPOP
    assert q.usage.hints["pop_end_basis"] == "library"
    assert "BLPOP" in _library_line(q)
    assert _find(inv, "rq:queue:emails", "list").usage.hints["pop_end"] == "left"

    job = _find(inv, f"rq:job:{jobs[0].id}", "hash")
    assert job.usage.kind is UsageKind.OBJECT_HASH
    assert job.usage.library == "RQ"
    assert "status" in job.facts.hash_fields

    queues = _find(inv, "rq:queues", "set")
    assert (queues.usage.kind, queues.usage.library, queues.usage.hints.get("role")) == (UsageKind.SET, "RQ", "index")

    scheduled = _find(inv, "rq:scheduled:default", "zset")
    assert scheduled.usage.library == "RQ"
    assert scheduled.usage.hints["role"] == "registry"
    assert scheduled.usage.hints["score"] == "timestamp_s"  # scored by the enqueue_at time
    assert scheduled.facts.score_min is not None and scheduled.facts.score_min > 1_600_000_000


def test_celery_redis_broker_and_result_backend(redis_url: str, redis_client: redis.Redis) -> None:
    celery = pytest.importorskip("celery")
    app = celery.Celery("pgc_fingerprint", broker=redis_url, backend=redis_url)
    try:
        for i in range(4):
            app.send_task("tasks.add", args=(i, 1))
        app.send_task("tasks.mail", args=("x",), queue="emails")
        for i in range(3):
            app.backend.store_result(f"task-{i:04d}-0d8d4b4e-3c1f-4b1e-9a2b-1234567890ab", i, "SUCCESS")
    finally:
        app.close()
    assert redis_client.llen("celery") == 4  # written by kombu, not by the test

    inv = _analyze(redis_url)

    default = _find(inv, "celery", "list")
    assert default.usage.kind is UsageKind.QUEUE
    assert default.usage.library == "Celery (kombu)"
    assert default.usage.hints["pop_end"] == "right"  # LPUSH + BRPOP

    # a queue with an application-chosen name is recognised through its _kombu.binding set
    emails = _find(inv, "emails", "list")
    assert (emails.usage.kind, emails.usage.library, emails.usage.hints["pop_end"]) == (
        UsageKind.QUEUE,
        "Celery (kombu)",
        "right",
    )

    binding = _find(inv, "_kombu.binding.celery", "set")
    assert binding.usage.library == "Celery (kombu)"
    assert binding.usage.hints["role"] == "routing"

    result = _find(inv, "celery-task-meta-task-0000-0d8d4b4e-3c1f-4b1e-9a2b-1234567890ab", "string")
    assert result.usage.kind is UsageKind.CACHE
    assert result.usage.library == "Celery (kombu)"
    assert result.facts.ttl.with_ttl == result.facts.sampled_keys  # result_expires
    assert "result backend" in _library_line(result)


def test_django_redis_cache(redis_url: str, redis_client: redis.Redis) -> None:
    pytest.importorskip("django")
    from django.conf import settings  # type: ignore[import-untyped]

    if not settings.configured:
        settings.configure()
    from django.core.cache.backends.redis import RedisCache  # type: ignore[import-untyped]

    cache = RedisCache(redis_url, {})
    for i in range(30):
        cache.set(f"page:{i}", {"html": f"<p>{i}</p>", "n": i}, timeout=600)
    cache.set("hits", 0, timeout=600)
    cache.incr("hits")
    cache.close()
    assert redis_client.exists(":1:page:0")  # Django's layout: KEY_PREFIX '' + version 1

    inv = _analyze(redis_url)

    pages = _find(inv, ":1:page:7", "string")
    assert pages.usage.kind is UsageKind.CACHE
    assert pages.usage.library is not None and pages.usage.library.startswith("Django cache")
    assert "version prefix" in _library_line(pages)
    assert pages.facts.value_shapes.get("binary", 0) == pages.facts.sampled_keys  # pickled
    assert pages.usage.confidence >= 0.85


def test_limits_rate_limit_keys(redis_url: str, redis_client: redis.Redis) -> None:
    limits = pytest.importorskip("limits")
    from limits import strategies
    from limits.storage import storage_from_string

    storage = storage_from_string(redis_url)
    item = limits.parse("100/minute")
    fixed = strategies.FixedWindowRateLimiter(storage)
    moving = strategies.MovingWindowRateLimiter(storage)
    sliding = strategies.SlidingWindowCounterRateLimiter(storage)
    for user in range(1000, 1020):
        for _ in range(3):
            assert fixed.hit(item, "api", str(user))
            assert moving.hit(item, "login", str(user))
            assert sliding.hit(item, "search", str(user))

    inv = _analyze(redis_url)

    counter = _find(inv, "LIMITS:LIMITER/api/1005/100/1/minute", "string")
    assert counter.usage.kind is UsageKind.RATE_LIMIT
    assert counter.usage.library == "limits"
    assert counter.usage.hints["window"] == "fixed"
    assert counter.facts.ttl.p50_seconds is not None and counter.facts.ttl.p50_seconds <= 60

    window_log = _find(inv, "LIMITS:LIMITER/login/1005/100/1/minute", "list")
    assert window_log.usage.kind is UsageKind.RATE_LIMIT  # a list, yet not a queue
    assert window_log.usage.hints["window"] == "moving"
    assert "pop_end" not in window_log.usage.hints

    slide = _find(inv, "LIMITS:{LIMITER/search/1005/100/1/minute}", "string")
    assert (slide.usage.kind, slide.usage.library, slide.usage.hints["window"]) == (
        UsageKind.RATE_LIMIT,
        "limits",
        "sliding",
    )
