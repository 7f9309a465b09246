"""Translate an Elasticsearch search request (Query DSL) into PostgreSQL SQL.

Pure and connection-free: :func:`translate` reads a search body (the JSON object sent to
``_search``) and a :class:`~pgconsolidate.translate.fieldmap.FieldMap`, and returns a
:class:`Translation` with the hits query, a hit-count query, one statement per aggregation, and
the list of clauses it could not translate. Every statement is built as a sqlglot expression tree:
user values only ever become ``exp.Literal`` nodes and identifiers quoted ``exp.Identifier``
nodes, so no query text is pasted into SQL. (Values are inlined as quoted literals; ``params`` is
always ``None``. Callers must run the SQL *without* a parameter list: the trigram operators and
LIKE patterns contain ``%``, which psycopg would read as a placeholder.)

Nothing is dropped silently: a clause the translator cannot express is recorded in
``Translation.unsupported`` as ``"<JSON path>: <reason>"`` and is left out of the SQL (it acts
like ``match_all`` where it stood), and the rest is still translated. Malformed requests (not an
object, an unknown query type, wrong shapes) raise :class:`~pgconsolidate.errors.UsageError`
naming the JSON path, as Elasticsearch answers 400 to them.

Where the PostgreSQL behaviour differs from Elasticsearch (scores, analysis, approximations),
``Translation.notes`` says so; ``docs/translate.md`` lists every difference.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp

from pgconsolidate.errors import UsageError
from pgconsolidate.translate.fieldmap import (
    DATE_TYPES,
    JSON_TYPES,
    KEYWORD_TYPES,
    NUMERIC_TYPES,
    TEXT_TYPES,
    FieldColumn,
    FieldMap,
)

DEFAULT_SIZE = 10
"""Elasticsearch's default page size."""

MAX_RESULT_WINDOW = 10_000
"""Elasticsearch's default ``index.max_result_window`` (from + size beyond it is rejected there)."""


class Translation(BaseModel):
    """The result of :func:`translate`; ``model_dump_json()`` is the machine-readable form.

    ``sql`` returns the requested page (``_id``, the ``_source`` columns, ``_score`` when the query
    scores, ``highlight.<field>`` columns when highlighting). ``count_sql`` returns one row with
    ``total`` (the exact hit count; Elasticsearch's ``track_total_hits`` is not needed).
    ``aggregations`` maps each aggregation name to its own statement. ``unsupported`` entries are
    ``"<JSON path>: <reason>"``; a caller should refuse to use the SQL when it is non-empty unless
    the user accepts a partial translation. ``params`` is always ``None`` (literals are inlined).
    """

    model_config = ConfigDict(frozen=True)

    sql: str
    params: list[Any] | None = None
    unsupported: list[str] = Field(default_factory=list)
    highlight: bool = False
    count_sql: str
    notes: list[str] = Field(default_factory=list)
    aggregations: dict[str, str] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Request vocabulary

_BODY_KEYS = frozenset(
    {
        "query", "from", "size", "sort", "_source", "track_total_hits", "highlight", "aggs", "aggregations",
        "knn", "post_filter", "min_score", "timeout", "terminate_after", "search_after", "script_fields",
        "runtime_mappings", "suggest", "collapse", "rescore", "stored_fields", "docvalue_fields", "fields",
        "explain", "version", "seq_no_primary_term", "track_scores", "indices_boost", "profile", "pit",
        "stats", "rank", "retriever", "slice", "ext",
    }
)  # fmt: skip
_BODY_IGNORED = {
    "timeout": "timeout ignored (set statement_timeout in PostgreSQL instead)",
    "track_total_hits": "track_total_hits ignored: count_sql always returns the exact total",
    "track_scores": "track_scores ignored: _score is returned whenever the query scores",
    "explain": "explain ignored (use EXPLAIN on the SQL)",
    "version": "version ignored (documents have no version in PostgreSQL)",
    "seq_no_primary_term": "seq_no_primary_term ignored",
    "profile": "profile ignored (use EXPLAIN ANALYZE on the SQL)",
    "stats": "stats groups ignored",
    "stored_fields": "stored_fields ignored: columns come from _source",
    "docvalue_fields": "docvalue_fields ignored: columns come from _source",
    "fields": "fields ignored: columns come from _source",
}
_BODY_UNSUPPORTED = {
    "script_fields": "script_fields run Painless code; no SQL equivalent is generated",
    "runtime_mappings": "runtime fields run Painless code; no SQL equivalent is generated",
    "suggest": "suggesters are not translated",
    "collapse": "field collapsing is not translated (DISTINCT ON would change hit counts)",
    "rescore": "rescoring is not translated",
    "search_after": "search_after is not translated (use keyset pagination on the sort columns)",
    "min_score": "min_score is not translated: ts_rank_cd scores are not on Elasticsearch's BM25 scale",
    "terminate_after": "terminate_after is not translated",
    "indices_boost": "indices_boost is not translated (one table per translation)",
    "pit": "point-in-time is not translated (use a REPEATABLE READ transaction)",
    "rank": "rank (RRF) is not translated",
    "retriever": "retrievers are not translated",
    "slice": "sliced scroll is not translated",
    "ext": "search extensions are not translated",
}

_LEAF_UNSUPPORTED = {
    "script": "script queries run Painless code; no SQL equivalent is generated",
    "script_score": "script_score runs Painless code; no SQL equivalent is generated",
    "function_score": "function_score scoring functions are not translated",
    "percolate": "percolator queries need stored queries; keep this index in Elasticsearch",
    "more_like_this": "more_like_this needs term statistics; not translated",
    "geo_distance": "geo queries are not translated (use PostGIS ST_DWithin / earthdistance)",
    "geo_bounding_box": "geo queries are not translated (use PostGIS / a box on the point column)",
    "geo_polygon": "geo queries are not translated (use PostGIS)",
    "geo_shape": "geo queries are not translated (use PostGIS)",
    "shape": "shape queries are not translated (use PostGIS)",
    "span_term": "span queries are not translated",
    "span_near": "span queries are not translated",
    "span_or": "span queries are not translated",
    "span_not": "span queries are not translated",
    "span_first": "span queries are not translated",
    "span_multi": "span queries are not translated",
    "span_containing": "span queries are not translated",
    "span_within": "span queries are not translated",
    "span_field_masking": "span queries are not translated",
    "field_masking_span": "span queries are not translated",
    "intervals": "interval queries are not translated",
    "knn": "the knn query is not translated (use the top-level knn section)",
    "has_child": "join (parent/child) queries are not translated",
    "has_parent": "join (parent/child) queries are not translated",
    "parent_id": "join (parent/child) queries are not translated",
    "regexp": "Lucene regular expressions differ from PostgreSQL's; not translated",
    "simple_query_string": "simple_query_string is not translated (query_string has a supported subset)",
    "match_phrase_prefix": "match_phrase_prefix is not translated",
    "match_bool_prefix": "match_bool_prefix is not translated",
    "combined_fields": "combined_fields is not translated",
    "terms_set": "terms_set is not translated",
    "distance_feature": "distance_feature is not translated",
    "rank_feature": "rank_feature is not translated",
    "pinned": "pinned queries are not translated",
    "wrapper": "wrapper (base64-encoded) queries are not translated",
    "sparse_vector": "sparse vector queries are not translated",
    "text_expansion": "text_expansion is not translated",
    "weighted_tokens": "weighted_tokens is not translated",
    "semantic": "semantic queries are not translated",
    "rule": "query rules are not translated",
    "type": "the type query is obsolete",
}

_DATE_UNITS = {
    "y": "year",
    "M": "month",
    "w": "week",
    "d": "day",
    "h": "hour",
    "H": "hour",
    "m": "minute",
    "s": "second",
}
_DATE_MATH = re.compile(r"^(?P<anchor>now|.+?\|\|)(?P<ops>(?:[+-]\d+[yMwdhHms])*)(?:/(?P<round>[yMwdhHms]))?$")
_DATE_MATH_OP = re.compile(r"([+-])(\d+)([yMwdhHms])")
_ISO_DATE = re.compile(
    r"^(?P<date>\d{4}(?:-\d{2}(?:-\d{2})?)?)"
    r"(?P<time>[T ]\d{2}(?::\d{2}(?::\d{2}(?:[.,]\d+)?)?)?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_CALENDAR = {
    "1m": "minute", "minute": "minute", "1h": "hour", "hour": "hour", "1d": "day", "day": "day",
    "1w": "week", "week": "week", "1M": "month", "month": "month", "1q": "quarter", "quarter": "quarter",
    "1y": "year", "year": "year",
}  # fmt: skip
_FIXED = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_FIXED_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_METRICS = {"avg", "sum", "min", "max", "cardinality", "value_count", "stats"}
_VECTOR_OPS = {"cosine": "<=>", "l2_norm": "<->", "dot_product": "<#>", "max_inner_product": "<#>"}


class _Unsupported(Exception):
    """Raised inside a clause translator; the clause is recorded in ``unsupported`` and skipped."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


@dataclass
class _Res:
    """One translated query clause: its WHERE condition and (for scoring clauses) a score."""

    cond: exp.Expr
    score: exp.Expr | None = None


def _fail(path: str, message: str) -> UsageError:
    """A UsageError whose message starts with the JSON path of the offending part."""
    return UsageError(f"{path}: {message}", hint="fix the search request; it is not a valid Elasticsearch request")


def _typename(value: object) -> str:
    """JSON-ish name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def _s(text: str) -> exp.Literal:
    """A SQL string literal (sqlglot quotes it)."""
    return exp.Literal.string(text)


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    """A call of the PostgreSQL function ``name`` (kept verbatim, not rewritten by sqlglot)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _op(left: exp.Expr, operator: str, right: exp.Expr) -> exp.Expr:
    """``left OPERATOR(op) right``: PostgreSQL operators sqlglot has no node for (pg_trgm, pgvector)."""
    return exp.Operator(this=left, operator=operator, expression=right)


def _num(value: float | int) -> exp.Expr:
    """A numeric literal; non-finite values are rejected earlier."""
    return exp.convert(value)


def _and(conds: Sequence[exp.Expr]) -> exp.Expr:
    """AND of ``conds`` (TRUE when empty)."""
    conds = [c for c in conds if not (isinstance(c, exp.Boolean) and c.this is True)]
    if not conds:
        return exp.true()
    return exp.and_(*[exp.paren(c, copy=False) if isinstance(c, exp.Or) else c for c in conds], copy=False)


def _or(conds: Sequence[exp.Expr]) -> exp.Expr:
    """OR of ``conds`` (FALSE when empty)."""
    if not conds:
        return exp.false()
    if len(conds) == 1:
        return conds[0]
    return exp.paren(exp.or_(*conds, copy=False), copy=False)


def _not(cond: exp.Expr) -> exp.Expr:
    """``NOT ((cond) IS TRUE)``: a document whose field is NULL does not match ``cond`` (ES semantics)."""
    return exp.Not(this=exp.paren(exp.Is(this=exp.paren(cond, copy=False), expression=exp.true()), copy=False))


def _sum(scores: Sequence[exp.Expr | None]) -> exp.Expr | None:
    """Sum of the non-None scores (None when there is none)."""
    parts = [s for s in scores if s is not None]
    if not parts:
        return None
    total = parts[0]
    for part in parts[1:]:
        total = exp.Add(this=total, expression=part)
    return total


def _max(scores: Sequence[exp.Expr | None]) -> exp.Expr | None:
    """GREATEST of the non-None scores (None when there is none)."""
    parts = [s for s in scores if s is not None]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return exp.Greatest(this=parts[0], expressions=parts[1:])


def _boosted(score: exp.Expr | None, boost: object, path: str) -> exp.Expr | None:
    """``score * boost`` (boost validated as a number; 1 leaves the score alone)."""
    if boost is None or score is None:
        return score
    factor = _number(boost, f"{path}.boost")
    if factor == 1:
        return score
    return exp.Mul(this=exp.paren(score, copy=False), expression=_num(factor))


def _number(value: object, path: str) -> float | int:
    """``value`` as a finite number (numeric strings accepted, as Elasticsearch coerces them)."""
    if isinstance(value, bool):
        raise _fail(path, f"expected a number, got {_typename(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(path, f"expected a finite number, got {value}")
        return value
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            raise _fail(path, f"{value!r} is not a number") from None
        if not math.isfinite(parsed):
            raise _fail(path, f"expected a finite number, got {value!r}")
        return int(parsed) if parsed.is_integer() and re.fullmatch(r"\s*[+-]?\d+\s*", value) else parsed
    raise _fail(path, f"expected a number, got {_typename(value)}")


def _int(value: object, path: str, *, minimum: int = 0) -> int:
    """``value`` as an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(path, f"expected an integer, got {_typename(value)}")
    try:
        number = int(value)
    except ValueError:
        raise _fail(path, f"{value!r} is not an integer") from None
    if number < minimum:
        raise _fail(path, f"must be >= {minimum}, got {number}")
    return number


