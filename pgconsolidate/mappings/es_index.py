"""``es_index``: an Elasticsearch index (or index family / data stream) -> one typed PostgreSQL table.

The table has ``_id text`` (the document id) as primary key, one typed column per planned
:class:`~pgconsolidate.models_es.EsColumn`, ``_extra jsonb`` for fields the mapping does not list,
and a ``tsvector`` column ``GENERATED ALWAYS AS (setweight(to_tsvector(cfg, coalesce(col, '')), 'A')
|| ...) STORED`` over the weighted text columns. Indexes: btree (keywords, the time field), GIN
(arrays, jsonb, the tsvector - or a pg_search BM25 index instead), pg_trgm GIN, pgvector HNSW with
the similarity's opclass, GiST for geo points (PostGIS geography, or ``ll_to_earth`` with
earthdistance). A time family is ``PARTITION BY RANGE (<time column>)`` with the partitions of
:func:`pgconsolidate.execute.partitioning.partition_statements`; aliases become views.

Documents are copied by :mod:`pgconsolidate.es.copy` and checked by the Elasticsearch verify, not
by the Redis engines: :meth:`EsIndex.read` and friends refuse to run. Everything that turns a plan
value into SQL goes through :func:`~pgconsolidate.mappings._common.ident` (names) or is a fixed
type/opclass from :data:`PG_TYPE` / :data:`OPCLASSES` (validated here, so a hand-edited plan
cannot smuggle SQL into the DDL); a view's translated filter is re-parsed and must be one expression.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any, ClassVar, NoReturn

import sqlglot
from pydantic import BaseModel
from sqlglot import exp
from sqlglot.errors import SqlglotError

from pgconsolidate.errors import PlanError
from pgconsolidate.execute import partitioning
from pgconsolidate.mappings import _common as c
from pgconsolidate.mappings.base import Canonical, SourceRecord
from pgconsolidate.models import PlanItem, TargetCaps
from pgconsolidate.models_es import EsColumn, EsIndexOptions

PG_TYPE = re.compile(
    r"^(text|bigint|integer|smallint|real|double precision|numeric\(\d+,\d+\)|timestamptz|boolean|inet|jsonb|point"
    r"|geography\(Point,4326\)|vector(\(\d+\))?|halfvec\(\d+\)|bit\(\d+\)|bit varying|real\[\])$"
)
"""Column types the planner emits (anything else in a plan file is refused)."""

OPCLASSES = frozenset(
    {
        "vector_cosine_ops", "vector_ip_ops", "vector_l2_ops", "halfvec_cosine_ops", "halfvec_ip_ops",
        "halfvec_l2_ops", "bit_hamming_ops", "gin_trgm_ops", "jsonb_path_ops",
    }
)  # fmt: skip
"""Operator classes the planner emits."""

_WEIGHTS = ("A", "B", "C", "D")
_INTERVALS = {"day": "1 day", "week": "1 week", "month": "1 month"}

# Without a probed target the explicit native partitions are rendered (like stream_table).
_NO_EXTENSIONS = TargetCaps(
    server_version="18.0", server_version_num=180000, database="", system_identifier="", fingerprint=""
)


def _pg_type(item: PlanItem, col: EsColumn) -> str:
    if not PG_TYPE.match(col.pg_type):
        raise PlanError(f"items[id={item.id}].target.options.columns[{col.field}].pg_type: unsupported {col.pg_type!r}")
    return col.pg_type + ("[]" if col.array and not col.pg_type.endswith("[]") else "")


def _literal_config(name: str) -> str:
    return f"{c.literal(name)}::regconfig"


def tsvector_expression(opts: EsIndexOptions) -> str | None:
    """``setweight(to_tsvector('cfg'::regconfig, coalesce("title", '')), 'A') || ...`` or None without text."""
    cfg = _literal_config(opts.ts_config or "simple")
    parts = [
        f"setweight(to_tsvector({cfg}, coalesce({c.ident(col.column)}, '')), {c.literal(col.weight)})"
        for col in opts.columns
        if col.weight in _WEIGHTS and not col.array
    ]
    return " || ".join(parts) if parts else None


def generated_expression(col: EsColumn, by_field: dict[str, EsColumn]) -> str | None:
    """The GENERATED expression of a ``copy_to`` target (immutable functions only), or None."""
    sources = [by_field[s] for s in col.copy_from if s in by_field]
    if not sources:
        return None
    if col.array:
        # array_remove(ARRAY[a] || b || ..., NULL): scalar sources wrapped, array sources appended.
        parts = [c.ident(s.column) if s.array else f"ARRAY[{c.ident(s.column)}]" for s in sources]
        return f"array_remove({' || '.join(parts)}, NULL)"
    # Space-joined text; NULL when every source is NULL (like an absent field).
    joined = " || ' ' || ".join(f"coalesce({c.ident(s.column)}, '')" for s in sources)
    nulls = " AND ".join(f"{c.ident(s.column)} IS NULL" for s in sources)
    return f"CASE WHEN {nulls} THEN NULL ELSE {joined} END"


def _check_where(item: PlanItem, view: str, where_sql: str) -> str:
    """A view's filter must parse as exactly one boolean expression (a plan file may be hand-edited)."""
    try:
        tree = sqlglot.parse_one(f"SELECT 1 WHERE {where_sql}", read="postgres")
    except SqlglotError:
        tree = None
    if not isinstance(tree, exp.Select) or tree.args.get("from") is not None or tree.args.get("where") is None:
        raise PlanError(f"items[id={item.id}].target.options.views[{view}].where_sql is not one SQL condition")
    return where_sql


