"""``stream_table``: Redis streams -> an append table keeping the entry ids, plus consumer-group state.

Every stream entry becomes one row ``(stream_key, entry_ms, entry_seq, entry_at, fields, expires_at)``:
the id ``<ms>-<seq>`` is kept exactly as its two numbers (the primary key with the stream key, so
``XRANGE`` is an index range scan and ids stay unique), ``entry_at`` is the id's millisecond part as
a timestamp (written by the copy, never re-computed by the server) and ``fields`` is one JSON value:

* ``fields_format: object`` (default): ``{"field": "value", ...}``. Stream entries may repeat a
  field name (``XADD s * a 1 a 2`` is legal); a JSON object cannot, so such an entry is a
  DataError naming the key and the fix, never a silently dropped value. jsonb does not keep the
  order of the fields either.
* ``fields_format: pairs``: ``[["field", "value"], ...]`` in Redis' order, repeats kept.

Values are UTF-8 text, or base64 text for every value of the item with ``field_encoding: base64``
(field names are always UTF-8 JSON strings), with the validation of ``hash_jsonb``.

Consumer groups go to ``<table>_groups`` (one row per stream and group: last-delivered id,
entries-read, lag, pending count, consumers and up to :data:`PENDING_IDS_CAP` pending entries with
their consumer, idle time and delivery count). The copy engine calls :meth:`StreamTable.after_keys`
inside each batch's transaction, which replaces the group rows of the batch's streams with what
``XINFO GROUPS`` / ``XINFO CONSUMERS`` / ``XPENDING`` say at that moment.

With ``partition_by: day|week|month`` the table is ``PARTITION BY RANGE (entry_at)``; the
partitions come from :func:`pgconsolidate.execute.partitioning.partition_statements`
(pg_partman when the target has it, else explicit partitions + DEFAULT).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from pgconsolidate.config import redact_text
from pgconsolidate.errors import PlanError, SourceError
from pgconsolidate.execute import partitioning
from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings import _members as m
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import KeyPattern, PlanItem, TargetCaps, Usage
from pgconsolidate.sources.resp import round_trip

log = logging.getLogger(__name__)

PartitionBy = Literal["none", "day", "week", "month"]

PENDING_IDS_CAP = 1000
"""Pending entries listed per group (``XPENDING key group - + 1000``); the count is always exact."""

PARTITION_SLOTS = 8
"""``ddl_partition_<n>`` blocks in the template (one statement each; the helper renders at most 7)."""

PARTITION_PREMAKE = 4
"""Partitions made ahead of the current one (explicit partitions, or pg_partman's premake)."""

_MAX_BIGINT = 2**63 - 1
_MAX_ENTRY_MS = (c.MAX_PG_US // 1000) + c.PG_EPOCH_MS - 1
"""Last millisecond timestamptz can hold: a stream id beyond it has no ``entry_at``."""

# Partitioned tables need the partition key in every unique constraint; without pg_partman and
# without a target the explicit partitions of partitioning._native_statements are rendered.
_NO_EXTENSIONS = TargetCaps(
    server_version="18.0", server_version_num=180000, database="", system_identifier="", fingerprint=""
)


class StreamTableOptions(c.OptionsBase):
    """``target.options`` of a ``stream_table`` item."""

    key_type: c.KeyType = "text"
    field_encoding: Literal["utf8", "base64"] = "utf8"
    fields_format: Literal["object", "pairs"] = "object"
    partition_by: PartitionBy = "none"
    partition_anchor: date | None = None
    """Explicit partitions are made around this date (default: the day the DDL is rendered)."""
    cleanup: c.Cleanup = "none"


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# --------------------------------------------------------------------------- entry ids


def parse_entry_id(item: PlanItem, key: bytes, entry_id: bytes) -> tuple[int, int]:
    """``b"<ms>-<seq>"`` -> ``(ms, seq)``; DataError when a part exceeds bigint or ``entry_at``'s range."""
    ms_text, _, seq_text = bytes(entry_id).partition(b"-")
    try:
        ms, seq = int(ms_text), int(seq_text)
    except ValueError:
        raise c.data_error(
            item, "verdict", key, f"has an entry id {entry_id!r} that is not <ms>-<seq>", "set it to keep"
        ) from None
    if not (0 <= seq <= _MAX_BIGINT and 0 <= ms <= _MAX_ENTRY_MS):
        shown = entry_id.decode("ascii", "backslashreplace")
        raise c.data_error(
            item,
            "verdict",
            key,
            f"has entry id {shown} beyond PostgreSQL's bigint/timestamptz range (Redis ids are unsigned 64-bit)",
            "set it to keep, or delete that entry (XDEL) before copying",
        )
    return ms, seq


def format_entry_id(ms: int, seq: int) -> bytes:
    """``(ms, seq)`` -> the Redis id ``b"<ms>-<seq>"``."""
    return b"%d-%d" % (ms, seq)


# --------------------------------------------------------------------------- fields


def fields_converter(item: PlanItem, encoding: str, fmt: str) -> Callable[[bytes, Sequence[bytes]], str]:
    """``(key, flat field/value list) -> JSON text``; DataError naming the key, the plan field and the fix.

    Same rules as ``hash_jsonb``: names must be UTF-8 without NUL (they become JSON strings);
    values must be too unless ``field_encoding: base64``. ``object`` rejects a repeated name.
    """

    def bad_name(key: bytes, problem: str) -> Exception:
        return c.data_error(
            item,
            "verdict",
            key,
            f"has a stream field name that {problem} (field names become JSON strings)",
            "set it to keep",
        )

    def name_text(key: bytes, name: bytes) -> str:
        return c.pg_text(name, lambda problem: bad_name(key, problem))

    field = "target.options.field_encoding"
    b64 = base64.b64encode

    def value_text(key: bytes, value: bytes) -> str:
        if encoding == "base64":
            return b64(value).decode("ascii")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise c.data_error(
                item, field, key, "has a field value that is not valid UTF-8", "set it to base64"
            ) from None
        if "\x00" in text:  # jsonb rejects \u0000
            raise c.data_error(item, field, key, "has a field value with a NUL byte", "set it to base64")
        return text

    def convert(key: bytes, flat: Sequence[bytes]) -> str:
        names = [name_text(key, n) for n in flat[0::2]]
        values = [value_text(key, v) for v in flat[1::2]]
        if len(names) != len(values):
            raise SourceError(f"stream key '{c.key_display(key)}' returned an odd field/value list")
        if fmt == "pairs":
            return _dumps([[n, v] for n, v in zip(names, values, strict=True)])
        obj = dict(zip(names, values, strict=True))
        if len(obj) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise c.data_error(
                item,
                "target.options.fields_format",
                key,
                f"has an entry that repeats field name(s) {', '.join(repeated)} (a JSON object keeps one)",
                "set it to pairs",
            )
        return _dumps(obj)

    return convert


def _value_bytes(value: Any, encoding: str) -> bytes:
    """A stored field value back as the Redis bytes (non-strings: their JSON text, which differs)."""
    if not isinstance(value, str):
        return json.dumps(value).encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value.encode("utf-8")
    return value.encode("utf-8")


def _source_fields(flat: Sequence[bytes], fmt: str) -> Any:
    names = [bytes(n).decode("utf-8", "surrogateescape") for n in flat[0::2]]
    values = [bytes(v) for v in flat[1::2]]
    if fmt == "pairs":
        return [(n, v) for n, v in zip(names, values, strict=True)]
    return dict(zip(names, values, strict=True))


def _target_fields(fields: Any, fmt: str, encoding: str) -> Any:
    if isinstance(fields, str | bytes):
        fields = json.loads(fields)
    if fmt == "pairs" and isinstance(fields, list):
        out: list[Any] = []
        for pair in fields:
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                out.append((pair[0], _value_bytes(pair[1], encoding)))
            else:
                out.append(pair)  # not a pair: cannot equal a source pair
        return out
    if fmt == "object" and isinstance(fields, dict):
        return {k: _value_bytes(v, encoding) for k, v in fields.items()}
    return fields


# --------------------------------------------------------------------------- consumer groups


def _as_map(reply: Any) -> dict[str, Any]:
    """A RESP2 flat ``[name, value, ...]`` list or a RESP3 map -> ``{name: value}`` with str names."""
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[0::2], reply[1::2], strict=True)
    return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in pairs}


