"""Rules that turn an Inventory into a Plan, aware of the target's capabilities. Never connects.

Per classified pattern: a verdict (``migrate``, ``keep`` with the reason and numbers, ``review``
with the question), and for ``migrate`` a mapping, a table name and the mapping's options, with
notes that say which choice was made and why. Everything is deterministic: the same Inventory
and TargetCaps give the same Plan (ids, names, order), so plan files diff cleanly.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pgconsolidate import __version__
from pgconsolidate.analyze.thresholds import keep_reason
from pgconsolidate.config import redact_url
from pgconsolidate.mappings import (
    advisory_lock,
    leaderboard,
    notify_channel,
    queue_pgmq,
    rate_limit,
    set_members,
    stream_table,
)
from pgconsolidate.mappings._common import MAX_IDENT_BYTES, PlanChoice
from pgconsolidate.models import (
    ChannelReport,
    CopyOptions,
    Inventory,
    KeyPattern,
    PatternReport,
    Plan,
    PlanItem,
    PlanSource,
    PlanTarget,
    RedisChannelSource,
    RedisInventory,
    RedisServerInfo,
    RedisSource,
    TargetCaps,
    TargetSpec,
    Usage,
    UsageKind,
    Verdict,
)

CACHE_KEEP_BYTES = 4 * 1024**3
"""A cache estimated above this stays on Redis: RAM-speed eviction beats a table at that size."""

LUA_KEEP_SHARE = 0.25
"""Counters stay on Redis when Lua (EVAL/EVALSHA/FCALL) is at least this share of all commands."""

LUA_NOTE_SHARE = 0.05
"""Above this share every migrated item gets a note to check that no script touches its keys."""

JSONB_MIN_SHARE = 0.95
"""JSON objects/arrays must be at least this share of sampled values (the rest empty) for jsonb."""

BIG_VALUE_BYTES = 64 * 1024
"""Items whose p95 value is larger copy in smaller batches to bound memory."""

_LUA_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")

# Usage kind -> (Redis types the mapping reads, mapping name, the mapping's module).
_COLLECTION_RULES: dict[UsageKind, tuple[frozenset[str], str, Any]] = {
    UsageKind.SET: (frozenset({"set"}), "set_members", set_members),
    UsageKind.LEADERBOARD: (frozenset({"zset"}), "leaderboard", leaderboard),
    UsageKind.QUEUE: (frozenset({"list"}), "queue_pgmq", queue_pgmq),
    UsageKind.STREAM: (frozenset({"stream"}), "stream_table", stream_table),
    UsageKind.RATE_LIMIT: (frozenset({"string"}), "rate_limit", rate_limit),
    UsageKind.LOCK: (frozenset({"string"}), "advisory_lock", advisory_lock),
}

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


@dataclass
class _Decision:
    verdict: Verdict
    reason: str
    mapping: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build_plan(
    inventory: Inventory, caps: TargetCaps, *, schema: str = "public", generated_at: str | None = None
) -> Plan:
    """The Plan for ``inventory`` on the target described by ``caps`` (``generated_at`` defaults to now)."""
    sources: list[PlanSource] = []
    items: list[PlanItem] = []
    if inventory.redis is not None:
        redis = inventory.redis
        sources.append(PlanSource(kind="redis", url=redact_url(redis.url), fingerprint=redis.fingerprint))
        lua_share = _lua_share(redis)
        for report in redis.patterns:
            for part in _split_queue_keys(report):
                items.append(_pattern_item(part, caps, schema, lua_share, redis.server))
        items.extend(_channel_item(ch, caps, schema) for ch in redis.channels)
    if inventory.elasticsearch is not None:
        from pgconsolidate.es.planner import plan_es  # late: the ES planner imports the analyzer stack

        es = inventory.elasticsearch
        sources.append(PlanSource(kind="elasticsearch", url=redact_url(es.url), fingerprint=es.fingerprint))
        items.extend(plan_es(es, caps, schema))
    _assign_table_names(items)
    items.sort(key=lambda it: it.id)
    return Plan(
        tool_version=__version__,
        generated_at=generated_at or datetime.now(UTC).replace(microsecond=0).isoformat(),
        sources=sources,
        target=PlanTarget(
            url=caps.url,
            server_version=caps.server_version,
            fingerprint=caps.fingerprint,
            extensions=sorted(set(caps.extensions_installed) | set(caps.extensions_available)),
        ),
        items=items,
    )


# --------------------------------------------------------------------------- ids and names


def slug(text: str, sep: str = "_") -> str:
    """Lowercase ``[a-z0-9]`` runs joined by ``sep`` (``session:{uuid}`` -> ``session_uuid``)."""
    return sep.join(re.findall(r"[a-z0-9]+", text.lower()))


def item_id(kind: str, db: int, pattern: str, redis_type: str) -> str:
    """Stable item id, e.g. ``redis.db0.session-uuid.3f2a1c`` (slug for humans, hash for uniqueness)."""
    digest = hashlib.sha256(f"{kind}\x00{db}\x00{pattern}\x00{redis_type}".encode()).hexdigest()[:6]
    return f"{kind}.db{db}.{slug(pattern, '-')[:48].strip('-') or 'keys'}.{digest}"


def table_name(db: int, pattern: str) -> str:
    """``redis_<pattern words without placeholders>`` (``user:{id}:profile`` -> ``redis_user_profile``)."""
    words = slug(re.sub(r"\{[^}]*\}", " ", pattern))
    base = f"redis_db{db}_" if db else "redis_"
    return _fit(base + (words or "keys"), pattern)


def _fit(name: str, salt: str, suffix: str = "") -> str:
    """``name + suffix`` within 63 bytes, cut with a hash of ``salt`` when it is longer."""
    if len(name) + len(suffix) <= MAX_IDENT_BYTES:
        return name + suffix
    tag = "_" + hashlib.sha256(salt.encode()).hexdigest()[:6]
    return name[: MAX_IDENT_BYTES - len(tag) - len(suffix)].rstrip("_") + tag + suffix


def _assign_table_names(items: list[PlanItem]) -> None:
    """Resolve collisions: every item sharing a name gets ``_<hash of its id>`` (order-independent)."""
    by_name: dict[str, list[PlanItem]] = {}
    for it in items:
        if it.target is not None:
            by_name.setdefault(it.target.table, []).append(it)
    taken = set(by_name)
    for name, group in sorted(by_name.items()):
        # pgmq queue tables are named by pgmq from the queue name (already unique by construction).
        if len(group) < 2 or any(it.target is not None and it.target.mapping == "queue_pgmq" for it in group):
            continue
        for it in group:
            assert it.target is not None
            new = _fit(name, it.id, "_" + hashlib.sha256(it.id.encode()).hexdigest()[:6])
            while new in taken:  # astronomically unlikely; keep it deterministic anyway
                new = _fit(new, it.id, "_x")
            taken.add(new)
            it.target = it.target.model_copy(update={"table": new})
            it.notes.append(f"table name '{name}' is shared by {len(group)} patterns; suffixed to stay unique")


# --------------------------------------------------------------------------- rules


def _split_queue_keys(report: PatternReport) -> list[PatternReport]:
    """A queue pattern whose every key the sample named becomes one report per key (pgmq queues are named).

    Otherwise the pattern stays one item: its keys share one pgmq queue, each message keeping its
    Redis key in ``headers.redis_key``.
    """
    facts = report.facts
    keys = facts.example_keys
    if (
        report.usage.kind is not UsageKind.QUEUE
        or facts.redis_type != "list"
        or len(keys) < 2
        or facts.estimated_keys > len(keys)
        or facts.binary_keys
    ):
        return [report]
    out = []
    for key in keys:
        one = facts.model_copy(
            update={
                "pattern": key,
                "regex": re.escape(key),
                "match_glob": _GLOB_SPECIAL.sub(r"\\\1", key),
                "sampled_keys": 1,
                "estimated_keys": 1,
                "example_keys": [key],
            }
        )
        out.append(report.model_copy(update={"facts": one}))
    return out


def _pattern_item(
    report: PatternReport, caps: TargetCaps, schema: str, lua_share: float, server: RedisServerInfo | None = None
) -> PlanItem:
    facts, usage = report.facts, report.usage
    decision = _decide(facts, usage, caps, lua_share)
    if decision.verdict == "migrate" and server is not None:
        why = keep_reason(usage.kind, server)
        if why is not None:
            decision = _Decision("keep", why, notes=decision.notes)
    target = None
    if decision.mapping is not None:
        table_schema, table = schema, table_name(facts.db, facts.pattern)
        if decision.mapping == "queue_pgmq":
            # pgmq owns its tables: pgmq.q_<queue name>, named by the queue.
            table_schema, table = "pgmq", f"q_{decision.options['queue_name']}"
        target = TargetSpec(mapping=decision.mapping, schema_name=table_schema, table=table, options=decision.options)
    return PlanItem(
        id=item_id("redis", facts.db, facts.pattern, facts.redis_type),
        source=RedisSource(
            db=facts.db,
            pattern=facts.pattern,
            regex=facts.regex,
            match_glob=facts.match_glob,
            redis_type=facts.redis_type,
            estimated_keys=facts.estimated_keys,
            sampled_keys=facts.sampled_keys,
            ttl_ratio=round(facts.ttl.ratio, 4),
            ttl_p50_seconds=facts.ttl.p50_seconds,
            value_shapes=dict(facts.value_shapes),
        ),
        usage=usage,
        verdict=decision.verdict,
        reason=decision.reason,
        target=target,
        copy_options=_copy_options(facts),
        notes=decision.notes,
    )


def _channel_item(report: ChannelReport, caps: TargetCaps, schema: str) -> PlanItem:
    channel, subscribers, usage = report.channel, report.subscribers, report.usage
    digest = hashlib.sha256(f"redis_channel\x00{channel}".encode()).hexdigest()[:6]
    choice = notify_channel.plan_options(channel, subscribers, usage, caps, report.max_payload_bytes)
    target = None
    if choice.verdict == "migrate":
        name = _fit("redis_channel_" + (slug(channel) or "channel"), channel)
        target = TargetSpec(mapping="notify_channel", schema_name=schema, table=name, options=choice.options)
    return PlanItem(
        id=f"redis.channel.{slug(channel, '-')[:48].strip('-') or 'channel'}.{digest}",
        source=RedisChannelSource(channel=channel, subscribers=subscribers),
        usage=usage,
        verdict=choice.verdict,
        reason=choice.reason,
        target=target,
        notes=list(choice.notes),
    )


def _decide(facts: KeyPattern, usage: Usage, caps: TargetCaps, lua_share: float) -> _Decision:
    kind = usage.kind
    if kind in (UsageKind.CACHE, UsageKind.SESSION):
        decision = _decide_ttl_store(facts, kind, caps)
    elif kind is UsageKind.COUNTER:
        decision = _decide_counter(facts, caps, lua_share)
    elif kind in (UsageKind.JSON_DOCUMENT, UsageKind.OBJECT_HASH):
        decision = _decide_document(facts, kind, caps)
    elif kind is UsageKind.UNKNOWN:
        decision = _Decision(
            "review",
            f"the usage of these {facts.redis_type} keys could not be classified: what does the application "
            "use them for? Set the verdict (and a target) by hand, or keep them on Redis",
        )
    elif kind in _COLLECTION_RULES:
        decision = _decide_by_mapping(facts, usage, caps)
    else:
        decision = _Decision("review", f"no mapping for {kind.value} usages; how does the application use these keys?")
    if decision.verdict == "migrate" and lua_share >= LUA_NOTE_SHARE:
        decision.notes.append(
            f"Lua is {lua_share:.0%} of the server's commands: check that no script reads or writes these keys"
        )
    return decision


def _decide_ttl_store(facts: KeyPattern, kind: UsageKind, caps: TargetCaps) -> _Decision:
    memory = _estimated_bytes(facts)
    if kind is UsageKind.CACHE and memory > CACHE_KEEP_BYTES:
        return _Decision(
            "keep",
            f"cache of ~{facts.estimated_keys:,} keys using ~{memory / 1024**3:.1f} GiB: at that size "
            f"Redis eviction is the better cache (threshold {CACHE_KEEP_BYTES / 1024**3:.0f} GiB)",
        )
    decision = _store(facts, caps, unlogged=True, prefer_json=kind is UsageKind.SESSION)
    if decision.verdict == "migrate":
        decision.notes.insert(
            0,
            "UNLOGGED table: fast writes, but emptied after a crash and not replicated - fine for "
            f"{kind.value} data that the application can rebuild",
        )
    return decision


def _decide_by_mapping(facts: KeyPattern, usage: Usage, caps: TargetCaps) -> _Decision:
    """Ask the usage's mapping module (``plan_options``), after checking the Redis type fits it."""
    types, mapping, module = _COLLECTION_RULES[usage.kind]
    if facts.redis_type not in types:
        return _Decision(
            "review",
            f"{usage.kind.value} usage on Redis {facts.redis_type} keys: the {mapping} mapping reads "
            f"{', '.join(sorted(types))} keys; how does the application read these?",
        )
    choice: PlanChoice = module.plan_options(facts, usage, caps)
    verdict = cast(Verdict, choice.verdict)
    return _Decision(
        verdict,
        choice.reason,
        mapping if verdict == "migrate" else None,
        dict(choice.options),
        list(choice.notes),
    )


