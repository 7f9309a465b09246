"""The parity engine: does PostgreSQL hold what Redis holds?

Per plan item:

* **counts** - source: every key of the item (a full SCAN through the same
  :func:`~pgconsolidate.sources.redis.iter_key_batches` the copy uses); target: rows that have not
  expired (``expires_at IS NULL OR expires_at > now()``), since expired keys are gone in Redis too;
* **sampled dual reads** (default) - a seeded reservoir sample of the source keys, taken during
  that SCAN, is read from both sides and compared in canonical form (the mapping normalises JSON
  key order, numeric text, bytes vs text); a seeded sample of target rows is checked to still exist
  in Redis (``extra``);
* **full** - every source key is compared batch by batch, and every live target key is checked
  with pipelined ``TYPE`` in Redis; memory stays bounded by one batch. When the mapping has a
  binary ``copy_encoder`` (all built-in ones do), each batch is COPYed into a session temp table
  shaped like the target and PostgreSQL itself finds the keys that may differ (jsonb and bigint
  equality, expiries within the tolerance), in one statement; only those few go through the
  canonical Python comparison, so the kinds, counts and examples are those of the Python path.
  A batch the encoder or the server rejects (e.g. a value that is no longer valid JSON) is
  compared in Python instead: bad source data is reported, never a crash.

Mismatch kinds: ``missing`` (in Redis, not in PostgreSQL), ``extra`` (in PostgreSQL, gone from
Redis), ``type`` (the two sides hold different kinds of value, e.g. the Redis key changed type),
``value`` and ``ttl`` (expiries differ by more than the item's tolerance, or only one side has one).
Examples name keys; values are ``<redacted>`` unless ``show_values``.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

import psycopg
import redis
from psycopg import errors as pg_errors
from psycopg import sql

from pgconsolidate import models
from pgconsolidate.config import redact_text
from pgconsolidate.errors import PgConsolidateError, SourceError, TargetError, UsageError
from pgconsolidate.execute.copy import copy_encoder_for, prefetched
from pgconsolidate.mappings import get_mapping
from pgconsolidate.mappings._common import COPY_HEADER, COPY_TRAILER
from pgconsolidate.mappings._members import MembersMapping, is_members_mapping
from pgconsolidate.mappings.base import Canonical, Mapping, SourceRecord
from pgconsolidate.models_es import EsSource
from pgconsolidate.progress import NullProgress, ProgressSink
from pgconsolidate.sources.redis import KeyBatch, iter_key_batches, key_to_text
from pgconsolidate.sources.resp import per_key_commands, round_trip

MISMATCH_KINDS: tuple[models.MismatchKind, ...] = ("missing", "extra", "type", "value", "ttl")
REDACTED_VALUE = "<redacted>"
FLOAT_REL_TOLERANCE = 1e-9
"""Relative tolerance for floats: PostgreSQL float8 round trips are exact, text renderings may not be."""
_VALUE_PREVIEW = 200

SQL_COMPARE = True
"""Let PostgreSQL pre-filter full comparisons (see the module docstring); False forces the Python path."""

_TTL_SLACK_SECONDS = 0.002
"""The SQL filter flags expiries this much *inside* the tolerance too: the Python check floors the
target to milliseconds, so the filter must never miss a key that Python would report."""

_T = TypeVar("_T")

_TEXT_TYPES = frozenset({"text", "character varying", "character"})

# --------------------------------------------------------------------------- pure comparison helpers


def values_equal(a: Any, b: Any, *, rel_tol: float = FLOAT_REL_TOLERANCE) -> bool:
    """Structural equality of canonical values: dict key order ignored, floats within ``rel_tol``.

    ``bool`` never equals a number (JSON ``true`` is not ``1``); ``int`` and ``float`` compare by value.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k], rel_tol=rel_tol) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(values_equal(x, y, rel_tol=rel_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, bytes | bytearray | memoryview) and isinstance(b, bytes | bytearray | memoryview):
        return bytes(a) == bytes(b)
    return type(a) is type(b) and bool(a == b)


def ttl_mismatch(source_ms: int | None, target_ms: int | None, tolerance_seconds: float) -> str | None:
    """Why two absolute expiries (epoch ms) differ, or None when they agree within the tolerance."""
    if source_ms is None and target_ms is None:
        return None
    if source_ms is None:
        return "target has an expiry, source has none"
    if target_ms is None:
        return "source has an expiry, target has none"
    delta = abs(source_ms - target_ms) / 1000.0
    if delta > tolerance_seconds:
        return f"expiries differ by {delta:.1f}s (tolerance {tolerance_seconds:g}s)"
    return None


def compare_canonical(
    source: Canonical, target: Canonical, *, ttl_tolerance_seconds: float
) -> list[tuple[models.MismatchKind, str]]:
    """Mismatches between one key's canonical source and target forms (empty when they agree).

    A type difference makes the value comparison meaningless, so it is reported alone; a value
    and a TTL difference are both reported.
    """
    if source.type_name != target.type_name:
        return [("type", f"source is {source.type_name}, target is {target.type_name}")]
    out: list[tuple[models.MismatchKind, str]] = []
    if not values_equal(source.value, target.value):
        out.append(("value", "values differ"))
    why = ttl_mismatch(source.expires_at_ms, target.expires_at_ms, ttl_tolerance_seconds)
    if why is not None:
        out.append(("ttl", why))
    return out


class Reservoir(Generic[_T]):
    """Seeded uniform sample of ``size`` items from a stream of unknown length (Algorithm R).

    Used for Redis keys and for Elasticsearch (index, id) pairs alike.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seen = 0
        self.items: list[_T] = []
        self._rng = random.Random(seed)

    def add(self, values: Iterable[_T]) -> None:
        """Offer more stream items."""
        size, items, rng = self.size, self.items, self._rng
        if size <= 0:
            for _ in values:
                self.seen += 1
            return
        for value in values:
            self.seen += 1
            if len(items) < size:
                items.append(value)
            else:
                j = rng.randrange(self.seen)
                if j < size:
                    items[j] = value


def empty_counts() -> dict[str, int]:
    """Mismatch counts with every kind present at zero (reports list all kinds)."""
    return dict.fromkeys(MISMATCH_KINDS, 0)


def preview(value: Any, show_values: bool) -> str:
    """A value as shown in a report: ``<redacted>`` unless ``show_values`` (then a short repr)."""
    if not show_values:
        return REDACTED_VALUE
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else repr(value)
    return text if len(text) <= _VALUE_PREVIEW else text[: _VALUE_PREVIEW - 1] + "…"


# --------------------------------------------------------------------------- findings accumulator


@dataclass
class Findings:
    """Counts per kind and the first examples (shared by the Redis and Elasticsearch verifiers)."""

    show_values: bool
    max_examples: int
    counts: dict[str, int] = field(default_factory=empty_counts)
    examples: list[models.Mismatch] = field(default_factory=list)
    checked: int = 0

    def add(
        self, key: bytes | str, kind: models.MismatchKind, detail: str, source: Any = None, target: Any = None
    ) -> None:
        """Count one mismatch; keep it as an example while fewer than ``max_examples`` are kept."""
        self.counts[kind] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(
                models.Mismatch(
                    key=redact_text(key_to_text(key) if isinstance(key, bytes) else key),
                    kind=kind,
                    detail=detail,
                    source_value=None if source is None else preview(source, self.show_values),
                    target_value=None if target is None else preview(target, self.show_values),
                )
            )


# --------------------------------------------------------------------------- target access


@dataclass(frozen=True)
class _Table:
    """What verify needs to know about an item's target table."""

    ident: sql.Identifier
    display: str
    columns: list[str]
    key_is_bytea: bool
    has_expiry: bool
    types: tuple[str, ...] = ()
    """``format_type`` of each of ``columns``."""
    members: MembersMapping[Any] | None = None
    """The collection mapping when a key has many rows (then keys are aggregated and counted distinct)."""
    item: models.PlanItem | None = None

    @property
    def key_sql(self) -> sql.Composable:
        """The SQL expression of a row's Redis key."""
        if self.members is None or self.item is None:
            return sql.Identifier(self.columns[0])
        return self.members.key_sql(self.item)

    def pg_key(self, key: bytes) -> str | bytes | None:
        """The key column value for a Redis key (None: it cannot be stored in a text column)."""
        if self.key_is_bytea:
            return key
        try:
            text = key.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return None if "\x00" in text else text

    @staticmethod
    def redis_key(value: Any) -> bytes:
        """A key column value back as a Redis key."""
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)

    def live_filter(self, slack_seconds: float = 0.0) -> sql.Composable:
        """Rows not expired (``slack_seconds`` from now)."""
        if not self.has_expiry:
            return sql.SQL("TRUE")
        return sql.SQL("(expires_at IS NULL OR expires_at > now() + make_interval(secs => {}))").format(
            sql.Literal(float(slack_seconds))
        )


