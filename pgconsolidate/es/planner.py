"""Plan Elasticsearch indices (and index families / data streams) as PostgreSQL tables (pure).

:func:`plan_es` turns every :class:`~pgconsolidate.models_es.EsIndexReport` of an inventory into
one :class:`~pgconsolidate.models.PlanItem`: ``keep`` when
:func:`pgconsolidate.es.classify.keep_reason` gives a reason, else ``migrate`` to the ``es_index``
mapping with :class:`~pgconsolidate.models_es.EsIndexOptions` built by :func:`es_index_options`.
The typing rules (docs/elasticsearch.md, "Planner and DDL"):

* ``keyword`` (and ``constant_keyword``, ``version``) -> ``text`` + btree; ``wildcard`` -> ``text`` +
  a pg_trgm GIN index when the target has pg_trgm; keyword fields named like tags / labels /
  categories / keywords / topics, and keyword ``copy_to`` targets, are ``text[]`` + GIN.
* ``text`` -> ``text``, feeding the generated ``tsvector`` column with a weight by name
  (:data:`TITLE_WORDS` -> A, :data:`SUMMARY_WORDS` -> B, others C); multi-fields (``title.raw``)
  get their own column filled from their parent (``from_field``); a text field whose analyzer
  shows partial-match intent (ngram / edge_ngram, ``search_as_you_type``) gets a pg_trgm GIN index.
* numbers -> ``bigint`` / ``integer`` / ``smallint`` / ``numeric(20,0)`` (unsigned_long) /
  ``double precision`` / ``real``; ``date``/``date_nanos`` -> ``timestamptz``; ``boolean``; ``ip`` -> ``inet``.
* ``object`` leaves (no sub-fields / ``enabled: false``), ``nested`` and ``flattened`` -> ``jsonb`` + GIN. A
  nested field is one column holding the whole array of objects; its sub-fields are not columns
  (they are recorded in ``json_fields`` for the translator). Objects *with* sub-fields are
  flattened by the analyzer: each leaf is its own column (``author.name`` -> ``author__name``).
* ``dense_vector`` -> ``vector(dims)`` + HNSW with the opclass of the similarity; above
  :data:`VECTOR_INDEX_MAX_DIMS` (pgvector's HNSW limit for ``vector``) ``halfvec(dims)`` + HNSW on
  ``halfvec_*_ops`` up to :data:`HALFVEC_INDEX_MAX_DIMS`; beyond that no index (a note says so).
  ``element_type: bit`` -> ``bit(dims)`` + ``bit_hamming_ops``.
* ``geo_point`` -> ``geography(Point,4326)`` + GiST with PostGIS; else a ``point`` (x = lon, y = lat)
  with a GiST index on ``ll_to_earth(lat, lon)`` when cube + earthdistance exist; else a bare ``point``.
* arrays: a mapping cannot say whether a field holds arrays, and no documents are sampled. Every
  other column is scalar; the copy engine sends a document whose field holds an array for a
  scalar column to the reject file (with the field named), so the user can change the column
  to ``<type>[]`` in the plan and rerun.
* fields the mapping does not list (``dynamic: true``) land in the ``_extra jsonb`` column
  (``dynamic: strict`` indices have none, so the column is dropped).
* a ``copy_to`` target is not in ``_source``: it becomes a ``GENERATED ALWAYS AS ... STORED``
  column computed from its sources' columns (``copy_from``); the copy engine never writes it.

Time families and data streams with a time field become a RANGE-partitioned table (the primary
key is then ``(_id, <time column>)``); aliases become views (a filtered alias through the DSL
translator). Field names are mapped by :mod:`pgconsolidate.es.identifiers`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import date
from typing import Literal

import sqlglot
from sqlglot import exp

from pgconsolidate.errors import PgConsolidateError
from pgconsolidate.es.analyze import analyzer_fit
from pgconsolidate.es.classify import keep_reason
from pgconsolidate.es.identifiers import column_names, fit
from pgconsolidate.models import PlanItem, TargetCaps, TargetSpec, Usage
from pgconsolidate.models_es import (
    EsAnalyzer,
    EsColumn,
    EsField,
    EsIndexFacts,
    EsIndexOptions,
    EsIndexReport,
    EsInventory,
    EsSource,
    EsView,
)

MAPPING = "es_index"

ID_COLUMN = "_id"
EXTRA_COLUMN = "_extra"
TSVECTOR_COLUMN = "search_vector"
RESERVED_COLUMNS = (ID_COLUMN, EXTRA_COLUMN, TSVECTOR_COLUMN)
"""Column names the table uses itself: an ES field mapping to one of them gets ``_`` appended."""

TITLE_WORDS = frozenset({"title", "name", "subject", "headline", "heading", "label"})
"""Last path segments whose text weighs A in the tsvector."""
SUMMARY_WORDS = frozenset({"summary", "description", "abstract", "excerpt", "teaser", "lead", "subtitle"})
"""Last path segments whose text weighs B (every other text field weighs C)."""

ARRAY_KEYWORD = re.compile(r"^(tags?|labels?|categor(y|ies)|keywords|topics)$")
"""Keyword fields named like this are ``text[]`` (they conventionally hold several values)."""

VECTOR_INDEX_MAX_DIMS = 2000
"""pgvector's HNSW/IVFFlat limit for ``vector`` columns."""
HALFVEC_INDEX_MAX_DIMS = 4000
"""pgvector's HNSW/IVFFlat limit for ``halfvec`` columns."""

