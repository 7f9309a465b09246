"""``leaderboard`` without servers: options, rows, scores, the binary encoder vs psycopg, the planner."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from _plan_factories import caps, item
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import Format

from pgconsolidate.errors import DataError, PlanError
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings.base import SourceRecord
from pgconsolidate.mappings.leaderboard import (
    Leaderboard,
    fits_timestamptz,
    parse_score,
    plan_options,
    timestamp_unit,
)
from pgconsolidate.models import KeyPattern, SizeStats, TTLStats, Usage, UsageKind

LB = cast(Leaderboard, get_mapping("leaderboard"))
TSTZ = "timestamp with time zone"
F8 = "double precision"
OIDS = {"text": 25, "bytea": 17, F8: 701, TSTZ: 1184}


def zitem(options: dict[str, Any] | None = None) -> Any:
    return item("leaderboard", options or {}, table="scores", redis_type="zset", item_id="redis.db0.lb.1")


def rec(key: bytes, pairs: list[tuple[bytes, bytes]], expires_at_ms: int | None = None) -> SourceRecord:
    return SourceRecord(key, pairs, expires_at_ms)


# --------------------------------------------------------------------------- options


def test_options_defaults_and_typo_is_a_plan_error() -> None:
    opts = LB.options(zitem())
    assert (opts.key_type, opts.member_type, opts.score_time, opts.cleanup) == ("text", "text", "none", "none")
    with pytest.raises(PlanError, match=r"items\[id=redis.db0.lb.1\].target.options.score_time"):
        LB.options(zitem({"score_time": "minutes"}))
    with pytest.raises(PlanError, match=r"target.options.member_typ\b"):
        LB.options(zitem({"member_typ": "bytea"}))


def test_columns_exclude_the_generated_column() -> None:
    assert list(LB.columns(zitem({"score_time": "seconds"}))) == ["board", "member", "score", "expires_at"]
    assert list(LB.conflict_columns(zitem())) == ["board", "member"]


def test_template_context_derives_every_name_and_a_free_dollar_tag() -> None:
    ctx = LB.template_context(item("leaderboard", {}, table="a$pgc$b", redis_type="zset"), caps())
    assert ctx["rank_function"] == '"public"."a$pgc$b_rank"'
    assert ctx["top_function"] == '"public"."a$pgc$b_top"'
    assert ctx["incr_function"] == '"public"."a$pgc$b_incr"'
    assert ctx["ranked_view"] == '"public"."a$pgc$b_ranked"'
    assert ctx["body_tag"] == "$pgc1$"
    long = LB.template_context(item("leaderboard", {}, table="t" * 63, redis_type="zset"), caps())
    for name in ("rank_function", "top_function", "incr_function", "ranked_view"):
        assert len(long[name].split(".")[1].strip('"').encode()) <= 63
    assert LB.template_context(zitem({"score_time": "milliseconds"}), None)["scored_at_expr"] == (
        "to_timestamp(score / 1000.0)"
    )


# --------------------------------------------------------------------------- scores


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 3.5, 0.1, 1 / 3, 1e-300, 5e-324, 1.7976931348623157e308, -2.5e15, 1_700_000_000.123, 2**53 + 2],
)
def test_redis_score_text_round_trips_exactly(value: float) -> None:
    # Redis <= 7.0 prints scores with %.17g, 7.2+ the shortest repr: both parse to the same bits.
    for text in (b"%.17g" % value, repr(value).encode()):
        parsed = parse_score(text)
        assert parsed is not None
        assert struct.pack("!d", parsed) == struct.pack("!d", value)


def test_infinities_parse_and_nan_or_garbage_do_not() -> None:
    assert parse_score(b"inf") == math.inf and parse_score(b"-inf") == -math.inf
    assert parse_score(2.5) == 2.5  # RESP3 replies are floats already
    for bad in (b"nan", b"", b"abc", None):
        assert parse_score(bad) is None


def test_fits_timestamptz_matches_postgresql_bounds() -> None:
    assert fits_timestamptz(1_700_000_000.0) and fits_timestamptz(math.inf) and fits_timestamptz(-math.inf)
    assert fits_timestamptz(-210_866_803_200.0)  # 4714-11-24 BC, the first instant
    assert not fits_timestamptz(-210_866_803_200.000_1)
    assert fits_timestamptz(9_224_318_015_999.0)
    assert not fits_timestamptz(9_224_318_016_000.0)  # 294277-01-01, excluded
    assert not fits_timestamptz(1e300) and not fits_timestamptz(math.nan)


# --------------------------------------------------------------------------- rows


def test_text_rows_keep_members_and_exact_scores() -> None:
    r = rec("board:☃".encode(), [(b"ann", b"-inf"), ("zoë".encode(), b"0.1"), (b"bob", b"inf")], 1_700_000_000_123)
    rows = list(LB.to_rows(r, zitem()))
    when = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert rows == [
        ("board:☃", "ann", -math.inf, when),
        ("board:☃", "zoë", 0.1, when),
        ("board:☃", "bob", math.inf, when),
    ]


def test_bytea_rows_keep_bytes_verbatim() -> None:
    raw = bytes(range(256))
    rows = list(LB.to_rows(rec(b"b\xff", [(raw, b"1")]), zitem({"key_type": "bytea", "member_type": "bytea"})))
    assert rows == [(b"b\xff", raw, 1.0, None)]


def test_text_member_that_is_not_utf8_names_the_option() -> None:
    with pytest.raises(DataError) as err:
        list(LB.to_rows(rec(b"lb:1", [(b"ok", b"1"), (b"\xff", b"2")]), zitem()))
    assert str(err.value) == (
        "items[id=redis.db0.lb.1].target.options.member_type: key 'lb:1' has a member that is not valid UTF-8; "
        "set it to bytea"
    )
    with pytest.raises(DataError, match="member_type: key 'lb:1' has a member with a NUL byte"):
        list(LB.to_rows(rec(b"lb:1", [(b"a\x00b", b"1")]), zitem()))


def test_score_redis_never_writes_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"target.mapping: key 'lb:1' has a score Redis does not write \(b'nan'\)"):
        list(LB.to_rows(rec(b"lb:1", [(b"m", b"nan")]), zitem()))


def test_time_score_outside_timestamptz_names_score_time() -> None:
    it = zitem({"score_time": "milliseconds"})
    (row,) = LB.to_rows(rec(b"q", [(b"job", b"1700000000123")]), it)
    assert row[2] == 1_700_000_000_123.0
    with pytest.raises(DataError) as err:
        list(LB.to_rows(rec(b"q", [(b"job", b"1e300")]), it))
    assert str(err.value) == (
        "items[id=redis.db0.lb.1].target.options.score_time: key 'q' has a score (1e+300) that is not a Unix time "
        "in milliseconds PostgreSQL can store; set it to none"
    )


# --------------------------------------------------------------------------- binary encoder


def psycopg_rows(rows: list[tuple[Any, ...]], types: list[str]) -> bytes:
    """The same rows as binary COPY tuples dumped by psycopg's own binary dumpers."""
    tx = Transformer()
    tx.set_dumper_types([OIDS[t] for t in types], Format.BINARY)
    out = b""
    for row in rows:
        fields = tx.dump_sequence(list(row), [PyFormat.BINARY] * len(row))
        out += struct.pack("!h", len(fields))
        for f in fields:
            out += struct.pack("!i", -1) if f is None else struct.pack("!i", len(f)) + bytes(f)
    return out


