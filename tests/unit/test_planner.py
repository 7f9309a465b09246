"""Planner rules over hand-built Inventories: mapping choice, verdicts, names, ids, determinism."""

from __future__ import annotations

import pytest
from _plan_factories import caps, inventory, pattern

from pgconsolidate.models import (
    ChannelReport,
    CommandRate,
    ObservedRates,
    PatternReport,
    Plan,
    PlanItem,
    TargetCaps,
    TargetSpec,
    Usage,
)
from pgconsolidate.models import UsageKind as K
from pgconsolidate.planner import build_plan, item_id, table_name

PG_CRON = {"plpgsql": "1.0", "pg_cron": "1.6"}


def plan_of(
    *patterns: PatternReport, target: TargetCaps | None = None, commandstats: dict[str, int] | None = None
) -> Plan:
    inv = inventory(*patterns, commandstats=commandstats)
    return build_plan(inv, target or caps(), generated_at="2026-01-01T00:00:00+00:00")


def only(plan: Plan) -> PlanItem:
    assert len(plan.items) == 1
    return plan.items[0]


def target(it: PlanItem) -> TargetSpec:
    assert it.target is not None
    return it.target


def test_cache_with_pg_cron_is_unlogged_kv_table_with_cron_cleanup() -> None:
    it = only(plan_of(pattern("cache:{hash}", K.CACHE), target=caps(available=PG_CRON)))
    assert it.verdict == "migrate"
    assert target(it).mapping == "kv_table"
    assert target(it).table == "redis_cache"
    assert target(it).options == {"value_type": "text", "key_type": "text", "unlogged": True, "cleanup": "pg_cron"}
    assert any("pg_cron job" in n for n in it.notes)


def test_cache_without_pg_cron_falls_back_to_sweep_and_says_why() -> None:
    it = only(plan_of(pattern("cache:{hash}", K.CACHE)))
    assert target(it).options["cleanup"] == "sweep"
    assert any("pg_cron is not available" in n and "pgconsolidate sweep" in n for n in it.notes)


def test_session_json_strings_become_jsonb_and_hashes_hash_jsonb() -> None:
    shapes = {"json_object": 96, "empty": 4}
    it = only(plan_of(pattern("session:{uuid}", K.SESSION, shapes=shapes)))
    assert target(it).options["value_type"] == "jsonb" and target(it).options["unlogged"] is True
    it = only(plan_of(pattern("sess:{uuid}", K.SESSION, redis_type="hash")))
    assert target(it).mapping == "hash_jsonb" and target(it).options["unlogged"] is True


@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        ({"json_object": 95, "empty": 5}, "jsonb"),
        ({"json_object": 94, "empty": 6}, "text"),
        ({"json_object": 99, "text": 1}, "text"),
        ({"json_object": 99, "binary": 1}, "bytea"),
        ({"text": 50, "integer": 50}, "text"),
    ],
)
def test_value_type_rules(shapes: dict[str, int], expected: str) -> None:
    it = only(plan_of(pattern("cache:{id}", K.CACHE, shapes=shapes, with_ttl=sum(shapes.values()))))
    assert target(it).options["value_type"] == expected


def test_binary_key_names_make_bytea_keys() -> None:
    it = only(plan_of(pattern("blob:{hex}", K.CACHE, binary_keys=3)))
    assert target(it).options["key_type"] == "bytea"
    assert any("not UTF-8" in n for n in it.notes)


def test_binary_hash_values_choose_base64_and_record_it() -> None:
    it = only(plan_of(pattern("img:{id}", K.OBJECT_HASH, redis_type="hash", shapes={"binary": 2, "text": 8})))
    assert target(it).options["field_encoding"] == "base64"
    assert any("base64" in n for n in it.notes)


