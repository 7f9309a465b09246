"""Binary COPY rows built by the mappings' ``copy_encoder``: byte-exact against an independent decoder.

Each encoded row is decoded here with the format as PostgreSQL documents it (int16 field count;
per field int32 length, -1 = NULL, then the bytes) and compared with what ``to_row`` produces for
the same record, so the fast path cannot drift from the typed path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _plan_factories import item

from pgconsolidate.errors import DataError
from pgconsolidate.execute.copy import copy_error_position
from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings.base import SourceRecord

KV = get_mapping("kv_table")
HASH = get_mapping("hash_jsonb")
COUNTER = get_mapping("counter")
TSTZ = "timestamp with time zone"
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def decode_row(row: bytes) -> list[bytes | None]:
    """Fields of one binary COPY tuple; asserts nothing is left over."""
    (count,) = struct.unpack_from("!h", row, 0)
    pos = 2
    fields: list[bytes | None] = []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", row, pos)
        pos += 4
        if length == -1:
            fields.append(None)
        else:
            fields.append(row[pos : pos + length])
            pos += length
    assert pos == len(row), "trailing bytes after the last field"
    return fields


def timestamptz(field: bytes | None) -> datetime | None:
    """A binary timestamptz field as an aware datetime."""
    if field is None:
        return None
    assert len(field) == 8
    (us,) = struct.unpack("!q", field)
    return PG_EPOCH + timedelta(microseconds=us)


def encoder(mapping: Any, it: Any, types: list[str]) -> Callable[[SourceRecord], bytes]:
    enc = mapping.copy_encoder(it, types)
    assert enc is not None
    return enc  # type: ignore[no-any-return]


def test_stream_header_and_trailer_are_postgresql_signature() -> None:
    assert c.COPY_HEADER == b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
    assert c.COPY_TRAILER == b"\xff\xff"


@pytest.mark.parametrize("ms", [0, 1, 946_684_800_000, 1_700_000_000_123, -1_234_567, 253_402_300_799_999])
def test_timestamptz_field_matches_datetime_path(ms: int) -> None:
    assert timestamptz(c.timestamptz_field(ms)[4:]) == c.ms_to_datetime(ms)
    assert c.timestamptz_field(ms)[:4] == b"\x00\x00\x00\x08"


def test_timestamptz_field_null_and_out_of_range() -> None:
    assert c.timestamptz_field(None) == b"\xff\xff\xff\xff"
    with pytest.raises(ValueError):
        c.timestamptz_field(2**62)


@pytest.mark.parametrize("value_type", ["text", "bytea", "jsonb"])
def test_kv_rows_carry_raw_bytes_and_match_to_row(value_type: str) -> None:
    it = item("kv_table", {"value_type": value_type})
    enc = encoder(KV, it, ["text", value_type, TSTZ])
    value = '{"clé": "välue ✓", "n": 1.50}'.encode()
    record = SourceRecord("k:☃".encode(), value, 1_700_000_000_123)

    key, val, exp = decode_row(enc(record))
    row = KV.to_row(record, it)

    assert key == row[0].encode()
    assert val == (b"\x01" + value if value_type == "jsonb" else value)
    assert timestamptz(exp) == row[2]


def test_kv_jsonb_empty_value_is_null_and_no_expiry_is_null() -> None:
    it = item("kv_table", {"value_type": "jsonb"})
    assert decode_row(encoder(KV, it, ["text", "jsonb", TSTZ])(SourceRecord(b"k", b"", None))) == [b"k", None, None]
    assert KV.to_row(SourceRecord(b"k", b"", None), it) == ("k", None, None)


def test_kv_leaves_validation_to_the_server_but_to_row_still_explains() -> None:
    """The encoder does not decode: an invalid value is sent as is; to_row names the problem."""
    it = item("kv_table", {"value_type": "text"})
    bad = SourceRecord(b"k:\xff", b"caf\xe9", None)
    assert decode_row(encoder(KV, it, ["text", "text", TSTZ])(bad))[:2] == [b"k:\xff", b"caf\xe9"]
    with pytest.raises(DataError, match=r"target\.options\.key_type"):
        KV.to_row(bad, it)


@pytest.mark.parametrize(
    "types",
    [["text", "text", TSTZ], ["bytea", "jsonb", TSTZ], ["text", "jsonb", "timestamp without time zone"], ["text"]],
)
def test_encoder_declines_tables_of_other_column_types(types: list[str]) -> None:
    kv: Any = KV
    assert kv.copy_encoder(item("kv_table", {"value_type": "jsonb"}), types) is None


def test_counter_rows_are_int8_and_reject_non_redis_integers() -> None:
    it = item("counter", {}, item_id="redis.db0.hits.1")
    enc = encoder(COUNTER, it, ["text", "bigint", TSTZ])
    for raw, number in [
        (b"0", 0),
        (b"-12", -12),
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
    ]:
        key, val, exp = decode_row(enc(SourceRecord(b"c", raw, None)))
        assert key == b"c" and exp is None and val is not None
        assert struct.unpack("!q", val) == (number,)
    for raw in [b"+1", b"01", b" 1", b"1_0", b"9223372036854775808", b"x", b""]:
        with pytest.raises(DataError, match=r"items\[id=redis\.db0\.hits\.1\]\.target\.mapping"):
            enc(SourceRecord(b"c", raw, None))


@pytest.mark.parametrize("encoding", ["utf8", "base64"])
def test_hash_rows_hold_the_same_json_as_to_row(encoding: str) -> None:
    it = item("hash_jsonb", {"field_encoding": encoding})
    enc = encoder(HASH, it, ["text", "jsonb", TSTZ])
    record = SourceRecord(b"h:1", {b"name": "Zoë".encode(), b"q": b'say "hi"\\'}, 5)
    key, fields, exp = decode_row(enc(record))
    row = HASH.to_row(record, it)
    assert key == b"h:1" and fields == b"\x01" + row[1] and timestamptz(exp) == row[2]


def test_hash_encoder_raises_the_to_row_errors() -> None:
    it = item("hash_jsonb", {})
    enc = encoder(HASH, it, ["text", "jsonb", TSTZ])
    with pytest.raises(DataError, match="field_encoding"):
        enc(SourceRecord(b"h", {b"f": b"\xff"}, None))
    with pytest.raises(DataError, match="verdict"):
        enc(SourceRecord(b"h", {b"\xff": b"v"}, None))


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("COPY kv, line 3, column value", (3, "value")),
        ('JSON data, line 1: {x\nCOPY kv, line 12, column value: "{x"', (12, "value")),
        ("COPY kv, line 7", (7, None)),
        ("COPY a, line 9, b, line 2, column key", (2, "key")),  # table "a, line 9, b"
        ("COPY other, line 2, column key", (None, None)),
        ("", (None, None)),
    ],
)
def test_copy_error_position(context: str, expected: tuple[int | None, str | None]) -> None:
    tables = ("a, line 9, b",) if "b, line" in context else ("kv",)
    assert copy_error_position(context, tables) == expected