def _clauses(value: object, path: str) -> list[tuple[dict[str, Any], str]]:
    """A bool occurrence (one query object or an array of them) as (clause, JSON path) pairs."""
    if isinstance(value, dict):
        return [(value, path)]
    if isinstance(value, list):
        out: list[tuple[dict[str, Any], str]] = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise _fail(f"{path}[{i}]", f"expected a query object, got {_typename(item)}")
            out.append((item, f"{path}[{i}]"))
        return out
    raise _fail(path, f"expected a query object or an array of them, got {_typename(value)}")


def _like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards escaped by backslash (used with ``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _jsonpath(keys: Sequence[str]) -> str:
    """A lax SQL/JSON path selecting ``keys`` (each quoted as a jsonpath string)."""
    quoted = ['"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"' for key in keys]
    return "$" + "".join("." + q for q in quoted)


def _tsquery_lexeme(text: str) -> str:
    """``text`` quoted as one tsquery lexeme (no normalization): ``'it''s'`` style."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _split_field(spec: str) -> tuple[str, float]:
    """``"title^3"`` -> ("title", 3.0)."""
    name, sep, boost = spec.partition("^")
    if not sep:
        return spec, 1.0
    try:
        return name, float(boost)
    except ValueError:
        raise UsageError(f"bad field boost in {spec!r}: expected name^number") from None


# --------------------------------------------------------------------------------------------
# The translator


@dataclass
class _Translator:
    """State of one translation: the field map, collected notes/unsupported, highlight queries."""

    fields: FieldMap
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # tsqueries per ES field ("*" = all text fields) for ts_headline.
    hl_queries: dict[str, list[exp.Expr]] = field(default_factory=dict)

    # ----- bookkeeping

    def note(self, message: str) -> None:
        """Record a semantic difference once."""
        if message not in self.notes:
            self.notes.append(message)

    def skip(self, path: str, reason: str) -> None:
        """Record an untranslated part of the request."""
        entry = f"{path}: {reason}"
        if entry not in self.unsupported:
            self.unsupported.append(entry)

    def field_of(self, name: object, path: str) -> FieldColumn:
        """The FieldColumn of ``name``, or _Unsupported("unknown field") (never a guessed column)."""
        if not isinstance(name, str) or not name:
            raise _fail(path, f"expected a field name, got {_typename(name)}")
        found = self.fields.lookup(name)
        if found is None:
            raise _Unsupported(f"unknown field '{name}' (not in the field map)", path)
        return found

    # ----- column expressions

    def col(self, fc: FieldColumn) -> exp.Column:
        """The quoted column holding ``fc``."""
        return exp.column(fc.column, quoted=True)

    def id_col(self) -> exp.Column:
        """The quoted id column."""
        return exp.column(self.fields.id_column, quoted=True)

    def cfg(self) -> exp.Expr:
        """The text search configuration as a literal."""
        return _s(self.fields.ts_config)

    def table(self) -> exp.Table:
        """The quoted, schema-qualified table."""
        return exp.table_(self.fields.table, db=self.fields.table_schema, quoted=True)

    def doc_vector(self, fc: FieldColumn) -> exp.Expr:
        """``to_tsvector(cfg, <field text>)`` for one field (jsonb paths and arrays included)."""
        if fc.jsonb_path:
            source: exp.Expr = _fn("jsonb_path_query_array", self.col(fc), _s(_jsonpath(fc.jsonb_path)))
        elif fc.is_array:
            source = _fn("array_to_string", self.col(fc), _s(" "))
        elif fc.pg_type.lower() in ("jsonb", "json"):
            source = self.col(fc)
        else:
            source = exp.Coalesce(this=self.col(fc), expressions=[_s("")])
        return _fn("to_tsvector", self.cfg(), source)

    def tsv(self) -> exp.Column | None:
        """The combined tsvector column, if the table has one."""
        if self.fields.tsvector_column is None:
            return None
        return exp.column(self.fields.tsvector_column, quoted=True)

    # ----- full text

    def tsquery(self, kind: str, text: str) -> exp.Expr:
        """A tsquery for ``text``: ``and`` (all terms), ``or`` (any term), ``phrase``.

        ``or`` is ``plainto_tsquery(cfg, w1) || plainto_tsquery(cfg, w2) ...`` over the words of
        ``text``: each word is normalized exactly once by the configuration (re-parsing stemmed
        lexemes through ``to_tsquery`` would stem them twice - english ``agre`` becomes ``agr``),
        and every word stays a quoted literal.
        """
        if kind == "and":
            return _fn("plainto_tsquery", self.cfg(), _s(text))
        if kind == "phrase":
            return _fn("phraseto_tsquery", self.cfg(), _s(text))
        words = list(dict.fromkeys(re.findall(r"\w+", text)))
        if len(words) <= 1:
            return _fn("plainto_tsquery", self.cfg(), _s(words[0] if words else text))
        query: exp.Expr = _fn("plainto_tsquery", self.cfg(), _s(words[0]))
        for word in words[1:]:
            query = exp.DPipe(this=query, expression=_fn("plainto_tsquery", self.cfg(), _s(word)))
        return exp.paren(query, copy=False)

    def fts(self, fc: FieldColumn | None, query: exp.Expr) -> _Res:
        """Full-text match of ``query`` on one text field (``fc``) or on all of them (``None``).

        The combined tsvector column is GIN-indexed; a clause on one field of several is
        ``tsv @@ q AND to_tsvector(cfg, field) @@ q`` - the index narrows the rows, the second
        test keeps Elasticsearch's per-field semantics (a match in the field implies a match in
        the concatenated vector, so the prefilter never loses a row).
        """
        tsv = self.tsv()
        text_fields = self.fields.text_fields
        if fc is None:
            self.hl_queries.setdefault("*", []).append(query)
            if tsv is not None:
                return _Res(
                    exp.MatchAgainst(this=query, expressions=[tsv]), _fn("ts_rank_cd", tsv.copy(), query.copy())
                )
            cols = [self.fields.lookup(name) for name in text_fields]
            found = [c for c in cols if c is not None]
            if not found:
                raise _Unsupported("no text fields in the field map to search")
            self.note("the table has no tsvector column: full-text search computes to_tsvector per row (no index)")
            return self._per_field_any(found, query)
        self.hl_queries.setdefault(fc.es_field, []).append(query)
        vector = self.doc_vector(fc)
        own = exp.MatchAgainst(this=query, expressions=[vector])
        rank = _fn("ts_rank_cd", vector.copy(), query.copy())
        if tsv is not None and fc.es_field in text_fields:
            if len(text_fields) == 1:
                return _Res(
                    exp.MatchAgainst(this=query, expressions=[tsv]), _fn("ts_rank_cd", tsv.copy(), query.copy())
                )
            pre = exp.MatchAgainst(this=query.copy(), expressions=[tsv])
            return _Res(_and([pre, own]), rank)
        self.note(
            f"field '{fc.es_field}' is not part of the tsvector column: matched with to_tsvector per row (no index)"
        )
        return _Res(own, rank)

    def _per_field_any(self, cols: Sequence[FieldColumn], query: exp.Expr) -> _Res:
        """OR of per-field matches (used when there is no combined tsvector column)."""
        parts = [self.fts(c, query.copy()) for c in cols]
        return _Res(_or([p.cond for p in parts]), _max([p.score for p in parts]))

    # ----- term-level values

    def value(self, fc: FieldColumn, raw: object, path: str) -> exp.Expr:
        """``raw`` as a SQL value of ``fc``'s type (Elasticsearch's coercions; bad values -> UsageError)."""
        if raw is None or isinstance(raw, dict | list):
            raise _fail(path, f"expected a value for field '{fc.es_field}', got {_typename(raw)}")
        es_type = fc.es_type
        if es_type in NUMERIC_TYPES:
            return _num(_number(raw, path))
        if es_type == "boolean":
            if isinstance(raw, bool):
                return exp.true() if raw else exp.false()
            if raw in ("true", "false", ""):
                return exp.true() if raw == "true" else exp.false()
            raise _fail(path, f"{raw!r} is not a boolean (true/false)")
        if es_type in DATE_TYPES:
            return self.date_value(raw, "eq", path, None)[1]
        if es_type == "ip":
            return exp.cast(_s(str(raw)), exp.DataType.build("inet", udt=True))
        if isinstance(raw, bool):
            return _s("true" if raw else "false")
        return _s(str(raw))

    def json_value(self, fc: FieldColumn, raw: object, path: str) -> exp.Expr:
        """``raw`` as a jsonb-comparable value (numbers stay numbers; keywords become strings)."""
        if raw is None or isinstance(raw, dict | list):
            raise _fail(path, f"expected a value for field '{fc.es_field}', got {_typename(raw)}")
        if fc.es_type in NUMERIC_TYPES:
            return _num(_number(raw, path))
        if fc.es_type == "boolean":
            value = self.value(fc, raw, path)
            return value
        if isinstance(raw, bool):
            return _s("true" if raw else "false")
        return _s(str(raw))

    def json_filter(self, fc: FieldColumn, predicate: str, variables: dict[str, exp.Expr]) -> exp.Expr:
        """``jsonb_path_exists(col, '<path> ? (<predicate>)', jsonb_build_object(vars))``.

        Values travel as jsonpath *variables*, never inside the path text. Lax mode looks into
        arrays along the path, like Elasticsearch's flattening of arrays of objects.
        """
        assert fc.jsonb_path is not None
        jp = f"{_jsonpath(fc.jsonb_path)} ? ({predicate})"
        args: list[exp.Expr] = [self.col(fc), _s(jp)]
        if variables:
            pairs: list[exp.Expr] = []
            for name, val in variables.items():
                pairs.extend([_s(name), val])
            args.append(_fn("jsonb_build_object", *pairs))
        return _fn("jsonb_path_exists", *args)

    def equals(self, fc: FieldColumn, raw: object, path: str, *, case_insensitive: bool = False) -> exp.Expr:
        """Exact-value match of one value (term semantics) on a non-text field."""
        if fc.jsonb_path:
            if case_insensitive:
                return self.json_filter(fc, '@ like_regex $v flag "iq"', {"v": self.json_value(fc, raw, path)})
            return self.json_filter(fc, "@ == $v", {"v": self.json_value(fc, raw, path)})
        if fc.es_type in JSON_TYPES or fc.es_type in ("dense_vector", "geo_point", "geo_shape"):
            raise _Unsupported(f"exact-value match on a {fc.es_type} field '{fc.es_field}' is not translated")
        value = self.value(fc, raw, path)
        if fc.is_array:
            return exp.ArrayContainsAll(this=self.col(fc), expression=exp.Array(expressions=[value]))
        if fc.es_type == "ip" and isinstance(raw, str) and "/" in raw:
            return _op(self.col(fc), "<<=", value)
        if case_insensitive and fc.es_type in KEYWORD_TYPES:
            return exp.EQ(this=exp.Lower(this=self.col(fc)), expression=exp.Lower(this=value))
        return exp.EQ(this=self.col(fc), expression=value)

    def text_term(self, fc: FieldColumn, values: Sequence[object]) -> exp.Expr:
        """ES ``term(s)`` on an analysed text field: the raw value must equal an indexed lexeme."""
        self.note(
            f"term query on analysed text field '{fc.es_field}': matches only when the value equals a "
            "stemmed/lowercased lexeme exactly, as in Elasticsearch (rarely what was meant; use match)"
        )
        lexemes = exp.Array(expressions=[_s(str(v)) for v in values])
        array = _fn("tsvector_to_array", self.doc_vector(fc))
        if len(values) == 1:
            return exp.ArrayContainsAll(this=array, expression=lexemes)
        return exp.ArrayOverlaps(this=array, expression=lexemes)

    # ----- dates

    def date_value(self, raw: object, bound: str, path: str, time_zone: str | None) -> tuple[str, exp.Expr]:
        """A date bound as (operator, expression); rounding may turn ``gt``/``lte`` into ``gte``/``lt``.

        Supports ISO 8601 strings (no offset = UTC, or ``time_zone``), epoch milliseconds, and date
        math ``now``/``<date>||`` with ``+N``/``-N`` units ``y M w d h H m s`` and one ``/unit``
        rounding (floor for ``gte``/``lt``, the end of the unit for ``gt``/``lte``, as in ES).
        A date-only bound of ``gt``/``lte`` covers the whole day (ES fills missing time with 23:59:59.999).
        """
        tz = time_zone or "UTC"
        if isinstance(raw, bool) or raw is None or isinstance(raw, dict | list):
            raise _fail(path, f"expected a date, got {_typename(raw)}")
        if isinstance(raw, int | float):
            return bound, _fn("to_timestamp", _num(_number(raw, path) / 1000))
        assert isinstance(raw, str)
        text = raw.strip()
        math_match = _DATE_MATH.match(text)
        if math_match and (text.startswith("now") or "||" in text):
            anchor = math_match.group("anchor")
            if anchor == "now":
                expr: exp.Expr = _fn("now")
            else:
                _unused, expr = self.date_value(anchor[:-2], "gte", path, time_zone)
            for sign, amount, unit in _DATE_MATH_OP.findall(math_match.group("ops") or ""):
                interval = exp.Interval(this=_s(f"{int(amount)} {_DATE_UNITS[unit]}s"))
                expr = (
                    exp.Add(this=expr, expression=interval) if sign == "+" else exp.Sub(this=expr, expression=interval)
                )
            rounding = math_match.group("round")
            if rounding is None:
                return bound, expr
            unit = _DATE_UNITS[rounding]
            floor = _fn("date_trunc", _s(unit), expr, _s(tz))
            if bound in ("gt", "lte"):
                end = exp.Add(this=floor, expression=exp.Interval(this=_s(f"1 {unit}")))
                return ("gte" if bound == "gt" else "lt"), end
            return bound, floor
        if re.fullmatch(r"-?\d+", text):
            return bound, _fn("to_timestamp", _num(int(text) / 1000))
        iso = _ISO_DATE.match(text)
        if iso is None:
            raise _fail(path, f"{raw!r} is not an ISO 8601 date, epoch milliseconds or supported date math")
        date_part = iso.group("date")
        # Elasticsearch reads "2024" / "2024-05" as the first day of that year / month.
        padded = date_part + ("-01" * (2 - date_part.count("-")))
        literal = padded + (iso.group("time") or "") + (iso.group("tz") or "")
        if iso.group("tz"):
            value: exp.Expr = exp.cast(_s(literal), exp.DataType.build("timestamptz", dialect="postgres"))
        else:
            value = exp.paren(
                exp.AtTimeZone(
                    this=exp.cast(_s(literal), exp.DataType.build("timestamp", dialect="postgres")), zone=_s(tz)
                ),
                copy=False,
            )
        if iso.group("time") is None and bound in ("gt", "lte"):
            end = exp.Add(this=value, expression=exp.Interval(this=_s("1 day")))
            return ("gte" if bound == "gt" else "lt"), end
        return bound, value

    # ----- query clauses

    def query(self, node: object, path: str, scoring: bool = True) -> _Res | None:
        """Translate one query object; None when it was recorded as unsupported."""
        if not isinstance(node, dict):
            raise _fail(path, f"expected a query object, got {_typename(node)}")
        if len(node) != 1:
            kinds = ", ".join(sorted(map(str, node))) or "none"
            raise _fail(path, f"a query object must hold exactly one query type, got {len(node)} ({kinds})")
        kind, body = next(iter(node.items()))
        here = f"{path}.{kind}"
        if kind in _LEAF_UNSUPPORTED:
            self.skip(here, _LEAF_UNSUPPORTED[kind])
            return None
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise _fail(here, f"unknown query type [{kind}]")
        try:
            res = handler(self, body, here, scoring)
        except _Unsupported as exc:
            self.skip(exc.path or here, exc.reason)
            return None
        if not scoring:
            res.score = None
        return res

    def single_field(self, body: object, path: str, kind: str) -> tuple[str, object]:
        """The ``{field: spec}`` of a single-field query (``match``, ``term``, ``range``...)."""
        if not isinstance(body, dict):
            raise _fail(path, f"[{kind}] expected an object, got {_typename(body)}")
        names = [k for k in body if k not in ("boost", "_name")]
        if len(names) != 1:
            raise _fail(path, f"[{kind}] expects exactly one field, got {len(names)} ({', '.join(names) or 'none'})")
        return names[0], body[names[0]]


def _q_match_all(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``match_all``: every document (ES score 1.0; no score column here)."""
    if not isinstance(body, dict):
        raise _fail(path, f"expected an object, got {_typename(body)}")
    return _Res(exp.true())


