"""``rate_limit``: windowed rate-limit counters -> an UNLOGGED ``(key, value bigint, expires_at)`` table
plus ``<table>_hit()``, the check-and-increment that replaces ``INCRBY`` + ``EXPIRE``.

The keys are fixed-window counters with a short TTL: the ``limits`` library's
``LIMITS:LIMITER/<key>/<amount>/<multiples>/<granularity>`` strings, or hand-rolled
``rl:{user}:{window}`` ones. Copying and verifying them is exactly :class:`Counter`'s job (the
value is Redis' integer form, the TTL becomes ``expires_at``), so this class only changes the
name, the template and the options: the table is UNLOGGED by default (a crash empties it, which
only resets the current windows) and the template adds

``<table>_hit(key, max_hits, window_seconds, cost => 1) RETURNS TABLE(allowed, hits, reset_at)``:
one ``INSERT .. ON CONFLICT DO UPDATE`` (atomic per key, concurrent hits serialise on the row).
An absent or expired row starts a new window at ``cost`` that ends ``window_seconds`` from now;
a live row adds ``cost`` and keeps its end; ``allowed`` is ``hits <= max_hits``. A denied hit is
still counted, exactly like the ``limits`` library's fixed-window ``hit`` (see the template).

:func:`plan_options` is the planner's side: the verdict, reason, options and notes for a
pattern classified as a rate limit.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings.counter import Counter, CounterOptions
from pgconsolidate.models import KeyPattern, TargetCaps, Usage


class RateLimitOptions(CounterOptions):
    """``target.options`` of a ``rate_limit`` item: a counter's, plus ``unlogged`` (default on).

    Rate-limit windows live seconds to minutes; losing them in a crash lets a client start a fresh
    window early, which is the usual trade for skipping WAL on every hit.
    """

    unlogged: bool = True


class RateLimit(Counter):
    """Fixed-window rate-limit counters: copied and verified as counters, checked by ``<table>_hit``."""

    name: ClassVar[str] = "rate_limit"
    redis_types: ClassVar[frozenset[str]] = frozenset({"string"})
    Options: ClassVar[type[BaseModel]] = RateLimitOptions
    function: ClassVar[str] = "hit"


def plan_options(facts: KeyPattern, usage: Usage, caps: TargetCaps) -> c.PlanChoice:
    """Verdict, reason, options and notes for keys classified as rate limits.

    Only integer strings are fixed-window counters; lists and sorted sets are moving windows /
    sliding logs (the ``limits`` moving-window strategy, ``ZADD``+``ZREMRANGEBYSCORE`` recipes),
    which this mapping does not model: those are ``review``. Non-integer string values too.
    """
    who = f" ({usage.library})" if usage.library else ""
    if facts.redis_type != "string":
        return c.PlanChoice(
            "review",
            f"rate-limit keys{who} are Redis {facts.redis_type}s (a moving window or sliding log, "
            f"~{facts.estimated_keys:,} keys): only fixed-window integer counters map to a <table>_hit() "
            "function; keep them on Redis or switch the limiter to a fixed window first",
            {},
            [],
        )
    total = sum(facts.value_shapes.values())
    integers = facts.value_shapes.get("integer", 0)
    if total and integers < total:
        return c.PlanChoice(
            "review",
            f"only {integers} of {total} sampled values{who} are integers: a fixed-window counter holds an "
            "integer; what are the other values (set target.mapping to kv_table to copy them as text)?",
            {},
            [],
        )
    cleanup = c.choose_cleanup(facts.ttl.with_ttl, caps)
    options: dict[str, Any] = {
        "key_type": "bytea" if facts.binary_keys > 0 else "text",
        "unlogged": True,
        "cleanup": cleanup,
    }
    ttl = facts.ttl
    window = f"TTL p50 {ttl.p50_seconds:,.0f}s" if ttl.p50_seconds is not None else "no TTL seen"
    reason = (
        f"~{facts.estimated_keys:,} fixed-window rate-limit counters{who}, {window}: copied as "
        "(key, value, expires_at) rows; <table>_hit(key, max_hits, window_seconds) replaces INCRBY+EXPIRE"
    )
    notes = [
        "UNLOGGED table: a crash empties it, which only restarts the current windows early; no WAL per hit",
        "<table>_hit() is a fixed window that starts at a key's first hit (like the limits library's "
        "fixed-window strategy): denied hits still count, and a burst of up to 2x max_hits can straddle "
        "two windows; moving/sliding-window semantics are not reproduced",
    ]
    if ttl.without_ttl:
        notes.append(
            f"{ttl.without_ttl} of {ttl.with_ttl + ttl.without_ttl} sampled counters have no TTL (their window "
            "never ends in Redis); <table>_hit() gives such a row a window at its next hit"
        )
    if cleanup == "pg_cron":
        notes.append("expired windows are deleted every minute by a pg_cron job")
    elif cleanup == "sweep":
        notes.append(
            "pg_cron is not available: run `pgconsolidate sweep` periodically (expired rows are ignored by "
            "<table>_hit(), they only take space)"
        )
    if options["key_type"] == "bytea":
        notes.append(f"{facts.binary_keys} sampled key names are not UTF-8: key column is bytea")
    return c.PlanChoice("migrate", reason, options, notes)
