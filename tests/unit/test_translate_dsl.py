"""Unit-test table of the Elasticsearch Query DSL -> PostgreSQL translator (pure, no database).

Every case checks that the expected SQL fragments (the ES semantics written down as SQL) are in
the generated statement and that each statement parses back as PostgreSQL with sqlglot. Running
the SQL for real is tests/integration/test_translate_pg.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlglot
from pydantic import ValidationError
from sqlglot import exp

from pgconsolidate.errors import UsageError
from pgconsolidate.translate import FieldColumn, FieldMap, Translation, translate


def _c(field: str, column: str, es_type: str, pg_type: str, path: list[str] | None = None, **kw: Any) -> FieldColumn:
    return FieldColumn(es_field=field, column=column, es_type=es_type, pg_type=pg_type, jsonb_path=path, **kw)


FM = FieldMap(
    table="articles",
    columns={
        c.es_field: c
        for c in [
            _c("title", "title", "text", "text"),
            _c("title.raw", "title_raw", "keyword", "text"),
            _c("body", "body", "text", "text"),
            _c("summary", "summary", "text", "text"),  # text, but not part of the tsvector column
            _c("status", "status", "keyword", "text"),
            _c("tags", "tags", "keyword", "text[]"),
            _c("views", "views", "long", "bigint"),
            _c("rating", "rating", "double", "double precision"),
            _c("published", "published", "boolean", "boolean"),
            _c("created_at", "created_at", "date", "timestamptz"),
            _c("client_ip", "client_ip", "ip", "inet"),
            _c("Order", "order_", "keyword", "text"),  # reserved word, mapped by the planner
            _c("author", "author", "object", "jsonb"),
            _c("author.name", "author", "keyword", "jsonb", ["name"]),
            _c("author.age", "author", "integer", "jsonb", ["age"]),
            _c("comments", "comments", "nested", "jsonb"),
            _c("comments.user", "comments", "keyword", "jsonb", ["user"]),
            _c("comments.text", "comments", "text", "jsonb", ["text"]),
            _c("labels", "labels", "flattened", "jsonb"),
            _c("embedding", "embedding", "dense_vector", "vector(3)", vector_similarity="cosine"),
            _c("big_vec", "big_vec", "dense_vector", "halfvec(4)", vector_similarity="l2_norm"),
        ]
    },
    tsvector_column="search_tsv",
    ts_config="english",
    text_fields=["title", "body"],
    has_trgm=True,
    time_field="created_at",
)
NO_TRGM = FM.model_copy(update={"has_trgm": False})


def _parses(statement: str) -> None:
    """The statement is one valid PostgreSQL statement for sqlglot."""
    tree = sqlglot.parse_one(statement, read="postgres")
    assert isinstance(tree, exp.Select | exp.Subquery), statement


def _check(t: Translation) -> None:
    """Every SQL text of a translation parses back."""
    _parses(t.sql)
    _parses(t.count_sql)
    for statement in t.aggregations.values():
        _parses(statement)


def _where(t: Translation) -> str:
    """The WHERE condition of the count statement (the hits' filter without ordering/paging)."""
    assert t.count_sql.startswith('SELECT COUNT(*) AS "total" FROM "public"."articles"')
    return t.count_sql.split(" WHERE ", 1)[1] if " WHERE " in t.count_sql else ""


TSQ = "PLAINTO_TSQUERY('english', {})"

# (case id, search body, fragments that must appear in the WHERE condition)
WHERE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("match_all", {"query": {"match_all": {}}}, []),
    ("match_none", {"query": {"match_none": {}}}, ["FALSE"]),
    ("match or single word", {"query": {"match": {"title": "postgres"}}},
     ['"search_tsv" @@ ' + TSQ.format("'postgres'"), "TO_TSVECTOR('english', COALESCE(\"title\", '')) @@"]),
    ("match or two words -> tsquery OR of plainto", {"query": {"match": {"title": "postgres rust"}}},
     [TSQ.format("'postgres'") + " || " + TSQ.format("'rust'")]),
    ("match and -> plainto_tsquery", {"query": {"match": {"body": {"query": "quick fox", "operator": "and"}}}},
     ['"search_tsv" @@ ' + TSQ.format("'quick fox'")]),
    ("match msm 100% = and", {"query": {"match": {"body": {"query": "a b", "minimum_should_match": "100%"}}}},
     [TSQ.format("'a b'")]),
    ("match on keyword -> equality", {"query": {"match": {"status": "published"}}}, ["\"status\" = 'published'"]),
    ("match on numeric -> equality", {"query": {"match": {"views": "42"}}}, ['"views" = 42']),
    ("match on text outside the tsvector", {"query": {"match": {"summary": {"query": "x y", "operator": "and"}}}},
     ["TO_TSVECTOR('english', COALESCE(\"summary\", '')) @@ " + TSQ.format("'x y'")]),
    ("match fuzziness -> pg_trgm word similarity", {"query": {"match": {"title": {"query": "postgras",
                                                                                  "fuzziness": "AUTO"}}}},
     ["CAST('postgras' AS TEXT) OPERATOR(<%) \"title\""]),
    ("match_phrase -> phraseto_tsquery", {"query": {"match_phrase": {"body": "borrow checker"}}},
     ["PHRASETO_TSQUERY('english', 'borrow checker')"]),
    ("multi_match all fields via tsvector", {"query": {"multi_match": {"query": "fox", "fields": ["title", "body"]}}},
     ['"search_tsv" @@ ' + TSQ.format("'fox'")]),
    ("multi_match no fields = all text fields", {"query": {"multi_match": {"query": "fox"}}},
     ['"search_tsv" @@ ' + TSQ.format("'fox'")]),
    ("multi_match phrase per field", {"query": {"multi_match": {"query": "a b", "type": "phrase",
                                                                "fields": ["title", "body"]}}},
     ["TO_TSVECTOR('english', COALESCE(\"title\", '')) @@ PHRASETO_TSQUERY",
      "TO_TSVECTOR('english', COALESCE(\"body\", '')) @@ PHRASETO_TSQUERY", " OR "]),
    ("multi_match wildcard fields", {"query": {"multi_match": {"query": "x", "fields": ["title*"]}}},
     ['"title"', "\"title_raw\" = 'x'"]),
    ("query_string terms and field", {"query": {"query_string": {"query": "status:draft fox"}}},
     ["\"status\" = 'draft'", '"search_tsv" @@ ' + TSQ.format("'fox'"), " OR "]),
    ("query_string AND NOT phrase", {"query": {"query_string": {"query": 'fox AND NOT "lazy dog"'}}},
     ['"search_tsv" @@ ' + TSQ.format("'fox'"), "NOT ((\"search_tsv\" @@ PHRASETO_TSQUERY('english', 'lazy dog'))"
      " IS TRUE)"]),
    ("query_string default_operator AND", {"query": {"query_string": {"query": "a b", "default_operator": "AND",
                                                                      "default_field": "status"}}},
     ["\"status\" = 'a' AND \"status\" = 'b'"]),
    ("term keyword", {"query": {"term": {"status": "draft"}}}, ["\"status\" = 'draft'"]),
    ("term object form + case_insensitive", {"query": {"term": {"status": {"value": "Dr", "case_insensitive": True}}}},
     ["LOWER(\"status\") = LOWER('Dr')"]),
    ("term boolean string", {"query": {"term": {"published": "true"}}}, ['"published" = TRUE']),
    ("term double", {"query": {"term": {"rating": 4.5}}}, ['"rating" = 4.5']),
    ("term ip cidr -> <<=", {"query": {"term": {"client_ip": "10.0.0.0/8"}}},
     ["\"client_ip\" OPERATOR(<<=) CAST('10.0.0.0/8' AS INET)"]),
    ("term on array column -> @>", {"query": {"term": {"tags": "db"}}}, ["\"tags\" @> ARRAY['db']"]),
    ("term on text -> exact lexeme", {"query": {"term": {"body": "memori"}}},
     ["TSVECTOR_TO_ARRAY(TO_TSVECTOR('english', COALESCE(\"body\", ''))) @> ARRAY['memori']"]),
    ("term jsonb path uses a jsonpath variable", {"query": {"term": {"author.name": "Alice"}}},
     ["JSONB_PATH_EXISTS(\"author\", '$.\"name\" ? (@ == $v)', JSONB_BUILD_OBJECT('v', 'Alice'))"]),
    ("term reserved-word field", {"query": {"term": {"Order": "x"}}}, ["\"order_\" = 'x'"]),
    ("term flattened sub-field", {"query": {"term": {"labels.env": "prod"}}},
     ["JSONB_PATH_EXISTS(\"labels\", '$.\"env\" ? (@ == $v)'"]),
    ("terms keyword -> IN", {"query": {"terms": {"status": ["a", "b"]}}}, ["\"status\" IN ('a', 'b')"]),
    ("terms empty -> FALSE", {"query": {"terms": {"status": []}}}, ["FALSE"]),
    ("terms on array -> &&", {"query": {"terms": {"tags": ["a", "b"]}}}, ["\"tags\" && ARRAY['a', 'b']"]),
    ("terms jsonb", {"query": {"terms": {"author.name": ["a", "b"]}}}, ["@ == $v0 || @ == $v1"]),
    ("range numeric", {"query": {"range": {"views": {"gte": 10, "lt": 20}}}}, ['"views" >= 10', '"views" < 20']),
    ("range legacy from/to", {"query": {"range": {"views": {"from": 1, "to": 5, "include_upper": False}}}},
     ['"views" >= 1', '"views" < 5']),
    ("range date math rounding", {"query": {"range": {"created_at": {"gte": "now-1d/d", "lte": "now/d"}}}},
     ["\"created_at\" >= DATE_TRUNC('day', NOW() - INTERVAL '1 days', 'UTC')",
      "\"created_at\" < DATE_TRUNC('day', NOW(), 'UTC') + INTERVAL '1 day'"]),
    ("range date-only lte covers the day", {"query": {"range": {"created_at": {"lte": "2024-01-31"}}}},
     ["\"created_at\" < (CAST('2024-01-31' AS TIMESTAMP) AT TIME ZONE 'UTC') + INTERVAL '1 day'"]),
    ("range date with offset and epoch millis", {"query": {"range": {"created_at": {"gt": "2024-01-01T10:00:00+02:00",
                                                                                     "lt": 1700000000000}}}},
     ["CAST('2024-01-01T10:00:00+02:00' AS TIMESTAMPTZ)", "TO_TIMESTAMP(1700000000.0)"]),
    ("range anchored date math + time_zone", {"query": {"range": {"created_at": {"gte": "2024-01-01||+1M/M",
                                                                                 "time_zone": "Europe/Paris"}}}},
     ["DATE_TRUNC('month', (CAST('2024-01-01' AS TIMESTAMP) AT TIME ZONE 'Europe/Paris') + INTERVAL '1 months', "
      "'Europe/Paris')"]),
    ("range keyword compares bytes", {"query": {"range": {"status": {"gte": "a"}}}},
     ["\"status\" COLLATE \"C\" >= 'a'"]),
    ("range jsonb", {"query": {"range": {"author.age": {"gt": 30, "lte": 40}}}},
     ["'$.\"age\" ? (@ > $gt && @ <= $lte)'"]),
    ("exists column", {"query": {"exists": {"field": "views"}}}, ['NOT "views" IS NULL']),
    ("exists array is non-empty", {"query": {"exists": {"field": "tags"}}}, ['CARDINALITY("tags") > 0']),
    ("exists jsonb path ignores JSON null", {"query": {"exists": {"field": "author.name"}}},
     ["JSONB_PATH_EXISTS(\"author\", '$.\"name\" ? (@ != null)')"]),
    ("prefix keyword escapes LIKE wildcards", {"query": {"prefix": {"status": "50%_off"}}},
     ["\"status\" LIKE '50\\%\\_off%' ESCAPE '\\'"]),
    ("prefix case_insensitive -> ILIKE", {"query": {"prefix": {"status": {"value": "ab", "case_insensitive": True}}}},
     ["\"status\" ILIKE 'ab%'"]),
    ("prefix on text -> lexeme:*", {"query": {"prefix": {"body": "it's"}}},
     ["CAST('''it''''s'':*' AS tsquery)"]),
    ("wildcard keyword", {"query": {"wildcard": {"status": "pu*l?s_"}}}, ["\"status\" LIKE 'pu%l_s\\_' ESCAPE"]),
    ("ids", {"query": {"ids": {"values": ["1", "2"]}}}, ["\"_id\" IN ('1', '2')"]),
    ("fuzzy keyword -> %", {"query": {"fuzzy": {"status": "publshed"}}},
     ["\"status\" OPERATOR(%) CAST('publshed' AS TEXT)"]),
    ("bool must/filter/must_not", {"query": {"bool": {"must": {"term": {"status": "a"}},
                                                      "filter": [{"range": {"views": {"gt": 1}}}],
                                                      "must_not": [{"term": {"tags": "x"}}]}}},
     ["\"status\" = 'a'", '"views" > 1', "NOT ((\"tags\" @> ARRAY['x']) IS TRUE)"]),
    ("bool should-only = at least one", {"query": {"bool": {"should": [{"term": {"status": "a"}},
                                                                       {"term": {"status": "b"}}]}}},
     ["(\"status\" = 'a' OR \"status\" = 'b')"]),
    ("bool should with must = optional", {"query": {"bool": {"must": {"term": {"status": "a"}},
                                                             "should": [{"term": {"tags": "b"}}]}}},
     ["\"status\" = 'a'"]),
    ("bool msm integer 2 of 3", {"query": {"bool": {"should": [{"term": {"status": "a"}}, {"term": {"tags": "b"}},
                                                               {"term": {"views": 1}}], "minimum_should_match": 2}}},
     ["CASE WHEN \"status\" = 'a' THEN 1 ELSE 0 END + CASE WHEN", ">= 2"]),
    ("bool msm percentage 67% of 3 = 2", {"query": {"bool": {"should": [{"term": {"status": "a"}},
                                                                        {"term": {"tags": "b"}},
                                                                        {"term": {"views": 1}}],
                                                             "minimum_should_match": "67%"}}},
     [">= 2"]),
    ("constant_score", {"query": {"constant_score": {"filter": {"term": {"status": "a"}}}}}, ["\"status\" = 'a'"]),
    ("dis_max", {"query": {"dis_max": {"queries": [{"term": {"status": "a"}}, {"term": {"status": "b"}}]}}},
     ["\"status\" = 'a' OR \"status\" = 'b'"]),
    ("nested", {"query": {"nested": {"path": "comments", "query": {"term": {"comments.user": "bob"}}}}},
     ["JSONB_PATH_EXISTS(\"comments\", '$.\"user\" ? (@ == $v)'"]),
    ("nested text via jsonb to_tsvector", {"query": {"match": {"comments.text": "run"}}},
     ["TO_TSVECTOR('english', JSONB_PATH_QUERY_ARRAY(\"comments\", '$.\"text\"')) @@"]),
    ("post_filter applies to hits", {"query": {"term": {"status": "a"}}, "post_filter": {"term": {"tags": "x"}}},
     ["\"status\" = 'a'", "\"tags\" @> ARRAY['x']"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "fragments"), WHERE_CASES, ids=[c[0] for c in WHERE_CASES])
def test_where_fragments(name: str, body: dict[str, Any], fragments: list[str]) -> None:
    t = translate(body, FM)
    _check(t)
    assert t.unsupported == [], t.unsupported
    where = _where(t)
    if not fragments:
        assert where == ""
    for fragment in fragments:
        assert fragment in where, f"{name}: {fragment!r} not in {where!r}"


def test_table_has_at_least_forty_cases() -> None:
    assert len(WHERE_CASES) >= 40


def test_msm_too_high_clamps_and_negative_counts_from_total() -> None:
    should = [{"term": {"status": "a"}}, {"term": {"status": "b"}}, {"term": {"status": "c"}}]
    all_three = _where(translate({"query": {"bool": {"should": should, "minimum_should_match": 5}}}, FM))
    assert " OR " not in all_three and all_three.count('"status" = \'') == 3
    minus_one = _where(translate({"query": {"bool": {"should": should, "minimum_should_match": -1}}}, FM))
    assert ">= 2" in minus_one
    zero = _where(translate({"query": {"bool": {"should": should, "minimum_should_match": "0%"}}}, FM))
    assert zero == ""


def test_should_does_not_filter_next_to_must_but_scores() -> None:
    t = translate({"query": {"bool": {"must": {"term": {"status": "a"}}, "should": {"match": {"title": "x"}}}}}, FM)
    assert "search_tsv" not in _where(t)
    assert "TS_RANK_CD" in t.sql


def test_default_page_and_score_order() -> None:
    t = translate({"query": {"match": {"title": "fox"}}}, FM)
    assert t.sql.endswith("LIMIT 10 OFFSET 0")
    order = t.sql.split("ORDER BY", 1)[1]
    assert order.lstrip().startswith("TS_RANK_CD(") and 'DESC NULLS LAST, "_id" ASC' in order
    assert '"_score"' in t.sql


def test_from_size_sort_missing() -> None:
    body = {"from": 20, "size": 5, "sort": [{"views": {"order": "asc", "missing": "_first"}}, {"status": "desc"},
                                             "_score"]}  # fmt: skip
    t = translate({**body, "query": {"match": {"title": "a"}}}, FM)
    _check(t)
    assert t.sql.endswith("LIMIT 5 OFFSET 20")
    order = t.sql.split("ORDER BY", 1)[1]
    assert order.index('"views" ASC NULLS FIRST') < order.index('"status" COLLATE "C" DESC NULLS LAST')
    assert order.index('"status"') < order.index("TS_RANK_CD")


def test_sort_missing_defaults_to_last_for_desc() -> None:
    t = translate({"sort": [{"views": "desc"}]}, FM)
    assert '"views" DESC NULLS LAST' in t.sql


def test_source_includes_excludes_and_false() -> None:
    t = translate({"_source": ["title", "author.name"]}, FM)
    select = t.sql.split(" FROM ", 1)[0]
    assert '"title" AS "title"' in select
    assert 'JSONB_EXTRACT_PATH("author", \'name\') AS "author.name"' in select
    assert '"body"' not in select
    excluded = translate({"_source": {"excludes": ["embedding", "big_vec", "comments*"]}}, FM).sql.split(" FROM ")[0]
    assert '"embedding"' not in excluded and '"comments"' not in excluded and '"title_raw"' not in excluded
    assert '"views"' in excluded
    only_id = translate({"_source": False}, FM).sql
    assert only_id.startswith('SELECT "_id" AS "_id" FROM')


def test_highlight_wraps_the_page() -> None:
    body = {"query": {"match": {"body": "fox"}}, "highlight": {"fields": {"body": {"number_of_fragments": 0}}}}
    t = translate(body, FM)
    _check(t)
    assert t.highlight
    tree = sqlglot.parse_one(t.sql, read="postgres")
    inner = tree.find(exp.Subquery)
    assert inner is not None and inner.alias == "page"
    assert inner.this.args["limit"] is not None  # the page is cut before ts_headline runs
    assert 'TS_HEADLINE(\'english\', "page"."_pgc_hl_0"' in t.sql
    assert "HighlightAll=true" in t.sql and '"highlight.body"' in t.sql


def test_highlight_without_matching_clause_is_noted() -> None:
    t = translate({"query": {"term": {"status": "a"}}, "highlight": {"fields": {"body": {}}}}, FM)
    assert not t.highlight
    assert any("highlight on 'body'" in n for n in t.notes)


def test_bm25_is_noted_for_score_sort() -> None:
    t = translate({"query": {"match": {"title": "a"}}, "sort": ["_score"]}, FM.model_copy(update={"bm25": True}))
    assert any("paradedb.score" in n for n in t.notes)


def test_track_total_hits_ignored_with_note() -> None:
    t = translate({"track_total_hits": True}, FM)
    assert any("track_total_hits" in n for n in t.notes)
    assert t.unsupported == []


def test_aggregations() -> None:
    body = {
        "size": 0,
        "query": {"term": {"published": True}},
        "aggs": {
            "by_status": {"terms": {"field": "status", "size": 3, "order": {"_key": "asc"}},
                          "aggs": {"avg_views": {"avg": {"field": "views"}}}},
            "hourly": {"date_histogram": {"field": "created_at", "fixed_interval": "90m"}},
            "daily": {"date_histogram": {"field": "created_at", "calendar_interval": "1d",
                                         "time_zone": "Europe/Paris"}},
            "uniq": {"cardinality": {"field": "status"}},
            "max_views": {"max": {"field": "views"}},
            "total": {"sum": {"field": "views"}},
            "mn": {"min": {"field": "created_at"}},
        },
    }  # fmt: skip
    t = translate(body, FM)
    _check(t)
    assert t.unsupported == []
    aggs = t.aggregations
    assert set(aggs) == {"by_status", "hourly", "daily", "uniq", "max_views", "total", "mn"}
    assert 'GROUP BY "status"' in aggs["by_status"] and "LIMIT 3" in aggs["by_status"]
    assert 'AVG("views") AS "avg_views"' in aggs["by_status"]
    assert aggs["by_status"].index('ORDER BY "key" ASC') > 0
    assert "DATE_BIN(INTERVAL '90 minutes', \"created_at\"" in aggs["hourly"]
    assert "DATE_TRUNC('day', \"created_at\", 'Europe/Paris')" in aggs["daily"]
    assert 'COUNT(DISTINCT "status")' in aggs["uniq"]
    assert 'MAX("views")' in aggs["max_views"] and 'SUM("views")' in aggs["total"] and "MIN(" in aggs["mn"]
    for statement in aggs.values():
        assert '"published" = TRUE' in statement


def test_terms_agg_default_order_is_count_desc_then_key() -> None:
    statement = translate({"aggs": {"s": {"terms": {"field": "status"}}}}, FM).aggregations["s"]
    assert 'ORDER BY "doc_count" DESC NULLS LAST, "key" ASC LIMIT 10' in statement


def test_knn_cosine_and_halfvec_l2() -> None:
    t = translate({"knn": {"field": "embedding", "query_vector": [1, 0, 0], "k": 3}}, FM)
    _check(t)
    assert "ORDER BY \"embedding\" OPERATOR(<=>) CAST('[1.0,0.0,0.0]' AS VECTOR) ASC" in t.sql
    assert t.sql.endswith("LIMIT 3 OFFSET 0")
    l2 = translate({"knn": {"field": "big_vec", "query_vector": [1, 2, 3, 4], "k": 20}, "size": 5}, FM)
    _check(l2)
    assert "ORDER BY \"big_vec\" OPERATOR(<->) CAST('[1.0,2.0,3.0,4.0]' AS halfvec) ASC" in l2.sql
    assert l2.sql.endswith("LIMIT 5 OFFSET 0")


# ----- unsupported clauses: collected with their JSON path, the rest is still translated

UNSUPPORTED_CASES: list[tuple[dict[str, Any], str]] = [
    ({"query": {"bool": {"must": [{"term": {"status": "a"}}, {"script": {"script": "doc['x']"}}]}}},
     "query.bool.must[1].script"),
    ({"query": {"function_score": {"query": {"match_all": {}}}}}, "query.function_score"),
    ({"query": {"script_score": {"query": {"match_all": {}}, "script": {}}}}, "query.script_score"),
    ({"query": {"percolate": {"field": "q", "document": {}}}}, "query.percolate"),
    ({"query": {"more_like_this": {"fields": ["title"], "like": "x"}}}, "query.more_like_this"),
    ({"query": {"geo_distance": {"distance": "1km", "loc": [0, 0]}}}, "query.geo_distance"),
    ({"query": {"span_term": {"title": "x"}}}, "query.span_term"),
    ({"query": {"nested": {"path": "comments", "query": {"match_all": {}}, "inner_hits": {}}}},
     "query.nested.inner_hits"),
    ({"query": {"match": {"nope": "x"}}}, "query.match.nope: unknown field 'nope'"),
    ({"query": {"query_string": {"query": "title:pos*"}}}, "query.query_string"),
    ({"query": {"terms": {"status": {"index": "i", "id": "1", "path": "p"}}}}, "query.terms"),
    ({"query": {"match_phrase": {"body": {"query": "a b", "slop": 2}}}}, "query.match_phrase.body.slop"),
    ({"runtime_mappings": {"x": {"type": "long"}}}, "runtime_mappings"),
    ({"suggest": {"s": {}}}, "suggest"),
    ({"collapse": {"field": "status"}}, "collapse"),
    ({"rescore": {"window_size": 10}}, "rescore"),
    ({"aggs": {"h": {"histogram": {"field": "views", "interval": 10}}}}, "aggs.h: histogram aggregation"),
    ({"aggs": {"t": {"terms": {"field": "body"}}}}, "aggs.t: terms on analysed text field"),
    ({"sort": [{"_script": {"type": "number"}}]}, "sort[0]._script"),
    ({"query": {"match": {"status": "a"}}, "knn": {"field": "embedding", "query_vector": [1, 0, 0]}},
     "knn: knn together"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "entry"), UNSUPPORTED_CASES, ids=[c[1].split(":")[0] for c in UNSUPPORTED_CASES])
def test_unsupported_is_collected_never_dropped(body: dict[str, Any], entry: str) -> None:
    t = translate(body, FM)
    _check(t)
    assert any(u.startswith(entry) for u in t.unsupported), t.unsupported


def test_unsupported_clause_leaves_the_rest_translated() -> None:
    t = translate({"query": {"bool": {"must": [{"term": {"status": "a"}}, {"script": {"script": "x"}}]}}}, FM)
    assert _where(t) == "\"status\" = 'a'"


def test_fuzziness_without_trgm_is_reported_and_matched_exactly() -> None:
    t = translate({"query": {"match": {"title": {"query": "postgras", "fuzziness": 1}}}}, NO_TRGM)
    assert t.unsupported and "pg_trgm" in t.unsupported[0]
    assert "PLAINTO_TSQUERY('english', 'postgras')" in _where(t)
    fuzzy = translate({"query": {"fuzzy": {"status": "x"}}}, NO_TRGM)
    assert fuzzy.unsupported == ["query.fuzzy: fuzzy matching needs pg_trgm (the field map says it is not installed)"]


def test_translation_is_json_serialisable() -> None:
    t = translate({"query": {"script": {"script": "x"}}, "aggs": {"u": {"cardinality": {"field": "status"}}}}, FM)
    data = json.loads(t.model_dump_json())
    assert set(data) == {"sql", "params", "unsupported", "highlight", "count_sql", "notes", "aggregations"}
    assert data["params"] is None and data["unsupported"]


# ----- bad input -> UsageError naming the JSON path

BAD_INPUT: list[tuple[object, str]] = [
    ([1, 2], "must be a JSON object"),
    ("{}", "must be a JSON object"),
    ({"match": {"title": "x"}}, "unknown key(s) in the search request: match"),
    ({"query": []}, "query: expected a query object, got array"),
    ({"query": {}}, "query: a query object must hold exactly one query type, got 0"),
    ({"query": {"match": {"title": "x"}, "term": {"status": "a"}}}, "exactly one query type, got 2"),
    ({"query": {"bool": {"must": [{"matchx": {"title": "x"}}]}}}, "query.bool.must[0].matchx: unknown query type"),
    ({"query": {"bool": {"must": "x"}}}, "query.bool.must: expected a query object or an array"),
    ({"query": {"bool": {"must": [1]}}}, "query.bool.must[0]: expected a query object, got number"),
    ({"query": {"bool": {"shoud": []}}}, "query.bool: [bool] query does not support [shoud]"),
    ({"query": {"term": {"status": "a", "views": 1}}}, "query.term: [term] expects exactly one field, got 2"),
    ({"query": {"terms": {"status": "a"}}}, "query.terms.status: [terms] expects an array"),
    ({"query": {"range": {"views": 5}}}, "query.range.views: [range] expects an object of bounds"),
    ({"query": {"range": {"views": {"gte": "abc"}}}}, "query.range.views.gte: 'abc' is not a number"),
    ({"query": {"range": {"created_at": {"gte": "yesterday"}}}}, "query.range.created_at.gte: 'yesterday' is not"),
    ({"query": {"range": {"views": {"gt": 1, "between": 2}}}}, "[range] does not support between"),
    ({"query": {"term": {"published": "maybe"}}}, "query.term.published.value: 'maybe' is not a boolean"),
    ({"query": {"match": {"title": {"operator": "and"}}}}, "query.match.title: [match] requires 'query'"),
    ({"query": {"match": {"title": {"query": "x", "operator": "xor"}}}}, "query.match.title.operator"),
    ({"query": {"ids": ["1"]}}, "query.ids: [ids] expects"),
    ({"size": -1}, "size: must be >= 0"),
    ({"from": "x"}, "from: 'x' is not an integer"),
    ({"sort": [{"views": "up"}]}, "sort[0].views.order: expected asc or desc"),
    ({"_source": 5}, "_source: expected a boolean"),
    ({"aggs": []}, "aggs: expected an object"),
    ({"aggs": {"x": {"terms": {"field": "status"}, "avg": {"field": "views"}}}}, "aggs.x: expected exactly one"),
    ({"aggs": {"x": {"date_histogram": {"field": "created_at", "calendar_interval": "2d"}}}},
     "aggs.x.date_histogram.calendar_interval"),
    ({"knn": {"field": "embedding", "query_vector": [1, 0]}}, "knn.query_vector: query vector has 2 dimensions"),
    ({"highlight": {"fields": 3}}, "highlight.fields: expected an object"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_raises_usage_error_naming_the_path(body: Any, message: str) -> None:
    with pytest.raises(UsageError) as err:
        translate(body, FM)
    assert message in str(err.value)


def test_only_postgres_dialect() -> None:
    with pytest.raises(UsageError, match="only 'postgres'"):
        translate({}, FM, dialect="mysql")


def test_fieldmap_keys_must_match_es_field() -> None:
    with pytest.raises(ValidationError, match="must equal es_field"):
        FieldMap(table="t", columns={"a": _c("b", "b", "keyword", "text")})


def test_values_never_become_sql_text() -> None:
    nasty = "x'); DROP TABLE articles; --"
    for query in ({"term": {"status": nasty}}, {"match": {"title": nasty}}, {"prefix": {"status": nasty}},
                  {"term": {"author.name": nasty}}, {"match_phrase": {"body": nasty}}):  # fmt: skip
        t = translate({"query": query}, FM)
        statements = sqlglot.parse(t.sql, read="postgres")
        assert len(statements) == 1 and statements[0] is not None
        assert not list(statements[0].find_all(exp.Drop))
        literals = [lit.this for lit in statements[0].find_all(exp.Literal) if lit.is_string]
        # the value survives whole (or split into words by the OR tsquery) inside string literals.
        assert any(nasty in text for text in literals) or "DROP" in literals