DAY_PARTITION_DOCS = 50_000_000
WEEK_PARTITION_DOCS = 2_000_000
"""Without a family date suffix (rollover, data streams) the period follows the document count."""

MAX_PARTITION_PERIODS = 400
"""At most this many explicit partitions are planned for a family's date range."""

_INTEGERS = {
    "long": "bigint",
    "integer": "integer",
    "short": "smallint",
    "byte": "smallint",
    "unsigned_long": "numeric(20,0)",
    "token_count": "integer",
}
_FLOATS = {"double": "double precision", "float": "real", "half_float": "real", "scaled_float": "double precision"}
_KEYWORDS = frozenset({"keyword", "constant_keyword", "version", "wildcard"})
_TEXTS = frozenset({"text", "match_only_text", "search_as_you_type", "annotated_text"})
_JSON_INDEXED = frozenset({"nested", "flattened", "object"})
_OPS = {"cosine": "cosine", "dot_product": "ip", "max_inner_product": "ip", "l2_norm": "l2"}
_SKIPPED = {
    "alias": "a field alias (queries on it must name its target field)",
    "percolator": "a percolator field (stored queries)",
}
_DATE_SUFFIX = re.compile(r"(?P<y>\d{4})[-_.]?(?P<m>\d{2})(?:[-_.]?(?P<d>\d{2}))?(?:[-_.T]?\d{2})?(?:-\d{6})?$")

Period = Literal["none", "day", "week", "month"]


# --------------------------------------------------------------------------- names and ids


def slug(text: str, sep: str = "_") -> str:
    """Lowercase ``[a-z0-9]`` runs joined by ``sep`` (``logs-{date}`` -> ``logs_date``)."""
    return sep.join(re.findall(r"[a-z0-9]+", text.lower()))


def es_item_id(name: str) -> str:
    """Stable item id, e.g. ``es.articles.3f2a1c`` (slug of the index/family name + hash of it)."""
    digest = hashlib.sha256(f"es\x00{name}".encode()).hexdigest()[:6]
    return f"es.{slug(name, '-')[:48].strip('-') or 'index'}.{digest}"


def es_table_name(name: str) -> str:
    """``es_<words of the index/family name without placeholders>`` within 63 bytes."""
    words = slug(re.sub(r"\{[^}]*\}", " ", name))
    return fit("es_" + (words or "index"), name)


def view_name(alias: str, table: str) -> str:
    """``es_<alias words>``; ``_view`` appended when that is the table's own name (alias ``logs``)."""
    name = fit("es_" + (slug(alias) or "alias"), alias)
    return fit(name, alias, "_view") if name == table else name


# --------------------------------------------------------------------------- plan items


def plan_es(inv: EsInventory, caps: TargetCaps, schema: str) -> list[PlanItem]:
    """One plan item per analyzed index / family / data stream, sorted by id."""
    items = [index_item(report, caps, schema) for report in inv.indices]
    return sorted(items, key=lambda it: it.id)


