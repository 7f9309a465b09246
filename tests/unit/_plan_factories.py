"""Hand-built Inventory / TargetCaps / PlanItem objects for the planner, plan-file and mapping tests."""

from __future__ import annotations

from typing import Any

from pgconsolidate.models import (
    CommandStat,
    Inventory,
    KeyPattern,
    PatternReport,
    PlanItem,
    RedisInventory,
    RedisServerInfo,
    RedisSource,
    SampleInfo,
    SizeStats,
    TargetCaps,
    TargetSpec,
    TTLStats,
    Usage,
    UsageKind,
)


def caps(
    *,
    version_num: int = 180006,
    installed: dict[str, str] | None = None,
    available: dict[str, str] | None = None,
    cron_database: str | None = "postgres",
) -> TargetCaps:
    """Capabilities of a PostgreSQL target (18.6 by default, plpgsql installed, vector available).

    ``cron_database`` applies only when pg_cron is installed or available (as a preloaded pg_cron reports it).
    """
    major = version_num // 10000
    names = set(installed or {}) | set(available or {})
    return TargetCaps(
        url="postgresql://postgres:***@db.example:5432/app",
        server_version=f"{major}.{version_num % 100}",
        server_version_num=version_num,
        database="app",
        system_identifier="7300000000000000001",
        extensions_installed=installed if installed is not None else {"plpgsql": "1.0"},
        extensions_available=available if available is not None else {"plpgsql": "1.0", "vector": "0.8.0"},
        cron_database=cron_database if "pg_cron" in names else None,
        fingerprint="f" * 16,
    )


def pattern(
    pattern: str,
    kind: UsageKind,
    *,
    redis_type: str = "string",
    db: int = 0,
    with_ttl: int = 100,
    without_ttl: int = 0,
    shapes: dict[str, int] | None = None,
    estimated_keys: int = 10_000,
    memory_per_key: int = 200,
    binary_keys: int = 0,
    p95: float | None = None,
) -> PatternReport:
    """One classified key pattern with the facts the planner reads."""
    sampled = with_ttl + without_ttl
    return PatternReport(
        facts=KeyPattern(
            db=db,
            pattern=pattern,
            regex="^" + pattern.replace("{", "(?P<").replace("}", ">.+)") + "$",
            match_glob=pattern.split("{")[0] + "*",
            redis_type=redis_type,
            sampled_keys=sampled,
            estimated_keys=estimated_keys,
            ttl=TTLStats(with_ttl=with_ttl, without_ttl=without_ttl, p50_seconds=3600.0 if with_ttl else None),
            memory=SizeStats(
                count=sampled,
                total=sampled * memory_per_key,
                p50=memory_per_key,
                p95=p95 if p95 is not None else memory_per_key,
            ),
            value_shapes=shapes if shapes is not None else {"text": sampled},
            binary_keys=binary_keys,
        ),
        usage=Usage(kind=kind, confidence=0.9),
    )


def inventory(*patterns: PatternReport, commandstats: dict[str, int] | None = None) -> Inventory:
    """An Inventory of one Redis database holding ``patterns``."""
    stats = {name: CommandStat(calls=calls, usec=calls) for name, calls in (commandstats or {}).items()}
    return Inventory(
        tool_version="0.1.0",
        generated_at="2026-01-01T00:00:00+00:00",
        redis=RedisInventory(
            url="redis://:***@cache.example:6379/0",
            fingerprint="r" * 16,
            server=RedisServerInfo(redis_version="7.2.4", commandstats=stats),
            sample=SampleInfo(requested=1000, scanned_keys=1000, dbsize=10_000, complete=False),
            patterns=list(patterns),
        ),
    )


def item(
    mapping: str,
    options: dict[str, Any] | None = None,
    *,
    table: str = "redis_cache",
    schema: str = "public",
    redis_type: str = "string",
    item_id: str = "redis.db0.cache-id.abc123",
) -> PlanItem:
    """A migrate item for ``mapping`` with ``options``."""
    return PlanItem(
        id=item_id,
        source=RedisSource(pattern="cache:{id}", regex="^cache:.+$", match_glob="cache:*", redis_type=redis_type),
        usage=Usage(kind=UsageKind.CACHE, confidence=0.9),
        verdict="migrate",
        reason="test",
        target=TargetSpec(mapping=mapping, schema_name=schema, table=table, options=options or {}),
    )
