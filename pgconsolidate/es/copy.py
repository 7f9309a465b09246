"""The Elasticsearch copy engine: index documents -> PostgreSQL rows, sliced, resumable, never short.

For one ``es_index`` plan item:

* **One point in time (PIT)** is opened over ``item.source.indices``; every read goes through it,
  so the copy sees one consistent snapshot however long it runs, and its document count
  (``track_total_hits`` on the PIT) is the number the copy must account for.
* **Sliced, parallel readers.** The PIT is read in ``slices`` parallel slices (``slice: {id,
  max}``; by default one per primary shard, capped at the CPU count), each paging with
  ``search_after`` sorted by ``_shard_doc`` (the cheapest total order a PIT offers). Each slice
  has a reader thread (search requests, JSON parsing) feeding a small bounded queue, and a writer
  (the slice's own thread) converting hits to binary COPY rows and writing them on the slice's
  own PostgreSQL connection (a psycopg connection is not thread-safe). Memory is bounded by
  ``slices x (queue depth + 2)`` pages, whatever the index size.
* **A checkpoint per slice** (``pgconsolidate.es_slices``: PIT id, the last hit's sort values,
  documents copied and rejected) is written in the same transaction as the batch's rows.
* **Resume.** ``_shard_doc`` sort values and slice membership are only meaningful within the PIT
  that produced them (slices split documents by Lucene doc id; a new PIT may number them
  differently). So ``--resume`` first tries the stored PIT: while it is alive (``keep_alive``,
  default 5 minutes after the last request of the interrupted run) every slice continues exactly
  after its last committed batch - nothing is read twice. When the PIT has expired, a new PIT is
  opened and every slice is re-read from the start in upsert mode (each batch deletes its ids,
  then COPYs them, in one transaction): idempotent, never duplicating, at the cost of re-reading
  the whole item. Sorting by ``_id`` would survive a new PIT but is disabled by default since
  8.x (``indices.id_field_data.enabled``), so it is not an option for a migration tool.
* **Retries** with exponential backoff on HTTP 429/502/503/504, timeouts, connection errors,
  ``timed_out`` responses and shard failures (a partial page is never accepted as a page).
* **Never a silent short copy.** At the end, copied + rejected documents must equal the PIT's
  count, and the table must hold at least ``count - rejected`` rows; otherwise the run fails
  (SourceError / DataError, non-zero exit) and the item is not marked done.
* **Rejects.** A document whose value does not fit its column (see
  :mod:`pgconsolidate.es.convert`), or that PostgreSQL refuses during COPY, is written to
  ``<reject_dir>/<item>.dat`` (the hit as one JSON line) and ``.log`` (index, id, field, reason),
  like pgloader. ``on_error="stop"`` stops every slice at the first one (DataError naming the
  document, field and reason; the failing batch is not committed); ``"continue"`` commits the
  rest of the batch and counts the reject (also recorded in ``pgconsolidate.es_rejects``, which
  verify reads). Reject lines are written before their batch commits: a crash in between can
  repeat a line on resume, never lose one.
* **dense_vector values** are requested with ``_source: {exclude_vectors: false}`` on 9.x
  servers, where indices exclude vectors from ``_source`` by default
  (``index.mapping.exclude_source_vectors``); 8.x returns them in ``_source`` anyway.

Writes are binary COPY (measured against text COPY on the 1 KB corpus: see ``docs/performance.md``);
first loads of big items drop secondary indexes and rebuild them at the end, exactly like the
Redis engine (:mod:`pgconsolidate.execute.copy`, whose helpers are reused).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import elastic_transport
import orjson
import psycopg
from elasticsearch import ApiError, Elasticsearch
from psycopg import errors as pg_errors
from psycopg import sql

from pgconsolidate import models
from pgconsolidate.config import redact_text, redact_url
from pgconsolidate.errors import DataError, PgConsolidateError, SourceError, TargetError, UsageError
from pgconsolidate.es.client import source_error
from pgconsolidate.es.convert import COLUMN_TYPES_SQL, DocEncoder, Reject, column_types_from_rows
from pgconsolidate.execute import state
from pgconsolidate.execute.copy import (
    Target,
    copy_error_position,
    defer_indexes,
    item_fingerprint,
    lock_item,
    prefetched,
    rebuild_deferred,
    settle,
    table_empty,
    target_error,
    unlock_item,
)
from pgconsolidate.mappings._common import COPY_HEADER, COPY_TRAILER
from pgconsolidate.models_es import EsIndexOptions, EsSource
from pgconsolidate.progress import NullProgress, ProgressSink

OnError = Literal["stop", "continue"]

KEEP_ALIVE = "5m"
"""PIT keep-alive, renewed by every request: also how long an interrupted copy can resume exactly."""

MAX_PAGE = 5000
"""Largest page requested (``index.max_result_window`` defaults to 10,000)."""

DEFAULT_PAGE = 2000
"""Page (= batch) size when the plan's ``copy.batch_size`` is larger than :data:`MAX_PAGE`'s useful range.

