"""Fingerprints of the key layouts that widely used libraries write into Redis (pure, no I/O).

A generic classifier sees ``rq:queue:default`` as "a list, probably a queue"; the fingerprint
knows it is RQ's queue, that RQ RPUSHes jobs and workers BLPOP/BLMOVE them from the *left*, and
that ``rq:queue:default:intermediate`` is the in-flight list a crashed worker leaves behind. That
knowledge goes into the :class:`~pgconsolidate.models.Usage` as ``library`` (shown in the
evidence) and as ``hints`` the planner reads:

``pop_end``   ``left`` | ``right``: which end consumers pop from (order of a queue copy)
``role``      ``queue`` | ``processing`` (in-flight, must be reported, not merged) | ``registry``
              (jobs scored by time) | ``index`` | ``routing`` | ``expiry_marker`` | ``metadata`` |
              ``events`` | ``log`` | ``lock``
``window``    rate limits: ``fixed`` | ``moving`` | ``sliding``

Every rule was written from the library's source (versions in docs/analyzer.md) and the
Celery, RQ, Django and limits rules are checked against the real libraries by
``tests/integration/test_library_fingerprints.py``. Matching is on the *example key names* of a
pattern (all must match), the Redis type, and a :class:`KeyspaceContext` for layouts whose names
are too generic on their own (a ``queue:emails`` list is only Sidekiq's when Sidekiq's other keys
are there too; a kombu queue is any list whose name has a ``_kombu.binding.<name>`` set).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pgconsolidate.models import UsageKind

KOMBU_PRIORITY_SEP = "\x06\x16"
"""kombu's separator for priority sub-queues (``celery\\x06\\x163``) and binding members."""

_SIDEKIQ_MARKERS: frozenset[tuple[str, str]] = frozenset(
    {
        ("queues", "set"),
        ("processes", "set"),
        ("schedule", "zset"),
        ("retry", "zset"),
        ("dead", "zset"),
        ("stat:processed", "string"),
        ("stat:failed", "string"),
    }
)


@dataclass(frozen=True)
class KeyspaceContext:
    """Facts about the whole sample that one pattern's keys cannot show on their own."""

    kombu_queues: frozenset[str] = frozenset()
    """Names ``<x>`` of the ``_kombu.binding.<x>`` sets (Celery names exchange and queue alike)."""
    sidekiq_markers: frozenset[str] = frozenset()
    """Sidekiq's fixed-name keys seen with their expected type (``queues``, ``schedule``, ...)."""

    @property
    def sidekiq(self) -> bool:
        """Sidekiq is present: its ``queues`` set, or at least two of its other fixed keys."""
        return "queues" in self.sidekiq_markers or len(self.sidekiq_markers) >= 2

    @classmethod
    def from_keys(cls, keys: Iterable[tuple[str, str]]) -> KeyspaceContext:
        """Build the context from ``(key name, redis type)`` pairs of every sampled key."""
        kombu: set[str] = set()
        sidekiq: set[str] = set()
        for key, redis_type in keys:
            if key.startswith("_kombu.binding.") and redis_type == "set":
                kombu.add(key[len("_kombu.binding.") :])
            if (key, redis_type) in _SIDEKIQ_MARKERS:
                sidekiq.add(key)
        return cls(kombu_queues=frozenset(kombu), sidekiq_markers=frozenset(sidekiq))


@dataclass(frozen=True)
class Fingerprint:
    """A recognised library layout for one pattern."""

    library: str
    what: str
    """What the keys are, for the evidence line."""
    kind: UsageKind | None
    """The usage when the layout decides it; None keeps the classifier's own verdict."""
    confidence: float
    hints: Mapping[str, str] = field(default_factory=dict)


Predicate = Callable[[str, KeyspaceContext], bool]


@dataclass(frozen=True)
class _Rule:
    """One layout: a key regex (fullmatch), the Redis types it applies to, what it means."""

    library: str
    regex: re.Pattern[str]
    types: frozenset[str]
    what: str
    kind: UsageKind | None
    confidence: float = 0.9
    hints: Mapping[str, str] = field(default_factory=dict)
    when: Predicate | None = None


def _rule(
    library: str,
    regex: str,
    types: str,
    what: str,
    kind: UsageKind | None,
    *,
    confidence: float = 0.9,
    when: Predicate | None = None,
    **hints: str,
) -> _Rule:
    """Shorthand: ``types`` is space separated."""
    return _Rule(library, re.compile(regex, re.S), frozenset(types.split()), what, kind, confidence, hints, when)