@pytest.mark.parametrize(
    ("options", "types"),
    [
        ({}, ["text", "text", F8, TSTZ]),
        ({"key_type": "bytea", "member_type": "bytea", "score_time": "seconds"}, ["bytea", "bytea", F8, TSTZ]),
    ],
)
@pytest.mark.parametrize("expires", [None, 1_700_000_000_123])
def test_encoder_is_byte_exact_with_psycopg(options: dict[str, Any], types: list[str], expires: int | None) -> None:
    it = zitem(options)
    r = rec(
        "lb:é".encode(),
        [
            (b"a", b"-inf"),
            ("zoë".encode(), b"0.10000000000000001"),
            (b"", b"-0"),
            (b"c", b"1700000000"),
            (b"d", b"inf"),
        ],
        expires,
    )
    encode = LB.encode_elements(it, types)
    assert encode is not None
    assert encode(r, r.value) == psycopg_rows(list(LB.to_rows(r, it)), types)


def test_encoder_refuses_other_column_types() -> None:
    assert LB.encode_elements(zitem(), ["text", "text", "numeric", TSTZ]) is None
    assert LB.encode_elements(zitem({"member_type": "bytea"}), ["text", "text", F8, TSTZ]) is None


def test_encoder_raises_the_row_error_for_bad_scores() -> None:
    encode = LB.encode_elements(zitem({"score_time": "seconds"}), ["text", "text", F8, TSTZ])
    assert encode is not None
    with pytest.raises(DataError, match="score_time: key 'q' has a score"):
        encode(rec(b"q", []), [(b"ok", b"1"), (b"far", b"1e20")])
    with pytest.raises(DataError, match=r"target\.mapping: key 'q' has a score Redis does not write"):
        encode(rec(b"q", []), [(b"x", b"garbage")])


