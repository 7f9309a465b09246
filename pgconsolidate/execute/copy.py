"""The copy engine: Redis keys -> PostgreSQL rows, in batches, resumable, never duplicating.

For one plan item, a reader thread SCANs the item's keys, reads them in one pipelined round per
batch (``mapping.read``) and converts them to rows (``mapping.to_row``); it hands whole batches to
the writer (the calling thread) through a small bounded queue, so Redis reads overlap PostgreSQL
writes while memory stays bounded by a few batches whatever the keyspace size.

Every batch is one PostgreSQL transaction holding the batch's rows *and* the checkpoint (the SCAN
cursor to resume from after it), so a crash loses at most the uncommitted batch and ``--resume``
continues exactly where the last commit left off. Two write paths:

Rows go out in binary COPY format. When the mapping offers ``copy_encoder`` (all built-in
mappings do), it builds each row's bytes itself from the raw Redis values - no decoding, no
per-value adaptation - and PostgreSQL validates text and JSON as it parses them. A batch the
server rejects with a data error (class 22) is rolled back whole; the failing row is located
from the error context and re-converted with ``to_row``, which raises the precise DataError
(key, plan field, fix). Mappings without an encoder go through psycopg's ``write_row``.

* ``copy`` (first load: empty table, scan from the start): binary ``COPY`` straight into the
  target. SCAN can return a key twice while Redis rehashes; if a batch then hits the primary key,
  that batch is rolled back and redone through the upsert path - never failing, never duplicating.
* ``upsert`` (re-run over a non-empty table, or resume): ``COPY`` into a temporary staging table,
  then ``INSERT .. SELECT DISTINCT ON (key) .. ON CONFLICT (key) DO UPDATE`` - idempotent.

Batches commit with ``synchronous_commit = off``: safe here because a lost commit loses its
checkpoint with it, so resuming simply re-copies that tail.

Deferred indexes (as pgloader does): on the ``copy`` path of an item expected to hold at least
:data:`DEFER_INDEXES_MIN_KEYS` keys, the table's secondary indexes (never the primary key or a
unique index: the key's uniqueness is what makes SCAN duplicates detectable and upserts
possible) are dropped before the first batch and rebuilt after the last, one sort each instead
of a random btree insert per row. Their definitions are recorded in the state schema in the
transaction that drops them, and every copy of the table starts by recreating whatever is still
recorded, so a crash mid-load never loses an index: the re-run or ``--resume`` restores it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import queue
import re
import struct
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import psycopg
import redis
from psycopg import errors as pg_errors
from psycopg import postgres, sql
from psycopg.adapt import Dumper
from psycopg.pq import Format, TransactionStatus

from pgconsolidate import models
from pgconsolidate.config import redact_text
from pgconsolidate.errors import DataError, PgConsolidateError, SourceError, TargetError, UsageError
from pgconsolidate.execute import state
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings._common import COPY_HEADER, COPY_TRAILER, data_error, item_path, key_display
from pgconsolidate.mappings._members import ChunkedValue, ChunkEncoder, MembersMapping, is_members_mapping
from pgconsolidate.mappings.base import Mapping, SourceRecord
from pgconsolidate.progress import NullProgress, ProgressSink
from pgconsolidate.sources.redis import iter_key_batches

EXPIRY_COLUMN = "expires_at"
EXPIRY_TOLERANCE_SECONDS = 1
"""A re-run leaves a row alone when only its expiry moved by at most this much (clock jitter)."""

QUEUE_BATCHES = 3
"""Batches buffered between reader and writer: enough to absorb jitter, small enough to bound memory."""

DEFER_INDEXES_MIN_KEYS = 50_000
"""A first load of an item estimated at this many keys or more drops secondary indexes until the end.