def _kombu_queue(key: str, ctx: KeyspaceContext) -> bool:
    """A list is a kombu queue when a binding set names it (priority sub-queues included)."""
    return key.split(KOMBU_PRIORITY_SEP, 1)[0] in ctx.kombu_queues


def _sidekiq(key: str, ctx: KeyspaceContext) -> bool:
    """Sidekiq's generic names only count when Sidekiq's other keys are present."""
    del key
    return ctx.sidekiq


K = UsageKind
RQ, CELERY, SIDEKIQ, BULL = "RQ", "Celery (kombu)", "Sidekiq", "BullMQ"
DJANGO = "Django cache (django.core.cache.backends.redis / django-redis)"
LIMITS = "limits"
_Q = "[^:]+"  # one name segment

# Order matters: the first rule whose regex matches every example key (and whose type and
# context predicate fit) wins, so specific layouts come before their family's catch-all.
RULES: tuple[_Rule, ...] = (
    # ---- RQ (python-rq; prefix "rq", RQ_KEY_PREFIX may change it)
    _rule(RQ, rf"rq:queue:{_Q}:intermediate", "list",
          "RQ intermediate queue: jobs a worker BLMOVEd out of the queue and is running (in flight)",
          K.QUEUE, role="processing", pop_end="left"),
    _rule(RQ, r"rq:queue:.+", "list", "RQ queue: enqueue RPUSHes job ids, workers BLPOP/BLMOVE them from the left",
          K.QUEUE, confidence=0.95, role="queue", pop_end="left"),
    _rule(RQ, r"rq:queues", "set", "RQ's set of queue keys", K.SET, role="index"),
    _rule(RQ, rf"rq:job:{_Q}", "hash", "RQ job record (status, origin, data, timestamps)", K.OBJECT_HASH,
          confidence=0.95),
    _rule(RQ, rf"rq:job:{_Q}:(?:dependents|dependencies)", "set", "RQ job dependency set", K.SET, role="index"),
    _rule(RQ, rf"rq:(?:wip|finished|failed|scheduled|deferred|canceled|registry|ready):{_Q}", "zset",
          "RQ job registry: job ids scored by a timestamp (expiry or scheduled time)", None, role="registry"),
    _rule(RQ, r"rq:workers(?::.+)?", "set", "RQ worker registry", K.SET, role="index"),
    _rule(RQ, rf"rq:worker:{_Q}", "hash", "RQ worker state (heartbeat, current job)", K.OBJECT_HASH,
          role="metadata"),
    _rule(RQ, r"rq:results:.+", "stream", "RQ job results (one XADD per result)", K.STREAM, role="events"),
    _rule(RQ, r"rq:(?:scheduler-lock|clean_registries|scheduler_instance)(?::.+)?", "string",
          "RQ maintenance lock (SET NX EX)", K.LOCK, role="lock"),
    _rule(RQ, r"rq:.+", "string hash list set zset stream", "a key under RQ's rq: prefix", None, confidence=0.7),
    # ---- Celery: kombu's Redis transport (LPUSH + BRPOP) and the Redis result backend
    _rule(CELERY, r"_kombu\.binding\..+", "set",
          "kombu exchange binding set (routing key / pattern / queue triples)", K.SET, role="routing"),
    _rule(CELERY, r"_kombu\..+", "string hash list set zset", "kombu transport bookkeeping", None,
          confidence=0.7, role="metadata"),
    _rule(CELERY, r"celery-task-meta-.+", "string",
          "Celery result backend: a task result, kept for result_expires (default 1 day)", K.CACHE,
          role="task_result"),
    _rule(CELERY, r"celery-taskset-meta-.+|chord-unlock-.+", "string",
          "Celery result backend: group/chord state", K.CACHE, role="task_result"),
    _rule(CELERY, r"unacked", "hash",
          "kombu unacked messages (delivery tag -> message) of running tasks: in flight", K.QUEUE,
          role="processing"),
    _rule(CELERY, r"unacked_index", "zset", "kombu index of unacked delivery tags scored by delivery time",
          K.QUEUE, role="processing"),
    _rule(CELERY, r"unacked_mutex", "string", "kombu restore mutex (SET NX EX)", K.LOCK, role="lock"),
    _rule(CELERY, r"celery", "list", "Celery's default queue: kombu LPUSHes messages, workers BRPOP the right end",
          K.QUEUE, confidence=0.95, role="queue", pop_end="right"),
    _rule(CELERY, r".+", "list", "a Celery queue (named by a _kombu.binding set): LPUSH + BRPOP",
          K.QUEUE, confidence=0.95, when=_kombu_queue, role="queue", pop_end="right"),
    # ---- Sidekiq (LPUSH + BRPOP; generic names, so only with Sidekiq's other keys present)
    _rule(SIDEKIQ, r"queue:.+", "list", "Sidekiq queue: clients LPUSH jobs, servers BRPOP the right end",
          K.QUEUE, confidence=0.9, when=_sidekiq, role="queue", pop_end="right"),
    _rule(SIDEKIQ, r"queues|processes", "set", "Sidekiq's set of queue names / running processes", K.SET,
          when=_sidekiq, role="index"),
    _rule(SIDEKIQ, r"schedule|retry|dead", "zset", "Sidekiq scheduled/retry/dead set: jobs scored by time",
          None, when=_sidekiq, role="registry"),
    _rule(SIDEKIQ, r"stat:(?:processed|failed)(?::.+)?", "string", "Sidekiq processed/failed counter", K.COUNTER,
          when=_sidekiq),
    # ---- BullMQ / Bull (prefix "bull")
    _rule(BULL, rf"bull:{_Q}:(?:wait|paused)", "list",
          "BullMQ waiting list: jobs are LPUSHed, workers (B)LMOVE/BRPOPLPUSH them from the right into 'active'",
          K.QUEUE, confidence=0.95, role="queue", pop_end="right"),
    _rule(BULL, rf"bull:{_Q}:active", "list", "BullMQ active list: jobs being processed (in flight)", K.QUEUE,
          role="processing", pop_end="right"),
    _rule(BULL, rf"bull:{_Q}:(?:delayed|completed|failed|prioritized|waiting-children|repeat|marker|priority)",
          "zset", "BullMQ job set scored by time/priority", None, role="registry"),
    _rule(BULL, rf"bull:{_Q}:events", "stream", "BullMQ event stream (XADD, trimmed)", K.STREAM, role="events"),
    _rule(BULL, rf"bull:{_Q}:meta", "hash", "BullMQ queue metadata (paused, concurrency, ...)", K.OBJECT_HASH,
          role="metadata"),
    _rule(BULL, rf"bull:{_Q}:(?:id|pc)", "string", "BullMQ job id / priority counter (INCR)", K.COUNTER),
    _rule(BULL, rf"bull:{_Q}:(?:stalled-check|{_Q}:lock)", "string", "BullMQ lock (SET NX PX)", K.LOCK,
          role="lock"),
    _rule(BULL, rf"bull:{_Q}:stalled", "set", "BullMQ stalled-job candidates", K.SET, role="processing"),
    _rule(BULL, rf"bull:{_Q}:{_Q}:logs", "list", "BullMQ job log lines (RPUSH)", K.QUEUE, confidence=0.6,
          role="log"),
    _rule(BULL, rf"bull:{_Q}:{_Q}", "hash", "BullMQ job record (name, data, opts, progress, timestamps)",
          K.OBJECT_HASH),
    # ---- sessions
    _rule("Spring Session", r"spring:session:(?:.+:)?sessions:expires:.+", "string",
          "Spring Session expiry marker (empty value whose TTL fires the expiration event)", K.SESSION,
          role="expiry_marker"),
    _rule("Spring Session", r"spring:session:(?:.+:)?sessions:.+", "hash",
          "Spring Session (creationTime, lastAccessedTime, maxInactiveInterval, sessionAttr:*)", K.SESSION,
          confidence=0.95),
    _rule("Spring Session", r"spring:session:(?:.+:)?(?:expirations|index):.+", "set zset",
          "Spring Session expiry / principal index", K.SET, role="index"),
    _rule("connect-redis", r"sess:[A-Za-z0-9_-]{16,}", "string",
          "connect-redis (express-session) session: JSON with the cookie maxAge as TTL", K.SESSION),
    _rule("Flask-Session", r"session:[A-Za-z0-9_-]{16,}", "string",
          "Flask-Session session (default key_prefix 'session:'), serialized with the permanent lifetime as TTL",
          K.SESSION, confidence=0.85),
    # ---- Django's cache: KEY_PREFIX (default empty) ":" VERSION ":" key
    _rule(DJANGO, r":[0-9]+:.+", "string",
          "Django cache key (empty KEY_PREFIX, version prefix ':1:'); values pickled, plain integers for incr",
          K.CACHE),
    # ---- limits (flask-limiter, slowapi, ...): "<prefix>:LIMITER/<key>/<amount>/<multiples>/<granularity>"
    _rule(LIMITS, r"[^:]*:LIMITER/.+", "string", "limits fixed-window counter (INCRBY + EXPIRE)", K.RATE_LIMIT,
          confidence=0.95, window="fixed"),
    _rule(LIMITS, r"[^:]*:LIMITER/.+", "list", "limits moving-window log (a list of hit timestamps)",
          K.RATE_LIMIT, confidence=0.95, window="moving"),
    _rule(LIMITS, r"[^:]*:\{LIMITER/.+\}(?:/-1)?", "string",
          "limits sliding-window counter (current and previous '/-1' window)", K.RATE_LIMIT, confidence=0.95,
          window="sliding"),
)  # fmt: skip


