"""Live sampling of one Redis database into a :class:`~pgconsolidate.models.RedisInventory`.

Cost is bounded by ``sample``, not by the keyspace: SCAN stops once ``sample`` distinct keys were
seen, then the sampled keys are described in pipelined rounds of :data:`DESCRIBE_CHUNK` keys
(TYPE/PTTL/MEMORY USAGE/OBJECT ENCODING, then lengths, then a bounded value peek). Values are never
read whole when large: strings over 64 KiB are peeked with GETRANGE, big hashes with one HSCAN
page. Server-level facts (INFO, CONFIG, PUBSUB, CLIENT LIST) are read best-effort: a managed Redis
that renames or forbids a command loses that fact, not the analysis.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis

from pgconsolidate.analyze.keypatterns import group_patterns
from pgconsolidate.analyze.libraries import KeyspaceContext
from pgconsolidate.analyze.redis import classify_channel, classify_pattern
from pgconsolidate.config import redact_text, redact_url
from pgconsolidate.errors import ConnectionFailed, SourceError, UsageError
from pgconsolidate.models import (
    TTL_BUCKETS,
    ChannelReport,
    CommandRate,
    CommandStat,
    Evidence,
    KeyPattern,
    ObservedRates,
    PatternReport,
    RedisInventory,
    RedisServerInfo,
    SampleInfo,
    SizeStats,
    StreamConsumer,
    StreamGroup,
    TTLStats,
)
from pgconsolidate.progress import NullProgress, ProgressSink
from pgconsolidate.sources.redis import db_from_url, key_text_for_regex, key_to_text
from pgconsolidate.sources.resp import round_trip

DESCRIBE_CHUNK = 1000
"""Keys per pipelined round trip while describing the sample."""
STRING_PEEK_LIMIT = 64 * 1024
"""Strings up to this many bytes are read whole (GET); longer ones only their first 4 KiB."""
STRING_PEEK_PREFIX = 4096
HASH_FULL_LIMIT = 512
"""Hashes up to this many fields are read whole (HGETALL); bigger ones one HSCAN page."""

LIST_ITEM_PEEK = 3
"""Items read from each end of a sampled list for their shapes (queue payload type)."""
HASH_FIELD_VALUES_PER_KEY = 64
"""Field values per hash whose shape is classified (field names are all counted)."""
MAX_TRACKED_FIELDS = 10_000
"""Distinct hash field names tracked per pattern (bounded memory for map-like hashes)."""
TOP_FIELDS = 50
MAX_CHANNELS = 1000
BIG_KEY_ELEMENTS = 5000
"""A collection with more elements is a "big key" (common Redis guidance): its own usage, never
folded into a family of small keys (a 50k-field ``user:index`` hash is not one more user)."""

SET_MEMBER_PEEK = 8
"""Members per sampled set read with SRANDMEMBER (tag-like or not)."""
MAX_STREAM_KEYS = 20
"""Sampled stream keys per pattern whose consumer groups are read (XINFO GROUPS)."""
MAX_STREAM_GROUPS = 10
"""Groups per stream whose consumers are listed (XINFO CONSUMERS), and consumers kept per group."""

_TAG = re.compile(r"[A-Za-z][A-Za-z0-9 _.#+-]{0,31}")
# Owner tokens of SET NX PX locks: uuid4().hex, uuid4(), token_urlsafe(), ... (16-64 chars, mixed).
_TOKEN = re.compile(rb"[A-Za-z0-9_+/=-]{16,64}")

_LENGTH_COMMAND = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}
_INTEGER = re.compile(rb"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(rb"-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
_INT64 = 2**63


# --------------------------------------------------------------------------- value shapes


def value_shape(data: bytes, *, truncated: bool = False) -> str:
    """Shape of a value: json_object|json_array|json_scalar|integer|float|text|binary|empty.

    ``integer`` only for canonical int64 text (``007`` would lose its zeros in a bigint column);
    ``text`` is valid UTF-8 without NUL (PostgreSQL ``text`` cannot hold NUL), else ``binary``.
    A truncated prefix (big string) is judged by its first character for JSON.
    """
    if not data:
        return "empty"
    if not truncated and len(data) <= 20 and _INTEGER.fullmatch(data) and -_INT64 <= int(data) < _INT64:
        return "integer"
    if not truncated and len(data) <= 64 and _FLOAT.fullmatch(data):
        return "float"
    if b"\x00" in data:
        return "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a truncated prefix may end inside a multi-byte character
        if not (truncated and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data"):
            return "binary"
        text = data[: exc.start].decode("utf-8")
    stripped = text.lstrip()
    first = stripped[:1]
    if truncated:
        return {"{": "json_object", "[": "json_array"}.get(first, "text")
    if first in ("{", "[", '"') or stripped.rstrip() in ("true", "false", "null"):
        try:
            parsed = json.loads(text, parse_constant=_reject_constant)
        except ValueError:
            return "text"
        if isinstance(parsed, dict):
            return "json_object"
        if isinstance(parsed, list):
            return "json_array"
        return "json_scalar"
    return "text"


def _reject_constant(name: str) -> Any:
    """Refuse NaN/Infinity: PostgreSQL jsonb does not accept them."""
    raise ValueError(name)


# --------------------------------------------------------------------------- statistics


def _percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return float(sorted_values[rank - 1])


def size_stats(values: Sequence[int]) -> SizeStats:
    """count/total/p50/p95/max of per-key numbers."""
    if not values:
        return SizeStats()
    ordered = sorted(values)
    return SizeStats(
        count=len(ordered),
        total=sum(ordered),
        p50=_percentile(ordered, 0.5),
        p95=_percentile(ordered, 0.95),
        max=ordered[-1],
    )


def ttl_bucket(seconds: float | None) -> str:
    """The :data:`TTL_BUCKETS` label of a TTL (None: no TTL)."""
    if seconds is None:
        return "none"
    hours = seconds / 3600
    if hours < 1:
        return "<1h"
    if hours < 4:
        return "1-4h"
    if hours < 12:
        return "4-12h"
    if hours < 24:
        return "12-24h"
    if hours < 24 * 7:
        return "1-7d"
    return ">7d"


def ttl_stats(ttls: Sequence[float | None]) -> TTLStats:
    """TTL facts of a pattern's sampled keys (seconds, None = no TTL)."""
    with_ttl = sorted(t for t in ttls if t is not None)
    buckets = Counter(ttl_bucket(t) for t in ttls)
    return TTLStats(
        with_ttl=len(with_ttl),
        without_ttl=len(ttls) - len(with_ttl),
        p50_seconds=_percentile(with_ttl, 0.5),
        p95_seconds=_percentile(with_ttl, 0.95),
        buckets={label: buckets[label] for label in TTL_BUCKETS if buckets[label]},
    )