def _text(item: PlanItem, key: bytes, what: str, value: Any) -> str:
    """A group/consumer name as text (they become a text column / JSON strings)."""
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "\x00"  # reported below, with the same message
    if "\x00" in text:
        raise c.data_error(
            item, "verdict", key, f"has a consumer-group {what} that is not UTF-8 text without NUL", "set it to keep"
        )
    return text


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _check(key: bytes, reply: Any, command: str) -> Any:
    if isinstance(reply, Exception):
        raise SourceError(f"{command} failed for key '{c.key_display(key)}': {redact_text(str(reply))}")
    return reply


def read_groups(client: Any, item: PlanItem, keys: Sequence[bytes]) -> list[tuple[bytes, dict[str, Any]]]:
    """``(key, group row values)`` for every consumer group of ``keys``, in two round trips.

    First ``XINFO GROUPS`` per key (a key deleted meanwhile answers "no such key": no groups), then
    ``XINFO CONSUMERS`` and ``XPENDING key group - + PENDING_IDS_CAP`` per group.
    """
    if not keys:
        return []
    infos = round_trip(client, [[b"XINFO", b"GROUPS", k] for k in keys])
    groups: list[tuple[bytes, dict[str, Any]]] = []
    for key, reply in zip(keys, infos, strict=True):
        if isinstance(reply, Exception):
            text = str(reply).lower()
            if "no such key" in text or "wrongtype" in text:
                continue  # vanished or replaced since the entries were read: no group state
            _check(key, reply, "XINFO GROUPS")
        for info in reply or []:
            groups.append((key, _as_map(info)))
    if not groups:
        return []
    commands: list[list[bytes]] = []
    for key, info in groups:
        name = info["name"] if isinstance(info["name"], bytes) else str(info["name"]).encode()
        commands.append([b"XINFO", b"CONSUMERS", key, name])
        commands.append([b"XPENDING", key, name, b"-", b"+", b"%d" % PENDING_IDS_CAP])
    details = round_trip(client, commands)
    out: list[tuple[bytes, dict[str, Any]]] = []
    for (key, info), consumers_reply, pending_reply in zip(groups, details[0::2], details[1::2], strict=True):
        if isinstance(consumers_reply, Exception) and "nogroup" in str(consumers_reply).lower():
            continue  # group destroyed between the two round trips
        consumers = []
        for raw in _check(key, consumers_reply, "XINFO CONSUMERS") or []:
            cm = _as_map(raw)
            consumers.append(
                {
                    "name": _text(item, key, "consumer name", cm["name"]),
                    "pending": int(cm.get("pending", 0)),
                    "idle_ms": _int_or_none(cm.get("idle")),
                    "inactive_ms": _int_or_none(cm.get("inactive")),  # Redis >= 7.2
                }
            )
        pending_ids = [
            {
                "id": bytes(p[0]).decode("ascii"),
                "consumer": _text(item, key, "consumer name", p[1]),
                "idle_ms": int(p[2]),
                "deliveries": int(p[3]),
            }
            for p in _check(key, pending_reply, "XPENDING") or []
        ]
        last = info.get("last-delivered-id") or b"0-0"
        last_ms, last_seq = parse_entry_id(item, key, last if isinstance(last, bytes) else str(last).encode())
        pending = int(info.get("pending", 0))
        out.append(
            (
                key,
                {
                    "group_name": _text(item, key, "name", info["name"]),
                    "last_delivered_ms": last_ms,
                    "last_delivered_seq": last_seq,
                    "entries_read": _int_or_none(info.get("entries-read")),  # Redis >= 7.0
                    "lag": _int_or_none(info.get("lag")),  # Redis >= 7.0; None when unknown
                    "pending": pending,
                    "consumers": consumers,
                    "pending_ids": pending_ids,
                    "pending_ids_complete": len(pending_ids) >= pending,
                },
            )
        )
    return out


