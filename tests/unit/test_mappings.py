"""Row conversion and canonical forms of every mapping: the data must never be mangled."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from _plan_factories import item

from pgconsolidate.errors import DataError, PlanError
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings.base import SourceRecord
from pgconsolidate.mappings.counter import parse_redis_int

KV = get_mapping("kv_table")
HASH = get_mapping("hash_jsonb")
COUNTER = get_mapping("counter")


def rec(key: bytes, value: object, expires_at_ms: int | None = None) -> SourceRecord:
    return SourceRecord(key, value, expires_at_ms)


# --------------------------------------------------------------------------- kv_table


def test_kv_text_row_and_expiry_is_exact_aware_datetime() -> None:
    it = item("kv_table", {"value_type": "text"})
    row = KV.to_row(rec("clé:☃".encode(), "välue ✓".encode(), 1_700_000_000_123), it)
    assert row[0] == "clé:☃" and row[1] == "välue ✓"
    assert row[2] == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert KV.to_row(rec(b"k", b""), it) == ("k", "", None)


def test_kv_text_rejects_invalid_utf8_naming_key_and_field() -> None:
    it = item("kv_table", {"value_type": "text"}, item_id="redis.db0.cache-x.abc")
    with pytest.raises(DataError) as err:
        KV.to_row(rec(b"cache:x", b"\xff\xfe"), it)
    assert str(err.value) == (
        "items[id=redis.db0.cache-x.abc].target.options.value_type: key 'cache:x' is not valid UTF-8; set it to bytea"
    )


def test_kv_text_rejects_nul() -> None:
    with pytest.raises(DataError, match="value_type: key 'k' contains a NUL byte; set it to bytea"):
        KV.to_row(rec(b"k", b"a\x00b"), item("kv_table", {"value_type": "text"}))


def test_kv_bytea_keeps_bytes_verbatim() -> None:
    raw = bytes(range(256))
    row = KV.to_row(rec(b"k", raw), item("kv_table", {"value_type": "bytea"}))
    assert row[1] == raw and isinstance(row[1], bytes)


def test_key_type_text_rejects_binary_key_and_bytea_accepts_it() -> None:
    with pytest.raises(DataError, match=r"key_type: key 'bin:\\xff' is not valid UTF-8; set it to bytea"):
        KV.to_row(rec(b"bin:\xff", b"v"), item("kv_table"))
    with pytest.raises(DataError, match=r"key_type: key 'a\\x00b' contains a NUL byte"):
        KV.to_row(rec(b"a\x00b", b"v"), item("kv_table"))
    assert KV.to_row(rec(b"bin:\xff", b"v"), item("kv_table", {"key_type": "bytea"}))[0] == b"bin:\xff"


def test_kv_jsonb_keeps_original_text_and_maps_empty_to_null() -> None:
    it = item("kv_table", {"value_type": "jsonb"})
    text = '{"b": 1, "a": [1.50, "☃"]}'
    assert KV.to_row(rec(b"k", text.encode()), it)[1] == text
    assert KV.to_row(rec(b"k", b""), it)[1] is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"{not json", "is not valid JSON"),
        (b"NaN", "is not valid JSON"),
        (b'{"a": "\\u0000"}', "holds .u0000 or an unpaired surrogate"),
        (b'["\\ud800"]', "holds .u0000 or an unpaired surrogate"),
        (b"\xff", "is not valid UTF-8"),
    ],
)
def test_kv_jsonb_rejects_what_postgres_rejects(value: bytes, problem: str) -> None:
    with pytest.raises(DataError, match=f"value_type: key 'doc:1' {problem}"):
        KV.to_row(rec(b"doc:1", value), item("kv_table", {"value_type": "jsonb"}))


def test_kv_jsonb_accepts_escaped_backslash_u0000_text() -> None:
    # "\\u0000" in JSON is a backslash followed by "u0000", which jsonb accepts.
    text = '{"a": "\\\\u0000"}'
    assert KV.to_row(rec(b"k", text.encode()), item("kv_table", {"value_type": "jsonb"}))[1] == text


def test_kv_canonical_json_ignores_key_order_and_text_vs_bytes() -> None:
    it = item("kv_table", {"value_type": "jsonb"})
    src = KV.canonical_source(rec(b"k", b'{"a":1,"b":[2]}', 5000), it)
    tgt = KV.canonical_target(("k", {"b": [2], "a": 1}, datetime.fromtimestamp(5, UTC)), it)
    assert src == tgt and src.expires_at_ms == 5000
    assert KV.canonical_target(("k", '{"b": [2], "a": 1}', None), it).value == src.value
    assert KV.canonical_target(("k", None, None), it).value == KV.canonical_source(rec(b"k", b""), it).value
    text_item = item("kv_table", {"value_type": "text"})
    assert KV.canonical_source(rec(b"k", "☃".encode()), text_item) == KV.canonical_target(("k", "☃", None), text_item)
    assert KV.canonical_source(rec(b"k", b"a"), text_item) != KV.canonical_target(("k", "b", None), text_item)


def test_invalid_options_are_plan_errors() -> None:
    with pytest.raises(PlanError, match="value_type: Input should be 'text', 'bytea' or 'jsonb'"):
        KV.to_row(rec(b"k", b"v"), item("kv_table", {"value_type": "blob"}))


def test_converter_follows_replaced_options() -> None:
    it = item("kv_table", {"value_type": "bytea"})
    assert KV.to_row(rec(b"k", b"v"), it)[1] == b"v"
    assert it.target is not None
    it.target.options = {"value_type": "text"}
    assert KV.to_row(rec(b"k", b"v"), it)[1] == "v"


# --------------------------------------------------------------------------- hash_jsonb


def test_hash_utf8_fields_become_a_json_object() -> None:
    it = item("hash_jsonb", redis_type="hash")
    row = HASH.to_row(rec(b"user:1", {b"name": "Zoë".encode(), b"n": b"1", b"q": b'"x\\'}, 1000), it)
    assert json.loads(row[1]) == {"name": "Zoë", "n": "1", "q": '"x\\'}
    assert row[2] == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_hash_binary_value_requires_base64_and_base64_round_trips() -> None:
    fields = {b"img": b"\x89PNG\xff\x00", b"t": b"ok"}
    with pytest.raises(DataError, match="field_encoding: key 'h' has a field value that is not valid UTF-8; set it"):
        HASH.to_row(rec(b"h", fields), item("hash_jsonb", redis_type="hash"))
    it = item("hash_jsonb", {"field_encoding": "base64"}, redis_type="hash")
    row = HASH.to_row(rec(b"h", fields), it)
    assert json.loads(row[1]) == {"img": base64.b64encode(b"\x89PNG\xff\x00").decode(), "t": "b2s="}
    assert HASH.canonical_source(rec(b"h", fields), it) == HASH.canonical_target(("h", json.loads(row[1]), None), it)


def test_hash_nul_value_rejected_but_backslash_text_accepted() -> None:
    it = item("hash_jsonb", redis_type="hash")
    with pytest.raises(DataError, match="has a field value with a NUL byte; set it to base64"):
        HASH.to_row(rec(b"h", {b"a": b"x\x00"}), it)
    row = HASH.to_row(rec(b"h", {b"a": b"\\u0000"}), it)
    assert json.loads(row[1]) == {"a": "\\u0000"}


def test_hash_non_utf8_field_name_names_verdict() -> None:
    for encoding in ("utf8", "base64"):
        it = item("hash_jsonb", {"field_encoding": encoding}, redis_type="hash")
        with pytest.raises(DataError, match=r"\.verdict: key 'h' has a hash field name that is not valid UTF-8"):
            HASH.to_row(rec(b"h", {b"\xff": b"v"}), it)


def test_hash_canonical_compares_fields_regardless_of_order() -> None:
    it = item("hash_jsonb", redis_type="hash")
    src = HASH.canonical_source(rec(b"h", {b"a": b"1", b"b": "☃".encode()}), it)
    assert src == HASH.canonical_target(("h", '{"b": "☃", "a": "1"}', None), it)
    assert src != HASH.canonical_target(("h", {"a": "1"}, None), it)


# --------------------------------------------------------------------------- counter


@pytest.mark.parametrize("raw", [b"0", b"-12", b"9223372036854775807", b"-9223372036854775808"])
def test_counter_accepts_redis_integers(raw: bytes) -> None:
    row = COUNTER.to_row(rec(b"views:1", raw), item("counter"))
    assert row[1] == int(raw) and type(row[1]) is int


@pytest.mark.parametrize("raw", [b"", b" 1", b"+1", b"01", b"1_000", b"1.0", b"9223372036854775808", b"abc"])
def test_counter_rejects_non_redis_integers(raw: bytes) -> None:
    assert parse_redis_int(raw) is None
    with pytest.raises(DataError, match=r"target\.mapping: key 'views:1' is not a 64-bit integer.*set it to kv_table"):
        COUNTER.to_row(rec(b"views:1", raw), item("counter"))


def test_counter_canonical_is_int() -> None:
    it = item("counter")
    assert COUNTER.canonical_source(rec(b"k", b"42", 7), it) == COUNTER.canonical_target(
        ("k", 42, datetime.fromtimestamp(0.007, UTC)), it
    )
    assert COUNTER.canonical_source(rec(b"k", b"x"), it).value == b"x"


def test_columns_start_with_the_key() -> None:
    assert list(KV.columns(item("kv_table"))) == ["key", "value", "expires_at"]
    assert list(HASH.columns(item("hash_jsonb", redis_type="hash"))) == ["key", "fields", "expires_at"]
    assert list(COUNTER.columns(item("counter"))) == ["key", "value", "expires_at"]