# --------------------------------------------------------------------------- per-key facts


@dataclass
class _KeyFacts:
    """What the describe rounds learned about one sampled key."""

    key: bytes
    redis_type: str
    ttl: float | None
    memory: int | None
    encoding: str | None
    length: int | None = None
    shapes: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    token: bool = False
    score_min: float | None = None
    score_max: float | None = None
    members: list[bytes] = field(default_factory=list)


def is_token(value: bytes) -> bool:
    """A value that looks like a random owner token: 16-64 url-safe characters with letters and digits."""
    return bool(_TOKEN.fullmatch(value)) and any(c in b"0123456789" for c in value) and any(c > 0x39 for c in value)


def is_tag(member: bytes) -> bool:
    """A set member that reads as a short word or tag (``redis``, ``new-york``), not an id or token."""
    try:
        text = member.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_TAG.fullmatch(text)) and not is_token(member)


def _score(value: Any) -> float | None:
    """A ZRANGE WITHSCORES score (bytes in RESP2, float in RESP3)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bytes):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    """Decode a bytes reply (None/exceptions -> None)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value
    return None


def _int(value: Any) -> int | None:
    """An integer reply, or None for missing keys and per-command errors."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pairs(flat: Any) -> list[tuple[bytes, bytes]]:
    """Field/value pairs from a flat ``[f1, v1, f2, v2, ...]`` reply (or a RESP3 map)."""
    if isinstance(flat, dict):
        return list(flat.items())
    if isinstance(flat, list):
        return list(zip(flat[0::2], flat[1::2], strict=False))
    return []


def _describe_chunk(client: redis.Redis, keys: Sequence[bytes]) -> list[_KeyFacts]:
    """Three pipelined rounds for a chunk of keys; keys that vanished meanwhile are dropped."""
    commands: list[tuple[bytes, ...]] = []
    for key in keys:
        commands += [(b"TYPE", key), (b"PTTL", key), (b"MEMORY", b"USAGE", key), (b"OBJECT", b"ENCODING", key)]
    replies = round_trip(client, commands)
    facts: list[_KeyFacts] = []
    for i, key in enumerate(keys):
        rtype, pttl, memory, encoding = replies[4 * i : 4 * i + 4]
        type_name = _text(rtype)
        if type_name is None or type_name == "none":
            continue  # expired or deleted since SCAN
        pttl_ms = _int(pttl)
        if pttl_ms == -2:
            continue
        facts.append(
            _KeyFacts(
                key=key,
                redis_type=type_name,
                ttl=pttl_ms / 1000.0 if pttl_ms is not None and pttl_ms >= 0 else None,
                memory=_int(memory),
                encoding=_text(encoding),
            )
        )
    # round 2: lengths (their size decides how much of each value round 3 may read)
    measured = [f for f in facts if f.redis_type in _LENGTH_COMMAND]
    lengths = round_trip(client, [(_LENGTH_COMMAND[f.redis_type].encode(), f.key) for f in measured])
    for f, length in zip(measured, lengths, strict=True):
        f.length = _int(length)
    # round 3: bounded value peek for strings and hashes; score ends of zsets; a few set members
    peeks: list[tuple[_KeyFacts, bool]] = []
    commands = []
    for f in facts:
        if f.redis_type == "string":
            big = f.length is not None and f.length > STRING_PEEK_LIMIT
            commands.append((b"GETRANGE", f.key, b"0", b"%d" % (STRING_PEEK_PREFIX - 1)) if big else (b"GET", f.key))
            peeks.append((f, big))
        elif f.redis_type == "hash":
            big = f.length is None or f.length > HASH_FULL_LIMIT
            commands.append(
                (b"HSCAN", f.key, b"0", b"COUNT", b"%d" % HASH_FIELD_VALUES_PER_KEY) if big else (b"HGETALL", f.key)
            )
            peeks.append((f, big))
        elif f.redis_type == "zset":
            # two O(log n) reads give the score range; scores decide "timestamp" vs "ranking"
            commands.append((b"ZRANGE", f.key, b"0", b"0", b"WITHSCORES"))
            commands.append((b"ZRANGE", f.key, b"-1", b"-1", b"WITHSCORES"))
            peeks.append((f, False))
            peeks.append((f, True))
        elif f.redis_type == "set":
            commands.append((b"SRANDMEMBER", f.key, b"%d" % SET_MEMBER_PEEK))
            peeks.append((f, False))
        elif f.redis_type == "list":
            # Both ends (O(1) each): element shapes decide a queue's payload type (JSON, text, binary).
            commands.append((b"LRANGE", f.key, b"0", b"%d" % (LIST_ITEM_PEEK - 1)))
            commands.append((b"LRANGE", f.key, b"-%d" % LIST_ITEM_PEEK, b"-1"))
            peeks.append((f, False))
            peeks.append((f, True))
    for (f, big), reply in zip(peeks, round_trip(client, commands), strict=True):
        if f.redis_type == "list":
            items = [v for v in reply if isinstance(v, bytes)] if isinstance(reply, list) else []
            if not big or (f.length or 0) > 2 * LIST_ITEM_PEEK:  # short lists: both windows overlap
                f.shapes.extend(value_shape(v) for v in items)
            continue
        if f.redis_type == "string":
            if isinstance(reply, bytes):
                f.shapes.append(value_shape(reply, truncated=big))
                f.token = not big and is_token(reply)
            continue
        if f.redis_type == "zset":
            flat = reply if isinstance(reply, list) else []
            # RESP2: [member, score]; RESP3: [[member, score]]
            pair = flat[0] if flat and isinstance(flat[0], list) else flat
            score = _score(pair[1]) if len(pair) >= 2 else None
            if score is not None:
                if big:
                    f.score_max = score
                else:
                    f.score_min = score
            continue
        if f.redis_type == "set":
            f.members = [m for m in reply if isinstance(m, bytes)] if isinstance(reply, list) else []
            f.shapes.extend(value_shape(m) for m in f.members)
            continue
        pairs = _pairs(reply[1] if big and isinstance(reply, list) and len(reply) == 2 else reply)
        f.fields = [key_to_text(name) for name, _ in pairs if isinstance(name, bytes)]
        for _, value in pairs[:HASH_FIELD_VALUES_PER_KEY]:
            if isinstance(value, bytes):
                f.shapes.append(value_shape(value))
    return facts


# --------------------------------------------------------------------------- server facts


def _safe(call: Any, *args: Any) -> Any:
    """Run a best-effort command: a forbidden/renamed/unknown command yields None."""
    try:
        return call(*args)
    except redis.ResponseError:
        return None


def _server_info(client: redis.Redis) -> tuple[RedisServerInfo, dict[str, int]]:
    """INFO sections, CONFIG, PUBSUB and CLIENT LIST; returns the info and channel subscriber counts."""
    server = client.info("server")
    memory = _safe(client.info, "memory") or {}
    keyspace_raw = _safe(client.info, "keyspace") or {}
    stats_raw = _safe(client.info, "commandstats") or {}
    clients = _safe(client.info, "clients") or {}
    keyspace: dict[int, int] = {}
    for name, value in keyspace_raw.items():
        if str(name).startswith("db") and str(name)[2:].isdigit() and isinstance(value, dict):
            keyspace[int(str(name)[2:])] = int(value.get("keys", 0))
    commandstats = _commandstats(stats_raw)
    libraries, blocked = _client_list(client)
    policy = _safe(client.config_get, "maxmemory-policy")
    policy_value = _text(policy.get("maxmemory-policy") or policy.get(b"maxmemory-policy")) if policy else None
    channels = _pubsub(client)
    info = RedisServerInfo(
        redis_version=str(server.get("redis_version", "unknown")),
        mode=str(server.get("redis_mode", "standalone")),
        used_memory=int(memory.get("used_memory", 0)),
        maxmemory=int(memory.get("maxmemory", 0)),
        maxmemory_policy=policy_value or (str(memory["maxmemory_policy"]) if "maxmemory_policy" in memory else None),
        keyspace=keyspace,
        commandstats=commandstats,
        pubsub_numpat=int(_safe(client.pubsub_numpat) or 0),
        client_libraries=libraries,
        connected_clients=int(clients.get("connected_clients", 0)),
        blocked_clients=int(clients.get("blocked_clients", 0)),
        blocked_commands=blocked,
        uptime_seconds=int(server.get("uptime_in_seconds", 0)),
    )
    return info, channels


def _commandstats(stats_raw: dict[str, Any]) -> dict[str, CommandStat]:
    """INFO commandstats (as parsed by redis-py) -> command -> :class:`CommandStat`."""
    commandstats: dict[str, CommandStat] = {}
    for name, value in stats_raw.items():
        if str(name).startswith("cmdstat_") and isinstance(value, dict):
            commandstats[str(name)[8:].lower()] = CommandStat(
                calls=int(value.get("calls", 0)),
                usec=int(value.get("usec", 0)),
                usec_per_call=float(value.get("usec_per_call", 0.0)),
            )
    return commandstats


def _pubsub(client: redis.Redis) -> dict[str, int]:
    """Active channels -> subscriber count (capped at :data:`MAX_CHANNELS`)."""
    names = _safe(client.pubsub_channels) or []
    names = sorted(names)[:MAX_CHANNELS]
    if not names:
        return {}
    counts = _safe(client.pubsub_numsub, *names) or []
    out: dict[str, int] = {}
    for entry in counts:
        name, count = entry[0], entry[1]
        out[key_to_text(name) if isinstance(name, bytes) else str(name)] = int(count)
    return out


def _client_list(client: redis.Redis) -> tuple[dict[str, int], dict[str, int]]:
    """From CLIENT LIST: ``lib-name`` -> connections (Redis >= 7.2 only; empty before) and blocked
    clients (flag ``b``) per command they wait in (``brpop``, ``xreadgroup``, ...)."""
    entries = _safe(client.client_list) or []
    return client_list_facts(entries)


def client_list_facts(entries: Sequence[Any]) -> tuple[dict[str, int], dict[str, int]]:
    """``(libraries, blocked_commands)`` from parsed CLIENT LIST entries (pure)."""
    libs: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = _text(entry.get("lib-name")) or None
        if name:
            libs[name] += 1
        flags = _text(entry.get("flags")) or ""
        if "b" in flags:
            blocked[(_text(entry.get("cmd")) or "unknown").lower()] += 1
    return dict(libs), dict(blocked)


def observe_commandstats(client: redis.Redis, seconds: float, progress: ProgressSink | None = None) -> ObservedRates:
    """Read INFO commandstats twice ``seconds`` apart and return per-command rates.

    The analyzer's own INFO calls are in the delta (one ``info`` call); nothing else it does runs
    inside the window, so the rates are the applications' traffic. A counter that went backwards
    (CONFIG RESETSTAT, restart) counts as zero, never negative.
    """
    sink: ProgressSink = progress or NullProgress()
    task = f"observe: commandstats for {seconds:g}s"
    # Subscribing to the active channels for the same window measures real payload sizes, which
    # decide whether LISTEN/NOTIFY (8000-byte payloads) can carry them. Its own connection.
    channels = [c for c in (_safe(client.pubsub_channels) or []) if isinstance(c, bytes | str)]
    payloads: dict[str, list[int]] = {}
    pubsub = client.pubsub(ignore_subscribe_messages=True) if channels else None
    if pubsub is not None:
        pubsub.subscribe(*channels)
    before = _commandstats(client.info("commandstats"))
    t0 = time.monotonic()
    sink.start(task, max(1, math.ceil(seconds)))
    done = 0
    try:
        while (elapsed := time.monotonic() - t0) < seconds:
            step = min(1.0, seconds - elapsed)
            if pubsub is None:
                time.sleep(step)
            else:
                _drain_messages(pubsub, payloads, until=time.monotonic() + step)
            ticks = min(math.floor(time.monotonic() - t0), math.ceil(seconds))
            if ticks > done:
                sink.advance(task, ticks - done)
                done = ticks
        after = _commandstats(client.info("commandstats"))
    finally:
        if pubsub is not None:
            pubsub.close()
    window = time.monotonic() - t0
    sink.finish(task)
    rates = rates_between(before, after, window)
    rates.channel_payloads = {name: (len(sizes), max(sizes)) for name, sizes in sorted(payloads.items())}
    for channel in channels:
        name = key_to_text(channel if isinstance(channel, bytes) else channel.encode())
        rates.channel_payloads.setdefault(name, (0, 0))
    return rates


def _drain_messages(pubsub: Any, payloads: dict[str, list[int]], *, until: float) -> None:
    """Record the size of every message received until ``until`` (monotonic), per channel."""
    while (left := until - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if not message or message.get("type") != "message":
            continue
        channel, data = message.get("channel"), message.get("data")
        if isinstance(channel, bytes) and isinstance(data, bytes | str):
            size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
            payloads.setdefault(key_to_text(channel), []).append(size)


def rates_between(before: dict[str, CommandStat], after: dict[str, CommandStat], seconds: float) -> ObservedRates:
    """Per-command rates from two commandstats snapshots ``seconds`` apart (pure)."""
    commands: dict[str, CommandRate] = {}
    total = 0.0
    for name, stat in after.items():
        prev = before.get(name, CommandStat(calls=0, usec=0))
        calls = stat.calls - prev.calls
        if calls <= 0 or seconds <= 0:
            continue
        usec = max(stat.usec - prev.usec, 0)
        rate = calls / seconds
        total += rate
        commands[name] = CommandRate(calls_per_sec=round(rate, 3), usec_per_call=round(usec / calls, 3))
    return ObservedRates(seconds=round(seconds, 3), total_calls_per_sec=round(total, 3), commands=commands)


def redis_fingerprint(client: redis.Redis, url: str) -> str:
    """Short sha256 of ``host:port/db`` and the server's major.minor version.

    Stable across restarts and data changes (a plan stays valid), different for another server,
    database or Redis release line (a plan made elsewhere is refused).
    """
    parts = urlsplit(url)
    if parts.scheme == "unix":
        location = f"unix:{parts.path}/{db_from_url(url)}"
    else:
        location = f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{db_from_url(url)}"
    version = str(client.info("server").get("redis_version", "0.0"))
    major_minor = ".".join(version.split(".")[:2])
    return hashlib.sha256(f"redis|{location}|{major_minor}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- sampling


def _scan_sample(client: redis.Redis, sample: int, scan_count: int, progress: ProgressSink) -> tuple[list[bytes], bool]:
    """SCAN until ``sample`` distinct keys were seen; returns them and whether the scan completed."""
    seen: dict[bytes, None] = {}
    cursor = 0
    progress.start("sample: scan", sample)
    while True:
        cursor, page = client.scan(cursor=cursor, count=scan_count)
        before = len(seen)
        for key in page:
            seen.setdefault(_as_bytes(key), None)
        progress.advance("sample: scan", len(seen) - before)
        if int(cursor) == 0:
            progress.finish("sample: scan")
            return list(seen), True
        if len(seen) >= sample:
            progress.finish("sample: scan")
            return list(seen)[:sample], False


def _as_bytes(key: bytes | str) -> bytes:
    """Keys are bytes with ``decode_responses=False``; tolerate a str client anyway."""
    return key if isinstance(key, bytes) else key.encode("utf-8", "surrogateescape")


def sample_redis(
    client: redis.Redis,
    url: str,
    *,
    sample: int = 50_000,
    progress: ProgressSink | None = None,
    scan_count: int = 1000,
    observe: float = 0.0,
) -> RedisInventory:
    """Sample up to ``sample`` keys of the database ``client`` is connected to and classify them.

    ``observe`` > 0 first watches INFO commandstats for that many seconds (before sampling, so the
    sampler's own commands stay out of the window) and records the rates in ``server.observed``.
    """
    sink: ProgressSink = progress or NullProgress()
    shown = redact_url(url)
    if observe < 0:
        raise UsageError(f"--observe must be >= 0 seconds, got {observe:g}")
    try:
        observed = observe_commandstats(client, observe, sink) if observe > 0 else None
        inv = _sample(client, url, sample=max(sample, 1), sink=sink, scan_count=scan_count, observed=observed)
        return inv
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise ConnectionFailed(f"lost the connection to Redis at {shown}: {redact_text(str(exc))}") from None
    except redis.ResponseError as exc:
        raise SourceError(f"Redis at {shown} refused a sampling command: {redact_text(str(exc))}") from None


def _channel_report(name: str, subscribers: int, server: RedisServerInfo) -> ChannelReport:
    """A channel with its usage and, after --observe, the messages and largest payload seen."""
    report = ChannelReport(
        channel=name, subscribers=subscribers, usage=classify_channel(name, subscribers, server.pubsub_numpat)
    )
    seen = server.observed.channel_payloads.get(name) if server.observed is not None else None
    if seen is not None:
        report.messages_observed, biggest = seen
        report.max_payload_bytes = biggest if seen[0] else None
        report.usage.evidence.append(
            Evidence(
                signal="payload",
                detail=f"{seen[0]:,} message(s) in the --observe window, largest {biggest:,} bytes"
                if seen[0]
                else "no message in the --observe window: payload size not measured",
            )
        )
    return report


def _sample(
    client: redis.Redis,
    url: str,
    *,
    sample: int,
    sink: ProgressSink,
    scan_count: int,
    observed: ObservedRates | None = None,
) -> RedisInventory:
    """The body of :func:`sample_redis` (errors mapped by the caller)."""
    db = db_from_url(url)
    server, channels = _server_info(client)
    if observed is not None:
        server.observed = observed
    dbsize = int(client.dbsize())
    keys, complete = _scan_sample(client, sample, scan_count, sink)
    sink.start("sample: describe", len(keys))
    described: list[_KeyFacts] = []
    for start in range(0, len(keys), DESCRIBE_CHUNK):
        chunk = keys[start : start + DESCRIBE_CHUNK]
        described.extend(_describe_chunk(client, chunk))
        sink.advance("sample: describe", len(chunk))
    sink.finish("sample: describe")

    scanned = len(keys)
    context = KeyspaceContext.from_keys((key_to_text(f.key), f.redis_type) for f in described)
    groups = group_patterns([key_text_for_regex(f.key) for f in described], kinds=[_fold_label(f) for f in described])
    patterns: list[PatternReport] = []
    for group in groups:
        by_type: dict[str, list[_KeyFacts]] = {}
        for idx in group.members:
            by_type.setdefault(described[idx].redis_type, []).append(described[idx])
        for redis_type, members in by_type.items():
            facts = _pattern_facts(db, group.pattern, group.regex, group.glob, redis_type, members)
            if redis_type == "stream":
                facts.stream_groups = _stream_groups(client, [f.key for f in members[:MAX_STREAM_KEYS]])
            facts.estimated_keys = (
                len(members) if complete else max(len(members), round(len(members) / max(scanned, 1) * dbsize))
            )
            patterns.append(PatternReport(facts=facts, usage=classify_pattern(facts, server, context)))
    patterns.sort(key=lambda p: (-p.facts.estimated_keys, p.facts.pattern, p.facts.redis_type))
    return RedisInventory(
        url=redact_url(url),
        db=db,
        fingerprint=redis_fingerprint(client, url),
        server=server,
        sample=SampleInfo(requested=sample, scanned_keys=scanned, dbsize=dbsize, complete=complete),
        patterns=patterns,
        channels=[_channel_report(name, count, server) for name, count in sorted(channels.items())],
    )


def _fold_label(facts: _KeyFacts) -> str:
    """Label that a rare key must share with a family to be folded into it: type and big-ness.

    Patterns are grouped by name before types are split, so without it a lone ``cache:page:/x``
    hash could widen the string pattern ``cache:page:/{*}/{id}`` and still end up alone.
    """
    big = facts.redis_type != "string" and facts.length is not None and facts.length > BIG_KEY_ELEMENTS
    return f"{facts.redis_type}:big" if big else facts.redis_type


def _pattern_facts(
    db: int, pattern: str, regex: str, glob: str, redis_type: str, members: Sequence[_KeyFacts]
) -> KeyPattern:
    """Aggregate the per-key facts of one (pattern, type) into a :class:`KeyPattern`."""
    shapes: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    encodings: Counter[str] = Counter()
    binary_keys = 0
    lows = [f.score_min for f in members if f.score_min is not None]
    highs = [f.score_max for f in members if f.score_max is not None]
    sampled_members = [m for f in members for m in f.members]
    for f in members:
        shapes.update(f.shapes)
        for name in set(f.fields):
            if name in fields or len(fields) < MAX_TRACKED_FIELDS:
                fields[name] += 1
        if f.encoding:
            encodings[f.encoding] += 1
        try:
            f.key.decode("utf-8")
        except UnicodeDecodeError:
            binary_keys += 1
    top_fields = dict(sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FIELDS])
    return KeyPattern(
        db=db,
        pattern=pattern,
        regex=regex,
        match_glob=glob,
        redis_type=redis_type,
        sampled_keys=len(members),
        estimated_keys=len(members),
        example_keys=[key_to_text(f.key) for f in members[:3]],
        ttl=ttl_stats([f.ttl for f in members]),
        memory=size_stats([f.memory for f in members if f.memory is not None]),
        elements=size_stats([f.length for f in members if f.length is not None]),
        encodings=dict(encodings),
        value_shapes=dict(shapes),
        hash_fields=top_fields,
        binary_keys=binary_keys,
        token_values=sum(1 for f in members if f.token),
        score_min=min(lows) if lows else None,
        score_max=max(highs) if highs else None,
        members_sampled=len(sampled_members),
        members_tag_like=sum(1 for m in sampled_members if is_tag(m)),
    )


def _field(entry: dict[Any, Any], name: str) -> Any:
    """A field of a parsed XINFO reply, whether redis-py decoded the keys or not."""
    return entry[name] if name in entry else entry.get(name.encode())


def _stream_groups(client: redis.Redis, keys: Sequence[bytes]) -> list[StreamGroup]:
    """XINFO GROUPS of ``keys`` and XINFO CONSUMERS of their first groups (best effort)."""
    out: list[StreamGroup] = []
    for key in keys:
        groups = _safe(client.xinfo_groups, key) or []
        for g in groups[:MAX_STREAM_GROUPS]:
            if not isinstance(g, dict):
                continue
            name = _text(_field(g, "name")) or ""
            consumers = _safe(client.xinfo_consumers, key, name) or []
            out.append(
                StreamGroup(
                    key=key_to_text(key),
                    name=name,
                    consumers=int(_field(g, "consumers") or 0),
                    pending=int(_field(g, "pending") or 0),
                    last_delivered_id=_text(_field(g, "last-delivered-id")) or "0-0",
                    entries_read=_int(_field(g, "entries-read")),
                    lag=_int(_field(g, "lag")),
                    consumer_details=[
                        StreamConsumer(
                            name=_text(_field(c, "name")) or "",
                            pending=int(_field(c, "pending") or 0),
                            idle_ms=_int(_field(c, "idle")),
                        )
                        for c in consumers[:MAX_STREAM_GROUPS]
                        if isinstance(c, dict)
                    ],
                )
            )
    return out
