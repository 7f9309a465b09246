"""When a usage should stay on Redis: the ``keep`` thresholds, as pure functions over commandstats.

PostgreSQL replaces most Redis usages comfortably, but not every one: a few workloads rely on
Redis doing millions of in-memory single-key operations per second, or on server-side Lua. The
thresholds below are deliberately conservative (an order of magnitude above what one
PostgreSQL 18 primary sustains on the same kind of operation) so that ``keep`` means "this
really would hurt", and every reason carries the measured numbers so a reviewer can disagree.

Rates come from :attr:`RedisServerInfo.observed` (``analyze --observe N``: commandstats deltas
over N seconds) when present; otherwise from the lifetime commandstats divided by
``uptime_seconds`` (an average that hides peaks - the reason says so). With neither, no verdict.
Commandstats are server-wide, not per key pattern: a rate is attributed to every usage of the
matching kind, which is why the thresholds are high.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pgconsolidate.models import RedisServerInfo, UsageKind

INCR_COMMANDS = ("incr", "incrby", "decr", "decrby", "incrbyfloat", "hincrby", "hincrbyfloat")
SCRIPT_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")
ZSET_WRITE_COMMANDS = ("zadd", "zincrby")
BLOCKING_POP_COMMANDS = ("blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop")
STREAM_COMMANDS = ("xadd", "xreadgroup", "xack")

MAX_INCR_PER_SEC = 1_000_000.0
"""Total increments/s above which counters stay. A PostgreSQL row update is a new tuple version
plus WAL: a single hot row tops out near 50-100k updates/s, and even sharded counter rows with
batched UPSERTs struggle past a few hundred thousand/s on one primary; Redis does >1M INCR/s."""

SCRIPT_SHARE = 0.30
"""EVAL/EVALSHA/FCALL share of all calls from which Lua is "heavy": the application's logic lives
in server-side scripts that must be rewritten as SQL functions, not just re-pointed."""
MAX_SCRIPT_PER_SEC = 10_000.0
"""Scripts/s above which Lua stays regardless of share: each call is an atomic multi-key
transaction; as PL/pgSQL each becomes a transaction with row locks and WAL."""

MAX_ZADD_PER_SEC = 100_000.0
"""ZADD/ZINCRBY per second above which leaderboards stay: every update moves a B-tree entry of the
(board, score) index; PostgreSQL sustains tens of thousands of such index updates per second."""

MAX_BLOCKING_POPS_PER_SEC = 20_000.0
"""Blocking pops/s above which queues stay: a pgmq read is a SELECT ... FOR UPDATE SKIP LOCKED plus
an UPDATE (and a DELETE/archive on ack); ~5-20k messages/s per queue table is its realistic range."""
MAX_BLOCKED_CLIENTS = 500
"""Consumers parked in BLPOP/BRPOP at once above which queues stay: each would be a PostgreSQL
connection polling (or LISTENing); that many connections need a pooler and change the design."""

MAX_PUBLISH_PER_SEC = 50_000.0
"""PUBLISH/s above which pub/sub stays: NOTIFY takes a global lock at commit and queues through one
8 GB buffer per cluster; tens of thousands of notifications/s is where it saturates."""

MAX_STREAM_PER_SEC = 50_000.0
"""XADD/XREADGROUP/XACK per second above which streams stay (each is an INSERT/UPDATE in PostgreSQL)."""


@dataclass(frozen=True)
class Rates:
    """Per-second command rates and where they came from."""

    per_sec: dict[str, float]
    total: float
    source: str
    """Human phrase for the reason: ``observed over 10 s`` or ``averaged over 3.2 days of uptime``."""


def command_rates(server: RedisServerInfo) -> Rates | None:
    """Per-command calls/s: observed deltas when present, else lifetime averages over uptime, else None."""
    if server.observed is not None and server.observed.seconds > 0:
        per_sec = {name: rate.calls_per_sec for name, rate in server.observed.commands.items()}
        return Rates(per_sec, server.observed.total_calls_per_sec, f"observed over {server.observed.seconds:g} s")
    if server.uptime_seconds > 0 and server.commandstats:
        per_sec = {name: stat.calls / server.uptime_seconds for name, stat in server.commandstats.items()}
        return Rates(
            per_sec,
            sum(per_sec.values()),
            f"lifetime commandstats averaged over {_duration(server.uptime_seconds)} of uptime (peaks are higher; "
            "run analyze --observe SECONDS for current rates)",
        )
    return None


def _duration(seconds: float) -> str:
    """``"3.2 days"``, ``"5.0 h"``, ``"40 s"``."""
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def human_rate(value: float) -> str:
    """``1_400_000`` -> ``"1.4M"``, ``12_500`` -> ``"12.5k"``, ``42.0`` -> ``"42"``."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _sum(rates: Rates, commands: Iterable[str]) -> tuple[float, str]:
    """Total rate of ``commands`` and a ``"INCR 1.2M/s, HINCRBY 200k/s"`` breakdown (biggest first)."""
    parts = sorted(((c, rates.per_sec.get(c, 0.0)) for c in commands), key=lambda x: -x[1])
    parts = [(c, r) for c, r in parts if r > 0]
    return sum(r for _, r in parts), ", ".join(f"{c.upper()} {human_rate(r)}/s" for c, r in parts[:4])


