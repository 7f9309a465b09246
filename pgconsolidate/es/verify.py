"""Parity of an Elasticsearch item: counts, sampled dual reads by ``_id``, and query parity.

Per ``es_index`` plan item:

* **counts** - ``_count`` over the item's indices vs ``count(*)`` of the table; documents the copy
  rejected (``pgconsolidate.es_rejects``) are expected to be absent, and reported as ``rejected``;
* **sampled dual reads** - a seeded reservoir sample of ``(index, _id)`` pairs, taken during a
  point-in-time scan of ids only (``_shard_doc`` order: the same seed picks the same documents of
  an unchanged index), is read from both sides and compared field by field in canonical form:
  dates as UTC epoch milliseconds (Elasticsearch renders them itself, via ``fields`` with
  ``format: epoch_millis``, so the copy's date parser is checked, not trusted), numbers by value
  (float tolerance; ``real`` columns at float4 precision), arrays in order, objects with key
  order ignored, vectors element-wise within float tolerance, IPs normalised, unmapped fields
  against the ``_extra`` column. A seeded sample of table rows is checked to still exist in
  Elasticsearch (``extra``). Mismatch details name the field path and column;
* **query parity** - each query of a set (the user's NDJSON file, else generated from the index:
  top terms of a keyword field, and words of sampled documents' text fields as ``match`` queries)
  runs on Elasticsearch (top 50 ids, ``took``) and, translated by :mod:`pgconsolidate.translate`,
  on PostgreSQL (top 50 ids, wall time); per query: hit-count delta, overlap@10, recall@10 (the
  ES top-10 ids found in the PostgreSQL top 50); per side p50/p95 latency. The mean recall@10 of
  the fully translated queries is gated by ``min_recall``: below it the item is not ok (the CLI
  exits 3). A query the translator cannot fully translate is reported with its unsupported
  clauses and excluded from the gate - never silently counted.
"""

from __future__ import annotations

import ipaddress
import json
import math
import random
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import elastic_transport
import psycopg
from elasticsearch import ApiError, Elasticsearch
from psycopg import sql

from pgconsolidate import models
from pgconsolidate.config import redact_text, redact_url
from pgconsolidate.errors import PgConsolidateError, TargetError, UsageError
from pgconsolidate.es.client import source_error
from pgconsolidate.es.convert import (
    COLUMN_TYPES_SQL,
    MISSING,
    PgColumnType,
    column_types_from_rows,
    coverage_trie,
    geo_point,
    lookup,
    parse_date_ms,
    remainder,
    split_path,
)
from pgconsolidate.execute import state
from pgconsolidate.models_es import EsColumn, EsIndexOptions, EsSource
from pgconsolidate.translate import FieldMap, translate
from pgconsolidate.verify import Findings, Reservoir, values_equal, verify_failed

DEFAULT_MIN_RECALL = 0.8
TOP = 10
DEPTH = 50
GENERATED_QUERIES = 10
FLOAT4_REL_TOLERANCE = 1e-6
HALF_TOLERANCE = 2e-3
_CHUNK = 500
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WORD = re.compile(r"[A-Za-z]{5,}")
_DATE_TYPES = frozenset({"timestamptz", "timestamp", "date"})
_INT_TYPES = frozenset({"int8", "int4", "int2"})
_FLOAT_TYPES = frozenset({"float8", "float4", "numeric"})
_TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "citext"})


# --------------------------------------------------------------------------- pure parity math


def overlap_at(es_ids: Sequence[str], pg_ids: Sequence[str], k: int = TOP) -> float | None:
    """|ES top k ∩ PG top k| / |ES top k| (None when Elasticsearch returned nothing)."""
    top = list(es_ids[:k])
    if not top:
        return None
    return len(set(top) & set(pg_ids[:k])) / len(top)