def _decide_document(facts: KeyPattern, kind: UsageKind, caps: TargetCaps) -> _Decision:
    return _store(facts, caps, unlogged=False, prefer_json=True)


def _decide_counter(facts: KeyPattern, caps: TargetCaps, lua_share: float) -> _Decision:
    if facts.redis_type != "string":
        return _Decision("review", f"counter keys are Redis {facts.redis_type}s; which field is the counter?")
    if lua_share >= LUA_KEEP_SHARE:
        return _Decision(
            "keep",
            f"Lua is {lua_share:.0%} of the server's commands; scripted counters (check-and-increment) "
            "should stay on Redis until the scripts are rewritten",
        )
    total = sum(facts.value_shapes.values())
    integers = facts.value_shapes.get("integer", 0)
    if total and integers < total:
        decision = _store(facts, caps, unlogged=False, prefer_json=False)
        decision.notes.append(
            f"only {integers} of {total} sampled values are integers, so this is a kv_table, not a counter"
        )
        return decision
    options: dict[str, Any] = {"key_type": _key_type(facts), "cleanup": _cleanup(facts, caps)}
    notes = _cleanup_notes(options["cleanup"], caps) + _key_notes(facts)
    notes.append("INCRBY becomes <table>_incr(key, by => n), one INSERT .. ON CONFLICT DO UPDATE")
    return _Decision("migrate", f"counter: {_ttl_text(facts)} -> counter table (bigint)", "counter", options, notes)