GROUP_COLUMNS = (
    "stream_key",
    "group_name",
    "last_delivered_ms",
    "last_delivered_seq",
    "entries_read",
    "lag",
    "pending",
    "consumers",
    "pending_ids",
    "pending_ids_complete",
    "expires_at",
)
"""Columns of ``<table>_groups``, in insert order."""


# --------------------------------------------------------------------------- the mapping


class StreamTable(m.MembersMapping[StreamTableOptions]):
    """Redis streams as ``(stream_key, entry_ms, entry_seq, entry_at, fields, expires_at)`` rows + group state."""

    name: ClassVar[str] = "stream_table"
    redis_types: ClassVar[frozenset[str]] = frozenset({"stream"})
    Options: ClassVar[type[BaseModel]] = StreamTableOptions
    collection: ClassVar[m.CollectionType] = m.STREAM

    def groups_table(self, item: PlanItem) -> sql.Identifier:
        """The consumer-group table ``<schema>.<table>_groups``."""
        t = c.target_of(item)
        return sql.Identifier(t.schema_name, c.derived_name(t.table, "_groups"))

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Variables for ``templates/stream_table.sql.j2`` (partition statements pre-rendered)."""
        t = c.target_of(item)
        opts = self.options(item)
        partition_ddl: list[str] = []
        if opts.partition_by != "none":
            anchor = opts.partition_anchor
            now = datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC) if anchor else None
            partition_ddl = partitioning.partition_statements(
                t.schema_name,
                t.table,
                "entry_at",
                f"1 {opts.partition_by}",
                caps or _NO_EXTENSIONS,
                premake=PARTITION_PREMAKE,
                now=now,
            )
            if len(partition_ddl) > PARTITION_SLOTS:  # pragma: no cover - premake is fixed above
                raise PlanError(f"item {item.id}: {len(partition_ddl)} partition statements, template has room for 8")
        groups = c.derived_name(t.table, "_groups")
        # pg_partman makes future partitions only when run_maintenance runs: schedule it with pg_cron
        # (in pg_cron's database, like the cleanup) whenever the target has both.
        maintenance = ""
        if opts.partition_by != "none" and caps is not None and caps.has_pg_cron:
            scheduled = partitioning.maintenance_statements(t.schema_name, t.table, caps, database=caps.database)
            maintenance = scheduled[-1] if scheduled else ""
        return {
            **c.common_context(item, caps),
            **opts.model_dump(),
            "groups_table": c.ident(t.schema_name, groups),
            "groups_expires_index": c.ident(c.derived_name(groups, "_expires_at_idx")),
            "entry_at_index": c.ident(c.derived_name(t.table, "_entry_at_idx")),
            "partitioned": opts.partition_by != "none",
            "partition_ddl": partition_ddl,
            "partman": caps is not None and opts.partition_by != "none" and partitioning.uses_partman(caps),
            "partman_maintenance": maintenance,
        }

    def columns(self, item: PlanItem) -> Sequence[str]:
        """``stream_key, entry_ms, entry_seq, entry_at, fields, expires_at``."""
        return ("stream_key", "entry_ms", "entry_seq", "entry_at", "fields", "expires_at")

    def conflict_columns(self, item: PlanItem) -> Sequence[str]:
        """An entry is unique by key and id (``entry_at`` follows from ``entry_ms``)."""
        return ("stream_key", "entry_ms", "entry_seq")

    def element_rows(self, record: SourceRecord, elements: m.Elements, item: PlanItem) -> list[tuple[Any, ...]]:
        """One row per entry (validated)."""
        opts = self.options(item)
        key = c.key_converter(item, opts.key_type)(record.key)
        fields = fields_converter(item, opts.field_encoding, opts.fields_format)
        expires = c.ms_to_datetime(record.expires_at_ms)
        rows = []
        for entry_id, flat in elements:
            ms, seq = parse_entry_id(item, record.key, entry_id)
            rows.append((key, ms, seq, c.ms_to_datetime(ms), fields(record.key, flat), expires))
        return rows

    def encode_elements(
        self, item: PlanItem, column_types: Sequence[str]
    ) -> Callable[[SourceRecord, m.Elements], bytes] | None:
        """Binary rows: ids parsed and range-checked here, fields serialised (and checked) as in ``to_row``."""
        opts = self.options(item)
        if list(column_types) != [opts.key_type, "bigint", "bigint", c.TIMESTAMPTZ, "jsonb", c.TIMESTAMPTZ]:
            return None
        head, int8, ts, jsonb = c.FIELD_HEAD, c.bigint_field, c.timestamptz_field, c.jsonb_field
        fields = fields_converter(item, opts.field_encoding, opts.fields_format)

        def encode(record: SourceRecord, elements: m.Elements) -> bytes:
            key = record.key
            prefix = head(6, len(key)) + key
            suffix = ts(record.expires_at_ms)
            parts = []
            for entry_id, flat in elements:
                ms, seq = parse_entry_id(item, key, entry_id)
                text = fields(key, flat).encode("utf-8")
                parts.append(prefix + int8(ms) + int8(seq) + ts(ms) + jsonb(text) + suffix)
            return b"".join(parts)

        return encode

    def after_keys(
        self, client: Any, conn: psycopg.Connection[Any], item: PlanItem, records: Sequence[SourceRecord]
    ) -> None:
        """Replace the ``<table>_groups`` rows of the batch's streams with their current group state."""
        if not records:
            return
        opts = self.options(item)
        conv_key = c.key_converter(item, opts.key_type)
        # SCAN may return a key twice in one batch: read (and insert) its groups once.
        expiry = {r.key: r.expires_at_ms for r in records}
        keys = list(expiry)
        groups = read_groups(client, item, keys)
        table = self.groups_table(item)
        cols = sql.SQL(", ").join(map(sql.Identifier, GROUP_COLUMNS))
        marks = sql.SQL(", ").join(sql.Placeholder() * len(GROUP_COLUMNS))
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE stream_key = ANY(%s)").format(table),
                (self.pg_keys(item, keys),),
            )
            rows = []
            for key, g in groups:
                if not g["pending_ids_complete"]:
                    log.warning(
                        "stream '%s' group '%s': %d pending entries, the first %d listed in pending_ids",
                        c.key_display(key),
                        g["group_name"],
                        g["pending"],
                        PENDING_IDS_CAP,
                    )
                rows.append(
                    (
                        conv_key(key),
                        g["group_name"],
                        g["last_delivered_ms"],
                        g["last_delivered_seq"],
                        g["entries_read"],
                        g["lag"],
                        g["pending"],
                        Jsonb(g["consumers"]),
                        Jsonb(g["pending_ids"]),
                        g["pending_ids_complete"],
                        c.ms_to_datetime(expiry.get(key)),
                    )
                )
            if rows:
                cur.executemany(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(table, cols, marks), rows)

    # ----------------------------------------------------------------- verify

    def target_rows(
        self, conn: psycopg.Connection[Any], item: PlanItem, table: sql.Composable, pg_keys: Sequence[Any]
    ) -> dict[bytes, tuple[Any, ...]]:
        """``{key: (key, [entry_ms], [entry_seq], [fields], max expires_at)}``, entries in id order."""
        order = sql.SQL(" ORDER BY entry_ms, entry_seq")
        aggs = sql.SQL(", ").join(
            sql.SQL("array_agg({}{})").format(sql.Identifier(col), order) for col in ("entry_ms", "entry_seq", "fields")
        )
        query = m.aggregate_query(sql.Identifier("stream_key"), table, aggs)
        with conn.cursor() as cur:
            cur.execute(query, (list(pg_keys),))
            return {m.key_bytes(row[0]): row for row in cur}

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """``[(id bytes, fields), ...]`` in id order (fields: ``{name: value bytes}``, or pairs)."""
        fmt = self.options(item).fields_format
        entries = [(bytes(eid), _source_fields(flat, fmt)) for eid, flat in m.materialize(record.value)]
        return Canonical("stream", entries, record.expires_at_ms)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Aggregated rows back as ``[(id bytes, fields), ...]``."""
        opts = self.options(item)
        entries = [
            (format_entry_id(ms, seq), _target_fields(f, opts.fields_format, opts.field_encoding))
            for ms, seq, f in zip(row[1], row[2], row[3], strict=True)
        ]
        return Canonical("stream", entries, c.datetime_to_ms(row[4]))


# --------------------------------------------------------------------------- planner

PARTITION_THRESHOLDS: tuple[tuple[int, PartitionBy], ...] = (
    (100_000_000, "day"),
    (10_000_000, "week"),
    (1_000_000, "month"),
)
"""Estimated entries of the whole pattern -> partition width (first match; fewer: no partitioning)."""


def estimated_entries(facts: KeyPattern) -> int:
    """Entries of all the pattern's streams: mean sampled XLEN x estimated keys (p50 when no total)."""
    el = facts.elements
    per_key = el.total / el.count if el.count else (el.p50 or 0.0)
    return int(per_key * facts.estimated_keys)