# --------------------------------------------------------------------------- verify forms


def test_canonical_forms_agree_and_scores_are_floats() -> None:
    it = zitem()
    r = rec(b"lb", [(b"a", b"1.5"), ("é".encode(), b"inf")], 1_700_000_000_000)
    src = LB.canonical_source(r, it)
    tgt = LB.canonical_target(("lb", ["é", "a"], [math.inf, 1.5], datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)), it)
    assert src == tgt
    assert src.value == {b"a": 1.5, "é".encode(): math.inf}
    bytea = LB.canonical_target((b"lb", [memoryview(b"a")], [2.0], None), zitem({"member_type": "bytea"}))
    assert bytea.value == {b"a": 2.0} and bytea.expires_at_ms is None


# --------------------------------------------------------------------------- planner


def facts(**kw: Any) -> KeyPattern:
    base: dict[str, Any] = {
        "pattern": "lb:{id}",
        "regex": "lb:.+",
        "match_glob": "lb:*",
        "redis_type": "zset",
        "sampled_keys": 50,
        "estimated_keys": 1_000,
        "elements": SizeStats(count=50, total=5_000, p50=80, p95=300, max=900),
        "score_min": 0.0,
        "score_max": 98_765.0,
    }
    base.update(kw)
    return KeyPattern(**base)


def usage(confidence: float = 0.9, **kw: Any) -> Usage:
    return Usage(kind=UsageKind.LEADERBOARD, confidence=confidence, **kw)


def test_plan_plain_leaderboard_migrates_with_numbers() -> None:
    choice = plan_options(facts(), usage(), caps())
    assert choice.verdict == "migrate"
    assert choice.options == {"key_type": "text", "member_type": "text", "score_time": "none", "cleanup": "none"}
    assert "~1,000 sorted sets, 80 members per key (p50), 900 max, scores 0..98765" in choice.reason
    assert any("_rank(board, member)" in n for n in choice.notes)
    LB.options(zitem(choice.options))  # the options are valid for the mapping


def test_plan_timestamps_from_hint_or_score_range() -> None:
    assert plan_options(facts(), usage(hints={"score": "timestamp_ms"}), caps()).options["score_time"] == "milliseconds"
    assert plan_options(facts(), usage(hints={"score": "timestamp_s"}), caps()).options["score_time"] == "seconds"
    ranged = plan_options(facts(score_min=1.6e9, score_max=1.8e9), usage(), caps())
    assert ranged.options["score_time"] == "seconds"
    assert any("delayed-job schedules" in n and "Sidekiq" in n for n in ranged.notes)
    assert timestamp_unit(1.6e12, 1.8e12) == "milliseconds"
    assert timestamp_unit(1.6e9, 1.6e12) == "none"  # one end each: not a time set
    assert timestamp_unit(None, 1.6e9) == "none"


def test_plan_low_confidence_is_review_with_a_question() -> None:
    choice = plan_options(facts(), usage(0.5), caps())
    assert choice.verdict == "review"
    assert choice.reason.startswith("is this a ranking")
    assert "confidence 0.50" in choice.reason


def test_plan_types_cleanup_and_big_boards() -> None:
    ttl = TTLStats(with_ttl=10, without_ttl=40)
    shapes = {"binary": 1, "text": 9}
    with_cron = caps(available={"pg_cron": "1.6"})
    not_preloaded = caps(available={"pg_cron": "1.6"}, cron_database=None)
    choice = plan_options(facts(binary_keys=2, value_shapes=shapes, ttl=ttl), usage(), with_cron)
    assert choice.options == {"key_type": "bytea", "member_type": "bytea", "score_time": "none", "cleanup": "pg_cron"}
    assert plan_options(facts(ttl=ttl), usage(), caps()).options["cleanup"] == "sweep"
    assert plan_options(facts(ttl=ttl), usage(), not_preloaded).options["cleanup"] == "sweep"
    big = plan_options(facts(elements=SizeStats(count=5, total=10**6, p50=2e5, p95=4e5, max=500_000)), usage(), caps())
    assert any("500,000 members" in n and "O(rank)" in n for n in big.notes)
    lib = plan_options(facts(), usage(library="Sidekiq", hints={"role": "registry"}), caps())
    assert any(n.startswith("key layout of Sidekiq") for n in lib.notes)
