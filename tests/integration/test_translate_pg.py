"""Translated Elasticsearch queries run for real against PostgreSQL 18 and return the expected ids.

The table is shaped like a planner-made one (typed columns, a weighted generated tsvector, jsonb
objects and nested arrays, a text[] keyword array, pgvector). Expected ids come from the row data
below (Python predicates over ``ROWS`` for term-level queries; the designed text for full-text
ones), never from the translator's own output.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlglot
from psycopg import sql

from pgconsolidate.translate import FieldColumn, FieldMap, Translation, translate

NOW = datetime.now(UTC)


def _c(field: str, column: str, es_type: str, pg_type: str, path: list[str] | None = None, **kw: Any) -> FieldColumn:
    return FieldColumn(es_field=field, column=column, es_type=es_type, pg_type=pg_type, jsonb_path=path, **kw)


FIELDS = FieldMap(
    table_schema="search",
    table="Articles",  # mixed case: identifiers must be quoted everywhere
    id_column="_id",
    columns={
        c.es_field: c
        for c in [
            _c("title", "title", "text", "text"),
            _c("title.raw", "title_raw", "keyword", "text"),
            _c("body", "body", "text", "text"),
            _c("status", "status", "keyword", "text"),
            _c("tags", "tags", "keyword", "text[]"),
            _c("views", "views", "long", "bigint"),
            _c("created_at", "created_at", "date", "timestamptz"),
            _c("author", "author", "object", "jsonb"),
            _c("author.name", "author", "keyword", "jsonb", ["name"]),
            _c("author.age", "author", "integer", "jsonb", ["age"]),
            _c("comments", "comments", "nested", "jsonb"),
            _c("comments.user", "comments", "keyword", "jsonb", ["user"]),
            _c("comments.text", "comments", "text", "jsonb", ["text"]),
            _c("labels", "labels", "flattened", "jsonb"),
            _c("embedding", "embedding", "dense_vector", "vector(3)", vector_similarity="cosine"),
        ]
    },
    tsvector_column="search_tsv",
    ts_config="english",
    text_fields=["title", "body"],
    has_trgm=True,
    time_field="created_at",
)

# (id, title, body, status, tags, views, age of the document, author, comments, labels, embedding)
_RAW: list[tuple[Any, ...]] = [
    ("a01", "Postgres full text search", "tsvector and tsquery make search fast", "published", ["db", "search"],
     120, timedelta(hours=1), {"name": "Alice", "age": 30}, [{"user": "bob", "text": "running queries"}],
     {"env": "prod"}, [1, 0, 0]),
    ("a02", "Rust ownership explained", "the borrow checker keeps memory safe", "published", ["rust"],
     250, timedelta(days=3), {"name": "Bob", "age": 41}, [{"user": "alice", "text": "clear"}],
     {"env": "dev"}, [0, 1, 0]),
    ("a03", "Postgres and Rust together", "writing extensions in rust with pgrx", "draft", ["db", "rust"],
     50, timedelta(days=10), {"name": "Carol", "age": 25}, [], {"env": "prod"}, [0.7, 0.7, 0]),
    ("a04", "Cooking pasta at home", "boil water, add salt, cook the pasta", "published", ["food"],
     10, timedelta(hours=5), {"name": "Dave", "age": 52}, [{"user": "erin", "text": "tasty"}], None, [0, 0, 1]),
    ("a05", "Search engines compared", "elasticsearch and postgres both search text", "published",
     ["search"], 300, timedelta(days=1, hours=1), {"name": None, "age": 35}, [], {"env": "prod"}, [0.9, 0.1, 0]),
    ("a06", "The borrow checker", "rust memory safety without a garbage collector", "archived", ["rust"],
     75, timedelta(days=40), None, [{"user": "bob", "text": "the borrow checker rocks"}], None, [0.1, 0.9, 0]),
    ("a07", "Gardening for beginners", "plant tomatoes in spring", "published", [], 5, timedelta(days=2),
     {"name": "Erin"}, [], {"env": "dev"}, [0, 0.2, 0.9]),
    ("a08", "Quick brown fox", "the quick brown fox jumps over the lazy dog", "published", ["animals"],
     42, timedelta(hours=2), {"name": "Frank", "age": 60}, [{"user": "gina", "text": "classic"}], None,
     [0.3, 0.3, 0.3]),
    ("a09", "Lazy dogs sleep", "a dog that is lazy sleeps all day; no fox here", "draft", ["animals"],
     8, timedelta(days=5), {"name": "Gina", "age": 22}, [], None, [0.2, 0.2, 0.5]),
    ("a10", "Postgres indexing tips", "btree gin gist and brin indexes in postgres", "published",
     ["db"], 180, timedelta(days=7), {"name": "Alice", "age": 30}, [{"user": "carol", "text": "useful"}],
     {"env": "prod", "tier": "gold"}, [0.95, 0.05, 0.05]),
    ("a11", "Pasta sauce secrets", "tomatoes garlic olive oil and basil", "published", ["food"],
     33, timedelta(days=12), {"name": "Hank", "age": 47}, [], None, [0, 0.1, 1]),
    ("a12", "Memory safe systems programming", "rust and modern c++ compared", "published", ["rust", "cpp"],
     90, timedelta(days=4), {"name": "Ivy", "age": 29}, [{"user": "bob", "text": "nice"}], {"env": "dev"},
     [0.2, 0.95, 0]),
    ("a13", "Full text search in practice", "stemming stop words and ranking", "draft", ["search"],
     15, timedelta(days=20), {"name": "Alice", "age": 30}, [], None, [0.8, 0.2, 0.1]),
    ("a14", "Weekend hiking trails", "mountains lakes and forest paths", "published", ["outdoors"],
     64, timedelta(days=9), {"name": "Jack", "age": 38}, [], {"env": "prod"}, [0, 0.3, 0.8]),
    ("a15", "Baking bread", "flour water yeast and salt", "archived", ["food"], 27, timedelta(days=30),
     {"name": "Kim", "age": 33}, [], None, [0.05, 0, 0.95]),
    ("a16", "Postgres replication", "streaming and logical replication setups", "published", ["db"],
     140, timedelta(days=6), {"name": "Leo", "age": 44}, [{"user": "alice", "text": "running replicas"}],
     {"env": "prod"}, [0.9, 0, 0.1]),
    ("a17", "Fox news about foxes", "a fox family lives in the city park", "published", ["animals"],
     19, timedelta(days=8), {"name": "Mia", "age": 26}, [], None, [0.3, 0.2, 0.4]),
    ("a18", "Rust async runtimes", "tokio and async-std schedule futures", "draft", ["rust"], 71,
     timedelta(days=15), {"name": "Ned", "age": 36}, [], {"env": "dev"}, [0.1, 0.8, 0.2]),
    ("a19", "Untitled", None, "published", None, None, timedelta(days=60), None, None, None, None),
    ("a20", "Search relevance tuning", "boost fields and tune search scoring", "published", ["search"],
     210, timedelta(days=2, hours=3), {"name": "Olga", "age": 40}, [{"user": "bob", "text": "scoring"}],
     {"env": "prod"}, [0.85, 0.1, 0.2]),
]  # fmt: skip

ROWS: list[dict[str, Any]] = [
    {
        "_id": r[0],
        "title": r[1],
        "title_raw": r[1],
        "body": r[2],
        "status": r[3],
        "tags": r[4],
        "views": r[5],
        "created_at": NOW - r[6],
        "author": r[7],
        "comments": r[8],
        "labels": r[9],
        "embedding": r[10],
    }
    for r in _RAW
]

_DDL = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA search;
CREATE TABLE search."Articles" (
    _id text PRIMARY KEY,
    title text, title_raw text, body text, status text, tags text[], views bigint,
    created_at timestamptz, author jsonb, comments jsonb, labels jsonb, embedding vector(3),
    search_tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(body, '')), 'B')
    ) STORED
);
CREATE INDEX ON search."Articles" USING gin (search_tsv);
CREATE INDEX ON search."Articles" USING gin (title_raw gin_trgm_ops);
"""


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection]:
    """The fresh test database with the articles table loaded."""
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(_DDL)
        with c.cursor() as cur:
            for row in ROWS:
                cols = list(row)
                values = [
                    json.dumps(v) if k in ("author", "comments", "labels") and v is not None else v
                    for k, v in row.items()
                ]
                values = [
                    str(v) if k == "embedding" and v is not None else v for k, v in zip(cols, values, strict=True)
                ]
                cur.execute(
                    sql.SQL("INSERT INTO search.{} ({}) VALUES ({})").format(
                        sql.Identifier("Articles"),
                        sql.SQL(", ").join(map(sql.Identifier, cols)),
                        sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                    ),
                    values,
                )
        yield c