def _describe_table(conn: psycopg.Connection[Any], item: models.PlanItem, mapping: Mapping) -> _Table:
    assert item.target is not None
    schema, table = item.target.schema_name, item.target.table
    display = f"{schema}.{table}"
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
            (schema, table),
        )
        found = dict(cur.fetchall())
    if not found:
        raise TargetError(
            f"target table {display} of item {item.id} does not exist", hint="run pgconsolidate migrate first"
        )
    columns = list(mapping.columns(item))
    missing = [c for c in columns if c not in found]
    if missing:
        raise TargetError(f"target table {display} of item {item.id} lacks column(s) {', '.join(missing)}")
    members = mapping if is_members_mapping(mapping) else None
    assert members is None or isinstance(members, MembersMapping)
    return _Table(
        ident=sql.Identifier(schema, table),
        display=display,
        columns=columns,
        key_is_bytea=found[columns[0]] == "bytea",
        has_expiry="expires_at" in columns,
        types=tuple(str(found[c]) for c in columns),
        members=members,
        item=item,
    )


def _fetch_rows(
    conn: psycopg.Connection[Any], table: _Table, pg_keys: Sequence[str | bytes]
) -> dict[bytes, tuple[Any, ...]]:
    """Target rows for ``pg_keys`` (any expiry), by Redis key."""
    if not pg_keys:
        return {}
    if table.members is not None and table.item is not None:
        return table.members.target_rows(conn, table.item, table.ident, pg_keys)
    cols = sql.SQL(", ").join(map(sql.Identifier, table.columns))
    key = sql.Identifier(table.columns[0])
    query = sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(cols, table.ident, key)
    with conn.cursor() as cur:
        cur.execute(query, (list(pg_keys),))
        return {table.redis_key(row[0]): row for row in cur}


