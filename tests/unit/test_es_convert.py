"""Document -> binary COPY converters of the Elasticsearch copy (pure: no server).

Expected bytes are derived from PostgreSQL's documented binary formats (int8 big-endian, float8,
timestamptz microseconds since 2000-01-01, inet family/bits/is_cidr/len, pgvector dim + float4s,
one-dimensional arrays), never from the encoder's own output.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from pgconsolidate.errors import TargetError
from pgconsolidate.es.convert import (
    MISSING,
    ColumnEncoder,
    DocEncoder,
    PgColumnType,
    Reject,
    coverage_trie,
    geo_point,
    lookup,
    parse_date_ms,
    remainder,
)
from pgconsolidate.models_es import EsColumn, EsIndexOptions

PG_EPOCH_US = 946_684_800_000_000


def _enc(typname: str, value: Any, *, display: str | None = None, element: str | None = None) -> bytes | None:
    col = EsColumn(field="f", column="f", es_type="x", pg_type=display or typname)
    pg = PgColumnType(
        "f", display=display or typname, typname=typname if element is None else "_" + element, element=element
    )
    return ColumnEncoder(col, pg).encode({"f": value})


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1_704_067_200_000, 1_704_067_200_000),  # epoch_millis number
        ("1704067200000", 1_704_067_200_000),  # epoch_millis as a string
        ("2024-01-01", 1_704_067_200_000),
        ("2024-01-01T00:00:00Z", 1_704_067_200_000),
        ("2024-01-01T01:00:00+01:00", 1_704_067_200_000),
        ("2024-01-01T00:00:00", 1_704_067_200_000),  # no zone: UTC, as Elasticsearch reads it
        ("2024-01-01T00:00:00.123456789Z", 1_704_067_200_123),  # nanoseconds truncated
        ("2024", 1_704_067_200_000),
        ("2024-01", 1_704_067_200_000),
        ("2024-01-01 00:00:00", 1_704_067_200_000),
    ],
)
def test_dates_parse_like_elasticsearch(value: Any, ms: int) -> None:
    assert parse_date_ms(value) == ms


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", True, {"a": 1}])
def test_unparsable_dates_raise(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_date_ms(value)


def test_timestamptz_binary_is_microseconds_since_2000() -> None:
    assert _enc("timestamptz", "2000-01-01T00:00:01Z") == struct.pack(">q", 1_000_000)
    assert _enc("timestamptz", 1_704_067_200_000) == struct.pack(">q", 1_704_067_200_000_000 - PG_EPOCH_US)


def test_integers_are_coerced_and_range_checked() -> None:
    assert _enc("int8", 42) == struct.pack(">q", 42)
    assert _enc("int8", "42") == struct.pack(">q", 42)
    assert _enc("int4", 7.9) == struct.pack(">i", 7)  # Elasticsearch truncates fractions
    assert _enc("int2", [3]) == struct.pack(">h", 3)  # a one-element array is one value
    with pytest.raises(Reject, match="out of range for int2"):
        _enc("int2", 40_000)
    with pytest.raises(Reject, match="is not a number"):
        _enc("int8", "lots")
    with pytest.raises(Reject, match="boolean"):
        _enc("int8", True)


def test_floats_booleans_numeric() -> None:
    assert _enc("float8", "1.5") == struct.pack(">d", 1.5)
    assert _enc("float4", 2) == struct.pack(">f", 2.0)
    with pytest.raises(Reject, match="out of range for real"):
        _enc("float4", 1e39)
    assert _enc("bool", "true") == b"\x01"
    assert _enc("bool", False) == b"\x00"
    with pytest.raises(Reject):
        _enc("bool", "yes")
    assert _enc("numeric", "12.50") is not None


def test_text_nul_and_multiple_values_are_rejected() -> None:
    assert _enc("text", "héllo") == "héllo".encode()
    assert _enc("text", 12) == b"12"
    with pytest.raises(Reject, match="NUL"):
        _enc("text", "a\x00b")
    with pytest.raises(Reject, match="2 values for a single-valued column"):
        _enc("text", ["a", "b"])
    assert _enc("text", None) is None and _enc("text", []) is None


def test_inet_binary() -> None:
    assert _enc("inet", "10.1.2.3") == bytes([2, 32, 0, 4, 10, 1, 2, 3])
    v6 = _enc("inet", "::1")
    assert v6 is not None and v6[:4] == bytes([3, 128, 0, 16]) and v6[-1] == 1
    with pytest.raises(Reject, match="not an IP"):
        _enc("inet", "10.1.2")


def test_vectors_check_dimensions_and_finiteness() -> None:
    assert _enc("vector", [1, 0.5], display="vector(2)") == struct.pack(">hh2f", 2, 0, 1.0, 0.5)
    assert _enc("halfvec", [1, 0.5], display="halfvec(2)") == struct.pack(">hh2e", 2, 0, 1.0, 0.5)
    with pytest.raises(Reject, match="3 dimensions, the column 2"):
        _enc("vector", [1, 2, 3], display="vector(2)")
    with pytest.raises(Reject, match="out of range for halfvec"):
        _enc("halfvec", [1e6, 0], display="halfvec(2)")


def test_jsonb_and_text_arrays() -> None:
    assert _enc("jsonb", {"a": [1, 2]}) == b'\x01{"a":[1,2]}'
    assert _enc("jsonb", [{"u": "x"}]) == b'\x01[{"u":"x"}]'
    with pytest.raises(Reject, match="jsonb rejects"):
        _enc("jsonb", {"a": "\x00"})
    arr = _enc("_text", ["ab", None, ["c"]], display="text[]", element="text")
    assert arr == struct.pack(">iiiii", 1, 0, 25, 2, 1) + struct.pack(">i", 2) + b"ab" + struct.pack(">i", 1) + b"c"
    assert _enc("_text", "solo", display="text[]", element="text") == (
        struct.pack(">iiiii", 1, 0, 25, 1, 1) + struct.pack(">i", 4) + b"solo"
    )


@pytest.mark.parametrize(
    "value",
    [
        {"lat": 48.5, "lon": 2.25},
        [2.25, 48.5],
        "48.5,2.25",
        "POINT (2.25 48.5)",
        {"type": "Point", "coordinates": [2.25, 48.5]},
    ],
)
def test_geo_point_forms(value: Any) -> None:
    assert geo_point(value) == (2.25, 48.5)
    assert _enc("point", value) == struct.pack(">dd", 2.25, 48.5)


def test_postgis_points_are_ewkb_with_srid_4326() -> None:
    """Bytes per the EWKB spec (no PostGIS on the test server: the live path is not exercised here)."""
    expected = b"\x01" + struct.pack("<I", 0x20000001) + struct.pack("<i", 4326) + struct.pack("<dd", 2.25, 48.5)
    assert _enc("geography", [2.25, 48.5], display="geography(Point,4326)") == expected
    assert _enc("geometry", {"lat": 48.5, "lon": 2.25}, display="geometry(Point,4326)") == expected


def test_unsupported_column_type_is_a_target_error() -> None:
    with pytest.raises(TargetError, match="cannot write this column type"):
        _enc("tsquery", "x")


def test_lookup_handles_dotted_keys_objects_and_object_arrays() -> None:
    source = {"Author.Name": "ADA", "author": {"name": "Ada"}, "comments": [{"user": "a"}, {"user": "b"}, {}]}
    assert lookup(source, ("Author", "Name")) == "ADA"
    assert lookup(source, ("author", "name")) == "Ada"
    assert lookup(source, ("comments", "user")) == ["a", "b"]
    assert lookup(source, ("nope",)) is MISSING
    assert lookup({"a": {"b.c": 1}}, ("a", "b", "c")) == 1


def test_remainder_keeps_only_uncovered_fields() -> None:
    trie = coverage_trie(["title", "author.name", "comments"])
    source = {
        "title": "t",
        "author": {"name": "n", "age": 3},
        "comments": [{"x": 1}],
        "misc": {"k": "v"},
        "author.email": "e@x",
    }
    assert remainder(source, trie) == {"author": {"age": 3}, "misc": {"k": "v"}, "author.email": "e@x"}
    assert remainder({"title": "t", "author": {"name": "n"}}, trie) == {}


def test_doc_encoder_builds_a_row_and_skips_generated_columns() -> None:
    options = EsIndexOptions(
        columns=[
            EsColumn(field="title", column="title", es_type="text", pg_type="text"),
            EsColumn(field="title.raw", column="title_raw", es_type="keyword", pg_type="text", from_field="title"),
            EsColumn(field="all", column="all", es_type="text", pg_type="text", copy_from=["title"]),
            EsColumn(field="views", column="views", es_type="long", pg_type="bigint"),
        ]
    )
    table = {
        "_id": PgColumnType("_id", "text", "text"),
        "title": PgColumnType("title", "text", "text"),
        "title_raw": PgColumnType("title_raw", "text", "text"),
        "all": PgColumnType("all", "text", "text", generated=True),
        "views": PgColumnType("views", "bigint", "int8"),
        "_extra": PgColumnType("_extra", "jsonb", "jsonb"),
        "search_vector": PgColumnType("search_vector", "tsvector", "tsvector", generated=True),
    }
    enc = DocEncoder(options, table, "public.t")
    assert enc.columns == ["_id", "title", "title_raw", "views", "_extra"]
    row = enc.encode("d1", {"title": "Hi", "views": 5, "x": 1})
    expected = (
        struct.pack(">h", 5)
        + struct.pack(">i", 2) + b"d1"
        + struct.pack(">i", 2) + b"Hi"
        + struct.pack(">i", 2) + b"Hi"
        + struct.pack(">i", 8) + struct.pack(">q", 5)
        + struct.pack(">i", 8) + b'\x01{"x":1}'
    )  # fmt: skip
    assert row == expected
    null_extra = enc.encode("d2", {"title": "Hi"})
    assert null_extra.endswith(b"\xff\xff\xff\xff" * 2)  # views NULL, _extra NULL
    with pytest.raises(Reject) as err:
        enc.encode("d3", {"views": "many"})
    assert (err.value.field, err.value.column) == ("views", "views")
