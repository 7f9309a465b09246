"""Integration: analyze the real Elasticsearch 9.2, plan against the real PostgreSQL 18, apply the DDL.

A corpus index (pgconsolidate.es.corpus: multi-field, copy_to, nested, dense_vector, geo_point,
names with dots / upper case / reserved words) and a date-suffixed family with a plain and a
filtered alias are created under a unique prefix; ``sample_es`` is restricted to that prefix.
The test server lacks the analysis-common module, so the indices use the ``standard`` analyzer
(english/ngram planning is unit-tested in tests/unit/test_es_planner.py). PostgreSQL 18 here
has pgvector, pg_trgm, cube and earthdistance but neither PostGIS nor pg_search.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from pgconsolidate.es.analyze import sample_es
from pgconsolidate.es.client import PgcElasticsearch
from pgconsolidate.es.corpus import index_corpus
from pgconsolidate.es.fieldmap import fieldmap_for
from pgconsolidate.es.identifiers import RESERVED_KEYWORDS
from pgconsolidate.execute.ddl import apply_ddl, render_plan_ddl
from pgconsolidate.models import Inventory, Plan, PlanItem
from pgconsolidate.models_es import EsIndexOptions
from pgconsolidate.pg import probe_target
from pgconsolidate.planner import build_plan
from pgconsolidate.translate import translate

N_ARTICLES = 300
FAMILY_DAYS = ("2026.03.01", "2026.03.02", "2026.03.05")


def _seed(es: PgcElasticsearch, es_prefix: str) -> None:
    index_corpus(es, f"{es_prefix}articles", N_ARTICLES)
    log_mapping: dict[str, Any] = {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {
            "properties": {
                "@timestamp": {"type": "date"},
                "message": {"type": "text"},
                "level": {"type": "keyword"},
                "host": {"properties": {"IP": {"type": "ip"}}},
            }
        },
    }
    members = [f"{es_prefix}logs-{day}" for day in FAMILY_DAYS]
    for n, (name, day) in enumerate(zip(members, FAMILY_DAYS, strict=True)):
        es.indices.create(index=name, **log_mapping)
        iso = day.replace(".", "-")
        for i in range(3 + n):
            es.index(
                index=name,
                id=f"{day}-{i}",
                document={"@timestamp": f"{iso}T0{i}:00:00Z", "message": f"request {i} served", "level": "info"},
            )
        es.indices.refresh(index=name)
    es.indices.update_aliases(
        actions=[
            {"add": {"indices": members, "alias": f"{es_prefix}logs"}},
            {"add": {"indices": members, "alias": f"{es_prefix}errors", "filter": {"term": {"level": "error"}}}},
        ]
    )


def _columns(conn: psycopg.Connection[Any], table: str) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), nullif(a.attgenerated, '') "
        "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (f'public."{table}"',),
    ).fetchall()
    return {name: (typ, gen) for name, typ, gen in rows}


def _indexes(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s", (table,))
    return [r[0] for r in rows.fetchall()]


def _item(plan: Plan, name: str) -> PlanItem:
    return next(it for it in plan.items if getattr(it.source, "index", None) == name)


def test_plan_and_apply_es_ddl(es: PgcElasticsearch, es_url: str, es_prefix: str, pg_url: str) -> None:
    _seed(es, es_prefix)
    inv = Inventory(
        tool_version="test",
        generated_at="2026-01-01T00:00:00+00:00",
        elasticsearch=sample_es(es, es_url, indices=f"{es_prefix}*"),
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        caps = probe_target(conn, pg_url)
        plan = build_plan(inv, caps)
        articles = _item(plan, f"{es_prefix}articles")
        logs = next(it for it in plan.items if it.id != articles.id)
        assert articles.verdict == logs.verdict == "migrate", (articles.reason, logs.reason)
        assert articles.target is not None and logs.target is not None

        ddl = render_plan_ddl(plan, caps)
        assert apply_ddl(conn, ddl) == len(ddl)
        assert apply_ddl(conn, render_plan_ddl(plan, caps)) == len(ddl)  # idempotent

        # --- the corpus index: typed columns, generated tsvector and copy_to column
        table = articles.target.table
        cols = _columns(conn, table)
        opts = EsIndexOptions.model_validate(articles.target.options)
        by_field = {c.field: c.column for c in opts.columns}
        expected = {
            "title": "text",
            "title.raw": "text",
            "tags": "text[]",
            "author.name": "text",
            "Author.Name": "text",
            "select": "integer",
            "Order": "text",
            "published_at": "timestamp with time zone",
            "views": "bigint",
            "rating": "real",
            "ip": "inet",
            "location": "point",
            "embedding": "vector(8)",
            "comments": "jsonb",
        }
        for field, pg_type in expected.items():
            assert cols[by_field[field]][0] == pg_type, field
        assert by_field["select"] == "select_" and by_field["Order"] == "order_"
        assert by_field["author.name"] != by_field["Author.Name"]
        assert cols["_id"][0] == "text"
        assert cols["search_vector"] == ("tsvector", "s")
        assert cols[by_field["all_text"]] == ("text", "s")  # copy_to target: generated
        assert "_extra" not in cols  # the corpus mapping is dynamic: strict
        indexdefs = _indexes(conn, table)
        assert any("USING hnsw (embedding vector_cosine_ops)" in d for d in indexdefs), indexdefs
        assert any("USING gin (search_vector)" in d for d in indexdefs)
        assert any("USING gin (tags)" in d for d in indexdefs)
        assert any("USING gin (comments)" in d for d in indexdefs)
        assert any("ll_to_earth" in d and "USING gist" in d for d in indexdefs)
        assert any(f"USING btree ({by_field['title.raw']})" in d for d in indexdefs)

        # The generated columns work on a row inserted by hand (the copy engine does the real load).
        conn.execute(
            f'INSERT INTO public."{table}" (_id, title, body, tags, location, embedding) '
            "VALUES ('d1', 'Postgres tables', 'Rust crates', ARRAY['a','b'], point(2.35, 48.85), "
            "'[1,0,0,0,0,0,0,0]')"
        )
        row = conn.execute(
            f'SELECT search_vector::text, all_text FROM public."{table}" WHERE _id = %s', ("d1",)
        ).fetchone()
        assert row is not None
        # title weighs A, body C (positions follow the mapping order ES returns).
        assert re.search(r"'postgres':\d+A", row[0]) and re.search(r"'rust':\d+C", row[0]), row[0]
        sources = next(c.copy_from for c in opts.columns if c.field == "all_text")
        assert sorted(sources) == ["body", "title"]
        assert row[1] == " ".join({"title": "Postgres tables", "body": "Rust crates"}[f] for f in sources)
        # The planned field map translates a query that the table answers.
        tr = translate({"query": {"match": {"title": "postgres"}}}, fieldmap_for(articles))
        assert not tr.unsupported
        assert [r[0] for r in conn.execute(tr.sql).fetchall()] == ["d1"]

        # --- the family: RANGE-partitioned on the time column, views for the aliases
        ltable = logs.target.table
        lopts = EsIndexOptions.model_validate(logs.target.options)
        assert (lopts.partition_by, lopts.partition_column) == ("day", "timestamp")
        strategy = conn.execute(
            "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = %s::regclass", (f'public."{ltable}"',)
        ).fetchone()
        assert strategy == ("r",)
        children = [
            r[0]
            for r in conn.execute(
                "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass",
                (f'public."{ltable}"',),
            ).fetchall()
        ]
        assert "DEFAULT" in children
        for day in FAMILY_DAYS:
            iso = day.replace(".", "-")
            assert any(f"FROM ('{iso} 00:00:00+00')" in b for b in children), (iso, children)
        pk = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
            (f'public."{ltable}"',),
        ).fetchone()
        assert pk == ('PRIMARY KEY (_id, "timestamp")',)
        lcols = _columns(conn, ltable)
        assert lcols["host__ip"][0] == "inet" and lcols["_extra"][0] == "jsonb"
        views = {v.alias: v for v in lopts.views}
        assert views[f"{es_prefix}errors"].where_sql == "\"level\" = 'error'"
        conn.execute(
            f'INSERT INTO public."{ltable}" (_id, "timestamp", message, level) VALUES '
            "('a', '2026-03-02 01:00+00', 'x', 'error'), ('b', '2026-03-02 02:00+00', 'y', 'info')"
        )
        for alias, expected_ids in ((f"{es_prefix}logs", ["a", "b"]), (f"{es_prefix}errors", ["a"])):
            view = views[alias].name
            got = conn.execute(f'SELECT _id FROM public."{view}" ORDER BY _id').fetchall()
            assert [r[0] for r in got] == expected_ids


def test_reserved_keywords_match_the_server(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')").fetchall()
    assert {r[0] for r in rows} == RESERVED_KEYWORDS