def recall_at(
    es_ids: Sequence[str],
    pg_ids: Sequence[str],
    k: int = TOP,
    depth: int = DEPTH,
    *,
    ambiguous: frozenset[str] = frozenset(),
) -> float | None:
    """Share of the ES top-k ids found in the PostgreSQL top ``depth``.

    ``ambiguous`` ids (see :func:`tied_beyond_depth`) are left out of the count: Elasticsearch's
    choice among equally scored hits is arbitrary, so no ranking could be expected to match it.
    None when nothing is left to judge (ES returned nothing, or only arbitrary picks).
    """
    top = [i for i in es_ids[:k] if i not in ambiguous]
    if not top:
        return None
    return len(set(top) & set(pg_ids[:depth])) / len(top)


def tied_beyond_depth(
    es_ids: Sequence[str], es_scores: Sequence[float | None], total: int, k: int = TOP, depth: int = DEPTH
) -> frozenset[str]:
    """ES top-k ids whose score ties with the hit at rank ``depth`` when more hits exist than that.

    Such an id is one arbitrary pick among a tie group that crosses the depth PostgreSQL is read
    to (e.g. a term filter where every hit scores the same): ES orders ties by its internal doc
    ids, PostgreSQL by ``_id``, and neither is wrong.
    """
    if total <= depth or len(es_scores) < depth or es_scores[depth - 1] is None:
        return frozenset()
    boundary = es_scores[depth - 1]
    return frozenset(i for i, score in zip(es_ids[:k], es_scores[:k], strict=False) if score == boundary)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks; None when empty."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """``{"p50": .., "p95": ..}`` in ms, rounded (empty when there are no values)."""
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return {} if p50 is None or p95 is None else {"p50": round(p50, 2), "p95": round(p95, 2)}


def mean_recall(rows: Sequence[models.QueryParity]) -> float | None:
    """Mean recall@10 of the gated queries (fully translated, ran on both sides), or None."""
    gated = [q.recall_at_10 for q in rows if q.gated and q.recall_at_10 is not None]
    return sum(gated) / len(gated) if gated else None


def load_queries(path: Path) -> list[dict[str, Any]]:
    """An NDJSON file of search bodies (``{"query": ...}``; a bare query clause is wrapped).

    Blank lines and lines starting with ``#`` or ``//`` are skipped; a line that is not a JSON
    object is a UsageError naming the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the query file {path}: {exc.strerror or exc}") from None
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "//")):
            continue
        try:
            body = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: not JSON: {exc.msg}") from None
        if not isinstance(body, dict):
            raise UsageError(f"{path}:{n}: a search body must be a JSON object")
        out.append(normalise_query(body))
    return out


def normalise_query(body: dict[str, Any]) -> dict[str, Any]:
    """A search body; a bare query clause (``{"match": ...}``) becomes ``{"query": {...}}``."""
    known = {"query", "knn", "sort", "size", "from", "aggs", "aggregations", "_source", "post_filter"}
    if body and not (set(body) & known) and len(body) == 1:
        return {"query": body}
    return body


# --------------------------------------------------------------------------- canonical values


@dataclass(frozen=True, slots=True)
class _Col:
    spec: EsColumn
    pg: PgColumnType
    parts: tuple[str, ...]

    @property
    def base(self) -> str:
        return self.pg.element or self.pg.typname


class _Incomparable(Exception):
    """A source value with no canonical form (the copy would have rejected it)."""


def _flat(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return [] if value is None else [value]
    out: list[Any] = []
    for v in value:
        out.extend(_flat(v) if isinstance(v, list) else ([] if v is None else [v]))
    return out


def _scalar(base: str, value: Any) -> Any:
    """Canonical form of one source scalar for a column base type."""
    if base in _TEXT_TYPES:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return json.dumps(value)
        return str(value)
    if base in _INT_TYPES | _FLOAT_TYPES:
        if isinstance(value, bool):
            raise _Incomparable("boolean")
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            raise _Incomparable("not a number") from None
        if base in _INT_TYPES and isinstance(number, float):
            return int(number)
        return number
    if base == "bool":
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False, "": False}.get(str(value), value)
    if base == "inet":
        try:
            return str(ipaddress.ip_address(str(value).strip()))
        except ValueError:
            raise _Incomparable("not an IP") from None
    if base in _DATE_TYPES:
        try:
            ms = parse_date_ms(value)
        except ValueError:
            raise _Incomparable("not a date") from None
        return ms // 86_400_000 if base == "date" else ms
    return value