def _count_live(conn: psycopg.Connection[Any], table: _Table) -> int:
    counted = sql.SQL("count(*)") if table.members is None else sql.SQL("count(DISTINCT {})").format(table.key_sql)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT {} FROM {} WHERE {}").format(counted, table.ident, table.live_filter()))
        row = cur.fetchone()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------- engine


def verify_failed(item: models.PlanItem, exc: psycopg.Error) -> TargetError:
    """The TargetError for a verify that PostgreSQL failed (first line of the error, redacted)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return TargetError(f"verify of item {item.id} failed on PostgreSQL: {redact_text(first)}")


def verify_plan(
    redis_client: redis.Redis | None,
    pg_conn: psycopg.Connection[Any],
    plan: models.Plan,
    *,
    sample: int | None = None,
    seed: int = 0,
    full: bool = False,
    show_values: bool = False,
    only: set[str] | None = None,
    progress: ProgressSink | None = None,
    es: Any = None,
    queries: list[dict[str, Any]] | None = None,
    min_recall: float | None = None,
) -> models.ParityReport:
    """Verify every migratable item of ``plan`` (or the ids in ``only``), by source.

    Elasticsearch items go through :func:`pgconsolidate.es.verify.verify_es_item` with ``es``,
    ``queries`` and ``min_recall`` (default 0.8); ``full`` reads every document there too (the
    sample becomes the index's document count).
    """
    report = models.ParityReport(plan=plan.generated_at, target=plan.target.url, seed=seed, full=full)
    for it in plan.migratable(only):
        if isinstance(it.source, EsSource):
            from pgconsolidate.es.verify import DEFAULT_MIN_RECALL, verify_es_item

            if es is None:
                raise UsageError(f"item {it.id} reads Elasticsearch: an Elasticsearch client is needed")
            parity = verify_es_item(
                es,
                pg_conn,
                it,
                sample=max(it.source.docs_count, 1) if full else sample,
                seed=seed,
                queries=queries,
                min_recall=DEFAULT_MIN_RECALL if min_recall is None else min_recall,
                show_values=show_values,
            )
        else:
            parity = verify_item(
                redis_client,  # type: ignore[arg-type]  # None only when no item reads Redis (never read then)
                pg_conn,
                it,
                sample=sample,
                seed=seed,
                full=full,
                show_values=show_values,
                progress=progress,
            )
        report.items.append(parity)
    return report


def verify_item(
    redis_client: redis.Redis,
    pg_conn: psycopg.Connection[Any],
    item: models.PlanItem,
    *,
    sample: int | None = None,
    seed: int = 0,
    full: bool = False,
    show_values: bool = False,
    max_examples: int = 20,
    progress: ProgressSink | None = None,
) -> models.ItemParity:
    """Compare one item's keys in Redis with its rows in PostgreSQL (see the module docstring).

    ``sample`` overrides ``item.verify.sample``; the same ``seed`` gives the same sample on an
    unchanged keyspace. Read-only on both sides.
    """
    if item.target is None:
        raise UsageError(f"item {item.id} has no target to verify")
    sink: ProgressSink = progress or NullProgress()
    started = time.perf_counter()
    mapping = get_mapping(item.target.mapping)
    if not isinstance(item.source, models.RedisSource) and getattr(mapping, "copies_data", True):
        raise UsageError(f"item {item.id} has no Redis source to verify")
    if not getattr(mapping, "copies_data", True):
        # DDL-only constructs (locks, pub/sub): nothing was copied, so there is nothing to compare.
        return models.ItemParity(
            item_id=item.id,
            table=f"{item.target.schema_name}.{item.target.table}",
            source_count=0,
            target_count=0,
            checked=0,
        )
    size = item.verify.sample if sample is None else sample
    assert isinstance(item.source, models.RedisSource)
    findings = Findings(show_values=show_values, max_examples=max_examples)
    try:
        table = _describe_table(pg_conn, item, mapping)
        verifier = _Verifier(redis_client, pg_conn, item, mapping, table, findings)
        in_sql = _SqlComparer.start(verifier) if full and SQL_COMPARE else None
        reservoir: Reservoir[bytes] = Reservoir(0 if full else size, seed)
        source_count = 0
        sink.start(item.id, item.source.estimated_keys or None)
        if in_sql is not None:
            # Redis reads (SCAN + values) run a batch or two ahead in a helper thread, overlapping
            # PostgreSQL's COPY and join of the previous batch.
            reads = prefetched(_read_ahead(verifier), f"pgc-verify-{item.id}", depth=2)
            with closing(reads) as batches:
                for scanned, live in batches:
                    source_count += scanned
                    in_sql.compare_live(live)
                    sink.advance(item.id, scanned)
            in_sql.close()
        for kb in _source_batches(redis_client, item) if in_sql is None else ():
            source_count += len(kb.keys)
            if full:
                verifier.compare_keys(kb.keys)
            else:
                reservoir.add(kb.keys)
            sink.advance(item.id, len(kb.keys))
        if not full:
            step = item.copy_options.batch_size
            for i in range(0, len(reservoir.items), step):
                verifier.compare_keys(reservoir.items[i : i + step])
        verifier.find_extras(None if full else size, seed)
        target_count = _count_live(pg_conn, table)
        sink.finish(item.id)
    except psycopg.Error as exc:
        raise verify_failed(item, exc) from None
    except redis.RedisError as exc:
        raise SourceError(f"verify of item {item.id} failed on Redis: {redact_text(str(exc))}") from None
    finally:
        if pg_conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            pg_conn.rollback()  # read-only work: never leave a snapshot open on the caller's connection
    return models.ItemParity(
        item_id=item.id,
        table=table.display,
        source_count=source_count,
        target_count=target_count,
        checked=findings.checked,
        full=full,
        mismatch_counts=findings.counts,
        mismatches=findings.examples,
        seconds=round(time.perf_counter() - started, 3),
    )


class _Verifier:
    """Dual reads for one item."""

    def __init__(
        self,
        client: redis.Redis,
        conn: psycopg.Connection[Any],
        item: models.PlanItem,
        mapping: Mapping,
        table: _Table,
        findings: Findings,
    ) -> None:
        self.client = client
        self.conn = conn
        self.item = item
        self.mapping = mapping
        self.table = table
        self.findings = findings
        self.tolerance = item.verify.ttl_tolerance_seconds
        assert isinstance(item.source, models.RedisSource)
        self.redis_type = item.source.redis_type.encode()

    def compare_keys(self, keys: Sequence[bytes]) -> None:
        """Read ``keys`` from both sides and record every difference."""
        if not keys:
            return
        self.compare_records(self.read_live(keys))

    def read_live(self, keys: Sequence[bytes]) -> list[SourceRecord]:
        """The source records of ``keys`` (each once, in first-seen order) that still exist."""
        keys = list(dict.fromkeys(keys))
        records = self.mapping.read(self.client, keys, self.item, int(time.time() * 1000))
        return [r for r in records if r is not None]

    def compare_records(self, live: Sequence[SourceRecord], rows: dict[bytes, tuple[Any, ...]] | None = None) -> None:
        """Compare source records with their target rows (fetched unless given) in canonical form."""
        if rows is None:
            if self.table.members is not None:
                pg_keys = self.table.members.pg_keys(self.item, [r.key for r in live])
            else:
                pg_keys = [k for k in (self.table.pg_key(r.key) for r in live) if k is not None]
            rows = _fetch_rows(self.conn, self.table, pg_keys)
        found = self.findings
        for rec in live:
            found.checked += 1
            row = rows.get(rec.key)
            if row is None:
                found.add(rec.key, "missing", "in Redis, not in PostgreSQL", source=rec.value)
                continue
            try:
                src = self.mapping.canonical_source(rec, self.item)
            except PgConsolidateError as exc:
                # The value no longer fits the planned column (e.g. a counter now holds text).
                found.add(rec.key, "type", exc.message, source=rec.value, target=row[1:])
                continue
            tgt = self.mapping.canonical_target(row, self.item)
            for kind, detail in compare_canonical(src, tgt, ttl_tolerance_seconds=self.tolerance):
                found.add(rec.key, kind, detail, source=src.value, target=tgt.value)

    def find_extras(self, size: int | None, seed: int) -> None:
        """Check live target keys (a seeded sample of ``size``, or all when None) still exist in Redis."""
        if size is not None and size <= 0:
            return
        key = self.table.key_sql
        # Rows about to expire may already be gone from Redis: leave them to the TTL check.
        # A NULL key (e.g. a pgmq message sent after cutover, with no redis_key header) is not Redis data.
        live = sql.SQL("{} AND {} IS NOT NULL").format(self.table.live_filter(self.tolerance), key)
        distinct = sql.SQL("DISTINCT ") if self.table.members is not None else sql.SQL("")
        if size is None:
            self._extras_streamed(sql.SQL("SELECT {}{} FROM {} WHERE {}").format(distinct, key, self.table.ident, live))
            return
        with self.conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(self.table.ident))
            row = cur.fetchone()
            total = int(row[0]) if row else 0
            sampling: sql.Composable = sql.SQL("")
            if total > 20 * size:
                # Avoid hashing every row of a big table: pre-sample ~4x what we need, repeatably.
                pct = min(100.0, 400.0 * size / total)
                sampling = sql.SQL(" TABLESAMPLE BERNOULLI ({}) REPEATABLE ({})").format(
                    sql.Literal(pct), sql.Literal(seed)
                )
            cur.execute(
                sql.SQL(
                    "SELECT k FROM (SELECT {}{} AS k FROM {}{} WHERE {}) s ORDER BY md5(k::text || %s) LIMIT %s"
                ).format(distinct, key, self.table.ident, sampling, live),
                (str(seed), size),
            )
            keys = [self.table.redis_key(r[0]) for r in cur.fetchall()]
        self._check_exist(keys)

    def _extras_streamed(self, query: sql.Composed) -> None:
        step = self.item.copy_options.batch_size
        with self.conn.transaction(), self.conn.cursor(name="pgconsolidate_verify_keys") as cur:
            cur.itersize = step
            cur.execute(query)
            while chunk := cur.fetchmany(step):
                self._check_exist([self.table.redis_key(r[0]) for r in chunk])

    def _check_exist(self, keys: list[bytes]) -> None:
        """One pipelined ``TYPE`` per key: gone -> extra; another type -> type mismatch."""
        if not keys:
            return
        # One pre-packed write and a plain reply read (sources.resp): redis-py's pipeline cost
        # ~18 us of Python per key, which made this the slowest half of a full verify (measured).
        kinds = round_trip(self.client, per_key_commands((b"TYPE",), keys), len(keys))
        for k, kind in zip(keys, kinds, strict=True):
            if isinstance(kind, Exception):
                raise SourceError(f"TYPE failed for key '{redact_text(key_to_text(k))}': {redact_text(str(kind))}")
            if isinstance(kind, str):
                kind = kind.encode()
            if kind == b"none":
                self.findings.add(k, "extra", "in PostgreSQL, not in Redis")
            elif kind != self.redis_type:
                self.findings.add(k, "type", f"Redis key is now a {kind.decode()}, expected {self.redis_type.decode()}")


def _source_batches(client: redis.Redis, item: models.PlanItem) -> Iterator[KeyBatch]:
    """The item's keys in SCAN batches, as the copy engine reads them."""
    assert isinstance(item.source, models.RedisSource)
    return iter_key_batches(
        client, item.source, batch_size=item.copy_options.batch_size, count=item.copy_options.scan_count
    )


def _record_key(record: SourceRecord) -> bytes:
    return record.key


def _read_ahead(verifier: _Verifier) -> Iterator[tuple[int, list[SourceRecord]]]:
    """``(keys scanned, live source records)`` per SCAN batch (runs in the read-ahead thread)."""
    for kb in _source_batches(verifier.client, verifier.item):
        yield len(kb.keys), verifier.read_live(kb.keys) if kb.keys else []


class _SqlComparer:
    """Full comparison with PostgreSQL as the filter: COPY each source batch into a temp table, then
    one join returns the keys that may differ; only those are compared in canonical form.

    The filter never misses a difference the canonical comparison would report (PostgreSQL's
    equality on identical bytes/jsonb/bigint implies equal canonical forms; expiries get a little
    slack), and any key it flags is re-judged in Python, so results equal the Python path's.
    """

    def __init__(self, verifier: _Verifier, encode: Callable[[SourceRecord], bytes]) -> None:
        self.verifier = verifier
        self.encode = encode
        self.conn = verifier.conn
        table = verifier.table
        digest = hashlib.sha1(table.display.encode()).hexdigest()[:16]
        # Qualified with pg_temp: never touches a regular table that happens to share the name.
        self.staging = sql.Identifier("pg_temp", f"pgc_verify_{digest}")
        cols = sql.SQL(", ").join(map(sql.Identifier, table.columns))
        self.create = sql.SQL("CREATE TEMP TABLE {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA").format(
            self.staging, cols, table.ident
        )
        self.copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(self.staging, cols)
        self.diff = self._diff_sql(verifier.tolerance)

    @classmethod
    def start(cls, verifier: _Verifier) -> _SqlComparer | None:
        """A comparer with its staging table created, or None when this item needs the Python path."""
        conn = verifier.conn
        encode = copy_encoder_for(verifier.mapping, verifier.item, list(verifier.table.types), conn)
        if encode is None:
            return None
        # Each batch is its own transaction so ON COMMIT DELETE ROWS empties the staging table.
        # verify is read-only and rolls back whatever it leaves open, so this only ends our own reads.
        comparer = cls(verifier, encode)
        comparer.settle()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(comparer.staging))
            # CREATE TABLE AS: exactly the target's column types and collations, but none of its
            # defaults (a serial would advance the target's sequence), constraints or indexes.
            cur.execute(comparer.create)
        return comparer

    def _diff_sql(self, tolerance: float) -> sql.Composed:
        table = self.verifier.table
        key = sql.Identifier(table.columns[0])
        picked = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in table.columns)
        differs: list[sql.Composable] = [sql.SQL("t.{} IS NULL").format(key)]
        for name, type_name in zip(table.columns[1:], table.types[1:], strict=True):
            col = sql.Identifier(name)
            if name == "expires_at":
                # Plain timestamp comparisons (numeric epoch arithmetic costs more per row).
                slack = sql.Literal(timedelta(seconds=tolerance - _TTL_SLACK_SECONDS))
                differs.append(
                    sql.SQL("(t.{c} IS NULL) <> (s.{c} IS NULL) OR t.{c} > s.{c} + {d} OR t.{c} < s.{c} - {d}").format(
                        c=col, d=slack
                    )
                )
            elif type_name in _TEXT_TYPES:
                # Byte equality, as in Python, even under a non-deterministic column collation.
                differs.append(sql.SQL('t.{c} COLLATE "C" IS DISTINCT FROM s.{c} COLLATE "C"').format(c=col))
            else:
                differs.append(sql.SQL("t.{c} IS DISTINCT FROM s.{c}").format(c=col))
        return sql.SQL("SELECT s.{}, {} FROM {} s LEFT JOIN {} t ON t.{} = s.{} WHERE {}").format(
            key, picked, self.staging, table.ident, key, key, sql.SQL(" OR ").join(differs)
        )

    def compare_keys(self, keys: Sequence[bytes]) -> None:
        """Read and compare one SCAN batch."""
        if keys:
            self.compare_live(self.verifier.read_live(keys))

    def compare_live(self, live: list[SourceRecord]) -> None:
        """Compare one batch of live source records; a batch PostgreSQL or the encoder rejects goes the Python way."""
        verifier = self.verifier
        if not live:
            return
        try:
            # In key order: the join's primary-key probes then walk the index in order (~25% faster).
            ordered = sorted(live, key=_record_key)
            payload = b"".join([COPY_HEADER, *map(self.encode, ordered), COPY_TRAILER])
        except (PgConsolidateError, ValueError, OverflowError, struct.error):
            verifier.compare_records(live)  # a source value no longer fits the column: report it
            return
        self.settle()
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                with cur.copy(self.copy) as cp:
                    cp.write(payload)
                # The staging table has no statistics, so the planner guesses a hash join over
                # the whole target for every batch (measured: ~7x slower at 500k rows); one
                # primary-key probe per staged row keeps each batch's cost independent of the
                # table's size. Without a usable index the planner still falls back to a hash join.
                cur.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
                cur.execute(self.diff)
                flagged = cur.fetchall()
        except pg_errors.DataError:
            # Class 22: e.g. a value that is no longer valid JSON, or a key that is not UTF-8.
            verifier.compare_records(live)
            return
        redis_key = verifier.table.redis_key
        rows = {redis_key(r[0]): r[1:] for r in flagged}
        suspects = [rec for rec in live if rec.key in rows]
        verifier.findings.checked += len(live) - len(suspects)
        verifier.compare_records(suspects, {k: row for k, row in rows.items() if row[0] is not None})

    def settle(self) -> None:
        """End the read transaction a Python-path batch left open, so ours really commits (and empties staging)."""
        if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            self.conn.rollback()

    def close(self) -> None:
        """Drop the staging table (temp tables would go with the session anyway)."""
        self.settle()
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self.staging))
