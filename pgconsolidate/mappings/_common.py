"""Helpers shared by the Redis mappings: quoting, derived names, key display, fast conversions.

Everything that turns a plan value into SQL text goes through :func:`ident` / :func:`literal`
(psycopg's own quoting, rendered without a connection), so templates never see a raw name.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar, cast

from psycopg import sql
from pydantic import BaseModel, ConfigDict

from pgconsolidate.config import redact_text
from pgconsolidate.errors import DataError, PgConsolidateError, PlanError, SourceError
from pgconsolidate.mappings.base import SourceRecord
from pgconsolidate.models import PlanItem, TargetCaps, TargetSpec
from pgconsolidate.sources.resp import round_trip, supports_pexpiretime

MAX_IDENT_BYTES = 63
"""PostgreSQL truncates longer identifiers (NAMEDATALEN - 1); we never let it do so silently."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

Cleanup = Literal["pg_cron", "sweep", "none"]

OFFLINE_DATABASE = "target_database"
"""The database name rendered into pg_cron statements when no target was probed (``pgconsolidate ddl``)."""
KeyType = Literal["text", "bytea"]

OptionsT = TypeVar("OptionsT", bound=BaseModel)


class OptionsBase(BaseModel):
    """Base of every mapping's ``target.options`` model: strict, so a typo names its path."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- SQL text


def ident(*names: str) -> str:
    """A (possibly schema-qualified) identifier, quoted by psycopg (doubles embedded quotes)."""
    return sql.Identifier(*names).as_string(None)


def literal(value: str) -> str:
    """A SQL string literal, quoted by psycopg (``E'...'`` when it holds backslashes)."""
    return sql.Literal(value).as_string(None).strip()


def dollar_tag(*texts: str) -> str:
    """A dollar-quote tag (``$pgc$``) that occurs in none of ``texts`` (quoted names may hold ``$``)."""
    n = 0
    while True:
        tag = f"$pgc{n or ''}$"
        if not any(tag in t for t in texts):
            return tag
        n += 1


def short_hash(text: str, length: int = 6) -> str:
    """A short, stable hex digest used to keep derived names unique after truncation."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def derived_name(base: str, suffix: str) -> str:
    """``<base><suffix>`` limited to 63 bytes; when too long, ``base`` is cut and a hash keeps it unique."""
    name = base + suffix
    if len(name.encode("utf-8")) <= MAX_IDENT_BYTES:
        return name
    tag = "_" + short_hash(name)
    room = MAX_IDENT_BYTES - len((tag + suffix).encode("utf-8"))
    cut = base.encode("utf-8")[:room].decode("utf-8", "ignore")
    return cut + tag + suffix


def target_of(item: PlanItem) -> TargetSpec:
    """The item's target; PlanError when a mapping is asked about an item without one."""
    if item.target is None:
        raise PlanError(f"item {item.id}: has no target (verdict {item.verdict})")
    return item.target


def parse_options(model: type[OptionsT], item: PlanItem) -> OptionsT:
    """Validate ``item.target.options`` with the mapping's model (plan files are validated on load)."""
    from pydantic import ValidationError

    try:
        return model.model_validate(target_of(item).options)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise PlanError(f"items[id={item.id}].target.options.{loc}: {first['msg']}") from None


