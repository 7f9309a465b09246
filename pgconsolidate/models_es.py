"""Elasticsearch models: what ``analyze`` observed of a cluster, and what a plan item copies.

The contract between the Elasticsearch analyzer (``pgconsolidate/es/analyze.py``), the planner
(``pgconsolidate/es/planner.py``), the ``es_index`` mapping and template, the copy engine
(``pgconsolidate/es/copy.py``), verify (``pgconsolidate/es/verify.py``) and the DSL translator
(``pgconsolidate/translate``). Inert and serialisable, like :mod:`pgconsolidate.models`; the
Redis models stay there, these are imported by it for the Inventory and the PlanItem source.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from pgconsolidate.models import Strict, Usage

# --------------------------------------------------------------------------- inventory


class EsServerInfo(Strict):
    """The cluster as the client layer saw it."""

    distribution: Literal["elasticsearch", "opensearch"] = "elasticsearch"
    version: str = Field(description="e.g. '9.2.0'")
    cluster_name: str = ""
    cluster_uuid: str = ""
    nodes: int = 0


class EsField(Strict):
    """One leaf field of an index mapping (objects are flattened to dotted paths)."""

    path: str = Field(description="dotted path, e.g. 'author.name'; a multi-field is 'title.raw'")
    type: str = Field(description="ES type: text, keyword, long, date, dense_vector, geo_point, nested, ...")
    multi_field_of: str | None = Field(None, description="the parent text field of a multi-field")
    nested_path: str | None = Field(None, description="path of the enclosing `nested` object, if any")
    analyzer: str | None = None
    search_analyzer: str | None = None
    normalizer: str | None = None
    copy_to: list[str] = Field(default_factory=list)
    index: bool = True
    doc_values: bool | None = None
    format: str | None = Field(None, description="date format(s)")
    ignore_above: int | None = None
    dims: int | None = Field(None, description="dense_vector dimensions")
    similarity: str | None = Field(None, description="dense_vector similarity: cosine, dot_product, l2_norm, ...")
    element_type: str | None = Field(None, description="dense_vector element type: float, byte, bit")


class EsAnalyzer(Strict):
    """An analyzer (built-in or custom) used by the index's text fields, with its PostgreSQL fit."""

    name: str
    type: str = Field("custom", description="custom, standard, simple, whitespace, english, ...")
    tokenizer: str | None = None
    filters: list[str] = Field(default_factory=list, description="token filters, in order (names or types)")
    char_filters: list[str] = Field(default_factory=list)
    language: str | None = Field(None, description="language of stemming/stop words, when there is one")
    ts_config: str | None = Field(None, description="matching PostgreSQL text search configuration, or None")
    gaps: list[str] = Field(
        default_factory=list, description="parts with no PostgreSQL equivalent, e.g. 'synonym filter my_syn'"
    )
    no_equivalent: list[str] = Field(
        default_factory=list,
        description="the gaps PostgreSQL has no mechanism for at all (custom tokenizers, phonetic, ...): "
        "keep reasons; the other gaps need setup (unaccent, a synonym file) or an extra index",
    )
    partial_match: bool = Field(
        False, description="ngram/edge_ngram in the chain: fuzzy/partial matching intent (a pg_trgm index)"
    )


class EsAlias(Strict):
    """An alias and the indices it points at; a filtered alias carries its query."""

    name: str
    indices: list[str] = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    is_write_index: bool | None = None


class EsTemplate(Strict):
    """A composable index template."""

    name: str
    index_patterns: list[str] = Field(default_factory=list)
    priority: int | None = None
    composed_of: list[str] = Field(default_factory=list)
    data_stream: bool = False


class EsIndexFacts(Strict):
    """One index, or one time-based family of indices / a data stream grouped into one usage."""

    name: str = Field(description="the index name, or the family pattern, e.g. 'logs-{date}' / data stream name")
    indices: list[str] = Field(description="concrete indices (backing indices for a data stream)")
    family: bool = Field(False, description="true for a date-suffixed family or a data stream")
    data_stream: str | None = None
    hidden: bool = False
    docs_count: int = 0
    store_bytes: int = 0
    primary_shards: int = 1
    replicas: int = 0
    dynamic: str | None = Field(None, description="mapping 'dynamic' setting: true, false, strict, runtime")
    source_enabled: bool = True
    source_excludes: list[str] = Field(default_factory=list)
    fields: list[EsField] = Field(default_factory=list)
    analyzers: list[EsAnalyzer] = Field(default_factory=list)
    aliases: list[EsAlias] = Field(default_factory=list)
    ilm_policy: str | None = None
    template: str | None = Field(None, description="index template that matched, when known")
    time_field: str | None = Field(None, description="the time field of a log/time-series usage")
    search_stats: dict[str, int] = Field(
        default_factory=dict, description="from _stats: query_total, fetch_total, index_total, ..."
    )
    family_period: Literal["hour", "day", "month", "year", "rollover"] | None = Field(
        None, description="a family's date-suffix granularity ('rollover' for -000001 suffixes)"
    )
    field_conflicts: list[str] = Field(
        default_factory=list,
        description="family members mapping one path with different types, e.g. 'x: long, keyword'",
    )
    runtime_fields: dict[str, str] = Field(
        default_factory=dict, description="mapping 'runtime' fields (script-computed at query time): name -> type"
    )


