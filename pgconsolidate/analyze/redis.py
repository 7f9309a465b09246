"""Classify what a Redis key pattern (or a pub/sub channel) is used for, with evidence (pure).

Container types decide most cases on their own (list -> queue, zset -> leaderboard, ...). Strings
and hashes are scored: each candidate usage collects points from independent signals - TTL
presence and typical length, value shape, key-name words, hash field stability and the
server-wide commandstats (weak: they are not per pattern) - and every point comes with an
evidence line a reviewer can check. The best score becomes the confidence; when the runner-up is
close, confidence drops and the evidence says which other usage also fits, so the planner can
send the item to review instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pgconsolidate.analyze.keypatterns import parse_pattern
from pgconsolidate.analyze.libraries import KeyspaceContext, fingerprint, infer_pop_end
from pgconsolidate.models import Evidence, KeyPattern, RedisServerInfo, Usage, UsageKind

# --------------------------------------------------------------------------- vocabulary

SESSION_WORDS = frozenset(
    {"sess", "session", "sessions", "sid", "token", "tokens", "auth", "jwt", "refresh", "csrf", "login", "oauth"}
)
# fmt: off
CACHE_WORDS = frozenset({
    "cache", "cached", "caches", "page", "pages", "fragment", "fragments", "html", "render", "rendered", "memo",
    "response", "responses", "resp",
})
COUNTER_WORDS = frozenset({
    "count", "counts", "counter", "counters", "views", "pageviews", "hits", "stats", "visits", "clicks", "likes",
    "total", "totals", "seq", "sequence", "metrics", "tally", "incr", "downloads", "plays",
})
# fmt: on
RATE_WORDS = frozenset(
    {"rate", "ratelimit", "ratelimiter", "limit", "limits", "limiter", "throttle", "throttling", "rl", "quota"}
)
LOCK_WORDS = frozenset({"lock", "locks", "mutex", "lease", "leases", "semaphore", "redlock"})
QUEUE_WORDS = frozenset({"queue", "queues", "jobs", "job", "tasks", "task", "celery", "bull", "sidekiq", "rq", "inbox"})
LEADERBOARD_WORDS = frozenset({"leaderboard", "leaderboards", "rank", "ranking", "rankings", "score", "scores", "top"})
DELAYED_WORDS = frozenset({"delayed", "schedule", "scheduled", "retry", "timeout", "deadline"})

INCR_COMMANDS = ("incr", "incrby", "decr", "decrby", "incrbyfloat", "hincrby", "hincrbyfloat")
CACHE_COMMANDS = ("get", "set", "setex", "psetex", "mget", "mset", "getex")
QUEUE_COMMANDS = ("lpush", "rpush", "lpop", "rpop", "brpop", "blpop", "lmove", "blmove", "rpoplpush", "brpoplpush")

BLOCKING_LIST_COMMANDS = ("blpop", "brpop", "blmove", "brpoplpush", "blmpop")
BLOCKING_ZSET_COMMANDS = ("bzpopmin", "bzpopmax", "bzmpop")
BLOCKING_STREAM_COMMANDS = ("xread", "xreadgroup")

TS_SECONDS_RANGE = (946_684_800.0, 4_102_444_800.0)
"""Unix seconds of 2000-01-01 .. 2100-01-01: zset scores inside look like timestamps."""
TAG_SHARE = 0.9
"""Share of sampled set members that must be short words for the set to count as tags."""
TOKEN_SHARE = 0.8
"""Share of sampled string values that must look like random tokens for the lock signal."""
DEFAULT_POP_END_PENALTY = 0.1
"""Confidence taken off a queue whose consumer end is only assumed (nothing observed)."""

SESSION_TTL_RANGE = (15 * 60, 14 * 86400)  # sessions: typically 30 min to 7 days; allow margin
SHORT_TTL = 3600.0
LOCK_TTL = 300.0
UNKNOWN_BELOW = 0.3
CLOSE_MARGIN = 0.15

_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


# --------------------------------------------------------------------------- formatting helpers


def human_duration(seconds: float) -> str:
    """``1800`` -> ``"30m"``, ``93600`` -> ``"1.1d"``; compact, for evidence lines."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f}{unit}" if value >= 10 or value == int(value) else f"{value:.1f}{unit}"
    return f"{seconds:.0f}s"  # pragma: no cover - unreachable