Measured (2 cores, kv_table with its expires_at index, random expiries): deferring saves ~2 s of
server CPU per million rows (migrate end to end +24%), but only ~15 ms at 50,000 rows, where the
index still fits in cache: below that, not worth touching the user's schema.
"""

REBUILD_MAINTENANCE_WORK_MEM = "256MB"
"""``maintenance_work_mem`` for rebuilding deferred indexes (never lowered): the sort stays in memory."""

_log = logging.getLogger(__name__)

# Column types binary COPY handles with psycopg's own dumpers for the values mappings produce.
# Anything else falls back to text COPY, where the server parses the value (slower, but safe).
_BINARY_SAFE_TYPES = frozenset(
    {
        "text",
        "character varying",
        "bytea",
        "bigint",
        "integer",
        "smallint",
        "boolean",
        "double precision",
        "real",
        "timestamp with time zone",
        "jsonb",
    }
)


class _LenientJsonbBinaryDumper(Dumper):
    """Binary jsonb dumper accepting already-serialised JSON (str/bytes) as well as Python objects.

    psycopg's own jsonb dumper always ``json.dumps`` its input, which would turn a JSON text
    produced by a mapping into a JSON *string*; the wire format is a version byte + JSON text.
    """

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: Any) -> bytes:
        """Encode ``obj`` as binary jsonb."""
        if isinstance(obj, str):
            return b"\x01" + obj.encode()
        if isinstance(obj, bytes | bytearray | memoryview):
            return b"\x01" + bytes(obj)
        inner = getattr(obj, "obj", obj)  # psycopg.types.json.Jsonb wrapper
        return b"\x01" + json.dumps(inner, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- public API


def item_fingerprint(item: models.PlanItem) -> str:
    """A short hash of what determines an item's rows (source + target); stored with checkpoints.

    ``--resume`` only continues a checkpoint written under the same fingerprint: if the plan
    changed how the item is read or written, resuming mid-scan could skip keys, so it restarts.
    """
    payload = json.dumps(
        {
            "source": item.source.model_dump(mode="json"),
            "target": item.target.model_dump(mode="json", by_alias=True) if item.target else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def copy_plan(
    redis_client: redis.Redis | None,
    pg_conn: psycopg.Connection[Any],
    plan: models.Plan,
    *,
    resume: bool = False,
    only: set[str] | None = None,
    plan_fingerprint: str | None = None,
    progress: ProgressSink | None = None,
    es: Any = None,
    reject_dir: Path | None = None,
    slices: int | None = None,
    on_error: Literal["stop", "continue"] = "stop",
) -> list[models.ItemCopyResult]:
    """Copy every migratable item of ``plan`` (or the ids in ``only``), in plan order, by source.

    Redis items go through :func:`copy_item`, Elasticsearch items through
    :func:`pgconsolidate.es.copy.copy_es_item` (``es``, ``reject_dir``, ``slices``, ``on_error``).
    ``redis_client``/``es`` may be None when no selected item reads that source (DDL-only items
    read nothing). Each checkpoint records ``plan_fingerprint`` when given, else the item's own
    :func:`item_fingerprint` (preferred: editing one item then does not restart the others).
    """
    results = []
    for it in plan.migratable(only):
        fingerprint = plan_fingerprint or item_fingerprint(it)
        if it.source.kind == "elasticsearch":
            from pgconsolidate.es.copy import copy_es_item

            if es is None or reject_dir is None:
                raise UsageError(
                    f"item {it.id} reads Elasticsearch: an Elasticsearch client and a reject dir are needed"
                )
            result = copy_es_item(
                es,
                pg_conn,
                it,
                reject_dir=reject_dir,
                resume=resume,
                slices=slices,
                on_error=on_error,
                plan_fingerprint=fingerprint,
                progress=progress,
            )
        else:
            result = copy_item(
                redis_client,  # type: ignore[arg-type]  # None only when no item reads Redis (never read then)
                pg_conn,
                it,
                resume=resume,
                plan_fingerprint=fingerprint,
                progress=progress,
            )
        results.append(result)
    return results


def copy_item(
    redis_client: redis.Redis,
    pg_conn: psycopg.Connection[Any],
    item: models.PlanItem,
    *,
    resume: bool = False,
    plan_fingerprint: str = "",
    progress: ProgressSink | None = None,
) -> models.ItemCopyResult:
    """Copy one plan item's keys into its target table; see the module docstring for the guarantees.

    ``resume=True`` continues a ``running`` checkpoint from its cursor and skips an item whose
    checkpoint is ``done``; ``resume=False`` always scans from the start (upsert when the table
    already has rows, so re-running is idempotent). ``rows`` in the result counts the rows written
    by this call. The target table must exist (DDL is applied before copying).
    """
    if item.target is None:
        raise UsageError(f"item {item.id} has no target to copy into")
    sink: ProgressSink = progress or NullProgress()
    mapping: Mapping = get_mapping(item.target.mapping)
    target = Target.of(item)
    if not getattr(mapping, "copies_data", True):
        # DDL-only mappings (locks, pub/sub channels): the construct is the migration, no data moves.
        return models.ItemCopyResult(item_id=item.id, table=target.display, mode="skipped")
    if not isinstance(item.source, models.RedisSource):
        raise UsageError(f"item {item.id} has no Redis source to copy")
    started = time.perf_counter()
    settle(pg_conn)
    try:
        state.ensure_state(pg_conn)
        lock_item(pg_conn, item.id)
        try:
            col_types = _column_types(pg_conn, target, mapping.columns(item))
            # Indexes an earlier run deferred and never rebuilt (it crashed or was interrupted).
            rebuild_deferred(pg_conn, target, item.id, sink)
            with pg_conn.transaction():  # never leave an implicit transaction open: batches must really commit
                ckpt = state.load_checkpoint(pg_conn, item.id, target.display)
            fingerprint_ok = not (plan_fingerprint and ckpt and ckpt.plan_fingerprint) or (
                ckpt is not None and ckpt.plan_fingerprint == plan_fingerprint
            )
            if resume and ckpt is not None and fingerprint_ok and ckpt.done:
                return models.ItemCopyResult(item_id=item.id, table=target.display, mode="skipped", resumed=True)
            resumed = resume and ckpt is not None and fingerprint_ok and ckpt.cursor != 0
            start_cursor = ckpt.cursor if resumed and ckpt is not None else 0
            with pg_conn.transaction():
                if not resumed:
                    state.reset_checkpoint(pg_conn, item.id, target.display, plan_fingerprint=plan_fingerprint)
                empty = table_empty(pg_conn, target)
                mode = "copy" if empty and start_cursor == 0 else "upsert"
                if mode == "copy" and item.source.estimated_keys >= DEFER_INDEXES_MIN_KEYS:
                    # Same transaction as the emptiness check: dropped only for a table we fill alone.
                    defer_indexes(pg_conn, target)
            writer: _Writer | _MembersWriter
            if is_members_mapping(mapping):
                assert isinstance(mapping, MembersMapping)
                writer = _MembersWriter(redis_client, pg_conn, item, target, mapping, col_types)
            else:
                to_row = _row_function(mapping, item)
                encode = copy_encoder_for(mapping, item, col_types, pg_conn)
                writer = _Writer(pg_conn, item, target, list(mapping.columns(item)), col_types, to_row, encode)
            if mode == "upsert":
                writer.ensure_staging()
            rows = keys = vanished = unmatched = 0
            sink.start(item.id, item.source.estimated_keys or None)
            with closing(_read_batches(redis_client, item, mapping, start_cursor)) as batches:
                for batch in batches:
                    vanished += batch.vanished
                    unmatched += batch.unmatched
                    if batch.records:
                        rows += writer.write(batch, upsert=(mode == "upsert"))
                        keys += len(batch.records)
                    sink.advance(item.id, batch.keys)
            rebuild_deferred(pg_conn, target, item.id, sink)
            with pg_conn.transaction():
                # Carry the final cursor (batches without rows are not committed on their own).
                state.mark_done(pg_conn, item.id, target.display)
            sink.finish(item.id)
        finally:
            unlock_item(pg_conn, item.id)
    except psycopg.Error as exc:
        raise target_error(exc, item, target) from None
    return models.ItemCopyResult(
        item_id=item.id,
        table=target.display,
        mode="upsert" if mode == "upsert" else "copy",
        keys=keys,
        rows=rows,
        vanished=vanished,
        unmatched=unmatched,
        resumed=resumed,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- target table


@dataclass(frozen=True, slots=True)
class Target:
    """The qualified target table of an item."""

    schema: str
    table: str

    @classmethod
    def of(cls, item: models.PlanItem) -> Target:
        """The target table of ``item`` (which must have a target)."""
        assert item.target is not None
        return cls(item.target.schema_name, item.target.table)

    @property
    def ident(self) -> sql.Identifier:
        """The quoted ``schema.table`` identifier."""
        return sql.Identifier(self.schema, self.table)

    @property
    def display(self) -> str:
        """``schema.table`` for messages and reports."""
        return f"{self.schema}.{self.table}"


def settle(conn: psycopg.Connection[Any]) -> None:
    """Start from an idle connection: per-batch transactions must really commit, not nest as savepoints."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        conn.commit()  # the caller's DDL, typically; psycopg rolls back a failed transaction here