Measured on the 1 KB corpus (2 cores): 1,000 -> 5,000 documents per page changes throughput by
a few percent, while memory grows linearly; 2,000 keeps the peak RSS of 2 slices well under 200 MB.
"""

QUEUE_PAGES = 2
"""Pages read ahead per slice."""

DEFER_INDEXES_MIN_DOCS = 10_000
"""A first load of at least this many documents drops the table's secondary indexes until the end.

Lower than the Redis engine's threshold: an es_index table carries GIN (tsvector, arrays, jsonb)
and HNSW indexes, far costlier to maintain row by row than btrees. Measured on the 1 KB corpus
(20,000 documents, 2 slices, 2 cores): 6.3 s with live indexes, 3.9 s deferred (rebuild included).
"""

MAX_SLICES = 8
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRIES = 6
FIRST_BACKOFF_SECONDS = 0.5

_FILTER_PATH = "pit_id,_shards,timed_out,hits.hits._id,hits.hits._index,hits.hits._source,hits.hits.sort"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_log = logging.getLogger(__name__)

Connect = Callable[[], psycopg.Connection[Any]]
AfterBatch = Callable[[int, int], None]


# --------------------------------------------------------------------------- public API


def reject_paths(reject_dir: Path, item_id: str) -> tuple[Path, Path]:
    """``(<dir>/<item>.dat, <dir>/<item>.log)``; characters unsafe in file names become ``_``."""
    name = _SAFE_NAME.sub("_", item_id).strip("._") or "item"
    return reject_dir / f"{name}.dat", reject_dir / f"{name}.log"


def default_slices(source: EsSource, cpus: int | None = None) -> int:
    """One slice per primary shard, at most one per CPU (and :data:`MAX_SLICES`), at least one."""
    return max(1, min(source.primary_shards or 1, cpus or os.cpu_count() or 1, MAX_SLICES))


def connection_factory(conn: psycopg.Connection[Any]) -> Connect:
    """A function opening new connections with ``conn``'s parameters (the slices' own connections)."""
    params: dict[str, Any] = dict(conn.info.get_parameters())
    password = conn.info.password
    if password:
        params["password"] = password

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(**params)

    return connect


def copy_es_item(
    es: Elasticsearch,
    pg_conn: psycopg.Connection[Any],
    item: models.PlanItem,
    *,
    reject_dir: Path,
    resume: bool = False,
    slices: int | None = None,
    on_error: OnError = "stop",
    connect: Connect | None = None,
    page_size: int | None = None,
    keep_alive: str = KEEP_ALIVE,
    plan_fingerprint: str | None = None,
    progress: ProgressSink | None = None,
    after_batch: AfterBatch | None = None,
) -> models.ItemCopyResult:
    """Copy one ``es_index`` item's documents into its (existing) target table; see the module docstring.

    ``pg_conn`` holds the item lock and the checkpoints; each slice writes on a connection from
    ``connect`` (default: :func:`connection_factory` of ``pg_conn``). ``slices`` defaults to
    :func:`default_slices`; an exact resume keeps the interrupted run's slice count. ``page_size``
    defaults to the plan's ``copy.batch_size`` capped at :data:`DEFAULT_PAGE`. ``after_batch(slice,
    n)`` is called after a slice's n-th committed batch (a hook for tests and progress; an exception
    it raises fails the copy like a crash would). Raises DataError (a reject with ``on_error="stop"``,
    or fewer rows than documents), SourceError (Elasticsearch failures, a count shortfall),
    TargetError (PostgreSQL failures).
    """
    if item.target is None or not isinstance(item.source, EsSource):
        raise UsageError(f"item {item.id} is not an Elasticsearch item with a target")
    if on_error not in ("stop", "continue"):
        raise UsageError(f"--on-error must be 'stop' or 'continue', not {on_error!r}")
    if slices is not None and not 1 <= slices <= 64:
        raise UsageError(f"--slices must be between 1 and 64, not {slices}")
    if not item.source.indices:
        raise UsageError(f"item {item.id} names no Elasticsearch index to read")
    options = EsIndexOptions.model_validate(item.target.options)
    fingerprint = plan_fingerprint if plan_fingerprint is not None else item_fingerprint(item)
    target = Target.of(item)
    sink: ProgressSink = progress or NullProgress()
    started = time.perf_counter()
    reader = _Reader(es, item, keep_alive)
    settle(pg_conn)
    try:
        state.ensure_state(pg_conn)
        state.ensure_es_state(pg_conn)
        lock_item(pg_conn, item.id)
        try:
            return _copy_locked(
                es,
                pg_conn,
                item,
                options,
                target,
                reader,
                _Settings(
                    reject_dir=reject_dir,
                    resume=resume,
                    slices=slices,
                    on_error=on_error,
                    connect=connect or connection_factory(pg_conn),
                    page_size=min(page_size or min(item.copy_options.batch_size, DEFAULT_PAGE), MAX_PAGE),
                    fingerprint=fingerprint,
                    sink=sink,
                    after_batch=after_batch,
                ),
                started,
            )
        finally:
            unlock_item(pg_conn, item.id)
    except psycopg.Error as exc:
        raise target_error(exc, item, target) from None


# --------------------------------------------------------------------------- orchestration


@dataclass(frozen=True)
class _Settings:
    reject_dir: Path
    resume: bool
    slices: int | None
    on_error: OnError
    connect: Connect
    page_size: int
    fingerprint: str
    sink: ProgressSink
    after_batch: AfterBatch | None


def _copy_locked(
    es: Elasticsearch,
    pg_conn: psycopg.Connection[Any],
    item: models.PlanItem,
    options: EsIndexOptions,
    target: Target,
    reader: _Reader,
    cfg: _Settings,
    started: float,
) -> models.ItemCopyResult:
    assert isinstance(item.source, EsSource)
    with pg_conn.transaction(), pg_conn.cursor() as cur:
        cur.execute(COLUMN_TYPES_SQL, (target.schema, target.table))
        table_columns = column_types_from_rows(cur.fetchall())
    if not table_columns:
        raise TargetError(
            f"target table {target.display} does not exist", hint="run migrate (it applies DDL) or pgconsolidate ddl"
        )
    encoder = DocEncoder(options, table_columns, target.display)
    with pg_conn.transaction():
        ckpt = state.load_checkpoint(pg_conn, item.id, target.display)
        saved = state.load_es_slices(pg_conn, item.id, target.display)
    same_plan = ckpt is not None and ckpt.plan_fingerprint == cfg.fingerprint
    if cfg.resume and ckpt is not None and same_plan and ckpt.done:
        return models.ItemCopyResult(item_id=item.id, table=target.display, mode="skipped", resumed=True)
    notes: list[str] = []
    exact = False
    if cfg.resume and same_plan and saved and all(s.plan_fingerprint == cfg.fingerprint for s in saved):
        exact = reader.pit_alive(saved[0].pit_id)
        if not exact:
            notes.append(
                "the point in time of the interrupted run has expired: every slice was re-read from the start "
                "in upsert mode (idempotent; nothing duplicated)"
            )
    if exact:
        n_slices = saved[0].slices
        pit_id = saved[0].pit_id
        if cfg.slices is not None and cfg.slices != n_slices:
            notes.append(f"resumed with the interrupted run's {n_slices} slice(s) (--slices {cfg.slices} ignored)")
        mode: Literal["copy", "upsert"] = "copy"  # rows after each slice's position cannot be in the table yet
    else:
        rebuild_deferred(pg_conn, target, item.id, cfg.sink)  # an earlier crashed first load's indexes
        n_slices = cfg.slices or default_slices(item.source)
        pit_id = reader.open_pit()
        with pg_conn.transaction():
            state.reset_checkpoint(pg_conn, item.id, target.display, plan_fingerprint=cfg.fingerprint)
            state.reset_es_slices(
                pg_conn, item.id, target.display, slices=n_slices, pit_id=pit_id, plan_fingerprint=cfg.fingerprint
            )
            empty = table_empty(pg_conn, target)
            mode = "copy" if empty else "upsert"
            if mode == "copy" and item.source.docs_count >= DEFER_INDEXES_MIN_DOCS:
                defer_indexes(pg_conn, target)
        saved = [
            state.EsSliceCheckpoint(item.id, target.display, i, n_slices, pit_id, None, 0, 0, False, cfg.fingerprint)
            for i in range(n_slices)
        ]
        reject_dat, reject_log = reject_paths(cfg.reject_dir, item.id)
        for path in (reject_dat, reject_log):
            path.unlink(missing_ok=True)  # a fresh copy starts fresh reject files
    total = reader.count(pit_id)
    already = sum(s.docs_copied + s.rejected for s in saved)
    cfg.sink.start(item.id, total)
    if already:
        cfg.sink.advance(item.id, already)
    shared = _Shared(
        item=item,
        target=target,
        encoder=encoder,
        cfg=cfg,
        rejects=_RejectFiles(*reject_paths(cfg.reject_dir, item.id)),
        upsert=(mode == "upsert"),
    )
    runners = [_SliceRunner(shared, reader, s) for s in saved if not s.done]
    _run_all(runners, shared)
    copied_now = sum(r.copied for r in runners)
    with pg_conn.transaction():
        final = state.load_es_slices(pg_conn, item.id, target.display)
    copied = sum(s.docs_copied for s in final)
    rejected = sum(s.rejected for s in final)
    if copied + rejected != total or not all(s.done for s in final):
        raise SourceError(
            f"item {item.id}: copied {copied:,} and rejected {rejected:,} of the {total:,} documents of "
            f"{', '.join(item.source.indices)} at the copy's point in time: the copy is incomplete",
            hint="nothing was marked done; rerun migrate (with --resume to continue)",
        )
    # Indexes build side by side on their own connections (the slices' connections are closed by now).
    rebuild_deferred(pg_conn, target, item.id, cfg.sink, connect=cfg.connect, parallel=os.cpu_count() or 1)
    with pg_conn.transaction(), pg_conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(target.ident))
        row = cur.fetchone()
        rows_in_table = int(row[0]) if row else 0
        if rows_in_table < total - rejected:
            raise DataError(
                f"item {item.id}: {target.display} holds {rows_in_table:,} rows for {total - rejected:,} copied "
                "documents: documents of different indices share an _id (one row per _id), or rows were deleted "
                "during the copy",
                hint="give each index of the family its own item, or add the index name to the key",
            )
        state.save_checkpoint(pg_conn, item.id, target.display, cursor=0, rows_added=copied_now)
        state.mark_done(pg_conn, item.id, target.display)
    reader.close_pit(pit_id)
    cfg.sink.finish(item.id)
    return models.ItemCopyResult(
        item_id=item.id,
        table=target.display,
        mode="upsert" if (mode == "upsert" or exact or shared.fell_back) else "copy",
        keys=copied_now,
        rows=copied_now,
        resumed=exact,
        seconds=time.perf_counter() - started,
        rejected=rejected,
        source_count=total,
        slices=n_slices,
        notes=notes,
    )


def _run_all(runners: Sequence[_SliceRunner], shared: _Shared) -> None:
    """Run the slices in parallel threads; the first failure halts the others and is re-raised."""
    if not runners:
        return
    if len(runners) == 1:
        runners[0].run()
        return
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(runners), thread_name_prefix="pgc-es-slice") as pool:
        futures = [pool.submit(r.run) for r in runners]
        try:
            for fut in futures:
                exc = fut.exception()
                if exc is not None:
                    shared.halt.set()
                    errors.append(exc)
        except BaseException:
            shared.halt.set()  # Ctrl-C: the slices stop at their next batch boundary
            raise
    if errors:
        # The reject (DataError) that stopped the run is the error the user needs, not a sibling's.
        first = shared.first_error or errors[0]
        raise first


# --------------------------------------------------------------------------- Elasticsearch reads


@dataclass(slots=True)
class _Page:
    hits: list[dict[str, Any]]
    pit_id: str
    last_sort: list[Any] | None
    last: bool


class _Reader:
    """PIT searches with retries (thread-safe: the client pools its HTTP connections)."""

    def __init__(self, es: Elasticsearch, item: models.PlanItem, keep_alive: str) -> None:
        assert isinstance(item.source, EsSource)
        self.es = es
        self.item = item
        self.indices = list(item.source.indices)
        self.keep_alive = keep_alive
        nodes = [str(n.base_url) for n in es.transport.node_pool.all()]
        self.shown = redact_url(nodes[0]) if nodes else "Elasticsearch"
        info = getattr(es, "server_info", None)
        major = int(str(getattr(info, "version", "9")).split(".")[0] or 9)
        # 9.x indices may exclude dense_vector values from _source; ask for them back (8.x: unknown key).
        self.source: Any = {"exclude_vectors": False} if major >= 9 else True

    def _call(self, doing: str, fn: Callable[[], Any]) -> Any:
        delay = FIRST_BACKOFF_SECONDS
        for attempt in range(MAX_RETRIES + 1):
            retry_reason = ""
            try:
                resp = fn()
            except ApiError as exc:
                status = exc.meta.status if exc.meta is not None else 0
                if status == 404 and "search_context_missing" in str(exc.body):
                    raise SourceError(
                        f"Elasticsearch at {self.shown}: the point in time expired while {doing} "
                        "(a slice stalled longer than its keep-alive)",
                        hint="rerun migrate; --resume re-reads the item in upsert mode",
                    ) from None
                if status not in RETRY_STATUSES or attempt == MAX_RETRIES:
                    raise source_error(exc, self.shown, doing) from None
                retry_reason = f"HTTP {status}"
            except (elastic_transport.ConnectionTimeout, elastic_transport.ConnectionError) as exc:
                if attempt == MAX_RETRIES:
                    raise source_error(exc, self.shown, doing) from None
                retry_reason = type(exc).__name__
            else:
                body = resp.body if hasattr(resp, "body") else resp
                shards = body.get("_shards") or {}
                if not shards.get("failed") and not body.get("timed_out"):
                    return body
                if attempt == MAX_RETRIES:
                    reasons = [str((f.get("reason") or {}).get("reason", f)) for f in shards.get("failures") or []]
                    why = f": {redact_text(reasons[0])}" if reasons else ""
                    raise SourceError(
                        f"Elasticsearch at {self.shown}: {shards.get('failed', 0)} shard(s) failed while {doing}"
                        f"{why} (timed out: {bool(body.get('timed_out'))})"
                    )
                retry_reason = "shard failures" if shards.get("failed") else "timed out"
            _log.warning("%s: %s, retrying in %.1fs", doing, retry_reason, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    def open_pit(self) -> str:
        body = self._call(
            f"opening a point in time over {', '.join(self.indices)}",
            lambda: self.es.open_point_in_time(index=self.indices, keep_alive=self.keep_alive),
        )
        return str(body["id"])

    def pit_alive(self, pit_id: str) -> bool:
        """True when ``pit_id`` can still be searched (an expired/closed PIT answers 404)."""
        try:
            self.es.search(pit={"id": pit_id, "keep_alive": self.keep_alive}, size=0, track_total_hits=False)
        except ApiError as exc:
            if exc.meta is not None and exc.meta.status in (400, 404):
                return False
            raise source_error(exc, self.shown, "checking the interrupted copy's point in time") from None
        except elastic_transport.TransportError as exc:
            raise source_error(exc, self.shown, "checking the interrupted copy's point in time") from None
        return True

    def count(self, pit_id: str) -> int:
        body = self._call(
            "counting the documents",
            lambda: self.es.search(pit={"id": pit_id, "keep_alive": self.keep_alive}, size=0, track_total_hits=True),
        )
        return int(body["hits"]["total"]["value"])

    def close_pit(self, pit_id: str) -> None:
        try:
            self.es.close_point_in_time(id=pit_id)
        except (ApiError, elastic_transport.TransportError) as exc:  # it expires by itself anyway
            _log.info("closing the point in time failed (it will expire): %s", redact_text(str(exc)))

    def pages(self, cp: state.EsSliceCheckpoint, size: int) -> Iterator[_Page]:
        """The slice's pages after ``cp.search_after`` (runs in the slice's reader thread)."""
        pit_id = cp.pit_id
        after = cp.search_after
        while True:
            params: dict[str, Any] = {
                "pit": {"id": pit_id, "keep_alive": self.keep_alive},
                "sort": [{"_shard_doc": "asc"}],
                "size": size,
                "source": self.source,
                "track_total_hits": False,
                "filter_path": _FILTER_PATH,
            }
            if cp.slices > 1:
                params["slice"] = {"id": cp.slice_id, "max": cp.slices}
            if after is not None:
                params["search_after"] = after
            body = self._call(f"reading slice {cp.slice_id} of item {self.item.id}", partial(self.es.search, **params))
            hits: list[dict[str, Any]] = (body.get("hits") or {}).get("hits") or []
            pit_id = str(body.get("pit_id") or pit_id)  # always continue with the latest id
            last = len(hits) < size
            if hits:
                after = hits[-1].get("sort")
            yield _Page(hits, pit_id, after, last)
            if last:
                return


# --------------------------------------------------------------------------- rejects


class _RejectFiles:
    """Appends rejected documents (``.dat``) and reasons (``.log``); shared by the slices."""

    def __init__(self, dat: Path, log: Path) -> None:
        self.dat = dat
        self.log = log
        self.lock = threading.Lock()

    def write(self, entries: Sequence[tuple[dict[str, Any], str, str]]) -> None:
        """``entries``: (hit, field, reason)."""
        if not entries:
            return
        with self.lock:
            self.dat.parent.mkdir(parents=True, exist_ok=True)
            with self.dat.open("ab") as dat, self.log.open("a", encoding="utf-8") as log:
                for hit, field_name, reason in entries:
                    record = {"_index": hit.get("_index"), "_id": hit.get("_id"), "_source": hit.get("_source")}
                    dat.write(orjson.dumps(record) + b"\n")
                    log.write(
                        f"{time.strftime('%Y-%m-%dT%H:%M:%S')} index={hit.get('_index')} id={hit.get('_id')} "
                        f"field={field_name} reason={json.dumps(reason, ensure_ascii=False)}\n"
                    )


# --------------------------------------------------------------------------- slices


@dataclass
class _Shared:
    item: models.PlanItem
    target: Target
    encoder: DocEncoder
    cfg: _Settings
    rejects: _RejectFiles
    upsert: bool
    halt: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_error: PgConsolidateError | None = None
    fell_back: bool = False

    def fail(self, exc: PgConsolidateError) -> PgConsolidateError:
        with self.lock:
            if self.first_error is None:
                self.first_error = exc
        self.halt.set()
        return exc

    def advance(self, n: int) -> None:
        with self.lock:
            self.cfg.sink.advance(self.item.id, n)


class _SliceRunner:
    """Reads one slice and writes its batches on its own connection."""

    def __init__(self, shared: _Shared, reader: _Reader, cp: state.EsSliceCheckpoint) -> None:
        self.shared = shared
        self.reader = reader
        self.cp = cp
        self.copied = 0
        self.batches = 0
        self.upsert = shared.upsert
        target = shared.target
        cols = sql.SQL(", ").join(map(sql.Identifier, shared.encoder.columns))
        self.copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target.ident, cols)
        self.delete_stmt = sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
            target.ident, sql.Identifier(shared.encoder.columns[0])
        )

    def run(self) -> None:
        shared = self.shared
        conn = shared.cfg.connect()
        try:
            conn.execute("SET client_encoding TO 'UTF8'")  # binary text values are sent as UTF-8
            conn.commit()
            pages = prefetched(
                self.reader.pages(self.cp, shared.cfg.page_size),
                f"pgc-es-read-{self.cp.slice_id}",
                depth=QUEUE_PAGES,
            )
            with closing(pages):
                for page in pages:
                    if shared.halt.is_set():
                        return
                    self._write(conn, page)
                    if shared.cfg.after_batch is not None:
                        shared.cfg.after_batch(self.cp.slice_id, self.batches)
        except psycopg.Error as exc:
            raise shared.fail(target_error(exc, shared.item, shared.target)) from None
        except PgConsolidateError as exc:
            raise shared.fail(exc) from None
        except BaseException:
            shared.halt.set()  # an interruption (or a test hook's injected crash) stops every slice
            raise
        finally:
            conn.close()

    def _write(self, conn: psycopg.Connection[Any], page: _Page) -> None:
        shared = self.shared
        encoder = shared.encoder
        rows: list[bytes] = []
        row_hits: list[dict[str, Any]] = []
        rejected: list[tuple[dict[str, Any], str, str]] = []
        by_id: dict[str, int] = {}
        for hit in page.hits:
            doc_id = str(hit.get("_id"))
            try:
                data = encoder.encode(doc_id, hit.get("_source") or {})
            except Reject as rej:
                self._reject(hit, rej.field, str(rej), rejected)
                continue
            if doc_id in by_id:  # the same _id in two indices of a family: the last one wins
                rows[by_id[doc_id]] = data
                row_hits[by_id[doc_id]] = hit
                continue
            by_id[doc_id] = len(rows)
            rows.append(data)
            row_hits.append(hit)
        written = 0
        while True:
            # Reject lines go out before the commit: a crash may repeat a line on resume, never lose one.
            shared.rejects.write(rejected[written:])
            written = len(rejected)
            try:
                self._commit(conn, page, rows, row_hits, rejected)
                break
            except pg_errors.UniqueViolation:
                if self.upsert:
                    raise
                # Rows already there (an earlier run, or a family's shared _id): replace by id from now on.
                self.upsert = True
                shared.fell_back = True
            except (pg_errors.DataError, pg_errors.IntegrityError) as exc:
                index = self._failed_row(exc)
                if index is None:
                    message = redact_text(exc.diag.message_primary or str(exc))
                    raise shared.fail(
                        DataError(
                            f"item {shared.item.id}: PostgreSQL rejected a batch of {shared.target.display} "
                            f"[{exc.sqlstate}]: {message}"
                        )
                    ) from None
                hit = row_hits.pop(index)
                rows.pop(index)
                _, column = copy_error_position(exc.diag.context or "", (shared.target.table,))
                reason = f"column {column or '?'}: PostgreSQL: {exc.diag.message_primary or exc.sqlstate}"
                self._reject(hit, column or "?", reason, rejected)
        self.copied += len(rows)
        self.batches += 1
        shared.advance(len(page.hits))

    def _reject(
        self, hit: dict[str, Any], field_name: str, reason: str, rejected: list[tuple[dict[str, Any], str, str]]
    ) -> None:
        """Record a reject; with on_error=stop, write it and stop the whole copy."""
        shared = self.shared
        if shared.cfg.on_error == "stop":
            shared.rejects.write([(hit, field_name, reason)])
            raise shared.fail(
                DataError(
                    f"item {shared.item.id}: document {hit.get('_id')!r} (index {hit.get('_index')}) does not fit: "
                    f"{reason}; written to {shared.rejects.dat} / {shared.rejects.log.name}",
                    hint="fix the document or the column type in the plan, or rerun with --on-error continue "
                    "(rejected documents then go to the reject files and the copy goes on)",
                )
            )
        rejected.append((hit, field_name, reason))

    def _failed_row(self, exc: psycopg.Error) -> int | None:
        line, _ = copy_error_position(exc.diag.context or "", (self.shared.target.table,))
        return None if line is None else line - 1

    def _commit(
        self,
        conn: psycopg.Connection[Any],
        page: _Page,
        rows: Sequence[bytes],
        row_hits: Sequence[dict[str, Any]],
        rejected: Sequence[tuple[dict[str, Any], str, str]],
    ) -> None:
        shared = self.shared
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")  # a lost commit loses its checkpoint too
            if rows:
                if self.upsert:
                    cur.execute(self.delete_stmt, ([str(h.get("_id")) for h in row_hits],))
                with cur.copy(self.copy_stmt) as cp:
                    cp.write(COPY_HEADER + b"".join(rows) + COPY_TRAILER)
            state.record_es_rejects(
                conn,
                shared.item.id,
                shared.target.display,
                [state.EsReject(str(h.get("_index")), str(h.get("_id")), f, r) for h, f, r in rejected],
            )
            state.save_es_slice(
                conn,
                shared.item.id,
                shared.target.display,
                self.cp.slice_id,
                pit_id=page.pit_id,
                search_after=page.last_sort,
                docs_added=len(rows),
                rejected_added=len(rejected),
                done=page.last,
            )