def keep_reason(kind: UsageKind, server: RedisServerInfo) -> str | None:
    """Why a usage of ``kind`` should stay on Redis, with the numbers; None when nothing says so.

    Contract (for the planner): pure, cheap, deterministic. ``server`` is the inventory's
    :class:`RedisServerInfo`; rates come from ``server.observed`` (``analyze --observe``) or,
    without it, from lifetime commandstats over ``server.uptime_seconds`` (the reason says which).
    Returns None when there are no rates at all or every rate is under its threshold; the
    returned text is one or more sentences fit for ``PlanItem.reason`` of a ``keep`` verdict.
    Heavy Lua applies to every kind of usage (the scripts may touch any key); the other
    thresholds apply to their kind only: COUNTER/RATE_LIMIT (increments), LEADERBOARD (ZADD),
    QUEUE (blocking pops, blocked clients), PUBSUB (PUBLISH), STREAM (XADD/XREADGROUP/XACK).
    Commandstats are server-wide, so a rate is attributed to each usage of the kind.
    """
    rates = command_rates(server)
    reasons: list[str] = []
    if rates is not None:
        reasons += _kind_reasons(kind, rates)
        reasons += _script_reasons(rates)
    if kind is UsageKind.QUEUE:
        blocked = sum(n for c, n in server.blocked_commands.items() if c in BLOCKING_POP_COMMANDS)
        if blocked > MAX_BLOCKED_CLIENTS:
            reasons.append(
                f"{blocked:,} clients are blocked in list/zset pops (CLIENT LIST) > {MAX_BLOCKED_CLIENTS:,}: "
                "each consumer would need its own PostgreSQL connection polling or LISTENing"
            )
    return " ".join(reasons) if reasons else None


def _kind_reasons(kind: UsageKind, rates: Rates) -> list[str]:
    """The per-kind rate thresholds."""
    if kind in (UsageKind.COUNTER, UsageKind.RATE_LIMIT):
        total, parts = _sum(rates, INCR_COMMANDS)
        if total > MAX_INCR_PER_SEC:
            return [
                f"{human_rate(total)} increments/s ({parts}; {rates.source}) > {human_rate(MAX_INCR_PER_SEC)}/s: "
                "PostgreSQL row updates top out near ~50-100k/s per hot row (each is a new tuple version + WAL)."
            ]
    elif kind is UsageKind.LEADERBOARD:
        total, parts = _sum(rates, ZSET_WRITE_COMMANDS)
        if total > MAX_ZADD_PER_SEC:
            return [
                f"{human_rate(total)} sorted-set writes/s ({parts}; {rates.source}) > "
                f"{human_rate(MAX_ZADD_PER_SEC)}/s: each moves an entry of the (board, score) B-tree index."
            ]
    elif kind is UsageKind.QUEUE:
        total, parts = _sum(rates, BLOCKING_POP_COMMANDS)
        if total > MAX_BLOCKING_POPS_PER_SEC:
            return [
                f"{human_rate(total)} blocking pops/s ({parts}; {rates.source}) > "
                f"{human_rate(MAX_BLOCKING_POPS_PER_SEC)}/s: a pgmq read is SELECT ... FOR UPDATE SKIP LOCKED + UPDATE."
            ]
    elif kind is UsageKind.PUBSUB:
        total, parts = _sum(rates, ("publish", "spublish"))
        if total > MAX_PUBLISH_PER_SEC:
            return [
                f"{human_rate(total)} PUBLISH/s ({rates.source}) > {human_rate(MAX_PUBLISH_PER_SEC)}/s: "
                "NOTIFY serialises on a global lock at commit."
            ]
    elif kind is UsageKind.STREAM:
        total, parts = _sum(rates, STREAM_COMMANDS)
        if total > MAX_STREAM_PER_SEC:
            return [
                f"{human_rate(total)} stream operations/s ({parts}; {rates.source}) > "
                f"{human_rate(MAX_STREAM_PER_SEC)}/s: each is an INSERT or UPDATE in PostgreSQL."
            ]
    return []


def _script_reasons(rates: Rates) -> list[str]:
    """Heavy server-side Lua (any kind)."""
    total, parts = _sum(rates, SCRIPT_COMMANDS)
    if total <= 0:
        return []
    share = total / rates.total if rates.total > 0 else 0.0
    if share >= SCRIPT_SHARE or total > MAX_SCRIPT_PER_SEC:
        return [
            f"heavy Lua: {human_rate(total)} scripts/s ({parts}), {share:.0%} of all calls ({rates.source}); "
            f"thresholds {SCRIPT_SHARE:.0%} of calls or {human_rate(MAX_SCRIPT_PER_SEC)}/s: the logic must be "
            "rewritten as SQL functions, each call a transaction with row locks."
        ]
    return []