def lock_item(conn: psycopg.Connection[Any], item_id: str) -> None:
    """Session advisory lock per item, so two ``migrate`` runs cannot interleave one item's batches."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtext('pgconsolidate.copy'), hashtext(%s))", (item_id,))
        row = cur.fetchone()
    if not row or not row[0]:
        raise TargetError(f"item {item_id} is being copied by another pgconsolidate session")


def unlock_item(conn: psycopg.Connection[Any], item_id: str) -> None:
    """Release :func:`lock_item`'s lock (quietly skipped on a broken or busy connection)."""
    if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
        # A broken connection drops its session locks anyway; never mask the original error.
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(hashtext('pgconsolidate.copy'), hashtext(%s))", (item_id,))


def _column_types(conn: psycopg.Connection[Any], target: Target, columns: Sequence[str]) -> list[str]:
    """The SQL type of each mapping column, checking that the table and columns exist."""
    query = (
        "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(query, (target.schema, target.table))
        found = dict(cur.fetchall())
    if not found:
        raise TargetError(
            f"target table {target.display} does not exist",
            hint="run migrate (it applies DDL) or pgconsolidate ddl first",
        )
    missing = [c for c in columns if c not in found]
    if missing:
        raise TargetError(
            f"target table {target.display} lacks column(s) {', '.join(missing)}",
            hint="the table was created by another plan; re-apply the DDL of this plan or pick another table",
        )
    return [str(found[c]) for c in columns]


def table_empty(conn: psycopg.Connection[Any], target: Target) -> bool:
    """True when the target table has no row (a first load may COPY straight in)."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(target.ident))
        row = cur.fetchone()
    return bool(row and row[0])


# --------------------------------------------------------------------------- deferred indexes

# Secondary indexes that can be dropped and rebuilt exactly from pg_get_indexdef: plain, valid,
# non-unique indexes of an ordinary table that nothing else refers to (no constraint, replica
# identity, CLUSTER mark, comment, tablespace or dependent object would be lost by the round trip).
_DEFERRABLE_INDEXES = """
SELECT i.relname, pg_catalog.pg_get_indexdef(i.oid)
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
WHERE n.nspname = %s AND t.relname = %s AND t.relkind = 'r'
  AND NOT x.indisprimary AND NOT x.indisunique AND NOT x.indisexclusion
  AND x.indisvalid AND x.indisready AND NOT x.indisreplident AND NOT x.indisclustered
  AND i.reltablespace = 0
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description d
                  WHERE d.objoid = i.oid AND d.classoid = 'pg_catalog.pg_class'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep
                  WHERE dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.refobjid = i.oid)