def es_canonical(col: _Col, source: Mapping[str, Any], rendered_dates: Mapping[str, list[Any]]) -> Any:
    """The canonical value a document should have in ``col`` (None: NULL)."""
    raw = lookup(source, col.parts)
    if raw is MISSING or raw is None:
        return None
    base = col.base
    if base in ("jsonb", "json"):
        return raw
    if base in ("vector", "halfvec"):
        return [float(x) for x in raw] if isinstance(raw, list) else raw
    if base in ("point", "geography", "geometry"):
        try:
            return geo_point(raw)
        except ValueError:
            raise _Incomparable("not a geo_point") from None
    values = _flat(raw)
    if base in _DATE_TYPES and col.spec.from_field is None:
        # Elasticsearch's own reading of the date (format epoch_millis), when it returned one.
        rendered = rendered_dates.get(col.spec.field)
        if rendered and len(rendered) == len(values):
            values = [int(float(v)) for v in rendered]
    canon = [_scalar(base, v) for v in values]
    if not canon:
        return None
    if col.pg.element is not None:
        return canon
    return canon[0] if len(canon) == 1 else canon


def pg_canonical(col: _Col, value: Any) -> Any:
    """The canonical form of a value read back from PostgreSQL (psycopg's Python types)."""
    if value is None:
        return None
    base = col.base
    if isinstance(value, list):
        if not value:
            return None
        return [pg_canonical(_Col(col.spec, PgColumnType(col.pg.name, typname=base), col.parts), v) for v in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - _UNIX_EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    if base in ("vector", "halfvec") and isinstance(value, str):
        return [float(x) for x in json.loads(value)]
    if base == "point" and isinstance(value, str):
        x, y = value.strip("()").split(",")
        return float(x), float(y)
    if base == "inet":
        return str(value).split("/")[0]
    if base == "numeric":
        return float(value)
    return value


def canonical_equal(base: str, a: Any, b: Any) -> bool:
    """Equality of canonical values with the column type's float tolerance."""
    if a is None or b is None:
        return a is None and b is None
    if base == "float4":
        tol = FLOAT4_REL_TOLERANCE
    elif base == "halfvec":
        return _close_lists(a, b, HALF_TOLERANCE)
    elif base == "vector":
        return _close_lists(a, b, FLOAT4_REL_TOLERANCE)
    elif base in ("point", "geography", "geometry"):
        return _close_lists(list(a), list(b), 1e-9)
    else:
        tol = 1e-9
    if base in _INT_TYPES | _FLOAT_TYPES and isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=0.0)
    if isinstance(a, list) and isinstance(b, list) and base in _FLOAT_TYPES:
        return len(a) == len(b) and all(
            math.isclose(float(x), float(y), rel_tol=tol) for x, y in zip(a, b, strict=True)
        )
    return values_equal(a, b, rel_tol=tol)


