"""``rate_limit``: options, rendering, the counter data path it inherits, and its planner."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from _plan_factories import caps, item
from psycopg.adapt import Dumper
from psycopg.types.datetime import DatetimeBinaryDumper
from psycopg.types.numeric import Int8BinaryDumper

from pgconsolidate.errors import DataError, PlanError
from pgconsolidate.execute.ddl import render_item_ddl, sweep_sql
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.mappings.rate_limit import RateLimit, plan_options
from pgconsolidate.models import KeyPattern, SizeStats, TTLStats, Usage, UsageKind

RL = get_mapping("rate_limit")
TSTZ = "timestamp with time zone"
USAGE = Usage(kind=UsageKind.RATE_LIMIT, confidence=0.9)
CRON = caps(available={"plpgsql": "1.0", "pg_cron": "1.6"})
NO_CRON = caps()


def facts(
    *,
    redis_type: str = "string",
    with_ttl: int = 100,
    without_ttl: int = 0,
    shapes: dict[str, int] | None = None,
    binary_keys: int = 0,
    p50: float | None = 60.0,
) -> KeyPattern:
    """A rate-limit key pattern as the analyzer reports it."""
    return KeyPattern(
        pattern="LIMITS:LIMITER/{id}",
        regex="LIMITS:LIMITER/.+",
        match_glob="LIMITS:LIMITER/*",
        redis_type=redis_type,
        sampled_keys=with_ttl + without_ttl,
        estimated_keys=12_345,
        ttl=TTLStats(with_ttl=with_ttl, without_ttl=without_ttl, p50_seconds=p50 if with_ttl else None),
        memory=SizeStats(count=1, total=60, p50=60, p95=60, max=60),
        value_shapes=shapes if shapes is not None else {"integer": with_ttl + without_ttl},
        binary_keys=binary_keys,
    )


# --------------------------------------------------------------------------- mapping


def test_registered_as_a_counter_subclass_with_its_own_name() -> None:
    assert isinstance(RL, RateLimit)
    assert RL.name == "rate_limit" and RL.redis_types == frozenset({"string"})
    assert RL.columns(item("rate_limit")) == ("key", "value", "expires_at")


def test_options_default_to_unlogged_text_keys_without_cleanup_and_reject_typos() -> None:
    ctx = RL.template_context(item("rate_limit", table="rl"), None)
    assert (ctx["unlogged"], ctx["key_type"], ctx["cleanup"]) == (True, "text", "none")
    assert ctx["hit_function"] == '"public"."rl_hit"'
    with pytest.raises(PlanError, match=r"target\.options\.unloged: Extra inputs are not permitted"):
        RL.template_context(item("rate_limit", {"unloged": False}), None)


def test_unlogged_option_switches_the_table_kind() -> None:
    unlogged = render_item_ddl(item("rate_limit", table="rl"), caps())
    logged = render_item_ddl(item("rate_limit", {"unlogged": False}, table="rl"), caps())
    assert unlogged[0].startswith('CREATE UNLOGGED TABLE IF NOT EXISTS "public"."rl"')
    assert logged[0].startswith('CREATE TABLE IF NOT EXISTS "public"."rl"')


def test_hit_function_is_one_upsert_and_long_names_stay_within_63_bytes() -> None:
    table = "t" * 63
    statements = render_item_ddl(item("rate_limit", table=table), caps())
    hit = next(s for s in statements if "FUNCTION" in s)
    name = hit.split('"public"."', 1)[1].split('"', 1)[0]
    assert len(name) == 63 and name.endswith("_hit")
    body = hit.split("$pgc$")[1]
    assert body.count("INSERT INTO") == 1 and "ON CONFLICT (key) DO UPDATE" in body
    assert "RETURNS TABLE (allowed boolean, hits bigint, reset_at timestamptz)" in hit
    assert sweep_sql(item("rate_limit", table="rl")) == 'DELETE FROM "public"."rl" WHERE expires_at <= now()'


def test_rows_and_errors_are_the_counters() -> None:
    it = item("rate_limit", item_id="redis.db0.rl.abc")
    assert RL.to_row(SourceRecord(b"rl:1", b"-7", 1_700_000_000_000), it) == (
        "rl:1",
        -7,
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
    )
    with pytest.raises(DataError) as err:
        RL.to_row(SourceRecord(b"rl:2", b"07", None), it)
    assert str(err.value) == (
        "items[id=redis.db0.rl.abc].target.mapping: key 'rl:2' is not a 64-bit integer in Redis form; "
        "set it to kv_table (with options.value_type: text)"
    )
    assert RL.canonical_source(SourceRecord(b"rl:1", b"5", 9), it) == Canonical("counter", 5, 9)


def dumped(dumper: Dumper, value: object) -> bytes:
    """``value`` as psycopg's binary dumper writes it (the independent reference)."""
    out = dumper.dump(value)
    assert out is not None
    return bytes(out)