def index_item(report: EsIndexReport, caps: TargetCaps, schema: str) -> PlanItem:
    """The plan item of one index report: keep (with the classifier's reason) or migrate to ``es_index``."""
    facts, usage = report.facts, report.usage
    source = EsSource(
        index=facts.name,
        indices=list(facts.indices),
        docs_count=facts.docs_count,
        primary_shards=facts.primary_shards,
        time_field=facts.time_field,
    )
    why = keep_reason(facts)
    if why is not None:
        return PlanItem(
            id=es_item_id(facts.name),
            source=source,
            usage=usage,
            verdict="keep",
            reason=f"keep on Elasticsearch: {why}",
        )
    table = es_table_name(facts.name)
    options, notes = es_index_options(facts, caps, schema=schema, table=table)
    return PlanItem(
        id=es_item_id(facts.name),
        source=source,
        usage=usage,
        verdict="migrate",
        reason=_migrate_reason(facts, usage, options),
        target=TargetSpec(mapping=MAPPING, schema_name=schema, table=table, options=options.model_dump(mode="json")),
        notes=notes,
    )


def _migrate_reason(facts: EsIndexFacts, usage: Usage, opts: EsIndexOptions) -> str:
    what = f"{len(facts.indices)} indices" if len(facts.indices) > 1 else "1 index"
    parts = [f"{usage.kind.value}: {facts.docs_count:,} documents in {what} -> {len(opts.columns)} typed columns"]
    if opts.tsvector_column:
        weighted = sum(1 for c in opts.columns if c.weight)
        index = "pg_search BM25" if opts.bm25 else "GIN"
        parts.append(f"a tsvector of {weighted} text field(s) ({opts.ts_config}, {index} index)")
    vectors = [c for c in opts.columns if c.es_type == "dense_vector"]
    if vectors:
        parts.append(f"{len(vectors)} vector column(s)")
    if opts.partition_by != "none":
        parts.append(f"partitioned by {opts.partition_by} on {opts.partition_column}")
    if opts.views:
        parts.append(f"{sum(1 for v in opts.views if not v.unsupported)} view(s) for aliases")
    return ", ".join(parts)


# --------------------------------------------------------------------------- options