def choose_partition(entries: int) -> PartitionBy:
    """The partition width for ``entries`` rows (see :data:`PARTITION_THRESHOLDS`)."""
    for threshold, width in PARTITION_THRESHOLDS:
        if entries > threshold:
            return width
    return "none"


def plan_options(facts: KeyPattern, usage: Usage, caps: TargetCaps) -> c.PlanChoice:
    """The planner's choice for a stream: key/value encodings, partitioning by size, cleanup, group notes."""
    binary = facts.value_shapes.get("binary", 0)
    entries = estimated_entries(facts)
    partition = choose_partition(entries)
    cleanup = c.choose_cleanup(facts.ttl.with_ttl, caps)
    options: dict[str, Any] = {
        "key_type": "bytea" if facts.binary_keys else "text",
        "field_encoding": "base64" if binary else "utf8",
        "fields_format": "object",
        "partition_by": partition,
        "cleanup": cleanup,
    }
    el = facts.elements
    notes = [
        f"entries per stream: p50 {el.p50 or 0:,.0f}, max {el.max or 0:,} (~{entries:,} in all); ids kept as "
        "(entry_ms, entry_seq), XRANGE becomes a primary-key range scan; fields become a jsonb object "
        "(a repeated field name stops the copy: set fields_format: pairs)",
    ]
    if partition != "none":
        how = (
            "pg_partman create_parent (schedule partman.run_maintenance)"
            if partitioning.uses_partman(caps)
            else "explicit partitions around the DDL date + DEFAULT (no pg_partman: re-run the DDL to add more; "
            "older entries land in DEFAULT, set partition_anchor to move the window)"
        )
        notes.append(f"~{entries:,} entries > 1,000,000: table partitioned by {partition} on entry_at via {how}")
    else:
        notes.append(f"~{entries:,} entries: no partitioning (set partition_by: day|week|month above 1M)")
    groups = facts.stream_groups
    if groups:
        pending = sum(g.pending for g in groups)
        names = ", ".join(f"{g.key}/{g.name} (last {g.last_delivered_id}, pending {g.pending})" for g in groups[:5])
        notes.append(
            f"{len(groups)} consumer group(s) sampled, {pending:,} pending entries: {names}; their state is copied to "
            f"<table>_groups (last-delivered id, entries-read, lag, consumers, first {PENDING_IDS_CAP} pending ids)"
        )
        notes.append(
            "XREADGROUP consumers become SKIP LOCKED readers: keep a cursor per group and claim entries after it, e.g. "
            "WITH next AS (SELECT stream_key, entry_ms, entry_seq FROM <table> WHERE stream_key = $1 AND "
            "(entry_ms, entry_seq) > ($2, $3) ORDER BY entry_ms, entry_seq LIMIT 10 FOR UPDATE SKIP LOCKED) ... "
            "(or move the workload to pgmq: pgmq.send / pgmq.read with a visibility timeout replaces XREADGROUP + XACK)"
        )
    if binary:
        notes.append(f"{binary} sampled streams hold binary field values: every value stored as base64 text")
    if facts.binary_keys:
        notes.append(f"{facts.binary_keys} sampled key names are not UTF-8: stream_key stored as bytea")
    if cleanup != "none":
        notes.append(f"streams with a TTL expire as a whole: every entry and group row carries expires_at ({cleanup})")
    reason = (
        f"stream keys (~{facts.estimated_keys:,}, ~{entries:,} entries) -> append table keyed by "
        f"(stream_key, entry_ms, entry_seq)"
        + (f", partitioned by {partition}" if partition != "none" else "")
        + (", consumer groups to <table>_groups" if groups else "")
    )
    return c.PlanChoice("migrate", reason, options, notes)