def _q_match_none(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``match_none``: no document."""
    if not isinstance(body, dict):
        raise _fail(path, f"expected an object, got {_typename(body)}")
    return _Res(exp.false())


def _match_field(
    t: _Translator,
    fc: FieldColumn,
    text: object,
    path: str,
    *,
    kind: str,
    fuzziness: object = None,
) -> _Res:
    """Full-text match of ``text`` on one field; keyword/numeric/date fields get term equality.

    ES analyses ``text`` with the field's analyzer; here ``ts_config`` does it (the planner
    picked the configuration matching the analyzer). ``kind`` is ``and``/``or``/``phrase``.
    """
    if fc.es_type not in TEXT_TYPES:
        # ES runs a term query when the field is not analysed (keyword, numbers, dates...).
        if fuzziness is not None and fc.es_type in KEYWORD_TYPES:
            return _fuzzy_res(t, fc, text, path)
        return _Res(t.equals(fc, text, path))
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise _fail(path, f"expected text to match, got {_typename(text)}")
    if fuzziness is not None and str(fuzziness) not in ("0", "0.0"):
        if t.fields.has_trgm:
            return _fuzzy_res(t, fc, text, path)
        t.skip(path, "fuzziness needs pg_trgm (the field map says it is not installed); matched without fuzziness")
    return t.fts(fc, t.tsquery(kind, str(text)))


def _fuzzy_res(t: _Translator, fc: FieldColumn, text: object, path: str) -> _Res:
    """pg_trgm similarity instead of Levenshtein fuzziness (``%`` on keywords, ``<%`` in text)."""
    if not t.fields.has_trgm:
        raise _Unsupported("fuzzy matching needs pg_trgm (the field map says it is not installed)")
    if fc.jsonb_path or fc.is_array:
        raise _Unsupported(f"fuzzy matching on field '{fc.es_field}' inside jsonb/array is not translated")
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise _fail(path, f"expected a value, got {_typename(text)}")
    t.note(
        "fuzziness: translated to pg_trgm trigram similarity (pg_trgm.similarity_threshold / "
        "word_similarity_threshold), not Levenshtein edit distance as in Elasticsearch"
    )
    value = exp.cast(_s(str(text)), exp.DataType.build("text"))
    column = t.col(fc)
    if fc.es_type in TEXT_TYPES:
        # word similarity: the value against the best-matching run of words in the text.
        return _Res(_op(value, "<%", column), _fn("word_similarity", value.copy(), column.copy()))
    return _Res(_op(column, "%", value), _fn("similarity", column.copy(), value.copy()))


def _q_match(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``match``: analysed full-text match; operator ``or`` (default, any term) or ``and`` (all terms).

    ``fuzziness`` -> pg_trgm similarity; ``minimum_should_match`` 1 (= or) and 100% (= and) are
    exact, other values are reported. Non-text fields match by equality, as ES does.
    """
    name, spec = t.single_field(body, path, "match")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    options: dict[str, Any] = spec if isinstance(spec, dict) else {"query": spec}
    if "query" not in options:
        raise _fail(fpath, "[match] requires 'query'")
    operator = str(options.get("operator", "or")).lower()
    if operator not in ("or", "and"):
        raise _fail(f"{fpath}.operator", f"expected 'or' or 'and', got {options.get('operator')!r}")
    msm = options.get("minimum_should_match")
    if msm is not None and operator == "or":
        text_msm = str(msm).strip()
        if text_msm in ("100%", "-0", "-0%"):
            operator = "and"
        elif text_msm not in ("1", "0", "0%"):
            t.skip(f"{fpath}.minimum_should_match", f"{msm!r} is not translated; matched with operator 'or'")
    for ignored in (
        "analyzer",
        "zero_terms_query",
        "lenient",
        "cutoff_frequency",
        "auto_generate_synonyms_phrase_query",
    ):
        if ignored in options:
            t.note(f"match option '{ignored}' ignored (PostgreSQL analyses with ts_config '{t.fields.ts_config}')")
    res = _match_field(t, fc, options["query"], fpath, kind=operator, fuzziness=options.get("fuzziness"))
    res.score = _boosted(res.score, options.get("boost"), fpath)
    return res