def test_documents_and_object_hashes_are_logged_without_cleanup() -> None:
    doc = only(plan_of(pattern("doc:{id}", K.JSON_DOCUMENT, with_ttl=0, without_ttl=20, shapes={"json_object": 20})))
    assert target(doc).options == {"value_type": "jsonb", "key_type": "text", "unlogged": False, "cleanup": "none"}
    obj = only(plan_of(pattern("user:{id}:profile", K.OBJECT_HASH, redis_type="hash", with_ttl=0, without_ttl=9)))
    assert target(obj).mapping == "hash_jsonb" and target(obj).table == "redis_user_profile"
    assert target(obj).options["unlogged"] is False and target(obj).options["cleanup"] == "none"


def test_counter_maps_to_counter_and_non_integers_fall_back() -> None:
    it = only(plan_of(pattern("views:{id}", K.COUNTER, shapes={"integer": 100})))
    assert target(it).mapping == "counter" and target(it).options == {"key_type": "text", "cleanup": "sweep"}
    mixed = only(plan_of(pattern("views:{id}", K.COUNTER, shapes={"integer": 90, "text": 10})))
    assert target(mixed).mapping == "kv_table"
    assert any("only 90 of 100" in n for n in mixed.notes)


def test_heavy_lua_keeps_counters_and_notes_others() -> None:
    stats = {"cmdstat_evalsha": 300, "cmdstat_get": 700}
    plan = plan_of(
        pattern("views:{id}", K.COUNTER, shapes={"integer": 100}), pattern("c:{id}", K.CACHE), commandstats=stats
    )
    counter = next(it for it in plan.items if "views" in it.id)
    assert counter.verdict == "keep" and "30%" in counter.reason and counter.target is None
    cache = next(it for it in plan.items if it.id.startswith("redis.db0.c-"))
    assert cache.verdict == "migrate" and any("Lua is 30%" in n for n in cache.notes)


def test_huge_cache_is_kept_with_numbers() -> None:
    it = only(plan_of(pattern("page:{hash}", K.CACHE, estimated_keys=5_000_000, memory_per_key=2048)))
    assert it.verdict == "keep" and it.target is None
    assert "5,000,000 keys" in it.reason and "9.5 GiB" in it.reason


@pytest.mark.parametrize(
    ("kind", "redis_type", "shapes", "mapping"),
    [
        (K.SET, "set", None, "set_members"),
        (K.LEADERBOARD, "zset", None, "leaderboard"),
        (K.STREAM, "stream", None, "stream_table"),
        (K.RATE_LIMIT, "string", {"integer": 100}, "rate_limit"),
        (K.LOCK, "string", None, "advisory_lock"),
        (K.QUEUE, "list", {"json_object": 100}, "queue_pgmq"),
    ],
)
def test_every_redis_usage_has_a_mapping(kind: K, redis_type: str, shapes: dict[str, int] | None, mapping: str) -> None:
    it = only(plan_of(pattern("x:{id}", kind, redis_type=redis_type, shapes=shapes)))
    assert it.verdict == "migrate", it.reason
    assert target(it).mapping == mapping


def test_usage_on_a_type_its_mapping_cannot_read_is_review() -> None:
    it = only(plan_of(pattern("x:{id}", K.SET, redis_type="hash")))
    assert it.verdict == "review" and it.target is None
    assert "set_members mapping reads set keys" in it.reason


def test_queue_keys_the_sample_named_become_one_pgmq_queue_each() -> None:
    report = pattern("rq:queue:{*}", K.QUEUE, redis_type="list", shapes={"text": 2}, estimated_keys=2)
    report.facts.example_keys = ["rq:queue:default", "rq:queue:high"]
    plan = plan_of(report)
    assert [it.source.pattern for it in plan.items] == ["rq:queue:default", "rq:queue:high"]  # type: ignore[union-attr]
    tables = [(target(it).schema_name, target(it).table) for it in plan.items]
    assert all(schema == "pgmq" and table.startswith("q_") for schema, table in tables)
    assert len(set(tables)) == 2
    first = plan.items[0].source
    assert first.regex == r"rq:queue:default" and first.match_glob == "rq:queue:default"  # type: ignore[union-attr]


