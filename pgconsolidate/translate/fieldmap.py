"""The contract between the Elasticsearch planner and the Query DSL translator.

A :class:`FieldMap` says, for one Elasticsearch index (or index family), which PostgreSQL table
holds its documents and where every Elasticsearch field lives in that table. The translator reads
nothing else: it never connects anywhere and never guesses a column for a field the map does not
list (an unknown field becomes an ``unsupported`` entry of the translation).

Field names are the Elasticsearch *dotted paths* as they appear in queries: ``title``,
``title.raw`` (a multi-field), ``author.name`` (an object sub-field). Column names are the real
PostgreSQL identifiers chosen by the planner (the translator always quotes them).

Example::

    FieldMap(
        table="articles",
        tsvector_column="search_tsv",
        ts_config="english",
        text_fields=["title", "body"],
        columns={
            "title": FieldColumn(es_field="title", column="title", es_type="text", pg_type="text"),
            "title.raw": FieldColumn(es_field="title.raw", column="title_raw", es_type="keyword", pg_type="text"),
            "author.name": FieldColumn(
                es_field="author.name", column="author", es_type="keyword", pg_type="jsonb", jsonb_path=["name"]
            ),
        },
    )
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Elasticsearch types the translator treats as analysed full text.
TEXT_TYPES = frozenset({"text", "match_only_text", "search_as_you_type"})
#: Exact-value string types (term/terms/prefix compare the whole value).
KEYWORD_TYPES = frozenset({"keyword", "constant_keyword", "wildcard", "version"})
#: Numeric types (values are coerced to numbers like Elasticsearch does).
NUMERIC_TYPES = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
)
#: Integral numeric types (a fractional term on them matches nothing in Elasticsearch).
INTEGER_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
#: Date types (stored as ``timestamptz`` by the planner).
DATE_TYPES = frozenset({"date", "date_nanos"})
#: Types stored as a whole ``jsonb`` value.
JSON_TYPES = frozenset({"object", "nested", "flattened"})


class FieldColumn(BaseModel):
    """Where one Elasticsearch field lives in the PostgreSQL table.

    ``jsonb_path`` is set when the value sits inside a ``jsonb`` column (``object`` / ``nested`` /
    ``flattened`` parents): ``author.name`` -> ``column="author"``, ``jsonb_path=["name"]``. Arrays
    along the path are fine: the translator uses lax-mode SQL/JSON paths, which look into arrays
    the way Elasticsearch flattens them. ``pg_type`` ending in ``[]`` marks a multi-valued column.
    ``vector_similarity`` (optional) is the ``dense_vector`` ``similarity`` of the mapping
    (``cosine``, ``l2_norm``, ``dot_product``, ``max_inner_product``); it picks the pgvector
    distance operator for ``knn``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    es_field: str = Field(min_length=1)
    column: str = Field(min_length=1)
    es_type: str = Field(min_length=1)
    pg_type: str = Field(min_length=1)
    jsonb_path: list[str] | None = None
    vector_similarity: str | None = None

    @property
    def is_array(self) -> bool:
        """True when the column is a PostgreSQL array (a multi-valued Elasticsearch field)."""
        return self.pg_type.strip().endswith("[]")


class FieldMap(BaseModel):
    """One index's table and the location of each of its fields (see the module docstring).

    ``columns`` is keyed by the Elasticsearch dotted field path. ``tsvector_column`` is the
    generated ``tsvector`` built with ``ts_config`` from ``text_fields`` (in that order, title-like
    fields weighted higher). ``has_trgm`` says pg_trgm is installed (fuzzy queries need it);
    ``bm25`` says a ``pg_search`` BM25 index exists (only noted: scores stay ``ts_rank_cd``).
    ``time_field`` is the Elasticsearch field a time-based index family is partitioned by.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    table_schema: str = Field(default="public", min_length=1)
    table: str = Field(min_length=1)
    id_column: str = Field(default="_id", min_length=1)
    columns: dict[str, FieldColumn]
    tsvector_column: str | None = None
    ts_config: str = Field(default="simple", min_length=1)
    text_fields: list[str] = Field(default_factory=list)
    has_trgm: bool = False
    bm25: bool = False
    time_field: str | None = None

    @model_validator(mode="after")
    def _keys_match_fields(self) -> FieldMap:
        """Every ``columns`` key must equal its ``FieldColumn.es_field`` (one source of truth)."""
        for key, col in self.columns.items():
            if key != col.es_field:
                raise ValueError(f"columns[{key!r}].es_field is {col.es_field!r}; the key must equal es_field")
        return self

    def lookup(self, es_field: str) -> FieldColumn | None:
        """The column of ``es_field``, or None when the map does not know the field.

        Sub-fields of a ``flattened`` field are derived (``labels.env`` inside a flattened
        ``labels`` column): Elasticsearch accepts any key below a flattened field and indexes
        every leaf value as a keyword, so the location is determined, not guessed.
        """
        found = self.columns.get(es_field)
        if found is not None:
            return found
        parts = es_field.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            parent = self.columns.get(".".join(parts[:cut]))
            if parent is not None and parent.es_type == "flattened":
                return FieldColumn(
                    es_field=es_field,
                    column=parent.column,
                    es_type="keyword",
                    pg_type="jsonb",
                    jsonb_path=[*(parent.jsonb_path or []), *parts[cut:]],
                )
        return None