ORDER BY i.relname
"""

_INDEX_EXISTS = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('i', 'I'))
"""


def defer_indexes(conn: psycopg.Connection[Any], target: Target) -> list[state.DeferredIndex]:
    """Drop the table's deferrable secondary indexes, recording them first; call inside a transaction.

    The caller's transaction holds the records and the drops together: either both commit or neither.
    """
    with conn.cursor() as cur:
        cur.execute(_DEFERRABLE_INDEXES, (target.schema, target.table))
        found = [state.DeferredIndex(target.schema, target.table, name, ddl) for name, ddl in cur.fetchall()]
        if not found:
            return []
        state.record_deferred_indexes(conn, found)
        for idx in found:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(target.schema, idx.index_name)))
    _log.info("%s: deferred %d index(es) until the copy ends", target.display, len(found))
    return found


def rebuild_deferred(
    conn: psycopg.Connection[Any],
    target: Target,
    item_id: str,
    sink: ProgressSink,
    *,
    connect: Callable[[], psycopg.Connection[Any]] | None = None,
    parallel: int = 1,
) -> float:
    """Recreate every index recorded as deferred for ``target`` (skipping any that exists by name).

    Each index is built and forgotten in one transaction, so an interruption here leaves the
    remaining ones recorded for the next run. With ``connect`` and ``parallel`` > 1, that many
    indexes are built at once, each on its own connection (measured: an HNSW, a GiST and a GIN
    index of 200,000 documents took 15 s one after another, bounded by the slowest when run side
    by side on 2 cores). Returns the seconds spent (0.0 when none).
    """
    with conn.transaction():
        pending = state.load_deferred_indexes(conn, target.schema, target.table)
    if not pending:
        return 0.0
    task = f"{item_id}: rebuild {len(pending)} index(es)"
    started = time.perf_counter()
    sink.start(task, len(pending))
    workers = max(1, min(parallel, len(pending))) if connect is not None else 1
    if workers == 1:
        for idx in pending:
            _build_recorded(conn, idx)
            sink.advance(task, 1)
    else:
        assert connect is not None
        # Slowest first: the longest build (HNSW, GiST) starts at once and the quick btrees fill in.
        order = sorted(pending, key=_build_cost, reverse=True)
        jobs: queue.Queue[state.DeferredIndex] = queue.Queue()
        for idx in order:
            jobs.put(idx)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with connect() as own:
                    own.autocommit = True
                    while not errors:
                        try:
                            idx = jobs.get_nowait()
                        except queue.Empty:
                            return
                        _build_recorded(own, idx)
                        sink.advance(task, 1)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, name=f"pgc-index-{n}", daemon=True) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    sink.finish(task)
    seconds = time.perf_counter() - started
    _log.info("%s: rebuilt %d deferred index(es) in %.2f s", target.display, len(pending), seconds)
    return seconds


def _build_cost(idx: state.DeferredIndex) -> int:
    """A rough rank of how long an index takes to build (graph and tree methods first, btree last)."""
    text = idx.definition.lower()
    for rank, method in enumerate(
        ("using btree", "using hash", "using gin", "using gist", "using hnsw", "using ivfflat")
    ):
        if method in text:
            return rank
    return 0