def test_observed_rates_over_the_thresholds_keep_the_usage_on_redis() -> None:
    inv = inventory(pattern("views:{id}", K.COUNTER, shapes={"integer": 100}))
    assert inv.redis is not None
    inv.redis.server.observed = ObservedRates(
        seconds=10.0,
        total_calls_per_sec=1_500_000.0,
        commands={"incr": CommandRate(calls_per_sec=1_500_000.0, usec_per_call=1.0)},
    )
    it = only(build_plan(inv, caps(), generated_at="x"))
    assert it.verdict == "keep" and it.target is None
    assert "INCR" in it.reason and "1.5M/s" in it.reason


def test_channel_without_measured_payloads_is_review_with_the_notify_construct() -> None:
    inv = inventory()
    assert inv.redis is not None
    usage = Usage(kind=K.PUBSUB, confidence=0.95)
    inv.redis.channels = [ChannelReport(channel="orders:created", subscribers=2, usage=usage)]
    it = only(build_plan(inv, caps(), generated_at="x"))
    assert it.verdict == "review" and "not measured" in " ".join([it.reason, *it.notes])


def test_unclassified_usage_asks_the_reviewer_a_question() -> None:
    it = only(plan_of(pattern("x:{id}", K.UNKNOWN)))
    assert it.verdict == "review" and it.target is None
    assert "could not be classified: what does the application use them for?" in it.reason


def test_unsupported_redis_type_for_a_cache_is_review() -> None:
    it = only(plan_of(pattern("list:{id}", K.CACHE, redis_type="list")))
    assert it.verdict == "review" and "list" in it.reason


def test_big_values_copy_in_smaller_batches() -> None:
    it = only(plan_of(pattern("blob:{id}", K.CACHE, p95=1024 * 1024)))
    assert it.copy_options.batch_size == 64


def test_ids_and_tables_are_stable_safe_and_unique() -> None:
    assert item_id("redis", 0, "session:{uuid}", "string") == item_id("redis", 0, "session:{uuid}", "string")
    assert item_id("redis", 0, "session:{uuid}", "string").startswith("redis.db0.session-uuid.")
    assert table_name(0, "user:{id}:profile") == "redis_user_profile"
    assert table_name(3, "Ünï:{id}") == "redis_db3_n"
    assert table_name(0, "{id}") == "redis_keys"
    long = table_name(0, "a" * 100 + ":{id}")
    assert len(long) == 63 and long == table_name(0, "a" * 100 + ":{id}")
    assert table_name(0, "a" * 100 + ":{id}") != table_name(0, "a" * 100 + "b:{id}")
    plan = plan_of(pattern("session:{uuid}", K.SESSION), pattern("session:{id}", K.SESSION, redis_type="hash"))
    tables = [target(it).table for it in plan.items]
    assert len(set(tables)) == 2 and all(t.startswith("redis_session_") for t in tables)
    assert all(len(t) <= 63 and t.replace("_", "").isalnum() for t in tables)


def test_plan_is_deterministic_sorted_and_carries_source_and_target() -> None:
    patterns = [
        pattern("b:{id}", K.CACHE),
        pattern("a:{id}", K.COUNTER, shapes={"integer": 100}),
        pattern("q:{id}", K.UNKNOWN, redis_type="list"),
    ]
    plan = plan_of(*patterns)
    assert plan == plan_of(*reversed(patterns))
    assert [it.id for it in plan.items] == sorted(it.id for it in plan.items)
    assert plan.sources[0].url == "redis://:***@cache.example:6379/0"
    assert plan.sources[0].fingerprint == "r" * 16
    assert plan.target.server_version == "18.6" and plan.target.fingerprint == "f" * 16
    assert plan.target.extensions == ["plpgsql", "vector"]
    assert len(plan.migratable()) == 2


def test_schema_argument_is_used() -> None:
    plan = build_plan(inventory(pattern("c:{id}", K.CACHE)), caps(), schema="cache", generated_at="x")
    assert target(only(plan)).schema_name == "cache"
