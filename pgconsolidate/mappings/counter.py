"""``counter``: Redis integer strings -> a table (key PK, value bigint, expires_at) + ``<table>_incr()``.

``<table>_incr(key, by => n)`` is the INCRBY replacement: one ``INSERT .. ON CONFLICT DO UPDATE``
that adds ``by``, treats an expired row as absent (like Redis), and returns the new value.
Values must be exactly Redis' integer form (``-12``, not ``+12``, ``012`` or ``1_2``), so the
row value written back with INCR semantics is byte-for-byte what Redis held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import PlanItem, TargetCaps

_MIN_BIGINT = -(2**63)
_MAX_BIGINT = 2**63 - 1


class CounterOptions(c.OptionsBase):
    """``target.options`` of a ``counter`` item (counters are durable: the table is always logged)."""

    key_type: c.KeyType = "text"
    cleanup: c.Cleanup = "none"


def parse_redis_int(value: bytes) -> int | None:
    """The integer Redis would INCR, or None (rejects spaces, ``+``, leading zeros, ``_``, overflow)."""
    try:
        number = int(value)
    except ValueError:
        return None
    if b"%d" % number != value or not _MIN_BIGINT <= number <= _MAX_BIGINT:
        return None
    return number


class Counter(c.MappingBase[CounterOptions]):
    """Redis integer strings as rows of ``(key, value bigint, expires_at)``."""

    name: ClassVar[str] = "counter"
    redis_types: ClassVar[frozenset[str]] = frozenset({"string"})
    Options: ClassVar[type[BaseModel]] = CounterOptions
    function: ClassVar[str] = "incr"
    """The template's SQL function: ``<table>_<function>``, passed as ``<function>_function``."""

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/<name>.sql.j2`` (adds the quoted ``<table>_<function>`` name)."""
        opts = self.options(item)
        t = c.target_of(item)
        function = c.ident(t.schema_name, c.derived_name(t.table, f"_{self.function}"))
        ctx = {**c.common_context(item, caps), **opts.model_dump(), f"{self.function}_function": function}
        ctx["body_tag"] = c.dollar_tag(ctx["table"], function)
        return ctx

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
        to_dt = c.ms_to_datetime

        def convert(record: SourceRecord) -> tuple[Any, ...]:
            key = record.key
            raw: bytes = record.value
            try:
                number = int(raw)
            except ValueError:
                number = None
            # The round trip rejects ' 1', '+1', '01', '1_0' which int() accepts.
            if number is None or b"%d" % number != raw or not _MIN_BIGINT <= number <= _MAX_BIGINT:
                raise c.data_error(
                    item,
                    "target.mapping",
                    key,
                    "is not a 64-bit integer in Redis form",
                    "set it to kv_table (with options.value_type: text)",
                )
            return (conv_key(key), number, to_dt(record.expires_at_ms))

        return convert

    def copy_encoder(self, item: PlanItem, column_types: Sequence[str]) -> Callable[[SourceRecord], bytes] | None:
        """``record -> binary COPY row``, or None when the table's columns are not the plan's types.

        The value is parsed here (PostgreSQL cannot check Redis' integer form); anything else
        raises the same DataError as :meth:`to_row`. The key is sent raw (the server checks it).
        """
        opts = self.options(item)
        if list(column_types) != [opts.key_type, "bigint", c.TIMESTAMPTZ]:
            return None
        head, null, ts, bigint = c.FIELD_HEAD, c.NULL_FIELD, c.timestamptz_field, c.bigint_field
        convert = self.row_converter(item)

        def encode(record: SourceRecord) -> bytes:
            key, raw, ms = record.key, record.value, record.expires_at_ms
            try:
                number = int(raw)
            except ValueError:
                number = None
            if number is None or b"%d" % number != raw or not _MIN_BIGINT <= number <= _MAX_BIGINT:
                convert(record)  # raises the DataError naming the key and the plan field
                raise AssertionError("unreachable: the row converter accepted a non-integer")
            return head(3, len(key)) + key + bigint(number) + (null if ms is None else ts(ms))

        return encode

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """The integer (or the raw bytes when it is not one, so verify reports a value mismatch)."""
        raw = bytes(record.value)
        number = parse_redis_int(raw)
        return Canonical("counter", raw if number is None else number, record.expires_at_ms)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Target row ``(key, value, expires_at)`` with the value as int."""
        return Canonical("counter", int(row[1]), c.datetime_to_ms(row[2]))