def _store(facts: KeyPattern, caps: TargetCaps, *, unlogged: bool, prefer_json: bool) -> _Decision:
    """kv_table for strings, hash_jsonb for hashes; review for any other type."""
    cleanup = _cleanup(facts, caps)
    notes = _cleanup_notes(cleanup, caps) + _key_notes(facts)
    persistence = "UNLOGGED" if unlogged else "logged"
    if facts.redis_type == "string":
        value_type, why = _value_type(facts.value_shapes, prefer_json)
        notes.append(why)
        options: dict[str, Any] = {
            "value_type": value_type,
            "key_type": _key_type(facts),
            "unlogged": unlogged,
            "cleanup": cleanup,
        }
        return _Decision(
            "migrate", f"{_ttl_text(facts)} -> {persistence} kv_table ({value_type})", "kv_table", options, notes
        )
    if facts.redis_type == "hash":
        binary = facts.value_shapes.get("binary", 0)
        encoding = "base64" if binary else "utf8"
        if binary:
            notes.append(f"{binary} sampled keys hold binary field values: every field value is stored as base64")
        options = {"key_type": _key_type(facts), "unlogged": unlogged, "field_encoding": encoding, "cleanup": cleanup}
        return _Decision("migrate", f"{_ttl_text(facts)} -> {persistence} hash_jsonb", "hash_jsonb", options, notes)
    return _Decision("review", f"no mapping for Redis {facts.redis_type} keys with this usage yet; how are they read?")


