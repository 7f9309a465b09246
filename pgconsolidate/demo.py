"""A realistic demo keyspace: what a typical web application leaves in Redis.

Used by ``scripts/demo.sh`` and by the integration tests, so the demo and the tests exercise the
same shapes: sessions as hashes and as JSON strings with TTLs, page/fragment caches, binary cache
entries, counters, user objects, JSON documents, awkward key names (quotes, spaces, unicode,
non-UTF-8 bytes), plus the usages mapped in a later release (queue, set, leaderboard, stream,
rate limits, locks) so the plan shows its ``review`` verdicts.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

SESSION_TTL = (1800, 7200)
PAGE_TTL = (300, 3600)


@dataclass
class SeedSummary:
    """How many keys of each family were written (tests assert against these numbers)."""

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All keys written."""
        return sum(self.counts.values())


def seed_demo_keyspace(client: Any, *, scale: int = 1, seed: int = 42) -> SeedSummary:
    """Write the demo keyspace into ``client``'s database (it is not flushed first)."""
    rng = random.Random(seed)
    summary = SeedSummary()
    pipe = client.pipeline(transaction=False)

    def add(family: str, n: int = 1) -> None:
        summary.counts[family] = summary.counts.get(family, 0) + n

    for _ in range(400 * scale):  # sessions as hashes (Spring/Rails-like)
        key = f"session:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        pipe.hset(
            key,
            mapping={
                "user_id": str(rng.randint(1, 10_000)),
                "created_at": str(1_764_000_000 + rng.randint(0, 86_400)),
                "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "csrf": f"{rng.getrandbits(128):032x}",
            },
        )
        pipe.expire(key, rng.randint(*SESSION_TTL))
        add("session_hash")
    for _ in range(300 * scale):  # connect-redis style JSON sessions
        key = f"sess:{rng.getrandbits(128):032x}"
        doc = {"cookie": {"maxAge": 86400000, "httpOnly": True}, "userId": rng.randint(1, 10_000), "cart": []}
        pipe.set(key, json.dumps(doc), ex=86_400 + rng.randint(0, 3600))
        add("session_json")
    pages = ["home", "about", "pricing", "blog", "docs", "search", "careers", "contact", "faq", "status"]
    for i in range(500 * scale):  # rendered page fragments
        key = f"cache:page:/{rng.choice(pages)}/{i}"
        pipe.set(key, f"<div class='frag'>{'lorem ipsum ' * rng.randint(1, 20)}</div>", ex=rng.randint(*PAGE_TTL))
        add("cache_page")
    for i in range(150 * scale):  # binary thumbnails (not UTF-8)
        pipe.set(f"cache:thumb:{i}", b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(16, 256)), ex=3600)
        add("cache_thumb")
    for i in range(400 * scale):  # page-view counters (INCRBY traffic)
        pipe.incrby(f"views:article:{i}", rng.randint(1, 5000))
        add("counter")
    for i in range(500 * scale):  # user objects, no TTL
        pipe.hset(
            f"user:{i}",
            mapping={
                "name": rng.choice(["Ada", "Grace", "Linus", "Zoë", "José", "Ørjan"]),
                "email": f"user{i}@example.com",
                "plan": rng.choice(["free", "pro", "team"]),
                "created_at": "2025-11-0" + str(rng.randint(1, 9)),
            },
        )
        add("user_hash")
    for i in range(300 * scale):  # JSON product documents, no TTL
        doc = {"id": i, "title": f"Product {i}", "price": round(rng.uniform(1, 500), 2), "tags": ["a", "b"]}
        pipe.set(f"product:{i}", json.dumps(doc))
        add("product_json")
    # awkward names that must survive quoting, escaping and display
    awkward: dict[bytes, bytes] = {
        b'cache:page:/search?q="quoted" name': b"<p>quotes</p>",
        b"cache:page:/caf\xc3\xa9/\xc3\xbcnicode \xf0\x9f\x98\x80": "<p>unicode ✓</p>".encode(),
        b"cache:page:/with space/and'apostrophe": b"<p>space</p>",
    }
    for raw_key, raw_value in awkward.items():
        pipe.set(raw_key, raw_value, ex=3600)
        add("cache_page")
    for i in range(20):  # a queue, sets, a leaderboard, a stream, rate limits and locks
        pipe.rpush("queue:emails", json.dumps({"to": f"u{i}@example.com", "template": "welcome"}))
        pipe.sadd(f"tags:article:{i}", "postgres", "redis", f"t{i % 3}")
        pipe.zadd("leaderboard:global", {f"player:{i}": rng.randint(0, 10_000)})
        pipe.xadd("events:orders", {"order_id": str(i), "total": str(rng.randint(1, 100))})
        pipe.set(f"rate:10.0.0.{i}:{29_400_000 + i}", rng.randint(1, 50), ex=60)
        pipe.set(f"lock:job:{i}", "owner-1", px=30_000, nx=True)
    add("queue")
    add("tags", 20)
    add("leaderboard")
    add("stream")
    add("rate", 20)
    add("lock", 20)
    pipe.execute()
    return summary


DEMO_INDEX = "demo-articles"
"""The demo's Elasticsearch index (recreated by :func:`seed_demo_index`)."""


def seed_demo_index(es: Any, *, docs: int = 2000, index: str = DEMO_INDEX) -> int:
    """(Re)create the demo's Elasticsearch index with ``docs`` corpus documents; returns how many.

    The corpus is built from the standard library's docstrings (real English text) with nested
    comments, a dense_vector, a multi-field and awkward field names: the shapes the planner maps.
    """
    from pgconsolidate.es.corpus import index_corpus

    es.options(ignore_status=404).indices.delete(index=index)
    return index_corpus(es, index, docs)