def es_index_options(
    facts: EsIndexFacts, caps: TargetCaps, *, schema: str, table: str
) -> tuple[EsIndexOptions, list[str]]:
    """The ``es_index`` options of one index/family and the notes that explain the choices (pure)."""
    notes: list[str] = []
    fits = {a.name: a for a in facts.analyzers}
    default_analyzer = "default" if "default" in fits else "standard"
    copy_sources: dict[str, list[str]] = {}
    for f in facts.fields:
        for target in f.copy_to:
            copy_sources.setdefault(target, []).append(f.path)

    json_fields: dict[str, str] = {}
    columned: list[EsField] = []
    for f in facts.fields:
        if f.nested_path is not None:
            if f.multi_field_of is None:
                json_fields[f.path] = f.type
            continue
        if f.type in _SKIPPED:
            notes.append(f"field {f.path} is {_SKIPPED[f.type]}: no column")
            continue
        columned.append(f)
    names = column_names([f.path for f in columned], RESERVED_COLUMNS)
    by_path = {f.path: f for f in columned}

    columns: list[EsColumn] = []
    for f in columned:
        col, col_notes = _column(
            f, names[f.path].column, caps, fits, default_analyzer, copy_sources, by_path, facts.time_field
        )
        columns.append(col.model_copy(update={"renamed_because": names[f.path].renamed_because}))
        notes.extend(col_notes)
    columns = _resolve_copy_from(columns, notes)

    renamed = [c for c in columns if c.renamed_because]
    if renamed:
        shown = ", ".join(f"{c.field} -> {c.column}" for c in renamed[:6])
        more = f" (+{len(renamed) - 6})" if len(renamed) > 6 else ""
        notes.append(f"{len(renamed)} field name(s) mapped to column names (see renamed_because): {shown}{more}")

    weighted = [c for c in columns if c.weight]
    ts_config, ts_notes = choose_ts_config([by_path[c.field] for c in weighted], fits, default_analyzer)
    notes.extend(ts_notes)
    bm25 = bool(weighted) and caps.can_use("pg_search")
    if bm25:
        notes.append("pg_search is available: a BM25 index replaces the GIN index on the tsvector")
    geo_cols = [c for c in columns if c.es_type == "geo_point"]
    geo: Literal["postgis", "earthdistance", "none"] = "none"
    if geo_cols:
        geo = _geo_kind(caps)
    long_keywords = [
        c.field
        for c in columns
        if c.index == "btree" and c.es_type == "keyword" and (by_path[c.field].ignore_above or 10**9) > 2000
    ]
    if long_keywords:
        notes.append(
            f"btree index entries are limited to ~2.7 kB: a longer value in {', '.join(long_keywords[:4])} "
            "(no ignore_above <= 2000 in the mapping) would be rejected"
        )
    notes.append(
        "arrays: a mapping cannot say which fields hold arrays; scalar columns send a document with an array "
        "there to the reject file (change the column to <type>[] in the plan to accept them); "
        "keyword fields named like tags/labels/categories and keyword copy_to targets are text[]"
    )

    extra: str | None = EXTRA_COLUMN
    if facts.dynamic == "strict":
        extra = None
        notes.append("dynamic: strict: every field is mapped, so there is no _extra column")
    else:
        notes.append(
            f"fields the mapping does not list (dynamic: {facts.dynamic or 'true'}) go to {EXTRA_COLUMN} jsonb"
        )
    if facts.source_excludes:
        notes.append(
            f"_source excludes {', '.join(facts.source_excludes)}: those values are not in the documents read "
            "(dense_vector values are read back separately)"
        )
    for conflict in facts.field_conflicts:
        notes.append(f"family members disagree on {conflict}: the most common type was planned")
    nested = [c.column for c in columns if c.es_type == "nested"]
    if nested:
        notes.append(
            f"nested field(s) {', '.join(nested)}: the whole array of objects is one jsonb column; "
            "their sub-fields are queried through jsonb paths"
        )

    partition_by: Period = "none"
    partition_column: str | None = None
    anchor: date | None = None
    premake = 4
    if facts.family or facts.data_stream:
        time_col = next((c for c in columns if c.field == facts.time_field and c.pg_type == "timestamptz"), None)
        if time_col is None:
            notes.append(
                f"{'data stream' if facts.data_stream else 'index family'} without a date time field: not partitioned"
            )
        else:
            partition_by = partition_period(facts)
            partition_column = time_col.column
            anchor, premake = partition_window(facts, partition_by)
            notes.append(
                f"RANGE-partitioned by {partition_by} on {partition_column}: the primary key is "
                f"({ID_COLUMN}, {partition_column}) and a document without {facts.time_field} is rejected"
            )
            if anchor is None:
                notes.append(
                    "the family's dates are unknown (rollover/data stream): partitions are made around the day "
                    "the DDL runs and older documents land in the DEFAULT partition"
                )
    if len(facts.indices) > 1:
        notes.append(
            f"{len(facts.indices)} indices share one table: an _id present in two of them "
            f"({'with the same time value' if partition_by != 'none' else 'at all'}) is a primary-key conflict"
        )

    options = EsIndexOptions(
        id_column=ID_COLUMN,
        columns=columns,
        extra_column=extra,
        ts_config=ts_config,
        tsvector_column=TSVECTOR_COLUMN if weighted else None,
        bm25=bm25,
        geo=geo,
        partition_by=partition_by,
        partition_column=partition_column,
        json_fields=json_fields,
        partition_anchor=anchor,
        partition_premake=premake,
    )
    views, view_notes = alias_views(facts, options, schema=schema, table=table)
    notes.extend(view_notes)
    return options.model_copy(update={"views": views}), notes


