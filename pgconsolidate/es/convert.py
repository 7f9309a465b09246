"""Elasticsearch documents -> PostgreSQL binary COPY rows, one column encoder per planned column.

The copy engine (:mod:`pgconsolidate.es.copy`) turns every search hit into one row of the item's
table: ``_id`` into ``options.id_column``, each :class:`~pgconsolidate.models_es.EsColumn` from the
value at its dotted path of ``_source`` (a multi-field reads its parent: ``title.raw`` <-
``title``), and whatever ``_source`` holds that no column covers into ``options.extra_column``
(jsonb). Generated columns (the tsvector, ``copy_to`` targets) are never written.

Values are converted here, in Python, with Elasticsearch's own leniency (``"42"`` into a long,
``"true"`` into a boolean, epoch-millis numbers and ISO strings into dates, single values into
array columns, ``null``/``[]`` as no value) and PostgreSQL's limits (integer ranges, no NUL in
text or jsonb, vector dimensions, finite floats). A value that cannot be stored raises
:class:`Reject` naming the field, the column and the reason: the engine sends that document to
the reject files instead of failing a whole COPY batch on the server.

Encoders are chosen from the *actual* column types of the target table (``pg_attribute``), not
from the plan's ``pg_type`` text, so a table altered by hand (``bigint`` -> ``numeric``) is still
written correctly, and binary COPY never meets a type it cannot encode: an unsupported type is a
:class:`~pgconsolidate.errors.TargetError` before the first batch.
"""

from __future__ import annotations

import ipaddress
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson
from psycopg.types.numeric import DecimalBinaryDumper

from pgconsolidate.errors import TargetError
from pgconsolidate.mappings._common import FIELD_LEN, MAX_PG_US, MIN_PG_US, NULL_FIELD, PG_EPOCH_MS
from pgconsolidate.models_es import EsColumn, EsIndexOptions

MISSING: Final = object()
"""A path absent from ``_source`` (distinct from an explicit ``null``)."""


