"""``stream_table`` without servers: ids, fields, binary rows, canonical forms, partition DDL, planner."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _plan_factories import caps, item, pattern

from pgconsolidate.errors import DataError, PlanError
from pgconsolidate.execute.ddl import render_item_ddl
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings import stream_table as st
from pgconsolidate.mappings.base import SourceRecord
from pgconsolidate.models import StreamGroup, UsageKind

_registered = get_mapping("stream_table")
assert isinstance(_registered, st.StreamTable)
STREAM = _registered
TSTZ = "timestamp with time zone"
TYPES = ["text", "bigint", "bigint", TSTZ, "jsonb", TSTZ]
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PARTMAN = caps(installed={"plpgsql": "1.0", "pg_partman": "5.2.4"})
CRON = caps(available={"plpgsql": "1.0", "pg_cron": "1.6"}).model_copy(update={"cron_database": "postgres"})


def it(**options: Any) -> Any:
    return item("stream_table", options, table="events", redis_type="stream", item_id="redis.db0.events.abc")


ENTRIES = [
    (b"1700000000123-0", [b"n", b"1", b"kind", "clé ☃".encode()]),
    (b"1700000000123-7", [b"n", b"2"]),
]


def decode_rows(data: bytes) -> list[list[bytes | None]]:
    """Binary COPY tuples as field lists (the documented format, decoded independently)."""
    rows, pos = [], 0
    while pos < len(data):
        (count,) = struct.unpack_from("!h", data, pos)
        pos += 2
        fields: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from("!i", data, pos)
            pos += 4
            fields.append(None if length == -1 else data[pos : pos + length])
            pos += max(length, 0)
        rows.append(fields)
    return rows


def test_entry_ids_parse_exactly_and_out_of_range_ones_name_the_fix() -> None:
    assert st.parse_entry_id(it(), b"k", b"1700000000123-7") == (1_700_000_000_123, 7)
    assert st.parse_entry_id(it(), b"k", b"0-1") == (0, 1)
    assert st.format_entry_id(1_700_000_000_123, 7) == b"1700000000123-7"
    with pytest.raises(DataError, match=r"items\[id=redis.db0.events.abc\].verdict: key 'k' .*18446744073709551615-0"):
        st.parse_entry_id(it(), b"k", b"18446744073709551615-0")
    with pytest.raises(DataError, match="beyond"):
        st.parse_entry_id(it(), b"k", b"1-9223372036854775808")
    with pytest.raises(DataError, match="not <ms>-<seq>"):
        st.parse_entry_id(it(), b"k", b"abc")


def test_rows_keep_ids_and_entry_at_is_the_exact_millisecond() -> None:
    rows = STREAM.element_rows(SourceRecord(b"events:1", ENTRIES, 1_800_000_000_000), ENTRIES, it())
    assert rows[0][:4] == ("events:1", 1_700_000_000_123, 0, datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC))
    assert json.loads(rows[0][4]) == {"n": "1", "kind": "clé ☃"}
    assert rows[1][1:3] == (1_700_000_000_123, 7)
    assert rows[1][5] == datetime.fromtimestamp(1_800_000_000, UTC)


def test_fields_validation_names_key_field_and_fix() -> None:
    utf8 = st.fields_converter(it(), "utf8", "object")
    with pytest.raises(
        DataError, match=r"field_encoding: key 's' has a field value that is not valid UTF-8; set it to base64"
    ):
        utf8(b"s", [b"a", b"\xff"])
    with pytest.raises(DataError, match=r"field_encoding: key 's' has a field value with a NUL byte; set it to base64"):
        utf8(b"s", [b"a", b"x\x00"])
    with pytest.raises(DataError, match=r"verdict: key 's' has a stream field name that is not valid UTF-8"):
        st.fields_converter(it(), "base64", "object")(b"s", [b"\xff", b"v"])
    with pytest.raises(DataError, match=r"fields_format: key 's' has an entry that repeats field name\(s\) a .*pairs"):
        utf8(b"s", [b"a", b"1", b"b", b"2", b"a", b"3"])
    pairs = st.fields_converter(it(), "base64", "pairs")
    assert json.loads(pairs(b"s", [b"a", b"\xff", b"a", b""])) == [["a", "/w=="], ["a", ""]]
    # Backslashes and quotes are JSON-escaped, not mistaken for NUL escapes.
    assert json.loads(utf8(b"s", [b"q", b'\\u0000 "x"'])) == {"q": '\\u0000 "x"'}


@pytest.mark.parametrize("options", [{}, {"field_encoding": "base64", "fields_format": "pairs"}])
def test_binary_rows_decode_to_the_typed_rows(options: dict[str, Any]) -> None:
    enc = STREAM.encode_elements(it(**options), TYPES)
    assert enc is not None
    record = SourceRecord(b"events:1", ENTRIES, None)
    typed = STREAM.element_rows(record, ENTRIES, it(**options))
    decoded = decode_rows(enc(record, ENTRIES))
    assert len(decoded) == len(typed) == 2
    for fields, row in zip(decoded, typed, strict=True):
        assert fields[0] == row[0].encode()
        assert struct.unpack("!q", fields[1] or b"") == (row[1],)
        assert struct.unpack("!q", fields[2] or b"") == (row[2],)
        (us,) = struct.unpack("!q", fields[3] or b"")
        assert PG_EPOCH + timedelta(microseconds=us) == row[3]
        assert fields[4] == b"\x01" + row[4].encode()  # jsonb binary: version byte, then the text
        assert fields[5] is None


def test_encoder_declines_other_column_types_and_raises_row_errors() -> None:
    assert STREAM.encode_elements(it(), ["bytea", *TYPES[1:]]) is None
    assert STREAM.encode_elements(it(), TYPES[:5]) is None
    enc = STREAM.encode_elements(it(), TYPES)
    assert enc is not None
    with pytest.raises(DataError, match="not valid UTF-8"):
        enc(SourceRecord(b"s", [(b"1-0", [b"a", b"\xff"])], None), [(b"1-0", [b"a", b"\xff"])])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"field_encoding": "base64"},
        {"fields_format": "pairs"},
        {"fields_format": "pairs", "field_encoding": "base64"},
    ],
)
def test_canonical_forms_agree_after_a_round_trip_through_json(options: dict[str, Any]) -> None:
    entries = [(b"1-0", [b"a", b"1", b"b", "☃".encode()]), (b"2-5", [b"x", b""])]
    record = SourceRecord(b"s", entries, 5_000)
    rows = STREAM.element_rows(record, entries, it(**options))
    aggregated = ("s", [r[1] for r in rows], [r[2] for r in rows], [json.loads(r[4]) for r in rows], rows[0][5])
    src = STREAM.canonical_source(record, it(**options))
    tgt = STREAM.canonical_target(aggregated, it(**options))
    assert src == tgt and src.value[0][0] == b"1-0" and tgt.expires_at_ms == 5_000
    changed = (*aggregated[:2], [aggregated[2][0], 6], *aggregated[3:])
    assert STREAM.canonical_target(changed, it(**options)) != src


def test_as_map_reads_resp2_lists_and_resp3_maps() -> None:
    assert st._as_map([b"name", b"g", b"pending", 2]) == {"name": b"g", "pending": 2}
    assert st._as_map({b"name": b"g", "lag": None}) == {"name": b"g", "lag": None}


def test_partitioned_ddl_uses_partman_when_available_else_explicit_partitions() -> None:
    partman = render_item_ddl(it(partition_by="week"), PARTMAN)
    assert any("PARTITION BY RANGE (entry_at)" in s and "entry_seq, entry_at)" in s for s in partman)
    register = next(s for s in partman if "create_parent" in s)
    assert "p_control => 'entry_at'" in register and "p_interval => '1 week'" in register
    assert "p_type => 'range'" in register  # pg_partman 5
    native = render_item_ddl(it(partition_by="day", partition_anchor="2026-03-10"), None)
    assert 'CREATE TABLE IF NOT EXISTS "public"."events_default" PARTITION OF "public"."events" DEFAULT' in native
    assert any('"events_p2026_03_10"' in s and "'2026-03-10 00:00:00+00'" in s for s in native)
    assert sum("PARTITION OF" in s for s in native) == st.PARTITION_PREMAKE + 3
    plain = render_item_ddl(it(), PARTMAN)
    assert not any("PARTITION" in s for s in plain)
    assert any("PRIMARY KEY (stream_key, entry_ms, entry_seq)\n)" in s for s in plain)


def test_bad_options_name_their_path() -> None:
    with pytest.raises(PlanError, match=r"target.options.partition_by"):
        render_item_ddl(it(partition_by="year"), None)
    with pytest.raises(PlanError, match=r"target.options.fields_format"):
        STREAM.options(it(fields_format="dict"))


def test_plan_small_streams_unpartitioned_text_no_cleanup() -> None:
    report = pattern(
        "events:{id}", UsageKind.STREAM, redis_type="stream", with_ttl=0, without_ttl=50, estimated_keys=100
    )
    facts = report.facts.model_copy(
        update={"elements": report.facts.elements.model_copy(update={"count": 50, "total": 5000})}
    )
    choice = st.plan_options(facts, report.usage, caps())
    assert choice.verdict == "migrate"
    assert choice.options == {
        "key_type": "text",
        "field_encoding": "utf8",
        "fields_format": "object",
        "partition_by": "none",
        "cleanup": "none",
    }
    assert "~10,000 entries" in choice.reason and "~100" in choice.reason
    assert STREAM.options(item("stream_table", choice.options)).partition_by == "none"  # options validate


@pytest.mark.parametrize(
    ("per_key", "keys", "width"),
    [(10_000, 100, "none"), (10_000, 101, "month"), (100_000, 101, "week"), (1_000_000, 101, "day")],
)
def test_plan_partitions_by_estimated_entries(per_key: int, keys: int, width: str) -> None:
    report = pattern("log:{id}", UsageKind.STREAM, redis_type="stream", estimated_keys=keys)
    facts = report.facts.model_copy(
        update={"elements": report.facts.elements.model_copy(update={"count": 1, "total": per_key})}
    )
    choice = st.plan_options(facts, report.usage, caps())
    assert choice.options["partition_by"] == width
    if width != "none":
        assert any("explicit partitions" in n for n in choice.notes)
        assert any("pg_partman" in n for n in st.plan_options(facts, report.usage, PARTMAN).notes)


def test_plan_binary_values_keys_ttl_and_groups() -> None:
    report = pattern(
        "jobs:{id}", UsageKind.STREAM, redis_type="stream", shapes={"binary": 3, "text": 7}, binary_keys=2, with_ttl=5
    )
    groups = [StreamGroup(key="jobs:1", name="workers", consumers=2, pending=7, last_delivered_id="5-0")]
    facts = report.facts.model_copy(update={"stream_groups": groups})
    choice = st.plan_options(facts, report.usage, CRON)
    assert choice.options["field_encoding"] == "base64" and choice.options["key_type"] == "bytea"
    assert choice.options["cleanup"] == "pg_cron"
    assert st.plan_options(facts, report.usage, caps()).options["cleanup"] == "sweep"
    notes = " ".join(choice.notes)
    assert "jobs:1/workers (last 5-0, pending 7)" in notes and "7 pending" in notes
    assert "FOR UPDATE SKIP LOCKED" in notes and "pgmq" in notes
    assert "consumer groups" in choice.reason