def common_context(item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
    """Template variables every mapping shares: quoted table, derived object names, target facts."""
    t = target_of(item)
    # pg_cron jobs live in cron.database_name and run against the target database by name; job
    # names are server-wide, so they carry the target database too.
    database = caps.database if caps is not None else OFFLINE_DATABASE
    return {
        "item_id": item.id,
        "table": ident(t.schema_name, t.table),
        "live_view": ident(t.schema_name, derived_name(t.table, "_live")),
        "expires_index": ident(derived_name(t.table, "_expires_at_idx")),
        "cron_job": literal(derived_name(f"pgconsolidate_cleanup_{database}_{t.schema_name}_{t.table}", "")),
        "cron_schedule": literal("* * * * *"),
        "cron_target_database": literal(database),
        "has_uuidv7": caps.has_uuidv7 if caps is not None else False,
        "server_major": caps.major if caps is not None else None,
    }


# --------------------------------------------------------------------------- data side


def key_display(key: bytes) -> str:
    """A key as shown in messages: UTF-8, invalid bytes and control characters ``\\xNN``-escaped,
    secrets scrubbed (same display as ``sources.redis.key_to_text``, plus control characters)."""
    text = key.decode("utf-8", "backslashreplace")
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return redact_text(text)


def item_path(item: PlanItem, field: str) -> str:
    """The plan-file path of one of the item's fields, e.g. ``items[id=redis.db0.x].target.mapping``."""
    return f"items[id={item.id}].{field}"


def data_error(item: PlanItem, field: str, key: bytes, problem: str, fix: str) -> DataError:
    """A DataError naming the plan field to change, the key and the fix, in one line."""
    return DataError(f"{item_path(item, field)}: key '{key_display(key)}' {problem}; {fix}")


def ms_to_datetime(ms: int | None) -> datetime | None:
    """Epoch milliseconds -> aware UTC datetime (exact: no float rounding)."""
    return None if ms is None else EPOCH + ms * _ONE_MS


def datetime_to_ms(value: datetime | None) -> int | None:
    """Aware datetime -> epoch milliseconds (floor), the inverse of :func:`ms_to_datetime`."""
    return None if value is None else (value - EPOCH) // _ONE_MS


def key_converter(item: PlanItem, key_type: str) -> Callable[[bytes], str | bytes]:
    """Converter for the key column: bytes kept for bytea; text requires UTF-8 without NUL."""
    if key_type == "bytea":
        return bytes

    def to_text(key: bytes) -> str:
        return pg_text(
            key, lambda problem: data_error(item, "target.options.key_type", key, problem, "set it to bytea")
        )

    return to_text


def pg_text(raw: bytes, error: Callable[[str], Exception]) -> str:
    """``raw`` as text PostgreSQL can hold (UTF-8 without NUL), else ``error(problem)`` is raised.

    ``problem`` is ``"is not valid UTF-8"`` or ``"contains a NUL byte"``, phrased to follow a name
    ("key 'x' ...", "a field name that ...").
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error("is not valid UTF-8") from None
    if "\x00" in text:
        raise error("contains a NUL byte")
    return text


def key_canonical_target(value: Any) -> bytes:
    """A key column value as bytes (text columns come back as str, bytea as bytes)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def json_problem(text: str) -> str | None:
    """Why ``text`` is not acceptable to ``jsonb`` (None when it is).

    Python's parser is laxer than PostgreSQL's in three ways we must catch: ``NaN``/``Infinity``,
    ``\\u0000`` and unpaired surrogate escapes. The last two can only come from ``\\u`` escapes,
    so the deep walk runs only when the text contains one (rare; keeps the hot path short).
    """
    try:
        parsed = _STRICT_JSON(text)
    except ValueError as exc:
        return f"is not valid JSON ({exc})"
    if "\\u" in text and _bad_json_string(parsed):
        return "holds \\u0000 or an unpaired surrogate, which jsonb rejects"
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads(..., parse_constant=...) would build a new decoder on every call.
_STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant).decode


