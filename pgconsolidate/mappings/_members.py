"""Collection mappings: one Redis key (set, sorted set, list, stream) becomes many rows.

The copy engine treats these mappings differently from the one-row-per-key ones (see
:class:`MembersMapping`):

* **Reads** take two pipelined round trips per batch: first the size (SCARD/ZCARD/LLEN/XLEN) and
  the expiry of every key, then the whole value of every key up to :data:`CHUNK_ELEMENTS`
  elements. A bigger key is never read in one call: its record holds a :class:`ChunkedValue`
  that reads it in windows (SSCAN, ZRANGE by rank, LRANGE, XRANGE by id) while the writer streams
  the rows into COPY, so memory stays bounded by one window whatever the key's size.
* **Writes** replace whole keys: the batch's transaction deletes the rows of its keys, then
  COPYs their rows (on a first load into an empty table the delete is skipped). A key seen twice
  (SCAN repeats keys while Redis rehashes) is simply replaced again, and a re-run converges on
  what Redis holds now - members removed in Redis disappear from PostgreSQL too.
* **Verify** compares whole collections per key: PostgreSQL aggregates a key's rows back into one
  value (``target_rows``), which is compared with the Redis value in canonical form.

A key's expiry is a per-key fact that PostgreSQL stores on each of its rows (``expires_at``), so
every row of an expired key disappears at once from the ``_live`` view and the sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic

import psycopg
from psycopg import sql

from pgconsolidate.config import redact_text
from pgconsolidate.errors import SourceError
from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import PlanItem
from pgconsolidate.sources.resp import pack_command, per_key_commands, round_trip, supports_pexpiretime

CHUNK_ELEMENTS = 10_000
"""A key with more elements than this is read in windows of this many (never in one call)."""

Elements = list[Any]
"""One window of a collection: bytes members (set, list), (member, score) pairs (zset) or
(entry id, flat field list) pairs (stream)."""

ChunkEncoder = Callable[[SourceRecord], Iterator[tuple[bytes, int]]]
"""``record -> (binary COPY rows, row count)`` chunks, streamed into one COPY."""


@dataclass(frozen=True, slots=True)
class CollectionType:
    """How one Redis collection type is sized and read."""

    redis_type: str
    size_command: bytes
    full_read: Callable[[bytes], list[bytes]]
    """The command reading a whole (small) key."""
    parse: Callable[[Any], Elements]
    """Reply of ``full_read`` (or of one window) -> elements."""


def _flat_pairs(reply: Any) -> Elements:
    """Pairs from a RESP2 flat list, a RESP3 map (HGETALL) or RESP3 pair arrays (ZRANGE WITHSCORES).

    RESP3 scores arrive as floats; they are turned back into Redis' text form so every mapping
    sees the same bytes whichever protocol the caller's connection speaks.
    """
    if isinstance(reply, dict):
        return list(reply.items())
    if reply and isinstance(reply[0], list | tuple):
        return [(a, _score_bytes(b)) for a, b in reply]
    return list(zip(reply[0::2], reply[1::2], strict=True))


def _score_bytes(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value).encode()
    return value


def _stream_entries(reply: Any) -> Elements:
    return [(entry[0], entry[1]) for entry in reply]


def _as_list(reply: Any) -> Elements:
    return list(reply)


SET = CollectionType("set", b"SCARD", lambda k: [b"SMEMBERS", k], _as_list)
ZSET = CollectionType("zset", b"ZCARD", lambda k: [b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"], _flat_pairs)
LIST = CollectionType("list", b"LLEN", lambda k: [b"LRANGE", k, b"0", b"-1"], _as_list)
STREAM = CollectionType("stream", b"XLEN", lambda k: [b"XRANGE", k, b"-", b"+"], _stream_entries)
HASH = CollectionType("hash", b"HLEN", lambda k: [b"HGETALL", k], _flat_pairs)
"""Hashes are one row per key (``hash_jsonb``) but are read the same way, so a huge hash is
fetched with HSCAN pages instead of one HGETALL that would block Redis while it replies."""


class ChunkedValue:
    """A big collection, read window by window when iterated (each iteration reads it afresh).

    Windows: SSCAN for sets (may repeat a member while Redis rehashes: the writer's replace path
    de-duplicates on the primary key), ZRANGE/LRANGE by index for sorted sets and lists, and
    XRANGE from the last id seen (exclusive) for streams. A key modified while it is being read
    can shift index windows; ``verify`` reports any difference that results.
    """

    __slots__ = ("chunk", "client", "key", "kind", "size")

    def __init__(self, client: Any, key: bytes, kind: CollectionType, size: int, chunk: int = CHUNK_ELEMENTS) -> None:
        self.client = client
        self.key = key
        self.kind = kind
        self.size = size
        self.chunk = chunk

    def __repr__(self) -> str:
        return f"<{self.kind.redis_type} of {self.size:,} elements, read in windows of {self.chunk:,}>"

    def __iter__(self) -> Iterator[Elements]:
        kind, key, n = self.kind.redis_type, self.key, self.chunk
        if kind in ("set", "hash"):
            yield from self.scan_from(b"0")
        elif kind in ("zset", "list"):
            first = 0
            while True:
                stop = first + n - 1
                if kind == "zset":
                    reply = self._call([b"ZRANGE", key, b"%d" % first, b"%d" % stop, b"WITHSCORES"])
                    window = _flat_pairs(reply)
                else:
                    window = list(self._call([b"LRANGE", key, b"%d" % first, b"%d" % stop]))
                if window:
                    yield window
                if len(window) < n:
                    return
                first += n
        elif kind == "stream":
            start: bytes = b"-"
            while True:
                reply = self._call([b"XRANGE", key, start, b"+", b"COUNT", b"%d" % n])
                window = _stream_entries(reply)
                if window:
                    yield window
                if len(window) < n:
                    return
                start = b"(" + window[-1][0]
        else:  # pragma: no cover - CollectionType values are fixed above
            raise ValueError(kind)

    def scan_from(self, cursor: bytes) -> Iterator[Elements]:
        """SSCAN/HSCAN pages from ``cursor`` until the scan ends (sets: members; hashes: field pairs)."""
        command = b"SSCAN" if self.kind.redis_type == "set" else b"HSCAN"
        while True:
            reply = self._call([command, self.key, cursor, b"COUNT", b"%d" % self.chunk])
            cursor, found = reply[0], reply[1]
            if found:
                yield list(found) if command == b"SSCAN" else _flat_pairs(found)
            if cursor in (b"0", 0, "0"):
                return

    def _call(self, command: list[bytes]) -> Any:
        reply = round_trip(self.client, [command])[0]
        if isinstance(reply, Exception):
            raise SourceError(f"{command[0].decode()} failed for key '{c.key_display(self.key)}': {reply}")
        return reply


def chunks(value: Elements | ChunkedValue) -> Iterator[Elements]:
    """The windows of a record's value: the whole list at once for a small key."""
    if isinstance(value, ChunkedValue):
        yield from value
    else:
        yield value