_PG_EPOCH_DATE: Final = date(2000, 1, 1)
_UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_INT_RANGES: Final = {
    "int8": (-(2**63), 2**63 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int2": (-(2**15), 2**15 - 1),
}
_INT_FORMATS: Final = {"int8": ">q", "int4": ">i", "int2": ">h"}
_FLOAT4_MAX: Final = 3.4028234663852886e38
_HALF_MAX: Final = 65504.0
_TYPMOD_DIMS = re.compile(r"\((\d+)\)")
_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_NUMERIC_STRING = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GEO_STRING = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*,\s*([+-]?\d+(?:\.\d+)?)\s*$")
_GEO_WKT = re.compile(r"^\s*POINT\s*\(\s*([+-]?\d+(?:\.\d+)?)\s+([+-]?\d+(?:\.\d+)?)\s*\)\s*$", re.IGNORECASE)
_DECIMAL_DUMPER = DecimalBinaryDumper(Decimal)

# Element type OIDs of the array columns the engine writes (binary arrays name their element type).
_ELEMENT_OIDS: Final = {
    "text": 25,
    "varchar": 1043,
    "bpchar": 1042,
    "int8": 20,
    "int4": 23,
    "int2": 21,
    "float8": 701,
    "float4": 700,
    "numeric": 1700,
    "bool": 16,
    "timestamptz": 1184,
    "timestamp": 1114,
    "date": 1082,
    "inet": 869,
    "jsonb": 3802,
    "json": 114,
}


class Reject(Exception):
    """A document value that cannot be stored in its planned column."""

    def __init__(self, field: str, column: str, pg_type: str, reason: str) -> None:
        super().__init__(f"field {field!r} -> column {column} ({pg_type}): {reason}")
        self.field = field
        self.column = column
        self.pg_type = pg_type
        self.reason = reason


class _Bad(Exception):
    """Raised by a value encoder; :class:`ColumnEncoder` adds the field/column and raises Reject."""


# --------------------------------------------------------------------------- paths


def split_path(path: str) -> tuple[str, ...]:
    """``'author.name'`` -> ``('author', 'name')``."""
    return tuple(path.split("."))


def lookup(obj: Any, parts: Sequence[str], start: int = 0) -> Any:
    """The value at a dotted path of ``_source``, or :data:`MISSING`.

    Elasticsearch treats ``{"a": {"b": 1}}`` and ``{"a.b": 1}`` alike, so every split of the
    remaining path is tried (longest key first); through an array of objects the values of every
    element are collected into one list (how Elasticsearch flattens object arrays).
    """
    if not isinstance(obj, dict):
        return MISSING
    n = len(parts)
    if start == n - 1:  # the common case: one plain key left
        return obj.get(parts[start], MISSING)
    for end in range(n, start, -1):
        key = parts[start] if end == start + 1 else ".".join(parts[start:end])
        if key not in obj:
            continue
        value = obj[key]
        if end == n:
            return value
        if isinstance(value, dict):
            found = lookup(value, parts, end)
            if found is not MISSING:
                return found
        elif isinstance(value, list):
            collected: list[Any] = []
            for element in value:
                found = lookup(element, parts, end)
                if found is MISSING or found is None:
                    continue
                collected.extend(found if isinstance(found, list) else [found])
            if collected:
                return collected
    return MISSING


_LEAF: Final = "\x00leaf"


def coverage_trie(paths: Iterable[str]) -> dict[str, Any]:
    """A trie of the dotted paths the columns cover (a node holding :data:`_LEAF` covers its subtree)."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for part in split_path(path):
            node = node.setdefault(part, {})
        node[_LEAF] = True
    return root


def remainder(obj: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``obj`` (a ``_source`` or a sub-object) that no covered path reaches.

    Keys keep their original spelling and nesting (``{"author": {"age": 3}}``), so the ``_extra``
    column reads like the source document minus the columns.
    """
    out: dict[str, Any] = {}
    for key, value in obj.items():
        current: Mapping[str, Any] | None = node
        covered = False
        for part in key.split("."):
            if current is None or _LEAF in current:
                break
            current = current.get(part)
        if current is not None and _LEAF in current:
            covered = True
        if covered:
            continue
        if current is None:
            out[key] = value
        elif isinstance(value, dict):
            rest = remainder(value, current)
            if rest:
                out[key] = rest
        elif isinstance(value, list):
            parts = [remainder(v, current) if isinstance(v, dict) else v for v in value]
            if any(p != {} for p in parts):
                out[key] = parts
        elif value is not None:
            out[key] = value  # a scalar where the mapping has an object: keep it, never lose data
    return out


# --------------------------------------------------------------------------- value parsing


def parse_date_ms(value: Any, *, epoch_seconds: bool = False) -> int:
    """An Elasticsearch date value as UTC epoch milliseconds (raises ValueError).

    Numbers (and numeric strings) are epoch millis (``epoch_second`` formats: seconds); strings
    are ISO 8601 / ``strict_date_optional_time``: ``2024``, ``2024-05``, ``2024-05-01``,
    ``2024-05-01T10:00``, ``...:00.123456789Z``, ``+02:00`` offsets; no zone means UTC, as in
    Elasticsearch. Sub-millisecond digits are kept to the microsecond by :func:`parse_date_us`.
    """
    return parse_date_us(value, epoch_seconds=epoch_seconds) // 1000


def parse_date_us(value: Any, *, epoch_seconds: bool = False) -> int:
    """Like :func:`parse_date_ms`, in UTC epoch microseconds (PostgreSQL's precision)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a date")
    if isinstance(value, int):
        return value * (1_000_000 if epoch_seconds else 1000)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return round(value * (1_000_000 if epoch_seconds else 1000))
    if not isinstance(value, str):
        raise ValueError(f"a {type(value).__name__} is not a date")
    text = value.strip()
    # The date format is tried before epoch_millis (ES's default "strict_date_optional_time||epoch_millis"):
    # "2024" is the year 2024, not 2.024 seconds after 1970.
    ym = _YEAR_MONTH.match(text)
    if not ym and _NUMERIC_STRING.match(text):
        number = float(text) if any(c in text for c in ".eE") else int(text)
        return parse_date_us(number, epoch_seconds=epoch_seconds)
    if ym:
        dt = datetime(int(ym[1]), int(ym[2] or 1), 1, tzinfo=UTC)
    else:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"unparsable date {text[:60]!r}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    return (dt - _UNIX_EPOCH) // timedelta(microseconds=1)


def _to_int(value: Any, kind: str) -> int:
    """Elasticsearch's coercion into an integer type: numeric strings parsed, fractions truncated."""
    if isinstance(value, bool):
        raise _Bad("a boolean is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad("not a finite number")
        number = int(value)
    elif isinstance(value, str) and _NUMERIC_STRING.match(value.strip()):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            number = int(Decimal(text))
    else:
        raise _Bad(f"{_show(value)} is not a number")
    low, high = _INT_RANGES[kind]
    if not low <= number <= high:
        raise _Bad(f"{number} is out of range for {kind}")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Bad("a boolean is not a number")
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMERIC_STRING.match(value.strip())):
        number = float(value)
    else:
        raise _Bad(f"{_show(value)} is not a number")
    if not math.isfinite(number):
        raise _Bad("not a finite number")
    return number


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- binary encoders


def _enc_text(value: Any) -> bytes:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = orjson.dumps(value).decode()  # how the value reads in JSON (and in Elasticsearch)
    else:
        raise _Bad(f"a {type(value).__name__} is not a string")
    if "\x00" in text:
        raise _Bad("text contains a NUL character (PostgreSQL text cannot hold it)")
    return text.encode()


def _enc_int(kind: str) -> Callable[[Any], bytes]:
    pack = struct.Struct(_INT_FORMATS[kind]).pack

    def enc(value: Any) -> bytes:
        return pack(_to_int(value, kind))

    return enc


def _enc_float8(value: Any) -> bytes:
    return struct.pack(">d", _to_float(value))


def _enc_float4(value: Any) -> bytes:
    number = _to_float(value)
    if abs(number) > _FLOAT4_MAX:
        raise _Bad(f"{number} is out of range for real")
    return struct.pack(">f", number)


def _enc_numeric(value: Any) -> bytes:
    if isinstance(value, bool):
        raise _Bad("a boolean is not a number")
    try:
        number = Decimal(str(value).strip()) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise _Bad(f"{_show(value)} is not a number")
    data = _DECIMAL_DUMPER.dump(number)
    assert data is not None
    return bytes(data)


def _enc_bool(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if value == "true":
        return b"\x01"
    if value in ("false", ""):  # Elasticsearch reads the empty string as false
        return b"\x00"
    raise _Bad(f"{_show(value)} is not a boolean")


def _date_us(value: Any, epoch_seconds: bool) -> int:
    try:
        return parse_date_us(value, epoch_seconds=epoch_seconds)
    except (ValueError, OverflowError) as exc:
        raise _Bad(str(exc)) from None


def _enc_timestamp(epoch_seconds: bool) -> Callable[[Any], bytes]:
    def enc(value: Any) -> bytes:
        us = _date_us(value, epoch_seconds) - PG_EPOCH_MS * 1000
        if not MIN_PG_US <= us < MAX_PG_US:
            raise _Bad(f"{_show(value)} is out of range for timestamptz")
        return struct.pack(">q", us)

    return enc


def _enc_date(epoch_seconds: bool) -> Callable[[Any], bytes]:
    def enc(value: Any) -> bytes:
        days = (_date_us(value, epoch_seconds) - PG_EPOCH_MS * 1000) // 86_400_000_000
        return struct.pack(">i", days)

    return enc


def _enc_inet(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _Bad(f"{_show(value)} is not an IP address")
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        raise _Bad(f"{_show(value)} is not an IP address") from None
    packed = addr.packed
    family = 2 if addr.version == 4 else 3  # PGSQL_AF_INET / PGSQL_AF_INET6
    return bytes((family, len(packed) * 8, 0, len(packed))) + packed


def _json_bytes(value: Any) -> bytes:
    try:
        data = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise _Bad(f"not JSON-serialisable: {exc}") from None
    if b"\\u0000" in data:
        raise _Bad("JSON contains a NUL character (\\u0000), which jsonb rejects")
    return data


def _enc_jsonb(value: Any) -> bytes:
    return b"\x01" + _json_bytes(value)


def _floats(value: Any, dims: int | None) -> list[float]:
    if not isinstance(value, list) or not value:
        raise _Bad(f"{_show(value)} is not a vector")
    if dims is not None and len(value) != dims:
        raise _Bad(f"vector has {len(value)} dimensions, the column {dims}")
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise _Bad(f"vector element {_show(x)} is not a finite number")
        out.append(float(x))
    return out


def _enc_vector(dims: int | None) -> Callable[[Any], bytes]:
    def enc(value: Any) -> bytes:
        floats = _floats(value, dims)
        if any(abs(x) > _FLOAT4_MAX for x in floats):
            raise _Bad("vector element out of range for float4")
        return struct.pack(f">hh{len(floats)}f", len(floats), 0, *floats)

    return enc


def _enc_halfvec(dims: int | None) -> Callable[[Any], bytes]:
    def enc(value: Any) -> bytes:
        floats = _floats(value, dims)
        if any(abs(x) > _HALF_MAX for x in floats):
            raise _Bad("vector element out of range for halfvec (|x| <= 65504)")
        return struct.pack(f">hh{len(floats)}e", len(floats), 0, *floats)

    return enc


def geo_point(value: Any) -> tuple[float, float]:
    """A ``geo_point`` value in any of Elasticsearch's forms -> (lon, lat); raises ValueError.

    Forms: ``{"lat": .., "lon": ..}``, ``[lon, lat]``, ``"lat,lon"``, ``"POINT (lon lat)"``;
    GeoJSON ``{"type": "Point", "coordinates": [lon, lat]}``. Geohashes are not decoded.
    """
    lon: Any
    lat: Any
    if isinstance(value, dict):
        if "coordinates" in value:
            lon, lat = (value["coordinates"] + [None, None])[:2]
        else:
            lon, lat = value.get("lon"), value.get("lat")
    elif isinstance(value, list) and len(value) in (2, 3):
        lon, lat = value[0], value[1]
    elif isinstance(value, str) and (m := _GEO_STRING.match(value)):
        lat, lon = float(m[1]), float(m[2])
    elif isinstance(value, str) and (m := _GEO_WKT.match(value)):
        lon, lat = float(m[1]), float(m[2])
    else:
        raise ValueError(f"{_show(value)} is not a geo_point (geohashes are not decoded)")
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValueError(f"{_show(value)} is not a geo_point") from None
    if not (-180.0 <= lon_f <= 180.0 and -90.0 <= lat_f <= 90.0):
        raise ValueError(f"{_show(value)} is outside lon [-180, 180] / lat [-90, 90]")
    return lon_f, lat_f


def _enc_point(value: Any) -> bytes:
    try:
        lon, lat = geo_point(value)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    return struct.pack(">dd", lon, lat)  # point(x, y) = (lon, lat), as earthdistance's <@> expects


def _enc_ewkb_point(value: Any) -> bytes:
    """PostGIS ``geometry``/``geography`` binary input: little-endian EWKB Point with SRID 4326."""
    try:
        lon, lat = geo_point(value)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    return b"\x01" + struct.pack("<Iidd", 0x20000001, 4326, lon, lat)


def _array_of(element: Callable[[Any], bytes], oid: int) -> Callable[[list[Any]], bytes]:
    """Binary one-dimensional array of non-null elements."""

    def enc(values: list[Any]) -> bytes:
        parts = [struct.pack(">iiiii", 1, 0, oid, len(values), 1)]
        for v in values:
            data = element(v)
            parts.append(struct.pack(">i", len(data)))
            parts.append(data)
        return b"".join(parts)

    return enc


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True, slots=True)
class PgColumnType:
    """A target column as the catalog describes it."""

    name: str
    display: str = ""
    """``format_type(atttypid, atttypmod)``, e.g. ``vector(8)``, ``text[]``."""
    typname: str = ""
    """``pg_type.typname`` (``_text`` for ``text[]``)."""
    element: str | None = None
    """Element ``typname`` of an array column."""
    generated: bool = False


COLUMN_TYPES_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, et.typname, a.attgenerated <> '' "
    "FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
    "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
"""The query :func:`column_types_from_rows` reads (parameters: schema, table)."""


def column_types_from_rows(rows: Iterable[Sequence[Any]]) -> dict[str, PgColumnType]:
    """:data:`COLUMN_TYPES_SQL` rows -> column name -> :class:`PgColumnType`."""
    return {
        str(r[0]): PgColumnType(
            name=str(r[0]), display=str(r[1]), typname=str(r[2]), element=r[3], generated=bool(r[4])
        )
        for r in rows
    }


def _scalar_encoder(typname: str, display: str, es_type: str, date_format: str | None) -> Callable[[Any], bytes]:
    epoch_seconds = bool(date_format and "epoch_second" in date_format and "epoch_millis" not in date_format)
    dims_match = _TYPMOD_DIMS.search(display)
    dims = int(dims_match[1]) if dims_match else None
    simple: dict[str, Callable[[Any], bytes]] = {
        "text": _enc_text,
        "varchar": _enc_text,
        "bpchar": _enc_text,
        "citext": _enc_text,
        "int8": _enc_int("int8"),
        "int4": _enc_int("int4"),
        "int2": _enc_int("int2"),
        "float8": _enc_float8,
        "float4": _enc_float4,
        "numeric": _enc_numeric,
        "bool": _enc_bool,
        "timestamptz": _enc_timestamp(epoch_seconds),
        "timestamp": _enc_timestamp(epoch_seconds),
        "date": _enc_date(epoch_seconds),
        "inet": _enc_inet,
        "jsonb": _enc_jsonb,
        "json": _json_bytes,
        "vector": _enc_vector(dims),
        "halfvec": _enc_halfvec(dims),
        "point": _enc_point,
        "geography": _enc_ewkb_point,
        "geometry": _enc_ewkb_point,
    }
    found = simple.get(typname)
    if found is None:
        raise KeyError(typname)
    del es_type
    return found


class ColumnEncoder:
    """Encodes one planned column's value of a document (binary COPY field bytes, or None for NULL)."""

    __slots__ = ("array", "column", "encode_one", "field", "is_json", "parts", "pg_type", "whole_list")

    def __init__(self, col: EsColumn, pg: PgColumnType) -> None:
        self.field = col.field
        self.column = col.column
        self.pg_type = pg.display
        self.parts = split_path(col.from_field or col.field)
        fmt = getattr(col, "format", None)
        self.array = pg.element is not None
        base = pg.element if pg.element is not None else pg.typname
        try:
            scalar = _scalar_encoder(base, pg.display, col.es_type, fmt if isinstance(fmt, str) else None)
        except KeyError:
            raise TargetError(
                f"column {pg.name} ({pg.display}) of field {col.field!r}: the Elasticsearch copy cannot "
                "write this column type",
                hint="use text, a numeric type, boolean, timestamptz, date, inet, jsonb, vector(n), halfvec(n), "
                "point or an array of a scalar type",
            ) from None
        self.is_json = base in ("jsonb", "json")
        # A vector or a [lon, lat] geo_point is *one* value that happens to be a JSON array.
        self.whole_list = base in ("vector", "halfvec", "point", "geography", "geometry") or self.is_json
        if self.array:
            if base not in _ELEMENT_OIDS:
                raise TargetError(f"column {pg.name} ({pg.display}): arrays of {base} are not supported by the copy")
            self.encode_one = _array_of(scalar, _ELEMENT_OIDS[base])
        else:
            self.encode_one = scalar

    def encode(self, source: Mapping[str, Any]) -> bytes | None:
        """This column's field bytes for ``source`` (None: SQL NULL); raises :class:`Reject`."""
        value = lookup(source, self.parts)
        if value is MISSING or value is None:
            return None
        try:
            if self.array:
                values = _flat_values(value)
                return self.encode_one(values) if values else None
            if isinstance(value, list) and not self.is_json:
                if self.whole_list and value and not isinstance(value[0], list | dict | str):
                    return self.encode_one(value)  # a vector, or a [lon, lat] point
                values = _flat_values(value)
                if not values:
                    return None
                if len(values) > 1:
                    raise _Bad(f"{len(values)} values for a single-valued column (plan the field with array: true)")
                value = values[0]
            return self.encode_one(value)
        except _Bad as exc:
            raise Reject(self.field, self.column, self.pg_type, str(exc)) from None


def _flat_values(value: Any) -> list[Any]:
    """Elasticsearch's view of a field value: arrays flattened, nulls dropped."""
    if not isinstance(value, list):
        return [] if value is None else [value]
    out: list[Any] = []
    for v in value:
        if isinstance(v, list):
            out.extend(_flat_values(v))
        elif v is not None:
            out.append(v)
    return out


class DocEncoder:
    """Turns search hits into binary COPY rows of one item's table."""

    def __init__(self, options: EsIndexOptions, table_columns: Mapping[str, PgColumnType], display: str) -> None:
        id_col = table_columns.get(options.id_column)
        if id_col is None:
            raise TargetError(f"target table {display} has no id column {options.id_column}")
        self.columns: list[str] = [options.id_column]
        self.encoders: list[ColumnEncoder] = []
        covered: list[str] = []
        for col in options.columns:
            if getattr(col, "copy_from", None):
                continue  # a copy_to target: generated in PostgreSQL, absent from _source
            pg = table_columns.get(col.column)
            if pg is None:
                raise TargetError(
                    f"target table {display} lacks column {col.column} (field {col.field!r})",
                    hint="re-create the table from this plan's DDL",
                )
            if pg.generated:
                continue
            covered.append(col.field)
            if col.from_field:
                covered.append(col.from_field)
            self.columns.append(col.column)
            self.encoders.append(ColumnEncoder(col, pg))
        self.trie = coverage_trie(covered)
        self.extra = options.extra_column if options.extra_column in table_columns else None
        if options.extra_column and self.extra is None:
            raise TargetError(f"target table {display} lacks the extra column {options.extra_column}")
        if self.extra is not None:
            self.columns.append(self.extra)
        self.width = struct.pack(">h", len(self.columns))

    def encode(self, doc_id: str, source: Mapping[str, Any]) -> bytes:
        """One binary COPY tuple for a document; raises :class:`Reject` when a value does not fit."""
        id_bytes = doc_id.encode()
        parts = [self.width, FIELD_LEN(len(id_bytes)), id_bytes]
        for enc in self.encoders:
            data = enc.encode(source)
            if data is None:
                parts.append(NULL_FIELD)
            else:
                parts.append(FIELD_LEN(len(data)))
                parts.append(data)
        if self.extra is not None:
            rest = remainder(source, self.trie) if source else {}
            if rest:
                try:
                    data = _enc_jsonb(rest)
                except _Bad as exc:
                    raise Reject("(unmapped fields)", self.extra, "jsonb", str(exc)) from None
                parts.append(FIELD_LEN(len(data)))
                parts.append(data)
            else:
                parts.append(NULL_FIELD)
        return b"".join(parts)