def _bad_json_string(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(_bad_json_string(k) or _bad_json_string(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_json_string(v) for v in value)
    return False


def read_strings(client: Any, keys: Sequence[bytes], now_ms: int) -> list[SourceRecord | None]:
    """One round trip reading string ``keys``: a single ``MGET`` of the batch + an expiry command per key.

    ``MGET`` is one reply parsed in C, and half the commands for Redis to run; a key of another
    Redis type reads as nil there, exactly like a WRONGTYPE reply to GET, which is what such a key
    must become: ``None``, since the glob matched it but it is not this item's data.

    The expiry is PEXPIRETIME (absolute, Redis's own clock) where the server has it, else
    ``now_ms + PTTL``. PTTL 0 is a key in its last millisecond: it still expires (``>= 0``). A key
    is reported as vanished (``None``) when its value is missing or the expiry command says -2 (it
    expired between SCAN and read). An empty string is a real value, never ``None``.
    """
    if not keys:
        return []
    absolute = supports_pexpiretime(client)
    expiry_name = b"PEXPIRETIME" if absolute else b"PTTL"
    n = len(keys)
    # Each key's RESP argument is packed once and shared by MGET and the expiry commands.
    args = [b"$%d\r\n%s\r\n" % (len(k), k) for k in keys]
    expiry_head = b"*2\r\n$%d\r\n%s\r\n" % (len(expiry_name), expiry_name)
    buffer = b"".join((b"*%d\r\n$4\r\nMGET\r\n" % (n + 1), *args, expiry_head, expiry_head.join(args)))
    replies = round_trip(client, buffer, n + 1)
    values = replies[0]
    if isinstance(values, Exception):
        raise SourceError(f"MGET failed: {redact_text(str(values))}")
    out: list[SourceRecord | None] = []
    append = out.append
    offset = 0 if absolute else now_ms
    for key, value, expiry in zip(keys, values, replies[1:], strict=True):
        if value is None or expiry == -2:
            append(None)
        elif expiry.__class__ is int:
            append(SourceRecord(key, value, None if expiry < 0 else expiry + offset))
        else:
            check_reply(key, value, "GET", expiry, expiry_name)
            append(None)  # WRONGTYPE
    return out


# --------------------------------------------------------------------------- binary COPY rows
#
# ``copy_encoder`` functions build rows in PostgreSQL's binary COPY tuple format themselves:
# int16 field count, then per field an int32 byte length (-1 for NULL) and the bytes. Text and
# jsonb values are the raw bytes Redis returned - no decode/encode round trip in Python - and the
# server validates them (UTF-8, NUL bytes, JSON syntax) as it receives them; a rejected batch is
# rolled back and its failing row re-examined in Python for a precise message (see copy engine).

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
"""Binary COPY stream header: signature, flags, header-extension length."""

COPY_TRAILER = struct.pack("!h", -1)
"""Binary COPY stream trailer: a field count of -1."""

NULL_FIELD = struct.pack("!i", -1)
"""A NULL field (length -1, no bytes)."""

PG_EPOCH_MS = 946_684_800_000
"""2000-01-01 UTC in Unix epoch ms: binary timestamptz counts microseconds from there."""

MIN_PG_US = -211_813_488_000_000_000
"""4714-11-24 BC 00:00 UTC in microseconds from 2000-01-01: timestamptz's lower bound."""
MAX_PG_US = 9_223_371_331_200_000_000
"""294277-01-01 00:00 UTC (exclusive) in microseconds from 2000-01-01: timestamptz's upper bound."""

FIELD_HEAD = struct.Struct("!hi").pack
"""Row start: ``FIELD_HEAD(field_count, first_field_length)``."""

FIELD_LEN = struct.Struct("!i").pack
"""A field's int32 length prefix."""

JSONB_LEN = struct.Struct("!ib").pack
"""A jsonb field's prefix: ``JSONB_LEN(len(text) + 1, 1)`` (length, then the format version byte)."""

_INT8_FIELD = struct.Struct("!iq").pack


def bigint_field(number: int) -> bytes:
    """A bigint field (length 8 + big-endian int64); ``struct.error`` outside the int64 range."""
    return _INT8_FIELD(8, number)


def timestamptz_field(ms: int | None) -> bytes:
    """A timestamptz field from epoch ms (NULL for None): int64 microseconds since 2000-01-01 UTC.

    Out-of-range expiries raise ValueError, like :func:`ms_to_datetime` does, rather than
    writing a timestamp PostgreSQL would reject or misread.
    """
    if ms is None:
        return NULL_FIELD
    us = (ms - PG_EPOCH_MS) * 1000
    if not MIN_PG_US <= us < MAX_PG_US:
        raise ValueError(f"expiry {ms} ms is outside PostgreSQL's timestamptz range")
    return _INT8_FIELD(8, us)


def raw_field(value: bytes) -> bytes:
    """A text/bytea field holding ``value`` as is."""
    return FIELD_LEN(len(value)) + value


def jsonb_field(text: bytes | None) -> bytes:
    """A jsonb field from UTF-8 JSON text (NULL for None)."""
    if text is None:
        return NULL_FIELD
    return JSONB_LEN(len(text) + 1, 1) + text


TIMESTAMPTZ = "timestamp with time zone"
"""``format_type`` name of the expiry columns."""


def check_reply(key: bytes, value: Any, value_command: str, expiry: Any, expiry_name: bytes) -> None:
    """Raise SourceError for a failed command; return quietly for WRONGTYPE (not this item's key)."""
    if isinstance(value, Exception):
        if "WRONGTYPE" in str(value):
            return
        raise SourceError(f"{value_command} failed for key '{key_display(key)}': {redact_text(str(value))}")
    if isinstance(expiry, Exception):
        raise SourceError(f"{expiry_name.decode()} failed for key '{key_display(key)}': {redact_text(str(expiry))}")
    raise SourceError(f"{expiry_name.decode()} returned {expiry!r} for key '{key_display(key)}'")


class ConverterCache:
    """Per-item row converters, so the hot ``to_row`` path never re-validates options.

    Keyed by the identity of the item (kept alive in the entry so the id cannot be reused) and
    checked against the identity of its options dict, so replacing ``target.options`` rebuilds.
    """

    _MAX_ENTRIES = 256

    def __init__(self) -> None:
        self._entries: dict[int, tuple[PlanItem, object, Callable[[SourceRecord], tuple[Any, ...]]]] = {}

    def get(
        self, item: PlanItem, build: Callable[[PlanItem], Callable[[SourceRecord], tuple[Any, ...]]]
    ) -> Callable[[SourceRecord], tuple[Any, ...]]:
        """The cached converter for ``item`` (built on first use)."""
        entry = self._entries.get(id(item))
        target = item.target
        if entry is not None and entry[0] is item and target is not None and entry[1] is target.options:
            return entry[2]
        opts = target_of(item).options
        conv = build(item)
        if len(self._entries) >= self._MAX_ENTRIES:
            self._entries.clear()
        self._entries[id(item)] = (item, opts, conv)
        return conv


class MappingBase(Generic[OptionsT]):
    """What every Redis mapping shares: validated options and the cached ``to_row``.

    Subclasses set ``Options`` (their options model) and implement ``row_converter``; ``to_row``
    then builds each item's converter once and reuses it.
    """

    Options: ClassVar[type[BaseModel]]

    def __init__(self) -> None:
        self._converters = ConverterCache()

    def options(self, item: PlanItem) -> OptionsT:
        """The item's validated options."""
        return cast(OptionsT, parse_options(self.Options, item))

    def row_converter(self, item: PlanItem) -> Callable[[SourceRecord], tuple[Any, ...]]:
        """A fast ``record -> row`` function for ``item`` (options validated once)."""
        raise NotImplementedError

    def to_row(self, record: SourceRecord, item: PlanItem) -> tuple[Any, ...]:
        """The COPY row for ``record``; DataError when a value does not fit its column."""
        return self._converters.get(item, self.row_converter)(record)


# --------------------------------------------------------------------------- planner hand-off


class PlanChoice(NamedTuple):
    """What a mapping's ``plan_options`` decides for one usage: verdict, reason, options, notes."""

    verdict: str
    reason: str
    options: dict[str, Any]
    notes: list[str]


def choose_cleanup(ttl_keys: int, caps: TargetCaps) -> Cleanup:
    """``pg_cron`` when keys expire and the target has pg_cron, ``sweep`` without it, else ``none``."""
    if ttl_keys == 0:
        return "none"
    return "pg_cron" if caps.has_pg_cron else "sweep"


class DdlOnlyMapping:
    """Base of the mappings whose construct *is* the migration (locks, pub/sub): no table, no data.

    ``copies_data = False`` makes the copy and verify engines skip their items. The data-path
    methods exist only to satisfy the Mapping protocol; a direct call is a programming error,
    reported with ``no_data_reason``.
    """

    copies_data: ClassVar[bool] = False
    no_data_reason: ClassVar[str] = "it copies no data"

    def columns(self, item: PlanItem) -> Sequence[str]:
        """No columns: there is no table."""
        return ()

    def read(self, client: Any, keys: Sequence[bytes], item: PlanItem, now_ms: int) -> list[SourceRecord | None]:
        """Never called (nothing is read)."""
        raise self._no_data(item)

    def to_row(self, record: SourceRecord, item: PlanItem) -> tuple[Any, ...]:
        """Never called (nothing is copied)."""
        raise self._no_data(item)

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Any:
        """Never called (nothing is verified)."""
        raise self._no_data(item)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Any:
        """Never called (there are no target rows)."""
        raise self._no_data(item)

    def _no_data(self, item: PlanItem) -> PgConsolidateError:
        from pgconsolidate.errors import UsageError

        return UsageError(
            f"item {item.id}: {getattr(self, 'name', 'this mapping')} copies no data ({self.no_data_reason})"
        )