def _build_recorded(conn: psycopg.Connection[Any], idx: state.DeferredIndex) -> None:
    """Build one recorded index (unless it exists by name) and forget it, in one transaction."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "SELECT set_config('maintenance_work_mem', %s, true) "
            "WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(%s)",
            (REBUILD_MAINTENANCE_WORK_MEM, REBUILD_MAINTENANCE_WORK_MEM),
        )
        cur.execute(_INDEX_EXISTS, (idx.schema_name, idx.index_name))
        row = cur.fetchone()
        if not (row and row[0]):
            _create_recorded_index(cur, idx)
        state.clear_deferred_index(conn, idx)


def _create_recorded_index(cur: psycopg.Cursor[Any], idx: state.DeferredIndex) -> None:
    """Run a recorded ``CREATE INDEX``; a definition that no longer applies is a TargetError saying how to drop it."""
    # The text is pg_get_indexdef's, read back from our own state table: server-generated DDL
    # with every name already quoted, so it runs verbatim (no user data is spliced into it).
    if not idx.definition.startswith(("CREATE INDEX ", "CREATE UNIQUE INDEX ")):
        raise TargetError(f"recorded definition of deferred index {idx.index_name} is not a CREATE INDEX")
    try:
        cur.execute(sql.SQL(idx.definition))
    except psycopg.Error as exc:
        message = redact_text((exc.diag.message_primary or str(exc)).strip().splitlines()[0])
        quoted = idx.index_name.replace("'", "''")
        raise TargetError(
            f"cannot rebuild index {idx.index_name} of {idx.schema_name}.{idx.table_name}, dropped for a "
            f"first load: {message}",
            hint=f"recreate it by hand, or forget it: DELETE FROM {state.STATE_SCHEMA}."
            f"{state.DEFERRED_INDEXES_TABLE} WHERE index_name = '{quoted}'",
        ) from None


def target_error(exc: psycopg.Error, item: models.PlanItem, target: Target) -> TargetError:
    """The TargetError for a copy that PostgreSQL failed: item, table, SQLSTATE, the first line, redacted."""
    code = f" [{exc.sqlstate}]" if exc.sqlstate else ""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return TargetError(f"copy of item {item.id} into {target.display} failed{code}: {redact_text(first_line)}")


# --------------------------------------------------------------------------- reader


@dataclass(slots=True)
class _Batch:
    """One batch handed from the reader to the writer."""

    cursor: int
    records: list[SourceRecord]
    keys: int
    vanished: int
    unmatched: int


@dataclass(slots=True)
class _Failure:
    """An exception raised in the reader thread, re-raised by the writer."""

    exc: BaseException


_END = object()
_T = TypeVar("_T")


def _read_batches(
    client: redis.Redis, item: models.PlanItem, mapping: Mapping, start_cursor: int
) -> Generator[_Batch, None, None]:
    """Batches from a reader thread through a bounded queue; closing the generator stops the thread."""
    return prefetched(_reader(client, item, mapping, start_cursor), f"pgc-read-{item.id}", depth=QUEUE_BATCHES)


def _reader(client: redis.Redis, item: models.PlanItem, mapping: Mapping, start_cursor: int) -> Iterator[_Batch]:
    """Read each SCAN batch (SCAN itself runs one batch ahead, in a helper thread).

    Runs in the reader thread. Rows are built by the writer: the reader spends much of its time
    waiting on Redis, and that wait then overlaps the CPU-bound encoding instead of adding to it
    (one GIL, three threads).
    """
    assert isinstance(item.source, models.RedisSource)
    try:
        scan = iter_key_batches(
            client,
            item.source,
            batch_size=item.copy_options.batch_size,
            count=item.copy_options.scan_count,
            cursor=start_cursor,
        )
        with closing(prefetched(scan, f"pgc-scan-{item.id}", depth=2)) as scan_batches:
            for kb in scan_batches:
                keys = _batch_keys(kb.keys)
                records: list[SourceRecord] = []
                if keys:
                    read = mapping.read(client, keys, item, int(time.time() * 1000))
                    records = [r for r in read if r is not None]
                yield _Batch(kb.cursor, records, len(kb.keys), len(keys) - len(records), kb.unmatched)
    except redis.RedisError as exc:
        raise SourceError(f"reading item {item.id} from Redis failed: {redact_text(str(exc))}") from None


def prefetched(source: Iterator[_T], name: str, *, depth: int) -> Generator[_T, None, None]:
    """``source``'s items, produced up to ``depth`` steps ahead by a helper thread.

    Used by the copy for its reader thread (Redis I/O overlapping the writer's encoding and COPY)
    and, inside it, for SCAN one batch ahead (the next batch's SCAN runs on the server while this
    batch's replies are parsed; measured: the reader was the copy's critical path); ``verify --full``
    uses it to read Redis ahead of PostgreSQL's comparison. Exceptions from ``source`` are re-raised
    here, in order. Closing this generator stops the thread and closes ``source`` in it, so no
    thread outlives its consumer.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    halt = threading.Event()

    def run() -> None:
        try:
            for obj in source:
                if not _put(q, obj, halt):
                    return
            _put(q, _END, halt)
        except BaseException as exc:
            _put(q, _Failure(exc), halt)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            obj = q.get()
            if obj is _END:
                return
            if isinstance(obj, _Failure):
                raise obj.exc
            yield obj  # type: ignore[misc]
    finally:
        _drain_and_join(thread, q, halt)


def _put(q: queue.Queue[object], obj: object, stop: threading.Event) -> bool:
    """Put ``obj`` unless ``stop`` is set first (never blocks forever on a full queue)."""
    while not stop.is_set():
        try:
            q.put(obj, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain_and_join(thread: threading.Thread, q: queue.Queue[object], stop: threading.Event) -> None:
    """Stop a producer thread: unblock it if it waits on a full queue, then wait for it.

    The producer stops at its next ``_put``; a producer blocked on I/O finishes that call first.
    """
    stop.set()
    while thread.is_alive():
        with suppress(queue.Empty):
            q.get(timeout=0.05)
    thread.join()


def _batch_keys(keys: list[bytes]) -> list[bytes]:
    """A batch's keys, each once, in byte order.

    SCAN may repeat a key (rehashing); one row per key keeps COPY on the fast path. Sorted,
    because SCAN's hash order sends every primary-key insert to a random btree page: COPYing a
    batch in key order cut PostgreSQL's time per row by ~15-25% (measured on 5,000-20,000-key
    batches), for ~0.3 us of Python per key.
    """
    return sorted(set(keys))


def copy_encoder_for(
    mapping: Mapping, item: models.PlanItem, col_types: Sequence[str], conn: psycopg.Connection[Any]
) -> Callable[[SourceRecord], bytes] | None:
    """The mapping's ``record -> binary COPY row`` encoder, when it has one and it fits this table.

    Raw text bytes are only meaningful to the server when the session's client_encoding is
    UTF-8 (the bytes are Redis' UTF-8 as is); other sessions keep psycopg's typed row path.
    """
    build = getattr(mapping, "copy_encoder", None)
    if not callable(build) or conn.info.encoding != "utf-8":
        return None
    encoder: Callable[[SourceRecord], bytes] | None = build(item, col_types)
    return encoder


def _row_function(mapping: Mapping, item: models.PlanItem) -> Callable[[SourceRecord], tuple[Any, ...]]:
    """``record -> row`` for the hot loop: the mapping's prebuilt converter when it offers one."""
    build = getattr(mapping, "row_converter", None)
    if callable(build):
        converter: Callable[[SourceRecord], tuple[Any, ...]] = build(item)
        return converter
    return lambda record: mapping.to_row(record, item)


# --------------------------------------------------------------------------- writer


class _Writer:
    """Writes batches into one target table, each in its own transaction with its checkpoint."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        item: models.PlanItem,
        target: Target,
        columns: list[str],
        col_types: list[str],
        to_row: Callable[[SourceRecord], tuple[Any, ...]],
        encode: Callable[[SourceRecord], bytes] | None = None,
    ) -> None:
        self.conn = conn
        self.item = item
        self.target = target
        self.columns = columns
        self.to_row = to_row
        self.encode = encode
        # An encoder only exists for tables whose column types it matched, so binary COPY it is.
        self.binary = encode is not None or all(t in _BINARY_SAFE_TYPES for t in col_types)
        self.types = col_types
        digest = hashlib.sha1(target.display.encode()).hexdigest()[:16]
        self.staging_name = f"pgc_stage_{digest}"
        self.staging = sql.Identifier(self.staging_name)
        cols = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        fmt = sql.SQL(" (FORMAT BINARY)") if self.binary else sql.SQL("")
        self.copy_target = sql.SQL("COPY {} ({}) FROM STDIN{}").format(target.ident, cols, fmt)
        self.copy_staging = sql.SQL("COPY {} ({}) FROM STDIN{}").format(self.staging, cols, fmt)
        self.upsert = self._upsert_sql(cols)
        self.cur = conn.cursor()
        self.cur.adapters.register_dumper(None, _LenientJsonbBinaryDumper)

    def _upsert_sql(self, cols: sql.Composable) -> sql.Composed:
        key = sql.Identifier(self.columns[0])
        rest = [sql.Identifier(c) for c in self.columns[1:]]
        head = sql.SQL("INSERT INTO {} AS t ({}) SELECT DISTINCT ON ({}) {} FROM {} ON CONFLICT ({}) ").format(
            self.target.ident, cols, key, cols, self.staging, key
        )
        if not rest:
            return head + sql.SQL("DO NOTHING")
        sets = sql.SQL(", ").join(sql.SQL("{} = EXCLUDED.{}").format(c, c) for c in rest)
        changed: list[sql.Composable] = []
        for name, c in zip(self.columns[1:], rest, strict=True):
            if name == EXPIRY_COLUMN:
                # Expiries are derived from PTTL + the client clock, so they jitter by milliseconds
                # between runs; within the tolerance the row is unchanged.
                changed.append(
                    sql.SQL(
                        "(t.{} IS NULL) <> (EXCLUDED.{} IS NULL) OR abs(EXTRACT(EPOCH FROM t.{} - EXCLUDED.{})) > {}"
                    ).format(c, c, c, c, sql.Literal(EXPIRY_TOLERANCE_SECONDS))
                )
            else:
                changed.append(sql.SQL("t.{} IS DISTINCT FROM EXCLUDED.{}").format(c, c))
        # Skip unchanged rows so an idempotent re-run does not rewrite (and bloat) the whole table.
        return head + sql.SQL("DO UPDATE SET {} WHERE {}").format(sets, sql.SQL(" OR ").join(changed))

    def ensure_staging(self) -> None:
        """Create the session's staging table for this target (emptied at every commit)."""
        stmt = sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS").format(
            self.staging, self.target.ident
        )
        with self.conn.transaction():
            self.cur.execute("SET LOCAL client_min_messages = warning")  # hide "already exists, skipping"
            self.cur.execute(stmt)

    def write(self, batch: _Batch, *, upsert: bool) -> int:
        """Commit ``batch`` and its checkpoint in one transaction (fast path falls back to upsert).

        A row PostgreSQL rejects (class 22: bad UTF-8, NUL byte, invalid JSON, ...) becomes a
        DataError naming the key and the plan field; the batch's transaction is rolled back.
        Returns the rows written.
        """
        try:
            if not upsert:
                try:
                    self._commit(batch, upsert=False)
                    return len(batch.records)
                except pg_errors.UniqueViolation:
                    # A key SCAN returned in an earlier batch too: redo this batch idempotently.
                    self.ensure_staging()
            self._commit(batch, upsert=True)
        except pg_errors.DataError as exc:
            raise self._explain_rejected(batch, exc) from None
        return len(batch.records)

    def _commit(self, batch: _Batch, *, upsert: bool) -> None:
        cur = self.cur
        with self.conn.transaction():
            cur.execute("SET LOCAL synchronous_commit = off")
            with cur.copy(self.copy_staging if upsert else self.copy_target) as cp:
                # DataError from encode/to_row propagates: the transaction rolls back, nothing half-written.
                if self.encode is not None:
                    # One write per batch: psycopg passes raw binary data through untouched, so
                    # the stream's header and trailer are ours to send.
                    parts = [COPY_HEADER]
                    parts.extend(self._encode_all(batch.records))
                    parts.append(COPY_TRAILER)
                    cp.write(b"".join(parts))
                else:
                    if self.binary:
                        cp.set_types(self.types)
                    write_row, to_row = cp.write_row, self.to_row
                    for rec in batch.records:
                        write_row(to_row(rec))
            if upsert:
                cur.execute(self.upsert)
            state.save_checkpoint(
                self.conn, self.item.id, self.target.display, cursor=batch.cursor, rows_added=len(batch.records)
            )

    def _encode_all(self, records: list[SourceRecord]) -> list[bytes]:
        """Every record's binary row; an encoder failure other than DataError is explained per row."""
        assert self.encode is not None
        try:
            return list(map(self.encode, records))
        except PgConsolidateError:
            raise
        except (ValueError, OverflowError, struct.error) as exc:
            encode = self.encode
            for rec in records:
                try:
                    encode(rec)
                except (ValueError, OverflowError, struct.error):
                    self.to_row(rec)  # the precise DataError, when the mapping has one
                    raise DataError(
                        f"{item_path(self.item, 'target')}: key '{key_display(rec.key)}' cannot be "
                        f"written: {redact_text(str(exc))}; exclude the key or change the item's mapping"
                    ) from None
            raise

    def _explain_rejected(self, batch: _Batch, exc: pg_errors.DataError) -> DataError:
        """The DataError for a batch PostgreSQL rejected: ``to_row``'s own when it objects, else the server's."""
        message, code, line, column = rejection(exc, (self.target.table, self.staging_name))
        if line is None or not 1 <= line <= len(batch.records):
            return DataError(
                f"{item_path(self.item, 'target')}: PostgreSQL rejected a row of {self.target.display}{code}: "
                f"{message}; exclude the offending keys or change the item's mapping/options"
            )
        record = batch.records[line - 1]
        self.to_row(record)  # raises the mapping's precise DataError (key, plan field, fix)
        where = f" column {column}" if column else ""
        return data_error(
            self.item,
            "target",
            record.key,
            f"was rejected by PostgreSQL for{where or ' its row'}{code}: {message}",
            "change that column's type in the plan (e.g. options.value_type or key_type: bytea) or exclude the key",
        )


class _MembersWriter:
    """Writes batches of collection keys (many rows per key) by replacing whole keys.

    First loads COPY straight into the table; a key that SCAN returned twice then hits the
    primary key and the batch is redone on the replace path. The replace path (re-runs, resumes,
    batches holding a big key read in windows, and mappings whose rows have no unique key)
    deletes the batch's keys' rows and COPYs their rows again, through a staging table that
    de-duplicates on the primary key when the mapping has one (SSCAN may repeat a member).
    Each batch is one transaction with its checkpoint, as for the other mappings.
    """

    def __init__(
        self,
        client: redis.Redis,
        conn: psycopg.Connection[Any],
        item: models.PlanItem,
        target: Target,
        mapping: MembersMapping[Any],
        col_types: list[str],
    ) -> None:
        self.client = client
        self.conn = conn
        self.item = item
        self.target = target
        self.mapping = mapping
        encode: ChunkEncoder | None = mapping.copy_chunks(item, col_types) if conn.info.encoding == "utf-8" else None
        if encode is None:
            raise TargetError(
                f"target table {target.display} does not have the column types item {item.id} writes "
                f"({', '.join(col_types)}) or the session is not UTF-8",
                hint="re-create the table from this plan's DDL (pgconsolidate ddl)",
            )
        self.encode = encode
        self.columns = list(mapping.columns(item))
        self.dedupe = not mapping.replace_always
        digest = hashlib.sha1(target.display.encode()).hexdigest()[:16]
        self.staging_name = f"pgc_stage_{digest}"
        self.staging = sql.Identifier(self.staging_name)
        cols = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        self.copy_target = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target.ident, cols)
        self.copy_staging = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(self.staging, cols)
        pk = sql.SQL(", ").join(map(sql.Identifier, mapping.conflict_columns(item)))
        self.merge = sql.SQL("INSERT INTO {} ({}) SELECT DISTINCT ON ({}) {} FROM {} ON CONFLICT DO NOTHING").format(
            target.ident, cols, pk, cols, self.staging
        )
        self.delete = mapping.delete_keys_sql(item, target.ident)
        self.cur = conn.cursor()
        self.staging_ready = False

    def ensure_staging(self) -> None:
        """Create the session's staging table (only its copied columns; emptied at every commit)."""
        if not self.dedupe or self.staging_ready:
            return
        cols = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        stmt = sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA")
        with self.conn.transaction():
            self.cur.execute("SET LOCAL client_min_messages = warning")
            self.cur.execute(stmt.format(self.staging, cols, self.target.ident))
        self.staging_ready = True

    def write(self, batch: _Batch, *, upsert: bool) -> int:
        """Commit ``batch`` (rows + checkpoint) in one transaction; returns the rows written."""
        replace = upsert or self.mapping.replace_always or any(isinstance(r.value, ChunkedValue) for r in batch.records)
        try:
            if not replace:
                try:
                    return self._commit(batch, replace=False)
                except pg_errors.UniqueViolation:
                    pass  # a key SCAN returned twice: redo the batch by replacing its keys
            self.ensure_staging()
            return self._commit(batch, replace=True)
        except pg_errors.DataError as exc:
            raise self._explain_rejected(batch, exc) from None

    def _commit(self, batch: _Batch, *, replace: bool) -> int:
        cur = self.cur
        self.row_ends: list[int] = []
        total = 0
        with self.conn.transaction():
            cur.execute("SET LOCAL synchronous_commit = off")
            if replace:
                cur.execute(self.delete, (self.mapping.pg_keys(self.item, [r.key for r in batch.records]),))
            staged = replace and self.dedupe
            with cur.copy(self.copy_staging if staged else self.copy_target) as cp:
                cp.write(COPY_HEADER)
                for rec in batch.records:
                    # A big key arrives window by window: memory holds one window, never the key.
                    for data, count in self.encode(rec):
                        cp.write(data)
                        total += count
                    self.row_ends.append(total)
                cp.write(COPY_TRAILER)
            if staged:
                cur.execute(self.merge)
            self.mapping.after_keys(self.client, self.conn, self.item, batch.records)
            state.save_checkpoint(self.conn, self.item.id, self.target.display, cursor=batch.cursor, rows_added=total)
        return total

    def _explain_rejected(self, batch: _Batch, exc: pg_errors.DataError) -> DataError:
        """The mapping's precise DataError for the rejected row's key, else the server's message."""
        message, code, line, column = rejection(exc, (self.target.table, self.staging_name))
        ends = getattr(self, "row_ends", [])
        if line is not None:
            index = bisect.bisect_left(ends, line)
            if index < len(batch.records):
                record = batch.records[index]
                for _ in self.mapping.to_rows(record, self.item):  # raises the precise DataError
                    pass
                where = f" column {column}" if column else ""
                return data_error(
                    self.item,
                    "target",
                    record.key,
                    f"was rejected by PostgreSQL for{where or ' a row'}{code}: {message}",
                    "change that column's type in the plan (e.g. options.member_type: bytea) or exclude the key",
                )
        return DataError(
            f"{item_path(self.item, 'target')}: PostgreSQL rejected a row of {self.target.display}{code}: "
            f"{message}; exclude the offending keys or change the item's mapping/options"
        )