def _value_type(shapes: dict[str, int], prefer_json: bool) -> tuple[str, str]:
    total = sum(shapes.values())
    binary = shapes.get("binary", 0)
    if binary:
        return "bytea", f"{binary} of {total} sampled values are binary: value stored as bytea"
    json_values = shapes.get("json_object", 0) + shapes.get("json_array", 0)
    empty = shapes.get("empty", 0)
    if total and json_values / total >= JSONB_MIN_SHARE and json_values + empty == total:
        note = f"{json_values} of {total} sampled values are JSON: value stored as jsonb"
        return "jsonb", note + (" (empty strings become NULL)" if empty else "")
    if prefer_json and json_values:
        return "text", f"only {json_values} of {total} sampled values are JSON: value kept as text"
    return "text", "sampled values are UTF-8 text: value stored as text"


def _key_type(facts: KeyPattern) -> str:
    return "bytea" if facts.binary_keys else "text"


def _key_notes(facts: KeyPattern) -> list[str]:
    if facts.binary_keys:
        return [f"{facts.binary_keys} sampled key names are not UTF-8: key stored as bytea"]
    return []


def _cleanup(facts: KeyPattern, caps: TargetCaps) -> str:
    if facts.ttl.with_ttl == 0:
        return "none"
    return "pg_cron" if caps.has_pg_cron else "sweep"


