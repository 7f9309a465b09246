"""``kv_table``: Redis strings -> a table (key PK, value, expires_at).

Used for caches (UNLOGGED, value text or bytea), session JSON strings (UNLOGGED, jsonb) and JSON
documents without TTL (logged, jsonb). With ``value_type: jsonb`` an empty Redis string is stored
as SQL NULL (the only way NULL appears in ``value``), because ``''`` is not JSON; verify maps both
sides back to the empty string, so nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import PlanItem, TargetCaps


class KvTableOptions(c.OptionsBase):
    """``target.options`` of a ``kv_table`` item."""

    value_type: Literal["text", "bytea", "jsonb"] = "text"
    key_type: c.KeyType = "text"
    unlogged: bool = False
    cleanup: c.Cleanup = "none"


def _value_converter(item: PlanItem, value_type: str) -> Callable[[bytes, bytes], str | bytes | None]:
    """The value-column converter for ``value_type`` (raises DataError naming the key and the fix)."""
    field = "target.options.value_type"
    if value_type == "bytea":
        return lambda key, value: value

    if value_type == "text":

        def to_text(key: bytes, value: bytes) -> str:
            return c.pg_text(value, lambda problem: c.data_error(item, field, key, problem, "set it to bytea"))

        return to_text

    def to_json(key: bytes, value: bytes) -> str | None:
        if not value:
            return None
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise c.data_error(item, field, key, "is not valid UTF-8", "set it to bytea") from None
        problem = c.json_problem(text)
        if problem is not None:
            raise c.data_error(item, field, key, problem, "set it to text (or bytea)")
        # Keep the original text: PostgreSQL normalises jsonb itself; re-serialising could alter numbers.
        return text

    return to_json


class KvTable(c.MappingBase[KvTableOptions]):
    """Redis strings as rows of ``(key, value, expires_at)``."""

    name: ClassVar[str] = "kv_table"
    redis_types: ClassVar[frozenset[str]] = frozenset({"string"})
    Options: ClassVar[type[BaseModel]] = KvTableOptions

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/kv_table.sql.j2``."""
        opts = self.options(item)
        return {**c.common_context(item, caps), **opts.model_dump()}

    def columns(self, item: PlanItem) -> Sequence[str]:
        """``key, value, expires_at``."""
        return ("key", "value", "expires_at")

    def read(self, client: Any, keys: Sequence[bytes], item: PlanItem, now_ms: int) -> list[SourceRecord | None]:
        """GET + PTTL per key, one pipelined round trip."""
        return c.read_strings(client, keys, now_ms)

    def row_converter(self, item: PlanItem) -> Callable[[SourceRecord], tuple[Any, ...]]:
        """A fast ``record -> row`` function for this item (options validated once)."""
        opts = self.options(item)
        conv_key = c.key_converter(item, opts.key_type)
        conv_value = _value_converter(item, opts.value_type)
        to_dt = c.ms_to_datetime

        def convert(record: SourceRecord) -> tuple[Any, ...]:
            key = record.key
            return (conv_key(key), conv_value(key, record.value), to_dt(record.expires_at_ms))

        return convert

    def copy_encoder(self, item: PlanItem, column_types: Sequence[str]) -> Callable[[SourceRecord], bytes] | None:
        """``record -> binary COPY row``, or None when the table's columns are not the plan's types.

        Key and value go out as the raw bytes Redis returned (text, bytea and jsonb alike, jsonb
        with its version byte; an empty jsonb value is NULL as in :meth:`to_row`): PostgreSQL
        validates UTF-8, NUL bytes and JSON itself, and the engine re-runs :meth:`to_row` on a
        rejected row for the precise message.
        """
        opts = self.options(item)
        if list(column_types) != [opts.key_type, opts.value_type, c.TIMESTAMPTZ]:
            return None  # e.g. a table created by another plan: the typed row path adapts to it
        head, field_len, jsonb_len, null, ts = c.FIELD_HEAD, c.FIELD_LEN, c.JSONB_LEN, c.NULL_FIELD, c.timestamptz_field

        if opts.value_type == "jsonb":

            def encode_jsonb(record: SourceRecord) -> bytes:
                key, value, ms = record.key, record.value, record.expires_at_ms
                return (
                    head(3, len(key))
                    + key
                    + (jsonb_len(len(value) + 1, 1) + value if value else null)
                    + (null if ms is None else ts(ms))
                )

            return encode_jsonb

        def encode_raw(record: SourceRecord) -> bytes:
            key, ms = record.key, record.expires_at_ms
            value: bytes = record.value
            return head(3, len(key)) + key + field_len(len(value)) + value + (null if ms is None else ts(ms))

        return encode_raw

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """Source value in comparable form: parsed JSON for jsonb items, else bytes."""
        value: bytes = record.value
        if self.options(item).value_type == "jsonb":
            return Canonical("string", _parse_json_or_raw(value), record.expires_at_ms)
        return Canonical("string", bytes(value), record.expires_at_ms)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Target row ``(key, value, expires_at)`` in the same comparable form."""
        value = row[1]
        expires = c.datetime_to_ms(row[2])
        if self.options(item).value_type == "jsonb":
            if value is None:
                return Canonical("string", b"", expires)
            if isinstance(value, str):
                # JSON text (a text column) or a top-level JSON string psycopg already parsed.
                return Canonical("string", _parse_json_or_self(value), expires)
            return Canonical("string", value, expires)  # psycopg already parsed the jsonb
        if isinstance(value, str):
            return Canonical("string", value.encode("utf-8"), expires)
        return Canonical("string", bytes(value), expires)


def _parse_json_or_raw(value: str | bytes) -> Any:
    """Parsed JSON (so key order and spacing do not matter); ``b''`` for empty; raw bytes if not JSON."""
    if not value:
        return b""
    try:
        return json.loads(value)
    except ValueError:
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _parse_json_or_self(value: str) -> Any:
    """Parsed JSON text, or ``value`` itself: psycopg returns a jsonb top-level string as ``str``."""
    try:
        return json.loads(value)
    except ValueError:
        return value