def rejection(exc: pg_errors.DataError, tables: Sequence[str]) -> tuple[str, str, int | None, str | None]:
    """What PostgreSQL said about a rejected COPY row: redacted message, `` [SQLSTATE]``, row number, column."""
    message = redact_text(exc.diag.message_primary or str(exc).strip().splitlines()[0])
    code = f" [{exc.sqlstate}]" if exc.sqlstate else ""
    line, column = copy_error_position(exc.diag.context or "", tables)
    return message, code, line, column


_COPY_POSITION = re.compile(r"(\d+)(?:, column (.+?))?(?::|$)")


def copy_error_position(context: str, tables: Sequence[str]) -> tuple[int | None, str | None]:
    """The 1-based row number and column name from a COPY error context.

    The server writes ``COPY <table>, line <n>[, column <name>]: <value>`` with the bare table
    name as the outermost (last) context line, after inner ones such as ``JSON data, line 1:``;
    binary COPY counts rows as "lines". The name is matched as a known prefix because table
    names and values may themselves contain ``, line``.
    """
    for text in reversed(context.splitlines()):
        for table in tables:
            prefix = f"COPY {table}, line "
            if text.startswith(prefix):
                match = _COPY_POSITION.match(text, len(prefix))
                if match:
                    return int(match.group(1)), match.group(2)
    return None, None