def _cleanup_notes(cleanup: str, caps: TargetCaps) -> list[str]:
    if cleanup == "pg_cron":
        return [
            f"expired rows deleted every minute by a pg_cron job, scheduled from database "
            f"'{caps.cron_database}' (cron.database_name) to run in this one; readers use the <table>_live view"
        ]
    if cleanup == "sweep":
        return [
            "pg_cron is not available (or not preloaded) on the target: expired rows are deleted by "
            "`pgconsolidate sweep` "
            "(schedule it); readers use the <table>_live view"
        ]
    return ["no sampled key has a TTL: no cleanup job"]


def _ttl_text(facts: KeyPattern) -> str:
    sampled = facts.ttl.with_ttl + facts.ttl.without_ttl
    if not sampled:
        return f"{facts.redis_type} keys"
    return f"{facts.redis_type} keys, {facts.ttl.ratio:.0%} of {sampled} sampled with a TTL"


def _estimated_bytes(facts: KeyPattern) -> float:
    if facts.memory.count:
        return facts.memory.total / facts.memory.count * facts.estimated_keys
    return 0.0


def _copy_options(facts: KeyPattern) -> CopyOptions:
    p95 = facts.memory.p95 or 0
    if p95 > BIG_VALUE_BYTES:
        # Bound a batch to ~64 MiB of values: batch_size * p95 <= 64 MiB.
        return CopyOptions(batch_size=max(10, int(64 * 1024**2 // p95)))
    return CopyOptions()


def _lua_share(redis: RedisInventory) -> float:
    stats = redis.server.commandstats
    total = sum(s.calls for s in stats.values())
    if not total:
        return 0.0
    lua = sum(s.calls for name, s in stats.items() if name.lower().removeprefix("cmdstat_") in _LUA_COMMANDS)
    return lua / total