def _keys(n: int) -> str:
    """``"1 key"`` / ``"1,204 keys"``."""
    return f"{n:,} key" if n == 1 else f"{n:,} keys"


def _pct(part: float, whole: float) -> str:
    """Percentage for evidence (``"98%"``); never rounds a non-zero share to 0% or a partial to 100%."""
    if whole <= 0:
        return "0%"
    share = 100.0 * part / whole
    if 0 < share < 1:
        return "<1%"
    if 99 < share < 100:
        return ">99%"
    return f"{share:.0f}%"


def name_words(pattern: str) -> set[str]:
    """Lower-case words of a pattern's literal parts (``rateLimit:{id}`` -> ``{"rate", "limit"}``)."""
    text = " ".join(t for is_ph, t in parse_pattern(pattern) if not is_ph)
    words = {w.lower() for w in _WORD_RE.findall(text)}
    # also the unsplit lower-case tokens, so "ratelimit" or "pageviews" match as written
    words.update(t.lower() for t in re.findall(r"[A-Za-z]+", text))
    return words


# --------------------------------------------------------------------------- scoring


@dataclass
class _Candidate:
    """Points and evidence collected for one usage kind."""

    kind: UsageKind
    score: float = 0.0
    evidence: list[Evidence] = field(default_factory=list)

    def add(self, points: float, signal: str, detail: str) -> None:
        """Add ``points`` (may be negative) with the fact behind them."""
        self.score += points
        if detail:
            self.evidence.append(Evidence(signal=signal, detail=detail))


@dataclass
class _Facts:
    """Derived numbers shared by the scoring rules."""

    n: int
    ttl_ratio: float
    p50: float | None
    shapes: dict[str, int]
    shape_total: int
    words: set[str]

    def share(self, *shapes: str) -> float:
        """Share of sampled values with one of ``shapes``."""
        return sum(self.shapes.get(s, 0) for s in shapes) / self.shape_total if self.shape_total else 0.0


def _matched(words: set[str], vocabulary: Iterable[str]) -> list[str]:
    """Vocabulary words present in the key name, sorted."""
    return sorted(words.intersection(vocabulary))


def _calls(server: RedisServerInfo, commands: Iterable[str]) -> dict[str, int]:
    """commandstats calls of the given commands (only those with calls)."""
    out: dict[str, int] = {}
    for name in commands:
        stat = server.commandstats.get(name)
        if stat is not None and stat.calls > 0:
            out[name] = stat.calls
    return out


