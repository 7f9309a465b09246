"""``hash_jsonb``: Redis hashes -> a table (key PK, fields jsonb, expires_at).

Every hash becomes one JSON object of field -> value strings. With ``field_encoding: base64``
every field value of the item is base64 text (chosen by the planner when sampled values are
binary, and recorded in the plan so readers know); field names are always UTF-8 JSON keys.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel

from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings import _members as m
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import PlanItem, TargetCaps
from pgconsolidate.sources.resp import round_trip, supports_pexpiretime


class HashJsonbOptions(c.OptionsBase):
    """``target.options`` of a ``hash_jsonb`` item."""

    key_type: c.KeyType = "text"
    unlogged: bool = False
    field_encoding: Literal["utf8", "base64"] = "utf8"
    cleanup: c.Cleanup = "none"


# orjson: ~5x faster than the json module for these small objects (measured: it was a third of
# the copy's Python time per hash); same output shape (compact, UTF-8, \u0000 for NUL).
_dumps = orjson.dumps


def _fields_converter(item: PlanItem, encoding: str) -> Callable[[bytes, dict[bytes, bytes]], bytes]:
    """The ``fields`` converter: a JSON object as UTF-8 bytes, DataError naming the key and the fix."""

    def bad_name(key: bytes, problem: str) -> Exception:
        return c.data_error(
            item,
            "verdict",
            key,
            f"has a hash field name that {problem} (field names become JSON keys)",
            "set it to keep",
        )

    def check_names(key: bytes, fields: dict[bytes, bytes]) -> None:
        for name in fields:
            c.pg_text(name, lambda problem: bad_name(key, problem))

    if encoding == "base64":
        b64 = base64.b64encode

        def to_b64(key: bytes, fields: dict[bytes, bytes]) -> bytes:
            try:
                out = _dumps({k.decode("utf-8"): b64(v).decode("ascii") for k, v in fields.items()})
            except UnicodeDecodeError:
                check_names(key, fields)  # values are base64 here, so a field name failed: raises
                raise
            if b"\\u0000" in out:  # only a NUL in a field name can produce this escape here
                check_names(key, fields)
            return out

        return to_b64

    field = "target.options.field_encoding"

    def to_utf8(key: bytes, fields: dict[bytes, bytes]) -> bytes:
        try:
            out = _dumps({k.decode("utf-8"): v.decode("utf-8") for k, v in fields.items()})
        except UnicodeDecodeError:
            check_names(key, fields)
            raise c.data_error(
                item, field, key, "has a field value that is not valid UTF-8", "set it to base64"
            ) from None
        # jsonb rejects \u0000; the escape text can also come from a literal backslash, so look closer.
        if b"\\u0000" in out:
            check_names(key, fields)
            if any(b"\x00" in v for v in fields.values()):
                raise c.data_error(item, field, key, "has a field value with a NUL byte", "set it to base64")
        return out

    return to_utf8


class HashJsonb(c.MappingBase[HashJsonbOptions]):
    """Redis hashes as rows of ``(key, fields jsonb, expires_at)``."""

    name: ClassVar[str] = "hash_jsonb"
    redis_types: ClassVar[frozenset[str]] = frozenset({"hash"})
    Options: ClassVar[type[BaseModel]] = HashJsonbOptions

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/hash_jsonb.sql.j2``."""
        opts = self.options(item)
        return {**c.common_context(item, caps), **opts.model_dump()}

    def columns(self, item: PlanItem) -> Sequence[str]:
        """``key, fields, expires_at``."""
        return ("key", "fields", "expires_at")

    def read(self, client: Any, keys: Sequence[bytes], item: PlanItem, now_ms: int) -> list[SourceRecord | None]:
        """One pipelined round: ``HSCAN key 0 COUNT n`` + the expiry per key (big hashes continue).

        HSCAN rather than HGETALL: a small (listpack) hash comes back whole in that one call with
        cursor 0, exactly like HGETALL, but a big (hashtable) one returns about ``n`` fields and a
        cursor, so no single call makes Redis build a huge reply while it blocks every client. The
        rest of such a hash is read page by page and assembled into its one row (HSCAN may repeat
        a field; the dict absorbs it). A key that vanished or is of another type reads as ``None``.
        """
        if not keys:
            return []
        absolute = supports_pexpiretime(client)
        expiry = b"PEXPIRETIME" if absolute else b"PTTL"
        expiry_head = b"*2\r\n$%d\r\n%s\r\n" % (len(expiry), expiry)
        tail = b"$1\r\n0\r\n$5\r\nCOUNT\r\n" + b"$%d\r\n%d\r\n" % (len(str(m.CHUNK_ELEMENTS)), m.CHUNK_ELEMENTS)
        parts = []
        for key in keys:
            arg = b"$%d\r\n%s\r\n" % (len(key), key)
            parts.append(b"*5\r\n$5\r\nHSCAN\r\n" + arg + tail + expiry_head + arg)
        replies = round_trip(client, b"".join(parts), 2 * len(keys))
        offset = 0 if absolute else now_ms
        out: list[SourceRecord | None] = []
        append = out.append
        for key, page, ttl in zip(keys, replies[0::2], replies[1::2], strict=True):
            if ttl.__class__ is not int or page.__class__ is not list:
                c.check_reply(key, page, "HSCAN", ttl, expiry)
                append(None)  # WRONGTYPE: not this item's key
                continue
            if ttl == -2:
                append(None)
                continue
            cursor, flat = page
            fields = dict(zip(flat[0::2], flat[1::2], strict=True))
            if cursor != b"0":
                rest = m.ChunkedValue(client, key, m.HASH, 0).scan_from(cursor)
                fields.update(pair for window in rest for pair in window)
            append(SourceRecord(key, fields, None if ttl < 0 else ttl + offset) if fields else None)
        return out

    def row_converter(self, item: PlanItem) -> Callable[[SourceRecord], tuple[Any, ...]]:
        """A fast ``record -> row`` function for this item (options validated once)."""
        opts = self.options(item)
        conv_key = c.key_converter(item, opts.key_type)
        conv_fields = _fields_converter(item, opts.field_encoding)
        to_dt = c.ms_to_datetime

        def convert(record: SourceRecord) -> tuple[Any, ...]:
            key = record.key
            return (conv_key(key), conv_fields(key, record.value), to_dt(record.expires_at_ms))

        return convert

    def copy_encoder(self, item: PlanItem, column_types: Sequence[str]) -> Callable[[SourceRecord], bytes] | None:
        """``record -> binary COPY row``, or None when the table's columns are not the plan's types.

        The fields object is serialised (and checked) exactly as in :meth:`to_row`; only the
        datetime and the per-value adaptation are skipped.
        """
        opts = self.options(item)
        if list(column_types) != [opts.key_type, "jsonb", c.TIMESTAMPTZ]:
            return None
        head, jsonb_len, null, ts = c.FIELD_HEAD, c.JSONB_LEN, c.NULL_FIELD, c.timestamptz_field
        conv_fields = _fields_converter(item, opts.field_encoding)

        def encode(record: SourceRecord) -> bytes:
            key, ms = record.key, record.expires_at_ms
            text = conv_fields(key, record.value)
            return head(3, len(key)) + key + jsonb_len(len(text) + 1, 1) + text + (null if ms is None else ts(ms))

        return encode

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """``{field name: value bytes}`` (names decoded with surrogateescape, never failing)."""
        fields: dict[bytes, bytes] = record.value
        value = {k.decode("utf-8", "surrogateescape"): bytes(v) for k, v in fields.items()}
        return Canonical("hash", value, record.expires_at_ms)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Target row ``(key, fields, expires_at)`` decoded back to ``{field name: value bytes}``."""
        fields = row[1]
        if isinstance(fields, str | bytes):
            fields = json.loads(fields)
        expires = c.datetime_to_ms(row[2])
        if not isinstance(fields, dict):
            return Canonical("json", fields, expires)
        if self.options(item).field_encoding == "base64":
            decode: Callable[[Any], bytes] = _b64_or_raw
        else:
            decode = _utf8_or_raw
        return Canonical("hash", {k: decode(v) for k, v in fields.items()}, expires)


def _utf8_or_raw(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else json.dumps(value).encode("utf-8")


def _b64_or_raw(value: Any) -> bytes:
    if not isinstance(value, str):
        return json.dumps(value).encode("utf-8")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return value.encode("utf-8")