def _run(conn: psycopg.Connection, statement: str) -> list[dict[str, Any]]:
    """Execute a translated statement (no parameters: its literals are inlined) as dict rows."""
    assert sqlglot.parse_one(statement, read="postgres") is not None
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(statement.encode())  # bytes: no placeholder parsing of the % in LIKE / pg_trgm
        return list(cur.fetchall())


def _ids(conn: psycopg.Connection, t: Translation) -> list[str]:
    """The ids of the hits query, in order; also checks count_sql agrees when the page is complete."""
    assert t.unsupported == []
    ids = [r["_id"] for r in _run(conn, t.sql)]
    total = _run(conn, t.count_sql)[0]["total"]
    assert total >= len(ids)
    return ids


def _where(pred: Callable[[dict[str, Any]], bool]) -> set[str]:
    """Ids of the rows satisfying ``pred`` (the oracle for term-level queries)."""
    return {r["_id"] for r in ROWS if pred(r)}


BIG = {"size": 100}

TERM_LEVEL_CASES: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    ("term keyword", {"query": {"term": {"status": "draft"}}}, lambda r: r["status"] == "draft"),
    ("terms keyword", {"query": {"terms": {"status": ["draft", "archived"]}}},
     lambda r: r["status"] in ("draft", "archived")),
    ("term on text[] column", {"query": {"term": {"tags": "rust"}}}, lambda r: "rust" in (r["tags"] or [])),
    ("terms on text[] column", {"query": {"terms": {"tags": ["food", "cpp"]}}},
     lambda r: bool({"food", "cpp"} & set(r["tags"] or []))),
    ("range long", {"query": {"range": {"views": {"gte": 50, "lt": 180}}}},
     lambda r: r["views"] is not None and 50 <= r["views"] < 180),
    ("range date math", {"query": {"range": {"created_at": {"gte": "now-36h"}}}},
     lambda r: r["created_at"] >= NOW - timedelta(hours=36)),
    ("range keyword byte order", {"query": {"range": {"title.raw": {"gte": "Q", "lt": "S"}}}},
     lambda r: "Q" <= r["title_raw"] < "S"),
    ("exists column", {"query": {"exists": {"field": "body"}}}, lambda r: r["body"] is not None),
    ("exists jsonb path (null is missing)", {"query": {"exists": {"field": "author.name"}}},
     lambda r: bool(r["author"]) and r["author"].get("name") is not None),
    ("term jsonb path", {"query": {"term": {"author.name": "Alice"}}},
     lambda r: bool(r["author"]) and r["author"].get("name") == "Alice"),
    ("range jsonb number", {"query": {"range": {"author.age": {"gt": 40}}}},
     lambda r: bool(r["author"]) and (r["author"].get("age") or 0) > 40),
    ("term in nested array", {"query": {"nested": {"path": "comments", "query": {"term": {"comments.user": "bob"}}}}},
     lambda r: any(c["user"] == "bob" for c in r["comments"] or [])),
    ("flattened sub-field", {"query": {"term": {"labels.env": "dev"}}},
     lambda r: (r["labels"] or {}).get("env") == "dev"),
    ("prefix keyword", {"query": {"prefix": {"title.raw": "Post"}}}, lambda r: r["title_raw"].startswith("Post")),
    ("wildcard keyword", {"query": {"wildcard": {"title.raw": "*a?ta*"}}},
     lambda r: "asta" in r["title_raw"]),
    ("ids", {"query": {"ids": {"values": ["a03", "a07", "zzz"]}}}, lambda r: r["_id"] in ("a03", "a07")),
    ("bool must_not keeps docs without the field",
     {"query": {"bool": {"must_not": {"term": {"author.name": "Alice"}}}}},
     lambda r: not (bool(r["author"]) and r["author"].get("name") == "Alice")),
    ("bool should minimum_should_match 2",
     {"query": {"bool": {"should": [{"term": {"status": "published"}}, {"range": {"views": {"gte": 100}}},
                                    {"term": {"tags": "db"}}], "minimum_should_match": 2}}},
     lambda r: sum([r["status"] == "published", (r["views"] or 0) >= 100, "db" in (r["tags"] or [])]) >= 2),
    ("bool filter + must_not",
     {"query": {"bool": {"filter": [{"term": {"status": "published"}}],
                         "must_not": [{"terms": {"tags": ["food", "db"]}}]}}},
     lambda r: r["status"] == "published" and not ({"food", "db"} & set(r["tags"] or []))),
    ("fuzzy keyword (pg_trgm)", {"query": {"fuzzy": {"status": "publshed"}}}, lambda r: r["status"] == "published"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "pred"), TERM_LEVEL_CASES, ids=[c[0] for c in TERM_LEVEL_CASES])