def materialize(value: Elements | ChunkedValue) -> Elements:
    """Every element of a record's value in one list (verify; bounded by the key's own size)."""
    if isinstance(value, ChunkedValue):
        return [e for window in value for e in window]
    return value


def read_collections(
    client: Any, keys: Sequence[bytes], kind: CollectionType, now_ms: int, chunk: int = CHUNK_ELEMENTS
) -> list[SourceRecord | None]:
    """Records for ``keys``: two round trips (sizes + expiries, then small values); big keys chunked.

    ``None`` marks a key that vanished (expired or deleted between SCAN and read, or emptied) or
    that is of another type (the glob matched it, but it is not this item's data).
    """
    if not keys:
        return []
    absolute = supports_pexpiretime(client)
    expiry_name = b"PEXPIRETIME" if absolute else b"PTTL"
    replies = round_trip(client, per_key_commands((kind.size_command, expiry_name), keys), 2 * len(keys))
    offset = 0 if absolute else now_ms
    sized: list[tuple[bytes, int, int | None] | None] = []
    for key, size, expiry in zip(keys, replies[0::2], replies[1::2], strict=True):
        if isinstance(size, Exception):
            if "WRONGTYPE" in str(size):
                sized.append(None)
                continue
            raise SourceError(
                f"{kind.size_command.decode()} failed for key '{c.key_display(key)}': {redact_text(str(size))}"
            )
        if isinstance(expiry, Exception) or not isinstance(expiry, int):
            raise SourceError(f"{expiry_name.decode()} failed for key '{c.key_display(key)}': {expiry!r}")
        if not size or expiry == -2:
            sized.append(None)
            continue
        sized.append((key, int(size), None if expiry < 0 else expiry + offset))
    small = [s[0] for s in sized if s is not None and s[1] <= chunk]
    values: dict[bytes, Any] = {}
    if small:
        full = round_trip(client, b"".join(pack_command(kind.full_read(k)) for k in small), len(small))
        for key, reply in zip(small, full, strict=True):
            if isinstance(reply, Exception):
                if "WRONGTYPE" in str(reply):  # replaced by another type between the two rounds
                    continue
                raise SourceError(f"reading key '{c.key_display(key)}' failed: {redact_text(str(reply))}")
            if reply:
                values[key] = kind.parse(reply)
    out: list[SourceRecord | None] = []
    for entry in sized:
        if entry is None:
            out.append(None)
            continue
        key, size, expires = entry
        if size > chunk:
            out.append(SourceRecord(key, ChunkedValue(client, key, kind, size, chunk), expires))
        elif key in values:
            out.append(SourceRecord(key, values[key], expires))
        else:
            out.append(None)
    return out