def _q_match_phrase(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``match_phrase``: the terms adjacent and in order (``phraseto_tsquery``).

    ``slop`` > 0 (terms within N positions, any order) has no exact tsquery equivalent: it is
    reported and the phrase is matched exactly (a subset of the ES hits).
    """
    name, spec = t.single_field(body, path, "match_phrase")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    options: dict[str, Any] = spec if isinstance(spec, dict) else {"query": spec}
    if "query" not in options:
        raise _fail(fpath, "[match_phrase] requires 'query'")
    slop = options.get("slop", 0)
    if _int(slop, f"{fpath}.slop") > 0:
        t.skip(f"{fpath}.slop", f"slop {slop} is not translated; the phrase must match exactly")
    res = _match_field(t, fc, options["query"], fpath, kind="phrase")
    res.score = _boosted(res.score, options.get("boost"), fpath)
    return res


def _resolve_fields(t: _Translator, specs: object, path: str) -> list[tuple[FieldColumn, float]] | None:
    """``["title^3", "body", "auth*"]`` -> columns with boosts; None means "all text fields".

    Wildcards are expanded against the field map's field names (deterministic, no guessing).
    """
    if specs is None or specs == ["*"] or specs == "*":
        return None
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise _fail(path, "expected an array of field names")
    out: list[tuple[FieldColumn, float]] = []
    for i, spec in enumerate(specs):
        name, boost = _split_field(spec)
        if any(ch in name for ch in "*?["):
            matches = [fc for key, fc in t.fields.columns.items() if fnmatch.fnmatchcase(key, name)]
            if not matches:
                raise _Unsupported(f"field pattern '{name}' matches no field in the field map")
            out.extend((fc, boost) for fc in matches)
        else:
            out.append((t.field_of(name, f"{path}[{i}]"), boost))
    return out


def _q_multi_match(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``multi_match``: ``best_fields`` (default; any field, score = best field), ``most_fields``
    (any field, scores summed) and ``phrase`` (phrase in any field). Field boosts ``title^3``
    multiply that field's ``ts_rank_cd``. Without ``fields`` every text field is searched
    through the combined tsvector column (ES searches all eligible fields, keywords included).
    """
    if not isinstance(body, dict):
        raise _fail(path, f"expected an object, got {_typename(body)}")
    if "query" not in body:
        raise _fail(path, "[multi_match] requires 'query'")
    text = body["query"]
    mtype = str(body.get("type", "best_fields"))
    if mtype not in ("best_fields", "most_fields", "phrase"):
        raise _Unsupported(f"multi_match type '{mtype}' is not translated (best_fields, most_fields, phrase are)")
    operator = str(body.get("operator", "or")).lower()
    if operator not in ("or", "and"):
        raise _fail(f"{path}.operator", f"expected 'or' or 'and', got {body.get('operator')!r}")
    kind = "phrase" if mtype == "phrase" else operator
    if "tie_breaker" in body:
        t.note("multi_match tie_breaker ignored (score = best field, or the sum for most_fields)")
    if body.get("minimum_should_match") is not None:
        t.skip(f"{path}.minimum_should_match", "not translated; matched with operator " + repr(operator))
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise _fail(f"{path}.query", f"expected text, got {_typename(text)}")
    cols = _resolve_fields(t, body.get("fields"), f"{path}.fields")
    if cols is None:
        res = t.fts(None, t.tsquery(kind, str(text)))
    else:
        text_names = {fc.es_field for fc, _ in cols}
        all_text = (
            text_names == set(t.fields.text_fields)
            and all(b == 1 for _, b in cols)
            and kind == "or"
            and t.tsv() is not None
        )
        if all_text:
            # any term in any of all the text fields == the combined vector matches any term.
            res = t.fts(None, t.tsquery(kind, str(text)))
        else:
            parts: list[_Res] = []
            for fc, boost in cols:
                part = _match_field(t, fc, text, path, kind=kind, fuzziness=body.get("fuzziness"))
                part.score = _boosted(part.score, boost, path)
                parts.append(part)
            combine = _sum if mtype == "most_fields" else _max
            res = _Res(_or([p.cond for p in parts]), combine([p.score for p in parts]))
    res.score = _boosted(res.score, body.get("boost"), path)
    return res


def _q_term(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``term``: exact value on keyword/numeric/boolean/date/ip fields (``case_insensitive`` ->
    ``lower() = lower()``). On an analysed text field the value must equal an indexed lexeme,
    which is what ES does too (and why ``term`` on text rarely matches).
    """
    name, spec = t.single_field(body, path, "term")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    options: dict[str, Any] = spec if isinstance(spec, dict) else {"value": spec}
    if "value" not in options:
        raise _fail(fpath, "[term] requires 'value'")
    if fc.es_type in TEXT_TYPES:
        return _Res(t.text_term(fc, [options["value"]]))
    return _Res(
        t.equals(fc, options["value"], f"{fpath}.value", case_insensitive=bool(options.get("case_insensitive")))
    )


def _q_terms(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``terms``: any of the values (``IN``; ``&&`` on array columns). Terms lookup is not translated."""
    name, values = t.single_field(body, path, "terms")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    if isinstance(values, dict):
        raise _Unsupported("terms lookup (values from another document) is not translated")
    if not isinstance(values, list):
        raise _fail(fpath, f"[terms] expects an array of values, got {_typename(values)}")
    if not values:
        return _Res(exp.false())
    if fc.es_type in TEXT_TYPES:
        return _Res(t.text_term(fc, values))
    if fc.jsonb_path:
        names = {f"v{i}": t.json_value(fc, v, f"{fpath}[{i}]") for i, v in enumerate(values)}
        return _Res(t.json_filter(fc, " || ".join(f"@ == ${n}" for n in names), names))
    sql_values = [t.value(fc, v, f"{fpath}[{i}]") for i, v in enumerate(values)]
    if fc.is_array:
        return _Res(exp.ArrayOverlaps(this=t.col(fc), expression=exp.Array(expressions=sql_values)))
    if fc.es_type in JSON_TYPES:
        raise _Unsupported(f"terms on a {fc.es_type} field '{fc.es_field}' is not translated")
    return _Res(exp.In(this=t.col(fc), expressions=sql_values))


def _q_ids(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``ids``: ``<id_column> IN (...)``."""
    if not isinstance(body, dict) or not isinstance(body.get("values"), list):
        raise _fail(path, '[ids] expects {"values": [...]}')
    values = body["values"]
    if not values:
        return _Res(exp.false())
    for i, v in enumerate(values):
        if not isinstance(v, str | int) or isinstance(v, bool):
            raise _fail(f"{path}.values[{i}]", f"expected an id string, got {_typename(v)}")
    return _Res(exp.In(this=t.id_col(), expressions=[_s(str(v)) for v in values]))


def _q_range(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``range``: ``gt``/``gte``/``lt``/``lte`` (and legacy ``from``/``to``/``include_*``).

    Dates accept ISO 8601, epoch millis and date math (see :meth:`_Translator.date_value`);
    ``format`` is ignored (noted). Keywords compare with ``COLLATE "C"`` (byte order, like ES).
    """
    name, spec = t.single_field(body, path, "range")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    if not isinstance(spec, dict):
        raise _fail(fpath, f"[range] expects an object of bounds, got {_typename(spec)}")
    bounds: dict[str, object] = {k: spec[k] for k in ("gt", "gte", "lt", "lte") if spec.get(k) is not None}
    if spec.get("from") is not None:
        bounds["gte" if spec.get("include_lower", True) else "gt"] = spec["from"]
    if spec.get("to") is not None:
        bounds["lte" if spec.get("include_upper", True) else "lt"] = spec["to"]
    known = {"gt", "gte", "lt", "lte", "from", "to", "include_lower", "include_upper", "format", "time_zone",
             "relation", "boost", "_name"}  # fmt: skip
    extra = sorted(set(spec) - known)
    if extra:
        raise _fail(fpath, f"[range] does not support {', '.join(extra)}")
    if str(spec.get("relation", "INTERSECTS")).upper() != "INTERSECTS":
        raise _Unsupported("range relation other than INTERSECTS (range fields) is not translated")
    if "format" in spec:
        t.note(f"range format {spec['format']!r} ignored: dates are read as ISO 8601 / epoch millis / date math")
    if not bounds:
        return _Res(_exists_cond(t, fc))
    if fc.es_type in TEXT_TYPES:
        raise _Unsupported(f"range on analysed text field '{fc.es_field}' is not translated")
    if fc.is_array:
        raise _Unsupported(f"range on multi-valued (array) column of '{fc.es_field}' is not translated")
    ops = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}
    if fc.jsonb_path:
        json_ops = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        names = {bound: t.json_value(fc, v, f"{fpath}.{bound}") for bound, v in bounds.items()}
        if fc.es_type in DATE_TYPES:
            t.note(f"range on '{fc.es_field}' inside jsonb compares ISO date strings, not instants")
        predicate = " && ".join(f"@ {json_ops[b]} ${b}" for b in names)
        return _Res(t.json_filter(fc, predicate, names))
    tz = spec.get("time_zone")
    if tz is not None and not isinstance(tz, str):
        raise _fail(f"{fpath}.time_zone", "expected a time zone name or offset")
    conds: list[exp.Expr] = []
    column: exp.Expr = t.col(fc)
    if fc.es_type in KEYWORD_TYPES:
        column = exp.Collate(this=column, expression=exp.Identifier(this="C", quoted=True))
    for bound, raw in bounds.items():
        bpath = f"{fpath}.{bound}"
        if fc.es_type in DATE_TYPES:
            op, value = t.date_value(raw, bound, bpath, tz)
        else:
            op, value = bound, t.value(fc, raw, bpath)
        conds.append(ops[op](this=column.copy(), expression=value))
    return _Res(_and(conds))


def _exists_cond(t: _Translator, fc: FieldColumn) -> exp.Expr:
    """``exists`` of one field: non-NULL (non-empty array; a non-null value inside jsonb)."""
    if fc.jsonb_path:
        # `?` would be true for an explicit JSON null; ES exists is false for null and [].
        return t.json_filter(fc, "@ != null", {})
    column = t.col(fc)
    not_null = exp.Not(this=exp.Is(this=column, expression=exp.Null()))
    if fc.is_array:
        size = exp.GT(this=_fn("cardinality", column.copy()), expression=_num(0))
        return _and([not_null, size])
    if fc.pg_type.lower() in ("jsonb", "json"):
        # an object field stored as a jsonb column: JSON null / {} / [] carry no value in ES.
        return _and(
            [
                not_null,
                _fn(
                    "jsonb_path_exists",
                    column.copy(),
                    _s('$.** ? (@ != null && @.type() != "object" && @.type() != "array")'),
                ),
            ]
        )
    return not_null


def _q_exists(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``exists``: the field has a non-null value (``IS NOT NULL``; jsonb paths via jsonb_path_exists)."""
    if not isinstance(body, dict) or "field" not in body:
        raise _fail(path, '[exists] expects {"field": name}')
    name = body["field"]
    fc = t.field_of(name, f"{path}.field")
    return _Res(_exists_cond(t, fc))


def _q_prefix(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``prefix``: ``LIKE 'value%'`` (escaped) on keywords, ``ILIKE`` when ``case_insensitive``;
    on text an unanalysed prefix lexeme ``'value':*`` (ES also does not analyse the prefix).
    """
    name, spec = t.single_field(body, path, "prefix")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    options: dict[str, Any] = spec if isinstance(spec, dict) else {"value": spec}
    value = options.get("value")
    if not isinstance(value, str):
        raise _fail(fpath, f"[prefix] expects a string value, got {_typename(value)}")
    if fc.es_type in TEXT_TYPES:
        query = exp.cast(_s(_tsquery_lexeme(value) + ":*"), exp.DataType.build("tsquery", udt=True))
        return t.fts(fc, query)
    if fc.es_type not in KEYWORD_TYPES or fc.is_array:
        raise _Unsupported(f"prefix on a {fc.es_type} field '{fc.es_field}' is not translated")
    if fc.jsonb_path:
        return _Res(t.json_filter(fc, "@ starts with $v", {"v": _s(value)}))
    return _Res(_like(t.col(fc), _like_escape(value) + "%", bool(options.get("case_insensitive"))))


def _like(column: exp.Expr, pattern: str, case_insensitive: bool) -> exp.Expr:
    """``column [I]LIKE pattern ESCAPE '\\'``."""
    cls = exp.ILike if case_insensitive else exp.Like
    return exp.Escape(this=cls(this=column, expression=_s(pattern)), expression=_s("\\"))


def _q_wildcard(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``wildcard`` on keywords: ``*`` -> ``%``, ``?`` -> ``_`` (``\\`` escapes), as LIKE."""
    name, spec = t.single_field(body, path, "wildcard")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    options: dict[str, Any] = spec if isinstance(spec, dict) else {"value": spec}
    value = options.get("value", options.get("wildcard"))
    if not isinstance(value, str):
        raise _fail(fpath, f"[wildcard] expects a string value, got {_typename(value)}")
    if fc.es_type not in KEYWORD_TYPES or fc.jsonb_path or fc.is_array:
        raise _Unsupported(f"wildcard on field '{fc.es_field}' ({fc.es_type}) is not translated")
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            out.append(_like_escape(next(chars, "\\")))
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(_like_escape(ch))
    return _Res(_like(t.col(fc), "".join(out), bool(options.get("case_insensitive"))))


def _q_fuzzy(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``fuzzy``: pg_trgm similarity (``%`` for keywords, word similarity ``<%`` for text)."""
    name, spec = t.single_field(body, path, "fuzzy")
    fpath = f"{path}.{name}"
    fc = t.field_of(name, fpath)
    options: dict[str, Any] = spec if isinstance(spec, dict) else {"value": spec}
    if "value" not in options:
        raise _fail(fpath, "[fuzzy] requires 'value'")
    res = _fuzzy_res(t, fc, options["value"], fpath)
    res.score = _boosted(res.score, options.get("boost"), fpath)
    return res


def _msm(spec: object, n: int, path: str) -> int:
    """Elasticsearch's minimum_should_match for ``n`` optional clauses (clamped to 0..n)."""
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise _fail(path, f"expected an integer or a percentage, got {_typename(spec)}")
    text = str(spec).strip()
    if re.fullmatch(r"-?\d+", text):
        k = int(text)
        result = n + k if k < 0 else k
    elif re.fullmatch(r"-?\d+(\.\d+)?%", text):
        pct = float(text[:-1])
        result = n - math.floor(n * -pct / 100) if pct < 0 else math.floor(n * pct / 100)
    else:
        raise _Unsupported(f"minimum_should_match {spec!r} (conditional form) is not translated")
    return max(0, min(n, result))


def _q_bool(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``bool``: ``must`` AND (scored), ``filter`` AND (unscored), ``must_not`` NOT (NULL counts as
    not matching), ``should`` with ``minimum_should_match`` (integer, negative, percentage;
    default 1 when there is no must/filter, else 0 - ES 7+ rules). k of n should clauses is
    ``(CASE WHEN c1 THEN 1 ELSE 0 END + ...) >= k``. Unsupported clauses are left out (reported).
    """
    if not isinstance(body, dict):
        raise _fail(path, f"[bool] expected an object, got {_typename(body)}")
    extra = sorted(set(body) - {"must", "filter", "should", "must_not", "minimum_should_match", "boost",
                                "adjust_pure_negative", "_name"})  # fmt: skip
    if extra:
        raise _fail(path, f"[bool] query does not support [{', '.join(extra)}]")
    conds: list[exp.Expr] = []
    scores: list[exp.Expr | None] = []
    for occ in ("must", "filter"):
        if occ in body:
            for clause, cpath in _clauses(body[occ], f"{path}.{occ}"):
                res = t.query(clause, cpath, scoring=scoring and occ == "must")
                if res is not None:
                    conds.append(res.cond)
                    scores.append(res.score)
    if "must_not" in body:
        for clause, cpath in _clauses(body["must_not"], f"{path}.must_not"):
            res = t.query(clause, cpath, scoring=False)
            if res is not None:
                conds.append(_not(res.cond))
    should: list[_Res] = []
    if "should" in body:
        for clause, cpath in _clauses(body["should"], f"{path}.should"):
            res = t.query(clause, cpath, scoring=scoring)
            if res is not None:
                should.append(res)
    if should:
        has_required = "must" in body or "filter" in body
        spec = body.get("minimum_should_match")
        k = (0 if has_required else 1) if spec is None else _msm(spec, len(should), f"{path}.minimum_should_match")
        if k == 1:
            conds.append(_or([s.cond for s in should]))
        elif k == len(should):
            conds.extend(s.cond for s in should)
        elif k > 1:
            count: exp.Expr | None = None
            for s in should:
                one = exp.Case(ifs=[exp.If(this=s.cond, true=_num(1))], default=_num(0))
                count = one if count is None else exp.Add(this=count, expression=one)
            assert count is not None
            conds.append(exp.GTE(this=exp.paren(count, copy=False), expression=_num(k)))
        scores.extend(s.score for s in should)
    return _Res(_and(conds), _boosted(_sum(scores), body.get("boost"), path))


def _q_constant_score(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``constant_score``: the filter's condition, no score."""
    if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
        raise _fail(path, '[constant_score] expects {"filter": {...}}')
    res = t.query(body["filter"], f"{path}.filter", scoring=False)
    return _Res(res.cond if res is not None else exp.true())


def _q_dis_max(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``dis_max``: any of ``queries``; score = the best one (``tie_breaker`` ignored)."""
    if not isinstance(body, dict) or "queries" not in body:
        raise _fail(path, '[dis_max] expects {"queries": [...]}')
    parts = [r for c, p in _clauses(body["queries"], f"{path}.queries") if (r := t.query(c, p, scoring)) is not None]
    if not parts:
        return _Res(exp.true())
    return _Res(_or([p.cond for p in parts]), _boosted(_max([p.score for p in parts]), body.get("boost"), path))


def _q_boosting(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``boosting``: the ``positive`` query; the ``negative`` demotion only changes scores (noted)."""
    if not isinstance(body, dict) or not isinstance(body.get("positive"), dict):
        raise _fail(path, '[boosting] expects {"positive": {...}, "negative": {...}}')
    t.note("boosting: the negative query's demotion is not applied to scores")
    res = t.query(body["positive"], f"{path}.positive", scoring)
    return res if res is not None else _Res(exp.true())


def _q_nested(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``nested``: the inner query on the jsonb paths below ``path`` (lax SQL/JSON paths).

    ES requires all inner conditions to hold within *one* nested object; here each condition
    is tested against the whole array, so a multi-condition inner query can match across two
    objects (noted). ``inner_hits`` is not translated.
    """
    if not isinstance(body, dict) or "query" not in body or "path" not in body:
        raise _fail(path, '[nested] expects {"path": ..., "query": {...}}')
    if "inner_hits" in body:
        t.skip(f"{path}.inner_hits", "inner_hits are not translated")
    t.note("nested: inner conditions are each checked across the nested array, not within one nested object")
    res = t.query(body["query"], f"{path}.query", scoring)
    return res if res is not None else _Res(exp.true())


# ----- query_string (simple subset)

_QS_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<phrase>[+-]?(?:[^\s:()"]+:)?"[^"]*")|(?P<word>[^\s()"]+))')
_QS_SPECIAL = re.compile(r"[*?~^\[\]{}/\\<>=!]")


@dataclass
class _QsTerm:
    """One query_string term: optional field, text, phrase flag, +/- modifier."""

    field: str | None
    text: str
    phrase: bool
    modifier: str = ""


def _qs_tokens(text: str) -> list[object]:
    """Tokens of the supported query_string subset; _Unsupported for anything else."""
    tokens: list[object] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _QS_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _Unsupported(f"query_string syntax at offset {pos} is outside the supported subset")
        pos = m.end()
        if m.group("lp"):
            tokens.append("(")
        elif m.group("rp"):
            tokens.append(")")
        else:
            raw = m.group("phrase") or m.group("word")
            if raw in ("AND", "&&"):
                tokens.append("AND")
                continue
            if raw in ("OR", "||"):
                tokens.append("OR")
                continue
            if raw == "NOT":
                tokens.append("NOT")
                continue
            modifier = raw[0] if raw[0] in "+-" and len(raw) > 1 else ""
            body = raw[len(modifier) :]
            fname: str | None = None
            if m.group("phrase"):
                head, _, rest = body.partition('"')
                fname = head[:-1] if head.endswith(":") else None
                tokens.append(_QsTerm(fname, rest[:-1], True, modifier))
                continue
            if ":" in body:
                fname, _, body = body.partition(":")
                if not fname or not body:
                    raise _Unsupported(f"query_string term {raw!r} is outside the supported subset")
            if _QS_SPECIAL.search(body) or " TO " in body:
                raise _Unsupported(
                    f"query_string term {raw!r} uses wildcards/fuzzy/boost/range/regex syntax; not translated"
                )
            tokens.append(_QsTerm(fname, body, False, modifier))
    return tokens


class _QsParser:
    """Recursive descent over query_string tokens: OR < AND < NOT, implicit = default_operator.

    A flat sequence with ``+``/``-`` modifiers follows Lucene: ``+`` required, ``-`` prohibited,
    the rest optional (required when default_operator is AND).
    """

    def __init__(self, tokens: list[object], term: Callable[[_QsTerm], _Res], default_and: bool) -> None:
        self.tokens = tokens
        self.pos = 0
        self.term = term
        self.default_and = default_and

    def peek(self) -> object:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> _Res:
        res = self.or_expr()
        if self.pos != len(self.tokens):
            raise _Unsupported("query_string: unbalanced parentheses or a dangling operator")
        return res

    def or_expr(self) -> _Res:
        parts = [self.and_expr()]
        while self.peek() == "OR":
            self.pos += 1
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return _Res(_or([p.cond for p in parts]), _sum([p.score for p in parts]))

    def and_expr(self) -> _Res:
        required: list[_Res] = []
        prohibited: list[_Res] = []
        optional: list[_Res] = []
        explicit_and = False
        last_optional = False
        while True:
            tok = self.peek()
            if tok is None or tok in (")", "OR"):
                break
            if tok == "AND":
                explicit_and = True
                self.pos += 1
                # `a AND b`: the left operand becomes required too.
                if optional and last_optional:
                    required.append(optional.pop())
                continue
            negate = False
            if tok == "NOT":
                negate = True
                self.pos += 1
            res, modifier = self.unary()
            last_optional = False
            if negate or modifier == "-":
                prohibited.append(res)
            elif modifier == "+" or explicit_and or self.default_and:
                required.append(res)
            else:
                optional.append(res)
                last_optional = True
            explicit_and = False
        if explicit_and or not (required or prohibited or optional):
            raise _Unsupported("query_string: a dangling AND/NOT or an empty group")
        conds = [r.cond for r in required] + [_not(r.cond) for r in prohibited]
        if optional and not required:
            conds.append(_or([o.cond for o in optional]))
        if len(optional) == 1 and not required and not prohibited:
            return optional[0]
        return _Res(_and(conds), _sum([r.score for r in required] + [o.score for o in optional]))

    def unary(self) -> tuple[_Res, str]:
        tok = self.peek()
        if tok == "(":
            self.pos += 1
            inner = self.or_expr()
            if self.peek() != ")":
                raise _Unsupported("query_string: unbalanced parentheses")
            self.pos += 1
            return inner, ""
        if isinstance(tok, _QsTerm):
            self.pos += 1
            return self.term(tok), tok.modifier
        raise _Unsupported(f"query_string: unexpected {tok!r}")


def _q_query_string(t: _Translator, body: object, path: str, scoring: bool) -> _Res:
    """``query_string`` (simple subset): terms, ``"phrases"``, ``field:value``, ``field:"phrase"``,
    AND/OR/NOT (``&&``/``||``), ``+``/``-``, parentheses. Wildcards, fuzzy ``~``, boosts ``^``,
    ranges, regexes, ``_exists_`` make the whole clause unsupported. A bare term searches
    ``default_field``/``fields``, or every text field through the combined tsvector.
    Explicit AND/OR use boolean precedence (Lucene's classic parser does not; noted).
    """
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise _fail(path, '[query_string] expects {"query": "..."}')
    default_and = str(body.get("default_operator", "OR")).upper() == "AND"
    defaults: list[tuple[FieldColumn, float]] | None
    if "fields" in body:
        defaults = _resolve_fields(t, body["fields"], f"{path}.fields")
    elif body.get("default_field") not in (None, "*"):
        defaults = [(t.field_of(body["default_field"], f"{path}.default_field"), 1.0)]
    else:
        defaults = None

    def term(tok: _QsTerm) -> _Res:
        kind = "phrase" if tok.phrase else "and"
        if tok.field is not None:
            fc = t.field_of(tok.field, f"{path}.query")
            return _match_field(t, fc, tok.text, f"{path}.query", kind=kind)
        if defaults is None:
            return t.fts(None, t.tsquery(kind, tok.text))
        parts = []
        for fc, boost in defaults:
            part = _match_field(t, fc, tok.text, f"{path}.query", kind=kind)
            part.score = _boosted(part.score, boost, path)
            parts.append(part)
        return _Res(_or([p.cond for p in parts]), _max([p.score for p in parts]))

    tokens = _qs_tokens(body["query"])
    if any(tok in ("AND", "OR") for tok in tokens):
        t.note("query_string: explicit AND/OR are read with boolean precedence (NOT > AND > OR)")
    res = _QsParser(tokens, term, default_and).parse()
    res.score = _boosted(res.score, body.get("boost"), path)
    return res


_Handler = Callable[[_Translator, object, str, bool], _Res]
_HANDLERS: dict[str, _Handler] = {
    "match_all": _q_match_all,
    "match_none": _q_match_none,
    "match": _q_match,
    "match_phrase": _q_match_phrase,
    "multi_match": _q_multi_match,
    "query_string": _q_query_string,
    "term": _q_term,
    "terms": _q_terms,
    "ids": _q_ids,
    "range": _q_range,
    "exists": _q_exists,
    "prefix": _q_prefix,
    "wildcard": _q_wildcard,
    "fuzzy": _q_fuzzy,
    "bool": _q_bool,
    "constant_score": _q_constant_score,
    "dis_max": _q_dis_max,
    "boosting": _q_boosting,
    "nested": _q_nested,
}


# --------------------------------------------------------------------------------------------
# Request-level parts: _source, sort, highlight, knn, aggregations


def _render(statement: exp.Expr) -> str:
    """PostgreSQL text of ``statement``, without the ``WHERE TRUE`` of a request that has no query."""
    for where in list(statement.find_all(exp.Where)):
        if isinstance(where.this, exp.Boolean) and where.this.this is True:
            where.pop()
    return statement.sql(dialect="postgres")


def _is_multi_field(fm: FieldMap, fc: FieldColumn) -> bool:
    """True for ``title.raw``-style multi-fields (their parent is a leaf field, not an object)."""
    parent, _, _ = fc.es_field.rpartition(".")
    owner = fm.columns.get(parent) if parent else None
    return owner is not None and owner.es_type not in JSON_TYPES and fc.jsonb_path is None


def _source_matches(name: str, patterns: Sequence[str]) -> bool:
    """ES _source filtering: a pattern matches the field or any of its parents/children."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern + "."):
            return True
        if fnmatch.fnmatchcase(name, pattern + ".*"):
            return True
    return False


def _patterns(value: object, path: str) -> list[str]:
    """A ``_source`` pattern or array of patterns."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _fail(path, f"expected a field pattern or an array of them, got {_typename(value)}")


def _projection(t: _Translator, source: object) -> list[tuple[str, exp.Expr]]:
    """Select list from ``_source``: (output name, expression); ``_id`` first."""
    fm = t.fields
    out: list[tuple[str, exp.Expr]] = [("_id", t.id_col())]
    if source is False:
        return out
    includes: list[str] = []
    excludes: list[str] = []
    if isinstance(source, str):
        includes = [source]
    elif isinstance(source, list) and all(isinstance(s, str) for s in source):
        includes = list(source)
    elif isinstance(source, dict):
        for key in source:
            if key not in ("includes", "include", "excludes", "exclude"):
                raise _fail(f"_source.{key}", "expected includes/excludes")
        includes = _patterns(source.get("includes", source.get("include", [])), "_source.includes")
        excludes = _patterns(source.get("excludes", source.get("exclude", [])), "_source.excludes")
    elif source is not True and source is not None:
        raise _fail("_source", f"expected a boolean, a pattern, an array of patterns or includes/excludes, "
                               f"got {_typename(source)}")  # fmt: skip
    whole: dict[str, bool] = {}
    parts: list[FieldColumn] = []
    for fc in fm.columns.values():
        if _is_multi_field(fm, fc) or fc.column == fm.id_column:
            continue
        if includes and not _source_matches(fc.es_field, includes):
            continue
        if excludes and _source_matches(fc.es_field, excludes):
            continue
        if fc.jsonb_path is None or not includes:
            whole.setdefault(fc.column, True)
        else:
            parts.append(fc)
    if excludes:
        partially = {
            fc.column for fc in fm.columns.values() if fc.jsonb_path and _source_matches(fc.es_field, excludes)
        }
        if partially & set(whole):
            t.note("_source excludes inside a jsonb column are not applied (the whole column is returned)")
    for column in whole:
        out.append((column, exp.column(column, quoted=True)))
    for fc in parts:
        if fc.column in whole:
            continue
        assert fc.jsonb_path is not None
        out.append((fc.es_field, _fn("jsonb_extract_path", t.col(fc), *[_s(k) for k in fc.jsonb_path])))
    return out


@dataclass
class _SortKey:
    """One ORDER BY item (kept apart so the highlight wrapper can re-apply it)."""

    expr: exp.Expr
    desc: bool
    nulls_first: bool


def _sort_keys(t: _Translator, sort: object, score: exp.Expr | None, default: list[_SortKey]) -> list[_SortKey]:
    """ES ``sort`` -> sort keys (``missing`` ``_last`` by default, ``_score`` -> the score)."""
    if sort is None:
        return default
    items = sort if isinstance(sort, list) else [sort]
    keys: list[_SortKey] = []
    for i, item in enumerate(items):
        ipath = f"sort[{i}]" if isinstance(sort, list) else "sort"
        if isinstance(item, str):
            name, spec = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, raw = next(iter(item.items()))
            if isinstance(raw, str):
                spec = {"order": raw}
            elif isinstance(raw, dict):
                spec = raw
            else:
                raise _fail(f"{ipath}.{name}", f'expected "asc"/"desc" or an object, got {_typename(raw)}')
        else:
            raise _fail(ipath, "expected a field name or {field: order}")
        spath = f"{ipath}.{name}"
        order = str(spec.get("order", "desc" if name == "_score" else "asc")).lower()
        if order not in ("asc", "desc"):
            raise _fail(f"{spath}.order", f"expected asc or desc, got {spec.get('order')!r}")
        desc = order == "desc"
        if name in ("_geo_distance", "_script"):
            t.skip(spath, f"{name} sorting is not translated")
            continue
        if name == "_score":
            if score is None:
                t.note("sort on _score with a query that does not score: ignored")
                continue
            if t.fields.bm25:
                t.note("pg_search BM25 index available: paradedb.score(<id>) could replace ts_rank_cd for ranking")
            keys.append(_SortKey(score.copy(), desc, False))
            continue
        if name == "_doc":
            t.note("_doc order: sorted by the id column instead (PostgreSQL has no index order)")
            keys.append(_SortKey(t.id_col(), desc, False))
            continue
        missing = spec.get("missing", "_last")
        if missing not in ("_last", "_first"):
            t.skip(f"{spath}.missing", "a custom missing value is not translated (missing values sort last)")
            missing = "_last"
        for ignored in ("mode", "unmapped_type", "numeric_type", "format"):
            if ignored in spec:
                t.note(f"sort option '{ignored}' ignored")
        if "nested" in spec:
            t.skip(f"{spath}.nested", "nested sort is not translated")
            continue
        if name == "_id":
            keys.append(_SortKey(t.id_col(), desc, missing == "_first"))
            continue
        try:
            fc = t.field_of(name, spath)
        except _Unsupported as exc:
            t.skip(spath, exc.reason)
            continue
        expr: exp.Expr = t.col(fc)
        if fc.es_type in TEXT_TYPES:
            t.note(f"sort on analysed text field '{name}': Elasticsearch rejects it (fielddata); sorted by the text")
        if fc.jsonb_path:
            expr = _fn("jsonb_path_query_first", expr, _s(_jsonpath(fc.jsonb_path)))
            t.note(f"sort on '{name}' inside jsonb orders by its first value (jsonb ordering)")
        elif fc.es_type in KEYWORD_TYPES and not fc.is_array:
            expr = exp.Collate(this=expr, expression=exp.Identifier(this="C", quoted=True))
        keys.append(_SortKey(expr, desc, missing == "_first"))
    return keys


def _ordered(keys: Sequence[_SortKey]) -> list[exp.Ordered]:
    """ORDER BY items with explicit NULLS placement."""
    return [exp.Ordered(this=k.expr.copy(), desc=k.desc, nulls_first=k.nulls_first) for k in keys]


def _headline_options(t: _Translator, spec: dict[str, Any], path: str) -> str:
    """ts_headline options from ES highlight settings (tags, fragment count and size)."""
    pre = spec.get("pre_tags", ["<em>"])
    post = spec.get("post_tags", ["</em>"])
    start = pre[0] if isinstance(pre, list) and pre else "<em>"
    stop = post[0] if isinstance(post, list) and post else "</em>"
    if not isinstance(start, str) or not isinstance(stop, str) or '"' in start + stop:
        t.skip(f"{path}.pre_tags", "tags containing double quotes are not translated; using <em></em>")
        start, stop = "<em>", "</em>"
    options = [f'StartSel="{start}"', f'StopSel="{stop}"']
    fragments = spec.get("number_of_fragments", 5)
    size = spec.get("fragment_size", 100)
    fragments = _int(fragments, f"{path}.number_of_fragments")
    size = _int(size, f"{path}.fragment_size", minimum=1)
    if fragments == 0:
        options.append("HighlightAll=true")
    else:
        # ES fragment_size counts characters; ts_headline counts words (~6 characters each).
        max_words = max(5, size // 6)
        options += [f"MaxFragments={fragments}", f"MaxWords={max_words}", f"MinWords={max(1, max_words // 3)}"]
    return ", ".join(options)


def _highlights(t: _Translator, spec: object) -> list[tuple[str, exp.Expr, exp.Expr, str]]:
    """(output name, document expression, tsquery, options) per highlighted field."""
    if not isinstance(spec, dict):
        raise _fail("highlight", f"expected an object, got {_typename(spec)}")
    raw_fields = spec.get("fields")
    entries: list[tuple[str, dict[str, Any]]] = []
    if isinstance(raw_fields, dict):
        entries = [(k, v if isinstance(v, dict) else {}) for k, v in raw_fields.items()]
    elif isinstance(raw_fields, list):
        for i, item in enumerate(raw_fields):
            if not isinstance(item, dict) or len(item) != 1:
                raise _fail(f"highlight.fields[{i}]", "expected {field: {...}}")
            name, opts = next(iter(item.items()))
            entries.append((name, opts if isinstance(opts, dict) else {}))
    else:
        raise _fail("highlight.fields", "expected an object of fields")
    out: list[tuple[str, exp.Expr, exp.Expr, str]] = []
    for name, opts in entries:
        path = f"highlight.fields.{name}"
        if any(ch in name for ch in "*?"):
            names = [n for n in t.fields.text_fields if fnmatch.fnmatchcase(n, name)]
        else:
            names = [name]
        for fname in names:
            fc = t.fields.lookup(fname)
            if fc is None:
                t.skip(path, f"unknown field '{fname}' (not in the field map)")
                continue
            if fc.es_type not in TEXT_TYPES:
                t.note(f"highlight on non-text field '{fname}' skipped")
                continue
            queries = t.hl_queries.get(fname, []) + t.hl_queries.get("*", [])
            if not queries:
                t.note(f"highlight on '{fname}': no full-text clause of the query targets it; skipped")
                continue
            query = queries[0].copy()
            for extra in queries[1:]:
                query = exp.DPipe(this=query, expression=extra.copy())
            if fc.jsonb_path:
                doc: exp.Expr = _fn("jsonb_path_query_array", t.col(fc), _s(_jsonpath(fc.jsonb_path)))
            else:
                doc = t.col(fc)
            out.append((fname, doc, query, _headline_options(t, {**spec, **opts}, path)))
    return out


def _vector_literal(values: object, fc: FieldColumn, path: str) -> exp.Expr:
    """``CAST('[...]' AS vector|halfvec)`` from a validated list of numbers."""
    if not isinstance(values, list) or not values:
        raise _fail(path, "expected a non-empty array of numbers")
    numbers = [_number(v, f"{path}[{i}]") for i, v in enumerate(values)]
    if isinstance(values[0], str):
        raise _fail(f"{path}[0]", "expected a number")
    dims = re.search(r"\((\d+)\)", fc.pg_type)
    if dims and int(dims.group(1)) != len(numbers):
        raise _fail(path, f"query vector has {len(numbers)} dimensions, field '{fc.es_field}' has {dims.group(1)}")
    text = "[" + ",".join(repr(float(n)) for n in numbers) + "]"
    kind = "halfvec" if fc.pg_type.lower().startswith("halfvec") else "vector"
    return exp.cast(_s(text), exp.DataType.build(kind, udt=True))


def _knn(t: _Translator, spec: object) -> tuple[list[exp.Expr], exp.Expr, exp.Expr | None, int]:
    """Top-level ``knn`` -> (filter conditions, distance expression, ES-like score, k)."""
    if isinstance(spec, list):
        if len(spec) != 1:
            raise _Unsupported("more than one knn search is not translated")
        spec = spec[0]
        path = "knn[0]"
    else:
        path = "knn"
    if not isinstance(spec, dict):
        raise _fail(path, f"expected an object, got {_typename(spec)}")
    if "query_vector_builder" in spec:
        raise _Unsupported("query_vector_builder (embedding inference) is not translated")
    for key in ("field", "query_vector"):
        if key not in spec:
            raise _fail(path, f"[knn] requires '{key}'")
    fc = t.field_of(spec["field"], f"{path}.field")
    if fc.es_type != "dense_vector":
        raise _fail(f"{path}.field", f"field '{fc.es_field}' is {fc.es_type}, not dense_vector")
    vector = _vector_literal(spec["query_vector"], fc, f"{path}.query_vector")
    k = _int(spec.get("k", DEFAULT_SIZE), f"{path}.k", minimum=1)
    if "num_candidates" in spec:
        t.note("knn num_candidates ignored (tune hnsw.ef_search in PostgreSQL)")
    if "similarity" in spec:
        t.skip(f"{path}.similarity", "a knn similarity threshold is not translated")
    conds: list[exp.Expr] = []
    if "filter" in spec:
        for clause, cpath in _clauses(spec["filter"], f"{path}.filter"):
            res = t.query(clause, cpath, scoring=False)
            if res is not None:
                conds.append(res.cond)
    similarity = fc.vector_similarity or "cosine"
    if fc.vector_similarity is None:
        t.note(f"knn on '{fc.es_field}': similarity unknown in the field map, cosine distance (<=>) used")
    operator = _VECTOR_OPS.get(similarity)
    if operator is None:
        raise _Unsupported(f"vector similarity '{similarity}' has no pgvector operator here")
    distance = _op(t.col(fc), operator, vector)
    score: exp.Expr | None
    if similarity == "cosine":
        score = exp.Sub(
            this=_num(1), expression=exp.Div(this=exp.paren(distance.copy(), copy=False), expression=_num(2))
        )
    elif similarity == "l2_norm":
        square = exp.Mul(this=exp.paren(distance.copy(), copy=False), expression=exp.paren(distance.copy(), copy=False))
        score = exp.Div(this=_num(1), expression=exp.paren(exp.Add(this=_num(1), expression=square), copy=False))
    else:
        # <#> is the negative inner product; ES dot_product score = (1 + dot) / 2.
        score = exp.Div(
            this=exp.paren(exp.Sub(this=_num(1), expression=exp.paren(distance.copy(), copy=False)), copy=False),
            expression=_num(2),
        )
    return conds, distance, score, k


def _agg_column(t: _Translator, fc: FieldColumn, kind: str) -> exp.Expr:
    """The grouped/aggregated column of an aggregation; _Unsupported where SQL would mislead."""
    if fc.es_type in TEXT_TYPES:
        raise _Unsupported(f"{kind} on analysed text field '{fc.es_field}' (ES rejects it: fielddata)")
    if fc.jsonb_path or fc.is_array or fc.es_type in JSON_TYPES:
        raise _Unsupported(f"{kind} on '{fc.es_field}' inside jsonb / an array column is not translated")
    return t.col(fc)


def _metric(t: _Translator, kind: str, body: object, path: str) -> list[tuple[str, exp.Expr]]:
    """A metric aggregation as (output name, aggregate expression) pairs."""
    if not isinstance(body, dict):
        raise _fail(path, f"expected an object, got {_typename(body)}")
    if "script" in body:
        raise _Unsupported("script in an aggregation is not translated")
    if "field" not in body:
        raise _fail(path, f"[{kind}] requires 'field'")
    fc = t.field_of(body["field"], f"{path}.field")
    column = _agg_column(t, fc, kind)
    if "missing" in body:
        column = exp.Coalesce(this=column, expressions=[t.value(fc, body["missing"], f"{path}.missing")])
    numeric_only = kind in ("avg", "sum", "stats")
    if numeric_only and fc.es_type not in NUMERIC_TYPES:
        raise _Unsupported(f"{kind} on a {fc.es_type} field '{fc.es_field}' is not translated")
    if kind == "cardinality":
        t.note("cardinality: exact count(DISTINCT) (Elasticsearch's HyperLogLog is approximate)")
        return [("value", exp.Count(this=exp.Distinct(expressions=[column])))]
    if kind == "value_count":
        return [("value", exp.Count(this=column))]
    if kind == "stats":
        return [
            ("count", exp.Count(this=column)),
            ("min", exp.Min(this=column.copy())),
            ("max", exp.Max(this=column.copy())),
            ("avg", exp.Avg(this=column.copy())),
            ("sum", exp.Sum(this=column.copy())),
        ]
    func = {"avg": exp.Avg, "sum": exp.Sum, "min": exp.Min, "max": exp.Max}[kind]
    return [("value", func(this=column))]


def _agg_kind(spec: object, path: str) -> tuple[str, Any, dict[str, Any]]:
    """(type, body, sub-aggregations) of one aggregation object."""
    if not isinstance(spec, dict):
        raise _fail(path, f"expected an aggregation object, got {_typename(spec)}")
    subs = spec.get("aggs", spec.get("aggregations", {}))
    if not isinstance(subs, dict):
        raise _fail(f"{path}.aggs", "expected an object of aggregations")
    kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
    if len(kinds) != 1:
        raise _fail(path, f"expected exactly one aggregation type, got {len(kinds)} ({', '.join(kinds) or 'none'})")
    return kinds[0], spec[kinds[0]], subs


def _aggregation(t: _Translator, name: str, spec: object, where: exp.Expr) -> str:
    """One aggregation as a SQL statement (columns: key, doc_count, metrics; or a metric's value)."""
    path = f"aggs.{name}"
    kind, body, subs = _agg_kind(spec, path)
    here = f"{path}.{kind}"
    table = t.table()
    if kind in _METRICS:
        if subs:
            raise _Unsupported("sub-aggregations under a metric aggregation")
        cols = _metric(t, kind, body, here)
        select = exp.select(*[exp.alias_(e, n, quoted=True) for n, e in cols]).from_(table).where(where.copy())
        return _render(select)
    if kind not in ("terms", "date_histogram"):
        raise _Unsupported(f"{kind} aggregation is not translated (terms, date_histogram and metrics are)")
    if not isinstance(body, dict) or "field" not in body:
        raise _fail(here, f"[{kind}] requires 'field'")
    if "script" in body:
        raise _Unsupported("script in an aggregation is not translated")
    fc = t.field_of(body["field"], f"{here}.field")
    column = _agg_column(t, fc, kind)
    sub_cols: list[tuple[str, exp.Expr]] = []
    for sub_name, sub_spec in subs.items():
        sub_kind, sub_body, sub_subs = _agg_kind(sub_spec, f"{path}.aggs.{sub_name}")
        if sub_kind not in _METRICS or sub_subs:
            raise _Unsupported(
                f"sub-aggregation '{sub_name}' ({sub_kind}): only metric sub-aggregations are translated"
            )
        for out_name, expr in _metric(t, sub_kind, sub_body, f"{path}.aggs.{sub_name}.{sub_kind}"):
            sub_cols.append((sub_name if out_name == "value" else f"{sub_name}.{out_name}", expr))
    count = exp.Count(this=exp.Star())
    conds = [where.copy()]
    if kind == "terms":
        size = _int(body.get("size", DEFAULT_SIZE), f"{here}.size", minimum=1)
        for key in ("include", "exclude", "script", "collect_mode", "execution_hint"):
            if key in ("include", "exclude") and key in body:
                raise _Unsupported(f"terms {key} filtering is not translated")
        key_expr: exp.Expr = column
        if "missing" in body:
            key_expr = exp.Coalesce(this=column, expressions=[t.value(fc, body["missing"], f"{here}.missing")])
        else:
            conds.append(exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null())))
        min_doc_count = _int(body.get("min_doc_count", 1), f"{here}.min_doc_count")
        if min_doc_count == 0:
            t.note(f"aggs.{name}: min_doc_count 0 (zero-count terms) is not reproduced")
        t.note("terms aggregation: exact counts (Elasticsearch's are per-shard approximations)")
        order = _terms_order(t, body.get("order"), f"{here}.order", {n for n, _ in sub_cols})
        select = (
            exp.select(
                exp.alias_(key_expr, "key", quoted=True),
                exp.alias_(count, "doc_count", quoted=True),
                *[exp.alias_(e, n, quoted=True) for n, e in sub_cols],
            )
            .from_(table)
            .where(_and(conds))
            .group_by(key_expr.copy())
            .order_by(*order)
            .limit(size)
        )
        if min_doc_count > 1:
            select = select.having(exp.GTE(this=count.copy(), expression=_num(min_doc_count)))
        return _render(select)
    # date_histogram
    if fc.es_type not in DATE_TYPES:
        raise _Unsupported(f"date_histogram on a {fc.es_type} field is not translated")
    for key in ("offset", "extended_bounds", "hard_bounds"):
        if key in body:
            raise _Unsupported(f"date_histogram {key} is not translated")
    tz = body.get("time_zone", "UTC")
    if not isinstance(tz, str):
        raise _fail(f"{here}.time_zone", "expected a time zone name")
    calendar = body.get("calendar_interval")
    fixed = body.get("fixed_interval")
    legacy = body.get("interval")
    if calendar is None and fixed is None and legacy is not None:
        calendar, fixed = (legacy, None) if str(legacy) in _CALENDAR else (None, legacy)
    if calendar is not None:
        unit = _CALENDAR.get(str(calendar))
        if unit is None:
            raise _fail(f"{here}.calendar_interval", f"{calendar!r} is not a calendar interval (1m 1h 1d 1w 1M 1q 1y)")
        bucket = _fn("date_trunc", _s(unit), column, _s(tz))
    elif fixed is not None:
        m = _FIXED.match(str(fixed))
        if m is None:
            raise _fail(f"{here}.fixed_interval", f"{fixed!r} is not a fixed interval like 30s, 5m, 12h, 2d")
        interval = exp.Interval(this=_s(f"{int(m.group(1))} {_FIXED_UNITS[m.group(2)]}"))
        origin = exp.cast(_s("1970-01-01T00:00:00Z"), exp.DataType.build("timestamptz", dialect="postgres"))
        bucket = _fn("date_bin", interval, column, origin)
        if tz != "UTC":
            t.note(f"aggs.{name}: fixed_interval buckets are aligned to the UTC epoch (time_zone ignored)")
    else:
        raise _fail(here, "[date_histogram] requires calendar_interval or fixed_interval")
    min_doc_count = _int(body.get("min_doc_count", 0), f"{here}.min_doc_count")
    if min_doc_count == 0:
        t.note(f"aggs.{name}: empty date_histogram buckets are not generated (only buckets with documents)")
    if "format" in body:
        t.note(f"aggs.{name}: format ignored; keys are timestamptz")
    conds.append(exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null())))
    order_spec = body.get("order")
    order = (
        _terms_order(t, order_spec, f"{here}.order", {n for n, _ in sub_cols})
        if order_spec is not None
        else [exp.Ordered(this=exp.column("key", quoted=True), desc=False, nulls_first=False)]
    )
    select = (
        exp.select(
            exp.alias_(bucket, "key", quoted=True),
            exp.alias_(count, "doc_count", quoted=True),
            *[exp.alias_(e, n, quoted=True) for n, e in sub_cols],
        )
        .from_(table)
        .where(_and(conds))
        .group_by(bucket.copy())
        .order_by(*order)
    )
    if min_doc_count > 1:
        select = select.having(exp.GTE(this=count.copy(), expression=_num(min_doc_count)))
    return _render(select)


def _terms_order(t: _Translator, spec: object, path: str, metrics: set[str]) -> list[exp.Ordered]:
    """ES bucket ``order`` (``_count``/``_key``/a metric sub-aggregation) + the ``_key`` tie-break."""
    out: list[exp.Ordered] = []
    items = [] if spec is None else (spec if isinstance(spec, list) else [spec])
    for i, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise _fail(f"{path}[{i}]", 'expected {"_count"|"_key"|metric: "asc"|"desc"}')
        key, direction = next(iter(item.items()))
        if str(direction).lower() not in ("asc", "desc"):
            raise _fail(f"{path}.{key}", f"expected asc or desc, got {direction!r}")
        column = {"_count": "doc_count", "_key": "key", "_term": "key"}.get(key, key)
        if column not in ("doc_count", "key") and column not in metrics:
            raise _fail(f"{path}.{key}", f"unknown order key '{key}' (not _count, _key or a metric sub-aggregation)")
        out.append(exp.Ordered(this=exp.column(column, quoted=True), desc=str(direction).lower() == "desc",
                               nulls_first=False))  # fmt: skip
    if not items:
        out.append(exp.Ordered(this=exp.column("doc_count", quoted=True), desc=True, nulls_first=False))
    out.append(exp.Ordered(this=exp.column("key", quoted=True), desc=False, nulls_first=False))
    return out


# --------------------------------------------------------------------------------------------
# Entry point


def translate(query: dict[str, Any], fields: FieldMap, *, dialect: str = "postgres") -> Translation:
    """Translate an Elasticsearch search body into PostgreSQL statements (see the module docstring).

    ``query`` is the whole ``_search`` body (``{"query": ..., "sort": ..., "size": ...}``).
    Raises :class:`~pgconsolidate.errors.UsageError` naming the JSON path for malformed input;
    untranslatable clauses end up in ``Translation.unsupported`` instead.
    """
    if dialect != "postgres":
        raise UsageError(f"unsupported SQL dialect {dialect!r}: only 'postgres' is generated")
    if not isinstance(query, dict):
        raise UsageError(f"the search request must be a JSON object, got {_typename(query)}")
    unknown = [k for k in query if k not in _BODY_KEYS]
    if unknown:
        looks_like_query = [k for k in unknown if k in _HANDLERS or k in _LEAF_UNSUPPORTED]
        hint = 'wrap the query: {"query": {...}}' if looks_like_query else None
        raise UsageError(f"unknown key(s) in the search request: {', '.join(map(str, unknown))}", hint=hint)
    if "aggs" in query and "aggregations" in query:
        raise UsageError("the search request has both 'aggs' and 'aggregations'")
    t = _Translator(fields)
    for key, note in _BODY_IGNORED.items():
        if key in query:
            t.note(note)
    for key, reason in _BODY_UNSUPPORTED.items():
        if key in query:
            t.skip(key, reason)

    size = _int(query.get("size", DEFAULT_SIZE), "size")
    offset = _int(query.get("from", 0), "from")
    if offset + size > MAX_RESULT_WINDOW:
        t.note(f"from + size = {offset + size} exceeds Elasticsearch's default max_result_window ({MAX_RESULT_WINDOW})")

    where: exp.Expr = exp.true()
    score: exp.Expr | None = None
    if "query" in query:
        res = t.query(query["query"], "query")
        if res is not None:
            where, score = res.cond, res.score

    knn_distance: exp.Expr | None = None
    knn_k: int | None = None
    if "knn" in query:
        if "query" in query:
            t.skip("knn", "knn together with query (hybrid retrieval) is not translated; the query part is")
        else:
            try:
                knn_conds, knn_distance, score, knn_k = _knn(t, query["knn"])
                where = _and(knn_conds)
            except _Unsupported as exc:
                t.skip("knn", exc.reason)

    hits_where = where
    if "post_filter" in query:
        post = t.query(query["post_filter"], "post_filter", scoring=False)
        if post is not None:
            hits_where = _and([where, post.cond])

    projection = _projection(t, query.get("_source"))
    if score is not None:
        projection.append(("_score", score.copy()))

    if knn_distance is not None:
        default_keys = [_SortKey(knn_distance, False, False)]
    elif score is not None:
        default_keys = [_SortKey(score.copy(), True, False)]
    else:
        default_keys = []
        t.note("no sort and no scoring clause: hits are ordered by the id column (ES returns index order)")
    keys = _sort_keys(t, query.get("sort"), score, default_keys)
    if knn_distance is not None and "sort" in query:
        t.note("knn with sort: the top k neighbours are re-sorted as requested")
    # the id makes equal sort keys deterministic (Elasticsearch breaks ties by shard/doc order).
    if not any(k.expr == t.id_col() for k in keys):
        keys.append(_SortKey(t.id_col(), False, False))

    if knn_k is not None:
        size = max(0, min(size, knn_k - offset))

    hl = _highlights(t, query["highlight"]) if "highlight" in query else []
    table = t.table()
    if not hl:
        page = (
            exp.select(*[exp.alias_(e, n, quoted=True) for n, e in projection])
            .from_(table)
            .where(hits_where.copy())
            .order_by(*_ordered(keys))
            .limit(size)
            .offset(offset)
        )
        sql = _render(page)
    else:
        # ts_headline is expensive: compute it only for the rows of the requested page.
        hidden = [(f"_pgc_sort_{i}", k.expr) for i, k in enumerate(keys)]
        docs = [(f"_pgc_hl_{i}", doc) for i, (_, doc, _, _) in enumerate(hl)]
        inner = (
            exp.select(*[exp.alias_(e.copy(), n, quoted=True) for n, e in [*projection, *hidden, *docs]])
            .from_(table)
            .where(hits_where.copy())
            .order_by(*_ordered(keys))
            .limit(size)
            .offset(offset)
        )
        outer_cols: list[exp.Expr] = [
            exp.alias_(exp.column(n, table="page", quoted=True), n, quoted=True) for n, _ in projection
        ]
        for i, (fname, _, tsq, options) in enumerate(hl):
            headline = _fn(
                "ts_headline", t.cfg(), exp.column(f"_pgc_hl_{i}", table="page", quoted=True), tsq, _s(options)
            )
            outer_cols.append(exp.alias_(headline, f"highlight.{fname}", quoted=True))
        outer_keys = [
            _SortKey(exp.column(n, table="page", quoted=True), k.desc, k.nulls_first)
            for (n, _), k in zip(hidden, keys, strict=True)
        ]
        sql_stmt = (
            exp.select(*outer_cols)
            .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("page", quoted=True))))
            .order_by(*_ordered(outer_keys))
        )
        sql = _render(sql_stmt)
        t.note("highlight: ts_headline fragments differ from Elasticsearch's highlighter output")

    if knn_k is not None:
        limited = exp.select(exp.Literal.number(1)).from_(table).where(hits_where.copy()).limit(knn_k)
        count_sql_stmt = exp.select(exp.alias_(exp.Count(this=exp.Star()), "total", quoted=True)).from_(
            exp.Subquery(this=limited, alias=exp.TableAlias(this=exp.to_identifier("knn", quoted=True)))
        )
        count_sql = _render(count_sql_stmt)
    else:
        count_sql_stmt = (
            exp.select(exp.alias_(exp.Count(this=exp.Star()), "total", quoted=True))
            .from_(table)
            .where(hits_where.copy())
        )
        count_sql = _render(count_sql_stmt)

    aggregations: dict[str, str] = {}
    aggs = query.get("aggs", query.get("aggregations"))
    if aggs is not None:
        if not isinstance(aggs, dict):
            raise UsageError(f"aggs: expected an object of named aggregations, got {_typename(aggs)}")
        for name, spec in aggs.items():
            try:
                aggregations[name] = _aggregation(t, name, spec, where)
            except _Unsupported as exc:
                t.skip(f"aggs.{name}", exc.reason)
        if "post_filter" in query:
            t.note("aggregations ignore post_filter (as in Elasticsearch)")

    return Translation(
        sql=sql,
        params=None,
        unsupported=t.unsupported,
        highlight=bool(hl),
        count_sql=count_sql,
        notes=t.notes,
        aggregations=aggregations,
    )