def _column(
    f: EsField,
    column: str,
    caps: TargetCaps,
    fits: dict[str, EsAnalyzer],
    default_analyzer: str,
    copy_sources: dict[str, list[str]],
    by_path: dict[str, EsField],
    time_field: str | None = None,
) -> tuple[EsColumn, list[str]]:
    """The column of one field (without ``renamed_because``) and notes about it."""
    notes: list[str] = []
    t = f.type
    base = {"field": f.path, "column": column, "es_type": t, "from_field": f.multi_field_of}
    parent = by_path.get(f.multi_field_of) if f.multi_field_of else None
    sources = copy_sources.get(f.path, [])
    if t in _KEYWORDS:
        arrayish = bool(sources) or bool(ARRAY_KEYWORD.match(f.path.rsplit(".", 1)[-1].lower()))
        if parent is not None:  # a multi-field holds what its parent holds
            arrayish = bool(ARRAY_KEYWORD.match(parent.path.rsplit(".", 1)[-1].lower())) and parent.type in _KEYWORDS
        if t == "wildcard" and not arrayish:
            index = "gin_trgm" if caps.can_use("pg_trgm") else "btree"
            opclass = "gin_trgm_ops" if index == "gin_trgm" else None
            return EsColumn(**base, pg_type="text", index=index, opclass=opclass, copy_from=sources), notes
        if t == "constant_keyword":
            return EsColumn(**base, pg_type="text", copy_from=sources), notes
        return (
            EsColumn(**base, pg_type="text", array=arrayish, index="gin" if arrayish else "btree", copy_from=sources),
            notes,
        )
    if t in _TEXTS:
        fit_ = fits.get(f.analyzer or default_analyzer)
        partial = t == "search_as_you_type" or (fit_ is not None and fit_.partial_match)
        text_index: Literal["gin_trgm", "none"] = "none"
        opclass = None
        if partial:
            if caps.can_use("pg_trgm"):
                text_index, opclass = "gin_trgm", "gin_trgm_ops"
            else:
                notes.append(f"{f.path}: partial-match analysis (ngram) but the target has no pg_trgm")
        weight = None
        if f.multi_field_of is None and not sources:
            weight = text_weight(f.path)
        return (
            EsColumn(**base, pg_type="text", weight=weight, index=text_index, opclass=opclass, copy_from=sources),
            notes,
        )
    if t in _INTEGERS:
        return EsColumn(**base, pg_type=_INTEGERS[t]), notes
    if t in _FLOATS:
        return EsColumn(**base, pg_type=_FLOATS[t]), notes
    if t in ("date", "date_nanos"):
        if t == "date_nanos":
            notes.append(f"{f.path}: date_nanos keeps microseconds in timestamptz (nanoseconds are truncated)")
        # The time field of a log/time-series usage is range-scanned and sorted on: btree.
        is_time = f.path == time_field and f.multi_field_of is None
        return EsColumn(**base, pg_type="timestamptz", index="btree" if is_time else "none"), notes
    if t == "boolean":
        return EsColumn(**base, pg_type="boolean"), notes
    if t == "ip":
        return EsColumn(**base, pg_type="inet"), notes
    if t == "dense_vector":
        return _vector_column(f, base, caps, notes), notes
    if t == "geo_point":
        kind = _geo_kind(caps)
        if kind == "postgis":
            return EsColumn(**base, pg_type="geography(Point,4326)", index="gist"), notes
        if kind == "earthdistance":
            notes.append(f"{f.path}: point (x = lon, y = lat) with a GiST index on ll_to_earth (no PostGIS)")
            return EsColumn(**base, pg_type="point", index="gist"), notes
        notes.append(f"{f.path}: point (x = lon, y = lat), unindexed: the target has neither PostGIS nor earthdistance")
        return EsColumn(**base, pg_type="point"), notes
    if t in _JSON_INDEXED:
        return EsColumn(**base, pg_type="jsonb", index="gin" if f.index else "none"), notes
    if t == "binary":
        notes.append(f"{f.path}: binary values are kept as their base64 text")
        return EsColumn(**base, pg_type="text"), notes
    notes.append(f"{f.path}: {t} has no dedicated PostgreSQL type here; stored as jsonb")
    return EsColumn(**base, pg_type="jsonb"), notes