def fingerprint(keys: Sequence[str], redis_type: str, context: KeyspaceContext | None = None) -> Fingerprint | None:
    """The library layout every key of ``keys`` (a pattern's examples) belongs to, or None.

    ``keys`` are real key names (not patterns): placeholders would hide the very literals the
    layouts are recognised by. An empty ``keys`` never matches.
    """
    if not keys:
        return None
    ctx = context or KeyspaceContext()
    for rule in RULES:
        if redis_type not in rule.types:
            continue
        if not all(rule.regex.fullmatch(k) for k in keys):
            continue
        if rule.when is not None and not all(rule.when(k, ctx) for k in keys):
            continue
        return Fingerprint(rule.library, rule.what, rule.kind, rule.confidence, dict(rule.hints))
    return None


# --------------------------------------------------------------------------- lists without a library

LEFT_POPS = ("lpop", "blpop")
RIGHT_POPS = ("rpop", "brpop", "rpoplpush", "brpoplpush")
BLOCKING_POPS = {"blpop": "left", "brpop": "right", "brpoplpush": "right"}
"""Blocked-client commands (CLIENT LIST ``cmd``) whose end is known; BLMOVE's is not in CLIENT LIST."""


def infer_pop_end(calls: Mapping[str, int], blocked: Mapping[str, int] | None = None) -> tuple[str, str, str]:
    """Which end consumers pop from, judged from server-wide counters: ``(end, basis, why)``.

    ``calls`` is commandstats calls per lower-case command, ``blocked`` blocked clients per command.
    ``basis`` is ``pops`` (pops seen), ``blocked`` (clients waiting), ``pushes`` (only pushes seen:
    a FIFO is assumed, LPUSH -> popped right) or ``default`` (nothing seen: right, the convention of
    Celery, Sidekiq and BullMQ). These are server-wide numbers, not per key: weak evidence.
    """
    left = sum(calls.get(c, 0) for c in LEFT_POPS)
    right = sum(calls.get(c, 0) for c in RIGHT_POPS)
    if left != right:
        end = "left" if left > right else "right"
        return end, "pops", f"commandstats: {left:,} left pops (LPOP/BLPOP) vs {right:,} right pops (RPOP/BRPOP/...)"
    blocked = blocked or {}
    b_left = sum(n for cmd, n in blocked.items() if BLOCKING_POPS.get(cmd) == "left")
    b_right = sum(n for cmd, n in blocked.items() if BLOCKING_POPS.get(cmd) == "right")
    if b_left != b_right:
        end = "left" if b_left > b_right else "right"
        return end, "blocked", f"CLIENT LIST: {b_left} client(s) blocked in BLPOP vs {b_right} in BRPOP/BRPOPLPUSH"
    lpush, rpush = calls.get("lpush", 0), calls.get("rpush", 0)
    if lpush != rpush:
        end = "right" if lpush > rpush else "left"
        return (
            end,
            "pushes",
            (
                f"commandstats: no pops recorded; {lpush:,} LPUSH vs {rpush:,} RPUSH, "
                f"assuming a FIFO popped from the {end}"
            ),
        )
    return "right", "default", "no push/pop counts tell the end; assumed right (LPUSH + BRPOP, the common convention)"