class EsIndex:
    """An Elasticsearch index as a typed table (columns, tsvector, vector/trgm/geo indexes, partitions, views)."""

    name: ClassVar[str] = "es_index"
    redis_types: ClassVar[frozenset[str]] = frozenset()
    Options: ClassVar[type[BaseModel]] = EsIndexOptions
    copies_data: ClassVar[bool] = True
    source_kind: ClassVar[str] = "elasticsearch"

    def options(self, item: PlanItem) -> EsIndexOptions:
        """The item's validated options."""
        opts = c.parse_options(EsIndexOptions, item)
        assert isinstance(opts, EsIndexOptions)
        return opts

    def columns(self, item: PlanItem) -> Sequence[str]:
        """The columns the copy writes, in table order: the id, every non-generated column, ``_extra``."""
        opts = self.options(item)
        cols = [opts.id_column, *(col.column for col in opts.columns if not col.copy_from)]
        if opts.extra_column:
            cols.append(opts.extra_column)
        return cols

    def template_context(self, item: PlanItem, caps: TargetCaps | None) -> dict[str, Any]:
        """Column DDL, tsvector expression, extension/index/partition/view statements (names quoted)."""
        t = c.target_of(item)
        opts = self.options(item)
        table = c.ident(t.schema_name, t.table)
        by_field = {col.field: col for col in opts.columns}
        partitioned = opts.partition_by != "none"
        if partitioned and opts.partition_column not in {col.column for col in opts.columns}:
            raise PlanError(
                f"items[id={item.id}].target.options.partition_column: {opts.partition_column!r} is not a column"
            )

        lines = [f"{c.ident(opts.id_column)} text NOT NULL"]
        extensions: list[str] = []
        for col in opts.columns:
            pg_type = _pg_type(item, col)
            line = f"{c.ident(col.column)} {pg_type}"
            generated = generated_expression(col, by_field) if col.copy_from else None
            if generated:
                line += f" GENERATED ALWAYS AS ({generated}) STORED"
            elif partitioned and col.column == opts.partition_column:
                line += " NOT NULL"
            lines.append(line)
            if pg_type.startswith(("vector", "halfvec")) or col.opclass == "bit_hamming_ops":
                extensions.append("vector")
            if col.index == "gin_trgm":
                extensions.append("pg_trgm")
            if col.es_type == "geo_point" and col.pg_type.startswith("geography"):
                extensions.append("postgis")
            if col.es_type == "geo_point" and col.index == "gist" and opts.geo == "earthdistance":
                extensions.extend(["cube", "earthdistance"])
        if opts.extra_column:
            lines.append(f"{c.ident(opts.extra_column)} jsonb")
        tsv = tsvector_expression(opts) if opts.tsvector_column else None
        if tsv and opts.tsvector_column:
            lines.append(f"{c.ident(opts.tsvector_column)} tsvector GENERATED ALWAYS AS ({tsv}) STORED")
        key = [opts.id_column] + ([opts.partition_column] if partitioned and opts.partition_column else [])
        lines.append(f"PRIMARY KEY ({', '.join(c.ident(k) for k in key)})")

        indexes = [s for col in opts.columns if (s := self._index_statement(item, t.table, table, col, opts))]
        if tsv and opts.tsvector_column:
            if opts.bm25:
                extensions.append("pg_search")
                bm25_cols = [opts.id_column, *(col.column for col in opts.columns if col.weight and not col.array)]
                indexes.append(
                    f"CREATE INDEX IF NOT EXISTS {c.ident(c.derived_name(t.table, '_bm25_idx'))} ON {table} "
                    f"USING bm25 ({', '.join(c.ident(n) for n in bm25_cols)}) "
                    f"WITH (key_field={c.literal(opts.id_column)})"
                )
            else:
                name = c.ident(c.derived_name(t.table, f"_{opts.tsvector_column}_idx"))
                indexes.append(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({c.ident(opts.tsvector_column)})"
                )

        partitions: list[str] = []
        if partitioned and opts.partition_column:
            anchor = opts.partition_anchor
            now = datetime.combine(anchor, time(), tzinfo=UTC) if anchor is not None else None
            partitions = partitioning.partition_statements(
                t.schema_name,
                t.table,
                opts.partition_column,
                _INTERVALS[opts.partition_by],
                caps or _NO_EXTENSIONS,
                premake=opts.partition_premake,
                now=now,
            )

        views = []
        for view in opts.views:
            if view.unsupported:
                continue  # recorded in the plan: the alias could not become a view
            stmt = f"CREATE OR REPLACE VIEW {c.ident(t.schema_name, view.name)} AS SELECT * FROM {table}"
            if view.where_sql:
                stmt += f" WHERE {_check_where(item, view.name, view.where_sql)}"
            views.append(stmt)

        return {
            **c.common_context(item, caps),
            "unlogged": opts.unlogged,
            "column_lines": lines,
            "partitioned": partitioned,
            "partition_column": c.ident(opts.partition_column) if partitioned and opts.partition_column else None,
            "extension_ddl": [f"CREATE EXTENSION IF NOT EXISTS {c.ident(e)}" for e in dict.fromkeys(extensions)],
            "partition_ddl": partitions,
            "index_ddl": indexes,
            "view_ddl": views,
        }

    def _index_statement(self, item: PlanItem, table_name: str, table: str, col: EsColumn, opts: EsIndexOptions) -> str:
        if col.index == "none":
            return ""
        if col.opclass is not None and col.opclass not in OPCLASSES:
            raise PlanError(f"items[id={item.id}].target.options.columns[{col.field}].opclass: unknown {col.opclass!r}")
        name = c.ident(c.derived_name(table_name, f"_{col.column}_idx"))
        column = c.ident(col.column)
        head = f"CREATE INDEX IF NOT EXISTS {name} ON {table}"
        if col.index == "btree":
            return f"{head} ({column})"
        if col.index == "gin":
            return f"{head} USING gin ({column}{' ' + col.opclass if col.opclass else ''})"
        if col.index == "gin_trgm":
            return f"{head} USING gin ({column} {col.opclass or 'gin_trgm_ops'})"
        if col.index == "hnsw":
            if col.opclass is None:
                raise PlanError(f"items[id={item.id}].target.options.columns[{col.field}]: hnsw needs an opclass")
            return f"{head} USING hnsw ({column} {col.opclass})"
        # gist: a geography column directly; a point (x = lon, y = lat) through earthdistance's ll_to_earth.
        if col.pg_type == "point":
            if opts.geo != "earthdistance":
                return ""
            return f"{head} USING gist (ll_to_earth({column}[1], {column}[0]))"
        return f"{head} USING gist ({column})"

    # The Redis copy/verify engines never handle es_index items (pgconsolidate.es.copy does).

    def _refuse(self, item: PlanItem) -> NoReturn:
        raise PlanError(f"item {item.id}: es_index items are copied from Elasticsearch (pgconsolidate.es.copy)")

    def read(self, client: Any, keys: Sequence[bytes], item: PlanItem, now_ms: int) -> list[SourceRecord | None]:
        """Not a Redis mapping: PlanError."""
        self._refuse(item)

    def to_row(self, record: SourceRecord, item: PlanItem) -> tuple[Any, ...]:
        """Not a Redis mapping: PlanError."""
        self._refuse(item)

    def canonical_source(self, record: SourceRecord, item: PlanItem) -> Canonical:
        """Not a Redis mapping: PlanError."""
        self._refuse(item)

    def canonical_target(self, row: Sequence[Any], item: PlanItem) -> Canonical:
        """Not a Redis mapping: PlanError."""
        self._refuse(item)