def _vector_column(f: EsField, base: dict[str, str | None], caps: TargetCaps, notes: list[str]) -> EsColumn:
    similarity = f.similarity or "cosine"
    dims = f.dims
    if not caps.can_use("vector"):
        notes.append(f"{f.path}: the target has no pgvector: stored as real[] without a kNN index")
        return EsColumn(**base, pg_type="real[]", similarity=similarity)
    if f.element_type == "bit":
        pg_type = f"bit({dims})" if dims else "bit varying"
        index = "hnsw" if dims and f.index else "none"
        return EsColumn(
            **base,
            pg_type=pg_type,
            index=index,
            opclass="bit_hamming_ops" if index == "hnsw" else None,
            similarity=similarity,
        )
    ops = _OPS.get(similarity, "cosine")
    if similarity not in _OPS:
        notes.append(f"{f.path}: similarity {similarity} has no pgvector operator; cosine planned")
    if dims is None:
        notes.append(f"{f.path}: dense_vector without dims: an unindexed vector column")
        return EsColumn(**base, pg_type="vector", similarity=similarity)
    if dims <= VECTOR_INDEX_MAX_DIMS:
        pg_type, opclass = f"vector({dims})", f"vector_{ops}_ops"
    elif dims <= HALFVEC_INDEX_MAX_DIMS:
        pg_type, opclass = f"halfvec({dims})", f"halfvec_{ops}_ops"
        notes.append(
            f"{f.path}: {dims} dims exceed pgvector's {VECTOR_INDEX_MAX_DIMS}-dim index limit for vector: "
            "halfvec (16-bit floats) keeps HNSW possible"
        )
    else:
        notes.append(
            f"{f.path}: {dims} dims exceed pgvector's index limits ({HALFVEC_INDEX_MAX_DIMS} for halfvec): "
            "no HNSW index, kNN is an exact scan"
        )
        return EsColumn(**base, pg_type=f"vector({dims})", similarity=similarity)
    if not f.index:
        return EsColumn(**base, pg_type=pg_type, similarity=similarity)
    if ops == "ip":
        notes.append(f"{f.path}: {similarity} -> inner product: pgvector's <#> returns the negated inner product")
    return EsColumn(**base, pg_type=pg_type, index="hnsw", opclass=opclass, similarity=similarity)


def _resolve_copy_from(columns: list[EsColumn], notes: list[str]) -> list[EsColumn]:
    """Keep in ``copy_from`` only sources a generated expression can use (text columns), by ES path."""
    by_field = {c.field: c for c in columns}
    out: list[EsColumn] = []
    for c in columns:
        if not c.copy_from:
            out.append(c)
            continue
        usable = [
            s
            for s in c.copy_from
            if s in by_field and by_field[s].pg_type == "text" and (c.array or not by_field[s].array)
        ]
        dropped = [s for s in c.copy_from if s not in usable]
        if dropped:
            notes.append(
                f"copy_to target {c.field}: {', '.join(dropped)} cannot feed a generated text column "
                "(not a scalar text/keyword column); their values are not copied into it"
            )
        notes.append(f"copy_to target {c.field} is generated from {', '.join(usable) or 'nothing'} (not in _source)")
        out.append(c.model_copy(update={"copy_from": usable, "index": c.index if usable else "none"}))
    return out


def text_weight(path: str) -> Literal["A", "B", "C"]:
    """tsvector weight of a text field by its last path segment (title-like A, summary-like B, else C)."""
    last = path.rsplit(".", 1)[-1].lower().lstrip("@_")
    if last in TITLE_WORDS:
        return "A"
    if last in SUMMARY_WORDS:
        return "B"
    return "C"


def choose_ts_config(
    fields: list[EsField], fits: dict[str, EsAnalyzer], default_analyzer: str = "standard"
) -> tuple[str, list[str]]:
    """The text search configuration of the tsvector: the one most weighted text fields' analyzers match.

    An analyzer missing from the facts is fitted by name (built-in analyzers). No match -> ``simple``
    with a note. Several configurations -> the most common (ties: by name) with a note.
    """
    notes: list[str] = []
    votes: Counter[str] = Counter()
    for f in fields:
        name = f.analyzer or default_analyzer
        fit_ = fits.get(name) or analyzer_fit(name)
        if fit_.ts_config is None:
            notes.append(f"analyzer {name} of {f.path} has no matching text search configuration: 'simple' is used")
            votes["simple"] += 1
        else:
            votes[fit_.ts_config] += 1
    if not votes:
        return "simple", notes
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    chosen = ranked[0][0]
    if len(ranked) > 1:
        notes.append(
            f"text fields use analyzers matching {', '.join(k for k, _ in ranked)}: one tsvector needs one "
            f"configuration, '{chosen}' was chosen"
        )
    return chosen, notes


def _geo_kind(caps: TargetCaps) -> Literal["postgis", "earthdistance", "none"]:
    if caps.can_use("postgis"):
        return "postgis"
    if caps.can_use("earthdistance") and caps.can_use("cube"):
        return "earthdistance"
    return "none"


# --------------------------------------------------------------------------- partitions