def test_term_level_queries_match_the_data(
    conn: psycopg.Connection, name: str, body: dict[str, Any], pred: Callable[[dict[str, Any]], bool]
) -> None:
    t = translate({**body, **BIG}, FIELDS)
    assert set(_ids(conn, t)) == _where(pred), name
    assert _run(conn, t.count_sql)[0]["total"] == len(_where(pred))


FULL_TEXT_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # english stemming: "postgres" -> 'postgr'; only titles containing the word (not the body).
    ("match or on one field", {"match": {"title": "postgres borrow"}}, {"a01", "a03", "a10", "a16", "a06"}),
    ("match and", {"match": {"body": {"query": "rust memory", "operator": "and"}}}, {"a06"}),
    ("match stems", {"match": {"body": "dogs"}}, {"a08", "a09"}),
    ("match keyword field = term", {"match": {"status": "archived"}}, {"a06", "a15"}),
    ("match_phrase", {"match_phrase": {"body": "borrow checker"}}, {"a02"}),
    ("match_phrase order matters", {"match_phrase": {"body": "checker borrow"}}, set()),
    ("multi_match all text fields", {"multi_match": {"query": "pasta tomatoes"}}, {"a04", "a07", "a11"}),
    ("multi_match phrase", {"multi_match": {"query": "borrow checker", "type": "phrase", "fields": ["title", "body"]}},
     {"a02", "a06"}),
    # "-draft": draft is a status, not a word of any text, so it excludes nothing; a03 and a10 have
    # postgres in the title but neither the phrase nor replication.
    ("query_string", {"query_string": {"query": 'title:postgres AND ("full text" OR replication) -draft'}},
     {"a01", "a16"}),
    ("query_string minus", {"query_string": {"query": "rust -async", "default_field": "title"}}, {"a02", "a03"}),
    ("prefix on text", {"prefix": {"body": "replic"}}, {"a16"}),
    ("match with fuzziness (pg_trgm)", {"match": {"title": {"query": "postgras", "fuzziness": "AUTO"}}},
     {"a01", "a03", "a10", "a16"}),
    ("nested text", {"nested": {"path": "comments", "query": {"match": {"comments.text": "run"}}}}, {"a01", "a16"}),
    # ES semantics: term is not analysed; english indexes "memory" as the lexeme 'memori'.
    ("term on text: the unanalysed word misses", {"term": {"body": "memory"}}, set()),
    ("term on text: the exact lexeme matches", {"term": {"body": "memori"}}, {"a02", "a06"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "query", "expected"), FULL_TEXT_CASES, ids=[c[0] for c in FULL_TEXT_CASES])