def test_copy_encoder_is_byte_exact_against_psycopgs_binary_dumpers() -> None:
    it = item("rate_limit")
    encode = RL.copy_encoder(it, ["text", "bigint", TSTZ])  # type: ignore[attr-defined]
    assert encode is not None
    expires = datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    ms = int(expires.timestamp() * 1000)
    expected = (
        struct.pack("!hi", 3, 5)
        + b"rl:9a"
        + struct.pack("!i", 8)
        + dumped(Int8BinaryDumper(int), 2**63 - 1)
        + struct.pack("!i", 8)
        + dumped(DatetimeBinaryDumper(datetime), expires)
    )
    assert encode(SourceRecord(b"rl:9a", b"9223372036854775807", ms)) == expected
    assert encode(SourceRecord(b"rl:9a", b"1", None)).endswith(struct.pack("!i", -1))
    assert RL.copy_encoder(it, ["bytea", "bigint", TSTZ]) is None  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- planner


def test_plan_integer_counters_with_ttl_and_pg_cron() -> None:
    choice = plan_options(facts(), USAGE.model_copy(update={"library": "limits"}), CRON)
    assert choice.verdict == "migrate"
    assert choice.options == {"key_type": "text", "unlogged": True, "cleanup": "pg_cron"}
    assert choice.reason.startswith("~12,345 fixed-window rate-limit counters (limits), TTL p50 60s")
    assert any(n.startswith("UNLOGGED table") for n in choice.notes)
    assert any("pg_cron job" in n for n in choice.notes)
    assert any("denied hits still count" in n for n in choice.notes)


def test_plan_without_pg_cron_sweeps_and_without_ttl_cleans_nothing() -> None:
    assert plan_options(facts(), USAGE, NO_CRON).options["cleanup"] == "sweep"
    choice = plan_options(facts(with_ttl=0, without_ttl=40), USAGE, CRON)
    assert choice.options["cleanup"] == "none"
    assert "no TTL seen" in choice.reason
    assert any(n.startswith("40 of 40 sampled counters have no TTL") for n in choice.notes)


def test_plan_binary_key_names_choose_bytea() -> None:
    choice = plan_options(facts(binary_keys=3), USAGE, NO_CRON)
    assert choice.options["key_type"] == "bytea"
    assert any(n.startswith("3 sampled key names are not UTF-8") for n in choice.notes)


def test_plan_lists_and_non_integers_are_review() -> None:
    lists = plan_options(facts(redis_type="list"), USAGE.model_copy(update={"library": "limits"}), CRON)
    assert lists.verdict == "review"
    assert lists.reason.startswith("rate-limit keys (limits) are Redis lists (a moving window or sliding log")
    mixed = plan_options(facts(shapes={"integer": 90, "text": 10}), USAGE, CRON)
    assert mixed.verdict == "review" and mixed.options == {}
    assert mixed.reason.startswith("only 90 of 100 sampled values are integers")


def test_plan_options_validate_with_the_mapping_model() -> None:
    for f in (facts(), facts(binary_keys=1, with_ttl=0, without_ttl=5)):
        options = plan_options(f, USAGE, NO_CRON).options
        assert RL.Options.model_validate(options).model_dump() == options