def partition_period(facts: EsIndexFacts) -> Literal["day", "week", "month"]:
    """day for hourly/daily families, month for monthly/yearly ones, else by document count."""
    period = facts.family_period
    if period in ("hour", "day"):
        return "day"
    if period in ("month", "year"):
        return "month"
    if facts.docs_count >= DAY_PARTITION_DOCS:
        return "day"
    if facts.docs_count >= WEEK_PARTITION_DOCS:
        return "week"
    return "month"


def member_date(index: str) -> date | None:
    """The date in a family member's suffix (``logs-2026.12.01`` -> 2026-12-01; month/year -> the 1st)."""
    m = _DATE_SUFFIX.search(index)
    if m is None:
        return None
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"] or 1))
    except ValueError:
        return None


def partition_window(facts: EsIndexFacts, period: str) -> tuple[date | None, int]:
    """(anchor, premake) so explicit partitions cover the family's dates: the earliest member's date,
    and enough periods after it to reach the latest member plus 4 ahead (capped)."""
    if facts.family_period not in ("hour", "day", "month", "year"):
        return None, 4
    dates = sorted(d for d in (member_date(i) for i in facts.indices) if d is not None)
    if not dates:
        return None, 4
    first, last = dates[0], dates[-1]
    if period == "day":
        span = (last - first).days
    elif period == "week":
        span = (last - first).days // 7 + 1
    else:
        span = (last.year - first.year) * 12 + last.month - first.month
    return first, max(1, min(span + 4, MAX_PARTITION_PERIODS))


# --------------------------------------------------------------------------- aliases -> views


def alias_views(
    facts: EsIndexFacts, options: EsIndexOptions, *, schema: str, table: str
) -> tuple[list[EsView], list[str]]:
    """A view per alias of the index/family; aliases that cannot be a view over this table say why."""
    from pgconsolidate.es.fieldmap import fieldmap_from_options

    fieldmap = fieldmap_from_options(schema, table, options, facts.time_field)
    members = set(facts.indices)
    views: list[EsView] = []
    notes: list[str] = []
    taken = {table}
    for alias in facts.aliases:
        name = view_name(alias.name, table)
        while name in taken:
            name = fit(name, alias.name + name, "_" + hashlib.sha256(alias.name.encode()).hexdigest()[:4])
        taken.add(name)
        unsupported: list[str] = []
        covered = set(alias.indices)
        if covered and covered - members:
            unsupported.append(
                f"alias also points at {len(covered - members)} index(es) outside this item "
                f"({', '.join(sorted(covered - members)[:3])}): a UNION view is not generated"
            )
        elif covered and covered != members:
            unsupported.append(
                f"alias points at {len(covered)} of {len(members)} family members: the table has no _index column "
                "to select them by"
            )
        where_sql = None
        if alias.filter is not None and not unsupported:
            where_sql, problems = filter_where_sql(alias.filter, fieldmap)
            unsupported.extend(problems)
        if unsupported:
            notes.append(f"alias {alias.name}: no view ({'; '.join(unsupported)})")
            where_sql = None
        else:
            notes.append(
                f"alias {alias.name} -> view {name}" + (" (filtered alias: translated filter)" if where_sql else "")
            )
        views.append(EsView(name=name, alias=alias.name, where_sql=where_sql, unsupported=unsupported))
    return views, notes


def filter_where_sql(query: dict[str, object], fieldmap: object) -> tuple[str | None, list[str]]:
    """The WHERE condition of a filtered alias's query (via the DSL translator), and what it cannot translate.

    The translator renders complete statements; the condition is read back from its count
    statement's sqlglot tree (never by string slicing), so quoting stays the translator's.
    """
    from pgconsolidate.translate import FieldMap, translate

    assert isinstance(fieldmap, FieldMap)
    try:
        tr = translate({"query": query, "size": 0}, fieldmap)
    except PgConsolidateError as exc:
        return None, [f"filter: {exc}"]
    if tr.unsupported:
        return None, [f"filter {u}" for u in tr.unsupported]
    tree = sqlglot.parse_one(tr.count_sql, read="postgres")
    where = tree.args.get("where")
    if not isinstance(where, exp.Where):
        return None, []
    condition = where.this
    if isinstance(condition, exp.Boolean) and condition.this is True:
        return None, []
    return condition.sql(dialect="postgres"), []