def _calls_text(calls: dict[str, int]) -> str:
    """``"incrby 12,345 calls, incr 300 calls"``, biggest first."""
    ordered = sorted(calls.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {count:,} calls" for name, count in ordered)


def _ttl_line(facts: KeyPattern) -> str:
    """Evidence line about TTLs, with counts and percentiles."""
    n = facts.ttl.with_ttl + facts.ttl.without_ttl
    if facts.ttl.with_ttl == 0:
        return f"none of {n:,} sampled keys has a TTL" if n != 1 else "the sampled key has no TTL"
    line = f"{_pct(facts.ttl.with_ttl, n)} of {_keys(n)} sampled have a TTL"
    if facts.ttl.p50_seconds is not None:
        line += f" (p50 {human_duration(facts.ttl.p50_seconds)}"
        if facts.ttl.p95_seconds is not None:
            line += f", p95 {human_duration(facts.ttl.p95_seconds)}"
        line += ")"
    return line


_SHAPE_NAMES = {
    "json_object": "a JSON object",
    "json_array": "a JSON array",
    "json_scalar": "a JSON scalar",
    "integer": "an integer",
    "float": "a float",
    "text": "UTF-8 text",
    "binary": "binary (not UTF-8 text, or contains NUL)",
    "empty": "empty",
}


def _shape_line(f: _Facts, shape: str, *, of: str = "value") -> str:
    """``"value is a JSON object in 100% of samples"``."""
    return f"{of} is {_SHAPE_NAMES.get(shape, shape)} in {_pct(f.shapes.get(shape, 0), f.shape_total)} of samples"


def _base_facts(facts: KeyPattern) -> _Facts:
    """Numbers the rules share."""
    n = facts.ttl.with_ttl + facts.ttl.without_ttl
    return _Facts(
        n=n,
        ttl_ratio=facts.ttl.ratio,
        p50=facts.ttl.p50_seconds,
        shapes=dict(facts.value_shapes),
        shape_total=sum(facts.value_shapes.values()),
        words=name_words(facts.pattern),
    )


def _score_strings_and_hashes(facts: KeyPattern, server: RedisServerInfo) -> list[_Candidate]:
    """Score every usage a string or hash pattern may have."""
    f = _base_facts(facts)
    is_hash = facts.redis_type == "hash"
    of = "field value" if is_hash else "value"
    ttl_line = _ttl_line(facts)
    has_ttl = f.ttl_ratio >= 0.8
    no_ttl = f.ttl_ratio <= 0.1
    short_ttl = has_ttl and f.p50 is not None and f.p50 <= SHORT_TTL
    int_share = f.share("integer")
    json_obj_share = f.share("json_object")
    incr = _calls(server, INCR_COMMANDS if is_hash else INCR_COMMANDS[:5])
    cache_calls = _calls(server, CACHE_COMMANDS)
    total_calls = sum(s.calls for s in server.commandstats.values())

    cache = _Candidate(UsageKind.CACHE)
    session = _Candidate(UsageKind.SESSION)
    counter = _Candidate(UsageKind.COUNTER)
    rate = _Candidate(UsageKind.RATE_LIMIT)
    lock = _Candidate(UsageKind.LOCK)
    doc = _Candidate(UsageKind.JSON_DOCUMENT)
    obj = _Candidate(UsageKind.OBJECT_HASH)

    # -- cache: TTL is the defining signal
    if has_ttl:
        cache.add(0.45, "ttl", ttl_line)
    elif f.ttl_ratio > 0.3:
        cache.add(0.2, "ttl", ttl_line)
    if words := _matched(f.words, CACHE_WORDS):
        cache.add(0.4, "key_name", f"key name contains {', '.join(repr(w) for w in words)}")
    if total_calls and sum(cache_calls.values()) / total_calls >= 0.5:
        cache.add(
            0.1,
            "commandstats",
            f"commandstats: GET/SET family is {_pct(sum(cache_calls.values()), total_calls)} of all calls "
            f"({_calls_text(cache_calls)})",
        )

    # -- session: name + TTL in the usual session range + structured value
    if words := _matched(f.words, SESSION_WORDS):
        session.add(0.5, "key_name", f"key name contains {', '.join(repr(w) for w in words)}")
    if has_ttl:
        session.add(0.2, "ttl", ttl_line)
        if f.p50 is not None and SESSION_TTL_RANGE[0] <= f.p50 <= SESSION_TTL_RANGE[1]:
            session.add(0.15, "ttl", f"TTL p50 {human_duration(f.p50)} is in the usual session range (30m-7d)")
    if is_hash:
        session.add(0.1, "type", "stored as a hash")
    elif json_obj_share >= 0.8:
        session.add(0.1, "value_shape", _shape_line(f, "json_object"))

    # -- counter: integer values, INCR traffic, counter-like names, usually no TTL
    if int_share >= 0.9:
        counter.add(0.5, "value_shape", _shape_line(f, "integer", of=of))
        if words := _matched(f.words, COUNTER_WORDS):
            counter.add(0.25, "key_name", f"key name contains {', '.join(repr(w) for w in words)}")
        if incr:
            counter.add(0.15, "commandstats", f"commandstats: {_calls_text(incr)}")
        if no_ttl:
            counter.add(0.1, "ttl", ttl_line)
        elif has_ttl:
            counter.add(-0.15, "ttl", f"{ttl_line}: counters usually live without TTL")

    # -- rate limit: integer values with a short TTL (a window) and limiter-like names
    if int_share >= 0.9:
        rate.add(0.3, "value_shape", _shape_line(f, "integer", of=of))
        if short_ttl:
            rate.add(0.3, "ttl", f"{ttl_line}: a window of at most 1h")
        if words := _matched(f.words, RATE_WORDS):
            rate.add(0.4, "key_name", f"key name contains {', '.join(repr(w) for w in words)}")
    elif (words := _matched(f.words, RATE_WORDS)) and short_ttl:
        rate.add(0.4, "key_name", f"key name contains {', '.join(repr(w) for w in words)}")
        rate.add(0.2, "ttl", f"{ttl_line}: a window of at most 1h")

    # -- lock: lock-like names, very short TTL, tiny values
    if words := _matched(f.words, LOCK_WORDS):
        lock.add(0.6, "key_name", f"key name contains {', '.join(repr(w) for w in words)}")
        if has_ttl and f.p50 is not None and f.p50 <= LOCK_TTL:
            lock.add(0.3, "ttl", f"{ttl_line}: short-lived")
        if not is_hash and facts.elements.p95 is not None and facts.elements.p95 <= 64:
            lock.add(0.1, "value_size", f"values are tiny (p95 {facts.elements.p95:.0f} bytes)")
        if not is_hash and facts.sampled_keys and facts.token_values >= TOKEN_SHARE * facts.sampled_keys:
            lock.add(
                0.2,
                "value_shape",
                f"{_pct(facts.token_values, facts.sampled_keys)} of values look like random tokens "
                "(the owner token of SET key token NX PX)",
            )

    # -- JSON document: JSON-object strings without TTL
    if not is_hash and json_obj_share >= 0.9:
        doc.add(0.35, "value_shape", _shape_line(f, "json_object"))
        if no_ttl:
            doc.add(0.35, "ttl", ttl_line)

    # -- object hash: hashes without TTL with a stable field set
    if is_hash:
        if no_ttl:
            obj.add(0.35, "ttl", ttl_line)
        stable, line = _field_stability(facts)
        if stable >= 0.8:
            obj.add(0.35, "hash_fields", line)
        elif stable >= 0.5:
            obj.add(0.15, "hash_fields", line)
        elif line:
            obj.add(0.0, "hash_fields", line)

    return [cache, session, counter, rate, lock, doc, obj]


def _field_stability(facts: KeyPattern) -> tuple[float, str]:
    """Share of the seen fields present in >= 90% of the sampled hashes, and an evidence line."""
    n = facts.sampled_keys
    if not facts.hash_fields or n <= 0:
        return 0.0, ""
    common = sorted((f for f, c in facts.hash_fields.items() if c >= 0.9 * n), key=lambda f: (-facts.hash_fields[f], f))
    stability = len(common) / len(facts.hash_fields)
    if common:
        shown = ", ".join(common[:6]) + (", ..." if len(common) > 6 else "")
        line = (
            f"{len(common)} of {len(facts.hash_fields)} hash fields are present in >= 90% of "
            f"{n:,} sampled hashes ({shown})"
        )
    else:
        line = f"no hash field is common to >= 90% of {n:,} sampled hashes ({len(facts.hash_fields)} distinct fields)"
    return stability, line


# --------------------------------------------------------------------------- containers


def _container_usage(facts: KeyPattern, server: RedisServerInfo) -> Usage | None:
    """Usage of list/set/zset/stream patterns (decided by the type, refined by names)."""
    f = _base_facts(facts)
    kind_line = f"Redis type {facts.redis_type} ({_keys(facts.sampled_keys)} sampled, ~{facts.estimated_keys:,} in all)"
    ev = [Evidence(signal="type", detail=kind_line)]
    if facts.elements.count:
        ev.append(
            Evidence(
                signal="elements",
                detail=f"elements per key: p50 {facts.elements.p50 or 0:,.0f}, max {facts.elements.max or 0:,}",
            )
        )
    if f.ttl_ratio > 0:
        ev.append(Evidence(signal="ttl", detail=_ttl_line(facts)))
    t = facts.redis_type
    if t == "list":
        conf = 0.8
        if words := _matched(f.words, QUEUE_WORDS):
            conf += 0.1
            ev.append(Evidence(signal="key_name", detail=f"key name contains {', '.join(repr(w) for w in words)}"))
        if calls := _calls(server, QUEUE_COMMANDS):
            conf += 0.05
            ev.append(Evidence(signal="commandstats", detail=f"commandstats: {_calls_text(calls)}"))
        if blocked := _blocked(server, BLOCKING_LIST_COMMANDS):
            conf += 0.05
            ev.append(Evidence(signal="blocked_clients", detail=f"CLIENT LIST: {blocked} (consumers waiting)"))
        return Usage(kind=UsageKind.QUEUE, confidence=round(min(conf, 0.97), 2), evidence=ev)
    if t == "set":
        hints: dict[str, str] = {}
        if facts.members_sampled and facts.members_tag_like >= TAG_SHARE * facts.members_sampled:
            hints["set"] = "tags"
            ev.append(
                Evidence(
                    signal="members",
                    detail=f"{_pct(facts.members_tag_like, facts.members_sampled)} of "
                    f"{facts.members_sampled:,} sampled members are short words: tag-like",
                )
            )
        return Usage(kind=UsageKind.SET, confidence=0.9, evidence=ev, hints=hints)
    if t == "zset":
        conf = 0.75
        if words := _matched(f.words, LEADERBOARD_WORDS):
            conf += 0.15
            ev.append(Evidence(signal="key_name", detail=f"key name contains {', '.join(repr(w) for w in words)}"))
        if words := _matched(f.words, DELAYED_WORDS | QUEUE_WORDS):
            conf = 0.5
            ev.append(
                Evidence(
                    signal="key_name",
                    detail=f"key name contains {', '.join(repr(w) for w in words)}: may be a delayed/scheduled "
                    "queue scored by time rather than a leaderboard",
                )
            )
        zhints: dict[str, str] = {}
        if (unit := score_timestamp_unit(facts.score_min, facts.score_max)) is not None:
            zhints["score"] = unit
            ev.append(
                Evidence(
                    signal="scores",
                    detail=f"sampled scores {facts.score_min:.0f}..{facts.score_max:.0f} are Unix timestamps "
                    f"({'seconds' if unit == 'timestamp_s' else 'milliseconds'}): a time-indexed set",
                )
            )
        elif facts.score_min is not None and facts.score_max is not None:
            ev.append(
                Evidence(signal="scores", detail=f"sampled scores range {facts.score_min:g}..{facts.score_max:g}")
            )
        if blocked := _blocked(server, BLOCKING_ZSET_COMMANDS):
            ev.append(Evidence(signal="blocked_clients", detail=f"CLIENT LIST: {blocked} (a priority queue?)"))
        return Usage(kind=UsageKind.LEADERBOARD, confidence=round(conf, 2), evidence=ev, hints=zhints)
    if t == "stream":
        if calls := _calls(server, ("xadd", "xreadgroup", "xack", "xgroup|create")):
            ev.append(Evidence(signal="commandstats", detail=f"commandstats: {_calls_text(calls)}"))
        if blocked := _blocked(server, BLOCKING_STREAM_COMMANDS):
            ev.append(Evidence(signal="blocked_clients", detail=f"CLIENT LIST: {blocked}"))
        ev.extend(_stream_group_evidence(facts))
        shints = {"consumer_groups": "yes"} if facts.stream_groups else {}
        return Usage(kind=UsageKind.STREAM, confidence=0.95, evidence=ev, hints=shints)
    return None


def _blocked(server: RedisServerInfo, commands: Iterable[str]) -> str:
    """``"3 clients blocked in brpop, 1 in blpop"`` (empty when none)."""
    counts = sorted(((c, n) for c, n in server.blocked_commands.items() if c in commands and n), key=lambda x: -x[1])
    if not counts:
        return ""
    first, *rest = counts
    parts = [f"{first[1]} client{'s' if first[1] != 1 else ''} blocked in {first[0]}"]
    parts += [f"{n} in {c}" for c, n in rest]
    return ", ".join(parts)


def score_timestamp_unit(low: float | None, high: float | None) -> str | None:
    """``timestamp_s`` / ``timestamp_ms`` when both ends of a zset's sampled scores fall in 2000..2100."""
    if low is None or high is None:
        return None
    lo_s, hi_s = TS_SECONDS_RANGE
    if lo_s <= low <= high <= hi_s:
        return "timestamp_s"
    if lo_s * 1000 <= low <= high <= hi_s * 1000:
        return "timestamp_ms"
    return None


def _stream_group_evidence(facts: KeyPattern) -> list[Evidence]:
    """One evidence line per consumer group seen by XINFO GROUPS (first few)."""
    out: list[Evidence] = []
    for g in facts.stream_groups[:5]:
        line = (
            f"XINFO GROUPS {g.key}: group {g.name!r}, {g.consumers} consumer(s), {g.pending:,} pending, "
            f"last-delivered-id {g.last_delivered_id}"
        )
        if g.lag is not None:
            line += f", lag {g.lag:,}"
        out.append(Evidence(signal="consumer_groups", detail=line))
    if len(facts.stream_groups) > 5:
        out.append(Evidence(signal="consumer_groups", detail=f"... {len(facts.stream_groups) - 5} more group(s)"))
    return out


def _apply_library(usage: Usage, facts: KeyPattern, context: KeyspaceContext | None) -> Usage:
    """Name the library whose layout the keys follow; where the layout is decisive, it sets the kind."""
    fp = fingerprint(facts.example_keys, facts.redis_type, context)
    if fp is None:
        return usage
    line = Evidence(signal="library", detail=f"{fp.library}: {fp.what}")
    hints = {**usage.hints, **fp.hints}
    if fp.kind is not None and fp.kind is not usage.kind:
        generic = Evidence(
            signal="generic",
            detail=f"without the library layout the signals suggested {usage.kind.value} "
            f"(confidence {usage.confidence:.2f})",
        )
        kept = [e for e in usage.evidence if e.signal in ("sample", "type", "ttl", "elements", "binary_values")]
        return Usage(
            kind=fp.kind,
            confidence=fp.confidence,
            evidence=[line, *kept, generic],
            library=fp.library,
            hints=hints,
        )
    evidence = [line, *(e for e in usage.evidence if e.signal != "ambiguity")]
    return Usage(
        kind=usage.kind,
        confidence=round(max(usage.confidence, fp.confidence), 2),
        evidence=evidence,
        library=fp.library,
        hints=hints,
    )


def _queue_end(usage: Usage, server: RedisServerInfo) -> Usage:
    """Give a queue list a ``pop_end`` hint when no library layout supplied one."""
    if "pop_end" in usage.hints:
        return usage.model_copy(update={"hints": {**usage.hints, "pop_end_basis": "library"}})
    calls = {name: stat.calls for name, stat in server.commandstats.items()}
    end, basis, why = infer_pop_end(calls, server.blocked_commands)
    confidence = usage.confidence
    if basis == "default":
        confidence = max(confidence - DEFAULT_POP_END_PENALTY, 0.05)
    evidence = [*usage.evidence, Evidence(signal="pop_end", detail=f"consumers pop from the {end}: {why}")]
    return usage.model_copy(
        update={
            "confidence": round(confidence, 2),
            "evidence": evidence,
            "hints": {**usage.hints, "pop_end": end, "pop_end_basis": basis},
        }
    )


# --------------------------------------------------------------------------- public API


def classify_pattern(facts: KeyPattern, server: RedisServerInfo, context: KeyspaceContext | None = None) -> Usage:
    """Classify one key pattern; confidence in [0, 1] with human-readable evidence.

    Generic signals first; then a library fingerprint (:mod:`pgconsolidate.analyze.libraries`,
    using ``context`` for layouts that need the rest of the keyspace) names the library and,
    where its layout is decisive, sets the kind. Lists classified as queues always leave with a
    ``pop_end`` hint (``pop_end_basis`` says whether a library, pops, blocked clients, pushes or
    only the default decided it).
    """
    usage = _apply_library(_generic_usage(facts, server), facts, context)
    if usage.kind is UsageKind.QUEUE and facts.redis_type == "list":
        usage = _queue_end(usage, server)
    return usage


def _generic_usage(facts: KeyPattern, server: RedisServerInfo) -> Usage:
    """The classification from generic signals alone (no library knowledge)."""
    if facts.sampled_keys <= 0:
        return Usage(
            kind=UsageKind.UNKNOWN,
            confidence=0.0,
            evidence=[Evidence(signal="sample", detail="no key of this pattern was sampled")],
        )
    container = _container_usage(facts, server)
    if container is not None:
        return container
    if facts.redis_type not in ("string", "hash"):
        return Usage(
            kind=UsageKind.UNKNOWN,
            confidence=0.2,
            evidence=[Evidence(signal="type", detail=f"Redis type {facts.redis_type!r} (module type?) has no mapping")],
        )
    ranked = sorted(_score_strings_and_hashes(facts, server), key=lambda c: -c.score)
    best, runner_up = ranked[0], ranked[1]
    size = Evidence(
        signal="sample",
        detail=f"{_keys(facts.sampled_keys)} sampled (~{facts.estimated_keys:,} in all), type {facts.redis_type}",
    )
    extra = _value_notes(facts)
    if best.score < UNKNOWN_BELOW:
        seen = [Evidence(signal="ttl", detail=_ttl_line(facts)), *_shape_summary(facts)]
        return Usage(kind=UsageKind.UNKNOWN, confidence=0.3, evidence=[size, *seen, *extra])
    confidence = min(best.score, 0.97)
    evidence = [size, *best.evidence, *extra]
    if runner_up.score >= UNKNOWN_BELOW and best.score - runner_up.score < CLOSE_MARGIN:
        confidence *= 0.75
        evidence.append(
            Evidence(
                signal="ambiguity",
                detail=f"also consistent with {runner_up.kind.value} (score {runner_up.score:.2f} vs {best.score:.2f})",
            )
        )
    return Usage(kind=best.kind, confidence=round(max(confidence, 0.05), 2), evidence=evidence)


def _shape_summary(facts: KeyPattern) -> list[Evidence]:
    """The dominant value shape, as evidence (used when nothing else matched)."""
    total = sum(facts.value_shapes.values())
    if not total:
        return []
    shape, count = max(facts.value_shapes.items(), key=lambda kv: (kv[1], kv[0]))
    of = "field value" if facts.redis_type == "hash" else "value"
    return [
        Evidence(
            signal="value_shape",
            detail=f"{of} is {_SHAPE_NAMES.get(shape, shape)} in {_pct(count, total)} of samples",
        )
    ]


def _value_notes(facts: KeyPattern) -> list[Evidence]:
    """Facts the mapping must respect whatever the usage: binary values, non-UTF-8 key names."""
    notes: list[Evidence] = []
    total = sum(facts.value_shapes.values())
    binary = facts.value_shapes.get("binary", 0)
    if binary:
        notes.append(
            Evidence(
                signal="binary_values",
                detail=f"{_pct(binary, total)} of sampled values are binary (need bytea, not text)",
            )
        )
    if facts.binary_keys:
        notes.append(
            Evidence(signal="binary_keys", detail=f"{facts.binary_keys:,} sampled key names are not valid UTF-8")
        )
    return notes


def classify_channel(channel: str, subscribers: int, numpat: int = 0) -> Usage:
    """Classify an active pub/sub channel (PUBSUB CHANNELS / NUMSUB; ``numpat``: PUBSUB NUMPAT)."""
    evidence = [
        Evidence(signal="pubsub", detail=f"PUBSUB NUMSUB {channel!r}: {subscribers:,} subscriber(s)"),
    ]
    if numpat:
        evidence.append(
            Evidence(
                signal="pubsub",
                detail=f"PUBSUB NUMPAT: {numpat:,} pattern subscription(s) on the server (PSUBSCRIBE) may also "
                "receive this channel; NUMSUB does not count them",
            )
        )
    if channel.startswith(("__keyspace@", "__keyevent@")):
        evidence.append(
            Evidence(
                signal="key_name",
                detail="keyspace notification channel: produced by Redis itself, no application publishes to it",
            )
        )
        return Usage(kind=UsageKind.PUBSUB, confidence=0.6, evidence=evidence)
    return Usage(kind=UsageKind.PUBSUB, confidence=0.95 if subscribers > 0 else 0.7, evidence=evidence)