class EsIndexReport(Strict):
    """An index (or family) with its classified usage."""

    facts: EsIndexFacts
    usage: Usage


class EsInventory(Strict):
    """Everything ``analyze`` learned about one Elasticsearch cluster."""

    url: str = Field(description="redacted")
    fingerprint: str
    server: EsServerInfo
    indices: list[EsIndexReport] = Field(default_factory=list)
    templates: list[EsTemplate] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="hidden/system indices not analyzed")


# --------------------------------------------------------------------------- plan side


class EsSource(Strict):
    """Where an Elasticsearch plan item's documents come from."""

    kind: Literal["elasticsearch"] = "elasticsearch"
    index: str = Field(description="index name, data stream or family pattern (display)")
    indices: list[str] = Field(description="the concrete indices read (PIT over all of them)")
    docs_count: int = 0
    primary_shards: int = 1
    time_field: str | None = None


class EsColumn(Strict):
    """How one Elasticsearch field lands in PostgreSQL (a row of ``target.options.columns``)."""

    field: str = Field(description="ES dotted path (a multi-field: 'title.raw')")
    column: str = Field(description="PostgreSQL column name (mapped deterministically when not a safe identifier)")
    es_type: str
    pg_type: str = Field(
        description="text, bigint, double precision, timestamptz, boolean, inet, jsonb, vector(n), ..."
    )
    from_field: str | None = Field(
        None, description="for multi-fields: the source field whose value feeds this column (title.raw <- title)"
    )
    array: bool = Field(False, description="ES fields may hold arrays: the column is <pg_type>[] (or jsonb)")
    weight: Literal["A", "B", "C", "D"] | None = Field(None, description="tsvector weight for text fields")
    index: Literal["btree", "gin", "gin_trgm", "hnsw", "gist", "none"] = "none"
    opclass: str | None = Field(None, description="index operator class, e.g. vector_cosine_ops")
    renamed_because: str | None = Field(None, description="why column != field (dots, case, reserved word, ...)")
    similarity: str | None = Field(
        None, description="dense_vector similarity (cosine, dot_product, max_inner_product, l2_norm) for kNN"
    )
    copy_from: list[str] = Field(
        default_factory=list,
        description="copy_to target (absent from _source): a GENERATED column computed in PostgreSQL from "
        "these fields' columns; the copy engine must not write it",
    )


class EsView(Strict):
    """An alias turned into a view (a filtered alias keeps its filter as translated SQL)."""

    name: str
    where_sql: str | None = Field(None, description="translated alias filter (None: every row)")
    alias: str | None = Field(None, description="the Elasticsearch alias the view stands for (name is the view's)")
    unsupported: list[str] = Field(default_factory=list)


class EsIndexOptions(Strict):
    """``target.options`` of an ``es_index`` item (validated by the mapping)."""

    id_column: str = "_id"
    columns: list[EsColumn] = Field(default_factory=list)
    extra_column: str | None = Field(
        "_extra", description="jsonb column holding fields the mapping does not list (dynamic fields); None: dropped"
    )
    ts_config: str | None = Field("simple", description="text search configuration of the tsvector column")
    tsvector_column: str | None = "search_vector"
    bm25: bool = Field(False, description="pg_search BM25 index instead of the GIN tsvector index")
    geo: Literal["postgis", "earthdistance", "none"] = "none"
    partition_by: Literal["none", "day", "week", "month"] = "none"
    partition_column: str | None = None
    views: list[EsView] = Field(default_factory=list)
    unlogged: bool = False
    json_fields: dict[str, str] = Field(
        default_factory=dict,
        description="ES path -> ES type of fields stored inside a jsonb column (children of nested fields), "
        "for the translator's field map",
    )
    partition_anchor: date | None = Field(
        None, description="explicit partitions start one period before this date (None: the day DDL is rendered)"
    )
    partition_premake: int = Field(4, ge=1, le=1000, description="partitions made after the anchor's period")