def test_full_text_queries_match_the_designed_rows(
    conn: psycopg.Connection, name: str, query: dict[str, Any], expected: set[str]
) -> None:
    t = translate({"query": query, **BIG}, FIELDS)
    assert set(_ids(conn, t)) == expected, name


def test_multi_match_boost_ranks_title_hits_first(conn: psycopg.Connection) -> None:
    body = {"query": {"multi_match": {"query": "rust", "fields": ["title^5", "body"]}}, **BIG}
    rows = _run(conn, translate(body, FIELDS).sql)
    title_hits = {r["_id"] for r in ROWS if "rust" in r["title"].lower()}
    ids = [r["_id"] for r in rows]
    assert set(ids) == title_hits | {r["_id"] for r in ROWS if "rust" in (r["body"] or "").lower()}
    assert set(ids[: len(title_hits)]) == title_hits
    scores = [r["_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_sort_from_size_and_missing_last(conn: psycopg.Connection) -> None:
    body = {"query": {"match_all": {}}, "sort": [{"views": "desc"}], "from": 2, "size": 5, "_source": ["views"]}
    rows = _run(conn, translate(body, FIELDS).sql)
    ordered = sorted((r for r in ROWS if r["views"] is not None), key=lambda r: (-r["views"], r["_id"]))
    assert [r["_id"] for r in rows] == [r["_id"] for r in ordered[2:7]]
    assert set(rows[0]) == {"_id", "views"}
    everything = _run(conn, translate({"sort": [{"views": "desc"}], "size": 100}, FIELDS).sql)
    assert everything[-1]["_id"] == "a19"  # the document without views sorts last, as in ES
    first = _run(conn, translate({"sort": [{"views": {"order": "asc", "missing": "_first"}}], "size": 1}, FIELDS).sql)
    assert first[0]["_id"] == "a19"


def test_default_page_is_ten_and_count_is_exact(conn: psycopg.Connection) -> None:
    t = translate({"query": {"term": {"status": "published"}}}, FIELDS)
    assert len(_run(conn, t.sql)) == 10
    assert _run(conn, t.count_sql)[0]["total"] == len(_where(lambda r: r["status"] == "published"))


def test_highlight_marks_terms_on_the_page(conn: psycopg.Connection) -> None:
    body = {
        "query": {"match": {"body": "fox"}},
        "highlight": {"fields": {"body": {}}, "pre_tags": ["<b>"], "post_tags": ["</b>"]},
        "_source": False,
    }
    t = translate(body, FIELDS)
    assert t.highlight
    rows = _run(conn, t.sql)
    assert {r["_id"] for r in rows} == {"a08", "a09", "a17"}
    for row in rows:
        assert "<b>fox</b>" in row["highlight.body"]
    scores = [r["_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_knn_orders_by_cosine_distance(conn: psycopg.Connection) -> None:
    body = {"knn": {"field": "embedding", "query_vector": [1, 0, 0], "k": 3, "filter": {"term": {"tags": "db"}}}}
    t = translate(body, FIELDS)
    rows = _run(conn, t.sql)
    assert [r["_id"] for r in rows] == ["a01", "a10", "a16"]
    assert rows[0]["_score"] == pytest.approx(1.0)
    assert _run(conn, t.count_sql)[0]["total"] == 3


def test_aggregations_return_expected_buckets(conn: psycopg.Connection) -> None:
    body = {
        "size": 0,
        "query": {"range": {"views": {"gte": 10}}},
        "aggs": {
            "by_status": {"terms": {"field": "status", "size": 2}, "aggs": {"top_views": {"max": {"field": "views"}}}},
            "per_day": {"date_histogram": {"field": "created_at", "calendar_interval": "day"}},
            "authors": {"cardinality": {"field": "title.raw"}},
            "avg_views": {"avg": {"field": "views"}},
        },
    }
    t = translate(body, FIELDS)
    assert t.unsupported == []
    matching = [r for r in ROWS if r["views"] is not None and r["views"] >= 10]
    by_status = _run(conn, t.aggregations["by_status"])
    counts: dict[str, int] = {}
    for r in matching:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    assert [(b["key"], b["doc_count"]) for b in by_status] == expected
    assert by_status[0]["top_views"] == max(r["views"] for r in matching if r["status"] == expected[0][0])
    days = _run(conn, t.aggregations["per_day"])
    assert sum(b["doc_count"] for b in days) == len(matching)
    assert [b["key"] for b in days] == sorted(b["key"] for b in days)
    assert _run(conn, t.aggregations["authors"])[0]["value"] == len({r["title_raw"] for r in matching})
    avg = _run(conn, t.aggregations["avg_views"])[0]["value"]
    assert float(avg) == pytest.approx(sum(r["views"] for r in matching) / len(matching))


def test_injection_attempts_stay_literals(conn: psycopg.Connection) -> None:
    nasty = 'x\'); DROP TABLE search."Articles"; --'
    for query in (
        {"term": {"status": nasty}},
        {"match": {"title": nasty}},
        {"prefix": {"title.raw": nasty + "%_\\"}},
        {"term": {"author.name": nasty + '" || $x'}},
        {"query_string": {"query": nasty.replace("(", "").replace(")", "")}},
    ):
        t = translate({"query": query}, FIELDS)
        _run(conn, t.sql)
    assert _run(conn, 'SELECT count(*) AS n FROM search."Articles"')[0]["n"] == len(ROWS)


_UNIT_DDL = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE public.articles (
    _id text PRIMARY KEY, title text, title_raw text, body text, summary text, status text, tags text[],
    views bigint, rating double precision, published boolean, created_at timestamptz, client_ip inet,
    order_ text, author jsonb, comments jsonb, labels jsonb, embedding vector(3), big_vec halfvec(4),
    search_tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(body, '')), 'B')
    ) STORED
);
INSERT INTO public.articles VALUES (
    '1', 'Postgres rust', 'Postgres rust', 'the borrow checker', 'x y', 'draft', '{db,rust}', 42, 4.5, true,
    now(), '10.1.2.3', 'x', '{"name": "Alice", "age": 35}', '[{"user": "bob", "text": "running"}]',
    '{"env": "prod"}', '[1,0,0]', '[1,2,3,4]'
);
"""


def test_every_unit_table_translation_runs_on_postgresql(pg_url: str) -> None:
    """All SQL of the unit-test table (tests/unit/test_translate_dsl.py) executes on PostgreSQL 18."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
    unit = importlib.import_module("test_translate_dsl")

    bodies: list[dict[str, Any]] = [body for _, body, _ in unit.WHERE_CASES]
    bodies += [body for body, _ in unit.UNSUPPORTED_CASES]
    bodies += [
        {"query": {"match": {"body": "borrow"}}, "highlight": {"fields": {"body": {}, "title": {}}}},
        {"knn": {"field": "big_vec", "query_vector": [1, 2, 3, 4], "k": 2}},
        {"sort": [{"author.name": "desc"}, "_doc", {"Order": "asc"}], "_source": {"excludes": ["author.age"]}},
        {"size": 0, "aggs": {"s": {"terms": {"field": "status", "missing": "none", "min_doc_count": 2},
                                   "aggs": {"st": {"stats": {"field": "views"}}}},
                             "h": {"date_histogram": {"field": "created_at", "fixed_interval": "12h"}},
                             "v": {"value_count": {"field": "tags"}}}},
    ]  # fmt: skip
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(_UNIT_DDL)
        executed = 0
        for body in bodies:
            t = translate(body, unit.FM)
            for statement in [t.sql, t.count_sql, *t.aggregations.values()]:
                try:
                    _run(conn, statement)
                except psycopg.Error as exc:
                    pytest.fail(f"{json.dumps(body)}\n{statement}\n{exc}")
                executed += 1
    assert executed >= 2 * len(bodies)