def _close_lists(a: Any, b: Any, tol: float) -> bool:
    if not (isinstance(a, list | tuple) and isinstance(b, list | tuple)) or len(a) != len(b):
        return False
    return all(math.isclose(float(x), float(y), rel_tol=tol, abs_tol=tol) for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- findings


# --------------------------------------------------------------------------- engine


def verify_es_item(
    es: Elasticsearch,
    pg_conn: psycopg.Connection[Any],
    item: models.PlanItem,
    *,
    sample: int | None = None,
    seed: int = 0,
    queries: list[dict[str, Any]] | None = None,
    min_recall: float | None = DEFAULT_MIN_RECALL,
    show_values: bool = False,
    max_examples: int = 20,
    fieldmap: FieldMap | None = None,
) -> models.ItemParity:
    """Compare one ``es_index`` item on both sides (see the module docstring). Read-only on both sides.

    ``sample`` overrides ``item.verify.sample`` (0: counts and queries only). ``queries`` None
    generates :data:`GENERATED_QUERIES` queries from the index; ``[]`` skips query parity.
    ``min_recall`` None reports recall without gating. ``fieldmap`` overrides the translator's
    field map (default: :func:`pgconsolidate.es.fieldmap.fieldmap_for`).
    """
    if item.target is None or not isinstance(item.source, EsSource):
        raise UsageError(f"item {item.id} is not an Elasticsearch item with a target")
    started = time.perf_counter()
    options = EsIndexOptions.model_validate(item.target.options)
    display = f"{item.target.schema_name}.{item.target.table}"
    size = item.verify.sample if sample is None else sample
    nodes = [str(n.base_url) for n in es.transport.node_pool.all()]
    shown = redact_url(nodes[0]) if nodes else "Elasticsearch"
    findings = Findings(show_values=show_values, max_examples=max_examples)
    try:
        v = _Verifier(es, pg_conn, item, options, display, shown, findings)
        source_count, target_count, rejected = v.counts()
        if size > 0:
            picked = v.sample_ids(size, seed)
            v.compare(picked)
            v.find_extras(size, seed)
        rows: list[models.QueryParity] = []
        if queries is None:
            queries = v.generate_queries(seed)
        if queries:
            if fieldmap is None:
                from pgconsolidate.es.fieldmap import fieldmap_for

                fieldmap = fieldmap_for(item)
            rows = [v.query_parity(f"q{i + 1}", q, fieldmap) for i, q in enumerate(queries)]
    except psycopg.Error as exc:
        raise verify_failed(item, exc) from None
    except (ApiError, elastic_transport.TransportError) as exc:
        raise source_error(exc, shown, f"verifying item {item.id}") from None
    finally:
        if pg_conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            pg_conn.rollback()
    return models.ItemParity(
        item_id=item.id,
        table=display,
        source_count=source_count,
        target_count=target_count,
        checked=findings.checked,
        mismatch_counts=findings.counts,
        mismatches=findings.examples,
        seconds=round(time.perf_counter() - started, 3),
        rejected=rejected,
        queries=rows,
        min_recall=min_recall if rows else None,
        mean_recall_at_10=mean_recall(rows),
        es_latency_ms=latency_summary([q.es_ms for q in rows if q.es_ms is not None]),
        pg_latency_ms=latency_summary([q.pg_ms for q in rows if q.pg_ms is not None]),
    )


class _Verifier:
    def __init__(
        self,
        es: Elasticsearch,
        conn: psycopg.Connection[Any],
        item: models.PlanItem,
        options: EsIndexOptions,
        display: str,
        shown: str,
        findings: Findings,
    ) -> None:
        assert isinstance(item.source, EsSource) and item.target is not None
        self.es = es
        self.conn = conn
        self.item = item
        self.options = options
        self.display = display
        self.shown = shown
        self.findings = findings
        self.indices = list(item.source.indices)
        self.ident = sql.Identifier(item.target.schema_name, item.target.table)
        with conn.cursor() as cur:
            cur.execute(COLUMN_TYPES_SQL, (item.target.schema_name, item.target.table))
            table = column_types_from_rows(cur.fetchall())
        if not table:
            raise TargetError(f"target table {display} of item {item.id} does not exist", hint="run migrate first")
        self.cols: list[_Col] = []
        covered: list[str] = []
        for c in options.columns:
            pg = table.get(c.column)
            if pg is None or pg.generated or c.copy_from:
                continue
            covered += [c.field] + ([c.from_field] if c.from_field else [])
            self.cols.append(_Col(c, pg, split_path(c.from_field or c.field)))
        self.trie = coverage_trie(covered)
        self.extra = options.extra_column if options.extra_column in table else None
        self.date_fields = sorted({c.spec.field for c in self.cols if c.base in _DATE_TYPES and not c.spec.from_field})
        info = getattr(es, "server_info", None)
        major = int(str(getattr(info, "version", "9")).split(".")[0] or 9)
        self.source: Any = {"exclude_vectors": False} if major >= 9 else True
        self.rejected: set[tuple[str, str]] = set()
        self.rejected_ids: set[str] = set()

    # ------------------------------------------------------------------ counts

    def counts(self) -> tuple[int, int, int]:
        es_count = int(self.es.count(index=self.indices)["count"])
        with self.conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(self.ident))
            row = cur.fetchone()
        pg_count = int(row[0]) if row else 0
        rejects = state.load_es_rejects(self.conn, self.item.id, self.display)
        self.rejected = {(r.doc_index, r.doc_id) for r in rejects}
        self.rejected_ids = {r.doc_id for r in rejects}
        expected = es_count - len(rejects)
        if pg_count != expected:
            kind: models.MismatchKind = "missing" if pg_count < expected else "extra"
            self.findings.add(
                "(count)",
                kind,
                f"PostgreSQL holds {pg_count:,} rows; Elasticsearch {es_count:,} documents"
                + (f" ({len(rejects):,} rejected by the copy)" if rejects else ""),
            )
        return es_count, pg_count, len(rejects)

    # ------------------------------------------------------------------ sampled dual reads

    def sample_ids(self, size: int, seed: int) -> list[tuple[str, str]]:
        """A seeded sample of (index, id) from a PIT scan of ids only."""
        res: Reservoir[tuple[str, str]] = Reservoir(size, seed)
        pit = self.es.open_point_in_time(index=self.indices, keep_alive="2m")["id"]
        try:
            after: list[Any] | None = None
            while True:
                params: dict[str, Any] = {
                    "pit": {"id": pit, "keep_alive": "2m"},
                    "sort": [{"_shard_doc": "asc"}],
                    "size": 10_000,
                    "source": False,
                    "track_total_hits": False,
                    "filter_path": "pit_id,hits.hits._id,hits.hits._index,hits.hits.sort",
                }
                if after is not None:
                    params["search_after"] = after
                body = self.es.search(**params)
                pit = body.get("pit_id", pit)
                hits = (body.get("hits") or {}).get("hits") or []
                res.add((str(h["_index"]), str(h["_id"])) for h in hits)
                if len(hits) < 10_000:
                    break
                after = hits[-1]["sort"]
        finally:
            with suppress(ApiError, elastic_transport.TransportError):  # it expires by itself
                self.es.close_point_in_time(id=pit)
        return res.items

    def _es_docs(self, ids: Sequence[str], *, source: bool = True) -> dict[tuple[str, str], dict[str, Any]]:
        params: dict[str, Any] = {
            "index": self.indices,
            "query": {"ids": {"values": list(ids)}},
            "size": len(ids) * max(1, len(self.indices)),
            "source": self.source if source else False,
        }
        if source and self.date_fields:
            params["fields"] = [{"field": f, "format": "epoch_millis"} for f in self.date_fields]
        body = self.es.search(**params)
        return {(str(h["_index"]), str(h["_id"])): h for h in body["hits"]["hits"]}

    def _pg_rows(self, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        cols = [self.options.id_column] + [c.spec.column for c in self.cols] + ([self.extra] if self.extra else [])
        query = sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(
            sql.SQL(", ").join(map(sql.Identifier, cols)), self.ident, sql.Identifier(self.options.id_column)
        )
        with self.conn.cursor() as cur:
            cur.execute(query, (list(ids),))
            return {str(r[0]): r for r in cur.fetchall()}

    def compare(self, picked: Sequence[tuple[str, str]]) -> None:
        found = self.findings
        for i in range(0, len(picked), _CHUNK):
            chunk = picked[i : i + _CHUNK]
            ids = sorted({doc_id for _, doc_id in chunk})
            docs = self._es_docs(ids)
            rows = self._pg_rows(ids)
            for index, doc_id in chunk:
                hit = docs.get((index, doc_id))
                if hit is None:
                    continue  # deleted since the scan
                if (index, doc_id) in self.rejected:
                    continue  # the copy rejected it, and said so
                found.checked += 1
                row = rows.get(doc_id)
                key = f"{index}/{doc_id}"
                if row is None:
                    found.add(key, "missing", "document absent from PostgreSQL")
                    continue
                self._compare_doc(key, hit, row)

    def _compare_doc(self, key: str, hit: Mapping[str, Any], row: Sequence[Any]) -> None:
        source = hit.get("_source") or {}
        rendered = hit.get("fields") or {}
        for n, col in enumerate(self.cols, start=1):
            try:
                want = es_canonical(col, source, rendered)
            except _Incomparable as exc:
                self.findings.add(key, "value", f"field {col.spec.field}: source value is {exc}; copy should reject it")
                continue
            got = pg_canonical(col, row[n])
            if not canonical_equal(col.base, want, got):
                self.findings.add(
                    key,
                    "value",
                    f"field {col.spec.field} (column {col.spec.column}): values differ",
                    source=want,
                    target=got,
                )
        if self.extra is not None:
            want_extra = remainder(source, self.trie) or None
            got_extra = row[len(self.cols) + 1] or None
            if not (want_extra is None and got_extra is None) and not values_equal(want_extra, got_extra):
                self.findings.add(
                    key, "value", f"unmapped fields (column {self.extra}): values differ", want_extra, got_extra
                )

    def find_extras(self, size: int, seed: int) -> None:
        """Rows whose document no longer exists in Elasticsearch (a seeded sample of the table)."""
        ident = sql.Identifier(self.options.id_column)
        query = sql.SQL("SELECT {} FROM {} ORDER BY md5({} || %s) LIMIT %s").format(ident, self.ident, ident)
        with self.conn.cursor() as cur:
            cur.execute(query, (str(seed), size))
            ids = [str(r[0]) for r in cur.fetchall()]
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            present = {doc_id for _, doc_id in self._es_docs(chunk, source=False)}
            for doc_id in chunk:
                if doc_id not in present:
                    self.findings.add(doc_id, "extra", "row has no document in Elasticsearch")

    # ------------------------------------------------------------------ query parity

    def generate_queries(self, seed: int, count: int = GENERATED_QUERIES) -> list[dict[str, Any]]:
        """Term queries on a keyword field's top terms + match queries on words of sampled documents."""
        out: list[dict[str, Any]] = []
        keywords = [c.spec for c in self.cols if c.spec.es_type == "keyword" and c.spec.index != "none"]
        keywords.sort(key=lambda c: not c.array)  # tag-like arrays have the most telling top terms
        keyword = keywords[0] if keywords else None
        if keyword is not None:
            body = self.es.search(
                index=self.indices,
                size=0,
                aggs={"top": {"terms": {"field": keyword.field, "size": 3}}},
            )
            for bucket in body["aggregations"]["top"]["buckets"]:
                out.append({"query": {"term": {keyword.field: bucket["key"]}}})
        text = [c.spec for c in self.cols if c.spec.es_type == "text" and c.spec.weight]
        text.sort(key=lambda c: c.weight or "D")
        if text:
            rng = random.Random(seed)
            body = self.es.search(
                index=self.indices,
                size=50,
                query={"function_score": {"random_score": {"seed": seed, "field": "_seq_no"}}},
                source={"includes": [c.field for c in text]},
            )
            words: list[tuple[str, str]] = []
            for hit in body["hits"]["hits"]:
                for c in text:
                    value = lookup(hit.get("_source") or {}, split_path(c.field))
                    if isinstance(value, str):
                        words += [(c.field, w.lower()) for w in _WORD.findall(value)[:20]]
            seen: set[tuple[str, str]] = set()
            rng.shuffle(words)
            for fld, word in words:
                if len(out) >= count:
                    break
                if (fld, word) not in seen:
                    seen.add((fld, word))
                    out.append({"query": {"match": {fld: word}}})
        return out[:count]

    def query_parity(self, name: str, query: dict[str, Any], fieldmap: FieldMap) -> models.QueryParity:
        body = {k: v for k, v in query.items() if k not in ("size", "from", "_source", "aggs", "aggregations")}
        label = f"{name} {_describe(query)}"
        row: dict[str, Any] = {"name": label, "query": query}
        try:
            tr = translate({**body, "size": DEPTH, "from": 0}, fieldmap)
        except PgConsolidateError as exc:
            return models.QueryParity(**row, error=f"translation failed: {exc.message}")
        row["unsupported"] = list(tr.unsupported)
        try:
            es_body = self.es.search(
                index=self.indices, body={**body, "size": DEPTH, "_source": False, "track_total_hits": True}
            )
        except ApiError as exc:
            status = exc.meta.status if exc.meta is not None else 0
            return models.QueryParity(**row, error=f"Elasticsearch answered HTTP {status}")
        es_ids = [str(h["_id"]) for h in es_body["hits"]["hits"]]
        es_scores = [h.get("_score") for h in es_body["hits"]["hits"]]
        row["es_hits"] = int(es_body["hits"]["total"]["value"])
        row["es_ms"] = float(es_body.get("took", 0))
        if tr.unsupported:
            return models.QueryParity(**row)
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                t0 = time.perf_counter()
                cur.execute(sql.SQL(tr.sql))  # sqlglot-built SQL with inlined literals, no params
                pg_rows = cur.fetchall()
                pg_ms = (time.perf_counter() - t0) * 1000
                names = [d.name for d in cur.description or []]
                cur.execute(sql.SQL(tr.count_sql))
                total = cur.fetchone()
        except psycopg.Error as exc:
            message = redact_text((exc.diag.message_primary or str(exc)).splitlines()[0])
            return models.QueryParity(**row, error=f"PostgreSQL failed: {message}")
        id_pos = names.index(fieldmap.id_column) if fieldmap.id_column in names else 0
        pg_ids = [str(r[id_pos]) for r in pg_rows]
        row["pg_hits"] = int(total[0]) if total else None
        row["pg_ms"] = round(pg_ms, 2)
        if row["pg_hits"] is not None:
            row["hit_delta"] = row["pg_hits"] - row["es_hits"]
        row["overlap_at_10"] = overlap_at(es_ids, pg_ids)
        if "_score" not in names and es_ids:
            # PostgreSQL does not rank this query (a filter: term, range, ...), so its top 50 is just
            # the first rows by _id, while Elasticsearch's order comes from per-index statistics:
            # ask instead whether PostgreSQL's result *contains* the ES top 10.
            found = self._members(body, fieldmap, es_ids[:TOP])
            if found is None:
                return models.QueryParity(**row, error="the membership query could not be translated")
            row["recall_at_10"] = len(found) / len(es_ids[:TOP])
            row["recall_basis"] = "membership"
            return models.QueryParity(**row)
        ambiguous = tied_beyond_depth(es_ids, es_scores, row["es_hits"])
        row["recall_at_10"] = recall_at(es_ids, pg_ids, ambiguous=ambiguous)
        if ambiguous:
            row["tied"] = len(ambiguous)
        return models.QueryParity(**row)

    def _members(self, body: dict[str, Any], fieldmap: FieldMap, ids: Sequence[str]) -> set[str] | None:
        """Which of ``ids`` the translated query matches in PostgreSQL (None: not translatable)."""
        query = body.get("query", {"match_all": {}})
        probe = {"query": {"bool": {"must": [query], "filter": [{"ids": {"values": list(ids)}}]}}, "size": len(ids)}
        tr = translate(probe, fieldmap)
        if tr.unsupported:
            return None
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.SQL(tr.sql))  # sqlglot-built SQL with inlined literals, no params
            names = [d.name for d in cur.description or []]
            pos = names.index(fieldmap.id_column) if fieldmap.id_column in names else 0
            return {str(r[pos]) for r in cur.fetchall()}


def _describe(query: Mapping[str, Any]) -> str:
    text = json.dumps(query.get("query", query), separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