class MembersMapping(c.MappingBase[c.OptionsT], Generic[c.OptionsT]):
    """Base of the collection mappings (``rows_per_key = "many"``); see the module docstring.

    Subclasses set ``collection`` and implement :meth:`element_rows` (elements -> Python rows,
    validating), :meth:`encode_elements` (elements -> binary COPY rows) and the verify pair
    :meth:`target_rows` / :meth:`canonical_target`. The key column is ``columns(item)[0]``
    unless :meth:`key_sql` says otherwise.
    """

    rows_per_key: ClassVar[str] = "many"
    collection: ClassVar[CollectionType]
    copies_data: ClassVar[bool] = True
    replace_always: ClassVar[bool] = False
    """True when a first load must still delete a key's rows before writing them (no unique key
    would catch a key that SCAN returned twice, e.g. queue messages)."""

    def columns(self, item: PlanItem) -> Sequence[str]:
        """Target columns in COPY order; the first is the key column unless ``key_sql`` says otherwise."""
        raise NotImplementedError

    # ----------------------------------------------------------------- options shared by subclasses

    def key_type(self, item: PlanItem) -> str:
        """``text`` or ``bytea``: the key column's type."""
        return str(getattr(self.options(item), "key_type", "text"))

    def key_sql(self, item: PlanItem) -> sql.Composable:
        """The SQL expression giving a row's Redis key (its key column)."""
        return sql.Identifier(self.columns(item)[0])

    def conflict_columns(self, item: PlanItem) -> Sequence[str]:
        """The primary key columns (rows of one key that repeat them are one row)."""
        return self.columns(item)[:2]

    # ----------------------------------------------------------------- source side

    def read(self, client: Any, keys: Sequence[bytes], item: PlanItem, now_ms: int) -> list[SourceRecord | None]:
        """Sizes + expiries, then the small values, in two round trips; big keys are chunked."""
        return read_collections(client, keys, self.collection, now_ms)

    def element_rows(self, record: SourceRecord, elements: Elements, item: PlanItem) -> list[tuple[Any, ...]]:
        """Python rows (``columns`` order) for one window of a record; DataError when a value does not fit."""
        raise NotImplementedError

    def encode_elements(
        self, item: PlanItem, column_types: Sequence[str]
    ) -> Callable[[SourceRecord, Elements], bytes] | None:
        """``(record, window) -> binary COPY rows``, or None when the table's column types differ."""
        raise NotImplementedError

    def to_rows(self, record: SourceRecord, item: PlanItem) -> Iterator[tuple[Any, ...]]:
        """Every row of a record, validated (the precise DataError for a rejected batch)."""
        for window in chunks(record.value):
            yield from self.element_rows(record, window, item)

    def to_row(self, record: SourceRecord, item: PlanItem) -> tuple[Any, ...]:
        """Collections have many rows per key: validates them all and returns the first."""
        first: tuple[Any, ...] = ()
        for row in self.to_rows(record, item):
            first = first or row
        return first

    def row_converter(self, item: PlanItem) -> Callable[[SourceRecord], tuple[Any, ...]]:
        """``to_row`` for this item (validation of every row of the record)."""
        return lambda record: self.to_row(record, item)

    def copy_chunks(self, item: PlanItem, column_types: Sequence[str]) -> ChunkEncoder | None:
        """``record -> (rows bytes, row count)`` per window, or None when the columns differ."""
        encode = self.encode_elements(item, column_types)
        if encode is None:
            return None

        def run(record: SourceRecord) -> Iterator[tuple[bytes, int]]:
            for window in chunks(record.value):
                if window:
                    yield encode(record, window), len(window)

        return run

    # ----------------------------------------------------------------- target side

    def pg_keys(self, item: PlanItem, keys: Sequence[bytes]) -> list[Any]:
        """The key column values of ``keys`` (keys a text column cannot hold are left out)."""
        if self.key_type(item) == "bytea":
            return list(keys)
        out = []
        for k in keys:
            try:
                text = k.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if "\x00" not in text:
                out.append(text)
        return out

    def delete_keys_sql(self, item: PlanItem, table: sql.Composable) -> sql.Composed:
        """``DELETE`` of every row of the keys in parameter ``%s`` (an array)."""
        return sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(table, self.key_sql(item))

    def after_keys(
        self, client: Any, conn: psycopg.Connection[Any], item: PlanItem, records: Sequence[SourceRecord]
    ) -> None:
        """Hook run in a batch's transaction after its rows (e.g. stream consumer groups). No-op here."""
        del client, conn, item, records

    def target_rows(
        self, conn: psycopg.Connection[Any], item: PlanItem, table: sql.Composable, pg_keys: Sequence[Any]
    ) -> dict[bytes, tuple[Any, ...]]:
        """``{redis key: aggregated row}`` for ``pg_keys``, read back for verify (any expiry)."""
        raise NotImplementedError

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """Comparable form of a whole source collection."""
        raise NotImplementedError

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Comparable form of an aggregated target row (from :meth:`target_rows`)."""
        raise NotImplementedError


def is_members_mapping(mapping: object) -> bool:
    """True for collection mappings (many rows per Redis key)."""
    return getattr(mapping, "rows_per_key", "one") == "many"


def aggregate_query(
    item_key: sql.Composable,
    table: sql.Composable,
    aggregates: sql.Composable,
    *,
    where_key: sql.Composable | None = None,
) -> sql.Composed:
    """``SELECT key, <aggregates>, max(expires_at) FROM table WHERE key = ANY(%s) GROUP BY key``."""
    return sql.SQL("SELECT {k}, {aggs}, max(expires_at) FROM {t} WHERE {w} = ANY(%s) GROUP BY {k}").format(
        k=item_key, aggs=aggregates, t=table, w=where_key if where_key is not None else item_key
    )


def key_bytes(value: Any) -> bytes:
    """A key column value back as the Redis key."""
    return c.key_canonical_target(value)
